//! Facts about every Mach-O file of a package: slices ([`crate::macho`]), each slice's embedded
//! signature ([`crate::codesign`]) and what hashing its special slots and code pages found.
//!
//! Which entries are read: every bundle's declared executable, and every other file whose name
//! has no extension or ends in `.dylib` (where Mach-O lives), outside `_CodeSignature/`. A file
//! is kept only if its magic says Mach-O — a binary is found by magic, not by name, among those
//! candidates. Files smaller than [`crate::Limits::binary_in_memory_below`] are read whole
//! (bounded by [`crate::Limits::max_binary_size`]); larger ones are streamed by
//! [`crate::binstream`]: a non-Mach-O file is dropped after its first chunk, and of a Mach-O file
//! only what the readers look at is kept while every page is hashed on the way, so memory does
//! not grow with the executable.

use std::collections::HashMap;

use crate::binstream::{self, Outcome};
use crate::codesign::{self, PageCheck, Signature, SlotCheck, SpecialInputs};
use crate::facts::Bundle;
use crate::macho::{self, MachOFile, Slice};
use crate::package::{Entry, EntryRef, Package};
use crate::trust::TrustAnchors;

/// Why this file was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BinaryRole {
    /// The `CFBundleExecutable` of its bundle.
    MainExecutable,
    /// Any other Mach-O file (a loose dylib, a helper, a stray binary).
    Other,
}

/// The signature of one slice, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureState {
    /// No `LC_CODE_SIGNATURE`.
    Absent,
    /// `LC_CODE_SIGNATURE` present but the SuperBlob cannot be read: why.
    Unreadable(String),
    /// Parsed.
    Parsed(Box<Signature>),
}

/// One slice with its signature and verification results.
#[derive(Debug, Clone, PartialEq)]
pub struct SliceFacts {
    /// Header and load commands.
    pub macho: Slice,
    /// The embedded signature.
    pub signature: SignatureState,
    /// Per CodeDirectory (same order as `Signature::code_directories`): special-slot checks.
    pub special_slots: Vec<Vec<SlotCheck>>,
    /// Per CodeDirectory: code-page checks.
    pub pages: Vec<PageCheck>,
    /// The XML entitlements blob parsed (`Err` says why it is not a dictionary).
    pub entitlements: Option<Result<plist::Dictionary, String>>,
    /// Imported symbols and selector names (`Err` says why the symbol table is unreadable);
    /// `None` when the scan was not asked for ([`crate::Tiers::symbols`]) or the slice lies
    /// outside the file.
    pub symbols: Option<Result<crate::symbols::SliceSymbols, String>>,
}

impl SliceFacts {
    /// The parsed signature, if any.
    pub fn signature(&self) -> Option<&Signature> {
        match &self.signature {
            SignatureState::Parsed(s) => Some(s),
            _ => None,
        }
    }
}

/// A Mach-O file of the package.
#[derive(Debug, Clone, PartialEq)]
pub struct Binary {
    /// Normalised entry path.
    pub path: String,
    /// Index in [`crate::Facts::bundles`] of the nearest enclosing bundle.
    pub bundle: Option<usize>,
    /// Why it was read.
    pub role: BinaryRole,
    /// Thin or fat (`None` when unreadable).
    pub container: Option<macho::Container>,
    /// Slices with their signatures.
    pub slices: Vec<SliceFacts>,
    /// Container-level problems (overlapping slices) or why the file could not be read.
    pub problems: Vec<String>,
}

/// A declared executable that is not a Mach-O file (or could not be read).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NotMachO {
    /// Entry path.
    pub path: String,
    /// What it is instead, worded for a message.
    pub problem: String,
}

/// What [`read_binaries`] found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BinaryFacts {
    /// Every Mach-O file, in path order.
    pub binaries: Vec<Binary>,
    /// Declared executables that are not readable Mach-O files.
    pub not_macho: Vec<NotMachO>,
}

