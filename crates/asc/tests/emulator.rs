//! The client over real HTTP against the local App Store Connect emulator: token lifecycle, paging, history,
//! retries under injected faults, request bodies that conform to Apple's OpenAPI schema.

mod common;

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, SystemTime};

use common::{ManualClock, RecordingSleeper, SkewedThenRight, api_key, key};
use ipagate_asc::history::{AppSelector, HistoryError, HistoryQuery, fetch_build_history};
use ipagate_asc::jsonapi::{CreateDocument, Document, Linkage, ResourceOf};
use ipagate_asc::resources::{
    App, BuildUpload, BuildUploadCreateAttributes, BuildUploadCreateRelationships,
    BuildUploadState, Platform, ProcessingState,
};
use ipagate_asc::{Client, ClientBuilder, Idempotency, RequestError};
use ipagate_asc_emulator::{
    ApiKey as EmuKey, Config, Emulator, FaultPlan, FaultRule, RateLimitBurst, Seed, conformance,
};
use serde_json::json;

const ISSUER: &str = "69a6de70-0000-47e3-e053-5b8c7c11a4d1";

struct Env {
    emu: Emulator,
    pair: ipagate_asc_emulator::testkey::KeyPair,
    sleeper: Arc<RecordingSleeper>,
}

impl Env {
    async fn start(seed: serde_json::Value, faults: FaultPlan) -> Env {
        Env::start_with(seed, faults, |c| c).await
    }

