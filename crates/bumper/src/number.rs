//! [`BuildNumber`] (CFBundleVersion) and [`MarketingVersion`] (CFBundleShortVersionString): dotted non-negative
//! integers compared component by component, a missing component counting as zero, so `1.2` == `1.2.0` and
//! `1.10` > `1.9` (App Store Connect itself sorts them as strings: `"9" > "10"`).

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

/// Most components accepted (Apple documents three; four-part numbers exist in the wild).
pub const MAX_COMPONENTS: usize = 8;

/// A dotted numeric build number. Equality and order ignore trailing zero components and leading zeros;
/// `Display` shows the text it was parsed from (or built as).
#[derive(Clone)]
pub struct BuildNumber {
    parts: Vec<u64>,
    text: String,
}

/// Longest stretch of outside text (a server's build number, a user's argument) quoted in a message.
const MAX_QUOTED: usize = 80;

/// `text` quoted for a one-line message: control characters escaped, at most [`MAX_QUOTED`] characters with `…` after
/// a cut. Server-provided strings can be any length and hold anything.
pub fn printable(text: &str) -> String {
    let mut out = String::from("\"");
    let mut chars = text.chars();
    for c in chars.by_ref().take(MAX_QUOTED) {
        if c == '"' || c == '\\' || c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.push('"');
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

/// Why a string is not a build number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Empty text.
    #[error("empty build number")]
    Empty,
    /// A component that is not digits (`4b`, `1..2`, `-1`).
    #[error(
        "{} is not a build number (dot-separated non-negative integers, e.g. 42 or 1.2.3)",
        printable(text)
    )]
    NotNumeric {
        /// The text.
        text: String,
    },
    /// Too many components or a component beyond `u64`.
    #[error(
        "{} is too large or has too many components for a build number",
        printable(text)
    )]
    TooLarge {
        /// The text.
        text: String,
    },
}

fn parse_parts(text: &str) -> Result<Vec<u64>, ParseError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(ParseError::Empty);
    }
    let mut parts = Vec::new();
    for component in trimmed.split('.') {
        if component.is_empty() || !component.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::NotNumeric {
                text: text.to_owned(),
            });
        }
        let value = component.parse::<u64>().map_err(|_| ParseError::TooLarge {
            text: text.to_owned(),
        })?;
        parts.push(value);
        if parts.len() > MAX_COMPONENTS {
            return Err(ParseError::TooLarge {
                text: text.to_owned(),
            });
        }
    }
    Ok(parts)
}

impl BuildNumber {
    /// Parses `42`, `1.2.3`, `20250501.1`.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let parts = parse_parts(text)?;
        Ok(BuildNumber {
            parts,
            text: text.trim().to_owned(),
        })
    }

    /// A single-component number.
    pub fn from_u64(n: u64) -> Self {
        BuildNumber {
            parts: vec![n],
            text: n.to_string(),
        }
    }

    /// The components.
    pub fn components(&self) -> &[u64] {
        &self.parts
    }

    /// The number with its last component incremented (`41` → `42`, `1.2.9` → `1.2.10`); `None` on overflow.
    pub fn increment(&self) -> Option<BuildNumber> {
        let mut parts = self.parts.clone();
        let last = parts.last_mut()?;
        *last = last.checked_add(1)?;
        let text = parts
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(".");
        Some(BuildNumber { parts, text })
    }

    fn significant(&self) -> &[u64] {
        let end = self
            .parts
            .iter()
            .rposition(|&p| p != 0)
            .map_or(0, |i| i + 1);
        &self.parts[..end]
    }
}

impl FromStr for BuildNumber {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BuildNumber::parse(s)
    }
}

impl fmt::Display for BuildNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for BuildNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BuildNumber({})", self.text)
    }
}

impl Ord for BuildNumber {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (&self.parts, &other.parts);
        for i in 0..a.len().max(b.len()) {
            let (x, y) = (
                a.get(i).copied().unwrap_or(0),
                b.get(i).copied().unwrap_or(0),
            );
            match x.cmp(&y) {
                Ordering::Equal => continue,
                other => return other,
            }
        }
        Ordering::Equal
    }
}

impl PartialOrd for BuildNumber {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for BuildNumber {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for BuildNumber {}

impl Hash for BuildNumber {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.significant().hash(state);
    }
}

impl serde::Serialize for BuildNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

/// A marketing version (`1.2.3`). `1.2` and `1.2.0` are equal: App Store Connect treats them as one train.
#[derive(Clone, Debug)]
pub struct MarketingVersion(BuildNumber);

impl MarketingVersion {
    /// Parses `1.2.3`.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        BuildNumber::parse(text).map(MarketingVersion)
    }
}

impl fmt::Display for MarketingVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl PartialEq for MarketingVersion {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl Eq for MarketingVersion {}

impl Ord for MarketingVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.cmp(&other.0)
    }
}

impl PartialOrd for MarketingVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> BuildNumber {
        BuildNumber::parse(s).unwrap()
    }

    #[test]
    fn numeric_not_string_order() {
        assert!(n("10") > n("9"));
        assert!(n("1.10") > n("1.9"));
        assert!(n("20302") > n("4.69.0"));
        assert!(n("2.0.67.745") > n("2.0.67"));
        assert!(n("20250501.1") > n("20250501"));
    }

    #[test]
    fn trailing_zeros_and_leading_zeros_are_equal() {
        assert_eq!(n("1.2"), n("1.2.0"));
        assert_eq!(n("007"), n("7"));
        assert_eq!(n("1.2.0").to_string(), "1.2.0");
        use std::collections::HashSet;
        let set: HashSet<_> = [n("1.2"), n("1.2.0")].into_iter().collect();
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn rejects_non_numeric() {
        for bad in [
            "",
            " ",
            "1..2",
            "a",
            "1.2b",
            "-1",
            "1.",
            ".1",
            "1,2",
            "1.2.3.4.5.6.7.8.9",
        ] {
            assert!(BuildNumber::parse(bad).is_err(), "{bad:?}");
        }
        assert!(matches!(
            BuildNumber::parse("99999999999999999999999"),
            Err(ParseError::TooLarge { .. })
        ));
    }

    #[test]
    fn increments_last_component() {
        assert_eq!(n("41").increment().unwrap().to_string(), "42");
        assert_eq!(n("1.2.9").increment().unwrap().to_string(), "1.2.10");
        assert_eq!(n("0099").increment().unwrap().to_string(), "100");
        assert!(BuildNumber::from_u64(u64::MAX).increment().is_none());
    }

    #[test]
    fn marketing_versions_alias() {
        assert_eq!(
            MarketingVersion::parse("1.2").unwrap(),
            MarketingVersion::parse("1.2.0").unwrap()
        );
        assert_ne!(
            MarketingVersion::parse("1.2").unwrap(),
            MarketingVersion::parse("1.2.1").unwrap()
        );
    }
}
