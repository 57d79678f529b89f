//! The reader against the writer (round trips, every opacity path), hostile containers, and the
//! real catalogs of the corpus (opt-in: `IPAGATE_CORPUS=../shared/corpus`).

use ipagate_car::bom::Bom;
use ipagate_car::writer::{BomWriter, CatalogWriter, Image, node};
use ipagate_car::{
    AssetCatalog, Attribute, BomError, CarError, Compression, Idiom, Layout, Limits, Opacity,
    OpacitySource, Payload, PixelFormat,
};

fn icon(car: &AssetCatalog<'_>, idiom: Idiom, px: u32) -> ipagate_car::Rendition {
    car.renditions_of("AppIcon")
        .find(|r| r.idiom() == idiom && r.csi.width == px && r.appearance() == 0)
        .cloned()
        .unwrap_or_else(|| panic!("no {idiom} {px} icon"))
}

#[test]
fn round_trip_keeps_facets_keys_headers_and_sets() {
    let bytes = CatalogWriter::new()
        .icon_set(
            "AppIcon",
            Idiom::Phone,
            &[(120, 2), (180, 3), (1024, 1)],
            Image::opaque(),
        )
        .icon_set(
            "AppIcon",
            Idiom::Pad,
            &[(152, 2), (167, 2)],
            Image::opaque(),
        )
        .icon_set_appearance("AppIcon", Idiom::Phone, 1, &[(1024, 1)], Image::opaque())
        .image("logo", 30, 20, 2, Image::transparent())
        .build();
    assert_eq!(
        bytes,
        CatalogWriter::new()
            .icon_set(
                "AppIcon",
                Idiom::Phone,
                &[(120, 2), (180, 3), (1024, 1)],
                Image::opaque()
            )
            .icon_set(
                "AppIcon",
                Idiom::Pad,
                &[(152, 2), (167, 2)],
                Image::opaque()
            )
            .icon_set_appearance("AppIcon", Idiom::Phone, 1, &[(1024, 1)], Image::opaque())
            .image("logo", 30, 20, 2, Image::transparent())
            .build(),
        "the writer is deterministic"
    );
    let car = AssetCatalog::parse(&bytes).unwrap();
    assert_eq!(car.header.coreui_version, 918);
    assert_eq!(car.header.rendition_count as usize, car.renditions.len());
    let names: Vec<&str> = car.facets.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["AppIcon", "logo"]);
    assert_eq!(
        car.facet("AppIcon").unwrap().get(Attribute::Part),
        Some(220)
    );
    assert_eq!(car.metadata.as_ref().unwrap().deployment_platform, "ios");
    assert!(!car.is_thinned());
    let sets: Vec<_> = car
        .renditions_of("AppIcon")
        .filter(|r| r.csi.layout == Layout::MultisizeImageSet)
        .collect();
    assert_eq!(sets.len(), 2, "one set per idiom");
    let r = icon(&car, Idiom::Pad, 167);
    assert_eq!(r.size_points, Some((83, 83)), "83.5 pt is stored as 83");
    assert_eq!((r.scale(), r.csi.scale_factor), (2, 200));
    assert_eq!(r.csi.pixel_format, PixelFormat::Argb);
    assert_eq!(r.csi.layout, Layout::OnePartScale);
    assert!(matches!(
        r.payload,
        Payload::Pixels {
            compression: Compression::Lzfse,
            ..
        }
    ));
    let dark = car
        .renditions_of("AppIcon")
        .filter(|r| r.appearance() == 1)
        .count();
    assert_eq!(dark, 1);
    assert_eq!(car.appearances.len(), 3);
    let logo = car.renditions_of("logo").next().unwrap();
    assert_eq!((logo.csi.width, logo.csi.height), (30, 20));
}

