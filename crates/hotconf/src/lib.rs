#![doc = include_str!("../../../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use hotconf_core::*;

#[cfg(feature = "file")]
pub use hotconf_file::{self as file, FileProvider};

#[cfg(feature = "etcd")]
pub use hotconf_etcd::{self as etcd, EtcdConfig, EtcdProvider};

#[cfg(feature = "consul")]
pub use hotconf_consul::{self as consul, ConsulConfig, ConsulProvider};
#[cfg(feature = "nacos")]
pub use hotconf_nacos::{self as nacos, NacosConfig, NacosProvider};

/// Guides, rendered from the repository's `docs/` folder.
pub mod docs {
    #[doc = include_str!("../../../docs/concepts.md")]
    pub mod concepts {}
    #[doc = include_str!("../../../docs/writing-a-provider.md")]
    pub mod writing_a_provider {}
    #[doc = include_str!("../../../docs/backends/files.md")]
    pub mod files {}
    #[doc = include_str!("../../../docs/backends/etcd.md")]
    pub mod etcd {}
    #[doc = include_str!("../../../docs/backends/nacos.md")]
    pub mod nacos {}
    #[doc = include_str!("../../../docs/backends/consul.md")]
    pub mod consul {}
    #[doc = include_str!("../../../docs/benchmarks.md")]
    pub mod benchmarks {}
}
