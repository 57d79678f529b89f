//! The `/v1` routes: reads (generic over the resource types), creates and updates with Apple's
//! rules. Paths, attribute names and required relationships follow the OpenAPI spec 4.4.1.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};

use crate::Processing;
use crate::jsonapi::{ApiError, ListSpec, Query, View, check_single_params, list_document};
use crate::seed::{PLATFORMS, RELEASE_TYPES};
use crate::store::{
    PartState, RelKind, Resource, Store, format_date, rels_of, set_upload_state, type_name,
    upload_state,
};

/// The largest file `POST /v1/buildUploadFiles` accepts (Apple's limit for an IPA is 4 GB
/// uncompressed app; this leaves room).
pub(crate) const MAX_FILE_SIZE: u64 = 8 * 1024 * 1024 * 1024;
/// At most this many upload parts per file (the part size grows instead).
const MAX_PARTS: u64 = 10_000;

/// Settings the routes need.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    pub processing: Processing,
    pub part_size: u64,
    pub loose_bundle_id: bool,
    /// Lifetime of part URLs.
    pub url_lifetime: std::time::Duration,
    /// See [`crate::Config::reject_sha256_checksums`].
    pub reject_sha256: bool,
}

/// A successful answer.
#[derive(Debug)]
pub(crate) enum Reply {
    Json(u16, Value),
    NoContent,
}

/// Request context.
pub(crate) struct Ctx<'a> {
    pub store: &'a mut Store,
    pub options: Options,
    pub now: DateTime<Utc>,
    pub query: &'a Query,
    pub path: &'a str,
    pub body: Option<Value>,
}

const DUPLICATE: &str = "ENTITY_ERROR.ATTRIBUTE.INVALID.DUPLICATE";
const STATE_INVALID: &str = "STATE_ERROR.ENTITY_STATE_INVALID";

fn list_spec(kind: &str, loose: bool) -> Option<ListSpec> {
    let spec = match kind {
        "apps" => ListSpec {
            filters: &["name", "bundleId", "sku", "id"],
            sorts: &["name", "bundleId", "sku"],
            loose_bundle_id: loose,
            ..ListSpec::default()
        },
        "builds" => ListSpec {
            filters: &[
                "version",
                "expired",
                "processingState",
                "betaAppReviewSubmission.betaReviewState",
                "usesNonExemptEncryption",
                "preReleaseVersion.version",
                "preReleaseVersion.platform",
                "buildAudienceType",
                "preReleaseVersion",
                "app",
                "betaGroups",
                "appStoreVersion",
                "id",
            ],
            sorts: &["version", "uploadedDate", "preReleaseVersion"],
            exists: &["usesNonExemptEncryption"],
            ..ListSpec::default()
        },
        "preReleaseVersions" => ListSpec {
            filters: &[
                "builds.buildAudienceType",
                "builds.expired",
                "builds.processingState",
                "builds.version",
                "platform",
                "version",
                "app",
                "builds",
            ],
            sorts: &["version"],
            ..ListSpec::default()
        },
        "buildBetaDetails" => ListSpec {
            filters: &["build", "id"],
            ..ListSpec::default()
        },
        "betaGroups" => ListSpec {
            filters: &[
                "name",
                "isInternalGroup",
                "publicLinkEnabled",
                "app",
                "builds",
                "id",
            ],
            sorts: &["name", "createdDate", "publicLinkEnabled"],
            ..ListSpec::default()
        },
        "betaBuildLocalizations" => ListSpec {
            filters: &["locale", "build"],
            ..ListSpec::default()
        },
        "betaAppReviewSubmissions" => ListSpec {
            filters: &["betaReviewState", "build"],
            required: &["build"],
            ..ListSpec::default()
        },
        "betaAppLocalizations" => ListSpec {
            filters: &["locale", "app"],
            ..ListSpec::default()
        },
        "reviewSubmissions" => ListSpec {
            filters: &["platform", "state", "app"],
            required: &["app"],
            ..ListSpec::default()
        },
        _ => return None,
    };
    Some(spec)
}

fn related_list_spec(kind: &str, rel: &str) -> ListSpec {
    match (kind, rel) {
        ("apps", "appStoreVersions") => ListSpec {
            filters: &["platform", "versionString", "appVersionState", "id"],
            ..ListSpec::default()
        },
        ("apps", "betaAppLocalizations") => ListSpec {
            filters: &["locale"],
            ..ListSpec::default()
        },
        ("apps", "buildUploads") => ListSpec {
            filters: &[
                "cfBundleShortVersionString",
                "cfBundleVersion",
                "platform",
                "state",
            ],
            sorts: &["cfBundleVersion", "uploadedDate"],
            ..ListSpec::default()
        },
        _ => ListSpec::default(),
    }
}

