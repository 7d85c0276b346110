#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod registry;
mod rollout_store;

pub use hotconf_core::*;
pub use registry::{provider_from_source, provider_from_uri, register_scheme, ProviderFactory};
pub use rollout_store::rollout_store_from_uri;

#[cfg(feature = "file")]
#[cfg_attr(docsrs, doc(cfg(feature = "file")))]
pub use hotconf_file::{self as file, FileProvider};

#[cfg(feature = "etcd")]
#[cfg_attr(docsrs, doc(cfg(feature = "etcd")))]
pub use hotconf_etcd::{self as etcd, EtcdClient, EtcdProvider, EtcdSource};

#[cfg(feature = "consul")]
#[cfg_attr(docsrs, doc(cfg(feature = "consul")))]
pub use hotconf_consul::{self as consul, ConsulClient, ConsulProvider, ConsulSource};

#[cfg(feature = "apollo")]
#[cfg_attr(docsrs, doc(cfg(feature = "apollo")))]
pub use hotconf_apollo::{self as apollo, ApolloClient, ApolloProvider, ApolloSource};

#[cfg(feature = "nacos")]
#[cfg_attr(docsrs, doc(cfg(feature = "nacos")))]
pub use hotconf_nacos::{self as nacos, NacosClient, NacosProvider, NacosSource};

#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub use hotconf_http::{self as http, HttpProvider};

#[cfg(feature = "kubernetes")]
#[cfg_attr(docsrs, doc(cfg(feature = "kubernetes")))]
pub use hotconf_kubernetes::{
    self as kubernetes, KubernetesClient, KubernetesProvider, KubernetesSource,
};

#[cfg(feature = "vault")]
#[cfg_attr(docsrs, doc(cfg(feature = "vault")))]
pub use hotconf_vault::{
    self as vault, Auth as VaultAuth, VaultClient, VaultProvider, VaultSource,
};

#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub use hotconf_metrics as metrics;

/// Guides, rendered from the repository's `docs/` folder. A backend's page comes with the
/// backend's feature, since its examples use that backend.
pub mod docs {
    #[doc = include_str!("../docs/concepts.md")]
    pub mod concepts {}
    #[doc = include_str!("../docs/writing-a-provider.md")]
    pub mod writing_a_provider {}
    #[cfg(feature = "file")]
    #[cfg_attr(docsrs, doc(cfg(feature = "file")))]
    #[doc = include_str!("../docs/backends/files.md")]
    pub mod files {}
    #[cfg(feature = "etcd")]
    #[cfg_attr(docsrs, doc(cfg(feature = "etcd")))]
    #[doc = include_str!("../docs/backends/etcd.md")]
    pub mod etcd {}
    #[cfg(feature = "nacos")]
    #[cfg_attr(docsrs, doc(cfg(feature = "nacos")))]
    #[doc = include_str!("../docs/backends/nacos.md")]
    pub mod nacos {}
    #[cfg(feature = "consul")]
    #[cfg_attr(docsrs, doc(cfg(feature = "consul")))]
    #[doc = include_str!("../docs/backends/consul.md")]
    pub mod consul {}
    #[cfg(feature = "apollo")]
    #[cfg_attr(docsrs, doc(cfg(feature = "apollo")))]
    #[doc = include_str!("../docs/backends/apollo.md")]
    pub mod apollo {}
    #[cfg(feature = "http")]
    #[cfg_attr(docsrs, doc(cfg(feature = "http")))]
    #[doc = include_str!("../docs/backends/http.md")]
    pub mod http {}
    #[cfg(feature = "kubernetes")]
    #[cfg_attr(docsrs, doc(cfg(feature = "kubernetes")))]
    #[doc = include_str!("../docs/backends/kubernetes.md")]
    pub mod kubernetes {}
    #[cfg(feature = "vault")]
    #[cfg_attr(docsrs, doc(cfg(feature = "vault")))]
    #[doc = include_str!("../docs/backends/vault.md")]
    pub mod vault {}
    #[doc = include_str!("../docs/protocols.md")]
    pub mod protocols {}
    #[doc = include_str!("../docs/rollout.md")]
    pub mod rollout {}
    #[doc = include_str!("../docs/benchmarks.md")]
    pub mod benchmarks {}
}