    async fn start_with(
        seed: serde_json::Value,
        faults: FaultPlan,
        tweak: impl FnOnce(Config) -> Config,
    ) -> Env {
        let pair = key("EMUKEY0001");
        let config = Config {
            seed: Seed::from_json(&seed.to_string()).unwrap(),
            issuer_id: ISSUER.into(),
            keys: vec![EmuKey::team(&pair.key_id, &pair.public_pem)],
            faults,
            ..Config::default()
        };
        let emu = Emulator::start(tweak(config), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        Env {
            emu,
            pair,
            sleeper: Arc::new(RecordingSleeper::default()),
        }
    }

    fn builder(&self) -> ClientBuilder {
        Client::builder(api_key(&self.pair, ISSUER))
            .base_url(&self.emu.base_url())
            .sleeper(self.sleeper.clone())
    }

    fn client(&self) -> Client {
        self.builder().build().unwrap()
    }

    fn log(&self) -> Vec<(String, String, u16)> {
        self.emu
            .request_log()
            .into_iter()
            .map(|r| (r.method, r.path, r.status))
            .collect()
    }
}

fn demo_seed() -> serde_json::Value {
    json!({"apps":[{"id":"1234567890","bundleId":"com.example.demo","name":"Demo","sku":"DEMO",
        "builds":[{"version":"41","preReleaseVersion":"1.2.3","platform":"IOS","processingState":"VALID","uploadedDate":"2026-01-02T03:04:05Z","expired":false},
                  {"version":"39","preReleaseVersion":"1.2.3","platform":"IOS"},
                  {"version":"500","preReleaseVersion":"3.0","platform":"MAC_OS"}],
        "buildUploads":[{"cfBundleShortVersionString":"1.2.3","cfBundleVersion":"42","platform":"IOS","state":"PROCESSING","uploadedDate":"2026-01-03T00:00:00Z"},
                        {"cfBundleShortVersionString":"1.2.3","cfBundleVersion":"43","platform":"IOS","state":"FAILED","uploadedDate":"2026-01-03T01:00:00Z"},
                        {"cfBundleShortVersionString":"3.0","cfBundleVersion":"600","platform":"MAC_OS","state":"AWAITING_UPLOAD"}],
        "appStoreVersions":[{"versionString":"1.2.2","platform":"IOS","appVersionState":"READY_FOR_DISTRIBUTION","build":"40"}]},
      {"id":"222","bundleId":"com.example.demo.extra","name":"Other"}]})
}

fn by_bundle(platform: Platform) -> HistoryQuery {
    HistoryQuery {
        app: AppSelector::BundleId("com.example.demo".into()),
        platform,
    }
}

#[tokio::test]
async fn history_has_processed_builds_and_uploads_in_three_requests() {
    let env = Env::start(demo_seed(), FaultPlan::default()).await;
    let client = env.client();
    let h = fetch_build_history(&client, &by_bundle(Platform::Ios))
        .await
        .unwrap();
    assert_eq!(h.app_id, "1234567890");
    assert_eq!(h.bundle_id.as_deref(), Some("com.example.demo"));
    let mut builds: Vec<_> = h
        .builds
        .iter()
        .map(|b| (b.build_number.as_str(), b.marketing_version.as_deref()))
        .collect();
    builds.sort();
    // The App Store version's build 40 is a processed build too (the seed creates it).
    assert_eq!(
        builds,
        vec![
            ("39", Some("1.2.3")),
            ("40", Some("1.2.2")),
            ("41", Some("1.2.3"))
        ]
    );
    assert!(h.builds.iter().all(|b| b.platform == Some(Platform::Ios)));
    assert!(
        h.builds
            .iter()
            .any(|b| b.processing_state == Some(ProcessingState::Valid))
    );
    let mut uploads: Vec<_> = h
        .uploads
        .iter()
        .map(|u| (u.build_number.as_str(), u.state.clone()))
        .collect();
    uploads.sort();
    assert_eq!(
        uploads,
        vec![
            ("42", Some(BuildUploadState::Processing)),
            ("43", Some(BuildUploadState::Failed))
        ]
    );
    assert_eq!(client.stats().requests, 3);
    let log = env.log();
    assert_eq!(log.len(), 3);
    assert!(log[0].1.starts_with("/v1/apps?"), "{log:?}");
    assert!(
        log.iter()
            .all(|(_, path, status)| *status == 200 && path.contains("limit=200")),
        "{log:?}"
    );
    assert!(client.stats().rate_limit.is_some());
}

#[tokio::test]
async fn app_id_costs_two_requests_and_platform_filter_holds() {
    let env = Env::start(demo_seed(), FaultPlan::default()).await;
    let client = env.client();
    let q = HistoryQuery {
        app: AppSelector::AppId("1234567890".into()),
        platform: Platform::MacOs,
    };
    let h = fetch_build_history(&client, &q).await.unwrap();
    assert_eq!(
        h.builds
            .iter()
            .map(|b| b.build_number.as_str())
            .collect::<Vec<_>>(),
        vec!["500"]
    );
    assert_eq!(
        h.uploads
            .iter()
            .map(|u| u.build_number.as_str())
            .collect::<Vec<_>>(),
        vec!["600"]
    );
    assert_eq!(client.stats().requests, 2);
    // The bundle id comes for free with the builds (included app).
    assert_eq!(h.bundle_id.as_deref(), Some("com.example.demo"));
}

#[tokio::test]
async fn unknown_apps_are_clear_errors() {
    let env = Env::start_with(demo_seed(), FaultPlan::default(), |c| Config {
        loose_bundle_id_filter: true,
        ..c
    })
    .await;
    let client = env.client();
    // The loose (prefix) filter returns both apps; only the exact one is taken.
    let h = fetch_build_history(&client, &by_bundle(Platform::Ios))
        .await
        .unwrap();
    assert_eq!(h.app_id, "1234567890");
    let q = HistoryQuery {
        app: AppSelector::BundleId("com.example".into()),
        platform: Platform::Ios,
    };
    let err = fetch_build_history(&client, &q).await.unwrap_err();
    assert!(matches!(err, HistoryError::AppNotFound { .. }), "{err:?}");
    assert!(
        err.to_string().contains("similar: com.example.demo"),
        "{err}"
    );
    let q = HistoryQuery {
        app: AppSelector::AppId("999".into()),
        platform: Platform::Ios,
    };
    let err = fetch_build_history(&client, &q).await.unwrap_err();
    assert!(matches!(err, HistoryError::AppIdNotFound { .. }), "{err:?}");
}

fn many_builds(n: usize) -> serde_json::Value {
    let builds: Vec<_> = (1..=n)
        .map(|i| json!({"version": i.to_string(), "preReleaseVersion": format!("1.{}", i % 7)}))
        .collect();
    json!({"apps":[{"id":"1","bundleId":"com.example.big","builds": builds}]})
}

#[tokio::test]
async fn ten_thousand_builds_page_correctly() {
    let env = Env::start(many_builds(10_000), FaultPlan::default()).await;
    let client = env.client();
    let q = HistoryQuery {
        app: AppSelector::BundleId("com.example.big".into()),
        platform: Platform::Ios,
    };
    let h = fetch_build_history(&client, &q).await.unwrap();
    assert_eq!(h.builds.len(), 10_000);
    let mut numbers: Vec<u64> = h
        .builds
        .iter()
        .map(|b| b.build_number.parse().unwrap())
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers.len(), 10_000);
    assert!(h.builds.iter().all(|b| b.marketing_version.is_some()));
    // 1 app lookup + 1 uploads page + 50 build pages of 200.
    assert_eq!(client.stats().requests, 52);
}

