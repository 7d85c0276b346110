//! G10 against the backend's real outputs: a provider with an ACL token runs through a wrong
//! token, a server that is down and a redirect, with every log line of the process (hotconf's,
//! reqwest's, hyper's, at TRACE) captured; the token must appear in no log line, no error's
//! Display or Debug (nor their causes), and no event.

use std::time::Duration;

use hotconf_consul::{ConsulClient, ConsulProvider, ConsulSource};
use hotconf_core::{Error, Event, Provider, Reloader, Startup};
use hotconf_testkit::consul::{Acl, AclRule, ConsulEmulator};
use hotconf_testkit::hostile::{HostileServer, Mode};
use hotconf_testkit::{wait_for_event, TcpProxy};

const TOKEN: &str = "consul-t0ken-s3cret";

/// Display, alternate Display, Debug and every cause of `error`.
fn everything(error: &Error) -> String {
    let mut text = format!("{error} {error:#} {error:?} {error:#?}");
    let mut cause = std::error::Error::source(error);
    while let Some(c) = cause {
        text.push_str(&format!(" {c} {c:?}"));
        cause = c.source();
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_never_reaches_logs_errors_or_events() {
    let logs = hotconf_testkit::logs::captured();
    let consul = ConsulEmulator::start().await;
    consul.put("app/marker", "one");
    let rules = vec![AclRule {
        prefix: "app/".into(),
        write: false,
    }];
    consul.set_acl(Some(Acl {
        tokens: [(TOKEN.to_owned(), rules)].into_iter().collect(),
        anonymous: Vec::new(),
    }));
    let proxy = TcpProxy::start(&consul.address()).await;
    let kv = ConsulClient::new([proxy.endpoint()]).token(TOKEN);
    let source = ConsulSource::prefix("app/").wait(Duration::from_millis(300));
    let mut seen = String::new();

    // Good token: a first state; then the server goes away and comes back.
    let builder = Reloader::<crate::common::Keys>::builder()
        .layer(ConsulProvider::new(&kv, source.clone()))
        .startup(Startup::Wait(Duration::from_secs(30)));
    let mut events = builder.events();
    let reloader = builder.start().await.unwrap();
    assert_eq!(reloader.store().load().marker, "one");
    proxy.cut();
    let down = wait_for_event(&mut events, |e| matches!(e, Event::SourceError { .. })).await;
    seen.push_str(&format!("{down:?} {down:#?}"));
    proxy.restore();

    // The token stops working (revoked): 403s.
    consul.set_acl(Some(Acl {
        tokens: Default::default(),
        anonymous: Vec::new(),
    }));
    let denied = wait_for_event(
        &mut events,
        |e| matches!(e, Event::SourceError { error, .. } if error.contains("403")),
    )
    .await;
    seen.push_str(&format!("{denied:?} {denied:#?}"));

    // Errors straight from the provider and the client: wrong token, server down, redirect.
    let wrong = ConsulProvider::new(&kv, source.clone());
    seen.push_str(&everything(&wrong.load().await.unwrap_err()));
    seen.push_str(&format!("{kv:?} {source:?} {wrong:?} {:?}", wrong.client()));
    seen.push_str(&everything(&kv.get("app/marker", None).await.unwrap_err()));
    let down = ConsulClient::new([format!("127.0.0.1:{}", hotconf_testkit::ports::free_port())])
        .token(TOKEN);
    seen.push_str(&everything(
        &ConsulProvider::new(&down, ConsulSource::prefix("app/"))
            .load()
            .await
            .unwrap_err(),
    ));
    let other = HostileServer::start(None, Mode::answer("[]")).await;
    let front = HostileServer::start(
        None,
        Mode::Redirect {
            status: 307,
            to: other.url(),
        },
    )
    .await;
    let redirected = ConsulClient::new([front.endpoint()]).token(TOKEN);
    seen.push_str(&everything(
        &ConsulProvider::new(&redirected, ConsulSource::prefix("app/"))
            .load()
            .await
            .unwrap_err(),
    ));
    // A proxy whose error pages echo the request (its headers, the token among them).
    for status in [403, 500, 400] {
        let echo = HostileServer::start(None, Mode::Echo(status)).await;
        let echoed = ConsulClient::new([echo.endpoint()]).token(TOKEN);
        let err = ConsulProvider::new(&echoed, ConsulSource::prefix("app/"))
            .load()
            .await
            .unwrap_err();
        assert!(err.to_string().contains(&status.to_string()), "{err}");
        assert!(
            echo.requests().iter().any(|r| r.contains(TOKEN)),
            "the echo holds it"
        );
        seen.push_str(&everything(&err));
    }
    drop(reloader);

    assert!(seen.contains("consul://"), "errors were captured: {seen}");
    assert!(!seen.contains(TOKEN), "the token leaked: {seen}");
    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(logged.contains("consul"), "logs were captured: {logged}");
    assert!(!logged.contains(TOKEN), "the token was logged: {logged}");
    assert!(other.requests().iter().all(|r| !r.contains(TOKEN)));
}
