//! Reading an Xcode `project.pbxproj`: the OpenStep property-list text (`{ key = value; }`, `( a, b, )`, quoted
//! and bare strings, `/* */` and `//` comments), kept with the byte span of every string so a value can be replaced
//! in place, and the parts of the object graph that decide a build setting (`shared/reference/xcode-build-settings.md`
//! §2, §4, §5): the project's and each native target's build configurations, their `buildSettings`, and the file each
//! configuration takes as its base xcconfig.
//!
//! The text is untrusted: nesting is bounded ([`MAX_NESTING`]), an unterminated string or comment is an error with
//! the byte offset, and a reference to an object that does not exist is a problem reported for that configuration,
//! never a panic.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};

/// Deepest nesting of dictionaries and arrays accepted (real projects use 4).
pub const MAX_NESTING: usize = 64;
/// Deepest chain of groups followed when locating a file (real projects use under 20).
const MAX_GROUP_DEPTH: usize = 128;

/// A parsed value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A string with the byte span of its token in the text (quotes included when quoted).
    Str(String, Range<usize>),
    /// A dictionary, in file order.
    Dict(Vec<(String, Value)>),
    /// An array.
    Array(Vec<Value>),
    /// `<…>` data (never a build setting; kept opaque).
    Data,
}

impl Value {
    fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s, _) => Some(s),
            _ => None,
        }
    }

    fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }

    fn ids(&self, key: &str) -> Vec<&str> {
        match self.get(key) {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }
}

/// Why a pbxproj text does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a project.pbxproj: {what} at byte {offset}")]
pub struct SyntaxError {
    /// What was found.
    pub what: String,
    /// Where.
    pub offset: usize,
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn err<T>(&self, what: impl Into<String>) -> Result<T, SyntaxError> {
        Err(SyntaxError {
            what: what.into(),
            offset: self.pos,
        })
    }

    fn skip_trivia(&mut self) -> Result<(), SyntaxError> {
        let bytes = self.text.as_bytes();
        loop {
            while self.pos < bytes.len() && bytes[self.pos].is_ascii_whitespace() {
                self.pos += 1;
            }
            let rest = &self.text[self.pos..];
            if rest.starts_with("//") {
                self.pos += rest.find('\n').unwrap_or(rest.len());
            } else if let Some(body) = rest.strip_prefix("/*") {
                match body.find("*/") {
                    Some(end) => self.pos += end + 4,
                    None => return self.err("an unterminated comment"),
                }
            } else {
                return Ok(());
            }
        }
    }

    fn peek(&mut self) -> Result<Option<u8>, SyntaxError> {
        self.skip_trivia()?;
        Ok(self.text.as_bytes().get(self.pos).copied())
    }

    fn expect(&mut self, byte: u8) -> Result<(), SyntaxError> {
        if self.peek()? == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            self.err(format!("expected `{}`", byte as char))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, SyntaxError> {
        if depth > MAX_NESTING {
            return self.err(format!("nesting deeper than {MAX_NESTING} levels"));
        }
        match self.peek()? {
            Some(b'{') => {
                self.pos += 1;
                let mut entries = Vec::new();
                loop {
                    if self.peek()? == Some(b'}') {
                        self.pos += 1;
                        return Ok(Value::Dict(entries));
                    }
                    let key = match self.value(depth + 1)? {
                        Value::Str(s, _) => s,
                        _ => return self.err("a key that is not a string"),
                    };
                    self.expect(b'=')?;
                    let value = self.value(depth + 1)?;
                    self.expect(b';')?;
                    entries.push((key, value));
                }
            }
            Some(b'(') => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    if self.peek()? == Some(b')') {
                        self.pos += 1;
                        return Ok(Value::Array(items));
                    }
                    items.push(self.value(depth + 1)?);
                    match self.peek()? {
                        Some(b',') => self.pos += 1,
                        Some(b')') => {}
                        _ => return self.err("expected `,` or `)`"),
                    }
                }
            }
            Some(b'"') => self.quoted(),
            Some(b'<') => match self.text[self.pos..].find('>') {
                Some(end) => {
                    self.pos += end + 1;
                    Ok(Value::Data)
                }
                None => self.err("unterminated data"),
            },
            Some(_) => {
                let start = self.pos;
                let bytes = self.text.as_bytes();
                while self.pos < bytes.len() && is_bare(bytes[self.pos]) {
                    self.pos += 1;
                }
                if self.pos == start {
                    return self.err(format!(
                        "unexpected {:?}",
                        self.text[start..].chars().next().unwrap_or(' ')
                    ));
                }
                Ok(Value::Str(
                    self.text[start..self.pos].to_owned(),
                    start..self.pos,
                ))
            }
            None => self.err("unexpected end of file"),
        }
    }

    fn quoted(&mut self) -> Result<Value, SyntaxError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.text[self.pos..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos += i + 1;
                    return Ok(Value::Str(out, start..self.pos));
                }
                '\\' => match chars.next() {
                    Some((_, 'n')) => out.push('\n'),
                    Some((_, 't')) => out.push('\t'),
                    Some((_, e)) => out.push(e),
                    None => break,
                },
                c => out.push(c),
            }
        }
        self.pos = start;
        self.err("an unterminated string")
    }
}

