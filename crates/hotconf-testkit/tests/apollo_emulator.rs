//! The Apollo emulator checked rule by rule against Apollo's "other language client" HTTP API
//! (/work/shared/reference/backends.md §3b), with plain HTTP requests (no hotconf client involved).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hotconf_testkit::apollo::{sign, ApolloEmulator, Fault, GrayRule, Ids};
use serde_json::{json, Value};

struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

async fn get_with(apollo: &ApolloEmulator, path_query: &str, headers: &[(&str, String)]) -> Answer {
    let client = reqwest::Client::new();
    let mut request = client
        .get(format!("{}{path_query}", apollo.url()))
        .timeout(Duration::from_secs(30));
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.unwrap();
    Answer {
        status: response.status().as_u16(),
        body: response.bytes().await.unwrap().to_vec(),
    }
}

async fn get(apollo: &ApolloEmulator, path_query: &str) -> Answer {
    get_with(apollo, path_query, &[]).await
}

fn poll_path(app: &str, cluster: &str, notifications: &[(&str, i64)]) -> String {
    let list: Vec<Value> = notifications
        .iter()
        .map(|(n, id)| json!({"namespaceName": n, "notificationId": id}))
        .collect();
    format!(
        "/notifications/v2?appId={app}&cluster={cluster}&notifications={}",
        encode(&Value::Array(list).to_string())
    )
}

fn now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

#[tokio::test]
async fn reads_carry_configurations_and_release_key_and_304_on_the_same_key() {
    let apollo = ApolloEmulator::start().await;
    let key = apollo.publish("app", "default", "application", [("db.host", "h1")]);
    let answer = get(&apollo, "/configs/app/default/application").await;
    assert_eq!(answer.status, 200);
    let body = answer.json();
    assert_eq!(body["appId"], "app");
    assert_eq!(body["cluster"], "default");
    assert_eq!(body["namespaceName"], "application");
    assert_eq!(body["configurations"], json!({"db.host": "h1"}));
    assert_eq!(body["releaseKey"], key.as_str());
    let same = get(
        &apollo,
        &format!("/configs/app/default/application?releaseKey={key}"),
    )
    .await;
    assert_eq!(same.status, 304);
    assert!(same.body.is_empty());
    let other = get(&apollo, "/configs/app/default/application?releaseKey=old").await;
    assert_eq!(other.status, 200);
    // `.properties` is the default suffix: the same namespace.
    let suffixed = get(&apollo, "/configs/app/default/application.properties").await;
    assert_eq!(suffixed.json()["configurations"], json!({"db.host": "h1"}));
    let key2 = apollo.publish("app", "default", "application", [("db.host", "h2")]);
    assert_ne!(key, key2);
}

#[tokio::test]
async fn missing_namespace_is_404_and_delete_makes_it_404() {
    let apollo = ApolloEmulator::start().await;
    assert_eq!(
        get(&apollo, "/configs/app/default/nothing").await.status,
        404
    );
    apollo.publish_content("app", "default", "app.yaml", "a: 1\n");
    let body = get(&apollo, "/configs/app/default/app.yaml").await.json();
    assert_eq!(body["configurations"], json!({"content": "a: 1\n"}));
    let before = apollo.notification_id("app", "default", "app.yaml");
    apollo.delete("app", "default", "app.yaml");
    assert_eq!(
        get(&apollo, "/configs/app/default/app.yaml").await.status,
        404
    );
    assert!(apollo.notification_id("app", "default", "app.yaml") > before);
}

#[tokio::test]
async fn a_cluster_without_release_falls_back_to_default_and_data_center() {
    let apollo = ApolloEmulator::start().await;
    apollo.publish("app", "default", "application", [("k", "default")]);
    let body = get(&apollo, "/configs/app/sh/application").await.json();
    assert_eq!(
        (
            body["cluster"].as_str(),
            body["configurations"]["k"].as_str()
        ),
        (Some("default"), Some("default"))
    );
    apollo.publish("app", "dc1", "application", [("k", "dc1")]);
    let body = get(&apollo, "/configs/app/default/application?dataCenter=dc1")
        .await
        .json();
    assert_eq!(body["cluster"], "dc1");
    apollo.publish("app", "sh", "application", [("k", "sh")]);
    let body = get(&apollo, "/configs/app/sh/application?dataCenter=dc1")
        .await
        .json();
    assert_eq!(body["cluster"], "sh");
    // A poll for `sh` sees releases of `default` too.
    let id = apollo.notification_id("app", "sh", "application");
    apollo.publish("app", "default", "application", [("k", "default 2")]);
    let answer = get(&apollo, &poll_path("app", "sh", &[("application", id)])).await;
    assert_eq!(answer.status, 200, "default's newer id is reported");
}

