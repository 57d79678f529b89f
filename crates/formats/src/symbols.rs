//! What one Mach-O slice imports, for the privacy gate (`itms-rules.md` §3.2): its undefined
//! symbols (`_stat`, `_mach_absolute_time`, `_NSFileModificationDate`,
//! `_OBJC_CLASS_$_NSUserDefaults`) and the Objective-C selector names it uses (the C strings of
//! `__TEXT,__objc_methname`: `systemUptime`, `activeInputModes`).
//!
//! Imports come from three places, merged: the undefined symbols of `LC_SYMTAB` (as `nm` shows
//! them), the import table of `LC_DYLD_CHAINED_FIXUPS` (`dyld_chained_import*` entries and their
//! names; the fixup chains themselves are never walked, so a cyclic chain cannot loop), and the
//! bind, weak-bind and lazy-bind opcode streams of `LC_DYLD_INFO(_ONLY)` (the names of
//! `BIND_OPCODE_SET_SYMBOL_TRAILING_FLAGS_IMM`). A stripped binary whose symbol table no longer
//! lists its imports still names them in one of the latter two. Classes referenced from other
//! images (`__objc_classrefs` entries) are bound to `_OBJC_CLASS_$_X` imports, so they arrive
//! through the same lists; the classes a slice defines come from `__objc_classname`.
//!
//! Only `__LINKEDIT` data the load commands point at and two sections are read, every offset
//! bounded by the slice (the symbol table and sections through the `object` crate's reader, the
//! fixups and opcodes by this module). Counts and lengths are capped so a hostile binary cannot
//! make the lists grow without bound.

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

const LC_DYLD_INFO: u32 = 0x22;
const LC_DYLD_INFO_ONLY: u32 = 0x8000_0022;
const LC_DYLD_CHAINED_FIXUPS: u32 = 0x8000_0034;
/// Load commands looked at per slice (real binaries have well under 100).
const MAX_LOAD_COMMANDS: usize = 4096;

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// `(cmd, whole command)` of each load command of a little-endian slice, bounded by
/// `sizeofcmds` and the slice.
fn load_commands(slice: &[u8]) -> Vec<(u32, &[u8])> {
    let mut out = Vec::new();
    let header: usize = match u32_at(slice, 0) {
        Some(0xfeed_facf) => 32,
        Some(0xfeed_face) => 28,
        _ => return out,
    };
    let (Some(ncmds), Some(sizeofcmds)) = (u32_at(slice, 16), u32_at(slice, 20)) else {
        return out;
    };
    let end = header.saturating_add(sizeofcmds as usize).min(slice.len());
    let mut at = header;
    for _ in 0..(ncmds as usize).min(MAX_LOAD_COMMANDS) {
        let (Some(cmd), Some(size)) = (u32_at(slice, at), u32_at(slice, at + 4)) else {
            break;
        };
        let size = size as usize;
        if size < 8 || at + size > end {
            break;
        }
        out.push((cmd, &slice[at..at + size]));
        at += size;
    }
    out
}

/// `[off, off + size)` of the slice, if inside it.
fn linkedit(slice: &[u8], off: u32, size: u32) -> Option<&[u8]> {
    let start = off as usize;
    slice.get(start..start.checked_add(size as usize)?)
}

/// A NUL-terminated name at `at` in `data` (cut at [`MAX_NAME_LEN`]; none without a terminator
/// inside `data`).
fn c_name(data: &[u8], at: usize) -> Option<&[u8]> {
    let rest = data.get(at..)?;
    let len = rest.iter().position(|b| *b == 0)?;
    Some(&rest[..len])
}

fn keep_import(name: &[u8], out: &mut Vec<String>, truncated: &mut bool) {
    let name = name.strip_prefix(b"_").unwrap_or(name);
    if !name.is_empty() {
        keep(name, out, truncated);
    }
}

