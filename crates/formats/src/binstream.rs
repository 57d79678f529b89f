//! Reading a Mach-O file without holding it: one pass over the inflating entry keeps only the
//! bytes the parsers read and hashes every code page on the way.
//!
//! A real executable is mostly code and data that nothing but the page hashes looks at. The
//! bytes the readers do need — the fat table, each slice's header and load commands, its
//! `LC_CODE_SIGNATURE` SuperBlob and, for the symbol scan, the symbol and string tables, the
//! loader's import tables and two `__objc_*` sections — are all named by load commands that come
//! before them in the file. So the entry is streamed once, in chunks of [`CHUNK`] bytes: the
//! plan of wanted ranges grows as headers arrive, wanted bytes are copied into a file-sized
//! anonymous mapping (pages never written are never backed by memory, so resident memory is
//! what was kept, not the file's size), and each 4 KiB page is hashed with SHA-1 and SHA-256 as
//! it passes. The page digests are then compared with each CodeDirectory's hashes without the
//! pages themselves.
//!
//! Whatever does not fit this shape is detected, never guessed: a wanted range that begins
//! before the stream position (a load command pointing backwards) makes the capture incomplete
//! (the caller reads the file whole, as before), and a CodeDirectory whose pages are not the
//! 4 KiB pages digested here (another page size, a `codeLimit` off the signature offset, a
//! slice not 4 KiB-aligned, SHA-384) gets no answer from [`PageDigests::check`] (the caller
//! hashes those pages in a second streaming pass).

use std::collections::BTreeSet;
use std::io::Read;

use aws_lc_rs::digest;

use crate::codesign::{CodeDirectory, HashType, MAX_PAGE_EXAMPLES, PageCheck};
use crate::{Entry, EntryError, Package};

/// Bytes inflated per step (the only buffer that grows with nothing).
pub const CHUNK: usize = 256 << 10;
/// The page size digested while streaming (iOS code signatures use 4 KiB pages).
pub const PAGE: u64 = 4096;

const LC_SEGMENT: u32 = 0x1;
const LC_SYMTAB: u32 = 0x2;
const LC_SEGMENT_64: u32 = 0x19;
const LC_CODE_SIGNATURE: u32 = 0x1d;
const LC_DYLD_INFO: u32 = 0x22;
const LC_DYLD_INFO_ONLY: u32 = 0x8000_0022;
const LC_DYLD_CHAINED_FIXUPS: u32 = 0x8000_0034;
/// Load commands looked at per slice, as the readers bound them.
const MAX_LOAD_COMMANDS: usize = 4096;
/// Sections looked at per segment command.
const MAX_SECTIONS: usize = 4096;

/// What one streaming pass kept.
pub struct Streamed {
    /// The file's bytes where a reader needs them, zero elsewhere (never backed by memory).
    pub bytes: memmap2::MmapMut,
    /// SHA-1 and SHA-256 of every page.
    pub pages: PageDigests,
    /// Every range a reader reads was captured; when false, read the file whole.
    pub complete: bool,
    /// Bytes kept (for measurement and tests).
    pub kept: u64,
}

/// What [`read`] found.
pub enum Outcome {
    /// Not a Mach-O file: its first bytes (at most 8), and the stream was stopped there.
    NotMachO(Vec<u8>),
    /// A Mach-O file, streamed.
    Streamed(Streamed),
    /// A Mach-O file, but no file-sized mapping could be made for it: read it whole instead.
    Unmapped,
}