/// Serves `/v1/<segments>`.
pub(crate) fn v1(ctx: Ctx<'_>, method: &str, segments: &[&str]) -> Result<Reply, ApiError> {
    let kind = segments
        .first()
        .and_then(|k| type_name(k))
        .ok_or_else(ApiError::no_path)?;
    match (method, segments) {
        ("GET", [_]) => {
            let spec = list_spec(kind, ctx.options.loose_bundle_id).ok_or_else(ApiError::method)?;
            let rows: Vec<&Resource> = ctx
                .store
                .table(kind)
                .map(|t| t.iter().collect())
                .unwrap_or_default();
            list_document(ctx.store, kind, rows, ctx.query, spec, ctx.path)
                .map(|doc| Reply::Json(200, doc))
        }
        ("POST", [_]) => create(ctx, kind),
        ("GET", [_, id]) => {
            check_single_params(ctx.query)?;
            if kind == "buildUploads" {
                poll_upload(ctx.store, ctx.options, id, ctx.now);
            }
            if kind == "builds"
                && let Some(count) = ctx.store.build_polls.get_mut(*id)
            {
                *count = count.saturating_add(1);
                if *count >= ctx.store.build_processing_polls {
                    ctx.store.finish_build_processing(id);
                }
            }
            if kind == "buildUploadFiles" {
                reissue_operations(ctx.store, ctx.options, id, ctx.now);
            }
            let r = ctx
                .store
                .get(kind, id)
                .ok_or_else(|| ApiError::not_found(kind, id))?;
            let view = View::new(ctx.store, kind, ctx.query)?;
            let self_url = format!("{}{}", ctx.store.base_url, ctx.path);
            Ok(Reply::Json(200, view.document(kind, Some(r), &self_url)))
        }
        ("PATCH", [_, id]) => update(ctx, kind, id),
        ("DELETE", [_, id]) => delete(ctx, kind, id),
        ("GET", [_, id, rel]) => related(ctx, kind, id, rel),
        ("GET", [_, id, "relationships", rel]) => linkage(ctx, kind, id, rel),
        ("POST", [_, id, "relationships", rel]) => link_many(ctx, kind, id, rel),
        ("PATCH", [_, id, "relationships", "build"]) if kind == "appStoreVersions" => {
            let body = ctx.body.as_ref().ok_or_else(no_body)?;
            let data = body.get("data").ok_or_else(no_body)?;
            let build = match data {
                Value::Null => None,
                d => Some(linkage_id(d, "builds", "build")?),
            };
            let app = app_of(ctx.store, kind, id)?;
            if let Some(b) = &build {
                check_build_of_app(ctx.store, b, &app, "build")?;
            }
            let version = ctx
                .store
                .get_mut(kind, id)
                .ok_or_else(|| ApiError::not_found(kind, id))?;
            match build {
                Some(b) => version.one.insert("build", b),
                None => version.one.remove("build"),
            };
            Ok(Reply::NoContent)
        }
        (_, [_] | [_, _] | [_, _, _] | [_, _, "relationships", _]) => Err(ApiError::method()),
        _ => Err(ApiError::no_path()),
    }
}

/// `GET /v1/buildUploads/{id}` counts as a poll: with [`Processing::AfterPolls`] an upload
/// created over the API completes on the N-th poll after its file was committed.
fn poll_upload(store: &mut Store, options: Options, id: &str, now: DateTime<Utc>) {
    let Processing::AfterPolls(n) = options.processing else {
        return;
    };
    let processing = store
        .get("buildUploads", id)
        .is_some_and(|u| upload_state(u) == Some("PROCESSING"));
    if !processing {
        return;
    }
    let Some(count) = store.polls.get_mut(id) else {
        return;
    };
    *count = count.saturating_add(1);
    if *count >= n {
        store.complete_upload(id, now);
    }
}

fn related(ctx: Ctx<'_>, kind: &'static str, id: &str, name: &str) -> Result<Reply, ApiError> {
    let rel = rels_of(kind)
        .unwrap_or(&[])
        .iter()
        .find(|r| r.name == name && r.links)
        .ok_or_else(ApiError::no_path)?;
    let r = ctx
        .store
        .get(kind, id)
        .ok_or_else(|| ApiError::not_found(kind, id))?;
    let ids = ctx.store.related_ids(r, rel);
    match rel.kind {
        RelKind::One | RelKind::OneReverse(_) => {
            check_single_params(ctx.query)?;
            let target = ids.first().and_then(|t| ctx.store.get(rel.target, t));
            let view = View::new(ctx.store, rel.target, ctx.query)?;
            let self_url = format!("{}{}", ctx.store.base_url, ctx.path);
            Ok(Reply::Json(
                200,
                view.document(rel.target, target, &self_url),
            ))
        }
        RelKind::ManyReverse(_) | RelKind::ManyStored | RelKind::ManyStoredReverse(_) => {
            let rows: Vec<&Resource> = ids
                .iter()
                .filter_map(|t| ctx.store.get(rel.target, t))
                .collect();
            let spec = related_list_spec(kind, name);
            list_document(ctx.store, rel.target, rows, ctx.query, spec, ctx.path)
                .map(|doc| Reply::Json(200, doc))
        }
    }
}

fn linkage(ctx: Ctx<'_>, kind: &'static str, id: &str, name: &str) -> Result<Reply, ApiError> {
    let rel = rels_of(kind)
        .unwrap_or(&[])
        .iter()
        .find(|r| r.name == name && r.links)
        .ok_or_else(ApiError::no_path)?;
    let r = ctx
        .store
        .get(kind, id)
        .ok_or_else(|| ApiError::not_found(kind, id))?;
    let ids = ctx.store.related_ids(r, rel);
    let self_url = format!("{}{}", ctx.store.base_url, ctx.path);
    let data = match rel.kind {
        RelKind::One | RelKind::OneReverse(_) => ids
            .first()
            .map(|i| json!({"type": rel.target, "id": i}))
            .unwrap_or(Value::Null),
        _ => Value::Array(
            ids.iter()
                .map(|i| json!({"type": rel.target, "id": i}))
                .collect(),
        ),
    };
    Ok(Reply::Json(
        200,
        json!({"data": data, "links": {"self": self_url}}),
    ))
}

fn no_body() -> ApiError {
    ApiError::new(
        422,
        "ENTITY_UNPROCESSABLE",
        "The request entity is not valid",
        "The request body must be a JSON:API document with a 'data' member",
    )
}

