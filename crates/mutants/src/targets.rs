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
#[rustfmt::skip] // one line per reader: registering a new one is adding a line
pub fn all() -> Vec<Target> {
    vec![
        Target::new("ipa", &["ipa"], ipa_fixtures, zip_hotspots, run_ipa),
        Target::new("plist", &["plist", "xcprivacy"], plist_fixtures, plist_hotspots, run_plist),
        Target::new("macho", &["dylib", "macho"], macho_fixtures, macho_hotspots, run_macho),
        Target::new("macho_stream", &["dylib", "macho"], macho_fixtures, macho_hotspots, run_macho_stream),
        Target::new("car", &["car"], car_fixtures, bom_hotspots, run_car),
        Target::new("png", &["png"], png_fixtures, png_hotspots, run_png),
        Target::new("profile", &["mobileprovision", "provisionprofile"], profile_fixtures, profile_hotspots, run_profile),
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
    let Ok(data) = ipagate_rules::data::Data::embedded() else {
        return Outcome::Error("the embedded rule data does not parse".into());
    };
    let ctx = ipagate_rules::Context {
        distribution: ipagate_rules::Distribution::AppStore,
        as_of: chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap_or_default(),
        data: std::sync::Arc::new(data),
    };
    let diagnostics = ipagate_rules::check(&facts, &ctx, &ipagate_rules::Config::default()).len();
    // Every entry's bytes through the streaming reader too: a corrupt stream is a fact.
    let mut unreadable_parts = 0;
    for entry in package.entries().filter(|e| !e.is_dir).take(512) {
        if package
            .stream(&entry, 16 << 20, &mut [&mut std::io::sink()])
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

/// Mach-O files of the corpus have no extension (`FMDB.framework_FMDB`): they are taken from its
/// `macho/` folder by magic, besides the fixtures' executables.
fn macho_fixtures() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    if let Some(root) = std::env::var_os("IPAGATE_CORPUS") {
        let mut files = Vec::new();
        crate::walk(&Path::new(&root).join("macho"), 0, &mut files);
        files.sort();
        for file in files {
            if let Ok(bytes) = std::fs::read(&file)
                && ipagate_formats::macho::sniff(&bytes)
            {
                out.push((file.display().to_string(), bytes));
            }
        }
    }
    // The fixture apps' executables (thin Mach-O as the fixture builder writes them).
    for s in ipagate_fixtures::scenarios().into_iter().take(3) {
        if let Ok(p) = Package::from_bytes(Path::new("f.ipa"), s.bytes(), &Limits::default()) {
            for e in p.entries() {
                if let Ok(bytes) = p.read(&e, 1 << 20)
                    && ipagate_formats::macho::sniff(&bytes)
                {
                    out.push((format!("{}:{}", s.name, e.path), bytes));
                }
            }
        }
    }
    out
}

/// The header, load commands and fat table: the first 4 KiB, and the start of each fat slice.
fn macho_hotspots(bytes: &[u8]) -> Vec<Range<usize>> {
    let mut out = Vec::with_capacity(4);
    out.push(0..bytes.len().min(4096));
    if let Ok(file) = ipagate_formats::macho::parse(bytes) {
        for s in &file.slices {
            let start = usize::try_from(s.offset).unwrap_or(usize::MAX);
            if start > 0 && start < bytes.len() {
                out.push(start..bytes.len().min(start + 4096));
            }
            if let Some(cs) = s.code_signature {
                let at = start.saturating_add(cs.dataoff as usize);
                if at < bytes.len() {
                    out.push(at..bytes.len().min(at + 1024));
                    // The CMS blob (certificates, signed attributes, signature): the trust check.
                    if let Some(cms) = bytes[at..]
                        .windows(4)
                        .position(|w| w == [0xfa, 0xde, 0x0b, 0x01])
                    {
                        let cms = at + cms;
                        out.push(cms..bytes.len().min(cms + 2048));
                    }
                }
            }
        }
    }
    out
}

fn run_macho(bytes: &[u8]) -> Outcome {
    let file = match ipagate_formats::macho::parse(bytes) {
        Ok(f) => f,
        Err(e) => return Outcome::Error(one_line(&e)),
    };
    let mut unreadable_parts = file.problems.len();
    for slice in &file.slices {
        unreadable_parts += usize::from(slice.problem.is_some());
        if let (Some(cs), Some(data)) = (slice.code_signature, slice.bytes(bytes))
            && ipagate_formats::codesign::parse_in_slice(data, cs.dataoff, cs.datasize).is_err()
        {
            unreadable_parts += 1;
        }
        if let Some(data) = slice.bytes(bytes)
            && ipagate_formats::symbols::scan(data).is_err()
        {
            unreadable_parts += 1;
        }
    }
    Outcome::Facts {
        diagnostics: 0,
        unreadable_parts,
    }
}

/// The mutant as the executable of a one-bundle IPA (stored, so the zip adds no work), read twice:
/// whole, and streamed ([`ipagate_formats::binstream`]: only the parsed ranges kept, pages
/// digested while inflating). Both must end cleanly and find the same facts; a difference is a
/// panic, so the harness keeps the mutant.
fn run_macho_stream(bytes: &[u8]) -> Outcome {
    use ipagate_fixtures::zip::{Entry, Method, ZipWriter};
    let info = concat!(
        r#"<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><dict>"#,
        "<key>CFBundleIdentifier</key><string>com.example.m</string>",
        "<key>CFBundleExecutable</key><string>M</string>",
        "<key>CFBundleShortVersionString</key><string>1.0</string>",
        "<key>CFBundleVersion</key><string>1</string>",
        "</dict></plist>"
    );
    let mut zip = ZipWriter::new(Vec::with_capacity(bytes.len() + 1024));
    let entries = [
        Entry::file("Payload/M.app/Info.plist", info.as_bytes().to_vec()),
        Entry::file("Payload/M.app/M", bytes.to_vec()).method(Method::Stored),
    ];
    for e in &entries {
        if let Err(e) = zip.add(e) {
            return Outcome::Error(one_line(&e));
        }
    }
    let ipa = match zip.finish(&ipagate_fixtures::zip::Tail::default()) {
        Ok(out) => out,
        Err(e) => return Outcome::Error(one_line(&e)),
    };
    let read = |below: u64| {
        let limits = Limits {
            binary_in_memory_below: below,
            ..Limits::default()
        };
        let package = Package::from_bytes(Path::new("mutant.ipa"), ipa.clone(), &limits)
            .map_err(|e| one_line(&e))?;
        ipagate_formats::inspect_with(&package, ipagate_formats::Tiers::ALL)
            .map_err(|e| one_line(&e))
    };
    let (whole, streamed) = match (read(u64::MAX), read(0)) {
        (Ok(w), Ok(s)) => (w, s),
        (Err(w), Err(s)) if w == s => return Outcome::Error(w),
        (w, s) => panic!(
            "whole and streamed reads end differently: {:?} / {:?}",
            w.err(),
            s.err()
        ),
    };
    assert!(
        whole.binaries == streamed.binaries && whole.not_macho == streamed.not_macho,
        "streamed facts differ from whole-file facts"
    );
    let unreadable_parts = whole
        .binaries
        .iter()
        .map(|b| {
            b.problems.len()
                + b.slices
                    .iter()
                    .filter(|s| s.macho.problem.is_some())
                    .count()
        })
        .sum::<usize>()
        + whole.not_macho.len();
    Outcome::Facts {
        diagnostics: 0,
        unreadable_parts,
    }
}

fn car_fixtures() -> Vec<(String, Vec<u8>)> {
    vec![
        ("ios-catalog".into(), ipagate_fixtures::icons::ios_catalog()),
        (
            "watch-catalog".into(),
            ipagate_fixtures::icons::watch_catalog(),
        ),
        (
            "single-size".into(),
            ipagate_fixtures::icons::single_size_catalog(),
        ),
    ]
}

/// The BOM header (block table and variables offsets) and the block table itself.
fn bom_hotspots(bytes: &[u8]) -> Vec<Range<usize>> {
    let mut out = Vec::with_capacity(2);
    out.push(0..bytes.len().min(32));
    if let Some(h) = bytes.get(16..24) {
        let at = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize;
        if at < bytes.len() {
            out.push(at..bytes.len().min(at.saturating_add(len)));
        }
    }
    out
}

fn run_car(bytes: &[u8]) -> Outcome {
    let car = match ipagate_car::AssetCatalog::parse(bytes) {
        Ok(c) => c,
        Err(e) => return Outcome::Error(one_line(&e)),
    };
    // Every rendition's opacity: the path that decodes pixels when the flag does not decide.
    let mut unreadable_parts = 0;
    for r in &car.renditions {
        if matches!(car.opacity(r), ipagate_car::Opacity::Unknown(_)) {
            unreadable_parts += 1;
        }
    }
    Outcome::Facts {
        diagnostics: 0,
        unreadable_parts,
    }
}

fn png_fixtures() -> Vec<(String, Vec<u8>)> {
    use ipagate_fixtures::png::{PngKind, png};
    let mut out = Vec::new();
    for (name, kind) in [
        ("rgba", PngKind::Rgba),
        ("rgb", PngKind::Rgb),
        ("palette", PngKind::Palette),
        ("crushed", PngKind::Crushed),
    ] {
        for opaque in [true, false] {
            out.push((format!("{name}-{opaque}"), png(kind, 60, 60, opaque)));
        }
    }
    out
}

/// The signature and IHDR (dimensions, depth, colour type), and the next chunk's header.
fn png_hotspots(bytes: &[u8]) -> Vec<Range<usize>> {
    std::iter::once(0..bytes.len().min(64)).collect()
}

fn run_png(bytes: &[u8]) -> Outcome {
    match ipagate_formats::png::read_header(bytes) {
        Ok(h) => Outcome::Facts {
            diagnostics: 0,
            unreadable_parts: usize::from(
                ipagate_formats::png::any_transparent_pixel(bytes, 64 << 20).is_err()
                    || h.bad_crc.is_some(),
            ),
        },
        Err(e) => Outcome::Error(one_line(&e)),
    }
}

/// Profiles as the fixture builder writes them (DER CMS), one per kind plus knobs.
fn profile_fixtures() -> Vec<(String, Vec<u8>)> {
    use ipagate_fixtures::profile::{Kind, ProfileSpec, embedded};
    let mut ents = plist::Dictionary::new();
    ents.insert("aps-environment".into(), "production".into());
    let mut out: Vec<(String, Vec<u8>)> = [
        Kind::AppStore,
        Kind::AdHoc,
        Kind::Development,
        Kind::Enterprise,
    ]
    .into_iter()
    .map(|k| {
        (
            format!("profile-{k:?}"),
            embedded(&ProfileSpec::of(k), "ABCDE12345", "com.example.demo", &ents),
        )
    })
    .collect();
    let wildcard = ProfileSpec {
        app_id: Some("*".into()),
        ..ProfileSpec::app_store()
    };
    let der = embedded(&wildcard, "ABCDE12345", "com.example.demo", &ents);
    // The same with the outer SEQUENCE in BER indefinite-length form: the BER->DER converter.
    let header = match der.get(1) {
        Some(&l) if l < 0x80 => 2,
        Some(&l) => 2 + usize::from(l & 0x7f),
        None => der.len(),
    };
    let mut ber = vec![0x30, 0x80];
    ber.extend_from_slice(der.get(header..).unwrap_or_default());
    ber.extend_from_slice(&[0, 0]);
    out.push(("profile-wildcard".into(), der));
    out.push(("profile-wildcard-ber".into(), ber));
    out
}

/// The CMS headers (ContentInfo, SignedData, encapsulated content: every length that matters)
/// and the start of the plist.
fn profile_hotspots(bytes: &[u8]) -> Vec<Range<usize>> {
    let mut out = Vec::with_capacity(2);
    out.push(0..bytes.len().min(96));
    // The OCTET STRING header just before the plist (its length is what a reader trusts).
    if let Some(at) = bytes.windows(5).position(|w| w == b"<?xml") {
        out.push(at.saturating_sub(8)..at);
    }
    // After the plist: the certificates and the SignerInfo (signed attributes, message digest,
    // signature) that the trust check walks and verifies.
    if let Some(end) = bytes.windows(8).rposition(|w| w == b"</plist>") {
        let start = end + 8;
        out.push(start.min(bytes.len())..bytes.len().min(start + 2048));
    }
    out
}

fn run_profile(bytes: &[u8]) -> Outcome {
    match ipagate_formats::profile::parse("embedded.mobileprovision", bytes) {
        Ok(p) => Outcome::Facts {
            diagnostics: 0,
            unreadable_parts: p
                .developer_certificates
                .iter()
                .filter(|c| c.problem.is_some())
                .count(),
        },
        Err(e) => Outcome::Error(e.to_string()),
    }
}
