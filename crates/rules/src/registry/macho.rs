//! Mach-O binaries: architectures, platforms and versions, encryption, bitcode, segment
//! alignment, executable types (itms-rules.md §2.3, §2.6; formats.md §5).

use ipagate_formats::binaries::{Binary, BinaryRole, SliceFacts};
use ipagate_formats::macho::{CpuType, FileType, Platform};
use ipagate_formats::{BundleKind, Facts};

use super::helpers::{is_app_like, os_version, text_value, version_lt};
use super::{Rule, Scope, Sink};
use crate::context::Context;
use crate::diagnostic::{Location, Severity};

/// Highest SDK major version App Store Connect knows (data: iOS 26 shipped in 2025; one ahead
/// for betas). Apple's message quotes its own maximum.
const MAX_SDK_MAJOR: u64 = 27;

/// Where a finding about one slice of a binary is.
pub(super) fn slice_location(b: &Binary, s: &SliceFacts) -> Location {
    Location {
        arch: Some(s.macho.arch.clone()),
        ..Location::entry(b.path.clone())
    }
}

/// The main executable of `bundle` (index), if it was read as Mach-O.
pub(super) fn main_binary(facts: &Facts, bundle: usize) -> Option<&Binary> {
    facts
        .binaries
        .iter()
        .find(|b| b.bundle == Some(bundle) && b.role == BinaryRole::MainExecutable)
}

fn is_unsupported(s: &SliceFacts) -> bool {
    matches!(s.macho.cpu_type, CpuType::X86 | CpuType::X86_64)
        || s.macho
            .build_version
            .is_some_and(|v| v.platform.is_simulator())
}

fn check_unsupported_archs(facts: &Facts, _: &Context, sink: &mut Sink) {
    for b in &facts.binaries {
        let bad: Vec<String> = b
            .slices
            .iter()
            .filter(|s| is_unsupported(s))
            .map(|s| match s.macho.build_version {
                Some(v) if v.platform.is_simulator() => {
                    format!("{} ({})", s.macho.arch, v.platform.as_str())
                }
                _ => s.macho.arch.clone(),
            })
            .collect();
        if bad.is_empty() {
            continue;
        }
        sink.emit(
            Location::entry(b.path.clone()),
            format!("the executable {} contains unsupported architectures '[{}]'", b.path, bad.join(", ")),
            "ship device slices only: use the XCFramework's ios-arm64 variant, or strip simulator slices with `lipo -remove x86_64` before signing",
        );
    }
}

fn check_minos_above_plist(facts: &Facts, _: &Context, sink: &mut Sink) {
    for (i, bundle) in facts.bundles.iter().enumerate() {
        let Some(info) = bundle.info() else { continue };
        let Some(plist_min) = text_value(&info.minimum_os).and_then(os_version) else {
            continue;
        };
        let Some(bin) = main_binary(facts, i) else {
            continue;
        };
        for s in &bin.slices {
            let Some(v) = s.macho.build_version else {
                continue;
            };
            if v.platform == Platform::MacOs || v.platform.is_simulator() {
                continue;
            }
            if version_lt(&plist_min, &v.minos.parts()) {
                sink.emit(
                    slice_location(bin, s),
                    format!(
                        "the {} slice of {} requires {} {} but the Info.plist's MinimumOSVersion is {}",
                        s.macho.arch,
                        bin.path,
                        v.platform.as_str(),
                        v.minos,
                        text_value(&info.minimum_os).unwrap_or_default()
                    ),
                    "build the binary with a deployment target no higher than MinimumOSVersion, or raise MinimumOSVersion (for a vendor framework, use a build whose deployment target matches)",
                );
            }
        }
    }
}

fn check_encryption(facts: &Facts, _: &Context, sink: &mut Sink) {
    for b in &facts.binaries {
        let app_like = b.bundle.is_some_and(|i| is_app_like(facts.bundles[i].kind));
        if b.role != BinaryRole::MainExecutable || !app_like {
            continue;
        }
        for s in &b.slices {
            if s.macho.filetype != FileType::Execute || is_unsupported(s) {
                continue;
            }
            match s.macho.encryption {
                Some(e) if e.cryptid != 0 => sink.emit(
                    slice_location(b, s),
                    format!("the {} slice of {} is already encrypted (cryptid {})", s.macho.arch, b.path, e.cryptid),
                    "upload the binary Xcode built, not one decrypted or taken from a device; App Store Connect encrypts it itself",
                ),
                Some(_) => {}
                None => sink.emit(
                    slice_location(b, s),
                    format!("the {} slice of {} has no LC_ENCRYPTION_INFO load command", s.macho.arch, b.path),
                    "build with Xcode's linker for a device target; it writes the encryption info App Store Connect needs",
                ),
            }
        }
    }
}