#[test]
fn trees_with_many_leaves_are_read_in_full() {
    let mut w = CatalogWriter::new().leaf_capacity(3);
    for i in 0..50 {
        w = w.image(&format!("img{i:02}"), 2, 2, 1, Image::opaque());
    }
    let bytes = w.build();
    let car = AssetCatalog::parse(&bytes).unwrap();
    assert_eq!(car.facets.len(), 50);
    assert_eq!(car.renditions.len(), 50);
    assert!(car.renditions.iter().all(|r| r.facet.is_some()));
}

#[test]
fn opacity_comes_from_the_flag_when_it_decides() {
    let bytes = CatalogWriter::new()
        .icon_set("AppIcon", Idiom::Marketing, &[(1024, 1)], Image::opaque())
        .icon_set("AppIcon", Idiom::Phone, &[(1024, 1)], Image::transparent())
        .build();
    let car = AssetCatalog::parse(&bytes).unwrap();
    assert_eq!(
        car.opacity(&icon(&car, Idiom::Marketing, 1024)),
        Opacity::Opaque(OpacitySource::CelmFlag)
    );
    assert_eq!(
        car.opacity(&icon(&car, Idiom::Phone, 1024)),
        Opacity::Transparent(OpacitySource::CelmFlag)
    );
}

#[test]
fn old_catalogs_with_a_clear_flag_are_decoded() {
    for compression in [
        Compression::Lzfse,
        Compression::Zip,
        Compression::Uncompressed,
    ] {
        // 200 rows in 3 chunks (67 + 67 + 66), or one stream.
        for (chunk, opaque) in [(67, true), (0, true), (67, false), (0, false)] {
            let img = Image {
                opaque,
                ..Image::opaque().flag(false).compression(compression, chunk)
            };
            let bytes = CatalogWriter::new()
                .coreui_version(498)
                .icon_set("AppIcon", Idiom::Marketing, &[(200, 1)], img)
                .build();
            let car = AssetCatalog::parse(&bytes).unwrap();
            let got = car.opacity(&icon(&car, Idiom::Marketing, 200));
            let want = if opaque {
                Opacity::Opaque(OpacitySource::Pixels)
            } else {
                Opacity::Transparent(OpacitySource::Pixels)
            };
            assert_eq!(got, want, "{compression} chunk {chunk}");
        }
    }
}

