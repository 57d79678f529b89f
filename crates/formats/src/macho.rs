//! Mach-O facts: the slices of a thin or universal ("fat") binary and, per slice, the header and
//! the load commands the gate judges.
//!
//! Spec: Apple's `<mach-o/loader.h>` and `<mach-o/fat.h>`; `formats.md` §5.
//!
//! ```text
//! fat (big-endian)   CAFEBABE nfat_arch { cputype cpusubtype offset size align }*      (32-bit)
//!                    CAFEBABF nfat_arch { cputype cpusubtype offset:u64 size:u64 align reserved }*
//! thin               FEEDFACF cputype cpusubtype filetype ncmds sizeofcmds flags reserved (64-bit)
//!                    FEEDFACE ... (32-bit, no reserved) then `ncmds` load commands:
//!                    { cmd:u32 cmdsize:u32 payload }*  within `sizeofcmds`
//! ```
//!
//! Load commands are walked with the `object` crate (gimli-rs), not by hand. `object` was chosen
//! over `goblin` because it is zero-copy over `&[u8]` (no allocation per command, nothing to bound),
//! returns `Err` rather than panicking on every out-of-range read (each field read is a checked
//! `read_at` over the input slice), keeps the raw `cmd` value for commands it does not know, and is
//! the smaller dependency with `default-features = false`. The fat header is read by hand only to
//! bound `nfat_arch` before `object` would build the arch slice, and to see overlapping slices.
//!
//! Facts only: which slices exist, their platforms and versions. Whether a simulator slice or an
//! encrypted binary is wrong is decided by `ipagate-rules`.

use std::fmt;

use object::Endianness;
use object::macho;
use object::macho::{MachHeader32, MachHeader64};
use object::read::macho::{FatArch, LoadCommandVariant, MachHeader};

// On-disk values (`<mach-o/loader.h>`, `<mach-o/machine.h>`) as plain integers, for matching.
const CPU_TYPE_ARM: u32 = 12;
const CPU_TYPE_ARM64: u32 = 0x0100_000c;
const CPU_TYPE_ARM64_32: u32 = 0x0200_000c;
const CPU_TYPE_X86: u32 = 7;
const CPU_TYPE_X86_64: u32 = 0x0100_0007;
const CPU_SUBTYPE_MASK: u32 = 0xff00_0000;
const CPU_SUBTYPE_ARM64E: u32 = 2;
const CPU_SUBTYPE_ARM_V7: u32 = 9;
const CPU_SUBTYPE_ARM_V7S: u32 = 11;
const CPU_SUBTYPE_ARM_V7K: u32 = 12;
const CPU_SUBTYPE_X86_64_H: u32 = 8;
const MH_OBJECT: u32 = 0x1;
const MH_EXECUTE: u32 = 0x2;
const MH_DYLIB: u32 = 0x6;
const MH_BUNDLE: u32 = 0x8;
const MH_DSYM: u32 = 0xa;
const LC_CODE_SIGNATURE: u32 = 0x1d;
const LC_VERSION_MIN_MACOSX: u32 = 0x24;
const LC_VERSION_MIN_IPHONEOS: u32 = 0x25;
const LC_VERSION_MIN_TVOS: u32 = 0x2f;
const LC_VERSION_MIN_WATCHOS: u32 = 0x30;

/// Most slices a universal binary may declare (real ones have 1 to 4).
pub const MAX_SLICES: u32 = 64;
/// Most load commands read per slice (real binaries have under 200).
pub const MAX_LOAD_COMMANDS: u32 = 4096;
/// Most segments kept per slice.
const MAX_SEGMENTS: usize = 256;

/// Whether `prefix` (the first bytes of a file) starts like a Mach-O file, thin or fat.
///
/// `CAFEBABE` is also the magic of a Java class file, told apart the way `file(1)` does: a class
/// file's version sits where a fat header keeps its (small) slice count.
pub fn sniff(prefix: &[u8]) -> bool {
    let Some(magic) = prefix.get(..4) else {
        return false;
    };
    let be = u32::from_be_bytes([magic[0], magic[1], magic[2], magic[3]]);
    match be {
        macho::FAT_MAGIC | macho::FAT_MAGIC_64 => prefix
            .get(4..8)
            .map(|n| u32::from_be_bytes([n[0], n[1], n[2], n[3]]))
            .is_some_and(|n| (1..=MAX_SLICES).contains(&n)),
        macho::MH_MAGIC | macho::MH_CIGAM | macho::MH_MAGIC_64 | macho::MH_CIGAM_64 => true,
        _ => false,
    }
}

