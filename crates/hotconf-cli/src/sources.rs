//! Source arguments (`./app.toml`, `env:APP_`, `etcd://…`, `consul://…`, `nacos://…`) to
//! providers: the library's [`hotconf::provider_from_uri`], which knows the backends built into
//! this binary (its Cargo features).

use hotconf::{Provider, Result};

/// The provider for one source argument.
pub(crate) fn provider(arg: &str) -> Result<Box<dyn Provider>> {
    hotconf::provider_from_uri(arg)
}
