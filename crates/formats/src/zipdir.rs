//! The zip central directory, read by hand in one bounded pass (APPNOTE.TXT 6.3 §4.3.12–4.3.16,
//! `formats.md` §1).
//!
//! ```text
//! [local header 1][data 1] ... [local header n][data n]
//! [central directory: n × (46-byte header, name, extra, comment)]
//! [zip64 end record (56+ bytes)][zip64 locator (20 bytes)]   only in zip64 archives
//! [end of central directory record (22 bytes)][comment (≤ 65,535 bytes)]
//! ```
//!
//! The end record is found first and its entry count is checked against the limits before
//! anything is sized by it; the directory's declared size must lie inside the file, so a lying
//! record cannot make the read allocate more than the file holds. The directory is then read
//! through a 1 MiB buffer (a few large positioned reads, never one per header) and parsed into
//! compact [`CdEntry`] records: the name once, sizes, CRC-32, method, flags and the local header
//! offset. An entry's data is located only when a reader asks for it ([`local_data_start`]).

use std::io;
use std::sync::Arc;

use crate::error::OpenErrorKind;
use crate::io::ReadAt;

const EOCD_SIG: [u8; 4] = [0x50, 0x4b, 0x05, 0x06];
const ZIP64_LOCATOR_SIG: [u8; 4] = [0x50, 0x4b, 0x06, 0x07];
const ZIP64_EOCD_SIG: [u8; 4] = [0x50, 0x4b, 0x06, 0x06];
const CD_SIG: [u8; 4] = [0x50, 0x4b, 0x01, 0x02];
const LOCAL_SIG: [u8; 4] = [0x50, 0x4b, 0x03, 0x04];

/// Compression methods an `.ipa` may use (APPNOTE 4.4.5); anything else is kept as a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Stored,
    Deflated,
    Unknown(u16),
}

impl From<u16> for Method {
    fn from(v: u16) -> Method {
        match v {
            0 => Method::Stored,
            8 => Method::Deflated,
            other => Method::Unknown(other),
        }
    }
}

/// The method's code as stored (the inverse of the above).
impl From<Method> for u16 {
    fn from(method: Method) -> u16 {
        match method {
            Method::Stored => 0,
            Method::Deflated => 8,
            Method::Unknown(code) => code,
        }
    }
}

/// What the end-of-central-directory records declare.
#[derive(Debug)]
pub(crate) struct Eocd {
    pub entries: u64,
    pub zip64: bool,
    /// Size of the central directory in bytes.
    pub cd_size: u64,
    /// Where the records say the central directory starts.
    pub cd_offset: u64,
    /// Where the end record (or the zip64 end record) itself starts: the directory ends there.
    pub cd_end: u64,
}

/// One central-directory record, parsed.
#[derive(Debug)]
pub(crate) struct CdEntry<'a> {
    /// Borrowed from the directory window: the caller copies it where it keeps names.
    pub name: &'a [u8],
    pub size: u64,
    pub compressed_size: u64,
    pub crc32: u32,
    pub method: Method,
    pub encrypted: bool,
    pub is_symlink: bool,
    pub header_offset: u64,
}

impl CdEntry<'_> {
    pub fn is_dir(&self) -> bool {
        self.name.last() == Some(&b'/')
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(v)
}

fn bad(msg: impl Into<String>) -> OpenErrorKind {
    OpenErrorKind::BadZip(msg.into())
}

