//! The emulator's HTTP side: bounded request parsing, routing, the bearer-token check (401)
//! and the per-namespace 403, the verbs on ConfigMaps and Secrets, and `Status` answers
//! (backends.md §7.1, §7.8, §7.9). TokenReviews are answered in `token_review`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use serde_json::{json, Value};
use tokio::net::TcpListener;

use super::state::name_of;
use super::status::Status;
use super::token_review::{self, TOKEN_REVIEWS};
use super::watch::{Start, WatchRequest};
use super::{discovery, lock, Resource, Shared, Verb};

/// The largest request body read (the API server's own limit is 3 MiB).
const MAX_BODY: usize = 3 << 20;
/// The largest request head read.
const MAX_HEAD: usize = 64 << 10;
/// How long a client may take to send a request head.
const HEAD_DEADLINE: Duration = Duration::from_secs(30);
/// A watch without `timeoutSeconds` ends after this long (the API server picks 30–60 min).
const DEFAULT_WATCH: Duration = Duration::from_secs(1800);

type Body = BoxBody<Bytes, io::Error>;
pub(crate) type Answer = Response<Body>;

pub(crate) async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors, say: pause rather than spin.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let shared = shared.clone();
        let mut generation = shared.generation.subscribe();
        tokio::spawn(async move {
            let service = {
                let shared = shared.clone();
                hyper::service::service_fn(move |req| {
                    let shared = shared.clone();
                    async move { Ok::<_, Infallible>(handle(shared, req).await) }
                })
            };
            let io = hyper_util::rt::TokioIo::new(stream);
            let mut http = hyper::server::conn::http1::Builder::new();
            http.max_buf_size(MAX_HEAD)
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEAD_DEADLINE);
            // A restart closes the connection before its watch can see the restart's own
            // changes (a wiped state would otherwise show as a 410 on the old connection).
            tokio::select! {
                biased;
                _ = generation.changed() => {}
                _ = http.serve_connection(io, service) => {}
            }
        });
    }
}

fn full(body: Bytes) -> Body {
    Full::new(body).map_err(|never| match never {}).boxed()
}

pub(crate) fn json_answer(code: u16, body: &Value) -> Answer {
    let mut response = Response::new(full(Bytes::from(body.to_string())));
    *response.status_mut() =
        hyper::StatusCode::from_u16(code).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        "Content-Type",
        "application/json".parse().expect("a header"),
    );
    response
}

pub(crate) fn failure(status: &Status) -> Answer {
    json_answer(status.code, &status.to_json())
}

fn parse_query(raw: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
        out.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    out
}

/// Go's `strconv.ParseBool` (Python's client sends `watch=True`).
fn parse_bool(value: &str) -> Result<bool, Status> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "" | "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        other => Err(Status::bad_request(format!(
            "invalid boolean value: {other:?}"
        ))),
    }
}

