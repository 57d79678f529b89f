//! `Info.plist` (XML or binary) and the keys the rules read, as typed values.
//!
//! Keys follow Apple's Information Property List reference; which ones Xcode writes is in
//! `formats.md` §2. Values of the wrong type are kept as [`Value::Other`]-like `None`s with the
//! raw plist still available, so a rule can say "wrong type" rather than "missing".

use plist::{Dictionary, Value};

/// Encoding of a property list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PlistFormat {
    /// `<?xml ... <plist>`.
    Xml,
    /// `bplist00`.
    Binary,
}

/// Why bytes are not a property list, worded for a one-line message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PlistError(pub String);

/// Deepest nesting of arrays/dictionaries accepted: the `plist` crate builds values recursively,
/// so a hostile plist nested a million levels deep would otherwise overflow the stack.
const MAX_NESTING: usize = 256;

/// Most values (events) a property list may expand to. A binary plist can reference one object
/// from many places, so 40 arrays each pointing twice at the next expand to 2^40 values from a
/// few hundred bytes; a real Info.plist has a few thousand.
const MAX_EVENTS: usize = 1_000_000;

/// Most bytes of strings, keys and data a property list may expand to. A binary plist can
/// reference one 1 MiB `<data>` object half a million times from 1.5 MB; counting values alone
/// would let that copy 500 GB. A real Info.plist holds well under a megabyte of text.
pub const MAX_EXPANDED_BYTES: u64 = 64 << 20;

/// Parses an XML or binary property list whose root must be a dictionary.
///
/// A first pass walks the plist as an event stream (iterative, no recursion) to bound its nesting;
/// only then is the value tree built.
pub fn parse_dictionary(bytes: &[u8]) -> Result<(PlistFormat, Dictionary), PlistError> {
    let utf8 = from_utf16(bytes)?;
    let bytes = utf8.as_deref().unwrap_or(bytes);
    let format = sniff(bytes)?;
    if format == PlistFormat::Xml && contains_ignore_case(bytes, b"<!ENTITY") {
        // The XML reader would silently expand unknown entities to nothing (com.example.&x;
        // becomes com.example.): refuse rather than judge a value that is not what Apple reads.
        return Err(PlistError(
            "not a property list: XML entity declarations are not allowed".into(),
        ));
    }
    check_nesting(bytes)?;
    let value = Value::from_reader(std::io::Cursor::new(bytes))
        .map_err(|e| PlistError(format!("not a valid property list: {e}")))?;
    match value {
        Value::Dictionary(dict) => Ok((format, dict)),
        other => Err(PlistError(format!(
            "the root is {}, not a dictionary",
            type_name(&other)
        ))),
    }
}

/// Parses a compiled or source `.strings` file (`InfoPlist.strings`): a binary or XML property
/// list whose root is a dictionary (what Xcode writes into a built app), or the text format
/// (`"key" = "value";` lines with comments, UTF-8 or UTF-16 with a byte-order mark), read as the
/// body of an old-style dictionary. Same bounds as [`parse_dictionary`].
pub fn parse_strings(bytes: &[u8]) -> Result<Dictionary, PlistError> {
    let utf8 = from_utf16(bytes)?;
    let text = utf8.as_deref().unwrap_or(bytes);
    if text.starts_with(b"bplist00") || sniff(text).is_ok() {
        return parse_dictionary(bytes).map(|(_, dict)| dict);
    }
    let text = text.strip_prefix(b"\xef\xbb\xbf").unwrap_or(text);
    if std::str::from_utf8(text).is_err() {
        return Err(PlistError(
            "not a strings file: neither a property list nor UTF-8/UTF-16 text".into(),
        ));
    }
    let mut wrapped = Vec::with_capacity(text.len() + 4);
    wrapped.extend_from_slice(b"{\n");
    wrapped.extend_from_slice(text);
    wrapped.extend_from_slice(b"\n}");
    check_nesting(&wrapped)?;
    match Value::from_reader(std::io::Cursor::new(&wrapped))
        .map_err(|e| PlistError(format!("not a valid strings file: {e}")))?
    {
        Value::Dictionary(dict) => Ok(dict),
        other => Err(PlistError(format!(
            "the strings file reads as {}, not key = value pairs",
            type_name(&other)
        ))),
    }
}

