//! After an upload: processing, export compliance, TestFlight (What to Test, groups, beta review) and App Store
//! submission (`shared/reference/app-store-connect.md` §6–8). One function per step; each sends exactly the
//! request the reference and the spec describe, and reads only what the next step needs.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::jsonapi::{Document, ResourceOf};
use crate::resources::{
    AppStoreVersion, BetaAppLocalization, BetaAppReviewDetail, BetaBuildLocalization, BetaGroup,
    Build, BuildBetaDetail, Platform, ProcessingState, ReviewSubmission,
};
use crate::{Client, Idempotency, Query, RequestError};

/// States of an App Store version in which its build and metadata can still change.
pub const EDITABLE_VERSION_STATES: &[&str] = &[
    "PREPARE_FOR_SUBMISSION",
    "DEVELOPER_REJECTED",
    "REJECTED",
    "METADATA_REJECTED",
    "INVALID_BINARY",
];

/// States of a review submission still in progress (what `--cancel-previous-submissions` cancels).
pub const OPEN_SUBMISSION_STATES: &[&str] =
    &["WAITING_FOR_REVIEW", "IN_REVIEW", "UNRESOLVED_ISSUES"];

/// Longest What to Test text App Store Connect accepts, in characters.
pub const MAX_WHATS_NEW_CHARS: usize = 4000;

/// Sends `body` and expects an answer without content (204) or one the caller ignores.
async fn send_json(
    client: &Client,
    method: Method,
    path: &str,
    body: &Value,
    idempotency: Idempotency,
) -> Result<(), RequestError> {
    let url = client.url(path, &Query::new())?;
    let bytes = crate::client::encode_body(method.as_str(), &url, body)?;
    client
        .send(method, url, Some(bytes), idempotency)
        .await
        .map(|_| ())
}

/// A build's processing state and its beta detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildStatus {
    /// `processingState` (PROCESSING, VALID, FAILED, INVALID).
    pub processing_state: Option<String>,
    /// `usesNonExemptEncryption` (null until answered).
    pub uses_non_exempt_encryption: Option<bool>,
    /// `buildBetaDetail` id.
    pub beta_detail_id: Option<String>,
    /// `internalBuildState`.
    pub internal_state: Option<String>,
    /// `externalBuildState`.
    pub external_state: Option<String>,
    /// Marketing version of the build's train.
    pub marketing_version: Option<String>,
}

impl BuildStatus {
    /// VALID and the beta detail no longer PROCESSING.
    pub fn processed(&self) -> bool {
        self.processing_state.as_deref() == Some(ProcessingState::Valid.as_str())
            && self.internal_state.as_deref() != Some("PROCESSING")
            && self.external_state.as_deref() != Some("PROCESSING")
    }

    /// FAILED or INVALID.
    pub fn failed(&self) -> bool {
        matches!(self.processing_state.as_deref(), Some("FAILED" | "INVALID"))
    }
}

/// `GET /v1/builds/{id}?include=buildBetaDetail,preReleaseVersion`: the build's state in one request.
pub async fn build_status(client: &Client, build_id: &str) -> Result<BuildStatus, RequestError> {
    let path = format!("/v1/builds/{build_id}");
    let query = Query::new().include(&["buildBetaDetail", "preReleaseVersion"]);
    let doc: Document<ResourceOf<Build>> = client.get(&path, &query).await?;
    let attrs = doc.data.attributes.clone().unwrap_or_default();
    let detail_id = doc
        .data
        .relationships
        .as_ref()
        .and_then(|r| r.build_beta_detail.as_ref())
        .and_then(|r| r.data.as_ref())
        .map(|d| d.id.clone());
    let detail = doc
        .included::<BuildBetaDetail>()
        .find(|d| Some(&d.id) == detail_id.as_ref())
        .and_then(|d| d.attributes);
    let marketing = doc
        .included::<crate::resources::PreReleaseVersion>()
        .next()
        .and_then(|p| p.attributes)
        .and_then(|a| a.version);
    Ok(BuildStatus {
        processing_state: attrs.processing_state.map(|s| s.as_str().to_owned()),
        uses_non_exempt_encryption: attrs.uses_non_exempt_encryption,
        beta_detail_id: detail_id,
        internal_state: detail.as_ref().and_then(|d| d.internal_build_state.clone()),
        external_state: detail.and_then(|d| d.external_build_state),
        marketing_version: marketing,
    })
}

