//! An app package opened once: an `.ipa` (zip), a zipped `.app`, an unpacked `.app` directory or an
//! `.xcarchive` directory, presented as one sorted list of entries under the `.ipa` layout
//! (`Payload/<Name>.app/...`), so every later reader sees the same paths whatever the input was.
//!
//! Zip inputs are opened once: the end-of-central-directory record is checked against the
//! [`Limits`] by hand before the `zip` crate allocates anything, the central directory is parsed
//! once, and each reader (one per rayon task) gets a cheap clone of the archive whose file handle
//! reads with positioned I/O (`pread`), so workers never contend on a seek position. Nothing is
//! extracted to disk, and an entry is inflated only when a check asks for it, never beyond the
//! bound the caller gives.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{EntryError, OpenError, OpenErrorKind};
use crate::limits::Limits;

/// How the input was laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// A zip with `Payload/<Name>.app/` at its root: a proper `.ipa`.
    Ipa,
    /// A zip whose `Payload/` sits inside one extra top folder (`Outer/Payload/X.app`): App Store
    /// Connect rejects it, but its contents can still be checked.
    NestedPayload,
    /// A zip with `<Name>.app/` at its root and no `Payload/` (a zipped app, e.g. `*.app.zip`).
    ZippedApp,
    /// An unpacked `.app` directory.
    AppDirectory,
    /// An `.xcarchive` directory (`Products/Applications/<Name>.app`).
    Xcarchive,
}

impl Layout {
    /// kebab-case name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Ipa => "ipa",
            Layout::NestedPayload => "nested-payload",
            Layout::ZippedApp => "zipped-app",
            Layout::AppDirectory => "app-directory",
            Layout::Xcarchive => "xcarchive",
        }
    }
}

/// One file or folder of the package, under its normalised `Payload/<Name>.app/...` path.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Normalised path (`/`-separated, folders without a trailing slash).
    pub path: String,
    /// The name as stored in the archive (or the path relative to the input directory).
    pub raw_name: String,
    /// Declared uncompressed size.
    pub size: u64,
    /// Compressed size (equal to `size` for directories on disk).
    pub compressed_size: u64,
    /// A folder entry.
    pub is_dir: bool,
    /// A symbolic link.
    pub is_symlink: bool,
    /// The stored name is valid UTF-8 (Apple's tools read names as UTF-8; anything else is
    /// shown with replacement characters and two such names may look alike).
    pub name_is_utf8: bool,
    /// Why App Store Connect could not unpack this entry (encrypted, or compressed with a method
    /// other than stored/deflate), if so.
    pub unpackable: Option<&'static str>,
    /// Where to find the bytes: the zip index, or nothing for a folder.
    locator: Locator,
}

#[derive(Debug, Clone)]
enum Locator {
    Zip(usize),
    File(PathBuf),
    None,
}

/// Archive-level facts gathered while opening (no judgement).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ArchiveStats {
    /// Size of the input file (0 for directories).
    pub file_size: u64,
    /// Entries listed (files, folders, links).
    pub entry_count: u64,
    /// Of which files.
    pub file_count: u64,
    /// Sum of declared uncompressed sizes.
    pub uncompressed_size: u64,
    /// Sum of compressed sizes.
    pub compressed_size: u64,
    /// The archive uses zip64 records.
    pub zip64: bool,
    /// Symbolic-link entries.
    pub symlinks: u64,
    /// Names the central directory lists more than once (first 100). The zip reader keeps the
    /// last copy of each, so that is the one every check sees.
    pub duplicate_names: Vec<String>,
}

/// An opened app package. Cheap to share between threads (`&Package` is all a reader needs).
pub struct Package {
    path: PathBuf,
    layout: Layout,
    /// Normalised path of the top-level app, e.g. `Payload/Demo.app`.
    app_root: String,
    /// Sorted by `path`.
    entries: Vec<Entry>,
    stats: ArchiveStats,
    /// Apps besides the one checked, as named in the input (e.g. `Payload/Other.app`).
    other_apps: Vec<String>,
    zip: Option<zip::ZipArchive<SharedFile>>,
    limits: Limits,
}

