//! Removing secrets from text that is about to be shown.
//!
//! Two kinds of rules:
//!
//! - **Shapes**, which need no knowledge of the live secrets ([`redact_secrets`]): PEM blocks (a `.p8` pasted in the
//!   wrong place, also with a broken `BEGIN`/`END` line), JSON web tokens and anything that starts like one
//!   (`eyJ` + base64url: a base64url-encoded JSON object), a bare base64 DER `PrivateKeyInfo` (the `.p8` body without
//!   its PEM lines, which starts `MIG…`/`MII…`), and a base64-encoded PEM (`LS0tLS1CRUdJTi…`).
//! - **Live secrets**, which a [`Redactor`] is told about as they appear: the private key as it was given (PEM, its
//!   base64 body, a base64 of the PEM) and every token minted. Any run of [`MIN_SECRET_RUN`] characters of one of
//!   them is removed wherever it appears, whitespace and `\n` escapes inside the run ignored, so a key body split over
//!   lines, cut in the middle or quoted in JSON is still found, and so is a token split into its three parts.
//!
//! This is the last line of defence for text the program does not control (server values and errors, an argument
//! parser's messages quoting an argument); the credential code itself never puts key material into messages.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::sync::{Arc, RwLock};

use base64::Engine as _;

/// What replaces each secret.
pub const REDACTED: &str = "<redacted>";

/// The shortest run of a live secret that is removed. Sixteen base64 characters are 96 bits: a shorter run is no use
/// to an attacker, and a longer threshold would let useful pieces through.
pub const MIN_SECRET_RUN: usize = 16;

/// How many tokens a [`Redactor`] remembers (the current one and the ones before it).
const REMEMBERED_TOKENS: usize = 8;

type Window = [u8; MIN_SECRET_RUN];

/// Knows the live secrets of this process and removes them, and every secret-shaped text, from what is shown.
///
/// Cheap to clone; clones share what they know. Give one to [`crate::ClientBuilder::redactor`] so each minted token
/// is known, and to [`crate::credentials::resolve_with`] so the key is known the moment it is read.
///
/// ```
/// let redactor = ipagate_asc::redact::Redactor::new();
/// redactor.add_secret("c2VjcmV0LXRva2VuLXNpZ25hdHVyZS12YWx1ZQ");
/// assert_eq!(
///     redactor.redact("sig=c2VjcmV0LXRva2VuLXNpZ25h and more"),
///     "sig=<redacted> and more"
/// );
/// ```
#[derive(Clone, Default)]
pub struct Redactor {
    known: Arc<RwLock<Known>>,
}

#[derive(Default)]
struct Known {
    /// Key material and other lasting secrets, one set of windows each.
    lasting: Vec<HashSet<Window>>,
    /// The latest tokens' windows, oldest first.
    tokens: VecDeque<HashSet<Window>>,
    /// Union of all of the above.
    all: HashSet<Window>,
}

impl Known {
    fn rebuild(&mut self) {
        self.all = self
            .lasting
            .iter()
            .chain(self.tokens.iter())
            .flat_map(|set| set.iter().copied())
            .collect();
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let known = self.known.read().unwrap_or_else(|p| p.into_inner());
        f.debug_struct("Redactor")
            .field("secrets", &known.lasting.len())
            .field("tokens", &known.tokens.len())
            .finish()
    }
}

/// The windows of `secret` (whitespace and `\n` escapes removed), or `None` when it is too short to matter.
fn windows(secret: &str) -> Option<HashSet<Window>> {
    let (bytes, _) = strip(secret);
    if bytes.len() < MIN_SECRET_RUN {
        return None;
    }
    Some(
        bytes
            .windows(MIN_SECRET_RUN)
            .filter_map(|w| Window::try_from(w).ok())
            .collect(),
    )
}

impl Redactor {
    /// A redactor that knows no live secret yet (it still applies the shape rules).
    pub fn new() -> Redactor {
        Redactor::default()
    }

