//! `HttpProvider` against the test kit's static config server on loopback: the behaviour
//! suite, conditional GETs, formats, credentials, TLS and the server's own parameters.

use std::time::Duration;

use async_trait::async_trait;
use hotconf_core::provider::Content;
use hotconf_core::{ErrorKind, Format, Provider};
use hotconf_http::HttpProvider;
use hotconf_testkit::http::ConfigServer;
use hotconf_testkit::{Fixture, TcpProxy};
use serde_json::Value;

/// `/app.json` on a config server, read through a proxy that can cut it off.
struct HttpFixture {
    server: ConfigServer,
    proxy: TcpProxy,
}

impl HttpFixture {
    async fn new() -> HttpFixture {
        let server = ConfigServer::start().await;
        let proxy = TcpProxy::start(&server.endpoint()).await;
        HttpFixture { server, proxy }
    }

    fn uri(&self, query: &str) -> String {
        format!(
            "http://{}/app.json?interval=100ms{query}",
            self.proxy.endpoint()
        )
    }
}

fn provider(uri: &str) -> HttpProvider {
    HttpProvider::from_uri(&uri.parse().unwrap()).unwrap()
}

#[async_trait]
impl Fixture for HttpFixture {
    async fn provider(&self) -> Box<dyn Provider> {
        Box::new(provider(&self.uri("")))
    }

    /// A CA file that does not exist.
    async fn refused(&self) -> Option<Box<dyn Provider>> {
        let uri = self.uri("&ca=/nonexistent/hotconf-suite-ca.pem");
        Some(Box::new(provider(&uri.replacen("http://", "https://", 1))))
    }

    async fn write(&self, config: &Value) {
        self.server.put("/app.json", &config.to_string(), None);
    }

    async fn write_invalid(&self) {
        self.server.put("/app.json", "{\"app\": {\"name\": ", None);
    }

    async fn delete(&self) {
        self.server.delete("/app.json");
    }

    async fn interrupt(&self) -> bool {
        self.proxy.cut();
        true
    }

    async fn restore(&self) {
        self.proxy.restore();
    }
}

mod behaviour {
    use super::HttpFixture;
    hotconf_testkit::behaviour_tests!(HttpFixture::new(); interruptible, permanent_failures);
}

