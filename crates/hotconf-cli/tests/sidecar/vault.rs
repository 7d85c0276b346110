//! `hotconf exec` with a Vault layer (issue 27): a real OpenBao dev server holds the database
//! password; a rotation restarts the child with the new password in its environment, and no
//! event quotes it.

use hotconf_testkit::openbao::OpenBao;
use serde_json::{json, Value};

use crate::harness::Sidecar;

#[test]
fn exec_restarts_its_child_with_a_rotated_password_in_the_environment() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let bao = runtime.block_on(OpenBao::start());
    runtime.block_on(bao.put(
        "app/db",
        json!({"user": "app", "password": "hunter2-first"}),
    ));
    let dir = tempfile::tempdir().unwrap();
    let uri = format!(
        "vault://{}/secret/app/db?at=db&interval=100ms&token={}",
        bao.address(),
        bao.root_token()
    );
    let child = r#"exec 2>/dev/null; trap 'exit 0' TERM; echo "start $APP_DB__USER $APP_DB__PASSWORD"; while :; do sleep 1 & wait $!; done"#;
    let sidecar = Sidecar::start(
        "exec",
        &[&uri, "--env-prefix", "APP_", "--", "sh", "-c", child],
        dir.path(),
    );
    let mut events: Vec<Value> = Vec::new();
    let mut command = || {
        let (event, before) = sidecar.until("command");
        events.extend(before);
        events.push(event.clone());
        event
    };
    assert_eq!(command()["action"], "start");
    assert_eq!(sidecar.line(), "start app hunter2-first");

    runtime.block_on(bao.put(
        "app/db",
        json!({"user": "app", "password": "hunter2-second"}),
    ));
    assert_eq!(command()["action"], "restart");
    assert_eq!(command()["action"], "start");
    assert_eq!(sidecar.line(), "start app hunter2-second");

    events.extend(sidecar.pending());
    assert!(events.iter().any(|e| e["event"] == "applied"), "{events:?}");
    for event in &events {
        let text = event.to_string();
        assert!(
            !text.contains("hunter2") && !text.contains(bao.root_token()),
            "{text}"
        );
    }
    sidecar.signal("TERM");
    assert_eq!(sidecar.exit_code(), 0);
}
