//! Opacity of a rendition: from the `CELM` flag when it decides, else from the pixels.
//!
//! `CELM` payload: `"MLEC" {u32 flags, u32 compression, u32 length}` then data. Flags bit 0 =
//! chunked: `length` chunks `"KCBC" {u32 0, u32 0, u32 rowCount, u32 byteLength, data}`, each
//! compressed on its own; bit 1 = every pixel opaque, reliable from CoreUI 499 (Xcode 10.2) on —
//! older catalogs leave it clear on some opaque images, so there a clear flag means "decode".
//! Rows are `bytesPerRow` (TLV 1007) apart. An internal link (layout 1003) is judged on its rect
//! of the packed atlas, whose origin is bottom-left.

use std::io::Read;

use crate::catalog::{AssetCatalog, Payload, Rendition, le32};
use crate::types::{Compression, PixelFormat};

/// How a rendition's opacity was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpacitySource {
    /// The `CELM` pixel header flag.
    CelmFlag,
    /// Decoded pixels (alpha scanned).
    Pixels,
    /// The pixel format has no alpha (JPEG).
    Format,
}

/// Whether every pixel of a rendition is opaque.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opacity {
    /// Every pixel has alpha 255.
    Opaque(OpacitySource),
    /// Some pixel has alpha < 255.
    Transparent(OpacitySource),
    /// Could not be decided; the reason, worded for a message.
    Unknown(String),
}

/// CoreUI version from which the CELM opaque flag is reliable in both directions.
const RELIABLE_FLAG_COREUI: u32 = 499;

impl AssetCatalog<'_> {
    /// Whether every pixel of `r` is opaque. Reads the flag first; decodes only when the flag does
    /// not decide (older catalogs), never more than [`crate::Limits::max_decoded_bytes`].
    pub fn opacity(&self, r: &Rendition) -> Opacity {
        if r.csi.pixel_format == PixelFormat::Jpeg {
            return Opacity::Opaque(OpacitySource::Format);
        }
        if let Some(link) = &r.link {
            let Some(atlas) = r.link_target.and_then(|i| self.renditions.get(i)) else {
                return Opacity::Unknown("its internal link points at no packed atlas".into());
            };
            if atlas.celm_opaque() == Some(true) {
                return Opacity::Opaque(OpacitySource::CelmFlag);
            }
            return match self.decode(atlas) {
                Ok(img) => img.opacity_in(link.x, link.y, link.width, link.height),
                Err(why) => Opacity::Unknown(why),
            };
        }
        match r.celm_opaque() {
            Some(true) => return Opacity::Opaque(OpacitySource::CelmFlag),
            Some(false) if self.header.coreui_version >= RELIABLE_FLAG_COREUI => {
                return Opacity::Transparent(OpacitySource::CelmFlag);
            }
            Some(false) => {}
            None => {
                return Opacity::Unknown(format!(
                    "it has no pixel payload (layout {}, format {})",
                    r.csi.layout, r.csi.pixel_format
                ));
            }
        }
        match self.decode(r) {
            Ok(img) => img.opacity_in(0, 0, img.width, img.height),
            Err(why) => Opacity::Unknown(why),
        }
    }

    /// Decodes the pixels of a `CELM` rendition (for [`AssetCatalog::opacity`] and tests).
    pub fn decode(&self, r: &Rendition) -> Result<Bitmap, String> {
        let Payload::Pixels {
            flags,
            compression,
            length,
        } = r.payload
        else {
            return Err("it has no CELM pixel payload".into());
        };
        let bpp = r
            .csi
            .pixel_format
            .bytes_per_pixel()
            .ok_or_else(|| format!("pixel format {} is not a bitmap", r.csi.pixel_format))?;
        let (width, height) = (r.csi.width, r.csi.height);
        let stride = r
            .bytes_per_row
            .map(|s| s as usize)
            .unwrap_or(width as usize * bpp);
        if stride < width as usize * bpp {
            return Err(format!("row stride {stride} is shorter than a row"));
        }
        let total = stride
            .checked_mul(height as usize)
            .filter(|&t| t <= self.limits.max_decoded_bytes)
            .ok_or_else(|| {
                format!(
                    "{width}×{height} pixels would decode to more than {} bytes",
                    self.limits.max_decoded_bytes
                )
            })?;
        let payload = self.bytes(&r.payload_range);
        let data = payload.get(16..).unwrap_or(&[]);
        let mut pixels = Vec::with_capacity(total);
        if flags & 1 != 0 {
            let mut at = 0usize;
            for _ in 0..length {
                if data.get(at..at + 4) != Some(b"KCBC") {
                    return Err("a KCBC chunk header is missing".into());
                }
                let rows = le32(data, at + 12).ok_or("a KCBC chunk is truncated")? as usize;
                let len = le32(data, at + 16).ok_or("a KCBC chunk is truncated")? as usize;
                let body = data
                    .get(at + 20..(at + 20).saturating_add(len))
                    .ok_or("a KCBC chunk ends past its payload")?;
                let want = rows.saturating_mul(stride);
                if pixels.len().saturating_add(want) > total {
                    return Err("KCBC chunks hold more rows than the image".into());
                }
                inflate(compression, body, want, &mut pixels)?;
                at += 20 + len;
            }
        } else {
            let body = data
                .get(..length as usize)
                .ok_or("the pixel data ends past its payload")?;
            inflate(compression, body, total, &mut pixels)?;
        }
        if pixels.len() != total {
            return Err(format!(
                "decoded {} bytes, expected {total} ({height} rows of {stride})",
                pixels.len()
            ));
        }
        Ok(Bitmap {
            width,
            height,
            stride,
            format: r.csi.pixel_format,
            pixels,
        })
    }
}

