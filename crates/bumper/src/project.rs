//! Writing a build number into a project: Info.plist `CFBundleVersion` (XML or binary, format kept), Flutter
//! `pubspec.yaml` `version: x.y.z+N`, Xcode `project.pbxproj` `CURRENT_PROJECT_VERSION` (every build configuration)
//! and `*.xcconfig`.
//!
//! Every file is read and its new content computed first; only when all of them succeed are they written, in two
//! phases: first every new content *and* a backup of every original goes into a temporary file in the target's own
//! directory (so the renames stay atomic); then the new files are renamed over the originals. An error while staging
//! removes every temporary file and changes nothing; a rename failing midway renames the backups back over the files
//! already replaced. Either way an error leaves the project as it was and no file is ever half-written. Values that are build-setting references (`$(CURRENT_PROJECT_VERSION)`) are
//! left alone with a [`Note`]: they follow the setting that is written.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::number::BuildNumber;

/// Options of [`apply`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyOptions {
    /// Compute and report, write nothing.
    pub dry_run: bool,
}

/// What kind of file changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// XML property list.
    InfoPlistXml,
    /// Binary property list.
    InfoPlistBinary,
    /// Flutter pubspec.
    Pubspec,
    /// Xcode project.
    Pbxproj,
    /// Build settings file.
    Xcconfig,
}

/// One file's change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    /// Path relative to the project directory.
    pub path: PathBuf,
    /// File kind.
    pub kind: ChangeKind,
    /// The key or setting (`CFBundleVersion`, `version`, `CURRENT_PROJECT_VERSION`).
    pub key: &'static str,
    /// Old values (distinct, in file order).
    pub old: Vec<String>,
    /// New value.
    pub new: String,
    /// How many places changed.
    pub occurrences: usize,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} {} -> {}",
            self.path.display(),
            self.key,
            self.old.join(", "),
            self.new
        )?;
        if self.occurrences > 1 {
            write!(f, " ({} places)", self.occurrences)?;
        }
        Ok(())
    }
}

/// Something left alone, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Note {
    /// Path relative to the project directory.
    pub path: PathBuf,
    /// The reason.
    pub message: String,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

/// What [`apply`] did (or would do with `dry_run`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ApplyReport {
    /// Changed files, sorted by path.
    pub changes: Vec<Change>,
    /// Files or places left alone.
    pub notes: Vec<Note>,
    /// Whether files were written.
    pub written: bool,
}

/// Why nothing was written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// The project directory is not a directory.
    #[error("{} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// Nothing to write into.
    #[error("no Info.plist, pubspec.yaml, project.pbxproj or .xcconfig with a build number found under {}", .0.display())]
    NothingFound(PathBuf),
    /// A file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A plist does not parse, or is hostile (nested too deep, expands too far).
    #[error("{}: {problem}", path.display())]
    BadPlist {
        /// The file.
        path: PathBuf,
        /// What is wrong, worded for one line (shown in the message, so not a `source`).
        problem: ipagate_formats::info_plist::PlistError,
    },
    /// The edited plist could not be serialised again.
    #[error("cannot encode {} as a property list", path.display())]
    EncodePlist {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: plist::Error,
    },
    /// The number is not one this file may hold (App Store Connect or Flutter would reject it).
    #[error("{}: will not write build number {number}: {reason}", path.display())]
    Unwritable {
        /// The file.
        path: PathBuf,
        /// The number.
        number: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// A file's content is not what its kind requires.
    #[error("{}: {reason}", path.display())]
    BadContent {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Writing failed; every file is as it was (files already replaced were restored from their backups).
    #[error("cannot write {} (no file was changed)", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Writing failed midway and some replaced files could not be put back: the project is half-updated.
    #[error(
        "cannot write {}, and {} already replaced could not be restored: {}",
        path.display(),
        plural(unrestored.len()),
        list(unrestored)
    )]
    RollbackFailed {
        /// The file whose write failed.
        path: PathBuf,
        /// Cause of the first failure.
        #[source]
        source: std::io::Error,
        /// Files that now hold the new number while the others do not.
        unrestored: Vec<PathBuf>,
    },
}

