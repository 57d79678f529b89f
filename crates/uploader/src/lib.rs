//! # ipagate-uploader
//!
//! Uploads an IPA through App Store Connect's Build Upload API (`shared/reference/app-store-connect.md` §5):
//! resolve the app by exact bundle id → `POST /v1/buildUploads` → `POST /v1/buildUploadFiles` → PUT every
//! `uploadOperations` range in parallel, streamed from the file → commit (`PATCH … {uploaded: true,
//! sourceFileChecksums}`) → poll the file's delivery state and the upload's state, whose `errors` / `warnings`
//! (ITMS codes) come back as [`Diagnostic`]s.
//!
//! Resumable: progress is journaled ([`journal`]) in [`UploadOptions::state_dir`]; a rerun for the same IPA
//! continues the same build upload, skips confirmed parts and never creates a second upload.
//!
//! ```no_run
//! # async fn demo(client: ipagate_asc::Client) -> Result<(), ipagate_uploader::UploadError> {
//! use ipagate_uploader::{UploadOptions, upload};
//! let outcome = upload(&client, "App.ipa".as_ref(), &UploadOptions::default(), &|event| {
//!     eprintln!("{event:?}");
//! })
//! .await?;
//! println!("build upload {} is {}", outcome.build_upload_id, outcome.state);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod flow;
pub mod identity;
pub mod journal;
pub mod precheck;

pub use flow::{Checked, upload, upload_checked};
pub use identity::{Identity, IdentityError, identity_of, read_identity};

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

/// How an upload runs.
#[derive(Debug, Clone)]
pub struct UploadOptions {
    /// Parts in flight at once (default 4).
    pub concurrency: usize,
    /// Where journals live (default [`default_state_dir`]).
    pub state_dir: PathBuf,
    /// Everything up to the first mutating request; report what would be sent.
    pub dry_run: bool,
    /// Longest one part attempt may take (default 300 s); the client's own `part_timeout` also applies, the shorter
    /// wins.
    pub part_timeout: Duration,
    /// Longest wait for processing after the commit.
    pub max_processing_wait: Duration,
    /// Time between polls.
    pub poll_interval: Duration,
    /// Attempts per part (first included) before the upload fails.
    pub part_attempts: u32,
    /// First backoff between part attempts (doubles, capped at 30 s; a server's `Retry-After` wins when longer).
    pub part_backoff: Duration,
}

/// `.ipagate/uploads` in the current directory — next to the build, where a CI cache or workspace keeps it.
pub fn default_state_dir() -> PathBuf {
    PathBuf::from(".ipagate").join("uploads")
}

impl Default for UploadOptions {
    fn default() -> Self {
        UploadOptions {
            concurrency: 4,
            state_dir: default_state_dir(),
            dry_run: false,
            part_timeout: Duration::from_secs(300),
            max_processing_wait: Duration::from_secs(30 * 60),
            poll_interval: Duration::from_secs(2),
            part_attempts: 6,
            part_backoff: Duration::from_millis(500),
        }
    }
}

/// Severity of a [`Diagnostic`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Apple rejected the build.
    Error,
    /// Apple accepted it with a warning.
    Warning,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One of Apple's `state.errors` / `warnings`, in the shape `preflight` prints (`error[ITMS-90062]: …`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// `ITMS-9xxxx` where Apple gave a number, else Apple's code verbatim.
    pub code: String,
    /// Error or warning.
    pub severity: Severity,
    /// Apple's description (one line, bounded).
    pub message: String,
    /// What to do.
    pub help: String,
    /// Where Apple reported it (`buildUploads/ID` or `buildUploadFiles/ID`).
    pub location: String,
}

/// What an upload did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UploadOutcome {
    /// The IPA's identity.
    pub identity: Identity,
    /// The app's Apple id.
    pub app_id: String,
    /// The build upload (empty in a dry run that would create one).
    pub build_upload_id: String,
    /// Its ASSET file (empty in a dry run).
    pub file_id: String,
    /// The build, once processing completed.
    pub build_id: Option<String>,
    /// The upload's last state: COMPLETE, FAILED, PROCESSING (still, at the wait's end), or DRY_RUN.
    pub state: String,
    /// Apple's errors and warnings.
    pub diagnostics: Vec<Diagnostic>,
    /// Size of the IPA.
    pub size: u64,
    /// SHA-256 of the IPA.
    pub sha256: String,
    /// Parts of the file.
    pub parts_total: usize,
    /// Parts sent in this run.
    pub parts_sent: usize,
    /// Parts skipped because an earlier run had them confirmed.
    pub parts_skipped: usize,
    /// Bytes sent in this run (successful part attempts).
    pub bytes_sent: u64,
    /// This run continued a journaled upload.
    pub resumed: bool,
    /// The commit carried the SHA-256 (false when App Store Connect refused the checksum and the file was committed
    /// without it, or when this run did not commit).
    pub checksum_sent: bool,
    /// Nothing was changed on the server.
    pub dry_run: bool,
    /// The journal file.
    pub journal: Option<PathBuf>,
}

