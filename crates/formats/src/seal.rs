//! Deep verification of sealed resources (`codesign --verify --deep`, formats.md §6.3): every
//! signed bundle's `_CodeSignature/CodeResources` against the files it seals.
//!
//! `CodeResources` is a property list (Apple's `codesign`, read after indygreg's
//! `apple-codesign/src/code_resources.rs` description): `files2` maps a path relative to the bundle
//! to `{hash (SHA-1), hash2 (SHA-256), optional, cdhash, requirement, symlink}`; legacy `files`
//! maps it to the SHA-1 data. `rules2` (legacy `rules`) maps a regular expression to `true` or
//! `{omit, optional, weight, nested}`; the matching rule of highest weight decides whether a file
//! is sealed at all.
//!
//! What is checked, per bundle that has a `CodeResources`:
//! - every sealed file exists (unless `optional`) and its digest matches (`hash2` with SHA-256,
//!   else `hash` with SHA-1);
//! - nested code sealed by `cdhash` (a framework, an extension, a dylib) matches the cdhash of one
//!   of that code's CodeDirectories;
//! - every file of the bundle is sealed, except `_CodeSignature/`, the bundle's main executable
//!   (sealed by its own signature), files of nested bundles (sealed by theirs) and files that a
//!   `rules2` rule with `omit` covers (`^Info\.plist$`, `^PkgInfo$`, `.lproj/locversion.plist`,
//!   `.DS_Store`…: the rules are the bundle's own regular expressions, evaluated as written).
//!
//! Files are hashed as they inflate (64 KiB at a time, [`Package::stream`]), on the rayon pool:
//! memory does not grow with the size of a file or the number of files.

use std::collections::{BTreeMap, HashMap};
use std::io;

use aws_lc_rs::digest;
use plist::Value;

use crate::binaries::{Binary, BinaryRole};
use crate::facts::Bundle;
use crate::package::{EntryRef, Package};

/// What is wrong with one sealed resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SealKind {
    /// Sealed, not optional, and absent.
    Missing,
    /// Present, but its digest differs from the sealed one.
    Modified,
    /// Present in the bundle but not sealed (and no `omit` rule covers it).
    Unsealed,
    /// Nested code whose CodeDirectory hash is not the sealed `cdhash`.
    NestedCodeMismatch,
    /// `CodeResources` or a sealed file cannot be read.
    Unreadable,
}

impl SealKind {
    /// kebab-case name, as in messages and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            SealKind::Missing => "missing",
            SealKind::Modified => "modified",
            SealKind::Unsealed => "unsealed",
            SealKind::NestedCodeMismatch => "nested-code-mismatch",
            SealKind::Unreadable => "unreadable",
        }
    }
}

/// One mismatch between a bundle's `CodeResources` and its files.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct SealProblem {
    /// The entry path (`Payload/X.app/Some/file`).
    pub path: String,
    /// The bundle whose `CodeResources` seals (or should seal) it.
    pub bundle: String,
    /// What is wrong.
    pub kind: SealKind,
    /// The values, worded for a message (e.g. `sha256 3f… sealed, 9a… found`).
    pub detail: String,
}

#[derive(Clone)]
enum Expect {
    Sha256(Vec<u8>),
    Sha1(Vec<u8>),
    Cdhash(Vec<u8>),
    Present,
}

struct Sealed {
    expect: Expect,
    optional: bool,
}

struct Rule {
    re: regex::bytes::Regex,
    weight: f64,
    omit: bool,
}

