//! `hotconf check --schema FILE`: the document checked against a JSON Schema, offline.
//!
//! The document is parsed as the reloader parses a layer (the same parsers and limits), then
//! validated against the schema the way `hotconf watch --schema` validates a merged config:
//! a violation names its key and never quotes the value.

use std::path::Path;

use hotconf::{Error, Format, Limits, Result};
use serde_json::{Map, Value};

use super::{Line, Outcome};

/// The line for the schema at `path`: whether `document` (in `format`) satisfies it.
///
/// # Errors
/// The schema cannot be read, is not JSON or is not a valid schema (a usage error).
pub(crate) fn check(path: &Path, format: Format, document: &str) -> Result<Line> {
    let schema = crate::schema::load(path)?;
    let validate = crate::schema::validator_for(&schema, path)?;
    let target = path.display().to_string();
    let verdict =
        hotconf::provider::parse_document(format, document.as_bytes(), &Limits::default())
            .and_then(|tree| validate(&tree));
    Ok(match verdict {
        Ok(()) => Line::new(&target, Outcome::Accepted, Map::new()),
        Err(error) => Line::new(&target, Outcome::Rejected, rejection(&error)),
    })
}

/// A rejection's fields, as a service's `POST /config/check` names them.
fn rejection(error: &Error) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("error".into(), error.to_string().into());
    fields.insert("kind".into(), error.kind().as_str().into());
    if let Some(key) = error.key() {
        fields.insert("key".into(), key.into());
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_is_parsed_then_held_to_the_schema() {
        let dir = tempfile::tempdir().unwrap();
        let schema = dir.path().join("schema.json");
        std::fs::write(
            &schema,
            r#"{"type": "object", "properties": {"port": {"type": "integer", "maximum": 9000}}}"#,
        )
        .unwrap();
        let line = check(&schema, Format::Yaml, "port: 8080\n").unwrap();
        assert_eq!(line.outcome, Outcome::Accepted);
        let line = check(&schema, Format::Yaml, "port: 9999\n").unwrap();
        assert_eq!(line.outcome, Outcome::Rejected);
        assert_eq!(line.fields["key"], "port");
        assert!(!line.fields["error"].to_string().contains("9999"));
        let line = check(&schema, Format::Yaml, "port: [\n").unwrap();
        assert_eq!(line.fields["kind"], "parse");
        assert!(check(&dir.path().join("missing.json"), Format::Yaml, "{}").is_err());
    }
}
