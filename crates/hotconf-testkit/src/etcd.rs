//! Real etcd servers for tests: one member or a cluster, on free loopback ports, in temporary
//! directories, with handles to stop, kill and restart members, find the leader, and run
//! `etcdctl`. Needs `etcd` and `etcdctl` on PATH (Debian: `apt-get install etcd-server
//! etcd-client`); without them a test fails with that message, it never skips.

use crate::ports::free_port;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Server-side TLS files for a cluster (PEM).
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// The server certificate (valid for 127.0.0.1).
    pub cert: PathBuf,
    /// Its key.
    pub key: PathBuf,
    /// The CA clients must be signed by (`--client-cert-auth`), and that signed `cert`.
    pub ca: PathBuf,
}

/// Client credentials `etcdctl` uses against a TLS cluster.
#[derive(Debug, Clone)]
pub struct ClientTls {
    /// The CA that signed the servers.
    pub ca: PathBuf,
    /// A client certificate.
    pub cert: PathBuf,
    /// Its key.
    pub key: PathBuf,
}

/// How to start a cluster.
#[derive(Debug, Clone, Default)]
pub struct EtcdOptions {
    /// Members (default 1).
    pub members: usize,
    /// Extra `etcd` flags, e.g. `--auth-token-ttl 2`.
    pub args: Vec<String>,
    /// Serve TLS to clients.
    pub tls: Option<(ServerTls, ClientTls)>,
}

struct Member {
    name: String,
    client_port: u16,
    peer_port: u16,
    data_dir: PathBuf,
    child: Option<Child>,
}

/// A running etcd cluster; dropping it kills every member.
pub struct EtcdCluster {
    members: Vec<Member>,
    options: EtcdOptions,
    /// `user:password` for etcdctl once auth is on.
    auth: Option<String>,
    _dir: tempfile::TempDir,
}

fn require(binary: &str) {
    let found = Command::new(binary)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(found, "`{binary}` is not on PATH: install it with `apt-get install etcd-server etcd-client` (scripts/test.sh does)");
}

impl EtcdCluster {
    /// One member.
    pub fn single() -> EtcdCluster {
        EtcdCluster::start(EtcdOptions {
            members: 1,
            ..EtcdOptions::default()
        })
    }

    /// Starts a cluster and waits until every member is healthy.
    pub fn start(options: EtcdOptions) -> EtcdCluster {
        require("etcd");
        require("etcdctl");
        let dir = tempfile::tempdir().expect("a temporary directory");
        let members = (0..options.members.max(1))
            .map(|i| Member {
                name: format!("m{i}"),
                client_port: free_port(),
                peer_port: free_port(),
                data_dir: dir.path().join(format!("m{i}")),
                child: None,
            })
            .collect();
        let mut cluster = EtcdCluster {
            members,
            options,
            auth: None,
            _dir: dir,
        };
        for i in 0..cluster.members.len() {
            cluster.spawn(i, "new");
        }
        for i in 0..cluster.members.len() {
            cluster.wait_healthy(i);
        }
        cluster
    }

