//! The lossless watch of docs/protocols.md#etcd-the-lossless-watch: list, then watch from the list's header
//! revision + 1; resume from the last event's mod_revision + 1 (never from a header after events);
//! re-list on compaction, with backoff when it repeats; advance on periodic progress
//! notifications only; refresh the token and open a new stream when the server says it is
//! invalid; back off with jitter between attempts. Every request has a deadline, a silent watch
//! is checked, the state is bounded, and a store that went back (a restore) is followed once
//! confirmed, with layer revisions that still only grow. A key that follows rollouts
//! (docs/rollout.md) lists and watches the range [KEY, KEY.rollout], keeping only those two
//! keys: one watch, one revision stream.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use etcd_client::{GetOptions, WatchOptions, WatchResponse, WatchStream as EtcdWatch};
use hotconf_core::provider::{Backoff, Follow, Layer};
use hotconf_core::{rollout, Error, ErrorKind, Limits, Result, Revision};

use crate::client::EtcdClient;
use crate::config::{EtcdSource, Mode};
use crate::error::{deadline, from_client, is_auth, is_too_large, unavailable, COMPACTED};
use crate::revision::{after, Backwards, Verdict};

/// Between consecutive re-lists that the server asked for (a watch compacted, or created behind
/// the revision we hold) with no watch progress in between: 100 ms doubling to 5 s, jittered.
const RELIST_BACKOFF: Backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));

/// etcd's event types (mvccpb.Event.EventType).
const PUT: i32 = 0;
const DELETE: i32 = 1;

/// Where a follower is in the list-then-watch cycle.
enum Phase {
    /// The state must be listed (at the start, after compaction, a restore, a bad response).
    List,
    /// The state is listed; a watch from `next` must be opened (after a list, a cut stream, a
    /// refreshed token).
    Open,
    /// Watching from `next`.
    Watch(Box<EtcdWatch>),
}

pub(crate) struct Follower {
    client: EtcdClient,
    source: Arc<EtcdSource>,
    name: String,
    /// Key (with the prefix) → value, as of `revision`.
    state: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Bytes of the keys and values in `state`.
    bytes: usize,
    /// The store revision `state` reflects.
    revision: i64,
    /// Where the next watch starts.
    next: i64,
    phase: Phase,
    /// `state` changed since it was last yielded.
    changed: bool,
    /// Consecutive re-lists the server asked for, with no watch progress in between.
    relists: u32,
    /// Lists answered behind `revision`, until they are confirmed as a restore.
    backwards: Backwards,
}

#[async_trait]
impl Follow for Follower {
    /// Steps (list, open the watch, take responses) until the state changed; after a failure,
    /// the next read opens a new watch (on a new connection if the server was unreachable).
    async fn read(&mut self) -> Result<Layer> {
        loop {
            match self.advance().await {
                Ok(()) if self.changed => {
                    self.changed = false;
                    return self.layer();
                }
                Ok(()) => {}
                Err(error) => {
                    self.close();
                    if error.kind() == ErrorKind::Unavailable {
                        self.client.reset().await;
                    }
                    return Err(error);
                }
            }
        }
    }
}

impl Follower {
    pub(crate) fn new(client: EtcdClient, source: Arc<EtcdSource>, name: String) -> Self {
        Follower {
            client,
            source,
            name,
            state: BTreeMap::new(),
            bytes: 0,
            revision: 0,
            next: 0,
            phase: Phase::List,
            changed: false,
            relists: 0,
            backwards: Backwards::default(),
        }
    }

    fn key_and_options(&self) -> (Vec<u8>, bool) {
        let space = &self.source.space;
        (space.path.as_bytes().to_vec(), space.mode == Mode::Prefix)
    }

    /// With rollouts: the end of the range [KEY, KEY.rollout] (exclusive end `KEY.rollout\0`),
    /// so that one list and one watch (one revision stream) cover the key and its record.
    fn rollout_range_end(&self) -> Option<Vec<u8>> {
        self.source.rollout.as_ref()?;
        let mut end = rollout::record_key(&self.source.space.path).into_bytes();
        end.push(0);
        Some(end)
    }

    /// Whether `key` is part of the state: with rollouts, only the key and its record (the
    /// range between them may hold other keys, which are ignored).
    fn follows(&self, key: &[u8]) -> bool {
        if self.source.rollout.is_none() {
            return true;
        }
        let path = self.source.space.path.as_bytes();
        key == path
            || key
                .strip_prefix(path)
                .is_some_and(|rest| rest == rollout::RECORD_SUFFIX.as_bytes())
    }