struct Candidate<'a> {
    entry: EntryRef<'a>,
    bundle: Option<usize>,
    role: BinaryRole,
}

fn is_candidate_name(path: &str) -> bool {
    // The file name first: it rules out almost every entry of a big app, so the path's folders
    // are looked at only for the few that remain. This runs for every entry of the archive, so
    // the name is read backwards only up to its extension's dot (a few bytes for `x.png`): a
    // dot before any `/` means an extension, and only `.dylib` is one a binary has.
    if !path.ends_with(".dylib") {
        let bytes = path.as_bytes();
        let cut = bytes.iter().rposition(|&b| b == b'/' || b == b'.');
        match cut {
            Some(at) if bytes[at] == b'.' => return false,
            Some(at) if &path[at + 1..] == "PkgInfo" => return false,
            None if path == "PkgInfo" => return false,
            _ => {}
        }
    }
    !path
        .split('/')
        .any(|c| c == "_CodeSignature" || c.ends_with(".dSYM"))
}

/// Nearest enclosing bundle of `path`, found by walking up its folders (never a scan of all
/// bundles).
fn enclosing(index: &HashMap<&str, usize>, path: &str) -> Option<usize> {
    let mut cur = path;
    while let Some(cut) = cur.rfind('/') {
        cur = &cur[..cut];
        if let Some(&i) = index.get(cur) {
            return Some(i);
        }
    }
    None
}

/// Reads every Mach-O file of the package, in parallel, and verifies each slice's hashes and
/// signatures (against `anchors`); with `scan_symbols`, also lists each slice's imports,
/// selectors and class names.
pub fn read_binaries(
    package: &Package,
    bundles: &[Bundle],
    scan_symbols: bool,
    anchors: &TrustAnchors,
) -> BinaryFacts {
    let mut candidates: Vec<Candidate<'_>> = Vec::new();
    let index: HashMap<&str, usize> = bundles
        .iter()
        .enumerate()
        .map(|(i, b)| (b.path.as_str(), i))
        .collect();
    // Each declared executable is looked up once in the sorted entries; the walk below then meets
    // them in order, with no per-entry lookup.
    let mut executables: Vec<(usize, usize)> = bundles
        .iter()
        .enumerate()
        .filter_map(|(i, b)| {
            let exe = b.info()?.executable.as_ref()?.as_str()?;
            if exe.is_empty() || exe.contains('/') {
                return None;
            }
            let path = format!("{}/{exe}", b.path);
            let at = package.position(&path);
            (package.entry_at(at)?.path == path).then_some((at, i))
        })
        .collect();
    executables.sort_unstable();
    executables.dedup_by_key(|(at, _)| *at);
    let mut next_exe = executables.iter().peekable();
    for (at, entry) in package.entries().enumerate() {
        let main = match next_exe.peek() {
            Some(&&(exe_at, bundle)) if exe_at == at => {
                next_exe.next();
                Some(bundle)
            }
            _ => None,
        };
        if entry.is_dir || entry.is_symlink || entry.unpackable().is_some() {
            continue;
        }
        if let Some(bundle) = main {
            candidates.push(Candidate {
                entry,
                bundle: Some(bundle),
                role: BinaryRole::MainExecutable,
            });
        } else if is_candidate_name(entry.path) {
            candidates.push(Candidate {
                entry,
                bundle: enclosing(&index, entry.path),
                role: BinaryRole::Other,
            });
        }
    }
    // Each candidate may be a large executable: in parallel as soon as there are two.
    let results: Vec<Result<Option<Binary>, NotMachO>> = crate::par::map(&candidates, true, |c| {
        read_one(package, bundles, c, scan_symbols, anchors)
    });
    let mut out = BinaryFacts::default();
    for r in results {
        match r {
            Ok(Some(b)) => out.binaries.push(b),
            Ok(None) => {}
            Err(n) => out.not_macho.push(n),
        }
    }
    out
}

