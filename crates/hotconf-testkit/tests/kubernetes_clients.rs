//! The Kubernetes API emulator's fidelity, proven with real clients: Debian's `kubectl`
//! (package kubernetes-client) and Python's `kubernetes` client (package python3-kubernetes)
//! drive it as they drive a cluster. Both are required: scripts/test.sh installs them, and
//! these tests fail (never skip) when they are missing.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use hotconf_testkit::kubernetes::{KubeEmulator, Resource, Verb};
use hotconf_testkit::TIMEOUT;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// An isolated kubectl: its own kubeconfig, HOME and discovery cache, so nothing leaks between
/// tests or from the user's own `~/.kube`.
struct Kubectl {
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

impl Kubectl {
    fn new(kube: &KubeEmulator) -> Kubectl {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = kube.kubeconfig(dir.path());
        Kubectl { dir, kubeconfig }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("kubectl");
        command
            .args(args)
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.dir.path())
            .env_remove("KUBERNETES_SERVICE_HOST")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// Runs kubectl to the end; its stdout, or a panic with its stderr.
    async fn run(&self, args: &[&str]) -> String {
        let child = self
            .command(args)
            .spawn()
            .unwrap_or_else(|e| missing("kubectl", &e));
        let output = tokio::time::timeout(TIMEOUT, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("kubectl {args:?} did not finish within {TIMEOUT:?}"))
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "kubectl {args:?} failed: {}\nstdout: {stdout}\nstderr: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

fn missing(tool: &str, error: &std::io::Error) -> ! {
    panic!(
        "{tool} could not be run ({error}): scripts/test.sh installs it (Debian packages \
         kubernetes-client and python3-kubernetes); install them, then run the tests again"
    )
}

/// The next line of a child's stdout, failing after [`TIMEOUT`].
async fn next_line(lines: &mut Lines<BufReader<ChildStdout>>, what: &str) -> String {
    tokio::time::timeout(TIMEOUT, lines.next_line())
        .await
        .unwrap_or_else(|_| panic!("no line from {what} within {TIMEOUT:?}"))
        .unwrap()
        .unwrap_or_else(|| panic!("{what} closed its output early"))
}

fn stdout_lines(child: &mut Child) -> Lines<BufReader<ChildStdout>> {
    BufReader::new(child.stdout.take().unwrap()).lines()
}

const MANIFEST: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: default\ndata:\n  a: \"1\"\n  b: \"2\"\n";
const EDITED: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: default\ndata:\n  a: \"10\"\n  c: \"3\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_apply_creates_then_patches_with_validation() {
    let kube = KubeEmulator::start().await;
    let kubectl = Kubectl::new(&kube);
    let manifest = kubectl.write("cm.yaml", MANIFEST);
    let out = kubectl
        .run(&["apply", "-f", manifest.to_str().unwrap()])
        .await;
    assert_eq!(out.trim(), "configmap/app created");
    let created = kube.config_map("default", "app").unwrap();
    assert_eq!(created["data"], serde_json::json!({"a": "1", "b": "2"}));
    let annotations = &created["metadata"]["annotations"];
    assert!(
        annotations["kubectl.kubernetes.io/last-applied-configuration"].is_string(),
        "{created}"
    );

    let edited = kubectl.write("cm.yaml", EDITED);
    let out = kubectl
        .run(&["apply", "-f", edited.to_str().unwrap()])
        .await;
    assert_eq!(out.trim(), "configmap/app configured");
    let patched = kube.config_map("default", "app").unwrap();
    assert_eq!(patched["data"], serde_json::json!({"a": "10", "c": "3"}));
    assert_eq!(kube.counters().of(Verb::Patch, Resource::ConfigMaps), 1);

    let out = kubectl
        .run(&["apply", "-f", edited.to_str().unwrap()])
        .await;
    assert_eq!(out.trim(), "configmap/app unchanged");
    assert_eq!(kube.counters().of(Verb::Patch, Resource::ConfigMaps), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_get_json_shows_the_stored_object() {
    let kube = KubeEmulator::start().await;
    let rv = kube.put_config_map("default", "app", [("app.yaml", "port: 8080")]);
    let kubectl = Kubectl::new(&kube);
    let out = kubectl.run(&["get", "cm", "app", "-o", "json"]).await;
    let object: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(object["kind"], "ConfigMap");
    assert_eq!(object["data"]["app.yaml"], "port: 8080");
    assert_eq!(object["metadata"]["resourceVersion"], rv.as_str());

    let out = kubectl.run(&["get", "secrets", "-o", "json"]).await;
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list["items"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_get_watch_prints_every_change_after_the_first_state() {
    let kube = KubeEmulator::start().await;
    kube.put_config_map("default", "app", [("a", "1")]);
    let kubectl = Kubectl::new(&kube);
    let template = "jsonpath={.metadata.resourceVersion} {.data.a}{\"\\n\"}";
    let mut child = kubectl
        .command(&["get", "cm", "app", "-w", "-o", template])
        .spawn()
        .unwrap_or_else(|e| missing("kubectl", &e));
    let mut lines = stdout_lines(&mut child);
    let first = next_line(&mut lines, "kubectl get -w").await;
    assert_eq!(
        first,
        format!(
            "{} 1",
            kube.config_map("default", "app").unwrap()["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
        )
    );
    // kubectl drops the watch's first event, which must be the synthetic ADDED (§7.9).
    kube.wait_for(|c| c.open_watches == 1).await;
    let rv = kube.put_config_map("default", "app", [("a", "2")]);
    assert_eq!(
        next_line(&mut lines, "kubectl get -w").await,
        format!("{rv} 2")
    );
    let rv = kube.put_config_map("default", "app", [("a", "3")]);
    assert_eq!(
        next_line(&mut lines, "kubectl get -w").await,
        format!("{rv} 3")
    );
    child.kill().await.unwrap();
    let watch = kube
        .request_log()
        .into_iter()
        .find(|l| l.contains("watch="))
        .unwrap();
    assert!(watch.contains("resourceVersion=0"), "{watch}");
    assert!(
        watch.contains("fieldSelector=metadata.name%3Dapp"),
        "{watch}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_delete_removes_the_object_and_waits_for_it() {
    let kube = KubeEmulator::start().await;
    kube.put_config_map("default", "app", [("a", "1")]);
    let kubectl = Kubectl::new(&kube);
    let out = kubectl.run(&["delete", "cm", "app"]).await;
    assert_eq!(out.trim(), "configmap \"app\" deleted");
    assert!(kube.config_map("default", "app").is_none());
    assert_eq!(kube.counters().of(Verb::Delete, Resource::ConfigMaps), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_create_token_review_finds_it_by_discovery_and_prints_the_answer() {
    let kube = KubeEmulator::start().await;
    let token = kube.issue_service_account_token("default", "app");
    let kubectl = Kubectl::new(&kube);
    let review = kubectl.write(
        "review.json",
        &serde_json::json!({
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": token},
        })
        .to_string(),
    );
    // Client-side validation of a kind without PATCH falls back to /openapi/v2 (protobuf),
    // which the emulator does not serve.
    let file = review.to_str().unwrap();
    let out = kubectl
        .run(&["create", "--validate=false", "-f", file, "-o", "json"])
        .await;
    let answer: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(answer["kind"], "TokenReview", "{answer}");
    assert_eq!(answer["status"]["authenticated"], true, "{answer}");
    assert_eq!(
        answer["status"]["user"]["username"],
        "system:serviceaccount:default:app"
    );
    assert_eq!(kube.counters().token_reviews, 1);
}

/// The interpreter Debian's python3-kubernetes installs into (a pyenv or venv `python3`
/// earlier on PATH does not see it), as scripts/prerequisites.sh checks it.
fn python() -> &'static str {
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

const WATCH_SCRIPT: &str = r#"
import sys
from kubernetes import client, config, watch
config.load_kube_config(config_file=sys.argv[1])
v1 = client.CoreV1Api()
print("START", flush=True)
for event in watch.Watch().stream(v1.list_namespaced_config_map, "default",
                                  field_selector="metadata.name=app",
                                  timeout_seconds=int(sys.argv[2])):
    o = event["object"]
    print(event["type"], o.metadata.name, o.metadata.resource_version,
          (o.data or {}).get("a"), flush=True)
print("END", flush=True)
"#;

fn python_watch(kubeconfig: &Path, timeout_seconds: u32) -> Child {
    Command::new(python())
        .args(["-c", WATCH_SCRIPT])
        .arg(kubeconfig)
        .arg(timeout_seconds.to_string())
        .env_remove("KUBERNETES_SERVICE_HOST")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| missing("python3", &e))
}

async fn started(lines: &mut Lines<BufReader<ChildStdout>>) {
    let first = tokio::time::timeout(TIMEOUT, lines.next_line())
        .await
        .unwrap_or_else(|_| panic!("python's watch printed nothing within {TIMEOUT:?}"))
        .unwrap();
    assert_eq!(
        first.as_deref(),
        Some("START"),
        "python's kubernetes client did not load (its error is above): scripts/test.sh installs \
         python3-kubernetes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_watch_sees_added_modified_deleted() {
    let kube = KubeEmulator::start().await;
    let dir = tempfile::tempdir().unwrap();
    kube.set_token(Some("s3cret"));
    let kubeconfig = kube.kubeconfig(dir.path());
    let rv = kube.put_config_map("default", "app", [("a", "1")]);
    kube.put_config_map("default", "other", [("a", "x")]);
    let mut child = python_watch(&kubeconfig, 600);
    let mut lines = stdout_lines(&mut child);
    started(&mut lines).await;
    assert_eq!(
        next_line(&mut lines, "python").await,
        format!("ADDED app {rv} 1")
    );
    let rv = kube.put_config_map("default", "app", [("a", "2")]);
    kube.put_config_map("default", "other", [("a", "y")]);
    assert_eq!(
        next_line(&mut lines, "python").await,
        format!("MODIFIED app {rv} 2")
    );
    let rv = kube.delete_config_map("default", "app").unwrap();
    assert_eq!(
        next_line(&mut lines, "python").await,
        format!("DELETED app {rv} 2")
    );
    child.kill().await.unwrap();
    assert_eq!(kube.counters().unauthorized, 0);
    let watch = kube
        .request_log()
        .into_iter()
        .find(|l| l.contains("watch="))
        .unwrap();
    assert!(watch.contains("timeoutSeconds=600"), "{watch}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_watch_ends_cleanly_at_timeout_seconds() {
    let kube = KubeEmulator::start().await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = kube.kubeconfig(dir.path());
    let mut child = python_watch(&kubeconfig, 1);
    let mut lines = stdout_lines(&mut child);
    started(&mut lines).await;
    assert_eq!(next_line(&mut lines, "python").await, "END");
    let status = tokio::time::timeout(TIMEOUT, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
}
