//! Secrets stay secret (issue 7): the real binary, given key material in every wrong place and talking to servers
//! that echo the bearer token into every field the client reads, never prints a 16-character run of the key body,
//! `eyJ`, or any part of a token — on stdout or stderr, in text and JSON output.
//!
//! Real HTTP throughout: the in-process emulator, or a small hostile server on 127.0.0.1 built here.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use ipagate_asc_emulator::{ApiKey, Config, Emulator, Seed, testkey};
use serde_json::{Value, json};

use crate::support::bin;

const ISSUER: &str = "69a6de70-0000-47e3-e053-5b8c7c11a4d1";
const KEY_ID: &str = "SECRETS001";
const RUN: usize = 16;

/// Every environment variable that could bring credentials in from the test runner's own environment.
const CREDENTIAL_VARS: [&str; 17] = [
    "APP_STORE_CONNECT_ISSUER_ID",
    "APP_STORE_CONNECT_KEY_IDENTIFIER",
    "APP_STORE_CONNECT_PRIVATE_KEY",
    "ASC_ISSUER_ID",
    "ASC_KEY_ID",
    "ASC_PRIVATE_KEY",
    "ASC_PRIVATE_KEY_B64",
    "ASC_PRIVATE_KEY_PATH",
    "APP_STORE_CONNECT_API_KEY_KEY_ID",
    "APP_STORE_CONNECT_API_KEY_ISSUER_ID",
    "APP_STORE_CONNECT_API_KEY_KEY",
    "APP_STORE_CONNECT_API_KEY_IS_KEY_CONTENT_BASE64",
    "APP_STORE_CONNECT_API_KEY_KEY_FILEPATH",
    "APP_STORE_CONNECT_API_KEY_IN_HOUSE",
    "ASC_BASE_URL",
    "API_PRIVATE_KEYS_DIR",
    "IPAGATE_NOW",
];

/// The key, in every form a user may hold it.
struct Material {
    pair: testkey::KeyPair,
    /// The base64 body on one line.
    body: String,
}

impl Material {
    fn new() -> Material {
        let pair = testkey::generate(KEY_ID);
        let body = pair
            .private_pkcs8_pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        Material { pair, body }
    }

    fn pem(&self) -> &str {
        &self.pair.private_pkcs8_pem
    }

    fn body_lines(&self) -> String {
        self.body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Every way to misplace the key: `(name, text)`.
    fn forms(&self) -> Vec<(&'static str, String)> {
        let lines = self.body_lines();
        vec![
            ("full PEM", self.pem().to_owned()),
            ("body only", self.body.clone()),
            ("body over lines", lines.clone()),
            ("middle of the body", self.body[30..90].to_owned()),
            ("16 characters of the body", self.short_piece()),
            (
                "BEGIN line without dashes",
                format!("-----BEGIN PRIVATE KEY\n{lines}\n-----END PRIVATE KEY-----\n"),
            ),
            (
                "END line without dashes",
                format!("-----BEGIN PRIVATE KEY-----\n{lines}\n-----END PRIVATE KEY"),
            ),
            ("PEM with \\n escapes", self.pem().replace('\n', "\\n")),
            (
                "base64 of the PEM",
                base64::engine::general_purpose::STANDARD.encode(self.pem()),
            ),
        ]
    }

    /// 16 characters from the middle of the body, capitals and small letters mixed (as almost any such piece is).
    fn short_piece(&self) -> String {
        (40..self.body.len() - RUN)
            .map(|i| &self.body[i..i + RUN])
            .find(|w| {
                w.bytes().any(|b| b.is_ascii_uppercase())
                    && w.bytes().any(|b| b.is_ascii_lowercase())
            })
            .unwrap()
            .to_owned()
    }

    fn pem_b64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.pem())
    }
}

/// Texts no output may contain any 16-character run of.
#[derive(Default, Clone)]
struct Forbidden {
    windows: HashSet<String>,
}

impl Forbidden {
    fn add(&mut self, secret: &str) {
        let flat = flatten(secret);
        // Case-insensitive: a URL parser lowercases a host name made of the token.
        let flat = flat.to_ascii_lowercase();
        for i in 0..flat.len().saturating_sub(RUN - 1) {
            self.windows.insert(flat[i..i + RUN].to_owned());
        }
    }

    fn of(material: &Material) -> Forbidden {
        let mut f = Forbidden::default();
        f.add(&material.body);
        f.add(&material.pem_b64());
        f
    }

    /// Fails the test when `out` shows any secret: raw, and with whitespace and `\n` escapes removed (a key split
    /// over lines is still the key).
    fn assert_clean(&self, what: &str, out: &Output) {
        for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            let text = String::from_utf8_lossy(bytes);
            assert!(
                !text.contains("eyJ"),
                "{what}: {stream} shows a token: {text}"
            );
            assert!(
                !text.contains("PRIVATE KEY"),
                "{what}: {stream} shows a PEM line: {text}"
            );
            for candidate in [
                text.to_ascii_lowercase(),
                flatten(&text).to_ascii_lowercase(),
            ] {
                for i in 0..candidate.len().saturating_sub(RUN - 1) {
                    if let Some(window) = candidate.get(i..i + RUN) {
                        assert!(
                            !self.windows.contains(window),
                            "{what}: {stream} shows secret run {window:?}: {text}"
                        );
                    }
                }
            }
        }
    }
}

