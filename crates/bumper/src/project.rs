//! Writing a build number into a project the way Xcode will read it back.
//!
//! With Xcode projects (`*.xcodeproj/project.pbxproj`), every target that ships (app, extensions, watch app, App
//! Clip; test targets with `--all-targets`, or the targets named) is resolved for each of its build configurations
//! ([`crate::resolve`]): its `INFOPLIST_FILE`, that plist's `CFBundleVersion` and, when that is `$(VAR)`, the build
//! setting through project and target levels, base xcconfigs and their `#include`s, down to the assignment that
//! *defines* the value. That place is changed — the literal in the plist, the xcconfig line, the pbxproj entry —
//! and nothing else. The planned contents are then resolved again; unless every chosen target and configuration
//! yields the new number, nothing is written and the error names each target, configuration and why.
//! Flutter's `pubspec.yaml` `version: x.y.z+N` is written too (N is also Android's `versionCode`), and a committed
//! `ios/Flutter/Generated.xcconfig` gets the same `FLUTTER_BUILD_NUMBER`. A tree without any Xcode project keeps
//! the simple rule: every `Info.plist` and `.xcconfig` outside dependencies and built products.
//!
//! Every file is read and its new content computed first; only when all of them succeed are they written, in two
//! phases: first every new content *and* a backup of every original goes into a temporary file in the target's own
//! directory (so the renames stay atomic); then the new files are renamed over the originals. An error while staging
//! removes every temporary file and changes nothing; a rename failing midway renames the backups back over the files
//! already replaced. Either way an error leaves the project as it was and no file is ever half-written.

use std::collections::BTreeSet;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::number::BuildNumber;

/// Google Play's largest `versionCode`; Flutter writes the pubspec's build number there.
pub const ANDROID_MAX_VERSION_CODE: u64 = 2_100_000_000;

/// Which targets get the number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TargetSelection {
    /// The targets whose products ship to App Store Connect (the default).
    #[default]
    Shipping,
    /// Those, the test targets and every other target with a CFBundleVersion.
    All,
    /// Exactly these targets, by name.
    Named(Vec<String>),
}

/// Options of [`apply`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyOptions {
    /// Compute and report, write nothing.
    pub dry_run: bool,
    /// Allow a number lower than the project's current one.
    pub allow_lower: bool,
    /// Allow a pubspec build number above Android's [`ANDROID_MAX_VERSION_CODE`].
    pub allow_over_android_max: bool,
    /// Which targets.
    pub targets: TargetSelection,
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
    /// The key or setting (`CFBundleVersion`, `version`, `CURRENT_PROJECT_VERSION`, `BUILD_NUMBER`; several joined by
    /// `, `).
    pub key: String,
    /// Old values (distinct, in file order); for a pubspec, the whole `x.y.z+N`.
    pub old: Vec<String>,
    /// New value; for a pubspec, the whole `x.y.z+N`.
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
        if self.path.as_os_str().is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path.display(), self.message)
        }
    }
}

/// A target whose build number was resolved (and, after the change, verified).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TargetRef {
    /// The `.xcodeproj`, relative to the project directory.
    pub project: PathBuf,
    /// The target's name.
    pub target: String,
}

/// What [`apply`] did (or would do with `dry_run`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ApplyReport {
    /// The number written.
    pub number: String,
    /// Changed files, sorted by path.
    pub changes: Vec<Change>,
    /// Files or places left alone.
    pub notes: Vec<Note>,
    /// Whether files were written.
    pub written: bool,
    /// The targets whose build number now is (or already was) the new one, in project order.
    pub targets: Vec<TargetRef>,
}

/// One target and configuration whose build number cannot be made the new one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TargetFailure {
    /// The `.xcodeproj`, relative to the project directory.
    pub project: PathBuf,
    /// The target.
    pub target: String,
    /// The build configuration.
    pub configuration: String,
    /// Why.
    pub reason: String,
}

impl fmt::Display for TargetFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "target {} ({}) in {}: {}",
            self.target,
            self.configuration,
            self.project.display(),
            self.reason
        )
    }
}

