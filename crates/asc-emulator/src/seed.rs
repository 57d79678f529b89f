//! The seed: the emulator's initial state as JSON, with Apple's attribute names.
//!
//! ```json
//! {"apps":[{"id":"1234567890","bundleId":"com.example.demo","name":"Demo","sku":"DEMO",
//!   "builds":[{"version":"41","preReleaseVersion":"1.2.3","platform":"IOS","processingState":"VALID",
//!              "uploadedDate":"2026-01-02T03:04:05Z","expired":false}],
//!   "buildUploads":[{"cfBundleShortVersionString":"1.2.3","cfBundleVersion":"42","platform":"IOS",
//!                    "state":"PROCESSING","uploadedDate":"2026-01-03T00:00:00Z"}],
//!   "appStoreVersions":[{"versionString":"1.2.2","platform":"IOS","appVersionState":"READY_FOR_DISTRIBUTION","build":"40"}],
//!   "betaGroups":[{"name":"QA","isInternalGroup":true}]}]}
//! ```
//!
//! Every field is optional, ids included (generated, deterministically, when absent). Unknown
//! fields are errors, so a typo does not silently seed nothing. `preReleaseVersions` are implied by
//! the builds' `preReleaseVersion` + `platform`; an App Store version's `build` names a build of the
//! app by id or by `version` (CFBundleVersion) and is created (VALID, in that version's train) when
//! no build matches. A COMPLETE build upload is linked to the build with its numbers, created when
//! missing.

use serde::Deserialize;

/// The initial state (see the module docs for the format).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Seed {
    /// Apps with everything that belongs to them.
    #[serde(default)]
    pub apps: Vec<SeedApp>,
}

/// One app.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedApp {
    /// Apple id (numeric string); generated when absent.
    pub id: Option<String>,
    /// `bundleId`.
    pub bundle_id: Option<String>,
    /// `name`.
    pub name: Option<String>,
    /// `sku`.
    pub sku: Option<String>,
    /// `primaryLocale` (default `en-US`).
    pub primary_locale: Option<String>,
    /// Processed builds (visible in `/v1/builds`).
    #[serde(default)]
    pub builds: Vec<SeedBuild>,
    /// Build uploads (visible in `/v1/apps/{id}/buildUploads`).
    #[serde(default)]
    pub build_uploads: Vec<SeedBuildUpload>,
    /// App Store versions.
    #[serde(default)]
    pub app_store_versions: Vec<SeedAppStoreVersion>,
    /// TestFlight groups.
    #[serde(default)]
    pub beta_groups: Vec<SeedBetaGroup>,
    /// TestFlight test information per locale (`betaAppLocalizations`).
    #[serde(default)]
    pub beta_app_localizations: Vec<SeedBetaAppLocalization>,
    /// The beta review contact (`betaAppReviewDetail`); absent: every field empty, as for a new app.
    pub beta_app_review_detail: Option<SeedBetaAppReviewDetail>,
}

/// One `betaAppLocalizations` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedBetaAppLocalization {
    /// `locale` (default `en-US`).
    pub locale: Option<String>,
    /// `feedbackEmail`.
    pub feedback_email: Option<String>,
    /// `description`.
    pub description: Option<String>,
}

/// The app's `betaAppReviewDetail`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedBetaAppReviewDetail {
    /// `contactFirstName`.
    pub contact_first_name: Option<String>,
    /// `contactLastName`.
    pub contact_last_name: Option<String>,
    /// `contactPhone`.
    pub contact_phone: Option<String>,
    /// `contactEmail`.
    pub contact_email: Option<String>,
}

/// One build.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedBuild {
    /// Resource id; generated when absent.
    pub id: Option<String>,
    /// `version` = CFBundleVersion (default `1`).
    pub version: Option<String>,
    /// The marketing version (CFBundleShortVersionString) of its preReleaseVersion (default `1.0`).
    pub pre_release_version: Option<String>,
    /// `IOS` (default), `MAC_OS`, `TV_OS`, `VISION_OS`.
    pub platform: Option<String>,
    /// `VALID` (default), `PROCESSING`, `FAILED`, `INVALID`.
    pub processing_state: Option<String>,
    /// RFC 3339; default 2026-01-01T00:00:00Z.
    pub uploaded_date: Option<String>,
    /// `expired` (default false).
    pub expired: Option<bool>,
    /// `minOsVersion`.
    pub min_os_version: Option<String>,
    /// `usesNonExemptEncryption`.
    pub uses_non_exempt_encryption: Option<bool>,
    /// `buildAudienceType`: `APP_STORE_ELIGIBLE` (default) or `INTERNAL_ONLY`.
    pub build_audience_type: Option<String>,
}

