//! A throwaway certificate authority for TLS tests: a CA, a server certificate for `localhost`
//! and `127.0.0.1`, and a client certificate, written as PEM files in a temporary directory
//! (and kept as DER for servers built in process).

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    SanType,
};

/// One certificate and its private key.
pub struct Issued {
    /// The certificate, PEM.
    pub cert: PathBuf,
    /// Its private key, PKCS#8 PEM.
    pub key: PathBuf,
    /// The certificate, DER.
    pub cert_der: Vec<u8>,
    /// Its private key, PKCS#8 DER.
    pub key_der: Vec<u8>,
}

/// A CA with one server and one client certificate; the files go with it.
pub struct TestPki {
    /// The CA certificate, PEM.
    pub ca: PathBuf,
    /// The CA certificate, DER.
    pub ca_der: Vec<u8>,
    /// For the server: `localhost` and `127.0.0.1`, server auth.
    pub server: Issued,
    /// For the client: client auth.
    pub client: Issued,
    _dir: tempfile::TempDir,
}

impl TestPki {
    /// Makes a new CA and its two certificates.
    ///
    /// # Panics
    /// When key generation or signing fails (it does not with rcgen's defaults).
    pub fn new() -> TestPki {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().expect("a CA key");
        let ca = CertifiedIssuer::self_signed(params, key).expect("a self-signed CA");
        let issue = |name: &str, purpose: ExtendedKeyUsagePurpose| {
            let key = KeyPair::generate().expect("a key");
            let mut params =
                CertificateParams::new(vec!["localhost".to_owned()]).expect("parameters");
            params
                .subject_alt_names
                .push(SanType::IpAddress([127, 0, 0, 1].into()));
            params.extended_key_usages = vec![purpose];
            let cert = params.signed_by(&key, &ca).expect("a signed certificate");
            Issued {
                cert: write(dir.path(), &format!("{name}.pem"), &cert.pem()),
                key: write(dir.path(), &format!("{name}-key.pem"), &key.serialize_pem()),
                cert_der: cert.der().to_vec(),
                key_der: key.serialize_der(),
            }
        };
        let server = issue("server", ExtendedKeyUsagePurpose::ServerAuth);
        let client = issue("client", ExtendedKeyUsagePurpose::ClientAuth);
        TestPki {
            ca: write(dir.path(), "ca.pem", &ca.pem()),
            ca_der: ca.der().to_vec(),
            server,
            client,
            _dir: dir,
        }
    }
}

impl TestPki {
    /// A TLS server configuration presenting the server certificate (no client certificate
    /// asked for).
    ///
    /// # Panics
    /// When rustls refuses the certificate (it does not refuse these).
    pub fn server_config(&self) -> std::sync::Arc<tokio_rustls::rustls::ServerConfig> {
        use tokio_rustls::rustls;
        use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(self.server.cert_der.clone())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server.key_der.clone())),
            )
            .expect("the server certificate");
        std::sync::Arc::new(config)
    }
}

/// A TLS front for a plain server: connections to a free loopback port are decrypted and passed
/// on to `target` (`host:port`); dropping it stops it. Call inside a tokio runtime.
pub struct TlsFront {
    addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl TlsFront {
    /// Serves `config` on a free loopback port in front of `target`.
    pub async fn start(
        target: &str,
        config: std::sync::Arc<tokio_rustls::rustls::ServerConfig>,
    ) -> TlsFront {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("a free loopback port");
        let addr = listener.local_addr().expect("a bound address");
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let target = target.to_owned();
        let task = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let (acceptor, target) = (acceptor.clone(), target.clone());
                tokio::spawn(async move {
                    let Ok(mut inbound) = acceptor.accept(inbound).await else {
                        return;
                    };
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                });
            }
        });
        TlsFront { addr, task }
    }

    /// The front's `host:port`.
    pub fn endpoint(&self) -> String {
        self.addr.to_string()
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Default for TestPki {
    fn default() -> Self {
        TestPki::new()
    }
}

fn write(dir: &Path, name: &str, pem: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, pem).expect("a PEM file written");
    path
}
