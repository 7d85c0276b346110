//! What a provider author needs: the [`Provider`] trait (a read-only view of one source), the
//! content model ([`Layer`], [`Content`], [`Document`]), the follow helper that turns "read" and
//! "wait for a change" into a watch stream that keeps the contract ([`follow`], [`Follow`],
//! [`Retry`], [`Backoff`]), the provider scaffold a network backend is written on
//! ([`FollowedSource`], [`FollowedProvider`], [`ClientState`], [`LiveClients`]), bounded reads
//! ([`BoundedBody`]), and the URI helpers a backend's `from_uri` uses ([`SourceUri`], [`Query`], [`KeySpace`], [`Mode`], [`TlsFiles`]).
//!
//! A provider that must not hand raw bytes to the reloader (decrypted plaintext, which it wipes
//! once parsed) parses them itself with the reloader's own parser, [`parse_document`], merges
//! several with [`merge_trees`], and yields a [`Content::Tree`].
//!
//! An application needs none of it: it builds a [`Reloader`](crate::Reloader) from providers
//! and reads its [`Store`](crate::Store). See `docs/writing-a-provider.md`.

use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use futures_util::Stream;

use crate::error::Result;

pub use crate::backoff::{parse_duration, Backoff};
pub use crate::bounded::BoundedBody;
pub use crate::client_state::{ClientState, LiveClients};
pub use crate::error::HttpStatus;
pub use crate::follow::{follow, Follow, Retry};
pub use crate::followed::{FollowedProvider, FollowedSource};
pub use crate::format::parse as parse_document;
pub use crate::layer::{Content, Document, Layer};
pub use crate::merge::merge_all as merge_trees;
pub use crate::optional::OptionalLayer;
pub use crate::secrecy::Secrecy;
pub use crate::secret::redact_secret;
pub use crate::target::{KeySpace, Mode, TlsFiles};
pub use crate::uri::{Query, SourceUri};

/// The stream a provider's [`watch`](Provider::watch) returns: full states, errors as items.
pub type WatchStream = Pin<Box<dyn Stream<Item = Result<Layer>> + Send + 'static>>;

/// What a provider is: its printable name and what it can do.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metadata {
    /// The source's name as printed in events and errors (a URI with credentials redacted).
    pub name: String,
    /// What the provider can do.
    pub capabilities: Capabilities,
    /// Every value of this source is a secret (a Kubernetes Secret, a Vault path): the
    /// reloader redacts each value the layer supplies in every output, whatever its key is
    /// called. An application can override it per layer
    /// ([`ReloaderBuilder::secret`](crate::ReloaderBuilder::secret), `?secret=true|false`).
    pub secret: bool,
    /// The layer is optional: while its source is absent (a missing file or directory, a key
    /// or namespace that is not there, a server not reachable before the first state), it
    /// contributes nothing instead of keeping the reloader from starting. An application
    /// sets it per layer ([`ReloaderBuilder::optional`](crate::ReloaderBuilder::optional),
    /// `?optional=true`); a provider leaves it `false`.
    pub optional: bool,
}

impl Metadata {
    /// Metadata with the given name and capabilities, for a source whose values are not
    /// secret as such.
    pub fn new(name: impl Into<String>, capabilities: Capabilities) -> Self {
        Metadata {
            name: name.into(),
            capabilities,
            secret: false,
            optional: false,
        }
    }

    /// This metadata, for a source whose every value is a secret.
    #[must_use]
    pub fn secret(mut self) -> Self {
        self.secret = true;
        self
    }
}

