//! Embedded code signatures: the SuperBlob that `LC_CODE_SIGNATURE` points at, its blobs, every
//! CodeDirectory, and hash verification of special slots and code pages.
//!
//! Spec: Apple's `xnu/osfmk/kern/cs_blobs.h`; `formats.md` §6. Everything is **big-endian**.
//!
//! ```text
//! SuperBlob  FADE0CC0 length count { slot offset }*count      offsets from the SuperBlob start
//! blob       magic length payload
//!   FADE0C02 CodeDirectory   version flags hashOffset identOffset nSpecialSlots nCodeSlots
//!                            codeLimit hashSize hashType platform pageSize(log2) ...
//!                            [special hash -n .. -1][code hash 0 .. nCodeSlots-1]  (at hashOffset)
//!   FADE0C01 requirements    FADE7171 XML entitlements    FADE7172 DER entitlements
//!   FADE0B01 CMS wrapper (empty for ad-hoc)
//! slots: 0 CodeDirectory, 1 Info.plist, 2 requirements, 3 CodeResources, 5 entitlements,
//!        7 DER entitlements, 0x1000.. alternate CodeDirectories, 0x10000 CMS
//! ```
//!
//! The SuperBlob index and CodeDirectory fields are read with `object`'s code-signature reader
//! (bounds-checked, no allocation by declared counts). Hashes use `aws-lc-rs`, already in the tree.
//!
//! The CMS blob is verified over the primary CodeDirectory, with Apple's cdhashes attributes
//! checked against every CodeDirectory, and its chain followed to a pinned root
//! ([`crate::trust`], [`Signature::trust`]; [`parse_with`] takes other anchors).
//!
//! Verification results are facts ("page 3 differs", "slot 1 differs"), not errors: the rules
//! decide. [`PageHasher`] consumes the slice in chunks of any size, so a streaming reader can
//! feed it as the entry inflates.

use std::fmt;

use aws_lc_rs::digest;
use object::read::macho::CodeSignature;

/// Most blobs kept from one SuperBlob (real ones have under 10).
pub const MAX_BLOBS: usize = 64;
/// Most mismatching page indices kept per CodeDirectory (the count stays exact).
pub const MAX_PAGE_EXAMPLES: usize = 16;

/// Slot numbers of the SuperBlob index.
pub mod slot {
    /// Primary CodeDirectory.
    pub const CODE_DIRECTORY: u32 = 0;
    /// Hash of `Info.plist`.
    pub const INFO_PLIST: u32 = 1;
    /// Requirements blob.
    pub const REQUIREMENTS: u32 = 2;
    /// Hash of `_CodeSignature/CodeResources`.
    pub const RESOURCE_DIR: u32 = 3;
    /// XML entitlements blob.
    pub const ENTITLEMENTS: u32 = 5;
    /// DER entitlements blob.
    pub const DER_ENTITLEMENTS: u32 = 7;
    /// First alternate CodeDirectory.
    pub const ALTERNATE_CODE_DIRECTORIES: u32 = 0x1000;
    /// CMS signature.
    pub const SIGNATURE: u32 = 0x10000;
}

/// CodeDirectory flags.
pub mod flags {
    /// `CS_ADHOC`: no certificate signed this.
    pub const ADHOC: u32 = 0x2;
    /// `CS_LINKER_SIGNED`: the linker's ad-hoc signature, never re-signed.
    pub const LINKER_SIGNED: u32 = 0x2_0000;
}

/// Magic of a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobMagic {
    /// `FADE0C02`.
    CodeDirectory,
    /// `FADE0C01`.
    Requirements,
    /// `FADE0C00`.
    Requirement,
    /// `FADE7171`.
    Entitlements,
    /// `FADE7172`.
    DerEntitlements,
    /// `FADE8181`.
    LaunchConstraint,
    /// `FADE0B01` (CMS).
    BlobWrapper,
    /// Anything else, kept as read.
    Unknown(u32),
}

impl From<u32> for BlobMagic {
    fn from(v: u32) -> BlobMagic {
        match v {
            0xfade_0c02 => BlobMagic::CodeDirectory,
            0xfade_0c01 => BlobMagic::Requirements,
            0xfade_0c00 => BlobMagic::Requirement,
            0xfade_7171 => BlobMagic::Entitlements,
            0xfade_7172 => BlobMagic::DerEntitlements,
            0xfade_8181 => BlobMagic::LaunchConstraint,
            0xfade_0b01 => BlobMagic::BlobWrapper,
            other => BlobMagic::Unknown(other),
        }
    }
}

