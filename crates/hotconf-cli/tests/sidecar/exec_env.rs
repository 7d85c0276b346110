//! `hotconf exec --env-prefix`: the config never sets the variables that choose the binary,
//! the libraries or the startup code of the program, whatever the prefix.

use serde_json::json;

use crate::harness::{Config, Sidecar};

#[test]
fn the_config_never_sets_path_or_another_denied_name() {
    let config = Config::start();
    let dir = tempfile::tempdir().unwrap();
    let uri = config.uri();
    // With the prefix `P`, the key `ath` is PATH, `s4` is PS4, `ythonpath` is PYTHONPATH.
    config.put(
        &json!({"ath": "/evil/bin", "s4": "$(/evil/run)", "ythonpath": "/evil/py", "ok": "yes"}),
    );
    let sidecar = Sidecar::start(
        "exec",
        &[
            &uri,
            "--env-prefix",
            "P",
            "--",
            "/bin/sh",
            "-c",
            r#"echo "PATH=$PATH POK=$POK PYTHONPATH=${PYTHONPATH-unset}"; echo "PS4=$PS4""#,
        ],
        dir.path(),
    );
    let (denied, _) = sidecar.until("env_denied");
    assert_eq!(
        denied,
        json!({"event": "env_denied", "version": 1, "names": ["PATH", "PS4", "PYTHONPATH"]})
    );
    let own = |name: &str| std::env::var(name).unwrap_or_else(|_| "unset".into());
    assert_eq!(
        sidecar.line(),
        format!(
            "PATH={} POK=yes PYTHONPATH={}",
            own("PATH"),
            own("PYTHONPATH")
        )
    );
    // The shell gives PS4 a default of its own when none is set.
    let ps4 = sidecar.line();
    assert!(!ps4.contains("evil"), "{ps4}");
    assert_eq!(sidecar.exit_code(), 0);
}
