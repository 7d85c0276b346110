//! The admin page in real headless Chromium (through chromedriver) against a stateful fake view.
//!
//! Needs `chromium` and `chromedriver` (`apt-get install chromium chromium-driver`); without
//! them these tests fail, they never skip. `HOTCONF_SCREENSHOT=1` also writes the page's
//! screenshot to docs/admin-page.png.

mod browser;
mod fake;

use std::sync::Arc;

use browser::Browser;
use fake::Fake;
use hotconf_admin::{Admin, RunningServer, View};
use serde_json::json;

const TOKEN: &str = "page-test-token";
const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

fn first_config() -> serde_json::Value {
    json!({
        "server": {"port": 8080, "workers": 4},
        "db": {"host": "localhost", "port": 5432, "password": "hunter2"},
        "feature": {"search": false},
    })
}

fn second_config() -> serde_json::Value {
    json!({
        "server": {"port": 8080, "workers": 8},
        "db": {"host": "db.internal", "port": 5432, "password": "hunter3"},
        "feature": {"search": true, "beta": "on"},
    })
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
    let view = Fake::new(first_config());
    let server = serve(Admin::new(view.clone()).token(TOKEN)).await;
    let browser = Browser::launch().await;
    let url = format!("http://{}/", server.local_addr());
    browser.client.goto(&url).await.expect("open the page");

    browser.wait_text("#version", |text| text == "v1").await;
    browser.wait_text("#origin", |text| text == "sources").await;
    browser.wait_displayed("#pinned", false).await;
    browser
        .wait_text("#sources", |text| {
            text.contains("file:./app.toml") && text.contains("up")
        })
        .await;

    // A new version applied behind the page's back shows up by itself, history and diff too.
    view.apply(second_config());
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
    view.set_last_error(Some("connection refused"));
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
    assert_eq!(view.current(), (2, false));

    // The right token pins version 1's content.
    browser.type_into("#token", TOKEN).await;
    browser.click(r#".rollback[data-version="1"]"#).await;
    browser
        .wait_text("#pinned", |text| text.contains("PINNED to rollback of v1"))
        .await;
    browser.wait_text("#version", |text| text == "v3").await;
    browser.wait_displayed("#error", false).await;
    assert_eq!(view.current(), (3, true));

    // Pinned: the sources change, the applied version does not.
    view.apply(json!({"server": {"port": 8080, "workers": 16}}));
    assert_eq!(view.current(), (3, true));
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
    assert_eq!(view.current(), (4, false));

    browser.close().await;
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_the_page_is_read_only_and_escapes_values() {
    let view = Fake::new(first_config());
    view.apply(second_config());
    let server = serve(Admin::new(view.clone())).await;
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
    view.rollback(1).await.unwrap();
    browser
        .wait_text("#pinned", |text| text.contains("PINNED to rollback of v1"))
        .await;
    assert_eq!(browser.count("#unpin").await, 0);

    // Values are text, never markup.
    let hostile = r#"<img id="injected" src="x" onerror="document.title='owned'">"#;
    view.set_last_error(Some(hostile));
    browser
        .wait_text("#sources", |text| text.contains(hostile))
        .await;
    assert_eq!(browser.count("#injected").await, 0);
    assert_eq!(browser.client.title().await.unwrap(), "hotconf admin");

    browser.close().await;
    server.shutdown().await.unwrap();
}

#[test]
fn the_fake_is_shared() {
    // The page tests drive the fake through an Arc, as the router does.
    let view = Fake::new(first_config());
    let erased: Arc<dyn View> = view.clone();
    assert_eq!(erased.version()["version"], 1);
}
