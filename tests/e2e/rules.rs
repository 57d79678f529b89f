//! Every rule against the fixture catalog of `ipagate-fixtures`, through the real binary's JSON:
//! the clean packages trip nothing, each rule-trip package trips what its recipe says, every rule
//! is tripped by at least one package, unreadable inputs end with one error line and exit 2, and
//! hostile archives end without a panic.

use crate::support::TRUST_ROOT;
use std::collections::BTreeSet;

use ipagate_fixtures::{Expect, Make, Scenario, scenarios};
use serde_json::Value;

use crate::support::ipagate;

/// Writes a scenario to a temporary file and runs `preflight --format json` on it.
fn preflight(dir: &tempfile::TempDir, s: &Scenario) -> (Option<i32>, Value, String) {
    let path = dir.path().join(format!("{}.ipa", s.name));
    std::fs::write(&path, s.bytes()).expect("write fixture");
    // Every fixture, hostile or not, must finish: a hang fails the test instead of stalling CI.
    let out = crate::support::ipagate_within(
        &[
            "preflight",
            "--trust-root",
            TRUST_ROOT,
            path.to_str().expect("utf-8"),
            "--format",
            "json",
            "--as-of",
            "2026-11-25",
        ],
        std::time::Duration::from_secs(30),
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let doc = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code(), doc, stderr)
}

