//! What each raw client does by default: a follower with a client of its own (an
//! `etcd_client::Client`, a `reqwest::Client`) and the loop a service writes around it: read,
//! wait for a change (a watch, a blocking query, a long poll), and after any failure start over
//! one second later. Neither etcd-client nor reqwest retries by itself, and one fixed second is
//! what the examples of each protocol do (Nacos's own 1.x client waits 2 s, Apollo's grows
//! from 1 s).

use std::time::Duration;

use base64::Engine as _;
use md5::{Digest, Md5};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::Value;

use crate::host::{version, Report};
use crate::servers::{APOLLO_APP, APOLLO_NAMESPACE, NACOS_DATA_ID};
use crate::{Backend, KEY};

/// The wait after a failure.
pub const RETRY: Duration = Duration::from_secs(1);

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// Follows the config on the server at `endpoint` as `backend`'s raw client does, forever.
pub async fn follow(backend: Backend, endpoint: String, report: Report) {
    let http = reqwest::Client::new();
    let mut state = Cursor::default();
    loop {
        let round = match backend {
            Backend::Etcd => etcd(&endpoint, &report).await,
            Backend::Consul => consul(&http, &endpoint, &mut state, &report).await,
            Backend::Apollo => apollo(&http, &endpoint, &mut state, &report).await,
            Backend::Nacos => nacos(&http, &endpoint, &mut state, &report).await,
        };
        if round.is_err() {
            state = Cursor::default();
            tokio::time::sleep(RETRY).await;
        }
    }
}

/// Where an HTTP follower is: Consul's index, Apollo's notification id, Nacos's md5.
#[derive(Default)]
struct Cursor {
    index: u64,
    notification: Option<i64>,
    md5: String,
}

fn report_document(report: &Report, bytes: &[u8]) -> Result<(), Failure> {
    let document: Value = serde_json::from_slice(bytes)?;
    report.applied(version(&document).ok_or("no version")?);
    Ok(())
}

/// Connects, reads, and watches from the revision read until the watch fails.
async fn etcd(endpoint: &str, report: &Report) -> Result<(), Failure> {
    let mut client = etcd_client::Client::connect([endpoint], None).await?;
    let read = client.get(KEY, None).await?;
    let revision = read.header().ok_or("no header")?.revision();
    if let Some(kv) = read.kvs().first() {
        report_document(report, kv.value())?;
    }
    let options = etcd_client::WatchOptions::new().with_start_revision(revision + 1);
    let mut stream = client.watch(KEY, Some(options)).await?;
    while let Some(response) = stream.message().await? {
        if response.canceled() {
            return Err("watch canceled".into());
        }
        for event in response.events() {
            if let Some(kv) = event.kv() {
                report_document(report, kv.value())?;
            }
        }
    }
    Err("watch ended".into())
}

/// One blocking query (`?index=&wait=60s`).
async fn consul(
    http: &reqwest::Client,
    endpoint: &str,
    cursor: &mut Cursor,
    report: &Report,
) -> Result<(), Failure> {
    let url = format!(
        "http://{endpoint}/v1/kv/{KEY}?index={}&wait=60s",
        cursor.index
    );
    let response = http
        .get(url)
        .timeout(Duration::from_secs(70))
        .send()
        .await?
        .error_for_status()?;
    let index: u64 = response
        .headers()
        .get("X-Consul-Index")
        .ok_or("no index")?
        .to_str()?
        .parse()?;
    let entries: Value = serde_json::from_slice(&response.bytes().await?)?;
    let encoded = entries[0]["Value"].as_str().ok_or("no value")?;
    report_document(
        report,
        &base64::engine::general_purpose::STANDARD.decode(encoded)?,
    )?;
    cursor.index = if index < cursor.index { 0 } else { index };
    Ok(())
}

/// One `notifications/v2` long poll, and the `/configs` read after a notification.
async fn apollo(
    http: &reqwest::Client,
    endpoint: &str,
    cursor: &mut Cursor,
    report: &Report,
) -> Result<(), Failure> {
    let last = cursor.notification.unwrap_or(-1);
    let list = format!(r#"[{{"namespaceName":"{APOLLO_NAMESPACE}","notificationId":{last}}}]"#);
    let url = format!(
        "http://{endpoint}/notifications/v2?appId={APOLLO_APP}&cluster=default&notifications={}",
        utf8_percent_encode(&list, NON_ALPHANUMERIC)
    );
    let response = http
        .get(url)
        .timeout(Duration::from_secs(90))
        .send()
        .await?;
    if response.status() == reqwest::StatusCode::NOT_MODIFIED {
        return Ok(());
    }
    let notifications: Value =
        serde_json::from_slice(&response.error_for_status()?.bytes().await?)?;
    let id = notifications[0]["notificationId"]
        .as_i64()
        .ok_or("no notification id")?;
    let url = format!("http://{endpoint}/configs/{APOLLO_APP}/default/{APOLLO_NAMESPACE}");
    let release: Value = serde_json::from_slice(
        &http
            .get(url)
            .timeout(Duration::from_secs(10))
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?,
    )?;
    report.applied(version(&release["configurations"]).ok_or("no version")?);
    cursor.notification = Some(id);
    Ok(())
}

/// One 1.x listener long poll (30 s), and the read after it answers with a change.
async fn nacos(
    http: &reqwest::Client,
    endpoint: &str,
    cursor: &mut Cursor,
    report: &Report,
) -> Result<(), Failure> {
    let listening = format!("{NACOS_DATA_ID}\u{2}DEFAULT_GROUP\u{2}{}\u{1}", cursor.md5);
    let changed = http
        .post(format!("http://{endpoint}/nacos/v1/cs/configs/listener"))
        .header("Long-Pulling-Timeout", "30000")
        .form(&[("Listening-Configs", listening)])
        .timeout(Duration::from_secs(40))
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    if changed.trim().is_empty() {
        return Ok(());
    }
    let content = http
        .get(format!(
            "http://{endpoint}/nacos/v1/cs/configs?dataId={NACOS_DATA_ID}&group=DEFAULT_GROUP"
        ))
        .timeout(Duration::from_secs(10))
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    report_document(report, &content)?;
    cursor.md5 = Md5::digest(&content)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(())
}
