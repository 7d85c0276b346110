//! The routes: one handler per route, the request guard (body limit, deadline, headers) and
//! the query parsing. Each answer is a body of [`crate::body`], an [`AdminError`] or the
//! metrics text.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use prometheus_client::registry::Registry;
use serde::Deserialize;
use serde_json::Value;

use crate::access::{self, Access};
use crate::auth::{authorize, Token};
use crate::body::HealthBody;
use crate::check;
use crate::page::Page;
use crate::{
    AdminError, View, MAX_EXPLAIN_KEY_BYTES, MAX_EXPLAIN_KEY_SEGMENTS, OPENMETRICS_CONTENT_TYPE,
    PROMETHEUS_TEXT_CONTENT_TYPE,
};

/// Every route, with the body limit, the host and token rules, and the request deadline.
pub(crate) fn router(shared: Shared, access: Access, limits: Limits) -> Router {
    Router::new()
        .route("/", get(page_handler))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/config", get(config))
        .route("/config/version", get(version))
        .route("/config/history", get(history))
        .route("/config/diff", get(diff))
        .route("/config/explain", get(explain))
        .route("/config/rollback/{version}", post(rollback))
        .route("/config/unpin", post(unpin))
        .route("/config/check", post(check::check))
        .route("/config/schema", get(check::schema))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(Arc::new(shared))
        .layer(DefaultBodyLimit::max(limits.body))
        .layer(middleware::from_fn_with_state(access, access::check))
        .layer(middleware::from_fn_with_state(limits, guard))
}

/// What the handlers share.
pub(crate) struct Shared {
    pub(crate) view: Arc<dyn View>,
    /// The write token; `None` disables rollback and unpin.
    pub(crate) token: Option<Token>,
    pub(crate) registry: Option<Arc<Registry>>,
    pub(crate) page: Page,
    /// The JSON Schema `GET /config/schema` serves, serialized once.
    pub(crate) schema: Option<axum::body::Bytes>,
    /// The largest document `POST /config/check` reads.
    pub(crate) check_body_limit: usize,
}

type AppState = State<Arc<Shared>>;

/// The largest request body (of `POST /config/check`, and of any other route) and the
/// deadline of one request.
#[derive(Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) body: usize,
    pub(crate) check_body: usize,
    pub(crate) timeout: Duration,
}

/// The path of the one route whose body is a document, with a limit of its own.
const CHECK_PATH: &str = "/config/check";

/// Rejects a declared oversized body before any handler runs, and puts a deadline on the request.
async fn guard(State(limits): State<Limits>, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    let limit = if request.uri().path() == CHECK_PATH {
        limits.check_body
    } else {
        limits.body
    };
    if declared.is_some_and(|length| length > limit as u64) {
        return check::too_large(limit).into_response();
    }
    let mut response = match tokio::time::timeout(limits.timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => AdminError::unavailable(format!(
            "the request did not finish within its deadline of {} ms",
            limits.timeout.as_millis()
        ))
        .into_response(),
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

async fn not_found() -> AdminError {
    AdminError::not_found("no such route; see the admin routes in hotconf-admin's documentation")
}

async fn method_not_allowed() -> AdminError {
    AdminError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this method is not allowed on this route (reads are GET; rollback, unpin and check are \
         POST)",
    )
}

async fn page_handler(State(shared): AppState) -> Response {
    shared.page.response()
}

async fn healthz() -> Json<HealthBody> {
    Json(HealthBody::ALIVE)
}

async fn readyz(State(shared): AppState) -> Response {
    shared.view.ready().into_response()
}

/// The registry in the format the scraper asks for: OpenMetrics when its `Accept` header names
/// it (Prometheus servers do), else the Prometheus text format 0.0.4 (curl, `promtool check
/// metrics`, older scrapers).
async fn metrics(State(shared): AppState, headers: HeaderMap) -> Result<Response, AdminError> {
    let registry = shared.registry.as_ref().ok_or_else(|| {
        AdminError::not_found("metrics are not enabled: no registry is configured")
    })?;
    let openmetrics = headers.get_all(header::ACCEPT).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.contains("application/openmetrics-text"))
    });
    let mut body = String::new();
    let (encoded, content_type) = if openmetrics {
        let encoded = prometheus_client::encoding::text::encode(&mut body, registry);
        (encoded, OPENMETRICS_CONTENT_TYPE)
    } else {
        let encoded = prometheus_client::encoding::prometheus_text::encode(&mut body, registry);
        (encoded, PROMETHEUS_TEXT_CONTENT_TYPE)
    };
    encoded.map_err(|_| AdminError::internal("the metrics could not be encoded"))?;
    Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
}

