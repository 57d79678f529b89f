//! App icons: the 1024 App Store icon in the asset catalog and its opacity, the home-screen sizes
//! each device family needs, declared icon files that resolve to nothing, alternate icons, and
//! loose PNGs whose pixels do not match their names (itms-rules.md §2.4, §5; formats.md §3–4).
//!
//! Sizes come from the union of the loose PNGs the Info.plist names and the catalog renditions of
//! the facet `CFBundleIconName` names. The 1024 icon is searched in every idiom of that facet:
//! "all sizes" sets keep it under the marketing idiom, Xcode 14+ single-size sets under phone and
//! pad (Any/Dark/Tinted appearances; opacity is judged on Any).

use ipagate_formats::icons::{CatalogIcon, CatalogIcons, Icons};
use ipagate_formats::{Bundle, BundleKind, Facts, InfoPlist};

use super::helpers::plist_key;
use super::{Rule, Scope, Sink};
use crate::context::Context;
use crate::diagnostic::{Location, Severity};

const IPHONE: u64 = 1;
const IPAD: u64 = 2;

/// App-like bundles with icon facts: `(bundle, plist, icons)`.
fn with_icons<'a>(
    facts: &'a Facts,
    kinds: &'static [BundleKind],
) -> impl Iterator<Item = (&'a Bundle, &'a InfoPlist, &'a Icons)> {
    facts.bundles.iter().filter_map(move |b| {
        if !kinds.contains(&b.kind) {
            return None;
        }
        Some((b, b.info()?, b.icons.as_ref()?))
    })
}

/// A readable catalog, if any.
fn catalog(icons: &Icons) -> Option<&CatalogIcons> {
    icons.catalog.as_ref().filter(|c| c.problem.is_none())
}

fn car_path(b: &Bundle) -> String {
    format!("{}/Assets.car", b.path)
}

/// The 1024×1024 renditions of `facet`, Any appearance first, marketing idiom first.
fn marketing<'a>(c: &'a CatalogIcons, facet: &'a str) -> Vec<&'a CatalogIcon> {
    let mut found: Vec<&CatalogIcon> = c
        .of(facet)
        .filter(|r| r.width == 1024 && r.height == 1024)
        .collect();
    found.sort_by_key(|r| (r.appearance != 0, r.idiom != "marketing"));
    found
}

fn families(info: &InfoPlist) -> Vec<u64> {
    info.device_family.clone().unwrap_or_else(|| vec![IPHONE])
}

fn check_marketing_icon(facts: &Facts, _: &Context, sink: &mut Sink) {
    for (b, info, icons) in with_icons(facts, &[BundleKind::App]) {
        // No name: ITMS-90713 says so; a catalog that cannot be read: icon-catalog-unreadable.
        let Some(name) = info.icon_name.as_deref() else {
            continue;
        };
        if icons.catalog.as_ref().is_some_and(|c| c.problem.is_some()) {
            continue;
        }
        let Some(c) = catalog(icons) else {
            sink.emit(
                plist_key(b, "CFBundleIcons.CFBundlePrimaryIcon.CFBundleIconName"),
                format!("'{}' names the icon set '{name}' but has no Assets.car: the 1024×1024 App Store icon must be in the asset catalog", b.path),
                "add the AppIcon set (with its 1024×1024 App Store image) to an asset catalog of the app target",
            );
            continue;
        };
        if !marketing(c, name).is_empty() {
            continue;
        }
        let why = if c.thinned {
            "the catalog was thinned for one device, which strips the App Store icon (App Store uploads are never thinned: export for App Store Connect)".to_string()
        } else if c.of(name).next().is_none() {
            format!(
                "the catalog has no '{name}' icon set (icon sets: {})",
                if c.icon_facets.is_empty() {
                    "none".to_string()
                } else {
                    c.icon_facets.join(", ")
                }
            )
        } else {
            format!("the '{name}' set has no 1024×1024 image in any idiom")
        };
        sink.emit(
            Location::entry(car_path(b)),
            format!("missing App Store icon: {why}"),
            format!("fill the App Store (1024pt) slot of '{name}', or use a single-size icon set (Xcode 14+)"),
        );
    }
}

