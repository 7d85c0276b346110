//! The admin router over a real reloader: what each route answers, and that no value the
//! redaction policy covers, nor a rejected value, appears in any answer (G12).

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use hotconf_admin::Admin;
use hotconf_core::{Event, Format, MemoryHandle, MemoryProvider, Redaction, Reloader, Secret};
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::broadcast;
use tower::ServiceExt;

const TOKEN: &str = "admin-token-for-tests";
const SECRETS: &[&str] = &[
    "hunter2-admin",
    "tok-admin-9",
    "dsn-secret-1",
    "hunter3-admin",
];

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Cfg {
    db: Db,
    api: Api,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Db {
    host: String,
    port: u16,
    password: Secret,
    dsn: String,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Api {
    token: String,
}

async fn call(router: &Router, method: Method, uri: &str) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).expect("a JSON body"))
}

async fn wait(events: &mut broadcast::Receiver<Event>, want: impl Fn(&Event) -> bool) {
    tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(event) = events.recv().await {
            if want(&event) {
                return;
            }
        }
    })
    .await
    .expect("the event in time");
}

fn set(handle: &MemoryHandle, value: Value) {
    handle.set_document(Format::Json, value.to_string());
}

#[tokio::test]
async fn every_route_answers_and_no_secret_or_rejected_value_leaks() {
    let (defaults, lower) = MemoryProvider::new("memory:defaults");
    let (overrides, upper) = MemoryProvider::new("memory:overrides");
    set(
        &lower,
        json!({"db": {"host": "localhost", "port": 5432, "password": "hunter2-admin", "dsn": "dsn-secret-1"}, "api": {"token": "tok-admin-9"}}),
    );
    set(&upper, json!({}));
    let builder = Reloader::<Cfg>::builder()
        .named_layer("defaults", defaults)
        .named_layer("overrides", overrides)
        .redaction(Redaction::default().key("db.dsn"));
    let mut events = builder.events();
    let reloader = builder.start().await.unwrap();
    let router = Admin::reloader(&reloader).token(TOKEN).router();

    set(
        &upper,
        json!({"db": {"host": "db.internal", "password": "hunter3-admin"}}),
    );
    wait(&mut events, |e| {
        matches!(e, Event::Applied { version: 2, .. })
    })
    .await;
    set(&upper, json!({"db": {"port": "leak-me-port-123"}}));
    wait(&mut events, |e| matches!(e, Event::Rejected { .. })).await;

    let mut seen = String::new();
    let (status, version) = call(&router, Method::GET, "/config/version").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(version["version"], 2);
    assert_eq!(version["consecutive_rejections"], 1);
    assert_eq!(version["sources"][1]["layer"], "overrides");
    assert_eq!(version["sources"][1]["health"], "erroring");
    seen += &version.to_string();

    let (_, config) = call(&router, Method::GET, "/config").await;
    assert_eq!(config["config"]["db"]["host"], "db.internal");
    assert_eq!(config["config"]["db"]["password"], "***");
    assert_eq!(config["config"]["db"]["dsn"], "***");
    seen += &config.to_string();

    let (_, history) = call(&router, Method::GET, "/config/history").await;
    assert_eq!(
        history["versions"][1]["changes"]["changed"],
        json!(["db.host", "db.password"])
    );
    seen += &history.to_string();

    let (_, diff) = call(&router, Method::GET, "/config/diff?from=1&to=2").await;
    assert_eq!(
        diff["changed"][0],
        json!({"key": "db.host", "before": "localhost", "after": "db.internal"})
    );
    assert_eq!(
        diff["changed"][1],
        json!({"key": "db.password", "redacted": true})
    );
    seen += &diff.to_string();
    let (status, _) = call(&router, Method::GET, "/config/diff?from=1&to=99").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    for key in ["db.password", "db", "api", "db.dsn", "db.host"] {
        let (status, explained) =
            call(&router, Method::GET, &format!("/config/explain?key={key}")).await;
        assert_eq!(status, StatusCode::OK);
        seen += &explained.to_string();
    }
    let (_, host) = call(&router, Method::GET, "/config/explain?key=db.host").await;
    assert_eq!(host["layer"], "overrides");
    assert_eq!(host["overridden"], json!(["defaults"]));

    let (status, ready) = call(&router, Method::GET, "/readyz").await;
    assert_eq!((status, &ready["ready"]), (StatusCode::OK, &json!(true)));

    let request = Request::get("/metrics").body(Body::empty()).unwrap();
    let metrics = router.clone().oneshot(request).await.unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    let metrics = metrics.into_body().collect().await.unwrap().to_bytes();
    let metrics = String::from_utf8(metrics.to_vec()).unwrap();
    assert!(metrics.contains("hotconf_config_version 2"), "{metrics}");
    seen += &metrics;

    for secret in SECRETS.iter().chain(&["leak-me-port"]) {
        assert!(!seen.contains(secret), "{secret} leaked: {seen}");
    }

    // Rollback and unpin with the token.
    let (status, rolled) = call(&router, Method::POST, "/config/rollback/1").await;
    assert_eq!(status, StatusCode::OK, "{rolled}");
    assert_eq!(rolled, json!({"version": 3, "pinned": true, "of": 1}));
    let (_, version) = call(&router, Method::GET, "/config/version").await;
    assert_eq!(
        (version["pinned"].clone(), version["origin"]["kind"].clone()),
        (json!(true), json!("rollback"))
    );
    let (status, _) = call(&router, Method::POST, "/config/rollback/77").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, unpinned) = call(&router, Method::POST, "/config/unpin").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(unpinned["pinned"], false);
    assert!(!reloader.status().pinned);

    // Once the reloader is gone, commands answer 503 and reads still work.
    drop(reloader);
    let (status, _) = call(&router, Method::POST, "/config/unpin").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, _) = call(&router, Method::GET, "/config/version").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn every_spelling_of_a_secret_is_redacted_in_every_answer() {
    use hotconf_testkit::leaks;
    let (source, handle) = MemoryProvider::new("memory:app");
    set(&handle, json!({"compass": "south"}));
    let builder = Reloader::<Value>::builder().named_layer("app", source);
    let mut events = builder.events();
    let reloader = builder.start().await.unwrap();
    let router = Admin::reloader(&reloader).token(TOKEN).router();
    set(&handle, leaks::config());
    wait(&mut events, |e| {
        matches!(e, Event::Applied { version: 2, .. })
    })
    .await;

    let (_, config) = call(&router, Method::GET, "/config").await;
    leaks::assert_no_leak("/config", &config.to_string());
    assert_eq!(config["config"]["compass"], "north");
    assert_eq!(config["config"]["env"][1]["value"], "info");
    let (_, diff) = call(&router, Method::GET, "/config/diff?from=1&to=2").await;
    leaks::assert_no_leak("/config/diff", &diff.to_string());
    assert!(diff.to_string().contains("\"north\""), "{diff}");
    for key in leaks::SECRET_KEYS {
        let (status, explained) =
            call(&router, Method::GET, &format!("/config/explain?key={key}")).await;
        assert_eq!(status, StatusCode::OK, "{key}");
        assert_eq!(explained["found"], true, "{key}");
        assert_eq!(explained["redacted"], true, "{key}: {explained}");
        leaks::assert_no_leak(
            &format!("/config/explain?key={key}"),
            &explained.to_string(),
        );
    }
    for key in ["env", "args", "sentry"] {
        let (_, explained) =
            call(&router, Method::GET, &format!("/config/explain?key={key}")).await;
        leaks::assert_no_leak(
            &format!("/config/explain?key={key}"),
            &explained.to_string(),
        );
    }
    let (_, explained) = call(&router, Method::GET, "/config/explain?key=compass").await;
    assert_eq!(explained["value"], "north");
}