#[tokio::test]
async fn notification_ids_grow_and_any_difference_answers_at_once() {
    let apollo = ApolloEmulator::start().await;
    apollo.set_hold(Duration::from_secs(30));
    apollo.publish("app", "default", "a", [("k", "1")]);
    apollo.publish("app", "default", "b", [("k", "1")]);
    let (a, b) = (
        apollo.notification_id("app", "default", "a"),
        apollo.notification_id("app", "default", "b"),
    );
    assert!(b > a && a >= 1);
    let answer = get(
        &apollo,
        &poll_path("app", "default", &[("a", -1), ("b", b)]),
    )
    .await;
    assert_eq!(answer.status, 200);
    let list = answer.json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["namespaceName"], "a");
    assert_eq!(list[0]["notificationId"], a);
    assert_eq!(list[0]["messages"]["details"]["app+default+a"], a);
    // An id the server never handed out (higher) is a difference too.
    let answer = get(&apollo, &poll_path("app", "default", &[("a", a + 100)])).await;
    assert_eq!(answer.json()[0]["notificationId"], a);
}

#[tokio::test]
async fn a_poll_is_held_then_answers_304_or_wakes_on_a_release() {
    let apollo = ApolloEmulator::start().await;
    apollo.set_hold(Duration::from_millis(300));
    apollo.publish("app", "default", "a", [("k", "1")]);
    let id = apollo.notification_id("app", "default", "a");
    let started = Instant::now();
    let answer = get(&apollo, &poll_path("app", "default", &[("a", id)])).await;
    assert_eq!(answer.status, 304);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(apollo.counters().timeouts, 1);
    // A namespace that never had a release message is held too (-1 = -1).
    let answer = get(&apollo, &poll_path("app", "default", &[("never", -1)])).await;
    assert_eq!(answer.status, 304);

    apollo.set_hold(Duration::from_secs(30));
    let path = poll_path("app", "default", &[("a", id)]);
    let url = apollo.url();
    let held = tokio::spawn(async move {
        let started = Instant::now();
        let response = reqwest::get(format!("{url}{path}")).await.unwrap();
        (
            response.status().as_u16(),
            response.text().await.unwrap(),
            started.elapsed(),
        )
    });
    apollo.wait_for(|c| c.held == 1).await;
    apollo.publish("app", "default", "a", [("k", "2")]);
    let (status, body, elapsed) = held.await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(elapsed < Duration::from_secs(10));
    let list: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        list[0]["notificationId"],
        apollo.notification_id("app", "default", "a")
    );
    let polls = apollo.polls();
    assert_eq!(polls.last().unwrap().notifications, [("a".to_owned(), id)]);
}

#[tokio::test]
async fn gray_releases_go_to_matching_clients_and_their_rollback_notifies() {
    let apollo = ApolloEmulator::start().await;
    apollo.publish("app", "default", "application", [("k", "main")]);
    let rule = GrayRule {
        ips: vec!["10.0.0.7".into()],
        labels: vec!["canary".into()],
    };
    let before = apollo.notification_id("app", "default", "application");
    apollo.publish_gray("app", "default", "application", rule, [("k", "gray")]);
    let gray_id = apollo.notification_id("app", "default", "application");
    assert!(gray_id > before);
    let k = |body: Value| body["configurations"]["k"].as_str().unwrap().to_owned();
    assert_eq!(
        k(get(&apollo, "/configs/app/default/application")
            .await
            .json()),
        "main"
    );
    assert_eq!(
        k(get(&apollo, "/configs/app/default/application?ip=10.0.0.7")
            .await
            .json()),
        "gray"
    );
    assert_eq!(
        k(
            get(&apollo, "/configs/app/default/application?label=canary")
                .await
                .json()
        ),
        "gray"
    );
    assert_eq!(
        k(get(
            &apollo,
            "/configs/app/default/application?ip=10.0.0.8&label=x"
        )
        .await
        .json()),
        "main"
    );
    apollo.rollback_gray("app", "default", "application");
    assert!(apollo.notification_id("app", "default", "application") > gray_id);
    assert_eq!(
        k(get(&apollo, "/configs/app/default/application?ip=10.0.0.7")
            .await
            .json()),
        "main"
    );
}