fn check_marketing_opaque(facts: &Facts, _: &Context, sink: &mut Sink) {
    for (b, info, icons) in with_icons(facts, &[BundleKind::App]) {
        let (Some(name), Some(c)) = (info.icon_name.as_deref(), catalog(icons)) else {
            continue;
        };
        let Some(icon) = marketing(c, name).into_iter().next() else {
            continue;
        };
        match icon.opaque {
            Some(true) => {}
            Some(false) => sink.emit(
                Location::entry(car_path(b)),
                format!("the App Store icon '{name}' (1024×1024, {} idiom) has transparent pixels; it can't be transparent nor contain an alpha channel", icon.idiom),
                "export the 1024×1024 image without alpha (e.g. flatten it on an opaque background) and rebuild",
            ),
            None => sink.emit_as(
                Severity::Warning,
                Location::entry(car_path(b)),
                format!(
                    "cannot tell whether the App Store icon '{name}' (1024×1024) is opaque: {}",
                    icon.opacity_problem.as_deref().unwrap_or("its payload is not a bitmap")
                ),
                "make sure the 1024×1024 source image has no alpha channel",
            ),
        }
    }
}

/// Pixel sizes the bundle provides for a device: loose PNGs (all of them: iOS picks by size) and
/// catalog renditions of the named facet in that idiom (or universal).
fn sizes(icons: &Icons, name: Option<&str>, idiom: &str) -> Vec<u32> {
    let mut out: Vec<u32> = icons
        .loose
        .iter()
        .filter(|l| l.width == l.height && l.problem.is_none())
        .map(|l| l.width)
        .collect();
    if let (Some(c), Some(name)) = (catalog(icons), name) {
        let in_idiom: Vec<u32> = c
            .of(name)
            .filter(|r| r.width == r.height && (r.idiom == idiom || r.idiom == "universal"))
            .map(|r| r.width)
            .collect();
        // A single-size set (Xcode 14+) keeps only the 1024 image per idiom; iOS derives every
        // home-screen size from it and App Store Connect accepts it (formats.md §4.6).
        if in_idiom.contains(&1024) {
            out.extend([120, 152, 167, 180]);
        }
        out.extend(in_idiom);
    }
    out
}

/// A thinned catalog lacks other idioms by construction: ITMS-90704 reports the thinning, and
/// the size rules stay silent rather than list every stripped size.
/// An unreadable catalog is reported by icon-catalog-unreadable; sizes it may hold are unknown.
fn thinned(icons: &Icons) -> bool {
    catalog(icons).is_some_and(|c| c.thinned)
        || icons.catalog.as_ref().is_some_and(|c| c.problem.is_some())
}

/// Pixel sizes an alternate icon set provides for a device (catalog renditions only: loose PNGs
/// serve the primary icon), with the single-size rule of [`sizes`].
fn catalog_sizes(icons: &Icons, name: &str, idiom: &str) -> Vec<u32> {
    let Some(c) = catalog(icons) else {
        return Vec::new();
    };
    let mut out: Vec<u32> = c
        .of(name)
        .filter(|r| r.width == r.height && (r.idiom == idiom || r.idiom == "universal"))
        .map(|r| r.width)
        .collect();
    if out.contains(&1024) {
        out.extend([120, 152, 167, 180]);
    }
    out
}

/// The alternate icons whose set the catalog holds (a missing set is icon-alternate-missing's),
/// with where each is declared.
fn alternates_in_catalog<'a>(
    icons: &'a Icons,
) -> impl Iterator<Item = (&'a ipagate_formats::icons::AlternateIcon, &'a str)> + 'a {
    icons.alternates.iter().filter_map(move |alt| {
        let name = alt.name.as_deref()?;
        catalog(icons)
            .is_some_and(|c| c.of(name).next().is_some())
            .then_some((alt, name))
    })
}

#[allow(clippy::too_many_arguments)]
fn missing_alternate_size(
    sink: &mut Sink,
    b: &Bundle,
    alt: &ipagate_formats::icons::AlternateIcon,
    name: &str,
    px: u32,
    what: &str,
    family: &str,
    help: &str,
) {
    sink.emit(
        plist_key(
            b,
            &format!("{}.CFBundleAlternateIcons.{}.CFBundleIconName", alt.under, alt.key),
        ),
        format!("the alternate icon '{}' (icon set '{name}') of '{}' has no {what} icon of exactly {px}×{px} pixels, required for {family} (UIDeviceFamily includes {family})", alt.key, b.path),
        help.to_string(),
    );
}

