//! The reqwest client every backend builds the same way.

use std::path::Path;
use std::time::Duration;

use hotconf_core::provider::TlsFiles;
use hotconf_core::{Error, ErrorKind, Result};
use reqwest::{redirect, Certificate, Identity};

/// How a backend's HTTP client connects. [`Default`]: connect within 5 s, TCP keepalive on, no
/// TLS files (plain HTTP, or HTTPS with the system's roots), no overall request deadline (each
/// request sets its own: a long poll is held for minutes).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpOptions {
    /// The deadline of a connection's set-up (TCP and TLS).
    pub connect_timeout: Duration,
    /// A deadline for every request of this client; `None`: each request sets its own.
    pub request_timeout: Option<Duration>,
    /// TCP keepalive (15 s idle, then 3 probes 5 s apart): a held request notices a peer that
    /// vanished without a reset in about 30 s, not at its own deadline.
    pub keepalive: bool,
    /// A CA (the only trusted root when set) and a client certificate.
    pub tls: Option<TlsFiles>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            connect_timeout: Duration::from_secs(5),
            request_timeout: None,
            keepalive: true,
            tls: None,
        }
    }
}

impl HttpOptions {
    /// These options with `tls`.
    pub fn tls(mut self, tls: Option<TlsFiles>) -> Self {
        self.tls = tls;
        self
    }

    /// These options with a deadline for every request.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }
}

/// A client for `backend` (named in its errors) with `options`. Redirects are never followed.
/// No proxy is taken from the environment (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`): a config
/// client goes straight to the server it names, and a proxy on plain HTTP would see every
/// token and password; a server behind a proxy is named by the proxy's address.
///
/// # Errors
/// A permanent [`ErrorKind::Config`] error for a TLS file that cannot be read or parsed, or a
/// client that cannot be built.
pub fn client(backend: &str, options: &HttpOptions) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .connect_timeout(options.connect_timeout)
        .pool_idle_timeout(Duration::from_secs(90))
        .no_proxy()
        .user_agent(concat!("hotconf/", env!("CARGO_PKG_VERSION")))
        .redirect(redirect::Policy::none());
    if options.keepalive {
        builder = builder
            .tcp_keepalive(Duration::from_secs(15))
            .tcp_keepalive_interval(Duration::from_secs(5))
            .tcp_keepalive_retries(3);
    }
    if let Some(timeout) = options.request_timeout {
        builder = builder.timeout(timeout);
    }
    if let Some(tls) = &options.tls {
        builder = with_tls(builder, tls, backend)?;
    }
    builder.build().map_err(|e| {
        Error::new(
            ErrorKind::Config,
            format!("{backend}: cannot build the HTTP client"),
        )
        .with_transient(false)
        .with_cause(e)
    })
}

fn with_tls(
    mut builder: reqwest::ClientBuilder,
    tls: &TlsFiles,
    backend: &str,
) -> Result<reqwest::ClientBuilder> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|e| {
            Error::new(ErrorKind::Config, format!("cannot read {}", path.display())).with_cause(e)
        })
    };
    let bad = |what: &str, e: reqwest::Error| {
        Error::new(ErrorKind::Config, format!("{backend}: bad TLS {what}")).with_cause(e)
    };
    if let Some(ca) = &tls.ca {
        let certificates = Certificate::from_pem_bundle(&read(ca)?).map_err(|e| bad("CA", e))?;
        builder = builder.tls_built_in_root_certs(false);
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    if let Some((cert, key)) = &tls.identity {
        let mut pem = read(cert)?;
        pem.push(b'\n');
        pem.extend(read(key)?);
        builder =
            builder.identity(Identity::from_pem(&pem).map_err(|e| bad("client certificate", e))?);
    }
    Ok(builder)
}
