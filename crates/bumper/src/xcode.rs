//! Planning a build number for Xcode projects: which targets are chosen, each one's resolved `CFBundleVersion`
//! per configuration ([`crate::resolve`]), the edits at the places that define it, and the check that the planned
//! contents resolve to the new number for every chosen target before anything is written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::files::Files;
use crate::number::BuildNumber;
use crate::pbxproj::{self, Project};
use crate::project::{
    ApplyError, ApplyOptions, Change, ChangeKind, Note, Plan, Planned, TargetFailure, TargetRef,
    TargetSelection, edit_plist, in_dependency, plan_pubspec, pubspec_version, read,
};
use crate::resolve::{BUILD, Found, Resolver, Site, TargetKind, target_kind};

/// The Xcode way: resolve, edit the defining places, resolve again.
pub(crate) fn plan(
    root: &Path,
    pbxprojs: &[PathBuf],
    number: &BuildNumber,
    options: &ApplyOptions,
    flutter: bool,
) -> Result<Plan, ApplyError> {
    let files = Files::new(root);
    let projects = read_projects(&files, pbxprojs)?;
    let chosen = choose(&projects, &options.targets)?;
    if chosen.is_empty() && !flutter {
        return Err(ApplyError::NoShippingTarget(
            projects.iter().map(|p| p.rel.clone()).collect(),
        ));
    }
    let mut notes = unchosen_test_note(&projects, &chosen);
    let resolved = resolve_all(&files, &projects, &chosen, flutter, &mut notes)?;
    let new = number.to_string();
    let mut plan = Plan {
        items: edit_sites(&files, &resolved, &new)?,
        notes,
        targets: Vec::new(),
    };
    if flutter {
        // Before the check: a target waiting for `flutter build` gets the pubspec's number.
        plan_pubspec(root, &root.join("pubspec.yaml"), &new, &mut plan)?;
    }
    if resolved
        .iter()
        .any(|r| matches!(r.found.site, Site::FlutterPending))
    {
        plan.notes.push(Note {
            path: PathBuf::from("ios/Flutter/Generated.xcconfig"),
            message:
                "not present: `flutter build ios` writes FLUTTER_BUILD_NUMBER from pubspec.yaml"
                    .to_owned(),
        });
    }
    verify(&files, &projects, &chosen, flutter, &plan, &new)?;
    for r in &resolved {
        let target = TargetRef {
            project: r.project.clone(),
            target: r.target.clone(),
        };
        if !plan.targets.contains(&target) {
            plan.targets.push(target);
        }
    }
    Ok(plan)
}

pub(crate) struct LoadedProject {
    /// The `.xcodeproj`, relative.
    pub(crate) rel: PathBuf,
    /// Its `project.pbxproj`, absolute.
    pub(crate) pbxproj: PathBuf,
    pub(crate) project: Project,
}

pub(crate) fn read_projects(
    files: &Files,
    pbxprojs: &[PathBuf],
) -> Result<Vec<LoadedProject>, ApplyError> {
    let mut out = Vec::new();
    for abs in pbxprojs {
        let rel = files.relative(abs).unwrap_or_else(|| abs.clone());
        let bad = |reason: String| ApplyError::BadContent {
            path: rel.clone(),
            reason,
        };
        let bytes = files.get(abs).map_err(bad)?.unwrap_or_default();
        let text = std::str::from_utf8(&bytes).map_err(|_| bad("not UTF-8".to_owned()))?;
        let xcodeproj = abs.parent().unwrap_or(abs);
        let project = pbxproj::read_project(text, xcodeproj).map_err(|e| bad(e.to_string()))?;
        out.push(LoadedProject {
            rel: rel.parent().map(Path::to_owned).unwrap_or_default(),
            pbxproj: abs.clone(),
            project,
        });
    }
    Ok(out)
}

/// (project index, target index) pairs chosen, and whether a failure of each is fatal.
pub(crate) type Chosen = Vec<(usize, usize, bool)>;

pub(crate) fn choose(
    projects: &[LoadedProject],
    selection: &TargetSelection,
) -> Result<Chosen, ApplyError> {
    let mut chosen = Vec::new();
    for (p, loaded) in projects.iter().enumerate() {
        for (t, target) in loaded.project.targets.iter().enumerate() {
            let kind = target_kind(&target.product_type);
            match selection {
                TargetSelection::Shipping if kind == TargetKind::Shipping => {
                    chosen.push((p, t, true))
                }
                TargetSelection::All => chosen.push((p, t, kind == TargetKind::Shipping)),
                TargetSelection::Named(names) if names.contains(&target.name) => {
                    chosen.push((p, t, true))
                }
                _ => {}
            }
        }
    }
    if let TargetSelection::Named(names) = selection {
        let available: Vec<String> = projects
            .iter()
            .flat_map(|l| l.project.targets.iter().map(|t| t.name.clone()))
            .collect();
        if let Some(name) = names.iter().find(|n| !available.contains(n)) {
            return Err(ApplyError::UnknownTarget {
                name: name.clone(),
                available,
            });
        }
    }
    Ok(chosen)
}

