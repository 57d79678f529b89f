//! Provisioning profiles (`embedded.mobileprovision`, formats.md §7).
//!
//! A profile is a CMS `ContentInfo { signedData }` whose attached `eContent` is a property list
//! (XML, sometimes binary). Apple writes it in DER with definite lengths; other tools write BER
//! with indefinite lengths and constructed OCTET STRINGs, which the strict `der` decoder
//! rejects, so such input is first normalised to DER by [`ber_to_der`] (bounded in depth and
//! size). Apple's signature over the profile is verified by [`crate::trust`] ([`Profile::trust`]).
//!
//! ```text
//! ContentInfo  SEQ { contentType OID 1.2.840.113549.1.7.2, [0] SignedData }
//! SignedData   SEQ { version, digestAlgorithms SET, encapContentInfo SEQ { id-data, [0] OCTET STRING plist },
//!                    [0] certificates, signerInfos SET }
//! ```
//!
//! The kind (formats.md §7.1): `ProvisionsAllDevices` → enterprise; devices listed → development
//! if a developer certificate is a development certificate (OID `1.2.840.113635.100.6.1.2` or
//! `…6.1.12`) or, when no certificate says either way, if `get-task-allow` is true; else ad-hoc;
//! no devices → app-store.

use std::fmt;

use aws_lc_rs::digest;
use chrono::{DateTime, Utc};
use der::{Decode, Encode, Tagged};
use plist::{Dictionary, Value};

/// `id-signedData` (RFC 5652).
const ID_SIGNED_DATA: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");

/// Deepest BER nesting [`ber_to_der`] follows (a profile nests about 10 levels).
const MAX_BER_DEPTH: usize = 64;

/// Distribution kind of a profile (formats.md §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProfileKind {
    /// No devices, not enterprise: the only kind App Store Connect accepts.
    AppStore,
    /// Devices listed, distribution certificate.
    AdHoc,
    /// Devices listed, development certificate (or `get-task-allow`).
    Development,
    /// `ProvisionsAllDevices` (Apple Developer Enterprise Program).
    Enterprise,
}

impl ProfileKind {
    /// `app-store`, `ad-hoc`, `development`, `enterprise` (the `--distribution` spellings).
    pub fn as_str(self) -> &'static str {
        match self {
            ProfileKind::AppStore => "app-store",
            ProfileKind::AdHoc => "ad-hoc",
            ProfileKind::Development => "development",
            ProfileKind::Enterprise => "enterprise",
        }
    }
}

impl fmt::Display for ProfileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Apple's certificate-type extension, read from the certificate's extension OIDs (formats.md §6.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CertificateKind {
    /// `1.2.840.113635.100.6.1.4` or `…6.1.7` (iPhone/Apple Distribution).
    Distribution,
    /// `1.2.840.113635.100.6.1.2` or `…6.1.12` (iPhone Developer/Apple Development).
    Development,
    /// Neither extension.
    Other,
}

/// One X.509 certificate: fingerprints always, the rest when it parses.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Certificate {
    /// SHA-1 of the DER, lowercase hex (what `codesign -dvvv` and Xcode show).
    pub sha1: String,
    /// SHA-256 of the DER, lowercase hex.
    pub sha256: String,
    /// Subject common name (`Apple Distribution: Example Corp (ABCDE12345)`).
    pub subject_cn: Option<String>,
    /// Subject organisational unit (the team id on Apple signing certificates).
    pub subject_ou: Option<String>,
    /// End of validity.
    pub not_after: Option<DateTime<Utc>>,
    /// Distribution or development, from Apple's extension OIDs.
    pub kind: CertificateKind,
    /// Why the DER could not be read as a certificate, if it could not.
    pub problem: Option<String>,
}

const OID_DISTRIBUTION: [&str; 2] = ["1.2.840.113635.100.6.1.4", "1.2.840.113635.100.6.1.7"];
const OID_DEVELOPMENT: [&str; 2] = ["1.2.840.113635.100.6.1.2", "1.2.840.113635.100.6.1.12"];
const OID_CN: &str = "2.5.4.3";
const OID_OU: &str = "2.5.4.11";

