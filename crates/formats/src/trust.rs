//! Trust: does a CMS `SignedData` (a code signature's, over its CodeDirectory; a profile's, over
//! its plist) verify, and does its signer's certificate chain up to a pinned root?
//!
//! Checked, in order (RFC 5652 §5.4, §5.6; Apple's attributes from `xnu`/`Security` and
//! apple-codesign's `embedded_signature_builder.rs`):
//!
//! 1. the SignedData decodes (BER normalised to DER first) and has a signer whose certificate it
//!    carries (issuer and serial number, or subject key identifier);
//! 2. with signed attributes: `contentType` (where present) names the encapsulated content type,
//!    `messageDigest` (1.2.840.113549.1.9.4) equals the digest of the
//!    signed content — detached for code signatures (the primary CodeDirectory blob), attached for
//!    profiles — and the signature is over the DER of the attributes (`SET OF`, tag `0x31`);
//!    without: the signature is over the content itself;
//! 3. the signature verifies with the signer certificate's key: RSA PKCS#1 v1.5 (SHA-1, SHA-256,
//!    SHA-384, SHA-512), ECDSA P-256/P-384, Ed25519 (what the fixture CA uses);
//! 4. Apple's cdhash attributes, where present, match the CodeDirectories:
//!    `1.2.840.113635.100.9.1` (a plist `{cdhashes: [data]}`, one 20-byte hash per CodeDirectory,
//!    in order) and `1.2.840.113635.100.9.2` (`SEQUENCE { digestAlgorithm OID, OCTET STRING }`
//!    per hash type, the full digest);
//! 5. the chain: each certificate's signature verifies with its issuer's key (issuers found among
//!    the CMS's certificates, the anchors' intermediates and roots, by subject name), ending at a
//!    certificate whose SHA-256 fingerprint is pinned in [`TrustAnchors`]; at most
//!    [`MAX_CHAIN`] links.
//!
//! Validity dates are *facts* here ([`ChainCert::not_before`], [`ChainCert::not_after`]): the
//! rules judge them against `--as-of`, so reading a package never looks at the clock.
//!
//! Apple's roots and intermediates live in `crates/formats/roots/` (see its README for where each
//! came from) and are compiled in; [`TrustAnchors::apple`] pins the roots by fingerprint. Tests
//! pass their own root with [`TrustAnchors::with_roots`]: the checks never weaken.

use std::sync::OnceLock;

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self as sig, UnparsedPublicKey, VerificationAlgorithm};
use chrono::{DateTime, Utc};
use der::oid::ObjectIdentifier;
use der::{Decode, Encode, Tagged};

use crate::codesign::{HashType, hex};

/// Most certificates followed from the signer to a root.
pub const MAX_CHAIN: usize = 8;
/// Most certificates read from one CMS (real ones carry 1 to 5).
pub const MAX_CMS_CERTIFICATES: usize = 32;

const OID_CONTENT_TYPE: &str = "1.2.840.113549.1.9.3";
const OID_MESSAGE_DIGEST: &str = "1.2.840.113549.1.9.4";
const OID_SIGNING_TIME: &str = "1.2.840.113549.1.9.5";
const OID_CDHASHES_PLIST: &str = "1.2.840.113635.100.9.1";
const OID_CDHASHES_DIGESTS: &str = "1.2.840.113635.100.9.2";
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");

/// A pinned root shipped with ipagate: file, DER, SHA-256 fingerprint.
#[derive(Debug)]
struct Pinned {
    #[allow(dead_code)] // named in test failures and Debug output
    name: &'static str,
    der: &'static [u8],
    sha256: &'static str,
}

/// Apple's roots, pinned by the SHA-256 of their DER (README in `crates/formats/roots/`).
const APPLE_ROOTS: &[Pinned] = &[
    Pinned {
        name: "Apple Root CA",
        der: include_bytes!("../roots/AppleRootCA.der"),
        sha256: "b0b1730ecbc7ff4505142c49f1295e6eda6bcaed7e2c68c5be91b5a11001f024",
    },
    Pinned {
        name: "Apple Root Certificate Authority",
        der: include_bytes!("../roots/AppleComputerRootCertificateAuthority.der"),
        sha256: "0d83b611b648a1a75eb8558400795375cad92e264ed8e9d7a757c1f5ee2bb22d",
    },
];

/// Apple's intermediates, used when a CMS leaves them out (the chain still ends at a pinned root).
const APPLE_INTERMEDIATES: &[Pinned] = &[
    Pinned {
        name: "Apple Worldwide Developer Relations Certification Authority (2008)",
        der: include_bytes!("../roots/AppleWWDRCA-2008.der"),
        sha256: "64b302913f11ca1b6806093b76cade7f7b123be0c04924fda87f5f4e8647f051",
    },
    Pinned {
        name: "Apple Worldwide Developer Relations Certification Authority (2013)",
        der: include_bytes!("../roots/AppleWWDRCA-2013.der"),
        sha256: "ce057691d730f89ca25e916f7335f4c8a15713dcd273a658c024023f8eb809c2",
    },
    Pinned {
        name: "Apple Worldwide Developer Relations Certification Authority G3",
        der: include_bytes!("../roots/AppleWWDRCAG3.der"),
        sha256: "dcf21878c77f4198e4b4614f03d696d89c66c66008d4244e1b99161aac91601f",
    },
    Pinned {
        name: "Apple iPhone Certification Authority (2007)",
        der: include_bytes!("../roots/AppleiPhoneCA-2007.der"),
        sha256: "e4e2936d3c076ec4aea8ac37277524950ca005894b39bba2d347fa33155ae5fa",
    },
    Pinned {
        name: "Apple iPhone Certification Authority (2017)",
        der: include_bytes!("../roots/AppleiPhoneCA-2017.der"),
        sha256: "c6a6f35c3bee9a9413a063919f61b8400f50f708ac867f462c2d029ba9505ed2",
    },
    Pinned {
        name: "Apple Code Signing Certification Authority",
        der: include_bytes!("../roots/AppleCodeSigningCA.der"),
        sha256: "5bdab1288fc16892fef50c658db54f1e2e19cf8f71cc55f77de2b95e051e2562",
    },
];

/// A certificate held as its DER with the parts the chain needs.
#[derive(Debug, Clone)]
struct Cert {
    der: Vec<u8>,
    sha256: String,
    parsed: x509_cert::Certificate,
}

