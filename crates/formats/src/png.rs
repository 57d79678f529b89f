//! PNG files as iOS ships them: standard PNGs and Apple's "crushed" CgBI variant
//! (`formats.md` §3; theapplewiki "PNG Images"; iphonedev.wiki "CgBI file format").
//!
//! ```text
//! 0  89 50 4E 47 0D 0A 1A 0A                  signature
//!    {u32 BE length, type[4], data, u32 BE CRC-32(type + data)} …   chunks, IHDR first …
//! CgBI: a private critical chunk "CgBI" (4 data bytes) *before* IHDR; IDAT is raw DEFLATE
//!       (no zlib header), pixels are BGRA with premultiplied alpha, always bit depth 8 /
//!       colour type 6. Its data's low byte is 0x06 when every pixel is opaque, 0x02 when some
//!       alpha < 255 (196/196 corpus files).
//! IHDR: u32 width, u32 height, u8 bit depth, u8 colour type, compression, filter, interlace
//! ```
//!
//! [`read_header`] walks the chunks (bounds, CRCs, the first IHDR, `tRNS`, `CgBI`) without
//! inflating anything; [`any_transparent_pixel`] decodes (CgBI by hand, standard PNGs with the
//! `png` crate, which rejects CgBI) to say whether a pixel is actually transparent. Both are total
//! over any `&[u8]`: no panic, allocation bounded by the caller's limit.

use std::io::Read;

const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

/// IHDR colour type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ColorType {
    /// 0
    Grey,
    /// 2
    Rgb,
    /// 3
    Palette,
    /// 4
    GreyAlpha,
    /// 6
    Rgba,
    /// Anything else.
    Unknown(u8),
}

impl ColorType {
    fn from_raw(v: u8) -> ColorType {
        match v {
            0 => ColorType::Grey,
            2 => ColorType::Rgb,
            3 => ColorType::Palette,
            4 => ColorType::GreyAlpha,
            6 => ColorType::Rgba,
            other => ColorType::Unknown(other),
        }
    }
}

/// What the chunk walk found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PngHeader {
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
    /// Bits per sample.
    pub bit_depth: u8,
    /// Colour type.
    pub color_type: ColorType,
    /// Interlaced (Adam7).
    pub interlaced: bool,
    /// A `tRNS` chunk is present.
    pub has_trns: bool,
    /// The data of the `CgBI` chunk, if the file is Apple-crushed.
    pub cgbi: Option<u32>,
    /// The first chunk whose CRC does not match, if any.
    pub bad_crc: Option<String>,
    /// Sum of IDAT data lengths.
    pub idat_bytes: u64,
}

impl PngHeader {
    /// Apple-crushed (CgBI).
    pub fn crushed(&self) -> bool {
        self.cgbi.is_some()
    }

    /// Whether the image has an alpha channel. For CgBI (always RGBA) the chunk's flag byte
    /// decides: `0x06` every pixel opaque, else some alpha < 255.
    pub fn has_alpha(&self) -> bool {
        match self.cgbi {
            Some(flags) => flags & 0xff != 0x06,
            None => {
                matches!(self.color_type, ColorType::GreyAlpha | ColorType::Rgba) || self.has_trns
            }
        }
    }
}

/// A PNG that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PngError {
    /// No PNG signature.
    #[error("not a PNG (starts with {0:02x?})")]
    NotAPng(Vec<u8>),
    /// A chunk's declared length runs past the end of the file.
    #[error(
        "chunk {chunk:?} at byte {at} declares {length} bytes, past the end of the file ({file_len} bytes)"
    )]
    ChunkPastEnd {
        /// Chunk type.
        chunk: String,
        /// Offset of the chunk.
        at: usize,
        /// Declared length.
        length: u32,
        /// File length.
        file_len: usize,
    },
    /// No IHDR before the first IDAT / the end.
    #[error("no IHDR chunk")]
    NoHeader,
    /// IHDR is not 13 bytes or declares zero or absurd dimensions.
    #[error("invalid IHDR: {0}")]
    BadHeader(String),
    /// Too many chunks.
    #[error("more than {0} chunks")]
    TooManyChunks(usize),
    /// The pixels cannot be decoded.
    #[error("cannot decode the pixels: {0}")]
    Decode(String),
    /// The pixels would decode to more than the limit.
    #[error("{width}×{height} pixels would decode to more than {limit} bytes")]
    TooLarge {
        /// Pixels.
        width: u32,
        /// Pixels.
        height: u32,
        /// The limit.
        limit: usize,
    },
}

