//! Which facts are read: the symbol scan is a tier of its own (issue 12), so a gate whose enabled
//! rules do not read symbols never walks a symbol table, while the binaries are still read.

use ipagate_fixtures::scenario;
use ipagate_formats::{Limits, Package, Tiers, inspect_with};

fn facts(tiers: Tiers) -> ipagate_formats::Facts {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("app.ipa");
    let s = scenario("required-reason-api-undeclared").expect("scenario");
    std::fs::write(&path, s.bytes()).expect("write");
    let package = Package::open(&path, &Limits::default()).expect("open");
    inspect_with(&package, tiers).expect("facts")
}

#[test]
fn without_the_symbols_tier_binaries_are_read_but_not_scanned() {
    let facts = facts(Tiers::BINARIES);
    assert_eq!(facts.tiers, Tiers::BINARIES);
    assert!(!facts.binaries.is_empty());
    let slices: Vec<_> = facts.binaries.iter().flat_map(|b| &b.slices).collect();
    assert!(!slices.is_empty());
    // Signatures are still read and checked...
    assert!(slices.iter().any(|s| s.signature().is_some()));
    // ...and no slice was scanned.
    assert!(slices.iter().all(|s| s.symbols.is_none()), "{slices:#?}");
}

#[test]
fn with_the_symbols_tier_every_slice_is_scanned() {
    let facts = facts(Tiers::ALL);
    assert_eq!(facts.tiers, Tiers::ALL);
    let app = facts
        .binaries
        .iter()
        .find(|b| b.path == "Payload/Demo.app/Demo")
        .expect("the app's executable");
    let symbols = match &app.slices[0].symbols {
        Some(Ok(s)) => s,
        other => panic!("not scanned: {other:?}"),
    };
    assert!(symbols.imports.iter().any(|s| s == "stat"), "{symbols:?}");
    assert!(symbols.selectors.iter().any(|s| s == "systemUptime"));
}

#[test]
fn asking_for_symbols_implies_binaries() {
    let facts = facts(Tiers {
        binaries: false,
        symbols: true,
        deep: false,
    });
    assert_eq!(facts.tiers, Tiers::ALL);
    assert!(!facts.binaries.is_empty());
}

#[test]
fn bundles_only_reads_no_binary() {
    let facts = facts(Tiers::BUNDLES);
    assert_eq!(facts.tiers, Tiers::BUNDLES);
    assert!(facts.binaries.is_empty());
}
