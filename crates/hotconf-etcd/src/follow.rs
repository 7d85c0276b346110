//! The lossless watch of docs/protocols.md#etcd-the-lossless-watch: list, then watch from the list's header
//! revision + 1; resume from the last event's mod_revision + 1 (never from a header after events);
//! re-list on compaction, with backoff when it repeats; advance on periodic progress
//! notifications only; refresh the token and open a new stream when the server says it is
//! invalid; back off with jitter between attempts.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use etcd_client::{GetOptions, WatchOptions, WatchResponse, WatchStream as EtcdWatch};
use hotconf_core::{Backoff, Content, Error, ErrorKind, Layer, Result, Revision, WatchStream};

use crate::config::{EtcdConfig, Mode};
use crate::connection::EtcdConnection;
use crate::error::{deadline, from_client, is_auth, unavailable, COMPACTED};
use crate::revision::{after, layer_revision};

/// Between attempts after a failure: 100 ms doubling to 5 s, jittered.
const BACKOFF: Backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
/// Between consecutive re-lists that the server asked for (a watch compacted, again and again)
/// with no watch progress in between: 100 ms doubling to 5 s, jittered.
const RELIST_BACKOFF: Backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));

/// etcd's event types (mvccpb.Event.EventType).
const PUT: i32 = 0;
const DELETE: i32 = 1;

pub(crate) struct Follower {
    connection: EtcdConnection,
    config: Arc<EtcdConfig>,
    name: String,
    /// Key (with the prefix) → value, as of `revision`.
    state: BTreeMap<Vec<u8>, Vec<u8>>,
    /// The store revision `state` reflects.
    revision: i64,
    /// Where the next watch starts.
    next: i64,
    stream: Option<EtcdWatch>,
    listed: bool,
    /// `state` changed since it was last yielded.
    changed: bool,
    attempt: u32,
    /// Consecutive re-lists the server asked for, with no watch progress in between.
    relists: u32,
    /// The revision of the last layer yielded: ordered, never decreasing.
    yielded: u64,
}

impl Follower {
    pub(crate) fn new(connection: EtcdConnection, config: Arc<EtcdConfig>, name: String) -> Self {
        Follower {
            connection,
            config,
            name,
            state: BTreeMap::new(),
            revision: 0,
            next: 0,
            stream: None,
            listed: false,
            changed: false,
            attempt: 0,
            relists: 0,
            yielded: 0,
        }
    }

    /// The stream of states: the current one first, then every change.
    pub(crate) fn into_stream(self) -> WatchStream {
        Box::pin(futures_util::stream::unfold(
            self,
            |mut follower| async move {
                let item = follower.next_item().await;
                Some((item, follower))
            },
        ))
    }

    fn key_and_options(&self) -> (Vec<u8>, bool) {
        (
            self.config.path.as_bytes().to_vec(),
            self.config.mode == Mode::Prefix,
        )
    }

    /// Runs until there is a new state to yield, or an error to report.
    async fn next_item(&mut self) -> Result<Layer> {
        loop {
            if self.attempt > 0 {
                tokio::time::sleep(BACKOFF.delay(self.attempt - 1)).await;
            }
            match self.advance().await {
                Ok(()) => {
                    self.attempt = 0;
                    if self.changed {
                        self.changed = false;
                        return self.layer();
                    }
                }
                Err(error) => {
                    self.attempt = self.attempt.saturating_add(1);
                    self.stream = None;
                    if error.kind() == ErrorKind::Unavailable {
                        self.connection.reset().await;
                    }
                    return Err(error.with_source_name(self.name.clone()));
                }
            }
        }
    }

    /// Goes back to a list because the server said so (compaction).
    fn relist(&mut self) {
        self.listed = false;
        self.stream = None;
        self.relists = self.relists.saturating_add(1);
    }

