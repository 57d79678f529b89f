//! Validation of request and response bodies against Apple's OpenAPI spec (feature `conformance`).
//!
//! The spec is a trimmed copy of Apple's App Store Connect OpenAPI 4.4.1 with only the
//! operations the emulator serves and the schemas they reach, embedded from
//! `tests/data/openapi-trimmed.json` (made by `tests/data/trim-openapi.py`). The validator covers
//! the subset of JSON Schema the spec uses: `$ref`, `type`, `nullable`, `enum`, `properties`,
//! `required`, `additionalProperties`, `items`, `oneOf` (with `discriminator`), `anyOf`, `allOf`,
//! `minimum` / `maximum` and `format: date-time`. Unknown properties are allowed unless a schema
//! says `additionalProperties: false`, as in the spec.
//!
//! ```
//! use ipagate_asc_emulator::conformance;
//! use serde_json::json;
//!
//! let body = json!({"data": {"type": "buildUploads",
//!     "attributes": {"cfBundleShortVersionString": "1.2.3", "cfBundleVersion": "42", "platform": "IOS"},
//!     "relationships": {"app": {"data": {"type": "apps", "id": "1234567890"}}}}});
//! assert!(conformance::validate_request("POST", "/v1/buildUploads", &body).is_ok());
//! assert_eq!(conformance::path_template("/v1/builds/abc/app"), Some("/v1/builds/{id}/app"));
//! ```

use std::sync::OnceLock;

use serde_json::Value;

const SPEC_TEXT: &str = include_str!("../tests/data/openapi-trimmed.json");
const MAX_DEPTH: usize = 64;

/// The trimmed spec (parsed once). `Value::Null` if the embedded file were unreadable.
pub fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| serde_json::from_str(SPEC_TEXT).unwrap_or(Value::Null))
}

/// The spec's path template for a concrete path (`/v1/builds/x` → `/v1/builds/{id}`); the query
/// string, if any, is ignored.
pub fn path_template(path: &str) -> Option<&'static str> {
    let path = path.split('?').next().unwrap_or(path);
    let wanted: Vec<&str> = path.split('/').collect();
    let paths = spec().get("paths")?.as_object()?;
    paths
        .keys()
        .find(|template| {
            let parts: Vec<&str> = template.split('/').collect();
            parts.len() == wanted.len()
                && parts
                    .iter()
                    .zip(&wanted)
                    .all(|(t, w)| (t.starts_with('{') && !w.is_empty()) || t == w)
        })
        .map(String::as_str)
}

fn operation(method: &str, template: &str) -> Result<&'static Value, Vec<String>> {
    spec()
        .get("paths")
        .and_then(|p| p.get(template))
        .and_then(|p| p.get(method.to_ascii_lowercase()))
        .ok_or_else(|| vec![format!("the spec has no operation {method} {template}")])
}

fn json_schema(node: &Value) -> Option<&Value> {
    node.get("content")?.get("application/json")?.get("schema")
}

/// Validates a request body of `method path_template` against the operation's request schema.
pub fn validate_request(
    method: &str,
    path_template: &str,
    body: &Value,
) -> Result<(), Vec<String>> {
    let op = operation(method, path_template)?;
    let schema = op
        .get("requestBody")
        .and_then(json_schema)
        .ok_or_else(|| vec![format!("{method} {path_template} takes no request body")])?;
    validate(schema, body)
}

/// Validates a response body against the schema the operation declares for `status`.
pub fn validate_response(
    method: &str,
    path_template: &str,
    status: u16,
    body: &Value,
) -> Result<(), Vec<String>> {
    let op = operation(method, path_template)?;
    let response = op
        .get("responses")
        .and_then(|r| r.get(status.to_string()))
        .ok_or_else(|| {
            vec![format!(
                "{method} {path_template} declares no {status} response"
            )]
        })?;
    match json_schema(response) {
        Some(schema) => {
            // Live answers carry `null` for unset attributes even where the spec does not say `nullable`
            // (reference §0): a response may, a request may not.
            NULL_ATTRIBUTES.with(|f| f.set(true));
            let result = validate(schema, body);
            NULL_ATTRIBUTES.with(|f| f.set(false));
            result
        }
        None if body.is_null() => Ok(()),
        None => Err(vec![format!(
            "{method} {path_template} {status} declares no body"
        )]),
    }
}

/// Validates `value` against `#/components/schemas/<name>`.
pub fn validate_schema(name: &str, value: &Value) -> Result<(), Vec<String>> {
    let schema = resolve(&format!("#/components/schemas/{name}"))
        .ok_or_else(|| vec![format!("the trimmed spec has no schema {name}")])?;
    validate(schema, value)
}

