//! What a newcomer tripped over (issue 8, low): JSON errors, JSON key order, `explain` by bare number and near
//! names, `--deny-warnings` saying so, the sandbox's example files and `--print-env`.

use crate::support::TRUST_ROOT;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::support::{bin, ipagate};

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Golden of the JSON error document: a CI step that parses stdout sees why the command failed.
#[test]
fn json_error_document_on_stdout_for_every_json_command() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().display().to_string();
    let out = ipagate(&[
        "build-number",
        "apply",
        "4x",
        "--project",
        &project,
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stdout(&out),
        "{\"schema_version\":1,\"error\":{\"kind\":\"invalid_number\",\"message\":\"invalid build number: \\\"4x\\\" is \
         not a build number (dot-separated non-negative integers, e.g. 42 or 1.2.3)\"}}\n"
    );
    assert_eq!(
        stderr(&out),
        "ipagate: error: invalid build number: \"4x\" is not a build number (dot-separated non-negative integers, \
         e.g. 42 or 1.2.3)\n"
    );
    let missing = dir.path().join("missing.ipa").display().to_string();
    for args in [
        vec![
            "preflight",
            "--trust-root",
            TRUST_ROOT,
            missing.as_str(),
            "--format",
            "json",
        ],
        vec![
            "inspect",
            "--trust-root",
            TRUST_ROOT,
            missing.as_str(),
            "--format",
            "json",
        ],
        vec![
            "build-number",
            "show",
            "--project",
            missing.as_str(),
            "--format",
            "json",
        ],
    ] {
        let out = ipagate(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let doc: Value =
            serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        assert_eq!(doc["schema_version"], 1);
        assert!(doc["error"]["kind"].is_string(), "{doc}");
        assert_eq!(
            format!(
                "ipagate: error: {}\n",
                doc["error"]["message"].as_str().unwrap()
            ),
            stderr(&out)
        );
    }
    // Text output stays as it was: the error on stderr only.
    let out = ipagate(&["preflight", "--trust-root", TRUST_ROOT, missing.as_str()]);
    assert_eq!(stdout(&out), "");
}

/// Regression: JSON keys came out alphabetically; the README documents `schema_version`, `tool`, `input` first.
#[test]
fn json_keys_keep_the_documented_order() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/Demo.ipa");
    for args in [
        vec![
            "preflight",
            "--trust-root",
            TRUST_ROOT,
            fixtures,
            "--format",
            "json",
            "--as-of",
            "2026-11-25",
        ],
        vec![
            "inspect",
            "--trust-root",
            TRUST_ROOT,
            fixtures,
            "--format",
            "json",
        ],
    ] {
        let command = args[0];
        let out = ipagate(&args);
        let text = stdout(&out);
        let keys: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("  \""))
            .map(|l| l.trim().split('"').nth(1).unwrap())
            .collect();
        assert_eq!(
            &keys[..3],
            ["schema_version", "tool", "input"],
            "{command}: {keys:?}"
        );
    }
}

#[test]
fn explain_takes_bare_project_codes_and_suggests_near_names() {
    let out = ipagate(&["explain", "2002"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("IPAGATE-2002 "),
        "{}",
        stdout(&out)
    );
    let out = ipagate(&["explain", "short-version"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "ipagate: error: unknown rule \"short-version\"; did you mean short-version-invalid, short-version-missing, \
         sdk-version-invalid? (`ipagate rules` lists every code and name)\n"
    );
}

#[test]
fn deny_warnings_says_the_warnings_were_denied() {
    let dir = tempfile::tempdir().unwrap();
    let s = ipagate_fixtures::scenario("clean").unwrap();
    let ipa = s.ipa().unwrap();
    let path = dir.path().join("Warn.ipa");
    std::fs::write(&path, ipa.remove("ITSAppUsesNonExemptEncryption").build()).unwrap();
    let path = path.display().to_string();
    let out = ipagate(&[
        "preflight",
        "--trust-root",
        TRUST_ROOT,
        &path,
        "--as-of",
        "2026-11-25",
        "--deny-warnings",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let last = stdout(&out).lines().last().unwrap().to_owned();
    assert!(
        last.starts_with("preflight failed: ") && last.contains("0 errors, 1 warning")
            && last.ends_with(
                "; failed because warnings are denied (--deny-warnings or deny-warnings in ipagate.toml)"
            ),
        "{last}"
    );
    let out = ipagate(&[
        "preflight",
        "--trust-root",
        TRUST_ROOT,
        &path,
        "--as-of",
        "2026-11-25",
    ]);
    assert!(!stdout(&out).contains("denied"));
}

/// The README's seed and fault plan ship as files under `fixtures/`, identical to the README's text, and load.
#[test]
fn sandbox_example_files_match_the_readme() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let block_after = |marker: &str| -> Value {
        let at = readme
            .find(marker)
            .unwrap_or_else(|| panic!("{marker} in README"));
        let rest = &readme[at..];
        let start = rest.find("```json\n").unwrap() + "```json\n".len();
        let end = rest[start..].find("```").unwrap();
        serde_json::from_str(&rest[start..start + end]).unwrap()
    };
    for (marker, file) in [
        ("**Seed**", "sandbox-seed.json"),
        ("**Fault plan**", "sandbox-faults.json"),
    ] {
        let text = std::fs::read_to_string(format!("{root}/fixtures/{file}")).unwrap();
        let shipped: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(shipped, block_after(marker), "{file}");
    }
    let seed = std::fs::read_to_string(format!("{root}/fixtures/sandbox-seed.json")).unwrap();
    ipagate_asc_emulator::Seed::from_json(&seed).unwrap();
    let faults = std::fs::read_to_string(format!("{root}/fixtures/sandbox-faults.json")).unwrap();
    serde_json::from_str::<ipagate_asc_emulator::FaultPlan>(&faults).unwrap();
    let help = stdout(&ipagate(&["sandbox", "--help"]));
    assert!(help.contains("\"serverErrorRate\""), "{help}");
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `--print-env`: `export` lines that `ipagate build-number` reads as they are; the key is passed by path.
#[test]
fn sandbox_print_env_lines_work_as_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let seed = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/sandbox-seed.json");
    let mut child = Running(
        Command::new(bin())
            .args([
                "sandbox",
                "--seed",
                seed,
                "--print-env",
                "--key-id",
                "ENVKEY0001",
                "--generate-key",
            ])
            .arg(&keys)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut reader = BufReader::new(child.0.stdout.take().unwrap());
    let mut env = Vec::new();
    for _ in 0..4 {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let assignment = line
            .trim_end()
            .strip_prefix("export ")
            .unwrap_or_else(|| panic!("{line:?}"));
        let (name, value) = assignment.split_once('=').unwrap();
        env.push((name.to_owned(), value.trim_matches('\'').to_owned()));
    }
    let names: Vec<&str> = env.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "ASC_BASE_URL",
            "APP_STORE_CONNECT_ISSUER_ID",
            "APP_STORE_CONNECT_KEY_IDENTIFIER",
            "ASC_PRIVATE_KEY_PATH"
        ]
    );
    assert!(!env.iter().any(|(_, v)| v.contains("PRIVATE KEY")));
    let out = Command::new(bin())
        .args(["build-number", "latest", "--bundle-id", "com.example.demo"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .envs(env)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "42\n", "{}", stderr(&out));
}
