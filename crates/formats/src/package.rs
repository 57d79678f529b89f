//! An app package opened once: an `.ipa` (zip), a zipped `.app`, an unpacked `.app` directory or an
//! `.xcarchive` directory, presented as one sorted list of entries under the `.ipa` layout
//! (`Payload/<Name>.app/...`), so every later reader sees the same paths whatever the input was.
//!
//! Zip inputs are opened once, and read by ipagate's own central-directory reader
//! ([`crate::zipdir`]): the end record is checked against the [`Limits`] before anything is sized
//! by it, the directory is read in a few large positioned reads and parsed once into the sorted
//! entry index below (a 48-byte record per entry, its name in one buffer shared by all entries),
//! and nothing is read per entry until a check asks for that entry's bytes. Entry reads are
//! positioned (`pread`) on a shared handle, so rayon workers read in parallel without a shared
//! seek position; nothing is extracted to disk, and an entry is inflated only when a check asks
//! for it, never beyond the bound the caller gives (see [`crate::io`] for the streaming reader,
//! ranged access and the multi-consumer stream).
//!
//! Folder inputs get the same limits (entries, sizes, depth), and are opened once in spirit: each
//! file's identity (device and inode) is recorded during the walk, and a later read opens it
//! without following links and without blocking, and refuses it if it is no longer that file.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;

use crate::error::{EntryError, OpenError, OpenErrorKind};
use crate::io::{EntryReader, EntrySlice, FileSource, Inner, RangeReader, ReadAt};
use crate::limits::Limits;
use crate::zipdir::{self, Method};

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

/// Where a name lies in the package's [`Names`]: no string per entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    start: u32,
    len: u32,
}

/// Every name of a package, one after another in one buffer; an [`Entry`] holds [`Span`]s of
/// it. At 100,000 entries that is one allocation instead of 100,000, 45 bytes a name instead of
/// the 64 a small allocation takes, and the names the sort compares sit together in memory.
///
/// It also keeps the rare per-entry extras that would otherwise widen every index record: the
/// stored names that differ from the paths (nested layouts, folder inputs, names with several
/// trailing slashes) and the identities of a folder input's files.
#[derive(Debug, Default)]
pub(crate) struct Names {
    buf: String,
    raws: Vec<Span>,
    identities: Vec<(u64, u64)>,
}

impl Names {
    /// Appends `name`; refuses (rather than wraps) a buffer past 4 GiB, which only limits far
    /// above the defaults could let through.
    pub(crate) fn push(&mut self, name: &str) -> Result<Span, OpenErrorKind> {
        let span = span_after(self.buf.len(), name.len())?;
        self.buf.push_str(name);
        Ok(span)
    }

    /// Names read as bytes (see [`NamesBuilder`]), validated as UTF-8 once, as a whole.
    pub(crate) fn from_builder(built: NamesBuilder) -> Result<Names, OpenErrorKind> {
        String::from_utf8(built.buf)
            .map(|buf| Names {
                buf,
                ..Names::default()
            })
            .map_err(|_| {
                OpenErrorKind::BadZip("an entry name is not valid UTF-8 after conversion".into())
            })
    }

    /// Records `raw` as the stored name of `entry`.
    pub(crate) fn set_raw(&mut self, entry: &mut Entry, raw: Span) -> Result<(), OpenErrorKind> {
        entry.raw = side_index(self.raws.len())?;
        self.raws.push(raw);
        Ok(())
    }

    /// The stored name of `entry`, where it differs from the path.
    pub(crate) fn raw_of(&self, entry: &Entry) -> Option<Span> {
        self.raws.get(entry.raw as usize).copied()
    }

    /// Records the identity (device, inode) a folder input's file had during the walk.
    pub(crate) fn add_identity(&mut self, identity: (u64, u64)) -> Result<u32, OpenErrorKind> {
        let at = side_index(self.identities.len())?;
        self.identities.push(identity);
        Ok(at)
    }

    pub(crate) fn get(&self, span: Span) -> &str {
        let start = span.start as usize;
        self.buf
            .get(start..start + span.len as usize)
            .unwrap_or_default()
    }

    /// The bytes of a name: what the sort and the binary searches compare (the same order as
    /// the strings', without checking character boundaries on every comparison).
    pub(crate) fn bytes(&self, span: Span) -> &[u8] {
        let start = span.start as usize;
        self.buf
            .as_bytes()
            .get(start..start + span.len as usize)
            .unwrap_or_default()
    }
}

/// The index of the next item of a side table, refused (never wrapped) at `NONE`.
fn side_index(len: usize) -> Result<u32, OpenErrorKind> {
    match u32::try_from(len) {
        Ok(i) if i != NONE => Ok(i),
        _ => Err(OpenErrorKind::OverLimit {
            what: "the entries with a stored name of their own",
            value: len as u64,
            limit: u64::from(NONE),
        }),
    }
}

/// No side-table entry.
const NONE: u32 = u32::MAX;

/// The span `name_len` bytes long that starts at `start`, refused past 4 GiB of names.
fn span_after(start: usize, name_len: usize) -> Result<Span, OpenErrorKind> {
    let end = start.saturating_add(name_len);
    let (Ok(start), Ok(_)) = (u32::try_from(start), u32::try_from(end)) else {
        return Err(OpenErrorKind::OverLimit {
            what: "the total length of the entry names",
            value: end as u64,
            limit: u64::from(u32::MAX),
        });
    };
    Ok(Span {
        start,
        len: name_len as u32,
    })
}

/// The names of a central directory as it is read: bytes, each name known to be UTF-8 — ASCII
/// (as the caller's pass over the name found), or checked on its own, or replaced by its lossy
/// conversion — so the buffer is validated once at the end ([`Names::from_builder`]) instead of
/// once per name: at 100,000 entries that was 13 M of the 177 M instructions of an `inspect`.
pub(crate) struct NamesBuilder {
    buf: Vec<u8>,
}

