//! The watch loop of docs/protocols.md#consul-the-client-loop: block on the last index (a 404's included);
//! when the index goes backwards, reset to 0 and read at once; never block on an index below 1;
//! detect changes by content (a return is no proof of a change); take a token from a bucket
//! before every request; back off with jitter after an error, keeping the last good state.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use hotconf_core::{Backoff, Content, Error, ErrorKind, Layer, Result, Revision, WatchStream};

use crate::bucket::TokenBucket;
use crate::client::{Block, ConsulKv};
use crate::config::{ConsulConfig, Mode};
use crate::error::answered;

/// After a transport failure (a restart, a cut connection): 100 ms doubling to 10 s, jittered,
/// so the source is back soon after the server.
const BACKOFF: Backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
/// After an error answer (403, 429, 5xx): the server is up but refusing, overloaded or without
/// a leader, and many clients may be retrying: 1 s doubling to 60 s, jittered.
const ANSWERED_BACKOFF: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));

pub(crate) struct Follower {
    kv: ConsulKv,
    config: Arc<ConsulConfig>,
    name: String,
    /// The index to block on; 0 reads at once.
    index: u64,
    /// Key → value bytes of the last read, `None` before the first.
    state: Option<BTreeMap<String, Vec<u8>>>,
    /// The revision of the last state yielded (ordered, never decreasing).
    revision: u64,
    /// `state` changed since it was last yielded.
    changed: bool,
    bucket: TokenBucket,
    /// Consecutive failures, and whether the last was an error answer from the server.
    attempt: u32,
    answered: bool,
}

impl Follower {
    pub(crate) fn new(kv: ConsulKv, config: Arc<ConsulConfig>) -> Self {
        let bucket = TokenBucket::new(config.rate_limit);
        Follower {
            kv,
            name: config.name(),
            config,
            index: 0,
            state: None,
            revision: 0,
            changed: false,
            bucket,
            attempt: 0,
            answered: false,
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

    /// Runs until there is a new state to yield, or an error to report.
    pub(crate) async fn next_item(&mut self) -> Result<Layer> {
        loop {
            if self.attempt > 0 {
                let backoff = if self.answered {
                    ANSWERED_BACKOFF
                } else {
                    BACKOFF
                };
                tokio::time::sleep(backoff.delay(self.attempt - 1)).await;
            }
            match self.poll().await {
                Ok(()) => {
                    self.attempt = 0;
                    if self.changed {
                        self.changed = false;
                        return self.layer();
                    }
                }
                Err(error) => {
                    self.attempt = self.attempt.saturating_add(1);
                    self.answered = answered(&error);
                    return Err(error.with_source_name(self.name.clone()));
                }
            }
        }
    }

    /// One request of the loop.
    async fn poll(&mut self) -> Result<()> {
        self.bucket.take().await;
        let block = Some(Block {
            index: self.index,
            wait: self.config.wait,
        });
        let path = self.config.path.as_str();
        let read = match self.config.mode {
            Mode::Prefix => self.kv.list(path, block).await?,
            Mode::Key(_) => self.kv.get(path, block).await?,
        };
        let index = read.index.max(1);
        if index < self.index {
            tracing::info!(source = %self.name, from = self.index, to = index, "the Consul index went backwards; reading afresh");
            self.index = 0;
            return Ok(());
        }
        let state: BTreeMap<String, Vec<u8>> = read
            .entries
            .into_iter()
            .filter(|entry| match self.config.mode {
                // Consul's prefix match is a raw string match: keep only our own keys.
                Mode::Prefix => entry.key.starts_with(path),
                Mode::Key(_) => entry.key == path,
            })
            .map(|entry| (entry.key, entry.value))
            .collect();
        if self.state.as_ref() != Some(&state) {
            self.state = Some(state);
            self.changed = true;
            // The Consul index, unless it went back (a restore): then go on from the last one.
            // Saturating: a server may hand out an index of u64::MAX (revisions then stay there,
            // which the reloader accepts: equal is not older).
            self.revision = index.max(self.revision.saturating_add(1));
        }
        self.index = index;
        Ok(())
    }

    /// The current state as a layer.
    fn layer(&self) -> Result<Layer> {
        let revision = Revision::Ordered(self.revision);
        let empty = BTreeMap::new();
        let state = self.state.as_ref().unwrap_or(&empty);
        match &self.config.mode {
            Mode::Key(format) => Ok(match state.values().next() {
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
                let prefix = self.config.path.as_str();
                let mut entries = Vec::with_capacity(state.len());
                for (key, value) in state {
                    let relative = key[prefix.len().min(key.len())..].to_owned();
                    let value = String::from_utf8(value.clone()).map_err(|_| {
                        Error::new(
                            ErrorKind::Parse,
                            format!("the value of Consul key `{key}` is not valid UTF-8"),
                        )
                        .with_key(relative.replace('/', "."))
                        .with_source_name(self.name.clone())
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
