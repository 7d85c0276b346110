//! A layer's content as a tree: how each kind of [`Content`] is parsed.

use std::sync::Arc;

use crate::error::{Error, ErrorKind, Result};
use crate::format::{self, Format, Limits};
use crate::keyspace;
use crate::layer::Content;
use crate::merge;
use crate::tree::Tree;

/// Parses a layer's content into a tree (`None` for an empty layer). JSON documents are only
/// checked for size here, and parsed when first needed.
pub(super) fn parse_content(content: &Content, limits: &Limits) -> Result<Option<Arc<Tree>>> {
    let value = match content {
        Content::Empty => return Ok(None),
        Content::Document {
            format: Format::Json,
            bytes,
        } => return Tree::from_json(bytes.clone(), *limits).map(Some),
        Content::Document { format, bytes } => format::parse(*format, bytes, limits)?,
        Content::Documents(documents) => {
            let mut trees = Vec::with_capacity(documents.len());
            for doc in documents {
                let parsed = format::parse(doc.format, &doc.bytes, limits).map_err(|e| {
                    Error::new(
                        e.kind(),
                        format!("in document `{}`: {}", doc.name, e.message()),
                    )
                })?;
                trees.push(parsed);
            }
            merge::merge_all(trees.iter())
        }
        Content::Keys {
            separator,
            entries,
            typed,
        } => keyspace::nest(entries, *separator, *typed)?,
        Content::Tree(tree) => {
            format::check_depth(tree, limits.max_depth)?;
            if !tree.is_object() {
                return Err(Error::new(
                    ErrorKind::Parse,
                    format!("a layer must be a map, found {}", format::kind_name(tree)),
                ));
            }
            tree.clone()
        }
    };
    Ok(Some(Tree::from_value(Arc::new(value))))
}
