//! The emulator's HTTP side: request parsing (docs/protocols.md#consul-the-emulators-rules item 1), blocking (item 3), answers (item 4),
//! writes (items 5 and 6) and ACLs (item 7).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;

use super::duration::parse_go_duration;
use super::state::Entry;
use super::{Fault, Shared};

/// `DefaultQueryTime` and `MaxQueryTime`.
const DEFAULT_WAIT: Duration = Duration::from_secs(300);
const MAX_WAIT: Duration = Duration::from_secs(600);
/// `kv_max_value_size`.
const MAX_VALUE: usize = 512 * 1024;

/// An error that makes hyper close the connection without an answer.
#[derive(Debug)]
pub(crate) struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for DropConnection {}

pub(crate) type Answer = Result<Response<Full<Bytes>>, DropConnection>;

pub(crate) async fn accept_loop(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shared: Arc<Shared>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors, say: pause rather than spin.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let shared = shared.clone();
        let tls = tls.clone();
        let mut closed = shared.closed.subscribe();
        tokio::spawn(async move {
            tokio::select! {
                () = serve(stream, tls, shared) => {}
                _ = closed.wait_for(|c| *c) => {}
            }
        });
    }
}

async fn serve(
    stream: tokio::net::TcpStream,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shared: Arc<Shared>,
) {
    let service = hyper::service::service_fn(move |req| handle(shared.clone(), req));
    let http = hyper::server::conn::http1::Builder::new();
    match tls {
        Some(acceptor) => {
            if let Ok(stream) = acceptor.accept(stream).await {
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = http.serve_connection(io, service).await;
            }
        }
        None => {
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = http.serve_connection(io, service).await;
        }
    }
}

/// Query parameters as Go's `url.ParseQuery` reads them (first value wins for `Get`).
fn parse_query(raw: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.entry(unescape(k)).or_insert_with(|| unescape(v));
    }
    out
}

