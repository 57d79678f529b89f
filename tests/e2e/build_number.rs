//! `ipagate build-number`: the real binary against the App Store Connect emulator (started in-process on a free
//! port), against a canned server for hostile answers, and on sample projects built here.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use ipagate_asc_emulator::{ApiKey, Config, Emulator, FaultPlan, FaultRule, Seed, testkey};
use serde_json::{Value, json};

use crate::build_number_projects::{Base, pbxproj, t};
use crate::support::bin;

const ISSUER: &str = "69a6de70-0000-47e3-e053-5b8c7c11a4d1";
const KEY_ID: &str = "E2EKEY0001";

/// A running emulator plus a key file and an environment for the binary.
struct Sandbox {
    emu: Emulator,
    pair: testkey::KeyPair,
    dir: tempfile::TempDir,
    key_path: PathBuf,
}

impl Sandbox {
    async fn start(seed: Value) -> Sandbox {
        Sandbox::start_with(seed, FaultPlan::default()).await
    }

    async fn start_with(seed: Value, faults: FaultPlan) -> Sandbox {
        let pair = testkey::generate(KEY_ID);
        let config = Config {
            seed: Seed::from_json(&seed.to_string()).unwrap(),
            issuer_id: ISSUER.into(),
            keys: vec![ApiKey::team(&pair.key_id, &pair.public_pem)],
            faults,
            ..Config::default()
        };
        let emu = Emulator::start(config, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let key_path = dir.path().join(format!("AuthKey_{KEY_ID}.p8"));
        write_secret(&key_path, &pair.private_pkcs8_pem);
        Sandbox {
            emu,
            pair,
            dir,
            key_path,
        }
    }

    /// The environment a CI job would set, codemagic style.
    fn env(&self) -> Vec<(String, String)> {
        vec![
            ("ASC_BASE_URL".into(), self.emu.base_url()),
            ("APP_STORE_CONNECT_ISSUER_ID".into(), ISSUER.into()),
            ("APP_STORE_CONNECT_KEY_IDENTIFIER".into(), KEY_ID.into()),
            (
                "APP_STORE_CONNECT_PRIVATE_KEY".into(),
                format!("@file:{}", self.key_path.display()),
            ),
        ]
    }

    async fn run(&self, args: &[&str]) -> Output {
        run_with(args, self.env(), self.dir.path()).await
    }

    fn requests(&self) -> usize {
        self.emu.request_log().len()
    }

    /// Every line of the private key's base64 body (what must never be printed).
    fn secret_lines(&self) -> Vec<String> {
        self.pair
            .private_pkcs8_pem
            .lines()
            .filter(|l| !l.starts_with("-----") && l.len() > 8)
            .map(str::to_owned)
            .collect()
    }
}

fn write_secret(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

/// Runs the binary off the runtime's threads (the emulator keeps serving), with a clean credential environment.
async fn run_with(args: &[&str], env: Vec<(String, String)>, cwd: &Path) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let cwd = cwd.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new(bin());
        cmd.args(&args)
            .current_dir(&cwd)
            .env("NO_COLOR", "1")
            .env("HOME", &cwd);
        for name in [
            "APP_STORE_CONNECT_ISSUER_ID",
            "APP_STORE_CONNECT_KEY_IDENTIFIER",
            "APP_STORE_CONNECT_PRIVATE_KEY",
            "ASC_ISSUER_ID",
            "ASC_KEY_ID",
            "ASC_PRIVATE_KEY",
            "ASC_PRIVATE_KEY_PATH",
            "ASC_BASE_URL",
            "API_PRIVATE_KEYS_DIR",
            "IPAGATE_NOW",
        ] {
            cmd.env_remove(name);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    })
    .await
    .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn demo_seed() -> Value {
    json!({"apps":[{"id":"1234567890","bundleId":"com.example.demo","name":"Demo","sku":"DEMO",
      "builds":[{"version":"41","preReleaseVersion":"1.2.3","platform":"IOS","processingState":"VALID","uploadedDate":"2026-01-02T03:04:05Z","expired":false}],
      "buildUploads":[{"cfBundleShortVersionString":"1.2.3","cfBundleVersion":"42","platform":"IOS","state":"PROCESSING","uploadedDate":"2026-01-03T00:00:00Z"}],
      "appStoreVersions":[{"versionString":"1.2.2","platform":"IOS","appVersionState":"READY_FOR_DISTRIBUTION","build":"40"}],
      "betaGroups":[{"name":"QA","isInternalGroup":true}]}]})
}

fn app(builds: Value, uploads: Value) -> Value {
    json!({"apps":[{"id":"1","bundleId":"com.example.app","builds": builds, "buildUploads": uploads}]})
}

async fn next_json(sandbox: &Sandbox, extra: &[&str]) -> Value {
    let mut args = vec![
        "build-number",
        "next",
        "--bundle-id",
        "com.example.app",
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let out = sandbox.run(&args).await;
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latest_and_next_see_the_upload_still_processing() {
    let sandbox = Sandbox::start(demo_seed()).await;
    let out = sandbox
        .run(&["build-number", "latest", "--bundle-id", "com.example.demo"])
        .await;
    assert_eq!(
        (
            out.status.code(),
            stdout(&out).as_str(),
            stderr(&out).as_str()
        ),
        (Some(0), "42\n", "")
    );
    assert_eq!(sandbox.requests(), 3);
    let out = sandbox
        .run(&["build-number", "next", "--bundle-id", "com.example.demo"])
        .await;
    assert_eq!(stdout(&out), "43\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_output_and_request_counts() {
    let sandbox = Sandbox::start(demo_seed()).await;
    let out = sandbox
        .run(&[
            "build-number",
            "next",
            "--bundle-id",
            "com.example.demo",
            "--format",
            "json",
        ])
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        v,
        json!({"app_id": "1234567890", "bundle_id": "com.example.demo", "platform": "IOS", "version_scope": "all",
               "latest": "42", "next": "43",
               "sources": [{"kind": "build", "build_number": "41", "version": "1.2.3", "state": "VALID"},
                           {"kind": "build_upload", "build_number": "42", "version": "1.2.3", "state": "PROCESSING"}],
               "requests": 3})
    );
    assert_eq!(sandbox.requests(), 3);
    // By app id: two requests.
    let before = sandbox.requests();
    let out = sandbox
        .run(&[
            "build-number",
            "latest",
            "--app-id",
            "1234567890",
            "--format",
            "json",
        ])
        .await;
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        (
            v["latest"].clone(),
            v["requests"].clone(),
            v["bundle_id"].clone()
        ),
        (json!("42"), json!(2), json!("com.example.demo"))
    );
    assert_eq!(sandbox.requests() - before, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn string_sorting_server_and_non_integer_numbers() {
    // The server sorts "9" > "10" > "100"... and "4.69.0" > "20302"; the answer must be numeric.
    let builds = json!([
        {"version":"9","preReleaseVersion":"1.0"}, {"version":"10","preReleaseVersion":"1.0"},
        {"version":"100","preReleaseVersion":"1.1"}, {"version":"4.69.0","preReleaseVersion":"1.1"},
        {"version":"99","preReleaseVersion":"1.1"}, {"version":"1.0b3","preReleaseVersion":"1.1"}
    ]);
    let sandbox = Sandbox::start(app(
        builds,
        json!([{"cfBundleShortVersionString":"1.1","cfBundleVersion":"20302","state":"COMPLETE"}]),
    ))
    .await;
    let v = next_json(&sandbox, &[]).await;
    assert_eq!(
        (v["latest"].as_str(), v["next"].as_str()),
        (Some("20302"), Some("20303"))
    );
    let out = sandbox
        .run(&["build-number", "next", "--bundle-id", "com.example.app"])
        .await;
    assert_eq!(stdout(&out), "20303\n");
    assert!(
        stderr(&out).contains("ignored build \"1.0b3\": not a dotted numeric build number"),
        "{}",
        stderr(&out)
    );

    let dotted = Sandbox::start(app(
        json!([{"version":"1.2.9","preReleaseVersion":"1.2"}, {"version":"1.2.10","preReleaseVersion":"1.2"}, {"version":"2.0.67.745","preReleaseVersion":"2.0"}]),
        json!([]),
    ))
    .await;
    let v = next_json(&dotted, &["--version", "1.2"]).await;
    assert_eq!(
        (v["latest"].as_str(), v["next"].as_str()),
        (Some("1.2.10"), Some("1.2.11"))
    );
    // Across versions the latest is 2.0.67.745, a number the server holds but would not accept today: the next one
    // (2.0.67.746) is refused, not proposed.
    let out = dotted
        .run(&["build-number", "next", "--bundle-id", "com.example.app"])
        .await;
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), "");
    assert_eq!(
        stderr(&out),
        "ipagate: error: the next build number would be 2.0.67.746 (after 2.0.67.745), which App Store Connect \
         rejects (CFBundleVersion is at most three period-separated integers); pass --at-least N with a valid number, \
         e.g. the CI run number\n"
    );
    let v = next_json(&dotted, &["--at-least", "3"]).await;
    assert_eq!(v["next"], "3");
    // `latest` still reports what the server holds.
    let out = dotted
        .run(&["build-number", "latest", "--bundle-id", "com.example.app"])
        .await;
    assert_eq!(stdout(&out), "2.0.67.745\n", "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_trains_alias_and_scope() {
    let builds = json!([{"version":"7","preReleaseVersion":"1.2"}, {"version":"30","preReleaseVersion":"2.0"}]);
    let uploads =
        json!([{"cfBundleShortVersionString":"1.2.0","cfBundleVersion":"8","state":"PROCESSING"}]);
    let sandbox = Sandbox::start(app(builds, uploads)).await;
    for version in ["1.2", "1.2.0"] {
        let v = next_json(&sandbox, &["--version", version]).await;
        assert_eq!(
            (v["latest"].as_str(), v["next"].as_str()),
            (Some("8"), Some("9")),
            "{version}"
        );
        assert_eq!(v["version_scope"], version);
    }
    let v = next_json(&sandbox, &["--all-versions"]).await;
    assert_eq!(v["next"], "31");
    let v = next_json(&sandbox, &["--version", "3.0"]).await;
    assert_eq!(
        (v["latest"].clone(), v["next"].clone()),
        (Value::Null, json!("1"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platforms_are_kept_apart() {
    let builds = json!([{"version":"5","platform":"IOS"}, {"version":"900","platform":"MAC_OS"}, {"version":"70","platform":"TV_OS"}]);
    let uploads = json!([{"cfBundleVersion":"950","platform":"MAC_OS","state":"PROCESSING"}, {"cfBundleVersion":"6","platform":"VISION_OS","state":"AWAITING_UPLOAD"}]);
    let sandbox = Sandbox::start(app(builds, uploads)).await;
    for (platform, latest) in [
        ("IOS", json!("5")),
        ("MAC_OS", json!("950")),
        ("TV_OS", json!("70")),
        ("VISION_OS", json!("6")),
    ] {
        let v = next_json(&sandbox, &["--platform", platform]).await;
        assert_eq!(
            (v["latest"].clone(), v["platform"].as_str()),
            (latest, Some(platform))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_uploads_count_only_when_asked() {
    let builds = json!([{"version":"10"}]);
    let uploads = json!([{"cfBundleVersion":"12","state":"FAILED"}, {"cfBundleVersion":"11","state":"AWAITING_UPLOAD"}]);
    let sandbox = Sandbox::start(app(builds, uploads)).await;
    assert_eq!(next_json(&sandbox, &[]).await["next"], "12");
    let v = next_json(&sandbox, &["--include-failed"]).await;
    assert_eq!(v["next"], "13");
    assert_eq!(
        v["sources"][1],
        json!({"kind":"build_upload","build_number":"12","version":"1.0","state":"FAILED"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initial_at_least_and_timestamp() {
    let sandbox = Sandbox::start(json!({"apps":[{"id":"1","bundleId":"com.example.app"}]})).await;
    let out = sandbox
        .run(&["build-number", "latest", "--bundle-id", "com.example.app"])
        .await;
    assert_eq!((out.status.code(), stdout(&out).as_str()), (Some(0), ""));
    assert!(stderr(&out).contains("no builds"), "{}", stderr(&out));
    assert_eq!(
        next_json(&sandbox, &["--initial", "100"]).await["next"],
        "100"
    );
    let busy = Sandbox::start(app(json!([{"version":"41"}]), json!([]))).await;
    assert_eq!(
        next_json(&busy, &["--at-least", "1000"]).await["next"],
        "1000"
    );
    assert_eq!(next_json(&busy, &["--at-least", "3"]).await["next"], "42");
    // The clock is injected: the exact YYYYMMDDHHMM, in UTC.
    for (now, expected) in [
        ("2026-03-04T05:06:59Z", "202603040506"),
        ("2026-03-04T23:30:00-02:00", "202603050130"),
    ] {
        let v = next_json(&busy, &["--strategy", "timestamp", "--now", now]).await;
        assert_eq!(v["next"], expected, "{now}");
    }
    // The same through IPAGATE_NOW.
    let mut env = busy.env();
    env.push(("IPAGATE_NOW".into(), "2026-03-04T05:06:00Z".into()));
    let out = run_with(
        &[
            "build-number",
            "next",
            "--bundle-id",
            "com.example.app",
            "--strategy",
            "timestamp",
        ],
        env,
        busy.dir.path(),
    )
    .await;
    assert_eq!(stdout(&out), "202603040506\n", "{}", stderr(&out));
    // Latest at or above the timestamp: latest + 1.
    for latest in ["202603040506", "202612312359"] {
        let ahead = Sandbox::start(app(json!([{"version": latest}]), json!([]))).await;
        let v = next_json(
            &ahead,
            &["--strategy", "timestamp", "--now", "2026-03-04T05:06:00Z"],
        )
        .await;
        let expected = (latest.parse::<u64>().unwrap() + 1).to_string();
        assert_eq!(v["next"], expected.as_str(), "latest {latest}");
    }
    // A bad --now is a clean error before any request.
    let out = busy
        .run(&[
            "build-number",
            "next",
            "--bundle-id",
            "com.example.app",
            "--strategy",
            "timestamp",
            "--now",
            "yesterday",
        ])
        .await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("invalid --now"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_builds() {
    let builds: Vec<Value> = (1..=10_000)
        .map(|i| json!({"version": i.to_string()}))
        .collect();
    let sandbox = Sandbox::start(app(Value::Array(builds), json!([]))).await;
    let v = next_json(&sandbox, &[]).await;
    assert_eq!(
        (
            v["latest"].as_str(),
            v["next"].as_str(),
            v["requests"].as_u64()
        ),
        (Some("10000"), Some("10001"), Some(52))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_under_faults_do_not_change_the_answer() {
    let faults = FaultPlan {
        seed: 3,
        rules: vec![
            FaultRule {
                path: "/v1/".into(),
                server_errors_first: 2,
                server_error_status: Some(500),
                ..FaultRule::default()
            },
            FaultRule {
                path: "/v1/builds".into(),
                server_error_rate: 0.3,
                server_error_status: Some(503),
                ..FaultRule::default()
            },
        ],
        ..FaultPlan::default()
    };
    let sandbox = Sandbox::start_with(demo_seed(), faults).await;
    let started = std::time::Instant::now();
    let out = sandbox
        .run(&[
            "build-number",
            "next",
            "--bundle-id",
            "com.example.demo",
            "--format",
            "json",
        ])
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["next"], "43");
    assert!(v["requests"].as_u64().unwrap() >= 5);
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_precedence_and_redaction() {
    let sandbox = Sandbox::start(demo_seed()).await;
    let secrets = sandbox.secret_lines();
    let check_clean = |out: &Output| {
        let all = format!("{}{}", stdout(out), stderr(out));
        for line in &secrets {
            assert!(!all.contains(line.as_str()), "key material printed: {all}");
        }
        assert!(!all.contains("eyJ"), "a JWT was printed: {all}");
    };

    // Flags beat env: env names a key the server does not know; the flag names the right one.
    let mut env = sandbox.env();
    env.retain(|(k, _)| k != "APP_STORE_CONNECT_KEY_IDENTIFIER");
    env.push(("ASC_KEY_ID".into(), "WRONGKEY01".into()));
    let out = run_with(
        &[
            "build-number",
            "latest",
            "--bundle-id",
            "com.example.demo",
            "--key-id",
            KEY_ID,
        ],
        env.clone(),
        sandbox.dir.path(),
    )
    .await;
    assert_eq!(stdout(&out), "42\n", "{}", stderr(&out));
    check_clean(&out);
    // Without the flag the env's wrong key id is used and the server refuses it, with the clock hint, exit 2.
    let out = run_with(
        &["build-number", "latest", "--bundle-id", "com.example.demo"],
        env,
        sandbox.dir.path(),
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("401") && stderr(&out).contains("clock"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stderr(&out).lines().count(), 1);
    check_clean(&out);

    // ASC_* variables with the key inline; then a fastlane JSON; then AuthKey_<ID>.p8 in ./private_keys.
    let base = vec![("ASC_BASE_URL".to_string(), sandbox.emu.base_url())];
    let mut env = base.clone();
    env.push(("ASC_ISSUER_ID".into(), ISSUER.into()));
    env.push(("ASC_KEY_ID".into(), KEY_ID.into()));
    env.push((
        "ASC_PRIVATE_KEY".into(),
        sandbox.pair.private_pkcs8_pem.clone(),
    ));
    let out = run_with(
        &[
            "build-number",
            "latest",
            "--bundle-id",
            "com.example.demo",
            "--format",
            "json",
        ],
        env,
        sandbox.dir.path(),
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    check_clean(&out);

    // --private-key with codemagic's @env: indirection beats a wrong ASC_PRIVATE_KEY.
    let other = testkey::generate(KEY_ID);
    let mut env = base.clone();
    env.push(("ASC_ISSUER_ID".into(), ISSUER.into()));
    env.push(("ASC_KEY_ID".into(), KEY_ID.into()));
    env.push(("ASC_PRIVATE_KEY".into(), other.private_pkcs8_pem.clone()));
    env.push(("GOOD_KEY".into(), sandbox.pair.private_pkcs8_pem.clone()));
    let args = [
        "build-number",
        "latest",
        "--bundle-id",
        "com.example.demo",
        "--private-key",
        "@env:GOOD_KEY",
    ];
    let out = run_with(&args, env.clone(), sandbox.dir.path()).await;
    assert_eq!(stdout(&out), "42\n", "{}", stderr(&out));
    check_clean(&out);
    let out = run_with(&args[..4], env, sandbox.dir.path()).await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "the wrong env key is used without the flag"
    );
    check_clean(&out);

    let json_path = sandbox.dir.path().join("api_key.json");
    write_secret(
        &json_path,
        &json!({"key_id": KEY_ID, "issuer_id": ISSUER, "key": sandbox.pair.private_pkcs8_pem})
            .to_string(),
    );
    let path = json_path.display().to_string();
    let out = run_with(
        &[
            "build-number",
            "latest",
            "--bundle-id",
            "com.example.demo",
            "--api-key-path",
            &path,
        ],
        base.clone(),
        sandbox.dir.path(),
    )
    .await;
    assert_eq!(stdout(&out), "42\n", "{}", stderr(&out));

    let keys = sandbox.dir.path().join("private_keys");
    std::fs::create_dir_all(&keys).unwrap();
    let p8 = keys.join(format!("AuthKey_{KEY_ID}.p8"));
    std::fs::write(&p8, &sandbox.pair.private_pkcs8_pem).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p8, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let out = run_with(
        &[
            "build-number",
            "latest",
            "--bundle-id",
            "com.example.demo",
            "--key-id",
            KEY_ID,
            "--issuer-id",
            ISSUER,
        ],
        base,
        sandbox.dir.path(),
    )
    .await;
    assert_eq!(stdout(&out), "42\n", "{}", stderr(&out));
    #[cfg(unix)]
    assert!(
        stderr(&out).contains("warning: private key file") && stderr(&out).contains("chmod 600"),
        "{}",
        stderr(&out)
    );
    check_clean(&out);
}

/// Bad input: one line on stderr, exit 2, nothing on stdout, the project untouched.
async fn assert_fails_cleanly(args: &[&str], env: Vec<(String, String)>, cwd: &Path, expect: &str) {
    let project = xcode_project(cwd);
    let before = snapshot(&project);
    let mut full: Vec<&str> = args.to_vec();
    let project_arg = project.display().to_string();
    full.extend_from_slice(&["--apply", "--project", &project_arg]);
    let out = run_with(&full, env, cwd).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(stdout(&out), "");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("ipagate: error: ") && err.contains(expect),
        "expected {expect:?} in {err}"
    );
    assert_eq!(snapshot(&project), before);
    std::fs::remove_dir_all(&project).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_and_unknown_apps_fail_cleanly() {
    let sandbox = Sandbox::start(demo_seed()).await;
    let dir = sandbox.dir.path();
    let next = ["build-number", "next", "--bundle-id", "com.example.demo"];
    let base = vec![("ASC_BASE_URL".to_string(), sandbox.emu.base_url())];
    let with = |extra: &[(&str, &str)]| {
        let mut env = base.clone();
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        env
    };
    let key = sandbox.pair.private_pkcs8_pem.as_str();
    let malformed = key.replacen("M", "!", 3);
    assert_fails_cleanly(
        &next,
        with(&[
            ("ASC_KEY_ID", KEY_ID),
            ("ASC_ISSUER_ID", ISSUER),
            ("ASC_PRIVATE_KEY", &malformed),
        ]),
        dir,
        "not a usable ES256 key",
    )
    .await;
    let rsa = "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n";
    assert_fails_cleanly(
        &next,
        with(&[
            ("ASC_KEY_ID", KEY_ID),
            ("ASC_ISSUER_ID", ISSUER),
            ("ASC_PRIVATE_KEY", rsa),
        ]),
        dir,
        "RSA PRIVATE KEY",
    )
    .await;
    assert_fails_cleanly(
        &next,
        with(&[("ASC_KEY_ID", KEY_ID), ("ASC_PRIVATE_KEY", key)]),
        dir,
        "no App Store Connect issuer id",
    )
    .await;
    let env = sandbox.env();
    assert_fails_cleanly(
        &["build-number", "next", "--bundle-id", "com.example.nope"],
        env.clone(),
        dir,
        "no app with bundle id \"com.example.nope\"",
    )
    .await;
    assert_fails_cleanly(
        &["build-number", "next", "--app-id", "999"],
        env.clone(),
        dir,
        "no app with id 999",
    )
    .await;
    assert_fails_cleanly(
        &[
            "build-number",
            "next",
            "--bundle-id",
            "com.example.demo",
            "--version",
            "1.x",
        ],
        env,
        dir,
        "invalid --version",
    )
    .await;
}

/// Regression: a key id or issuer id taken from the wrong place (the env vars swapped, `@file:` pointing at the .p8)
/// printed the whole private key in the error, blamed on "private key from ...".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misplaced_ids_never_print_the_key() {
    let sandbox = Sandbox::start(demo_seed()).await;
    let dir = sandbox.dir.path();
    let secrets = sandbox.secret_lines();
    let pem = sandbox.pair.private_pkcs8_pem.as_str();
    let at_file = format!("@file:{}", sandbox.key_path.display());
    let base = vec![("ASC_BASE_URL".to_string(), sandbox.emu.base_url())];
    let with = |extra: &[(&str, &str)]| {
        let mut env = base.clone();
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        env
    };
    let latest = ["build-number", "latest", "--bundle-id", "com.example.demo"];
    type Case<'a> = (Vec<&'a str>, Vec<(String, String)>, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            latest.to_vec(),
            with(&[
                ("APP_STORE_CONNECT_KEY_IDENTIFIER", pem),
                ("APP_STORE_CONNECT_ISSUER_ID", ISSUER),
                ("APP_STORE_CONNECT_PRIVATE_KEY", KEY_ID),
            ]),
            "invalid key id from $APP_STORE_CONNECT_KEY_IDENTIFIER",
        ),
        (
            latest.to_vec(),
            with(&[
                ("APP_STORE_CONNECT_KEY_IDENTIFIER", pem),
                ("ASC_ISSUER_ID", ISSUER),
            ]),
            "invalid key id from $APP_STORE_CONNECT_KEY_IDENTIFIER",
        ),
        (
            latest.to_vec(),
            with(&[
                ("APP_STORE_CONNECT_KEY_IDENTIFIER", KEY_ID),
                ("APP_STORE_CONNECT_ISSUER_ID", pem),
                ("APP_STORE_CONNECT_PRIVATE_KEY", ISSUER),
            ]),
            "invalid issuer id from $APP_STORE_CONNECT_ISSUER_ID",
        ),
        (
            [&latest[..], &["--key-id", &at_file]].concat(),
            with(&[("ASC_ISSUER_ID", ISSUER), ("ASC_PRIVATE_KEY", pem)]),
            "invalid key id from /",
        ),
        (
            [&latest[..], &["--issuer-id", &at_file]].concat(),
            with(&[("ASC_KEY_ID", KEY_ID), ("ASC_PRIVATE_KEY", pem)]),
            "invalid issuer id from /",
        ),
    ];
    for (args, env, expect) in cases {
        let out = run_with(&args, env, dir).await;
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert_eq!(out.status.code(), Some(2), "{all}");
        assert_eq!(stdout(&out), "");
        assert_eq!(stderr(&out).lines().count(), 1, "{all}");
        assert!(
            stderr(&out).contains(expect),
            "expected {expect:?} in {all}"
        );
        assert!(stderr(&out).contains("looks like a PEM key"), "{all}");
        assert!(!all.contains("private key from"), "{all}");
        assert!(!all.contains("BEGIN PRIVATE KEY"), "{all}");
        assert!(!all.contains("eyJ"), "{all}");
        for line in &secrets {
            assert!(!all.contains(line.as_str()), "key material printed: {all}");
        }
    }
    assert_eq!(sandbox.requests(), 0, "nothing was sent");
}

/// Regression: a PEM given where a value belongs was printed whole, by clap ("unexpected argument '-----BEGIN…'")
/// and by "cannot read <path>" when the PEM was passed as a path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pem_in_any_credential_argument_is_never_printed() {
    let sandbox = Sandbox::start(demo_seed()).await;
    let dir = sandbox.dir.path();
    let pem = sandbox.pair.private_pkcs8_pem.as_str();
    let key_path = sandbox.key_path.display().to_string();
    let at_file_pem = format!("@file:{pem}");
    let base = vec![("ASC_BASE_URL".to_string(), sandbox.emu.base_url())];
    let latest = ["build-number", "latest", "--bundle-id", "com.example.demo"];
    let ids = ["--key-id", KEY_ID, "--issuer-id", ISSUER];

    // The documented form works: the value starting with "-----" is the key, not an unknown flag.
    let args = [&latest[..], &ids, &["--private-key", pem]].concat();
    let out = run_with(&args, base.clone(), dir).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "42\n");
    assert_secret_free(&sandbox, &out);

    type Case<'a> = (Vec<&'a str>, Vec<(String, String)>, &'a str);
    let with = |extra: &[(&str, &str)]| {
        let mut env = base.clone();
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        env
    };
    let cases: Vec<Case<'_>> = vec![
        (
            [
                &latest[..],
                &[
                    "--key-id",
                    pem,
                    "--issuer-id",
                    ISSUER,
                    "--private-key-path",
                    &key_path,
                ],
            ]
            .concat(),
            base.clone(),
            "invalid key id from --key-id",
        ),
        (
            [
                &latest[..],
                &[
                    "--key-id",
                    KEY_ID,
                    "--issuer-id",
                    pem,
                    "--private-key-path",
                    &key_path,
                ],
            ]
            .concat(),
            base.clone(),
            "invalid issuer id from --issuer-id",
        ),
        (
            [&latest[..], &ids, &["--private-key-path", pem]].concat(),
            base.clone(),
            "cannot read <a path that is",
        ),
        (
            [&latest[..], &ids].concat(),
            with(&[("ASC_PRIVATE_KEY_PATH", pem)]),
            "cannot read <a path that is",
        ),
        (
            [&latest[..], &ids, &["--private-key", &at_file_pem]].concat(),
            base.clone(),
            "cannot read <a path that is",
        ),
        (
            [&latest[..], &ids, &["--api-key-path", pem]].concat(),
            base.clone(),
            "cannot read <a path that is",
        ),
    ];
    for (args, env, expect) in cases {
        let out = run_with(&args, env, dir).await;
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert_eq!(out.status.code(), Some(2), "{all}");
        assert_eq!(stderr(&out).lines().count(), 1, "{all}");
        assert!(
            stderr(&out).contains(expect),
            "expected {expect:?} in {all}"
        );
        assert_secret_free(&sandbox, &out);
    }
    assert_eq!(
        sandbox.requests(),
        3,
        "only the working call (app, uploads, builds) reached the server"
    );
}

/// The same for arguments clap itself rejects (`--platform`, `--format`, a stray positional): its message quotes the
/// value, so main.rs passes it through `ipagate_asc::redact_secrets`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pem_rejected_by_the_argument_parser_is_never_printed() {
    let sandbox = Sandbox::start(demo_seed()).await;
    let dir = sandbox.dir.path();
    let pem = sandbox.pair.private_pkcs8_pem.as_str();
    let latest = ["build-number", "latest", "--bundle-id", "com.example.demo"];
    for args in [
        [&latest[..], &["--platform", pem]].concat(),
        [&latest[..], &["--format", pem]].concat(),
        [&latest[..], &[pem]].concat(),
        vec!["build-number", "apply", "--project", ".", "1", pem],
        vec!["build-number", "apply", pem],
    ] {
        let out = run_with(&args, sandbox.env(), dir).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains("<redacted>"), "{}", stderr(&out));
        assert_secret_free(&sandbox, &out);
    }
    assert_eq!(sandbox.requests(), 0);
}

fn assert_secret_free(sandbox: &Sandbox, out: &Output) {
    let all = format!("{}{}", stdout(out), stderr(out));
    assert!(!all.contains("BEGIN PRIVATE KEY"), "{all}");
    assert!(!all.contains("PRIVATE KEY"), "{all}");
    assert!(!all.contains("eyJ"), "{all}");
    for line in sandbox.secret_lines() {
        assert!(!all.contains(line.as_str()), "key material printed: {all}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_servers_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let pair = testkey::generate(KEY_ID);
    let env = |base: &str| {
        vec![
            ("ASC_BASE_URL".to_string(), base.to_string()),
            ("ASC_KEY_ID".to_string(), KEY_ID.to_string()),
            ("ASC_ISSUER_ID".to_string(), ISSUER.to_string()),
            (
                "ASC_PRIVATE_KEY".to_string(),
                pair.private_pkcs8_pem.clone(),
            ),
        ]
    };
    let args = ["build-number", "next", "--app-id", "1"];
    let html = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<!DOCTYPE html><html><body>Sign in</body></html>";
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec![html.to_owned()], "expected JSON, got an HTML page"),
        (vec!["HTTP/1.1 403 Forbidden\r\nContent-Type: text/html\r\n\r\n<html><body>Forbidden</body></html>".to_owned()], "HTTP 403 with an HTML page"),
        (vec!["HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"data\":[{\"type\":\"buildUploads\",\"id\":\"1\",\"attr".to_owned()], "truncated JSON"),
        (
            vec!["HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"data\":[{\"type\":\"x\",\"id\":\"1\"}],\"links\":{\"self\":\"{base}/v1/x\",\"next\":\"{base}/v1/loop?cursor=1\"}}".to_owned()],
            "paging loops",
        ),
        (
            vec!["HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"data\":[],\"links\":{\"self\":\"{base}/v1/x\",\"next\":\"{base}/v1/loop?cursor=1\"}}".to_owned()],
            "is empty but links.next continues",
        ),
        (vec!["HTTP/1.1 429 Too Many\r\nRetry-After: 99999\r\nContent-Type: application/json\r\n\r\n{\"errors\":[{\"status\":\"429\",\"code\":\"RATE_LIMIT_EXCEEDED\",\"title\":\"t\"}]}".to_owned()], "retry after 99999s"),
        (
            vec![r#"HTTP/1.1 409 Conflict
Content-Type: application/json

{"errors":[{"status":"409","code":"STATE_ERROR.ENTITY_STATE_INVALID","title":"t","detail":"not allowed","meta":{"associatedErrors":{"/v1/builds/b1":[{"status":"409","code":"ENTITY_ERROR.ATTRIBUTE.INVALID","title":"x","detail":"bad build"}]}}}]}"#
                .replace('\n', "\r\n")],
            "STATE_ERROR.ENTITY_STATE_INVALID (not allowed); /v1/builds/b1: ENTITY_ERROR.ATTRIBUTE.INVALID (bad build)",
        ),
    ];
    for (script, expect) in cases {
        let base = canned_server(script);
        assert_fails_cleanly(&args, env(&base), dir.path(), expect).await;
    }
}

/// A tiny HTTP server on a free port that answers every request with the next raw response of `script` (the last
/// one repeats); `{base}` is replaced by its URL and Content-Length is added.
fn canned_server(script: Vec<String>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let script = Arc::new(Mutex::new((script, 0usize)));
    let base_for_thread = base.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let script = script.clone();
            let base = base_for_thread.clone();
            std::thread::spawn(move || {
                loop {
                    let mut buf = Vec::new();
                    let mut byte = [0u8; 1];
                    while !buf.ends_with(b"\r\n\r\n") {
                        match stream.read(&mut byte) {
                            Ok(1) => buf.push(byte[0]),
                            _ => return,
                        }
                    }
                    let raw = {
                        let mut guard = script.lock().unwrap();
                        let i = guard.1.min(guard.0.len() - 1);
                        guard.1 += 1;
                        guard.0[i].replace("{base}", &base)
                    };
                    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
                    let response =
                        format!("{head}\r\nContent-Length: {}\r\n\r\n{body}", body.len());
                    if stream.write_all(response.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    base
}

// ---- apply ----

fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.insert(
                    path.strip_prefix(dir).unwrap().to_owned(),
                    std::fs::read(&path).unwrap(),
                );
            }
        }
    }
    out
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A realistic project: the app's Info.plist holds a literal, the widget's is generated from the project-level
/// CURRENT_PROJECT_VERSION (which shadows the base xcconfig's), and a test target refers to the setting.
fn demo_pbxproj(app_plist: &str) -> String {
    pbxproj(
        &[
            ("CURRENT_PROJECT_VERSION", "41"),
            ("MARKETING_VERSION", "1.2.3"),
        ],
        Base::Group("Config/Base.xcconfig"),
        &[
            t("Demo", "application", &[("INFOPLIST_FILE", app_plist)]),
            t(
                "Widget",
                "app-extension",
                &[("GENERATE_INFOPLIST_FILE", "YES")],
            ),
            t(
                "DemoTests",
                "bundle.unit-test",
                &[("INFOPLIST_FILE", "DemoTests/Info.plist")],
            ),
        ],
    )
}

const BASE_XCCONFIG: &str = "// shared\nMARKETING_VERSION = 1.2.3\nCURRENT_PROJECT_VERSION = 41 // bumped by CI\nCURRENT_PROJECT_VERSION[config=Debug] = 41\n";

fn info_plist_xml(version: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<!-- kept as is -->
	<key>CFBundleIdentifier</key>
	<string>com.example.app</string>
	<key>CFBundleShortVersionString</key>
	<string>1.2.3</string>
	<key>CFBundleVersion</key>
	<string>{version}</string>
</dict>
</plist>
"#
    )
}

/// An Xcode project with two targets' plists (one literal, one using the build setting) and an xcconfig.
fn xcode_project(root: &Path) -> PathBuf {
    let dir = root.join(format!(
        "xcode-{}",
        std::process::id() as u64 * 1000 + rand_suffix()
    ));
    write(
        &dir.join("Demo.xcodeproj/project.pbxproj"),
        &demo_pbxproj("Demo/Info.plist"),
    );
    write(&dir.join("Demo/Info.plist"), &info_plist_xml("41"));
    write(
        &dir.join("DemoTests/Info.plist"),
        &info_plist_xml("$(CURRENT_PROJECT_VERSION)"),
    );
    write(&dir.join("Config/Base.xcconfig"), BASE_XCCONFIG);
    write(&dir.join("Pods/Lib/Info.plist"), &info_plist_xml("7.0"));
    dir
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

fn apply(project: &Path, number: &str, extra: &[&str]) -> Output {
    let project_arg = project.display().to_string();
    let mut args = vec![
        "build-number",
        "apply",
        number,
        "--project",
        project_arg.as_str(),
    ];
    args.extend_from_slice(extra);
    Command::new(bin()).args(&args).output().unwrap()
}

#[test]
fn apply_xcode_project_golden() {
    let root = tempfile::tempdir().unwrap();
    let project = xcode_project(root.path());
    let pbxproj_before =
        std::fs::read_to_string(project.join("Demo.xcodeproj/project.pbxproj")).unwrap();
    let out = apply(&project, "42", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "changed Demo/Info.plist: CFBundleVersion 41 -> 42\n\
         changed Demo.xcodeproj/project.pbxproj: CURRENT_PROJECT_VERSION 41 -> 42 (2 places)\n\
         note: Demo.xcodeproj: test targets left alone: DemoTests (--all-targets or --target NAME to include them)\n"
    );
    let read = |p: &str| std::fs::read_to_string(project.join(p)).unwrap();
    assert_eq!(
        read("Demo.xcodeproj/project.pbxproj"),
        pbxproj_before.replace(
            "CURRENT_PROJECT_VERSION = 41;",
            "CURRENT_PROJECT_VERSION = 42;"
        ),
        "the project level, which the widget resolves to"
    );
    assert_eq!(read("Demo/Info.plist"), info_plist_xml("42"));
    assert_eq!(
        read("DemoTests/Info.plist"),
        info_plist_xml("$(CURRENT_PROJECT_VERSION)")
    );
    assert_eq!(
        read("Config/Base.xcconfig"),
        BASE_XCCONFIG,
        "shadowed by the project level: not what any target reads"
    );
    assert_eq!(
        read("Pods/Lib/Info.plist"),
        info_plist_xml("7.0"),
        "dependencies are never touched"
    );
    // No temp files left behind; running again changes nothing.
    assert!(
        !snapshot(&project)
            .keys()
            .any(|p| p.to_string_lossy().contains(".ipagate-"))
    );
    let again = apply(&project, "42", &[]);
    assert_eq!(
        stdout(&again).lines().last(),
        Some("nothing to change: every chosen target already has build number 42 (Demo, Widget)")
    );
}

#[test]
fn apply_flutter_project_golden_and_dry_run() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path();
    let pubspec = "name: demo\n# The version line.\nversion: 1.4.0+17   # bumped by CI\n\nenvironment:\n  sdk: '>=3.0.0 <4.0.0'\n  version: 9.9.9+9\n";
    write(&dir.join("pubspec.yaml"), pubspec);
    write(
        &dir.join("ios/Runner/Info.plist"),
        &info_plist_xml("$(FLUTTER_BUILD_NUMBER)"),
    );
    write(
        &dir.join("ios/Flutter/Generated.xcconfig"),
        "FLUTTER_BUILD_NAME=1.4.0\nFLUTTER_BUILD_NUMBER=17\n",
    );
    write(
        &dir.join("packages/inner/pubspec.yaml"),
        "name: inner\nversion: 0.0.1+1\n",
    );
    let before = snapshot(dir);
    let out = apply(dir, "18", &["--dry-run"]);
    assert_eq!(
        stdout(&out),
        "would change ios/Flutter/Generated.xcconfig: FLUTTER_BUILD_NUMBER 17 -> 18\n\
         would change pubspec.yaml: version 1.4.0+17 -> 1.4.0+18\n\
         note: ios/Runner/Info.plist: CFBundleVersion $(FLUTTER_BUILD_NUMBER) left alone: the value is a build-setting reference\n"
    );
    assert_eq!(snapshot(dir), before, "dry run writes nothing");
    let out = apply(dir, "18", &["--format", "json"]);
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["changes"][1]["path"], "pubspec.yaml");
    assert_eq!(v["written"], true);
    let after = std::fs::read_to_string(dir.join("pubspec.yaml")).unwrap();
    assert_eq!(
        after,
        pubspec.replace("version: 1.4.0+17 ", "version: 1.4.0+18 ")
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("packages/inner/pubspec.yaml")).unwrap(),
        "name: inner\nversion: 0.0.1+1\n"
    );
    // A version without a build number gets one; quotes are kept.
    write(
        &dir.join("pubspec.yaml"),
        "name: demo\nversion: \"2.0.0\"\n",
    );
    apply(dir, "19", &[]);
    assert_eq!(
        std::fs::read_to_string(dir.join("pubspec.yaml")).unwrap(),
        "name: demo\nversion: \"2.0.0+19\"\n"
    );
}

#[test]
fn apply_binary_info_plist_stays_binary() {
    let root = tempfile::tempdir().unwrap();
    let path = root.path().join("App/Info.plist");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut dict = plist::Dictionary::new();
    dict.insert("CFBundleIdentifier".into(), "com.example.app".into());
    dict.insert("CFBundleVersion".into(), "41".into());
    plist::Value::Dictionary(dict)
        .to_file_binary(&path)
        .unwrap();
    let out = apply(root.path(), "42", &[]);
    assert_eq!(
        stdout(&out),
        "changed App/Info.plist: CFBundleVersion 41 -> 42\n",
        "{}",
        stderr(&out)
    );
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes.starts_with(b"bplist00"));
    let v = plist::Value::from_file(&path).unwrap();
    let d = v.as_dictionary().unwrap();
    assert_eq!(
        d.get("CFBundleVersion").and_then(|v| v.as_string()),
        Some("42")
    );
    assert_eq!(
        d.get("CFBundleIdentifier").and_then(|v| v.as_string()),
        Some("com.example.app")
    );
}

#[test]
fn apply_writes_nothing_when_one_file_is_broken() {
    let root = tempfile::tempdir().unwrap();
    let project = xcode_project(root.path());
    write(&project.join("Demo/Info.plist"), "<html>not a plist");
    let before = snapshot(&project);
    let out = apply(&project, "42", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("target Demo (Debug) in Demo.xcodeproj: Demo/Info.plist: not a property list (starts with"),
        "{}",
        stderr(&out)
    );
    assert_eq!(snapshot(&project), before);
    let empty = tempfile::tempdir().unwrap();
    let out = apply(empty.path(), "42", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no Xcode project, Info.plist, pubspec.yaml"),
        "{}",
        stderr(&out)
    );
    let out = apply(&project, "4x", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("invalid build number"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_apply_writes_the_number_in_one_step() {
    let sandbox = Sandbox::start(demo_seed()).await;
    let project = xcode_project(sandbox.dir.path());
    let project_arg = project.display().to_string();
    let out = sandbox
        .run(&[
            "build-number",
            "next",
            "--bundle-id",
            "com.example.demo",
            "--apply",
            "--project",
            &project_arg,
        ])
        .await;
    assert_eq!(stdout(&out), "43\n", "{}", stderr(&out));
    assert!(
        stderr(&out).contains("changed Demo/Info.plist: CFBundleVersion 41 -> 43"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(project.join("Demo/Info.plist")).unwrap(),
        info_plist_xml("43")
    );
    let out = sandbox
        .run(&[
            "build-number",
            "next",
            "--bundle-id",
            "com.example.demo",
            "--apply",
            "--dry-run",
            "--project",
            &project_arg,
            "--format",
            "json",
            "--at-least",
            "44",
        ])
        .await;
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["written"], false);
    assert_eq!(
        std::fs::read_to_string(project.join("Demo/Info.plist")).unwrap(),
        info_plist_xml("43")
    );
    // The same structured shape as `apply --format json`, notes included.
    assert_eq!(
        v["changes"][0],
        json!({"path": "Demo/Info.plist", "kind": "info_plist_xml", "key": "CFBundleVersion",
               "old": ["43"], "new": "44", "occurrences": 1})
    );
    assert_eq!(
        v["notes"],
        json!([{"path": "Demo.xcodeproj",
                "message": "test targets left alone: DemoTests (--all-targets or --target NAME to include them)"}])
    );
    let applied = apply(&project, "44", &["--dry-run", "--format", "json"]);
    let a: Value = serde_json::from_str(&stdout(&applied)).unwrap();
    assert_eq!(a["changes"], v["changes"]);
    assert_eq!(a["notes"], v["notes"]);
}

/// Regression: a hostile project Info.plist nested 200 000 levels deep overflowed the stack.
#[test]
fn apply_refuses_a_deeply_nested_info_plist() {
    let root = tempfile::tempdir().unwrap();
    let project = xcode_project(root.path());
    let deep = project.join("Demo/Info.plist");
    std::fs::write(&deep, ipagate_fixtures::plist::nested_arrays(200_000, 1)).unwrap();
    let before = snapshot(&project);
    let out = apply(&project, "42", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).ends_with("target Demo (Release) in Demo.xcodeproj: Demo/Info.plist: nested deeper than 256 levels \
             (--target NAME chooses the targets to change)\n"),
        "{}",
        stderr(&out)
    );
    assert_eq!(snapshot(&project), before, "nothing written");
}

/// Regression: a vendored framework's Info.plist got the app's build number, and so did GoogleService-Info.plist.
#[test]
fn apply_leaves_vendored_bundles_and_other_plists_alone() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path();
    let project = pbxproj(
        &[],
        Base::None,
        &[
            t(
                "App",
                "application",
                &[("INFOPLIST_FILE", "App/App-Info.plist")],
            ),
            t(
                "Widget",
                "app-extension",
                &[("INFOPLIST_FILE", "$(SRCROOT)/Widget/Info.plist")],
            ),
        ],
    );
    write(&dir.join("App.xcodeproj/project.pbxproj"), &project);
    write(&dir.join("App/App-Info.plist"), &info_plist_xml("41"));
    write(
        &dir.join("App/GoogleService-Info.plist"),
        &info_plist_xml("7"),
    );
    write(&dir.join("Widget/Info.plist"), &info_plist_xml("41"));
    write(&dir.join("Stray/Other-Info.plist"), &info_plist_xml("3"));
    for vendored in [
        "Vendor/Ads.xcframework/ios-arm64/Ads.framework/Info.plist",
        "Vendor/Ads.xcframework/Info.plist",
        "Vendor/Maps.framework/Info.plist",
        "App/Settings.bundle/Info.plist",
        "Prebuilt/Share.appex/Info.plist",
    ] {
        write(&dir.join(vendored), &info_plist_xml("9.9.9"));
    }
    write(
        &dir.join("Vendor/Ads.xcframework/ios-arm64/Ads.framework/Config.xcconfig"),
        "CURRENT_PROJECT_VERSION = 9\n",
    );
    let before = snapshot(dir);
    let out = apply(dir, "42", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "changed App/App-Info.plist: CFBundleVersion 41 -> 42\n\
         changed Widget/Info.plist: CFBundleVersion 41 -> 42\n"
    );
    let after = snapshot(dir);
    let changed: Vec<_> = after
        .iter()
        .filter(|(path, bytes)| before.get(*path) != Some(*bytes))
        .map(|(path, _)| path.display().to_string())
        .collect();
    assert_eq!(changed, ["App/App-Info.plist", "Widget/Info.plist"]);
}

/// Regression: `apply 1.2.3.4.5.6` was written everywhere, and pubspec got `+1.2`, numbers App Store Connect and
/// Flutter reject.
#[test]
fn apply_refuses_numbers_app_store_connect_or_flutter_would_reject() {
    let root = tempfile::tempdir().unwrap();
    let project = xcode_project(root.path());
    let before = snapshot(&project);
    for number in ["1.2.3.4", "1.2.3.4.5.6"] {
        let out = apply(&project, number, &[]);
        assert_eq!(out.status.code(), Some(2), "{number}");
        assert_eq!(stdout(&out), "");
        assert_eq!(
            stderr(&out),
            format!(
                "ipagate: error: will not write build number {number}: App Store Connect accepts \
                 at most three period-separated integers as CFBundleVersion (e.g. 42 or 1.2.3)\n"
            )
        );
    }
    assert_eq!(snapshot(&project), before, "nothing written");
    let out = apply(&project, "1.2.3", &["--dry-run", "--allow-lower"]);
    assert!(out.status.success(), "{}", stderr(&out));

    let flutter = root.path().join("flutter");
    write(
        &flutter.join("pubspec.yaml"),
        "name: demo\nversion: 1.4.0+17\n",
    );
    write(
        &flutter.join("ios/Runner/Info.plist"),
        &info_plist_xml("$(FLUTTER_BUILD_NUMBER)"),
    );
    let before = snapshot(&flutter);
    let out = apply(&flutter, "1.2", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "ipagate: error: will not write build number 1.2: pubspec.yaml's `version: x.y.z+N` needs a whole number N \
         (it is also Android's versionCode)\n"
    );
    assert_eq!(snapshot(&flutter), before, "nothing written");
}

/// Regression: `apply --help` described `--format text` as "The number alone", but apply prints the changes; and the
/// `--private-key` lookup list left out `$API_PRIVATE_KEYS_DIR`.
#[test]
fn help_describes_what_the_commands_print_and_where_keys_are_found() {
    let help = |args: &[&str]| {
        let out = Command::new(bin()).args(args).output().unwrap();
        assert!(out.status.success());
        stdout(&out)
    };
    let apply_help = help(&["build-number", "apply", "--help"]);
    assert!(
        apply_help.contains("text prints one line per change and note"),
        "{apply_help}"
    );
    assert!(!apply_help.contains("The number alone."), "{apply_help}");
    let latest_help = help(&["build-number", "latest", "--help"]);
    assert!(
        latest_help.contains("AuthKey_<ID>.p8 in $API_PRIVATE_KEYS_DIR,"),
        "{latest_help}"
    );
}
