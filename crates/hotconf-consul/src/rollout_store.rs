//! [`ConsulRolloutStore`]: the writes of a rollout controller (docs/rollout.md) on Consul,
//! with check-and-set (`?cas=`) on the key and its record.

use async_trait::async_trait;
use hotconf_core::provider::{FollowedSource, SourceUri};
use hotconf_core::rollout::{record_key, RolloutState, RolloutStore, Versioned};
use hotconf_core::{Error, ErrorKind, Format, Result};

use crate::client::ConsulClient;
use crate::config::{ConsulSource, Mode};

/// A rollout controller's view of one Consul key and its record `KEY.rollout`.
///
/// Consul's KV endpoint has check-and-set on one key per request, so a write that depends on
/// both the key and the record checks one with `cas` and reads the other around it:
/// - creating the record is `cas=0` (a second controller is refused), then the key is read
///   again; if it moved since the controller read it, the record is deleted again and the
///   start refused;
/// - a promotion writes the key with `cas` on its version (a key changed meanwhile is never
///   overwritten), then deletes the record with `cas` on its version. In between every
///   instance already serves the candidate (the record is at 100 %), so none flips back.
#[derive(Debug, Clone)]
pub struct ConsulRolloutStore {
    client: ConsulClient,
    key: String,
    record: String,
    format: Format,
    name: String,
}

impl ConsulRolloutStore {
    /// The store of `key` (a document in `format`) through `client`.
    pub fn new(client: &ConsulClient, key: &str, format: Format) -> Self {
        let key = key.trim_start_matches('/').to_owned();
        let name = format!("consul://{}/{key}", client.endpoints().join(","));
        ConsulRolloutStore {
            client: client.clone(),
            record: record_key(&key),
            key,
            format,
            name,
        }
    }

    /// The store of a `consul://host:port/KEY` source URI (the parameters of
    /// [`ConsulProvider`](crate::ConsulProvider)'s URIs; a single key).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for a URI that does not parse or names a prefix.
    pub fn from_uri(uri: &SourceUri) -> Result<Self> {
        let (client, source) = <ConsulSource as FollowedSource>::from_uri(uri)?;
        match source.space.mode {
            Mode::Key(format) => Ok(ConsulRolloutStore::new(&client, &source.space.path, format)),
            Mode::Prefix => Err(Error::new(
                ErrorKind::Config,
                format!("{uri}: a rollout is of a single key (mode=key), not a prefix"),
            )),
        }
    }

    async fn get(&self, key: &str) -> Result<Versioned> {
        let read = self.client.get(key, None).await?;
        Ok(match read.entries.into_iter().find(|e| e.key == key) {
            Some(entry) => Versioned::new(Some(entry.value), entry.modify_index),
            None => Versioned::default(),
        })
    }
}

#[async_trait]
impl RolloutStore for ConsulRolloutStore {
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
        Ok(RolloutState::new(
            self.get(&self.key).await?,
            self.get(&self.record).await?,
        ))
    }

    async fn write_record(
        &self,
        key_version: u64,
        record_version: u64,
        record: &[u8],
    ) -> Result<Option<u64>> {
        if self.get(&self.key).await?.version != key_version
            || !self
                .client
                .put_cas(&self.record, record, record_version)
                .await?
        {
            return Ok(None);
        }
        // A PUT does not say the index it wrote at: read it.
        let written = self.get(&self.record).await?;
        if record_version == 0 && self.get(&self.key).await?.version != key_version {
            // The key moved while the record was created: take the record back.
            self.client
                .delete_cas(&self.record, written.version)
                .await?;
            return Ok(None);
        }
        Ok(Some(written.version))
    }

    async fn promote(&self, key_version: u64, record_version: u64, value: &[u8]) -> Result<bool> {
        if self.get(&self.record).await?.version != record_version {
            return Ok(false);
        }
        if !self.client.put_cas(&self.key, value, key_version).await? {
            return Ok(false);
        }
        match self.client.delete_cas(&self.record, record_version).await {
            Ok(true) => Ok(true),
            Ok(false) => Err(Error::new(
                ErrorKind::Unavailable,
                format!(
                    "consul: the candidate was written into `{}`, but the record `{}` changed \
                     before it could be deleted: delete it (hotconf rollout abort)",
                    self.key, self.record
                ),
            )),
            Err(error) => Err(Error::new(
                ErrorKind::Unavailable,
                format!(
                    "consul: the candidate was written into `{}`, but the record `{}` could \
                     not be deleted: delete it (hotconf rollout abort)",
                    self.key, self.record
                ),
            )
            .with_cause(error)),
        }
    }

    async fn delete_record(&self, record_version: u64) -> Result<bool> {
        self.client.delete_cas(&self.record, record_version).await
    }
}
