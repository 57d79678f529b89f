//! Build-setting resolution for one target and configuration, the way Xcode layers it
//! (`shared/reference/xcode-build-settings.md` §2–3): Xcode's defaults, the project configuration's base xcconfig,
//! the project configuration, the target configuration's base xcconfig, the target configuration — each level able
//! to say `$(inherited)` for the level below, and, inside an xcconfig, for the assignment before it.
//!
//! [`Stack::expand`] evaluates a value (`$(VAR)`, `${VAR}`, nested `$(A_$(B))`, `:default=`, `:lower`, `:upper`,
//! `:identifier`, `:rfc1034identifier`); [`Stack::trace`] follows a setting through single references
//! (`CURRENT_PROJECT_VERSION = $(BUILD_NUMBER)`, `$(inherited)`) to the assignment that *defines* its value, which is
//! the place a new build number must be written. Expansion depth is bounded, so reference cycles end in an error.

use std::ops::Range;
use std::path::PathBuf;

/// Deepest chain of references followed.
pub const MAX_REFERENCE_DEPTH: usize = 64;

/// Most references expanded for one value: `A = $(B)$(B)`, `B = $(C)$(C)`, … would otherwise double each level.
pub const MAX_EXPANSIONS: usize = 10_000;

#[derive(Default)]
struct Expansion {
    undefined: Vec<String>,
    steps: usize,
}

/// Where an assignment is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// An xcconfig line.
    Xcconfig {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// The value's byte span.
        span: Range<usize>,
    },
    /// A configuration's `buildSettings` in a pbxproj.
    Pbxproj {
        /// The project.pbxproj.
        file: PathBuf,
        /// Whose configuration (`project` or the target's name).
        owner: String,
        /// The configuration's name.
        configuration: String,
        /// The value token's byte span (`None` for an array value).
        span: Option<Range<usize>>,
    },
    /// A value Xcode itself provides (`TARGET_NAME`, `SRCROOT`, …).
    Builtin,
}

/// One assignment in the stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Def {
    /// The setting's name.
    pub key: String,
    /// The value as written.
    pub value: String,
    /// The conditions it was written with (`[sdk=iphoneos*]`), kept for showing where it is.
    pub conditions: Vec<(String, String)>,
    /// Where it is.
    pub origin: Origin,
}

/// What the conditions of an assignment are evaluated against: an App Store build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// The SDK's name (`iphoneos`, `watchos`, …).
    pub sdk: String,
    /// The configuration's name.
    pub configuration: String,
}

impl Context {
    /// Whether every condition holds.
    pub fn matches(&self, conditions: &[(String, String)]) -> bool {
        conditions
            .iter()
            .all(|(name, pattern)| match name.as_str() {
                // The SDK condition names a versioned SDK (`iphoneos18.0`): `iphoneos*` is the usual pattern.
                "sdk" => glob(pattern, &self.sdk) || glob(pattern, &format!("{}99.0", self.sdk)),
                "config" => glob(pattern, &self.configuration),
                "arch" => glob(pattern, "arm64"),
                "variant" => glob(pattern, "normal"),
                _ => false,
            })
    }
}

/// `*` and `?` wildcards; iterative, so a long pattern cannot blow the stack.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Every assignment that applies to one target and configuration, lowest precedence first.
#[derive(Debug, Clone, Default)]
pub struct Stack {
    defs: Vec<Def>,
}

/// Why a setting has no value ipagate can change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceError {
    /// `$(NAME)` is defined nowhere in the project's files.
    Undefined {
        /// The name.
        name: String,
    },
    /// The defining value is not a literal nor a single reference (`$(A).$(B)`, `$(X:lower)`, `1$(inherited)`).
    Composite {
        /// The setting.
        key: String,
        /// Its value.
        value: String,
        /// Where.
        origin: Box<Origin>,
    },
    /// The chain refers back to itself or is too long.
    Cycle {
        /// The setting where it was noticed.
        key: String,
    },
}

/// The assignment that defines a setting's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Traced {
    /// The literal value.
    pub value: String,
    /// The defining assignment.
    pub def: Def,
    /// The settings followed to get there (`CURRENT_PROJECT_VERSION`, `BUILD_NUMBER`).
    pub via: Vec<String>,
}

impl Stack {
    /// A stack from levels, lowest first. Within a level, assignments whose conditions hold come after the
    /// unconditional ones (they are more specific); those whose conditions fail are dropped.
    pub fn new(levels: Vec<Vec<Def>>, context: &Context) -> Stack {
        let mut defs = Vec::new();
        for level in levels {
            let (plain, conditional): (Vec<Def>, Vec<Def>) =
                level.into_iter().partition(|d| d.conditions.is_empty());
            defs.extend(plain);
            defs.extend(
                conditional
                    .into_iter()
                    .filter(|d| context.matches(&d.conditions)),
            );
        }
        Stack { defs }
    }

