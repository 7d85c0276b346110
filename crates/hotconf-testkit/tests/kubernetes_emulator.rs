//! The Kubernetes API emulator checked rule by rule against
//! docs/protocols.md#kubernetes-api-the-emulators-rules (backends.md §7), with plain HTTP
//! requests (no Kubernetes client involved).

use hotconf_testkit::kubernetes::{service_account_jwt, KubeEmulator, Resource, Verb};
use hotconf_testkit::TIMEOUT;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CM: &str = "/api/v1/namespaces/default/configmaps";
const SECRETS: &str = "/api/v1/namespaces/default/secrets";

struct Answer {
    status: u16,
    content_type: String,
    body: Value,
}

async fn call(
    kube: &KubeEmulator,
    method: &str,
    path: &str,
    body: Option<(&str, Value)>,
) -> Answer {
    call_with(kube, method, path, body, None).await
}

async fn call_with(
    kube: &KubeEmulator,
    method: &str,
    path: &str,
    body: Option<(&str, Value)>,
    token: Option<&str>,
) -> Answer {
    let client = reqwest::Client::new();
    let mut request = client.request(method.parse().unwrap(), format!("{}{path}", kube.url()));
    if let Some((content_type, body)) = body {
        request = request
            .header("Content-Type", content_type)
            .body(body.to_string());
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = tokio::time::timeout(TIMEOUT, request.send())
        .await
        .expect("an answer in time")
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("Content-Type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = response.bytes().await.unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        content_type,
        body,
    }
}

async fn get(kube: &KubeEmulator, path: &str) -> Answer {
    call(kube, "GET", path, None).await
}

fn assert_status(answer: &Answer, code: u16, reason: &str) {
    assert_eq!(answer.status, code, "{}", answer.body);
    assert_eq!(answer.body["kind"], "Status", "{}", answer.body);
    assert_eq!(answer.body["apiVersion"], "v1");
    assert_eq!(answer.body["status"], "Failure");
    assert_eq!(answer.body["code"], code);
    assert_eq!(answer.body["reason"], reason, "{}", answer.body);
}

/// An open watch: its events one line at a time.
struct Watch {
    response: reqwest::Response,
    buffer: Vec<u8>,
}

#[derive(Debug, PartialEq)]
enum Next {
    Event(Value),
    /// The body ended cleanly (final chunk).
    End,
    /// The connection broke off mid-body.
    Broken,
}

impl Watch {
    async fn open(kube: &KubeEmulator, path_query: &str) -> Watch {
        Watch::open_with(kube, path_query, None).await
    }

    async fn open_with(kube: &KubeEmulator, path_query: &str, token: Option<&str>) -> Watch {
        let mut request = reqwest::Client::new().get(format!("{}{path_query}", kube.url()));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = tokio::time::timeout(TIMEOUT, request.send())
            .await
            .expect("the watch's head in time")
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["Content-Type"], "application/json");
        assert_eq!(response.headers()["Transfer-Encoding"], "chunked");
        Watch {
            response,
            buffer: Vec::new(),
        }
    }

    async fn next(&mut self) -> Next {
        loop {
            if let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                return Next::Event(serde_json::from_slice(&line).unwrap());
            }
            let chunk = tokio::time::timeout(TIMEOUT, self.response.chunk())
                .await
                .expect("a watch event within the deadline");
            match chunk {
                Ok(Some(bytes)) => {
                    // One event per chunk, newline-terminated (§7.1).
                    assert!(bytes.ends_with(b"\n"), "{bytes:?}");
                    self.buffer.extend_from_slice(&bytes);
                }
                Ok(None) => {
                    assert!(self.buffer.is_empty(), "a partial line at the end");
                    return Next::End;
                }
                Err(_) => return Next::Broken,
            }
        }
    }

    async fn event(&mut self) -> (String, Value) {
        match self.next().await {
            Next::Event(event) => (
                event["type"].as_str().unwrap().to_owned(),
                event["object"].clone(),
            ),
            other => panic!("expected an event, got {other:?}"),
        }
    }
}

fn rv(object: &Value) -> &str {
    object["metadata"]["resourceVersion"].as_str().unwrap()
}

// ===== objects =====

