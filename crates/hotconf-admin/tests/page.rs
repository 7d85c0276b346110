//! The admin page in real headless Chromium (through chromedriver) against a real reloader
//! whose source the test changes.
//!
//! Needs `chromium` and `chromedriver` (`apt-get install chromium chromium-driver`); without
//! them these tests fail, they never skip. `HOTCONF_SCREENSHOT=1` also writes the page's
//! screenshot to docs/admin-page.png.

mod browser;

use std::time::Duration;

use browser::Browser;
use hotconf_admin::{Admin, RunningServer};
use hotconf_core::{ErrorKind, Event, Format, MemoryHandle, MemoryProvider, Reloader};
use serde_json::{json, Value};
use tokio::sync::broadcast;

const TOKEN: &str = "page-test-token";
const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

fn first_config() -> Value {
    json!({
        "server": {"port": 8080, "workers": 4},
        "db": {"host": "localhost", "port": 5432, "password": "hunter2"},
        "feature": {"search": false},
    })
}

fn second_config() -> Value {
    json!({
        "server": {"port": 8080, "workers": 8},
        "db": {"host": "db.internal", "port": 5432, "password": "hunter3"},
        "feature": {"search": true, "beta": "on"},
    })
}

/// A reloader following one memory source named `app`, and the handle that changes it.
async fn reloader() -> (Reloader<Value>, MemoryHandle, broadcast::Receiver<Event>) {
    let (source, handle) = MemoryProvider::new("memory:app");
    set(&handle, first_config());
    let builder = Reloader::<Value>::builder().named_layer("app", source);
    let events = builder.events();
    (
        builder.start().await.expect("the first config"),
        handle,
        events,
    )
}

fn set(handle: &MemoryHandle, config: Value) {
    handle.set_document(Format::Json, config.to_string());
}

async fn wait_event(events: &mut broadcast::Receiver<Event>, want: impl Fn(&Event) -> bool) {
    let found = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(event) = events.recv().await {
            if want(&event) {
                return;
            }
        }
    });
    found.await.expect("the event in time");
}