/// The names of the import table of `LC_DYLD_CHAINED_FIXUPS` (`dyld_chained_fixups_header`,
/// imports formats 1 `DYLD_CHAINED_IMPORT`, 2 `…_ADDEND`, 3 `…_ADDEND64`; uncompressed names).
fn chained_imports(data: &[u8], out: &mut Vec<String>, truncated: &mut bool) {
    let (Some(imports_offset), Some(symbols_offset), Some(count), Some(format), Some(names_format)) = (
        u32_at(data, 8),
        u32_at(data, 12),
        u32_at(data, 16),
        u32_at(data, 20),
        u32_at(data, 24),
    ) else {
        return;
    };
    if names_format != 0 {
        return; // zlib-compressed names: not produced by Apple's linkers
    }
    let entry = match format {
        1 => 4,
        2 => 8,
        3 => 16,
        _ => return,
    };
    let Some(table) = data.get(imports_offset as usize..) else {
        return;
    };
    let Some(names) = data.get(symbols_offset as usize..) else {
        return;
    };
    // The count cannot claim more entries than the table holds.
    let count = (count as usize).min(table.len() / entry);
    for i in 0..count {
        let at = i * entry;
        let name_offset = if format == 3 {
            u32_at(table, at + 4).map(|v| v as usize)
        } else {
            u32_at(table, at).map(|v| (v >> 9) as usize)
        };
        if let Some(name) = name_offset.and_then(|o| c_name(names, o)) {
            keep_import(name, out, truncated);
        }
    }
}

