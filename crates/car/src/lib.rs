//! # ipagate-car
//!
//! A reader for Apple's compiled asset catalogs (`Assets.car`), the file `actool` writes into an
//! app bundle, where modern apps keep their icons (the 1024-pixel App Store icon only lives
//! here). It depends on nothing else of ipagate: give it the bytes, get the catalog.
//!
//! ```
//! # #[cfg(feature = "writer")] {
//! use ipagate_car::{AssetCatalog, Idiom, Opacity};
//! use ipagate_car::writer::{CatalogWriter, Image};
//!
//! let bytes = CatalogWriter::new()
//!     .icon_set("AppIcon", Idiom::Marketing, &[(1024, 1)], Image::opaque())
//!     .build();
//! let car = AssetCatalog::parse(&bytes)?;
//! let icon = car.renditions_of("AppIcon").find(|r| r.csi.width == 1024).unwrap();
//! assert_eq!(icon.idiom(), Idiom::Marketing);
//! assert!(matches!(car.opacity(icon), Opacity::Opaque(_)));
//! # }
//! # Ok::<(), ipagate_car::CarError>(())
//! ```
//!
//! ## Layout
//!
//! References: facebookarchive/xcbuild `libcar/Headers/car/car_format.h` and
//! `libbom/Sources/bom_tree.c`; iineva/bom; Timac's "Reverse engineering the .car file format";
//! ipagate's `formats.md` §4 (facts verified on 37 real catalogs, CoreUI 371–971).
//!
//! **BOM container** ([`bom`], big-endian): `"BOMStore"`, a block table (`{address, length}`
//! per index), named variables (name → block) and B-trees (`"tree"` header → index nodes →
//! leaves linked by `forward`, each leaf listing `{value block, key block}` pairs).
//!
//! **CAR** (little-endian; tags on disk reversed: `RATC`, `tmfk`, `ISTC`, `MLEC`, `KLNI`, but
//! `META`, `SISM`, `KCBC` as written):
//!
//! ```text
//! CARHEADER (436 B)  "RATC" coreuiVersion storageVersion timestamp renditionCount
//!                    mainVersion[128] version[256] uuid[16] checksum schema colorSpace keySemantics
//! EXTENDED_METADATA  "META" thinningArguments[256] deploymentVersion[256] platform[256] tool[256]
//! KEYFORMAT          "tmfk" version count attributeId[count]  (KEYFORMATWORKAROUND replaces
//!                    placeholder ids, index by index)
//! FACETKEYS (tree)   key = name; value = {u16 hotX, u16 hotY, u16 n, n × {u16 attr, u16 value}}
//! RENDITIONS (tree)  key = u16[count] in KEYFORMAT order; value = CSI:
//!   0 "ISTC" 4 version 8 flags 12 width 16 height 20 scale×100 24 pixelFormat 28 colorSpace
//!   32 modtime 36 u16 layout 38 reserved 40 name[128] 168 tlvLength 172 bitmapCount
//!   176 reserved 180 payloadLength | 184 TLVs {u32 tag, u32 len, bytes} | payload
//! payloads           "MLEC" {flags, compression, length} pixels (flags bit0 KCBC chunks,
//!                    bit1 all opaque) | "SISM" {version, count, count × {wPt, hPt, index}}
//!                    | "DWAR" raw data | "RLOC" colour
//! ```
//!
//! Icons: an app icon facet (part 220) has one multi-size set (layout 1010, `SISM`) per idiom;
//! its members carry `dimension2` = the set entry's index, which gives their size in points.
//! Small sizes are often internal links (layout 1003, TLV 1010) into a packed atlas (1004).
//!
//! Everything read from the file is bounded by [`Limits`] before it is trusted: block and entry
//! counts, tree depth and leaves (a cycle is an error), declared pixels and decoded bytes.
//! Unknown layouts, pixel formats and compressions are kept as `Unknown(..)` values, never errors.
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod bom;
mod catalog;
mod decode;
mod error;
mod types;
#[cfg(feature = "writer")]
pub mod writer;

pub use catalog::{
    AssetCatalog, CSI_HEADER_LEN, CarHeader, CsiHeader, ExtendedMetadata, Facet, InternalLink,
    Payload, Rendition, SizeEntry,
};
pub use decode::{Bitmap, Opacity, OpacitySource};
pub use error::{BomError, CarError};
pub use types::{Attribute, Compression, Idiom, Layout, PixelFormat};

/// Bounds on what a catalog may declare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most entries in the BOM block table.
    pub max_blocks: u32,
    /// Deepest chain of index nodes above the leaves.
    pub max_tree_depth: u32,
    /// Most leaves visited in one tree.
    pub max_tree_nodes: u32,
    /// Most key/value pairs in one tree.
    pub max_tree_entries: usize,
    /// Largest width × height a rendition may declare.
    pub max_pixels: u64,
    /// Most bytes one rendition's pixels may decode to.
    pub max_decoded_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_blocks: 4_000_000,
            max_tree_depth: 32,
            max_tree_nodes: 1_000_000,
            max_tree_entries: 2_000_000,
            // 16384 × 16384, the largest texture.
            max_pixels: 1 << 28,
            // A 2048² RGBW image; a 1024 icon takes 4–8 MiB.
            max_decoded_bytes: 32 << 20,
        }
    }
}
