//! The OpenBao launcher against a real dev server: every helper does what it says on the server,
//! a restart forgets everything, seal and unseal, and the audit log reads back.

use std::time::{Duration, Instant};

use hotconf_testkit::openbao::{OpenBao, TokenSpec};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn kv_v2_versions_deletes_and_kv_v1() {
    let started = Instant::now();
    let bao = OpenBao::start().await;
    eprintln!("OpenBao started in {:?}", started.elapsed());
    assert_eq!(bao.url(), format!("http://{}", bao.address()));
    assert!(bao.address().starts_with("127.0.0.1:"));
    assert!(bao.root_token().starts_with("hotconf-root-"));

    assert_eq!(bao.read("app").await, None);
    assert_eq!(bao.put("app", json!({ "port": 1 })).await, 1);
    assert_eq!(bao.put("app", json!({ "port": 2 })).await, 2);
    assert_eq!(bao.read("app").await, Some(json!({ "port": 2 })));
    let stale = bao.put_cas("app", json!({ "port": 3 }), 1).await;
    assert!(stale.unwrap_err().contains("check-and-set"));
    assert_eq!(bao.put_cas("app", json!({ "port": 3 }), 2).await, Ok(3));
    assert_eq!(bao.put_cas("new", json!({ "a": "b" }), 0).await, Ok(1));
    assert!(bao.put_cas("new", json!({ "a": "c" }), 0).await.is_err());

    bao.delete("app").await;
    assert_eq!(bao.read("app").await, None);
    let metadata = bao.metadata("app").await.expect("metadata stays");
    assert_eq!(metadata["current_version"], 3);
    assert_ne!(metadata["versions"]["3"]["deletion_time"], "");
    bao.undelete("app", &[3]).await;
    assert_eq!(bao.read("app").await, Some(json!({ "port": 3 })));
    bao.destroy("app", &[3]).await;
    assert_eq!(bao.read("app").await, None);
    assert_eq!(
        bao.metadata("app").await.unwrap()["versions"]["3"]["destroyed"],
        true
    );
    bao.delete_metadata("app").await;
    assert_eq!(bao.metadata("app").await, None);
    assert_eq!(bao.put("app", json!({ "port": 4 })).await, 1);

    bao.enable_kv1("kv1").await;
    bao.put_v1("kv1", "app", json!({ "port": 5, "ttl": "30s" }))
        .await;
    assert_eq!(
        bao.read_v1("kv1", "app").await,
        Some(json!({ "port": 5, "ttl": "30s" }))
    );
    let (status, answer) = bao.api("GET", "kv1/app", None).await;
    assert_eq!((status, answer["lease_duration"].as_u64()), (200, Some(30)));
    assert_eq!(bao.read_v1("kv1", "missing").await, None);
    let (status, mounts) = bao.api("GET", "sys/mounts", None).await;
    assert_eq!(status, 200);
    assert_eq!(mounts["data"]["kv1/"]["options"]["version"], "1");
    assert_eq!(mounts["data"]["secret/"]["options"]["version"], "2");
}

