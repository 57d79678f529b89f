//! `ipagate inspect PATH`: the facts, as text or JSON (no judgement).

use std::io::Write;
use std::path::PathBuf;

use ipagate_formats::binaries::{Binary, SignatureState, SliceFacts};
use ipagate_formats::macho::CpuType;
use ipagate_formats::profile::ProfileState;
use ipagate_formats::trust::TrustAnchors;
use ipagate_formats::{Bundle, Facts, InfoPlistState, Limits, Package};
use serde_json::{Value, json};

use crate::exit;
use crate::style::{ColorChoice, Style, clean};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For people.
    Human,
    /// Versioned JSON (`schema_version: 1`).
    Json,
}

/// Arguments of `ipagate inspect`.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// An .ipa, a zipped .app, an .app folder or an .xcarchive folder.
    pub path: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// When to colour the output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Also read every Mach-O file: slices, load commands, code signatures with their hash
    /// checks, entitlements (inflates every executable; without it only the central directory
    /// and the small files are read, whatever the size of the binaries).
    #[arg(long)]
    pub binaries: bool,
    /// Also list each slice's imported symbols, Objective-C selectors and class names (what the
    /// privacy rules read; implies --binaries).
    #[arg(long)]
    pub symbols: bool,

    /// Also check every signed bundle's `_CodeSignature/CodeResources` against its files (hashes
    /// every sealed file; implies --binaries) and list the mismatches.
    #[arg(long)]
    pub deep: bool,
    /// Tests only: verify signatures and profiles against this DER root certificate instead of
    /// Apple's pinned roots (the fixtures are signed by a test CA, `fixtures/TestRoot.der`).
    #[arg(long, value_name = "FILE", hide = true)]
    pub trust_root: Option<PathBuf>,
    /// With --symbols: name the categories with newer rule data (`privacy.toml` in DIR), as `preflight --data`.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
}

/// Apple's pinned roots, or only the root in `--trust-root FILE`.
pub fn trust_anchors(
    root: Option<&std::path::Path>,
) -> anyhow::Result<std::borrow::Cow<'static, TrustAnchors>> {
    use anyhow::Context as _;
    let Some(path) = root else {
        return Ok(std::borrow::Cow::Borrowed(TrustAnchors::apple()));
    };
    let der = std::fs::read(path)
        .with_context(|| format!("cannot read --trust-root {}", path.display()))?;
    let anchors = TrustAnchors::with_roots([der.as_slice()])
        .with_context(|| format!("cannot use --trust-root {}", path.display()))?;
    Ok(std::borrow::Cow::Owned(anchors))
}

/// Opens and reads a package; the error names the file and the problem.
pub fn read_facts(
    path: &std::path::Path,
    tiers: ipagate_formats::Tiers,
    anchors: &TrustAnchors,
) -> anyhow::Result<(Package, Facts)> {
    let package = Package::open(path, &Limits::default())?;
    let facts = ipagate_formats::inspect_trusting(&package, tiers, anchors)?;
    Ok((package, facts))
}

/// Runs `inspect`.
pub fn run(args: InspectArgs) -> anyhow::Result<u8> {
    let tiers = ipagate_formats::Tiers {
        binaries: args.binaries,
        symbols: args.symbols,
        deep: args.deep,
    };
    let anchors = trust_anchors(args.trust_root.as_deref())?;
    let (package, facts) = read_facts(&args.path, tiers, &anchors)?;
    // The symbols are judged against the rule data (which names reveal which category).
    let data = if facts.tiers.symbols {
        Some(crate::cmd::preflight::load_data(args.data.as_deref())?)
    } else {
        None
    };
    let mut out = crate::output::stdout();
    match args.format {
        Format::Json => {
            let doc = facts_json(&package, &facts, data.as_ref());
            crate::cmd::write_json(&mut out, &doc)?;
        }
        Format::Human => write_human(
            &mut out,
            &package,
            &facts,
            data.as_ref(),
            Style::for_stdout(args.color),
        )?,
    }
    out.flush()?;
    // The process ends right after this: freeing every entry of a 100,000-entry index one by
    // one would only cost time.
    std::mem::forget(package);
    Ok(exit::SUCCESS)
}