/// Hash algorithm of a CodeDirectory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum HashType {
    /// 1.
    Sha1,
    /// 2.
    Sha256,
    /// 3 (SHA-256 cut to 20 bytes).
    Sha256Truncated,
    /// 4.
    Sha384,
    /// 5.
    Sha512,
    /// Anything else, kept as read.
    Unknown(u8),
}

impl From<u8> for HashType {
    fn from(v: u8) -> HashType {
        match v {
            1 => HashType::Sha1,
            2 => HashType::Sha256,
            3 => HashType::Sha256Truncated,
            4 => HashType::Sha384,
            5 => HashType::Sha512,
            other => HashType::Unknown(other),
        }
    }
}

impl HashType {
    fn algorithm(self) -> Option<&'static digest::Algorithm> {
        match self {
            HashType::Sha1 => Some(&digest::SHA1_FOR_LEGACY_USE_ONLY),
            HashType::Sha256 | HashType::Sha256Truncated => Some(&digest::SHA256),
            HashType::Sha384 => Some(&digest::SHA384),
            HashType::Sha512 => Some(&digest::SHA512),
            HashType::Unknown(_) => None,
        }
    }

    /// The digest of `data` cut to `len` bytes (`None` for an unknown algorithm).
    pub fn digest(self, data: &[u8], len: usize) -> Option<Vec<u8>> {
        let d = digest::digest(self.algorithm()?, data);
        d.as_ref().get(..len).map(<[u8]>::to_vec)
    }
}

impl fmt::Display for HashType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HashType::Sha1 => f.write_str("sha1"),
            HashType::Sha256 => f.write_str("sha256"),
            HashType::Sha256Truncated => f.write_str("sha256-truncated"),
            HashType::Sha384 => f.write_str("sha384"),
            HashType::Sha512 => f.write_str("sha512"),
            HashType::Unknown(v) => write!(f, "unknown({v})"),
        }
    }
}

/// One entry of the SuperBlob index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobEntry {
    /// Slot type.
    pub slot: u32,
    /// The blob's magic.
    pub magic: BlobMagic,
    /// Offset from the SuperBlob start.
    pub offset: u32,
    /// Declared length (header included).
    pub length: u32,
}

/// A CodeDirectory, with its hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeDirectory {
    /// The slot it sits in (0 or 0x1000..).
    pub slot: u32,
    /// `version` (e.g. 0x20400).
    pub version: u32,
    /// `flags` (see [`flags`]).
    pub flags: u32,
    /// Hash algorithm.
    pub hash_type: HashType,
    /// Bytes per hash.
    pub hash_size: u8,
    /// log2 of the page size (12 = 4 KiB; 0 = one page for everything).
    pub page_size_log2: u8,
    /// Signing identifier (usually the bundle id).
    pub identifier: String,
    /// Team identifier (absent in ad-hoc signatures).
    pub team_id: Option<String>,
    /// `nSpecialSlots`.
    pub n_special_slots: u32,
    /// `nCodeSlots`.
    pub n_code_slots: u32,
    /// Bytes of the slice covered by page hashes.
    pub code_limit: u64,
    /// `execSegFlags` (version 0x20400 and later).
    pub exec_seg_flags: Option<u64>,
    /// The CodeDirectory hash (digest of the blob, cut to 20 bytes), lowercase hex.
    pub cdhash: String,
    /// Special-slot hashes: `(slot, hash)` for slots 1..=7 that are present (all-zero ones omitted).
    pub special_hashes: Vec<(u32, Vec<u8>)>,
    /// Code-page hashes, `hash_size` bytes each, concatenated.
    pub code_hashes: Vec<u8>,
}

impl CodeDirectory {
    /// `CS_ADHOC` is set.
    pub fn is_adhoc(&self) -> bool {
        self.flags & flags::ADHOC != 0
    }

    /// `CS_LINKER_SIGNED` is set.
    pub fn is_linker_signed(&self) -> bool {
        self.flags & flags::LINKER_SIGNED != 0
    }

