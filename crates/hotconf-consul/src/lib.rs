//! hotconf's Consul KV backend. [`ConsulProvider`] follows a prefix or a key with Consul's
//! blocking queries exactly as the documentation asks: block on the last index (a 404's too),
//! reset when the index goes backwards, never use an index below 1, detect changes by content,
//! rate limit with a token bucket, back off with jitter on errors and keep the last good state.
//! [`ConsulKv`] is the small KV client underneath. See `docs/backends/consul.md`.
//!
//! ```no_run
//! # async fn demo() -> hotconf_core::Result<()> {
//! use hotconf_consul::{ConsulConfig, ConsulProvider};
//! #[derive(serde::Deserialize)]
//! struct App { port: u16 }
//! let config = ConsulConfig::prefix("127.0.0.1:8500", "app/").with_token("my-acl-token").typed();
//! let reloader = hotconf_core::Reloader::<App>::builder()
//!     .layer(ConsulProvider::new(config)?)
//!     .start()
//!     .await?;
//! println!("port {}", reloader.store().load().port);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod bucket;
mod client;
mod config;
mod error;
mod follow;
mod provider;
mod wire;

pub use client::{Block, ConsulKv, KvRead};
pub use config::{Consistency, ConsulConfig, Mode, RateLimit, TlsFiles, DEFAULT_PORT, SCHEMES};
pub use provider::ConsulProvider;
pub use wire::KvEntry;
