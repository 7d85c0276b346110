//! age fixtures made by Debian's real `age` and `age-keygen` (`apt-get install age`, which
//! scripts/test.sh does), at test time: key files as `age-keygen` writes them, and files
//! encrypted by `age`, binary or armored. Without the binaries a test fails with the install
//! command; it never skips.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// An identity file written by `age-keygen -o`, and its recipient (`age1…`).
#[derive(Debug, Clone)]
pub struct AgeKey {
    /// The identity file: comments and one `AGE-SECRET-KEY-1…` line.
    pub path: PathBuf,
    /// The public key that files are encrypted to.
    pub recipient: String,
}

/// How `age` writes the ciphertext.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Armor {
    /// The binary age format.
    Binary,
    /// PEM-like text (`age --armor`): `-----BEGIN AGE ENCRYPTED FILE-----`.
    Armored,
}

/// Fails the test when `binary` is not on PATH, naming the package to install.
fn require(binary: &str) {
    let found = Command::new(binary)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        found,
        "`{binary}` is not on PATH: install it with `apt-get install age` (scripts/test.sh does)"
    );
}

impl AgeKey {
    /// A new identity written to `path` by `age-keygen -o path`.
    pub fn generate(path: impl Into<PathBuf>) -> AgeKey {
        require("age-keygen");
        let path = path.into();
        let output = Command::new("age-keygen")
            .arg("-o")
            .arg(&path)
            .output()
            .expect("age-keygen runs");
        assert!(output.status.success(), "age-keygen failed: {output:?}");
        let output = Command::new("age-keygen")
            .arg("-y")
            .arg(&path)
            .output()
            .expect("age-keygen -y runs");
        assert!(output.status.success(), "age-keygen -y failed: {output:?}");
        let recipient = String::from_utf8(output.stdout)
            .expect("a recipient is ASCII")
            .trim()
            .to_owned();
        assert!(recipient.starts_with("age1"), "{recipient}");
        AgeKey { path, recipient }
    }

    /// The `AGE-SECRET-KEY-1…` line of the identity file.
    pub fn secret_line(&self) -> String {
        let text = std::fs::read_to_string(&self.path).expect("the identity file reads");
        text.lines()
            .find(|line| line.starts_with("AGE-SECRET-KEY-"))
            .expect("age-keygen wrote a secret key")
            .to_owned()
    }

    /// Encrypts `plaintext` to this key with `age -r`, into `out` (written whole, then renamed
    /// into place, as a deployment would).
    pub fn encrypt(&self, plaintext: &[u8], out: &Path, armor: Armor) {
        encrypt(&[&self.recipient], plaintext, out, armor);
    }
}

/// Encrypts `plaintext` to every one of `recipients` with `age -r … -o`, into `out` through a
/// temporary file renamed over it.
pub fn encrypt(recipients: &[&str], plaintext: &[u8], out: &Path, armor: Armor) {
    require("age");
    let tmp = out.with_file_name(format!(
        ".{}.tmp",
        out.file_name().expect("a file name").to_string_lossy()
    ));
    let mut command = Command::new("age");
    for recipient in recipients {
        command.arg("-r").arg(recipient);
    }
    if armor == Armor::Armored {
        command.arg("--armor");
    }
    let mut child = command
        .arg("-o")
        .arg(&tmp)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("age runs");
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(plaintext)
        .expect("age reads its input");
    let output = child.wait_with_output().expect("age ends");
    assert!(output.status.success(), "age failed: {output:?}");
    std::fs::rename(&tmp, out).expect("rename into place");
}
