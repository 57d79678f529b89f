//! The HTTP server: one axum fallback handler that logs, injects faults, checks the JWT and the
//! rate limit, then hands `/v1` to the routes, `/upload/...` to the part store and `/_sandbox/...`
//! to introspection.
//!
//! Bounds, because the sandbox may face hostile or broken clients: each connection must send its request head within
//! [`HEADER_READ_TIMEOUT`] and a body within [`BODY_READ_TIMEOUT`] (upload parts: [`PART_READ_TIMEOUT`]); the request
//! log holds at most [`MAX_LOGGED_REQUESTS`] entries and [`MAX_LOG_BYTES`] bytes. hyper's own answers to requests it
//! cannot parse (400, 414, 431) are rewritten into JSON:API error documents like every other answer. `/_sandbox/*`,
//! which needs no token, answers only requests whose `Host` is an IP address or `localhost` on the bound port (a DNS
//! rebinding page names its own domain) and refuses cross-site browser requests (`Origin` of another site, or
//! `Sec-Fetch-Site: cross-site`).

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use chrono::Utc;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::Config;
use crate::auth::{KeyError, Verifier};
use crate::faults::{FaultEngine, FaultPlan};
use crate::jsonapi::{ApiError, Query};
use crate::routes::{self, Ctx, Options, Reply};
use crate::seed::SeedError;
use crate::store::Store;
use crate::uploads::{PartFaults, Uploads};

/// Largest JSON request body accepted (Apple's bodies here are a few hundred bytes).
pub const MAX_JSON_BODY: usize = 1024 * 1024;
/// The request log keeps at most this many entries (oldest dropped first).
pub const MAX_LOGGED_REQUESTS: usize = 100_000;
/// The request log keeps at most this many bytes of paths and notes (oldest dropped first).
pub const MAX_LOG_BYTES: usize = 16 << 20;
/// Time a connection has to send a complete request head (also while idle between requests).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a request has to send its JSON body.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a request has to send one upload part.
pub const PART_READ_TIMEOUT: Duration = Duration::from_secs(120);
/// Largest request head hyper buffers (beyond it: 431).
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Longest path+query kept in the log.
const MAX_LOGGED_PATH: usize = 4096;

