//! What `hotconf watch` prints: one JSON object per line, or a readable coloured diff.

use std::collections::BTreeMap;
use std::io::Write;

use hotconf::{Event, Origin};
use serde_json::{Map, Value};

/// How events are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Output {
    /// One JSON object per line (the default when stdout is not a terminal).
    Json,
    /// A readable, coloured diff per version (the default on a terminal).
    Pretty,
}

/// Prints events, remembering the last applied config for diffs.
pub(crate) struct Printer {
    output: Output,
    color: bool,
    previous: Option<Value>,
}

impl Printer {
    pub(crate) fn new(output: Output, color: bool) -> Self {
        Printer {
            output,
            color,
            previous: None,
        }
    }

    /// Prints one event to stdout; `config` is the merged config of an `applied` event.
    pub(crate) fn print(&mut self, event: &Event, config: Option<&Value>) -> std::io::Result<()> {
        self.print_to(&mut std::io::stdout().lock(), event, config)
    }

    fn print_to(
        &mut self,
        out: &mut impl Write,
        event: &Event,
        config: Option<&Value>,
    ) -> std::io::Result<()> {
        match self.output {
            Output::Json => {
                // The event's own fields first (`event` leads), then the config.
                let line = serde_json::to_string(event).unwrap_or_default();
                match (config, line.strip_suffix('}')) {
                    (Some(config), Some(open)) => writeln!(out, "{open},\"config\":{config}}}")?,
                    _ => writeln!(out, "{line}")?,
                }
            }
            Output::Pretty => self.pretty(out, event, config)?,
        }
        if let Some(config) = config {
            self.previous = Some(config.clone());
        }
        out.flush()
    }

    /// `text` for the terminal, coloured with `code`. Keys, values and error texts come from
    /// the sources and servers: their control characters are escaped, so nothing they hold can
    /// move the cursor, recolour, retitle or rewrite the screen.
    fn paint(&self, code: &str, text: &str) -> String {
        let text = escape_controls(text);
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text
        }
    }

    fn pretty(
        &self,
        out: &mut impl Write,
        event: &Event,
        config: Option<&Value>,
    ) -> std::io::Result<()> {
        match event {
            Event::Applied {
                version,
                revisions,
                reason,
                ..
            } => {
                let sources: Vec<String> = revisions
                    .iter()
                    .map(|(s, r)| format!("{s}@{}", short(r)))
                    .collect();
                // Why, when it was not the sources: `version 4 (rollback of v2)`.
                let header = match reason {
                    Origin::Sources => format!("version {version}"),
                    other => format!("version {version} ({other})"),
                };
                writeln!(
                    out,
                    "{} {}",
                    self.paint("1", &header),
                    escape_controls(&sources.join("  "))
                )?;
                let empty = Value::Object(Map::new());
                let before = flatten(self.previous.as_ref().unwrap_or(&empty));
                let after = flatten(config.unwrap_or(&empty));
                for (key, value) in &after {
                    match before.get(key) {
                        None => {
                            writeln!(out, "  {}", self.paint("32", &format!("+ {key} = {value}")))?
                        }
                        Some(old) if old != value => writeln!(
                            out,
                            "  {}",
                            self.paint("33", &format!("~ {key} = {old} -> {value}"))
                        )?,
                        Some(_) => {}
                    }
                }
                for (key, old) in &before {
                    if !after.contains_key(key) {
                        writeln!(out, "  {}", self.paint("31", &format!("- {key} = {old}")))?;
                    }
                }
            }
            Event::Rejected { error, .. } => {
                writeln!(out, "{}", self.paint("31", &format!("rejected: {error}")))?
            }
            Event::Absent { error, .. } => writeln!(
                out,
                "{}",
                self.paint("2", &format!("absent (optional layer, left out): {error}"))
            )?,
            Event::SourceError {
                error, transient, ..
            } => {
                let what = if *transient {
                    "source error (retrying)"
                } else {
                    "source error"
                };
                writeln!(out, "{}", self.paint("33", &format!("{what}: {error}")))?
            }
            other => writeln!(out, "{}", serde_json::to_string(other).unwrap_or_default())?,
        }
        Ok(())
    }
}