impl Cert {
    fn from_der(der: &[u8]) -> Result<Cert, String> {
        let parsed = x509_cert::Certificate::from_der(der)
            .map_err(|e| format!("not an X.509 certificate: {e}"))?;
        Ok(Cert {
            der: der.to_vec(),
            sha256: hex(digest::digest(&digest::SHA256, der).as_ref()),
            parsed,
        })
    }

    fn subject_cn(&self) -> String {
        let cn = crate::profile::Certificate::from_der(&self.der).subject_cn;
        cn.unwrap_or_else(|| self.parsed.tbs_certificate.subject.to_string())
    }
}

/// The certificates a chain may end at (roots, pinned by SHA-256) and intermediates that may
/// complete a chain whose CMS leaves them out.
#[derive(Debug, Clone)]
pub struct TrustAnchors {
    /// Compiled-in certificates parsed on first use (a run that verifies no signature never
    /// decodes them): roots, intermediates.
    pinned: Option<(&'static [Pinned], &'static [Pinned])>,
    /// Roots and intermediates, parsed.
    parsed: OnceLock<(Vec<Cert>, Vec<Cert>)>,
}

/// Why a trust root given to ipagate cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("trust root is not a DER X.509 certificate: {0}")]
pub struct TrustAnchorError(String);

impl TrustAnchors {
    /// Apple's roots (pinned by fingerprint) and intermediates, compiled in.
    pub fn apple() -> &'static TrustAnchors {
        static APPLE: OnceLock<TrustAnchors> = OnceLock::new();
        APPLE.get_or_init(|| TrustAnchors {
            pinned: Some((APPLE_ROOTS, APPLE_INTERMEDIATES)),
            parsed: OnceLock::new(),
        })
    }

    fn sets(&self) -> &(Vec<Cert>, Vec<Cert>) {
        self.parsed.get_or_init(|| match self.pinned {
            Some((roots, intermediates)) => (pinned(roots), pinned(intermediates)),
            None => (Vec::new(), Vec::new()),
        })
    }

    fn roots(&self) -> &[Cert] {
        &self.sets().0
    }

    fn intermediates(&self) -> &[Cert] {
        &self.sets().1
    }

    /// Only the given roots (DER certificates; PEM is not read), no intermediates: what tests
    /// pass for the fixture CA (`--trust-root`).
    pub fn with_roots<'a>(
        roots: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<TrustAnchors, TrustAnchorError> {
        let roots = roots
            .into_iter()
            .map(|d| Cert::from_der(d).map_err(TrustAnchorError))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TrustAnchors {
            pinned: None,
            parsed: OnceLock::from((roots, Vec::new())),
        })
    }

    /// SHA-256 fingerprints of the roots, lowercase hex.
    pub fn root_fingerprints(&self) -> Vec<&str> {
        self.roots().iter().map(|c| c.sha256.as_str()).collect()
    }

    fn is_root(&self, c: &Cert) -> bool {
        self.roots().iter().any(|r| r.der == c.der)
    }
}

/// The compiled-in certificates whose fingerprint matches (a mismatch drops the certificate, and
/// the unit test `pinned_fingerprints_match` fails).
fn pinned(list: &[Pinned]) -> Vec<Cert> {
    list.iter()
        .filter_map(|p| Cert::from_der(p.der).ok().filter(|c| c.sha256 == p.sha256))
        .collect()
}

/// What went wrong, as a kind a rule can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrustProblem {
    /// The CMS does not decode, has no signer, or a certificate does not parse.
    Malformed,
    /// The signer's certificate is not among the CMS's certificates.
    SignerCertificateMissing,
    /// A digest or signature algorithm ipagate does not verify.
    UnsupportedAlgorithm,
    /// `messageDigest` differs from the digest of the signed content.
    MessageDigestMismatch,
    /// The signature does not verify with the signer certificate's key.
    SignatureInvalid,
    /// Apple's cdhashes attribute does not list the CodeDirectories' hashes.
    CdhashMismatch,
    /// A certificate's signature does not verify with its issuer's key, or no issuer is found.
    ChainBroken,
    /// The chain ends at a self-signed certificate that is not pinned (not Apple's root).
    UntrustedRoot,
}

impl TrustProblem {
    /// Whether the CMS itself is wrong (as opposed to its certificate chain).
    pub fn is_signature_problem(self) -> bool {
        !matches!(
            self,
            TrustProblem::ChainBroken | TrustProblem::UntrustedRoot
        )
    }
}

/// One certificate of a verified chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChainCert {
    /// Subject common name (else the whole subject).
    pub subject: String,
    /// SHA-256 of the DER, lowercase hex.
    pub sha256: String,
    /// Start of validity.
    pub not_before: Option<DateTime<Utc>>,
    /// End of validity.
    pub not_after: Option<DateTime<Utc>>,
}

impl ChainCert {
    /// Whether the certificate is valid at `at`.
    pub fn valid_at(&self, at: DateTime<Utc>) -> bool {
        self.not_before.is_none_or(|b| b <= at) && self.not_after.is_none_or(|a| at < a)
    }
}

/// The trust verdict of one CMS signature.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Trust {
    /// The CMS verifies and the chain ends at a pinned root.
    Verified {
        /// Signer first, root last.
        chain: Vec<ChainCert>,
        /// The `signingTime` signed attribute, if present.
        signing_time: Option<DateTime<Utc>>,
    },
    /// It does not verify.
    Untrusted {
        /// The kind.
        problem: TrustProblem,
        /// What exactly, worded for a message.
        detail: String,
        /// The chain as far as it was followed (for a chain problem).
        chain: Vec<ChainCert>,
    },
    /// Nothing to verify (ad-hoc signature, unsigned profile).
    Skipped {
        /// Why.
        why: String,
    },
}

impl Default for Trust {
    fn default() -> Self {
        Trust::Skipped {
            why: "no CMS signature".into(),
        }
    }
}

impl Trust {
    /// Verified.
    pub fn is_verified(&self) -> bool {
        matches!(self, Trust::Verified { .. })
    }

    /// The problem, if untrusted.
    pub fn problem(&self) -> Option<TrustProblem> {
        match self {
            Trust::Untrusted { problem, .. } => Some(*problem),
            _ => None,
        }
    }

    fn untrusted(problem: TrustProblem, detail: impl Into<String>) -> Trust {
        Trust::Untrusted {
            problem,
            detail: detail.into(),
            chain: Vec::new(),
        }
    }
}

