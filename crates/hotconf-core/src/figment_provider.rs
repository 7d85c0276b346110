//! Any `figment::Provider` (defaults, env, files) as a static layer.

use async_trait::async_trait;
use figment::Figment;
use serde_json::Value;

use crate::error::{Error, ErrorKind, Result};
use crate::layer::{Content, Layer};
use crate::provider::{Capabilities, Metadata, Provider};
use crate::revision::Revision;

/// A static layer read from a figment provider, e.g. `Serialized::defaults(..)` or `Env::prefixed(..)`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use figment::providers::Serialized;
/// use hotconf_core::{FigmentProvider, Provider};
/// let defaults = FigmentProvider::new(Serialized::defaults(serde_json::json!({"port": 8080})));
/// let layer = defaults.load().await.unwrap();
/// # let _ = layer;
/// # }
/// ```
pub struct FigmentProvider<P> {
    provider: P,
    name: String,
}

impl<P: figment::Provider> FigmentProvider<P> {
    /// Wraps `provider`; the layer's name is figment's metadata name for it.
    pub fn new(provider: P) -> Self {
        let name = format!("figment:{}", provider.metadata().name);
        FigmentProvider { provider, name }
    }

    /// Wraps `provider` under an explicit name.
    pub fn named(provider: P, name: impl Into<String>) -> Self {
        FigmentProvider {
            provider,
            name: name.into(),
        }
    }
}

#[async_trait]
impl<P: figment::Provider + Send + Sync> Provider for FigmentProvider<P> {
    fn metadata(&self) -> Metadata {
        Metadata::new(self.name.clone(), Capabilities::STATIC)
    }

    async fn load(&self) -> Result<Layer> {
        layer_from(&self.provider, &self.name)
    }
}

/// Reads a figment provider into a tree layer named `name`.
pub(crate) fn layer_from(provider: &impl figment::Provider, name: &str) -> Result<Layer> {
    let tree: Value = Figment::from(provider).extract().map_err(|e| {
        Error::new(ErrorKind::Parse, "figment provider failed")
            .with_source_name(name)
            .with_cause(e)
    })?;
    let revision = Revision::of_content(tree.to_string().as_bytes());
    Ok(Layer::new(Content::Tree(tree), revision))
}