#[test]
fn undecodable_payloads_say_so_instead_of_guessing() {
    let img = Image::opaque()
        .flag(false)
        .compression(Compression::Deepmap2, 0);
    let bytes = CatalogWriter::new()
        .coreui_version(498)
        .icon_set("AppIcon", Idiom::Marketing, &[(64, 1)], img)
        .build();
    let car = AssetCatalog::parse(&bytes).unwrap();
    match car.opacity(&icon(&car, Idiom::Marketing, 64)) {
        Opacity::Unknown(why) => assert!(why.contains("deepmap2"), "{why}"),
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile containers

fn limits() -> Limits {
    Limits::default()
}

#[test]
fn not_a_bom_and_truncations_are_errors() {
    assert!(matches!(
        Bom::parse(b"<html>hello</html> and more bytes here", &limits()),
        Err(BomError::NotABom { .. })
    ));
    let good = CatalogWriter::new()
        .image("a", 1, 1, 1, Image::opaque())
        .build();
    for cut in [0, 10, 31, 100, 600, good.len() / 2, good.len() - 1] {
        assert!(
            AssetCatalog::parse(&good[..cut]).is_err(),
            "cut at {cut} should not parse"
        );
    }
    // Every single-byte truncation and every byte flip: no panic (errors are fine).
    for cut in 0..good.len() {
        let _ = AssetCatalog::parse(&good[..cut]);
    }
    for i in 0..good.len() {
        let mut b = good.clone();
        b[i] ^= 0xff;
        if let Ok(car) = AssetCatalog::parse(&b) {
            for r in &car.renditions {
                let _ = car.opacity(r);
            }
        }
    }
}

#[test]
fn block_index_out_of_range_is_named() {
    let mut w = BomWriter::new();
    let leaf = w.block(node(true, 0, 0, &[(999, 998)]));
    let mut header = b"tree".to_vec();
    for v in [1u32, leaf, 4096, 1] {
        header.extend_from_slice(&v.to_be_bytes());
    }
    header.push(0);
    let t = w.block(header);
    w.var("T", t);
    let bytes = w.build();
    let bom = Bom::parse(&bytes, &limits()).unwrap();
    let err = bom.tree("T").unwrap_err();
    assert!(matches!(err, BomError::BlockOutOfRange { .. }), "{err}");
    assert!(err.to_string().contains("out of range"));
}

#[test]
fn cyclic_and_deep_trees_end_in_errors() {
    // Two leaves pointing forward at each other.
    let mut w = BomWriter::new();
    let k = w.block(b"k".to_vec());
    let a = w.block(Vec::new());
    let b = w.block(Vec::new());
    w.set_block(a, node(true, b, 0, &[(k, k)]));
    w.set_block(b, node(true, a, 0, &[(k, k)]));
    let tree = |w: &mut BomWriter, root: u32| {
        let mut h = b"tree".to_vec();
        for v in [1u32, root, 4096, 1] {
            h.extend_from_slice(&v.to_be_bytes());
        }
        h.push(0);
        w.block(h)
    };
    let t = tree(&mut w, a);
    w.var("CYCLE", t);
    // An index node whose first child is itself.
    let selfish = w.block(Vec::new());
    w.set_block(selfish, node(false, 0, 0, &[(selfish, k)]));
    let t = tree(&mut w, selfish);
    w.var("SELF", t);
    // 100 index nodes in a chain.
    let mut child = w.block(node(true, 0, 0, &[(k, k)]));
    for _ in 0..100 {
        child = w.block(node(false, 0, 0, &[(child, k)]));
    }
    let t = tree(&mut w, child);
    w.var("DEEP", t);
    let bytes = w.build();
    let bom = Bom::parse(&bytes, &limits()).unwrap();
    assert!(matches!(bom.tree("CYCLE"), Err(BomError::TreeCycle { .. })));
    assert!(matches!(bom.tree("SELF"), Err(BomError::TreeCycle { .. })));
    assert!(matches!(
        bom.tree("DEEP"),
        Err(BomError::TreeTooDeep { .. })
    ));
}

#[test]
fn absurd_counts_are_refused_before_allocating() {
    let mut bytes = CatalogWriter::new()
        .image("a", 1, 1, 1, Image::opaque())
        .build();
    let index = u32::from_be_bytes(bytes[16..20].try_into().unwrap()) as usize;
    bytes[index..index + 4].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(
        Bom::parse(&bytes, &limits()),
        Err(BomError::TooMany { .. })
    ));
}

#[test]
fn csi_sizes_past_the_block_and_absurd_dimensions_are_errors() {
    let good = CatalogWriter::new()
        .image("a", 2, 2, 1, Image::opaque())
        .build();
    let at = good.windows(4).position(|w| w == b"ISTC").unwrap();
    // tlvLength beyond the block.
    let mut b = good.clone();
    b[at + 168..at + 172].copy_from_slice(&0x7fff_0000u32.to_le_bytes());
    let err = AssetCatalog::parse(&b).unwrap_err();
    assert!(matches!(err, CarError::Truncated { .. }), "{err}");
    assert!(err.to_string().contains("rendition 0"), "{err}");
    // payloadLength beyond the block.
    let mut b = good.clone();
    b[at + 180..at + 184].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(AssetCatalog::parse(&b).is_err());
    // 65535 × 65535 pixels.
    let mut b = good.clone();
    b[at + 12..at + 16].copy_from_slice(&65535u32.to_le_bytes());
    b[at + 16..at + 20].copy_from_slice(&65535u32.to_le_bytes());
    assert!(matches!(
        AssetCatalog::parse(&b),
        Err(CarError::TooMany { .. })
    ));
}

#[test]
fn a_decompression_bomb_stops_at_the_declared_size() {
    // The 4×4 image declares 64 bytes but its gzip stream inflates to 16 MiB.
    use std::io::Write;
    let good = CatalogWriter::new()
        .coreui_version(498)
        .icon_set(
            "AppIcon",
            Idiom::Marketing,
            &[(4, 1)],
            Image::opaque().flag(false).compression(Compression::Zip, 0),
        )
        .build();
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(&vec![0u8; 16 << 20]).unwrap();
    let bomb = e.finish().unwrap();
    // Rebuild the value by hand: replace the gzip stream and fix the lengths.
    let car = AssetCatalog::parse(&good).unwrap();
    let r = icon(&car, Idiom::Marketing, 4);
    let payload_start = r.payload_range.start;
    let mut b = good[..payload_start].to_vec();
    b.extend_from_slice(b"MLEC");
    for v in [0u32, 2, bomb.len() as u32] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&bomb);
    // Same block, longer: point the block table at a copy at the end instead.
    let value_start = r.value.start;
    let value = b[value_start..].to_vec();
    let mut out = good.clone();
    let new_addr = out.len() as u32;
    out.extend_from_slice(&value);
    let mut value = value;
    let payload_len = (16 + bomb.len()) as u32;
    value[180..184].copy_from_slice(&payload_len.to_le_bytes());
    out.truncate(new_addr as usize);
    out.extend_from_slice(&value);
    let index = u32::from_be_bytes(out[16..20].try_into().unwrap()) as usize;
    let count = u32::from_be_bytes(out[index..index + 4].try_into().unwrap()) as usize;
    let mut patched = false;
    for i in 0..count {
        let e = index + 4 + 8 * i;
        let addr = u32::from_be_bytes(out[e..e + 4].try_into().unwrap()) as usize;
        if addr == value_start {
            out[e..e + 4].copy_from_slice(&new_addr.to_be_bytes());
            out[e + 4..e + 8].copy_from_slice(&(value.len() as u32).to_be_bytes());
            patched = true;
        }
    }
    assert!(patched);
    let car = AssetCatalog::parse(&out).unwrap();
    let r = icon(&car, Idiom::Marketing, 4);
    match car.opacity(&r) {
        Opacity::Unknown(why) => assert!(why.contains("expected 64"), "{why}"),
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Corpus (opt-in)

fn corpus() -> Option<std::path::PathBuf> {
    match std::env::var_os("IPAGATE_CORPUS") {
        Some(p) => Some(p.into()),
        None => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but IPAGATE_CORPUS (../shared/corpus) is not"
            );
            eprintln!("skipped: set IPAGATE_CORPUS=../shared/corpus to read the real catalogs");
            None
        }
    }
}

