//! [`EtcdRolloutStore`]: the writes of a rollout controller (docs/rollout.md) on etcd, each
//! one transaction conditioned on the key's and the record's `mod_revision`.

use async_trait::async_trait;
use etcd_client::{Compare, CompareOp, GetOptions, Txn, TxnOp};
use hotconf_core::provider::{FollowedSource, SourceUri};
use hotconf_core::rollout::{record_key, RolloutState, RolloutStore, Versioned};
use hotconf_core::{Error, ErrorKind, Format, Result};

use crate::client::EtcdClient;
use crate::config::{EtcdSource, Mode};
use crate::error::{deadline, from_client};
use crate::follow::message_limit;

/// A rollout controller's view of one etcd key and its record `KEY.rollout`.
///
/// The key and the record are read in one range request (one revision), and every write is
/// one transaction comparing both `mod_revision`s (0: the key does not exist): a second
/// controller's create fails, and a promotion writes the key and deletes the record at one
/// revision, only if nobody wrote either meanwhile.
#[derive(Debug, Clone)]
pub struct EtcdRolloutStore {
    client: EtcdClient,
    key: String,
    record: String,
    format: Format,
    name: String,
}

impl EtcdRolloutStore {
    /// The store of `key` (a document in `format`) through `client`.
    pub fn new(client: &EtcdClient, key: &str, format: Format) -> Self {
        let key = key.trim_start_matches('/').to_owned();
        let name = format!("etcd://{}/{key}", client.endpoints().join(","));
        EtcdRolloutStore {
            client: client.clone(),
            record: record_key(&key),
            key,
            format,
            name,
        }
    }

    /// The store of an `etcd://host:port/KEY` source URI (the parameters of
    /// [`EtcdProvider`](crate::EtcdProvider)'s URIs; a single key).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for a URI that does not parse or names a prefix.
    pub fn from_uri(uri: &SourceUri) -> Result<Self> {
        let (client, source) = <EtcdSource as FollowedSource>::from_uri(uri)?;
        match source.space.mode {
            Mode::Key(format) => Ok(EtcdRolloutStore::new(&client, &source.space.path, format)),
            Mode::Prefix => Err(Error::new(
                ErrorKind::Config,
                format!("{uri}: a rollout is of a single key (mode=key), not a prefix"),
            )),
        }
    }

    /// Runs `txn`: whether its comparisons held.
    async fn run(&self, doing: &str, txn: Txn) -> Result<bool> {
        Ok(self.run_at(doing, txn).await?.is_some())
    }

    /// Runs `txn`: the revision it wrote at when its comparisons held.
    async fn run_at(&self, doing: &str, txn: Txn) -> Result<Option<u64>> {
        let client = self.client.client().await?;
        let answer = deadline(
            self.client.config().request_timeout,
            doing,
            client.kv_client().txn(txn),
        )
        .await?;
        match answer {
            Ok(response) if response.succeeded() => {
                let revision = response.header().map_or(0, |h| h.revision());
                Ok(Some(u64::try_from(revision).unwrap_or(0)))
            }
            Ok(_) => Ok(None),
            Err(error) => {
                self.client.reset().await;
                Err(from_client(doing, error))
            }
        }
    }

    /// The comparison "`key` is at `version`" (0: does not exist).
    fn at(key: &str, version: u64) -> Compare {
        let version = i64::try_from(version).unwrap_or(i64::MAX);
        Compare::mod_revision(key, CompareOp::Equal, version)
    }
}

#[async_trait]
impl RolloutStore for EtcdRolloutStore {
    fn key(&self) -> &str {
        &self.key
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    fn format(&self) -> Format {
        self.format
    }

    async fn read(&self) -> Result<RolloutState> {
        let client = self.client.client().await?;
        let limits = self.client.config().limits;
        let mut kv = client
            .kv_client()
            .max_decoding_message_size(message_limit(&limits));
        let mut end = self.record.clone().into_bytes();
        end.push(0);
        let answer = deadline(
            self.client.config().request_timeout,
            "reading",
            kv.get(self.key.as_str(), Some(GetOptions::new().with_range(end))),
        )
        .await?;
        let response = match answer {
            Ok(response) => response,
            Err(error) => {
                self.client.reset().await;
                return Err(from_client("reading", error));
            }
        };
        let mut state = RolloutState::default();
        for kv in response.kvs() {
            let version = u64::try_from(kv.mod_revision()).unwrap_or(0);
            let value = Versioned::new(Some(kv.value().to_vec()), version);
            if kv.key() == self.key.as_bytes() {
                state.key = value;
            } else if kv.key() == self.record.as_bytes() {
                state.record = value;
            }
        }
        Ok(state)
    }

    async fn write_record(
        &self,
        key_version: u64,
        record_version: u64,
        record: &[u8],
    ) -> Result<Option<u64>> {
        let txn = Txn::new()
            .when([
                Self::at(&self.key, key_version),
                Self::at(&self.record, record_version),
            ])
            .and_then([TxnOp::put(self.record.as_str(), record, None)]);
        self.run_at("writing the rollout record", txn).await
    }

    async fn promote(&self, key_version: u64, record_version: u64, value: &[u8]) -> Result<bool> {
        let txn = Txn::new()
            .when([
                Self::at(&self.key, key_version),
                Self::at(&self.record, record_version),
            ])
            .and_then([
                TxnOp::put(self.key.as_str(), value, None),
                TxnOp::delete(self.record.as_str(), None),
            ]);
        self.run("promoting the candidate", txn).await
    }

    async fn delete_record(&self, record_version: u64) -> Result<bool> {
        let txn = Txn::new()
            .when([Self::at(&self.record, record_version)])
            .and_then([TxnOp::delete(self.record.as_str(), None)]);
        if self.run("deleting the rollout record", txn).await? {
            return Ok(true);
        }
        // Already gone counts as deleted, as on Consul.
        Ok(self.read().await?.record.value.is_none())
    }
}
