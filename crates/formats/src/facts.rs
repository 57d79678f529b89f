//! Facts about an opened package: its bundle tree and each bundle's Info.plist, plus archive-level
//! observations. Facts carry no judgement; `ipagate-rules` decides what is wrong.
//!
//! Bundles are found by anchored path components, never by globbing: the top-level app is
//! `Payload/<X>.app`; below it, `PlugIns/*.appex`, `Extensions/*.appex`, `Watch/*.app`,
//! `AppClips/*.app`, `Frameworks/*.framework`, any `*.bundle`, and any other folder that holds an
//! `Info.plist` (App Store Connect treats such a folder as a bundle, `itms-rules.md` §1).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use plist::Dictionary;

use crate::info_plist::{self as ip, Capabilities, PlistFormat, Text};
use crate::package::{ArchiveStats, Layout, Package};

/// What a bundle is, from its extension and where it sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BundleKind {
    /// The top-level `.app`.
    App,
    /// `PlugIns/*.appex` or `Extensions/*.appex`.
    AppExtension,
    /// `Watch/*.app`.
    WatchApp,
    /// `AppClips/*.app`.
    AppClip,
    /// `Frameworks/*.framework`.
    Framework,
    /// A `*.bundle` resource bundle.
    ResourceBundle,
    /// `*.xctest` (test bundles shipped by mistake).
    TestBundle,
    /// An `.app`/`.appex`/`.framework` somewhere unusual (e.g. a framework inside a resource bundle).
    MisplacedBundle,
    /// Any other folder holding an `Info.plist` (e.g. `Base.lproj/`).
    Other,
}

impl BundleKind {
    /// Whether bundles of this kind must carry an executable.
    pub fn needs_executable(self) -> bool {
        matches!(
            self,
            BundleKind::App
                | BundleKind::AppExtension
                | BundleKind::WatchApp
                | BundleKind::AppClip
                | BundleKind::Framework
        )
    }

    /// The `CFBundlePackageType` Apple expects, if one is fixed.
    pub fn expected_package_type(self) -> Option<&'static str> {
        match self {
            BundleKind::App | BundleKind::WatchApp | BundleKind::AppClip => Some("APPL"),
            BundleKind::AppExtension => Some("XPC!"),
            BundleKind::Framework => Some("FMWK"),
            BundleKind::ResourceBundle => Some("BNDL"),
            _ => None,
        }
    }

    /// kebab-case name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            BundleKind::App => "app",
            BundleKind::AppExtension => "app-extension",
            BundleKind::WatchApp => "watch-app",
            BundleKind::AppClip => "app-clip",
            BundleKind::Framework => "framework",
            BundleKind::ResourceBundle => "resource-bundle",
            BundleKind::TestBundle => "test-bundle",
            BundleKind::MisplacedBundle => "misplaced-bundle",
            BundleKind::Other => "other",
        }
    }
}

/// The Info.plist of a bundle as read.
#[derive(Debug, Clone)]
pub enum InfoPlistState {
    /// No `Info.plist` file in the bundle folder.
    Missing,
    /// Present but unreadable: the problem, worded for a message.
    Unreadable(String),
    /// Parsed.
    Parsed(Box<InfoPlist>),
}