impl std::fmt::Debug for Package {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Package")
            .field("path", &self.path)
            .field("layout", &self.layout)
            .field("app_root", &self.app_root)
            .field("entries", &self.entries.len())
            .field("other_apps", &self.other_apps)
            .finish_non_exhaustive()
    }
}

impl Package {
    /// Opens `path` (an `.ipa`, a zipped `.app`, an `.app` directory or an `.xcarchive`).
    pub fn open(path: &Path, limits: &Limits) -> Result<Package, OpenError> {
        let err = |kind: OpenErrorKind| OpenError {
            path: path.to_path_buf(),
            kind,
        };
        let meta = std::fs::metadata(path).map_err(|e| err(e.into()))?;
        let result = if meta.is_dir() {
            open_dir(path, limits)
        } else if meta.is_file() {
            open_zip(path, meta.len(), limits)
        } else {
            // A FIFO or device would block or never end; only regular files are read.
            Err(OpenErrorKind::NotARegularFile)
        };
        result.map_err(err)
    }

    /// The input path as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How the input was laid out.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Normalised path of the top-level app (`Payload/<Name>.app`).
    pub fn app_root(&self) -> &str {
        &self.app_root
    }

    /// Every entry, sorted by normalised path.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Archive-level counts.
    pub fn stats(&self) -> &ArchiveStats {
        &self.stats
    }

    /// Apps found besides the one checked (a package should hold exactly one), as named in the
    /// input: `Payload/Other.app`, `Other.app`, `Outer/Payload/Other.app`, `Products/Applications/Other.app`.
    pub fn other_apps(&self) -> &[String] {
        &self.other_apps
    }

    /// The target of a symbolic-link entry (bounded to 4 KiB), never followed.
    pub fn link_target(&self, entry: &Entry) -> Option<String> {
        if !entry.is_symlink {
            return None;
        }
        match &entry.locator {
            Locator::Zip(index) => {
                let mut zip = self.zip.as_ref()?.clone();
                let file = zip.by_index(*index).ok()?;
                read_bounded(file, entry.size, 4096)
                    .ok()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
            }
            Locator::File(path) => std::fs::read_link(path)
                .ok()
                .map(|t| t.to_string_lossy().into_owned()),
            Locator::None => None,
        }
    }

    /// The limits this package was opened with.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The entry at a normalised path.
    ///
    /// With duplicate names (which `archive-unsafe-name` reports), always the first in archive
    /// order, so every reader agrees on which copy it saw.
    pub fn entry(&self, path: &str) -> Option<&Entry> {
        let first = self.entries.partition_point(|e| e.path.as_str() < path);
        self.entries.get(first).filter(|e| e.path == path)
    }

    /// Whether a file or folder exists at a normalised path (folders are implied by their files).
    pub fn exists(&self, path: &str) -> bool {
        self.entry(path).is_some() || self.has_children(path)
    }

    /// Whether anything lies below the folder `dir`.
    pub fn has_children(&self, dir: &str) -> bool {
        let prefix = format!("{dir}/");
        let start = self
            .entries
            .partition_point(|e| e.path.as_str() < prefix.as_str());
        self.entries
            .get(start)
            .is_some_and(|e| e.path.starts_with(&prefix))
    }

