//! The single-JSON-document fast path (typed config straight from the bytes) accepts exactly
//! what the general path accepts: a field the type ignores is still checked, so an applied
//! snapshot's merged tree, the last-good file, rollback and revert never see an empty `{}`.

use hotconf::{Event, Format, MemoryProvider, Reloader};
use serde::Deserialize;

use crate::{next_rejection, wait_for_event};

#[derive(Debug, Deserialize)]
struct App {
    port: u16,
}

fn deep(depth: usize) -> String {
    format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
}

/// Documents the typed parse accepts (it skips `x`) and the tree parser refuses.
fn hostile() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "a number out of range",
            br#"{"port":8080,"x":1e400}"#.to_vec(),
        ),
        (
            "invalid UTF-8",
            b"{\"port\":8080,\"x\":\"\xff\xfe\"}".to_vec(),
        ),
        (
            "a lone surrogate",
            br#"{"port":8080,"x":"\ud800"}"#.to_vec(),
        ),
        (
            "nesting past the limit",
            format!(r#"{{"port":8080,"x":{}}}"#, deep(200)).into_bytes(),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_ignored_field_is_rejected_like_on_the_general_path() {
    for (what, document) in hostile() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("last-good.json");
        let (provider, handle) = MemoryProvider::new("memory:app");
        handle.set_document(Format::Json, br#"{"port":1}"#.to_vec());
        let builder = Reloader::<App>::builder()
            .layer(provider)
            .last_good_file(&file);
        let mut events = builder.events();
        let reloader = builder.start().await.unwrap();
        handle.set_document(Format::Json, document);
        let (source, _, error) = next_rejection(&mut events).await;
        assert_eq!(source.as_deref(), Some("memory:app"), "{what}: {error}");
        let config = reloader.store().get();
        assert_eq!((config.port, config.version()), (1, 1), "{what}");
        assert_eq!(config.merged()["port"], 1, "{what}");
        // A later good document still applies, and what the last-good file holds is it.
        handle.set_document(Format::Json, br#"{"port":8080,"x":[1]}"#.to_vec());
        wait_for_event(&mut events, |e| {
            matches!(e, Event::Applied { version: 2, .. })
        })
        .await;
        assert_eq!(reloader.store().get().merged()["port"], 8080, "{what}");
        let rolled = reloader.rollback(1).await.unwrap();
        assert_eq!(rolled.port, 1, "{what}");
    }
}
