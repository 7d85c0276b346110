//! The applied versions kept for rollback, and the pin a rollback sets (guarantee G8).

use std::collections::VecDeque;
use std::sync::Arc;

use crate::error::{Error, ErrorKind, Result};
use crate::store::Snapshot;

/// The last applied snapshots, oldest first, and whether a rollback pinned the config.
pub(super) struct History<T> {
    kept: VecDeque<Arc<Snapshot<T>>>,
    /// How many snapshots to keep (at least one).
    capacity: usize,
    /// A rollback pinned the config: source changes are tracked but not applied.
    pinned: bool,
}

impl<T> History<T> {
    /// An empty history keeping up to `capacity` snapshots (at least one).
    pub(super) fn new(capacity: usize) -> History<T> {
        History {
            kept: VecDeque::new(),
            capacity: capacity.max(1),
            pinned: false,
        }
    }

    /// Records an applied snapshot, dropping the oldest beyond the capacity.
    pub(super) fn record(&mut self, snapshot: Arc<Snapshot<T>>) {
        self.kept.push_back(snapshot);
        while self.kept.len() > self.capacity {
            self.kept.pop_front();
        }
    }

    /// Forgets every snapshot (the first config was taken back).
    pub(super) fn clear(&mut self) {
        self.kept.clear();
    }

    /// The snapshot of `version`.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] naming the versions kept, when `version` is not one of them.
    pub(super) fn find(&self, version: u64) -> Result<Arc<Snapshot<T>>> {
        self.kept
            .iter()
            .find(|s| s.version() == version)
            .cloned()
            .ok_or_else(|| {
                let kept: Vec<u64> = self.kept.iter().map(|s| s.version()).collect();
                Error::new(
                    ErrorKind::NotFound,
                    format!("version {version} is not in the history (kept: {kept:?})"),
                )
            })
    }

    /// The snapshots kept, oldest first.
    pub(super) fn snapshots(&self) -> Vec<Arc<Snapshot<T>>> {
        self.kept.iter().cloned().collect()
    }

    /// Whether a rollback pinned the config.
    pub(super) fn is_pinned(&self) -> bool {
        self.pinned
    }

    /// Pins or unpins the config.
    pub(super) fn set_pinned(&mut self, pinned: bool) {
        self.pinned = pinned;
    }
}
