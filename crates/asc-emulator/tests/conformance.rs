//! Every route the emulator serves answers what Apple's OpenAPI spec declares, and the request
//! bodies the tools send (from `app-store-connect.md`) match the spec's request schemas.

mod common;

use common::*;
use ipagate_asc_emulator::conformance::{self, path_template};
use serde_json::{Value, json};

struct Checker<'a> {
    h: &'a Harness,
    checked: Vec<String>,
    failures: Vec<String>,
}

impl Checker<'_> {
    async fn call(&mut self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url_path = path
            .strip_prefix(&self.h.base())
            .unwrap_or(path)
            .to_string();
        let template =
            path_template(&url_path).unwrap_or_else(|| panic!("no template for {url_path}"));
        if let Some(b) = &body
            && let Err(errors) = conformance::validate_request(method, template, b)
        {
            self.failures
                .push(format!("request {method} {template}: {errors:?}"));
        }
        let answer = self.h.send(method, &url_path, body.as_ref()).await;
        if let Err(errors) =
            conformance::validate_response(method, template, answer.status, &answer.body)
        {
            self.failures.push(format!(
                "{method} {url_path} -> {}: {errors:?}",
                answer.status
            ));
        }
        self.checked
            .push(format!("{method} {template} {}", answer.status));
        answer.body
    }
}

