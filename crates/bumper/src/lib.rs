//! Build numbers: how to compare them, which one comes next, and how to write one into a project.
//!
//! Writing is [`apply`] ([`project`]): for Xcode projects it reads [`pbxproj`] and [`xcconfig`] files, resolves
//! each shipping target's build settings as Xcode does ([`settings`], [`resolve`]), changes the places that define
//! the effective `CFBundleVersion` and checks the result before writing; [`show()`] reports the same resolution.
//!
//! This crate is offline. The App Store Connect side (`ipagate-asc`) fetches builds and uploads; the CLI turns them
//! into [`Candidate`]s and [`decide`] applies the policy of `shared/reference/app-store-connect.md` §4:
//! maximum over processed builds **and** uploads still in flight, compared by dotted numeric components
//! ([`BuildNumber`], never strings), marketing versions `1.2` and `1.2.0` being the same train.
//!
//! ```
//! use ipagate_bumper::{decide, BuildNumber, Candidate, Policy, SourceKind};
//! let seen = vec![
//!     Candidate::new(SourceKind::Build, "9", Some("1.0"), "VALID"),
//!     Candidate::new(SourceKind::BuildUpload, "10", Some("1.0"), "PROCESSING"),
//! ];
//! let decision = decide(&seen, &Policy::default()).unwrap();
//! assert_eq!(decision.latest.unwrap().to_string(), "10"); // "9" > "10" as strings; not here
//! assert_eq!(decision.next.to_string(), "11");
//! ```
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod decide;
pub mod files;
pub mod number;
pub mod pbxproj;
pub mod project;
pub mod resolve;
pub mod settings;
pub mod show;
pub mod targets;
pub mod xcconfig;
mod xcode;

pub use decide::{
    Candidate, DecideError, Decision, Policy, SourceKind, Strategy, VersionScope, decide,
};
pub use number::{BuildNumber, MarketingVersion, ParseError, printable};
pub use project::{
    ANDROID_MAX_VERSION_CODE, ApplyError, ApplyOptions, ApplyReport, Change, ChangeKind, Note,
    TargetFailure, TargetRef, TargetSelection, apply,
};
pub use show::{ShowReport, Shown, ShownTarget, show};
