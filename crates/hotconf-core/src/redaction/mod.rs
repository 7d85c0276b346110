//! The redaction policy: which config values never leave the process (guarantee G12).
//!
//! A value is redacted when its key path is secret ([`names`] words in any key of the path,
//! or a glob), when where it sits makes it secret (the `value` beside a secret `name`, the
//! item after a `--password` flag), or when the value itself carries a credential
//! ([`values`]). The exact rules are in docs/concepts.md (G12).

use std::fmt;

use serde_json::{Map, Value};

use crate::path::{self, PathSegment};

mod glob;
mod layers;
mod names;
mod values;

use layers::SecretShape;

use glob::{Glob, GlobCursor};
use names::NameRules;

/// What a redacted value is replaced with wherever a value is shown.
pub const REDACTED: &str = "***";

/// Which config values are secret: shown as `***` in events, the CLI and the admin API, and
/// never quoted in errors or logs.
///
/// The default policy redacts:
/// - a value whose key, or a key of a map or list holding it, holds one of
///   [`Redaction::DEFAULT_WORDS`] anywhere or one of [`Redaction::DEFAULT_WHOLE_WORDS`] as a
///   whole word (`db_pass` and `dbPass`, not `compass`);
/// - the `value` of a `{name: …, value: …}` pair (a Kubernetes env list) whose `name` does,
///   and the list item after a flag that does (`["--password", "…"]`);
/// - a string carrying a credential whatever its key: a URL with user information, a
///   `Password=`/`pwd=`/`--token=` field, `Bearer …`, a JSON Web Token, a PEM private key.
///
/// Add globs with [`key`](Self::key) and words with [`word`](Self::word).
///
/// ```
/// use hotconf_core::Redaction;
/// use serde_json::json;
/// let policy = Redaction::default().key("db.host").key("**.cert_*");
/// assert!(policy.is_redacted("db.password"));
/// assert!(policy.is_redacted("db.pass"));
/// assert!(!policy.is_redacted("nav.compass"));
/// assert!(policy.is_redacted("services.auth.apiKey"));
/// assert!(policy.is_redacted("credentials.user")); // inside a redacted map
/// assert!(policy.is_redacted("db.host"));
/// assert!(policy.is_redacted("tls.cert_pem"));
/// assert!(!policy.is_redacted("db.port"));
/// let config = json!({"url": "postgres://app:hunter2@db/app",
///                     "env": [{"name": "DB_PASSWORD", "value": "hunter2"}]});
/// assert_eq!(policy.redact(&config),
///            json!({"url": "***", "env": [{"name": "DB_PASSWORD", "value": "***"}]}));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Redaction {
    names: NameRules,
    globs: Vec<Glob>,
    by_value: bool,
    /// What secret layers hold (set per snapshot from its layers).
    layers: Option<SecretShape>,
}

impl Default for Redaction {
    fn default() -> Self {
        Redaction {
            names: NameRules::defaults(),
            globs: Vec::new(),
            by_value: true,
            layers: None,
        }
    }
}

impl fmt::Debug for Redaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redaction")
            .field("words", &self.names.anywhere)
            .field("whole_words", &self.names.whole)
            .field("globs", &self.globs.len())
            .field("by_value", &self.by_value)
            .finish()
    }
}

impl Redaction {
    /// The words the default policy looks for anywhere in every key of a path,
    /// case-insensitively and ignoring everything but letters and digits (`apiKey`, `api-key`
    /// and `API_KEY` all match `api_key`).
    pub const DEFAULT_WORDS: &[&str] = names::ANYWHERE;

    /// The short words the default policy looks for as a whole word of a key: `db_pass`,
    /// `dbPass` and `PASS` hold `pass`; `compass` and `bypass` do not. A key splits into words
    /// at anything but a letter or digit, at a change from lower to upper case and between
    /// letters and digits.
    pub const DEFAULT_WHOLE_WORDS: &[&str] = names::WHOLE;