#[tokio::test]
async fn retries_under_the_fault_plan() {
    let faults = FaultPlan {
        // Faults are a pure function of (seed, route, count): with this seed the lookup's first answer is the 429
        // (an injected 503 would win over it).
        seed: 6,
        clock_skew_secs: 0,
        rules: vec![
            FaultRule {
                path: "/v1/builds".into(),
                server_errors_first: 2,
                ..FaultRule::default()
            },
            // The app lookup only (faults count per route; `/v1/apps/{id}/...` are other routes).
            FaultRule {
                path: "/v1/apps?".into(),
                method: Some("GET".into()),
                rate_limit_burst: Some(RateLimitBurst {
                    after: 0,
                    count: 1,
                    retry_after_secs: Some(3),
                }),
                ..FaultRule::default()
            },
            FaultRule {
                path: "/v1/".into(),
                server_error_rate: 0.2,
                server_error_status: Some(503),
                ..FaultRule::default()
            },
        ],
    };
    let env = Env::start(many_builds(450), faults).await;
    let client = env.client();
    let q = HistoryQuery {
        app: AppSelector::BundleId("com.example.big".into()),
        platform: Platform::Ios,
    };
    let h = fetch_build_history(&client, &q).await.unwrap();
    assert_eq!(h.builds.len(), 450);
    let stats = client.stats();
    assert!(stats.retries >= 3, "{stats:?}");
    assert!(
        env.sleeper.waits().contains(&Duration::from_secs(3)),
        "{:?}",
        env.sleeper.waits()
    );
    let log = env.log();
    assert_eq!(log.iter().filter(|r| r.2 == 429).count(), 1);
    assert_eq!(log.len() as u64, stats.requests);
}

#[tokio::test]
async fn connection_resets_are_retried_then_reported() {
    let faults = FaultPlan {
        rules: vec![FaultRule {
            path: "/v1/builds".into(),
            reset_after_bytes: Some(40),
            ..FaultRule::default()
        }],
        ..FaultPlan::default()
    };
    let env = Env::start(demo_seed(), faults).await;
    let client = env.client();
    let err = fetch_build_history(&client, &by_bundle(Platform::Ios))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("still failing after 5 attempts") && text.contains("connection"),
        "{text}"
    );
}

#[tokio::test]
async fn hourly_budget_exhaustion_is_reported_with_its_code() {
    let env = Env::start_with(demo_seed(), FaultPlan::default(), |c| Config {
        hourly_request_budget: 2,
        ..c
    })
    .await;
    let client = env.client();
    let err = fetch_build_history(&client, &by_bundle(Platform::Ios))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("RATE_LIMIT_EXCEEDED"), "{err}");
}

#[tokio::test]
async fn cached_token_is_refreshed_before_it_expires() {
    let env = Env::start(demo_seed(), FaultPlan::default()).await;
    // Start 14.5 minutes in the past: the first token is valid for 30 more real seconds.
    let clock = ManualClock::new(SystemTime::now() - Duration::from_secs(14 * 60 + 30));
    let client = env.builder().clock(clock.clone()).build().unwrap();
    fetch_build_history(&client, &by_bundle(Platform::Ios))
        .await
        .unwrap();
    assert_eq!(client.stats().tokens_minted, 1);
    clock.advance(Duration::from_secs(14 * 60 + 30));
    fetch_build_history(&client, &by_bundle(Platform::Ios))
        .await
        .unwrap();
    assert_eq!(client.stats().tokens_minted, 2);
    assert!(env.log().iter().all(|r| r.2 == 200));
}

