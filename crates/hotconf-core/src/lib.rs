#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

mod backoff;
mod bounded;
mod changes;
mod client_state;
mod disk;
mod engine;
#[cfg(feature = "env")]
mod env;
mod error;
mod event;
mod explain;
mod figment_provider;
mod follow;
mod followed;
mod format;
mod hash;
mod inbox;
mod keyspace;
mod layer;
mod layer_id;
mod layered;
mod memory;
mod merge;
mod optional;
mod pace;
mod path;
pub mod provider;
mod redaction;
mod reloader;
mod revision;
pub mod rollout;
#[cfg(feature = "schema")]
mod schema;
mod secrecy;
mod secret;
mod stats;
mod status;
mod store;
mod strict;
mod subscription;
mod target;
mod timestamp;
mod tree;
mod uri;
mod validate;
mod verdict;

// What an application uses: the reloader, its store and snapshots, events and counters, errors,
// and the providers that ship with the core. Provider authors find the rest in `provider`.
pub use changes::Changes;
#[cfg(feature = "env")]
#[cfg_attr(docsrs, doc(cfg(feature = "env")))]
pub use env::EnvProvider;
pub use error::{BoxError, Error, ErrorKind, Result};
pub use event::{Awaited, Event};
pub use explain::{Explanation, LayerValue};
pub use figment_provider::FigmentProvider;
pub use format::{Format, LimitBreach, Limits};
pub use layer_id::LayerId;
pub use memory::{MemoryHandle, MemoryProvider};
pub use pace::{LongPollPace, Pacer};
pub use provider::Provider;
pub use redaction::{Redaction, REDACTED};
pub use reloader::{Reloader, ReloaderBuilder, ReloaderHandle, Startup};
pub use revision::Revision;
pub use rollout::{instance_id, set_instance_id};
#[cfg(feature = "schema")]
#[cfg_attr(docsrs, doc(cfg(feature = "schema")))]
pub use schema::schema;
/// schemars, the crate [`schema`] builds on: derive `schemars::JsonSchema` on the config type
/// with the same version.
#[cfg(feature = "schema")]
#[cfg_attr(docsrs, doc(cfg(feature = "schema")))]
pub use schemars;
pub use secret::Secret;
pub use stats::{Histogram, Stats};
pub use status::{Health, RolloutStatus, SourceStatus, Status};
pub use store::{CachedReader, Guard, Origin, Snapshot, Store};
pub use subscription::Subscription;
pub use verdict::Verdict;

/// Internals that hotconf's own property tests check against other implementations (figment's
/// merge, the format parsers). Not part of the public API: they may change in any release.
#[doc(hidden)]
pub mod internals {
    pub use crate::format::parse;
    pub use crate::keyspace::nest;
    pub use crate::merge::merge_all;
    pub use crate::path::{parse as parse_path, render as render_path};
}

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