fn flatten(text: &str) -> String {
    text.replace("\\n", "")
        .replace("\\r", "")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

fn write_secret(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

/// Runs the binary off the runtime's threads (the servers keep serving) with only `env` as credentials, killing it
/// after a minute.
async fn run(args: Vec<String>, env: Vec<(String, String)>, cwd: &Path) -> Output {
    let cwd = cwd.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new(bin());
        cmd.args(&args)
            .current_dir(&cwd)
            .env("NO_COLOR", "1")
            .env("HOME", &cwd)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        for name in CREDENTIAL_VARS {
            cmd.env_remove(name);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap();
        let started = Instant::now();
        let output = child.wait_with_output().unwrap();
        assert!(started.elapsed() < Duration::from_secs(60), "{args:?} hung");
        output
    })
    .await
    .unwrap()
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

async fn emulator(material: &Material) -> Emulator {
    let seed = json!({"apps":[{"id":"1234567890","bundleId":"com.example.demo","name":"Demo",
      "builds":[{"version":"41","preReleaseVersion":"1.2.3","platform":"IOS","processingState":"VALID","uploadedDate":"2026-01-02T03:04:05Z"}],
      "buildUploads":[{"cfBundleShortVersionString":"1.2.3","cfBundleVersion":"42","platform":"IOS","state":"PROCESSING","uploadedDate":"2026-01-03T00:00:00Z"}]}]});
    let config = Config {
        seed: Seed::from_json(&seed.to_string()).unwrap(),
        issuer_id: ISSUER.into(),
        keys: vec![ApiKey::team(KEY_ID, &material.pair.public_pem)],
        ..Config::default()
    };
    Emulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// Where a credential source takes the key: inline text, or a path.
#[derive(Clone, Copy, PartialEq)]
enum Slot {
    Text,
    Path,
}

/// Arguments and environment.
type Given = (Vec<String>, Vec<(String, String)>);

/// Every credential source: its name, whether it takes text or a path, and the arguments and environment that give
/// it `value` (ids are given alongside, in the same tool's convention).
struct Source {
    name: &'static str,
    slot: Slot,
    give: fn(&str, &Path) -> Given,
}

fn asc_ids() -> Vec<(String, String)> {
    vec![
        ("ASC_KEY_ID".into(), KEY_ID.into()),
        ("ASC_ISSUER_ID".into(), ISSUER.into()),
    ]
}

fn env1(name: &str, value: &str) -> Vec<(String, String)> {
    let mut env = asc_ids();
    env.push((name.into(), value.into()));
    env
}

fn sources() -> Vec<Source> {
    vec![
        Source {
            name: "--private-key",
            slot: Slot::Text,
            give: |v, _| (strings(&["--private-key", v]), asc_ids()),
        },
        Source {
            name: "--private-key @env:",
            slot: Slot::Text,
            give: |v, _| {
                (
                    strings(&["--private-key", "@env:MY_KEY"]),
                    env1("MY_KEY", v),
                )
            },
        },
        Source {
            name: "--private-key @file:",
            slot: Slot::Path,
            give: |v, _| {
                (
                    strings(&["--private-key", &format!("@file:{v}")]),
                    asc_ids(),
                )
            },
        },
        Source {
            name: "--private-key-path",
            slot: Slot::Path,
            give: |v, _| (strings(&["--private-key-path", v]), asc_ids()),
        },
        Source {
            name: "$APP_STORE_CONNECT_PRIVATE_KEY",
            slot: Slot::Text,
            give: |v, _| {
                (
                    vec![],
                    vec![
                        ("APP_STORE_CONNECT_KEY_IDENTIFIER".into(), KEY_ID.into()),
                        ("APP_STORE_CONNECT_ISSUER_ID".into(), ISSUER.into()),
                        ("APP_STORE_CONNECT_PRIVATE_KEY".into(), v.into()),
                    ],
                )
            },
        },
        Source {
            name: "$APP_STORE_CONNECT_PRIVATE_KEY=@file:",
            slot: Slot::Path,
            give: |v, _| {
                (
                    vec![],
                    env1("APP_STORE_CONNECT_PRIVATE_KEY", &format!("@file:{v}")),
                )
            },
        },
        Source {
            name: "$ASC_PRIVATE_KEY",
            slot: Slot::Text,
            give: |v, _| (vec![], env1("ASC_PRIVATE_KEY", v)),
        },
        Source {
            name: "$ASC_PRIVATE_KEY_B64",
            slot: Slot::Text,
            give: |v, _| (vec![], env1("ASC_PRIVATE_KEY_B64", v)),
        },
        Source {
            name: "$ASC_PRIVATE_KEY_PATH",
            slot: Slot::Path,
            give: |v, _| (vec![], env1("ASC_PRIVATE_KEY_PATH", v)),
        },
        Source {
            name: "fastlane $APP_STORE_CONNECT_API_KEY_KEY",
            slot: Slot::Text,
            give: |v, _| {
                (
                    vec![],
                    vec![
                        ("APP_STORE_CONNECT_API_KEY_KEY_ID".into(), KEY_ID.into()),
                        ("APP_STORE_CONNECT_API_KEY_ISSUER_ID".into(), ISSUER.into()),
                        ("APP_STORE_CONNECT_API_KEY_KEY".into(), v.into()),
                    ],
                )
            },
        },
        Source {
            name: "fastlane $APP_STORE_CONNECT_API_KEY_KEY, base64",
            slot: Slot::Text,
            give: |v, _| {
                (
                    vec![],
                    vec![
                        ("APP_STORE_CONNECT_API_KEY_KEY_ID".into(), KEY_ID.into()),
                        ("APP_STORE_CONNECT_API_KEY_ISSUER_ID".into(), ISSUER.into()),
                        ("APP_STORE_CONNECT_API_KEY_KEY".into(), v.into()),
                        (
                            "APP_STORE_CONNECT_API_KEY_IS_KEY_CONTENT_BASE64".into(),
                            "true".into(),
                        ),
                    ],
                )
            },
        },
        Source {
            name: "fastlane $APP_STORE_CONNECT_API_KEY_KEY_FILEPATH",
            slot: Slot::Path,
            give: |v, _| {
                (
                    vec![],
                    vec![
                        ("APP_STORE_CONNECT_API_KEY_KEY_ID".into(), KEY_ID.into()),
                        ("APP_STORE_CONNECT_API_KEY_ISSUER_ID".into(), ISSUER.into()),
                        ("APP_STORE_CONNECT_API_KEY_KEY_FILEPATH".into(), v.into()),
                    ],
                )
            },
        },
        Source {
            name: "--api-key-path JSON key",
            slot: Slot::Text,
            give: |v, dir| {
                let path = dir.join("api_key.json");
                write_secret(
                    &path,
                    &json!({"key_id": KEY_ID, "issuer_id": ISSUER, "key": v}).to_string(),
                );
                (
                    strings(&["--api-key-path", &path.display().to_string()]),
                    vec![],
                )
            },
        },
        Source {
            name: "--api-key-path",
            slot: Slot::Path,
            give: |v, _| (strings(&["--api-key-path", v]), vec![]),
        },
        Source {
            name: "./private_keys/AuthKey_<ID>.p8",
            slot: Slot::Text,
            give: |v, dir| {
                let keys = dir.join("private_keys");
                std::fs::create_dir_all(&keys).unwrap();
                write_secret(&keys.join(format!("AuthKey_{KEY_ID}.p8")), v);
                (vec![], asc_ids())
            },
        },
    ]
}

/// Each credential source × each form of the key given where the source wants its value (as the text, or as the
/// path), and for path sources also as the content of the file the path names. Both output formats.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_key_material_in_every_credential_source() {
    let material = Material::new();
    let emu = emulator(&material).await;
    let forbidden = Forbidden::of(&material);
    let mut successes = Vec::new();
    let mut runs = 0;
    for source in sources() {
        for (form, text) in material.forms() {
            let mut placements: Vec<(&str, String)> = vec![("as value", text.clone())];
            if source.slot == Slot::Path {
                placements.push(("in the file", String::new()));
            }
            for (placement, value) in placements {
                let dir = tempfile::tempdir().unwrap();
                let value = if value.is_empty() {
                    let path = dir.path().join("key.p8");
                    write_secret(&path, &text);
                    path.display().to_string()
                } else {
                    value
                };
                let (extra, mut env) = (source.give)(&value, dir.path());
                env.push(("ASC_BASE_URL".into(), emu.base_url()));
                for format in ["text", "json"] {
                    let mut args = strings(&[
                        "build-number",
                        "next",
                        "--bundle-id",
                        "com.example.demo",
                        "--format",
                        format,
                    ]);
                    args.extend(extra.iter().cloned());
                    let out = run(args, env.clone(), dir.path()).await;
                    runs += 1;
                    let what = format!("{} / {form} / {placement} / {format}", source.name);
                    forbidden.assert_clean(&what, &out);
                    match out.status.code() {
                        Some(0) => {
                            successes.push(format!("{} / {form} / {placement}", source.name));
                            assert!(stdout(&out).contains("43"), "{what}: {}", stdout(&out));
                        }
                        Some(2) => {
                            // Text: nothing on stdout. JSON: the error document (issue 8), already
                            // checked for key material above.
                            if format == "json" {
                                let doc: serde_json::Value = serde_json::from_str(&stdout(&out))
                                    .expect("JSON error document");
                                assert_eq!(doc["schema_version"], 1, "{what}");
                            } else {
                                assert_eq!(stdout(&out), "", "{what}");
                            }
                            assert_eq!(stderr(&out).lines().count(), 1, "{what}: {}", stderr(&out));
                        }
                        other => panic!("{what}: exit {other:?}: {}", stderr(&out)),
                    }
                }
            }
        }
    }
    successes.dedup();
    // The table is not vacuous: the right form in the right place works, from every source.
    for must in [
        "--private-key / full PEM / as value",
        "--private-key / body only / as value",
        "--private-key @file: / full PEM / in the file",
        "--private-key-path / full PEM / in the file",
        "--private-key-path / body over lines / in the file",
        "$APP_STORE_CONNECT_PRIVATE_KEY / PEM with \\n escapes / as value",
        "$ASC_PRIVATE_KEY_B64 / base64 of the PEM / as value",
        "$ASC_PRIVATE_KEY_PATH / full PEM / in the file",
        "fastlane $APP_STORE_CONNECT_API_KEY_KEY / full PEM / as value",
        "fastlane $APP_STORE_CONNECT_API_KEY_KEY, base64 / base64 of the PEM / as value",
        "fastlane $APP_STORE_CONNECT_API_KEY_KEY_FILEPATH / full PEM / in the file",
        "--api-key-path JSON key / full PEM / as value",
        "./private_keys/AuthKey_<ID>.p8 / full PEM / as value",
    ] {
        assert!(
            successes.iter().any(|s| s == must),
            "{must} should work; worked: {successes:#?}"
        );
    }
    assert!(runs > 300, "{runs} runs");
}

/// Each form of the key in each slot that is not the key's: ids (flag and every variable), every value option, the
/// hidden `IPAGATE_NOW`, a stray positional — with a working key (so the key is known to the redactor) and without
/// any credentials (so only what the command line and environment show is known).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_key_material_in_every_other_argument() {
    let material = Material::new();
    let emu = emulator(&material).await;
    let forbidden = Forbidden::of(&material);
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("AuthKey.p8");
    write_secret(&key_path, material.pem());
    let key_path = key_path.display().to_string();
    type Place = fn(&str) -> Given;
    let places: Vec<(&str, Place)> = vec![
        ("--key-id", |v| (strings(&["--key-id", v]), vec![])),
        ("--issuer-id", |v| (strings(&["--issuer-id", v]), vec![])),
        ("$APP_STORE_CONNECT_KEY_IDENTIFIER", |v| {
            (
                vec![],
                vec![("APP_STORE_CONNECT_KEY_IDENTIFIER".into(), v.into())],
            )
        }),
        ("$APP_STORE_CONNECT_ISSUER_ID", |v| {
            (
                vec![],
                vec![("APP_STORE_CONNECT_ISSUER_ID".into(), v.into())],
            )
        }),
        ("$APP_STORE_CONNECT_API_KEY_KEY_ID", |v| {
            (
                vec![],
                vec![("APP_STORE_CONNECT_API_KEY_KEY_ID".into(), v.into())],
            )
        }),
        ("--platform", |v| (strings(&["--platform", v]), vec![])),
        ("--format", |v| (strings(&["--format", v]), vec![])),
        ("--strategy", |v| (strings(&["--strategy", v]), vec![])),
        ("--initial", |v| (strings(&["--initial", v]), vec![])),
        ("--at-least", |v| (strings(&["--at-least", v]), vec![])),
        ("--version", |v| (strings(&["--version", v]), vec![])),
        ("--timeout", |v| (strings(&["--timeout", v]), vec![])),
        ("--app-id", |v| (strings(&["--app-id", v]), vec![])),
        ("--api-base-url", |v| {
            (strings(&["--api-base-url", v]), vec![])
        }),
        ("IPAGATE_NOW", |v| {
            (
                strings(&["--strategy", "timestamp"]),
                vec![("IPAGATE_NOW".into(), v.into())],
            )
        }),
        ("positional", |v| (strings(&[v]), vec![])),
        ("--bundle-id=", |v| {
            (strings(&[&format!("--bundle-id={v}")]), vec![])
        }),
    ];
    let mut runs = 0;
    for known in [true, false] {
        for (place, give) in &places {
            for (form, text) in material.forms() {
                let (extra, mut env) = give(&text);
                if known {
                    // fastlane's key id comes after ASC_KEY_ID: leave that out so the misplaced one is used.
                    let fastlane_id = *place == "$APP_STORE_CONNECT_API_KEY_KEY_ID";
                    env.extend(
                        asc_ids()
                            .into_iter()
                            .filter(|(k, _)| !(fastlane_id && k == "ASC_KEY_ID")),
                    );
                    env.push(("ASC_PRIVATE_KEY_PATH".into(), key_path.clone()));
                }
                env.push(("ASC_BASE_URL".into(), emu.base_url()));
                let format = if runs % 2 == 0 { "json" } else { "text" };
                let mut args =
                    strings(&["build-number", "next", "--bundle-id", "com.example.demo"]);
                if *place != "--format" {
                    args.extend(strings(&["--format", format]));
                }
                args.extend(extra);
                let out = run(args, env, dir.path()).await;
                runs += 1;
                let what = format!("{place} / {form} / key known: {known}");
                forbidden.assert_clean(&what, &out);
                assert_eq!(out.status.code(), Some(2), "{what}: {}", stdout(&out));
            }
        }
        // `apply` has no credentials at all.
        for (form, text) in material.forms() {
            for args in [
                vec!["build-number".to_string(), "apply".into(), text.clone()],
                vec![
                    "build-number".to_string(),
                    "apply".into(),
                    "--project".into(),
                    text.clone(),
                    "7".into(),
                ],
            ] {
                let out = run(args, vec![], dir.path()).await;
                forbidden.assert_clean(&format!("apply / {form}"), &out);
                assert_eq!(out.status.code(), Some(2), "apply / {form}");
            }
        }
    }
}

// ---- hostile servers ----

/// One request as the hostile server saw it.
#[derive(Debug, Clone)]
struct Seen {
    target: String,
    token: String,
}

type Reply = (u16, Vec<(String, String)>, String);
type Handler = Arc<dyn Fn(&Seen, &str) -> Reply + Send + Sync>;

/// A server on 127.0.0.1 that answers each request with `handler(request, base url)` and remembers every token it
/// was sent.
fn hostile_server(handler: Handler) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let tokens = Arc::new(Mutex::new(Vec::new()));
    let (base_for_thread, tokens_for_thread) = (base.clone(), tokens.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let (handler, base, tokens) = (
                handler.clone(),
                base_for_thread.clone(),
                tokens_for_thread.clone(),
            );
            std::thread::spawn(move || {
                loop {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        match stream.read(&mut byte) {
                            Ok(1) => head.push(byte[0]),
                            _ => return,
                        }
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let mut lines = head.lines();
                    let mut request_line = lines.next().unwrap_or_default().split(' ');
                    let _method = request_line.next();
                    let target = request_line.next().unwrap_or_default().to_owned();
                    let headers: Vec<&str> = lines.collect();
                    let token = headers
                        .iter()
                        .find_map(|l| {
                            let (name, value) = l.split_once(':')?;
                            name.eq_ignore_ascii_case("authorization")
                                .then(|| value.trim().trim_start_matches("Bearer ").to_owned())
                        })
                        .unwrap_or_default();
                    // A body (POST, PATCH, part PUTs) is read and dropped, so the next request head is found.
                    let length = headers
                        .iter()
                        .find_map(|l| {
                            let (name, value) = l.split_once(':')?;
                            name.eq_ignore_ascii_case("content-length")
                                .then(|| value.trim().parse::<u64>().ok())
                                .flatten()
                        })
                        .unwrap_or(0);
                    if std::io::copy(&mut (&mut stream).take(length), &mut std::io::sink()).is_err()
                    {
                        return;
                    }
                    tokens.lock().unwrap().push(token.clone());
                    let seen = Seen { target, token };
                    let (status, headers, body) = handler(&seen, &base);
                    let mut response = format!("HTTP/1.1 {status} X\r\n");
                    for (k, v) in headers {
                        response.push_str(&format!("{k}: {v}\r\n"));
                    }
                    response.push_str(&format!(
                        "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    ));
                    if stream.write_all(response.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (base, tokens)
}

fn parts(token: &str) -> (String, String, String) {
    let mut p = token.split('.').map(str::to_owned);
    (
        p.next().unwrap_or_default(),
        p.next().unwrap_or_default(),
        p.next().unwrap_or_default(),
    )
}

fn ok(doc: Value) -> Reply {
    (200, vec![], doc.to_string())
}

fn app_doc(id: &str, bundle_id: &str, extra: Value) -> Value {
    let mut doc = json!({"data":[{"type":"apps","id":id,"attributes":{"bundleId":bundle_id,"name":"x"}}],
        "links":{"self":"x"},"meta":{"paging":{"total":1,"limit":200}}});
    if let (Some(doc), Some(extra)) = (doc.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            doc.insert(k.clone(), v.clone());
        }
    }
    doc
}

/// The token echoed into one field each: `(case, handler)`.
fn hostile_cases() -> Vec<(&'static str, Handler)> {
    fn app_then(rest: fn(&Seen, &str) -> Reply) -> Handler {
        Arc::new(move |seen: &Seen, base: &str| {
            if seen.target.starts_with("/v1/apps?") {
                ok(app_doc("1", "com.example.demo", json!({})))
            } else {
                rest(seen, base)
            }
        })
    }
    let builds_then = |uploads: fn(&Seen) -> Value, builds: fn(&Seen) -> Value| -> Handler {
        Arc::new(move |seen: &Seen, _base: &str| {
            if seen.target.starts_with("/v1/apps?") {
                ok(app_doc("1", "com.example.demo", json!({})))
            } else if seen.target.contains("/buildUploads") {
                ok(uploads(seen))
            } else {
                ok(builds(seen))
            }
        })
    };
    let no_builds = |_: &Seen| json!({"data":[],"links":{"self":"x"}});
    vec![
        (
            "bundleId is the token (similar: …)",
            Arc::new(|seen: &Seen, _: &str| ok(app_doc("1", &seen.token, json!({})))),
        ),
        (
            "bundleId is the signature",
            Arc::new(|seen: &Seen, _: &str| ok(app_doc("1", &parts(&seen.token).2, json!({})))),
        ),
        (
            "name and id are token parts, app answers with the asked bundle id",
            Arc::new(|seen: &Seen, _: &str| {
                if seen.target.starts_with("/v1/apps?") {
                    ok(app_doc(
                        &parts(&seen.token).2,
                        "com.example.demo",
                        json!({}),
                    ))
                } else {
                    (404, vec![], json!({"errors":[{"status":"404","code":"NOT_FOUND","title":seen.token,"detail":format!("no {}", seen.target)}]}).to_string())
                }
            }),
        ),
        (
            "meta.paging.total is the token",
            Arc::new(|seen: &Seen, _: &str| {
                ok(app_doc(
                    "1",
                    "com.example.demo",
                    json!({"meta":{"paging":{"total":seen.token,"limit":200}}}),
                ))
            }),
        ),
        (
            "meta.paging.total is the signature",
            Arc::new(|seen: &Seen, _: &str| {
                ok(app_doc(
                    "1",
                    "com.example.demo",
                    json!({"meta":{"paging":{"total":parts(&seen.token).2,"limit":200}}}),
                ))
            }),
        ),
        (
            "same-host links.next whose path carries the token, then a 500",
            Arc::new(|seen: &Seen, base: &str| {
                if seen.target.starts_with("/v1/apps?") {
                    let (h, p, s) = parts(&seen.token);
                    ok(app_doc(
                        "1",
                        "x.other",
                        json!({"links":{"self":"x","next":format!("{base}/v1/{h}/{p}/{s}?cursor={s}")}}),
                    ))
                } else {
                    (500, vec![], format!("<html>{}</html>", seen.token))
                }
            }),
        ),
        (
            "same-host links.next with the signature in the path, then JSON that is not a document",
            Arc::new(|seen: &Seen, base: &str| {
                if seen.target.starts_with("/v1/apps?") {
                    let (_, _, s) = parts(&seen.token);
                    ok(app_doc(
                        "1",
                        "x.other",
                        json!({"links":{"self":"x","next":format!("{base}/v1/{s}")}}),
                    ))
                } else {
                    (200, vec![], json!({"data": seen.token}).to_string())
                }
            }),
        ),
        (
            "foreign links.next with the token split over two query parameters",
            Arc::new(|seen: &Seen, _: &str| {
                let (h, p, s) = parts(&seen.token);
                ok(app_doc(
                    "1",
                    "x.other",
                    json!({"links":{"self":"x","next":format!("https://evil.example/{s}?a={h}.{p}&b={s}")}}),
                ))
            }),
        ),
        (
            "error document fields are token parts",
            Arc::new(|seen: &Seen, _: &str| {
                let (h, p, s) = parts(&seen.token);
                (403, vec![], json!({"errors":[{"id":seen.token,"status":"403","code":s,"title":h,"detail":format!("Bearer {}", seen.token),
                    "source":{"parameter":p},"meta":{"associatedErrors":{(format!("/v1/{s}")):[{"status":"403","code":s,"title":h,"detail":p}]}}}]}).to_string())
            }),
        ),
        (
            "401 with the token in every field",
            Arc::new(|seen: &Seen, _: &str| {
                let (h, p, s) = parts(&seen.token);
                (401, vec![], json!({"errors":[{"status":"401","code":format!("NOT_AUTHORIZED.{s}"),"title":h,"detail":p}]}).to_string())
            }),
        ),
        (
            "HTML error page quoting the signature first",
            Arc::new(|seen: &Seen, _: &str| (502, vec![], parts(&seen.token).2)),
        ),
        (
            "a non-JSON 403 body that starts with the signature",
            Arc::new(|seen: &Seen, _: &str| {
                (
                    403,
                    vec![],
                    format!("{} {}", parts(&seen.token).2, seen.token),
                )
            }),
        ),
        (
            "redirect to a URL carrying the token",
            Arc::new(|seen: &Seen, _: &str| {
                let (_, _, s) = parts(&seen.token);
                (
                    302,
                    vec![(
                        "Location".into(),
                        format!("http://{s}.evil.example/{}", seen.token),
                    )],
                    String::new(),
                )
            }),
        ),
        (
            "429 whose Retry-After and errors are the token",
            Arc::new(|seen: &Seen, _: &str| {
                let (_, _, s) = parts(&seen.token);
                (429, vec![("Retry-After".into(), s.clone()), ("X-Rate-Limit".into(), seen.token.clone())],
                    json!({"errors":[{"status":"429","code":"RATE_LIMIT_EXCEEDED","title":s,"detail":seen.token}]}).to_string())
            }),
        ),
        (
            "upload and build values are the token and its parts",
            builds_then(
                |seen| {
                    let (h, p, s) = parts(&seen.token);
                    json!({"data":[
                        {"type":"buildUploads","id":s,"attributes":{"cfBundleVersion":seen.token,"cfBundleShortVersionString":h,"platform":"IOS","state":{"state":p}}},
                        {"type":"buildUploads","id":"u2","attributes":{"cfBundleVersion":"7","cfBundleShortVersionString":s,"platform":"IOS","state":{"state":seen.token}}},
                        {"type":"buildUploads","id":"u3","attributes":{"cfBundleVersion":s,"cfBundleShortVersionString":"1.0","platform":"IOS","state":{"state":"COMPLETE"}}}
                    ],"links":{"self":"x"}})
                },
                |seen| {
                    let (h, p, s) = parts(&seen.token);
                    json!({"data":[{"type":"builds","id":"b1","attributes":{"version":p,"processingState":seen.token,"expired":false},
                        "relationships":{"preReleaseVersion":{"data":{"type":"preReleaseVersions","id":"v1"}},"app":{"data":{"type":"apps","id":"1"}}}},
                        {"type":"builds","id":"b2","attributes":{"version":"8","processingState":s,"expired":false},
                        "relationships":{"preReleaseVersion":{"data":{"type":"preReleaseVersions","id":"v1"}}}}],
                        "included":[{"type":"preReleaseVersions","id":"v1","attributes":{"version":h,"platform":"IOS"}},
                                    {"type":"apps","id":"1","attributes":{"bundleId":s}}],
                        "links":{"self":"x"}})
                },
            ),
        ),
        (
            "builds listing: an error status quoting the token's parts",
            builds_then(no_builds, |seen| {
                let (h, p, s) = parts(&seen.token);
                json!({"data":[{"type":"builds","id":h,"attributes":{"version":{"nested":p}}}],"links":{"self":"x"},"meta":{"paging":{"total":s}}})
            }),
        ),
        (
            "app id in the path echoed by a 404",
            app_then(|seen, _| {
                (404, vec![], json!({"errors":[{"status":"404","code":"NOT_FOUND","title":"t","detail":format!("{} {}", seen.target, seen.token)}]}).to_string())
            }),
        ),
    ]
}

/// A hostile server echoes the token, and each of its three parts, into every field the client reads; nothing of
/// it reaches stdout or stderr, in text or JSON output, for `latest` and `next`, by bundle id and by app id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_hostile_server_echoing_the_token() {
    let material = Arc::new(Material::new());
    let dir = Arc::new(tempfile::tempdir().unwrap());
    // One task per case (each with its own server): the cases that retry with backoff wait in parallel.
    let mut cases = tokio::task::JoinSet::new();
    for (case, handler) in hostile_cases() {
        let (material, dir) = (material.clone(), dir.clone());
        cases.spawn(async move {
            let (base, tokens) = hostile_server(handler);
            let mut clean_runs = 0;
            for command in ["latest", "next"] {
                for app in [["--bundle-id", "com.example.demo"], ["--app-id", "1"]] {
                    for format in ["text", "json"] {
                        let mut env = asc_ids();
                        env.push(("ASC_PRIVATE_KEY".into(), material.pem().to_owned()));
                        env.push(("ASC_BASE_URL".into(), base.clone()));
                        let args = strings(&[
                            "build-number",
                            command,
                            app[0],
                            app[1],
                            "--format",
                            format,
                            "--timeout",
                            "20",
                        ]);
                        let out = run(args, env, dir.path()).await;
                        let mut forbidden = Forbidden::of(&material);
                        let seen = tokens.lock().unwrap().clone();
                        assert!(!seen.is_empty(), "{case}: the server saw no request");
                        for token in &seen {
                            forbidden.add(token);
                            let (h, p, s) = parts(token);
                            for part in [h, p, s] {
                                forbidden.add(&part);
                            }
                        }
                        let what = format!("{case} / {command} {} / {format}", app[0]);
                        if std::env::var_os("IPAGATE_SHOW_OUTPUT").is_some() {
                            eprintln!("{what}:\n  {}  {}", stdout(&out), stderr(&out));
                        }
                        forbidden.assert_clean(&what, &out);
                        clean_runs += 1;
                    }
                }
            }
            clean_runs
        });
    }
    let mut clean_runs = 0;
    while let Some(done) = cases.join_next().await {
        clean_runs += done.unwrap();
    }
    assert!(clean_runs >= 16 * 8, "{clean_runs}");
}

/// A server that drips its answer one byte at a time, or keeps answering 429 with a long `Retry-After`, cannot hold
/// the command past `--timeout` (before: 303 s and 476 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_slow_servers_end_within_the_timeout() {
    let material = Material::new();
    let dir = tempfile::tempdir().unwrap();
    // Dripping: a valid head, then one body byte every 500 ms.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let drip = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                let body = "{\"data\":[]".repeat(1000);
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                for b in body.bytes() {
                    if stream.write_all(&[b]).is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(500));
                }
            });
        }
    });
    let (retry, _) = hostile_server(Arc::new(|_: &Seen, _: &str| {
        (
            429,
            vec![("Retry-After".into(), "119".into())],
            json!({"errors":[{"status":"429","code":"RATE_LIMIT_EXCEEDED","title":"t"}]})
                .to_string(),
        )
    }));
    let (retry_short, _) = hostile_server(Arc::new(|_: &Seen, _: &str| {
        (
            503,
            vec![("Retry-After".into(), "2".into())],
            json!({"errors":[{"status":"503","code":"UNAVAILABLE","title":"t"}]}).to_string(),
        )
    }));
    for (what, base, expect) in [
        ("dripping server", drip, "within 3s"),
        ("Retry-After: 119", retry, "past the deadline"),
        ("Retry-After: 2 forever", retry_short, "past the deadline"),
    ] {
        let mut env = asc_ids();
        env.push(("ASC_PRIVATE_KEY".into(), material.pem().to_owned()));
        env.push(("ASC_BASE_URL".into(), base));
        let started = Instant::now();
        let out = run(
            strings(&["build-number", "latest", "--app-id", "1", "--timeout", "3"]),
            env,
            dir.path(),
        )
        .await;
        let took = started.elapsed();
        eprintln!("{what}: ended after {took:?}: {}", stderr(&out).trim());
        assert_eq!(out.status.code(), Some(2), "{what}");
        assert!(took < Duration::from_secs(8), "{what} took {took:?}");
        assert!(
            stderr(&out).contains(expect) || stderr(&out).contains("within 3s"),
            "{what}: {}",
            stderr(&out)
        );
        assert_eq!(stderr(&out).lines().count(), 1, "{what}: {}", stderr(&out));
    }
    // The default is stated in the help.
    let out = Command::new(bin())
        .args(["build-number", "latest", "--help"])
        .output()
        .unwrap();
    assert!(stdout(&out).contains("--timeout <SECS>") && stdout(&out).contains("[default: 120]"));
}