/// `tool` object shared by every JSON document.
pub fn tool_json() -> Value {
    json!({ "name": "ipagate", "version": env!("CARGO_PKG_VERSION") })
}

fn bundle_json(facts: &Facts, b: &Bundle) -> Value {
    let (state, problem, info) = match &b.info {
        InfoPlistState::Missing => ("missing", None, Value::Null),
        InfoPlistState::Unreadable(p) => ("unreadable", Some(p.clone()), Value::Null),
        InfoPlistState::Parsed(info) => (
            "parsed",
            None,
            serde_json::to_value(info.as_ref()).unwrap_or(Value::Null),
        ),
    };
    json!({
        "path": b.path,
        "kind": b.kind,
        "parent": b.parent.map(|p| facts.bundles[p].path.clone()),
        "info_plist": { "state": state, "problem": problem, "values": info },
        "executable_exists": b.executable_exists,
        "executable_size": b.executable_size,
        "launch_storyboard_exists": b.launch_storyboard_exists,
        "has_frameworks_folder": b.has_frameworks_dir,
        "loose_dylibs": b.loose_dylibs,
        "icons": b.icons,
        "privacy_manifest": b.privacy_manifest,
        "profile": b.profile,
    })
}

/// The JSON document of `inspect`; `data` (the rule data, when symbols were scanned) names the
/// required-reason categories each binary's symbols reveal.
pub fn facts_json(
    package: &Package,
    facts: &Facts,
    data: Option<&ipagate_rules::data::Data>,
) -> Value {
    json!({
        "schema_version": 1,
        "tool": tool_json(),
        "input": { "path": package.path().display().to_string(), "size": package.stats().file_size, "layout": facts.layout },
        "archive": facts.archive,
        "bundles": facts.bundles.iter().map(|b| bundle_json(facts, b)).collect::<Vec<_>>(),
        // `null` when not read (`--binaries`), so that "none" and "not looked at" differ.
        "binaries": facts.tiers.binaries.then(|| facts.binaries.iter().map(|b| binary_json(facts, b, data)).collect::<Vec<_>>()),
        "executables_not_macho": facts.tiers.binaries.then_some(&facts.not_macho),
        // `--deep`: sealed-resource mismatches `[{path, bundle, kind, detail}]`; `null` when not checked.
        "seals": facts.tiers.deep.then_some(&facts.seals),
        // Which rule data named the categories (`null` when symbols were not scanned).
        "data": data.map(crate::cmd::preflight::data_json),
    })
}

/// `[{category, revealed_by}]` for a binary; `null` without the symbols tier.
fn categories_json(b: &Binary, data: Option<&ipagate_rules::data::Data>) -> Value {
    match data {
        None => Value::Null,
        Some(data) => ipagate_rules::required_reason_categories(b, data)
            .into_iter()
            .map(|(category, names)| {
                json!({
                    "category": format!("NSPrivacyAccessedAPICategory{category}"),
                    "revealed_by": names,
                })
            })
            .collect(),
    }
}

fn binary_json(facts: &Facts, b: &Binary, data: Option<&ipagate_rules::data::Data>) -> Value {
    json!({
        "path": b.path,
        "bundle": b.bundle.map(|i| facts.bundles[i].path.clone()),
        "role": b.role,
        "container": b.container,
        "problems": b.problems,
        "slices": b.slices.iter().map(|s| slice_json(s, facts.tiers.symbols)).collect::<Vec<_>>(),
        "privacy_manifests": ipagate_rules::privacy_manifests_covering(facts, b),
        "required_reason_categories": categories_json(b, data),
    })
}