/// How the slices are packaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Container {
    /// One architecture, no fat header.
    Thin,
    /// Universal binary with 32-bit fat arch entries (`CAFEBABE`).
    Fat32,
    /// Universal binary with 64-bit fat arch entries (`CAFEBABF`).
    Fat64,
}

/// `cputype` of a slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CpuType {
    /// `CPU_TYPE_ARM` (armv7, armv7s, armv7k).
    Arm,
    /// `CPU_TYPE_ARM64`.
    Arm64,
    /// `CPU_TYPE_ARM64_32` (watchOS).
    Arm64_32,
    /// `CPU_TYPE_X86` (i386).
    X86,
    /// `CPU_TYPE_X86_64`.
    X86_64,
    /// Anything else, kept as read.
    Unknown(u32),
}

impl From<u32> for CpuType {
    fn from(v: u32) -> CpuType {
        match v {
            CPU_TYPE_ARM => CpuType::Arm,
            CPU_TYPE_ARM64 => CpuType::Arm64,
            CPU_TYPE_ARM64_32 => CpuType::Arm64_32,
            CPU_TYPE_X86 => CpuType::X86,
            CPU_TYPE_X86_64 => CpuType::X86_64,
            other => CpuType::Unknown(other),
        }
    }
}

/// The architecture name Apple's tools print (`lipo -info`), from cputype and cpusubtype.
pub fn arch_name(cpu: CpuType, subtype: u32) -> String {
    // The high byte of the subtype carries capability bits (arm64e pointer authentication ABI).
    let sub = subtype & !CPU_SUBTYPE_MASK;
    match (cpu, sub) {
        (CpuType::Arm64, CPU_SUBTYPE_ARM64E) => "arm64e".into(),
        (CpuType::Arm64, _) => "arm64".into(),
        (CpuType::Arm64_32, _) => "arm64_32".into(),
        (CpuType::Arm, CPU_SUBTYPE_ARM_V7) => "armv7".into(),
        (CpuType::Arm, CPU_SUBTYPE_ARM_V7S) => "armv7s".into(),
        (CpuType::Arm, CPU_SUBTYPE_ARM_V7K) => "armv7k".into(),
        (CpuType::Arm, s) => format!("arm(subtype {s})"),
        (CpuType::X86, _) => "i386".into(),
        (CpuType::X86_64, CPU_SUBTYPE_X86_64_H) => "x86_64h".into(),
        (CpuType::X86_64, _) => "x86_64".into(),
        (CpuType::Unknown(t), s) => format!("cpu {t:#x} subtype {s}"),
    }
}

/// `filetype` of a slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    /// `MH_OBJECT` (a `.o`).
    Object,
    /// `MH_EXECUTE`.
    Execute,
    /// `MH_DYLIB`.
    Dylib,
    /// `MH_BUNDLE` (a loadable plug-in).
    Bundle,
    /// `MH_DSYM` (debug symbols companion).
    Dsym,
    /// Anything else, kept as read.
    Unknown(u32),
}

impl From<u32> for FileType {
    fn from(v: u32) -> FileType {
        match v {
            MH_OBJECT => FileType::Object,
            MH_EXECUTE => FileType::Execute,
            MH_DYLIB => FileType::Dylib,
            MH_BUNDLE => FileType::Bundle,
            MH_DSYM => FileType::Dsym,
            other => FileType::Unknown(other),
        }
    }
}

impl fmt::Display for FileType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileType::Object => f.write_str("object"),
            FileType::Execute => f.write_str("execute"),
            FileType::Dylib => f.write_str("dylib"),
            FileType::Bundle => f.write_str("bundle"),
            FileType::Dsym => f.write_str("dsym"),
            FileType::Unknown(v) => write!(f, "unknown({v})"),
        }
    }
}