/// Most chunks walked (a real icon has fewer than 20).
const MAX_CHUNKS: usize = 100_000;

struct Chunk<'a> {
    kind: [u8; 4],
    data: &'a [u8],
    crc_ok: bool,
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn chunks(bytes: &[u8]) -> Result<Vec<Chunk<'_>>, PngError> {
    if bytes.get(..8) != Some(&SIGNATURE[..]) {
        return Err(PngError::NotAPng(bytes.iter().take(8).copied().collect()));
    }
    let mut out = Vec::new();
    let mut at = 8usize;
    while at < bytes.len() {
        if out.len() >= MAX_CHUNKS {
            return Err(PngError::TooManyChunks(MAX_CHUNKS));
        }
        let name = |b: &[u8]| {
            String::from_utf8_lossy(b.get(at + 4..at + 8).unwrap_or(b"????")).into_owned()
        };
        let length = be32(bytes, at).ok_or_else(|| PngError::ChunkPastEnd {
            chunk: "(length)".into(),
            at,
            length: 0,
            file_len: bytes.len(),
        })?;
        let end = at
            .checked_add(12)
            .and_then(|e| e.checked_add(length as usize))
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| PngError::ChunkPastEnd {
                chunk: name(bytes),
                at,
                length,
                file_len: bytes.len(),
            })?;
        let kind = [bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]];
        let data = &bytes[at + 8..end - 4];
        let mut crc = flate2::Crc::new();
        crc.update(&bytes[at + 4..end - 4]);
        let crc_ok = be32(bytes, end - 4) == Some(crc.sum());
        out.push(Chunk { kind, data, crc_ok });
        at = end;
        if &kind == b"IEND" {
            break;
        }
    }
    Ok(out)
}

/// Walks the chunks: dimensions, depth, colour type, `tRNS`, `CgBI`, CRCs. Inflates nothing.
pub fn read_header(bytes: &[u8]) -> Result<PngHeader, PngError> {
    let chunks = chunks(bytes)?;
    let ihdr = chunks
        .iter()
        .find(|c| &c.kind == b"IHDR")
        .ok_or(PngError::NoHeader)?;
    let d = ihdr.data;
    if d.len() != 13 {
        return Err(PngError::BadHeader(format!(
            "{} bytes instead of 13",
            d.len()
        )));
    }
    let (width, height) = (be32(d, 0).unwrap_or(0), be32(d, 4).unwrap_or(0));
    if width == 0 || height == 0 || width > 1 << 24 || height > 1 << 24 {
        return Err(PngError::BadHeader(format!("size {width}×{height}")));
    }
    Ok(PngHeader {
        width,
        height,
        bit_depth: d[8],
        color_type: ColorType::from_raw(d[9]),
        interlaced: d[12] != 0,
        has_trns: chunks.iter().any(|c| &c.kind == b"tRNS"),
        cgbi: chunks
            .iter()
            .take_while(|c| &c.kind != b"IHDR")
            .find(|c| &c.kind == b"CgBI")
            .and_then(|c| be32(c.data, 0)),
        bad_crc: chunks
            .iter()
            .find(|c| !c.crc_ok)
            .map(|c| String::from_utf8_lossy(&c.kind).into_owned()),
        idat_bytes: chunks
            .iter()
            .filter(|c| &c.kind == b"IDAT")
            .map(|c| c.data.len() as u64)
            .sum(),
    })
}

/// Whether any pixel is actually transparent (alpha < max), decoding at most `max_decoded`
/// bytes of pixel data. Images without an alpha channel or `tRNS` are never transparent.
pub fn any_transparent_pixel(bytes: &[u8], max_decoded: usize) -> Result<bool, PngError> {
    let header = read_header(bytes)?;
    if header.crushed() {
        return cgbi_transparent(bytes, &header, max_decoded);
    }
    if !header.has_alpha() {
        return Ok(false);
    }
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND);
    decoder.set_limits(png::Limits { bytes: max_decoded });
    let mut reader = decoder
        .read_info()
        .map_err(|e| PngError::Decode(e.to_string()))?;
    let size = reader.output_buffer_size().ok_or(PngError::TooLarge {
        width: header.width,
        height: header.height,
        limit: max_decoded,
    })?;
    if size > max_decoded {
        return Err(PngError::TooLarge {
            width: header.width,
            height: header.height,
            limit: max_decoded,
        });
    }
    let mut buf = vec![0u8; size];
    let frame = reader
        .next_frame(&mut buf)
        .map_err(|e| PngError::Decode(e.to_string()))?;
    let (color, depth) = (frame.color_type, frame.bit_depth);
    let samples = match color {
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgba => 4,
        _ => return Ok(false),
    };
    let sample_bytes = if depth == png::BitDepth::Sixteen {
        2
    } else {
        1
    };
    let px = samples * sample_bytes;
    let data = buf.get(..frame.buffer_size()).unwrap_or(&buf);
    Ok(data.chunks_exact(px).any(|p| {
        let alpha = &p[px - sample_bytes..];
        alpha.iter().any(|&b| b != 0xff)
    }))
}

