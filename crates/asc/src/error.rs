//! Errors of API requests. App Store Connect's own errors keep every field Apple sends (`status`, `code`, `title`,
//! `detail`, `source`, `meta.associatedErrors`); program logic branches on [`ApiError::code`] only, as Apple advises.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use crate::auth::MintError;

/// One entry of an `ErrorResponse.errors` array.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ApiError {
    /// Unique id of this error instance.
    #[serde(default)]
    pub id: Option<String>,
    /// HTTP status, as a string (as Apple sends it).
    #[serde(default)]
    pub status: String,
    /// Machine-readable code, hierarchical (`ENTITY_ERROR.ATTRIBUTE.INVALID.DUPLICATE`).
    #[serde(default)]
    pub code: String,
    /// Short summary.
    #[serde(default)]
    pub title: String,
    /// Human explanation.
    #[serde(default)]
    pub detail: Option<String>,
    /// What part of the request was wrong.
    #[serde(default)]
    pub source: Option<ErrorSource>,
    /// Extra data, notably `associatedErrors`.
    #[serde(default)]
    pub meta: Option<ErrorMeta>,
}

/// `source`: a JSON pointer into the request body, or a query parameter.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct ErrorSource {
    /// `/data/attributes/x`.
    pub pointer: Option<String>,
    /// `filter[x]`.
    pub parameter: Option<String>,
}

/// `meta` of an error.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ErrorMeta {
    /// Errors of related resources, keyed by resource path (`/v1/appStoreVersionLocalizations/..`).
    #[serde(default)]
    pub associated_errors: BTreeMap<String, Vec<ApiError>>,
}

impl ApiError {
    /// Replaces every occurrence of `secret` in this error's texts (and its associated errors') with `<redacted>`.
    pub fn scrub(&mut self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        let fix = |s: &mut String| {
            if s.contains(secret) {
                *s = s.replace(secret, "<redacted>");
            }
        };
        for text in [&mut self.status, &mut self.code, &mut self.title] {
            fix(text);
        }
        for text in [&mut self.id, &mut self.detail].into_iter().flatten() {
            fix(text);
        }
        if let Some(source) = &mut self.source {
            for text in [&mut source.pointer, &mut source.parameter]
                .into_iter()
                .flatten()
            {
                fix(text);
            }
        }
        if let Some(meta) = &mut self.meta {
            let associated = std::mem::take(&mut meta.associated_errors);
            for (mut resource, mut errors) in associated {
                fix(&mut resource);
                errors.iter_mut().for_each(|e| e.scrub(secret));
                meta.associated_errors
                    .entry(resource)
                    .or_default()
                    .extend(errors);
            }
        }
    }

    /// Whether this error's code is `code` or a more specific code under it (codes are dot-separated, general first).
    pub fn has_code(&self, code: &str) -> bool {
        self.code == code
            || (self.code.starts_with(code) && self.code.as_bytes().get(code.len()) == Some(&b'.'))
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", one_line(&self.code))?;
        match self.detail.as_deref().filter(|d| !d.is_empty()) {
            Some(detail) => write!(f, " ({})", one_line(detail))?,
            None if !self.title.is_empty() => write!(f, " ({})", one_line(&self.title))?,
            None => {}
        }
        if let Some(source) = &self.source {
            if let Some(p) = &source.pointer {
                write!(f, " at {}", one_line(p))?;
            } else if let Some(p) = &source.parameter {
                write!(f, " in parameter {}", one_line(p))?;
            }
        }
        if let Some(meta) = &self.meta {
            for (resource, errors) in &meta.associated_errors {
                for error in errors {
                    write!(f, "; {}: {}", one_line(resource), error)?;
                }
            }
        }
        Ok(())
    }
}

/// Keeps an untrusted server string to one short line, without secrets (a server may echo the token back).
pub(crate) fn one_line(text: &str) -> String {
    // Redacted before cutting: a token cut in half no longer looks like one.
    crate::redact::one_line(text, 300)
}

/// All errors of one response.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiErrors(pub Vec<ApiError>);

impl ApiErrors {
    /// Replaces every occurrence of `secret` (e.g. the bearer token, or its signature alone) with `<redacted>`.
    pub fn scrub(&mut self, secret: &str) {
        self.0.iter_mut().for_each(|e| e.scrub(secret));
    }