    /// Remembers a lasting secret: a private key as given (PEM, base64 body, base64 of the PEM), or any other text
    /// that must never be shown. The PEM's base64 body is remembered too, and the PEM inside a base64 text.
    pub fn add_secret(&self, secret: &str) {
        let mut sets: Vec<HashSet<Window>> = Vec::new();
        sets.extend(windows(secret));
        let trimmed = secret.trim();
        // A base64 of a PEM (ASC_PRIVATE_KEY_B64, fastlane's is_key_content_base64): the PEM it holds as well.
        if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(strip(trimmed).0)
            && let Ok(text) = String::from_utf8(bytes)
            && text.contains("-----BEGIN")
        {
            sets.extend(windows(&text));
        }
        if sets.is_empty() {
            return;
        }
        let mut known = self.known.write().unwrap_or_else(|p| p.into_inner());
        for set in sets {
            if !known.lasting.contains(&set) {
                known.lasting.push(set);
            }
        }
        known.rebuild();
    }

    /// Remembers a bearer token (and so each of its parts); the oldest of the remembered tokens is forgotten once more
    /// than a few were minted.
    pub fn add_token(&self, token: &str) {
        let Some(set) = windows(token) else { return };
        let mut known = self.known.write().unwrap_or_else(|p| p.into_inner());
        if known.tokens.contains(&set) {
            return;
        }
        if known.tokens.len() >= REMEMBERED_TOKENS {
            known.tokens.pop_front();
        }
        known.tokens.push_back(set);
        known.rebuild();
    }

    /// `text` without any run of a live secret and without secret-shaped text (see the module docs).
    pub fn redact(&self, text: &str) -> String {
        let mut ranges = shape_ranges(text);
        {
            let known = self.known.read().unwrap_or_else(|p| p.into_inner());
            if !known.all.is_empty() {
                live_ranges(text, &known.all, &mut ranges);
            }
        }
        replace(text, ranges)
    }

    /// Untrusted text (a server's value) made fit for one line of output: secrets removed first, then control
    /// characters replaced by spaces, then cut to `max_chars` characters (with `…`).
    pub fn one_line(&self, text: &str, max_chars: usize) -> String {
        cut(&self.redact(text), max_chars)
    }
}

/// `text` with every secret-shaped part replaced by `<redacted>`: PEM blocks (from a `BEGIN` line, broken or not, to
/// the matching `END` line, or to the end of the text when it is cut off), JWTs and base64url JSON (`eyJ…`), a bare
/// base64 DER private key (`MIG…`/`MII…`) and a base64-encoded PEM (`LS0tLS1CRUdJTi…`).
///
/// ```
/// let pem = "-----BEGIN PRIVATE KEY-----\nMIGTAgEAMBMG\n-----END PRIVATE KEY-----";
/// assert_eq!(
///     ipagate_asc::redact_secrets(&format!("unexpected argument '{pem}' found")),
///     "unexpected argument '<redacted>' found"
/// );
/// assert_eq!(ipagate_asc::redact_secrets("Bearer eyJhbGciOi.eyJpc3Mi.c2ln"), "Bearer <redacted>");
/// ```
pub fn redact_secrets(text: &str) -> String {
    replace(text, shape_ranges(text))
}

/// Untrusted text made fit for one line: secret shapes removed, control characters replaced by spaces, at most
/// `max_chars` characters. Without live secrets; prefer [`Redactor::one_line`] where a redactor is at hand.
pub fn one_line(text: &str, max_chars: usize) -> String {
    cut(&redact_secrets(text), max_chars)
}

/// A host name from a server (a redirect's `Location`, a foreign link) for a message: shown only when it looks like a
/// real host name (labels of at most 30 letters, digits and dashes, and not secret-shaped). A long label is more
/// likely a token than a name, and URL parsing lowercases it, which case-sensitive redaction would no longer see.
pub fn host_for_output(host: &str) -> String {
    let plausible = !host.is_empty()
        && host.len() <= 100
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 30
                && label.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || b == b'-' || b == b':' || b == b'[' || b == b']'
                })
        })
        && redact_secrets(host) == host;
    if plausible {
        host.to_owned()
    } else {
        "a host with an implausible name".to_owned()
    }
}