/// What the signed content is.
#[derive(Debug, Clone, Copy)]
pub enum Content<'a> {
    /// Detached: the bytes signed (a code signature's primary CodeDirectory), and every
    /// CodeDirectory with its hash type for the cdhash attributes.
    Detached {
        /// The primary CodeDirectory blob.
        signed: &'a [u8],
        /// Every CodeDirectory blob (primary first) with its hash type.
        code_directories: &'a [(HashType, &'a [u8])],
    },
    /// Attached: the eContent of the SignedData (a profile's plist).
    Attached,
}

// ---------------------------------------------------------------------------------------------
// A minimal DER walker for the raw bytes the signature covers (the cms crate re-sorts SETs when
// decoding, so re-encoding its values is not guaranteed to give the signed bytes back).

/// One TLV split off the front: (tag, whole TLV, content, what follows).
type Tlv<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);

/// The TLV at the start of `input` (definite lengths only, at most 4 length octets).
fn tlv(input: &[u8]) -> Option<Tlv<'_>> {
    let tag = *input.first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let first = *input.get(1)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*input.get(2 + i)?);
        }
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    let whole = input.get(..end)?;
    Some((tag, whole, &whole[header..], &input[end..]))
}

/// The raw parts of a DER SignedData the signature math needs.
struct RawSignedData<'a> {
    certificates: Vec<&'a [u8]>,
    /// Each SignerInfo's `[0] IMPLICIT` signed attributes TLV, in the order written (the `cms`
    /// crate sorts the SET of SignerInfos when decoding; see [`pick_signed_attrs`]).
    signed_attrs: Vec<Option<&'a [u8]>>,
}

/// Most SignerInfos looked at (Apple writes one).
const MAX_SIGNERS: usize = 8;

fn raw_signed_data(der: &[u8]) -> Option<RawSignedData<'_>> {
    let (_, _, ci, _) = tlv(der)?; // ContentInfo SEQUENCE
    let (_, _, _, rest) = tlv(ci)?; // contentType OID
    let (_, _, explicit, _) = tlv(rest)?; // [0] EXPLICIT
    let (_, _, sd, _) = tlv(explicit)?; // SignedData SEQUENCE
    let (_, _, _, rest) = tlv(sd)?; // version
    let (_, _, _, rest) = tlv(rest)?; // digestAlgorithms
    let (_, _, _, mut rest) = tlv(rest)?; // encapContentInfo
    let mut certificates = Vec::new();
    let mut signer_infos = None;
    while !rest.is_empty() {
        let (tag, _, content, next) = tlv(rest)?;
        match tag {
            0xa0 => {
                let mut certs = content;
                while !certs.is_empty() && certificates.len() < MAX_CMS_CERTIFICATES {
                    let (ctag, whole, _, more) = tlv(certs)?;
                    if ctag == 0x30 {
                        certificates.push(whole);
                    }
                    certs = more;
                }
            }
            0x31 => signer_infos = Some(content),
            _ => {}
        }
        rest = next;
    }
    let mut signed_attrs = Vec::new();
    let mut infos = signer_infos.unwrap_or_default();
    while !infos.is_empty() && signed_attrs.len() < MAX_SIGNERS {
        let (_, _, si, next) = tlv(infos)?;
        let (_, _, _, rest) = tlv(si)?; // version
        let (_, _, _, rest) = tlv(rest)?; // sid
        let (_, _, _, rest) = tlv(rest)?; // digestAlgorithm
        signed_attrs.push(tlv(rest).and_then(|(tag, whole, _, _)| (tag == 0xa0).then_some(whole)));
        infos = next;
    }
    Some(RawSignedData {
        certificates,
        signed_attrs,
    })
}

/// The first element of a SEQUENCE (a certificate's TBSCertificate), raw.
fn first_element(der: &[u8]) -> Option<&[u8]> {
    let (_, _, content, _) = tlv(der)?;
    tlv(content).map(|(_, whole, _, _)| whole)
}

// ---------------------------------------------------------------------------------------------
// Algorithms

fn digest_algorithm(oid: &ObjectIdentifier) -> Option<&'static digest::Algorithm> {
    match oid.to_string().as_str() {
        "1.3.14.3.2.26" => Some(&digest::SHA1_FOR_LEGACY_USE_ONLY),
        "2.16.840.1.101.3.4.2.1" => Some(&digest::SHA256),
        "2.16.840.1.101.3.4.2.2" => Some(&digest::SHA384),
        "2.16.840.1.101.3.4.2.3" => Some(&digest::SHA512),
        _ => None,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Hash {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

fn hash_of(alg: &'static digest::Algorithm) -> Option<Hash> {
    if alg == &digest::SHA1_FOR_LEGACY_USE_ONLY {
        Some(Hash::Sha1)
    } else if alg == &digest::SHA256 {
        Some(Hash::Sha256)
    } else if alg == &digest::SHA384 {
        Some(Hash::Sha384)
    } else if alg == &digest::SHA512 {
        Some(Hash::Sha512)
    } else {
        None
    }
}

/// The verification algorithm for a signature made with `signature_oid` (and, for a bare
/// `rsaEncryption`, the digest `digest_hash`) by a key described by `spki`.
fn verification(
    signature_oid: &ObjectIdentifier,
    digest_hash: Option<Hash>,
    spki: &x509_cert::spki::SubjectPublicKeyInfoOwned,
) -> Result<&'static dyn VerificationAlgorithm, String> {
    let sig_oid = signature_oid.to_string();
    let hash = match sig_oid.as_str() {
        "1.2.840.113549.1.1.5" | "1.2.840.10045.4.1" => Some(Hash::Sha1),
        "1.2.840.113549.1.1.11" | "1.2.840.10045.4.3.2" => Some(Hash::Sha256),
        "1.2.840.113549.1.1.12" | "1.2.840.10045.4.3.3" => Some(Hash::Sha384),
        "1.2.840.113549.1.1.13" | "1.2.840.10045.4.3.4" => Some(Hash::Sha512),
        "1.2.840.113549.1.1.1" | "1.2.840.10045.2.1" => digest_hash,
        _ => None,
    };
    let key_oid = spki.algorithm.oid.to_string();
    let unsupported = || format!("signature algorithm {sig_oid} with a {key_oid} key");
    // The signature's family must be the key's: an RSA OID never selects ECDSA, and back.
    let rsa_sig = sig_oid.starts_with("1.2.840.113549.1.1.");
    let ec_sig = sig_oid.starts_with("1.2.840.10045.");
    match key_oid.as_str() {
        "1.2.840.113549.1.1.1" if rsa_sig => Ok(match hash.ok_or_else(unsupported)? {
            Hash::Sha1 => &sig::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
            Hash::Sha256 => &sig::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
            Hash::Sha384 => &sig::RSA_PKCS1_2048_8192_SHA384,
            Hash::Sha512 => &sig::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY,
        }),
        "1.2.840.10045.2.1" if ec_sig => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                .map(|o| o.to_string());
            match (curve.as_deref(), hash.ok_or_else(unsupported)?) {
                (Some("1.2.840.10045.3.1.7"), Hash::Sha256) => Ok(&sig::ECDSA_P256_SHA256_ASN1),
                (Some("1.2.840.10045.3.1.7"), Hash::Sha384) => Ok(&sig::ECDSA_P256_SHA384_ASN1),
                (Some("1.3.132.0.34"), Hash::Sha256) => Ok(&sig::ECDSA_P384_SHA256_ASN1),
                (Some("1.3.132.0.34"), Hash::Sha384) => Ok(&sig::ECDSA_P384_SHA384_ASN1),
                _ => Err(unsupported()),
            }
        }
        "1.3.101.112" if sig_oid == "1.3.101.112" => Ok(&sig::ED25519),
        _ => Err(unsupported()),
    }
}

