//! Percentage rollouts on a single key (docs/rollout.md): the rollout record that sits beside
//! the key, the membership function, and the state a follower delivers.
//!
//! Everything here is pure and small so that another client can follow the same protocol: a
//! record `KEY.rollout` (JSON, [`RolloutRecord`]) names a rollout and a candidate document; an
//! instance belongs to the rollout when [`bucket`]`(instance id, rollout id)` is below the
//! percentage in basis points ([`is_member`]); a member's layer is the candidate, every other
//! instance's the key's own value ([`state_for`]).

mod instance;
mod layer;
mod store;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::error::{Error, ErrorKind, Result};
use crate::format::Format;

pub use instance::{instance_id, set_instance_id};
pub use layer::rollout_layer;
pub use store::{RolloutState, RolloutStore, Versioned};

/// The suffix of a rollout record's key: the record of `app/config.json` is
/// `app/config.json.rollout`.
pub const RECORD_SUFFIX: &str = ".rollout";

/// The seed of the membership hash (xxh3-64): `0x726f6c6c6f7574`, the ASCII bytes of
/// `"rollout"`. Never change it: an instance must answer the same way across versions of
/// hotconf (the test vectors in docs/rollout.md pin it).
pub const MEMBERSHIP_SEED: u64 = 0x0072_6f6c_6c6f_7574;

/// The number of buckets: membership is decided in basis points (12.5 % is 1 250 buckets).
pub const BUCKETS: u64 = 10_000;

/// The largest record read, in bytes (a record holds a whole candidate document).
pub const MAX_RECORD_BYTES: usize = 4 << 20;

/// The longest rollout id, in bytes.
pub const MAX_ID_BYTES: usize = 256;

/// The key of the rollout record beside `key`.
pub fn record_key(key: &str) -> String {
    format!("{key}{RECORD_SUFFIX}")
}

/// A rollout record: the JSON document stored at `KEY.rollout`.
///
/// Unknown fields are ignored, so that a record written by a newer controller still parses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RolloutRecord {
    /// The rollout's id: with the instance id, it decides membership.
    pub id: String,
    /// The candidate document, as text.
    pub candidate: String,
    /// The candidate's format (`json`, `yaml`, `toml`, `properties`); the key's format when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// The share of instances on the candidate, 0 to 100 (decided in basis points).
    pub percent: f64,
    /// When the rollout started (RFC 3339), for operators.
    #[serde(default)]
    pub started: String,
    /// Who writes the record (a controller's name), for operators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<String>,
    /// The key's version (etcd `mod_revision`, Consul `ModifyIndex`; 0: absent) the candidate
    /// replaces: a promotion writes the key only if it is still there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<u64>,
}

impl RolloutRecord {
    /// A record for rollout `id` of `candidate` at `percent`, with no start time, format or controller.
    pub fn new(id: impl Into<String>, candidate: impl Into<String>, percent: f64) -> Self {
        RolloutRecord {
            id: id.into(),
            candidate: candidate.into(),
            format: None,
            percent,
            started: String::new(),
            controller: None,
            base: None,
        }
    }

    /// Parses the record stored at `record_key`; errors name that key and never quote the
    /// candidate.
    ///
    /// # Errors
    /// A transient [`ErrorKind::Parse`] for a record above [`MAX_RECORD_BYTES`], one that is
    /// not JSON of this shape, an empty or over-long id, a percent outside 0–100, or an unknown
    /// format.
    pub fn parse(record_key: &str, bytes: &[u8]) -> Result<RolloutRecord> {
        let bad = |why: String| {
            Error::new(
                ErrorKind::Parse,
                format!("the rollout record `{record_key}` {why}"),
            )
            .with_transient(true)
        };
        if bytes.len() > MAX_RECORD_BYTES {
            return Err(bad(format!(
                "is {} bytes, above the limit of {MAX_RECORD_BYTES}",
                bytes.len()
            )));
        }
        let record: RolloutRecord = serde_json::from_slice(bytes).map_err(|e| {
            // serde_json's message names fields and positions, never the values.
            bad(format!(
                "is not a rollout record (line {}, column {}: {})",
                e.line(),
                e.column(),
                category(&e)
            ))
        })?;
        if record.id.is_empty() || record.id.len() > MAX_ID_BYTES {
            return Err(bad(format!(
                "has an id of {} bytes (1 to {MAX_ID_BYTES} expected)",
                record.id.len()
            )));
        }
        if !(record.percent.is_finite() && (0.0..=100.0).contains(&record.percent)) {
            return Err(bad("has a percent outside 0 to 100".to_owned()));
        }
        if let Some(format) = &record.format {
            if Format::from_extension(format).is_none() {
                return Err(bad(
                    "has an unknown format (json, toml, yaml or properties expected)".to_owned(),
                ));
            }
        }
        Ok(record)
    }

