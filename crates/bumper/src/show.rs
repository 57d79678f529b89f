//! `build-number show`: every chosen target's marketing version and build number per configuration, and where
//! each is defined — what `apply` works from — reading only.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::files::Files;
use crate::project::{
    ApplyError, FileKind, Note, TargetSelection, classify, pubspec_version, read, walk,
};
use crate::resolve::{BUILD, MARKETING, Resolver, Site, VersionKey};
use crate::xcode::{choose, read_projects, unchosen_test_note};

/// A version value as `show` reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Shown {
    /// The effective value (`None` when it cannot be resolved).
    pub value: Option<String>,
    /// Where it is defined: `Config/Base.xcconfig:3`, `App/Info.plist`, `App.xcodeproj (target App, Release)`.
    pub defined_in: Option<String>,
    /// The build settings followed to get there.
    pub via: Vec<String>,
    /// Why it cannot be resolved.
    pub problem: Option<String>,
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.value, &self.defined_in, &self.problem) {
            (Some(value), Some(defined_in), _) => {
                write!(f, "{value} ({defined_in}")?;
                if !self.via.is_empty() {
                    write!(f, " via {}", self.via.join(" -> "))?;
                }
                f.write_str(")")
            }
            (_, _, Some(problem)) => write!(f, "? ({problem})"),
            _ => f.write_str("?"),
        }
    }
}

/// One target and configuration as `show` reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ShownTarget {
    /// The `.xcodeproj`, relative to the project directory.
    pub project: PathBuf,
    /// The target.
    pub target: String,
    /// Its product type without `com.apple.product-type.` (`application`, `app-extension`, …).
    pub product_type: String,
    /// The build configuration.
    pub configuration: String,
    /// `CFBundleShortVersionString`.
    pub marketing_version: Shown,
    /// `CFBundleVersion`.
    pub build_number: Shown,
}

/// What `show` reports: what `apply` would change.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ShowReport {
    /// Every chosen target × configuration, in project order.
    pub targets: Vec<ShownTarget>,
    /// `pubspec.yaml`'s whole `version:` value, for a Flutter project.
    pub pubspec_version: Option<String>,
    /// Targets left out and other remarks.
    pub notes: Vec<Note>,
}

/// Resolves, reading only, every chosen target's marketing version and build number for each configuration.
pub fn show(project: &Path, selection: &TargetSelection) -> Result<ShowReport, ApplyError> {
    if !project.is_dir() {
        return Err(ApplyError::NotADirectory(project.to_owned()));
    }
    let root = std::fs::canonicalize(project).map_err(|source| ApplyError::Read {
        path: project.to_owned(),
        source,
    })?;
    let pubspec = root.join("pubspec.yaml");
    let flutter = pubspec.is_file();
    let pubspec_version = if flutter {
        let bytes = read(&pubspec)?;
        pubspec_version(&String::from_utf8_lossy(&bytes))
    } else {
        None
    };
    let mut all = Vec::new();
    walk(&root, 0, &mut all)?;
    all.sort();
    let pbxprojs: Vec<PathBuf> = all
        .into_iter()
        .filter(|abs| {
            matches!(
                classify(abs.strip_prefix(&root).unwrap_or(abs)),
                Some(FileKind::Pbxproj)
            )
        })
        .collect();
    if pbxprojs.is_empty() && !flutter {
        return Err(ApplyError::NothingFound(root));
    }
    let files = Files::new(&root);
    let projects = read_projects(&files, &pbxprojs)?;
    let chosen = choose(&projects, selection)?;
    let notes = unchosen_test_note(&projects, &chosen);
    let pubspec_build = pubspec_version
        .as_deref()
        .and_then(|v| v.split_once('+'))
        .map(|(_, b)| b.to_owned());
    let mut targets = Vec::new();
    for &(p, t, _) in &chosen {
        let loaded = &projects[p];
        let target = &loaded.project.targets[t];
        for config in &target.configurations {
            let resolver = Resolver::new(
                &files,
                &loaded.project,
                &loaded.pbxproj,
                target,
                config,
                flutter,
            );
            let shown = |key: VersionKey, flutter_value: Option<&str>| -> Shown {
                let found = match &resolver {
                    Ok(r) => r.find(key),
                    Err(e) => Err(e.clone()),
                };
                match found {
                    Ok(found) => Shown {
                        value: Some(match found.site {
                            Site::FlutterPending => flutter_value.unwrap_or("").to_owned(),
                            _ => found.value,
                        }),
                        defined_in: Some(found.defined_in),
                        via: found.via,
                        problem: None,
                    },
                    Err(problem) => Shown {
                        value: None,
                        defined_in: None,
                        via: Vec::new(),
                        problem: Some(problem),
                    },
                }
            };
            let marketing = pubspec_version
                .as_deref()
                .map(|v| v.split_once('+').map_or(v, |(name, _)| name));
            targets.push(ShownTarget {
                project: loaded.rel.clone(),
                target: target.name.clone(),
                product_type: target
                    .product_type
                    .strip_prefix("com.apple.product-type.")
                    .unwrap_or(&target.product_type)
                    .to_owned(),
                configuration: config.name.clone(),
                marketing_version: shown(MARKETING, marketing),
                build_number: shown(BUILD, pubspec_build.as_deref()),
            });
        }
    }
    Ok(ShowReport {
        targets,
        pubspec_version,
        notes,
    })
}