#[tokio::test]
async fn access_keys_are_checked() {
    let apollo = ApolloEmulator::start().await;
    apollo.publish("app", "default", "application", [("k", "v")]);
    apollo.set_secret("app", Some("s3cr3t"));
    let path = "/configs/app/default/application?ip=1.2.3.4";
    assert_eq!(get(&apollo, path).await.status, 401, "unsigned");
    let signed = |secret: &str, ts: i64, signed_path: &str| {
        vec![
            ("Timestamp", ts.to_string()),
            (
                "Authorization",
                format!("Apollo app:{}", sign(secret, ts, signed_path)),
            ),
        ]
    };
    let now = now_ms();
    assert_eq!(
        get_with(&apollo, path, &signed("s3cr3t", now, path))
            .await
            .status,
        200
    );
    assert_eq!(
        get_with(&apollo, path, &signed("wrong", now, path))
            .await
            .status,
        401
    );
    assert_eq!(
        get_with(
            &apollo,
            path,
            &signed("s3cr3t", now, "/configs/app/default/application")
        )
        .await
        .status,
        401,
        "the query is signed too"
    );
    let stale = now - 120_000;
    assert_eq!(
        get_with(&apollo, path, &signed("s3cr3t", stale, path))
            .await
            .status,
        401
    );
    // The long poll is signed over its raw (encoded) query.
    apollo.set_hold(Duration::from_millis(100));
    let poll = poll_path("app", "default", &[("application", -1)]);
    assert_eq!(get(&apollo, &poll).await.status, 401);
    assert_eq!(
        get_with(&apollo, &poll, &signed("s3cr3t", now_ms(), &poll))
            .await
            .status,
        200
    );
    // Another app without an access key needs no signature.
    apollo.publish("open", "default", "application", [("k", "v")]);
    assert_eq!(
        get(&apollo, "/configs/open/default/application")
            .await
            .status,
        200
    );
    assert_eq!(apollo.counters().unauthorized, 5);
    // The example of Apollo's "other language client" guide (HMAC-SHA1, base64).
    assert_eq!(
        sign(
            "df23df3f59884980844ff3dada30fa97",
            1_576_478_257_344,
            "/configs/100004458/default/application?ip=10.0.0.1"
        ),
        "EoKyziXvKqzHgwx+ijDJwgVTDgE="
    );
}

#[tokio::test]
async fn the_meta_server_lists_config_services() {
    let apollo = ApolloEmulator::start().await;
    let list = get(&apollo, "/services/config").await.json();
    assert_eq!(list[0]["appName"], "APOLLO-CONFIGSERVICE");
    assert_eq!(list[0]["homepageUrl"], format!("{}/", apollo.url()));
    apollo.set_config_services(Some(vec!["127.0.0.1:1".into(), apollo.address()]));
    let list = get(&apollo, "/services/config").await.json();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["homepageUrl"], "http://127.0.0.1:1/");
}

#[tokio::test]
async fn faults_500_drop_slow_and_down() {
    let apollo = ApolloEmulator::start().await;
    apollo.publish("app", "default", "application", [("k", "v")]);
    let path = "/configs/app/default/application";
    apollo.set_fault(Some(Fault::ServerError));
    assert_eq!(get(&apollo, path).await.status, 500);
    apollo.set_fault(Some(Fault::Drop));
    assert!(reqwest::get(format!("{}{path}", apollo.url()))
        .await
        .is_err());
    apollo.set_fault(None);
    apollo.set_slow(Some(Duration::from_millis(200)));
    let started = Instant::now();
    assert_eq!(get(&apollo, path).await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(200));
    apollo.set_slow(None);
    apollo.set_down(true);
    assert!(reqwest::get(format!("{}{path}", apollo.url()))
        .await
        .is_err());
    apollo.set_down(false);
    assert_eq!(get(&apollo, path).await.status, 200);
}

