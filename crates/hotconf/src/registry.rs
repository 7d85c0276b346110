//! Source URIs to providers: the built-in schemes of the enabled backends, and the schemes an
//! application registers for its own providers.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use hotconf_core::provider::{OptionalLayer, Secrecy, SourceUri};
use hotconf_core::{Error, ErrorKind, Provider, Result};

/// Builds a provider from a parsed URI of its scheme (see [`register_scheme`]).
pub type ProviderFactory = dyn Fn(&SourceUri) -> Result<Box<dyn Provider>> + Send + Sync + 'static;

/// Every built-in scheme and the Cargo feature of `hotconf` that enables its backend. The
/// names are written here (not taken from the backend crates) so that a disabled backend's
/// scheme still gets an error naming its feature; a test checks them against each backend's
/// `SCHEMES`.
const BUILT_IN: &[(&str, &str)] = &[
    ("file", "file"),
    ("env", "env"),
    ("etcd", "etcd"),
    ("consul", "consul"),
    ("nacos", "nacos"),
    ("apollo", "apollo"),
    ("http", "http"),
    ("https", "http"),
    ("k8s", "kubernetes"),
    ("vault", "vault"),
];

fn custom() -> &'static RwLock<HashMap<String, Arc<ProviderFactory>>> {
    static CUSTOM: OnceLock<RwLock<HashMap<String, Arc<ProviderFactory>>>> = OnceLock::new();
    CUSTOM.get_or_init(RwLock::default)
}

/// The provider for a source URI: a bare path or `file:` (feature `file`; age-encrypted
/// `*.age` files and `?identity=` with feature `age`), `env:PREFIX`
/// (feature `env`), `etcd://` (feature `etcd`), `consul://` (feature `consul`), `nacos://`
/// (feature `nacos`), `apollo://` (feature `apollo`), `http://` and `https://` (feature `http`),
/// `k8s://NAMESPACE/configmap/NAME` and `k8s://NAMESPACE/secret/NAME` (feature `kubernetes`),
/// `vault://HOST:PORT/MOUNT/PATH` (feature `vault`), or a scheme the application added with [`register_scheme`].
///
/// The URI syntax is [`SourceUri`]'s; each backend's `from_uri` documents its parameters, and
/// an unknown parameter is an error (but for `http(s)://`, which sends the parameters it does
/// not know to the server). Errors show the URI with its credentials redacted. Two parameters
/// belong to every URI, whatever its scheme (a custom one too), and never reach the backend:
/// `?secret=true` makes the layer a secret layer (each value it supplies redacted everywhere,
/// left out of the last-good file), `?secret=false` an ordinary one (for a source whose values
/// are secrets by nature); `?optional=true` makes the layer optional (while its source is
/// absent, the config is built without it: see `ReloaderBuilder::optional`), `?optional=false`
/// required (the default).
///
/// ```
/// let dir = std::env::temp_dir().join(format!("hotconf-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let file = dir.join("app.toml");
/// std::fs::write(&file, "port = 8080\n").unwrap();
///
/// let provider = hotconf::provider_from_uri(&format!("file:{}?debounce=5ms", file.display()))?;
/// assert!(provider.metadata().name.ends_with("app.toml"));
/// let secret = hotconf::provider_from_uri(&format!("file:{}?secret=true", file.display()))?;
/// assert!(secret.metadata().secret && !provider.metadata().secret);
/// let local = hotconf::provider_from_uri(&format!("file:{}?optional=true", dir.join("local.toml").display()))?;
/// assert!(local.metadata().optional && !provider.metadata().optional);
///
/// let Err(err) = hotconf::provider_from_uri("ftp://user:hunter2@host/app") else {
///     panic!("ftp is no scheme of hotconf's");
/// };
/// assert!(err.to_string().contains("unknown source scheme `ftp`"));
/// assert!(!err.to_string().contains("hunter2"));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), hotconf::Error>(())
/// ```
///
/// # Errors
/// [`ErrorKind::Config`] for a URI that does not parse, an unknown scheme, a scheme whose
/// backend feature is off (the message names the feature), or an option the backend refuses.
pub fn provider_from_uri(uri: &str) -> Result<Box<dyn Provider>> {
    provider_from_source(&uri.parse()?)
}