fn read_one(
    package: &Package,
    bundles: &[Bundle],
    c: &Candidate<'_>,
    scan_symbols: bool,
    anchors: &TrustAnchors,
) -> Result<Option<Binary>, NotMachO> {
    let limits = package.limits();
    let main = c.role == BinaryRole::MainExecutable;
    let not_macho = |problem: String| NotMachO {
        path: c.entry.path.to_string(),
        problem,
    };
    if !main && c.entry.size < 28 {
        return Ok(None);
    }
    if c.entry.size >= limits.binary_in_memory_below {
        match binstream::read(package, &c.entry, limits.max_binary_size, scan_symbols) {
            Err(e) if main => return Err(not_macho(format!("cannot read: {e}"))),
            Err(_) => return Ok(None),
            Ok(Outcome::NotMachO(head)) if main => return Err(not_macho(describe_magic(&head))),
            Ok(Outcome::NotMachO(_)) => return Ok(None),
            Ok(Outcome::Streamed(streamed)) if streamed.complete => {
                let pages = Pages::Digests(&streamed.pages);
                let (mut binary, pending) = facts_of(
                    package,
                    bundles,
                    c,
                    &streamed.bytes,
                    pages,
                    scan_symbols,
                    anchors,
                );
                drop(streamed);
                if !pending.is_empty() {
                    rehash(
                        package,
                        &c.entry,
                        limits.max_binary_size,
                        &mut binary,
                        &pending,
                    );
                }
                return Ok(Some(binary));
            }
            // A load command points back at bytes already passed, or no mapping could be made:
            // read the file whole.
            Ok(Outcome::Streamed(_) | Outcome::Unmapped) => {}
        }
    }
    let bytes = match package.read(&c.entry, limits.max_binary_size) {
        Ok(b) => b,
        Err(e) if main => return Err(not_macho(format!("cannot read: {e}"))),
        Err(_) => return Ok(None),
    };
    if !macho::sniff(&bytes) {
        return if main {
            Err(not_macho(describe_magic(&bytes)))
        } else {
            Ok(None)
        };
    }
    let (binary, _) = facts_of(
        package,
        bundles,
        c,
        &bytes,
        Pages::InMemory,
        scan_symbols,
        anchors,
    );
    Ok(Some(binary))
}

/// How code pages are checked.
#[derive(Clone, Copy)]
enum Pages<'a> {
    /// Hashed from the file's bytes, which are all in memory.
    InMemory,
    /// Answered from digests taken while streaming (the bytes in memory are only those kept).
    Digests(&'a binstream::PageDigests),
}

/// The facts of one Mach-O file whose bytes (all, or those kept by [`binstream`]) are in
/// `bytes`, with the `(slice, CodeDirectory)` pairs whose pages the digests could not answer.
#[allow(clippy::too_many_arguments)]
fn facts_of(
    package: &Package,
    bundles: &[Bundle],
    c: &Candidate<'_>,
    bytes: &[u8],
    pages: Pages<'_>,
    scan_symbols: bool,
    anchors: &TrustAnchors,
) -> (Binary, Vec<(usize, usize)>) {
    let limits = package.limits();
    let main = c.role == BinaryRole::MainExecutable;
    let file = match macho::parse(bytes) {
        Ok(f) => f,
        Err(e) => {
            let binary = Binary {
                path: c.entry.path.to_string(),
                bundle: c.bundle,
                role: c.role,
                container: None,
                slices: Vec::new(),
                problems: vec![e.to_string()],
            };
            return (binary, Vec::new());
        }
    };
    // Slot inputs live in the bundle whose main executable this is.
    let (info_plist, code_resources) = match (main, c.bundle.and_then(|i| bundles.get(i))) {
        (true, Some(b)) => (
            read_small(package, &b.info_plist_path(), limits.max_plist_size),
            read_small(
                package,
                &format!("{}/_CodeSignature/CodeResources", b.path),
                limits.max_code_resources_size,
            ),
        ),
        _ => (None, None),
    };
    let inputs = SpecialInputs {
        info_plist: info_plist.as_deref(),
        code_resources: code_resources.as_deref(),
    };
    binary_facts(
        c.entry.path,
        c.bundle,
        c.role,
        bytes,
        file,
        &inputs,
        scan_symbols,
        anchors,
        pages,
    )
}

