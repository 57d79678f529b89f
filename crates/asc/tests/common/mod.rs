//! Shared test helpers: an instant recording sleeper, controllable clocks, keys, and a canned HTTP server for
//! answers no well-behaved server gives (HTML pages, truncated JSON, looping links, absurd Retry-After).
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use ipagate_asc::{ApiKey, Client, ClientBuilder, Clock, Issuer, PrivateKey, Sleeper};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Records every wait and returns at once.
#[derive(Default)]
pub struct RecordingSleeper {
    pub waits: Mutex<Vec<Duration>>,
}

impl RecordingSleeper {
    pub fn waits(&self) -> Vec<Duration> {
        self.waits.lock().unwrap().clone()
    }
}

impl Sleeper for RecordingSleeper {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        self.waits.lock().unwrap().push(duration);
        Box::pin(async {})
    }
}

/// A clock the test moves.
pub struct ManualClock {
    pub now: Mutex<SystemTime>,
}

impl ManualClock {
    pub fn new(now: SystemTime) -> Arc<Self> {
        Arc::new(ManualClock {
            now: Mutex::new(now),
        })
    }
    pub fn advance(&self, by: Duration) {
        *self.now.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.now.lock().unwrap()
    }
}

/// Returns `first` for the first `n` readings, then the system time.
pub struct SkewedThenRight {
    pub skew_back: Duration,
    pub remaining: AtomicUsize,
}

impl Clock for SkewedThenRight {
    fn now(&self) -> SystemTime {
        let now = SystemTime::now();
        if self.remaining.load(Ordering::SeqCst) > 0 {
            self.remaining.fetch_sub(1, Ordering::SeqCst);
            now - self.skew_back
        } else {
            now
        }
    }
}

pub struct TestKey {
    pub pair: ipagate_asc_emulator::testkey::KeyPair,
}

pub fn key(key_id: &str) -> ipagate_asc_emulator::testkey::KeyPair {
    ipagate_asc_emulator::testkey::generate(key_id)
}

pub fn api_key(pair: &ipagate_asc_emulator::testkey::KeyPair, issuer: &str) -> ApiKey {
    ApiKey::new(
        &pair.key_id,
        Issuer::Team(issuer.to_owned()),
        PrivateKey::from_pem(&pair.private_pkcs8_pem).unwrap(),
    )
    .unwrap()
}

pub fn builder(key: ApiKey, base: &str, sleeper: Arc<RecordingSleeper>) -> ClientBuilder {
    Client::builder(key).base_url(base).sleeper(sleeper)
}

/// One canned answer.
#[derive(Clone)]
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Canned {
    pub fn json(status: u16, body: &str) -> Canned {
        Canned {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
        }
    }
    pub fn html(status: u16) -> Canned {
        Canned {
            status,
            headers: vec![("Content-Type".into(), "text/html".into())],
            body: b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>".to_vec(),
        }
    }
    pub fn header(mut self, name: &str, value: &str) -> Canned {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// A one-purpose HTTP/1.1 server: answers request i with `script[i]` (the last one repeats; `{base}` in bodies is
/// replaced by the server URL, `{n}` by i, so a repeated page can link to an ever-new next page; `{authorization}` by
/// the request's Authorization header and `{signature}` by the token's last segment, as a hostile server echoes them)
/// and records request lines.
pub struct CannedServer {
    pub base: String,
    pub requests: Arc<Mutex<Vec<String>>>,
}

impl CannedServer {
    pub async fn start(script: Vec<Canned>) -> CannedServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        let base_for_task = base.clone();
        tokio::spawn(async move {
            let counter = Arc::new(AtomicUsize::new(0));
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let script = script.clone();
                let log = log.clone();
                let counter = counter.clone();
                let base = base_for_task.clone();
                tokio::spawn(async move {
                    loop {
                        let mut buf = Vec::new();
                        let mut chunk = [0u8; 4096];
                        let head_end = loop {
                            let Ok(n) = socket.read(&mut chunk).await else {
                                return;
                            };
                            if n == 0 {
                                return;
                            }
                            buf.extend_from_slice(&chunk[..n]);
                            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                                break i + 4;
                            }
                        };
                        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                        let length = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        while buf.len() < head_end + length {
                            let Ok(n) = socket.read(&mut chunk).await else {
                                return;
                            };
                            if n == 0 {
                                return;
                            }
                            buf.extend_from_slice(&chunk[..n]);
                        }
                        log.lock()
                            .unwrap()
                            .push(head.lines().next().unwrap_or("").to_owned());
                        let i = counter.fetch_add(1, Ordering::SeqCst);
                        let canned = script.get(i).or(script.last()).unwrap().clone();
                        let authorization = head
                            .lines()
                            .find_map(|l| {
                                l.split_once(':')
                                    .filter(|(name, _)| name.eq_ignore_ascii_case("authorization"))
                                    .map(|(_, value)| value.trim().to_owned())
                            })
                            .unwrap_or_default();
                        let signature = authorization.rsplit('.').next().unwrap_or("").to_owned();
                        let body = String::from_utf8_lossy(&canned.body)
                            .replace("{authorization}", &authorization)
                            .replace("{signature}", &signature)
                            .replace("{base}", &base)
                            .replace("{n}", &i.to_string())
                            .into_bytes();
                        let mut response = format!(
                            "HTTP/1.1 {} X\r\nContent-Length: {}\r\n",
                            canned.status,
                            body.len()
                        );
                        for (name, value) in &canned.headers {
                            response.push_str(&format!("{name}: {value}\r\n"));
                        }
                        response.push_str("\r\n");
                        let mut bytes = response.into_bytes();
                        bytes.extend_from_slice(&body);
                        if socket.write_all(&bytes).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        CannedServer { base, requests }
    }

    pub fn request_lines(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}
