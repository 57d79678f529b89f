//! The CAR layer: header, metadata, key format, facets and renditions (`formats.md` §4.2–4.4).
//! Payload integers are little-endian.

use std::collections::HashMap;
use std::ops::Range;

use crate::Limits;
use crate::bom::Bom;
use crate::error::CarError;
use crate::types::{Attribute, Compression, Idiom, Layout, PixelFormat};

pub(crate) fn le32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

pub(crate) fn le16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn truncated(what: impl Into<String>, need: usize, have: usize) -> CarError {
    CarError::Truncated {
        what: what.into(),
        need: need as u64,
        have: have as u64,
    }
}

/// `CARHEADER` (436 bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarHeader {
    /// CoreUI version that wrote the catalog (371–971 seen).
    pub coreui_version: u32,
    /// Storage version (11, 14, 15, 17 seen).
    pub storage_version: u32,
    /// Storage timestamp.
    pub storage_timestamp: u32,
    /// Renditions the header claims.
    pub rendition_count: u32,
    /// `@(#)PROGRAM:CoreUI  PROJECT:CoreUI-…`.
    pub main_version: String,
    /// The authoring tool line (`Xcode 14.0.1 (14A400) via …`).
    pub version: String,
    /// Schema version.
    pub schema_version: u32,
    /// Colour space id.
    pub color_space_id: u32,
    /// Key semantics.
    pub key_semantics: u32,
}

/// `EXTENDED_METADATA` (absent from storage-11 catalogs).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExtendedMetadata {
    /// Non-empty for a device-thinned catalog.
    pub thinning_arguments: String,
    /// Deployment target (`11.0`).
    pub deployment_platform_version: String,
    /// `ios`, `atv`, …
    pub deployment_platform: String,
    /// `@(#)PROGRAM:CoreThemeDefinition …`.
    pub authoring_tool: String,
}

/// A named asset: its name and key attributes (the identifier links it to its renditions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facet {
    /// The asset name (`AppIcon`).
    pub name: String,
    /// Its attributes.
    pub attributes: Vec<(Attribute, u16)>,
}

impl Facet {
    /// The value of attribute `a`.
    pub fn get(&self, a: Attribute) -> Option<u16> {
        self.attributes
            .iter()
            .find(|(k, _)| *k == a)
            .map(|(_, v)| *v)
    }
}

/// One entry of a multi-size set (`SISM`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeEntry {
    /// Width in points (83.5 is stored as 83).
    pub width: u32,
    /// Height in points.
    pub height: u32,
    /// The `dimension2` value of its member renditions.
    pub index: u32,
}

/// What the payload after the CSI header and TLVs is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// No payload bytes.
    Empty,
    /// `CELM` pixels.
    Pixels {
        /// Flags: bit 0 chunked (`KCBC`), bit 1 every pixel opaque (CoreUI ≥ 499).
        flags: u32,
        /// Compression.
        compression: Compression,
        /// Byte count, or chunk count when chunked.
        length: u32,
    },
    /// `SISM` multi-size set.
    MultisizeSet(Vec<SizeEntry>),
    /// `DWAR` raw data (JSON, PDF, JPEG…).
    RawData {
        /// Declared length.
        length: u32,
    },
    /// `RLOC` colour.
    Color,
    /// Anything else, with its first four bytes.
    Unknown([u8; 4]),
}

/// TLV 1010: a reference into a packed atlas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InternalLink {
    /// x of the rect (origin bottom-left).
    pub x: u32,
    /// y of the rect (origin bottom-left).
    pub y: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Layout of the reference (12 or 21).
    pub layout: u16,
    /// The atlas key's non-zero attributes.
    pub key: Vec<(Attribute, u16)>,
}

/// The 184-byte CSI header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsiHeader {
    /// Version (1).
    pub version: u32,
    /// `renditionFlags` (bit 3 `isOpaque` is never set in practice: do not use it).
    pub flags: u32,
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
    /// Scale × 100 (0 on multi-size sets).
    pub scale_factor: u32,
    /// Pixel format.
    pub pixel_format: PixelFormat,
    /// Colour space (low 4 bits = id).
    pub color_space: u32,
    /// Layout.
    pub layout: Layout,
    /// Source file name in the `.appiconset`/`.imageset` (never match on it).
    pub name: String,
    /// TLV bytes after the header.
    pub tlv_length: u32,
    /// Payload bytes after the TLVs.
    pub payload_length: u32,
}