/// Platform of `LC_BUILD_VERSION` (or implied by an `LC_VERSION_MIN_*` command).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Platform {
    /// 1.
    MacOs,
    /// 2.
    Ios,
    /// 3.
    TvOs,
    /// 4.
    WatchOs,
    /// 5.
    BridgeOs,
    /// 6.
    MacCatalyst,
    /// 7.
    IosSimulator,
    /// 8.
    TvOsSimulator,
    /// 9.
    WatchOsSimulator,
    /// 10.
    DriverKit,
    /// 11.
    VisionOs,
    /// 12.
    VisionOsSimulator,
    /// Anything else, kept as read.
    Unknown(u32),
}

impl From<u32> for Platform {
    fn from(v: u32) -> Platform {
        match v {
            1 => Platform::MacOs,
            2 => Platform::Ios,
            3 => Platform::TvOs,
            4 => Platform::WatchOs,
            5 => Platform::BridgeOs,
            6 => Platform::MacCatalyst,
            7 => Platform::IosSimulator,
            8 => Platform::TvOsSimulator,
            9 => Platform::WatchOsSimulator,
            10 => Platform::DriverKit,
            11 => Platform::VisionOs,
            12 => Platform::VisionOsSimulator,
            other => Platform::Unknown(other),
        }
    }
}

impl Platform {
    /// A simulator platform.
    pub fn is_simulator(self) -> bool {
        matches!(
            self,
            Platform::IosSimulator
                | Platform::TvOsSimulator
                | Platform::WatchOsSimulator
                | Platform::VisionOsSimulator
        )
    }

    /// Lowercase name as `vtool` prints it.
    pub fn as_str(self) -> String {
        match self {
            Platform::MacOs => "macos".into(),
            Platform::Ios => "ios".into(),
            Platform::TvOs => "tvos".into(),
            Platform::WatchOs => "watchos".into(),
            Platform::BridgeOs => "bridgeos".into(),
            Platform::MacCatalyst => "maccatalyst".into(),
            Platform::IosSimulator => "iossim".into(),
            Platform::TvOsSimulator => "tvossim".into(),
            Platform::WatchOsSimulator => "watchossim".into(),
            Platform::DriverKit => "driverkit".into(),
            Platform::VisionOs => "visionos".into(),
            Platform::VisionOsSimulator => "visionossim".into(),
            Platform::Unknown(v) => format!("platform {v}"),
        }
    }
}

/// A Mach-O `xxxx.yy.zz` version (nibble-packed `u32`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OsVersion(pub u32);

impl OsVersion {
    /// `[major, minor, patch]`.
    pub fn parts(self) -> [u64; 3] {
        [
            u64::from(self.0 >> 16),
            u64::from((self.0 >> 8) & 0xff),
            u64::from(self.0 & 0xff),
        ]
    }
}

impl fmt::Display for OsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c] = self.parts();
        if c == 0 {
            write!(f, "{a}.{b}")
        } else {
            write!(f, "{a}.{b}.{c}")
        }
    }
}

/// Which load command gave the platform and versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VersionSource {
    /// `LC_BUILD_VERSION`.
    BuildVersion,
    /// `LC_VERSION_MIN_IPHONEOS`, `_MACOSX`, `_TVOS` or `_WATCHOS`.
    VersionMin,
}

/// Platform, deployment target and SDK of a slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildVersion {
    /// Where it came from.
    pub source: VersionSource,
    /// Target platform.
    pub platform: Platform,
    /// Deployment target.
    pub minos: OsVersion,
    /// SDK it was built with.
    pub sdk: OsVersion,
}

/// `LC_ENCRYPTION_INFO(_64)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Encryption {
    /// File offset of the encrypted range.
    pub cryptoff: u32,
    /// Its size.
    pub cryptsize: u32,
    /// 0 = not encrypted (what an upload carries), else the FairPlay key id.
    pub cryptid: u32,
}

/// A segment (`LC_SEGMENT` / `LC_SEGMENT_64`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Segment {
    /// `__TEXT`, `__LINKEDIT`, `__LLVM`, ...
    pub name: String,
    /// VM address.
    pub vmaddr: u64,
    /// VM size.
    pub vmsize: u64,
    /// File offset within the slice.
    pub fileoff: u64,
    /// Size in the file.
    pub filesize: u64,
}

