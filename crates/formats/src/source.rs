//! Facts about a source tree, for `ipagate lint` (pre-commit): icon sets (`*.appiconset`), and the
//! property lists that ship (`Info.plist`, `*.entitlements`, `PrivacyInfo.xcprivacy`).
//!
//! A source tree is not a package: nothing is built yet, so values may be build-setting
//! references (`$(PRODUCT_BUNDLE_IDENTIFIER)`, `${MARKETING_VERSION}`), a distinct kind of value
//! that is never judged as literal text, and keys Xcode writes at build time are absent.
//! Walks are bounded (depth, files) and skip build output and dependency folders.

use std::path::{Path, PathBuf};

use plist::{Dictionary, Value};

use crate::png;
pub use crate::textpos::Position;

/// Most files looked at in one walk.
const MAX_FILES: usize = 200_000;
/// Deepest folder walked.
const MAX_DEPTH: usize = 32;
/// Largest Contents.json / plist / icon PNG read.
const MAX_FILE: u64 = 32 << 20;
/// Folders never walked.
const SKIP_DIRS: &[&str] = &[
    ".git",
    "build",
    "DerivedData",
    "Pods",
    "Carthage",
    "node_modules",
    ".build",
    "target",
];

/// What kind of property list a source file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourcePlistKind {
    /// `Info.plist` (or `*-Info.plist`).
    InfoPlist,
    /// `*.entitlements`.
    Entitlements,
    /// `PrivacyInfo.xcprivacy`.
    PrivacyManifest,
}

/// A value in a source plist: literal text, or a build-setting reference resolved at build time.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "value")]
pub enum SourceValue {
    /// Literal text.
    Literal(String),
    /// Contains `$(NAME)` or `${NAME}`: judged after the build, not here.
    BuildSetting(String),
}

impl SourceValue {
    /// Classifies a string.
    pub fn of(s: &str) -> SourceValue {
        if s.contains("$(") || s.contains("${") {
            SourceValue::BuildSetting(s.to_string())
        } else {
            SourceValue::Literal(s.to_string())
        }
    }
}

/// A property list in the tree.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SourcePlist {
    /// Path as found.
    pub path: String,
    /// What it is.
    pub kind: SourcePlistKind,
    /// Why it is not a readable dictionary, if so.
    pub problem: Option<String>,
    /// `aps-environment` (entitlements).
    pub aps_environment: Option<SourceValue>,
    /// `CFBundleIdentifier` (Info.plist).
    pub bundle_id: Option<SourceValue>,
    /// The top-level keys, in file order (entitlements: what the unknown-key check reads).
    pub keys: Vec<String>,
    /// An Info.plist's typed keys, with every value that is (or contains) a build-setting
    /// reference left out: what the package rules may judge before a build.
    #[serde(skip)]
    pub info: Option<crate::InfoPlist>,
    /// A privacy manifest, read like the one in a package.
    #[serde(skip)]
    pub manifest: Option<crate::privacy::ManifestState>,
    /// Where each key is (XML property lists only; a binary one has no lines).
    #[serde(skip)]
    pub places: Vec<(String, Position)>,
}

impl SourcePlist {
    /// Line and column of a key path (or of its nearest enclosing key), when known.
    pub fn place(&self, key: &str) -> Option<Position> {
        place_of(&self.places, key, '.')
    }
}

/// One image of an icon set's `Contents.json`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SetImage {
    /// JSON pointer of the entry (`/images/3`).
    pub pointer: String,
    /// `filename`, if any (an empty slot has none).
    pub filename: Option<String>,
    /// `idiom` (`iphone`, `ipad`, `ios-marketing`, `universal`, `watch-marketing`, …).
    pub idiom: String,
    /// `platform` (`ios`, `watchos`, …) of Xcode 14+ single-size entries.
    pub platform: Option<String>,
    /// `size` in points (`83.5`).
    pub size: Option<f64>,
    /// `scale` (`2x` → 2); 1 when absent.
    pub scale: f64,
    /// Has `appearances` (dark/tinted variants).
    pub appearance_variant: bool,
    /// The file's pixel size, when it exists and reads.
    pub pixels: Option<(u32, u32)>,
    /// The file has an alpha channel (colour type 4/6 or `tRNS`; for CgBI, its flag).
    pub alpha: bool,
    /// Some pixel is actually transparent (decoded).
    pub transparent: bool,
    /// Why the file is missing or unreadable.
    pub problem: Option<String>,
}

impl SetImage {
    /// Pixels the entry promises (`size × scale`).
    pub fn promised(&self) -> Option<u32> {
        self.size.map(|s| (s * self.scale).round() as u32)
    }
}

