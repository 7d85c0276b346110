//! The writing side of the protocol: what a rollout controller needs from a store (etcd,
//! Consul) to start, move, promote and end a rollout without a second controller or a
//! concurrent edit of the key slipping in between (docs/rollout.md, "The controller").

use async_trait::async_trait;

use crate::error::Result;
use crate::format::Format;

/// One stored value and the version its conditional writes compare against: etcd's
/// `mod_revision`, Consul's `ModifyIndex`; version 0 is "absent".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Versioned {
    /// The value's bytes, `None` when the key does not exist.
    pub value: Option<Vec<u8>>,
    /// Its version; 0 when it does not exist.
    pub version: u64,
}

impl Versioned {
    /// A value at `version` (`None` and 0: absent).
    pub fn new(value: Option<Vec<u8>>, version: u64) -> Self {
        Versioned { value, version }
    }
}

/// The key and its rollout record, read together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RolloutState {
    /// The key's own value.
    pub key: Versioned,
    /// The record at `KEY.rollout`.
    pub record: Versioned,
}

impl RolloutState {
    /// The state of a key and its record.
    pub fn new(key: Versioned, record: Versioned) -> Self {
        RolloutState { key, record }
    }
}

/// A store a rollout controller writes to: every write is conditional on the versions the
/// controller read, so that two controllers cannot both run a rollout of one key and a rollout
/// never overwrites a key someone changed meanwhile. `Ok(false)` is a failed condition (someone
/// else wrote, [`write_record`](Self::write_record)'s `None`); `Err` a store that could not be
/// asked.
///
/// Backends implement it on their own clients (`EtcdRolloutStore`: one transaction per write;
/// `ConsulRolloutStore`: check-and-set), and `hotconf::rollout_store_from_uri` builds one from a
/// source URI. Errors name the key, never a value or a credential.
#[async_trait]
pub trait RolloutStore: Send + Sync {
    /// The key the rollout is of (its record is [`record_key`](super::record_key) of it).
    fn key(&self) -> &str;

    /// The store and key, printable (credentials redacted).
    fn name(&self) -> String;

    /// The key's document format: a candidate must have it, since a promotion writes the
    /// candidate into the key.
    fn format(&self) -> Format;

    /// Reads the key and its record.
    ///
    /// # Errors
    /// When the store cannot be asked, or a value is above the read limits.
    async fn read(&self) -> Result<RolloutState>;

    /// Writes the record if it is still at `record_version` (0: it must not exist, so that a
    /// second controller is refused) and the key still at `key_version`: the record's new
    /// version, or `None` when a condition failed.
    ///
    /// # Errors
    /// When the store cannot be asked.
    async fn write_record(
        &self,
        key_version: u64,
        record_version: u64,
        record: &[u8],
    ) -> Result<Option<u64>>;

    /// Ends a rollout by promotion: writes `value` into the key and deletes the record, if the
    /// key is still at `key_version` and the record at `record_version`. The key is written
    /// first (or both at once): with the record at 100 % every instance already serves the
    /// candidate, so none goes back to the old value in between.
    ///
    /// # Errors
    /// When the store cannot be asked; when the key was written but the record could not be
    /// deleted, the error says so.
    async fn promote(&self, key_version: u64, record_version: u64, value: &[u8]) -> Result<bool>;

    /// Ends a rollout by deleting the record if it is still at `record_version` (every instance
    /// back on the key's value). `Ok(true)` also when the record is already gone.
    ///
    /// # Errors
    /// When the store cannot be asked.
    async fn delete_record(&self, record_version: u64) -> Result<bool>;
}
