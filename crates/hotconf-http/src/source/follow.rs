//! The conditional GET loop of an [`HttpProvider`](super::HttpProvider).

use std::sync::Arc;

use async_trait::async_trait;
use hotconf_core::provider::{Content, Follow, Layer};
use hotconf_core::{Error, ErrorKind, Format, Result, Revision};
use reqwest::header::{HeaderMap, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use reqwest::StatusCode;

use super::{HttpClient, HttpSource};
use crate::{read_answer, read_error_page, transport_error, Asked};

/// Asks for the document, sending what the last answer said about it.
pub(super) struct Poller {
    source: Arc<HttpSource>,
    settings: HttpClient,
    client: Option<reqwest::Client>,
    /// The last document read and the validators it came with.
    last: Option<(Layer, HeaderMap)>,
}

impl Poller {
    pub(super) fn new(settings: HttpClient, source: Arc<HttpSource>) -> Self {
        Poller {
            source,
            settings,
            client: None,
            last: None,
        }
    }

    fn client(&mut self) -> Result<reqwest::Client> {
        if self.client.is_none() {
            self.client = Some(crate::client("http", &self.settings.options)?);
        }
        Ok(self.client.clone().expect("built above"))
    }
}

#[async_trait]
impl Follow for Poller {
    async fn read(&mut self) -> Result<Layer> {
        let source = self.source.clone();
        let what = source.url.path();
        let mut request = self.client()?.get(source.url.clone()).timeout(REQUEST);
        if let Some((user, password)) = &source.user {
            request = request.basic_auth(user, password.as_ref().map(|p| p.expose()));
        }
        if let Some(token) = &source.token {
            request = request.bearer_auth(token.expose());
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
                return Err(refused(s, what, &page));
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
            self.settings.limits.max_bytes,
            "http",
            "reading",
            what,
        )
        .await?;
        let revision = [ETAG, LAST_MODIFIED]
            .iter()
            .find_map(|h| headers.get(h).and_then(|v| v.to_str().ok()))
            .map_or_else(
                || Revision::of_content(&body),
                |v| Revision::Tag(v.to_owned()),
            );
        let layer = Layer::new(
            Content::Document {
                format,
                bytes: body.into(),
            },
            revision,
        );
        self.last = Some((layer.clone(), headers));
        Ok(layer)
    }

    async fn changed(&mut self) {
        tokio::time::sleep(self.source.interval).await;
    }
}

/// The deadline of one request (headers and body), whatever the interval.
const REQUEST: std::time::Duration = std::time::Duration::from_secs(30);

/// A status other than 2xx, 304 and 404.
fn refused(status: StatusCode, what: &str, page: &[u8]) -> Error {
    let asked = Asked {
        backend: "http",
        doing: "reading",
        what,
        carries: "the credentials",
        server: "server",
    };
    let hint = if status == StatusCode::NOT_MODIFIED {
        " (a 304 to a request that had no document to keep)"
    } else {
        ""
    };
    asked.refused(status, page, hint)
}
