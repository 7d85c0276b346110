//! `Tree`: content as a tree, built only when someone needs it. A JSON document is parsed on
//! first use (so a reload of one large JSON document can deserialize the typed config straight
//! from its bytes), and the merge of several layers is materialized on first use (so a reload
//! deserializes from the layers in place).

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use serde_json::Value;

use crate::error::Result;
use crate::format::{self, Format, Limits};
use crate::path::{self, PathSegment};
use crate::{hash, merge};

enum Source {
    /// Already a tree.
    Value,
    /// A JSON document, checked for size.
    Json(Arc<[u8]>, Limits),
    /// The merge of these layers, lowest first.
    Layers(Vec<Arc<Tree>>),
}

pub(crate) struct Tree {
    source: Source,
    value: OnceLock<Arc<Value>>,
    hash: OnceLock<u64>,
}

impl Tree {
    fn new(source: Source) -> Arc<Tree> {
        Arc::new(Tree {
            source,
            value: OnceLock::new(),
            hash: OnceLock::new(),
        })
    }

    pub(crate) fn from_value(value: Arc<Value>) -> Arc<Tree> {
        let tree = Tree::new(Source::Value);
        let _ = tree.value.set(value);
        tree
    }

    /// A JSON document, checked for size now and parsed when first needed.
    pub(crate) fn from_json(bytes: Arc<[u8]>, limits: Limits) -> Result<Arc<Tree>> {
        format::check_size(bytes.len(), &limits)?;
        Ok(Tree::new(Source::Json(bytes, limits)))
    }

    /// The merge of `layers` (lowest first), materialized when first needed. Its hash combines
    /// the layers' hashes.
    pub(crate) fn from_layers(layers: Vec<Arc<Tree>>) -> Arc<Tree> {
        Tree::new(Source::Layers(layers))
    }

    /// The raw JSON document, when the content arrived as one whose root is a map and the
    /// depth limit is no stricter than serde_json's own (so skipping the tree skips no check).
    pub(crate) fn json_map_bytes(&self) -> Option<&[u8]> {
        const SERDE_JSON_DEPTH: usize = 128;
        let Source::Json(bytes, limits) = &self.source else {
            return None;
        };
        if limits.max_depth < SERDE_JSON_DEPTH {
            return None;
        }
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace())?;
        (*first == b'{').then_some(&**bytes)
    }

    /// A JSON document whose tree is not built: a reload can read it as a stream between the
    /// other layers ([`strict::overlay`](crate::strict::overlay)) instead of building it (again
    /// when another layer changes: a stream costs less than building and keeping the tree).
    pub(crate) fn streamable_json(&self) -> Option<&[u8]> {
        self.json_map_bytes().filter(|_| self.value.get().is_none())
    }

    /// True for a tree known to be an empty map (it changes nothing in a merge).
    pub(crate) fn is_empty_map(&self) -> bool {
        self.value
            .get()
            .is_some_and(|v| v.as_object().is_some_and(|m| m.is_empty()))
    }

    /// The tree, building it the first time.
    pub(crate) fn value(&self) -> Result<&Arc<Value>> {
        if let Some(value) = self.value.get() {
            return Ok(value);
        }
        let built = match &self.source {
            Source::Value => unreachable!("a value tree is set at creation"),
            Source::Json(bytes, limits) => format::parse(Format::Json, bytes, limits)?,
            Source::Layers(layers) => {
                let values = layers
                    .iter()
                    .map(|l| l.value().map(|v| &**v))
                    .collect::<Result<Vec<_>>>()?;
                merge::merge_all(values)
            }
        };
        Ok(self.value.get_or_init(|| Arc::new(built)))
    }

    /// The value at `path`, without building a merge that is not built yet (only the subtree
    /// at `path`, when maps of several layers meet there).
    pub(crate) fn lookup(&self, at: &[PathSegment]) -> Result<Option<Cow<'_, Value>>> {
        if let (Source::Layers(layers), None) = (&self.source, self.value.get()) {
            let values = layers
                .iter()
                .map(|l| l.value().map(|v| &**v))
                .collect::<Result<Vec<_>>>()?;
            return Ok(merge::lookup_merged(&values, at));
        }
        Ok(path::lookup(self.value()?, at).map(Cow::Borrowed))
    }

    /// A stable content hash, computed once: of the document's bytes for a JSON document that
    /// is taken straight from its bytes (the fast and streamed paths, which never build its
    /// tree), of the tree otherwise (so the same YAML, TOML or keys written another way hash the
    /// same). A merge hashes its layers' hashes.
    ///
    /// Equal content can hash differently (JSON bytes written another way, a key moved to
    /// another layer): then an equal config is applied once more, which a source change caused
    /// anyway. Different content never hashes the same (up to 64-bit collisions).
    pub(crate) fn content_hash(&self) -> Result<u64> {
        if let Some(hash) = self.hash.get() {
            return Ok(*hash);
        }
        let computed = match (&self.source, self.json_map_bytes()) {
            (Source::Json(..), Some(bytes)) => hash::hash_bytes(bytes),
            (Source::Layers(layers), _) => {
                let hashes = layers
                    .iter()
                    .map(|l| l.content_hash())
                    .collect::<Result<Vec<u64>>>()?;
                hash::hash_list(&hashes)
            }
            _ => hash::hash_value(self.value()?),
        };
        Ok(*self.hash.get_or_init(|| computed))
    }
}
