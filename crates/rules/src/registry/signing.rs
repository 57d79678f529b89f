//! Code signatures and entitlements of every signed Mach-O: presence, ad-hoc and linker
//! signatures, hash verification of special slots and code pages, entitlement values, team
//! consistency (itms-rules.md §2.8; formats.md §6, §8).

use std::collections::BTreeMap;

use ipagate_formats::binaries::{Binary, BinaryRole, SignatureState, SliceFacts};
use ipagate_formats::codesign::{SlotState, slot_name};
use ipagate_formats::profile::{CertificateKind, ProfileState};
use ipagate_formats::trust::{Trust, TrustProblem};
use ipagate_formats::{BundleKind, Facts};

use super::helpers::is_app_like;
use super::macho::slice_location;
use super::profiles::as_of;
use super::{Rule, Scope, Sink};
use crate::context::Context;
use crate::diagnostic::{Location, Severity};

/// Main executables of apps, extensions, watch apps, app clips and frameworks: what App Store
/// Connect requires to be signed with the distribution identity.
fn signed_code(facts: &Facts) -> impl Iterator<Item = (&Binary, BundleKind)> {
    facts.binaries.iter().filter_map(|b| {
        let kind = facts.bundles.get(b.bundle?)?.kind;
        (b.role == BinaryRole::MainExecutable
            && (is_app_like(kind) || kind == BundleKind::Framework))
            .then_some((b, kind))
    })
}

/// What is wrong with the CMS itself (it does not verify over what it signs), worded to follow
/// "Payload/X (arm64)"; `None` when it verifies or the problem is the chain's.
pub(super) fn cms_problem(trust: &Trust) -> Option<String> {
    match trust {
        Trust::Untrusted {
            problem, detail, ..
        } if problem.is_signature_problem() => Some(format!(
            "has an invalid CMS signature ({}): {detail}",
            problem_name(*problem)
        )),
        _ => None,
    }
}

/// What is wrong with a verified-or-not CMS signature's certificate chain as of `now`: it does
/// not end at a pinned Apple root, or a certificate above the signer is not valid that day (the
/// signer's own expiry is IPAGATE-3003's).
pub(super) fn chain_problem(trust: &Trust, now: chrono::DateTime<chrono::Utc>) -> Option<String> {
    match trust {
        Trust::Untrusted {
            problem, detail, ..
        } if !problem.is_signature_problem() => Some(format!(
            "is not signed by a certificate that chains to Apple Root CA ({}): {detail}",
            problem_name(*problem)
        )),
        Trust::Verified { chain, .. } => chain.iter().skip(1).find(|c| !c.valid_at(now)).map(|c| {
            let when = |d: Option<chrono::DateTime<chrono::Utc>>| {
                d.map_or_else(|| "?".to_owned(), |d| d.format("%Y-%m-%d").to_string())
            };
            format!(
                "is signed by a certificate chain whose '{}' is valid only from {} to {} (as of {})",
                c.subject,
                when(c.not_before),
                when(c.not_after),
                now.format("%Y-%m-%d")
            )
        }),
        _ => None,
    }
}

/// The kebab-case name of a trust problem, as in `inspect` JSON.
pub(super) fn problem_name(p: TrustProblem) -> &'static str {
    match p {
        TrustProblem::Malformed => "malformed",
        TrustProblem::SignerCertificateMissing => "signer-certificate-missing",
        TrustProblem::UnsupportedAlgorithm => "unsupported-algorithm",
        TrustProblem::MessageDigestMismatch => "message-digest-mismatch",
        TrustProblem::SignatureInvalid => "signature-invalid",
        TrustProblem::CdhashMismatch => "cdhash-mismatch",
        TrustProblem::ChainBroken => "chain-broken",
        TrustProblem::UntrustedRoot => "untrusted-root",
    }
}