    /// The stored hash of special slot `slot`.
    pub fn special_hash(&self, slot: u32) -> Option<&[u8]> {
        self.special_hashes
            .iter()
            .find(|(s, _)| *s == slot)
            .map(|(_, h)| h.as_slice())
    }
}

/// A parsed SuperBlob.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signature {
    /// The index, in order (at most [`MAX_BLOBS`]).
    pub blobs: Vec<BlobEntry>,
    /// Every CodeDirectory (slot 0 first, then alternates).
    pub code_directories: Vec<CodeDirectory>,
    /// The requirements blob, header included (what slot 2 hashes).
    pub requirements: Option<Vec<u8>>,
    /// The XML entitlements blob, header included (what slot 5 hashes).
    pub entitlements_xml: Option<Vec<u8>>,
    /// The DER entitlements blob, header included (what slot 7 hashes).
    pub entitlements_der: Option<Vec<u8>>,
    /// The CMS blob's payload (empty for ad-hoc signatures).
    pub cms: Option<Vec<u8>>,
    /// The CMS signature's certificates (leaf, intermediate, root as the signer embedded them).
    pub certificates: Vec<crate::profile::Certificate>,
    /// Index in [`Signature::certificates`] of the signer's certificate (the leaf).
    pub signer: Option<usize>,
    /// Why a non-empty CMS blob could not be read as SignedData (32 bytes of filler, say).
    pub cms_problem: Option<String>,
    /// Blobs that could not be read, worded for a message.
    pub problems: Vec<String>,
    /// Whether the CMS verifies over the CodeDirectory and chains to a trust anchor
    /// ([`crate::trust`]); `Skipped` for ad-hoc signatures.
    pub trust: crate::trust::Trust,
}

impl Signature {
    /// The signer's certificate, if the CMS names one it carries.
    pub fn leaf(&self) -> Option<&crate::profile::Certificate> {
        self.certificates.get(self.signer?)
    }

    /// The XML entitlements (the blob's payload), if any.
    pub fn entitlements_plist(&self) -> Option<&[u8]> {
        self.entitlements_xml.as_deref().and_then(|b| b.get(8..))
    }
}

/// Why a signature could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// `LC_CODE_SIGNATURE` points outside the slice.
    #[error("LC_CODE_SIGNATURE range {offset}+{size} lies outside the {slice_size}-byte slice")]
    OutOfSlice {
        /// `dataoff`.
        offset: u32,
        /// `datasize`.
        size: u32,
        /// The slice's size.
        slice_size: usize,
    },
    /// Not a SuperBlob, or its index runs past its end.
    #[error("not an embedded signature SuperBlob: {0}")]
    SuperBlob(String),
}

/// Parses the SuperBlob at `dataoff..dataoff+datasize` of `slice` (trust against Apple's roots).
pub fn parse_in_slice(
    slice: &[u8],
    dataoff: u32,
    datasize: u32,
) -> Result<Signature, SignatureError> {
    parse_in_slice_with(
        slice,
        dataoff,
        datasize,
        crate::trust::TrustAnchors::apple(),
    )
}

/// [`parse_in_slice`] with the CMS verified against `anchors`.
pub fn parse_in_slice_with(
    slice: &[u8],
    dataoff: u32,
    datasize: u32,
    anchors: &crate::trust::TrustAnchors,
) -> Result<Signature, SignatureError> {
    let start = dataoff as usize;
    let bytes = start
        .checked_add(datasize as usize)
        .and_then(|end| slice.get(start..end))
        .ok_or(SignatureError::OutOfSlice {
            offset: dataoff,
            size: datasize,
            slice_size: slice.len(),
        })?;
    parse_with(bytes, anchors)
}

/// Parses a SuperBlob held in memory, verifying its CMS against Apple's roots.
pub fn parse(bytes: &[u8]) -> Result<Signature, SignatureError> {
    parse_with(bytes, crate::trust::TrustAnchors::apple())
}

