//! `--admin ADDR [--admin-token-file F]`: the admin API, page and metrics of `hotconf watch`.

use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;

use hotconf::{Error, ErrorKind, Reloader, Result};
use hotconf_admin::{Admin, RunningServer, Server};
use prometheus_client::registry::Registry;
use serde_json::Value;
use tokio::net::TcpListener;

/// The longest token file read: a bearer token is a line, not a document.
const MAX_TOKEN_BYTES: u64 = 4096;

/// The admin address, bound before the sources are followed (an address in use is a usage
/// error at once), and the token for writes.
pub(crate) struct Listener {
    listener: TcpListener,
    token: Option<String>,
}

impl Listener {
    /// Binds `addr` and reads the token file; `None` without `--admin`.
    pub(crate) async fn bind(
        addr: Option<SocketAddr>,
        token_file: Option<&Path>,
    ) -> Result<Option<Listener>> {
        let Some(addr) = addr else { return Ok(None) };
        let token = token_file.map(read_token).transpose()?;
        let listener = TcpListener::bind(addr).await.map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!("cannot serve the admin API on {addr}"),
            )
            .with_cause(e)
        })?;
        Ok(Some(Listener { listener, token }))
    }

    /// Serves the admin router of `reloader`, with its metrics, and says where on stderr.
    pub(crate) fn serve(self, reloader: &Reloader<Value>) -> RunningServer {
        let mut registry = Registry::default();
        hotconf::metrics::register(reloader, &mut registry);
        let mut admin = Admin::reloader(reloader).registry(registry.into());
        if let Some(token) = &self.token {
            admin = admin.token(token);
        }
        let writes = if admin.writes_enabled() {
            "rollback and unpin enabled"
        } else {
            "read-only"
        };
        let server = Server::from_listener(admin.router(), self.listener)
            .expect("a bound listener has an address");
        eprintln!(
            "hotconf: admin on http://{}/ ({writes})",
            server.local_addr()
        );
        server.spawn()
    }
}

/// The token in `path`: a regular file, at most 4 KiB, surrounding whitespace ignored.
fn read_token(path: &Path) -> Result<String> {
    let fail = |what: &str| {
        Error::new(
            ErrorKind::Config,
            format!("the admin token file {}: {what}", path.display()),
        )
    };
    // Checked before opening: opening a FIFO would wait for a writer.
    let metadata = std::fs::metadata(path).map_err(|e| fail("cannot be read").with_cause(e))?;
    if !metadata.is_file() {
        return Err(fail("is not a regular file"));
    }
    let file = std::fs::File::open(path).map_err(|e| fail("cannot be opened").with_cause(e))?;
    let mut text = String::new();
    file.take(MAX_TOKEN_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| fail("is not UTF-8 text").with_cause(e))?;
    if text.len() as u64 > MAX_TOKEN_BYTES {
        return Err(fail("is larger than 4 KiB"));
    }
    let token = text.trim();
    if token.is_empty() {
        return Err(fail("is empty"));
    }
    Ok(token.to_owned())
}