#[tokio::test]
async fn get_answers_the_object_or_a_404_status() {
    let kube = KubeEmulator::start().await;
    let written = kube.put_config_map("default", "app", [("a", "1")]);
    let answer = get(&kube, &format!("{CM}/app")).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.content_type, "application/json");
    assert_eq!(answer.body["kind"], "ConfigMap");
    assert_eq!(answer.body["apiVersion"], "v1");
    assert_eq!(answer.body["metadata"]["name"], "app");
    assert_eq!(answer.body["metadata"]["namespace"], "default");
    assert!(answer.body["metadata"]["uid"].is_string());
    assert_eq!(rv(&answer.body), written);
    assert_eq!(answer.body["data"], json!({"a": "1"}));

    let missing = get(&kube, &format!("{CM}/nope")).await;
    assert_status(&missing, 404, "NotFound");
    assert_eq!(missing.body["message"], "configmaps \"nope\" not found");
    assert_eq!(
        missing.body["details"],
        json!({"name": "nope", "kind": "configmaps"})
    );
    assert_status(
        &get(&kube, "/api/v1/namespaces/default/pods").await,
        404,
        "NotFound",
    );
}

#[tokio::test]
async fn lists_carry_the_global_resource_version_and_filter_by_name() {
    let kube = KubeEmulator::start().await;
    let empty = get(&kube, CM).await;
    assert_eq!(empty.body["kind"], "ConfigMapList");
    assert_eq!(empty.body["items"], json!([]));
    let first = rv(&empty.body).to_owned();
    assert!(!first.is_empty(), "a list's RV is never empty");

    kube.put_config_map("default", "a", [("k", "1")]);
    kube.put_config_map("default", "b", [("k", "2")]);
    let other = kube.put_config_map("elsewhere", "a", [("k", "3")]);
    let list = get(&kube, CM).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 2);
    // One counter for everything: a write in another namespace moves this list's RV too.
    assert_eq!(rv(&list.body), other);

    let one = get(&kube, &format!("{CM}?fieldSelector=metadata.name%3Db")).await;
    let items = one.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["data"], json!({"k": "2"}));
    let none = get(&kube, &format!("{CM}?fieldSelector=metadata.name%3Dzzz")).await;
    assert_eq!(none.body["items"], json!([]));
    assert_eq!(rv(&none.body), other);

    let all = get(&kube, "/api/v1/configmaps?fieldSelector=metadata.name==a").await;
    assert_eq!(all.body["items"].as_array().unwrap().len(), 2);
    let bad = get(&kube, &format!("{CM}?fieldSelector=spec.x%3D1")).await;
    assert_status(&bad, 400, "BadRequest");
}

#[tokio::test]
async fn create_answers_201_then_409_already_exists() {
    let kube = KubeEmulator::start().await;
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app"}, "data": {"a": "1"}});
    let created = call(&kube, "POST", CM, Some(("application/json", body.clone()))).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["data"], json!({"a": "1"}));
    assert_eq!(rv(&created.body), kube.resource_version());
    let again = call(&kube, "POST", CM, Some(("application/json", body))).await;
    assert_status(&again, 409, "AlreadyExists");

    let wrong_ns = json!({"metadata": {"name": "x", "namespace": "other"}});
    let answer = call(&kube, "POST", CM, Some(("application/json", wrong_ns))).await;
    assert_status(&answer, 400, "BadRequest");
    let bad_key = json!({"metadata": {"name": "x"}, "data": {"a/b": "1"}});
    let answer = call(&kube, "POST", CM, Some(("application/json", bad_key))).await;
    assert_status(&answer, 422, "Invalid");
}

#[tokio::test]
async fn replace_puts_a_new_state_and_refuses_a_stale_resource_version() {
    let kube = KubeEmulator::start().await;
    let first = kube.put_config_map("default", "app", [("a", "1")]);
    let body = json!({"metadata": {"name": "app", "resourceVersion": first}, "data": {"b": "2"}});
    let replaced = call(
        &kube,
        "PUT",
        &format!("{CM}/app"),
        Some(("application/json", body.clone())),
    )
    .await;
    assert_eq!(replaced.status, 200, "{}", replaced.body);
    assert_eq!(replaced.body["data"], json!({"b": "2"}));
    assert_ne!(rv(&replaced.body), first);
    let stale = call(
        &kube,
        "PUT",
        &format!("{CM}/app"),
        Some(("application/json", body)),
    )
    .await;
    assert_status(&stale, 409, "Conflict");
    let missing = json!({"metadata": {"name": "nope"}});
    let answer = call(
        &kube,
        "PUT",
        &format!("{CM}/nope"),
        Some(("application/json", missing)),
    )
    .await;
    assert_status(&answer, 404, "NotFound");
}