/// Parses a SuperBlob held in memory, verifying its CMS against `anchors`.
pub fn parse_with(
    bytes: &[u8],
    anchors: &crate::trust::TrustAnchors,
) -> Result<Signature, SignatureError> {
    let sig = CodeSignature::parse(bytes).map_err(|e| SignatureError::SuperBlob(e.to_string()))?;
    let mut out = Signature::default();
    // The CodeDirectory blobs as signed, for the CMS check (borrowed from `bytes`).
    let mut cd_blobs: Vec<(HashType, &[u8])> = Vec::new();
    if sig.index().len() > MAX_BLOBS {
        out.problems.push(format!(
            "SuperBlob declares {} blobs; the first {MAX_BLOBS} are read",
            sig.index().len()
        ));
    }
    let mut blobs = sig.blobs();
    for n in 0..sig.index().len().min(MAX_BLOBS) {
        let blob = match blobs.next() {
            Ok(Some(b)) => b,
            Ok(None) => break,
            Err(e) => {
                out.problems.push(format!("blob {n}: {e}"));
                // The iterator has advanced past the broken entry; the next ones may be fine.
                continue;
            }
        };
        let magic = BlobMagic::from(blob.magic());
        out.blobs.push(BlobEntry {
            slot: blob.slot().0,
            magic,
            offset: blob.offset(),
            length: blob.data().len() as u32,
        });
        let slot = blob.slot().0;
        match (slot, magic) {
            (0 | 0x1000..=0x1004, BlobMagic::CodeDirectory) => {
                match code_directory(slot, blob.data()) {
                    Ok(cd) => {
                        cd_blobs.push((cd.hash_type, blob.data()));
                        out.code_directories.push(cd);
                    }
                    Err(problem) => out
                        .problems
                        .push(format!("CodeDirectory in slot {slot:#x}: {problem}")),
                }
            }
            (slot::REQUIREMENTS, _) => out.requirements = Some(blob.data().to_vec()),
            (slot::ENTITLEMENTS, _) => out.entitlements_xml = Some(blob.data().to_vec()),
            (slot::DER_ENTITLEMENTS, _) => out.entitlements_der = Some(blob.data().to_vec()),
            (slot::SIGNATURE, _) => out.cms = Some(blob.contents().to_vec()),
            (_, expected) => {
                if expected == BlobMagic::CodeDirectory {
                    out.problems
                        .push(format!("CodeDirectory in unexpected slot {slot:#x}"));
                }
            }
        }
    }
    if let Some(cms) = out.cms.as_deref().filter(|c| !c.is_empty()) {
        match crate::profile::cms_certificates(cms) {
            Ok((certs, signer)) => {
                out.certificates = certs;
                out.signer = signer;
            }
            Err(e) => out.cms_problem = Some(e.0),
        }
        // The CMS signs the primary CodeDirectory (slot 0), detached.
        out.trust = match (out.code_directories.first(), cd_blobs.first()) {
            (Some(cd), Some((_, primary))) if cd.slot == slot::CODE_DIRECTORY => {
                crate::trust::verify(
                    cms,
                    crate::trust::Content::Detached {
                        signed: primary,
                        code_directories: &cd_blobs,
                    },
                    anchors,
                )
            }
            _ => crate::trust::Trust::Untrusted {
                problem: crate::trust::TrustProblem::Malformed,
                detail: "there is no primary CodeDirectory for the CMS signature to cover".into(),
                chain: Vec::new(),
            },
        };
    } else if out.cms.is_some() {
        out.trust = crate::trust::Trust::Skipped {
            why: "ad-hoc: the CMS blob is empty".into(),
        };
    }
    Ok(out)
}

