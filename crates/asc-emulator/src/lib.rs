//! A local App Store Connect emulator: Apple's JSON:API under `/v1/...` over real HTTP.
//!
//! ipagate's App Store Connect client, build-number bumper and uploader are tested against this
//! server, and `ipagate sandbox` runs it so a user can rehearse a pipeline offline. It knows:
//!
//! - **Auth.** Every `/v1` request must carry `Authorization: Bearer <ES256 JWT>` signed by one of
//!   the configured keys (`kid`), with `aud: appstoreconnect-v1`, `iss` = the configured issuer (team
//!   keys) or `sub: "user"` (individual keys), `exp` in the future but at most 20 minutes ahead, and
//!   no `iat` in the future. Where §1 is silent it is strict: `aud` only as that string, no `crit`
//!   header, no `nbf` in the future, no `sub` on a team token, and a `scope` claim restricts the token
//!   to the `METHOD /path?query` entries it lists. Anything else is a 401 `NOT_AUTHORIZED` like
//!   Apple's (`app-store-connect.md` §1).
//! - **Resources** (names, attributes and relationships from Apple's OpenAPI spec 4.4.1): apps,
//!   builds, preReleaseVersions, appStoreVersions, buildUploads, buildUploadFiles,
//!   buildBetaDetails, betaGroups, betaBuildLocalizations, betaAppReviewSubmissions,
//!   reviewSubmissions and reviewSubmissionItems. Lists take `filter[...]`, `sort`, `include`,
//!   `fields[...]`, `limit` (≤ 200, default 50) and page with absolute `links.next` URLs and
//!   `meta.paging {total, limit}`.
//! - **Apple's rules the tools depend on**: exact `filter[bundleId]` (see [`Config::loose_bundle_id_filter`]),
//!   409 `ENTITY_ERROR.ATTRIBUTE.INVALID.DUPLICATE` for a build number reused in a version train
//!   (`1.2` and `1.2.0` are one train), required attributes and relationships (409), string — not
//!   numeric — sorting of `version` / `cfBundleVersion`, builds invisible in `/v1/builds` until
//!   their upload completes, `X-Rate-Limit: user-hour-lim:N;user-hour-rem:M;` on every
//!   authenticated response and 429 `RATE_LIMIT_EXCEEDED` past the hourly budget.
//! - **The upload state machine**: `POST /v1/buildUploads` (AWAITING_UPLOAD) → `POST
//!   /v1/buildUploadFiles` (answers `uploadOperations` whose `url`s are this server's own
//!   `PUT /upload/{fileId}/{partNumber}`) → PUT every part → `PATCH /v1/buildUploadFiles/{id}
//!   {uploaded: true}` → PROCESSING → COMPLETE, which creates the build (processingState VALID),
//!   its preReleaseVersion and buildBetaDetail. When PROCESSING ends is up to [`Processing`]:
//!   after the upload was polled N times (`GET /v1/buildUploads/{id}`), or only when a test calls
//!   [`Emulator::advance_processing`] / `POST /_sandbox/advance`. [`Emulator::fail_upload`]
//!   (or `POST /_sandbox/buildUploads/{id}/fail`) ends one in FAILED.
//! - **Introspection** (not Apple, no JWT): `GET /_sandbox/state`, `GET /_sandbox/requests`,
//!   `DELETE /_sandbox/requests`, `POST /_sandbox/advance`, `POST /_sandbox/buildUploads/{id}/fail`,
//!   `PUT /_sandbox/faults` (a [`FaultPlan`] as JSON), `PUT /_sandbox/partFaults` (a [`PartFaults`] as JSON),
//!   `POST /_sandbox/expireTokens`.
//! - **Part uploads** are checked like presigned object-storage URLs (method, `Content-Type`, no `Authorization`,
//!   `Content-Length` = the operation's length, expiry after [`Config::upload_url_lifetime`]), assembled at their
//!   offsets in [`Config::upload_dir`], and verified on commit (size, SHA-256; then the Info.plist against the
//!   upload's attributes) — see `uploads.rs`.
//! - **Faults** for client tests ([`FaultPlan`]): per-route 5xx rate or first-N failures, 429
//!   bursts with `Retry-After`, added latency, connection reset after N response bytes, clock
//!   skew; each route's faults depend only on the seed and that route's own request count, not on how
//!   concurrent requests interleave.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use ipagate_asc_emulator::{ApiKey, Config, Emulator, Seed, testkey};
//!
//! let key = testkey::generate("TESTKEY123");
//! let seed = Seed::from_json(r#"{"apps":[{"id":"1234567890","bundleId":"com.example.demo",
//!     "builds":[{"version":"41","preReleaseVersion":"1.2.3"}]}]}"#)?;
//! let config = Config {
//!     seed,
//!     keys: vec![ApiKey::team(&key.key_id, &key.public_pem)],
//!     ..Config::default()
//! };
//! let emulator = Emulator::start(config, "127.0.0.1:0".parse()?).await?;
//! let base = emulator.base_url(); // "http://127.0.0.1:PORT", like https://api.appstoreconnect.apple.com
//! // ... sign a JWT with key.private_pkcs8_pem and call format!("{base}/v1/apps") ...
//! println!("{}", emulator.state_json());
//! emulator.shutdown().await;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod auth;
#[cfg(feature = "conformance")]
pub mod conformance;
mod faults;
mod jsonapi;
mod routes;
mod seed;
mod server;
mod store;
pub mod testkey;
mod uploads;