/// The admin API's bodies are a contract: each route's answer over a real reloader, compared
/// byte for byte with `tests/golden/admin.json` (times replaced; `HOTCONF_BLESS=1` rewrites it).
#[tokio::test]
async fn every_answer_is_unchanged_byte_for_byte() {
    use hotconf_testkit::golden::{assert_golden, without_times};
    let (defaults, lower) = MemoryProvider::new("memory:defaults");
    let (overrides, upper) = MemoryProvider::new("memory:overrides");
    set(
        &lower,
        json!({"db": {"host": "localhost", "port": 5432, "password": "hunter2"}, "name": "app"}),
    );
    set(&upper, json!({}));
    let builder = Reloader::<Value>::builder()
        .named_layer("defaults", defaults)
        .named_layer("overrides", overrides)
        .instance_id("web-0");
    let mut events = builder.events();
    let reloader = builder.start().await.unwrap();
    let router = Admin::reloader(&reloader).token(TOKEN).router();
    set(&upper, json!({"db": {"host": "db.internal"}}));
    wait(&mut events, |e| {
        matches!(e, Event::Applied { version: 2, .. })
    })
    .await;
    upper.set_document(Format::Json, "{\"db\": ");
    wait(&mut events, |e| matches!(e, Event::Rejected { .. })).await;

    let mut text = String::new();
    for route in [
        "/config/version",
        "/config",
        "/config/history",
        "/config/diff?from=1&to=2",
        "/config/explain?key=db.host",
        "/config/explain?key=db.password",
        "/readyz",
        "/healthz",
    ] {
        let request = Request::get(route).body(Body::empty()).unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let body = without_times(std::str::from_utf8(&body).unwrap());
        text.push_str(&format!("GET {route} -> {status}\n{body}\n\n"));
    }
    assert_golden(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/admin.txt"),
        &text,
    );
}
