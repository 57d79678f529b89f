//! # ipagate-gate
//!
//! The `preflight` gate as a library, shared by `ipagate preflight` and `ipagate publish`: [`check`] opens the
//! input once, reads only the facts the enabled rules need, runs the rules with the configuration, and hashes
//! the very bytes it checked (SHA-256, beside the checks, through the same handle). [`Checked::report`] is the
//! schema-v1 JSON report as typed data; [`Checked::file`] hands back the handle, so a caller that uploads after
//! the gate passed sends exactly the bytes that passed, even if the path is replaced meanwhile.
//!
//! ```no_run
//! use ipagate_gate::{GateOptions, check};
//! use ipagate_rules::{Config, Context, Distribution};
//!
//! # fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let context = Context {
//!     distribution: Distribution::AppStore,
//!     as_of: chrono::Utc::now().date_naive(),
//!     data: std::sync::Arc::new(ipagate_rules::data::Data::embedded()?),
//! };
//! let checked = check("App.ipa".as_ref(), &GateOptions::new(context, Config::default()))?;
//! println!("{}", if checked.summary.passed { "passed" } else { "failed" });
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ipagate_formats::trust::TrustAnchors;
use ipagate_formats::{Facts, FileSource, InfoPlist, Layout, Limits, OpenError, Package, ReadAt};
use ipagate_rules::data::{Data, DataOrigin};
use ipagate_rules::{Config, Context, Diagnostic, Distribution, Summary};
use serde::Serialize;
use sha2::Digest as _;

/// How the gate runs.
#[derive(Debug, Clone)]
pub struct GateOptions {
    /// Distribution, "today" and the rule data.
    pub context: Context,
    /// Enabled rules, severities, deny-warnings.
    pub config: Config,
    /// Compute the SHA-256 of the input (the only part whose time grows with the file's size).
    pub hash: bool,
    /// Bounds on what the reader accepts.
    pub limits: Limits,
    /// Roots the code signatures and profiles must chain to (Apple's pinned roots; tests pass a fixture CA).
    pub anchors: std::borrow::Cow<'static, TrustAnchors>,
    /// Also verify every signed bundle's `_CodeSignature/CodeResources` against its files
    /// (`--deep`: hashes every sealed file; mismatches are ITMS-90035).
    pub deep: bool,
}

impl GateOptions {
    /// Hashing on, default limits.
    pub fn new(context: Context, config: Config) -> GateOptions {
        GateOptions {
            context,
            config,
            hash: true,
            limits: Limits::default(),
            anchors: std::borrow::Cow::Borrowed(TrustAnchors::apple()),
            deep: false,
        }
    }
}

/// Why the gate could not judge the input (as opposed to judging it and failing it).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GateError {
    /// The input cannot be opened or read as a package.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// Reading the input's bytes for the digest failed.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The input.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The hashing thread died.
    #[error("hashing {} failed", path.display())]
    Hash {
        /// The input.
        path: PathBuf,
    },
}

/// What the gate read and decided.
pub struct Checked {
    /// The opened input.
    pub package: Package,
    /// Its facts (only the tiers the enabled rules need).
    pub facts: Facts,
    /// The rules' findings, sorted as the rules emit them.
    pub diagnostics: Vec<Diagnostic>,
    /// Counts and the verdict.
    pub summary: Summary,
    /// SHA-256 of the bytes checked (lowercase hex), unless hashing was off or the input is a folder.
    pub sha256: Option<String>,
    /// The handle the checks read, for a regular file (not for folders).
    pub file: Option<Arc<File>>,
    /// The context the rules ran with.
    pub context: Context,
}

impl std::fmt::Debug for Checked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checked")
            .field("path", &self.package.path())
            .field("diagnostics", &self.diagnostics.len())
            .field("summary", &self.summary)
            .field("sha256", &self.sha256)
            .finish_non_exhaustive()
    }
}

/// A [`ReadAt`] over a shared file handle with the length it had when opened.
struct SharedFile {
    file: Arc<File>,
    inner: FileSource,
}

impl ReadAt for SharedFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        self.inner.read_at(buf, offset)
    }

    fn len(&self) -> u64 {
        self.inner.len()
    }
}

impl SharedFile {
    fn open(path: &Path) -> std::io::Result<SharedFile> {
        let file = Arc::new(File::open(path)?);
        let len = file.metadata()?.len();
        // A second descriptor for the reader: positioned reads share nothing, and the caller keeps `file`.
        let inner = FileSource::new(file.try_clone()?, len);
        Ok(SharedFile { file, inner })
    }
}