/// (code, rule) pairs of the diagnostics in a report.
fn fired(doc: &Value) -> BTreeSet<(String, String)> {
    doc["diagnostics"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|d| {
                    (
                        d["code"].as_str().unwrap_or("").to_string(),
                        d["rule"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The fixture catalog labels conditions without an Apple code in its own words; these are the
/// rules that check them.
fn rule_for_label(label: &str) -> &str {
    match label {
        "appex-id-prefix" => "extension-bundle-id-prefix",
        "executable-key" => "executable-missing",
        "watch-companion" => "watch-companion-mismatch",
        "watch-id-prefix" => "watch-bundle-id-prefix",
        "watch-extension-app-id" => "watch-extension-app-id",
        "package-type" => "package-type-mismatch",
        "appex-nsextension" => "extension-point-missing",
        "encryption-key" => "encryption-declaration-missing",
        "launch-storyboard" => "launch-screen-missing",
        "macosx-junk" => "archive-macosx-junk",
        "ds-store" => "archive-ds-store",
        "outside-payload" => "archive-unexpected-top-level",
        "team-id" => "team-id-inconsistent",
        other => other,
    }
}

fn matches(expected: &str, code: &str, rule: &str) -> bool {
    let wanted = rule_for_label(expected);
    code.eq_ignore_ascii_case(expected)
        || rule == wanted
        || code.eq_ignore_ascii_case(&format!("ITMS-{expected}"))
}

#[test]
fn clean_packages_trip_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clean: Vec<Scenario> = scenarios()
        .into_iter()
        .filter(|s| s.expect == Expect::Pass)
        .collect();
    assert!(clean.len() >= 3, "the catalog has clean packages");
    for s in &clean {
        let (code, doc, stderr) = preflight(&dir, s);
        assert_eq!(code, Some(0), "{}: {stderr}", s.name);
        assert_eq!(
            doc["diagnostics"],
            Value::Array(vec![]),
            "{} must be clean",
            s.name
        );
        assert_eq!(doc["summary"]["passed"], true);
    }
}

#[test]
fn each_rule_trip_package_trips_its_rules() {
    let dir = tempfile::tempdir().expect("tempdir");
    for s in scenarios() {
        let Expect::Trips(expected) = s.expect else {
            continue;
        };
        let (code, doc, stderr) = preflight(&dir, &s);
        assert!(
            matches!(code, Some(0) | Some(1)),
            "{}: exit {code:?}: {stderr}",
            s.name
        );
        let got = fired(&doc);
        for want in expected {
            assert!(
                got.iter().any(|(c, r)| matches(want, c, r)),
                "{}: expected {want}, got {got:?}",
                s.name
            );
        }
    }
}

#[test]
fn every_rule_is_tripped_by_some_package() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut tripped: BTreeSet<String> = BTreeSet::new();
    for s in scenarios() {
        if !matches!(s.expect, Expect::Trips(_) | Expect::Hostile) {
            continue;
        }
        let (_, doc, _) = preflight(&dir, &s);
        tripped.extend(fired(&doc).into_iter().map(|(_, rule)| rule));
    }
    let all: BTreeSet<String> = ipagate_rules::rules()
        .iter()
        .map(|r| r.name.to_string())
        .collect();
    let missing: Vec<&String> = all.difference(&tripped).collect();
    assert!(
        missing.is_empty(),
        "rules that no fixture trips: {missing:?}"
    );
}

#[test]
fn unreadable_inputs_end_with_one_error_line_and_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut seen = 0;
    for s in scenarios() {
        if s.expect != Expect::Unreadable {
            continue;
        }
        seen += 1;
        let (code, _, stderr) = preflight(&dir, &s);
        assert_eq!(code, Some(2), "{}: {stderr}", s.name);
        assert_eq!(stderr.lines().count(), 1, "{}: {stderr}", s.name);
        assert!(
            stderr.contains(&format!("{}.ipa", s.name)),
            "{}: the error names the file: {stderr}",
            s.name
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert!(seen >= 5, "the catalog has bad inputs");
}

/// What each hostile archive must end in: refused with exit 2 and a message, or read with these
/// diagnostics. A new hostile scenario without an entry here fails the test.
#[test]
fn hostile_archives_end_as_specified() {
    enum Want {
        Refused(&'static str),
        Flags(&'static [&'static str], Option<i32>),
    }
    use Want::{Flags, Refused};
    let table: &[(&str, Want)] = &[
        ("zip-bomb", Refused("zip bomb")),
        ("zip-bomb-declared-size", Refused("zip bomb")),
        ("zip-bomb-overlapping", Refused("")),
        (
            "shared-object-plist",
            Refused("expands to more than 1000000 values"),
        ),
        (
            "shared-data-plist",
            Refused("expands to more than 64 MiB of strings and data"),
        ),
        (
            "shared-string-plist",
            Refused("expands to more than 64 MiB of strings and data"),
        ),
        (
            "shared-dictionary-plist",
            Refused("expands to more than 64 MiB of strings and data"),
        ),
        // The lying entry is never needed, so never inflated: the package passes.
        ("zip-bomb-lying-size", Flags(&[], Some(0))),
        ("many-entries", Flags(&[], Some(0))),
        ("many-bundles", Flags(&[], Some(0))),
        ("decoy-eocd-in-comment", Flags(&[], Some(0))),
        ("deep-nesting", Flags(&["archive-unsafe-name"], Some(1))),
        (
            "duplicate-info-plist",
            Flags(&["archive-unsafe-name"], Some(1)),
        ),
        ("dotdot-names", Flags(&["archive-unsafe-name"], Some(1))),
        ("absolute-names", Flags(&["archive-unsafe-name"], Some(1))),
        ("backslash-names", Flags(&["archive-unsafe-name"], Some(1))),
        (
            "control-char-names",
            Flags(&["archive-unsafe-name"], Some(1)),
        ),
        ("overlong-names", Flags(&["archive-unsafe-name"], Some(1))),
        (
            "symlink-escapes",
            Flags(&["archive-symlink", "executable-missing"], Some(1)),
        ),
        ("symlink-inside", Flags(&["archive-symlink"], Some(0))),
        (
            "lzma-resource",
            Flags(&["archive-unpackable-entry"], Some(1)),
        ),
        (
            "encrypted-resource",
            Flags(&["archive-unpackable-entry"], Some(1)),
        ),
        ("non-utf8-name", Flags(&["archive-unsafe-name"], Some(1))),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    for s in scenarios() {
        if s.expect != Expect::Hostile {
            continue;
        }
        let want = &table
            .iter()
            .find(|(n, _)| *n == s.name)
            .unwrap_or_else(|| panic!("no expectation for hostile scenario {}", s.name))
            .1;
        let (code, doc, stderr) = preflight(&dir, &s);
        assert!(!stderr.contains("panicked"), "{}: {stderr}", s.name);
        match want {
            Refused(text) => {
                assert_eq!(code, Some(2), "{}: {stderr}", s.name);
                assert_eq!(stderr.lines().count(), 1, "{}: {stderr}", s.name);
                assert!(
                    stderr.contains(text),
                    "{}: expected {text:?} in {stderr}",
                    s.name
                );
            }
            Flags(rules, want_code) => {
                assert_eq!(code, *want_code, "{}: {stderr}", s.name);
                let got = fired(&doc);
                for rule in *rules {
                    assert!(
                        got.iter().any(|(_, r)| r == rule),
                        "{}: expected {rule}, got {got:?}",
                        s.name
                    );
                }
            }
        }
    }
}

#[test]
fn duplicate_names_are_named_and_fail_the_gate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = ipagate_fixtures::scenario("duplicate-info-plist").expect("scenario");
    let (_, doc, _) = preflight(&dir, &s);
    // Which copy a reader takes differs between readers; ipagate takes the last (the copy an
    // extractor such as Info-ZIP or ditto leaves on disk), and fails the gate so the disagreement cannot slip through.
    assert_eq!(doc["app"]["bundle_id"], "com.example.evil");
    assert_eq!(doc["summary"]["passed"], false);
    let dup = doc["diagnostics"]
        .as_array()
        .and_then(|d| {
            d.iter().find(|d| {
                d["rule"] == "archive-unsafe-name"
                    && d["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("more than once"))
            })
        })
        .expect("duplicate reported");
    assert_eq!(dup["location"]["path"], "Payload/Demo.app/Info.plist");
}

#[test]
fn per_finding_severity_of_underscores() {
    let dir = tempfile::tempdir().expect("tempdir");
    let severity = |name: &str| {
        let s = ipagate_fixtures::scenario(name).expect("scenario");
        let (_, doc, _) = preflight(&dir, &s);
        doc["diagnostics"]
            .as_array()
            .and_then(|d| d.iter().find(|d| d["code"] == "ITMS-90049"))
            .map(|d| d["severity"].as_str().unwrap_or("").to_string())
    };
    assert_eq!(
        severity("bundle-id-underscore-app").as_deref(),
        Some("warning"),
        "accepted in the app's own id"
    );
    assert_eq!(
        severity("bundle-id-underscore-framework").as_deref(),
        Some("error"),
        "rejected in nested bundles"
    );
}

#[test]
fn other_input_forms_give_the_same_facts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = scenarios()
        .into_iter()
        .find(|s| s.name == "clean")
        .expect("clean scenario");
    let Make::Ipa(make) = s.make else {
        panic!("clean is built by the builder")
    };
    let ipa = make();
    let ipa_path = dir.path().join("Demo.ipa");
    std::fs::write(&ipa_path, ipa.build()).expect("write");
    let zipped = dir.path().join("Demo.app.zip");
    std::fs::write(&zipped, ipa.build_zipped_app()).expect("write");
    let app_dir = ipa.write_app_dir(&dir.path().join("dir")).expect("app dir");
    let archive = ipa
        .write_xcarchive(&dir.path().join("arch"))
        .expect("xcarchive");
    let bundles = |p: &std::path::Path| -> Value {
        let out = ipagate(&[
            "inspect",
            "--trust-root",
            TRUST_ROOT,
            p.to_str().expect("utf-8"),
            "--format",
            "json",
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            p.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
        doc["bundles"].clone()
    };
    let reference = bundles(&ipa_path);
    assert!(
        reference.as_array().is_some_and(|b| b.len() > 4),
        "the clean package nests bundles"
    );
    for other in [&zipped, &app_dir, &archive] {
        assert_eq!(
            bundles(other),
            reference,
            "{} differs from the .ipa",
            other.display()
        );
    }
}

/// Regression: bundles sorted by path put `Share.appex-Beta.appex` between `Share.appex` and its
/// own nested bundles ('-' sorts before '/'); the nested bundle must still be found.
#[test]
fn nested_bundles_are_found_past_a_sibling_that_sorts_between() {
    use ipagate_fixtures::{Bundle, Ipa};
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sibling.ipa");
    Ipa::app("Demo", "com.example.demo")
        .extension(
            Bundle::appex("Share", "com.example.demo.share")
                .child(Bundle::appex("Inner", "com.example.demo.share.inner")),
        )
        .extension(Bundle::appex("Share.appex-Beta", "com.example.demo.beta"))
        .write_to(&path)
        .expect("write");
    let out = crate::support::ipagate_within(
        &[
            "preflight",
            "--trust-root",
            TRUST_ROOT,
            path.to_str().expect("utf-8"),
            "--format",
            "json",
            "--as-of",
            "2026-11-25",
        ],
        std::time::Duration::from_secs(30),
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    let hit = doc["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .any(|d| {
            d["code"] == "ITMS-90205"
                && d["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("Share.appex/PlugIns/Inner.appex"))
        });
    assert!(hit, "{doc}");
}

/// Dated rules: the same package passes a requirement before its date (a warning naming the
/// date) and fails it from that date on; a severity set in the configuration wins over the date;
/// `--data DIR` replaces the dates.
#[test]
fn dated_rules_on_both_sides_of_their_dates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |scenario: &str, as_of: &str, extra: &[&str]| -> Value {
        let s = ipagate_fixtures::scenario(scenario).expect("scenario");
        let path = dir.path().join(format!("{scenario}.ipa"));
        std::fs::write(&path, s.bytes()).expect("write");
        let mut args = vec![
            "preflight",
            "--trust-root",
            TRUST_ROOT,
            path.to_str().expect("utf-8"),
            "--format",
            "json",
            "--as-of",
            as_of,
        ];
        args.extend_from_slice(extra);
        let out = crate::support::ipagate_within(&args, std::time::Duration::from_secs(30));
        serde_json::from_slice(&out.stdout).expect("json report")
    };
    let severity_of = |doc: &Value, code: &str| -> Vec<String> {
        doc["diagnostics"]
            .as_array()
            .expect("diagnostics")
            .iter()
            .filter(|d| d["code"] == code)
            .map(|d| d["severity"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    // ITMS-90725: the iOS 26 SDK is required from 2026-04-28; an iOS 18 build is warned the day before.
    let before = run("sdk-too-old", "2026-04-27", &[]);
    assert_eq!(severity_of(&before, "ITMS-90725"), ["warning"], "{before}");
    assert!(
        before["diagnostics"]
            .to_string()
            .contains("from 2026-04-28"),
        "{before}"
    );
    let after = run("sdk-too-old", "2026-04-28", &[]);
    assert_eq!(severity_of(&after, "ITMS-90725"), ["error"], "{after}");
    // ITMS-91056: enforced for all manifests from 2024-11-12.
    let before = run("privacy-manifest-unknown-key", "2024-11-11", &[]);
    assert_eq!(severity_of(&before, "ITMS-91056"), ["warning"], "{before}");
    assert_eq!(
        severity_of(
            &run("privacy-manifest-unknown-key", "2024-11-12", &[]),
            "ITMS-91056"
        ),
        ["error"]
    );
    // The configuration wins over the date.
    let config = dir.path().join("ipagate.toml");
    std::fs::write(&config, "[rules]\nprivacy-manifest-invalid = \"error\"\n").expect("config");
    let configured = run(
        "privacy-manifest-unknown-key",
        "2024-11-11",
        &["--config", config.to_str().expect("utf-8")],
    );
    assert_eq!(
        severity_of(&configured, "ITMS-91056"),
        ["error"],
        "{configured}"
    );
    // Newer data moves the date: with 91056 enforced from 2030, 2026 is a warning again.
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let deadlines = include_str!("../../crates/rules/data/deadlines.toml").replace(
        "code = \"ITMS-91056\"\neffective = \"2024-11-12\"",
        "code = \"ITMS-91056\"\neffective = \"2030-01-01\"",
    );
    std::fs::write(data.join("deadlines.toml"), deadlines).expect("deadlines");
    let moved = run(
        "privacy-manifest-unknown-key",
        "2026-11-25",
        &["--data", data.to_str().expect("utf-8")],
    );
    assert_eq!(severity_of(&moved, "ITMS-91056"), ["warning"], "{moved}");
    assert_eq!(
        moved["data"]["deadlines"]["origin"]["from"], "file",
        "{moved}"
    );
    assert_eq!(
        run("clean", "2026-11-25", &[])["data"]["privacy"]["origin"]["from"],
        "embedded"
    );
}

/// The messages of the diagnostics with `code` that `preflight` (as of 2026-11-25) reports on `ipa`.
fn findings(ipa: &std::path::Path, code: &str) -> Vec<String> {
    let out = crate::support::ipagate_within(
        &[
            "preflight",
            "--trust-root",
            TRUST_ROOT,
            ipa.to_str().expect("utf-8"),
            "--format",
            "json",
            "--as-of",
            "2026-11-25",
        ],
        std::time::Duration::from_secs(30),
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json report");
    doc["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .filter(|d| d["code"] == code)
        .map(|d| d["message"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The messages of the diagnostics with `code` that `preflight ARGS IPA --format json` reports.
fn findings_with(ipa: &std::path::Path, code: &str, args: &[&str]) -> Vec<String> {
    let mut all = vec![
        "preflight",
        ipa.to_str().expect("utf-8"),
        "--format",
        "json",
    ];
    all.extend_from_slice(args);
    let out = crate::support::ipagate_within(&all, std::time::Duration::from_secs(30));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json report");
    doc["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .filter(|d| d["code"] == code)
        .map(|d| d["message"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The trust tier: every CMS fault is named in its rule's message (a CMS that does not verify
/// over its CodeDirectory is ITMS-90035, for every distribution; a chain that does not end at the
/// root is ITMS-90034, App Store only; profiles are ITMS-90161 either way); the clean package
/// trips none of them with the fixture root, and without it (Apple's pinned roots only) it is "not
/// signed by a certificate that chains to Apple Root CA" — the test root is passed explicitly,
/// no check is weakened; a chain certificate not yet valid on `--as-of` is reported too.
#[test]
fn trust_faults_are_named_and_the_test_root_is_explicit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str| {
        let path = dir.path().join(format!("{name}.ipa"));
        let s = ipagate_fixtures::scenario(name).expect("scenario");
        std::fs::write(&path, s.bytes()).expect("write");
        path
    };
    let test_root = ["--trust-root", TRUST_ROOT, "--as-of", "2026-11-25"];
    for (name, code, kind) in [
        (
            "signature-cms-stale-digest",
            "ITMS-90035",
            "message-digest-mismatch",
        ),
        (
            "signature-cms-wrong-cdhash",
            "ITMS-90035",
            "cdhash-mismatch",
        ),
        (
            "signature-cms-bad-signature",
            "ITMS-90035",
            "signature-invalid",
        ),
        ("signature-foreign-root", "ITMS-90034", "untrusted-root"),
        (
            "profile-cms-stale-digest",
            "ITMS-90161",
            "message-digest-mismatch",
        ),
        ("profile-foreign-root", "ITMS-90161", "untrusted-root"),
        ("profile-unsigned", "ITMS-90161", "bare property list"),
    ] {
        let got = findings_with(&write(name), code, &test_root);
        assert!(!got.is_empty(), "{name}: no {code}");
        assert!(got.iter().all(|m| m.contains(kind)), "{name}: {got:?}");
        if name.starts_with("signature-foreign") {
            assert!(
                got.iter()
                    .any(|m| m.starts_with("Payload/Demo.app/Demo (arm64) ")),
                "{name}: {got:?}"
            );
        } else if name.starts_with("signature-") {
            assert!(
                got.iter().any(|m| m.starts_with(
                    "invalid signature of Payload/Demo.app/Demo (arm64): the CMS signature does not verify over the CodeDirectory ("
                )),
                "{name}: {got:?}"
            );
            // Devices verify the CMS too: the finding stays for an ad-hoc distribution.
            let adhoc = [
                "--trust-root",
                TRUST_ROOT,
                "--as-of",
                "2026-11-25",
                "--distribution",
                "ad-hoc",
            ];
            assert!(
                !findings_with(&write(name), code, &adhoc).is_empty(),
                "{name}"
            );
        }
    }
    let clean = write("clean");
    for code in ["ITMS-90034", "ITMS-90035", "ITMS-90161"] {
        assert_eq!(
            findings_with(&clean, code, &test_root),
            Vec::<String>::new()
        );
    }
    // Apple's roots only: the same clean package is not Apple's.
    let apple = ["--as-of", "2026-11-25"];
    let sigs = findings_with(&clean, "ITMS-90034", &apple);
    assert!(!sigs.is_empty());
    assert!(
        sigs.iter()
            .all(|m| m.contains("chains to Apple Root CA (untrusted-root)")),
        "{sigs:?}"
    );
    let profiles = findings_with(&clean, "ITMS-90161", &apple);
    assert!(profiles.iter().all(|m| m.contains("untrusted-root")) && !profiles.is_empty());
    // --distribution ad-hoc does not apply ITMS-90034 (App Store only) but a device refuses a
    // profile Apple did not sign, so ITMS-90161 stays.
    let adhoc = ["--as-of", "2026-11-25", "--distribution", "ad-hoc"];
    assert!(findings_with(&clean, "ITMS-90034", &adhoc).is_empty());
    assert!(!findings_with(&clean, "ITMS-90161", &adhoc).is_empty());
    // Before the fixture root's validity (2026-01-01): the chain is judged as of --as-of.
    let early = ["--trust-root", TRUST_ROOT, "--as-of", "2025-06-01"];
    let got = findings_with(&clean, "ITMS-90034", &early);
    assert!(
        got.iter().any(|m| m.contains(
            "'ipagate Test Root CA (not Apple)' is valid only from 2026-01-01 to 2036-01-01 (as of 2025-06-01)"
        )),
        "{got:?}"
    );
    // A --trust-root that is not a certificate is a usage error, not a silent fallback.
    let bogus = dir.path().join("bogus.der");
    std::fs::write(&bogus, b"-----BEGIN CERTIFICATE-----").expect("write");
    let out = crate::support::ipagate(&[
        "preflight",
        clean.to_str().expect("utf-8"),
        "--trust-root",
        bogus.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot use --trust-root"));
}

/// ITMS-91053 names the binary, the category and the symbols, and goes away when the bundle's
/// manifest declares each category with a valid reason (and not with an invalid one).
#[test]
fn required_reason_apis_are_matched_to_their_declarations() {
    use ipagate_fixtures::plist::privacy_manifest;
    use ipagate_fixtures::{Ipa, macho::importing};
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |manifest: Vec<u8>| -> Vec<String> {
        let path = dir.path().join("app.ipa");
        Ipa::app("Demo", "com.example.demo")
            .map_app(|a| {
                a.executable_bytes(importing(
                    &["stat", "mach_absolute_time"],
                    &["activeInputModes"],
                ))
                .file("PrivacyInfo.xcprivacy", manifest)
            })
            .write_to(&path)
            .expect("write");
        findings(&path, "ITMS-91053")
    };
    let none = run(privacy_manifest(false, &[], &[]));
    assert_eq!(none.len(), 3, "{none:#?}");
    assert!(
        none.iter().any(|m| m.contains(
            "Payload/Demo.app/Demo uses NSPrivacyAccessedAPICategoryFileTimestamp (stat)"
        )),
        "{none:#?}"
    );
    assert!(
        none.iter()
            .any(|m| m.contains("SystemBootTime (mach_absolute_time)")),
        "{none:#?}"
    );
    assert!(
        none.iter()
            .any(|m| m.contains("ActiveKeyboards (activeInputModes)")),
        "{none:#?}"
    );
    let all = run(privacy_manifest(
        false,
        &[],
        &[
            ("NSPrivacyAccessedAPICategoryFileTimestamp", &["C617.1"]),
            ("NSPrivacyAccessedAPICategorySystemBootTime", &["35F9.1"]),
            ("NSPrivacyAccessedAPICategoryActiveKeyboards", &["3EC4.1"]),
        ],
    ));
    assert!(all.is_empty(), "{all:#?}");
    // A declaration whose only reason belongs to another category does not count.
    let wrong = run(privacy_manifest(
        false,
        &[],
        &[
            ("NSPrivacyAccessedAPICategoryFileTimestamp", &["35F9.1"]),
            ("NSPrivacyAccessedAPICategorySystemBootTime", &["35F9.1"]),
            ("NSPrivacyAccessedAPICategoryActiveKeyboards", &["3EC4.1"]),
        ],
    ));
    assert_eq!(wrong.len(), 1, "{wrong:#?}");
}

/// ITMS-90683 is silent once the purpose string is there (also through an alternative key).
#[test]
fn purpose_strings_silence_their_triggers() {
    use ipagate_fixtures::{Ipa, macho::importing};
    let dir = tempfile::tempdir().expect("tempdir");
    let count = |ipa: Ipa| -> usize {
        let path = dir.path().join("p.ipa");
        ipa.write_to(&path).expect("write");
        findings(&path, "ITMS-90683").len()
    };
    let app = || {
        Ipa::app("Demo", "com.example.demo").map_app(|a| {
            a.executable_bytes(importing(
                &["OBJC_CLASS_$_CNContactStore", "OBJC_CLASS_$_PHAsset"],
                &[],
            ))
        })
    };
    assert_eq!(count(app()), 2);
    assert_eq!(
        count(app().set("NSContactsUsageDescription", "To find friends.")),
        1
    );
    assert_eq!(
        count(
            app()
                .set("NSContactsUsageDescription", "To find friends.")
                .set("NSPhotoLibraryAddUsageDescription", "To save.")
        ),
        0
    );
    assert_eq!(
        count(
            app()
                .set("NSContactsUsageDescription", "  ")
                .set("NSPhotoLibraryAddUsageDescription", "To save.")
        ),
        1,
        "an empty string does not count"
    );
}

/// `--distribution ad-hoc` passes the ad-hoc export that the profile-kind rule fails for the App
/// Store (issue 9).
#[test]
fn ad_hoc_export_passes_for_ad_hoc_and_fails_for_app_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ad-hoc.ipa");
    std::fs::write(&path, ipagate_fixtures::scenarios::ad_hoc().build()).expect("write");
    let run = |distribution: &str| {
        let out = ipagate(&[
            "preflight",
            "--trust-root",
            TRUST_ROOT,
            path.to_str().expect("utf-8"),
            "--format",
            "json",
            "--as-of",
            "2026-11-25",
            "--distribution",
            distribution,
        ]);
        let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
        (out.status.code(), fired(&doc))
    };
    let (code, got) = run("ad-hoc");
    assert_eq!(code, Some(0), "{got:?}");
    assert!(got.is_empty(), "{got:?}");
    let (code, got) = run("app-store");
    assert_eq!(code, Some(1));
    assert!(
        got.contains(&("ITMS-90161".to_owned(), "profile-invalid".to_owned())),
        "{got:?}"
    );
}

/// The symbol scan is a tier of its own (issue 12): `preflight` runs it only when one of the rules
/// that read symbols (91053, 91061, 90683, 90078) is enabled, and says in its report what it
/// read; `inspect` shows a slice's symbols as `not-scanned` unless `--symbols` asks for them.
#[test]
fn the_symbol_scan_runs_only_for_the_rules_that_read_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = ipagate_fixtures::scenario("required-reason-api-undeclared").expect("scenario");
    let ipa = dir.path().join("app.ipa");
    std::fs::write(&ipa, s.bytes()).expect("write");
    let ipa = ipa.to_str().expect("utf-8");
    let run = |extra: &[&str]| -> Value {
        let mut args = vec![
            "preflight",
            ipa,
            "--format",
            "json",
            "--as-of",
            "2026-11-25",
        ];
        args.extend_from_slice(extra);
        let out = ipagate(&args);
        serde_json::from_slice(&out.stdout).expect("json report")
    };
    let codes = |doc: &Value| -> BTreeSet<String> {
        doc["diagnostics"]
            .as_array()
            .expect("diagnostics")
            .iter()
            .map(|d| d["code"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    // Default: every rule, so binaries and their symbols are read, and 91053 trips.
    let all = run(&[]);
    assert_eq!(all["read"]["binaries"], true, "{all:#}");
    assert_eq!(all["read"]["symbols"], true, "{all:#}");
    assert!(codes(&all).contains("ITMS-91053"), "{all:#}");
    // The four symbol readers off: binaries still read (signing rules), the scan skipped.
    let config = dir.path().join("ipagate.toml");
    std::fs::write(
        &config,
        "[rules]\nITMS-91053 = \"off\"\nITMS-91061 = \"off\"\nITMS-90683 = \"off\"\npush-entitlement-missing = \"off\"\n",
    )
    .expect("write config");
    let config = config.to_str().expect("utf-8");
    let without = run(&["--config", config]);
    assert_eq!(without["read"]["binaries"], true, "{without:#}");
    assert_eq!(without["read"]["symbols"], false, "{without:#}");
    assert!(!codes(&without).contains("ITMS-91053"), "{without:#}");
    // Every other finding is the same.
    let mut rest = codes(&all);
    rest.remove("ITMS-91053");
    assert_eq!(codes(&without), rest);
    // Not an App Store upload: no privacy rule applies, nothing scanned.
    let adhoc = run(&["--distribution", "ad-hoc"]);
    assert_eq!(adhoc["read"]["symbols"], false, "{adhoc:#}");

    // inspect: --binaries reads slices but marks the symbols as not scanned...
    let slice = |args: &[&str]| -> Value {
        let mut all = vec!["inspect", ipa, "--format", "json"];
        all.extend_from_slice(args);
        let out = ipagate(&all);
        let doc: Value = serde_json::from_slice(&out.stdout).expect("json facts");
        doc["binaries"]
            .as_array()
            .expect("binaries read")
            .iter()
            .find(|b| b["path"] == "Payload/Demo.app/Demo")
            .expect("the app's executable")["slices"][0]
            .clone()
    };
    let unscanned = slice(&["--binaries"]);
    assert_eq!(
        unscanned["symbols"]["state"], "not-scanned",
        "{unscanned:#}"
    );
    assert!(unscanned["symbols"].get("imports").is_none());
    // ...and --symbols lists them.
    let scanned = slice(&["--symbols"]);
    assert_eq!(scanned["symbols"]["state"], "scanned", "{scanned:#}");
    let imports = scanned["symbols"]["imports"].as_array().expect("imports");
    assert!(imports.iter().any(|s| s == "stat"), "{scanned:#}");
    assert!(
        scanned["symbols"]["selectors"]
            .as_array()
            .expect("selectors")
            .iter()
            .any(|s| s == "systemUptime")
    );
    // With the symbols, the categories they reveal (what ITMS-91053 judges) and the data version.
    let doc = |args: &[&str]| -> Value {
        let mut all = vec!["inspect", ipa, "--format", "json"];
        all.extend_from_slice(args);
        serde_json::from_slice(&ipagate(&all).stdout).expect("json facts")
    };
    let app = |doc: &Value| -> Value {
        doc["binaries"]
            .as_array()
            .expect("binaries")
            .iter()
            .find(|b| b["path"] == "Payload/Demo.app/Demo")
            .expect("app")
            .clone()
    };
    let with = doc(&["--symbols"]);
    assert_eq!(
        app(&with)["required_reason_categories"],
        serde_json::json!([
            {"category": "NSPrivacyAccessedAPICategoryFileTimestamp", "revealed_by": ["stat"]},
            {"category": "NSPrivacyAccessedAPICategorySystemBootTime", "revealed_by": ["systemUptime"]},
            {"category": "NSPrivacyAccessedAPICategoryUserDefaults", "revealed_by": ["NSUserDefaults"]},
        ]),
        "{with:#}"
    );
    assert_eq!(
        with["data"]["privacy"]["origin"]["from"], "embedded",
        "{with:#}"
    );
    // Which manifests cover the binary (its bundle's; resource bundles' too), symbols or not.
    assert_eq!(
        app(&with)["privacy_manifests"],
        serde_json::json!(["Payload/Demo.app/PrivacyInfo.xcprivacy"]),
        "{with:#}"
    );
    let without = doc(&["--binaries"]);
    assert!(app(&without)["required_reason_categories"].is_null());
    assert_eq!(
        app(&without)["privacy_manifests"],
        app(&with)["privacy_manifests"]
    );
    assert!(without["data"].is_null());
    // A resource bundle's manifest covers the code of the bundle that ships it.
    let clean = dir.path().join("clean-privacy.ipa");
    std::fs::write(
        &clean,
        ipagate_fixtures::scenario("clean-privacy")
            .expect("scenario")
            .bytes(),
    )
    .expect("write");
    let out = ipagate(&[
        "inspect",
        clean.to_str().expect("utf-8"),
        "--format",
        "json",
        "--binaries",
    ]);
    let covered =
        app(&serde_json::from_slice(&out.stdout).expect("json"))["privacy_manifests"].clone();
    for m in [
        "Payload/Demo.app/PrivacyInfo.xcprivacy",
        "Payload/Demo.app/FirebaseCore_Privacy.bundle/PrivacyInfo.xcprivacy",
    ] {
        assert!(
            covered.as_array().expect("list").iter().any(|c| c == m),
            "{m}: {covered}"
        );
    }
    // The human view says so too.
    let human = ipagate(&["inspect", ipa, "--binaries"]);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.contains("symbols not scanned (--symbols)"), "{text}");
    assert!(
        text.contains("covered by privacy manifests: Payload/Demo.app/PrivacyInfo.xcprivacy"),
        "{text}"
    );
    let human = ipagate(&["inspect", ipa, "--symbols"]);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains(" imports, ") && text.contains(" selectors, "),
        "{text}"
    );
    assert!(
        text.contains("required-reason APIs: FileTimestamp (stat); SystemBootTime (systemUptime)"),
        "{text}"
    );
}

/// `--deep` (issue 9, item 4): a sealed file edited, removed, or a file added after signing is
/// ITMS-90035 with its kind and path; without `--deep` nothing of it runs (the same packages
/// pass, and the report says the tier was not read); the clean signed package passes with it.
#[test]
fn deep_names_each_sealed_resource_mismatch_with_its_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str| {
        let path = dir.path().join(format!("{name}.ipa"));
        let s = ipagate_fixtures::scenario(name).expect("scenario");
        std::fs::write(&path, s.bytes()).expect("write");
        path
    };
    let deep = [
        "--trust-root",
        TRUST_ROOT,
        "--as-of",
        "2026-11-25",
        "--deep",
    ];
    let cases = [
        (
            "signed-resource-edited",
            "modified (Payload/Demo.app/sealed.txt)",
        ),
        (
            "signed-resource-removed",
            "missing (Payload/Demo.app/sealed.txt)",
        ),
        (
            "signed-resource-added",
            "unsealed (Payload/Demo.app/unsealed.txt)",
        ),
    ];
    for (name, want) in cases {
        let ipa = write(name);
        let found = findings_with(&ipa, "ITMS-90035", &deep);
        assert_eq!(found.len(), 1, "{name}: {found:?}");
        assert!(found[0].contains(want), "{name}: {found:?}");
        assert!(
            findings(&ipa, "ITMS-90035").is_empty(),
            "{name} without --deep"
        );
    }
    for clean in ["clean-signed", "clean-signed-fat64-arm64e"] {
        let ipa = write(clean);
        assert!(
            findings_with(&ipa, "ITMS-90035", &deep).is_empty(),
            "{clean} with --deep"
        );
    }
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/Demo.ipa");
    assert!(findings_with(&demo, "ITMS-90035", &deep).is_empty());
    // `inspect --deep` lists the same facts (`seals`), `null` without the flag.
    let added = write("signed-resource-added");
    let seals = |extra: &[&str]| -> Value {
        let mut args = vec![
            "inspect",
            added.to_str().expect("utf-8"),
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        let out = ipagate(&args);
        serde_json::from_slice::<Value>(&out.stdout).expect("json")["seals"].clone()
    };
    assert_eq!(seals(&[]), Value::Null);
    let found = seals(&["--deep"]);
    assert_eq!(found[0]["kind"], "unsealed", "{found}");
    assert_eq!(found[0]["path"], "Payload/Demo.app/unsealed.txt", "{found}");
}

/// Without `--deep` the seal tier is not read (no extra cost), and the report says so.
#[test]
fn deep_is_off_unless_asked() {
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/Demo.ipa");
    let read = |extra: &[&str]| -> Value {
        let mut args = vec![
            "preflight",
            demo.to_str().expect("utf-8"),
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        let out = ipagate(&args);
        let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
        doc["read"]["deep"].clone()
    };
    assert_eq!(read(&[]), Value::Bool(false));
    assert_eq!(read(&["--deep"]), Value::Bool(true));
}

/// ITMS-90045 severity by the allow-list's verdict: an unlisted `com.apple.developer.` key is a
/// warning (the list may lag behind Apple's new capabilities); `com.apple.keystore.device`
/// (Apple's example) and a macOS sandbox key are errors; listed keys pass.
#[test]
fn unsupported_entitlement_keys_are_judged_by_the_shared_allow_list() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut signing = ipagate_fixtures::scenarios::signing();
    for key in [
        "com.apple.developer.brand-new-capability",
        "com.apple.keystore.device",
        "com.apple.security.app-sandbox",
        "com.apple.developer.associated-domains",
    ] {
        signing
            .extra_entitlements
            .insert(key.into(), plist::Value::Boolean(true));
    }
    let path = dir.path().join("ent.ipa");
    std::fs::write(
        &path,
        ipagate_fixtures::scenarios::minimal()
            .signed(signing)
            .build(),
    )
    .expect("write");
    let out = crate::support::ipagate(&[
        "preflight",
        "--trust-root",
        TRUST_ROOT,
        path.to_str().expect("utf-8"),
        "--format",
        "json",
        "--as-of",
        "2026-11-25",
    ]);
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    let found: BTreeSet<(String, String)> = doc["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .filter(|d| d["code"] == "ITMS-90045")
        .map(|d| {
            let key = d["location"]["key"].as_str().unwrap_or_default().to_owned();
            (key, d["severity"].as_str().unwrap_or_default().to_owned())
        })
        .collect();
    let want: BTreeSet<(String, String)> = [
        ("com.apple.developer.brand-new-capability", "warning"),
        ("com.apple.keystore.device", "error"),
        ("com.apple.security.app-sandbox", "error"),
    ]
    .into_iter()
    .map(|(k, s)| (k.to_owned(), s.to_owned()))
    .collect();
    assert_eq!(found, want);
}
