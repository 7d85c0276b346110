//! Reading an answer's body: a success's whole under a limit, an error page's first bytes.

use hotconf_core::provider::{redact_secret, BoundedBody};
use hotconf_core::Error;
use reqwest::Response;

/// How much of an error page is kept (for its message); the rest is not read.
pub const ERROR_PAGE_BYTES: usize = 4 << 10;

/// Why a body could not be read whole: the backend words the error (it knows what was asked).
#[derive(Debug)]
pub enum BodyError {
    /// The body passed the limit (or declared a length above it); the message says how large.
    TooLarge(Error),
    /// The connection failed while the body was read.
    Transport(reqwest::Error),
}

/// Reads `response`'s body chunk by chunk, refusing it (and dropping the connection) as soon
/// as it passes `limit` bytes, or at once when its `Content-Length` does.
///
/// # Errors
/// [`BodyError::TooLarge`] or [`BodyError::Transport`]; the transport error carries no URL.
pub async fn read_body(mut response: Response, limit: usize) -> Result<Vec<u8>, BodyError> {
    let mut body =
        BoundedBody::new(limit, response.content_length()).map_err(BodyError::TooLarge)?;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| BodyError::Transport(e.without_url()))?
    {
        body.push(&chunk).map_err(BodyError::TooLarge)?;
    }
    Ok(body.into_bytes())
}

/// [`read_body`] with its failures worded for `backend` while `doing` `what`: a body past its
/// limit is a transient parse error saying how large, a cut connection a
/// [`transport_error`](crate::transport_error).
///
/// # Errors
/// Those two.
pub async fn read_answer(
    response: Response,
    limit: usize,
    backend: &str,
    doing: &str,
    what: &str,
) -> hotconf_core::Result<Vec<u8>> {
    read_body(response, limit).await.map_err(|e| match e {
        BodyError::TooLarge(e) => crate::too_large(backend, doing, what, &e),
        BodyError::Transport(e) => crate::transport_error(backend, doing, what, e),
    })
}

/// The first [`ERROR_PAGE_BYTES`] of an error page (what could be read of them, the rest
/// unread), with each of `secrets` blanked as it is and as a form encodes it: a careless proxy
/// may echo the request, its token header or its login form. A secret that starts within the
/// kept bytes is read whole before it is blanked, so a cut never leaves its first bytes.
pub async fn read_error_page(mut response: Response, secrets: &[&str]) -> Vec<u8> {
    let longest = secrets.iter().map(|s| s.len()).max().unwrap_or(0);
    // A form-encoded byte takes up to three.
    let max = ERROR_PAGE_BYTES + 3 * longest;
    let mut body = Vec::new();
    while body.len() < max {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = max - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        body = redact_secret(&body, secret);
        body = redact_secret(&body, &form_encoded(secret));
    }
    body.truncate(ERROR_PAGE_BYTES);
    body
}

/// An error page's text for a message: trimmed, at most 200 characters (then `…`).
pub fn error_text(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let mut cut: String = text.chars().take(200).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    cut
}

/// `value` as `application/x-www-form-urlencoded` encodes it.
fn form_encoded(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_text_is_trimmed_and_cut_on_a_character() {
        assert_eq!(error_text(b"  no  \n"), "no");
        let long = "é".repeat(300);
        let text = error_text(long.as_bytes());
        assert_eq!(text.chars().count(), 201);
        assert!(text.ends_with('…'));
    }

    #[test]
    fn form_encoding_matches_a_browsers() {
        assert_eq!(form_encoded("p@ss w*"), "p%40ss+w*");
    }
}