/// Runs the gate on `path` (an .ipa, a zipped .app, an .app folder or an .xcarchive folder).
pub fn check(path: &Path, options: &GateOptions) -> Result<Checked, GateError> {
    let open_error = |kind| OpenError {
        path: path.to_path_buf(),
        kind,
    };
    let meta = std::fs::metadata(path).map_err(|e| open_error(e.into()))?;
    let (package, file) = if meta.is_file() {
        // Opened once: the entries, the facts and the digest all read this handle, which is handed back.
        let shared = SharedFile::open(path).map_err(|e| open_error(e.into()))?;
        let file = shared.file.clone();
        let package = Package::from_source(path, Arc::new(shared), &options.limits)?;
        (package, Some(file))
    } else {
        (Package::open(path, &options.limits)?, None)
    };
    let mut tiers = ipagate_rules::tiers_needed(&options.context, &options.config);
    tiers.deep = options.deep;
    // The digest is computed beside the checks, not before them, from the same handle.
    let (facts, sha) = std::thread::scope(|scope| {
        let hasher = package
            .source()
            .filter(|_| options.hash)
            .map(|src| scope.spawn(|| sha256_source(&**src)));
        let facts = ipagate_formats::inspect_trusting(&package, tiers, &options.anchors);
        (facts, hasher.map(|h| h.join()))
    });
    let facts = facts?;
    let sha256 = match sha {
        None => None,
        Some(Ok(Ok(digest))) => Some(digest),
        Some(Ok(Err(source))) => {
            return Err(GateError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
        Some(Err(_)) => {
            return Err(GateError::Hash {
                path: path.to_path_buf(),
            });
        }
    };
    let diagnostics = ipagate_rules::check(&facts, &options.context, &options.config);
    let summary = Summary::of(&diagnostics, options.config.deny_warnings);
    Ok(Checked {
        package,
        facts,
        diagnostics,
        summary,
        sha256,
        file,
        context: options.context.clone(),
    })
}

/// SHA-256 of a source, streamed in 1 MiB positioned reads: memory independent of the file's size.
pub fn sha256_source(src: &dyn ReadAt) -> std::io::Result<String> {
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut offset = 0u64;
    loop {
        let n = src.read_at(&mut buf, offset)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        offset += n as u64;
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `preflight --format json` (schema_version 1, documented in the README). Field order is the document's.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Always 1.
    pub schema_version: u32,
    /// The tool that wrote it.
    pub tool: Tool,
    /// What was checked.
    pub input: Input,
    /// "Today" for the date-dependent rules (YYYY-MM-DD).
    pub as_of: String,
    /// The distribution judged for.
    pub distribution: Distribution,
    /// The rule data used.
    pub data: DataUsed,
    /// What was read for the enabled rules.
    pub read: ReadTiers,
    /// The main app.
    pub app: AppSummary,
    /// Every bundle, main app first.
    pub bundles: Vec<BundleSummary>,
    /// Findings.
    pub diagnostics: Vec<Diagnostic>,
    /// Counts and verdict.
    pub summary: Summary,
}

/// `tool`.
#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    /// "ipagate".
    pub name: &'static str,
    /// The crate version.
    pub version: &'static str,
}

impl Tool {
    /// This build of ipagate.
    pub fn current() -> Tool {
        Tool {
            name: "ipagate",
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

/// `input`.
#[derive(Debug, Clone, Serialize)]
pub struct Input {
    /// The path as given.
    pub path: String,
    /// Bytes (of the file; a folder's sum of entries as the reader counts it).
    pub size: u64,
    /// SHA-256 of the bytes checked, or null.
    pub sha256: Option<String>,
    /// ipa, app, xcarchive, …
    pub layout: Layout,
}

/// `read`: the expensive facts read for the enabled rules (a rule whose facts were not read cannot fire).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ReadTiers {
    /// Mach-O slices, code signatures and their hash checks.
    pub binaries: bool,
    /// Each slice's symbol scan (the privacy required-reason rules).
    pub symbols: bool,
    /// Every signed bundle's sealed resources checked against `CodeResources` (`--deep`).
    pub deep: bool,
}

/// `data`: which rule data judged the build.
#[derive(Debug, Clone, Serialize)]
pub struct DataUsed {
    /// `privacy.toml`.
    pub privacy: DataFile,
    /// `deadlines.toml`.
    pub deadlines: DataFile,
}

/// One rule-data file.
#[derive(Debug, Clone, Serialize)]
pub struct DataFile {
    /// Its version.
    pub version: String,
    /// When it was last checked against its sources (YYYY-MM-DD).
    pub last_verified: String,
    /// Built in or from `--data DIR`.
    pub origin: DataOrigin,
}

impl DataUsed {
    /// The data of `data`.
    pub fn of(data: &Data) -> DataUsed {
        DataUsed {
            privacy: DataFile {
                version: data.privacy.version.clone(),
                last_verified: data.privacy.last_verified.to_string(),
                origin: data.privacy_origin.clone(),
            },
            deadlines: DataFile {
                version: data.deadlines.version.clone(),
                last_verified: data.deadlines.last_verified.to_string(),
                origin: data.deadlines_origin.clone(),
            },
        }
    }
}

/// `app`: what the main app says it is.
#[derive(Debug, Clone, Serialize)]
pub struct AppSummary {
    /// CFBundleIdentifier.
    pub bundle_id: Option<String>,
    /// CFBundleShortVersionString.
    pub version: Option<String>,
    /// CFBundleVersion.
    pub build: Option<String>,
    /// DTPlatformName, else the first CFBundleSupportedPlatforms entry (lowercase).
    pub platform: Option<String>,
    /// MinimumOSVersion.
    pub minimum_os: Option<String>,
}

/// One entry of `bundles`.
#[derive(Debug, Clone, Serialize)]
pub struct BundleSummary {
    /// Path inside the input.
    pub path: String,
    /// app, appex, framework, …
    pub kind: ipagate_formats::BundleKind,
    /// CFBundleIdentifier.
    pub bundle_id: Option<String>,
    /// CFBundleShortVersionString.
    pub version: Option<String>,
    /// CFBundleVersion.
    pub build: Option<String>,
}

fn text(t: &Option<ipagate_formats::Text>) -> Option<String> {
    t.as_ref()
        .and_then(ipagate_formats::Text::as_str)
        .map(str::to_owned)
}

/// The platform an Info.plist names: DTPlatformName, else the first supported platform (lowercase).
pub fn platform_of(info: &InfoPlist) -> Option<String> {
    info.dt_platform_name.clone().or_else(|| {
        info.supported_platforms
            .as_ref()
            .and_then(|p| p.first())
            .map(|p| p.to_ascii_lowercase())
    })
}

impl Checked {
    /// The schema-v1 report.
    pub fn report(&self) -> Report {
        let info = self.facts.app().info();
        Report {
            schema_version: 1,
            tool: Tool::current(),
            input: Input {
                path: self.package.path().display().to_string(),
                size: self.package.stats().file_size,
                sha256: self.sha256.clone(),
                layout: self.facts.layout,
            },
            as_of: self.context.as_of.format("%Y-%m-%d").to_string(),
            distribution: self.context.distribution,
            data: DataUsed::of(&self.context.data),
            read: ReadTiers {
                binaries: self.facts.tiers.binaries,
                symbols: self.facts.tiers.symbols,
                deep: self.facts.tiers.deep,
            },
            app: AppSummary {
                bundle_id: info.and_then(|i| i.bundle_id_str()).map(str::to_owned),
                version: info.and_then(|i| text(&i.short_version)),
                build: info.and_then(|i| text(&i.build_version)),
                platform: info.and_then(platform_of),
                minimum_os: info.and_then(|i| text(&i.minimum_os)),
            },
            bundles: self
                .facts
                .bundles
                .iter()
                .map(|b| {
                    let i = b.info();
                    BundleSummary {
                        path: b.path.clone(),
                        kind: b.kind,
                        bundle_id: i.and_then(|i| i.bundle_id_str()).map(str::to_owned),
                        version: i.and_then(|i| text(&i.short_version)),
                        build: i.and_then(|i| text(&i.build_version)),
                    }
                })
                .collect(),
            diagnostics: self.diagnostics.clone(),
            summary: self.summary,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipagate_fixtures::{Bundle, Ipa};

    fn context() -> Context {
        Context {
            distribution: Distribution::AppStore,
            as_of: chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            data: Arc::new(Data::embedded().unwrap()),
        }
    }

    #[test]
    fn hands_back_the_handle_and_digest_of_the_bytes_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("App.ipa");
        Ipa::from_bundle(Bundle::app("Demo", "com.example.demo"))
            .version("1.0", "7")
            .write_to(&path)
            .unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let checked = check(&path, &GateOptions::new(context(), Config::default())).unwrap();
        let expected = hex(&sha2::Sha256::digest(&bytes));
        assert_eq!(checked.sha256.as_deref(), Some(expected.as_str()));
        // The path now names other bytes; the handle still reads the ones that were checked.
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, b"not the same file").unwrap();
        let file = checked.file.clone().unwrap();
        let again = sha256_source(&FileSource::new(
            file.try_clone().unwrap(),
            file.metadata().unwrap().len(),
        ))
        .unwrap();
        assert_eq!(again, expected);
        let report = checked.report();
        assert_eq!(report.app.bundle_id.as_deref(), Some("com.example.demo"));
        assert_eq!(report.app.build.as_deref(), Some("7"));
        assert_eq!(report.input.sha256.as_deref(), Some(expected.as_str()));
    }

    #[test]
    fn a_failing_input_fails_and_hashing_can_be_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("App.ipa");
        // CFBundleVersion "1.0.0.1" has four components: ITMS-90058/90060-class error.
        Ipa::from_bundle(Bundle::app("Demo", "com.example.demo"))
            .version("1.0", "1.0.0.1")
            .write_to(&path)
            .unwrap();
        let mut options = GateOptions::new(context(), Config::default());
        options.hash = false;
        let checked = check(&path, &options).unwrap();
        assert!(!checked.summary.passed, "{:?}", checked.diagnostics);
        assert!(checked.sha256.is_none());
    }

    #[test]
    fn a_missing_input_is_an_open_error_naming_it() {
        let options = GateOptions::new(context(), Config::default());
        let err = check(Path::new("/nonexistent/App.ipa"), &options).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/App.ipa"), "{err}");
    }
}
