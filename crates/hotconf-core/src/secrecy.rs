//! `Secrecy`: a provider whose layer is, or is not, a secret layer, whatever its source says.

use async_trait::async_trait;

use crate::error::Result;
use crate::layer::Layer;
use crate::provider::{Metadata, Provider, WatchStream};

/// `inner`, with [`Metadata::secret`] set to `secret`: what `?secret=true|false` on a URI
/// makes (the builder's [`secret`](crate::ReloaderBuilder::secret) does the same for a layer).
///
/// ```
/// use hotconf_core::provider::Secrecy;
/// use hotconf_core::{MemoryProvider, Provider};
/// let (memory, _handle) = MemoryProvider::new("memory:credentials");
/// assert!(Secrecy::new(memory, true).metadata().secret);
/// ```
#[derive(Debug, Clone)]
pub struct Secrecy<P> {
    inner: P,
    secret: bool,
}

impl<P> Secrecy<P> {
    /// `inner` as a secret layer (`true`) or an ordinary one (`false`).
    pub fn new(inner: P, secret: bool) -> Self {
        Secrecy { inner, secret }
    }
}

#[async_trait]
impl<P: Provider> Provider for Secrecy<P> {
    fn metadata(&self) -> Metadata {
        Metadata {
            secret: self.secret,
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
