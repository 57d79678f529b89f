//! A deterministic BOM + CAR writer, authored to facilitate testing (feature `writer`): facets,
//! renditions of chosen idiom, scale, size, appearance and opacity, multi-size icon sets. Same
//! input, same bytes. Not a replacement for `actool`: it writes what the reader needs to see.

use crate::types::{Attribute, Compression, Idiom, Layout, PixelFormat};

/// Builds a BOM container block by block.
#[derive(Debug, Clone)]
pub struct BomWriter {
    blocks: Vec<Vec<u8>>,
    vars: Vec<(String, u32)>,
}

impl Default for BomWriter {
    fn default() -> Self {
        BomWriter {
            // Entry 0 is the null block.
            blocks: vec![Vec::new()],
            vars: Vec::new(),
        }
    }
}

impl BomWriter {
    /// An empty container.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a block, returns its index.
    pub fn block(&mut self, bytes: Vec<u8>) -> u32 {
        self.blocks.push(bytes);
        (self.blocks.len() - 1) as u32
    }

    /// Replaces block `index` (e.g. to make a hostile tree).
    pub fn set_block(&mut self, index: u32, bytes: Vec<u8>) {
        if let Some(b) = self.blocks.get_mut(index as usize) {
            *b = bytes;
        }
    }

    /// Names a block.
    pub fn var(&mut self, name: &str, block: u32) {
        self.vars.push((name.to_string(), block));
    }

    /// Writes a tree of `entries` with at most `leaf_capacity` entries per leaf (more than one
    /// leaf adds an index node above them); returns the tree header's block index.
    pub fn tree(&mut self, entries: &[(Vec<u8>, Vec<u8>)], leaf_capacity: usize) -> u32 {
        let cap = leaf_capacity.max(1);
        let pairs: Vec<(u32, u32)> = entries
            .iter()
            .map(|(k, v)| {
                let key = self.block(k.clone());
                let value = self.block(v.clone());
                (value, key)
            })
            .collect();
        let chunks: Vec<&[(u32, u32)]> = if pairs.is_empty() {
            vec![&[]]
        } else {
            pairs.chunks(cap).collect()
        };
        let leaf_ids: Vec<u32> = chunks.iter().map(|_| self.block(Vec::new())).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            let forward = leaf_ids.get(i + 1).copied().unwrap_or(0);
            let backward = if i == 0 { 0 } else { leaf_ids[i - 1] };
            self.set_block(leaf_ids[i], node(true, forward, backward, chunk));
        }
        let root = if leaf_ids.len() == 1 {
            leaf_ids[0]
        } else {
            let index: Vec<(u32, u32)> = chunks
                .iter()
                .zip(&leaf_ids)
                .map(|(c, &leaf)| (leaf, c.last().map(|p| p.1).unwrap_or(0)))
                .collect();
            self.block(node(false, 0, 0, &index))
        };
        let mut header = b"tree".to_vec();
        for v in [1u32, root, 4096, entries.len() as u32] {
            header.extend_from_slice(&v.to_be_bytes());
        }
        header.push(0);
        self.block(header)
    }

    /// The container's bytes: a 512-byte header, the blocks, the block table, the variables.
    pub fn build(&self) -> Vec<u8> {
        let mut out = vec![0u8; 512];
        let mut table = Vec::with_capacity(self.blocks.len());
        for (i, b) in self.blocks.iter().enumerate() {
            if i == 0 {
                table.push((0u32, 0u32));
                continue;
            }
            table.push((out.len() as u32, b.len() as u32));
            out.extend_from_slice(b);
        }
        let index_offset = out.len() as u32;
        out.extend_from_slice(&(table.len() as u32).to_be_bytes());
        for (a, l) in &table {
            out.extend_from_slice(&a.to_be_bytes());
            out.extend_from_slice(&l.to_be_bytes());
        }
        out.extend_from_slice(&0u32.to_be_bytes()); // empty free list
        let index_length = out.len() as u32 - index_offset;
        let vars_offset = out.len() as u32;
        out.extend_from_slice(&(self.vars.len() as u32).to_be_bytes());
        for (name, block) in &self.vars {
            out.extend_from_slice(&block.to_be_bytes());
            let n = name.len().min(255);
            out.push(n as u8);
            out.extend_from_slice(&name.as_bytes()[..n]);
        }
        let vars_length = out.len() as u32 - vars_offset;
        out[..8].copy_from_slice(b"BOMStore");
        let fields = [
            1u32,
            (self.blocks.len() - 1) as u32,
            index_offset,
            index_length,
            vars_offset,
            vars_length,
        ];
        for (i, v) in fields.iter().enumerate() {
            out[8 + 4 * i..12 + 4 * i].copy_from_slice(&v.to_be_bytes());
        }
        out
    }
}

