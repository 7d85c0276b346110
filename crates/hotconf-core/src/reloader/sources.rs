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
struct Follower {
    provider: Arc<dyn Provider>,
    metadata: Metadata,
    backoff: Backoff,
    attempt: u32,
    /// The open stream and when it was opened.
    stream: Option<(WatchStream, Instant)>,
    /// Whether to wait a backoff before the next `watch`.
    restarting: bool,
    /// A permanent error was handed over: `Stopped` is next, then the end.
    stopping: bool,
    done: bool,
}

impl Follower {
    fn new(provider: Arc<dyn Provider>, backoff: Backoff) -> Follower {
        Follower {
            metadata: provider.metadata(),
            provider,
            backoff,
            attempt: 0,
            stream: None,
            restarting: false,
            stopping: false,
            done: false,
        }
    }

    fn into_stream(self, span: Span) -> impl futures_util::Stream<Item = Delivery> {
        stream::unfold(self, move |mut follower| {
            let span = span.clone();
            async move {
                let delivery = follower.next().instrument(span).await?;
                Some((delivery, follower))
            }
        })
    }

    async fn next(&mut self) -> Option<Delivery> {
        loop {
            if self.done {
                return None;
            }
            if self.stopping {
                self.done = true;
                return Some(Delivery::Stopped);
            }
            let Some((stream, started)) = &mut self.stream else {
                if self.restarting {
                    tokio::time::sleep(self.backoff.delay(self.attempt)).await;
                    self.attempt = self.attempt.saturating_add(1);
                }
                self.restarting = true;
                // One span per (re)connection: the watch call, with the attempt number.
                let connect = tracing::debug_span!("connect", attempt = self.attempt);
                tracing::debug!(parent: &connect, "following the source");
                match AssertUnwindSafe(self.provider.watch())
                    .catch_unwind()
                    .instrument(connect)
                    .await
                {
                    Err(panic) => return Some(Delivery::Error(self.panicked(&*panic))),
                    Ok(Err(error)) => return Some(self.error(error)),
                    Ok(Ok(stream)) => self.stream = Some((stream, Instant::now())),
                }
                continue;
            };
            let item = AssertUnwindSafe(stream.next()).catch_unwind().await;
            if !matches!(item, Ok(Some(_))) && started.elapsed() >= self.backoff.max {
                self.attempt = 0;
            }
            match item {
                Ok(Some(Ok(layer))) => return Some(Delivery::Layer(layer)),
                Ok(Some(Err(error))) => {
                    if !error.is_transient() {
                        self.stream = None;
                    }
                    return Some(self.error(error));
                }
                Err(panic) => {
                    self.stream = None;
                    return Some(Delivery::Error(self.panicked(&*panic)));
                }
                Ok(None) if self.metadata.capabilities.watch => {
                    self.stream = None;
                    let error =
                        Error::new(ErrorKind::Unavailable, "watch stream ended; restarting it")
                            .with_source_name(&self.metadata.name);
                    return Some(Delivery::Error(error));
                }
                Ok(None) => return None, // a static source delivered its state
            }
        }
    }

    /// A source error, named; a permanent one stops the follower after it is handed over.
    fn error(&mut self, error: Error) -> Delivery {
        self.stopping = !error.is_transient();
        Delivery::Error(error.or_source_name(&self.metadata.name))
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