/// `{"type": target, "id": ...}` → the id.
fn linkage_id(data: &Value, target: &str, name: &str) -> Result<String, ApiError> {
    let t = data.get("type").and_then(Value::as_str);
    let id = data.get("id").and_then(Value::as_str);
    match (t, id) {
        (Some(t), Some(id)) if t == target && !id.is_empty() => Ok(id.to_string()),
        _ => Err(ApiError::relationship(
            "ENTITY_ERROR.RELATIONSHIP.INVALID",
            name,
            format!("The relationship '{name}' needs data {{\"type\": \"{target}\", \"id\": ...}}"),
        )),
    }
}

/// The parts of a create/update body.
struct Entity {
    attrs: Map<String, Value>,
    rels: Map<String, Value>,
}

fn entity(ctx: &Ctx<'_>, kind: &str, id: Option<&str>) -> Result<Entity, ApiError> {
    let body = ctx.body.as_ref().ok_or_else(no_body)?;
    let data = body
        .get("data")
        .and_then(Value::as_object)
        .ok_or_else(no_body)?;
    if data.get("type").and_then(Value::as_str) != Some(kind) {
        return Err(ApiError {
            source: Some(Box::new(json!({"pointer": "/data/type"}))),
            ..ApiError::new(
                409,
                "ENTITY_ERROR.INCLUDED.INVALID",
                "The provided entity is invalid",
                format!("The resource type must be '{kind}'"),
            )
        });
    }
    if let Some(id) = id
        && data.get("id").and_then(Value::as_str) != Some(id)
    {
        return Err(ApiError {
            source: Some(Box::new(json!({"pointer": "/data/id"}))),
            ..ApiError::new(
                409,
                "ENTITY_ERROR.ID.INVALID",
                "The provided entity is invalid",
                format!("The id in the request body must be '{id}', the id in the path"),
            )
        });
    }
    let object = |key: &str| -> Result<Map<String, Value>, ApiError> {
        match data.get(key) {
            None | Some(Value::Null) => Ok(Map::new()),
            Some(Value::Object(o)) => Ok(o.clone()),
            Some(_) => Err(ApiError {
                source: Some(Box::new(json!({"pointer": format!("/data/{key}")}))),
                ..ApiError::new(
                    409,
                    "ENTITY_ERROR",
                    "The provided entity is invalid",
                    format!("'{key}' must be an object"),
                )
            }),
        }
    };
    Ok(Entity {
        attrs: object("attributes")?,
        rels: object("relationships")?,
    })
}

impl Entity {
    fn check_known(&self, attrs: &[&str], rels: &[&str]) -> Result<(), ApiError> {
        for name in self.attrs.keys() {
            if !attrs.contains(&name.as_str()) {
                return Err(ApiError::attribute(
                    "ENTITY_ERROR.ATTRIBUTE.UNKNOWN",
                    name,
                    format!("The attribute '{name}' can not be included in this request"),
                ));
            }
        }
        for name in self.rels.keys() {
            if !rels.contains(&name.as_str()) {
                return Err(ApiError::relationship(
                    "ENTITY_ERROR.RELATIONSHIP.UNKNOWN",
                    name,
                    format!("The relationship '{name}' can not be included in this request"),
                ));
            }
        }
        Ok(())
    }

    fn string(&self, name: &str, required: bool) -> Result<Option<String>, ApiError> {
        match self.attrs.get(name) {
            None | Some(Value::Null) if required => Err(ApiError::attribute(
                "ENTITY_ERROR.ATTRIBUTE.REQUIRED",
                name,
                format!("You must provide a value for the attribute '{name}' with this request"),
            )),
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if required && s.trim().is_empty() => Err(ApiError::attribute(
                "ENTITY_ERROR.ATTRIBUTE.INVALID",
                name,
                format!("'{name}' must not be empty"),
            )),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ApiError::attribute(
                "ENTITY_ERROR.ATTRIBUTE.TYPE",
                name,
                format!("'{name}' must be a string"),
            )),
        }
    }

    fn one_of(
        &self,
        name: &str,
        allowed: &[&str],
        required: bool,
    ) -> Result<Option<String>, ApiError> {
        let value = self.string(name, required)?;
        if let Some(v) = &value
            && !allowed.contains(&v.as_str())
        {
            return Err(ApiError::attribute(
                "ENTITY_ERROR.ATTRIBUTE.INVALID",
                name,
                format!(
                    "'{v}' is not a valid value for '{name}'; allowed: {}",
                    allowed.join(", ")
                ),
            ));
        }
        Ok(value)
    }

    fn boolean(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.attrs.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::attribute(
                "ENTITY_ERROR.ATTRIBUTE.TYPE",
                name,
                format!("'{name}' must be a boolean"),
            )),
        }
    }

    /// A to-one relationship's id, checked to exist.
    fn relation(
        &self,
        store: &Store,
        name: &str,
        target: &'static str,
        required: bool,
    ) -> Result<Option<String>, ApiError> {
        let data = self.rels.get(name).and_then(|r| r.get("data"));
        match data {
            None | Some(Value::Null) if required => Err(ApiError::relationship(
                "ENTITY_ERROR.RELATIONSHIP.REQUIRED",
                name,
                format!("You must provide a value for the relationship '{name}' with this request"),
            )),
            None | Some(Value::Null) => Ok(None),
            Some(d) => {
                let id = linkage_id(d, target, name)?;
                if store.get(target, &id).is_none() {
                    return Err(ApiError::relationship(
                        "ENTITY_ERROR.RELATIONSHIP.INVALID",
                        name,
                        format!("There is no resource of type '{target}' with id '{id}'"),
                    ));
                }
                Ok(Some(id))
            }
        }
    }
}

fn app_of(store: &Store, kind: &str, id: &str) -> Result<String, ApiError> {
    store
        .get(kind, id)
        .ok_or_else(|| ApiError::not_found(kind, id))
        .map(|r| r.one.get("app").cloned().unwrap_or_default())
}

