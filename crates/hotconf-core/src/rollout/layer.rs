//! The layer a rollout-following single-key source delivers.

use crate::error::{Error, ErrorKind, Result};
use crate::layer::{Content, Layer};
use crate::revision::Revision;
use crate::target::{KeySpace, Mode};

use super::{record_key, state_for, Chosen, Membership, RolloutRecord};

/// The layer of a single-key source that follows rollouts, for `instance_id`: from a store's
/// `entries` (full keys and values, in any order; keys other than the key and its record are
/// ignored), the candidate of the record `KEY.rollout` when this instance is a member, else the
/// key's own value (no key: an empty layer), at the store's `revision`. The layer carries the
/// [`Membership`].
///
/// ```
/// use hotconf_core::{Format, Revision};
/// use hotconf_core::provider::{Content, KeySpace};
/// use hotconf_core::rollout::rollout_layer;
/// let space = KeySpace::key("app/config.json", Format::Json);
/// let record = br#"{"id":"r1","candidate":"{\"v\":2}","percent":100}"#.to_vec();
/// let entries = [("app/config.json", b"{\"v\":1}".to_vec()), ("app/config.json.rollout", record)];
/// let layer = rollout_layer(&space, "pod-a", entries, Revision::Ordered(9)).unwrap();
/// assert!(matches!(layer.content, Content::Document { ref bytes, .. } if &bytes[..] == b"{\"v\":2}"));
/// assert!(layer.rollout.unwrap().member);
/// ```
///
/// # Errors
/// [`ErrorKind::Config`] when `space` is a prefix; a transient [`ErrorKind::Parse`] naming
/// `KEY.rollout` when the record does not parse (the last good state keeps serving: falling back
/// to the key's value would move members off the candidate without anyone ending the rollout).
pub fn rollout_layer<K: AsRef<str>>(
    space: &KeySpace,
    instance_id: &str,
    entries: impl IntoIterator<Item = (K, Vec<u8>)>,
    revision: Revision,
) -> Result<Layer> {
    let Mode::Key(format) = space.mode else {
        return Err(Error::new(
            ErrorKind::Config,
            format!(
                "rollouts follow a single key, not the prefix `{}`",
                space.path
            ),
        ));
    };
    let record_key = record_key(&space.path);
    let (mut value, mut record) = (None, None);
    for (key, bytes) in entries {
        if key.as_ref() == space.path {
            value = Some(bytes);
        } else if key.as_ref() == record_key {
            record = Some(bytes);
        }
    }
    let record = match record {
        Some(bytes) => Some(RolloutRecord::parse(&record_key, &bytes)?),
        None => None,
    };
    let chosen = state_for(instance_id, record.as_ref());
    let member = matches!(chosen, Chosen::Candidate { .. });
    let membership = Membership::new(instance_id, record.as_ref().map(|r| r.id.clone()), member);
    let content = match (chosen, record) {
        (Chosen::Candidate { .. }, Some(record)) => Content::Document {
            format: record.candidate_format(format),
            bytes: record.candidate.into_bytes().into(),
        },
        (_, _) => match value {
            Some(bytes) => Content::Document {
                format,
                bytes: bytes.into(),
            },
            None => Content::Empty,
        },
    };
    let mut layer = Layer::new(content, revision);
    layer.rollout = Some(membership);
    Ok(layer)
}
