//! Keys, tokens and credential lookup (offline).

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use common::{ManualClock, key};
use ipagate_asc::credentials::{
    CredentialError, CredentialFlags, CredentialWarning, Environment, Origin, resolve,
};
use ipagate_asc::{ApiKey, Issuer, KeyError, PrivateKey, TokenProvider};

const ISSUER: &str = "11111111-2222-3333-4444-555555555555";

fn claims(token: &str) -> (serde_json::Value, serde_json::Value) {
    let mut parts = token.split('.');
    let decode = |p: &str| {
        serde_json::from_slice::<serde_json::Value>(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .unwrap(),
        )
        .unwrap()
    };
    let header = decode(parts.next().unwrap());
    let payload = decode(parts.next().unwrap());
    assert_eq!(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts.next().unwrap())
            .unwrap()
            .len(),
        64,
        "raw r||s"
    );
    (header, payload)
}

#[test]
fn team_and_individual_claims() {
    let pair = key("CLAIMS0001");
    let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_800_000_000));
    let team = ApiKey::new(
        &pair.key_id,
        Issuer::Team(ISSUER.into()),
        PrivateKey::from_pem(&pair.private_pkcs8_pem).unwrap(),
    )
    .unwrap();
    let provider = TokenProvider::with_clock(team, clock.clone());
    let (header, payload) = claims(provider.token().unwrap().expose());
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["kid"], "CLAIMS0001");
    assert_eq!(header["typ"], "JWT");
    assert_eq!(payload["iss"], ISSUER);
    assert!(payload.get("sub").is_none());
    assert_eq!(payload["aud"], "appstoreconnect-v1");
    assert_eq!(payload["iat"], 1_800_000_000u64 - 60);
    let exp = payload["exp"].as_u64().unwrap();
    assert!(
        exp - 1_800_000_000 <= 15 * 60 && exp - 1_800_000_000 >= 10 * 60,
        "{exp}"
    );

    let individual = ApiKey::new(
        &pair.key_id,
        Issuer::Individual,
        PrivateKey::from_pem(&pair.private_pkcs8_pem).unwrap(),
    )
    .unwrap();
    let provider = TokenProvider::with_clock(individual, clock);
    let (_, payload) = claims(provider.token().unwrap().expose());
    assert_eq!(payload["sub"], "user");
    assert!(payload.get("iss").is_none());
}

#[test]
fn token_is_cached_then_reminted_before_expiry() {
    let pair = key("CACHE00001");
    let clock = ManualClock::new(SystemTime::now());
    let provider = TokenProvider::with_clock(common::api_key(&pair, ISSUER), clock.clone());
    let first = provider.token().unwrap();
    clock.advance(Duration::from_secs(10 * 60));
    assert_eq!(provider.token().unwrap(), first);
    assert_eq!(provider.minted(), 1);
    clock.advance(Duration::from_secs(4 * 60 + 30)); // 30 s left: inside the refresh margin
    let second = provider.token().unwrap();
    assert_ne!(second, first);
    assert_eq!(provider.minted(), 2);
    provider.invalidate(&first); // stale invalidation does not drop the new token
    assert_eq!(provider.token().unwrap(), second);
    provider.invalidate(&second);
    assert_ne!(provider.token().unwrap(), second);
}

#[test]
fn lifetime_is_clamped_under_twenty_minutes() {
    let pair = key("CLAMP00001");
    let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_800_000_000));
    let mut provider = TokenProvider::with_clock(common::api_key(&pair, ISSUER), clock);
    provider.set_lifetime(Duration::from_secs(3600));
    let (_, payload) = claims(provider.token().unwrap().expose());
    assert!(payload["exp"].as_u64().unwrap() - 1_800_000_000 < 20 * 60);
}

fn ed25519_pem() -> String {
    let mut der = hex_bytes("302e020100300506032b657004220420");
    der.extend((0..32u8).map(|i| i.wrapping_mul(37).wrapping_add(11)));
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n")
}