    /// Entries strictly below the folder `dir` (any depth), in path order.
    pub fn children<'a>(&'a self, dir: &str) -> impl Iterator<Item = &'a Entry> + 'a {
        let prefix = format!("{dir}/");
        let start = self
            .entries
            .partition_point(|e| e.path.as_str() < prefix.as_str());
        self.entries[start..]
            .iter()
            .take_while(move |e| e.path.starts_with(&prefix))
    }

    /// Reads a whole entry, refusing (without allocating it) anything larger than `max_len`.
    /// Safe to call from many threads at once.
    pub fn read(&self, entry: &Entry, max_len: u64) -> Result<Vec<u8>, EntryError> {
        if entry.is_symlink {
            // A zip stores a link as a file whose content is the target: never follow it.
            return Err(EntryError::NotAFile("a symbolic link"));
        }
        if entry.size > max_len {
            return Err(EntryError::TooLarge { limit: max_len });
        }
        match &entry.locator {
            Locator::Zip(index) => {
                let Some(zip) = &self.zip else {
                    return Err(EntryError::NotAFile("an entry of a closed archive"));
                };
                // A clone shares the parsed central directory and the file; only the position is its own.
                let mut zip = zip.clone();
                let file = zip.by_index(*index).map_err(EntryError::Zip)?;
                read_bounded(file, entry.size, max_len)
            }
            Locator::File(path) => {
                let file = File::open(path)?;
                read_bounded(file, entry.size, max_len)
            }
            Locator::None => Err(EntryError::NotAFile(if entry.is_dir {
                "a folder"
            } else if entry.is_symlink {
                "a symbolic link"
            } else {
                "a special file (FIFO, socket or device)"
            })),
        }
    }
}

/// Reads at most `max_len` bytes, whatever the entry claims: a lying header cannot make us allocate
/// or inflate more.
fn read_bounded(reader: impl Read, declared: u64, max_len: u64) -> Result<Vec<u8>, EntryError> {
    let mut out =
        Vec::with_capacity(usize::try_from(declared.min(max_len).min(1 << 20)).unwrap_or(0));
    reader
        .take(max_len.saturating_add(1))
        .read_to_end(&mut out)?;
    if out.len() as u64 > max_len {
        return Err(EntryError::TooLarge { limit: max_len });
    }
    Ok(out)
}

/// A file handle that many clones read with positioned I/O, each keeping its own position.
#[derive(Debug, Clone)]
struct SharedFile {
    file: Arc<File>,
    pos: u64,
    len: u64,
}

impl Read for SharedFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = read_at(&self.file, buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for SharedFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let new = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match new {
            Some(p) => {
                self.pos = p;
                Ok(p)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the file",
            )),
        }
    }
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

const EOCD_SIG: [u8; 4] = [0x50, 0x4b, 0x05, 0x06];
const ZIP64_LOCATOR_SIG: [u8; 4] = [0x50, 0x4b, 0x06, 0x07];
const ZIP64_EOCD_SIG: [u8; 4] = [0x50, 0x4b, 0x06, 0x06];

/// What the end-of-central-directory records declare, read by hand so the entry count is bounded
/// before the zip parser sizes anything by it.
struct Eocd {
    entries: u64,
    zip64: bool,
    /// Size of the central directory in bytes.
    cd_size: u64,
}

