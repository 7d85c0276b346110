//! The conditional GET loop of an [`HttpProvider`](super::HttpProvider).

use std::sync::Arc;

use async_trait::async_trait;
use hotconf_core::provider::{Follow, Layer};
use hotconf_core::{Error, ErrorKind, Format, Result, Revision};
use reqwest::header::{
    HeaderMap, AUTHORIZATION, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};
use reqwest::StatusCode;

use super::{HttpClient, HttpSource};
use crate::{read_answer, read_error_page, transport_error, Asked};

/// Asks for the document, sending what the last answer said about it.
pub(super) struct Poller {
    pub(super) source: Arc<HttpSource>,
    pub(super) client: HttpClient,
    /// The last document read and the validators it came with.
    pub(super) last: Option<(Layer, HeaderMap)>,
}

#[async_trait]
impl Follow for Poller {
    async fn read(&mut self) -> Result<Layer> {
        let source = self.source.clone();
        let what = source.url.path();
        let mut request = self.client.http()?.get(source.url.clone()).timeout(REQUEST);
        if let Some(authorization) = &source.authorization {
            request = request.header(AUTHORIZATION, authorization.header().clone());
        }
        if let Some((_, validators)) = &self.last {
            for (name, header) in [(ETAG, IF_NONE_MATCH), (LAST_MODIFIED, IF_MODIFIED_SINCE)] {
                if let Some(value) = validators.get(name) {
                    request = request.header(header, value);
                }
            }
        }
        let response = request
            .send()
            .await
            .map_err(|e| transport_error("http", "reading", what, e))?;
        let status = response.status();
        match status {
            StatusCode::NOT_MODIFIED if self.last.is_some() => {
                return Ok(self.last.as_ref().expect("checked").0.clone())
            }
            StatusCode::NOT_FOUND => {
                self.last = None;
                return Ok(Layer::empty(Revision::Tag("absent".into())));
            }
            s if s.is_success() => {}
            s => {
                let secrets: Vec<&str> =
                    source.hidden.iter().map(|s| s.expose().as_str()).collect();
                let page = read_error_page(response, &secrets).await;
                // A status other than 2xx, 304 and 404, or a 304 to a request that had no
                // document to keep.
                return Err(Asked::new("http", "reading", what).refused(s, &page, ""));
            }
        }
        let headers = response.headers().clone();
        let format = source
            .format
            .or_else(|| crate::format_of(&headers))
            .or_else(|| Format::from_path(what))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Parse,
                    "http: the answer names no format (Content-Type) and the path has no \
                     extension: give ?format=",
                )
                .with_transient(true)
            })?;
        let body = read_answer(
            response,
            self.client.0.config().1.max_bytes,
            "http",
            "reading",
            what,
        )
        .await?;
        let mut layer = Layer::document(format, body);
        let validator = [ETAG, LAST_MODIFIED].map(|h| headers.get(h)?.to_str().ok());
        if let Some(tag) = validator.into_iter().flatten().next() {
            layer.revision = Revision::Tag(tag.to_owned());
        }
        self.last = Some((layer.clone(), headers));
        Ok(layer)
    }

    async fn changed(&mut self) {
        tokio::time::sleep(self.source.interval).await;
    }
}

/// The deadline of one request (headers and body), whatever the interval.
const REQUEST: std::time::Duration = std::time::Duration::from_secs(30);