/// Finds and reads the end records.
pub(crate) fn read_eocd(src: &dyn ReadAt) -> Result<Eocd, OpenErrorKind> {
    let len = src.len();
    // EOCD is 22 bytes plus a comment of at most 65535 bytes; keep 20 more for the zip64 locator.
    let tail_len = len.min(22 + 65_535 + 20);
    let mut tail = vec![0u8; usize::try_from(tail_len).unwrap_or(0)];
    let start = len - tail_len;
    src.read_exact_at(&mut tail, start)?;
    // The real record's comment ends exactly at the end of the file; a signature inside a
    // comment (a decoy declaring few entries) does not. Without such a candidate, fall back to
    // the last signature found.
    let candidates = || {
        tail.windows(4)
            .enumerate()
            .rev()
            .filter(|(p, w)| *w == EOCD_SIG && p + 22 <= tail.len())
            // Multi-disk archives do not exist in an .ipa; 0xFFFF is zip64's "see the other record".
            .filter(|(p, _)| {
                matches!(u16_at(&tail, p + 4), 0 | 0xFFFF)
                    && matches!(u16_at(&tail, p + 6), 0 | 0xFFFF)
            })
            .map(|(p, _)| p)
    };
    let pos = candidates()
        .find(|&p| p + 22 + usize::from(u16_at(&tail, p + 20)) == tail.len())
        .or_else(|| candidates().next())
        .ok_or_else(|| bad("no end-of-central-directory record (truncated?)"))?;
    let eocd = &tail[pos..];
    let mut out = Eocd {
        entries: u64::from(u16_at(eocd, 10)),
        zip64: false,
        cd_size: u64::from(u32_at(eocd, 12)),
        cd_offset: u64::from(u32_at(eocd, 16)),
        cd_end: start + pos as u64,
    };
    if pos >= 20 && tail[pos - 20..pos - 16] == ZIP64_LOCATOR_SIG {
        let eocd64_at = u64_at(&tail[pos - 20..pos], 8);
        let mut rec = [0u8; 56];
        if eocd64_at.checked_add(56).is_some_and(|end| end <= len) {
            src.read_exact_at(&mut rec, eocd64_at)?;
            if rec[0..4] == ZIP64_EOCD_SIG {
                out.zip64 = true;
                out.entries = u64_at(&rec, 32);
                out.cd_size = u64_at(&rec, 40);
                out.cd_offset = u64_at(&rec, 48);
                out.cd_end = eocd64_at;
            }
        }
    }
    Ok(out)
}

/// The central directory's real start: where the records say, or — for an archive with bytes
/// prepended (a self-extractor stub) — right before the end records. Returns the start and the
/// shift to add to every local header offset.
fn locate_cd(src: &dyn ReadAt, eocd: &Eocd) -> Result<(u64, u64), OpenErrorKind> {
    let declared_end = eocd.cd_offset.checked_add(eocd.cd_size);
    if declared_end.is_none_or(|end| end > eocd.cd_end) {
        // The records place the directory past its own end record.
        let computed = eocd.cd_end.checked_sub(eocd.cd_size).ok_or_else(|| {
            bad(format!(
                "the central directory claims {} bytes, more than the file holds before its end record",
                eocd.cd_size
            ))
        })?;
        return Err(bad(format!(
            "the central directory is declared at offset {} with {} bytes, past the end record at {} (it would start at {computed})",
            eocd.cd_offset, eocd.cd_size, eocd.cd_end
        )));
    }
    let mut sig = [0u8; 4];
    let at_declared =
        eocd.entries == 0 || (src.read_exact_at(&mut sig, eocd.cd_offset).is_ok() && sig == CD_SIG);
    if at_declared {
        return Ok((eocd.cd_offset, 0));
    }
    if let Some(computed) = eocd.cd_end.checked_sub(eocd.cd_size)
        && computed > eocd.cd_offset
        && src.read_exact_at(&mut sig, computed).is_ok()
        && sig == CD_SIG
    {
        return Ok((computed, computed - eocd.cd_offset));
    }
    Err(bad(format!(
        "no central directory at offset {} (the end record points at the wrong place)",
        eocd.cd_offset
    )))
}

