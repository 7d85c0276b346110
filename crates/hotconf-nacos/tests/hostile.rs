//! The Nacos provider against a hostile server (issue 11): redirects to another origin at login
//! and on reads, bodies that never end or announce a huge length, a gRPC port that never
//! answers, and G10 (the password in no log line, error or event) through all of them.

use std::time::Duration;

use futures_util::StreamExt;
use hotconf_core::{Error, Event, Limits, Provider, Reloader, Startup};
use hotconf_nacos::{Listener, NacosClient, NacosProvider, NacosSource};
use hotconf_testkit::hostile::{HostileServer, Mode, LOCATION_MARKER};
use hotconf_testkit::nacos::RNacos;
use hotconf_testkit::{wait_for_event, wait_until, TIMEOUT};
use serde::Deserialize;

const PASSWORD: &str = "nacos-pa55-s3cret";
const WRONG: &str = "wrong-pa55-s3cret";

/// Display, Debug and every cause of `error`.
fn everything(error: &Error) -> String {
    let mut text = format!("{error} {error:#} {error:?} {error:#?}");
    let mut cause = std::error::Error::source(error);
    while let Some(c) = cause {
        text.push_str(&format!(" {c} {c:?}"));
        cause = c.source();
    }
    text
}

fn assert_no_secret(text: &str) {
    assert!(!text.contains(PASSWORD), "the password leaked: {text}");
    assert!(!text.contains(WRONG), "the (wrong) password leaked: {text}");
}

