//! Every rule against the fixture catalog of `ipagate-fixtures`, through the real binary's JSON:
//! the clean packages trip nothing, each rule-trip package trips what its recipe says, every rule
//! is tripped by at least one package, unreadable inputs end with one error line and exit 2, and
//! hostile archives end without a panic.

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
    // Which copy a reader takes differs between readers; ipagate takes the last, like the zip
    // crate and Info-ZIP, and fails the gate so the disagreement cannot slip through.
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
        let out = ipagate(&["inspect", p.to_str().expect("utf-8"), "--format", "json"]);
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
