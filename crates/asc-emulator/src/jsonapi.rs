//! JSON:API as App Store Connect speaks it: query parameters (`filter[...]`, `sort`, `include`,
//! `fields[...]`, `limit`, `cursor`), resource rendering with absolute links, paged documents and
//! Apple's error bodies (`app-store-connect.md` §2, §9).

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::DateTime;
use serde_json::{Map, Value, json};

use crate::store::{RelDef, RelKind, Resource, Store, rels_of};

/// Apple's page size when `limit` is absent.
pub(crate) const DEFAULT_LIMIT: usize = 50;
/// The largest `limit` Apple accepts.
pub(crate) const MAX_LIMIT: usize = 200;
/// At most this many related ids are shown in a to-many relationship's `data`.
const MAX_INCLUDED_PER_RELATIONSHIP: usize = 50;

/// An error answer (`{"errors":[...]}`).
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: u16,
    pub code: String,
    pub title: String,
    pub detail: String,
    /// Boxed: a `Value` object is an `IndexMap` (serde_json's `preserve_order`), which would make every
    /// `Result<_, ApiError>` large.
    pub source: Option<Box<Value>>,
    pub retry_after: Option<u32>,
}

impl ApiError {
    pub fn new(status: u16, code: &str, title: &str, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.to_string(),
            title: title.to_string(),
            detail: detail.into(),
            source: None,
            retry_after: None,
        }
    }

    pub fn parameter(name: &str, detail: impl Into<String>) -> ApiError {
        ApiError {
            source: Some(Box::new(json!({"parameter": name}))),
            ..ApiError::new(
                400,
                "PARAMETER_ERROR.INVALID",
                "A parameter has an invalid value",
                detail,
            )
        }
    }

    pub fn not_found(kind: &str, id: &str) -> ApiError {
        ApiError::new(
            404,
            "NOT_FOUND",
            "The specified resource does not exist",
            format!("There is no resource of type '{kind}' with id '{id}'"),
        )
    }

    pub fn no_path() -> ApiError {
        ApiError::new(
            404,
            "NOT_FOUND",
            "The specified resource does not exist",
            "The path provided does not match a defined resource type.",
        )
    }

    pub fn method() -> ApiError {
        ApiError::new(
            405,
            "METHOD_NOT_ALLOWED",
            "The request method is not valid for the resource path.",
            "The request method is not valid for the resource path.",
        )
    }

    /// 409 for an attribute (`pointer` under `/data/attributes/`).
    pub fn attribute(code: &str, attribute: &str, detail: impl Into<String>) -> ApiError {
        let title = match code {
            "ENTITY_ERROR.ATTRIBUTE.REQUIRED" => {
                "The provided entity is missing a required attribute"
            }
            "ENTITY_ERROR.ATTRIBUTE.INVALID.DUPLICATE" => {
                "The provided entity includes an attribute with a value that has already been used"
            }
            _ => "The provided entity includes an attribute with an invalid value",
        };
        ApiError {
            source: Some(Box::new(
                json!({"pointer": format!("/data/attributes/{attribute}")}),
            )),
            ..ApiError::new(409, code, title, detail)
        }
    }

    /// 409 for a relationship (`pointer` under `/data/relationships/`).
    pub fn relationship(code: &str, name: &str, detail: impl Into<String>) -> ApiError {
        let title = if code.ends_with("REQUIRED") {
            "The provided entity is missing a required relationship"
        } else {
            "The provided entity includes a relationship with an invalid value"
        };
        ApiError {
            source: Some(Box::new(
                json!({"pointer": format!("/data/relationships/{name}")}),
            )),
            ..ApiError::new(409, code, title, detail)
        }
    }

    pub fn body(&self) -> Value {
        let mut error = json!({
            "status": self.status.to_string(),
            "code": self.code,
            "title": self.title,
            "detail": self.detail,
        });
        if let (Some(source), Some(obj)) = (&self.source, error.as_object_mut()) {
            obj.insert("source".into(), (**source).clone());
        }
        json!({"errors": [error]})
    }
}