    /// The candidate's format: the record's own, else `key_format`.
    pub fn candidate_format(&self, key_format: Format) -> Format {
        self.format
            .as_deref()
            .and_then(Format::from_extension)
            .unwrap_or(key_format)
    }
}

/// What went wrong in a record's JSON, without quoting it.
fn category(error: &serde_json::Error) -> String {
    match error.classify() {
        serde_json::error::Category::Data => {
            // "missing field `id`", "invalid type: …, expected a string": the message names
            // the field and the expected type; drop what follows " at line".
            let text = error.to_string();
            let text = text.split(" at line").next().unwrap_or_default();
            if text.starts_with("invalid type") || text.starts_with("invalid value") {
                "a field has the wrong type".to_owned()
            } else {
                text.to_owned()
            }
        }
        serde_json::error::Category::Syntax => "invalid JSON".to_owned(),
        serde_json::error::Category::Eof => "the JSON ends early".to_owned(),
        serde_json::error::Category::Io => "unreadable".to_owned(),
    }
}

/// The bucket (0 to 9 999) of `instance_id` in rollout `rollout_id`:
/// `xxh3_64_with_seed(instance_id ++ "\0" ++ rollout_id, MEMBERSHIP_SEED) % 10 000`.
pub fn bucket(instance_id: &str, rollout_id: &str) -> u64 {
    let mut bytes = Vec::with_capacity(instance_id.len() + 1 + rollout_id.len());
    bytes.extend_from_slice(instance_id.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(rollout_id.as_bytes());
    xxh3_64_with_seed(&bytes, MEMBERSHIP_SEED) % BUCKETS
}

/// `percent` (0–100) in basis points, rounded; out-of-range values are clamped (NaN is 0).
pub fn basis_points(percent: f64) -> u64 {
    if percent.is_nan() || percent <= 0.0 {
        return 0;
    }
    // Clamped to 0..=10 000 first, so the cast is exact.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let points = (percent.min(100.0) * 100.0).round() as u64;
    points.min(BUCKETS)
}

/// Whether `instance_id` belongs to rollout `rollout_id` at `percent`: its [`bucket`] is below
/// the percent in [`basis_points`]. A pure function; raising the percent only adds members.
pub fn is_member(instance_id: &str, rollout_id: &str, percent: f64) -> bool {
    bucket(instance_id, rollout_id) < basis_points(percent)
}

/// Which state an instance's layer takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chosen {
    /// The key's own value (no record, or not a member).
    Key,
    /// The candidate of the rollout `rollout_id`.
    Candidate {
        /// The record's id.
        rollout_id: String,
    },
}

/// The state `instance_id` takes given the record (if any).
pub fn state_for(instance_id: &str, record: Option<&RolloutRecord>) -> Chosen {
    match record {
        Some(r) if is_member(instance_id, &r.id, r.percent) => Chosen::Candidate {
            rollout_id: r.id.clone(),
        },
        _ => Chosen::Key,
    }
}

/// What a rollout-following layer says about its instance: carried by the
/// [`Layer`](crate::provider::Layer) and shown in [`Status`](crate::Status) and metrics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Membership {
    /// The instance id that decided membership.
    pub instance_id: String,
    /// The rollout in progress (the record's id), if there is a record.
    pub rollout: Option<String>,
    /// Whether this instance is on the candidate.
    pub member: bool,
}

impl Membership {
    /// The membership of `instance_id` in `rollout` (`None`: no record).
    pub fn new(instance_id: impl Into<String>, rollout: Option<String>, member: bool) -> Self {
        Membership {
            instance_id: instance_id.into(),
            rollout,
            member,
        }
    }
}
