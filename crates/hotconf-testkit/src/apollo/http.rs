//! The emulator's HTTP side: `/configs` reads (release keys, 304, 404, cluster fallback, gray
//! rules), the `/notifications/v2` long poll, `/services/config`, access-key checks and faults.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use tokio::net::TcpListener;

use super::{lock, Fault, Poll, Shared, DEFAULT_HOLD};

/// How far a request's `Timestamp` may be from the server's clock (Apollo's one minute).
const SKEW_MS: i64 = 60_000;

/// An error that makes hyper close the connection without an answer.
#[derive(Debug)]
pub(crate) struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for DropConnection {}

type Answer = Result<Response<Full<Bytes>>, DropConnection>;

/// Apollo's access-key signature: Base64(HMAC-SHA1(secret, `timestamp + "\n" + path_with_query`)).
pub fn sign(secret: &str, timestamp_ms: i64, path_with_query: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret.as_bytes());
    let tag = ring::hmac::sign(
        &key,
        format!("{timestamp_ms}\n{path_with_query}").as_bytes(),
    );
    base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
}

pub(crate) async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        // Subscribed before `down` is read: a `set_down` between the two still closes this
        // connection (a held poll accepted just then would otherwise stay held).
        let mut generation = shared.generation.subscribe();
        if shared.modes().down {
            drop(stream);
            continue;
        }
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = {
                let shared = shared.clone();
                hyper::service::service_fn(move |req| handle(shared.clone(), req))
            };
            let io = hyper_util::rt::TokioIo::new(stream);
            let http = hyper::server::conn::http1::Builder::new();
            tokio::select! {
                _ = http.serve_connection(io, service) => {}
                _ = generation.changed() => {}
            }
        });
    }
}

fn parse_query(raw: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
        out.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    out
}

fn text(status: StatusCode, body: &str) -> Answer {
    let mut response = Response::new(Full::new(Bytes::from(body.to_owned())));
    *response.status_mut() = status;
    Ok(response)
}

fn json_answer(body: &Value) -> Answer {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    response.headers_mut().insert(
        "Content-Type",
        "application/json;charset=UTF-8".parse().expect("a header"),
    );
    Ok(response)
}

