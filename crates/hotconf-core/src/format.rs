//! Document formats and parsing into the common tree, with size and depth limits.

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind, Result};
use crate::keyspace;

/// The format of a document source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// JSON.
    Json,
    /// TOML.
    Toml,
    /// YAML (merge keys `<<` applied; non-string keys become strings).
    Yaml,
    /// Java-style `.properties`: `a.b.c=v` becomes nested, values typed as JSON scalars.
    Properties,
}

impl Format {
    /// The format for a file extension or dataId suffix (`"yml"`, `"toml"`, …), if known.
    pub fn from_extension(ext: &str) -> Option<Format> {
        match ext.to_ascii_lowercase().as_str() {
            "json" => Some(Format::Json),
            "toml" => Some(Format::Toml),
            "yaml" | "yml" => Some(Format::Yaml),
            "properties" | "props" => Some(Format::Properties),
            _ => None,
        }
    }

    /// The format from the extension of a path or name (`app.yaml` → YAML), if known.
    pub fn from_path(path: &str) -> Option<Format> {
        let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
        name.rsplit_once('.')
            .and_then(|(_, ext)| Format::from_extension(ext))
    }

    /// The canonical lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Toml => "toml",
            Format::Yaml => "yaml",
            Format::Properties => "properties",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = Error;

    fn from_str(s: &str) -> Result<Format> {
        Format::from_extension(s).ok_or_else(|| {
            Error::new(
                ErrorKind::Config,
                format!("unknown format `{s}` (expected json, toml, yaml or properties)"),
            )
        })
    }
}

/// Limits applied to every document before and after parsing, and by providers while they read
/// (so a huge file, `/dev/zero` or an endless HTTP body never sits in memory whole: see
/// [`BoundedBody`](crate::provider::BoundedBody)).
///
/// Build one with struct update syntax: `Limits { max_keys: 1_000, ..Limits::default() }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted document (a file, a key's value, an HTTP body), in bytes. Default 16 MiB.
    pub max_bytes: usize,
    /// Largest accepted state of one source in total (every value of a key space, every file of
    /// a directory), in bytes. Default 64 MiB.
    pub max_total_bytes: usize,
    /// Most keys (or files) accepted in one source's state. Default 100 000.
    pub max_keys: usize,
    /// Deepest accepted nesting of maps and arrays. Default 128, which is also where the JSON
    /// and YAML parsers stop (TOML stops sooner), so a hostile document never reaches a deep
    /// recursive drop or deserialize.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 16 << 20,
            max_total_bytes: 64 << 20,
            max_keys: 100_000,
            max_depth: 128,
        }
    }
}

