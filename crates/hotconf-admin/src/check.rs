//! `POST /config/check` and `GET /config/schema`: what a running service says of a layer's
//! document before anyone publishes it, and the JSON Schema the application gave.
//!
//! A check needs the write token, as rollback does: it runs the application's validators
//! (an async one may open a connection) on a document the caller chose. The document is read
//! no further than [`Admin::check_body_limit`](crate::Admin::check_body_limit) (`413` past it);
//! its format is `?format=` or else the `Content-Type`. The answer is `200` whether the service
//! would accept the document or reject it ([`CheckBody`](crate::body::CheckBody)): a rejection
//! is an answer, not a failed request.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use hotconf_core::Format;
use serde::Deserialize;

use crate::auth::authorize;
use crate::routes::{respond, Shared};
use crate::AdminError;

/// The longest layer name a check takes, in bytes; a longer one answers `400`.
pub const MAX_LAYER_NAME_BYTES: usize = 1024;

/// The query of `POST /config/check`.
#[derive(Deserialize)]
pub(crate) struct CheckParams {
    layer: Option<String>,
    format: Option<String>,
}

/// `POST /config/check?layer=NAME&format=yaml`: the verdict of the view on the body as the
/// next state of the layer `NAME`.
pub(crate) async fn check(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    query: Result<Query<CheckParams>, QueryRejection>,
    body: Body,
) -> Response {
    if let Err(error) = authorize(shared.token.as_ref(), &headers) {
        return error.into_response();
    }
    respond(async {
        let params = query
            .map(|Query(params)| params)
            .map_err(|_| AdminError::bad_request("the query string is malformed"))?;
        let layer = params
            .layer
            .filter(|layer| !layer.is_empty())
            .ok_or_else(|| AdminError::bad_request("missing query parameter `layer`"))?;
        if layer.len() > MAX_LAYER_NAME_BYTES {
            return Err(AdminError::bad_request(format!(
                "the layer name is longer than {MAX_LAYER_NAME_BYTES} bytes"
            )));
        }
        let format = format_of(params.format.as_deref(), &headers)?;
        let document = read_bounded(body, shared.check_body_limit).await?;
        shared.view.check(&layer, format, document).await
    })
    .await
}

/// `GET /config/schema`: the JSON Schema the application gave, or `404`.
pub(crate) async fn schema(State(shared): State<Arc<Shared>>) -> Response {
    match &shared.schema {
        Some(schema) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            schema.clone(),
        )
            .into_response(),
        None => AdminError::not_found(
            "no schema: the application gave none (hotconf_admin::Admin::schema)",
        )
        .into_response(),
    }
}

/// The document's format: `?format=` when given, else the `Content-Type`.
fn format_of(query: Option<&str>, headers: &HeaderMap) -> Result<Format, AdminError> {
    if let Some(name) = query {
        return Format::from_extension(name).ok_or_else(|| {
            AdminError::bad_request(
                "unknown format in `format`: expected json, yaml, toml or properties",
            )
        });
    }
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(format_of_media_type)
        .ok_or_else(|| {
            AdminError::bad_request(
                "say the document's format with `?format=json|yaml|toml|properties` or its \
                 Content-Type (application/json, application/yaml, application/toml, \
                 text/x-java-properties)",
            )
        })
}

/// The format a media type names (`application/yaml; charset=utf-8` → YAML), if any.
fn format_of_media_type(media_type: &str) -> Option<Format> {
    let essence = media_type.split(';').next()?.trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/json" | "text/json" => Some(Format::Json),
        "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml" => {
            Some(Format::Yaml)
        }
        "application/toml" | "text/toml" | "text/x-toml" => Some(Format::Toml),
        "text/x-java-properties" | "text/x-properties" => Some(Format::Properties),
        other if other.ends_with("+json") => Some(Format::Json),
        other if other.ends_with("+yaml") => Some(Format::Yaml),
        _ => None,
    }
}

/// The request body, read no further than `limit` bytes: `413` past it.
async fn read_bounded(body: Body, limit: usize) -> Result<Vec<u8>, AdminError> {
    let mut stream = body.into_data_stream();
    let mut document = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk: Bytes =
            chunk.map_err(|_| AdminError::bad_request("the request body could not be read"))?;
        if document.len().saturating_add(chunk.len()) > limit {
            return Err(too_large(limit));
        }
        document.extend_from_slice(&chunk);
    }
    Ok(document)
}

/// `413`: a body past `limit` bytes.
pub(crate) fn too_large(limit: usize) -> AdminError {
    AdminError::new(
        axum::http::StatusCode::PAYLOAD_TOO_LARGE,
        format!("the request body is larger than the limit of {limit} bytes"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_is_the_querys_else_the_content_types() {
        let mut headers = HeaderMap::new();
        assert!(format_of(None, &headers).is_err());
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/yaml; charset=utf-8"),
        );
        assert_eq!(format_of(None, &headers), Ok(Format::Yaml));
        assert_eq!(format_of(Some("toml"), &headers), Ok(Format::Toml));
        assert_eq!(format_of(Some("yml"), &headers), Ok(Format::Yaml));
        assert!(format_of(Some("xml"), &headers).is_err());
        for (media_type, format) in [
            ("application/json", Some(Format::Json)),
            ("application/merge-patch+json", Some(Format::Json)),
            ("TEXT/X-YAML", Some(Format::Yaml)),
            ("application/toml", Some(Format::Toml)),
            ("text/x-java-properties", Some(Format::Properties)),
            ("application/x-www-form-urlencoded", None),
            ("", None),
        ] {
            assert_eq!(format_of_media_type(media_type), format, "{media_type}");
        }
    }

    #[tokio::test]
    async fn a_body_is_read_up_to_its_limit() {
        let read = |text: &'static str, limit| read_bounded(Body::from(text), limit);
        assert_eq!(read("abc", 3).await, Ok(b"abc".to_vec()));
        let error = read("abcd", 3).await.unwrap_err();
        assert_eq!(error.status(), axum::http::StatusCode::PAYLOAD_TOO_LARGE);
    }
}
