//! Answers a well-behaved server never gives, over real HTTP from a canned server: HTML pages, truncated JSON,
//! looping `links.next`, absurd `Retry-After`, foreign links, oversized bodies, error documents.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Canned, CannedServer, RecordingSleeper, api_key, builder, key};
use ipagate_asc::jsonapi::{CreateDocument, Document, Linkage, ResourceOf};
use ipagate_asc::resources::{
    App, BuildUpload, BuildUploadCreateAttributes, BuildUploadCreateRelationships, Platform,
};
use ipagate_asc::{Idempotency, Query, RequestError};

const ISSUER: &str = "11111111-2222-3333-4444-555555555555";
const APPS_PAGE: &str = r#"{"data":[{"type":"apps","id":"1","attributes":{"bundleId":"com.example.demo"}}],"links":{"self":"{base}/v1/apps"}}"#;

async fn setup(script: Vec<Canned>) -> (CannedServer, ipagate_asc::Client, Arc<RecordingSleeper>) {
    let server = CannedServer::start(script).await;
    let sleeper = Arc::new(RecordingSleeper::default());
    let pair = key("HOSTILE001");
    let client = builder(api_key(&pair, ISSUER), &server.base, sleeper.clone())
        .build()
        .unwrap();
    (server, client, sleeper)
}

async fn list_apps(client: &ipagate_asc::Client) -> Result<usize, RequestError> {
    client
        .get_all::<App>("/v1/apps", &Query::new().limit(200))
        .await
        .map(|c| c.data.len())
}

