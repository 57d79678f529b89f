//! The in-memory state: resources by type, their linkage, and the domain rules that change it
//! (seeding, build uploads turning into builds).
//!
//! Every resource keeps its attributes as Apple names them (so rendering is generic) and its
//! to-one linkage by relationship name; to-many relationships are derived from the other side's
//! to-one linkage (`app.builds` = builds whose `app` is that app) or, for many-to-many, stored
//! (`betaGroups.builds`). [`TYPES`] says which relationships each type shows, as in the spec.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use crate::seed::{
    APP_VERSION_STATES, AUDIENCE_TYPES, PLATFORMS, PROCESSING_STATES, RELEASE_TYPES, Seed,
    SeedError, UPLOAD_STATES,
};

/// How a relationship is stored.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RelKind {
    /// `resource.one[name]`.
    One,
    /// The one target whose `one[field]` is this resource.
    OneReverse(&'static str),
    /// All targets whose `one[field]` is this resource.
    ManyReverse(&'static str),
    /// `resource.many[name]`.
    ManyStored,
    /// All targets whose `many[field]` holds this resource (the other side of a many-to-many).
    ManyStoredReverse(&'static str),
}

/// One relationship as the spec shows it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RelDef {
    pub name: &'static str,
    pub target: &'static str,
    pub kind: RelKind,
    /// The spec gives it `links` (self/related); without, only `data` is shown.
    pub links: bool,
}

const fn rel(name: &'static str, target: &'static str, kind: RelKind, links: bool) -> RelDef {
    RelDef {
        name,
        target,
        kind,
        links,
    }
}

use RelKind::{ManyReverse, ManyStored, ManyStoredReverse, One, OneReverse};

/// Resource types and their relationships (spec 4.4.1, the subset served).
pub(crate) const TYPES: &[(&str, &[RelDef])] = &[
    (
        "apps",
        &[
            rel("betaGroups", "betaGroups", ManyReverse("app"), true),
            rel(
                "appStoreVersions",
                "appStoreVersions",
                ManyReverse("app"),
                true,
            ),
            rel(
                "preReleaseVersions",
                "preReleaseVersions",
                ManyReverse("app"),
                true,
            ),
            rel("builds", "builds", ManyReverse("app"), true),
            rel(
                "reviewSubmissions",
                "reviewSubmissions",
                ManyReverse("app"),
                true,
            ),
            rel("buildUploads", "buildUploads", ManyReverse("app"), true),
            rel(
                "betaAppLocalizations",
                "betaAppLocalizations",
                ManyReverse("app"),
                true,
            ),
            rel(
                "betaAppReviewDetail",
                "betaAppReviewDetails",
                OneReverse("app"),
                true,
            ),
        ],
    ),
    (
        "builds",
        &[
            rel("preReleaseVersion", "preReleaseVersions", One, true),
            rel(
                "betaGroups",
                "betaGroups",
                ManyStoredReverse("builds"),
                false,
            ),
            rel(
                "betaBuildLocalizations",
                "betaBuildLocalizations",
                ManyReverse("build"),
                true,
            ),
            rel(
                "betaAppReviewSubmission",
                "betaAppReviewSubmissions",
                OneReverse("build"),
                true,
            ),
            rel("app", "apps", One, true),
            rel("buildBetaDetail", "buildBetaDetails", One, true),
            rel(
                "appStoreVersion",
                "appStoreVersions",
                OneReverse("build"),
                true,
            ),
            rel("buildUpload", "buildUploads", OneReverse("build"), false),
        ],
    ),
    (
        "preReleaseVersions",
        &[
            rel("builds", "builds", ManyReverse("preReleaseVersion"), true),
            rel("app", "apps", One, true),
        ],
    ),
    (
        "appStoreVersions",
        &[
            rel("app", "apps", One, false),
            rel("build", "builds", One, true),
        ],
    ),
    (
        "buildUploads",
        &[
            rel("build", "builds", One, false),
            rel("assetFile", "buildUploadFiles", One, false),
            rel("assetDescriptionFile", "buildUploadFiles", One, false),
            rel("assetSpiFile", "buildUploadFiles", One, false),
            rel(
                "buildUploadFiles",
                "buildUploadFiles",
                ManyReverse("buildUpload"),
                true,
            ),
        ],
    ),
    ("buildUploadFiles", &[]),
    ("buildBetaDetails", &[rel("build", "builds", One, true)]),
    (
        "betaGroups",
        &[
            rel("app", "apps", One, true),
            rel("builds", "builds", ManyStored, true),
        ],
    ),
    (
        "betaBuildLocalizations",
        &[rel("build", "builds", One, true)],
    ),
    (
        "betaAppReviewSubmissions",
        &[rel("build", "builds", One, true)],
    ),
    ("betaAppLocalizations", &[rel("app", "apps", One, true)]),
    ("betaAppReviewDetails", &[rel("app", "apps", One, true)]),
    (
        "reviewSubmissions",
        &[
            rel("app", "apps", One, false),
            rel(
                "items",
                "reviewSubmissionItems",
                ManyReverse("reviewSubmission"),
                true,
            ),
        ],
    ),
    (
        "reviewSubmissionItems",
        &[rel("appStoreVersion", "appStoreVersions", One, false)],
    ),
];

/// Every attribute of each served type, in the spec's order (4.4.1): answers show each one, `null` when unset,
/// as App Store Connect does (clients such as codemagic-cli-tools require the keys).
pub(crate) const ATTRIBUTES: &[(&str, &[&str])] = &[
    (
        "apps",
        &[
            "accessibilityUrl",
            "name",
            "bundleId",
            "sku",
            "primaryLocale",
            "isOrEverWasMadeForKids",
            "subscriptionStatusUrl",
            "subscriptionStatusUrlVersion",
            "subscriptionStatusUrlForSandbox",
            "subscriptionStatusUrlVersionForSandbox",
            "contentRightsDeclaration",
            "streamlinedPurchasingEnabled",
        ],
    ),
    (
        "builds",
        &[
            "version",
            "uploadedDate",
            "expirationDate",
            "expired",
            "minOsVersion",
            "lsMinimumSystemVersion",
            "computedMinMacOsVersion",
            "computedMinVisionOsVersion",
            "iconAssetToken",
            "processingState",
            "buildAudienceType",
            "usesNonExemptEncryption",
        ],
    ),
    ("preReleaseVersions", &["version", "platform"]),
    (
        "appStoreVersions",
        &[
            "platform",
            "versionString",
            "appStoreState",
            "appVersionState",
            "copyright",
            "reviewType",
            "releaseType",
            "earliestReleaseDate",
            "usesIdfa",
            "downloadable",
            "createdDate",
        ],
    ),
    (
        "buildBetaDetails",
        &[
            "autoNotifyEnabled",
            "internalBuildState",
            "externalBuildState",
        ],
    ),
    (
        "betaGroups",
        &[
            "name",
            "createdDate",
            "isInternalGroup",
            "hasAccessToAllBuilds",
            "publicLinkEnabled",
            "publicLinkId",
            "publicLinkLimitEnabled",
            "publicLinkLimit",
            "publicLink",
            "feedbackEnabled",
            "iosBuildsAvailableForAppleSiliconMac",
            "iosBuildsAvailableForAppleVision",
        ],
    ),
    ("betaBuildLocalizations", &["whatsNew", "locale"]),
    (
        "betaAppReviewSubmissions",
        &["betaReviewState", "submittedDate"],
    ),
    ("reviewSubmissions", &["platform", "submittedDate", "state"]),
    ("reviewSubmissionItems", &["state"]),
    (
        "betaAppLocalizations",
        &[
            "feedbackEmail",
            "marketingUrl",
            "privacyPolicyUrl",
            "tvOsPrivacyPolicy",
            "description",
            "locale",
        ],
    ),
    (
        "betaAppReviewDetails",
        &[
            "contactFirstName",
            "contactLastName",
            "contactPhone",
            "contactEmail",
            "demoAccountName",
            "demoAccountPassword",
            "demoAccountRequired",
            "notes",
        ],
    ),
    (
        "buildUploads",
        &[
            "cfBundleShortVersionString",
            "cfBundleVersion",
            "createdDate",
            "state",
            "platform",
            "uploadedDate",
        ],
    ),
    (
        "buildUploadFiles",
        &[
            "assetDeliveryState",
            "assetToken",
            "assetType",
            "fileName",
            "fileSize",
            "sourceFileChecksums",
            "uploadOperations",
            "uti",
        ],
    ),
];

/// The spec's attributes of `kind` (empty for a type not listed).
pub(crate) fn attributes_of(kind: &str) -> &'static [&'static str] {
    ATTRIBUTES
        .iter()
        .find(|(t, _)| *t == kind)
        .map_or(&[], |(_, a)| *a)
}

