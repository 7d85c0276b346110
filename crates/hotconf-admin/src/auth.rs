//! Writes need a bearer token, compared in constant time and never printed.

use std::fmt;
use std::sync::Arc;

use axum::http::{header, HeaderMap, StatusCode};
use subtle::ConstantTimeEq;

use crate::AdminError;

/// The bearer token; never printed.
#[derive(Clone)]
pub(crate) struct Token(Arc<[u8]>);

impl Token {
    /// A token from its secret.
    pub(crate) fn new(secret: &str) -> Token {
        Token(Arc::from(secret.as_bytes()))
    }

    /// Compares in constant time (for tokens of the same length; the length itself may leak).
    pub(crate) fn matches(&self, presented: &[u8]) -> bool {
        bool::from(self.0.as_ref().ct_eq(presented))
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Allows a write when the request carries the configured bearer token.
pub(crate) fn authorize(token: Option<&Token>, headers: &HeaderMap) -> Result<(), AdminError> {
    let Some(token) = token else {
        return Err(AdminError::new(
            StatusCode::FORBIDDEN,
            "writes are disabled: no admin token is configured",
        ));
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| bearer(value.as_bytes()));
    match presented {
        Some(presented) if token.matches(presented) => Ok(()),
        Some(_) => Err(AdminError::new(
            StatusCode::UNAUTHORIZED,
            "the bearer token is wrong",
        )),
        None => Err(AdminError::new(
            StatusCode::UNAUTHORIZED,
            "this route needs an `Authorization: Bearer <token>` header",
        )),
    }
}

/// Allows a read, when reads are guarded, for a request carrying one of `tokens` (the read
/// token or the write token).
pub(crate) fn authorize_read(
    tokens: &[Option<&Token>],
    headers: &HeaderMap,
) -> Result<(), AdminError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| bearer(value.as_bytes()));
    match presented {
        // Every token is compared, so the time taken does not tell which one matched.
        Some(presented) => {
            let matched = tokens
                .iter()
                .flatten()
                .fold(false, |any, token| token.matches(presented) | any);
            if matched {
                Ok(())
            } else {
                Err(AdminError::new(
                    StatusCode::UNAUTHORIZED,
                    "the bearer token is wrong",
                ))
            }
        }
        None => Err(AdminError::new(
            StatusCode::UNAUTHORIZED,
            "reads are guarded: this route needs an `Authorization: Bearer <token>` header",
        )),
    }
}

/// The credentials of an `Authorization: Bearer <credentials>` header (scheme case-insensitive).
pub(crate) fn bearer(value: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = value.split_at_checked(7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let rest = rest.trim_ascii();
    (!rest.is_empty()).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_compare_is_exact() {
        let token = Token::new("abc");
        assert!(token.matches(b"abc"));
        assert!(!token.matches(b"abd"));
        assert!(!token.matches(b"ab"));
        assert!(!token.matches(b"abcd"));
        assert!(!token.matches(b""));
    }

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(bearer(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"bearer  abc "), Some(&b"abc"[..]));
        assert_eq!(bearer(b"Basic abc"), None);
        assert_eq!(bearer(b"Bearer "), None);
        assert_eq!(bearer(b"Bear"), None);
    }
}
