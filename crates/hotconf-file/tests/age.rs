//! age-encrypted files, with keys and ciphertexts made by Debian's real `age` and `age-keygen` at
//! test time: binary and armored documents, the format from the name before `.age`, identities
//! from the URI and from code, rotations of the ciphertext and of the key file, wrong keys and
//! corrupted files refused while the last good config keeps serving, directories of documents
//! and ConfigMap mounts with encrypted entries, secret layers, and no plaintext in any error.
//! (Identities from the environment: tests/age_env.rs, a process of its own.)

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use hotconf_core::provider::{Content, SourceUri};
use hotconf_core::{Event, Format, Provider, Reloader, Secret, Startup};
use hotconf_file::FileProvider;
use hotconf_testkit::age::{AgeKey, Armor};
use hotconf_testkit::{wait_for_event, wait_until, Fixture};
use serde::Deserialize;
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::sync::broadcast::Receiver;

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct App {
    name: String,
    #[serde(default)]
    port: u16,
    #[serde(default)]
    password: String,
}

/// A directory with a key made by `age-keygen`.
struct Keyed {
    dir: TempDir,
    key: AgeKey,
}

impl Keyed {
    fn new() -> Keyed {
        let dir = tempfile::tempdir().unwrap();
        let key = AgeKey::generate(dir.path().join("key.txt"));
        Keyed { dir, key }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Encrypts `text` to the key into `name` (written whole, renamed into place).
    fn encrypt(&self, name: &str, text: &str, armor: Armor) -> PathBuf {
        let path = self.path(name);
        self.key.encrypt(text.as_bytes(), &path, armor);
        path
    }
}

/// Replaces `path` by `bytes` the way a deployment does: a temporary file renamed over it.
fn replace(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp~");
    fs::write(&tmp, bytes).unwrap();
    fs::rename(&tmp, path).unwrap();
}

async fn follow<T: serde::de::DeserializeOwned + Send + Sync + 'static>(
    provider: FileProvider,
) -> (Reloader<T>, Receiver<Event>) {
    let builder = Reloader::<T>::builder()
        .layer(provider)
        .startup(Startup::Wait(Duration::from_secs(20)));
    let events = builder.events();
    (builder.start().await.unwrap(), events)
}

fn applied(events: &mut Receiver<Event>) -> usize {
    std::iter::from_fn(|| events.try_recv().ok())
        .filter(|e| matches!(e, Event::Applied { .. }))
        .count()
}

/// The next `source_error` event's error, with the event as printed.
async fn next_source_error(events: &mut Receiver<Event>) -> (String, String) {
    let event = wait_for_event(events, |e| matches!(e, Event::SourceError { .. })).await;
    let Event::SourceError {
        error, transient, ..
    } = &event
    else {
        unreachable!()
    };
    assert!(transient, "{event:?}");
    (
        error.clone(),
        format!("{event:?} {}", serde_json::to_string(&event).unwrap()),
    )
}

