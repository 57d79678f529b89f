//! Real-corpus suite (opt-in): every archive under `$IPAGATE_CORPUS/ipas` (the shared corpus at
//! `../shared/corpus`, which a fresh clone does not have) is read by the real binary without a
//! panic; each readable IPA's bundle ids, versions, plist format and nested bundles agree with the
//! independent reader's `facts.json`; the negative archives end with one clear error line and exit 2.
//!
//! Without `IPAGATE_CORPUS` the tests are reported as ignored, with the reason, in cargo's summary
//! (`build.rs` sets `cfg(ipagate_corpus)` from the environment); under CI (`CI` set) they run, and a
//! missing corpus fails them. `.ci/run` sets `IPAGATE_CORPUS=../shared/corpus`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::ipagate;

fn corpus() -> Option<PathBuf> {
    match std::env::var_os("IPAGATE_CORPUS") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            assert!(
                dir.join("facts.json").is_file(),
                "IPAGATE_CORPUS={} has no facts.json",
                dir.display()
            );
            Some(dir)
        }
        None if std::env::var_os("CI").is_some() => {
            panic!(
                "CI is set but IPAGATE_CORPUS is not: the real-corpus suite must run in CI (../shared/corpus)"
            )
        }
        None => {
            eprintln!("SKIPPED corpus test: set IPAGATE_CORPUS=../shared/corpus to run it");
            None
        }
    }
}

fn archives(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.join("ipas")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read corpus dir") {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn facts(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("facts.json")).expect("read facts.json"))
        .expect("parse facts.json")
}

fn key(dir: &Path, file: &Path) -> String {
    file.strip_prefix(dir)
        .expect("under corpus")
        .to_string_lossy()
        .replace('\\', "/")
}

#[test]
#[cfg_attr(
    not(ipagate_corpus),
    ignore = "set IPAGATE_CORPUS=../shared/corpus to run the real-corpus suite"
)]
fn corpus_every_archive_reads_without_panic() {
    let Some(dir) = corpus() else { return };
    let files = archives(&dir);
    assert!(
        files.len() >= 30,
        "expected the corpus's 33 archives, found {}",
        files.len()
    );
    for file in &files {
        let path = file.to_str().expect("utf-8 path");
        let runs: [(&str, &[&str]); 2] = [
            ("inspect", &["inspect", path, "--format", "json"]),
            (
                "preflight",
                &[
                    "preflight",
                    path,
                    "--format",
                    "json",
                    "--as-of",
                    "2026-11-25",
                ],
            ),
        ];
        for (cmd, args) in runs {
            let out = ipagate(args);
            let code = out.status.code().expect("exited, not killed by a signal");
            assert!(code <= 2, "{cmd} {}: exit {code}", file.display());
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                !stderr.contains("panicked"),
                "{cmd} {} panicked: {stderr}",
                file.display()
            );
            if code == 2 {
                assert_eq!(
                    stderr.lines().count(),
                    1,
                    "{cmd} {}: one error line expected, got {stderr}",
                    file.display()
                );
            } else {
                let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
                assert_eq!(doc["schema_version"], 1);
            }
        }
    }
}

#[test]
#[cfg_attr(
    not(ipagate_corpus),
    ignore = "set IPAGATE_CORPUS=../shared/corpus to run the real-corpus suite"
)]
fn corpus_negative_archives_fail_with_a_clear_error() {
    let Some(dir) = corpus() else { return };
    let facts = facts(&dir);
    let mut negatives = 0;
    for file in archives(&dir) {
        let entry = &facts["files"][key(&dir, &file)];
        let kind = entry["summary"]["kind"].as_str().unwrap_or("");
        if !kind.starts_with("NEGATIVE") {
            continue;
        }
        negatives += 1;
        let out = ipagate(&["inspect", file.to_str().expect("utf-8 path")]);
        assert_eq!(out.status.code(), Some(2), "{}: {kind}", file.display());
        let stderr = String::from_utf8_lossy(&out.stderr);
        let name = file
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        assert!(
            stderr.starts_with("ipagate: error: cannot read "),
            "{stderr}"
        );
        assert!(stderr.contains(&name), "the error names the file: {stderr}");
        // The problem is named, not just "failed".
        assert!(
            ["not a zip", "no .app", "no Info.plist"]
                .iter()
                .any(|p| stderr.contains(p)),
            "{}: {stderr}",
            file.display()
        );
    }
    assert_eq!(negatives, 7, "the corpus README lists 7 negative archives");
}