/// CSI header size.
pub const CSI_HEADER_LEN: usize = 184;

/// One rendition: its key, CSI header, TLV facts and payload kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendition {
    /// The key decoded by `KEYFORMAT` (every attribute, zeros included).
    pub key: Vec<(Attribute, u16)>,
    /// The facet whose identifier the key carries.
    pub facet: Option<String>,
    /// The CSI header.
    pub csi: CsiHeader,
    /// TLV 1007, the decoded row stride.
    pub bytes_per_row: Option<u32>,
    /// TLV 1005, the UTI.
    pub uti: Option<String>,
    /// TLV 1010.
    pub link: Option<InternalLink>,
    /// Index in [`AssetCatalog::renditions`] of the atlas the link points at.
    pub link_target: Option<usize>,
    /// What the payload is.
    pub payload: Payload,
    /// Size in points from the multi-size set this rendition belongs to.
    pub size_points: Option<(u32, u32)>,
    /// Byte range of the whole value (CSI header onwards) in the catalog.
    pub value: Range<usize>,
    /// Byte range of the payload in the catalog.
    pub payload_range: Range<usize>,
}

impl Rendition {
    /// The value of attribute `a` (0 when the key format has no such attribute).
    pub fn get(&self, a: Attribute) -> u16 {
        self.key
            .iter()
            .find(|(k, _)| *k == a)
            .map(|(_, v)| *v)
            .unwrap_or(0)
    }

    /// Idiom (attribute 15).
    pub fn idiom(&self) -> Idiom {
        Idiom::from_raw(self.get(Attribute::Idiom))
    }

    /// Scale (attribute 12; 0 on multi-size sets).
    pub fn scale(&self) -> u16 {
        self.get(Attribute::Scale)
    }

    /// Appearance id (attribute 7): 0 any, 1 dark, 10 tinted.
    pub fn appearance(&self) -> u16 {
        self.get(Attribute::Appearance)
    }

    /// Identifier (attribute 17).
    pub fn identifier(&self) -> u16 {
        self.get(Attribute::Identifier)
    }

    /// Whether the CELM flag says every pixel is opaque.
    pub fn celm_opaque(&self) -> Option<bool> {
        match self.payload {
            Payload::Pixels { flags, .. } => Some(flags & 2 != 0),
            _ => None,
        }
    }
}

/// A parsed `Assets.car`.
#[derive(Debug, Clone)]
pub struct AssetCatalog<'a> {
    pub(crate) bom: Bom<'a>,
    /// `CARHEADER`.
    pub header: CarHeader,
    /// `EXTENDED_METADATA`.
    pub metadata: Option<ExtendedMetadata>,
    /// `KEYFORMAT` with `KEYFORMATWORKAROUND` applied.
    pub key_format: Vec<Attribute>,
    /// `FACETKEYS`, in tree order.
    pub facets: Vec<Facet>,
    /// `APPEARANCEKEYS`: name → id.
    pub appearances: Vec<(String, u16)>,
    /// `RENDITIONS`, in tree order.
    pub renditions: Vec<Rendition>,
    pub(crate) limits: Limits,
}

