//! `ReloaderHandle::check` on a running reloader: the verdicts, and that nothing is applied.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde::Deserialize;
use tokio::sync::broadcast::error::TryRecvError;

use crate::layer::Content;
use crate::{Error, ErrorKind, Format, MemoryProvider, Reloader, Verdict};

const PASSWORD: &str = "hunter2-proposed";

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct App {
    port: u16,
    db: Db,
    #[serde(default)]
    name: String,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Db {
    host: String,
    password: String,
}

fn yaml(text: &str) -> Content {
    Content::Document {
        format: Format::Yaml,
        bytes: text.as_bytes().into(),
    }
}

/// A reloader over `defaults` (YAML), `overrides` (YAML) and a secret layer `vault`, with a
/// validator refusing port 1 and an async validator that counts its runs.
async fn reloader(runs: Arc<AtomicUsize>) -> Reloader<App> {
    let (defaults, d) = MemoryProvider::new("memory:defaults");
    d.set_document(Format::Yaml, "port: 8080\ndb: {host: db.internal}\n");
    let (overrides, o) = MemoryProvider::new("memory:overrides");
    o.set_document(Format::Yaml, "name: app\n");
    let (vault, v) = MemoryProvider::new("memory:vault");
    v.set_document(Format::Json, r#"{"db": {"password": "hunter2-running"}}"#);
    Reloader::<App>::builder()
        .named_layer("defaults", defaults)
        .named_layer("overrides", overrides)
        .named_layer("vault", vault)
        .secret()
        .validate(|app| match app.port {
            1 => Err(Error::validation("port 1 is reserved").with_key("port")),
            _ => Ok(()),
        })
        .validate_async(move |_| {
            runs.fetch_add(1, Ordering::SeqCst);
            async { Ok(()) }
        })
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn check_accepts_a_proposal_and_lists_the_changed_paths() {
    let reloader = reloader(Arc::default()).await;
    let verdict = reloader
        .check("overrides", yaml("name: app\nport: 9090\nextra: {a: 1}\n"))
        .await
        .unwrap();
    assert!(verdict.is_accepted(), "{verdict:?}");
    let changes = verdict.changes().unwrap();
    assert_eq!(changes.changed, ["port"]);
    assert_eq!(changes.added, ["extra"]);
    assert!(changes.removed.is_empty());

    // By its printable name (the source's URI) too; the same content changes nothing.
    let same = reloader
        .check("memory:overrides", yaml("name: app\n"))
        .await
        .unwrap();
    assert!(same.changes().unwrap().is_empty(), "{same:?}");
    // A key removed from the layer is removed from the merge (no lower layer holds it).
    let removed = reloader.check("overrides", yaml("{}")).await.unwrap();
    assert_eq!(removed.changes().unwrap().removed, ["name"], "{removed:?}");
}

#[tokio::test]
async fn check_rejects_what_a_validator_refuses_naming_the_key_and_the_layer() {
    let reloader = reloader(Arc::default()).await;
    let verdict = reloader
        .check("overrides", yaml("port: 1\n"))
        .await
        .unwrap();
    let error = verdict.error().expect("rejected");
    assert_eq!(error.kind(), ErrorKind::Validation);
    assert_eq!(error.key(), Some("port"));
    assert_eq!(error.layer().map(|l| l.label()), Some("overrides"));
    assert!(error.to_string().contains("port 1 is reserved"), "{error}");
}

#[tokio::test]
async fn check_rejects_what_does_not_deserialize_without_quoting_the_value() {
    let reloader = reloader(Arc::default()).await;
    let verdict = reloader
        .check("overrides", yaml("port: not-a-port-s3cr3t\n"))
        .await
        .unwrap();
    let error = verdict.error().expect("rejected");
    assert_eq!(error.kind(), ErrorKind::Type);
    assert_eq!(error.key(), Some("port"));
    assert_eq!(error.layer().map(|l| l.label()), Some("overrides"));
    assert!(!error.to_string().contains("s3cr3t"), "{error}");
}

#[tokio::test]
async fn check_rejects_a_document_that_does_not_parse() {
    let reloader = reloader(Arc::default()).await;
    let verdict = reloader
        .check("overrides", yaml("port: [8080\n"))
        .await
        .unwrap();
    let error = verdict.error().expect("rejected");
    assert_eq!(error.kind(), ErrorKind::Parse);
    assert_eq!(error.layer().map(|l| l.label()), Some("overrides"));
    // A JSON document is parsed lazily: its failure is a rejection named the same way.
    let json = Content::Document {
        format: Format::Json,
        bytes: b"{\"port\": ".as_slice().into(),
    };
    let verdict = reloader.check("overrides", json).await.unwrap();
    let error = verdict.error().expect("rejected");
    assert_eq!(error.kind(), ErrorKind::Parse, "{error}");
    assert_eq!(error.layer().map(|l| l.label()), Some("overrides"));
}

#[tokio::test]
async fn check_of_an_unknown_layer_is_a_config_error_listing_the_layers() {
    let reloader = reloader(Arc::default()).await;
    let error = reloader.check("nope", yaml("{}")).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    let text = error.to_string();
    for name in ["`defaults`", "`overrides`", "`vault`", "memory:vault"] {
        assert!(text.contains(name), "{text}");
    }
}

#[tokio::test]
async fn check_applies_nothing_and_reports_nothing() {
    let runs = Arc::new(AtomicUsize::new(0));
    let reloader = reloader(runs.clone()).await;
    let mut events = reloader.events();
    let (status, stats) = (reloader.status(), *reloader.stats().borrow());
    let history = reloader.history().await.unwrap().len();
    let runs_before = runs.load(Ordering::SeqCst);

    for proposal in ["port: 9090\n", "port: 1\n", "port: [\n", "port: x\n"] {
        reloader.check("overrides", yaml(proposal)).await.unwrap();
    }

    // The async validator ran on the proposals that deserialized and passed the sync ones.
    assert_eq!(runs.load(Ordering::SeqCst), runs_before + 1);
    assert_eq!(reloader.store().version(), 1);
    assert_eq!(reloader.store().load().port, 8080);
    assert_eq!(reloader.status(), status);
    assert_eq!(*reloader.stats().borrow(), stats);
    assert_eq!(reloader.history().await.unwrap().len(), history);
    assert!(matches!(events.try_recv(), Err(TryRecvError::Empty)));
    // The engine's own sources are untouched: the next real change applies as version 2,
    // blamed on nothing the checks tried.
    let accepted = reloader
        .check("overrides", yaml("name: app\n"))
        .await
        .unwrap();
    assert!(accepted.changes().unwrap().is_empty(), "{accepted:?}");
}

#[tokio::test]
async fn check_of_a_secret_layer_never_quotes_its_values() {
    let reloader = reloader(Arc::default()).await;
    let proposals = [
        format!("{{\"db\": {{\"password\": \"{PASSWORD}\"}}}}"),
        format!("{{\"db\": {{\"password\": [\"{PASSWORD}\"]}}}}"),
        format!("{{\"db\": {{\"password\": \"{PASSWORD}\"}}, \"port\": \"{PASSWORD}\"}}"),
        format!("{{\"db\": {{\"password\": \"{PASSWORD}\""),
    ];
    for proposal in proposals {
        let content = Content::Document {
            format: Format::Json,
            bytes: proposal.as_bytes().into(),
        };
        let verdict = reloader.check("vault", content).await.unwrap();
        let shown = match &verdict {
            Verdict::Accepted { changes, .. } => format!("{changes:?}"),
            Verdict::Rejected { error } => format!("{error} {error:?}"),
        };
        assert!(!shown.contains(PASSWORD), "{shown}");
    }
    let verdict = reloader
        .check("vault", yaml(&format!("db: {{password: {PASSWORD}}}\n")))
        .await
        .unwrap();
    assert_eq!(verdict.changes().unwrap().changed, ["db.password"]);
}

#[tokio::test]
async fn check_keeps_restart_required_keys_and_says_so() {
    let (source, handle) = MemoryProvider::new("memory:app");
    handle.set_document(Format::Yaml, "port: 8080\ndb: {host: h, password: p}\n");
    let reloader = Reloader::<App>::builder()
        .named_layer("app", source)
        .restart_required("port")
        .start()
        .await
        .unwrap();
    let verdict = reloader
        .check("app", yaml("port: 9090\ndb: {host: h2, password: p}\n"))
        .await
        .unwrap();
    let Verdict::Accepted {
        changes,
        restart_required,
    } = verdict
    else {
        panic!("rejected: {verdict:?}");
    };
    assert_eq!(changes.changed, ["db.host"]);
    assert_eq!(restart_required, ["port"]);
}