/// One request as the emulator saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoggedRequest {
    /// HTTP method.
    pub method: String,
    /// Path with the query string, as sent.
    pub path: String,
    /// Status answered.
    pub status: u16,
    /// Why a request was refused (e.g. which JWT check failed); never contains secrets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The address could not be bound (in use, no permission).
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A configured public key is unusable.
    #[error("invalid API key")]
    Key(#[source] KeyError),
    /// The seed is inconsistent.
    #[error("invalid seed")]
    Seed(#[source] SeedError),
}

struct Shared {
    store: Mutex<Store>,
    verifier: Verifier,
    faults: Mutex<FaultEngine>,
    log: Mutex<RequestLog>,
    rate: Mutex<HashMap<String, VecDeque<Instant>>>,
    budget: u32,
    options: Options,
    port: u16,
    uploads: Mutex<Uploads>,
    /// Hashes of tokens presented so far, and of those [`Emulator::expire_tokens`] declared expired.
    tokens: Mutex<(
        std::collections::HashSet<u64>,
        std::collections::HashSet<u64>,
    )>,
    /// The upload folder was made by the emulator (removed when it goes).
    owned_upload_dir: bool,
}

impl Drop for Shared {
    fn drop(&mut self) {
        if self.owned_upload_dir {
            let dir = lock(&self.uploads).dir.clone();
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The request log, bounded in entries and bytes.
#[derive(Default)]
struct RequestLog {
    entries: VecDeque<LoggedRequest>,
    bytes: usize,
}

impl RequestLog {
    fn size(entry: &LoggedRequest) -> usize {
        entry.method.len() + entry.path.len() + entry.note.as_ref().map_or(0, String::len) + 32
    }

    fn push(&mut self, entry: LoggedRequest) {
        self.bytes += Self::size(&entry);
        self.entries.push_back(entry);
        while self.entries.len() > MAX_LOGGED_REQUESTS || self.bytes > MAX_LOG_BYTES {
            match self.entries.pop_front() {
                Some(old) => self.bytes -= Self::size(&old),
                None => break,
            }
        }
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }
}

/// Locks a mutex; a panic elsewhere never poisons the emulator for later requests.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running emulator. Dropping it stops the server too; [`Emulator::shutdown`] waits for it.
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    base_url: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// Binds `addr` (`127.0.0.1:0` picks a free port) and serves in the background on the
    /// current tokio runtime.
    pub async fn start(config: Config, addr: SocketAddr) -> Result<Emulator, StartError> {
        let verifier = Verifier::new(&config.keys, &config.issuer_id).map_err(StartError::Key)?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?;
        let host = match local.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let base_url = format!("http://{}", SocketAddr::new(host, local.port()));
        let mut store = Store::from_seed(&config.seed, &base_url).map_err(StartError::Seed)?;
        store.build_processing_polls = config.build_processing_polls;
        let (upload_dir, owned_upload_dir) = match &config.upload_dir {
            Some(dir) => (dir.clone(), false),
            None => (
                std::env::temp_dir().join(format!(
                    "ipagate-sandbox-{}-{}",
                    std::process::id(),
                    local.port()
                )),
                true,
            ),
        };
        let shared = Arc::new(Shared {
            uploads: Mutex::new(Uploads::new(upload_dir, config.part_faults.clone())),
            owned_upload_dir,
            tokens: Mutex::new(Default::default()),
            store: Mutex::new(store),
            verifier,
            faults: Mutex::new(FaultEngine::new(config.faults)),
            log: Mutex::new(RequestLog::default()),
            rate: Mutex::new(HashMap::new()),
            budget: config.hourly_request_budget,
            port: local.port(),
            options: Options {
                processing: config.processing,
                part_size: config.upload_part_size.max(1),
                loose_bundle_id: config.loose_bundle_id_filter,
                url_lifetime: config.upload_url_lifetime,
                reject_sha256: config.reject_sha256_checksums,
            },
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, app, stopped));
        Ok(Emulator {
            shared,
            addr: local,
            base_url,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The server root, e.g. `http://127.0.0.1:PORT` (no `/v1`, like `https://api.appstoreconnect.apple.com`).
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every `/v1` and `/upload` request so far, in order (not `/_sandbox`).
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        lock(&self.shared.log).entries.iter().cloned().collect()
    }

    /// Empties the request log.
    pub fn clear_request_log(&self) {
        lock(&self.shared.log).clear();
    }

    /// The current state: `{type: [{id, attributes, relationships}]}`.
    pub fn state_json(&self) -> Value {
        lock(&self.shared.store).to_json()
    }

    /// Completes every PROCESSING build upload (creating its build); returns their ids.
    pub fn advance_processing(&self) -> Vec<String> {
        routes::advance_all(&mut lock(&self.shared.store), Utc::now())
    }

    /// Ends a not-yet-complete upload in FAILED with one error; false if there is no such upload.
    pub fn fail_upload(&self, upload_id: &str, code: &str, description: &str) -> bool {
        routes::fail_upload(&mut lock(&self.shared.store), upload_id, code, description)
    }

    /// Every token presented so far counts as expired from now on (a 401 like Apple's for an expired token), as
    /// if the client had cached one across its lifetime; tokens minted afterwards are accepted.
    pub fn expire_tokens(&self) {
        let mut tokens = lock(&self.shared.tokens);
        let seen: Vec<u64> = tokens.0.iter().copied().collect();
        tokens.1.extend(seen);
    }

    /// Replaces the part-upload faults (the per-part try counters restart).
    pub fn set_part_faults(&self, faults: PartFaults) {
        lock(&self.shared.uploads).set_faults(faults);
    }

    /// Where the parts of upload file `file_id` are assembled (exists once a part arrived).
    pub fn upload_file_path(&self, file_id: &str) -> std::path::PathBuf {
        lock(&self.shared.uploads).path_of(file_id)
    }

    /// Replaces the fault plan (the per-route counters restart).
    pub fn set_faults(&self, plan: FaultPlan) {
        *lock(&self.shared.faults) = FaultEngine::new(plan);
    }

    /// Stops accepting connections and waits (at most a second) for open ones to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(1), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Accepts connections until `stopped`; each is served by hyper with read timeouts, its output passing through
/// [`JsonErrors`]. Aborting this task (see [`Emulator::shutdown`]) drops every connection with it.
async fn serve(listener: tokio::net::TcpListener, app: Router, mut stopped: oneshot::Receiver<()>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Out of file descriptors and the like: give the system a moment.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                let service = hyper_util::service::TowerToHyperService::new(app.clone());
                connections.spawn(async move {
                    let io = hyper_util::rt::TokioIo::new(JsonErrors::new(stream));
                    let mut builder = hyper::server::conn::http1::Builder::new();
                    builder
                        .timer(hyper_util::rt::TokioTimer::new())
                        .header_read_timeout(HEADER_READ_TIMEOUT)
                        .max_header_size(MAX_HEAD_BYTES)
                        .max_buf_size(MAX_HEAD_BYTES * 2);
                    let _ = builder.serve_connection(io, service).await;
                });
            }
        }
    }
    // Let open exchanges finish; `shutdown` aborts this task after a second.
    while connections.join_next().await.is_some() {}
}

/// A connection whose writes pass through unchanged, except hyper's own answers to unparsable requests (status
/// line 400, 414 or 431 with an empty body and no content type): those become JSON:API error documents, as App Store
/// Connect answers everything.
struct JsonErrors<S> {
    inner: S,
    pending: Option<Rewritten>,
}

struct Rewritten {
    bytes: Vec<u8>,
    written: usize,
    replaces: usize,
}

impl<S> JsonErrors<S> {
    fn new(inner: S) -> Self {
        JsonErrors {
            inner,
            pending: None,
        }
    }
}

/// The JSON:API replacement of one of hyper's bare error answers, or `None` for any other write.
fn rewrite_bare_error(buf: &[u8]) -> Option<Vec<u8>> {
    let (status, code, title) = if buf.starts_with(b"HTTP/1.1 400 ") {
        (
            400,
            "PARAMETER_ERROR.INVALID",
            "The request is not valid HTTP",
        )
    } else if buf.starts_with(b"HTTP/1.1 414 ") {
        (
            414,
            "PARAMETER_ERROR.URI_TOO_LONG",
            "The request URI is too long",
        )
    } else if buf.starts_with(b"HTTP/1.1 431 ") {
        (
            431,
            "PARAMETER_ERROR.HEADERS_TOO_LARGE",
            "The request headers are too large",
        )
    } else {
        return None;
    };
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    if !head.contains("content-length: 0\r\n") || head.contains("content-type") || end != buf.len()
    {
        return None;
    }
    let detail = match status {
        400 => "The server could not parse the request line or headers.".to_owned(),
        414 => "The request URI is longer than this server accepts.".to_owned(),
        _ => format!("The request head is larger than {MAX_HEAD_BYTES} bytes."),
    };
    let body = serde_json::to_vec(&ApiError::new(status, code, title, detail).body()).ok()?;
    let reason = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    Some(out)
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for JsonErrors<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for JsonErrors<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        use std::task::Poll;
        let this = &mut *self;
        if this.pending.is_none()
            && let Some(bytes) = rewrite_bare_error(buf)
        {
            this.pending = Some(Rewritten {
                bytes,
                written: 0,
                replaces: buf.len(),
            });
        }
        let Some(pending) = this.pending.as_mut() else {
            return std::pin::Pin::new(&mut this.inner).poll_write(cx, buf);
        };
        while pending.written < pending.bytes.len() {
            match std::pin::Pin::new(&mut this.inner)
                .poll_write(cx, &pending.bytes[pending.written..])
            {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
                }
                Poll::Ready(Ok(n)) => pending.written += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        let replaces = pending.replaces;
        this.pending = None;
        Poll::Ready(Ok(replaces))
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

fn json_response(status: u16, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn error_response(error: &ApiError) -> Response {
    let mut response = json_response(error.status, &error.body());
    if let Some(secs) = error.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

fn empty(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let method = request.method().as_str().to_string();
    let path = request.uri().path().to_string();
    let logged_path: String = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/")
        .chars()
        .take(MAX_LOGGED_PATH)
        .collect();
    if path == "/_sandbox" || path.starts_with("/_sandbox/") {
        if let Err(error) = sandbox_allowed(&request, shared.port) {
            return error_response(&error);
        }
        return sandbox(&shared, &method, &path, request).await;
    }
    // Faults are decided per route, the path *with* its query (each page of a list is its own route).
    // Part URLs carry a changing query (`expires=`): their faults follow the path alone.
    let fault_path = if path.starts_with("/upload/") {
        path.as_str()
    } else {
        logged_path.as_str()
    };
    let injection = lock(&shared.faults).inject(&method, fault_path);
    if injection.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(injection.latency_ms)).await;
    }
    let (response, note) = if let Some(status) = injection.server_error {
        let error = ApiError {
            retry_after: (status == 503).then_some(1),
            ..ApiError::new(
                status,
                "UNEXPECTED_ERROR",
                "An unexpected error occurred.",
                "An unexpected error occurred on the server side. If this issue continues, contact us at https://developer.apple.com/contact/.",
            )
        };
        (
            error_response(&error),
            Some("injected server error".to_string()),
        )
    } else if let Some(retry_after) = injection.rate_limited {
        let error = ApiError {
            retry_after,
            ..rate_limit_error()
        };
        (
            error_response(&error),
            Some("injected 429 burst".to_string()),
        )
    } else if let Some(rest) = path.strip_prefix("/v1/") {
        let commit = (method == "PATCH")
            .then(|| rest.strip_prefix("buildUploadFiles/"))
            .flatten()
            .filter(|id| !id.contains('/'))
            .map(str::to_owned);
        let (response, note) = api(&shared, &method, rest, &path, request).await;
        if let Some(file) = commit
            && response.status() == StatusCode::OK
        {
            verify_commit(&shared, &file).await;
        }
        (response, note)
    } else if let Some(rest) = path.strip_prefix("/upload/") {
        upload_part(&shared, &method, rest, request).await
    } else {
        (error_response(&ApiError::no_path()), None)
    };
    let status = response.status().as_u16();
    lock(&shared.log).push(LoggedRequest {
        method,
        path: logged_path,
        status,
        note,
    });
    if response.extensions().get::<ResetConnection>().is_some() {
        return truncate(response, 0).await;
    }
    match injection.reset_after_bytes {
        Some(limit) => truncate(response, limit).await,
        None => response,
    }
}

/// Sends the first `limit` body bytes, then fails the stream so the connection is cut.
async fn truncate(response: Response, limit: u64) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let cut = usize::try_from(limit)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    let head = bytes.slice(..cut);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    // The error comes a moment later so the head and the first bytes are flushed first.
    let reset = futures_util::stream::once(async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        Err::<Bytes, _>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "fault plan: connection reset",
        ))
    });
    let stream = futures_util::StreamExt::chain(
        futures_util::stream::iter([Ok::<Bytes, std::io::Error>(head)]),
        reset,
    );
    Response::from_parts(parts, Body::from_stream(stream))
}

fn rate_limit_error() -> ApiError {
    ApiError::new(
        429,
        "RATE_LIMIT_EXCEEDED",
        "The request rate limit has been reached.",
        "We've received too many requests for this API. Please wait and try again or slow down your request rate.",
    )
}

impl Shared {
    /// Counts one request against `key`'s rolling hour; returns the remaining budget, or `None`
    /// when it is exhausted.
    fn consume(&self, key: &str) -> Option<u32> {
        let now = Instant::now();
        let mut rate = lock(&self.rate);
        let window = rate.entry(key.to_string()).or_default();
        while window
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(3600))
        {
            window.pop_front();
        }
        let used = u32::try_from(window.len()).unwrap_or(u32::MAX);
        if used >= self.budget {
            return None;
        }
        window.push_back(now);
        Some(self.budget - used - 1)
    }
}

