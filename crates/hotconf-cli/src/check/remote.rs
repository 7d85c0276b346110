//! `hotconf check --against URL…`: each service's admin API asked, at once, whether it would
//! accept the document (`POST URL/config/check?layer=NAME&format=F`).
//!
//! Redirects are not followed (a token never travels to another origin), every answer is read
//! no further than [`MAX_ANSWER_BYTES`], each request has a deadline, and a URL is printed
//! without its user information.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use hotconf::{Error, ErrorKind, Format, Result};
use reqwest::{header, StatusCode, Url};
use serde_json::{Map, Value};

use super::{Line, Outcome};

/// The largest answer read from a service: a verdict lists at most 1 000 key paths.
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// The fields of a service's answer that a line keeps (`POST /config/check`'s `CheckBody`).
const ANSWER_FIELDS: &[&str] = &[
    "changes",
    "error",
    "key",
    "kind",
    "layer",
    "restart_required",
    "source",
];

/// What every service is asked.
pub(crate) struct Asker {
    client: reqwest::Client,
    layer: String,
    format: Format,
    document: Bytes,
    token: Option<String>,
}

impl Asker {
    /// An asker of `document` (in `format`) as the layer `layer`, with a deadline of
    /// `timeout` per service.
    pub(crate) fn new(
        layer: &str,
        format: Format,
        document: String,
        token: Option<String>,
        timeout: Duration,
    ) -> Result<Arc<Asker>> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout)
            .timeout(timeout)
            .user_agent(concat!("hotconf-check/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                Error::new(ErrorKind::Config, "cannot start an HTTP client").with_cause(e)
            })?;
        Ok(Arc::new(Asker {
            client,
            layer: layer.to_owned(),
            format,
            document: Bytes::from(document),
            token,
        }))
    }

    /// Asks every target at once; the lines in the targets' order. A target that is not an
    /// http(s) URL is an error before anything is sent.
    pub(crate) async fn ask_all(self: Arc<Self>, targets: &[String]) -> Result<Vec<Line>> {
        let endpoints = (targets.iter())
            .map(|target| endpoint(target, &self.layer, self.format))
            .collect::<Result<Vec<_>>>()?;
        let mut asked = Vec::with_capacity(endpoints.len());
        for (shown, url) in endpoints {
            if self.token.is_some() && url.scheme() == "http" && !is_loopback(&url) {
                eprintln!("hotconf: warning: the token goes to {shown} over plain http");
            }
            let asker = self.clone();
            let line_for = shown.clone();
            asked.push((
                shown,
                tokio::spawn(async move { asker.ask(&line_for, url).await }),
            ));
        }
        let mut lines = Vec::with_capacity(asked.len());
        for (shown, task) in asked {
            lines.push(task.await.unwrap_or_else(|_| {
                unanswered(&shown, None, "the request stopped unexpectedly".into())
            }));
        }
        Ok(lines)
    }

    /// The line of one service, shown as `shown`.
    async fn ask(&self, shown: &str, url: Url) -> Line {
        let mut request = self
            .client
            .post(url)
            .header(header::CONTENT_TYPE, media_type(self.format))
            .body(self.document.clone());
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                let why = format!("cannot reach the admin API: {}", describe(&error));
                return unanswered(shown, None, why);
            }
        };
        let status = response.status();
        if status.is_redirection() {
            let why = format!(
                "HTTP {}: a redirect, not followed (give the admin API's own URL)",
                status.as_u16()
            );
            return unanswered(shown, Some(status), why);
        }
        let body = match read_bounded(response, MAX_ANSWER_BYTES).await {
            Ok(body) => body,
            Err(why) => return unanswered(shown, Some(status), why),
        };
        let fields = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| match v {
                Value::Object(fields) => Some(fields),
                _ => None,
            });
        verdict(shown, status, fields)
    }
}

/// The line for an answer of `status` whose body was `fields` (`None`: not a JSON object).
fn verdict(shown: &str, status: StatusCode, fields: Option<Map<String, Value>>) -> Line {
    let accepted = (fields.as_ref()).and_then(|f| f.get("accepted")?.as_bool());
    match (status, accepted, fields) {
        (StatusCode::OK, Some(accepted), Some(fields)) => {
            let kept = (fields.into_iter())
                .filter(|(name, _)| ANSWER_FIELDS.contains(&name.as_str()))
                .collect();
            let outcome = if accepted {
                Outcome::Accepted
            } else {
                Outcome::Rejected
            };
            Line::new(shown, outcome, kept)
        }
        (_, _, fields) => {
            let error = fields.as_ref().and_then(|f| f.get("error")?.as_str());
            let why = match error {
                Some(error) if !status.is_success() => {
                    format!("HTTP {}: {error}", status.as_u16())
                }
                _ if status.is_success() => format!(
                    "HTTP {}: not the answer of an admin API's /config/check",
                    status.as_u16()
                ),
                _ => format!("HTTP {}", status.as_u16()),
            };
            unanswered(shown, Some(status), why)
        }
    }
}