impl Certificate {
    /// Reads a DER certificate; one that does not parse keeps its fingerprints and a problem.
    pub fn from_der(bytes: &[u8]) -> Certificate {
        let mut out = Certificate {
            sha1: crate::codesign::hex(
                digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, bytes).as_ref(),
            ),
            sha256: crate::codesign::hex(digest::digest(&digest::SHA256, bytes).as_ref()),
            subject_cn: None,
            subject_ou: None,
            not_after: None,
            kind: CertificateKind::Other,
            problem: None,
        };
        let cert = match x509_cert::Certificate::from_der(bytes) {
            Ok(c) => c,
            Err(e) => {
                out.problem = Some(format!("not an X.509 certificate: {e}"));
                return out;
            }
        };
        let tbs = &cert.tbs_certificate;
        for rdn in tbs.subject.0.iter() {
            for atv in rdn.0.iter() {
                let text = directory_string(&atv.value);
                match atv.oid.to_string().as_str() {
                    OID_CN if out.subject_cn.is_none() => out.subject_cn = text,
                    OID_OU if out.subject_ou.is_none() => out.subject_ou = text,
                    _ => {}
                }
            }
        }
        let secs = tbs.validity.not_after.to_unix_duration().as_secs();
        out.not_after = i64::try_from(secs)
            .ok()
            .and_then(|s| DateTime::from_timestamp(s, 0));
        for ext in tbs.extensions.iter().flatten() {
            let oid = ext.extn_id.to_string();
            if OID_DISTRIBUTION.contains(&oid.as_str()) {
                out.kind = CertificateKind::Distribution;
            } else if OID_DEVELOPMENT.contains(&oid.as_str()) && out.kind == CertificateKind::Other
            {
                out.kind = CertificateKind::Development;
            }
        }
        out
    }
}

/// UTF8String, PrintableString, IA5String or T61String as text.
fn directory_string(any: &der::Any) -> Option<String> {
    use der::Tag;
    match any.tag() {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::TeletexString => {
            Some(String::from_utf8_lossy(any.value()).into_owned())
        }
        _ => None,
    }
}

/// How the CMS envelope was encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// Definite lengths throughout (what Apple writes).
    Der,
    /// Indefinite lengths or constructed strings, normalised to DER before decoding.
    Ber,
    /// A bare property list with no CMS envelope (written by some tools; Apple never does).
    Unsigned,
}

/// A provisioning profile's facts.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Profile {
    /// Entry path of the `embedded.mobileprovision`.
    pub path: String,
    /// CMS encoding.
    pub encoding: Encoding,
    /// `Name`.
    pub name: Option<String>,
    /// `UUID`.
    pub uuid: Option<String>,
    /// `TeamIdentifier[]`.
    pub team_ids: Vec<String>,
    /// `TeamName`.
    pub team_name: Option<String>,
    /// `ApplicationIdentifierPrefix[]`: usually the team id; older App IDs have their own
    /// prefix (a "seed id"), which then starts `application-identifier` and keychain groups.
    pub app_id_prefixes: Vec<String>,
    /// `AppIDName`.
    pub app_id_name: Option<String>,
    /// `Entitlements.application-identifier` (macOS: `com.apple.application-identifier`; may end in `*`).
    pub application_identifier: Option<String>,
    /// `Platform[]` (`iOS`, `xrOS`, `OSX`, …).
    pub platforms: Vec<String>,
    /// `CreationDate`.
    pub creation_date: Option<DateTime<Utc>>,
    /// `ExpirationDate`.
    pub expiration_date: Option<DateTime<Utc>>,
    /// Number of `ProvisionedDevices` (`None` when the key is absent).
    pub devices_count: Option<usize>,
    /// `ProvisionsAllDevices`.
    pub provisions_all_devices: bool,
    /// `Entitlements` (in JSON: plist values as JSON; dates as RFC 3339, data as base64-free
    /// byte counts).
    #[serde(serialize_with = "entitlements_json")]
    pub entitlements: Dictionary,
    /// `DeveloperCertificates[]`.
    pub developer_certificates: Vec<Certificate>,
    /// Kind per formats.md §7.1.
    pub kind: ProfileKind,
    /// Whether the CMS verifies over the plist and chains to a trust anchor ([`crate::trust`]).
    pub trust: crate::trust::Trust,
}