async fn api(
    shared: &Shared,
    method: &str,
    rest: &str,
    path: &str,
    request: Request,
) -> (Response, Option<String>) {
    let skew = lock(&shared.faults).clock_skew_secs();
    let now = Utc::now();
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let target = crate::auth::Target {
        method,
        path,
        query: request.uri().query(),
    };
    let token_hash = authorization.as_deref().map(|a| {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        a.hash(&mut h);
        h.finish()
    });
    if let Some(h) = token_hash {
        let mut tokens = lock(&shared.tokens);
        if tokens.1.contains(&h) {
            drop(tokens);
            let error = ApiError::new(
                401,
                "NOT_AUTHORIZED",
                "Authentication credentials are missing or invalid.",
                "Provide a properly configured and signed bearer token, and make sure that it has not expired. Learn more about Generating Tokens for API Requests https://developer.apple.com/go/?id=api-generating-tokens",
            );
            return (
                error_response(&error),
                Some("token expired (sandbox)".into()),
            );
        }
        if tokens.0.len() < 100_000 {
            tokens.0.insert(h);
        }
    }
    let caller = match shared.verifier.verify(
        authorization.as_deref(),
        now.timestamp().saturating_add(skew),
        target,
    ) {
        Ok(caller) => caller,
        Err(reason) => {
            let error = ApiError::new(
                401,
                "NOT_AUTHORIZED",
                "Authentication credentials are missing or invalid.",
                "Provide a properly configured and signed bearer token, and make sure that it has not expired. Learn more about Generating Tokens for API Requests https://developer.apple.com/go/?id=api-generating-tokens",
            );
            return (error_response(&error), Some(reason));
        }
    };
    if caller.read_only && method != "GET" {
        let error = ApiError::new(
            403,
            "FORBIDDEN_ERROR",
            "This request is forbidden for security reasons",
            "The API key in use does not allow this request",
        );
        return (
            error_response(&error),
            Some("the key's role is read-only".into()),
        );
    }
    let remaining = shared.consume(&caller.key_id);
    let rate_header = HeaderValue::from_str(&format!(
        "user-hour-lim:{};user-hour-rem:{};",
        shared.budget,
        remaining.unwrap_or(0)
    ))
    .ok();
    let (mut response, note) = match remaining {
        None => (
            error_response(&rate_limit_error()),
            Some("hourly budget spent".into()),
        ),
        Some(_) => serve_v1(shared, method, rest, path, request, now).await,
    };
    if let Some(value) = rate_header {
        response.headers_mut().insert("x-rate-limit", value);
    }
    (response, note)
}

