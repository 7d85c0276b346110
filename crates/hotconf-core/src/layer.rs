//! The content model: what a provider hands the reloader.

use std::sync::Arc;

use serde_json::Value;

use crate::format::Format;
use crate::revision::Revision;
use crate::rollout::Membership;

/// One state of one source: its content and its revision.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    /// What the source holds.
    pub content: Content,
    /// Which state of the source this is.
    pub revision: Revision,
    /// For a source that follows rollouts: this instance's membership in the rollout (if any)
    /// that decided the content (see [`rollout`](crate::rollout)).
    pub rollout: Option<Membership>,
}

impl Layer {
    /// A layer with the given content and revision.
    pub fn new(content: Content, revision: Revision) -> Self {
        Layer {
            content,
            revision,
            rollout: None,
        }
    }

    /// A document layer whose revision is the hash of its bytes.
    pub fn document(format: Format, bytes: impl Into<Vec<u8>>) -> Self {
        let bytes: Vec<u8> = bytes.into();
        let revision = Revision::of_content(&bytes);
        Layer::new(
            Content::Document {
                format,
                bytes: bytes.into(),
            },
            revision,
        )
    }

    /// An empty layer (the source exists but holds nothing: lower layers show through).
    pub fn empty(revision: Revision) -> Self {
        Layer::new(Content::Empty, revision)
    }
}

impl Content {
    /// The content of a mounted ConfigMap, or of anything shaped like one (a directory of one
    /// file per key, an object's data keys read from the API): each value without its one
    /// trailing newline (`\n` or `\r\n`, which a file's last line ends with), keys nested on
    /// `.` and sorted, so that the mount and the API give the same content.
    ///
    /// ```
    /// use hotconf_core::provider::Content;
    /// let content = Content::mounted_keys(vec![("b".into(), "2\r\n".into()), ("a".into(), "1".into())], true);
    /// let Content::Keys { entries, .. } = content else { unreachable!() };
    /// assert_eq!(entries, [("a".to_owned(), "1".to_owned()), ("b".to_owned(), "2".to_owned())]);
    /// ```
    pub fn mounted_keys(mut entries: Vec<(String, String)>, typed: bool) -> Content {
        for (_, value) in &mut entries {
            if value.ends_with('\n') {
                value.pop();
                if value.ends_with('\r') {
                    value.pop();
                }
            }
        }
        entries.sort();
        Content::Keys {
            separator: '.',
            entries,
            typed,
        }
    }
}

/// What one source holds.
///
/// Documents stay as bytes until the reloader parses them, so that unparsable content is a
/// *rejection* naming the source (guarantee G2), not a provider failure.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Content {
    /// Nothing: a deleted key or prefix. Lower layers show through (guarantee G5).
    Empty,
    /// A whole document (a file, a single etcd/Consul key, a Nacos dataId) in a known format.
    Document {
        /// How to parse the bytes.
        format: Format,
        /// The raw bytes, not yet checked for UTF-8.
        bytes: Arc<[u8]>,
    },
    /// Several named documents merged in order, later over earlier (a directory of documents,
    /// a list of Nacos dataIds). A parse failure names the document.
    Documents(Vec<Document>),
    /// A key space (an etcd or Consul prefix, a key-per-file directory): `a/b/c = v` becomes
    /// the nested map `{a: {b: {c: v}}}`.
    Keys {
        /// The path separator inside keys (`'/'` for etcd and Consul).
        separator: char,
        /// Key/value pairs with the source's prefix already stripped.
        entries: Vec<(String, String)>,
        /// Parse each value as a JSON scalar (`5` → number, `true` → bool) instead of a string.
        typed: bool,
    },
    /// An already structured tree (from a figment provider, the environment, or code).
    Tree(Value),
}

/// One named document of [`Content::Documents`].
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The document's name (a file name), used in error messages.
    pub name: String,
    /// How to parse the bytes.
    pub format: Format,
    /// The raw bytes.
    pub bytes: Arc<[u8]>,
}