fn unescape(s: &str) -> String {
    let s = s.replace('+', " ");
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = s
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn text(status: StatusCode, body: &str) -> Answer {
    let mut response = Response::new(Full::new(Bytes::from(body.to_owned())));
    *response.status_mut() = status;
    Ok(response)
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Answer {
    let query = parse_query(req.uri().query().unwrap_or(""));
    let mut logged = format!("{} {}", req.method(), req.uri().path());
    if let Some(q) = req.uri().query() {
        let shown: Vec<String> = q
            .split('&')
            .map(|p| match p.split_once('=') {
                Some(("token", _)) => "token=***".to_owned(),
                _ => p.to_owned(),
            })
            .collect();
        logged = format!("{logged}?{}", shown.join("&"));
    }
    super::lock(&shared.log).push(logged);
    let Some(key) = req.uri().path().strip_prefix("/v1/kv/") else {
        return text(StatusCode::NOT_FOUND, "404 page not found");
    };
    let key = unescape(&key.replace('+', "%2B"));
    let token = token(&req, &query);
    match *req.method() {
        Method::GET => super::read::get(&shared, &key, &query, &token).await,
        Method::PUT | Method::DELETE => {
            shared.count(|c| c.writes += 1);
            let method = req.method().clone();
            let body = match req.into_body().collect().await {
                Ok(body) => body.to_bytes(),
                Err(_) => return Err(DropConnection),
            };
            write(&shared, &method, &key, &query, &token, &body)
        }
        _ => text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
    }
}

/// `?token=`, then `X-Consul-Token`, then `Authorization: Bearer` (first word after the scheme).
fn token(req: &Request<Incoming>, query: &BTreeMap<String, String>) -> String {
    if let Some(t) = query.get("token").filter(|t| !t.is_empty()) {
        return t.clone();
    }
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    if let Some(t) = header("X-Consul-Token").filter(|t| !t.is_empty()) {
        return t.to_owned();
    }
    if let Some(auth) = header("Authorization") {
        let mut words = auth.split_whitespace();
        if words
            .next()
            .is_some_and(|s| s.eq_ignore_ascii_case("bearer"))
        {
            return words.next().unwrap_or("").to_owned();
        }
    }
    String::new()
}

/// Whether `token` may read (or write) `key`; `Err` answers 403 "ACL not found".
pub(crate) fn allowed(shared: &Shared, token: &str, key: &str, write: bool) -> Result<bool, ()> {
    let modes = shared.modes();
    let Some(acl) = &modes.acl else {
        return Ok(true);
    };
    let rules = if token.is_empty() {
        &acl.anonymous
    } else {
        acl.tokens.get(token).ok_or(())?
    };
    Ok(rules
        .iter()
        .any(|r| key.starts_with(&r.prefix) && (r.write || !write)))
}

fn write(
    shared: &Shared,
    method: &Method,
    key: &str,
    query: &BTreeMap<String, String>,
    token: &str,
    body: &[u8],
) -> Answer {
    let has = |flag: &str| query.contains_key(flag);
    let conflicting = ["cas", "acquire", "release"]
        .iter()
        .filter(|f| has(f))
        .count()
        > 1
        || (*method == Method::DELETE && has("recurse") && has("cas"));
    if conflicting {
        return text(StatusCode::BAD_REQUEST, "Conflicting flags: ");
    }
    if has("acquire") || has("release") {
        return text(StatusCode::BAD_REQUEST, "sessions are not emulated");
    }
    if key.is_empty() && !(*method == Method::DELETE && has("recurse")) {
        return text(StatusCode::BAD_REQUEST, "Missing key name");
    }
    match allowed(shared, token, key, true) {
        Err(()) => return text(StatusCode::FORBIDDEN, "ACL not found"),
        Ok(false) => return text(StatusCode::FORBIDDEN, "Permission denied"),
        Ok(true) => {}
    }
    let number = |name: &str| -> Result<Option<u64>, ()> {
        query
            .get(name)
            .map(|v| v.parse::<u64>().map_err(|_| ()))
            .transpose()
    };
    let (Ok(cas), Ok(flags)) = (number("cas"), number("flags")) else {
        return text(StatusCode::BAD_REQUEST, "Invalid cas or flags value");
    };
    if *method == Method::PUT && body.len() > MAX_VALUE {
        let why = format!(
            "Request body({} bytes) too large, max size: {MAX_VALUE} bytes",
            body.len()
        );
        return text(StatusCode::PAYLOAD_TOO_LARGE, &why);
    }
    let legacy = shared.modes().legacy_bump;
    let done = {
        let mut state = shared.state();
        if *method == Method::PUT {
            state.put(key, body.to_vec(), flags.unwrap_or(0), cas, legacy)
        } else if has("recurse") {
            state.delete_tree(key)
        } else {
            state.delete(key, cas)
        }
    };
    shared.wake();
    let mut response = Response::new(Full::new(Bytes::from(done.to_string())));
    response.headers_mut().insert(
        "Content-Type",
        "application/json".parse().expect("a header"),
    );
    Ok(response)
}

/// The JSON of entries, as `structs.DirEntry` in field order (Value null when empty; Session
/// omitted when empty).
pub(crate) fn entries_json(entries: &[Entry]) -> String {
    let items: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            let mut map = serde_json::Map::new();
            map.insert("LockIndex".into(), e.lock_index.into());
            map.insert("Key".into(), e.key.clone().into());
            map.insert("Flags".into(), e.flags.into());
            let value = e
                .value
                .as_ref()
                .map(|v| base64::engine::general_purpose::STANDARD.encode(v));
            map.insert("Value".into(), value.into());
            if let Some(session) = &e.session {
                map.insert("Session".into(), session.clone().into());
            }
            map.insert("CreateIndex".into(), e.create_index.into());
            map.insert("ModifyIndex".into(), e.modify_index.into());
            serde_json::Value::Object(map)
        })
        .collect();
    serde_json::Value::Array(items).to_string()
}

/// `clamp(wait)`: absent or ≤ 0 is 5 minutes, above 10 minutes is 10 minutes.
pub(crate) fn clamp_wait(nanos: Option<i128>) -> Duration {
    match nanos {
        Some(n) if n > 0 => {
            Duration::from_nanos(u64::try_from(n).unwrap_or(u64::MAX)).min(MAX_WAIT)
        }
        _ => DEFAULT_WAIT,
    }
}

/// Parses `wait` as a Go duration; `Err` for text Go refuses.
pub(crate) fn parse_wait(query: &BTreeMap<String, String>) -> Result<Option<i128>, ()> {
    match query.get("wait").filter(|w| !w.is_empty()) {
        None => Ok(None),
        Some(w) => parse_go_duration(w).map(Some).ok_or(()),
    }
}

/// Applies the fault mode to an answer about to be sent.
pub(crate) fn fault_answer(fault: Fault) -> Answer {
    match fault {
        Fault::NoLeader => text(StatusCode::INTERNAL_SERVER_ERROR, "No cluster leader"),
        Fault::RateLimited => text(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests"),
        Fault::Drop => Err(DropConnection),
    }
}