/// A slice's symbols: `not-scanned` when the tier was off (so that "imports nothing" and "not
/// looked at" differ), else the lists or why they could not be read.
fn symbols_json(s: &SliceFacts, scanned: bool) -> Value {
    match &s.symbols {
        _ if !scanned => json!({ "state": "not-scanned" }),
        Some(Ok(sym)) => json!({
            "state": "scanned",
            "imports": sym.imports,
            "selectors": sym.selectors,
            "classnames": sym.classnames,
            "truncated": sym.truncated,
        }),
        Some(Err(p)) => json!({ "state": "unreadable", "problem": p }),
        None => json!({ "state": "unreadable", "problem": "the slice lies outside the file" }),
    }
}

fn slice_json(s: &SliceFacts, symbols_scanned: bool) -> Value {
    let m = &s.macho;
    let signature = match &s.signature {
        SignatureState::Absent => json!({ "state": "absent" }),
        SignatureState::Unreadable(p) => json!({ "state": "unreadable", "problem": p }),
        SignatureState::Parsed(sig) => {
            let cds: Vec<Value> = sig
                .code_directories
                .iter()
                .enumerate()
                .map(|(i, cd)| {
                    json!({
                        "slot": format!("{:#x}", cd.slot),
                        "version": format!("{:#x}", cd.version),
                        "flags": format!("{:#x}", cd.flags),
                        "adhoc": cd.is_adhoc(),
                        "linker_signed": cd.is_linker_signed(),
                        "hash_type": cd.hash_type.to_string(),
                        "page_size": if cd.page_size_log2 < 32 { 1u64 << cd.page_size_log2 } else { 0 },
                        "identifier": cd.identifier,
                        "team_id": cd.team_id,
                        "special_slots": cd.n_special_slots,
                        "code_slots": cd.n_code_slots,
                        "code_limit": cd.code_limit,
                        "exec_seg_flags": cd.exec_seg_flags,
                        "cdhash": cd.cdhash,
                        "special_slot_checks": s.special_slots.get(i),
                        "page_check": s.pages.get(i),
                    })
                })
                .collect();
            json!({
                "state": "parsed",
                "blobs": sig.blobs.iter().map(|b| json!({ "slot": format!("{:#x}", b.slot), "magic": format!("{:?}", b.magic), "length": b.length })).collect::<Vec<_>>(),
                "code_directories": cds,
                "entitlements": match &s.entitlements {
                    None => Value::Null,
                    Some(Ok(dict)) => plist_json(&plist::Value::Dictionary(dict.clone())),
                    Some(Err(p)) => json!({ "problem": p }),
                },
                "der_entitlements": sig.entitlements_der.is_some(),
                "requirements": sig.requirements.is_some(),
                "cms_size": sig.cms.as_ref().map(Vec::len),
                "certificates": sig.certificates,
                "signer": sig.signer,
                "trust": sig.trust,
                "cms_problem": sig.cms_problem,
                "problems": sig.problems,
            })
        }
    };
    json!({
        "arch": m.arch,
        "cpu_type": format!("{:#x}", cpu_type_value(m.cpu_type)),
        "cpu_subtype": format!("{:#x}", m.cpu_subtype),
        "offset": m.offset,
        "size": m.size,
        "fat_align": m.fat_align,
        "filetype": m.filetype.to_string(),
        "flags": format!("{:#x}", m.flags),
        "build_version": m.build_version.map(|v| json!({
            "source": v.source,
            "platform": v.platform.as_str(),
            "minos": v.minos.to_string(),
            "sdk": v.sdk.to_string(),
        })),
        "encryption": m.encryption,
        "segments": m.segments,
        "llvm_segment": m.has_llvm_segment(),
        "uuid": m.uuid,
        "code_signature": m.code_signature,
        "problem": m.problem,
        "signature": signature,
        "symbols": symbols_json(s, symbols_scanned),
    })
}

fn cpu_type_value(c: CpuType) -> u32 {
    match c {
        CpuType::Arm => 12,
        CpuType::Arm64 => 0x0100_000c,
        CpuType::Arm64_32 => 0x0200_000c,
        CpuType::X86 => 7,
        CpuType::X86_64 => 0x0100_0007,
        CpuType::Unknown(v) => v,
    }
}

