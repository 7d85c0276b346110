//! What the sidecar renders for a config version: templates (minijinja, strict undefined),
//! the merged config in a file format, and the child's environment.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use hotconf::{Error, ErrorKind, Result, Snapshot};
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde_json::Value;

use super::format::{self, Format};

/// Templates larger than this are refused at start.
const MAX_TEMPLATE: u64 = 1 << 20;

/// One output file and what goes into it.
#[derive(Debug)]
pub(crate) struct Output {
    /// Where the output is written.
    pub(crate) path: PathBuf,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    /// A template, by name (its path as given).
    Template(String),
    /// The merged config itself.
    Config(Format),
}

/// Everything rendered for one version, before anything is written.
#[derive(Debug)]
pub(crate) struct Rendered {
    /// The version rendered.
    pub(crate) version: u64,
    /// The bytes of each output, in the order of [`Renderer::outputs`].
    pub(crate) files: Vec<Vec<u8>>,
    /// The child's environment (`hotconf exec --env-prefix`), empty without a prefix.
    pub(crate) env: Vec<(String, String)>,
    /// The snapshot rendered, for [`Renderer::shows_covered_value`].
    snapshot: Arc<Snapshot<Value>>,
}

/// Renders the outputs of a config version.
pub(crate) struct Renderer {
    templates: Environment<'static>,
    outputs: Vec<Output>,
    env_prefix: Option<String>,
}

impl Renderer {
    /// Reads and compiles the templates: an unreadable template or a syntax error is an error
    /// naming the template and line.
    pub(crate) fn new(
        templates: &[(PathBuf, PathBuf)],
        config: Option<(PathBuf, Format)>,
        env_prefix: Option<String>,
    ) -> Result<Renderer> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // Config files are not HTML: what a template prints is what it says.
        env.set_auto_escape_callback(|_| AutoEscape::None);
        // A template's last newline is part of the file it renders.
        if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()
        {
            env.set_syntax(syntax);
        }
        env.add_filter("tojson", tojson);
        env.add_filter("toyaml", toyaml);
        env.add_filter("totoml", totoml);
        env.add_filter("b64encode", b64encode);
        let mut outputs = Vec::new();
        let mut paths: Vec<&Path> = templates.iter().map(|(_, out)| out.as_path()).collect();
        paths.extend(config.as_ref().map(|(out, _)| out.as_path()));
        if let Some(twice) = paths
            .iter()
            .enumerate()
            .find_map(|(i, p)| paths[..i].contains(p).then_some(p))
        {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "{} is the output of two templates or --out",
                    twice.display()
                ),
            ));
        }
        for (template, path) in templates {
            let name = template.display().to_string();
            let source = read_template(template)?;
            env.add_template_owned(name.clone(), source)
                .map_err(|e| Error::new(ErrorKind::Config, syntax_error(&name, &e)))?;
            outputs.push(Output {
                path: path.clone(),
                kind: Kind::Template(name),
            });
        }
        if let Some((path, format)) = config {
            outputs.push(Output {
                path,
                kind: Kind::Config(format),
            });
        }
        Ok(Renderer {
            templates: env,
            outputs,
            env_prefix,
        })
    }

    /// The outputs, in argument order.
    pub(crate) fn outputs(&self) -> &[Output] {
        &self.outputs
    }

    /// Renders every output and the environment of `snapshot`. An error rejects the version.
    pub(crate) fn render(&self, snapshot: &Arc<Snapshot<Value>>) -> Result<Rendered> {
        let config = snapshot.merged();
        let files = self
            .outputs
            .iter()
            .map(|output| self.render_output(output, snapshot, config))
            .collect::<Result<Vec<_>>>()?;
        let env = match &self.env_prefix {
            Some(prefix) => format::environment(prefix, config)?,
            None => Vec::new(),
        };
        Ok(Rendered {
            version: snapshot.version(),
            files,
            env,
            snapshot: snapshot.clone(),
        })
    }

    /// The merged config of `rendered` with every value the redaction policy covers replaced,
    /// or `None` when the policy covers nothing in it.
    pub(crate) fn redacted(rendered: &Rendered) -> Option<Value> {
        let redacted = rendered.snapshot.redacted();
        (redacted != *rendered.snapshot.merged()).then_some(redacted)
    }

    /// Whether output `index` of `rendered` shows a value the redaction policy covers: rendered
    /// again from `redacted` (see [`Renderer::redacted`]), it comes out different (or not at
    /// all).
    pub(crate) fn shows_covered_value(
        &self,
        index: usize,
        rendered: &Rendered,
        redacted: &Value,
    ) -> bool {
        let (Some(output), Some(bytes)) = (self.outputs.get(index), rendered.files.get(index))
        else {
            return false;
        };
        match self.render_output(output, &rendered.snapshot, redacted) {
            Ok(shown) => shown != *bytes,
            Err(_) => true,
        }
    }

    /// The bytes of `output` for `config` (the snapshot's merged config, or a stand-in for it).
    fn render_output(
        &self,
        output: &Output,
        snapshot: &Snapshot<Value>,
        config: &Value,
    ) -> Result<Vec<u8>> {
        match &output.kind {
            Kind::Template(name) => {
                let revisions: Vec<(String, String)> = snapshot
                    .revisions()
                    .iter()
                    .map(|(layer, revision)| (layer.to_string(), revision.to_string()))
                    .collect();
                let context = minijinja::context! {
                    config => minijinja::Value::from(minijinja::value::Serde(config)),
                    version => snapshot.version(),
                    revisions => revisions,
                };
                self.templates
                    .get_template(name)
                    .and_then(|t| t.render(&context))
                    .map(String::into_bytes)
                    .map_err(|e| Error::validation(render_error(&self.templates, &e)))
            }
            Kind::Config(format) => format::write(*format, config).map_err(|e| {
                Error::validation(format!("{}: {}", output.path.display(), e.message()))
            }),
        }
    }
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderer")
            .field("outputs", &self.outputs)
            .finish_non_exhaustive()
    }
}