/// Key paths that are not regular files are refused at once, never read without end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_key_paths_that_are_not_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut paths: Vec<PathBuf> = vec![
        "/dev/zero".into(),
        "/dev/urandom".into(),
        dir.path().to_owned(),
    ];
    #[cfg(unix)]
    {
        let fifo = dir.path().join("fifo");
        let status = Command::new("mkfifo").arg(&fifo).status();
        if status.is_ok_and(|s| s.success()) {
            paths.push(fifo);
        }
    }
    let big = dir.path().join("big.p8");
    std::fs::write(&big, vec![b'A'; 70 * 1024]).unwrap();
    paths.push(big);
    for path in paths {
        let path = path.display().to_string();
        for (args, env) in [
            (strings(&["--private-key-path", &path]), vec![]),
            (
                vec![],
                vec![("ASC_PRIVATE_KEY_PATH".to_string(), path.clone())],
            ),
            (
                strings(&["--private-key", &format!("@file:{path}")]),
                vec![],
            ),
            (strings(&["--api-key-path", &path]), vec![]),
            (
                vec![],
                vec![(
                    "APP_STORE_CONNECT_API_KEY_KEY_FILEPATH".to_string(),
                    path.clone(),
                )],
            ),
        ] {
            let mut env = env;
            env.extend(asc_ids());
            env.push(("ASC_BASE_URL".into(), "http://127.0.0.1:9".into()));
            let mut all = strings(&["build-number", "latest", "--app-id", "1"]);
            all.extend(args);
            let started = Instant::now();
            let out = run(all, env, dir.path()).await;
            assert!(started.elapsed() < Duration::from_secs(5), "{path}");
            assert_eq!(out.status.code(), Some(2), "{path}");
            let err = stderr(&out);
            assert!(
                err.contains("not a regular file")
                    || err.contains("directory")
                    || err.contains("too large"),
                "{path}: {err}"
            );
        }
    }
}

