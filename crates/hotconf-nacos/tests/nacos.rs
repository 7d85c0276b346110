//! The Nacos provider against a real r-nacos server on free loopback ports.
//!
//! r-nacos 0.8.8 now and then starts with a dead actor (a panic in its start-up) and then
//! accepts publishes it never stores; the test kit's launcher detects that with a probe and
//! launches it again (see `hotconf_testkit::nacos`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use hotconf_core::{ErrorKind, Event, Provider, Reloader, Startup};
use hotconf_nacos::{Listener, NacosClient, NacosProvider, NacosSource};
use hotconf_testkit::front::LongPollFront;
use hotconf_testkit::nacos::RNacos;
use hotconf_testkit::{wait_for_event, wait_until, Fixture, TcpProxy};
use serde::Deserialize;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One dataId (YAML) read by the provider through proxies (HTTP and gRPC) that can cut it off.
struct NacosFixture {
    listener: Listener,
    nacos: RNacos,
    http_proxy: TcpProxy,
    grpc_proxy: TcpProxy,
    /// In front of the HTTP proxy once `answer_at_once` was called: providers made after that
    /// talk to it.
    front: tokio::sync::OnceCell<LongPollFront>,
}

impl NacosFixture {
    async fn new() -> Self {
        NacosFixture::with_listener(Listener::LongPoll).await
    }

    async fn with_listener(listener: Listener) -> Self {
        let nacos = RNacos::start();
        let http_proxy = TcpProxy::start(&nacos.server()).await;
        let grpc_proxy = TcpProxy::start(&format!("127.0.0.1:{}", nacos.grpc_port())).await;
        NacosFixture {
            listener,
            nacos,
            http_proxy,
            grpc_proxy,
            front: tokio::sync::OnceCell::new(),
        }
    }

    fn provider(&self, data_id: &str) -> NacosProvider {
        let grpc: u16 = self
            .grpc_proxy
            .endpoint()
            .rsplit(':')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        // With the long poll, a check interval longer than any test proves that the listener
        // alone sees every change; nacos-sdk's push is blind to creation and deletion, so with
        // it the check does part of the work.
        let check = match self.listener {
            Listener::LongPoll => Duration::from_secs(120),
            _ => Duration::from_millis(200),
        };
        let http = match self.front.get() {
            Some(front) => front.endpoint(),
            None => self.http_proxy.endpoint(),
        };
        let client = NacosClient::new([http]).grpc_port(grpc);
        let source = NacosSource::new(data_id)
            .listener(self.listener)
            .check_interval(check);
        NacosProvider::new(&client, source)
    }
}

#[async_trait]
impl Fixture for NacosFixture {
    async fn provider(&self) -> Box<dyn Provider> {
        Box::new(self.provider("suite.yaml"))
    }
    /// A dataId whose format nothing tells (no extension, no type on the server).
    async fn refused(&self) -> Option<Box<dyn Provider>> {
        self.nacos.publish("suite-without-format", "app: {}");
        Some(Box::new(self.provider("suite-without-format")))
    }
    async fn write(&self, config: &Value) {
        self.nacos.publish("suite.yaml", &config.to_string());
    }
    async fn write_invalid(&self) {
        self.nacos.publish("suite.yaml", "app: [unclosed");
    }
    async fn delete(&self) {
        self.nacos.delete("suite.yaml");
    }
    async fn interrupt(&self) -> bool {
        self.http_proxy.cut();
        self.grpc_proxy.cut();
        true
    }
    async fn restore(&self) {
        self.http_proxy.restore();
        self.grpc_proxy.restore();
    }
    /// A [`LongPollFront`] before r-nacos (the long poll only: nacos-sdk's push has none).
    async fn answer_at_once(&self, on: bool) -> Option<tokio::sync::watch::Receiver<u64>> {
        if self.listener != Listener::LongPoll {
            return None;
        }
        let front = self
            .front
            .get_or_init(|| async {
                LongPollFront::nacos_listener(&self.http_proxy.endpoint()).await
            })
            .await;
        front.set_answer_at_once(on);
        Some(front.long_polls())
    }
}

/// The behaviour suite with the HTTP long poll.
mod long_poll {
    use super::NacosFixture;
    hotconf_testkit::behaviour_tests!(NacosFixture::new(); interruptible, permanent_failures, long_poll);
}

/// The behaviour suite with nacos-sdk's push as the hint.
mod sdk_listener {
    use super::{Listener, NacosFixture};
    hotconf_testkit::behaviour_tests!(NacosFixture::with_listener(Listener::Sdk); interruptible, permanent_failures);
}