fn plural(n: usize) -> String {
    if n == 1 {
        "1 file".to_owned()
    } else {
        format!("{n} files")
    }
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Directories never searched: dependencies, build output, VCS metadata.
const SKIP_DIRS: &[&str] = &[
    "Pods",
    "Carthage",
    "build",
    "DerivedData",
    "node_modules",
    ".dart_tool",
    ".symlinks",
    ".build",
    ".git",
    ".gradle",
];
/// Depth limit of the search.
const MAX_DEPTH: usize = 10;
/// Files larger than this are not project files we edit.
const MAX_FILE: u64 = 32 << 20;

struct Planned {
    abs: PathBuf,
    /// The bytes read (the backup if a later rename fails).
    original: Vec<u8>,
    content: Vec<u8>,
    change: Change,
}

/// Writes `number` into every place under `project` that holds the build number.
pub fn apply(
    project: &Path,
    number: &BuildNumber,
    options: &ApplyOptions,
) -> Result<ApplyReport, ApplyError> {
    let (plan, notes) = plan_changes(project, number)?;
    if !options.dry_run {
        write_all(&plan, || {})?;
    }
    Ok(ApplyReport {
        changes: plan.into_iter().map(|p| p.change).collect(),
        notes,
        written: !options.dry_run,
    })
}

/// Reads every recognised file under `project` and computes its new content; writes nothing.
fn plan_changes(
    project: &Path,
    number: &BuildNumber,
) -> Result<(Vec<Planned>, Vec<Note>), ApplyError> {
    if !project.is_dir() {
        return Err(ApplyError::NotADirectory(project.to_owned()));
    }
    let mut files = Vec::new();
    walk(project, 0, &mut files)?;
    files.sort();
    let named = named_info_plists(project, &files)?;
    let new = number.to_string();
    let mut plan = Vec::new();
    let mut notes = Vec::new();
    let mut recognised = 0usize;
    for abs in files {
        let rel = abs.strip_prefix(project).unwrap_or(&abs).to_owned();
        let Some(kind) = classify(&rel, named.contains(&abs)) else {
            continue;
        };
        recognised += 1;
        check_writable(kind, &new, &rel)?;
        let bytes = read(&abs)?;
        let edited = match kind {
            FileKind::Plist => edit_plist(&bytes, &new, &abs)?,
            FileKind::Pubspec => edit_pubspec(&bytes, &new, &abs)?,
            FileKind::Pbxproj => edit_settings(&bytes, &new, &abs, ChangeKind::Pbxproj)?,
            FileKind::Xcconfig => edit_settings(&bytes, &new, &abs, ChangeKind::Xcconfig)?,
        };
        for message in edited.notes {
            notes.push(Note {
                path: rel.clone(),
                message,
            });
        }
        if let Some((content, change_kind, key, old, occurrences)) = edited.result {
            if content == bytes {
                continue;
            }
            plan.push(Planned {
                abs,
                original: bytes,
                content,
                change: Change {
                    path: rel,
                    kind: change_kind,
                    key,
                    old,
                    new: new.clone(),
                    occurrences,
                },
            });
        }
    }
    if recognised == 0 {
        return Err(ApplyError::NothingFound(project.to_owned()));
    }
    Ok((plan, notes))
}

#[derive(Clone, Copy)]
enum FileKind {
    Plist,
    Pubspec,
    Pbxproj,
    Xcconfig,
}

/// Directory extensions of built products and vendored binaries: their Info.plist describes someone else's bundle
/// (a framework's own version), never the app's build number.
const PRODUCT_DIRS: &[&str] = &[
    "framework",
    "xcframework",
    "bundle",
    "appex",
    "app",
    "xcarchive",
    "dSYM",
    "xctest",
    "plugin",
];

fn inside_product(rel: &Path) -> bool {
    rel.parent().is_some_and(|dir| {
        dir.components().any(|c| {
            Path::new(c.as_os_str())
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| PRODUCT_DIRS.contains(&e))
        })
    })
}

/// What a file is, if it holds the build number. `named` says a project.pbxproj names it in `INFOPLIST_FILE`: then
/// it is the target's Info.plist whatever its name (`App-Info.plist`). Otherwise only files named exactly
/// `Info.plist` count (not `GoogleService-Info.plist`), and none inside a framework, bundle or other product.
fn classify(rel: &Path, named: bool) -> Option<FileKind> {
    let name = rel.file_name()?.to_str()?;
    if named || (name == "Info.plist" && !inside_product(rel)) {
        Some(FileKind::Plist)
    } else if name == "pubspec.yaml" && rel.parent().is_some_and(|p| p.as_os_str().is_empty()) {
        Some(FileKind::Pubspec)
    } else if name == "project.pbxproj"
        && rel
            .parent()
            .and_then(|p| p.extension())
            .is_some_and(|e| e == "xcodeproj")
    {
        Some(FileKind::Pbxproj)
    } else if name.ends_with(".xcconfig") && !inside_product(rel) {
        Some(FileKind::Xcconfig)
    } else {
        None
    }
}

