//! Counters of what the reloader did, for metrics and for tests that wait on progress.

/// Running totals since the reloader started. Read them with
/// [`Reloader::stats`](crate::Reloader::stats), a watch receiver that changes after every batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Batches of source states processed, counted once each is fully handled (each may hold
    /// many coalesced changes).
    pub batches: u64,
    /// Configs applied (from the sources, a rollback or a revert).
    pub applied: u64,
    /// Candidates or source states rejected.
    pub rejected: u64,
    /// Batches whose merged content equalled the applied config, so nothing was applied.
    pub unchanged: u64,
    /// States ignored because their ordered revision was older than one already seen.
    pub stale: u64,
    /// Errors reported by providers.
    pub source_errors: u64,
    /// Configs written to the last-good file ([`ReloaderBuilder::last_good_file`](crate::ReloaderBuilder::last_good_file)).
    pub snapshots_written: u64,
    /// Failed writes of the last-good file (each logged with its cause).
    pub snapshot_failures: u64,
}
