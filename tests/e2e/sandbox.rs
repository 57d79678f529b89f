//! `ipagate sandbox`: the real binary prints its banner, accepts a token signed with the key it
//! generated, and stops on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support;

/// Kills the sandbox even when an assertion fails.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 request over a plain socket (the e2e tests carry no HTTP client).
fn http_get(base_url: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let host = base_url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Connection: close\r\n\r\n"
    )
    .expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    (status, response)
}

#[test]
fn sandbox_prints_its_banner_and_verifies_tokens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seed = dir.path().join("seed.json");
    std::fs::write(
        &seed,
        r#"{"apps":[{"id":"1234567890","bundleId":"com.example.demo","builds":[{"version":"41","preReleaseVersion":"1.2.3"}]}]}"#,
    )
    .expect("seed");
    let keys = dir.path().join("keys");
    let child = Command::new(support::bin())
        .args([
            "sandbox",
            "--addr",
            "127.0.0.1:0",
            "--key-id",
            "E2EKEY0001",
            "--generate-key",
        ])
        .arg(&keys)
        .arg("--seed")
        .arg(&seed)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut running = Running(child);
    let stdout = running.0.stdout.take().expect("stdout");
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("banner");
    let banner: serde_json::Value = serde_json::from_str(&first).expect("banner is JSON");
    let base_url = banner["base_url"].as_str().expect("base_url").to_string();
    let issuer = banner["issuer_id"].as_str().expect("issuer_id").to_string();
    assert_eq!(banner["key_id"], "E2EKEY0001");
    assert!(base_url.starts_with("http://127.0.0.1:") && !base_url.ends_with("/v1"));
    let key_path = banner["private_key_path"]
        .as_str()
        .expect("private_key_path");
    assert_eq!(
        std::path::Path::new(key_path),
        keys.join("AuthKey_E2EKEY0001.p8").as_path()
    );
    let pem = std::fs::read_to_string(key_path).expect("key");
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(
        !first.contains("PRIVATE KEY"),
        "the banner never carries the key"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(key_path)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let token = ipagate_asc_emulator::testkey::sign_token(&pem, "E2EKEY0001", Some(&issuer), 600)
        .expect("token");
    let (status, body) = http_get(
        &base_url,
        "/v1/apps?filter[bundleId]=com.example.demo",
        Some(&token),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"bundleId\":\"com.example.demo\""), "{body}");
    assert!(
        body.contains("x-rate-limit: user-hour-lim:3600;user-hour-rem:3599;"),
        "{body}"
    );
    let (status, _) = http_get(&base_url, "/v1/apps", None);
    assert_eq!(status, 401);
    let (status, log) = http_get(&base_url, "/_sandbox/requests", None);
    assert_eq!(status, 200);
    assert!(log.contains("\"status\":401"), "{log}");

    #[cfg(unix)]
    {
        let pid = running.0.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(sent.success());
        let status = running.0.wait().expect("wait");
        assert_eq!(status.code(), Some(0), "SIGTERM ends the sandbox cleanly");
    }
}

/// Starts the sandbox with `args` and returns it with its parsed banner.
fn start(args: &[&str]) -> (Running, serde_json::Value) {
    let child = Command::new(support::bin())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut running = Running(child);
    let stdout = running.0.stdout.take().expect("stdout");
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("banner");
    let banner = serde_json::from_str(&first).expect("banner is JSON");
    (running, banner)
}

