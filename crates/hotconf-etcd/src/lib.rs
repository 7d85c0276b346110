//! hotconf's etcd v3 backend. [`EtcdProvider`] follows a prefix or a key with the lossless
//! algorithm of list-then-watch with revision resume, re-listing after compaction, and a fresh
//! token and stream after auth expiry. An [`EtcdClient`] holds how to reach etcd (endpoints,
//! auth, TLS, deadline, limits) and serves any number of providers; an [`EtcdSource`] says what
//! one provider follows. See `docs/backends/etcd.md`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod client;
mod config;
mod error;
mod follow;
mod provider;
mod revision;
mod rollout_store;

pub use client::EtcdClient;
pub use config::{
    EtcdSource, Mode, TlsFiles, DEFAULT_PORT, DEFAULT_REQUEST_TIMEOUT, DEFAULT_WATCH_CHECK, SCHEMES,
};
pub use provider::EtcdProvider;
pub use rollout_store::EtcdRolloutStore;