/// Hashes, in a second streaming pass, the pages of the CodeDirectories the digests could not
/// answer (`pending`: slice and CodeDirectory indices), one page per hasher in memory.
fn rehash(
    package: &Package,
    entry: &Entry,
    max_len: u64,
    binary: &mut Binary,
    pending: &[(usize, usize)],
) {
    struct Route<'cd> {
        start: u64,
        end: u64,
        at: (usize, usize),
        hasher: codesign::PageHasher<'cd>,
    }
    struct Router<'cd> {
        pos: u64,
        routes: Vec<Route<'cd>>,
    }
    impl std::io::Write for Router<'_> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let end = self.pos + buf.len() as u64;
            for r in &mut self.routes {
                let (a, b) = (r.start.max(self.pos), r.end.min(end));
                if a < b {
                    r.hasher
                        .update(&buf[(a - self.pos) as usize..(b - self.pos) as usize]);
                }
            }
            self.pos = end;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    // The hashers borrow copies of their CodeDirectories: the binary is written afterwards.
    let cds: Vec<((usize, usize), u64, u64, codesign::CodeDirectory)> = pending
        .iter()
        .filter_map(|&(s, k)| {
            let slice = binary.slices.get(s)?;
            let cd = slice.signature()?.code_directories.get(k)?;
            let (start, size) = (slice.macho.offset, slice.macho.size);
            Some(((s, k), start, start.saturating_add(size), cd.clone()))
        })
        .collect();
    let routes = cds
        .iter()
        .map(|(at, start, end, cd)| Route {
            start: *start,
            end: *end,
            at: *at,
            hasher: codesign::PageHasher::new(cd),
        })
        .collect();
    let mut router = Router { pos: 0, routes };
    let result = package.stream(entry, max_len, &mut [&mut router]);
    if let Err(e) = result {
        binary
            .problems
            .push(format!("cannot read the file again to hash its pages: {e}"));
        return;
    }
    for route in router.routes {
        let (s, k) = route.at;
        if let Some(check) = binary.slices.get_mut(s).and_then(|sl| sl.pages.get_mut(k)) {
            *check = route.hasher.finish();
        }
    }
}

/// Slices, signatures and hash checks of one Mach-O file whose bytes (all, or those
/// [`binstream`] kept) are in `bytes`, verified against `anchors`; with `scan_symbols`, each
/// slice's symbols too. Also returns the `(slice, CodeDirectory)` pairs `pages` could not answer.
#[allow(clippy::too_many_arguments)]
fn binary_facts(
    path: &str,
    bundle: Option<usize>,
    role: BinaryRole,
    bytes: &[u8],
    file: MachOFile,
    inputs: &SpecialInputs<'_>,
    scan_symbols: bool,
    anchors: &TrustAnchors,
    pages: Pages<'_>,
) -> (Binary, Vec<(usize, usize)>) {
    let mut pending = Vec::new();
    let slices = file
        .slices
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let (facts, unanswered) = slice_facts(bytes, s, inputs, scan_symbols, anchors, pages);
            pending.extend(unanswered.into_iter().map(|k| (i, k)));
            facts
        })
        .collect();
    let binary = Binary {
        path: path.to_string(),
        bundle,
        role,
        container: Some(file.container),
        slices,
        problems: file.problems,
    };
    (binary, pending)
}