/// The Info.plist files the Xcode projects among `files` name in `INFOPLIST_FILE` (relative to the directory holding
/// the `.xcodeproj`, optionally prefixed `$(SRCROOT)/`); values with other build-setting references are skipped.
fn named_info_plists(
    project: &Path,
    files: &[PathBuf],
) -> Result<std::collections::BTreeSet<PathBuf>, ApplyError> {
    let mut named = std::collections::BTreeSet::new();
    for abs in files {
        let rel = abs.strip_prefix(project).unwrap_or(abs);
        if !matches!(classify(rel, false), Some(FileKind::Pbxproj)) {
            continue;
        }
        let Some(srcroot) = abs.parent().and_then(Path::parent) else {
            continue;
        };
        let bytes = read(abs)?;
        for value in setting_values(&String::from_utf8_lossy(&bytes), "INFOPLIST_FILE") {
            let value = value
                .strip_prefix("$(SRCROOT)/")
                .or_else(|| value.strip_prefix("${SRCROOT}/"))
                .unwrap_or(&value);
            if value.is_empty() || is_reference(value) || Path::new(value).is_absolute() {
                continue;
            }
            let path = srcroot.join(value.strip_prefix("./").unwrap_or(value));
            // Only files inside the project: `..` cannot lead the writer elsewhere.
            if files.contains(&path) {
                named.insert(path);
            }
        }
    }
    Ok(named)
}

/// Values of `KEY = value;` lines (pbxproj syntax), unquoted.
fn setting_values(text: &str, key: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let rest = line.trim_start().strip_prefix(key)?;
            let value = rest.trim_start().strip_prefix('=')?;
            let value = value.split(';').next()?.trim();
            Some(value.trim_matches('"').to_owned())
        })
        .collect()
}