/// `LC_CODE_SIGNATURE`: where the signature sits inside the slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct CodeSignatureRange {
    /// Offset from the start of the slice.
    pub dataoff: u32,
    /// Size in bytes.
    pub datasize: u32,
}

/// One architecture of a binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slice {
    /// Offset of the slice in the file (0 for a thin file).
    pub offset: u64,
    /// Size of the slice in bytes.
    pub size: u64,
    /// The fat header's `align` (log2) for this slice; `None` for a thin file.
    pub fat_align: Option<u32>,
    /// `cputype`.
    pub cpu_type: CpuType,
    /// `cpusubtype` as stored (capability bits included).
    pub cpu_subtype: u32,
    /// Name as `lipo` prints it (`arm64`, `arm64e`, `armv7`, `x86_64`, ...).
    pub arch: String,
    /// 64-bit header.
    pub is_64: bool,
    /// `filetype`.
    pub filetype: FileType,
    /// `flags` (e.g. `MH_PIE` 0x200000).
    pub flags: u32,
    /// `LC_BUILD_VERSION`, else `LC_VERSION_MIN_*`.
    pub build_version: Option<BuildVersion>,
    /// `LC_ENCRYPTION_INFO(_64)`.
    pub encryption: Option<Encryption>,
    /// Segments in load-command order (at most 256).
    pub segments: Vec<Segment>,
    /// `LC_UUID`, as `XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX`.
    pub uuid: Option<String>,
    /// `LC_CODE_SIGNATURE`.
    pub code_signature: Option<CodeSignatureRange>,
    /// What could not be read in this slice (header or load commands), if anything.
    pub problem: Option<String>,
}

impl Slice {
    /// The `__LLVM` (bitcode) segment is present.
    pub fn has_llvm_segment(&self) -> bool {
        self.segments.iter().any(|s| s.name == "__LLVM")
    }

    /// This slice's bytes within the file's bytes (`None` if the slice lies outside `file`).
    pub fn bytes<'a>(&self, file: &'a [u8]) -> Option<&'a [u8]> {
        let start = usize::try_from(self.offset).ok()?;
        let end = start.checked_add(usize::try_from(self.size).ok()?)?;
        file.get(start..end)
    }
}

/// A parsed binary: its container and slices. Slice-level problems are kept in the slices;
/// file-level ones (overlapping slices) in `problems`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachOFile {
    /// Thin or fat.
    pub container: Container,
    /// The slices, in file order.
    pub slices: Vec<Slice>,
    /// Problems with the container (not with one slice).
    pub problems: Vec<String>,
}

/// Why a file could not be read as Mach-O at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MachOError {
    /// Neither a thin nor a fat magic.
    #[error("not a Mach-O file (magic {0:#010x})")]
    NotMachO(u32),
    /// Shorter than a header.
    #[error("truncated: {0} bytes, shorter than a Mach-O header")]
    Truncated(usize),
    /// A fat header declaring no slices or more than [`MAX_SLICES`].
    #[error("fat header declares {0} slices (expected 1 to {MAX_SLICES})")]
    SliceCount(u32),
    /// The fat arch table runs past the end of the file.
    #[error("fat header declares {count} slices but the file ends inside the slice table")]
    SliceTable {
        /// Declared slices.
        count: u32,
    },
}

/// Parses a thin or fat Mach-O file held in memory.
pub fn parse(data: &[u8]) -> Result<MachOFile, MachOError> {
    let magic = data
        .get(..4)
        .map(|m| u32::from_be_bytes([m[0], m[1], m[2], m[3]]))
        .ok_or(MachOError::Truncated(data.len()))?;
    match magic {
        macho::FAT_MAGIC => parse_fat::<macho::FatArch32>(data, Container::Fat32),
        macho::FAT_MAGIC_64 => parse_fat::<macho::FatArch64>(data, Container::Fat64),
        macho::MH_MAGIC | macho::MH_CIGAM | macho::MH_MAGIC_64 | macho::MH_CIGAM_64 => {
            if data.len() < 28 {
                return Err(MachOError::Truncated(data.len()));
            }
            let slice = parse_slice(data, 0, data.len() as u64, None);
            Ok(MachOFile {
                container: Container::Thin,
                slices: vec![slice],
                problems: Vec::new(),
            })
        }
        other => Err(MachOError::NotMachO(other)),
    }
}

