//! The command line itself: exit codes, JSON shape, human output, colour, configuration, the rule
//! list in the README, and broken pipes.

use crate::support::TRUST_ROOT;
use std::io::Read;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::{bin, ipagate};

fn write_clean(dir: &tempfile::TempDir) -> String {
    let s = ipagate_fixtures::scenario("clean").expect("clean scenario");
    let path = dir.path().join("Demo.ipa");
    std::fs::write(&path, s.bytes()).expect("write");
    path.to_string_lossy().into_owned()
}

fn write_broken(dir: &tempfile::TempDir) -> String {
    let s = ipagate_fixtures::scenario("broken").expect("broken scenario");
    let path = dir.path().join("Broken.ipa");
    std::fs::write(&path, s.bytes()).expect("write");
    path.to_string_lossy().into_owned()
}

#[test]
fn preflight_json_has_the_documented_shape() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_clean(&dir);
    let out = ipagate(&[
        "preflight",
        "--trust-root",
        TRUST_ROOT,
        &path,
        "--format",
        "json",
        "--as-of",
        "2026-11-25",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["tool"]["name"], "ipagate");
    assert_eq!(doc["as_of"], "2026-11-25");
    assert_eq!(doc["distribution"], "app-store");
    assert_eq!(doc["app"]["bundle_id"], "com.example.demo");
    assert_eq!(doc["app"]["version"], "1.2.3");
    assert_eq!(doc["app"]["build"], "42");
    let sha = doc["input"]["sha256"].as_str().expect("sha256");
    assert_eq!(sha.len(), 64);
    assert_eq!(
        doc["input"]["size"].as_u64(),
        std::fs::metadata(&path).ok().map(|m| m.len())
    );
    assert!(doc["bundles"].as_array().is_some_and(|b| b.len() > 1));
    for key in ["errors", "warnings", "infos", "passed"] {
        assert!(doc["summary"].get(key).is_some(), "summary.{key}");
    }
}

#[test]
fn preflight_fails_the_gate_with_exit_1_and_compiler_style_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_broken(&dir);
    let out = ipagate(&[
        "preflight",
        "--trust-root",
        TRUST_ROOT,
        &path,
        "--as-of",
        "2026-11-25",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("error[ITMS-90060]: "), "{text}");
    assert!(
        text.contains("  --> Payload/Demo.app/Info.plist: CFBundleShortVersionString"),
        "{text}"
    );
    assert!(text.contains("  = help: "), "{text}");
    assert!(
        text.lines()
            .last()
            .is_some_and(|l| l.starts_with("preflight failed: com.example.demo")),
        "{text}"
    );
    assert!(!text.contains('\x1b'), "no colour when not a terminal");
    let forced = ipagate(&[
        "preflight",
        "--trust-root",
        TRUST_ROOT,
        &path,
        "--as-of",
        "2026-11-25",
        "--color",
        "always",
    ]);
    assert!(
        String::from_utf8_lossy(&forced.stdout).contains("\x1b[1;31merror[ITMS-"),
        "--color always colours"
    );
}

#[test]
fn output_is_deterministic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_broken(&dir);
    let args = [
        "preflight",
        "--trust-root",
        TRUST_ROOT,
        path.as_str(),
        "--format",
        "json",
        "--as-of",
        "2026-11-25",
    ];
    let first = ipagate(&args).stdout;
    for _ in 0..3 {
        assert_eq!(ipagate(&args).stdout, first);
    }
}

