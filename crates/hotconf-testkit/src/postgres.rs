//! A throwaway PostgreSQL server for tests: `initdb` in a temporary directory, a superuser
//! `hotconf` with a random password, `password_encryption = scram-sha-256` and SCRAM logins over
//! TCP on a free port of 127.0.0.1 only (the Unix socket lives in the temporary directory), and
//! `psql` to check logins and run queries. Dropping it stops the server (`pg_ctl stop -m
//! immediate`) and removes the directory.
//!
//! The binaries are the newest of `/usr/lib/postgresql/*/bin` (Debian's `postgresql`), else
//! `pg_config --bindir`; without them a test fails with the install hint, it never skips. initdb
//! and the server refuse to run as root: as root, they run as the `postgres` system user (the
//! Debian package creates it) through `runuser`, in a directory given to that user.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use crate::ports::free_port;

/// The superuser initdb creates.
const SUPERUSER: &str = "hotconf";
/// How long `pg_ctl` waits for the server to start or stop (seconds).
const PG_CTL_WAIT: &str = "30";
/// How to install the server, in every "not found" message.
const INSTALL_HINT: &str =
    "install PostgreSQL with `apt-get install postgresql` (scripts/test.sh does)";

/// A running PostgreSQL server; dropping it stops it and removes its files.
pub struct Postgres {
    bindir: PathBuf,
    /// The system user the server runs as when the tests run as root.
    run_as: Option<&'static str>,
    port: u16,
    password: String,
    dir: tempfile::TempDir,
    running: bool,
}

/// The directory with `initdb`, `pg_ctl` and `postgres`: the newest
/// `/usr/lib/postgresql/<major>/bin`, else `pg_config --bindir`. Looked up once per process.
fn bindir() -> PathBuf {
    static FOUND: OnceLock<Option<PathBuf>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let mut majors: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|entry| {
                    let major = entry.file_name().to_str()?.parse().ok()?;
                    let bin = entry.path().join("bin");
                    bin.join("initdb").is_file().then_some((major, bin))
                })
                .collect();
            majors.sort();
            if let Some((_, bin)) = majors.pop() {
                return Some(bin);
            }
            let output = Command::new("pg_config").arg("--bindir").output().ok()?;
            let bin = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
            bin.join("initdb").is_file().then_some(bin)
        })
        .clone()
        .unwrap_or_else(|| {
            panic!("no PostgreSQL server binaries (initdb) in /usr/lib/postgresql/*/bin or pg_config --bindir: {INSTALL_HINT}")
        })
}

/// `postgres` when this process runs as root (initdb refuses root), else `None`.
fn run_as() -> Option<&'static str> {
    static ROOT: OnceLock<bool> = OnceLock::new();
    let root = *ROOT.get_or_init(|| {
        Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
    });
    root.then_some("postgres")
}

/// The numeric id `id <flag> <user>` prints.
fn id_of(flag: &str, user: &str) -> u32 {
    let output = Command::new("id")
        .args([flag, user])
        .output()
        .expect("`id` runs");
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| {
            panic!("the tests run as root, so PostgreSQL must run as the `{user}` system user, and there is none: {INSTALL_HINT} (the package creates it)")
        })
}

