//! The redaction policy: which config values never leave the process (guarantee G12).

use std::fmt;

use serde_json::Value;

use crate::path::{self, PathSegment};

/// What a redacted value is replaced with wherever a value is shown.
pub const REDACTED: &str = "***";

/// Which config values are secret: shown as `***` in events, the CLI and the admin API, and
/// never quoted in errors or logs. A key is redacted when it, or a map or list holding it,
/// matches.
///
/// The default policy matches any key containing one of [`Redaction::DEFAULT_WORDS`]; add globs with
/// [`key`](Self::key).
///
/// ```
/// use hotconf_core::Redaction;
/// let policy = Redaction::default().key("db.dsn").key("**.cert_*");
/// assert!(policy.is_redacted("db.password"));
/// assert!(policy.is_redacted("services.auth.apiKey"));
/// assert!(policy.is_redacted("credentials.user")); // inside a redacted map
/// assert!(policy.is_redacted("db.dsn"));
/// assert!(policy.is_redacted("tls.cert_pem"));
/// assert!(!policy.is_redacted("db.host"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Redaction {
    words: Vec<String>,
    globs: Vec<Vec<Glob>>,
}

#[derive(Clone, PartialEq, Eq)]
enum Glob {
    /// `**`: any number of keys, none included.
    AnyDepth,
    /// One key, where `*` matches any run of characters (lowercase).
    Key(String),
}

impl Default for Redaction {
    fn default() -> Self {
        Redaction {
            words: Redaction::DEFAULT_WORDS
                .iter()
                .map(|w| normalize(w))
                .collect(),
            globs: Vec::new(),
        }
    }
}

impl fmt::Debug for Redaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redaction")
            .field("words", &self.words)
            .field("globs", &self.globs.len())
            .finish()
    }
}

impl Redaction {
    /// The words the default policy looks for in every key of a path, case-insensitively and
    /// ignoring `_` and `-` (`apiKey`, `api-key` and `API_KEY` all match `api_key`).
    pub const DEFAULT_WORDS: &[&str] = &[
        "password",
        "passwd",
        "secret",
        "token",
        "credential",
        "private_key",
        "api_key",
        "access_key",
    ];

    /// A policy that redacts nothing (only for configs known to hold no secret).
    pub fn none() -> Self {
        Redaction {
            words: Vec::new(),
            globs: Vec::new(),
        }
    }

    /// Also redacts the keys matching `glob`: keys separated by `.`, `*` matching any part of
    /// one key (or any list index), `**` any number of keys. Case-insensitive.
    /// `db.dsn`, `*.password`, `**.cert_*`, `servers.*.auth`.
    pub fn key(mut self, glob: &str) -> Self {
        let glob = glob
            .split('.')
            .filter(|k| !k.is_empty())
            .map(|k| match k {
                "**" => Glob::AnyDepth,
                k => Glob::Key(k.to_lowercase()),
            })
            .collect();
        self.globs.push(glob);
        self
    }

    /// Also redacts any key containing `word` (case-insensitive, ignoring `_` and `-`).
    pub fn word(mut self, word: &str) -> Self {
        self.words.push(normalize(word));
        self
    }

    /// Whether the value at `key` (`db.servers[0].password`) is redacted.
    pub fn is_redacted(&self, key: &str) -> bool {
        self.covers(&path::parse(key))
    }

    /// Whether the value at `path`, or a map or list holding it, matches the policy.
    pub(crate) fn covers(&self, path: &[PathSegment]) -> bool {
        let keys: Vec<String> = path.iter().map(segment_text).collect();
        let word = path.iter().any(|s| match s {
            PathSegment::Key(k) => {
                let k = normalize(k);
                self.words.iter().any(|w| k.contains(w.as_str()))
            }
            PathSegment::Index(_) => false,
        });
        word || (1..=keys.len()).any(|len| self.globs.iter().any(|g| glob_matches(g, &keys[..len])))
    }

    /// A copy of the config `value` with every redacted value replaced by `***`.
    pub fn redact(&self, value: &Value) -> Value {
        self.redact_path(&[], value)
    }