fn not_modified() -> Answer {
    text(StatusCode::NOT_MODIFIED, "")
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Answer {
    let path = req.uri().path().to_owned();
    let raw_query = req.uri().query().map(str::to_owned);
    let path_with_query = match &raw_query {
        Some(q) if !q.is_empty() => format!("{path}?{q}"),
        _ => path.clone(),
    };
    lock(&shared.log).push(format!("{} {path_with_query}", req.method()));
    let (fault, slow) = {
        let modes = shared.modes();
        (modes.fault, modes.slow)
    };
    if let Some(delay) = slow {
        tokio::time::sleep(delay).await;
    }
    if let Some(fault) = fault {
        return fault_answer(fault);
    }
    if req.method() != Method::GET {
        return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    }
    let query = parse_query(raw_query.as_deref().unwrap_or(""));
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(percent_decode)
        .collect();
    match segments.first().map(String::as_str) {
        Some("configs") if segments.len() >= 4 => {
            let app = &segments[1];
            if let Err(answer) = authorize(&shared, &req, app, &path_with_query) {
                return answer;
            }
            let namespace = segments[3..].join("/");
            read(&shared, app, &segments[2], &namespace, &query)
        }
        Some("notifications") if segments.get(1).map(String::as_str) == Some("v2") => {
            let app = query.get("appId").cloned().unwrap_or_default();
            if let Err(answer) = authorize(&shared, &req, &app, &path_with_query) {
                return answer;
            }
            poll(&shared, &app, &query).await
        }
        Some("services") if segments.get(1).map(String::as_str) == Some("config") => {
            shared.count(|c| c.listings += 1);
            let services = shared
                .modes()
                .services
                .clone()
                .unwrap_or_else(|| vec![shared.addr.to_string()]);
            let list: Vec<Value> = services
                .iter()
                .map(|s| {
                    json!({
                        "appName": "APOLLO-CONFIGSERVICE",
                        "instanceId": format!("{s}:apollo-configservice"),
                        "homepageUrl": format!("http://{s}/"),
                    })
                })
                .collect();
            json_answer(&Value::Array(list))
        }
        _ => text(StatusCode::NOT_FOUND, "Not Found"),
    }
}

fn percent_decode(s: &str) -> String {
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

fn fault_answer(fault: Fault) -> Answer {
    match fault {
        Fault::ServerError => text(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
        Fault::Drop => Err(DropConnection),
    }
}

/// Apollo's `ClientAuthenticationFilter`: when `app` has an access key, the request must carry
/// `Timestamp` (epoch ms, within a minute of now) and `Authorization: Apollo {app}:{signature}`
/// over the timestamp and the raw path with query; else 401.
#[allow(clippy::result_large_err)]
fn authorize(
    shared: &Shared,
    req: &Request<Incoming>,
    app: &str,
    path_with_query: &str,
) -> Result<(), Answer> {
    let Some(secret) = shared.modes().secrets.get(app).cloned() else {
        return Ok(());
    };
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let refuse = |why: &str| {
        shared.count(|c| c.unauthorized += 1);
        Err(text(StatusCode::UNAUTHORIZED, why))
    };
    let Some(timestamp) = header("Timestamp").and_then(|t| t.trim().parse::<i64>().ok()) else {
        return refuse("InvalidTimestamp");
    };
    let now = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(i64::MAX);
    if (now - timestamp).abs() > SKEW_MS {
        return refuse("RequestTimeTooSkewed");
    }
    let expected = format!("Apollo {app}:{}", sign(&secret, timestamp, path_with_query));
    if header("Authorization") != Some(expected.as_str()) {
        return refuse("Unauthorized");
    }
    Ok(())
}

fn read(
    shared: &Shared,
    app: &str,
    cluster: &str,
    namespace: &str,
    query: &BTreeMap<String, String>,
) -> Answer {
    shared.count(|c| c.reads += 1);
    let get = |name: &str| {
        query
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let served = shared.state().serve(
        app,
        cluster,
        get("dataCenter"),
        namespace,
        get("ip"),
        get("label"),
    );
    let Some((served_cluster, release)) = served else {
        return text(
            StatusCode::NOT_FOUND,
            &format!(
                "Could not load configurations with appId: {app}, clusterName: {cluster}, namespace: {namespace}"
            ),
        );
    };
    if get("releaseKey") == Some(release.release_key.as_str()) {
        return not_modified();
    }
    json_answer(&json!({
        "appId": app,
        "cluster": served_cluster,
        "namespaceName": super::state::normalize(namespace),
        "configurations": release.configurations,
        "releaseKey": release.release_key,
    }))
}

/// Counts a held poll while it is held, even when hyper drops it.
struct Held<'a>(&'a Shared);

impl<'a> Held<'a> {
    fn new(shared: &'a Shared) -> Self {
        shared.count(|c| c.held += 1);
        Held(shared)
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.count(|c| c.held -= 1);
    }
}

async fn poll(shared: &Shared, app: &str, query: &BTreeMap<String, String>) -> Answer {
    shared.count(|c| c.polls += 1);
    shared.long_polls.send_modify(|n| *n += 1);
    let cluster = query
        .get("cluster")
        .filter(|c| !c.is_empty())
        .cloned()
        .unwrap_or_else(|| "default".to_owned());
    let data_center = query.get("dataCenter").cloned();
    let parsed: Option<Vec<(String, i64)>> = query
        .get("notifications")
        .and_then(|n| serde_json::from_str::<Vec<Value>>(n).ok())
        .and_then(|items| {
            items
                .iter()
                .map(|item| {
                    Some((
                        item.get("namespaceName")?.as_str()?.to_owned(),
                        item.get("notificationId")?.as_i64()?,
                    ))
                })
                .collect()
        });
    let Some(notifications) = parsed.filter(|n| !app.is_empty() && !n.is_empty()) else {
        return text(StatusCode::BAD_REQUEST, "invalid appId or notifications");
    };
    lock(&shared.polls).push(Poll {
        app: app.to_owned(),
        cluster: cluster.clone(),
        notifications: notifications.clone(),
    });
    let hold = shared.modes().hold.unwrap_or(DEFAULT_HOLD);
    let deadline = tokio::time::Instant::now() + hold;
    let mut wake = shared.wake.subscribe();
    // Counted as held from its first wait on (a poll answered at once never is).
    let mut held = None;
    loop {
        wake.borrow_and_update();
        if let Some(fault) = shared.modes().fault {
            return fault_answer(fault);
        }
        let changed: Vec<Value> = {
            let state = shared.state();
            notifications
                .iter()
                .filter_map(|(namespace, id)| {
                    let current = state.id_for(app, &cluster, data_center.as_deref(), namespace);
                    (current != -1 && current != *id).then(|| {
                        let watched =
                            format!("{app}+{cluster}+{}", super::state::normalize(namespace));
                        json!({
                            "namespaceName": namespace,
                            "notificationId": current,
                            "messages": {"details": {watched: current}},
                        })
                    })
                })
                .collect()
        };
        if !changed.is_empty() {
            return json_answer(&Value::Array(changed));
        }
        if shared.modes().at_once {
            return not_modified();
        }
        held.get_or_insert_with(|| Held::new(shared));
        tokio::select! {
            _ = wake.changed() => {}
            () = tokio::time::sleep_until(deadline) => {
                shared.count(|c| c.timeouts += 1);
                return not_modified();
            }
        }
    }
}