#[tokio::test]
async fn patch_merges_maps_and_null_deletes_a_key() {
    let kube = KubeEmulator::start().await;
    kube.put_config_map("default", "app", [("a", "1"), ("b", "2")]);
    let path = format!("{CM}/app");
    for content_type in [
        "application/strategic-merge-patch+json",
        "application/merge-patch+json",
    ] {
        let patch = json!({"data": {"a": content_type, "b": null}, "metadata": {"annotations": {"x": "y"}}});
        let patched = call(&kube, "PATCH", &path, Some((content_type, patch))).await;
        assert_eq!(patched.status, 200, "{}", patched.body);
        assert_eq!(patched.body["data"], json!({"a": content_type}));
        assert_eq!(patched.body["metadata"]["annotations"], json!({"x": "y"}));
    }
    let apply = call(
        &kube,
        "PATCH",
        &path,
        Some(("application/apply-patch+yaml", json!({}))),
    )
    .await;
    assert_status(&apply, 415, "UnsupportedMediaType");
    let missing = call(
        &kube,
        "PATCH",
        &format!("{CM}/nope"),
        Some(("application/merge-patch+json", json!({}))),
    )
    .await;
    assert_status(&missing, 404, "NotFound");
    assert_eq!(kube.counters().of(Verb::Patch, Resource::ConfigMaps), 4);
}

#[tokio::test]
async fn delete_answers_the_object_stamped_with_the_delete() {
    let kube = KubeEmulator::start().await;
    let written = kube.put_config_map("default", "app", [("a", "1")]);
    let mut watch = Watch::open(&kube, &format!("{CM}?watch=1&resourceVersion={written}")).await;
    let body = json!({"propagationPolicy": "Background"});
    let deleted = call(
        &kube,
        "DELETE",
        &format!("{CM}/app"),
        Some(("application/json", body)),
    )
    .await;
    assert_eq!(deleted.status, 200);
    assert_eq!(deleted.body["data"], json!({"a": "1"}));
    assert_eq!(rv(&deleted.body), kube.resource_version());
    assert_ne!(rv(&deleted.body), written);
    let (kind, object) = watch.event().await;
    assert_eq!(kind, "DELETED");
    assert_eq!(rv(&object), rv(&deleted.body));
    let again = call(&kube, "DELETE", &format!("{CM}/app"), None).await;
    assert_status(&again, 404, "NotFound");
}

#[tokio::test]
async fn secret_string_data_is_folded_into_base64_data_and_never_returned() {
    let kube = KubeEmulator::start().await;
    let body = json!({"metadata": {"name": "creds"}, "data": {"user": "YWRtaW4=", "pw": "b2xk"}, "stringData": {"pw": "new"}});
    let created = call(&kube, "POST", SECRETS, Some(("application/json", body))).await;
    assert_eq!(created.status, 201, "{}", created.body);
    for answer in [created, get(&kube, &format!("{SECRETS}/creds")).await] {
        assert_eq!(answer.body["kind"], "Secret");
        assert_eq!(answer.body["type"], "Opaque");
        assert_eq!(
            answer.body["data"],
            json!({"user": "YWRtaW4=", "pw": "bmV3"})
        );
        assert!(answer.body.get("stringData").is_none(), "{}", answer.body);
    }
    kube.put_secret("default", "bin", [("k", [0u8, 255])]);
    assert_eq!(kube.secret("default", "bin").unwrap()["data"]["k"], "AP8=");
    let bad = json!({"metadata": {"name": "x"}, "data": {"k": "not base64!"}});
    let answer = call(&kube, "POST", SECRETS, Some(("application/json", bad))).await;
    assert_status(&answer, 422, "Invalid");
}

// ===== watches =====