#[tokio::test(flavor = "multi_thread")]
async fn policies_tokens_and_approle() {
    let bao = OpenBao::start().await;
    bao.put("app/config", json!({ "port": 1 })).await;
    bao.put("other", json!({ "x": 1 })).await;
    bao.put_policy(
        "app-read",
        r#"path "secret/data/app/*" { capabilities = ["read"] }"#,
    )
    .await;

    let token = bao
        .create_token(TokenSpec {
            policies: vec!["app-read".into()],
            ttl: Some(Duration::from_secs(60)),
            explicit_max_ttl: Some(Duration::from_secs(120)),
            renewable: Some(true),
            ..TokenSpec::default()
        })
        .await;
    let own = bao.lookup_token(&token).await.expect("a valid token");
    assert!(own["policies"]
        .as_array()
        .unwrap()
        .contains(&json!("app-read")));
    assert!((1..=60).contains(&own["ttl"].as_u64().unwrap()));
    assert_eq!(own["explicit_max_ttl"], 120);
    assert_eq!(own["renewable"], true);
    let (status, answer) = bao
        .api_as(Some(&token), "GET", "secret/data/app/config", None)
        .await;
    assert_eq!(
        (status, &answer["data"]["data"]),
        (200, &json!({ "port": 1 }))
    );
    let (status, _) = bao
        .api_as(Some(&token), "GET", "secret/data/other", None)
        .await;
    assert_eq!(status, 403);
    bao.revoke_token(&token).await;
    assert_eq!(bao.lookup_token(&token).await, None);
    let (status, _) = bao
        .api_as(Some(&token), "GET", "secret/data/app/config", None)
        .await;
    assert_eq!(status, 403);

    let periodic = bao
        .create_token(TokenSpec {
            period: Some(Duration::from_secs(30)),
            num_uses: Some(2),
            renewable: Some(true),
            ..TokenSpec::default()
        })
        .await;
    let own = bao.lookup_token(&periodic).await.expect("a valid token");
    assert_eq!(
        (own["period"].as_u64(), own["num_uses"].as_u64()),
        (Some(30), Some(1))
    );
    bao.lookup_token(&periodic).await.expect("the last use");
    assert_eq!(bao.lookup_token(&periodic).await, None, "used up");

    bao.enable_approle().await;
    bao.put_approle_role(
        "app",
        &["app-read"],
        Duration::from_secs(60),
        Duration::from_secs(300),
        Duration::from_secs(600),
    )
    .await;
    let role_id = bao.role_id("app").await;
    let secret_id = bao.new_secret_id("app").await;
    let issued = bao
        .login_approle(&role_id, &secret_id)
        .await
        .expect("a login");
    let own = bao.lookup_token(&issued).await.expect("a valid token");
    assert!(own["policies"]
        .as_array()
        .unwrap()
        .contains(&json!("app-read")));
    assert!((1..=60).contains(&own["ttl"].as_u64().unwrap()));
    bao.destroy_secret_id("app", &secret_id).await;
    let refused = bao.login_approle(&role_id, &secret_id).await.unwrap_err();
    assert!(refused.starts_with("HTTP 400"), "{refused}");
    assert!(
        bao.lookup_token(&issued).await.is_some(),
        "issued tokens stay"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_seal_unseal_and_restart() {
    let mut bao = OpenBao::start().await;
    let path = bao.enable_file_audit().await;
    assert!(path.starts_with(bao.dir()));
    bao.put("app", json!({ "port": 1 })).await;
    bao.read("app").await;
    bao.read("app").await;
    bao.read("missing").await;
    let requests = bao.audit_requests();
    let read = |p: &str| ("read".to_owned(), p.to_owned());
    assert_eq!(
        requests
            .iter()
            .filter(|r| **r == read("secret/data/app"))
            .count(),
        2,
        "{requests:?}"
    );
    assert!(requests.contains(&read("secret/data/missing")));
    assert!(requests.contains(&("create".to_owned(), "secret/data/app".to_owned())));
    assert!(bao.audit_log_text().contains(r#""type":"response""#));

    bao.seal().await;
    assert!(bao.is_sealed().await);
    let (status, _) = bao.api("GET", "secret/data/app", None).await;
    assert_eq!(status, 503);
    bao.unseal().await;
    assert!(!bao.is_sealed().await);
    assert_eq!(bao.read("app").await, Some(json!({ "port": 1 })));

    let token = bao.create_token(TokenSpec::default()).await;
    bao.enable_kv1("kv1").await;
    let (address, root, key) = (
        bao.address(),
        bao.root_token().to_owned(),
        bao.unseal_key().to_owned(),
    );
    bao.stop();
    let down = reqwest::get(format!("{}/v1/sys/health", bao.url())).await;
    assert!(down.is_err(), "nothing answers while it is stopped");
    let started = Instant::now();
    bao.start_again().await;
    eprintln!("OpenBao started again in {:?}", started.elapsed());
    assert_eq!((bao.address(), bao.root_token()), (address, root.as_str()));
    assert_ne!(bao.unseal_key(), key, "a new barrier");
    assert_eq!(bao.read("app").await, None, "secrets are gone");
    assert_eq!(bao.lookup_token(&token).await, None, "tokens are gone");
    let (_, mounts) = bao.api("GET", "sys/mounts", None).await;
    assert!(mounts["data"]["kv1/"].is_null(), "mounts are gone");
    let (_, audit) = bao.api("GET", "sys/audit", None).await;
    assert_eq!(audit["data"], json!({}), "audit devices are gone");
    bao.put("app", json!({ "port": 2 })).await;

    bao.restart().await;
    assert_eq!(bao.read("app").await, None);
    bao.seal().await;
    bao.unseal().await;
    assert!(bao.log_tail().contains("Unseal Key"));
}