/// The tree a provider loads.
async fn tree(provider: &FileProvider) -> Value {
    match provider.load().await.unwrap().content {
        Content::Tree(tree) => tree,
        other => panic!("not a tree: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_document_is_a_secret_layer_followed_through_rotated_ciphertexts() {
    let keyed = Keyed::new();
    let path = keyed.encrypt(
        "app.yaml.age",
        "name: v1\npassword: hunter1\n",
        Armor::Binary,
    );
    let provider = FileProvider::new(&path).age_identity_file(&keyed.key.path);
    assert!(provider.metadata().secret, "a .age file is a secret layer");
    let (reloader, mut events) = follow::<App>(provider).await;
    let store = reloader.store();
    assert_eq!(
        (store.load().name.as_str(), store.load().password.as_str()),
        ("v1", "hunter1"),
        "the application reads the plaintext"
    );
    assert_eq!(
        store.load().redacted(),
        json!({"name": "***", "password": "***"}),
        "every value redacted, whatever its key is called"
    );
    assert!(store.load().explain("name").value.is_none());

    // A new ciphertext of new content is a change.
    keyed.encrypt(
        "app.yaml.age",
        "name: v2\npassword: hunter2\n",
        Armor::Binary,
    );
    wait_until(&store, |c| c.name == "v2").await;
    // A new ciphertext of the same content is not; the next change is.
    keyed.encrypt(
        "app.yaml.age",
        "name: v2\npassword: hunter2\n",
        Armor::Armored,
    );
    keyed.encrypt(
        "app.yaml.age",
        "name: v3\npassword: hunter3\n",
        Armor::Armored,
    );
    wait_until(&store, |c| c.name == "v3").await;
    assert_eq!(applied(&mut events), 3, "v1, v2, v3: one apply each");
    // The revision is the ciphertext's hash: the same content gave another revision.
    let revision = store.load().revisions()[0].1.to_string();
    keyed.encrypt(
        "app.yaml.age",
        "name: v3\npassword: hunter3\n",
        Armor::Armored,
    );
    let again = FileProvider::new(&path).age_identity_file(&keyed.key.path);
    assert_ne!(again.load().await.unwrap().revision.to_string(), revision);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_and_armored_files_and_the_format_from_the_name_before_age() {
    let keyed = Keyed::new();
    let identity = |p: FileProvider| p.age_identity_file(&keyed.key.path);
    let want = json!({"name": "x", "port": 7});
    let documents = [
        ("app.toml.age", "name = \"x\"\nport = 7\n"),
        ("app.json.age", r#"{"name": "x", "port": 7}"#),
        ("app.yaml.age", "name: x\nport: 7\n"),
        ("app.properties.age", "name=x\nport=7\n"),
    ];
    for (name, text) in documents {
        for armor in [Armor::Binary, Armor::Armored] {
            let path = keyed.encrypt(name, text, armor);
            assert_eq!(
                tree(&identity(FileProvider::new(&path))).await,
                want,
                "{name} {armor:?}"
            );
        }
    }
    // The format given, whatever the name says.
    let conf = keyed.encrypt("app.conf.age", "name: x\nport: 7\n", Armor::Armored);
    let given = identity(FileProvider::new(&conf).format(Format::Yaml));
    assert_eq!(tree(&given).await, want);
    let error = identity(FileProvider::new(&conf)).load().await.unwrap_err();
    assert!(error.to_string().contains("before .age"), "{error}");
    // Any name with ?age=true; and ?age=false reads a .age file as it is.
    let plain_name = keyed.encrypt("encrypted.yaml", "name: x\nport: 7\n", Armor::Armored);
    assert_eq!(
        tree(&identity(FileProvider::new(&plain_name).age(true))).await,
        want
    );
    let uri: SourceUri = format!(
        "file:{}?age=true&identity={}",
        plain_name.display(),
        keyed.key.path.display()
    )
    .parse()
    .unwrap();
    let from_uri = FileProvider::from_uri(&uri).unwrap();
    assert!(from_uri.metadata().secret);
    assert_eq!(tree(&from_uri).await, want);
    let json = keyed.path("app.json.age");
    let off = FileProvider::new(&json).age(false).format(Format::Json);
    assert!(!off.metadata().secret);
    let as_it_is = off.load().await.unwrap().content;
    assert!(matches!(as_it_is, Content::Document { .. }), "{as_it_is:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identities_from_the_uri_and_from_code_never_print() {
    let keyed = Keyed::new();
    let path = keyed.encrypt("app.json.age", r#"{"name": "x"}"#, Armor::Binary);
    let key_line = keyed.key.secret_line();
    let uris = [
        format!(
            "file:{}?identity={}",
            path.display(),
            keyed.key.path.display()
        ),
        format!(
            "file://{}?identity={}",
            path.display(),
            keyed.key.path.display()
        ),
        format!("{}?identity={}", path.display(), keyed.key.path.display()),
    ];
    for uri in uris {
        let provider = FileProvider::from_uri(&uri.parse().unwrap()).unwrap();
        assert_eq!(tree(&provider).await, json!({"name": "x"}), "{uri}");
    }
    let inline = FileProvider::new(&path).age_identities(Secret::new(key_line.clone()));
    assert_eq!(tree(&inline).await, json!({"name": "x"}));
    let shown = format!("{inline:?}");
    assert!(!shown.contains(&key_line[16..]), "{shown}");

    let missing = FileProvider::new(&path).age_identity_file(keyed.path("nokey.txt"));
    let error = missing.load().await.unwrap_err();
    assert!(
        error.to_string().contains("nokey.txt") && error.to_string().contains("app.json.age"),
        "{error}"
    );
    assert!(error.is_transient(), "{error}");
    let not_a_key = FileProvider::new(&path).age_identity_file(&path);
    let error = not_a_key.load().await.unwrap_err();
    assert!(
        error.to_string().contains("not an age identity file"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_file_is_read_again_at_the_next_decryption() {
    let keyed = Keyed::new();
    let path = keyed.encrypt("app.yaml.age", "name: old-key\n", Armor::Binary);
    let (reloader, _events) =
        follow::<App>(FileProvider::new(&path).age_identity_file(&keyed.key.path)).await;
    let store = reloader.store();
    assert_eq!(store.load().name, "old-key");
    // The new key replaces the old one in the same file; then the file is encrypted to it.
    let new = AgeKey::generate(keyed.path("new-key.txt"));
    fs::rename(&new.path, &keyed.key.path).unwrap();
    new.encrypt(b"name: new-key\n", &path, Armor::Binary);
    wait_until(&store, |c| c.name == "new-key").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_a_corrupted_file_or_plain_text_is_refused_and_the_last_good_config_stays() {
    let keyed = Keyed::new();
    let path = keyed.encrypt(
        "app.yaml.age",
        "name: good\npassword: hunter1\n",
        Armor::Binary,
    );
    let (reloader, mut events) =
        follow::<App>(FileProvider::new(&path).age_identity_file(&keyed.key.path)).await;
    let store = reloader.store();
    let other = AgeKey::generate(keyed.path("other.txt"));
    let good = fs::read(&path).unwrap();

    let mut corrupted = good.clone();
    let last = corrupted.len() - 2;
    corrupted[last] ^= 0x20;
    let mut truncated = good.clone();
    truncated.truncate(good.len() - 10);
    let wrong_key = keyed.path("wrong.age");
    other.encrypt(
        b"name: zqwrong\npassword: hunter2\n",
        &wrong_key,
        Armor::Binary,
    );
    let cases: [(&str, Vec<u8>, &str); 5] = [
        ("corrupted", corrupted, "corrupted or truncated"),
        ("truncated", truncated, "corrupted or truncated"),
        (
            "another key",
            fs::read(&wrong_key).unwrap(),
            "other recipients",
        ),
        (
            "plain text",
            b"name: zqplain\npassword: hunter3\n".to_vec(),
            "not an age file",
        ),
        ("YAML that does not parse", Vec::new(), "invalid YAML"),
    ];
    for (case, bytes, said) in cases {
        let version = store.version();
        if bytes.is_empty() {
            keyed.encrypt(
                "app.yaml.age",
                "name: bad\npassword: [hunter4\n",
                Armor::Armored,
            );
        } else {
            replace(&path, &bytes);
        }
        let (error, shown) = next_source_error(&mut events).await;
        assert!(
            error.contains("app.yaml.age") || shown.contains("app.yaml.age"),
            "{case}: {shown}"
        );
        assert!(error.contains(said), "{case}: {error}");
        let key_body = &keyed.key.secret_line()[16..];
        for value in ["hunter", "zq", key_body] {
            assert!(!shown.contains(value), "{case}: {value} in {shown}");
        }
        assert_eq!(
            store.load().name,
            "good",
            "{case}: the last good config keeps serving"
        );
        assert_eq!(store.version(), version, "{case}");
        // Back to good between cases: each case is its own change.
        keyed.encrypt(
            "app.yaml.age",
            &format!("name: good\npassword: {case}\n"),
            Armor::Binary,
        );
        wait_until(&store, |c| c.password == case).await;
        keyed.encrypt(
            "app.yaml.age",
            "name: good\npassword: hunter1\n",
            Armor::Binary,
        );
        wait_until(&store, |c| c.password == "hunter1").await;
        let _ = std::iter::from_fn(|| events.try_recv().ok()).count();
    }
    keyed.encrypt("app.yaml.age", "name: fixed\n", Armor::Armored);
    wait_until(&store, |c| c.name == "fixed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_good_file_leaves_an_encrypted_layer_out() {
    let keyed = Keyed::new();
    let lower = keyed.path("defaults.yaml");
    fs::write(&lower, "name: defaults\nport: 80\n").unwrap();
    let path = keyed.encrypt("creds.yaml.age", "password: hunter1\n", Armor::Binary);
    let saved = keyed.path("last-good.json");
    let builder = Reloader::<App>::builder()
        .layer(FileProvider::new(&lower))
        .layer(FileProvider::new(&path).age_identity_file(&keyed.key.path))
        .last_good_file(&saved);
    let mut stats = builder.stats();
    let reloader = builder.start().await.unwrap();
    assert_eq!(reloader.store().load().password, "hunter1");
    let written = stats.wait_for(|s| s.snapshots_written >= 1);
    tokio::time::timeout(hotconf_testkit::TIMEOUT, written)
        .await
        .expect("the last-good file was not written in time")
        .expect("the reloader stopped");
    let text = fs::read_to_string(&saved).unwrap();
    assert!(!text.contains("hunter1"), "{text}");
    assert!(text.contains("defaults"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_of_documents_merges_its_encrypted_ones_in_name_order() {
    let keyed = Keyed::new();
    let dir = keyed.path("conf.d");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("10-base.yaml"), "name: base\nport: 1\n").unwrap();
    keyed.key.encrypt(
        b"password: p1\nport: 2\n",
        &dir.join("20-creds.yaml.age"),
        Armor::Binary,
    );
    keyed.key.encrypt(
        br#"{"name": "enc"}"#,
        &dir.join("30-name.json.age"),
        Armor::Armored,
    );
    let provider = FileProvider::documents(&dir).age_identity_file(&keyed.key.path);
    assert!(provider.metadata().secret, "it holds encrypted documents");
    let (reloader, _events) = follow::<App>(provider).await;
    let store = reloader.store();
    assert_eq!(
        ***store.load(),
        App {
            name: "enc".into(),
            port: 2,
            password: "p1".into()
        }
    );
    keyed.key.encrypt(
        b"password: p2\nport: 3\n",
        &dir.join("20-creds.yaml.age"),
        Armor::Binary,
    );
    wait_until(&store, |c| c.password == "p2" && c.port == 3).await;

    // A document that does not parse is named, encrypted or not.
    let plain = FileProvider::documents(&dir).age_identity_file(&keyed.key.path);
    fs::write(dir.join("40-broken.yaml"), "port: [2\n").unwrap();
    let error = plain.load().await.unwrap_err();
    assert!(error.to_string().contains("40-broken.yaml"), "{error}");
    fs::remove_file(dir.join("40-broken.yaml")).unwrap();
    keyed.key.encrypt(
        b"port: [hunter\n",
        &dir.join("50-broken.yaml.age"),
        Armor::Binary,
    );
    let error = plain.load().await.unwrap_err();
    assert!(error.to_string().contains("50-broken.yaml.age"), "{error}");
    assert!(!error.to_string().contains("hunter"), "{error}");
}

/// The kubelet's AtomicWriter: a new timestamped directory, symlinks for new keys, `..data`
/// swapped by a rename, the old directory removed.
fn publish(root: &Path, generation: u32, files: &[(&str, Vec<u8>)]) {
    let old = fs::read_link(root.join("..data")).ok();
    let ts = format!("..2026_12_01_00_00_00.{generation:09}");
    fs::create_dir(root.join(&ts)).unwrap();
    for (key, value) in files {
        fs::write(root.join(&ts).join(key), value).unwrap();
        if fs::symlink_metadata(root.join(key)).is_err() {
            std::os::unix::fs::symlink(Path::new("..data").join(key), root.join(key)).unwrap();
        }
    }
    std::os::unix::fs::symlink(&ts, root.join("..data_tmp")).unwrap();
    fs::rename(root.join("..data_tmp"), root.join("..data")).unwrap();
    if let Some(old) = old {
        fs::remove_dir_all(root.join(old)).unwrap();
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct Mounted {
    name: String,
    port: u16,
    db: Db,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct Db {
    password: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_map_mount_with_encrypted_keys() {
    let keyed = Keyed::new();
    let mount = keyed.path("mount");
    fs::create_dir(&mount).unwrap();
    let sealed = |text: &str, armor| {
        let out = keyed.path("sealed.age");
        keyed.key.encrypt(text.as_bytes(), &out, armor);
        fs::read(&out).unwrap()
    };
    publish(
        &mount,
        1,
        &[
            ("name", b"svc\n".to_vec()),
            ("db.password.age", sealed("s3cret-1\n", Armor::Binary)),
            ("port.age", sealed("8080", Armor::Armored)),
        ],
    );
    let provider = FileProvider::directory(&mount)
        .typed()
        .age_identity_file(&keyed.key.path);
    assert!(provider.metadata().secret);
    let (reloader, _events) = follow::<Mounted>(provider).await;
    let store = reloader.store();
    assert_eq!(
        ***store.load(),
        Mounted {
            name: "svc".into(),
            port: 8080,
            db: Db {
                password: "s3cret-1".into()
            }
        },
        "X.age is the key X; one trailing newline off, typed"
    );
    publish(
        &mount,
        2,
        &[
            ("name", b"svc\n".to_vec()),
            ("db.password.age", sealed("s3cret-2\n", Armor::Binary)),
            ("port.age", sealed("8080", Armor::Armored)),
        ],
    );
    wait_until(&store, |c| c.db.password == "s3cret-2").await;

    // `port` beside `port.age`: one key, two values.
    let both = FileProvider::directory(&mount).age_identity_file(&keyed.key.path);
    publish(
        &mount,
        3,
        &[
            ("name", b"svc\n".to_vec()),
            ("port", b"1".to_vec()),
            ("port.age", sealed("8080", Armor::Armored)),
        ],
    );
    let error = both.load().await.unwrap_err();
    assert!(
        error.to_string().contains("both port and port.age"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_that_started_ordinary_refuses_an_encrypted_entry_until_told() {
    let keyed = Keyed::new();
    let mount = keyed.path("mount");
    fs::create_dir(&mount).unwrap();
    fs::write(mount.join("name"), "svc").unwrap();
    let ordinary = FileProvider::directory(&mount);
    assert!(!ordinary.metadata().secret);
    let builder = Reloader::<Value>::builder().layer(ordinary);
    let mut events = builder.events();
    let reloader = builder.start().await.unwrap();
    keyed
        .key
        .encrypt(b"hunter1", &mount.join("token.age"), Armor::Binary);
    let (error, _) = next_source_error(&mut events).await;
    assert!(
        error.contains("token.age") && error.contains("?age=true"),
        "{error}"
    );
    assert_eq!(reloader.store().load()["name"], "svc");

    let told = FileProvider::directory(&mount).age(true);
    let told = told.age_identity_file(&keyed.key.path);
    assert!(told.metadata().secret);
    let reloader = Reloader::<Value>::builder()
        .layer(told)
        .start()
        .await
        .unwrap();
    assert_eq!(reloader.store().load()["token"], "hunter1");
    assert_eq!(reloader.store().load().redacted()["token"], "***");
}

/// One encrypted document, re-encrypted at each write, for the behaviour suite.
struct EncryptedDocument {
    keyed: Keyed,
}

impl EncryptedDocument {
    fn new() -> Self {
        EncryptedDocument {
            keyed: Keyed::new(),
        }
    }
}

#[async_trait]
impl Fixture for EncryptedDocument {
    async fn provider(&self) -> Box<dyn Provider> {
        let path = self.keyed.path("app.json.age");
        Box::new(FileProvider::new(path).age_identity_file(&self.keyed.key.path))
    }
    async fn write(&self, config: &Value) {
        self.keyed
            .encrypt("app.json.age", &config.to_string(), Armor::Binary);
    }
    /// Decrypts and parses, but an empty `app.name` fails the suite's validation: a rejection
    /// of the reloader's.
    async fn write_invalid(&self) {
        self.keyed
            .encrypt("app.json.age", r#"{"app": {"name": ""}}"#, Armor::Armored);
    }
    async fn delete(&self) {
        self.keyed.encrypt("app.json.age", "{}", Armor::Binary);
    }
    /// A FIFO where the encrypted document should be.
    async fn refused(&self) -> Option<Box<dyn Provider>> {
        let fifo = self.keyed.path("fifo.json.age");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success(), "mkfifo failed");
        Some(Box::new(
            FileProvider::new(fifo).age_identity_file(&self.keyed.key.path),
        ))
    }
}

/// The behaviour suite on an age-encrypted document.
mod encrypted_document {
    use super::EncryptedDocument;
    hotconf_testkit::behaviour_tests!(async { EncryptedDocument::new() }; permanent_failures);
}
