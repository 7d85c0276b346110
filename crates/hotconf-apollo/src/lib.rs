//! hotconf's Apollo backend. [`ApolloProvider`] follows an Apollo namespace as a layer with
//! Apollo's "other language client" HTTP API: uncached `/configs` reads (the release key is
//! the revision, 304 when unchanged), one shared `/notifications/v2` long poll per client
//! carrying every followed namespace's notification id, a periodic full read in case a
//! notification is lost, access-key signatures, gray releases by ip and label, and config
//! service discovery through a meta server. [`ApolloClient`] is the small client underneath;
//! an [`ApolloSource`] says which namespace one provider follows. See `docs/backends/apollo.md`.
//!
//! ```no_run
//! # async fn demo() -> hotconf_core::Result<()> {
//! use hotconf_apollo::{ApolloClient, ApolloProvider, ApolloSource};
//! #[derive(serde::Deserialize)]
//! struct App { port: u16 }
//! let client = ApolloClient::new(["127.0.0.1:8080"]).app_id("my-app");
//! let reloader = hotconf_core::Reloader::<App>::builder()
//!     .layer(ApolloProvider::new(&client, ApolloSource::namespace("application").typed()))
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
mod poller;
mod provider;
mod wire;

pub use client::{ApolloClient, ConfigRead};
pub use config::{
    ApolloSource, Kind, DEFAULT_CHECK_INTERVAL, DEFAULT_POLL_TIMEOUT, DEFAULT_PORT,
    DEFAULT_REQUEST_TIMEOUT, SCHEMES,
};
pub use provider::ApolloProvider;
pub use wire::{ApolloConfig, Notification};
