//! Arithmetic on revisions etcd sends: checked, because a hostile or broken server can send any
//! `i64` (negative, or `i64::MAX` where `+ 1` overflows); and the layer revision, which never
//! goes back.

use hotconf_core::{Error, ErrorKind, Result};

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

/// The revision of the layer for a state at etcd revision `etcd`, when `yielded` is the last one
/// given to the reloader: the etcd revision, unless it is not above `yielded` (after a restore),
/// then the one after `yielded` (as hotconf-consul does after an index reset). Never overflows.
pub(crate) fn layer_revision(etcd: i64, yielded: u64) -> u64 {
    let etcd = u64::try_from(etcd).unwrap_or(0);
    if etcd > yielded {
        etcd
    } else {
        yielded.saturating_add(1)
    }
}

fn hostile(message: String) -> Error {
    Error::new(ErrorKind::Other, format!("etcd: {message}")).with_transient(true)
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
    fn layer_revisions_never_go_back_and_never_overflow() {
        // Normally the etcd revision itself.
        assert_eq!(layer_revision(7, 0), 7);
        assert_eq!(layer_revision(8, 7), 8);
        assert_eq!(layer_revision(i64::MAX, 0), i64::MAX as u64);
        // After a restore (etcd went back): go on from the last revision yielded.
        assert_eq!(layer_revision(3, 10), 11);
        assert_eq!(layer_revision(10, 10), 11);
        // Hostile: negative, or the last yielded at the very top.
        assert_eq!(layer_revision(-5, 0), 1);
        assert_eq!(layer_revision(i64::MIN, 4), 5);
        assert_eq!(layer_revision(5, u64::MAX), u64::MAX);
    }
}
