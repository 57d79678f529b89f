//! `ipagate publish`: the real binary against the in-process App Store Connect emulator — the gate refusing with
//! zero requests, the online checks refusing with zero mutating requests, and the whole path to TestFlight and
//! App Store review.

use std::process::Output;

use ipagate_asc_emulator::Processing;
use serde_json::{Value, json};

use crate::upload::Sandbox;

const AS_OF: &str = "2026-12-01";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// An app with history, two TestFlight groups, complete test information and a live 1.2.2.
fn seed() -> Value {
    json!({"apps": [{
        "id": "1234567890",
        "bundleId": "com.example.demo",
        "primaryLocale": "en-GB",
        "builds": [{"version": "41", "preReleaseVersion": "1.2.3"}],
        "appStoreVersions": [{"versionString": "1.2.2", "appVersionState": "READY_FOR_DISTRIBUTION"}],
        "betaGroups": [
            {"id": "g-qa", "name": "QA", "isInternalGroup": true},
            {"id": "g-ext", "name": "External Testers"}
        ],
        "betaAppLocalizations": [{"locale": "en-GB", "feedbackEmail": "beta@example.com"}],
        "betaAppReviewDetail": {"contactFirstName": "Ada", "contactLastName": "Lovelace",
            "contactPhone": "+44 20 7946 0000", "contactEmail": "ada@example.com"}
    }]})
}