/// The line of a service that could not be asked.
fn unanswered(shown: &str, status: Option<StatusCode>, why: String) -> Line {
    let mut fields = Map::new();
    fields.insert("error".into(), why.into());
    if let Some(status) = status {
        fields.insert("status".into(), status.as_u16().into());
    }
    Line::new(shown, Outcome::Unanswered, fields)
}

/// The URL asked for `target` (`URL/config/check?layer=…&format=…`) and the target as printed
/// (without user information, query or fragment).
fn endpoint(target: &str, layer: &str, format: Format) -> Result<(String, Url)> {
    let mut url = Url::parse(target).map_err(|e| {
        Error::new(
            ErrorKind::Config,
            format!("an --against value is not a URL ({e})"),
        )
    })?;
    url.set_query(None);
    url.set_fragment(None);
    let mut shown = url.clone();
    if !shown.username().is_empty() || shown.password().is_some() {
        let _ = shown.set_username("***");
        let _ = shown.set_password(None);
    }
    let shown = shown.to_string().trim_end_matches('/').to_owned();
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::new(
            ErrorKind::Config,
            format!("{shown}: an admin API is asked over http or https"),
        ));
    }
    let path = format!("{}/config/check", url.path().trim_end_matches('/'));
    url.set_path(&path);
    url.query_pairs_mut()
        .append_pair("layer", layer)
        .append_pair("format", format.as_str());
    Ok((shown, url))
}

/// Whether the URL names this host (a loopback address, or `localhost`).
fn is_loopback(url: &Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The media type of a document in `format`.
fn media_type(format: Format) -> &'static str {
    match format {
        Format::Json => "application/json",
        Format::Yaml => "application/yaml",
        Format::Toml => "application/toml",
        Format::Properties => "text/x-java-properties",
        _ => "application/octet-stream",
    }
}

/// The body of `response`, read no further than `limit` bytes.
pub(crate) async fn read_bounded(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) if body.len() + chunk.len() > limit => {
                return Err(format!("the answer is larger than {} KiB", limit >> 10))
            }
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => return Ok(body),
            Err(error) => return Err(format!("the answer broke off: {}", describe(&error))),
        }
    }
}

/// A transport error and its causes, without the URL (which may carry user information).
pub(crate) fn describe(error: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut cause: Option<&dyn std::error::Error> = Some(error);
    while let Some(current) = cause {
        let text = if parts.is_empty() {
            error_kind(error)
        } else {
            current.to_string()
        };
        if !parts.contains(&text) {
            parts.push(text);
        }
        cause = current.source();
    }
    parts.join(": ")
}

/// What kind of transport error it is, in words (reqwest's own text names the URL).
fn error_kind(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "no answer in time".into()
    } else if error.is_connect() {
        "cannot connect".into()
    } else {
        "the request failed".into()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_endpoint_is_the_admin_apis_check_and_the_target_prints_without_credentials() {
        let (shown, url) = endpoint(
            "https://ops:pw@svc-1/admin/?x=1",
            "team overrides",
            Format::Yaml,
        )
        .unwrap();
        assert_eq!(shown, "https://***@svc-1/admin");
        assert_eq!(
            url.as_str(),
            "https://ops:pw@svc-1/admin/config/check?layer=team+overrides&format=yaml"
        );
        let (shown, url) = endpoint("http://127.0.0.1:9900", "file-0", Format::Json).unwrap();
        assert_eq!(shown, "http://127.0.0.1:9900");
        assert!(is_loopback(&url));
        assert_eq!(url.path(), "/config/check");
        assert!(endpoint("ftp://h/", "a", Format::Json).is_err());
        let error = endpoint("not a url s3cret", "a", Format::Json).unwrap_err();
        assert!(!error.to_string().contains("s3cret"), "{error}");
    }

    #[test]
    fn an_answer_is_a_verdict_only_when_it_is_a_checks() {
        let object = |v: Value| match v {
            Value::Object(map) => Some(map),
            _ => None,
        };
        let accepted = verdict(
            "t",
            StatusCode::OK,
            object(json!({"accepted": true, "changes": {}, "extra": 1})),
        );
        assert_eq!(accepted.outcome, Outcome::Accepted);
        assert!(!accepted.fields.contains_key("extra"));
        let rejected = verdict(
            "t",
            StatusCode::OK,
            object(json!({"accepted": false, "error": "e"})),
        );
        assert_eq!(rejected.outcome, Outcome::Rejected);
        let refused = verdict(
            "t",
            StatusCode::UNAUTHORIZED,
            object(json!({"error": "the bearer token is wrong"})),
        );
        assert_eq!(refused.outcome, Outcome::Unanswered);
        assert_eq!(refused.fields["status"], 401);
        assert_eq!(
            refused.fields["error"],
            "HTTP 401: the bearer token is wrong"
        );
        let html = verdict("t", StatusCode::OK, None);
        assert_eq!(html.outcome, Outcome::Unanswered);
        let gateway = verdict("t", StatusCode::BAD_GATEWAY, None);
        assert_eq!(gateway.fields["error"], "HTTP 502");
    }
}