async fn serve_v1(
    shared: &Shared,
    method: &str,
    rest: &str,
    path: &str,
    request: Request,
    now: chrono::DateTime<Utc>,
) -> (Response, Option<String>) {
    let query = Query::parse(request.uri().query());
    let body = match read_json(method, request).await {
        Ok(body) => body,
        Err(error) => return (error_response(&error), None),
    };
    let segments: Vec<&str> = rest.split('/').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return (error_response(&ApiError::no_path()), None);
    }
    let result = {
        let mut store = lock(&shared.store);
        let ctx = Ctx {
            store: &mut store,
            options: shared.options,
            now,
            query: &query,
            path,
            body,
        };
        routes::v1(ctx, method, &segments)
    };
    match result {
        Ok(Reply::Json(status, doc)) => (json_response(status, &doc), None),
        Ok(Reply::NoContent) => (empty(StatusCode::NO_CONTENT), None),
        Err(error) => (error_response(&error), None),
    }
}

/// Reads a JSON body (POST/PATCH/PUT/DELETE), at most [`MAX_JSON_BODY`] bytes; empty → `None`.
async fn read_json(method: &str, request: Request) -> Result<Option<Value>, ApiError> {
    if !matches!(method, "POST" | "PATCH" | "PUT" | "DELETE") {
        return Ok(None);
    }
    let read = tokio::time::timeout(
        BODY_READ_TIMEOUT,
        axum::body::to_bytes(request.into_body(), MAX_JSON_BODY),
    )
    .await
    .map_err(|_| body_timeout(BODY_READ_TIMEOUT))?;
    let bytes = read.map_err(|_| {
        ApiError::new(
            413,
            "ENTITY_ERROR.REQUEST_TOO_LARGE",
            "The request entity is too large",
            format!("The request body is larger than {MAX_JSON_BODY} bytes"),
        )
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        ApiError::new(
            400,
            "ENTITY_ERROR.INVALID_JSON",
            "The request entity is not valid JSON",
            format!("The request body is not valid JSON: {e}"),
        )
    })
}

