//! Icon facts: name resolution as iOS does it, loose PNG facts (CgBI-aware), catalog renditions
//! and their opacity, which bundles get icon facts.

use ipagate_fixtures::png::{PngKind, png};
use ipagate_fixtures::{Bundle, Ipa, icons, scenarios};
use ipagate_formats::icons::Icons;
use ipagate_formats::{BundleKind, Facts, Limits, Package, inspect};
use plist::Value;

fn facts(ipa: &Ipa) -> Facts {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.ipa");
    ipa.write_to(&path).expect("write");
    let package = Package::open(&path, &Limits::default()).expect("open");
    inspect(&package).expect("inspect")
}

fn app_icons(f: &Facts) -> &Icons {
    f.app().icons.as_ref().expect("app icons")
}

#[test]
fn the_default_app_resolves_its_names_and_reads_its_catalog() {
    let f = facts(&scenarios::minimal());
    let i = app_icons(&f);
    assert_eq!(i.name.as_deref(), Some("AppIcon"));
    let files: Vec<(&str, &str, Vec<&str>)> = i
        .declared
        .iter()
        .map(|d| {
            (
                d.name.as_str(),
                d.key.as_str(),
                d.files.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        files,
        [
            ("AppIcon60x60", "CFBundleIcons", vec!["AppIcon60x60@2x.png"]),
            (
                "AppIcon60x60",
                "CFBundleIcons~ipad",
                vec!["AppIcon60x60@2x.png"]
            ),
            (
                "AppIcon76x76",
                "CFBundleIcons~ipad",
                vec!["AppIcon76x76@2x~ipad.png"]
            ),
        ]
    );
    let loose: Vec<(&str, u32, bool, bool, Option<u32>)> = i
        .loose
        .iter()
        .map(|l| (l.file.as_str(), l.width, l.crushed, l.alpha, l.named_size))
        .collect();
    assert_eq!(
        loose,
        [
            ("AppIcon60x60@2x.png", 120, true, false, Some(120)),
            ("AppIcon76x76@2x~ipad.png", 152, true, false, Some(152)),
        ]
    );
    let c = i.catalog.as_ref().expect("catalog");
    assert_eq!(c.problem, None);
    assert_eq!(c.icon_facets, ["AppIcon"]);
    let sizes: Vec<(&str, u16, u32)> = c
        .renditions
        .iter()
        .map(|r| (r.idiom.as_str(), r.scale, r.width))
        .collect();
    assert_eq!(
        sizes,
        [
            ("phone", 2, 120),
            ("phone", 3, 180),
            ("pad", 2, 152),
            ("pad", 2, 167),
            ("marketing", 1, 1024)
        ]
    );
    assert!(c.renditions.iter().all(|r| r.opaque == Some(true)));
}

#[test]
fn legacy_names_resolve_with_and_without_extension_scale_and_device() {
    let app = Bundle::app("Demo", "com.example.demo")
        .set(
            "CFBundleIconFiles",
            Value::Array(vec![
                Value::String("Icon.png".into()),
                Value::String("Icon-72".into()),
                Value::String("Gone".into()),
            ]),
        )
        .file("Icon.png", png(PngKind::Rgb, 57, 57, true))
        .file("Icon@2x.png", png(PngKind::Rgba, 114, 114, false))
        .file("Icon-72~ipad.png", png(PngKind::Palette, 72, 72, true));
    let f = facts(&Ipa::from_bundle(app));
    let i = app_icons(&f);
    let by_name = |n: &str| {
        i.declared
            .iter()
            .find(|d| d.name == n && d.key == "CFBundleIconFiles")
            .map(|d| d.files.clone())
            .unwrap_or_default()
    };
    assert_eq!(by_name("Icon.png"), ["Icon.png", "Icon@2x.png"]);
    assert_eq!(by_name("Icon-72"), ["Icon-72~ipad.png"]);
    assert!(by_name("Gone").is_empty());
    let alpha: Vec<(&str, bool)> = i
        .loose
        .iter()
        .filter(|l| l.file.starts_with("Icon"))
        .map(|l| (l.file.as_str(), l.alpha))
        .collect();
    // RGB: no alpha; RGBA with a transparent pixel: alpha; opaque palette: none.
    assert_eq!(
        alpha,
        [
            ("Icon-72~ipad.png", false),
            ("Icon.png", false),
            ("Icon@2x.png", true)
        ]
    );
}

#[test]
fn only_apps_clips_and_watch_apps_get_icon_facts() {
    let f = facts(&scenarios::demo());
    for b in &f.bundles {
        let want = matches!(
            b.kind,
            BundleKind::App | BundleKind::AppClip | BundleKind::WatchApp
        );
        assert_eq!(b.icons.is_some(), want, "{}", b.path);
    }
}

#[test]
fn single_size_sets_and_old_catalogs() {
    let f = facts(&scenarios::minimal().map_app(|b| b.icon_catalog(icons::single_size_catalog())));
    let c = app_icons(&f).catalog.clone().expect("catalog");
    let any: Vec<(&str, u16)> = c
        .renditions
        .iter()
        .map(|r| (r.idiom.as_str(), r.appearance))
        .collect();
    assert_eq!(
        any,
        [
            ("phone", 0),
            ("phone", 1),
            ("phone", 10),
            ("pad", 0),
            ("pad", 1),
            ("pad", 10)
        ]
    );
    // CoreUI 498, flag clear: the 1024 icon is decoded; the small ones stay unknown.
    let old = icons::ios_writer_with(498, ipagate_fixtures::car::Image::opaque().flag(false));
    let f = facts(&scenarios::minimal().map_app(|b| b.icon_catalog(old.build())));
    let c = app_icons(&f).catalog.clone().expect("catalog");
    for r in &c.renditions {
        let want = (r.width == 1024).then_some(true);
        assert_eq!(r.opaque, want, "{}x{}", r.width, r.height);
    }
}

#[test]
fn an_unreadable_catalog_is_a_fact_not_an_error() {
    let f =
        facts(&scenarios::minimal().map_app(|b| b.icon_catalog(b"BOMStore\0\0\0\x01".to_vec())));
    let c = app_icons(&f).catalog.clone().expect("catalog");
    assert!(
        c.problem
            .as_deref()
            .is_some_and(|p| p.contains("truncated")),
        "{:?}",
        c.problem
    );
}