impl Limits {
    /// Checks a key space's entries, each a key and its value's length in bytes: at most
    /// `max_keys` of them, no value above `max_bytes`, keys and values at most
    /// `max_total_bytes` in all. A backend words the error around the breach.
    ///
    /// ```
    /// use hotconf_core::Limits;
    /// let limits = Limits { max_keys: 2, max_bytes: 4, ..Limits::default() };
    /// assert!(limits.check_entries([("a", 4), ("b", 1)].into_iter()).is_ok());
    /// let breach = limits.check_entries([("a", 5)].into_iter()).unwrap_err();
    /// assert_eq!(breach.key.as_deref(), Some("a"));
    /// assert!(limits.check_entries([("a", 1); 3].into_iter()).is_err());
    /// ```
    ///
    /// # Errors
    /// The first limit passed.
    pub fn check_entries<'a>(
        &self,
        entries: impl ExactSizeIterator<Item = (&'a str, usize)>,
    ) -> std::result::Result<(), LimitBreach> {
        let breach = |key: Option<&str>, message: String| LimitBreach {
            key: key.map(str::to_owned),
            message,
        };
        if entries.len() > self.max_keys {
            return Err(breach(
                None,
                format!(
                    "holds {} keys, above the limit of {} keys",
                    entries.len(),
                    self.max_keys
                ),
            ));
        }
        let mut total: usize = 0;
        for (key, bytes) in entries {
            if bytes > self.max_bytes {
                return Err(breach(
                    Some(key),
                    format!(
                        "holds a value of {bytes} bytes at `{key}`, above the limit of {} bytes",
                        self.max_bytes
                    ),
                ));
            }
            total = total.saturating_add(key.len()).saturating_add(bytes);
            if total > self.max_total_bytes {
                return Err(breach(
                    None,
                    format!(
                        "holds at least {total} bytes of keys and values, above the limit of {} \
                         bytes",
                        self.max_total_bytes
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// A key space past one of its [`Limits`] ([`Limits::check_entries`]): `holds … above the limit
/// of …`, and the key whose value is too large.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LimitBreach {
    /// The key at fault, for a value above `max_bytes`.
    pub key: Option<String>,
    message: String,
}

impl fmt::Display for LimitBreach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Parses document bytes into a tree whose root is a map.
///
/// # Errors
/// [`ErrorKind::Parse`] when the document is too large, not UTF-8, unparsable, too deep, or its
/// root is not a map. The message gives line and column where the parser knows them.
pub fn parse(format: Format, bytes: &[u8], limits: &Limits) -> Result<Value> {
    check_size(bytes.len(), limits)?;
    let text = std::str::from_utf8(bytes).map_err(|e| {
        parse_error(format!(
            "document is not valid UTF-8 (at byte {})",
            e.valid_up_to()
        ))
    })?;
    let value = match format {
        Format::Json => serde_json::from_str::<Value>(text)
            .map_err(|e| parse_error(format!("invalid JSON: {}", one_line(&e.to_string()))))?,
        Format::Toml => {
            let table = toml::from_str::<toml::Table>(text).map_err(|e| {
                let at = e
                    .span()
                    .map(|span| position(text, span.start))
                    .unwrap_or_default();
                parse_error(format!("invalid TOML{at}: {}", one_line(e.message())))
            })?;
            toml_to_json(toml::Value::Table(table))
        }
        Format::Yaml => {
            let mut yaml = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text)
                .map_err(|e| parse_error(format!("invalid YAML: {}", one_line(&e.to_string()))))?;
            yaml.apply_merge()
                .map_err(|e| parse_error(format!("invalid YAML merge key: {e}")))?;
            yaml_to_json(yaml)
        }
        Format::Properties => {
            // Checked as UTF-8 above, so read as UTF-8 (the crate's default is ISO-8859-1,
            // which would garble every non-ASCII character).
            let mut map = std::collections::HashMap::new();
            java_properties::PropertiesIter::new_with_encoding(text.as_bytes(), encoding_rs::UTF_8)
                .read_into(|k, v| {
                    map.insert(k, v);
                })
                .map_err(|e| {
                    parse_error(format!("invalid properties: {}", one_line(&e.to_string())))
                })?;
            let mut entries: Vec<(String, String)> = map.into_iter().collect();
            entries.sort();
            keyspace::nest(&entries, '.', true)?
        }
    };
    check_depth(&value, limits.max_depth)?;
    match value {
        Value::Object(_) => Ok(value),
        Value::Null => Ok(Value::Object(Map::new())),
        other => Err(parse_error(format!(
            "the top level of a {format} document must be a map, found {}",
            kind_name(&other)
        ))),
    }
}

/// Rejects documents larger than the limit.
pub(crate) fn check_size(len: usize, limits: &Limits) -> Result<()> {
    if len > limits.max_bytes {
        return Err(parse_error(format!(
            "document is {len} bytes, above the limit of {} bytes",
            limits.max_bytes
        )));
    }
    Ok(())
}

/// Rejects trees nested deeper than `max_depth`, without recursion.
pub(crate) fn check_depth(value: &Value, max_depth: usize) -> Result<()> {
    let mut stack = vec![(value, 0usize)];
    while let Some((v, depth)) = stack.pop() {
        if depth > max_depth {
            return Err(parse_error(format!(
                "document is nested deeper than {max_depth} levels"
            )));
        }
        match v {
            Value::Object(m) => stack.extend(m.values().map(|c| (c, depth + 1))),
            Value::Array(a) => stack.extend(a.iter().map(|c| (c, depth + 1))),
            _ => {}
        }
    }
    Ok(())
}

/// The JSON name of a value's type, for messages.
pub(crate) fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "a map",
    }
}

fn parse_error(message: String) -> Error {
    Error::new(ErrorKind::Parse, message)
}

/// Collapses whitespace and caps the length, so that no message quotes a huge document.
fn one_line(s: &str) -> String {
    const MAX: usize = 300;
    let mut out = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if out.len() > MAX {
        let cut = (0..=MAX)
            .rev()
            .find(|&i| out.is_char_boundary(i))
            .unwrap_or(0);
        out.truncate(cut);
        out.push('…');
    }
    out
}

/// ` at line L, column C` for a byte offset.
fn position(text: &str, offset: usize) -> String {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
    format!(" at line {line}, column {column}")
}

fn toml_to_json(v: toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => {
            Value::Object(t.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect())
        }
    }
}

fn yaml_to_json(v: serde_yaml_ng::Value) -> Value {
    use serde_yaml_ng::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Value::Null, Value::Number)
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(s) => Value::Array(s.into_iter().map(yaml_to_json).collect()),
        Y::Mapping(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (yaml_key(k), yaml_to_json(v)))
                .collect(),
        ),
        Y::Tagged(t) => yaml_to_json(t.value),
    }
}

