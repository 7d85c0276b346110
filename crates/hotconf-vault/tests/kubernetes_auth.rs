//! Vault's Kubernetes login end to end (issue 27, item 4): a real OpenBao dev server whose
//! Kubernetes auth method asks the test kit's Kubernetes API emulator to review service account
//! tokens (TokenReview), and a `Reloader` over a lower in-memory layer with a `VaultProvider`
//! on top that logs in with `Auth::Kubernetes`. The first login, logins again as the token
//! reaches its max TTL, a service account token rotated in its file, an unknown service
//! account, and the `vault://…?k8s_role=…&jwt_file=…` URI. Every wait is on the store, the
//! events, the emulator's counters or the server's audit log, each with a deadline.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hotconf_core::{Event, MemoryProvider, Reloader, Startup};
use hotconf_testkit::kubernetes::{service_account_jwt, KubeEmulator};
use hotconf_testkit::openbao::OpenBao;
use hotconf_testkit::{eventually, wait_until, TIMEOUT};
use hotconf_vault::{Auth, VaultClient, VaultProvider, VaultSource};
use serde_json::{json, Value};
use tokio::sync::broadcast;

/// How often the providers under test poll.
const INTERVAL: Duration = Duration::from_millis(100);
/// The Vault role, and the service account it admits (`default/app`).
const ROLE: &str = "app";
const NAMESPACE: &str = "default";
const ACCOUNT: &str = "app";
/// The bearer token OpenBao's TokenReviews carry, when the emulator requires one.
const REVIEWER: &str = "hotconf-token-reviewer";
/// The audit log's path of a Kubernetes login.
const LOGIN: &str = "auth/kubernetes/login";
/// What the role's tokens may read: `secret/app` only.
const READ_APP: &str = r#"
path "secret/data/app" { capabilities = ["read"] }
path "secret/metadata/app" { capabilities = ["read"] }
"#;

/// An API server emulator, an OpenBao that reviews tokens with it, and a directory for the
/// service account token file.
struct Cluster {
    kube: KubeEmulator,
    bao: OpenBao,
    dir: tempfile::TempDir,
}

/// Starts both servers. With `reviewer`, the emulator requires [`REVIEWER`] as the bearer
/// token of every request and OpenBao sends it as `token_reviewer_jwt` (Vault outside the
/// cluster); without, neither (OpenBao then sends the JWT under review as the bearer). The
/// role `app` admits `default/app` with a 2 s token TTL and a 4 s max TTL.
async fn cluster(reviewer: bool) -> Cluster {
    let kube = KubeEmulator::start().await;
    let bao = OpenBao::start().await;
    bao.enable_file_audit().await;
    bao.put_policy("app-reader", READ_APP).await;
    if reviewer {
        kube.set_token(Some(REVIEWER));
    }
    bao.enable_kubernetes_auth(&kube.url(), None, reviewer.then_some(REVIEWER))
        .await;
    bao.put_kubernetes_role(
        ROLE,
        &[ACCOUNT],
        &[NAMESPACE],
        &["app-reader"],
        Duration::from_secs(2),
        Duration::from_secs(4),
    )
    .await;
    bao.put("app", app("first")).await;
    let dir = tempfile::tempdir().unwrap();
    Cluster { kube, bao, dir }
}

impl Cluster {
    /// The token file, `token` written to it (atomically, as the kubelet swaps it).
    fn jwt_file(&self, token: &str) -> PathBuf {
        let path = self.dir.path().join("token");
        let staged = self.dir.path().join("token.new");
        std::fs::write(&staged, token).unwrap();
        std::fs::rename(&staged, &path).unwrap();
        path
    }

    fn auth(&self, jwt_file: PathBuf) -> Auth {
        Auth::Kubernetes {
            mount: "kubernetes".into(),
            role: ROLE.into(),
            jwt_file,
        }
    }

    fn provider(&self, auth: Auth) -> VaultProvider {
        let client = VaultClient::new(&self.bao.url()).auth(auth);
        VaultProvider::new(
            &client,
            VaultSource::secret("secret/app").interval(INTERVAL),
        )
    }

    /// How many Kubernetes logins the audit log holds.
    fn logins(&self) -> usize {
        self.bao
            .audit_requests()
            .iter()
            .filter(|(_, path)| path == LOGIN)
            .count()
    }

    /// TokenReviews the emulator answered `authenticated: true`.
    fn accepted_reviews(&self) -> u64 {
        let counters = self.kube.counters();
        counters.token_reviews - counters.tokens_rejected
    }
}

/// A reloader over `lower` (`app.name: lower`) and `provider` on top, started within
/// `startup`, its events subscribed from before the start.
async fn reloader(
    provider: VaultProvider,
    startup: Duration,
) -> (
    hotconf_core::Result<Reloader<Value>>,
    broadcast::Receiver<Event>,
) {
    let (lower, handle) = MemoryProvider::new("memory:lower");
    handle.set_tree(json!({"app": {"name": "lower"}}));
    let builder = Reloader::<Value>::builder()
        .named_layer("lower", lower)
        .named_layer("vault", provider)
        .startup(Startup::Wait(startup))
        .max_backoff(Duration::from_millis(300));
    let events = builder.events();
    (builder.start().await, events)
}

fn app(name: &str) -> Value {
    json!({"app": {"name": name}})
}

fn name(reloader: &Reloader<Value>) -> Value {
    reloader.store().load().config()["app"]["name"].clone()
}

