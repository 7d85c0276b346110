//! The JSON bodies of the admin routes, as types.
//!
//! | Route | Body |
//! |---|---|
//! | `GET /config/version` | hotconf-core's `Status` |
//! | `GET /config` | [`ConfigBody`] |
//! | `GET /config/history` | [`HistoryBody`] of [`HistoryEntry`] |
//! | `GET /config/diff` | [`DiffBody`] of [`DiffEntry`] |
//! | `GET /config/explain` | hotconf-core's `Explanation` |
//! | `POST /config/rollback/{version}` | [`RollbackBody`] |
//! | `POST /config/unpin` | [`UnpinBody`] |
//! | `POST /config/check` | [`CheckBody`] |
//! | `GET /config/schema` | the JSON Schema the application gave, as given |
//! | `GET /healthz` | [`HealthBody`] |
//! | `GET /readyz` | [`Readiness`](crate::Readiness); a reloader's detail is [`ReadyDetail`] |
//! | any 4xx or 5xx | [`ErrorBody`] |
//!
//! The page, scripts and dashboards read these bodies, so they are a contract kept byte for
//! byte (`tests/golden/admin.txt`): names, `null` versus absent, number formats. A [`View`]
//! answers as a `serde_json::Value` (the router does not know the config type, and a fake or a
//! proxy answers too), and a `Value`'s objects hold their keys sorted (serde_json without its
//! `preserve_order` feature, as hotconf builds it), so every body reaches the wire with its keys
//! in alphabetical order, nested ones included. Fields are declared in that order, so each type
//! reads as its answer does.
//!
//! [`View`]: crate::View

use hotconf_core::{Changes, Error, Origin};
use serde::Serialize;
use serde_json::Value;

/// `GET /healthz`: `{"status":"alive"}`, whatever the state of the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HealthBody {
    /// Always `alive`: the process answers.
    pub status: &'static str,
}

impl HealthBody {
    /// The only answer.
    pub const ALIVE: HealthBody = HealthBody { status: "alive" };
}

/// Every 4xx and 5xx answer: `{"error":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorBody {
    /// What went wrong, on one line (it never quotes a config value).
    pub error: String,
}

/// `GET /config`: the applied config, redacted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigBody {
    /// The merged config, with every value the redaction policy covers replaced.
    pub config: Value,
    /// Its version.
    pub version: u64,
}

/// `GET /config/history`: the kept versions, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryBody<'a> {
    /// Whether a rollback pins the config.
    pub pinned: bool,
    /// The kept versions, oldest first.
    pub versions: Vec<HistoryEntry<'a>>,
}

/// One kept version in a [`HistoryBody`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEntry<'a> {
    /// When it was swapped in (RFC 3339, milliseconds).
    pub applied_at: String,
    /// The key paths that changed from the version before it (paths only, never values).
    pub changes: &'a Changes,
    /// Its content hash, 16 hex digits.
    pub content_hash: String,
    /// How it came to be (`{"kind":"sources"}`, `{"kind":"rollback","of":N}`, …).
    pub origin: &'a Origin,
    /// The version.
    pub version: u64,
}

/// `GET /config/diff?from=N&to=M`: the keys that differ between two kept versions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiffBody<'a> {
    /// Keys only `to` has, with their value there.
    pub added: Vec<DiffEntry<'a>>,
    /// Keys both have with different values, with both values.
    pub changed: Vec<DiffEntry<'a>>,
    /// The version compared from.
    pub from: u64,
    /// Differences not listed (past hotconf-core's `Changes::MAX_LISTED`).
    pub omitted: u64,
    /// Keys only `from` has, with their value there.
    pub removed: Vec<DiffEntry<'a>>,
    /// The version compared to.
    pub to: u64,
}

/// One key in a [`DiffBody`]: its values, or `"redacted":true` and no value at all.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiffEntry<'a> {
    /// Its value in `to` (absent for a removed key; `null` when only a part of it may show).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
    /// Its value in `from` (absent for an added key; `null` when only a part of it may show).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// The key path.
    pub key: &'a str,
    /// The redaction policy covers the key: no value is sent. Absent when `false`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub redacted: bool,
}