    /// The index of the topmost assignment of `key` below `below`.
    fn lookup(&self, key: &str, below: usize) -> Option<usize> {
        self.defs[..below.min(self.defs.len())]
            .iter()
            .rposition(|d| d.key == key)
    }

    /// The topmost assignment of `key`.
    pub fn get(&self, key: &str) -> Option<&Def> {
        self.lookup(key, usize::MAX).map(|i| &self.defs[i])
    }

    /// The value of `key`, expanded; empty when unset (as in Xcode). References to settings set nowhere are
    /// returned too, so a caller can say why a value is empty.
    pub fn value(&self, key: &str) -> Result<(String, Vec<String>), String> {
        let mut state = Expansion::default();
        let value = match self.lookup(key, usize::MAX) {
            Some(i) => self.expand_at(i, 0, &mut state)?,
            None => String::new(),
        };
        Ok((value, state.undefined))
    }

    /// Expands `text` as if it were a value at the top of the stack.
    pub fn expand(&self, text: &str) -> Result<(String, Vec<String>), String> {
        let mut state = Expansion::default();
        let value = self.expand_text(text, "", self.defs.len(), 0, &mut state)?;
        Ok((value, state.undefined))
    }

    fn expand_at(
        &self,
        index: usize,
        depth: usize,
        state: &mut Expansion,
    ) -> Result<String, String> {
        let def = &self.defs[index];
        self.expand_text(&def.value, &def.key, index, depth, state)
    }

    fn expand_text(
        &self,
        text: &str,
        key: &str,
        at: usize,
        depth: usize,
        state: &mut Expansion,
    ) -> Result<String, String> {
        if depth > MAX_REFERENCE_DEPTH {
            return Err(format!(
                "build setting references nested deeper than {MAX_REFERENCE_DEPTH} (a cycle through {key}?)"
            ));
        }
        let mut out = String::new();
        let mut rest = text;
        while let Some((before, inner, after)) = next_reference(rest) {
            state.steps += 1;
            if state.steps > MAX_EXPANSIONS {
                return Err(format!(
                    "more than {MAX_EXPANSIONS} build setting references expanded for one value"
                ));
            }
            out.push_str(before);
            let inner = self.expand_text(inner, key, at, depth + 1, state)?;
            let (name, ops) = match inner.split_once(':') {
                Some((name, ops)) => (name, Some(ops)),
                None => (inner.as_str(), None),
            };
            let mut value = if name == "inherited" {
                match self.lookup(key, at) {
                    Some(i) => self.expand_at(i, depth + 1, state)?,
                    None => String::new(),
                }
            } else {
                match self.lookup(name, usize::MAX) {
                    Some(i) => self.expand_at(i, depth + 1, state)?,
                    None => {
                        state.undefined.push(name.to_owned());
                        String::new()
                    }
                }
            };
            for op in ops.into_iter().flat_map(|o| o.split(':')) {
                value = operator(op, value)?;
            }
            out.push_str(&value);
            rest = after;
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Follows `key` to the assignment that defines its literal value.
    pub fn trace(&self, key: &str) -> Result<Traced, TraceError> {
        let mut via = vec![key.to_owned()];
        let mut key = key.to_owned();
        let mut below = usize::MAX;
        for _ in 0..MAX_REFERENCE_DEPTH {
            let Some(index) = self.lookup(&key, below) else {
                return Err(TraceError::Undefined { name: key });
            };
            let def = &self.defs[index];
            let value = def.value.trim().trim_matches('"');
            match single_reference(value) {
                Some("inherited") => below = index,
                Some(name) => {
                    key = name.to_owned();
                    below = usize::MAX;
                    via.push(key.clone());
                }
                None if value.contains("$(")
                    || value.contains("${")
                    || def.origin == Origin::Builtin =>
                {
                    return Err(TraceError::Composite {
                        key: def.key.clone(),
                        value: def.value.clone(),
                        origin: Box::new(def.origin.clone()),
                    });
                }
                None => {
                    return Ok(Traced {
                        value: value.to_owned(),
                        def: def.clone(),
                        via,
                    });
                }
            }
        }
        Err(TraceError::Cycle { key })
    }
}

/// `$(NAME)` or `${NAME}` and nothing else → `NAME` (no operators, no nesting).
pub fn single_reference(value: &str) -> Option<&str> {
    let inner = value
        .strip_prefix("$(")
        .and_then(|v| v.strip_suffix(')'))
        .or_else(|| value.strip_prefix("${").and_then(|v| v.strip_suffix('}')))?;
    inner
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        .then_some(inner)
        .filter(|n| !n.is_empty())
}

/// Splits at the first `$(…)` / `${…}` (matching nested brackets): (text before, inside, text after).
fn next_reference(text: &str) -> Option<(&str, &str, &str)> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] == b'$' && (bytes[i + 1] == b'(' || bytes[i + 1] == b'{') {
            let (open, close) = if bytes[i + 1] == b'(' {
                (b'(', b')')
            } else {
                (b'{', b'}')
            };
            let mut depth = 0usize;
            for (j, &b) in bytes.iter().enumerate().skip(i + 1) {
                if b == open {
                    depth += 1;
                } else if b == close {
                    depth -= 1;
                    if depth == 0 {
                        return Some((&text[..i], &text[i + 2..j], &text[j + 1..]));
                    }
                }
            }
            // Unbalanced: the rest is literal text.
            return None;
        }
        i += 1;
    }
    None
}

