//! The uploader over real HTTP against the in-process App Store Connect emulator.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ipagate_asc::{ApiKey, Client, ClientBuilder, Issuer, PrivateKey};
use ipagate_asc_emulator::{
    ApiKey as EmuKey, Config, Emulator, PartFaults, Processing, Seed, testkey,
};
use ipagate_fixtures::{Bundle, Ipa};
use ipagate_uploader::journal::{self, JournalError};
use ipagate_uploader::{Event, UploadError, UploadOptions, UploadOutcome, upload};
use serde_json::{Value, json};

const ISSUER: &str = "69a6de70-0000-47e3-e053-5b8c7c11a4d1";
const BUNDLE: &str = "com.example.demo";
/// Small parts so a small IPA has many.
const PART: u64 = 32 * 1024;

struct Env {
    emu: Emulator,
    pair: testkey::KeyPair,
    dir: tempfile::TempDir,
    ipa: PathBuf,
}

fn seed() -> Value {
    json!({"apps": [{"id": "1234567890", "bundleId": BUNDLE,
        "builds": [{"version": "41", "preReleaseVersion": "1.2.3"}]}]})
}

fn write_ipa(path: &Path, build: &str, size: u64) {
    Ipa::from_bundle(Bundle::app("Demo", BUNDLE).executable_size(size))
        .version("1.2.3", build)
        .write_to(path)
        .unwrap();
}

