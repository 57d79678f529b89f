//! The emulator over real HTTP: auth, lists, Apple's rules, uploads, faults, bad input.

mod common;

use common::*;
use ipagate_asc_emulator::{
    ApiKey, Config, FaultPlan, FaultRule, Processing, RateLimitBurst, Seed, SeedError, testkey,
};
use serde_json::{Value, json};

#[tokio::test]
async fn jwt_checks_answer_401_like_apple() {
    let h = start(DEMO_SEED).await;
    assert_eq!(h.get("/v1/apps").await.status, 200);

    let now = now();
    let other = testkey::generate(KID);
    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing", None),
        ("not a jwt", Some("abc.def".into())),
        ("bad signature", Some(sign(&other, KID, &good_claims()))),
        (
            "unknown kid",
            Some(sign(&h.key, "OTHERKEY99", &good_claims())),
        ),
        (
            "wrong aud",
            Some(sign(
                &h.key,
                KID,
                &json!({"iss": ISSUER, "exp": now + 600, "aud": "appstoreconnect-v2"}),
            )),
        ),
        (
            "expired",
            Some(sign(
                &h.key,
                KID,
                &json!({"iss": ISSUER, "iat": now - 1300, "exp": now - 100, "aud": "appstoreconnect-v1"}),
            )),
        ),
        (
            "exp more than 20 min ahead",
            Some(sign(
                &h.key,
                KID,
                &json!({"iss": ISSUER, "exp": now + 1260, "aud": "appstoreconnect-v1"}),
            )),
        ),
        (
            "wrong issuer",
            Some(sign(
                &h.key,
                KID,
                &json!({"iss": "someone-else", "exp": now + 600, "aud": "appstoreconnect-v1"}),
            )),
        ),
        (
            "team key used as individual",
            Some(sign(
                &h.key,
                KID,
                &json!({"sub": "user", "exp": now + 600, "aud": "appstoreconnect-v1"}),
            )),
        ),
        (
            "iat in the future",
            Some(sign(
                &h.key,
                KID,
                &json!({"iss": ISSUER, "iat": now + 120, "exp": now + 600, "aud": "appstoreconnect-v1"}),
            )),
        ),
        (
            "no exp",
            Some(sign(
                &h.key,
                KID,
                &json!({"iss": ISSUER, "aud": "appstoreconnect-v1"}),
            )),
        ),
    ];
    for (name, token) in &cases {
        let answer = h.with_token("/v1/apps", token.as_deref()).await;
        assert_eq!(answer.status, 401, "{name}");
        assert_eq!(error_code(&answer.body), "NOT_AUTHORIZED", "{name}");
        assert_eq!(answer.body["errors"][0]["status"], "401", "{name}");
        assert_eq!(
            answer.body["errors"][0]["title"], "Authentication credentials are missing or invalid.",
            "{name}"
        );
    }
    // codemagic's tokens: 19 minutes, no iat.
    let codemagic = sign(
        &h.key,
        KID,
        &json!({"iss": ISSUER, "exp": now + 19 * 60, "aud": "appstoreconnect-v1"}),
    );
    assert_eq!(h.with_token("/v1/apps", Some(&codemagic)).await.status, 200);

    let log = h.emulator.request_log();
    assert_eq!(log.len(), cases.len() + 2);
    assert!(
        log.iter()
            .filter(|r| r.status == 401)
            .all(|r| r.note.is_some())
    );
    // The log never holds the token.
    let dump = serde_json::to_string(&log).expect("log");
    assert!(!dump.contains("eyJ"), "{dump}");
}

/// Regression: `exp = i64::MIN` overflowed `now - exp`, panicking the handler and dropping the connection.
#[tokio::test]
async fn absurd_time_claims_are_401_not_a_panic() {
    let h = start(DEMO_SEED).await;
    let now = now();
    let claims = [
        json!({"iss": ISSUER, "exp": i64::MIN, "aud": "appstoreconnect-v1"}),
        json!({"iss": ISSUER, "exp": i64::MAX, "aud": "appstoreconnect-v1"}),
        json!({"iss": ISSUER, "iat": i64::MAX, "exp": now + 600, "aud": "appstoreconnect-v1"}),
        json!({"iss": ISSUER, "iat": i64::MIN, "exp": now + 600, "aud": "appstoreconnect-v1"}),
        json!({"iss": ISSUER, "iat": -60, "exp": now + 600, "aud": "appstoreconnect-v1"}),
        json!({"iss": ISSUER, "iat": now - 60, "exp": -1, "aud": "appstoreconnect-v1"}),
        json!({"iss": ISSUER, "exp": u64::MAX, "aud": "appstoreconnect-v1"}),
    ];
    for c in &claims {
        let token = sign(&h.key, KID, c);
        let answer = h.with_token("/v1/apps", Some(&token)).await;
        assert_eq!(answer.status, 401, "{c}");
        assert_eq!(error_code(&answer.body), "NOT_AUTHORIZED", "{c}");
    }
    // Part URLs with absurd part numbers are 404s, not panics.
    for part in ["0", "18446744073709551616", "-1"] {
        let url = format!("{}/upload/nofile/{part}", h.base());
        let status = h
            .client
            .put(url)
            .header("Content-Type", "application/octet-stream")
            .body("x")
            .send()
            .await
            .expect("answered")
            .status()
            .as_u16();
        assert_eq!(status, 404, "part {part}");
    }
    // The server is still serving.
    assert_eq!(h.get("/v1/apps").await.status, 200);
}

#[tokio::test]
async fn individual_keys_use_sub_user() {
    let key = testkey::generate("INDIVKEY01");
    let config = Config {
        keys: vec![ApiKey::individual("INDIVKEY01", &key.public_pem)],
        ..Config::default()
    };
    let h = start_with(config, key).await;
    let now = now();
    let user = sign(
        &h.key,
        "INDIVKEY01",
        &json!({"sub": "user", "iat": now - 60, "exp": now + 600, "aud": "appstoreconnect-v1"}),
    );
    assert_eq!(h.with_token("/v1/apps", Some(&user)).await.status, 200);
    let with_iss = sign(
        &h.key,
        "INDIVKEY01",
        &json!({"iss": ipagate_asc_emulator::DEFAULT_ISSUER_ID, "exp": now + 600, "aud": "appstoreconnect-v1"}),
    );
    assert_eq!(h.with_token("/v1/apps", Some(&with_iss)).await.status, 401);
}

fn many_builds_seed(count: usize) -> String {
    let builds: Vec<Value> = (1..=count)
        .map(|n| {
            json!({"version": n.to_string(), "preReleaseVersion": format!("1.{}.0", n % 7),
                   "uploadedDate": format!("2026-01-01T00:{:02}:{:02}Z", (n / 60) % 60, n % 60)})
        })
        .collect();
    json!({"apps": [{"id": "1234567890", "bundleId": "com.example.big", "builds": builds}]})
        .to_string()
}