    /// A copy of `value`, the value found at `key` in the config, with every redacted value
    /// replaced by `***` (the whole value when `key` itself is redacted).
    pub fn redact_at(&self, key: &str, value: &Value) -> Value {
        let at = path::parse(key);
        if self.covers(&at) {
            return Value::String(REDACTED.to_owned());
        }
        self.redact_path(&at, value)
    }

    /// A copy of `value`, the value at `at`, with every redacted value under it replaced.
    pub(crate) fn redact_path(&self, at: &[PathSegment], value: &Value) -> Value {
        if self.words.is_empty() && self.globs.is_empty() {
            return value.clone();
        }
        let mut path = at.to_vec();
        self.walk(&mut path, value)
    }

    fn walk(&self, path: &mut Vec<PathSegment>, value: &Value) -> Value {
        if !path.is_empty() && self.covers(path) {
            return Value::String(REDACTED.to_owned());
        }
        match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        path.push(PathSegment::Key(k.clone()));
                        let out = self.walk(path, v);
                        path.pop();
                        (k.clone(), out)
                    })
                    .collect(),
            ),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        path.push(PathSegment::Index(i));
                        let out = self.walk(path, v);
                        path.pop();
                        out
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

fn normalize(word: &str) -> String {
    word.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

fn segment_text(segment: &PathSegment) -> String {
    match segment {
        PathSegment::Key(k) => k.to_lowercase(),
        PathSegment::Index(i) => i.to_string(),
    }
}

fn glob_matches(glob: &[Glob], keys: &[String]) -> bool {
    match glob.split_first() {
        None => keys.is_empty(),
        Some((Glob::AnyDepth, rest)) => {
            (0..=keys.len()).any(|skip| glob_matches(rest, &keys[skip..]))
        }
        Some((Glob::Key(pattern), rest)) => match keys.split_first() {
            Some((key, tail)) => {
                wildcard(pattern.as_bytes(), key.as_bytes()) && glob_matches(rest, tail)
            }
            None => false,
        },
    }
}

/// `*` matches any run of bytes; everything else matches itself. Linear time (the usual
/// greedy match that backtracks only to the last `*`).
fn wildcard(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_default_words_match_any_key_of_the_path() {
        let p = Redaction::default();
        for key in [
            "password",
            "db.Password",
            "db.passwd",
            "auth.client_secret",
            "auth.token",
            "aws.ACCESS_KEY_ID",
            "svc.apiKey",
            "svc.api-key",
            "tls.private_key",
            "credentials.user",
            "list[2].token",
        ] {
            assert!(p.is_redacted(key), "{key}");
        }
        for key in ["db.host", "port", "tokens_per_second_limit_x"] {
            // `tokens…` contains `token`: words match inside keys, on purpose.
            assert_eq!(p.is_redacted(key), key.contains("token"), "{key}");
        }
        assert!(!Redaction::none().is_redacted("password"));
    }

    #[test]
    fn globs_match_keys_and_everything_under_them() {
        let p = Redaction::none()
            .key("db.dsn")
            .key("**.cert_*")
            .key("servers.*.auth");
        assert!(p.is_redacted("db.dsn"));
        assert!(p.is_redacted("DB.DSN.inner"));
        assert!(!p.is_redacted("db.dsn2"));
        assert!(!p.is_redacted("x.db.dsn"));
        assert!(p.is_redacted("cert_pem"));
        assert!(p.is_redacted("a.b.c.cert_chain"));
        assert!(p.is_redacted("servers[3].auth.user"));
        assert!(!p.is_redacted("servers[3].host"));
    }

    #[test]
    fn redact_replaces_values_and_keeps_the_shape() {
        let p = Redaction::default().key("db.dsn");
        let value = json!({"db": {"host": "h", "password": "hunter2", "dsn": {"a": 1}},
                           "list": [{"token": "t", "n": 1}]});
        assert_eq!(
            p.redact(&value),
            json!({"db": {"host": "h", "password": "***", "dsn": "***"},
                   "list": [{"token": "***", "n": 1}]})
        );
        assert_eq!(
            p.redact_at("db.password", &value["db"]["password"]),
            json!("***")
        );
        assert_eq!(
            p.redact_at("db", &value["db"]),
            json!({"host": "h", "password": "***", "dsn": "***"})
        );
    }
}