fn check_executable_type(facts: &Facts, _: &Context, sink: &mut Sink) {
    for b in &facts.binaries {
        let Some(kind) = b.bundle.map(|i| facts.bundles[i].kind) else {
            continue;
        };
        if b.role != BinaryRole::MainExecutable || !is_app_like(kind) {
            continue;
        }
        for s in &b.slices {
            if s.macho.problem.is_none() && s.macho.filetype != FileType::Execute {
                sink.emit(
                    slice_location(b, s),
                    format!(
                        "the executable type of {} ({}) is \"{}\"; only \"execute\" is permitted",
                        b.path, s.macho.arch, s.macho.filetype
                    ),
                    "link the target as an application (MACH_O_TYPE = mh_execute), not as an object file or library",
                );
            }
        }
    }
}

fn check_pie(facts: &Facts, _: &Context, sink: &mut Sink) {
    const MH_PIE: u32 = 0x20_0000;
    for b in &facts.binaries {
        for s in &b.slices {
            if s.macho.filetype == FileType::Execute && s.macho.flags & MH_PIE == 0 {
                sink.emit(
                    slice_location(b, s),
                    format!("the {} slice of {} is not a position-independent executable (MH_PIE unset)", s.macho.arch, b.path),
                    "link with -pie (the default of every current Xcode); remove -no_pie from OTHER_LDFLAGS",
                );
            }
        }
    }
}

fn check_bitcode(facts: &Facts, _: &Context, sink: &mut Sink) {
    for b in &facts.binaries {
        for s in &b.slices {
            if s.macho.has_llvm_segment() {
                sink.emit(
                    slice_location(b, s),
                    format!("the executable {} contains bitcode (an __LLVM segment in its {} slice)", b.path, s.macho.arch),
                    "set ENABLE_BITCODE = NO and rebuild; for a vendor framework strip it with `xcrun bitcode_strip -r`",
                );
            }
        }
    }
}

fn check_alignment(facts: &Facts, _: &Context, sink: &mut Sink) {
    const ALIGN: u64 = 0x4000;
    for b in &facts.binaries {
        for s in &b.slices {
            let m = &s.macho;
            if m.filetype == FileType::Dsym
                || !matches!(m.cpu_type, CpuType::Arm64 | CpuType::Arm64_32)
            {
                continue;
            }
            let mut problems = Vec::new();
            if let Some(align) = m.fat_align {
                if align < 14 {
                    problems.push(format!("fat align 2^{align} is below 2^14"));
                } else if align < 64 && m.offset % (1u64 << align) != 0 {
                    problems.push(format!(
                        "slice offset {:#x} is not aligned to 2^{align}",
                        m.offset
                    ));
                }
            }
            for seg in &m.segments {
                if seg.filesize > 0 && (seg.fileoff % ALIGN != 0 || seg.vmaddr % ALIGN != 0) {
                    problems.push(format!(
                        "segment {} at file offset {:#x}, address {:#x} is not 16 KiB aligned",
                        seg.name, seg.fileoff, seg.vmaddr
                    ));
                }
            }
            if let Some(e) = m.encryption
                && (u64::from(e.cryptoff) % ALIGN != 0 || u64::from(e.cryptsize) % ALIGN != 0)
            {
                problems.push(format!(
                    "encrypted range {:#x}+{:#x} is not 16 KiB aligned",
                    e.cryptoff, e.cryptsize
                ));
            }
            if let Some(first) = problems.first() {
                sink.emit(
                    slice_location(b, s),
                    format!("the binary {} does not have proper segment alignment: {first}", b.path),
                    "rebuild with a current Xcode (its linker aligns arm64 segments to 16 KiB); re-packaging tools must keep slices aligned",
                );
            }
        }
    }
}

fn check_sdk_value(facts: &Facts, _: &Context, sink: &mut Sink) {
    for b in &facts.binaries {
        for s in &b.slices {
            let Some(v) = s.macho.build_version else {
                continue;
            };
            let [major, ..] = v.sdk.parts();
            if major > MAX_SDK_MAJOR {
                sink.emit(
                    slice_location(b, s),
                    format!(
                        "the sdk value of the {} slice of {} is {}, greater than the highest SDK App Store Connect knows ({MAX_SDK_MAJOR}.x)",
                        s.macho.arch, b.path, v.sdk
                    ),
                    "build with a released Xcode; a tool that rewrote the load command wrote a bad SDK version",
                );
            }
        }
    }
}

