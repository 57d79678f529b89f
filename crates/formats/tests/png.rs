//! PNG and CgBI reading against the fixture writer, hostile files, and the corpus's loose PNGs
//! (opt-in: `IPAGATE_CORPUS=../shared/corpus`).

use ipagate_fixtures::png::{PngKind, png};
use ipagate_formats::png::{ColorType, PngError, any_transparent_pixel, read_header};

const LIMIT: usize = 64 << 20;

#[test]
fn every_kind_reads_its_size_alpha_and_transparency() {
    for (kind, color) in [
        (PngKind::Rgba, ColorType::Rgba),
        (PngKind::Rgb, ColorType::Rgb),
        (PngKind::Palette, ColorType::Palette),
        (PngKind::Crushed, ColorType::Rgba),
    ] {
        for opaque in [true, false] {
            let bytes = png(kind, 120, 90, opaque);
            let h = read_header(&bytes).unwrap();
            assert_eq!((h.width, h.height, h.bit_depth), (120, 90, 8));
            assert_eq!(h.color_type, color);
            assert_eq!(h.crushed(), kind == PngKind::Crushed);
            assert_eq!(h.bad_crc, None);
            let alpha = match kind {
                PngKind::Rgba => true,
                PngKind::Rgb => false,
                // tRNS only when not opaque; CgBI's flag says whether any alpha < 255.
                PngKind::Palette | PngKind::Crushed => !opaque,
            };
            assert_eq!(h.has_alpha(), alpha, "{kind:?} opaque={opaque}");
            let transparent = any_transparent_pixel(&bytes, LIMIT).unwrap();
            let want = !opaque && kind != PngKind::Rgb;
            assert_eq!(transparent, want, "{kind:?} opaque={opaque}");
        }
    }
}

#[test]
fn the_png_crate_alone_rejects_crushed_files() {
    let bytes = png(PngKind::Crushed, 4, 4, true);
    assert!(
        png::Decoder::new(std::io::Cursor::new(&bytes))
            .read_info()
            .is_err()
    );
}

#[test]
fn hostile_files_give_errors_naming_the_problem() {
    assert!(matches!(read_header(b"<html>"), Err(PngError::NotAPng(_))));
    let good = png(PngKind::Crushed, 8, 8, true);
    // A chunk length past the end.
    let mut b = good.clone();
    b[8..12].copy_from_slice(&0x7fff_ffffu32.to_be_bytes());
    let err = read_header(&b).unwrap_err();
    assert!(err.to_string().contains("\"CgBI\""), "{err}");
    // A bad CRC is a fact, not an error.
    let mut b = good.clone();
    let last = b.len() - 1;
    b[last] ^= 1;
    assert_eq!(read_header(&b).unwrap().bad_crc.as_deref(), Some("IEND"));
    // Every truncation and every byte flip: no panic.
    for cut in 0..good.len() {
        let _ = read_header(&good[..cut]);
        let _ = any_transparent_pixel(&good[..cut], LIMIT);
    }
    for i in 0..good.len() {
        let mut b = good.clone();
        b[i] ^= 0x5a;
        let _ = any_transparent_pixel(&b, LIMIT);
    }
    // Absurd dimensions are refused before decoding.
    let mut b = png(PngKind::Crushed, 8, 8, true);
    let ihdr = 24 + 8; // after signature + CgBI chunk: IHDR length, type, then data
    b[ihdr..ihdr + 4].copy_from_slice(&0x00ff_ffffu32.to_be_bytes());
    b[ihdr + 4..ihdr + 8].copy_from_slice(&0x00ff_ffffu32.to_be_bytes());
    assert!(matches!(
        any_transparent_pixel(&b, LIMIT),
        Err(PngError::TooLarge { .. })
    ));
}

#[test]
fn a_crushed_bomb_inflates_no_further_than_its_rows() {
    // 4×4 image whose IDAT inflates to 32 MiB of zeros.
    use std::io::Write;
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(&vec![0u8; 32 << 20]).unwrap();
    let bomb = e.finish().unwrap();
    let good = png(PngKind::Crushed, 4, 4, true);
    let idat = good.windows(4).position(|w| w == b"IDAT").unwrap() - 4;
    let mut b = good[..idat].to_vec();
    b.extend_from_slice(&(bomb.len() as u32).to_be_bytes());
    b.extend_from_slice(b"IDAT");
    b.extend_from_slice(&bomb);
    b.extend_from_slice(&[0, 0, 0, 0]); // wrong CRC: still decoded, reported as a fact
    // Zero rows with filter 0 and alpha 0: transparent, decided from the first 4 rows only.
    assert!(any_transparent_pixel(&b, LIMIT).unwrap());
}

/// The corpus's loose PNGs at each app's root: counts and CgBI counts agree with `facts.json`
/// (`png_count`, `cgbi_png_count`), every one reads, and every crushed one decodes.
#[test]
fn corpus_loose_pngs_agree_with_facts() {
    let Some(root) = std::env::var_os("IPAGATE_CORPUS").map(std::path::PathBuf::from) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but IPAGATE_CORPUS (../shared/corpus) is not"
        );
        eprintln!("skipped: set IPAGATE_CORPUS=../shared/corpus to read the corpus's PNGs");
        return;
    };
    let facts: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("facts.json")).unwrap()).unwrap();
    let (mut apps, mut pngs, mut crushed, mut decoded) = (0, 0, 0, 0);
    for (path, file) in facts["files"].as_object().unwrap() {
        if file["kind"] != "ipa" {
            continue;
        }
        let Some(app_facts) = file["facts"]["apps"].as_array() else {
            continue;
        };
        let Ok(package) =
            ipagate_formats::Package::open(&root.join(path), &ipagate_formats::Limits::default())
        else {
            continue;
        };
        for app in app_facts {
            let Some(app_root) = app["root"].as_str() else {
                continue;
            };
            let prefix = format!("{app_root}/");
            // facts.json keeps the archive's raw names (`Outer/Payload/X.app`).
            let names: Vec<ipagate_formats::EntryRef<'_>> = package
                .entries()
                .filter(|e| {
                    e.raw_name()
                        .strip_prefix(&prefix)
                        .is_some_and(|rest| !rest.contains('/') && rest.ends_with(".png"))
                })
                .collect();
            let (mut count, mut cgbi) = (0, 0);
            for entry in &names {
                let name = entry.raw_name();
                let bytes = package.read(entry, 64 << 20).unwrap();
                let h = read_header(&bytes).unwrap_or_else(|e| panic!("{path}!{name}: {e}"));
                assert_eq!(h.bad_crc, None, "{path}!{name}");
                count += 1;
                if h.crushed() {
                    cgbi += 1;
                    // The CgBI flag and the decoded pixels agree.
                    let transparent = any_transparent_pixel(&bytes, LIMIT)
                        .unwrap_or_else(|e| panic!("{path}!{name}: {e}"));
                    assert_eq!(transparent, h.has_alpha(), "{path}!{name}");
                    decoded += 1;
                }
            }
            assert_eq!(
                count,
                app["png_count"].as_u64().unwrap(),
                "{path} {app_root}"
            );
            assert_eq!(
                cgbi,
                app["cgbi_png_count"].as_u64().unwrap(),
                "{path} {app_root}"
            );
            apps += 1;
            pngs += count;
            crushed += cgbi;
        }
    }
    eprintln!(
        "corpus: {apps} apps, {pngs} loose PNGs ({crushed} crushed, {decoded} decoded) agree with facts.json"
    );
    assert!(pngs > 0);
}