struct Checked {
    catalogs: usize,
    renditions: usize,
    agreed: usize,
}

/// Parses a catalog, checks it against facts.json's car facts when present, and checks that
/// every rendition's opacity can be asked without panicking.
fn check(label: &str, bytes: &[u8], facts: Option<&serde_json::Value>, seen: &mut Checked) {
    let car = AssetCatalog::parse(bytes).unwrap_or_else(|e| panic!("{label}: {e}"));
    seen.catalogs += 1;
    seen.renditions += car.renditions.len();
    assert_eq!(
        car.renditions.len(),
        car.header.rendition_count as usize,
        "{label}: renditions in the tree vs the header"
    );
    for r in &car.renditions {
        let _ = car.opacity(r);
        if r.link.is_some() {
            assert!(r.link_target.is_some(), "{label}: unresolved link");
        }
    }
    let Some(f) = facts else { return };
    let count = f["renditionCount"].as_u64().unwrap();
    assert_eq!(car.header.rendition_count as u64, count, "{label}");
    assert_eq!(
        car.facets.len() as u64,
        f["facet_count"].as_u64().unwrap(),
        "{label}"
    );
    if let Some(sample) = f["facets_sample"].as_array() {
        for name in sample {
            assert!(
                car.facet(name.as_str().unwrap()).is_some(),
                "{label}: {name}"
            );
        }
    }
    // facts.json calls any facet with an icon-ish name an app icon (a known slip): ours is part 220.
    let icons: Vec<&str> = car
        .facets
        .iter()
        .filter(|f| f.get(Attribute::Part) == Some(220))
        .map(|f| f.name.as_str())
        .collect();
    for name in &icons {
        assert!(
            f["appicon_facets"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n == name),
            "{label}: {name} is an icon facet"
        );
    }
    seen.agreed += 1;
}