fn text(t: &Option<ipagate_formats::Text>) -> String {
    match t {
        None => "-".into(),
        Some(ipagate_formats::Text::Str(s)) => clean(s),
        Some(ipagate_formats::Text::WrongType(w)) => format!("({})", w.wrong_type),
    }
}

fn write_human(
    out: &mut impl Write,
    package: &Package,
    facts: &Facts,
    data: Option<&ipagate_rules::data::Data>,
    style: Style,
) -> anyhow::Result<()> {
    let s = package.stats();
    writeln!(
        out,
        "{} {}",
        style.bold("input"),
        clean(&package.path().display().to_string())
    )?;
    writeln!(
        out,
        "  layout {}, {} entries ({} files), {} bytes compressed, {} uncompressed{}",
        facts.layout.as_str(),
        s.entry_count,
        s.file_count,
        s.compressed_size,
        s.uncompressed_size,
        if s.zip64 { ", zip64" } else { "" }
    )?;
    if !facts.archive.top_level.is_empty() {
        writeln!(
            out,
            "  outside Payload/: {}",
            facts
                .archive
                .top_level
                .iter()
                .map(|t| clean(t))
                .collect::<Vec<_>>()
                .join(", ")
        )?;
    }
    for b in &facts.bundles {
        let depth = {
            let mut d = 0;
            let mut p = b.parent;
            while let Some(i) = p {
                d += 1;
                p = facts.bundles[i].parent;
            }
            d
        };
        let indent = "  ".repeat(depth + 1);
        writeln!(
            out,
            "{indent}{} {}",
            style.bold(b.kind.as_str()),
            clean(&b.path)
        )?;
        match &b.info {
            InfoPlistState::Missing => writeln!(out, "{indent}  Info.plist missing")?,
            InfoPlistState::Unreadable(p) => {
                writeln!(out, "{indent}  Info.plist unreadable: {}", clean(p))?
            }
            InfoPlistState::Parsed(i) => {
                writeln!(
                    out,
                    "{indent}  {} {} ({}), min OS {}, {} plist",
                    text(&i.bundle_id),
                    text(&i.short_version),
                    text(&i.build_version),
                    text(&i.minimum_os),
                    i.format
                        .map_or("?", |f| if f == ipagate_formats::PlistFormat::Xml {
                            "XML"
                        } else {
                            "binary"
                        })
                )?;
                if let Some(exe) = i.executable.as_ref().and_then(|e| e.as_str()) {
                    let state = if b.executable_exists {
                        "present"
                    } else {
                        "MISSING"
                    };
                    writeln!(out, "{indent}  executable {} ({state})", clean(exe))?;
                }
            }
        }
        match &b.profile {
            None => {}
            Some(ProfileState::Unreadable { problem, .. }) => {
                writeln!(out, "{indent}  profile unreadable: {}", clean(problem))?
            }
            Some(ProfileState::Parsed(p)) => writeln!(
                out,
                "{indent}  profile {} {:?}, team {}, app id {}, {}, expires {}, {} devices, {} certificates",
                p.kind,
                clean(p.name.as_deref().unwrap_or("?")),
                clean(&p.team_ids.join(",")),
                clean(p.application_identifier.as_deref().unwrap_or("?")),
                clean(&p.platforms.join(",")),
                p.expiration_date.map_or_else(
                    || "?".to_owned(),
                    |d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string()
                ),
                p.devices_count.unwrap_or(0),
                p.developer_certificates.len(),
            )
            .and_then(|()| writeln!(out, "{indent}    signature {}", trust_word(&p.trust)))?,
        }
        if let Some(icons) = &b.icons {
            write_icons(out, &indent, icons)?;
        }
    }
    if !facts.tiers.binaries {
        writeln!(
            out,
            "  {} not read (--binaries reads slices, signatures and entitlements; --symbols also their imports)",
            style.bold("mach-o")
        )?;
    }
    for b in &facts.binaries {
        writeln!(out, "  {} {}", style.bold("mach-o"), clean(&b.path))?;
        for p in &b.problems {
            writeln!(out, "    problem: {}", clean(p))?;
        }
        for s in &b.slices {
            writeln!(out, "    {}", slice_line(s, facts.tiers.symbols))?;
        }
        let manifests = ipagate_rules::privacy_manifests_covering(facts, b);
        if !manifests.is_empty() {
            let shown: Vec<String> = manifests.iter().map(|m| clean(m)).collect();
            writeln!(
                out,
                "    covered by privacy manifests: {}",
                shown.join(", ")
            )?;
        }
        if let Some(data) = data {
            let found: Vec<String> = ipagate_rules::required_reason_categories(b, data)
                .into_iter()
                .map(|(c, names)| format!("{c} ({})", clean(&names.join(", "))))
                .collect();
            if !found.is_empty() {
                writeln!(out, "    required-reason APIs: {}", found.join("; "))?;
            }
        }
    }
    for n in &facts.not_macho {
        writeln!(out, "  executable {} {}", clean(&n.path), clean(&n.problem))?;
    }
    if facts.tiers.deep {
        writeln!(
            out,
            "  {} {} mismatch(es) between CodeResources and the files",
            style.bold("seals"),
            facts.seals.len()
        )?;
        for p in &facts.seals {
            writeln!(
                out,
                "    {} {}: {}",
                p.kind.as_str(),
                clean(&p.path),
                clean(&p.detail)
            )?;
        }
    }
    Ok(())
}

