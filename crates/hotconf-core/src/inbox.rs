//! What the sources delivered since the last batch: one slot per source holding only its
//! latest state (so bursts coalesce with bounded memory), plus the errors seen meanwhile.

use std::time::Instant;

use crate::error::Error;
use crate::layer::Layer;

/// At most this many errors wait for a batch; older ones are counted, not kept.
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

impl Pending {
    /// Nothing yet from any of `sources` sources.
    pub(crate) fn new(sources: usize) -> Pending {
        Pending {
            layers: vec![None; sources],
            ..Pending::default()
        }
    }

    /// Puts `layer` in the slot of `source`, replacing the state not yet taken.
    pub(crate) fn push_layer(&mut self, source: usize, layer: Layer) {
        self.layers[source] = Some(layer);
        self.delivered_at.get_or_insert_with(Instant::now);
    }

    /// Adds an error of `source`, dropping the oldest beyond the limit.
    pub(crate) fn push_error(&mut self, source: usize, error: Error) {
        if self.errors.len() >= MAX_PENDING_ERRORS {
            self.errors.remove(0);
            self.dropped_errors += 1;
        }
        self.errors.push((source, error));
    }

    /// Records that the provider of `source` stopped for good.
    pub(crate) fn stop(&mut self, source: usize) {
        self.stopped.push(source);
    }
}