fn hex_bytes(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn bad_keys_are_explained() {
    assert!(matches!(
        PrivateKey::from_pem("hello"),
        Err(KeyError::NotPem)
    ));
    let garbage = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    assert!(matches!(
        PrivateKey::from_pem(garbage),
        Err(KeyError::NotEs256)
    ));
    assert!(matches!(
        PrivateKey::from_pem(&ed25519_pem()),
        Err(KeyError::NotEs256)
    ));
    let sec1 = "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n";
    let err = PrivateKey::from_pem(sec1).unwrap_err();
    assert!(err.to_string().contains("openssl pkcs8 -topk8"), "{err}");
    let rsa = "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n";
    assert!(matches!(
        PrivateKey::from_pem(rsa),
        Err(KeyError::WrongPemLabel { .. })
    ));
    let pair = key("BADID00001");
    let pk = PrivateKey::from_pem(&pair.private_pkcs8_pem).unwrap();
    assert!(matches!(
        ApiKey::new("bad id!", Issuer::Individual, pk.clone()),
        Err(KeyError::BadKeyId { .. })
    ));
    assert!(matches!(
        ApiKey::new("ABC", Issuer::Team(" ".into()), pk),
        Err(KeyError::EmptyIssuer)
    ));
}

struct FakeEnv {
    vars: HashMap<String, String>,
    home: PathBuf,
    cwd: PathBuf,
}

impl Environment for FakeEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }
    fn home_dir(&self) -> Option<PathBuf> {
        Some(self.home.clone())
    }
    fn current_dir(&self) -> Option<PathBuf> {
        Some(self.cwd.clone())
    }
}

fn env(dir: &Path, vars: &[(&str, &str)]) -> FakeEnv {
    std::fs::create_dir_all(dir.join("home")).unwrap();
    std::fs::create_dir_all(dir.join("cwd")).unwrap();
    FakeEnv {
        vars: vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        home: dir.join("home"),
        cwd: dir.join("cwd"),
    }
}