fn check_signature_present(facts: &Facts, ctx: &Context, sink: &mut Sink) {
    for (b, _) in signed_code(facts) {
        for s in &b.slices {
            let problem = match &s.signature {
                SignatureState::Absent => {
                    Some("has no code signature (no LC_CODE_SIGNATURE)".to_owned())
                }
                SignatureState::Unreadable(_) => None, // ITMS-90035 reports it
                SignatureState::Parsed(sig) => {
                    let cd = sig.code_directories.first();
                    if cd.is_some_and(|cd| cd.is_linker_signed()) {
                        Some(
                            "carries only the linker's ad-hoc signature (CS_LINKER_SIGNED)"
                                .to_owned(),
                        )
                    } else if cd.is_some_and(|cd| cd.is_adhoc()) {
                        Some("is ad-hoc signed (CS_ADHOC), not with a certificate".to_owned())
                    } else if sig.cms.as_ref().is_none_or(Vec::is_empty) {
                        Some(
                            "has no CMS signature (no certificate signed the CodeDirectory)"
                                .to_owned(),
                        )
                    } else if let Some(p) = &sig.cms_problem {
                        Some(format!("has a CMS blob that is not a signature: {p}"))
                    } else if sig.certificates.is_empty() {
                        Some(
                            "has a CMS signature without certificates (Authority=(unavailable))"
                                .to_owned(),
                        )
                    } else {
                        sig.leaf()
                            .filter(|c| c.kind == CertificateKind::Development)
                            .map(|leaf| {
                                format!(
                                    "is signed with a development certificate ('{}'), not an Apple submission certificate",
                                    leaf.subject_cn.as_deref().unwrap_or("?")
                                )
                            })
                            .or_else(|| chain_problem(&sig.trust, as_of(ctx)))
                    }
                }
            };
            if let Some(problem) = problem {
                sink.emit(
                    slice_location(b, s),
                    format!("{} ({}) {problem}", b.path, s.macho.arch),
                    "sign with an Apple Distribution certificate: export with xcodebuild -exportArchive (method app-store-connect) or re-sign with `codesign --force --sign \"Apple Distribution: ...\"`",
                );
            }
        }
    }
}

/// What differs in one slice's signature, worded for a message, with the hash types that saw it.
fn mismatches(s: &SliceFacts) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let SignatureState::Parsed(sig) = &s.signature else {
        if let SignatureState::Unreadable(p) = &s.signature {
            out.entry(format!("the signature cannot be read: {p}"))
                .or_default();
        }
        return out;
    };
    for p in &sig.problems {
        out.entry(format!("the signature is malformed: {p}"))
            .or_default();
    }
    // A CMS blob that is not a signature at all is ITMS-90034's ("not signed").
    if let (
        None,
        Trust::Untrusted {
            problem, detail, ..
        },
    ) = (&sig.cms_problem, &sig.trust)
        && problem.is_signature_problem()
    {
        out.entry(format!(
            "the CMS signature does not verify over the CodeDirectory ({}): {detail}",
            problem_name(*problem)
        ))
        .or_default();
    }
    if sig.code_directories.is_empty() {
        out.entry("the signature has no CodeDirectory".to_owned())
            .or_default();
    }
    for (i, cd) in sig.code_directories.iter().enumerate() {
        let ht = cd.hash_type.to_string();
        for check in s.special_slots.get(i).into_iter().flatten() {
            let name = slot_name(check.slot);
            let kind = match check.state {
                SlotState::Match | SlotState::Unchecked => continue,
                SlotState::Mismatch => format!(
                    "{name} was modified after signing (special slot {} hash differs)",
                    check.slot
                ),
                SlotState::InputMissing => format!(
                    "{name} is missing but the signature seals it (special slot {})",
                    check.slot
                ),
                SlotState::NotSealed => format!(
                    "{name} is present but not sealed by the signature (special slot {})",
                    check.slot
                ),
            };
            out.entry(kind).or_default().push(ht.clone());
        }
        if let Some(p) = s.pages.get(i) {
            if p.mismatched > 0 {
                let examples: Vec<String> = p.examples.iter().map(u32::to_string).collect();
                out.entry(format!(
                    "{} of {} code pages differ from their hashes (pages {})",
                    p.mismatched,
                    cd.n_code_slots,
                    examples.join(", ")
                ))
                .or_default()
                .push(ht.clone());
            }
            if p.truncated {
                out.entry(format!(
                    "the binary ends before the signed code limit ({} bytes)",
                    cd.code_limit
                ))
                .or_default()
                .push(ht.clone());
            }
        }
    }
    out
}