fn check_build_of_app(store: &Store, build: &str, app: &str, rel: &str) -> Result<(), ApiError> {
    match store.get("builds", build) {
        Some(b) if b.one.get("app").is_some_and(|a| a == app) => Ok(()),
        _ => Err(ApiError::relationship(
            "ENTITY_ERROR.RELATIONSHIP.INVALID",
            rel,
            format!("The build '{build}' does not belong to this app"),
        )),
    }
}

fn created(ctx: &Ctx<'_>, kind: &str, id: &str) -> Result<Reply, ApiError> {
    let r = ctx
        .store
        .get(kind, id)
        .ok_or_else(|| ApiError::not_found(kind, id))?;
    let view = View::new(ctx.store, kind, &Query::default())?;
    let self_url = format!("{}/v1/{kind}/{id}", ctx.store.base_url);
    Ok(Reply::Json(201, view.document(kind, Some(r), &self_url)))
}

fn create(mut ctx: Ctx<'_>, kind: &'static str) -> Result<Reply, ApiError> {
    let e = entity(&ctx, kind, None)?;
    let now = format_date(ctx.now);
    let id = match kind {
        "buildUploads" => {
            e.check_known(
                &["cfBundleShortVersionString", "cfBundleVersion", "platform"],
                &["app"],
            )?;
            let app = e
                .relation(ctx.store, "app", "apps", true)?
                .unwrap_or_default();
            let marketing = e
                .string("cfBundleShortVersionString", true)?
                .unwrap_or_default();
            let number = e.string("cfBundleVersion", true)?.unwrap_or_default();
            let platform = e.one_of("platform", PLATFORMS, true)?.unwrap_or_default();
            if let Some(existing) = ctx.store.duplicate_of(&app, &platform, &marketing, &number) {
                return Err(ApiError::attribute(
                    DUPLICATE,
                    "cfBundleVersion",
                    format!(
                        "The bundle version '{number}' has already been used for version '{marketing}' \
                         on {platform} (by {existing}); choose a higher build number"
                    ),
                ));
            }
            let id = ctx.store.new_id(kind);
            let mut r = Resource::new(id.clone());
            r.attrs
                .insert("cfBundleShortVersionString".into(), json!(marketing));
            r.attrs.insert("cfBundleVersion".into(), json!(number));
            r.attrs.insert("platform".into(), json!(platform));
            r.attrs.insert("createdDate".into(), json!(now));
            set_upload_state(&mut r, "AWAITING_UPLOAD", Vec::new());
            r.one.insert("app", app);
            ctx.store.insert(kind, r);
            id
        }
        "buildUploadFiles" => create_upload_file(&mut ctx, &e)?,
        "appStoreVersions" => {
            e.check_known(
                &[
                    "platform",
                    "versionString",
                    "copyright",
                    "reviewType",
                    "releaseType",
                    "earliestReleaseDate",
                    "usesIdfa",
                ],
                &["app", "build", "appStoreVersionLocalizations"],
            )?;
            let app = e
                .relation(ctx.store, "app", "apps", true)?
                .unwrap_or_default();
            let platform = e.one_of("platform", PLATFORMS, true)?.unwrap_or_default();
            let version = e.string("versionString", true)?.unwrap_or_default();
            let release = e.one_of("releaseType", RELEASE_TYPES, false)?;
            let copyright = e.string("copyright", false)?;
            let earliest = e.string("earliestReleaseDate", false)?;
            let build = e.relation(ctx.store, "build", "builds", false)?;
            if let Some(b) = &build {
                check_build_of_app(ctx.store, b, &app, "build")?;
            }
            let taken = ctx.store.table(kind).is_some_and(|t| {
                t.iter().any(|v| {
                    v.one.get("app") == Some(&app)
                        && v.attr_str("platform") == Some(platform.as_str())
                        && v.attr_str("versionString") == Some(version.as_str())
                })
            });
            if taken {
                return Err(ApiError::attribute(
                    DUPLICATE,
                    "versionString",
                    format!("The version string '{version}' has already been used on {platform}"),
                ));
            }
            let id = ctx.store.new_id(kind);
            let mut r = Resource::new(id.clone());
            r.attrs.insert("platform".into(), json!(platform));
            r.attrs.insert("versionString".into(), json!(version));
            r.attrs
                .insert("appVersionState".into(), json!("PREPARE_FOR_SUBMISSION"));
            r.attrs.insert("createdDate".into(), json!(now));
            insert_opt(&mut r, "releaseType", release);
            insert_opt(&mut r, "copyright", copyright);
            insert_opt(&mut r, "earliestReleaseDate", earliest);
            r.one.insert("app", app);
            if let Some(b) = build {
                r.one.insert("build", b);
            }
            ctx.store.insert(kind, r);
            id
        }
        "betaBuildLocalizations" => {
            e.check_known(&["whatsNew", "locale"], &["build"])?;
            let build = e
                .relation(ctx.store, "build", "builds", true)?
                .unwrap_or_default();
            let locale = e.string("locale", true)?.unwrap_or_default();
            let whats_new = e.string("whatsNew", false)?;
            let taken = ctx.store.table(kind).is_some_and(|t| {
                t.iter().any(|l| {
                    l.one.get("build") == Some(&build)
                        && l.attr_str("locale") == Some(locale.as_str())
                })
            });
            if taken {
                return Err(ApiError::attribute(
                    DUPLICATE,
                    "locale",
                    format!("The build already has a localization for '{locale}'"),
                ));
            }
            let id = ctx.store.new_id(kind);
            let mut r = Resource::new(id.clone());
            r.attrs.insert("locale".into(), json!(locale));
            insert_opt(&mut r, "whatsNew", whats_new);
            r.one.insert("build", build);
            ctx.store.insert(kind, r);
            id
        }
        "betaAppReviewSubmissions" => {
            e.check_known(&[], &["build"])?;
            let build = e
                .relation(ctx.store, "build", "builds", true)?
                .unwrap_or_default();
            let not_ready = ctx
                .store
                .get("builds", &build)
                .and_then(|b| b.one.get("buildBetaDetail"))
                .and_then(|d| ctx.store.get("buildBetaDetails", d))
                .and_then(|d| d.attr_str("externalBuildState"))
                .filter(|s| {
                    matches!(
                        *s,
                        "PROCESSING" | "MISSING_EXPORT_COMPLIANCE" | "PROCESSING_EXCEPTION"
                    )
                })
                .map(str::to_owned);
            if let Some(state) = not_ready {
                return Err(ApiError::new(
                    409,
                    STATE_INVALID,
                    "The request cannot be fulfilled because of the state of another resource.",
                    format!(
                        "The build '{build}' cannot be submitted for beta review while it is {state}"
                    ),
                ));
            }
            let taken = ctx
                .store
                .table(kind)
                .is_some_and(|t| t.iter().any(|s| s.one.get("build") == Some(&build)));
            if taken {
                return Err(ApiError::new(
                    409,
                    STATE_INVALID,
                    "The request cannot be fulfilled because of the state of another resource.",
                    format!("The build '{build}' was already submitted for beta review"),
                ));
            }
            let id = ctx.store.new_id(kind);
            let mut r = Resource::new(id.clone());
            r.attrs
                .insert("betaReviewState".into(), json!("WAITING_FOR_REVIEW"));
            r.attrs.insert("submittedDate".into(), json!(now));
            r.one.insert("build", build.clone());
            ctx.store.insert(kind, r);
            let detail = ctx
                .store
                .get("builds", &build)
                .and_then(|b| b.one.get("buildBetaDetail").cloned());
            if let Some(d) = detail.and_then(|d| ctx.store.get_mut("buildBetaDetails", &d)) {
                d.attrs.insert(
                    "externalBuildState".into(),
                    json!("WAITING_FOR_BETA_REVIEW"),
                );
            }
            id
        }
        "reviewSubmissions" => {
            e.check_known(&["platform"], &["app"])?;
            let app = e
                .relation(ctx.store, "app", "apps", true)?
                .unwrap_or_default();
            let platform = e
                .one_of("platform", PLATFORMS, false)?
                .unwrap_or_else(|| "IOS".into());
            let open = ctx.store.table(kind).and_then(|t| {
                t.iter()
                    .find(|s| {
                        s.one.get("app") == Some(&app)
                            && s.attr_str("platform") == Some(platform.as_str())
                            && matches!(
                                s.attr_str("state"),
                                Some(
                                    "READY_FOR_REVIEW"
                                        | "WAITING_FOR_REVIEW"
                                        | "IN_REVIEW"
                                        | "UNRESOLVED_ISSUES"
                                )
                            )
                    })
                    .map(|s| s.id.clone())
            });
            if let Some(other) = open {
                return Err(ApiError::new(
                    409,
                    STATE_INVALID,
                    "The request cannot be fulfilled because of the state of another resource.",
                    format!("There is another reviewSubmissions with id {other} still in progress"),
                ));
            }
            let id = ctx.store.new_id(kind);
            let mut r = Resource::new(id.clone());
            r.attrs.insert("platform".into(), json!(platform));
            r.attrs.insert("state".into(), json!("READY_FOR_REVIEW"));
            r.one.insert("app", app);
            ctx.store.insert(kind, r);
            id
        }
        "reviewSubmissionItems" => {
            e.check_known(&[], &["reviewSubmission", "appStoreVersion"])?;
            let submission = e
                .relation(ctx.store, "reviewSubmission", "reviewSubmissions", true)?
                .unwrap_or_default();
            let version = e.relation(ctx.store, "appStoreVersion", "appStoreVersions", false)?;
            let id = ctx.store.new_id(kind);
            let mut r = Resource::new(id.clone());
            r.attrs.insert("state".into(), json!("READY_FOR_REVIEW"));
            r.one.insert("reviewSubmission", submission);
            if let Some(v) = version {
                r.one.insert("appStoreVersion", v);
            }
            ctx.store.insert(kind, r);
            id
        }
        _ => return Err(ApiError::method()),
    };
    created(&ctx, kind, &id)
}