impl NamesBuilder {
    pub(crate) fn with_capacity(bytes: usize) -> NamesBuilder {
        NamesBuilder {
            buf: Vec::with_capacity(bytes),
        }
    }

    /// Appends a stored name, and says whether it was valid UTF-8 (if not, its lossy
    /// conversion is what is appended).
    /// `ascii`: the caller's pass over the name found no byte of 0x80 or more.
    #[inline]
    pub(crate) fn push(&mut self, name: &[u8], ascii: bool) -> Result<(Span, bool), OpenErrorKind> {
        if !ascii && std::str::from_utf8(name).is_err() {
            return self.push_lossy(name);
        }
        let span = span_after(self.buf.len(), name.len())?;
        self.buf.extend_from_slice(name);
        Ok((span, true))
    }

    #[cold]
    fn push_lossy(&mut self, name: &[u8]) -> Result<(Span, bool), OpenErrorKind> {
        let text = String::from_utf8_lossy(name);
        let span = span_after(self.buf.len(), text.len())?;
        self.buf.extend_from_slice(text.as_bytes());
        Ok((span, false))
    }
}

/// One file or folder of the package. Its path lives in the package's name buffer: iterate
/// with [`Package::entries`] (or look up with [`Package::entry`]) to get it beside the entry as
/// an [`EntryRef`], or ask [`Package::path_of`]. The readers ([`Package::read`] and the others)
/// take `&Entry`; an `&EntryRef` coerces to it.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Normalised path (`/`-separated, folders without a trailing slash).
    path: Span,
    /// The name as stored, when it differs from `path` by more than a trailing slash: an index
    /// into the names' side table ([`Names::raw_of`]), `NONE` if not.
    raw: u32,
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
    /// Where to find the bytes.
    locator: Locator,
}

/// The compression method a zip entry declares, as stored (two bytes, not the four of
/// [`Method`]: the record stays at 48 bytes).
#[derive(Debug, Clone, Copy)]
struct MethodCode(u16);

impl MethodCode {
    fn method(self) -> Method {
        Method::from(self.0)
    }
}

impl From<Method> for MethodCode {
    fn from(method: Method) -> MethodCode {
        MethodCode(u16::from(method))
    }
}

impl Entry {
    /// Why App Store Connect could not unpack this entry (encrypted, or compressed with a method
    /// other than stored/deflate), if so. Read off the locator: no field per entry for it.
    pub fn unpackable(&self) -> Option<&'static str> {
        match self.locator {
            Locator::Zip {
                encrypted: true, ..
            } => Some("encrypted"),
            Locator::Zip { method, .. } if matches!(method.method(), Method::Unknown(_)) => {
                Some("compressed with a method other than stored or deflate")
            }
            _ => None,
        }
    }

    /// Whether the entry's bytes are stored uncompressed in the archive (or are a file on disk),
    /// so [`Package::random_access`] can read them at any offset.
    pub fn is_stored(&self) -> bool {
        match self.locator {
            Locator::Zip { method, .. } => matches!(method.method(), Method::Stored),
            Locator::File { .. } => true,
            Locator::None => false,
        }
    }
}

/// An entry with its path: what [`Package::entries`], [`Package::entry`] and
/// [`Package::children`] yield. Derefs to the [`Entry`] (sizes, kind), and is what the readers
/// pass around (`Copy`: the path, the stored name and the entry, all borrowed from the package).
#[derive(Debug, Clone, Copy)]
pub struct EntryRef<'a> {
    /// Normalised path (`/`-separated, folders without a trailing slash).
    pub path: &'a str,
    raw: &'a str,
    entry: &'a Entry,
}

impl<'a> EntryRef<'a> {
    /// The name as stored in the archive (or the path relative to the input directory).
    pub fn raw_name(&self) -> &'a str {
        self.raw
    }
}

impl std::ops::Deref for EntryRef<'_> {
    type Target = Entry;

    fn deref(&self) -> &Entry {
        self.entry
    }
}

/// Where an entry's bytes are: 16 bytes (the variant lives in `encrypted`'s spare values).
#[derive(Debug, Clone)]
enum Locator {
    Zip {
        header_offset: u64,
        crc32: u32,
        method: MethodCode,
        encrypted: bool,
    },
    /// A file of a folder input: the index of the identity (device, inode) it had during the
    /// walk, in the names' side table.
    File {
        identity: u32,
    },
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
    /// Normalised paths the archive lists more than once (first 100), including names that
    /// differ only by a trailing `/`. Every reader sees the last copy in archive order.
    pub duplicate_names: Vec<String>,
}

/// An opened app package. Cheap to share between threads (`&Package` is all a reader needs).
pub struct Package {
    pub(crate) path: PathBuf,
    pub(crate) layout: Layout,
    /// Normalised path of the top-level app, e.g. `Payload/Demo.app`.
    pub(crate) app_root: String,
    /// Sorted by `path`; among equal paths, in archive order.
    pub(crate) entries: Vec<Entry>,
    /// The entries' names (normalised paths and, where they differ, the names as stored).
    pub(crate) names: Names,
    pub(crate) stats: ArchiveStats,
    /// Apps besides the one checked, as named in the input (e.g. `Payload/Other.app`).
    pub(crate) other_apps: Vec<String>,
    /// Zip inputs: the bytes every check reads.
    pub(crate) source: Option<Arc<dyn ReadAt>>,
    /// Zip inputs: entry data must end before the central directory.
    pub(crate) data_end: u64,
    /// Folder inputs: the app folder that raw names are relative to.
    pub(crate) root_dir: Option<PathBuf>,
    pub(crate) limits: Limits,
    pub(crate) census: Census,
}