/// A template file's text: a regular file of at most 1 MiB, in UTF-8.
fn read_template(path: &Path) -> Result<String> {
    crate::small_file::read(path, MAX_TEMPLATE).map_err(|what| {
        Error::new(
            ErrorKind::Config,
            format!("template {}: {what}", path.display()),
        )
    })
}

/// A template that does not compile, at start: its path, line, the kind of error and
/// minijinja's detail, which describes the template text (no config exists yet).
fn syntax_error(name: &str, error: &minijinja::Error) -> String {
    let mut message = format!("template {name}");
    if let Some(line) = error.line() {
        message.push_str(&format!(" line {line}"));
    }
    message.push_str(&format!(": {}", error.kind()));
    if let Some(detail) = error.detail() {
        message.push_str(&format!(": {detail}"));
    }
    message
}

/// A render error as a rejection, built from what minijinja records about it and never from
/// its message, which can quote a config value (`{% include config.x %}` names the template it
/// looked for, escaped), G12. Each error of the chain
/// (an error in an included template is the cause of the `include`'s) gives: the template, if
/// it is one of the `--template` files (otherwise `an included template`: a name can come from
/// a value), the line, the kind's fixed description and the template text at fault.
fn render_error(env: &Environment<'static>, error: &minijinja::Error) -> String {
    let mut parts = Vec::new();
    let mut next = Some(error);
    while let Some(error) = next {
        parts.push(describe(env, error));
        next = std::error::Error::source(error)
            .and_then(|cause| cause.downcast_ref::<minijinja::Error>());
    }
    parts.join(": ")
}

/// One error of a chain: `template app.tpl line 3: undefined value (`config.db.host`)`.
fn describe(env: &Environment<'static>, error: &minijinja::Error) -> String {
    // Only the `--template` files are in the environment (it has no loader).
    let template = error.name().and_then(|name| env.get_template(name).ok());
    let mut message = match &template {
        Some(template) => format!("template {}", template.name()),
        None => "an included template".to_owned(),
    };
    if let Some(line) = error.line() {
        message.push_str(&format!(" line {line}"));
    }
    message.push_str(&format!(": {}", error.kind()));
    let at_fault = template.zip(error.range()).and_then(|(template, range)| {
        let text = template.source().get(range)?.trim();
        (!text.is_empty()).then(|| text.chars().take(80).collect::<String>())
    });
    if let Some(text) = at_fault {
        message.push_str(&format!(" (`{text}`)"));
    }
    message
}

fn filter_error(what: String) -> minijinja::Error {
    minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, what)
}

/// `{{ config.db | tojson }}`, `{{ config | tojson(2) }}`: JSON, compact or indented.
fn tojson(
    value: minijinja::Value,
    indent: Option<usize>,
) -> std::result::Result<String, minijinja::Error> {
    let json = serde_json::to_value(&value)
        .map_err(|_| filter_error("tojson: not representable as JSON".into()))?;
    match indent {
        None => Ok(json.to_string()),
        Some(width) => {
            let indent = " ".repeat(width.min(16));
            let mut out = Vec::new();
            let formatter = serde_json::ser::PrettyFormatter::with_indent(indent.as_bytes());
            let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
            serde::Serialize::serialize(&json, &mut serializer)
                .map_err(|_| filter_error("tojson: cannot write JSON".into()))?;
            Ok(String::from_utf8_lossy(&out).into_owned())
        }
    }
}

/// `{{ config.db | toyaml }}`: a YAML document (ends with a newline).
fn toyaml(value: minijinja::Value) -> std::result::Result<String, minijinja::Error> {
    let json = serde_json::to_value(&value)
        .map_err(|_| filter_error("toyaml: not representable".into()))?;
    serde_yaml_ng::to_string(&json).map_err(|e| filter_error(format!("toyaml: {e}")))
}

