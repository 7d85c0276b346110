//! [`View`]: what the admin router needs from a running reloader, and its answers.

use std::fmt;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::future::BoxFuture;
use hotconf_core::Format;
use serde_json::{json, Value};

use crate::body::ErrorBody;

/// What the admin router needs from a running reloader, type-erased.
///
/// hotconf's reloader implements it; tests implement it with a fake. It answers in JSON, so the
/// router needs neither the config type nor hotconf's reloader: the [`body`](crate::body)
/// module holds the types each answer is built from. Every value it returns is sent as is, so
/// an implementation returns only redacted values (guarantee G12 in `docs/concepts.md`).
pub trait View: Send + Sync + 'static {
    /// The applied version, its origin, pin state and sources: the body of `GET /config/version`.
    fn version(&self) -> Value;
    /// Whether the application is ready to serve: `GET /readyz`.
    fn ready(&self) -> Readiness;
    /// The applied config, already redacted: the body of `GET /config`.
    fn config(&self) -> Value;
    /// The kept versions, oldest first: the body of `GET /config/history`.
    fn history(&self) -> BoxFuture<'_, Result<Value, AdminError>>;
    /// The differences between two kept versions: the body of `GET /config/diff`.
    fn diff(&self, from: u64, to: u64) -> BoxFuture<'_, Result<Value, AdminError>>;
    /// Which layer a key's value comes from: the body of `GET /config/explain`.
    fn explain<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Value, AdminError>>;
    /// Pins a kept version: `POST /config/rollback/{version}`.
    fn rollback(&self, version: u64) -> BoxFuture<'_, Result<Value, AdminError>>;
    /// Resumes following the sources: `POST /config/unpin`.
    fn unpin(&self) -> BoxFuture<'_, Result<Value, AdminError>>;
    /// Whether the running service would accept `document` (in `format`) as the next state
    /// of the layer `layer`, applying nothing: the body of `POST /config/check`, a
    /// [`CheckBody`](crate::body::CheckBody) with `200` whether accepted or rejected; an
    /// [`AdminError`] only when the request cannot be answered (`400` for an unknown layer).
    ///
    /// The default answers `501`: a view that cannot check (a fake, a proxy) need not.
    fn check<'a>(
        &'a self,
        layer: &'a str,
        format: Format,
        document: Vec<u8>,
    ) -> BoxFuture<'a, Result<Value, AdminError>> {
        let _ = (layer, format, document);
        Box::pin(async {
            Err(AdminError::new(
                StatusCode::NOT_IMPLEMENTED,
                "this admin API cannot check a proposed layer",
            ))
        })
    }
}

/// The answer of [`View::ready`].
#[derive(Debug, Clone, PartialEq)]
pub struct Readiness {
    /// `true` answers `200`, `false` answers `503`.
    pub ready: bool,
    /// More about the state; an object's fields join the body next to `ready`, any other value
    /// goes under `detail`.
    pub detail: Value,
}

impl Readiness {
    /// Ready, with no detail.
    pub fn ready() -> Self {
        Self {
            ready: true,
            detail: Value::Null,
        }
    }

    /// Not ready, with a reason (sent as `reason`).
    pub fn not_ready(reason: impl Into<String>) -> Self {
        Self {
            ready: false,
            detail: json!({ "reason": reason.into() }),
        }
    }

    /// The body of `GET /readyz`: `ready` and the detail's fields, keys sorted.
    pub(crate) fn body(&self) -> Value {
        let mut body = serde_json::Map::new();
        body.insert("ready".into(), Value::Bool(self.ready));
        match &self.detail {
            Value::Null => {}
            Value::Object(fields) => {
                for (name, value) in fields {
                    if name != "ready" {
                        body.insert(name.clone(), value.clone());
                    }
                }
            }
            other => {
                body.insert("detail".into(), other.clone());
            }
        }
        Value::Object(body)
    }
}

/// `200` with the body when ready, `503` with it otherwise.
impl IntoResponse for Readiness {
    fn into_response(self) -> Response {
        let status = if self.ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        (status, Json(self.body())).into_response()
    }
}

/// An error answer: a 4xx or 5xx status and a message, sent as an [`ErrorBody`]
/// (`{"error":"message"}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminError {
    status: StatusCode,
    message: String,
}

impl AdminError {
    /// An error with this status; a status that is not a client or server error becomes `500`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        let status = if status.is_client_error() || status.is_server_error() {
            status
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        Self {
            status,
            message: message.into(),
        }
    }

    /// `400 Bad Request`: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// `404 Not Found`: e.g. a version that is no longer kept.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// `409 Conflict`: the request does not fit the current state.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    /// `503 Service Unavailable`: e.g. the reloader has stopped.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }

    /// `500 Internal Server Error`.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// The status of the answer.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message of the answer.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.status)
    }
}

impl std::error::Error for AdminError {}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.message,
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_status_is_always_an_error() {
        assert_eq!(AdminError::new(StatusCode::OK, "x").status(), 500);
        assert_eq!(AdminError::not_found("x").status(), 404);
    }

    #[test]
    fn readiness_body_merges_detail() {
        let body = Readiness {
            ready: false,
            detail: json!({"reason": "waiting", "ready": true}),
        };
        assert_eq!(body.body(), json!({"ready": false, "reason": "waiting"}));
        let body = Readiness {
            ready: true,
            detail: json!(3),
        };
        assert_eq!(body.body(), json!({"ready": true, "detail": 3}));
        assert_eq!(Readiness::ready().body(), json!({"ready": true}));
    }

    #[test]
    fn readiness_keys_are_sent_sorted() {
        let body = Readiness {
            ready: true,
            detail: json!({"version": 2, "origin": {"kind": "disk"}, "warning": "w"}),
        };
        assert_eq!(
            body.body().to_string(),
            r#"{"origin":{"kind":"disk"},"ready":true,"version":2,"warning":"w"}"#
        );
        assert_eq!(
            Readiness::not_ready("waiting for the first valid config")
                .body()
                .to_string(),
            r#"{"ready":false,"reason":"waiting for the first valid config"}"#
        );
    }
}
