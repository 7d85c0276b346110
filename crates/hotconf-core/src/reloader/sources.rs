//! The followed sources: every provider's watch stream, polled by the reload task itself (no
//! task per source, so a change reaches the engine without a hand-off between tasks), with what
//! they delivered gathered in a [`Pending`] until the next batch.

use std::future::poll_fn;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::Poll;

use futures_util::stream::{self, BoxStream, SelectAll};
use futures_util::{FutureExt, StreamExt};
use tokio::time::Instant;
use tracing::{Instrument, Span};

use crate::backoff::Backoff;
use crate::error::{Error, ErrorKind};
use crate::inbox::Pending;
use crate::layer::Layer;
use crate::provider::{Metadata, Provider, WatchStream};

/// At most this many deliveries are gathered per wake-up, so a source that is always ready
/// cannot keep the reload task from its batch and its commands.
const MAX_GATHERED: usize = 256;

/// What a followed provider hands over.
enum Delivery {
    Layer(Layer),
    Error(Error),
    /// The provider stopped for good (after a permanent error).
    Stopped,
}

/// Every followed provider, and what they delivered since the last batch.
pub(super) struct Sources {
    streams: SelectAll<BoxStream<'static, (usize, Delivery)>>,
    pending: Pending,
}

impl Sources {
    /// Starts following `providers`, each inside its span.
    pub(super) fn follow(
        providers: &[Arc<dyn Provider>],
        spans: impl IntoIterator<Item = Span>,
        backoff: Backoff,
    ) -> Sources {
        let streams = providers
            .iter()
            .zip(spans)
            .enumerate()
            .map(|(index, (provider, span))| {
                Follower::new(provider.clone(), backoff)
                    .into_stream(span)
                    .map(move |delivery| (index, delivery))
                    .boxed()
            })
            .collect();
        Sources {
            streams,
            pending: Pending::new(providers.len()),
        }
    }

