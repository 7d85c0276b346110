//! Source URIs to rollout stores: what `hotconf rollout` writes to (docs/rollout.md).

use hotconf_core::provider::SourceUri;
use hotconf_core::rollout::RolloutStore;
use hotconf_core::{Error, ErrorKind, Result};

/// The rollout store of a single-key source URI: `etcd://host:2379/KEY` (feature `etcd`) or
/// `consul://host:8500/KEY` (feature `consul`), with the same parameters (credentials, TLS) as
/// the URI the instances follow; `?rollout=true` may be given or not.
///
/// ```
/// # #[cfg(feature = "consul")] {
/// let store = hotconf::rollout_store_from_uri("consul://127.0.0.1:8500/app/config.json")?;
/// assert_eq!(store.key(), "app/config.json");
/// assert!(hotconf::rollout_store_from_uri("consul://127.0.0.1:8500/app/").is_err());
/// # }
/// # Ok::<(), hotconf::Error>(())
/// ```
///
/// # Errors
/// [`ErrorKind::Config`] for a URI that does not parse, names a prefix, or whose scheme has no
/// rollouts (or whose backend feature is off).
pub fn rollout_store_from_uri(uri: &str) -> Result<Box<dyn RolloutStore>> {
    let uri: SourceUri = uri.parse()?;
    let mut uri = uri;
    // The followers' parameter; the store is the same with or without it.
    uri.params.remove("rollout");
    match uri.scheme.as_str() {
        #[cfg(feature = "etcd")]
        "etcd" => Ok(Box::new(hotconf_etcd::EtcdRolloutStore::from_uri(&uri)?)),
        #[cfg(feature = "consul")]
        "consul" => Ok(Box::new(hotconf_consul::ConsulRolloutStore::from_uri(
            &uri,
        )?)),
        other => Err(Error::new(
            ErrorKind::Config,
            format!(
                "{uri}: rollouts are of etcd:// and consul:// keys (built with the `etcd` and \
                 `consul` features), not of `{other}` sources"
            ),
        )),
    }
}