/// What reading the central directory already found out about every entry, so that the
/// archive-wide checks look at each entry again only when there is something to report.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Census {
    /// Some stored name is unsafe or not UTF-8.
    pub(crate) name_problems: bool,
    /// Some entry cannot be unpacked (encrypted, or an unknown compression method).
    pub(crate) unpackable: bool,
}

impl Census {
    /// Nothing known: every entry is checked (folder inputs, hand-built packages).
    pub(crate) const UNKNOWN: Census = Census {
        name_problems: true,
        unpackable: true,
    };
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
            crate::folder::open_dir(path, limits)
        } else if meta.is_file() {
            // Opened once: every later read (entries, the report's digest) uses this handle.
            std::fs::File::open(path)
                .map_err(OpenErrorKind::from)
                .and_then(|file| {
                    let len = file.metadata()?.len();
                    open_zip(path, Arc::new(FileSource::new(file, len)), limits)
                })
        } else {
            // A FIFO or device would block or never end; only regular files are read.
            Err(OpenErrorKind::NotARegularFile)
        };
        result.map_err(err)
    }

    /// Opens a zip held in memory (`name` is what messages call it): the same reader and limits
    /// as [`Package::open`], for callers that already hold the bytes (tests, the mutation harness).
    pub fn from_bytes(name: &Path, bytes: Vec<u8>, limits: &Limits) -> Result<Package, OpenError> {
        Package::from_source(name, Arc::new(bytes), limits)
    }

    /// Opens a zip read through any [`ReadAt`] source (`name` is what messages call it).
    pub fn from_source(
        name: &Path,
        src: Arc<dyn ReadAt>,
        limits: &Limits,
    ) -> Result<Package, OpenError> {
        open_zip(name, src, limits).map_err(|kind| OpenError {
            path: name.to_path_buf(),
            kind,
        })
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
    pub fn entries(
        &self,
    ) -> impl ExactSizeIterator<Item = EntryRef<'_>> + DoubleEndedIterator + Clone + '_ {
        self.entries.iter().map(|e| self.entry_ref(e))
    }

    /// How many entries the package lists.
    pub fn entry_count(&self) -> usize {
        self.entries.len()
    }

    /// Where `path` is, or would be, in the sorted entries (the first entry not before it).
    pub fn position(&self, path: &str) -> usize {
        self.entries
            .partition_point(|e| self.names.bytes(e.path) < path.as_bytes())
    }

    /// The entry at a position of the sorted entries.
    pub fn entry_at(&self, at: usize) -> Option<EntryRef<'_>> {
        self.entries.get(at).map(|e| self.entry_ref(e))
    }

    /// The normalised path of an entry of this package.
    pub fn path_of(&self, entry: &Entry) -> &str {
        self.names.get(entry.path)
    }

    fn entry_ref<'a>(&'a self, entry: &'a Entry) -> EntryRef<'a> {
        let path = self.names.get(entry.path);
        EntryRef {
            path,
            raw: self.names.raw_of(entry).map_or(path, |r| self.names.get(r)),
            entry,
        }
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

    /// The limits this package was opened with.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The bytes of a zip input exactly as the checks read them (the handle opened once), for a
    /// digest of what was checked; `None` for folder inputs.
    pub fn source(&self) -> Option<&Arc<dyn ReadAt>> {
        self.source.as_ref()
    }

    /// The target of a symbolic-link entry (bounded to 4 KiB), never followed.
    pub fn link_target(&self, entry: &Entry) -> Option<String> {
        if !entry.is_symlink {
            return None;
        }
        match &entry.locator {
            Locator::Zip { .. } => {
                let mut reader = self.zip_reader(entry).ok()?;
                let mut out = Vec::new();
                (&mut reader).take(4096).read_to_end(&mut out).ok()?;
                Some(String::from_utf8_lossy(&out).into_owned())
            }
            Locator::File { .. } => std::fs::read_link(self.file_path(entry)?)
                .ok()
                .map(|t| t.to_string_lossy().into_owned()),
            Locator::None => None,
        }
    }

    /// The entry at a normalised path.
    ///
    /// With duplicate names (which `archive-unsafe-name` reports), always the last in archive
    /// order — the copy an extractor leaves on disk, as Info-ZIP's `unzip` and `ditto` do — so
    /// every reader agrees on which copy it saw.
    pub fn entry(&self, path: &str) -> Option<EntryRef<'_>> {
        let end = self
            .entries
            .partition_point(|e| self.names.bytes(e.path) <= path.as_bytes());
        end.checked_sub(1)
            .and_then(|last| self.entries.get(last))
            .map(|e| self.entry_ref(e))
            .filter(|e| e.path == path)
    }

    /// Whether a file or folder exists at a normalised path (folders are implied by their files).
    pub fn exists(&self, path: &str) -> bool {
        self.entry(path).is_some() || self.has_children(path)
    }

    /// Whether anything lies below the folder `dir`.
    pub fn has_children(&self, dir: &str) -> bool {
        self.children(dir).next().is_some()
    }

    /// Entries strictly below the folder `dir` (any depth), in path order.
    pub fn children<'a>(&'a self, dir: &str) -> impl Iterator<Item = EntryRef<'a>> + 'a {
        self.below(dir).iter().map(|e| self.entry_ref(e))
    }

    /// The sorted run of entries strictly below `dir`, found by two binary searches: every path
    /// that starts with `dir/` sorts at or after `dir/` and before `dir0` (`'0'` follows `'/'`),
    /// and nothing else does. No comparison per entry of the run.
    fn below(&self, dir: &str) -> &[Entry] {
        let low = format!("{dir}/");
        let high = format!("{dir}0");
        let start = self
            .entries
            .partition_point(|e| self.names.bytes(e.path) < low.as_bytes());
        let end = start
            + self.entries[start..].partition_point(|e| self.names.bytes(e.path) < high.as_bytes());
        &self.entries[start..end]
    }

    /// Where the run of entries inside the folder `dir` ends, given that the entry at `from` is
    /// in it (one binary search: everything below `dir/` sorts before `dir0`).
    pub(crate) fn end_of_folder(&self, from: usize, dir: &str) -> usize {
        let high = format!("{dir}0");
        let from = from.min(self.entries.len());
        from + self.entries[from..].partition_point(|e| self.names.bytes(e.path) < high.as_bytes())
    }

    /// The distinct names directly inside the folder `dir` (files and folders), in path order.
    /// Each subfolder's contents are skipped by binary search, so the cost grows with the number
    /// of names at this level, not with everything below it (a 100,000-file `res/` is one step).
    pub fn dir_names<'a>(&'a self, dir: &str) -> Vec<&'a str> {
        let run = self.below(dir);
        let skip = dir.len() + 1;
        let mut names: Vec<&'a str> = Vec::new();
        let mut i = 0;
        while i < run.len() {
            let path = self.path_of(&run[i]);
            let rel = &path[skip..];
            match rel.find('/') {
                None => {
                    names.push(rel);
                    i += 1;
                }
                Some(cut) => {
                    let name = &rel[..cut];
                    names.push(name);
                    // Past everything under `dir/name/`.
                    let high = format!("{}0", &path[..skip + cut]);
                    i += run[i..].partition_point(|e| self.names.bytes(e.path) < high.as_bytes());
                }
            }
        }
        // A folder's own entry (`dir/name`) and its contents (`dir/name/…`) need not be
        // neighbours (`dir/name.txt` sorts between them).
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Reads a whole entry, refusing (without allocating it) anything larger than `max_len`.
    /// The bytes are checked against the declared size and CRC-32. Safe to call from many
    /// threads at once.
    pub fn read(&self, entry: &Entry, max_len: u64) -> Result<Vec<u8>, EntryError> {
        if entry.size > max_len {
            return Err(EntryError::TooLarge { limit: max_len });
        }
        let mut reader = self.open_entry(entry)?;
        let mut out = Vec::with_capacity(usize::try_from(entry.size.min(16 << 20)).unwrap_or(0));
        reader.read_to_end(&mut out).map_err(EntryError::from_io)?;
        Ok(out)
    }

    /// A streaming reader of one entry: never more than the declared size; a short stream, a
    /// stream longer than declared and a CRC mismatch are errors ([`crate::EntryDataError`]).
    pub fn open_entry(&self, entry: &Entry) -> Result<EntryReader, EntryError> {
        if entry.is_symlink {
            // A zip stores a link as a file whose content is the target: never follow it.
            return Err(EntryError::NotAFile("a symbolic link"));
        }
        match &entry.locator {
            Locator::Zip { .. } => self.zip_reader(entry),
            Locator::File { .. } => {
                let file = self.open_file(entry)?;
                Ok(EntryReader::new(
                    Inner::Plain(Box::new(file)),
                    entry.size,
                    None,
                ))
            }
            Locator::None => Err(EntryError::NotAFile(if entry.is_dir {
                "a folder"
            } else {
                "a special file (FIFO, socket or device)"
            })),
        }
    }

    /// Inflates one entry once and feeds every byte to each sink in turn (a hasher, a parser, a
    /// scanner…), in chunks of 64 KiB: memory does not grow with the entry. Refuses entries
    /// declared larger than `max_len` before reading. Returns the bytes read.
    pub fn stream(
        &self,
        entry: &Entry,
        max_len: u64,
        sinks: &mut [&mut dyn std::io::Write],
    ) -> Result<u64, EntryError> {
        if entry.size > max_len {
            return Err(EntryError::TooLarge { limit: max_len });
        }
        let mut reader = self.open_entry(entry)?;
        crate::io::fan_out(&mut reader, sinks).map_err(EntryError::from_io)
    }

    /// Random access to an entry's bytes without inflating or copying them: `Some` for stored
    /// zip entries and files of folder inputs, `None` for compressed entries (read those with
    /// [`Package::open_entry`]). Reads through the slice are not CRC-checked.
    pub fn random_access(&self, entry: &Entry) -> Result<Option<EntrySlice>, EntryError> {
        if entry.is_symlink {
            return Err(EntryError::NotAFile("a symbolic link"));
        }
        match &entry.locator {
            Locator::Zip {
                method,
                encrypted: false,
                ..
            } if matches!(method.method(), Method::Stored) => {
                let (src, start) = self.zip_data(entry)?;
                Ok(Some(EntrySlice::new(src, start, entry.size)))
            }
            Locator::Zip { .. } => Ok(None),
            Locator::File { .. } => {
                let file = self.open_file(entry)?;
                let src: Arc<dyn ReadAt> = Arc::new(FileSource::new(file, entry.size));
                Ok(Some(EntrySlice::new(src, 0, entry.size)))
            }
            Locator::None => Err(EntryError::NotAFile("not a file")),
        }
    }

    /// Source and data offset of a zip entry, after checking its local header.
    fn zip_data(&self, entry: &Entry) -> Result<(Arc<dyn ReadAt>, u64), EntryError> {
        let (Some(src), Locator::Zip { header_offset, .. }) = (&self.source, &entry.locator) else {
            return Err(EntryError::NotAFile("not an archive entry"));
        };
        let start =
            zipdir::local_data_start(&**src, *header_offset, entry.compressed_size, self.data_end)
                .map_err(EntryError::Corrupt)?;
        Ok((src.clone(), start))
    }

    fn zip_reader(&self, entry: &Entry) -> Result<EntryReader, EntryError> {
        let Locator::Zip {
            crc32,
            method,
            encrypted,
            ..
        } = entry.locator
        else {
            return Err(EntryError::NotAFile("not an archive entry"));
        };
        if encrypted {
            return Err(EntryError::Unsupported("encrypted".into()));
        }
        let (src, start) = self.zip_data(entry)?;
        let raw = RangeReader::new(src, start, entry.compressed_size);
        let inner = match method.method() {
            Method::Stored => {
                if entry.compressed_size != entry.size {
                    return Err(EntryError::Corrupt(format!(
                        "a stored entry declares {} bytes but holds {}",
                        entry.size, entry.compressed_size
                    )));
                }
                Inner::Plain(Box::new(raw))
            }
            Method::Deflated => Inner::Deflate(Box::new(flate2::read::DeflateDecoder::new(
                std::io::BufReader::with_capacity(64 * 1024, raw),
            ))),
            Method::Unknown(m) => {
                return Err(EntryError::Unsupported(format!("compression method {m}")));
            }
        };
        Ok(EntryReader::new(inner, entry.size, Some(crc32)))
    }

    fn file_path(&self, entry: &Entry) -> Option<PathBuf> {
        let raw = self.names.raw_of(entry).unwrap_or(entry.path);
        Some(self.root_dir.as_ref()?.join(self.names.get(raw)))
    }

    /// Opens a file of a folder input: never through a link, never blocking, and only if it is
    /// still the regular file the walk saw.
    fn open_file(&self, entry: &Entry) -> Result<std::fs::File, EntryError> {
        let (Locator::File { identity }, Some(path)) = (&entry.locator, self.file_path(entry))
        else {
            return Err(EntryError::NotAFile("not a file of a folder input"));
        };
        let Some(&(dev, ino)) = self.names.identities.get(*identity as usize) else {
            return Err(EntryError::NotAFile("not a file of a folder input"));
        };
        crate::folder::open_same_file(&path, dev, ino)
    }
}