/// Redacting a large config is CPU work in proportion to its size: it runs on the blocking
/// pool, not on a runtime worker that probes and the reloader share.
async fn config(State(shared): AppState) -> Result<Json<Value>, AdminError> {
    tokio::task::spawn_blocking(move || shared.view.config())
        .await
        .map(Json)
        .map_err(|_| AdminError::internal("the config could not be shown"))
}

async fn version(State(shared): AppState) -> Json<Value> {
    Json(shared.view.version())
}

async fn history(State(shared): AppState) -> Result<Json<Value>, AdminError> {
    shared.view.history().await.map(Json)
}

/// Query parameters, all optional so that a missing one gets a clear message.
#[derive(Deserialize)]
struct Params {
    from: Option<String>,
    to: Option<String>,
    key: Option<String>,
}

fn params(query: Result<Query<Params>, QueryRejection>) -> Result<Params, AdminError> {
    query
        .map(|Query(params)| params)
        .map_err(|_| AdminError::bad_request("the query string is malformed"))
}

fn version_param(name: &str, value: Option<&str>) -> Result<u64, AdminError> {
    let value = value
        .ok_or_else(|| AdminError::bad_request(format!("missing query parameter `{name}`")))?;
    parse_version(value).map_err(|_| {
        AdminError::bad_request(format!(
            "query parameter `{name}` must be a version number (an unsigned integer)"
        ))
    })
}

fn parse_version(value: &str) -> Result<u64, std::num::ParseIntError> {
    // `u64::from_str` accepts a leading `+`; a version number is digits only.
    if value.starts_with('+') {
        return "x".parse();
    }
    value.parse()
}

async fn diff(
    State(shared): AppState,
    query: Result<Query<Params>, QueryRejection>,
) -> Result<Json<Value>, AdminError> {
    let params = params(query)?;
    let from = version_param("from", params.from.as_deref())?;
    let to = version_param("to", params.to.as_deref())?;
    shared.view.diff(from, to).await.map(Json)
}

async fn explain(
    State(shared): AppState,
    query: Result<Query<Params>, QueryRejection>,
) -> Result<Json<Value>, AdminError> {
    let params = params(query)?;
    let key = params
        .key
        .filter(|key| !key.is_empty())
        .ok_or_else(|| AdminError::bad_request("missing query parameter `key`"))?;
    if key.len() > MAX_EXPLAIN_KEY_BYTES || key.split(['.', '[']).count() > MAX_EXPLAIN_KEY_SEGMENTS
    {
        return Err(AdminError::bad_request(format!(
            "the key is too long: at most {MAX_EXPLAIN_KEY_BYTES} bytes and \
             {MAX_EXPLAIN_KEY_SEGMENTS} segments"
        )));
    }
    shared.view.explain(&key).await.map(Json)
}

async fn rollback(
    State(shared): AppState,
    headers: HeaderMap,
    version: Result<Path<String>, PathRejection>,
) -> Response {
    if let Err(error) = authorize(shared.token.as_ref(), &headers) {
        return error.into_response();
    }
    let version = match version.map(|Path(version)| parse_version(&version)) {
        Ok(Ok(version)) => version,
        _ => {
            return AdminError::bad_request(
                "the version to roll back to must be a version number (an unsigned integer)",
            )
            .into_response()
        }
    };
    respond(shared.view.rollback(version)).await
}

async fn unpin(State(shared): AppState, headers: HeaderMap) -> Response {
    if let Err(error) = authorize(shared.token.as_ref(), &headers) {
        return error.into_response();
    }
    respond(shared.view.unpin()).await
}

/// The view's answer: its JSON with `200`, or the error.
pub(crate) async fn respond(answer: impl Future<Output = Result<Value, AdminError>>) -> Response {
    match answer.await {
        Ok(body) => Json(body).into_response(),
        Err(error) => error.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_digits_only() {
        assert_eq!(parse_version("12").ok(), Some(12));
        assert!(parse_version("+12").is_err());
        assert!(parse_version("-1").is_err());
        assert!(parse_version("abc").is_err());
        assert!(parse_version("").is_err());
        assert!(parse_version("99999999999999999999999").is_err());
    }
}