fn is_64_bit_only(b: &Binary) -> bool {
    !b.slices.is_empty()
        && b.slices
            .iter()
            .all(|s| matches!(s.macho.cpu_type, CpuType::Arm64 | CpuType::Arm64_32))
}

fn check_arm64_but_32_bit(facts: &Facts, _: &Context, sink: &mut Sink) {
    let app = facts.app();
    let Some(caps) = app.info().and_then(|i| i.required_capabilities.as_ref()) else {
        return;
    };
    if !caps.required.iter().any(|c| c == "arm64") {
        return;
    }
    let Some(bin) = main_binary(facts, 0) else {
        return;
    };
    if bin.slices.is_empty() || is_64_bit_only(bin) {
        return;
    }
    let others: Vec<&str> = bin
        .slices
        .iter()
        .filter(|s| !matches!(s.macho.cpu_type, CpuType::Arm64 | CpuType::Arm64_32))
        .map(|s| s.macho.arch.as_str())
        .collect();
    sink.emit(
        Location::entry(bin.path.clone()),
        format!(
            "UIRequiredDeviceCapabilities lists 'arm64' but the binary {} also contains {}",
            bin.path,
            others.join(", ")
        ),
        "build for arm64 only (ARCHS = arm64), or drop 'arm64' from UIRequiredDeviceCapabilities",
    );
}

/// Whether the app's main executable was read and holds only 64-bit ARM slices.
pub(super) fn app_is_arm64_only(facts: &Facts) -> Option<bool> {
    main_binary(facts, 0).map(is_64_bit_only)
}

/// Whether `path` is a loose dylib directly in `<bundle>/Frameworks/` of an app-like bundle
/// (Swift runtime copies for older OS versions): allowed.
fn is_allowed_loose_dylib(facts: &Facts, b: &Binary) -> bool {
    let Some(bundle) = b.bundle.map(|i| &facts.bundles[i]) else {
        return false;
    };
    let Some(rest) = b.path.strip_prefix(&format!("{}/Frameworks/", bundle.path)) else {
        return false;
    };
    (is_app_like(bundle.kind) || bundle.kind == BundleKind::Framework)
        && !rest.contains('/')
        && rest.ends_with(".dylib")
}

/// Mach-O files App Store Connect does not permit: anything that is not a bundle's
/// `CFBundleExecutable` nor a loose dylib in `Frameworks/` (part of ITMS-90171).
pub(super) fn stray_binaries(facts: &Facts) -> impl Iterator<Item = &Binary> {
    let app_root = facts.app().path.clone();
    facts.binaries.iter().filter(move |b| {
        b.role == BinaryRole::Other
            && b.path.starts_with(&format!("{app_root}/"))
            && !is_allowed_loose_dylib(facts, b)
    })
}

