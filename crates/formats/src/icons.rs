//! Icon facts of an app-like bundle: what its Info.plist declares, the loose PNGs those names
//! resolve to (CgBI-aware), and the icon renditions of its `Assets.car` (`itms-rules.md` §5.3,
//! `formats.md` §3–4).
//!
//! Only what the icon rules need is read: the named PNGs (a few KiB each) and the catalog's trees
//! and CSI headers; pixels are decoded only for a 1024×1024 rendition whose `CELM` flag does not
//! decide (catalogs older than CoreUI 499).

use plist::{Dictionary, Value};

use ipagate_car::{AssetCatalog, Attribute, Layout, Opacity, Payload};

use crate::info_plist as ip;
use crate::package::Package;
use crate::png;

/// Largest loose icon PNG read.
const MAX_PNG_SIZE: u64 = 16 << 20;
/// Largest `Assets.car` read.
const MAX_CATALOG_SIZE: u64 = 1 << 30;
/// Most bytes a transparency check of a loose PNG may decode.
const MAX_PNG_DECODED: usize = 64 << 20;

/// Icon facts of one bundle.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Icons {
    /// `CFBundleIconName` (the catalog facet), top-level or under a primary icon.
    pub name: Option<String>,
    /// Each name in a `CFBundleIconFiles` list, with where it was declared and what it resolves to.
    pub declared: Vec<DeclaredIcon>,
    /// The loose PNGs those names resolve to, one per file.
    pub loose: Vec<LooseIcon>,
    /// `Assets.car` at the bundle's top, if present.
    pub catalog: Option<CatalogIcons>,
    /// `CFBundleAlternateIcons` entries (from `CFBundleIcons` and `CFBundleIcons~ipad`).
    pub alternates: Vec<AlternateIcon>,
}

/// A name from a `CFBundleIconFiles` list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeclaredIcon {
    /// The name as written (`AppIcon60x60`, `Icon.png`).
    pub name: String,
    /// Where: `CFBundleIconFiles`, `CFBundleIcons`, `CFBundleIcons~ipad`, or
    /// `CFBundleIcons:CFBundleAlternateIcons:<name>`.
    pub key: String,
    /// Files in the bundle it resolves to (`name`, `name@2x`, `name@3x`, each with and
    /// without `~ipad`, with `.png` added when the name has no extension).
    pub files: Vec<String>,
}

/// A loose icon PNG.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LooseIcon {
    /// Path relative to the bundle.
    pub file: String,
    /// Pixels (0 when unreadable).
    pub width: u32,
    /// Pixels (0 when unreadable).
    pub height: u32,
    /// Apple-crushed (CgBI).
    pub crushed: bool,
    /// Has an alpha channel (for CgBI: its flag says some alpha < 255).
    pub alpha: bool,
    /// The pixel size its name promises (`AppIcon60x60@2x.png` → 120), if the name says.
    pub named_size: Option<u32>,
    /// Why it could not be read.
    pub problem: Option<String>,
}

/// The icon side of an `Assets.car`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CatalogIcons {
    /// Entry path relative to the bundle (`Assets.car`).
    pub file: String,
    /// Why the catalog could not be read, if so.
    pub problem: Option<String>,
    /// CoreUI version that wrote it.
    pub coreui_version: u32,
    /// Thinned for one device (marketing and other idioms stripped).
    pub thinned: bool,
    /// Deployment platform (`ios`, `atv`, …).
    pub platform: String,
    /// Every facet name.
    pub facets: Vec<String>,
    /// Facets that are app icons (part 220, or a layer stack).
    pub icon_facets: Vec<String>,
    /// Renditions of the icon facets and of the facets the plist names (multi-size sets left out).
    pub renditions: Vec<CatalogIcon>,
}

/// One icon rendition.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CatalogIcon {
    /// Facet name.
    pub facet: String,
    /// `phone`, `pad`, `marketing`, …
    pub idiom: String,
    /// 1, 2, 3 (0 when the key has none).
    pub scale: u16,
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
    /// `ARGB`, `RGBW`, …
    pub pixel_format: String,
    /// Every pixel opaque: from the CELM flag, or decoded for 1024-pixel renditions when the flag
    /// does not decide; `None` when unknown.
    pub opaque: Option<bool>,
    /// Why `opaque` is unknown (e.g. an undecodable compression).
    pub opacity_problem: Option<String>,
    /// `one-part-scale`, `internal-link`, `layer-stack`, …
    pub layout: String,
    /// Appearance id: 0 any, 1 dark, 10 tinted.
    pub appearance: u16,
}

/// An alternate icon.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AlternateIcon {
    /// The key in `CFBundleAlternateIcons`.
    pub key: String,
    /// Its `CFBundleIconName` (a catalog facet), if any.
    pub name: Option<String>,
    /// `CFBundleIcons` or `CFBundleIcons~ipad`.
    pub under: String,
}

