//! Provisioning profiles of every app, extension, watch app and App Clip: present, unexpired as of
//! `--as-of`, of the kind the distribution needs, for the app's platform; the signed entitlements
//! allowed by the profile (itms-rules.md §2.8; formats.md §7.1-7.2, §8).

use chrono::{DateTime, Utc};
use ipagate_formats::binaries::Binary;
use ipagate_formats::profile::{Profile, ProfileKind, ProfileState};
use ipagate_formats::{Bundle, Facts};
use plist::Value;

use super::helpers::is_app_like;
use super::{Rule, Scope, Sink};
use crate::context::{Context, Distribution};
use crate::diagnostic::{Location, Severity};

/// The start of `--as-of`'s UTC day: expiry is judged against a timestamp.
pub(super) fn as_of(ctx: &Context) -> DateTime<Utc> {
    ctx.as_of.and_time(chrono::NaiveTime::MIN).and_utc()
}

fn profile_path(b: &Bundle) -> String {
    format!("{}/embedded.mobileprovision", b.path)
}

fn wanted_kind(d: Distribution) -> ProfileKind {
    match d {
        Distribution::AppStore => ProfileKind::AppStore,
        Distribution::AdHoc => ProfileKind::AdHoc,
        Distribution::Enterprise => ProfileKind::Enterprise,
        Distribution::Development => ProfileKind::Development,
    }
}

/// Whether the bundle's executable carries a certificate signature (not ad-hoc or
/// linker-signed): such code needs a profile; unsigned or ad-hoc code is ITMS-90034's.
fn certificate_signed(facts: &Facts, i: usize) -> Option<&Binary> {
    let b = super::macho::main_binary(facts, i)?;
    let signed = b
        .slices
        .first()
        .and_then(|s| s.signature())
        .is_some_and(|sig| {
            sig.cms.as_ref().is_some_and(|c| !c.is_empty())
                && sig
                    .code_directories
                    .first()
                    .is_some_and(|cd| !cd.is_adhoc() && !cd.is_linker_signed())
        });
    signed.then_some(b)
}

/// The platform names a profile's `Platform[]` may list for this bundle (watch apps ship with
/// iOS profiles or, from newer portals, watchOS ones).
fn platforms_for(b: &Bundle) -> &'static [&'static str] {
    let platforms = b
        .info()
        .and_then(|i| i.raw.get("CFBundleSupportedPlatforms"))
        .and_then(Value::as_array);
    let has = |name: &str| platforms.is_some_and(|p| p.iter().any(|v| v.as_string() == Some(name)));
    if has("XROS") {
        &["xrOS"]
    } else if has("AppleTVOS") {
        &["tvOS"]
    } else if has("WatchOS") {
        &["iOS", "watchOS"]
    } else {
        &["iOS"]
    }
}

fn check_profile_valid(facts: &Facts, ctx: &Context, sink: &mut Sink) {
    let now = as_of(ctx);
    for (i, b) in facts.bundles.iter().enumerate() {
        if !is_app_like(b.kind) {
            continue;
        }
        let path = profile_path(b);
        match &b.profile {
            None => {
                if certificate_signed(facts, i).is_some() {
                    sink.emit(
                        Location::entry(path),
                        format!("{} is signed but has no embedded.mobileprovision", b.path),
                        "export with a provisioning profile for this bundle id (Xcode's export embeds one in every app and extension)",
                    );
                }
            }
            Some(ProfileState::Unreadable { problem, .. }) => sink.emit(
                Location::entry(path.clone()),
                format!("{path} cannot be read: {problem}"),
                "download the profile again from the developer portal and re-export; never edit a profile",
            ),
            Some(ProfileState::Parsed(p)) => {
                if let ipagate_formats::trust::Trust::Skipped { why } = &p.trust {
                    sink.emit(
                        Location::entry(path.clone()),
                        format!("[Invalid signature.] {path} is not signed by Apple: {why}"),
                        "download the profile again from the developer portal (Apple signs it) and export again; never edit a profile",
                    );
                }
                if let Some(problem) = super::signing::cms_problem(&p.trust)
                    .or_else(|| super::signing::chain_problem(&p.trust, now))
                {
                    let label = match p.trust.problem() {
                        Some(k) if k.is_signature_problem() => "[Invalid signature.] ",
                        _ => "",
                    };
                    sink.emit(
                        Location::entry(path.clone()),
                        format!("{label}{path} {problem}"),
                        "download the profile again from the developer portal (Apple signs it) and export again; never edit a profile",
                    );
                }
                if p.expired_at(now) {
                    let when = p.expiration_date.map_or_else(String::new, |d| d.format("%Y-%m-%d %H:%M UTC").to_string());
                    sink.emit(
                        Location::key(path.clone(), "ExpirationDate"),
                        format!("[Expired profile.] {path} ('{}') expired on {when} (as of {})", p.name.as_deref().unwrap_or("?"), ctx.as_of.format("%Y-%m-%d")),
                        "renew the profile in the developer portal (or let Xcode manage signing) and export again",
                    );
                }
                let wanted = wanted_kind(ctx.distribution);
                if p.kind != wanted {
                    sink.emit(
                        Location::entry(path.clone()),
                        format!("{path} is a profile of kind {}; --distribution {} needs kind {wanted}", p.kind, ctx.distribution),
                        match ctx.distribution {
                            Distribution::AppStore => "A Distribution Provisioning profile should be used: export with method app-store-connect and an App Store profile",
                            _ => "export with the profile type that matches --distribution",
                        },
                    );
                }
                let platforms = platforms_for(b);
                if !p.platforms.is_empty() && !p.platforms.iter().any(|x| platforms.contains(&x.as_str())) {
                    sink.emit(
                        Location::key(path.clone(), "Platform"),
                        format!("{path} is for {} but {} is a bundle for {}", p.platforms.join(", "), b.path, platforms.join(" or ")),
                        "create the profile for the app's platform (an iOS App ID) and export again",
                    );
                }
            }
        }
    }
}