fn body_timeout(limit: Duration) -> ApiError {
    ApiError::new(
        408,
        "REQUEST_TIMEOUT",
        "The request body was not received in time",
        format!(
            "The request body did not arrive within {} seconds.",
            limit.as_secs()
        ),
    )
}

/// Marks a response whose connection is to be cut (a part reset by the fault plan).
#[derive(Clone, Copy)]
struct ResetConnection;

/// `PUT /upload/{fileId}/{partNumber}?expires=…`: the presigned part URLs of `uploadOperations` (see
/// [`crate::uploads`]).
async fn upload_part(
    shared: &Shared,
    method: &str,
    rest: &str,
    request: Request,
) -> (Response, Option<String>) {
    let fail = |status: u16, code: &str, detail: &str| {
        let error = ApiError::new(status, code, "The upload part was refused", detail);
        (error_response(&error), Some(detail.to_string()))
    };
    let Some((file, part)) = rest.split_once('/') else {
        return (error_response(&ApiError::no_path()), None);
    };
    let file = file.to_owned();
    // Part numbers count from 1; 0 or a number past usize is no such URL.
    let Some((part, index)) = part
        .parse::<usize>()
        .ok()
        .and_then(|n| Some((n, n.checked_sub(1)?)))
    else {
        return (error_response(&ApiError::no_path()), None);
    };
    let expected = {
        let store = lock(&shared.store);
        store.parts.get(&file).and_then(|parts| {
            let p = parts.get(index)?;
            Some((
                p.offset,
                p.length,
                parts.iter().map(|p| p.length).sum::<u64>(),
            ))
        })
    };
    let Some((offset, length, size)) = expected else {
        return (error_response(&ApiError::no_path()), None);
    };
    if method != "PUT" {
        return fail(
            405,
            "METHOD_NOT_ALLOWED",
            "the upload operation's method is PUT",
        );
    }
    if request.headers().contains_key(header::AUTHORIZATION) {
        return fail(
            400,
            "INVALID_ARGUMENT",
            "presigned upload URLs take no Authorization header",
        );
    }
    match crate::uploads::expires(request.uri().query()) {
        Some(ends) if ends >= Utc::now().timestamp() => {}
        Some(_) => return fail(403, "AccessDenied", "Request has expired"),
        None => {
            return fail(
                403,
                "SIGNATURE_DOES_NOT_MATCH",
                "the URL lacks its signature (expires=)",
            );
        }
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if content_type != Some("application/octet-stream") {
        return fail(
            403,
            "SIGNATURE_DOES_NOT_MATCH",
            "send exactly the requestHeaders of the upload operation (Content-Type: application/octet-stream)",
        );
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        None => {
            return fail(
                411,
                "MissingContentLength",
                "a part PUT needs a Content-Length equal to the operation's length",
            );
        }
        Some(n) if n != length => {
            return fail(
                400,
                "INVALID_ARGUMENT",
                &format!("Content-Length {n} is not the operation's length {length}"),
            );
        }
        Some(_) => {}
    }
    let injection = lock(&shared.uploads).inject(&file, part as u64);
    if !injection.latency.is_zero() {
        tokio::time::sleep(injection.latency).await;
    }
    if let Some(status) = injection.fail {
        let error = ApiError {
            retry_after: matches!(status, 429 | 503).then_some(1),
            ..ApiError::new(
                status,
                if status == 429 {
                    "SlowDown"
                } else {
                    "InternalError"
                },
                "The upload part was refused",
                "part fault plan: injected failure",
            )
        };
        return (
            error_response(&error),
            Some("injected part failure".to_string()),
        );
    }
    if let Some(stall) = injection.stall {
        tokio::time::sleep(stall).await;
    }
    if let Some(after) = injection.reset_after {
        // Read that much of the body, then cut the connection: nothing is stored.
        let mut body = request.into_body().into_data_stream();
        let mut seen = 0u64;
        while seen < after {
            match futures_util::StreamExt::next(&mut body).await {
                Some(Ok(chunk)) => seen += chunk.len() as u64,
                _ => break,
            }
        }
        // A body is announced and never sent: the client sees the connection drop, not an answer.
        let error = ApiError::new(
            500,
            "InternalError",
            "The connection was reset",
            "part fault plan: connection reset",
        );
        let mut response = error_response(&error);
        response.extensions_mut().insert(ResetConnection);
        return (response, Some("injected part reset".to_string()));
    }
    let limit = usize::try_from(length).unwrap_or(usize::MAX);
    let read = tokio::time::timeout(
        PART_READ_TIMEOUT,
        axum::body::to_bytes(request.into_body(), limit),
    )
    .await;
    let Ok(read) = read else {
        let error = body_timeout(PART_READ_TIMEOUT);
        return (
            error_response(&error),
            Some("part body too slow".to_string()),
        );
    };
    let Ok(bytes) = read else {
        return fail(400, "INVALID_ARGUMENT", "more bytes than the part's length");
    };
    if bytes.len() as u64 != length {
        return fail(
            400,
            "INVALID_ARGUMENT",
            "fewer bytes than the part's length",
        );
    }
    let path = lock(&shared.uploads).path_of(&file);
    let written = tokio::task::spawn_blocking(move || {
        crate::uploads::write_part(&path, size, offset, &bytes)
    })
    .await;
    if !matches!(written, Ok(Ok(()))) {
        return fail(500, "InternalError", "the sandbox could not store the part");
    }
    {
        let mut store = lock(&shared.store);
        if let Some(p) = store
            .parts
            .get_mut(&file)
            .and_then(|parts| parts.get_mut(index))
        {
            p.received = true;
        }
    }
    let mut response = empty(StatusCode::OK);
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{file}-{part}-{length}\"")) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    (response, None)
}

