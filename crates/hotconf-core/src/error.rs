//! The one error type of hotconf: a kind, a transient/permanent flag, the source and key it
//! concerns, a message, and an optional wrapped cause.

use std::fmt;

use crate::layer_id::LayerId;

/// A boxed cause: backend client errors are wrapped here, never exposed as public types.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Shorthand for `Result<T, hotconf_core::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, coarse enough to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The source could not be reached (connection refused, timeout, server down).
    Unavailable,
    /// The source, key or file does not exist.
    NotFound,
    /// The source refused our credentials.
    PermissionDenied,
    /// Content could not be parsed in its format (or is not UTF-8, too large, too deep).
    Parse,
    /// Content parsed but does not fit the typed config (wrong type, missing field).
    Type,
    /// A validator rejected the config.
    Validation,
    /// The configuration of hotconf itself is wrong (a bad URI, an unknown option).
    Config,
    /// The reloader or provider has shut down.
    Closed,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// A short, stable, lower-case name used in events and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::NotFound => "not_found",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::Parse => "parse",
            ErrorKind::Type => "type",
            ErrorKind::Validation => "validation",
            ErrorKind::Config => "config",
            ErrorKind::Closed => "closed",
            ErrorKind::Other => "other",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of every hotconf operation.
///
/// `Display` prints one line: `<kind> error in <source> at key <key>: <message>: <cause>`, leaving
/// out the parts that are unknown. A transient error means "the provider keeps trying"; a
/// permanent one means "this will not fix itself".
pub struct Error {
    kind: ErrorKind,
    transient: bool,
    source_name: Option<String>,
    layer: Option<LayerId>,
    key: Option<String>,
    message: String,
    cause: Option<BoxError>,
}

/// The status of a server's answer that was an error, kept as the cause of the errors built
/// from it: a watch loop backs off longer from a server that answered (and may be overloaded)
/// than from one it could not reach ([`Error::is_answer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpStatus(pub u16);

impl fmt::Display for HttpStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.0)
    }
}

impl std::error::Error for HttpStatus {}

impl Error {
    /// Whether this error is a server's answer (its cause an [`HttpStatus`]), not a transport
    /// failure.
    pub fn is_answer(&self) -> bool {
        self.cause
            .as_ref()
            .is_some_and(|cause| cause.is::<HttpStatus>())
    }

    /// A new error of `kind`. Transient by default for [`ErrorKind::Unavailable`], permanent otherwise.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            transient: matches!(kind, ErrorKind::Unavailable),
            source_name: None,
            layer: None,
            key: None,
            message: message.into(),
            cause: None,
        }
    }

    /// Marks the error as transient (`true`: the provider keeps trying) or permanent.
    pub fn with_transient(mut self, transient: bool) -> Self {
        self.transient = transient;
        self
    }

    /// Names the source the error concerns (already redacted: never pass a URI with a password).
    pub fn with_source_name(mut self, source: impl Into<String>) -> Self {
        self.source_name = Some(source.into());
        self
    }

    /// Names the layer the error concerns (its printable name becomes the source's name). The
    /// reloader does this for every error of a layer, so a rejection is blamed by position.
    pub fn with_layer(mut self, layer: LayerId) -> Self {
        self.source_name = Some(layer.name().to_owned());
        self.layer = Some(layer);
        self
    }

    /// The layer the error concerns, once a reloader named it.
    pub fn layer(&self) -> Option<&LayerId> {
        self.layer.as_ref()
    }

    /// Names the key path (`db.port`) the error concerns.
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Wraps the underlying cause (a backend client error, an I/O error, a parser error).
    pub fn with_cause(mut self, cause: impl Into<BoxError>) -> Self {
        self.cause = Some(cause.into());
        self
    }

    /// The kind of error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether retrying may succeed.
    pub fn is_transient(&self) -> bool {
        self.transient
    }

    /// The source the error concerns, if known.
    pub fn source_name(&self) -> Option<&str> {
        self.source_name.as_deref()
    }

    /// The key path the error concerns, if known.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// The message, without source, key or cause.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Names the source unless the error already names one.
    pub fn or_source_name(mut self, source: &str) -> Self {
        if self.source_name.is_none() {
            self.source_name = Some(source.to_owned());
        }
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} error", self.kind)?;
        if let Some(source) = &self.source_name {
            write!(f, " in {source}")?;
        }
        if let Some(key) = &self.key {
            write!(f, " at key `{key}`")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(cause) = &self.cause {
            write!(f, ": {cause}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("transient", &self.transient)
            .field("source", &self.source_name)
            .field("key", &self.key)
            .field("message", &self.message)
            .field("cause", &self.cause.as_ref().map(|c| c.to_string()))
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|c| c as &(dyn std::error::Error + 'static))
    }
}

/// The message a panic carried (a `&str` or a `String`), for the error that reports it.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_answer_is_told_from_a_transport_failure() {
        let answered = Error::new(ErrorKind::Unavailable, "busy").with_cause(HttpStatus(503));
        assert!(answered.is_answer());
        assert!(answered.to_string().contains("HTTP 503"), "{answered}");
        let unreachable = Error::new(ErrorKind::Unavailable, "down")
            .with_cause(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(!unreachable.is_answer());
        assert!(!Error::new(ErrorKind::Unavailable, "no cause").is_answer());
    }

    use super::*;

    #[test]
    fn display_is_one_line_with_every_known_part() {
        let err = Error::new(ErrorKind::Type, "expected u16")
            .with_source_name("etcd://127.0.0.1:2379/app")
            .with_key("db.port")
            .with_cause(std::io::Error::other("boom"));
        assert_eq!(
            err.to_string(),
            "type error in etcd://127.0.0.1:2379/app at key `db.port`: expected u16: boom"
        );
        assert!(!err.is_transient());
        assert!(Error::new(ErrorKind::Unavailable, "down").is_transient());
    }
}