fn code_directory(slot: u32, data: &[u8]) -> Result<CodeDirectory, String> {
    let cd = object::read::macho::CodeDirectory::parse(data).map_err(|e| e.to_string())?;
    let h = cd.header();
    let be = object::BigEndian;
    let hash_size = h.hash_size;
    let hash_type = HashType::from(h.hash_type.0);
    let n_special = h.n_special_slots.get(be);
    let n_code = h.n_code_slots.get(be);
    let identifier = cd
        .ident()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .map_err(|e| e.to_string())?;
    let team_id = cd
        .team_id()
        .map_err(|e| e.to_string())?
        .map(|b| String::from_utf8_lossy(b).into_owned());
    let mut special_hashes = Vec::new();
    for s in 1..=n_special.min(16) {
        let hash = cd
            .special_hash(object::macho::CsSlot(s))
            .map_err(|_| format!("special slot {s} lies outside the CodeDirectory"))?;
        if hash.iter().any(|&b| b != 0) {
            special_hashes.push((s, hash.to_vec()));
        }
    }
    // The code hashes must lie inside the blob: a lying nCodeSlots is caught here, before any copy.
    let hash_offset = h.hash_offset.get(be) as usize;
    let code_len = (n_code as usize)
        .checked_mul(hash_size as usize)
        .ok_or("nCodeSlots × hashSize overflows")?;
    let code_hashes = hash_offset
        .checked_add(code_len)
        .and_then(|end| data.get(hash_offset..end))
        .ok_or_else(|| {
            format!(
                "{n_code} code hashes of {hash_size} bytes at offset {hash_offset} run past the {}-byte CodeDirectory",
                data.len()
            )
        })?
        .to_vec();
    let cdhash = hash_type
        .digest(data, 20)
        .map(|d| hex(&d))
        .unwrap_or_default();
    Ok(CodeDirectory {
        slot,
        version: cd.version().0,
        flags: h.flags.get(be).0,
        hash_type,
        hash_size,
        page_size_log2: h.page_size,
        identifier,
        team_id,
        n_special_slots: n_special,
        n_code_slots: n_code,
        code_limit: cd.code_limit(),
        exec_seg_flags: cd.exec_seg().map(|v| v.exec_seg_flags.get(be).0),
        cdhash,
        special_hashes,
        code_hashes,
    })
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------------------------
// Verification

/// The inputs of the special slots that live outside the binary.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpecialInputs<'a> {
    /// The bundle's `Info.plist` bytes (slot 1).
    pub info_plist: Option<&'a [u8]>,
    /// The bundle's `_CodeSignature/CodeResources` bytes (slot 3).
    pub code_resources: Option<&'a [u8]>,
}

/// What comparing one special slot found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SlotState {
    /// The hash matches.
    Match,
    /// The hash differs: the input changed after signing.
    Mismatch,
    /// The slot has a hash but its input is absent (e.g. a deleted `CodeResources`).
    InputMissing,
    /// The input exists but the slot has no hash (e.g. entitlements added after signing).
    NotSealed,
    /// The hash type is unknown; nothing was compared.
    Unchecked,
}

/// The check of one special slot of one CodeDirectory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SlotCheck {
    /// Slot number (1, 2, 3, 5, 7).
    pub slot: u32,
    /// Result.
    pub state: SlotState,
}

/// Human name of a special slot.
pub fn slot_name(slot: u32) -> &'static str {
    match slot {
        slot::INFO_PLIST => "Info.plist",
        slot::REQUIREMENTS => "requirements",
        slot::RESOURCE_DIR => "_CodeSignature/CodeResources",
        slot::ENTITLEMENTS => "entitlements",
        slot::DER_ENTITLEMENTS => "DER entitlements",
        _ => "special slot",
    }
}

/// Compares the special slots 1, 2, 3, 5 and 7 of `cd` with their inputs.
pub fn check_special_slots(
    cd: &CodeDirectory,
    sig: &Signature,
    inputs: &SpecialInputs<'_>,
) -> Vec<SlotCheck> {
    let candidates: [(u32, Option<&[u8]>); 5] = [
        (slot::INFO_PLIST, inputs.info_plist),
        (slot::REQUIREMENTS, sig.requirements.as_deref()),
        (slot::RESOURCE_DIR, inputs.code_resources),
        (slot::ENTITLEMENTS, sig.entitlements_xml.as_deref()),
        (slot::DER_ENTITLEMENTS, sig.entitlements_der.as_deref()),
    ];
    let mut out = Vec::new();
    for (slot, input) in candidates {
        let stored = cd.special_hash(slot);
        let state = match (stored, input) {
            (None, None) => continue,
            // A slot beyond nSpecialSlots cannot seal its input.
            (None, Some(_)) => SlotState::NotSealed,
            (Some(_), None) => SlotState::InputMissing,
            (Some(expected), Some(data)) => match cd.hash_type.digest(data, expected.len()) {
                None => SlotState::Unchecked,
                Some(actual) if actual == expected => SlotState::Match,
                Some(_) => SlotState::Mismatch,
            },
        };
        out.push(SlotCheck { slot, state });
    }
    out
}

/// What hashing the code pages of one CodeDirectory found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PageCheck {
    /// CodeDirectory hash type.
    pub hash_type: String,
    /// Pages compared.
    pub pages: u32,
    /// Pages whose hash differs.
    pub mismatched: u32,
    /// The first few mismatching page indices.
    pub examples: Vec<u32>,
    /// The slice ended before `codeLimit` (the signature covers bytes that are not there).
    pub truncated: bool,
    /// The hash type is unknown or the page size absurd; nothing was compared.
    pub unchecked: bool,
}