async fn wait_name(reloader: &Reloader<Value>, name: &str) {
    wait_until(&reloader.store(), |c: &Value| c["app"]["name"] == name).await;
}

/// Fails on any source error received so far.
fn assert_no_source_error(events: &mut broadcast::Receiver<Event>) {
    while let Ok(event) = events.try_recv() {
        assert!(!matches!(event, Event::SourceError { .. }), "{event:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_account_logs_in_reads_and_logs_in_again_as_its_token_reaches_the_max_ttl() {
    let cluster = cluster(true).await;
    let jwt = cluster.kube.issue_service_account_token(NAMESPACE, ACCOUNT);
    let auth = cluster.auth(cluster.jwt_file(&jwt));
    let (reloader, mut events) = reloader(cluster.provider(auth), TIMEOUT).await;
    let reloader = reloader.expect("a first config");
    // (a) The first config was read with the token of a login the emulator vouched for.
    assert_eq!(name(&reloader), "first");
    assert!(cluster.logins() >= 1);
    assert!(cluster.kube.token_reviews_of(&jwt) >= 1);
    // (b) The token (TTL 2 s, max 4 s) is renewed, then replaced by a new login.
    eventually("two logins", Duration::from_secs(20), || async {
        cluster.logins() >= 2
    })
    .await;
    assert!(cluster
        .bao
        .audit_requests()
        .iter()
        .any(|(_, path)| path == "auth/token/renew-self"));
    assert!(cluster.kube.token_reviews_of(&jwt) >= 2);
    cluster.bao.put("app", app("after a new login")).await;
    wait_name(&reloader, "after a new login").await;
    assert_eq!(cluster.kube.counters().tokens_rejected, 0);
    assert_no_source_error(&mut events);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_service_account_token_is_read_from_its_file_at_the_next_login() {
    let cluster = cluster(true).await;
    let old = cluster.kube.issue_service_account_token(NAMESPACE, ACCOUNT);
    let auth = cluster.auth(cluster.jwt_file(&old));
    let (reloader, _events) = reloader(cluster.provider(auth), TIMEOUT).await;
    let reloader = reloader.expect("a first config");
    assert_eq!(name(&reloader), "first");
    // The kubelet's rotation: a new token for the same account in the file, the old one
    // invalid from then on.
    let new = cluster.kube.issue_service_account_token(NAMESPACE, ACCOUNT);
    cluster.jwt_file(&new);
    assert!(cluster.kube.remove_service_account_token(&old));
    // Every review the emulator accepts from now on is of the new token: two of them are two
    // logins with it.
    let before = cluster.accepted_reviews();
    cluster
        .kube
        .wait_for(|c| c.token_reviews - c.tokens_rejected >= before + 2)
        .await;
    assert!(cluster.kube.token_reviews_of(&new) >= 2);
    cluster.bao.put("app", app("after the rotation")).await;
    wait_name(&reloader, "after the rotation").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_or_unbound_service_account_fails_the_start_without_quoting_its_jwt() {
    let cluster = cluster(true).await;
    // A well-formed token for the bound account that the API server never issued: OpenBao
    // asks, the emulator says no.
    let unknown = service_account_jwt(NAMESPACE, ACCOUNT, "5e7f1c3a-dead-4000-8000-000000000000");
    // A real token of an account the role does not admit: OpenBao refuses on its claims.
    let unbound = cluster
        .kube
        .issue_service_account_token(NAMESPACE, "intruder");
    for (jwt, why) in [
        (&unknown, "permission denied"),
        (&unbound, "not authorized"),
    ] {
        let auth = cluster.auth(cluster.jwt_file(jwt));
        let (started, _events) =
            reloader(cluster.provider(auth), Duration::from_millis(1500)).await;
        let error = started.map(|_| ()).unwrap_err();
        let shown = format!("{error} {error:?}");
        assert!(shown.contains("vault://"), "{shown}");
        assert!(shown.contains("403") && shown.contains(why), "{shown}");
        assert!(shown.contains("the login was refused"), "{shown}");
        for part in jwt.split('.') {
            assert!(!shown.contains(part), "the JWT leaked: {shown}");
        }
    }
    let counters = cluster.kube.counters();
    assert!(counters.tokens_rejected >= 1, "{counters:?}");
    assert_eq!(cluster.kube.token_reviews_of(&unbound), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vault_uri_with_k8s_role_and_jwt_file_logs_in_and_follows() {
    // No reviewer token: OpenBao reviews the JWT with itself as the bearer.
    let cluster = cluster(false).await;
    let jwt = cluster.kube.issue_service_account_token(NAMESPACE, ACCOUNT);
    let file = cluster.jwt_file(&jwt);
    let uri = format!(
        "vault://{}/secret/app?k8s_role={ROLE}&jwt_file={}&interval=100ms",
        cluster.bao.address(),
        path_text(&file)
    );
    let provider = VaultProvider::from_uri(&uri.parse().unwrap()).unwrap();
    let (reloader, _events) = reloader(provider, TIMEOUT).await;
    let reloader = reloader.expect("a first config");
    assert_eq!(name(&reloader), "first");
    assert!(cluster.logins() >= 1);
    assert!(cluster.kube.token_reviews_of(&jwt) >= 1);
    cluster.bao.put("app", app("changed")).await;
    wait_name(&reloader, "changed").await;
}

fn path_text(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary path")
}
