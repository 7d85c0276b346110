//! The admin page: one embedded HTML file, served with a strict Content-Security-Policy.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// The page as written; `__HOTCONF_WRITES__` and `__HOTCONF_READS_GUARDED__` become `true` or
/// `false`.
const TEMPLATE: &str = include_str!("page.html");
const WRITES_PLACEHOLDER: &str = "__HOTCONF_WRITES__";
const READS_PLACEHOLDER: &str = "__HOTCONF_READS_GUARDED__";

/// The page with the write switch filled in, and its Content-Security-Policy.
pub(crate) struct Page {
    html: axum::body::Bytes,
    csp: HeaderValue,
}

impl Page {
    pub(crate) fn new(writes: bool, reads_guarded: bool) -> Self {
        let flag = |on: bool| if on { "true" } else { "false" };
        let html = TEMPLATE
            .replace(WRITES_PLACEHOLDER, flag(writes))
            .replace(READS_PLACEHOLDER, flag(reads_guarded));
        // Inline code runs only if its hash is listed: no other script or style can run, even
        // one that a value managed to inject into the DOM.
        let script = hashes(&html, "<script>", "</script>");
        let style = hashes(&html, "<style>", "</style>");
        let csp = format!(
            "default-src 'none'; script-src {script}; style-src {style}; connect-src 'self'; \
             img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        );
        let csp = HeaderValue::from_str(&csp).expect("the policy is ASCII");
        Self {
            html: html.into(),
            csp,
        }
    }

    pub(crate) fn response(&self) -> Response {
        (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                ),
                (header::CONTENT_SECURITY_POLICY, self.csp.clone()),
                (
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("no-referrer"),
                ),
                (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            ],
            self.html.clone(),
        )
            .into_response()
    }
}

/// The CSP hash sources of every `open…close` block of `html`.
fn hashes(html: &str, open: &str, close: &str) -> String {
    let mut sources = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find(open) {
        let body = &rest[start + open.len()..];
        let Some(end) = body.find(close) else { break };
        let digest = Sha256::digest(&body.as_bytes()[..end]);
        sources.push(format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(digest)
        ));
        rest = &body[end + close.len()..];
    }
    if sources.is_empty() {
        "'none'".to_owned()
    } else {
        sources.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_lists_the_inline_blocks() {
        let page = Page::new(true, false);
        let csp = page.csp.to_str().unwrap();
        assert_eq!(csp.matches("'sha256-").count(), 2, "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        let html = std::str::from_utf8(&page.html).unwrap();
        assert!(html.contains("data-writes=\"true\""));
        assert!(!html.contains(WRITES_PLACEHOLDER));
        assert!(std::str::from_utf8(&Page::new(false, true).html)
            .unwrap()
            .contains("data-writes=\"false\" data-reads-guarded=\"true\""));
        assert!(!html.contains(READS_PLACEHOLDER));
    }

    #[test]
    fn hash_of_a_known_block() {
        // printf 'x' | openssl dgst -sha256 -binary | base64
        assert_eq!(
            hashes("<script>x</script>", "<script>", "</script>"),
            "'sha256-LXEWQrcmsEQBYnyp+6wy9chTD7GQPMTbAiWHF5IaSIE='"
        );
        assert_eq!(hashes("none here", "<script>", "</script>"), "'none'");
    }
}