/// One slice's facts, with the CodeDirectories whose pages `pages` could not answer (their
/// [`PageCheck`] is `unchecked` until a second pass hashes them).
fn slice_facts(
    file: &[u8],
    slice: Slice,
    inputs: &SpecialInputs<'_>,
    scan_symbols: bool,
    anchors: &TrustAnchors,
    pages: Pages<'_>,
) -> (SliceFacts, Vec<usize>) {
    let mut facts = SliceFacts {
        signature: SignatureState::Absent,
        special_slots: Vec::new(),
        pages: Vec::new(),
        entitlements: None,
        symbols: None,
        macho: slice,
    };
    let mut unanswered = Vec::new();
    // Only the privacy rules read symbols: without them the symbol table is never walked.
    if scan_symbols {
        facts.symbols = facts.macho.bytes(file).map(crate::symbols::scan);
    }
    let Some(range) = facts.macho.code_signature else {
        return (facts, unanswered);
    };
    let Some(bytes) = facts.macho.bytes(file) else {
        facts.signature = SignatureState::Unreadable("the slice lies outside the file".into());
        return (facts, unanswered);
    };
    match codesign::parse_in_slice_with(bytes, range.dataoff, range.datasize, anchors) {
        Err(e) => facts.signature = SignatureState::Unreadable(e.to_string()),
        Ok(sig) => {
            for (k, cd) in sig.code_directories.iter().enumerate() {
                facts
                    .special_slots
                    .push(codesign::check_special_slots(cd, &sig, inputs));
                let check = match pages {
                    Pages::InMemory => Some(codesign::check_pages(cd, bytes)),
                    Pages::Digests(d) => d.check(cd, facts.macho.offset, bytes.len() as u64),
                };
                facts.pages.push(check.unwrap_or_else(|| {
                    unanswered.push(k);
                    PageCheck {
                        hash_type: cd.hash_type.to_string(),
                        pages: 0,
                        mismatched: 0,
                        examples: Vec::new(),
                        truncated: false,
                        unchecked: true,
                    }
                }));
            }
            facts.entitlements = sig.entitlements_plist().map(|xml| {
                crate::info_plist::parse_dictionary(xml)
                    .map(|(_, dict)| dict)
                    .map_err(|e| e.0)
            });
            facts.signature = SignatureState::Parsed(Box::new(sig));
        }
    }
    (facts, unanswered)
}

fn read_small(package: &Package, path: &str, max: u64) -> Option<Vec<u8>> {
    let entry = package.entry(path)?;
    package.read(&entry, max).ok()
}

/// What a non-Mach-O executable looks like, for a message.
fn describe_magic(bytes: &[u8]) -> String {
    match bytes {
        [] => "is empty, not a Mach-O file".into(),
        [b'#', b'!', ..] => "is a script (#!), not a Mach-O file".into(),
        [0x7f, b'E', b'L', b'F', ..] => "is an ELF file, not a Mach-O file".into(),
        _ => {
            let shown: String = bytes.iter().take(4).map(|b| format!("{b:02x}")).collect();
            format!("is not a Mach-O file (starts with {shown})")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_candidate_name;

    #[test]
    fn candidates_are_extensionless_files_and_dylibs_outside_signatures_and_dsyms() {
        for yes in [
            "Payload/A.app/A",
            "Payload/A.app/Frameworks/F.framework/F",
            "Payload/A.app/Frameworks/libx.dylib",
            "Payload/A.app/dir.d/tool",
            "SwiftSupport/iphoneos/libswiftCore.dylib",
            "README",
        ] {
            assert!(is_candidate_name(yes), "{yes}");
        }
        for no in [
            "Payload/A.app/x.png",
            "Payload/A.app/.hidden",
            "Payload/A.app/PkgInfo",
            "PkgInfo",
            "Payload/A.app/_CodeSignature/CodeResources",
            "Payload/A.app/A.dSYM/Contents/Resources/DWARF/A",
            "Payload/A.app/Info.plist",
            "Payload/A.app/x.dylib.bak",
        ] {
            assert!(!is_candidate_name(no), "{no}");
        }
    }
}