#[tokio::test]
async fn a_held_poll_fails_on_a_fault_and_on_a_restart() {
    let apollo = ApolloEmulator::start().await;
    apollo.publish("app", "default", "a", [("k", "1")]);
    let id = apollo.notification_id("app", "default", "a");
    let url = format!(
        "{}{}",
        apollo.url(),
        poll_path("app", "default", &[("a", id)])
    );
    let held = tokio::spawn(reqwest::get(url.clone()));
    apollo.wait_for(|c| c.held == 1).await;
    apollo.set_fault(Some(Fault::ServerError));
    assert_eq!(held.await.unwrap().unwrap().status().as_u16(), 500);
    apollo.set_fault(None);
    let held = tokio::spawn(reqwest::get(url));
    apollo.wait_for(|c| c.held == 1).await;
    apollo.restart(Ids::Same);
    assert!(held.await.unwrap().is_err(), "the connection closed");
    assert_eq!(apollo.notification_id("app", "default", "a"), id);
}

#[tokio::test]
async fn a_restart_may_reset_ids_and_a_lost_notification_changes_no_id() {
    let apollo = ApolloEmulator::start().await;
    apollo.set_hold(Duration::from_millis(200));
    for i in 0..5 {
        apollo.publish("app", "default", "a", [("k", i.to_string())]);
    }
    apollo.publish("app", "default", "b", [("k", "1")]);
    let a = apollo.notification_id("app", "default", "a");
    assert_eq!(a, 5);
    apollo.restart(Ids::Reset);
    let reset = apollo.notification_id("app", "default", "a");
    assert!(reset < a, "{reset}");
    let answer = get(&apollo, &poll_path("app", "default", &[("a", a)])).await;
    assert_eq!(
        answer.json()[0]["notificationId"],
        reset,
        "a lower id is reported"
    );
    // A lost notification: new content, same id, the poll stays quiet.
    let old_key = apollo
        .release_of("app", "default", "a")
        .unwrap()
        .release_key;
    let new_key = apollo.publish_silently("app", "default", "a", [("k", "silent")]);
    assert_ne!(old_key, new_key);
    assert_eq!(apollo.notification_id("app", "default", "a"), reset);
    assert_eq!(
        get(&apollo, &poll_path("app", "default", &[("a", reset)]))
            .await
            .status,
        304
    );
    let body = get(&apollo, "/configs/app/default/a").await.json();
    assert_eq!(body["configurations"]["k"], "silent");
}

#[tokio::test]
async fn bad_polls_are_400() {
    let apollo = ApolloEmulator::start().await;
    assert_eq!(
        get(&apollo, "/notifications/v2?appId=app&cluster=default")
            .await
            .status,
        400
    );
    assert_eq!(
        get(
            &apollo,
            "/notifications/v2?appId=app&cluster=default&notifications=nope"
        )
        .await
        .status,
        400
    );
    assert_eq!(get(&apollo, "/elsewhere").await.status, 404);
}

#[tokio::test]
async fn answering_at_once_gives_304_without_holding_and_counts_polls() {
    let apollo = ApolloEmulator::start().await;
    apollo.set_hold(Duration::from_secs(30));
    apollo.publish("app", "default", "a", [("k", "1")]);
    let id = apollo.notification_id("app", "default", "a");
    let polls = apollo.long_polls();
    let path = poll_path("app", "default", &[("a", id)]);
    let url = apollo.url();
    let held = {
        let path = path.clone();
        tokio::spawn(async move { reqwest::get(format!("{url}{path}")).await.unwrap().status() })
    };
    apollo.wait_for(|c| c.held == 1).await;
    apollo.set_answer_at_once(true);
    assert_eq!(held.await.unwrap().as_u16(), 304, "a held poll answers now");
    assert_eq!(get(&apollo, &path).await.status, 304);
    // Something to report still answers 200.
    let answer = get(&apollo, &poll_path("app", "default", &[("a", -1)])).await;
    assert_eq!(answer.status, 200);
    assert_eq!(*polls.borrow(), 3);
    assert_eq!(apollo.counters().timeouts, 0, "none was held to its end");
    apollo.set_answer_at_once(false);
    let url = apollo.url();
    let held =
        tokio::spawn(async move { reqwest::get(format!("{url}{path}")).await.unwrap().status() });
    apollo.wait_for(|c| c.held == 1).await;
    apollo.publish("app", "default", "a", [("k", "2")]);
    assert_eq!(held.await.unwrap().as_u16(), 200);
}