#[derive(Debug, Deserialize)]
struct App {
    #[serde(default)]
    name: String,
    #[serde(default)]
    shared: String,
}

async fn follow(
    layers: Vec<NacosProvider>,
) -> (Reloader<App>, tokio::sync::broadcast::Receiver<Event>) {
    let mut builder = Reloader::<App>::builder().startup(Startup::Wait(Duration::from_secs(30)));
    for layer in layers {
        builder = builder.layer(layer);
    }
    let events = builder.events();
    (builder.start().await.unwrap(), events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creation_after_start_deletion_and_two_layered_data_ids() {
    let fixture = NacosFixture::new().await;
    fixture
        .nacos
        .publish("shared.yaml", "shared: s1\nname: from-shared\n");
    let shared = fixture.provider("shared.yaml");
    let app = fixture.provider("app.yaml");
    // app.yaml does not exist yet: an empty layer, the shared one shows through.
    let (reloader, _) = follow(vec![shared, app]).await;
    let store = reloader.store();
    assert_eq!(
        (store.load().name.as_str(), store.load().shared.as_str()),
        ("from-shared", "s1")
    );
    // Created after the provider started (nacos-sdk never reports this).
    fixture.nacos.publish("app.yaml", "name: from-app\n");
    wait_until(&store, |c| c.name == "from-app").await;
    fixture
        .nacos
        .publish("shared.yaml", "shared: s2\nname: from-shared\n");
    wait_until(&store, |c| c.shared == "s2").await;
    assert_eq!(
        store.load().name,
        "from-app",
        "the higher dataId still wins"
    );
    // Deleted (nacos-sdk keeps serving its stale cache): the lower layer shows through.
    fixture.nacos.delete("app.yaml");
    wait_until(&store, |c| c.name == "from-shared").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_made_while_the_server_was_down_are_applied_after_restart() {
    let mut fixture = NacosFixture::new().await;
    fixture.nacos.publish("app.yaml", "name: before\n");
    let (reloader, mut events) = follow(vec![fixture.provider("app.yaml")]).await;
    let store = reloader.store();
    fixture.nacos.stop();
    wait_for_event(&mut events, |e| matches!(e, Event::SourceError { .. })).await;
    assert_eq!(store.load().name, "before");
    fixture.nacos.restart();
    // A change made right after the restart, before any client reconnected.
    fixture.nacos.publish("app.yaml", "name: after-restart\n");
    wait_until(&store, |c| c.name == "after-restart").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_with_good_and_bad_credentials() {
    let nacos = RNacos::with_auth("admin", "adm1n-pw");
    nacos.publish("app.yaml", "name: secured\n");
    let client = NacosClient::new([nacos.server()])
        .grpc_port(nacos.grpc_port())
        .user("admin", "adm1n-pw");
    let good = NacosSource::new("app.yaml").check_interval(Duration::from_secs(120));
    let (reloader, _) = follow(vec![NacosProvider::new(&client, good)]).await;
    let store = reloader.store();
    assert_eq!(store.load().name, "secured");
    nacos.publish("app.yaml", "name: secured-2\n");
    wait_until(&store, |c| c.name == "secured-2").await;

    let bad = NacosClient::new([nacos.server()])
        .grpc_port(nacos.grpc_port())
        .user("admin", "wrong-pw");
    let started = tokio::time::timeout(
        Duration::from_secs(20),
        Reloader::<App>::builder()
            .layer(NacosProvider::new(&bad, NacosSource::new("app.yaml")))
            .start(),
    )
    .await
    .expect("bad credentials must fail, not hang");
    let err = started.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert!(
        !format!("{err} {err:?}").contains("wrong-pw"),
        "the password leaked: {err}"
    );

    // nacos-sdk would log the password: credentials with its listener are refused up front.
    let sdk = NacosProvider::new(
        &client,
        NacosSource::new("app.yaml").listener(Listener::Sdk),
    );
    let err = sdk.load().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(!err.is_transient(), "{err}");
    let Err(err) = sdk.watch().await else {
        panic!("the watch must be refused too")
    };
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(!format!("{err} {err:?}").contains("adm1n-pw"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_id_without_extension_takes_the_type_the_server_gives() {
    let nacos = RNacos::start();
    nacos.publish_typed("app", r#"{"name": "typed-by-server"}"#, "json");
    let provider = NacosProvider::new(&NacosClient::new([nacos.server()]), NacosSource::new("app"));
    let (reloader, _) = follow(vec![provider]).await;
    assert_eq!(reloader.store().load().name, "typed-by-server");

    nacos.publish_typed("untyped", "name: x", "text");
    let untyped = NacosProvider::new(
        &NacosClient::new([nacos.server()]),
        NacosSource::new("untyped"),
    );
    let err = untyped.load().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(
        err.to_string().contains("untyped") && err.to_string().contains("format="),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_and_group_are_followed_apart_from_the_public_namespace() {
    let nacos = RNacos::start();
    nacos.publish("app.yaml", "name: public\n");
    nacos.publish_in("dev", "G1", "app.yaml", "name: dev-1\n", "yaml");
    // A check interval longer than the test: the long poll (with the namespace in its
    // Listening-Configs) must see each change by itself.
    let source = NacosSource::new("app.yaml")
        .namespace("dev")
        .group("G1")
        .check_interval(Duration::from_secs(120));
    let client = NacosClient::new([nacos.server()]);
    let (reloader, _) = follow(vec![NacosProvider::new(&client, source)]).await;
    let store = reloader.store();
    assert_eq!(store.load().name, "dev-1");
    nacos.publish("app.yaml", "name: public-2\n");
    nacos.publish_in("dev", "G1", "app.yaml", "name: dev-2\n", "yaml");
    wait_until(&store, |c| c.name == "dev-2").await;
    nacos.delete_in("dev", "G1", "app.yaml");
    wait_until(&store, |c| c.name.is_empty()).await;
    nacos.publish_in("dev", "G1", "app.yaml", "name: dev-3\n", "yaml");
    wait_until(&store, |c| c.name == "dev-3").await;
}

/// A server that claims a change on every long poll, at once, while the config never changes.
async fn lying_server(requests: Arc<AtomicUsize>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            requests.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buffer = vec![0; 8192];
                let n = stream.read(&mut buffer).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buffer[..n]);
                let body = if request.starts_with("POST") {
                    "app.yaml%02DEFAULT_GROUP%01\n"
                } else {
                    "name: steady\n"
                };
                let response = format!(
                    "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    address
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_claims_changes_it_does_not_have_gets_no_busy_loop() {
    let requests = Arc::new(AtomicUsize::new(0));
    let server = lying_server(requests.clone()).await;
    let provider = NacosProvider::new(
        &NacosClient::new([server]),
        NacosSource::new("app.yaml").check_interval(Duration::from_secs(1)),
    );
    let mut stream = provider.watch().await.unwrap();
    let first = stream.next().await.unwrap().unwrap();
    assert!(matches!(first.revision, hotconf_core::Revision::Tag(_)));
    // Every poll "reports a change" the read does not find: the pauses grow (200 ms doubling,
    // capped at the 1 s check interval), so 3 s hold a handful of polls, not thousands.
    let during = tokio::time::timeout(Duration::from_secs(3), stream.next()).await;
    assert!(during.is_err(), "no state change was yielded: {during:?}");
    let count = requests.load(Ordering::SeqCst);
    assert!(count <= 20, "{count} requests in 3 s");
}

/// `?ca=FILE`: the open API over HTTPS (a TLS front before r-nacos), trusting only that CA; a
/// client without the CA refuses the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_to_the_open_api_with_a_ca() {
    let nacos = RNacos::start();
    nacos.publish("app.yaml", "name: over-tls\n");
    let pki = hotconf_testkit::pki::TestPki::new();
    let front = hotconf_testkit::pki::TlsFront::start(&nacos.server(), pki.server_config()).await;
    let uri = format!(
        "nacos://{}/app.yaml?ca={}",
        front.endpoint(),
        pki.ca.display()
    );
    let provider = NacosProvider::from_uri(&uri.parse().unwrap()).unwrap();
    let (reloader, _) = follow(vec![provider]).await;
    let store = reloader.store();
    assert_eq!(store.load().name, "over-tls");
    nacos.publish("app.yaml", "name: changed-over-tls\n");
    wait_until(&store, |c| c.name == "changed-over-tls").await;
    // Without the CA (the system roots), the front's certificate is refused.
    let untrusted = format!("nacos://{}/app.yaml?tls", front.endpoint());
    let error = NacosProvider::from_uri(&untrusted.parse().unwrap())
        .unwrap()
        .load()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable, "{error}");
}

/// A 5xx is a server's answer: tagged with its status, so it backs off as an answer, not as an
/// unreachable server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_error_is_an_answer() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf).await;
            let _ = stream
                .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy")
                .await;
        }
    });
    let provider =
        NacosProvider::from_uri(&format!("nacos://{addr}/app.yaml").parse().unwrap()).unwrap();
    let error = provider.load().await.unwrap_err();
    assert!(error.is_answer(), "{error}");
    assert!(error.to_string().contains("503"), "{error}");
}
