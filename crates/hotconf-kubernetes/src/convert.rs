//! A ConfigMap's or a Secret's data as a layer: the same content that
//! `FileProvider::directory(mount)` builds from the kubelet's mount of the object (one file per
//! data key), or one key as a whole document.
//!
//! The mount rules kept here (crates/hotconf-file/src/{dir,read}.rs): keys starting with `.` are
//! not keys (the mount hides them as it hides `..data`); keys are sorted; each value has one
//! trailing newline (`\n` or `\r\n`) removed; a value that is not UTF-8 is an error naming its
//! key; keys nest on `.`; values are typed as JSON scalars unless the source is untyped.

use k8s_openapi::api::core::v1::{ConfigMap, Secret};

use hotconf_core::provider::{Content, Layer};
use hotconf_core::{Error, ErrorKind, Limits, Result, Revision};

use crate::source::KubernetesSource;

/// An object whose `data` is followed: a ConfigMap or a Secret.
pub(crate) trait DataObject {
    /// The `data` entries as bytes, sorted by key (`binaryData` is not among them).
    fn data(&self) -> Vec<(&str, &[u8])>;
}

impl DataObject for ConfigMap {
    fn data(&self) -> Vec<(&str, &[u8])> {
        self.data
            .iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v.as_bytes()))
            .collect()
    }
}

impl DataObject for Secret {
    /// kube decodes the base64 of `data` into `ByteString`s (`stringData` is write-only: the
    /// API server merges it into `data` and never returns it).
    fn data(&self) -> Vec<(&str, &[u8])> {
        self.data
            .iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v.0.as_slice()))
            .collect()
    }
}

/// The layer for `object` (or for no object: an empty layer, lower layers show through), at the
/// resourceVersion `rv` as an opaque tag.
///
/// # Errors
/// A transient [`ErrorKind::Parse`] error naming the key for a value that is not UTF-8 (in the
/// key-per-file form; a `key`'s document is checked by the parser) or past the limits: the
/// reloader keeps the last good config, and the next change of the object is read again.
pub(crate) fn layer<K: DataObject>(
    source: &KubernetesSource,
    object: Option<&K>,
    rv: &str,
    limits: &Limits,
) -> Result<Layer> {
    let revision = Revision::Tag(rv.to_owned());
    let Some(object) = object else {
        return Ok(Layer::empty(revision));
    };
    let data = object.data();
    if let Some(format) = source.document_format()? {
        let key = source.key.as_deref().unwrap_or_default();
        let Some((_, bytes)) = data.iter().find(|(k, _)| *k == key) else {
            return Ok(Layer::empty(revision));
        };
        if bytes.len() > limits.max_bytes {
            return Err(bad(
                source,
                key,
                format!(
                    "is {} bytes, above max_bytes = {}",
                    bytes.len(),
                    limits.max_bytes
                ),
            ));
        }
        return Ok(Layer::new(
            Content::Document {
                format,
                bytes: bytes.to_vec().into(),
            },
            revision,
        ));
    }
    let visible: Vec<(&str, &[u8])> = data
        .into_iter()
        .filter(|(k, _)| !k.starts_with('.'))
        .collect();
    if let Err(breach) = limits.check_entries(visible.iter().map(|(k, v)| (*k, v.len()))) {
        let key = breach.key.clone().unwrap_or_default();
        return Err(Error::new(
            ErrorKind::Parse,
            format!("k8s: {} {breach}", source.describe()),
        )
        .with_key(key)
        .with_transient(true));
    }
    let mut entries = Vec::with_capacity(visible.len());
    for (key, bytes) in visible {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            bad(
                source,
                key,
                format!("is not valid UTF-8 (at byte {})", e.valid_up_to()),
            )
        })?;
        entries.push((key.to_owned(), text.to_owned()));
    }
    Ok(Layer::new(
        Content::mounted_keys(entries, source.typed),
        revision,
    ))
}