fn check_profile_expiring(facts: &Facts, ctx: &Context, sink: &mut Sink) {
    let now = as_of(ctx);
    let soon = now + chrono::Duration::days(30);
    for b in &facts.bundles {
        let Some(p) = b.profile.as_ref().and_then(ProfileState::parsed) else {
            continue;
        };
        if !p.expired_at(now) && p.expired_at(soon) {
            let when = p
                .expiration_date
                .map_or_else(String::new, |d| d.format("%Y-%m-%d %H:%M UTC").to_string());
            let days = p.expiration_date.map_or(0, |d| (d - now).num_days());
            sink.emit(
                Location::key(profile_path(b), "ExpirationDate"),
                format!("{} ('{}') expires on {when}, in {days} day(s)", p.path, p.name.as_deref().unwrap_or("?")),
                "renew the profile before it expires; an installed ad-hoc or enterprise build stops launching then",
            );
        }
    }
}

/// `pattern` from a profile allows `value`: equal, or a trailing `*` matching any suffix.
pub(super) fn glob(pattern: &str, value: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => value.starts_with(prefix),
        None => pattern == value,
    }
}

/// Whether a signed entitlement value is allowed by the profile's value for that key.
fn allowed(profile: &Value, signed: &Value) -> bool {
    match (profile, signed) {
        // A profile `true` allows either; `false` allows only `false`.
        (Value::Boolean(p), Value::Boolean(s)) => *p || !*s,
        (Value::String(p), Value::String(s)) => glob(p, s),
        (Value::Array(p), Value::String(s)) => {
            p.iter().any(|p| p.as_string().is_some_and(|p| glob(p, s)))
        }
        (p, Value::Array(items)) => items.iter().all(|s| allowed(p, s)),
        (p, s) => p == s,
    }
}

/// The signed entitlements of one app-like bundle against its profile (ITMS-90164); findings
/// as (key, message).
pub(super) fn entitlements_vs_profile(
    b: &Bundle,
    binary: &Binary,
    team: Option<&str>,
    p: &Profile,
    ent: &plist::Dictionary,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let id = b
        .info()
        .and_then(|i| i.bundle_id.as_ref())
        .and_then(|t| t.as_str());
    // The team id, or an older App ID's own prefix the profile declares.
    let prefixes: Vec<&str> = team
        .into_iter()
        .chain(p.app_id_prefixes.iter().map(String::as_str))
        .collect();
    if let Some(signed) = ent.get("application-identifier").and_then(Value::as_string) {
        if let (Some(team), Some(id)) = (team, id)
            && !prefixes.iter().any(|pre| signed == format!("{pre}.{id}"))
        {
            out.push((
                "application-identifier".to_owned(),
                format!("application-identifier '{signed}' in {} is not '{team}.{id}' (team id and CFBundleIdentifier)", binary.path),
            ));
        }
        if let Some(allowed_id) = &p.application_identifier
            && !glob(allowed_id, signed)
        {
            out.push((
                "application-identifier".to_owned(),
                format!("application-identifier '{signed}' in {} is not allowed by the profile's '{allowed_id}' ({})", binary.path, p.path),
            ));
        }
    }
    if let Some(groups) = ent.get("keychain-access-groups").and_then(Value::as_array) {
        let patterns = p.entitlements.get("keychain-access-groups");
        for g in groups.iter().filter_map(Value::as_string) {
            let prefixed =
                team.is_none() || prefixes.iter().any(|pre| g.starts_with(&format!("{pre}.")));
            let listed = patterns.is_some_and(|pat| allowed(pat, &Value::String(g.to_owned())));
            if !prefixed || !listed {
                out.push((
                    "keychain-access-groups".to_owned(),
                    format!(
                        "keychain-access-groups item '{g}' in {} {}",
                        binary.path,
                        if prefixed {
                            "is not allowed by the profile"
                        } else {
                            "lacks the team prefix"
                        }
                    ),
                ));
            }
        }
    }
    for (key, value) in ent {
        if matches!(
            key.as_str(),
            "application-identifier" | "keychain-access-groups"
        ) {
            continue;
        }
        match p.entitlements.get(key) {
            None => out.push((
                key.clone(),
                format!(
                    "the entitlement '{key}' in {} is not in the provisioning profile {}",
                    binary.path, p.path
                ),
            )),
            Some(pv) if !allowed(pv, value) => out.push((
                key.clone(),
                format!(
                    "the value of '{key}' in {} is not allowed by the provisioning profile {}",
                    binary.path, p.path
                ),
            )),
            Some(_) => {}
        }
    }
    out
}

