//! What the sidecar says and writes keeps config values in: schema and template rejections
//! never quote one (G12), and outputs are private unless `--mode` says otherwise.

use std::os::unix::fs::PermissionsExt;

use serde_json::{json, Value};

use crate::harness::{write, Config, Sidecar};

/// The words of `text`: its runs of letters and digits.
fn words(text: &str) -> Vec<&str> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect()
}

/// Fails if `event` holds any of `values` as a word, however escaped or quoted (its source's
/// name, `consul://127.0.0.1:…`, aside).
fn assert_quotes_none(event: &Value, values: &[&str]) {
    let source = event["source"].as_str().unwrap_or_default();
    let text = event.to_string().replace(source, "");
    for value in values {
        assert!(!words(&text).contains(value), "{value:?} in {text}");
    }
}

#[test]
fn schema_rejections_name_key_and_keyword_but_never_a_value() {
    let config = Config::start();
    let good = json!({"args": ["--verbose"], "port": 10, "mode": "b", "level": 3, "token": "x1",
        "name": "ok", "db": {"host": "h"}});
    config.put(&good);
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "app.tpl", "port={{ config.port }}\n");
    write(
        dir.path(),
        "schema.json",
        r#"{"properties": {
            "args": {"prefixItems": [{"const": "--verbose"}], "unevaluatedItems": false},
            "port": {"minimum": 10},
            "mode": {"enum": ["b", "c"]},
            "level": {"const": 3},
            "token": {"pattern": "^x"},
            "name": {"maxLength": 2},
            "db": {"additionalProperties": false, "properties": {"host": {}}}}}"#,
    );
    let uri = config.uri();
    let sidecar = Sidecar::start(
        "render",
        &[
            &uri,
            "--template",
            "app.tpl:app.conf",
            "--schema",
            "schema.json",
        ],
        dir.path(),
    );
    sidecar.after_change("rendered");
    // `field` set to `value`: rejected at key `field` by `keyword`, saying `said` (from the
    // schema) intact, and not showing `hidden` (from the value).
    let reject = |field: &str, value: Value, keyword: &str, said: &str, hidden: &[&str]| {
        let mut bad = good.clone();
        bad[field] = value;
        config.put(&bad);
        let (rejected, before) = sidecar.until("rejected");
        assert!(before.is_empty(), "{before:?}");
        assert_quotes_none(&rejected, hidden);
        let error = rejected["error"].as_str().unwrap();
        assert_eq!(rejected["key"], field, "{rejected}");
        assert!(error.contains(&format!("at key `{field}`")), "{rejected}");
        assert!(error.contains(&format!("`{keyword}`")), "{rejected}");
        assert!(error.contains(said), "{rejected}");
    };
    let password = json!(["--verbose", "--db-password=hunter2"]);
    reject("args", password, "unevaluatedItems", "1 item", &["hunter2"]);
    reject(
        "args",
        json!(["--verbose", 42]),
        "unevaluatedItems",
        "1 item",
        &["42"],
    );
    reject("port", json!(0), "minimum", "the minimum of 10", &["0"]);
    reject("port", json!(7), "minimum", "the minimum of 10", &["7"]);
    reject("mode", json!("q"), "enum", r#""b" or "c""#, &["q"]);
    reject("level", json!(9), "const", "3 was expected", &["9"]);
    reject("token", json!("hunter2"), "pattern", "\"^x\"", &["hunter2"]);
    reject("name", json!("abc"), "maxLength", "2 characters", &["abc"]);
    let unknown = json!({"host": "h", "pasword": "hunter2"});
    let said = "'pasword' was unexpected";
    reject("db", unknown, "additionalProperties", said, &["hunter2"]);
    sidecar.signal("TERM");
    assert_eq!(sidecar.exit_code(), 0);
}

#[test]
fn template_rejections_never_quote_a_value_even_escaped_or_short() {
    let config = Config::start();
    config.put(&json!({"x": 1}));
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "app.tpl",
        "x={{ config.x }}\n{% if config.inc is defined %}{% include config.inc %}{% endif %}\n",
    );
    let uri = config.uri();
    let sidecar = Sidecar::start(
        "render",
        &[&uri, "--template", "app.tpl:app.conf"],
        dir.path(),
    );
    sidecar.after_change("rendered");
    for (inc, hidden) in [
        (json!("hunter\\2-secret"), &["hunter", "secret"][..]),
        (json!("hunter\t2\n'secret'"), &["hunter", "secret"]),
        (json!("ab"), &["ab"]),
    ] {
        config.put(&json!({"x": 1, "inc": inc}));
        let (rejected, before) = sidecar.until("rejected");
        assert!(before.is_empty(), "{before:?}");
        assert_quotes_none(&rejected, hidden);
        let error = rejected["error"].as_str().unwrap();
        assert!(
            error.contains("template app.tpl line 2: template not found"),
            "{rejected}"
        );
    }
    sidecar.signal("TERM");
    assert_eq!(sidecar.exit_code(), 0);
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn outputs_are_private_by_default_and_a_wide_mode_on_a_secret_is_warned_once() {
    let config = Config::start();
    config.put(&json!({"db": {"host": "h1", "password": "hunter2"}}));
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "pw.tpl", "pw={{ config.db.password }}\n");
    write(dir.path(), "host.tpl", "host={{ config.db.host }}\n");
    // An output already there with the right bytes, world-readable: its mode is corrected.
    write(dir.path(), "host.conf", "host=h1\n");
    std::fs::set_permissions(
        dir.path().join("host.conf"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let uri = config.uri();
    let outputs = [
        "--template",
        "pw.tpl:pw.conf",
        "--template",
        "host.tpl:host.conf",
        "--out",
        "all.json",
    ];
    let once = std::process::Command::new(env!("CARGO_BIN_EXE_hotconf"))
        .args(["render", &uri, "--once"])
        .args(outputs)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(once.status.code(), Some(0), "{once:?}");
    for file in ["pw.conf", "host.conf", "all.json"] {
        assert_eq!(mode(&dir.path().join(file)), 0o600, "{file}");
    }
    let stderr = String::from_utf8_lossy(&once.stderr);
    assert!(!stderr.contains("output_mode_warning"), "{stderr}");

    // A mode that lets others read: one warning per output that shows a secret, naming the
    // output and the mode, never the value; once.
    let args: Vec<&str> = [&uri[..], "--mode", "0640"]
        .into_iter()
        .chain(outputs)
        .collect();
    let sidecar = Sidecar::start("render", &args, dir.path());
    sidecar.after_change("rendered");
    let mut warned = Vec::new();
    for _ in 0..2 {
        let warning = sidecar.next();
        assert_eq!(warning["event"], "output_mode_warning", "{warning}");
        assert_eq!(warning["mode"], "0640", "{warning}");
        assert_quotes_none(&warning, &["hunter2"]);
        warned.push(warning["output"].as_str().unwrap().to_owned());
    }
    assert_eq!(warned, ["pw.conf", "all.json"]);
    for file in ["pw.conf", "host.conf", "all.json"] {
        assert_eq!(mode(&dir.path().join(file)), 0o640, "{file}");
    }
    config.put(&json!({"db": {"host": "h2", "password": "hunter3"}}));
    let (rendered, _) = sidecar.until("rendered");
    assert_eq!(rendered["version"], 2);
    config.put(&json!({"db": {"host": "h3", "password": "hunter3"}}));
    let (applied, before) = sidecar.until("applied");
    assert_eq!(applied["version"], 3);
    assert!(before.is_empty(), "warned once per output: {before:?}");
    sidecar.signal("TERM");
    assert_eq!(sidecar.exit_code(), 0);
}
