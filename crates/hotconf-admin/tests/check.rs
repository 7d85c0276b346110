//! `POST /config/check` and `GET /config/schema` over a real reloader: the verdicts, the token,
//! the bounds, and that no value of the document or of a secret layer appears in an answer.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use futures_util::stream;
use hotconf_admin::Admin;
use hotconf_core::{Error, Format, MemoryProvider, Reloader};
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::{json, Value};
use tower::ServiceExt;

const TOKEN: &str = "check-token-for-tests";
const PASSWORD: &str = "hunter2-proposal";

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Cfg {
    port: u16,
    db: Db,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Db {
    host: String,
    password: String,
}

/// A reloader over `defaults`, `overrides` and a secret layer `vault`, refusing port 1.
async fn reloader() -> Reloader<Cfg> {
    let (defaults, d) = MemoryProvider::new("memory:defaults");
    d.set_document(Format::Yaml, "port: 8080\ndb: {host: db.internal}\n");
    let (overrides, o) = MemoryProvider::new("memory:overrides");
    o.set_document(Format::Yaml, "{}");
    let (vault, v) = MemoryProvider::new("memory:vault");
    v.set_document(Format::Yaml, "db: {password: hunter2-running}\n");
    Reloader::<Cfg>::builder()
        .named_layer("defaults", defaults)
        .named_layer("overrides", overrides)
        .named_layer("vault", vault)
        .secret()
        .validate(|cfg| match cfg.port {
            1 => Err(Error::validation("port 1 is reserved").with_key("port")),
            _ => Ok(()),
        })
        .start()
        .await
        .unwrap()
}

struct Answer {
    status: StatusCode,
    body: Value,
    text: String,
}

async fn send(router: &Router, request: Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    Answer { status, body, text }
}

/// `POST uri` with the token (when given) and `document` as the body.
async fn check(router: &Router, uri: &str, token: Option<&str>, document: &str) -> Answer {
    let mut request = Request::post(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    send(
        router,
        request.body(Body::from(document.to_owned())).unwrap(),
    )
    .await
}

async fn router() -> (Reloader<Cfg>, Router) {
    let reloader = reloader().await;
    let router = Admin::reloader(&reloader).token(TOKEN).router();
    (reloader, router)
}

#[tokio::test]
async fn an_accepted_document_answers_its_changed_paths_and_nothing_is_applied() {
    let (reloader, router) = router().await;
    let answer = check(
        &router,
        "/config/check?layer=overrides&format=yaml",
        Some(TOKEN),
        "port: 9090\ndb: {host: db2.internal}\n",
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(
        answer.body,
        json!({"accepted": true, "layer": "overrides", "restart_required": [],
               "changes": {"added": [], "changed": ["db.host", "port"], "omitted": 0, "removed": []}})
    );
    assert_eq!(reloader.store().version(), 1);
    assert_eq!(reloader.store().load().port, 8080);

    // The format from the Content-Type; the layer by its source's name.
    let request = Request::post("/config/check?layer=memory:overrides")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"port": 8081}"#))
        .unwrap();
    let answer = send(&router, request).await;
    assert_eq!(
        answer.body["changes"]["changed"],
        json!(["port"]),
        "{}",
        answer.text
    );
}

#[tokio::test]
async fn a_rejected_document_is_an_answer_naming_the_key_and_the_layer() {
    let (reloader, router) = router().await;
    let answer = check(
        &router,
        "/config/check?layer=overrides&format=yaml",
        Some(TOKEN),
        "port: 1\n",
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.body["accepted"], false);
    assert_eq!(answer.body["key"], "port");
    assert_eq!(answer.body["kind"], "validation");
    assert_eq!(answer.body["layer"], "overrides");
    assert_eq!(answer.body["source"], "memory:overrides");
    let error = answer.body["error"].as_str().unwrap();
    assert!(error.contains("port 1 is reserved"), "{error}");

    let answer = check(
        &router,
        "/config/check?layer=overrides&format=toml",
        Some(TOKEN),
        "port = [",
    )
    .await;
    assert_eq!(
        (answer.status, &answer.body["kind"]),
        (StatusCode::OK, &json!("parse")),
        "{}",
        answer.text
    );
    assert_eq!(reloader.store().version(), 1);
    assert_eq!(reloader.status().consecutive_rejections, 0);
}

#[tokio::test]
async fn a_check_needs_the_write_token() {
    let reloader = reloader().await;
    let read_only = Admin::reloader(&reloader).router();
    let uri = "/config/check?layer=overrides&format=yaml";
    let answer = check(&read_only, uri, Some(TOKEN), "port: 1").await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.text);

    let (_reloader, router) = router().await;
    for token in [None, Some("wrong-token")] {
        let answer = check(&router, uri, token, "port: 1").await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.text);
        assert!(answer.body["error"].is_string());
    }
    // A read token does not do.
    let guarded = Admin::reloader(&reloader)
        .token(TOKEN)
        .read_token("read-only-token")
        .router();
    let answer = check(&guarded, uri, Some("read-only-token"), "port: 1").await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.text);
}

