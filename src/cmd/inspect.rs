//! `ipagate inspect PATH`: the facts, as text or JSON (no judgement).

use std::io::Write;
use std::path::PathBuf;

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
}

/// Opens and reads a package; the error names the file and the problem.
pub fn read_facts(path: &std::path::Path) -> anyhow::Result<(Package, Facts)> {
    let package = Package::open(path, &Limits::default())?;
    let facts = ipagate_formats::inspect(&package)?;
    Ok((package, facts))
}

/// Runs `inspect`.
pub fn run(args: InspectArgs) -> anyhow::Result<u8> {
    let (package, facts) = read_facts(&args.path)?;
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            let doc = facts_json(&package, &facts);
            crate::cmd::write_json(&mut out, &doc)?;
        }
        Format::Human => write_human(&mut out, &package, &facts, Style::for_stdout(args.color))?,
    }
    out.flush()?;
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
    })
}

/// The JSON document of `inspect`.
pub fn facts_json(package: &Package, facts: &Facts) -> Value {
    json!({
        "schema_version": 1,
        "tool": tool_json(),
        "input": { "path": package.path().display().to_string(), "size": package.stats().file_size, "layout": facts.layout },
        "archive": facts.archive,
        "bundles": facts.bundles.iter().map(|b| bundle_json(facts, b)).collect::<Vec<_>>(),
    })
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
        if let Some(icons) = &b.icons {
            write_icons(out, &indent, icons)?;
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