/// Apple's parser also reads UTF-16 XML plists (with a byte-order mark); they are converted to
/// UTF-8, declaration included, so the XML reader sees one encoding.
fn from_utf16(bytes: &[u8]) -> Result<Option<Vec<u8>>, PlistError> {
    let big_endian = match bytes {
        [0xFE, 0xFF, ..] => true,
        [0xFF, 0xFE, ..] => false,
        _ => return Ok(None),
    };
    if !bytes.len().is_multiple_of(2) {
        return Err(PlistError(
            "not a property list: UTF-16 text with an odd number of bytes".into(),
        ));
    }
    let units = bytes[2..].chunks_exact(2).map(|c| {
        if big_endian {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_le_bytes([c[0], c[1]])
        }
    });
    let text: String = char::decode_utf16(units)
        .collect::<Result<_, _>>()
        .map_err(|_| PlistError("not a property list: invalid UTF-16 text".into()))?;
    let text = text
        .replacen("encoding=\"UTF-16\"", "encoding=\"UTF-8\"", 1)
        .replacen("encoding=\"utf-16\"", "encoding=\"UTF-8\"", 1);
    Ok(Some(text.into_bytes()))
}

fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

fn sniff(bytes: &[u8]) -> Result<PlistFormat, PlistError> {
    if bytes.is_empty() {
        return Err(PlistError("empty file".into()));
    }
    if bytes.starts_with(b"bplist00") {
        return Ok(PlistFormat::Binary);
    }
    let text = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let start = text
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(0);
    let text = &text[start..];
    if text.starts_with(b"<?xml")
        || text.starts_with(b"<plist")
        || text.starts_with(b"<!DOCTYPE plist")
    {
        return Ok(PlistFormat::Xml);
    }
    Err(PlistError(format!(
        "not a property list (starts with {})",
        crate::sanitize::describe_head(text, 5)
    )))
}

/// Walks the plist as events (iterative) and bounds what building its value would cost: nesting
/// depth, number of values and bytes of strings and data, each counted per reference, before
/// anything is copied into a value tree.
fn check_nesting(bytes: &[u8]) -> Result<(), PlistError> {
    use plist::stream::Event;
    let mut depth = 0usize;
    let mut expanded = 0u64;
    for (count, event) in plist::stream::Reader::new(std::io::Cursor::new(bytes)).enumerate() {
        if count >= MAX_EVENTS {
            return Err(PlistError(format!(
                "expands to more than {MAX_EVENTS} values (shared objects?)"
            )));
        }
        let event = event.map_err(|e| PlistError(format!("not a valid property list: {e}")))?;
        expanded += match &event {
            Event::String(s) => s.len() as u64,
            Event::Data(d) => d.len() as u64,
            _ => 8,
        };
        if expanded > MAX_EXPANDED_BYTES {
            return Err(PlistError(format!(
                "expands to more than {} MiB of strings and data (one object referenced many times?)",
                MAX_EXPANDED_BYTES >> 20
            )));
        }
        match event {
            Event::StartArray(_) | Event::StartDictionary(_) => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(PlistError(format!(
                        "nested deeper than {MAX_NESTING} levels"
                    )));
                }
            }
            Event::EndCollection => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Name of a plist value's type, for messages.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Array(_) => "an array",
        Value::Dictionary(_) => "a dictionary",
        Value::Boolean(_) => "a boolean",
        Value::Data(_) => "data",
        Value::Date(_) => "a date",
        Value::Real(_) => "a real number",
        Value::Integer(_) => "an integer",
        Value::String(_) => "a string",
        Value::Uid(_) => "a UID",
        _ => "an unknown value",
    }
}