#[tokio::test]
async fn a_watch_without_resource_version_starts_with_synthetic_added() {
    let kube = KubeEmulator::start().await;
    kube.put_config_map("default", "a", [("k", "1")]);
    let b = kube.put_config_map("default", "b", [("k", "2")]);
    for rv_param in ["", "&resourceVersion=0", "&resourceVersion="] {
        let mut watch = Watch::open(&kube, &format!("{CM}?watch=true{rv_param}")).await;
        let (kind, object) = watch.event().await;
        assert_eq!(
            (kind.as_str(), object["metadata"]["name"].as_str()),
            ("ADDED", Some("a"))
        );
        let (kind, object) = watch.event().await;
        assert_eq!((kind.as_str(), rv(&object)), ("ADDED", b.as_str()));
        assert_eq!(object["kind"], "ConfigMap");
    }
    let mut named = Watch::open(
        &kube,
        &format!("{CM}?watch=1&fieldSelector=metadata.name%3Db"),
    )
    .await;
    assert_eq!(named.event().await.1["metadata"]["name"], "b");
    let changed = kube.put_config_map("default", "a", [("k", "3")]);
    let last = kube.put_config_map("default", "b", [("k", "4")]);
    let (kind, object) = named.event().await;
    assert_eq!((kind.as_str(), rv(&object)), ("MODIFIED", last.as_str()));
    assert_ne!(changed, last);
}

#[tokio::test]
async fn a_watch_from_x_sends_only_changes_strictly_after_x() {
    let kube = KubeEmulator::start().await;
    let one = kube.put_config_map("default", "app", [("a", "1")]);
    let two = kube.put_config_map("default", "app", [("a", "2")]);
    kube.put_secret("default", "app", [("a", "s")]);
    let mut watch = Watch::open(&kube, &format!("{CM}?watch=True&resourceVersion={one}")).await;
    let (kind, object) = watch.event().await;
    assert_eq!((kind.as_str(), rv(&object)), ("MODIFIED", two.as_str()));
    kube.delete_config_map("default", "app");
    let created = kube.put_config_map("default", "app", [("a", "3")]);
    assert_eq!(watch.event().await.0, "DELETED");
    let (kind, object) = watch.event().await;
    assert_eq!((kind.as_str(), rv(&object)), ("ADDED", created.as_str()));
    // Every event object carries its resourceVersion (§7.5).
    assert!(!rv(&object).is_empty());
    // Writing the same data again changes nothing: no RV, no event.
    assert_eq!(kube.put_config_map("default", "app", [("a", "3")]), created);
    let bad = get(&kube, &format!("{CM}?watch=1&resourceVersion=abc")).await;
    assert_status(&bad, 400, "BadRequest");
    let bad = get(&kube, &format!("{CM}?watch=maybe")).await;
    assert_status(&bad, 400, "BadRequest");
}

#[tokio::test]
async fn a_watch_from_a_compacted_version_gets_an_in_stream_410_then_the_end() {
    let kube = KubeEmulator::start().await;
    let old = kube.put_config_map("default", "app", [("a", "1")]);
    kube.put_config_map("default", "app", [("a", "2")]);
    kube.compact();
    let floor = kube.resource_version();
    let mut watch = Watch::open(&kube, &format!("{CM}?watch=1&resourceVersion={old}")).await;
    let (kind, status) = watch.event().await;
    assert_eq!(kind, "ERROR");
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["code"], 410);
    assert_eq!(status["reason"], "Expired");
    assert_eq!(
        status["message"],
        format!("too old resource version: {old} ({floor})")
    );
    assert_eq!(watch.next().await, Next::End);
    assert_eq!(kube.counters().expired, 1);
    // From the compaction point itself the watch is fine.
    let mut ok = Watch::open(&kube, &format!("{CM}?watch=1&resourceVersion={floor}")).await;
    let three = kube.put_config_map("default", "app", [("a", "3")]);
    assert_eq!(rv(&ok.event().await.1), three);

    // A bounded history compacts by itself.
    kube.set_history_limit(2);
    let before = kube.put_config_map("default", "app", [("a", "4")]);
    kube.put_config_map("default", "app", [("a", "5")]);
    kube.put_config_map("default", "app", [("a", "6")]);
    let mut watch = Watch::open(&kube, &format!("{CM}?watch=1&resourceVersion={three}")).await;
    assert_eq!(watch.event().await.1["code"], 410);
    let mut watch = Watch::open(&kube, &format!("{CM}?watch=1&resourceVersion={before}")).await;
    assert_eq!(watch.event().await.1["data"]["a"], "5");
}

#[tokio::test]
async fn a_watch_ends_cleanly_at_timeout_seconds() {
    let kube = KubeEmulator::start().await;
    let rv = kube.resource_version();
    let mut watch = Watch::open(
        &kube,
        &format!("{CM}?watch=1&resourceVersion={rv}&timeoutSeconds=1"),
    )
    .await;
    assert_eq!(watch.next().await, Next::End);
    kube.wait_for(|c| c.open_watches == 0).await;
}

