//! The upload flow (see the crate docs).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{TryStreamExt, stream};
use ipagate_asc::{Client, Idempotency, PartError, PartRequest, Query, RequestError};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::journal::{self, Journal, PartRange};
use crate::{
    Diagnostic, Event, Identity, Severity, UploadError, UploadOptions, UploadOutcome, read_identity,
};

type Emit<'a> = &'a (dyn Fn(Event) + Send + Sync);

/// Uploads the IPA at `input` (see the crate docs); `on_event` hears the progress.
///
/// Apple rejecting the build (upload FAILED, `state.errors`) is an `Ok` outcome with [`UploadOutcome::failed`];
/// errors are what stopped the flow.
pub async fn upload(
    client: &Client,
    input: &Path,
    options: &UploadOptions,
    on_event: Emit<'_>,
) -> Result<UploadOutcome, UploadError> {
    let identity = read_identity(input)?;
    let file = Arc::new(File::open(input).map_err(|source| UploadError::Io {
        path: input.to_owned(),
        source,
    })?);
    // Hashing runs on the blocking pool while the upload starts; the SHA-256 is needed only to find a journal
    // (when one may exist), to name a new one, and for the commit.
    let hash = Hash::start(file.clone());
    run(client, input, identity, file, hash, options, on_event).await
}

/// An input a caller has already read and hashed through an open handle (`publish`, after the gate passed).
#[derive(Debug, Clone)]
pub struct Checked {
    /// The handle the gate read: the bytes uploaded are the bytes checked, even if the path changed since.
    pub file: Arc<File>,
    /// What the IPA says it is (see [`crate::identity_of`]).
    pub identity: Identity,
    /// SHA-256 of the handle's bytes (lowercase hex).
    pub sha256: String,
}

/// [`upload`] for an input already identified and hashed: no second open, no second hash.
pub async fn upload_checked(
    client: &Client,
    input: &Path,
    checked: Checked,
    options: &UploadOptions,
    on_event: Emit<'_>,
) -> Result<UploadOutcome, UploadError> {
    let hash = Hash::known(checked.sha256);
    run(
        client,
        input,
        checked.identity,
        checked.file,
        hash,
        options,
        on_event,
    )
    .await
}