/// Whether a `CFBundleVersion` / `CFBundleShortVersionString` value is what App Store Connect
/// accepts: `^[0-9]+(\.[0-9]+){0,2}$`, "a period-separated list of at most three non-negative
/// integers" (ITMS-90058 / ITMS-90060). The one definition for the rules and the bumper.
pub fn is_valid_bundle_version(s: &str) -> bool {
    let mut parts = 0;
    for part in s.split('.') {
        parts += 1;
        if parts > 3 || part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    true
}

/// A string-valued key: absent, a string, or present with another type.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum Text {
    /// The key holds a string (possibly empty).
    Str(String),
    /// The key holds something else; the type is named.
    WrongType(WrongType),
}

/// Marker for a key that holds a value of an unexpected type.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WrongType {
    /// e.g. "an integer".
    pub wrong_type: &'static str,
}

impl Text {
    /// The string, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Text::Str(s) => Some(s),
            Text::WrongType(_) => None,
        }
    }
}

/// Reads a string key.
pub fn text(dict: &Dictionary, key: &str) -> Option<Text> {
    dict.get(key).map(|v| match v {
        Value::String(s) => Text::Str(s.clone()),
        other => Text::WrongType(WrongType {
            wrong_type: type_name(other),
        }),
    })
}

/// Reads an array of strings (non-strings are skipped).
pub fn strings(dict: &Dictionary, key: &str) -> Option<Vec<String>> {
    match dict.get(key)? {
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(|v| v.as_string().map(str::to_owned))
                .collect(),
        ),
        Value::String(s) => Some(vec![s.clone()]),
        _ => None,
    }
}

/// Reads a boolean key (Xcode sometimes writes `YES`/`NO` strings via build settings).
pub fn boolean(dict: &Dictionary, key: &str) -> Option<bool> {
    match dict.get(key)? {
        Value::Boolean(b) => Some(*b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "yes" | "true" | "1" => Some(true),
            "no" | "false" | "0" => Some(false),
            _ => None,
        },
        Value::Integer(i) => i.as_signed().map(|v| v != 0),
        _ => None,
    }
}

/// `UIRequiredDeviceCapabilities`, which Apple allows as an array (all required) or a dictionary
/// (`true` = required, `false` = must not be present).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Capabilities {
    /// Capabilities the device must have.
    pub required: Vec<String>,
    /// Capabilities the device must not have.
    pub forbidden: Vec<String>,
}

/// Reads `UIRequiredDeviceCapabilities`.
pub fn capabilities(dict: &Dictionary) -> Option<Capabilities> {
    match dict.get("UIRequiredDeviceCapabilities")? {
        Value::Array(items) => Some(Capabilities {
            required: items
                .iter()
                .filter_map(|v| v.as_string().map(str::to_owned))
                .collect(),
            forbidden: Vec::new(),
        }),
        Value::Dictionary(map) => {
            let mut caps = Capabilities::default();
            for (k, v) in map {
                if v.as_boolean() == Some(false) {
                    caps.forbidden.push(k.clone());
                } else {
                    caps.required.push(k.clone());
                }
            }
            Some(caps)
        }
        _ => None,
    }
}