#[tokio::test]
async fn bookmarks_are_sent_only_to_watches_that_ask() {
    let kube = KubeEmulator::start().await;
    let rv = kube.put_config_map("default", "app", [("a", "1")]);
    let mut asked = Watch::open(
        &kube,
        &format!("{CM}?watch=1&resourceVersion={rv}&allowWatchBookmarks=true"),
    )
    .await;
    let mut plain = Watch::open(&kube, &format!("{CM}?watch=1&resourceVersion={rv}")).await;
    kube.wait_for(|c| c.open_watches == 2).await;
    kube.bookmark();
    let (kind, object) = asked.event().await;
    assert_eq!(kind, "BOOKMARK");
    assert_eq!(
        object,
        json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"resourceVersion": rv}})
    );
    let next = kube.put_config_map("default", "app", [("a", "2")]);
    let (kind, object) = plain.event().await;
    assert_eq!((kind.as_str(), rv_of(&object)), ("MODIFIED", next.clone()));
    assert_eq!(asked.event().await.0, "MODIFIED");

    kube.set_bookmark_interval(Some(std::time::Duration::from_millis(20)));
    let mut periodic = Watch::open(
        &kube,
        &format!("{CM}?watch=1&resourceVersion={next}&allowWatchBookmarks=1"),
    )
    .await;
    let (kind, object) = periodic.event().await;
    assert_eq!((kind.as_str(), rv_of(&object)), ("BOOKMARK", next));
}

fn rv_of(object: &Value) -> String {
    rv(object).to_owned()
}

// ===== auth, faults, restarts =====

#[tokio::test]
async fn a_bearer_token_is_checked_and_can_be_rotated() {
    let kube = KubeEmulator::start().await;
    kube.put_config_map("default", "app", [("a", "1")]);
    kube.set_token(Some("one"));
    let path = format!("{CM}/app");
    assert_status(&get(&kube, &path).await, 401, "Unauthorized");
    assert_status(
        &call_with(&kube, "GET", &path, None, Some("two")).await,
        401,
        "Unauthorized",
    );
    assert_status(&get(&kube, "/api/v1").await, 401, "Unauthorized");
    assert_eq!(
        call_with(&kube, "GET", &path, None, Some("one"))
            .await
            .status,
        200
    );
    kube.set_token(Some("two"));
    assert_status(
        &call_with(&kube, "GET", &path, None, Some("one")).await,
        401,
        "Unauthorized",
    );
    assert_eq!(
        call_with(&kube, "GET", &path, None, Some("two"))
            .await
            .status,
        200
    );
    assert_eq!(kube.counters().unauthorized, 4);
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(kube.kubeconfig(dir.path())).unwrap();
    assert!(text.contains("token: \"two\""), "{text}");
    assert!(text.contains(&kube.url()), "{text}");
}

#[tokio::test]
async fn a_forbidden_namespace_answers_403_forbidden() {
    let kube = KubeEmulator::start().await;
    kube.put_config_map("default", "app", [("a", "1")]);
    kube.set_forbidden("default", true);
    let answer = get(&kube, &format!("{CM}/app")).await;
    assert_status(&answer, 403, "Forbidden");
    assert_eq!(
        answer.body["message"],
        "configmaps \"app\" is forbidden: User \"system:anonymous\" cannot get resource \"configmaps\" in API group \"\" in the namespace \"default\""
    );
    assert_status(
        &get(&kube, &format!("{CM}?watch=1")).await,
        403,
        "Forbidden",
    );
    assert_eq!(
        get(&kube, "/api/v1/namespaces/other/configmaps")
            .await
            .status,
        200
    );
    kube.set_forbidden("default", false);
    assert_eq!(get(&kube, &format!("{CM}/app")).await.status, 200);
    assert_eq!(kube.counters().forbidden, 2);
}

#[tokio::test]
async fn cutting_watches_breaks_their_streams_off() {
    let kube = KubeEmulator::start().await;
    kube.put_config_map("default", "app", [("a", "1")]);
    let mut watch = Watch::open(&kube, &format!("{CM}?watch=1")).await;
    assert_eq!(watch.event().await.0, "ADDED");
    kube.cut_watches();
    assert_eq!(watch.next().await, Next::Broken);
    kube.wait_for(|c| c.open_watches == 0).await;
    assert_eq!(get(&kube, &format!("{CM}/app")).await.status, 200);
}

