//! G10: credentials never appear in Debug output, events or errors.

use hotconf::provider::SourceUri;
use hotconf::{ErrorKind, Event, MemoryProvider, Reloader};

use crate::{wait_for_event, Cfg};

#[tokio::test]
async fn g10_credentials_in_a_source_uri_never_reach_events_or_errors() {
    let uri: SourceUri =
        "etcd://admin:hunter2@127.0.0.1:2379,[::1]:2379/app/?token=t0ps3cret&mode=prefix"
            .parse()
            .unwrap();
    assert_eq!(
        uri.password.as_ref().map(|p| p.expose().as_str()),
        Some("hunter2")
    );
    let (provider, handle) = MemoryProvider::new(uri.to_string());
    handle.fail(ErrorKind::PermissionDenied, "authentication failed", true);
    let builder = Reloader::<Cfg>::builder()
        .layer(provider)
        .startup(hotconf::Startup::Wait(std::time::Duration::from_millis(
            300,
        )));
    let mut events = builder.events();
    let err = builder.start().await.unwrap_err();
    let event = wait_for_event(&mut events, |e| matches!(e, Event::SourceError { .. })).await;
    let shown = [
        uri.to_string(),
        format!("{uri:?}"),
        format!("{:?}", uri.password),
        format!("{:?}", uri.secret_params),
        err.to_string(),
        format!("{err:?}"),
        format!("{event:?}"),
        serde_json::to_string(&event).unwrap(),
    ];
    for text in shown {
        assert!(
            !text.contains("hunter2") && !text.contains("t0ps3cret"),
            "a credential leaked: {text}"
        );
    }
    assert!(
        format!("{event:?}").contains("admin:***@127.0.0.1:2379"),
        "{event:?}"
    );
}