fn check_signature_valid(facts: &Facts, _: &Context, sink: &mut Sink) {
    for b in &facts.binaries {
        for s in &b.slices {
            for (kind, hash_types) in mismatches(s) {
                let seen = if hash_types.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", hash_types.join(", "))
                };
                sink.emit(
                    slice_location(b, s),
                    format!("invalid signature of {} ({}): {kind}{seen}", b.path, s.macho.arch),
                    "re-sign after the last change to the bundle (never edit Info.plist or the binary of a signed app); export again with xcodebuild -exportArchive",
                );
            }
        }
    }
    // `--deep`: the sealed resources (empty unless that tier was read).
    for p in &facts.seals {
        sink.emit(
            Location::entry(p.path.clone()),
            format!(
                "invalid signature of {}: sealed resource {} ({}): {}",
                p.bundle,
                p.kind.as_str(),
                p.path,
                p.detail
            ),
            match p.kind {
                ipagate_formats::seal::SealKind::Unsealed => "remove the file, or add it before signing (nothing may be added to a signed bundle); export again with xcodebuild -exportArchive",
                _ => "re-sign after the last change to the bundle (never add, edit or remove files of a signed app); export again with xcodebuild -exportArchive",
            },
        );
    }
}

/// The entitlements of the first slice of a signed binary, when it has a parsed XML blob.
fn entitlements(b: &Binary) -> Option<&plist::Dictionary> {
    b.slices.first()?.entitlements.as_ref()?.as_ref().ok()
}

fn is_distribution_signed(b: &Binary) -> bool {
    b.slices
        .first()
        .and_then(SliceFacts::signature)
        .is_some_and(|sig| {
            sig.code_directories
                .first()
                .is_some_and(|cd| !cd.is_adhoc() && !cd.is_linker_signed())
        })
}

fn key_loc(b: &Binary, key: &str) -> Location {
    Location::key(b.path.clone(), key)
}

fn check_application_identifier(facts: &Facts, _: &Context, sink: &mut Sink) {
    for (b, kind) in signed_code(facts) {
        if !is_app_like(kind) || !is_distribution_signed(b) {
            continue;
        }
        let has = entitlements(b).is_some_and(|e| e.contains_key("application-identifier"));
        if !has {
            sink.emit(
                key_loc(b, "application-identifier"),
                format!("the signature of {} has no application-identifier entitlement", b.path),
                "sign with a provisioning profile for this bundle id (Xcode's export does); codesign --entitlements must include application-identifier = TEAMID.bundle-id",
            );
        }
    }
}

/// ITMS-90045: entitlement keys signed into an app, extension, watch app or App Clip that are not
/// valid on iOS, judged with the allow-list `data/ios-entitlements.txt` (shared with `lint`).
fn check_entitlement_keys(facts: &Facts, _: &Context, sink: &mut Sink) {
    use crate::entitlements::{EntitlementKey, entitlement_key};
    for (b, kind) in signed_code(facts) {
        if kind == BundleKind::Framework {
            continue; // entitlements on a framework are ITMS-90046's
        }
        let Some(ent) = entitlements(b) else { continue };
        for key in ent.keys() {
            let help = "remove the key from the target's .entitlements (CODE_SIGN_ENTITLEMENTS) and re-sign; only entitlements valid on iOS may be signed into an iOS app";
            match entitlement_key(key) {
                EntitlementKey::Known => {}
                EntitlementKey::UnlistedCapability => sink.emit_as(
                    Severity::Warning,
                    key_loc(b, key),
                    format!("key '{key}' in '{}' is not on ipagate's list of iOS entitlements (a capability newer than the list, or not valid on iOS)", b.path),
                    "check the key in Apple's Entitlements reference; if it is a current iOS capability, the list (crates/rules/data/ios-entitlements.txt) lags behind: turn the finding off in ipagate.toml",
                ),
                EntitlementKey::MacOnly => sink.emit(
                    key_loc(b, key),
                    format!("key '{key}' in '{}' is not supported: a macOS sandbox entitlement (valid in a Mac Catalyst build, not in an iOS app)", b.path),
                    help,
                ),
                EntitlementKey::Unknown => sink.emit(
                    key_loc(b, key),
                    format!("key '{key}' in '{}' is not supported on iOS", b.path),
                    help,
                ),
            }
        }
    }
}