fn open_zip(path: &Path, src: Arc<dyn ReadAt>, limits: &Limits) -> Result<Package, OpenErrorKind> {
    let len = src.len();
    if len == 0 {
        return Err(OpenErrorKind::Empty);
    }
    let mut head = [0u8; 8];
    let head_len = usize::try_from(len.min(8)).unwrap_or(8);
    src.read_exact_at(&mut head[..head_len], 0)?;
    if !(head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06")) {
        return Err(OpenErrorKind::NotZip(crate::sanitize::describe_head(
            &head[..head_len],
            8,
        )));
    }
    let eocd = zipdir::read_eocd(&*src)?;
    if eocd.entries > limits.max_entries {
        return Err(OpenErrorKind::OverLimit {
            what: "the entry count",
            value: eocd.entries,
            limit: limits.max_entries,
        });
    }
    if eocd.cd_size > limits.max_central_directory_size {
        return Err(OpenErrorKind::OverLimit {
            what: "the central directory's size",
            value: eocd.cd_size,
            limit: limits.max_central_directory_size,
        });
    }
    let mut stats = ArchiveStats {
        file_size: len,
        zip64: eocd.zip64,
        ..Default::default()
    };
    // A count the directory cannot hold was refused by the reader before this is sized by it.
    // Nor by a directory size the file cannot hold: both are sized by what the file can hold.
    let cd_room = eocd.cd_size.min(len);
    let mut entries =
        Vec::with_capacity(usize::try_from(eocd.entries.min(cd_room / 46)).unwrap_or(0));
    // The names take at most the directory's size: one buffer for all of them.
    let mut built = NamesBuilder::with_capacity(usize::try_from(cd_room).unwrap_or(0));
    let mut census = Census {
        name_problems: false,
        unpackable: false,
    };
    let cd_start = zipdir::read_central_directory(&src, &eocd, |rec| {
        let (size, compressed) = (rec.size, rec.compressed_size);
        let is_dir = rec.is_dir();
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
                crate::sanitize::for_terminal(&String::from_utf8_lossy(rec.name))
            )));
        }
        // One pass over the name: ASCII (no UTF-8 validation needed) and unsafe bytes.
        let flags = crate::names::byte_flags(rec.name);
        let (path, name_is_utf8) = built.push(rec.name, !flags.non_ascii)?;
        census.name_problems |=
            !name_is_utf8 || crate::names::problem_of(rec.name, &flags, limits).is_some();
        census.unpackable |= rec.encrypted || matches!(rec.method, Method::Unknown(_));
        stats.uncompressed_size = stats.uncompressed_size.saturating_add(size);
        stats.compressed_size = stats.compressed_size.saturating_add(compressed);
        stats.symlinks += u64::from(rec.is_symlink);
        stats.file_count += u64::from(!is_dir);
        entries.push(Entry {
            path,
            raw: NONE,
            size,
            compressed_size: compressed,
            is_dir,
            is_symlink: rec.is_symlink,
            name_is_utf8,
            locator: Locator::Zip {
                header_offset: rec.header_offset,
                crc32: rec.crc32,
                method: MethodCode::from(rec.method),
                encrypted: rec.encrypted,
            },
        });
        Ok(())
    })?;
    let mut names = Names::from_builder(built)?;
    stats.entry_count = entries.len() as u64;
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
    let (layout, app_root, prefix, other_apps) = find_app_in_zip(&entries, &names)?;
    if layout == Layout::Ipa {
        for entry in &mut entries {
            trim_trailing_slashes(entry, &mut names)?;
        }
    } else {
        for entry in &mut entries {
            normalise_entry(entry, &mut names, &prefix, layout)?;
        }
    }
    sort_and_find_duplicates(&mut entries, &names, &mut stats);
    Ok(Package {
        path: path.to_path_buf(),
        layout,
        app_root,
        entries,
        names,
        stats,
        other_apps,
        source: Some(src),
        data_end: cd_start,
        root_dir: None,
        limits: limits.clone(),
        census,
    })
}