fn write_private(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

#[test]
fn flags_beat_env_beat_json_beat_key_dirs() {
    let dir = tempfile::tempdir().unwrap();
    let a = key("AAAAAAAAAA");
    let b = key("BBBBBBBBBB");
    let json = dir.path().join("fastlane.json");
    write_private(
        &json,
        &serde_json::json!({"key_id": "JSONKEY001", "issuer_id": "json-issuer", "key": b.private_pkcs8_pem}).to_string(),
    );
    let e = env(
        dir.path(),
        &[
            ("APP_STORE_CONNECT_KEY_IDENTIFIER", "ENVKEY0001"),
            ("ASC_KEY_ID", "ASCKEY0001"),
            ("APP_STORE_CONNECT_ISSUER_ID", "@env:MY_ISSUER"),
            ("MY_ISSUER", "env-issuer"),
            ("ASC_PRIVATE_KEY", &a.private_pkcs8_pem),
        ],
    );
    let flags = CredentialFlags {
        key_id: Some("FLAGKEY001".into()),
        api_key_path: Some(json.clone()),
        ..Default::default()
    };
    let r = resolve(&flags, &e).unwrap();
    assert_eq!(r.key.key_id(), "FLAGKEY001");
    assert_eq!(r.key_id_origin, Origin::Flag("--key-id"));
    assert_eq!(r.key.issuer(), &Issuer::Team("env-issuer".into()));
    assert_eq!(r.issuer_origin, Some(Origin::Env("MY_ISSUER".into())));
    assert_eq!(r.private_key_origin, Origin::Env("ASC_PRIVATE_KEY".into()));

    // Without env, the JSON file supplies everything.
    let e = env(dir.path(), &[]);
    let r = resolve(
        &CredentialFlags {
            api_key_path: Some(json.clone()),
            ..Default::default()
        },
        &e,
    )
    .unwrap();
    assert_eq!(r.key.key_id(), "JSONKEY001");
    assert_eq!(r.key.issuer(), &Issuer::Team("json-issuer".into()));
    assert_eq!(r.private_key_origin, Origin::File(json));

    // ASC_* names, key found in ~/.appstoreconnect/private_keys.
    let p8 = dir
        .path()
        .join("home/.appstoreconnect/private_keys/AuthKey_ASCKEY0001.p8");
    write_private(&p8, &a.private_pkcs8_pem);
    let e = env(
        dir.path(),
        &[("ASC_KEY_ID", "ASCKEY0001"), ("ASC_ISSUER_ID", ISSUER)],
    );
    let r = resolve(&CredentialFlags::default(), &e).unwrap();
    assert_eq!(r.private_key_origin, Origin::File(p8.clone()));
    assert!(r.warnings.is_empty());

    // ./private_keys comes before the home directories.
    let local = dir.path().join("cwd/private_keys/AuthKey_ASCKEY0001.p8");
    write_private(&local, &b.private_pkcs8_pem);
    let r = resolve(&CredentialFlags::default(), &e).unwrap();
    assert_eq!(r.private_key_origin, Origin::File(local));

    // codemagic's @file: indirection, and ASC_PRIVATE_KEY_PATH.
    let e = env(
        dir.path(),
        &[
            ("APP_STORE_CONNECT_KEY_IDENTIFIER", "ASCKEY0001"),
            ("ASC_ISSUER_ID", ISSUER),
            (
                "APP_STORE_CONNECT_PRIVATE_KEY",
                &format!("@file:{}", p8.display()),
            ),
        ],
    );
    assert_eq!(
        resolve(&CredentialFlags::default(), &e)
            .unwrap()
            .private_key_origin,
        Origin::File(p8.clone())
    );
    let e = env(
        dir.path(),
        &[
            ("ASC_KEY_ID", "ASCKEY0001"),
            ("ASC_ISSUER_ID", ISSUER),
            ("ASC_PRIVATE_KEY_PATH", &p8.display().to_string()),
        ],
    );
    assert_eq!(
        resolve(&CredentialFlags::default(), &e)
            .unwrap()
            .private_key_origin,
        Origin::File(p8)
    );
}

#[test]
fn escaped_newlines_in_env_keys_work() {
    let dir = tempfile::tempdir().unwrap();
    let a = key("ESCAPED001");
    let escaped = a.private_pkcs8_pem.trim().replace('\n', "\\n");
    let e = env(
        dir.path(),
        &[
            ("ASC_KEY_ID", "ESCAPED001"),
            ("ASC_ISSUER_ID", ISSUER),
            ("ASC_PRIVATE_KEY", &escaped),
        ],
    );
    assert!(resolve(&CredentialFlags::default(), &e).is_ok());
}

#[test]
fn missing_pieces_and_bad_keys_never_echo_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let a = key("MISSING001");
    let e = env(dir.path(), &[("ASC_PRIVATE_KEY", &a.private_pkcs8_pem)]);
    assert!(matches!(
        resolve(&CredentialFlags::default(), &e),
        Err(CredentialError::MissingKeyId)
    ));
    let e = env(
        dir.path(),
        &[
            ("ASC_KEY_ID", "MISSING001"),
            ("ASC_PRIVATE_KEY", &a.private_pkcs8_pem),
        ],
    );
    let err = resolve(&CredentialFlags::default(), &e).unwrap_err();
    assert!(matches!(err, CredentialError::MissingIssuer), "{err}");
    // An individual key needs no issuer.
    let ok = resolve(
        &CredentialFlags {
            individual: true,
            ..Default::default()
        },
        &e,
    )
    .unwrap();
    assert_eq!(ok.key.issuer(), &Issuer::Individual);
    let e = env(
        dir.path(),
        &[("ASC_KEY_ID", "MISSING001"), ("ASC_ISSUER_ID", ISSUER)],
    );
    let err = resolve(&CredentialFlags::default(), &e).unwrap_err();
    assert!(err.to_string().contains("AuthKey_MISSING001.p8"), "{err}");
    // A corrupted key: the error names the source, not the content.
    let broken = a
        .private_pkcs8_pem
        .replace(&a.private_pkcs8_pem[40..60], "AAAAAAAAAAAAAAAAAAAA");
    let e = env(
        dir.path(),
        &[
            ("ASC_KEY_ID", "MISSING001"),
            ("ASC_ISSUER_ID", ISSUER),
            ("ASC_PRIVATE_KEY", &broken),
        ],
    );
    let err = resolve(&CredentialFlags::default(), &e).unwrap_err();
    let text = format!(
        "{err} {err:?} {}",
        std::error::Error::source(&err)
            .map(|s| s.to_string())
            .unwrap_or_default()
    );
    assert!(text.contains("$ASC_PRIVATE_KEY"), "{text}");
    for line in broken.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!text.contains(line), "{text}");
    }
    let e = env(
        dir.path(),
        &[
            ("ASC_KEY_ID", "MISSING001"),
            ("ASC_ISSUER_ID", ISSUER),
            ("APP_STORE_CONNECT_PRIVATE_KEY", "@env:NOPE"),
        ],
    );
    assert!(matches!(
        resolve(&CredentialFlags::default(), &e),
        Err(CredentialError::UnsetIndirection { .. })
    ));
    let flags = CredentialFlags {
        private_key: Some(a.private_pkcs8_pem.clone()),
        ..Default::default()
    };
    assert!(!format!("{flags:?}").contains(&a.private_pkcs8_pem[30..60]));
}