#[tokio::test]
async fn a_restart_keeps_or_loses_the_state_on_the_same_port() {
    let kube = KubeEmulator::start().await;
    let url = kube.url();
    let rv = kube.put_config_map("default", "app", [("a", "1")]);
    let mut watch = Watch::open(&kube, &format!("{CM}?watch=1&resourceVersion={rv}")).await;
    kube.restart(true);
    assert_eq!(watch.next().await, Next::Broken);
    assert_eq!(kube.url(), url);
    assert_eq!(get(&kube, &format!("{CM}/app")).await.status, 200);
    let mut resumed = Watch::open(&kube, &format!("{CM}?watch=1&resourceVersion={rv}")).await;
    let next = kube.put_config_map("default", "app", [("a", "2")]);
    assert_eq!(rv_of(&resumed.event().await.1), next);

    kube.restart(false);
    assert_eq!(resumed.next().await, Next::Broken);
    assert_status(&get(&kube, &format!("{CM}/app")).await, 404, "NotFound");
    let mut old = Watch::open(&kube, &format!("{CM}?watch=1&resourceVersion={next}")).await;
    assert_eq!(old.event().await.1["code"], 410);
    let list = get(&kube, CM).await;
    assert!(rv_of(&list.body).parse::<u64>().unwrap() >= next.parse::<u64>().unwrap());
}

// ===== TokenReview =====

const TOKEN_REVIEWS: &str = "/apis/authentication.k8s.io/v1/tokenreviews";

/// A TokenReview of `token`, as a client sends it (`kind` and `apiVersion` included).
fn review_of(token: &str) -> Option<(&'static str, Value)> {
    Some((
        "application/json",
        json!({
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": token},
        }),
    ))
}

#[tokio::test]
async fn a_token_review_vouches_for_registered_service_account_tokens_only() {
    let kube = KubeEmulator::start().await;
    let token = kube.issue_service_account_token("default", "app");
    let uid = kube.service_account_uid("default", "app");
    let answer = call(&kube, "POST", TOKEN_REVIEWS, review_of(&token)).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert_eq!(answer.content_type, "application/json");
    let review = &answer.body;
    assert_eq!(
        (&review["kind"], &review["apiVersion"]),
        (&json!("TokenReview"), &json!("authentication.k8s.io/v1"))
    );
    assert_eq!(review["spec"]["token"], token.as_str());
    let status = &review["status"];
    assert_eq!(status["authenticated"], true, "{review}");
    assert_eq!(
        status["user"]["username"],
        "system:serviceaccount:default:app"
    );
    assert_eq!(status["user"]["uid"], uid.as_str());
    assert_eq!(
        status["user"]["groups"],
        json!([
            "system:serviceaccounts",
            "system:serviceaccounts:default",
            "system:authenticated"
        ])
    );
    assert_eq!(
        status["audiences"],
        json!(["https://kubernetes.default.svc.cluster.local"])
    );
    assert!(status.get("error").is_none(), "{review}");

    // The audiences asked for are echoed.
    let mut asked = review_of(&token).unwrap();
    asked.1["spec"]["audiences"] = json!(["vault"]);
    let answer = call(&kube, "POST", TOKEN_REVIEWS, Some(asked)).await;
    assert_eq!(answer.body["status"]["audiences"], json!(["vault"]));

    // A token of the right shape that nobody registered, and a revoked one: 201, not
    // authenticated, with an error.
    let forged = service_account_jwt("default", "app", &uid);
    assert!(kube.remove_service_account_token(&token));
    assert!(!kube.remove_service_account_token(&token));
    for unknown in [&forged, &token] {
        let answer = call(&kube, "POST", TOKEN_REVIEWS, review_of(unknown)).await;
        assert_eq!(answer.status, 201, "{}", answer.body);
        let status = &answer.body["status"];
        assert_ne!(status["authenticated"], true, "{status}");
        assert!(!status["error"].as_str().unwrap().is_empty(), "{status}");
    }
    let counters = kube.counters();
    assert_eq!((counters.token_reviews, counters.tokens_rejected), (4, 2));
}