fn verify_with(
    alg: &'static dyn VerificationAlgorithm,
    spki: &x509_cert::spki::SubjectPublicKeyInfoOwned,
    message: &[u8],
    signature: &[u8],
) -> bool {
    let key = spki.subject_public_key.raw_bytes();
    UnparsedPublicKey::new(alg, key)
        .verify(message, signature)
        .is_ok()
}

// ---------------------------------------------------------------------------------------------
// Verification

/// Verifies the CMS `bytes` (DER or BER) over `content` and its chain against `anchors`.
pub fn verify(bytes: &[u8], content: Content<'_>, anchors: &TrustAnchors) -> Trust {
    // DER as Apple writes profiles; BER (indefinite lengths, as in every code signature) is
    // normalised first. Decoded once either way.
    let normalised;
    let (der, sd) = match decode_signed_data(bytes) {
        Ok(sd) => (bytes, sd),
        Err(e) => {
            normalised = match crate::profile::ber_to_der(bytes) {
                Ok(n) if n != bytes => n,
                _ => return Trust::untrusted(TrustProblem::Malformed, e),
            };
            match decode_signed_data(&normalised) {
                Ok(sd) => (normalised.as_slice(), sd),
                Err(e) => return Trust::untrusted(TrustProblem::Malformed, e),
            }
        }
    };
    let Some(raw) = raw_signed_data(der) else {
        return Trust::untrusted(
            TrustProblem::Malformed,
            "the SignedData's structure cannot be walked",
        );
    };
    let mut certs = Vec::new();
    for (i, c) in raw.certificates.iter().enumerate() {
        match Cert::from_der(c) {
            Ok(c) => certs.push(c),
            Err(e) => {
                return Trust::untrusted(TrustProblem::Malformed, format!("certificate {i}: {e}"));
            }
        }
    }
    let Some(si) = sd.signer_infos.0.iter().next() else {
        return Trust::untrusted(TrustProblem::Malformed, "the SignedData has no signer");
    };
    let signer = certs.iter().find(|c| match &si.sid {
        cms::signed_data::SignerIdentifier::IssuerAndSerialNumber(iss) => {
            c.parsed.tbs_certificate.issuer == iss.issuer
                && c.parsed.tbs_certificate.serial_number == iss.serial_number
        }
        cms::signed_data::SignerIdentifier::SubjectKeyIdentifier(ski) => {
            subject_key_id(&c.parsed).is_some_and(|k| k == ski.0.as_bytes())
        }
    });
    let Some(signer) = signer else {
        return Trust::untrusted(
            TrustProblem::SignerCertificateMissing,
            format!(
                "the signer's certificate is not among the {} the signature carries",
                certs.len()
            ),
        );
    };
    // The signed content.
    let attached;
    let (signed, code_directories): (&[u8], &[(HashType, &[u8])]) = match content {
        Content::Detached {
            signed,
            code_directories,
        } => (signed, code_directories),
        Content::Attached => match &sd.encap_content_info.econtent {
            Some(c) => {
                attached = c.value().to_vec();
                (&attached, &[])
            }
            None => {
                return Trust::untrusted(
                    TrustProblem::Malformed,
                    "the SignedData carries no content (detached)",
                );
            }
        },
    };
    let Some(digest_alg) = digest_algorithm(&si.digest_alg.oid) else {
        return Trust::untrusted(
            TrustProblem::UnsupportedAlgorithm,
            format!("digest algorithm {}", si.digest_alg.oid),
        );
    };
    let content_digest = digest::digest(digest_alg, signed);
    let mut signing_time = None;
    let message: Vec<u8> = match (&si.signed_attrs, pick_signed_attrs(&raw, si)) {
        (Some(attrs), Some(raw_attrs)) => {
            let mut md = None;
            for a in attrs.iter() {
                let oid = a.oid.to_string();
                let Some(value) = a.values.iter().next() else {
                    continue;
                };
                match oid.as_str() {
                    OID_CONTENT_TYPE => {
                        let declared = value.decode_as::<ObjectIdentifier>().ok();
                        if declared != Some(sd.encap_content_info.econtent_type) {
                            return Trust::untrusted(
                                TrustProblem::Malformed,
                                format!(
                                    "the signed contentType attribute does not name the content type {}",
                                    sd.encap_content_info.econtent_type
                                ),
                            );
                        }
                    }
                    OID_MESSAGE_DIGEST => md = Some(value.value().to_vec()),
                    OID_SIGNING_TIME => signing_time = attribute_time(value),
                    OID_CDHASHES_PLIST => {
                        if let Err(e) = check_cdhash_plist(value.value(), code_directories) {
                            return Trust::untrusted(TrustProblem::CdhashMismatch, e);
                        }
                    }
                    OID_CDHASHES_DIGESTS => {
                        for v in a.values.iter() {
                            if let Err(e) = check_cdhash_digest(v, code_directories) {
                                return Trust::untrusted(TrustProblem::CdhashMismatch, e);
                            }
                        }
                    }
                    _ => {}
                }
            }
            let Some(md) = md else {
                return Trust::untrusted(
                    TrustProblem::Malformed,
                    "the signed attributes have no messageDigest",
                );
            };
            if md != content_digest.as_ref() {
                return Trust::untrusted(
                    TrustProblem::MessageDigestMismatch,
                    format!(
                        "messageDigest {} but the signed content digests to {}",
                        short(&md),
                        short(content_digest.as_ref())
                    ),
                );
            }
            // The signature covers the attributes re-tagged as a SET OF (RFC 5652 §5.4).
            let mut m = raw_attrs.to_vec();
            m[0] = 0x31;
            m
        }
        (None, _) => signed.to_vec(),
        (Some(_), None) => {
            return Trust::untrusted(
                TrustProblem::Malformed,
                "the signed attributes cannot be located",
            );
        }
    };
    let spki = &signer.parsed.tbs_certificate.subject_public_key_info;
    let alg = match verification(&si.signature_algorithm.oid, hash_of(digest_alg), spki) {
        Ok(a) => a,
        Err(e) => return Trust::untrusted(TrustProblem::UnsupportedAlgorithm, e),
    };
    if !verify_with(alg, spki, &message, si.signature.as_bytes()) {
        return Trust::untrusted(
            TrustProblem::SignatureInvalid,
            format!(
                "the signature does not verify with the key of '{}'",
                signer.subject_cn()
            ),
        );
    }
    match chain(signer, &certs, anchors) {
        Ok(chain) => Trust::Verified {
            chain,
            signing_time,
        },
        Err((problem, detail, chain)) => Trust::Untrusted {
            problem,
            detail,
            chain,
        },
    }
}