fn read_eocd(file: &SharedFile) -> Result<Eocd, OpenErrorKind> {
    // EOCD is 22 bytes plus a comment of at most 65535 bytes.
    let tail_len = file.len.min(22 + 65_535 + 20);
    let mut tail = vec![0u8; tail_len as usize];
    let start = file.len - tail_len;
    read_exact_at(&file.file, &mut tail, start)?;
    // The real record's comment ends exactly at the end of the file; a signature inside a
    // comment (a decoy declaring few entries) does not. Without such a candidate, fall back to the
    // last signature and let the zip parser judge; its entry count is checked again after parsing.
    let candidates = || {
        tail.windows(4)
            .enumerate()
            .rev()
            .filter(|(p, w)| *w == EOCD_SIG && p + 22 <= tail.len())
            // Multi-disk archives do not exist in an .ipa; 0xFFFF is zip64's "see the other record".
            .filter(|(p, _)| {
                let disk = |at: usize| u16::from_le_bytes([tail[p + at], tail[p + at + 1]]);
                matches!(disk(4), 0 | 0xFFFF) && matches!(disk(6), 0 | 0xFFFF)
            })
            .map(|(p, _)| p)
    };
    let pos = candidates()
        .find(|&p| {
            p + 22 + usize::from(u16::from_le_bytes([tail[p + 20], tail[p + 21]])) == tail.len()
        })
        .or_else(|| candidates().next())
        .ok_or_else(|| {
            OpenErrorKind::BadZip("no end-of-central-directory record (truncated?)".into())
        })?;
    let eocd = &tail[pos..];
    let total = u64::from(u16::from_le_bytes([eocd[10], eocd[11]]));
    let mut out = Eocd {
        entries: total,
        zip64: false,
        cd_size: u64::from(u32::from_le_bytes([eocd[12], eocd[13], eocd[14], eocd[15]])),
    };
    if pos >= 20 && tail[pos - 20..pos - 16] == ZIP64_LOCATOR_SIG {
        out.zip64 = true;
        let loc = &tail[pos - 20..pos];
        let mut off = [0u8; 8];
        off.copy_from_slice(&loc[8..16]);
        let eocd64_at = u64::from_le_bytes(off);
        let mut rec = [0u8; 56];
        if eocd64_at.checked_add(56).is_some_and(|end| end <= file.len) {
            read_exact_at(&file.file, &mut rec, eocd64_at)?;
            if rec[0..4] == ZIP64_EOCD_SIG {
                let mut n = [0u8; 8];
                n.copy_from_slice(&rec[32..40]);
                out.entries = u64::from_le_bytes(n);
                n.copy_from_slice(&rec[40..48]);
                out.cd_size = u64::from_le_bytes(n);
            }
        }
    }
    Ok(out)
}

/// The zip reader keeps one entry per name, so to name the duplicates the central directory's
/// names are walked once by hand (only when the reader says there are duplicates).
fn duplicate_names(archive: &zip::ZipArchive<SharedFile>, cd_size: u64) -> Vec<String> {
    let mut out = Vec::new();
    let file = archive.clone().into_inner();
    let start = archive.central_directory_start();
    let size = cd_size.min(file.len.saturating_sub(start));
    let mut cd = vec![0u8; usize::try_from(size).unwrap_or(0)];
    if read_exact_at(&file.file, &mut cd, start).is_err() {
        return out;
    }
    let mut seen = std::collections::HashSet::new();
    let mut at = 0usize;
    while at + 46 <= cd.len() && cd[at..at + 4] == [0x50, 0x4b, 0x01, 0x02] && out.len() < 100 {
        let len = |o: usize| usize::from(u16::from_le_bytes([cd[at + o], cd[at + o + 1]]));
        let (name_len, extra_len, comment_len) = (len(28), len(30), len(32));
        let Some(name) = cd.get(at + 46..at + 46 + name_len) else {
            break;
        };
        let name = String::from_utf8_lossy(name).into_owned();
        if !seen.insert(name.clone()) && !out.contains(&name) {
            out.push(name);
        }
        at += 46 + name_len + extra_len + comment_len;
    }
    out
}

fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    while !buf.is_empty() {
        let n = read_at(file, buf, offset)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf = &mut buf[n..];
        offset += n as u64;
    }
    Ok(())
}

