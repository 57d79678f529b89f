//! # ipagate-formats
//!
//! Reads an iOS app package — an `.ipa`, a zipped `.app`, an unpacked `.app` folder or an
//! `.xcarchive` — into **facts**: the bundle tree, each bundle's `Info.plist` (XML or binary),
//! and archive-level observations. No judgement happens here: `ipagate-rules` turns facts into
//! diagnostics. A package that cannot be read at all is an [`OpenError`]; a package that is
//! readable but wrong yields facts.
//!
//! Untrusted input is bounded by [`Limits`] before anything is allocated: entry counts, declared
//! sizes, compression ratios, name lengths, path depth, plist size and nesting.
//!
//! ```no_run
//! use ipagate_formats::{inspect, Limits, Package};
//!
//! let package = Package::open("fixtures/Demo.ipa".as_ref(), &Limits::default())?;
//! let facts = inspect(&package)?;
//! println!("{} bundles, app at {}", facts.bundles.len(), facts.app().path);
//! # Ok::<(), ipagate_formats::OpenError>(())
//! ```
//!
//! The CMS signatures of code signatures and provisioning profiles are verified, and their chains
//! followed to Apple's roots pinned in `crates/formats/roots/` ([`trust`]); the verdict is a fact
//! (`Signature::trust`, `Profile::trust`) that the rules judge. Tests pass their own root with
//! [`inspect_trusting`].
//!
//! Later readers (Mach-O, code signature, profiles, `Assets.car`) live here too and read the
//! entries they need through [`Package::read`] (a bounded whole read), [`Package::open_entry`]
//! (a bounded, CRC-checked stream), [`Package::random_access`] (a [`io::ReadAt`] view of a stored
//! entry) or [`Package::stream`] (one inflate feeding several consumers); all are safe to call
//! from many threads at once.
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod binaries;
pub mod binstream;
pub mod codesign;
mod error;
mod facts;
mod folder;
pub mod icons;
pub mod info_plist;
pub mod io;
mod limits;
pub mod macho;
mod names;
mod package;
mod par;
pub mod png;
pub mod privacy;
pub mod profile;
pub mod sanitize;
pub mod seal;
pub mod source;
pub mod symbols;
pub mod textpos;
pub mod trust;
mod zipdir;

pub use error::{EntryError, OpenError, OpenErrorKind};
pub use facts::{
    ArchiveFacts, Bundle, BundleKind, Facts, InfoPlist, InfoPlistState, LocalizedInfo,
    SuspiciousName, Symlink, Tiers, Unpackable, inspect, inspect_trusting, inspect_with,
};
pub use info_plist::{Capabilities, PlistFormat, Text};
pub use io::{EntryDataError, EntryReader, EntrySlice, FileSource, ReadAt};
pub use limits::Limits;
pub use package::{ArchiveStats, Entry, EntryRef, Layout, Package};
