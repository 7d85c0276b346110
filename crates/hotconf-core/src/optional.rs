//! `OptionalLayer`: a provider whose layer is optional, or required, whatever it says itself.

use async_trait::async_trait;

use crate::error::Result;
use crate::layer::Layer;
use crate::provider::{Metadata, Provider, WatchStream};

/// `inner`, with [`Metadata::optional`] set to `optional`: what `?optional=true` on a URI
/// makes (the builder's [`optional`](crate::ReloaderBuilder::optional) does the same for a
/// layer). An optional layer whose source is absent contributes nothing, and the first config
/// is built from the other layers.
///
/// ```
/// use hotconf_core::provider::OptionalLayer;
/// use hotconf_core::{MemoryProvider, Provider};
/// let (memory, _handle) = MemoryProvider::new("memory:local-overrides");
/// assert!(OptionalLayer::new(memory, true).metadata().optional);
/// ```
#[derive(Debug, Clone)]
pub struct OptionalLayer<P> {
    inner: P,
    optional: bool,
}

impl<P> OptionalLayer<P> {
    /// `inner` as an optional layer (`true`) or a required one (`false`).
    pub fn new(inner: P, optional: bool) -> Self {
        OptionalLayer { inner, optional }
    }
}

#[async_trait]
impl<P: Provider> Provider for OptionalLayer<P> {
    fn metadata(&self) -> Metadata {
        Metadata {
            optional: self.optional,
            ..self.inner.metadata()
        }
    }

    async fn load(&self) -> Result<Layer> {
        self.inner.load().await
    }

    async fn watch(&self) -> Result<WatchStream> {
        self.inner.watch().await
    }
}