/// `{{ config.db | totoml }}`: a TOML document; the value must be a map without nulls.
fn totoml(value: minijinja::Value) -> std::result::Result<String, minijinja::Error> {
    let json = serde_json::to_value(&value)
        .map_err(|_| filter_error("totoml: not representable".into()))?;
    format::write(Format::Toml, &json)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .map_err(|e| filter_error(format!("totoml: {}", e.message())))
}

/// `{{ config.tls.key | b64encode }}`: standard base64 of the string's UTF-8 bytes.
fn b64encode(value: String) -> String {
    base64::engine::general_purpose::STANDARD.encode(value.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotconf::{MemoryProvider, Reloader, Startup};
    use serde_json::json;

    fn renderer(dir: &Path, template: &str) -> Result<Renderer> {
        let path = dir.join("app.tpl");
        std::fs::write(&path, template).unwrap();
        Renderer::new(&[(path, dir.join("app.conf"))], None, Some("APP_".into()))
    }

    async fn snapshot(config: Value) -> Arc<Snapshot<Value>> {
        let (provider, handle) = MemoryProvider::new("memory:app");
        handle.set_tree(config);
        let reloader = Reloader::<Value>::builder()
            .layer(provider)
            .startup(Startup::FailFast)
            .start()
            .await
            .unwrap();
        reloader.store().get()
    }

    fn text(rendered: &Rendered) -> &str {
        std::str::from_utf8(&rendered.files[0]).unwrap()
    }

    #[tokio::test]
    async fn templates_see_config_version_revisions_and_the_filters() {
        let dir = tempfile::tempdir().unwrap();
        let template = "host={{ config.db.host }}\nport={{ config.db.port }}\n\
            tls={{ config.db.tls | default(\"off\") }}\nv={{ version }} n={{ revisions | length }}\n\
            j={{ config.db | tojson }}\nb={{ config.db.host | b64encode }}\n<{{ \"&\" }}>\n";
        let rendered = renderer(dir.path(), template)
            .unwrap()
            .render(&snapshot(json!({"db": {"host": "h<1>", "port": 5432}})).await)
            .unwrap();
        assert_eq!(
            text(&rendered),
            "host=h<1>\nport=5432\ntls=off\nv=1 n=1\nj={\"host\":\"h<1>\",\"port\":5432}\nb=aDwxPg==\n<&>\n",
            "no HTML escaping, the trailing newline kept"
        );
        assert_eq!(
            rendered.env,
            vec![
                ("APP_DB__HOST".into(), "h<1>".into()),
                ("APP_DB__PORT".into(), "5432".into())
            ]
        );
    }

    #[tokio::test]
    async fn a_missing_key_is_an_error_naming_template_and_line_never_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let snapshot = snapshot(json!({"db": {"password": "hunter2-secret"}})).await;
        for (template, line) in [
            ("a\n{{ config.db.host }}\n", 2),
            ("a\nb\n{% if config.db.tls %}x{% endif %}\n", 3),
            ("{{ config.db.password + 1 }}", 1),
            ("{{ config.db.password | totoml }}", 1),
            ("{% include config.db.password %}", 1),
            ("{{ config.db.password | int }}", 1),
        ] {
            let error = renderer(dir.path(), template)
                .unwrap()
                .render(&snapshot)
                .unwrap_err()
                .to_string();
            let name = dir.path().join("app.tpl").display().to_string();
            assert!(
                error.contains(&format!("template {name} line {line}:")),
                "{error}"
            );
            assert!(!error.contains("hunter2"), "{error}");
        }
    }

    #[tokio::test]
    async fn an_error_in_an_included_template_names_both_templates() {
        let dir = tempfile::tempdir().unwrap();
        let (outer, inner) = (dir.path().join("outer.tpl"), dir.path().join("inner.tpl"));
        std::fs::write(
            &outer,
            format!("a\n{{% include {:?} %}}\n", inner.display()),
        )
        .unwrap();
        std::fs::write(&inner, "{% if config.x %}{{ config.db.port }}{% endif %}").unwrap();
        let renderer = Renderer::new(
            &[
                (outer.clone(), dir.path().join("outer.conf")),
                (inner.clone(), dir.path().join("inner.conf")),
            ],
            None,
            None,
        )
        .unwrap();
        let snapshot = snapshot(json!({"x": "on", "db": {"password": "hunter2-secret"}})).await;
        let error = renderer.render(&snapshot).unwrap_err().to_string();
        let (outer, inner) = (outer.display(), inner.display());
        assert!(
            error.contains(&format!(
                "template {outer} line 2: could not render include (`include \"{inner}\"`): \
                 template {inner} line 1: undefined value (`config.db.port`)"
            )),
            "{error}"
        );
    }

    #[test]
    fn a_syntax_error_is_refused_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let error = renderer(dir.path(), "a\n{{ config.db ").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Config);
        assert!(error.to_string().contains("line 2"), "{error}");
        let missing = Renderer::new(
            &[(dir.path().join("nope"), dir.path().join("x"))],
            None,
            None,
        );
        assert!(missing.is_err());
    }
}