    /// A policy that redacts nothing (only for configs known to hold no secret).
    pub fn none() -> Self {
        Redaction {
            names: NameRules::default(),
            globs: Vec::new(),
            by_value: false,
            layers: None,
        }
    }

    /// Also redacts the keys matching `glob`: keys separated by `.`, `*` matching any part of
    /// one key (or any list index), `**` any number of keys. Case-insensitive.
    /// `db.dsn`, `*.password`, `**.cert_*`, `servers.*.auth`. Matching costs one step per key
    /// of a path, whatever the glob.
    pub fn key(mut self, glob: &str) -> Self {
        self.globs.push(Glob::parse(glob));
        self
    }

    /// Also redacts any key containing `word` (case-insensitive, ignoring everything but
    /// letters and digits), and the values of `name`/`value` pairs and flags named so.
    pub fn word(mut self, word: &str) -> Self {
        self.names.anywhere.push(names::compact(word));
        self
    }

    /// Also redacts any key holding `word` as a whole word (see
    /// [`DEFAULT_WHOLE_WORDS`](Self::DEFAULT_WHOLE_WORDS)).
    pub fn whole_word(mut self, word: &str) -> Self {
        self.names.whole.push(names::compact(word));
        self
    }

    /// Whether strings carrying a credential (a URL's user information, a `Password=` field,
    /// a bearer token…) are redacted whatever their key (on by default).
    pub fn by_value(mut self, on: bool) -> Self {
        self.by_value = on;
        self
    }

    /// Whether `name` (a key, a parameter's or a variable's name: `DB_PASSWORD`, `api_token`)
    /// holds one of this policy's secret words.
    pub fn is_secret_name(&self, name: &str) -> bool {
        self.names.matches(name)
    }

    /// Whether the value at `key` (`db.servers[0].password`) is redacted by its key path
    /// alone (see [`redact_within`](Self::redact_within) for the rules that look at values).
    pub fn is_redacted(&self, key: &str) -> bool {
        self.covers(&path::parse(key))
    }

    /// Whether the key path `path`, or a map or list holding it, matches the policy. One
    /// step per segment.
    pub(crate) fn covers(&self, path: &[PathSegment]) -> bool {
        if self.layers.as_ref().is_some_and(|l| l.covers(path)) {
            return true;
        }
        path.iter()
            .try_fold(self.start(), |cursor, segment| {
                let next = self.step(&cursor, segment);
                if next.matched {
                    Err(())
                } else {
                    Ok(next)
                }
            })
            .is_err()
    }

    /// A copy of the config `value` with every redacted value replaced by `***`.
    pub fn redact(&self, value: &Value) -> Value {
        self.masked(&[], self.walk(&self.start(), value))
    }

    /// A copy of `value`, the value found at `key` in the config, with every redacted value
    /// replaced by `***` (the whole value when `key` itself is redacted). It cannot see what
    /// surrounds `value`: prefer [`redact_within`](Self::redact_within) where the whole
    /// config is at hand.
    pub fn redact_at(&self, key: &str, value: &Value) -> Value {
        let at = path::parse(key);
        let mut cursor = self.start();
        for segment in &at {
            cursor = self.step(&cursor, segment);
        }
        self.masked(&at, self.walk(&cursor, value))
    }

    /// The value at `key` inside the config `root`, as it may be shown: `***` where the key,
    /// what surrounds the value (a secret `name` beside a `value`) or the value itself is
    /// secret, the redacted copy otherwise; `None` when `root` has no such key.
    pub fn redact_within(&self, root: &Value, key: &str) -> Option<Value> {
        self.show(root, &path::parse(key))
    }

    /// [`redact_within`](Self::redact_within) for a parsed path.
    pub(crate) fn show(&self, root: &Value, at: &[PathSegment]) -> Option<Value> {
        let mut cursor = self.start();
        let mut node = root;
        for segment in at {
            let parent = node;
            node = path::lookup(parent, std::slice::from_ref(segment))?;
            cursor = self.step(&cursor, segment);
            cursor.matched |= self.secret_by_place(parent, segment);
        }
        Some(self.masked(at, self.walk(&cursor, node)))
    }

