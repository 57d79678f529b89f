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
        .iter()
        .find(|e| e.path.ends_with("bomb.bin"))
        .expect("entry");
    assert_eq!(entry.size, 1024);
    let err = package.read(entry, 1 << 20).unwrap_err();
    assert!(
        err.to_string()
            .contains("larger than its declared uncompressed size"),
        "{err}"
    );
    let err = package.read(entry, 512).unwrap_err();
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
    let files: Vec<_> = package.entries().iter().filter(|e| !e.is_dir).collect();
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
        package.read(pipe, 1024).unwrap_err().to_string(),
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