/// Display, Debug and every source of `err`, as one text.
fn all_text(err: &dyn std::error::Error) -> String {
    let mut text = format!("{err} {err:?}");
    let mut cause = err.source();
    while let Some(c) = cause {
        text.push_str(&format!(" {c} {c:?}"));
        cause = c.source();
    }
    text
}

fn assert_no_key_material(text: &str, pem: &str) {
    for line in pem
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() > 8)
    {
        assert!(!text.contains(line), "key material in: {text}");
        assert!(!text.contains(&line[..16]), "part of the key in: {text}");
    }
    assert!(!text.contains("eyJ"), "a JWT in: {text}");
    assert!(
        !text.contains("BEGIN PRIVATE KEY"),
        "a PEM header in: {text}"
    );
}

/// Regression: a key id or issuer id read from the wrong variable or `@file:` (the .p8 itself) was echoed whole in
/// the error, and the message blamed the private key.
#[test]
fn misplaced_ids_are_described_never_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let a = key("SWAPPED001");
    let pem = a.private_pkcs8_pem.as_str();
    let p8 = dir.path().join("AuthKey_SWAPPED001.p8");
    write_private(&p8, pem);
    let at_file = format!("@file:{}", p8.display());
    let jwt = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl";

    type Case<'a> = (
        &'a str,
        Vec<(&'a str, &'a str)>,
        CredentialFlags,
        &'a str,
        &'a str,
    );
    let cases: Vec<Case<'_>> = vec![
        (
            "key id and private key env vars swapped",
            vec![
                ("APP_STORE_CONNECT_KEY_IDENTIFIER", pem),
                ("APP_STORE_CONNECT_ISSUER_ID", ISSUER),
                ("APP_STORE_CONNECT_PRIVATE_KEY", "SWAPPED001"),
            ],
            CredentialFlags::default(),
            "key id from $APP_STORE_CONNECT_KEY_IDENTIFIER",
            "looks like a PEM key",
        ),
        (
            "key id holds the key and no private key is set (was MissingPrivateKey quoting it)",
            vec![("ASC_KEY_ID", pem), ("ASC_ISSUER_ID", ISSUER)],
            CredentialFlags::default(),
            "key id from $ASC_KEY_ID",
            "looks like a PEM key",
        ),
        (
            "issuer id and private key env vars swapped",
            vec![
                ("APP_STORE_CONNECT_KEY_IDENTIFIER", "SWAPPED001"),
                ("APP_STORE_CONNECT_ISSUER_ID", pem),
                ("APP_STORE_CONNECT_PRIVATE_KEY", ISSUER),
            ],
            CredentialFlags::default(),
            "issuer id from $APP_STORE_CONNECT_ISSUER_ID",
            "looks like a PEM key",
        ),
        (
            "--key-id @file: the .p8",
            vec![("ASC_ISSUER_ID", ISSUER), ("ASC_PRIVATE_KEY", pem)],
            CredentialFlags {
                key_id: Some(at_file.clone()),
                ..Default::default()
            },
            "key id from ",
            "looks like a PEM key",
        ),
        (
            "--issuer-id @file: the .p8",
            vec![("ASC_KEY_ID", "SWAPPED001"), ("ASC_PRIVATE_KEY", pem)],
            CredentialFlags {
                issuer_id: Some(at_file.clone()),
                ..Default::default()
            },
            "issuer id from ",
            "looks like a PEM key",
        ),
        (
            "APP_STORE_CONNECT_ISSUER_ID=@file: the .p8",
            vec![
                ("ASC_KEY_ID", "SWAPPED001"),
                ("APP_STORE_CONNECT_ISSUER_ID", &at_file),
                ("ASC_PRIVATE_KEY", pem),
            ],
            CredentialFlags::default(),
            "issuer id from ",
            "looks like a PEM key",
        ),
        (
            "a token pasted as issuer id",
            vec![
                ("ASC_KEY_ID", "SWAPPED001"),
                ("ASC_ISSUER_ID", jwt),
                ("ASC_PRIVATE_KEY", pem),
            ],
            CredentialFlags::default(),
            "issuer id from $ASC_ISSUER_ID",
            "looks like a JSON web token",
        ),
    ];
    for (what, vars, flags, origin, shape) in cases {
        let e = env(dir.path(), &vars);
        let err = resolve(&flags, &e).expect_err(what);
        let text = all_text(&err);
        assert_no_key_material(&text, pem);
        assert!(!text.contains(jwt), "{what}: {text}");
        assert!(
            text.contains(origin),
            "{what}: expected {origin:?} in {text}"
        );
        assert!(text.contains(shape), "{what}: expected {shape:?} in {text}");
        assert!(
            !text.contains("private key from"),
            "{what}: a bad id blamed on the private key: {text}"
        );
        if origin.ends_with("from ") {
            assert!(text.contains(&p8.display().to_string()), "{what}: {text}");
        }
        // Debug of the flags never shows the misplaced key either.
        assert_no_key_material(&format!("{flags:?}"), pem);
    }
    let flags = CredentialFlags {
        key_id: Some(pem.to_owned()),
        issuer_id: Some(pem.to_owned()),
        ..Default::default()
    };
    assert_no_key_material(&format!("{flags:?}"), pem);

    // The library errors alone.
    let pk = PrivateKey::from_pem(pem).unwrap();
    let err = ApiKey::new(pem, Issuer::Individual, pk.clone()).unwrap_err();
    assert!(matches!(err, KeyError::BadKeyId { .. }));
    assert_no_key_material(&all_text(&err), pem);
    let err = ApiKey::new("SWAPPED001", Issuer::Team(pem.to_owned()), pk.clone()).unwrap_err();
    assert!(matches!(err, KeyError::BadIssuerId { .. }));
    assert_no_key_material(&all_text(&err), pem);
    let err = ApiKey::new("SWAPPED001", Issuer::Team(jwt.to_owned()), pk).unwrap_err();
    assert!(!all_text(&err).contains("eyJ"));
}

