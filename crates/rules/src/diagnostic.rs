//! A diagnostic: one finding about one place in the package.

use std::fmt;

pub use ipagate_formats::source::Position;

/// How bad a finding is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// App Store Connect rejects the upload or blocks the build.
    Error,
    /// A warning e-mail from Apple, or a heuristic.
    Warning,
    /// Worth knowing; never fails the gate.
    Info,
}

impl Severity {
    /// Lowercase name, as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a finding is: an entry of the package, optionally a plist key path and a Mach-O slice.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Location {
    /// Normalised entry path, e.g. `Payload/Demo.app/Info.plist`.
    pub path: String,
    /// Key path inside a property list, e.g. `NSExtension.NSExtensionPointIdentifier`.
    pub key: Option<String>,
    /// Mach-O architecture (slice), when the finding is about one.
    pub arch: Option<String>,
    /// Line and column in a source file (`lint`), when the format keeps them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
}

impl Location {
    /// A whole entry.
    pub fn entry(path: impl Into<String>) -> Location {
        Location {
            path: path.into(),
            key: None,
            arch: None,
            position: None,
        }
    }

    /// A key of a property list entry.
    pub fn key(path: impl Into<String>, key: impl Into<String>) -> Location {
        Location {
            path: path.into(),
            key: Some(key.into()),
            arch: None,
            position: None,
        }
    }

    /// The same place, with its line and column in the source file.
    pub fn at(mut self, position: Option<Position>) -> Location {
        self.position = position;
        self
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// Apple's `ITMS-9xxxx` code where one exists, else `IPAGATE-NNNN`.
    pub code: &'static str,
    /// kebab-case rule name.
    pub rule: &'static str,
    /// Severity after configuration.
    pub severity: Severity,
    /// One line with the actual values.
    pub message: String,
    /// How to fix it.
    pub help: String,
    /// Where.
    pub location: Location,
}