    /// Goes back to a list because the server said so (compaction, a watch created behind us).
    fn relist(&mut self) {
        self.phase = Phase::List;
        self.relists = self.relists.saturating_add(1);
    }

    /// Drops the watch stream, if any: the next step opens a new one from `next`.
    fn close(&mut self) {
        if let Phase::Watch(_) = self.phase {
            self.phase = Phase::Open;
        }
    }

    /// One step: list if needed, open the watch if needed, or take one response.
    async fn advance(&mut self) -> Result<()> {
        match self.phase {
            Phase::List => {
                if self.relists > 0 {
                    tokio::time::sleep(RELIST_BACKOFF.delay(self.relists - 1)).await;
                }
                return self.list().await;
            }
            Phase::Open => return self.open().await,
            Phase::Watch(_) => {}
        }
        let response = match self.receive().await {
            Ok(response) => response,
            Err(error) if is_too_large(&error) => {
                // One response (a catch-up batch) above the message limit: a list is bounded by
                // the state's limits, and the watch after it starts small.
                tracing::warn!(source = %self.name, %error, "a watch response is too large; listing again");
                self.relist();
                return Ok(());
            }
            Err(error) => return Err(error),
        };
        if response.compact_revision() > 0 {
            tracing::info!(source = %self.name, compacted = response.compact_revision(), "compacted past our revision; listing again");
            self.relist();
            return Ok(());
        }
        if response.canceled() {
            self.close();
            let reason = response.cancel_reason().to_owned();
            if is_auth(&reason) {
                self.client.refresh_token().await?;
                return Ok(()); // a new stream, from `next`, with the new token
            }
            return Err(unavailable(&format!("the watch was canceled: {reason}")));
        }
        let events = response.events();
        if let Some(last) = events.last() {
            for event in events {
                let Some(kv) = event.kv().filter(|kv| self.follows(kv.key())) else {
                    continue;
                };
                match event.0.r#type {
                    PUT => self.put(kv.key(), kv.value())?,
                    DELETE => self.delete(kv.key()),
                    other => {
                        // A server we do not understand: start over from a fresh list.
                        self.phase = Phase::List;
                        return Err(Error::new(
                            ErrorKind::Other,
                            format!("unknown etcd event type {other}"),
                        )
                        .with_transient(true));
                    }
                }
            }
            let last_revision = last
                .kv()
                .map_or(self.next.saturating_sub(1), |kv| kv.mod_revision());
            let resume = after(last_revision)?;
            self.revision = self.revision.max(last_revision);
            self.next = self.next.max(resume);
            self.relists = 0;
            self.check_totals()?;
        } else if !response.created() && response.watch_id() >= 0 {
            // A periodic progress notification: nothing below header.revision is left to see.
            if let Some(header) = response.header() {
                let resume = after(header.revision())?;
                self.next = self.next.max(resume);
            }
            self.relists = 0;
        }
        Ok(())
    }

    /// The next watch response; after `watch_check` of silence, asks for a progress
    /// notification, which a live member answers within `request_timeout`.
    async fn receive(&mut self) -> Result<WatchResponse> {
        let check = self.source.watch_check;
        let timeout = self.client.config().request_timeout;
        let Phase::Watch(stream) = &mut self.phase else {
            return Err(unavailable("no watch stream"));
        };
        if let Ok(message) = tokio::time::timeout(check, stream.message()).await {
            return received(message);
        }
        deadline(
            timeout,
            "asking a silent watch for progress",
            stream.request_progress(),
        )
        .await?
        .map_err(|e| from_client("asking a silent watch for progress", e))?;
        match tokio::time::timeout(timeout, stream.message()).await {
            Ok(message) => received(message),
            Err(_) => Err(unavailable(&format!(
                "the watch was silent for {check:?} and did not answer a progress request within {timeout:?}"
            ))),
        }
    }

    async fn list(&mut self) -> Result<()> {
        let client = self.client.client().await?;
        let limits = self.client.config().limits;
        let mut kv = client
            .kv_client()
            .max_decoding_message_size(message_limit(&limits));
        let (key, prefix) = self.key_and_options();
        let options = if prefix {
            // One more than allowed: enough to tell "too many" without reading them all.
            let most = i64::try_from(limits.max_keys.saturating_add(1)).unwrap_or(i64::MAX);
            Some(GetOptions::new().with_prefix().with_limit(most))
        } else {
            self.rollout_range_end()
                .map(|end| GetOptions::new().with_range(end))
        };
        let response = deadline(
            self.client.config().request_timeout,
            "listing",
            kv.get(key, options),
        )
        .await?
        .map_err(|e| from_client("listing", e))?;
        let Some(header) = response.header() else {
            return Err(unavailable("a list was answered without a header"));
        };
        let revision = header.revision();
        let next = after(revision)?;
        if response.more() || response.kvs().len() > limits.max_keys {
            return Err(over_limit(
                &self.source.space.path,
                format!(
                    "holds {} keys, above max_keys = {}",
                    response.count().max(saturating_i64(response.kvs().len())),
                    limits.max_keys
                ),
            ));
        }
        let mut bytes = 0usize;
        for kv in response.kvs().iter().filter(|kv| self.follows(kv.key())) {
            self.check_value(kv.key(), kv.value())?;
            bytes = bytes.saturating_add(kv.key().len().saturating_add(kv.value().len()));
        }
        if bytes > limits.max_total_bytes {
            return Err(over_limit(
                &self.source.space.path,
                format!(
                    "holds {bytes} bytes of keys and values, above max_total_bytes = {}",
                    limits.max_total_bytes
                ),
            ));
        }
        match self
            .backwards
            .observe(Instant::now(), revision, self.revision)
        {
            Verdict::Ahead => {}
            Verdict::Behind => {
                return Err(unavailable(&format!(
                    "the store revision went backwards: a list answered at revision {revision}, behind {} (a member behind the cluster, or a restore from a backup); keeping the last good state and listing again until it is confirmed",
                    self.revision
                )));
            }
            Verdict::Restored => {
                tracing::warn!(source = %self.name, from = self.revision, to = revision, "the store revision went backwards and stayed there (a restore from a backup): following the restored state");
            }
        }
        let listed: BTreeMap<Vec<u8>, Vec<u8>> = response
            .kvs()
            .iter()
            .filter(|kv| self.follows(kv.key()))
            .map(|kv| (kv.key().to_vec(), kv.value().to_vec()))
            .collect();
        // (The follow helper drops a state equal to the last one yielded.)
        self.changed = true;
        self.state = listed;
        self.bytes = bytes;
        self.revision = revision;
        self.next = next;
        self.phase = Phase::Open;
        Ok(())
    }

    async fn open(&mut self) -> Result<()> {
        let client = self.client.client().await?;
        let (key, prefix) = self.key_and_options();
        let mut options = WatchOptions::new()
            .with_start_revision(self.next)
            .with_progress_notify();
        if prefix {
            options = options.with_prefix();
        } else if let Some(end) = self.rollout_range_end() {
            options = options.with_range(end);
        }
        let timeout = self.client.config().request_timeout;
        let mut watch = client
            .watch_client()
            .max_decoding_message_size(message_limit(&self.client.config().limits));
        let mut stream = match deadline(
            timeout,
            "starting the watch",
            watch.watch(key, Some(options)),
        )
        .await?
        {
            Ok(stream) => stream,
            Err(error) if error.to_string().contains(COMPACTED) => {
                self.relist();
                return Ok(());
            }
            Err(error) => return Err(from_client("starting the watch", error)),
        };
        // The first response says whether the watch exists.
        let first = deadline(
            timeout,
            "waiting for the watch to be created",
            stream.message(),
        )
        .await?;
        match first {
            Ok(Some(first)) if first.compact_revision() > 0 => self.relist(),
            Ok(Some(first)) if first.canceled() => {
                let reason = first.cancel_reason().to_owned();
                if is_auth(&reason) {
                    self.client.refresh_token().await?;
                    return Ok(());
                }
                return Err(Error::new(
                    ErrorKind::PermissionDenied,
                    format!("etcd refused the watch: {reason}"),
                ));
            }
            Ok(Some(first)) if first.created() => {
                // The member's store revision, behind one we have seen: a member behind the
                // cluster, or a restore (whose history below `next` a watch would never replay).
                // A (linearizable) list tells them apart.
                let current = first.header().map_or(0, |h| h.revision());
                if current < self.next.saturating_sub(1) {
                    tracing::info!(source = %self.name, current, next = self.next, "the watch was created behind our revision; listing again");
                    self.relist();
                    return Ok(());
                }
                self.phase = Phase::Watch(Box::new(stream));
            }
            Ok(Some(_)) => return Err(unavailable("the watch did not start")),
            Ok(None) => return Err(unavailable("the watch stream ended at once")),
            Err(error) => return Err(from_client("starting the watch", error)),
        }
        Ok(())
    }

    /// Refuses a value above `max_bytes`, naming its key.
    fn check_value(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let max = self.client.config().limits.max_bytes;
        if value.len() > max {
            return Err(Error::new(
                ErrorKind::Parse,
                format!(
                    "etcd: the value of `{}` is {} bytes, above max_bytes = {max}",
                    String::from_utf8_lossy(key),
                    value.len()
                ),
            )
            .with_key(self.relative_key(key).replace('/', "."))
            .with_transient(true));
        }
        Ok(())
    }

    /// After a watch response: the state must stay within the limits, or it is dropped (the
    /// reloader keeps the last good one) and listed again later.
    fn check_totals(&mut self) -> Result<()> {
        let limits = self.client.config().limits;
        let why = if self.state.len() > limits.max_keys {
            format!(
                "holds {} keys, above max_keys = {}",
                self.state.len(),
                limits.max_keys
            )
        } else if self.bytes > limits.max_total_bytes {
            format!(
                "holds {} bytes of keys and values, above max_total_bytes = {}",
                self.bytes, limits.max_total_bytes
            )
        } else {
            return Ok(());
        };
        self.drop_state();
        Err(over_limit(&self.source.space.path, why))
    }

    fn drop_state(&mut self) {
        self.state = BTreeMap::new();
        self.bytes = 0;
        self.changed = false;
        self.phase = Phase::List;
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        if let Err(error) = self.check_value(key, value) {
            self.drop_state();
            return Err(error);
        }
        if self.state.get(key).map(Vec::as_slice) != Some(value) {
            if let Some(old) = self.state.insert(key.to_vec(), value.to_vec()) {
                self.bytes = self
                    .bytes
                    .saturating_sub(key.len().saturating_add(old.len()));
            }
            self.bytes = self
                .bytes
                .saturating_add(key.len().saturating_add(value.len()));
            self.changed = true;
        }
        Ok(())
    }

    fn delete(&mut self, key: &[u8]) {
        if let Some(old) = self.state.remove(key) {
            self.bytes = self
                .bytes
                .saturating_sub(key.len().saturating_add(old.len()));
            self.changed = true;
        }
    }

    fn relative_key(&self, key: &[u8]) -> String {
        let prefix = self.source.space.path.as_bytes();
        let relative = key.strip_prefix(prefix).unwrap_or(key);
        String::from_utf8_lossy(relative).into_owned()
    }

    /// The current state as a layer at the etcd revision (the follow helper keeps layer
    /// revisions from going back after a restore).
    fn layer(&self) -> Result<Layer> {
        let revision = Revision::Ordered(u64::try_from(self.revision).unwrap_or(0));
        let entries = self
            .state
            .iter()
            .map(|(key, value)| (String::from_utf8_lossy(key), value.clone()));
        match &self.source.rollout {
            Some(instance_id) => {
                rollout::rollout_layer(&self.source.space, instance_id, entries, revision)
            }
            None => self.source.space.layer(entries, revision),
        }
    }
}

fn received(
    message: std::result::Result<Option<WatchResponse>, etcd_client::Error>,
) -> Result<WatchResponse> {
    match message {
        Ok(Some(response)) => Ok(response),
        Ok(None) => Err(unavailable("the watch stream ended")),
        Err(error) => Err(from_client("watching", error)),
    }
}

/// The largest gRPC message accepted: the largest state, plus room for etcd's per-key fields.
pub(crate) fn message_limit(limits: &Limits) -> usize {
    limits
        .max_total_bytes
        .max(limits.max_bytes)
        .saturating_add(limits.max_keys.saturating_add(1).saturating_mul(64))
        .saturating_add(64 << 10)
}

fn saturating_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A state over the limits: transient, since the provider keeps listing (with backoff) and
/// follows the prefix again once it is back under them.
fn over_limit(path: &str, why: String) -> Error {
    Error::new(
        ErrorKind::Parse,
        format!("etcd: `{path}` {why}; keeping the last good state"),
    )
    .with_transient(true)
}
