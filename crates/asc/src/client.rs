//! The HTTP client: authentication, bounded reads, retries, paging.
//!
//! Retry rules (reference §9): a 401 re-mints the token and retries once, then fails with a clock hint; 429 waits
//! `Retry-After` (or backs off) for any method, since the request was refused before it ran; 503, other 5xx, timeouts and
//! broken connections are retried only for idempotent requests and for creates whose duplicate the server detects
//! (a retried `POST /v1/buildUploads` answers 409 `ENTITY_ERROR.ATTRIBUTE.INVALID.DUPLICATE`, which the caller resolves).
//! At most [`ClientBuilder::concurrency`] requests are in flight; a request waiting to retry holds no slot.

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use url::Url;

use crate::auth::{ApiKey, TokenProvider};
use crate::error::{ApiError, ApiErrors, RequestError, describe_body};
use crate::jsonapi::{Collection, Document, ResourceOf, ResourceType};
use crate::query::Query;
use crate::redact::Redactor;
use crate::retry::{
    Clock, RateLimit, RetryPolicy, Sleeper, SystemClock, TokioSleeper, parse_retry_after,
};

/// Whether a request may be sent again after an ambiguous failure (5xx, timeout, broken connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// GET, PATCH, DELETE: repeating is harmless.
    Idempotent,
    /// A create whose repetition the server rejects recognisably (409 DUPLICATE); the caller handles that answer.
    DuplicateDetectable,
    /// Never repeated after an ambiguous failure.
    NotIdempotent,
}

impl Idempotency {
    fn may_repeat(self) -> bool {
        !matches!(self, Idempotency::NotIdempotent)
    }
}

/// Counters of what the client did, for `--format json` and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ClientStats {
    /// HTTP requests sent (every attempt counts).
    pub requests: u64,
    /// Of those, retries.
    pub retries: u64,
    /// Tokens minted.
    pub tokens_minted: u64,
    /// The last `X-Rate-Limit` seen.
    pub rate_limit: Option<RateLimit>,
}

/// Building a client failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The base URL is not an absolute http(s) URL.
    #[error(
        "invalid App Store Connect base URL {:?} (expected e.g. https://api.appstoreconnect.apple.com)",
        crate::redact::redact_secrets(.0)
    )]
    BadBaseUrl(String),
    /// Plain `http://` to a host that is not this machine: the token would cross the network unencrypted.
    #[error(
        "refusing plain http:// to {host}: the token would travel unencrypted; use https:// (plain http is only for \
         loopback addresses such as an `ipagate sandbox` on 127.0.0.1)"
    )]
    InsecureBaseUrl {
        /// The host of the URL.
        host: String,
    },
    /// The HTTP stack could not be set up.
    #[error("cannot set up the HTTP client")]
    Http(#[source] reqwest::Error),
}

/// Default of [`ClientBuilder::deadline`]: two minutes for one request with all its retries and waits.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(120);
/// Default of [`ClientBuilder::max_listing_bytes`]: 256 MiB across all pages of one listing.
pub const DEFAULT_MAX_LISTING_BYTES: usize = 256 << 20;
/// Default of [`ClientBuilder::max_listing_items`]: far above any real app's history (10 000 builds is a lot).
pub const DEFAULT_MAX_LISTING_ITEMS: usize = 500_000;

/// What one listing has used so far, against its limits.
struct ListingBudget {
    path: String,
    bytes: usize,
    max_bytes: usize,
    max_items: usize,
    largest_page: usize,
}

impl ListingBudget {
    fn add_bytes(&mut self, n: usize, pages: usize) -> Result<(), RequestError> {
        self.bytes = self.bytes.saturating_add(n);
        if self.bytes > self.max_bytes {
            return Err(RequestError::ListingTooLarge {
                path: self.path.clone(),
                pages,
                limit: self.max_bytes,
            });
        }
        Ok(())
    }

