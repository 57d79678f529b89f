//! Waiting and retrying (reference §9): `Retry-After`, exponential backoff with jitter, `X-Rate-Limit`.
//!
//! Every wait goes through a [`Sleeper`] and every reading of time through a [`Clock`], so tests inject both and take
//! no real time.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

/// Reads wall-clock time (for JWT `iat`/`exp`).
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> SystemTime;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Waits. The client never sleeps any other way.
pub trait Sleeper: Send + Sync {
    /// Waits for `duration`.
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// Sleeps with `tokio::time::sleep`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// When and how often to retry.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries after 429, 5xx and transport errors (each request; the first attempt is not counted).
    pub max_retries: u32,
    /// First backoff delay; doubles each retry.
    pub base_delay: Duration,
    /// Backoff never waits longer than this.
    pub max_delay: Duration,
    /// A `Retry-After` longer than this is treated as an error instead of a wait.
    pub max_retry_after: Duration,
    /// Re-mint the token and retry this many times after a 401 (Apple sometimes rejects a fresh token once).
    pub unauthorized_retries: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 4,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(20),
            max_retry_after: Duration::from_secs(120),
            unauthorized_retries: 1,
        }
    }
}

impl RetryPolicy {
    /// Exponential backoff with full jitter for retry number `retry` (0-based): a random wait in
    /// `[delay/2, delay]` where `delay = min(max_delay, base_delay * 2^retry)`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(20)).unwrap_or(u32::MAX);
        let delay = self.base_delay.saturating_mul(factor).min(self.max_delay);
        let jitter: f64 = rand::random::<f64>();
        delay.mul_f64(0.5 + jitter / 2.0)
    }
}

/// Parses `Retry-After`: delta-seconds or an HTTP date (relative to `now`). `None` when unparsable.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(1e9)));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let at = SystemTime::from(date.with_timezone(&chrono::Utc));
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The `X-Rate-Limit` header: `user-hour-lim:3600;user-hour-rem:3598;` (rolling hour, per API key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct RateLimit {
    /// `user-hour-lim`.
    pub hourly_limit: Option<u64>,
    /// `user-hour-rem`.
    pub hourly_remaining: Option<u64>,
}

impl RateLimit {
    /// Parses the header value; unknown parts are ignored. `None` if nothing was recognised.
    pub fn parse(value: &str) -> Option<RateLimit> {
        let mut limit = RateLimit::default();
        for part in value.split(';') {
            let Some((name, number)) = part.split_once(':') else {
                continue;
            };
            let number = number.trim().parse::<u64>().ok();
            match name.trim() {
                "user-hour-lim" => limit.hourly_limit = number,
                "user-hour-rem" => limit.hourly_remaining = number,
                _ => {}
            }
        }
        (limit.hourly_limit.is_some() || limit.hourly_remaining.is_some()).then_some(limit)
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.hourly_remaining, self.hourly_limit) {
            (Some(rem), Some(lim)) => write!(f, "{rem} of {lim} requests left this hour"),
            (Some(rem), None) => write!(f, "{rem} requests left this hour"),
            (None, Some(lim)) => write!(f, "hourly limit {lim}"),
            (None, None) => f.write_str("unknown"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_header() {
        let rl = RateLimit::parse("user-hour-lim:3600;user-hour-rem:3598;").unwrap();
        assert_eq!(rl.hourly_limit, Some(3600));
        assert_eq!(rl.hourly_remaining, Some(3598));
        assert_eq!(RateLimit::parse("garbage"), None);
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("0.5", now),
            Some(Duration::from_millis(500))
        );
        let date = chrono::DateTime::<chrono::Utc>::from(now + Duration::from_secs(7)).to_rfc2822();
        assert_eq!(parse_retry_after(&date, now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-4", now), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::default();
        for retry in 0..40 {
            let d = p.backoff(retry);
            assert!(d <= p.max_delay, "{d:?}");
            let nominal = p
                .base_delay
                .saturating_mul(1u32.checked_shl(retry.min(20)).unwrap_or(u32::MAX))
                .min(p.max_delay);
            assert!(d >= nominal / 2);
        }
    }
}
