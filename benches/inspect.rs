//! `ipagate inspect` reads the central directory and the `Info.plist`s, never the executables,
//! so its time must not grow with them: the same package (same entries, same plists) is built
//! once with a 1 MB and once with a 200 MB main executable, and opening + inspecting both is
//! timed. The two times should be within noise of each other.
//!
//! A second group opens and inspects in-memory archives of 1,000 to 200,000 tiny entries (the
//! shape of asset-heavy apps), reported per entry: the central-directory index, the sort and the
//! bundle walk are the only costs that grow with the entry count.
//!
//! ```text
//! cargo bench --bench inspect
//! ```

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ipagate_formats::{Limits, Package, inspect};

/// (label, size of the main executable in bytes). Random bytes do not compress, so the `.ipa`
/// is about that size.
const SIZES: [(&str, u64); 2] = [("1MB", 1_000_000), ("200MB", 200_000_000)];

fn build(dir: &Path, label: &str, size: u64) -> PathBuf {
    let path = dir.join(format!("Demo-{label}.ipa"));
    ipagate_fixtures::scenarios::demo()
        .executable_size(size)
        .write_to(&path)
        .expect("write the bench package");
    path
}

fn open_and_inspect(path: &Path) -> usize {
    let package = Package::open(path, &Limits::default()).expect("open the bench package");
    let facts = inspect(&package).expect("inspect the bench package");
    facts.bundles.len()
}

fn bench_inspect(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let packages: Vec<(&str, PathBuf, u64)> = SIZES
        .iter()
        .map(|&(label, size)| {
            let path = build(dir.path(), label, size);
            let len = std::fs::metadata(&path).expect("stat").len();
            (label, path, len)
        })
        .collect();
    // Same facts whatever the size: the bench compares like with like.
    let counts: Vec<usize> = packages
        .iter()
        .map(|(_, p, _)| open_and_inspect(p))
        .collect();
    assert!(counts.windows(2).all(|w| w[0] == w[1]), "{counts:?}");

    let mut group = c.benchmark_group("inspect");
    group.sample_size(50);
    group.measurement_time(Duration::from_secs(5));
    for (label, path, len) in &packages {
        // Reported per byte of package, so a flat time shows as a throughput growing 200×.
        group.throughput(Throughput::Bytes(*len));
        group.bench_with_input(BenchmarkId::new("open+inspect", label), path, |b, p| {
            b.iter(|| black_box(open_and_inspect(black_box(p))))
        });
    }
    group.finish();
}

/// An app with `n` one-byte resources spread over 100 folders, like `benches/entries.sh` makes.
fn many_entries(n: usize) -> Vec<u8> {
    let mut ipa = ipagate_fixtures::Ipa::app("Many", "com.example.many");
    for i in 0..n {
        ipa = ipa.entry(ipagate_fixtures::zip::Entry::file(
            format!("Payload/Many.app/res/{:02}/resource-{i:06}.txt", i % 100),
            "x",
        ));
    }
    ipa.build()
}

fn bench_entries(c: &mut Criterion) {
    let mut group = c.benchmark_group("entries");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    for n in [1_000usize, 4_000, 20_000, 100_000, 200_000] {
        let src: std::sync::Arc<dyn ipagate_formats::ReadAt> = std::sync::Arc::new(many_entries(n));
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("open+inspect", n), &src, |b, src| {
            b.iter(|| {
                let package =
                    Package::from_source(Path::new("many.ipa"), src.clone(), &Limits::default())
                        .expect("open");
                black_box(inspect(&package).expect("inspect").bundles.len())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_inspect, bench_entries);
criterion_main!(benches);