/// A tree node: `isLeaf`, count, forward, backward, `{value, key}` pairs.
pub fn node(leaf: bool, forward: u32, backward: u32, pairs: &[(u32, u32)]) -> Vec<u8> {
    let mut b = Vec::with_capacity(12 + 8 * pairs.len());
    b.extend_from_slice(&u16::from(leaf).to_be_bytes());
    b.extend_from_slice(&(pairs.len() as u16).to_be_bytes());
    b.extend_from_slice(&forward.to_be_bytes());
    b.extend_from_slice(&backward.to_be_bytes());
    for (v, k) in pairs {
        b.extend_from_slice(&v.to_be_bytes());
        b.extend_from_slice(&k.to_be_bytes());
    }
    b
}

/// The pixels of a rendition the writer makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Image {
    /// Every pixel opaque (else the first pixel has alpha 0).
    pub opaque: bool,
    /// The CELM opaque flag to write (`None`: the truth, as CoreUI ≥ 499 does).
    pub celm_flag: Option<bool>,
    /// Payload compression (uncompressed, zip, LZFSE; anything else is written as stored bytes
    /// under that label, which the reader cannot decode).
    pub compression: Compression,
    /// Split the pixels into `KCBC` chunks of this many rows (0: one unchunked stream).
    pub chunk_rows: u32,
}

impl Image {
    /// Opaque pixels, LZFSE in 341-row chunks, flag set (as Xcode writes a 1024 icon).
    pub fn opaque() -> Image {
        Image {
            opaque: true,
            celm_flag: None,
            compression: Compression::Lzfse,
            chunk_rows: 341,
        }
    }

    /// One transparent pixel, flag clear.
    pub fn transparent() -> Image {
        Image {
            opaque: false,
            ..Image::opaque()
        }
    }

    /// Writes this CELM flag whatever the pixels are (as CoreUI < 499 sometimes did).
    pub fn flag(self, flag: bool) -> Image {
        Image {
            celm_flag: Some(flag),
            ..self
        }
    }

    /// Uses this compression.
    pub fn compression(self, compression: Compression, chunk_rows: u32) -> Image {
        Image {
            compression,
            chunk_rows,
            ..self
        }
    }
}

/// One rendition to write.
#[derive(Debug, Clone)]
pub struct RenditionSpec {
    /// Facet name.
    pub facet: String,
    /// Idiom.
    pub idiom: Idiom,
    /// Scale (0 for a set).
    pub scale: u16,
    /// Appearance id (0 any, 1 dark, 10 tinted).
    pub appearance: u16,
    /// Subtype.
    pub subtype: u16,
    /// Multi-size index.
    pub dimension2: u16,
    /// Part (220 app icon, 218 multi-size set, 181 image).
    pub part: u16,
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
    /// Layout.
    pub layout: Layout,
    /// Pixel format.
    pub pixel_format: PixelFormat,
    /// Source file name.
    pub name: String,
    /// Pixels, for bitmaps.
    pub image: Option<Image>,
    /// `SISM` entries `(wPt, hPt, index)`, for sets.
    pub set: Vec<(u32, u32, u32)>,
}

/// The key format the writer uses (a subset of Xcode's, in Xcode's order).
pub const KEY_FORMAT: [Attribute; 10] = [
    Attribute::Appearance,
    Attribute::Scale,
    Attribute::Idiom,
    Attribute::Subtype,
    Attribute::DisplayGamut,
    Attribute::Dimension2,
    Attribute::Dimension1,
    Attribute::Element,
    Attribute::Part,
    Attribute::Identifier,
];