    /// This policy, and every value of the secret layers `trees` redacted too (a snapshot's
    /// policy: what its secret layers hold).
    pub(crate) fn with_secret_layers<'a>(
        &self,
        trees: impl IntoIterator<Item = &'a Value>,
    ) -> Self {
        Redaction {
            layers: SecretShape::of(trees),
            ..self.clone()
        }
    }

    /// The shape of what secret layers supplied (a tree whose leaves mark covered paths).
    pub(crate) fn secret_shape(&self) -> Option<&Value> {
        self.layers.as_ref().map(SecretShape::tree)
    }

    /// `config` without anything a secret layer holds (what the last-good file keeps unless
    /// told to keep secrets).
    pub(crate) fn without_secret_layers(&self, config: &Value) -> Value {
        match &self.layers {
            Some(layers) => layers.removed(config),
            None => config.clone(),
        }
    }

    /// `value`, found at `at`, with what secret layers hold there replaced by `***`.
    fn masked(&self, at: &[PathSegment], mut value: Value) -> Value {
        if let Some(layers) = &self.layers {
            layers.mask(at, &mut value);
        }
        value
    }

    fn start(&self) -> GlobCursor {
        GlobCursor::start(&self.globs)
    }

    /// The cursor one key further down, matched when the key holds a secret word.
    fn step(&self, cursor: &GlobCursor, segment: &PathSegment) -> GlobCursor {
        let mut next = cursor.step(&self.globs, segment);
        if let PathSegment::Key(k) = segment {
            next.matched |= self.names.matches(k);
        }
        next
    }

    /// Whether the child `segment` of `parent` is secret by where it sits: the `value` of a
    /// map whose `name` is secret, or the list item after a secret flag.
    fn secret_by_place(&self, parent: &Value, segment: &PathSegment) -> bool {
        match (parent, segment) {
            (Value::Object(map), PathSegment::Key(k)) => k == "value" && self.secret_pair(map),
            (Value::Array(items), PathSegment::Index(i)) => i
                .checked_sub(1)
                .and_then(|p| items.get(p))
                .and_then(Value::as_str)
                .is_some_and(|flag| values::secret_flag(flag, &self.names)),
            _ => false,
        }
    }

    /// A `{name: DB_PASSWORD, value: …}` pair (also `key:` for `name:`).
    fn secret_pair(&self, map: &Map<String, Value>) -> bool {
        ["name", "key"].iter().any(|field| {
            map.get(*field)
                .and_then(Value::as_str)
                .is_some_and(|name| self.names.matches(name))
        })
    }

    fn walk(&self, cursor: &GlobCursor, value: &Value) -> Value {
        if cursor.matched {
            return Value::String(REDACTED.to_owned());
        }
        match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        let segment = PathSegment::Key(k.clone());
                        let mut next = self.step(cursor, &segment);
                        next.matched |= self.secret_by_place(value, &segment);
                        (k.clone(), self.walk(&next, v))
                    })
                    .collect(),
            ),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let segment = PathSegment::Index(i);
                        let mut next = self.step(cursor, &segment);
                        next.matched |= self.secret_by_place(value, &segment);
                        self.walk(&next, v)
                    })
                    .collect(),
            ),
            Value::String(s) if self.by_value && values::carries_credential(s, &self.names) => {
                Value::String(REDACTED.to_owned())
            }
            other => other.clone(),
        }
    }
}

/// Whether `name` (a key, a parameter's or a variable's name) holds a secret word of the
/// default policy.
pub(crate) fn secret_name(name: &str) -> bool {
    static DEFAULTS: std::sync::OnceLock<NameRules> = std::sync::OnceLock::new();
    DEFAULTS.get_or_init(NameRules::defaults).matches(name)
}

#[cfg(test)]
mod tests;