/// Kills a child even when an assertion fails.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `sandbox --addr 0.0.0.0:0` warns that it is reachable from other machines and shows the address really bound;
/// on 127.0.0.1 it does not warn.
#[test]
fn secrets_sandbox_warns_when_not_on_loopback() {
    use std::io::BufRead;
    for (addr, warns) in [("0.0.0.0:0", true), ("127.0.0.1:0", false)] {
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new(bin())
            .args(["sandbox", "--addr", addr, "--generate-key"])
            .arg(dir.path())
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut child = Killed(child);
        let mut banner = String::new();
        std::io::BufReader::new(child.0.stdout.take().unwrap())
            .read_line(&mut banner)
            .unwrap();
        let banner: Value = serde_json::from_str(&banner).unwrap();
        let listen = banner["listen_addr"].as_str().unwrap().to_owned();
        assert!(listen.starts_with(&addr[..addr.len() - 1]), "{listen}");
        assert!(!listen.ends_with(":0"), "{listen}");
        assert!(
            banner["base_url"]
                .as_str()
                .unwrap()
                .starts_with("http://127.0.0.1:")
        );
        let mut first = String::new();
        std::io::BufReader::new(child.0.stderr.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert_eq!(
            first.contains("warning: the sandbox listens on 0.0.0.0:"),
            warns,
            "{first}"
        );
        if !warns {
            assert!(first.contains(&format!("listening on {listen}")), "{first}");
        }
    }
}

/// The sandbox's own files (public key, seed, fault plan) are bounded the same way.
#[test]
fn secrets_sandbox_files_that_are_not_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().display().to_string();
    for args in [
        vec!["sandbox", "--key-id", "ABC", "--public-key", "/dev/zero"],
        vec!["sandbox", "--generate-key", &keys, "--seed", "/dev/zero"],
        vec![
            "sandbox",
            "--generate-key",
            &keys,
            "--faults",
            "/dev/urandom",
        ],
    ] {
        let out = crate::support::ipagate_within(&args, Duration::from_secs(10));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&out).contains("not a regular file"),
            "{}",
            stderr(&out)
        );
    }
}