impl CatalogIcons {
    /// Renditions of facet `name`.
    pub fn of<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a CatalogIcon> + 'a {
        self.renditions.iter().filter(move |r| r.facet == name)
    }
}

/// Reads the icon facts of the bundle at `dir`.
pub fn read(package: &Package, dir: &str, dict: &Dictionary) -> Icons {
    let declared = declared(dict)
        .into_iter()
        .map(|(name, key)| DeclaredIcon {
            files: resolve(package, dir, &name),
            name,
            key,
        })
        .collect::<Vec<_>>();
    let mut files: Vec<&str> = declared
        .iter()
        .flat_map(|d| d.files.iter().map(String::as_str))
        .collect();
    files.sort_unstable();
    files.dedup();
    let loose = files.iter().map(|f| loose(package, dir, f)).collect();
    let alternates = alternates(dict);
    let name = ip::icon_name(dict);
    let mut wanted: Vec<&str> = name.iter().map(String::as_str).collect();
    wanted.extend(alternates.iter().filter_map(|a| a.name.as_deref()));
    let catalog = package.entry(&format!("{dir}/Assets.car")).map(|entry| {
        match package.read(&entry, MAX_CATALOG_SIZE) {
            Err(e) => CatalogIcons {
                file: "Assets.car".into(),
                problem: Some(format!("cannot read: {e}")),
                ..Default::default()
            },
            Ok(bytes) => catalog(&bytes, &wanted),
        }
    });
    Icons {
        name,
        declared,
        loose,
        catalog,
        alternates,
    }
}

