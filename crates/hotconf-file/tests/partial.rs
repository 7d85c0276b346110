//! Half-written states never apply: an emptied document (the first step of every in-place save)
//! is an error, and a document still held open by its writer is not read until it is closed.

use std::fs;
use std::io::Write as _;
use std::time::Duration;

use futures_util::StreamExt;
use hotconf_core::provider::{Layer, WatchStream};
use hotconf_core::{ErrorKind, Provider, Result};
use hotconf_file::FileProvider;

const TIMEOUT: Duration = Duration::from_secs(20);

async fn next(stream: &mut WatchStream) -> Result<Layer> {
    tokio::time::timeout(TIMEOUT, stream.next())
        .await
        .expect("no item in time")
        .expect("the stream ended")
}

fn text(layer: &Layer) -> String {
    match &layer.content {
        hotconf_core::provider::Content::Document { bytes, .. } => {
            String::from_utf8_lossy(bytes).into()
        }
        other => panic!("not a document: {other:?}"),
    }
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncate_then_write_is_not_read_while_the_writer_holds_the_file_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.yaml");
    fs::write(&path, "name: before\nport: 1\n").unwrap();
    let mut stream = FileProvider::new(&path).watch().await.unwrap();
    assert_eq!(
        text(&next(&mut stream).await.unwrap()),
        "name: before\nport: 1\n"
    );

    // An in-place save cut at a line boundary: the half parses, so only the open file tells.
    let mut file = fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    file.write_all(b"name: half\n").unwrap();
    file.flush().unwrap();
    let early = tokio::time::timeout(Duration::from_millis(600), stream.next()).await;
    assert!(
        early.is_err(),
        "read while the writer held the file open: {early:?}"
    );
    file.write_all(b"port: 2\n").unwrap();
    drop(file);
    let layer = next(&mut stream).await.unwrap();
    assert_eq!(text(&layer), "name: half\nport: 2\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_that_never_closes_is_read_after_the_bounded_wait() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.yaml");
    fs::write(&path, "name: before\n").unwrap();
    let mut stream = FileProvider::new(&path).watch().await.unwrap();
    assert_eq!(text(&next(&mut stream).await.unwrap()), "name: before\n");
    let mut file = fs::OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(b"port: 3\n").unwrap();
    file.flush().unwrap();
    let started = std::time::Instant::now();
    let layer = next(&mut stream).await.unwrap();
    assert_eq!(text(&layer), "name: before\nport: 3\n");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "read while open after {:?}",
        started.elapsed()
    );
    drop(file);
}