async fn serve(admin: Admin) -> RunningServer {
    admin
        .bind("127.0.0.1:0".parse().unwrap())
        .await
        .expect("bind a loopback port")
        .spawn()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_follows_versions_rolls_back_and_unpins() {
    let (reloader, source, mut events) = reloader().await;
    let current = || (reloader.store().version(), reloader.status().pinned);
    let server = serve(Admin::reloader(&reloader).token(TOKEN)).await;
    let browser = Browser::launch().await;
    let url = format!("http://{}/", server.local_addr());
    browser.client.goto(&url).await.expect("open the page");

    browser.wait_text("#version", |text| text == "v1").await;
    browser.wait_text("#origin", |text| text == "sources").await;
    browser.wait_displayed("#pinned", false).await;
    browser
        .wait_text("#sources", |text| {
            text.contains("memory:app") && text.contains("up")
        })
        .await;

    // A new version applied behind the page's back shows up by itself, history and diff too.
    set(&source, second_config());
    browser.wait_text("#version", |text| text == "v2").await;
    let entry = browser
        .wait_text(r#"#history li[data-version="2"]"#, |text| {
            text.contains("feature.beta")
        })
        .await;
    assert!(entry.contains("~ db.host"), "{entry}");
    assert!(entry.contains("+ feature.beta"), "{entry}");
    let newest = browser
        .wait_text("#history li", |text| !text.is_empty())
        .await;
    assert!(newest.starts_with("v2"), "newest first: {newest}");
    let diff = browser
        .wait_text("#diff", |text| text.contains("v1 → v2"))
        .await;
    assert!(diff.contains("db.host"), "{diff}");
    assert!(diff.contains("\"db.internal\""), "{diff}");
    assert!(diff.contains("redacted"), "{diff}");
    assert!(!diff.contains("hunter"), "{diff}");

    // A source's error appears next to it.
    source.fail(ErrorKind::Unavailable, "connection refused", true);
    browser
        .wait_text("#sources", |text| {
            text.contains("connection refused") && text.contains("erroring")
        })
        .await;

    // The current version has no rollback button; a wrong token is refused with a message.
    assert_eq!(browser.count(r#".rollback[data-version="2"]"#).await, 0);
    browser.type_into("#token", "not-the-token").await;
    browser.click(r#".rollback[data-version="1"]"#).await;
    browser
        .wait_text("#error", |text| text.contains("the bearer token is wrong"))
        .await;
    assert_eq!(current(), (2, false));

    // The right token pins version 1's content.
    browser.type_into("#token", TOKEN).await;
    browser.click(r#".rollback[data-version="1"]"#).await;
    browser
        .wait_text("#pinned", |text| text.contains("PINNED to rollback of v1"))
        .await;
    browser.wait_text("#version", |text| text == "v3").await;
    browser.wait_displayed("#error", false).await;
    assert_eq!(current(), (3, true));

    // Pinned: the sources change, the applied version does not.
    set(&source, json!({"server": {"port": 8080, "workers": 16}}));
    wait_event(&mut events, |e| matches!(e, Event::Held { .. })).await;
    assert_eq!(current(), (3, true));
    browser
        .wait_text(r#"#history li[data-version="3"]"#, |text| {
            text.contains("rollback of v1")
        })
        .await;

    let png = browser.client.screenshot().await.expect("a screenshot");
    assert!(png.starts_with(PNG_MAGIC), "a PNG");
    if std::env::var_os("HOTCONF_SCREENSHOT").is_some_and(|value| value == "1") {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/admin-page.png");
        std::fs::write(path, &png).expect("write docs/admin-page.png");
    }

    // Unpin: the page follows the sources again.
    browser.click("#unpin").await;
    browser.wait_displayed("#pinned", false).await;
    browser.wait_text("#version", |text| text == "v4").await;
    browser.wait_text("#origin", |text| text == "sources").await;
    assert_eq!(current(), (4, false));
    assert_eq!(reloader.store().load()["server"]["workers"], 16);

    browser.close().await;
    server.shutdown().await.unwrap();
}

/// An optional layer whose source is absent shows as such, not as erroring, and as up once it
/// appears.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_an_absent_optional_layer() {
    let (base, base_handle) = MemoryProvider::new("memory:base");
    set(&base_handle, first_config());
    let (local, local_handle) = MemoryProvider::new("memory:local");
    local_handle.fail(ErrorKind::NotFound, "no such file", true);
    let reloader = Reloader::<Value>::builder()
        .named_layer("base", base)
        .named_layer("local", local)
        .optional()
        .start()
        .await
        .expect("started without the optional layer");
    let server = serve(Admin::reloader(&reloader)).await;
    let browser = Browser::launch().await;
    let url = format!("http://{}/", server.local_addr());
    browser.client.goto(&url).await.expect("open the page");
    let row = browser
        .wait_text(r#"#sources tr[data-layer="local"]"#, |text| {
            text.contains("absent")
        })
        .await;
    assert!(
        row.to_lowercase().contains("optional") && row.contains("no such file"),
        "{row}"
    );
    assert!(!row.contains("erroring"), "{row}");
    assert_eq!(
        browser
            .count(r#"#sources tr[data-layer="local"] .health-absent"#)
            .await,
        1
    );

    set(&local_handle, second_config());
    browser.wait_text("#version", |text| text == "v2").await;
    browser
        .wait_text(r#"#sources tr[data-layer="local"]"#, |text| {
            text.contains("up")
        })
        .await;
    browser.close().await;
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_the_page_is_read_only_and_escapes_values() {
    let (reloader, source, mut events) = reloader().await;
    set(&source, second_config());
    wait_event(&mut events, |e| {
        matches!(e, Event::Applied { version: 2, .. })
    })
    .await;
    let server = serve(Admin::reloader(&reloader)).await;
    let browser = Browser::launch().await;
    browser
        .client
        .goto(&format!("http://{}/", server.local_addr()))
        .await
        .expect("open the page");

    browser.wait_text("#version", |text| text == "v2").await;
    browser
        .wait_text(r#"#history li[data-version="1"]"#, |text| {
            text.contains("v1")
        })
        .await;
    assert_eq!(browser.count(".rollback").await, 0, "no rollback buttons");
    assert_eq!(browser.count("#unpin").await, 0, "no unpin button");
    assert_eq!(browser.count("#token").await, 0, "no token field");

    // Pinned through the core (not the page): the banner shows, still without a button.
    reloader.rollback(1).await.unwrap();
    browser
        .wait_text("#pinned", |text| text.contains("PINNED to rollback of v1"))
        .await;
    assert_eq!(browser.count("#unpin").await, 0);

    // Values are text, never markup.
    let hostile = r#"<img id="injected" src="x" onerror="document.title='owned'">"#;
    source.fail(ErrorKind::Unavailable, hostile, true);
    browser
        .wait_text("#sources", |text| text.contains(hostile))
        .await;
    assert_eq!(browser.count("#injected").await, 0);
    assert_eq!(browser.client.title().await.unwrap(), "hotconf admin");

    browser.close().await;
    server.shutdown().await.unwrap();
}