fn missing_size(
    sink: &mut Sink,
    b: &Bundle,
    px: u32,
    what: &str,
    family: &str,
    since: &str,
    help: &str,
) {
    sink.emit(
        Location::key(b.info_plist_path(), "UIDeviceFamily"),
        format!("'{}' has no {what} icon of exactly {px}×{px} pixels, required for {family} (UIDeviceFamily includes {family}) {since}", b.path),
        help.to_string(),
    );
}

fn check_iphone_icon(facts: &Facts, _: &Context, sink: &mut Sink) {
    for (b, info, icons) in with_icons(facts, &[BundleKind::App, BundleKind::AppClip]) {
        if !families(info).contains(&IPHONE) || thinned(icons) {
            continue;
        }
        if !sizes(icons, info.icon_name.as_deref(), "phone").contains(&120) {
            missing_size(
                sink,
                b,
                120,
                "iPhone home-screen (60pt @2x)",
                "iPhone (1)",
                "on iOS 10 and later",
                "add the 60pt @2x iPhone App Icon (120×120) to the icon set, or use a single-size 1024 set (Xcode 14+)",
            );
        }
        for (alt, name) in alternates_in_catalog(icons) {
            if !catalog_sizes(icons, name, "phone").contains(&120) {
                missing_alternate_size(
                    sink,
                    b,
                    alt,
                    name,
                    120,
                    "iPhone home-screen (60pt @2x)",
                    "iPhone (1)",
                    "add the 60pt @2x iPhone image (120×120) to the alternate icon set, or make it a single-size 1024 set",
                );
            }
        }
    }
}

fn check_ipad_icons(facts: &Facts, _: &Context, sink: &mut Sink) {
    for (b, info, icons) in with_icons(facts, &[BundleKind::App, BundleKind::AppClip]) {
        if !families(info).contains(&IPAD) || thinned(icons) {
            continue;
        }
        let have = sizes(icons, info.icon_name.as_deref(), "pad");
        if !have.contains(&152) {
            missing_size(
                sink,
                b,
                152,
                "iPad home-screen (76pt @2x)",
                "iPad (2)",
                "on iOS 10 and later",
                "add the 76pt @2x iPad App Icon (152×152) to the icon set",
            );
        }
        if !have.contains(&167) {
            missing_size(
                sink,
                b,
                167,
                "iPad Pro (83.5pt @2x)",
                "iPad (2)",
                "on iOS versions supporting iPad Pro",
                "add the 83.5pt @2x iPad Pro App Icon (167×167) to the icon set",
            );
        }
        for (alt, name) in alternates_in_catalog(icons) {
            let have = catalog_sizes(icons, name, "pad");
            for (px, what) in [
                (152, "iPad home-screen (76pt @2x)"),
                (167, "iPad Pro (83.5pt @2x)"),
            ] {
                if !have.contains(&px) {
                    missing_alternate_size(
                        sink,
                        b,
                        alt,
                        name,
                        px,
                        what,
                        "iPad (2)",
                        "add the iPad images (152×152 and 167×167) to the alternate icon set, or make it a single-size 1024 set",
                    );
                }
            }
        }
    }
}

fn check_icon_files_resolve(facts: &Facts, _: &Context, sink: &mut Sink) {
    for (b, _, icons) in with_icons(
        facts,
        &[BundleKind::App, BundleKind::AppClip, BundleKind::WatchApp],
    ) {
        for d in icons.declared.iter().filter(|d| d.files.is_empty()) {
            let key = if d.key == "CFBundleIconFiles" {
                d.key.clone()
            } else if let Some((top, alt)) = d.key.split_once(":CFBundleAlternateIcons:") {
                format!("{top}.CFBundleAlternateIcons.{alt}.CFBundleIconFiles")
            } else {
                format!("{}.CFBundlePrimaryIcon.CFBundleIconFiles", d.key)
            };
            sink.emit(
                plist_key(b, &key),
                format!("the icon file '{}' named in {key} resolves to no file in '{}' (tried it with and without @2x/@3x, ~ipad and .png)", d.name, b.path),
                "add the PNG to the bundle, or remove the name from CFBundleIconFiles (actool writes it when the icon set is compiled)",
            );
        }
    }
}

