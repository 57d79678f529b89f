//! Line and column of the keys of an XML property list and of the values of a JSON document, so
//! that `lint` can point an editor or a CI annotation at the place a finding is about.
//!
//! Neither `plist` nor `serde_json` keeps positions, so these are small scanners that read only
//! the structure (tags, strings, brackets) — not full parsers: the document has already been
//! parsed for its values, and a scanner that cannot follow a document simply finds fewer places.
//! Both are linear, never recurse, and keep at most [`MAX_PLACES`] places.

/// A place in a text file: 1-based line and column (in characters).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Position {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
}

/// Most places recorded per document.
pub const MAX_PLACES: usize = 100_000;

/// Tracks line and column while a scanner advances through the text.
struct Cursor<'a> {
    text: &'a str,
    at: usize,
    line: u32,
    column: u32,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Cursor<'a> {
        Cursor {
            text,
            at: 0,
            line: 1,
            column: 1,
        }
    }

    fn position(&self) -> Position {
        Position {
            line: self.line,
            column: self.column,
        }
    }

    fn rest(&self) -> &'a str {
        &self.text[self.at..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += c.len_utf8();
        if c == '\n' {
            self.line = self.line.saturating_add(1);
            self.column = 1;
        } else {
            self.column = self.column.saturating_add(1);
        }
        Some(c)
    }

    /// Advances past the next occurrence of `pat`; false (at the end) when there is none.
    fn skip_past(&mut self, pat: &str) -> bool {
        match self.rest().find(pat) {
            Some(i) => {
                let end = self.at + i + pat.len();
                while self.at < end {
                    self.bump();
                }
                true
            }
            None => {
                while self.bump().is_some() {}
                false
            }
        }
    }
}