#[cfg(unix)]
#[test]
fn world_readable_key_file_draws_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let a = key("WORLDREAD1");
    let p8 = dir.path().join("AuthKey_WORLDREAD1.p8");
    write_private(&p8, &a.private_pkcs8_pem);
    std::fs::set_permissions(&p8, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = env(
        dir.path(),
        &[("ASC_KEY_ID", "WORLDREAD1"), ("ASC_ISSUER_ID", ISSUER)],
    );
    let r = resolve(
        &CredentialFlags {
            private_key_path: Some(p8.clone()),
            ..Default::default()
        },
        &e,
    )
    .unwrap();
    assert_eq!(
        r.warnings,
        vec![CredentialWarning::KeyFileReadableByOthers {
            path: p8,
            mode: 0o100644
        }]
    );
    assert!(r.warnings[0].to_string().contains("chmod 600"));
}

#[test]
fn fastlane_json_without_issuer_is_an_individual_key_and_in_house_changes_audience() {
    let dir = tempfile::tempdir().unwrap();
    let a = key("FASTLANE01");
    let json = dir.path().join("key.json");
    let b64 = base64::engine::general_purpose::STANDARD.encode(&a.private_pkcs8_pem);
    write_private(&json, &serde_json::json!({"key_id": "FASTLANE01", "key": b64, "is_key_content_base64": true, "in_house": true}).to_string());
    let e = env(dir.path(), &[]);
    let r = resolve(
        &CredentialFlags {
            api_key_path: Some(json.clone()),
            ..Default::default()
        },
        &e,
    )
    .unwrap();
    assert_eq!(r.key.issuer(), &Issuer::Individual);
    let provider = TokenProvider::with_clock(r.key, Arc::new(ipagate_asc::SystemClock));
    let (_, payload) = claims(provider.token().unwrap().expose());
    assert_eq!(payload["aud"], "apple-developer-enterprise-v1");
    write_private(&json, "{\"key_id\": ");
    let err = resolve(
        &CredentialFlags {
            api_key_path: Some(json),
            ..Default::default()
        },
        &e,
    )
    .unwrap_err();
    assert!(
        matches!(err, CredentialError::BadApiKeyJson { .. }),
        "{err}"
    );
}

