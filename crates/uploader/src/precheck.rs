//! Online checks before anything is created: the build number is free in its version train (builds and uploads,
//! counted as the bumper counts them), and the marketing version is above every version App Store review has
//! approved (whose train is closed). Read-only: GET requests only.

use ipagate_asc::Client;
use ipagate_asc::distribution::app_store_versions;
use ipagate_asc::history::{
    AppSelector, BuildHistory, HistoryError, HistoryQuery, fetch_build_history,
};
use ipagate_bumper::{
    BuildNumber, Candidate, MarketingVersion, Policy, SourceKind, VersionScope, decide,
};

use crate::Identity;

/// App Store version states (`AppVersionState`, spec 4.4.1) after approval: such a version's train takes no new
/// builds.
pub const CLOSED_VERSION_STATES: &[&str] = &[
    "ACCEPTED",
    "PENDING_APPLE_RELEASE",
    "PENDING_DEVELOPER_RELEASE",
    "PROCESSING_FOR_DISTRIBUTION",
    "READY_FOR_DISTRIBUTION",
    "REPLACED_WITH_NEW_VERSION",
];

/// What the online checks found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TrainStatus {
    /// The build or upload already using the build number in this train (its id and kind), if any.
    pub taken_by: Option<String>,
    /// What `ipagate build-number next --version V` answers (or why it cannot tell).
    pub next: String,
    /// The highest approved App Store version on the platform, if any.
    pub highest_approved: Option<String>,
}

impl TrainStatus {
    /// The marketing version is not above the highest approved one (its train is closed or it is lower).
    pub fn version_closed(&self, version: &str) -> bool {
        match (
            &self.highest_approved,
            MarketingVersion::parse(version).ok(),
        ) {
            (Some(approved), Some(ours)) => MarketingVersion::parse(approved)
                .map(|a| ours <= a)
                .unwrap_or(false),
            _ => false,
        }
    }
}

/// Reads the app's builds, uploads and App Store versions and judges `identity` against them.
pub async fn train_status(
    client: &Client,
    identity: &Identity,
    app_id: &str,
) -> Result<TrainStatus, HistoryError> {
    let query = HistoryQuery {
        app: AppSelector::AppId(app_id.to_owned()),
        platform: identity.platform.clone(),
    };
    let history = fetch_build_history(client, &query).await?;
    let approved = app_store_versions(
        client,
        app_id,
        identity.platform.clone(),
        CLOSED_VERSION_STATES,
    )
    .await
    .map_err(HistoryError::from)?;
    let highest_approved = approved
        .iter()
        .filter_map(|v| {
            MarketingVersion::parse(&v.version_string)
                .ok()
                .map(|m| (m, v.version_string.clone()))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, s)| s);
    Ok(TrainStatus {
        taken_by: taken_by(&history, identity),
        next: next_of(&history, identity),
        highest_approved,
    })
}

/// The build or non-failed upload with the same number in the same train (numbers and versions compared as
/// App Store Connect does: `1.2` = `1.2.0`, `042` = `42`).
fn taken_by(history: &BuildHistory, identity: &Identity) -> Option<String> {
    let number = BuildNumber::parse(&identity.build_number).ok()?;
    let train = MarketingVersion::parse(&identity.version).ok()?;
    let same = |n: &str, v: Option<&str>| {
        BuildNumber::parse(n).is_ok_and(|n| n == number)
            && v.and_then(|v| MarketingVersion::parse(v).ok())
                .is_some_and(|v| v == train)
    };
    let build = history
        .builds
        .iter()
        .find(|b| same(&b.build_number, b.marketing_version.as_deref()))
        .map(|b| format!("build {}", b.id));
    build.or_else(|| {
        history
            .uploads
            .iter()
            .filter(|u| u.state.as_ref().map(|s| s.as_str()) != Some("FAILED"))
            .find(|u| same(&u.build_number, u.marketing_version.as_deref()))
            .map(|u| format!("build upload {}", u.id))
    })
}

/// The bumper's answer for this app and version.
pub(crate) fn next_of(history: &BuildHistory, identity: &Identity) -> String {
    let builds = history.builds.iter().map(|b| {
        Candidate::new(
            SourceKind::Build,
            &b.build_number,
            b.marketing_version.as_deref(),
            b.processing_state
                .as_ref()
                .map_or("UNKNOWN", |s| s.as_str()),
        )
    });
    let uploads = history.uploads.iter().map(|u| {
        Candidate::new(
            SourceKind::BuildUpload,
            &u.build_number,
            u.marketing_version.as_deref(),
            u.state.as_ref().map_or("UNKNOWN", |s| s.as_str()),
        )
    });
    let candidates: Vec<Candidate> = builds.chain(uploads).collect();
    let scope = match MarketingVersion::parse(&identity.version) {
        Ok(v) => VersionScope::Version(v),
        Err(_) => VersionScope::AllVersions,
    };
    let policy = Policy {
        scope,
        ..Policy::default()
    };
    match decide(&candidates, &policy) {
        Ok(d) => d.next.to_string(),
        Err(e) => format!("(unknown: {e})"),
    }
}