/// Streams `entry` (at most `max_len` bytes), keeping what the Mach-O readers need; with
/// `symbols`, also what the symbol scan reads.
pub fn read(
    package: &Package,
    entry: &Entry,
    max_len: u64,
    symbols: bool,
) -> Result<Outcome, EntryError> {
    if entry.size > max_len {
        return Err(EntryError::TooLarge { limit: max_len });
    }
    let mut reader = package.open_entry(entry)?;
    let size = entry.size;
    let len = usize::try_from(size).map_err(|_| EntryError::TooLarge { limit: max_len })?;
    let mut scratch = vec![0u8; CHUNK];
    let mut plan = Plan::new(size, symbols);
    let mut digester = Digester::new();
    let mut bytes: Option<memmap2::MmapMut> = None;
    let mut pos = 0u64;
    loop {
        let n = fill(&mut reader, &mut scratch).map_err(EntryError::from_io)?;
        if n == 0 {
            break;
        }
        let chunk = &scratch[..n];
        if pos == 0 {
            let head = &chunk[..n.min(8)];
            if !crate::macho::sniff(head) {
                return Ok(Outcome::NotMachO(head.to_vec()));
            }
            // Where the system refuses a file-sized mapping (strict overcommit), read it whole.
            match memmap2::MmapMut::map_anon(len.max(1)) {
                Ok(map) => bytes = Some(map),
                Err(_) => return Ok(Outcome::Unmapped),
            }
        }
        let Some(buf) = bytes.as_mut() else { break };
        let end = pos + n as u64;
        // Headers that arrive in this chunk may want more of this same chunk.
        loop {
            plan.copy(buf, pos, chunk);
            if !plan.advance(buf, pos, end) {
                break;
            }
        }
        digester.update(pos, chunk, &plan.breaks);
        pos = end;
    }
    digester.finish();
    let Some(bytes) = bytes else {
        return Ok(Outcome::NotMachO(Vec::new()));
    };
    Ok(Outcome::Streamed(Streamed {
        bytes,
        pages: PageDigests {
            pages: digester.out,
        },
        complete: !plan.missed,
        kept: plan.kept(),
    }))
}