fn yaml_key(k: serde_yaml_ng::Value) -> String {
    match yaml_to_json(k) {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(format: Format, text: &str) -> Result<Value> {
        parse(format, text.as_bytes(), &Limits::default())
    }

    #[test]
    fn every_format_gives_the_same_tree() {
        let want = json!({"db": {"host": "h", "port": 5432, "tls": true}, "tags": ["a", "b"]});
        let docs = [
            (
                Format::Json,
                r#"{"db":{"host":"h","port":5432,"tls":true},"tags":["a","b"]}"#,
            ),
            (
                Format::Toml,
                "tags = [\"a\", \"b\"]\n[db]\nhost = \"h\"\nport = 5432\ntls = true\n",
            ),
            (
                Format::Yaml,
                "db:\n  host: h\n  port: 5432\n  tls: true\ntags: [a, b]\n",
            ),
            (Format::Properties, "db.host=h\ndb.port=5432\ndb.tls=true\n"),
        ];
        for (format, text) in docs {
            let got = p(format, text).unwrap();
            if format == Format::Properties {
                assert_eq!(got["db"], want["db"], "{format}");
            } else {
                assert_eq!(got, want, "{format}");
            }
        }
    }

    #[test]
    fn yaml_merge_keys_and_numeric_keys() {
        let got = p(
            Format::Yaml,
            "base: &b {x: 1}\nd:\n  <<: *b\n  y: 2\ncodes: {200: ok}\n",
        )
        .unwrap();
        assert_eq!(got["d"], json!({"x": 1, "y": 2}));
        assert_eq!(got["codes"], json!({"200": "ok"}));
    }

    #[test]
    fn bad_documents_give_parse_errors() {
        for (format, text) in [
            (Format::Json, "{\"a\": "),
            (Format::Toml, "a = 1\nb = = 1"),
            (Format::Yaml, "a: [1, 2"),
            (Format::Json, "[1, 2]"),
            (Format::Yaml, "just a string"),
        ] {
            let err = p(format, text).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Parse, "{format}: {err}");
        }
        let err = p(Format::Toml, "a = 1\nb = = 1").unwrap_err();
        assert!(
            err.to_string().contains("invalid TOML at line 2, column 5"),
            "{err}"
        );
        let err = parse(Format::Json, b"{\"a\": \"\xff\"}", &Limits::default()).unwrap_err();
        assert!(
            err.to_string().contains("not valid UTF-8 (at byte 7)"),
            "{err}"
        );
    }

    #[test]
    fn limits_reject_large_and_deep_documents() {
        let limits = Limits {
            max_bytes: 10,
            max_depth: 3,
            ..Limits::default()
        };
        assert!(parse(Format::Json, b"{\"a\": \"0123456789\"}", &limits)
            .unwrap_err()
            .to_string()
            .contains("above the limit"));
        let deep = parse(
            Format::Json,
            br#"{"a":{"b":{"c":{}}}}"#,
            &Limits {
                max_bytes: 100,
                max_depth: 2,
                ..Limits::default()
            },
        );
        assert!(deep.unwrap_err().to_string().contains("nested deeper"));
    }

    #[test]
    fn format_names() {
        assert_eq!(Format::from_path("/etc/app/config.YML"), Some(Format::Yaml));
        assert_eq!(Format::from_path("app"), None);
        assert_eq!("toml".parse::<Format>().unwrap(), Format::Toml);
        assert!("ini".parse::<Format>().is_err());
    }
}
