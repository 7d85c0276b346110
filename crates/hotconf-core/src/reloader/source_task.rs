//! The source task: one per provider, following it for the life of the reloader and handing
//! its states and errors to the inbox.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::{FutureExt, StreamExt};
use tracing::Instrument;

use crate::backoff::Backoff;
use crate::error::{Error, ErrorKind};
use crate::inbox::Inbox;
use crate::provider::Provider;

/// Follows one provider for the life of the reloader: forwards states and errors to the inbox,
/// and calls `watch` again (after a backoff) when it fails to start, its stream ends, or it
/// panics (a panic is reported as a transient source error, never a silent stop). The backoff
/// grows with each restart and starts over only once a stream has lived as long as the
/// longest delay, so a stream that yields once and ends is not restarted in a tight loop.
pub(super) async fn follow_source(
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
        // One span per (re)connection: the watch call, with the attempt number.
        let connect = tracing::debug_span!("connect", attempt);
        tracing::debug!(parent: &connect, "following the source");
        match AssertUnwindSafe(provider.watch())
            .catch_unwind()
            .instrument(connect)
            .await
        {
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
