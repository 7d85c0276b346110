//! The hard cases of following Vault (issue 27, items 3, 4 and 8) against a real OpenBao dev
//! server: a `Reloader` over a lower in-memory layer and a `VaultProvider` on top. Rotations in
//! order, delete/undelete/destroy, a history that restarts, a server that restarts, seals or
//! goes away, token renewal across several TTLs, tokens that expire or are revoked, AppRole
//! login and re-login, a token file rewritten. Every wait is on the store, the events or the
//! server's audit log, each with a deadline.

use std::path::Path;
use std::time::Duration;

use hotconf_core::{Event, MemoryHandle, MemoryProvider, Reloader, Secret, Startup};
use hotconf_testkit::openbao::{OpenBao, TokenSpec};
use hotconf_testkit::{eventually, wait_for_event, wait_until, TIMEOUT};
use hotconf_vault::{Auth, VaultClient, VaultProvider, VaultSource};
use serde_json::{json, Value};
use tokio::sync::broadcast;

/// How often the providers under test poll.
const INTERVAL: Duration = Duration::from_millis(100);
/// The name of the Vault layer.
const LAYER: &str = "vault";
/// A policy that reads every secret of the dev server's KV v2 mount.
const READ_SECRETS: &str = r#"
path "secret/data/*" { capabilities = ["read"] }
path "secret/metadata/*" { capabilities = ["read", "list"] }
"#;

async fn bao_with_reader() -> OpenBao {
    let bao = OpenBao::start().await;
    bao.put_policy("reader", READ_SECRETS).await;
    bao
}

fn client(bao: &OpenBao, auth: Auth) -> VaultClient {
    VaultClient::new(&bao.url()).auth(auth)
}

fn root(bao: &OpenBao) -> Auth {
    Auth::Token(Secret::new(bao.root_token().to_owned()))
}

fn provider(client: &VaultClient, path: &str) -> VaultProvider {
    VaultProvider::new(client, VaultSource::secret(path).interval(INTERVAL))
}

/// A reloader over `lower` (`app.name: lower`) and `provider` on top, its events subscribed
/// from before the start. A short backoff keeps recoveries quick.
async fn reloader(
    provider: VaultProvider,
) -> (Reloader<Value>, broadcast::Receiver<Event>, MemoryHandle) {
    let (lower, handle) = MemoryProvider::new("memory:lower");
    handle.set_tree(json!({"app": {"name": "lower"}}));
    let builder = Reloader::<Value>::builder()
        .named_layer("lower", lower)
        .named_layer(LAYER, provider)
        .startup(Startup::Wait(TIMEOUT))
        .max_backoff(Duration::from_millis(300));
    let events = builder.events();
    let reloader = builder.start().await.expect("a first config");
    (reloader, events, handle)
}

fn name(reloader: &Reloader<Value>) -> Value {
    reloader.store().load().config()["app"]["name"].clone()
}

async fn wait_name(reloader: &Reloader<Value>, name: &str) {
    wait_until(&reloader.store(), |c: &Value| c["app"]["name"] == name).await;
}

/// Waits for a source error of the Vault layer; returns its message.
async fn source_error(events: &mut broadcast::Receiver<Event>) -> String {
    match wait_for_event(events, |e| matches!(e, Event::SourceError { .. })).await {
        Event::SourceError { source, error, .. } => {
            assert!(source.starts_with("vault://"), "{source}");
            error
        }
        _ => unreachable!(),
    }
}

/// How many requests to `path` the audit log holds.
fn audited(bao: &OpenBao, path: &str) -> usize {
    bao.audit_requests()
        .iter()
        .filter(|(_, p)| p == path)
        .count()
}