/// Sorts entries by path, stably (equal paths keep archive order), without comparing whole
/// strings: an MSD sort by 7-byte chunks of the path. One array of `(chunk + length mark, index)`
/// keys is sorted in place from round to round: each round rewrites the words of a run that still
/// ties with the run's next chunk and sorts that run, so the long prefixes that entries share
/// ("Payload/X.app/res/…") are read once per entry, not once per comparison, and no round
/// allocates. The permutation is then applied with one pass of swaps. At 100,000 entries a
/// comparison sort of the entries took half the time of opening the archive.
///
/// Returns whether two paths were found equal.
fn sort_by_path(entries: &mut [Entry], names: &Names) -> bool {
    let ties = AtomicBool::new(false);
    let mut keys: Vec<(u64, u32)> = (0..entries.len() as u32).map(|i| (0, i)).collect();
    sort_run(entries, names, &mut keys, 0, &ties);
    // Apply the permutation in place, cycle by cycle: position `i` receives entry `keys[i].1`
    // (the index is overwritten as each place is filled, so no second array is needed).
    for start in 0..keys.len() {
        let mut i = start;
        while keys[i].1 as usize != start {
            let j = keys[i].1 as usize;
            entries.swap(i, j);
            keys[i].1 = i as u32;
            i = j;
        }
        keys[i].1 = i as u32;
    }
    ties.into_inner()
}

