//! Renditions per second: parsing a generated catalog of 5,000 renditions (trees and CSI headers,
//! no pixel decoding), and the opacity of one 1024 icon decoded from LZFSE.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ipagate_car::writer::{CatalogWriter, Image};
use ipagate_car::{AssetCatalog, Compression, Idiom};

fn catalog(n: usize) -> Vec<u8> {
    let mut w = CatalogWriter::new().leaf_capacity(400);
    let small = Image::opaque().compression(Compression::Uncompressed, 0);
    for i in 0..n {
        w = w.image(&format!("image-{i:05}"), 4, 4, 2, small);
    }
    w.build()
}

fn bench(c: &mut Criterion) {
    let bytes = catalog(5_000);
    let mut g = c.benchmark_group("car");
    g.throughput(Throughput::Elements(5_000));
    g.bench_function("parse 5000 renditions", |b| {
        b.iter(|| AssetCatalog::parse(&bytes).map(|c| c.renditions.len()))
    });
    g.finish();
    // The largest real catalog of the corpus, when IPAGATE_CORPUS points at it (opt-in).
    if let Some(dir) = std::env::var_os("IPAGATE_CORPUS") {
        let dir = std::path::Path::new(&dir).join("assets-car");
        let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .flat_map(|d| std::fs::read_dir(d.path()).into_iter().flatten().flatten())
            .map(|e| e.path())
            .collect();
        files.sort_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0));
        if let Some(largest) = files.last()
            && let Ok(bytes) = std::fs::read(largest)
            && let Ok(car) = AssetCatalog::parse(&bytes)
        {
            let mut g = c.benchmark_group("car-corpus");
            g.throughput(Throughput::Elements(car.renditions.len() as u64));
            g.bench_function("parse the largest corpus catalog", |b| {
                b.iter(|| AssetCatalog::parse(&bytes).map(|c| c.renditions.len()))
            });
            g.finish();
        }
    } else {
        eprintln!("skipped the corpus bench: set IPAGATE_CORPUS=../shared/corpus");
    }
    let icon = CatalogWriter::new()
        .icon_set(
            "AppIcon",
            Idiom::Phone,
            &[(1024, 1)],
            Image::opaque().flag(false),
        )
        .coreui_version(498)
        .build();
    c.bench_function("opacity of a 1024 LZFSE icon (decoded)", |b| {
        b.iter(|| {
            let car = AssetCatalog::parse(&icon).ok()?;
            let r = car.renditions.iter().find(|r| r.csi.width == 1024)?;
            Some(car.opacity(r))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