/// Verifies the `CodeResources` of every bundle that has one. `binaries` gives the cdhashes of
/// nested code. The result is sorted (path, then kind), whatever the thread count.
pub fn verify(package: &Package, bundles: &[Bundle], binaries: &[Binary]) -> Vec<SealProblem> {
    let cdhashes: HashMap<&str, Vec<String>> = binaries
        .iter()
        .map(|b| {
            let all = b
                .slices
                .iter()
                .filter_map(|s| s.signature())
                .flat_map(|sig| sig.code_directories.iter().map(|cd| cd.cdhash.clone()))
                .collect();
            (b.path.as_str(), all)
        })
        .collect();
    let mains: HashMap<usize, &str> = binaries
        .iter()
        .filter(|b| b.role == BinaryRole::MainExecutable)
        .filter_map(|b| Some((b.bundle?, b.path.as_str())))
        .collect();
    let mut jobs: Vec<(EntryRef<'_>, Expect, String)> = Vec::new();
    let mut out: Vec<SealProblem> = Vec::new();
    for (i, bundle) in bundles.iter().enumerate() {
        let cr_path = format!("{}/_CodeSignature/CodeResources", bundle.path);
        let Some(cr) = package.entry(&cr_path) else {
            continue;
        };
        let problem = |path: String, kind: SealKind, detail: String| SealProblem {
            path,
            bundle: bundle.path.to_string(),
            kind,
            detail,
        };
        let bytes = match package.read(&cr, package.limits().max_code_resources_size) {
            Ok(b) => b,
            Err(e) => {
                out.push(problem(cr_path, SealKind::Unreadable, e.to_string()));
                continue;
            }
        };
        let (sealed, rules) = match parse(&bytes) {
            Ok(p) => p,
            Err(e) => {
                out.push(problem(cr_path, SealKind::Unreadable, e));
                continue;
            }
        };
        // Nested code seals its own files: the folders (relative to this bundle) of nested
        // bundles sealed here by cdhash or carrying their own CodeResources. A resource bundle
        // without a signature (`Settings.bundle`) is sealed file by file here.
        let nested: Vec<String> = bundle
            .nested_bundles
            .iter()
            .filter(|rel| {
                matches!(
                    sealed.get(rel.as_str()),
                    Some(Sealed {
                        expect: Expect::Cdhash(_),
                        ..
                    })
                ) || package.exists(&format!(
                    "{}/{rel}/_CodeSignature/CodeResources",
                    bundle.path
                ))
            })
            .map(|rel| format!("{rel}/"))
            .collect();
        for (rel, s) in &sealed {
            let path = format!("{}/{rel}", bundle.path);
            match &s.expect {
                Expect::Cdhash(want) => {
                    let want = crate::codesign::hex(want);
                    let code = nested_code(bundles, &mains, &path);
                    match code.and_then(|c| cdhashes.get(c)) {
                        None if s.optional => {}
                        None => out.push(problem(
                            path,
                            SealKind::Missing,
                            "nested code sealed by cdhash is absent".into(),
                        )),
                        Some(found) if found.iter().any(|h| h.starts_with(&want)) => {}
                        Some(found) => out.push(problem(
                            path,
                            SealKind::NestedCodeMismatch,
                            format!(
                                "cdhash {want} sealed, {} found",
                                if found.is_empty() {
                                    "none".to_owned()
                                } else {
                                    found.join(", ")
                                }
                            ),
                        )),
                    }
                }
                expect => match package.entry(&path) {
                    None if s.optional => {}
                    None => out.push(problem(
                        path,
                        SealKind::Missing,
                        "sealed file is absent".into(),
                    )),
                    Some(e) if e.is_dir || e.is_symlink || matches!(expect, Expect::Present) => {}
                    Some(e) => jobs.push((e, expect.clone(), bundle.path.to_string())),
                },
            }
        }
        let main = mains.get(&i).copied();
        let prefix_len = bundle.path.len() + 1;
        for e in package.children(&bundle.path) {
            if e.is_dir {
                continue;
            }
            let rel = &e.path[prefix_len..];
            if sealed.contains_key(rel)
                || rel.starts_with("_CodeSignature/")
                || Some(e.path) == main
                || nested.iter().any(|n| rel.starts_with(n.as_str()))
                || omitted(&rules, rel)
            {
                continue;
            }
            out.push(problem(
                e.path.to_string(),
                SealKind::Unsealed,
                "present in the bundle but not sealed in CodeResources".into(),
            ));
        }
    }
    // Hashing a handful of small resources is quicker than starting the pool.
    let bytes: u64 = jobs.iter().map(|(entry, _, _)| entry.size).sum();
    let hashed: Vec<Option<SealProblem>> = crate::par::map(
        &jobs,
        jobs.len() > 64 || bytes > 4 << 20,
        |(entry, expect, bundle)| check_file(package, entry, expect, bundle),
    );
    out.extend(hashed.into_iter().flatten());
    out.sort();
    out
}

/// The Mach-O that seals as `path`: the main executable of the bundle at `path`, or the file.
fn nested_code<'a>(
    bundles: &[Bundle],
    mains: &HashMap<usize, &'a str>,
    path: &'a str,
) -> Option<&'a str> {
    match bundles.iter().position(|b| b.path == path) {
        Some(i) => mains.get(&i).copied(),
        None => Some(path),
    }
}