#[tokio::test]
async fn a_rejected_token_is_reminted_once() {
    let env = Env::start(demo_seed(), FaultPlan::default()).await;
    // The first token is minted with a clock 30 minutes slow: expired for the server.
    let clock = Arc::new(SkewedThenRight {
        skew_back: Duration::from_secs(30 * 60),
        remaining: AtomicUsize::new(1),
    });
    let client = env.builder().clock(clock).concurrency(1).build().unwrap();
    let h = fetch_build_history(&client, &by_bundle(Platform::Ios))
        .await
        .unwrap();
    assert_eq!(h.app_id, "1234567890");
    let statuses: Vec<u16> = env.log().iter().map(|r| r.2).collect();
    assert_eq!(statuses[..2], [401, 200]);
    assert_eq!(client.stats().tokens_minted, 2);
}

#[tokio::test]
async fn server_clock_far_ahead_fails_with_the_clock_hint() {
    let faults = FaultPlan {
        clock_skew_secs: 25 * 60,
        ..FaultPlan::default()
    };
    let env = Env::start(demo_seed(), faults).await;
    let client = env.client();
    let err = fetch_build_history(&client, &by_bundle(Platform::Ios))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            HistoryError::Request(RequestError::Unauthorized { .. })
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("clock"), "{err}");
    assert_eq!(
        env.log().len(),
        2,
        "one retry with a fresh token, then stop"
    );
}

#[tokio::test]
async fn wrong_key_is_unauthorized() {
    let env = Env::start(demo_seed(), FaultPlan::default()).await;
    let other = key("EMUKEY0001"); // same id, different key pair
    let client = Client::builder(api_key(&other, ISSUER))
        .base_url(&env.emu.base_url())
        .build()
        .unwrap();
    let err = fetch_build_history(&client, &by_bundle(Platform::Ios))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("401 NOT_AUTHORIZED"), "{err}");
}

fn upload_body(
    version: &str,
) -> CreateDocument<BuildUploadCreateAttributes, BuildUploadCreateRelationships> {
    CreateDocument::new::<BuildUpload>(
        Some(BuildUploadCreateAttributes {
            cf_bundle_short_version_string: "1.2.3".into(),
            cf_bundle_version: version.into(),
            platform: Platform::Ios,
        }),
        Some(BuildUploadCreateRelationships {
            app: Linkage::to::<App>("1234567890"),
        }),
    )
}

#[tokio::test]
async fn request_bodies_conform_and_duplicates_are_detected() {
    let body = serde_json::to_value(upload_body("44")).unwrap();
    conformance::validate_request("POST", "/v1/buildUploads", &body).unwrap();
    let env = Env::start(demo_seed(), FaultPlan::default()).await;
    let client = env.client();
    let created: Document<ResourceOf<BuildUpload>> = client
        .post(
            "/v1/buildUploads",
            &upload_body("44"),
            Idempotency::DuplicateDetectable,
        )
        .await
        .unwrap();
    assert_eq!(
        created
            .data
            .attributes
            .unwrap()
            .cf_bundle_version
            .as_deref(),
        Some("44")
    );
    let err = client
        .post::<_, Document<ResourceOf<BuildUpload>>>(
            "/v1/buildUploads",
            &upload_body("42"),
            Idempotency::DuplicateDetectable,
        )
        .await
        .unwrap_err();
    assert!(
        err.has_code("ENTITY_ERROR.ATTRIBUTE.INVALID.DUPLICATE"),
        "{err}"
    );
    assert_eq!(err.status(), Some(409));
}