/// The keys the rules use, typed. `raw` keeps the whole dictionary for rules that need more.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct InfoPlist {
    /// XML or binary.
    pub format: Option<PlistFormat>,
    /// `CFBundleIdentifier`.
    pub bundle_id: Option<Text>,
    /// `CFBundleShortVersionString`.
    pub short_version: Option<Text>,
    /// `CFBundleVersion`.
    pub build_version: Option<Text>,
    /// `CFBundleExecutable`.
    pub executable: Option<Text>,
    /// `CFBundlePackageType`.
    pub package_type: Option<Text>,
    /// `CFBundleName`.
    pub name: Option<Text>,
    /// `CFBundleDisplayName`.
    pub display_name: Option<Text>,
    /// `MinimumOSVersion`.
    pub minimum_os: Option<Text>,
    /// `CFBundleSupportedPlatforms`.
    pub supported_platforms: Option<Vec<String>>,
    /// `DTPlatformName`.
    pub dt_platform_name: Option<String>,
    /// `DTPlatformVersion`.
    pub dt_platform_version: Option<String>,
    /// `DTSDKName`.
    pub dt_sdk_name: Option<String>,
    /// `DTSDKBuild`.
    pub dt_sdk_build: Option<String>,
    /// `DTXcode`.
    pub dt_xcode: Option<String>,
    /// `DTXcodeBuild`.
    pub dt_xcode_build: Option<String>,
    /// `BuildMachineOSBuild`.
    pub build_machine_os_build: Option<String>,
    /// `UIDeviceFamily`.
    pub device_family: Option<Vec<u64>>,
    /// `UISupportedInterfaceOrientations`.
    pub orientations: Option<Vec<String>>,
    /// `UISupportedInterfaceOrientations~ipad`.
    pub orientations_ipad: Option<Vec<String>>,
    /// `UIRequiresFullScreen`.
    pub requires_full_screen: Option<bool>,
    /// `UILaunchStoryboardName` (also `~iphone`/`~ipad` variants, first found).
    pub launch_storyboard: Option<String>,
    /// `UILaunchScreen` dictionary present (iOS 14+ alternative to a storyboard).
    pub has_launch_screen_dict: bool,
    /// `CFBundleIconName`, top-level or nested under `CFBundleIcons*.CFBundlePrimaryIcon`.
    pub icon_name: Option<String>,
    /// Base names in `CFBundleIconFiles` (all places).
    pub icon_files: Vec<String>,
    /// `UIBackgroundModes`.
    pub background_modes: Option<Vec<String>>,
    /// `BGTaskSchedulerPermittedIdentifiers`.
    pub bg_task_identifiers: Option<Vec<String>>,
    /// `ITSAppUsesNonExemptEncryption`.
    pub uses_non_exempt_encryption: Option<bool>,
    /// `UIRequiredDeviceCapabilities`.
    pub required_capabilities: Option<Capabilities>,
    /// `NSExtension.NSExtensionPointIdentifier`.
    pub extension_point: Option<String>,
    /// `NSExtension` present.
    pub has_ns_extension: bool,
    /// `NSExtension.NSExtensionPrincipalClass` or `NSExtensionMainStoryboard` present.
    pub extension_has_entry: bool,
    /// `WKCompanionAppBundleIdentifier` (watch app).
    pub wk_companion_app_bundle_id: Option<String>,
    /// `WKAppBundleIdentifier` (watch extension).
    pub wk_app_bundle_id: Option<String>,
    /// `WKWatchKitApp` (single-target watch app).
    pub wk_watchkit_app: Option<bool>,
    /// `WKApplication` (watchOS 7+ single-target watch app).
    pub wk_application: Option<bool>,
    /// The whole dictionary.
    #[serde(skip)]
    pub raw: Dictionary,
}

impl InfoPlist {
    /// Extracts the typed keys from a parsed dictionary.
    pub fn from_dictionary(format: PlistFormat, dict: Dictionary) -> InfoPlist {
        let d = &dict;
        let ext = d.get("NSExtension").and_then(|v| v.as_dictionary());
        let opt = |k: &str| ip::text(d, k).and_then(|t| t.as_str().map(str::to_owned));
        InfoPlist {
            format: Some(format),
            bundle_id: ip::text(d, "CFBundleIdentifier"),
            short_version: ip::text(d, "CFBundleShortVersionString"),
            build_version: ip::text(d, "CFBundleVersion"),
            executable: ip::text(d, "CFBundleExecutable"),
            package_type: ip::text(d, "CFBundlePackageType"),
            name: ip::text(d, "CFBundleName"),
            display_name: ip::text(d, "CFBundleDisplayName"),
            minimum_os: ip::text(d, "MinimumOSVersion"),
            supported_platforms: ip::strings(d, "CFBundleSupportedPlatforms"),
            dt_platform_name: opt("DTPlatformName"),
            dt_platform_version: opt("DTPlatformVersion"),
            dt_sdk_name: opt("DTSDKName"),
            dt_sdk_build: opt("DTSDKBuild"),
            dt_xcode: opt("DTXcode"),
            dt_xcode_build: opt("DTXcodeBuild"),
            build_machine_os_build: opt("BuildMachineOSBuild"),
            device_family: ip::device_family(d),
            orientations: ip::strings(d, "UISupportedInterfaceOrientations"),
            orientations_ipad: ip::strings(d, "UISupportedInterfaceOrientations~ipad"),
            requires_full_screen: ip::boolean(d, "UIRequiresFullScreen"),
            launch_storyboard: [
                "UILaunchStoryboardName",
                "UILaunchStoryboardName~iphone",
                "UILaunchStoryboardName~ipad",
            ]
            .iter()
            .find_map(|k| opt(k))
            .filter(|s| !s.is_empty()),
            // `UILaunchScreen`, its `~iphone`/`~ipad` variants, or `UILaunchScreens`.
            has_launch_screen_dict: d.keys().any(|k| k.starts_with("UILaunchScreen")),
            icon_name: ip::icon_name(d),
            icon_files: ip::icon_files(d),
            background_modes: ip::strings(d, "UIBackgroundModes"),
            bg_task_identifiers: ip::strings(d, "BGTaskSchedulerPermittedIdentifiers"),
            uses_non_exempt_encryption: ip::boolean(d, "ITSAppUsesNonExemptEncryption"),
            required_capabilities: ip::capabilities(d),
            extension_point: ext
                .and_then(|e| e.get("NSExtensionPointIdentifier"))
                .and_then(|v| v.as_string())
                .map(str::to_owned),
            has_ns_extension: ext.is_some(),
            extension_has_entry: ext.is_some_and(|e| {
                e.contains_key("NSExtensionPrincipalClass")
                    || e.contains_key("NSExtensionMainStoryboard")
            }),
            wk_companion_app_bundle_id: opt("WKCompanionAppBundleIdentifier"),
            wk_app_bundle_id: ext
                .and_then(|e| e.get("NSExtensionAttributes"))
                .and_then(|v| v.as_dictionary())
                .and_then(|a| a.get("WKAppBundleIdentifier"))
                .and_then(|v| v.as_string())
                .map(str::to_owned)
                .or_else(|| opt("WKAppBundleIdentifier")),
            wk_watchkit_app: ip::boolean(d, "WKWatchKitApp"),
            wk_application: ip::boolean(d, "WKApplication"),
            raw: dict,
        }
    }

