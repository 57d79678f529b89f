//! Sending one upload part (Build Upload API, `uploadOperations[]`) to its presigned URL.
//!
//! Parts have their own budget, separate from the API requests': [`ClientBuilder::part_concurrency`] parts in
//! flight (default 4) and [`ClientBuilder::part_timeout`] per part (default 300 s), so big parts never starve API
//! polling of its permits or its 60 s timeout. The body is streamed from the file with positioned reads in
//! [`CHUNK`]-byte pieces: a part is never held in memory whole, and a retry re-reads the range instead of cloning
//! a buffer. The request carries exactly the operation's method and headers (plus `Content-Length`) and **no**
//! `Authorization`. One call is one attempt; [`PartError`] says whether and when to try again (`Retry-After` on
//! 429/503), and an expired presigned URL is its own kind, so the caller re-reads the file's operations.
//!
//! [`ClientBuilder::part_concurrency`]: crate::ClientBuilder::part_concurrency
//! [`ClientBuilder::part_timeout`]: crate::ClientBuilder::part_timeout

use std::fs::File;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use reqwest::header::{CONTENT_LENGTH, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use url::Url;

use crate::Client;
use crate::retry::parse_retry_after;

/// Bytes read from the file per body chunk.
pub const CHUNK: usize = 256 * 1024;

/// One upload operation, as the uploader validated it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartRequest {
    /// HTTP method, verbatim (Apple: `PUT`).
    pub method: String,
    /// The presigned URL (a secret while valid: never printed whole).
    pub url: String,
    /// First byte of the range in the file.
    pub offset: u64,
    /// Bytes in the range (≥ 1).
    pub length: u64,
    /// `requestHeaders`, verbatim.
    pub headers: Vec<(String, String)>,
}

/// A part that was not accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PartError {
    /// The presigned URL expired (403/400 naming an expiry): re-read the file's operations.
    #[error("the upload URL for bytes {offset}+{length} on {host} has expired (HTTP {status})")]
    Expired {
        /// Status.
        status: u16,
        /// Host of the URL.
        host: String,
        /// Range start.
        offset: u64,
        /// Range length.
        length: u64,
    },
    /// A status worth retrying (429, 5xx), with the server's `Retry-After` if it gave one.
    #[error("{host} answered HTTP {status} to a part upload")]
    Retryable {
        /// Status.
        status: u16,
        /// Host of the URL.
        host: String,
        /// `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// The connection broke, timed out or could not be made (retryable).
    #[error("part upload to {host}: {what}")]
    Transport {
        /// Host of the URL.
        host: String,
        /// What happened, one line.
        what: String,
    },
    /// Refused for good (a 4xx other than expiry): retrying the same request cannot help.
    #[error("{host} refused a part upload: HTTP {status}{detail}")]
    Refused {
        /// Status.
        status: u16,
        /// Host of the URL.
        host: String,
        /// `: <the server's words>` (one line, bounded, redacted) or empty.
        detail: String,
    },
    /// The operation itself is unusable (method, URL, header names).
    #[error("unusable upload operation: {0}")]
    BadOperation(String),
    /// The local file could not be read.
    #[error("cannot read the file for bytes {offset}+{length}: {source}")]
    Io {
        /// Range start.
        offset: u64,
        /// Range length.
        length: u64,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

impl PartError {
    /// Whether another attempt of the same request may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            PartError::Retryable { .. } | PartError::Transport { .. }
        )
    }

    /// The server's `Retry-After`, if it gave one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            PartError::Retryable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// A part that was accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartResponse {
    /// Status (2xx).
    pub status: u16,
    /// The `ETag` header, if any.
    pub etag: Option<String>,
}

fn host_of(url: &Url) -> String {
    crate::redact::host_for_output(url.host_str().unwrap_or("the storage server"))
}