/// What a provider can do. The test kit's behaviour suite generates its cases from these: a
/// behaviour that needs a capability the provider lacks is not generated (and the suite says
/// which ran).
///
/// ```
/// use hotconf_core::provider::Capabilities;
/// let etcd = Capabilities::WATCH_ORDERED.interruptible().permanent_failures();
/// assert!(etcd.interruptible && !etcd.long_poll);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// The provider follows its source: `watch()` keeps yielding states until dropped.
    /// Without it, the source is static: its watch stream may end after the first state.
    pub watch: bool,
    /// Revisions are [`Revision::Ordered`](crate::Revision::Ordered).
    pub ordered_revisions: bool,
    /// The source can be cut off from the provider and come back (a server that stops, a
    /// connection that drops): the provider reports errors meanwhile, then resumes without
    /// losing a change.
    pub interruptible: bool,
    /// Some failures never heal by themselves (wrong credentials, a setting the server
    /// forbids, a path that is not a regular file): the provider ends its stream on them with
    /// one permanent error.
    pub permanent_failures: bool,
    /// The provider waits for changes with a long poll (a request the server holds until
    /// something changes), paced so that a server answering at once is not hammered.
    pub long_poll: bool,
}

impl Capabilities {
    /// A static source (loaded once, never changes).
    pub const STATIC: Capabilities = Capabilities {
        watch: false,
        ordered_revisions: false,
        interruptible: false,
        permanent_failures: false,
        long_poll: false,
    };
    /// A watched source whose revisions are tags (hashes, md5s).
    pub const WATCH: Capabilities = Capabilities {
        watch: true,
        ..Capabilities::STATIC
    };
    /// A watched source whose revisions are ordered.
    pub const WATCH_ORDERED: Capabilities = Capabilities {
        ordered_revisions: true,
        ..Capabilities::WATCH
    };

    /// These capabilities, and the source can be cut off and come back.
    #[must_use]
    pub const fn interruptible(mut self) -> Self {
        self.interruptible = true;
        self
    }

    /// These capabilities, and some failures are permanent.
    #[must_use]
    pub const fn permanent_failures(mut self) -> Self {
        self.permanent_failures = true;
        self
    }

    /// These capabilities, and changes are awaited with a long poll.
    #[must_use]
    pub const fn long_poll(mut self) -> Self {
        self.long_poll = true;
        self
    }
}

/// A read-only view of one configuration source.
///
/// Implement it for your own source, then prove it keeps the contract with the behaviour suite
/// of `hotconf-testkit` (see `docs/writing-a-provider.md`).
#[async_trait]
pub trait Provider: Send + Sync {
    /// The source's name and capabilities.
    ///
    /// # Behavior
    /// Cheap and constant for the life of the provider. The name never contains a credential.
    fn metadata(&self) -> Metadata;

    /// Reads the source's full current state once.
    ///
    /// # Behavior
    /// Returns the whole state, never a delta. A source that cannot be reached, or a file that is
    /// missing, is an `Err` (the reloader keeps that layer's last good state); a remote key or
    /// prefix that was deleted is `Ok` with [`Content::Empty`].
    async fn load(&self) -> Result<Layer>;

    /// Follows the source: yields its current state first, then every later state.
    ///
    /// # Behavior
    /// - Items are full states (level-triggered), never deltas, and never the same content twice
    ///   in a row. The first item is the current state, so nothing between a `load` and a `watch`
    ///   can be lost.
    /// - Per source, revisions never go backwards (an ordered revision never decreases).
    /// - Errors are items: after a transient error the stream goes on (the provider reconnects
    ///   with jittered exponential backoff and resumes without losing a change); after a permanent
    ///   error the stream ends.
    /// - A watched provider's stream does not end on its own; if it does, the reloader calls
    ///   `watch` again after a backoff.
    /// - `Err` from `watch` itself means the watch could not start.
    ///
    /// The default yields [`load`](Provider::load)'s result once and ends: right for static sources.
    async fn watch(&self) -> Result<WatchStream> {
        let first = self.load().await;
        Ok(Box::pin(futures_util::stream::once(async move { first })))
    }
}

macro_rules! forward_provider {
    ($($ty:ty),*) => {$(
        #[async_trait]
        impl<P: Provider + ?Sized> Provider for $ty {
            fn metadata(&self) -> Metadata {
                (**self).metadata()
            }
            async fn load(&self) -> Result<Layer> {
                (**self).load().await
            }
            async fn watch(&self) -> Result<WatchStream> {
                (**self).watch().await
            }
        }
    )*};
}

forward_provider!(Arc<P>, Box<P>, &P);