impl<'a> AssetCatalog<'a> {
    /// Parses a catalog with the default [`Limits`].
    pub fn parse(data: &'a [u8]) -> Result<AssetCatalog<'a>, CarError> {
        Self::parse_with(data, &Limits::default())
    }

    /// Parses a catalog: trees and CSI headers only; pixels are decoded on demand by
    /// [`AssetCatalog::opacity`].
    pub fn parse_with(data: &'a [u8], limits: &Limits) -> Result<AssetCatalog<'a>, CarError> {
        let bom = Bom::parse(data, limits)?;
        let header = parse_header(
            bom.var_block("CARHEADER")?
                .ok_or(CarError::MissingVariable("CARHEADER"))?,
        )?;
        let metadata = bom
            .var_block("EXTENDED_METADATA")?
            .map(parse_metadata)
            .transpose()?;
        let key_format = parse_key_format(
            bom.var_block("KEYFORMAT")?
                .ok_or(CarError::MissingVariable("KEYFORMAT"))?,
            bom.var_block("KEYFORMATWORKAROUND")?,
        )?;
        let facets = bom
            .tree("FACETKEYS")?
            .unwrap_or_default()
            .into_iter()
            .map(|e| parse_facet(e.key, e.value))
            .collect::<Result<Vec<_>, _>>()?;
        let appearances = bom
            .tree("APPEARANCEKEYS")?
            .unwrap_or_default()
            .into_iter()
            .map(|e| (cstr(e.key), le16(e.value, 0).unwrap_or(0)))
            .collect();
        let names: HashMap<u16, &str> = facets
            .iter()
            .filter_map(|f| Some((f.get(Attribute::Identifier)?, f.name.as_str())))
            .collect();
        let entries = bom
            .tree("RENDITIONS")?
            .ok_or(CarError::MissingVariable("RENDITIONS"))?;
        let base = data.as_ptr() as usize;
        let mut renditions = Vec::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            let key = decode_key(&key_format, e.key);
            let start = e.value.as_ptr() as usize - base;
            let mut r =
                parse_rendition(key, e.value, start, limits).map_err(|err| in_rendition(i, err))?;
            r.facet = names.get(&r.identifier()).map(|s| (*s).to_string());
            renditions.push(r);
        }
        resolve_links(&mut renditions);
        resolve_sizes(&mut renditions);
        Ok(AssetCatalog {
            bom,
            header,
            metadata,
            key_format,
            facets,
            appearances,
            renditions,
            limits: limits.clone(),
        })
    }

    /// The BOM variable names.
    pub fn variables(&self) -> Vec<&str> {
        self.bom.var_names().collect()
    }

    /// The facet named `name`.
    pub fn facet(&self, name: &str) -> Option<&Facet> {
        self.facets.iter().find(|f| f.name == name)
    }

    /// The renditions of facet `name`.
    pub fn renditions_of<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s Rendition> + 's {
        self.renditions
            .iter()
            .filter(move |r| r.facet.as_deref() == Some(name))
    }

    /// Whether this catalog was thinned for one device (its other idioms and the marketing icon
    /// are stripped).
    pub fn is_thinned(&self) -> bool {
        self.metadata
            .as_ref()
            .is_some_and(|m| !m.thinning_arguments.trim().is_empty())
    }

    /// The bytes of a payload range.
    pub(crate) fn bytes(&self, range: &Range<usize>) -> &'a [u8] {
        self.bom.data().get(range.clone()).unwrap_or(&[])
    }
}

fn in_rendition(i: usize, err: CarError) -> CarError {
    match err {
        CarError::Truncated { what, need, have } => CarError::Truncated {
            what: format!("rendition {i}: {what}"),
            need,
            have,
        },
        other => other,
    }
}

fn parse_header(b: &[u8]) -> Result<CarHeader, CarError> {
    if b.get(..4) != Some(b"RATC") {
        return Err(CarError::BadTag {
            what: "CARHEADER (expected \"RATC\", a little-endian catalog)",
            found: b.iter().take(4).copied().collect(),
        });
    }
    if b.len() < 436 {
        return Err(truncated("CARHEADER", 436, b.len()));
    }
    let u = |at| le32(b, at).unwrap_or(0);
    Ok(CarHeader {
        coreui_version: u(4),
        storage_version: u(8),
        storage_timestamp: u(12),
        rendition_count: u(16),
        main_version: cstr(&b[20..148]),
        version: cstr(&b[148..404]),
        schema_version: u(424),
        color_space_id: u(428),
        key_semantics: u(432),
    })
}

fn parse_metadata(b: &[u8]) -> Result<ExtendedMetadata, CarError> {
    if b.get(..4) != Some(b"META") {
        return Err(CarError::BadTag {
            what: "EXTENDED_METADATA (expected \"META\")",
            found: b.iter().take(4).copied().collect(),
        });
    }
    if b.len() < 1028 {
        return Err(truncated("EXTENDED_METADATA", 1028, b.len()));
    }
    Ok(ExtendedMetadata {
        thinning_arguments: cstr(&b[4..260]),
        deployment_platform_version: cstr(&b[260..516]),
        deployment_platform: cstr(&b[516..772]),
        authoring_tool: cstr(&b[772..1028]),
    })
}

/// Most attributes a key format may list (27 are defined; 18 seen).
const MAX_KEY_ATTRIBUTES: u32 = 64;

