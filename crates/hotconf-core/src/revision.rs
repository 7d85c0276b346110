//! Revisions: how a provider says which state of its source a layer is.

use std::cmp::Ordering;
use std::fmt;

/// The revision of one source's state.
///
/// Ordered where the backend orders (an etcd revision, a Consul index, a sequence number), an opaque
/// tag otherwise (a content hash, a Nacos md5). The reloader never applies an ordered revision older
/// than one it already saw from the same source (guarantee G3); tags are compared for equality only.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Revision {
    /// A revision from a totally ordered sequence: larger is newer.
    Ordered(u64),
    /// An opaque tag such as a content hash: equal tags mean equal states.
    Tag(String),
}

impl Revision {
    /// A tag made from the xxh3 hash of `bytes`, as 16 hex digits.
    pub fn of_content(bytes: &[u8]) -> Self {
        Revision::Tag(format!("{:016x}", xxhash_rust::xxh3::xxh3_64(bytes)))
    }

    /// Compares two revisions of the same source when both are ordered; `None` otherwise.
    pub fn order(&self, other: &Revision) -> Option<Ordering> {
        match (self, other) {
            (Revision::Ordered(a), Revision::Ordered(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }

    /// True when `self` is known to be older than `other`.
    pub fn is_older_than(&self, other: &Revision) -> bool {
        self.order(other) == Some(Ordering::Less)
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Revision::Ordered(n) => write!(f, "{n}"),
            Revision::Tag(t) => f.write_str(t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_revisions_compare_and_tags_do_not() {
        assert!(Revision::Ordered(3).is_older_than(&Revision::Ordered(4)));
        assert!(!Revision::Ordered(4).is_older_than(&Revision::Ordered(4)));
        let tag = Revision::of_content(b"a");
        assert_eq!(tag, Revision::of_content(b"a"));
        assert_ne!(tag, Revision::of_content(b"b"));
        assert_eq!(tag.order(&Revision::Ordered(1)), None);
        assert_eq!(Revision::Ordered(7).to_string(), "7");
    }
}