/// Entry point used by ITMS-90164 (in `signing`): every app-like bundle with a parsed profile
/// and a certificate-signed executable.
pub(super) fn check_against_profiles(facts: &Facts, sink: &mut Sink) {
    for (i, b) in facts.bundles.iter().enumerate() {
        if !is_app_like(b.kind) {
            continue;
        }
        let Some(p) = b.profile.as_ref().and_then(ProfileState::parsed) else {
            continue;
        };
        let Some(binary) = certificate_signed(facts, i) else {
            continue;
        };
        let Some(ent) = binary
            .slices
            .first()
            .and_then(|s| s.entitlements.as_ref())
            .and_then(|e| e.as_ref().ok())
        else {
            continue;
        };
        let team = binary
            .slices
            .first()
            .and_then(|s| s.signature())
            .and_then(|sig| sig.code_directories.first())
            .and_then(|cd| cd.team_id.as_deref());
        for (key, message) in entitlements_vs_profile(b, binary, team, p, ent) {
            sink.emit(
                Location::key(binary.path.clone(), key),
                message,
                "sign with the profile the entitlements were requested for: enable the capability for the App ID, regenerate the profile and export again",
            );
        }
    }
}

/// The signer's certificate of a certificate-signed executable.
fn leaf(b: &Binary) -> Option<&ipagate_formats::profile::Certificate> {
    b.slices.first()?.signature()?.leaf()
}

fn check_certificate_in_profile(facts: &Facts, _: &Context, sink: &mut Sink) {
    for (i, b) in facts.bundles.iter().enumerate() {
        if !is_app_like(b.kind) {
            continue;
        }
        let Some(p) = b.profile.as_ref().and_then(ProfileState::parsed) else {
            continue;
        };
        let Some(binary) = certificate_signed(facts, i) else {
            continue;
        };
        let Some(cert) = leaf(binary) else { continue };
        if p.developer_certificates.is_empty()
            || p.developer_certificates.iter().any(|c| c.sha1 == cert.sha1)
        {
            continue;
        }
        sink.emit(
            Location::key(p.path.clone(), "DeveloperCertificates"),
            format!(
                "{} is signed with '{}' (SHA-1 {}), which is not one of the {} certificate(s) of {}",
                binary.path,
                cert.subject_cn.as_deref().unwrap_or("?"),
                cert.sha1,
                p.developer_certificates.len(),
                p.path
            ),
            "sign with a certificate the profile lists, or regenerate the profile to include the signing certificate, then export again",
        );
    }
}

fn check_certificate_expired(facts: &Facts, ctx: &Context, sink: &mut Sink) {
    let now = as_of(ctx);
    for b in &facts.binaries {
        let Some(cert) = leaf(b) else { continue };
        let Some(not_after) = cert.not_after else {
            continue;
        };
        if not_after <= now {
            sink.emit(
                Location::entry(b.path.clone()),
                format!(
                    "{} is signed with '{}', which expired on {} (as of {})",
                    b.path,
                    cert.subject_cn.as_deref().unwrap_or("?"),
                    not_after.format("%Y-%m-%d"),
                    ctx.as_of.format("%Y-%m-%d")
                ),
                "renew the signing certificate in the developer portal, regenerate the profiles that list it, and export again",
            );
        } else if not_after <= now + chrono::Duration::days(30) {
            sink.emit_as(
                Severity::Warning,
                Location::entry(b.path.clone()),
                format!(
                    "{} is signed with '{}', which expires on {}, in {} day(s)",
                    b.path,
                    cert.subject_cn.as_deref().unwrap_or("?"),
                    not_after.format("%Y-%m-%d"),
                    (not_after - now).num_days()
                ),
                "renew the signing certificate before it expires; ad-hoc, enterprise and development builds signed with it stop launching then",
            );
        }
    }
}