/// Reads until `buf` is full or the stream ends.
fn fill(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Where a slice's reading stands.
#[derive(Clone, Copy)]
enum SliceStage {
    /// Waiting for the 32-byte header.
    Header,
    /// Waiting for the load commands, which end at this file offset.
    Commands {
        end: u64,
        big_endian: bool,
        is_64: bool,
    },
    /// Everything it points at is planned.
    Done,
}

struct PlannedSlice {
    offset: u64,
    end: u64,
    stage: SliceStage,
}

enum Stage {
    Magic,
    FatTable { count: u32, entry: u64, is_64: bool },
    Slices,
    Done,
}

/// The ranges to keep, grown as headers arrive.
struct Plan {
    size: u64,
    symbols: bool,
    stage: Stage,
    slices: Vec<PlannedSlice>,
    /// `[start, end)` file ranges to keep.
    wanted: Vec<(u64, u64)>,
    /// Offsets where a page ends early (a slice's start and end, a signature's offset).
    breaks: BTreeSet<u64>,
    /// A wanted range began before the stream position: the capture is incomplete.
    missed: bool,
}

impl Plan {
    fn new(size: u64, symbols: bool) -> Plan {
        let mut plan = Plan {
            size,
            symbols,
            stage: Stage::Magic,
            slices: Vec::new(),
            wanted: Vec::new(),
            breaks: BTreeSet::new(),
            missed: false,
        };
        plan.want(0, 8, 0);
        plan
    }

    fn kept(&self) -> u64 {
        let mut ranges = self.wanted.clone();
        ranges.sort_unstable();
        let (mut total, mut reach) = (0u64, 0u64);
        for (a, b) in ranges {
            let a = a.max(reach);
            if b > a {
                total += b - a;
                reach = b;
            }
        }
        total
    }

    /// Plans `[start, start + len)` (cut at the end of the file). `passed` is where the current
    /// chunk starts: bytes before it are gone.
    fn want(&mut self, start: u64, len: u64, passed: u64) {
        let end = start.saturating_add(len).min(self.size);
        if start >= end {
            return;
        }
        if start < passed && !self.covered(start, end.min(passed)) {
            self.missed = true;
        }
        self.wanted.push((start, end));
    }

    fn covered(&self, start: u64, end: u64) -> bool {
        let mut ranges: Vec<(u64, u64)> = self
            .wanted
            .iter()
            .copied()
            .filter(|&(a, b)| b > start && a < end)
            .collect();
        ranges.sort_unstable();
        let mut reach = start;
        for (a, b) in ranges {
            if a > reach {
                return false;
            }
            reach = reach.max(b);
        }
        reach >= end
    }

    /// Copies the wanted parts of the chunk at `start` into `buf`.
    fn copy(&self, buf: &mut [u8], start: u64, chunk: &[u8]) {
        let end = start + chunk.len() as u64;
        for &(a, b) in &self.wanted {
            let (a, b) = (a.max(start), b.min(end));
            if a < b {
                let (s, e) = ((a - start) as usize, (b - start) as usize);
                buf[a as usize..b as usize].copy_from_slice(&chunk[s..e]);
            }
        }
    }

    /// Reads whatever headers the bytes before `avail` now hold and plans what they point at.
    /// Returns whether anything new was planned.
    ///
    /// A step that plans new ranges ends the call, so the caller copies them before any step
    /// reads them: each step reads only ranges planned (and so copied) before it.
    fn advance(&mut self, buf: &[u8], passed: u64, avail: u64) -> bool {
        loop {
            let before = self.wanted.len();
            let progressed = match self.stage {
                Stage::Magic => self.magic(buf, passed, avail),
                Stage::FatTable {
                    count,
                    entry,
                    is_64,
                } => self.fat_table(buf, passed, avail, count, entry, is_64),
                Stage::Slices => self.slices(buf, passed, avail),
                Stage::Done => false,
            };
            if self.wanted.len() > before {
                return true;
            }
            if !progressed {
                return false;
            }
        }
    }

    fn magic(&mut self, buf: &[u8], passed: u64, avail: u64) -> bool {
        if avail < self.size.min(8) {
            return false;
        }
        let magic = be32(buf, 0).unwrap_or(0);
        let fat = |count: u32, entry: u64, is_64: bool| Stage::FatTable {
            count,
            entry,
            is_64,
        };
        match magic {
            object::macho::FAT_MAGIC | object::macho::FAT_MAGIC_64 => {
                let count = be32(buf, 4).unwrap_or(0);
                if count == 0 || count > crate::macho::MAX_SLICES {
                    self.stage = Stage::Done;
                    return true;
                }
                let is_64 = magic == object::macho::FAT_MAGIC_64;
                let entry = if is_64 { 32 } else { 20 };
                self.want(8, u64::from(count) * entry, passed);
                self.stage = fat(count, entry, is_64);
            }
            _ => {
                self.add_slice(0, self.size, passed);
                self.stage = Stage::Slices;
            }
        }
        true
    }

    #[allow(clippy::too_many_arguments)]
    fn fat_table(
        &mut self,
        buf: &[u8],
        passed: u64,
        avail: u64,
        count: u32,
        entry: u64,
        is_64: bool,
    ) -> bool {
        let table_end = (8 + u64::from(count) * entry).min(self.size);
        if avail < table_end {
            return false;
        }
        for i in 0..u64::from(count) {
            let at = (8 + i * entry) as usize;
            let (offset, size) = if is_64 {
                (be64(buf, at + 8), be64(buf, at + 16))
            } else {
                (
                    be32(buf, at + 8).map(u64::from),
                    be32(buf, at + 12).map(u64::from),
                )
            };
            let (Some(offset), Some(size)) = (offset, size) else {
                continue;
            };
            if offset < self.size {
                let size = size.min(self.size - offset);
                self.add_slice(offset, size, passed);
            }
        }
        self.stage = Stage::Slices;
        true
    }

    fn add_slice(&mut self, offset: u64, size: u64, passed: u64) {
        let end = offset + size;
        self.breaks.insert(offset);
        self.breaks.insert(end);
        self.want(offset, 32.min(size), passed);
        self.slices.push(PlannedSlice {
            offset,
            end,
            stage: SliceStage::Header,
        });
    }

    fn slices(&mut self, buf: &[u8], passed: u64, avail: u64) -> bool {
        let mut progressed = false;
        for i in 0..self.slices.len() {
            let PlannedSlice { offset, end, stage } = self.slices[i];
            let next = match stage {
                SliceStage::Header => {
                    if avail < (offset + 32).min(end) {
                        continue;
                    }
                    self.header(buf, offset, end, passed)
                }
                SliceStage::Commands {
                    end: cmds_end,
                    big_endian,
                    is_64,
                } => {
                    if avail < cmds_end {
                        continue;
                    }
                    self.commands(buf, offset, end, cmds_end, big_endian, is_64, passed);
                    SliceStage::Done
                }
                SliceStage::Done => continue,
            };
            self.slices[i].stage = next;
            progressed = true;
        }
        progressed
    }

    fn header(&mut self, buf: &[u8], offset: u64, end: u64, passed: u64) -> SliceStage {
        let at = offset as usize;
        let (big_endian, is_64) = match le32(buf, at) {
            Some(object::macho::MH_MAGIC_64) => (false, true),
            Some(object::macho::MH_CIGAM_64) => (true, true),
            Some(object::macho::MH_MAGIC) => (false, false),
            Some(object::macho::MH_CIGAM) => (true, false),
            _ => return SliceStage::Done,
        };
        let header = if is_64 { 32 } else { 28 };
        let Some(sizeofcmds) = u32_in(buf, at + 20, big_endian) else {
            return SliceStage::Done;
        };
        let cmds_end = (offset + header + u64::from(sizeofcmds)).min(end);
        self.want(offset, cmds_end - offset, passed);
        SliceStage::Commands {
            end: cmds_end,
            big_endian,
            is_64,
        }
    }

    /// Plans what the load commands of the slice at `offset` point at.
    #[allow(clippy::too_many_arguments)]
    fn commands(
        &mut self,
        buf: &[u8],
        offset: u64,
        end: u64,
        cmds_end: u64,
        big_endian: bool,
        is_64: bool,
        passed: u64,
    ) {
        let u32_at = |at: u64| u32_in(buf, at as usize, big_endian).map(u64::from);
        let in_slice = |plan: &mut Plan, off: Option<u64>, len: Option<u64>| {
            if let (Some(off), Some(len)) = (off, len) {
                let start = offset.saturating_add(off);
                if start < end {
                    plan.want(start, len.min(end - start), passed);
                }
            }
        };
        let ncmds = u32_at(offset + 16).unwrap_or(0) as usize;
        let mut at = offset + if is_64 { 32 } else { 28 };
        for _ in 0..ncmds.min(MAX_LOAD_COMMANDS) {
            let (Some(cmd), Some(size)) = (u32_at(at), u32_at(at + 4)) else {
                break;
            };
            if size < 8 || at + size > cmds_end {
                break;
            }
            match cmd as u32 {
                LC_CODE_SIGNATURE => {
                    let dataoff = u32_at(at + 8);
                    if let Some(off) = dataoff {
                        self.breaks.insert(offset.saturating_add(off));
                    }
                    in_slice(self, dataoff, u32_at(at + 12));
                }
                _ if !self.symbols => {}
                LC_SYMTAB => {
                    let nlist = if is_64 { 16 } else { 12 };
                    let nsyms = u32_at(at + 12).map(|n| n * nlist);
                    in_slice(self, u32_at(at + 8), nsyms);
                    in_slice(self, u32_at(at + 16), u32_at(at + 20));
                }
                LC_DYLD_CHAINED_FIXUPS => in_slice(self, u32_at(at + 8), u32_at(at + 12)),
                LC_DYLD_INFO | LC_DYLD_INFO_ONLY => {
                    for field in [16, 24, 32] {
                        in_slice(self, u32_at(at + field), u32_at(at + field + 4));
                    }
                }
                LC_SEGMENT_64 | LC_SEGMENT => {
                    // section_64: 80 bytes (size u64 at 40, offset at 48) after a 72-byte
                    // command; section: 68 bytes (size at 36, offset at 40) after 56.
                    let (nsects_at, first, each, size_at, off_at) = if cmd as u32 == LC_SEGMENT_64 {
                        (64, 72, 80, 40, 48)
                    } else {
                        (48, 56, 68, 36, 40)
                    };
                    let nsects = u32_at(at + nsects_at).unwrap_or(0) as usize;
                    for s in 0..nsects.min(MAX_SECTIONS) as u64 {
                        let sect = at + first + s * each;
                        if sect + each > at + size {
                            break;
                        }
                        let name = &buf[sect as usize..sect as usize + 16];
                        let name = &name[..name.iter().position(|b| *b == 0).unwrap_or(16)];
                        if name != b"__objc_methname" && name != b"__objc_classname" {
                            continue;
                        }
                        let len = if cmd as u32 == LC_SEGMENT_64 {
                            u64_in(buf, (sect + size_at) as usize, big_endian)
                        } else {
                            u32_at(sect + size_at)
                        };
                        in_slice(self, u32_at(sect + off_at), len);
                    }
                }
                _ => {}
            }
            at += size;
        }
    }
}

fn be32(buf: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(buf.get(at..at + 4)?.try_into().ok()?))
}

