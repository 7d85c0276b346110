//! A leased credential rotated into the config (issue 27, item 5), end to end: OpenBao's
//! database engine makes PostgreSQL logins (a real server from Debian's postgresql); the
//! provider follows `database/creds/app`, renews its lease while the server extends it, and
//! reads new credentials before the lease ends. The application has the new username and
//! password before the old lease expires; the old login stops working after it.

use std::time::Duration;

use hotconf_core::{Reloader, Secret};
use hotconf_testkit::openbao::{OpenBao, TokenSpec};
use hotconf_testkit::postgres::Postgres;
use hotconf_testkit::wait_until;
use hotconf_vault::{Auth, VaultClient, VaultProvider, VaultSource};
use serde_json::Value;

/// What the service's token may do: read its credentials and renew their lease.
const POLICY: &str = r#"
path "database/creds/app" { capabilities = ["read"] }
path "sys/leases/renew" { capabilities = ["update"] }
"#;

fn credentials(config: &Value) -> (String, String) {
    let db = &config["db"];
    (
        db["username"].as_str().unwrap_or_default().to_owned(),
        db["password"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_database_credentials_arrive_before_the_old_lease_ends_and_the_old_login_dies_after() {
    let postgres = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let bao = OpenBao::start().await;
    bao.enable_file_audit().await;
    let (user, password) = postgres.superuser();
    // Leases of 6 s, renewable up to 9 s: one renewal, capped; then new credentials.
    bao.enable_database_postgres(
        &postgres.engine_connection_url(),
        &user,
        &password,
        "app",
        Duration::from_secs(6),
        Duration::from_secs(9),
    )
    .await;
    bao.put_policy("app", POLICY).await;
    let token = bao
        .create_token(TokenSpec {
            policies: vec!["app".into()],
            ..TokenSpec::default()
        })
        .await;
    let client = VaultClient::new(&bao.url()).auth(Auth::Token(Secret::new(token)));
    let provider = VaultProvider::new(&client, VaultSource::secret("database/creds/app").at("db"));
    let reloader = Reloader::<Value>::builder()
        .layer(provider)
        .start()
        .await
        .unwrap();
    let first = credentials(reloader.store().load().config());
    assert!(first.0.starts_with("v-"), "{first:?}");
    let can_login = |(user, password): &(String, String)| postgres.can_login(user, password);
    assert!(can_login(&first), "the first credentials work");

    wait_until(&reloader.store(), |c: &Value| credentials(c) != first).await;
    let second = credentials(reloader.store().load().config());
    // The old lease has not ended yet: the old login still works, and so does the new one.
    assert!(
        can_login(&first),
        "the old login died before its lease ended"
    );
    assert!(can_login(&second), "the new credentials work");
    let renewals = bao
        .audit_requests()
        .iter()
        .filter(|(_, path)| path == "sys/leases/renew")
        .count();
    assert!(renewals >= 1, "the lease was renewed while it could be");

    // Once the old lease ends, the server revokes it and drops the login.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while can_login(&first) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the old login still works"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
