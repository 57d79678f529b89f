//! The readers under test. A new reader registers with one line in [`all`]: a [`Target`] naming
//! its inputs (fixtures built in code, corpus files by extension), where its offsets live, and
//! how to run it on bytes.

use std::ops::Range;
use std::path::Path;

use ipagate_formats::{Limits, Package, inspect};

/// What a reader made of one input: facts (with the diagnostics the rules drew from them), or one
/// clean error. Anything else — a panic, a hang, memory past the budget — is a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Readable: facts, judged.
    Facts {
        /// Diagnostics the rules reported.
        diagnostics: usize,
        /// Entries (or parts) that could not be read: facts about the input, not failures.
        unreadable_parts: usize,
    },
    /// Not readable at all, said in one line.
    Error(String),
}

/// One reader the harness mutates inputs for.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// Short name, used in saved mutants' file names.
    pub name: &'static str,
    /// Corpus files this reader takes, by extension (lower case, without the dot).
    pub corpus_extensions: &'static [&'static str],
    /// Inputs built in code: (name, bytes).
    pub fixtures: fn() -> Vec<(String, Vec<u8>)>,
    /// Byte ranges that hold offsets, sizes and counts: mutations lean on them.
    pub hotspots: fn(&[u8]) -> Vec<Range<usize>>,
    /// Runs the reader (and the rules, where there are any) on one input.
    pub run: fn(&[u8]) -> Outcome,
}

impl Target {
    /// A target: name, corpus extensions, fixtures, hotspots, run.
    pub const fn new(
        name: &'static str,
        corpus_extensions: &'static [&'static str],
        fixtures: fn() -> Vec<(String, Vec<u8>)>,
        hotspots: fn(&[u8]) -> Vec<Range<usize>>,
        run: fn(&[u8]) -> Outcome,
    ) -> Target {
        Target {
            name,
            corpus_extensions,
            fixtures,
            hotspots,
            run,
        }
    }
}

/// Every registered reader, one line each.
pub fn all() -> Vec<Target> {
    vec![
        Target::new("ipa", &["ipa"], ipa_fixtures, zip_hotspots, run_ipa),
        Target::new(
            "plist",
            &["plist", "xcprivacy"],
            plist_fixtures,
            plist_hotspots,
            run_plist,
        ),
    ]
}

/// The registered reader called `name`.
pub fn by_name(name: &str) -> Option<Target> {
    all().into_iter().find(|t| t.name == name)
}

/// An error and its causes on one line.
pub fn one_line(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn ipa_fixtures() -> Vec<(String, Vec<u8>)> {
    use ipagate_fixtures::Expect;
    ipagate_fixtures::scenarios()
        .into_iter()
        .filter(|s| matches!(s.expect, Expect::Pass | Expect::Trips(_)))
        .map(|s| (s.name.to_string(), s.bytes()))
        .collect()
}

/// The end record(s) and the central directory: every offset, size and count of a zip.
fn zip_hotspots(bytes: &[u8]) -> Vec<Range<usize>> {
    let Some(eocd) = bytes
        .windows(4)
        .rposition(|w| w == [0x50, 0x4b, 0x05, 0x06])
    else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(2);
    out.push(eocd..(eocd + 22).min(bytes.len()));
    if let Some(field) = bytes.get(eocd + 16..eocd + 20) {
        let cd = u32::from_le_bytes([field[0], field[1], field[2], field[3]]) as usize;
        if cd < eocd {
            out.push(cd..eocd);
        }
    }
    out
}

fn run_ipa(bytes: &[u8]) -> Outcome {
    let package =
        match Package::from_bytes(Path::new("mutant.ipa"), bytes.to_vec(), &Limits::default()) {
            Ok(p) => p,
            Err(e) => return Outcome::Error(one_line(&e)),
        };
    let facts = match inspect(&package) {
        Ok(f) => f,
        Err(e) => return Outcome::Error(one_line(&e)),
    };
    let ctx = ipagate_rules::Context {
        distribution: ipagate_rules::Distribution::AppStore,
        as_of: chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap_or_default(),
    };
    let diagnostics = ipagate_rules::check(&facts, &ctx, &ipagate_rules::Config::default()).len();
    // Every entry's bytes through the streaming reader too: a corrupt stream is a fact.
    let mut unreadable_parts = 0;
    for entry in package.entries().iter().filter(|e| !e.is_dir).take(512) {
        if package
            .stream(entry, 16 << 20, &mut [&mut std::io::sink()])
            .is_err()
        {
            unreadable_parts += 1;
        }
    }
    Outcome::Facts {
        diagnostics,
        unreadable_parts,
    }
}

fn plist_fixtures() -> Vec<(String, Vec<u8>)> {
    use ipagate_fixtures::Bundle;
    use ipagate_fixtures::plist::{PlistFormat, encode};
    let bundles = [
        Bundle::app("Demo", "com.example.demo"),
        Bundle::appex("Share", "com.example.demo.share"),
        Bundle::framework("Kit", "com.example.kit"),
    ];
    let mut out = Vec::new();
    for b in &bundles {
        out.push((
            format!("{}-xml", b.dir_name()),
            encode(b.info(), PlistFormat::Xml),
        ));
        out.push((
            format!("{}-binary", b.dir_name()),
            encode(b.info(), PlistFormat::Binary),
        ));
    }
    out
}

/// A binary plist's trailer and offset table (sizes, counts, offsets); nothing for XML.
fn plist_hotspots(bytes: &[u8]) -> Vec<Range<usize>> {
    if !bytes.starts_with(b"bplist00") || bytes.len() < 40 {
        return Vec::new();
    }
    let trailer = bytes.len() - 32;
    let mut table = [0u8; 8];
    table.copy_from_slice(&bytes[trailer + 24..trailer + 32]);
    let table = u64::from_be_bytes(table) as usize;
    let mut out = Vec::with_capacity(2);
    out.push(trailer..bytes.len());
    if table < trailer {
        out.push(table..trailer);
    }
    out
}

fn run_plist(bytes: &[u8]) -> Outcome {
    match ipagate_formats::info_plist::parse_dictionary(bytes) {
        Ok((_, dict)) => Outcome::Facts {
            diagnostics: 0,
            unreadable_parts: usize::from(dict.is_empty()),
        },
        Err(e) => Outcome::Error(e.0),
    }
}
