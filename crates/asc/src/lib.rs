//! An App Store Connect API client: ES256 JWT authentication, typed JSON:API documents, paging that follows
//! `links.next` verbatim, and retries that honour `Retry-After` and `X-Rate-Limit`.
//!
//! The crate knows the wire protocol and nothing about build-number policy: [`history`] fetches the raw facts
//! (builds and build uploads of an app) and callers decide what they mean.
//!
//! Facts and pitfalls are from Apple's OpenAPI spec 4.4.1 and `shared/reference/app-store-connect.md`
//! (§1 JWT, §2 endpoints, §9 errors and rate limits).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use ipagate_asc::{ApiKey, Client, Issuer, PrivateKey};
//! let pem = std::fs::read_to_string("AuthKey_2X9R4HXF34.p8")?;
//! let key = ApiKey::new(
//!     "2X9R4HXF34",
//!     Issuer::Team("57246542-96fe-1a63-e053-0824d011072a".into()),
//!     PrivateKey::from_pem(&pem)?,
//! )?;
//! let client = Client::builder(key).build()?;
//! let query = ipagate_asc::history::HistoryQuery {
//!     app: ipagate_asc::history::AppSelector::BundleId("com.example.demo".into()),
//!     platform: ipagate_asc::resources::Platform::Ios,
//! };
//! let history = ipagate_asc::history::fetch_build_history(&client, &query).await?;
//! println!("{} builds, {} uploads", history.builds.len(), history.uploads.len());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod auth;
pub mod client;
pub mod credentials;
pub mod distribution;
pub mod error;
pub mod history;
pub mod jsonapi;
pub mod parts;
pub mod query;
pub mod redact;
pub mod resources;
pub mod retry;

pub use auth::{ApiKey, Audience, Issuer, KeyError, PrivateKey, TokenProvider};
pub use client::{Client, ClientBuilder, ClientStats, Idempotency};
pub use error::{ApiError, ApiErrors, RequestError};
pub use parts::{PartError, PartRequest, PartResponse};
pub use query::Query;
pub use redact::{Redactor, redact_secrets};
pub use retry::{Clock, RateLimit, RetryPolicy, Sleeper, SystemClock, TokioSleeper};

/// Apple's production API root (paths add `/v1/...`).
pub const DEFAULT_BASE_URL: &str = "https://api.appstoreconnect.apple.com";
