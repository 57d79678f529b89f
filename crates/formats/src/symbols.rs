//! What one Mach-O slice imports, for the privacy gate (`itms-rules.md` §3.2): its undefined
//! symbols (`_stat`, `_mach_absolute_time`, `_NSFileModificationDate`,
//! `_OBJC_CLASS_$_NSUserDefaults`) and the Objective-C selector names it uses (the C strings of
//! `__TEXT,__objc_methname`: `systemUptime`, `activeInputModes`).
//!
//! Imports of binaries linked with chained fixups still appear as undefined symbols in the symbol
//! table (as `nm` shows them), so the symbol table and the selector section are all this reads:
//! `LC_SYMTAB`'s tables in `__LINKEDIT` and one section, through the `object` crate's Mach-O
//! reader, which bounds every offset by the slice. Counts and lengths are capped so a hostile
//! binary cannot make the lists grow without bound.

use object::read::macho::{MachHeader, MachOFile};
use object::{Endianness, Object, ObjectSection, ObjectSymbol};

/// Most symbols and selectors kept per slice.
pub const MAX_NAMES: usize = 200_000;
/// Longest name kept (longer names are cut).
pub const MAX_NAME_LEN: usize = 1024;

/// The names one slice imports.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SliceSymbols {
    /// Undefined symbols, without the leading `_`, sorted and deduplicated.
    pub imports: Vec<String>,
    /// Selector names from `__objc_methname`, sorted and deduplicated.
    pub selectors: Vec<String>,
    /// Names of the Objective-C classes and protocols the slice itself defines, from
    /// `__objc_classname` (Swift classes visible to Objective-C by their mangled names,
    /// `_TtC9Alamofire15SessionDelegate`), sorted and deduplicated. What a statically linked
    /// library leaves behind in the binary that contains it.
    pub classnames: Vec<String>,
    /// The lists were cut at [`MAX_NAMES`].
    pub truncated: bool,
}

impl SliceSymbols {
    /// Objective-C classes the slice references (`OBJC_CLASS_$_X` imports).
    pub fn classes(&self) -> impl Iterator<Item = &str> {
        self.imports
            .iter()
            .filter_map(|s| s.strip_prefix("OBJC_CLASS_$_"))
    }