/// The raw signed attributes of `si`: the only SignerInfo's, or among several the one whose
/// bytes are what `si`'s attributes encode to (the decoder may have reordered the SignerInfos).
fn pick_signed_attrs<'a>(
    raw: &RawSignedData<'a>,
    si: &cms::signed_data::SignerInfo,
) -> Option<&'a [u8]> {
    if let [only] = raw.signed_attrs.as_slice() {
        return *only;
    }
    let encoded = si.signed_attrs.as_ref()?.to_der().ok()?;
    raw.signed_attrs
        .iter()
        .flatten()
        .copied()
        .find(|r| r.get(1..) == encoded.get(1..))
}

fn decode_signed_data(bytes: &[u8]) -> Result<cms::signed_data::SignedData, String> {
    let ci = cms::content_info::ContentInfo::from_der(bytes)
        .map_err(|e| format!("not a CMS structure: {e}"))?;
    if ci.content_type != ID_SIGNED_DATA {
        return Err(format!(
            "CMS content is {}, not signed data",
            ci.content_type
        ));
    }
    ci.content
        .decode_as()
        .map_err(|e| format!("CMS signed data cannot be read: {e}"))
}

fn subject_key_id(c: &x509_cert::Certificate) -> Option<Vec<u8>> {
    c.tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id.to_string() == "2.5.29.14")
        .and_then(|e| der::asn1::OctetString::from_der(e.extn_value.as_bytes()).ok())
        .map(|o| o.as_bytes().to_vec())
}

fn attribute_time(value: &der::Any) -> Option<DateTime<Utc>> {
    let secs = match value.decode_as::<der::asn1::UtcTime>() {
        Ok(t) => t.to_unix_duration().as_secs(),
        Err(_) => value
            .decode_as::<der::asn1::GeneralizedTime>()
            .ok()?
            .to_unix_duration()
            .as_secs(),
    };
    let secs = i64::try_from(secs).ok()?;
    DateTime::from_timestamp(secs, 0)
}

fn short(b: &[u8]) -> String {
    let h = hex(b);
    if h.len() > 16 {
        format!("{}…", &h[..16])
    } else {
        h
    }
}

/// `1.2.840.113635.100.9.1`: a plist `{cdhashes = (data, ...)}`, each the CodeDirectory's
/// hash cut to 20 bytes, in CodeDirectory order.
fn check_cdhash_plist(
    plist_bytes: &[u8],
    code_directories: &[(HashType, &[u8])],
) -> Result<(), String> {
    let (_, dict) = crate::info_plist::parse_dictionary(plist_bytes)
        .map_err(|e| format!("the cdhashes attribute is not a property list: {}", e.0))?;
    let listed: Vec<&[u8]> = dict
        .get("cdhashes")
        .and_then(plist::Value::as_array)
        .map(|a| a.iter().filter_map(plist::Value::as_data).collect())
        .unwrap_or_default();
    if listed.len() != code_directories.len() {
        return Err(format!(
            "the cdhashes attribute lists {} hashes for {} CodeDirectories",
            listed.len(),
            code_directories.len()
        ));
    }
    for (i, ((ht, cd), want)) in code_directories.iter().zip(listed).enumerate() {
        let got = ht.digest(cd, want.len()).unwrap_or_default();
        if got != want {
            return Err(format!(
                "the cdhashes attribute lists {} for CodeDirectory {i} ({ht}), which hashes to {}",
                short(want),
                short(&got)
            ));
        }
    }
    Ok(())
}

/// `1.2.840.113635.100.9.2`: `SEQUENCE { OID, OCTET STRING }`, the full digest of the
/// CodeDirectory of that hash type.
fn check_cdhash_digest(
    value: &der::Any,
    code_directories: &[(HashType, &[u8])],
) -> Result<(), String> {
    if value.tag() != der::Tag::Sequence {
        return Err("the cdhashes2 attribute is not a SEQUENCE".into());
    }
    let seq = value.value();
    let (tag, oid_tlv, _, rest) = tlv(seq).ok_or("the cdhashes2 attribute is truncated")?;
    if tag != 0x06 {
        return Err("the cdhashes2 attribute does not start with an OID".into());
    }
    let oid = ObjectIdentifier::from_der(oid_tlv)
        .map_err(|e| format!("the cdhashes2 attribute's OID: {e}"))?;
    let (_, _, want, _) = tlv(rest).ok_or("the cdhashes2 attribute has no digest")?;
    let ht = match oid.to_string().as_str() {
        "1.3.14.3.2.26" => HashType::Sha1,
        "2.16.840.1.101.3.4.2.1" => HashType::Sha256,
        "2.16.840.1.101.3.4.2.2" => HashType::Sha384,
        "2.16.840.1.101.3.4.2.3" => HashType::Sha512,
        other => return Err(format!("the cdhashes2 attribute names digest {other}")),
    };
    let Some((_, cd)) = code_directories
        .iter()
        .find(|(t, _)| *t == ht || (ht == HashType::Sha256 && *t == HashType::Sha256Truncated))
    else {
        return Err(format!(
            "the cdhashes2 attribute names a {ht} CodeDirectory the signature does not have"
        ));
    };
    let got = ht.digest(cd, want.len()).unwrap_or_default();
    if got != want {
        return Err(format!(
            "the cdhashes2 attribute lists {} for the {ht} CodeDirectory, which hashes to {}",
            short(want),
            short(&got)
        ));
    }
    Ok(())
}

