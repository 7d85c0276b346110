//! Half-written states never apply: an emptied document (the first step of every in-place save)
//! is an error, and a document still held open by its writer is not read until it is closed.

use hotconf_core::{ErrorKind, Provider};
use hotconf_file::FileProvider;
use std::fs;

#[tokio::test]
async fn an_empty_or_blank_document_is_a_transient_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in [
        ("empty.yaml", ""),
        ("blank.json", " \n\t\r\n"),
        ("empty.toml", ""),
    ] {
        let path = dir.path().join(name);
        fs::write(&path, content).unwrap();
        let error = FileProvider::new(&path).load().await.unwrap_err();
        assert!(error.is_transient(), "{error}");
        assert_eq!(error.kind(), ErrorKind::Parse, "{error}");
        let shown = error.to_string();
        assert!(shown.contains("empty document"), "{shown}");
        assert!(shown.contains(name), "{shown}");
    }
    // In a directory of documents, too: the error names the document.
    fs::write(dir.path().join("10-a.yaml"), "a: 1\n").unwrap();
    fs::write(dir.path().join("20-b.yaml"), "\n").unwrap();
    let docs = tempfile::tempdir().unwrap();
    fs::copy(dir.path().join("10-a.yaml"), docs.path().join("10-a.yaml")).unwrap();
    fs::copy(dir.path().join("20-b.yaml"), docs.path().join("20-b.yaml")).unwrap();
    let error = FileProvider::documents(docs.path())
        .load()
        .await
        .unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert!(error.to_string().contains("20-b.yaml"), "{error}");
}