pub(crate) fn unchosen_test_note(projects: &[LoadedProject], chosen: &Chosen) -> Vec<Note> {
    let mut notes = Vec::new();
    for (p, loaded) in projects.iter().enumerate() {
        let left: Vec<&str> = loaded
            .project
            .targets
            .iter()
            .enumerate()
            .filter(|(t, target)| {
                target_kind(&target.product_type) == TargetKind::Test
                    && !chosen.iter().any(|&(cp, ct, _)| cp == p && ct == *t)
            })
            .map(|(_, target)| target.name.as_str())
            .collect();
        if !left.is_empty() {
            notes.push(Note {
                path: loaded.rel.clone(),
                message: format!(
                    "test targets left alone: {} (--all-targets or --target NAME to include them)",
                    left.join(", ")
                ),
            });
        }
    }
    notes
}

/// One chosen target and configuration, resolved.
struct Resolved {
    project: PathBuf,
    target: String,
    configuration: String,
    found: Found,
}

/// A Run Script phase that rewrites the built Info.plist's build number (PlistBuddy, plutil, defaults, agvtool):
/// the value that ships is decided at build time, not by the files.
fn script_setting_version(target: &pbxproj::Target) -> Option<&str> {
    target.scripts.iter().find_map(|phase| {
        let s = &phase.script;
        let writes_plist = s.contains("CFBundleVersion")
            && (s.contains("PlistBuddy") || s.contains("plutil") || s.contains("defaults write"));
        let agvtool = s.contains("agvtool new-version")
            || s.contains("agvtool next-version")
            || s.contains("agvtool bump");
        (writes_plist || agvtool).then_some(phase.name.as_str())
    })
}

/// Resolves every chosen target and configuration; a fatal failure of any is an error listing all of them.
fn resolve_all(
    files: &Files,
    projects: &[LoadedProject],
    chosen: &Chosen,
    flutter: bool,
    notes: &mut Vec<Note>,
) -> Result<Vec<Resolved>, ApplyError> {
    let mut resolved = Vec::new();
    let mut failures = Vec::new();
    for &(p, t, fatal) in chosen {
        let loaded = &projects[p];
        let target = &loaded.project.targets[t];
        let mut fail = |configuration: &str, reason: String| {
            if fatal {
                failures.push(TargetFailure {
                    project: loaded.rel.clone(),
                    target: target.name.clone(),
                    configuration: configuration.to_owned(),
                    reason,
                });
            } else {
                notes.push(Note {
                    path: loaded.rel.clone(),
                    message: format!(
                        "target {} ({configuration}) left alone: {reason}",
                        target.name
                    ),
                });
            }
        };
        if target.configurations.is_empty() {
            fail("-", "the target has no build configurations".to_owned());
            continue;
        }
        if let Some(phase) = script_setting_version(target) {
            for config in &target.configurations {
                fail(
                    &config.name,
                    format!(
                        "its build phase {phase:?} sets CFBundleVersion while building, so the files do not decide it"
                    ),
                );
            }
            continue;
        }
        for config in &target.configurations {
            let found = Resolver::new(
                files,
                &loaded.project,
                &loaded.pbxproj,
                target,
                config,
                flutter,
            )
            .and_then(|r| r.find(BUILD))
            .and_then(|found| editable(files, found));
            match found {
                Ok(found) => resolved.push(Resolved {
                    project: loaded.rel.clone(),
                    target: target.name.clone(),
                    configuration: config.name.clone(),
                    found,
                }),
                Err(reason) => fail(&config.name, reason),
            }
        }
    }
    if failures.is_empty() {
        Ok(resolved)
    } else {
        Err(ApplyError::Unresolved { failures })
    }
}

/// Refuses a defining place ipagate must not write: outside the project, a symbolic link, a dependency's file.
fn editable(files: &Files, found: Found) -> Result<Found, String> {
    let file = match &found.site {
        Site::Plist { file } | Site::Setting { file, .. } => file,
        Site::FlutterPending => return Ok(found),
    };
    let Some(rel) = files.relative(file) else {
        return Err(format!(
            "it is defined in {}, outside the project directory (pass a --project that contains it)",
            file.display()
        ));
    };
    if let Some(dir) = in_dependency(files.root(), &rel) {
        return Err(format!(
            "it is defined in {}, inside {dir}/, which its package manager or build regenerates",
            rel.display()
        ));
    }
    if std::fs::symlink_metadata(file).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(format!(
            "it is defined in {}, a symbolic link (pass --project at the file it points to)",
            rel.display()
        ));
    }
    Ok(found)
}

