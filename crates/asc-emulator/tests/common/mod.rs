//! Shared helpers: start an emulator with a fresh key, sign tokens, make requests.
#![allow(dead_code)]

use std::time::{SystemTime, UNIX_EPOCH};

use ipagate_asc_emulator::{ApiKey, Config, Emulator, Seed, testkey};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

pub const ISSUER: &str = "11111111-2222-3333-4444-555555555555";
pub const KID: &str = "TESTKEY123";

pub const DEMO_SEED: &str = r#"{"apps":[{"id":"1234567890","bundleId":"com.example.demo","name":"Demo","sku":"DEMO",
  "builds":[{"version":"41","preReleaseVersion":"1.2.3","platform":"IOS","processingState":"VALID","uploadedDate":"2026-01-02T03:04:05Z","expired":false},
            {"version":"39","preReleaseVersion":"1.2.3","platform":"IOS","uploadedDate":"2026-01-01T03:04:05Z"}],
  "buildUploads":[{"cfBundleShortVersionString":"1.2.3","cfBundleVersion":"42","platform":"IOS","state":"PROCESSING","uploadedDate":"2026-01-03T00:00:00Z"}],
  "appStoreVersions":[{"versionString":"1.2.2","platform":"IOS","appVersionState":"READY_FOR_DISTRIBUTION","build":"40"}],
  "betaGroups":[{"name":"QA","isInternalGroup":true}]},
  {"id":"2222222222","bundleId":"com.example.demo.widget","name":"Widget"}]}"#;

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub struct Harness {
    pub emulator: Emulator,
    pub key: testkey::KeyPair,
    pub client: reqwest::Client,
}

pub fn config(seed: &str) -> (Config, testkey::KeyPair) {
    let key = testkey::generate(KID);
    let config = Config {
        seed: Seed::from_json(seed).expect("seed"),
        issuer_id: ISSUER.into(),
        keys: vec![ApiKey::team(KID, &key.public_pem)],
        ..Config::default()
    };
    (config, key)
}

pub async fn start(seed: &str) -> Harness {
    let (config, key) = config(seed);
    start_with(config, key).await
}

pub async fn start_with(config: Config, key: testkey::KeyPair) -> Harness {
    let emulator = Emulator::start(config, "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("start");
    Harness {
        emulator,
        key,
        client: reqwest::Client::new(),
    }
}

/// Signs `claims` with `key` (ES256, `kid`).
pub fn sign(key: &testkey::KeyPair, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.to_string());
    header.typ = Some("JWT".into());
    let encoding = EncodingKey::from_ec_pem(key.private_pkcs8_pem.as_bytes()).expect("key");
    jsonwebtoken::encode(&header, claims, &encoding).expect("sign")
}

pub fn good_claims() -> Value {
    let now = now();
    json!({"iss": ISSUER, "iat": now - 60, "exp": now + 15 * 60, "aud": "appstoreconnect-v1"})
}

pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Harness {
    pub fn base(&self) -> String {
        self.emulator.base_url()
    }

    pub fn token(&self) -> String {
        sign(&self.key, KID, &good_claims())
    }

    pub async fn send(&self, method: &str, path_or_url: &str, body: Option<&Value>) -> Answer {
        let url = if path_or_url.starts_with("http") {
            path_or_url.to_string()
        } else {
            format!("{}{path_or_url}", self.base())
        };
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.client.request(method, url).bearer_auth(self.token());
        if let Some(b) = body {
            request = request.json(b);
        }
        let response = request.send().await.expect("send");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("json body")
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send("GET", path, None).await
    }

    pub async fn with_token(&self, path: &str, token: Option<&str>) -> Answer {
        let mut request = self.client.get(format!("{}{path}", self.base()));
        if let Some(t) = token {
            request = request.header("Authorization", format!("Bearer {t}"));
        }
        let response = request.send().await.expect("send");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.json().await.unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
        }
    }
}

/// `data[*].attributes.<name>` as strings.
pub fn attr_list(body: &Value, name: &str) -> Vec<String> {
    body["data"]
        .as_array()
        .expect("data array")
        .iter()
        .map(|r| r["attributes"][name].as_str().unwrap_or("").to_string())
        .collect()
}

pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["code"].as_str().unwrap_or("")
}