fn is_bare(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$' | b'/' | b':' | b'.' | b'-' | b'+')
}

/// Parses the whole text as one value (the top-level dictionary).
pub fn parse(text: &str) -> Result<Value, SyntaxError> {
    let mut parser = Parser { text, pos: 0 };
    let value = parser.value(0)?;
    if parser.peek()?.is_some() {
        return parser.err("text after the top-level dictionary");
    }
    Ok(value)
}

/// A string as a pbxproj token: bare when every character allows it, else quoted with `"` and `\` escaped.
pub fn quote(value: &str) -> String {
    if !value.is_empty() && value.bytes().all(is_bare) && !value.contains("//") {
        value.to_owned()
    } else {
        let mut out = String::from("\"");
        for c in value.chars() {
            match c {
                '"' | '\\' => {
                    out.push('\\');
                    out.push(c);
                }
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }
}

/// One entry of a configuration's `buildSettings`: `KEY[sdk=iphoneos*] = value;`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The name without its conditions.
    pub key: String,
    /// `[name=pattern]` conditions, in order.
    pub conditions: Vec<(String, String)>,
    /// The value (an array's items joined by spaces).
    pub value: String,
    /// The value token's byte span when it is a single string (an array cannot be edited).
    pub span: Option<Range<usize>>,
}

/// Where a configuration's base xcconfig is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseConfig {
    /// None set.
    None,
    /// This file (absolute path; may not exist).
    File(PathBuf),
    /// Set, but not to a file ipagate can locate; the reason.
    Unlocatable(String),
}

/// An `XCBuildConfiguration`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Configuration {
    /// `Debug`, `Release`, …
    pub name: String,
    /// Its `buildSettings`, in file order.
    pub settings: Vec<Setting>,
    /// Its base xcconfig.
    pub base: BaseConfig,
}

/// A script phase's name and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptPhase {
    /// The phase's name (`Run Script` when unnamed).
    pub name: String,
    /// The script.
    pub script: String,
}

/// A `PBXNativeTarget` (or aggregate/legacy target, with an empty product type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `name`.
    pub name: String,
    /// `productType` (`com.apple.product-type.application`, …).
    pub product_type: String,
    /// Its configurations.
    pub configurations: Vec<Configuration>,
    /// Its shell-script build phases.
    pub scripts: Vec<ScriptPhase>,
}

/// The parts of a project that decide build settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// The folder `$(SRCROOT)` / `$(PROJECT_DIR)` name (absolute).
    pub srcroot: PathBuf,
    /// The `.xcodeproj` name without extension (`$(PROJECT_NAME)`).
    pub name: String,
    /// The project-level configurations.
    pub configurations: Vec<Configuration>,
    /// Every target, in the project's order.
    pub targets: Vec<Target>,
}