fn percent_decode(s: &str) -> String {
    form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Which object or collection a path names.
struct Target {
    resource: Resource,
    /// `None`: every namespace (`/api/v1/configmaps`).
    namespace: Option<String>,
    name: Option<String>,
}

fn route(path: &str) -> Option<Target> {
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(percent_decode)
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match segments.as_slice() {
        ["api", "v1", "namespaces", ns, plural] => Some(Target {
            resource: Resource::from_plural(plural)?,
            namespace: Some((*ns).to_owned()),
            name: None,
        }),
        ["api", "v1", "namespaces", ns, plural, name] => Some(Target {
            resource: Resource::from_plural(plural)?,
            namespace: Some((*ns).to_owned()),
            name: Some((*name).to_owned()),
        }),
        ["api", "v1", plural] => Some(Target {
            resource: Resource::from_plural(plural)?,
            namespace: None,
            name: None,
        }),
        _ => None,
    }
}

pub(crate) fn authenticated(shared: &Shared, req: &Request<Incoming>) -> bool {
    let Some(want) = shared.modes().token.clone() else {
        return true;
    };
    let header = req
        .headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut words = header.split_whitespace();
    words
        .next()
        .is_some_and(|s| s.eq_ignore_ascii_case("bearer"))
        && words.next() == Some(&want)
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Answer {
    let path = req.uri().path().to_owned();
    let raw_query = req.uri().query().unwrap_or("").to_owned();
    let shown = if raw_query.is_empty() {
        path.clone()
    } else {
        format!("{path}?{raw_query}")
    };
    lock(&shared.log).push(format!("{} {shown}", req.method()));
    let query = parse_query(&raw_query);
    if path.trim_end_matches('/') == TOKEN_REVIEWS {
        return token_review::serve(&shared, req).await;
    }
    let Some(target) = route(&path) else {
        shared.count(|c| c.discovery += 1);
        if !authenticated(&shared, &req) {
            shared.count(|c| c.unauthorized += 1);
            return failure(&Status::unauthorized());
        }
        return match (
            req.method(),
            discovery::document(&path, &shared.addr.to_string()),
        ) {
            (&Method::GET, Some(document)) => json_answer(200, &document),
            _ => failure(&Status::no_route()),
        };
    };
    let watching = match query.get("watch").map(|w| parse_bool(w)).transpose() {
        Ok(w) => w.unwrap_or(false),
        Err(status) => return failure(&status),
    };
    let verb = match (req.method(), &target.name, watching) {
        (&Method::GET, Some(_), _) => Verb::Get,
        (&Method::GET, None, false) => Verb::List,
        (&Method::GET, None, true) => Verb::Watch,
        (&Method::POST, None, _) if target.namespace.is_some() => Verb::Create,
        (&Method::PUT, Some(_), _) => Verb::Update,
        (&Method::PATCH, Some(_), _) => Verb::Patch,
        (&Method::DELETE, Some(_), _) => Verb::Delete,
        _ => return failure(&Status::method_not_allowed()),
    };
    shared.count(|c| *c.requests.entry((verb, target.resource)).or_default() += 1);
    if !authenticated(&shared, &req) {
        shared.count(|c| c.unauthorized += 1);
        return failure(&Status::unauthorized());
    }
    if let Some(ns) = &target.namespace {
        if shared.modes().forbidden.contains(ns) {
            shared.count(|c| c.forbidden += 1);
            let name = target.name.as_deref().unwrap_or("");
            return failure(&Status::forbidden(target.resource, name, verb.as_str(), ns));
        }
    }
    match serve(&shared, req, &target, verb, &query).await {
        Ok(answer) => answer,
        Err(status) => failure(&status),
    }
}

async fn serve(
    shared: &Arc<Shared>,
    req: Request<Incoming>,
    target: &Target,
    verb: Verb,
    query: &BTreeMap<String, String>,
) -> Result<Answer, Status> {
    let resource = target.resource;
    let namespace = target.namespace.as_deref().unwrap_or("");
    let name = target.name.as_deref().unwrap_or("");
    if query.get("dryRun").is_some_and(|d| !d.is_empty()) {
        return Err(Status::bad_request("dryRun is not emulated"));
    }
    match verb {
        Verb::Get => {
            let state = shared.state();
            let object = state
                .get(resource, namespace, name)
                .ok_or_else(|| Status::not_found(resource, name))?;
            Ok(json_answer(200, object))
        }
        Verb::List => {
            let selected = field_selector(query)?;
            let ns = target
                .namespace
                .as_deref()
                .or(selected.namespace.as_deref());
            let state = shared.state();
            let items: Vec<Value> = state
                .select(resource, ns, selected.name.as_deref())
                .map(|object| {
                    // A typed list's items carry no kind or apiVersion on the wire.
                    let mut item = object.clone();
                    if let Some(map) = item.as_object_mut() {
                        map.remove("kind");
                        map.remove("apiVersion");
                    }
                    item
                })
                .collect();
            let list = json!({
                "kind": format!("{}List", resource.kind()),
                "apiVersion": "v1",
                "metadata": {"resourceVersion": state.rv.to_string()},
                "items": items,
            });
            Ok(json_answer(200, &list))
        }
        Verb::Watch => {
            let selected = field_selector(query)?;
            let start = match query.get("resourceVersion").map(String::as_str) {
                None | Some("" | "0") => Start::Now,
                Some(rv) => Start::After(rv.parse().map_err(|_| {
                    Status::bad_request(format!("invalid resource version: {rv:?}"))
                })?),
            };
            let bookmarks = match query.get("allowWatchBookmarks") {
                Some(b) => parse_bool(b)?,
                None => false,
            };
            let timeout = match query.get("timeoutSeconds") {
                Some(t) => match t.parse::<u64>() {
                    Ok(0) => DEFAULT_WATCH,
                    Ok(secs) => Duration::from_secs(secs),
                    Err(_) => {
                        return Err(Status::bad_request(format!(
                            "invalid timeoutSeconds: {t:?}"
                        )))
                    }
                },
                None => DEFAULT_WATCH,
            };
            let request = WatchRequest {
                resource,
                namespace: target.namespace.clone().or(selected.namespace),
                name: selected.name,
                start,
                bookmarks,
                timeout,
            };
            let mut response = Response::new(super::watch::stream(shared.clone(), request));
            response.headers_mut().insert(
                "Content-Type",
                "application/json".parse().expect("a header"),
            );
            Ok(response)
        }
        Verb::Create | Verb::Update | Verb::Patch | Verb::Delete => {
            write(shared, req, resource, namespace, name, verb).await
        }
    }
}

async fn write(
    shared: &Shared,
    req: Request<Incoming>,
    resource: Resource,
    namespace: &str,
    name: &str,
    verb: Verb,
) -> Result<Answer, Status> {
    let accepted: &[&str] = match verb {
        Verb::Patch => &[
            "application/strategic-merge-patch+json",
            "application/merge-patch+json",
        ],
        Verb::Delete => &[],
        _ => &["", "application/json"],
    };
    let parsed = read_json(req, accepted).await?;
    let (code, object) = {
        let mut state = shared.state();
        match verb {
            Verb::Create => (201, state.create(resource, namespace, parsed)?),
            Verb::Update => (200, state.replace(resource, namespace, name, parsed)?),
            Verb::Patch => {
                if !parsed.is_object() {
                    return Err(Status::bad_request("a merge patch must be a JSON object"));
                }
                (200, state.patch(resource, namespace, name, &parsed)?)
            }
            _ => {
                let current = state
                    .get(resource, namespace, name)
                    .cloned()
                    .ok_or_else(|| Status::not_found(resource, name))?;
                let pre = &parsed["preconditions"];
                for field in ["uid", "resourceVersion"] {
                    if let Some(want) = pre[field].as_str() {
                        if current["metadata"][field].as_str() != Some(want) {
                            return Err(Status::conflict(resource, &name_of(&current)));
                        }
                    }
                }
                (200, state.delete(resource, namespace, name)?)
            }
        }
    };
    shared.changed();
    Ok(json_answer(code, &object))
}

/// A JSON body (`Null` when empty) whose media type is one of `accepted` (any when empty):
/// 415 for another type, 413 above [`MAX_BODY`], 400 when it is not JSON.
async fn read_json(req: Request<Incoming>, accepted: &[&str]) -> Result<Value, Status> {
    let content_type = req
        .headers()
        .get("Content-Type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let body = Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|_| Status::too_large())?
        .to_bytes();
    if !accepted.is_empty() && !accepted.contains(&content_type.as_str()) {
        return Err(Status::unsupported_media_type(&content_type));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&body)
        .map_err(|e| Status::bad_request(format!("the body is not JSON: {e}")))
}

/// The JSON body of a create (`application/json` or no media type), as [`read_json`] reads it.
pub(crate) async fn json_body(req: Request<Incoming>) -> Result<Value, Status> {
    read_json(req, &["", "application/json"]).await
}

/// `fieldSelector` terms on `metadata.name` and `metadata.namespace` (`=` or `==`).
#[derive(Default)]
struct Selected {
    name: Option<String>,
    namespace: Option<String>,
}

fn field_selector(query: &BTreeMap<String, String>) -> Result<Selected, Status> {
    if query.get("labelSelector").is_some_and(|l| !l.is_empty()) {
        return Err(Status::bad_request("labelSelector is not emulated"));
    }
    let mut selected = Selected::default();
    let Some(selector) = query.get("fieldSelector") else {
        return Ok(selected);
    };
    for term in selector.split(',').filter(|t| !t.is_empty()) {
        if term.contains("!=") {
            return Err(Status::bad_request(format!(
                "fieldSelector {term:?}: only = and == are emulated"
            )));
        }
        let (field, value) = term
            .split_once("==")
            .or_else(|| term.split_once('='))
            .ok_or_else(|| Status::bad_request(format!("invalid field selector: {term:?}")))?;
        match field.trim() {
            "metadata.name" => selected.name = Some(value.trim().to_owned()),
            "metadata.namespace" => selected.namespace = Some(value.trim().to_owned()),
            other => {
                return Err(Status::bad_request(format!(
                    "field label not supported: {other}"
                )))
            }
        }
    }
    Ok(selected)
}