fn app(name: &str) -> Value {
    json!({"app": {"name": name}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rotation_is_applied_in_order_ending_on_the_last() {
    let bao = OpenBao::start().await;
    bao.put("app", app("v1")).await;
    let (reloader, mut events, _lower) =
        reloader(provider(&client(&bao, root(&bao)), "secret/app")).await;
    assert_eq!(name(&reloader), "v1");
    let mut last = 1;
    for n in 2..=40 {
        last = bao.put("app", app(&format!("v{n}"))).await;
    }
    wait_name(&reloader, "v40").await;
    // The versions applied only ever grew, and the last one is the last written.
    let mut applied = Vec::<u64>::new();
    while let Ok(event) = events.try_recv() {
        if let Event::Applied { revisions, .. } = event {
            let (_, revision) = revisions
                .iter()
                .find(|(s, _)| s.starts_with("vault://"))
                .unwrap();
            applied.push(revision.parse().unwrap());
        }
    }
    assert!(applied.windows(2).all(|w| w[0] < w[1]), "{applied:?}");
    assert_eq!(applied.last(), Some(&last), "{applied:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_undelete_and_destroy_fall_back_and_come_back() {
    let bao = OpenBao::start().await;
    let v1 = bao.put("app", app("first")).await;
    let (reloader, _events, _lower) =
        reloader(provider(&client(&bao, root(&bao)), "secret/app")).await;
    assert_eq!(name(&reloader), "first");
    bao.delete("app").await;
    wait_name(&reloader, "lower").await;
    bao.undelete("app", &[v1]).await;
    wait_name(&reloader, "first").await;
    let v2 = bao.put("app", app("second")).await;
    wait_name(&reloader, "second").await;
    bao.destroy("app", &[v2]).await;
    wait_name(&reloader, "lower").await;
    bao.put("app", app("third")).await;
    wait_name(&reloader, "third").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_removed_with_its_history_and_written_again_is_followed() {
    let bao = OpenBao::start().await;
    for n in 1..=3 {
        bao.put("app", app(&format!("old-{n}"))).await;
    }
    let (reloader, _events, _lower) =
        reloader(provider(&client(&bao, root(&bao)), "secret/app")).await;
    assert_eq!(name(&reloader), "old-3");
    bao.delete_metadata("app").await;
    wait_name(&reloader, "lower").await;
    // Version 1 again: not older than version 3, a new history.
    assert_eq!(bao.put("app", app("new-1")).await, 1);
    wait_name(&reloader, "new-1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_dev_server_is_reported_and_the_last_good_config_stays_until_the_secret_is_back(
) {
    let mut bao = OpenBao::start().await;
    bao.put("app", app("before")).await;
    let (reloader, mut events, _lower) =
        reloader(provider(&client(&bao, root(&bao)), "secret/app")).await;
    bao.restart().await;
    // Dev mode forgot the secret: not a deletion, an error; the config stays. (While the
    // server is down, the errors say it cannot be reached.)
    let event = wait_for_event(
        &mut events,
        |e| matches!(e, Event::SourceError { error, .. } if !error.contains("could not connect")),
    )
    .await;
    let Event::SourceError { error, .. } = event else {
        unreachable!()
    };
    assert!(error.contains("new cluster"), "{error}");
    // And it stays an error at the next polls (not repeated as events), never an empty layer:
    // an absence has no event to await, so the store is read after several retries' worth of
    // time (the backoff is at most 300 ms).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(name(&reloader), "before");
    bao.put("app", app("after")).await;
    wait_name(&reloader, "after").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_or_stopped_server_keeps_the_last_good_config_and_the_source_resumes() {
    let mut bao = OpenBao::start().await;
    bao.put("app", app("before")).await;
    let (reloader, mut events, _lower) =
        reloader(provider(&client(&bao, root(&bao)), "secret/app")).await;
    bao.seal().await;
    let error = source_error(&mut events).await;
    assert!(error.contains("503") && error.contains("sealed"), "{error}");
    assert_eq!(name(&reloader), "before");
    bao.unseal().await;
    bao.put("app", app("unsealed")).await;
    wait_name(&reloader, "unsealed").await;

    bao.stop();
    let error = source_error(&mut events).await;
    assert!(error.contains("could not connect"), "{error}");
    assert_eq!(name(&reloader), "unsealed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_lived_renewable_token_is_renewed_across_several_ttls() {
    let bao = bao_with_reader().await;
    bao.enable_file_audit().await;
    bao.put("app", app("first")).await;
    let token = bao
        .create_token(TokenSpec {
            policies: vec!["reader".into()],
            ttl: Some(Duration::from_secs(3)),
            ..TokenSpec::default()
        })
        .await;
    let (reloader, mut events, _lower) = reloader(provider(
        &client(&bao, Auth::Token(Secret::new(token.clone()))),
        "secret/app",
    ))
    .await;
    // Three renewals: about three TTLs went by.
    eventually("three renewals", Duration::from_secs(30), || async {
        audited(&bao, "auth/token/renew-self") >= 3
    })
    .await;
    assert!(bao.lookup_token(&token).await.is_some(), "the token lives");
    bao.put("app", app("after three ttls")).await;
    wait_name(&reloader, "after three ttls").await;
    while let Ok(event) = events.try_recv() {
        assert!(!matches!(event, Event::SourceError { .. }), "{event:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_that_cannot_be_renewed_is_reported_when_it_expires_and_a_revoked_one_at_once() {
    let bao = bao_with_reader().await;
    bao.put("app", app("first")).await;
    let token = bao
        .create_token(TokenSpec {
            policies: vec!["reader".into()],
            ttl: Some(Duration::from_secs(2)),
            renewable: Some(false),
            ..TokenSpec::default()
        })
        .await;
    let (expiring, mut events, _lower) = reloader(provider(
        &client(&bao, Auth::Token(Secret::new(token))),
        "secret/app",
    ))
    .await;
    let error = source_error(&mut events).await;
    assert!(error.contains("expired"), "{error}");
    assert_eq!(name(&expiring), "first");

    let token = bao
        .create_token(TokenSpec {
            policies: vec!["reader".into()],
            ..TokenSpec::default()
        })
        .await;
    let (reloader, mut events, _lower) = reloader(provider(
        &client(&bao, Auth::Token(Secret::new(token.clone()))),
        "secret/app",
    ))
    .await;
    bao.revoke_token(&token).await;
    let error = source_error(&mut events).await;
    assert!(error.contains("403"), "{error}");
    assert!(!error.contains(&token), "{error}");
    assert_eq!(name(&reloader), "first");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approle_logs_in_renews_and_logs_in_again_before_the_max_ttl() {
    let bao = bao_with_reader().await;
    bao.enable_file_audit().await;
    bao.enable_approle().await;
    bao.put_approle_role(
        "app",
        &["reader"],
        Duration::from_secs(2),
        Duration::from_secs(4),
        Duration::ZERO,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let secret_id_file = dir.path().join("secret-id");
    std::fs::write(&secret_id_file, bao.new_secret_id("app").await).unwrap();
    bao.put("app", app("first")).await;
    let auth = Auth::AppRole {
        mount: "approle".into(),
        role_id: bao.role_id("app").await,
        secret_id_file: secret_id_file.clone(),
    };
    let (reloader, _events, _lower) = reloader(provider(&client(&bao, auth), "secret/app")).await;
    // Renewed, then (its max TTL near) replaced by a new login, more than once.
    eventually(
        "a renewal and three logins",
        Duration::from_secs(30),
        || async {
            audited(&bao, "auth/token/renew-self") >= 1 && audited(&bao, "auth/approle/login") >= 3
        },
    )
    .await;
    bao.put("app", app("after logins")).await;
    wait_name(&reloader, "after logins").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_file_rewritten_with_a_new_token_is_taken_after_the_old_one_is_revoked() {
    let bao = bao_with_reader().await;
    bao.put("app", app("first")).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    let reader = TokenSpec {
        policies: vec!["reader".into()],
        ..TokenSpec::default()
    };
    let old = bao.create_token(reader.clone()).await;
    write(&file, &old);
    let (reloader, mut events, _lower) = reloader(provider(
        &client(&bao, Auth::TokenFile(file.clone())),
        "secret/app",
    ))
    .await;
    bao.revoke_token(&old).await;
    let error = source_error(&mut events).await;
    assert!(error.contains("403"), "{error}");
    write(&file, &bao.create_token(reader).await);
    bao.put("app", app("with the new token")).await;
    wait_name(&reloader, "with the new token").await;
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_follows_secrets_added_changed_and_removed_under_it() {
    let bao = OpenBao::start().await;
    bao.put("team/db/primary", json!({"host": "db-1"})).await;
    let source = VaultSource::prefix("secret/team/").interval(INTERVAL);
    let client = client(&bao, root(&bao));
    let (lower, _handle) = MemoryProvider::new("memory:lower");
    let reloader = Reloader::<Value>::builder()
        .layer(lower)
        .layer(VaultProvider::new(&client, source))
        .start()
        .await
        .unwrap();
    assert_eq!(
        reloader.store().load().config()["db"]["primary"]["host"],
        "db-1"
    );
    bao.put("team/api", json!({"key": "k1"})).await;
    wait_until(&reloader.store(), |c: &Value| c["api"]["key"] == "k1").await;
    bao.put("team/db/primary", json!({"host": "db-2"})).await;
    wait_until(&reloader.store(), |c: &Value| {
        c["db"]["primary"]["host"] == "db-2"
    })
    .await;
    bao.delete("team/api").await;
    wait_until(&reloader.store(), |c: &Value| c.get("api").is_none()).await;
}
