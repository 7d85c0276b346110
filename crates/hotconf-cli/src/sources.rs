//! Source arguments (`./app.toml`, `env:APP_`, `etcd://…`, `consul://…`, `nacos://…`) to
//! providers.

use hotconf::{Error, ErrorKind, Provider, Result, Scheme, SourceUri};

/// The provider for one source argument.
pub(crate) fn provider(arg: &str) -> Result<Box<dyn Provider>> {
    let uri: SourceUri = arg.parse()?;
    match uri.scheme {
        #[cfg(feature = "file")]
        Scheme::File => Ok(Box::new(hotconf::FileProvider::from_uri(&uri)?)),
        #[cfg(feature = "etcd")]
        Scheme::Etcd => Ok(Box::new(hotconf::EtcdProvider::from_uri(&uri)?)),
        #[cfg(feature = "nacos")]
        Scheme::Nacos => Ok(Box::new(hotconf::NacosProvider::from_uri(&uri)?)),
        #[cfg(feature = "consul")]
        Scheme::Consul => Ok(Box::new(hotconf::ConsulProvider::from_uri(&uri)?)),
        #[cfg(feature = "env")]
        Scheme::Env => {
            if uri.path.is_empty() {
                return Err(Error::new(
                    ErrorKind::Config,
                    "env: needs a prefix, e.g. env:APP_",
                ));
            }
            Ok(Box::new(hotconf::EnvProvider::prefixed(&uri.path)))
        }
        other => Err(Error::new(
            ErrorKind::Config,
            format!(
                "the {} backend is not built into this binary (source {uri})",
                other.as_str()
            ),
        )),
    }
}