/// The relationships of each served type that the spec gives `links` (4.4.1): answers show every one (links only
/// for those the emulator does not serve), as App Store Connect does.
pub(crate) const LINKED_RELATIONSHIPS: &[(&str, &[&str])] = &[
    (
        "apps",
        &[
            "accessibilityDeclarations",
            "appEncryptionDeclarations",
            "ciProduct",
            "betaTesters",
            "betaGroups",
            "appStoreVersions",
            "appTags",
            "preReleaseVersions",
            "betaAppLocalizations",
            "builds",
            "betaLicenseAgreement",
            "betaAppReviewDetail",
            "appInfos",
            "appClips",
            "appPricePoints",
            "endUserLicenseAgreement",
            "appPriceSchedule",
            "appAvailabilityV2",
            "inAppPurchases",
            "subscriptionGroups",
            "gameCenterEnabledVersions",
            "perfPowerMetrics",
            "appCustomProductPages",
            "inAppPurchasesV2",
            "promotedPurchases",
            "appEvents",
            "reviewSubmissions",
            "subscriptionGracePeriod",
            "customerReviews",
            "customerReviewSummarizations",
            "gameCenterDetail",
            "appStoreVersionExperimentsV2",
            "alternativeDistributionKey",
            "analyticsReportRequests",
            "marketplaceSearchDetail",
            "buildUploads",
            "backgroundAssets",
            "betaFeedbackScreenshotSubmissions",
            "betaFeedbackCrashSubmissions",
            "searchKeywords",
            "webhooks",
            "androidToIosAppMappingDetails",
        ],
    ),
    (
        "builds",
        &[
            "preReleaseVersion",
            "individualTesters",
            "betaGroups",
            "betaBuildLocalizations",
            "appEncryptionDeclaration",
            "betaAppReviewSubmission",
            "app",
            "buildBetaDetail",
            "appStoreVersion",
            "icons",
            "perfPowerMetrics",
            "diagnosticSignatures",
        ],
    ),
    ("preReleaseVersions", &["builds", "app"]),
    (
        "appStoreVersions",
        &[
            "appStoreVersionLocalizations",
            "build",
            "appStoreVersionPhasedRelease",
            "gameCenterAppVersion",
            "routingAppCoverage",
            "appStoreReviewDetail",
            "appStoreVersionSubmission",
            "appClipDefaultExperience",
            "appStoreVersionExperiments",
            "appStoreVersionExperimentsV2",
            "customerReviews",
            "alternativeDistributionPackage",
        ],
    ),
    ("buildBetaDetails", &["build"]),
    (
        "betaGroups",
        &[
            "app",
            "builds",
            "betaTesters",
            "betaRecruitmentCriteria",
            "betaRecruitmentCriterionCompatibleBuildCheck",
        ],
    ),
    ("betaBuildLocalizations", &["build"]),
    ("betaAppReviewSubmissions", &["build"]),
    ("reviewSubmissions", &["items"]),
    ("betaAppLocalizations", &["app"]),
    ("betaAppReviewDetails", &["app"]),
    ("buildUploads", &["buildUploadFiles"]),
];

