//! `ipagate sandbox`: runs the local App Store Connect emulator until interrupted.
//!
//! The first line on stdout is one JSON object a script can read:
//! `{"base_url","listen_addr","issuer_id","key_id","private_key_path"}` (`listen_addr` is the address really bound,
//! e.g. `0.0.0.0:PORT`; `base_url` is how to reach it from this machine) (`private_key_path` is null with
//! `--public-key`, whose private half the sandbox never sees). The private key's content is never
//! printed.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use ipagate_asc_emulator::{ApiKey, Config, Emulator, FaultPlan, Processing, Seed, testkey};

use crate::exit;

/// Arguments of `ipagate sandbox`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Introspection (no JWT): GET /_sandbox/state, GET|DELETE /_sandbox/requests, \
POST /_sandbox/advance (finish processing uploads), POST /_sandbox/buildUploads/ID/fail, PUT /_sandbox/faults."
)]
pub struct SandboxArgs {
    /// Address to listen on (port 0 picks a free one). Anything but a loopback address draws a warning: the sandbox
    /// is a test server that anyone reaching it can control.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub addr: SocketAddr,
    /// Initial state: JSON with Apple's attribute names (see the README).
    #[arg(long, value_name = "FILE")]
    pub seed: Option<PathBuf>,
    /// Key id of --public-key (or of the generated key).
    #[arg(long, value_name = "ID")]
    pub key_id: Option<String>,
    /// Accept tokens signed by this P-256 public key (PEM). One of --public-key and --generate-key is required.
    #[arg(
        long,
        value_name = "FILE",
        requires = "key_id",
        conflicts_with = "generate_key"
    )]
    pub public_key: Option<PathBuf>,
    /// Create a key pair in DIR as AuthKey_<KEYID>.p8 (mode 0600) and accept it. One of --public-key and
    /// --generate-key is required.
    #[arg(long, value_name = "DIR")]
    pub generate_key: Option<PathBuf>,
    /// Issuer id tokens must carry in `iss` (random when absent).
    #[arg(long, value_name = "ID")]
    pub issuer_id: Option<String>,
    /// Treat the key as an individual key (tokens carry `sub: "user"`, no `iss`).
    #[arg(long)]
    pub individual: bool,
    /// Fault plan (JSON) to inject errors, 429s, latency, resets, clock skew.
    ///
    /// {"seed": N, "clockSkewSecs": S, "rules": [RULE, ...]}; each RULE matches requests by "method" (any when
    /// absent) and "path" prefix ("" = all) and may set "serverErrorRate" (0..1), "serverErrorsFirst" (the first N
    /// requests of each route), "serverErrorStatus" (default 500; 503 adds Retry-After: 1), "rateLimitBurst"
    /// {"after", "count", "retryAfterSecs"}, "latencyMs", "resetAfterBytes". Random draws are seeded per route,
    /// so a run is reproducible. Example: fixtures/sandbox-faults.json; the same JSON works for
    /// PUT /_sandbox/faults.
    #[arg(long, value_name = "FILE")]
    pub faults: Option<PathBuf>,
    /// Print shell `export` lines (ASC_BASE_URL, the issuer id, key id and key path) instead of the JSON line, for
    /// `eval`; the key's content is never printed.
    #[arg(long)]
    pub print_env: bool,
    /// Polls of GET /v1/buildUploads/ID after which an upload finishes processing; 0 = only
    /// POST /_sandbox/advance finishes it.
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub processing_polls: u32,
    /// Reads of GET /v1/builds/ID an uploaded build stays PROCESSING for after its upload completed (then VALID,
    /// waiting for export compliance until usesNonExemptEncryption is set).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub build_processing_polls: u32,
    /// Give the key a role that may read but not change anything (every POST/PATCH/DELETE is a 403), to rehearse
    /// a key without the App Manager or Admin role.
    #[arg(long)]
    pub read_only_key: bool,
    /// Requests per key per hour before 429 (Apple: 3600).
    #[arg(long, default_value_t = 3600, value_name = "N")]
    pub hourly_request_budget: u32,
    /// Seconds the part URLs of uploadOperations stay valid (Apple: about 7 days); GET /v1/buildUploadFiles/ID
    /// answers fresh ones.
    #[arg(long, default_value_t = 7 * 24 * 3600, value_name = "SECS")]
    pub upload_url_lifetime: u64,
    /// Folder where uploaded parts are assembled (default: a temporary folder removed on exit).
    #[arg(long, value_name = "DIR")]
    pub upload_dir: Option<PathBuf>,
    /// Refuse commits whose file checksum is SHA_256 (409), as a live account was reported to.
    #[arg(long)]
    pub reject_sha256_checksums: bool,
}