fn parse_fat<F: FatArch>(data: &[u8], container: Container) -> Result<MachOFile, MachOError> {
    let count = data
        .get(4..8)
        .map(|n| u32::from_be_bytes([n[0], n[1], n[2], n[3]]))
        .ok_or(MachOError::Truncated(data.len()))?;
    if count == 0 || count > MAX_SLICES {
        return Err(MachOError::SliceCount(count));
    }
    let fat = object::read::macho::MachOFatFile::<F>::parse(data)
        .map_err(|_| MachOError::SliceTable { count })?;
    let mut slices = Vec::with_capacity(fat.arches().len());
    let mut problems = Vec::new();
    for arch in fat.arches() {
        let (offset, size) = arch.file_range();
        let slice = match arch.data(data) {
            Ok(bytes) => parse_slice(bytes, offset, size, Some(arch.align())),
            Err(_) => {
                let cpu = CpuType::from(arch.cputype().0);
                let sub = arch.cpusubtype().0;
                Slice {
                    offset,
                    size,
                    fat_align: Some(arch.align()),
                    cpu_type: cpu,
                    cpu_subtype: sub,
                    arch: arch_name(cpu, sub),
                    is_64: false,
                    filetype: FileType::Unknown(0),
                    flags: 0,
                    build_version: None,
                    encryption: None,
                    segments: Vec::new(),
                    uuid: None,
                    code_signature: None,
                    problem: Some(format!(
                        "slice at offset {offset} of {size} bytes lies outside the {}-byte file",
                        data.len()
                    )),
                }
            }
        };
        slices.push(slice);
    }
    let mut ranges: Vec<(u64, u64, &str)> = slices
        .iter()
        .map(|s| (s.offset, s.offset.saturating_add(s.size), s.arch.as_str()))
        .collect();
    ranges.sort();
    for w in ranges.windows(2) {
        if w[1].0 < w[0].1 {
            problems.push(format!("slices {} and {} overlap", w[0].2, w[1].2));
        }
    }
    Ok(MachOFile {
        container,
        slices,
        problems,
    })
}

/// Reads one slice's header and load commands; never fails, a problem is kept in the slice.
fn parse_slice(bytes: &[u8], offset: u64, size: u64, fat_align: Option<u32>) -> Slice {
    let mut slice = Slice {
        offset,
        size,
        fat_align,
        cpu_type: CpuType::Unknown(0),
        cpu_subtype: 0,
        arch: String::new(),
        is_64: false,
        filetype: FileType::Unknown(0),
        flags: 0,
        build_version: None,
        encryption: None,
        segments: Vec::new(),
        uuid: None,
        code_signature: None,
        problem: None,
    };
    let magic = bytes
        .get(..4)
        .map(|m| u32::from_be_bytes([m[0], m[1], m[2], m[3]]))
        .unwrap_or(0);
    let result = match magic {
        macho::MH_MAGIC_64 | macho::MH_CIGAM_64 => {
            slice.is_64 = true;
            read_header::<MachHeader64<Endianness>>(bytes, &mut slice)
        }
        macho::MH_MAGIC | macho::MH_CIGAM => {
            read_header::<MachHeader32<Endianness>>(bytes, &mut slice)
        }
        other => Err(format!(
            "slice does not start with a Mach-O magic ({other:#010x})"
        )),
    };
    if slice.arch.is_empty() {
        slice.arch = arch_name(slice.cpu_type, slice.cpu_subtype);
    }
    if let Err(problem) = result {
        slice.problem = Some(problem);
    }
    slice
}

