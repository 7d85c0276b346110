//! The HTTP layer against loopback servers that answer with canned bytes: redirects are not
//! followed, bodies are bounded while they are read, error pages are cut with secrets blanked.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use hotconf_core::ErrorKind;
use hotconf_http::{
    client, read_body, read_error_page, status_error, BodyError, HttpOptions, StatusCode,
    ERROR_PAGE_BYTES,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A server on a free loopback port answering every request with `answer`; counts requests.
async fn serve(answer: Vec<u8>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = stream.write_all(&answer).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (base, count)
}

fn answer(head: &str, body: &[u8]) -> Vec<u8> {
    let mut bytes = format!("{head}\r\nConnection: close\r\n\r\n").into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

#[tokio::test]
async fn a_redirect_is_answered_not_followed() {
    let (elsewhere, reached) = serve(answer("HTTP/1.1 200 OK\r\nContent-Length: 2", b"ok")).await;
    let (base, _) = serve(answer(
        &format!("HTTP/1.1 302 Found\r\nLocation: {elsewhere}/steal\r\nContent-Length: 0"),
        b"",
    ))
    .await;
    let http = client("test", &HttpOptions::default()).unwrap();
    let response = http
        .get(format!("{base}/v1/kv/app"))
        .bearer_auth("s3cr3t")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(
        reached.load(Ordering::SeqCst),
        0,
        "the redirect was followed"
    );
}

#[tokio::test]
async fn a_body_is_refused_as_soon_as_it_passes_its_limit() {
    let http = client("test", &HttpOptions::default()).unwrap();
    // No length announced: refused while read.
    let (base, _) = serve(answer("HTTP/1.1 200 OK", &vec![b'x'; 1 << 20])).await;
    let response = http.get(&base).send().await.unwrap();
    match read_body(response, 1000).await {
        Err(BodyError::TooLarge(e)) => assert!(e.message().contains("1000"), "{e}"),
        other => panic!("not refused: {other:?}"),
    }
    // A lying `Content-Length` of a petabyte: refused before any byte is read. (hyper refuses
    // u64::MAX itself, as a malformed answer.)
    let (base, _) = serve(answer(
        "HTTP/1.1 200 OK\r\nContent-Length: 1000000000000000",
        b"{}",
    ))
    .await;
    let response = http.get(&base).send().await.unwrap();
    assert!(matches!(
        read_body(response, 1000).await,
        Err(BodyError::TooLarge(_))
    ));
    let (base, _) = serve(answer(
        "HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615",
        b"{}",
    ))
    .await;
    assert!(http.get(&base).send().await.is_err());
    // Within the limit: read whole.
    let (base, _) = serve(answer("HTTP/1.1 200 OK\r\nContent-Length: 2", b"{}")).await;
    let response = http.get(&base).send().await.unwrap();
    assert_eq!(read_body(response, 1000).await.unwrap(), b"{}");
}

#[tokio::test]
async fn an_error_page_is_cut_and_never_holds_a_secret() {
    let mut page = b"echo: token=s3cr3t-tok&password=p%40ss+w&raw=p@ss w ".to_vec();
    // A secret that starts just before the cut must not leave its first bytes behind.
    page.resize(ERROR_PAGE_BYTES - 4, b'.');
    page.extend_from_slice(b"s3cr3t-tok");
    page.extend(vec![b'.'; 3 * ERROR_PAGE_BYTES]);
    let (base, _) = serve(answer("HTTP/1.1 500 Internal Server Error", &page)).await;
    let http = client("test", &HttpOptions::default()).unwrap();
    let response = http.get(&base).send().await.unwrap();
    let status = response.status();
    let body = read_error_page(response, &["s3cr3t-tok", "p@ss w", ""]).await;
    assert!(body.len() <= ERROR_PAGE_BYTES);
    let text = String::from_utf8_lossy(&body);
    assert!(!text.contains("s3cr3t") && !text.contains("p@ss") && !text.contains("p%40ss"));
    assert!(!text.contains("s3cr"), "the start of a cut secret: {text}");
    let error = status_error(ErrorKind::Unavailable, "test: got 500", status);
    assert!(error.is_answer() && error.is_transient());
}

#[tokio::test]
async fn a_tls_file_that_cannot_be_read_is_a_config_error() {
    let options = HttpOptions::default().tls(Some(hotconf_core::provider::TlsFiles {
        ca: Some("/nonexistent/ca.pem".into()),
        identity: None,
    }));
    let error = client("test", &options).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    assert!(!error.is_transient());
}
