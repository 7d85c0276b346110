//! The fleet's servers: started on free loopback ports, written to directly (never through the
//! proxy the followers go through), stopped and started again as an operator restarts them,
//! and the addresses followers are given.

use hotconf_testkit::apollo::ApolloEmulator;
use hotconf_testkit::consul::{ConsulEmulator, Snapshot};
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
    /// The Consul emulator, or its state while it is stopped.
    Consul(Result<ConsulEmulator, Snapshot>),
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
            Backend::Consul => Server::Consul(Ok(ConsulEmulator::start().await)),
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
            Server::Consul(consul) => running(consul).address(),
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
                running(consul).put(KEY, document);
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

    /// Stops the server, its data kept: etcd and r-nacos exit (etcd on SIGTERM, r-nacos
    /// killed); the Consul emulator is dropped (every connection closes, the port stops
    /// answering) and its state kept as a snapshot, as a Consul server keeps its raft log; the
    /// Apollo emulator closes every connection and refuses new ones.
    pub async fn stop(&mut self) {
        match self {
            Server::Etcd(cluster, _) => tokio::task::block_in_place(|| cluster.stop(0)),
            Server::Consul(consul) => {
                if let Ok(emulator) = consul {
                    *consul = Err(emulator.snapshot());
                }
            }
            Server::Apollo(apollo) => apollo.set_down(true),
            Server::Nacos(nacos) => tokio::task::block_in_place(|| nacos.stop()),
        }
    }

    /// Starts a stopped server again on its data and returns once it works; its address may
    /// have changed (the Consul emulator comes back on a new port).
    ///
    /// # Panics
    /// When it does not come back.
    pub async fn start_again(&mut self) {
        match self {
            Server::Etcd(cluster, client) => {
                tokio::task::block_in_place(|| cluster.restart(0));
                **client = etcd_client::Client::connect(cluster.endpoints(), None)
                    .await
                    .expect("a client of the restarted etcd");
            }
            Server::Consul(consul) => {
                if let Err(snapshot) = consul {
                    let emulator = ConsulEmulator::start().await;
                    emulator.restore(snapshot);
                    *consul = Ok(emulator);
                }
            }
            // Its releases and notification ids stay, as they do in Apollo's database.
            Server::Apollo(apollo) => apollo.set_down(false),
            Server::Nacos(nacos) => tokio::task::block_in_place(|| nacos.restart()),
        }
    }
}

/// The running Consul emulator.
fn running(consul: &Result<ConsulEmulator, Snapshot>) -> &ConsulEmulator {
    consul.as_ref().expect("the Consul emulator is running")
}
