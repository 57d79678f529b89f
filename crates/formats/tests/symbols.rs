//! The symbol scanner agrees with an independent reading: for every Mach-O slice of the shared
//! corpus, the undefined symbols equal what `llvm-nm -u --arch=<arch>` lists (opt-in:
//! `IPAGATE_CORPUS=../shared/corpus`; skipped, saying so, without `llvm-nm`).

use std::collections::BTreeSet;
use std::process::Command;

#[test]
fn corpus_imports_agree_with_llvm_nm() {
    let Some(root) = std::env::var_os("IPAGATE_CORPUS").map(std::path::PathBuf::from) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but IPAGATE_CORPUS (../shared/corpus) is not"
        );
        eprintln!("skipped: set IPAGATE_CORPUS=../shared/corpus to scan the corpus's binaries");
        return;
    };
    if Command::new("llvm-nm").arg("--version").output().is_err() {
        eprintln!("skipped: llvm-nm is not installed (apt-get install llvm)");
        return;
    }
    let mut files = Vec::new();
    for dir in ["macho/app-info", "macho/isign"] {
        for entry in std::fs::read_dir(root.join(dir))
            .expect("corpus macho folder")
            .flatten()
        {
            files.push(entry.path());
        }
    }
    files.sort();
    let mut slices = 0;
    for file in &files {
        let bytes = std::fs::read(file).expect("read");
        let macho = ipagate_formats::macho::parse(&bytes).expect("Mach-O");
        for slice in &macho.slices {
            let data = slice.bytes(&bytes).expect("slice inside the file");
            let ours: BTreeSet<String> = ipagate_formats::symbols::scan(data)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
                .imports
                .into_iter()
                .collect();
            let out = Command::new("llvm-nm")
                .args(["-u", "--arch", &slice.arch])
                .arg(file)
                .output()
                .expect("llvm-nm runs");
            if !out.status.success() {
                // isign's armv7 test slice has an LC_SEGMENT whose file range runs past the
                // slice; llvm-nm refuses the whole slice, ipagate reads its symbol table (which
                // lies inside) and the segment problem is the Mach-O reader's fact.
                eprintln!(
                    "not compared: llvm-nm cannot read {} {}: {}",
                    file.display(),
                    slice.arch,
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                continue;
            }
            let theirs: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| !l.is_empty() && !l.ends_with(':'))
                .map(|l| {
                    let l = l.trim();
                    l.strip_prefix('_').unwrap_or(l).to_string()
                })
                .collect();
            assert_eq!(ours, theirs, "{} {}", file.display(), slice.arch);
            slices += 1;
        }
    }
    assert!(slices >= 4, "{slices} slices compared");
}