fn check_entitlement_values(facts: &Facts, _: &Context, sink: &mut Sink) {
    for (b, kind) in signed_code(facts) {
        let Some(ent) = entitlements(b) else { continue };
        if kind == BundleKind::Framework {
            let keys: Vec<&str> = ent.keys().map(String::as_str).collect();
            if !keys.is_empty() {
                sink.emit(
                    key_loc(b, keys[0]),
                    format!("the framework {} is signed with entitlements ({})", b.path, keys.join(", ")),
                    "sign frameworks without --entitlements; only apps and extensions carry entitlements",
                );
            }
            continue;
        }
        if let Some(v) = ent.get("aps-environment") {
            let value = v.as_string().unwrap_or("(not a string)");
            if value != "production" {
                sink.emit(
                    key_loc(b, "aps-environment"),
                    format!("value '{value}' for key 'aps-environment' in {} is not supported (must be 'production')", b.path),
                    "sign with an App Store distribution profile; it sets aps-environment = production",
                );
            }
        }
        if let Some(domains) = ent
            .get("com.apple.developer.associated-domains")
            .and_then(|v| v.as_array())
            && domains.iter().any(|d| d.as_string() == Some("*"))
        {
            sink.emit(
                key_loc(b, "com.apple.developer.associated-domains"),
                format!("value '*' for key 'com.apple.developer.associated-domains' in {} is not supported", b.path),
                "list the real domains (applinks:example.com) in the target's entitlements file",
            );
        }
        if ent.get("beta-reports-active").and_then(|v| v.as_boolean()) == Some(false) {
            sink.emit(
                key_loc(b, "beta-reports-active"),
                format!("value 'false' for key 'beta-reports-active' in {} is not supported", b.path),
                "remove beta-reports-active from the entitlements file; the distribution profile sets it",
            );
        }
    }
}

fn check_get_task_allow(facts: &Facts, _: &Context, sink: &mut Sink) {
    for (b, _) in signed_code(facts) {
        let Some(ent) = entitlements(b) else { continue };
        if ent.get("get-task-allow").and_then(|v| v.as_boolean()) == Some(true) {
            sink.emit(
                key_loc(b, "get-task-allow"),
                format!("the entitlements of {} contain a key value that is not allowed: 'true' for the key 'get-task-allow'", b.path),
                "sign with an App Store distribution profile (get-task-allow false); a development signature cannot be uploaded",
            );
        }
    }
    super::profiles::check_against_profiles(facts, sink);
}

fn check_beta_entitlement(facts: &Facts, _: &Context, sink: &mut Sink) {
    let Some(b) = super::macho::main_binary(facts, 0) else {
        return;
    };
    if !is_distribution_signed(b) {
        return;
    }
    if let Some(ent) = entitlements(b)
        && !ent.contains_key("beta-reports-active")
    {
        sink.emit(
            key_loc(b, "beta-reports-active"),
            format!("the signature of {} does not include the beta-reports-active entitlement", b.path),
            "sign with an App Store distribution profile (it carries beta-reports-active = true) if the build is meant for TestFlight",
        );
    }
}

fn check_team_consistency(facts: &Facts, _: &Context, sink: &mut Sink) {
    // (team, what, location) for every signature and every profile.
    let mut seen: Vec<(&str, String, Location)> = Vec::new();
    for (b, _) in signed_code(facts) {
        let team = b
            .slices
            .first()
            .and_then(SliceFacts::signature)
            .and_then(|sig| sig.code_directories.first())
            .and_then(|cd| cd.team_id.as_deref());
        if let Some(team) = team {
            seen.push((
                team,
                format!("{} is signed by team {team}", b.path),
                Location::entry(b.path.clone()),
            ));
        }
    }
    for b in &facts.bundles {
        if let Some(p) = b.profile.as_ref().and_then(ProfileState::parsed)
            && let Some(team) = p.team_id()
        {
            seen.push((
                team,
                format!("{} belongs to team {team}", p.path),
                Location::key(p.path.clone(), "TeamIdentifier"),
            ));
        }
    }
    let teams: BTreeMap<&str, ()> = seen.iter().map(|(t, _, _)| (*t, ())).collect();
    if teams.len() < 2 {
        return;
    }
    // The app's team: its signature's, else its profile's.
    let app_team = super::macho::main_binary(facts, 0)
        .and_then(|b| b.slices.first())
        .and_then(SliceFacts::signature)
        .and_then(|sig| sig.code_directories.first())
        .and_then(|cd| cd.team_id.as_deref())
        .or_else(|| {
            facts
                .bundles
                .first()
                .and_then(|b| b.profile.as_ref())
                .and_then(ProfileState::parsed)
                .and_then(|p| p.team_id())
        });
    for (team, what, location) in seen {
        if Some(team) == app_team {
            continue;
        }
        sink.emit(
            location,
            format!("{what} but the app's team is {}", app_team.unwrap_or("(unknown)")),
            "sign every nested framework and extension with the app's identity and embed profiles of the app's team (Xcode's export does this)",
        );
    }
}