/// An `*.appiconset` folder.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IconSet {
    /// The set folder.
    pub dir: String,
    /// `Contents.json` path.
    pub contents: String,
    /// Why `Contents.json` is unreadable, if so.
    pub problem: Option<String>,
    /// Its images.
    pub images: Vec<SetImage>,
    /// Where each value of `Contents.json` is, by JSON pointer.
    #[serde(skip)]
    pub places: Vec<(String, Position)>,
}

impl IconSet {
    /// Line and column of a JSON pointer (or of its nearest enclosing value), when known.
    pub fn place(&self, pointer: &str) -> Option<Position> {
        place_of(&self.places, pointer, '/')
    }
}

/// The place of `key`, or of the longest prefix of it (cut at `sep`) that has one.
fn place_of(places: &[(String, Position)], key: &str, sep: char) -> Option<Position> {
    let mut key = key;
    loop {
        if let Some((_, p)) = places.iter().find(|(k, _)| k == key) {
            return Some(*p);
        }
        key = &key[..key.rfind([sep, '['])?];
    }
}

/// Drops every string that is (or contains) a build-setting reference, at any depth: such a value
/// is decided by the build, so no rule may judge it as text.
fn without_build_settings(dict: &Dictionary) -> Dictionary {
    fn keep(v: &Value) -> Option<Value> {
        match v {
            Value::String(s) if matches!(SourceValue::of(s), SourceValue::BuildSetting(_)) => None,
            Value::Dictionary(d) => Some(Value::Dictionary(without_build_settings(d))),
            Value::Array(a) => Some(Value::Array(a.iter().filter_map(keep).collect())),
            other => Some(other.clone()),
        }
    }
    dict.iter()
        .filter_map(|(k, v)| keep(v).map(|v| (k.clone(), v)))
        .collect()
}

/// Device families an app target builds for (`TARGETED_DEVICE_FAMILY`: 1 iPhone, 2 iPad, …).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SourceTarget {
    /// The `project.pbxproj` it is read from.
    pub project: String,
    /// The folder the project's paths are relative to (`$(SRCROOT)`).
    pub srcroot: PathBuf,
    /// The target's name.
    pub name: String,
    /// `ASSETCATALOG_COMPILER_APPICON_NAME`: the icon set it compiles as its app icon.
    pub app_icon: String,
    /// The families of every configuration together, sorted (`[1]` when the setting is empty, as
    /// Xcode builds an iOS app for iPhone only then).
    pub families: Vec<u64>,
    /// Where the families come from (`App.xcodeproj (target App, Release)`), or `None` when
    /// the setting is set nowhere and the default applies.
    pub families_from: Option<String>,
}

