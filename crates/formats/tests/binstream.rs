//! Streamed Mach-O reading (issue 9, "hashing streams"): a binary at or above
//! `Limits::binary_in_memory_below` is read in one pass that keeps only what the readers look at
//! and hashes its pages on the way. Whatever it finds must be exactly what reading the file whole
//! finds — on every fixture scenario (tampered pages, edited Info.plists, fat and thin, ad-hoc,
//! unsigned, not Mach-O), on folders as on archives — while keeping a small part of the file.

use std::path::Path;

use ipagate_fixtures::macho::{Arch, MachOSpec, PAGE};
use ipagate_fixtures::scenarios::{demo, scenarios, signed};
use ipagate_fixtures::zip::Content;
use ipagate_formats::binstream::{self, Outcome};
use ipagate_formats::{Facts, Limits, Package, Tiers, inspect_with};

fn limits(stream: bool) -> Limits {
    Limits {
        binary_in_memory_below: if stream { 0 } else { u64::MAX },
        ..Limits::default()
    }
}

fn facts(path: &Path, stream: bool) -> Facts {
    let package = Package::open(path, &limits(stream)).expect("open");
    inspect_with(&package, Tiers::ALL).expect("facts")
}

fn assert_same(path: &Path, what: &str) -> usize {
    let whole = facts(path, false);
    let streamed = facts(path, true);
    assert_eq!(
        whole.not_macho, streamed.not_macho,
        "{what}: not-Mach-O differ"
    );
    assert_eq!(whole.binaries.len(), streamed.binaries.len(), "{what}");
    for (w, s) in whole.binaries.iter().zip(&streamed.binaries) {
        if w == s {
            continue;
        }
        // Name the first difference without printing megabytes of hashes.
        let short = |v: String| v.chars().take(400).collect::<String>();
        assert_eq!(w.slices.len(), s.slices.len(), "{what}: {}", w.path);
        for (i, (a, b)) in w.slices.iter().zip(&s.slices).enumerate() {
            let fields = [
                ("macho", format!("{:?}", a.macho), format!("{:?}", b.macho)),
                (
                    "signature",
                    format!("{:?}", a.signature),
                    format!("{:?}", b.signature),
                ),
                (
                    "special_slots",
                    format!("{:?}", a.special_slots),
                    format!("{:?}", b.special_slots),
                ),
                ("pages", format!("{:?}", a.pages), format!("{:?}", b.pages)),
                (
                    "entitlements",
                    format!("{:?}", a.entitlements),
                    format!("{:?}", b.entitlements),
                ),
                (
                    "symbols",
                    format!("{:?}", a.symbols),
                    format!("{:?}", b.symbols),
                ),
            ];
            for (name, x, y) in fields {
                assert!(
                    x == y,
                    "{what}: {} slice {i} {name} differs when streamed:\n whole:    {}\n streamed: {}",
                    w.path,
                    short(x),
                    short(y)
                );
            }
        }
        panic!(
            "{what}: {} differs when streamed: {:?} / {:?}",
            w.path, w.problems, s.problems
        );
    }
    whole.binaries.iter().map(|b| b.slices.len()).sum()
}

#[test]
fn streaming_and_whole_reads_agree_on_every_scenario() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut slices = 0;
    let mut checked = 0;
    for s in scenarios() {
        let path = dir.path().join(format!("{}.ipa", s.name));
        std::fs::write(&path, s.bytes()).expect("write");
        // Scenarios about archives that do not open have no binaries to compare.
        let opens = Package::open(&path, &Limits::default())
            .ok()
            .is_some_and(|p| inspect_with(&p, Tiers::ALL).is_ok());
        if !opens {
            continue;
        }
        slices += assert_same(&path, s.name);
        checked += 1;
    }
    assert!(checked > 50, "only {checked} scenarios");
    assert!(slices > 100, "only {slices} slices compared");
}

#[test]
fn a_big_fat_executable_streams_from_an_archive_and_a_folder_alike() {
    let spec = MachOSpec::fat(&[Arch::Arm64, Arch::Armv7], "12.0")
        .importing(&["stat", "mach_absolute_time"], &["systemUptime"])
        .map(|s| s.text_pages = 600);
    let ipa = signed().map_app(|app| app.macho(spec));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.ipa");
    ipa.write_to(&path).expect("write");
    assert_same(&path, "archive");
    let app = ipa.write_app_dir(dir.path()).expect("app dir");
    assert_same(&app, "folder");

    // What was kept: headers, signatures and (with symbols) the tables the scan reads.
    let package = Package::open(&path, &limits(true)).expect("open");
    let entry = package
        .entries()
        .find(|e| e.path == "Payload/Demo.app/Demo")
        .expect("executable");
    assert!(entry.size > 2 * 600 * PAGE, "{}", entry.size);
    for symbols in [false, true] {
        let Outcome::Streamed(s) =
            binstream::read(&package, &entry, u64::MAX, symbols).expect("read")
        else {
            panic!("not Mach-O");
        };
        assert!(s.complete);
        assert!(
            s.kept * 20 < entry.size,
            "kept {} of {} bytes (symbols {symbols})",
            s.kept,
            entry.size
        );
        // Every byte was digested, in pages of 4 KiB (not the fixture's 16 KiB segment pages).
        assert!(
            s.pages.len() as u64 >= entry.size / binstream::PAGE,
            "{}",
            s.pages.len()
        );
    }
}