    /// After a page that has a `links.next`: is going on still plausible?
    fn check_page<T: ResourceType>(
        &mut self,
        collection: &Collection<T>,
        page_items: usize,
    ) -> Result<(), RequestError> {
        if page_items == 0 {
            return Err(RequestError::EmptyPageWithNext {
                path: self.path.clone(),
                page: collection.pages,
            });
        }
        self.largest_page = self.largest_page.max(page_items);
        let items = collection.data.len();
        if let Some(total) = collection.total {
            let allowed = usize::try_from(total)
                .unwrap_or(usize::MAX)
                .saturating_add(self.largest_page);
            if items > allowed {
                return Err(RequestError::PagingPastTotal {
                    path: self.path.clone(),
                    items,
                    total,
                });
            }
        }
        let held = items.saturating_add(collection.included.len());
        if held > self.max_items {
            return Err(RequestError::TooManyItems {
                path: self.path.clone(),
                items: held,
                limit: self.max_items,
            });
        }
        Ok(())
    }
}

/// Configures a [`Client`].
pub struct ClientBuilder {
    key: ApiKey,
    base_url: String,
    policy: RetryPolicy,
    sleeper: Arc<dyn Sleeper>,
    clock: Arc<dyn Clock>,
    concurrency: usize,
    timeout: Duration,
    max_body: usize,
    max_pages: usize,
    max_listing_bytes: usize,
    max_listing_items: usize,
    token_lifetime: Option<Duration>,
    deadline: Option<Duration>,
    redactor: Redactor,
    part_concurrency: usize,
    part_timeout: Duration,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("key", &self.key)
            .field("base_url", &self.base_url)
            .field("policy", &self.policy)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// The server root, e.g. `https://api.appstoreconnect.apple.com` (paths add `/v1/...`; a trailing `/v1` is dropped).
    pub fn base_url(mut self, url: &str) -> Self {
        self.base_url = url.to_owned();
        self
    }

    /// Retry policy.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// How waits happen (tests inject an instant sleeper).
    pub fn sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.sleeper = sleeper;
        self
    }

    /// Where time comes from (JWT `iat`/`exp`, HTTP-date `Retry-After`).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Requests in flight at once (default 4; Apple's servers misbehave under more).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Timeout of one attempt (default 60 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Largest response body accepted (default 64 MiB).
    pub fn max_body_bytes(mut self, n: usize) -> Self {
        self.max_body = n;
        self
    }

    /// Most pages one listing follows (default 10 000, i.e. two million resources).
    pub fn max_pages(mut self, n: usize) -> Self {
        self.max_pages = n.max(1);
        self
    }

    /// Most response bytes one listing reads across all its pages (default 256 MiB): a server that keeps sending
    /// `links.next` cannot make a listing hold more than this.
    pub fn max_listing_bytes(mut self, n: usize) -> Self {
        self.max_listing_bytes = n.max(1);
        self
    }

    /// Most resources (data plus included) one listing collects (default 500 000).
    pub fn max_listing_items(mut self, n: usize) -> Self {
        self.max_listing_items = n.max(1);
        self
    }

    /// The longest one request may take, retries and waits included (default [`DEFAULT_DEADLINE`]): a server that
    /// drips its answer or keeps asking to retry later cannot hold a request longer. A `Retry-After` that would end
    /// past the deadline fails at once instead of waiting. `None`: no deadline beyond the per-attempt timeout and the
    /// retry policy.
    pub fn deadline(mut self, deadline: Option<Duration>) -> Self {
        self.deadline = deadline;
        self
    }

    /// Where minted tokens are registered, so output that quotes one (or a part of one) anyway can be redacted.
    pub fn redactor(mut self, redactor: Redactor) -> Self {
        self.redactor = redactor;
        self
    }

    /// Upload parts in flight at once ([`Client::send_part`]; default 4), separate from [`ClientBuilder::concurrency`].
    pub fn part_concurrency(mut self, n: usize) -> Self {
        self.part_concurrency = n.max(1);
        self
    }

    /// Timeout of one part attempt (default 300 s), separate from [`ClientBuilder::timeout`].
    pub fn part_timeout(mut self, timeout: Duration) -> Self {
        self.part_timeout = timeout;
        self
    }

    /// Token lifetime (clamped under Apple's 20-minute cap).
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = Some(lifetime);
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<Client, BuildError> {
        let base = parse_base_url(&self.base_url)?;
        let http = reqwest::Client::builder()
            // A redirect is never followed: it could lead the token to another host, or off https.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.timeout)
            .connect_timeout(Duration::from_secs(15))
            .user_agent(concat!("ipagate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(BuildError::Http)?;
        let mut tokens = TokenProvider::with_clock(self.key, self.clock.clone())
            .with_redactor(self.redactor.clone());
        if let Some(lifetime) = self.token_lifetime {
            tokens.set_lifetime(lifetime);
        }
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                tokens,
                policy: self.policy,
                sleeper: self.sleeper,
                clock: self.clock,
                permits: Semaphore::new(self.concurrency),
                part_permits: Semaphore::new(self.part_concurrency),
                part_timeout: self.part_timeout,
                max_body: self.max_body,
                max_pages: self.max_pages,
                max_listing_bytes: self.max_listing_bytes,
                max_listing_items: self.max_listing_items,
                deadline: self.deadline,
                redactor: self.redactor,
                requests: AtomicU64::new(0),
                retries: AtomicU64::new(0),
                rate_limit: Mutex::new(None),
            }),
        })
    }
}

