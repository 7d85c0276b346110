//! hotconf's file backend: a file, a directory of documents, or a Kubernetes ConfigMap or Secret
//! mount as a layer, followed reliably through editor saves (write-and-rename, vim's backup
//! rename, truncate-and-write), the kubelet's `..data` symlink swap, deletion and re-creation.
//!
//! See [`FileProvider`], and `docs/backends/files.md` for the Kubernetes story.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod dir;
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