fn insert_opt(r: &mut Resource, name: &str, value: Option<String>) {
    if let Some(v) = value {
        r.attrs.insert(name.into(), json!(v));
    }
}

fn create_upload_file(ctx: &mut Ctx<'_>, e: &Entity) -> Result<String, ApiError> {
    e.check_known(
        &["assetType", "fileName", "fileSize", "uti"],
        &["buildUpload"],
    )?;
    let upload = e
        .relation(ctx.store, "buildUpload", "buildUploads", true)?
        .unwrap_or_default();
    let asset_type = e
        .one_of(
            "assetType",
            &["ASSET", "ASSET_DESCRIPTION", "ASSET_SPI"],
            true,
        )?
        .unwrap_or_default();
    let file_name = e.string("fileName", true)?.unwrap_or_default();
    let uti = e
        .one_of(
            "uti",
            &[
                "com.apple.binary-property-list",
                "com.apple.ipa",
                "com.apple.pkg",
                "com.apple.xml-property-list",
                "com.pkware.zip-archive",
            ],
            true,
        )?
        .unwrap_or_default();
    let size = match e.attrs.get("fileSize") {
        None | Some(Value::Null) => {
            return Err(ApiError::attribute(
                "ENTITY_ERROR.ATTRIBUTE.REQUIRED",
                "fileSize",
                "You must provide a value for the attribute 'fileSize' with this request",
            ));
        }
        Some(v) => match v.as_u64() {
            Some(n) if (1..=MAX_FILE_SIZE).contains(&n) => n,
            _ => {
                return Err(ApiError::attribute(
                    "ENTITY_ERROR.ATTRIBUTE.INVALID",
                    "fileSize",
                    format!("'fileSize' must be an integer from 1 to {MAX_FILE_SIZE}"),
                ));
            }
        },
    };
    let slot = match asset_type.as_str() {
        "ASSET" => "assetFile",
        "ASSET_DESCRIPTION" => "assetDescriptionFile",
        _ => "assetSpiFile",
    };
    let up = ctx
        .store
        .get("buildUploads", &upload)
        .ok_or_else(|| ApiError::not_found("buildUploads", &upload))?;
    if upload_state(up) != Some("AWAITING_UPLOAD") {
        return Err(ApiError::new(
            409,
            STATE_INVALID,
            "The request cannot be fulfilled because of the state of another resource.",
            format!("The build upload '{upload}' is not awaiting upload"),
        ));
    }
    if up.one.contains_key(slot) {
        return Err(ApiError::attribute(
            DUPLICATE,
            "assetType",
            format!("The build upload already has a file of type {asset_type}"),
        ));
    }
    let id = ctx.store.new_id("buildUploadFiles");
    let part_size = ctx.options.part_size.max(size.div_ceil(MAX_PARTS)).max(1);
    let mut parts = Vec::new();
    let mut offset = 0u64;
    while offset < size {
        let length = part_size.min(size - offset);
        parts.push(PartState {
            offset,
            length,
            received: false,
        });
        offset += length;
    }
    let operations = operations_json(&ctx.store.base_url, &id, &parts, ctx.now, ctx.options);
    let mut r = Resource::new(id.clone());
    r.attrs.insert(
        "assetDeliveryState".into(),
        json!({"state": "AWAITING_UPLOAD", "errors": [], "warnings": []}),
    );
    r.attrs
        .insert("assetToken".into(), json!(format!("sandbox/{id}")));
    r.attrs.insert("assetType".into(), json!(asset_type));
    r.attrs.insert("fileName".into(), json!(file_name));
    r.attrs.insert("fileSize".into(), json!(size));
    r.attrs.insert("uti".into(), json!(uti));
    r.attrs
        .insert("uploadOperations".into(), Value::Array(operations));
    r.one.insert("buildUpload", upload.clone());
    ctx.store.insert("buildUploadFiles", r);
    ctx.store.parts.insert(id.clone(), parts);
    if let Some(up) = ctx.store.get_mut("buildUploads", &upload) {
        up.one.insert(slot, id.clone());
    }
    Ok(id)
}

