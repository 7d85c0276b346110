//! The access key's secret never shows: not in Debug, names, errors, events or the server's
//! request log.

use std::time::Duration;

use hotconf_apollo::{ApolloClient, ApolloProvider, ApolloSource};
use hotconf_core::{ErrorKind, Provider, Secret};
use hotconf_testkit::apollo::ApolloEmulator;
use hotconf_testkit::wait_until;

use crate::common::{follow, unique};

const RIGHT: &str = "r1ght-s3cr3t-value";
const WRONG: &str = "wr0ng-s3cr3t-value";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_is_refused_clearly_and_the_right_one_works() {
    let apollo = ApolloEmulator::start().await;
    let app = unique("secret");
    apollo.publish(&app, "default", "application", [("marker", "one")]);
    apollo.set_secret(&app, Some(RIGHT));
    let mut printed = Vec::new();

    let unsigned = ApolloClient::new([apollo.address()]).app_id(app.clone());
    let err = ApolloProvider::new(&unsigned, "application")
        .load()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    printed.push(format!("{err} {err:?}"));

    let wrong = ApolloClient::new([apollo.address()])
        .app_id(app.clone())
        .secret(Secret::new(WRONG));
    let provider = ApolloProvider::new(&wrong, ApolloSource::namespace("application"));
    let err = provider.load().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert!(err.to_string().contains("access key"), "{err}");
    assert_eq!(err.source_name(), Some(provider.name()));
    printed.push(format!(
        "{err} {err:?} {wrong:?} {provider:?} {}",
        provider.name()
    ));

    // A reloader that waits reports the refusal as source errors, with no secret in them.
    let builder = hotconf_core::Reloader::<crate::common::Keys>::builder()
        .layer(provider.clone())
        .startup(hotconf_core::Startup::Wait(Duration::from_millis(1500)));
    let mut events = builder.events();
    let Err(failed) = builder.start().await else {
        panic!("a config with a wrong secret")
    };
    printed.push(format!("{failed} {failed:?}"));
    while let Ok(event) = events.try_recv() {
        printed.push(format!("{event:?}"));
    }

    let right = ApolloClient::new([apollo.address()])
        .app_id(app.clone())
        .secret(Secret::new(RIGHT));
    printed.push(format!("{right:?}"));
    let (reloader, mut events) = follow(vec![ApolloProvider::new(&right, "application")]).await;
    let store = reloader.store();
    assert_eq!(store.load().marker, "one");
    apollo.publish(&app, "default", "application", [("marker", "two")]);
    wait_until(&store, |c| c.marker == "two").await;
    while let Ok(event) = events.try_recv() {
        printed.push(format!("{event:?}"));
    }
    printed.extend(apollo.request_log());
    let all = printed.join("\n");
    assert!(!all.contains(RIGHT) && !all.contains(WRONG), "{all}");
    assert!(apollo.counters().unauthorized >= 2);
}

#[tokio::test]
async fn uris_never_print_the_secret() {
    let uri: hotconf_core::provider::SourceUri =
        format!("apollo://127.0.0.1:1/app/application?secret={RIGHT}&cluster=sh")
            .parse()
            .unwrap();
    let provider = ApolloProvider::from_uri(&uri).unwrap();
    assert_eq!(
        provider.name(),
        "apollo://127.0.0.1:1/app/application?cluster=sh"
    );
    let err = provider.load().await.unwrap_err();
    let text = format!("{uri} {uri:?} {provider:?} {err} {err:?}");
    assert!(!text.contains(RIGHT), "{text}");
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
}