fn parse_base_url(text: &str) -> Result<Url, BuildError> {
    let bad = || BuildError::BadBaseUrl(text.to_owned());
    let mut url = Url::parse(text.trim()).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad());
    }
    let loopback = match url.host().ok_or_else(bad)? {
        url::Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    };
    if url.scheme() == "http" && !loopback {
        return Err(BuildError::InsecureBaseUrl {
            host: crate::error::one_line(url.host_str().unwrap_or_default()),
        });
    }
    let path = url.path().trim_end_matches('/');
    let path = path.strip_suffix("/v1").unwrap_or(path).to_owned();
    url.set_path(&path);
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

/// An App Store Connect API client. Cheap to clone; clones share the token cache, limits and counters.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    base: Url,
    tokens: TokenProvider,
    policy: RetryPolicy,
    sleeper: Arc<dyn Sleeper>,
    pub(crate) clock: Arc<dyn Clock>,
    permits: Semaphore,
    pub(crate) part_permits: Semaphore,
    pub(crate) part_timeout: Duration,
    max_body: usize,
    max_pages: usize,
    max_listing_bytes: usize,
    max_listing_items: usize,
    deadline: Option<Duration>,
    pub(crate) redactor: Redactor,
    pub(crate) requests: AtomicU64,
    retries: AtomicU64,
    rate_limit: Mutex<Option<RateLimit>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.inner.base.as_str())
            .field("tokens", &self.inner.tokens)
            .finish_non_exhaustive()
    }
}

/// A raw answer: status and body (already bounded).
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// HTTP status.
    pub status: u16,
    /// Body bytes.
    pub body: Vec<u8>,
}

enum Attempt {
    Done(RawResponse),
    Retry {
        wait: Option<Duration>,
        last: String,
    },
    Fail(RequestError),
}

impl Client {
    /// Starts configuring a client for `key` against Apple's production API.
    pub fn builder(key: ApiKey) -> ClientBuilder {
        ClientBuilder {
            key,
            base_url: crate::DEFAULT_BASE_URL.to_owned(),
            policy: RetryPolicy::default(),
            sleeper: Arc::new(TokioSleeper),
            clock: Arc::new(SystemClock),
            concurrency: 4,
            timeout: Duration::from_secs(60),
            max_body: 64 << 20,
            max_pages: 10_000,
            max_listing_bytes: DEFAULT_MAX_LISTING_BYTES,
            max_listing_items: DEFAULT_MAX_LISTING_ITEMS,
            token_lifetime: None,
            deadline: Some(DEFAULT_DEADLINE),
            redactor: Redactor::new(),
            part_concurrency: 4,
            part_timeout: Duration::from_secs(300),
        }
    }

