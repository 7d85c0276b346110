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
