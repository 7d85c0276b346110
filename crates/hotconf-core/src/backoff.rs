//! Jittered exponential backoff, and the duration syntax of URIs and flags.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{Error, ErrorKind, Result};

/// Jittered exponential backoff: `initial` doubling up to `max`, each delay scaled by a random
/// factor in 0.5–1.0 so that many clients do not retry in step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay.
    pub initial: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl Backoff {
    /// After a failure to reach a server (a restart, a cut connection): 100 ms doubling to
    /// 10 s, so the source is back soon after the server.
    pub const TRANSPORT: Backoff =
        Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
    /// After an error answer (refused, rate limited, no leader): the server is up but many
    /// clients may be retrying: 1 s doubling to 60 s.
    pub const ANSWERED: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));

    /// A backoff from `initial` up to `max`.
    pub const fn new(initial: Duration, max: Duration) -> Self {
        Backoff { initial, max }
    }

    /// The delay before attempt `attempt` (0 is the first retry).
    pub fn delay(&self, attempt: u32) -> Duration {
        let base = self
            .initial
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        base.mul_f64(0.5 + f64::from(nanos % 1000) / 2000.0)
    }
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
        for attempt in 0..20 {
            let base = Duration::from_millis(100)
                .saturating_mul(1 << attempt.min(16))
                .min(Duration::from_secs(1));
            let delay = backoff.delay(attempt);
            assert!(delay >= base / 2 && delay <= base, "{attempt}: {delay:?}");
        }
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