/// The spec's linked relationships of `kind`.
pub(crate) fn linked_relationships_of(kind: &str) -> &'static [&'static str] {
    LINKED_RELATIONSHIPS
        .iter()
        .find(|(t, _)| *t == kind)
        .map_or(&[], |(_, a)| *a)
}

/// The relationships of `kind`, or `None` for a type the emulator does not serve.
pub(crate) fn rels_of(kind: &str) -> Option<&'static [RelDef]> {
    TYPES.iter().find(|(t, _)| *t == kind).map(|(_, r)| *r)
}

/// The static name of a served type.
pub(crate) fn type_name(kind: &str) -> Option<&'static str> {
    TYPES.iter().find(|(t, _)| *t == kind).map(|(t, _)| *t)
}

/// One resource.
#[derive(Debug, Clone, Default)]
pub(crate) struct Resource {
    pub id: String,
    pub attrs: Map<String, Value>,
    /// To-one linkage, by relationship name.
    pub one: BTreeMap<&'static str, String>,
    /// Stored to-many linkage, by relationship name.
    pub many: BTreeMap<&'static str, Vec<String>>,
}

impl Resource {
    pub fn new(id: String) -> Resource {
        Resource {
            id,
            ..Resource::default()
        }
    }

    pub fn attr_str(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).and_then(Value::as_str)
    }

    fn set(&mut self, name: &str, value: impl Into<Value>) {
        self.attrs.insert(name.to_string(), value.into());
    }

    fn set_opt<T: Into<Value>>(&mut self, name: &str, value: Option<T>) {
        if let Some(v) = value {
            self.set(name, v);
        }
    }
}

/// Resources of one type, in insertion order, with an id index.
#[derive(Debug, Default)]
pub(crate) struct Table {
    rows: Vec<Resource>,
    index: HashMap<String, usize>,
}