/// Hashes a slice's code pages as bytes arrive and compares each with its CodeDirectory hash.
///
/// Feed it the slice from offset 0, in chunks of any size (`update` or `io::Write`); memory is
/// one page. Bytes past `codeLimit` are ignored.
pub struct PageHasher<'cd> {
    cd: &'cd CodeDirectory,
    algorithm: Option<&'static digest::Algorithm>,
    page_size: u64,
    context: Option<digest::Context>,
    in_page: u64,
    consumed: u64,
    page: u32,
    check: PageCheck,
}

impl<'cd> PageHasher<'cd> {
    /// Starts hashing against `cd`.
    pub fn new(cd: &'cd CodeDirectory) -> PageHasher<'cd> {
        let algorithm = cd.hash_type.algorithm();
        // A page size of 0 means "one page for everything"; log2 above 32 is nonsense.
        let page_size = match cd.page_size_log2 {
            0 => u64::MAX,
            n if n < 32 => 1u64 << n,
            _ => 0,
        };
        let unchecked = algorithm.is_none() || page_size == 0 || cd.hash_size == 0;
        PageHasher {
            cd,
            algorithm,
            page_size,
            context: algorithm.filter(|_| !unchecked).map(digest::Context::new),
            in_page: 0,
            consumed: 0,
            page: 0,
            check: PageCheck {
                hash_type: cd.hash_type.to_string(),
                pages: 0,
                mismatched: 0,
                examples: Vec::new(),
                truncated: false,
                unchecked,
            },
        }
    }

    /// Consumes the next bytes of the slice.
    pub fn update(&mut self, mut chunk: &[u8]) {
        if self.check.unchecked {
            return;
        }
        while !chunk.is_empty() && self.consumed < self.cd.code_limit {
            let left_in_limit = self.cd.code_limit - self.consumed;
            let left_in_page = self.page_size - self.in_page;
            let take = (chunk.len() as u64).min(left_in_limit).min(left_in_page) as usize;
            if let Some(ctx) = self.context.as_mut() {
                ctx.update(&chunk[..take]);
            }
            chunk = &chunk[take..];
            self.in_page += take as u64;
            self.consumed += take as u64;
            if self.in_page == self.page_size || self.consumed == self.cd.code_limit {
                self.finish_page();
            }
        }
    }

    fn finish_page(&mut self) {
        let (Some(ctx), Some(alg)) = (self.context.take(), self.algorithm) else {
            return;
        };
        let actual = ctx.finish();
        let size = self.cd.hash_size as usize;
        let start = self.page as usize * size;
        let expected = self.cd.code_hashes.get(start..start + size);
        let matches = expected.is_some_and(|e| actual.as_ref().get(..size) == Some(e));
        if !matches {
            self.check.mismatched += 1;
            if self.check.examples.len() < MAX_PAGE_EXAMPLES {
                self.check.examples.push(self.page);
            }
        }
        self.check.pages += 1;
        self.page = self.page.saturating_add(1);
        self.in_page = 0;
        self.context = Some(digest::Context::new(alg));
    }

    /// Ends the slice and returns what was found.
    pub fn finish(mut self) -> PageCheck {
        if self.check.unchecked {
            return self.check;
        }
        if self.consumed < self.cd.code_limit {
            self.check.truncated = true;
            if self.in_page > 0 {
                self.finish_page();
            }
        }
        // Hashes the CodeDirectory lists for pages that were never seen also count as mismatches.
        let expected_pages = self.cd.n_code_slots;
        if self.check.pages < expected_pages {
            let missing = expected_pages - self.check.pages;
            self.check.mismatched = self.check.mismatched.saturating_add(missing);
        } else if self.check.pages > expected_pages {
            // More pages than hashes: those without a hash were counted as mismatches already.
        }
        self.check
    }
}

impl std::io::Write for PageHasher<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Hashes every page of `slice` against `cd` in one call.
pub fn check_pages(cd: &CodeDirectory, slice: &[u8]) -> PageCheck {
    let mut hasher = PageHasher::new(cd);
    hasher.update(slice);
    hasher.finish()
}