/// The `uploadOperations` of a file: one PUT per part, URLs valid for [`Options::url_lifetime`] from `now`.
fn operations_json(
    base: &str,
    id: &str,
    parts: &[PartState],
    now: DateTime<Utc>,
    options: Options,
) -> Vec<Value> {
    let lifetime = Duration::from_std(options.url_lifetime).unwrap_or(Duration::days(7));
    let ends = now + lifetime;
    let expiration = format_date(ends);
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let number = i + 1;
            json!({
                "method": "PUT",
                "url": format!("{base}/upload/{id}/{number}?expires={}", ends.timestamp()),
                "length": p.length,
                "offset": p.offset,
                "requestHeaders": [{"name": "Content-Type", "value": "application/octet-stream"}],
                "expiration": expiration,
                "partNumber": number,
            })
        })
        .collect()
}

/// `GET /v1/buildUploadFiles/{id}` answers fresh part URLs while the file awaits its parts.
fn reissue_operations(store: &mut Store, options: Options, id: &str, now: DateTime<Utc>) {
    let Some(parts) = store.parts.get(id) else {
        return;
    };
    let operations = operations_json(&store.base_url, id, parts, now, options);
    if let Some(r) = store.get_mut("buildUploadFiles", id)
        && r.attrs
            .get("assetDeliveryState")
            .and_then(|s| s.get("state"))
            .and_then(Value::as_str)
            == Some("AWAITING_UPLOAD")
    {
        r.attrs
            .insert("uploadOperations".into(), Value::Array(operations));
    }
}