fn validate(schema: &Value, value: &Value) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    check(schema, value, "", &mut errors, 0);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn resolve(reference: &str) -> Option<&'static Value> {
    let name = reference.strip_prefix("#/components/schemas/")?;
    spec().get("components")?.get("schemas")?.get(name)
}

fn type_ok(kind: &str, value: &Value) -> bool {
    match kind {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        _ => true,
    }
}

thread_local! {
    static NULL_ATTRIBUTES: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// `…/attributes/<name>`: one attribute of a resource.
fn is_attribute(at: &str) -> bool {
    at.rsplit_once('/')
        .is_some_and(|(parent, _)| parent.ends_with("/attributes"))
}

fn check(schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>, depth: usize) {
    let here = if at.is_empty() { "/" } else { at };
    if value.is_null() && is_attribute(at) && NULL_ATTRIBUTES.with(std::cell::Cell::get) {
        return;
    }
    if depth > MAX_DEPTH {
        errors.push(format!("{here}: schema nesting too deep"));
        return;
    }
    let nullable = schema.get("nullable").and_then(Value::as_bool) == Some(true);
    if value.is_null() && nullable {
        return;
    }
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        match resolve(reference) {
            Some(target) => check(target, value, at, errors, depth + 1),
            None => errors.push(format!("{here}: unresolvable {reference}")),
        }
        return;
    }
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        one_of(schema, options, value, at, errors, depth);
        return;
    }
    if let Some(options) = schema.get("anyOf").and_then(Value::as_array) {
        let ok = options.iter().any(|o| {
            let mut e = Vec::new();
            check(o, value, at, &mut e, depth + 1);
            e.is_empty()
        });
        if !ok {
            errors.push(format!("{here}: matches none of anyOf"));
        }
        return;
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for s in all {
            check(s, value, at, errors, depth + 1);
        }
    }
    if let Some(kind) = schema.get("type").and_then(Value::as_str) {
        if value.is_null() {
            errors.push(format!(
                "{here}: null where {kind} is expected (not nullable)"
            ));
            return;
        }
        if !type_ok(kind, value) {
            errors.push(format!("{here}: expected {kind}, found {}", short(value)));
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        errors.push(format!(
            "{here}: {} is not one of the enum values",
            short(value)
        ));
    }
    if let Some(n) = value.as_f64() {
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
            && n < min
        {
            errors.push(format!("{here}: {n} is below the minimum {min}"));
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
            && n > max
        {
            errors.push(format!("{here}: {n} is above the maximum {max}"));
        }
    }
    if schema.get("format").and_then(Value::as_str) == Some("date-time")
        && let Some(s) = value.as_str()
        && chrono::DateTime::parse_from_rfc3339(s).is_err()
    {
        errors.push(format!("{here}: {s:?} is not an RFC 3339 date-time"));
    }
    if let Some(object) = value.as_object() {
        let properties = schema.get("properties").and_then(Value::as_object);
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for name in required.iter().filter_map(Value::as_str) {
                if !object.contains_key(name) {
                    errors.push(format!("{here}: missing required property {name:?}"));
                }
            }
        }
        for (key, item) in object {
            let path = format!("{at}/{key}");
            match properties.and_then(|p| p.get(key)) {
                Some(sub) => check(sub, item, &path, errors, depth + 1),
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        errors.push(format!("{path}: property not allowed by the schema"))
                    }
                    Some(sub @ Value::Object(_)) => check(sub, item, &path, errors, depth + 1),
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            check(items, item, &format!("{at}/{i}"), errors, depth + 1);
        }
    }
}

fn one_of(
    schema: &Value,
    options: &[Value],
    value: &Value,
    at: &str,
    errors: &mut Vec<String>,
    depth: usize,
) {
    let here = if at.is_empty() { "/" } else { at };
    if let Some(discriminator) = schema.get("discriminator") {
        let property = discriminator
            .get("propertyName")
            .and_then(Value::as_str)
            .unwrap_or("type");
        let tag = value.get(property).and_then(Value::as_str).unwrap_or("");
        match discriminator
            .get("mapping")
            .and_then(|m| m.get(tag))
            .and_then(Value::as_str)
            .and_then(resolve)
        {
            Some(target) => check(target, value, at, errors, depth + 1),
            None => errors.push(format!(
                "{here}: {property} {tag:?} is not one of the allowed types"
            )),
        }
        return;
    }
    let matching = options
        .iter()
        .filter(|o| {
            let mut e = Vec::new();
            check(o, value, at, &mut e, depth + 1);
            e.is_empty()
        })
        .count();
    if matching != 1 {
        errors.push(format!(
            "{here}: matches {matching} of the oneOf schemas, not exactly 1"
        ));
    }
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}