/// The provider for an already parsed URI (see [`provider_from_uri`]).
///
/// # Errors
/// As [`provider_from_uri`].
pub fn provider_from_source(uri: &SourceUri) -> Result<Box<dyn Provider>> {
    let (uri, optional) = layer_optional(uri)?;
    let provider = match layer_secrecy(&uri) {
        Some((uri, secret)) => Box::new(Secrecy::new(provider_for(&uri)?, secret)),
        None => provider_for(&uri)?,
    };
    Ok(match optional {
        Some(optional) => Box::new(OptionalLayer::new(provider, optional)),
        None => provider,
    })
}

/// `?optional=true|false`, the registry's own parameter on every URI (an optional layer, or a
/// required one: see `ReloaderBuilder::optional`), and the URI without it.
fn layer_optional(uri: &SourceUri) -> Result<(SourceUri, Option<bool>)> {
    let Some(given) = uri.params.get("optional") else {
        return Ok((uri.clone(), None));
    };
    let optional = match given.to_ascii_lowercase().as_str() {
        "true" => true,
        "false" => false,
        _ => return Err(uri.error("the parameter `optional` is `true` or `false`")),
    };
    let mut uri = uri.clone();
    uri.params.remove("optional");
    Ok((uri, Some(optional)))
}

/// `?secret=true|false`, the registry's own parameter on every URI (a secret layer, or not:
/// see `ReloaderBuilder::secret`), and the URI without it. Any other value of `secret` is the
/// backend's own (Apollo's access key).
fn layer_secrecy(uri: &SourceUri) -> Option<(SourceUri, bool)> {
    let given = (uri.secret_params.get("secret").map(|s| s.expose().as_str()))
        .or_else(|| uri.params.get("secret").map(String::as_str))?;
    let secret = match given.to_ascii_lowercase().as_str() {
        "true" => true,
        "false" => false,
        _ => return None,
    };
    let mut uri = uri.clone();
    uri.secret_params.remove("secret");
    uri.params.remove("secret");
    Some((uri, secret))
}

fn provider_for(uri: &SourceUri) -> Result<Box<dyn Provider>> {
    if let Some(provider) = built_in(uri) {
        return provider;
    }
    let factory = custom()
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&uri.scheme)
        .cloned();
    if let Some(factory) = factory {
        return factory(uri);
    }
    if let Some((_, feature)) = BUILT_IN.iter().find(|(s, _)| *s == uri.scheme) {
        return Err(Error::new(
            ErrorKind::Config,
            format!(
                "source {uri}: the {} backend is not built in (enable the `{feature}` feature of hotconf)",
                uri.scheme
            ),
        ));
    }
    let mut known: Vec<String> = enabled_built_ins().map(str::to_owned).collect();
    known.extend(
        custom()
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned(),
    );
    known.sort();
    Err(Error::new(
        ErrorKind::Config,
        format!(
            "source {uri}: unknown source scheme `{}` (known: {}; an application adds one with hotconf::register_scheme)",
            uri.scheme,
            known.join(", ")
        ),
    ))
}