/// `upload` against a server that echoes the token into everything the flow reads after the upload (the upload's
/// state errors and warnings, the file's delivery errors): no piece of the key or the token reaches stdout, stderr,
/// the progress lines or the journal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_upload_with_a_server_echoing_the_token() {
    let material = Material::new();
    let dir = tempfile::tempdir().unwrap();
    let ipa = dir.path().join("Demo.ipa");
    ipagate_fixtures::Ipa::app("Demo", "com.example.demo")
        .version("1.2.3", "42")
        .write_to(&ipa)
        .unwrap();
    let (base, tokens) = hostile_server(Arc::new(|seen: &Seen, base: &str| {
        let t = seen.token.clone();
        let path = seen.target.split('?').next().unwrap_or_default().to_owned();
        let echoed = json!([{"code": t.clone(), "description": format!("rejected {t}")}]);
        match path.as_str() {
            "/v1/apps" => ok(app_doc("1", "com.example.demo", json!({}))),
            "/v1/buildUploads" => (
                201,
                vec![],
                json!({"data": {"type": "buildUploads", "id": "U1",
                    "attributes": {"state": {"state": "AWAITING_UPLOAD"}}}})
                .to_string(),
            ),
            "/v1/buildUploads/U1" => {
                // Each run reads it twice: awaiting the upload after the create, failed after the commit.
                let n = U1_GETS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let state = if n.is_multiple_of(2) { "AWAITING_UPLOAD" } else { "FAILED" };
                ok(json!({"data": {"type": "buildUploads", "id": "U1",
                    "attributes": {"state": {"state": state, "errors": echoed,
                        "warnings": [{"code": "W", "description": format!("warned {t}")}]}}}}))
            }
            "/v1/buildUploadFiles" | "/v1/buildUploadFiles/F1" => {
                (
                    if path.ends_with("F1") { 200 } else { 201 },
                    vec![],
                    json!({"data": {"type": "buildUploadFiles", "id": "F1", "attributes": {
                        "assetDeliveryState": {"state": "COMPLETE", "errors": echoed},
                        "uploadOperations": [{"method": "PUT", "url": format!("{base}/part/1?sig={t}"),
                            "offset": 0, "length": PART_LEN.load(std::sync::atomic::Ordering::Relaxed),
                            "partNumber": 1}]}}})
                    .to_string(),
                )
            }
            _ => (200, vec![], String::new()),
        }
    }));
    PART_LEN.store(
        std::fs::metadata(&ipa).unwrap().len(),
        std::sync::atomic::Ordering::Relaxed,
    );
    let mut env = asc_ids();
    env.push(("ASC_PRIVATE_KEY".into(), material.pem().to_owned()));
    env.push(("ASC_BASE_URL".into(), base));
    for format in ["human", "json"] {
        let state = dir.path().join(format!("state-{format}"));
        let args = vec![
            "upload".to_owned(),
            ipa.display().to_string(),
            "--format".into(),
            format.into(),
            "--progress".into(),
            "json".into(),
            "--state-dir".into(),
            state.display().to_string(),
            "--poll-interval-ms".into(),
            "5".into(),
        ];
        let out = run(args, env.clone(), dir.path()).await;
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let mut forbidden = Forbidden::of(&material);
        let seen = tokens.lock().unwrap().clone();
        for token in seen.iter().filter(|t| !t.is_empty()) {
            forbidden.add(token);
            let (h, p, s) = parts(token);
            for part in [h, p, s] {
                forbidden.add(&part);
            }
        }
        forbidden.assert_clean(&format!("upload --format {format}"), &out);
        // The journal too.
        let journal = std::fs::read_dir(&state)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| std::fs::read(e.path()).unwrap())
            .next()
            .unwrap();
        forbidden.assert_clean(
            &format!("journal ({format})"),
            &Output {
                status: out.status,
                stdout: journal,
                stderr: Vec::new(),
            },
        );
        assert!(stdout(&out).contains("U1"), "{}", stdout(&out));
        // The echoed diagnostics were printed (redacted), so the check above had something to catch.
        assert!(stdout(&out).contains("rejected "), "{}", stdout(&out));
        assert!(stdout(&out).contains("warned "), "{}", stdout(&out));
        assert!(
            stderr(&out).contains("\"event\":\"part_sent\""),
            "the part was never sent: {}",
            stderr(&out)
        );
    }
}

