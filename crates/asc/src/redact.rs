//! Removing secrets from text that is about to be shown: PEM blocks (a `.p8` pasted in the wrong place) and
//! JSON web tokens (a server echoing the `Authorization` header back in an error).
//!
//! This is the last line of defence for text the program does not control (server errors, a command-line parser's
//! messages quoting an argument); the credential code itself never puts key material into messages.

/// What replaces each secret.
const REDACTED: &str = "<redacted>";

/// `text` with every PEM block (`-----BEGIN …-----` up to the matching `-----END …-----`, or to the end of the text
/// when it is cut off) and every JWT-shaped token (`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*`) replaced
/// by `<redacted>`.
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
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let pem = rest.find("-----BEGIN");
        let jwt = find_jwt(rest);
        let (start, end) = match (pem, jwt) {
            (None, None) => break,
            (Some(p), Some(found)) if found.0 < p => found,
            (Some(p), _) => (p, pem_end(rest, p)),
            (None, Some(found)) => found,
        };
        out.push_str(&rest[..start]);
        out.push_str(REDACTED);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// End of the PEM block starting at `start`: after the dashes closing its `-----END …` line, else the end of text.
fn pem_end(text: &str, start: usize) -> usize {
    let after_begin = start + "-----BEGIN".len();
    let Some(end) = text[after_begin..].find("-----END") else {
        return text.len();
    };
    let label = after_begin + end + "-----END".len();
    match text[label..].find("-----") {
        // The closing dashes belong to the END line only when no line break comes first.
        Some(dashes) if !text[label..label + dashes].contains('\n') => {
            let mut stop = label + dashes;
            while text[stop..].starts_with('-') {
                stop += 1;
            }
            stop
        }
        _ => text.len(),
    }
}

fn is_url_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// The first JWT-shaped token in `text`: `(start, end)` byte offsets.
fn find_jwt(text: &str) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(at) = text[from..].find("eyJ") {
        let start = from + at;
        if let Some(end) = jwt_at(bytes, start) {
            return Some((start, end));
        }
        from = start + 3;
    }
    None
}

/// Matches `eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*` at `start`.
fn jwt_at(bytes: &[u8], start: usize) -> Option<usize> {
    let run = |from: usize| {
        bytes[from..]
            .iter()
            .take_while(|b| is_url_safe(**b))
            .count()
    };
    let mut i = start + 3;
    let header = run(i);
    if header == 0 {
        return None;
    }
    i += header;
    if bytes.get(i) != Some(&b'.') {
        return None;
    }
    i += 1;
    let payload = run(i);
    if payload == 0 {
        return None;
    }
    i += payload;
    if bytes.get(i) != Some(&b'.') {
        return None;
    }
    i += 1;
    Some(i + run(i))
}

#[cfg(test)]
mod tests {
    use super::redact_secrets;

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
    fn jwts_are_removed_and_other_text_kept() {
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
        // Unsigned (empty signature) still counts.
        assert_eq!(redact_secrets("eyJa.eyJb."), "<redacted>");
    }

    #[test]
    fn mixed_secrets_in_any_order() {
        let text = "a eyJa.b.c b -----BEGIN X-----\nZZ\n-----END X----- c eyJd.e.f";
        assert_eq!(
            redact_secrets(text),
            "a <redacted> b <redacted> c <redacted>"
        );
    }
}