/// Builds an `Assets.car`.
#[derive(Debug, Clone)]
pub struct CatalogWriter {
    coreui_version: u32,
    thinning: String,
    platform: String,
    facets: Vec<String>,
    renditions: Vec<RenditionSpec>,
    leaf_capacity: usize,
}

impl Default for CatalogWriter {
    fn default() -> Self {
        CatalogWriter {
            coreui_version: 918,
            thinning: String::new(),
            platform: "ios".into(),
            facets: Vec::new(),
            renditions: Vec::new(),
            leaf_capacity: 512,
        }
    }
}

impl CatalogWriter {
    /// An empty catalog as Xcode 16.3 (CoreUI 918) would write it.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the CoreUI version in the header (below 499 the CELM flag is not trusted).
    pub fn coreui_version(mut self, v: u32) -> Self {
        self.coreui_version = v;
        self
    }

    /// Marks the catalog as thinned for one device.
    pub fn thinned(mut self, arguments: &str) -> Self {
        self.thinning = arguments.to_string();
        self
    }

    /// Sets the deployment platform (`ios`, `watchos`, `atv`).
    pub fn platform(mut self, p: &str) -> Self {
        self.platform = p.to_string();
        self
    }

    /// At most this many entries per tree leaf (small values make multi-leaf trees).
    pub fn leaf_capacity(mut self, n: usize) -> Self {
        self.leaf_capacity = n;
        self
    }

    fn facet(&mut self, name: &str) -> u16 {
        if let Some(i) = self.facets.iter().position(|f| f == name) {
            return i as u16 + 1;
        }
        self.facets.push(name.to_string());
        self.facets.len() as u16
    }

    /// Adds a rendition as given.
    pub fn rendition(mut self, spec: RenditionSpec) -> Self {
        self.facet(&spec.facet);
        self.renditions.push(spec);
        self
    }

    /// An app icon facet with one multi-size set for `idiom` and a bitmap for each
    /// `(pixels, scale)` in `sizes` (appearance Any).
    pub fn icon_set(self, name: &str, idiom: Idiom, sizes: &[(u32, u16)], image: Image) -> Self {
        self.icon_set_appearance(name, idiom, 0, sizes, image)
    }

    /// Like [`CatalogWriter::icon_set`], for one appearance (1 dark, 10 tinted); the set is
    /// written once per idiom.
    pub fn icon_set_appearance(
        mut self,
        name: &str,
        idiom: Idiom,
        appearance: u16,
        sizes: &[(u32, u16)],
        image: Image,
    ) -> Self {
        self.facet(name);
        // Points → index, one per distinct point size.
        let mut points: Vec<u32> = sizes
            .iter()
            .map(|(px, s)| px / u32::from(*s).max(1))
            .collect();
        points.sort_unstable();
        points.dedup();
        let index = |pt: u32| points.iter().position(|&p| p == pt).unwrap_or(0) as u32 + 1;
        let has_set = self
            .renditions
            .iter()
            .any(|r| r.facet == name && r.idiom == idiom && r.layout == Layout::MultisizeImageSet);
        if !has_set {
            self.renditions.push(RenditionSpec {
                facet: name.into(),
                idiom,
                scale: 0,
                appearance: 0,
                subtype: 0,
                dimension2: 0,
                part: 218,
                width: 0,
                height: 0,
                layout: Layout::MultisizeImageSet,
                pixel_format: PixelFormat::None,
                name: name.into(),
                image: None,
                set: points.iter().map(|&p| (p, p, index(p))).collect(),
            });
        }
        for &(px, scale) in sizes {
            let pt = px / u32::from(scale).max(1);
            self.renditions.push(RenditionSpec {
                facet: name.into(),
                idiom,
                scale,
                appearance,
                subtype: 0,
                dimension2: index(pt) as u16,
                part: 220,
                width: px,
                height: px,
                layout: Layout::OnePartScale,
                pixel_format: PixelFormat::Argb,
                name: format!("{name}-{pt}@{scale}x.png"),
                image: Some(image),
                set: Vec::new(),
            });
        }
        self
    }

