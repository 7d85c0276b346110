//! hotconf's etcd v3 backend. [`EtcdProvider`] follows a prefix or a key with the lossless
//! algorithm of list-then-watch with revision resume, re-listing after compaction, and a fresh
//! token and stream after auth expiry. See `docs/backends/etcd.md`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod config;
mod connection;
mod error;
mod follow;
mod provider;
mod revision;

pub use config::{
    EtcdConfig, Mode, TlsFiles, DEFAULT_PORT, DEFAULT_REQUEST_TIMEOUT, DEFAULT_WATCH_CHECK, SCHEMES,
};
pub use connection::EtcdConnection;
pub use provider::EtcdProvider;
