//! The raw facts behind "what build numbers has this app used": its builds and its build uploads on one platform
//! (reference §2, §4). Policy (which states count, which version train, how to compare) belongs to the caller.
//!
//! Requests: one app lookup when selecting by bundle id (`GET /v1/apps?filter[bundleId]=..`, matched exactly on our
//! side because the server's filter is not strict), then `GET /v1/apps/{id}/buildUploads` and `GET /v1/builds`
//! concurrently, each with `limit=200`, trimmed `fields` and every `links.next` followed. Uploads are the only place
//! where a build still processing is visible; both lists are fetched in all states and filtered by the caller, so
//! `--include-failed` costs nothing extra. Version trains are not filtered server-side because `1.2` and `1.2.0` are
//! the same train but different strings.

use crate::client::Client;
use crate::error::RequestError;
use crate::jsonapi::ResourceOf;
use crate::query::{MAX_LIMIT, Query};
use crate::resources::{
    App, Build, BuildUpload, BuildUploadState, Platform, PreReleaseVersion, ProcessingState,
};

/// Which app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppSelector {
    /// By bundle identifier (exact match).
    BundleId(String),
    /// By Apple id (the numeric app id).
    AppId(String),
}

/// What to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryQuery {
    /// The app.
    pub app: AppSelector,
    /// The platform (multi-platform apps share build-number space per platform).
    pub platform: Platform,
}

/// A processed build from `/v1/builds`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildRecord {
    /// Build id.
    pub id: String,
    /// CFBundleVersion as sent by the server.
    pub build_number: String,
    /// CFBundleShortVersionString of its train, when known.
    pub marketing_version: Option<String>,
    /// Its platform, when known.
    pub platform: Option<Platform>,
    /// Processing state.
    pub processing_state: Option<ProcessingState>,
    /// Expired for testing.
    pub expired: Option<bool>,
}

/// A build upload from `/v1/apps/{id}/buildUploads`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRecord {
    /// Upload id.
    pub id: String,
    /// CFBundleVersion.
    pub build_number: String,
    /// CFBundleShortVersionString.
    pub marketing_version: Option<String>,
    /// Platform.
    pub platform: Option<Platform>,
    /// Upload state.
    pub state: Option<BuildUploadState>,
}

/// Builds and uploads of one app on one platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildHistory {
    /// The app id.
    pub app_id: String,
    /// Its bundle id, when known.
    pub bundle_id: Option<String>,
    /// Processed builds.
    pub builds: Vec<BuildRecord>,
    /// Build uploads.
    pub uploads: Vec<UploadRecord>,
}

/// Why the history could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// No app has this bundle id.
    #[error(
        "no app with bundle id {bundle_id:?} in this App Store Connect team{}",
        near_miss_hint(near_misses)
    )]
    AppNotFound {
        /// The bundle id asked for.
        bundle_id: String,
        /// Bundle ids the server's fuzzy filter returned instead.
        near_misses: Vec<String>,
    },
    /// No app has this id.
    #[error("no app with id {app_id} in this App Store Connect team")]
    AppIdNotFound {
        /// The id asked for.
        app_id: String,
    },
    /// A request failed.
    #[error(transparent)]
    Request(#[from] RequestError),
}