/// After a successful commit (`PATCH /v1/buildUploadFiles/{id}` with `uploaded: true`): the assembled file must
/// have the declared size and, when a SHA-256 was sent, that digest; otherwise the file and its build upload fail
/// with `ASSET_CHECKSUM_MISMATCH`.
async fn verify_commit(shared: &Shared, file: &str) {
    let (declared_size, checksum, upload) = {
        let store = lock(&shared.store);
        let Some(r) = store.get("buildUploadFiles", file) else {
            return;
        };
        let committed = r
            .attrs
            .get("assetDeliveryState")
            .and_then(|s| s.get("state"))
            .and_then(Value::as_str)
            == Some("COMPLETE");
        if !committed {
            return;
        }
        let checksum = r
            .attrs
            .get("sourceFileChecksums")
            .and_then(|c| c.get("file"))
            .and_then(|f| {
                Some((
                    f.get("algorithm")?.as_str()?.to_owned(),
                    f.get("hash")?.as_str()?.to_ascii_lowercase(),
                ))
            });
        (
            r.attrs.get("fileSize").and_then(Value::as_u64),
            checksum,
            r.one.get("buildUpload").cloned(),
        )
    };
    let path = lock(&shared.uploads).path_of(file);
    let digest = tokio::task::spawn_blocking(move || crate::uploads::digest(&path))
        .await
        .ok()
        .and_then(Result::ok);
    let problem = match (&digest, declared_size) {
        (None, _) => Some("the assembled file cannot be read".to_string()),
        (Some((size, _)), Some(declared)) if *size != declared => Some(format!(
            "the assembled file has {size} bytes, the upload declared {declared}"
        )),
        (Some((_, sha)), _) => match &checksum {
            Some((algorithm, hash)) if algorithm == "SHA_256" && hash != sha => Some(format!(
                "the SHA-256 of the received bytes is {sha}, the client declared {hash}"
            )),
            _ => None,
        },
    };
    let Some(problem) = problem else {
        check_plist(shared, file, upload.as_deref()).await;
        return;
    };
    let mut store = lock(&shared.store);
    let error = json!({"code": "ASSET_CHECKSUM_MISMATCH",
        "description": format!("The uploaded asset is corrupt: {problem}.")});
    if let Some(r) = store.get_mut("buildUploadFiles", file) {
        r.attrs.insert(
            "assetDeliveryState".into(),
            json!({"state": "FAILED", "errors": [error], "warnings": []}),
        );
    }
    if let Some(upload) = upload {
        routes::fail_upload(
            &mut store,
            &upload,
            "ASSET_CHECKSUM_MISMATCH",
            &format!("The uploaded asset is corrupt: {problem}."),
        );
    }
}