#[test]
fn deny_warnings_and_distribution_change_the_verdict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = ipagate_fixtures::scenario("clean").expect("clean");
    let Some(ipa) = s.ipa() else {
        panic!("clean is built by the builder")
    };
    // Only a warning: the encryption declaration is missing.
    let path = dir.path().join("Warn.ipa");
    std::fs::write(&path, ipa.remove("ITSAppUsesNonExemptEncryption").build()).expect("write");
    let path = path.to_string_lossy().into_owned();
    assert_eq!(
        ipagate(&[
            "preflight",
            "--trust-root",
            TRUST_ROOT,
            &path,
            "--as-of",
            "2026-11-25"
        ])
        .status
        .code(),
        Some(0)
    );
    assert_eq!(
        ipagate(&[
            "preflight",
            "--trust-root",
            TRUST_ROOT,
            &path,
            "--as-of",
            "2026-11-25",
            "--deny-warnings"
        ])
        .status
        .code(),
        Some(1)
    );
    // An App Store-only rule does not apply to ad hoc builds. (The same export with an ad-hoc
    // profile: the clean package's App Store profile is the wrong kind for ad-hoc, ITMS-90161.)
    let ad_hoc = dir.path().join("WarnAdHoc.ipa");
    std::fs::write(
        &ad_hoc,
        ipagate_fixtures::scenarios::ad_hoc()
            .remove("ITSAppUsesNonExemptEncryption")
            .build(),
    )
    .expect("write");
    let out = ipagate(&[
        "preflight",
        "--trust-root",
        TRUST_ROOT,
        &ad_hoc.to_string_lossy(),
        "--as-of",
        "2026-11-25",
        "--deny-warnings",
        "--distribution",
        "ad-hoc",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

fn with_config(ipa: &str, config: &std::path::Path) -> std::process::Output {
    ipagate(&[
        "preflight",
        "--trust-root",
        TRUST_ROOT,
        ipa,
        "--config",
        config.to_str().expect("utf-8"),
    ])
}

#[test]
fn config_file_overrides_severity_and_rejects_unknown_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_broken(&dir);
    let config = dir.path().join("ipagate.toml");
    std::fs::write(
        &config,
        "[rules]\nITMS-90060 = \"off\"\narchive-macosx-junk = \"error\"\n",
    )
    .expect("write");
    let out = ipagate(&[
        "preflight",
        "--trust-root",
        TRUST_ROOT,
        &path,
        "--format",
        "json",
        "--as-of",
        "2026-11-25",
        "--config",
        config.to_str().expect("utf-8"),
    ]);
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    let diags = doc["diagnostics"].as_array().expect("diagnostics");
    assert!(
        !diags.iter().any(|d| d["code"] == "ITMS-90060"),
        "turned off"
    );
    assert!(
        diags
            .iter()
            .any(|d| d["rule"] == "archive-macosx-junk" && d["severity"] == "error"),
        "raised to error"
    );

    std::fs::write(&config, "deny-warning = true\n").expect("write");
    let out = with_config(&path, &config);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("deny-warning"),
        "names the unknown key"
    );
    std::fs::write(&config, "[rules]\nITMS-12345 = \"off\"\n").expect("write");
    let out = with_config(&path, &config);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown rule \"ITMS-12345\""));
}