#[derive(Debug, Deserialize)]
struct App {
    #[serde(default)]
    name: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_redirect_is_not_followed_and_the_form_never_reaches_the_other_origin() {
    let logs = hotconf_testkit::logs::captured();
    let other = HostileServer::start(None, Mode::answer(r#"{"accessToken":"stolen"}"#)).await;
    for status in [301, 302, 307, 308] {
        let front = HostileServer::start(
            None,
            Mode::Redirect {
                status,
                to: other.url(),
            },
        )
        .await;
        let client = NacosClient::new([front.endpoint()]).user("app", PASSWORD);
        let provider = NacosProvider::new(&client, NacosSource::new("app.yaml"));
        let err = provider.load().await.unwrap_err();
        let text = everything(&err);
        assert!(
            text.contains(&status.to_string()),
            "names the status: {text}"
        );
        assert!(text.contains("redirect"), "says it is a redirect: {text}");
        assert!(text.contains(provider.name()), "names the source: {text}");
        assert!(!text.contains(LOCATION_MARKER), "no Location query: {text}");
        assert!(err.is_transient(), "{text}");
        assert_no_secret(&text);
        let login = front.requests();
        assert!(
            login.len() == 1 && login[0].contains("/v1/auth/login"),
            "{login:?}"
        );
    }
    assert!(
        other.requests().is_empty(),
        "the other origin was reached: {:?}",
        other.requests()
    );
    assert_no_secret(&String::from_utf8_lossy(&logs.lock().unwrap()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_redirect_after_login_never_sends_the_access_token_elsewhere() {
    let logs = hotconf_testkit::logs::captured();
    let nacos = RNacos::with_auth("admin", PASSWORD);
    nacos.publish("app.yaml", "name: secured\n");
    let front = HostileServer::start(Some(&nacos.server()), Mode::Forward).await;
    let other = HostileServer::start(None, Mode::answer("name: stolen\n")).await;
    let client = NacosClient::new([front.endpoint()]).user("admin", PASSWORD);
    let source = NacosSource::new("app.yaml").check_interval(Duration::from_secs(120));
    let builder = Reloader::<App>::builder()
        .layer(NacosProvider::new(&client, source))
        .startup(Startup::Wait(Duration::from_secs(30)));
    let mut events = builder.events();
    let reloader = builder.start().await.unwrap();
    let store = reloader.store();
    assert_eq!(store.load().name, "secured");

    // The long poll is cut; the next poll and read meet the redirect (with the access token
    // in their headers).
    front.set(Mode::Redirect {
        status: 307,
        to: other.url(),
    });
    let event = wait_for_event(
        &mut events,
        |e| matches!(e, Event::SourceError { error, .. } if error.contains("redirect")),
    )
    .await;
    let text = format!("{event:?}");
    assert!(text.contains("307"), "{text}");
    assert!(!text.contains(LOCATION_MARKER), "{text}");
    assert_no_secret(&text);
    assert!(front
        .requests()
        .iter()
        .any(|r| r.to_ascii_lowercase().contains("accesstoken")));
    assert_eq!(
        store.load().name,
        "secured",
        "the last good state keeps serving"
    );
    assert!(
        other.requests().is_empty(),
        "the other origin was reached: {:?}",
        other.requests()
    );

    // Back to normal: the source recovers.
    front.set(Mode::Forward);
    nacos.publish("app.yaml", "name: secured-2\n");
    wait_until(&store, |c| c.name == "secured-2").await;
    drop(reloader);
    assert_no_secret(&String::from_utf8_lossy(&logs.lock().unwrap()));
}

/// Peak resident memory of this process (Linux), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_body_is_refused_while_read_and_the_last_good_state_keeps_serving() {
    let nacos = RNacos::start();
    nacos.publish("app.yaml", "name: good\n");
    let front = HostileServer::start(Some(&nacos.server()), Mode::Forward).await;
    let limits = Limits {
        max_bytes: 1 << 20,
        ..Limits::default()
    };
    let client = NacosClient::new([front.endpoint()]).limits(limits);
    let source = NacosSource::new("app.yaml").check_interval(Duration::from_secs(120));
    let builder = Reloader::<App>::builder()
        .layer(NacosProvider::new(&client, source.clone()))
        .startup(Startup::Wait(Duration::from_secs(30)));
    let mut events = builder.events();
    let reloader = builder.start().await.unwrap();
    let store = reloader.store();
    assert_eq!(store.load().name, "good");

    let cap = 256 << 20;
    front.set(Mode::Endless {
        declared: None,
        cap,
    });
    let event = wait_for_event(
        &mut events,
        |e| matches!(e, Event::SourceError { error, .. } if error.contains("limit")),
    )
    .await;
    assert!(format!("{event:?}").contains("nacos://"), "{event:?}");
    let streamed = front.wait_streamed(|s| s.hung_up + s.capped >= 1).await;
    assert_eq!(
        streamed.capped, 0,
        "the whole endless body was read: {streamed:?}"
    );
    assert_eq!(
        store.load().name,
        "good",
        "the last good state keeps serving"
    );
    assert!(peak_rss() < 200 << 20, "peak RSS {} bytes", peak_rss());

    // A declared length above the limit: refused before the body is read.
    front.set(Mode::Endless {
        declared: Some(1 << 40),
        cap,
    });
    let err = NacosProvider::new(&client, source)
        .load()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("limit"), "{err}");
    assert!(err.to_string().contains("nacos://"), "{err}");

    front.set(Mode::Forward);
    nacos.publish("app.yaml", "name: again\n");
    wait_until(&store, |c| c.name == "again").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_never_reaches_logs_errors_or_events() {
    let logs = hotconf_testkit::logs::captured();
    let mut nacos = RNacos::with_auth("admin", PASSWORD);
    nacos.publish("app.yaml", "name: secured\n");
    let mut seen = String::new();

    // Wrong credentials.
    let wrong = NacosClient::new([nacos.server()]).user("admin", WRONG);
    let provider = NacosProvider::new(&wrong, NacosSource::new("app.yaml"));
    seen.push_str(&format!("{provider:?} {wrong:?}"));
    seen.push_str(&everything(&provider.load().await.unwrap_err()));
    let started = Reloader::<App>::builder().layer(provider).start().await;
    let Err(refused) = started else {
        panic!("wrong credentials must fail")
    };
    seen.push_str(&everything(&refused));

    // Good credentials, then the server goes down.
    let good = NacosProvider::new(
        &NacosClient::new([nacos.server()]).user("admin", PASSWORD),
        NacosSource::new("app.yaml").check_interval(Duration::from_secs(120)),
    );
    let builder = Reloader::<App>::builder()
        .layer(good.clone())
        .startup(Startup::Wait(Duration::from_secs(30)));
    let mut events = builder.events();
    let reloader = builder.start().await.unwrap();
    nacos.stop();
    let down = wait_for_event(&mut events, |e| matches!(e, Event::SourceError { .. })).await;
    seen.push_str(&format!("{down:?} {down:#?}"));
    seen.push_str(&everything(&good.load().await.unwrap_err()));
    drop(reloader);

    // A redirect at login.
    let other = HostileServer::start(None, Mode::answer("{}")).await;
    let front = HostileServer::start(
        None,
        Mode::Redirect {
            status: 307,
            to: other.url(),
        },
    )
    .await;
    let redirected = NacosClient::new([front.endpoint()]).user("admin", PASSWORD);
    seen.push_str(&everything(
        &NacosProvider::new(&redirected, NacosSource::new("app.yaml"))
            .load()
            .await
            .unwrap_err(),
    ));

    assert!(seen.contains("nacos"), "errors were captured: {seen}");
    assert_no_secret(&seen);
    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(!logged.is_empty(), "logs were captured");
    assert_no_secret(&logged);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grpc_port_that_never_answers_does_not_stall_the_sdk_listener() {
    // The HTTP API answers (a fixed document); the gRPC port accepts and never answers.
    let http = HostileServer::start(None, Mode::answer("name: from-http\n")).await;
    let grpc = HostileServer::start(None, Mode::Silent).await;
    let port: u16 = grpc.endpoint().rsplit(':').next().unwrap().parse().unwrap();
    let client = NacosClient::new([http.endpoint()]).grpc_port(port);
    let source = NacosSource::new("app.yaml")
        .listener(Listener::Sdk)
        .check_interval(Duration::from_millis(200));
    let before = sdk_dirs();
    let provider = NacosProvider::new(&client, source);
    let mut stream = provider.watch().await.unwrap();
    let first = tokio::time::timeout(TIMEOUT, stream.next())
        .await
        .expect("a first state although nacos-sdk cannot connect")
        .expect("the stream goes on");
    assert!(first.is_ok(), "{first:?}");

    // The directory nacos-sdk was given: inside a fresh private one (mode 0700), not a shared
    // predictable path; emptied when the watch ends.
    let new: Vec<_> = sdk_dirs()
        .into_iter()
        .filter(|d| !before.contains(d))
        .collect();
    assert_eq!(new.len(), 1, "{new:?}");
    let private = &new[0];
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(private).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "{}", private.display());
    drop(stream);
    // Clean-up only (no assertion waits on it): the aborted task empties it soon.
    for _ in 0..200 {
        if std::fs::remove_dir(private).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The `hotconf-nacos-*` directories in the temp dir.
fn sdk_dirs() -> Vec<std::path::PathBuf> {
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("hotconf-nacos-"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_page_that_echoes_the_login_form_does_not_leak_the_password() {
    let logs = hotconf_testkit::logs::captured();
    let mut seen = String::new();
    // A proxy whose error pages echo the request (the login form among it).
    for status in [403, 400, 500] {
        let echo = HostileServer::start(None, Mode::Echo(status)).await;
        let echoed = NacosClient::new([echo.endpoint()]).user("u", PASSWORD);
        let err = NacosProvider::new(&echoed, NacosSource::new("a.yaml"))
            .load()
            .await
            .unwrap_err();
        assert!(err.to_string().contains(&status.to_string()), "{err}");
        assert!(
            echo.requests().iter().any(|r| r.contains(PASSWORD)),
            "the echo holds it"
        );
        seen.push_str(&everything(&err));
    }

    assert!(seen.contains("nacos"), "errors were captured: {seen}");
    assert_no_secret(&seen);
    assert_no_secret(&String::from_utf8_lossy(&logs.lock().unwrap()));
}