fn check_watch_marketing(facts: &Facts, _: &Context, sink: &mut Sink) {
    for (b, info, icons) in with_icons(facts, &[BundleKind::WatchApp]) {
        if icons.catalog.as_ref().is_some_and(|c| c.problem.is_some()) {
            continue;
        }
        let found = catalog(icons).is_some_and(|c| {
            let facets: Vec<&str> = match info.icon_name.as_deref() {
                Some(n) => vec![n],
                None => c.icon_facets.iter().map(String::as_str).collect(),
            };
            facets.iter().any(|f| !marketing(c, f).is_empty())
        });
        if !found {
            sink.emit(
                Location::entry(car_path(b)),
                format!("the watch app '{}' has no 1024×1024 App Store icon (watch-marketing) in its asset catalog", b.path),
                "fill the App Store (1024pt) slot of the watch app's icon set",
            );
        }
    }
}

fn check_alternate_icons(facts: &Facts, _: &Context, sink: &mut Sink) {
    for (b, _, icons) in with_icons(facts, &[BundleKind::App]) {
        for alt in &icons.alternates {
            let Some(name) = alt.name.as_deref() else {
                continue;
            };
            let present = catalog(icons).is_some_and(|c| c.of(name).next().is_some());
            if !present {
                sink.emit(
                    plist_key(
                        b,
                        &format!("{}.CFBundleAlternateIcons.{}.CFBundleIconName", alt.under, alt.key),
                    ),
                    format!("the alternate icon '{}' names the icon set '{name}', which the asset catalog does not contain", alt.key),
                    "add the icon set to the asset catalog and list it in 'Alternate App Icon Sets' (ASSETCATALOG_COMPILER_ALTERNATE_APPICON_NAMES)",
                );
            }
        }
    }
}

fn check_size_matches_name(facts: &Facts, _: &Context, sink: &mut Sink) {
    for (b, _, icons) in with_icons(
        facts,
        &[BundleKind::App, BundleKind::AppClip, BundleKind::WatchApp],
    ) {
        for l in &icons.loose {
            if l.problem.is_some() {
                continue;
            }
            let wrong = match l.named_size {
                Some(n) => l.width != n || l.height != n,
                None => l.width != l.height,
            };
            if wrong {
                let promise = l
                    .named_size
                    .map_or("a square image".to_string(), |n| format!("{n}×{n}"));
                sink.emit(
                    Location::entry(format!("{}/{}", b.path, l.file)),
                    format!("the icon '{}' is {}×{} pixels but its name promises {promise}", l.file, l.width, l.height),
                    "export the icon at the size its name (points × scale) says, or let actool generate it from the icon set",
                );
            }
        }
    }
}

fn check_catalog_readable(facts: &Facts, _: &Context, sink: &mut Sink) {
    for (b, _, icons) in with_icons(
        facts,
        &[BundleKind::App, BundleKind::AppClip, BundleKind::WatchApp],
    ) {
        if let Some(problem) = icons.catalog.as_ref().and_then(|c| c.problem.as_deref()) {
            sink.emit(
                Location::entry(car_path(b)),
                format!("cannot read the asset catalog: {problem}; its icons cannot be checked"),
                "rebuild the app with Xcode; a catalog modified or truncated after the build is rejected",
            );
        }
    }
}