fn open_zip(path: &Path, len: u64, limits: &Limits) -> Result<Package, OpenErrorKind> {
    if len == 0 {
        return Err(OpenErrorKind::Empty);
    }
    let file = SharedFile {
        file: Arc::new(File::open(path)?),
        pos: 0,
        len,
    };
    let mut head = [0u8; 8];
    let head_len = usize::try_from(len.min(8)).unwrap_or(8);
    read_exact_at(&file.file, &mut head[..head_len], 0)?;
    if !(head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06")) {
        return Err(OpenErrorKind::NotZip(crate::sanitize::describe_head(
            &head[..head_len],
            8,
        )));
    }
    let eocd = read_eocd(&file)?;
    if eocd.entries > limits.max_entries {
        return Err(OpenErrorKind::OverLimit {
            what: "the entry count",
            value: eocd.entries,
            limit: limits.max_entries,
        });
    }
    let archive = zip::ZipArchive::new(file).map_err(OpenErrorKind::Zip)?;
    if archive.len() as u64 > limits.max_entries {
        return Err(OpenErrorKind::OverLimit {
            what: "the entry count",
            value: archive.len() as u64,
            limit: limits.max_entries,
        });
    }
    let mut stats = ArchiveStats {
        file_size: len,
        zip64: eocd.zip64,
        duplicate_names: Vec::new(),
        ..Default::default()
    };
    if archive.has_duplicate_names() {
        stats.duplicate_names = duplicate_names(&archive, eocd.cd_size);
    }
    let mut raw = Vec::with_capacity(archive.len());
    for index in 0..archive.len() {
        let data = archive.by_index_data(index).map_err(OpenErrorKind::Zip)?;
        let name = String::from_utf8_lossy(data.name_raw()).into_owned();
        let (size, compressed) = (data.size(), data.compressed_size());
        if size > limits.max_entry_size {
            return Err(OpenErrorKind::OverLimit {
                what: "an entry's declared size",
                value: size,
                limit: limits.max_entry_size,
            });
        }
        if size > limits.ratio_floor && size / compressed.max(1) > limits.max_ratio {
            return Err(OpenErrorKind::ZipBomb(format!(
                "entry {} declares {size} bytes from {compressed} compressed",
                crate::sanitize::for_terminal(&name)
            )));
        }
        stats.uncompressed_size = stats.uncompressed_size.saturating_add(size);
        stats.compressed_size = stats.compressed_size.saturating_add(compressed);
        let is_dir = data.is_dir();
        let is_symlink = data.is_symlink();
        stats.symlinks += u64::from(is_symlink);
        stats.file_count += u64::from(!is_dir);
        let name_is_utf8 = std::str::from_utf8(data.name_raw()).is_ok();
        let unpackable = if data.encrypted() {
            Some("encrypted")
        } else if !matches!(
            data.compression(),
            zip::CompressionMethod::Stored | zip::CompressionMethod::Deflated
        ) {
            Some("compressed with a method other than stored or deflate")
        } else {
            None
        };
        raw.push((
            name,
            size,
            compressed,
            is_dir,
            is_symlink,
            Locator::Zip(index),
            name_is_utf8,
            unpackable,
        ));
    }
    stats.entry_count = raw.len() as u64;
    if stats.uncompressed_size > limits.max_total_size {
        return Err(OpenErrorKind::OverLimit {
            what: "the total declared uncompressed size",
            value: stats.uncompressed_size,
            limit: limits.max_total_size,
        });
    }
    // Overlapping entries (one compressed stream claimed by many headers) inflate the declared
    // total far past anything the file could hold.
    if stats.uncompressed_size > (1 << 30)
        && stats.uncompressed_size / len.max(1) > limits.max_ratio
    {
        return Err(OpenErrorKind::ZipBomb(format!(
            "entries declare {} bytes in a {len}-byte file",
            stats.uncompressed_size
        )));
    }
    let (layout, app_root, prefix, other_apps) = find_app_in_zip(&raw)?;
    for name in &mut stats.duplicate_names {
        *name = normalise_name(name, &prefix, layout);
    }
    let entries = normalise(raw, &prefix, layout);
    Ok(Package {
        path: path.to_path_buf(),
        layout,
        app_root,
        entries,
        stats,
        other_apps,
        zip: Some(archive),
        limits: limits.clone(),
    })
}

/// name, size, compressed size, is_dir, is_symlink, locator, name_is_utf8, unpackable
type RawEntry = (
    String,
    u64,
    u64,
    bool,
    bool,
    Locator,
    bool,
    Option<&'static str>,
);