    /// Whether any error has `code` (or a code under it).
    pub fn has_code(&self, code: &str) -> bool {
        self.0.iter().any(|e| e.has_code(code))
    }
}

impl fmt::Display for ApiErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("no error details");
        }
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The server could not be reached or the connection broke (after retries where allowed).
    #[error("{method} {path}: cannot talk to App Store Connect")]
    Transport {
        /// HTTP method.
        method: String,
        /// Path of the URL.
        path: String,
        /// Cause.
        #[source]
        source: reqwest::Error,
    },
    /// App Store Connect answered with an error document.
    #[error("{method} {path}: App Store Connect answered {status}: {errors}")]
    Api {
        /// HTTP method.
        method: String,
        /// Path of the URL.
        path: String,
        /// HTTP status.
        status: u16,
        /// Apple's errors.
        errors: ApiErrors,
    },
    /// 401 even with a freshly minted token.
    #[error(
        "{method} {path}: App Store Connect rejected the token (401 {errors}); check the key id, issuer id and private key, \
         and that this machine's clock is right (tokens are refused when the clock is off by more than a few minutes)"
    )]
    Unauthorized {
        /// HTTP method.
        method: String,
        /// Path of the URL.
        path: String,
        /// Apple's errors.
        errors: ApiErrors,
    },
    /// An error status with a body that is not an App Store Connect error document (a proxy's HTML page...).
    #[error(
        "{method} {path}: HTTP {status} with {what} instead of an App Store Connect error document"
    )]
    UnexpectedStatus {
        /// HTTP method.
        method: String,
        /// Path of the URL.
        path: String,
        /// HTTP status.
        status: u16,
        /// What the body looked like.
        what: String,
    },
    /// A 3xx redirect, not followed (it could carry the token to another host or off https).
    #[error(
        "{method} {path}: the server answered HTTP {status}, a redirect to {target}; not followed (check --api-base-url)"
    )]
    Redirected {
        /// HTTP method.
        method: String,
        /// Path of the URL.
        path: String,
        /// The 3xx status.
        status: u16,
        /// Host of the `Location` header (or "nowhere usable").
        target: String,
    },
    /// A success status whose body is not JSON (e.g. an HTML page from a captive portal or proxy).
    #[error("{method} {path}: expected JSON, got {what}")]
    NotJson {
        /// HTTP method.
        method: String,
        /// Path of the URL.
        path: String,
        /// What the body looked like.
        what: String,
    },
    /// The body is JSON-ish but does not decode (truncated, or not the documented shape).
    #[error("{method} {path}: cannot decode the response ({what}: {detail})")]
    BadJson {
        /// HTTP method.
        method: String,
        /// Path of the URL.
        path: String,
        /// "truncated JSON" or "unexpected shape".
        what: &'static str,
        /// The decoder's message, one bounded line with secrets removed (it quotes the server's value, so it is not
        /// kept as a `source`).
        detail: String,
    },
    /// The body exceeded the size limit.
    #[error("{method} {path}: response larger than {limit} bytes")]
    TooLarge {
        /// HTTP method.
        method: String,
        /// Path of the URL.
        path: String,
        /// The limit.
        limit: usize,
    },
    /// The server asked to wait longer than the policy allows.
    #[error("{method} {path}: App Store Connect asked to retry after {}s (HTTP {status}), longer than the {}s this client waits",
        wait.as_secs(), limit.as_secs())]
    RetryAfterTooLong {
        /// HTTP method.
        method: String,
        /// Path of the URL.
        path: String,
        /// 429 or 503.
        status: u16,
        /// Requested wait.
        wait: Duration,
        /// Policy limit.
        limit: Duration,
    },
    /// The request, retries and waits included, did not end within the client's deadline.
    #[error(
        "{method} {path}: no complete answer within {}s (retries and waits included); the server is too slow or keeps \
         asking to retry (raise --timeout to wait longer)",
        limit.as_secs()
    )]
    Deadline {
        /// HTTP method.
        method: String,
        /// Path of the URL.
        path: String,
        /// The deadline.
        limit: Duration,
    },
    /// The next wait before a retry would end past the client's deadline.
    #[error(
        "{method} {path}: the next retry would wait {}s, past the deadline (last: {last})",
        wait.as_secs()
    )]
    WaitPastDeadline {
        /// HTTP method.
        method: String,
        /// Path of the URL.
        path: String,
        /// The wait asked for (`Retry-After`) or planned (backoff).
        wait: Duration,
        /// The last failure, one line.
        last: String,
    },
    /// Still failing after every retry.
    #[error("{method} {path}: still failing after {attempts} attempts (last: {last})")]
    RetriesExhausted {
        /// HTTP method.
        method: String,
        /// Path of the URL.
        path: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure, one line.
        last: String,
    },
    /// `links.next` pointed at a page already read.
    #[error(
        "paging loops: links.next points back to {}, already read",
        shown_url_path(url)
    )]
    PagingLoop {
        /// The repeated URL.
        url: String,
    },
    /// More pages than the cap.
    #[error("paging did not end after {pages} pages")]
    TooManyPages {
        /// Pages read.
        pages: usize,
    },
    /// A page with no resources still had `links.next` (a server that would page forever).
    #[error("GET {path}: page {page} is empty but links.next continues; stopped paging")]
    EmptyPageWithNext {
        /// Path of the listing.
        path: String,
        /// The empty page's number (1-based).
        page: usize,
    },
    /// More resources arrived than `meta.paging.total` announced, by more than a page.
    #[error(
        "GET {path}: {items} resources read but meta.paging.total said {total}, and links.next continues; stopped paging"
    )]
    PagingPastTotal {
        /// Path of the listing.
        path: String,
        /// Resources read.
        items: usize,
        /// The announced total.
        total: u64,
    },
    /// The pages of one listing added up to more bytes than the budget.
    #[error("GET {path}: listing larger than {limit} bytes after {pages} pages; stopped paging")]
    ListingTooLarge {
        /// Path of the listing.
        path: String,
        /// Pages read.
        pages: usize,
        /// The budget.
        limit: usize,
    },
    /// One listing held more resources than the budget.
    #[error("GET {path}: more than {limit} resources ({items} read); stopped paging")]
    TooManyItems {
        /// Path of the listing.
        path: String,
        /// Resources read (data and included).
        items: usize,
        /// The budget.
        limit: usize,
    },
    /// `links.next` leaves the API host (the token would be sent elsewhere). Only the host is shown: the rest of a
    /// foreign link is the server's text (it may carry a token, split over query parameters).
    #[error(
        "links.next points to another host ({}); refusing to send credentials there",
        shown_host(url)
    )]
    ForeignLink {
        /// The link.
        url: String,
    },
    /// A URL that cannot be parsed.
    #[error("invalid URL {:?}", one_line(url).chars().take(80).collect::<String>())]
    BadUrl {
        /// The text.
        url: String,
    },
    /// Token minting failed.
    #[error(transparent)]
    Mint(#[from] MintError),
}

