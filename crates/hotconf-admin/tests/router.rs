//! The admin router against a fake view: every route, the write rules, and JSON errors on bad input.

mod fake;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use fake::Fake;
use hotconf_admin::{Admin, View, OPENMETRICS_CONTENT_TYPE, PROMETHEUS_TEXT_CONTENT_TYPE};
use http_body_util::BodyExt;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use serde_json::{json, Value};
use tower::ServiceExt;

const TOKEN: &str = "correct-horse-battery-staple";

fn fake() -> Arc<Fake> {
    Fake::new(json!({"db": {"host": "localhost", "port": 5432, "password": "hunter2"}}))
}

fn read_only(view: &Arc<Fake>) -> Router {
    Admin::new(view.clone()).router()
}

fn writable(view: &Arc<Fake>) -> Router {
    Admin::new(view.clone()).token(TOKEN).router()
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "not JSON ({error}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }

    /// An error answer: the status and the JSON `{"error": message}`.
    fn error(&self, status: StatusCode) -> String {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(self.headers[header::CONTENT_TYPE], "application/json");
        let body = self.json();
        let message = body["error"].as_str().expect("an error message").to_owned();
        assert!(!message.is_empty());
        assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
        message
    }
}

async fn call(router: &Router, request: Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Answer {
        status,
        headers,
        body,
    }
}

async fn get(router: &Router, uri: &str) -> Answer {
    call(router, Request::get(uri).body(Body::empty()).unwrap()).await
}

async fn post(router: &Router, uri: &str, token: Option<&str>) -> Answer {
    call(router, with_token(Request::post(uri), token)).await
}

/// `request` with `Authorization: Bearer token`, if any, and no body.
fn with_token(request: axum::http::request::Builder, token: Option<&str>) -> Request<Body> {
    let request = match token {
        Some(token) => request.header(header::AUTHORIZATION, format!("Bearer {token}")),
        None => request,
    };
    request.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn reads_answer_the_views_json() {
    let view = fake();
    view.apply(json!({"db": {"host": "db.internal", "port": 5433, "password": "hunter3"}}));
    let router = read_only(&view);

    let answer = get(&router, "/config/version").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(answer.headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(answer.json(), view.version());
    assert_eq!(answer.json()["version"], 2);

    let answer = get(&router, "/config").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json()["config"]["db"]["password"], "<redacted>");
    assert!(!answer.text().contains("hunter"));

    let answer = get(&router, "/config/history").await;
    assert_eq!(answer.status, StatusCode::OK);
    let versions = answer.json()["versions"].as_array().unwrap().clone();
    assert_eq!(versions.len(), 2);
    assert_eq!(
        versions[1]["changes"]["changed"],
        json!(["db.host", "db.password", "db.port"])
    );

    let answer = get(&router, "/config/diff?from=1&to=2").await;
    assert_eq!(answer.status, StatusCode::OK);
    let diff = answer.json();
    assert_eq!(
        (diff["from"].clone(), diff["to"].clone()),
        (json!(1), json!(2))
    );
    assert!(diff["changed"]
        .as_array()
        .unwrap()
        .contains(&json!({"key": "db.password", "redacted": true})));
    assert!(!answer.text().contains("hunter"));

    let answer = get(&router, "/config/explain?key=db.host").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json()["value"], "db.internal");
    // Percent-encoded keys arrive decoded.
    let answer = get(&router, "/config/explain?key=db%2Eport").await;
    assert_eq!(answer.json()["key"], "db.port");

    // HEAD works wherever GET does.
    let head = Request::head("/config/version")
        .body(Body::empty())
        .unwrap();
    let answer = call(&router, head).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.body.is_empty());
}

#[tokio::test]
async fn view_errors_keep_their_status() {
    let router = read_only(&fake());
    let message = get(&router, "/config/diff?from=1&to=9")
        .await
        .error(StatusCode::NOT_FOUND);
    assert_eq!(message, "version 9 is not kept");
}