/// Finds the top-level app: `Payload/<X>.app/`, else `<Outer>/Payload/<X>.app/`, else `<X>.app/`.
/// Anchored on path components: a nested `Watch/W.app` never counts as the top-level app. Among
/// several candidates, the first by name that has an `Info.plist` wins (deterministic).
fn find_app_in_zip(
    raw: &[RawEntry],
) -> Result<(Layout, String, String, Vec<String>), OpenErrorKind> {
    use std::collections::BTreeMap;
    fn is_app(c: &str) -> bool {
        c.len() > 4 && c.ends_with(".app")
    }
    // candidate -> has an Info.plist directly inside
    let mut payload: BTreeMap<&str, bool> = BTreeMap::new();
    let mut nested: BTreeMap<(&str, &str), bool> = BTreeMap::new();
    let mut root: BTreeMap<&str, bool> = BTreeMap::new();
    for (name, ..) in raw {
        let mut parts = name.split('/');
        let (p0, p1, p2, p3) = (
            parts.next().unwrap_or(""),
            parts.next(),
            parts.next(),
            parts.next(),
        );
        match (p1, p2, p3) {
            (Some(app), rest, _) if p0 == "Payload" && is_app(app) => {
                *payload.entry(app).or_default() |= rest == Some("Info.plist") && p3.is_none();
            }
            (Some("Payload"), Some(app), Some(rest)) if p0 != "__MACOSX" && is_app(app) => {
                *nested.entry((p0, app)).or_default() |=
                    rest == "Info.plist" && parts.next().is_none();
            }
            (Some(rest), ..) if is_app(p0) => {
                *root.entry(p0).or_default() |= rest == "Info.plist" && p2.is_none();
            }
            _ => {}
        }
    }
    fn pick<K: Copy + Ord>(cands: &BTreeMap<K, bool>) -> Option<K> {
        cands
            .iter()
            .find(|(_, has_plist)| **has_plist)
            .or_else(|| cands.iter().next())
            .map(|(k, _)| *k)
    }
    if let Some(app) = pick(&payload) {
        let others = payload
            .keys()
            .filter(|k| **k != app)
            .map(|k| format!("Payload/{k}"))
            .collect();
        return Ok((Layout::Ipa, format!("Payload/{app}"), String::new(), others));
    }
    if let Some((outer, app)) = pick(&nested) {
        let others = nested
            .keys()
            .filter(|k| **k != (outer, app))
            .map(|(o, a)| format!("{o}/Payload/{a}"))
            .collect();
        return Ok((
            Layout::NestedPayload,
            format!("Payload/{app}"),
            format!("{outer}/"),
            others,
        ));
    }
    if let Some(app) = pick(&root) {
        let others = root
            .keys()
            .filter(|k| **k != app)
            .map(|k| (*k).to_string())
            .collect();
        return Ok((
            Layout::ZippedApp,
            format!("Payload/{app}"),
            String::new(),
            others,
        ));
    }
    Err(OpenErrorKind::NoApp)
}

/// The normalised (`Payload/<Name>.app/...`) path of a raw entry name.
fn normalise_name(name: &str, prefix: &str, layout: Layout) -> String {
    let trimmed = name.trim_end_matches('/');
    match layout {
        Layout::NestedPayload => trimmed.strip_prefix(prefix).unwrap_or(trimmed).to_string(),
        Layout::ZippedApp
            if trimmed
                .split('/')
                .next()
                .is_some_and(|c| c.ends_with(".app")) =>
        {
            format!("Payload/{trimmed}")
        }
        _ => trimmed.to_string(),
    }
}

fn normalise(raw: Vec<RawEntry>, prefix: &str, layout: Layout) -> Vec<Entry> {
    let mut entries: Vec<Entry> = raw
        .into_iter()
        .map(
            |(
                name,
                size,
                compressed_size,
                is_dir,
                is_symlink,
                locator,
                name_is_utf8,
                unpackable,
            )| {
                Entry {
                    path: normalise_name(&name, prefix, layout),
                    raw_name: name,
                    size,
                    compressed_size,
                    is_dir,
                    is_symlink,
                    name_is_utf8,
                    unpackable,
                    locator,
                }
            },
        )
        .collect();
    entries.sort_by(|a, b| a.path.cmp(&b.path).then(a.raw_name.cmp(&b.raw_name)));
    entries
}