impl Profile {
    /// The first `TeamIdentifier`, which Apple treats as the profile's team.
    pub fn team_id(&self) -> Option<&str> {
        self.team_ids.first().map(String::as_str)
    }

    /// Whether it expires at or before `at` (a missing `ExpirationDate` never expires).
    pub fn expired_at(&self, at: DateTime<Utc>) -> bool {
        self.expiration_date.is_some_and(|e| e <= at)
    }
}

/// A bundle's `embedded.mobileprovision`, read or not.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum ProfileState {
    /// It parsed.
    Parsed(Box<Profile>),
    /// It exists but cannot be read; the problem is worded for a message.
    Unreadable {
        /// Entry path.
        path: String,
        /// What is wrong.
        problem: String,
    },
}

impl ProfileState {
    /// The profile, if it parsed.
    pub fn parsed(&self) -> Option<&Profile> {
        match self {
            ProfileState::Parsed(p) => Some(p),
            ProfileState::Unreadable { .. } => None,
        }
    }
}

/// Why a profile cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProfileError(pub String);

/// Reads a profile from its bytes, verifying its CMS against Apple's roots. `path` is only
/// recorded in the result.
pub fn parse(path: &str, bytes: &[u8]) -> Result<Profile, ProfileError> {
    parse_with(path, bytes, crate::trust::TrustAnchors::apple())
}

/// Reads a profile from its bytes, verifying its CMS against `anchors`.
pub fn parse_with(
    path: &str,
    bytes: &[u8],
    anchors: &crate::trust::TrustAnchors,
) -> Result<Profile, ProfileError> {
    if bytes.is_empty() {
        return Err(ProfileError("empty file, not a CMS signed profile".into()));
    }
    let (plist, encoding) = if bytes.starts_with(b"bplist") || bytes.starts_with(b"<?xml") {
        (bytes.to_vec(), Encoding::Unsigned)
    } else {
        signed_content(bytes)?
    };
    let (_, dict) = crate::info_plist::parse_dictionary(&plist)
        .map_err(|e| ProfileError(format!("the signed content is {e}")))?;
    let mut profile = from_dictionary(path, encoding, &dict);
    profile.trust = crate::trust::verify_profile(bytes, anchors);
    Ok(profile)
}

/// The attached eContent of a CMS SignedData, normalising BER to DER when needed.
fn signed_content(bytes: &[u8]) -> Result<(Vec<u8>, Encoding), ProfileError> {
    match econtent(bytes) {
        Ok(c) => Ok((c, Encoding::Der)),
        Err(der_err) => {
            let normalised = match ber_to_der(bytes) {
                Ok(n) if n != bytes => n,
                _ => return Err(der_err),
            };
            econtent(&normalised)
                .map(|c| (c, Encoding::Ber))
                .map_err(|_| der_err)
        }
    }
}

/// The certificates of a CMS SignedData (a code signature's, BER or DER) and the index of the
/// signer's (matched by issuer and serial number), for certificate facts of a signature.
pub fn cms_certificates(bytes: &[u8]) -> Result<(Vec<Certificate>, Option<usize>), ProfileError> {
    let sd = match signed_data(bytes) {
        Ok(sd) => sd,
        Err(der_err) => {
            let normalised = ber_to_der(bytes).map_err(|_| der_err.clone())?;
            signed_data(&normalised).map_err(|_| der_err)?
        }
    };
    let mut certs = Vec::new();
    let mut ids = Vec::new();
    for choice in sd.certificates.iter().flat_map(|set| set.0.iter()) {
        if let cms::cert::CertificateChoices::Certificate(c) = choice {
            let der = c
                .to_der()
                .map_err(|e| ProfileError(format!("cannot re-encode a certificate: {e}")))?;
            certs.push(Certificate::from_der(&der));
            ids.push((
                c.tbs_certificate.issuer.clone(),
                c.tbs_certificate.serial_number.clone(),
            ));
        }
    }
    let signer = sd
        .signer_infos
        .0
        .iter()
        .next()
        .and_then(|si| match &si.sid {
            cms::signed_data::SignerIdentifier::IssuerAndSerialNumber(iss) => ids
                .iter()
                .position(|(i, s)| *i == iss.issuer && *s == iss.serial_number),
            cms::signed_data::SignerIdentifier::SubjectKeyIdentifier(_) => None,
        });
    Ok((certs, signer))
}