/// The query string, decoded, in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Query {
    pub pairs: Vec<(String, String)>,
}

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        let pairs = raw
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Query { pairs }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Comma-separated values (`style: form, explode: false`).
    pub fn list(&self, key: &str) -> Vec<String> {
        self.get(key)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The query without `cursor`, plus a new one.
    fn with_cursor(&self, cursor: &str) -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.pairs.iter().filter(|(k, _)| k != "cursor") {
            out.append_pair(k, v);
        }
        out.append_pair("cursor", cursor);
        out.finish()
    }
}

/// What a list route accepts.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ListSpec {
    pub filters: &'static [&'static str],
    pub required: &'static [&'static str],
    pub sorts: &'static [&'static str],
    /// Attributes `exists[...]` may test.
    pub exists: &'static [&'static str],
    /// Match `filter[bundleId]` by prefix.
    pub loose_bundle_id: bool,
}

/// Rendering options from the query: sparse fieldsets and includes.
pub(crate) struct View<'a> {
    pub store: &'a Store,
    pub base: &'a str,
    fields: HashMap<String, BTreeSet<String>>,
    include: Vec<String>,
}

impl<'a> View<'a> {
    /// Reads `fields[...]` and `include` for a primary resource of type `kind`.
    pub fn new(store: &'a Store, kind: &str, query: &Query) -> Result<View<'a>, ApiError> {
        let mut fields = HashMap::new();
        for (key, _) in &query.pairs {
            if let Some(t) = key
                .strip_prefix("fields[")
                .and_then(|k| k.strip_suffix(']'))
            {
                fields.insert(t.to_string(), query.list(key).into_iter().collect());
            }
        }
        let include = query.list("include");
        let rels = rels_of(kind).unwrap_or(&[]);
        for name in &include {
            if !rels.iter().any(|r| r.name == name.as_str()) {
                return Err(ApiError::parameter(
                    "include",
                    format!("'{name}' is not a valid relationship name"),
                ));
            }
        }
        Ok(View {
            store,
            base: &store.base_url,
            fields,
            include,
        })
    }

    fn shows(&self, kind: &str, name: &str) -> bool {
        self.fields.get(kind).is_none_or(|f| f.contains(name))
    }

    /// One resource object.
    pub fn resource(&self, kind: &str, r: &Resource, primary: bool) -> Value {
        let mut attrs = Map::new();
        let known = crate::store::attributes_of(kind);
        for name in known {
            if self.shows(kind, name) {
                let value = r.attrs.get(*name).cloned().unwrap_or(Value::Null);
                attrs.insert((*name).to_owned(), value);
            }
        }
        for (name, value) in &r.attrs {
            if !value.is_null() && !known.contains(&name.as_str()) && self.shows(kind, name) {
                attrs.insert(name.clone(), value.clone());
            }
        }
        let own = format!("{}/v1/{kind}/{}", self.base, r.id);
        let mut rels = Map::new();
        // Sparse fieldsets trim attributes only: relationship links stay, because clients such
        // as codemagic-cli-tools follow `links.related` even when their `fields[...]` omit it.
        for rel in rels_of(kind).unwrap_or(&[]) {
            let mut obj = Map::new();
            if rel.links {
                obj.insert(
                    "links".into(),
                    json!({
                        "self": format!("{own}/relationships/{}", rel.name),
                        "related": format!("{own}/{}", rel.name),
                    }),
                );
            }
            let included = primary && self.include.iter().any(|i| i == rel.name);
            let to_one = matches!(rel.kind, RelKind::One | RelKind::OneReverse(_));
            // Linkage is looked up only when shown: reverse lookups scan a table, and a page of
            // 200 builds must not scan 10,000 uploads 200 times.
            let stored_data_only = !rel.links && matches!(rel.kind, RelKind::One);
            // An empty to-one shows no `data` at all: the spec never marks it nullable.
            if to_one && (included || stored_data_only) {
                if let Some(id) = self.store.related_ids(r, rel).first() {
                    obj.insert("data".into(), json!({"type": rel.target, "id": id}));
                }
            } else if !to_one && included {
                let ids = self.store.related_ids(r, rel);
                let data: Vec<Value> = ids
                    .iter()
                    .take(MAX_INCLUDED_PER_RELATIONSHIP)
                    .map(|id| json!({"type": rel.target, "id": id}))
                    .collect();
                obj.insert("data".into(), Value::Array(data));
            }
            if !obj.is_empty() {
                rels.insert(rel.name.into(), Value::Object(obj));
            }
        }
        for name in crate::store::linked_relationships_of(kind) {
            if !rels.contains_key(*name) {
                rels.insert(
                    (*name).to_owned(),
                    json!({"links": {
                        "self": format!("{own}/relationships/{name}"),
                        "related": format!("{own}/{name}"),
                    }}),
                );
            }
        }
        let mut out = json!({"type": kind, "id": r.id, "links": {"self": own}});
        if let Some(obj) = out.as_object_mut() {
            if !attrs.is_empty() {
                obj.insert("attributes".into(), Value::Object(attrs));
            }
            if !rels.is_empty() {
                obj.insert("relationships".into(), Value::Object(rels));
            }
        }
        out
    }

    /// The `included` array for `primaries` (deduplicated, in first-seen order).
    pub fn included(&self, kind: &str, primaries: &[&Resource]) -> Option<Vec<Value>> {
        if self.include.is_empty() {
            return None;
        }
        let rels: Vec<&RelDef> = rels_of(kind)
            .unwrap_or(&[])
            .iter()
            .filter(|r| self.include.iter().any(|i| i == r.name))
            .collect();
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for r in primaries {
            for rel in &rels {
                let ids = self.store.related_ids(r, rel);
                for id in ids.iter().take(MAX_INCLUDED_PER_RELATIONSHIP) {
                    if seen.insert((rel.target, id.clone()))
                        && let Some(target) = self.store.get(rel.target, id)
                    {
                        out.push(self.resource(rel.target, target, false));
                    }
                }
            }
        }
        Some(out)
    }

    /// A single-resource document; `None` renders `data: null`.
    pub fn document(&self, kind: &str, r: Option<&Resource>, self_url: &str) -> Value {
        let mut doc = json!({
            "data": r.map(|r| self.resource(kind, r, true)).unwrap_or(Value::Null),
            "links": {"self": self_url},
        });
        if let (Some(r), Some(obj)) = (r, doc.as_object_mut())
            && let Some(included) = self.included(kind, &[r])
        {
            obj.insert("included".into(), Value::Array(included));
        }
        doc
    }
}

/// Rejects parameters a single-resource route does not take.
pub(crate) fn check_single_params(query: &Query) -> Result<(), ApiError> {
    for (key, _) in &query.pairs {
        let ok = key == "include" || key.starts_with("fields[") || key.starts_with("limit[");
        if !ok {
            return Err(unknown_parameter(key));
        }
    }
    Ok(())
}

fn unknown_parameter(key: &str) -> ApiError {
    ApiError::parameter(
        key,
        format!("The parameter '{key}' can not be used with this request"),
    )
}

/// The value a filter compares for `resource` under `key` (`name` or `rel.attribute`).
fn filter_values(store: &Store, kind: &str, r: &Resource, key: &str) -> Vec<String> {
    if key == "id" {
        return vec![r.id.clone()];
    }
    let rels = rels_of(kind).unwrap_or(&[]);
    let (head, tail) = match key.split_once('.') {
        Some((h, t)) => (h, Some(t)),
        None => (key, None),
    };
    let rel_ids = || -> Vec<String> {
        if let Some(rel) = rels.iter().find(|x| x.name == head) {
            store.related_ids(r, rel)
        } else {
            r.one.get(head).cloned().into_iter().collect()
        }
    };
    match tail {
        Some(attribute) => {
            let target = rels
                .iter()
                .find(|x| x.name == head)
                .map(|x| x.target)
                .unwrap_or("");
            rel_ids()
                .iter()
                .filter_map(|id| store.get(target, id))
                .filter_map(|t| t.attrs.get(attribute).and_then(scalar))
                .collect()
        }
        None => match r.attrs.get(head) {
            Some(value) => scalar(value).into_iter().collect(),
            None => rel_ids(),
        },
    }
}

/// A filterable / sortable scalar: strings as they are, booleans and numbers as text, a state
/// object (`{"state": ...}`) as its state.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Object(o) => o.get("state").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum SortKey {
    Missing,
    Time(i64),
    Text(String),
}