impl<'a> DiffEntry<'a> {
    /// A key whose values may show (`None`: the side where it is absent).
    pub fn shown(key: &'a str, before: Option<Value>, after: Option<Value>) -> Self {
        Self {
            after,
            before,
            key,
            redacted: false,
        }
    }

    /// A key the redaction policy covers: `{"key":…,"redacted":true}`.
    pub fn redacted(key: &'a str) -> Self {
        Self {
            after: None,
            before: None,
            key,
            redacted: true,
        }
    }
}

/// `POST /config/rollback/{version}`: the version that now serves, pinned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RollbackBody {
    /// The version whose content was restored.
    pub of: u64,
    /// Always `true`: source changes wait for an unpin.
    pub pinned: bool,
    /// The new version holding that content.
    pub version: u64,
}

impl RollbackBody {
    /// `version` serves the content of `of`, pinned.
    pub fn new(version: u64, of: u64) -> Self {
        Self {
            of,
            pinned: true,
            version,
        }
    }
}

/// `POST /config/unpin`: the version that serves once the sources are followed again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct UnpinBody {
    /// Always `false`.
    pub pinned: bool,
    /// The version serving now.
    pub version: u64,
}

impl UnpinBody {
    /// `version` serves, following the sources.
    pub fn new(version: u64) -> Self {
        Self {
            pinned: false,
            version,
        }
    }
}

/// `POST /config/check`: whether the service would accept the document as the next state of
/// the layer, with `200` either way.
///
/// Accepted: `{"accepted":true,"changes":{…},"layer":…,"restart_required":[…]}`. Rejected:
/// `{"accepted":false,"error":…,"key":…,"kind":…,"layer":…,"source":…}`, `key` and `source`
/// absent when unknown. No value of the document or of the config appears: the changes are
/// key paths, the error names no value (guarantee G12).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckBody<'a> {
    /// Whether the service would apply the document.
    pub accepted: bool,
    /// Accepted: the key paths that would differ from the config serving now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<&'a Changes>,
    /// Rejected: why, on one line, as a reload would report it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Rejected: the key at fault, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<&'a str>,
    /// Rejected: the kind of failure (`parse`, `type`, `validation`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    /// The layer checked, as the request named it.
    pub layer: &'a str,
    /// Accepted: restart-required keys the document changes, which keep their running value
    /// until a restart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_required: Option<&'a [String]>,
    /// Rejected: the source blamed (the printable name of its layer), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<&'a str>,
}

impl<'a> CheckBody<'a> {
    /// The service would accept the document as `layer`, changing `changes`.
    pub fn accepted(layer: &'a str, changes: &'a Changes, restart_required: &'a [String]) -> Self {
        Self {
            accepted: true,
            changes: Some(changes),
            error: None,
            key: None,
            kind: None,
            layer,
            restart_required: Some(restart_required),
            source: None,
        }
    }

    /// The service would reject the document as `layer`, for `error`.
    pub fn rejected(layer: &'a str, error: &'a Error) -> Self {
        Self {
            accepted: false,
            changes: None,
            error: Some(error.to_string()),
            key: error.key(),
            kind: Some(error.kind().as_str()),
            layer,
            restart_required: None,
            source: error.source_name(),
        }
    }
}

/// The detail of a reloader's [`Readiness`](crate::Readiness): it joins `ready` in the body of
/// `GET /readyz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReadyDetail<'a> {
    /// How the applied version came to be.
    pub origin: &'a Origin,
    /// The applied version (0: none yet).
    pub version: u64,
    /// Set while the config comes from the last-good file rather than the sources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<&'static str>,
}

