//! The merged config written as a file (`--out FILE --format F`) or as environment variables
//! (`hotconf exec --env-prefix APP_`).

use std::collections::BTreeMap;
use std::path::Path;

use hotconf::{Error, ErrorKind, Result};
use serde_json::Value;

/// A file format for the merged config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// Indented JSON.
    Json,
    /// YAML.
    Yaml,
    /// TOML (the config must be a map without nulls).
    Toml,
    /// Java properties, one dotted key per line.
    Properties,
    /// `KEY='value'` lines a shell can source: keys upper-cased, levels joined by `__`.
    Env,
}

impl Format {
    /// The format a file name's extension says, if any.
    pub(crate) fn from_path(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()? {
            "json" => Some(Format::Json),
            "yaml" | "yml" => Some(Format::Yaml),
            "toml" => Some(Format::Toml),
            "properties" => Some(Format::Properties),
            "env" => Some(Format::Env),
            _ => None,
        }
    }
}

fn unwritable(format: &str, why: impl std::fmt::Display) -> Error {
    Error::validation(format!("cannot write the config as {format}: {why}"))
}

/// The config as `format`, ending with a newline.
pub(crate) fn write(format: Format, config: &Value) -> Result<Vec<u8>> {
    let mut text = match format {
        Format::Json => serde_json::to_string_pretty(config).map_err(|e| unwritable("JSON", e))?,
        Format::Yaml => serde_yaml_ng::to_string(config).map_err(|e| unwritable("YAML", e))?,
        Format::Toml => toml::to_string_pretty(config).map_err(|e| unwritable("TOML", e))?,
        Format::Properties => {
            let mut out = Vec::new();
            let mut writer = java_properties::PropertiesWriter::new(&mut out);
            for (key, value) in leaves(config) {
                writer
                    .write(&key.join("."), &value)
                    .map_err(|e| unwritable("properties", e))?;
            }
            writer.finish().map_err(|e| unwritable("properties", e))?;
            drop(writer);
            String::from_utf8(out).map_err(|e| unwritable("properties", e))?
        }
        Format::Env => environment("", config)?
            .iter()
            .map(|(key, value)| format!("{key}={}\n", shell_quote(value)))
            .collect(),
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text.into_bytes())
}

/// The config as environment variables: `{"db": {"host": "h"}}` with prefix `APP_` is
/// `APP_DB__HOST=h`; list items go by index (`APP_SERVERS__0`). Two keys that give the same
/// name, and values holding a NUL byte, are errors naming the key.
pub(crate) fn environment(prefix: &str, config: &Value) -> Result<Vec<(String, String)>> {
    let mut names: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (path, value) in leaves(config) {
        let dotted = path.join(".");
        if value.contains('\0') {
            return Err(
                Error::validation("a NUL byte cannot be in an environment variable")
                    .with_key(dotted),
            );
        }
        let name: String = prefix
            .chars()
            .chain(path.join("__").chars().map(|c| match c {
                'a'..='z' => c.to_ascii_uppercase(),
                'A'..='Z' | '0'..='9' | '_' => c,
                _ => '_',
            }))
            .collect();
        if let Some((other, _)) = names.get(&name) {
            return Err(Error::validation(format!(
                "the keys {other} and {dotted} are both the environment variable {name}"
            ))
            .with_key(dotted));
        }
        names.insert(name, (dotted, value));
    }
    Ok(names
        .into_iter()
        .map(|(name, (_, value))| (name, value))
        .collect())
}

/// `'it'\''s'`: a value the shell reads back unchanged.
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// Every leaf of the config with its path; strings bare, other scalars as JSON, null empty.
/// Empty maps and lists have no leaves.
fn leaves(config: &Value) -> Vec<(Vec<String>, String)> {
    let mut out = Vec::new();
    let mut stack = vec![(Vec::new(), config)];
    while let Some((path, value)) = stack.pop() {
        let child = |key: String| {
            let mut p: Vec<String> = path.clone();
            p.push(key);
            p
        };
        match value {
            Value::Object(map) => {
                for (key, value) in map.iter().rev() {
                    stack.push((child(key.clone()), value));
                }
            }
            Value::Array(items) => {
                for (index, value) in items.iter().enumerate().rev() {
                    stack.push((child(index.to_string()), value));
                }
            }
            Value::String(s) => out.push((path, s.clone())),
            Value::Null => out.push((path, String::new())),
            scalar => out.push((path, scalar.to_string())),
        }
    }
    out
}

/// A format name for errors at start.
pub(crate) fn unknown_format(path: &Path) -> Error {
    Error::new(
        ErrorKind::Config,
        format!(
            "--out {}: name the format with --format (json, yaml, toml, properties, env)",
            path.display()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn environment_flattens_with_double_underscores() {
        let config = json!({"db": {"host": "h", "port": 5432, "tls": null}, "servers": ["a", "b"], "log-level": "info", "empty": {}});
        let env = environment("APP_", &config).unwrap();
        let want: Vec<(String, String)> = [
            ("APP_DB__HOST", "h"),
            ("APP_DB__PORT", "5432"),
            ("APP_DB__TLS", ""),
            ("APP_LOG_LEVEL", "info"),
            ("APP_SERVERS__0", "a"),
            ("APP_SERVERS__1", "b"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(env, want);
    }

    #[test]
    fn environment_refuses_collisions_and_nul_bytes() {
        let err = environment("", &json!({"a-b": 1, "a_b": 2})).unwrap_err();
        assert!(err.to_string().contains("A_B"), "{err}");
        let err = environment("", &json!({"k": "x\u{0}y"})).unwrap_err();
        assert_eq!(err.key(), Some("k"));
    }

    #[test]
    fn every_format_writes_and_reads_back() {
        let config = json!({"db": {"host": "it's", "port": 5432}, "tags": ["a"]});
        for format in [Format::Json, Format::Yaml, Format::Toml] {
            let bytes = write(format, &config).unwrap();
            let ext = match format {
                Format::Json => "json",
                Format::Yaml => "yaml",
                _ => "toml",
            };
            let back = hotconf::internals::parse(
                hotconf::Format::from_extension(ext).unwrap(),
                &bytes,
                &hotconf::Limits::default(),
            )
            .unwrap();
            assert_eq!(back, config, "{format:?}");
        }
        let env = String::from_utf8(write(Format::Env, &config).unwrap()).unwrap();
        assert_eq!(env, "DB__HOST='it'\\''s'\nDB__PORT='5432'\nTAGS__0='a'\n");
        let properties = String::from_utf8(write(Format::Properties, &config).unwrap()).unwrap();
        assert!(properties.contains("db.port=5432"), "{properties}");
        assert!(write(Format::Toml, &json!({"a": null})).is_err());
    }
}