impl Client {
    /// Sends bytes `[offset, offset + length)` of `file` as one attempt of `part` (see the module docs).
    pub async fn send_part(
        &self,
        part: &PartRequest,
        file: &Arc<File>,
    ) -> Result<PartResponse, PartError> {
        let method = Method::from_bytes(part.method.as_bytes())
            .map_err(|_| PartError::BadOperation("the method is not an HTTP method".into()))?;
        let url = Url::parse(&part.url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| PartError::BadOperation("the URL is not an http(s) URL".into()))?;
        let host = host_of(&url);
        let _permit = self
            .inner
            .part_permits
            .acquire()
            .await
            .map_err(|_| PartError::BadOperation("the client is shutting down".into()))?;
        self.inner.requests.fetch_add(1, Ordering::Relaxed);
        let mut request = self
            .inner
            .http
            .request(method, url.clone())
            .timeout(self.inner.part_timeout)
            .header(CONTENT_LENGTH, part.length)
            .body(reqwest::Body::wrap_stream(range_stream(
                file.clone(),
                part.offset,
                part.length,
            )));
        for (name, value) in &part.headers {
            if name.eq_ignore_ascii_case("authorization")
                || name.eq_ignore_ascii_case("content-length")
            {
                // Presigned URLs carry their authority; a Content-Length is ours to state (the range's).
                continue;
            }
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| PartError::BadOperation("a request header name is invalid".into()))?;
            let value = reqwest::header::HeaderValue::from_str(value)
                .map_err(|_| PartError::BadOperation("a request header value is invalid".into()))?;
            request = request.header(name, value);
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                // A local read failure surfaces as a body error: say so plainly.
                let what = if e.is_timeout() {
                    format!("no answer within {}s", self.inner.part_timeout.as_secs())
                } else if e.is_connect() {
                    "cannot connect".to_owned()
                } else {
                    "connection broken".to_owned()
                };
                return Err(PartError::Transport { host, what });
            }
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, self.inner.clock.now()));
        let etag = response
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(|v| crate::redact::one_line(v, 128));
        // A bounded look at the answer (storage servers answer XML or JSON errors).
        let body = read_bounded(response, 8 * 1024).await;
        if status.is_success() {
            return Ok(PartResponse {
                status: status.as_u16(),
                etag,
            });
        }
        let text = String::from_utf8_lossy(&body);
        let lower = text.to_ascii_lowercase();
        if matches!(status, StatusCode::FORBIDDEN | StatusCode::BAD_REQUEST)
            && (lower.contains("expired") || lower.contains("expiredtoken"))
        {
            return Err(PartError::Expired {
                status: status.as_u16(),
                host,
                offset: part.offset,
                length: part.length,
            });
        }
        if status == StatusCode::TOO_MANY_REQUESTS
            || status == StatusCode::REQUEST_TIMEOUT
            || status.is_server_error()
        {
            return Err(PartError::Retryable {
                status: status.as_u16(),
                host,
                retry_after,
            });
        }
        let detail = self.inner.redactor.one_line(text.trim(), 200);
        Err(PartError::Refused {
            status: status.as_u16(),
            host,
            detail: if detail.is_empty() {
                String::new()
            } else {
                format!(": {detail}")
            },
        })
    }
}

async fn read_bounded(mut response: reqwest::Response, limit: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = limit.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= limit {
            break;
        }
    }
    body
}

/// The bytes `[offset, offset + length)` of `file` as a stream of at most [`CHUNK`]-byte pieces, read with
/// positioned reads on the blocking pool (the file's cursor is never moved, so parts share one handle).
fn range_stream(
    file: Arc<File>,
    offset: u64,
    length: u64,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static {
    futures_util::stream::try_unfold((file, offset, length), |(file, at, left)| async move {
        if left == 0 {
            return Ok(None);
        }
        let n = usize::try_from(left).unwrap_or(CHUNK).min(CHUNK);
        let reader = file.clone();
        let chunk = tokio::task::spawn_blocking(move || read_exact_at(&reader, n, at))
            .await
            .map_err(std::io::Error::other)??;
        Ok(Some((chunk, (file, at + n as u64, left - n as u64))))
    })
}

/// Reads exactly `n` bytes at `offset` (a short file is an error: the file changed under the upload).
pub fn read_exact_at(file: &File, n: usize, offset: u64) -> std::io::Result<bytes::Bytes> {
    let mut buf = vec![0u8; n];
    read_at(file, &mut buf, offset)?;
    Ok(bytes::Bytes::from(buf))
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    while !buf.is_empty() {
        match std::os::windows::fs::FileExt::seek_read(file, buf, offset)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use std::io::Write;

    #[tokio::test]
    async fn range_stream_reads_exactly_the_range_in_chunks() {
        let mut f = tempfile::tempfile().unwrap();
        let data: Vec<u8> = (0..(CHUNK * 2 + 100)).map(|i| (i % 251) as u8).collect();
        f.write_all(&data).unwrap();
        let f = Arc::new(f);
        let chunks: Vec<_> = range_stream(f.clone(), 7, (CHUNK + 50) as u64)
            .collect::<Vec<_>>()
            .await;
        assert_eq!(chunks.len(), 2);
        let joined: Vec<u8> = chunks
            .into_iter()
            .flat_map(|c| c.unwrap().to_vec())
            .collect();
        assert_eq!(joined, &data[7..7 + CHUNK + 50]);
        // Past the end: an error, not a short body.
        let past: Vec<_> = range_stream(f, data.len() as u64 - 10, 20)
            .collect::<Vec<_>>()
            .await;
        assert!(past[0].is_err());
    }
}