/// fastlane's and the Go `asc` CLI's variables, in the documented order: codemagic, then `ASC_*` (PEM, then B64,
/// then path), then fastlane's (content, then file path); fastlane's in-house flag and its individual-key rule.
#[test]
fn fastlane_and_asc_b64_variables_in_their_place() {
    let dir = tempfile::tempdir().unwrap();
    let a = key("ORDERKEY01");
    let pem = a.private_pkcs8_pem.as_str();
    let b64 = base64::engine::general_purpose::STANDARD.encode(pem);
    let file = dir.path().join("k.p8");
    write_private(&file, pem);
    let file = file.display().to_string();
    let origin = |vars: &[(&str, &str)]| {
        let r = resolve(&CredentialFlags::default(), &env(dir.path(), vars)).unwrap();
        r.private_key_origin.to_string()
    };
    let ids = [
        ("ASC_KEY_ID", "ORDERKEY01"),
        ("ASC_ISSUER_ID", "57246542-96fe-1a63-e053-0824d011072a"),
    ];
    let with = |extra: &[(&'static str, &str)]| {
        let mut v: Vec<(&str, String)> = ids.iter().map(|(k, v)| (*k, v.to_string())).collect();
        v.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        v
    };
    let run = |vars: Vec<(&str, String)>| {
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        origin(&vars)
    };
    assert_eq!(
        run(with(&[
            ("ASC_PRIVATE_KEY", pem),
            ("ASC_PRIVATE_KEY_B64", "!!")
        ])),
        "$ASC_PRIVATE_KEY"
    );
    assert_eq!(
        run(with(&[
            ("ASC_PRIVATE_KEY_B64", &b64),
            ("ASC_PRIVATE_KEY_PATH", "/nowhere")
        ])),
        "$ASC_PRIVATE_KEY_B64"
    );
    assert_eq!(
        run(with(&[
            ("ASC_PRIVATE_KEY_PATH", &file),
            ("APP_STORE_CONNECT_API_KEY_KEY", "x")
        ])),
        file
    );
    assert_eq!(
        run(with(&[
            ("APP_STORE_CONNECT_API_KEY_KEY", &b64),
            ("APP_STORE_CONNECT_API_KEY_IS_KEY_CONTENT_BASE64", "true"),
            ("APP_STORE_CONNECT_API_KEY_KEY_FILEPATH", "/nowhere"),
        ])),
        "$APP_STORE_CONNECT_API_KEY_KEY"
    );
    assert_eq!(
        run(with(&[("APP_STORE_CONNECT_API_KEY_KEY_FILEPATH", &file)])),
        file
    );
    // A bad base64 names the variable, never its content.
    let err = resolve(
        &CredentialFlags::default(),
        &env(
            dir.path(),
            &[
                ids[0],
                ids[1],
                ("ASC_PRIVATE_KEY_B64", "not base64 at all!"),
            ],
        ),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "$ASC_PRIVATE_KEY_B64 is not valid base64 text (not base64)"
    );

    // fastlane only: ids from its names, in-house audience, no issuer = individual key.
    let e = env(
        dir.path(),
        &[
            ("APP_STORE_CONNECT_API_KEY_KEY_ID", "ORDERKEY01"),
            ("APP_STORE_CONNECT_API_KEY_KEY", pem),
            ("APP_STORE_CONNECT_API_KEY_IN_HOUSE", "true"),
        ],
    );
    let r = resolve(&CredentialFlags::default(), &e).unwrap();
    assert_eq!(r.key.issuer(), &Issuer::Individual);
    assert_eq!(
        r.key_id_origin.to_string(),
        "$APP_STORE_CONNECT_API_KEY_KEY_ID"
    );
    let provider = TokenProvider::with_clock(r.key, Arc::new(ipagate_asc::SystemClock));
    let (_, payload) = claims(provider.token().unwrap().expose());
    assert_eq!(payload["aud"], "apple-developer-enterprise-v1");
    assert_eq!(payload["sub"], "user");
}

/// The redactor passed to `resolve_with` knows the key as soon as it is read, even when it is then refused.
#[test]
fn resolve_with_registers_the_key_even_when_it_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let a = key("ORDERKEY02");
    let body: String = a
        .private_pkcs8_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let broken = format!("-----BEGIN PRIVATE KEY\n{body}\n-----END PRIVATE KEY-----");
    let redactor = ipagate_asc::redact::Redactor::new();
    let err = ipagate_asc::credentials::resolve_with(
        &CredentialFlags::default(),
        &env(
            dir.path(),
            &[
                ("ASC_KEY_ID", "ORDERKEY02"),
                ("ASC_ISSUER_ID", "57246542-96fe-1a63-e053-0824d011072a"),
                ("ASC_PRIVATE_KEY", &broken),
            ],
        ),
        &redactor,
    )
    .unwrap_err();
    let text = all_text(&err);
    assert!(!text.contains(&body[40..56]), "{text}");
    assert_eq!(redactor.redact(&body[40..80]), "<redacted>");
}

/// Regression: a BEGIN line without its closing dashes made the label run to the END line, body included.
#[test]
fn a_broken_begin_line_never_puts_the_body_in_the_label() {
    let a = key("LABELKEY01");
    let body: String = a
        .private_pkcs8_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    for pem in [
        format!("-----BEGIN RSA PRIVATE KEY\n{body}\n-----END RSA PRIVATE KEY-----"),
        format!("-----BEGIN {body}-----\n{body}\n-----END PRIVATE KEY-----"),
        format!("-----BEGIN PRIVATE KEY\n{body}\n-----END PRIVATE KEY-----"),
    ] {
        let err = PrivateKey::from_pem(&pem).unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(!text.contains(&body[20..36]), "{text}");
    }
    // A bare body is accepted as the key it is.
    assert!(PrivateKey::from_pem(&body).is_ok());
}