    fn scheme(&self) -> &'static str {
        if self.options.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    fn spawn(&mut self, i: usize, state: &str) {
        let initial_cluster: Vec<String> = self
            .members
            .iter()
            .map(|m| format!("{}=http://127.0.0.1:{}", m.name, m.peer_port))
            .collect();
        let scheme = self.scheme();
        let member = &self.members[i];
        let client_url = format!("{scheme}://127.0.0.1:{}", member.client_port);
        let peer_url = format!("http://127.0.0.1:{}", member.peer_port);
        let mut command = Command::new("etcd");
        command
            .args(["--name", &member.name, "--data-dir"])
            .arg(&member.data_dir)
            .args([
                "--listen-client-urls",
                &client_url,
                "--advertise-client-urls",
                &client_url,
            ])
            .args([
                "--listen-peer-urls",
                &peer_url,
                "--initial-advertise-peer-urls",
                &peer_url,
            ])
            .args([
                "--initial-cluster",
                &initial_cluster.join(","),
                "--initial-cluster-state",
                state,
            ])
            .args(["--unsafe-no-fsync", "--log-level", "error"])
            .args(&self.options.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some((server, _)) = &self.options.tls {
            command
                .arg("--cert-file")
                .arg(&server.cert)
                .arg("--key-file")
                .arg(&server.key);
            command
                .arg("--trusted-ca-file")
                .arg(&server.ca)
                .arg("--client-cert-auth");
        }
        let child = command.spawn().expect("etcd starts");
        self.members[i].child = Some(child);
    }

    fn wait_healthy(&self, i: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = self.etcdctl_at(&[i], &["endpoint", "health"]);
            if out.is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "etcd member {i} did not become healthy: {out:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `host:port` of every member.
    pub fn endpoints(&self) -> Vec<String> {
        self.members
            .iter()
            .map(|m| format!("127.0.0.1:{}", m.client_port))
            .collect()
    }

    /// `host:port` of one member.
    pub fn endpoint(&self, i: usize) -> String {
        format!("127.0.0.1:{}", self.members[i].client_port)
    }

    /// Runs `etcdctl` against every running member; returns stdout, or stderr as the error.
    pub fn etcdctl(&self, args: &[&str]) -> Result<String, String> {
        let running: Vec<usize> = (0..self.members.len())
            .filter(|&i| self.members[i].child.is_some())
            .collect();
        self.etcdctl_at(&running, args)
    }

    fn etcdctl_at(&self, members: &[usize], args: &[&str]) -> Result<String, String> {
        let endpoints: Vec<String> = members
            .iter()
            .map(|&i| format!("{}://{}", self.scheme(), self.endpoint(i)))
            .collect();
        let mut command = Command::new("etcdctl");
        command
            .env("ETCDCTL_API", "3")
            .arg("--endpoints")
            .arg(endpoints.join(","))
            .arg("--command-timeout=5s");
        if let Some((_, client)) = &self.options.tls {
            command
                .arg("--cacert")
                .arg(&client.ca)
                .arg("--cert")
                .arg(&client.cert)
                .arg("--key")
                .arg(&client.key);
        }
        if let Some(auth) = &self.auth {
            command.arg("--user").arg(auth);
        }
        let output = command.args(args).output().map_err(|e| e.to_string())?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }

    /// Like [`etcdctl`](Self::etcdctl), panicking on failure.
    pub fn ctl(&self, args: &[&str]) -> String {
        self.etcdctl(args)
            .unwrap_or_else(|e| panic!("etcdctl {args:?}: {e}"))
    }

    /// Turns auth on with a `root` user; etcdctl then uses it.
    pub fn enable_auth(&mut self, root_password: &str) {
        self.ctl(&["user", "add", &format!("root:{root_password}")]);
        self.ctl(&["auth", "enable"]);
        self.auth = Some(format!("root:{root_password}"));
    }

    /// The index of the current leader.
    pub fn leader(&self) -> usize {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            for i in 0..self.members.len() {
                if self.members[i].child.is_none() {
                    continue;
                }
                if let Ok(json) = self.etcdctl_at(&[i], &["endpoint", "status", "-w", "json"]) {
                    let status: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
                    let header = &status[0]["Status"]["header"];
                    if header["member_id"].as_u64().is_some()
                        && header["member_id"] == status[0]["Status"]["leader"]
                    {
                        return i;
                    }
                }
            }
            assert!(Instant::now() < deadline, "no leader");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The current store revision.
    pub fn revision(&self) -> i64 {
        let json = self.ctl(&["get", "hotconf-testkit-probe", "-w", "json"]);
        let value: serde_json::Value = serde_json::from_str(&json).expect("etcdctl prints JSON");
        value["header"]["revision"].as_i64().expect("a revision")
    }

    /// Compacts the history up to the current revision.
    pub fn compact(&self) {
        let revision = self.revision();
        self.ctl(&["compaction", "--physical", &revision.to_string()]);
    }

    /// Stops member `i` gracefully (SIGTERM) and waits for it to exit.
    pub fn stop(&mut self, i: usize) {
        if let Some(mut child) = self.members[i].child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let _ = child.wait();
        }
    }

    /// Kills member `i` (SIGKILL).
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.members[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts member `i` again on its data directory and waits until it is healthy.
    pub fn restart(&mut self, i: usize) {
        self.spawn(i, "existing");
        self.wait_healthy(i);
    }

    /// The data directory of member `i`.
    pub fn data_dir(&self, i: usize) -> &Path {
        &self.members[i].data_dir
    }
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.kill(i);
        }
    }
}