fn chain_cert(c: &Cert) -> ChainCert {
    let v = &c.parsed.tbs_certificate.validity;
    let time = |t: &x509_cert::time::Time| {
        i64::try_from(t.to_unix_duration().as_secs())
            .ok()
            .and_then(|s| DateTime::from_timestamp(s, 0))
    };
    ChainCert {
        subject: c.subject_cn(),
        sha256: c.sha256.clone(),
        not_before: time(&v.not_before),
        not_after: time(&v.not_after),
    }
}

/// Whether `issuer`'s key verifies `subject`'s certificate signature.
fn issued_by(subject: &Cert, issuer: &Cert) -> bool {
    if subject.parsed.tbs_certificate.issuer != issuer.parsed.tbs_certificate.subject {
        return false;
    }
    let Some(tbs) = first_element(&subject.der) else {
        return false;
    };
    let spki = &issuer.parsed.tbs_certificate.subject_public_key_info;
    let Ok(alg) = verification(&subject.parsed.signature_algorithm.oid, None, spki) else {
        return false;
    };
    let Some(signature) = subject.parsed.signature.as_bytes() else {
        return false;
    };
    verify_with(alg, spki, tbs, signature)
}

type ChainError = (TrustProblem, String, Vec<ChainCert>);

fn chain(
    leaf: &Cert,
    carried: &[Cert],
    anchors: &TrustAnchors,
) -> Result<Vec<ChainCert>, ChainError> {
    let mut out = vec![chain_cert(leaf)];
    let mut current = leaf.clone();
    for _ in 0..MAX_CHAIN {
        if anchors.is_root(&current) {
            return Ok(out);
        }
        // Roots first (a pinned root beats a same-named one the signer carried), then the
        // signature's own certificates, then the compiled-in intermediates.
        let issuer = anchors
            .roots()
            .iter()
            .chain(carried)
            .chain(anchors.intermediates())
            .find(|c| c.der != current.der && issued_by(&current, c));
        let self_signed =
            current.parsed.tbs_certificate.issuer == current.parsed.tbs_certificate.subject;
        match issuer {
            Some(next) => {
                out.push(chain_cert(next));
                current = next.clone();
            }
            None if self_signed => {
                return Err((
                    TrustProblem::UntrustedRoot,
                    format!(
                        "the chain ends at '{}' (SHA-256 {}), which is not a pinned root",
                        current.subject_cn(),
                        current.sha256.get(..16).unwrap_or_default()
                    ),
                    out,
                ));
            }
            None => {
                return Err((
                    TrustProblem::ChainBroken,
                    format!(
                        "no certificate for the issuer of '{}' ({}) verifies its signature",
                        current.subject_cn(),
                        current.parsed.tbs_certificate.issuer
                    ),
                    out,
                ));
            }
        }
    }
    Err((
        TrustProblem::ChainBroken,
        format!("the chain is longer than {MAX_CHAIN} certificates"),
        out,
    ))
}

