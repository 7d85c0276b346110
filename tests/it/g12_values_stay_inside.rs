//! G12: config values the redaction policy covers never leave the process (events, errors,
//! logs, status, explain, the redacted config), and no rejection message quotes a value.

use std::io::Write;
use std::sync::{Arc, Mutex};

use hotconf::{Event, Format, MemoryProvider, Redaction, Reloader, Secret};
use serde::Deserialize;
use serde_json::json;

use super::wait_for_event;

const SECRETS: &[&str] = &[
    "hunter2-g12",
    "tok-g12-value",
    "dsn-g12-value",
    "s3cr3t-in-wrong-type",
    "leak-g12-port",
];

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct App {
    db: Db,
    api_token: Secret,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Db {
    port: u16,
    password: Secret,
    dsn: String,
}

/// Every log line of the test, as the application's subscriber would write them.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_covered_or_rejected_value_reaches_any_output() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (source, handle) = MemoryProvider::new("memory:app");
    handle.set_document(
        Format::Json,
        json!({"db": {"port": 5432, "password": "hunter2-g12", "dsn": "dsn-g12-value"}, "api_token": "tok-g12-value"}).to_string(),
    );
    let builder = Reloader::<App>::builder()
        .layer(source)
        .redaction(Redaction::default().key("db.dsn"));
    let mut events = builder.events();
    let reloader = builder.start().await.unwrap();
    let mut outputs = Vec::new();

    // A secret of the wrong type, a plain value of the wrong type, a document that does not parse.
    for document in [
        json!({"db": {"port": 1, "password": {"nested": "s3cr3t-in-wrong-type"}, "dsn": "dsn-g12-value"}, "api_token": "tok-g12-value"}).to_string(),
        json!({"db": {"port": "leak-g12-port", "password": "hunter2-g12", "dsn": "dsn-g12-value"}, "api_token": "tok-g12-value"}).to_string(),
        r#"{"db": {"password": "hunter2-g12" "#.to_owned(),
    ] {
        handle.set_document(Format::Json, document);
        let rejected = wait_for_event(&mut events, |e| matches!(e, Event::Rejected { .. })).await;
        outputs.push(serde_json::to_string(&rejected).unwrap());
        outputs.push(format!("{rejected:?}"));
    }
    let status = reloader.status();
    assert_eq!(status.consecutive_rejections, 3);
    outputs.push(serde_json::to_string(&status).unwrap());
    outputs.push(format!("{status:?}"));

    let snapshot = reloader.store().get();
    for key in ["db", "db.password", "db.dsn", "api_token", "db.port"] {
        outputs.push(serde_json::to_string(&reloader.explain(key).await.unwrap()).unwrap());
    }
    outputs.push(snapshot.redacted().to_string());
    // The application's own Debug of its config: `Secret` fields print `***`.
    outputs.push(format!(
        "{:?} {:?}",
        snapshot.db.password, snapshot.api_token
    ));
    let applied = Event::applied(&snapshot);
    outputs.push(serde_json::to_string(&applied).unwrap());
    outputs.push(String::from_utf8(logs.0.lock().unwrap().clone()).unwrap());

    let all = outputs.join("\n");
    assert!(
        all.contains("rejected a config"),
        "the logs were captured: {all}"
    );
    assert!(
        all.contains("reload"),
        "the reload spans were captured: {all}"
    );
    assert!(all.contains("expected u16, found a string"), "{all}");
    assert!(all.contains("***"), "{all}");
    for secret in SECRETS {
        assert!(!all.contains(secret), "`{secret}` leaked:\n{all}");
    }
    // The values are there, inside the process.
    assert_eq!(snapshot.db.password.expose(), "hunter2-g12");
    assert_eq!(snapshot.lookup("db.dsn"), Some(&json!("dsn-g12-value")));
}
