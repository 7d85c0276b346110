//! hotconf's Nacos backend. [`NacosProvider`] follows one config (dataId, group, namespace);
//! stack several as layers (shared and extension configs, as Spring Cloud Alibaba users do).
//! See `docs/backends/nacos.md`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod config;
mod http;
mod listener;
mod provider;
mod watch;

pub use config::{Listener, NacosConfig, DEFAULT_PORT, SCHEMES};
pub use provider::NacosProvider;