#[tokio::test]
async fn service_accounts_keep_their_uid_and_tokens_are_counted_until_a_restart_forgets_them() {
    let kube = KubeEmulator::start().await;
    let first = kube.issue_service_account_token("default", "app");
    let second = kube.issue_service_account_token("default", "app");
    assert_ne!(first, second);
    let uid = kube.service_account_uid("default", "app");
    assert_ne!(uid, kube.service_account_uid("other", "app"));
    for _ in 0..2 {
        call(&kube, "POST", TOKEN_REVIEWS, review_of(&second)).await;
    }
    assert_eq!(
        (
            kube.token_reviews_of(&first),
            kube.token_reviews_of(&second)
        ),
        (0, 2)
    );
    // Any token can be registered; a review names the account it was registered for.
    kube.add_service_account_token("team", "api", "opaque-token");
    let answer = call(&kube, "POST", TOKEN_REVIEWS, review_of("opaque-token")).await;
    assert_eq!(
        answer.body["status"]["user"]["username"],
        "system:serviceaccount:team:api"
    );

    kube.restart(false);
    let answer = call(&kube, "POST", TOKEN_REVIEWS, review_of(&second)).await;
    assert_ne!(answer.body["status"]["authenticated"], true);
    assert_ne!(kube.service_account_uid("default", "app"), uid);
    kube.restart(true);
    let token = kube.issue_service_account_token("default", "app");
    kube.restart(true);
    let answer = call(&kube, "POST", TOKEN_REVIEWS, review_of(&token)).await;
    assert_eq!(answer.body["status"]["authenticated"], true);
}

#[tokio::test]
async fn a_token_review_needs_the_reviewers_bearer_token_a_post_and_a_token() {
    let kube = KubeEmulator::start().await;
    let token = kube.issue_service_account_token("default", "app");
    kube.set_token(Some("reviewer"));
    let post = |bearer: Option<&'static str>, body| {
        let kube = &kube;
        async move { call_with(kube, "POST", TOKEN_REVIEWS, body, bearer).await }
    };
    assert_status(&post(None, review_of(&token)).await, 401, "Unauthorized");
    // The token reviewed is not the reviewer's credential.
    let as_itself = call_with(
        &kube,
        "POST",
        TOKEN_REVIEWS,
        review_of(&token),
        Some(&token),
    )
    .await;
    assert_status(&as_itself, 401, "Unauthorized");
    assert_eq!(kube.counters().unauthorized, 2);
    let answer = post(Some("reviewer"), review_of(&token)).await;
    assert_eq!(
        answer.body["status"]["authenticated"], true,
        "{}",
        answer.body
    );
    // As Go clients send it: no kind, no apiVersion.
    let bare = json!({"metadata": {}, "spec": {"token": token}, "status": {"user": {}}});
    let answer = post(Some("reviewer"), Some(("application/json", bare))).await;
    assert_eq!(answer.status, 201, "{}", answer.body);

    let without_token = json!({"kind": "TokenReview", "spec": {}});
    let answer = post(Some("reviewer"), Some(("application/json", without_token))).await;
    assert_status(&answer, 400, "BadRequest");
    assert_eq!(
        answer.body["message"],
        "token is required for TokenReview in authentication"
    );
    let other_kind = json!({"kind": "SubjectAccessReview", "spec": {"token": "t"}});
    let answer = post(Some("reviewer"), Some(("application/json", other_kind))).await;
    assert_status(&answer, 400, "BadRequest");
    let answer = post(Some("reviewer"), Some(("text/plain", json!("x")))).await;
    assert_status(&answer, 415, "UnsupportedMediaType");
    let answer = call_with(&kube, "GET", TOKEN_REVIEWS, None, Some("reviewer")).await;
    assert_status(&answer, 405, "MethodNotAllowed");
    let counters = kube.counters();
    assert_eq!((counters.token_reviews, counters.discovery), (2, 0));
}

// ===== discovery, counting, bounds =====

