//! `hotconf render` over `k8s://` (issue 26): a ConfigMap and a Secret followed from the test
//! kit's API-server emulator, rendered into one file; an edit of either renders again, and the
//! Secret's values reach the file but never an event.

use hotconf_testkit::kubernetes::KubeEmulator;

use crate::harness::{write, Sidecar};

#[test]
fn render_follows_a_config_map_and_a_secret_from_the_api_server() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let api = runtime.block_on(KubeEmulator::start());
    api.put_config_map(
        "prod",
        "app",
        [("db.host", "db-1.internal"), ("db.port", "5432")],
    );
    api.put_secret("prod", "db", [("db.password", "hunter2-first")]);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = api.kubeconfig(dir.path());
    let uri = |kind: &str, name: &str| {
        format!(
            "k8s://prod/{kind}/{name}?kubeconfig={}",
            kubeconfig.display()
        )
    };
    write(
        dir.path(),
        "dsn.tpl",
        "postgres://app:{{ config.db.password }}@{{ config.db.host }}:{{ config.db.port }}\n",
    );
    let sidecar = Sidecar::start(
        "render",
        &[
            &uri("configmap", "app"),
            &uri("secret", "db"),
            "--template",
            "dsn.tpl:dsn",
        ],
        dir.path(),
    );
    let dsn = || std::fs::read_to_string(dir.path().join("dsn")).unwrap();
    // Every event, `applied` ones too, to check that none quotes the Secret.
    let mut events = Vec::new();
    let mut rendered = || {
        let (event, before) = sidecar.until("rendered");
        events.extend(before);
        events.push(event);
    };
    rendered();
    assert_eq!(dsn(), "postgres://app:hunter2-first@db-1.internal:5432\n");

    api.put_config_map(
        "prod",
        "app",
        [("db.host", "db-2.internal"), ("db.port", "5432")],
    );
    rendered();
    assert_eq!(dsn(), "postgres://app:hunter2-first@db-2.internal:5432\n");

    // The password rotates: rendered at once, no restart.
    api.put_secret("prod", "db", [("db.password", "hunter2-second")]);
    rendered();
    assert_eq!(dsn(), "postgres://app:hunter2-second@db-2.internal:5432\n");

    events.extend(sidecar.pending());
    assert!(events.iter().any(|e| e["event"] == "applied"), "{events:?}");
    for event in &events {
        assert!(!event.to_string().contains("hunter2"), "{event}");
    }
    sidecar.signal("TERM");
    assert_eq!(sidecar.exit_code(), 0);
}
