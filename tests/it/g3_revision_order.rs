//! G3: per source, an older revision is never applied after a newer one.

use hotconf::provider::{Content, Layer};
use hotconf::{Format, MemoryProvider, Reloader, Revision};
use serde::Deserialize;

use crate::wait_until;
use hotconf_testkit::ScriptedProvider;

#[derive(Debug, Deserialize)]
struct Named {
    name: String,
    #[serde(default)]
    marker: String,
}

fn doc(name: &str, revision: u64) -> Layer {
    let bytes = format!("{{\"name\": \"{name}\"}}").into_bytes();
    Layer::new(
        Content::Document {
            format: Format::Json,
            bytes: bytes.into(),
        },
        Revision::Ordered(revision),
    )
}

#[tokio::test]
async fn g3_a_stale_revision_is_never_applied() {
    let (scripted, script) = ScriptedProvider::new("scripted:upper");
    let (lower, marker) = MemoryProvider::new("memory:marker");
    marker.set_document(Format::Json, r#"{"marker": "m0"}"#);
    script.send(Ok(doc("r10", 10)));
    let reloader = Reloader::<Named>::builder()
        .layer(lower)
        .layer(scripted)
        .start()
        .await
        .unwrap();
    let store = reloader.store();
    assert_eq!(store.load().name, "r10");

    // A late, older state (a replayed event, a lagging replica) reaches the reloader...
    script.send(Ok(doc("r7", 7)));
    script.wait_taken(2).await;
    // ...and a later change in another layer makes the reloader rebuild after taking it.
    marker.set_document(Format::Json, r#"{"marker": "m1"}"#);
    wait_until(&store, |c| c.marker == "m1").await;
    assert_eq!(
        store.load().name,
        "r10",
        "the stale revision 7 was applied after 10"
    );

    script.send(Ok(doc("r11", 11)));
    wait_until(&store, |c| c.name == "r11").await;
    let revisions = store.load().revisions().to_vec();
    assert!(
        revisions
            .iter()
            .any(|(layer, r)| layer.name() == "scripted:upper" && *r == Revision::Ordered(11)),
        "{revisions:?}"
    );
    let history = reloader.history().await.unwrap();
    assert!(history.iter().all(|s| s.name != "r7"));
}