/// Why a project cannot be read as one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProjectError {
    /// The text does not parse.
    #[error(transparent)]
    Syntax(#[from] SyntaxError),
    /// The object graph lacks something every project has.
    #[error("{0}")]
    Graph(String),
}

struct Objects<'a> {
    map: HashMap<&'a str, &'a Value>,
    parents: HashMap<&'a str, &'a str>,
}

impl<'a> Objects<'a> {
    fn get(&self, id: &str) -> Option<&'a Value> {
        self.map.get(id).copied()
    }
}

/// Reads `text` (the content of `<srcroot>/<name>.xcodeproj/project.pbxproj`).
pub fn read_project(text: &str, xcodeproj_dir: &Path) -> Result<Project, ProjectError> {
    let root = parse(text)?;
    let graph = |what: &str| ProjectError::Graph(format!("not a project.pbxproj: {what}"));
    let Some(Value::Dict(entries)) = root.get("objects") else {
        return Err(graph("no `objects` dictionary"));
    };
    let map: HashMap<&str, &Value> = entries.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut parents = HashMap::new();
    for (id, object) in entries {
        for child in object.ids("children") {
            parents.insert(child, id.as_str());
        }
    }
    let objects = Objects { map, parents };
    let project = root
        .get_str("rootObject")
        .and_then(|id| objects.get(id))
        .ok_or_else(|| graph("`rootObject` names no object"))?;
    let parent = xcodeproj_dir.parent().unwrap_or(Path::new(""));
    let srcroot = match project.get_str("projectDirPath") {
        Some(dir) if !dir.is_empty() && !Path::new(dir).is_absolute() => {
            normalize(&parent.join(dir))
        }
        _ => parent.to_owned(),
    };
    let name = xcodeproj_dir
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let project_configurations = configurations(&objects, project, &srcroot);
    let targets = project
        .ids("targets")
        .into_iter()
        .filter_map(|id| objects.get(id))
        .map(|target| Target {
            name: target.get_str("name").unwrap_or("").to_owned(),
            product_type: target.get_str("productType").unwrap_or("").to_owned(),
            configurations: configurations(&objects, target, &srcroot),
            scripts: target
                .ids("buildPhases")
                .into_iter()
                .filter_map(|id| objects.get(id))
                .filter(|phase| phase.get_str("isa") == Some("PBXShellScriptBuildPhase"))
                .map(|phase| ScriptPhase {
                    name: phase.get_str("name").unwrap_or("Run Script").to_owned(),
                    script: phase.get_str("shellScript").unwrap_or("").to_owned(),
                })
                .collect(),
        })
        .collect();
    Ok(Project {
        srcroot,
        name,
        configurations: project_configurations,
        targets,
    })
}

fn configurations(objects: &Objects<'_>, owner: &Value, srcroot: &Path) -> Vec<Configuration> {
    let Some(list) = owner
        .get_str("buildConfigurationList")
        .and_then(|id| objects.get(id))
    else {
        return Vec::new();
    };
    list.ids("buildConfigurations")
        .into_iter()
        .filter_map(|id| objects.get(id))
        .map(|config| Configuration {
            name: config.get_str("name").unwrap_or("").to_owned(),
            settings: settings(config.get("buildSettings")),
            base: base_config(objects, config, srcroot),
        })
        .collect()
}

fn settings(value: Option<&Value>) -> Vec<Setting> {
    let Some(Value::Dict(entries)) = value else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|(raw_key, value)| {
            let (key, conditions) = split_conditions(raw_key)?;
            let (value, span) = match value {
                Value::Str(s, span) => (s.clone(), Some(span.clone())),
                Value::Array(items) => (
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(" "),
                    None,
                ),
                _ => return None,
            };
            Some(Setting {
                key,
                conditions,
                value,
                span,
            })
        })
        .collect()
}