    /// `CFBundleIdentifier` if it is a string.
    pub fn bundle_id_str(&self) -> Option<&str> {
        self.bundle_id.as_ref().and_then(Text::as_str)
    }
}

/// One bundle of the tree.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// Normalised path, e.g. `Payload/Demo.app/PlugIns/Share.appex`.
    pub path: String,
    /// What it is.
    pub kind: BundleKind,
    /// Index in [`Facts::bundles`] of the nearest enclosing bundle (`None` for the app).
    pub parent: Option<usize>,
    /// Its Info.plist.
    pub info: InfoPlistState,
    /// Whether the file named by `CFBundleExecutable` exists in the bundle folder.
    pub executable_exists: bool,
    /// Size of that file.
    pub executable_size: Option<u64>,
    /// The launch storyboard named by `UILaunchStoryboardName` exists as `<name>.storyboardc`.
    pub launch_storyboard_exists: bool,
    /// Nested bundle folders directly or indirectly inside (paths relative to this bundle).
    pub nested_bundles: Vec<String>,
    /// A `Frameworks` entry exists inside this bundle.
    pub has_frameworks_dir: bool,
    /// Loose dylibs directly in `Frameworks/` (file names).
    pub loose_dylibs: Vec<String>,
    /// Icon facts, for apps, watch apps and App Clips.
    pub icons: Option<crate::icons::Icons>,
    /// Its `PrivacyInfo.xcprivacy` (at the top of the bundle), if it ships one.
    pub privacy_manifest: Option<crate::privacy::ManifestState>,
    /// The localised Info.plist values of an app or extension: every
    /// `<locale>.lproj/InfoPlist.strings` at the top of the bundle, in path order.
    pub localized_info: Vec<LocalizedInfo>,
    /// Its `embedded.mobileprovision`, if the bundle has one (`None`: no such file).
    pub profile: Option<crate::profile::ProfileState>,
}

/// One `<locale>.lproj/InfoPlist.strings`.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalizedInfo {
    /// Entry path.
    pub path: String,
    /// The folder name without `.lproj` (`en`, `pt-BR`, `Base`).
    pub locale: String,
    /// Its string values by key, or why it could not be read.
    pub strings: Result<BTreeMap<String, String>, String>,
}

impl Bundle {
    /// The parsed plist, if any.
    pub fn info(&self) -> Option<&InfoPlist> {
        match &self.info {
            InfoPlistState::Parsed(p) => Some(p),
            _ => None,
        }
    }

    /// Entry path of its Info.plist.
    pub fn info_plist_path(&self) -> String {
        format!("{}/Info.plist", self.path)
    }

    /// The bundle's folder name (`Share.appex`).
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
}

/// A name in the archive that a careful reader must not trust.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SuspiciousName {
    /// The raw name, sanitised for terminals.
    pub name: String,
    /// What is wrong: `parent-reference`, `absolute`, `backslash`, `control-character`, `too-long`, `too-deep`.
    pub problem: &'static str,
}

