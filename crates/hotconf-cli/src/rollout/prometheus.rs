//! What the controller sees of the fleet: instant queries to Prometheus's HTTP API, and the
//! view of each hotconf process they add up to ([`Fleet`]).
//!
//! One process is one scrape target (its `job` and `instance` labels); its series are
//! `hotconf_instance_info` (instance id, rollout, member), `hotconf_config_info` (the applied
//! content's hash, its origin), `hotconf_config_version` and
//! `hotconf_reloads_total{outcome="rejected"}`. Answers are read no further than
//! [`MAX_ANSWER_BYTES`]; each query has a deadline; redirects are not followed.

use std::collections::BTreeMap;
use std::time::Duration;

use hotconf::{Error, ErrorKind, Result};
use reqwest::Url;
use serde_json::Value;

use crate::check::remote::{describe, read_bounded};

/// The largest answer read: about 10 000 series.
const MAX_ANSWER_BYTES: usize = 8 << 20;

/// One sample of an instant query: its labels and value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sample {
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) value: f64,
}

impl Sample {
    fn label(&self, name: &str) -> &str {
        self.labels.get(name).map_or("", String::as_str)
    }

    /// The scrape target the sample came from.
    fn target(&self) -> String {
        format!("{}/{}", self.label("job"), self.label("instance"))
    }
}

/// One hotconf process as Prometheus last scraped it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Instance {
    /// `job/instance` of its scrape target.
    pub(crate) target: String,
    pub(crate) instance_id: String,
    /// The rollout its sources follow (empty: none).
    pub(crate) rollout: String,
    /// Whether it serves the rollout's candidate.
    pub(crate) member: bool,
    /// The applied content's hash.
    pub(crate) hash: String,
    /// How the applied config came to be (`sources`, `revert`, `rollback`, …).
    pub(crate) origin: String,
    pub(crate) version: f64,
    /// Candidates it rejected since it started.
    pub(crate) rejected: f64,
}

/// Every hotconf process the selector picks, by instance id.
pub(crate) type Fleet = BTreeMap<String, Instance>;

/// A Prometheus server's query API.
pub(crate) struct Prometheus {
    client: reqwest::Client,
    query_url: Url,
    shown: String,
    selector: String,
}