/// The path of a link, with `?…` for its query: the query is the server's text and is not shown.
fn shown_url_path(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) => {
            let query = if parsed.query().is_some() { "?…" } else { "" };
            format!("{}{query}", crate::redact::one_line(parsed.path(), 200))
        }
        Err(_) => "an unparsable URL".to_owned(),
    }
}

/// The host of a link, or a placeholder.
fn shown_host(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(crate::redact::host_for_output))
        .unwrap_or_else(|| "an unparsable URL".to_owned())
}

impl RequestError {
    /// This error with every text that came from the server passed through `redactor` (which knows the tokens).
    pub fn redact(self, redactor: &crate::redact::Redactor) -> RequestError {
        let r = |s: String| redactor.one_line(&s, 400);
        match self {
            RequestError::Transport {
                method,
                path,
                source,
            } => RequestError::Transport {
                method,
                path: r(path),
                source,
            },
            RequestError::Api {
                method,
                path,
                status,
                errors,
            } => RequestError::Api {
                method,
                path: r(path),
                status,
                errors,
            },
            RequestError::Unauthorized {
                method,
                path,
                errors,
            } => RequestError::Unauthorized {
                method,
                path: r(path),
                errors,
            },
            RequestError::UnexpectedStatus {
                method,
                path,
                status,
                what,
            } => RequestError::UnexpectedStatus {
                method,
                path: r(path),
                status,
                what: r(what),
            },
            RequestError::Redirected {
                method,
                path,
                status,
                target,
            } => RequestError::Redirected {
                method,
                path: r(path),
                status,
                target: r(target),
            },
            RequestError::NotJson { method, path, what } => RequestError::NotJson {
                method,
                path: r(path),
                what: r(what),
            },
            RequestError::BadJson {
                method,
                path,
                what,
                detail,
            } => RequestError::BadJson {
                method,
                path: r(path),
                what,
                detail: r(detail),
            },
            RequestError::RetriesExhausted {
                method,
                path,
                attempts,
                last,
            } => RequestError::RetriesExhausted {
                method,
                path: r(path),
                attempts,
                last: r(last),
            },
            RequestError::WaitPastDeadline {
                method,
                path,
                wait,
                last,
            } => RequestError::WaitPastDeadline {
                method,
                path: r(path),
                wait,
                last: r(last),
            },
            RequestError::PagingLoop { url } => RequestError::PagingLoop {
                url: redactor.redact(&url),
            },
            RequestError::ForeignLink { url } => RequestError::ForeignLink {
                url: redactor.redact(&url),
            },
            RequestError::BadUrl { url } => RequestError::BadUrl {
                url: redactor.redact(&url),
            },
            other => other,
        }
    }