/// New contents of every file holding a defining place whose value is not already `new`.
fn edit_sites(files: &Files, resolved: &[Resolved], new: &str) -> Result<Vec<Planned>, ApplyError> {
    // file → (plist key edited?, setting spans: start → (end, key, old, pbxproj))
    type Spans = BTreeMap<usize, (usize, String, String, bool)>;
    let mut per_file: BTreeMap<PathBuf, (bool, Spans)> = BTreeMap::new();
    for r in resolved {
        if r.found.value == new {
            continue;
        }
        match &r.found.site {
            Site::Plist { file } => per_file.entry(file.clone()).or_default().0 = true,
            Site::Setting {
                file,
                key,
                start,
                end,
                pbxproj,
            } => {
                per_file
                    .entry(file.clone())
                    .or_default()
                    .1
                    .insert(*start, (*end, key.clone(), r.found.value.clone(), *pbxproj));
            }
            Site::FlutterPending => {}
        }
    }
    let mut items = Vec::new();
    for (abs, (plist, spans)) in per_file {
        let rel = files.relative(&abs).unwrap_or_else(|| abs.clone());
        let original = read(&abs)?;
        if plist {
            let edited = edit_plist(&original, new, &rel)?;
            if let Some((content, kind, key, old, occurrences)) = edited.result {
                items.push(Planned {
                    abs,
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
            continue;
        }
        let mut content = original.clone();
        let (mut keys, mut olds, mut pbx) = (Vec::<String>::new(), Vec::<String>::new(), false);
        for (&start, (end, key, old, is_pbxproj)) in spans.iter().rev() {
            let Some(token) = content.get(start..*end) else {
                return Err(ApplyError::BadContent {
                    path: rel,
                    reason: "changed while it was being read".to_owned(),
                });
            };
            let quoted = token.len() >= 2 && token.starts_with(b"\"") && token.ends_with(b"\"");
            let replacement = if quoted {
                format!("\"{new}\"")
            } else if *is_pbxproj {
                pbxproj::quote(new)
            } else {
                new.to_owned()
            };
            content.splice(start..*end, replacement.into_bytes());
            if !keys.contains(key) {
                keys.insert(0, key.clone());
            }
            if !olds.contains(old) {
                olds.insert(0, old.clone());
            }
            pbx = *is_pbxproj;
        }
        items.push(Planned {
            abs,
            original,
            content,
            change: Change {
                path: rel,
                kind: if pbx {
                    ChangeKind::Pbxproj
                } else {
                    ChangeKind::Xcconfig
                },
                key: keys.join(", "),
                old: olds,
                new: new.to_owned(),
                occurrences: spans.len(),
            },
        });
    }
    Ok(items)
}

/// Resolves the chosen targets again against the planned contents: each must now yield `new`.
fn verify(
    files: &Files,
    projects: &[LoadedProject],
    chosen: &Chosen,
    flutter: bool,
    plan: &Plan,
    new: &str,
) -> Result<(), ApplyError> {
    let planned = files.overlaid(
        plan.items
            .iter()
            .map(|p| (p.abs.clone(), p.content.clone())),
    );
    let pubspec_build = plan
        .items
        .iter()
        .find(|p| p.change.kind == ChangeKind::Pubspec)
        .and_then(|p| pubspec_version(&String::from_utf8_lossy(&p.content)))
        .and_then(|v| v.split_once('+').map(|(_, b)| b.to_owned()));
    // The pbxproj files may be among the planned ones: read them again from the planned contents.
    let pbxprojs: Vec<PathBuf> = projects.iter().map(|p| p.pbxproj.clone()).collect();
    let projects = read_projects(&planned, &pbxprojs)?;
    let mut ignored = Vec::new();
    let resolved = resolve_all(&planned, &projects, chosen, flutter, &mut ignored)?;
    let failures: Vec<TargetFailure> = resolved
        .into_iter()
        .filter_map(|r| {
            let effective = match r.found.site {
                Site::FlutterPending => pubspec_build.clone().unwrap_or_default(),
                _ => r.found.value.clone(),
            };
            (effective != new).then(|| TargetFailure {
                project: r.project,
                target: r.target,
                configuration: r.configuration,
                reason: format!("it would be {effective:?} (from {})", r.found.defined_in),
            })
        })
        .collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(ApplyError::Unverified {
            number: new.to_owned(),
            failures,
        })
    }
}