fn open_dir(path: &Path, limits: &Limits) -> Result<Package, OpenErrorKind> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut other_apps = Vec::new();
    let (layout, app_dir) =
        if name.ends_with(".xcarchive") || path.join("Products/Applications").is_dir() {
            let apps_dir = path.join("Products/Applications");
            let mut apps: Vec<PathBuf> = std::fs::read_dir(&apps_dir)
                .map_err(|_| OpenErrorKind::NoAppInXcarchive)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "app") && p.is_dir())
                .collect();
            apps.sort();
            let mut apps = apps.into_iter();
            let app = apps.next().ok_or(OpenErrorKind::NoAppInXcarchive)?;
            other_apps = apps
                .filter_map(|p| {
                    p.file_name()
                        .map(|n| format!("Products/Applications/{}", n.to_string_lossy()))
                })
                .collect();
            (Layout::Xcarchive, app)
        } else if name.ends_with(".app") || path.join("Info.plist").is_file() {
            (Layout::AppDirectory, path.to_path_buf())
        } else {
            return Err(OpenErrorKind::NotABundleDirectory);
        };
    let app_name = app_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let app_name = if app_name.ends_with(".app") {
        app_name
    } else {
        format!("{app_name}.app")
    };
    let app_root = format!("Payload/{app_name}");
    let mut entries = Vec::new();
    let mut stats = ArchiveStats::default();
    walk(
        &app_dir,
        &app_root,
        String::new(),
        1,
        limits,
        &mut entries,
        &mut stats,
    )?;
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Package {
        path: path.to_path_buf(),
        layout,
        app_root,
        entries,
        stats,
        other_apps,
        zip: None,
        limits: limits.clone(),
    })
}

fn walk(
    dir: &Path,
    norm: &str,
    rel: String,
    depth: usize,
    limits: &Limits,
    out: &mut Vec<Entry>,
    stats: &mut ArchiveStats,
) -> Result<(), OpenErrorKind> {
    if depth > limits.max_depth {
        return Err(OpenErrorKind::OverLimit {
            what: "the folder depth",
            value: depth as u64,
            limit: limits.max_depth as u64,
        });
    }
    let mut children: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    children.sort_by_key(|e| e.file_name());
    for child in children {
        stats.entry_count += 1;
        if stats.entry_count > limits.max_entries {
            return Err(OpenErrorKind::OverLimit {
                what: "the entry count",
                value: stats.entry_count,
                limit: limits.max_entries,
            });
        }
        let name = child.file_name().to_string_lossy().into_owned();
        let child_rel = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let child_norm = format!("{norm}/{name}");
        // Never follow links: a link is reported, not entered.
        let meta = std::fs::symlink_metadata(child.path())?;
        let is_symlink = meta.file_type().is_symlink();
        let is_dir = meta.is_dir();
        let is_file = meta.file_type().is_file();
        let size = if is_dir { 0 } else { meta.len() };
        stats.symlinks += u64::from(is_symlink);
        stats.file_count += u64::from(!is_dir);
        stats.uncompressed_size = stats.uncompressed_size.saturating_add(size);
        stats.compressed_size = stats.uncompressed_size;
        // Only regular files are ever opened: a FIFO would block a read forever.
        let locator = if is_file || is_symlink {
            Locator::File(child.path())
        } else {
            Locator::None
        };
        out.push(Entry {
            path: child_norm.clone(),
            raw_name: child_rel.clone(),
            size,
            compressed_size: size,
            is_dir,
            is_symlink,
            name_is_utf8: child.file_name().to_str().is_some(),
            unpackable: None,
            locator,
        });
        if is_dir {
            walk(
                &child.path(),
                &child_norm,
                child_rel,
                depth + 1,
                limits,
                out,
                stats,
            )?;
        }
    }
    Ok(())
}