/// Escapes control characters (C0, DEL, C1) and the bidirectional overrides that reorder what
/// a terminal shows, as `\u{..}`.
pub(crate) fn escape_controls(text: &str) -> String {
    let hostile =
        |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !text.chars().any(hostile) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if hostile(c) {
                format!("\\u{{{:x}}}", u32::from(c))
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// `text` between single quotes with its control characters escaped: how an error message
/// quotes what was typed (as clap quotes a value), never with Rust's `{:?}`.
pub(crate) fn quoted(text: &str) -> String {
    format!("'{}'", escape_controls(text))
}

fn short(revision: &str) -> &str {
    revision.get(..8).unwrap_or(revision)
}

/// `{"db": {"port": 1}}` → `{"db.port": "1"}`; arrays and scalars are leaves.
fn flatten(value: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![(String::new(), value)];
    while let Some((prefix, value)) = stack.pop() {
        match value {
            Value::Object(map) if !map.is_empty() => {
                for (key, child) in map {
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    stack.push((path, child));
                }
            }
            leaf => {
                if !prefix.is_empty() {
                    out.insert(prefix, leaf.to_string());
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(version: u64) -> Event {
        Event::Applied {
            version,
            revisions: vec![("file:./app.toml".into(), "0123456789abcdef".into())],
            reason: Origin::Sources,
            changed: hotconf::Changes::default(),
        }
    }

    #[test]
    fn pretty_output_is_a_diff_per_version() {
        let mut printer = Printer::new(Output::Pretty, false);
        let mut out = Vec::new();
        let v1 = serde_json::json!({"db": {"port": 1, "host": "h"}, "gone": true});
        let v2 = serde_json::json!({"db": {"port": 2, "host": "h"}, "new": "x"});
        printer.print_to(&mut out, &applied(1), Some(&v1)).unwrap();
        printer.print_to(&mut out, &applied(2), Some(&v2)).unwrap();
        let text = String::from_utf8(out).unwrap();
        let second = text.split("version 2").nth(1).unwrap();
        assert!(
            text.starts_with("version 1 file:./app.toml@01234567"),
            "{text}"
        );
        assert!(
            second.contains("~ db.port = 1 -> 2")
                && second.contains("+ new = \"x\"")
                && second.contains("- gone = true"),
            "{text}"
        );
        assert!(
            !second.contains("db.host"),
            "unchanged keys are not shown: {text}"
        );
    }

    #[test]
    fn pretty_output_says_why_a_version_that_is_not_from_the_sources_was_applied() {
        let mut printer = Printer::new(Output::Pretty, false);
        let mut out = Vec::new();
        let rollback = Event::Applied {
            version: 4,
            revisions: vec![("file:./app.toml".into(), "0123456789abcdef".into())],
            reason: Origin::Rollback { of: 2 },
            changed: hotconf::Changes::default(),
        };
        let config = serde_json::json!({"a": 1});
        printer
            .print_to(&mut out, &applied(3), Some(&config))
            .unwrap();
        printer
            .print_to(&mut out, &rollback, Some(&config))
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("version 3 file:")
                && text.contains("\nversion 4 (rollback of v2) file:"),
            "{text}"
        );
    }

    #[test]
    fn json_lines_lead_with_the_event() {
        let mut printer = Printer::new(Output::Json, false);
        let mut out = Vec::new();
        printer
            .print_to(&mut out, &applied(3), Some(&serde_json::json!({"a": 1})))
            .unwrap();
        let line = String::from_utf8(out).unwrap();
        assert!(
            line.starts_with(r#"{"event":"applied","version":3,"#)
                && line.ends_with(",\"config\":{\"a\":1}}\n"),
            "{line}"
        );
    }

    #[test]
    fn pretty_output_escapes_what_sources_and_servers_send() {
        let mut printer = Printer::new(Output::Pretty, true);
        let mut out = Vec::new();
        let config = serde_json::json!({"k\u{1b}]0;pwned\u{7}": {"x\ry": 1}});
        printer
            .print_to(&mut out, &applied(1), Some(&config))
            .unwrap();
        let rejected = Event::Rejected {
            source: Some("memory:\u{1b}[2J".into()),
            key: None,
            kind: "parse",
            error: "bad \u{1b}[31mred\u{9b}\u{202e}txt".into(),
        };
        printer.print_to(&mut out, &rejected, None).unwrap();
        let text = String::from_utf8(out).unwrap();
        // Only the printer's own colour codes remain: ESC [ digits m.
        let stripped = text
            .replace("\u{1b}[0m", "")
            .replace("\u{1b}[1m", "")
            .replace("\u{1b}[31m", "")
            .replace("\u{1b}[32m", "");
        assert!(
            !stripped.chars().any(|c| c.is_control() && c != '\n'),
            "{text:?}"
        );
        assert!(!stripped.contains('\u{202e}'), "{text:?}");
        assert!(text.contains("k\\u{1b}]0;pwned\\u{7}.x\\u{d}y"), "{text:?}");
    }

    #[test]
    fn flatten_gives_dotted_leaves() {
        let flat =
            flatten(&serde_json::json!({"db": {"port": 1, "tags": ["a"]}, "x": "s", "e": {}}));
        let want: BTreeMap<String, String> = [
            ("db.port", "1"),
            ("db.tags", "[\"a\"]"),
            ("e", "{}"),
            ("x", "\"s\""),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(flat, want);
    }
}
