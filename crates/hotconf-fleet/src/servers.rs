//! The fleet's servers: started on free loopback ports, written to directly (never through the
//! proxy the followers go through), and the addresses followers are given.

use hotconf_testkit::apollo::ApolloEmulator;
use hotconf_testkit::consul::ConsulEmulator;
use hotconf_testkit::etcd::EtcdCluster;
use hotconf_testkit::nacos::RNacos;

use crate::{Backend, KEY};

/// The Apollo app and namespace followed (a properties namespace: `v = N`).
pub const APOLLO_APP: &str = "fleet";
/// The Apollo namespace followed.
pub const APOLLO_NAMESPACE: &str = "application";
/// The Nacos data id followed (in `DEFAULT_GROUP` of the public namespace).
pub const NACOS_DATA_ID: &str = "fleet.json";

/// One running server of a backend.
pub enum Server {
    /// A real etcd, and a client of it (not through the proxy).
    Etcd(EtcdCluster, Box<etcd_client::Client>),
    /// The Consul emulator.
    Consul(ConsulEmulator),
    /// The Apollo emulator.
    Apollo(ApolloEmulator),
    /// A real r-nacos.
    Nacos(RNacos),
}

impl Server {
    /// Starts a server of `backend`. Call inside a multi-thread tokio runtime.
    ///
    /// # Panics
    /// When the server cannot be started (a missing binary names how to install it).
    pub async fn start(backend: Backend) -> Server {
        match backend {
            Backend::Etcd => {
                let cluster = tokio::task::block_in_place(EtcdCluster::single);
                let client = etcd_client::Client::connect(cluster.endpoints(), None)
                    .await
                    .expect("a client of the fleet's etcd");
                Server::Etcd(cluster, Box::new(client))
            }
            Backend::Consul => Server::Consul(ConsulEmulator::start().await),
            Backend::Apollo => {
                let apollo = ApolloEmulator::start().await;
                // A real config service holds a long poll for 60 s.
                apollo.set_hold(std::time::Duration::from_secs(60));
                Server::Apollo(apollo)
            }
            Backend::Nacos => Server::Nacos(tokio::task::block_in_place(RNacos::start)),
        }
    }

    /// The `host:port` the proxy forwards to.
    pub fn address(&self) -> String {
        match self {
            Server::Etcd(cluster, _) => cluster.endpoint(0),
            Server::Consul(consul) => consul.address(),
            Server::Apollo(apollo) => apollo.address(),
            Server::Nacos(nacos) => nacos.server(),
        }
    }

    /// The URI a hotconf follower is built from, its server at `endpoint`.
    pub fn uri(&self, endpoint: &str) -> String {
        match self {
            Server::Etcd(..) => format!("etcd://{endpoint}/{KEY}"),
            Server::Consul(_) => format!("consul://{endpoint}/{KEY}"),
            Server::Apollo(_) => format!("apollo://{endpoint}/{APOLLO_APP}/{APOLLO_NAMESPACE}"),
            Server::Nacos(_) => format!("nacos://{endpoint}/{NACOS_DATA_ID}"),
        }
    }

    /// Writes version `version` of the followed config.
    ///
    /// # Panics
    /// When the server does not take it.
    pub async fn write(&mut self, version: u64) {
        let document = format!("{{\"v\": {version}}}");
        match self {
            Server::Etcd(_, client) => {
                client
                    .put(KEY, document, None)
                    .await
                    .expect("a put to the fleet's etcd");
            }
            Server::Consul(consul) => {
                consul.put(KEY, document);
            }
            Server::Apollo(apollo) => {
                apollo.publish(
                    APOLLO_APP,
                    "default",
                    APOLLO_NAMESPACE,
                    [("v", version.to_string())],
                );
            }
            Server::Nacos(nacos) => tokio::task::block_in_place(|| {
                nacos.publish_typed(NACOS_DATA_ID, &document, "json");
            }),
        }
    }

    /// Compacts etcd's history up to its current revision (a follower that resumes from an
    /// older revision must list again); nothing on the other backends.
    ///
    /// # Panics
    /// When etcd refuses.
    pub async fn compact(&mut self) {
        if let Server::Etcd(_, client) = self {
            let revision = client
                .get(KEY, None)
                .await
                .expect("a get from the fleet's etcd")
                .header()
                .expect("a header")
                .revision();
            client
                .compact(
                    revision,
                    Some(etcd_client::CompactionOptions::new().with_physical()),
                )
                .await
                .expect("a compaction");
        }
    }
}