fn parse_key_format(b: &[u8], workaround: Option<&[u8]>) -> Result<Vec<Attribute>, CarError> {
    if b.get(..4) != Some(b"tmfk") {
        return Err(CarError::BadTag {
            what: "KEYFORMAT (expected \"tmfk\")",
            found: b.iter().take(4).copied().collect(),
        });
    }
    let count = le32(b, 8).ok_or_else(|| truncated("KEYFORMAT", 12, b.len()))?;
    if count > MAX_KEY_ATTRIBUTES {
        return Err(CarError::TooMany {
            what: "key attributes",
            count: u64::from(count),
            limit: u64::from(MAX_KEY_ATTRIBUTES),
        });
    }
    (0..count as usize)
        .map(|i| {
            let id = le32(b, 12 + 4 * i)
                .ok_or_else(|| truncated("KEYFORMAT", 12 + 4 * count as usize, b.len()))?;
            // KEYFORMATWORKAROUND: a non-zero entry replaces the placeholder at that index.
            let replaced = workaround
                .and_then(|w| le32(w, 4 * i))
                .filter(|&v| v != 0)
                .unwrap_or(id);
            Ok(Attribute::from_raw(replaced))
        })
        .collect()
}

fn parse_facet(key: &[u8], value: &[u8]) -> Result<Facet, CarError> {
    let n = le16(value, 4).ok_or_else(|| truncated("facet", 6, value.len()))? as usize;
    if 6 + 4 * n > value.len() {
        return Err(truncated(
            format!("facet {:?}", cstr(key)),
            6 + 4 * n,
            value.len(),
        ));
    }
    let attributes = (0..n)
        .map(|i| {
            let at = 6 + 4 * i;
            (
                Attribute::from_raw(u32::from(le16(value, at).unwrap_or(0))),
                le16(value, at + 2).unwrap_or(0),
            )
        })
        .collect();
    Ok(Facet {
        name: cstr(key),
        attributes,
    })
}

fn decode_key(format: &[Attribute], key: &[u8]) -> Vec<(Attribute, u16)> {
    format
        .iter()
        .enumerate()
        .map(|(i, a)| (*a, le16(key, 2 * i).unwrap_or(0)))
        .collect()
}

fn parse_rendition(
    key: Vec<(Attribute, u16)>,
    v: &[u8],
    start: usize,
    limits: &Limits,
) -> Result<Rendition, CarError> {
    if v.get(..4) != Some(b"ISTC") {
        return Err(CarError::BadTag {
            what: "CSI header (expected \"ISTC\")",
            found: v.iter().take(4).copied().collect(),
        });
    }
    if v.len() < CSI_HEADER_LEN {
        return Err(truncated("CSI header", CSI_HEADER_LEN, v.len()));
    }
    let u = |at| le32(v, at).unwrap_or(0);
    let csi = CsiHeader {
        version: u(4),
        flags: u(8),
        width: u(12),
        height: u(16),
        scale_factor: u(20),
        pixel_format: PixelFormat::from_raw(u(24)),
        color_space: u(28),
        layout: Layout::from_raw(le16(v, 36).unwrap_or(0)),
        name: cstr(&v[40..168]),
        tlv_length: u(168),
        payload_length: u(180),
    };
    let pixels = u64::from(csi.width) * u64::from(csi.height);
    if pixels > limits.max_pixels {
        return Err(CarError::TooMany {
            what: "pixels in a rendition",
            count: pixels,
            limit: limits.max_pixels,
        });
    }
    let tlv_end = CSI_HEADER_LEN
        .checked_add(csi.tlv_length as usize)
        .filter(|&e| e <= v.len())
        .ok_or_else(|| {
            truncated(
                "CSI TLVs",
                CSI_HEADER_LEN + csi.tlv_length as usize,
                v.len(),
            )
        })?;
    let payload_end = tlv_end
        .checked_add(csi.payload_length as usize)
        .filter(|&e| e <= v.len())
        .ok_or_else(|| {
            truncated(
                "CSI payload",
                tlv_end + csi.payload_length as usize,
                v.len(),
            )
        })?;
    let mut r = Rendition {
        key,
        facet: None,
        csi,
        bytes_per_row: None,
        uti: None,
        link: None,
        link_target: None,
        payload: Payload::Empty,
        size_points: None,
        value: start..start + v.len(),
        payload_range: start + tlv_end..start + payload_end,
    };
    let mut at = CSI_HEADER_LEN;
    while at + 8 <= tlv_end {
        let tag = u(at);
        let len = u(at + 4) as usize;
        let Some(body) = v.get(at + 8..(at + 8).saturating_add(len).min(tlv_end)) else {
            break;
        };
        match tag {
            1007 => r.bytes_per_row = le32(body, 0),
            1005 => {
                let n = le32(body, 0).unwrap_or(0) as usize;
                r.uti = body
                    .get(8..8 + n.min(body.len().saturating_sub(8)))
                    .map(cstr);
            }
            1010 => r.link = parse_link(body),
            _ => {}
        }
        at = at + 8 + len;
    }
    r.payload = parse_payload(&v[tlv_end..payload_end]);
    Ok(r)
}

