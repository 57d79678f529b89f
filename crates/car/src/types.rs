//! The magic numbers of the format as enums, each with a lossless `Unknown` arm: a value Apple
//! adds later is kept and shown, never an error.

macro_rules! magic_enum {
    (
        $(#[$meta:meta])*
        $name:ident($repr:ty) {
            $( $(#[$vmeta:meta])* $variant:ident = $value:literal => $text:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// A value this reader does not know, kept as read.
            Unknown($repr),
        }

        impl $name {
            /// From the on-disk value.
            pub fn from_raw(v: $repr) -> Self {
                match v {
                    $( $value => $name::$variant, )*
                    other => $name::Unknown(other),
                }
            }

            /// The on-disk value.
            pub fn raw(self) -> $repr {
                match self {
                    $( $name::$variant => $value, )*
                    $name::Unknown(v) => v,
                }
            }

            /// Short lowercase name (`unknown-<n>` for unknown values).
            pub fn name(self) -> std::borrow::Cow<'static, str> {
                match self {
                    $( $name::$variant => std::borrow::Cow::Borrowed($text), )*
                    $name::Unknown(v) => std::borrow::Cow::Owned(format!("unknown-{v}")),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.name())
            }
        }
    };
}

magic_enum! {
    /// A rendition key attribute (CoreUI `kCRTheme*Name`, `formats.md` §4.3).
    Attribute(u32) {
        /// 0
        Look = 0 => "look",
        /// 1: 85 named asset, 9 packed atlas.
        Element = 1 => "element",
        /// 2: 220 app icon image, 218 multi-size set, 181 image, 217 colour.
        Part = 2 => "part",
        /// 3
        Size = 3 => "size",
        /// 4
        Direction = 4 => "direction",
        /// 5: a placeholder replaced through `KEYFORMATWORKAROUND`.
        Placeholder = 5 => "placeholder",
        /// 6
        Value = 6 => "value",
        /// 7: `APPEARANCEKEYS` id.
        Appearance = 7 => "appearance",
        /// 8
        Dimension1 = 8 => "dimension1",
        /// 9: the multi-size index.
        Dimension2 = 9 => "dimension2",
        /// 10
        State = 10 => "state",
        /// 11
        Layer = 11 => "layer",
        /// 12: 1, 2, 3.
        Scale = 12 => "scale",
        /// 13
        Localization = 13 => "localization",
        /// 14
        PresentationState = 14 => "presentation-state",
        /// 15
        Idiom = 15 => "idiom",
        /// 16
        Subtype = 16 => "subtype",
        /// 17: links a facet to its renditions.
        Identifier = 17 => "identifier",
        /// 18
        PreviousValue = 18 => "previous-value",
        /// 19
        PreviousState = 19 => "previous-state",
        /// 20
        SizeClassHorizontal = 20 => "size-class-horizontal",
        /// 21
        SizeClassVertical = 21 => "size-class-vertical",
        /// 22
        MemoryClass = 22 => "memory-class",
        /// 23
        GraphicsClass = 23 => "graphics-class",
        /// 24: 0 sRGB, 1 P3.
        DisplayGamut = 24 => "display-gamut",
        /// 25
        DeploymentTarget = 25 => "deployment-target",
        /// 26
        GlyphWeight = 26 => "glyph-weight",
        /// 27
        GlyphSize = 27 => "glyph-size",
    }
}

magic_enum! {
    /// The device idiom of a rendition (attribute 15).
    Idiom(u16) {
        /// 0
        Universal = 0 => "universal",
        /// 1
        Phone = 1 => "phone",
        /// 2
        Pad = 2 => "pad",
        /// 3
        Tv = 3 => "tv",
        /// 4
        Car = 4 => "car",
        /// 5
        Watch = 5 => "watch",
        /// 6: the `ios-marketing` App Store icon of multi-size sets.
        Marketing = 6 => "marketing",
        /// 7
        Mac = 7 => "mac",
        /// 8
        Vision = 8 => "vision",
    }
}

magic_enum! {
    /// The CSI `layout` field (`formats.md` §4.4).
    Layout(u16) {
        /// 0: tvOS flattened / radiosity image.
        Flattened = 0 => "flattened",
        /// 6
        Gradient = 6 => "gradient",
        /// 7
        Effect = 7 => "effect",
        /// 9: PDF vector.
        Vector = 9 => "vector",
        /// 10
        OnePartFixed = 10 => "one-part-fixed",
        /// 11
        OnePartTile = 11 => "one-part-tile",
        /// 12: every standalone bitmap seen.
        OnePartScale = 12 => "one-part-scale",
        /// 20
        ThreePartHTile = 20 => "three-part-h-tile",
        /// 21
        ThreePartHScale = 21 => "three-part-h-scale",
        /// 22
        ThreePartHUniform = 22 => "three-part-h-uniform",
        /// 23
        ThreePartVTile = 23 => "three-part-v-tile",
        /// 24
        ThreePartVScale = 24 => "three-part-v-scale",
        /// 25
        ThreePartVUniform = 25 => "three-part-v-uniform",
        /// 30
        NinePartTile = 30 => "nine-part-tile",
        /// 31
        NinePartScale = 31 => "nine-part-scale",
        /// 32
        NinePartHorizontalUniformVerticalScale = 32 => "nine-part-h-uniform-v-scale",
        /// 33
        NinePartHorizontalScaleVerticalUniform = 33 => "nine-part-h-scale-v-uniform",
        /// 34
        NinePartEdgesOnly = 34 => "nine-part-edges-only",
        /// 40
        SixPart = 40 => "six-part",
        /// 50
        Animation = 50 => "animation",
        /// 1000: raw data (`DATA`, `DWAR`).
        RawData = 1000 => "raw-data",
        /// 1001
        ExternalLink = 1001 => "external-link",
        /// 1002: tvOS layered icon.
        LayerStack = 1002 => "layer-stack",
        /// 1003: TLV 1010 → a packed atlas.
        InternalLink = 1003 => "internal-link",
        /// 1004: several small bitmaps in one.
        PackedAtlas = 1004 => "packed-atlas",
        /// 1005
        NameList = 1005 => "name-list",
        /// 1007
        Texture = 1007 => "texture",
        /// 1008
        TextureImage = 1008 => "texture-image",
        /// 1009: `RLOC` colour.
        Color = 1009 => "color",
        /// 1010: `SISM` multi-size image set.
        MultisizeImageSet = 1010 => "multisize-image-set",
        /// 1011
        ModelAsset = 1011 => "model-asset",
        /// 1012
        ModelMesh = 1012 => "model-mesh",
        /// 1013
        RecognitionGroup = 1013 => "recognition-group",
        /// 1014
        RecognitionObject = 1014 => "recognition-object",
        /// 1015
        TextStyle = 1015 => "text-style",
        /// 1016
        ModelSubmesh = 1016 => "model-submesh",
        /// 1017
        VectorGlyph = 1017 => "vector-glyph",
        /// 1018
        Interpolation = 1018 => "interpolation",
        /// 1019
        IconImageStack = 1019 => "icon-image-stack",
        /// 1020
        IconGroup = 1020 => "icon-group",
        /// 1021
        VectorGradient = 1021 => "vector-gradient",
    }
}

magic_enum! {
    /// The pixel format fourcc of a CSI header (stored as a little-endian u32: `ARGB` is on
    /// disk as `BGRA`).
    PixelFormat(u32) {
        /// No pixels (colours, multi-size sets, links).
        None = 0 => "none",
        /// 8-bit B,G,R,A bytes, premultiplied.
        Argb = 0x4152_4742 => "ARGB",
        /// 8-bit grey + alpha.
        Ga8 = 0x4741_3820 => "GA8",
        /// 16-bit grey + alpha.
        Ga16 = 0x4741_3136 => "GA16",
        /// 5-bit RGB.
        Rgb5 = 0x5247_4235 => "RGB5",
        /// 4 × half float, alpha last (extended sRGB).
        Rgbw = 0x5247_4257 => "RGBW",
        /// PDF vector.
        Pdf = 0x5044_4620 => "PDF",
        /// Raw data.
        Data = 0x4441_5441 => "DATA",
        /// JPEG file.
        Jpeg = 0x4A50_4547 => "JPEG",
        /// HEIF file.
        Heif = 0x4845_4946 => "HEIF",
        /// WebP file.
        Webp = 0x5745_4250 => "WEBP",
        /// SVG.
        Svg = 0x5356_4720 => "SVG",
    }
}

magic_enum! {
    /// The compression of a `CELM` pixel payload (CoreUI `_CUIConvertCompressionTypeToString`).
    Compression(u32) {
        /// 0
        Uncompressed = 0 => "uncompressed",
        /// 1
        Rle = 1 => "rle",
        /// 2: a gzip stream.
        Zip = 2 => "zip",
        /// 3: raw LZVN opcodes.
        Lzvn = 3 => "lzvn",
        /// 4: an LZFSE container (`bvx2`).
        Lzfse = 4 => "lzfse",
        /// 5
        JpegLzfse = 5 => "jpeg-lzfse",
        /// 6: tvOS radiosity.
        Blurred = 6 => "blurred",
        /// 7
        Astc = 7 => "astc",
        /// 8: palette image in an LZFSE container.
        PaletteImg = 8 => "palette-img",
        /// 9
        Hevc = 9 => "hevc",
        /// 10
        DeepmapLzfse = 10 => "deepmap-lzfse",
        /// 11
        Deepmap2 = 11 => "deepmap2",
        /// 12
        Dxtc = 12 => "dxtc",
    }
}

impl PixelFormat {
    /// Bytes per pixel of the bitmap formats this reader can scan for alpha.
    pub fn bytes_per_pixel(self) -> Option<usize> {
        match self {
            PixelFormat::Argb => Some(4),
            PixelFormat::Ga8 => Some(2),
            PixelFormat::Rgbw => Some(8),
            _ => None,
        }
    }
}
