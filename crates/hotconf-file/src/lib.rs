//! hotconf's file backend: a file, a directory of documents, or a Kubernetes ConfigMap or Secret
//! mount as a layer, followed reliably through editor saves (write-and-rename, vim's backup
//! rename, truncate-and-write), the kubelet's `..data` symlink swap, deletion and re-creation.
//!
//! With the `age` feature, age-encrypted files (`app.yaml.age`, or an entry `X.age` of a
//! directory) are decrypted in memory and are secret layers.
//!
//! See [`FileProvider`], and `docs/backends/files.md` for the Kubernetes story and age files.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

mod dir;
mod encrypted;
#[cfg(test)]
mod hook;
mod mount;
mod open;
mod provider;
mod read;
mod watch;
mod watcher;
mod writes;

pub use provider::{FileProvider, DEFAULT_DEBOUNCE, DEFAULT_RESCAN, SCHEMES};