    /// The server root.
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// What the client did so far.
    pub fn stats(&self) -> ClientStats {
        ClientStats {
            requests: self.inner.requests.load(Ordering::Relaxed),
            retries: self.inner.retries.load(Ordering::Relaxed),
            tokens_minted: self.inner.tokens.minted(),
            rate_limit: *self
                .inner
                .rate_limit
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        }
    }

    /// The redactor that knows this client's tokens (shared with clones).
    pub fn redactor(&self) -> &Redactor {
        &self.inner.redactor
    }

    /// The token provider (shared with clones).
    pub fn tokens(&self) -> &TokenProvider {
        &self.inner.tokens
    }

    /// `base + path + ?query`; `path` starts with `/v1/`.
    pub fn url(&self, path: &str, query: &Query) -> Result<Url, RequestError> {
        let text = format!("{}{}", self.inner.base.as_str().trim_end_matches('/'), path);
        let mut url = Url::parse(&text).map_err(|_| RequestError::BadUrl { url: text.clone() })?;
        if !query.pairs().is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (name, value) in query.pairs() {
                pairs.append_pair(name, value);
            }
        }
        Ok(url)
    }

    /// Resolves a link from a response (absolute, or relative to the base) and refuses other hosts.
    pub fn resolve_link(&self, link: &str) -> Result<Url, RequestError> {
        let url = self
            .inner
            .base
            .join(link)
            .map_err(|_| RequestError::BadUrl {
                url: link.to_owned(),
            })?;
        if url.origin() != self.inner.base.origin() {
            return Err(RequestError::ForeignLink {
                url: link.to_owned(),
            });
        }
        Ok(url)
    }

    /// `GET path?query`, decoded as `D`.
    pub async fn get<D: DeserializeOwned>(
        &self,
        path: &str,
        query: &Query,
    ) -> Result<D, RequestError> {
        let url = self.url(path, query)?;
        self.get_url(url).await
    }

    /// `GET url`, decoded as `D`.
    pub async fn get_url<D: DeserializeOwned>(&self, url: Url) -> Result<D, RequestError> {
        let response = self
            .send(Method::GET, url.clone(), None, Idempotency::Idempotent)
            .await?;
        decode("GET", &url, &response.body).map_err(|e| e.redact(&self.inner.redactor))
    }

    /// Every resource of a list endpoint, following `links.next` exactly as given until it is absent.
    ///
    /// A hostile or broken server cannot keep a listing going: a `links.next` that repeats a page or leaves the host,
    /// an empty page that still has `links.next`, more resources than `meta.paging.total` plus a page, and more than
    /// the page, byte ([`ClientBuilder::max_listing_bytes`]) or item ([`ClientBuilder::max_listing_items`]) budgets
    /// are errors.
    pub async fn get_all<T: ResourceType>(
        &self,
        path: &str,
        query: &Query,
    ) -> Result<Collection<T>, RequestError> {
        let mut url = self.url(path, query)?;
        let mut seen: HashSet<String> = HashSet::new();
        let mut collection = Collection {
            data: Vec::new(),
            included: Vec::new(),
            pages: 0,
            total: None,
        };
        let mut budget = ListingBudget {
            path: shown_path(&url),
            bytes: 0,
            max_bytes: self.inner.max_listing_bytes,
            max_items: self.inner.max_listing_items,
            largest_page: 0,
        };
        loop {
            if !seen.insert(url.as_str().to_owned()) {
                return Err(RequestError::PagingLoop {
                    url: url.to_string(),
                });
            }
            if collection.pages >= self.inner.max_pages {
                return Err(RequestError::TooManyPages {
                    pages: collection.pages,
                });
            }
            let response = self
                .send(Method::GET, url.clone(), None, Idempotency::Idempotent)
                .await?;
            budget.add_bytes(response.body.len(), collection.pages + 1)?;
            let page: Document<Vec<ResourceOf<T>>> =
                decode("GET", &url, &response.body).map_err(|e| e.redact(&self.inner.redactor))?;
            if collection.pages == 0 {
                collection.total = page
                    .meta
                    .as_ref()
                    .and_then(|m| m.paging.as_ref())
                    .and_then(|p| p.total);
            }
            collection.pages += 1;
            let page_items = page.data.len();
            collection.data.extend(page.data);
            collection.included.extend(page.included);
            let next = page
                .links
                .and_then(|links| links.next)
                .filter(|next| !next.is_empty());
            let Some(next) = next else {
                return Ok(collection);
            };
            url = self
                .resolve_link(&next)
                .map_err(|e| e.redact(&self.inner.redactor))?;
            budget.check_page(&collection, page_items)?;
        }
    }

    /// `POST path` with a JSON body.
    pub async fn post<B: Serialize, D: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        idempotency: Idempotency,
    ) -> Result<D, RequestError> {
        let url = self.url(path, &Query::new())?;
        let bytes = encode_body("POST", &url, body)?;
        let response = self
            .send(Method::POST, url.clone(), Some(bytes), idempotency)
            .await?;
        decode("POST", &url, &response.body)
    }

    /// `PATCH path` with a JSON body (idempotent).
    pub async fn patch<B: Serialize, D: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<D, RequestError> {
        let url = self.url(path, &Query::new())?;
        let bytes = encode_body("PATCH", &url, body)?;
        let response = self
            .send(
                Method::PATCH,
                url.clone(),
                Some(bytes),
                Idempotency::Idempotent,
            )
            .await?;
        decode("PATCH", &url, &response.body)
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> Result<(), RequestError> {
        let url = self.url(path, &Query::new())?;
        self.send(Method::DELETE, url, None, Idempotency::Idempotent)
            .await
            .map(|_| ())
    }

    /// Sends one request with authentication and the retry rules; returns the 2xx answer. The whole exchange,
    /// retries and waits included, ends within [`ClientBuilder::deadline`]; the error never quotes a token.
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
        idempotency: Idempotency,
    ) -> Result<RawResponse, RequestError> {
        let method_name = method.to_string();
        let path = shown_path(&url);
        let result = match self.inner.deadline {
            Some(limit) => {
                let ends = tokio::time::Instant::now() + limit;
                tokio::time::timeout_at(
                    ends,
                    self.send_until(method, url, body, idempotency, Some((ends, limit))),
                )
                .await
                .unwrap_or(Err(RequestError::Deadline {
                    method: method_name,
                    path,
                    limit,
                }))
            }
            None => self.send_until(method, url, body, idempotency, None).await,
        };
        result.map_err(|e| e.redact(&self.inner.redactor))
    }

    async fn send_until(
        &self,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
        idempotency: Idempotency,
        ends: Option<(tokio::time::Instant, Duration)>,
    ) -> Result<RawResponse, RequestError> {
        let policy = &self.inner.policy;
        let mut retries = 0u32;
        let mut unauthorized = 0u32;
        loop {
            match self
                .attempt(
                    &method,
                    &url,
                    body.as_deref(),
                    idempotency,
                    &mut unauthorized,
                )
                .await
            {
                Attempt::Done(response) => return Ok(response),
                Attempt::Fail(error) => return Err(error),
                Attempt::Retry { wait, last } => {
                    if retries >= policy.max_retries {
                        return Err(RequestError::RetriesExhausted {
                            method: method.to_string(),
                            path: shown_path(&url),
                            attempts: retries + 1,
                            last,
                        });
                    }
                    let wait = wait.unwrap_or_else(|| policy.backoff(retries));
                    if let Some((ends, limit)) = ends {
                        let left = ends.saturating_duration_since(tokio::time::Instant::now());
                        if left.is_zero() {
                            return Err(RequestError::Deadline {
                                method: method.to_string(),
                                path: shown_path(&url),
                                limit,
                            });
                        }
                        if wait > left {
                            // Waiting would only end in the deadline: say so now, with the real reason.
                            return Err(RequestError::WaitPastDeadline {
                                method: method.to_string(),
                                path: shown_path(&url),
                                wait,
                                last,
                            });
                        }
                    }
                    retries += 1;
                    self.inner.retries.fetch_add(1, Ordering::Relaxed);
                    if !wait.is_zero() {
                        self.inner.sleeper.sleep(wait).await;
                    }
                }
            }
        }
    }

    async fn attempt(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&[u8]>,
        idempotency: Idempotency,
        unauthorized: &mut u32,
    ) -> Attempt {
        let m = method.to_string();
        let path = shown_path(url);
        let token = match self.inner.tokens.token() {
            Ok(token) => token,
            Err(e) => return Attempt::Fail(e.into()),
        };
        let result = {
            let _permit = match self.inner.permits.acquire().await {
                Ok(permit) => permit,
                Err(_) => {
                    return Attempt::Fail(RequestError::BadUrl {
                        url: url.to_string(),
                    });
                }
            };
            self.inner.requests.fetch_add(1, Ordering::Relaxed);
            let mut request = self
                .inner
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(token.expose())
                .header(ACCEPT, "application/json");
            if let Some(body) = body {
                request = request
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.to_vec());
            }
            match request.send().await {
                Ok(response) if response.status().is_redirection() => {
                    return Attempt::Fail(redirected(method, url, &response));
                }
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    self.note_rate_limit(&headers);
                    read_body(response, self.inner.max_body)
                        .await
                        .map(|body| (status, headers, body))
                }
                Err(e) => Err(BodyError::Transport(e)),
            }
        };
        let (status, headers, body) = match result {
            Ok(parts) => parts,
            Err(BodyError::TooLarge) => {
                return Attempt::Fail(RequestError::TooLarge {
                    method: m,
                    path,
                    limit: self.inner.max_body,
                });
            }
            Err(BodyError::Transport(e)) => {
                if idempotency.may_repeat() {
                    return Attempt::Retry {
                        wait: None,
                        last: transport_summary(&e, url),
                    };
                }
                return Attempt::Fail(RequestError::Transport {
                    method: m,
                    path,
                    source: e,
                });
            }
        };
        if status.is_success() {
            return Attempt::Done(RawResponse {
                status: status.as_u16(),
                body,
            });
        }
        let errors = parse_errors(&body).map(|mut errors| {
            // A server (or a proxy) may echo the Authorization header back; none of it reaches a message.
            errors.scrub(token.expose());
            for part in token.expose().split('.').filter(|p| p.len() >= 16) {
                errors.scrub(part);
            }
            errors
        });
        match status {
            StatusCode::UNAUTHORIZED => {
                self.inner.tokens.invalidate(&token);
                if *unauthorized < self.inner.policy.unauthorized_retries {
                    *unauthorized += 1;
                    return Attempt::Retry {
                        wait: Some(Duration::ZERO),
                        last: "HTTP 401".to_owned(),
                    };
                }
                Attempt::Fail(RequestError::Unauthorized {
                    method: m,
                    path,
                    errors: errors.unwrap_or_default(),
                })
            }
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                if status == StatusCode::SERVICE_UNAVAILABLE && !idempotency.may_repeat() {
                    return Attempt::Fail(status_error(m, path, status, errors, &body));
                }
                let wait = headers
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, self.inner.clock.now()));
                if let Some(wait) = wait
                    && wait > self.inner.policy.max_retry_after
                {
                    return Attempt::Fail(RequestError::RetryAfterTooLong {
                        method: m,
                        path,
                        status: status.as_u16(),
                        wait,
                        limit: self.inner.policy.max_retry_after,
                    });
                }
                Attempt::Retry {
                    wait,
                    last: summary(status, errors.as_ref()),
                }
            }
            s if s.is_server_error() && idempotency.may_repeat() => Attempt::Retry {
                wait: None,
                last: summary(status, errors.as_ref()),
            },
            _ => Attempt::Fail(status_error(m, path, status, errors, &body)),
        }
    }

    fn note_rate_limit(&self, headers: &HeaderMap) {
        if let Some(limit) = headers
            .get("x-rate-limit")
            .and_then(|v| v.to_str().ok())
            .and_then(RateLimit::parse)
        {
            *self
                .inner
                .rate_limit
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = Some(limit);
        }
    }
}

