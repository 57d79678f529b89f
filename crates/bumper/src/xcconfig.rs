//! Reading `.xcconfig` files (`shared/reference/xcode-build-settings.md` §3): `KEY = value // comment` lines with
//! optional `[sdk=…][config=…][arch=…]` conditions, and `#include "path"` / `#include? "path"` (relative to the
//! including file; the `?` form is silent when the file is missing), flattened in order into one list of
//! assignments, each with its file, line and the byte span of its value so it can be replaced in place.
//!
//! Include chains are untrusted: a cycle and a chain deeper than [`MAX_INCLUDE_DEPTH`] are errors naming the files,
//! and the total number of assignments read is bounded by [`MAX_ASSIGNMENTS`].

use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::files::Files;
use crate::pbxproj::{normalize, split_conditions};

/// Deepest `#include` chain followed (real projects use 3 or 4).
pub const MAX_INCLUDE_DEPTH: usize = 32;
/// Most assignments read through one base configuration, includes included.
pub const MAX_ASSIGNMENTS: usize = 100_000;

/// One `KEY[cond] = value` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The name without conditions.
    pub key: String,
    /// `[name=pattern]` conditions.
    pub conditions: Vec<(String, String)>,
    /// The value, trimmed, without a trailing comment.
    pub value: String,
    /// The file (absolute).
    pub file: PathBuf,
    /// 1-based line number.
    pub line: usize,
    /// Byte span of the value in the file.
    pub span: Range<usize>,
}

/// A base configuration with everything it includes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loaded {
    /// Assignments in evaluation order (an included file's at the place of its `#include`).
    pub assignments: Vec<Assignment>,
    /// Files named by a plain `#include` that do not exist (Xcode warns; Flutter's `Generated.xcconfig` before
    /// `flutter build` ran).
    pub missing: Vec<PathBuf>,
}

enum Line<'a> {
    Include { path: &'a str, optional: bool },
    Assign(Assignment),
    Other,
}

fn parse_line<'a>(line: &'a str, offset: usize, file: &Path, number: usize) -> Line<'a> {
    let trimmed = line.trim_start();
    if let Some(rest) = trimmed.strip_prefix("#include") {
        let (optional, rest) = match rest.strip_prefix('?') {
            Some(rest) => (true, rest),
            None => (false, rest),
        };
        let rest = rest.trim();
        let path = rest
            .strip_prefix('"')
            .and_then(|r| r.split_once('"'))
            .map(|(p, _)| p)
            .or_else(|| {
                rest.strip_prefix('<')
                    .and_then(|r| r.split_once('>'))
                    .map(|(p, _)| p)
            });
        return match path {
            Some(path) => Line::Include { path, optional },
            None => Line::Other,
        };
    }
    let body = match line.find("//") {
        Some(i) => &line[..i],
        None => line,
    };
    // The assignment's `=` is the first one outside a `[sdk=…]` condition.
    let mut depth = 0usize;
    let Some(eq) = body.bytes().position(|b| {
        match b {
            b'[' => depth += 1,
            b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        b == b'=' && depth == 0
    }) else {
        return Line::Other;
    };
    let Some((key, conditions)) = split_conditions(&body[..eq]) else {
        return Line::Other;
    };
    if !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Line::Other;
    }
    let raw = &body[eq + 1..];
    let value = raw.trim();
    let lead = raw.len() - raw.trim_start().len();
    let start = offset + eq + 1 + lead;
    Line::Assign(Assignment {
        key,
        conditions,
        value: value.to_owned(),
        file: file.to_owned(),
        line: number,
        span: start..start + value.len(),
    })
}

/// Why a base configuration cannot be read.
pub type LoadError = String;

/// Reads `path` and everything it includes.
pub fn load(files: &Files, path: &Path) -> Result<Loaded, LoadError> {
    let mut loaded = Loaded::default();
    let mut stack = Vec::new();
    match load_into(files, path, false, &mut stack, &mut loaded)? {
        true => Ok(loaded),
        false => Err(format!(
            "the base configuration {} does not exist",
            files.display(path)
        )),
    }
}

/// Returns whether the file exists.
fn load_into(
    files: &Files,
    path: &Path,
    optional: bool,
    stack: &mut Vec<PathBuf>,
    out: &mut Loaded,
) -> Result<bool, LoadError> {
    if let Some(at) = stack.iter().position(|p| p == path) {
        let chain: Vec<String> = stack[at..]
            .iter()
            .chain(std::iter::once(&path.to_owned()))
            .map(|p| files.display(p))
            .collect();
        return Err(format!("#include cycle: {}", chain.join(" -> ")));
    }
    if stack.len() >= MAX_INCLUDE_DEPTH {
        return Err(format!(
            "#include chain deeper than {MAX_INCLUDE_DEPTH} files at {}",
            files.display(path)
        ));
    }
    let Some(bytes) = files.get(path)? else {
        if !optional && !stack.is_empty() {
            out.missing.push(path.to_owned());
        }
        return Ok(false);
    };
    let text =
        std::str::from_utf8(&bytes).map_err(|_| format!("{} is not UTF-8", files.display(path)))?;
    stack.push(path.to_owned());
    let dir = path.parent().unwrap_or(Path::new("")).to_owned();
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        match parse_line(line, offset, path, index + 1) {
            Line::Include {
                path: include,
                optional,
            } => {
                let target = normalize(&dir.join(include));
                load_into(files, &target, optional, stack, out)?;
            }
            Line::Assign(assignment) => {
                if out.assignments.len() >= MAX_ASSIGNMENTS {
                    return Err(format!(
                        "more than {MAX_ASSIGNMENTS} build settings through {}",
                        files.display(path)
                    ));
                }
                out.assignments.push(assignment);
            }
            Line::Other => {}
        }
        offset += line.len();
    }
    stack.pop();
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assign(line: &str) -> Option<(String, String, String)> {
        match parse_line(line, 0, Path::new("x"), 1) {
            Line::Assign(a) => Some((
                a.key,
                format!("{:?}", a.conditions),
                line[a.span].to_owned(),
            )),
            _ => None,
        }
    }

    #[test]
    fn lines() {
        assert_eq!(
            assign("  A = 1 // c\r\n"),
            Some(("A".into(), "[]".into(), "1".into()))
        );
        assert_eq!(
            assign("A[sdk=iphoneos*] = $(B)\n"),
            Some((
                "A".into(),
                "[(\"sdk\", \"iphoneos*\")]".into(),
                "$(B)".into()
            ))
        );
        assert_eq!(assign("A ="), Some(("A".into(), "[]".into(), "".into())));
        assert_eq!(assign("// A = 1"), None);
        assert_eq!(assign("not a setting"), None);
        assert!(matches!(
            parse_line("#include? \"a/b.xcconfig\"", 0, Path::new("x"), 1),
            Line::Include {
                path: "a/b.xcconfig",
                optional: true
            }
        ));
    }
}