pub(super) static RULES: &[Rule] = &[
    rule!(
        "ITMS-90034",
        "signature-missing",
        Error,
        AppStore,
        check_signature_present,
        "an app, extension or framework executable is unsigned, ad-hoc or linker-signed, has no CMS signature or one without certificates or not chaining to Apple Root CA, or is signed with a development certificate",
        "Checks the executable of every app, extension, watch app, app clip and framework, slice by slice: it must have an LC_CODE_SIGNATURE whose CodeDirectory is neither ad-hoc (CS_ADHOC) nor linker-signed (CS_LINKER_SIGNED) and whose CMS blob is a SignedData carrying certificates, the signer's not a development certificate (Apple's OID 1.2.840.113635.100.6.1.2 or .12). Its certificate chain (trust tier, formats.md 6.4) must end at a pinned Apple root (Apple Root CA; crates/formats/roots), each certificate verified with its issuer's key (untrusted-root, chain-broken), and every certificate above the signer must be valid at the start of the --as-of day (the signer's own expiry is IPAGATE-3003). A CMS that does not verify over its CodeDirectory is ITMS-90035.\n\nApple rejects with \"Missing or invalid signature. The bundle 'ID' at bundle path 'Payload/X.app' is not signed using an Apple submission certificate\".\n\nFix: export with xcodebuild -exportArchive for App Store Connect, or re-sign with an Apple Distribution identity."
    ),
    rule!(
        "ITMS-90035",
        "signature-invalid",
        Error,
        All,
        check_signature_valid,
        "a signature does not match what it signs: Info.plist, CodeResources, entitlements or code pages changed after signing, or the CMS does not verify over the CodeDirectory",
        "Hashes, for every CodeDirectory (SHA-1 and SHA-256) of every slice of every Mach-O file, the special slots - Info.plist (1), requirements (2), _CodeSignature/CodeResources (3), entitlements (5, 7) - and every code page up to the code limit, and compares them with the stored hashes. The CMS signature must verify over the CodeDirectory it signs (trust tier): its messageDigest equals the digest of the primary CodeDirectory, the signature over the signed attributes verifies with the signer certificate's key (RSA PKCS#1 v1.5, ECDSA P-256/P-384, Ed25519), and Apple's cdhashes attributes (1.2.840.113635.100.9.1/.2) list the CodeDirectories' hashes. The message names what differs (message-digest-mismatch, signature-invalid, cdhash-mismatch, malformed, unsupported-algorithm, signer-certificate-missing). A signature that cannot be parsed is reported here too. With --deep, every signed bundle's _CodeSignature/CodeResources is checked too (files2, else files): each sealed file must exist unless optional and match its hash2 (SHA-256, else hash, SHA-1), nested code sealed by cdhash must match one of its CodeDirectories, and every file of the bundle must be sealed unless it is _CodeSignature/, the main executable, inside a nested bundle, or omitted by a rules2 rule (the bundle's own regular expressions, heaviest match wins); each finding names its kind (missing, modified, unsealed, nested-code-mismatch, unreadable) and path.\n\nApple rejects with \"Invalid Signature. A sealed resource is missing or invalid\" or \"Invalid Info.plist (plist or signature have been modified)\"; the device refuses to install it too.\n\nFix: re-sign after the last change to the bundle; never edit a signed app."
    ),
    rule!(
        "ITMS-90045",
        "entitlement-key-unsupported",
        Error,
        AppStore,
        check_entitlement_keys,
        "an app or extension is signed with an entitlement key not valid on iOS (an unlisted com.apple.developer. key is a warning)",
        "Checks every key of the entitlements signed into every app, extension, watch app and App Clip against the iOS allow-list kept as data (crates/rules/data/ios-entitlements.txt, shared with lint's IPAGATE-1208): a listed key passes; an unlisted com.apple.developer. key is a warning (Apple adds capabilities every year and the list may lag); a com.apple.security. key other than application-groups is a macOS sandbox key, an error in an iOS app (Mac Catalyst builds are not IPAs); any other unlisted key (e.g. com.apple.keystore.device) is an error. Framework entitlements are ITMS-90046's.\n\nApple rejects with \"Invalid Code Signing Entitlements. Your application bundle's signature contains code signing entitlements that are not supported on iOS. Specifically, key 'com.apple.keystore.device' in 'Payload/X.app/X' is not supported.\"\n\nFix: remove the key from the target's .entitlements and re-sign."
    ),
    rule!(
        "ITMS-90046",
        "entitlement-value-unsupported",
        Error,
        AppStore,
        check_entitlement_values,
        "aps-environment is not 'production', associated-domains is '*', beta-reports-active is false, or a framework carries entitlements",
        "Checks the entitlements signed into every app and extension: aps-environment must be exactly 'production', com.apple.developer.associated-domains must not contain '*', beta-reports-active must not be false; frameworks must carry no entitlements.\n\nApple rejects with \"Invalid Code Signing Entitlements. Your application bundle's signature contains code signing entitlements that are not supported on iOS. Specifically, value 'development' for key 'aps-environment' ...\".\n\nFix: sign with an App Store distribution profile; remove entitlements from framework signing."
    ),
    rule!(
        "ITMS-90075",
        "application-identifier-missing",
        Error,
        AppStore,
        check_application_identifier,
        "a signed app or extension has no application-identifier entitlement",
        "Checks that the signature of every certificate-signed app, extension, watch app and app clip carries the application-identifier entitlement.\n\nApple rejects with \"This bundle is invalid. The application-identifier entitlement is missing\".\n\nFix: sign with a provisioning profile (Xcode's export does); manual codesign needs --entitlements with application-identifier = TEAMID.bundle-id."
    ),
    rule!(
        "ITMS-90164",
        "entitlements-not-allowed",
        Error,
        AppStore,
        check_get_task_allow,
        "the signed entitlements contain get-task-allow = true, or an entitlement the provisioning profile does not allow",
        "Checks the entitlements signed into every app, extension and framework for get-task-allow = true, which only development profiles allow. Then compares the entitlements of every certificate-signed app, extension, watch app and App Clip with its embedded.mobileprovision (formats.md 8): application-identifier must be TEAM.CFBundleIdentifier (or an older App ID prefix the profile lists in ApplicationIdentifierPrefix) and match the profile's (a trailing '*' matches any suffix); every keychain-access-groups item must carry the team (or App ID) prefix and match a profile pattern; every other key must be in the profile, booleans true only where the profile says true, strings and array items matching the profile's values or patterns.\n\nApple rejects with \"Invalid Code Signing Entitlements ... the bundle contains a key value that is not allowed: 'true' for the key 'get-task-allow'\".\n\nFix: export with an App Store distribution profile."
    ),
    rule!(
        "ITMS-90191",
        "beta-entitlement-missing",
        Warning,
        AppStore,
        check_beta_entitlement,
        "the app's signature lacks the beta-reports-active entitlement (TestFlight)",
        "Checks that the certificate-signed main app carries beta-reports-active in its entitlements.\n\nApple e-mails \"Missing beta entitlement - Your app does not include the beta-reports-active entitlement. If you intend to distribute this build via TestFlight for beta testing, please re-build this app with a newly generated provisioning profile\".\n\nFix: sign with a current App Store distribution profile."
    ),
    rule!(
        "IPAGATE-3001",
        "team-id-inconsistent",
        Error,
        All,
        check_team_consistency,
        "nested code is signed by a different team than the app, or a provisioning profile belongs to another team",
        "Compares the team id of the CodeDirectory of every signed app, extension and framework executable, and the TeamIdentifier of every embedded.mobileprovision, with the app's (its signature's, else its profile's).\n\nWith library validation a device refuses to load code signed by another team, and App Store Connect expects one identity throughout; a vendor framework embedded without re-signing is the usual cause.\n\nFix: re-sign every nested bundle with the app's identity (Xcode's 'Embed & Sign')."
    ),
];