    /// A plain image asset (part 181).
    pub fn image(self, name: &str, width: u32, height: u32, scale: u16, image: Image) -> Self {
        self.rendition(RenditionSpec {
            facet: name.into(),
            idiom: Idiom::Universal,
            scale,
            appearance: 0,
            subtype: 0,
            dimension2: 0,
            part: 181,
            width,
            height,
            layout: Layout::OnePartScale,
            pixel_format: PixelFormat::Argb,
            name: format!("{name}.png"),
            image: Some(image),
            set: Vec::new(),
        })
    }

    /// The catalog's bytes.
    pub fn build(&self) -> Vec<u8> {
        let mut bom = BomWriter::new();
        let header = self.header();
        let b = bom.block(header);
        bom.var("CARHEADER", b);
        let mut meta = b"META".to_vec();
        for s in [
            self.thinning.as_str(),
            "11.0",
            self.platform.as_str(),
            "ipagate-car writer",
        ] {
            meta.extend_from_slice(&fixed(s, 256));
        }
        let b = bom.block(meta);
        bom.var("EXTENDED_METADATA", b);
        let mut kf = b"tmfk".to_vec();
        kf.extend_from_slice(&0u32.to_le_bytes());
        kf.extend_from_slice(&(KEY_FORMAT.len() as u32).to_le_bytes());
        for a in KEY_FORMAT {
            kf.extend_from_slice(&a.raw().to_le_bytes());
        }
        let b = bom.block(kf);
        bom.var("KEYFORMAT", b);
        let facets: Vec<(Vec<u8>, Vec<u8>)> = self
            .facets
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let part = if self
                    .renditions
                    .iter()
                    .any(|r| &r.facet == name && r.part == 220)
                {
                    220
                } else {
                    181
                };
                let mut v = Vec::new();
                for x in [0u16, 0, 3, 1, 85, 2, part, 17, i as u16 + 1] {
                    v.extend_from_slice(&x.to_le_bytes());
                }
                (name.as_bytes().to_vec(), v)
            })
            .collect();
        let t = bom.tree(&facets, self.leaf_capacity);
        bom.var("FACETKEYS", t);
        let appearances: Vec<(Vec<u8>, Vec<u8>)> = [
            ("UIAppearanceAny", 0u16),
            ("UIAppearanceDark", 1),
            ("ISAppearanceTintable", 10),
        ]
        .iter()
        .map(|(n, id)| (n.as_bytes().to_vec(), id.to_le_bytes().to_vec()))
        .collect();
        let t = bom.tree(&appearances, self.leaf_capacity);
        bom.var("APPEARANCEKEYS", t);
        let renditions: Vec<(Vec<u8>, Vec<u8>)> = self
            .renditions
            .iter()
            .map(|r| (self.key(r), csi(r)))
            .collect();
        let t = bom.tree(&renditions, self.leaf_capacity);
        bom.var("RENDITIONS", t);
        bom.build()
    }

    fn header(&self) -> Vec<u8> {
        let mut h = b"RATC".to_vec();
        for v in [self.coreui_version, 17, 0, self.renditions.len() as u32] {
            h.extend_from_slice(&v.to_le_bytes());
        }
        h.extend_from_slice(&fixed(
            &format!("@(#)PROGRAM:CoreUI  PROJECT:CoreUI-{}", self.coreui_version),
            128,
        ));
        h.extend_from_slice(&fixed("ipagate-car writer", 256));
        h.extend_from_slice(&[0u8; 16]);
        for v in [0u32, 2, 1, 2] {
            h.extend_from_slice(&v.to_le_bytes());
        }
        h
    }

    fn key(&self, r: &RenditionSpec) -> Vec<u8> {
        let id = self
            .facets
            .iter()
            .position(|f| *f == r.facet)
            .map(|i| i as u16 + 1)
            .unwrap_or(0);
        let values = [
            r.appearance,
            r.scale,
            r.idiom.raw(),
            r.subtype,
            0,
            r.dimension2,
            0,
            85,
            r.part,
            id,
        ];
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }
}