fn update(ctx: Ctx<'_>, kind: &'static str, id: &str) -> Result<Reply, ApiError> {
    if ctx.store.get(kind, id).is_none() {
        return Err(ApiError::not_found(kind, id));
    }
    let e = entity(&ctx, kind, Some(id))?;
    let now = format_date(ctx.now);
    match kind {
        "builds" => {
            e.check_known(
                &["usesNonExemptEncryption", "expired"],
                &["appEncryptionDeclaration"],
            )?;
            let encryption = e.boolean("usesNonExemptEncryption")?;
            let expired = e.boolean("expired")?;
            if expired == Some(false) {
                return Err(ApiError::attribute(
                    "ENTITY_ERROR.ATTRIBUTE.INVALID",
                    "expired",
                    "An expired build cannot be un-expired; only 'expired: true' is allowed",
                ));
            }
            let build = ctx
                .store
                .get_mut(kind, id)
                .ok_or_else(|| ApiError::not_found(kind, id))?;
            if let Some(v) = encryption {
                build
                    .attrs
                    .insert("usesNonExemptEncryption".into(), json!(v));
                let detail = build.one.get("buildBetaDetail").cloned();
                if let Some(d) = detail.and_then(|d| ctx.store.get_mut("buildBetaDetails", &d))
                    && d.attr_str("internalBuildState") == Some("MISSING_EXPORT_COMPLIANCE")
                {
                    d.attrs
                        .insert("internalBuildState".into(), json!("READY_FOR_BETA_TESTING"));
                    d.attrs.insert(
                        "externalBuildState".into(),
                        json!("READY_FOR_BETA_SUBMISSION"),
                    );
                }
            }
            let build = ctx
                .store
                .get_mut(kind, id)
                .ok_or_else(|| ApiError::not_found(kind, id))?;
            if expired == Some(true) {
                build.attrs.insert("expired".into(), json!(true));
                let detail = build.one.get("buildBetaDetail").cloned();
                if let Some(d) = detail.and_then(|d| ctx.store.get_mut("buildBetaDetails", &d)) {
                    d.attrs
                        .insert("internalBuildState".into(), json!("EXPIRED"));
                    d.attrs
                        .insert("externalBuildState".into(), json!("EXPIRED"));
                }
            }
        }
        "appStoreVersions" => {
            e.check_known(
                &[
                    "versionString",
                    "copyright",
                    "reviewType",
                    "releaseType",
                    "earliestReleaseDate",
                    "usesIdfa",
                    "downloadable",
                ],
                &["build", "appClipDefaultExperience"],
            )?;
            let version = e.string("versionString", false)?;
            let copyright = e.string("copyright", false)?;
            let release = e.one_of("releaseType", RELEASE_TYPES, false)?;
            let earliest = e.string("earliestReleaseDate", false)?;
            let downloadable = e.boolean("downloadable")?;
            let build = e.relation(ctx.store, "build", "builds", false)?;
            let app = app_of(ctx.store, kind, id)?;
            if let Some(b) = &build {
                check_build_of_app(ctx.store, b, &app, "build")?;
            }
            let r = ctx
                .store
                .get_mut(kind, id)
                .ok_or_else(|| ApiError::not_found(kind, id))?;
            insert_opt(r, "versionString", version);
            insert_opt(r, "copyright", copyright);
            insert_opt(r, "releaseType", release);
            insert_opt(r, "earliestReleaseDate", earliest);
            if let Some(d) = downloadable {
                r.attrs.insert("downloadable".into(), json!(d));
            }
            if let Some(b) = build {
                r.one.insert("build", b);
            }
        }
        "buildUploadFiles" => {
            e.check_known(&["sourceFileChecksums", "uploaded"], &[])?;
            let uploaded = e.boolean("uploaded")?;
            let checksums = e.attrs.get("sourceFileChecksums").cloned();
            if ctx.options.reject_sha256
                && checksums
                    .as_ref()
                    .and_then(|c| c.pointer("/file/algorithm"))
                    .and_then(Value::as_str)
                    == Some("SHA_256")
            {
                return Err(ApiError::attribute(
                    "ENTITY_ERROR.ATTRIBUTE.INVALID",
                    "sourceFileChecksums",
                    "The checksum algorithm 'SHA_256' is not accepted for this file",
                ));
            }
            if let Some(c) = &checksums
                && !(c.is_object() || c.is_null())
            {
                return Err(ApiError::attribute(
                    "ENTITY_ERROR.ATTRIBUTE.TYPE",
                    "sourceFileChecksums",
                    "'sourceFileChecksums' must be an object",
                ));
            }
            if uploaded == Some(true) {
                let missing: Vec<String> = ctx
                    .store
                    .parts
                    .get(id)
                    .map(|parts| {
                        parts
                            .iter()
                            .enumerate()
                            .filter(|(_, p)| !p.received)
                            .map(|(i, _)| (i + 1).to_string())
                            .collect()
                    })
                    .unwrap_or_default();
                if !missing.is_empty() {
                    return Err(ApiError::new(
                        409,
                        STATE_INVALID,
                        "The request cannot be fulfilled because of the state of another resource.",
                        format!(
                            "The file cannot be committed: upload parts {} were not received",
                            missing.join(", ")
                        ),
                    ));
                }
            }
            let r = ctx
                .store
                .get_mut(kind, id)
                .ok_or_else(|| ApiError::not_found(kind, id))?;
            if let Some(c) = checksums
                && !c.is_null()
            {
                r.attrs.insert("sourceFileChecksums".into(), c);
            }
            if uploaded == Some(true) {
                r.attrs.insert(
                    "assetDeliveryState".into(),
                    json!({"state": "COMPLETE", "errors": [], "warnings": []}),
                );
                let is_asset = r.attr_str("assetType") == Some("ASSET");
                let upload = r.one.get("buildUpload").cloned().unwrap_or_default();
                if is_asset
                    && let Some(u) = ctx.store.get_mut("buildUploads", &upload)
                    && upload_state(u) == Some("AWAITING_UPLOAD")
                {
                    set_upload_state(u, "PROCESSING", Vec::new());
                    u.attrs.insert("uploadedDate".into(), json!(now));
                    ctx.store.polls.insert(upload, 0);
                }
            }
        }
        "buildBetaDetails" => {
            e.check_known(&["autoNotifyEnabled"], &[])?;
            let notify = e.boolean("autoNotifyEnabled")?;
            let r = ctx
                .store
                .get_mut(kind, id)
                .ok_or_else(|| ApiError::not_found(kind, id))?;
            if let Some(n) = notify {
                r.attrs.insert("autoNotifyEnabled".into(), json!(n));
            }
        }
        "betaBuildLocalizations" => {
            if e.attrs.contains_key("locale") {
                return Err(ApiError::attribute(
                    "ENTITY_ERROR.ATTRIBUTE.UNKNOWN",
                    "locale",
                    "The attribute 'locale' can not be included in this request",
                ));
            }
            e.check_known(&["whatsNew"], &[])?;
            let whats_new = e.string("whatsNew", false)?;
            let r = ctx
                .store
                .get_mut(kind, id)
                .ok_or_else(|| ApiError::not_found(kind, id))?;
            insert_opt(r, "whatsNew", whats_new);
        }
        "reviewSubmissions" => {
            e.check_known(&["platform", "submitted", "canceled"], &[])?;
            let platform = e.one_of("platform", PLATFORMS, false)?;
            let submitted = e.boolean("submitted")?;
            let canceled = e.boolean("canceled")?;
            let has_items = ctx.store.table("reviewSubmissionItems").is_some_and(|t| {
                t.iter()
                    .any(|i| i.one.get("reviewSubmission").is_some_and(|s| s == id))
            });
            if submitted == Some(true) && !has_items {
                return Err(ApiError::new(
                    409,
                    STATE_INVALID,
                    "The request cannot be fulfilled because of the state of another resource.",
                    "The review submission has no items to submit",
                ));
            }
            let r = ctx
                .store
                .get_mut(kind, id)
                .ok_or_else(|| ApiError::not_found(kind, id))?;
            insert_opt(r, "platform", platform);
            if submitted == Some(true) {
                r.attrs.insert("state".into(), json!("WAITING_FOR_REVIEW"));
                r.attrs.insert("submittedDate".into(), json!(now));
            }
            if canceled == Some(true) {
                // Apple passes through CANCELING; the emulator lands at once.
                r.attrs.insert("state".into(), json!("COMPLETE"));
            }
        }
        _ => return Err(ApiError::method()),
    }
    let r = ctx
        .store
        .get(kind, id)
        .ok_or_else(|| ApiError::not_found(kind, id))?;
    let view = View::new(ctx.store, kind, &Query::default())?;
    let self_url = format!("{}/v1/{kind}/{id}", ctx.store.base_url);
    Ok(Reply::Json(200, view.document(kind, Some(r), &self_url)))
}