/// Every `Assets.car` of the corpus, standalone and inside the IPAs, parses; header rendition
/// counts, facet counts, sampled facet names and icon facets agree with `facts.json`.
#[test]
fn corpus_every_catalog_parses_and_agrees_with_facts() {
    let Some(root) = corpus() else { return };
    let facts: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("facts.json")).unwrap()).unwrap();
    let files = facts["files"].as_object().unwrap();
    let mut seen = Checked {
        catalogs: 0,
        renditions: 0,
        agreed: 0,
    };
    for (path, file) in files {
        let full = root.join(path);
        match file["kind"].as_str() {
            Some("assets.car") => {
                let bytes = std::fs::read(&full).unwrap();
                check(path, &bytes, Some(&file["facts"]["car"]), &mut seen);
            }
            Some("ipa") => {
                let Ok(f) = std::fs::File::open(&full) else {
                    continue;
                };
                let Ok(mut zip) = zip::ZipArchive::new(f) else {
                    continue;
                };
                let names: Vec<String> = zip
                    .file_names()
                    .filter_map(|n| n.ok().map(|n| n.into_owned()))
                    .filter(|n| n.ends_with("/Assets.car") && !n.starts_with("__MACOSX"))
                    .collect();
                for name in names {
                    let mut bytes = Vec::new();
                    std::io::Read::read_to_end(&mut zip.by_name(&name).unwrap(), &mut bytes)
                        .unwrap();
                    let root_dir = name.trim_end_matches("/Assets.car");
                    let app_facts = file["facts"]["apps"]
                        .as_array()
                        .and_then(|apps| apps.iter().find(|a| a["root"] == root_dir))
                        .map(|a| &a["assets_car_info"])
                        .filter(|v| v.is_object());
                    check(&format!("{path}!{name}"), &bytes, app_facts, &mut seen);
                }
            }
            _ => {}
        }
    }
    eprintln!(
        "corpus: {} catalogs, {} renditions parsed; {} compared with facts.json",
        seen.catalogs, seen.renditions, seen.agreed
    );
    assert!(seen.catalogs >= 6 && seen.agreed >= 6);
}

/// On the corpus, the CELM flag agrees with the decoded pixels wherever both are known
/// (CoreUI ≥ 499, `formats.md` §4.4).
#[test]
fn corpus_celm_flag_agrees_with_pixels() {
    let Some(root) = corpus() else { return };
    let dir = root.join("assets-car/calabash-iOSDeviceManager");
    let (mut both, mut undecodable) = (0, 0);
    for entry in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let car = AssetCatalog::parse(&bytes).unwrap();
        if car.header.coreui_version < 499 {
            continue;
        }
        for r in &car.renditions {
            let Some(flag) = r.celm_opaque() else {
                continue;
            };
            if r.link.is_some() || r.csi.pixel_format.bytes_per_pixel().is_none() {
                continue;
            }
            match car.decode(r) {
                Ok(img) => {
                    let decoded = img.opacity_in(0, 0, img.width, img.height);
                    let opaque = matches!(decoded, Opacity::Opaque(_));
                    if r.csi.layout != Layout::PackedAtlas {
                        assert_eq!(opaque, flag, "{} {}", r.csi.name, r.csi.layout);
                    }
                    both += 1;
                }
                Err(_) => undecodable += 1,
            }
        }
    }
    eprintln!(
        "corpus: CELM flag checked against pixels on {both} renditions ({undecodable} not decodable)"
    );
    assert!(both > 0);
}
