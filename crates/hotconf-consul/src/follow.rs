//! The watch loop of docs/protocols.md#consul-the-client-loop: block on the last index (a 404's
//! included); when the index goes backwards, reset to 0 and read at once; never block on an
//! index below 1; take a turn from the core's [`Pacer`] (a token bucket) before every request,
//! so a server that answers at once is polled about once a second. The core follow helper does
//! the rest: changes detected by content (a return is no proof of a change), revisions that
//! never go back, jittered backoff after an error (see [`Follower::retry`]).

use std::sync::Arc;

use async_trait::async_trait;
use hotconf_core::provider::{Follow, Layer};
use hotconf_core::{rollout, Pacer, Result, Revision};

use crate::client::{Block, ConsulClient};
use crate::config::{ConsulSource, Mode};

pub(crate) struct Follower {
    kv: ConsulClient,
    source: Arc<ConsulSource>,
    name: String,
    /// The index to block on; 0 reads at once.
    index: u64,
    /// Paces the requests (the source's rate limit).
    pacer: Pacer,
}

impl Follower {
    pub(crate) fn new(kv: ConsulClient, source: Arc<ConsulSource>, name: String) -> Self {
        let pacer = Pacer::new(source.rate_limit);
        Follower {
            kv,
            source,
            name,
            index: 0,
            pacer,
        }
    }
}

#[async_trait]
impl Follow for Follower {
    /// One blocking query (or more, after an index reset): the state as of the index returned.
    async fn read(&mut self) -> Result<Layer> {
        loop {
            self.pacer.ready().await;
            let block = Some(Block {
                index: self.index,
                wait: self.source.wait,
            });
            let space = &self.source.space;
            // With rollouts, one blocking query on the prefix `KEY` covers the key and its
            // record `KEY.rollout` with one index (other keys it lists are ignored).
            let read = match space.mode {
                Mode::Key(_) if self.source.rollout.is_some() => {
                    self.kv.list(&space.path, block).await?
                }
                Mode::Prefix => self.kv.list(&space.path, block).await?,
                Mode::Key(_) => self.kv.get(&space.path, block).await?,
            };
            let index = read.index.max(1);
            if index < self.index {
                tracing::info!(source = %self.name, from = self.index, to = index, "the Consul index went backwards; reading afresh");
                self.index = 0;
                continue;
            }
            self.index = index;
            // The Consul index; the follow helper keeps revisions from going back after a
            // restore (and saturates at u64::MAX, which the reloader accepts). Consul's prefix
            // match is a raw string match: the key space keeps only our own keys.
            let entries = read.entries.into_iter().map(|e| (e.key, e.value));
            let revision = Revision::Ordered(index);
            return match &self.source.rollout {
                Some(instance_id) => rollout::rollout_layer(space, instance_id, entries, revision),
                None => space.layer(entries, revision),
            };
        }
    }
}
