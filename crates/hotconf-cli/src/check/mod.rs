//! `hotconf check`: before a layer's new document is published (`etcdctl put`, a commit to the
//! ConfigMap's repository), ask the running services whether they would accept it, or check
//! it offline against the config type's JSON Schema.
//!
//! One JSON object per target on stdout, in argument order (the schema first), each with
//! `target` and `accepted`: the service's own answer (`POST /config/check`: `changes`,
//! `restart_required`, or `error`, `kind`, `key`, `source`), or, for a target that could not
//! be asked, `"unanswered":true` with the `error` (and the HTTP `status` when one came back).
//! A readable summary goes to stderr when stderr is a terminal. The exit code: 0 when every
//! target accepts, 1 when any rejects, 4 when none rejects but one could not be asked.

mod offline;
pub(crate) mod remote;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::ArgGroup;
use hotconf::Format;
use serde_json::{Map, Value};

use crate::exit::Exit;
use crate::output::escape_controls;

/// The largest document read: the reloader's own default limit for one document.
const MAX_DOCUMENT_BYTES: u64 = 16 << 20;

#[derive(Debug, clap::Args)]
#[command(group(ArgGroup::new("how").required(true).multiple(true).args(["against", "schema"])))]
pub(crate) struct CheckArgs {
    /// The proposed document of one layer (json, yaml, toml or properties: from its
    /// extension, or --format).
    #[arg(long, value_name = "FILE")]
    file: PathBuf,
    /// The document's format when its extension does not say (json, yaml, toml, properties).
    #[arg(long, value_name = "FORMAT", value_parser = parse_format)]
    format: Option<Format>,
    /// The layer the document is for: its name (`overrides`; `file-0` when unnamed) or its
    /// source's URI, as the service's /config/version lists them.
    #[arg(long, value_name = "NAME", requires = "against")]
    layer: Option<String>,
    /// The admin API of a running service (http://127.0.0.1:9900, https://svc-1/admin);
    /// repeatable. Each is asked POST URL/config/check?layer=NAME; nothing is applied.
    #[arg(long, value_name = "URL", num_args = 1.., requires = "layer")]
    against: Vec<String>,
    /// The admin APIs' write token, in this file (sent as `Authorization: Bearer`, never
    /// printed).
    #[arg(long, value_name = "FILE", requires = "against")]
    token_file: Option<PathBuf>,
    /// Check offline against this JSON Schema (a service's GET /config/schema, or
    /// `hotconf::schema::<Config>()` saved to a file).
    #[arg(long, value_name = "FILE")]
    schema: Option<PathBuf>,
    /// How long each service may take to answer.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = crate::parse_duration)]
    timeout: Duration,
}

fn parse_format(text: &str) -> Result<Format, String> {
    text.parse::<Format>().map_err(|e| e.message().to_owned())
}

/// What one target said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// It would apply the document.
    Accepted,
    /// It would reject the document.
    Rejected,
    /// It could not be asked (unreachable, a refused token, an HTTP error).
    Unanswered,
}

/// One target's line: what it said, and the JSON object printed for it.
pub(crate) struct Line {
    pub(crate) outcome: Outcome,
    pub(crate) fields: Map<String, Value>,
}

impl Line {
    /// A line for `target` with `fields` (an answer's), `accepted` set from `outcome`.
    pub(crate) fn new(target: &str, outcome: Outcome, mut fields: Map<String, Value>) -> Line {
        fields.insert("target".into(), target.into());
        fields.insert("accepted".into(), (outcome == Outcome::Accepted).into());
        if outcome == Outcome::Unanswered {
            fields.insert("unanswered".into(), true.into());
        }
        Line { outcome, fields }
    }

    fn text(&self, name: &str) -> &str {
        self.fields.get(name).and_then(Value::as_str).unwrap_or("")
    }
}

