//! Injected faults for client tests: 5xx, 429 bursts, latency, connection resets, clock skew.
//!
//! Rules apply to the Apple-facing routes (`/v1/...`) and to part uploads (`/upload/...`), never
//! to `/_sandbox/...`. Each rule counts the requests it matches; random draws come from one
//! SplitMix64 stream seeded with [`FaultPlan::seed`], so the same plan and the same request order
//! give the same faults.
//!
//! As JSON (for `ipagate sandbox --faults FILE` or `PUT /_sandbox/faults`):
//! ```json
//! {"seed": 7, "clockSkewSecs": 0, "rules": [
//!   {"method": "GET", "path": "/v1/builds", "serverErrorRate": 0.2, "serverErrorStatus": 503},
//!   {"path": "/v1/apps", "serverErrorsFirst": 2},
//!   {"path": "/v1/", "rateLimitBurst": {"after": 3, "count": 2, "retryAfterSecs": 1}},
//!   {"path": "/upload/", "latencyMs": 50, "resetAfterBytes": 100}]}
//! ```

use serde::{Deserialize, Serialize};

/// Faults to inject. `Default` injects none.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultPlan {
    /// Seed of the random draws.
    #[serde(default)]
    pub seed: u64,
    /// Seconds added to the server clock for JWT checks (positive = server ahead of the client).
    #[serde(default)]
    pub clock_skew_secs: i64,
    /// Rules, each applied to the requests it matches (several may match one request).
    #[serde(default)]
    pub rules: Vec<FaultRule>,
}

/// One rule.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultRule {
    /// HTTP method to match (any when absent).
    #[serde(default)]
    pub method: Option<String>,
    /// Path prefix to match (`/v1/builds` matches `/v1/builds` and `/v1/builds/x`); empty = all.
    #[serde(default)]
    pub path: String,
    /// Probability (0..=1) of answering [`FaultRule::server_error_status`] instead.
    #[serde(default)]
    pub server_error_rate: f64,
    /// The first N matching requests fail with [`FaultRule::server_error_status`].
    #[serde(default)]
    pub server_errors_first: u32,
    /// Status of injected server errors (default 500; 503 also carries `Retry-After: 1`).
    #[serde(default)]
    pub server_error_status: Option<u16>,
    /// A run of 429 `RATE_LIMIT_EXCEEDED` answers.
    #[serde(default)]
    pub rate_limit_burst: Option<RateLimitBurst>,
    /// Milliseconds to wait before answering.
    #[serde(default)]
    pub latency_ms: u64,
    /// Close the connection after sending this many bytes of the response body.
    #[serde(default)]
    pub reset_after_bytes: Option<u64>,
}

/// 429s for matching requests number `after` .. `after + count` (0-based).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimitBurst {
    /// Matching requests let through before the burst.
    #[serde(default)]
    pub after: u32,
    /// Length of the burst.
    pub count: u32,
    /// `Retry-After` seconds (header omitted when absent, as some Apple 429s do).
    #[serde(default)]
    pub retry_after_secs: Option<u32>,
}

/// What to do to one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Injection {
    pub latency_ms: u64,
    /// Answer with this status (5xx) instead of serving.
    pub server_error: Option<u16>,
    /// Answer 429 with this optional Retry-After.
    pub rate_limited: Option<Option<u32>>,
    pub reset_after_bytes: Option<u64>,
}

/// A plan plus its counters and random stream.
#[derive(Debug)]
pub(crate) struct FaultEngine {
    plan: FaultPlan,
    counts: Vec<u32>,
    rng: u64,
}

impl FaultEngine {
    pub fn new(plan: FaultPlan) -> FaultEngine {
        FaultEngine {
            counts: vec![0; plan.rules.len()],
            rng: plan.seed,
            plan,
        }
    }

    pub fn clock_skew_secs(&self) -> i64 {
        self.plan.clock_skew_secs
    }

    pub fn plan(&self) -> &FaultPlan {
        &self.plan
    }

    fn next_unit(&mut self) -> f64 {
        // SplitMix64: small, fast, and the same everywhere.
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Decides the faults for one request.
    pub fn inject(&mut self, method: &str, path: &str) -> Injection {
        let mut out = Injection::default();
        for i in 0..self.plan.rules.len() {
            let Some(rule) = self.plan.rules.get(i).cloned() else {
                continue;
            };
            if rule
                .method
                .as_deref()
                .is_some_and(|m| !m.eq_ignore_ascii_case(method))
                || !path.starts_with(&rule.path)
            {
                continue;
            }
            let n = self.counts.get(i).copied().unwrap_or(0);
            if let Some(c) = self.counts.get_mut(i) {
                *c = c.saturating_add(1);
            }
            out.latency_ms = out.latency_ms.saturating_add(rule.latency_ms);
            if rule.reset_after_bytes.is_some() {
                out.reset_after_bytes = rule.reset_after_bytes;
            }
            let status = rule.server_error_status.unwrap_or(500);
            if n < rule.server_errors_first {
                out.server_error = Some(status);
            }
            if rule.server_error_rate > 0.0 && self.next_unit() < rule.server_error_rate {
                out.server_error = Some(status);
            }
            if let Some(burst) = rule.rate_limit_burst
                && n >= burst.after
                && n - burst.after < burst.count
            {
                out.rate_limited = Some(burst.retry_after_secs);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_faults() {
        let plan = FaultPlan {
            seed: 42,
            rules: vec![FaultRule {
                path: "/v1/".into(),
                server_error_rate: 0.5,
                ..FaultRule::default()
            }],
            ..FaultPlan::default()
        };
        let run = |plan: FaultPlan| {
            let mut engine = FaultEngine::new(plan);
            (0..64)
                .map(|_| engine.inject("GET", "/v1/builds").server_error.is_some())
                .collect::<Vec<_>>()
        };
        let a = run(plan.clone());
        assert_eq!(a, run(plan.clone()));
        let failures = a.iter().filter(|x| **x).count();
        assert!((16..=48).contains(&failures), "{failures}");
        let other = FaultPlan { seed: 43, ..plan };
        assert_ne!(a, run(other));
    }

    #[test]
    fn burst_window() {
        let mut engine = FaultEngine::new(FaultPlan {
            rules: vec![FaultRule {
                method: Some("GET".into()),
                path: "/v1/apps".into(),
                rate_limit_burst: Some(RateLimitBurst {
                    after: 1,
                    count: 2,
                    retry_after_secs: Some(3),
                }),
                ..FaultRule::default()
            }],
            ..FaultPlan::default()
        });
        let got: Vec<_> = (0..4)
            .map(|_| engine.inject("GET", "/v1/apps").rate_limited)
            .collect();
        assert_eq!(got, vec![None, Some(Some(3)), Some(Some(3)), None]);
        assert_eq!(engine.inject("POST", "/v1/apps"), Injection::default());
    }
}