fn write_icons(
    out: &mut impl Write,
    indent: &str,
    icons: &ipagate_formats::icons::Icons,
) -> anyhow::Result<()> {
    writeln!(
        out,
        "{indent}  icon name {}",
        icons.name.as_deref().map_or("-".into(), clean)
    )?;
    for d in &icons.declared {
        if d.files.is_empty() {
            writeln!(
                out,
                "{indent}  icon file {} ({}): resolves to nothing",
                clean(&d.name),
                clean(&d.key)
            )?;
        }
    }
    for l in &icons.loose {
        writeln!(
            out,
            "{indent}  loose {} {}x{}{}{}{}",
            clean(&l.file),
            l.width,
            l.height,
            if l.crushed { " crushed" } else { "" },
            if l.alpha { " alpha" } else { "" },
            l.problem
                .as_deref()
                .map_or(String::new(), |p| format!(" ({})", clean(p)))
        )?;
    }
    if let Some(c) = &icons.catalog {
        if let Some(p) = &c.problem {
            writeln!(out, "{indent}  {} unreadable: {}", c.file, clean(p))?;
            return Ok(());
        }
        writeln!(
            out,
            "{indent}  {} CoreUI {}, {} facets, icon facets: {}{}",
            c.file,
            c.coreui_version,
            c.facets.len(),
            if c.icon_facets.is_empty() {
                "none".to_string()
            } else {
                c.icon_facets
                    .iter()
                    .map(|f| clean(f))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            if c.thinned { " (thinned)" } else { "" }
        )?;
        for r in &c.renditions {
            writeln!(
                out,
                "{indent}    {} {} @{}x {}x{} {} {}{}{}",
                clean(&r.facet),
                r.idiom,
                r.scale,
                r.width,
                r.height,
                r.pixel_format,
                r.layout,
                match r.appearance {
                    0 => String::new(),
                    1 => " dark".into(),
                    10 => " tinted".into(),
                    a => format!(" appearance {a}"),
                },
                match r.opaque {
                    Some(true) => " opaque",
                    Some(false) => " transparent",
                    None => "",
                }
            )?;
        }
    }
    Ok(())
}

/// One line per slice: arch, platform and versions, signature summary.
fn slice_line(s: &SliceFacts, symbols_scanned: bool) -> String {
    let m = &s.macho;
    let mut line = format!("{} {}", clean(&m.arch), m.filetype);
    if let Some(v) = m.build_version {
        line.push_str(&format!(
            ", {} min {} sdk {}",
            v.platform.as_str(),
            v.minos,
            v.sdk
        ));
    }
    if let Some(e) = m.encryption {
        line.push_str(&format!(", cryptid {}", e.cryptid));
    }
    if m.has_llvm_segment() {
        line.push_str(", __LLVM");
    }
    if let Some(p) = &m.problem {
        line.push_str(&format!(", problem: {}", clean(p)));
    }
    match &s.symbols {
        _ if !symbols_scanned => line.push_str(", symbols not scanned (--symbols)"),
        Some(Ok(sym)) => line.push_str(&format!(
            ", {} imports, {} selectors, {} classes{}",
            sym.imports.len(),
            sym.selectors.len(),
            sym.classnames.len(),
            if sym.truncated { " (truncated)" } else { "" }
        )),
        Some(Err(p)) => line.push_str(&format!(", symbols unreadable: {}", clean(p))),
        None => line.push_str(", symbols unreadable: the slice lies outside the file"),
    }
    match &s.signature {
        SignatureState::Absent => line.push_str(", unsigned"),
        SignatureState::Unreadable(p) => {
            line.push_str(&format!(", signature unreadable: {}", clean(p)))
        }
        SignatureState::Parsed(sig) => {
            let hashes: Vec<String> = sig
                .code_directories
                .iter()
                .map(|cd| cd.hash_type.to_string())
                .collect();
            let team = sig
                .code_directories
                .first()
                .and_then(|cd| cd.team_id.clone())
                .unwrap_or_else(|| "-".into());
            let adhoc = sig.code_directories.iter().any(|cd| cd.is_adhoc());
            let bad_pages: u32 = s.pages.iter().map(|p| p.mismatched).sum();
            let bad_slots = s
                .special_slots
                .iter()
                .flatten()
                .filter(|c| c.state != ipagate_formats::codesign::SlotState::Match)
                .count();
            line.push_str(&format!(
                ", signed{} team {} ({}), {} page mismatches, {} slot problems",
                if adhoc { " ad-hoc" } else { "" },
                clean(&team),
                hashes.join("+"),
                bad_pages,
                bad_slots
            ));
            if let Some(leaf) = sig.leaf() {
                line.push_str(&format!(
                    ", by '{}' ({}, until {})",
                    clean(leaf.subject_cn.as_deref().unwrap_or("?")),
                    format!("{:?}", leaf.kind).to_lowercase(),
                    leaf.not_after
                        .map_or_else(|| "?".to_owned(), |d| d.format("%Y-%m-%d").to_string())
                ));
            } else if let Some(p) = &sig.cms_problem {
                line.push_str(&format!(", CMS unreadable: {}", clean(p)));
            }
            line.push_str(&format!(", trust {}", trust_word(&sig.trust)));
        }
    }
    line
}

/// The trust verdict in a few words, for the human output.
fn trust_word(t: &ipagate_formats::trust::Trust) -> String {
    use ipagate_formats::trust::Trust;
    match t {
        Trust::Verified { chain, .. } => format!(
            "verified (root '{}')",
            clean(chain.last().map_or("?", |c| c.subject.as_str()))
        ),
        Trust::Untrusted { detail, .. } => format!("UNTRUSTED: {}", clean(detail)),
        Trust::Skipped { why } => format!("skipped ({})", clean(why)),
    }
}

/// A property-list value as JSON (data as its length, dates as ISO 8601 text).
pub fn plist_json(v: &plist::Value) -> Value {
    match v {
        plist::Value::Dictionary(d) => {
            Value::Object(d.iter().map(|(k, v)| (k.clone(), plist_json(v))).collect())
        }
        plist::Value::Array(a) => Value::Array(a.iter().map(plist_json).collect()),
        plist::Value::Boolean(b) => json!(b),
        plist::Value::String(s) => json!(s),
        plist::Value::Integer(i) => i
            .as_signed()
            .map(|n| json!(n))
            .or_else(|| i.as_unsigned().map(|n| json!(n)))
            .unwrap_or(Value::Null),
        plist::Value::Real(r) => json!(r),
        plist::Value::Date(d) => json!(d.to_xml_format()),
        plist::Value::Data(d) => json!(format!("<{} bytes>", d.len())),
        plist::Value::Uid(u) => json!(u.get()),
        _ => Value::Null,
    }
}