#[test]
fn sandbox_accepts_a_given_public_key_and_individual_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pair = ipagate_asc_emulator::testkey::generate("GIVENKEY01");
    let public = dir.path().join("pub.pem");
    std::fs::write(&public, &pair.public_pem).expect("write");
    let public = public.to_str().expect("utf-8");
    let issuer = "57246542-96fe-1a63-e053-0824d011072a";
    let (_team, banner) = start(&[
        "sandbox",
        "--key-id",
        "GIVENKEY01",
        "--public-key",
        public,
        "--issuer-id",
        issuer,
    ]);
    assert_eq!(banner["issuer_id"], issuer);
    assert_eq!(banner["private_key_path"], serde_json::Value::Null);
    let base = banner["base_url"].as_str().expect("base_url");
    let token = ipagate_asc_emulator::testkey::sign_token(
        &pair.private_pkcs8_pem,
        "GIVENKEY01",
        Some(issuer),
        600,
    )
    .expect("token");
    assert_eq!(http_get(base, "/v1/builds", Some(&token)).0, 200);
    let user =
        ipagate_asc_emulator::testkey::sign_token(&pair.private_pkcs8_pem, "GIVENKEY01", None, 600)
            .expect("token");
    assert_eq!(http_get(base, "/v1/builds", Some(&user)).0, 401);

    let (_individual, banner) = start(&[
        "sandbox",
        "--key-id",
        "GIVENKEY01",
        "--public-key",
        public,
        "--individual",
    ]);
    let base = banner["base_url"].as_str().expect("base_url");
    assert_eq!(http_get(base, "/v1/builds", Some(&user)).0, 200);
    assert_eq!(http_get(base, "/v1/builds", Some(&token)).0, 401);
}

#[test]
fn sandbox_refuses_bad_input_with_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"apps":[{"builds":[{"platform":"ANDROID"}]}]}"#).expect("write");
    let keys = dir.path().join("keys");
    let keys = keys.to_str().expect("utf-8");
    let bad = bad.to_str().expect("utf-8");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n",
    )
    .expect("write");
    let garbage = garbage.to_str().expect("utf-8");
    for args in [
        vec!["sandbox", "--seed", bad, "--generate-key", keys],
        vec![
            "sandbox",
            "--seed",
            "/nonexistent/seed.json",
            "--generate-key",
            keys,
        ],
        vec![
            "sandbox",
            "--key-id",
            "K1",
            "--public-key",
            "/nonexistent/key.pem",
        ],
        vec!["sandbox"],
        vec!["sandbox", "--key-id", "K1", "--public-key", garbage],
        vec!["sandbox", "--generate-key", keys, "--key-id", "../evil"],
    ] {
        let out = support::ipagate(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("ipagate: error: "), "{stderr}");
        assert!(out.stdout.is_empty());
    }
    assert!(
        !std::path::Path::new(keys).exists(),
        "no key written when the start fails"
    );
}

/// Regression: "bad seed s.json: seed is not valid: …", and a private key given as --public-key ended in
/// "…in PEM: InvalidKeyFormat".
#[test]
fn sandbox_errors_are_worded_once_and_for_users() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seed = dir.path().join("s.json");
    std::fs::write(&seed, "{\"apps\": [").expect("write");
    let keys = dir.path().join("keys");
    let out = support::ipagate(&[
        "sandbox",
        "--seed",
        seed.to_str().expect("utf-8"),
        "--generate-key",
        keys.to_str().expect("utf-8"),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    let expected = format!(
        "ipagate: error: bad seed {}: not valid JSON or not the shape of a seed: ",
        seed.display()
    );
    assert!(stderr.starts_with(&expected), "{stderr}");

    let pair = ipagate_asc_emulator::testkey::generate("PRIVATE001");
    let private = dir.path().join("AuthKey_PRIVATE001.p8");
    std::fs::write(&private, &pair.private_pkcs8_pem).expect("write");
    let out = support::ipagate(&[
        "sandbox",
        "--key-id",
        "PRIVATE001",
        "--public-key",
        private.to_str().expect("utf-8"),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr,
        "ipagate: error: cannot start the sandbox: invalid API key: public key of PRIVATE001 is not a P-256 public \
         key in PEM (this is a private key: pass the public half, e.g. `openssl pkey -in AuthKey.p8 -pubout`)\n"
    );
}

#[test]
fn sandbox_help_says_a_key_option_is_required() {
    let out = support::ipagate(&["sandbox", "--help"]);
    assert!(out.status.success());
    // Whitespace-normalised: the long help (the fault-plan format) wraps lines at the terminal width.
    let help = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        help.contains("One of --public-key and --generate-key is required"),
        "{help}"
    );
}