fn plist_str<'a>(info: &'a Value, key: &str) -> Option<&'a str> {
    info[key].as_str()
}

#[test]
#[cfg_attr(
    not(ipagate_corpus),
    ignore = "set IPAGATE_CORPUS=../shared/corpus to run the real-corpus suite"
)]
fn corpus_bundle_facts_agree_with_the_independent_reader() {
    let Some(dir) = corpus() else { return };
    let facts = facts(&dir);
    let mut compared = 0;
    let mut nested_compared = 0;
    for file in archives(&dir) {
        let entry = &facts["files"][key(&dir, &file)];
        let Some(apps) = entry["facts"]["apps"].as_array() else {
            continue;
        };
        let expected = &apps[0];
        let out = ipagate(&[
            "inspect",
            file.to_str().expect("utf-8 path"),
            "--format",
            "json",
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        let bundles = doc["bundles"].as_array().expect("bundles");
        let app = &bundles[0];
        let values = &app["info_plist"]["values"];
        let info = &expected["info"];
        let ctx = file.display().to_string();
        assert_eq!(
            values["bundle_id"].as_str(),
            plist_str(info, "CFBundleIdentifier"),
            "{ctx}: bundle id"
        );
        assert_eq!(
            values["short_version"].as_str(),
            plist_str(info, "CFBundleShortVersionString"),
            "{ctx}: version"
        );
        assert_eq!(
            values["build_version"].as_str(),
            plist_str(info, "CFBundleVersion"),
            "{ctx}: build"
        );
        assert_eq!(
            values["minimum_os"].as_str(),
            plist_str(info, "MinimumOSVersion"),
            "{ctx}: minimum OS"
        );
        let binary = info["binary"].as_bool().expect("binary flag");
        assert_eq!(
            values["format"].as_str(),
            Some(if binary { "binary" } else { "xml" }),
            "{ctx}: plist format"
        );
        // The app root: facts.json keeps the raw path (`Outer/Payload/X.app`, `X.app`), ipagate
        // normalises every layout to `Payload/X.app`; the last component must agree.
        let root = expected["root"].as_str().expect("root");
        let app_path = app["path"].as_str().expect("path");
        assert_eq!(
            app_path.rsplit('/').next(),
            root.rsplit('/').next(),
            "{ctx}: app root"
        );
        // Nested bundles, relative to the app.
        let rel = |kind: &str| -> Vec<String> {
            let mut v: Vec<String> = bundles
                .iter()
                .filter(|b| b["kind"] == kind && b["parent"].as_str() == Some(app_path))
                .map(|b| b["path"].as_str().expect("path")[app_path.len() + 1..].to_string())
                .collect();
            v.sort();
            v
        };
        let list = |k: &str| -> Vec<String> {
            let mut v: Vec<String> = expected[k]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            v.sort();
            v
        };
        assert_eq!(rel("app-extension"), list("appex"), "{ctx}: extensions");
        assert_eq!(rel("watch-app"), list("watch"), "{ctx}: watch apps");
        assert_eq!(rel("app-clip"), list("appclips"), "{ctx}: app clips");
        // facts.json lists `Frameworks/` entries by name: frameworks and loose dylibs together.
        let mut frameworks: Vec<String> = rel("framework")
            .iter()
            .map(|p| p.trim_start_matches("Frameworks/").to_string())
            .collect();
        frameworks.extend(
            app["loose_dylibs"]
                .as_array()
                .expect("dylibs")
                .iter()
                .filter_map(|d| d.as_str().map(str::to_owned)),
        );
        frameworks.sort();
        assert_eq!(frameworks, list("frameworks"), "{ctx}: frameworks");
        // Each nested app bundle (extensions, watch apps) the other reader parsed: same id and
        // plist format. facts.json names them by raw path; compare relative to the app root.
        for nested in entry["facts"]["nested"].as_array().into_iter().flatten() {
            let raw = nested["root"].as_str().expect("nested root");
            let rel = raw.strip_prefix(root).expect("nested under the app root");
            let path = format!("{app_path}{rel}");
            let ours = bundles
                .iter()
                .find(|b| b["path"] == path.as_str())
                .unwrap_or_else(|| panic!("{ctx}: {path} not found"));
            let values = &ours["info_plist"]["values"];
            // A nested bundle without a readable Info.plist (the hand-made watch app in
            // IncorrectlySigned.ipa ships Info-Watch.plist instead) has no id on either side.
            assert_eq!(
                values["bundle_id"].as_str(),
                nested["bundle_id"].as_str(),
                "{ctx}: {path} bundle id"
            );
            if let Some(binary) = nested["binary_plist"].as_bool() {
                assert_eq!(
                    values["format"].as_str(),
                    Some(if binary { "binary" } else { "xml" }),
                    "{ctx}: {path} plist format"
                );
            }
            nested_compared += 1;
        }
        compared += 1;
    }
    assert!(
        nested_compared >= 2,
        "nested bundles compared: {nested_compared}"
    );
    assert!(
        compared >= 24,
        "expected to compare the corpus's 26 readable IPAs, compared {compared}"
    );
}

/// `9.3.0` and `9.3` are the same version.
fn version_trimmed(v: &str) -> String {
    let mut parts: Vec<&str> = v.split('.').collect();
    while parts.len() > 2 && parts.last() == Some(&"0") {
        parts.pop();
    }
    parts.join(".")
}

#[test]
#[cfg_attr(
    not(ipagate_corpus),
    ignore = "set IPAGATE_CORPUS=../shared/corpus to run the real-corpus suite"
)]
fn corpus_mach_o_and_signature_facts_agree_with_the_independent_reader() {
    // For every corpus app whose main executable the other reader parsed: the slices' archs, the
    // platform / minos / sdk of each slice and the load command they came from, the encryption
    // ids, and the code signature: hash type of the first CodeDirectory, ad-hoc flag, identifier,
    // team id, entitlement keys, `get-task-allow`, and whether the Info.plist still matches its
    // special-slot hash.
    let Some(dir) = corpus() else { return };
    let facts = facts(&dir);
    let mut compared = 0;
    let mut slices_compared = 0;
    for file in archives(&dir) {
        let entry = &facts["files"][key(&dir, &file)];
        let Some(apps) = entry["facts"]["apps"].as_array() else {
            continue;
        };
        let expected = &apps[0];
        let Some(macho) = expected["macho"].as_object() else {
            continue;
        };
        let ctx = file.display().to_string();
        let out = ipagate(&[
            "inspect",
            file.to_str().expect("utf-8 path"),
            "--binaries",
            "--format",
            "json",
        ]);
        assert_eq!(out.status.code(), Some(0), "{ctx}");
        let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        let app_path = doc["bundles"][0]["path"].as_str().expect("app path");
        let binary = doc["binaries"]
            .as_array()
            .expect("binaries")
            .iter()
            .find(|b| b["bundle"] == app_path && b["role"] == "main-executable")
            .unwrap_or_else(|| panic!("{ctx}: no main executable in {app_path}"));
        let slices = binary["slices"].as_array().expect("slices");
        let archs: Vec<&str> = slices
            .iter()
            .map(|s| s["arch"].as_str().expect("arch"))
            .collect();
        let want_archs: Vec<&str> = macho["archs"]
            .as_array()
            .expect("archs")
            .iter()
            .map(|a| a.as_str().expect("arch"))
            .collect();
        assert_eq!(archs, want_archs, "{ctx}: archs");
        assert_eq!(
            binary["container"] != "thin",
            macho["fat"].as_bool().expect("fat"),
            "{ctx}: fat"
        );
        for (slice, want) in slices
            .iter()
            .zip(macho["per_slice"].as_array().expect("per_slice"))
        {
            let arch = want["arch"].as_str().expect("arch");
            let bv = &slice["build_version"];
            assert_eq!(
                // ipagate says `iossim`, the other reader `iOSSimulator`.
                bv["platform"]
                    .as_str()
                    .map(|p| match p.strip_suffix("sim") {
                        Some(base) => format!("{base}simulator"),
                        None => p.to_string(),
                    }),
                want["platform"].as_str().map(str::to_ascii_lowercase),
                "{ctx} {arch}: platform"
            );
            for field in ["minos", "sdk"] {
                assert_eq!(
                    bv[field].as_str().map(version_trimmed),
                    want[field].as_str().map(version_trimmed),
                    "{ctx} {arch}: {field}"
                );
            }
            let source = match want["cmd"].as_str() {
                Some("BUILD_VERSION") => "build-version",
                Some("VERSION_MIN") => "version-min",
                other => panic!("{ctx}: unknown load command {other:?}"),
            };
            assert_eq!(bv["source"], source, "{ctx} {arch}: load command");
            slices_compared += 1;
        }
        let cryptids: Vec<i64> = slices
            .iter()
            .filter_map(|s| s["encryption"]["cryptid"].as_i64())
            .collect();
        let want_cryptids: Vec<i64> = macho["cryptid"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default();
        assert_eq!(cryptids, want_cryptids, "{ctx}: cryptid per slice");

        let cs = &expected["macho"]["codesig"];
        if !cs.is_object() {
            continue;
        }
        for slice in slices {
            let arch = slice["arch"].as_str().unwrap_or("?");
            let sig = &slice["signature"];
            assert_eq!(sig["state"], "parsed", "{ctx} {arch}: signature state");
            let cds = sig["code_directories"]
                .as_array()
                .expect("code directories");
            let first = &cds[0];
            assert_eq!(
                first["hash_type"], cs["cd_hash_type"],
                "{ctx} {arch}: hash type"
            );
            assert_eq!(first["adhoc"], cs["adhoc"], "{ctx} {arch}: adhoc");
            assert_eq!(
                first["identifier"], cs["identifier"],
                "{ctx} {arch}: identifier"
            );
            assert_eq!(first["team_id"], cs["team_id"], "{ctx} {arch}: team id");
            assert_eq!(
                cds.len() > 1,
                cs["alt_code_directory"].as_bool().unwrap_or(false),
                "{ctx} {arch}: alternate CodeDirectory"
            );
            let mut keys: Vec<&str> = sig["entitlements"]
                .as_object()
                .map(|o| o.keys().map(String::as_str).collect())
                .unwrap_or_default();
            keys.sort_unstable();
            let mut want_keys: Vec<&str> = cs["entitlements_keys"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            want_keys.sort_unstable();
            assert_eq!(keys, want_keys, "{ctx} {arch}: entitlement keys");
            assert_eq!(
                sig["entitlements"]["get-task-allow"].as_bool(),
                cs["get_task_allow"].as_bool(),
                "{ctx} {arch}: get-task-allow"
            );
            // The Info.plist special slot: facts.json says "ok" for every app it checked.
            let info_states: Vec<&str> = cds
                .iter()
                .flat_map(|cd| cd["special_slot_checks"].as_array().into_iter().flatten())
                .filter(|c| c["slot"] == 1)
                .map(|c| c["state"].as_str().unwrap_or("?"))
                .collect();
            let want_all_ok = expected["infoplist_hash_vs_codedirectory"]
                .as_array()
                .is_some_and(|a| a.iter().all(|s| s == "ok"));
            assert!(
                !info_states.is_empty(),
                "{ctx} {arch}: no Info.plist slot checked"
            );
            assert_eq!(
                info_states.iter().all(|s| *s == "match"),
                want_all_ok,
                "{ctx} {arch}: Info.plist vs CodeDirectory: {info_states:?}"
            );
        }
        compared += 1;
    }
    eprintln!("corpus Mach-O/signature: {compared} apps, {slices_compared} slices agree");
    assert!(compared >= 18, "apps compared: {compared}");
}

/// facts.json's profile type spelling for ipagate's kind.
fn facts_kind(kind: &str) -> &str {
    match kind {
        "app-store" => "appstore",
        "ad-hoc" => "adhoc",
        other => other,
    }
}

#[test]
#[cfg_attr(
    not(ipagate_corpus),
    ignore = "set IPAGATE_CORPUS=../shared/corpus to run the real-corpus suite"
)]
fn corpus_embedded_profiles_agree_with_the_independent_reader() {
    let Some(dir) = corpus() else { return };
    let facts = facts(&dir);
    let (mut compared, mut absent_both) = (0, 0);
    for file in archives(&dir) {
        let entry = &facts["files"][key(&dir, &file)];
        let Some(app) = entry["summary"]["apps"].as_array().and_then(|a| a.first()) else {
            continue;
        };
        let out = ipagate(&[
            "inspect",
            file.to_str().expect("utf-8 path"),
            "--format",
            "json",
        ]);
        if out.status.code() != Some(0) {
            continue; // the negative archives; corpus_negative_archives_* covers them
        }
        let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        let ours = &doc["bundles"][0]["profile"];
        let theirs = &app["embedded_profile"];
        let ctx = file.display().to_string();
        if theirs.is_null() {
            assert!(
                ours.is_null(),
                "{ctx}: ipagate found a profile facts.json did not: {ours}"
            );
            absent_both += 1;
            continue;
        }
        assert_eq!(ours["state"], "parsed", "{ctx}: {ours}");
        assert_eq!(
            facts_kind(ours["kind"].as_str().expect("kind")),
            theirs["type"].as_str().expect("type"),
            "{ctx}: kind"
        );
        assert_eq!(ours["team_ids"], theirs["team_ids"], "{ctx}: team");
        assert_eq!(
            ours["application_identifier"], theirs["app_id"],
            "{ctx}: app id"
        );
        assert_eq!(ours["name"], theirs["name"], "{ctx}: name");
        // facts.json keeps the plist's UTC value without a zone; ipagate writes RFC 3339 UTC.
        let expires = ours["expiration_date"].as_str().expect("expiration_date");
        assert_eq!(
            expires.trim_end_matches('Z').trim_end_matches("+00:00"),
            theirs["expires"].as_str().expect("expires"),
            "{ctx}: expiry"
        );
        assert_eq!(
            ours["devices_count"].as_u64().unwrap_or(0),
            theirs["devices"].as_u64().expect("devices"),
            "{ctx}: devices"
        );
        // Old profiles (2015) have no Platform key: facts.json says null, ipagate [].
        if theirs["platforms"].is_null() {
            assert_eq!(ours["platforms"], serde_json::json!([]), "{ctx}: platforms");
        } else {
            assert_eq!(ours["platforms"], theirs["platforms"], "{ctx}: platforms");
        }
        compared += 1;
    }
    println!(
        "embedded profiles: {compared} agree with facts.json, {absent_both} IPAs without one on both sides"
    );
    assert!(
        compared >= 10,
        "only {compared} corpus IPAs carry a profile"
    );
}