#[tokio::test]
async fn health_and_readiness() {
    let view = fake();
    let router = read_only(&view);

    let answer = get(&router, "/healthz").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json(), json!({"status": "alive"}));

    let answer = get(&router, "/readyz").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json(), json!({"ready": true, "version": 1}));

    view.set_ready(false);
    let answer = get(&router, "/readyz").await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        answer.json(),
        json!({"ready": false, "reason": "waiting for the first config"})
    );
    // Liveness does not depend on readiness.
    assert_eq!(get(&router, "/healthz").await.status, StatusCode::OK);
}

#[tokio::test]
async fn metrics_in_the_format_the_scraper_asks_for() {
    let mut registry = Registry::default();
    let reloads = Counter::<u64>::default();
    registry.register("hotconf_reloads", "Applied reloads", reloads.clone());
    reloads.inc_by(3);
    let router = Admin::new(fake()).registry(Arc::new(registry)).router();

    // What a Prometheus server sends.
    let accept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let request = Request::get("/metrics").header(header::ACCEPT, accept);
    let answer = call(&router, request.body(Body::empty()).unwrap()).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.headers[header::CONTENT_TYPE],
        OPENMETRICS_CONTENT_TYPE
    );
    let text = answer.text();
    assert!(text.contains("# TYPE hotconf_reloads counter"), "{text}");
    assert!(text.contains("hotconf_reloads_total 3"), "{text}");
    assert!(text.ends_with("# EOF\n"), "{text}");

    // curl, promtool: the Prometheus text format.
    let answer = get(&router, "/metrics").await;
    assert_eq!(
        answer.headers[header::CONTENT_TYPE],
        PROMETHEUS_TEXT_CONTENT_TYPE
    );
    let text = answer.text();
    assert!(
        text.contains("# TYPE hotconf_reloads_total counter"),
        "{text}"
    );
    assert!(text.contains("hotconf_reloads_total 3"), "{text}");
    assert!(!text.contains("# EOF"), "{text}");

    let message = get(&read_only(&fake()), "/metrics")
        .await
        .error(StatusCode::NOT_FOUND);
    assert!(message.contains("no registry"), "{message}");
}

#[tokio::test]
async fn writes_are_forbidden_without_a_token() {
    let view = fake();
    let router = read_only(&view);
    for uri in ["/config/rollback/1", "/config/unpin"] {
        for token in [None, Some(TOKEN), Some("")] {
            let message = post(&router, uri, token).await.error(StatusCode::FORBIDDEN);
            assert_eq!(message, "writes are disabled: no admin token is configured");
        }
    }
    assert_eq!(view.current(), (1, false));
}

#[tokio::test]
async fn writes_need_the_right_bearer_token() {
    let view = fake();
    let router = writable(&view);
    let wrong = [
        None,
        Some("wrong"),
        Some("correct-horse-battery-stapl"),
        Some("correct-horse-battery-staple!"),
    ];
    for uri in ["/config/rollback/1", "/config/unpin"] {
        for token in wrong {
            let answer = post(&router, uri, token).await;
            answer.error(StatusCode::UNAUTHORIZED);
            assert_eq!(answer.headers[header::WWW_AUTHENTICATE], "Bearer");
            assert!(!answer.text().contains(TOKEN));
        }
        // Another scheme is no bearer token.
        let request = Request::post(uri)
            .header(header::AUTHORIZATION, format!("Basic {TOKEN}"))
            .body(Body::empty())
            .unwrap();
        call(&router, request).await.error(StatusCode::UNAUTHORIZED);
    }
    assert_eq!(view.current(), (1, false));
}

