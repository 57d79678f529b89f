//! Entry I/O for every reader: positioned reads over the input ([`ReadAt`]), a bounded,
//! CRC-checked streaming reader per entry ([`EntryReader`]), ranged random access to stored
//! entries ([`EntrySlice`]) and one inflate feeding several consumers ([`crate::Package::stream`]).
//!
//! The Mach-O, code-signature, profile, PNG and `Assets.car` parsers see bytes through these
//! types, never through the zip layer: a parser that needs random access takes a `&dyn ReadAt`
//! (an input file, an in-memory buffer, or a stored entry's byte range), one that reads front to
//! back takes an [`EntryReader`] (anything that implements `Read`), and several consumers of one
//! entry (a hasher, a parser, a scanner) are fed from a single inflate.
//!
//! Every reader is bounded by the size the archive declares: an entry that inflates past it, ends
//! short of it, or whose CRC-32 does not match is an [`std::io::Error`] of kind `InvalidData`
//! carrying an [`EntryDataError`], which [`crate::EntryError`] reports as `Corrupt` — a fact
//! about that entry, not a failure of the whole run.

use std::fs::File;
use std::io::{self, Read};
use std::sync::Arc;

/// Positioned reads of an immutable byte source: many threads may read at once, each at its own
/// offset, with no shared seek position.
pub trait ReadAt: Send + Sync {
    /// Reads up to `buf.len()` bytes at `offset`; 0 means the offset is at or past the end.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;

    /// Length of the source in bytes.
    fn len(&self) -> u64;

    /// Whether the source holds no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Fills `buf` from `offset`, or fails with `UnexpectedEof`.
    fn read_exact_at(&self, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read_at(buf, offset) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    buf = &mut buf[n..];
                    offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl ReadAt for [u8] {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let Ok(start) = usize::try_from(offset) else {
            return Ok(0);
        };
        let Some(rest) = self.get(start..) else {
            return Ok(0);
        };
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        Ok(n)
    }

    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }
}

impl ReadAt for Vec<u8> {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.as_slice().read_at(buf, offset)
    }

    fn len(&self) -> u64 {
        self.as_slice().len() as u64
    }
}

impl<T: ReadAt + ?Sized> ReadAt for Arc<T> {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        (**self).read_at(buf, offset)
    }

    fn len(&self) -> u64 {
        (**self).len()
    }
}

impl<T: ReadAt + ?Sized> ReadAt for &T {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        (**self).read_at(buf, offset)
    }

    fn len(&self) -> u64 {
        (**self).len()
    }
}

/// An opened file and the length it had when opened (the length is never re-read: a file that
/// grows later is read as it was).
#[derive(Debug)]
pub struct FileSource {
    file: File,
    len: u64,
}

impl FileSource {
    /// Wraps an opened file whose length is `len`.
    pub fn new(file: File, len: u64) -> FileSource {
        FileSource { file, len }
    }
}

impl ReadAt for FileSource {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let room = self.len.saturating_sub(offset);
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        pread(&self.file, &mut buf[..want], offset)
    }

    fn len(&self) -> u64 {
        self.len
    }
}

#[cfg(unix)]
fn pread(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn pread(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

/// A byte range of a [`ReadAt`] source, itself a [`ReadAt`]: how a parser gets random access to
/// a stored (uncompressed) entry without copying it. Reads are not CRC-checked; read the entry
/// through [`crate::Package::open_entry`] for that.
#[derive(Clone)]
pub struct EntrySlice {
    src: Arc<dyn ReadAt>,
    start: u64,
    len: u64,
}

impl std::fmt::Debug for EntrySlice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntrySlice")
            .field("start", &self.start)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl EntrySlice {
    pub(crate) fn new(src: Arc<dyn ReadAt>, start: u64, len: u64) -> EntrySlice {
        EntrySlice { src, start, len }
    }
}

impl ReadAt for EntrySlice {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let room = self.len.saturating_sub(offset);
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let at = self.start.checked_add(offset).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "offset past the end of a file")
        })?;
        self.src.read_at(&mut buf[..want], at)
    }

    fn len(&self) -> u64 {
        self.len
    }
}

/// Sequential reads of `[pos, end)` of a source, one positioned read per call.
pub(crate) struct RangeReader {
    src: Arc<dyn ReadAt>,
    pos: u64,
    end: u64,
}

impl RangeReader {
    pub(crate) fn new(src: Arc<dyn ReadAt>, start: u64, len: u64) -> RangeReader {
        RangeReader {
            src,
            pos: start,
            end: start.saturating_add(len),
        }
    }
}

impl Read for RangeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let room = self.end.saturating_sub(self.pos);
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let n = self.src.read_at(&mut buf[..want], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// Why an entry's bytes are not what the archive declares.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryDataError {
    /// More bytes than the declared uncompressed size.
    #[error("larger than its declared uncompressed size ({declared} bytes)")]
    LongerThanDeclared {
        /// The declared size.
        declared: u64,
    },
    /// The stream ended early.
    #[error("ends after {got} of its declared {declared} bytes")]
    ShorterThanDeclared {
        /// Bytes produced.
        got: u64,
        /// The declared size.
        declared: u64,
    },
    /// The bytes do not match the CRC-32 in the central directory.
    #[error("CRC-32 mismatch (the archive says {expected:08x}, the bytes give {actual:08x})")]
    Crc {
        /// From the central directory.
        expected: u32,
        /// Of the bytes read.
        actual: u32,
    },
    /// The deflate stream is broken.
    #[error("broken deflate data ({0})")]
    Inflate(String),
}