fn signed_data(bytes: &[u8]) -> Result<cms::signed_data::SignedData, ProfileError> {
    let ci = cms::content_info::ContentInfo::from_der(bytes)
        .map_err(|e| ProfileError(format!("not a CMS structure: {e}")))?;
    if ci.content_type != ID_SIGNED_DATA {
        return Err(ProfileError(format!(
            "CMS content is {}, not signed data",
            ci.content_type
        )));
    }
    ci.content
        .decode_as()
        .map_err(|e| ProfileError(format!("CMS signed data cannot be read: {e}")))
}

fn econtent(bytes: &[u8]) -> Result<Vec<u8>, ProfileError> {
    let head: String = bytes
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ");
    let ci = cms::content_info::ContentInfo::from_der(bytes).map_err(|e| {
        ProfileError(format!(
            "not a CMS signed profile (starts with {head}): {e}"
        ))
    })?;
    if ci.content_type != ID_SIGNED_DATA {
        return Err(ProfileError(format!(
            "CMS content is {}, not signed data",
            ci.content_type
        )));
    }
    let sd: cms::signed_data::SignedData = ci
        .content
        .decode_as()
        .map_err(|e| ProfileError(format!("CMS signed data cannot be read: {e}")))?;
    let content = sd
        .encap_content_info
        .econtent
        .ok_or_else(|| ProfileError("CMS signed data carries no content (detached)".into()))?;
    if content.tag() != der::Tag::OctetString {
        return Err(ProfileError(format!(
            "CMS content is a {}, not an OCTET STRING",
            content.tag()
        )));
    }
    Ok(content.value().to_vec())
}

fn from_dictionary(path: &str, encoding: Encoding, d: &Dictionary) -> Profile {
    let string = |k: &str| d.get(k).and_then(Value::as_string).map(str::to_owned);
    let strings = |k: &str| -> Vec<String> {
        d.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_string)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let date = |k: &str| {
        d.get(k)
            .and_then(Value::as_date)
            .map(|t| DateTime::<Utc>::from(std::time::SystemTime::from(t)))
    };
    let entitlements = d
        .get("Entitlements")
        .and_then(Value::as_dictionary)
        .cloned()
        .unwrap_or_default();
    let developer_certificates: Vec<Certificate> = d
        .get("DeveloperCertificates")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_data)
                .map(Certificate::from_der)
                .collect()
        })
        .unwrap_or_default();
    let devices_count = d
        .get("ProvisionedDevices")
        .and_then(Value::as_array)
        .map(Vec::len);
    let provisions_all_devices = d
        .get("ProvisionsAllDevices")
        .and_then(Value::as_boolean)
        .unwrap_or(false);
    let get_task_allow = entitlements
        .get("get-task-allow")
        .and_then(Value::as_boolean)
        .unwrap_or(false);
    let kind = classify(
        provisions_all_devices,
        devices_count.is_some(),
        get_task_allow,
        &developer_certificates,
    );
    Profile {
        path: path.to_owned(),
        encoding,
        name: string("Name"),
        uuid: string("UUID"),
        team_ids: strings("TeamIdentifier"),
        team_name: string("TeamName"),
        app_id_prefixes: strings("ApplicationIdentifierPrefix"),
        app_id_name: string("AppIDName"),
        // macOS profiles spell it `com.apple.application-identifier`.
        application_identifier: ["application-identifier", "com.apple.application-identifier"]
            .iter()
            .find_map(|k| entitlements.get(k).and_then(Value::as_string))
            .map(str::to_owned),
        platforms: strings("Platform"),
        creation_date: date("CreationDate"),
        expiration_date: date("ExpirationDate"),
        devices_count,
        provisions_all_devices,
        entitlements,
        developer_certificates,
        kind,
        trust: crate::trust::Trust::default(),
    }
}