/// The signer's certificate of every corpus app executable (read from its BER CMS blob) is one
/// of its embedded profile's DeveloperCertificates: the certificate facts of signatures and of
/// profiles agree with each other (facts.json records neither leaf, so this is the cross-check).
#[test]
#[cfg_attr(
    not(ipagate_corpus),
    ignore = "set IPAGATE_CORPUS=../shared/corpus to run the real-corpus suite"
)]
fn corpus_signing_certificates_are_listed_by_their_profiles() {
    let Some(dir) = corpus() else { return };
    let mut checked = 0;
    for file in archives(&dir) {
        let out = ipagate(&[
            "inspect",
            file.to_str().expect("utf-8 path"),
            "--binaries",
            "--format",
            "json",
        ]);
        if out.status.code() != Some(0) {
            continue;
        }
        let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        let app = &doc["bundles"][0];
        let Some(listed) = app["profile"]["developer_certificates"].as_array() else {
            continue;
        };
        let app_path = app["path"].as_str().expect("path");
        let Some(main) = doc["binaries"].as_array().and_then(|bins| {
            bins.iter()
                .find(|b| b["bundle"] == app_path && b["role"] == "main-executable")
        }) else {
            continue;
        };
        let sig = &main["slices"][0]["signature"];
        let Some(signer) = sig["signer"].as_u64() else {
            continue;
        };
        let leaf = &sig["certificates"][signer as usize];
        let ctx = file.display().to_string();
        assert!(
            listed.iter().any(|c| c["sha1"] == leaf["sha1"]),
            "{ctx}: signer {} not in the profile",
            leaf["subject_cn"]
        );
        // Apple-issued leaves carry Apple's certificate-type extension; fastlane's
        // "very capable app" is re-signed by a self-made "TestFixture" certificate that does not.
        let apple_issued = leaf["subject_cn"].as_str().is_some_and(|cn| {
            ["Apple ", "iPhone ", "iOS "]
                .iter()
                .any(|p| cn.starts_with(p))
        });
        assert!(
            !apple_issued || matches!(leaf["kind"].as_str(), Some("distribution" | "development")),
            "{ctx}: the leaf carries Apple's certificate-type extension: {leaf}"
        );
        checked += 1;
    }
    println!("signing certificates listed by their profiles: {checked}");
    assert!(
        checked >= 10,
        "only {checked} corpus apps have a signer and a profile"
    );
}

