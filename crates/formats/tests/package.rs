//! The package reader on archives built in code: limits checked before allocation, every input
//! form normalised to one layout, reads bounded whatever the headers claim.

use ipagate_fixtures::{Bundle, Ipa, scenario};
use ipagate_formats::{BundleKind, Layout, Limits, OpenErrorKind, Package, inspect};

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("write");
    path
}

fn open_scenario(name: &str, limits: &Limits) -> Result<Package, ipagate_formats::OpenError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = scenario(name).expect("scenario");
    let path = write(&dir, &format!("{name}.ipa"), &s.bytes());
    Package::open(&path, limits)
}

#[test]
fn entry_count_is_bounded_before_the_zip_parser_runs() {
    let limits = Limits {
        max_entries: 5,
        ..Limits::default()
    };
    let err = open_scenario("clean", &limits).unwrap_err();
    assert!(
        matches!(
            err.kind,
            OpenErrorKind::OverLimit {
                what: "the entry count",
                limit: 5,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn honest_zip_bomb_is_refused_by_its_ratio() {
    let err = open_scenario("zip-bomb", &Limits::default()).unwrap_err();
    assert!(matches!(err.kind, OpenErrorKind::ZipBomb(_)), "{err:?}");
    assert!(
        err.kind.to_string().contains("Payload/Demo.app/bomb.bin"),
        "{}",
        err.kind
    );
}

#[test]
fn lying_sizes_cannot_make_a_read_grow() {
    // The headers declare 1 KiB; the stream inflates to 1 GiB. The read stops right past the
    // declared size (the zip layer's own check) and never past the caller's bound.
    let package =
        open_scenario("zip-bomb-lying-size", &Limits::default()).expect("opens: sizes look honest");
    let entry = package
        .entries()
        .find(|e| e.path.ends_with("bomb.bin"))
        .expect("entry");
    assert_eq!(entry.size, 1024);
    let err = package.read(&entry, 1 << 20).unwrap_err();
    assert!(
        err.to_string()
            .contains("larger than its declared uncompressed size"),
        "{err}"
    );
    let err = package.read(&entry, 512).unwrap_err();
    assert_eq!(err.to_string(), "larger than 512 bytes");
}

#[test]
fn declared_size_over_the_entry_limit_is_refused() {
    let limits = Limits {
        max_entry_size: 1 << 30,
        ..Limits::default()
    };
    let err = open_scenario("zip-bomb-declared-size", &limits).unwrap_err();
    assert!(
        matches!(
            err.kind,
            OpenErrorKind::OverLimit { .. } | OpenErrorKind::ZipBomb(_)
        ),
        "{err:?}"
    );
}

#[test]
fn unsafe_names_are_facts_not_crashes() {
    for name in [
        "dotdot-names",
        "absolute-names",
        "backslash-names",
        "control-char-names",
        "overlong-names",
    ] {
        let package = open_scenario(name, &Limits::default()).expect(name);
        let facts = inspect(&package).expect(name);
        assert!(
            !facts.archive.suspicious_names.is_empty(),
            "{name}: no suspicious name found"
        );
        for s in &facts.archive.suspicious_names {
            assert!(
                !s.name.chars().any(char::is_control),
                "{name}: names are sanitised: {:?}",
                s.name
            );
        }
    }
}

#[test]
fn every_input_form_normalises_to_payload() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ipa = Ipa::app("Demo", "com.example.demo")
        .extension(Bundle::appex("Share", "com.example.demo.share"));
    let forms = [
        (write(&dir, "a.ipa", &ipa.build()), Layout::Ipa),
        (
            write(&dir, "a.app.zip", &ipa.build_zipped_app()),
            Layout::ZippedApp,
        ),
        (
            ipa.write_app_dir(&dir.path().join("d")).expect("dir"),
            Layout::AppDirectory,
        ),
        (
            ipa.write_xcarchive(&dir.path().join("x")).expect("archive"),
            Layout::Xcarchive,
        ),
    ];
    for (path, layout) in forms {
        let package = Package::open(&path, &Limits::default()).expect("open");
        assert_eq!(package.layout(), layout);
        assert_eq!(package.app_root(), "Payload/Demo.app");
        let facts = inspect(&package).expect("facts");
        let kinds: Vec<BundleKind> = facts.bundles.iter().map(|b| b.kind).collect();
        assert_eq!(
            kinds,
            [BundleKind::App, BundleKind::AppExtension],
            "{}",
            path.display()
        );
        assert_eq!(facts.bundles[1].parent, Some(0));
        assert!(facts.bundles.iter().all(|b| b.executable_exists));
    }
}

#[test]
fn a_watch_apps_plist_is_never_taken_for_the_apps() {
    let s = scenario("clean-watch").expect("scenario");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(&dir, "w.ipa", &s.bytes());
    let facts = inspect(&Package::open(&path, &Limits::default()).expect("open")).expect("facts");
    assert_eq!(facts.app().path, "Payload/Demo.app");
    assert_eq!(
        facts.app().info().and_then(|i| i.bundle_id_str()),
        Some("com.example.demo")
    );
    assert!(facts.bundles.iter().any(|b| b.kind == BundleKind::WatchApp));
}

#[test]
fn reads_are_safe_from_many_threads() {
    use rayon::prelude::*;
    let dir = tempfile::tempdir().expect("tempdir");
    let s = scenario("clean").expect("scenario");
    let path = write(&dir, "c.ipa", &s.bytes());
    let package = Package::open(&path, &Limits::default()).expect("open");
    let files: Vec<_> = package.entries().filter(|e| !e.is_dir).collect();
    let sequential: Vec<Vec<u8>> = files
        .iter()
        .map(|e| package.read(e, 1 << 24).expect("read"))
        .collect();
    let parallel: Vec<Vec<u8>> = files
        .par_iter()
        .map(|e| package.read(e, 1 << 24).expect("read"))
        .collect();
    assert_eq!(sequential, parallel);
}

#[test]
fn a_decoy_end_record_in_the_comment_cannot_lift_the_entry_limit() {
    // The package has 13 entries (10, plus Assets.car and two loose icons); the decoy in its
    // comment claims 1.
    let limits = Limits {
        max_entries: 5,
        ..Limits::default()
    };
    let err = open_scenario("decoy-eocd-in-comment", &limits).unwrap_err();
    assert!(
        matches!(
            err.kind,
            OpenErrorKind::OverLimit {
                what: "the entry count",
                ..
            }
        ),
        "{err:?}"
    );
    // Without a limit in the way the real record is used and the package reads normally.
    let package = open_scenario("decoy-eocd-in-comment", &Limits::default()).expect("opens");
    assert_eq!(package.entries().len(), 13);
}

#[test]
fn every_layout_reports_the_apps_it_did_not_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ipa = Ipa::app("A", "com.example.a");
    let archive = ipa.write_xcarchive(&dir.path().join("x")).expect("archive");
    let other = Ipa::app("B", "com.example.b")
        .write_app_dir(&archive.join("Products/Applications"))
        .expect("second app");
    assert!(other.ends_with("B.app"));
    let package = Package::open(&archive, &Limits::default()).expect("open");
    assert_eq!(package.app_root(), "Payload/A.app");
    assert_eq!(package.other_apps(), ["Products/Applications/B.app"]);
    let facts = inspect(&package).expect("facts");
    assert_eq!(facts.archive.extra_apps, ["Products/Applications/B.app"]);

    let err = Package::open(
        &dir.path().join("empty.xcarchive").tap_mkdir(),
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!(
        err.kind.to_string(),
        "no .app in Products/Applications/ of the .xcarchive"
    );
}

trait TapMkdir {
    fn tap_mkdir(self) -> Self;
}
impl TapMkdir for std::path::PathBuf {
    fn tap_mkdir(self) -> Self {
        std::fs::create_dir_all(self.join("Products/Applications")).expect("mkdir");
        self
    }
}

#[cfg(unix)]
#[test]
fn folder_inputs_never_open_special_files_or_follow_links() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = Ipa::app("F", "com.example.f")
        .write_app_dir(dir.path())
        .expect("app dir");
    // A FIFO where a resource is, and the executable replaced by a link to it.
    let fifo = app.join("pipe");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(status.success());
    std::fs::remove_file(app.join("F")).expect("rm exe");
    std::os::unix::fs::symlink("/etc/passwd", app.join("F")).expect("symlink");
    let package = Package::open(&app, &Limits::default()).expect("open");
    let pipe = package.entry("Payload/F.app/pipe").expect("listed");
    assert_eq!(
        package.read(&pipe, 1024).unwrap_err().to_string(),
        "is a special file (FIFO, socket or device), not a file"
    );
    let facts = inspect(&package).expect("facts, without blocking on the FIFO");
    assert!(
        !facts.app().executable_exists,
        "a link is not the executable"
    );
    let link = facts
        .archive
        .symlinks
        .iter()
        .find(|l| l.path == "Payload/F.app/F")
        .expect("link reported");
    assert_eq!(link.target.as_deref(), Some("/etc/passwd"));
    assert!(link.escapes);
}

mod reader_at_scale {
    use std::io::Read;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use ipagate_fixtures::Ipa;
    use ipagate_fixtures::zip::{Entry, Method};
    use ipagate_formats::{
        EntryDataError, EntryError, Limits, OpenErrorKind, Package, ReadAt, inspect,
    };

    /// A source that counts positioned reads: what the reader costs in system calls.
    struct Counting {
        bytes: Vec<u8>,
        reads: AtomicU64,
    }

    impl ReadAt for Counting {
        fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
            self.reads.fetch_add(1, Ordering::Relaxed);
            self.bytes.read_at(buf, offset)
        }
        fn len(&self) -> u64 {
            self.bytes.len() as u64
        }
    }

    fn many(n: usize) -> Vec<u8> {
        let mut ipa = Ipa::app("Demo", "com.example.demo");
        for i in 0..n {
            ipa = ipa.entry(Entry::file(format!("Payload/Demo.app/r/{i:06}.txt"), "x"));
        }
        ipa.build()
    }

    fn open(bytes: Vec<u8>) -> Result<Package, ipagate_formats::OpenError> {
        Package::from_bytes("mem.ipa".as_ref(), bytes, &Limits::default())
    }

    #[test]
    fn opening_costs_a_few_reads_whatever_the_entry_count() {
        let bytes = many(20_000);
        let eocd = bytes
            .windows(4)
            .rposition(|w| w == [0x50, 0x4b, 0x05, 0x06])
            .unwrap();
        let cd_size = u32::from_le_bytes(bytes[eocd + 12..eocd + 16].try_into().unwrap());
        let src = Arc::new(Counting {
            bytes,
            reads: AtomicU64::new(0),
        });
        let package =
            Package::from_source("20k.ipa".as_ref(), src.clone(), &Limits::default()).unwrap();
        assert!(package.entries().len() > 20_000);
        let opened = src.reads.load(Ordering::Relaxed);
        // Head, end record, the directory 64 KiB at a time: never one read per entry.
        let slices = u64::from(cd_size).div_ceil(64 * 1024);
        assert!(slices > 10, "a directory of {cd_size} bytes");
        assert!(
            opened <= slices + 4,
            "{opened} reads to open 20,000 entries ({slices} slices of directory)"
        );
        inspect(&package).unwrap();
        let inspected = src.reads.load(Ordering::Relaxed) - opened;
        assert!(inspected < 16, "{inspected} reads to inspect one bundle");
    }

    fn patch_eocd(bytes: &mut [u8], at: usize, value: &[u8]) {
        let eocd = bytes
            .windows(4)
            .rposition(|w| w == [0x50, 0x4b, 0x05, 0x06])
            .unwrap();
        bytes[eocd + at..eocd + at + value.len()].copy_from_slice(value);
    }

    #[test]
    fn a_directory_that_lies_about_its_count_or_size_is_refused_before_allocating() {
        let clean = Ipa::app("Demo", "com.example.demo").build();
        let mut more = clean.clone();
        patch_eocd(&mut more, 8, &0xFFFEu16.to_le_bytes());
        patch_eocd(&mut more, 10, &0xFFFEu16.to_le_bytes());
        let err = open(more).unwrap_err();
        assert!(
            err.kind.to_string().contains("declares 65534 entries"),
            "{}",
            err.kind
        );
        let mut huge = clean.clone();
        patch_eocd(&mut huge, 12, &(1u32 << 20).to_le_bytes());
        let err = open(huge).unwrap_err();
        assert!(matches!(err.kind, OpenErrorKind::BadZip(_)), "{err:?}");
        let mut fewer = clean;
        patch_eocd(&mut fewer, 8, &1u16.to_le_bytes());
        patch_eocd(&mut fewer, 10, &1u16.to_le_bytes());
        // One record read: the app is gone, and that is said, not guessed.
        let err = open(fewer).unwrap_err();
        assert!(matches!(err.kind, OpenErrorKind::NoApp), "{err:?}");
    }

    #[test]
    fn names_differing_by_a_trailing_slash_collide_and_the_last_copy_wins() {
        let bytes = Ipa::app("Demo", "com.example.demo")
            .entry(Entry::file("Payload/Demo.app/x", "file"))
            .entry(Entry::dir("Payload/Demo.app/x/"))
            .entry(Entry::file("Payload/Demo.app/y", "first"))
            .entry(Entry::file("Payload/Demo.app/y", "second"))
            .build();
        let package = open(bytes).unwrap();
        assert_eq!(
            package.stats().duplicate_names,
            ["Payload/Demo.app/x", "Payload/Demo.app/y"]
        );
        assert!(package.entry("Payload/Demo.app/x").unwrap().is_dir);
        let y = package.entry("Payload/Demo.app/y").unwrap();
        assert_eq!(package.read(&y, 100).unwrap(), b"second");
    }

    #[test]
    fn one_inflate_feeds_every_consumer_and_stored_entries_read_at_offsets() {
        let body: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let bytes = Ipa::app("Demo", "com.example.demo")
            .entry(Entry::file("Payload/Demo.app/deflated.bin", body.clone()))
            .entry(Entry::file("Payload/Demo.app/stored.bin", body.clone()).method(Method::Stored))
            .build();
        let package = open(bytes).unwrap();
        let deflated = package.entry("Payload/Demo.app/deflated.bin").unwrap();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let n = package
            .stream(&deflated, u64::MAX, &mut [&mut a, &mut b])
            .unwrap();
        assert_eq!((n, &a, &b), (body.len() as u64, &body, &body));
        assert!(!deflated.is_stored());
        assert!(package.random_access(&deflated).unwrap().is_none());
        let stored = package.entry("Payload/Demo.app/stored.bin").unwrap();
        let slice = package.random_access(&stored).unwrap().unwrap();
        let mut word = [0u8; 4];
        slice.read_exact_at(&mut word, 4 * 123_456).unwrap();
        assert_eq!(u32::from_le_bytes(word), 123_456);
        assert_eq!(slice.len(), body.len() as u64);
        let err = package.stream(&stored, 10, &mut []).unwrap_err();
        assert!(matches!(err, EntryError::TooLarge { limit: 10 }), "{err}");
    }

    #[test]
    fn a_crc_mismatch_is_an_entry_error_not_a_failed_run() {
        let body = b"the quick brown fox jumps over the lazy dog".repeat(10);
        let mut bytes = Ipa::app("Demo", "com.example.demo")
            .entry(Entry::file("Payload/Demo.app/stored.bin", body.clone()).method(Method::Stored))
            .build();
        let at = bytes
            .windows(body.len())
            .position(|w| w == body.as_slice())
            .unwrap();
        bytes[at + 5] ^= 0xFF;
        let package = open(bytes).unwrap();
        let facts = inspect(&package).unwrap();
        assert_eq!(facts.bundles.len(), 1);
        let entry = package.entry("Payload/Demo.app/stored.bin").unwrap();
        let err = package.read(&entry, 1 << 20).unwrap_err();
        assert!(
            matches!(err, EntryError::Data(EntryDataError::Crc { .. })),
            "{err}"
        );
        assert!(err.to_string().starts_with("CRC-32 mismatch"), "{err}");
        let mut reader = package.open_entry(&entry).unwrap();
        assert!(reader.read_to_end(&mut Vec::new()).is_err());
    }

    #[test]
    fn a_ds_store_beside_the_app_is_not_inside_it() {
        let bytes = Ipa::app("Demo", "com.example.demo")
            .entry(Entry::file("Payload/Demo.app2/.DS_Store", "junk"))
            .build();
        let facts = inspect(&open(bytes).unwrap()).unwrap();
        assert!(
            facts.archive.ds_store.is_empty(),
            "{:?}",
            facts.archive.ds_store
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_file_swapped_after_the_walk_is_refused_not_followed_or_blocked_on() {
        let dir = tempfile::tempdir().unwrap();
        let app = Ipa::app("F", "com.example.f")
            .file("data.txt", "data")
            .write_app_dir(dir.path())
            .unwrap();
        let package = Package::open(&app, &Limits::default()).unwrap();
        let entry = package.entry("Payload/F.app/data.txt").unwrap();
        assert_eq!(package.read(&entry, 100).unwrap(), b"data");
        let path = app.join("data.txt");
        // Keep the original inode alive, so no later file can reuse its number.
        std::fs::hard_link(&path, dir.path().join("keep")).unwrap();
        // A FIFO in its place: never opened for blocking.
        std::fs::remove_file(&path).unwrap();
        let status = std::process::Command::new("mkfifo").arg(&path).status();
        if status.is_ok_and(|s| s.success()) {
            let err = package.read(&entry, 100).unwrap_err();
            assert!(matches!(err, EntryError::Changed(_)), "{err}");
            std::fs::remove_file(&path).unwrap();
        }
        // A link in its place: never followed.
        std::os::unix::fs::symlink("/etc/passwd", &path).unwrap();
        let err = package.read(&entry, 1 << 20).unwrap_err();
        assert!(matches!(err, EntryError::Changed(_)), "{err}");
        // Another file under the same name: refused.
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, "data").unwrap();
        let err = package.read(&entry, 100).unwrap_err();
        assert!(
            err.to_string().contains("since the folder was listed"),
            "{err}"
        );
    }

    #[test]
    fn folders_have_the_same_size_limits_as_archives() {
        let dir = tempfile::tempdir().unwrap();
        let app = Ipa::app("F", "com.example.f")
            .file("big.bin", vec![0u8; 4096])
            .write_app_dir(dir.path())
            .unwrap();
        let limits = Limits {
            max_entry_size: 1024,
            ..Limits::default()
        };
        let err = Package::open(&app, &limits).unwrap_err();
        assert!(
            matches!(
                err.kind,
                OpenErrorKind::OverLimit {
                    what: "a file's size",
                    ..
                }
            ),
            "{err:?}"
        );
        let limits = Limits {
            max_total_size: 2048,
            ..Limits::default()
        };
        let err = Package::open(&app, &limits).unwrap_err();
        assert!(
            matches!(err.kind, OpenErrorKind::OverLimit { .. }),
            "{err:?}"
        );
    }
}
