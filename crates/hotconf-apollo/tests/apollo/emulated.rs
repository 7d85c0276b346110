//! Apollo's own scenarios against the emulator.

use std::time::Duration;

use hotconf_apollo::{ApolloClient, ApolloProvider, ApolloSource};
use hotconf_core::Provider;
use hotconf_testkit::apollo::{ApolloEmulator, GrayRule, Ids};
use hotconf_testkit::{ports, wait_until};

use crate::common::{follow, unique};

async fn emulator() -> ApolloEmulator {
    let apollo = ApolloEmulator::start().await;
    apollo.set_hold(Duration::from_secs(5));
    apollo
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_created_after_start_is_seen() {
    let apollo = emulator().await;
    let app = unique("created");
    let client = ApolloClient::new([apollo.address()]).app_id(app.clone());
    let (reloader, _events) = follow(vec![ApolloProvider::new(&client, "application")]).await;
    let store = reloader.store();
    assert_eq!(
        store.load().marker,
        "",
        "a missing namespace is an empty layer"
    );
    apollo.publish(&app, "default", "application", [("marker", "created")]);
    wait_until(&store, |c| c.marker == "created").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_namespace_is_an_empty_layer_and_lower_layers_show_through() {
    let apollo = emulator().await;
    let app = unique("deleted");
    apollo.publish(
        &app,
        "default",
        "shared",
        [("marker", "lower"), ("k.a", "1")],
    );
    apollo.publish(&app, "default", "application", [("marker", "upper")]);
    let client = ApolloClient::new([apollo.address()]).app_id(app.clone());
    let (reloader, _events) = follow(vec![
        ApolloProvider::new(&client, "shared"),
        ApolloProvider::new(&client, "application"),
    ])
    .await;
    let store = reloader.store();
    assert_eq!(store.load().marker, "upper");
    assert_eq!(store.load().k["a"], "1");
    apollo.delete(&app, "default", "application");
    wait_until(&store, |c| c.marker == "lower").await;
    apollo.publish(&app, "default", "application", [("marker", "back")]);
    wait_until(&store, |c| c.marker == "back").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_of_one_client_share_one_long_poll() {
    let apollo = emulator().await;
    let app = unique("shared-poll");
    apollo.publish(&app, "default", "shared", [("marker", "lower")]);
    apollo.publish_content(&app, "default", "app.yaml", "k:\n  a: yaml\n");
    let client = ApolloClient::new([apollo.address()]).app_id(app.clone());
    let (reloader, _events) = follow(vec![
        ApolloProvider::new(&client, "shared"),
        ApolloProvider::new(&client, ApolloSource::namespace("app.yaml")),
    ])
    .await;
    let store = reloader.store();
    assert_eq!(store.load().k["a"], "yaml");
    // Settled: one poll held, carrying both namespaces.
    apollo.wait_for(|c| c.held == 1).await;
    let settled = apollo.polls().len();
    for round in 0..3 {
        apollo.publish(
            &app,
            "default",
            "shared",
            [("marker", format!("shared-{round}"))],
        );
        wait_until(&store, |c| c.marker == format!("shared-{round}")).await;
        apollo.publish_content(
            &app,
            "default",
            "app.yaml",
            &format!("k:\n  a: yaml-{round}\n"),
        );
        wait_until(&store, |c| c.k["a"] == format!("yaml-{round}")).await;
        apollo.wait_for(|c| c.held == 1).await;
    }
    let polls = apollo.polls();
    let after = &polls[settled - 1..];
    for poll in after {
        let names: Vec<&str> = poll.notifications.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["app.yaml", "shared"], "{polls:?}");
    }
    // One poll per notification (6 releases), plus the one in flight; no poll per namespace.
    assert!(
        after.len() <= 8,
        "{} polls for 6 releases: {polls:?}",
        after.len()
    );
    assert_eq!(apollo.counters().held, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gray_release_reaches_only_matching_clients_and_its_rollback_too() {
    let apollo = emulator().await;
    let app = unique("gray");
    apollo.publish(&app, "default", "application", [("marker", "main")]);
    let by_ip = ApolloClient::new([apollo.address()])
        .app_id(app.clone())
        .ip("10.0.0.7");
    let by_label = ApolloClient::new([apollo.address()])
        .app_id(app.clone())
        .label("canary");
    let other = ApolloClient::new([apollo.address()])
        .app_id(app.clone())
        .ip("10.0.0.8")
        .label("stable");
    let (r_ip, _e1) = follow(vec![ApolloProvider::new(&by_ip, "application")]).await;
    let (r_label, _e2) = follow(vec![ApolloProvider::new(&by_label, "application")]).await;
    let (r_other, _e3) = follow(vec![ApolloProvider::new(&other, "application")]).await;
    let rule = GrayRule {
        ips: vec!["10.0.0.7".into()],
        labels: vec!["canary".into()],
    };
    apollo.publish_gray(&app, "default", "application", rule, [("marker", "gray")]);
    wait_until(&r_ip.store(), |c| c.marker == "gray").await;
    wait_until(&r_label.store(), |c| c.marker == "gray").await;
    // The other client was notified too and read the main release again (a 304).
    apollo.wait_for(|c| c.held == 3).await;
    assert_eq!(r_other.store().load().marker, "main");
    assert_eq!(r_other.store().version(), 1);
    apollo.rollback_gray(&app, "default", "application");
    wait_until(&r_ip.store(), |c| c.marker == "main").await;
    wait_until(&r_label.store(), |c| c.marker == "main").await;
    assert_eq!(r_other.store().load().marker, "main");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meta_server_listing_a_dead_config_service_first_fails_over() {
    let apollo = emulator().await;
    let app = unique("meta");
    apollo.publish(&app, "default", "application", [("marker", "one")]);
    let dead = format!("127.0.0.1:{}", ports::free_port());
    apollo.set_config_services(Some(vec![dead.clone(), apollo.address()]));
    // The meta server list: a dead meta server first, then the emulator (also a meta server).
    let client = ApolloClient::new([dead.clone(), apollo.address()])
        .app_id(app.clone())
        .meta(true);
    assert_eq!(
        client.config_services().await.unwrap(),
        [format!("http://{dead}"), apollo.url()]
    );
    let (reloader, _events) = follow(vec![ApolloProvider::new(&client, "application")]).await;
    let store = reloader.store();
    assert_eq!(store.load().marker, "one");
    apollo.publish(&app, "default", "application", [("marker", "two")]);
    wait_until(&store, |c| c.marker == "two").await;
    assert!(apollo.counters().listings >= 1);

    // Direct config services: the dead one listed first.
    let direct = ApolloClient::new([dead, apollo.address()]).app_id(app.clone());
    let layer = ApolloProvider::new(&direct, "application")
        .load()
        .await
        .unwrap();
    assert!(matches!(
        layer.content,
        hotconf_core::provider::Content::Keys { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_notification_is_recovered_by_the_periodic_check() {
    let apollo = emulator().await;
    let app = unique("lost");
    apollo.publish(&app, "default", "application", [("marker", "one")]);
    let client = ApolloClient::new([apollo.address()])
        .app_id(app.clone())
        .check_interval(Duration::from_millis(500));
    let (reloader, _events) = follow(vec![ApolloProvider::new(&client, "application")]).await;
    let store = reloader.store();
    apollo.wait_for(|c| c.held == 1).await;
    let polls = apollo.counters().polls;
    apollo.publish_silently(&app, "default", "application", [("marker", "silent")]);
    wait_until(&store, |c| c.marker == "silent").await;
    assert_eq!(
        apollo.counters().polls,
        polls,
        "no poll answered: the check read it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_with_reset_notification_ids_converges() {
    let apollo = emulator().await;
    let app = unique("reset");
    for i in 0..5 {
        apollo.publish(
            &app,
            "default",
            "application",
            [("marker", format!("v{i}"))],
        );
    }
    apollo.publish(&app, "default", "other", [("x", "1")]);
    let client = ApolloClient::new([apollo.address()]).app_id(app.clone());
    let (reloader, _events) = follow(vec![ApolloProvider::new(&client, "application")]).await;
    let store = reloader.store();
    assert_eq!(store.load().marker, "v4");
    apollo.wait_for(|c| c.held == 1).await;
    let before = apollo.notification_id(&app, "default", "application");
    apollo.restart(Ids::Reset);
    assert!(apollo.notification_id(&app, "default", "application") < before);
    apollo.publish(&app, "default", "application", [("marker", "after-reset")]);
    wait_until(&store, |c| c.marker == "after-reset").await;
    // And the one after that (the client now holds the renumbered ids).
    apollo.wait_for(|c| c.held == 1).await;
    apollo.publish(&app, "default", "application", [("marker", "later")]);
    wait_until(&store, |c| c.marker == "later").await;
    // A restart keeping the ids: the poll is re-sent, nothing is lost.
    apollo.wait_for(|c| c.held == 1).await;
    apollo.restart(Ids::Same);
    apollo.publish(&app, "default", "application", [("marker", "same")]);
    wait_until(&store, |c| c.marker == "same").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_down_keeps_the_last_good_state_then_converges() {
    let apollo = emulator().await;
    let app = unique("down");
    apollo.publish(&app, "default", "application", [("marker", "one")]);
    let client = ApolloClient::new([apollo.address()]).app_id(app.clone());
    let (reloader, mut events) = follow(vec![ApolloProvider::new(&client, "application")]).await;
    let store = reloader.store();
    apollo.set_down(true);
    hotconf_testkit::wait_for_event(&mut events, |e| {
        matches!(e, hotconf_core::Event::SourceError { .. })
    })
    .await;
    assert_eq!(store.load().marker, "one");
    apollo.publish(&app, "default", "application", [("marker", "two")]);
    apollo.set_down(false);
    wait_until(&store, |c| c.marker == "two").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn providers_from_uris_with_the_same_settings_share_one_long_poll() {
    let apollo = emulator().await;
    let app = unique("uri-poll");
    apollo.publish(&app, "default", "shared", [("marker", "lower")]);
    apollo.publish(&app, "default", "application", [("k.a", "upper")]);
    let uri = |namespace: &str| -> hotconf_core::provider::SourceUri {
        format!("apollo://{}/{app}/{namespace}?label=x", apollo.address())
            .parse()
            .unwrap()
    };
    let (reloader, _events) = follow(vec![
        ApolloProvider::from_uri(&uri("shared")).unwrap(),
        ApolloProvider::from_uri(&uri("application")).unwrap(),
    ])
    .await;
    let store = reloader.store();
    assert_eq!(
        (store.load().marker.as_str(), store.load().k["a"].as_str()),
        ("lower", "upper")
    );
    apollo.publish(&app, "default", "shared", [("marker", "changed")]);
    wait_until(&store, |c| c.marker == "changed").await;
    apollo.wait_for(|c| c.held == 1).await;
    let last = apollo.polls().pop().unwrap();
    let names: Vec<&str> = last.notifications.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["application", "shared"]);
    // Another label is another client (another poll).
    let other = ApolloProvider::from_uri(
        &format!("apollo://{}/{app}/shared?label=y", apollo.address())
            .parse()
            .unwrap(),
    )
    .unwrap();
    let (_other, _events) = follow(vec![other]).await;
    apollo.wait_for(|c| c.held == 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_reads_default_until_it_has_its_own_release() {
    let apollo = emulator().await;
    let app = unique("cluster");
    apollo.publish(&app, "default", "application", [("marker", "default")]);
    let client = ApolloClient::new([apollo.address()])
        .app_id(app.clone())
        .cluster("sh");
    let (reloader, _events) = follow(vec![ApolloProvider::new(&client, "application")]).await;
    let store = reloader.store();
    assert_eq!(store.load().marker, "default");
    apollo.publish(&app, "sh", "application", [("marker", "sh")]);
    wait_until(&store, |c| c.marker == "sh").await;
    // A release of `default` is notified to `sh` too, but `sh`'s own release still wins.
    let reads = apollo.counters().reads;
    apollo.publish(&app, "default", "application", [("marker", "default-2")]);
    apollo.wait_for(|c| c.reads > reads).await;
    apollo.wait_for(|c| c.held == 1).await;
    assert_eq!(store.load().marker, "sh");
    apollo.delete(&app, "sh", "application");
    wait_until(&store, |c| c.marker == "default-2").await;
}