fn be64(buf: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(buf.get(at..at + 8)?.try_into().ok()?))
}

fn le32(buf: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(buf.get(at..at + 4)?.try_into().ok()?))
}

fn u32_in(buf: &[u8], at: usize, big_endian: bool) -> Option<u32> {
    let b: [u8; 4] = buf.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if big_endian {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    })
}

fn u64_in(buf: &[u8], at: usize, big_endian: bool) -> Option<u64> {
    let b: [u8; 8] = buf.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(if big_endian {
        u64::from_be_bytes(b)
    } else {
        u64::from_le_bytes(b)
    })
}

/// One digested page.
struct PageDigest {
    start: u64,
    len: u32,
    sha1: [u8; 20],
    sha256: [u8; 32],
}

/// Hashes the stream in 4 KiB pages, cut early at every break.
struct Digester {
    pos: u64,
    page_start: u64,
    sha1: digest::Context,
    sha256: digest::Context,
    out: Vec<PageDigest>,
}

impl Digester {
    fn new() -> Digester {
        Digester {
            pos: 0,
            page_start: 0,
            sha1: digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY),
            sha256: digest::Context::new(&digest::SHA256),
            out: Vec::new(),
        }
    }

    fn update(&mut self, start: u64, mut chunk: &[u8], breaks: &BTreeSet<u64>) {
        debug_assert_eq!(start, self.pos);
        while !chunk.is_empty() {
            let aligned = (self.pos / PAGE + 1) * PAGE;
            let brk = breaks
                .range(self.pos + 1..)
                .next()
                .copied()
                .unwrap_or(u64::MAX);
            let boundary = aligned.min(brk);
            let take = ((boundary - self.pos) as usize).min(chunk.len());
            self.sha1.update(&chunk[..take]);
            self.sha256.update(&chunk[..take]);
            self.pos += take as u64;
            chunk = &chunk[take..];
            if self.pos == boundary {
                self.finish();
            }
        }
    }

    fn finish(&mut self) {
        if self.pos == self.page_start {
            return;
        }
        let sha1 = std::mem::replace(
            &mut self.sha1,
            digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY),
        )
        .finish();
        let sha256 =
            std::mem::replace(&mut self.sha256, digest::Context::new(&digest::SHA256)).finish();
        let mut page = PageDigest {
            start: self.page_start,
            len: (self.pos - self.page_start) as u32,
            sha1: [0; 20],
            sha256: [0; 32],
        };
        page.sha1.copy_from_slice(sha1.as_ref());
        page.sha256.copy_from_slice(sha256.as_ref());
        self.out.push(page);
        self.page_start = self.pos;
    }
}