#[allow(clippy::too_many_lines)]
async fn run(
    client: &Client,
    input: &Path,
    identity: Identity,
    file: Arc<File>,
    hash: Hash,
    options: &UploadOptions,
    on_event: Emit<'_>,
) -> Result<UploadOutcome, UploadError> {
    let io = |source| UploadError::Io {
        path: input.to_owned(),
        source,
    };
    let size = file.metadata().map_err(io)?.len();
    let file_name = input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "App.ipa".to_owned());
    let fresh_journal = |app_id: &str, sha256: String, upload_id: String| Journal {
        schema: journal::SCHEMA,
        ipa_sha256: sha256,
        ipa_size: size,
        bundle_id: identity.bundle_id.clone(),
        version: identity.version.clone(),
        build_number: identity.build_number.clone(),
        platform: identity.platform.as_str().to_owned(),
        app_id: app_id.to_owned(),
        build_upload_id: upload_id,
        file_id: None,
        parts: Vec::new(),
        confirmed: BTreeSet::new(),
        committed: false,
    };
    let template = fresh_journal("", String::new(), String::new());
    // Sizes are not compared: a journal for the same build with another size is judged (as another IPA's) once
    // the hash is known.
    let same = |j: &Journal| {
        (&j.bundle_id, &j.version, &j.build_number, &j.platform)
            == (
                &template.bundle_id,
                &template.version,
                &template.build_number,
                &template.platform,
            )
    };
    // Nothing in the state dir can be this IPA's journal: start at once, hash meanwhile.
    let overlap = !options.dry_run && !journal::any_candidate(&options.state_dir, &same);
    let mut sha256 = String::new();
    let journal = if overlap {
        None
    } else {
        sha256 = hash.wait(input).await?;
        on_event(Event::Hashed {
            size,
            sha256: sha256.clone(),
        });
        match journal::load(&options.state_dir, &sha256, size)? {
            Some(j) => Some(j),
            // A run stopped before its hash was known: keep its build upload, trust none of its parts.
            None if !options.dry_run => {
                match journal::load_pending(&options.state_dir, &template) {
                    Some(mut j) => {
                        j.confirmed.clear();
                        journal::promote(&options.state_dir, &mut j, &sha256)?;
                        Some(j)
                    }
                    None => None,
                }
            }
            None => None,
        }
    };
    let app_id = match &journal {
        Some(j) => j.app_id.clone(),
        None => resolve_app(client, &identity.bundle_id).await?,
    };
    let mut outcome = UploadOutcome {
        identity: identity.clone(),
        app_id: app_id.clone(),
        build_upload_id: String::new(),
        file_id: String::new(),
        build_id: None,
        state: String::new(),
        diagnostics: Vec::new(),
        size,
        sha256: sha256.clone(),
        parts_total: 0,
        parts_sent: 0,
        parts_skipped: 0,
        bytes_sent: 0,
        resumed: journal.is_some(),
        checksum_sent: false,
        dry_run: options.dry_run,
        journal: (!sha256.is_empty()).then(|| journal::path_for(&options.state_dir, &sha256)),
    };
    if options.dry_run {
        dry_run(
            &identity,
            &app_id,
            &file_name,
            size,
            &sha256,
            journal.as_ref(),
            on_event,
        );
        outcome.state = "DRY_RUN".into();
        if let Some(j) = &journal {
            outcome.build_upload_id = j.build_upload_id.clone();
            outcome.file_id = j.file_id.clone().unwrap_or_default();
            outcome.parts_total = j.parts.len();
            outcome.parts_skipped = j.confirmed.len();
        }
        on_event(Event::Finished {
            state: outcome.state.clone(),
        });
        return Ok(outcome);
    }

    // The build upload: the journal's, if it still exists on the server.
    let mut journal = match journal {
        Some(j) => match upload_state(client, &j.build_upload_id).await {
            Ok(_) => Some(j),
            Err(e) if e.status() == Some(404) => {
                // Deleted on the server: the journal is stale, a new upload is not a second one.
                None
            }
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    if journal.is_none() {
        outcome.resumed = false;
        let id = create_upload(client, &identity, &app_id).await?;
        // Named after the hash when it is known, else pending until it is.
        let sha_now = if sha256.is_empty() {
            hash.ready().unwrap_or_default()
        } else {
            sha256.clone()
        };
        let j = fresh_journal(&app_id, sha_now, id);
        journal::save(&options.state_dir, &j)?;
        journal = Some(j);
    }
    let Some(mut j) = journal else {
        return Err(UploadError::MissingField {
            request: "POST /v1/buildUploads",
            field: "data.id",
        });
    };
    outcome.build_upload_id = j.build_upload_id.clone();

    let result = async {
        let state = upload_state(client, &j.build_upload_id).await?;
        if !j.committed && state.as_deref() == Some("AWAITING_UPLOAD") {
            // The file and its operations (fresh URLs on resume).
            let operations = match &j.file_id {
                None => {
                    let (file_id, ops) =
                        create_file(client, &j.build_upload_id, &file_name, size).await?;
                    // Recorded before the operations are judged: a rerun re-reads them instead of creating a
                    // second file the server would refuse.
                    j.file_id = Some(file_id);
                    journal::save(&options.state_dir, &j)?;
                    let ops = validate_operations(&ops, size)?;
                    j.parts = ranges(&ops);
                    journal::save(&options.state_dir, &j)?;
                    ops
                }
                Some(file_id) => {
                    let ops = validate_operations(&file_operations(client, file_id).await?, size)?;
                    if ranges(&ops) != j.parts {
                        // The server cut the file differently: nothing confirmed can be trusted.
                        j.parts = ranges(&ops);
                        j.confirmed.clear();
                        journal::save(&options.state_dir, &j)?;
                    }
                    ops
                }
            };
            let file_id = j.file_id.clone().unwrap_or_default();
            outcome.file_id = file_id.clone();
            outcome.parts_total = operations.len();
            outcome.parts_skipped = j.confirmed.len();
            let sent = send_parts(
                client,
                file.clone(),
                &file_id,
                operations,
                size,
                &options.state_dir,
                &mut j,
                &hash,
                options,
                on_event,
            )
            .await;
            let (sent, bytes) = sent?;
            outcome.parts_sent = sent;
            outcome.bytes_sent = bytes;
            let sha256 = finish_hash(
                &hash,
                input,
                &options.state_dir,
                &mut j,
                &mut outcome,
                on_event,
            )
            .await?;
            outcome.checksum_sent = commit(client, &file_id, &sha256).await?;
            j.committed = true;
            journal::save(&options.state_dir, &j)?;
            on_event(Event::Committed);
        } else {
            outcome.file_id = j.file_id.clone().unwrap_or_default();
            outcome.parts_total = j.parts.len();
            outcome.parts_skipped = j.confirmed.len();
            finish_hash(
                &hash,
                input,
                &options.state_dir,
                &mut j,
                &mut outcome,
                on_event,
            )
            .await?;
        }

        wait_for_processing(client, &j, options, &mut outcome, on_event).await?;
        Ok::<(), UploadError>(())
    }
    .await;
    if result.is_err()
        && j.ipa_sha256.is_empty()
        && let Ok(sha) = hash.wait(input).await
    {
        // Name the journal after the hash before giving up, so a rerun trusts what it recorded.
        let _ = journal::promote(&options.state_dir, &mut j, &sha);
    }
    result?;
    on_event(Event::Finished {
        state: outcome.state.clone(),
    });
    Ok(outcome)
}

/// The IPA's SHA-256, computed on the blocking pool while the upload goes on.
struct Hash {
    rx: tokio::sync::watch::Receiver<Option<Result<String, String>>>,
}

impl Hash {
    /// A hash computed elsewhere.
    fn known(sha256: String) -> Hash {
        let (_tx, rx) = tokio::sync::watch::channel(Some(Ok(sha256)));
        Hash { rx }
    }

    fn start(file: Arc<File>) -> Hash {
        let (tx, rx) = tokio::sync::watch::channel(None);
        tokio::spawn(async move {
            let result = hash_file(file)
                .await
                .map(|(_, sha)| sha)
                .map_err(|e| e.to_string());
            let _ = tx.send(Some(result));
        });
        Hash { rx }
    }

    /// The hash, if already computed.
    fn ready(&self) -> Option<String> {
        match &*self.rx.borrow() {
            Some(Ok(sha)) => Some(sha.clone()),
            _ => None,
        }
    }

    async fn wait(&self, path: &Path) -> Result<String, UploadError> {
        let mut rx = self.rx.clone();
        let value = rx
            .wait_for(Option::is_some)
            .await
            .map(|v| v.clone())
            .ok()
            .flatten();
        match value {
            Some(Ok(sha)) => Ok(sha),
            Some(Err(e)) => Err(UploadError::Io {
                path: path.to_owned(),
                source: std::io::Error::other(e),
            }),
            None => Err(UploadError::Io {
                path: path.to_owned(),
                source: std::io::Error::other("hashing stopped"),
            }),
        }
    }
}

/// Waits for the hash, names a pending journal after it, and records it in the outcome.
async fn finish_hash(
    hash: &Hash,
    input: &Path,
    state_dir: &Path,
    j: &mut Journal,
    outcome: &mut UploadOutcome,
    on_event: Emit<'_>,
) -> Result<String, UploadError> {
    let sha256 = hash.wait(input).await?;
    if outcome.sha256.is_empty() {
        on_event(Event::Hashed {
            size: outcome.size,
            sha256: sha256.clone(),
        });
    }
    if j.ipa_sha256.is_empty() {
        journal::promote(state_dir, j, &sha256)?;
    } else if j.ipa_sha256 != sha256 {
        return Err(UploadError::Journal(journal::JournalError::OtherIpa {
            path: journal::path_for(state_dir, &j.ipa_sha256),
            journal: j.ipa_sha256.clone(),
            actual: sha256,
        }));
    }
    outcome.sha256 = sha256.clone();
    outcome.journal = Some(journal::path_for(state_dir, &sha256));
    Ok(sha256)
}

async fn hash_file(file: Arc<File>) -> std::io::Result<(u64, String)> {
    tokio::task::spawn_blocking(move || {
        let mut hasher = Sha256::new();
        let size = file.metadata()?.len();
        let mut at = 0u64;
        while at < size {
            let n = usize::try_from(size - at)
                .unwrap_or(usize::MAX)
                .min(1 << 20);
            let chunk = ipagate_asc::parts::read_exact_at(&file, n, at)?;
            hasher.update(&chunk);
            at += n as u64;
        }
        Ok((size, hex(&hasher.finalize())))
    })
    .await
    .map_err(std::io::Error::other)?
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

async fn resolve_app(client: &Client, bundle_id: &str) -> Result<String, UploadError> {
    let query = Query::new()
        .filter("bundleId", &[bundle_id])
        .fields("apps", &["bundleId"])
        .limit(200);
    let doc: Value = client.get("/v1/apps", &query).await?;
    let data = doc
        .get("data")
        .and_then(Value::as_array)
        .ok_or(UploadError::MissingField {
            request: "GET /v1/apps",
            field: "data",
        })?;
    // `filter[bundleId]` has been seen to match prefixes: only an exact match counts.
    data.iter()
        .find(|app| str_at(app, "/attributes/bundleId") == Some(bundle_id))
        .and_then(|app| str_at(app, "/id"))
        .map(str::to_owned)
        .ok_or_else(|| UploadError::AppNotFound {
            bundle_id: bundle_id.to_owned(),
        })
}

async fn create_upload(
    client: &Client,
    identity: &Identity,
    app_id: &str,
) -> Result<String, UploadError> {
    let body = json!({"data": {"type": "buildUploads",
        "attributes": {
            "cfBundleShortVersionString": identity.version,
            "cfBundleVersion": identity.build_number,
            "platform": identity.platform.as_str(),
        },
        "relationships": {"app": {"data": {"type": "apps", "id": app_id}}}}});
    let doc: Value = match client
        .post("/v1/buildUploads", &body, Idempotency::DuplicateDetectable)
        .await
    {
        Ok(doc) => doc,
        Err(e)
            if e.status() == Some(409)
                && e.has_code("ENTITY_ERROR.ATTRIBUTE.INVALID.DUPLICATE") =>
        {
            return Err(UploadError::BuildNumberTaken {
                bundle_id: identity.bundle_id.clone(),
                version: identity.version.clone(),
                platform: identity.platform.as_str().to_owned(),
                build_number: identity.build_number.clone(),
                next: next_build_number(client, identity, app_id).await,
            });
        }
        Err(e) => return Err(e.into()),
    };
    str_at(&doc, "/data/id")
        .map(str::to_owned)
        .ok_or(UploadError::MissingField {
            request: "POST /v1/buildUploads",
            field: "data.id",
        })
}

/// What `ipagate build-number next --version V` answers for this app (same history, same bumper).
async fn next_build_number(client: &Client, identity: &Identity, app_id: &str) -> String {
    use ipagate_asc::history::{AppSelector, HistoryQuery, fetch_build_history};
    let query = HistoryQuery {
        app: AppSelector::AppId(app_id.to_owned()),
        platform: identity.platform.clone(),
    };
    match fetch_build_history(client, &query).await {
        Ok(history) => crate::precheck::next_of(&history, identity),
        Err(e) => format!("(unknown: {e})"),
    }
}

async fn create_file(
    client: &Client,
    upload_id: &str,
    file_name: &str,
    size: u64,
) -> Result<(String, Vec<Value>), UploadError> {
    let body = json!({"data": {"type": "buildUploadFiles",
        "attributes": {"assetType": "ASSET", "fileName": file_name, "fileSize": size, "uti": "com.apple.ipa"},
        "relationships": {"buildUpload": {"data": {"type": "buildUploads", "id": upload_id}}}}});
    let doc: Value = client
        .post("/v1/buildUploadFiles", &body, Idempotency::NotIdempotent)
        .await?;
    let id = str_at(&doc, "/data/id").ok_or(UploadError::MissingField {
        request: "POST /v1/buildUploadFiles",
        field: "data.id",
    })?;
    let ops = doc
        .pointer("/data/attributes/uploadOperations")
        .and_then(Value::as_array)
        .cloned()
        .ok_or(UploadError::MissingField {
            request: "POST /v1/buildUploadFiles",
            field: "uploadOperations",
        })?;
    Ok((id.to_owned(), ops))
}

async fn file_operations(client: &Client, file_id: &str) -> Result<Vec<Value>, UploadError> {
    let doc: Value = client
        .get(&format!("/v1/buildUploadFiles/{file_id}"), &Query::new())
        .await?;
    doc.pointer("/data/attributes/uploadOperations")
        .and_then(Value::as_array)
        .cloned()
        .ok_or(UploadError::MissingField {
            request: "GET /v1/buildUploadFiles/{id}",
            field: "uploadOperations",
        })
}

async fn upload_state(client: &Client, upload_id: &str) -> Result<Option<String>, RequestError> {
    let doc: Value = client
        .get(&format!("/v1/buildUploads/{upload_id}"), &Query::new())
        .await?;
    Ok(str_at(&doc, "/data/attributes/state/state").map(str::to_owned))
}

/// Checks the server's operations against the file before anything is sent: every range inside the file, the
/// ranges covering it exactly once, a URL and a method on each, distinct part numbers.
pub(crate) fn validate_operations(
    ops: &[Value],
    size: u64,
) -> Result<BTreeMap<u64, PartRequest>, UploadError> {
    let bad = |why: String| UploadError::BadOperations(why);
    if ops.is_empty() {
        return Err(bad("there are none".into()));
    }
    let mut parts = BTreeMap::new();
    for (i, op) in ops.iter().enumerate() {
        let number = op
            .get("partNumber")
            .and_then(Value::as_u64)
            .unwrap_or(i as u64 + 1);
        let offset = op
            .get("offset")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad(format!("part {number} has no offset")))?;
        let length = op
            .get("length")
            .and_then(Value::as_u64)
            .filter(|n| *n > 0)
            .ok_or_else(|| bad(format!("part {number} has no length")))?;
        let end = offset
            .checked_add(length)
            .filter(|end| *end <= size)
            .ok_or_else(|| {
                bad(format!(
                    "part {number} covers bytes {offset}..{} but the file has {size}",
                    offset.saturating_add(length)
                ))
            })?;
        let _ = end;
        let url = str_at(op, "/url").ok_or_else(|| bad(format!("part {number} has no url")))?;
        let method = str_at(op, "/method").unwrap_or("PUT");
        let headers = op
            .get("requestHeaders")
            .and_then(Value::as_array)
            .map(|hs| {
                hs.iter()
                    .filter_map(|h| {
                        Some((
                            str_at(h, "/name")?.to_owned(),
                            str_at(h, "/value")?.to_owned(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let part = PartRequest {
            method: method.to_owned(),
            url: url.to_owned(),
            offset,
            length,
            headers,
        };
        if parts.insert(number, part).is_some() {
            return Err(bad(format!("part number {number} appears twice")));
        }
    }
    let mut by_offset: Vec<(u64, u64)> = parts.values().map(|p| (p.offset, p.length)).collect();
    by_offset.sort_unstable();
    let mut next = 0u64;
    for (offset, length) in by_offset {
        if offset != next {
            return Err(bad(format!(
                "the parts leave a gap or overlap at byte {}",
                next.min(offset)
            )));
        }
        next = offset + length;
    }
    if next != size {
        return Err(bad(format!("the parts cover {next} of {size} bytes")));
    }
    Ok(parts)
}

fn ranges(ops: &BTreeMap<u64, PartRequest>) -> Vec<PartRange> {
    ops.iter()
        .map(|(n, p)| PartRange {
            part_number: *n,
            offset: p.offset,
            length: p.length,
        })
        .collect()
}

struct Operations {
    generation: u64,
    parts: BTreeMap<u64, PartRequest>,
}

#[allow(clippy::too_many_arguments)]
async fn send_parts(
    client: &Client,
    file: Arc<File>,
    file_id: &str,
    operations: BTreeMap<u64, PartRequest>,
    size: u64,
    state_dir: &Path,
    j: &mut Journal,
    hash: &Hash,
    options: &UploadOptions,
    on_event: Emit<'_>,
) -> Result<(usize, u64), UploadError> {
    let todo: Vec<u64> = operations
        .keys()
        .copied()
        .filter(|n| !j.confirmed.contains(n))
        .collect();
    let confirmed_bytes: u64 = operations
        .iter()
        .filter(|(n, _)| j.confirmed.contains(n))
        .map(|(_, p)| p.length)
        .sum();
    on_event(Event::Started {
        build_upload_id: j.build_upload_id.clone(),
        file_id: file_id.to_owned(),
        total_bytes: size,
        confirmed_bytes,
        parts_total: operations.len(),
        parts_to_send: todo.len(),
        resumed: !j.confirmed.is_empty(),
    });
    let ops = tokio::sync::Mutex::new(Operations {
        generation: 0,
        parts: operations,
    });
    // Held across the write (on the blocking pool), so saves never reorder and never stall the runtime's workers.
    let shared = tokio::sync::Mutex::new(j.clone());
    let sent = AtomicUsize::new(0);
    let bytes = AtomicU64::new(0);
    let state_dir: PathBuf = state_dir.to_owned();
    let result = stream::iter(todo.into_iter().map(Ok::<u64, UploadError>))
        .try_for_each_concurrent(options.concurrency.max(1), |number| {
            let (ops, shared, sent, bytes, file, state_dir) =
                (&ops, &shared, &sent, &bytes, file.clone(), &state_dir);
            async move {
                let length =
                    send_one(client, &file, file_id, size, number, ops, options, on_event).await?;
                {
                    let mut j = shared.lock().await;
                    j.confirmed.insert(number);
                    let pending = j
                        .ipa_sha256
                        .is_empty()
                        .then(|| journal::pending_path(state_dir, &j));
                    if pending.is_some()
                        && let Some(sha) = hash.ready()
                    {
                        j.ipa_sha256 = sha;
                    }
                    let (snapshot, dir) = (j.clone(), state_dir.clone());
                    tokio::task::spawn_blocking(move || {
                        journal::save(&dir, &snapshot)?;
                        // Promoted: the pending file goes once the journal under the hash is written.
                        if let Some(p) = pending.filter(|_| !snapshot.ipa_sha256.is_empty()) {
                            let _ = std::fs::remove_file(p);
                        }
                        Ok::<(), journal::JournalError>(())
                    })
                    .await
                    .map_err(|e| UploadError::Io {
                        path: state_dir.clone(),
                        source: std::io::Error::other(e),
                    })??;
                }
                sent.fetch_add(1, Ordering::Relaxed);
                bytes.fetch_add(length, Ordering::Relaxed);
                on_event(Event::PartSent {
                    part_number: number,
                    bytes: length,
                });
                Ok(())
            }
        })
        .await;
    *j = shared.into_inner();
    result?;
    Ok((sent.into_inner(), bytes.into_inner()))
}

/// Sends one part until it is accepted, retrying with backoff and re-reading expired URLs; returns its length.
#[allow(clippy::too_many_arguments)]
async fn send_one(
    client: &Client,
    file: &Arc<File>,
    file_id: &str,
    size: u64,
    number: u64,
    ops: &tokio::sync::Mutex<Operations>,
    options: &UploadOptions,
    on_event: Emit<'_>,
) -> Result<u64, UploadError> {
    let mut attempt = 0u32;
    let mut refreshes = 0u32;
    loop {
        let (generation, part) = {
            let ops = ops.lock().await;
            let part = ops.parts.get(&number).cloned().ok_or_else(|| {
                UploadError::BadOperations(format!("part {number} disappeared from the operations"))
            })?;
            (ops.generation, part)
        };
        attempt += 1;
        // The client's part timeout bounds each attempt; `part_timeout` here can only make it shorter.
        let sent = tokio::time::timeout(options.part_timeout, client.send_part(&part, file)).await;
        let error = match sent {
            Ok(Ok(_)) => return Ok(part.length),
            Ok(Err(e)) => e,
            Err(_) => PartError::Transport {
                host: "the storage server".into(),
                what: format!("no answer within {}s", options.part_timeout.as_secs()),
            },
        };
        match &error {
            PartError::Expired { .. } if refreshes < 3 => {
                refreshes += 1;
                attempt -= 1;
                let mut ops = ops.lock().await;
                if ops.generation == generation {
                    let fresh =
                        validate_operations(&file_operations(client, file_id).await?, size)?;
                    if ranges(&fresh) != ranges(&ops.parts) {
                        return Err(UploadError::BadOperations(
                            "the re-read operations cut the file differently".into(),
                        ));
                    }
                    ops.parts = fresh;
                    ops.generation += 1;
                    on_event(Event::OperationsRefreshed {
                        parts: ops.parts.len(),
                    });
                }
            }
            e if e.is_retryable() && attempt < options.part_attempts.max(1) => {
                on_event(Event::PartRetry {
                    part_number: number,
                    attempt,
                    reason: error.to_string(),
                });
                let factor = 1u32 << (attempt - 1).min(6);
                let backoff = options
                    .part_backoff
                    .saturating_mul(factor)
                    .min(Duration::from_secs(30));
                let wait = e.retry_after().map_or(backoff, |r| r.max(backoff));
                tokio::time::sleep(wait).await;
            }
            _ => {
                return Err(UploadError::Part {
                    part_number: number,
                    attempts: attempt,
                    source: error,
                });
            }
        }
    }
}

/// Commits the file with its SHA-256 (`sourceFileChecksums.file`). A 409 about the checksums (a live account was
/// reported to refuse `SHA_256`, reference §5) is answered by committing without them, as Expo does; returns whether
/// the checksum went along.
async fn commit(client: &Client, file_id: &str, sha256: &str) -> Result<bool, UploadError> {
    let path = format!("/v1/buildUploadFiles/{file_id}");
    let body = json!({"data": {"type": "buildUploadFiles", "id": file_id,
        "attributes": {"uploaded": true,
            "sourceFileChecksums": {"file": {"hash": sha256, "algorithm": "SHA_256"}}}}});
    match client.patch::<_, Value>(&path, &body).await {
        Ok(_) => Ok(true),
        Err(e)
            if e.status() == Some(409)
                && e.api_errors().is_some_and(|errors| {
                    errors.0.iter().any(|x| {
                        x.source
                            .as_ref()
                            .and_then(|s| s.pointer.as_deref())
                            .is_some_and(|p| p.contains("sourceFileChecksums"))
                            || x.detail.as_deref().is_some_and(|d| d.contains("checksum"))
                    })
                }) =>
        {
            let body = json!({"data": {"type": "buildUploadFiles", "id": file_id,
                "attributes": {"uploaded": true}}});
            let _: Value = client.patch(&path, &body).await?;
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

fn details(
    client: &Client,
    value: Option<&Value>,
    severity: Severity,
    location: &str,
) -> Vec<Diagnostic> {
    let Some(items) = value.and_then(Value::as_array) else {
        return Vec::new();
    };
    items
        .iter()
        .map(|item| {
            let raw_code = str_at(item, "/code").unwrap_or("UNKNOWN");
            let code = client.redactor().one_line(raw_code, 64);
            let code = if !code.is_empty() && code.chars().all(|c| c.is_ascii_digit()) {
                format!("ITMS-{code}")
            } else {
                code
            };
            let message = client.redactor().one_line(
                str_at(item, "/description").unwrap_or("(no description)"),
                400,
            );
            Diagnostic {
                help: help_for(&code),
                code,
                severity,
                message,
                location: location.to_owned(),
            }
        })
        .collect()
}

fn help_for(code: &str) -> String {
    match code.trim_start_matches("ITMS-") {
        "90062" | "90186" | "90478" => {
            "the version train is closed or lower than the live version: raise CFBundleShortVersionString".into()
        }
        "90054" | "90055" => "the bundle id does not match the app record's".into(),
        "90683" => "add the missing *UsageDescription purpose string to Info.plist".into(),
        "90725" => "build with the SDK App Store Connect currently requires".into(),
        "ASSET_CHECKSUM_MISMATCH" => {
            "the bytes App Store Connect assembled differ from the file: upload again (remove the journal)".into()
        }
        _ => "see Apple's message; `ipagate preflight` checks many ITMS rules before an upload".into(),
    }
}

async fn wait_for_processing(
    client: &Client,
    j: &Journal,
    options: &UploadOptions,
    outcome: &mut UploadOutcome,
    on_event: Emit<'_>,
) -> Result<(), UploadError> {
    let deadline = tokio::time::Instant::now() + options.max_processing_wait;
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    let mut add = |outcome: &mut UploadOutcome, ds: Vec<Diagnostic>| {
        for d in ds {
            if seen.insert((d.code.clone(), d.message.clone())) {
                outcome.diagnostics.push(d);
            }
        }
    };
    // The file's delivery state first.
    if let Some(file_id) = &j.file_id {
        loop {
            let doc: Value = client
                .get(
                    &format!("/v1/buildUploadFiles/{file_id}"),
                    &Query::new().fields("buildUploadFiles", &["assetDeliveryState"]),
                )
                .await?;
            let state = str_at(&doc, "/data/attributes/assetDeliveryState/state")
                .unwrap_or("UNKNOWN")
                .to_owned();
            if state == "AWAITING_UPLOAD" && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(options.poll_interval).await;
                continue;
            }
            let location = format!("buildUploadFiles/{file_id}");
            add(
                outcome,
                details(
                    client,
                    doc.pointer("/data/attributes/assetDeliveryState/errors"),
                    Severity::Error,
                    &location,
                ),
            );
            add(
                outcome,
                details(
                    client,
                    doc.pointer("/data/attributes/assetDeliveryState/warnings"),
                    Severity::Warning,
                    &location,
                ),
            );
            break;
        }
    }
    let location = format!("buildUploads/{}", j.build_upload_id);
    loop {
        let doc: Value = client
            .get(
                &format!("/v1/buildUploads/{}", j.build_upload_id),
                &Query::new(),
            )
            .await?;
        let state = str_at(&doc, "/data/attributes/state/state")
            .ok_or(UploadError::MissingField {
                request: "GET /v1/buildUploads/{id}",
                field: "state",
            })?
            .to_owned();
        on_event(Event::Processing {
            state: client.redactor().one_line(&state, 40),
        });
        let done = !matches!(state.as_str(), "AWAITING_UPLOAD" | "PROCESSING");
        if done || tokio::time::Instant::now() >= deadline {
            add(
                outcome,
                details(
                    client,
                    doc.pointer("/data/attributes/state/errors"),
                    Severity::Error,
                    &location,
                ),
            );
            add(
                outcome,
                details(
                    client,
                    doc.pointer("/data/attributes/state/warnings"),
                    Severity::Warning,
                    &location,
                ),
            );
            outcome.build_id = str_at(&doc, "/data/relationships/build/data/id").map(str::to_owned);
            outcome.state = client.redactor().one_line(&state, 40);
            return Ok(());
        }
        tokio::time::sleep(options.poll_interval).await;
    }
}

fn dry_run(
    identity: &Identity,
    app_id: &str,
    file_name: &str,
    size: u64,
    sha256: &str,
    journal: Option<&Journal>,
    on_event: Emit<'_>,
) {
    let would = |method: &str, path: &str, what: String| {
        on_event(Event::WouldSend {
            method: method.into(),
            path: path.into(),
            what,
        });
    };
    match journal {
        Some(j) => {
            let left = j.parts.len().saturating_sub(j.confirmed.len());
            would(
                "PUT",
                "(part URLs)",
                format!(
                    "resume build upload {}: {left} of {} parts left to send",
                    j.build_upload_id,
                    j.parts.len()
                ),
            );
        }
        None => {
            would(
                "POST",
                "/v1/buildUploads",
                format!(
                    "create a build upload for app {app_id}: version {} build {} platform {}",
                    identity.version,
                    identity.build_number,
                    identity.platform.as_str()
                ),
            );
            would(
                "POST",
                "/v1/buildUploadFiles",
                format!("create the ASSET file {file_name} ({size} bytes, com.apple.ipa)"),
            );
            would(
                "PUT",
                "(part URLs)",
                format!("send {size} bytes in the parts App Store Connect assigns"),
            );
        }
    }
    would(
        "PATCH",
        "/v1/buildUploadFiles/{id}",
        format!("commit with SHA-256 {sha256}"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(n: u64, offset: u64, length: u64) -> Value {
        json!({"method": "PUT", "url": format!("https://s.example/{n}"), "offset": offset, "length": length,
            "partNumber": n, "requestHeaders": [{"name": "Content-Type", "value": "application/octet-stream"}]})
    }

    #[test]
    fn operations_must_cover_the_file_exactly() {
        let ok = validate_operations(&[op(2, 5, 5), op(1, 0, 5)], 10).unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[&2].offset, 5);
        let outside = validate_operations(&[op(1, 0, 5), op(2, 5, 10)], 10).unwrap_err();
        assert!(
            outside
                .to_string()
                .contains("covers bytes 5..15 but the file has 10"),
            "{outside}"
        );
        assert!(validate_operations(&[op(1, 0, 4), op(2, 5, 5)], 10).is_err());
        assert!(validate_operations(&[op(1, 0, 6), op(2, 5, 5)], 10).is_err());
        assert!(validate_operations(&[op(1, 0, 5)], 10).is_err());
        assert!(validate_operations(&[op(1, 0, 5), op(1, 5, 5)], 10).is_err());
        assert!(validate_operations(&[op(1, u64::MAX, 5)], 10).is_err());
        let mut no_url = op(1, 0, 10);
        no_url.as_object_mut().unwrap().remove("url");
        assert!(validate_operations(&[no_url], 10).is_err());
    }
}
