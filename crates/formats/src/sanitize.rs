//! Strings taken from an archive (entry names, plist values) are hostile: before they reach a
//! terminal, control characters (escape sequences, carriage returns, ...) are made visible.

/// Replaces control and bidi-override characters by `\u{..}` escapes.
pub fn for_terminal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// The first `n` bytes of untrusted data as a quoted, printable string, for messages such as
/// `not a zip archive (starts with "<html>..")`: non-printable bytes become `.`.
pub fn describe_head(bytes: &[u8], n: usize) -> String {
    let shown: String = bytes
        .iter()
        .take(n)
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        })
        .collect();
    format!("{shown:?}")
}
