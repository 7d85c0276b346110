//! `--schema FILE`: a JSON Schema every merged config must satisfy.

use std::path::Path;

use hotconf::{Error, ErrorKind, Result};
use serde_json::Value;

/// The largest schema file read.
const MAX_SCHEMA_BYTES: u64 = 16 << 20;

/// The JSON Schema in `path`: a regular file of at most 16 MiB holding JSON.
pub(crate) fn load(path: &Path) -> Result<Value> {
    let text = crate::small_file::read(path, MAX_SCHEMA_BYTES).map_err(|what| {
        Error::new(
            ErrorKind::Config,
            format!("the schema {} {what}", path.display()),
        )
    })?;
    serde_json::from_str(&text).map_err(|e| {
        Error::new(
            ErrorKind::Config,
            format!("the schema {} is not JSON", path.display()),
        )
        .with_cause(e)
    })
}

/// A validator closure for the reloader, from a JSON Schema file.
pub(crate) fn validator(
    path: &Path,
) -> Result<impl Fn(&Value) -> Result<()> + Send + Sync + 'static> {
    validator_for(&load(path)?, path)
}

/// A validator closure for the reloader, from the JSON Schema `schema` read from `path`.
pub(crate) fn validator_for(
    schema: &Value,
    path: &Path,
) -> Result<impl Fn(&Value) -> Result<()> + Send + Sync + 'static> {
    let compiled = jsonschema::validator_for(schema).map_err(|e| {
        Error::new(
            ErrorKind::Config,
            format!("the schema {} is invalid: {e}", path.display()),
        )
    })?;
    Ok(
        move |config: &Value| match compiled.iter_errors(config).next() {
            None => Ok(()),
            Some(error) => {
                let key = dotted(error.instance_path().as_str());
                let mut rejection = Error::validation(rejection(&error));
                if !key.is_empty() {
                    rejection = rejection.with_key(key);
                }
                Err(rejection)
            }
        },
    )
}

/// A violation as an operator reads it, never quoting the value it was checked on (guarantee
/// G12): jsonschema's masked message (`the value` where the value would be; what it does name
/// comes from the schema, or is a key), the failed keyword and where it sits in the schema.
fn rejection(error: &jsonschema::ValidationError<'_>) -> String {
    format!(
        "schema: {} (keyword `{}` at #{})",
        error.masked_with("the value"),
        error.kind().keyword(),
        error.schema_path().as_str(),
    )
}

/// `/db/servers/0/host` → `db.servers[0].host`.
fn dotted(pointer: &str) -> String {
    let mut out = String::new();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if segment.parse::<usize>().is_ok() {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&segment);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_become_key_paths() {
        assert_eq!(dotted("/db/servers/0/host"), "db.servers[0].host");
        assert_eq!(dotted("/a~1b/c~0d"), "a/b.c~d");
        assert_eq!(dotted(""), "");
    }

    #[test]
    fn a_violation_names_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("schema.json");
        std::fs::write(&path, r#"{"properties": {"db": {"properties": {"port": {"type": "integer", "maximum": 65535}}}}}"#)
            .unwrap();
        let validate = validator(&path).unwrap();
        assert!(validate(&serde_json::json!({"db": {"port": 5432}})).is_ok());
        let err = validate(&serde_json::json!({"db": {"port": 70000}})).unwrap_err();
        assert_eq!(err.key(), Some("db.port"), "{err}");
        assert!(!err.to_string().contains("70000"), "{err}");
    }

    #[test]
    fn violations_never_quote_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("schema.json");
        std::fs::write(
            &path,
            r#"{"properties": {"token": {"type": "integer"}, "db": {"type": "object", "properties": {"password": {"pattern": "^x"}}},
                "mode": {"enum": ["a", "b"]}, "list": {"maxItems": 1}}}"#,
        )
        .unwrap();
        let validate = validator(&path).unwrap();
        for (config, secret) in [
            (serde_json::json!({"token": "s3cr3t-tok"}), "s3cr3t-tok"),
            (
                serde_json::json!({"db": {"password": "hunter2pw"}}),
                "hunter2pw",
            ),
            (serde_json::json!({"db": ["hunter3pw"]}), "hunter3pw"),
            (serde_json::json!({"mode": "c0nfidential"}), "c0nfidential"),
            (serde_json::json!({"list": ["p4ss1", "p4ss2"]}), "p4ss"),
        ] {
            let err = validate(&config).unwrap_err().to_string();
            assert!(!err.contains(secret), "{err}");
            assert!(err.contains("the value"), "{err}");
        }
    }
}