#[tokio::test]
async fn discovery_serves_what_kubectl_reads() {
    let kube = KubeEmulator::start().await;
    assert_eq!(get(&kube, "/api").await.body["versions"], json!(["v1"]));
    let apis = get(&kube, "/apis").await;
    assert_eq!(
        (apis.status, &apis.body["kind"]),
        (200, &json!("APIGroupList"))
    );
    let v1 = get(&kube, "/api/v1").await.body;
    assert_eq!(v1["kind"], "APIResourceList");
    let cm = v1["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "configmaps")
        .unwrap();
    assert_eq!(cm["namespaced"], true);
    assert_eq!(cm["kind"], "ConfigMap");
    assert_eq!(cm["shortNames"], json!(["cm"]));
    for verb in [
        "get", "list", "watch", "create", "update", "patch", "delete",
    ] {
        assert!(
            cm["verbs"].as_array().unwrap().contains(&json!(verb)),
            "{verb}"
        );
    }
    assert_eq!(get(&kube, "/version").await.body["major"], "1");
    let root = get(&kube, "/openapi/v3").await.body;
    let url = root["paths"]["api/v1"]["serverRelativeURL"]
        .as_str()
        .unwrap()
        .to_owned();
    let doc = get(&kube, &url).await.body;
    let patch = &doc["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"]["patch"];
    assert_eq!(
        patch["x-kubernetes-group-version-kind"]["kind"],
        "ConfigMap"
    );
    assert!(patch["requestBody"]["content"]["application/strategic-merge-patch+json"].is_object());
    assert!(patch["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "fieldValidation"));
    assert_status(&get(&kube, "/openapi/v2").await, 404, "NotFound");
    let group = &apis.body["groups"][0];
    assert_eq!(group["name"], "authentication.k8s.io");
    assert_eq!(group["preferredVersion"]["version"], "v1");
    let authentication = get(&kube, "/apis/authentication.k8s.io/v1").await.body;
    let reviews = &authentication["resources"][0];
    assert_eq!(
        (&reviews["name"], &reviews["kind"], &reviews["namespaced"]),
        (&json!("tokenreviews"), &json!("TokenReview"), &json!(false))
    );
    assert_eq!(reviews["verbs"], json!(["create"]));
    assert_eq!(kube.counters().discovery, 8);
}

#[tokio::test]
async fn every_request_is_counted_by_verb_and_resource() {
    let kube = KubeEmulator::start().await;
    kube.put_config_map("default", "app", [("a", "1")]);
    get(&kube, &format!("{CM}/app")).await;
    get(&kube, &format!("{CM}/nope")).await;
    get(&kube, CM).await;
    get(&kube, SECRETS).await;
    let rv = kube.resource_version();
    let watch = Watch::open(&kube, &format!("{CM}?watch=1&resourceVersion={rv}")).await;
    let counters = kube.wait_for(|c| c.open_watches == 1).await;
    assert_eq!(counters.of(Verb::Get, Resource::ConfigMaps), 2);
    assert_eq!(counters.of(Verb::List, Resource::ConfigMaps), 1);
    assert_eq!(counters.of(Verb::List, Resource::Secrets), 1);
    assert_eq!(counters.of(Verb::Watch, Resource::ConfigMaps), 1);
    drop(watch);
    kube.wait_for(|c| c.open_watches == 0).await;
}

/// Sends raw bytes and reads the answer's status line (empty if the server just closed).
async fn raw(kube: &KubeEmulator, bytes: &[u8]) -> String {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(kube.address())
            .await
            .unwrap();
        let _ = stream.write_all(bytes).await;
        let mut answer = Vec::new();
        let _ = stream.take(1 << 20).read_to_end(&mut answer).await;
        String::from_utf8_lossy(&answer)
            .lines()
            .next()
            .unwrap_or("")
            .to_owned()
    };
    tokio::time::timeout(TIMEOUT, exchange)
        .await
        .expect("an answer or a close in time")
}

#[tokio::test]
async fn reads_are_bounded_and_bad_input_gets_an_answer_not_a_panic() {
    let kube = KubeEmulator::start().await;
    let huge_head = format!(
        "GET /api HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(200_000)
    );
    let line = raw(&kube, huge_head.as_bytes()).await;
    assert!(line.is_empty() || line.contains("431"), "{line}");
    let line = raw(&kube, b"\x00\x01garbage\r\n\r\n").await;
    assert!(line.is_empty() || line.contains("400"), "{line}");
    let big_body = format!(
        "POST {CM} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        4 << 20
    );
    let mut request = big_body.into_bytes();
    request.extend(std::iter::repeat_n(b' ', 4 << 20));
    let line = raw(&kube, &request).await;
    assert!(line.is_empty() || line.contains("413"), "{line}");
    let not_json = call(&kube, "POST", CM, None).await;
    assert_status(&not_json, 400, "BadRequest");
    let answer = reqwest::Client::new()
        .post(format!("{}{CM}", kube.url()))
        .header("Content-Type", "application/json")
        .body("{\"metadata\":")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    assert_eq!(get(&kube, "/api").await.status, 200);
}