/// Paths that still tie after this many bytes (only hostile names are that long) are finished
/// with a plain comparison sort, so the recursion stays shallow.
const CHUNKED_DEPTH: usize = 1024;

/// Path bytes per sort key (the eighth byte of the word is the length mark).
const CHUNK: usize = 7;

/// Runs this short are finished with a comparison sort.
const SMALL_RUN: usize = 32;

/// Sorts `keys` (their indices into `entries`, in archive order among equals) by the paths'
/// bytes from `depth` on. The prefix the whole run shares is skipped first; then each word is set
/// to the next 7 bytes, the run is sorted by them, and runs that tie on them and go on are sorted
/// further (in parallel when big). Sets `ties` when two paths are equal.
fn sort_run(
    entries: &[Entry],
    names: &Names,
    keys: &mut [(u64, u32)],
    depth: usize,
    ties: &AtomicBool,
) {
    use rayon::prelude::*;
    let tail = |i: u32| {
        names
            .bytes(entries[i as usize].path)
            .get(depth..)
            .unwrap_or_default()
    };
    if depth >= CHUNKED_DEPTH || keys.len() <= SMALL_RUN {
        keys.sort_by(|a, b| tail(a.1).cmp(tail(b.1)).then(a.1.cmp(&b.1)));
        if keys.windows(2).any(|w| tail(w[0].1) == tail(w[1].1)) {
            ties.store(true, Relaxed);
        }
        return;
    }
    // The prefix every path of the run shares from `depth` on.
    let first = tail(keys[0].1);
    let mut shared = first.len();
    for k in &keys[1..] {
        let other = tail(k.1);
        // Usually the whole prefix is still shared: one `memcmp`, not a byte loop.
        if !other.starts_with(&first[..shared]) {
            shared = first[..shared]
                .iter()
                .zip(other)
                .take_while(|(a, b)| a == b)
                .count();
            if shared == 0 {
                break;
            }
        }
    }
    let depth = depth + shared;
    // One word per entry: the next 7 bytes of the path (zero-padded, big-endian) and, in the low
    // byte, 0..=7 where the path ends inside them (shorter sorts first) or 8 where it goes on.
    let word = |k: &mut (u64, u32)| {
        let rest = names
            .bytes(entries[k.1 as usize].path)
            .get(depth..)
            .unwrap_or_default();
        // Eight bytes or more left (the usual case): one load, the eighth byte replaced by the
        // mark; fewer: copied into a zeroed word.
        k.0 = if let Some(word) = rest.first_chunk::<8>() {
            (u64::from_be_bytes(*word) & !0xff) | (CHUNK as u64 + 1)
        } else {
            let mut chunk = [0u8; 8];
            let n = rest.len().min(CHUNK);
            chunk[..n].copy_from_slice(&rest[..n]);
            chunk[CHUNK] = rest.len().min(CHUNK + 1) as u8;
            u64::from_be_bytes(chunk)
        };
    };
    let goes_on = |k: &(u64, u32)| k.0 & 0xff == CHUNK as u64 + 1;
    // Sorted on the word only, not the index: paths sharing a folder tie on a chunk by the
    // thousand, and an unstable sort groups equal keys in linear time where distinct keys would
    // cost a full `n log n`. Stability is restored below, for the only keys that tie and end
    // here: exact duplicates. 16-byte keys, one integer compared: cheap to move and to compare.
    let big = keys.len() > 20_000;
    if big {
        keys.par_iter_mut().for_each(word);
        keys.par_sort_unstable_by_key(|k| k.0);
    } else {
        keys.iter_mut().for_each(word);
        keys.sort_unstable_by_key(|k| k.0);
    }
    // Runs that tie on this chunk: those that go on past it are split off as disjoint slices to
    // sort further; those that end in it are equal paths, put back in archive order.
    let mut runs: Vec<&mut [(u64, u32)]> = Vec::new();
    let mut rest: &mut [(u64, u32)] = keys;
    while let Some(&(head, _)) = rest.first() {
        let len = rest.iter().take_while(|k| k.0 == head).count();
        let (tied, tail) = std::mem::take(&mut rest).split_at_mut(len);
        if len > 1 {
            if goes_on(&tied[0]) {
                runs.push(tied);
            } else {
                tied.sort_unstable_by_key(|k| k.1);
                ties.store(true, Relaxed);
            }
        }
        rest = tail;
    }
    if big && runs.len() > 1 {
        runs.into_par_iter()
            .for_each(|tied| sort_run(entries, names, tied, depth + CHUNK, ties));
    } else {
        for tied in runs {
            sort_run(entries, names, tied, depth + CHUNK, ties);
        }
    }
}

