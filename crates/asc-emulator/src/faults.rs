//! Injected faults for client tests: 5xx, 429 bursts, latency, connection resets, clock skew.
//!
//! Rules apply to the Apple-facing routes (`/v1/...`) and to part uploads (`/upload/...`), never
//! to `/_sandbox/...`. A *route* is a method plus the path with its query. Each rule counts the
//! requests it matches per route, and every random draw is a hash of (seed, rule index, method,
//! path with query, that count): a route's n-th request gets the same faults whatever other routes
//! were asked in between. Clients send requests concurrently (a build-number lookup fetches uploads
//! and builds at once), so a single shared random stream would make the outcome depend on arrival
//! order; this way the same plan and the same per-route request sequence give the same faults.
//!
//! As JSON (for `ipagate sandbox --faults FILE` or `PUT /_sandbox/faults`):
//! ```json
//! {"seed": 7, "clockSkewSecs": 0, "rules": [
//!   {"method": "GET", "path": "/v1/builds", "serverErrorRate": 0.2, "serverErrorStatus": 503},
//!   {"path": "/v1/apps", "serverErrorsFirst": 2},
//!   {"path": "/v1/", "rateLimitBurst": {"after": 3, "count": 2, "retryAfterSecs": 1}},
//!   {"path": "/upload/", "latencyMs": 50, "resetAfterBytes": 100}]}
//! ```

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// Routes counted at most (each distinct path with query is one); past this a new route counts as
/// always seen for the first time, so a client inventing URLs cannot grow the table without bound.
const MAX_COUNTED_ROUTES: usize = 1 << 16;

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
    /// The first N matching requests to each route fail with [`FaultRule::server_error_status`].
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

/// 429s for each route's matching requests number `after` .. `after + count` (0-based).
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

/// A plan plus its per-(rule, route) counters.
#[derive(Debug)]
pub(crate) struct FaultEngine {
    plan: FaultPlan,
    counts: HashMap<(usize, String, String), u32>,
}

impl FaultEngine {
    pub fn new(plan: FaultPlan) -> FaultEngine {
        FaultEngine {
            counts: HashMap::new(),
            plan,
        }
    }

    pub fn clock_skew_secs(&self) -> i64 {
        self.plan.clock_skew_secs
    }

    pub fn plan(&self) -> &FaultPlan {
        &self.plan
    }

    /// How many earlier requests of this route `rule` matched; counts this one.
    fn count(&mut self, rule: usize, method: &str, path: &str) -> u32 {
        let key = (rule, method.to_ascii_uppercase(), path.to_owned());
        if let Some(n) = self.counts.get_mut(&key) {
            let seen = *n;
            *n = n.saturating_add(1);
            return seen;
        }
        if self.counts.len() < MAX_COUNTED_ROUTES {
            self.counts.insert(key, 1);
        }
        0
    }

    /// Decides the faults for one request (`path` with its query).
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
            let n = self.count(i, method, path);
            out.latency_ms = out.latency_ms.saturating_add(rule.latency_ms);
            if rule.reset_after_bytes.is_some() {
                out.reset_after_bytes = rule.reset_after_bytes;
            }
            let status = rule.server_error_status.unwrap_or(500);
            if n < rule.server_errors_first {
                out.server_error = Some(status);
            }
            if rule.server_error_rate > 0.0
                && unit(self.plan.seed, i, method, path, n) < rule.server_error_rate
            {
                out.server_error = Some(status);
            }
            if let Some(burst) = rule.rate_limit_burst
                && n.checked_sub(burst.after)
                    .is_some_and(|into| into < burst.count)
            {
                out.rate_limited = Some(burst.retry_after_secs);
            }
        }
        out
    }
}

/// A number in `[0, 1)` from (seed, rule, method, path, count): FNV-1a over the fields, then the
/// SplitMix64 finaliser. Same inputs, same number, on every platform.
fn unit(seed: u64, rule: usize, method: &str, path: &str, n: u32) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // A separator so ("ab", "c") and ("a", "bc") differ.
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    };
    eat(&seed.to_le_bytes());
    eat(&(rule as u64).to_le_bytes());
    eat(method.to_ascii_uppercase().as_bytes());
    eat(path.as_bytes());
    eat(&n.to_le_bytes());
    let mut z = h.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
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

    /// Regression: one shared random stream made the faults depend on which of two concurrent
    /// requests arrived first.
    #[test]
    fn each_route_gets_the_same_faults_whatever_the_interleaving() {
        let plan = FaultPlan {
            seed: 7,
            rules: vec![
                FaultRule {
                    path: "/v1/".into(),
                    server_error_rate: 0.4,
                    server_error_status: Some(503),
                    ..FaultRule::default()
                },
                FaultRule {
                    path: "/v1/builds".into(),
                    server_errors_first: 1,
                    rate_limit_burst: Some(RateLimitBurst {
                        after: 2,
                        count: 2,
                        retry_after_secs: None,
                    }),
                    ..FaultRule::default()
                },
            ],
            ..FaultPlan::default()
        };
        let routes = [
            ("GET", "/v1/builds?filter[app]=1&limit=200"),
            ("GET", "/v1/buildUploads?filter[app]=1&limit=200"),
            ("GET", "/v1/apps?filter[bundleId]=x"),
        ];
        // Each order is a sequence of route indices; every route is asked 12 times in each.
        let interleaved: Vec<usize> = (0..36).map(|i| i % 3).collect();
        let grouped: Vec<usize> = (0..36).map(|i| 2 - i / 12).collect();
        let mut random = interleaved.clone();
        let mut state = 99u64;
        for i in (1..random.len()).rev() {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
            random.swap(i, (state >> 33) as usize % (i + 1));
        }
        let per_route = |order: &[usize]| per_route_with_seed(&plan, 7, &routes, order);
        let a = per_route(&interleaved);
        assert_eq!(a, per_route(&grouped));
        assert_eq!(a, per_route(&random));
        assert!(a.iter().flatten().any(|i| i.server_error.is_some()));
        assert!(a.iter().flatten().any(|i| i.server_error.is_none()));
        assert!(a[0][0].server_error.is_some(), "serverErrorsFirst");
        assert!(a[0][2].rate_limited.is_some() && a[0][3].rate_limited.is_some());
        assert!(a[1].iter().all(|i| i.rate_limited.is_none()));
        let other = per_route_with_seed(&plan, 8, &routes, &interleaved);
        assert_ne!(a, other);
    }

    fn per_route_with_seed(
        plan: &FaultPlan,
        seed: u64,
        routes: &[(&str, &str)],
        order: &[usize],
    ) -> Vec<Vec<Injection>> {
        let mut engine = FaultEngine::new(FaultPlan {
            seed,
            ..plan.clone()
        });
        let mut out: Vec<Vec<Injection>> = vec![Vec::new(); routes.len()];
        for &r in order {
            let (method, path) = routes[r];
            out[r].push(engine.inject(method, path));
        }
        out
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
