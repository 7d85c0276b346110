//! `Explanation`: where a key's value comes from, layer by layer.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::path;
use crate::redaction::{Redaction, REDACTED};
use crate::tree::Tree;

/// One layer a snapshot was built from: its name, its source and its state's tree (`None`: an
/// empty layer).
#[derive(Clone)]
pub(crate) struct LayerView {
    pub(crate) layer: Arc<str>,
    pub(crate) source: Arc<str>,
    pub(crate) tree: Option<Arc<Tree>>,
    /// Every value it supplies is redacted.
    pub(crate) secret: bool,
}

/// Where the value of a key comes from, from [`Snapshot::explain`](crate::Snapshot::explain)
/// or [`Reloader::explain`](crate::ReloaderHandle::explain). Values appear only where the
/// redaction policy allows.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Explanation {
    /// The key, as asked (`db.servers[0].host`).
    pub key: String,
    /// Whether the config holds the key.
    pub found: bool,
    /// The layer whose value is in force: the highest layer holding the key. For a map, lower
    /// layers may add keys under it (see [`layers`](Self::layers)).
    pub layer: Option<String>,
    /// The value in force, unless redacted (`None` when redacted or not found).
    pub value: Option<Value>,
    /// Whether the value is covered by the redaction policy.
    pub redacted: bool,
    /// Lower layers that also hold the key, overridden by [`layer`](Self::layer), highest first.
    pub overridden: Vec<String>,
    /// Every layer, lowest first, with whether it holds the key and its value there.
    pub layers: Vec<LayerValue>,
    /// The layer that set the key in the previous version when another layer sets it now: the
    /// key was deleted there and fell back to [`layer`](Self::layer) (from
    /// [`Reloader::explain`](crate::ReloaderHandle::explain), which knows the previous version).
    pub fell_back_from: Option<String>,
    /// Anything else worth knowing (a restart-required key kept at its running value, a
    /// config read from the last-good file).
    pub note: Option<String>,
}

/// One layer's part in an [`Explanation`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct LayerValue {
    /// The layer's name.
    pub layer: String,
    /// Its source (credentials redacted).
    pub source: String,
    /// Whether this layer holds the key.
    pub holds: bool,
    /// Its value for the key, unless redacted.
    pub value: Option<Value>,
}

/// Explains `key` in a config merged from `layers` into `merged`.
pub(crate) fn explain(
    key: &str,
    layers: &[LayerView],
    merged: &Value,
    redaction: &Redaction,
    pending_restart: &[String],
) -> Explanation {
    let at = path::parse(key);
    let found = path::lookup(merged, &at);
    let shown = |root: &Value| visible(redaction, root, &at);
    let value = shown(merged);
    let redacted = redaction.covers(&at) || (found.is_some() && value.is_none());
    let layer_values: Vec<LayerValue> = layers
        .iter()
        .map(|l| {
            let tree = l.tree.as_ref().and_then(|t| t.value().ok());
            LayerValue {
                layer: l.layer.to_string(),
                source: l.source.to_string(),
                holds: tree.is_some_and(|v| path::lookup(v, &at).is_some()),
                value: tree.and_then(|v| shown(v)),
            }
        })
        .collect();
    let mut holding = layer_values.iter().rev().filter(|l| l.holds);
    let layer = holding.next().map(|l| l.layer.clone());
    let overridden = holding.map(|l| l.layer.clone()).collect();
    let note = if pending_restart.iter().any(|k| k == key) {
        Some("a restart-required key: the running value is kept until a restart".to_owned())
    } else if layers.is_empty() {
        Some("read from the last-good file: the layers it came from are not known".to_owned())
    } else {
        None
    };
    Explanation {
        key: path::render(&at),
        found: found.is_some(),
        layer,
        value,
        redacted,
        overridden,
        layers: layer_values,
        fell_back_from: None,
        note,
    }
}

/// The value at `at` in `root` as it may be shown: `None` when absent or redacted whole.
fn visible(redaction: &Redaction, root: &Value, at: &[path::PathSegment]) -> Option<Value> {
    let raw = path::lookup(root, at)?;
    let shown = redaction.show(root, at)?;
    let hidden = shown.as_str() == Some(REDACTED) && raw.as_str() != Some(REDACTED);
    (!hidden).then_some(shown)
}