#[tokio::test]
async fn a_body_past_the_limit_answers_413_declared_or_streamed() {
    let reloader = reloader().await;
    let router = Admin::reloader(&reloader)
        .token(TOKEN)
        .check_body_limit(64)
        .router();
    let uri = "/config/check?layer=overrides&format=yaml";
    let large = format!("port: 9090\npad: \"{}\"\n", "x".repeat(100));
    let answer = check(&router, uri, Some(TOKEN), &large).await;
    assert_eq!(
        answer.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        answer.text
    );

    // Without a Content-Length: read up to the limit, no further.
    let chunks = (0..100).map(|_| Ok::<_, std::io::Error>(vec![b'#'; 16]));
    let request = Request::post(uri)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::from_stream(stream::iter(chunks)))
        .unwrap();
    let answer = send(&router, request).await;
    assert_eq!(
        answer.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        answer.text
    );

    // The default limit is 1 MiB, not the 16 KiB of other routes, nested under a prefix too.
    let nested = Router::new().nest("/admin", Admin::reloader(&reloader).token(TOKEN).router());
    let padded = format!("port: 9090\npad: \"{}\"\n", "x".repeat(64 << 10));
    let answer = check(&nested, &format!("/admin{uri}"), Some(TOKEN), &padded).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.body["accepted"], true);
    let huge = "#".repeat((1 << 20) + 1);
    let answer = check(&nested, &format!("/admin{uri}"), Some(TOKEN), &huge).await;
    assert_eq!(
        answer.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        answer.text
    );
}

#[tokio::test]
async fn an_unknown_layer_or_format_is_a_bad_request() {
    let (_reloader, router) = router().await;
    let answer = check(
        &router,
        "/config/check?layer=nope&format=yaml",
        Some(TOKEN),
        "{}",
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text);
    let error = answer.body["error"].as_str().unwrap();
    assert!(
        error.contains("`nope`") && error.contains("`overrides`"),
        "{error}"
    );

    for uri in [
        "/config/check?layer=overrides&format=xml",
        "/config/check?layer=overrides",
        "/config/check?format=yaml",
    ] {
        let answer = check(&router, uri, Some(TOKEN), "{}").await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{uri}: {}",
            answer.text
        );
    }
}

#[tokio::test]
async fn no_secret_value_appears_in_an_answer() {
    let (_reloader, router) = router().await;
    let mut seen = String::new();
    for (layer, document) in [
        ("vault", format!("db: {{password: {PASSWORD}}}\n")),
        ("vault", format!("db: {{password: [{PASSWORD}]}}\n")),
        ("vault", format!("port: {PASSWORD}\n")),
        ("vault", format!("db: {{password: \"{PASSWORD}\n")),
        ("overrides", format!("db: {{password: {PASSWORD}}}\n")),
        ("overrides", format!("db: {{host: [{PASSWORD}]}}\n")),
        ("overrides", format!("port: {PASSWORD}\n")),
    ] {
        let uri = format!("/config/check?layer={layer}&format=yaml");
        let answer = check(&router, &uri, Some(TOKEN), &document).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        seen += &answer.text;
    }
    assert!(!seen.contains(PASSWORD), "{seen}");
    assert!(!seen.contains("hunter2-running"), "{seen}");
    assert!(seen.contains("db.password"), "{seen}");
}

#[tokio::test]
async fn the_schema_is_served_when_the_application_gives_one() {
    let reloader = reloader().await;
    let answer = send(
        &Admin::reloader(&reloader).router(),
        Request::get("/config/schema").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.text);
    assert!(answer.body["error"].as_str().unwrap().contains("schema"));

    let schema = json!({"type": "object", "properties": {"port": {"type": "integer"}}});
    let router = Admin::reloader(&reloader).schema(schema.clone()).router();
    let answer = send(
        &router,
        Request::get("/config/schema").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.body, schema);
}
