//! etcd-client's errors, wrapped into hotconf's (never exposed).

use hotconf_core::{Error, ErrorKind};

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

/// Wraps a client error, classifying it.
pub(crate) fn from_client(doing: &str, error: etcd_client::Error) -> Error {
    let text = error.to_string();
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
