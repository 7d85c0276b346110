//! `Secret`: a value that never prints.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A password, a token, or any value that must not leave the process. `Debug`, `Display`
/// and `Serialize` give `***`; only [`Secret::expose`] gives the value.
///
/// It can sit in a config struct: it deserializes as the value it wraps.
///
/// ```
/// use hotconf_core::Secret;
/// #[derive(Debug, serde::Deserialize)]
/// struct Db { user: String, password: Secret }
///
/// let db: Db = serde_json::from_str(r#"{"user":"app","password":"hunter2"}"#).unwrap();
/// assert_eq!(db.password.expose(), "hunter2");
/// assert_eq!(format!("{db:?}"), r#"Db { user: "app", password: *** }"#);
/// assert_eq!(serde_json::to_string(&db.password).unwrap(), r#""***""#);
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret<T = String>(T);

impl<T> Secret<T> {
    /// Wraps a value.
    pub fn new(value: impl Into<T>) -> Self {
        Secret(value.into())
    }

    /// The value itself, for the one place that uses it.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// The value, unwrapped.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Secret<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Secret)
    }
}

/// `body` (a server's answer, before it goes into an error) with every occurrence of `secret`
/// replaced by `***`; an empty secret changes nothing. For backends that send a token a server
/// may echo back.
pub fn redact_secret(body: &[u8], secret: &str) -> Vec<u8> {
    let secret = secret.as_bytes();
    if secret.is_empty() {
        return body.to_vec();
    }
    let mut out = Vec::with_capacity(body.len());
    let mut rest = body;
    while !rest.is_empty() {
        if rest.starts_with(secret) {
            out.extend_from_slice(b"***");
            rest = &rest[secret.len()..];
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out
}

/// Serializes as `***`: a config printed or sent somewhere keeps its secrets.
impl<T> Serialize for Secret<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_secret_replaces_every_occurrence() {
        assert_eq!(redact_secret(b"a-tok-b-tok", "tok"), b"a-***-b-***");
        assert_eq!(redact_secret(b"tototok", "tok"), b"toto***");
        assert_eq!(redact_secret(b"abc", ""), b"abc");
        assert_eq!(redact_secret(b"", "x"), b"");
    }
}
