//! G10 and G13 against a real OpenBao: a provider with its own token follows a secret through an
//! edit, a rejected state, a forbidden path, a revoked token and a stopped server, with every log
//! line of the process (hotconf's, reqwest's, hyper's, at TRACE) captured. Neither the token nor
//! a secret's value may appear in a log line, an event (JSON or Debug), an error (Display, Debug
//! and causes), the redacted config or an explanation.

use std::time::Duration;

use hotconf_core::{Event, MemoryProvider, Reloader, Secret, Startup};
use hotconf_testkit::openbao::{OpenBao, TokenSpec};
use hotconf_testkit::{wait_for_event, wait_until, TIMEOUT};
use hotconf_vault::{Auth, VaultClient, VaultProvider, VaultSource};
use serde_json::{json, Value};

const VALUE: &str = "s3cr3t-hunter2-value";
const VALUE2: &str = "s3cr3t-rotated-value";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_or_secret_value_in_logs_events_errors_redaction_or_explanations() {
    let logs = hotconf_testkit::logs::captured();
    let mut bao = OpenBao::start().await;
    bao.put_policy(
        "reader",
        r#"path "secret/data/app" { capabilities = ["read"] }
path "secret/metadata/app" { capabilities = ["read"] }"#,
    )
    .await;
    let token = bao
        .create_token(TokenSpec {
            policies: vec!["reader".into()],
            ttl: Some(Duration::from_secs(3)),
            ..TokenSpec::default()
        })
        .await;
    bao.put("app", json!({"app": {"password": VALUE, "user": VALUE}}))
        .await;
    let client = VaultClient::new(&bao.url()).auth(Auth::Token(Secret::new(token.clone())));
    let source = |path: &str| {
        VaultProvider::new(
            &client,
            VaultSource::secret(path).interval(Duration::from_millis(100)),
        )
    };
    let (lower, _handle) = MemoryProvider::new("memory:lower");
    let builder = Reloader::<Value>::builder()
        .layer(lower)
        .named_layer("app", source("secret/app"))
        .startup(Startup::Wait(TIMEOUT))
        .max_backoff(Duration::from_millis(300));
    let mut events = builder.events();
    let mut all = events.resubscribe();
    let reloader = builder.start().await.unwrap();
    let mut seen = format!("{client:?} {:?}", source("secret/app"));

    // An edit, and the token renewed (its TTL is 3 s).
    bao.put("app", json!({"app": {"password": VALUE2, "user": VALUE}}))
        .await;
    wait_until(&reloader.store(), |c: &Value| {
        c["app"]["password"] == VALUE2
    })
    .await;
    let renewed = async {
        while !String::from_utf8_lossy(&logs.lock().unwrap()).contains("renewed the token") {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(TIMEOUT, renewed)
        .await
        .expect("a renewal within the deadline");
    // A path the token may not read: a reloader of its own, its error collected too.
    let forbidden = Reloader::<Value>::builder()
        .layer(source("secret/other"))
        .startup(Startup::Wait(Duration::from_secs(1)))
        .start()
        .await
        .map(|_| ())
        .unwrap_err();
    seen.push_str(&format!("{forbidden} {forbidden:?}"));
    assert!(forbidden.to_string().contains("403"), "{forbidden}");
    // The token revoked, then the server gone.
    bao.revoke_token(&token).await;
    wait_for_event(&mut events, |e| matches!(e, Event::SourceError { .. })).await;
    bao.stop();
    wait_for_event(
        &mut events,
        |e| matches!(e, Event::SourceError { error, .. } if error.contains("connect")),
    )
    .await;

    while let Ok(event) = all.try_recv() {
        seen.push_str(&serde_json::to_string(&event).unwrap());
        seen.push_str(&format!("{event:?}"));
    }
    let snapshot = reloader.store().get();
    seen.push_str(&snapshot.redacted().to_string());
    for key in ["app.password", "app.user", "app"] {
        let explained = snapshot.explain(key);
        assert!(explained.found, "{key}");
        seen.push_str(&serde_json::to_string(&explained).unwrap());
        seen.push_str(&format!("{explained:?}"));
    }
    seen.push_str(&String::from_utf8_lossy(&logs.lock().unwrap()));
    assert!(seen.contains("vault://"), "{seen}");
    for leak in [token.as_str(), VALUE, VALUE2] {
        assert!(!seen.contains(leak), "`{leak}` leaked: {seen}");
    }
}