/// Why nothing was written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// The project directory is not a directory.
    #[error("{} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// Nothing to write into.
    #[error("no Xcode project, Info.plist, pubspec.yaml or .xcconfig with a build number found under {}", .0.display())]
    NothingFound(PathBuf),
    /// The number itself is one App Store Connect, Android or Flutter would reject.
    #[error("will not write build number {number}: {reason}")]
    InvalidNumber {
        /// The number.
        number: String,
        /// Which rule it breaks.
        reason: String,
    },
    /// The number is lower than the one the project has.
    #[error(
        "will not write build number {number}: it is lower than the current {current} ({defined_in}); App Store \
         Connect needs a higher one (pass --allow-lower to go back anyway)"
    )]
    Lower {
        /// The number.
        number: String,
        /// The highest current one.
        current: String,
        /// Where that is.
        defined_in: String,
    },
    /// The Xcode projects have no target to write into.
    #[error(
        "no target that ships (app, app extension, watch app, App Clip) in {}; choose others with --target NAME or \
         --all-targets",
        list(.0)
    )]
    NoShippingTarget(Vec<PathBuf>),
    /// `--target NAME` names no target.
    #[error("no target named {name:?}; targets: {}", .available.join(", "))]
    UnknownTarget {
        /// The name asked for.
        name: String,
        /// Every target's name.
        available: Vec<String>,
    },
    /// Some chosen target's build number cannot be resolved to a place ipagate can change.
    #[error(
        "nothing written: the build number of {} cannot be set: {} (--target NAME chooses the targets to change)",
        plural_of(.failures.len(), "target configuration"),
        join(.failures)
    )]
    Unresolved {
        /// Each target and configuration, and why.
        failures: Vec<TargetFailure>,
    },
    /// After the planned change, some chosen target would still not have the new number.
    #[error(
        "nothing written: after the change {} would still not have build number {number}: {}",
        plural_of(.failures.len(), "target configuration"),
        join(.failures)
    )]
    Unverified {
        /// The number.
        number: String,
        /// Each target and configuration, and what it would have.
        failures: Vec<TargetFailure>,
    },
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
    plural_of(n, "file")
}