/// Polls [`build_status`] until the build is processed or failed, or `max_wait` passed (the last status is
/// returned either way; the caller judges it).
pub async fn wait_processed(
    client: &Client,
    build_id: &str,
    max_wait: Duration,
    poll: Duration,
    on_state: &(dyn Fn(&BuildStatus) + Send + Sync),
) -> Result<BuildStatus, RequestError> {
    let ends = tokio::time::Instant::now() + max_wait;
    loop {
        let status = build_status(client, build_id).await?;
        on_state(&status);
        if status.processed() || status.failed() || tokio::time::Instant::now() + poll > ends {
            return Ok(status);
        }
        tokio::time::sleep(poll).await;
    }
}

/// `PATCH /v1/builds/{id}` `usesNonExemptEncryption` (export compliance).
pub async fn set_uses_non_exempt_encryption(
    client: &Client,
    build_id: &str,
    value: bool,
) -> Result<(), RequestError> {
    patch_build(client, build_id, json!({"usesNonExemptEncryption": value})).await
}

/// `PATCH /v1/builds/{id}` `expired: true`.
pub async fn expire_build(client: &Client, build_id: &str) -> Result<(), RequestError> {
    patch_build(client, build_id, json!({"expired": true})).await
}

/// `PATCH /v1/builds/{id}` with these attributes.
async fn patch_build(
    client: &Client,
    build_id: &str,
    attributes: serde_json::Value,
) -> Result<(), RequestError> {
    let body = json!({"data": {"type": "builds", "id": build_id, "attributes": attributes}});
    send_json(
        client,
        Method::PATCH,
        &format!("/v1/builds/{build_id}"),
        &body,
        Idempotency::Idempotent,
    )
    .await
}

/// A beta group of the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Internal group (internal groups see every build; external ones need beta review).
    pub internal: bool,
}

/// Every beta group of `app_id` (`GET /v1/betaGroups?filter[app]=…`, all pages).
pub async fn beta_groups(client: &Client, app_id: &str) -> Result<Vec<Group>, RequestError> {
    let query = Query::new().filter("app", &[app_id]).limit(200);
    let all = client
        .get_all::<BetaGroup>("/v1/betaGroups", &query)
        .await?;
    Ok(all
        .data
        .into_iter()
        .map(|g| {
            let a = g.attributes.unwrap_or_default();
            Group {
                id: g.id,
                name: a.name.unwrap_or_default(),
                internal: a.is_internal_group.unwrap_or(false),
            }
        })
        .collect())
}

/// `POST /v1/builds/{id}/relationships/betaGroups` (204).
pub async fn add_to_groups(
    client: &Client,
    build_id: &str,
    group_ids: &[String],
) -> Result<(), RequestError> {
    let data: Vec<Value> = group_ids
        .iter()
        .map(|id| json!({"type": "betaGroups", "id": id}))
        .collect();
    send_json(
        client,
        Method::POST,
        &format!("/v1/builds/{build_id}/relationships/betaGroups"),
        &json!({ "data": data }),
        // Adding a build to a group it is already in changes nothing.
        Idempotency::Idempotent,
    )
    .await
}

