//! The next-build-number decision (`shared/reference/app-store-connect.md` §4).
//!
//! Every build number App Store Connect has seen for the app and platform is a [`Candidate`]: processed builds
//! (any processing state, expired or not: the number is used either way) and build uploads that are not FAILED
//! (FAILED ones count with [`Policy::include_failed`]). Within the [`VersionScope`], the latest is the numeric maximum
//! and `next` follows the [`Strategy`], never below [`Policy::at_least`].

use std::fmt;

use serde::Serialize;

use crate::number::{BuildNumber, MarketingVersion, printable};

/// Where a build number was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// A processed build (`/v1/builds`).
    Build,
    /// A build upload (`/v1/apps/{id}/buildUploads`), possibly still processing.
    BuildUpload,
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SourceKind::Build => "build",
            SourceKind::BuildUpload => "build_upload",
        })
    }
}

/// One build number as the server reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Where it was seen.
    pub kind: SourceKind,
    /// CFBundleVersion text.
    pub build_number: String,
    /// CFBundleShortVersionString, when known.
    pub marketing_version: Option<String>,
    /// `processingState` of a build or `state` of an upload (e.g. `VALID`, `PROCESSING`, `FAILED`).
    pub state: String,
}

impl Candidate {
    /// A candidate.
    pub fn new(
        kind: SourceKind,
        build_number: &str,
        marketing_version: Option<&str>,
        state: &str,
    ) -> Self {
        Candidate {
            kind,
            build_number: build_number.to_owned(),
            marketing_version: marketing_version.map(str::to_owned),
            state: state.to_owned(),
        }
    }

    fn is_failed_upload(&self) -> bool {
        self.kind == SourceKind::BuildUpload && self.state == "FAILED"
    }
}

/// Which marketing-version train the number must be unique in.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum VersionScope {
    /// Across every version: monotonic, what most CI setups need.
    #[default]
    AllVersions,
    /// One train (`1.2` and `1.2.0` are the same).
    Version(MarketingVersion),
}

impl fmt::Display for VersionScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionScope::AllVersions => f.write_str("all"),
            VersionScope::Version(v) => v.fmt(f),
        }
    }
}

/// How `next` is made from `latest`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Increment the last component.
    #[default]
    Increment,
    /// Use this `YYYYMMDDHHMM` stamp (computed by the caller from its clock); falls back to incrementing when the
    /// latest number is already at or above it.
    Timestamp(BuildNumber),
}

/// The policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Version train.
    pub scope: VersionScope,
    /// Count FAILED uploads too.
    pub include_failed: bool,
    /// `next` when nothing was uploaded yet.
    pub initial: BuildNumber,
    /// How to go from latest to next.
    pub strategy: Strategy,
    /// `next` is at least this (e.g. the CI run number).
    pub at_least: Option<BuildNumber>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            scope: VersionScope::AllVersions,
            include_failed: false,
            initial: BuildNumber::from_u64(1),
            strategy: Strategy::Increment,
            at_least: None,
        }
    }
}

/// The highest number of one kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    /// Kind.
    pub kind: SourceKind,
    /// The number.
    pub build_number: BuildNumber,
    /// Its marketing version.
    pub marketing_version: Option<String>,
    /// Its state.
    pub state: String,
}

/// A candidate that was left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The candidate.
    pub candidate: Candidate,
    /// Why.
    pub reason: SkipReason,
}

/// Why a candidate was left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkipReason {
    /// The build number is not dotted numeric.
    NotNumeric,
    /// A FAILED upload without `include_failed`.
    Failed,
    /// Another version train.
    OtherVersion,
    /// The marketing version is unknown and a train was asked for.
    UnknownVersion,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.candidate;
        match self.reason {
            SkipReason::NotNumeric => write!(
                f,
                "ignored {} {}: not a dotted numeric build number",
                c.kind,
                printable(&c.build_number)
            ),
            SkipReason::Failed => write!(
                f,
                "ignored FAILED upload {} (use --include-failed to count it)",
                printable(&c.build_number)
            ),
            SkipReason::OtherVersion => {
                write!(
                    f,
                    "ignored {} {}: other version",
                    c.kind,
                    printable(&c.build_number)
                )
            }
            SkipReason::UnknownVersion => write!(
                f,
                "ignored {} {}: marketing version unknown",
                c.kind,
                printable(&c.build_number)
            ),
        }
    }
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The highest number seen in scope.
    pub latest: Option<BuildNumber>,
    /// The number to use next.
    pub next: BuildNumber,
    /// The highest number of each kind, builds first.
    pub sources: Vec<Source>,
    /// Candidates left out (numbers that do not parse are worth telling the user about).
    pub skipped: Vec<Skipped>,
}