fn cut(text: &str, max_chars: usize) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max_chars)
        .collect();
    if text.chars().nth(max_chars).is_some() {
        out.push('…');
    }
    out
}

/// Replaces the (possibly overlapping) byte ranges by `<redacted>`.
fn replace(text: &str, mut ranges: Vec<(usize, usize)>) -> String {
    if ranges.is_empty() {
        return text.to_owned();
    }
    ranges.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    let mut iter = ranges.into_iter().peekable();
    while let Some((start, mut end)) = iter.next() {
        while let Some(&(next_start, next_end)) = iter.peek() {
            if next_start > end {
                break;
            }
            end = end.max(next_end);
            iter.next();
        }
        let start = floor_char(text, start).max(at);
        let end = ceil_char(text, end.min(text.len()));
        if end <= start {
            continue;
        }
        out.push_str(&text[at..start]);
        out.push_str(REDACTED);
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

fn floor_char(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char(text: &str, mut i: usize) -> usize {
    while i < text.len() && !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// `text`'s bytes without ASCII whitespace and without `\n`, `\r`, `\t` escapes (as JSON shows line breaks), and for
/// each kept byte its offset in `text`.
fn strip(text: &str) -> (Vec<u8>, Vec<usize>) {
    let bytes = text.as_bytes();
    let mut kept = Vec::with_capacity(bytes.len());
    let mut offsets = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if b == b'\\' && matches!(bytes.get(i + 1), Some(b'n' | b'r' | b't')) {
            i += 2;
            continue;
        }
        kept.push(b);
        offsets.push(i);
        i += 1;
    }
    (kept, offsets)
}

/// Byte ranges of `text` covered by a window of a live secret.
fn live_ranges(text: &str, all: &HashSet<Window>, ranges: &mut Vec<(usize, usize)>) {
    let (bytes, offsets) = strip(text);
    if bytes.len() < MIN_SECRET_RUN {
        return;
    }
    for (i, window) in bytes.windows(MIN_SECRET_RUN).enumerate() {
        if let Ok(window) = Window::try_from(window)
            && all.contains(&window)
        {
            ranges.push((offsets[i], offsets[i + MIN_SECRET_RUN - 1] + 1));
        }
    }
}

/// Byte ranges of every secret-shaped part of `text`.
fn shape_ranges(text: &str) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    pem_ranges(text, &mut ranges);
    jwt_ranges(text, &mut ranges);
    der_ranges(text, &mut ranges);
    ranges
}

// ---- PEM ----

/// PEM boundary lines, also broken ones: `BEGIN`/`END` after at least three dashes, or followed by a key label.
fn pem_ranges(text: &str, ranges: &mut Vec<(usize, usize)>) {
    let mut from = 0;
    while let Some((start, after)) = find_boundary(text, from, "BEGIN") {
        let end = match find_boundary(text, after, "END") {
            Some((_, end_word)) => line_end(text, end_word),
            None => text.len(),
        };
        ranges.push((start, end));
        from = end.max(after);
        if from >= text.len() {
            return;
        }
    }
    // A lone END line (the BEGIN part cut off elsewhere) still names the key.
    let mut from = 0;
    while let Some((start, after)) = find_boundary(text, from, "END") {
        let end = line_end(text, after);
        ranges.push((start, end));
        from = end.max(after);
    }
}

const KEY_LABELS: [&str; 4] = [
    " PRIVATE KEY",
    " EC PRIVATE KEY",
    " RSA PRIVATE KEY",
    " ENCRYPTED PRIVATE KEY",
];

/// The next `word` that is a PEM boundary at or after `from`: `(start including its dashes, end of the word)`.
fn find_boundary(text: &str, mut from: usize, word: &str) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    while let Some(at) = text.get(from..)?.find(word) {
        let start = from + at;
        let after = start + word.len();
        let mut dash_start = start;
        while dash_start > 0 && bytes[dash_start - 1] == b'-' {
            dash_start -= 1;
        }
        let dashes = start - dash_start;
        let labelled = KEY_LABELS.iter().any(|l| text[after..].starts_with(l));
        if dashes >= 3 || labelled {
            return Some((dash_start, after));
        }
        from = after;
    }
    None
}

/// The end of a boundary line: after its closing dashes, else at the line break, else the end of the text.
fn line_end(text: &str, from: usize) -> usize {
    let rest = &text[from..];
    let stop = rest.find(['\n', '\r']).unwrap_or(rest.len());
    let stop = match rest.find("\\n") {
        Some(escape) if escape < stop => escape,
        _ => stop,
    };
    let line = &rest[..stop];
    match line.rfind('-') {
        Some(last) if line[..=last].contains("-----") || line.ends_with('-') => from + last + 1,
        _ => from + stop,
    }
}

// ---- JWT and base64url JSON ----

fn is_url_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

fn run_of(bytes: &[u8], from: usize, ok: fn(u8) -> bool) -> usize {
    bytes
        .get(from..)
        .map_or(0, |rest| rest.iter().take_while(|b| ok(**b)).count())
}

/// `eyJ` starts every base64url-encoded JSON object, so every JWT header and payload: a full JWT
/// (`eyJ…​.…​.…`), and any `eyJ` followed by at least ten base64url characters, with the dotted parts after it.
fn jwt_ranges(text: &str, ranges: &mut Vec<(usize, usize)>) {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(at) = text.get(from..).and_then(|rest| rest.find("eyJ")) {
        let start = from + at;
        let head = run_of(bytes, start + 3, is_url_safe);
        let mut end = start + 3 + head;
        let mut parts = 1;
        while bytes.get(end) == Some(&b'.') && parts < 3 {
            let next = run_of(bytes, end + 1, is_url_safe);
            if next == 0 && parts < 2 {
                break;
            }
            end += 1 + next;
            parts += 1;
        }
        if head >= 10 || (head > 0 && parts == 3) {
            ranges.push((start, end));
            from = end;
        } else {
            from = start + 3;
        }
    }
}

// ---- base64 DER key and base64 PEM ----

fn is_base64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'='
}