fn plural_of(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn join(failures: &[TargetFailure]) -> String {
    failures
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
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
    ".swiftpm",
];
/// Depth limit of the search.
const MAX_DEPTH: usize = 10;
/// Files larger than this are not project files we edit.
const MAX_FILE: u64 = crate::files::MAX_FILE;

/// A SwiftPM checkout folder as `xcodebuild -clonedSourcePackagesDirPath` (or Xcode's DerivedData) lays it out:
/// `SourcePackages/{checkouts,repositories,workspace-state.json}`.
fn is_swiftpm_checkouts(dir: &Path) -> bool {
    dir.file_name().is_some_and(|n| n == "SourcePackages")
        && ["checkouts", "repositories", "workspace-state.json"]
            .iter()
            .any(|entry| dir.join(entry).exists())
}

/// Whether `rel` lies in a folder a package manager or build writes.
pub(crate) fn in_dependency(root: &Path, rel: &Path) -> Option<String> {
    let mut dir = root.to_owned();
    for component in rel.parent().into_iter().flat_map(Path::components) {
        dir.push(component);
        let name = component.as_os_str();
        if SKIP_DIRS.iter().any(|s| name == *s) || is_swiftpm_checkouts(&dir) {
            return Some(name.to_string_lossy().into_owned());
        }
    }
    None
}

pub(crate) struct Planned {
    pub(crate) abs: PathBuf,
    /// The bytes read (the backup if a later rename fails).
    pub(crate) original: Vec<u8>,
    pub(crate) content: Vec<u8>,
    pub(crate) change: Change,
}

/// Writes `number` into every place under `project` that defines the build number of a chosen target.
pub fn apply(
    project: &Path,
    number: &BuildNumber,
    options: &ApplyOptions,
) -> Result<ApplyReport, ApplyError> {
    let plan = plan_changes(project, number, options)?;
    if !options.dry_run {
        write_all(&plan.items, || {})?;
    }
    Ok(ApplyReport {
        number: number.to_string(),
        changes: plan.items.into_iter().map(|p| p.change).collect(),
        notes: plan.notes,
        written: !options.dry_run,
        targets: plan.targets,
    })
}

pub(crate) struct Plan {
    pub(crate) items: Vec<Planned>,
    pub(crate) notes: Vec<Note>,
    pub(crate) targets: Vec<TargetRef>,
}

/// Refuses, before any file is read, a number that a file would carry to a rejection.
pub(crate) fn check_number(
    number: &BuildNumber,
    flutter: bool,
    options: &ApplyOptions,
) -> Result<(), ApplyError> {
    let text = number.to_string();
    let reject = |reason: String| {
        Err(ApplyError::InvalidNumber {
            number: text.clone(),
            reason,
        })
    };
    if !ipagate_formats::info_plist::is_valid_bundle_version(&text) {
        return reject(
            "App Store Connect accepts at most three period-separated integers as CFBundleVersion (e.g. 42 or 1.2.3)"
                .to_owned(),
        );
    }
    if text.split('.').any(|c| c.len() > 1 && c.starts_with('0')) {
        return reject(format!(
            "a leading zero: App Store Connect compares build numbers numerically, so it would collide with {}",
            number
                .components()
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(".")
        ));
    }
    if flutter {
        if number.components().len() != 1 {
            return reject(
                "pubspec.yaml's `version: x.y.z+N` needs a whole number N (it is also Android's versionCode)"
                    .to_owned(),
            );
        }
        if number.components()[0] > ANDROID_MAX_VERSION_CODE && !options.allow_over_android_max {
            return reject(format!(
                "pubspec.yaml's build number is also Android's versionCode, which Google Play caps at \
                 {ANDROID_MAX_VERSION_CODE} (pass --allow-over-android-max if this app never ships to Android)"
            ));
        }
    }
    Ok(())
}

/// Reads every relevant file under `project` and computes its new content; writes nothing.
fn plan_changes(
    project: &Path,
    number: &BuildNumber,
    options: &ApplyOptions,
) -> Result<Plan, ApplyError> {
    if !project.is_dir() {
        return Err(ApplyError::NotADirectory(project.to_owned()));
    }
    let root = std::fs::canonicalize(project).map_err(|source| ApplyError::Read {
        path: project.to_owned(),
        source,
    })?;
    let pubspec = root.join("pubspec.yaml");
    let flutter = pubspec.is_file();
    check_number(number, flutter, options)?;
    let mut files = Vec::new();
    walk(&root, 0, &mut files)?;
    files.sort();
    let projects: Vec<PathBuf> = files
        .iter()
        .filter(|abs| {
            matches!(
                classify(abs.strip_prefix(&root).unwrap_or(abs)),
                Some(FileKind::Pbxproj)
            )
        })
        .cloned()
        .collect();
    let new = number.to_string();
    let mut plan = if projects.is_empty() {
        plan_files(&root, &files, &new)?
    } else {
        crate::xcode::plan(&root, &projects, number, options, flutter)?
    };
    let done: BTreeSet<PathBuf> = plan.items.iter().map(|p| p.abs.clone()).collect();
    if flutter {
        for generated in [
            "ios/Flutter/Generated.xcconfig",
            "macos/Flutter/ephemeral/Flutter-Generated.xcconfig",
        ] {
            let abs = root.join(generated);
            if !done.contains(&abs) && abs.is_file() {
                plan_setting_file(&root, &abs, "FLUTTER_BUILD_NUMBER", &new, &mut plan)?;
            }
        }
    }
    if !options.allow_lower {
        check_not_lower(number, &plan.items)?;
    }
    plan.items.sort_by(|a, b| a.change.path.cmp(&b.change.path));
    Ok(plan)
}

/// Refuses going back: App Store Connect wants each upload's number higher than the last.
fn check_not_lower(number: &BuildNumber, items: &[Planned]) -> Result<(), ApplyError> {
    let highest = items
        .iter()
        .flat_map(|item| {
            item.change.old.iter().filter_map(move |old| {
                let old = match item.change.kind {
                    ChangeKind::Pubspec => old.split_once('+')?.1,
                    _ => old.as_str(),
                };
                Some((BuildNumber::parse(old).ok()?, &item.change.path))
            })
        })
        .max_by(|a, b| a.0.cmp(&b.0));
    match highest {
        Some((current, path)) if *number < current => Err(ApplyError::Lower {
            number: number.to_string(),
            current: current.to_string(),
            defined_in: path.display().to_string(),
        }),
        _ => Ok(()),
    }
}

pub(crate) fn plan_pubspec(
    root: &Path,
    abs: &Path,
    new: &str,
    plan: &mut Plan,
) -> Result<(), ApplyError> {
    let rel = abs.strip_prefix(root).unwrap_or(abs).to_owned();
    let original = read(abs)?;
    let edited = edit_pubspec(&original, new, &rel)?;
    for message in edited.notes {
        plan.notes.push(Note {
            path: rel.clone(),
            message,
        });
    }
    if let Some((content, kind, key, old, occurrences)) = edited.result
        && content != original
    {
        let new_value = pubspec_version(&String::from_utf8_lossy(&content)).unwrap_or_default();
        plan.items.push(Planned {
            abs: abs.to_owned(),
            original,
            content,
            change: Change {
                path: rel,
                kind,
                key: key.to_owned(),
                old,
                new: new_value,
                occurrences,
            },
        });
    }
    Ok(())
}

fn plan_setting_file(
    root: &Path,
    abs: &Path,
    key: &'static str,
    new: &str,
    plan: &mut Plan,
) -> Result<(), ApplyError> {
    let rel = abs.strip_prefix(root).unwrap_or(abs).to_owned();
    let original = read(abs)?;
    let edited = edit_settings(&original, new, &rel, ChangeKind::Xcconfig, key)?;
    for message in edited.notes {
        plan.notes.push(Note {
            path: rel.clone(),
            message,
        });
    }
    if let Some((content, kind, key, old, occurrences)) = edited.result
        && content != original
    {
        plan.items.push(Planned {
            abs: abs.to_owned(),
            original,
            content,
            change: Change {
                path: rel,
                kind,
                key: key.to_owned(),
                old,
                new: new.to_owned(),
                occurrences,
            },
        });
    }
    Ok(())
}

/// Without an Xcode project: every recognised file outside dependencies and products.
fn plan_files(root: &Path, files: &[PathBuf], new: &str) -> Result<Plan, ApplyError> {
    let mut plan = Plan {
        items: Vec::new(),
        notes: Vec::new(),
        targets: Vec::new(),
    };
    let mut recognised = 0usize;
    for abs in files {
        let rel = abs.strip_prefix(root).unwrap_or(abs).to_owned();
        let Some(kind) = classify(&rel) else {
            continue;
        };
        recognised += 1;
        match kind {
            FileKind::Pubspec => plan_pubspec(root, abs, new, &mut plan)?,
            FileKind::Xcconfig => {
                plan_setting_file(root, abs, "CURRENT_PROJECT_VERSION", new, &mut plan)?
            }
            FileKind::Plist => {
                let original = read(abs)?;
                let edited = edit_plist(&original, new, &rel)?;
                for message in edited.notes {
                    plan.notes.push(Note {
                        path: rel.clone(),
                        message,
                    });
                }
                if let Some((content, kind, key, old, occurrences)) = edited.result
                    && content != original
                {
                    plan.items.push(Planned {
                        abs: abs.clone(),
                        original,
                        content,
                        change: Change {
                            path: rel,
                            kind,
                            key: key.to_owned(),
                            old,
                            new: new.to_owned(),
                            occurrences,
                        },
                    });
                }
            }
            FileKind::Pbxproj => {}
        }
    }
    if recognised == 0 {
        return Err(ApplyError::NothingFound(root.to_owned()));
    }
    Ok(plan)
}

#[derive(Clone, Copy)]
pub(crate) enum FileKind {
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

/// What a file is, if it may hold the build number in a tree without an Xcode project: files named exactly
/// `Info.plist` (not `GoogleService-Info.plist`), none inside a framework, bundle or other product.
pub(crate) fn classify(rel: &Path) -> Option<FileKind> {
    let name = rel.file_name()?.to_str()?;
    if name == "Info.plist" && !inside_product(rel) {
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

pub(crate) fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), ApplyError> {
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
            if SKIP_DIRS.iter().any(|s| name == *s) || is_swiftpm_checkouts(&path) {
                continue;
            }
            walk(&path, depth + 1, out)?;
        } else if kind.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

/// The value of the top-level `version:` line (quotes and comment removed).
pub(crate) fn pubspec_version(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix("version:")?;
        let (value, _) = split_comment(rest);
        Some(
            value
                .trim()
                .trim_matches(|c| c == '"' || c == '\'')
                .to_owned(),
        )
    })
}

pub(crate) fn read(path: &Path) -> Result<Vec<u8>, ApplyError> {
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

pub(crate) struct Edited {
    pub(crate) result: Option<Edit>,
    pub(crate) notes: Vec<String>,
}

fn is_reference(value: &str) -> bool {
    value.contains("$(") || value.contains("${")
}

const VARIABLE_NOTE: &str = "left alone: the value is a build-setting reference";

pub(crate) fn edit_plist(bytes: &[u8], new: &str, path: &Path) -> Result<Edited, ApplyError> {
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
            let name = inner.split_once('+').map_or(inner, |(name, _)| name);
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
            old = Some(inner.to_owned());
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
    key: &'static str,
) -> Result<Edited, ApplyError> {
    let text = std::str::from_utf8(bytes).map_err(|_| ApplyError::BadContent {
        path: path.to_owned(),
        reason: "not UTF-8".to_owned(),
    })?;
    let key_name = key;
    let mut out = String::with_capacity(text.len() + 16);
    let mut olds: Vec<String> = Vec::new();
    let mut count = 0;
    let mut notes = Vec::new();
    for line in text.split_inclusive('\n') {
        let (body, eol) = split_eol(line);
        let indent_len = body.len() - body.trim_start().len();
        let rest = &body[indent_len..];
        let Some(after_key) = rest.strip_prefix(key_name) else {
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
            notes.push(format!("{key_name} {unquoted} {VARIABLE_NOTE}"));
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
        out.push_str(key_name);
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
        result: Some((out.into_bytes(), kind, key_name, olds, count)),
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
        let e = edit_settings(
            text.as_bytes(),
            new,
            Path::new("x"),
            kind,
            "CURRENT_PROJECT_VERSION",
        )
        .unwrap();
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
        let plan = plan_changes(
            root.path(),
            &BuildNumber::from_u64(2),
            &ApplyOptions::default(),
        )
        .unwrap()
        .items;
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
        let plan = plan_changes(
            root.path(),
            &BuildNumber::from_u64(2),
            &ApplyOptions::default(),
        )
        .unwrap()
        .items;
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
        let plan = plan_changes(
            root.path(),
            &BuildNumber::from_u64(2),
            &ApplyOptions::default(),
        )
        .unwrap()
        .items;
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
        let p = |s: &str| classify(Path::new(s)).is_some();
        assert!(p("App/Info.plist"));
        assert!(!p("App/GoogleService-Info.plist"));
        assert!(!p(
            "Vendor/Ads.xcframework/ios-arm64/Ads.framework/Info.plist"
        ));
        assert!(!p("Frameworks/Lib.framework/Info.plist"));
        assert!(!p("Res/Settings.bundle/Info.plist"));
        assert!(!p("out/App.app/PlugIns/W.appex/Info.plist"));
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