/// Refuses, before anything is read or written, a number the file would carry to a rejection: CFBundleVersion (and
/// CURRENT_PROJECT_VERSION, which becomes it) must be at most three period-separated integers (ITMS-90058), and
/// Flutter's `version: x.y.z+N` needs an integer N.
fn check_writable(kind: FileKind, new: &str, rel: &Path) -> Result<(), ApplyError> {
    let reason = match kind {
        FileKind::Plist | FileKind::Pbxproj | FileKind::Xcconfig
            if !ipagate_formats::info_plist::is_valid_bundle_version(new) =>
        {
            "App Store Connect accepts at most three period-separated integers as CFBundleVersion (e.g. 42 or 1.2.3)"
        }
        FileKind::Pubspec if new.is_empty() || !new.bytes().all(|b| b.is_ascii_digit()) => {
            "Flutter needs a whole number after `+` in `version: x.y.z+N`"
        }
        _ => return Ok(()),
    };
    Err(ApplyError::Unwritable {
        path: rel.to_owned(),
        number: new.to_owned(),
        reason,
    })
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), ApplyError> {
    if depth > MAX_DEPTH {
        return Ok(());
    }
    let entries = std::fs::read_dir(dir).map_err(|source| ApplyError::Read {
        path: dir.to_owned(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| ApplyError::Read {
            path: dir.to_owned(),
            source,
        })?;
        // Symlinks are not followed: they lead out of the project or into loops.
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        if kind.is_dir() {
            let name = entry.file_name();
            if SKIP_DIRS.iter().any(|s| name == *s) {
                continue;
            }
            walk(&path, depth + 1, out)?;
        } else if kind.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

fn read(path: &Path) -> Result<Vec<u8>, ApplyError> {
    let meta = std::fs::metadata(path).map_err(|source| ApplyError::Read {
        path: path.to_owned(),
        source,
    })?;
    if meta.len() > MAX_FILE {
        return Err(ApplyError::BadContent {
            path: path.to_owned(),
            reason: format!("larger than {MAX_FILE} bytes"),
        });
    }
    std::fs::read(path).map_err(|source| ApplyError::Read {
        path: path.to_owned(),
        source,
    })
}

type Edit = (Vec<u8>, ChangeKind, &'static str, Vec<String>, usize);

struct Edited {
    result: Option<Edit>,
    notes: Vec<String>,
}

fn is_reference(value: &str) -> bool {
    value.contains("$(") || value.contains("${")
}

const VARIABLE_NOTE: &str = "left alone: the value is a build-setting reference";

fn edit_plist(bytes: &[u8], new: &str, path: &Path) -> Result<Edited, ApplyError> {
    // The bounded parser: a hostile plist nested 200 000 levels deep is an error, not a stack overflow.
    let (format, mut dict) =
        ipagate_formats::info_plist::parse_dictionary(bytes).map_err(|problem| {
            ApplyError::BadPlist {
                path: path.to_owned(),
                problem,
            }
        })?;
    let binary = format == ipagate_formats::info_plist::PlistFormat::Binary;
    let old = match dict.get("CFBundleVersion") {
        None => {
            return Ok(Edited {
                result: None,
                notes: vec!["no CFBundleVersion key; left alone".to_owned()],
            });
        }
        Some(plist::Value::String(s)) => s.clone(),
        Some(_) => {
            return Err(ApplyError::BadContent {
                path: path.to_owned(),
                reason: "CFBundleVersion is not a string".to_owned(),
            });
        }
    };
    if is_reference(&old) {
        return Ok(Edited {
            result: None,
            notes: vec![format!("CFBundleVersion {old} {VARIABLE_NOTE}")],
        });
    }
    if binary {
        dict.insert(
            "CFBundleVersion".to_owned(),
            plist::Value::String(new.to_owned()),
        );
        let mut out = Vec::new();
        plist::Value::Dictionary(dict)
            .to_writer_binary(&mut out)
            .map_err(|source| ApplyError::EncodePlist {
                path: path.to_owned(),
                source,
            })?;
        return Ok(Edited {
            result: Some((
                out,
                ChangeKind::InfoPlistBinary,
                "CFBundleVersion",
                vec![old],
                1,
            )),
            notes: vec![],
        });
    }
    // XML: change only the value's text so layout, comments and key order stay as they were.
    let text = std::str::from_utf8(bytes).map_err(|_| ApplyError::BadContent {
        path: path.to_owned(),
        reason: "XML plist is not UTF-8".to_owned(),
    })?;
    let out = match replace_xml_string_value(text, "CFBundleVersion", new) {
        Some(out) => out,
        None => {
            dict.insert(
                "CFBundleVersion".to_owned(),
                plist::Value::String(new.to_owned()),
            );
            let mut out = Vec::new();
            plist::Value::Dictionary(dict)
                .to_writer_xml(&mut out)
                .map_err(|source| ApplyError::EncodePlist {
                    path: path.to_owned(),
                    source,
                })?;
            String::from_utf8_lossy(&out).into_owned()
        }
    };
    Ok(Edited {
        result: Some((
            out.into_bytes(),
            ChangeKind::InfoPlistXml,
            "CFBundleVersion",
            vec![old],
            1,
        )),
        notes: vec![],
    })
}

/// Replaces the `<string>` after `<key>KEY</key>` when the key occurs exactly once.
fn replace_xml_string_value(text: &str, key: &str, new: &str) -> Option<String> {
    let needle = format!("<key>{key}</key>");
    let at = text.find(&needle)?;
    if text[at + needle.len()..].contains(&needle) {
        return None;
    }
    let after = at + needle.len();
    let rest = &text[after..];
    let ws = rest.len() - rest.trim_start().len();
    let open = "<string>";
    if !rest[ws..].starts_with(open) {
        return None;
    }
    let value_start = after + ws + open.len();
    let close = text[value_start..].find("</string>")? + value_start;
    let escaped = new
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    Some(format!(
        "{}{}{}",
        &text[..value_start],
        escaped,
        &text[close..]
    ))
}

fn edit_pubspec(bytes: &[u8], new: &str, path: &Path) -> Result<Edited, ApplyError> {
    let text = std::str::from_utf8(bytes).map_err(|_| ApplyError::BadContent {
        path: path.to_owned(),
        reason: "not UTF-8".to_owned(),
    })?;
    let mut out = String::with_capacity(text.len() + 8);
    let mut old = None;
    for line in text.split_inclusive('\n') {
        if old.is_none()
            && let Some(rest) = line.strip_prefix("version:")
        {
            let (body, eol) = split_eol(rest);
            let (value_part, comment) = split_comment(body);
            let lead = &value_part[..value_part.len() - value_part.trim_start().len()];
            let value = value_part.trim();
            let (quote, inner) = match value.chars().next() {
                Some(q @ ('"' | '\'')) if value.len() >= 2 && value.ends_with(q) => {
                    (Some(q), &value[1..value.len() - 1])
                }
                _ => (None, value),
            };
            if inner.is_empty() {
                return Err(ApplyError::BadContent {
                    path: path.to_owned(),
                    reason: "`version:` has no value".to_owned(),
                });
            }
            let (name, build) = match inner.split_once('+') {
                Some((name, build)) => (name, Some(build)),
                None => (inner, None),
            };
            let new_inner = format!("{name}+{new}");
            let new_value = match quote {
                Some(q) => format!("{q}{new_inner}{q}"),
                None => new_inner,
            };
            // Keep the spacing before a trailing comment.
            let gap = &value_part[value_part.trim_end().len()..];
            out.push_str("version:");
            out.push_str(lead);
            out.push_str(&new_value);
            out.push_str(gap);
            out.push_str(comment);
            out.push_str(eol);
            old = Some(build.unwrap_or("(none)").to_owned());
            continue;
        }
        out.push_str(line);
    }
    match old {
        Some(old) => Ok(Edited {
            result: Some((
                out.into_bytes(),
                ChangeKind::Pubspec,
                "version",
                vec![old],
                1,
            )),
            notes: vec![],
        }),
        None => Ok(Edited {
            result: None,
            notes: vec!["no top-level `version:` line; left alone".to_owned()],
        }),
    }
}

fn split_eol(line: &str) -> (&str, &str) {
    if let Some(body) = line.strip_suffix("\r\n") {
        (body, "\r\n")
    } else if let Some(body) = line.strip_suffix('\n') {
        (body, "\n")
    } else {
        (line, "")
    }
}

/// Splits ` 1.2.3+4  # comment` at a `#` that starts a YAML comment (after whitespace, outside quotes).
fn split_comment(body: &str) -> (&str, &str) {
    let mut quote = None;
    let mut prev_space = true;
    for (i, c) in body.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') if prev_space => return (&body[..i], &body[i..]),
            _ => {}
        }
        prev_space = c.is_whitespace();
    }
    (body, "")
}

/// `CURRENT_PROJECT_VERSION = value;` in a pbxproj, `CURRENT_PROJECT_VERSION[sdk=*] = value // comment` in an xcconfig.
fn edit_settings(
    bytes: &[u8],
    new: &str,
    path: &Path,
    kind: ChangeKind,
) -> Result<Edited, ApplyError> {
    let text = std::str::from_utf8(bytes).map_err(|_| ApplyError::BadContent {
        path: path.to_owned(),
        reason: "not UTF-8".to_owned(),
    })?;
    const KEY: &str = "CURRENT_PROJECT_VERSION";
    let mut out = String::with_capacity(text.len() + 16);
    let mut olds: Vec<String> = Vec::new();
    let mut count = 0;
    let mut notes = Vec::new();
    for line in text.split_inclusive('\n') {
        let (body, eol) = split_eol(line);
        let indent_len = body.len() - body.trim_start().len();
        let rest = &body[indent_len..];
        let Some(after_key) = rest.strip_prefix(KEY) else {
            out.push_str(line);
            continue;
        };
        // Optional xcconfig condition `[config=Release]`.
        let cond_len = if after_key.starts_with('[') {
            after_key.find(']').map_or(0, |i| i + 1)
        } else {
            0
        };
        let after_cond = &after_key[cond_len..];
        let Some(eq) = after_cond
            .find('=')
            .filter(|&i| after_cond[..i].trim().is_empty())
        else {
            out.push_str(line);
            continue;
        };
        let value_region = &after_cond[eq + 1..];
        let (value_raw, tail) = match kind {
            ChangeKind::Pbxproj => match value_region.find(';') {
                Some(i) => (&value_region[..i], &value_region[i..]),
                None => (value_region, ""),
            },
            _ => match value_region.find("//") {
                Some(i) => (&value_region[..i], &value_region[i..]),
                None => (value_region, ""),
            },
        };
        let lead = &value_raw[..value_raw.len() - value_raw.trim_start().len()];
        let trail = &value_raw[value_raw.trim_end().len()..];
        let value = value_raw.trim();
        let unquoted = value.trim_matches('"');
        if is_reference(unquoted) {
            notes.push(format!("{KEY} {unquoted} {VARIABLE_NOTE}"));
            out.push_str(line);
            continue;
        }
        let quoted = value.len() >= 2 && value.starts_with('"') && value.ends_with('"');
        let needs_quotes = quoted
            || (kind == ChangeKind::Pbxproj
                && !new
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_'));
        let new_value = if needs_quotes {
            format!("\"{new}\"")
        } else {
            new.to_owned()
        };
        out.push_str(&body[..indent_len]);
        out.push_str(KEY);
        out.push_str(&after_key[..cond_len]);
        out.push_str(&after_cond[..=eq]);
        out.push_str(lead);
        out.push_str(&new_value);
        out.push_str(trail);
        out.push_str(tail);
        out.push_str(eol);
        if !olds.iter().any(|o| o == unquoted) {
            olds.push(unquoted.to_owned());
        }
        count += 1;
    }
    if count == 0 {
        return Ok(Edited {
            result: None,
            notes,
        });
    }
    Ok(Edited {
        result: Some((out.into_bytes(), kind, KEY, olds, count)),
        notes,
    })
}

/// One file ready to be replaced: its new content and a backup of the original, both as temporary files in the
/// target's directory.
struct Staged<'a> {
    item: &'a Planned,
    new: tempfile::NamedTempFile,
    backup: tempfile::NamedTempFile,
}

/// Writes every planned file or none. `before_commit` runs between staging and renaming (tests break things there).
fn write_all(plan: &[Planned], before_commit: impl FnOnce()) -> Result<(), ApplyError> {
    // Phase 1: stage. On error the `NamedTempFile`s already made are dropped, which deletes them.
    let mut staged = Vec::with_capacity(plan.len());
    for item in plan {
        let err = |source| ApplyError::Write {
            path: item.abs.clone(),
            source,
        };
        let permissions = std::fs::metadata(&item.abs).map_err(err)?.permissions();
        let new = temp_with(&item.abs, &item.content, &permissions).map_err(err)?;
        let backup = temp_with(&item.abs, &item.original, &permissions).map_err(err)?;
        staged.push(Staged { item, new, backup });
    }
    before_commit();
    // Phase 2: rename the new files over the originals; on a failure put the backups back.
    let mut done: Vec<(&Planned, tempfile::NamedTempFile)> = Vec::with_capacity(staged.len());
    let mut pending = staged.into_iter();
    for Staged { item, new, backup } in pending.by_ref() {
        match new.persist(&item.abs) {
            Ok(_) => done.push((item, backup)),
            Err(failed) => {
                // `failed.file` and the remaining staged files are dropped (deleted) when this returns.
                let unrestored = roll_back(done);
                drop(backup);
                return Err(if unrestored.is_empty() {
                    ApplyError::Write {
                        path: item.abs.clone(),
                        source: failed.error,
                    }
                } else {
                    ApplyError::RollbackFailed {
                        path: item.abs.clone(),
                        source: failed.error,
                        unrestored,
                    }
                });
            }
        }
    }
    // Success: the backups are dropped, which deletes them.
    Ok(())
}

/// Renames each backup over its file, newest first; returns the files that could not be restored.
fn roll_back(done: Vec<(&Planned, tempfile::NamedTempFile)>) -> Vec<PathBuf> {
    let mut unrestored = Vec::new();
    for (item, backup) in done.into_iter().rev() {
        if backup.persist(&item.abs).is_err() {
            unrestored.push(item.abs.clone());
        }
    }
    unrestored.reverse();
    unrestored
}

/// A synced temporary file next to `target` holding `content`, with `target`'s permissions.
fn temp_with(
    target: &Path,
    content: &[u8],
    permissions: &std::fs::Permissions,
) -> std::io::Result<tempfile::NamedTempFile> {
    let dir = target.parent().unwrap_or(Path::new("."));
    let mut temp = tempfile::Builder::new()
        .prefix(".ipagate-")
        .tempfile_in(dir)?;
    temp.write_all(content)?;
    temp.as_file().sync_all()?;
    std::fs::set_permissions(temp.path(), permissions.clone())?;
    Ok(temp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pubspec(text: &str, new: &str) -> String {
        let e = edit_pubspec(text.as_bytes(), new, Path::new("pubspec.yaml")).unwrap();
        String::from_utf8(e.result.unwrap().0).unwrap()
    }

    #[test]
    fn pubspec_only_the_version_line_changes() {
        assert_eq!(
            pubspec("version: 1.0.0+1\r\nname: x\r\n", "2"),
            "version: 1.0.0+2\r\nname: x\r\n"
        );
        assert_eq!(
            pubspec("version: '1.0.0+1' # c#1\n", "9"),
            "version: '1.0.0+9' # c#1\n"
        );
        assert_eq!(pubspec("version:1.0.0", "3"), "version:1.0.0+3");
        let nested = "dependencies:\n  version: 1.0.0+1\n";
        assert!(
            edit_pubspec(nested.as_bytes(), "2", Path::new("p"))
                .unwrap()
                .result
                .is_none()
        );
        assert!(edit_pubspec(b"version:\n", "2", Path::new("p")).is_err());
    }

    fn settings(text: &str, new: &str, kind: ChangeKind) -> (String, usize, Vec<String>) {
        let e = edit_settings(text.as_bytes(), new, Path::new("x"), kind).unwrap();
        match e.result {
            Some((bytes, _, _, _, n)) => (String::from_utf8(bytes).unwrap(), n, e.notes),
            None => (text.to_owned(), 0, e.notes),
        }
    }

    #[test]
    fn pbxproj_and_xcconfig_settings() {
        let (out, n, _) = settings(
            "\t\t\t\tCURRENT_PROJECT_VERSION = 1;\n",
            "1.2.3",
            ChangeKind::Pbxproj,
        );
        assert_eq!(
            (out.as_str(), n),
            ("\t\t\t\tCURRENT_PROJECT_VERSION = 1.2.3;\n", 1)
        );
        let (out, _, _) = settings("CURRENT_PROJECT_VERSION = 1;\n", "2-b", ChangeKind::Pbxproj);
        assert_eq!(out, "CURRENT_PROJECT_VERSION = \"2-b\";\n");
        let (out, n, notes) = settings(
            "CURRENT_PROJECT_VERSION = $(BUILD);\nCURRENT_PROJECT_VERSION_X = 1;\n",
            "5",
            ChangeKind::Pbxproj,
        );
        assert_eq!(n, 0);
        assert_eq!(
            out,
            "CURRENT_PROJECT_VERSION = $(BUILD);\nCURRENT_PROJECT_VERSION_X = 1;\n"
        );
        assert_eq!(notes.len(), 1);
        let (out, n, _) = settings(
            "CURRENT_PROJECT_VERSION[sdk=iphoneos*] = 3 // x\n",
            "4",
            ChangeKind::Xcconfig,
        );
        assert_eq!(
            (out.as_str(), n),
            ("CURRENT_PROJECT_VERSION[sdk=iphoneos*] = 4 // x\n", 1)
        );
    }

    /// Three sibling directories, each with an XML Info.plist at build number 1.
    fn three_plists() -> (tempfile::TempDir, Vec<PathBuf>) {
        let root = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        for dir in ["a", "b", "c"] {
            let path = root.path().join(dir).join("Info.plist");
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(
                &path,
                "<plist><dict>\n\t<key>CFBundleVersion</key>\n\t<string>1</string>\n</dict></plist>\n",
            )
            .unwrap();
            paths.push(path);
        }
        (root, paths)
    }

    /// Every file under `dir` with its text (directories as `None`).
    fn snapshot(dir: &Path) -> Vec<(PathBuf, Option<String>)> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.push((path.clone(), None));
                out.extend(snapshot(&path));
            } else {
                out.push((path.clone(), Some(std::fs::read_to_string(&path).unwrap())));
            }
        }
        out.sort();
        out
    }

    /// Regression: files were renamed one by one, so a failure on the third left the first two changed.
    #[test]
    fn a_staging_failure_changes_nothing_and_leaves_no_temp_files() {
        let (root, paths) = three_plists();
        let (plan, _) = plan_changes(root.path(), &BuildNumber::from_u64(2)).unwrap();
        assert_eq!(plan.len(), 3);
        // The last file's directory disappears after planning: no temporary file can be made there.
        std::fs::remove_dir_all(paths[2].parent().unwrap()).unwrap();
        let before = snapshot(root.path());
        let err = write_all(&plan, || {}).unwrap_err();
        assert!(matches!(err, ApplyError::Write { .. }), "{err}");
        assert!(err.to_string().contains("c/Info.plist"), "{err}");
        assert_eq!(
            snapshot(root.path()),
            before,
            "a and b untouched, no temp files"
        );
    }

    #[test]
    fn a_rename_failure_midway_rolls_back_the_files_already_replaced() {
        let (root, paths) = three_plists();
        let (plan, _) = plan_changes(root.path(), &BuildNumber::from_u64(2)).unwrap();
        let before = snapshot(root.path());
        // After staging, the second target becomes a non-empty directory: renaming a file over it fails.
        let target = paths[1].clone();
        let err = write_all(&plan, || {
            std::fs::remove_file(&target).unwrap();
            std::fs::create_dir_all(target.join("x")).unwrap();
        })
        .unwrap_err();
        assert!(matches!(err, ApplyError::Write { .. }), "{err}");
        std::fs::remove_dir_all(&paths[1]).unwrap();
        let after: Vec<_> = snapshot(root.path())
            .into_iter()
            .filter(|(p, _)| p != &paths[1])
            .collect();
        let expected: Vec<_> = before.into_iter().filter(|(p, _)| p != &paths[1]).collect();
        assert_eq!(after, expected, "a restored, c untouched, no temp files");
    }

    #[test]
    fn success_replaces_every_file_and_leaves_no_temp_files() {
        let (root, paths) = three_plists();
        let (plan, _) = plan_changes(root.path(), &BuildNumber::from_u64(2)).unwrap();
        write_all(&plan, || {}).unwrap();
        for path in &paths {
            assert!(
                std::fs::read_to_string(path)
                    .unwrap()
                    .contains("<string>2</string>")
            );
        }
        assert_eq!(snapshot(root.path()).len(), 6, "3 dirs + 3 files");
    }

    /// Regression: `plist::Value::from_reader` recursed once per level and overflowed the stack.
    #[test]
    fn a_deeply_nested_plist_is_an_error_and_nothing_is_written() {
        let (dir, paths) = three_plists();
        let before = snapshot(dir.path());
        let deep = dir.path().join("Deep/Info.plist");
        std::fs::create_dir_all(deep.parent().unwrap()).unwrap();
        std::fs::write(&deep, ipagate_fixtures::plist::nested_arrays(200_000, 1)).unwrap();
        let err = apply(
            dir.path(),
            &BuildNumber::from_u64(9),
            &ApplyOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(err, ApplyError::BadPlist { .. }), "{err:?}");
        assert!(
            err.to_string()
                .ends_with("Deep/Info.plist: nested deeper than 256 levels"),
            "{err}"
        );
        std::fs::remove_dir_all(deep.parent().unwrap()).unwrap();
        assert_eq!(snapshot(dir.path()), before, "{paths:?} unchanged");
    }

    #[test]
    fn only_the_apps_own_plists_are_chosen() {
        let p = |s: &str| classify(Path::new(s), false).is_some();
        assert!(p("App/Info.plist"));
        assert!(!p("App/GoogleService-Info.plist"));
        assert!(!p(
            "Vendor/Ads.xcframework/ios-arm64/Ads.framework/Info.plist"
        ));
        assert!(!p("Frameworks/Lib.framework/Info.plist"));
        assert!(!p("Res/Settings.bundle/Info.plist"));
        assert!(!p("out/App.app/PlugIns/W.appex/Info.plist"));
        assert!(classify(Path::new("App/App-Info.plist"), true).is_some());
        assert_eq!(
            setting_values(
                "\t\tINFOPLIST_FILE = \"App/App-Info.plist\";\n\t\tINFOPLIST_FILE = Ext/Info.plist;\nX = 1;\n",
                "INFOPLIST_FILE"
            ),
            ["App/App-Info.plist", "Ext/Info.plist"]
        );
    }

    #[test]
    fn xml_value_replacement_is_textual() {
        let text = "<dict>\n\t<key>CFBundleVersion</key>\n\t<string>1</string>\n</dict>";
        assert_eq!(
            replace_xml_string_value(text, "CFBundleVersion", "2").unwrap(),
            "<dict>\n\t<key>CFBundleVersion</key>\n\t<string>2</string>\n</dict>"
        );
        let twice = format!("{text}{text}");
        assert!(replace_xml_string_value(&twice, "CFBundleVersion", "2").is_none());
    }
}
