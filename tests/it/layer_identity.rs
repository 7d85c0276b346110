//! Two layers on one source name are told apart: in events, in errors, in a snapshot's
//! revisions, and when a rejection is blamed (by the layer's position, never its name).

use hotconf::{Event, Format, Health, MemoryProvider, Reloader};
use serde_json::json;

use super::{drain, set_json, wait_for_event, Cfg};

#[tokio::test]
async fn two_layers_on_one_uri_are_told_apart_and_the_right_one_is_blamed() {
    let (lower_p, lower) = MemoryProvider::new("memory:same");
    let (upper_p, upper) = MemoryProvider::new("memory:same");
    lower.set_document(
        Format::Toml,
        "name = \"base\"\n[db]\nhost = \"localhost\"\nport = 5432\n",
    );
    set_json(&upper, json!({"name": "v1"}));
    let builder = Reloader::<Cfg>::builder().layer(lower_p).layer(upper_p);
    let mut events = builder.events();
    let reloader = builder.start().await.unwrap();

    let snapshot = reloader.store().load();
    let names: Vec<&str> = snapshot.revisions().iter().map(|(l, _)| l.name()).collect();
    assert_eq!(
        names,
        [
            "memory:same (layer memory-0)",
            "memory:same (layer memory-1)"
        ]
    );
    let applied = drain(&mut events);
    let Some(Event::Applied { revisions, .. }) = applied.first() else {
        panic!("no applied event: {applied:?}")
    };
    assert_eq!(revisions.len(), 2, "one entry per layer: {revisions:?}");
    let json = serde_json::to_value(&applied[0]).unwrap();
    assert_eq!(json["revisions"].as_object().unwrap().len(), 2, "{json}");

    // The upper layer gives `db.port` a string: the error's key is found in the upper layer,
    // and the upper layer (not the first one with that name) is the one failing.
    set_json(&upper, json!({"name": "v2", "db": {"port": "high"}}));
    let rejected = wait_for_event(&mut events, |e| matches!(e, Event::Rejected { .. })).await;
    let Event::Rejected { source, .. } = &rejected else {
        unreachable!()
    };
    assert_eq!(
        source.as_deref(),
        Some("memory:same (layer memory-1)"),
        "{rejected:?}"
    );
    let status = reloader.status();
    assert_eq!(status.sources[1].health, Health::Erroring, "{status:?}");
    assert_eq!(status.sources[0].health, Health::Up, "{status:?}");
    assert_eq!(reloader.store().load().name, "v1");
}