#[test]
fn a_file_that_is_not_mach_o_is_dropped_after_its_first_chunk() {
    let ipa = demo().map_app(|app| {
        app.file_content(
            "Resources/model",
            Content::Random {
                len: 3 << 20,
                seed: 7,
            },
        )
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("data.ipa");
    ipa.write_to(&path).expect("write");
    let package = Package::open(&path, &limits(true)).expect("open");
    let entry = package
        .entries()
        .find(|e| e.path.ends_with("Resources/model"))
        .expect("entry");
    match binstream::read(&package, &entry, u64::MAX, true).expect("read") {
        Outcome::NotMachO(head) => assert_eq!(head.len(), 8),
        Outcome::Streamed(_) | Outcome::Unmapped => panic!("streamed a data file"),
    }
    assert_same(&path, "data file");
}

/// Sets every CodeDirectory's page size of the thin binary `bytes` to `log2`, so the 4 KiB digests
/// taken while streaming cannot answer and the pages are hashed in a second pass.
fn with_page_size(mut bytes: Vec<u8>, log2: u8) -> Vec<u8> {
    let file = ipagate_formats::macho::parse(&bytes).expect("Mach-O");
    let sig = file.slices[0].code_signature.expect("signed");
    let at = sig.dataoff as usize;
    let be = |b: &[u8], i: usize| u32::from_be_bytes(b[i..i + 4].try_into().unwrap()) as usize;
    assert_eq!(be(&bytes, at), 0xfade_0cc0, "SuperBlob");
    let mut patched = 0;
    for i in 0..be(&bytes, at + 8) {
        let blob = at + be(&bytes, at + 12 + i * 8 + 4);
        if be(&bytes, blob) == 0xfade_0c02 {
            bytes[blob + 39] = log2;
            patched += 1;
        }
    }
    assert!(patched > 0);
    bytes
}

#[test]
fn pages_the_digests_cannot_answer_are_hashed_in_a_second_pass() {
    let spec = MachOSpec::arm64("15.0").map(|s| s.text_pages = 64);
    let ipa = signed().map_app(|app| app.macho(spec));
    let dir = tempfile::tempdir().expect("tempdir");
    let app = ipa.write_app_dir(dir.path()).expect("app dir");
    let exe = app.join("Demo");
    let bytes = std::fs::read(&exe).expect("read");
    std::fs::write(&exe, with_page_size(bytes, 14)).expect("write");
    assert_same(&app, "16 KiB pages");
    let streamed = facts(&app, true);
    let main = streamed
        .binaries
        .iter()
        .find(|b| b.path.ends_with("Demo.app/Demo"))
        .expect("main");
    let pages = &main.slices[0].pages;
    assert!(!pages.is_empty());
    // Hashed (not left unchecked), in 16 KiB pages: fewer than the 4 KiB hashes listed.
    assert!(
        pages.iter().all(|p| !p.unchecked && p.pages > 0),
        "{pages:?}"
    );
}

/// Real Xcode-built binaries (opt-in: `IPAGATE_CORPUS=../shared/corpus`): every IPA and app of
/// the corpus read with every executable streamed finds exactly what reading them whole finds.
#[test]
fn corpus_streamed_reads_agree_with_whole_reads() {
    let Some(root) = std::env::var_os("IPAGATE_CORPUS").map(std::path::PathBuf::from) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but IPAGATE_CORPUS (../shared/corpus) is not"
        );
        eprintln!("skipped: set IPAGATE_CORPUS=../shared/corpus to compare on the corpus");
        return;
    };
    let mut stack = vec![root.join("ipas")];
    let (mut archives, mut slices) = (0, 0);
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("corpus dir").flatten() {
            let path = entry.path();
            if path.is_dir() && path.extension().is_none_or(|x| x != "app") {
                stack.push(path);
                continue;
            }
            let readable = Package::open(&path, &Limits::default())
                .ok()
                .is_some_and(|p| inspect_with(&p, Tiers::ALL).is_ok());
            if !readable {
                continue; // the negative archives: nothing to compare
            }
            slices += assert_same(&path, &path.display().to_string());
            archives += 1;
        }
    }
    eprintln!("{archives} corpus archives, {slices} slices: streamed == whole");
    assert!(
        archives >= 10 && slices >= 10,
        "{archives} archives, {slices} slices"
    );
}