fn id(body: &Value) -> String {
    body["data"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {body}"))
        .to_string()
}

fn first_id(body: &Value) -> String {
    body["data"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {body}"))
        .to_string()
}

#[tokio::test]
async fn responses_match_the_openapi_schemas() {
    let (mut config, key) = config(DEMO_SEED);
    config.upload_part_size = 4;
    let h = start_with(config, key).await;
    let mut c = Checker {
        h: &h,
        checked: Vec::new(),
        failures: Vec::new(),
    };
    let app = "1234567890";
    c.call(
        "GET",
        "/v1/apps?filter[bundleId]=com.example.demo&limit=100&sort=name",
        None,
    )
    .await;
    c.call("GET", &format!("/v1/apps/{app}"), None).await;
    c.call("GET", "/v1/apps/404", None).await;
    c.call("GET", "/v1/apps?limit=500", None).await;
    let builds = c
        .call("GET", &format!("/v1/builds?filter[app]={app}&include=preReleaseVersion,buildBetaDetail,app&limit=1&sort=-version"), None)
        .await;
    let build = first_id(&builds);
    c.call(
        "GET",
        &format!("/v1/builds/{build}?include=preReleaseVersion,appStoreVersion,betaGroups"),
        None,
    )
    .await;
    c.call("GET", &format!("/v1/builds/{build}/app"), None)
        .await;
    c.call(
        "GET",
        &format!("/v1/builds/{build}/preReleaseVersion"),
        None,
    )
    .await;
    c.call("GET", &format!("/v1/builds/{build}/buildBetaDetail"), None)
        .await;
    c.call(
        "GET",
        &format!("/v1/builds/{build}/betaBuildLocalizations"),
        None,
    )
    .await;
    c.call("GET", &format!("/v1/apps/{app}/builds?limit=200"), None)
        .await;
    c.call("GET", &format!("/v1/apps/{app}/betaGroups"), None)
        .await;
    let trains = c
        .call("GET", &format!("/v1/preReleaseVersions?filter[app]={app}&filter[platform]=IOS&sort=-version&include=builds,app"), None)
        .await;
    let train = first_id(&trains);
    c.call("GET", &format!("/v1/preReleaseVersions/{train}"), None)
        .await;
    c.call(
        "GET",
        &format!("/v1/preReleaseVersions/{train}/builds?limit=200&fields[builds]=version"),
        None,
    )
    .await;
    c.call("GET", &format!("/v1/preReleaseVersions/{train}/app"), None)
        .await;
    c.call("GET", &format!("/v1/apps/{app}/preReleaseVersions"), None)
        .await;
    let versions = c
        .call(
            "GET",
            &format!(
                "/v1/apps/{app}/appStoreVersions?limit=200&include=build&fields[builds]=version"
            ),
            None,
        )
        .await;
    let version = first_id(&versions);
    c.call(
        "GET",
        &format!("/v1/appStoreVersions/{version}?include=build,app"),
        None,
    )
    .await;
    c.call(
        "GET",
        &format!("/v1/appStoreVersions/{version}/build?fields[builds]=version"),
        None,
    )
    .await;
    let uploads = c
        .call("GET", &format!("/v1/apps/{app}/buildUploads?filter[state]=PROCESSING,COMPLETE&sort=-uploadedDate&limit=1&include=build"), None)
        .await;
    let seeded_upload = first_id(&uploads);
    c.call(
        "GET",
        &format!("/v1/buildUploads/{seeded_upload}/buildUploadFiles"),
        None,
    )
    .await;

    // The upload flow with the bodies of app-store-connect.md §5.
    let upload = c
        .call("POST", "/v1/buildUploads", Some(json!({"data":{"type":"buildUploads",
            "attributes":{"cfBundleShortVersionString":"1.2.3","cfBundleVersion":"45","platform":"IOS"},
            "relationships":{"app":{"data":{"type":"apps","id":app}}}}})))
        .await;
    let upload = id(&upload);
    c.call(
        "POST",
        "/v1/buildUploads",
        Some(json!({"data":{"type":"buildUploads",
        "attributes":{"cfBundleShortVersionString":"1.2.3","cfBundleVersion":"45","platform":"IOS"},
        "relationships":{"app":{"data":{"type":"apps","id":app}}}}})),
    )
    .await;
    let file = c
        .call("POST", "/v1/buildUploadFiles", Some(json!({"data":{"type":"buildUploadFiles",
            "attributes":{"assetType":"ASSET","fileName":"App.ipa","fileSize":6,"uti":"com.apple.ipa"},
            "relationships":{"buildUpload":{"data":{"type":"buildUploads","id":upload}}}}})))
        .await;
    let file_id = id(&file);
    for op in file["data"]["attributes"]["uploadOperations"]
        .as_array()
        .expect("ops")
    {
        let offset = op["offset"].as_u64().expect("offset") as usize;
        let length = op["length"].as_u64().expect("length") as usize;
        let status = h
            .client
            .put(op["url"].as_str().expect("url"))
            .header("Content-Type", "application/octet-stream")
            .body(b"abcdef"[offset..offset + length].to_vec())
            .send()
            .await
            .expect("put")
            .status();
        assert_eq!(status, 200);
    }
    c.call("GET", &format!("/v1/buildUploadFiles/{file_id}"), None)
        .await;
    c.call("PATCH", &format!("/v1/buildUploadFiles/{file_id}"), Some(json!({"data":{"type":"buildUploadFiles","id":file_id,
        "attributes":{"sourceFileChecksums":{"file":{"hash":"e80b5017098950fc58aad83c8c14978e","algorithm":"MD5"}},"uploaded":true}}}))).await;
    c.call(
        "GET",
        &format!("/v1/buildUploads/{upload}?fields[buildUploads]=state,build&include=build"),
        None,
    )
    .await;
    let done = c
        .call(
            "GET",
            &format!("/v1/buildUploads/{upload}?include=build,assetFile"),
            None,
        )
        .await;
    let new_build = done["data"]["relationships"]["build"]["data"]["id"]
        .as_str()
        .expect("build")
        .to_string();
    c.call(
        "GET",
        &format!("/v1/buildUploads/{upload}/buildUploadFiles"),
        None,
    )
    .await;
    let doomed = c
        .call("POST", "/v1/buildUploads", Some(json!({"data":{"type":"buildUploads",
            "attributes":{"cfBundleShortVersionString":"1.2.3","cfBundleVersion":"46","platform":"IOS"},
            "relationships":{"app":{"data":{"type":"apps","id":app}}}}})))
        .await;
    c.call("DELETE", &format!("/v1/buildUploads/{}", id(&doomed)), None)
        .await;

    // TestFlight (§6, §7).
    c.call("PATCH", &format!("/v1/builds/{new_build}"), Some(json!({"data":{"type":"builds","id":new_build,"attributes":{"usesNonExemptEncryption":false}}}))).await;
    let details = c
        .call(
            "GET",
            &format!("/v1/buildBetaDetails?filter[build]={new_build}"),
            None,
        )
        .await;
    let detail = first_id(&details);
    c.call("GET", &format!("/v1/buildBetaDetails/{detail}"), None)
        .await;
    c.call("PATCH", &format!("/v1/buildBetaDetails/{detail}"), Some(json!({"data":{"type":"buildBetaDetails","id":detail,"attributes":{"autoNotifyEnabled":true}}}))).await;
    let loc = c
        .call("POST", "/v1/betaBuildLocalizations", Some(json!({"data":{"type":"betaBuildLocalizations","attributes":{"locale":"en-US","whatsNew":"Bug fixes"},
            "relationships":{"build":{"data":{"type":"builds","id":new_build}}}}})))
        .await;
    let loc = id(&loc);
    c.call(
        "GET",
        &format!(
            "/v1/betaBuildLocalizations?limit=100&filter[build]={new_build}&filter[locale]=en-US"
        ),
        None,
    )
    .await;
    c.call("GET", &format!("/v1/betaBuildLocalizations/{loc}"), None)
        .await;
    c.call("PATCH", &format!("/v1/betaBuildLocalizations/{loc}"), Some(json!({"data":{"type":"betaBuildLocalizations","id":loc,"attributes":{"whatsNew":"More"}}}))).await;
    let groups = c
        .call(
            "GET",
            &format!("/v1/betaGroups?filter[app]={app}&filter[name]=QA&sort=name"),
            None,
        )
        .await;
    let group = first_id(&groups);
    c.call(
        "GET",
        &format!("/v1/betaGroups/{group}?include=builds,app"),
        None,
    )
    .await;
    c.call(
        "POST",
        &format!("/v1/betaGroups/{group}/relationships/builds"),
        Some(json!({"data":[{"type":"builds","id":new_build}]})),
    )
    .await;
    c.call(
        "POST",
        &format!("/v1/builds/{build}/relationships/betaGroups"),
        Some(json!({"data":[{"type":"betaGroups","id":group}]})),
    )
    .await;
    c.call("GET", &format!("/v1/betaGroups/{group}/builds"), None)
        .await;
    let review = c
        .call("POST", "/v1/betaAppReviewSubmissions", Some(json!({"data":{"type":"betaAppReviewSubmissions","relationships":{"build":{"data":{"type":"builds","id":new_build}}}}})))
        .await;
    c.call(
        "GET",
        &format!("/v1/betaAppReviewSubmissions/{}", id(&review)),
        None,
    )
    .await;
    c.call(
        "GET",
        &format!("/v1/betaAppReviewSubmissions?filter[build]={new_build}"),
        None,
    )
    .await;

    // App Store (§8).
    let asv = c
        .call("POST", "/v1/appStoreVersions", Some(json!({"data":{"type":"appStoreVersions","attributes":{"platform":"IOS","versionString":"1.2.3","releaseType":"MANUAL","copyright":"2026 Example"},
            "relationships":{"app":{"data":{"type":"apps","id":app}}}}})))
        .await;
    let asv = id(&asv);
    c.call("PATCH", &format!("/v1/appStoreVersions/{asv}"), Some(json!({"data":{"type":"appStoreVersions","id":asv,"attributes":{"copyright":"2027 Example"},
        "relationships":{"build":{"data":{"type":"builds","id":new_build}}}}}))).await;
    c.call(
        "PATCH",
        &format!("/v1/appStoreVersions/{asv}/relationships/build"),
        Some(json!({"data":{"type":"builds","id":new_build}})),
    )
    .await;
    let submission = c
        .call("POST", "/v1/reviewSubmissions", Some(json!({"data":{"type":"reviewSubmissions","attributes":{"platform":"IOS"},"relationships":{"app":{"data":{"type":"apps","id":app}}}}})))
        .await;
    let submission = id(&submission);
    c.call(
        "POST",
        "/v1/reviewSubmissionItems",
        Some(
            json!({"data":{"type":"reviewSubmissionItems","relationships":{
        "reviewSubmission":{"data":{"type":"reviewSubmissions","id":submission}},
        "appStoreVersion":{"data":{"type":"appStoreVersions","id":asv}}}}}),
        ),
    )
    .await;
    c.call("PATCH", &format!("/v1/reviewSubmissions/{submission}"), Some(json!({"data":{"type":"reviewSubmissions","id":submission,"attributes":{"submitted":true}}}))).await;
    c.call("GET", &format!("/v1/reviewSubmissions?filter[app]={app}&filter[platform]=IOS&filter[state]=WAITING_FOR_REVIEW,IN_REVIEW,UNRESOLVED_ISSUES"), None).await;
    c.call("GET", &format!("/v1/reviewSubmissions/{submission}"), None)
        .await;
    c.call(
        "GET",
        &format!("/v1/reviewSubmissions/{submission}/items"),
        None,
    )
    .await;

    assert!(c.failures.is_empty(), "{:#?}", c.failures);
    let statuses: Vec<&str> = c
        .checked
        .iter()
        .map(|s| s.rsplit(' ').next().unwrap_or(""))
        .collect();
    for wanted in ["200", "201", "204", "400", "404", "409"] {
        assert!(
            statuses.contains(&wanted),
            "no {wanted} checked: {:#?}",
            c.checked
        );
    }
    assert!(c.checked.len() >= 55, "{}", c.checked.len());
}

#[test]
fn the_validator_catches_bad_bodies() {
    let good = json!({"data":{"type":"buildUploads",
        "attributes":{"cfBundleShortVersionString":"1.2.3","cfBundleVersion":"42","platform":"IOS"},
        "relationships":{"app":{"data":{"type":"apps","id":"1"}}}}});
    assert!(conformance::validate_request("POST", "/v1/buildUploads", &good).is_ok());
    let mut bad = good.clone();
    bad["data"]["attributes"]["platform"] = json!("ANDROID");
    bad["data"]["relationships"] = json!({});
    let errors = conformance::validate_request("POST", "/v1/buildUploads", &bad).expect_err("bad");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("/data/attributes/platform")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("missing required property \"app\"")),
        "{errors:?}"
    );
    let error =
        json!({"errors":[{"status":"409","code":"X","title":"t","source":{"pointer":"/data"}}]});
    assert!(conformance::validate_response("POST", "/v1/buildUploads", 409, &error).is_ok());
    assert!(
        conformance::validate_response(
            "POST",
            "/v1/buildUploads",
            409,
            &json!({"errors":[{"code":"X"}]})
        )
        .is_err()
    );
    assert!(
        conformance::validate_schema(
            "Build",
            &json!({"type":"builds","id":"1","attributes":{"version":7}})
        )
        .is_err()
    );
    assert!(conformance::validate_schema("Nope", &json!({})).is_err());
    assert_eq!(
        path_template("/v1/apps/1/buildUploads?limit=1"),
        Some("/v1/apps/{id}/buildUploads")
    );
    assert_eq!(path_template("/v1/unknown"), None);
}
