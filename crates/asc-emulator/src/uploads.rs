//! Part uploads: `PUT /upload/{fileId}/{partNumber}?expires=UNIX` — the presigned URLs of `uploadOperations`.
//!
//! Each PUT is checked against its operation: the method, exactly the operation's `requestHeaders`
//! (`Content-Type: application/octet-stream`), no `Authorization` header, a `Content-Length` equal to the
//! operation's `length`, a body of exactly that many bytes, and a URL that has not expired
//! ([`crate::Config::upload_url_lifetime`]; `GET /v1/buildUploadFiles/{id}` re-issues fresh URLs). The bytes are
//! written into a sparse file at the operation's offset (in [`crate::Config::upload_dir`]); on commit the server
//! checks the assembled file's size and, when the client sent `sourceFileChecksums.file` with `SHA_256`, its
//! SHA-256 — a mismatch fails the build upload with `ASSET_CHECKSUM_MISMATCH`, as Apple fails a corrupt asset.
//!
//! [`PartFaults`] (`Emulator::set_part_faults`, `PUT /_sandbox/partFaults`) makes part PUTs fail (500/503), reset
//! the connection after N body bytes, or stall. Draws depend on the seed, the part and how many times that part
//! was tried, never on arrival order.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Faults for part PUTs only (the [`crate::FaultPlan`] covers the API routes).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PartFaults {
    /// Seed of the random draws.
    #[serde(default)]
    pub seed: u64,
    /// Probability (0..=1) that a part PUT is answered with [`PartFaults::fail_status`] (body not stored).
    #[serde(default)]
    pub fail_rate: f64,
    /// Status of injected failures: 500 (default) or 503 (with `Retry-After: 1`), or 429 (with `Retry-After`).
    #[serde(default)]
    pub fail_status: Option<u16>,
    /// Probability (0..=1) that the connection is cut after [`PartFaults::reset_after_bytes`] body bytes.
    #[serde(default)]
    pub reset_rate: f64,
    /// Body bytes read before a reset (default 0).
    #[serde(default)]
    pub reset_after_bytes: u64,
    /// Probability (0..=1) that a PUT stalls for [`PartFaults::stall_ms`] before the body is read.
    #[serde(default)]
    pub stall_rate: f64,
    /// Length of a stall.
    #[serde(default)]
    pub stall_ms: u64,
    /// Milliseconds added to every part PUT (before it is stored).
    #[serde(default)]
    pub latency_ms: u64,
    /// Only the first try of each part is faulted (retries go through): makes a test's outcome certain.
    #[serde(default)]
    pub first_try_only: bool,
}

/// What to do to one part PUT.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PartInjection {
    pub fail: Option<u16>,
    pub reset_after: Option<u64>,
    pub stall: Option<Duration>,
    pub latency: Duration,
}

/// Upload files and part faults.
#[derive(Debug)]
pub(crate) struct Uploads {
    pub dir: PathBuf,
    pub faults: PartFaults,
    tries: HashMap<(String, u64), u32>,
}

impl Uploads {
    pub fn new(dir: PathBuf, faults: PartFaults) -> Uploads {
        Uploads {
            dir,
            faults,
            tries: HashMap::new(),
        }
    }

    pub fn set_faults(&mut self, faults: PartFaults) {
        self.faults = faults;
        self.tries.clear();
    }

    /// The sparse file that collects `file`'s parts (ids are server-made: digits and letters only).
    pub fn path_of(&self, file: &str) -> PathBuf {
        let safe: String = file
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        self.dir.join(format!("{safe}.upload"))
    }