/// Checks the document against the schema and the services; prints a line per target.
pub(crate) async fn check(args: CheckArgs) -> ExitCode {
    let Some(format) = args
        .format
        .or_else(|| Format::from_path(&args.file.to_string_lossy()))
    else {
        return usage(&format!(
            "the format of {} is not known from its extension: say it with --format",
            args.file.display()
        ));
    };
    let document = match crate::small_file::read(&args.file, MAX_DOCUMENT_BYTES) {
        Ok(document) => document,
        Err(what) => return usage(&format!("the document {} {what}", args.file.display())),
    };
    let mut lines = Vec::new();
    if let Some(schema) = &args.schema {
        match offline::check(schema, format, &document) {
            Ok(line) => lines.push(line),
            Err(error) => return crate::usage_error(&error),
        }
    }
    if let Some(layer) = &args.layer {
        let token = match args.token_file.as_deref().map(crate::admin::read_token) {
            Some(Err(error)) => return crate::usage_error(&error),
            Some(Ok(token)) => Some(token),
            None => None,
        };
        let asker = match remote::Asker::new(layer, format, document, token, args.timeout) {
            Ok(asker) => asker,
            Err(error) => return crate::usage_error(&error),
        };
        match asker.ask_all(&args.against).await {
            Ok(answers) => lines.extend(answers),
            Err(error) => return crate::usage_error(&error),
        }
    }
    print(&lines)
}

/// Prints the lines, the summary on a terminal, and gives the exit code.
pub(crate) fn print(lines: &[Line]) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    for line in lines {
        let text = Value::Object(line.fields.clone()).to_string();
        if writeln!(stdout, "{text}")
            .and_then(|()| stdout.flush())
            .is_err()
        {
            break; // stdout closed: the exit code still says it all
        }
    }
    if std::io::stderr().is_terminal() {
        eprintln!("{}", summary(lines));
    }
    let has = |outcome| lines.iter().any(|l| l.outcome == outcome);
    if has(Outcome::Rejected) {
        Exit::Failed.into()
    } else if has(Outcome::Unanswered) {
        Exit::Unanswered.into()
    } else {
        Exit::Success.into()
    }
}

/// The lines for a reader: one per target, then the count.
fn summary(lines: &[Line]) -> String {
    let mut out = Vec::new();
    for line in lines {
        let target = line.text("target");
        out.push(match line.outcome {
            Outcome::Accepted => {
                let changes = line.fields.get("changes");
                let count = ["added", "changed", "removed"]
                    .iter()
                    .filter_map(|k| changes.and_then(|c| c[k].as_array()).map(Vec::len))
                    .sum::<usize>();
                format!("  accepted    {target}  ({count} keys change)")
            }
            Outcome::Rejected => format!("  REJECTED    {target}  {}", line.text("error")),
            Outcome::Unanswered => format!("  UNANSWERED  {target}  {}", line.text("error")),
        });
    }
    let accepted = lines
        .iter()
        .filter(|l| l.outcome == Outcome::Accepted)
        .count();
    out.push(format!(
        "hotconf: {accepted} of {} targets accept the change",
        lines.len()
    ));
    out.iter()
        .map(|l| escape_controls(l))
        .collect::<Vec<_>>()
        .join("\n")
}

fn usage(message: &str) -> ExitCode {
    eprintln!("hotconf: {message}");
    Exit::Usage.into()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn line(outcome: Outcome, fields: Value) -> Line {
        let Value::Object(fields) = fields else {
            unreachable!()
        };
        Line::new("http://svc", outcome, fields)
    }

    #[test]
    fn every_line_says_its_target_and_whether_it_accepts() {
        let accepted = line(
            Outcome::Accepted,
            json!({"accepted": false, "changes": {"added": ["a"], "changed": ["b"], "removed": []}}),
        );
        assert_eq!(accepted.fields["accepted"], true);
        assert_eq!(accepted.fields["target"], "http://svc");
        let unanswered = line(Outcome::Unanswered, json!({"error": "down"}));
        assert_eq!(unanswered.fields["accepted"], false);
        assert_eq!(unanswered.fields["unanswered"], true);
        let rejected = line(Outcome::Rejected, json!({"error": "bad\u{1b}[2J"}));
        let text = summary(&[accepted, rejected, unanswered]);
        assert!(text.contains("(2 keys change)"), "{text}");
        assert!(text.contains("1 of 3 targets"), "{text}");
        assert!(!text.contains('\u{1b}'), "{text}");
    }
}