fn operator(op: &str, value: String) -> Result<String, String> {
    if let Some(default) = op.strip_prefix("default=") {
        return Ok(if value.is_empty() {
            default.to_owned()
        } else {
            value
        });
    }
    let identifier = |keep: char, value: &str| -> String {
        value
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { keep })
            .collect()
    };
    Ok(match op {
        "lower" => value.to_lowercase(),
        "upper" => value.to_uppercase(),
        "identifier" | "c99extidentifier" => identifier('_', &value),
        "rfc1034identifier" => identifier('-', &value),
        "base" => {
            let file = value.rsplit('/').next().unwrap_or("");
            file.rsplit_once('.').map_or(file, |(b, _)| b).to_owned()
        }
        "file" => value.rsplit('/').next().unwrap_or("").to_owned(),
        "dir" => value.rsplit_once('/').map_or("", |(d, _)| d).to_owned(),
        "standardizepath" => value,
        other => return Err(format!("unsupported build setting operator :{other}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(key: &str, value: &str, conditions: &[(&str, &str)]) -> Def {
        Def {
            key: key.to_owned(),
            value: value.to_owned(),
            conditions: conditions
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            origin: Origin::Xcconfig {
                file: PathBuf::from("x"),
                line: 1,
                span: 0..0,
            },
        }
    }

    fn ctx() -> Context {
        Context {
            sdk: "iphoneos".into(),
            configuration: "Release".into(),
        }
    }

    #[test]
    fn levels_inherited_and_conditions() {
        let stack = Stack::new(
            vec![
                vec![def("A", "1", &[]), def("B", "x", &[])],
                vec![
                    def("A", "$(inherited) 2", &[]),
                    def("B", "sim", &[("sdk", "iphonesimulator*")]),
                    def("B", "dev", &[("sdk", "iphoneos*")]),
                    def("C", "debug", &[("config", "Debug")]),
                ],
            ],
            &ctx(),
        );
        assert_eq!(stack.value("A").unwrap().0, "1 2");
        assert_eq!(stack.value("B").unwrap().0, "dev");
        assert_eq!(stack.value("C").unwrap().0, "");
        assert_eq!(
            stack.expand("$(A_$(B):upper)/${B}").unwrap(),
            ("/dev".to_owned(), vec!["A_dev".to_owned()])
        );
    }

    #[test]
    fn trace_follows_single_references() {
        let stack = Stack::new(
            vec![
                vec![def("BUILD_NUMBER", "12", &[])],
                vec![def("CURRENT_PROJECT_VERSION", "$(inherited)", &[])],
                vec![def("CURRENT_PROJECT_VERSION", "$(BUILD_NUMBER)", &[])],
                vec![def("CURRENT_PROJECT_VERSION", "$(inherited)", &[])],
            ],
            &ctx(),
        );
        let t = stack.trace("CURRENT_PROJECT_VERSION").unwrap();
        assert_eq!(t.value, "12");
        assert_eq!(t.via, ["CURRENT_PROJECT_VERSION", "BUILD_NUMBER"]);
        let stack = Stack::new(
            vec![vec![def("A", "$(B)", &[]), def("B", "$(A)", &[])]],
            &ctx(),
        );
        assert!(matches!(stack.trace("A"), Err(TraceError::Cycle { .. })));
        assert!(stack.value("A").is_err(), "expansion cycles end too");
        let stack = Stack::new(vec![vec![def("A", "$(B).1", &[])]], &ctx());
        assert!(matches!(
            stack.trace("A"),
            Err(TraceError::Composite { .. })
        ));
        assert_eq!(
            stack.trace("Z"),
            Err(TraceError::Undefined { name: "Z".into() })
        );
    }

    #[test]
    fn globs() {
        assert!(glob("iphoneos*", "iphoneos"));
        assert!(glob("*", ""));
        assert!(glob("a?c*", "abcdef"));
        assert!(!glob("iphoneos*", "iphonesimulator"));
        assert!(!glob(&"*a".repeat(50), &"b".repeat(100)));
    }
}