impl Env {
    async fn start(tweak: impl FnOnce(Config) -> Config) -> Env {
        let pair = testkey::generate("UPLKEY0001");
        let config = Config {
            seed: Seed::from_json(&seed().to_string()).unwrap(),
            issuer_id: ISSUER.into(),
            keys: vec![EmuKey::team(&pair.key_id, &pair.public_pem)],
            upload_part_size: PART,
            processing: Processing::AfterPolls(2),
            ..Config::default()
        };
        let emu = Emulator::start(tweak(config), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ipa = dir.path().join("Demo.ipa");
        write_ipa(&ipa, "42", 300_000);
        Env {
            emu,
            pair,
            dir,
            ipa,
        }
    }

    fn builder(&self) -> ClientBuilder {
        let key = ApiKey::new(
            &self.pair.key_id,
            Issuer::Team(ISSUER.to_owned()),
            PrivateKey::from_pem(&self.pair.private_pkcs8_pem).unwrap(),
        )
        .unwrap();
        Client::builder(key).base_url(&self.emu.base_url())
    }

    fn client(&self) -> Client {
        self.builder().build().unwrap()
    }

    fn options(&self) -> UploadOptions {
        UploadOptions {
            state_dir: self.dir.path().join("state"),
            poll_interval: Duration::from_millis(5),
            part_backoff: Duration::from_millis(5),
            max_processing_wait: Duration::from_secs(20),
            part_attempts: 8,
            ..UploadOptions::default()
        }
    }

    async fn run(
        &self,
        options: &UploadOptions,
    ) -> (Result<UploadOutcome, UploadError>, Vec<Event>) {
        let events = Mutex::new(Vec::new());
        let result = upload(&self.client(), &self.ipa, options, &|e| {
            events.lock().unwrap().push(e)
        })
        .await;
        (result, events.into_inner().unwrap())
    }

    /// `(method, path without query, status)` of every logged request.
    fn log(&self) -> Vec<(String, String, u16)> {
        self.emu
            .request_log()
            .into_iter()
            .map(|r| {
                let path = r.path.split('?').next().unwrap_or_default().to_owned();
                (r.method, path, r.status)
            })
            .collect()
    }

    fn mutating(&self) -> usize {
        self.log().iter().filter(|(m, _, _)| m != "GET").count()
    }

    fn uploads_in_state(&self) -> Vec<Value> {
        self.emu.state_json()["buildUploads"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Part PUTs answered 200, by part number.
    fn accepted_parts(&self) -> Vec<u64> {
        let mut parts: Vec<u64> = self
            .log()
            .iter()
            .filter(|(m, p, s)| m == "PUT" && p.starts_with("/upload/") && *s == 200)
            .map(|(_, p, _)| p.rsplit('/').next().unwrap().parse().unwrap())
            .collect();
        parts.sort_unstable();
        parts
    }

    fn assert_assembled(&self, outcome: &UploadOutcome) {
        let assembled = std::fs::read(self.emu.upload_file_path(&outcome.file_id)).unwrap();
        let original = std::fs::read(&self.ipa).unwrap();
        assert_eq!(assembled.len(), original.len());
        assert!(assembled == original, "assembled bytes differ from the IPA");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn happy_path_uploads_every_byte_and_waits_for_processing() {
    let env = Env::start(|c| c).await;
    let (result, events) = env.run(&env.options()).await;
    let outcome = result.unwrap();
    assert_eq!(outcome.state, "COMPLETE");
    assert!(outcome.build_id.is_some());
    assert!(!outcome.failed());
    assert!(outcome.checksum_sent);
    assert!(outcome.parts_total >= 9, "{}", outcome.parts_total);
    assert_eq!(outcome.parts_sent, outcome.parts_total);
    assert_eq!(outcome.bytes_sent, outcome.size);
    env.assert_assembled(&outcome);
    // Every part exactly once, one build upload, the app resolved by bundle id.
    assert_eq!(
        env.accepted_parts(),
        (1..=outcome.parts_total as u64).collect::<Vec<_>>()
    );
    assert_eq!(
        env.log()
            .iter()
            .filter(|(m, p, _)| m == "POST" && p == "/v1/buildUploads")
            .count(),
        1
    );
    let upload = env
        .uploads_in_state()
        .into_iter()
        .find(|u| u["id"] == outcome.build_upload_id.as_str())
        .unwrap();
    assert_eq!(upload["attributes"]["cfBundleVersion"], "42");
    assert_eq!(upload["attributes"]["cfBundleShortVersionString"], "1.2.3");
    assert_eq!(upload["attributes"]["platform"], "IOS");
    let sent: u64 = events
        .iter()
        .filter_map(|e| match e {
            Event::PartSent { bytes, .. } => Some(*bytes),
            _ => None,
        })
        .sum();
    assert_eq!(sent, outcome.size);
    assert!(events.contains(&Event::Committed));
    // The journal is in the state dir, keyed by the IPA's SHA-256, marked committed, with no secret in it.
    let journal_text =
        std::fs::read_to_string(journal::path_for(&env.options().state_dir, &outcome.sha256))
            .unwrap();
    let j: journal::Journal = serde_json::from_str(&journal_text).unwrap();
    assert!(j.committed);
    assert_eq!(j.confirmed.len(), outcome.parts_total);
    assert!(
        !journal_text.contains("expires="),
        "no presigned URL in the journal"
    );
    for line in env.pair.private_pkcs8_pem.lines().filter(|l| l.len() > 20) {
        assert!(!journal_text.contains(line));
    }
    // A rerun finds the finished upload: no second build upload, no part sent again.
    let before = env.log().len();
    let (again, _) = env.run(&env.options()).await;
    let again = again.unwrap();
    assert_eq!(again.build_upload_id, outcome.build_upload_id);
    assert_eq!(again.parts_sent, 0);
    assert!(env.log()[before..].iter().all(|(m, _, _)| m == "GET"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_percent_of_part_puts_failing_still_uploads_every_byte() {
    let mut env = Env::start(|c| Config {
        part_faults: PartFaults {
            seed: 11,
            fail_rate: 0.2,
            fail_status: Some(500),
            ..PartFaults::default()
        },
        ..c
    })
    .await;
    env.ipa = env.dir.path().join("Big.ipa");
    write_ipa(&env.ipa, "42", 1_500_000);
    let (result, events) = env.run(&env.options()).await;
    let outcome = result.unwrap();
    assert_eq!(outcome.state, "COMPLETE");
    env.assert_assembled(&outcome);
    let failed = env
        .log()
        .iter()
        .filter(|(m, p, s)| m == "PUT" && p.starts_with("/upload/") && *s == 500)
        .count();
    let total = outcome.parts_total;
    assert!(total >= 40, "{total}");
    assert!(
        failed >= total / 10 && failed <= total / 2,
        "{failed} of {total} part PUTs failed"
    );
    assert!(events.iter().any(|e| matches!(e, Event::PartRetry { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_reset_mid_part_is_retried() {
    let env = Env::start(|c| Config {
        part_faults: PartFaults {
            reset_rate: 1.0,
            reset_after_bytes: 10_000,
            first_try_only: true,
            ..PartFaults::default()
        },
        ..c
    })
    .await;
    let (result, _) = env.run(&env.options()).await;
    let outcome = result.unwrap();
    assert_eq!(outcome.state, "COMPLETE");
    env.assert_assembled(&outcome);
    let resets = env
        .emu
        .request_log()
        .iter()
        .filter(|r| r.note.as_deref() == Some("injected part reset"))
        .count();
    assert_eq!(resets, outcome.parts_total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_sha256_checksum_commits_without_it() {
    let env = Env::start(|c| Config {
        reject_sha256_checksums: true,
        ..c
    })
    .await;
    let (result, _) = env.run(&env.options()).await;
    let outcome = result.unwrap();
    assert_eq!(outcome.state, "COMPLETE");
    assert!(!outcome.checksum_sent);
    env.assert_assembled(&outcome);
    let patches: Vec<u16> = env
        .log()
        .iter()
        .filter(|(m, p, _)| m == "PATCH" && p.starts_with("/v1/buildUploadFiles/"))
        .map(|(_, _, s)| *s)
        .collect();
    assert_eq!(patches, [409, 200]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_part_times_out_and_is_retried() {
    let env = Env::start(|c| Config {
        part_faults: PartFaults {
            stall_rate: 1.0,
            stall_ms: 3_000,
            first_try_only: true,
            ..PartFaults::default()
        },
        ..c
    })
    .await;
    // Parts have their own timeout, apart from the API requests' (which stay at 60 s).
    let client = env
        .builder()
        .part_timeout(Duration::from_millis(400))
        .build()
        .unwrap();
    let started = Instant::now();
    let events = Mutex::new(Vec::new());
    let outcome = upload(&client, &env.ipa, &env.options(), &|e| {
        events.lock().unwrap().push(e)
    })
    .await
    .unwrap();
    env.assert_assembled(&outcome);
    let retries: Vec<String> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::PartRetry { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(retries.len(), outcome.parts_total, "{retries:?}");
    assert!(retries[0].contains("no answer within"), "{}", retries[0]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn part_429_waits_for_retry_after() {
    let env = Env::start(|c| Config {
        part_faults: PartFaults {
            fail_rate: 1.0,
            fail_status: Some(429),
            first_try_only: true,
            ..PartFaults::default()
        },
        ..c
    })
    .await;
    let started = Instant::now();
    let (result, _) = env.run(&env.options()).await;
    let outcome = result.unwrap();
    env.assert_assembled(&outcome);
    // Backoff is 5 ms: only Retry-After: 1 explains a second's wait.
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        env.log().iter().filter(|(_, _, s)| *s == 429).count(),
        outcome.parts_total
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_expiry_mid_upload_re_mints_and_completes() {
    let env = Env::start(|c| c).await;
    let client = env.client();
    let once = std::sync::Once::new();
    let result = upload(&client, &env.ipa, &env.options(), &|e| {
        if matches!(e, Event::PartSent { .. }) {
            // The cached token expires while parts are being sent.
            once.call_once(|| env.emu.expire_tokens());
        }
    })
    .await;
    let outcome = result.unwrap();
    assert_eq!(outcome.state, "COMPLETE");
    env.assert_assembled(&outcome);
    assert!(
        env.log().iter().any(|(_, _, s)| *s == 401),
        "the token never expired"
    );
    assert!(client.stats().tokens_minted >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_operation_urls_are_re_read() {
    let env = Env::start(|c| Config {
        upload_url_lifetime: Duration::from_secs(1),
        ..c
    })
    .await;
    let client = env.client();
    let events = Mutex::new(Vec::new());
    let result = upload(&client, &env.ipa, &env.options(), &|e| {
        if matches!(e, Event::Started { .. }) {
            // Let the URLs the file was created with expire.
            std::thread::sleep(Duration::from_millis(2100));
        }
        events.lock().unwrap().push(e);
    })
    .await;
    let outcome = result.unwrap();
    env.assert_assembled(&outcome);
    assert!(
        events
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, Event::OperationsRefreshed { .. }))
    );
    assert!(
        env.log()
            .iter()
            .any(|(m, p, s)| m == "PUT" && p.starts_with("/upload/") && *s == 403)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processing_failure_surfaces_itms_errors() {
    let env = Env::start(|c| Config {
        processing: Processing::Manual,
        ..c
    })
    .await;
    let upload_id = Arc::new(Mutex::new(String::new()));
    let result = upload(&env.client(), &env.ipa, &env.options(), &|e| match e {
        Event::Started {
            build_upload_id, ..
        } => *upload_id.lock().unwrap() = build_upload_id,
        Event::Committed => {
            let id = upload_id.lock().unwrap().clone();
            assert!(env.emu.fail_upload(
                &id,
                "90062",
                "This bundle is invalid. The value for key CFBundleShortVersionString must contain a higher version."
            ));
        }
        _ => {}
    })
    .await;
    let outcome = result.unwrap();
    assert_eq!(outcome.state, "FAILED");
    assert!(outcome.failed());
    let d = outcome
        .diagnostics
        .iter()
        .find(|d| d.code == "ITMS-90062")
        .unwrap();
    assert!(d.message.contains("must contain a higher version"));
    assert!(d.help.contains("version train"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checksum_mismatch_fails_the_upload() {
    // A file that changes after it was hashed: the server assembles other bytes than the declared SHA-256.
    let env = Env::start(|c| c).await;
    let ipa = env.ipa.clone();
    let result = upload(&env.client(), &env.ipa, &env.options(), &|e| {
        if let Event::Started { .. } = e {
            // Hashing overlaps the start of the upload: let it finish on the file as it was.
            std::thread::sleep(Duration::from_millis(300));
            let mut bytes = std::fs::read(&ipa).unwrap();
            let n = bytes.len();
            bytes[n / 2] ^= 0xff;
            std::fs::write(&ipa, bytes).unwrap();
        }
    })
    .await;
    let outcome = result.unwrap();
    assert_eq!(outcome.state, "FAILED");
    assert!(
        outcome
            .diagnostics
            .iter()
            .any(|d| d.code == "ASSET_CHECKSUM_MISMATCH")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_build_number_names_the_next_one() {
    let env = Env::start(|c| c).await;
    write_ipa(&env.ipa, "41", 50_000);
    let (result, _) = env.run(&env.options()).await;
    let error = result.unwrap_err();
    let text = error.to_string();
    assert!(
        matches!(error, UploadError::BuildNumberTaken { .. }),
        "{text}"
    );
    assert!(
        text.contains("build number 41 is already used for version 1.2.3"),
        "{text}"
    );
    assert!(text.contains("answers 42"), "{text}");
    assert!(!error.is_bad_input());
    assert!(env.accepted_parts().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_continues_the_same_upload_and_skips_confirmed_parts() {
    let env = Env::start(|c| c).await;
    // First run: every part after the third fails for good (one attempt each, one at a time).
    let mut options = env.options();
    options.concurrency = 1;
    options.part_attempts = 1;
    let count = Arc::new(Mutex::new(0u32));
    let result = upload(&env.client(), &env.ipa, &options, &|e| {
        if matches!(e, Event::PartSent { .. }) {
            let mut n = count.lock().unwrap();
            *n += 1;
            if *n == 3 {
                env.emu.set_part_faults(PartFaults {
                    fail_rate: 1.0,
                    fail_status: Some(500),
                    ..PartFaults::default()
                });
            }
        }
    })
    .await;
    assert!(
        matches!(result, Err(UploadError::Part { .. })),
        "{result:?}"
    );
    let first_accepted = env.accepted_parts();
    assert_eq!(first_accepted.len(), 3);
    env.emu.set_part_faults(PartFaults::default());
    env.emu.clear_request_log();

    let (result, _) = env.run(&env.options()).await;
    let outcome = result.unwrap();
    assert!(outcome.resumed);
    assert_eq!(outcome.parts_skipped, 3);
    assert_eq!(outcome.parts_sent, outcome.parts_total - 3);
    env.assert_assembled(&outcome);
    let second = env.accepted_parts();
    assert!(
        second.iter().all(|p| !first_accepted.contains(p)),
        "a confirmed part was sent again"
    );
    assert_eq!(env.uploads_in_state().len(), 1, "exactly one build upload");
    assert!(
        !env.log()
            .iter()
            .any(|(m, p, _)| m == "POST" && p == "/v1/buildUploads")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stopped_before_its_hash_was_known_keeps_its_upload_and_resends_every_part() {
    let env = Env::start(|c| c).await;
    let mut options = env.options();
    options.concurrency = 1;
    options.part_attempts = 1;
    let count = Arc::new(Mutex::new(0u32));
    let result = upload(&env.client(), &env.ipa, &options, &|e| {
        if matches!(e, Event::PartSent { .. }) {
            let mut n = count.lock().unwrap();
            *n += 1;
            if *n == 2 {
                env.emu.set_part_faults(PartFaults {
                    fail_rate: 1.0,
                    ..PartFaults::default()
                });
            }
        }
    })
    .await;
    assert!(result.is_err());
    // Make it look as if the process died while hashing: the journal is still pending (no hash in it).
    let state = env.options().state_dir;
    let sha = sha_of(&env.ipa);
    let mut j = journal::load(&state, &sha, file_len(&env.ipa))
        .unwrap()
        .unwrap();
    std::fs::remove_file(journal::path_for(&state, &sha)).unwrap();
    j.ipa_sha256.clear();
    journal::save(&state, &j).unwrap();
    assert!(journal::pending_path(&state, &j).exists());
    env.emu.set_part_faults(PartFaults::default());
    env.emu.clear_request_log();

    let (result, _) = env.run(&env.options()).await;
    let outcome = result.unwrap();
    assert_eq!(
        outcome.build_upload_id, j.build_upload_id,
        "the same build upload"
    );
    assert!(
        !env.log()
            .iter()
            .any(|(m, p, _)| m == "POST" && p == "/v1/buildUploads")
    );
    // Parts confirmed under a pending journal are not trusted: all were sent again.
    assert_eq!(outcome.parts_sent, outcome.parts_total);
    env.assert_assembled(&outcome);
    assert!(!journal::pending_path(&state, &j).exists());
    assert!(journal::path_for(&state, &sha).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_from_another_ipa_or_a_corrupt_one_is_refused_and_kept() {
    let env = Env::start(|c| c).await;
    let options = env.options();
    // Learn the IPA's hash with a dry run.
    let (dry, _) = env
        .run(&UploadOptions {
            dry_run: true,
            ..options.clone()
        })
        .await;
    let sha = dry.unwrap().sha256;
    let path = journal::path_for(&options.state_dir, &sha);
    std::fs::create_dir_all(&options.state_dir).unwrap();

    let other = json!({"schema": 1, "ipa_sha256": "00".repeat(32), "ipa_size": 1, "bundle_id": BUNDLE,
        "version": "1.2.3", "build_number": "42", "platform": "IOS", "app_id": "1234567890",
        "build_upload_id": "X", "file_id": null, "parts": [], "confirmed": [], "committed": false});
    std::fs::write(&path, other.to_string()).unwrap();
    let (result, _) = env.run(&options).await;
    let error = result.unwrap_err();
    assert!(
        matches!(error, UploadError::Journal(JournalError::OtherIpa { .. })),
        "{error}"
    );
    assert!(error.is_bad_input());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), other.to_string());

    std::fs::write(&path, b"{\"schema\": 1, \"ipa_sha").unwrap();
    let (result, _) = env.run(&options).await;
    let error = result.unwrap_err();
    assert!(
        matches!(error, UploadError::Journal(JournalError::Corrupt { .. })),
        "{error}"
    );
    assert!(error.to_string().contains("corrupt"));
    assert_eq!(std::fs::read(&path).unwrap(), b"{\"schema\": 1, \"ipa_sha");
    assert_eq!(env.mutating(), 0, "nothing was changed on the server");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_sends_no_mutating_request() {
    let env = Env::start(|c| c).await;
    let (result, events) = env
        .run(&UploadOptions {
            dry_run: true,
            ..env.options()
        })
        .await;
    let outcome = result.unwrap();
    assert!(outcome.dry_run);
    assert_eq!(outcome.state, "DRY_RUN");
    assert_eq!(env.mutating(), 0);
    assert!(
        env.log()
            .iter()
            .any(|(m, p, _)| m == "GET" && p == "/v1/apps")
    );
    let would: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::WouldSend { method, path, .. } => Some(format!("{method} {path}")),
            _ => None,
        })
        .collect();
    assert_eq!(
        would,
        [
            "POST /v1/buildUploads",
            "POST /v1/buildUploadFiles",
            "PUT (part URLs)",
            "PATCH /v1/buildUploadFiles/{id}"
        ]
    );
    assert!(
        !outcome.journal.unwrap().exists(),
        "a dry run writes no journal"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_identity_is_bad_input_and_sends_nothing() {
    let env = Env::start(|c| c).await;
    Ipa::from_bundle(Bundle::app("Demo", BUNDLE).set("CFBundleVersion", "1.2.3.4.5"))
        .write_to(&env.ipa)
        .unwrap();
    let (result, _) = env.run(&env.options()).await;
    let error = result.unwrap_err();
    assert!(error.is_bad_input(), "{error}");
    assert!(error.to_string().contains("CFBundleVersion"), "{error}");
    Ipa::from_bundle(Bundle::app("Demo", BUNDLE).set("DTPlatformName", "iphonesimulator"))
        .write_to(&env.ipa)
        .unwrap();
    let (result, _) = env.run(&env.options()).await;
    let error = result.unwrap_err();
    assert!(error.to_string().contains("iphonesimulator"), "{error}");
    std::fs::write(&env.ipa, b"not a zip").unwrap();
    let (result, _) = env.run(&env.options()).await;
    assert!(result.unwrap_err().is_bad_input());
    assert!(env.log().is_empty());
}

/// A canned App Store Connect for hostile answers: `answer(method, path, authorization)` gives status and body;
/// every request is recorded.
struct Canned {
    base: String,
    seen: Arc<Mutex<Vec<(String, String)>>>,
}

type Answer = dyn Fn(&str, &str, &str) -> (u16, Value) + Send + Sync;

async fn canned(answer: Arc<Answer>) -> Canned {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let (answer, log) = (answer.clone(), log.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                let head_end = loop {
                    let n = stream.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                let mut lines = head.lines();
                let mut first = lines.next().unwrap_or_default().split(' ');
                let method = first.next().unwrap_or_default().to_owned();
                let path = first.next().unwrap_or_default().to_owned();
                let mut length = 0usize;
                let mut authorization = String::new();
                for line in lines {
                    if let Some((name, value)) = line.split_once(':') {
                        if name.eq_ignore_ascii_case("content-length") {
                            length = value.trim().parse().unwrap_or(0);
                        }
                        if name.eq_ignore_ascii_case("authorization") {
                            authorization = value.trim().to_owned();
                        }
                    }
                }
                while buf.len() < head_end + length {
                    let n = stream.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                log.lock().unwrap().push((method.clone(), path.clone()));
                let (status, body) = answer(&method, &path, &authorization);
                let body = body.to_string();
                let response = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    Canned { base, seen }
}

fn app_list() -> (u16, Value) {
    (
        200,
        json!({"data": [
            {"type": "apps", "id": "999", "attributes": {"bundleId": "com.example.demo.other"}},
            {"type": "apps", "id": "1", "attributes": {"bundleId": BUNDLE}}]}),
    )
}

async fn run_canned(answer: Arc<Answer>) -> (Result<UploadOutcome, UploadError>, Canned, Env) {
    let env = Env::start(|c| c).await;
    let server = canned(answer).await;
    let client = env.builder().base_url(&server.base).build().unwrap();
    let result = upload(&client, &env.ipa, &env.options(), &|_| {}).await;
    (result, server, env)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operation_outside_the_file_is_refused_before_any_part_is_sent() {
    let (result, server, env) = run_canned(Arc::new(|method: &str, path: &str, _: &str| {
        match (method, path.split('?').next().unwrap()) {
            ("GET", "/v1/apps") => app_list(),
            ("POST", "/v1/buildUploads") => (
                201,
                json!({"data": {"type": "buildUploads", "id": "U1", "attributes": {"state": {"state": "AWAITING_UPLOAD"}}}}),
            ),
            ("GET", "/v1/buildUploads/U1") => (
                200,
                json!({"data": {"type": "buildUploads", "id": "U1", "attributes": {"state": {"state": "AWAITING_UPLOAD"}}}}),
            ),
            ("POST", "/v1/buildUploadFiles") => (
                201,
                json!({"data": {"type": "buildUploadFiles", "id": "F1", "attributes": {"uploadOperations": [
                    {"method": "PUT", "url": "http://127.0.0.1:9/part1", "offset": 0, "length": 100, "partNumber": 1},
                    {"method": "PUT", "url": "http://127.0.0.1:9/part2", "offset": 100, "length": 10_000_000, "partNumber": 2}
                ]}}}),
            ),
            _ => (404, json!({"errors": []})),
        }
    }))
    .await;
    let error = result.unwrap_err();
    assert!(matches!(error, UploadError::BadOperations(_)), "{error}");
    assert!(error.is_bad_input());
    assert!(
        error.to_string().contains("covers bytes 100..10000100"),
        "{error}"
    );
    assert!(error.to_string().contains("no part was sent"));
    // The app was picked by exact bundle id, and no PUT happened anywhere.
    let seen = server.seen.lock().unwrap().clone();
    assert!(
        seen.iter().all(|(m, _)| m != "PUT" && m != "PATCH"),
        "{seen:?}"
    );
    // The journal is consistent: the upload is recorded, the file with no parts confirmed.
    let sha = journal::load(
        &env.options().state_dir,
        &sha_of(&env.ipa),
        file_len(&env.ipa),
    )
    .unwrap()
    .unwrap();
    assert_eq!(sha.build_upload_id, "U1");
    assert_eq!(sha.file_id.as_deref(), Some("F1"));
    assert!(sha.parts.is_empty() && sha.confirmed.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_missing_fields_is_a_clear_error() {
    let (result, _, _env) = run_canned(Arc::new(|method: &str, path: &str, _: &str| {
        match (method, path.split('?').next().unwrap()) {
            ("GET", "/v1/apps") => app_list(),
            ("POST", "/v1/buildUploads") => (201, json!({"data": {"type": "buildUploads"}})),
            _ => (404, json!({"errors": []})),
        }
    }))
    .await;
    let error = result.unwrap_err();
    assert!(matches!(error, UploadError::MissingField { .. }), "{error}");
    assert_eq!(
        error.to_string(),
        "App Store Connect's answer to POST /v1/buildUploads has no data.id"
    );
    assert!(error.is_bad_input());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_echoes_the_token_never_gets_it_into_the_error() {
    let (result, server, _env) =
        run_canned(Arc::new(|method: &str, path: &str, auth: &str| {
            match (method, path.split('?').next().unwrap()) {
                ("GET", "/v1/apps") => app_list(),
                _ => (
                    409,
                    json!({"errors": [{"status": "409", "code": "ENTITY_ERROR", "title": "no",
                    "detail": format!("you sent {auth}")}]}),
                ),
            }
        }))
        .await;
    let error = result.unwrap_err();
    let text = format!("{error} {error:?}");
    assert!(!text.contains("eyJ"), "a token leaked: {text}");
    assert!(server.seen.lock().unwrap().iter().any(|(m, _)| m == "POST"));
}

fn sha_of(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(std::fs::read(path).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}