/// Archive-level facts.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ArchiveFacts {
    /// Counts and sizes.
    #[serde(flatten)]
    pub stats: ArchiveStats,
    /// Top-level names other than `Payload` (e.g. `SwiftSupport`, `Symbols`, `__MACOSX`).
    pub top_level: Vec<String>,
    /// Files under `SwiftSupport/` (`None` when the folder is absent).
    pub swift_support: Option<Vec<String>>,
    /// `__MACOSX/` entries.
    pub macosx_junk: u64,
    /// `.DS_Store` entries inside the app (paths).
    pub ds_store: Vec<String>,
    /// Names that are not safe (`..`, absolute, backslashes, control characters, too long/deep).
    pub suspicious_names: Vec<SuspiciousName>,
    /// `SwiftSupport/iphoneos/` exists (as a folder entry or through its files).
    pub swift_support_iphoneos: bool,
    /// Apps besides the one checked, as named in the input (any layout).
    pub extra_apps: Vec<String>,
    /// Symbolic links (first 100), with their targets; never followed.
    pub symlinks: Vec<Symlink>,
    /// Entries App Store Connect could not unpack (first 100): path and why.
    pub unpackable: Vec<Unpackable>,
}

/// An entry that cannot be unpacked by Apple's tools.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unpackable {
    /// Normalised path.
    pub path: String,
    /// `encrypted`, or the compression problem.
    pub problem: &'static str,
}

/// A symbolic-link entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Symlink {
    /// Normalised path of the link.
    pub path: String,
    /// Its target as stored (sanitised), when readable.
    pub target: Option<String>,
    /// The target is absolute or climbs out of the app (or the link could not be read).
    pub escapes: bool,
}

/// At most this many examples of a kind are kept in the facts (counts stay exact).
const MAX_EXAMPLES: usize = 100;

/// Everything read from a package.
#[derive(Debug, Clone)]
pub struct Facts {
    /// How the input was laid out.
    pub layout: Layout,
    /// Archive-level facts.
    pub archive: ArchiveFacts,
    /// The app first, then nested bundles in path order.
    pub bundles: Vec<Bundle>,
    /// Every Mach-O file with its slices and signatures (empty unless [`Tiers::binaries`]).
    pub binaries: Vec<crate::binaries::Binary>,
    /// Declared executables that are not readable Mach-O files (empty unless [`Tiers::binaries`]).
    pub not_macho: Vec<crate::binaries::NotMachO>,
    /// Mismatches between each signed bundle's `_CodeSignature/CodeResources` and its files
    /// (empty unless [`Tiers::deep`]), sorted.
    pub seals: Vec<crate::seal::SealProblem>,
    /// What was read: with `binaries` off, `binaries` and `not_macho` are empty because they
    /// were not looked at, not because there are none; with `symbols` off, every slice's
    /// `symbols` is `None` because the scan was skipped.
    pub tiers: Tiers,
}

/// Which expensive facts to read. Bundles and Info.plists are always read; binaries mean
/// inflating every executable and hashing its pages; symbols mean also walking each slice's
/// symbol table and Objective-C sections (only the privacy rules read them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tiers {
    /// Mach-O slices, code signatures and their hash checks.
    pub binaries: bool,
    /// Each slice's imported symbols, selector names and class names
    /// ([`crate::binaries::SliceFacts::symbols`]); implies `binaries` (the scan shares their
    /// one inflate).
    pub symbols: bool,
    /// Every signed bundle's `_CodeSignature/CodeResources` checked against its files
    /// ([`crate::seal`], `--deep`): hashes every sealed file. Never part of [`Tiers::ALL`] or
    /// of what a rule asks for; implies `binaries` (nested code is sealed by its cdhash).
    pub deep: bool,
}

impl Tiers {
    /// Everything but the deep seal check (which only `--deep` asks for).
    pub const ALL: Tiers = Tiers {
        binaries: true,
        symbols: true,
        deep: false,
    };
    /// Binaries without the symbol scan (what the signing and Mach-O rules read).
    pub const BINARIES: Tiers = Tiers {
        binaries: true,
        symbols: false,
        deep: false,
    };
    /// Bundles and Info.plists only (what `inspect` read before the signing gate).
    pub const BUNDLES: Tiers = Tiers {
        binaries: false,
        symbols: false,
        deep: false,
    };

    /// Everything either asks for.
    pub const fn union(self, other: Tiers) -> Tiers {
        Tiers {
            binaries: self.binaries || other.binaries,
            symbols: self.symbols || other.symbols,
            deep: self.deep || other.deep,
        }
    }

    /// The same, with what a tier implies made explicit (symbols are read from the binaries).
    pub const fn normalized(self) -> Tiers {
        Tiers {
            binaries: self.binaries || self.symbols || self.deep,
            symbols: self.symbols,
            deep: self.deep,
        }
    }
}

impl Facts {
    /// The top-level app.
    pub fn app(&self) -> &Bundle {
        // `inspect` always puts the app first.
        &self.bundles[0]
    }
}

/// Folder extensions whose `Info.plist` is compiled-resource metadata, not a bundle.
const RESOURCE_DIRS: &[&str] = &[
    ".storyboardc",
    ".nib",
    ".momd",
    ".mom",
    ".scnassets",
    ".dSYM",
];

