//! The sandbox facing hostile clients, over raw TCP: read timeouts, hyper's own errors as JSON:API documents, a
//! request log bounded in bytes, and `/_sandbox/*` closed to other sites and DNS rebinding.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `raw` and reads until the server closes (or 30 s pass): `(status, body as JSON if it is)`.
async fn exchange(base: &str, raw: &[u8]) -> (u16, Option<Value>, Duration) {
    let mut stream = TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .expect("connect");
    let started = Instant::now();
    let _ = stream.write_all(raw).await;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut response)).await;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok());
    (status, body, started.elapsed())
}

fn host(base: &str) -> &str {
    base.trim_start_matches("http://")
}

#[tokio::test]
async fn hypers_own_errors_are_json_api_documents() {
    let h = start(DEMO_SEED).await;
    let base = h.base();
    let big = format!(
        "GET /v1/apps HTTP/1.1\r\nHost: {}\r\nX-Big: {}\r\n\r\n",
        host(&base),
        "a".repeat(100 * 1024)
    );
    let many = format!(
        "GET /v1/apps HTTP/1.1\r\nHost: {}\r\n{}\r\n",
        host(&base),
        (0..200)
            .map(|i| format!("X-{i}: 1\r\n"))
            .collect::<String>()
    );
    for (what, raw, status) in [
        ("huge header", big.into_bytes(), 431),
        ("too many headers", many.into_bytes(), 431),
        (
            "garbage request line",
            b"\x01\x02 nonsense\r\n\r\n".to_vec(),
            400,
        ),
        (
            "bad header name",
            format!(
                "GET / HTTP/1.1\r\nHost: {}\r\nBad Header: x\r\n\r\n",
                host(&base)
            )
            .into_bytes(),
            400,
        ),
    ] {
        let (got, body, _) = exchange(&base, &raw).await;
        assert_eq!(got, status, "{what}");
        let body = body.unwrap_or_else(|| panic!("{what}: not a JSON body"));
        assert_eq!(
            body["errors"][0]["status"],
            status.to_string(),
            "{what}: {body}"
        );
        assert!(
            body["errors"][0]["code"]
                .as_str()
                .is_some_and(|c| !c.is_empty()),
            "{what}"
        );
    }
}

#[tokio::test]
async fn slow_heads_and_bodies_are_cut_off() {
    let h = start(DEMO_SEED).await;
    let base = h.base();
    let slow_head = async {
        let mut stream = TcpStream::connect(host(&base)).await.expect("connect");
        stream
            .write_all(b"GET /v1/apps HTTP/1.1\r\nHost: x\r\n")
            .await
            .expect("write");
        let started = Instant::now();
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut rest)).await;
        started.elapsed()
    };
    let slow_body = async {
        let mut stream = TcpStream::connect(host(&base)).await.expect("connect");
        let head = format!(
            "PUT /_sandbox/faults HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{",
            host(&base)
        );
        stream.write_all(head.as_bytes()).await.expect("write");
        let started = Instant::now();
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut rest)).await;
        (
            started.elapsed(),
            String::from_utf8_lossy(&rest).into_owned(),
        )
    };
    let (head_took, (body_took, body_answer)) = tokio::join!(slow_head, slow_body);
    eprintln!("slow head cut after {head_took:?}, slow body after {body_took:?}");
    assert!(head_took < Duration::from_secs(15), "{head_took:?}");
    assert!(body_took < Duration::from_secs(15), "{body_took:?}");
    assert!(body_answer.starts_with("HTTP/1.1 408"), "{body_answer}");
    assert!(body_answer.contains("REQUEST_TIMEOUT"), "{body_answer}");
}

#[tokio::test]
async fn the_request_log_is_bounded_in_bytes() {
    let h = start(DEMO_SEED).await;
    let base = h.base();
    let path = format!("/v1/{}", "p".repeat(4000));
    // Pipelined on a few connections: 6000 unauthenticated requests with 4 KB paths (24 MB), more than the budget.
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (base, path) = (base.clone(), path.clone());
        tasks.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(host(&base)).await.expect("connect");
            let (mut read, mut write) = stream.split();
            let reader = async {
                let mut sink = vec![0u8; 1 << 16];
                let mut total = 0usize;
                while let Ok(Ok(n)) =
                    tokio::time::timeout(Duration::from_secs(5), read.read(&mut sink)).await
                {
                    if n == 0 {
                        break;
                    }
                    total += n;
                }
                total
            };
            let writer = async {
                for _ in 0..1500 {
                    let request = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", host(&base));
                    if write.write_all(request.as_bytes()).await.is_err() {
                        break;
                    }
                }
            };
            tokio::join!(reader, writer).0
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    let log = h.emulator.request_log();
    let bytes: usize = log
        .iter()
        .map(|r| r.method.len() + r.path.len() + r.note.as_ref().map_or(0, String::len) + 32)
        .sum();
    eprintln!("{} entries, {bytes} bytes", log.len());
    assert!(bytes <= ipagate_asc_emulator::MAX_LOG_BYTES, "{bytes}");
    assert!(log.len() < 6000 && log.len() > 1000, "{}", log.len());
}

#[tokio::test]
async fn sandbox_endpoints_refuse_other_sites_and_rebinding() {
    let h = start(DEMO_SEED).await;
    let base = h.base();
    let port = base.rsplit(':').next().expect("port").to_owned();
    let get = |host_header: &str, extra: &str| {
        format!(
            "GET /_sandbox/state HTTP/1.1\r\nHost: {host_header}\r\n{extra}Connection: close\r\n\r\n"
        )
    };
    let post = |host_header: &str, extra: &str| {
        format!(
            "POST /_sandbox/advance HTTP/1.1\r\nHost: {host_header}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n"
        )
    };
    let ours = host(&base).to_owned();
    let cases = [
        ("own address", get(&ours, ""), 200),
        ("localhost", get(&format!("localhost:{port}"), ""), 200),
        (
            "a rebinding domain",
            get(&format!("evil.example:{port}"), ""),
            403,
        ),
        ("another port", get("127.0.0.1:1", ""), 403),
        ("no port", get("127.0.0.1", ""), 403),
        (
            "same-origin browser POST",
            post(
                &ours,
                &format!("Origin: http://{ours}\r\nSec-Fetch-Site: same-origin\r\n"),
            ),
            200,
        ),
        (
            "cross-site simple POST",
            post(
                &ours,
                "Origin: http://evil.example\r\nContent-Type: text/plain\r\n",
            ),
            403,
        ),
        (
            "cross-site fetch metadata",
            post(&ours, "Sec-Fetch-Site: cross-site\r\n"),
            403,
        ),
        (
            "same-site fetch metadata",
            post(&ours, "Sec-Fetch-Site: same-site\r\n"),
            403,
        ),
        ("origin null", post(&ours, "Origin: null\r\n"), 403),
    ];
    for (what, raw, status) in cases {
        let (got, body, _) = exchange(&base, raw.as_bytes()).await;
        assert_eq!(got, status, "{what}");
        if status == 403 {
            let body = body.unwrap_or_else(|| panic!("{what}: not JSON"));
            assert_eq!(body["errors"][0]["code"], "FORBIDDEN_ERROR", "{what}");
        }
    }
}