/// Makes `scheme` reachable through [`provider_from_uri`]: a URI of that scheme is parsed as a
/// [`SourceUri`] (`scheme://[user[:password]@]host[:port][,…]/path?query`; its credentials are
/// redacted in `Display` and `Debug`) and handed to `factory`. A factory reads its parameters
/// with [`SourceUri::query`] and ends with [`Query::finish`](hotconf_core::provider::Query::finish), so
/// a misspelt parameter is an error, as with the built-in backends.
///
/// The registry is process-wide. Registering a scheme again replaces its factory. The scheme
/// is matched case-insensitively (URIs' schemes are lowercased).
///
/// ```
/// use hotconf::{MemoryProvider, Provider};
/// use hotconf::provider::SourceUri;
///
/// hotconf::register_scheme("demo", |uri: &SourceUri| {
///     let mut query = uri.query();
///     let _verbose = query.flag("verbose")?;
///     query.finish()?;
///     let (provider, _handle) = MemoryProvider::new(uri.to_string());
///     Ok(Box::new(provider) as Box<dyn Provider>)
/// })
/// .unwrap();
/// let provider = hotconf::provider_from_uri("demo://host/app?verbose=true").unwrap();
/// assert_eq!(provider.metadata().name, "demo://host/app?verbose=true");
/// assert!(hotconf::provider_from_uri("demo://host/app?verbsoe=true").is_err());
/// assert!(hotconf::register_scheme("file", |_: &SourceUri| unreachable!()).is_err());
/// ```
///
/// # Errors
/// [`ErrorKind::Config`] when `scheme` is not a scheme name (letters, digits and `+`, starting
/// with a letter, at least two characters) or is a built-in scheme (`file`, `env`, `etcd`,
/// `consul`, `nacos`, `apollo`, `http`, `https`, `k8s`), whether or not its backend is enabled: a built-in scheme always means
/// its backend.
pub fn register_scheme<F>(scheme: &str, factory: F) -> Result<()>
where
    F: Fn(&SourceUri) -> Result<Box<dyn Provider>> + Send + Sync + 'static,
{
    if !SourceUri::is_scheme_name(scheme) {
        return Err(Error::new(
            ErrorKind::Config,
            format!("`{scheme}` is not a scheme name (letters, digits and `+`, starting with a letter, at least two characters)"),
        ));
    }
    let scheme = scheme.to_ascii_lowercase();
    if BUILT_IN.iter().any(|(s, _)| *s == scheme) {
        return Err(Error::new(
            ErrorKind::Config,
            format!("`{scheme}` is a built-in scheme: register the provider under another name"),
        ));
    }
    custom()
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(scheme, Arc::new(factory));
    Ok(())
}

fn enabled_built_ins() -> impl Iterator<Item = &'static str> {
    #[allow(unused_mut)] // with no backend feature on, nothing is added
    let mut schemes: Vec<&'static str> = Vec::new();
    #[cfg(feature = "file")]
    schemes.extend(hotconf_file::SCHEMES);
    #[cfg(feature = "env")]
    schemes.push(SourceUri::ENV);
    #[cfg(feature = "etcd")]
    schemes.extend(hotconf_etcd::SCHEMES);
    #[cfg(feature = "consul")]
    schemes.extend(hotconf_consul::SCHEMES);
    #[cfg(feature = "nacos")]
    schemes.extend(hotconf_nacos::SCHEMES);
    #[cfg(feature = "apollo")]
    schemes.extend(hotconf_apollo::SCHEMES);
    #[cfg(feature = "http")]
    schemes.extend(hotconf_http::SCHEMES);
    #[cfg(feature = "kubernetes")]
    schemes.extend(hotconf_kubernetes::SCHEMES);
    #[cfg(feature = "vault")]
    schemes.extend(hotconf_vault::SCHEMES);
    schemes.into_iter()
}