    /// The Swift modules whose classes or protocols the slice defines, read from the mangled
    /// names in [`Self::classnames`] (`_TtC9Alamofire15SessionDelegate` → `Alamofire`,
    /// `_TtGC7SnapKit…`, `_TtP…`, nested `_TtCC…`), sorted and deduplicated.
    pub fn swift_modules(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .classnames
            .iter()
            .filter_map(|n| swift_module(n))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// The module of one old-style mangled Objective-C-visible Swift name: `_Tt`, kind letters
/// (`C` class, `P` protocol, `G` generic, repeated when nested), a decimal length, the module.
fn swift_module(name: &str) -> Option<&str> {
    let rest = name.strip_prefix("_Tt")?;
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_uppercase());
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 3 {
        return None;
    }
    let len: usize = rest[..digits].parse().ok()?;
    let module = rest.get(digits..digits + len)?;
    (!module.is_empty()
        && module
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_'))
    .then_some(module)
}

fn keep(name: &[u8], out: &mut Vec<String>, truncated: &mut bool) {
    if out.len() >= MAX_NAMES {
        *truncated = true;
        return;
    }
    let name = &name[..name.len().min(MAX_NAME_LEN)];
    out.push(String::from_utf8_lossy(name).into_owned());
}

fn collect<'data, Mach: MachHeader<Endian = Endianness>>(
    file: &MachOFile<'data, Mach, &'data [u8]>,
) -> SliceSymbols {
    let mut out = SliceSymbols::default();
    let mut truncated = false;
    for sym in file.symbols() {
        if !sym.is_undefined() {
            continue;
        }
        let Ok(name) = sym.name_bytes() else { continue };
        let name = name.strip_prefix(b"_").unwrap_or(name);
        if !name.is_empty() {
            keep(name, &mut out.imports, &mut truncated);
        }
    }
    for section in file.sections() {
        let out = match section.name_bytes().ok() {
            Some(b"__objc_methname") => &mut out.selectors,
            Some(b"__objc_classname") => &mut out.classnames,
            _ => continue,
        };
        let Ok(data) = section.data() else { continue };
        for name in data.split(|b| *b == 0).filter(|n| !n.is_empty()) {
            keep(name, out, &mut truncated);
        }
    }
    out.imports.sort_unstable();
    out.imports.dedup();
    out.selectors.sort_unstable();
    out.selectors.dedup();
    out.classnames.sort_unstable();
    out.classnames.dedup();
    out.truncated = truncated;
    out
}

/// Reads the imports of one thin Mach-O slice (the bytes of one architecture).
pub fn scan(slice: &[u8]) -> Result<SliceSymbols, String> {
    let magic = slice
        .get(..4)
        .map(|m| u32::from_le_bytes([m[0], m[1], m[2], m[3]]))
        .ok_or("shorter than a Mach-O header")?;
    match magic {
        0xfeed_facf | 0xcffa_edfe => {
            object::read::macho::MachOFile64::<Endianness, _>::parse(slice)
                .map(|f| collect(&f))
                .map_err(|e| format!("cannot read the symbol table: {e}"))
        }
        0xfeed_face | 0xcefa_edfe => {
            object::read::macho::MachOFile32::<Endianness, _>::parse(slice)
                .map(|f| collect(&f))
                .map_err(|e| format!("cannot read the symbol table: {e}"))
        }
        other => Err(format!("not a thin Mach-O slice (magic {other:#010x})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipagate_fixtures::macho::importing as object;

    #[test]
    fn undefined_symbols_and_selectors_are_read() {
        let bytes = object(
            &["stat", "mach_absolute_time", "OBJC_CLASS_$_NSUserDefaults"],
            &["systemUptime", "activeInputModes", "init"],
        );
        let s = scan(&bytes).unwrap();
        assert_eq!(
            s.imports,
            ["OBJC_CLASS_$_NSUserDefaults", "mach_absolute_time", "stat"]
        );
        assert_eq!(s.selectors, ["activeInputModes", "init", "systemUptime"]);
        assert_eq!(s.classes().collect::<Vec<_>>(), ["NSUserDefaults"]);
        assert!(!s.truncated);
    }

    #[test]
    fn defined_classes_and_their_swift_modules_are_read() {
        let bytes = ipagate_fixtures::macho::unsigned(
            &ipagate_fixtures::macho::MachOSpec::arm64("15.0").defining_classes(&[
                "FIRApp",
                "_TtC9Alamofire15SessionDelegate",
                "_TtGC7SnapKit14ConstraintItem_",
                "_TtP6Lottie12AnimationKey_",
                "_TtCC4Demo5Outer5Inner",
                "_TtCs12_SwiftObject",
                "_Tt",
                "_TtC999",
            ]),
            3,
        );
        let s = scan(&bytes).unwrap();
        assert!(s.classnames.iter().any(|c| c == "FIRApp"));
        assert_eq!(
            s.swift_modules(),
            ["Alamofire", "Demo", "Lottie", "SnapKit"]
        );
        assert!(s.selectors.is_empty());
    }

    #[test]
    fn hostile_slices_are_errors_or_bounded_facts() {
        let good = object(&["stat"], &["systemUptime"]);
        assert!(scan(b"").is_err());
        assert!(scan(b"\x7fELF").is_err());
        // Every truncation and every single-byte flip ends cleanly.
        for cut in 0..good.len() {
            let _ = scan(&good[..cut]);
        }
        for at in 0..good.len() {
            let mut bad = good.clone();
            bad[at] ^= 0xFF;
            let _ = scan(&bad);
        }
    }
}