#[tokio::test]
async fn list_responses_conform_to_the_spec() {
    let env = Env::start(demo_seed(), FaultPlan::default()).await;
    let client = env.client();
    fetch_build_history(&client, &by_bundle(Platform::Ios))
        .await
        .unwrap();
    // Replay the exact requests the client made and validate the answers.
    let http = reqwest::Client::new();
    let token = client.tokens().token().unwrap();
    for (_, path, _) in env.log() {
        let body: serde_json::Value = http
            .get(format!("{}{}", env.emu.base_url(), path))
            .bearer_auth(token.expose())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let template = conformance::path_template(&path).unwrap();
        conformance::validate_response("GET", template, 200, &body)
            .unwrap_or_else(|e| panic!("{path}: {e:?}"));
    }
}

/// Against the real App Store Connect, only when credentials are in the environment
/// (`ASC_KEY_ID`, `ASC_ISSUER_ID`, `ASC_PRIVATE_KEY_PATH` or the codemagic names, and `IPAGATE_LIVE_BUNDLE_ID`).
#[tokio::test]
#[ignore = "talks to the real App Store Connect; needs credentials in env"]
async fn live_app_store_connect() {
    let Some(bundle_id) = std::env::var("IPAGATE_LIVE_BUNDLE_ID").ok() else {
        eprintln!("skipped: IPAGATE_LIVE_BUNDLE_ID not set");
        return;
    };
    let resolved = ipagate_asc::credentials::resolve(
        &ipagate_asc::credentials::CredentialFlags::default(),
        &ipagate_asc::credentials::ProcessEnvironment,
    )
    .unwrap();
    let client = Client::builder(resolved.key).build().unwrap();
    let h = fetch_build_history(
        &client,
        &HistoryQuery {
            app: AppSelector::BundleId(bundle_id),
            platform: Platform::Ios,
        },
    )
    .await
    .unwrap();
    eprintln!(
        "{} builds, {} uploads, {} requests",
        h.builds.len(),
        h.uploads.len(),
        client.stats().requests
    );
}

/// The Build Upload API path the uploader will take, driven through the client's generic pieces: create the upload
/// and its file, PUT every part to the presigned URLs (no Authorization), commit, poll until COMPLETE; the new
/// build then shows up in the history.
#[tokio::test]
async fn build_upload_flow_slots_into_the_client() {
    use ipagate_asc::jsonapi::UpdateDocument;
    use ipagate_asc::resources::BuildUploadFile;

    let env = Env::start(demo_seed(), FaultPlan::default()).await;
    let client = env.client();
    let upload: Document<ResourceOf<BuildUpload>> = client
        .post(
            "/v1/buildUploads",
            &upload_body("50"),
            Idempotency::DuplicateDetectable,
        )
        .await
        .unwrap();
    let upload_id = upload.data.id;

    let payload: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
    let file_body = json!({"data": {"type": "buildUploadFiles",
        "attributes": {"assetType": "ASSET", "fileName": "App.ipa", "fileSize": payload.len(), "uti": "com.apple.ipa"},
        "relationships": {"buildUpload": {"data": {"type": "buildUploads", "id": upload_id}}}}});
    conformance::validate_request("POST", "/v1/buildUploadFiles", &file_body).unwrap();
    let file: Document<ResourceOf<BuildUploadFile>> = client
        .post(
            "/v1/buildUploadFiles",
            &file_body,
            Idempotency::DuplicateDetectable,
        )
        .await
        .unwrap();
    let ops = file.data.attributes.unwrap().upload_operations.unwrap();
    assert!(!ops.is_empty());
    let source = {
        use std::io::Write;
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&payload).unwrap();
        std::sync::Arc::new(f)
    };
    for op in ops {
        let headers: Vec<(String, String)> = op
            .request_headers
            .unwrap_or_default()
            .into_iter()
            .filter_map(|h| Some((h.name?, h.value?)))
            .collect();
        let part = ipagate_asc::PartRequest {
            method: op.method.unwrap_or_else(|| "PUT".into()),
            url: op.url.unwrap(),
            offset: op.offset.unwrap(),
            length: op.length.unwrap(),
            headers,
        };
        client.send_part(&part, &source).await.unwrap();
    }
    #[derive(serde::Serialize)]
    struct Commit {
        uploaded: bool,
    }
    let commit =
        UpdateDocument::new::<BuildUploadFile>(file.data.id.clone(), Commit { uploaded: true });
    conformance::validate_request(
        "PATCH",
        "/v1/buildUploadFiles/{id}",
        &serde_json::to_value(&commit).unwrap(),
    )
    .unwrap();
    let _: Document<ResourceOf<BuildUploadFile>> = client
        .patch(&format!("/v1/buildUploadFiles/{}", file.data.id), &commit)
        .await
        .unwrap();

    // Still processing: only the upload knows about 50.
    let h = fetch_build_history(&client, &by_bundle(Platform::Ios))
        .await
        .unwrap();
    assert!(
        h.uploads
            .iter()
            .any(|u| u.build_number == "50" && u.state == Some(BuildUploadState::Processing))
    );
    assert!(!h.builds.iter().any(|b| b.build_number == "50"));
    let mut state = None;
    for _ in 0..5 {
        let doc: Document<ResourceOf<BuildUpload>> = client
            .get(
                &format!("/v1/buildUploads/{upload_id}"),
                &ipagate_asc::Query::new(),
            )
            .await
            .unwrap();
        state = doc
            .data
            .attributes
            .and_then(|a| a.state)
            .and_then(|s| s.state);
        if state == Some(BuildUploadState::Complete) {
            break;
        }
    }
    assert_eq!(state, Some(BuildUploadState::Complete));
    let h = fetch_build_history(&client, &by_bundle(Platform::Ios))
        .await
        .unwrap();
    assert!(
        h.builds
            .iter()
            .any(|b| b.build_number == "50" && b.processing_state == Some(ProcessingState::Valid))
    );
    assert!(
        env.log()
            .iter()
            .filter(|r| r.1.starts_with("/upload/"))
            .all(|r| r.2 == 200 || r.2 == 204)
    );
}