/// SHA-1 and SHA-256 of every page of a streamed file (60 bytes per 4 KiB page).
pub struct PageDigests {
    pages: Vec<PageDigest>,
}

impl PageDigests {
    fn get(&self, start: u64, len: u64) -> Option<&PageDigest> {
        let at = self.pages.binary_search_by_key(&start, |p| p.start).ok()?;
        let page = &self.pages[at];
        (u64::from(page.len) == len).then_some(page)
    }

    /// Pages digested.
    pub fn len(&self) -> usize {
        self.pages.len()
    }

    /// No page was digested (an empty file).
    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }

    /// What [`crate::codesign::check_pages`] finds for `cd` over the slice at `offset` of
    /// `available` bytes, answered from the digests; `None` when the digests cannot answer
    /// (pages other than these 4 KiB pages, or a hash type other than SHA-1/SHA-256).
    pub fn check(&self, cd: &CodeDirectory, offset: u64, available: u64) -> Option<PageCheck> {
        let sha1 = match cd.hash_type {
            HashType::Sha1 => true,
            HashType::Sha256 | HashType::Sha256Truncated => false,
            _ => return None,
        };
        if cd.page_size_log2 != 12 || cd.hash_size == 0 {
            return None;
        }
        let size = usize::from(cd.hash_size);
        let mut check = PageCheck {
            hash_type: cd.hash_type.to_string(),
            pages: 0,
            mismatched: 0,
            examples: Vec::new(),
            truncated: cd.code_limit > available,
            unchecked: false,
        };
        let end = cd.code_limit.min(available);
        let mut start = 0u64;
        while start < end {
            let len = PAGE.min(end - start);
            let page = self.get(offset + start, len)?;
            let actual: &[u8] = if sha1 { &page.sha1 } else { &page.sha256 };
            let index = check.pages as usize;
            let expected = index
                .checked_mul(size)
                .and_then(|at| cd.code_hashes.get(at..at + size));
            if expected.is_none_or(|e| actual.get(..size) != Some(e)) {
                check.mismatched += 1;
                if check.examples.len() < MAX_PAGE_EXAMPLES {
                    check.examples.push(check.pages);
                }
            }
            check.pages += 1;
            start += len;
        }
        if check.pages < cd.n_code_slots {
            check.mismatched = check
                .mismatched
                .saturating_add(cd.n_code_slots - check.pages);
        }
        Some(check)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_behind_the_stream_makes_the_capture_incomplete_unless_already_kept() {
        let mut plan = Plan::new(1 << 20, false);
        plan.want(0, 4096, 0);
        // Inside what was kept before the current chunk: fine.
        plan.want(100, 200, 300_000);
        assert!(!plan.missed);
        // Ahead of the stream: fine.
        plan.want(400_000, 10, 300_000);
        assert!(!plan.missed);
        // Partly behind the stream and never kept: the bytes are gone.
        plan.want(4000, 1000, 300_000);
        assert!(plan.missed);
    }

    #[test]
    fn pages_are_cut_at_4_kib_and_at_every_break() {
        let data: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let breaks: BTreeSet<u64> = [5000, 10_000].into_iter().collect();
        let mut d = Digester::new();
        // Chunk sizes that straddle pages and breaks.
        let mut pos = 0;
        for chunk in data.chunks(3001) {
            d.update(pos, chunk, &breaks);
            pos += chunk.len() as u64;
        }
        d.finish();
        let cuts: Vec<(u64, u32)> = d.out.iter().map(|p| (p.start, p.len)).collect();
        assert_eq!(cuts, [(0, 4096), (4096, 904), (5000, 3192), (8192, 1808)]);
        let sha = |r: std::ops::Range<usize>| digest::digest(&digest::SHA256, &data[r]);
        assert_eq!(d.out[2].sha256, sha(5000..8192).as_ref());
        let pages = PageDigests { pages: d.out };
        assert!(pages.get(5000, 3192).is_some());
        assert!(pages.get(5000, 4096).is_none(), "a page of another length");
        assert!(pages.get(4097, 10).is_none(), "not a page start");
    }

    #[test]
    fn the_fat_table_and_each_slice_header_are_planned_before_they_are_read() {
        // A fat header with two slices at 0x1000 and 0x3000, each a bare 64-bit header whose
        // load commands hold one LC_CODE_SIGNATURE.
        let mut file = vec![0u8; 0x5000];
        file[..8].copy_from_slice(&[0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2]);
        for (i, off) in [0x1000u32, 0x3000].into_iter().enumerate() {
            let at = 8 + i * 20;
            file[at + 8..at + 12].copy_from_slice(&off.to_be_bytes());
            file[at + 12..at + 16].copy_from_slice(&0x2000u32.to_be_bytes());
            let h = off as usize;
            file[h..h + 4].copy_from_slice(&0xfeed_facfu32.to_le_bytes());
            file[h + 16..h + 20].copy_from_slice(&1u32.to_le_bytes()); // ncmds
            file[h + 20..h + 24].copy_from_slice(&16u32.to_le_bytes()); // sizeofcmds
            let lc = h + 32;
            file[lc..lc + 4].copy_from_slice(&LC_CODE_SIGNATURE.to_le_bytes());
            file[lc + 4..lc + 8].copy_from_slice(&16u32.to_le_bytes());
            file[lc + 8..lc + 12].copy_from_slice(&0x1800u32.to_le_bytes()); // dataoff
            file[lc + 12..lc + 16].copy_from_slice(&0x100u32.to_le_bytes()); // datasize
        }
        let mut plan = Plan::new(file.len() as u64, false);
        let mut buf = vec![0u8; file.len()];
        // One chunk holding everything, as a small file arrives.
        loop {
            plan.copy(&mut buf, 0, &file);
            if !plan.advance(&buf, 0, file.len() as u64) {
                break;
            }
        }
        assert!(!plan.missed);
        for off in [0x1000u64, 0x3000] {
            assert!(
                plan.covered(off, off + 48),
                "header and commands at {off:#x}"
            );
            assert!(
                plan.covered(off + 0x1800, off + 0x1900),
                "signature of {off:#x}"
            );
            assert!(plan.breaks.contains(&(off + 0x1800)));
        }
        assert!(!plan.covered(0x1100, 0x1200), "code is not kept");
        assert_eq!(plan.kept(), 8 + 40 + 2 * (48 + 0x100));
    }
}