/// The decision cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecideError {
    /// Incrementing overflowed.
    #[error("cannot increment build number {0}: a component would overflow")]
    Overflow(String),
    /// The next number is one App Store Connect would reject (more than three components).
    #[error(
        "the next build number would be {next}{}, which App Store Connect rejects (CFBundleVersion is at most three \
         period-separated integers); pass --at-least N with a valid number, e.g. the CI run number",
        latest.as_ref().map(|l| format!(" (after {l})")).unwrap_or_default()
    )]
    InvalidNext {
        /// The computed number.
        next: String,
        /// The latest number it came from, if any.
        latest: Option<String>,
    },
}

impl Decision {
    /// `next`, if it is a valid `CFBundleVersion`: the check for anything about to be uploaded or written. The server's
    /// history is parsed permissively (`1.2.3.4` exists there), so a number computed from it may not be valid.
    pub fn valid_next(&self) -> Result<&BuildNumber, DecideError> {
        let next = self.next.to_string();
        if ipagate_formats::info_plist::is_valid_bundle_version(&next) {
            Ok(&self.next)
        } else {
            Err(DecideError::InvalidNext {
                next,
                latest: self.latest.as_ref().map(ToString::to_string),
            })
        }
    }
}

/// Decides latest and next.
pub fn decide(candidates: &[Candidate], policy: &Policy) -> Result<Decision, DecideError> {
    let mut best: Vec<Source> = Vec::new();
    let mut skipped = Vec::new();
    for candidate in candidates {
        let skip = |reason| Skipped {
            candidate: candidate.clone(),
            reason,
        };
        if candidate.is_failed_upload() && !policy.include_failed {
            skipped.push(skip(SkipReason::Failed));
            continue;
        }
        if let VersionScope::Version(wanted) = &policy.scope {
            match candidate
                .marketing_version
                .as_deref()
                .map(MarketingVersion::parse)
            {
                Some(Ok(v)) if &v == wanted => {}
                Some(Ok(_)) => {
                    skipped.push(skip(SkipReason::OtherVersion));
                    continue;
                }
                _ => {
                    skipped.push(skip(SkipReason::UnknownVersion));
                    continue;
                }
            }
        }
        let Ok(number) = BuildNumber::parse(&candidate.build_number) else {
            skipped.push(skip(SkipReason::NotNumeric));
            continue;
        };
        let source = Source {
            kind: candidate.kind,
            build_number: number,
            marketing_version: candidate.marketing_version.clone(),
            state: candidate.state.clone(),
        };
        match best.iter_mut().find(|s| s.kind == candidate.kind) {
            Some(current) if current.build_number >= source.build_number => {}
            Some(current) => *current = source,
            None => best.push(source),
        }
    }
    best.sort_by_key(|s| s.kind);
    let latest = best.iter().map(|s| &s.build_number).max().cloned();
    let incremented = match &latest {
        Some(latest) => latest
            .increment()
            .ok_or_else(|| DecideError::Overflow(latest.to_string()))?,
        None => policy.initial.clone(),
    };
    let mut next = match &policy.strategy {
        Strategy::Increment => incremented,
        Strategy::Timestamp(stamp) => match &latest {
            Some(latest) if stamp <= latest => incremented,
            _ => stamp.clone(),
        },
    };
    if let Some(floor) = &policy.at_least
        && &next < floor
    {
        next = floor.clone();
    }
    Ok(Decision {
        latest,
        next,
        sources: best,
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: a 10 000-character build number from the server was printed whole in the note.
    #[test]
    fn server_text_in_notes_is_short_and_printable() {
        let huge = "9".repeat(10_000) + "x";
        let d = decide(
            &[
                c(SourceKind::Build, &huge, "1.0", "VALID"),
                c(SourceKind::Build, "4\u{1b}[31m\nb", "1.0", "VALID"),
                c(SourceKind::Build, "7", "1.0", "VALID"),
            ],
            &Policy::default(),
        )
        .unwrap();
        let notes: Vec<String> = d.skipped.iter().map(ToString::to_string).collect();
        assert_eq!(
            notes[0],
            format!(
                "ignored build \"{}\"…: not a dotted numeric build number",
                "9".repeat(80)
            )
        );
        assert_eq!(
            notes[1],
            "ignored build \"4\\u{1b}[31m\\nb\": not a dotted numeric build number"
        );
        assert!(
            notes
                .iter()
                .all(|n| n.chars().count() < 140 && !n.chars().any(char::is_control))
        );
    }

    #[test]
    fn a_next_number_app_store_connect_rejects_is_refused_with_its_origin() {
        let d = decide(
            &[c(SourceKind::Build, "1.2.3.4", "1.0", "VALID")],
            &Policy::default(),
        )
        .unwrap();
        assert_eq!(d.next.to_string(), "1.2.3.5");
        let err = d.valid_next().unwrap_err();
        assert!(
            err.to_string()
                .starts_with("the next build number would be 1.2.3.5 (after 1.2.3.4), which App Store Connect rejects"),
            "{err}"
        );
        let ok = decide(
            &[c(SourceKind::Build, "1.2.3", "1.0", "VALID")],
            &Policy::default(),
        )
        .unwrap();
        assert_eq!(ok.valid_next().unwrap().to_string(), "1.2.4");
    }

    fn c(kind: SourceKind, n: &str, v: &str, state: &str) -> Candidate {
        Candidate::new(kind, n, Some(v), state)
    }

    #[test]
    fn processing_upload_beats_processed_build() {
        let d = decide(
            &[
                c(SourceKind::Build, "41", "1.2.3", "VALID"),
                c(SourceKind::BuildUpload, "42", "1.2.3", "PROCESSING"),
            ],
            &Policy::default(),
        )
        .unwrap();
        assert_eq!(d.latest.unwrap().to_string(), "42");
        assert_eq!(d.next.to_string(), "43");
        assert_eq!(d.sources.len(), 2);
        assert_eq!(d.sources[0].kind, SourceKind::Build);
    }

    #[test]
    fn failed_uploads_only_when_asked() {
        let seen = [
            c(SourceKind::Build, "5", "1.0", "VALID"),
            c(SourceKind::BuildUpload, "9", "1.0", "FAILED"),
        ];
        assert_eq!(
            decide(&seen, &Policy::default()).unwrap().next.to_string(),
            "6"
        );
        let p = Policy {
            include_failed: true,
            ..Policy::default()
        };
        assert_eq!(decide(&seen, &p).unwrap().next.to_string(), "10");
    }

    #[test]
    fn version_scope_aliases_and_filters() {
        let seen = [
            c(SourceKind::Build, "7", "1.2", "VALID"),
            c(SourceKind::BuildUpload, "3", "1.2.0", "COMPLETE"),
            c(SourceKind::Build, "99", "2.0", "VALID"),
        ];
        let p = Policy {
            scope: VersionScope::Version(MarketingVersion::parse("1.2.0").unwrap()),
            ..Policy::default()
        };
        let d = decide(&seen, &p).unwrap();
        assert_eq!(d.latest.unwrap().to_string(), "7");
        assert_eq!(
            decide(&seen, &Policy::default())
                .unwrap()
                .latest
                .unwrap()
                .to_string(),
            "99"
        );
    }

    #[test]
    fn non_numeric_numbers_are_skipped_and_dotted_ones_compare() {
        let seen = [
            c(SourceKind::Build, "4.69.0", "1.0", "VALID"),
            c(SourceKind::Build, "20302", "1.0", "VALID"),
            c(SourceKind::Build, "abc", "1.0", "VALID"),
        ];
        let d = decide(&seen, &Policy::default()).unwrap();
        assert_eq!(d.latest.unwrap().to_string(), "20302");
        assert_eq!(d.skipped.len(), 1);
        assert_eq!(d.skipped[0].reason, SkipReason::NotNumeric);
    }

    #[test]
    fn initial_timestamp_and_at_least() {
        let none = decide(
            &[],
            &Policy {
                initial: BuildNumber::from_u64(100),
                ..Policy::default()
            },
        )
        .unwrap();
        assert_eq!(
            (none.latest, none.next.to_string()),
            (None, "100".to_owned())
        );
        let seen = [c(SourceKind::Build, "41", "1.0", "VALID")];
        let stamp = BuildNumber::parse("202601020304").unwrap();
        let p = Policy {
            strategy: Strategy::Timestamp(stamp.clone()),
            ..Policy::default()
        };
        assert_eq!(decide(&seen, &p).unwrap().next, stamp);
        let above = [c(SourceKind::Build, "202601020304", "1.0", "VALID")];
        assert_eq!(decide(&above, &p).unwrap().next.to_string(), "202601020305");
        let p = Policy {
            at_least: Some(BuildNumber::from_u64(500)),
            ..Policy::default()
        };
        assert_eq!(decide(&seen, &p).unwrap().next.to_string(), "500");
    }
}