impl Table {
    pub fn get(&self, id: &str) -> Option<&Resource> {
        self.index.get(id).and_then(|i| self.rows.get(*i))
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Resource> {
        match self.index.get(id) {
            Some(i) => self.rows.get_mut(*i),
            None => None,
        }
    }

    pub fn contains(&self, id: &str) -> bool {
        self.index.contains_key(id)
    }

    pub fn insert(&mut self, resource: Resource) {
        self.index.insert(resource.id.clone(), self.rows.len());
        self.rows.push(resource);
    }

    pub fn remove(&mut self, id: &str) -> Option<Resource> {
        let at = self.index.remove(id)?;
        let removed = self.rows.remove(at);
        for (i, row) in self.rows.iter().enumerate().skip(at) {
            self.index.insert(row.id.clone(), i);
        }
        Some(removed)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Resource> {
        self.rows.iter()
    }
}

/// What the emulator tracks about an upload file's parts (not shown to clients).
#[derive(Debug, Clone)]
pub(crate) struct PartState {
    pub offset: u64,
    pub length: u64,
    pub received: bool,
}

/// The whole state.
#[derive(Debug, Default)]
pub(crate) struct Store {
    tables: BTreeMap<&'static str, Table>,
    next_id: u64,
    pub base_url: String,
    /// Parts of each upload file, by file id.
    pub parts: HashMap<String, Vec<PartState>>,
    /// Uploads created over the API and how often each was polled while PROCESSING.
    pub polls: HashMap<String, u32>,
    /// Builds of such uploads still PROCESSING, and how often each was read since.
    pub build_polls: HashMap<String, u32>,
    /// GETs of a build its processing takes ([`crate::Config::build_processing_polls`]).
    pub build_processing_polls: u32,
}

/// `2026-01-02T03:04:05Z`.
pub(crate) fn format_date(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

const DEFAULT_DATE: &str = "2026-01-01T00:00:00Z";

/// `1.2.0` and `1.2` are one train; leading zeros do not matter: numeric components are
/// normalised, trailing zero components dropped. Non-numeric strings stay as they are.
pub(crate) fn train_key(version: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    for part in version.trim().split('.') {
        match part.parse::<u64>() {
            Ok(n) => parts.push(n.to_string()),
            Err(_) => return version.trim().to_string(),
        }
    }
    while parts.len() > 1 && parts.last().is_some_and(|p| p == "0") {
        parts.pop();
    }
    parts.join(".")
}

impl Store {
    pub fn table(&self, kind: &str) -> Option<&Table> {
        self.tables.get(kind)
    }

    pub fn table_mut(&mut self, kind: &'static str) -> &mut Table {
        self.tables.entry(kind).or_default()
    }

    pub fn get(&self, kind: &str, id: &str) -> Option<&Resource> {
        self.tables.get(kind).and_then(|t| t.get(id))
    }

    pub fn get_mut(&mut self, kind: &str, id: &str) -> Option<&mut Resource> {
        self.tables.get_mut(kind).and_then(|t| t.get_mut(id))
    }

    /// A fresh, deterministic id: numeric for apps (like Apple's), UUID-shaped otherwise.
    pub fn new_id(&mut self, kind: &str) -> String {
        loop {
            self.next_id += 1;
            let id = if kind == "apps" {
                format!("{}", 6_000_000_000u64 + self.next_id)
            } else {
                let tag = TYPES.iter().position(|(t, _)| *t == kind).unwrap_or(99);
                format!(
                    "{:08x}-0000-4000-8000-{:012x}",
                    0xa5c0_0000u32 + tag as u32,
                    self.next_id
                )
            };
            if !self.tables.get(kind).is_some_and(|t| t.contains(&id)) {
                return id;
            }
        }
    }

    pub fn insert(&mut self, kind: &'static str, resource: Resource) {
        self.table_mut(kind).insert(resource);
    }

    /// Ids of the targets of `rel` on `resource` (of type `kind`).
    pub fn related_ids(&self, resource: &Resource, rel: &RelDef) -> Vec<String> {
        match rel.kind {
            RelKind::One => resource.one.get(rel.name).cloned().into_iter().collect(),
            RelKind::ManyStored => resource.many.get(rel.name).cloned().unwrap_or_default(),
            RelKind::OneReverse(field) => self
                .reverse(rel.target, field, &resource.id)
                .into_iter()
                .take(1)
                .collect(),
            RelKind::ManyStoredReverse(field) => self
                .table(rel.target)
                .map(|t| {
                    t.iter()
                        .filter(|g| g.many.get(field).is_some_and(|b| b.contains(&resource.id)))
                        .map(|g| g.id.clone())
                        .collect()
                })
                .unwrap_or_default(),
            RelKind::ManyReverse(field) => self.reverse(rel.target, field, &resource.id),
        }
    }

    fn reverse(&self, target: &str, field: &str, id: &str) -> Vec<String> {
        self.table(target)
            .map(|t| {
                t.iter()
                    .filter(|r| r.one.get(field).is_some_and(|x| x == id))
                    .map(|r| r.id.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The preReleaseVersion of `app` for the train of `version` on `platform`, created if needed.
    /// Apple keeps the first spelling (`1.2` vs `1.2.0`): a later alias lands in the same one.
    pub fn train(&mut self, app: &str, version: &str, platform: &str) -> String {
        let key = train_key(version);
        if let Some(existing) = self.table("preReleaseVersions").and_then(|t| {
            t.iter().find(|p| {
                p.one.get("app").is_some_and(|a| a == app)
                    && p.attr_str("platform") == Some(platform)
                    && p.attr_str("version").is_some_and(|v| train_key(v) == key)
            })
        }) {
            return existing.id.clone();
        }
        let id = self.new_id("preReleaseVersions");
        let mut prv = Resource::new(id.clone());
        prv.set("version", version);
        prv.set("platform", platform);
        prv.one.insert("app", app.to_string());
        self.insert("preReleaseVersions", prv);
        id
    }

    /// Creates a build (with its buildBetaDetail) in the train of `marketing`.
    pub fn add_build(&mut self, app: &str, spec: NewBuild<'_>) -> String {
        let prv = self.train(app, spec.marketing, spec.platform);
        let id = match spec.id {
            Some(id) => id.to_string(),
            None => self.new_id("builds"),
        };
        let mut build = Resource::new(id.clone());
        build.set("version", spec.version);
        build.set("uploadedDate", spec.uploaded_date);
        let expires = DateTime::parse_from_rfc3339(spec.uploaded_date)
            .map(|d| format_date(d.with_timezone(&Utc) + chrono::Duration::days(90)))
            .unwrap_or_else(|_| spec.uploaded_date.to_string());
        build.set("expirationDate", expires);
        build.set("expired", spec.expired);
        build.set("processingState", spec.processing_state);
        build.set("buildAudienceType", spec.audience);
        build.set_opt("minOsVersion", spec.min_os_version);
        build.set_opt("usesNonExemptEncryption", spec.uses_non_exempt_encryption);
        build.one.insert("app", app.to_string());
        build.one.insert("preReleaseVersion", prv);
        let detail_id = self.new_id("buildBetaDetails");
        build.one.insert("buildBetaDetail", detail_id.clone());
        let mut detail = Resource::new(detail_id);
        let internal = match spec.processing_state {
            "VALID" if spec.expired => "EXPIRED",
            "VALID" => "READY_FOR_BETA_TESTING",
            "PROCESSING" => "PROCESSING",
            _ => "PROCESSING_EXCEPTION",
        };
        detail.set("autoNotifyEnabled", false);
        detail.set("internalBuildState", internal);
        detail.set(
            "externalBuildState",
            if internal == "READY_FOR_BETA_TESTING" {
                "READY_FOR_BETA_SUBMISSION"
            } else {
                internal
            },
        );
        detail.one.insert("build", id.clone());
        self.insert("buildBetaDetails", detail);
        self.insert("builds", build);
        id
    }

    /// A build of `app` by id, or else by build number (the first in insertion order).
    pub fn find_build(&self, app: &str, reference: &str) -> Option<String> {
        let builds = self.table("builds")?;
        if let Some(b) = builds.get(reference)
            && b.one.get("app").is_some_and(|a| a == app)
        {
            return Some(b.id.clone());
        }
        builds
            .iter()
            .find(|b| {
                b.one.get("app").is_some_and(|a| a == app)
                    && b.attr_str("version") == Some(reference)
            })
            .map(|b| b.id.clone())
    }

    /// The build or non-failed upload already using `number` in the train, if any (409 DUPLICATE).
    pub fn duplicate_of(
        &self,
        app: &str,
        platform: &str,
        marketing: &str,
        number: &str,
    ) -> Option<String> {
        let train = train_key(marketing);
        let number = train_key(number);
        let uploads = self.table("buildUploads").into_iter().flat_map(Table::iter);
        for upload in uploads {
            if upload.one.get("app").is_some_and(|a| a == app)
                && upload.attr_str("platform") == Some(platform)
                && upload_state(upload) != Some("FAILED")
                && upload
                    .attr_str("cfBundleShortVersionString")
                    .is_some_and(|v| train_key(v) == train)
                && upload
                    .attr_str("cfBundleVersion")
                    .is_some_and(|v| train_key(v) == number)
            {
                return Some(upload.id.clone());
            }
        }
        let builds = self.table("builds").into_iter().flat_map(Table::iter);
        for build in builds {
            if build.one.get("app").is_some_and(|a| a == app)
                && build
                    .attr_str("version")
                    .is_some_and(|v| train_key(v) == number)
                && let Some(prv) = build
                    .one
                    .get("preReleaseVersion")
                    .and_then(|p| self.get("preReleaseVersions", p))
                && prv.attr_str("platform") == Some(platform)
                && prv
                    .attr_str("version")
                    .is_some_and(|v| train_key(v) == train)
            {
                return Some(build.id.clone());
            }
        }
        None
    }

    /// An uploaded build's processing ends: VALID, and its beta detail waits for export compliance unless the
    /// build already answers it (as App Store Connect does when the Info.plist has no
    /// `ITSAppUsesNonExemptEncryption`).
    pub fn finish_build_processing(&mut self, build_id: &str) {
        self.build_polls.remove(build_id);
        let Some(build) = self.get_mut("builds", build_id) else {
            return;
        };
        build.set("processingState", "VALID");
        let answered = build
            .attrs
            .get("usesNonExemptEncryption")
            .is_some_and(|v| v.is_boolean());
        let detail = build.one.get("buildBetaDetail").cloned();
        if let Some(d) = detail.and_then(|d| self.get_mut("buildBetaDetails", &d)) {
            let (internal, external) = if answered {
                ("READY_FOR_BETA_TESTING", "READY_FOR_BETA_SUBMISSION")
            } else {
                ("MISSING_EXPORT_COMPLIANCE", "MISSING_EXPORT_COMPLIANCE")
            };
            d.set("internalBuildState", internal);
            d.set("externalBuildState", external);
        }
    }

    /// Moves an upload to COMPLETE and creates its build; returns the build id.
    pub fn complete_upload(&mut self, upload_id: &str, now: DateTime<Utc>) -> Option<String> {
        let upload = self.get("buildUploads", upload_id)?.clone();
        let app = upload.one.get("app")?.clone();
        let marketing = upload
            .attr_str("cfBundleShortVersionString")
            .unwrap_or("1.0")
            .to_string();
        let number = upload
            .attr_str("cfBundleVersion")
            .unwrap_or("1")
            .to_string();
        let platform = upload.attr_str("platform").unwrap_or("IOS").to_string();
        let uploaded = upload
            .attr_str("uploadedDate")
            .map(str::to_string)
            .unwrap_or_else(|| format_date(now));
        let build = match upload.one.get("build") {
            Some(existing) => existing.clone(),
            None => self.add_build(
                &app,
                NewBuild {
                    id: None,
                    version: &number,
                    marketing: &marketing,
                    platform: &platform,
                    processing_state: if self.build_processing_polls > 0 {
                        "PROCESSING"
                    } else {
                        "VALID"
                    },
                    uploaded_date: &uploaded,
                    expired: false,
                    min_os_version: None,
                    uses_non_exempt_encryption: None,
                    audience: "APP_STORE_ELIGIBLE",
                },
            ),
        };
        if !upload.one.contains_key("build") {
            if self.build_processing_polls > 0 {
                self.build_polls.insert(build.clone(), 0);
            } else {
                self.finish_build_processing(&build);
            }
        }
        let upload = self.get_mut("buildUploads", upload_id)?;
        set_upload_state(upload, "COMPLETE", Vec::new());
        upload
            .attrs
            .entry("uploadedDate")
            .or_insert(Value::String(uploaded));
        upload.one.insert("build", build.clone());
        self.polls.remove(upload_id);
        Some(build)
    }

    /// Builds the state a seed describes (ids generated where absent).
    pub fn from_seed(seed: &Seed, base_url: &str) -> Result<Store, SeedError> {
        let mut store = Store {
            base_url: base_url.to_string(),
            ..Store::default()
        };
        for (index, app) in seed.apps.iter().enumerate() {
            store.seed_app(index, app)?;
        }
        Ok(store)
    }

    fn claim_id(
        &mut self,
        kind: &'static str,
        given: Option<&String>,
    ) -> Result<String, SeedError> {
        match given {
            Some(id) if id.is_empty() => Err(SeedError::EmptyId { kind }),
            Some(id) if self.table(kind).is_some_and(|t| t.contains(id)) => {
                Err(SeedError::DuplicateId {
                    kind,
                    id: id.clone(),
                })
            }
            Some(id) => Ok(id.clone()),
            None => Ok(self.new_id(kind)),
        }
    }

    fn seed_app(&mut self, index: usize, app: &crate::seed::SeedApp) -> Result<(), SeedError> {
        let app_id = self.claim_id("apps", app.id.as_ref())?;
        let label = app.id.clone().unwrap_or_else(|| format!("#{index}"));
        let check = |field: &'static str, value: &str, allowed: &[&str]| -> Result<(), SeedError> {
            if allowed.contains(&value) {
                Ok(())
            } else {
                Err(SeedError::InvalidValue {
                    app: label.clone(),
                    field,
                    value: value.to_string(),
                    allowed: allowed.join(", "),
                })
            }
        };
        let date = |field: &'static str, value: &str| -> Result<String, SeedError> {
            DateTime::parse_from_rfc3339(value)
                .map(|_| value.to_string())
                .map_err(|_| SeedError::InvalidDate {
                    app: label.clone(),
                    field,
                    value: value.to_string(),
                })
        };
        let mut resource = Resource::new(app_id.clone());
        let name = app
            .name
            .clone()
            .unwrap_or_else(|| format!("App {}", index + 1));
        resource.set(
            "bundleId",
            app.bundle_id
                .clone()
                .unwrap_or_else(|| format!("com.example.app{}", index + 1)),
        );
        resource.set("name", name);
        resource.set(
            "sku",
            app.sku
                .clone()
                .unwrap_or_else(|| format!("SKU{}", index + 1)),
        );
        resource.set(
            "primaryLocale",
            app.primary_locale.clone().unwrap_or_else(|| "en-US".into()),
        );
        self.insert("apps", resource);

        for build in &app.builds {
            let platform = build.platform.as_deref().unwrap_or("IOS");
            check("platform", platform, PLATFORMS)?;
            let state = build.processing_state.as_deref().unwrap_or("VALID");
            check("processingState", state, PROCESSING_STATES)?;
            let audience = build
                .build_audience_type
                .as_deref()
                .unwrap_or("APP_STORE_ELIGIBLE");
            check("buildAudienceType", audience, AUDIENCE_TYPES)?;
            let uploaded = date(
                "uploadedDate",
                build.uploaded_date.as_deref().unwrap_or(DEFAULT_DATE),
            )?;
            let id = self.claim_id("builds", build.id.as_ref())?;
            self.add_build(
                &app_id,
                NewBuild {
                    id: Some(&id),
                    version: build.version.as_deref().unwrap_or("1"),
                    marketing: build.pre_release_version.as_deref().unwrap_or("1.0"),
                    platform,
                    processing_state: state,
                    uploaded_date: &uploaded,
                    expired: build.expired.unwrap_or(false),
                    min_os_version: build.min_os_version.as_deref(),
                    uses_non_exempt_encryption: build.uses_non_exempt_encryption,
                    audience,
                },
            );
        }

        for upload in &app.build_uploads {
            let platform = upload.platform.as_deref().unwrap_or("IOS");
            check("platform", platform, PLATFORMS)?;
            let state = upload.state.as_deref().unwrap_or("PROCESSING");
            check("state", state, UPLOAD_STATES)?;
            let uploaded = match (&upload.uploaded_date, state) {
                (Some(d), _) => Some(date("uploadedDate", d)?),
                (None, "AWAITING_UPLOAD") => None,
                (None, _) => Some(DEFAULT_DATE.to_string()),
            };
            let created = match &upload.created_date {
                Some(d) => date("createdDate", d)?,
                None => uploaded.clone().unwrap_or_else(|| DEFAULT_DATE.to_string()),
            };
            let id = self.claim_id("buildUploads", upload.id.as_ref())?;
            let mut resource = Resource::new(id.clone());
            resource.set(
                "cfBundleShortVersionString",
                upload
                    .cf_bundle_short_version_string
                    .clone()
                    .unwrap_or_else(|| "1.0".into()),
            );
            resource.set(
                "cfBundleVersion",
                upload
                    .cf_bundle_version
                    .clone()
                    .unwrap_or_else(|| "1".into()),
            );
            resource.set("platform", platform);
            resource.set("createdDate", created);
            resource.set_opt("uploadedDate", uploaded);
            set_upload_state(&mut resource, state, Vec::new());
            resource.one.insert("app", app_id.clone());
            self.insert("buildUploads", resource);
            if state == "COMPLETE" {
                let marketing = upload
                    .cf_bundle_short_version_string
                    .as_deref()
                    .unwrap_or("1.0");
                let number = upload.cf_bundle_version.as_deref().unwrap_or("1");
                let existing = self.table("builds").and_then(|t| {
                    t.iter()
                        .find(|b| {
                            b.one.get("app") == Some(&app_id)
                                && b.attr_str("version") == Some(number)
                                && b.one
                                    .get("preReleaseVersion")
                                    .and_then(|p| self.get("preReleaseVersions", p))
                                    .is_some_and(|p| {
                                        p.attr_str("platform") == Some(platform)
                                            && p.attr_str("version").is_some_and(|v| {
                                                train_key(v) == train_key(marketing)
                                            })
                                    })
                        })
                        .map(|b| b.id.clone())
                });
                if let Some(build) = existing
                    && let Some(u) = self.get_mut("buildUploads", &id)
                {
                    u.one.insert("build", build);
                }
                self.complete_upload(&id, Utc::now());
            }
        }

        for version in &app.app_store_versions {
            let platform = version.platform.as_deref().unwrap_or("IOS");
            check("platform", platform, PLATFORMS)?;
            let state = version
                .app_version_state
                .as_deref()
                .unwrap_or("PREPARE_FOR_SUBMISSION");
            check("appVersionState", state, APP_VERSION_STATES)?;
            if let Some(release) = &version.release_type {
                check("releaseType", release, RELEASE_TYPES)?;
            }
            let created = match &version.created_date {
                Some(d) => Some(date("createdDate", d)?),
                None => None,
            };
            let version_string = version
                .version_string
                .clone()
                .unwrap_or_else(|| "1.0".into());
            let id = self.claim_id("appStoreVersions", version.id.as_ref())?;
            let mut resource = Resource::new(id);
            resource.set("platform", platform);
            resource.set("versionString", version_string.clone());
            resource.set("appVersionState", state);
            resource.set_opt("releaseType", version.release_type.clone());
            resource.set_opt("createdDate", created);
            resource.one.insert("app", app_id.clone());
            if let Some(reference) = &version.build {
                let build = match self.find_build(&app_id, reference) {
                    Some(b) => b,
                    None => self.add_build(
                        &app_id,
                        NewBuild {
                            id: None,
                            version: reference,
                            marketing: &version_string,
                            platform,
                            processing_state: "VALID",
                            uploaded_date: DEFAULT_DATE,
                            expired: false,
                            min_os_version: None,
                            uses_non_exempt_encryption: None,
                            audience: "APP_STORE_ELIGIBLE",
                        },
                    ),
                };
                resource.one.insert("build", build);
            }
            self.insert("appStoreVersions", resource);
        }

        for (n, group) in app.beta_groups.iter().enumerate() {
            let id = self.claim_id("betaGroups", group.id.as_ref())?;
            let name = group
                .name
                .clone()
                .unwrap_or_else(|| format!("Group {}", n + 1));
            let mut builds = Vec::new();
            for reference in &group.builds {
                match self.find_build(&app_id, reference) {
                    Some(b) => builds.push(b),
                    None => {
                        return Err(SeedError::UnknownBuild {
                            app: label.clone(),
                            group: name,
                            build: reference.clone(),
                        });
                    }
                }
            }
            let mut resource = Resource::new(id);
            resource.set("name", name);
            resource.set("isInternalGroup", group.is_internal_group.unwrap_or(false));
            resource.set(
                "publicLinkEnabled",
                group.public_link_enabled.unwrap_or(false),
            );
            resource.set("hasAccessToAllBuilds", false);
            resource.set("createdDate", DEFAULT_DATE);
            resource.one.insert("app", app_id.clone());
            resource.many.insert("builds", builds);
            self.insert("betaGroups", resource);
        }
        for l in &app.beta_app_localizations {
            let id = self.new_id("betaAppLocalizations");
            let mut resource = Resource::new(id);
            resource.set("locale", l.locale.clone().unwrap_or_else(|| "en-US".into()));
            resource.set_opt("feedbackEmail", l.feedback_email.clone());
            resource.set_opt("description", l.description.clone());
            resource.one.insert("app", app_id.clone());
            self.insert("betaAppLocalizations", resource);
        }
        {
            // Every app has one (Apple creates it with the app); its fields start empty.
            let d = app.beta_app_review_detail.clone().unwrap_or_default();
            let mut resource = Resource::new(app_id.clone());
            resource.set_opt("contactFirstName", d.contact_first_name);
            resource.set_opt("contactLastName", d.contact_last_name);
            resource.set_opt("contactPhone", d.contact_phone);
            resource.set_opt("contactEmail", d.contact_email);
            resource.set("demoAccountRequired", false);
            resource.one.insert("app", app_id.clone());
            self.insert("betaAppReviewDetails", resource);
        }
        Ok(())
    }

    /// The whole state as JSON: `{type: [{id, attributes, relationships: {name: id | [ids]}}]}`.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        for (kind, table) in &self.tables {
            let rows: Vec<Value> = table
                .iter()
                .map(|r| {
                    let mut rels = Map::new();
                    for (name, id) in &r.one {
                        rels.insert((*name).to_string(), json!(id));
                    }
                    for (name, ids) in &r.many {
                        rels.insert((*name).to_string(), json!(ids));
                    }
                    json!({"id": r.id, "attributes": r.attrs, "relationships": rels})
                })
                .collect();
            out.insert((*kind).to_string(), Value::Array(rows));
        }
        Value::Object(out)
    }
}

/// What a new build looks like.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NewBuild<'a> {
    pub id: Option<&'a str>,
    pub version: &'a str,
    pub marketing: &'a str,
    pub platform: &'a str,
    pub processing_state: &'a str,
    pub uploaded_date: &'a str,
    pub expired: bool,
    pub min_os_version: Option<&'a str>,
    pub uses_non_exempt_encryption: Option<bool>,
    pub audience: &'a str,
}

/// `state.state` of a build upload.
pub(crate) fn upload_state(upload: &Resource) -> Option<&str> {
    upload
        .attrs
        .get("state")
        .and_then(|s| s.get("state"))
        .and_then(Value::as_str)
}

/// Sets `state` (a `BuildUploadState` object) of a build upload.
pub(crate) fn set_upload_state(upload: &mut Resource, state: &str, errors: Vec<Value>) {
    upload.attrs.insert(
        "state".into(),
        json!({"state": state, "errors": errors, "warnings": [], "infos": []}),
    );
}
