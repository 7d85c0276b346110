//! `Tree`: a layer's or a config's content as a tree, parsed on first use when it arrived as a
//! JSON document, so that a successful reload of one large JSON document can deserialize the
//! typed config straight from its bytes (the serde_json floor) and never build the tree.

use std::sync::{Arc, OnceLock};

use serde_json::Value;

use crate::error::Result;
use crate::format::{self, Format, Limits};

pub(crate) struct Tree {
    json: Option<Arc<[u8]>>,
    limits: Limits,
    value: OnceLock<Arc<Value>>,
}

impl Tree {
    pub(crate) fn from_value(value: Arc<Value>) -> Arc<Tree> {
        let tree = Tree {
            json: None,
            limits: Limits::default(),
            value: OnceLock::new(),
        };
        let _ = tree.value.set(value);
        Arc::new(tree)
    }

    /// A JSON document, checked for size now and parsed when first needed.
    pub(crate) fn from_json(bytes: Arc<[u8]>, limits: Limits) -> Result<Arc<Tree>> {
        format::check_size(bytes.len(), &limits)?;
        Ok(Arc::new(Tree {
            json: Some(bytes),
            limits,
            value: OnceLock::new(),
        }))
    }

    /// The raw JSON document, when the content arrived as one whose root is a map and the
    /// depth limit is no stricter than serde_json's own (so skipping the tree skips no check).
    pub(crate) fn json_map_bytes(&self) -> Option<&[u8]> {
        const SERDE_JSON_DEPTH: usize = 128;
        if self.limits.max_depth < SERDE_JSON_DEPTH {
            return None;
        }
        let bytes = self.json.as_deref()?;
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace())?;
        (*first == b'{').then_some(bytes)
    }

    /// The tree, parsing the document the first time.
    pub(crate) fn value(&self) -> Result<&Arc<Value>> {
        if let Some(value) = self.value.get() {
            return Ok(value);
        }
        let bytes = self.json.as_deref().unwrap_or(b"{}");
        let parsed = Arc::new(format::parse(Format::Json, bytes, &self.limits)?);
        Ok(self.value.get_or_init(|| parsed))
    }
}