/// `KEY[sdk=iphoneos*][config=Release]` → (`KEY`, conditions); `None` for a malformed key.
pub fn split_conditions(raw: &str) -> Option<(String, Vec<(String, String)>)> {
    let raw = raw.trim();
    let (key, mut rest) = match raw.find('[') {
        Some(i) => (&raw[..i], &raw[i..]),
        None => (raw, ""),
    };
    let key = key.trim();
    if key.is_empty() {
        return None;
    }
    let mut conditions = Vec::new();
    while let Some(inner) = rest.strip_prefix('[') {
        let end = inner.find(']')?;
        let (name, pattern) = inner[..end].split_once('=')?;
        conditions.push((name.trim().to_owned(), pattern.trim().to_owned()));
        rest = inner[end + 1..].trim_start();
    }
    if !rest.is_empty() {
        return None;
    }
    Some((key.to_owned(), conditions))
}

fn base_config(objects: &Objects<'_>, config: &Value, srcroot: &Path) -> BaseConfig {
    if let Some(id) = config.get_str("baseConfigurationReference") {
        return match file_path(objects, id, srcroot, 0) {
            Ok(path) => BaseConfig::File(path),
            Err(why) => BaseConfig::Unlocatable(why),
        };
    }
    // Xcode 16 synchronised folders: an anchor group and a path relative to its folder.
    if let Some(anchor) = config.get_str("baseConfigurationReferenceAnchor") {
        let relative = config
            .get_str("baseConfigurationReferenceRelativePath")
            .unwrap_or("");
        return match file_path(objects, anchor, srcroot, 0) {
            Ok(dir) => BaseConfig::File(normalize(&dir.join(relative))),
            Err(why) => BaseConfig::Unlocatable(why),
        };
    }
    BaseConfig::None
}

/// The absolute path of a file reference or group, following its parent groups (§4).
fn file_path(
    objects: &Objects<'_>,
    id: &str,
    srcroot: &Path,
    depth: usize,
) -> Result<PathBuf, String> {
    if depth > MAX_GROUP_DEPTH {
        return Err(format!(
            "groups nested deeper than {MAX_GROUP_DEPTH} levels"
        ));
    }
    let object = objects
        .get(id)
        .ok_or_else(|| format!("the project names object {id}, which does not exist"))?;
    let path = object.get_str("path").unwrap_or("");
    let tree = object.get_str("sourceTree").unwrap_or("<group>");
    let base = match tree {
        "<group>" => match objects.parents.get(id) {
            Some(parent) => file_path(objects, parent, srcroot, depth + 1)?,
            None => srcroot.to_owned(),
        },
        "SOURCE_ROOT" => srcroot.to_owned(),
        "<absolute>" => PathBuf::new(),
        other => {
            return Err(format!(
                "{} is relative to {other}, outside the project",
                if path.is_empty() { id } else { path }
            ));
        }
    };
    Ok(normalize(&base.join(path)))
}

/// `a/./b/../c` → `a/c` without touching the file system (paths in a project may not exist).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_spans_comments_and_quotes() {
        let text =
            "// !$*UTF8*$!\n{ a /* c */ = \"x \\\"y\\\"\"; b = (1, 2,); c = { d = \"$(E)\"; }; }";
        let v = parse(text).unwrap();
        let Some(Value::Str(s, span)) = v.get("a") else {
            panic!()
        };
        assert_eq!(s, "x \"y\"");
        assert_eq!(&text[span.clone()], "\"x \\\"y\\\"\"");
        assert_eq!(v.get("c").and_then(|c| c.get_str("d")), Some("$(E)"));
        assert_eq!(quote("42"), "42");
        assert_eq!(quote("$(A)"), "\"$(A)\"");
    }

    #[test]
    fn hostile_text_is_an_error() {
        assert!(parse("{ a = \"x; }").is_err());
        assert!(parse("{ /* open").is_err());
        assert!(parse(&"(".repeat(100_000)).is_err());
        assert!(parse("{ a = b; } junk").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn conditions() {
        assert_eq!(
            split_conditions("A[sdk=iphoneos*][config=Release]"),
            Some((
                "A".to_owned(),
                vec![
                    ("sdk".to_owned(), "iphoneos*".to_owned()),
                    ("config".to_owned(), "Release".to_owned())
                ]
            ))
        );
        assert_eq!(split_conditions("A[sdk"), None);
    }
}