/// Folder extensions that make a bundle, with or without an `Info.plist`.
const BUNDLE_EXTENSIONS: &[&str] = &[".app", ".appex", ".framework", ".bundle", ".xctest"];

fn is_bundle_name(component: &str) -> bool {
    BUNDLE_EXTENSIONS
        .iter()
        .any(|x| component.len() > x.len() && component.ends_with(x))
}

/// Reads every fact of an opened package ([`Tiers::ALL`]).
pub fn inspect(package: &Package) -> Result<Facts, crate::OpenError> {
    inspect_with(package, Tiers::ALL)
}

/// Reads the facts of an opened package: lists the bundle tree from the entry names (no I/O) and
/// then reads each bundle's Info.plist on the rayon pool, in parallel; then, if asked, every
/// Mach-O file.
pub fn inspect_with(package: &Package, tiers: Tiers) -> Result<Facts, crate::OpenError> {
    inspect_trusting(package, tiers, crate::trust::TrustAnchors::apple())
}

/// [`inspect_with`], verifying code signatures and profiles against `anchors` instead of Apple's
/// pinned roots (tests pass the fixture CA's root; nothing is checked less).
pub fn inspect_trusting(
    package: &Package,
    tiers: Tiers,
    anchors: &crate::trust::TrustAnchors,
) -> Result<Facts, crate::OpenError> {
    let tiers = tiers.normalized();
    let app_root = package.app_root().to_string();
    // Borrowed from the entry paths: one pass, no allocation per entry.
    let mut dirs: BTreeSet<&str> = BTreeSet::new();
    dirs.insert(&app_root);
    let app_prefix_len = app_root.len() + 1;
    // Entries are sorted, so consecutive ones usually share their folder: each folder's
    // components are looked at once, not once per file in it.
    let mut last_parent = "";
    let mut ds_store = Vec::new();
    // Only the app's own run of the sorted index (two binary searches, no test per entry).
    for entry in package.children(&app_root) {
        let path = entry.path;
        // `memrchr`, not `rsplit_once('/')`: this runs for every entry.
        let (parent, name) = match memchr::memrchr(b'/', path.as_bytes()) {
            Some(cut) => (&path[..cut], &path[cut + 1..]),
            None => ("", path),
        };
        if parent != last_parent {
            // Every folder along the way whose name is a bundle...
            let mut start = app_prefix_len;
            while start < parent.len() {
                let end = parent[start..]
                    .find('/')
                    .map_or(parent.len(), |i| start + i);
                if is_bundle_name(&parent[start..end]) {
                    dirs.insert(&parent[..end]);
                }
                start = end + 1;
            }
            last_parent = parent;
        }
        if entry.is_dir && is_bundle_name(name) {
            dirs.insert(path);
        }
        if name == ".DS_Store" {
            ds_store.push(path.to_string());
        }
        // ...and the folder of any Info.plist, unless it is compiled-resource metadata.
        if name == "Info.plist"
            && parent.len() > app_root.len()
            && !parent[app_prefix_len..]
                .split('/')
                .any(|c| RESOURCE_DIRS.iter().any(|x| c.ends_with(x)))
        {
            dirs.insert(parent);
        }
    }
    // Drop anything inside a `.dSYM` or `_CodeSignature`; those are not bundles to App Store Connect.
    let dirs: Vec<&str> = dirs
        .into_iter()
        .filter(|d| {
            !d.split('/')
                .any(|c| c.ends_with(".dSYM") || c == "_CodeSignature" || c == "SC_Info")
        })
        .collect();

    // In parallel from a few bundles on (each may verify a provisioning profile's signature).
    let mut bundles: Vec<Bundle> = crate::par::map(&dirs, dirs.len() >= 4, |dir| {
        read_bundle(package, dir, &app_root, anchors)
    })
    .into_iter()
    .collect::<Result<Vec<_>, _>>()?;
    // Parents: the nearest enclosing bundle, found by walking up the path (at most `max_depth`
    // lookups per bundle, never a scan of all bundles: 60,000 bundles must not take minutes).
    let index: HashMap<String, usize> = bundles
        .iter()
        .enumerate()
        .map(|(i, b)| (b.path.clone(), i))
        .collect();
    let parents: Vec<Option<usize>> = bundles
        .iter()
        .map(|b| {
            let mut cur = b.path.as_str();
            while let Some(cut) = cur.rfind('/') {
                cur = &cur[..cut];
                if let Some(&i) = index.get(cur) {
                    return Some(i);
                }
            }
            None
        })
        .collect();
    // Each bundle is listed in every ancestor's `nested_bundles` (depth-bounded, so linear).
    let mut nested: Vec<Vec<String>> = vec![Vec::new(); bundles.len()];
    for (i, b) in bundles.iter().enumerate() {
        let mut up = parents[i];
        while let Some(p) = up {
            let rel = b.path[bundles[p].path.len() + 1..].to_string();
            nested[p].push(rel);
            up = parents[p];
        }
    }
    for ((b, parent), nested) in bundles.iter_mut().zip(parents).zip(nested) {
        b.parent = parent;
        b.nested_bundles = nested;
    }
    // Kinds in order: a parent precedes its children, so its kind is already known.
    if let Some(app) = bundles.first_mut() {
        app.kind = BundleKind::App;
    }
    for i in 1..bundles.len() {
        let parent = bundles[i]
            .parent
            .map(|p| (bundles[p].path.clone(), bundles[p].kind));
        bundles[i].kind = classify(
            &bundles[i].path,
            parent.as_ref().map(|(p, k)| (p.as_str(), *k)),
        );
    }
    // Icons of the bundles that show one on a home screen, in parallel (each reads its own PNGs
    // and catalog).
    let showing = bundles.iter().filter(|b| shows_icon(b)).count();
    crate::par::for_each_mut(&mut bundles, showing > 1, |b| {
        if shows_icon(b)
            && let InfoPlistState::Parsed(info) = &b.info
        {
            b.icons = Some(crate::icons::read(package, &b.path, &info.raw));
        }
    });
    let found = if tiers.binaries {
        crate::binaries::read_binaries(package, &bundles, tiers.symbols, anchors)
    } else {
        crate::binaries::BinaryFacts::default()
    };
    let seals = if tiers.deep {
        crate::seal::verify(package, &bundles, &found.binaries)
    } else {
        Vec::new()
    };
    Ok(Facts {
        layout: package.layout(),
        archive: archive_facts(package, ds_store),
        bundles,
        binaries: found.binaries,
        not_macho: found.not_macho,
        seals,
        tiers,
    })
}