/// Runs the sandbox until Ctrl-C or SIGTERM.
pub fn run(args: SandboxArgs) -> anyhow::Result<u8> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: SandboxArgs) -> anyhow::Result<u8> {
    let seed = match &args.seed {
        Some(path) => {
            let text = read_bounded(path, MAX_SEED_BYTES)
                .with_context(|| format!("cannot read seed {}", path.display()))?;
            Seed::from_json(&text).with_context(|| format!("bad seed {}", path.display()))?
        }
        None => Seed::empty(),
    };
    let faults = match &args.faults {
        Some(path) => {
            let text = read_bounded(path, MAX_SMALL_FILE_BYTES)
                .with_context(|| format!("cannot read fault plan {}", path.display()))?;
            serde_json::from_str::<FaultPlan>(&text)
                .with_context(|| format!("bad fault plan {}", path.display()))?
        }
        None => FaultPlan::default(),
    };
    let issuer_id = match &args.issuer_id {
        Some(id) => id.clone(),
        None => testkey::random_uuid()?,
    };
    let (key_id, public_pem, private_key_path) = match (&args.public_key, &args.generate_key) {
        (Some(path), _) => {
            let pem = read_bounded(path, MAX_SMALL_FILE_BYTES)
                .with_context(|| format!("cannot read public key {}", path.display()))?;
            let key_id = args.key_id.clone().unwrap_or_default();
            (key_id, pem, None)
        }
        (None, Some(dir)) => {
            let key_id = match &args.key_id {
                Some(id) => id.clone(),
                None => testkey::random_key_id()?,
            };
            check_key_id(&key_id)?;
            let pair = testkey::try_generate(&key_id)?;
            let private = (dir.clone(), pair.private_pkcs8_pem);
            (key_id, pair.public_pem, Some(private))
        }
        (None, None) => {
            anyhow::bail!("no API key: pass --generate-key DIR, or --key-id ID --public-key FILE")
        }
    };
    let key = if args.individual {
        ApiKey::individual(&key_id, &public_pem)
    } else {
        ApiKey::team(&key_id, &public_pem)
    };
    let key = if args.read_only_key {
        key.read_only()
    } else {
        key
    };
    let config = Config {
        seed,
        issuer_id: issuer_id.clone(),
        keys: vec![key],
        faults,
        hourly_request_budget: args.hourly_request_budget,
        processing: match args.processing_polls {
            0 => Processing::Manual,
            n => Processing::AfterPolls(n),
        },
        build_processing_polls: args.build_processing_polls,
        upload_url_lifetime: std::time::Duration::from_secs(args.upload_url_lifetime.max(1)),
        upload_dir: args.upload_dir.clone(),
        reject_sha256_checksums: args.reject_sha256_checksums,
        ..Config::default()
    };
    let stop = StopSignals::install();
    let emulator = Emulator::start(config, args.addr)
        .await
        .context("cannot start the sandbox")?;
    // The key file is written only once the server runs, so a failed start leaves nothing behind.
    let private_key_path = match private_key_path {
        Some((dir, pem)) => match write_private_key(&dir, &key_id, &pem) {
            Ok(path) => Some(path),
            Err(err) => {
                emulator.shutdown().await;
                return Err(err);
            }
        },
        None => None,
    };
    let listen = emulator.addr();
    {
        let mut stdout = crate::output::stdout();
        if args.print_env {
            let issuer = (!args.individual).then_some(issuer_id.as_str());
            write!(
                stdout,
                "{}",
                env_lines(
                    &emulator.base_url(),
                    issuer,
                    &key_id,
                    private_key_path.as_deref()
                )
            )?;
        } else {
            let banner = serde_json::json!({
                "base_url": emulator.base_url(),
                "listen_addr": listen.to_string(),
                "issuer_id": if args.individual { serde_json::Value::Null } else { issuer_id.into() },
                "key_id": key_id,
                "private_key_path": private_key_path.map(|p| p.display().to_string()),
            });
            writeln!(stdout, "{banner}")?;
        }
        stdout.flush()?;
    }
    if !listen.ip().is_loopback() {
        let all = if listen.ip().is_unspecified() {
            " (every network interface)"
        } else {
            ""
        };
        crate::output::eprint_line(&format!(
            "ipagate: warning: the sandbox listens on {listen}{all}, reachable from other machines; it is a test \
             server: /_sandbox/* needs no token and anyone who reaches it can change its state (bind 127.0.0.1 to \
             keep it local)"
        ));
    }
    crate::output::eprint_line(&format!(
        "ipagate sandbox: App Store Connect emulator on {} (listening on {listen}; state: {0}/_sandbox/state); Ctrl-C stops it",
        emulator.base_url()
    ));
    stop.wait().await;
    emulator.shutdown().await;
    Ok(exit::SUCCESS)
}

