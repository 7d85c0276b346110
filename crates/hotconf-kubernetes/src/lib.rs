//! hotconf's Kubernetes API backend. [`KubernetesProvider`] follows one ConfigMap or Secret
//! from the API server: a list with the `metadata.name` field selector, then a watch from the
//! list's resourceVersion (bookmarks on, resumed from the last resourceVersion when the server
//! ends it, listed again after a 410), the resourceVersion as the layer's revision. The layer is
//! the same config the kubelet's mount of the object gives `FileProvider::directory(..).typed()`,
//! without the mount's delay. A [`KubernetesClient`] holds how to reach the cluster (kube's
//! config inference: kubeconfig, else the pod's service account); a [`KubernetesSource`] says
//! what one provider follows. See `docs/backends/kubernetes.md`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod client;
mod convert;
mod follow;
#[cfg(test)]
mod mount_equality;
mod phase;
mod provider;
mod source;

pub use client::{KubernetesClient, DEFAULT_REQUEST_TIMEOUT};
pub use follow::WATCH_TIMEOUT;
pub use provider::KubernetesProvider;
pub use source::{KubernetesSource, ObjectKind, SCHEMES};
