//! Consul's wire format: keys in URLs, the `X-Consul-Index` header, and the JSON entries of a
//! KV read (base64 values, `null` for empty, never assumed to be UTF-8).

use base64::Engine;
use hotconf_core::{Error, ErrorKind, Result};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Deserialize;

/// Everything but RFC 3986's unreserved characters is escaped inside a key segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A key as a URL path: each `/`-separated segment percent-encoded, the `/`s kept.
pub(crate) fn encode_key(key: &str) -> String {
    key.split('/')
        .map(|segment| utf8_percent_encode(segment, SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// A query parameter's value, percent-encoded.
pub(crate) fn encode_param(value: &str) -> String {
    utf8_percent_encode(value, SEGMENT).to_string()
}

/// The blocking index of a 200 or 404: a missing header or `0` counts as 1 ("always safe").
///
/// # Errors
/// [`ErrorKind::Parse`] when the header is not a decimal number.
pub(crate) fn parse_index(header: Option<&[u8]>) -> Result<u64> {
    let Some(raw) = header else { return Ok(1) };
    let index = std::str::from_utf8(raw)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Parse,
                format!(
                    "the X-Consul-Index header `{}` is not a number",
                    String::from_utf8_lossy(raw)
                ),
            )
            .with_transient(true)
        })?;
    Ok(index.max(1))
}

/// One KV entry, its value decoded to bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KvEntry {
    /// The full key.
    pub key: String,
    /// The value's bytes (empty for a `null` value); not necessarily UTF-8.
    pub value: Vec<u8>,
    /// The opaque flags an application attached.
    pub flags: u64,
    /// The index that created the entry.
    pub create_index: u64,
    /// The index of the entry's last change.
    pub modify_index: u64,
    /// How many times a lock was acquired on the entry.
    pub lock_index: u64,
    /// The session holding the entry's lock, if any.
    pub session: Option<String>,
}

/// `structs.DirEntry` as Consul serializes it (field order not relied upon).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DirEntry {
    key: String,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    flags: u64,
    #[serde(default)]
    create_index: u64,
    #[serde(default)]
    modify_index: u64,
    #[serde(default)]
    lock_index: u64,
    #[serde(default)]
    session: Option<String>,
}

/// Decodes the body of a 200 KV read.
///
/// # Errors
/// [`ErrorKind::Parse`] for a body that is not a JSON array of entries (naming `requested`), or a
/// value that is not base64 (naming the entry's key). Both transient: the next read may be good.
pub(crate) fn decode_entries(body: &[u8], requested: &str) -> Result<Vec<KvEntry>> {
    let entries: Vec<DirEntry> = serde_json::from_slice(body).map_err(|e| {
        Error::new(
            ErrorKind::Parse,
            format!("Consul answered a read of `{requested}` with a body that is not KV entries"),
        )
        .with_key(requested.to_owned())
        .with_transient(true)
        .with_cause(e)
    })?;
    entries
        .into_iter()
        .map(|entry| {
            let value = match entry.value.as_deref() {
                None => Vec::new(),
                Some(text) => base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(|e| {
                        Error::new(
                            ErrorKind::Parse,
                            format!("the value of `{}` is not base64", entry.key),
                        )
                        .with_key(entry.key.clone())
                        .with_transient(true)
                        .with_cause(e)
                    })?,
            };
            Ok(KvEntry {
                key: entry.key,
                value,
                flags: entry.flags,
                create_index: entry.create_index,
                modify_index: entry.modify_index,
                lock_index: entry.lock_index,
                session: entry.session.filter(|s| !s.is_empty()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_encoded_per_segment() {
        assert_eq!(encode_key("app/db/port"), "app/db/port");
        assert_eq!(encode_key("app/a b/100%"), "app/a%20b/100%25");
        assert_eq!(encode_key("app/é?#&"), "app/%C3%A9%3F%23%26");
        assert_eq!(encode_key("app/"), "app/");
    }

    #[test]
    fn index_header_rules() {
        assert_eq!(parse_index(None).unwrap(), 1);
        assert_eq!(parse_index(Some(b"0")).unwrap(), 1);
        assert_eq!(parse_index(Some(b"42")).unwrap(), 42);
        assert!(parse_index(Some(b"x1")).is_err());
    }

    #[test]
    fn entries_decode_null_binary_and_huge_flags() {
        let body = br#"[{"LockIndex":0,"Key":"app/db","Flags":18446744073709551615,"Value":"AP8=","CreateIndex":100,"ModifyIndex":200},
            {"Key":"app/empty","Value":null,"Session":"s-1","CreateIndex":1,"ModifyIndex":2}]"#;
        let entries = decode_entries(body, "app/").unwrap();
        assert_eq!(entries[0].value, [0u8, 255]);
        assert_eq!(entries[0].flags, u64::MAX);
        assert_eq!(entries[1].value, Vec::<u8>::new());
        assert_eq!(entries[1].session.as_deref(), Some("s-1"));
        let err = decode_entries(b"{garbage", "app/").unwrap_err();
        assert_eq!(err.key(), Some("app/"), "{err}");
        let err = decode_entries(br#"[{"Key":"app/x","Value":"!!"}]"#, "app/").unwrap_err();
        assert_eq!(err.key(), Some("app/x"), "{err}");
    }
}
