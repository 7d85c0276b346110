//! Apollo's wire format: encoded paths and queries, the access-key signature, and the JSON of
//! `/configs`, `/notifications/v2` and `/services/config`.

use std::collections::BTreeMap;

use base64::Engine;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::{Deserialize, Serialize};

/// Everything but RFC 3986's unreserved characters is escaped: what is signed is then exactly
/// what is sent (no parser re-encodes it on the way).
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A path segment or query value, percent-encoded.
pub(crate) fn encode(value: &str) -> String {
    utf8_percent_encode(value, UNRESERVED).to_string()
}

/// Apollo's access-key signature: Base64(HMAC-SHA1(secret, `timestamp + "\n" + path_with_query`)).
pub(crate) fn sign(secret: &str, timestamp_ms: i64, path_with_query: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret.as_bytes());
    let tag = ring::hmac::sign(
        &key,
        format!("{timestamp_ms}\n{path_with_query}").as_bytes(),
    );
    base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
}

/// A namespace's release as `/configs` answers it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ApolloConfig {
    /// The app id.
    #[serde(default)]
    pub app_id: String,
    /// The cluster that served it (`default` when the client's cluster has no release).
    #[serde(default)]
    pub cluster: String,
    /// The namespace (without a `.properties` suffix).
    #[serde(default)]
    pub namespace_name: String,
    /// The key/value pairs; a namespace with a suffix has one, `content`.
    #[serde(default)]
    pub configurations: BTreeMap<String, String>,
    /// The release key: which release this is.
    #[serde(default)]
    pub release_key: String,
}

/// One entry of a long poll, sent or answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Notification {
    /// The namespace, as the client names it.
    pub namespace_name: String,
    /// The last notification id seen (-1 before the first).
    pub notification_id: i64,
    /// The server's `messages` (`{"details": {"app+cluster+namespace": id}}`), passed on to the
    /// read that follows so a multi-instance config service serves the new release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<serde_json::Value>,
}

impl Notification {
    /// The entry of `namespace` at `id`.
    pub fn new(namespace: impl Into<String>, id: i64) -> Self {
        Notification {
            namespace_name: namespace.into(),
            notification_id: id,
            messages: None,
        }
    }
}

/// One config service listed by a meta server.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ServiceDto {
    #[serde(default)]
    pub(crate) homepage_url: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_of_apollos_documented_example() {
        assert_eq!(
            sign(
                "df23df3f59884980844ff3dada30fa97",
                1_576_478_257_344,
                "/configs/100004458/default/application?ip=10.0.0.1"
            ),
            "EoKyziXvKqzHgwx+ijDJwgVTDgE="
        );
    }

    #[test]
    fn encoding_leaves_only_unreserved_characters() {
        assert_eq!(encode("app.yaml"), "app.yaml");
        assert_eq!(encode(r#"[{"a":1}]"#), "%5B%7B%22a%22%3A1%7D%5D");
        assert_eq!(encode("a b+c"), "a%20b%2Bc");
    }
}
