//! `ipagate upload`: the real binary against the in-process App Store Connect emulator — happy path, JSON output,
//! exit codes, crash resume (the binary killed after k confirmed parts, several k) and secrets.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use ipagate_asc_emulator::{ApiKey, Config, Emulator, PartFaults, Processing, Seed, testkey};
use ipagate_fixtures::{Bundle, Ipa};
use serde_json::{Value, json};

use crate::support::bin;

const ISSUER: &str = "69a6de70-0000-47e3-e053-5b8c7c11a4d1";
const KEY_ID: &str = "E2EUPLOAD1";
const BUNDLE: &str = "com.example.demo";
const PART: u64 = 32 * 1024;

/// The emulator with one app, a key on disk, and an IPA in a temporary folder (shared with `publish`'s tests).
pub(crate) struct Sandbox {
    pub(crate) emu: Emulator,
    pub(crate) pair: testkey::KeyPair,
    pub(crate) dir: tempfile::TempDir,
    key_path: PathBuf,
    pub(crate) ipa: PathBuf,
}

impl Sandbox {
    async fn start(processing: Processing) -> Sandbox {
        let seed = json!({"apps": [{"id": "1234567890", "bundleId": BUNDLE,
            "builds": [{"version": "41", "preReleaseVersion": "1.2.3"}]}]});
        Sandbox::start_with(seed, |c| c.processing = processing).await
    }

