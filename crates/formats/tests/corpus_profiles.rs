//! Every provisioning profile of the real corpus, read by ipagate and checked against the
//! independent reading in `facts.json` (opt-in: `IPAGATE_CORPUS=/work/shared/corpus`; skipped,
//! saying so, without it).
//!
//! Checked per file: parses or not; kind, team ids, application identifier, devices count,
//! platforms, expiry. Known, explained disagreements are listed in [`EXPECTED_DIFFERENCES`].

use std::path::PathBuf;

use ipagate_formats::profile::{self, ProfileKind};

/// Where ipagate and `facts.json` differ on purpose, and why.
const EXPECTED_DIFFERENCES: &[(&str, &str)] = &[(
    // formats.md §7.1: macOS profiles carry devices without `get-task-allow` (the key is
    // `com.apple.security.get-task-allow`), so the plain table calls them ad-hoc; the development
    // certificate (OID 1.2.840.113635.100.6.1.12) says development. facts.json names it
    // "macos-development(devices)", so ipagate's "development" agrees in substance.
    "profiles/app-info/macos_development.provisionprofile",
    "kind",
)];

fn corpus() -> Option<PathBuf> {
    let Some(root) = std::env::var_os("IPAGATE_CORPUS").map(PathBuf::from) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but IPAGATE_CORPUS is not"
        );
        eprintln!("skipped: set IPAGATE_CORPUS=/work/shared/corpus to read the corpus profiles");
        return None;
    };
    Some(root)
}

fn kind_name(k: ProfileKind) -> &'static str {
    match k {
        ProfileKind::AppStore => "appstore",
        ProfileKind::AdHoc => "adhoc",
        ProfileKind::Development => "development",
        ProfileKind::Enterprise => "enterprise",
    }
}

fn naive(d: Option<chrono::DateTime<chrono::Utc>>) -> Option<String> {
    d.map(|d| d.format("%Y-%m-%dT%H:%M:%S").to_string())
}

#[test]
fn corpus_profiles_agree_with_facts_json() {
    let Some(root) = corpus() else { return };
    let facts: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("facts.json")).unwrap()).unwrap();
    let files = facts["files"].as_object().unwrap();
    let (mut total, mut agree, mut broken_agree) = (0, 0, 0);
    let mut disagreements = Vec::new();
    for (rel, entry) in files.iter().filter(|(k, _)| k.starts_with("profiles/")) {
        total += 1;
        let bytes = std::fs::read(root.join(rel)).unwrap();
        let summary = &entry["summary"];
        let ours = profile::parse(rel, &bytes);
        match (ours, summary.get("error")) {
            (Err(e), Some(_)) => {
                broken_agree += 1;
                agree += 1;
                assert!(!e.0.is_empty());
                println!("{rel}: broken, as facts.json says: {e}");
            }
            (Err(e), None) => disagreements.push(format!("{rel}: ours fails ({e}), theirs parses")),
            (Ok(p), Some(err)) => disagreements.push(format!(
                "{rel}: ours parses ({:?}), theirs fails ({err})",
                p.name
            )),
            (Ok(p), None) => {
                let mut diffs = Vec::new();
                let check = |field: &str,
                             ours: serde_json::Value,
                             theirs: &serde_json::Value,
                             diffs: &mut Vec<String>| {
                    if &ours != theirs && !EXPECTED_DIFFERENCES.contains(&(rel.as_str(), field)) {
                        diffs.push(format!("{field}: ours {ours}, theirs {theirs}"));
                    }
                };
                check(
                    "kind",
                    kind_name(p.kind).into(),
                    &summary["type"],
                    &mut diffs,
                );
                check(
                    "team_ids",
                    serde_json::json!(p.team_ids),
                    &summary["team_ids"],
                    &mut diffs,
                );
                check(
                    "app_id",
                    serde_json::json!(p.application_identifier),
                    &summary["app_id"],
                    &mut diffs,
                );
                check(
                    "name",
                    serde_json::json!(p.name),
                    &summary["name"],
                    &mut diffs,
                );
                check(
                    "team_name",
                    serde_json::json!(p.team_name),
                    &summary["team_name"],
                    &mut diffs,
                );
                check(
                    "devices",
                    serde_json::json!(p.devices_count.unwrap_or(0)),
                    &summary["devices"],
                    &mut diffs,
                );
                check(
                    "certificates",
                    serde_json::json!(p.developer_certificates.len()),
                    &summary["certificates"],
                    &mut diffs,
                );
                check(
                    "platforms",
                    serde_json::json!(p.platforms),
                    &summary["platforms"],
                    &mut diffs,
                );
                check(
                    "expires",
                    serde_json::json!(naive(p.expiration_date)),
                    &summary["expires"],
                    &mut diffs,
                );
                check(
                    "created",
                    serde_json::json!(naive(p.creation_date)),
                    &summary["created"],
                    &mut diffs,
                );
                println!(
                    "{rel}: {} {:?} team {:?} expires {:?} ({:?})",
                    p.kind, p.name, p.team_ids, p.expiration_date, p.encoding
                );
                if diffs.is_empty() {
                    agree += 1;
                } else {
                    disagreements.push(format!("{rel}: {}", diffs.join("; ")));
                }
            }
        }
    }
    println!(
        "profiles: {agree}/{total} agree with facts.json ({broken_agree} broken on both sides)"
    );
    assert!(
        total >= 30,
        "expected the corpus's 32 profiles, found {total}"
    );
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