#[tokio::test]
async fn timeouts_are_retried_for_reads() {
    let faults = FaultPlan {
        rules: vec![FaultRule {
            path: "/v1/builds".into(),
            latency_ms: 400,
            ..FaultRule::default()
        }],
        ..FaultPlan::default()
    };
    let env = Env::start(demo_seed(), faults).await;
    let client = env
        .builder()
        .timeout(Duration::from_millis(100))
        .retry_policy(ipagate_asc::RetryPolicy {
            max_retries: 2,
            ..Default::default()
        })
        .build()
        .unwrap();
    let err = fetch_build_history(&client, &by_bundle(Platform::Ios))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("still failing after 3 attempts (last: timed out waiting for 127.0.0.1:"),
        "{err}"
    );
    assert_eq!(env.sleeper.waits().len(), 2);
}

#[tokio::test]
async fn individual_keys_sign_as_user() {
    let pair = key("INDIVIDUAL");
    let config = Config {
        seed: Seed::from_json(&demo_seed().to_string()).unwrap(),
        issuer_id: ISSUER.into(),
        keys: vec![EmuKey::individual(&pair.key_id, &pair.public_pem)],
        ..Config::default()
    };
    let emu = Emulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let private = ipagate_asc::PrivateKey::from_pem(&pair.private_pkcs8_pem).unwrap();
    let individual = ipagate_asc::ApiKey::new(
        &pair.key_id,
        ipagate_asc::Issuer::Individual,
        private.clone(),
    )
    .unwrap();
    let client = Client::builder(individual)
        .base_url(&emu.base_url())
        .build()
        .unwrap();
    let h = fetch_build_history(&client, &by_bundle(Platform::Ios))
        .await
        .unwrap();
    assert_eq!(h.app_id, "1234567890");
    // The same key used as a team key is refused: the server expects `sub: "user"`.
    let team = ipagate_asc::ApiKey::new(
        &pair.key_id,
        ipagate_asc::Issuer::Team(ISSUER.into()),
        private,
    )
    .unwrap();
    let client = Client::builder(team)
        .base_url(&emu.base_url())
        .build()
        .unwrap();
    let err = fetch_build_history(&client, &by_bundle(Platform::Ios))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");
}
