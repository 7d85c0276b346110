//! How a `vault://` source reaches its server (issue 27, items 2 and 4), against a real OpenBao:
//! TLS with a CA of its own, a namespace sent as `X-Vault-Namespace`, `VAULT_ADDR` filling in a
//! missing host, KV v1 told from KV v2 by the server; and servers that lie: a redirect to
//! another origin (the token must never reach it), a body that never ends, answers that are
//! not Vault's.

use std::time::Duration;

use hotconf_core::{Reloader, Secret, Startup};
use hotconf_testkit::hostile::{HostileServer, Mode};
use hotconf_testkit::openbao::OpenBao;
use hotconf_testkit::pki::{TestPki, TlsFront};
use hotconf_testkit::wait_until;
use hotconf_vault::{Auth, VaultClient, VaultProvider, VaultSource};
use serde_json::{json, Value};

const INTERVAL: Duration = Duration::from_millis(100);

async fn start(provider: VaultProvider) -> hotconf_core::Result<Reloader<Value>> {
    Reloader::<Value>::builder()
        .layer(provider)
        .startup(Startup::Wait(Duration::from_secs(3)))
        .start()
        .await
}

fn root(bao: &OpenBao) -> Auth {
    Auth::Token(Secret::new(bao.root_token().to_owned()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_its_own_ca_reads_and_a_client_without_the_ca_is_refused() {
    let bao = OpenBao::start().await;
    bao.put("app", json!({"port": 5432})).await;
    let pki = TestPki::new();
    let front = TlsFront::start(&bao.address(), pki.server_config()).await;
    let uri = format!(
        "vault://{}/secret/app?ca={}&token={}",
        front.endpoint(),
        pki.ca.display(),
        bao.root_token()
    );
    let provider = VaultProvider::from_uri(&uri.parse().unwrap()).unwrap();
    let reloader = start(provider).await.unwrap();
    assert_eq!(reloader.store().load().config()["port"], 5432);

    // The system roots do not trust the test CA: TLS fails, and says so.
    let client = VaultClient::new(&format!("https://{}", front.endpoint())).auth(root(&bao));
    let error = start(VaultProvider::new(
        &client,
        VaultSource::secret("secret/app"),
    ))
    .await
    .map(|_| ())
    .unwrap_err();
    assert!(error.to_string().contains("secret/app"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_is_sent_as_x_vault_namespace() {
    let bao = OpenBao::start().await;
    let (status, answer) = bao.api("POST", "sys/namespaces/team", None).await;
    assert!(status < 300, "{status} {answer}");
    let kv2 = json!({"type": "kv", "options": {"version": "2"}});
    let (status, answer) = bao.api("POST", "team/sys/mounts/secret", Some(&kv2)).await;
    assert!(status < 300, "{status} {answer}");
    let data = json!({"data": {"owner": "team"}});
    let (status, answer) = bao.api("POST", "team/secret/data/app", Some(&data)).await;
    assert!(status < 300, "{status} {answer}");
    bao.put("app", json!({"owner": "root namespace"})).await;

    let uri = |query: &str| {
        format!(
            "vault://{}/secret/app?interval=100ms&token={}{query}",
            bao.address(),
            bao.root_token()
        )
    };
    let in_team = start(VaultProvider::from_uri(&uri("&namespace=team").parse().unwrap()).unwrap())
        .await
        .unwrap();
    assert_eq!(in_team.store().load().config()["owner"], "team");
    let in_root = start(VaultProvider::from_uri(&uri("").parse().unwrap()).unwrap())
        .await
        .unwrap();
    assert_eq!(in_root.store().load().config()["owner"], "root namespace");
    // Followed in the namespace.
    let data = json!({"data": {"owner": "team, edited"}});
    bao.api("POST", "team/secret/data/app", Some(&data)).await;
    wait_until(&in_team.store(), |c: &Value| c["owner"] == "team, edited").await;
}

/// `VAULT_ADDR` names the server of `vault:///PATH`; `?kv=` is not needed, the server says
/// which engine a mount is. (One test changes the environment: no other test in this binary
/// reads it.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_addr_fills_in_a_missing_host_and_kv1_is_told_from_kv2() {
    let bao = OpenBao::start().await;
    bao.enable_kv1("kv1").await;
    bao.put_v1("kv1", "app", json!({"version": "one"})).await;
    std::env::set_var("VAULT_ADDR", bao.url());
    let uri = format!("vault:///kv1/app?interval=100ms&token={}", bao.root_token());
    let provider = VaultProvider::from_uri(&uri.parse().unwrap()).unwrap();
    std::env::remove_var("VAULT_ADDR");
    assert_eq!(
        hotconf_core::Provider::metadata(&provider).name,
        format!("vault://{}/kv1/app?interval=100ms", bao.address())
    );
    let reloader = start(provider).await.unwrap();
    assert_eq!(reloader.store().load().config()["version"], "one");
    bao.put_v1("kv1", "app", json!({"version": "two"})).await;
    wait_until(&reloader.store(), |c: &Value| c["version"] == "two").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_another_origin_is_refused_and_the_token_never_reaches_it() {
    let bao = OpenBao::start().await;
    let elsewhere = HostileServer::start(None, Mode::answer("{}")).await;
    let front = HostileServer::start(
        Some(&bao.address()),
        Mode::Redirect {
            status: 307,
            to: elsewhere.url(),
        },
    )
    .await;
    let client = VaultClient::new(&front.url()).auth(root(&bao));
    let error = start(VaultProvider::new(
        &client,
        VaultSource::secret("secret/app").interval(INTERVAL),
    ))
    .await
    .map(|_| ())
    .unwrap_err();
    let text = format!("{error} {error:?}");
    assert!(text.contains("307") && text.contains("redirect"), "{text}");
    assert!(!text.contains(bao.root_token()), "{text}");
    assert!(
        elsewhere.requests().is_empty(),
        "{:?}",
        elsewhere.requests()
    );
    for request in front.requests() {
        assert!(
            !request.contains(hotconf_testkit::hostile::LOCATION_MARKER),
            "{request}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_body_and_foreign_answers_are_errors_that_name_the_source() {
    let bao = OpenBao::start().await;
    let cases = [
        (
            Mode::Endless {
                declared: None,
                cap: 64 << 20,
            },
            "above the limit",
        ),
        (Mode::answer("<html>not vault</html>"), "not JSON"),
        (Mode::answer(r#"{"data": {"path": 5}}"#), "no data.path"),
    ];
    for (mode, why) in cases {
        let server = HostileServer::start(None, mode).await;
        let client = VaultClient::new(&server.url()).auth(root(&bao));
        let error = start(VaultProvider::new(
            &client,
            VaultSource::secret("secret/app"),
        ))
        .await
        .map(|_| ())
        .unwrap_err()
        .to_string();
        assert!(
            error.contains(why) && error.contains("vault://"),
            "{why}: {error}"
        );
        assert!(!error.contains(bao.root_token()), "{error}");
    }
}