/// Every Apple-issued corpus profile's CMS verifies and chains to a pinned Apple root; the ones
/// signed by someone else or not signed at all are reported as such, never as a verified profile
/// and never as a broken signature (the signatures themselves are sound).
#[test]
fn corpus_profiles_are_signed_by_apple() {
    use ipagate_formats::trust::{Trust, TrustProblem};
    let Some(root) = corpus() else { return };
    // Not Apple's: re-signed by the upstream projects' own self-signed test certificates, or
    // bare property lists (formats.md §7: written by tools, never by Apple).
    const NOT_APPLE: &[(&str, &str)] = &[
        ("profiles/app-info/signed_plist.mobileprovision", "icyleaf"),
        ("profiles/isign/test.mobileprovision", "isign_tests"),
    ];
    // Edited after Apple signed it: fastlane made its macOS test profile from the iOS one by
    // changing `Platform` from `iOS` to `OSX` in place (`cmp` with `fastlane/test.mobileprovision`
    // differs in exactly those three bytes; `openssl smime -verify -noverify` says "digest failure").
    const EDITED: &str = "profiles/fastlane/test.provisionprofile";
    const UNSIGNED: &[&str] = &[
        "profiles/app-info/plist.mobileprovision",
        "profiles/app-info/bplist.mobileprovision",
    ];
    let mut verified = 0;
    let mut dir_stack = vec![root.join("profiles")];
    let mut files = Vec::new();
    while let Some(d) = dir_stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dir_stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    for file in files {
        let rel = file
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let Ok(p) = profile::parse(&rel, &std::fs::read(&file).unwrap()) else {
            continue;
        };
        match (&p.trust, NOT_APPLE.iter().find(|(f, _)| *f == rel)) {
            (Trust::Verified { chain, .. }, None) => {
                let root = chain.last().map(|c| c.subject.as_str());
                assert!(
                    matches!(
                        root,
                        Some("Apple Root CA" | "Apple Root Certificate Authority")
                    ),
                    "{rel}: {root:?}"
                );
                verified += 1;
            }
            (
                Trust::Untrusted {
                    problem: TrustProblem::UntrustedRoot,
                    detail,
                    ..
                },
                Some((_, signer)),
            ) => {
                assert!(detail.contains(signer), "{rel}: {detail}");
                println!("{rel}: not Apple's: {detail}");
            }
            (
                Trust::Untrusted {
                    problem: TrustProblem::MessageDigestMismatch,
                    detail,
                    ..
                },
                None,
            ) if rel == EDITED => println!("{rel}: edited after signing: {detail}"),
            (Trust::Skipped { why }, None) if UNSIGNED.contains(&rel.as_str()) => {
                println!("{rel}: {why}");
            }
            (other, _) => panic!("{rel}: {other:?}"),
        }
    }
    println!("{verified} corpus profiles verified against the pinned Apple roots");
    assert!(verified >= 20, "{verified}");
}