fn delete(ctx: Ctx<'_>, kind: &'static str, id: &str) -> Result<Reply, ApiError> {
    if kind != "buildUploads" {
        return Err(ApiError::method());
    }
    let upload = ctx
        .store
        .get(kind, id)
        .ok_or_else(|| ApiError::not_found(kind, id))?;
    if upload_state(upload) == Some("COMPLETE") {
        return Err(ApiError::new(
            409,
            STATE_INVALID,
            "The request cannot be fulfilled because of the state of another resource.",
            "A completed build upload cannot be deleted",
        ));
    }
    ctx.store.table_mut(kind).remove(id);
    let files: Vec<String> = ctx
        .store
        .table("buildUploadFiles")
        .map(|t| {
            t.iter()
                .filter(|f| f.one.get("buildUpload").is_some_and(|u| u == id))
                .map(|f| f.id.clone())
                .collect()
        })
        .unwrap_or_default();
    for file in files {
        ctx.store.table_mut("buildUploadFiles").remove(&file);
        ctx.store.parts.remove(&file);
    }
    ctx.store.polls.remove(id);
    Ok(Reply::NoContent)
}

/// `POST /v1/betaGroups/{id}/relationships/builds` and `POST /v1/builds/{id}/relationships/betaGroups`.
fn link_many(ctx: Ctx<'_>, kind: &'static str, id: &str, rel: &str) -> Result<Reply, ApiError> {
    let (target, pairs_kind) = match (kind, rel) {
        ("betaGroups", "builds") => ("builds", true),
        ("builds", "betaGroups") => ("betaGroups", false),
        _ => return Err(ApiError::method()),
    };
    if ctx.store.get(kind, id).is_none() {
        return Err(ApiError::not_found(kind, id));
    }
    let data = ctx
        .body
        .as_ref()
        .and_then(|b| b.get("data"))
        .and_then(Value::as_array)
        .ok_or_else(no_body)?;
    let mut ids = Vec::new();
    for item in data {
        let other = linkage_id(item, target, rel)?;
        if ctx.store.get(target, &other).is_none() {
            return Err(ApiError::relationship(
                "ENTITY_ERROR.RELATIONSHIP.INVALID",
                rel,
                format!("There is no resource of type '{target}' with id '{other}'"),
            ));
        }
        ids.push(other);
    }
    let app = app_of(ctx.store, kind, id)?;
    for other in ids {
        let (group, build) = if pairs_kind {
            (id.to_string(), other)
        } else {
            (other, id.to_string())
        };
        check_build_of_app(ctx.store, &build, &app, rel)?;
        if let Some(g) = ctx.store.get_mut("betaGroups", &group) {
            let builds = g.many.entry("builds").or_default();
            if !builds.contains(&build) {
                builds.push(build);
            }
        }
    }
    Ok(Reply::NoContent)
}

/// Moves every PROCESSING upload to COMPLETE (creating its build); returns their ids.
pub(crate) fn advance_all(store: &mut Store, now: DateTime<Utc>) -> Vec<String> {
    let ids: Vec<String> = store
        .table("buildUploads")
        .map(|t| {
            t.iter()
                .filter(|u| upload_state(u) == Some("PROCESSING"))
                .map(|u| u.id.clone())
                .collect()
        })
        .unwrap_or_default();
    for id in &ids {
        store.complete_upload(id, now);
    }
    ids
}

/// Ends an upload in FAILED with one error (an ITMS code, as Apple reports validation failures).
pub(crate) fn fail_upload(store: &mut Store, id: &str, code: &str, description: &str) -> bool {
    let Some(upload) = store.get_mut("buildUploads", id) else {
        return false;
    };
    if upload_state(upload) == Some("COMPLETE") {
        return false;
    }
    set_upload_state(
        upload,
        "FAILED",
        vec![json!({"code": code, "description": description})],
    );
    store.polls.remove(id);
    true
}