fn classify(path: &str, parent: Option<(&str, BundleKind)>) -> BundleKind {
    let Some((parent_path, parent_kind)) = parent else {
        return BundleKind::App;
    };
    let rel = path
        .strip_prefix(parent_path)
        .unwrap_or(path)
        .trim_start_matches('/');
    let name = rel.rsplit('/').next().unwrap_or(rel);
    let dir = rel.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    let app_like = matches!(
        parent_kind,
        BundleKind::App | BundleKind::WatchApp | BundleKind::AppClip
    );
    if name.ends_with(".xctest") {
        BundleKind::TestBundle
    } else if name.ends_with(".bundle") {
        BundleKind::ResourceBundle
    } else if name.ends_with(".appex") && (dir == "PlugIns" || dir == "Extensions") && app_like {
        BundleKind::AppExtension
    } else if name.ends_with(".app") && dir == "Watch" && parent_kind == BundleKind::App {
        BundleKind::WatchApp
    } else if name.ends_with(".app") && dir == "AppClips" && parent_kind == BundleKind::App {
        BundleKind::AppClip
    } else if name.ends_with(".framework")
        && dir == "Frameworks"
        && (app_like || parent_kind == BundleKind::AppExtension)
    {
        BundleKind::Framework
    } else if name.ends_with(".app") || name.ends_with(".appex") || name.ends_with(".framework") {
        BundleKind::MisplacedBundle
    } else {
        BundleKind::Other
    }
}

