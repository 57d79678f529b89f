//! Part uploads: each PUT checked against its operation, parts assembled at their offsets, the commit verified
//! (size, SHA-256), URLs that expire and are re-issued, and the part fault plan.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use ipagate_asc_emulator::{PartFaults, Processing};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const DATA: &[u8] = b"0123456789";

/// An upload with a 10-byte file in parts of 4: (upload id, file id, operations).
async fn create(h: &Harness, number: &str) -> (String, String, Vec<Value>) {
    let body = json!({"data": {"type": "buildUploads",
        "attributes": {"cfBundleShortVersionString": "1.2.3", "cfBundleVersion": number, "platform": "IOS"},
        "relationships": {"app": {"data": {"type": "apps", "id": "1234567890"}}}}});
    let created = h.send("POST", "/v1/buildUploads", Some(&body)).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let upload = created.body["data"]["id"].as_str().unwrap().to_owned();
    let file_body = json!({"data": {"type": "buildUploadFiles",
        "attributes": {"assetType": "ASSET", "fileName": "demo.ipa", "fileSize": DATA.len(), "uti": "com.apple.ipa"},
        "relationships": {"buildUpload": {"data": {"type": "buildUploads", "id": upload}}}}});
    let file = h
        .send("POST", "/v1/buildUploadFiles", Some(&file_body))
        .await;
    assert_eq!(file.status, 201, "{}", file.body);
    let id = file.body["data"]["id"].as_str().unwrap().to_owned();
    let ops = file.body["data"]["attributes"]["uploadOperations"]
        .as_array()
        .unwrap()
        .clone();
    (upload, id, ops)
}

async fn put(h: &Harness, op: &Value, bytes: &[u8]) -> reqwest::Response {
    h.client
        .put(op["url"].as_str().unwrap())
        .header("Content-Type", "application/octet-stream")
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap()
}

fn range(op: &Value) -> std::ops::Range<usize> {
    let offset = op["offset"].as_u64().unwrap() as usize;
    offset..offset + op["length"].as_u64().unwrap() as usize
}

async fn commit(h: &Harness, file: &str, sha256: Option<&str>) -> u16 {
    let mut attributes = json!({"uploaded": true});
    if let Some(hash) = sha256 {
        attributes["sourceFileChecksums"] = json!({"file": {"hash": hash, "algorithm": "SHA_256"}});
    }
    let body = json!({"data": {"type": "buildUploadFiles", "id": file, "attributes": attributes}});
    h.send(
        "PATCH",
        &format!("/v1/buildUploadFiles/{file}"),
        Some(&body),
    )
    .await
    .status
}

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn harness(tweak: impl FnOnce(&mut ipagate_asc_emulator::Config)) -> Harness {
    let (mut config, key) = config(DEMO_SEED);
    config.upload_part_size = 4;
    config.processing = Processing::AfterPolls(1);
    tweak(&mut config);
    start_with(config, key).await
}