/// The normalised path of an `.ipa`'s entry: its name without trailing slashes, a shorter span
/// of it (the name is kept as the raw name only when more than one slash went).
#[inline(always)]
fn trim_trailing_slashes(entry: &mut Entry, names: &mut Names) -> Result<(), OpenErrorKind> {
    let name = names.bytes(entry.path);
    if name.last() == Some(&b'/') {
        let keep = name.iter().rposition(|&b| b != b'/').map_or(0, |i| i + 1);
        if name.len() - keep > 1 {
            names.set_raw(entry, entry.path)?;
        }
        entry.path.len = keep as u32;
    }
    Ok(())
}

/// Rewrites a raw name to its normalised path in place, keeping the raw name only where it
/// differs by more than a trailing slash (a nested or zipped-app layout).
fn normalise_entry(
    entry: &mut Entry,
    names: &mut Names,
    prefix: &str,
    layout: Layout,
) -> Result<(), OpenErrorKind> {
    if layout == Layout::Ipa {
        return trim_trailing_slashes(entry, names);
    }
    let name = names.get(entry.path);
    let normalised = normalise_name(name, prefix, layout);
    if normalised.len() + 1 == name.len() && name.starts_with(normalised.as_str()) {
        entry.path.len = normalised.len() as u32;
    } else if normalised != name {
        let raw = entry.path;
        entry.path = names.push(&normalised)?;
        names.set_raw(entry, raw)?;
    }
    Ok(())
}

/// Sorts by path (stable: among equal paths, archive order) and lists the paths that occur more
/// than once (first 100) — after normalising, so `a` and `a/` collide as they do on disk.
pub(crate) fn sort_and_find_duplicates(
    entries: &mut [Entry],
    names: &Names,
    stats: &mut ArchiveStats,
) {
    // One pass says whether the entries are sorted already and whether any two are equal; the
    // sort says the latter itself. Only then are the duplicates listed.
    let mut ties = false;
    let mut sorted = true;
    for pair in entries.windows(2) {
        match names.bytes(pair[0].path).cmp(names.bytes(pair[1].path)) {
            std::cmp::Ordering::Less => {}
            std::cmp::Ordering::Equal => ties = true,
            std::cmp::Ordering::Greater => {
                sorted = false;
                break;
            }
        }
    }
    if !sorted {
        ties = sort_by_path(entries, names);
    }
    if !ties {
        return;
    }
    for pair in entries.windows(2) {
        if names.bytes(pair[0].path) != names.bytes(pair[1].path) {
            continue;
        }
        let path = names.get(pair[0].path);
        if stats.duplicate_names.last().map(String::as_str) != Some(path)
            && stats.duplicate_names.len() < 100
        {
            stats.duplicate_names.push(path.to_string());
        }
    }
}

impl Entry {
    /// An entry of a folder input.
    /// An entry of a folder input: `path` and `rel` in `names`, which also keeps the stored
    /// name and the identity.
    pub(crate) fn on_disk(
        names: &mut Names,
        (path, rel): (Span, Span),
        size: u64,
        kind: (bool, bool, bool),
        name_is_utf8: bool,
        identity: Option<(u64, u64)>,
    ) -> Result<Entry, OpenErrorKind> {
        let (is_dir, is_symlink, is_file) = kind;
        let locator = match identity {
            Some(identity) if is_file || is_symlink => Locator::File {
                identity: names.add_identity(identity)?,
            },
            _ => Locator::None,
        };
        let mut entry = Entry {
            path,
            raw: NONE,
            size,
            compressed_size: size,
            is_dir,
            is_symlink,
            name_is_utf8,
            locator,
        };
        names.set_raw(&mut entry, rel)?;
        Ok(entry)
    }
}