/// A bare base64 DER `PrivateKeyInfo` (`SEQUENCE { INTEGER 0|1, … }`, which encodes as `MIG…` or `MII…`), or a
/// base64 of a PEM: the whole base64 run, line breaks included.
fn der_ranges(text: &str, ranges: &mut Vec<(usize, usize)>) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        let candidate =
            (bytes[i] == b'M' && bytes[i + 1] == b'I') || bytes[i..].starts_with(b"LS0tLS1");
        if !candidate || (i > 0 && is_base64(bytes[i - 1])) {
            i += 1;
            continue;
        }
        // The head decides (a bounded look), so text full of `MI` costs linear time; only a key's run is measured.
        let head = base64_head(bytes, i, 14);
        if !(is_private_key_info(&head) || head.starts_with(b"LS0tLS1CRUdJTi")) {
            i += 1;
            continue;
        }
        let (end, chars) = base64_run(bytes, i);
        if chars >= MIN_SECRET_RUN {
            ranges.push((i, end));
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
}

/// The first `n` base64 characters from `start`, across line breaks and `\n` escapes.
fn base64_head(bytes: &[u8], start: usize, n: usize) -> Vec<u8> {
    let mut head = Vec::with_capacity(n);
    let mut i = start;
    while head.len() < n {
        match bytes.get(i) {
            Some(b) if is_base64(*b) => {
                head.push(*b);
                i += 1;
            }
            Some(b'\\') if matches!(bytes.get(i + 1), Some(b'n' | b'r')) => i += 2,
            Some(b'\n' | b'\r') => i += 1,
            _ => break,
        }
    }
    head
}