/// A body as the [`View`](crate::View) answers it. The types here hold only strings, numbers,
/// sequences and string-keyed maps, which always convert; `null` stands for the impossible
/// failure rather than a panic in a request.
pub(crate) fn to_json(body: impl Serialize) -> Value {
    serde_json::to_value(body).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    //! Each body as sent, byte for byte; the routes over a real reloader are in
    //! `tests/golden/admin.txt`.
    use super::*;
    use serde_json::json;

    fn sent(body: impl Serialize) -> String {
        to_json(body).to_string()
    }

    #[test]
    fn bodies_are_sent_byte_for_byte() {
        assert_eq!(sent(HealthBody::ALIVE), r#"{"status":"alive"}"#);
        assert_eq!(
            sent(ErrorBody {
                error: "version 9 is not kept".into()
            }),
            r#"{"error":"version 9 is not kept"}"#
        );
        assert_eq!(
            sent(ConfigBody {
                config: json!({"db": {"port": 1, "host": "h"}}),
                version: 2
            }),
            r#"{"config":{"db":{"host":"h","port":1}},"version":2}"#
        );
        assert_eq!(
            sent(RollbackBody::new(3, 1)),
            r#"{"of":1,"pinned":true,"version":3}"#
        );
        assert_eq!(sent(UnpinBody::new(4)), r#"{"pinned":false,"version":4}"#);
    }

    #[test]
    fn a_check_is_accepted_with_its_changes_or_rejected_with_its_error() {
        let changes = Changes::default();
        assert_eq!(
            sent(CheckBody::accepted("overrides", &changes, &["port".into()])),
            r#"{"accepted":true,"changes":{"added":[],"changed":[],"omitted":0,"removed":[]},"layer":"overrides","restart_required":["port"]}"#
        );
        let error = Error::validation("port 1 is reserved")
            .with_key("port")
            .with_source_name("memory:overrides");
        assert_eq!(
            sent(CheckBody::rejected("overrides", &error)),
            r#"{"accepted":false,"error":"validation error in memory:overrides at key `port`: port 1 is reserved","key":"port","kind":"validation","layer":"overrides","source":"memory:overrides"}"#
        );
        let error = Error::new(hotconf_core::ErrorKind::Parse, "invalid YAML");
        assert_eq!(
            sent(CheckBody::rejected("app", &error)),
            r#"{"accepted":false,"error":"parse error: invalid YAML","kind":"parse","layer":"app"}"#
        );
    }

    #[test]
    fn a_readiness_detail_warns_only_from_disk() {
        let sources = ReadyDetail {
            origin: &Origin::Sources,
            version: 2,
            warning: None,
        };
        assert_eq!(
            sent(sources),
            r#"{"origin":{"kind":"sources"},"version":2}"#
        );
        let disk = ReadyDetail {
            origin: &Origin::Disk,
            version: 1,
            warning: Some("from disk"),
        };
        assert_eq!(
            sent(disk),
            r#"{"origin":{"kind":"disk"},"version":1,"warning":"from disk"}"#
        );
    }

    #[test]
    fn history_entries_nest_cores_types_with_sorted_keys() {
        let changes = Changes::default();
        let origin = Origin::Rollback { of: 1 };
        let body = HistoryBody {
            pinned: true,
            versions: vec![HistoryEntry {
                applied_at: "2026-01-01T00:00:00.000Z".into(),
                changes: &changes,
                content_hash: "00000000000000ff".into(),
                origin: &origin,
                version: 3,
            }],
        };
        assert_eq!(
            sent(body),
            r#"{"pinned":true,"versions":[{"applied_at":"2026-01-01T00:00:00.000Z","changes":{"added":[],"changed":[],"omitted":0,"removed":[]},"content_hash":"00000000000000ff","origin":{"kind":"rollback","of":1},"version":3}]}"#
        );
    }

    #[test]
    fn diff_entries_show_values_null_or_nothing() {
        let body = DiffBody {
            added: vec![DiffEntry::shown("new", None, Some(json!([1])))],
            changed: vec![
                DiffEntry::shown("db.host", Some(json!("h")), Some(json!("h2"))),
                DiffEntry::shown("db.auth", Some(Value::Null), Some(Value::Null)),
                DiffEntry::redacted("db.password"),
            ],
            from: 1,
            omitted: 0,
            removed: vec![DiffEntry::shown("gone", Some(json!(true)), None)],
            to: 2,
        };
        assert_eq!(
            sent(body),
            r#"{"added":[{"after":[1],"key":"new"}],"changed":[{"after":"h2","before":"h","key":"db.host"},{"after":null,"before":null,"key":"db.auth"},{"key":"db.password","redacted":true}],"from":1,"omitted":0,"removed":[{"before":true,"key":"gone"}],"to":2}"#
        );
    }
}