/// Finds the top-level app: `Payload/<X>.app/`, else `<Outer>/Payload/<X>.app/`, else `<X>.app/`.
/// Anchored on path components: a nested `Watch/W.app` never counts as the top-level app. Among
/// several candidates, the first by name that has an `Info.plist` wins (deterministic).
fn find_app_in_zip(
    raw: &[Entry],
    names: &Names,
) -> Result<(Layout, String, String, Vec<String>), OpenErrorKind> {
    use std::collections::BTreeMap;
    fn is_app(c: &str) -> bool {
        c.len() > 4 && c.ends_with(".app")
    }
    // candidate -> has an Info.plist directly inside
    let mut payload: BTreeMap<&str, bool> = BTreeMap::new();
    let mut nested: BTreeMap<(&str, &str), bool> = BTreeMap::new();
    let mut root: BTreeMap<&str, bool> = BTreeMap::new();
    // The common case first, without splitting: a name inside the same `Payload/<X>.app/` as the
    // one before only needs to know whether it is that app's Info.plist.
    let mut last_app: Option<&str> = None;
    for entry in raw {
        let path = names.get(entry.path);
        if let Some(app) = last_app
            && let Some(rest) = path
                .strip_prefix("Payload/")
                .and_then(|p| p.strip_prefix(app))
                .and_then(|p| p.strip_prefix('/'))
        {
            if rest == "Info.plist" {
                payload.insert(app, true);
            }
            continue;
        }
        last_app = None;
        let mut parts = path.split('/');
        let (p0, p1, p2, p3) = (
            parts.next().unwrap_or(""),
            parts.next(),
            parts.next(),
            parts.next(),
        );
        match (p1, p2, p3) {
            (Some(app), rest, _) if p0 == "Payload" && is_app(app) => {
                *payload.entry(app).or_default() |= rest == Some("Info.plist") && p3.is_none();
                last_app = Some(app);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(names: &mut Names, path: &str, tag: u64) -> Entry {
        Entry {
            path: names.push(path).unwrap(),
            raw: NONE,
            size: tag,
            compressed_size: 0,
            is_dir: false,
            is_symlink: false,
            name_is_utf8: true,
            locator: Locator::None,
        }
    }

    #[test]
    fn an_index_record_stays_small() {
        // The README's memory figure per entry rests on this: a record of spans, sizes and a
        // locator, its name in the shared buffer.
        assert!(
            std::mem::size_of::<Entry>() <= 48,
            "{}",
            std::mem::size_of::<Entry>()
        );
        assert_eq!(std::mem::size_of::<Locator>(), 16);
    }

    #[test]
    fn children_and_dir_names_come_from_binary_searches_that_agree_with_a_scan() {
        // Names chosen around the '/' boundary: `a.txt`, `a-b` and `a0` sort between `a`
        // and `a/…` or just after it; `ab/` shares the prefix without the slash.
        let paths = [
            "P/X.app",
            "P/X.app/a",
            "P/X.app/a-b",
            "P/X.app/a.txt",
            "P/X.app/a/1",
            "P/X.app/a/2/3",
            "P/X.app/a0",
            "P/X.app/ab/c",
            "P/X.app/en.lproj/InfoPlist.strings",
            "P/X.app0/z",
            "P/X.appz",
            "P/X.app/z",
        ];
        let mut names = Names::default();
        let mut entries: Vec<Entry> = paths.iter().map(|p| entry(&mut names, p, 0)).collect();
        entries.sort_by(|a, b| names.get(a.path).cmp(names.get(b.path)));
        let package = Package {
            path: PathBuf::from("t.ipa"),
            layout: Layout::Ipa,
            app_root: "P/X.app".into(),
            entries,
            names,
            stats: ArchiveStats::default(),
            other_apps: Vec::new(),
            source: None,
            data_end: 0,
            root_dir: None,
            limits: Limits::default(),
            census: Census::UNKNOWN,
        };
        for dir in [
            "P/X.app",
            "P/X.app/a",
            "P/X.app/a/2",
            "P/X.app/ab",
            "P",
            "P/X.app/none",
        ] {
            let scan: Vec<&str> = package
                .entries()
                .filter(|e| e.path.starts_with(&format!("{dir}/")))
                .map(|e| e.path)
                .collect();
            let got: Vec<&str> = package.children(dir).map(|e| e.path).collect();
            assert_eq!(got, scan, "{dir}");
        }
        assert_eq!(
            package.dir_names("P/X.app"),
            ["a", "a-b", "a.txt", "a0", "ab", "en.lproj", "z"]
        );
        assert_eq!(package.dir_names("P/X.app/a"), ["1", "2"]);
        assert_eq!(package.dir_names("P"), ["X.app", "X.app0", "X.appz"]);
        assert!(package.dir_names("P/X.app/none").is_empty());
    }

    #[test]
    fn the_chunked_sort_agrees_with_a_stable_comparison_sort() {
        // Shared prefixes longer than a chunk, names ending inside and at chunk borders, NUL
        // bytes, empty names and exact duplicates (whose archive order must be kept).
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let long = "p".repeat(1100);
        let stems = [
            long.as_str(),
            "",
            "a",
            "a\0",
            "Payload/X.app/",
            "Payload/X.app/res/",
            "Payload/X.app/res/long-shared-prefix-",
        ];
        // Small runs (compared whole), big ones (chunked, in parallel past 20,000), with and
        // without duplicates, shuffled and already sorted (the sort is skipped, the duplicates
        // still found).
        for (count, tail_len) in [(3, 12), (20, 3), (33, 12), (500, 40), (30_000, 12)] {
            let mut names = Names::default();
            let mut entries: Vec<Entry> = (0..count)
                .map(|tag| {
                    let stem = stems[(next() % stems.len() as u64) as usize];
                    let tail: String = (0..next() % tail_len)
                        .map(|_| ['0', '1', '/', 'z', '\0'][(next() % 5) as usize])
                        .collect();
                    entry(&mut names, &format!("{stem}{tail}"), tag)
                })
                .collect();
            let pairs = |entries: &[Entry]| -> Vec<(String, u64)> {
                entries
                    .iter()
                    .map(|e| (names.get(e.path).to_string(), e.size))
                    .collect()
            };
            let mut expected = pairs(&entries);
            expected.sort_by(|a, b| a.0.cmp(&b.0));
            let mut dups: Vec<String> = expected
                .windows(2)
                .filter(|w| w[0].0 == w[1].0)
                .map(|w| w[0].0.clone())
                .collect();
            dups.dedup();
            dups.truncate(100);
            for round in ["shuffled", "sorted"] {
                let mut stats = ArchiveStats::default();
                sort_and_find_duplicates(&mut entries, &names, &mut stats);
                assert_eq!(pairs(&entries), expected, "{count} {round}");
                assert_eq!(stats.duplicate_names, dups, "{count} {round}");
            }
            let mut unique = entries.clone();
            unique.dedup_by(|a, b| names.bytes(a.path) == names.bytes(b.path));
            unique.reverse();
            let mut stats = ArchiveStats::default();
            sort_and_find_duplicates(&mut unique, &names, &mut stats);
            assert!(stats.duplicate_names.is_empty(), "{count}");
        }
    }
}