/// formats.md §7.1, with the certificate refinement that fixes macOS development profiles.
fn classify(
    all_devices: bool,
    has_devices: bool,
    get_task_allow: bool,
    certs: &[Certificate],
) -> ProfileKind {
    if all_devices {
        return ProfileKind::Enterprise;
    }
    if !has_devices {
        return ProfileKind::AppStore;
    }
    let development = if certs.iter().any(|c| c.kind == CertificateKind::Development) {
        true
    } else if certs
        .iter()
        .any(|c| c.kind == CertificateKind::Distribution)
    {
        false
    } else {
        get_task_allow
    };
    if development {
        ProfileKind::Development
    } else {
        ProfileKind::AdHoc
    }
}

/// Re-encodes BER (indefinite lengths, constructed OCTET STRINGs) as DER lengths so the strict
/// decoder accepts it. Bounded: nesting at most [`MAX_BER_DEPTH`], output never longer than the
/// input plus a few bytes per element (definite length headers), trailing bytes rejected.
pub fn ber_to_der(input: &[u8]) -> Result<Vec<u8>, ProfileError> {
    let mut pos = 0;
    let mut out = Vec::with_capacity(input.len());
    convert(input, &mut pos, &mut out, 0)?;
    Ok(out)
}

/// One TLV at `*pos`, appended to `out` with a definite length. Returns whether it was the
/// end-of-contents marker (`00 00`).
fn convert(
    input: &[u8],
    pos: &mut usize,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<bool, ProfileError> {
    let err = |what: &str, at: usize| ProfileError(format!("BER {what} at byte {at}"));
    if depth > MAX_BER_DEPTH {
        return Err(err("nested too deep", *pos));
    }
    let start = *pos;
    let tag = *input.get(*pos).ok_or_else(|| err("truncated", start))?;
    *pos += 1;
    if tag & 0x1f == 0x1f {
        return Err(err("high tag numbers are not supported", start));
    }
    let len_byte = *input.get(*pos).ok_or_else(|| err("truncated", start))?;
    *pos += 1;
    if tag == 0 && len_byte == 0 {
        return Ok(true);
    }
    let constructed = tag & 0x20 != 0;
    let definite_len = match len_byte {
        0x80 => None,
        n if n < 0x80 => Some(usize::from(n)),
        n => {
            let count = usize::from(n & 0x7f);
            if count > 4 {
                return Err(err("length too long", start));
            }
            let mut len = 0usize;
            for _ in 0..count {
                let b = *input.get(*pos).ok_or_else(|| err("truncated", start))?;
                *pos += 1;
                len = (len << 8) | usize::from(b);
            }
            Some(len)
        }
    };
    let mut body = Vec::new();
    if constructed {
        // Constructed OCTET STRING (0x24): concatenate the primitive pieces (DER has one).
        let flatten = tag == 0x24;
        match definite_len {
            None => loop {
                let mut child = Vec::new();
                if convert(input, pos, &mut child, depth + 1)? {
                    break;
                }
                append_child(&mut body, &child, flatten);
            },
            Some(len) => {
                let end = pos
                    .checked_add(len)
                    .filter(|&e| e <= input.len())
                    .ok_or_else(|| err("length past the end", start))?;
                while *pos < end {
                    let mut child = Vec::new();
                    if convert(&input[..end], pos, &mut child, depth + 1)? {
                        return Err(err("end-of-contents inside a definite length", *pos));
                    }
                    append_child(&mut body, &child, flatten);
                }
            }
        }
        let tag = if flatten { 0x04 } else { tag };
        out.push(tag);
    } else {
        let len = definite_len.ok_or_else(|| err("indefinite length on a primitive", start))?;
        let end = pos
            .checked_add(len)
            .filter(|&e| e <= input.len())
            .ok_or_else(|| err("length past the end", start))?;
        body.extend_from_slice(&input[*pos..end]);
        *pos = end;
        out.push(tag);
    }
    write_len(out, body.len());
    out.extend_from_slice(&body);
    if depth == 0 && *pos != input.len() {
        return Err(err("trailing data", *pos));
    }
    Ok(false)
}

/// A converted child: as is, or (inside a constructed OCTET STRING) only its content octets.
fn append_child(body: &mut Vec<u8>, child: &[u8], flatten: bool) {
    if !flatten {
        body.extend_from_slice(child);
        return;
    }
    // `child` is a DER TLV we just wrote: skip its tag and length.
    let header = match child.get(1) {
        Some(&l) if l < 0x80 => 2,
        Some(&l) => 2 + usize::from(l & 0x7f),
        None => child.len(),
    };
    body.extend_from_slice(child.get(header..).unwrap_or(&[]));
}

fn write_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

fn entitlements_json<S: serde::Serializer>(d: &Dictionary, s: S) -> Result<S::Ok, S::Error> {
    use serde::Serialize;
    let map: serde_json::Map<String, serde_json::Value> =
        d.iter().map(|(k, v)| (k.clone(), plist_json(v))).collect();
    map.serialize(s)
}

/// A plist value as JSON (data as `{"bytes": n}`: entitlements never carry meaningful data).
fn plist_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Array(a) => J::Array(a.iter().map(plist_json).collect()),
        Value::Dictionary(d) => {
            J::Object(d.iter().map(|(k, v)| (k.clone(), plist_json(v))).collect())
        }
        Value::Boolean(b) => J::Bool(*b),
        Value::String(t) => J::String(t.clone()),
        Value::Integer(i) => i
            .as_signed()
            .map(J::from)
            .or_else(|| i.as_unsigned().map(J::from))
            .unwrap_or(J::Null),
        Value::Real(r) => serde_json::Number::from_f64(*r).map_or(J::Null, J::Number),
        Value::Date(d) => {
            J::String(DateTime::<Utc>::from(std::time::SystemTime::from(*d)).to_rfc3339())
        }
        Value::Data(b) => serde_json::json!({ "bytes": b.len() }),
        _ => J::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ber_indefinite_lengths_and_constructed_strings_become_der() {
        // SEQ(indef) { OCTET STRING constructed(indef) { 04 02 "ab", 04 01 "c" }, INT 5 }
        let ber = [
            0x30, 0x80, 0x24, 0x80, 0x04, 0x02, b'a', b'b', 0x04, 0x01, b'c', 0x00, 0x00, 0x02,
            0x01, 0x05, 0x00, 0x00,
        ];
        let der = ber_to_der(&ber).unwrap();
        assert_eq!(
            der,
            [0x30, 0x08, 0x04, 0x03, b'a', b'b', b'c', 0x02, 0x01, 0x05]
        );
    }

    #[test]
    fn ber_long_definite_lengths_survive() {
        let mut ber = vec![0x30, 0x80, 0x04, 0x81, 200];
        ber.extend(std::iter::repeat_n(7u8, 200));
        ber.extend([0, 0]);
        let der = ber_to_der(&ber).unwrap();
        assert_eq!(&der[..5], &[0x30, 0x81, 203, 0x04, 0x81]);
        assert_eq!(der.len(), 3 + 3 + 200);
    }

    #[test]
    fn ber_converter_is_bounded() {
        // 100 nested indefinite sequences: deeper than MAX_BER_DEPTH.
        let mut deep = Vec::new();
        for _ in 0..100 {
            deep.extend([0x30, 0x80]);
        }
        assert!(ber_to_der(&deep).unwrap_err().0.contains("nested too deep"));
        assert!(ber_to_der(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(ber_to_der(&[0x04, 0x80, 0, 0]).is_err());
        assert!(
            ber_to_der(&[0x02, 0x01, 0x05, 0x00])
                .unwrap_err()
                .0
                .contains("trailing")
        );
    }

    #[test]
    fn garbage_is_an_error_never_a_panic() {
        assert!(parse("p", b"").unwrap_err().0.contains("empty"));
        assert!(
            parse("p", b"<!DOCTYPE html>")
                .unwrap_err()
                .0
                .contains("not a CMS")
        );
        let mut seed = 0x1234_5678u32;
        for len in 0..300usize {
            let bytes: Vec<u8> = (0..len)
                .map(|i| {
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    if i < 2 {
                        [0x30, 0x80][i]
                    } else {
                        (seed >> 24) as u8
                    }
                })
                .collect();
            let _ = parse("p", &bytes);
        }
    }

    #[test]
    fn fixture_profiles_read_back_with_certificates_and_signer() {
        use ipagate_fixtures::profile::{Kind, ProfileSpec, embedded};
        let bytes = embedded(
            &ProfileSpec::of(Kind::AdHoc),
            "ABCDE12345",
            "com.example.demo",
            &Dictionary::new(),
        );
        let p = parse("Payload/Demo.app/embedded.mobileprovision", &bytes).unwrap();
        assert_eq!(p.kind, ProfileKind::AdHoc);
        assert_eq!(p.encoding, Encoding::Der);
        assert_eq!(
            p.application_identifier.as_deref(),
            Some("ABCDE12345.com.example.demo")
        );
        let cert = &p.developer_certificates[0];
        assert_eq!(cert.kind, CertificateKind::Distribution);
        assert_eq!(cert.subject_ou.as_deref(), Some("ABCDE12345"));
        assert!(
            cert.subject_cn
                .as_deref()
                .unwrap()
                .starts_with("Apple Distribution")
        );
        let (certs, signer) = cms_certificates(&bytes).unwrap();
        assert_eq!(certs.len(), 1);
        assert_eq!(signer, Some(0));
        assert!(
            certs[0]
                .subject_cn
                .as_deref()
                .unwrap()
                .contains("Test Root")
        );
        assert!(cms_certificates(&[0x30, 0x03, 0x02, 0x01, 0x00]).is_err());
    }

    /// The outer SEQUENCE re-written with an indefinite length, as BER writers do.
    fn indefinite(der: &[u8]) -> Vec<u8> {
        let header = match der[1] {
            l if l < 0x80 => 2,
            l => 2 + usize::from(l & 0x7f),
        };
        let mut out = vec![0x30, 0x80];
        out.extend_from_slice(&der[header..]);
        out.extend_from_slice(&[0, 0]);
        out
    }

    #[test]
    fn ber_profiles_are_normalised_and_marked() {
        use ipagate_fixtures::profile::{ProfileSpec, embedded};
        let der = embedded(
            &ProfileSpec::app_store(),
            "ABCDE12345",
            "com.example.demo",
            &Dictionary::new(),
        );
        let ber = indefinite(&der);
        assert_eq!(ber_to_der(&ber).unwrap(), der);
        let p = parse("p", &ber).unwrap();
        assert_eq!(p.encoding, Encoding::Ber);
        assert_eq!(p.kind, ProfileKind::AppStore);
        assert_eq!(
            p,
            Profile {
                encoding: Encoding::Ber,
                ..parse("p", &der).unwrap()
            }
        );
    }

    #[test]
    fn kind_follows_formats_7_1() {
        let dev = Certificate {
            kind: CertificateKind::Development,
            ..Certificate::from_der(b"x")
        };
        let dist = Certificate {
            kind: CertificateKind::Distribution,
            ..Certificate::from_der(b"x")
        };
        assert_eq!(classify(true, true, true, &[]), ProfileKind::Enterprise);
        assert_eq!(classify(false, false, false, &[]), ProfileKind::AppStore);
        assert_eq!(classify(false, true, true, &[]), ProfileKind::Development);
        assert_eq!(classify(false, true, false, &[]), ProfileKind::AdHoc);
        // The certificate wins over get-task-allow (macOS development profiles).
        assert_eq!(
            classify(false, true, false, &[dev]),
            ProfileKind::Development
        );
        assert_eq!(classify(false, true, true, &[dist]), ProfileKind::AdHoc);
    }

    #[test]
    fn unsigned_plist_is_read_and_marked() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><dict><key>Name</key><string>n</string><key>TeamIdentifier</key><array><string>ABCDE12345</string></array><key>Entitlements</key><dict><key>application-identifier</key><string>ABCDE12345.*</string></dict></dict></plist>"#;
        let p = parse("x/embedded.mobileprovision", xml).unwrap();
        assert_eq!(p.encoding, Encoding::Unsigned);
        assert_eq!(p.team_id(), Some("ABCDE12345"));
        assert_eq!(p.application_identifier.as_deref(), Some("ABCDE12345.*"));
        assert_eq!(p.kind, ProfileKind::AppStore);
        assert!(p.developer_certificates.is_empty());
    }
}
