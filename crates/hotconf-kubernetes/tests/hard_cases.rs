//! The hard cases of following a ConfigMap or a Secret (issue 26, item 7), at the reloader's
//! level: a `Reloader` over a lower in-memory layer and a `KubernetesProvider` on top, against
//! the test kit's API-server emulator (behind a proxy that can stall the connection). Every wait
//! is on the store, the events or the emulator's counters, each with a deadline.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hotconf_core::{Event, MemoryHandle, MemoryProvider, Reloader, Startup};
use hotconf_kubernetes::{KubernetesClient, KubernetesProvider, KubernetesSource};
use hotconf_testkit::kubernetes::{KubeEmulator, Resource, Verb};
use hotconf_testkit::{wait_for_event, wait_until, TcpProxy, TIMEOUT};
use serde_json::{json, Value};
use tokio::sync::broadcast;

const NS: &str = "default";
const NAME: &str = "app";
/// The name of the Kubernetes layer.
const LAYER: &str = "k8s";
/// How events and revisions name the Kubernetes source (its URI).
const SOURCE: &str = "k8s://default/";

/// An emulator, a proxy in front of it and a directory for kubeconfigs.
struct Cluster {
    kube: KubeEmulator,
    proxy: TcpProxy,
    dir: tempfile::TempDir,
}

impl Cluster {
    async fn start() -> Cluster {
        let kube = KubeEmulator::start().await;
        let proxy = TcpProxy::start(&kube.address()).await;
        let dir = tempfile::tempdir().unwrap();
        Cluster { kube, proxy, dir }
    }

    /// A client whose kubeconfig names the proxy as the server, with `user` as the user entry.
    fn client_with_user(&self, user: &str) -> KubernetesClient {
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: e\n  cluster:\n    server: http://{}\nusers:\n- name: e\n  user: {user}\ncontexts:\n- name: e\n  context:\n    cluster: e\n    user: e\ncurrent-context: e\n",
            self.proxy.endpoint()
        );
        let path = self.dir.path().join("kubeconfig-proxy");
        std::fs::write(&path, text).unwrap();
        KubernetesClient::new().kubeconfig(path)
    }

    fn client(&self) -> KubernetesClient {
        self.client_with_user("{}")
    }

    fn put(&self, name: &str) -> String {
        self.kube
            .put_config_map(NS, NAME, [("app.name", name), ("app.extra", "on")])
    }
}