fn unescape_xml(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

enum Frame {
    Dict {
        path: Option<String>,
        pending: Option<String>,
    },
    Array {
        path: Option<String>,
        next: usize,
    },
}

/// The `<key>` elements of an XML property list's dictionaries, by key path as the rules name
/// them (`NSExtension.NSExtensionPointIdentifier`, `NSPrivacyAccessedAPITypes[0].NSPrivacyAccessedAPIType`),
/// in document order.
pub fn xml_plist_keys(text: &str) -> Vec<(String, Position)> {
    let mut out = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut c = Cursor::new(text);
    while out.len() < MAX_PLACES {
        if !c.rest().contains('<') {
            break;
        }
        while c.peek().is_some_and(|ch| ch != '<') {
            c.bump();
        }
        let start = c.position();
        let rest = c.rest();
        if rest.starts_with("<!--") {
            c.skip_past("-->");
            continue;
        }
        if rest.starts_with("<![CDATA[") {
            c.skip_past("]]>");
            continue;
        }
        if rest.starts_with("<?") || rest.starts_with("<!") {
            c.skip_past(">");
            continue;
        }
        let Some(end) = rest.find('>') else { break };
        let tag = &rest[1..end];
        c.skip_past(">");
        let self_closing = tag.ends_with('/');
        let name = tag
            .trim_start_matches('/')
            .trim_end_matches('/')
            .split_whitespace()
            .next()
            .unwrap_or("");
        let closing = tag.starts_with('/');
        // A value (or container) inside a dictionary uses up the pending key; inside an array
        // it takes the next index.
        let value_path = |stack: &mut Vec<Frame>| -> Option<String> {
            match stack.last_mut() {
                Some(Frame::Dict { pending, .. }) => pending.take(),
                Some(Frame::Array { path, next }) => {
                    let p = path.as_ref().map(|p| format!("{p}[{next}]"));
                    *next += 1;
                    p
                }
                None => None,
            }
        };
        match (name, closing) {
            ("key", false) if !self_closing => {
                let body_end = c.rest().find("</key>").unwrap_or(c.rest().len());
                let key = unescape_xml(c.rest()[..body_end].trim());
                if let Some(Frame::Dict { path, pending }) = stack.last_mut() {
                    let full = match path {
                        Some(p) => format!("{p}.{key}"),
                        None => key,
                    };
                    out.push((full.clone(), start));
                    *pending = Some(full);
                }
                c.skip_past("</key>");
            }
            ("dict" | "array", false) => {
                let path = value_path(&mut stack);
                if !self_closing {
                    stack.push(if name == "dict" {
                        Frame::Dict {
                            path,
                            pending: None,
                        }
                    } else {
                        Frame::Array { path, next: 0 }
                    });
                }
            }
            ("dict" | "array", true) => {
                stack.pop();
            }
            (_, false) => {
                value_path(&mut stack);
            }
            _ => {}
        }
    }
    out
}

/// The position of every value of a JSON document up to `max_depth` levels deep, by JSON pointer
/// (`/images/3`, `/images/3/filename`), in document order.
pub fn json_pointers(text: &str, max_depth: usize) -> Vec<(String, Position)> {
    enum Container {
        Object { key: Option<String> },
        Array { next: usize },
    }
    let mut out = Vec::new();
    let mut stack: Vec<(String, Container)> = Vec::new();
    let mut c = Cursor::new(text);
    // Where the next value goes, computed before it starts.
    let pointer_for_value = |stack: &mut Vec<(String, Container)>| -> Option<String> {
        match stack.last_mut() {
            None => Some(String::new()),
            Some((base, Container::Object { key })) => key
                .take()
                .map(|k| format!("{base}/{}", k.replace('~', "~0").replace('/', "~1"))),
            Some((base, Container::Array { next })) => {
                let p = format!("{base}/{next}");
                *next += 1;
                Some(p)
            }
        }
    };
    while let Some(ch) = c.peek() {
        if out.len() >= MAX_PLACES {
            break;
        }
        match ch {
            '"' => {
                let start = c.position();
                c.bump();
                let mut s = String::new();
                while let Some(x) = c.bump() {
                    match x {
                        '\\' => {
                            if let Some(e) = c.bump() {
                                s.push(e);
                            }
                        }
                        '"' => break,
                        _ => s.push(x),
                    }
                }
                // A string followed by ':' is a key.
                while c.peek().is_some_and(char::is_whitespace) {
                    c.bump();
                }
                let is_key = c.peek() == Some(':')
                    && matches!(stack.last(), Some((_, Container::Object { .. })));
                if is_key {
                    c.bump();
                    if let Some((_, Container::Object { key })) = stack.last_mut() {
                        *key = Some(s);
                    }
                } else if let Some(p) = pointer_for_value(&mut stack)
                    && stack.len() <= max_depth
                {
                    out.push((p, start));
                }
            }
            '{' | '[' => {
                let start = c.position();
                c.bump();
                let p = pointer_for_value(&mut stack).unwrap_or_default();
                if stack.len() <= max_depth {
                    out.push((p.clone(), start));
                }
                let container = if ch == '{' {
                    Container::Object { key: None }
                } else {
                    Container::Array { next: 0 }
                };
                stack.push((p, container));
            }
            '}' | ']' => {
                c.bump();
                stack.pop();
            }
            ',' | ':' => {
                c.bump();
            }
            x if x.is_whitespace() => {
                c.bump();
            }
            _ => {
                // A number, true, false or null.
                let start = c.position();
                while c
                    .peek()
                    .is_some_and(|x| !matches!(x, ',' | '}' | ']') && !x.is_whitespace())
                {
                    c.bump();
                }
                if let Some(p) = pointer_for_value(&mut stack)
                    && stack.len() <= max_depth
                {
                    out.push((p, start));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: u32, column: u32) -> Position {
        Position { line, column }
    }

    #[test]
    fn xml_keys_have_their_line_column_and_key_path() {
        let text = "<?xml version=\"1.0\"?>\n<!DOCTYPE plist>\n<plist version=\"1.0\">\n<dict>\n\
                    \t<key>CFBundleIdentifier</key>\n\t<string>com.x</string>\n\
                    \t<!-- <key>Commented</key> -->\n\
                    \t<key>NSExtension</key>\n\t<dict>\n\t\t<key>NSExtensionPointIdentifier</key>\n\
                    \t\t<string>a</string>\n\t</dict>\n\
                    \t<key>List</key>\n\t<array>\n\t\t<dict><key>Inner</key><true/></dict>\n\t</array>\n\
                    \t<key>A&amp;B</key><true/>\n</dict>\n</plist>\n";
        let keys = xml_plist_keys(text);
        assert_eq!(
            keys,
            vec![
                ("CFBundleIdentifier".to_string(), at(5, 2)),
                ("NSExtension".to_string(), at(8, 2)),
                (
                    "NSExtension.NSExtensionPointIdentifier".to_string(),
                    at(10, 3)
                ),
                ("List".to_string(), at(13, 2)),
                ("List[0].Inner".to_string(), at(15, 9)),
                ("A&B".to_string(), at(17, 2)),
            ]
        );
    }

    #[test]
    fn json_pointers_find_array_elements_and_members() {
        let text = "{\n  \"images\" : [\n    {\n      \"filename\" : \"a.png\",\n      \"size\" : \"60x60\"\n    },\n    { \"idiom\" : \"ios-marketing\" }\n  ],\n  \"info\" : { \"version\" : 1 }\n}\n";
        let places = json_pointers(text, 3);
        let get = |p: &str| places.iter().find(|(k, _)| k == p).map(|(_, pos)| *pos);
        assert_eq!(get(""), Some(at(1, 1)));
        assert_eq!(get("/images"), Some(at(2, 14)));
        assert_eq!(get("/images/0"), Some(at(3, 5)));
        assert_eq!(get("/images/0/filename"), Some(at(4, 20)));
        assert_eq!(get("/images/1"), Some(at(7, 5)));
        assert_eq!(get("/images/1/idiom"), Some(at(7, 17)));
        assert_eq!(get("/info/version"), Some(at(9, 26)));
    }

    #[test]
    fn hostile_text_ends_without_panicking() {
        for text in [
            "<",
            "<key>",
            "<dict><key>x",
            "<!--",
            "<![CDATA[",
            "<dict></array></dict></dict>",
            "\"",
            "{\"a\":",
            "[[[[",
            "]]]}}}",
            "{\"\\",
            "é<key>é</key>",
        ] {
            let _ = xml_plist_keys(text);
            let _ = json_pointers(text, 8);
        }
        let deep = "[".repeat(100_000);
        assert_eq!(json_pointers(&deep, 2).len(), 3);
    }
}
