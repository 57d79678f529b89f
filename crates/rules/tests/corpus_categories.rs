//! The required-reason categories found in the corpus's real binaries, listed and checked against
//! an independent reading (opt-in: `IPAGATE_CORPUS=../shared/corpus`; skipped, saying so,
//! without it or without LLVM's tools).
//!
//! For every Mach-O file of every corpus IPA and of `macho/`: ipagate's imports and selectors
//! (the scanner the privacy rules use) and LLVM's (`llvm-nm -u` for the undefined symbols,
//! `llvm-objdump --section=__TEXT,__objc_methname` for the selector strings) go through the same
//! symbol → category map of the embedded data; imports, selectors and categories must be equal
//! per slice. The table
//! of binaries and categories is printed (`--nocapture`) for the record.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use ipagate_formats::{Limits, Package};
use ipagate_rules::data::Data;

fn corpus() -> Option<PathBuf> {
    let Some(root) = std::env::var_os("IPAGATE_CORPUS").map(PathBuf::from) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but IPAGATE_CORPUS (../shared/corpus) is not"
        );
        eprintln!("skipped: set IPAGATE_CORPUS=../shared/corpus to list the corpus's categories");
        return None;
    };
    for tool in ["llvm-nm", "llvm-objdump"] {
        if Command::new(tool).arg("--version").output().is_err() {
            eprintln!("skipped: {tool} is not installed (apt-get install llvm)");
            return None;
        }
    }
    Some(root)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(read) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in read.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Category → the names that revealed it, through the data's map (the rules' matching: a C
/// function with or without a `$VARIANT` suffix, an `OBJC_CLASS_$_` import, or a selector).
fn categories(
    data: &Data,
    imports: &BTreeSet<String>,
    selectors: &BTreeSet<String>,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (category, names) in &data.privacy.symbols {
        for name in names {
            let imported = imports.iter().any(|s| {
                let base = if s.starts_with("OBJC_") {
                    s.as_str()
                } else {
                    s.split('$').next().unwrap_or(s)
                };
                base == name || s.strip_prefix("OBJC_CLASS_$_") == Some(name.as_str())
            });
            if imported || selectors.contains(name) {
                found
                    .entry(category.clone())
                    .or_default()
                    .insert(name.clone());
            }
        }
    }
    found
}

fn llvm_imports(file: &Path, arch: &str) -> Option<BTreeSet<String>> {
    let out = Command::new("llvm-nm")
        .args(["-u", "--arch", arch])
        .arg(file)
        .output()
        .expect("llvm-nm runs");
    out.status.success().then(|| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.ends_with(':'))
            .map(|l| l.strip_prefix('_').unwrap_or(l).to_string())
            .collect()
    })
}

/// Selector names as `llvm-objdump --macho --section=__TEXT,__objc_methname` prints them: one
/// C string per line after the address.
fn llvm_selectors(file: &Path, arch: &str) -> Option<BTreeSet<String>> {
    let out = Command::new("llvm-objdump")
        .args([
            "--macho",
            "--section=__TEXT,__objc_methname",
            &format!("--arch={arch}"),
        ])
        .arg(file)
        .output()
        .expect("llvm-objdump runs");
    out.status.success().then(|| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let (addr, name) = l.split_once(|c: char| c.is_whitespace())?;
                addr.chars()
                    .all(|c| c.is_ascii_hexdigit())
                    // llvm-objdump escapes quotes and backslashes.
                    .then(|| name.trim().replace("\\\"", "\"").replace("\\\\", "\\"))
            })
            .filter(|n| !n.is_empty())
            .collect()
    })
}

#[test]
fn corpus_required_reason_categories_agree_with_llvm() {
    let Some(root) = corpus() else { return };
    let data = Data::embedded().expect("embedded data");
    let scratch = tempfile::tempdir().expect("temp dir");
    // (label, file on disk) for every Mach-O to compare.
    let mut binaries: Vec<(String, PathBuf)> = Vec::new();
    let mut files = Vec::new();
    walk(&root.join("ipas"), &mut files);
    files.sort();
    for file in files {
        let Ok(package) = Package::open(&file, &Limits::default()) else {
            continue;
        };
        let Ok(facts) = ipagate_formats::inspect(&package) else {
            continue;
        };
        for binary in &facts.binaries {
            let Some(entry) = package.entry(&binary.path) else {
                continue;
            };
            let Ok(bytes) = package.read(&entry, 256 << 20) else {
                continue;
            };
            let out = scratch.path().join(format!("{}", binaries.len()));
            std::fs::write(&out, bytes).expect("write");
            let ipa = file.strip_prefix(&root).unwrap_or(&file).display();
            binaries.push((format!("{ipa}!{}", binary.path), out));
        }
    }
    let mut loose = Vec::new();
    walk(&root.join("macho"), &mut loose);
    loose.sort();
    for file in loose {
        let label = file
            .strip_prefix(&root)
            .unwrap_or(&file)
            .display()
            .to_string();
        binaries.push((label, file));
    }

    let mut compared = 0;
    let mut with_categories = 0;
    for (label, file) in &binaries {
        let bytes = std::fs::read(file).expect("read");
        let Ok(macho) = ipagate_formats::macho::parse(&bytes) else {
            continue;
        };
        for slice in &macho.slices {
            let Some(data_bytes) = slice.bytes(&bytes) else {
                continue;
            };
            let ours = match ipagate_formats::symbols::scan(data_bytes) {
                Ok(ours) => ours,
                Err(e) => {
                    eprintln!(
                        "not compared: ipagate cannot read {label} {}: {e}",
                        slice.arch
                    );
                    continue;
                }
            };
            let (Some(imports), Some(selectors)) = (
                llvm_imports(file, &slice.arch),
                llvm_selectors(file, &slice.arch),
            ) else {
                eprintln!("not compared: LLVM cannot read {label} {}", slice.arch);
                continue;
            };
            let ours_imports: BTreeSet<String> = ours.imports.iter().cloned().collect();
            let ours_selectors: BTreeSet<String> = ours.selectors.iter().cloned().collect();
            assert_eq!(ours_imports, imports, "{label} {}: imports", slice.arch);
            assert_eq!(
                ours_selectors, selectors,
                "{label} {}: selectors",
                slice.arch
            );
            let found = categories(&data, &ours_imports, &ours_selectors);
            let theirs = categories(&data, &imports, &selectors);
            assert_eq!(found, theirs, "{label} {}: categories", slice.arch);
            if !found.is_empty() {
                with_categories += 1;
            }
            let shown: Vec<String> = found
                .iter()
                .map(|(c, names)| {
                    format!(
                        "{c} ({})",
                        names.iter().cloned().collect::<Vec<_>>().join(", ")
                    )
                })
                .collect();
            eprintln!(
                "{label} {}: {}",
                slice.arch,
                if shown.is_empty() {
                    "no required-reason API".to_string()
                } else {
                    shown.join("; ")
                }
            );
            compared += 1;
        }
    }
    eprintln!("{compared} slices compared, {with_categories} use at least one required-reason API");
    assert!(compared >= 30, "{compared} slices compared");
    assert!(
        with_categories >= 1,
        "no corpus slice uses a required-reason API: the comparison proves nothing"
    );
}