fn parse_link(b: &[u8]) -> Option<InternalLink> {
    if b.get(..4) != Some(b"KLNI") {
        return None;
    }
    let key_len = le32(b, 26)? as usize;
    let mut key = Vec::new();
    for i in 0..key_len / 4 {
        let at = 30 + 4 * i;
        let (Some(id), Some(value)) = (le16(b, at), le16(b, at + 2)) else {
            break;
        };
        if id == 0 && value == 0 {
            break;
        }
        if value != 0 {
            key.push((Attribute::from_raw(u32::from(id)), value));
        }
    }
    Some(InternalLink {
        x: le32(b, 8)?,
        y: le32(b, 12)?,
        width: le32(b, 16)?,
        height: le32(b, 20)?,
        layout: le16(b, 24)?,
        key,
    })
}

/// Most entries a multi-size set may list.
const MAX_SET_ENTRIES: u32 = 4096;

fn parse_payload(p: &[u8]) -> Payload {
    let Some(tag) = p.get(..4) else {
        return Payload::Empty;
    };
    match tag {
        b"MLEC" => Payload::Pixels {
            flags: le32(p, 4).unwrap_or(0),
            compression: Compression::from_raw(le32(p, 8).unwrap_or(0)),
            length: le32(p, 12).unwrap_or(0),
        },
        b"SISM" => {
            let count = le32(p, 8).unwrap_or(0).min(MAX_SET_ENTRIES) as usize;
            Payload::MultisizeSet(
                (0..count)
                    .map_while(|i| {
                        let at = 12 + 12 * i;
                        Some(SizeEntry {
                            width: le32(p, at)?,
                            height: le32(p, at + 4)?,
                            index: le32(p, at + 8)?,
                        })
                    })
                    .collect(),
            )
        }
        b"DWAR" => Payload::RawData {
            length: le32(p, 4).unwrap_or(0),
        },
        b"RLOC" => Payload::Color,
        _ => Payload::Unknown([tag[0], tag[1], tag[2], tag[3]]),
    }
}

/// Points each internal link at the atlas whose key has exactly the link's non-zero attributes.
fn resolve_links(renditions: &mut [Rendition]) {
    let nonzero = |key: &[(Attribute, u16)]| {
        let mut k: Vec<(u32, u16)> = key
            .iter()
            .filter(|(_, v)| *v != 0)
            .map(|(a, v)| (a.raw(), *v))
            .collect();
        k.sort_unstable();
        k
    };
    let atlases: HashMap<Vec<(u32, u16)>, usize> = renditions
        .iter()
        .enumerate()
        .filter(|(_, r)| r.csi.layout == Layout::PackedAtlas)
        .map(|(i, r)| (nonzero(&r.key), i))
        .collect();
    for r in renditions.iter_mut() {
        if let Some(link) = &r.link {
            r.link_target = atlases.get(&nonzero(&link.key)).copied();
        }
    }
}

/// Gives each member of a multi-size set (identifier, idiom, subtype, dimension2) its size in points.
fn resolve_sizes(renditions: &mut [Rendition]) {
    let mut sets: HashMap<(u16, u16, u16, u32), (u32, u32)> = HashMap::new();
    for r in renditions.iter() {
        if let Payload::MultisizeSet(entries) = &r.payload {
            for e in entries {
                sets.entry((
                    r.identifier(),
                    r.get(Attribute::Idiom),
                    r.get(Attribute::Subtype),
                    e.index,
                ))
                .or_insert((e.width, e.height));
            }
        }
    }
    if sets.is_empty() {
        return;
    }
    for r in renditions.iter_mut() {
        if matches!(r.payload, Payload::MultisizeSet(_)) {
            continue;
        }
        r.size_points = sets
            .get(&(
                r.identifier(),
                r.get(Attribute::Idiom),
                r.get(Attribute::Subtype),
                u32::from(r.get(Attribute::Dimension2)),
            ))
            .copied();
    }
}