/// The end of a base64 run starting at `start` that may continue over line breaks and `\n` escapes (a key body
/// split over lines; spaces end it), and how many base64 characters it has.
fn base64_run(bytes: &[u8], start: usize) -> (usize, usize) {
    let mut end = start;
    let mut chars = 0;
    let mut i = start;
    loop {
        match bytes.get(i) {
            Some(b) if is_base64(*b) => {
                chars += 1;
                i += 1;
                end = i;
            }
            Some(b'\\') if matches!(bytes.get(i + 1), Some(b'n' | b'r')) => i += 2,
            Some(b'\n' | b'\r') => i += 1,
            _ => return (end, chars),
        }
    }
}

/// Whether base64 `run` begins with the DER of a `PrivateKeyInfo`: a long-form SEQUENCE, then `INTEGER 0` or `1`.
fn is_private_key_info(run: &[u8]) -> bool {
    let Some(head) = run.get(..12) else {
        return false;
    };
    let Ok(der) = base64::engine::general_purpose::STANDARD.decode(head) else {
        return false;
    };
    let body = match der.as_slice() {
        [0x30, 0x81, _, rest @ ..] => rest,
        [0x30, 0x82, _, _, rest @ ..] => rest,
        _ => return false,
    };
    matches!(body, [0x02, 0x01, 0x00 | 0x01, ..])
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgevZzL1gdAFr88hb2\nOF/2NxApJCzGCEDdfSp6VQO30hyhRANCAAQRWz+jn65BtOMvdyHKcvjBeBSDZH2r\n1RTwjmYSi9R/zpBnuQ4EiMnCqfMPWiZqB4QdbAd0E7oH50VpuZ1P087G";

    #[test]
    fn pem_blocks_are_removed_whole() {
        let text = "error: unexpected argument '-----BEGIN PRIVATE KEY-----\nMIGTAgEAMBMGByqGSM49\nAgEGCCqGSM49AwEH\n-----END PRIVATE KEY-----' found\n\nUsage: x";
        assert_eq!(
            redact_secrets(text),
            "error: unexpected argument '<redacted>' found\n\nUsage: x"
        );
    }

    #[test]
    fn a_cut_off_pem_is_removed_to_the_end() {
        assert_eq!(
            redact_secrets("cannot read -----BEGIN PRIVATE KEY-----\nMIGTAgEA"),
            "cannot read <redacted>"
        );
        assert_eq!(
            redact_secrets("x -----BEGIN EC PRIVATE KEY-----\nAA\n-----END"),
            "x <redacted>"
        );
    }

    #[test]
    fn broken_pem_lines_are_removed() {
        for begin in [
            "-----BEGIN PRIVATE KEY",
            "----BEGIN PRIVATE KEY----",
            "---BEGIN PRIVATE KEY-----",
            "BEGIN PRIVATE KEY",
            "-----BEGIN PRIVATE KEY-----",
        ] {
            for end in [
                "-----END PRIVATE KEY-----",
                "-----END PRIVATE KEY",
                "END PRIVATE KEY---",
                "",
            ] {
                let text = format!("a '{begin}\n{BODY}\n{end}' b");
                let out = redact_secrets(&text);
                assert!(!out.contains("PRIVATE KEY"), "{out}");
                assert!(!out.contains("AwEHBG0wawIBAQQg"), "{out}");
            }
        }
        assert_eq!(
            redact_secrets("-----END PRIVATE KEY----- x"),
            "<redacted> x"
        );
    }

    #[test]
    fn jwts_and_base64url_json_are_removed_and_other_text_kept() {
        let jwt = "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9.eyJpc3MiOiIzZWMyIn0.2bu-3UlmSBoG_kClEjDC";
        let text = format!("detail: Bearer {jwt}; and again ({jwt})");
        assert_eq!(
            redact_secrets(&text),
            "detail: Bearer <redacted>; and again (<redacted>)"
        );
        // Not JWT-shaped: kept.
        for keep in ["eyJ alone", "eyJabc.def", "eyJ.a.b", "plain text é ✓", ""] {
            assert_eq!(redact_secrets(keep), keep);
        }
        // Unsigned (empty signature) still counts, and so do a header or payload alone.
        assert_eq!(redact_secrets("eyJa.eyJb."), "<redacted>");
        assert_eq!(
            redact_secrets("?a=eyJ0eXAiOiJKV1QiLCJh.eyJpc3MiOiIz&b=c"),
            "?a=<redacted>&b=c"
        );
    }

    #[test]
    fn a_bare_der_key_is_removed_also_over_lines_and_escapes() {
        let one_line = BODY.replace('\n', "");
        for text in [
            BODY.to_owned(),
            one_line.clone(),
            BODY.replace('\n', "\\n"),
            one_line[..40].to_owned(),
        ] {
            assert_eq!(
                redact_secrets(&format!("invalid value '{text}' for")),
                "invalid value '<redacted>' for"
            );
        }
        // An RSA/other PKCS#8 of any size starts MII…; a word that starts like one is not a key.
        assert_eq!(
            redact_secrets("x MIIEvQIBADANBgkqhkiG9w0BAQEFAASC y"),
            "x <redacted> y"
        );
        for keep in ["MIGRATION_GUIDE", "MIGHTY MIIAMI", "MIGHAgEA"] {
            assert_eq!(redact_secrets(keep), keep);
        }
    }

    #[test]
    fn a_base64_pem_is_removed() {
        let pem = format!("-----BEGIN PRIVATE KEY-----\n{BODY}\n-----END PRIVATE KEY-----\n");
        let b64 = base64::engine::general_purpose::STANDARD.encode(&pem);
        assert_eq!(redact_secrets(&format!("'{b64}'")), "'<redacted>'");
    }

    #[test]
    fn live_secrets_are_found_in_any_16_character_run() {
        let redactor = Redactor::new();
        let body: String = BODY.split('\n').skip(1).collect::<Vec<_>>().join("\n");
        redactor.add_secret(&format!(
            "-----BEGIN PRIVATE KEY-----\n{BODY}\n-----END PRIVATE KEY-----"
        ));
        let flat = body.replace('\n', "");
        // A middle piece, exactly 16 characters, split over lines, in JSON: gone.
        for piece in [&flat[10..26], &flat[30..90], &body[5..100]] {
            let out = redactor.redact(&format!("value \"{piece}\" x"));
            assert_eq!(out, "value \"<redacted>\" x", "{piece}");
        }
        let json = serde_json::to_string(&body).unwrap();
        assert!(!redactor.redact(&json).contains(&flat[0..16]));
        // 15 characters are not a secret run.
        assert_eq!(redactor.redact(&flat[20..35]), &flat[20..35]);
    }

    #[test]
    fn tokens_and_their_parts_are_removed_and_old_ones_forgotten() {
        let redactor = Redactor::new();
        let token = "eyJhbGciOiJFUzI1NiIsImtpZCI6IkFCQyJ9.eyJpc3MiOiJ4IiwiZXhwIjoxfQ.c2lnbmF0dXJlLXBhcnQtb2YtdGhlLXRva2VuLXZhbHVl";
        redactor.add_token(token);
        let sig = token.rsplit('.').next().unwrap();
        assert_eq!(redactor.redact(&format!("total={sig}")), "total=<redacted>");
        assert_eq!(
            redactor.redact(&format!("a={}", &sig[..20])),
            "a=<redacted>"
        );
        for i in 0..REMEMBERED_TOKENS {
            redactor.add_token(&format!("{i}{}", "x".repeat(40)));
        }
        assert_eq!(redactor.redact(sig), sig, "the oldest token was forgotten");
    }

    #[test]
    fn hostile_text_costs_linear_time() {
        let redactor = Redactor::new();
        redactor.add_secret(BODY);
        let started = std::time::Instant::now();
        for text in [
            "MI".repeat(500_000),
            "eyJ".repeat(300_000),
            "-----BEGIN ".repeat(100_000),
            "A".repeat(1_000_000),
        ] {
            let _ = redactor.redact(&text);
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn one_line_is_bounded_and_printable() {
        let r = Redactor::new();
        assert_eq!(r.one_line("a\nb\u{1b}[31m", 100), "a b [31m");
        assert_eq!(r.one_line(&"x".repeat(10), 4), "xxxx…");
        assert_eq!(one_line("é✓", 1), "é…");
    }
}
