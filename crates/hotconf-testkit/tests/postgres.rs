//! The PostgreSQL launcher against a real server, and (with the `openbao` feature too) OpenBao's
//! database engine handing out PostgreSQL logins that work until their lease is revoked.

use std::time::Instant;

use hotconf_testkit::postgres::Postgres;

#[test]
fn logins_queries_and_urls() {
    let started = Instant::now();
    let pg = Postgres::start();
    eprintln!("PostgreSQL started in {:?}", started.elapsed());
    let (user, password) = pg.superuser();
    assert_eq!(user, "hotconf");
    assert!(pg.can_login(&user, &password));
    assert!(!pg.can_login(&user, "wrong"));
    assert!(!pg.can_login("nobody", &password));
    assert_eq!(
        pg.connection_url(),
        format!(
            "postgresql://hotconf:{password}@127.0.0.1:{}/postgres?sslmode=disable",
            pg.port()
        )
    );
    assert!(pg
        .engine_connection_url()
        .starts_with("postgresql://{{username}}:{{password}}@127.0.0.1:"));

    assert_eq!(pg.query("select 1 + 1"), "2");
    assert_eq!(pg.query("show password_encryption"), "scram-sha-256");
    assert_eq!(pg.query("show listen_addresses"), "127.0.0.1");
    assert_eq!(pg.query("show port"), pg.port().to_string());
    assert_eq!(
        pg.query("select rolsuper from pg_roles where rolname = 'hotconf'"),
        "t"
    );
    pg.query("create table t (a int, b text); insert into t values (1, 'x'), (2, 'y')");
    assert_eq!(pg.query("select a, b from t order by a"), "1|x\n2|y");
    pg.query("create role reader login password 'pw'");
    assert!(pg.can_login("reader", "pw"));
    assert!(pg
        .query("select rolpassword from pg_authid where rolname = 'reader'")
        .starts_with("SCRAM-SHA-256$"));
    pg.query("drop role reader");
    assert!(!pg.can_login("reader", "pw"));

    let dir = pg.log_path().parent().unwrap().to_owned();
    drop(pg);
    assert!(!dir.exists(), "the directory is removed");
}

#[cfg(feature = "openbao")]
#[tokio::test(flavor = "multi_thread")]
async fn openbao_database_credentials_log_in_until_revoked() {
    use hotconf_testkit::openbao::OpenBao;
    use std::time::Duration;

    let pg = Postgres::start();
    pg.query("create table config (k text); insert into config values ('v')");
    let bao = OpenBao::start().await;
    let (user, password) = pg.superuser();
    bao.enable_database_postgres(
        &pg.engine_connection_url(),
        &user,
        &password,
        "reader",
        Duration::from_secs(300),
        Duration::from_secs(600),
    )
    .await;
    let creds = bao.database_creds("reader").await;
    assert!(creds.lease_id.starts_with("database/creds/reader/"));
    assert_eq!(creds.lease_duration, 300);
    assert!(creds.renewable);
    assert!(pg.can_login(&creds.username, &creds.password));
    let granted = pg.query(&format!(
        "select has_table_privilege('{}', 'config', 'SELECT')",
        creds.username
    ));
    assert_eq!(granted, "t");
    let other = bao.database_creds("reader").await;
    assert_ne!(other.username, creds.username);

    bao.revoke_lease(&creds.lease_id).await;
    assert!(!pg.can_login(&creds.username, &creds.password));
    let left = pg.query(&format!(
        "select count(*) from pg_roles where rolname = '{}'",
        creds.username
    ));
    assert_eq!(left, "0", "the role is dropped");
    assert!(
        pg.can_login(&other.username, &other.password),
        "others stay"
    );
}