/// A 3xx answer, which is never followed: the error names the status and where it pointed.
fn redirected(method: &Method, url: &Url, response: &reqwest::Response) -> RequestError {
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| url.join(v).ok());
    let target = match location.as_ref().and_then(|l| l.host_str()) {
        Some(host) => crate::redact::host_for_output(host),
        None => "nowhere usable".to_owned(),
    };
    RequestError::Redirected {
        method: method.to_string(),
        path: shown_path(url),
        status: response.status().as_u16(),
        target,
    }
}

enum BodyError {
    Transport(reqwest::Error),
    TooLarge,
}

async fn read_body(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A URL's path for a message: a server-given link is untrusted text (one line, bounded, no secret shapes).
fn shown_path(url: &Url) -> String {
    crate::redact::one_line(url.path(), 200)
}

fn transport_summary(e: &reqwest::Error, url: &Url) -> String {
    let host = match (url.host_str(), url.port_or_known_default()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        _ => "the server".to_owned(),
    };
    if e.is_timeout() {
        format!("timed out waiting for {host}")
    } else if e.is_connect() {
        format!("cannot connect to {host}")
    } else {
        format!("connection to {host} broken")
    }
}

#[derive(serde::Deserialize)]
struct ErrorBody {
    errors: Vec<ApiError>,
}

fn parse_errors(body: &[u8]) -> Option<ApiErrors> {
    serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .map(|b| ApiErrors(b.errors))
}

fn summary(status: StatusCode, errors: Option<&ApiErrors>) -> String {
    match errors {
        Some(errors) => format!("HTTP {} {}", status.as_u16(), errors),
        None => format!("HTTP {}", status.as_u16()),
    }
}

fn status_error(
    method: String,
    path: String,
    status: StatusCode,
    errors: Option<ApiErrors>,
    body: &[u8],
) -> RequestError {
    match errors {
        Some(errors) => RequestError::Api {
            method,
            path,
            status: status.as_u16(),
            errors,
        },
        None => RequestError::UnexpectedStatus {
            method,
            path,
            status: status.as_u16(),
            what: describe_body(body),
        },
    }
}

pub(crate) fn encode_body<B: Serialize>(
    method: &str,
    url: &Url,
    body: &B,
) -> Result<Vec<u8>, RequestError> {
    serde_json::to_vec(body).map_err(|source| RequestError::BadJson {
        method: method.to_owned(),
        path: shown_path(url),
        what: "request body does not serialize",
        detail: serde_detail(&source),
    })
}

/// Decodes a 2xx body; an HTML page, truncated JSON or the wrong shape are distinct errors.
fn decode<D: DeserializeOwned>(method: &str, url: &Url, body: &[u8]) -> Result<D, RequestError> {
    let start = body.iter().position(|b| !b.is_ascii_whitespace());
    if !matches!(start.map(|i| body[i]), Some(b'{') | Some(b'[')) {
        return Err(RequestError::NotJson {
            method: method.to_owned(),
            path: shown_path(url),
            what: describe_body(body),
        });
    }
    serde_json::from_slice(body).map_err(|source| RequestError::BadJson {
        method: method.to_owned(),
        path: shown_path(url),
        what: if source.is_eof() {
            "truncated JSON"
        } else {
            "not the documented shape"
        },
        detail: serde_detail(&source),
    })
}

/// serde's message quotes the offending value, which comes from the server: bounded, one line, no secret shapes.
fn serde_detail(error: &serde_json::Error) -> String {
    crate::redact::one_line(&error.to_string(), 160)
}