fn sort_key(store: &Store, kind: &str, r: &Resource, field: &str) -> SortKey {
    let values = if kind == "builds" && field == "preReleaseVersion" {
        filter_values(store, kind, r, "preReleaseVersion.version")
    } else {
        filter_values(store, kind, r, field)
    };
    match values.into_iter().next() {
        None => SortKey::Missing,
        Some(v) if field.ends_with("Date") => DateTime::parse_from_rfc3339(&v)
            .map(|d| SortKey::Time(d.timestamp_millis()))
            .unwrap_or(SortKey::Text(v)),
        // Like the real server: strings, so "9" sorts after "10" (app-store-connect.md §4.3).
        Some(v) => SortKey::Text(v),
    }
}

/// Filters, sorts and pages `candidates` of type `kind` into a list document.
pub(crate) fn list_document(
    store: &Store,
    kind: &str,
    candidates: Vec<&Resource>,
    query: &Query,
    spec: ListSpec,
    path: &str,
) -> Result<Value, ApiError> {
    let mut filters: Vec<(String, Vec<String>)> = Vec::new();
    let mut exists: Vec<(String, bool)> = Vec::new();
    for (key, value) in &query.pairs {
        if let Some(name) = key
            .strip_prefix("exists[")
            .and_then(|k| k.strip_suffix(']'))
        {
            if !spec.exists.contains(&name) {
                return Err(unknown_parameter(key));
            }
            let wanted = match value.as_str() {
                "true" => true,
                "false" => false,
                _ => {
                    return Err(ApiError::parameter(
                        key,
                        format!("'{value}' is not a valid value for '{key}': true or false"),
                    ));
                }
            };
            exists.push((name.to_string(), wanted));
        } else if let Some(name) = key
            .strip_prefix("filter[")
            .and_then(|k| k.strip_suffix(']'))
        {
            if !spec.filters.contains(&name) {
                return Err(unknown_parameter(key));
            }
            let values = query.list(key);
            if values.is_empty() {
                return Err(ApiError::parameter(key, format!("'{key}' needs a value")));
            }
            filters.push((name.to_string(), values));
        } else if !matches!(key.as_str(), "limit" | "cursor" | "sort" | "include")
            && !key.starts_with("fields[")
            && !key.starts_with("limit[")
        {
            return Err(unknown_parameter(key));
        }
    }
    for required in spec.required {
        if !filters.iter().any(|(n, _)| n == required) {
            let key = format!("filter[{required}]");
            return Err(ApiError {
                source: Some(Box::new(json!({"parameter": key}))),
                ..ApiError::new(
                    400,
                    "PARAMETER_ERROR.REQUIRED",
                    "A required parameter is missing",
                    format!("The parameter '{key}' is required"),
                )
            });
        }
    }
    let limit = match query.get("limit") {
        None => DEFAULT_LIMIT,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(ApiError::parameter(
                    "limit",
                    format!(
                        "'{v}' is not a valid value for 'limit': an integer from 1 to {MAX_LIMIT}"
                    ),
                ));
            }
        },
    };
    let offset = match query.get("cursor") {
        None => 0,
        Some(c) => decode_cursor(c).ok_or_else(|| {
            ApiError::parameter("cursor", "The cursor is not valid for this request")
        })?,
    };
    let mut sorts: Vec<(String, bool)> = Vec::new();
    for item in query.list("sort") {
        let (field, descending) = match item.strip_prefix('-') {
            Some(f) => (f.to_string(), true),
            None => (item.clone(), false),
        };
        if !spec.sorts.contains(&field.as_str()) {
            return Err(ApiError::parameter(
                "sort",
                format!("'{item}' is not a valid sort field for this request"),
            ));
        }
        sorts.push((field, descending));
    }
    let view = View::new(store, kind, query)?;

    let mut rows: Vec<&Resource> = candidates
        .into_iter()
        .filter(|r| {
            exists
                .iter()
                .all(|(name, wanted)| r.attrs.get(name).is_some_and(|v| !v.is_null()) == *wanted)
        })
        .filter(|r| {
            filters.iter().all(|(name, wanted)| {
                let have = filter_values(store, kind, r, name);
                have.iter().any(|h| {
                    wanted.iter().any(|w| {
                        if spec.loose_bundle_id && name == "bundleId" {
                            h.starts_with(w.as_str())
                        } else {
                            h == w
                        }
                    })
                })
            })
        })
        .collect();
    if !sorts.is_empty() {
        let mut keyed: Vec<(Vec<SortKey>, &Resource)> = rows
            .into_iter()
            .map(|r| {
                let keys = sorts
                    .iter()
                    .map(|(f, _)| sort_key(store, kind, r, f))
                    .collect();
                (keys, r)
            })
            .collect();
        keyed.sort_by(|(a, _), (b, _)| {
            for (i, (_, descending)) in sorts.iter().enumerate() {
                let ord = a.get(i).cmp(&b.get(i));
                let ord = if *descending { ord.reverse() } else { ord };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            Ordering::Equal
        });
        rows = keyed.into_iter().map(|(_, r)| r).collect();
    }
    let total = rows.len();
    let page: Vec<&Resource> = rows.iter().skip(offset).take(limit).copied().collect();
    let self_url = match query.pairs.is_empty() {
        true => format!("{}{path}", store.base_url),
        false => {
            let mut s = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in &query.pairs {
                s.append_pair(k, v);
            }
            format!("{}{path}?{}", store.base_url, s.finish())
        }
    };
    let mut links = json!({"self": self_url});
    let mut paging = json!({"total": total, "limit": limit});
    if offset.saturating_add(page.len()) < total {
        let cursor = encode_cursor(offset.saturating_add(limit));
        if let (Some(l), Some(p)) = (links.as_object_mut(), paging.as_object_mut()) {
            l.insert(
                "next".into(),
                json!(format!(
                    "{}{path}?{}",
                    store.base_url,
                    query.with_cursor(&cursor)
                )),
            );
            p.insert("nextCursor".into(), json!(cursor));
        }
    }
    let data: Vec<Value> = page.iter().map(|r| view.resource(kind, r, true)).collect();
    let mut doc = json!({"data": data, "links": links, "meta": {"paging": paging}});
    if let (Some(included), Some(obj)) = (view.included(kind, &page), doc.as_object_mut()) {
        obj.insert("included".into(), Value::Array(included));
    }
    Ok(doc)
}

/// Apple's cursors are base64 of `{"offset":"N"}`; clients must treat them as opaque.
fn encode_cursor(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("{{\"offset\":\"{offset}\"}}"))
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor.trim_end_matches('=')).ok()?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    value.get("offset")?.as_str()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip() {
        assert_eq!(encode_cursor(200), "eyJvZmZzZXQiOiIyMDAifQ");
        assert_eq!(decode_cursor(&encode_cursor(12345)), Some(12345));
        assert_eq!(decode_cursor("!!"), None);
        assert_eq!(decode_cursor("e30"), None);
    }
}