impl Prometheus {
    /// The server at `url` (`http://prometheus:9090`), picking hotconf's series with
    /// `selector` (label matchers without braces: `job="app"`; empty: every series).
    pub(crate) fn new(url: &str, selector: &str, timeout: Duration) -> Result<Prometheus> {
        let bad = |why: &str| Error::new(ErrorKind::Config, format!("--prometheus: {why}"));
        let mut base = Url::parse(url).map_err(|_| bad("not a URL"))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(bad("not an http(s) URL"));
        }
        let mut shown = base.clone();
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let query_url = base
            .join("api/v1/query")
            .map_err(|_| bad("not a base URL"))?;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout)
            .timeout(timeout)
            .user_agent(concat!("hotconf-rollout/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                Error::new(ErrorKind::Config, "cannot start an HTTP client").with_cause(e)
            })?;
        Ok(Prometheus {
            client,
            query_url,
            shown: shown.to_string(),
            selector: selector
                .trim()
                .trim_matches(|c| c == '{' || c == '}')
                .to_owned(),
        })
    }

    /// `metric{matchers, selector}`.
    fn series(&self, metric: &str, matchers: &str) -> String {
        let all: Vec<&str> = [matchers, self.selector.as_str()]
            .into_iter()
            .filter(|m| !m.is_empty())
            .collect();
        format!("{metric}{{{}}}", all.join(","))
    }

    /// Runs the instant query `promql`.
    pub(crate) async fn query(&self, promql: &str) -> Result<Vec<Sample>> {
        let failed = |why: String| {
            Error::new(
                ErrorKind::Unavailable,
                format!("prometheus {}: {why}", self.shown),
            )
        };
        let response = (self.client.get(self.query_url.clone()))
            .query(&[("query", promql)])
            .send()
            .await
            .map_err(|e| failed(describe(&e)))?;
        let status = response.status();
        let body = read_bounded(response, MAX_ANSWER_BYTES)
            .await
            .map_err(failed)?;
        let answer: Value = serde_json::from_slice(&body)
            .map_err(|_| failed(format!("HTTP {}: not a JSON answer", status.as_u16())))?;
        if answer["status"] != "success" {
            let error = answer["error"].as_str().unwrap_or("no error given");
            let error: String = error.chars().take(300).collect();
            return Err(failed(format!("the query `{promql}` failed: {error}"))
                .with_transient(status.is_server_error()));
        }
        samples(&answer["data"]).ok_or_else(|| failed("an answer of an unknown shape".into()))
    }

    /// Every hotconf process the selector picks, with what it runs.
    pub(crate) async fn fleet(&self) -> Result<Fleet> {
        let info = self
            .query(&self.series("hotconf_instance_info", ""))
            .await?;
        let config = self.query(&self.series("hotconf_config_info", "")).await?;
        let version = self
            .query(&self.series("hotconf_config_version", ""))
            .await?;
        let rejected =
            (self.query(&self.series("hotconf_reloads_total", "outcome=\"rejected\""))).await?;
        let mut by_target: BTreeMap<String, Instance> = BTreeMap::new();
        for sample in &info {
            let instance = by_target.entry(sample.target()).or_default();
            instance.target = sample.target();
            instance.instance_id = sample.label("instance_id").to_owned();
            instance.rollout = sample.label("rollout").to_owned();
            instance.member = sample.label("member") == "true";
        }
        for sample in &config {
            if let Some(instance) = by_target.get_mut(&sample.target()) {
                instance.hash = sample.label("hash").to_owned();
                instance.origin = sample.label("origin").to_owned();
            }
        }
        for sample in &version {
            if let Some(instance) = by_target.get_mut(&sample.target()) {
                instance.version = sample.value;
            }
        }
        for sample in &rejected {
            if let Some(instance) = by_target.get_mut(&sample.target()) {
                instance.rejected = sample.value;
            }
        }
        Ok(by_target
            .into_values()
            .map(|instance| (instance.instance_id.clone(), instance))
            .collect())
    }
}

/// The samples of a `vector` or `scalar` result.
fn samples(data: &Value) -> Option<Vec<Sample>> {
    let number = |v: &Value| v.as_str().and_then(|s| s.parse::<f64>().ok());
    match data["resultType"].as_str()? {
        "scalar" => Some(vec![Sample {
            labels: BTreeMap::new(),
            value: number(&data["result"][1])?,
        }]),
        "vector" => (data["result"].as_array()?.iter())
            .map(|item| {
                let labels = (item["metric"].as_object()?.iter())
                    .map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect::<Option<_>>()?;
                Some(Sample {
                    labels,
                    value: number(&item["value"][1])?,
                })
            })
            .collect(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn vectors_and_scalars_are_read_and_other_shapes_refused() {
        let vector = json!({"resultType": "vector", "result": [
            {"metric": {"job": "a", "instance": "h:1"}, "value": [1.5, "2"]}
        ]});
        let read = samples(&vector).unwrap();
        assert_eq!(read[0].target(), "a/h:1");
        assert_eq!(read[0].value, 2.0);
        assert_eq!(
            samples(&json!({"resultType": "scalar", "result": [1, "3"]})).unwrap()[0].value,
            3.0
        );
        assert!(samples(&json!({"resultType": "matrix", "result": []})).is_none());
        assert!(samples(
            &json!({"resultType": "vector", "result": [{"metric": {}, "value": [1, 2]}]})
        )
        .is_none());
    }

    #[test]
    fn the_selector_joins_the_matchers_and_the_url_loses_its_password() {
        let p = Prometheus::new(
            "http://u:pw@127.0.0.1:9090/prom",
            "{job=\"app\"}",
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(p.series("m", "a=\"b\""), "m{a=\"b\",job=\"app\"}");
        assert_eq!(p.series("m", ""), "m{job=\"app\"}");
        assert_eq!(
            p.query_url.as_str(),
            "http://u:pw@127.0.0.1:9090/prom/api/v1/query"
        );
        assert!(!p.shown.contains("pw"), "{}", p.shown);
        assert!(Prometheus::new("ftp://x", "", Duration::from_secs(1)).is_err());
    }
}
