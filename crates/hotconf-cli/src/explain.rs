//! `hotconf explain KEY SOURCE...`: where a key's value comes from, layer by layer.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use hotconf::{Explanation, Startup};
use serde_json::Value;

use crate::exit::Exit;
use crate::output::escape_controls;

#[derive(Debug, clap::Args)]
pub(crate) struct ExplainArgs {
    /// The key, as a dotted path (`db.servers[0].host`).
    key: String,
    /// The sources, lowest layer first.
    #[arg(required = true, value_name = "SOURCE")]
    sources: Vec<String>,
    /// How long to wait for a first valid config (e.g. 500ms, 10s, 1m).
    #[arg(long, default_value = "10s", value_parser = crate::parse_duration)]
    timeout: Duration,
    /// Also redact the keys matching this glob (`db.dsn`, `**.cert_*`); repeatable. Keys
    /// containing password, passwd, secret, token, credential, private_key, api_key or
    /// access_key are always redacted.
    #[arg(long, value_name = "GLOB")]
    redact: Vec<String>,
}

/// Loads the sources once and prints the explanation of the key: readable on a terminal, else
/// the `Explanation` as one JSON object. Exits [`Exit::KeyNotFound`] when no layer sets it.
pub(crate) async fn explain(args: ExplainArgs) -> ExitCode {
    let builder = match crate::builder(&args.sources, &args.redact) {
        Ok(builder) => builder,
        Err(code) => return code,
    };
    // Never wait in silence: what the start waits for, on stderr.
    let reporting = tokio::spawn(crate::waiting::report_events(builder.events()));
    let started = builder.startup(Startup::Wait(args.timeout)).start().await;
    reporting.abort();
    let reloader = match started {
        Ok(reloader) => reloader,
        Err(error) => {
            eprintln!("hotconf: no config could be loaded: {error}");
            return Exit::Failed.into();
        }
    };
    let explanation = reloader.store().get().explain(&args.key);
    let stdout = std::io::stdout();
    let text = if stdout.is_terminal() {
        readable(&explanation)
    } else {
        serde_json::to_string(&explanation).unwrap_or_default()
    };
    let _ = writeln!(stdout.lock(), "{text}");
    if explanation.found {
        Exit::Success.into()
    } else {
        Exit::KeyNotFound.into()
    }
}

/// An explanation for a reader: the value in force and its layer, then every layer, highest
/// first. Values the redaction policy covers print as `***`.
pub(crate) fn readable(e: &Explanation) -> String {
    let shown = |value: &Option<Value>| match value {
        _ if e.redacted => "***".to_owned(),
        Some(value) => value.to_string(),
        None => "(absent)".to_owned(),
    };
    let mut lines = vec![match &e.layer {
        Some(layer) if e.found => format!("{} = {}  (from {layer})", e.key, shown(&e.value)),
        _ => format!("{} is not set in any layer", e.key),
    }];
    if !e.overridden.is_empty() {
        lines.push(format!("  overrides: {}", e.overridden.join(", ")));
    }
    if let Some(from) = &e.fell_back_from {
        lines.push(format!(
            "  fell back from: {from} (the key was deleted there)"
        ));
    }
    if let Some(note) = &e.note {
        lines.push(format!("  note: {note}"));
    }
    for layer in e.layers.iter().rev() {
        let value = if layer.holds {
            shown(&layer.value)
        } else {
            "(not set)".to_owned()
        };
        lines.push(format!("  {:<16} {value}   {}", layer.layer, layer.source));
    }
    let lines: Vec<String> = lines.iter().map(|l| escape_controls(l)).collect();
    lines.join("\n")
}