/// `UIDeviceFamily` values (1 iPhone, 2 iPad, 3 tv, 4 watch, 6 mac, 7 vision), integers or strings.
pub fn device_family(dict: &Dictionary) -> Option<Vec<u64>> {
    let read = |v: &Value| match v {
        Value::Integer(i) => i.as_unsigned(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    match dict.get("UIDeviceFamily")? {
        Value::Array(items) => Some(items.iter().filter_map(read).collect()),
        other => read(other).map(|v| vec![v]),
    }
}

/// The icon name Xcode's actool writes: top-level `CFBundleIconName`, or
/// `CFBundleIcons.CFBundlePrimaryIcon.CFBundleIconName` (also `~ipad`), or tvOS's string form.
pub fn icon_name(dict: &Dictionary) -> Option<String> {
    if let Some(Value::String(s)) = dict.get("CFBundleIconName") {
        return Some(s.clone());
    }
    for key in ["CFBundleIcons", "CFBundleIcons~ipad"] {
        if let Some(Value::Dictionary(icons)) = dict.get(key) {
            match icons.get("CFBundlePrimaryIcon") {
                Some(Value::Dictionary(primary)) => {
                    if let Some(Value::String(s)) = primary.get("CFBundleIconName") {
                        return Some(s.clone());
                    }
                }
                Some(Value::String(s)) => return Some(s.clone()),
                _ => {}
            }
        }
    }
    None
}

/// Every icon base name listed in `CFBundleIconFiles`, top level or under a primary icon.
pub fn icon_files(dict: &Dictionary) -> Vec<String> {
    let mut out = strings(dict, "CFBundleIconFiles").unwrap_or_default();
    for key in ["CFBundleIcons", "CFBundleIcons~ipad"] {
        if let Some(Value::Dictionary(icons)) = dict.get(key)
            && let Some(Value::Dictionary(primary)) = icons.get("CFBundlePrimaryIcon")
        {
            out.extend(strings(primary, "CFBundleIconFiles").unwrap_or_default());
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use ipagate_fixtures::plist::nested_arrays;

    #[test]
    fn strings_files_in_every_encoding_xcode_ships() {
        let text = "/* comment */\n\"NSCameraUsageDescription\" = \"Scan \\\"codes\\\"\";\n// line\nCFBundleDisplayName = Demo;\n";
        let dict = parse_strings(text.as_bytes()).unwrap();
        assert_eq!(
            dict.get("NSCameraUsageDescription")
                .and_then(Value::as_string),
            Some("Scan \"codes\"")
        );
        assert_eq!(
            dict.get("CFBundleDisplayName").and_then(Value::as_string),
            Some("Demo")
        );
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(parse_strings(&utf16).unwrap(), dict);
        let mut binary = Vec::new();
        Value::Dictionary(dict.clone())
            .to_writer_binary(&mut binary)
            .unwrap();
        assert_eq!(parse_strings(&binary).unwrap(), dict);
        // Not strings files: a clear error, never a panic.
        for bad in [
            &b"\"key\" = \"never closed;"[..],
            b"\xff\xfe\x00",
            b"\xc3\x28 = x;",
            b"key = (a, b;",
        ] {
            assert!(parse_strings(bad).is_err(), "{bad:?}");
        }
        // The same depth bound as an Info.plist.
        let deep = format!("k = {}x{};", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse_strings(deep.as_bytes()).is_err());
    }

    #[test]
    fn deeply_nested_binary_plist_is_refused_not_a_stack_overflow() {
        let err = parse_dictionary(&nested_arrays(200_000, 1)).unwrap_err();
        assert!(err.0.contains("nested deeper than 256"), "{err}");
    }

    #[test]
    fn shared_objects_cannot_expand_exponentially() {
        let started = std::time::Instant::now();
        let err = parse_dictionary(&nested_arrays(40, 2)).unwrap_err();
        assert!(err.0.contains("expands to more than"), "{err}");
        // Not a timing assertion: a guard that the bound, not luck, ended the walk.
        assert!(started.elapsed() < std::time::Duration::from_secs(60));
    }

    #[test]
    fn shared_blobs_are_bounded_in_bytes_before_any_copy() {
        use ipagate_fixtures::plist::{Shared, shared_blob};
        for kind in [Shared::Data, Shared::String, Shared::Dictionary] {
            // The plistlib shape from the report: 1 MiB referenced 500,000 times, 1.5 MB on disk.
            let bytes = shared_blob(kind, 1 << 20, 500_000);
            assert!(bytes.len() < 2 << 20, "{kind:?}: {}", bytes.len());
            let err = parse_dictionary(&bytes).unwrap_err();
            assert!(
                err.0.contains("expands to more than 64 MiB"),
                "{kind:?}: {err}"
            );
        }
        // The same shape within the budget parses: the bound is on bytes, not on sharing.
        let (_, dict) = parse_dictionary(&shared_blob(Shared::Data, 1024, 100)).unwrap();
        assert_eq!(
            dict.get("Blob").and_then(Value::as_array).map(Vec::len),
            Some(100)
        );
        let (_, dict) = parse_dictionary(&shared_blob(Shared::String, 10, 3)).unwrap();
        assert_eq!(
            dict.get("Blob")
                .and_then(Value::as_array)
                .and_then(|a| a[2].as_string()),
            Some("xxxxxxxxxx")
        );
    }

    #[test]
    fn deeply_nested_xml_plist_is_refused() {
        let mut xml = String::from("<?xml version=\"1.0\"?><plist version=\"1.0\">");
        xml.push_str(&"<array>".repeat(100_000));
        xml.push_str(&"</array>".repeat(100_000));
        xml.push_str("</plist>");
        let err = parse_dictionary(xml.as_bytes()).unwrap_err();
        assert!(err.0.contains("nested deeper"), "{err}");
    }

    #[test]
    fn shallow_nesting_parses() {
        let err = parse_dictionary(&nested_arrays(10, 1)).unwrap_err();
        assert!(err.0.contains("the root is an array"), "{err}");
    }

    #[test]
    fn utf16_xml_reads_like_utf8() {
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-16\"?><plist version=\"1.0\"><dict><key>CFBundleIdentifier</key><string>com.example.d\u{e9}mo</string></dict></plist>";
        for big_endian in [true, false] {
            let mut bytes = if big_endian {
                vec![0xFE, 0xFF]
            } else {
                vec![0xFF, 0xFE]
            };
            for unit in xml.encode_utf16() {
                bytes.extend_from_slice(&if big_endian {
                    unit.to_be_bytes()
                } else {
                    unit.to_le_bytes()
                });
            }
            let (format, dict) = parse_dictionary(&bytes).unwrap();
            assert_eq!(format, PlistFormat::Xml);
            assert_eq!(
                dict.get("CFBundleIdentifier").and_then(Value::as_string),
                Some("com.example.d\u{e9}mo")
            );
        }
    }

    #[test]
    fn entity_declarations_are_refused_not_expanded_to_nothing() {
        let xml = br#"<?xml version="1.0"?><!DOCTYPE plist [<!ENTITY evil "x">]><plist version="1.0"><dict><key>CFBundleIdentifier</key><string>com.example.&evil;</string></dict></plist>"#;
        let err = parse_dictionary(xml).unwrap_err();
        assert_eq!(
            err.0,
            "not a property list: XML entity declarations are not allowed"
        );
    }

    #[test]
    fn html_is_named_as_such() {
        let err = parse_dictionary(b"<html><body>502 Bad Gateway</body></html>").unwrap_err();
        assert_eq!(err.0, "not a property list (starts with \"<html\")");
        assert_eq!(parse_dictionary(b"").unwrap_err().0, "empty file");
    }

    #[test]
    fn both_encodings_give_the_same_dictionary() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict><key>CFBundleIdentifier</key><string>com.example.demo</string>
<key>UIDeviceFamily</key><array><integer>1</integer><integer>2</integer></array></dict></plist>"#;
        let (format, dict) = parse_dictionary(xml).unwrap();
        assert_eq!(format, PlistFormat::Xml);
        let mut binary = Vec::new();
        plist::Value::Dictionary(dict.clone())
            .to_writer_binary(&mut binary)
            .unwrap();
        let (format, again) = parse_dictionary(&binary).unwrap();
        assert_eq!(format, PlistFormat::Binary);
        assert_eq!(again, dict);
        assert_eq!(device_family(&dict), Some(vec![1, 2]));
    }

    #[test]
    fn capabilities_array_and_dictionary() {
        let mut d = Dictionary::new();
        d.insert(
            "UIRequiredDeviceCapabilities".into(),
            Value::Array(vec![Value::String("arm64".into())]),
        );
        assert_eq!(
            capabilities(&d).unwrap().required,
            vec!["arm64".to_string()]
        );
        let mut caps = Dictionary::new();
        caps.insert("arm64".into(), Value::Boolean(true));
        caps.insert("armv7".into(), Value::Boolean(false));
        d.insert(
            "UIRequiredDeviceCapabilities".into(),
            Value::Dictionary(caps),
        );
        let c = capabilities(&d).unwrap();
        assert_eq!(
            (c.required, c.forbidden),
            (vec!["arm64".to_string()], vec!["armv7".to_string()])
        );
    }
}