fn check_file(
    package: &Package,
    entry: &EntryRef<'_>,
    expect: &Expect,
    bundle: &str,
) -> Option<SealProblem> {
    let (alg, want, name) = match expect {
        Expect::Sha256(h) => (&digest::SHA256, h, "sha256"),
        Expect::Sha1(h) => (&digest::SHA1_FOR_LEGACY_USE_ONLY, h, "sha1"),
        _ => return None,
    };
    let mut sink = Hasher(digest::Context::new(alg));
    let problem = |kind, detail| {
        Some(SealProblem {
            path: entry.path.to_string(),
            bundle: bundle.to_owned(),
            kind,
            detail,
        })
    };
    if let Err(e) = package.stream(entry, u64::MAX, &mut [&mut sink]) {
        return problem(SealKind::Unreadable, e.to_string());
    }
    let found = sink.0.finish();
    if found.as_ref() == want.as_slice() {
        return None;
    }
    problem(
        SealKind::Modified,
        format!(
            "{name} {} sealed, {} found",
            crate::codesign::hex(want),
            crate::codesign::hex(found.as_ref())
        ),
    )
}

struct Hasher(digest::Context);

impl io::Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `files2` (else `files`) and `rules2` (else `rules`) of a `CodeResources`.
#[allow(clippy::type_complexity)]
fn parse(bytes: &[u8]) -> Result<(BTreeMap<String, Sealed>, Vec<Rule>), String> {
    let root = Value::from_reader(io::Cursor::new(bytes))
        .map_err(|e| format!("CodeResources is not a property list: {e}"))?;
    let root = root
        .as_dictionary()
        .ok_or("CodeResources is not a dictionary")?;
    let (files, rules) = match root.get("files2").and_then(Value::as_dictionary) {
        Some(f) => (f, root.get("rules2")),
        None => (
            root.get("files")
                .and_then(Value::as_dictionary)
                .ok_or("CodeResources has neither files2 nor files")?,
            root.get("rules"),
        ),
    };
    let mut sealed = BTreeMap::new();
    for (path, v) in files {
        let s = match v {
            Value::Data(h) => Sealed {
                expect: Expect::Sha1(h.clone()),
                optional: false,
            },
            Value::Dictionary(d) => {
                let data = |k: &str| d.get(k).and_then(Value::as_data).map(<[u8]>::to_vec);
                let expect = if let Some(h) = data("cdhash") {
                    Expect::Cdhash(h)
                } else if let Some(h) = data("hash2") {
                    Expect::Sha256(h)
                } else if let Some(h) = data("hash") {
                    Expect::Sha1(h)
                } else {
                    Expect::Present
                };
                Sealed {
                    expect,
                    optional: d
                        .get("optional")
                        .and_then(Value::as_boolean)
                        .unwrap_or(false),
                }
            }
            _ => Sealed {
                expect: Expect::Present,
                optional: false,
            },
        };
        sealed.insert(path.clone(), s);
    }
    let mut out = Vec::new();
    for (pattern, v) in rules.and_then(Value::as_dictionary).into_iter().flatten() {
        // A pattern the regex engine cannot compile (or a huge one) seals nothing extra.
        let Some(re) = compile(pattern) else {
            continue;
        };
        let d = v.as_dictionary();
        let get = |k: &str| d.and_then(|d| d.get(k));
        out.push(Rule {
            re,
            weight: get("weight")
                .and_then(|w| {
                    w.as_real()
                        .or_else(|| w.as_signed_integer().map(|i| i as f64))
                })
                .unwrap_or(1.0),
            omit: get("omit").and_then(Value::as_boolean).unwrap_or(false),
        });
    }
    Ok((sealed, out))
}

/// A resource rule as `codesign` evaluates it: a POSIX extended expression over the path's bytes
/// (`regcomp`), so classes, `.` and `(?i)` are byte-wise and ASCII-only — no Unicode tables
/// (which would also cost every run of the binary ~10,000 start-up relocations). Size-capped.
fn compile(pattern: &str) -> Option<regex::bytes::Regex> {
    regex::bytes::RegexBuilder::new(pattern)
        .unicode(false)
        .size_limit(1 << 20)
        .build()
        .ok()
}