/// After a verified commit: an app package whose Info.plist contradicts the build upload (bundle id of the app
/// record, `cfBundleShortVersionString`, `cfBundleVersion`) fails processing like Apple's validation does
/// (ITMS-90054 for the bundle id, ITMS-90345 for the versions). Files that are not app packages are not judged.
async fn check_plist(shared: &Shared, file: &str, upload: Option<&str>) {
    let Some(upload) = upload else { return };
    let path = lock(&shared.uploads).path_of(file);
    let Ok(Some((bundle_id, short, build))) =
        tokio::task::spawn_blocking(move || crate::uploads::identity(&path)).await
    else {
        return;
    };
    let mut store = lock(&shared.store);
    let Some(u) = store.get("buildUploads", upload) else {
        return;
    };
    let declared_short = u.attr_str("cfBundleShortVersionString").map(str::to_owned);
    let declared_build = u.attr_str("cfBundleVersion").map(str::to_owned);
    let app_bundle = u
        .one
        .get("app")
        .and_then(|app| store.get("apps", app))
        .and_then(|a| a.attr_str("bundleId"))
        .map(str::to_owned);
    let failure = if app_bundle.is_some() && bundle_id != app_bundle {
        Some((
            "90054",
            format!(
                "Invalid Bundle Identifier. The bundle identifier '{}' does not match the app record's '{}'.",
                bundle_id.unwrap_or_default(),
                app_bundle.unwrap_or_default()
            ),
        ))
    } else if short != declared_short {
        Some((
            "90345",
            format!(
                "Metadata/Info.plist Mismatch. The value for cfBundleShortVersionString '{}' of the build upload does \
                 not match the value for CFBundleShortVersionString '{}' in the Info.plist.",
                declared_short.unwrap_or_default(),
                short.unwrap_or_default()
            ),
        ))
    } else if build != declared_build {
        Some((
            "90345",
            format!(
                "Metadata/Info.plist Mismatch. The value for cfBundleVersion '{}' of the build upload does not match \
                 the value for CFBundleVersion '{}' in the Info.plist.",
                declared_build.unwrap_or_default(),
                build.unwrap_or_default()
            ),
        ))
    } else {
        None
    };
    if let Some((code, description)) = failure {
        routes::fail_upload(&mut store, upload, code, &description);
    }
}

/// `/_sandbox/*` needs no token, so a web page must not reach it: the `Host` must be an IP address or `localhost` on
/// the bound port (a DNS-rebinding page names its own domain), and a browser request from another site (`Origin` not
/// this server, `Sec-Fetch-Site: cross-site` or `same-site`) is refused — which covers the "simple" cross-site
/// requests a page may send without a CORS preflight.
fn sandbox_allowed(request: &Request, port: u16) -> Result<(), ApiError> {
    let forbidden = |detail: &str| {
        ApiError::new(
            403,
            "FORBIDDEN_ERROR",
            "This request is forbidden for security reasons",
            detail,
        )
    };
    let header = |name: header::HeaderName| {
        request
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap_or("\u{fffd}").to_owned())
    };
    let host = header(header::HOST)
        .or_else(|| request.uri().authority().map(|a| a.as_str().to_owned()))
        .ok_or_else(|| forbidden("/_sandbox requests need a Host header"))?;
    if !is_local_authority(&host, port) {
        return Err(forbidden(
            "/_sandbox answers only requests addressed to an IP address or localhost on its own port",
        ));
    }
    if let Some(origin) = header(header::ORIGIN) {
        let same = origin
            .strip_prefix("http://")
            .is_some_and(|authority| authority.eq_ignore_ascii_case(&host));
        if !same {
            return Err(forbidden("/_sandbox refuses requests from other sites"));
        }
    }
    if let Some(site) = header(header::HeaderName::from_static("sec-fetch-site"))
        && !matches!(site.as_str(), "same-origin" | "none")
    {
        return Err(forbidden("/_sandbox refuses requests from other sites"));
    }
    Ok(())
}