#[tokio::test]
async fn html_page_with_success_status_is_named() {
    let (_s, client, _) = setup(vec![Canned::html(200)]).await;
    let err = list_apps(&client).await.unwrap_err();
    assert!(matches!(err, RequestError::NotJson { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        r#"GET /v1/apps: expected JSON, got an HTML page (starts with "<!DOCTYPE html><html")"#
    );
}

#[tokio::test]
async fn html_error_page_is_not_an_api_error() {
    let (_s, client, _) = setup(vec![Canned::html(403)]).await;
    let err = list_apps(&client).await.unwrap_err();
    assert!(
        err.to_string().contains("HTTP 403 with an HTML page"),
        "{err}"
    );
}

#[tokio::test]
async fn html_502_is_retried_then_reported() {
    let (server, client, sleeper) = setup(vec![Canned::html(502)]).await;
    let err = list_apps(&client).await.unwrap_err();
    assert!(
        matches!(err, RequestError::RetriesExhausted { attempts: 5, .. }),
        "{err:?}"
    );
    assert_eq!(server.request_lines().len(), 5);
    assert_eq!(sleeper.waits().len(), 4);
}

#[tokio::test]
async fn truncated_json_is_reported_as_truncated() {
    let (_s, client, _) = setup(vec![Canned::json(
        200,
        r#"{"data":[{"type":"apps","id":"1","attri"#,
    )])
    .await;
    let err = list_apps(&client).await.unwrap_err();
    assert!(err.to_string().contains("truncated JSON"), "{err}");
}

#[tokio::test]
async fn looping_next_link_is_an_error() {
    let page = r#"{"data":[{"type":"apps","id":"1"}],"links":{"self":"{base}/v1/apps?cursor=a","next":"{base}/v1/apps?cursor=b"}}"#;
    let back = r#"{"data":[{"type":"apps","id":"2"}],"links":{"self":"{base}/v1/apps?cursor=b","next":"{base}/v1/apps?cursor=b"}}"#;
    let (server, client, _) = setup(vec![Canned::json(200, page), Canned::json(200, back)]).await;
    let err = list_apps(&client).await.unwrap_err();
    assert!(matches!(err, RequestError::PagingLoop { .. }), "{err:?}");
    assert_eq!(server.request_lines().len(), 2);
}

/// A page of `n` apps (ids from the request number) whose `links.next` is always a new URL, like a server that
/// would page forever; `total` adds `meta.paging.total`.
fn endless_page(n: usize, total: Option<u64>, pad: usize) -> String {
    let data: Vec<String> = (0..n)
        .map(|k| format!(r#"{{"type":"apps","id":"{{n}}-{k}","attributes":{{"bundleId":"b"}}}}"#))
        .collect();
    let meta = match total {
        Some(t) => format!(r#","meta":{{"paging":{{"total":{t},"limit":200}}}}"#),
        None => String::new(),
    };
    format!(
        r#"{{"data":[{}],"links":{{"self":"{{base}}/v1/apps","next":"{{base}}/v1/apps?cursor={{n}}"}}{meta},"pad":"{}"}}"#,
        data.join(","),
        "x".repeat(pad)
    )
}

async fn endless(
    page: String,
    tweak: impl FnOnce(ipagate_asc::ClientBuilder) -> ipagate_asc::ClientBuilder,
) -> (CannedServer, RequestError) {
    let server = CannedServer::start(vec![Canned::json(200, &page)]).await;
    let pair = key("HOSTILE003");
    let client = tweak(builder(
        api_key(&pair, ISSUER),
        &server.base,
        Arc::new(RecordingSleeper::default()),
    ))
    .build()
    .unwrap();
    let err = list_apps(&client).await.unwrap_err();
    assert_eq!(err.to_string().lines().count(), 1, "{err}");
    (server, err)
}

/// Regression: an empty page that still links to a next one was followed up to 10 000 times.
#[tokio::test]
async fn empty_page_with_next_stops_paging() {
    let (server, err) = endless(endless_page(0, None, 0), |b| b).await;
    assert!(
        matches!(err, RequestError::EmptyPageWithNext { page: 1, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "GET /v1/apps: page 1 is empty but links.next continues; stopped paging"
    );
    assert_eq!(server.request_lines().len(), 1);
}

/// Regression: resources past `meta.paging.total` kept coming and were kept.
#[tokio::test]
async fn paging_past_the_announced_total_stops() {
    let (server, err) = endless(endless_page(2, Some(3), 0), |b| b).await;
    // 2, 4 (within total + a page), 6 > 3 + 2.
    assert!(
        matches!(
            err,
            RequestError::PagingPastTotal {
                items: 6,
                total: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("meta.paging.total said 3"),
        "{err}"
    );
    assert_eq!(server.request_lines().len(), 3);
}

/// Regression: no budget across pages; each page could be 64 MiB, for up to 10 000 pages.
#[tokio::test]
async fn listing_byte_budget_stops_paging() {
    let (server, err) = endless(endless_page(1, None, 1000), |b| b.max_listing_bytes(10_000)).await;
    assert!(
        matches!(err, RequestError::ListingTooLarge { limit: 10_000, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("larger than 10000 bytes"), "{err}");
    let requests = server.request_lines().len();
    assert!((9..=11).contains(&requests), "{requests}");
}

#[tokio::test]
async fn listing_item_budget_stops_paging() {
    let (server, err) = endless(endless_page(3, None, 0), |b| b.max_listing_items(10)).await;
    assert!(
        matches!(
            err,
            RequestError::TooManyItems {
                items: 12,
                limit: 10,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(server.request_lines().len(), 4);
}

#[tokio::test]
async fn next_link_to_another_host_is_refused() {
    let page = r#"{"data":[],"links":{"self":"x","next":"https://evil.example/v1/apps?cursor=b"}}"#;
    let (_s, client, _) = setup(vec![Canned::json(200, page)]).await;
    let err = list_apps(&client).await.unwrap_err();
    assert!(matches!(err, RequestError::ForeignLink { .. }), "{err:?}");
}

#[tokio::test]
async fn absurd_retry_after_is_an_error_without_waiting() {
    let (server, client, sleeper) = setup(vec![
        Canned::json(
            429,
            r#"{"errors":[{"status":"429","code":"RATE_LIMIT_EXCEEDED","title":"t"}]}"#,
        )
        .header("Retry-After", "86400"),
    ])
    .await;
    let err = list_apps(&client).await.unwrap_err();
    assert!(
        matches!(err, RequestError::RetryAfterTooLong { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("retry after 86400s"), "{err}");
    assert!(sleeper.waits().is_empty());
    assert_eq!(server.request_lines().len(), 1);
}

#[tokio::test]
async fn retry_after_is_honoured_then_success_and_rate_limit_exposed() {
    let ok = Canned::json(200, APPS_PAGE)
        .header("X-Rate-Limit", "user-hour-lim:3600;user-hour-rem:3597;");
    let (_s, client, sleeper) = setup(vec![
        Canned::json(
            429,
            r#"{"errors":[{"status":"429","code":"RATE_LIMIT_EXCEEDED","title":"t"}]}"#,
        )
        .header("Retry-After", "7"),
        Canned::json(503, "{}"),
        ok,
    ])
    .await;
    assert_eq!(list_apps(&client).await.unwrap(), 1);
    let waits = sleeper.waits();
    assert_eq!(waits[0], Duration::from_secs(7));
    // Second retry: base 250 ms doubled, jittered into [250 ms, 500 ms].
    assert!(
        waits[1] <= Duration::from_millis(500) && waits[1] >= Duration::from_millis(250),
        "{waits:?}"
    );
    let stats = client.stats();
    assert_eq!((stats.requests, stats.retries), (3, 2));
    let rl = stats.rate_limit.unwrap();
    assert_eq!(
        (rl.hourly_limit, rl.hourly_remaining),
        (Some(3600), Some(3597))
    );
}

#[tokio::test]
async fn api_error_keeps_fields_and_associated_errors() {
    let body = r#"{"errors":[{"id":"e1","status":"409","code":"STATE_ERROR.ENTITY_STATE_INVALID","title":"The request entity is invalid","detail":"cannot submit",
      "meta":{"associatedErrors":{"/v1/appStoreVersionLocalizations/L1":[{"status":"409","code":"ENTITY_ERROR.ATTRIBUTE.REQUIRED","title":"missing","detail":"description is required","source":{"pointer":"/data/attributes/description"}}]}}}]}"#;
    let (_s, client, _) = setup(vec![Canned::json(409, body)]).await;
    let err = list_apps(&client).await.unwrap_err();
    assert!(err.has_code("STATE_ERROR"));
    assert_eq!(err.status(), Some(409));
    let errors = err.api_errors().unwrap();
    assert_eq!(errors.0[0].id.as_deref(), Some("e1"));
    let assoc = &errors.0[0].meta.as_ref().unwrap().associated_errors["/v1/appStoreVersionLocalizations/L1"]
        [0];
    assert_eq!(assoc.code, "ENTITY_ERROR.ATTRIBUTE.REQUIRED");
    assert_eq!(
        assoc.source.as_ref().unwrap().pointer.as_deref(),
        Some("/data/attributes/description")
    );
    let text = err.to_string();
    assert!(!text.contains('\n'));
    assert!(text.contains("ENTITY_ERROR.ATTRIBUTE.REQUIRED (description is required) at /data/attributes/description"), "{text}");
}

#[tokio::test]
async fn unauthorized_once_reminted_and_retried() {
    let (_s, client, sleeper) = setup(vec![
        Canned::json(
            401,
            r#"{"errors":[{"status":"401","code":"NOT_AUTHORIZED","title":"t"}]}"#,
        ),
        Canned::json(200, APPS_PAGE),
    ])
    .await;
    assert_eq!(list_apps(&client).await.unwrap(), 1);
    assert_eq!(client.stats().tokens_minted, 2);
    assert!(sleeper.waits().is_empty());
}

#[tokio::test]
async fn unauthorized_twice_gives_the_clock_hint() {
    let (server, client, _) =
        setup(vec![Canned::json(401, r#"{"errors":[{"status":"401","code":"NOT_AUTHORIZED","title":"Authentication credentials are missing or invalid."}]}"#)]).await;
    let err = list_apps(&client).await.unwrap_err();
    assert!(matches!(err, RequestError::Unauthorized { .. }), "{err:?}");
    assert!(err.to_string().contains("clock"), "{err}");
    assert_eq!(server.request_lines().len(), 2);
}

#[tokio::test]
async fn oversized_body_is_refused() {
    let server = CannedServer::start(vec![Canned::json(
        200,
        &format!(r#"{{"data":[],"pad":"{}"}}"#, "x".repeat(10_000)),
    )])
    .await;
    let pair = key("HOSTILE002");
    let client = builder(
        api_key(&pair, ISSUER),
        &server.base,
        Arc::new(RecordingSleeper::default()),
    )
    .max_body_bytes(4096)
    .build()
    .unwrap();
    let err = list_apps(&client).await.unwrap_err();
    assert!(matches!(err, RequestError::TooLarge { .. }), "{err:?}");
}

fn upload_body() -> CreateDocument<BuildUploadCreateAttributes, BuildUploadCreateRelationships> {
    CreateDocument::new::<BuildUpload>(
        Some(BuildUploadCreateAttributes {
            cf_bundle_short_version_string: "1.2.3".into(),
            cf_bundle_version: "42".into(),
            platform: Platform::Ios,
        }),
        Some(BuildUploadCreateRelationships {
            app: Linkage::to::<App>("1"),
        }),
    )
}

#[tokio::test]
async fn non_idempotent_post_is_not_retried_on_5xx_but_dedupable_is() {
    let created = r#"{"data":{"type":"buildUploads","id":"u1","attributes":{"cfBundleVersion":"42"}},"links":{"self":"x"}}"#;
    let (server, client, _) =
        setup(vec![Canned::json(500, "{}"), Canned::json(201, created)]).await;
    let err = client
        .post::<_, Document<ResourceOf<BuildUpload>>>(
            "/v1/buildUploads",
            &upload_body(),
            Idempotency::NotIdempotent,
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(500), "{err:?}");
    assert_eq!(server.request_lines().len(), 1);

    let (server, client, _) =
        setup(vec![Canned::json(500, "{}"), Canned::json(201, created)]).await;
    let doc = client
        .post::<_, Document<ResourceOf<BuildUpload>>>(
            "/v1/buildUploads",
            &upload_body(),
            Idempotency::DuplicateDetectable,
        )
        .await
        .unwrap();
    assert_eq!(doc.data.id, "u1");
    assert_eq!(
        server.request_lines(),
        vec!["POST /v1/buildUploads HTTP/1.1"; 2]
    );
}

#[test]
fn debug_output_never_shows_the_key() {
    let pair = key("DEBUGKEY01");
    let api = api_key(&pair, ISSUER);
    let text = format!("{api:?}");
    let body: String = pair
        .private_pkcs8_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    assert!(!text.contains(&body[..20]), "{text}");
    assert!(text.contains("<redacted>"));
    let provider = ipagate_asc::TokenProvider::new(api);
    let token = provider.token().unwrap();
    let shown = format!("{token:?} {provider:?}");
    assert!(!shown.contains(token.expose()));
}

/// A server echoing the Authorization header in `detail`, `title`, `source` and `meta.associatedErrors`.
const ECHO_409: &str = r#"{"errors":[{"status":"409","code":"ENTITY_ERROR","title":"t","detail":"you sent {authorization}",
  "source":{"parameter":"sig={signature}"},
  "meta":{"associatedErrors":{"/v1/x":[{"status":"409","code":"X","title":"t","detail":"again {authorization} and sig={signature}"}]}}}]}"#;

fn assert_no_token(text: &str) {
    assert!(!text.contains("eyJ"), "token in message: {text}");
    assert!(!text.contains("Bearer ey"), "{text}");
}

#[tokio::test]
async fn server_echoing_the_token_in_a_409_never_gets_it_printed() {
    let (_s, client, _) = setup(vec![Canned::json(409, ECHO_409)]).await;
    let err = list_apps(&client).await.unwrap_err();
    let text = err.to_string();
    assert_no_token(&text);
    assert_no_token(&format!("{err:?}"));
    // The signature alone is no JWT, but it is the current token's: scrubbed too.
    assert!(
        text.contains("in parameter sig=<redacted>") && text.contains("and sig=<redacted>)"),
        "{text}"
    );
    assert!(text.contains("you sent Bearer <redacted>"), "{text}");
}

#[tokio::test]
async fn server_echoing_the_token_in_a_401_or_503_never_gets_it_printed() {
    let echo_401 = ECHO_409.replace("409", "401");
    let (_s, client, _) = setup(vec![Canned::json(401, &echo_401)]).await;
    let err = list_apps(&client).await.unwrap_err();
    assert!(matches!(err, RequestError::Unauthorized { .. }), "{err:?}");
    assert_no_token(&err.to_string());
    assert!(err.to_string().contains("sig=<redacted>"), "{err}");

    let echo_503 = ECHO_409.replace("409", "503");
    let (_s, client, _) = setup(vec![Canned::json(503, &echo_503)]).await;
    let err = list_apps(&client).await.unwrap_err();
    assert!(
        matches!(err, RequestError::RetriesExhausted { .. }),
        "{err:?}"
    );
    assert_no_token(&err.to_string());
}

#[test]
fn any_jwt_in_server_text_is_redacted_even_when_long() {
    // Redaction happens before the 300-character cut, so a token cut in half cannot slip through.
    let jwt = format!(
        "eyJ{}.eyJ{}.{}",
        "a".repeat(200),
        "b".repeat(200),
        "c".repeat(86)
    );
    let error: ipagate_asc::ApiError = serde_json::from_str(&format!(
        r#"{{"status":"409","code":"X","title":"t","detail":"token {jwt}"}}"#
    ))
    .unwrap();
    assert_eq!(error.to_string(), "X (token <redacted>)");
}

#[tokio::test]
async fn redirects_are_not_followed_and_name_the_target() {
    let (server, client, _) = setup(vec![
        Canned::json(302, "").header("Location", "https://evil.example:8443/v1/apps?steal=1"),
        Canned::json(200, APPS_PAGE),
    ])
    .await;
    let err = list_apps(&client).await.unwrap_err();
    assert!(
        matches!(err, RequestError::Redirected { status: 302, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "GET /v1/apps: the server answered HTTP 302, a redirect to evil.example; not followed (check --api-base-url)"
    );
    assert_eq!(
        server.request_lines().len(),
        1,
        "nothing retried or followed"
    );

    // A relative Location resolves against the API host; still not followed.
    let (server, client, _) =
        setup(vec![Canned::json(307, "").header("Location", "/v2/apps")]).await;
    let err = list_apps(&client).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("HTTP 307, a redirect to 127.0.0.1"),
        "{err}"
    );
    assert_eq!(server.request_lines().len(), 1);
}

#[test]
fn plain_http_only_to_loopback() {
    let pair = key("HOSTILE001");
    let build = |url: &str| {
        ipagate_asc::Client::builder(api_key(&pair, ISSUER))
            .base_url(url)
            .build()
    };
    for ok in [
        "http://127.0.0.1:8080",
        "http://127.3.4.5",
        "http://localhost:9/v1",
        "http://[::1]:8080",
        "https://api.appstoreconnect.apple.com",
        "https://10.0.0.5",
    ] {
        assert!(build(ok).is_ok(), "{ok}");
    }
    for insecure in [
        "http://api.appstoreconnect.apple.com",
        "http://10.0.0.5:8080",
        "http://localhost.evil.example",
        "http://[::2]",
    ] {
        let err = build(insecure).unwrap_err();
        assert!(
            matches!(err, ipagate_asc::client::BuildError::InsecureBaseUrl { .. }),
            "{insecure}: {err:?}"
        );
        assert!(
            err.to_string().starts_with("refusing plain http:// to "),
            "{err}"
        );
    }
    let err = build("ftp://x").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid App Store Connect base URL"),
        "{err}"
    );
}

#[tokio::test]
async fn a_token_in_a_foreign_next_link_is_not_printed() {
    let page = r#"{"data":[{"type":"apps","id":"1","attributes":{"bundleId":"x"}}],"links":{"self":"{base}/v1/apps","next":"https://evil.example/v1/apps?t={authorization}"}}"#;
    let (_s, client, _) = setup(vec![Canned::json(200, page)]).await;
    let err = list_apps(&client).await.unwrap_err();
    assert!(matches!(err, RequestError::ForeignLink { .. }), "{err:?}");
    let text = err.to_string();
    assert!(!text.contains("eyJ"), "{text}");
    assert!(text.contains("evil.example"), "{text}");
}

/// The deadline covers retries and waits: a `Retry-After` that would end past it fails at once, and retrying with
/// real (tokio) sleeps stops at the deadline.
#[tokio::test]
async fn the_deadline_bounds_retries_and_waits() {
    let busy = Canned::json(
        503,
        r#"{"errors":[{"status":"503","code":"UNAVAILABLE","title":"t"}]}"#,
    );
    let server = CannedServer::start(vec![busy.clone().header("Retry-After", "30")]).await;
    let pair = key("HOSTILE002");
    let client = ipagate_asc::Client::builder(api_key(&pair, ISSUER))
        .base_url(&server.base)
        .deadline(Some(Duration::from_secs(2)))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let err = list_apps(&client).await.unwrap_err();
    assert!(
        matches!(err, RequestError::WaitPastDeadline { .. }),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert!(err.to_string().contains("would wait 30s"), "{err}");

    let server = CannedServer::start(vec![busy.header("Retry-After", "1")]).await;
    let client = ipagate_asc::Client::builder(api_key(&pair, ISSUER))
        .base_url(&server.base)
        .deadline(Some(Duration::from_millis(2500)))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let err = list_apps(&client).await.unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(
            err,
            RequestError::WaitPastDeadline { .. } | RequestError::Deadline { .. }
        ),
        "{err:?}"
    );
    assert!(took < Duration::from_millis(3000), "{took:?}");
    assert!(server.request_lines().len() >= 2, "it did retry");
}

/// A hostile server echoing the token into an error's path, a serde message and a foreign link: the error text
/// never holds any part of it (the client's redactor knows its tokens).
#[tokio::test]
async fn errors_never_quote_the_token_or_its_parts() {
    let cases = [
        Canned::json(
            200,
            r#"{"data":[],"links":{"self":"x"},"meta":{"paging":{"total":"{signature}"}}}"#,
        ),
        Canned::json(
            200,
            r#"{"data":[{"type":"apps","id":"1"}],"links":{"self":"x","next":"{base}/v1/{signature}/x"}}"#,
        ),
        Canned::json(
            200,
            r#"{"data":[],"links":{"self":"x","next":"https://e.example/?a={signature}"}}"#,
        ),
        Canned::json(
            400,
            r#"{"errors":[{"status":"400","code":"{signature}","title":"{authorization}"}]}"#,
        ),
        Canned::json(404, "{signature} is not here"),
    ];
    for (i, canned) in cases.into_iter().enumerate() {
        let (server, client, _) = setup(vec![canned, Canned::html(500)]).await;
        let err = list_apps(&client).await.unwrap_err();
        let text = format!("{err} {err:?}");
        let token = client.tokens().token().unwrap();
        let signature = token.expose().rsplit('.').next().unwrap().to_owned();
        assert!(!text.contains(&signature[..16]), "case {i}: {text}");
        assert!(!text.contains("eyJ"), "case {i}: {text}");
        assert!(!server.request_lines().is_empty());
    }
}
