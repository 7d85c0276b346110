//! Events the reloader emits: what was applied, rejected, or failed.

use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::Serialize;

use crate::changes::Changes;
use crate::error::Error;
use crate::store::Origin;
use tokio::sync::broadcast;

/// Something that happened to the config. Serialized as one JSON object with an `event` tag
/// (`applied`, `rejected`, `source_error`, `absent`, `held`, `restart_required`, `waiting`),
/// as the `hotconf` CLI prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// A new version was swapped in.
    Applied {
        /// The new version.
        version: u64,
        /// `(source, revision)` of every layer, in layer order (a JSON object when serialized).
        #[serde(serialize_with = "as_map")]
        revisions: Vec<(String, String)>,
        /// Why it was applied: the sources changed, a rollback, a revert after a failed
        /// post-apply check, or the last-good file at startup.
        reason: Origin,
        /// The key paths that changed from the previous version (paths only, never values).
        changed: Changes,
    },
    /// A candidate config was refused; the last good one keeps serving (guarantee G2).
    Rejected {
        /// The source the fault comes from, when known.
        source: Option<String>,
        /// The key path at fault, when known.
        key: Option<String>,
        /// The error kind (`parse`, `type`, `validation`, …).
        kind: &'static str,
        /// Why, on one line.
        error: String,
    },
    /// A source failed to deliver a state; its last good layer is kept.
    SourceError {
        /// The source.
        source: String,
        /// Why, on one line.
        error: String,
        /// Whether the provider keeps trying.
        transient: bool,
    },
    /// An optional layer's source is absent (a missing file, a key not found, a server not
    /// reachable before the layer's first state): the config is built without it, and the
    /// layer joins as an ordinary change when its source appears.
    Absent {
        /// The source.
        source: String,
        /// Why it is absent, on one line.
        error: String,
    },
    /// No config is applied yet, and the start waits: every layer with no first state, and
    /// why. Emitted about a second after the start began, then whenever what it waits for
    /// changes, until the first config is applied or the start fails.
    Waiting {
        /// The layers with no first state yet, in layer order.
        sources: Vec<Awaited>,
        /// Why the last config built was rejected, if it was.
        rejection: Option<String>,
    },
    /// Sources changed while a rollback pins the config; nothing is applied until unpin.
    Held {
        /// The pinned version that keeps serving.
        version: u64,
    },
    /// Restart-required keys changed in the sources; the running values were kept.
    RestartRequired {
        /// The version that was applied while holding these keys.
        version: u64,
        /// The keys whose new values need a restart.
        keys: Vec<String>,
    },
}

/// A layer the start waits for (see [`Event::Waiting`]). Displayed as
/// `LAYER (SOURCE): ERROR`, or `LAYER (SOURCE): no answer yet`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Awaited {
    /// The layer's name (`file-1`, or the name given with
    /// [`named_layer`](crate::ReloaderBuilder::named_layer)).
    pub layer: String,
    /// The source (its URI, credentials redacted).
    pub source: String,
    /// Its last error (a source error, or a state that does not parse), on one line; `None`
    /// when it has not answered yet.
    pub error: Option<String>,
}

impl fmt::Display for Awaited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = self.error.as_deref().unwrap_or("no answer yet");
        write!(f, "{} ({}): {why}", self.layer, self.source)
    }
}

impl Event {
    /// The `applied` event of a snapshot.
    pub fn applied<T>(snapshot: &crate::Snapshot<T>) -> Event {
        Event::Applied {
            version: snapshot.version(),
            revisions: snapshot
                .revisions()
                .iter()
                .map(|(layer, r)| (layer.to_string(), r.to_string()))
                .collect(),
            reason: snapshot.origin().clone(),
            changed: snapshot.changes().clone(),
        }
    }

    pub(crate) fn rejected(err: &Error) -> Event {
        Event::Rejected {
            source: err.source_name().map(str::to_owned),
            key: err.key().map(str::to_owned),
            kind: err.kind().as_str(),
            error: err.to_string(),
        }
    }

    pub(crate) fn absent(source: &str, err: &Error) -> Event {
        Event::Absent {
            source: source.to_owned(),
            error: err.to_string(),
        }
    }

    pub(crate) fn source_error(source: &str, err: &Error) -> Event {
        Event::SourceError {
            source: source.to_owned(),
            error: err.to_string(),
            transient: err.is_transient(),
        }
    }
}

fn as_map<S: serde::Serializer>(
    pairs: &[(String, String)],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(pairs.iter().map(|(k, v)| (k, v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialize_as_the_cli_prints_them() {
        let applied = Event::Applied {
            version: 3,
            revisions: vec![("b".into(), "7".into()), ("a".into(), "x1".into())],
            reason: Origin::Sources,
            changed: Changes {
                changed: vec!["db.port".into()],
                ..Changes::default()
            },
        };
        assert_eq!(
            serde_json::to_string(&applied).unwrap(),
            r#"{"event":"applied","version":3,"revisions":{"b":"7","a":"x1"},"reason":{"kind":"sources"},"changed":{"added":[],"removed":[],"changed":["db.port"],"omitted":0}}"#
        );
        let error =
            Error::new(crate::ErrorKind::Unavailable, "down").with_source_name("etcd://h:1/app");
        assert_eq!(
            serde_json::to_string(&Event::source_error("etcd://h:1/app", &error)).unwrap(),
            r#"{"event":"source_error","source":"etcd://h:1/app","error":"unavailable error in etcd://h:1/app: down","transient":true}"#
        );
        let waiting = Event::Waiting {
            sources: vec![
                Awaited {
                    layer: "file-1".into(),
                    source: "file:local.toml".into(),
                    error: Some("not_found error in file:local.toml: gone".into()),
                },
                Awaited {
                    layer: "consul-2".into(),
                    source: "consul://h:1/app".into(),
                    error: None,
                },
            ],
            rejection: None,
        };
        assert_eq!(
            serde_json::to_string(&waiting).unwrap(),
            r#"{"event":"waiting","sources":[{"layer":"file-1","source":"file:local.toml","error":"not_found error in file:local.toml: gone"},{"layer":"consul-2","source":"consul://h:1/app","error":null}],"rejection":null}"#
        );
        let Event::Waiting { sources, .. } = &waiting else {
            unreachable!()
        };
        assert_eq!(
            sources[1].to_string(),
            "consul-2 (consul://h:1/app): no answer yet"
        );
    }
}

/// Events a subscriber may fall behind by before it loses the oldest.
const EVENTS_KEPT: usize = 1024;

/// A reloader's event channel, made by the first subscription: its [`EVENTS_KEPT`] slots (about
/// 160 KiB) are paid only by a reloader somebody listens to, not by each of a thousand
/// followers in one process. Events sent before a subscription are never seen by it anyway.
#[derive(Clone, Default)]
pub(crate) struct EventChannel(Arc<OnceLock<broadcast::Sender<Event>>>);

impl EventChannel {
    /// Subscribes to the events sent from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.0
            .get_or_init(|| broadcast::channel(EVENTS_KEPT).0)
            .subscribe()
    }

    /// The channel, if anybody is subscribed now (else an event need not even be made).
    pub(crate) fn listened(&self) -> Option<&broadcast::Sender<Event>> {
        self.0.get().filter(|sender| sender.receiver_count() > 0)
    }
}