    /// Starts the emulator with `seed` and whatever `configure` changes; the IPA is a generated
    /// com.example.demo 1.2.3 (42).
    pub(crate) async fn start_with(seed: Value, configure: impl FnOnce(&mut Config)) -> Sandbox {
        let pair = testkey::generate(KEY_ID);
        let mut config = Config {
            seed: Seed::from_json(&seed.to_string()).unwrap(),
            issuer_id: ISSUER.into(),
            keys: vec![ApiKey::team(&pair.key_id, &pair.public_pem)],
            upload_part_size: PART,
            ..Config::default()
        };
        configure(&mut config);
        let emu = Emulator::start(config, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let key_path = dir.path().join(format!("AuthKey_{KEY_ID}.p8"));
        std::fs::write(&key_path, &pair.private_pkcs8_pem).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let ipa = dir.path().join("Demo.ipa");
        Ipa::from_bundle(Bundle::app("Demo", BUNDLE).executable_size(300_000))
            .version("1.2.3", "42")
            .write_to(&ipa)
            .unwrap();
        Sandbox {
            emu,
            pair,
            dir,
            key_path,
            ipa,
        }
    }

    fn command(&self, extra: &[&str]) -> Command {
        self.command_for("upload", extra)
    }

    /// `ipagate SUBCOMMAND IPA --state-dir state --poll-interval-ms 5 EXTRA…` with the sandbox's credentials.
    pub(crate) fn command_for(&self, subcommand: &str, extra: &[&str]) -> Command {
        let mut cmd = Command::new(bin());
        cmd.arg(subcommand)
            .arg(&self.ipa)
            .args(["--state-dir", "state", "--poll-interval-ms", "5"])
            .args(extra)
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .env("HOME", self.dir.path())
            .env_remove("CI")
            .env("ASC_BASE_URL", self.emu.base_url())
            .env("APP_STORE_CONNECT_ISSUER_ID", ISSUER)
            .env("APP_STORE_CONNECT_KEY_IDENTIFIER", KEY_ID)
            .env(
                "APP_STORE_CONNECT_PRIVATE_KEY",
                format!("@file:{}", self.key_path.display()),
            );
        for name in [
            "ASC_ISSUER_ID",
            "ASC_KEY_ID",
            "ASC_PRIVATE_KEY",
            "ASC_PRIVATE_KEY_PATH",
        ] {
            cmd.env_remove(name);
        }
        cmd
    }

    async fn run(&self, extra: &[&str]) -> Output {
        let mut cmd = self.command(extra);
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap()
    }

    fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn journal(&self) -> Option<Value> {
        let entry = std::fs::read_dir(self.state_dir())
            .ok()?
            .filter_map(Result::ok)
            .find(|e| e.path().extension().is_some_and(|x| x == "json"))?;
        serde_json::from_slice(&std::fs::read(entry.path()).ok()?).ok()
    }

    fn accepted_parts(&self) -> Vec<u64> {
        self.emu
            .request_log()
            .into_iter()
            .filter(|r| r.method == "PUT" && r.path.starts_with("/upload/") && r.status == 200)
            .map(|r| {
                let path = r.path.split('?').next().unwrap().to_owned();
                path.rsplit('/').next().unwrap().parse().unwrap()
            })
            .collect()
    }

    pub(crate) fn secret_lines(&self) -> Vec<String> {
        self.pair
            .private_pkcs8_pem
            .lines()
            .filter(|l| !l.starts_with("-----") && l.len() > 8)
            .map(str::to_owned)
            .collect()
    }

    pub(crate) fn assert_assembled(&self, file_id: &str) {
        let assembled = std::fs::read(self.emu.upload_file_path(file_id)).unwrap();
        assert!(
            assembled == std::fs::read(&self.ipa).unwrap(),
            "assembled bytes differ"
        );
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_happy_path_human_output() {
    let sb = Sandbox::start(Processing::AfterPolls(2)).await;
    // The default progress (auto) draws nothing when stderr is not a terminal.
    let out = sb.run(&[]).await;
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert_eq!(text(&out.stderr), "", "nothing animated off a terminal");
    assert!(stdout.contains("Uploaded"), "{stdout}");
    assert!(
        stdout.contains("com.example.demo 1.2.3 (42) IOS"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok: processing COMPLETE, build"),
        "{stdout}"
    );
    let journal = sb.journal().unwrap();
    assert_eq!(journal["committed"], true);
    sb.assert_assembled(journal["file_id"].as_str().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_json_output_and_progress_lines() {
    let sb = Sandbox::start(Processing::AfterPolls(2)).await;
    let out = sb.run(&["--format", "json", "--progress", "json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["schema_version"], 1);
    let upload = &doc["upload"];
    assert_eq!(upload["state"], "COMPLETE");
    assert_eq!(upload["identity"]["build_number"], "42");
    assert_eq!(upload["identity"]["platform"], "IOS");
    assert_eq!(upload["parts_sent"], upload["parts_total"]);
    assert!(upload["build_id"].is_string());
    let events: Vec<Value> = text(&out.stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    let sent = events.iter().filter(|e| e["event"] == "part_sent").count();
    assert_eq!(sent as u64, upload["parts_total"].as_u64().unwrap());
    assert_eq!(events.last().unwrap()["event"], "finished");
    // Nothing secret anywhere.
    let all = format!(
        "{}{}{}",
        text(&out.stdout),
        text(&out.stderr),
        serde_json::to_string(&sb.journal()).unwrap()
    );
    for line in sb.secret_lines() {
        assert!(!all.contains(&line), "a key line leaked");
    }
    assert!(!all.contains("eyJ"), "a JWT leaked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_exit_codes_for_bad_input_dry_run_and_rejection() {
    let sb = Sandbox::start(Processing::Manual).await;
    // Dry run: exit 0, nothing changed.
    let out = sb.run(&["--dry-run", "--progress", "none"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("would POST /v1/buildUploads"));
    assert!(sb.emu.request_log().iter().all(|r| r.method == "GET"));
    // A corrupt journal: exit 2, left as it is, nothing sent.
    let out = sb.run(&["--dry-run", "--format", "json"]).await;
    let sha = serde_json::from_slice::<Value>(&out.stdout).unwrap()["upload"]["sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    std::fs::create_dir_all(sb.state_dir()).unwrap();
    let journal = sb.state_dir().join(format!("{sha}.json"));
    std::fs::write(&journal, "garbage").unwrap();
    let out = sb.run(&["--progress", "none"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("is corrupt"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&journal).unwrap(), "garbage");
    std::fs::remove_file(&journal).unwrap();
    assert!(sb.emu.request_log().iter().all(|r| r.method == "GET"));
    // Processing failure: exit 1 with the ITMS diagnostic.
    let child = sb
        .command(&["--progress", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let state = sb.emu.state_json();
        let processing = state["buildUploads"]
            .as_array()
            .and_then(|a| {
                a.iter()
                    .find(|u| u["attributes"]["state"]["state"] == "PROCESSING")
            })
            .map(|u| u["id"].as_str().unwrap().to_owned());
        if let Some(id) = processing {
            assert!(sb.emu.fail_upload(
                &id,
                "90062",
                "The value for key CFBundleShortVersionString must be higher."
            ));
            break;
        }
        assert!(Instant::now() < deadline, "never reached PROCESSING");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("error[ITMS-90062]: The value for key CFBundleShortVersionString"),
        "{stdout}"
    );
    assert!(stdout.contains("--> buildUploads/"), "{stdout}");
    // Duplicate build number: exit 1, names the next one.
    Ipa::from_bundle(Bundle::app("Demo", BUNDLE).executable_size(1000))
        .version("1.2.3", "41")
        .write_to(&sb.ipa)
        .unwrap();
    let out = sb.run(&["--progress", "none"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("build number 41 is already used for version 1.2.3"),
        "{}",
        text(&out.stderr)
    );
    // An IPA with an invalid CFBundleVersion: exit 2 before any request.
    Ipa::from_bundle(Bundle::app("Demo", BUNDLE).set("CFBundleVersion", "x.y"))
        .write_to(&sb.ipa)
        .unwrap();
    sb.emu.clear_request_log();
    let out = sb.run(&["--progress", "none"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("CFBundleVersion"));
    assert!(sb.emu.request_log().is_empty());
}

/// Kills the real binary once the journal shows `k` confirmed parts, reruns it, and checks the outcome.
async fn crash_and_resume(k: usize) {
    let sb = Sandbox::start(Processing::AfterPolls(2)).await;
    // Slow parts, one at a time, so the kill lands between confirmations.
    sb.emu.set_part_faults(PartFaults {
        latency_ms: 150,
        ..PartFaults::default()
    });
    let mut child = sb
        .command(&["--concurrency", "1", "--progress", "none"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let confirmed = |sb: &Sandbox| -> Vec<u64> {
        sb.journal()
            .and_then(|j| j["confirmed"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(Value::as_u64)
            .collect()
    };
    while confirmed(&sb).len() < k && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let confirmed_at_kill = confirmed(&sb);
    assert!(confirmed_at_kill.len() >= k);
    let total = sb.journal().unwrap()["parts"].as_array().unwrap().len();
    assert!(
        confirmed_at_kill.len() < total,
        "the kill came too late to test anything"
    );
    sb.emu.set_part_faults(PartFaults::default());
    sb.emu.clear_request_log();

    let out = sb.run(&["--format", "json", "--progress", "none"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["upload"]["resumed"], true);
    assert_eq!(doc["upload"]["state"], "COMPLETE");
    // Exactly one build upload; no new one created by the rerun.
    let uploads = sb.emu.state_json()["buildUploads"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(uploads, 1);
    assert!(
        !sb.emu
            .request_log()
            .iter()
            .any(|r| r.method == "POST" && r.path.starts_with("/v1/buildUploads"))
    );
    // No confirmed part was sent again.
    let resent: Vec<u64> = sb
        .accepted_parts()
        .into_iter()
        .filter(|p| confirmed_at_kill.contains(p))
        .collect();
    assert!(resent.is_empty(), "confirmed parts sent again: {resent:?}");
    sb.assert_assembled(doc["upload"]["file_id"].as_str().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_crash_resume_after_1_part() {
    crash_and_resume(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_crash_resume_after_4_parts() {
    crash_and_resume(4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_crash_resume_after_6_parts() {
    crash_and_resume(6).await;
}