/// The sandbox with the bundled fixture that passes the gate (com.example.demo 1.2.3 (42), signed for the App
/// Store) in place of the generated IPA.
async fn sandbox(seed: Value, fixture: &str) -> Sandbox {
    // The build stays PROCESSING for 3 reads after its upload completed, as on App Store Connect.
    let sb = Sandbox::start_with(seed, |c| {
        c.processing = Processing::AfterPolls(2);
        c.build_processing_polls = 3;
    })
    .await;
    let source = format!("{}/fixtures/{fixture}", env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(source, &sb.ipa).unwrap();
    sb
}

async fn publish(sb: &Sandbox, extra: &[&str]) -> Output {
    // The fixtures are signed by the fixture CA, not by Apple.
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/TestRoot.der");
    let mut args = vec!["--as-of", AS_OF, "--trust-root", root];
    args.extend_from_slice(extra);
    let mut cmd = sb.command_for("publish", &args);
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn mutating(sb: &Sandbox) -> Vec<String> {
    sb.emu
        .request_log()
        .into_iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

fn rows<'a>(state: &'a Value, kind: &str) -> Vec<&'a Value> {
    state[kind]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "stdout is not JSON: {}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_to_testflight_and_app_store_review() {
    let sb = sandbox(seed(), "Demo.ipa").await;
    let out = publish(
        &sb,
        &[
            "--whats-new",
            "Bug fixes and a new login screen.",
            "--beta-group",
            "QA",
            "--beta-group",
            "External Testers",
            "--submit-beta-review",
            "--app-store",
            "--release-type",
            "manual",
            "--uses-non-exempt-encryption",
            "false",
            "--format",
            "json",
            "--progress",
            "json",
        ],
    )
    .await;
    let doc = json_of(&out);
    assert_eq!(out.status.code(), Some(0), "{doc:#}\n{}", text(&out.stderr));
    assert_eq!(doc["outcome"], "published");
    assert_eq!(doc["skipped_preflight"], false);
    assert_eq!(doc["preflight"]["summary"]["passed"], true);
    // The bytes uploaded are the bytes the gate hashed.
    assert_eq!(doc["upload"]["sha256"], doc["preflight"]["input"]["sha256"]);
    assert_eq!(doc["upload"]["state"], "COMPLETE");
    sb.assert_assembled(doc["upload"]["file_id"].as_str().unwrap());
    let build = doc["processing"]["build_id"].as_str().unwrap().to_owned();
    assert_eq!(doc["processing"]["processing_state"], "VALID");
    assert_eq!(doc["online"]["primary_locale"], "en-GB");
    assert_eq!(doc["online"]["train"]["next"], "42");
    assert_eq!(doc["testflight"]["whats_new_locales"], json!(["en-GB"]));
    assert_eq!(doc["testflight"]["beta_review_submitted"], true);
    assert_eq!(doc["app_store"]["version_string"], "1.2.3");
    assert_eq!(doc["app_store"]["version_created"], true);

    let state = sb.emu.state_json();
    let build_row = rows(&state, "builds")
        .into_iter()
        .find(|b| b["id"] == build.as_str())
        .unwrap()
        .clone();
    assert_eq!(build_row["attributes"]["version"], "42");
    assert_eq!(build_row["attributes"]["usesNonExemptEncryption"], false);
    let notes = rows(&state, "betaBuildLocalizations");
    assert!(
        notes.iter().any(|l| l["attributes"]["locale"] == "en-GB"
            && l["attributes"]["whatsNew"] == "Bug fixes and a new login screen."
            && l["relationships"]["build"] == build.as_str()),
        "{notes:?}"
    );
    for group in rows(&state, "betaGroups") {
        assert!(
            group["relationships"]["builds"]
                .as_array()
                .unwrap()
                .contains(&json!(build)),
            "{group}"
        );
    }
    assert!(
        rows(&state, "betaAppReviewSubmissions")
            .iter()
            .any(|s| s["relationships"]["build"] == build.as_str())
    );
    let version = rows(&state, "appStoreVersions")
        .into_iter()
        .find(|v| v["attributes"]["versionString"] == "1.2.3")
        .unwrap()
        .clone();
    assert_eq!(version["relationships"]["build"], build.as_str());
    assert_eq!(version["attributes"]["releaseType"], "MANUAL");
    let submissions = rows(&state, "reviewSubmissions");
    assert_eq!(submissions.len(), 1, "{submissions:?}");
    assert_eq!(submissions[0]["attributes"]["state"], "WAITING_FOR_REVIEW");

    // One JSON line per step for CI log parsers, and nothing secret anywhere.
    let events: Vec<Value> = text(&out.stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    for step in [
        "online_checks",
        "part_sent",
        "processing",
        "beta_groups",
        "beta_review",
        "submit_for_review",
    ] {
        assert!(events.iter().any(|e| e["event"] == step), "no {step} event");
    }
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    for line in sb.secret_lines() {
        assert!(!all.contains(&line), "a line of the private key leaked");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_gate_sends_not_one_request() {
    let sb = sandbox(seed(), "Broken.ipa").await;
    let out = publish(&sb, &["--format", "json", "--app-store"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let doc = json_of(&out);
    assert_eq!(doc["outcome"], "gate_failed");
    assert_eq!(doc["preflight"]["summary"]["passed"], false);
    assert!(doc["upload"].is_null());
    assert_eq!(sb.emu.request_log().len(), 0, "{:?}", sb.emu.request_log());
    // Human output: preflight's diagnostics, then the verdict.
    let out = publish(&sb, &["--color", "never"]).await;
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("error[ITMS-"), "{stdout}");
    assert!(
        stdout.contains("the preflight gate failed; nothing was sent to App Store Connect"),
        "{stdout}"
    );
    assert_eq!(sb.emu.request_log().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_checks_refuse_without_changing_anything() {
    // Build 42 already exists in 1.2.3; 1.2.3 is approved; a group name is wrong; beta review info is missing;
    // a review submission is in progress.
    let mut seed = seed();
    let app = &mut seed["apps"][0];
    app["builds"] = json!([{"version": "42", "preReleaseVersion": "1.2.3"}]);
    app["appStoreVersions"] =
        json!([{"versionString": "1.2.3", "appVersionState": "READY_FOR_DISTRIBUTION"}]);
    app.as_object_mut().unwrap().remove("betaAppReviewDetail");
    let sb = sandbox(seed, "Demo.ipa").await;
    let out = publish(
        &sb,
        &[
            "--beta-group",
            "Nope",
            "--submit-beta-review",
            "--format",
            "json",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let doc = json_of(&out);
    assert_eq!(doc["outcome"], "refused");
    let codes: Vec<&str> = doc["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "ITMS-90189",
            "ITMS-90062",
            "ASC-BETA-GROUP",
            "ASC-BETA-REVIEW-INFO"
        ],
        "{doc:#}"
    );
    let all = doc["diagnostics"].to_string();
    assert!(all.contains("set CFBundleVersion to 43"), "{all}");
    assert!(
        all.contains("\\\"QA\\\", \\\"External Testers\\\""),
        "{all}"
    );
    assert!(all.contains("review contact's first name"), "{all}");
    assert!(mutating(&sb).is_empty(), "{:?}", mutating(&sb));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_app_record_and_dry_run() {
    let mut other = seed();
    other["apps"][0]["bundleId"] = json!("com.example.other");
    let sb = sandbox(other, "Demo.ipa").await;
    let out = publish(&sb, &["--color", "never"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("error[ASC-NO-APP]"), "{stdout}");
    assert!(
        stdout.contains("create the app record in App Store Connect first"),
        "{stdout}"
    );
    assert!(mutating(&sb).is_empty());

    let sb = sandbox(seed(), "Demo.ipa").await;
    let out = publish(
        &sb,
        &[
            "--dry-run",
            "--beta-group",
            "QA",
            "--app-store",
            "--color",
            "never",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Dry run"), "{stdout}");
    assert!(stdout.contains("add to groups QA"), "{stdout}");
    assert!(mutating(&sb).is_empty(), "{:?}", mutating(&sb));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_preflight_is_loud_and_recorded() {
    let sb = Sandbox::start_with(seed(), |c| c.processing = Processing::AfterPolls(1)).await;
    // The generated IPA (unsigned: the gate would refuse it).
    let out = publish(
        &sb,
        &[
            "--skip-preflight",
            "--beta-group",
            "QA",
            "--format",
            "json",
            "--progress",
            "none",
        ],
    )
    .await;
    let doc = json_of(&out);
    assert_eq!(out.status.code(), Some(0), "{doc:#}\n{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--skip-preflight: the offline gate did NOT run"));
    assert_eq!(doc["skipped_preflight"], true);
    assert!(doc["preflight"].is_null());
    assert_eq!(doc["outcome"], "published");
    assert_eq!(doc["processing"]["export_compliance"], "unknown");
    // Processed, but testers wait until export compliance is answered.
    assert_eq!(
        doc["processing"]["internal_build_state"],
        "MISSING_EXPORT_COMPLIANCE"
    );
    assert!(
        text(&out.stderr).contains("export compliance is unanswered"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_what_to_test_is_a_usage_error_before_anything() {
    let sb = sandbox(seed(), "Demo.ipa").await;
    let out = publish(&sb, &["--whats-new", "see <b>this</b>"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("'<'"), "{}", text(&out.stderr));
    let notes = sb.dir.path().join("notes.json");
    std::fs::write(&notes, r#"{"en-US": "fine", "de-DE": 3}"#).unwrap();
    let out = publish(&sb, &["--whats-new-json", notes.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("\"de-DE\" is not a string"),
        "{}",
        text(&out.stderr)
    );
    assert!(sb.emu.request_log().is_empty());
}

/// A second build while the first waits for beta review and App Store review: refused without the flags, then
/// `--expire-previous` and `--cancel-previous-submissions` clear the way; What to Test in two locales.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_build_expires_and_cancels_what_is_in_the_way() {
    use ipagate_fixtures::{Bundle, Ipa};
    let sb = Sandbox::start_with(seed(), |c| {
        c.processing = Processing::AfterPolls(1);
        c.build_processing_polls = 1;
    })
    .await;
    let flags = [
        "--skip-preflight",
        "--uses-non-exempt-encryption",
        "false",
        "--submit-beta-review",
        "--app-store",
        "--format",
        "json",
        "--progress",
        "none",
    ];
    let out = publish(&sb, &flags).await;
    let first = json_of(&out);
    assert_eq!(out.status.code(), Some(0), "{first:#}");
    let first_build = first["processing"]["build_id"].as_str().unwrap().to_owned();
    assert_eq!(first["app_store"]["version_created"], true);

    Ipa::from_bundle(Bundle::app("Demo", "com.example.demo").executable_size(300_000))
        .version("1.2.3", "43")
        .write_to(&sb.ipa)
        .unwrap();
    let before = mutating(&sb).len();
    let out = publish(&sb, &flags).await;
    let refused = json_of(&out);
    assert_eq!(out.status.code(), Some(1), "{refused:#}");
    let codes: Vec<&str> = refused["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        ["ASC-BETA-REVIEW-BUSY", "ASC-REVIEW-IN-PROGRESS"],
        "{refused:#}"
    );
    assert_eq!(mutating(&sb).len(), before, "a refusal changed something");

    let notes = sb.dir.path().join("notes.json");
    std::fs::write(
        &notes,
        r#"{"en-GB": "New login screen.", "de-DE": "Neuer Anmeldebildschirm."}"#,
    )
    .unwrap();
    let mut more = flags.to_vec();
    more.extend([
        "--expire-previous",
        "--cancel-previous-submissions",
        "--whats-new-json",
    ]);
    more.push(notes.to_str().unwrap());
    let out = publish(&sb, &more).await;
    let second = json_of(&out);
    assert_eq!(out.status.code(), Some(0), "{second:#}");
    assert_eq!(second["testflight"]["expired_builds"], json!([first_build]));
    assert_eq!(
        second["testflight"]["whats_new_locales"],
        json!(["en-GB", "de-DE"])
    );
    assert_eq!(second["app_store"]["version_created"], false);
    assert_eq!(
        second["app_store"]["canceled_submissions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let state = sb.emu.state_json();
    let expired = rows(&state, "builds")
        .into_iter()
        .find(|b| b["id"] == first_build.as_str())
        .unwrap()["attributes"]["expired"]
        .clone();
    assert_eq!(expired, true);
    let states: Vec<&str> = rows(&state, "reviewSubmissions")
        .iter()
        .map(|s| s["attributes"]["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["COMPLETE", "WAITING_FOR_REVIEW"]);
    let locales: Vec<&str> = rows(&state, "betaBuildLocalizations")
        .iter()
        .map(|l| l["attributes"]["locale"].as_str().unwrap())
        .collect();
    assert_eq!(locales, ["en-GB", "de-DE"]);
}

/// A key whose role cannot upload: the first change is a 403, reported with the role publishing needs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_without_the_role_is_told_which_role_it_needs() {
    let sb = Sandbox::start_with(seed(), |c| {
        c.keys = c.keys.drain(..).map(|k| k.read_only()).collect();
    })
    .await;
    std::fs::copy(
        format!("{}/fixtures/Demo.ipa", env!("CARGO_MANIFEST_DIR")),
        &sb.ipa,
    )
    .unwrap();
    let out = publish(&sb, &["--color", "never", "--progress", "none"]).await;
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("error[ASC-FORBIDDEN]"), "{stdout}");
    assert!(stdout.contains("App Manager or Admin"), "{stdout}");
    // Only the refused create reached the server as a change.
    assert_eq!(
        mutating(&sb),
        ["POST /v1/buildUploads"],
        "{:?}",
        mutating(&sb)
    );
}
