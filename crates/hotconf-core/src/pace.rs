//! Pacing a long poll, so that a server that answers at once (a proxy that does not hold
//! requests, a misbehaving server, values that churn) never turns it into a busy loop.
//!
//! A token bucket: `burst` polls may start back to back, then one more per `refill`. A poll
//! the server held earns its tokens back while it is held, so the normal path (a poll held
//! until its timeout, or until a change) never waits; a second change right after the first
//! is not delayed either. Only polls that keep coming back at once are paced, to one per
//! `refill`: the same shape as Apollo's Java client (a rate limiter of 2 polls a second on
//! its long poll) and Consul's blocking-query guidance (a token bucket of burst 2).
//!
//! A loop that can tell a genuine change (a new notification id, a new md5) from an answer
//! that brings nothing may give the turn of a poll that brought a change back
//! ([`Pacer::refund`]): then changes are never paced, however fast they come, and only answers
//! that bring nothing are.

use std::time::Duration;

use tokio::time::Instant;

/// How fast a long poll may go round: `burst` polls back to back, then one per `refill`.
///
/// The default, [`LongPollPace::DEFAULT`], is burst 2 and one more poll per second: a server
/// that answers every poll at once costs one request a second, and two changes in a row are
/// each delivered without delay.
///
/// ```
/// use std::time::Duration;
/// use hotconf_core::LongPollPace;
/// let pace = LongPollPace { burst: 2, refill: Duration::from_millis(500) };
/// assert_eq!(LongPollPace::default(), LongPollPace::DEFAULT);
/// # let _ = pace;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongPollPace {
    /// Polls that may start back to back (0 counts as 1).
    pub burst: u32,
    /// The time to earn one more poll once the burst is spent: the minimum interval between
    /// the starts of polls that keep coming back at once. Zero turns pacing off.
    pub refill: Duration,
}

impl LongPollPace {
    /// Burst 2, one more poll per second.
    pub const DEFAULT: LongPollPace = LongPollPace {
        burst: 2,
        refill: Duration::from_secs(1),
    };

    /// No pacing at all: every poll starts at once (for benchmarks that measure the raw loop).
    pub const OFF: LongPollPace = LongPollPace {
        burst: 1,
        refill: Duration::ZERO,
    };
}

impl Default for LongPollPace {
    /// [`LongPollPace::DEFAULT`].
    fn default() -> Self {
        LongPollPace::DEFAULT
    }
}

/// The pacing of one long-poll loop: call [`ready`](Self::ready) before starting each poll.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use hotconf_core::{LongPollPace, Pacer};
/// let mut pacer = Pacer::new(LongPollPace::DEFAULT);
/// loop {
///     pacer.ready().await;
///     // … send the long poll and handle its answer …
///     # break;
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct Pacer {
    pace: LongPollPace,
    /// Polls that may start now; below 0 when the next one must wait.
    tokens: f64,
    updated: Instant,
}

impl Pacer {
    /// A pacer with its whole burst available.
    pub fn new(pace: LongPollPace) -> Self {
        Pacer {
            pace,
            tokens: f64::from(pace.burst.max(1)),
            updated: Instant::now(),
        }
    }

    /// The pace it keeps.
    pub fn pace(&self) -> LongPollPace {
        self.pace
    }