/// One build upload.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedBuildUpload {
    /// Resource id; generated when absent.
    pub id: Option<String>,
    /// Marketing version (default `1.0`).
    pub cf_bundle_short_version_string: Option<String>,
    /// Build number (default `1`).
    pub cf_bundle_version: Option<String>,
    /// Platform (default `IOS`).
    pub platform: Option<String>,
    /// `AWAITING_UPLOAD`, `PROCESSING` (default), `FAILED`, `COMPLETE`.
    pub state: Option<String>,
    /// RFC 3339; absent for AWAITING_UPLOAD by default, else 2026-01-01T00:00:00Z.
    pub uploaded_date: Option<String>,
    /// RFC 3339; defaults to `uploadedDate`.
    pub created_date: Option<String>,
}

/// One App Store version.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedAppStoreVersion {
    /// Resource id; generated when absent.
    pub id: Option<String>,
    /// `versionString` (default `1.0`).
    pub version_string: Option<String>,
    /// Platform (default `IOS`).
    pub platform: Option<String>,
    /// `appVersionState` (default `PREPARE_FOR_SUBMISSION`).
    pub app_version_state: Option<String>,
    /// Attached build: a build id, or a build number of this app.
    pub build: Option<String>,
    /// `releaseType`.
    pub release_type: Option<String>,
    /// `createdDate` (RFC 3339).
    pub created_date: Option<String>,
}

/// One TestFlight group.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedBetaGroup {
    /// Resource id; generated when absent.
    pub id: Option<String>,
    /// `name` (default `Group N`).
    pub name: Option<String>,
    /// `isInternalGroup` (default false).
    pub is_internal_group: Option<bool>,
    /// `publicLinkEnabled` (default false).
    pub public_link_enabled: Option<bool>,
    /// Builds in the group, by id or build number.
    #[serde(default)]
    pub builds: Vec<String>,
}

/// Why a seed was refused.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// Not JSON, or not the seed's shape.
    #[error("not valid JSON or not the shape of a seed")]
    Json(#[source] serde_json::Error),
    /// A value outside the set Apple allows.
    #[error("app {app}: {field} {value:?} is not one of {allowed}")]
    InvalidValue {
        /// The app (id or index).
        app: String,
        /// Attribute name.
        field: &'static str,
        /// The value found.
        value: String,
        /// Allowed values.
        allowed: String,
    },
    /// A date that is not RFC 3339.
    #[error("app {app}: {field} {value:?} is not an RFC 3339 date (like 2026-01-02T03:04:05Z)")]
    InvalidDate {
        /// The app (id or index).
        app: String,
        /// Attribute name.
        field: &'static str,
        /// The value found.
        value: String,
    },
    /// Two resources of one type share an id.
    #[error("duplicate {kind} id {id:?}")]
    DuplicateId {
        /// Resource type.
        kind: &'static str,
        /// The id.
        id: String,
    },
    /// An empty id.
    #[error("empty {kind} id")]
    EmptyId {
        /// Resource type.
        kind: &'static str,
    },
    /// A beta group names a build the app does not have.
    #[error("app {app}: beta group {group:?} names build {build:?}, which the app does not have")]
    UnknownBuild {
        /// The app.
        app: String,
        /// Group name.
        group: String,
        /// The reference.
        build: String,
    },
}

impl Seed {
    /// Parses a seed; see the module docs for the format.
    pub fn from_json(text: &str) -> Result<Seed, SeedError> {
        let seed: Seed = serde_json::from_str(text).map_err(SeedError::Json)?;
        // Semantic checks happen here so a bad seed fails before the server starts.
        crate::store::Store::from_seed(&seed, "http://127.0.0.1")?;
        Ok(seed)
    }

    /// No apps at all.
    pub fn empty() -> Seed {
        Seed::default()
    }
}

/// Allowed values, from the spec's enums.
pub(crate) const PLATFORMS: &[&str] = &["IOS", "MAC_OS", "TV_OS", "VISION_OS"];
pub(crate) const PROCESSING_STATES: &[&str] = &["PROCESSING", "FAILED", "INVALID", "VALID"];
pub(crate) const UPLOAD_STATES: &[&str] = &["AWAITING_UPLOAD", "PROCESSING", "FAILED", "COMPLETE"];
pub(crate) const AUDIENCE_TYPES: &[&str] = &["INTERNAL_ONLY", "APP_STORE_ELIGIBLE"];
pub(crate) const RELEASE_TYPES: &[&str] = &["MANUAL", "AFTER_APPROVAL", "SCHEDULED"];
pub(crate) const APP_VERSION_STATES: &[&str] = &[
    "ACCEPTED",
    "DEVELOPER_REJECTED",
    "IN_REVIEW",
    "INVALID_BINARY",
    "METADATA_REJECTED",
    "PENDING_APPLE_RELEASE",
    "PENDING_DEVELOPER_RELEASE",
    "PREPARE_FOR_SUBMISSION",
    "PROCESSING_FOR_DISTRIBUTION",
    "READY_FOR_DISTRIBUTION",
    "READY_FOR_REVIEW",
    "REJECTED",
    "REPLACED_WITH_NEW_VERSION",
    "WAITING_FOR_EXPORT_COMPLIANCE",
    "WAITING_FOR_REVIEW",
];