#[tokio::test]
async fn parts_are_checked_against_their_operation() {
    let h = harness(|_| {}).await;
    let (_, file, ops) = create(&h, "50").await;
    let url = ops[0]["url"].as_str().unwrap();
    assert!(url.contains("?expires="), "{url}");
    // An Authorization header is refused (presigned URLs carry their authority).
    let r = h
        .client
        .put(url)
        .header("Content-Type", "application/octet-stream")
        .header("Authorization", "Bearer x")
        .body(DATA[0..4].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Another method than the operation's.
    let r = h
        .client
        .post(url)
        .header("Content-Type", "application/octet-stream")
        .body(DATA[0..4].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    // A body of the wrong length (the range of another part).
    assert_eq!(put(&h, &ops[0], &DATA[0..2]).await.status(), 400);
    // A Content-Length that lies.
    let r = h
        .client
        .put(url)
        .header("Content-Type", "application/octet-stream")
        .header("Content-Length", "3")
        .body(DATA[0..3].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // A URL without its signature.
    let unsigned = url.split('?').next().unwrap();
    let r = h
        .client
        .put(unsigned)
        .header("Content-Type", "application/octet-stream")
        .body(DATA[0..4].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // The right PUTs, in any order, assemble byte-exactly.
    for op in ops.iter().rev() {
        assert_eq!(put(&h, op, &DATA[range(op)]).await.status(), 200);
    }
    assert_eq!(
        std::fs::read(h.emulator.upload_file_path(&file)).unwrap(),
        DATA
    );
    assert_eq!(commit(&h, &file, Some(&sha(DATA))).await, 200);
    let upload = h.get(&format!("/v1/buildUploadFiles/{file}")).await;
    assert_eq!(
        upload.body["data"]["attributes"]["assetDeliveryState"]["state"],
        "COMPLETE"
    );
}

#[tokio::test]
async fn a_wrong_range_is_caught_by_the_checksum_and_fails_the_upload() {
    let h = harness(|_| {}).await;
    let (upload, file, ops) = create(&h, "51").await;
    // Part 2 gets part 1's bytes: right length, wrong range.
    for op in &ops {
        let bytes = if op["partNumber"] == 2 {
            &DATA[0..4]
        } else {
            &DATA[range(op)]
        };
        assert_eq!(put(&h, op, bytes).await.status(), 200);
    }
    assert_eq!(commit(&h, &file, Some(&sha(DATA))).await, 200);
    let f = h.get(&format!("/v1/buildUploadFiles/{file}")).await;
    let state = &f.body["data"]["attributes"]["assetDeliveryState"];
    assert_eq!(state["state"], "FAILED");
    assert_eq!(state["errors"][0]["code"], "ASSET_CHECKSUM_MISMATCH");
    let u = h.get(&format!("/v1/buildUploads/{upload}")).await;
    let state = &u.body["data"]["attributes"]["state"];
    assert_eq!(state["state"], "FAILED");
    assert_eq!(state["errors"][0]["code"], "ASSET_CHECKSUM_MISMATCH");
    assert!(
        state["errors"][0]["description"]
            .as_str()
            .unwrap()
            .contains(&sha(DATA))
    );
}

#[tokio::test]
async fn expired_urls_are_refused_and_re_issued() {
    let h = harness(|c| c.upload_url_lifetime = Duration::from_secs(1)).await;
    let (_, file, ops) = create(&h, "52").await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = put(&h, &ops[0], &DATA[range(&ops[0])]).await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("Request has expired"));
    let fresh = h.get(&format!("/v1/buildUploadFiles/{file}")).await;
    let fresh_ops = fresh.body["data"]["attributes"]["uploadOperations"]
        .as_array()
        .unwrap()
        .clone();
    assert_ne!(fresh_ops[0]["url"], ops[0]["url"]);
    for op in &fresh_ops {
        assert_eq!(put(&h, op, &DATA[range(op)]).await.status(), 200);
    }
    assert_eq!(commit(&h, &file, Some(&sha(DATA))).await, 200);
}

#[tokio::test]
async fn part_faults_fail_and_reset_deterministically() {
    let h = harness(|_| {}).await;
    let (_, _, ops) = create(&h, "53").await;
    h.emulator.set_part_faults(PartFaults {
        fail_rate: 1.0,
        fail_status: Some(503),
        first_try_only: true,
        ..PartFaults::default()
    });
    let r = put(&h, &ops[0], &DATA[range(&ops[0])]).await;
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    assert_eq!(put(&h, &ops[0], &DATA[range(&ops[0])]).await.status(), 200);
    h.emulator.set_part_faults(PartFaults {
        reset_rate: 1.0,
        reset_after_bytes: 2,
        ..PartFaults::default()
    });
    let r = h
        .client
        .put(ops[1]["url"].as_str().unwrap())
        .header("Content-Type", "application/octet-stream")
        .body(DATA[range(&ops[1])].to_vec())
        .send()
        .await;
    // The connection is cut: no complete answer.
    match r {
        Err(_) => {}
        Ok(resp) => assert!(resp.bytes().await.is_err()),
    }
    // The sandbox endpoint takes the same plan as JSON.
    let r = h
        .client
        .put(format!("{}/_sandbox/partFaults", h.base()))
        .json(&json!({"failRate": 0.5, "seed": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let plan: Value = h
        .client
        .get(format!("{}/_sandbox/partFaults", h.base()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(plan["failRate"], 0.5);
}

/// An app package whose Info.plist contradicts the build upload fails processing with Apple's codes.
#[tokio::test]
async fn a_plist_contradicting_the_upload_fails_processing() {
    let h = harness(|c| c.upload_part_size = 64 * 1024).await;
    for (bundle, build, code) in [
        ("com.example.demo", "61", "90345"),
        ("com.example.other", "60", "90054"),
        ("com.example.demo", "60", ""),
    ] {
        let ipa = ipagate_fixtures::Ipa::app("Demo", bundle)
            .version("1.2.3", build)
            .build();
        let body = json!({"data": {"type": "buildUploads",
            "attributes": {"cfBundleShortVersionString": "1.2.3", "cfBundleVersion": "60", "platform": "IOS"},
            "relationships": {"app": {"data": {"type": "apps", "id": "1234567890"}}}}});
        // Each case its own upload of build 60 (a FAILED upload does not hold the number).
        let created = h.send("POST", "/v1/buildUploads", Some(&body)).await;
        assert_eq!(created.status, 201, "{}", created.body);
        let upload = created.body["data"]["id"].as_str().unwrap().to_owned();
        let file_body = json!({"data": {"type": "buildUploadFiles",
            "attributes": {"assetType": "ASSET", "fileName": "demo.ipa", "fileSize": ipa.len(), "uti": "com.apple.ipa"},
            "relationships": {"buildUpload": {"data": {"type": "buildUploads", "id": upload}}}}});
        let file = h
            .send("POST", "/v1/buildUploadFiles", Some(&file_body))
            .await;
        let file_id = file.body["data"]["id"].as_str().unwrap().to_owned();
        for op in file.body["data"]["attributes"]["uploadOperations"]
            .as_array()
            .unwrap()
        {
            assert_eq!(put(&h, op, &ipa[range(op)]).await.status(), 200);
        }
        assert_eq!(commit(&h, &file_id, Some(&sha(&ipa))).await, 200);
        let u = h.get(&format!("/v1/buildUploads/{upload}")).await;
        let state = &u.body["data"]["attributes"]["state"];
        if code.is_empty() {
            assert_eq!(state["state"], "COMPLETE", "{state}");
        } else {
            assert_eq!(state["state"], "FAILED", "{bundle} {build}: {state}");
            assert_eq!(state["errors"][0]["code"], code);
        }
    }
}