#[tokio::test]
async fn rollback_pins_and_unpin_resumes() {
    let view = fake();
    let router = writable(&view);
    view.apply(json!({"db": {"host": "db.internal"}}));

    let answer = post(&router, "/config/rollback/1", Some(TOKEN)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(
        answer.json(),
        json!({"version": 3, "pinned": true, "of": 1})
    );
    assert_eq!(view.current(), (3, true));
    let version = get(&router, "/config/version").await.json();
    assert_eq!(version["origin"], json!({"kind": "rollback", "of": 1}));

    // Pinned: a source change is not applied.
    view.apply(json!({"db": {"host": "db.new"}}));
    assert_eq!(view.current(), (3, true));

    // The scheme is case-insensitive.
    let request = Request::post("/config/unpin")
        .header(header::AUTHORIZATION, format!("bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    let answer = call(&router, request).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json(), json!({"version": 4, "pinned": false}));

    let message = post(&router, "/config/rollback/77", Some(TOKEN))
        .await
        .error(StatusCode::NOT_FOUND);
    assert_eq!(message, "version 77 is not kept");
    post(&router, "/config/unpin", Some(TOKEN))
        .await
        .error(StatusCode::CONFLICT);
}

#[tokio::test]
async fn bad_input_answers_400_json() {
    let view = fake();
    let router = writable(&view);
    for uri in [
        "/config/diff",
        "/config/diff?from=1",
        "/config/diff?to=1",
        "/config/diff?from=x&to=1",
        "/config/diff?from=1&to=-1",
        "/config/diff?from=1&to=%2B1",
        "/config/diff?from=1&to=99999999999999999999999",
        "/config/diff?from=1&from=2&to=1",
        "/config/explain",
        "/config/explain?key=",
    ] {
        let message = get(&router, uri).await.error(StatusCode::BAD_REQUEST);
        assert!(!message.is_empty(), "{uri}");
    }
    let message = get(&router, "/config/diff?to=2")
        .await
        .error(StatusCode::BAD_REQUEST);
    assert_eq!(message, "missing query parameter `from`");

    for uri in [
        "/config/rollback/abc",
        "/config/rollback/-1",
        "/config/rollback/1.5",
        "/config/rollback/%FF",
        "/config/rollback/99999999999999999999999",
    ] {
        post(&router, uri, Some(TOKEN))
            .await
            .error(StatusCode::BAD_REQUEST);
    }
    // Authorization comes first: bad input from an unauthorised caller learns nothing more.
    post(&router, "/config/rollback/abc", None)
        .await
        .error(StatusCode::UNAUTHORIZED);
    assert_eq!(view.current(), (1, false));
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let router = writable(&fake());
    for uri in [
        "/nope",
        "/config/rollback",
        "/config/rollback/1/2",
        "/config/version/",
    ] {
        get(&router, uri).await.error(StatusCode::NOT_FOUND);
    }
    post(&router, "/config/version", Some(TOKEN))
        .await
        .error(StatusCode::METHOD_NOT_ALLOWED);
    get(&router, "/config/unpin")
        .await
        .error(StatusCode::METHOD_NOT_ALLOWED);
    get(&router, "/config/rollback/1")
        .await
        .error(StatusCode::METHOD_NOT_ALLOWED);
    let delete = Request::builder()
        .method(Method::DELETE)
        .uri("/")
        .body(Body::empty())
        .unwrap();
    call(&router, delete)
        .await
        .error(StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn oversized_bodies_answer_413() {
    let view = fake();
    let router = Admin::new(view.clone())
        .token(TOKEN)
        .body_limit(1024)
        .router();
    let request = Request::post("/config/unpin")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_LENGTH, "4096")
        .body(Body::from(vec![b'x'; 4096]))
        .unwrap();
    let message = call(&router, request)
        .await
        .error(StatusCode::PAYLOAD_TOO_LARGE);
    assert!(message.contains("1024"), "{message}");
    // A body within the limit is ignored.
    let request = Request::post("/config/rollback/1")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::from("{}"))
        .unwrap();
    assert_eq!(call(&router, request).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_request_past_its_deadline_answers_503() {
    let router = Admin::new(fake())
        .request_timeout(Duration::from_millis(50))
        .router();
    // The fake never answers this key.
    let message = get(&router, "/config/explain?key=slow")
        .await
        .error(StatusCode::SERVICE_UNAVAILABLE);
    assert!(message.contains("deadline"), "{message}");
}

#[tokio::test]
async fn the_page_has_a_strict_policy_and_the_write_switch() {
    let answer = get(&writable(&fake()), "/").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.headers[header::CONTENT_TYPE],
        "text/html; charset=utf-8"
    );
    let csp = answer.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(
        csp.starts_with("default-src 'none'; script-src 'sha256-"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe"), "{csp}");
    let html = answer.text();
    assert!(html.contains(r#"data-writes="true""#));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external resource"
    );

    let html = get(&read_only(&fake()), "/").await.text();
    assert!(html.contains(r#"data-writes="false""#));
}

#[tokio::test]
async fn a_bound_server_serves_and_shuts_down() {
    let server = Admin::new(fake())
        .bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0);
    let running = server.spawn();
    assert_eq!(running.local_addr(), addr);

    // A plain HTTP/1.1 request over loopback.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.ends_with(r#"{"status":"alive"}"#), "{answer}");

    running.shutdown().await.unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

async fn get_as(router: &Router, uri: &str, host: &str, token: Option<&str>) -> Answer {
    call(
        router,
        with_token(Request::get(uri).header(header::HOST, host), token),
    )
    .await
}

#[tokio::test]
async fn a_rebound_host_name_is_refused() {
    // A page on rebind.attacker.example that rebinds its name to 127.0.0.1 sends its own
    // name as the Host: it must not read the config (DNS rebinding).
    let view = fake();
    let router = Admin::new(view.clone())
        .allowed_hosts(["Admin.Internal"])
        .router();
    for host in [
        "rebind.attacker.example",
        "rebind.attacker.example:9900",
        "localhost.attacker.example",
        "127.0.0.1.nip.example",
    ] {
        for uri in ["/config", "/config/history", "/config/explain?key=db", "/"] {
            let message = get_as(&router, uri, host, None)
                .await
                .error(StatusCode::MISDIRECTED_REQUEST);
            assert!(message.contains("DNS rebinding"), "{message}");
        }
    }
    for host in [
        "127.0.0.1:9900",
        "[::1]:9900",
        "10.0.0.7:9900",
        "localhost:9900",
        "admin.internal:9900",
    ] {
        let answer = get_as(&router, "/config", host, None).await;
        assert_eq!(answer.status, StatusCode::OK, "{host}: {}", answer.text());
    }
    let any = Admin::new(view).allowed_hosts(["*"]).router();
    let answer = get_as(&any, "/config", "proxy.example", None).await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn a_read_token_guards_every_read_but_the_probes_and_the_page() {
    let view = fake();
    let router = Admin::new(view.clone())
        .token(TOKEN)
        .read_token("read-only-token")
        .router();
    for uri in [
        "/config",
        "/config/version",
        "/config/history",
        "/config/diff?from=1&to=1",
        "/config/explain?key=db",
        "/metrics",
    ] {
        get_as(&router, uri, "127.0.0.1", None)
            .await
            .error(StatusCode::UNAUTHORIZED);
        get_as(&router, uri, "127.0.0.1", Some("wrong"))
            .await
            .error(StatusCode::UNAUTHORIZED);
        for token in ["read-only-token", TOKEN] {
            let answer = get_as(&router, uri, "127.0.0.1", Some(token)).await;
            assert_ne!(answer.status, StatusCode::UNAUTHORIZED, "{uri}");
        }
    }
    for uri in ["/healthz", "/readyz", "/"] {
        let answer = get_as(&router, uri, "127.0.0.1", None).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}");
    }
    // The read token does not write.
    post(&router, "/config/unpin", Some("read-only-token"))
        .await
        .error(StatusCode::UNAUTHORIZED);
    let page = get(&router, "/").await.text();
    assert!(page.contains("data-reads-guarded=\"true\""));
    assert!(!format!("{:?}", Admin::new(view).read_token("read-only-token")).contains("read-only"));
}

#[tokio::test]
async fn an_explain_key_is_capped() {
    let router = read_only(&fake());
    // 32 000 segments in a 64 KB URL once took 35 s of CPU under a `**` glob.
    let long = vec!["a"; 32_000].join(".");
    let message = get(&router, &format!("/config/explain?key={long}"))
        .await
        .error(StatusCode::BAD_REQUEST);
    assert!(message.contains("too long"), "{message}");
    let many = vec!["a"; hotconf_admin::MAX_EXPLAIN_KEY_SEGMENTS + 1].join(".");
    assert!(many.len() < hotconf_admin::MAX_EXPLAIN_KEY_BYTES);
    get(&router, &format!("/config/explain?key={many}"))
        .await
        .error(StatusCode::BAD_REQUEST);
    let most = vec!["a"; hotconf_admin::MAX_EXPLAIN_KEY_SEGMENTS].join(".");
    assert_eq!(
        get(&router, &format!("/config/explain?key={most}"))
            .await
            .status,
        StatusCode::OK
    );
}
