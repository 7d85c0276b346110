//! etcd-client's errors, wrapped into hotconf's (never exposed).

use std::future::Future;
use std::time::Duration;

use hotconf_core::{Error, ErrorKind, Result};

/// The server's words when a watch starts below the compaction point.
pub(crate) const COMPACTED: &str = "required revision has been compacted";

/// Cancel reasons and statuses that a fresh auth token cures.
pub(crate) fn is_auth(text: &str) -> bool {
    [
        "invalid auth token",
        "revision of auth store is old",
        "user name is empty",
    ]
    .iter()
    .any(|r| text.contains(r))
}

/// tonic's words for a message above the client's decoding limit.
const TOO_LARGE: &str = "message length too large";
/// Our words for it.
const ANSWER_TOO_LARGE: &str = "an answer is larger than the limit";

/// Wraps a client error, classifying it.
pub(crate) fn from_client(doing: &str, error: etcd_client::Error) -> Error {
    let text = error.to_string();
    if text.contains(TOO_LARGE) {
        // The state (or one watch response) is above the limits: the provider keeps trying,
        // and follows again once it is back under them.
        return Error::new(
            ErrorKind::Parse,
            format!("etcd: {doing} failed: {ANSWER_TOO_LARGE} (max_total_bytes, max_keys)"),
        )
        .with_transient(true)
        .with_cause(error);
    }
    let kind = if text.contains("authentication failed") || text.contains("permission denied") {
        ErrorKind::PermissionDenied
    } else if matches!(
        error,
        etcd_client::Error::InvalidArgs(_) | etcd_client::Error::InvalidUri(_)
    ) {
        ErrorKind::Config
    } else {
        ErrorKind::Unavailable
    };
    // Wrong credentials stay wrong; a config error too. Everything else may heal.
    let transient = !matches!(kind, ErrorKind::Config) && !text.contains("authentication failed");
    Error::new(kind, format!("etcd: {doing} failed"))
        .with_transient(transient)
        .with_cause(error)
}

/// Whether `error` is an answer above the client's message limit.
pub(crate) fn is_too_large(error: &Error) -> bool {
    error.kind() == ErrorKind::Parse && error.message().contains(ANSWER_TOO_LARGE)
}

/// A transient `unavailable` error.
pub(crate) fn unavailable(message: &str) -> Error {
    Error::new(ErrorKind::Unavailable, format!("etcd: {message}")).with_transient(true)
}

/// Runs `future` with a deadline: past it, a transient `unavailable` error saying what timed out.
pub(crate) async fn deadline<T>(
    timeout: Duration,
    doing: &str,
    future: impl Future<Output = T>,
) -> Result<T> {
    tokio::time::timeout(timeout, future)
        .await
        .map_err(|_| unavailable(&format!("{doing} timed out after {timeout:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_deadline_is_a_transient_unavailable_error() {
        let err = deadline(
            Duration::from_millis(50),
            "listing",
            std::future::pending::<()>(),
        )
        .await
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        assert!(err.is_transient());
        assert!(
            err.to_string().contains("listing timed out after 50ms"),
            "{err}"
        );
        assert_eq!(
            deadline(Duration::from_secs(1), "x", async { 7 })
                .await
                .unwrap(),
            7
        );
    }
}