/// `host:port` where host is an IP literal or `localhost` and port is ours.
fn is_local_authority(authority: &str, port: u16) -> bool {
    let Some((host, p)) = authority.rsplit_once(':') else {
        return false;
    };
    if p.parse::<u16>().ok() != Some(port) {
        return false;
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok()
}

/// `/_sandbox/...`: introspection and control, no JWT, not logged.
async fn sandbox(shared: &Shared, method: &str, path: &str, request: Request) -> Response {
    let segments: Vec<&str> = path
        .trim_start_matches("/_sandbox")
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    match (method, segments.as_slice()) {
        ("GET", ["state"]) => json_response(200, &lock(&shared.store).to_json()),
        ("GET", ["requests"]) => {
            // Serialised under the lock, without cloning the log first.
            let bytes = serde_json::to_vec(&lock(&shared.log).entries).unwrap_or_default();
            let mut response = Response::new(Body::from(bytes));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        ("DELETE", ["requests"]) => {
            lock(&shared.log).clear();
            empty(StatusCode::NO_CONTENT)
        }
        ("POST", ["advance"]) => {
            let done = routes::advance_all(&mut lock(&shared.store), Utc::now());
            json_response(200, &json!({"completed": done}))
        }
        ("POST", ["buildUploads", id, "fail"]) => {
            let id = id.to_string();
            let body = read_json("POST", request).await.ok().flatten();
            let field = |name: &str, default: &str| {
                body.as_ref()
                    .and_then(|b| b.get(name))
                    .and_then(Value::as_str)
                    .unwrap_or(default)
                    .to_string()
            };
            let code = field("code", "90000");
            let description = field("description", "The build failed processing in the sandbox.");
            if routes::fail_upload(&mut lock(&shared.store), &id, &code, &description) {
                empty(StatusCode::NO_CONTENT)
            } else {
                error_response(&ApiError::not_found("buildUploads", &id))
            }
        }
        ("GET", ["faults"]) => json_response(200, &json!(lock(&shared.faults).plan())),
        ("POST", ["expireTokens"]) => {
            let mut tokens = lock(&shared.tokens);
            let seen: Vec<u64> = tokens.0.iter().copied().collect();
            tokens.1.extend(seen);
            empty(StatusCode::NO_CONTENT)
        }
        ("GET", ["partFaults"]) => json_response(200, &json!(lock(&shared.uploads).faults)),
        ("PUT", ["partFaults"]) => {
            let body = match read_json("PUT", request).await {
                Ok(body) => body,
                Err(error) => return error_response(&error),
            };
            match body.map(serde_json::from_value::<PartFaults>) {
                Some(Ok(faults)) => {
                    lock(&shared.uploads).set_faults(faults);
                    empty(StatusCode::NO_CONTENT)
                }
                Some(Err(e)) => error_response(&ApiError::new(
                    400,
                    "PARAMETER_ERROR.INVALID",
                    "Invalid part fault plan",
                    e.to_string(),
                )),
                None => error_response(&ApiError::new(
                    400,
                    "PARAMETER_ERROR.INVALID",
                    "Invalid part fault plan",
                    "send a part fault plan as JSON",
                )),
            }
        }
        ("PUT", ["faults"]) => {
            let body = match read_json("PUT", request).await {
                Ok(body) => body,
                Err(error) => return error_response(&error),
            };
            let parsed = body.map(serde_json::from_value::<FaultPlan>);
            match parsed {
                Some(Ok(plan)) => {
                    *lock(&shared.faults) = FaultEngine::new(plan);
                    empty(StatusCode::NO_CONTENT)
                }
                Some(Err(e)) => error_response(&ApiError::new(
                    400,
                    "PARAMETER_ERROR.INVALID",
                    "Invalid fault plan",
                    e.to_string(),
                )),
                None => error_response(&ApiError::new(
                    400,
                    "PARAMETER_ERROR.INVALID",
                    "Invalid fault plan",
                    "send a fault plan as JSON",
                )),
            }
        }
        _ => error_response(&ApiError::no_path()),
    }
}