pub(super) static RULES: &[Rule] = &[
    rule!(
        "ITMS-90179",
        "certificate-not-in-profile",
        Error,
        All,
        check_certificate_in_profile,
        "an executable is signed with a certificate its provisioning profile does not list",
        "Compares the signer's certificate of the CMS signature of every certificate-signed app, extension, watch app and App Clip executable (matched by issuer and serial number, compared by SHA-1) with the DeveloperCertificates of the bundle's embedded.mobileprovision.\n\nApple rejects with \"The executable was signed with invalid entitlements\" / \"The signature of the binary is invalid or it was not signed with the certificate in the provisioning profile\"; a device refuses to install it.\n\nFix: sign with a certificate the profile lists, or regenerate the profile with the signing certificate."
    ),
    rule!(
        "IPAGATE-3003",
        "signing-certificate-expired",
        Error,
        All,
        check_certificate_expired,
        "a signature's certificate expired before --as-of (a warning when it expires within 30 days)",
        "Reads the signer's certificate of the CMS signature of every signed Mach-O and compares its notAfter with the start of the --as-of day: expired is an error, expiring within 30 days a warning.\n\nApp Store Connect refuses uploads signed with an expired certificate, and devices refuse to launch ad-hoc, enterprise and development builds signed with one.\n\nFix: renew the certificate, regenerate the profiles and export again."
    ),
    rule!(
        "ITMS-90161",
        "profile-invalid",
        Error,
        All,
        check_profile_valid,
        "a signed app or extension has no provisioning profile, or it is unreadable, not validly signed by Apple, expired, of the wrong kind for the distribution or for another platform",
        "Reads the embedded.mobileprovision of every app, extension, watch app and App Clip. A certificate-signed executable without one, a profile that is not a CMS-signed property list, one whose CMS signature does not verify (messageDigest of the plist, signature with the signer's key; the kind is named) or whose chain does not end at a pinned Apple root or has a certificate not valid on the --as-of day, one whose ExpirationDate is at or before the start of the --as-of day, one whose kind (formats.md 7.1: enterprise if ProvisionsAllDevices, development or ad-hoc if it lists devices - by its certificate - else app-store) is not the one --distribution needs, and one whose Platform list lacks the bundle's platform are reported.\n\nApple rejects with \"Invalid Provisioning Profile. The provisioning profile included in the bundle is invalid. [Expired profile.]\" or \"A Distribution Provisioning profile should be used when submitting apps to the App Store\".\n\nFix: export with a current profile of the right type (method app-store-connect for App Store Connect)."
    ),
    rule!(
        "IPAGATE-3002",
        "profile-expiring",
        Warning,
        All,
        check_profile_expiring,
        "a provisioning profile expires within 30 days of --as-of",
        "Warns when an embedded.mobileprovision is still valid at the start of the --as-of day but expires within 30 days.\n\nApp Store builds are re-signed by Apple, but ad-hoc, enterprise and development builds stop launching when their profile expires, and a build uploaded with an expired profile is rejected (ITMS-90161).\n\nFix: renew the profile in the developer portal and export again."
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_patterns_glob_on_a_trailing_star() {
        assert!(glob("ABCDE12345.*", "ABCDE12345.com.example.demo"));
        assert!(glob(
            "ABCDE12345.com.example.*",
            "ABCDE12345.com.example.demo"
        ));
        assert!(!glob(
            "ABCDE12345.com.other.*",
            "ABCDE12345.com.example.demo"
        ));
        assert!(glob("*", "anything"));
        assert!(!glob(
            "ABCDE12345.com.example",
            "ABCDE12345.com.example.demo"
        ));
    }

    #[test]
    fn values_are_allowed_by_type() {
        let t = Value::Boolean(true);
        let f = Value::Boolean(false);
        assert!(allowed(&t, &f) && allowed(&t, &t) && allowed(&f, &f));
        assert!(!allowed(&f, &t));
        let groups = Value::Array(vec!["T.*".into()]);
        assert!(allowed(
            &groups,
            &Value::Array(vec!["T.a".into(), "T.b".into()])
        ));
        assert!(!allowed(
            &groups,
            &Value::Array(vec!["T.a".into(), "U.b".into()])
        ));
        assert!(allowed(
            &Value::String("production".into()),
            &Value::String("production".into())
        ));
        assert!(!allowed(
            &Value::String("production".into()),
            &Value::String("development".into())
        ));
    }
}