/// Decodes `want` bytes of `body` onto `out`; anything else is an error naming the compression.
fn inflate(c: Compression, body: &[u8], want: usize, out: &mut Vec<u8>) -> Result<(), String> {
    let before = out.len();
    let bounded = |r: &mut dyn Read, out: &mut Vec<u8>| {
        r.take(want as u64 + 1)
            .read_to_end(out)
            .map_err(|e| format!("its {c} pixel data is corrupt: {e}"))
    };
    match c {
        Compression::Uncompressed => out.extend_from_slice(body.get(..want).unwrap_or(body)),
        Compression::Zip => {
            // Gzip in practice; a zlib stream is accepted too.
            if body.starts_with(&[0x1f, 0x8b]) {
                bounded(&mut flate2::read::GzDecoder::new(body), out)?;
            } else {
                bounded(&mut flate2::read::ZlibDecoder::new(body), out)?;
            }
        }
        Compression::Lzfse | Compression::Lzvn => {
            let wrapped;
            let src: &[u8] = if c == Compression::Lzvn {
                // Raw LZVN opcodes: give them the `bvxn` block header and end-of-stream mark.
                let mut w = Vec::with_capacity(body.len() + 16);
                w.extend_from_slice(b"bvxn");
                w.extend_from_slice(&(want as u32).to_le_bytes());
                w.extend_from_slice(&(body.len() as u32).to_le_bytes());
                w.extend_from_slice(body);
                w.extend_from_slice(b"bvx$");
                wrapped = w;
                &wrapped
            } else {
                body
            };
            let mut decoder = lzfse_rust::LzfseRingDecoder::default();
            bounded(&mut decoder.reader_bytes(src), out)?;
        }
        other => {
            return Err(format!(
                "its pixel data uses {other} compression, which this reader does not decode"
            ));
        }
    }
    if out.len() - before != want {
        return Err(format!(
            "its {c} pixel data decodes to {} bytes, expected {want}",
            out.len() - before
        ));
    }
    Ok(())
}

/// Decoded pixels of one rendition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bitmap {
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
    /// Bytes per row.
    pub stride: usize,
    /// The format of `pixels`.
    pub format: PixelFormat,
    /// Rows, top first.
    pub pixels: Vec<u8>,
}

impl Bitmap {
    /// Opacity of the rect `(x, y, w, h)`, origin bottom-left (as in internal links).
    pub fn opacity_in(&self, x: u32, y: u32, w: u32, h: u32) -> Opacity {
        let Some(bpp) = self.format.bytes_per_pixel() else {
            return Opacity::Unknown(format!("pixel format {} is not a bitmap", self.format));
        };
        if x.saturating_add(w) > self.width || y.saturating_add(h) > self.height {
            return Opacity::Unknown("its rect lies outside the atlas".into());
        }
        let top = (self.height - y - h) as usize;
        for row in top..top + h as usize {
            let start = row * self.stride + x as usize * bpp;
            let Some(line) = self.pixels.get(start..start + w as usize * bpp) else {
                return Opacity::Unknown("its pixel rows are short".into());
            };
            let opaque = line.chunks_exact(bpp).all(|px| match self.format {
                // B, G, R, A
                PixelFormat::Argb => px[3] == 255,
                // grey, alpha
                PixelFormat::Ga8 => px[1] == 255,
                // 4 × half float LE, alpha last: 1.0 is 0x3C00 (anything above is clamped).
                _ => (u16::from_le_bytes([px[6], px[7]]) & 0x7fff) >= 0x3c00,
            });
            if !opaque {
                return Opacity::Transparent(OpacitySource::Pixels);
            }
        }
        Opacity::Opaque(OpacitySource::Pixels)
    }
}