/// A reloader over `lower` (`app.name: lower`) and `provider` on top, with its events
/// subscribed from before the start. A short backoff keeps recoveries quick.
async fn reloader(
    provider: KubernetesProvider,
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

fn config_map(client: &KubernetesClient) -> KubernetesProvider {
    KubernetesProvider::new(client, KubernetesSource::config_map(NS, NAME))
}

async fn wait_name(reloader: &Reloader<Value>, name: &str) {
    wait_until(&reloader.store(), |c: &Value| c["app"]["name"] == name).await;
}

/// The Kubernetes layer's revision (the resourceVersion) of an `applied` event.
fn k8s_revision(event: &Event) -> Option<String> {
    match event {
        Event::Applied { revisions, .. } => revisions
            .iter()
            .find(|(source, _)| source.starts_with(SOURCE))
            .map(|(_, rv)| rv.clone()),
        _ => None,
    }
}

/// Waits for a source error of the Kubernetes layer; returns its message.
async fn source_error(events: &mut broadcast::Receiver<Event>) -> String {
    match wait_for_event(events, |e| matches!(e, Event::SourceError { .. })).await {
        Event::SourceError {
            source,
            error,
            transient,
        } => {
            assert!(source.starts_with(SOURCE), "{source}");
            assert!(transient, "{error}");
            error
        }
        _ => unreachable!(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_created_after_the_start_is_applied_over_the_lower_layer() {
    let cluster = Cluster::start().await;
    let (reloader, _events, _lower) = reloader(config_map(&cluster.client())).await;
    // Missing: an empty layer, the lower layer shows through.
    assert_eq!(reloader.store().load().config()["app"]["name"], "lower");
    cluster.put("created");
    wait_name(&reloader, "created").await;
    assert_eq!(reloader.store().load().config()["app"]["extra"], "on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_quick_edits_are_applied_in_order_ending_on_the_last() {
    const EDITS: usize = 200;
    let cluster = Cluster::start().await;
    cluster.put("edit-start");
    let (reloader, mut events, _lower) = reloader(config_map(&cluster.client())).await;
    let rvs: Vec<String> = (0..EDITS)
        .map(|i| cluster.put(&format!("edit-{i}")))
        .collect();
    let last = rvs.last().unwrap().clone();
    // Every applied revision is one of the edits', each later than the one before.
    let mut applied = Vec::new();
    let mut applies = 0;
    loop {
        let event = wait_for_event(&mut events, |e| k8s_revision(e).is_some()).await;
        applies += 1;
        let rv = k8s_revision(&event).unwrap();
        if let Some(index) = rvs.iter().position(|r| *r == rv) {
            applied.push(index);
        }
        if rv == last {
            break;
        }
    }
    assert!(
        applied.windows(2).all(|w| w[0] < w[1]),
        "out of order: {applied:?}"
    );
    assert!(applies <= EDITS, "{applies} applies for {EDITS} edits");
    assert_eq!(
        reloader.store().load().config()["app"]["name"],
        format!("edit-{}", EDITS - 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_falls_back_to_the_lower_layer_and_a_recreate_is_applied() {
    let cluster = Cluster::start().await;
    cluster.put("first");
    let (reloader, _events, _lower) = reloader(config_map(&cluster.client())).await;
    assert_eq!(reloader.store().load().config()["app"]["name"], "first");
    cluster.kube.delete_config_map(NS, NAME).unwrap();
    wait_until(&reloader.store(), |c: &Value| {
        c["app"]["name"] == "lower" && c["app"].get("extra").is_none()
    })
    .await;
    cluster.put("recreated");
    wait_name(&reloader, "recreated").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_410_after_a_stall_with_many_edits_lists_again_and_applies_the_last_state() {
    let cluster = Cluster::start().await;
    cluster.put("before");
    let (reloader, mut events, _lower) = reloader(config_map(&cluster.client())).await;
    cluster.kube.wait_for(|c| c.open_watches == 1).await;
    let lists = cluster.kube.counters().of(Verb::List, Resource::ConfigMaps);
    // The stall: the watch is cut and no new one gets through while the object moves on and
    // the history the provider would resume from is compacted away.
    cluster.proxy.cut();
    source_error(&mut events).await;
    for i in 0..50 {
        cluster.put(&format!("stalled-{i}"));
    }
    cluster.kube.compact();
    cluster.proxy.restore();
    wait_name(&reloader, "stalled-49").await;
    let counters = cluster.kube.counters();
    assert!(counters.expired >= 1, "no in-stream 410: {counters:?}");
    assert!(
        counters.of(Verb::List, Resource::ConfigMaps) > lists,
        "no re-list: {counters:?}"
    );
    let log = cluster.kube.request_log();
    let relisted = log
        .iter()
        .filter(|line| line.contains("/configmaps?") && !line.contains("watch="))
        .count();
    assert!(relisted >= 2, "{log:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_cut_mid_stream_resumes_and_applies_what_changed_meanwhile() {
    let cluster = Cluster::start().await;
    cluster.put("before");
    let (reloader, _events, _lower) = reloader(config_map(&cluster.client())).await;
    let watches = cluster
        .kube
        .counters()
        .of(Verb::Watch, Resource::ConfigMaps);
    cluster.kube.cut_watches();
    cluster.put("after-cut");
    cluster.put("after-cut-2");
    wait_name(&reloader, "after-cut-2").await;
    cluster
        .kube
        .wait_for(|c| c.of(Verb::Watch, Resource::ConfigMaps) > watches)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restarted_with_its_state_resumes_and_applies_the_changes() {
    let cluster = Cluster::start().await;
    cluster.put("before");
    let (reloader, _events, _lower) = reloader(config_map(&cluster.client())).await;
    cluster.kube.restart(true);
    cluster.put("after-restart");
    wait_name(&reloader, "after-restart").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restarted_without_its_state_lists_again_and_applies_the_new_object() {
    let cluster = Cluster::start().await;
    cluster.put("before");
    let (reloader, _events, _lower) = reloader(config_map(&cluster.client())).await;
    let lists = cluster.kube.counters().of(Verb::List, Resource::ConfigMaps);
    // The history is gone: the provider's resourceVersion gets 410 and it lists again.
    cluster.kube.restart(false);
    cluster.put("reborn");
    wait_name(&reloader, "reborn").await;
    cluster
        .kube
        .wait_for(|c| c.of(Verb::List, Resource::ConfigMaps) > lists)
        .await;
}

fn write_token(path: &Path, token: &str) {
    std::fs::write(path, token).unwrap();
}

/// The server's token changes: the follower's requests are refused with 401 (a source error
/// naming no token, the config kept) until `rotate` puts the new token where the kubeconfig
/// says; then, as the client builds itself again after a 401, a change is applied promptly.
async fn follows_a_token_rotation(
    cluster: &Cluster,
    client: &KubernetesClient,
    rotate: impl FnOnce(&str),
) {
    cluster.kube.set_token(Some("token-a"));
    cluster.put("with-a");
    let (reloader, mut events, _lower) = reloader(config_map(client)).await;
    assert_eq!(reloader.store().load().config()["app"]["name"], "with-a");

    cluster.kube.set_token(Some("token-b"));
    cluster.kube.cut_watches();
    let error = source_error(&mut events).await;
    assert!(error.contains("401"), "{error}");
    assert!(!error.contains("token-"), "a token in an error: {error}");
    assert_eq!(reloader.store().load().config()["app"]["name"], "with-a");

    rotate("token-b");
    cluster.put("with-b");
    wait_name(&reloader, "with-b").await;
}

/// A kubeconfig's inline `token:` is read by kube once, when its client is built: after a 401
/// the client is built again, so a kubeconfig rewritten with a new token is followed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inline_kubeconfig_token_rewritten_on_disk_is_picked_up_after_a_401() {
    let cluster = Cluster::start().await;
    let client = cluster.client_with_user("{token: token-a}");
    follows_a_token_rotation(&cluster, &client, |token| {
        cluster.client_with_user(&format!("{{token: {token}}}"));
    })
    .await;
}

/// A token file (`tokenFile`, as a pod's service account token is read): kube re-reads it when
/// its copy is about a minute old, and a 401 before then builds the client (and reads it) again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_file_rotated_on_disk_is_picked_up_and_later_changes_applied() {
    let cluster = Cluster::start().await;
    let token: PathBuf = cluster.dir.path().join("token");
    write_token(&token, "token-a");
    let client = cluster.client_with_user(&format!("\n    tokenFile: {}", token.display()));
    follows_a_token_rotation(&cluster, &client, |new| write_token(&token, new)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbidden_namespace_is_a_source_error_and_the_last_good_config_stays() {
    let cluster = Cluster::start().await;
    cluster.put("allowed");
    let (reloader, mut events, _lower) = reloader(config_map(&cluster.client())).await;
    // RBAC is checked when a request starts: the cut makes the provider ask again.
    cluster.kube.set_forbidden(NS, true);
    cluster.kube.cut_watches();
    let error = source_error(&mut events).await;
    assert!(error.contains("forbidden (403"), "{error}");
    assert!(error.contains("configmap"), "{error}");
    cluster.kube.wait_for(|c| c.forbidden >= 2).await;
    assert_eq!(reloader.store().load().config()["app"]["name"], "allowed");

    cluster.put("after-rbac-fix");
    cluster.kube.set_forbidden(NS, false);
    wait_name(&reloader, "after-rbac-fix").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secrets_values_appear_in_no_event_error_redaction_or_explanation() {
    const VALUE: &str = "s3cr3t-hunter2-value";
    const VALUE2: &str = "s3cr3t-rotated-value";
    let cluster = Cluster::start().await;
    cluster
        .kube
        .put_secret(NS, NAME, [("app.password", VALUE), ("app.user", VALUE)]);
    let provider = KubernetesProvider::new(&cluster.client(), KubernetesSource::secret(NS, NAME));
    let (reloader, mut events, _lower) = reloader(provider).await;
    // A second receiver keeps every event from the start, the first one is waited on.
    let mut all = events.resubscribe();
    let mut seen = String::new();

    // An edit, a rejected state (`app.password` both a value and a parent), an RBAC error.
    cluster
        .kube
        .put_secret(NS, NAME, [("app.password", VALUE2), ("app.user", VALUE)]);
    wait_until(&reloader.store(), |c: &Value| {
        c["app"]["password"] == VALUE2
    })
    .await;
    cluster.kube.put_secret(
        NS,
        NAME,
        [
            ("app.password", VALUE),
            ("app.password.x", VALUE2),
            ("app.user", VALUE2),
        ],
    );
    wait_for_event(&mut events, |e| matches!(e, Event::Rejected { .. })).await;
    cluster.kube.set_forbidden(NS, true);
    cluster.kube.cut_watches();
    wait_for_event(&mut events, |e| matches!(e, Event::SourceError { .. })).await;
    let mut kinds = Vec::new();
    while let Ok(event) = all.try_recv() {
        seen.push_str(&serde_json::to_string(&event).unwrap());
        seen.push_str(&format!("{event:?}"));
        kinds.push(serde_json::to_value(&event).unwrap()["event"].clone());
    }
    for kind in ["applied", "rejected", "source_error"] {
        assert!(kinds.contains(&json!(kind)), "{kind} in {kinds:?}");
    }

    let snapshot = reloader.store().get();
    assert_eq!(
        snapshot.config()["app"]["password"],
        VALUE2,
        "the last good"
    );
    seen.push_str(&snapshot.redacted().to_string());
    for key in ["app.password", "app.user", "app"] {
        let explained = snapshot.explain(key);
        assert!(explained.found, "{key}");
        seen.push_str(&serde_json::to_string(&explained).unwrap());
        seen.push_str(&format!("{explained:?}"));
        let explained = reloader.explain(key).await.unwrap();
        seen.push_str(&serde_json::to_string(&explained).unwrap());
        seen.push_str(&format!("{explained:?}"));
    }
    assert!(seen.contains("k8s://default/secret/app"), "{seen}");
    assert!(
        !seen.contains(VALUE) && !seen.contains(VALUE2),
        "leaked: {seen}"
    );
}

/// `?context=` picks a context of a kubeconfig that names two clusters: the provider follows
/// the object in the context's cluster, not in the current context's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_context_in_the_uri_picks_its_cluster_from_a_kubeconfig_with_two() {
    let cluster = Cluster::start().await;
    let staging = KubeEmulator::start().await;
    cluster.put("in-the-current-context");
    staging.put_config_map(NS, NAME, [("app.name", "in-staging")]);
    let text = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: prod\nclusters:\n- name: prod\n  cluster: {{server: 'http://{}'}}\n- name: staging\n  cluster: {{server: 'http://{}'}}\nusers:\n- name: u\n  user: {{}}\ncontexts:\n- name: prod\n  context: {{cluster: prod, user: u}}\n- name: staging\n  context: {{cluster: staging, user: u}}\n",
        cluster.proxy.endpoint(),
        staging.address()
    );
    let path = cluster.dir.path().join("two-clusters");
    std::fs::write(&path, text).unwrap();
    let provider = |query: &str| {
        let uri = format!(
            "k8s://{NS}/configmap/{NAME}?kubeconfig={}{query}",
            path.display()
        );
        KubernetesProvider::from_uri(&uri.parse().unwrap()).unwrap()
    };
    let (current, _, _lower) = reloader(provider("")).await;
    assert_eq!(
        current.store().load().config()["app"]["name"],
        "in-the-current-context"
    );
    let (picked, _, _lower) = reloader(provider("&context=staging")).await;
    assert_eq!(picked.store().load().config()["app"]["name"], "in-staging");
    // And it follows that cluster.
    staging.put_config_map(NS, NAME, [("app.name", "staging-edited")]);
    wait_name(&picked, "staging-edited").await;
    assert_eq!(
        current.store().load().config()["app"]["name"],
        "in-the-current-context"
    );
}