/// Regression: calabash's chou apps use an older App ID whose prefix (Y54WEA9F74, the profile's
/// ApplicationIdentifierPrefix) is not the team id (7S6YLL52WH). Their application-identifier and
/// keychain groups are valid; only get-task-allow (a development build) is reported by 90164.
#[test]
#[cfg_attr(
    not(ipagate_corpus),
    ignore = "set IPAGATE_CORPUS=../shared/corpus to run the real-corpus suite"
)]
fn corpus_legacy_app_id_prefix_is_not_an_entitlement_mismatch() {
    let Some(dir) = corpus() else { return };
    for name in ["chou.ipa", "chou-cal.ipa"] {
        let file = dir.join("ipas/calabash-run_loop").join(name);
        let out = ipagate(&[
            "preflight",
            file.to_str().expect("utf-8 path"),
            "--format",
            "json",
            "--as-of",
            "2026-11-25",
        ]);
        let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        let messages: Vec<&str> = doc["diagnostics"]
            .as_array()
            .expect("diagnostics")
            .iter()
            .filter(|d| d["code"] == "ITMS-90164")
            .filter_map(|d| d["message"].as_str())
            .collect();
        assert_eq!(messages.len(), 1, "{name}: {messages:?}");
        assert!(
            messages[0].contains("get-task-allow"),
            "{name}: {messages:?}"
        );
    }
}