fn fixed(s: &str, n: usize) -> Vec<u8> {
    let mut b = s.as_bytes().to_vec();
    b.resize(n, 0);
    b
}

/// The CSI header, TLVs and payload of one rendition.
fn csi(r: &RenditionSpec) -> Vec<u8> {
    let bpp = r.pixel_format.bytes_per_pixel().unwrap_or(4);
    let stride = r.width as usize * bpp;
    let mut tlv = Vec::new();
    if r.image.is_some() {
        tlv.extend_from_slice(&1007u32.to_le_bytes());
        tlv.extend_from_slice(&4u32.to_le_bytes());
        tlv.extend_from_slice(&(stride as u32).to_le_bytes());
    }
    let payload = match (&r.image, r.layout) {
        (Some(img), _) => celm(img, r.width, r.height, stride),
        (None, Layout::MultisizeImageSet) => {
            let mut p = b"SISM".to_vec();
            for v in [1u32, r.set.len() as u32] {
                p.extend_from_slice(&v.to_le_bytes());
            }
            for (w, h, i) in &r.set {
                for v in [*w, *h, *i] {
                    p.extend_from_slice(&v.to_le_bytes());
                }
            }
            p
        }
        _ => Vec::new(),
    };
    let mut v = b"ISTC".to_vec();
    for x in [
        1u32,
        0,
        r.width,
        r.height,
        u32::from(r.scale) * 100,
        r.pixel_format.raw(),
        1,
        0,
    ] {
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.extend_from_slice(&r.layout.raw().to_le_bytes());
    v.extend_from_slice(&0u16.to_le_bytes());
    v.extend_from_slice(&fixed(&r.name, 128));
    for x in [tlv.len() as u32, 1, 0, payload.len() as u32] {
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.extend_from_slice(&tlv);
    v.extend_from_slice(&payload);
    v
}

/// A `CELM` payload of BGRA rows (premultiplied: a transparent pixel is all zero).
fn celm(img: &Image, width: u32, height: u32, stride: usize) -> Vec<u8> {
    let row = |y: u32| {
        let mut line = Vec::with_capacity(stride);
        for x in 0..width {
            if !img.opaque && x == 0 && y == 0 {
                line.extend_from_slice(&[0, 0, 0, 0]);
            } else {
                // 32-pixel checks: some structure, and small once compressed.
                let c = if (x / 32 + y / 32).is_multiple_of(2) {
                    64
                } else {
                    160
                };
                line.extend_from_slice(&[c, c / 2, 255 - c, 255]);
            }
        }
        line
    };
    let compress = |raw: &[u8]| -> Vec<u8> {
        match img.compression {
            Compression::Lzfse => {
                let mut out = Vec::new();
                match lzfse_rust::encode_bytes(raw, &mut out) {
                    Ok(_) => out,
                    Err(_) => raw.to_vec(),
                }
            }
            Compression::Zip => {
                use std::io::Write;
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
                let _ = e.write_all(raw);
                e.finish().unwrap_or_default()
            }
            _ => raw.to_vec(),
        }
    };
    let flag = img.celm_flag.unwrap_or(img.opaque);
    let chunked = img.chunk_rows > 0;
    let mut data = Vec::new();
    let mut count = 0u32;
    if chunked {
        let mut y = 0;
        while y < height {
            let rows = img.chunk_rows.min(height - y);
            let raw: Vec<u8> = (y..y + rows).flat_map(row).collect();
            let c = compress(&raw);
            data.extend_from_slice(b"KCBC");
            for v in [0u32, 0, rows, c.len() as u32] {
                data.extend_from_slice(&v.to_le_bytes());
            }
            data.extend_from_slice(&c);
            count += 1;
            y += rows;
        }
    } else {
        let raw: Vec<u8> = (0..height).flat_map(row).collect();
        data = compress(&raw);
    }
    let mut p = b"MLEC".to_vec();
    let flags = u32::from(chunked) | (u32::from(flag) << 1);
    for v in [
        flags,
        img.compression.raw(),
        if chunked { count } else { data.len() as u32 },
    ] {
        p.extend_from_slice(&v.to_le_bytes());
    }
    p.extend_from_slice(&data);
    p
}
