#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

mod backoff;
mod bounded;
mod disk;
mod engine;
#[cfg(feature = "env")]
mod env;
mod error;
mod event;
mod figment_provider;
mod follow;
pub mod format;
mod hash;
mod inbox;
pub mod keyspace;
mod layer;
mod layered;
mod memory;
pub mod merge;
pub mod path;
mod provider;
mod reloader;
mod revision;
mod secret;
mod stats;
mod store;
mod subscription;
mod target;
mod tree;
mod uri;
mod validate;

pub use backoff::{parse_duration, Backoff};
pub use bounded::BoundedBody;
#[cfg(feature = "env")]
#[cfg_attr(docsrs, doc(cfg(feature = "env")))]
pub use env::EnvProvider;
pub use error::{BoxError, Error, ErrorKind, Result};
pub use event::Event;
pub use figment_provider::FigmentProvider;
pub use follow::{follow, Follow, Retry};
pub use format::{Format, Limits};
pub use layer::{Content, Document, Layer};
pub use memory::{MemoryHandle, MemoryProvider};
pub use provider::{Capabilities, Metadata, Provider, WatchStream};
pub use reloader::{Reloader, ReloaderBuilder, Startup};
pub use revision::Revision;
pub use secret::Secret;
pub use stats::Stats;
pub use store::{CachedReader, Guard, Origin, Snapshot, Store};
pub use subscription::Subscription;
pub use target::{KeySpace, Mode, TlsFiles};
pub use uri::{Query, SourceUri};

#[cfg(test)]
mod send_sync {
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn public_types_are_send_and_sync() {
        assert_send_sync::<crate::Error>();
        assert_send_sync::<crate::Store<String>>();
        assert_send_sync::<crate::Reloader<String>>();
        assert_send_sync::<crate::MemoryProvider>();
        assert_send_sync::<crate::Event>();
    }
}
