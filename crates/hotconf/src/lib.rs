//! # hotconf
//!
//! Configuration hot reload for cloud-native Rust services. A service stacks sources as layers
//! (files, Kubernetes ConfigMap mounts, environment, etcd, Consul, Nacos, or its own
//! [`Provider`]); hotconf merges them, deserializes the result into the service's typed config,
//! validates it and swaps it in atomically for lock-free readers. A bad config never reaches
//! readers: the last good one keeps serving and a [`Event::Rejected`] names the source and key.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> hotconf::Result<()> {
//! use hotconf::{Error, Format, MemoryProvider, Reloader};
//!
//! #[derive(serde::Deserialize)]
//! struct Config { db: Db }
//! #[derive(serde::Deserialize)]
//! struct Db { host: String, pool: u32 }
//!
//! // Two in-memory sources stand in for, say, a file and an etcd prefix.
//! let (defaults, files) = MemoryProvider::new("memory:defaults");
//! files.set_document(Format::Toml, "[db]\nhost = \"localhost\"\npool = 4");
//! let (remote, handle) = MemoryProvider::new("memory:remote");
//! handle.set_document(Format::Yaml, "db: {pool: 16}");
//!
//! let reloader = Reloader::<Config>::builder()
//!     .layer(defaults)
//!     .layer(remote)
//!     .validate(|c| if c.db.pool == 0 { Err(Error::validation("must be > 0").with_key("db.pool")) } else { Ok(()) })
//!     .start()
//!     .await?;
//! let store = reloader.store();
//! let config = store.load(); // lock-free; one consistent version for this unit of work
//! assert_eq!((config.db.host.as_str(), config.db.pool), ("localhost", 16));
//! # Ok(()) }
//! ```
//!
//! ## Features
//!
//! | feature | what it adds | default |
//! |---|---|---|
//! | `file` | files, directories and ConfigMap mounts (lands with the file backend) | yes |
//! | `env` | environment variables as a layer (lands with the file backend) | yes |
//! | `full` | every backend | no |
//!
//! The guides in `docs/` (concepts, writing a provider, benchmarks) are rendered under [`docs`].
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use hotconf_core::*;

/// Guides, rendered from the repository's `docs/` folder.
pub mod docs {
    #[doc = include_str!("../../../docs/concepts.md")]
    pub mod concepts {}
    #[doc = include_str!("../../../docs/writing-a-provider.md")]
    pub mod writing_a_provider {}
}
