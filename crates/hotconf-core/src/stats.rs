//! Counters of what the reloader did, for metrics and for tests that wait on progress.

use std::time::Duration;

/// Running totals since the reloader started. Read them with
/// [`Reloader::stats`](crate::ReloaderHandle::stats), a watch receiver that changes after every batch.
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
    /// How long reloads from the sources took: merge, deserialization, validation and swap
    /// (applied or rejected ones; not those that found nothing changed).
    pub reload_duration: Histogram,
    /// From a provider delivering a state to readers loading the config it made (applied
    /// reloads only; in a coalesced batch, from the earliest delivery).
    pub propagation: Histogram,
}

impl Stats {
    /// Adds `counted` (counts taken since these were published) to these totals.
    pub(crate) fn add(&mut self, counted: &Stats) {
        let Stats {
            batches,
            applied,
            rejected,
            unchanged,
            stale,
            source_errors,
            snapshots_written,
            snapshot_failures,
            reload_duration,
            propagation,
        } = counted;
        self.batches += batches;
        self.applied += applied;
        self.rejected += rejected;
        self.unchanged += unchanged;
        self.stale += stale;
        self.source_errors += source_errors;
        self.snapshots_written += snapshots_written;
        self.snapshot_failures += snapshot_failures;
        self.reload_duration.add(reload_duration);
        self.propagation.add(propagation);
    }
}

/// A histogram of durations with fixed buckets ([`Histogram::BOUNDS`]), as Prometheus keeps
/// them: counts per bucket (not cumulative), their total, and the sum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Histogram {
    /// `counts[i]`: durations in `(BOUNDS[i-1], BOUNDS[i]]`; the last one counts those above
    /// every bound.
    pub counts: [u64; Histogram::BOUNDS.len() + 1],
    /// How many durations were recorded.
    pub count: u64,
    /// Their sum, in nanoseconds.
    pub sum_nanos: u64,
}

impl Histogram {
    /// The buckets' upper bounds, in seconds: 50 µs to 10 s.
    pub const BOUNDS: [f64; 14] = [
        0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5,
        1.0, 10.0,
    ];

    /// Records one duration.
    pub fn record(&mut self, duration: Duration) {
        let seconds = duration.as_secs_f64();
        let bucket = Histogram::BOUNDS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(Histogram::BOUNDS.len());
        self.counts[bucket] += 1;
        self.count += 1;
        self.sum_nanos = self
            .sum_nanos
            .saturating_add(u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX));
    }

    /// Adds the durations `other` recorded to these.
    fn add(&mut self, other: &Histogram) {
        for (count, more) in self.counts.iter_mut().zip(other.counts) {
            *count += more;
        }
        self.count += other.count;
        self.sum_nanos = self.sum_nanos.saturating_add(other.sum_nanos);
    }

    /// The sum of the durations, in seconds.
    pub fn sum_seconds(&self) -> f64 {
        self.sum_nanos as f64 / 1e9
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_land_in_their_bucket() {
        let mut h = Histogram::default();
        h.record(Duration::from_micros(50));
        h.record(Duration::from_micros(51));
        h.record(Duration::from_secs(60));
        assert_eq!(h.counts[0], 1);
        assert_eq!(h.counts[1], 1);
        assert_eq!(h.counts[Histogram::BOUNDS.len()], 1);
        assert_eq!(h.count, 3);
        assert_eq!(h.sum_nanos, 60_000_101_000);
    }
}
