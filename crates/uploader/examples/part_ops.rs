//! For the upload bench's raw-curl baseline: creates a build upload and its file for an IPA (with the build number
//! given, so it does not collide with ipagate's own upload of the same file) and prints one line per upload
//! operation, `OFFSET LENGTH URL`. Credentials as `ipagate upload` reads them from the environment;
//! `ASC_BASE_URL` is the server.
//!
//! `cargo run --release -p ipagate-uploader --example part_ops -- App.ipa 900`

use ipagate_asc::credentials::{CredentialFlags, ProcessEnvironment, resolve};
use ipagate_asc::{Client, Idempotency, Query};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(ipa), Some(build)) = (args.next(), args.next()) else {
        return Err("usage: part_ops IPA BUILD_NUMBER".into());
    };
    let path = std::path::Path::new(&ipa);
    let identity = ipagate_uploader::read_identity(path)?;
    let size = std::fs::metadata(path)?.len();
    let key = resolve(&CredentialFlags::default(), &ProcessEnvironment)?.key;
    let base = std::env::var("ASC_BASE_URL")?;
    let client = Client::builder(key).base_url(&base).build()?;
    let apps: Value = client
        .get(
            "/v1/apps",
            &Query::new().filter("bundleId", &[&identity.bundle_id]),
        )
        .await?;
    let app = apps["data"][0]["id"].as_str().ok_or("no app")?.to_owned();
    let upload: Value = client
        .post(
            "/v1/buildUploads",
            &json!({"data": {"type": "buildUploads", "attributes": {"cfBundleShortVersionString": identity.version,
                "cfBundleVersion": build, "platform": identity.platform.as_str()},
                "relationships": {"app": {"data": {"type": "apps", "id": app}}}}}),
            Idempotency::DuplicateDetectable,
        )
        .await?;
    let upload = upload["data"]["id"]
        .as_str()
        .ok_or("no upload id")?
        .to_owned();
    let file: Value = client
        .post(
            "/v1/buildUploadFiles",
            &json!({"data": {"type": "buildUploadFiles", "attributes": {"assetType": "ASSET", "fileName": "App.ipa",
                "fileSize": size, "uti": "com.apple.ipa"},
                "relationships": {"buildUpload": {"data": {"type": "buildUploads", "id": upload}}}}}),
            Idempotency::NotIdempotent,
        )
        .await?;
    for op in file["data"]["attributes"]["uploadOperations"]
        .as_array()
        .ok_or("no operations")?
    {
        println!(
            "{} {} {}",
            op["offset"].as_u64().unwrap_or_default(),
            op["length"].as_u64().unwrap_or_default(),
            op["url"].as_str().unwrap_or_default()
        );
    }
    Ok(())
}