fn read_header<M: MachHeader<Endian = Endianness>>(
    bytes: &[u8],
    slice: &mut Slice,
) -> Result<(), String> {
    let header = M::parse(bytes, 0).map_err(|e| format!("unreadable Mach-O header: {e}"))?;
    let endian = header
        .endian()
        .map_err(|e| format!("unreadable Mach-O header: {e}"))?;
    slice.cpu_type = CpuType::from(header.cputype(endian).0);
    slice.cpu_subtype = header.cpusubtype(endian).0;
    slice.arch = arch_name(slice.cpu_type, slice.cpu_subtype);
    slice.filetype = FileType::from(header.filetype(endian).0);
    slice.flags = header.flags(endian).0;
    let ncmds = header.ncmds(endian);
    if ncmds > MAX_LOAD_COMMANDS {
        return Err(format!(
            "header declares {ncmds} load commands (at most {MAX_LOAD_COMMANDS} are read)"
        ));
    }
    let mut commands = header
        .load_commands(endian, bytes, 0)
        .map_err(|e| format!("load commands: {e}"))?;
    loop {
        let command = match commands.next() {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => return Err(format!("load commands: {e}")),
        };
        let variant = command
            .variant()
            .map_err(|e| format!("load command {:#x}: {e}", command.cmd().0))?;
        record(slice, command.cmd().0, variant, endian);
    }
    Ok(())
}

fn record(slice: &mut Slice, cmd: u32, variant: LoadCommandVariant<'_, Endianness>, e: Endianness) {
    match variant {
        LoadCommandVariant::Segment64(seg, _) => push_segment(
            slice,
            &seg.segname,
            seg.vmaddr.get(e),
            seg.vmsize.get(e),
            seg.fileoff.get(e),
            seg.filesize.get(e),
        ),
        LoadCommandVariant::Segment32(seg, _) => push_segment(
            slice,
            &seg.segname,
            seg.vmaddr.get(e).into(),
            seg.vmsize.get(e).into(),
            seg.fileoff.get(e).into(),
            seg.filesize.get(e).into(),
        ),
        LoadCommandVariant::BuildVersion(bv, _) => {
            // LC_BUILD_VERSION wins over LC_VERSION_MIN_* when a binary carries both.
            slice.build_version = Some(BuildVersion {
                source: VersionSource::BuildVersion,
                platform: Platform::from(bv.platform.get(e).0),
                minos: OsVersion(bv.minos.get(e).0),
                sdk: OsVersion(bv.sdk.get(e).0),
            });
        }
        LoadCommandVariant::VersionMin(vm) => {
            let platform = match cmd {
                LC_VERSION_MIN_MACOSX => Platform::MacOs,
                LC_VERSION_MIN_IPHONEOS => Platform::Ios,
                LC_VERSION_MIN_TVOS => Platform::TvOs,
                LC_VERSION_MIN_WATCHOS => Platform::WatchOs,
                other => Platform::Unknown(other),
            };
            if slice.build_version.is_none() {
                slice.build_version = Some(BuildVersion {
                    source: VersionSource::VersionMin,
                    platform,
                    minos: OsVersion(vm.version.get(e).0),
                    sdk: OsVersion(vm.sdk.get(e).0),
                });
            }
        }
        LoadCommandVariant::EncryptionInfo64(ei) => {
            slice.encryption = Some(Encryption {
                cryptoff: ei.cryptoff.get(e),
                cryptsize: ei.cryptsize.get(e),
                cryptid: ei.cryptid.get(e),
            });
        }
        LoadCommandVariant::EncryptionInfo32(ei) => {
            slice.encryption = Some(Encryption {
                cryptoff: ei.cryptoff.get(e),
                cryptsize: ei.cryptsize.get(e),
                cryptid: ei.cryptid.get(e),
            });
        }
        LoadCommandVariant::Uuid(u) => slice.uuid = Some(format_uuid(&u.uuid)),
        LoadCommandVariant::LinkeditData(ld) if cmd == LC_CODE_SIGNATURE => {
            slice.code_signature = Some(CodeSignatureRange {
                dataoff: ld.dataoff.get(e),
                datasize: ld.datasize.get(e),
            });
        }
        _ => {}
    }
}

fn push_segment(slice: &mut Slice, name: &[u8; 16], vmaddr: u64, vmsize: u64, off: u64, sz: u64) {
    if slice.segments.len() >= MAX_SEGMENTS {
        return;
    }
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    slice.segments.push(Segment {
        name: String::from_utf8_lossy(&name[..end]).into_owned(),
        vmaddr,
        vmsize,
        fileoff: off,
        filesize: sz,
    });
}

fn format_uuid(u: &[u8; 16]) -> String {
    let hex: String = u.iter().map(|b| format!("{b:02X}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