#[test]
fn rules_and_explain() {
    let out = ipagate(&["rules", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(doc["schema_version"], 1);
    let list = &doc["rules"];
    // Every package rule, then the rules only `lint` runs (scope "source").
    let package = list
        .as_array()
        .map(|l| l.iter().filter(|r| r["scope"] != "source").count());
    assert_eq!(package, Some(ipagate_rules::rules().len()));
    let out = ipagate(&["explain", "90060"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ITMS-90060 short-version-invalid"));
    let out = ipagate(&["explain", "ITMS-1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown rule"));
}

#[test]
fn readme_rule_list_is_current() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README");
    let start = readme
        .find("<!-- rules:start -->\n")
        .expect("rules:start marker")
        + "<!-- rules:start -->\n".len();
    let end = readme.find("<!-- rules:end -->").expect("rules:end marker");
    let out = ipagate(&["rules", "--format", "markdown"]);
    assert_eq!(
        &readme[start..end],
        String::from_utf8_lossy(&out.stdout),
        "README rule list is stale: run `cargo run -- rules --format markdown` and paste it between the markers"
    );
}

#[test]
fn bad_invocations_exit_2() {
    assert_eq!(ipagate(&["preflight"]).status.code(), Some(2));
    assert_eq!(
        ipagate(&[
            "preflight",
            "--trust-root",
            TRUST_ROOT,
            "x.ipa",
            "--as-of",
            "25/11/2026"
        ])
        .status
        .code(),
        Some(2)
    );
    let out = ipagate(&[
        "inspect",
        "--trust-root",
        TRUST_ROOT,
        "/definitely/not/here.ipa",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with("ipagate: error: cannot read /definitely/not/here.ipa")
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let out = ipagate(&[
        "inspect",
        "--trust-root",
        TRUST_ROOT,
        dir.path().to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an .app bundle or an .xcarchive"));
}

#[test]
fn broken_pipe_exits_quietly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fixture = write_clean(&dir);
    let runs: [&[&str]; 4] = [
        &["rules"],
        &["rules", "--format", "json"],
        &[
            "inspect",
            "--trust-root",
            TRUST_ROOT,
            &fixture,
            "--format",
            "json",
        ],
        &[
            "preflight",
            "--trust-root",
            TRUST_ROOT,
            &fixture,
            "--format",
            "json",
            "--as-of",
            "2026-11-25",
        ],
    ];
    for args in runs {
        let mut child = Command::new(bin())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        // Close our end of stdout at once: the writer sees EPIPE.
        drop(child.stdout.take());
        let status = child.wait().expect("wait");
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut stderr)
            .expect("read");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
        // The gate's verdict still decides the code; a closed pipe adds no error of its own.
        assert_eq!(status.code(), Some(0), "{args:?}");
    }
}

#[test]
fn hostile_names_are_sanitised_for_terminals() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = ipagate_fixtures::scenario("clean").expect("clean");
    let Some(ipa) = s.ipa() else {
        panic!("builder")
    };
    let evil = ipa.set("CFBundleShortVersionString", "1\x1b[2J.0");
    let path = dir.path().join("Evil.ipa");
    std::fs::write(&path, evil.build()).expect("write");
    let out = ipagate(&[
        "preflight",
        "--trust-root",
        TRUST_ROOT,
        path.to_str().expect("utf-8"),
        "--as-of",
        "2026-11-25",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains('\x1b'),
        "escape sequences from the archive must not reach the terminal: {text}"
    );
    assert!(text.contains("\\u{1b}"), "{text}");
}

/// Compares `actual` with the golden file `tests/e2e/snapshots/<name>`; `UPDATE_SNAPSHOTS=1`
/// rewrites it instead (review the diff before committing).
fn snapshot(name: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/e2e/snapshots")
        .join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        expected == actual,
        "{name} changed; rerun with UPDATE_SNAPSHOTS=1 and review.\n--- expected\n{expected}\n--- actual\n{actual}"
    );
}

#[test]
fn human_output_snapshot_of_the_broken_fixture() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/Broken.ipa");
    let out = ipagate(&[
        "preflight",
        "--trust-root",
        TRUST_ROOT,
        fixture,
        "--as-of",
        "2026-11-25",
        "--color",
        "never",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout).replace(env!("CARGO_MANIFEST_DIR"), "<repo>");
    snapshot("preflight-broken.txt", &text);
    let out = ipagate(&[
        "inspect",
        "--trust-root",
        TRUST_ROOT,
        fixture,
        "--color",
        "never",
    ]);
    let text = String::from_utf8_lossy(&out.stdout).replace(env!("CARGO_MANIFEST_DIR"), "<repo>");
    snapshot("inspect-broken.txt", &text);
}

/// `inspect` reads the central directory and the small files; `--binaries` adds every Mach-O
/// file. Without it the JSON says "not read" (`null`), not "none" (`[]`), and an executable the
/// reader would choke on is never touched.
#[test]
fn inspect_reads_binaries_only_when_asked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("Demo.ipa");
    std::fs::write(
        &path,
        ipagate_fixtures::scenario("clean-signed")
            .expect("scenario")
            .bytes(),
    )
    .expect("write");
    let path = path.to_str().expect("utf-8");
    let json = |extra: &[&str]| -> Value {
        let mut args = vec![
            "inspect",
            "--trust-root",
            TRUST_ROOT,
            path,
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        let out = ipagate(&args);
        assert_eq!(out.status.code(), Some(0));
        serde_json::from_slice(&out.stdout).expect("JSON")
    };
    let plain = json(&[]);
    assert!(plain["binaries"].is_null(), "{}", plain["binaries"]);
    assert!(plain["executables_not_macho"].is_null());
    let full = json(&["--binaries"]);
    let binaries = full["binaries"].as_array().expect("binaries read");
    assert!(
        binaries
            .iter()
            .any(|b| b["role"] == "main-executable" && b["slices"][0]["arch"] == "arm64"),
        "{binaries:?}"
    );
    // Everything else is the same document.
    for key in ["archive", "bundles", "input"] {
        assert_eq!(plain[key], full[key], "{key}");
    }
}

/// The profile facts and the signature's certificates, as the README's inspect JSON section
/// documents them, for the signed fixture (App Store profile, distribution certificate).
#[test]
fn inspect_json_carries_profiles_and_signing_certificates() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("Signed.ipa");
    std::fs::write(
        &path,
        ipagate_fixtures::scenario("clean-signed")
            .expect("scenario")
            .bytes(),
    )
    .expect("write");
    let out = ipagate(&[
        "inspect",
        "--trust-root",
        TRUST_ROOT,
        path.to_str().expect("utf-8"),
        "--binaries",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let profile = &doc["bundles"][0]["profile"];
    assert_eq!(profile["state"], "parsed", "{profile}");
    assert_eq!(profile["encoding"], "der");
    assert_eq!(profile["kind"], "app-store");
    assert_eq!(profile["team_ids"], serde_json::json!(["ABCDE12345"]));
    assert_eq!(
        profile["application_identifier"],
        "ABCDE12345.com.example.demo"
    );
    assert_eq!(profile["platforms"], serde_json::json!(["iOS"]));
    assert_eq!(profile["expiration_date"], "2036-01-01T00:00:00Z");
    assert!(profile["devices_count"].is_null());
    assert_eq!(profile["entitlements"]["beta-reports-active"], true);
    let listed = &profile["developer_certificates"][0];
    assert_eq!(listed["kind"], "distribution");
    // The framework has no profile.
    let framework = doc["bundles"]
        .as_array()
        .expect("bundles")
        .iter()
        .find(|b| b["kind"] == "framework")
        .expect("Kit.framework");
    assert!(framework["profile"].is_null());
    // The app executable's signer is the certificate the profile lists.
    let main = doc["binaries"]
        .as_array()
        .expect("binaries")
        .iter()
        .find(|b| b["role"] == "main-executable" && b["bundle"] == doc["bundles"][0]["path"])
        .expect("app executable");
    let sig = &main["slices"][0]["signature"];
    let signer = sig["signer"].as_u64().expect("signer") as usize;
    assert_eq!(sig["certificates"].as_array().map(Vec::len), Some(2));
    assert_eq!(sig["certificates"][signer]["sha1"], listed["sha1"]);
    assert!(sig["cms_problem"].is_null());
    // The trust verdicts: both verified against the fixture root, the chain signer first.
    for trust in [&sig["trust"], &profile["trust"]] {
        assert_eq!(trust["state"], "verified", "{trust}");
        assert_eq!(trust["signing_time"], "2026-01-01T00:00:00Z");
        let chain = trust["chain"].as_array().expect("chain");
        assert_eq!(
            chain.last().expect("root")["subject"],
            "ipagate Test Root CA (not Apple)"
        );
        assert_eq!(
            chain.last().expect("root")["not_after"],
            "2036-01-01T00:00:00Z"
        );
    }
    assert_eq!(
        sig["trust"]["chain"][0]["subject"],
        "Apple Distribution: Example Corp (ABCDE12345)"
    );
    // Without the test root: the same facts, judged against Apple's pinned roots.
    let out = ipagate(&[
        "inspect",
        path.to_str().expect("utf-8"),
        "--binaries",
        "--format",
        "json",
    ]);
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let trust = &doc["bundles"][0]["profile"]["trust"];
    assert_eq!(trust["state"], "untrusted", "{trust}");
    assert_eq!(trust["problem"], "untrusted-root");
    // And in the text output, a word per signature.
    let out = ipagate(&[
        "inspect",
        "--trust-root",
        TRUST_ROOT,
        path.to_str().expect("utf-8"),
        "--binaries",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("trust verified (root 'ipagate Test Root CA (not Apple)')"),
        "{text}"
    );
    assert!(text.contains("signature verified"), "{text}");
}

/// The JSON report is typed data in `ipagate-gate` now; these golden files were written by the ad-hoc JSON the
/// command module built before, so the move changed no byte.
#[test]
fn json_report_snapshots_of_the_bundled_fixtures() {
    for (name, code) in [("Broken", 1), ("Demo", 0)] {
        let fixture = format!("{}/fixtures/{name}.ipa", env!("CARGO_MANIFEST_DIR"));
        let out = ipagate(&[
            "preflight",
            &fixture,
            "--as-of",
            "2026-12-01",
            "--trust-root",
            concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/TestRoot.der"),
            "--format",
            "json",
        ]);
        assert_eq!(out.status.code(), Some(code), "{name}");
        let text =
            String::from_utf8_lossy(&out.stdout).replace(env!("CARGO_MANIFEST_DIR"), "<repo>");
        snapshot(&format!("preflight-{name}-json.txt"), &text);
    }
}

#[test]
fn inspect_symbols_judges_with_the_data_it_is_given() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("privacy.toml"), "garbage = [").expect("write");
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/DemoBinary.ipa");
    let data = dir.path().to_str().expect("utf-8");
    let out = ipagate(&["inspect", fixture, "--symbols", "--data", data]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("privacy.toml"));
    let out = ipagate(&["inspect", fixture, "--symbols", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
}

/// The ELF program headers' types of an executable (64-bit little-endian only), and its `e_type`.
fn elf_header_and_segments(bytes: &[u8]) -> (u16, Vec<u32>) {
    let u16_at = |at: usize| u16::from_le_bytes(bytes[at..at + 2].try_into().expect("2 bytes"));
    let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    assert_eq!(
        &bytes[..6],
        b"\x7fELF\x02\x01",
        "a 64-bit little-endian ELF file"
    );
    let (phoff, phentsize, phnum) = (
        u64_at(32) as usize,
        u16_at(54) as usize,
        u16_at(56) as usize,
    );
    let segments = (0..phnum)
        .map(|i| {
            let at = phoff + i * phentsize;
            u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
        })
        .collect();
    (u16_at(16), segments)
}

/// `.cargo/config.toml` links the x86-64 Linux binary static-pie (no dynamic loader, no shared
/// libraries to map at every start): it must have no interpreter, and must stay position independent
/// (`ET_DYN`) so that it is still loaded at a random address. A dynamic build (RUSTFLAGS with
/// `-crt-static`) must be position independent too, and has an interpreter.
#[test]
fn the_binary_is_position_independent_and_static_where_configured() {
    const ET_DYN: u16 = 3;
    const PT_INTERP: u32 = 3;
    if !cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        eprintln!("skipped: the binary's layout is checked on x86-64 Linux only");
        return;
    }
    let bytes = std::fs::read(bin()).expect("read the ipagate binary");
    let (e_type, segments) = elf_header_and_segments(&bytes);
    assert_eq!(e_type, ET_DYN, "position independent (ASLR)");
    assert!(!segments.is_empty());
    if cfg!(target_feature = "crt-static") {
        assert!(!segments.contains(&PT_INTERP), "static-pie: no interpreter");
    } else {
        eprintln!("note: built without crt-static (dynamic), so it has an interpreter");
        assert!(segments.contains(&PT_INTERP));
    }
}
