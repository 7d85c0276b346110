//! hotconf's Nacos backend. [`NacosProvider`] follows one config (dataId, group, namespace);
//! stack several as layers (shared and extension configs, as Spring Cloud Alibaba users do),
//! all through one [`NacosClient`] (one server, one login) with a [`NacosSource`] each.
//! See `docs/backends/nacos.md`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod client;
mod config;
mod http;
mod listener;
mod provider;
mod watch;

pub use client::NacosClient;
pub use config::{Listener, NacosSource, DEFAULT_PORT, SCHEMES};
pub use provider::NacosProvider;