/// Why a What to Test text would be refused.
pub fn check_whats_new(locale: &str, text: &str) -> Result<(), String> {
    let chars = text.chars().count();
    if text.trim().is_empty() {
        return Err(format!("What to Test for {locale} is empty"));
    }
    if chars > MAX_WHATS_NEW_CHARS {
        return Err(format!(
            "What to Test for {locale} has {chars} characters; App Store Connect accepts at most {MAX_WHATS_NEW_CHARS}"
        ));
    }
    if let Some(c) = text
        .chars()
        .find(|c| (c.is_control() && !matches!(c, '\n' | '\t' | '\r')) || *c == '<' || *c == '>')
    {
        return Err(format!(
            "What to Test for {locale} contains {c:?}, which App Store Connect refuses (control characters, '<', '>')"
        ));
    }
    if let Some(c) = text.chars().find(|c| u32::from(*c) >= 0x1F000) {
        return Err(format!(
            "What to Test for {locale} contains the emoji or symbol {c:?}, which App Store Connect refuses"
        ));
    }
    if !is_locale(locale) {
        return Err(format!(
            "{locale:?} is not a locale App Store Connect knows the form of (like en-US, de-DE, ja, zh-Hans)"
        ));
    }
    Ok(())
}

fn is_locale(locale: &str) -> bool {
    let mut parts = locale.split('-');
    let lang = parts.next().unwrap_or_default();
    (2..=3).contains(&lang.len())
        && lang.chars().all(|c| c.is_ascii_lowercase())
        && parts.all(|p| (2..=4).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Sets What to Test for `locale`: PATCH the build's localization when it exists, else POST one. Returns
/// whether one was created.
pub async fn set_whats_new(
    client: &Client,
    build_id: &str,
    locale: &str,
    text: &str,
) -> Result<bool, RequestError> {
    let query = Query::new()
        .filter("build", &[build_id])
        .filter("locale", &[locale]);
    let existing = client
        .get_all::<BetaBuildLocalization>("/v1/betaBuildLocalizations", &query)
        .await?;
    if let Some(l) = existing.data.first() {
        let body = json!({"data": {"type": "betaBuildLocalizations", "id": l.id,
            "attributes": {"whatsNew": text}}});
        send_json(
            client,
            Method::PATCH,
            &format!("/v1/betaBuildLocalizations/{}", l.id),
            &body,
            Idempotency::Idempotent,
        )
        .await?;
        return Ok(false);
    }
    let body = json!({"data": {"type": "betaBuildLocalizations",
        "attributes": {"locale": locale, "whatsNew": text},
        "relationships": {"build": {"data": {"type": "builds", "id": build_id}}}}});
    send_json(
        client,
        Method::POST,
        "/v1/betaBuildLocalizations",
        &body,
        Idempotency::DuplicateDetectable,
    )
    .await?;
    Ok(true)
}

/// What App Store Connect's beta review needs that the app's test information lacks (empty: ready):
/// a feedback email in some beta app localization, and the review contact's name, phone and email.
pub async fn beta_review_missing(
    client: &Client,
    app_id: &str,
) -> Result<Vec<String>, RequestError> {
    let mut missing = Vec::new();
    let localizations = client
        .get_all::<BetaAppLocalization>(
            &format!("/v1/apps/{app_id}/betaAppLocalizations"),
            &Query::new().limit(200),
        )
        .await?;
    let has_feedback = localizations.data.iter().any(|l| {
        l.attributes
            .as_ref()
            .and_then(|a| a.feedback_email.as_deref())
            .is_some_and(|e| !e.trim().is_empty())
    });
    if !has_feedback {
        missing.push("a feedback email (Test Information)".to_owned());
    }
    let detail: Document<Option<ResourceOf<BetaAppReviewDetail>>> = client
        .get(
            &format!("/v1/apps/{app_id}/betaAppReviewDetail"),
            &Query::new(),
        )
        .await?;
    let attrs = detail.data.and_then(|d| d.attributes).unwrap_or_default();
    for (name, value) in [
        ("the review contact's first name", &attrs.contact_first_name),
        ("the review contact's last name", &attrs.contact_last_name),
        ("the review contact's phone", &attrs.contact_phone),
        ("the review contact's email", &attrs.contact_email),
    ] {
        if value.as_deref().is_none_or(|v| v.trim().is_empty()) {
            missing.push(name.to_owned());
        }
    }
    Ok(missing)
}

/// Builds of the app waiting for or in beta review (`--expire-previous` expires them: only one build per
/// version may wait).
pub async fn builds_in_beta_review(
    client: &Client,
    app_id: &str,
) -> Result<Vec<String>, RequestError> {
    let query = Query::new()
        .filter("app", &[app_id])
        .filter(
            "betaAppReviewSubmission.betaReviewState",
            &["WAITING_FOR_REVIEW", "IN_REVIEW"],
        )
        .filter("expired", &["false"])
        .limit(200);
    let builds = client.get_all::<Build>("/v1/builds", &query).await?;
    Ok(builds.data.into_iter().map(|b| b.id).collect())
}

/// `POST /v1/betaAppReviewSubmissions` for the build.
pub async fn submit_beta_review(client: &Client, build_id: &str) -> Result<(), RequestError> {
    let body = json!({"data": {"type": "betaAppReviewSubmissions",
        "relationships": {"build": {"data": {"type": "builds", "id": build_id}}}}});
    send_json(
        client,
        Method::POST,
        "/v1/betaAppReviewSubmissions",
        &body,
        Idempotency::DuplicateDetectable,
    )
    .await
}

/// An App Store version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Id.
    pub id: String,
    /// versionString.
    pub version_string: String,
    /// appVersionState.
    pub state: String,
}

/// The app's App Store versions on `platform` whose state is one of `states` (all states when empty).
pub async fn app_store_versions(
    client: &Client,
    app_id: &str,
    platform: Platform,
    states: &[&str],
) -> Result<Vec<Version>, RequestError> {
    let mut query = Query::new().filter("platform", &[platform.as_str()]);
    if !states.is_empty() {
        query = query.filter("appVersionState", states);
    }
    let versions = client
        .get_all::<AppStoreVersion>(
            &format!("/v1/apps/{app_id}/appStoreVersions"),
            &query.limit(200),
        )
        .await?;
    Ok(versions
        .data
        .into_iter()
        .map(|v| {
            let a = v.attributes.unwrap_or_default();
            Version {
                id: v.id,
                version_string: a.version_string.unwrap_or_default(),
                state: a.app_version_state.unwrap_or_default(),
            }
        })
        .collect())
}

/// What to set on the App Store version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionChanges {
    /// versionString.
    pub version_string: String,
    /// MANUAL, AFTER_APPROVAL, SCHEDULED.
    pub release_type: Option<String>,
    /// For SCHEDULED (ISO 8601).
    pub earliest_release_date: Option<String>,
    /// Copyright line.
    pub copyright: Option<String>,
}