impl UploadOutcome {
    /// Apple rejected the build or its processing failed.
    pub fn failed(&self) -> bool {
        self.state == "FAILED"
            || self
                .diagnostics
                .iter()
                .any(|d| d.severity == Severity::Error)
    }
}

/// Progress, for a progress bar or `--progress json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// The IPA was read and hashed.
    Hashed {
        /// Bytes.
        size: u64,
        /// SHA-256.
        sha256: String,
    },
    /// Parts are about to be sent.
    Started {
        /// The build upload.
        build_upload_id: String,
        /// Its file.
        file_id: String,
        /// Bytes of the file.
        total_bytes: u64,
        /// Bytes already confirmed by an earlier run.
        confirmed_bytes: u64,
        /// Parts in all.
        parts_total: usize,
        /// Parts still to send.
        parts_to_send: usize,
        /// Continuing a journaled upload.
        resumed: bool,
    },
    /// A part was accepted.
    PartSent {
        /// `partNumber`.
        part_number: u64,
        /// Its length.
        bytes: u64,
    },
    /// A part attempt failed and will be retried.
    PartRetry {
        /// `partNumber`.
        part_number: u64,
        /// Attempt that failed (1-based).
        attempt: u32,
        /// Why (one line; no URL).
        reason: String,
    },
    /// The part URLs expired and were fetched again.
    OperationsRefreshed {
        /// Operations now known.
        parts: usize,
    },
    /// The file was committed.
    Committed,
    /// A poll saw this state.
    Processing {
        /// `AWAITING_UPLOAD`, `PROCESSING`, …
        state: String,
    },
    /// Dry run: what would be sent.
    WouldSend {
        /// HTTP method.
        method: String,
        /// Path (no host, no query secrets).
        path: String,
        /// What it does.
        what: String,
    },
    /// Done (whatever the outcome).
    Finished {
        /// Last state.
        state: String,
    },
}

/// Why an upload stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    /// The IPA's Info.plist cannot give an identity.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// Reading the IPA failed.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The journal is unusable.
    #[error(transparent)]
    Journal(#[from] journal::JournalError),
    /// No app with this exact bundle id is visible to the key.
    #[error(
        "no app with bundle id {bundle_id} in App Store Connect (or the key cannot see it): create the app record \
         in App Store Connect first"
    )]
    AppNotFound {
        /// The bundle id.
        bundle_id: String,
    },
    /// The build number is already used in this version train.
    #[error(
        "build number {build_number} is already used for version {version} ({platform}) of {bundle_id}; \
         `ipagate build-number next --bundle-id {bundle_id} --version {version}` answers {next}"
    )]
    BuildNumberTaken {
        /// Bundle id.
        bundle_id: String,
        /// Marketing version.
        version: String,
        /// Platform.
        platform: String,
        /// The taken number.
        build_number: String,
        /// What the bumper proposes (or why it cannot tell).
        next: String,
    },
    /// The server's upload operations are unusable (a range outside the file, gaps, overlaps, no URL): nothing
    /// was sent.
    #[error("App Store Connect answered unusable upload operations ({0}); no part was sent")]
    BadOperations(String),
    /// A response lacked a field the flow needs.
    #[error("App Store Connect's answer to {request} has no {field}")]
    MissingField {
        /// Which request.
        request: &'static str,
        /// Which field.
        field: &'static str,
    },
    /// An API request failed.
    #[error(transparent)]
    Request(#[from] ipagate_asc::RequestError),
    /// A part could not be sent.
    #[error("part {part_number} failed after {attempts} attempt(s): {source}")]
    Part {
        /// `partNumber`.
        part_number: u64,
        /// Attempts made.
        attempts: u32,
        /// Last error.
        #[source]
        source: ipagate_asc::PartError,
    },
}

impl UploadError {
    /// Bad input or usage (the CLI's exit 2): unreadable IPA, unusable journal, hostile or incomplete answers.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            UploadError::Identity(_)
                | UploadError::Io { .. }
                | UploadError::Journal(_)
                | UploadError::BadOperations(_)
                | UploadError::MissingField { .. }
        )
    }
}