    /// Takes the next poll's turn and returns how long to wait before starting it (zero when
    /// it may start now). The turn is taken even if the caller does not wait.
    pub fn reserve(&mut self) -> Duration {
        if self.pace.refill.is_zero() {
            return Duration::ZERO;
        }
        let now = Instant::now();
        let earned = (now - self.updated).as_secs_f64() / self.pace.refill.as_secs_f64();
        self.tokens = (self.tokens + earned).min(f64::from(self.pace.burst.max(1)));
        self.updated = now;
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            // A refill of years (`?refill=` is a user's) must not overflow into a panic.
            Duration::try_from_secs_f64(self.pace.refill.as_secs_f64() * -self.tokens)
                .unwrap_or(self.pace.refill)
        }
    }

    /// Gives back the turn of the last poll, up to the burst: for a poll that brought a
    /// genuine change (or that was abandoned before the server answered), so that only polls
    /// that bring nothing are paced.
    pub fn refund(&mut self) {
        self.tokens = (self.tokens + 1.0).min(f64::from(self.pace.burst.max(1)));
    }

    /// Waits until the next poll may start. Cancelling the wait still spends the turn.
    pub async fn ready(&mut self) {
        let delay = self.reserve();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PACE: LongPollPace = LongPollPace {
        burst: 2,
        refill: Duration::from_secs(1),
    };

    #[tokio::test(start_paused = true)]
    async fn polls_that_come_back_at_once_are_paced_after_the_burst() {
        let mut pacer = Pacer::new(PACE);
        let start = Instant::now();
        pacer.ready().await;
        pacer.ready().await;
        assert_eq!(start.elapsed(), Duration::ZERO, "the burst is free");
        for n in 1..=5 {
            pacer.ready().await;
            assert_eq!(start.elapsed(), Duration::from_secs(n), "one poll a second");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_held_poll_earns_its_turns_back() {
        let mut pacer = Pacer::new(PACE);
        // A poll held by the server for its timeout, then changes in a row.
        assert_eq!(pacer.reserve(), Duration::ZERO);
        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(pacer.reserve(), Duration::ZERO, "after a held poll");
        tokio::time::advance(Duration::from_millis(50)).await;
        assert_eq!(pacer.reserve(), Duration::ZERO, "a second change at once");
        // A third at once waits for the rest of a turn.
        tokio::time::advance(Duration::from_millis(50)).await;
        let wait = pacer.reserve();
        assert!(
            wait > Duration::from_millis(800) && wait < Duration::from_millis(901),
            "{wait:?}"
        );
        // Held for longer than a turn: no wait.
        tokio::time::advance(wait + Duration::from_secs(1)).await;
        assert_eq!(pacer.reserve(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn polls_that_bring_changes_are_given_their_turn_back() {
        let mut pacer = Pacer::new(PACE);
        for _ in 0..100 {
            assert_eq!(
                pacer.reserve(),
                Duration::ZERO,
                "a change at once, every time"
            );
            pacer.refund();
        }
        // Answers that bring nothing are paced again after the burst.
        assert_eq!(pacer.reserve(), Duration::ZERO);
        assert_eq!(pacer.reserve(), Duration::ZERO);
        assert_eq!(pacer.reserve(), Duration::from_secs(1));
        // A refund never raises the turns above the burst.
        pacer.refund();
        pacer.refund();
        pacer.refund();
        assert_eq!(pacer.reserve(), Duration::ZERO);
        assert_eq!(pacer.reserve(), Duration::ZERO);
        assert_eq!(pacer.reserve(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_of_0_is_1_and_a_zero_refill_is_no_pacing() {
        let mut one = Pacer::new(LongPollPace {
            burst: 0,
            refill: Duration::from_secs(1),
        });
        assert_eq!(one.reserve(), Duration::ZERO);
        assert_eq!(one.reserve(), Duration::from_secs(1));
        let mut off = Pacer::new(LongPollPace::OFF);
        for _ in 0..1000 {
            assert_eq!(off.reserve(), Duration::ZERO);
        }
        assert_eq!(off.pace(), LongPollPace::OFF);
    }

    #[tokio::test(start_paused = true)]
    async fn a_refill_of_centuries_does_not_panic() {
        let pace = LongPollPace {
            burst: 1,
            refill: Duration::from_secs(u64::MAX),
        };
        let mut pacer = Pacer::new(pace);
        assert_eq!(pacer.reserve(), Duration::ZERO);
        assert!(pacer.reserve() > Duration::from_secs(1 << 40));
    }
}
