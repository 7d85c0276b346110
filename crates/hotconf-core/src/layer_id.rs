//! `LayerId`: which layer of a reloader something concerns, told apart from every other.

use std::fmt;
use std::sync::Arc;

/// One layer of a reloader: its position (0 is the lowest), its layer name (the label of its
/// metrics and its name in the status: given with
/// [`named_layer`](crate::ReloaderBuilder::named_layer), else its scheme and position, as
/// `file-0`), and its printable name, unique among the reloader's layers.
///
/// The printable name is the source's name (its URI, credentials redacted) when no other layer
/// has that source; two layers on one URI are named `URI (layer NAME)` instead, so that every
/// output (events, errors, the revisions of a snapshot) tells them apart. Errors, events,
/// snapshots and revisions carry it; a rejection is blamed on a layer by its position, never
/// by its name.
///
/// Displayed (and serialized) as its printable name. Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LayerId(Arc<Parts>);

#[derive(Debug, PartialEq, Eq, Hash)]
struct Parts {
    position: usize,
    label: Arc<str>,
    name: Arc<str>,
    secret: bool,
    optional: bool,
}

impl LayerId {
    /// The ids of layers given as `(layer name, source name)`, in layer order; `secret(i)`
    /// says whether layer `i` is a secret layer, `optional(i)` whether it is optional.
    pub(crate) fn for_layers(
        layers: &[(String, String)],
        secret: impl Fn(usize) -> bool,
        optional: impl Fn(usize) -> bool,
    ) -> Vec<LayerId> {
        layers
            .iter()
            .enumerate()
            .map(|(position, (label, source))| {
                let shared = layers.iter().filter(|(_, s)| s == source).count() > 1;
                let name = if shared {
                    format!("{source} (layer {label})")
                } else {
                    source.clone()
                };
                LayerId(Arc::new(Parts {
                    position,
                    label: label.as_str().into(),
                    name: name.into(),
                    secret: secret(position),
                    optional: optional(position),
                }))
            })
            .collect()
    }

    /// The layer's position, 0 the lowest.
    pub fn position(&self) -> usize {
        self.0.position
    }

    /// The layer's name: the label of its metrics, its name in the status.
    pub fn label(&self) -> &str {
        &self.0.label
    }

    /// The printable name, unique among the reloader's layers.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// Whether every value of this layer is a secret (redacted in every output).
    pub fn is_secret(&self) -> bool {
        self.0.secret
    }

    /// Whether the layer is optional: a source that is absent (missing, not found, or not
    /// reachable before its first state) contributes nothing instead of keeping the reloader
    /// from starting (see [`ReloaderBuilder::optional`](crate::ReloaderBuilder::optional)).
    pub fn is_optional(&self) -> bool {
        self.0.optional
    }

    /// The layer name, shared.
    pub(crate) fn shared_label(&self) -> Arc<str> {
        self.0.label.clone()
    }

    /// The printable name, shared.
    pub(crate) fn shared_name(&self) -> Arc<str> {
        self.0.name.clone()
    }
}

impl fmt::Display for LayerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.name)
    }
}

impl serde::Serialize for LayerId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0.name)
    }
}

impl PartialEq<str> for LayerId {
    fn eq(&self, other: &str) -> bool {
        *self.0.name == *other
    }
}

impl PartialEq<String> for LayerId {
    fn eq(&self, other: &String) -> bool {
        *self.0.name == **other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layers(pairs: &[(&str, &str)]) -> Vec<LayerId> {
        let owned: Vec<(String, String)> = pairs
            .iter()
            .map(|(l, s)| (l.to_string(), s.to_string()))
            .collect();
        LayerId::for_layers(&owned, |i| i == 0, |i| i == 1)
    }

    #[test]
    fn a_source_alone_is_its_name_and_two_on_one_uri_are_told_apart() {
        let ids = layers(&[
            ("defaults", "file:/etc/app.yaml"),
            ("etcd-1", "etcd://h:2379/app/"),
            ("overrides", "file:/etc/app.yaml"),
        ]);
        let names: Vec<&str> = ids.iter().map(LayerId::name).collect();
        assert_eq!(
            names,
            [
                "file:/etc/app.yaml (layer defaults)",
                "etcd://h:2379/app/",
                "file:/etc/app.yaml (layer overrides)"
            ]
        );
        assert_eq!(ids[2].position(), 2);
        assert_eq!(ids[2].label(), "overrides");
        assert!(ids[0].is_secret() && !ids[2].is_secret());
        assert!(ids[1].is_optional() && !ids[0].is_optional());
        assert_eq!(ids[1], *"etcd://h:2379/app/");
        assert_eq!(
            serde_json::to_string(&ids[0]).unwrap(),
            "\"file:/etc/app.yaml (layer defaults)\""
        );
    }
}