fn document(layer: &hotconf_core::provider::Layer) -> (Format, String) {
    match &layer.content {
        Content::Document { format, bytes } => {
            (*format, String::from_utf8(bytes.to_vec()).unwrap())
        }
        other => panic!("not a document: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_document_is_a_304_and_keeps_its_revision() {
    let fixture = HttpFixture::new().await;
    fixture.server.put("/app.json", r#"{"a":1}"#, None);
    let source = provider(&fixture.uri(""));
    let first = source.load().await.unwrap();
    assert_eq!(document(&first), (Format::Json, r#"{"a":1}"#.to_owned()));
    assert_eq!(first.revision, hotconf_core::Revision::Tag("\"1\"".into()));
    // The watch asks again with If-None-Match: the server answers 304 and the stream stays
    // quiet, until the document changes.
    let mut requests = fixture.server.requests();
    let mut stream = source.watch().await.unwrap();
    use futures_util::StreamExt;
    let seen = stream.next().await.unwrap().unwrap();
    assert_eq!(seen.revision, first.revision);
    let asked = *requests.borrow_and_update();
    let quiet = async {
        tokio::select! {
            item = stream.next() => panic!("an unchanged document was yielded: {item:?}"),
            polled = requests.wait_for(|n| *n >= asked + 3) => polled.map(|_| ()),
        }
    };
    tokio::time::timeout(Duration::from_secs(20), quiet)
        .await
        .expect("polls within 20 s")
        .unwrap();
    assert!(
        fixture.server.not_modified() >= 3,
        "the polls were not conditional"
    );
    fixture.server.put("/app.json", r#"{"a":2}"#, None);
    let changed = tokio::time::timeout(Duration::from_secs(20), stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(document(&changed).1, r#"{"a":2}"#);
    assert_eq!(
        changed.revision,
        hotconf_core::Revision::Tag("\"2\"".into())
    );
}

#[tokio::test]
async fn the_format_comes_from_the_parameter_the_content_type_or_the_extension() {
    let server = ConfigServer::start().await;
    server.put("/a.json", "{}", Some("application/yaml; charset=utf-8"));
    server.put("/b.toml", "x = 1", None);
    server.put("/c", "a: 1", Some("text/plain"));
    let load = |path: &str| {
        let uri = server.url(path);
        async move { provider(&uri).load().await }
    };
    assert_eq!(document(&load("/a.json").await.unwrap()).0, Format::Yaml);
    assert_eq!(document(&load("/b.toml").await.unwrap()).0, Format::Toml);
    let unknown = load("/c").await.unwrap_err();
    assert!(unknown.to_string().contains("?format="), "{unknown}");
    let forced = provider(&server.url("/c?format=yaml"))
        .load()
        .await
        .unwrap();
    assert_eq!(document(&forced).0, Format::Yaml);
    // 404: an empty layer.
    let absent = provider(&server.url("/gone.json")).load().await.unwrap();
    assert!(matches!(absent.content, Content::Empty));
}

#[tokio::test]
async fn credentials_are_sent_and_never_printed_and_other_parameters_go_to_the_server() {
    let server = ConfigServer::start().await;
    server.put("/app/prod", "{}", Some("application/json"));
    let basic = provider(&format!(
        "http://app:hunter2@{}/app/prod?profile=blue",
        server.endpoint()
    ));
    basic.load().await.unwrap();
    assert_eq!(
        server.last_authorization().as_deref(),
        Some("Basic YXBwOmh1bnRlcjI=")
    );
    let bearer = provider(&format!(
        "http://{}/app/prod?token=s3cr3t-tok&interval=5s",
        server.endpoint()
    ));
    bearer.load().await.unwrap();
    assert_eq!(
        server.last_authorization().as_deref(),
        Some("Bearer s3cr3t-tok")
    );
    for shown in [
        basic.name().to_owned(),
        bearer.name().to_owned(),
        format!("{basic:?} {bearer:?}"),
    ] {
        assert!(
            !shown.contains("hunter2") && !shown.contains("s3cr3t"),
            "{shown}"
        );
    }
    assert!(basic.name().contains("profile=blue"), "{}", basic.name());
    // A refusal names the status and never the credentials, and is an answer.
    let wrong = provider(&format!(
        "http://{}/nope?token=s3cr3t-tok",
        server.endpoint()
    ));
    let absent = wrong.load().await.unwrap();
    assert!(matches!(absent.content, Content::Empty));
}

#[tokio::test]
async fn https_with_a_ca_file() {
    let pki = hotconf_testkit::pki::TestPki::new();
    let server = ConfigServer::start_tls(pki.server_config()).await;
    server.put("/app.yaml", "a: over-tls\n", None);
    let url = server.url("/app.yaml");
    let trusted = provider(&format!("{url}?ca={}", pki.ca.display()));
    assert_eq!(document(&trusted.load().await.unwrap()).1, "a: over-tls\n");
    // The system roots do not know this CA.
    let error = provider(&url).load().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable, "{error}");
    assert!(!error.is_answer(), "{error}");
}

#[tokio::test]
async fn nothing_secret_reaches_debug_or_an_error_page() {
    let server = ConfigServer::start().await;
    // A server's own secret parameters go with the request but never into Debug or the name.
    let uri = format!(
        "http://app:hunter2@{}/echo.json?password=s3cr3t-pw&api_key=s3cr3t-key&profile=blue",
        server.endpoint()
    );
    let source = provider(&uri);
    let shown = format!("{source:?} {}", source.name());
    assert!(
        !shown.contains("s3cr3t") && !shown.contains("hunter2"),
        "{shown}"
    );
    assert!(shown.contains("profile=blue"), "{shown}");
    // An error page that echoes the request's headers and URL shows none of them.
    server.echo_errors(true);
    let error = source.load().await.unwrap_err();
    let text = format!("{error} {error:?}");
    for secret in ["s3cr3t", "hunter2", "YXBwOmh1bnRlcjI="] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert!(error.is_answer(), "{error}");
}

#[test]
fn contradictory_or_hammering_uris_are_refused() {
    for uri in [
        "http://h/app.json?ca=/tmp/ca.pem",
        "http://h/app.json?tls",
        "https://u:p@h/app.json?token=t",
        "https://h/app.json?interval=10ms",
        "https://h/app.json?interval=0s",
    ] {
        let error = HttpProvider::from_uri(&uri.parse().unwrap()).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Config, "{uri}: {error}");
    }
}
