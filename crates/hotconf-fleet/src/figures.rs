//! What one fleet run measured, and the bench's table row of it.

use std::time::Duration;

use crate::{Backend, Kind};

/// The figures of one fleet run (one backend, one kind of follower).
#[derive(Debug, Clone, Default)]
pub struct Figures {
    /// The backend's name.
    pub backend: &'static str,
    /// The followers' kind.
    pub kind: &'static str,
    /// Followers in all.
    pub followers: usize,
    /// Connection attempts per second while the server was down: in its first 5 s, in its last
    /// 5 s, and in its busiest second.
    pub down_rate: (f64, f64, usize),
    /// Connection attempts during the whole outage.
    pub down_attempts: usize,
    /// Connections accepted in the 10 s after the server came back, and the share of them in
    /// the busiest 100 ms window.
    pub back_connections: (usize, f64),
    /// The share of the followers that served the final version in the busiest 100 ms window.
    pub served_peak: f64,
    /// Time from the server's return to each follower serving the final version: median, p99
    /// and the last (of those that did).
    pub converged: (Duration, Duration, Duration),
    /// Followers that did not serve the final version within the deadline.
    pub lost: usize,
    /// Followers that served an older version after a newer one.
    pub backwards: usize,
    /// Followers that reported a failure they could not go on from.
    pub failed: usize,
    /// Resident memory of the hosts, in KiB: all of them, and the same hosts without
    /// followers (one empty host's figure times the number of hosts; 0 for CLI followers,
    /// each a process of its own).
    pub rss_kib: (u64, u64),
    /// The hosts' proportional set size, in KiB: their resident memory with each page shared
    /// between processes (the binary's, the C library's) divided among them.
    pub pss_kib: u64,
    /// Open file descriptors of the hosts.
    pub fds: usize,
    /// Threads of the hosts.
    pub threads: usize,
    /// Hosts.
    pub processes: usize,
}

impl Figures {
    /// Empty figures of `backend` and `kind`.
    pub fn new(backend: Backend, kind: Kind, followers: usize, processes: usize) -> Figures {
        Figures {
            backend: backend.name(),
            kind: kind.name(),
            followers,
            processes,
            ..Figures::default()
        }
    }

    /// Whether every follower served the final version, never went back and never failed.
    pub fn lossless(&self) -> bool {
        self.lost == 0 && self.backwards == 0 && self.failed == 0
    }

    /// The table's header.
    pub fn header() -> &'static str {
        "| backend | followers | down: attempts/s first 5 s · last 5 s · peak 1 s | back: connections · busiest 100 ms | served: busiest 100 ms | converged median · p99 · last | lost · backwards · failed | per follower: RSS (all · above empty hosts) · PSS | fds · threads (hosts) |\n\
         |---|---|---|---|---|---|---|---|---|"
    }

    /// The table row.
    pub fn row(&self) -> String {
        let n = self.followers.max(1) as u64;
        let (first, last, peak) = self.down_rate;
        let (median, p99, max) = self.converged;
        let above_empty = match self.rss_kib.1 {
            0 => "–".to_owned(),
            empty => (self.rss_kib.0.saturating_sub(empty) / n).to_string(),
        };
        format!(
            "| {} {} | {} | {first:.0} · {last:.0} · {peak} | {} · {:.1} % | {:.1} % | {} · {} · {} | {} · {} · {} | {} · {above_empty} · {} KiB | {} · {} ({}) |",
            self.backend,
            self.kind,
            self.followers,
            self.back_connections.0,
            self.back_connections.1 * 100.0,
            self.served_peak * 100.0,
            millis(median),
            millis(p99),
            millis(max),
            self.lost,
            self.backwards,
            self.failed,
            self.rss_kib.0 / n,
            self.pss_kib / n,
            self.fds,
            self.threads,
            self.processes,
        )
    }
}

fn millis(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{:.2} s", d.as_secs_f64())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// Attempts per second in `[from, to)` seconds of an outage whose attempts happened at
/// `seconds` (offsets from its start).
pub fn rate(seconds: &[f64], from: f64, to: f64) -> f64 {
    let n = seconds.iter().filter(|&&s| s >= from && s < to).count();
    n as f64 / (to - from).max(f64::EPSILON)
}

/// The most offsets of `sorted` (seconds, ascending) within any window of `width` seconds.
pub fn busiest(sorted: &[f64], width: f64) -> usize {
    let mut best = 0;
    let mut start = 0;
    for (end, &t) in sorted.iter().enumerate() {
        while sorted[start] <= t - width {
            start += 1;
        }
        best = best.max(end + 1 - start);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busiest_window_counts_offsets_less_than_its_width_apart() {
        assert_eq!(busiest(&[], 0.1), 0);
        assert_eq!(busiest(&[0.0, 0.05, 0.099, 0.1, 0.3], 0.1), 3);
        assert_eq!(busiest(&[0.0, 1.0, 2.0], 0.1), 1);
    }

    #[test]
    fn rates_count_the_offsets_in_their_window() {
        assert!((rate(&[0.1, 0.2, 4.9, 5.0], 0.0, 5.0) - 0.6).abs() < 1e-9);
    }
}