/// The trust tier on the real corpus: every CMS signature of every Mach-O and every embedded
/// profile verifies and chains to a pinned Apple root, except what is not Apple's and is reported
/// as such: ad-hoc signatures are `skipped` (and facts.json calls them ad-hoc too), fastlane's
/// "very capable app" re-signed with a self-made "TestFixture" certificate is `untrusted-root`.
/// Then the rules agree: `preflight` as of the day each app was signed reports no trust problem
/// (ITMS-90034/90035/90161) for the Apple-signed ones, and `untrusted-root` for the TestFixture ones.
#[test]
#[cfg_attr(
    not(ipagate_corpus),
    ignore = "set IPAGATE_CORPUS=../shared/corpus to run the real-corpus suite"
)]
fn corpus_signatures_and_profiles_chain_to_apple() {
    let Some(dir) = corpus() else { return };
    let facts = facts(&dir);
    const APPLE_ROOTS: [&str; 2] = ["Apple Root CA", "Apple Root Certificate Authority"];
    let (mut verified, mut adhoc, mut foreign, mut profiles, mut gated) = (0, 0, 0, 0, 0);
    for file in archives(&dir) {
        let ctx = key(&dir, &file);
        let out = ipagate(&[
            "inspect",
            file.to_str().expect("utf-8 path"),
            "--binaries",
            "--format",
            "json",
        ]);
        if out.status.code() != Some(0) {
            continue;
        }
        let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        let self_made = ctx.starts_with("ipas/fastlane/very");
        let mut signed_on: Option<String> = None;
        let judge = |what: &str, trust: &Value| -> &'static str {
            match trust["state"].as_str() {
                Some("verified") => {
                    let root = trust["chain"]
                        .as_array()
                        .and_then(|c| c.last())
                        .and_then(|c| c["subject"].as_str());
                    assert!(
                        root.is_some_and(|r| APPLE_ROOTS.contains(&r)),
                        "{ctx} {what}: verified up to {root:?}"
                    );
                    assert!(!self_made, "{ctx} {what}: TestFixture verified");
                    "verified"
                }
                Some("untrusted") if self_made => {
                    assert_eq!(trust["problem"], "untrusted-root", "{ctx} {what}");
                    assert!(
                        trust["detail"]
                            .as_str()
                            .unwrap_or("")
                            .contains("TestFixture"),
                        "{ctx} {what}: {trust}"
                    );
                    "foreign"
                }
                Some("skipped") => "skipped",
                _ => panic!("{ctx} {what}: {trust}"),
            }
        };
        for b in doc["binaries"].as_array().into_iter().flatten() {
            for s in b["slices"].as_array().into_iter().flatten() {
                let sig = &s["signature"];
                if sig["state"] != "parsed" {
                    continue;
                }
                let what = format!("{} ({})", b["path"], s["arch"]);
                match judge(&what, &sig["trust"]) {
                    "verified" => {
                        verified += 1;
                        if b["role"] == "main-executable" && signed_on.is_none() {
                            signed_on = sig["trust"]["signing_time"].as_str().map(str::to_owned);
                        }
                    }
                    "foreign" => foreign += 1,
                    _ => {
                        // Skipped means ad-hoc: an empty CMS blob, and facts.json agrees where it
                        // read this executable.
                        assert_eq!(sig["cms_size"], 0, "{ctx} {what}: skipped but has a CMS");
                        adhoc += 1;
                    }
                }
            }
        }
        for bundle in doc["bundles"].as_array().into_iter().flatten() {
            let p = &bundle["profile"];
            if p["state"] != "parsed" {
                continue;
            }
            let what = p["path"].as_str().unwrap_or("?").to_string();
            assert_ne!(judge(&what, &p["trust"]), "skipped", "{ctx} {what}");
            profiles += 1;
        }
        // facts.json's reading of the main executable: ad-hoc there iff skipped here.
        if let Some(cs) = facts["files"][&ctx]["facts"]["apps"][0]["macho"]["codesig"].as_object() {
            let app_path = doc["bundles"][0]["path"].as_str().unwrap_or("");
            let main = doc["binaries"].as_array().and_then(|bins| {
                bins.iter()
                    .find(|b| b["bundle"] == app_path && b["role"] == "main-executable")
            });
            if let Some(main) = main {
                let state = &main["slices"][0]["signature"]["trust"]["state"];
                assert_eq!(
                    cs["adhoc"].as_bool() == Some(true),
                    state == "skipped",
                    "{ctx}: facts.json adhoc {:?}, trust {state}",
                    cs["adhoc"]
                );
            }
        }
        // The rules, as of the day the app was signed (when its chain was valid).
        let Some(day) = signed_on.as_deref().and_then(|t| t.get(..10)) else {
            continue;
        };
        let out = ipagate(&[
            "preflight",
            file.to_str().expect("utf-8 path"),
            "--format",
            "json",
            "--as-of",
            day,
        ]);
        let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        let trust_findings: Vec<String> = report["diagnostics"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| {
                ["ITMS-90034", "ITMS-90035", "ITMS-90161"]
                    .contains(&d["code"].as_str().unwrap_or(""))
            })
            .filter_map(|d| d["message"].as_str())
            .filter(|m| {
                [
                    "chains to Apple Root CA",
                    "invalid CMS signature",
                    "CMS signature does not verify",
                    "valid only from",
                    "[Invalid signature.]",
                ]
                .iter()
                .any(|k| m.contains(k))
            })
            .map(str::to_owned)
            .collect();
        assert!(
            trust_findings.is_empty(),
            "{ctx} as of {day}: {trust_findings:?}"
        );
        gated += 1;
    }
    for file in ["very capable app.ipa", "very-capable-app.ipa"] {
        let path = dir.join("ipas/fastlane").join(file);
        let out = ipagate(&[
            "preflight",
            path.to_str().expect("utf-8 path"),
            "--format",
            "json",
            "--as-of",
            "2019-01-01",
        ]);
        let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        let named = report["diagnostics"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|d| {
                d["code"] == "ITMS-90034"
                    && d["message"]
                        .as_str()
                        .unwrap_or("")
                        .contains("untrusted-root")
            });
        assert!(named, "{file}: no ITMS-90034 untrusted-root");
    }
    println!(
        "corpus trust: {verified} signatures verified, {adhoc} ad-hoc, {foreign} self-signed; {profiles} profiles; {gated} apps gated as of their signing day"
    );
    assert!(
        verified >= 60 && profiles >= 15 && gated >= 12,
        "too few checked"
    );
}

/// `inspect --deep` on every readable archive: Apple's `codesign` sealed these bundles, so no
/// sealed resource is missing, modified, unsealed or a nested-code mismatch (measured: none in the
/// corpus once equal-weight `omit` rules win, as for `^` vs `^Info\.plist$` at weight 20).
#[test]
#[cfg_attr(
    not(ipagate_corpus),
    ignore = "set IPAGATE_CORPUS=../shared/corpus to run the real-corpus suite"
)]
fn corpus_deep_finds_no_sealed_resource_mismatch() {
    let Some(dir) = corpus() else { return };
    let mut checked = 0;
    for file in &archives(&dir) {
        let path = file.to_str().expect("utf-8 path");
        let out = ipagate(&["inspect", path, "--deep", "--format", "json"]);
        if out.status.code() != Some(0) {
            continue;
        }
        let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
        let seals = doc["seals"].as_array().expect("seals read with --deep");
        assert!(seals.is_empty(), "{}: {seals:?}", key(&dir, file));
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} archives read");
}