fn read_bundle(
    package: &Package,
    dir: &str,
    app_root: &str,
    anchors: &crate::trust::TrustAnchors,
) -> Result<Bundle, crate::OpenError> {
    let plist_path = format!("{dir}/Info.plist");
    let info = match package.entry(&plist_path) {
        // A folder may be implied by its children alone, without an entry of its own.
        None if package.has_children(&plist_path) => {
            InfoPlistState::Unreadable("is a folder, not a file".into())
        }
        None => InfoPlistState::Missing,
        Some(entry) => match package.read(&entry, package.limits().max_plist_size) {
            Err(e @ crate::EntryError::NotAFile(_)) => InfoPlistState::Unreadable(e.to_string()),
            Err(e) => InfoPlistState::Unreadable(format!("cannot read: {e}")),
            Ok(bytes) => match ip::parse_dictionary(&bytes) {
                Ok((format, dict)) => {
                    InfoPlistState::Parsed(Box::new(InfoPlist::from_dictionary(format, dict)))
                }
                Err(e) => InfoPlistState::Unreadable(e.0),
            },
        },
    };
    if dir == app_root {
        match &info {
            InfoPlistState::Missing => {
                return Err(main_plist_error(
                    package,
                    &plist_path,
                    "no Info.plist in the app bundle".into(),
                ));
            }
            InfoPlistState::Unreadable(problem) => {
                return Err(main_plist_error(package, &plist_path, problem.clone()));
            }
            InfoPlistState::Parsed(_) => {}
        }
    }
    let exe = match &info {
        InfoPlistState::Parsed(p) => p
            .executable
            .as_ref()
            .and_then(Text::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
        _ => None,
    };
    let exe_entry = exe
        .as_ref()
        .and_then(|name| package.entry(&format!("{dir}/{name}")))
        .filter(|e| !e.is_dir && !e.is_symlink);
    // A launch screen compiles to `<name>.storyboardc` (storyboard) or `<name>.nib` (XIB), at the
    // top of the bundle or in a localisation folder.
    let launch_storyboard_exists = match &info {
        InfoPlistState::Parsed(p) => p.launch_storyboard.as_ref().is_some_and(|name| {
            ["storyboardc", "nib"].iter().any(|ext| {
                let compiled = format!("{name}.{ext}");
                package.exists(&format!("{dir}/{compiled}"))
                    || package.dir_names(dir).iter().any(|first| {
                        first.ends_with(".lproj")
                            && package.exists(&format!("{dir}/{first}/{compiled}"))
                    })
            })
        }),
        _ => false,
    };
    let frameworks = format!("{dir}/Frameworks");
    let loose_dylibs = package
        .children(&frameworks)
        .filter(|e| {
            !e.is_dir && e.path.ends_with(".dylib") && !e.path[frameworks.len() + 1..].contains('/')
        })
        .map(|e| e.path[frameworks.len() + 1..].to_string())
        .collect();
    Ok(Bundle {
        path: dir.to_string(),
        kind: BundleKind::Other,
        parent: None,
        info,
        executable_exists: exe_entry.is_some(),
        executable_size: exe_entry.map(|e| e.size),
        launch_storyboard_exists,
        nested_bundles: Vec::new(),
        has_frameworks_dir: package.exists(&frameworks),
        loose_dylibs,
        icons: None,
        privacy_manifest: read_privacy_manifest(package, dir),
        localized_info: read_localized_info(package, dir),
        profile: read_profile(package, dir, anchors),
    })
}

/// `<dir>/embedded.mobileprovision`, bounded by [`crate::Limits::max_profile_size`]. A file that
/// cannot be read or parsed becomes [`ProfileState::Unreadable`] naming the problem.
fn read_profile(
    package: &Package,
    dir: &str,
    anchors: &crate::trust::TrustAnchors,
) -> Option<crate::profile::ProfileState> {
    use crate::profile::ProfileState;
    let path = format!("{dir}/embedded.mobileprovision");
    let entry = package.entry(&path)?;
    let unreadable = |problem: String| ProfileState::Unreadable {
        path: path.clone(),
        problem,
    };
    Some(
        match package.read(&entry, package.limits().max_profile_size) {
            Err(e) => unreadable(format!("cannot read: {e}")),
            Ok(bytes) => match crate::profile::parse_with(&path, &bytes, anchors) {
                Ok(p) => ProfileState::Parsed(Box::new(p)),
                Err(e) => unreadable(e.0),
            },
        },
    )
}

/// `<dir>/<locale>.lproj/InfoPlist.strings` of an app or extension folder (one pass over the
/// bundle's entries, reading only those files, each bounded like an Info.plist).
fn read_localized_info(package: &Package, dir: &str) -> Vec<LocalizedInfo> {
    if !(dir.ends_with(".app") || dir.ends_with(".appex")) {
        return Vec::new();
    }
    // Looked up per `.lproj` folder at the bundle's top, not found by scanning every entry.
    let mut found: Vec<(crate::package::EntryRef<'_>, &str)> = package
        .dir_names(dir)
        .into_iter()
        .filter_map(|name| {
            let locale = name.strip_suffix(".lproj").filter(|l| !l.is_empty())?;
            let e = package.entry(&format!("{dir}/{name}/InfoPlist.strings"))?;
            (!e.is_dir).then_some((e, locale))
        })
        .collect();
    found.sort_by(|a, b| a.0.path.cmp(b.0.path));
    found
        .into_iter()
        .map(|(e, locale)| LocalizedInfo {
            path: e.path.to_string(),
            locale: locale.to_string(),
            strings: package
                .read(&e, package.limits().max_plist_size)
                .map_err(|err| err.to_string())
                .and_then(|bytes| crate::info_plist::parse_strings(&bytes).map_err(|err| err.0))
                .map(|dict| {
                    dict.into_iter()
                        .filter_map(|(k, v)| v.into_string().map(|v| (k, v)))
                        .collect()
                }),
        })
        .collect()
}

fn read_privacy_manifest(package: &Package, dir: &str) -> Option<crate::privacy::ManifestState> {
    use crate::privacy::{FILE_NAME, ManifestState};
    let path = format!("{dir}/{FILE_NAME}");
    let entry = package.entry(&path)?;
    Some(
        match package
            .read(&entry, package.limits().max_plist_size)
            .map_err(|e| e.to_string())
            .and_then(|bytes| crate::privacy::parse(&bytes))
        {
            Ok(manifest) => ManifestState::Parsed { path, manifest },
            Err(problem) => ManifestState::Unreadable { path, problem },
        },
    )
}

fn main_plist_error(package: &Package, entry: &str, problem: String) -> crate::OpenError {
    crate::OpenError {
        path: package.path().to_path_buf(),
        kind: crate::OpenErrorKind::MainInfoPlist {
            entry: entry.to_string(),
            problem,
        },
    }
}

/// The archive-wide facts. `ds_store`: the `.DS_Store` files inside the app, found by the bundle
/// walk (which reads the app's entries anyway).
fn archive_facts(package: &Package, ds_store: Vec<String>) -> ArchiveFacts {
    let limits = package.limits();
    let mut top: BTreeSet<String> = BTreeSet::new();
    let mut facts = ArchiveFacts {
        stats: package.stats().clone(),
        ds_store,
        ..Default::default()
    };
    let mut swift: Option<Vec<String>> = None;
    // Top-level names a run at a time: everything in a folder `X/` sorts together, so one binary
    // search steps over `Payload/` however many entries it holds.
    let mut at = 0;
    while let Some(e) = package.entry_at(at) {
        let (first, end) = match e.path.find('/') {
            Some(cut) => (&e.path[..cut], package.end_of_folder(at, &e.path[..cut])),
            None => (e.path, at + 1),
        };
        if first != "Payload" && !first.is_empty() && !top.contains(first) {
            top.insert(first.to_string());
        }
        if first == "__MACOSX" {
            facts.macosx_junk += (end - at) as u64;
        }
        if first == "SwiftSupport" {
            let files = swift.get_or_insert_with(Vec::new);
            for e in (at..end).filter_map(|i| package.entry_at(i)) {
                if e.path == "SwiftSupport/iphoneos" || e.path.starts_with("SwiftSupport/iphoneos/")
                {
                    facts.swift_support_iphoneos = true;
                }
                if !e.is_dir {
                    files.push(e.path.to_string());
                }
            }
        }
        at = end;
    }
    // Names and compression methods were surveyed as the central directory was read, links are
    // counted in the stats: each entry is looked at again only when one has something to report.
    let census = package.census;
    if census.name_problems || census.unpackable || facts.stats.symlinks > 0 {
        for e in package.entries() {
            if census.unpackable
                && let Some(problem) = e.unpackable()
                && facts.unpackable.len() < MAX_EXAMPLES
            {
                facts.unpackable.push(Unpackable {
                    path: e.path.to_string(),
                    problem,
                });
            }
            if census.name_problems && facts.suspicious_names.len() < MAX_EXAMPLES {
                let problem = if e.name_is_utf8 {
                    crate::names::name_problem(e.raw_name(), limits)
                } else {
                    Some("not-utf8")
                };
                if let Some(problem) = problem {
                    facts.suspicious_names.push(SuspiciousName {
                        name: crate::sanitize::for_terminal(e.raw_name()),
                        problem,
                    });
                }
            }
            if e.is_symlink && facts.symlinks.len() < MAX_EXAMPLES {
                let target = package.link_target(&e);
                let escapes = target
                    .as_deref()
                    .is_none_or(|t| link_escapes(e.path, t, package.app_root()));
                facts.symlinks.push(Symlink {
                    path: e.path.to_string(),
                    target: target.map(|t| crate::sanitize::for_terminal(&t)),
                    escapes,
                });
            }
        }
    }
    facts.extra_apps = package.other_apps().to_vec();
    facts.top_level = top.into_iter().collect();
    facts.swift_support = swift;
    facts
}

/// Whether a link at `path` pointing at `target` leaves the folder `root` (resolved lexically).
fn link_escapes(path: &str, target: &str, root: &str) -> bool {
    if target.starts_with('/') || target.contains('\\') || !path.starts_with(root) {
        return true;
    }
    let mut parts: Vec<&str> = path.split('/').collect();
    parts.pop(); // the link's own name
    let floor = root.split('/').count();
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.len() <= floor {
                    return true;
                }
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    false
}

/// A bundle that shows an icon on a home screen (its icons are read and checked).
fn shows_icon(b: &Bundle) -> bool {
    matches!(
        b.kind,
        BundleKind::App | BundleKind::WatchApp | BundleKind::AppClip
    )
}