/// ULEB128 at `*at`, advancing it; `None` past the end or beyond 64 bits.
fn uleb(data: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *data.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// The symbol names of a bind / weak-bind / lazy-bind opcode stream.
fn bind_imports(data: &[u8], out: &mut Vec<String>, truncated: &mut bool) {
    let mut at = 0;
    while let Some(&byte) = data.get(at) {
        at += 1;
        let (opcode, imm) = (byte & 0xF0, byte & 0x0F);
        let ok = match opcode {
            // DONE (lazy streams continue after it), SET_DYLIB_ORDINAL_IMM, SET_DYLIB_SPECIAL_IMM,
            // SET_TYPE_IMM, DO_BIND, DO_BIND_ADD_ADDR_IMM_SCALED: no operand.
            0x00 | 0x10 | 0x30 | 0x50 | 0x90 | 0xB0 => true,
            // SET_DYLIB_ORDINAL_ULEB, SET_ADDEND_SLEB, SET_SEGMENT_AND_OFFSET_ULEB, ADD_ADDR_ULEB,
            // DO_BIND_ADD_ADDR_ULEB: one LEB128.
            0x20 | 0x60 | 0x70 | 0x80 | 0xA0 => uleb(data, &mut at).is_some(),
            // DO_BIND_ULEB_TIMES_SKIPPING_ULEB: two.
            0xC0 => uleb(data, &mut at).is_some() && uleb(data, &mut at).is_some(),
            // SET_SYMBOL_TRAILING_FLAGS_IMM: the name.
            0x40 => match c_name(data, at) {
                Some(name) => {
                    at += name.len() + 1;
                    keep_import(name, out, truncated);
                    true
                }
                None => false,
            },
            // THREADED: SET_BIND_ORDINAL_TABLE_SIZE_ULEB takes one LEB128, APPLY none.
            0xD0 => imm != 0 || uleb(data, &mut at).is_some(),
            _ => false,
        };
        if !ok {
            return; // an unknown opcode or a cut operand ends the stream
        }
    }
}

/// Imports named by the dynamic loader's own tables (chained fixups, bind opcodes).
fn loader_imports(slice: &[u8], out: &mut Vec<String>, truncated: &mut bool) {
    for (cmd, body) in load_commands(slice) {
        match cmd {
            LC_DYLD_CHAINED_FIXUPS => {
                if let (Some(off), Some(size)) = (u32_at(body, 8), u32_at(body, 12))
                    && let Some(data) = linkedit(slice, off, size)
                {
                    chained_imports(data, out, truncated);
                }
            }
            LC_DYLD_INFO | LC_DYLD_INFO_ONLY => {
                // rebase_off/size, bind_off/size, weak_bind_off/size, lazy_bind_off/size, export…
                for field in [16, 24, 32] {
                    if let (Some(off), Some(size)) = (u32_at(body, field), u32_at(body, field + 4))
                        && let Some(data) = linkedit(slice, off, size)
                    {
                        bind_imports(data, out, truncated);
                    }
                }
            }
            _ => {}
        }
    }
}

fn collect<'data, Mach: MachHeader<Endian = Endianness>>(
    file: &MachOFile<'data, Mach, &'data [u8]>,
    slice: &[u8],
) -> SliceSymbols {
    let mut out = SliceSymbols::default();
    let mut truncated = false;
    loader_imports(slice, &mut out.imports, &mut truncated);
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
                .map(|f| collect(&f, slice))
                .map_err(|e| format!("cannot read the symbol table: {e}"))
        }
        0xfeed_face | 0xcefa_edfe => {
            object::read::macho::MachOFile32::<Endianness, _>::parse(slice)
                .map(|f| collect(&f, slice))
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

    /// A thin arm64 executable with no symbol table, only `commands` (cmd, body without the
    /// 8-byte header) followed by `linkedit` at the offset the caller computed (`base()`).
    fn bare(commands: &[(u32, Vec<u8>)], linkedit: &[u8]) -> Vec<u8> {
        let sizeofcmds: usize = commands.iter().map(|(_, b)| 8 + b.len()).sum();
        let mut out = Vec::new();
        for v in [
            0xfeed_facf_u32,
            0x0100_000c,
            0,
            2,
            commands.len() as u32,
            sizeofcmds as u32,
            0,
            0,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for (cmd, body) in commands {
            out.extend_from_slice(&cmd.to_le_bytes());
            out.extend_from_slice(&((8 + body.len()) as u32).to_le_bytes());
            out.extend_from_slice(body);
        }
        out.resize(BASE, 0);
        out.extend_from_slice(linkedit);
        out
    }

    const BASE: usize = 0x1000;

    fn words(values: &[u32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    /// `dyld_chained_fixups_header` + a starts area whose one chain points at itself + imports
    /// in `format` + names.
    fn chained(format: u32, names: &[&str], count: Option<u32>) -> Vec<u8> {
        let mut strings = vec![0u8];
        let mut offsets = Vec::new();
        for n in names {
            offsets.push(strings.len() as u32);
            strings.extend_from_slice(format!("_{n}").as_bytes());
            strings.push(0);
        }
        let entry = match format {
            1 => 4,
            2 => 8,
            _ => 16,
        };
        let starts = 28u32;
        let imports = starts + 8;
        let symbols = imports + (entry * names.len()) as u32;
        let mut data = words(&[
            0,
            starts,
            imports,
            symbols,
            count.unwrap_or(names.len() as u32),
            format,
            0,
        ]);
        // dyld_chained_starts_in_image: one segment whose chain start's `next` loops to itself.
        data.extend_from_slice(&words(&[1, 0]));
        for (i, off) in offsets.iter().enumerate() {
            match format {
                1 => data.extend_from_slice(&words(&[(off << 9) | 1])),
                2 => data.extend_from_slice(&words(&[(off << 9) | 1, i as u32])),
                _ => data.extend_from_slice(&words(&[1, *off, 0, 0])),
            }
        }
        data.extend_from_slice(&strings);
        data
    }

    fn with_chained(data: &[u8]) -> Vec<u8> {
        bare(
            &[(
                LC_DYLD_CHAINED_FIXUPS,
                words(&[BASE as u32, data.len() as u32]),
            )],
            data,
        )
    }

    #[test]
    fn chained_fixup_imports_are_read_in_every_format() {
        for format in [1, 2, 3] {
            let data = chained(
                format,
                &["stat", "OBJC_CLASS_$_NSUserDefaults", "fstat"],
                None,
            );
            let s = scan(&with_chained(&data)).unwrap();
            assert_eq!(
                s.imports,
                ["OBJC_CLASS_$_NSUserDefaults", "fstat", "stat"],
                "format {format}"
            );
            assert_eq!(s.classes().collect::<Vec<_>>(), ["NSUserDefaults"]);
        }
    }

    #[test]
    fn a_stripped_fixture_binary_names_its_imports_through_chained_fixups() {
        let spec = ipagate_fixtures::macho::MachOSpec::arm64("15.0")
            .importing(&["fstat"], &[])
            .importing_chained(&["stat", "mach_absolute_time"]);
        let s = scan(&ipagate_fixtures::macho::unsigned(&spec, 5)).unwrap();
        assert_eq!(s.imports, ["fstat", "mach_absolute_time", "stat"]);
    }

    #[test]
    fn bind_opcode_imports_are_read() {
        // SET_DYLIB_ORDINAL_IMM 1, SET_SYMBOL "_stat", SET_TYPE_IMM 1, SET_SEGMENT_AND_OFFSET_ULEB
        // 2 / 0x10, DO_BIND, SET_SYMBOL "_mach_absolute_time", SET_ADDEND_SLEB -8, DO_BIND_ULEB_TIMES
        // 3 skipping 8, THREADED SET_TABLE_SIZE 4, THREADED APPLY, DONE; then a lazy entry after DONE.
        let mut bind = vec![0x11, 0x40];
        bind.extend_from_slice(b"_stat\0");
        bind.extend_from_slice(&[0x51, 0x72, 0x10, 0x90, 0x40]);
        bind.extend_from_slice(b"_mach_absolute_time\0");
        bind.extend_from_slice(&[0x60, 0x78, 0xC0, 0x03, 0x08, 0xD0, 0x04, 0xD1, 0x00]);
        let mut lazy = vec![0x72, 0x00, 0x11, 0x40];
        lazy.extend_from_slice(b"_OBJC_CLASS_$_UIDevice\0");
        lazy.extend_from_slice(&[0x90, 0x00, 0x72, 0x08, 0x11, 0x40]);
        lazy.extend_from_slice(b"_sysctl\0");
        lazy.extend_from_slice(&[0x90, 0x00]);
        let mut linkedit = bind.clone();
        let lazy_at = (BASE + linkedit.len()) as u32;
        linkedit.extend_from_slice(&lazy);
        // dyld_info_command: rebase, bind, weak_bind, lazy_bind, export (off, size each).
        let info = words(&[
            0,
            0,
            BASE as u32,
            bind.len() as u32,
            0,
            0,
            lazy_at,
            lazy.len() as u32,
            0,
            0,
        ]);
        let s = scan(&bare(&[(LC_DYLD_INFO_ONLY, info)], &linkedit)).unwrap();
        assert_eq!(
            s.imports,
            [
                "OBJC_CLASS_$_UIDevice",
                "mach_absolute_time",
                "stat",
                "sysctl"
            ]
        );
    }

    #[test]
    fn hostile_loader_tables_are_bounded() {
        // A count far beyond the table, a name offset past the end, a name without terminator.
        let data = chained(1, &["stat"], Some(u32::MAX));
        assert_eq!(scan(&with_chained(&data)).unwrap().imports, ["stat"]);
        let mut unterminated = chained(1, &["stat"], None);
        unterminated.pop();
        assert!(
            scan(&with_chained(&unterminated))
                .unwrap()
                .imports
                .is_empty()
        );
        let mut far = chained(3, &["stat"], None);
        let at = 28 + 8 + 4;
        far[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(scan(&with_chained(&far)).unwrap().imports.is_empty());
        // A LEB128 that never ends, an unknown opcode, a name cut by the stream's end.
        for stream in [
            vec![0x20, 0xFF, 0xFF, 0xFF],
            vec![0xE0, 0x40, b'_', b'x', 0],
            vec![0x40, b'_', b'x'],
        ] {
            let info = words(&[0, 0, BASE as u32, stream.len() as u32, 0, 0, 0, 0, 0, 0]);
            let s = scan(&bare(&[(LC_DYLD_INFO, info)], &stream)).unwrap();
            assert!(s.imports.is_empty(), "{stream:?}");
        }
        // Tables pointing outside the slice, and every truncation and byte flip of a good one.
        let outside = bare(&[(LC_DYLD_CHAINED_FIXUPS, words(&[u32::MAX - 4, 64]))], &[]);
        assert!(scan(&outside).unwrap().imports.is_empty());
        let good = with_chained(&chained(2, &["stat", "fstat"], None));
        for cut in 0..good.len() {
            let _ = scan(&good[..cut]);
        }
        for at in BASE..good.len() {
            let mut bad = good.clone();
            bad[at] ^= 0xFF;
            let _ = scan(&bad);
        }
    }
}