pub(super) static RULES: &[Rule] = &[
    rule!(
        "ITMS-90087",
        "unsupported-architectures",
        Error,
        AppStore,
        check_unsupported_archs,
        "a Mach-O file contains x86_64/i386 slices or slices built for a simulator",
        "Checks every Mach-O file (executables, framework binaries, dylibs) for slices whose CPU is x86_64 or i386, or whose LC_BUILD_VERSION platform is a simulator (iOS, tvOS, watchOS or visionOS simulator).\n\nApple rejects with \"Unsupported Architectures. The executable for X.app/Frameworks/Y.framework contains unsupported architectures '[x86_64, i386]'\" - usually a fat vendor framework.\n\nFix: embed device builds only (the ios-arm64 slice of an XCFramework), or `lipo -remove` the simulator slices before signing."
    ),
    rule!(
        "ITMS-90080",
        "executable-not-pie",
        Warning,
        AppStore,
        check_pie,
        "an executable slice is not position-independent (MH_PIE unset)",
        "Checks every MH_EXECUTE slice for the MH_PIE header flag.\n\nApple e-mails a warning that the executable is not a Position Independent Executable.\n\nFix: link with -pie (remove -no_pie)."
    ),
    rule!(
        "ITMS-90124",
        "executable-type-invalid",
        Error,
        AppStore,
        check_executable_type,
        "an app's or extension's executable is not of type EXECUTE",
        "Checks the Mach-O filetype of the CFBundleExecutable of every app, extension, watch app and app clip: it must be MH_EXECUTE.\n\nApple rejects with \"The binary is invalid. The executable type \\\"OBJECT\\\" is not valid. Only \\\"EXECUTE\\\" is permitted.\"\n\nFix: link the target as an application (MACH_O_TYPE = mh_execute)."
    ),
    rule!(
        "ITMS-90125",
        "encryption-info-invalid",
        Error,
        AppStore,
        check_encryption,
        "an executable has no LC_ENCRYPTION_INFO, or is already encrypted (cryptid != 0)",
        "Checks every device slice of every app, extension, watch app and app clip executable for an LC_ENCRYPTION_INFO(_64) load command with cryptid 0.\n\nApple rejects with \"The binary is invalid. The encryption info in the LC_ENCRYPTION_INFO load command is either missing or invalid, or the binary is already encrypted\" - a binary taken from a device, or built by a tool that dropped the command.\n\nFix: upload what Xcode built; App Store Connect encrypts it."
    ),
    rule!(
        "ITMS-90208",
        "binary-minimum-os-above-plist",
        Error,
        AppStore,
        check_minos_above_plist,
        "a binary's deployment target (LC_BUILD_VERSION minos) is above its Info.plist MinimumOSVersion",
        "Compares the minos of each slice of a bundle's executable (LC_BUILD_VERSION, else LC_VERSION_MIN_*) with that bundle's MinimumOSVersion.\n\nApple rejects with \"Invalid Bundle. The bundle X.app/Frameworks/Y.framework does not support the minimum OS Version specified in the Info.plist\" - a framework built for a newer OS than its plist says.\n\nFix: build the binary with a deployment target no higher than MinimumOSVersion, or raise MinimumOSVersion."
    ),
    rule!(
        "ITMS-90209",
        "segment-alignment-invalid",
        Error,
        AppStore,
        check_alignment,
        "an arm64 slice's segments, fat offset or encrypted range are not 16 KiB aligned",
        "Checks arm64 slices (dSYM companions excepted): every segment with file content starts at a file offset and address that are multiples of 16 KiB, the fat header's align is at least 2^14 and the slice offset honours it, and cryptoff/cryptsize are multiples of 16 KiB.\n\nApple rejects with \"Invalid Segment Alignment. The app binary at 'X.app/X' does not have proper segment alignment\". The 16 KiB constant is inferred from every shipping binary of the corpus.\n\nFix: rebuild with a current Xcode; tools that rewrite binaries must keep alignment."
    ),
    rule!(
        "ITMS-90482",
        "bitcode-present",
        Error,
        AppStore,
        check_bitcode,
        "a Mach-O file contains bitcode (an __LLVM segment)",
        "Checks every slice of every Mach-O file for an __LLVM segment.\n\nSince Xcode 14 App Store Connect no longer accepts bitcode: \"Invalid Executable - The executable 'X.app/Frameworks/Y.framework/Y' contains bitcode\".\n\nFix: ENABLE_BITCODE = NO; strip vendor frameworks with `xcrun bitcode_strip -r in -o out`."
    ),
    rule!(
        "ITMS-90503",
        "arm64-capability-with-32-bit-slices",
        Error,
        AppStore,
        check_arm64_but_32_bit,
        "UIRequiredDeviceCapabilities lists arm64 but the app's binary has 32-bit slices",
        "When the app's UIRequiredDeviceCapabilities contains 'arm64', checks that its executable contains only 64-bit slices.\n\nApple rejects with \"You've included the arm64 value for the UIRequiredDeviceCapabilities key ... Your binary, 'X', must only contain the 64-bit architecture slice\".\n\nFix: build for arm64 only (ARCHS = arm64) or remove 'arm64' from the capabilities."
    ),
    rule!(
        "ITMS-90512",
        "sdk-version-invalid",
        Error,
        AppStore,
        check_sdk_value,
        "a slice's LC_BUILD_VERSION / LC_VERSION_MIN sdk is higher than any SDK Apple has released",
        "Checks the sdk field of LC_BUILD_VERSION (else LC_VERSION_MIN_*) of every slice against the highest SDK major version App Store Connect knows (kept as data in the rule).\n\nApple rejects with \"Invalid sdk value. The value provided for the sdk portion of LC_VERSION_MIN_IPHONEOS in X is 94.0 which is greater than the maximum allowed value\".\n\nFix: build with a released Xcode."
    ),
];