    /// Waits until at least one provider delivered, and gathers whatever else is ready. With
    /// every provider done (static sources that delivered), it waits for ever.
    pub(super) async fn gather(&mut self) {
        poll_fn(|cx| {
            let mut gathered = 0;
            while gathered < MAX_GATHERED {
                match self.streams.poll_next_unpin(cx) {
                    Poll::Ready(Some((index, delivery))) => {
                        match delivery {
                            Delivery::Layer(layer) => self.pending.push_layer(index, layer),
                            Delivery::Error(error) => self.pending.push_error(index, error),
                            Delivery::Stopped => self.pending.stop(index),
                        }
                        gathered += 1;
                    }
                    Poll::Ready(None) | Poll::Pending => break,
                }
            }
            if gathered > 0 {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
    }

    /// What was gathered, for a batch (which empties it).
    pub(super) fn pending(&mut self) -> &mut Pending {
        &mut self.pending
    }
}

/// Follows one provider for the life of the reloader: its states and errors, and a new `watch`
/// (after a backoff) when it fails to start, its stream ends, or it panics (a panic is
/// reported as a transient source error, never a silent stop). The backoff grows with each
/// restart and starts over only once a stream has lived as long as the longest delay, so a
/// stream that yields once and ends is not restarted in a tight loop.
///
/// Where it stands is a [`Phase`], carried from step to step (in the manner of kube-rs's
/// watcher `State`); the follower holds what every phase shares.
struct Follower {
    provider: Arc<dyn Provider>,
    metadata: Metadata,
    backoff: Backoff,
    /// Restarts since a stream last lived as long as the longest delay.
    attempt: u32,
}

/// Where a follower stands in its provider's life.
enum Phase {
    /// Nothing opened yet: `watch` is called at once.
    Start,
    /// `watch` failed or panicked, or its stream ended or panicked: `watch` is called again
    /// after a backoff.
    Restart,
    /// A stream is open, since `opened`.
    Watching {
        stream: WatchStream,
        opened: Instant,
    },
    /// A permanent error was handed over: `Stopped` is handed over next.
    Stopping,
    /// Nothing more comes: `Stopped` was handed over, or a static source's stream ended after
    /// its state.
    Done,
}

impl Follower {
    fn new(provider: Arc<dyn Provider>, backoff: Backoff) -> Follower {
        Follower {
            metadata: provider.metadata(),
            provider,
            backoff,
            attempt: 0,
        }
    }

    fn into_stream(self, span: Span) -> impl futures_util::Stream<Item = Delivery> {
        stream::unfold((self, Phase::Start), move |(mut follower, mut phase)| {
            async move {
                loop {
                    if let Phase::Done = phase {
                        return None;
                    }
                    let (delivery, next) = follower.step(phase).await;
                    phase = next;
                    if let Some(delivery) = delivery {
                        return Some((delivery, (follower, phase)));
                    }
                }
            }
            .instrument(span.clone())
        })
    }

    /// One step from `phase`: at most one delivery, and the phase after it.
    async fn step(&mut self, phase: Phase) -> (Option<Delivery>, Phase) {
        match phase {
            Phase::Start => self.connect().await,
            Phase::Restart => {
                tokio::time::sleep(self.backoff.delay(self.attempt)).await;
                self.attempt = self.attempt.saturating_add(1);
                self.connect().await
            }
            Phase::Watching { stream, opened } => self.watch(stream, opened).await,
            Phase::Stopping => (Some(Delivery::Stopped), Phase::Done),
            Phase::Done => (None, Phase::Done),
        }
    }

    /// Calls `watch`: an open stream delivers nothing yet.
    async fn connect(&mut self) -> (Option<Delivery>, Phase) {
        // One span per (re)connection: the watch call, with the attempt number.
        let connect = tracing::debug_span!("connect", attempt = self.attempt);
        tracing::debug!(parent: &connect, "following the source");
        match AssertUnwindSafe(self.provider.watch())
            .catch_unwind()
            .instrument(connect)
            .await
        {
            Err(panic) => (
                Some(Delivery::Error(self.panicked(&*panic))),
                Phase::Restart,
            ),
            Ok(Err(error)) => self.failed(error, Phase::Restart),
            Ok(Ok(stream)) => (
                None,
                Phase::Watching {
                    stream,
                    opened: Instant::now(),
                },
            ),
        }
    }

    /// Takes the next item of the open `stream`.
    async fn watch(
        &mut self,
        mut stream: WatchStream,
        opened: Instant,
    ) -> (Option<Delivery>, Phase) {
        let item = AssertUnwindSafe(stream.next()).catch_unwind().await;
        if !matches!(item, Ok(Some(_))) && opened.elapsed() >= self.backoff.max {
            self.attempt = 0;
        }
        match item {
            Ok(Some(Ok(layer))) => (
                Some(Delivery::Layer(layer)),
                Phase::Watching { stream, opened },
            ),
            Ok(Some(Err(error))) => self.failed(error, Phase::Watching { stream, opened }),
            Err(panic) => (
                Some(Delivery::Error(self.panicked(&*panic))),
                Phase::Restart,
            ),
            Ok(None) if self.metadata.capabilities.watch => {
                let error = Error::new(ErrorKind::Unavailable, "watch stream ended; restarting it")
                    .with_source_name(&self.metadata.name);
                (Some(Delivery::Error(error)), Phase::Restart)
            }
            Ok(None) => (None, Phase::Done), // a static source delivered its state
        }
    }

    /// A source error, named, and the phase after it: `then` after a transient one, the stop
    /// after a permanent one.
    fn failed(&self, error: Error, then: Phase) -> (Option<Delivery>, Phase) {
        let next = if error.is_transient() {
            then
        } else {
            Phase::Stopping
        };
        let error = error.or_source_name(&self.metadata.name);
        (Some(Delivery::Error(error)), next)
    }

    fn panicked(&self, panic: &(dyn std::any::Any + Send)) -> Error {
        let detail = crate::error::panic_message(panic);
        Error::new(
            ErrorKind::Other,
            format!("the provider panicked ({detail}); restarting it"),
        )
        .with_transient(true)
        .with_source_name(&self.metadata.name)
    }
}