/// The provider of an enabled built-in scheme, or `None`.
fn built_in(uri: &SourceUri) -> Option<Result<Box<dyn Provider>>> {
    let scheme = uri.scheme.as_str();
    #[cfg(feature = "file")]
    if hotconf_file::SCHEMES.contains(&scheme) {
        return Some(
            hotconf_file::FileProvider::from_uri(uri).map(|p| Box::new(p) as Box<dyn Provider>),
        );
    }
    #[cfg(feature = "env")]
    if scheme == SourceUri::ENV {
        return Some(env(uri));
    }
    #[cfg(feature = "etcd")]
    if hotconf_etcd::SCHEMES.contains(&scheme) {
        return Some(
            hotconf_etcd::EtcdProvider::from_uri(uri).map(|p| Box::new(p) as Box<dyn Provider>),
        );
    }
    #[cfg(feature = "consul")]
    if hotconf_consul::SCHEMES.contains(&scheme) {
        return Some(
            hotconf_consul::ConsulProvider::from_uri(uri).map(|p| Box::new(p) as Box<dyn Provider>),
        );
    }
    #[cfg(feature = "nacos")]
    if hotconf_nacos::SCHEMES.contains(&scheme) {
        return Some(
            hotconf_nacos::NacosProvider::from_uri(uri).map(|p| Box::new(p) as Box<dyn Provider>),
        );
    }
    #[cfg(feature = "apollo")]
    if hotconf_apollo::SCHEMES.contains(&scheme) {
        return Some(
            hotconf_apollo::ApolloProvider::from_uri(uri).map(|p| Box::new(p) as Box<dyn Provider>),
        );
    }
    #[cfg(feature = "http")]
    if hotconf_http::SCHEMES.contains(&scheme) {
        return Some(
            hotconf_http::HttpProvider::from_uri(uri).map(|p| Box::new(p) as Box<dyn Provider>),
        );
    }
    #[cfg(feature = "kubernetes")]
    if hotconf_kubernetes::SCHEMES.contains(&scheme) {
        return Some(
            hotconf_kubernetes::KubernetesProvider::from_uri(uri)
                .map(|p| Box::new(p) as Box<dyn Provider>),
        );
    }
    #[cfg(feature = "vault")]
    if hotconf_vault::SCHEMES.contains(&scheme) {
        return Some(
            hotconf_vault::VaultProvider::from_uri(uri).map(|p| Box::new(p) as Box<dyn Provider>),
        );
    }
    let _ = scheme;
    None
}

/// `env:PREFIX`: `PREFIX_DB__PORT=5` is `db.port`.
#[cfg(feature = "env")]
fn env(uri: &SourceUri) -> Result<Box<dyn Provider>> {
    if uri.path.is_empty() {
        return Err(uri.error("env: needs a prefix, e.g. env:APP_"));
    }
    uri.query().finish()?;
    Ok(Box::new(hotconf_core::EnvProvider::prefixed(&uri.path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_table_matches_the_backends() {
        let enabled: Vec<&str> = enabled_built_ins().collect();
        for scheme in &enabled {
            assert!(
                BUILT_IN.iter().any(|(s, _)| s == scheme),
                "{scheme} is missing from BUILT_IN"
            );
        }
        #[cfg(all(
            feature = "file",
            feature = "env",
            feature = "etcd",
            feature = "consul",
            feature = "nacos",
            feature = "apollo",
            feature = "http",
            feature = "kubernetes",
            feature = "vault"
        ))]
        assert_eq!(enabled.len(), BUILT_IN.len());
    }

    #[cfg(feature = "kubernetes")]
    #[test]
    fn k8s_uris_reach_the_kubernetes_backend() {
        let provider = provider_from_uri("k8s://prod/configmap/app?key=app.yaml").unwrap();
        assert_eq!(
            provider.metadata().name,
            "k8s://prod/configmap/app?key=app.yaml"
        );
        let provider = provider_from_uri("k8s://prod/secret/db?context=staging").unwrap();
        assert_eq!(
            provider.metadata().name,
            "k8s://prod/secret/db?context=staging"
        );
        let Err(error) = provider_from_uri("k8s://prod/configmap/app?kee=app.yaml") else {
            panic!("an unknown parameter is refused");
        };
        assert!(
            error.to_string().contains("unknown parameter `kee`"),
            "{error}"
        );
        assert!(register_scheme("k8s", |_: &SourceUri| unreachable!()).is_err());
    }
}