/// Largest seed read (ten thousand builds are a few MiB).
const MAX_SEED_BYTES: u64 = 256 << 20;
/// Largest public key or fault plan read.
const MAX_SMALL_FILE_BYTES: u64 = 1 << 20;

/// Reads a regular file of at most `max` bytes as text: a FIFO or a device (`/dev/zero`) is refused, not read.
fn read_bounded(path: &Path, max: u64) -> anyhow::Result<String> {
    use std::io::Read as _;
    let meta = std::fs::metadata(path)?;
    anyhow::ensure!(
        meta.is_file(),
        "not a regular file (a directory, FIFO or device)"
    );
    anyhow::ensure!(meta.len() <= max, "larger than {max} bytes");
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(max + 1)
        .read_to_end(&mut bytes)?;
    anyhow::ensure!(bytes.len() as u64 <= max, "larger than {max} bytes");
    String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("not a text file"))
}

/// `export NAME='value'` lines for a POSIX shell: the names `ipagate build-number` (and codemagic-cli-tools, for
/// the first three) read. The key is passed by path, never by content.
fn env_lines(
    base_url: &str,
    issuer_id: Option<&str>,
    key_id: &str,
    private_key_path: Option<&Path>,
) -> String {
    let quote = |v: &str| format!("'{}'", v.replace('\'', "'\\''"));
    let mut out = format!("export ASC_BASE_URL={}\n", quote(base_url));
    match issuer_id {
        Some(issuer) => out.push_str(&format!(
            "export APP_STORE_CONNECT_ISSUER_ID={}\n",
            quote(issuer)
        )),
        None => out.push_str("# individual key: no issuer id; pass --individual-key\n"),
    }
    out.push_str(&format!(
        "export APP_STORE_CONNECT_KEY_IDENTIFIER={}\n",
        quote(key_id)
    ));
    match private_key_path {
        Some(path) => out.push_str(&format!(
            "export ASC_PRIVATE_KEY_PATH={}\n",
            quote(&path.display().to_string())
        )),
        None => {
            out.push_str("# private key: the one whose public half was passed as --public-key\n")
        }
    }
    out
}

/// Apple's key ids are short and alphanumeric; anything else would make an odd file name.
fn check_key_id(key_id: &str) -> anyhow::Result<()> {
    let ok = !key_id.is_empty()
        && key_id.len() <= 64
        && key_id.chars().all(|c| c.is_ascii_alphanumeric());
    anyhow::ensure!(ok, "key id {key_id:?} must be 1-64 letters and digits");
    Ok(())
}

/// Writes `AuthKey_<KEYID>.p8` readable by the owner only; never overwrites a key.
fn write_private_key(dir: &Path, key_id: &str, pem: &str) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create key directory {}", dir.display()))?;
    let path = dir.join(format!("AuthKey_{key_id}.p8"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&path).with_context(|| {
        format!(
            "cannot create {} (remove it, or pick another --key-id)",
            path.display()
        )
    })?;
    file.write_all(pem.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(std::path::absolute(&path).unwrap_or(path))
}

/// SIGTERM and Ctrl-C (SIGINT), registered before the emulator starts and the banner is printed: a signal sent as
/// soon as a client has read the banner stops the sandbox cleanly (exit 0) instead of killing it.
struct StopSignals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    fn install() -> StopSignals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            StopSignals {
                term: signal(SignalKind::terminate()).ok(),
                interrupt: signal(SignalKind::interrupt()).ok(),
            }
        }
        #[cfg(not(unix))]
        {
            StopSignals {}
        }
    }

    async fn wait(self) {
        #[cfg(unix)]
        {
            async fn recv(s: Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            if self.term.is_none() && self.interrupt.is_none() {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
            tokio::select! {
                _ = recv(self.term) => {}
                _ = recv(self.interrupt) => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