impl From<EntryDataError> for io::Error {
    fn from(e: EntryDataError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

pub(crate) enum Inner {
    Plain(Box<dyn Read + Send>),
    Deflate(Box<flate2::read::DeflateDecoder<io::BufReader<RangeReader>>>),
}

/// A bounded streaming reader of one entry's bytes: never yields more than the declared size,
/// and reports a short stream or a CRC mismatch (as [`EntryDataError`]) instead of a clean end.
pub struct EntryReader {
    inner: Inner,
    declared: u64,
    produced: u64,
    crc: crc32fast::Hasher,
    expected_crc: Option<u32>,
    finished: bool,
}

impl std::fmt::Debug for EntryReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntryReader")
            .field("declared", &self.declared)
            .field("produced", &self.produced)
            .finish_non_exhaustive()
    }
}

impl EntryReader {
    pub(crate) fn new(inner: Inner, declared: u64, expected_crc: Option<u32>) -> EntryReader {
        EntryReader {
            inner,
            declared,
            produced: 0,
            crc: crc32fast::Hasher::new(),
            expected_crc,
            finished: false,
        }
    }

    /// The size the archive declares for this entry.
    pub fn declared_size(&self) -> u64 {
        self.declared
    }

    fn fill(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.inner {
            Inner::Plain(r) => r.read(buf),
            Inner::Deflate(r) => r.read(buf).map_err(|e| {
                if e.kind() == io::ErrorKind::InvalidInput || e.kind() == io::ErrorKind::InvalidData
                {
                    EntryDataError::Inflate(e.to_string()).into()
                } else {
                    e
                }
            }),
        }
    }
}

impl Read for EntryReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.finished || buf.is_empty() {
            return Ok(0);
        }
        // Ask for one byte more than may remain, so a stream longer than declared is noticed
        // without ever being read further.
        let room = self.declared - self.produced;
        let want = buf
            .len()
            .min(usize::try_from(room.saturating_add(1)).unwrap_or(usize::MAX));
        let n = self.fill(&mut buf[..want])?;
        if n as u64 > room {
            return Err(EntryDataError::LongerThanDeclared {
                declared: self.declared,
            }
            .into());
        }
        if n == 0 {
            self.finished = true;
            if self.produced < self.declared {
                return Err(EntryDataError::ShorterThanDeclared {
                    got: self.produced,
                    declared: self.declared,
                }
                .into());
            }
            if let Some(expected) = self.expected_crc {
                let actual = self.crc.clone().finalize();
                if actual != expected {
                    return Err(EntryDataError::Crc { expected, actual }.into());
                }
            }
            return Ok(0);
        }
        self.crc.update(&buf[..n]);
        self.produced += n as u64;
        Ok(n)
    }
}

/// Drains `reader` into every sink, chunk by chunk: one pass over the data whatever the number of
/// consumers. Returns the bytes read.
pub(crate) fn fan_out(reader: &mut dyn Read, sinks: &mut [&mut dyn io::Write]) -> io::Result<u64> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        for sink in sinks.iter_mut() {
            sink.write_all(&buf[..n])?;
        }
        total += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(bytes: &'static [u8], declared: u64, crc: Option<u32>) -> EntryReader {
        EntryReader::new(Inner::Plain(Box::new(bytes)), declared, crc)
    }

    fn data_error(e: &io::Error) -> Option<&EntryDataError> {
        e.get_ref()?.downcast_ref::<EntryDataError>()
    }

    #[test]
    fn exact_bytes_with_a_good_crc_read_cleanly() {
        let crc = crc32fast::hash(b"hello");
        let mut out = Vec::new();
        reader(b"hello", 5, Some(crc))
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"hello");
    }

    #[test]
    fn a_longer_stream_is_stopped_at_the_declared_size() {
        let err = reader(b"hello world", 5, None)
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert_eq!(
            data_error(&err),
            Some(&EntryDataError::LongerThanDeclared { declared: 5 })
        );
    }

    #[test]
    fn a_short_stream_and_a_bad_crc_are_errors_not_clean_ends() {
        let err = reader(b"hel", 5, None)
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert_eq!(
            data_error(&err),
            Some(&EntryDataError::ShorterThanDeclared {
                got: 3,
                declared: 5
            })
        );
        let err = reader(b"hello", 5, Some(1))
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert!(matches!(
            data_error(&err),
            Some(EntryDataError::Crc { expected: 1, .. })
        ));
    }

    #[test]
    fn slices_and_buffers_read_at_offsets() {
        let src: Arc<dyn ReadAt> = Arc::new(b"0123456789".to_vec());
        let slice = EntrySlice::new(src, 2, 5);
        let mut buf = [0u8; 8];
        assert_eq!(slice.read_at(&mut buf, 1).unwrap(), 4);
        assert_eq!(&buf[..4], b"3456");
        assert_eq!(slice.read_at(&mut buf, 5).unwrap(), 0);
        assert_eq!(slice.read_at(&mut buf, u64::MAX).unwrap(), 0);
        let mut exact = [0u8; 3];
        slice.read_exact_at(&mut exact, 0).unwrap();
        assert_eq!(&exact, b"234");
        assert!(slice.read_exact_at(&mut buf, 0).is_err());
    }

    #[test]
    fn fan_out_feeds_every_sink_once() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        let n = fan_out(&mut &b"abcdef"[..], &mut [&mut a, &mut b]).unwrap();
        assert_eq!(
            (n, a.as_slice(), b.as_slice()),
            (6, &b"abcdef"[..], &b"abcdef"[..])
        );
    }
}