impl SourceTarget {
    /// Parses a `TARGETED_DEVICE_FAMILY` value (`1,2`, `1, 2`, `2`); numbers that do not parse
    /// are dropped, an empty value is iPhone (Xcode's default for iOS).
    pub fn parse_families(value: &str) -> Vec<u64> {
        let mut out: Vec<u64> = value
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter_map(|f| f.trim().parse().ok())
            .collect();
        if value.trim().is_empty() {
            out.push(1);
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Whether this target's app icon is `set` (same name, and the set lies under the project).
    pub fn uses(&self, set: &IconSet) -> bool {
        let dir = Path::new(&set.dir);
        let name = dir.file_stem().and_then(|n| n.to_str()).unwrap_or("");
        name == self.app_icon
            && std::fs::canonicalize(dir).is_ok_and(|d| d.starts_with(&self.srcroot))
    }
}

/// Everything `lint` looked at.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SourceFacts {
    /// Icon sets.
    pub icon_sets: Vec<IconSet>,
    /// Property lists.
    pub plists: Vec<SourcePlist>,
    /// Paths given that do not exist.
    pub missing: Vec<String>,
    /// The iOS app targets of the Xcode projects around the icon sets ([`projects_near`]), with
    /// the families they build for. This crate does not resolve build settings: the caller fills
    /// it (the CLI, through `ipagate-bumper`); empty when unknown, and the icon-idiom check is
    /// then skipped.
    pub targets: Vec<SourceTarget>,
}

/// Deepest ancestor folder of an icon set looked at for an `.xcodeproj`.
const MAX_PROJECT_ASCENT: usize = 12;

/// The `project.pbxproj` files of the Xcode projects in the nearest folder above each icon set
/// that has any (looked for up to the repository root, the folder holding `.git`, or
/// [`MAX_PROJECT_ASCENT`] levels), sorted and deduplicated. Works whether `lint` walked a tree or was given staged files only.
pub fn projects_near(facts: &SourceFacts) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for set in &facts.icon_sets {
        let Ok(dir) = std::fs::canonicalize(&set.dir) else {
            continue;
        };
        for folder in dir.ancestors().skip(1).take(MAX_PROJECT_ASCENT) {
            let Ok(entries) = std::fs::read_dir(folder) else {
                continue;
            };
            let before = out.len();
            for e in entries.filter_map(Result::ok) {
                let path = e.path();
                let pbxproj = path.join("project.pbxproj");
                if path.extension().is_some_and(|x| x == "xcodeproj") && pbxproj.is_file() {
                    out.push(pbxproj);
                }
            }
            // The nearest folder with a project holds the set's project(s).
            if out.len() > before || folder.join(".git").exists() {
                break;
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Reads the facts of the given files and folders (folders are walked; a file inside an
/// `.appiconset` means its whole set; a `project.pbxproj` means every icon set of its project's
/// tree).
pub fn scan(paths: &[PathBuf]) -> SourceFacts {
    let mut files = Vec::new();
    let mut facts = SourceFacts::default();
    for p in paths {
        if p.is_dir() {
            walk(p, 0, &mut files);
        } else if p.exists() {
            files.push(p.clone());
        } else {
            facts.missing.push(p.display().to_string());
        }
    }
    let mut sets: Vec<PathBuf> = Vec::new();
    for f in &files {
        if is_pbxproj(f) {
            // A project file (pre-commit passes it when TARGETED_DEVICE_FAMILY changes): the
            // icon sets of its tree, whose required sizes follow its targets; not its plists.
            let root = f
                .parent()
                .and_then(Path::parent)
                .filter(|r| !r.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let mut inner = Vec::new();
            walk(root, 0, &mut inner);
            for g in &inner {
                if let Some(set) = g
                    .ancestors()
                    .find(|a| a.extension().is_some_and(|e| e == "appiconset"))
                    && !sets.iter().any(|s| s == set)
                {
                    sets.push(set.to_path_buf());
                }
            }
            continue;
        }
        if let Some(set) = f
            .ancestors()
            .find(|a| a.extension().is_some_and(|e| e == "appiconset"))
        {
            if !sets.iter().any(|s| s == set) {
                sets.push(set.to_path_buf());
            }
            continue;
        }
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let kind = if name == "Info.plist" || name.ends_with("-Info.plist") {
            Some(SourcePlistKind::InfoPlist)
        } else if name.ends_with(".entitlements") {
            Some(SourcePlistKind::Entitlements)
        } else if name == "PrivacyInfo.xcprivacy" {
            Some(SourcePlistKind::PrivacyManifest)
        } else {
            None
        };
        if let Some(kind) = kind {
            facts.plists.push(read_plist(f, kind));
        }
    }
    sets.sort();
    facts.icon_sets = sets.iter().map(|s| read_set(s)).collect();
    facts.plists.sort_by(|a, b| a.path.cmp(&b.path));
    facts
}

/// `<name>.xcodeproj/project.pbxproj`.
fn is_pbxproj(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == "project.pbxproj")
        && path
            .parent()
            .and_then(Path::extension)
            .is_some_and(|x| x == "xcodeproj")
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if depth > MAX_DEPTH || out.len() >= MAX_FILES {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let Ok(t) = e.file_type() else { continue };
        let path = e.path();
        if t.is_dir() {
            let name = e.file_name();
            if !SKIP_DIRS.iter().any(|s| name == *s) {
                walk(&path, depth + 1, out);
            }
        } else if t.is_file() && out.len() < MAX_FILES {
            out.push(path);
        }
    }
}

fn read_bounded(path: &Path) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.len() > MAX_FILE {
        return Err(format!("larger than {MAX_FILE} bytes"));
    }
    std::fs::read(path).map_err(|e| e.to_string())
}

fn read_plist(path: &Path, kind: SourcePlistKind) -> SourcePlist {
    let mut p = SourcePlist {
        path: path.display().to_string(),
        kind,
        problem: None,
        aps_environment: None,
        bundle_id: None,
        keys: Vec::new(),
        info: None,
        manifest: None,
        places: Vec::new(),
    };
    let bytes = match read_bounded(path) {
        Ok(b) => b,
        Err(e) => {
            p.problem = Some(e);
            return p;
        }
    };
    match crate::info_plist::parse_dictionary(&bytes) {
        Err(e) => p.problem = Some(e.0),
        Ok((format, d)) => {
            let text = |k: &str| d.get(k).and_then(Value::as_string).map(SourceValue::of);
            p.aps_environment = text("aps-environment");
            p.bundle_id = text("CFBundleIdentifier");
            p.keys = d.keys().cloned().collect();
            if let Ok(xml) = std::str::from_utf8(&bytes)
                && !bytes.starts_with(b"bplist")
            {
                p.places = crate::textpos::xml_plist_keys(xml);
            }
            match kind {
                SourcePlistKind::InfoPlist => {
                    p.info = Some(crate::InfoPlist::from_dictionary(
                        format,
                        without_build_settings(&d),
                    ));
                }
                SourcePlistKind::PrivacyManifest => {
                    use crate::privacy::ManifestState;
                    let path = p.path.clone();
                    p.manifest = Some(match crate::privacy::parse(&bytes) {
                        Ok(manifest) => ManifestState::Parsed { path, manifest },
                        Err(problem) => ManifestState::Unreadable { path, problem },
                    });
                }
                SourcePlistKind::Entitlements => {}
            }
        }
    }
    p
}

fn read_set(dir: &Path) -> IconSet {
    let contents = dir.join("Contents.json");
    let mut set = IconSet {
        dir: dir.display().to_string(),
        contents: contents.display().to_string(),
        problem: None,
        images: Vec::new(),
        places: Vec::new(),
    };
    let json: serde_json::Value = match read_bounded(&contents).and_then(|b| {
        let v = serde_json::from_slice(&b).map_err(|e| format!("not JSON: {e}"))?;
        if let Ok(text) = std::str::from_utf8(&b) {
            set.places = crate::textpos::json_pointers(text, 3);
        }
        Ok(v)
    }) {
        Ok(v) => v,
        Err(e) => {
            set.problem = Some(e);
            return set;
        }
    };
    let Some(images) = json.get("images").and_then(|v| v.as_array()) else {
        set.problem = Some("no \"images\" array".into());
        return set;
    };
    for (i, img) in images.iter().enumerate() {
        let s = |k: &str| img.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        let size = s("size").and_then(|v| v.split('x').next().and_then(|w| w.parse().ok()));
        let scale = s("scale")
            .and_then(|v| v.trim_end_matches('x').parse().ok())
            .unwrap_or(1.0);
        let mut image = SetImage {
            pointer: format!("/images/{i}"),
            filename: s("filename"),
            idiom: s("idiom").unwrap_or_default(),
            platform: s("platform"),
            size,
            scale,
            appearance_variant: img
                .get("appearances")
                .and_then(|v| v.as_array())
                .is_some_and(|a| !a.is_empty()),
            pixels: None,
            alpha: false,
            transparent: false,
            problem: None,
        };
        if let Some(name) = &image.filename {
            // Files are looked up inside the set only.
            if name.contains('/') || name.contains('\\') || name == ".." || name.is_empty() {
                image.problem = Some(format!("{name:?} names a file outside the icon set"));
            } else {
                match read_bounded(&dir.join(name)) {
                    Err(e) => image.problem = Some(format!("{name}: {e}")),
                    Ok(bytes) => match png::read_header(&bytes) {
                        Err(e) => image.problem = Some(format!("{name}: {e}")),
                        Ok(h) => {
                            image.pixels = Some((h.width, h.height));
                            image.alpha = h.has_alpha();
                            image.transparent = h.has_alpha()
                                && png::any_transparent_pixel(&bytes, 256 << 20).unwrap_or(true);
                        }
                    },
                }
            }
        }
        set.images.push(image);
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targeted_device_family_values() {
        assert_eq!(SourceTarget::parse_families("1,2"), [1, 2]);
        assert_eq!(SourceTarget::parse_families(" 2, 1 "), [1, 2]);
        assert_eq!(SourceTarget::parse_families("2"), [2]);
        // Set nowhere: Xcode builds an iOS app for iPhone.
        assert_eq!(SourceTarget::parse_families(""), [1]);
        assert_eq!(SourceTarget::parse_families("1,x"), [1]);
    }

    #[test]
    fn the_nearest_project_above_a_set_is_found() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        let set = root.join("App/Assets.xcassets/AppIcon.appiconset");
        std::fs::create_dir_all(&set).expect("mkdir");
        std::fs::write(set.join("Contents.json"), "{\"images\": []}").expect("write");
        let facts = scan(&[set.join("Contents.json")]);
        assert_eq!(facts.icon_sets.len(), 1);
        // No project anywhere up to the repository root.
        std::fs::create_dir_all(root.join(".git")).expect("mkdir");
        assert!(projects_near(&facts).is_empty());
        // One at the root; a folder named .xcodeproj without a pbxproj is not one.
        std::fs::create_dir_all(root.join("App.xcodeproj")).expect("mkdir");
        std::fs::create_dir_all(root.join("Empty.xcodeproj")).expect("mkdir");
        std::fs::write(root.join("App.xcodeproj/project.pbxproj"), "{}").expect("write");
        let found = projects_near(&facts);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].ends_with("App.xcodeproj/project.pbxproj"));
        // A nearer one wins.
        std::fs::create_dir_all(root.join("App/Inner.xcodeproj")).expect("mkdir");
        std::fs::write(root.join("App/Inner.xcodeproj/project.pbxproj"), "{}").expect("write");
        let found = projects_near(&facts);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].ends_with("Inner.xcodeproj/project.pbxproj"));
    }
}
