//! hotconf's Consul KV backend. [`ConsulProvider`] follows a prefix or a key with Consul's
//! blocking queries exactly as the documentation asks: block on the last index (a 404's too),
//! reset when the index goes backwards, never use an index below 1, detect changes by content,
//! rate limit with a token bucket, back off with jitter on errors and keep the last good state.
//! [`ConsulClient`] is the small KV client underneath: it holds how to reach the agent and
//! serves any number of providers; a [`ConsulSource`] says what one provider follows. See
//! `docs/backends/consul.md`.
//!
//! ```no_run
//! # async fn demo() -> hotconf_core::Result<()> {
//! use hotconf_consul::{ConsulClient, ConsulProvider, ConsulSource};
//! #[derive(serde::Deserialize)]
//! struct App { port: u16 }
//! let client = ConsulClient::new(["127.0.0.1:8500"]).token("my-acl-token");
//! let reloader = hotconf_core::Reloader::<App>::builder()
//!     .layer(ConsulProvider::new(&client, ConsulSource::prefix("app/").typed()))
//!     .start()
//!     .await?;
//! println!("port {}", reloader.store().load().port);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod client;
mod config;
mod error;
mod follow;
mod provider;
mod rollout_store;
mod wire;

pub use client::{Block, ConsulClient, KvRead};
pub use config::{
    Consistency, ConsulSource, Mode, RateLimit, TlsFiles, DEFAULT_PORT, DEFAULT_WAIT, SCHEMES,
};
pub use provider::ConsulProvider;
pub use rollout_store::ConsulRolloutStore;
pub use wire::KvEntry;
