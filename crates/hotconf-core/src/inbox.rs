//! The inbox between provider tasks and the reloader: one slot per source holding only its latest
//! state (so bursts coalesce with bounded memory), plus the errors seen since the last drain.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Notify;

use crate::error::Error;
use crate::layer::Layer;

/// At most this many errors wait in the inbox; older ones are counted, not kept.
const MAX_PENDING_ERRORS: usize = 64;

#[derive(Default)]
pub(crate) struct Pending {
    pub(crate) layers: Vec<Option<Layer>>,
    pub(crate) errors: Vec<(usize, Error)>,
    pub(crate) dropped_errors: usize,
    /// Sources whose provider stopped for good (a permanent error).
    pub(crate) stopped: Vec<usize>,
    /// When the earliest of `layers` was delivered.
    pub(crate) delivered_at: Option<Instant>,
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

    /// Puts `layer` in the slot of `source`, replacing the state not yet taken.
    pub(crate) fn push_layer(&self, source: usize, layer: Layer) {
        let now = Instant::now();
        self.with(|p| {
            p.layers[source] = Some(layer);
            p.delivered_at.get_or_insert(now);
        });
    }

    /// Adds an error of `source`, dropping the oldest beyond the limit.
    pub(crate) fn push_error(&self, source: usize, error: Error) {
        self.with(|p| {
            if p.errors.len() >= MAX_PENDING_ERRORS {
                p.errors.remove(0);
                p.dropped_errors += 1;
            }
            p.errors.push((source, error));
        });
    }

    /// Records that the provider of `source` stopped for good.
    pub(crate) fn stop(&self, source: usize) {
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
