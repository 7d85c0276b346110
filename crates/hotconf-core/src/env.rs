//! `EnvProvider`: environment variables with a prefix as a static layer.

use async_trait::async_trait;
use figment::providers::Env;

use crate::error::Result;
use crate::layer::Layer;
use crate::provider::{Capabilities, Metadata, Provider};

/// Environment variables starting with a prefix, as a static layer: `APP_DB__PORT=5432` with
/// prefix `APP_` becomes `db.port = 5432`. Names are lower-cased, `__` nests, and values are
/// typed the way figment types them (`5432` a number, `true` a boolean, `[1, 2]` an array,
/// anything else a string). Read once, when the reloader starts.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use hotconf_core::{EnvProvider, Provider};
/// let env = EnvProvider::prefixed("HOTCONF_DOC_EXAMPLE_");
/// assert_eq!(env.metadata().name, "env:HOTCONF_DOC_EXAMPLE_");
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct EnvProvider {
    prefix: String,
}

impl EnvProvider {
    /// The variables starting with `prefix` (the prefix is removed from the keys).
    pub fn prefixed(prefix: &str) -> Self {
        EnvProvider {
            prefix: prefix.to_owned(),
        }
    }
}

#[async_trait]
impl Provider for EnvProvider {
    fn metadata(&self) -> Metadata {
        Metadata::new(format!("env:{}", self.prefix), Capabilities::STATIC)
    }

    async fn load(&self) -> Result<Layer> {
        self.check_depth(crate::format::Limits::default().max_depth)?;
        // figment's `Env` is not `Sync`: build it here, on each load.
        let env = Env::prefixed(&self.prefix).split("__");
        crate::figment_provider::layer_from(&env, &self.metadata().name)
    }
}

impl EnvProvider {
    /// Refuses a variable nested deeper than `max_depth` (by `__` in its name, or by `[`/`{`
    /// in its value) before figment's recursive parser sees it: a value of 100 000 `[` would
    /// overflow the stack there, before any depth limit runs.
    fn check_depth(&self, max_depth: usize) -> Result<()> {
        for (name, value) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if !name
                .to_ascii_lowercase()
                .starts_with(&self.prefix.to_ascii_lowercase())
            {
                continue;
            }
            let value = value.to_string_lossy();
            let depth = name.matches("__").count() + nesting(&value);
            if depth > max_depth {
                return Err(crate::error::Error::new(
                    crate::error::ErrorKind::Parse,
                    format!("is nested deeper than {max_depth} levels"),
                )
                .with_key(name.into_owned())
                .with_source_name(self.metadata().name));
            }
        }
        Ok(())
    }
}

/// The deepest nesting of `[` and `{` in `text` (an upper bound of what figment would parse).
fn nesting(text: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    for c in text.chars() {
        match c {
            '[' | '{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}