/// Attaches the build to the editable version (PATCH, with the changes), or creates the version with the build.
/// Returns the version id and whether it was created.
pub async fn prepare_version(
    client: &Client,
    app_id: &str,
    platform: Platform,
    build_id: &str,
    changes: &VersionChanges,
) -> Result<(String, bool), RequestError> {
    let editable =
        app_store_versions(client, app_id, platform.clone(), EDITABLE_VERSION_STATES).await?;
    let mut attributes = serde_json::Map::new();
    attributes.insert("versionString".into(), json!(changes.version_string));
    for (name, value) in [
        ("releaseType", &changes.release_type),
        ("earliestReleaseDate", &changes.earliest_release_date),
        ("copyright", &changes.copyright),
    ] {
        if let Some(v) = value {
            attributes.insert(name.into(), json!(v));
        }
    }
    let build = json!({"data": {"type": "builds", "id": build_id}});
    if let Some(v) = editable.first() {
        let body = json!({"data": {"type": "appStoreVersions", "id": v.id,
            "attributes": attributes, "relationships": {"build": build}}});
        send_json(
            client,
            Method::PATCH,
            &format!("/v1/appStoreVersions/{}", v.id),
            &body,
            Idempotency::Idempotent,
        )
        .await?;
        return Ok((v.id.clone(), false));
    }
    attributes.insert("platform".into(), json!(platform.as_str()));
    let body = json!({"data": {"type": "appStoreVersions", "attributes": attributes,
        "relationships": {"app": {"data": {"type": "apps", "id": app_id}}, "build": build}}});
    let created: Document<ResourceOf<AppStoreVersion>> = client
        .post(
            "/v1/appStoreVersions",
            &body,
            Idempotency::DuplicateDetectable,
        )
        .await?;
    Ok((created.data.id, true))
}

