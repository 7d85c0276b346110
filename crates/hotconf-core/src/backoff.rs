//! Jittered exponential backoff, and the duration syntax of URIs and flags.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher as _;
use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};

/// Jittered exponential backoff: delays around `initial` doubling up to `max`, each spread
/// uniformly over ±50 % of it (so the longest is 1.5 × `max`), the first over 0–2 × `initial`.
///
/// The spread is for fleets: a thousand followers cut off by one server restart all fail in the
/// same instant, and a backoff that is the same for each (or only slightly jittered) brings them
/// back in the same instant, every time. The first delay, a "full jitter" from zero, spreads the
/// first retries over two whole `initial`s; the ±50 % after it keeps them spread. Measured by
/// the `fleet_restart` bench (docs/benchmarks.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The average first delay.
    pub initial: Duration,
    /// The longest average delay.
    pub max: Duration,
}

impl Backoff {
    /// After a failure to reach a server (a restart, a cut connection): the first retry within
    /// 0–2 s, then about 2 s, 4 s, and 5 s from then on (each ±50 %). A thousand followers send
    /// at most about 600 connection attempts in any second of an outage, about 200 a second once
    /// it lasts, and each is back within 7.5 s of the server.
    pub const TRANSPORT: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(5));
    /// After an error answer (refused, rate limited, no leader): the server is up but many
    /// clients may be retrying: about 1 s doubling to 60 s.
    pub const ANSWERED: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));

    /// A backoff from `initial` up to `max`.
    pub const fn new(initial: Duration, max: Duration) -> Self {
        Backoff { initial, max }
    }

    /// The delay before attempt `attempt` (0 is the first retry).
    pub fn delay(&self, attempt: u32) -> Duration {
        if attempt == 0 {
            return self.initial.min(self.max).mul_f64(2.0 * unit_random());
        }
        let base = self
            .initial
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max);
        base.mul_f64(0.5 + unit_random())
    }
}

/// A random number in [0, 1): std's per-process random hash keys, new for every call, are
/// random enough to spread retries and need no dependency.
fn unit_random() -> f64 {
    let bits = RandomState::new().hash_one(0u8);
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// Parses `250ms`, `2s`, `1m` (a bare number is seconds).
///
/// # Errors
/// [`ErrorKind::Config`] for anything else.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let bad = || {
        Error::new(
            ErrorKind::Config,
            format!("bad duration `{text}` (e.g. 250ms, 2s, 1m)"),
        )
    };
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| bad())?;
    match unit {
        "ms" => Ok(Duration::from_millis(number)),
        "s" | "" => Ok(Duration::from_secs(number)),
        "m" => Ok(Duration::from_secs(number.saturating_mul(60))),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_jittered_and_capped() {
        let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        for _ in 0..100 {
            assert!(backoff.delay(0) < Duration::from_millis(200));
        }
        for attempt in 1..20 {
            let base = Duration::from_millis(100)
                .saturating_mul(1 << attempt.min(16))
                .min(Duration::from_secs(1));
            let delay = backoff.delay(attempt);
            assert!(
                delay >= base / 2 && delay < base * 3 / 2,
                "{attempt}: {delay:?}"
            );
        }
    }

    #[test]
    fn delays_are_spread_over_their_whole_range() {
        // 1 000 first delays of a 1 s backoff: spread over 0–2 s, none of the twenty 100 ms
        // bins empty or holding more than a fifth of them (uniform: 50 each).
        let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(5));
        let mut bins = [0u32; 20];
        for _ in 0..1000 {
            let bin = (backoff.delay(0).as_secs_f64() / 0.1) as usize;
            bins[bin.min(19)] += 1;
        }
        assert!(bins.iter().all(|&n| n > 0 && n < 200), "{bins:?}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        for bad in ["", "ms", "2h", "-1s", "1.5s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