/// An error about the value of `key`, which it never quotes.
fn bad(source: &KubernetesSource, key: &str, why: String) -> Error {
    Error::new(
        ErrorKind::Parse,
        format!(
            "k8s: the value of data key `{key}` of {} {why}",
            source.describe()
        ),
    )
    .with_key(key.to_owned())
    .with_transient(true)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use k8s_openapi::ByteString;

    use super::*;
    use hotconf_core::Format;

    pub(crate) fn config_map(data: &[(&str, &str)]) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some("app".into()),
                namespace: Some("prod".into()),
                resource_version: Some("17".into()),
                ..ObjectMeta::default()
            },
            data: Some(
                data.iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            ..ConfigMap::default()
        }
    }

    fn secret(data: &[(&str, &[u8])]) -> Secret {
        Secret {
            data: Some(
                data.iter()
                    .map(|(k, v)| ((*k).to_owned(), ByteString(v.to_vec())))
                    .collect(),
            ),
            ..Secret::default()
        }
    }

    fn keys(layer: &Layer) -> (Vec<(String, String)>, bool) {
        match &layer.content {
            Content::Keys {
                entries,
                typed,
                separator: '.',
            } => (entries.clone(), *typed),
            other => panic!("{other:?}"),
        }
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_config_map_is_its_data_keys_sorted_trimmed_and_typed() {
        let source = KubernetesSource::config_map("prod", "app");
        let object = config_map(&[
            ("port", "8080\n"),
            ("db.host", "pg\r\n"),
            ("banner", "two\n\n"),
            (".hidden", "x"),
        ]);
        let layer = layer(&source, Some(&object), "17", &Limits::default()).unwrap();
        assert_eq!(layer.revision, Revision::Tag("17".into()));
        assert_eq!(
            keys(&layer),
            (
                pairs(&[("banner", "two\n"), ("db.host", "pg"), ("port", "8080")]),
                true
            )
        );
        let untyped = layer_untyped(&object);
        assert!(!untyped.1);
    }

    fn layer_untyped(object: &ConfigMap) -> (Vec<(String, String)>, bool) {
        let source = KubernetesSource::config_map("prod", "app").untyped();
        keys(&layer(&source, Some(object), "1", &Limits::default()).unwrap())
    }

    #[test]
    fn binary_data_is_ignored() {
        let mut object = config_map(&[("a", "1")]);
        object.binary_data = Some(BTreeMap::from([(
            "blob".to_owned(),
            ByteString(vec![0xff]),
        )]));
        let source = KubernetesSource::config_map("prod", "app");
        let layer = layer(&source, Some(&object), "1", &Limits::default()).unwrap();
        assert_eq!(keys(&layer).0, pairs(&[("a", "1")]));
    }

    #[test]
    fn no_object_and_no_data_are_empty_layers_at_the_rv() {
        let source = KubernetesSource::config_map("prod", "app");
        let none = layer::<ConfigMap>(&source, None, "42", &Limits::default()).unwrap();
        assert_eq!(none, Layer::empty(Revision::Tag("42".into())));
        let empty = layer(
            &source,
            Some(&ConfigMap::default()),
            "43",
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(keys(&empty).0, []);
        let keyed = source.clone().key("app.yaml");
        let missing = layer(
            &keyed,
            Some(&config_map(&[("a", "1")])),
            "44",
            &Limits::default(),
        );
        assert_eq!(missing.unwrap(), Layer::empty(Revision::Tag("44".into())));
    }

    #[test]
    fn a_key_is_a_whole_document_in_its_format() {
        let object = config_map(&[("app.yaml", "port: 1\n"), ("other", "x")]);
        let source = KubernetesSource::config_map("prod", "app").key("app.yaml");
        let layer = layer(&source, Some(&object), "9", &Limits::default()).unwrap();
        assert_eq!(
            layer.content,
            Content::Document {
                format: Format::Yaml,
                bytes: b"port: 1\n".to_vec().into()
            }
        );
        assert_eq!(layer.revision, Revision::Tag("9".into()));
        let source = KubernetesSource::config_map("prod", "app")
            .key("other")
            .format(Format::Json);
        let Content::Document { format, .. } =
            super::layer(&source, Some(&object), "9", &Limits::default())
                .unwrap()
                .content
        else {
            panic!()
        };
        assert_eq!(format, Format::Json);
    }

    #[test]
    fn a_secret_is_its_decoded_data_and_a_value_that_is_not_utf8_is_named_by_its_key() {
        let source = KubernetesSource::secret("prod", "db");
        let object = secret(&[("password", b"hunter2\n"), ("user", b"app")]);
        let layer = layer(&source, Some(&object), "5", &Limits::default()).unwrap();
        assert_eq!(
            keys(&layer).0,
            pairs(&[("password", "hunter2"), ("user", "app")])
        );

        let object = secret(&[("cert", &[0x30, 0x82, 0xff, 0xfe]), ("user", b"app")]);
        let error = super::layer(&source, Some(&object), "6", &Limits::default()).unwrap_err();
        assert_eq!(
            (error.kind(), error.is_transient()),
            (ErrorKind::Parse, true)
        );
        assert_eq!(error.key(), Some("cert"));
        let message = error.to_string();
        assert!(
            message.contains("`cert`") && message.contains("secret `prod/db`"),
            "{message}"
        );
        assert!(message.contains("UTF-8"), "{message}");

        let keyed = KubernetesSource::secret("prod", "db").key("token.json");
        let object = secret(&[("token.json", br#"{"t": "x"}"#)]);
        assert!(matches!(
            super::layer(&keyed, Some(&object), "7", &Limits::default())
                .unwrap()
                .content,
            Content::Document {
                format: Format::Json,
                ..
            }
        ));
    }

    #[test]
    fn limits_are_kept_and_values_never_quoted() {
        let source = KubernetesSource::secret("prod", "db");
        let object = secret(&[("a", b"s3cr3t-value"), ("b", b"x")]);
        let limits = Limits {
            max_bytes: 4,
            ..Limits::default()
        };
        let error = layer(&source, Some(&object), "1", &limits).unwrap_err();
        assert_eq!(error.key(), Some("a"));
        assert!(!error.to_string().contains("s3cr3t"), "{error}");
        let limits = Limits {
            max_keys: 1,
            ..Limits::default()
        };
        assert!(layer(&source, Some(&object), "1", &limits).is_err());
        let keyed = source.key("a.json");
        let object = secret(&[("a.json", b"s3cr3t-value")]);
        let limits = Limits {
            max_bytes: 4,
            ..Limits::default()
        };
        let error = layer(&keyed, Some(&object), "1", &limits).unwrap_err();
        assert_eq!(error.key(), Some("a.json"));
        assert!(!error.to_string().contains("s3cr3t"), "{error}");
    }
}