/// Review submissions of the app on `platform` still in progress.
pub async fn open_submissions(
    client: &Client,
    app_id: &str,
    platform: Platform,
) -> Result<Vec<String>, RequestError> {
    let query = Query::new()
        .filter("app", &[app_id])
        .filter("platform", &[platform.as_str()])
        .filter("state", OPEN_SUBMISSION_STATES)
        .limit(200);
    let all = client
        .get_all::<ReviewSubmission>("/v1/reviewSubmissions", &query)
        .await?;
    Ok(all.data.into_iter().map(|s| s.id).collect())
}

/// `PATCH /v1/reviewSubmissions/{id}` `canceled: true`.
pub async fn cancel_submission(client: &Client, id: &str) -> Result<(), RequestError> {
    let body = json!({"data": {"type": "reviewSubmissions", "id": id,
        "attributes": {"canceled": true}}});
    send_json(
        client,
        Method::PATCH,
        &format!("/v1/reviewSubmissions/{id}"),
        &body,
        Idempotency::Idempotent,
    )
    .await
}

/// Creates a review submission with the version as its item and submits it; returns the submission id.
pub async fn submit_for_review(
    client: &Client,
    app_id: &str,
    platform: Platform,
    version_id: &str,
) -> Result<String, RequestError> {
    let body = json!({"data": {"type": "reviewSubmissions",
        "attributes": {"platform": platform.as_str()},
        "relationships": {"app": {"data": {"type": "apps", "id": app_id}}}}});
    let created: Document<ResourceOf<ReviewSubmission>> = client
        .post(
            "/v1/reviewSubmissions",
            &body,
            Idempotency::DuplicateDetectable,
        )
        .await?;
    let id = created.data.id;
    let item = json!({"data": {"type": "reviewSubmissionItems", "relationships": {
        "reviewSubmission": {"data": {"type": "reviewSubmissions", "id": id}},
        "appStoreVersion": {"data": {"type": "appStoreVersions", "id": version_id}}}}});
    send_json(
        client,
        Method::POST,
        "/v1/reviewSubmissionItems",
        &item,
        Idempotency::DuplicateDetectable,
    )
    .await?;
    let submit = json!({"data": {"type": "reviewSubmissions", "id": id,
        "attributes": {"submitted": true}}});
    send_json(
        client,
        Method::PATCH,
        &format!("/v1/reviewSubmissions/{id}"),
        &submit,
        Idempotency::Idempotent,
    )
    .await?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whats_new_is_checked_as_apple_does() {
        assert!(check_whats_new("en-US", "Bug fixes and a new login screen.").is_ok());
        assert!(check_whats_new("zh-Hans", "修复错误").is_ok());
        assert!(check_whats_new("en-US", "  ").is_err());
        assert!(check_whats_new("en-US", &"a".repeat(4001)).is_err());
        assert!(check_whats_new("en-US", &"a".repeat(4000)).is_ok());
        assert!(check_whats_new("en-US", "see <b>this</b>").is_err());
        assert!(check_whats_new("en-US", "party 🎉").is_err());
        assert!(check_whats_new("en-US", "bell \u{7}").is_err());
        assert!(check_whats_new("english", "fine").is_err());
        assert!(check_whats_new("EN-us", "fine").is_err());
    }

    #[test]
    fn a_build_is_processed_when_valid_and_its_beta_detail_is_done() {
        let mut s = BuildStatus {
            processing_state: Some("VALID".into()),
            uses_non_exempt_encryption: None,
            beta_detail_id: None,
            internal_state: Some("PROCESSING".into()),
            external_state: None,
            marketing_version: None,
        };
        assert!(!s.processed());
        s.internal_state = Some("MISSING_EXPORT_COMPLIANCE".into());
        assert!(s.processed());
        s.processing_state = Some("INVALID".into());
        assert!(!s.processed() && s.failed());
    }
}
