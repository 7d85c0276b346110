//! Real etcd servers for tests: one member or a cluster, on free loopback ports, in temporary
//! directories, with handles to stop, kill and restart members, find the leader, and run
//! `etcdctl`, save and restore snapshots, and read `/metrics`; and [`EtcdProxy`], a TCP proxy that
//! can freeze traffic or slow it down. Needs `etcd` and `etcdctl` on PATH (Debian: `apt-get
//! install etcd-server etcd-client`); without them a test fails with that message, it never skips.

use crate::ports::free_port;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

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
    dir: tempfile::TempDir,
    /// Snapshots saved and data directories restored so far (for unique names).
    generation: usize,
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
            dir,
            generation: 0,
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

    /// Saves a snapshot of member `i` (`etcdctl snapshot save`) in the cluster's temporary
    /// directory and returns its path.
    pub fn snapshot_save(&mut self, i: usize) -> PathBuf {
        self.generation += 1;
        let path = self
            .dir
            .path()
            .join(format!("snapshot-{}.db", self.generation));
        let file = path.to_str().expect("a UTF-8 temporary path").to_owned();
        self.etcdctl_at(&[i], &["snapshot", "save", &file])
            .unwrap_or_else(|e| panic!("etcdctl snapshot save: {e}"));
        path
    }

    /// Restores the whole cluster from `snapshot` the way an operator does after a disaster:
    /// stops every member, `etcdctl snapshot restore`s each into a new data directory, starts
    /// them on it (same names and ports) and waits until they are healthy. The store revision
    /// goes back to the snapshot's. Auth, if it was enabled after the snapshot, is gone.
    pub fn restore_snapshot(&mut self, snapshot: &Path) {
        for i in 0..self.members.len() {
            self.stop(i);
        }
        self.generation += 1;
        let initial_cluster: Vec<String> = self
            .members
            .iter()
            .map(|m| format!("{}=http://127.0.0.1:{}", m.name, m.peer_port))
            .collect();
        for i in 0..self.members.len() {
            let member = &self.members[i];
            let data_dir = self
                .dir
                .path()
                .join(format!("{}-restored-{}", member.name, self.generation));
            let output = Command::new("etcdctl")
                .env("ETCDCTL_API", "3")
                .args(["snapshot", "restore"])
                .arg(snapshot)
                .arg("--data-dir")
                .arg(&data_dir)
                .args(["--name", &member.name])
                .args(["--initial-cluster", &initial_cluster.join(",")])
                .arg("--initial-advertise-peer-urls")
                .arg(format!("http://127.0.0.1:{}", member.peer_port))
                .output()
                .expect("etcdctl runs");
            assert!(
                output.status.success(),
                "etcdctl snapshot restore: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            self.members[i].data_dir = data_dir;
        }
        self.auth = None;
        for i in 0..self.members.len() {
            self.spawn(i, "new");
        }
        for i in 0..self.members.len() {
            self.wait_healthy(i);
        }
    }

    /// The value of the Prometheus sample `name` (the whole name, such as
    /// `etcd_mvcc_range_total`) on member `i`'s `/metrics` (plain HTTP clusters only).
    pub fn metric(&self, i: usize, name: &str) -> f64 {
        let mut stream = std::net::TcpStream::connect(self.endpoint(i)).expect("etcd is up");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("a read timeout");
        stream
            .write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .expect("the request is sent");
        let mut text = String::new();
        stream
            .read_to_string(&mut text)
            .expect("the metrics are read");
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or_else(|| panic!("no metric `{name}` on member {i}"))
    }
}

/// A loopback TCP proxy in front of an etcd member that can **freeze** traffic (stop forwarding
/// in both directions without closing anything: a member that accepts connections and then never
/// answers, HTTP/2 pings included) and **thaw** it again, and can add a fixed delay to every chunk
/// it forwards (a slow network). New connections are accepted while frozen and held too.
pub struct EtcdProxy {
    addr: SocketAddr,
    frozen: Arc<watch::Sender<bool>>,
    tasks: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl EtcdProxy {
    /// Proxies a free loopback port to `target` (`host:port`). Call inside a tokio runtime.
    pub async fn start(target: &str) -> EtcdProxy {
        EtcdProxy::with_delay(target, Duration::ZERO).await
    }

    /// Like [`start`](Self::start), delaying every forwarded chunk by `delay`.
    pub async fn with_delay(target: &str, delay: Duration) -> EtcdProxy {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("a free loopback port");
        let addr = listener.local_addr().expect("a bound address");
        let frozen = Arc::new(watch::Sender::new(false));
        let tasks: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let target = target.to_owned();
        let gate = frozen.clone();
        let handles = tasks.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    return;
                };
                let Ok(outbound) = TcpStream::connect(&target).await else {
                    continue; // the member is down: the client sees the connection close
                };
                let (in_read, in_write) = inbound.into_split();
                let (out_read, out_write) = outbound.into_split();
                let up = tokio::spawn(pump(in_read, out_write, gate.subscribe(), delay));
                let down = tokio::spawn(pump(out_read, in_write, gate.subscribe(), delay));
                let mut handles = handles.lock().unwrap_or_else(|p| p.into_inner());
                handles.retain(|h: &tokio::task::AbortHandle| !h.is_finished());
                handles.extend([up.abort_handle(), down.abort_handle()]);
            }
        });
        tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(accept.abort_handle());
        EtcdProxy {
            addr,
            frozen,
            tasks,
        }
    }

    /// The proxy's `host:port`.
    pub fn endpoint(&self) -> String {
        self.addr.to_string()
    }

    /// Stops forwarding anything, in both directions, without closing a connection.
    pub fn freeze(&self) {
        self.frozen.send_replace(true);
    }

    /// Forwards again, starting with whatever was held.
    pub fn thaw(&self) {
        self.frozen.send_replace(false);
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut frozen: watch::Receiver<bool>,
    delay: Duration,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if frozen.wait_for(|frozen| !frozen).await.is_err() {
            return;
        }
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}

impl Drop for EtcdProxy {
    fn drop(&mut self) {
        for task in self
            .tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            task.abort();
        }
    }
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.kill(i);
        }
    }
}