fn near_miss_hint(near: &[String]) -> String {
    if near.is_empty() {
        String::new()
    } else {
        format!(
            " (similar: {})",
            // The server's values: each one line, short, without secret shapes.
            near.iter()
                .take(5)
                .map(|n| crate::redact::one_line(n, 80))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// Resolves an app by exact bundle id: returns `(app id, bundle id)`.
pub async fn find_app(client: &Client, bundle_id: &str) -> Result<(String, String), HistoryError> {
    let query = Query::new()
        .filter("bundleId", &[bundle_id])
        .fields("apps", &["bundleId", "name"])
        .limit(MAX_LIMIT);
    let apps = client.get_all::<App>("/v1/apps", &query).await?;
    let mut near_misses = Vec::new();
    for app in apps.data {
        let found = app
            .attributes
            .as_ref()
            .and_then(|a| a.bundle_id.clone())
            .unwrap_or_default();
        if found == bundle_id {
            return Ok((app.id, found));
        }
        near_misses.push(found);
    }
    Err(HistoryError::AppNotFound {
        bundle_id: bundle_id.to_owned(),
        near_misses,
    })
}

/// Fetches builds and uploads for `query` (2 or 3 requests when each list fits in one page).
pub async fn fetch_build_history(
    client: &Client,
    query: &HistoryQuery,
) -> Result<BuildHistory, HistoryError> {
    let (app_id, bundle_id) = match &query.app {
        AppSelector::BundleId(bundle_id) => {
            let (id, bundle) = find_app(client, bundle_id).await?;
            (id, Some(bundle))
        }
        AppSelector::AppId(id) => (id.clone(), None),
    };
    let (uploads, builds) = tokio::join!(
        fetch_uploads(client, &app_id, &query.platform),
        fetch_builds(client, &app_id, &query.platform)
    );
    let uploads = match uploads {
        Err(e) if e.status() == Some(404) && matches!(query.app, AppSelector::AppId(_)) => {
            return Err(HistoryError::AppIdNotFound { app_id });
        }
        other => other?,
    };
    let (builds, included_bundle_id) = builds?;
    Ok(BuildHistory {
        app_id,
        bundle_id: bundle_id.or(included_bundle_id),
        builds,
        uploads,
    })
}

async fn fetch_uploads(
    client: &Client,
    app_id: &str,
    platform: &Platform,
) -> Result<Vec<UploadRecord>, RequestError> {
    let query = Query::new()
        .filter("platform", &[platform.as_str()])
        .fields(
            "buildUploads",
            &[
                "cfBundleShortVersionString",
                "cfBundleVersion",
                "platform",
                "state",
            ],
        )
        .limit(MAX_LIMIT);
    let path = format!("/v1/apps/{}/buildUploads", encode_segment(app_id));
    let uploads = client.get_all::<BuildUpload>(&path, &query).await?;
    Ok(uploads
        .data
        .into_iter()
        .filter_map(|upload| {
            let attrs = upload.attributes?;
            Some(UploadRecord {
                id: upload.id,
                build_number: attrs.cf_bundle_version?,
                marketing_version: attrs.cf_bundle_short_version_string,
                platform: attrs.platform,
                state: attrs.state.and_then(|s| s.state),
            })
        })
        // The filter is ours to trust only after checking: drop other platforms the server let through.
        .filter(|u| u.platform.as_ref().is_none_or(|p| p == platform))
        .collect())
}

async fn fetch_builds(
    client: &Client,
    app_id: &str,
    platform: &Platform,
) -> Result<(Vec<BuildRecord>, Option<String>), RequestError> {
    let query = Query::new()
        .filter("app", &[app_id])
        .filter("preReleaseVersion.platform", &[platform.as_str()])
        .include(&["preReleaseVersion", "app"])
        .fields(
            "builds",
            &[
                "version",
                "processingState",
                "expired",
                "preReleaseVersion",
                "app",
            ],
        )
        .fields("preReleaseVersions", &["version", "platform"])
        .fields("apps", &["bundleId"])
        .limit(MAX_LIMIT);
    let builds = client.get_all::<Build>("/v1/builds", &query).await?;
    let trains: std::collections::HashMap<String, ResourceOf<PreReleaseVersion>> = builds
        .included::<PreReleaseVersion>()
        .map(|v| (v.id.clone(), v))
        .collect();
    let bundle_id = builds
        .included::<App>()
        .find(|a| a.id == app_id)
        .and_then(|a| a.attributes.and_then(|a| a.bundle_id));
    let records = builds
        .data
        .into_iter()
        .filter_map(|build| {
            let train = build
                .relationships
                .as_ref()
                .and_then(|r| r.pre_release_version.as_ref())
                .and_then(|r| r.data.as_ref())
                .and_then(|id| trains.get(&id.id))
                .and_then(|v| v.attributes.clone());
            let attrs = build.attributes?;
            Some(BuildRecord {
                id: build.id,
                build_number: attrs.version?,
                marketing_version: train.as_ref().and_then(|t| t.version.clone()),
                platform: train.and_then(|t| t.platform),
                processing_state: attrs.processing_state,
                expired: attrs.expired,
            })
        })
        .filter(|b| b.platform.as_ref().is_none_or(|p| p == platform))
        .collect();
    Ok((records, bundle_id))
}

/// Percent-encodes an id for use as one path segment.
fn encode_segment(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