/// Reads the whole central directory: `eocd.entries` records, each checked before the next and
/// handed to `each` as it is parsed. Allocation is bounded by the directory's size, which lies
/// inside the file.
pub(crate) fn read_central_directory(
    src: &Arc<dyn ReadAt>,
    eocd: &Eocd,
    mut each: impl FnMut(CdEntry<'_>) -> Result<(), OpenErrorKind>,
) -> Result<u64, OpenErrorKind> {
    let (cd_start, shift) = locate_cd(&**src, eocd)?;
    let cd_len = eocd.cd_end - cd_start;
    // A record is at least 46 bytes: a count the directory cannot hold is a lie, and is never
    // used to size anything.
    if eocd.entries.saturating_mul(46) > cd_len {
        return Err(bad(format!(
            "the end record declares {} entries, but the central directory has room for at most {}",
            eocd.entries,
            cd_len / 46
        )));
    }
    let count = usize::try_from(eocd.entries).unwrap_or(usize::MAX);
    let mut window = Window::new(&**src, cd_start, cd_len);
    for index in 0..count {
        let truncated = |_: io::Error| {
            bad(format!(
                "central directory record {} of {} is truncated",
                index + 1,
                count
            ))
        };
        let header = window.need(46).map_err(truncated)?;
        if header[0..4] != CD_SIG {
            return Err(bad(format!(
                "central directory record {} of {} has no signature (the directory lies about its size or count)",
                index + 1,
                count
            )));
        }
        let name_len = usize::from(u16_at(header, 28));
        let extra_len = usize::from(u16_at(header, 30));
        let comment_len = usize::from(u16_at(header, 32));
        let record = window
            .need(46 + name_len + extra_len + comment_len)
            .map_err(truncated)?;
        let (header, rest) = record.split_at(46);
        let name = &rest[..name_len];
        let extra = &rest[name_len..name_len + extra_len];
        let mut size = u64::from(u32_at(header, 24));
        let mut compressed_size = u64::from(u32_at(header, 20));
        let mut header_offset = u64::from(u32_at(header, 42));
        apply_zip64_extra(extra, &mut size, &mut compressed_size, &mut header_offset);
        let made_by_unix = header[5] == 3;
        let mode = u32_at(header, 38) >> 16;
        let entry = CdEntry {
            name,
            size,
            compressed_size,
            crc32: u32_at(header, 16),
            method: Method::from(u16_at(header, 10)),
            encrypted: u16_at(header, 8) & 1 != 0,
            is_symlink: made_by_unix && mode & 0o170_000 == 0o120_000,
            header_offset: header_offset.saturating_add(shift),
        };
        each(entry)?;
        window.advance(46 + name_len + extra_len + comment_len);
    }
    Ok(cd_start)
}

/// A sliding window over `[offset, end)` of a source, refilled 64 KiB at a time: records are
/// parsed from memory, with one positioned read per 64 KiB of directory. Small on purpose: every
/// page of a fresh buffer costs a page fault (2–3 µs on a virtual machine), and a 1 MiB window
/// took 256 of them, 75 of the 560 of a whole 4,000-entry `inspect`.
struct Window<'a> {
    src: &'a dyn ReadAt,
    next: u64,
    end: u64,
    /// `buf[at..filled]` holds the unread bytes; the buffer is reused, never zeroed again.
    buf: Vec<u8>,
    at: usize,
    filled: usize,
}