    /// The faults for this try of `part` of `file`.
    pub fn inject(&mut self, file: &str, part: u64) -> PartInjection {
        let key = (file.to_owned(), part);
        let tries = self.tries.entry(key).or_insert(0);
        let attempt = *tries;
        *tries = tries.saturating_add(1);
        let f = &self.faults;
        let mut out = PartInjection {
            latency: Duration::from_millis(f.latency_ms),
            ..PartInjection::default()
        };
        if f.first_try_only && attempt > 0 {
            return out;
        }
        let draw = |salt: u64| unit(hash(&[f.seed, salt, part, u64::from(attempt)], file));
        if f.fail_rate > 0.0 && draw(1) < f.fail_rate {
            out.fail = Some(f.fail_status.unwrap_or(500));
        } else if f.reset_rate > 0.0 && draw(2) < f.reset_rate {
            out.reset_after = Some(f.reset_after_bytes);
        } else if f.stall_rate > 0.0 && draw(3) < f.stall_rate {
            out.stall = Some(Duration::from_millis(f.stall_ms));
        }
        out
    }
}

fn hash(words: &[u64], text: &str) -> u64 {
    // FNV-1a then a splitmix finaliser: stable across runs and platforms.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in words
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .chain(text.bytes())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// Writes `bytes` at `offset` of `path`, creating the file with length `size` (sparse) when new.
pub(crate) fn write_part(path: &Path, size: u64, offset: u64, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)?;
    if file.metadata()?.len() != size {
        file.set_len(size)?;
    }
    write_at(&file, bytes, offset)
}

#[cfg(unix)]
fn write_at(file: &std::fs::File, bytes: &[u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, bytes, offset)
}

#[cfg(not(unix))]
fn write_at(mut file: &std::fs::File, bytes: &[u8], offset: u64) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    file.seek(SeekFrom::Start(offset))?;
    file.write_all(bytes)
}

/// Size and SHA-256 (lowercase hex) of an assembled file.
pub(crate) fn digest(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((size, hex(&hasher.finalize())))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the assembled file's app Info.plist says: (bundle id, short version, build number); `None` when the file is
/// not a readable app package (the sandbox then checks nothing more).
pub(crate) fn identity(path: &Path) -> Option<(Option<String>, Option<String>, Option<String>)> {
    let package = ipagate_formats::Package::open(path, &ipagate_formats::Limits::default()).ok()?;
    let facts = ipagate_formats::inspect_with(&package, ipagate_formats::Tiers::BUNDLES).ok()?;
    let ipagate_formats::InfoPlistState::Parsed(info) = &facts.bundles.first()?.info else {
        return None;
    };
    let text =
        |t: &Option<ipagate_formats::Text>| t.as_ref().and_then(|t| t.as_str()).map(str::to_owned);
    Some((
        text(&info.bundle_id),
        text(&info.short_version),
        text(&info.build_version),
    ))
}

/// `expires=UNIX` from a part URL's query.
pub(crate) fn expires(query: Option<&str>) -> Option<i64> {
    query?
        .split('&')
        .find_map(|kv| kv.strip_prefix("expires="))
        .and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_depend_on_part_and_try_only() {
        let faults = PartFaults {
            seed: 3,
            fail_rate: 0.5,
            ..PartFaults::default()
        };
        let mut a = Uploads::new(PathBuf::from("/tmp"), faults.clone());
        let mut b = Uploads::new(PathBuf::from("/tmp"), faults);
        let first: Vec<_> = (1..50).map(|p| a.inject("F1", p)).collect();
        let _ = b.inject("F1", 7);
        let second: Vec<_> = (1..50)
            .filter(|p| *p != 7)
            .map(|p| b.inject("F1", p))
            .collect();
        let first_without: Vec<_> = first
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 6)
            .map(|(_, x)| *x)
            .collect();
        assert_eq!(first_without, second);
        let failed = first.iter().filter(|i| i.fail.is_some()).count();
        assert!((10..40).contains(&failed), "{failed}");
    }

    #[test]
    fn expires_from_query() {
        assert_eq!(expires(Some("a=1&expires=42")), Some(42));
        assert_eq!(expires(Some("a=1")), None);
        assert_eq!(expires(None), None);
    }
}