pub(super) static RULES: &[Rule] = &[
    rule!(
        "ITMS-90022",
        "icon-iphone-missing",
        Error,
        AppStore,
        check_iphone_icon,
        "no 120×120 iPhone icon (loose PNG or asset catalog) in an iPhone app",
        "Checks that an app whose UIDeviceFamily includes 1 (iPhone) provides a 120×120-pixel icon (60pt @2x), as a PNG named in CFBundleIconFiles or in the asset catalog icon set named by CFBundleIconName.\n\nApple rejects with \"Missing required icon file. The bundle does not contain an app icon for iPhone / iPod Touch of exactly '120x120' pixels, in .png format for iOS versions >= 10.0\".\n\nFix: add the 60pt @2x iPhone icon to the icon set, or use a single-size 1024 set (Xcode 14+)."
    ),
    rule!(
        "ITMS-90023",
        "icon-ipad-missing",
        Error,
        AppStore,
        check_ipad_icons,
        "no 152×152 or 167×167 iPad icon in an iPad app",
        "Checks that an app whose UIDeviceFamily includes 2 (iPad) provides 152×152 (76pt @2x) and 167×167 (83.5pt @2x, iPad Pro) icons, loose or in the asset catalog.\n\nApple rejects with \"Missing required icon file. The bundle does not contain an app icon for iPad of exactly '167x167' pixels, in .png format for iOS versions supporting iPad Pro\" (and the same for 152×152).\n\nFix: fill the iPad slots of the icon set, or use a single-size 1024 set (Xcode 14+)."
    ),
    rule!(
        "ITMS-90032",
        "icon-file-missing",
        Error,
        AppStore,
        check_icon_files_resolve,
        "a name in CFBundleIconFiles resolves to no file",
        "Checks that every name in CFBundleIconFiles (top level, CFBundleIcons, CFBundleIcons~ipad, alternate icons) resolves to a file in the bundle, trying the name with and without @2x/@3x, ~ipad and .png as iOS does.\n\nApple rejects with \"Invalid Image Path - No image found at the path referenced under key 'CFBundleIconFiles'\".\n\nFix: add the PNG, or drop the name (actool writes the list when it compiles the icon set)."
    ),
    rule!(
        "ITMS-90704",
        "icon-app-store-missing",
        Error,
        AppStore,
        check_marketing_icon,
        "no 1024×1024 App Store icon for the icon set CFBundleIconName names",
        "Checks that the asset catalog holds a 1024×1024 rendition of the icon set named by CFBundleIconName, in any idiom: 'all sizes' sets keep it under the marketing idiom, Xcode 14+ single-size sets under phone and pad. A catalog thinned for one device has none.\n\nApple rejects with \"Missing App Icon. An app icon measuring 1024 by 1024 pixels in PNG format must be included in the Asset Catalog\".\n\nFix: fill the App Store slot of the icon set (or use a single-size set) and export for App Store Connect (never thinned)."
    ),
    rule!(
        "ITMS-90717",
        "icon-app-store-alpha",
        Error,
        AppStore,
        check_marketing_opaque,
        "the 1024×1024 App Store icon has transparent pixels",
        "Checks that the App Store icon (Any appearance) is opaque, from the CELM pixel header flag (CoreUI 499+, Xcode 10.2+) or by decoding its pixels in older catalogs. The CSI isOpaque flag is never set by actool and is not used. When the pixels cannot be decoded the finding is a warning that says so.\n\nApple rejects with \"Invalid App Store Icon. The App Store Icon in the asset catalog in 'X.app' can't be transparent nor contain an alpha channel\".\n\nFix: export the 1024×1024 image without alpha."
    ),
    rule!(
        "ITMS-90719",
        "icon-watch-app-store-missing",
        Error,
        AppStore,
        check_watch_marketing,
        "a watch app has no 1024×1024 App Store icon",
        "Checks that each Watch/*.app asset catalog holds a 1024×1024 rendition of its icon set (watch-marketing).\n\nApple rejects with \"Missing Icon. The watch application '…' is missing the App Store icon (watch-marketing 1024x1024)\".\n\nFix: fill the App Store slot of the watch app's icon set."
    ),
    rule!(
        "IPAGATE-1201",
        "icon-alternate-missing",
        Error,
        AppStore,
        check_alternate_icons,
        "an alternate icon names an icon set the asset catalog lacks",
        "Checks that each CFBundleAlternateIcons entry with a CFBundleIconName names an icon set present in the app's asset catalog.\n\nsetAlternateIconName fails at run time and App Store Connect rejects icons it cannot find.\n\nFix: add the set to the catalog and to ASSETCATALOG_COMPILER_ALTERNATE_APPICON_NAMES."
    ),
    rule!(
        "IPAGATE-1202",
        "icon-size-mismatch",
        Warning,
        AppStore,
        check_size_matches_name,
        "a loose icon PNG's pixel size differs from what its name promises",
        "Checks that each loose icon PNG named in the Info.plist is square and, when its name carries a size (AppIcon60x60@2x.png), has exactly points × scale pixels. CgBI (crushed) PNGs are read too.\n\niOS picks icons by pixel size: a mislabelled file shows blurred or not at all, and App Store Connect may report the size as missing.\n\nFix: export the icon at the size its name says, or let actool generate it."
    ),
    rule!(
        "IPAGATE-1203",
        "icon-catalog-unreadable",
        Error,
        AppStore,
        check_catalog_readable,
        "the app's Assets.car cannot be read",
        "Checks that the asset catalog of an app, App Clip or watch app can be read (BOM container, CAR header, key format, trees, CSI headers); otherwise none of its icons can be checked.\n\nApp Store Connect cannot process a damaged catalog.\n\nFix: rebuild with Xcode; do not modify Assets.car after the build."
    ),
];