/// Verifies a profile's CMS (attached content). An unsigned (bare plist) profile is skipped.
pub fn verify_profile(bytes: &[u8], anchors: &TrustAnchors) -> Trust {
    if bytes.starts_with(b"bplist") || bytes.starts_with(b"<?xml") {
        return Trust::Skipped {
            why: "the profile is a bare property list, not CMS signed".into(),
        };
    }
    verify(bytes, Content::Attached, anchors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_fingerprints_match() {
        for p in APPLE_ROOTS.iter().chain(APPLE_INTERMEDIATES) {
            let got = hex(digest::digest(&digest::SHA256, p.der).as_ref());
            assert_eq!(got, p.sha256, "{}", p.name);
            assert!(Cert::from_der(p.der).is_ok(), "{}", p.name);
        }
        let apple = TrustAnchors::apple();
        assert_eq!(apple.roots().len(), APPLE_ROOTS.len());
        assert_eq!(apple.intermediates().len(), APPLE_INTERMEDIATES.len());
        // Every intermediate is issued by a pinned root (checked with the real signature).
        for i in apple.intermediates() {
            assert!(
                apple.roots().iter().any(|r| issued_by(i, r)),
                "{}",
                i.subject_cn()
            );
        }
    }

    #[test]
    fn garbage_is_malformed_never_a_panic() {
        let anchors = TrustAnchors::apple();
        let cds: &[(HashType, &[u8])] = &[];
        let detached = Content::Detached {
            signed: b"cd",
            code_directories: cds,
        };
        for bytes in [
            &b""[..],
            b"\x30",
            b"\x30\x84\xff\xff\xff\xff",
            b"\x30\x80\x00\x00",
            b"\x30\x03\x02\x01\x00",
            // ContentInfo with id-data instead of id-signedData.
            b"\x30\x0f\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x01\xa0\x02\x04\x00",
        ] {
            let t = verify(bytes, detached, anchors);
            assert_eq!(
                t.problem(),
                Some(TrustProblem::Malformed),
                "{bytes:?}: {t:?}"
            );
        }
        let mut seed = 0x9e37_79b9u32;
        for len in 0..400usize {
            let bytes: Vec<u8> = (0..len)
                .map(|i| {
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    if i < 2 {
                        [0x30, 0x82][i]
                    } else {
                        (seed >> 24) as u8
                    }
                })
                .collect();
            assert!(!verify(&bytes, detached, anchors).is_verified());
        }
        assert!(tlv(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_none());
        assert!(tlv(&[0x1f, 0x01, 0x00]).is_none());
    }

    use ipagate_fixtures::profile::{
        CmsFault, Identity, ProfileSpec, code_signature_cms, embedded, test_root_certificate,
    };

    fn test_root() -> TrustAnchors {
        TrustAnchors::with_roots([test_root_certificate().as_slice()]).unwrap()
    }

    /// A fixture code signature over two fake CodeDirectories, verified against `anchors`.
    fn code_signature(fault: CmsFault, anchors: &TrustAnchors) -> Trust {
        let (cd1, cd256) = (b"a SHA-1 CodeDirectory".to_vec(), b"a SHA-256 one".to_vec());
        let id = Identity {
            fault,
            ..Identity::default()
        };
        let cms = code_signature_cms("ABCDE12345", id, &cd1, &[(1, &cd1), (2, &cd256)]);
        let cds: &[(HashType, &[u8])] = &[(HashType::Sha1, &cd1), (HashType::Sha256, &cd256)];
        verify(
            &cms,
            Content::Detached {
                signed: &cd1,
                code_directories: cds,
            },
            anchors,
        )
    }

    #[test]
    fn fixture_code_signatures_verify_against_the_test_root_only() {
        let t = code_signature(CmsFault::None, &test_root());
        let Trust::Verified {
            chain,
            signing_time,
        } = &t
        else {
            panic!("{t:?}");
        };
        assert_eq!(chain.len(), 2);
        assert!(
            chain[0]
                .subject
                .starts_with("Apple Distribution: Example Corp")
        );
        assert!(chain[1].subject.contains("ipagate Test Root CA"));
        assert_eq!(
            signing_time.map(|t| t.timestamp()),
            Some(ipagate_fixtures::profile::ISSUED as i64)
        );
        // The same bytes against Apple's roots: a valid CMS whose chain is not Apple's.
        let apple = code_signature(CmsFault::None, TrustAnchors::apple());
        assert_eq!(
            apple.problem(),
            Some(TrustProblem::UntrustedRoot),
            "{apple:?}"
        );
    }

    #[test]
    fn each_cms_fault_is_named() {
        let root = test_root();
        for (fault, want) in [
            (CmsFault::StaleDigest, TrustProblem::MessageDigestMismatch),
            (CmsFault::WrongCdhash, TrustProblem::CdhashMismatch),
            (CmsFault::BadSignature, TrustProblem::SignatureInvalid),
            (CmsFault::ForeignRoot, TrustProblem::UntrustedRoot),
        ] {
            let t = code_signature(fault, &root);
            assert_eq!(t.problem(), Some(want), "{fault:?}: {t:?}");
            assert_eq!(want.is_signature_problem(), fault != CmsFault::ForeignRoot);
        }
        // A CodeDirectory changed after signing: the digest no longer matches.
        let cd1 = b"a SHA-1 CodeDirectory".to_vec();
        let cms = code_signature_cms("ABCDE12345", Identity::default(), &cd1, &[(1, &cd1)]);
        let t = verify(
            &cms,
            Content::Detached {
                signed: b"another CodeDirectory",
                code_directories: &[(HashType::Sha1, b"another CodeDirectory")],
            },
            &root,
        );
        assert_eq!(t.problem(), Some(TrustProblem::CdhashMismatch), "{t:?}");
    }

    #[test]
    fn fixture_profiles_verify_and_their_faults_are_named() {
        let root = test_root();
        let profile = |fault| {
            let spec = ProfileSpec {
                fault,
                ..ProfileSpec::app_store()
            };
            embedded(
                &spec,
                "ABCDE12345",
                "com.example.demo",
                &plist::Dictionary::new(),
            )
        };
        let good = profile(CmsFault::None);
        assert!(verify_profile(&good, &root).is_verified());
        assert_eq!(
            verify_profile(&good, TrustAnchors::apple()).problem(),
            Some(TrustProblem::UntrustedRoot)
        );
        for (fault, want) in [
            (CmsFault::StaleDigest, TrustProblem::MessageDigestMismatch),
            (CmsFault::BadSignature, TrustProblem::SignatureInvalid),
            (CmsFault::ForeignRoot, TrustProblem::UntrustedRoot),
        ] {
            assert_eq!(verify_profile(&profile(fault), &root).problem(), Some(want));
        }
        // The plist edited inside the envelope (same length): the digest no longer matches.
        let mut edited = good.clone();
        let at = edited
            .windows(12)
            .position(|w| w == b"Example Corp")
            .unwrap();
        edited[at] = b'X';
        assert_eq!(
            verify_profile(&edited, &root).problem(),
            Some(TrustProblem::MessageDigestMismatch)
        );
        // Truncated anywhere: malformed, never a panic.
        for cut in (0..good.len()).step_by(97) {
            assert!(!verify_profile(&good[..cut], &root).is_verified());
        }
        // A root that is not a certificate is refused up front.
        assert!(TrustAnchors::with_roots([&b"not DER"[..]]).is_err());
    }

    /// The fixture code signature's CMS and its CodeDirectories, to break by hand.
    fn fixture_cms() -> (Vec<u8>, Vec<u8>) {
        let cd1 = b"a SHA-1 CodeDirectory".to_vec();
        let cms = code_signature_cms("ABCDE12345", Identity::default(), &cd1, &[(1, &cd1)]);
        (cms, cd1)
    }

    fn replace_last(bytes: &mut [u8], from: &[u8], to: &[u8]) -> bool {
        match bytes.windows(from.len()).rposition(|w| w == from) {
            Some(at) => {
                bytes[at..at + to.len()].copy_from_slice(to);
                true
            }
            None => false,
        }
    }

    fn check(cms: &[u8], cd1: &[u8]) -> Trust {
        verify(
            cms,
            Content::Detached {
                signed: cd1,
                code_directories: &[(HashType::Sha1, cd1)],
            },
            &test_root(),
        )
    }

    #[test]
    fn hand_broken_cms_is_named_never_a_panic() {
        let (good, cd1) = fixture_cms();
        assert!(check(&good, &cd1).is_verified());
        // An unknown digest algorithm (SHA-224 instead of SHA-256), everywhere it is named.
        let mut bad = good.clone();
        let sha256 = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
        while replace_last(
            &mut bad,
            &sha256,
            &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04],
        ) {}
        assert_eq!(
            check(&bad, &cd1).problem(),
            Some(TrustProblem::UnsupportedAlgorithm)
        );
        // The SignerInfo's signature algorithm Ed448 (not verified by ipagate).
        let mut bad = good.clone();
        assert!(replace_last(
            &mut bad,
            &[0x06, 0x03, 0x2b, 0x65, 0x70],
            &[0x06, 0x03, 0x2b, 0x65, 0x71]
        ));
        let t = check(&bad, &cd1);
        assert_eq!(
            t.problem(),
            Some(TrustProblem::UnsupportedAlgorithm),
            "{t:?}"
        );
        // The SignerInfo names an issuer none of the certificates has.
        let mut bad = good.clone();
        assert!(replace_last(
            &mut bad,
            b"ipagate Test Root",
            b"ipagate Test Ruut"
        ));
        let t = check(&bad, &cd1);
        assert_eq!(
            t.problem(),
            Some(TrustProblem::SignerCertificateMissing),
            "{t:?}"
        );
        // The leaf's subject edited: it still signs, but its issuer's signature over it breaks.
        let mut bad = good.clone();
        let at = bad.windows(12).position(|w| w == b"Example Corp").unwrap();
        bad[at] = b'X';
        let t = check(&bad, &cd1);
        assert_eq!(t.problem(), Some(TrustProblem::ChainBroken), "{t:?}");
        // A certificate cut short inside an intact envelope is not reachable without breaking
        // the outer lengths: every prefix is malformed (or, cut inside the tail, unverifiable).
        for cut in 0..good.len() {
            assert!(!check(&good[..cut], &cd1).is_verified(), "cut at {cut}");
        }
        // Every single-bit flip: no panic, and none verifies inside what the signature and the
        // chain cover (the signer's certificate, the signed attributes, the signature value).
        // Flips that still verify are in fields nothing relies on: the SignedData's version and
        // digestAlgorithms list, the SignerInfo's version, and the copy of the root the CMS
        // carries (the pinned root is used, not the carried one).
        let raw = raw_signed_data(&good).unwrap();
        let range_of = |part: &[u8]| {
            let start = part.as_ptr() as usize - good.as_ptr() as usize;
            start..start + part.len()
        };
        let leaf = raw
            .certificates
            .iter()
            .find(|c| {
                Cert::from_der(c)
                    .unwrap()
                    .subject_cn()
                    .starts_with("Apple Distribution")
            })
            .map(|c| range_of(c))
            .unwrap();
        let attrs = range_of(raw.signed_attrs[0].unwrap());
        let signature = good.len() - 64..good.len();
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x01;
            let covered = leaf.contains(&i) || attrs.contains(&i) || signature.contains(&i);
            if covered {
                assert!(
                    !check(&bad, &cd1).is_verified(),
                    "flip at {i} still verifies"
                );
            } else {
                let _ = check(&bad, &cd1);
            }
        }
    }

    fn make_spki(
        key_oid: &str,
        curve: Option<&str>,
        key: &[u8],
    ) -> x509_cert::spki::SubjectPublicKeyInfoOwned {
        x509_cert::spki::SubjectPublicKeyInfoOwned {
            algorithm: x509_cert::spki::AlgorithmIdentifierOwned {
                oid: ObjectIdentifier::new_unwrap(key_oid),
                parameters: curve
                    .map(|c| der::Any::encode_from(&ObjectIdentifier::new_unwrap(c)).unwrap()),
            },
            subject_public_key: der::asn1::BitString::from_bytes(key).unwrap(),
        }
    }

    /// The algorithm table beyond what the fixtures use: ECDSA P-256/P-384 and RSA PKCS#1 v1.5
    /// (both named by the signature OID and by a bare key OID plus the digest), with fresh keys.
    /// Apple's own RSA SHA-1/SHA-256 signatures are covered by `pinned_fingerprints_match`.
    #[test]
    fn ecdsa_and_rsa_signatures_verify_and_wrong_pairings_do_not() {
        use aws_lc_rs::rand::SystemRandom;
        use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair as _, RsaKeyPair};
        let rng = SystemRandom::new();
        let msg = b"signed attributes";
        let oid = |o: &str| ObjectIdentifier::new_unwrap(o);
        for (signing, curve, sig_oid, hash) in [
            (
                &sig::ECDSA_P256_SHA256_ASN1_SIGNING,
                "1.2.840.10045.3.1.7",
                "1.2.840.10045.4.3.2",
                Hash::Sha256,
            ),
            (
                &sig::ECDSA_P384_SHA384_ASN1_SIGNING,
                "1.3.132.0.34",
                "1.2.840.10045.4.3.3",
                Hash::Sha384,
            ),
        ] {
            let key = EcdsaKeyPair::generate(signing).unwrap();
            let sig = key.sign(&rng, msg).unwrap();
            let spki = make_spki("1.2.840.10045.2.1", Some(curve), key.public_key().as_ref());
            let alg = verification(&oid(sig_oid), None, &spki).unwrap();
            assert!(verify_with(alg, &spki, msg, sig.as_ref()), "{curve}");
            assert!(!verify_with(alg, &spki, b"other", sig.as_ref()), "{curve}");
            // A bare ecPublicKey signature OID takes the SignerInfo's digest.
            let alg = verification(&oid("1.2.840.10045.2.1"), Some(hash), &spki).unwrap();
            assert!(verify_with(alg, &spki, msg, sig.as_ref()), "{curve}");
            // An unknown curve or an RSA signature OID with an EC key is unsupported, not a pass.
            let odd = make_spki(
                "1.2.840.10045.2.1",
                Some("1.3.132.0.35"),
                key.public_key().as_ref(),
            );
            assert!(verification(&oid(sig_oid), None, &odd).is_err());
            assert!(verification(&oid("1.2.840.113549.1.1.11"), None, &spki).is_err());
        }
        let rsa = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let mut sig = vec![0; rsa.public_modulus_len()];
        rsa.sign(&sig::RSA_PKCS1_SHA256, &rng, msg, &mut sig)
            .unwrap();
        let spki = make_spki("1.2.840.113549.1.1.1", None, rsa.public_key().as_ref());
        let alg = verification(&oid("1.2.840.113549.1.1.11"), None, &spki).unwrap();
        assert!(verify_with(alg, &spki, msg, &sig));
        let alg = verification(&oid("1.2.840.113549.1.1.1"), Some(Hash::Sha256), &spki).unwrap();
        assert!(verify_with(alg, &spki, msg, &sig));
        // The right key, the wrong hash: does not verify.
        let alg = verification(&oid("1.2.840.113549.1.1.1"), Some(Hash::Sha1), &spki).unwrap();
        assert!(!verify_with(alg, &spki, msg, &sig));
        // rsaEncryption without a digest to go with it: unsupported.
        assert!(verification(&oid("1.2.840.113549.1.1.1"), None, &spki).is_err());
    }

    #[test]
    fn bare_plist_profiles_are_skipped() {
        assert!(matches!(
            verify_profile(b"<?xml version=\"1.0\"?>", TrustAnchors::apple()),
            Trust::Skipped { .. }
        ));
    }
}