#[tokio::test]
async fn paging_uses_absolute_next_links_and_meta() {
    let h = start(&many_builds_seed(450)).await;
    let mut url = format!(
        "{}/v1/builds?filter[app]=1234567890&limit=200&fields[builds]=version",
        h.base()
    );
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = h.get(&url).await;
        assert_eq!(page.status, 200);
        assert_eq!(page.body["meta"]["paging"]["total"], 450);
        assert_eq!(page.body["meta"]["paging"]["limit"], 200);
        assert!(
            page.body["links"]["self"]
                .as_str()
                .expect("self")
                .starts_with(&h.base())
        );
        seen.extend(attr_list(&page.body, "version"));
        pages += 1;
        match page.body["links"]["next"].as_str() {
            Some(next) => {
                assert!(
                    next.starts_with(&format!("{}/v1/builds?", h.base())),
                    "{next}"
                );
                url = next.to_string();
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 450);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 450);

    let default = h.get("/v1/builds").await;
    assert_eq!(default.body["data"].as_array().map(Vec::len), Some(50));
    for bad in [
        "limit=201",
        "limit=0",
        "limit=x",
        "cursor=garbage",
        "sort=name",
        "filter[nope]=1",
        "include=nope",
        "bogus=1",
    ] {
        let answer = h.get(&format!("/v1/builds?{bad}")).await;
        assert_eq!(answer.status, 400, "{bad}");
        assert_eq!(error_code(&answer.body), "PARAMETER_ERROR.INVALID", "{bad}");
    }
}