    /// One step: list if needed, open the watch if needed, or take one response.
    async fn advance(&mut self) -> Result<()> {
        if !self.listed {
            if self.relists > 0 {
                tokio::time::sleep(RELIST_BACKOFF.delay(self.relists - 1)).await;
            }
            return self.list().await;
        }
        if self.stream.is_none() {
            return self.open().await;
        }
        let response = self.receive().await?;
        if response.compact_revision() > 0 {
            tracing::info!(source = %self.name, compacted = response.compact_revision(), "compacted past our revision; listing again");
            self.relist();
            return Ok(());
        }
        if response.canceled() {
            self.stream = None;
            let reason = response.cancel_reason().to_owned();
            if is_auth(&reason) {
                self.connection.refresh_token().await?;
                return Ok(()); // a new stream, from `next`, with the new token
            }
            return Err(unavailable(&format!("the watch was canceled: {reason}")));
        }
        let events = response.events();
        if let Some(last) = events.last() {
            for event in events {
                let Some(kv) = event.kv() else { continue };
                match event.0.r#type {
                    PUT => self.put(kv.key(), kv.value()),
                    DELETE => self.delete(kv.key()),
                    other => {
                        // A server we do not understand: start over from a fresh list.
                        self.listed = false;
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
            self.revision = self.revision.max(last_revision);
            self.next = self.next.max(after(last_revision)?);
            self.relists = 0;
        } else if !response.created() && response.watch_id() >= 0 {
            // A periodic progress notification: nothing below header.revision is left to see.
            if let Some(header) = response.header() {
                self.next = self.next.max(after(header.revision())?);
            }
            self.relists = 0;
        }
        Ok(())
    }

    /// The next watch response; after `watch_check` of silence, asks for a progress
    /// notification, which a live member answers within `request_timeout`.
    async fn receive(&mut self) -> Result<WatchResponse> {
        let check = self.config.watch_check;
        let timeout = self.config.request_timeout;
        let Some(stream) = self.stream.as_mut() else {
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
        let mut client = self.connection.client().await?;
        let (key, prefix) = self.key_and_options();
        let options = if prefix {
            Some(GetOptions::new().with_prefix())
        } else {
            None
        };
        let response = deadline(
            self.config.request_timeout,
            "listing",
            client.get(key, options),
        )
        .await?
        .map_err(|e| from_client("listing", e))?;
        let Some(header) = response.header() else {
            return Err(unavailable("a list was answered without a header"));
        };
        let revision = header.revision();
        let next = after(revision)?;
        let listed: BTreeMap<Vec<u8>, Vec<u8>> = response
            .kvs()
            .iter()
            .map(|kv| (kv.key().to_vec(), kv.value().to_vec()))
            .collect();
        if revision < self.revision {
            // A member behind the one we read before: never go back; try again.
            return Err(unavailable(&format!(
                "a member answered at revision {revision}, behind {}",
                self.revision
            )));
        }
        if listed != self.state || !self.listed_once() {
            self.changed = true;
        }
        self.state = listed;
        self.revision = revision;
        self.next = next;
        self.listed = true;
        self.stream = None;
        Ok(())
    }

    fn listed_once(&self) -> bool {
        self.revision > 0
    }

    async fn open(&mut self) -> Result<()> {
        let mut client = self.connection.client().await?;
        let (key, prefix) = self.key_and_options();
        let mut options = WatchOptions::new()
            .with_start_revision(self.next)
            .with_progress_notify();
        if prefix {
            options = options.with_prefix();
        }
        let timeout = self.config.request_timeout;
        let mut stream = match deadline(
            timeout,
            "starting the watch",
            client.watch(key, Some(options)),
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
                    self.connection.refresh_token().await?;
                    return Ok(());
                }
                return Err(Error::new(
                    ErrorKind::PermissionDenied,
                    format!("etcd refused the watch: {reason}"),
                ));
            }
            Ok(Some(first)) if first.created() => self.stream = Some(stream),
            Ok(Some(_)) => return Err(unavailable("the watch did not start")),
            Ok(None) => return Err(unavailable("the watch stream ended at once")),
            Err(error) => return Err(from_client("starting the watch", error)),
        }
        Ok(())
    }

    fn put(&mut self, key: &[u8], value: &[u8]) {
        if self.state.get(key).map(Vec::as_slice) != Some(value) {
            self.state.insert(key.to_vec(), value.to_vec());
            self.changed = true;
        }
    }

    fn delete(&mut self, key: &[u8]) {
        if self.state.remove(key).is_some() {
            self.changed = true;
        }
    }

    /// The current state as a layer at revision `self.revision` (never below the last one
    /// yielded).
    fn layer(&mut self) -> Result<Layer> {
        let number = layer_revision(self.revision, self.yielded);
        self.yielded = number;
        let revision = Revision::Ordered(number);
        match &self.config.mode {
            Mode::Key(format) => Ok(match self.state.values().next() {
                Some(value) => Layer::new(
                    Content::Document {
                        format: *format,
                        bytes: value.clone().into(),
                    },
                    revision,
                ),
                None => Layer::empty(revision),
            }),
            Mode::Prefix => {
                let prefix = self.config.path.as_bytes();
                let mut entries = Vec::with_capacity(self.state.len());
                for (key, value) in &self.state {
                    let relative =
                        String::from_utf8_lossy(&key[prefix.len().min(key.len())..]).into_owned();
                    let value = String::from_utf8(value.clone()).map_err(|_| {
                        Error::new(ErrorKind::Parse, "the value is not valid UTF-8")
                            .with_key(relative.replace('/', "."))
                            .with_transient(true)
                    })?;
                    entries.push((relative, value));
                }
                Ok(Layer::new(
                    Content::Keys {
                        separator: '/',
                        entries,
                        typed: self.config.typed,
                    },
                    revision,
                ))
            }
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