/// Whether the heaviest rule matching `rel` omits it (no rule matching: not sealed either). On
/// equal weights an `omit` rule wins: Apple's default `rules2` give `^` (the bundle root) and
/// `^Info\.plist$` (omit) both weight 20, and `codesign` never seals Info.plist.
fn omitted(rules: &[Rule], rel: &str) -> bool {
    let mut best: Option<&Rule> = None;
    for r in rules {
        let heavier = |b: &Rule| r.weight > b.weight || (r.weight == b.weight && r.omit);
        if r.re.is_match(rel.as_bytes()) && best.is_none_or(heavier) {
            best = Some(r);
        }
    }
    best.is_none_or(|r| r.omit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(p: &[(&str, f64, bool)]) -> Vec<Rule> {
        p.iter()
            .map(|(re, weight, omit)| Rule {
                re: compile(re).unwrap(),
                weight: *weight,
                omit: *omit,
            })
            .collect()
    }

    #[test]
    fn apple_default_rules_omit_what_codesign_omits() {
        let r = rules(&[
            ("^", 20.0, false),
            ("^.*", 1.0, false),
            ("^.*\\.lproj/", 1000.0, false),
            ("^.*\\.lproj/locversion.plist$", 1100.0, true),
            ("^Info\\.plist$", 20.0, true),
            ("^PkgInfo$", 20.0, true),
            ("^(.*/)?\\.DS_Store$", 2000.0, true),
        ]);
        for p in [
            "Info.plist",
            "PkgInfo",
            "en.lproj/locversion.plist",
            "a/.DS_Store",
        ] {
            assert!(omitted(&r, p), "{p}");
        }
        for p in ["en.lproj/Main.strings", "Assets.car", "sub/Info.plist"] {
            assert!(!omitted(&r, p), "{p}");
        }
    }

    #[test]
    fn rules_match_bytes_as_posix_regcomp_does() {
        // Non-ASCII paths are matched byte by byte (`.` is one byte, as in `regcomp`), case
        // folding and `\w` are ASCII-only, and a Unicode class (not POSIX; `regcomp` has none)
        // does not compile, so it seals nothing, like any pattern that does not compile.
        let r = rules(&[
            ("^.*", 1.0, false),
            ("(?i)^RESOURCES/.*\\.PNG$", 10.0, true),
        ]);
        assert!(omitted(&r, "Resources/Ícone.png"));
        assert!(!omitted(&r, "Résources/icon.png"));
        assert!(!omitted(&r, "日本語.lproj/Main.strings"));
        let one_byte = compile("^.\\.txt$").unwrap();
        assert!(one_byte.is_match(b"a.txt"));
        assert!(!one_byte.is_match("é.txt".as_bytes()), "é is two bytes");
        assert!(compile("^\\w+$").unwrap().is_match(b"abc_1"));
        assert!(!compile("^\\w+$").unwrap().is_match("é".as_bytes()));
        assert!(
            compile("(").is_none(),
            "a pattern that does not compile seals nothing"
        );
        assert!(compile("^\\p{L}+$").is_none());
    }

    #[test]
    fn files2_wins_and_legacy_files_is_the_fallback() {
        let xml = |body: &str| {
            format!("<?xml version=\"1.0\"?><plist version=\"1.0\"><dict>{body}</dict></plist>")
        };
        let legacy = xml(
            "<key>files</key><dict><key>a.txt</key><data>AAEC</data></dict>\
             <key>rules</key><dict><key>^.*</key><true/></dict>",
        );
        let (sealed, rules) = parse(legacy.as_bytes()).unwrap();
        assert!(matches!(sealed["a.txt"].expect, Expect::Sha1(ref h) if h == &[0, 1, 2]));
        assert_eq!(rules.len(), 1);
        let modern = xml(
            "<key>files</key><dict><key>old.txt</key><data>AAEC</data></dict>\
             <key>files2</key><dict>\
               <key>b.txt</key><dict><key>hash</key><data>AAEC</data><key>hash2</key><data>AwQF</data><key>optional</key><true/></dict>\
               <key>Frameworks/K.framework</key><dict><key>cdhash</key><data>BgcI</data></dict>\
             </dict>",
        );
        let (sealed, rules) = parse(modern.as_bytes()).unwrap();
        assert!(!sealed.contains_key("old.txt"));
        assert!(matches!(sealed["b.txt"].expect, Expect::Sha256(ref h) if h == &[3, 4, 5]));
        assert!(sealed["b.txt"].optional);
        assert!(matches!(
            sealed["Frameworks/K.framework"].expect,
            Expect::Cdhash(_)
        ));
        // No rules2: no rule says a file must be sealed, so an unlisted one is not reported.
        assert!(rules.is_empty() && omitted(&rules, "x"));
        assert!(parse(b"not a plist").is_err());
    }
}