#[tokio::test]
async fn ten_thousand_builds_page_quickly() {
    let started = std::time::Instant::now();
    let h = start(&many_builds_seed(10_000)).await;
    let mut url = format!(
        "{}/v1/builds?filter[app]=1234567890&filter[preReleaseVersion.platform]=IOS&sort=-uploadedDate&limit=200&fields[builds]=version",
        h.base()
    );
    let mut count = 0;
    let mut pages = 0;
    loop {
        let page = h.get(&url).await;
        assert_eq!(page.status, 200, "{}", page.body);
        count += page.body["data"].as_array().map(Vec::len).unwrap_or(0);
        pages += 1;
        match page.body["links"]["next"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    assert_eq!((count, pages), (10_000, 50));
    // Generous for a debug build on a shared 2-core machine.
    assert!(started.elapsed().as_secs() < 60, "{:?}", started.elapsed());
}

#[tokio::test]
async fn versions_sort_as_strings_like_the_real_server() {
    let seed = json!({"apps": [{"id": "1", "bundleId": "com.example.s",
        "builds": [{"version": "9"}, {"version": "10"}, {"version": "100"}, {"version": "2"}],
        "buildUploads": [{"cfBundleVersion": "20302", "cfBundleShortVersionString": "5.0"},
                         {"cfBundleVersion": "4.69.0", "cfBundleShortVersionString": "5.0"}]}]});
    let h = start(&seed.to_string()).await;
    let desc = h.get("/v1/builds?filter[app]=1&sort=-version").await;
    assert_eq!(attr_list(&desc.body, "version"), ["9", "2", "100", "10"]);
    let asc = h.get("/v1/builds?filter[app]=1&sort=version&limit=1").await;
    assert_eq!(attr_list(&asc.body, "version"), ["10"]);
    let uploads = h.get("/v1/apps/1/buildUploads?sort=-cfBundleVersion").await;
    assert_eq!(
        attr_list(&uploads.body, "cfBundleVersion"),
        ["4.69.0", "20302"]
    );
}

#[tokio::test]
async fn processing_uploads_are_invisible_in_builds_until_complete() {
    let h = start(DEMO_SEED).await;
    let builds = h
        .get("/v1/builds?filter[app]=1234567890&filter[version]=42")
        .await;
    assert_eq!(builds.body["data"].as_array().map(Vec::len), Some(0));
    let uploads = h
        .get("/v1/apps/1234567890/buildUploads?filter[state]=PROCESSING,COMPLETE&limit=200")
        .await;
    assert_eq!(attr_list(&uploads.body, "cfBundleVersion"), ["42"]);
    assert_eq!(
        uploads.body["data"][0]["attributes"]["state"]["state"],
        "PROCESSING"
    );

    let done = h.emulator.advance_processing();
    assert_eq!(done.len(), 1);
    let builds = h
        .get("/v1/builds?filter[app]=1234567890&filter[version]=42&include=preReleaseVersion")
        .await;
    assert_eq!(attr_list(&builds.body, "version"), ["42"]);
    assert_eq!(builds.body["included"][0]["attributes"]["version"], "1.2.3");
    let upload = h.get(&format!("/v1/buildUploads/{}", done[0])).await;
    assert_eq!(
        upload.body["data"]["attributes"]["state"]["state"],
        "COMPLETE"
    );
    assert_eq!(
        upload.body["data"]["relationships"]["build"]["data"]["id"],
        builds.body["data"][0]["id"]
    );
}

fn upload_body(app: &str, marketing: &str, number: &str) -> Value {
    json!({"data": {"type": "buildUploads",
        "attributes": {"cfBundleShortVersionString": marketing, "cfBundleVersion": number, "platform": "IOS"},
        "relationships": {"app": {"data": {"type": "apps", "id": app}}}}})
}

#[tokio::test]
async fn reused_build_numbers_and_missing_parts_are_409() {
    let h = start(DEMO_SEED).await;
    for (marketing, number, why) in [
        ("1.2.3", "41", "processed build"),
        ("1.2.3", "42", "upload still processing"),
        ("1.2.3.0", "41", "same train spelled 1.2.3.0"),
        ("1.2.2", "40", "App Store build"),
    ] {
        let answer = h
            .send(
                "POST",
                "/v1/buildUploads",
                Some(&upload_body("1234567890", marketing, number)),
            )
            .await;
        assert_eq!(answer.status, 409, "{why}: {}", answer.body);
        assert_eq!(
            error_code(&answer.body),
            "ENTITY_ERROR.ATTRIBUTE.INVALID.DUPLICATE",
            "{why}"
        );
    }
    // Another train may reuse a number; a new number is fine.
    for (marketing, number) in [("1.3.0", "41"), ("1.2.3", "43")] {
        let answer = h
            .send(
                "POST",
                "/v1/buildUploads",
                Some(&upload_body("1234567890", marketing, number)),
            )
            .await;
        assert_eq!(answer.status, 201, "{}", answer.body);
    }
    let mut no_app = upload_body("1234567890", "1.2.3", "44");
    no_app["data"]
        .as_object_mut()
        .expect("obj")
        .remove("relationships");
    let answer = h.send("POST", "/v1/buildUploads", Some(&no_app)).await;
    assert_eq!(
        (answer.status, error_code(&answer.body)),
        (409, "ENTITY_ERROR.RELATIONSHIP.REQUIRED")
    );
    assert_eq!(
        answer.body["errors"][0]["source"]["pointer"],
        "/data/relationships/app"
    );
    let mut no_version = upload_body("1234567890", "1.2.3", "44");
    no_version["data"]["attributes"]
        .as_object_mut()
        .expect("obj")
        .remove("cfBundleVersion");
    let answer = h.send("POST", "/v1/buildUploads", Some(&no_version)).await;
    assert_eq!(
        (answer.status, error_code(&answer.body)),
        (409, "ENTITY_ERROR.ATTRIBUTE.REQUIRED")
    );
    let mut bad_platform = upload_body("1234567890", "1.2.3", "44");
    bad_platform["data"]["attributes"]["platform"] = json!("ANDROID");
    let answer = h
        .send("POST", "/v1/buildUploads", Some(&bad_platform))
        .await;
    assert_eq!(
        (answer.status, error_code(&answer.body)),
        (409, "ENTITY_ERROR.ATTRIBUTE.INVALID")
    );
    let unknown_app = h
        .send(
            "POST",
            "/v1/buildUploads",
            Some(&upload_body("999", "1.2.3", "44")),
        )
        .await;
    assert_eq!(
        (unknown_app.status, error_code(&unknown_app.body)),
        (409, "ENTITY_ERROR.RELATIONSHIP.INVALID")
    );
}

#[tokio::test]
async fn rate_limit_header_and_429_past_the_budget() {
    let (mut config, key) = config(DEMO_SEED);
    config.hourly_request_budget = 3;
    let h = start_with(config, key).await;
    for remaining in [2, 1, 0] {
        let answer = h.get("/v1/apps").await;
        assert_eq!(answer.status, 200);
        assert_eq!(
            answer.headers["x-rate-limit"],
            format!("user-hour-lim:3;user-hour-rem:{remaining};").as_str()
        );
    }
    let answer = h.get("/v1/apps").await;
    assert_eq!(
        (answer.status, error_code(&answer.body)),
        (429, "RATE_LIMIT_EXCEEDED")
    );
    assert_eq!(
        answer.headers["x-rate-limit"],
        "user-hour-lim:3;user-hour-rem:0;"
    );
}

async fn statuses(plan: FaultPlan) -> Vec<u16> {
    let (mut config, key) = config(DEMO_SEED);
    config.faults = plan;
    let h = start_with(config, key).await;
    let mut out = Vec::new();
    for _ in 0..40 {
        out.push(h.get("/v1/builds?filter[app]=1234567890").await.status);
    }
    out
}

#[tokio::test]
async fn fault_plans_are_deterministic() {
    let plan = |seed| FaultPlan {
        seed,
        rules: vec![
            FaultRule {
                path: "/v1/builds".into(),
                server_error_rate: 0.3,
                server_error_status: Some(503),
                ..FaultRule::default()
            },
            FaultRule {
                method: Some("GET".into()),
                path: "/v1/".into(),
                rate_limit_burst: Some(RateLimitBurst {
                    after: 5,
                    count: 2,
                    retry_after_secs: Some(2),
                }),
                ..FaultRule::default()
            },
        ],
        ..FaultPlan::default()
    };
    let a = statuses(plan(7)).await;
    assert_eq!(a, statuses(plan(7)).await);
    assert_ne!(a, statuses(plan(8)).await);
    assert!(a.contains(&503) && a.contains(&200), "{a:?}");
    // Requests 5 and 6 fall in the burst (an injected 503 may win over the 429).
    assert!(a[5..7].iter().all(|s| *s == 429 || *s == 503), "{a:?}");
    assert!(a.contains(&429), "{a:?}");

    let (mut config, key) = config(DEMO_SEED);
    config.faults = plan(7);
    config.faults.rules[0].server_error_rate = 0.0;
    config.faults.rules[0].server_errors_first = 1;
    let h = start_with(config, key).await;
    let first = h.get("/v1/builds").await;
    assert_eq!(
        (first.status, error_code(&first.body)),
        (503, "UNEXPECTED_ERROR")
    );
    assert_eq!(first.headers["retry-after"], "1");
    for _ in 0..4 {
        assert_eq!(h.get("/v1/builds").await.status, 200);
    }
    let limited = h.get("/v1/builds").await;
    assert_eq!(
        (limited.status, error_code(&limited.body)),
        (429, "RATE_LIMIT_EXCEEDED")
    );
    assert_eq!(limited.headers["retry-after"], "2");
}

/// Statuses per route for `routes` each asked `n` times, the streams running concurrently or one after the other.
async fn per_route_statuses(
    plan: FaultPlan,
    routes: &[&str],
    n: usize,
    concurrent: bool,
) -> Vec<Vec<u16>> {
    let (mut config, key) = config(DEMO_SEED);
    config.faults = plan;
    let h = start_with(config, key).await;
    let stream = |route: String| {
        let h = &h;
        async move {
            let mut out = Vec::new();
            for _ in 0..n {
                out.push(h.get(&route).await.status);
            }
            out
        }
    };
    if concurrent {
        let streams = routes.iter().map(|r| stream(r.to_string()));
        futures_join_all(streams).await
    } else {
        let mut out = Vec::new();
        // One after the other, in reverse order.
        for r in routes.iter().rev() {
            out.push(stream(r.to_string()).await);
        }
        out.reverse();
        out
    }
}

/// Polls every future on this task, so their requests interleave on the wire.
async fn futures_join_all<F: std::future::Future<Output = Vec<u16>>>(
    futures: impl Iterator<Item = F>,
) -> Vec<Vec<u16>> {
    let handles: Vec<_> = futures.map(Box::pin).collect();
    let mut results: Vec<Option<Vec<u16>>> = vec![None; handles.len()];
    let mut handles: Vec<_> = handles.into_iter().map(Some).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (slot, result) in handles.iter_mut().zip(results.iter_mut()) {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        *result = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    results.into_iter().map(Option::unwrap_or_default).collect()
}

/// Regression: all rules drew from one random stream, so with concurrent requests (the client fetches uploads and
/// builds at once) which route failed depended on arrival order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_per_route_do_not_depend_on_interleaving() {
    let plan = FaultPlan {
        seed: 11,
        rules: vec![
            FaultRule {
                path: "/v1/".into(),
                server_error_rate: 0.4,
                server_error_status: Some(503),
                ..FaultRule::default()
            },
            FaultRule {
                path: "/v1/apps".into(),
                server_errors_first: 1,
                server_error_status: Some(502),
                ..FaultRule::default()
            },
        ],
        ..FaultPlan::default()
    };
    let routes = [
        "/v1/builds?filter[app]=1234567890",
        "/v1/apps?filter[bundleId]=com.example.demo",
        "/v1/apps/1234567890/buildUploads",
    ];
    let sequential = per_route_statuses(plan.clone(), &routes, 16, false).await;
    assert!(
        sequential.iter().flatten().any(|s| *s == 503),
        "{sequential:?}"
    );
    assert!(
        sequential.iter().flatten().any(|s| *s == 200),
        "{sequential:?}"
    );
    for _ in 0..3 {
        assert_eq!(
            per_route_statuses(plan.clone(), &routes, 16, true).await,
            sequential
        );
    }
    // Counted per route: the apps list's first request fails even though the buildUploads route (also under
    // /v1/apps) was asked before it.
    assert_eq!(sequential[1][0], 502, "serverErrorsFirst");
}

#[tokio::test]
async fn connection_reset_latency_and_clock_skew() {
    let (mut config, key) = config(DEMO_SEED);
    config.faults = FaultPlan {
        rules: vec![FaultRule {
            path: "/v1/apps".into(),
            reset_after_bytes: Some(10),
            latency_ms: 30,
            ..FaultRule::default()
        }],
        ..FaultPlan::default()
    };
    let h = start_with(config, key).await;
    let started = std::time::Instant::now();
    let response = h
        .client
        .get(format!("{}/v1/apps", h.base()))
        .bearer_auth(h.token())
        .send()
        .await;
    let cut = match response {
        Err(_) => true,
        Ok(r) => {
            assert_eq!(r.status(), 200);
            r.bytes().await.is_err()
        }
    };
    assert!(cut, "the body must be cut");
    assert!(started.elapsed().as_millis() >= 30);
    assert_eq!(h.get("/v1/builds").await.status, 200);

    // The server's clock 10 minutes ahead: a 15-minute token is fine, a 5-minute one expired.
    h.emulator.set_faults(FaultPlan {
        clock_skew_secs: 600,
        ..FaultPlan::default()
    });
    let now = now();
    let short = sign(
        &h.key,
        KID,
        &json!({"iss": ISSUER, "exp": now + 300, "aud": "appstoreconnect-v1"}),
    );
    assert_eq!(h.with_token("/v1/builds", Some(&short)).await.status, 401);
    assert_eq!(h.get("/v1/builds").await.status, 200);
    // Behind by 10 minutes: the same 15-minute token now looks 25 minutes long.
    h.emulator.set_faults(FaultPlan {
        clock_skew_secs: -600,
        ..FaultPlan::default()
    });
    assert_eq!(h.get("/v1/builds").await.status, 401);
}

async fn put_part(h: &Harness, op: &Value, bytes: &[u8], content_type: Option<&str>) -> u16 {
    let mut request = h
        .client
        .put(op["url"].as_str().expect("url"))
        .body(bytes.to_vec());
    if let Some(ct) = content_type {
        request = request.header("Content-Type", ct);
    }
    request.send().await.expect("put").status().as_u16()
}

#[tokio::test]
async fn upload_state_machine_turns_an_upload_into_a_build() {
    let (mut config, key) = config(DEMO_SEED);
    config.upload_part_size = 4;
    let h = start_with(config, key).await;
    let created = h
        .send(
            "POST",
            "/v1/buildUploads",
            Some(&upload_body("1234567890", "1.2.3", "43")),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let upload = created.body["data"]["id"].as_str().expect("id").to_string();
    assert_eq!(
        created.body["data"]["attributes"]["state"]["state"],
        "AWAITING_UPLOAD"
    );

    let file_body = json!({"data": {"type": "buildUploadFiles",
        "attributes": {"assetType": "ASSET", "fileName": "demo.ipa", "fileSize": 10, "uti": "com.apple.ipa"},
        "relationships": {"buildUpload": {"data": {"type": "buildUploads", "id": upload}}}}});
    let file = h
        .send("POST", "/v1/buildUploadFiles", Some(&file_body))
        .await;
    assert_eq!(file.status, 201, "{}", file.body);
    let file_id = file.body["data"]["id"].as_str().expect("id").to_string();
    let ops = file.body["data"]["attributes"]["uploadOperations"]
        .as_array()
        .expect("ops")
        .clone();
    assert_eq!(ops.len(), 3);
    assert_eq!(
        ops.iter()
            .map(|o| (o["offset"].as_u64(), o["length"].as_u64()))
            .collect::<Vec<_>>(),
        [(Some(0), Some(4)), (Some(4), Some(4)), (Some(8), Some(2))]
    );
    assert!(ops[0]["url"].as_str().expect("url").starts_with(&h.base()));
    // A second ASSET file for the same upload is refused.
    let again = h
        .send("POST", "/v1/buildUploadFiles", Some(&file_body))
        .await;
    assert_eq!(again.status, 409);

    let data = b"0123456789";
    assert_eq!(
        put_part(&h, &ops[0], &data[0..4], None).await,
        403,
        "Content-Type is signed"
    );
    assert_eq!(
        put_part(&h, &ops[0], &data[0..3], Some("application/octet-stream")).await,
        400
    );
    assert_eq!(
        put_part(&h, &ops[0], &data[0..5], Some("application/octet-stream")).await,
        400
    );
    // Parts in any order.
    assert_eq!(
        put_part(&h, &ops[2], &data[8..10], Some("application/octet-stream")).await,
        200
    );
    assert_eq!(
        put_part(&h, &ops[0], &data[0..4], Some("application/octet-stream")).await,
        200
    );

    let commit = json!({"data": {"type": "buildUploadFiles", "id": file_id, "attributes": {"uploaded": true}}});
    let early = h
        .send(
            "PATCH",
            &format!("/v1/buildUploadFiles/{file_id}"),
            Some(&commit),
        )
        .await;
    assert_eq!(
        (early.status, error_code(&early.body)),
        (409, "STATE_ERROR.ENTITY_STATE_INVALID")
    );
    assert_eq!(
        put_part(&h, &ops[1], &data[4..8], Some("application/octet-stream")).await,
        200
    );
    let committed = h
        .send(
            "PATCH",
            &format!("/v1/buildUploadFiles/{file_id}"),
            Some(&commit),
        )
        .await;
    assert_eq!(committed.status, 200, "{}", committed.body);
    assert_eq!(
        committed.body["data"]["attributes"]["assetDeliveryState"]["state"],
        "COMPLETE"
    );

    // Default processing: the second poll sees COMPLETE.
    let first = h
        .get(&format!(
            "/v1/buildUploads/{upload}?fields[buildUploads]=state,build&include=build"
        ))
        .await;
    assert_eq!(
        first.body["data"]["attributes"]["state"]["state"],
        "PROCESSING"
    );
    let invisible = h
        .get("/v1/builds?filter[app]=1234567890&filter[version]=43")
        .await;
    assert_eq!(invisible.body["data"].as_array().map(Vec::len), Some(0));
    let second = h
        .get(&format!(
            "/v1/buildUploads/{upload}?fields[buildUploads]=state,build&include=build"
        ))
        .await;
    assert_eq!(
        second.body["data"]["attributes"]["state"]["state"],
        "COMPLETE"
    );
    let build = second.body["data"]["relationships"]["build"]["data"]["id"]
        .as_str()
        .expect("build")
        .to_string();
    assert_eq!(second.body["included"][0]["id"], build.as_str());
    let visible = h
        .get(&format!(
            "/v1/builds/{build}?include=preReleaseVersion,buildBetaDetail"
        ))
        .await;
    assert_eq!(
        visible.body["data"]["attributes"]["processingState"],
        "VALID"
    );
    assert_eq!(visible.body["data"]["attributes"]["version"], "43");
    // Testers wait for export compliance until the build answers it.
    let detail = h.get(&format!("/v1/builds/{build}/buildBetaDetail")).await;
    assert_eq!(
        detail.body["data"]["attributes"]["internalBuildState"],
        "MISSING_EXPORT_COMPLIANCE"
    );
    let review = h
        .send(
            "POST",
            "/v1/betaAppReviewSubmissions",
            Some(&json!({"data": {"type": "betaAppReviewSubmissions",
                "relationships": {"build": {"data": {"type": "builds", "id": build}}}}})),
        )
        .await;
    assert_eq!(review.status, 409, "{}", review.body);
    let answered = h
        .send(
            "PATCH",
            &format!("/v1/builds/{build}"),
            Some(&json!({"data": {"type": "builds", "id": build,
                "attributes": {"usesNonExemptEncryption": false}}})),
        )
        .await;
    assert_eq!(answered.status, 200, "{}", answered.body);
    let detail = h.get(&format!("/v1/builds/{build}/buildBetaDetail")).await;
    assert_eq!(
        detail.body["data"]["attributes"]["internalBuildState"],
        "READY_FOR_BETA_TESTING"
    );
    assert_eq!(
        detail.body["data"]["attributes"]["externalBuildState"],
        "READY_FOR_BETA_SUBMISSION"
    );
    // Once complete, its number is taken.
    let dup = h
        .send(
            "POST",
            "/v1/buildUploads",
            Some(&upload_body("1234567890", "1.2.3", "43")),
        )
        .await;
    assert_eq!(dup.status, 409);

    // A failed upload frees nothing but shows its error.
    let created = h
        .send(
            "POST",
            "/v1/buildUploads",
            Some(&upload_body("1234567890", "1.2.3", "44")),
        )
        .await;
    let upload = created.body["data"]["id"].as_str().expect("id").to_string();
    assert!(
        h.emulator
            .fail_upload(&upload, "90062", "lower version train")
    );
    let failed = h.get(&format!("/v1/buildUploads/{upload}")).await;
    assert_eq!(
        failed.body["data"]["attributes"]["state"]["state"],
        "FAILED"
    );
    assert_eq!(
        failed.body["data"]["attributes"]["state"]["errors"][0]["code"],
        "90062"
    );
    let deleted = h
        .send("DELETE", &format!("/v1/buildUploads/{upload}"), None)
        .await;
    assert_eq!(deleted.status, 204);
}

#[tokio::test]
async fn manual_processing_waits_for_advance() {
    let (mut config, key) = config(DEMO_SEED);
    config.processing = Processing::Manual;
    config.upload_part_size = 1024;
    let h = start_with(config, key).await;
    let created = h
        .send(
            "POST",
            "/v1/buildUploads",
            Some(&upload_body("1234567890", "2.0", "1")),
        )
        .await;
    let upload = created.body["data"]["id"].as_str().expect("id").to_string();
    let file = h
        .send("POST", "/v1/buildUploadFiles", Some(&json!({"data": {"type": "buildUploadFiles",
            "attributes": {"assetType": "ASSET", "fileName": "a.ipa", "fileSize": 3, "uti": "com.apple.ipa"},
            "relationships": {"buildUpload": {"data": {"type": "buildUploads", "id": upload}}}}})))
        .await;
    let file_id = file.body["data"]["id"].as_str().expect("id").to_string();
    let op = file.body["data"]["attributes"]["uploadOperations"][0].clone();
    assert_eq!(
        put_part(&h, &op, b"abc", Some("application/octet-stream")).await,
        200
    );
    let commit = json!({"data": {"type": "buildUploadFiles", "id": file_id, "attributes": {"uploaded": true}}});
    assert_eq!(
        h.send(
            "PATCH",
            &format!("/v1/buildUploadFiles/{file_id}"),
            Some(&commit)
        )
        .await
        .status,
        200
    );
    for _ in 0..3 {
        let poll = h.get(&format!("/v1/buildUploads/{upload}")).await;
        assert_eq!(
            poll.body["data"]["attributes"]["state"]["state"],
            "PROCESSING"
        );
    }
    let advanced: Value = h
        .client
        .post(format!("{}/_sandbox/advance", h.base()))
        .send()
        .await
        .expect("advance")
        .json()
        .await
        .expect("json");
    // The seeded PROCESSING upload (42) completes too.
    assert_eq!(advanced["completed"].as_array().map(Vec::len), Some(2));
    let poll = h.get(&format!("/v1/buildUploads/{upload}")).await;
    assert_eq!(
        poll.body["data"]["attributes"]["state"]["state"],
        "COMPLETE"
    );
}

#[test]
fn seed_errors_say_what_is_wrong() {
    let cases = [
        ("{", "not valid"),
        (r#"{"apps":[{"bundleID":"x"}]}"#, "not valid"),
        (
            r#"{"apps":[{"builds":[{"platform":"ANDROID"}]}]}"#,
            "platform \"ANDROID\" is not one of IOS",
        ),
        (
            r#"{"apps":[{"builds":[{"uploadedDate":"yesterday"}]}]}"#,
            "is not an RFC 3339 date",
        ),
        (
            r#"{"apps":[{"id":"1"},{"id":"1"}]}"#,
            "duplicate apps id \"1\"",
        ),
        (r#"{"apps":[{"id":""}]}"#, "empty apps id"),
        (
            r#"{"apps":[{"buildUploads":[{"state":"DONE"}]}]}"#,
            "state \"DONE\"",
        ),
        (
            r#"{"apps":[{"betaGroups":[{"name":"QA","builds":["77"]}]}]}"#,
            "names build \"77\"",
        ),
    ];
    for (text, wanted) in cases {
        let err = Seed::from_json(text).expect_err(text);
        let mut message = err.to_string();
        if let SeedError::Json(source) = &err {
            message = format!("{message}: {source}");
        }
        assert!(message.contains(wanted), "{text}: {message}");
    }
    let unknown = Seed::from_json(r#"{"apps":[{"bundleID":"x"}]}"#).expect_err("typo");
    assert!(
        std::error::Error::source(&unknown)
            .expect("source")
            .to_string()
            .contains("unknown field `bundleID`")
    );
    let seed = Seed::from_json(DEMO_SEED).expect("demo");
    assert_eq!(seed.apps.len(), 2);
    assert!(Seed::from_json("{}").expect("empty").apps.is_empty());
}

#[tokio::test]
async fn codemagic_request_sequence_finds_the_seeded_answers() {
    let h = start(DEMO_SEED).await;
    let versions = h
        .get(
            "/v1/apps/1234567890/appStoreVersions?limit=200&fields[appStoreVersions]=versionString",
        )
        .await;
    assert_eq!(attr_list(&versions.body, "versionString"), ["1.2.2"]);
    let related = versions.body["data"][0]["relationships"]["build"]["links"]["related"]
        .as_str()
        .expect("related link")
        .to_string();
    assert!(related.starts_with(&h.base()));
    let build = h.get(&format!("{related}?fields[builds]=version")).await;
    assert_eq!(build.body["data"]["attributes"]["version"], "40");
    let trains = h.get("/v1/preReleaseVersions?limit=200&filter[app]=1234567890&fields[preReleaseVersions]=version&filter[platform]=IOS").await;
    let mut trains = attr_list(&trains.body, "version");
    trains.sort();
    assert_eq!(trains, ["1.2.2", "1.2.3"]);
    let all = h.get("/v1/builds?limit=200&include=preReleaseVersion&filter[app]=1234567890&fields[builds]=version,preReleaseVersion&fields[preReleaseVersions]=version").await;
    let mut numbers = attr_list(&all.body, "version");
    numbers.sort();
    assert_eq!(numbers, ["39", "40", "41"]);
    assert!(all.body["data"][0]["relationships"]["preReleaseVersion"]["data"]["id"].is_string());
    assert!(
        all.body["data"][0]["attributes"]
            .get("uploadedDate")
            .is_none(),
        "sparse fieldsets"
    );
    let with_build = h.get("/v1/apps/1234567890/appStoreVersions?limit=200&include=build&fields[appStoreVersions]=versionString,build&fields[builds]=version").await;
    assert_eq!(
        with_build.body["included"][0]["attributes"]["version"],
        "40"
    );

    let apps = h.get("/v1/apps?filter[bundleId]=com.example.demo").await;
    assert_eq!(attr_list(&apps.body, "bundleId"), ["com.example.demo"]);
    let unset = h
        .get("/v1/builds?filter[app]=1234567890&exists[usesNonExemptEncryption]=false")
        .await;
    assert_eq!(unset.body["meta"]["paging"]["total"], 3);
    let set = h
        .get("/v1/builds?exists[usesNonExemptEncryption]=true")
        .await;
    assert_eq!(set.body["meta"]["paging"]["total"], 0);
    assert_eq!(
        h.get("/v1/builds?exists[usesNonExemptEncryption]=maybe")
            .await
            .status,
        400
    );
    let missing = h.get("/v1/apps/404").await;
    assert_eq!(
        (missing.status, error_code(&missing.body)),
        (404, "NOT_FOUND")
    );
}

#[tokio::test]
async fn loose_bundle_id_filter_returns_near_matches() {
    let (mut config, key) = config(DEMO_SEED);
    config.loose_bundle_id_filter = true;
    let h = start_with(config, key).await;
    let apps = h.get("/v1/apps?filter[bundleId]=com.example.demo").await;
    assert_eq!(
        attr_list(&apps.body, "bundleId"),
        ["com.example.demo", "com.example.demo.widget"]
    );
}

#[tokio::test]
async fn testflight_and_review_flows() {
    let h = start(DEMO_SEED).await;
    let builds = h
        .get("/v1/builds?filter[app]=1234567890&filter[version]=41")
        .await;
    let build = builds.body["data"][0]["id"]
        .as_str()
        .expect("build")
        .to_string();
    let loc = json!({"data": {"type": "betaBuildLocalizations", "attributes": {"locale": "en-US", "whatsNew": "Bug fixes"},
        "relationships": {"build": {"data": {"type": "builds", "id": build}}}}});
    let created = h
        .send("POST", "/v1/betaBuildLocalizations", Some(&loc))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(
        h.send("POST", "/v1/betaBuildLocalizations", Some(&loc))
            .await
            .status,
        409
    );
    let found = h
        .get(&format!(
            "/v1/betaBuildLocalizations?filter[build]={build}&filter[locale]=en-US"
        ))
        .await;
    assert_eq!(attr_list(&found.body, "whatsNew"), ["Bug fixes"]);
    let id = created.body["data"]["id"].as_str().expect("id");
    let patch = json!({"data": {"type": "betaBuildLocalizations", "id": id, "attributes": {"whatsNew": "More fixes"}}});
    assert_eq!(
        h.send(
            "PATCH",
            &format!("/v1/betaBuildLocalizations/{id}"),
            Some(&patch)
        )
        .await
        .status,
        200
    );

    let groups = h
        .get("/v1/betaGroups?filter[app]=1234567890&filter[name]=QA")
        .await;
    let group = groups.body["data"][0]["id"]
        .as_str()
        .expect("group")
        .to_string();
    let link = json!({"data": [{"type": "builds", "id": build}]});
    let linked = h
        .send(
            "POST",
            &format!("/v1/betaGroups/{group}/relationships/builds"),
            Some(&link),
        )
        .await;
    assert_eq!(linked.status, 204);
    let members = h.get(&format!("/v1/betaGroups/{group}/builds")).await;
    assert_eq!(attr_list(&members.body, "version"), ["41"]);

    let review = json!({"data": {"type": "betaAppReviewSubmissions", "relationships": {"build": {"data": {"type": "builds", "id": build}}}}});
    assert_eq!(
        h.send("POST", "/v1/betaAppReviewSubmissions", Some(&review))
            .await
            .status,
        201
    );
    let required = h.get("/v1/betaAppReviewSubmissions").await;
    assert_eq!(
        (required.status, error_code(&required.body)),
        (400, "PARAMETER_ERROR.REQUIRED")
    );
    let state = h
        .get(&format!(
            "/v1/betaAppReviewSubmissions?filter[build]={build}"
        ))
        .await;
    assert_eq!(
        attr_list(&state.body, "betaReviewState"),
        ["WAITING_FOR_REVIEW"]
    );
    let detail = h.get(&format!("/v1/builds/{build}/buildBetaDetail")).await;
    assert_eq!(
        detail.body["data"]["attributes"]["externalBuildState"],
        "WAITING_FOR_BETA_REVIEW"
    );
    let expire = json!({"data": {"type": "builds", "id": build, "attributes": {"expired": true, "usesNonExemptEncryption": false}}});
    let expired = h
        .send("PATCH", &format!("/v1/builds/{build}"), Some(&expire))
        .await;
    assert_eq!(expired.body["data"]["attributes"]["expired"], true);

    let version = json!({"data": {"type": "appStoreVersions", "attributes": {"platform": "IOS", "versionString": "1.2.3"},
        "relationships": {"app": {"data": {"type": "apps", "id": "1234567890"}}, "build": {"data": {"type": "builds", "id": build}}}}});
    let asv = h.send("POST", "/v1/appStoreVersions", Some(&version)).await;
    assert_eq!(asv.status, 201, "{}", asv.body);
    let asv_id = asv.body["data"]["id"].as_str().expect("id").to_string();
    let attached = h.get(&format!("/v1/appStoreVersions/{asv_id}/build")).await;
    assert_eq!(attached.body["data"]["id"], build.as_str());
    let submission = json!({"data": {"type": "reviewSubmissions", "attributes": {"platform": "IOS"},
        "relationships": {"app": {"data": {"type": "apps", "id": "1234567890"}}}}});
    let sub = h
        .send("POST", "/v1/reviewSubmissions", Some(&submission))
        .await;
    assert_eq!(sub.status, 201);
    let sub_id = sub.body["data"]["id"].as_str().expect("id").to_string();
    let second = h
        .send("POST", "/v1/reviewSubmissions", Some(&submission))
        .await;
    assert_eq!(second.status, 409);
    assert!(
        second.body["errors"][0]["detail"]
            .as_str()
            .expect("detail")
            .contains(&sub_id)
    );
    let submit = json!({"data": {"type": "reviewSubmissions", "id": sub_id, "attributes": {"submitted": true}}});
    assert_eq!(
        h.send(
            "PATCH",
            &format!("/v1/reviewSubmissions/{sub_id}"),
            Some(&submit)
        )
        .await
        .status,
        409,
        "no items yet"
    );
    let item = json!({"data": {"type": "reviewSubmissionItems", "relationships": {
        "reviewSubmission": {"data": {"type": "reviewSubmissions", "id": sub_id}},
        "appStoreVersion": {"data": {"type": "appStoreVersions", "id": asv_id}}}}});
    assert_eq!(
        h.send("POST", "/v1/reviewSubmissionItems", Some(&item))
            .await
            .status,
        201
    );
    let submitted = h
        .send(
            "PATCH",
            &format!("/v1/reviewSubmissions/{sub_id}"),
            Some(&submit),
        )
        .await;
    assert_eq!(
        submitted.body["data"]["attributes"]["state"],
        "WAITING_FOR_REVIEW"
    );
    let items = h
        .get(&format!("/v1/reviewSubmissions/{sub_id}/items"))
        .await;
    assert_eq!(items.body["data"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn hostile_requests_get_errors_not_panics() {
    let h = start(DEMO_SEED).await;
    let url = format!("{}/v1/buildUploads", h.base());
    let huge = vec![b'{'; 2 * 1024 * 1024];
    let response = h
        .client
        .post(&url)
        .bearer_auth(h.token())
        .body(huge)
        .send()
        .await;
    if let Ok(r) = response {
        assert_eq!(r.status(), 413);
    }
    for body in [
        "not json",
        "[]",
        "{\"data\": 5}",
        "{\"data\": {\"type\": \"apps\"}}",
        "{\"data\":{\"type\":\"buildUploads\",\"attributes\":7}}",
    ] {
        let r = h
            .client
            .post(&url)
            .bearer_auth(h.token())
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .expect("send");
        assert!(r.status().is_client_error(), "{body}: {}", r.status());
        let v: Value = r.json().await.expect("error json");
        assert!(v["errors"][0]["code"].is_string(), "{body}");
    }
    for path in [
        "/v1/",
        "/v1//apps",
        "/v1/nope",
        "/v1/apps/1234567890/nope",
        "/v1/apps/1/2/3/4/5",
        "/nope",
        "/upload/x/1",
        "/upload/x/-1",
    ] {
        let answer = h.get(path).await;
        assert!(
            (400..500).contains(&answer.status),
            "{path}: {}",
            answer.status
        );
    }
    assert_eq!(
        h.get("/v1/apps?filter[bundleId]=%FF%FE").await.body["data"],
        json!([])
    );
    let long = format!("/v1/apps?filter[name]={}", "x".repeat(50_000));
    assert!(
        h.client
            .get(format!("{}{long}", h.base()))
            .bearer_auth(h.token())
            .send()
            .await
            .is_ok()
    );
    let wrong_method = h.send("PUT", "/v1/apps", None).await;
    assert_eq!(wrong_method.status, 405);
    let patch_mismatch = h
        .send(
            "PATCH",
            "/v1/builds/x",
            Some(&json!({"data": {"type": "builds", "id": "y"}})),
        )
        .await;
    assert_eq!(patch_mismatch.status, 404);
    let file = json!({"data": {"type": "buildUploadFiles",
        "attributes": {"assetType": "ASSET", "fileName": "x.ipa", "fileSize": u64::MAX, "uti": "com.apple.ipa"},
        "relationships": {"buildUpload": {"data": {"type": "buildUploads", "id": "nope"}}}}});
    assert_eq!(
        h.send("POST", "/v1/buildUploadFiles", Some(&file))
            .await
            .status,
        409
    );
    // Still serving.
    assert_eq!(h.get("/v1/apps").await.status, 200);
}

#[tokio::test]
async fn sandbox_routes_show_state_and_requests() {
    let h = start(DEMO_SEED).await;
    h.get("/v1/apps?limit=1").await;
    let requests: Value = h
        .client
        .get(format!("{}/_sandbox/requests", h.base()))
        .send()
        .await
        .expect("req")
        .json()
        .await
        .expect("json");
    assert_eq!(
        requests,
        json!([{"method": "GET", "path": "/v1/apps?limit=1", "status": 200}])
    );
    let state: Value = h
        .client
        .get(format!("{}/_sandbox/state", h.base()))
        .send()
        .await
        .expect("req")
        .json()
        .await
        .expect("json");
    assert_eq!(state["apps"].as_array().map(Vec::len), Some(2));
    assert_eq!(state, h.emulator.state_json());
    let plan =
        json!({"rules": [{"path": "/v1/apps", "serverErrorsFirst": 1, "serverErrorStatus": 502}]});
    let put = h
        .client
        .put(format!("{}/_sandbox/faults", h.base()))
        .json(&plan)
        .send()
        .await
        .expect("put");
    assert_eq!(put.status(), 204);
    assert_eq!(h.get("/v1/apps").await.status, 502);
    let bad = h
        .client
        .put(format!("{}/_sandbox/faults", h.base()))
        .json(&json!({"rules": 5}))
        .send()
        .await
        .expect("put");
    assert_eq!(bad.status(), 400);
    let cleared = h
        .client
        .delete(format!("{}/_sandbox/requests", h.base()))
        .send()
        .await
        .expect("del");
    assert_eq!(cleared.status(), 204);
    assert!(h.emulator.request_log().is_empty());
    h.emulator.shutdown().await;
}

#[tokio::test]
async fn trains_alias_and_platforms_stay_apart() {
    let seed = json!({"apps": [{"id": "1", "bundleId": "com.example.multi",
        "builds": [{"id": "ios7", "version": "7", "preReleaseVersion": "1.2", "platform": "IOS"},
                   {"id": "mac9", "version": "9", "preReleaseVersion": "1.2", "platform": "MAC_OS"}],
        "buildUploads": [{"id": "up8", "cfBundleVersion": "8", "cfBundleShortVersionString": "1.2.0", "state": "COMPLETE"},
                         {"id": "upf", "cfBundleVersion": "10", "cfBundleShortVersionString": "1.2", "state": "FAILED"}]}]});
    let h = start(&seed.to_string()).await;
    // The COMPLETE upload of 1.2.0 became a build in the 1.2 train (Apple keeps the first spelling).
    let ios = h
        .get("/v1/builds?filter[app]=1&filter[preReleaseVersion.platform]=IOS&filter[preReleaseVersion.version]=1.2&sort=version")
        .await;
    assert_eq!(attr_list(&ios.body, "version"), ["7", "8"]);
    let alias = h
        .get("/v1/builds?filter[app]=1&filter[preReleaseVersion.version]=1.2.0")
        .await;
    assert_eq!(alias.body["data"], json!([]));
    let upload = h.get("/v1/buildUploads/up8?include=build").await;
    assert_eq!(upload.body["included"][0]["attributes"]["version"], "8");
    let mac = h
        .get("/v1/builds?filter[app]=1&filter[preReleaseVersion.platform]=MAC_OS")
        .await;
    assert_eq!(attr_list(&mac.body, "version"), ["9"]);
    let trains = h
        .get("/v1/preReleaseVersions?filter[app]=1&filter[platform]=IOS")
        .await;
    assert_eq!(attr_list(&trains.body, "version"), ["1.2"]);
    // A number used on one platform is free on another; a FAILED upload's number is free again.
    let mac_nine = h
        .send(
            "POST",
            "/v1/buildUploads",
            Some(&upload_body("1", "1.2", "7")),
        )
        .await;
    assert_eq!(mac_nine.status, 409);
    let mut other_platform = upload_body("1", "1.2", "7");
    other_platform["data"]["attributes"]["platform"] = json!("MAC_OS");
    assert_eq!(
        h.send("POST", "/v1/buildUploads", Some(&other_platform))
            .await
            .status,
        201
    );
    assert_eq!(
        h.send(
            "POST",
            "/v1/buildUploads",
            Some(&upload_body("1", "1.2", "10"))
        )
        .await
        .status,
        201
    );
    let failed = h.get("/v1/apps/1/buildUploads?filter[state]=FAILED").await;
    assert_eq!(attr_list(&failed.body, "cfBundleVersion"), ["10"]);
}

#[tokio::test]
async fn absurd_cursors_and_parts_are_refused_or_empty() {
    use base64::Engine;
    let h = start(DEMO_SEED).await;
    let cursor = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("{{\"offset\":\"{}\"}}", usize::MAX));
    let page = h.get(&format!("/v1/builds?cursor={cursor}")).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.body["data"], json!([]));
    assert!(page.body["links"].get("next").is_none());
    for part in ["0", "99999999999999999999999", "1"] {
        let status = h
            .client
            .put(format!("{}/upload/nope/{part}", h.base()))
            .header("Content-Type", "application/octet-stream")
            .body("x")
            .send()
            .await
            .expect("put")
            .status();
        assert_eq!(status, 404, "{part}");
    }
}

/// Where Apple's documentation is silent the emulator is strict (see `auth.rs`): each of these got a 200 before.
#[tokio::test]
async fn token_checks_closer_to_apple() {
    let h = start(DEMO_SEED).await;
    let now = now();
    let claims = |extra: Value| {
        let mut c = good_claims();
        for (k, v) in extra.as_object().expect("object") {
            c[k] = v.clone();
        }
        c
    };
    let with_crit = {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some(KID.into());
        header.typ = Some("JWT".into());
        // jsonwebtoken's Header has no `crit`: sign a header with one by hand.
        use base64::Engine as _;
        let b64 =
            |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let head =
            b64(&json!({"alg":"ES256","kid":KID,"typ":"JWT","crit":["x-unknown"],"x-unknown":1}));
        let body = b64(&good_claims());
        let signing_input = format!("{head}.{body}");
        let encoding = jsonwebtoken::EncodingKey::from_ec_pem(h.key.private_pkcs8_pem.as_bytes())
            .expect("key");
        let signature = jsonwebtoken::crypto::sign(signing_input.as_bytes(), &encoding, header.alg)
            .expect("sign");
        format!("{signing_input}.{signature}")
    };
    let refused: Vec<(&str, String)> = vec![
        (
            "aud as an array holding the audience",
            sign(
                &h.key,
                KID,
                &claims(json!({"aud": ["appstoreconnect-v1", "other"]})),
            ),
        ),
        ("unknown crit header", with_crit),
        (
            "nbf in the future",
            sign(&h.key, KID, &claims(json!({"nbf": now + 300}))),
        ),
        (
            "team token that also carries sub",
            sign(&h.key, KID, &claims(json!({"sub": "user"}))),
        ),
        (
            "scope for another path",
            sign(&h.key, KID, &claims(json!({"scope": ["GET /v1/builds"]}))),
        ),
        (
            "scope for another method",
            sign(&h.key, KID, &claims(json!({"scope": ["POST /v1/apps"]}))),
        ),
        (
            "scope with a query the request lacks",
            sign(
                &h.key,
                KID,
                &claims(json!({"scope": ["GET /v1/apps?filter[bundleId]=x"]})),
            ),
        ),
        (
            "scope that is not a list",
            sign(&h.key, KID, &claims(json!({"scope": "GET /v1/apps"}))),
        ),
        (
            "empty scope",
            sign(&h.key, KID, &claims(json!({"scope": []}))),
        ),
    ];
    for (name, token) in &refused {
        let answer = h.with_token("/v1/apps", Some(token)).await;
        assert_eq!(answer.status, 401, "{name}");
        assert_eq!(error_code(&answer.body), "NOT_AUTHORIZED", "{name}");
    }
    let allowed: Vec<(&str, &str, String)> = vec![
        (
            "scope naming the request",
            "/v1/apps",
            sign(
                &h.key,
                KID,
                &claims(json!({"scope": ["GET /v1/builds", "GET /v1/apps"]})),
            ),
        ),
        (
            "scope without the /v1 prefix",
            "/v1/apps",
            sign(&h.key, KID, &claims(json!({"scope": ["GET /apps"]}))),
        ),
        (
            "scope with a query the request has (encoded)",
            "/v1/apps?filter%5BbundleId%5D=com.example.demo&limit=5",
            sign(
                &h.key,
                KID,
                &claims(json!({"scope": ["GET /v1/apps?filter[bundleId]=com.example.demo"]})),
            ),
        ),
        (
            "nbf in the past",
            "/v1/apps",
            sign(&h.key, KID, &claims(json!({"nbf": now - 60}))),
        ),
    ];
    for (name, path, token) in &allowed {
        assert_eq!(h.with_token(path, Some(token)).await.status, 200, "{name}");
    }
    let notes: Vec<String> = h
        .emulator
        .request_log()
        .into_iter()
        .filter_map(|r| r.note)
        .collect();
    for expect in ["aud", "crit", "nbf", "sub", "scope"] {
        assert!(
            notes.iter().any(|n| n.contains(expect)),
            "{expect}: {notes:?}"
        );
    }
}