impl<'a> Window<'a> {
    fn new(src: &'a dyn ReadAt, offset: u64, len: u64) -> Window<'a> {
        Window {
            src,
            next: offset,
            end: offset.saturating_add(len),
            buf: Vec::new(),
            at: 0,
            filled: 0,
        }
    }

    /// At least `n` bytes from the current position (a record is at most 46 + 3 × 65,535).
    #[inline]
    fn need(&mut self, n: usize) -> io::Result<&[u8]> {
        if self.filled - self.at < n {
            self.refill(n)?;
        }
        Ok(&self.buf[self.at..self.at + n])
    }

    /// Moves the unread bytes to the front and reads at least enough for `n` after them.
    #[cold]
    fn refill(&mut self, n: usize) -> io::Result<()> {
        self.buf.copy_within(self.at..self.filled, 0);
        self.filled -= self.at;
        self.at = 0;
        // Fill up to 64 KiB in all (more only for a record that needs it): reading 64 KiB on top
        // of the leftover bytes would grow the buffer past 64 KiB on the second refill — a
        // realloc, a copy and 16 fresh pages for nothing.
        let want = n.max(1 << 16) - self.filled;
        let room = usize::try_from(self.end - self.next).unwrap_or(usize::MAX);
        let take = want.min(room);
        if self.filled + take < n {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let end = self.filled + take;
        if self.buf.len() < end {
            self.buf.resize(end, 0);
        }
        self.src
            .read_exact_at(&mut self.buf[self.filled..end], self.next)?;
        self.filled = end;
        self.next += take as u64;
        Ok(())
    }

    fn advance(&mut self, n: usize) {
        self.at += n;
    }
}

/// Replaces the 32-bit fields saturated at 0xFFFFFFFF with the zip64 extra field's values
/// (APPNOTE 4.5.3: present only for the fields that overflowed, in this order).
fn apply_zip64_extra(extra: &[u8], size: &mut u64, compressed: &mut u64, offset: &mut u64) {
    let mut at = 0usize;
    while at + 4 <= extra.len() {
        let id = u16_at(extra, at);
        let len = usize::from(u16_at(extra, at + 2));
        let Some(body) = extra.get(at + 4..at + 4 + len) else {
            return;
        };
        if id == 0x0001 {
            let mut fields = body.chunks_exact(8).map(|c| u64_at(c, 0));
            for field in [size, compressed, offset] {
                if *field == u64::from(u32::MAX) {
                    match fields.next() {
                        Some(v) => *field = v,
                        None => return,
                    }
                }
            }
            return;
        }
        at += 4 + len;
    }
}

/// Where an entry's data starts, from its local header (30 bytes + name + extra), checked to lie
/// with its compressed size inside `[0, data_end)`.
pub(crate) fn local_data_start(
    src: &dyn ReadAt,
    header_offset: u64,
    compressed_size: u64,
    data_end: u64,
) -> Result<u64, String> {
    let mut header = [0u8; 30];
    src.read_exact_at(&mut header, header_offset).map_err(|_| {
        format!("its local header at offset {header_offset} lies past the end of the file")
    })?;
    if header[0..4] != LOCAL_SIG {
        return Err(format!(
            "no local header at offset {header_offset} (the central directory points at the wrong place)"
        ));
    }
    let start =
        header_offset + 30 + u64::from(u16_at(&header, 26)) + u64::from(u16_at(&header, 28));
    match start.checked_add(compressed_size) {
        Some(end) if end <= data_end => Ok(start),
        _ => Err(format!(
            "its {compressed_size} compressed bytes at offset {start} run past the archive's data"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_stays_64_kib_and_reads_every_byte_once_in_order() {
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut window = Window::new(&data, 3, data.len() as u64 - 3);
        let mut at = 3usize;
        // Records of 46 to 300 bytes (a directory's), then one of 100 KiB (a name, an extra
        // field and a comment near their 64 KiB limits): the window grows only for that one.
        let mut len = 46;
        while at + len <= data.len() - 200_000 {
            assert_eq!(window.need(len).unwrap(), &data[at..at + len]);
            window.advance(len);
            at += len;
            assert!(window.buf.len() <= 1 << 16, "{} at {at}", window.buf.len());
            len = 46 + (len * 7) % 255;
        }
        let big = 100 << 10;
        assert_eq!(window.need(big).unwrap(), &data[at..at + big]);
        window.advance(big);
        assert!(
            window.need(data.len() - at - big + 1).is_err(),
            "past the end"
        );
    }

    #[test]
    fn zip64_extra_fills_only_the_saturated_fields() {
        let mut extra = vec![0x01, 0x00, 16, 0];
        extra.extend_from_slice(&5_000_000_000u64.to_le_bytes());
        extra.extend_from_slice(&7u64.to_le_bytes());
        let (mut size, mut compressed, mut offset) = (u64::from(u32::MAX), 10, u64::from(u32::MAX));
        apply_zip64_extra(&extra, &mut size, &mut compressed, &mut offset);
        assert_eq!((size, compressed, offset), (5_000_000_000, 10, 7));
    }

    #[test]
    fn a_short_zip64_extra_leaves_the_rest_alone() {
        let extra = [0x01, 0x00, 4, 0, 1, 2, 3, 4];
        let mut size = u64::from(u32::MAX);
        let (mut c, mut o) = (1, 2);
        apply_zip64_extra(&extra, &mut size, &mut c, &mut o);
        assert_eq!((size, c, o), (u64::from(u32::MAX), 1, 2));
    }
}