/// `output`'s stdout and stderr, for failure messages.
fn both(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

impl Postgres {
    /// Runs `initdb`, starts the server on a free loopback port and waits until it accepts
    /// connections (`pg_ctl start -w`) and the superuser can log in over TCP (about 1 s).
    ///
    /// # Panics
    /// When the binaries or `psql` are missing (with the install hint), or initdb or the server
    /// fails (with its output or log).
    pub fn start() -> Postgres {
        let bindir = bindir();
        let run_as = run_as();
        let dir = tempfile::Builder::new()
            .prefix("hotconf-pg-")
            .tempdir()
            .expect("a temporary directory");
        let password: String = (0..24).map(|_| fastrand::alphanumeric()).collect();
        let mut postgres = Postgres {
            bindir,
            run_as,
            port: free_port(),
            password,
            dir,
            running: false,
        };
        postgres.give(postgres.dir.path());
        postgres.initdb();
        postgres.configure();
        postgres.start_server();
        postgres.running = true;
        let (user, password) = postgres.superuser();
        assert!(
            postgres.can_login(&user, &password),
            "the superuser cannot log in over TCP; the server's log:\n{}",
            postgres.log()
        );
        postgres
    }

    /// Hands `path` to the server's user (when running as root).
    fn give(&self, path: &Path) {
        if let Some(user) = self.run_as {
            std::os::unix::fs::chown(path, Some(id_of("-u", user)), Some(id_of("-g", user)))
                .unwrap_or_else(|e| panic!("chown {} to {user}: {e}", path.display()));
        }
    }

    /// A command for one of the server's binaries, run as its user.
    fn server_command(&self, binary: &str) -> Command {
        let program = self.bindir.join(binary);
        let mut command = match self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(program);
                command
            }
            None => Command::new(program),
        };
        command
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .env_remove("PGDATA");
        command
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn initdb(&self) {
        let pwfile = self.dir.path().join("pwfile");
        std::fs::write(&pwfile, &self.password).expect("the password file is written");
        std::fs::set_permissions(&pwfile, std::fs::Permissions::from_mode(0o600))
            .expect("the password file is private");
        self.give(&pwfile);
        let output = self
            .server_command("initdb")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-U", SUPERUSER])
            .arg(format!("--pwfile={}", pwfile.display()))
            .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
            .args(["-E", "UTF8", "--no-locale", "--no-sync"])
            .output()
            .unwrap_or_else(|e| panic!("initdb did not run: {e}"));
        let _ = std::fs::remove_file(&pwfile);
        assert!(
            output.status.success(),
            "initdb failed ({}): {}",
            output.status,
            both(&output)
        );
    }

    /// Appends the settings to postgresql.conf (the last value of a setting wins) and writes
    /// pg_hba.conf: trust on the private socket, SCRAM over TCP from 127.0.0.1.
    fn configure(&self) {
        let socket = self.dir.path().display();
        let settings = format!(
            "\n# hotconf-testkit\nlisten_addresses = '127.0.0.1'\nport = {}\n\
             unix_socket_directories = '{socket}'\npassword_encryption = 'scram-sha-256'\n\
             fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 50\n",
            self.port
        );
        let conf = self.data_dir().join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).expect("postgresql.conf is read");
        text.push_str(&settings);
        std::fs::write(&conf, text).expect("postgresql.conf is written");
        std::fs::write(
            self.data_dir().join("pg_hba.conf"),
            "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n",
        )
        .expect("pg_hba.conf is written");
    }

    /// `pg_ctl start -w`: starts the server with its log in the temporary directory and waits
    /// until it accepts connections.
    fn start_server(&self) {
        let output = self
            .server_command("pg_ctl")
            .args(["start", "-w", "-t", PG_CTL_WAIT, "-l"])
            .arg(self.log_path())
            .arg("-D")
            .arg(self.data_dir())
            .output()
            .unwrap_or_else(|e| panic!("pg_ctl did not run: {e}"));
        assert!(
            output.status.success(),
            "pg_ctl start failed ({}): {}; the server's log:\n{}",
            output.status,
            both(&output),
            self.log()
        );
    }

    /// The port it listens on (127.0.0.1 only).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The superuser's name (`hotconf`) and password.
    pub fn superuser(&self) -> (String, String) {
        (SUPERUSER.to_owned(), self.password.clone())
    }

    /// `postgresql://hotconf:<password>@127.0.0.1:<port>/postgres?sslmode=disable`.
    pub fn connection_url(&self) -> String {
        format!(
            "postgresql://{SUPERUSER}:{}@127.0.0.1:{}/postgres?sslmode=disable",
            self.password, self.port
        )
    }

    /// The connection URL template OpenBao's and Vault's database engine takes, with the
    /// credentials left to it: `postgresql://{{username}}:{{password}}@127.0.0.1:<port>/postgres?sslmode=disable`.
    pub fn engine_connection_url(&self) -> String {
        format!(
            "postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{}/postgres?sslmode=disable",
            self.port
        )
    }

    /// Whether `user` can log in with `password` over TCP (`psql -h 127.0.0.1 -c 'select 1'`):
    /// false for a wrong password, an unknown or dropped role, or one past its `VALID UNTIL`.
    ///
    /// # Panics
    /// When `psql` is missing.
    pub fn can_login(&self, user: &str, password: &str) -> bool {
        self.psql(user, password, "select 1").status.success()
    }

    /// Runs `sql` as the superuser over TCP; returns psql's unaligned, tuples-only output
    /// (`|` between columns, one row a line), without the last newline.
    ///
    /// # Panics
    /// When the statement fails (with psql's message).
    pub fn query(&self, sql: &str) -> String {
        let output = self.psql(SUPERUSER, &self.password, sql);
        assert!(
            output.status.success(),
            "psql -c {sql:?} failed ({}): {}",
            output.status,
            both(&output)
        );
        let text = String::from_utf8_lossy(&output.stdout);
        text.strip_suffix('\n').unwrap_or(&text).to_owned()
    }

    fn psql(&self, user: &str, password: &str, sql: &str) -> Output {
        let psql = self.bindir.join("psql");
        let psql = if psql.is_file() {
            psql
        } else {
            PathBuf::from("psql")
        };
        Command::new(&psql)
            .args(["-X", "-w", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", user, "-d", "postgres", "-c", sql])
            .env("PGPASSWORD", password)
            .env("PGCONNECT_TIMEOUT", "5")
            .env_remove("PGSERVICE")
            .env_remove("PGOPTIONS")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "{} did not run ({e}): install it with `apt-get install postgresql-client`",
                    psql.display()
                )
            })
    }

    /// Where the server logs.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.running {
            self.running = false;
            let _ = self
                .server_command("pg_ctl")
                .args(["stop", "-m", "immediate", "-w", "-t", PG_CTL_WAIT, "-D"])
                .arg(self.data_dir())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}
