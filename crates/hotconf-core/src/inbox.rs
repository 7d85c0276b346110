//! The inbox between provider tasks and the reloader: one slot per source holding only its latest
//! state (so bursts coalesce with bounded memory), plus the errors seen since the last drain.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use futures_util::{FutureExt, StreamExt};
use tokio::sync::Notify;

use crate::backoff::Backoff;
use crate::error::{Error, ErrorKind};
use crate::layer::Layer;
use crate::provider::Provider;

/// At most this many errors wait in the inbox; older ones are counted, not kept.
const MAX_PENDING_ERRORS: usize = 64;

#[derive(Default)]
pub(crate) struct Pending {
    pub(crate) layers: Vec<Option<Layer>>,
    pub(crate) errors: Vec<(usize, Error)>,
    pub(crate) dropped_errors: usize,
    /// Sources whose provider stopped for good (a permanent error).
    pub(crate) stopped: Vec<usize>,
}

pub(crate) struct Inbox {
    pending: Mutex<Pending>,
    notify: Notify,
}

impl Inbox {
    pub(crate) fn new(sources: usize) -> Arc<Inbox> {
        let pending = Pending {
            layers: vec![None; sources],
            ..Pending::default()
        };
        Arc::new(Inbox {
            pending: Mutex::new(pending),
            notify: Notify::new(),
        })
    }

    fn with<R>(&self, f: impl FnOnce(&mut Pending) -> R) -> R {
        let r = f(&mut self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        self.notify.notify_one();
        r
    }

    fn push_layer(&self, source: usize, layer: Layer) {
        self.with(|p| p.layers[source] = Some(layer));
    }

    fn push_error(&self, source: usize, error: Error) {
        self.with(|p| {
            if p.errors.len() >= MAX_PENDING_ERRORS {
                p.errors.remove(0);
                p.dropped_errors += 1;
            }
            p.errors.push((source, error));
        });
    }

    fn stop(&self, source: usize) {
        self.with(|p| p.stopped.push(source));
    }

    /// Waits until something arrives.
    pub(crate) async fn wait(&self) {
        self.notify.notified().await;
    }

    /// Takes everything that arrived since the last call.
    pub(crate) fn drain(&self) -> Pending {
        let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let sources = p.layers.len();
        std::mem::replace(
            &mut *p,
            Pending {
                layers: vec![None; sources],
                ..Pending::default()
            },
        )
    }
}

/// Follows one provider for the life of the reloader: forwards states and errors to the inbox,
/// and calls `watch` again (after a backoff) when it fails to start, its stream ends, or it
/// panics (a panic is reported as a transient source error, never a silent stop). The backoff
/// grows with each restart and starts over only once a stream has lived as long as the
/// longest delay, so a stream that yields once and ends is not restarted in a tight loop.
pub(crate) async fn follow_source(
    index: usize,
    provider: Arc<dyn Provider>,
    inbox: Arc<Inbox>,
    backoff: Backoff,
) {
    let metadata = provider.metadata();
    let mut attempt = 0u32;
    let panicked = |panic: Box<dyn std::any::Any + Send>| {
        let detail = crate::error::panic_message(&*panic);
        Error::new(
            ErrorKind::Other,
            format!("the provider panicked ({detail}); restarting it"),
        )
        .with_transient(true)
        .with_source_name(&metadata.name)
    };
    loop {
        let mut stopped = false;
        let started = tokio::time::Instant::now();
        match AssertUnwindSafe(provider.watch()).catch_unwind().await {
            Err(panic) => inbox.push_error(index, panicked(panic)),
            Ok(Ok(mut stream)) => {
                let mut crashed = false;
                loop {
                    let item = match AssertUnwindSafe(stream.next()).catch_unwind().await {
                        Ok(Some(item)) => item,
                        Ok(None) => break,
                        Err(panic) => {
                            inbox.push_error(index, panicked(panic));
                            crashed = true;
                            break;
                        }
                    };
                    match item {
                        Ok(layer) => inbox.push_layer(index, layer),
                        Err(error) => {
                            stopped = !error.is_transient();
                            inbox.push_error(index, error.or_source_name(&metadata.name));
                            if stopped {
                                break;
                            }
                        }
                    }
                }
                if started.elapsed() >= backoff.max {
                    attempt = 0;
                }
                if crashed {
                    // Reported above; restarted below.
                } else if !stopped && metadata.capabilities.watch {
                    let error =
                        Error::new(ErrorKind::Unavailable, "watch stream ended; restarting it")
                            .with_source_name(&metadata.name);
                    inbox.push_error(index, error);
                } else if !stopped {
                    return; // a static source delivered its state
                }
            }
            Ok(Err(error)) => {
                stopped = !error.is_transient();
                inbox.push_error(index, error.or_source_name(&metadata.name));
            }
        }
        if stopped {
            inbox.stop(index);
            return;
        }
        tokio::time::sleep(backoff.delay(attempt)).await;
        attempt = attempt.saturating_add(1);
    }
}
