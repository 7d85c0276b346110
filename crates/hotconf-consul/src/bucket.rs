//! A token bucket: the watch loop's rate limit (Consul's blocking-query guidance: "rate limit,
//! do not sleep", burst 2).

use tokio::time::Instant;

use crate::config::RateLimit;

/// Holds up to `burst` tokens, earning one every `refill`; each request takes one.
pub(crate) struct TokenBucket {
    limit: RateLimit,
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub(crate) fn new(limit: RateLimit) -> Self {
        TokenBucket {
            limit,
            tokens: f64::from(limit.burst.max(1)),
            updated: Instant::now(),
        }
    }

    fn refill(&mut self) {
        let now = Instant::now();
        let earned = if self.limit.refill.is_zero() {
            f64::INFINITY
        } else {
            (now - self.updated).as_secs_f64() / self.limit.refill.as_secs_f64()
        };
        self.tokens = (self.tokens + earned).min(f64::from(self.limit.burst.max(1)));
        self.updated = now;
    }

    /// Takes a token, waiting until one is earned when the bucket is empty.
    pub(crate) async fn take(&mut self) {
        self.refill();
        if self.tokens < 1.0 {
            let missing = 1.0 - self.tokens;
            tokio::time::sleep(self.limit.refill.mul_f64(missing)).await;
            self.refill();
        }
        self.tokens = (self.tokens - 1.0).max(0.0);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn bursts_then_paces() {
        let mut bucket = TokenBucket::new(RateLimit {
            burst: 2,
            refill: Duration::from_secs(15),
        });
        let start = Instant::now();
        bucket.take().await;
        bucket.take().await;
        assert_eq!(start.elapsed(), Duration::ZERO, "the burst is free");
        bucket.take().await;
        assert!(start.elapsed() >= Duration::from_secs(15));
        bucket.take().await;
        assert!(start.elapsed() >= Duration::from_secs(30));
    }
}