static U1_GETS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static PART_LEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// `publish` against a server that echoes the token into what its online gate reads and prints (the app's primary
/// locale, the TestFlight group names it lists when one is unknown, the version strings): refused (exit 1) with the
/// echoed text redacted, nothing changed, no piece of the key or the token on stdout or stderr.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_publish_with_a_server_echoing_the_token() {
    let material = Material::new();
    let dir = tempfile::tempdir().unwrap();
    let ipa = dir.path().join("Demo.ipa");
    ipagate_fixtures::Ipa::app("Demo", "com.example.demo")
        .version("1.2.3", "42")
        .write_to(&ipa)
        .unwrap();
    let (base, tokens) = hostile_server(Arc::new(|seen: &Seen, _base: &str| {
        let t = seen.token.clone();
        let path = seen.target.split('?').next().unwrap_or_default().to_owned();
        let page = |data: Value| {
            ok(
                json!({"data": data, "links": {"self": "x"}, "meta": {"paging": {"total": 1, "limit": 200}}}),
            )
        };
        match path.as_str() {
            "/v1/apps" => ok(app_doc("1", "com.example.demo", json!({}))),
            "/v1/apps/1" => ok(json!({"data": {"type": "apps", "id": "1",
                "attributes": {"bundleId": "com.example.demo", "primaryLocale": t}}})),
            "/v1/builds" | "/v1/apps/1/buildUploads" | "/v1/apps/1/appStoreVersions" => {
                page(json!([]))
            }
            "/v1/betaGroups" => page(json!([{"type": "betaGroups", "id": "g1",
                "attributes": {"name": format!("group {t}"), "isInternalGroup": true}}])),
            _ => (404, vec![], format!("no {t}")),
        }
    }));
    let mut env = asc_ids();
    env.push(("ASC_PRIVATE_KEY".into(), material.pem().to_owned()));
    env.push(("ASC_BASE_URL".into(), base));
    for format in ["human", "json"] {
        let args = strings(&[
            "publish",
            &ipa.display().to_string(),
            "--skip-preflight",
            "--beta-group",
            "Nope",
            "--format",
            format,
            "--progress",
            "json",
        ]);
        let out = run(args, env.clone(), dir.path()).await;
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let mut forbidden = Forbidden::of(&material);
        for token in tokens.lock().unwrap().iter().filter(|t| !t.is_empty()) {
            forbidden.add(token);
            let (h, p, s) = parts(token);
            for part in [h, p, s] {
                forbidden.add(&part);
            }
        }
        forbidden.assert_clean(&format!("publish --format {format}"), &out);
        // The echoed group name was printed (redacted), so the check above had something to catch.
        assert!(stdout(&out).contains("group "), "{}", stdout(&out));
        assert!(stdout(&out).contains("ASC-BETA-GROUP"), "{}", stdout(&out));
    }
}