/// `(name, key)` for every `CFBundleIconFiles` entry.
fn declared(dict: &Dictionary) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for n in files_of(dict.get("CFBundleIconFiles")) {
        out.push((n, "CFBundleIconFiles".into()));
    }
    for key in ["CFBundleIcons", "CFBundleIcons~ipad"] {
        let Some(Value::Dictionary(icons)) = dict.get(key) else {
            continue;
        };
        if let Some(Value::Dictionary(primary)) = icons.get("CFBundlePrimaryIcon") {
            for n in files_of(primary.get("CFBundleIconFiles")) {
                out.push((n, key.into()));
            }
        }
        if let Some(Value::Dictionary(alts)) = icons.get("CFBundleAlternateIcons") {
            for (alt, v) in alts {
                if let Value::Dictionary(v) = v {
                    for n in files_of(v.get("CFBundleIconFiles")) {
                        out.push((n, format!("{key}:CFBundleAlternateIcons:{alt}")));
                    }
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// A string or an array of strings (legacy plists use either).
fn files_of(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_string().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

fn alternates(dict: &Dictionary) -> Vec<AlternateIcon> {
    let mut out = Vec::new();
    for key in ["CFBundleIcons", "CFBundleIcons~ipad"] {
        let Some(Value::Dictionary(icons)) = dict.get(key) else {
            continue;
        };
        if let Some(Value::Dictionary(alts)) = icons.get("CFBundleAlternateIcons") {
            for (alt, v) in alts {
                out.push(AlternateIcon {
                    key: alt.clone(),
                    name: v
                        .as_dictionary()
                        .and_then(|d| d.get("CFBundleIconName"))
                        .and_then(Value::as_string)
                        .map(str::to_owned),
                    under: key.into(),
                });
            }
        }
    }
    out
}

/// The files in the bundle's top folder that `name` resolves to, as iOS looks them up.
fn resolve(package: &Package, dir: &str, name: &str) -> Vec<String> {
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if e.eq_ignore_ascii_case("png") => (s, Some(e)),
        _ => (name, None),
    };
    let mut out = Vec::new();
    let mut try_file = |f: String| {
        if !out.contains(&f)
            && package
                .entry(&format!("{dir}/{f}"))
                .is_some_and(|e| !e.is_dir)
        {
            out.push(f);
        }
    };
    // A name may already carry @2x / ~ipad; try it as written first.
    try_file(name.to_string());
    for scale in ["", "@2x", "@3x"] {
        for device in ["", "~ipad", "~iphone"] {
            try_file(format!("{stem}{scale}{device}.{}", ext.unwrap_or("png")));
        }
    }
    out
}

fn loose(package: &Package, dir: &str, file: &str) -> LooseIcon {
    let named_size = named_size(file);
    let mut icon = LooseIcon {
        file: file.to_string(),
        width: 0,
        height: 0,
        crushed: false,
        alpha: false,
        named_size,
        problem: None,
    };
    let Some(entry) = package.entry(&format!("{dir}/{file}")) else {
        icon.problem = Some("not found".into());
        return icon;
    };
    match package.read(&entry, MAX_PNG_SIZE) {
        Err(e) => icon.problem = Some(format!("cannot read: {e}")),
        Ok(bytes) => match png::read_header(&bytes) {
            Err(e) => icon.problem = Some(e.to_string()),
            Ok(h) => {
                icon.width = h.width;
                icon.height = h.height;
                icon.crushed = h.crushed();
                // A standard RGBA file may still be fully opaque; only a real transparent pixel
                // (or the CgBI flag) counts. Decoding is cheap at icon sizes.
                icon.alpha = if h.crushed() {
                    h.has_alpha()
                } else if h.has_alpha() {
                    png::any_transparent_pixel(&bytes, MAX_PNG_DECODED).unwrap_or(true)
                } else {
                    false
                };
                if let Some(c) = h.bad_crc {
                    icon.problem = Some(format!("chunk {c:?} has a bad CRC"));
                }
            }
        },
    }
    icon
}

/// `AppIcon60x60@2x~ipad.png` → 120; `AppIcon83.5x83.5@2x~ipad.png` → 167; else `None`.
pub fn named_size(file: &str) -> Option<u32> {
    let stem = file.strip_suffix(".png").unwrap_or(file);
    let stem = stem.split('~').next().unwrap_or(stem);
    let (base, scale) = match stem.rsplit_once('@') {
        Some((b, s)) => (b, s.strip_suffix('x')?.parse::<f64>().ok()?),
        None => (stem, 1.0),
    };
    // The trailing `<w>x<h>` of the base, both equal.
    let (left, h) = base.rsplit_once('x')?;
    let w_start = left
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_digit() || *c == '.')
        .last()
        .map(|(i, _)| i)?;
    let (w, h): (f64, f64) = (left[w_start..].parse().ok()?, h.parse().ok()?);
    if w != h || !(1.0..=4096.0).contains(&w) || !(1.0..=4.0).contains(&scale) {
        return None;
    }
    Some((w * scale).round() as u32)
}

fn catalog(bytes: &[u8], wanted: &[&str]) -> CatalogIcons {
    let car = match AssetCatalog::parse(bytes) {
        Ok(car) => car,
        Err(e) => {
            return CatalogIcons {
                file: "Assets.car".into(),
                problem: Some(error_chain(&e)),
                ..Default::default()
            };
        }
    };
    let icon_facets: Vec<String> = car
        .facets
        .iter()
        .filter(|f| {
            f.get(Attribute::Part) == Some(220)
                || car
                    .renditions_of(&f.name)
                    .any(|r| r.csi.layout == Layout::LayerStack)
        })
        .map(|f| f.name.clone())
        .collect();
    let reliable = car.header.coreui_version >= 499;
    let renditions = car
        .renditions
        .iter()
        .filter(|r| {
            r.facet
                .as_deref()
                .is_some_and(|f| icon_facets.iter().any(|n| n == f) || wanted.contains(&f))
                && !matches!(r.payload, Payload::MultisizeSet(_))
        })
        .map(|r| {
            let (opaque, opacity_problem) = if r.csi.width == 1024 && r.csi.height == 1024 {
                match car.opacity(r) {
                    Opacity::Opaque(_) => (Some(true), None),
                    Opacity::Transparent(_) => (Some(false), None),
                    Opacity::Unknown(why) => (None, Some(why)),
                }
            } else if let Some(atlas) = r.link_target.and_then(|i| car.renditions.get(i)) {
                // A packed atlas flagged opaque has only opaque sub-images.
                (atlas.celm_opaque().filter(|&o| o), None)
            } else {
                match r.celm_opaque() {
                    Some(true) => (Some(true), None),
                    Some(false) if reliable => (Some(false), None),
                    _ => (None, None),
                }
            };
            CatalogIcon {
                facet: r.facet.clone().unwrap_or_default(),
                idiom: r.idiom().name().into_owned(),
                scale: r.scale(),
                width: r.csi.width,
                height: r.csi.height,
                pixel_format: r.csi.pixel_format.name().into_owned(),
                opaque,
                opacity_problem,
                layout: r.csi.layout.name().into_owned(),
                appearance: r.appearance(),
            }
        })
        .collect();
    CatalogIcons {
        file: "Assets.car".into(),
        problem: None,
        coreui_version: car.header.coreui_version,
        thinned: car.is_thinned(),
        platform: car
            .metadata
            .as_ref()
            .map(|m| m.deployment_platform.clone())
            .unwrap_or_default(),
        facets: car.facets.iter().map(|f| f.name.clone()).collect(),
        icon_facets,
        renditions,
    }
}

/// An error and its causes on one line (`a: b: c`).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::named_size;

    #[test]
    fn sizes_follow_actool_names() {
        assert_eq!(named_size("AppIcon60x60@2x.png"), Some(120));
        assert_eq!(named_size("AppIcon76x76@2x~ipad.png"), Some(152));
        assert_eq!(named_size("AppIcon83.5x83.5@2x~ipad.png"), Some(167));
        assert_eq!(named_size("AppIcon29x29~ipad.png"), Some(29));
        assert_eq!(named_size("Icon.png"), None);
        assert_eq!(named_size("Icon@2x.png"), None);
        assert_eq!(named_size("box.png"), None);
    }
}
