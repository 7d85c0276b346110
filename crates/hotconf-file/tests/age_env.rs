//! The identity of an age-encrypted file from the environment: `AGE_IDENTITY_FILE`, else
//! `SOPS_AGE_KEY_FILE`, read at each decryption. The environment is the process's: this binary
//! holds one test, which alone sets it.

use hotconf_core::provider::Content;
use hotconf_core::{ErrorKind, Provider};
use hotconf_file::FileProvider;
use hotconf_testkit::age::{AgeKey, Armor};
use serde_json::json;

#[tokio::test]
async fn the_identity_file_comes_from_age_identity_file_else_sops_age_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (
        AgeKey::generate(dir.path().join("first.txt")),
        AgeKey::generate(dir.path().join("second.txt")),
    );
    let path = dir.path().join("app.json.age");
    first.encrypt(br#"{"name": "first"}"#, &path, Armor::Binary);
    let provider = FileProvider::new(&path);
    let name = || async {
        match provider.load().await.map(|layer| layer.content) {
            Ok(Content::Tree(tree)) => Ok(tree["name"].clone()),
            Ok(other) => panic!("not a tree: {other:?}"),
            Err(error) => Err(error),
        }
    };

    std::env::remove_var("AGE_IDENTITY_FILE");
    std::env::remove_var("SOPS_AGE_KEY_FILE");
    let error = name().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config, "{error}");
    assert!(
        !error.is_transient(),
        "nothing configured cannot heal: {error}"
    );
    assert!(
        error.to_string().contains("AGE_IDENTITY_FILE")
            && error.to_string().contains("SOPS_AGE_KEY_FILE"),
        "{error}"
    );

    std::env::set_var("SOPS_AGE_KEY_FILE", &first.path);
    assert_eq!(name().await.unwrap(), json!("first"));

    // AGE_IDENTITY_FILE comes first: the second key does not open the file, and the error says
    // where the key came from.
    std::env::set_var("AGE_IDENTITY_FILE", &second.path);
    let error = name().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::PermissionDenied, "{error}");
    assert!(
        error.to_string().contains("second.txt") && error.to_string().contains("AGE_IDENTITY_FILE"),
        "{error}"
    );
    second.encrypt(br#"{"name": "second"}"#, &path, Armor::Armored);
    assert_eq!(name().await.unwrap(), json!("second"));

    // An empty variable is no variable.
    std::env::set_var("AGE_IDENTITY_FILE", "");
    first.encrypt(br#"{"name": "first again"}"#, &path, Armor::Binary);
    assert_eq!(name().await.unwrap(), json!("first again"));
    assert!(provider.metadata().secret);
}