pub use auth::{ApiKey, KeyError, MAX_TOKEN_LIFETIME_SECS};
pub use faults::{FaultPlan, FaultRule, RateLimitBurst};
pub use seed::{
    Seed, SeedApp, SeedAppStoreVersion, SeedBetaAppLocalization, SeedBetaAppReviewDetail,
    SeedBetaGroup, SeedBuild, SeedBuildUpload, SeedError,
};
pub use server::{
    BODY_READ_TIMEOUT, Emulator, HEADER_READ_TIMEOUT, LoggedRequest, MAX_LOG_BYTES,
    PART_READ_TIMEOUT, StartError,
};
pub use uploads::PartFaults;

/// Default size of one upload part (`uploadOperations[].length`), as Apple's object storage uses.
pub const DEFAULT_PART_SIZE: u64 = 5 * 1024 * 1024;

/// When an uploaded build leaves PROCESSING.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Processing {
    /// Only [`Emulator::advance_processing`] or `POST /_sandbox/advance` completes uploads.
    Manual,
    /// An upload created over the API completes on the N-th `GET /v1/buildUploads/{id}` after its
    /// file was committed (1 = the first poll already sees COMPLETE). Seeded uploads stay as
    /// seeded until advanced manually.
    AfterPolls(u32),
}

/// Everything the emulator starts from.
#[derive(Debug, Clone)]
pub struct Config {
    /// Initial state.
    pub seed: Seed,
    /// The team issuer id that `iss` must equal.
    pub issuer_id: String,
    /// Keys whose signatures are accepted, by `kid`.
    pub keys: Vec<ApiKey>,
    /// Injected faults (none by default).
    pub faults: FaultPlan,
    /// Requests per key per rolling hour before 429 `RATE_LIMIT_EXCEEDED` (Apple: 3600).
    pub hourly_request_budget: u32,
    /// When uploads leave PROCESSING.
    pub processing: Processing,
    /// GETs of `/v1/builds/{id}` an uploaded build stays PROCESSING for, after its upload completed (0: VALID at
    /// once). Either way its beta detail then waits for export compliance (MISSING_EXPORT_COMPLIANCE) until
    /// `usesNonExemptEncryption` is set.
    pub build_processing_polls: u32,
    /// Size of each upload part offered in `uploadOperations`.
    pub upload_part_size: u64,
    /// Match `filter[bundleId]` by prefix, as the real server was reported to do at times
    /// (`app-store-connect.md` §2), so clients' exact re-filtering can be tested. Off: exact.
    pub loose_bundle_id_filter: bool,
    /// How long the part URLs of `uploadOperations` stay valid (Apple: about 7 days); a PUT after that is a 403
    /// `Request has expired`, and `GET /v1/buildUploadFiles/{id}` answers fresh URLs.
    pub upload_url_lifetime: std::time::Duration,
    /// Where uploaded parts are assembled (one sparse file per upload file). `None`: a fresh folder under the
    /// system temp dir, removed when the emulator shuts down.
    pub upload_dir: Option<std::path::PathBuf>,
    /// Faults for part PUTs.
    pub part_faults: PartFaults,
    /// Answer a commit whose `sourceFileChecksums.file.algorithm` is `SHA_256` with 409
    /// `ENTITY_ERROR.ATTRIBUTE.INVALID`, as a real-account test reported Apple does (reference §5, unverified).
    pub reject_sha256_checksums: bool,
}

/// Issuer id used when none is configured.
pub const DEFAULT_ISSUER_ID: &str = "69a6de70-0000-47e3-e053-5b8c7c11a4d1";

impl Default for Config {
    fn default() -> Self {
        Config {
            seed: Seed::empty(),
            issuer_id: DEFAULT_ISSUER_ID.to_string(),
            keys: Vec::new(),
            faults: FaultPlan::default(),
            hourly_request_budget: 3600,
            processing: Processing::AfterPolls(2),
            build_processing_polls: 0,
            upload_part_size: DEFAULT_PART_SIZE,
            loose_bundle_id_filter: false,
            upload_url_lifetime: std::time::Duration::from_secs(7 * 24 * 3600),
            upload_dir: None,
            part_faults: PartFaults::default(),
            reject_sha256_checksums: false,
        }
    }
}
