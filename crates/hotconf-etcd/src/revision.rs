//! Arithmetic on revisions etcd sends: checked, because a hostile or broken server can send any
//! `i64` (negative, or `i64::MAX` where `+ 1` overflows), and telling a restore from a member
//! behind.

use std::time::{Duration, Instant};

use hotconf_core::{Error, ErrorKind, Result};

/// A list behind the revision held is taken as a restore only after this many answers in a
/// row (each after a backoff and on a new connection)…
pub(crate) const RESTORE_ANSWERS: u32 = 3;
/// …spanning at least this long. A member behind the cluster catches up well within it (and a
/// list is linearizable, so a member behind cannot answer one at all without catching up).
pub(crate) const RESTORE_AFTER: Duration = Duration::from_secs(2);

/// The revision after `revision`: where a watch resumes once `revision` is seen.
///
/// # Errors
/// A transient error for a negative revision or `i64::MAX` (etcd never sends them).
pub(crate) fn after(revision: i64) -> Result<i64> {
    if revision < 0 {
        return Err(hostile(format!("etcd sent a negative revision {revision}")));
    }
    revision.checked_add(1).ok_or_else(|| {
        hostile(format!(
            "etcd sent revision {revision}, the largest there is: nothing can follow it"
        ))
    })
}

fn hostile(message: String) -> Error {
    Error::new(ErrorKind::Other, format!("etcd: {message}")).with_transient(true)
}

/// What a list answered at some revision means, given the revision of the state held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// At or above ours: take it.
    Ahead,
    /// Behind ours, not confirmed yet: refuse it, keep the last good state, list again.
    Behind,
    /// Behind ours, over and over for long enough: the store went back (a restore); take it.
    Restored,
}

/// Lists answered behind the state held, in a row.
#[derive(Debug, Default)]
pub(crate) struct Backwards {
    since: Option<Instant>,
    answers: u32,
}

impl Backwards {
    /// Judges a list answered at `revision` when the state held is at `ours`.
    pub(crate) fn observe(&mut self, now: Instant, revision: i64, ours: i64) -> Verdict {
        if revision >= ours {
            *self = Backwards::default();
            return Verdict::Ahead;
        }
        let since = *self.since.get_or_insert(now);
        self.answers = self.answers.saturating_add(1);
        if self.answers >= RESTORE_ANSWERS && now.saturating_duration_since(since) >= RESTORE_AFTER
        {
            *self = Backwards::default();
            Verdict::Restored
        } else {
            Verdict::Behind
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_is_checked() {
        assert_eq!(after(0).unwrap(), 1);
        assert_eq!(after(41).unwrap(), 42);
        assert_eq!(after(i64::MAX - 1).unwrap(), i64::MAX);
        for hostile in [i64::MAX, -1, i64::MIN] {
            let err = after(hostile).unwrap_err();
            assert!(err.is_transient(), "{err}");
            assert!(err.to_string().contains(&hostile.to_string()), "{err}");
        }
    }

    #[test]
    fn a_member_behind_is_refused_and_a_restore_is_confirmed() {
        let t0 = Instant::now();
        let mut backwards = Backwards::default();
        assert_eq!(backwards.observe(t0, 10, 10), Verdict::Ahead);
        // Behind once, twice, three times, but not for long: refused (a member behind).
        for ms in [0, 100, 300, 700] {
            let at = t0 + Duration::from_millis(ms);
            assert_eq!(backwards.observe(at, 5, 10), Verdict::Behind);
        }
        // Caught up: the count starts over.
        assert_eq!(
            backwards.observe(t0 + Duration::from_millis(800), 10, 10),
            Verdict::Ahead
        );
        assert_eq!(
            backwards.observe(t0 + Duration::from_secs(1), 5, 10),
            Verdict::Behind
        );
        // Long enough but only twice: still refused.
        assert_eq!(
            backwards.observe(t0 + Duration::from_secs(5), 5, 10),
            Verdict::Behind
        );
        // A third answer behind, two seconds after the first: a restore.
        assert_eq!(
            backwards.observe(t0 + Duration::from_secs(6), 6, 10),
            Verdict::Restored
        );
        // Hostile numbers never panic.
        assert_eq!(backwards.observe(t0, i64::MIN, i64::MAX), Verdict::Behind);
        assert_eq!(backwards.observe(t0, i64::MAX, i64::MIN), Verdict::Ahead);
    }
}