/// CgBI: raw-deflate (or, defensively, zlib) IDAT, 8-bit BGRA rows with standard filters.
fn cgbi_transparent(bytes: &[u8], h: &PngHeader, max_decoded: usize) -> Result<bool, PngError> {
    if h.bit_depth != 8 || h.color_type != ColorType::Rgba || h.interlaced {
        return Err(PngError::Decode(format!(
            "a crushed PNG with bit depth {} / colour type {:?}{} is not supported",
            h.bit_depth,
            h.color_type,
            if h.interlaced { " / interlaced" } else { "" }
        )));
    }
    let stride = (h.width as usize).saturating_mul(4);
    let total = stride
        .checked_add(1)
        .and_then(|s| s.checked_mul(h.height as usize))
        .filter(|&t| t <= max_decoded)
        .ok_or(PngError::TooLarge {
            width: h.width,
            height: h.height,
            limit: max_decoded,
        })?;
    let mut idat = Vec::with_capacity(h.idat_bytes.min(max_decoded as u64) as usize);
    for c in chunks(bytes)?.iter().filter(|c| &c.kind == b"IDAT") {
        idat.extend_from_slice(c.data);
    }
    let zlib = idat.len() >= 2
        && (u16::from(idat[0]) << 8 | u16::from(idat[1])) % 31 == 0
        && idat[0] & 0x0f == 8;
    let mut raw = Vec::with_capacity(total);
    let limit = total as u64 + 1;
    let result = if zlib {
        flate2::read::ZlibDecoder::new(&idat[..])
            .take(limit)
            .read_to_end(&mut raw)
    } else {
        flate2::read::DeflateDecoder::new(&idat[..])
            .take(limit)
            .read_to_end(&mut raw)
    };
    result.map_err(|e| PngError::Decode(format!("IDAT does not inflate: {e}")))?;
    if raw.len() < total {
        return Err(PngError::Decode(format!(
            "IDAT inflates to {} bytes, expected {total}",
            raw.len()
        )));
    }
    let mut prev = vec![0u8; stride];
    let mut cur = vec![0u8; stride];
    for row in raw[..total].chunks_exact(stride + 1) {
        let filter = row[0];
        cur.copy_from_slice(&row[1..]);
        unfilter(filter, &mut cur, &prev, 4)?;
        if cur.chunks_exact(4).any(|p| p[3] != 0xff) {
            return Ok(true);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    Ok(false)
}

fn unfilter(filter: u8, cur: &mut [u8], prev: &[u8], bpp: usize) -> Result<(), PngError> {
    match filter {
        0 => {}
        1 => {
            for i in bpp..cur.len() {
                cur[i] = cur[i].wrapping_add(cur[i - bpp]);
            }
        }
        2 => {
            for (c, p) in cur.iter_mut().zip(prev) {
                *c = c.wrapping_add(*p);
            }
        }
        3 => {
            for i in 0..cur.len() {
                let left = if i >= bpp { cur[i - bpp] } else { 0 };
                cur[i] = cur[i].wrapping_add(((u16::from(left) + u16::from(prev[i])) / 2) as u8);
            }
        }
        4 => {
            for i in 0..cur.len() {
                let a = if i >= bpp { cur[i - bpp] } else { 0 };
                let c = if i >= bpp { prev[i - bpp] } else { 0 };
                cur[i] = cur[i].wrapping_add(paeth(a, prev[i], c));
            }
        }
        other => return Err(PngError::Decode(format!("unknown row filter {other}"))),
    }
    Ok(())
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = i16::from(a) + i16::from(b) - i16::from(c);
    let (pa, pb, pc) = (
        (p - i16::from(a)).abs(),
        (p - i16::from(b)).abs(),
        (p - i16::from(c)).abs(),
    );
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}