    /// Apple's errors, when the server sent an error document.
    pub fn api_errors(&self) -> Option<&ApiErrors> {
        match self {
            RequestError::Api { errors, .. } | RequestError::Unauthorized { errors, .. } => {
                Some(errors)
            }
            _ => None,
        }
    }

    /// The HTTP status, when one was received.
    pub fn status(&self) -> Option<u16> {
        match self {
            RequestError::Api { status, .. }
            | RequestError::UnexpectedStatus { status, .. }
            | RequestError::Redirected { status, .. }
            | RequestError::RetryAfterTooLong { status, .. } => Some(*status),
            RequestError::Unauthorized { .. } => Some(401),
            _ => None,
        }
    }

    /// Whether the server reported `code` (or a code under it).
    pub fn has_code(&self, code: &str) -> bool {
        self.api_errors().is_some_and(|e| e.has_code(code))
    }
}

/// Describes a body that is not what was expected, without echoing much of it.
pub(crate) fn describe_body(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(512)]);
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        return "an empty body".to_owned();
    }
    let lower = trimmed.to_ascii_lowercase();
    let head: String = one_line(trimmed).chars().take(20).collect();
    if lower.starts_with("<!doctype html") || lower.starts_with("<html") || lower.contains("<html")
    {
        format!("an HTML page (starts with {head:?})")
    } else if trimmed.starts_with('<') {
        format!("XML or HTML (starts with {head:?})")
    } else {
        format!("a non-JSON body (starts with {head:?})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hierarchical_codes() {
        let e = ApiError {
            id: None,
            status: "409".into(),
            code: "ENTITY_ERROR.ATTRIBUTE.INVALID.DUPLICATE".into(),
            title: "t".into(),
            detail: None,
            source: None,
            meta: None,
        };
        assert!(e.has_code("ENTITY_ERROR"));
        assert!(e.has_code("ENTITY_ERROR.ATTRIBUTE.INVALID"));
        assert!(e.has_code("ENTITY_ERROR.ATTRIBUTE.INVALID.DUPLICATE"));
        assert!(!e.has_code("ENTITY_ERROR.ATTR"));
        assert!(!e.has_code("STATE_ERROR"));
    }

    #[test]
    fn associated_errors_are_shown_on_one_line() {
        let body = r#"{"errors":[{"status":"409","code":"STATE_ERROR.ENTITY_STATE_INVALID","title":"t","detail":"cannot submit",
          "meta":{"associatedErrors":{"/v1/appStoreVersionLocalizations/1":[{"status":"409","code":"ENTITY_ERROR.ATTRIBUTE.REQUIRED","title":"x","detail":"description\nis required","source":{"pointer":"/data/attributes/description"}}]}}}]}"#;
        #[derive(Deserialize)]
        struct R {
            errors: Vec<ApiError>,
        }
        let r: R = serde_json::from_str(body).unwrap();
        let text = ApiErrors(r.errors).to_string();
        assert_eq!(
            text,
            "STATE_ERROR.ENTITY_STATE_INVALID (cannot submit); /v1/appStoreVersionLocalizations/1: ENTITY_ERROR.ATTRIBUTE.REQUIRED (description is required) at /data/attributes/description"
        );
    }

    #[test]
    fn html_bodies_are_named() {
        assert!(describe_body(b"<!DOCTYPE html><html>502</html>").starts_with("an HTML page"));
        assert_eq!(describe_body(b""), "an empty body");
    }
}
