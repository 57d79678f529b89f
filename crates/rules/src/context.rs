//! What a check run needs besides the facts: the distribution method and "today".

use std::fmt;
use std::str::FromStr;

/// How the build will be distributed; selects which rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Distribution {
    /// App Store / TestFlight upload (the default): every rule.
    AppStore,
    /// Ad hoc: installation rules only.
    AdHoc,
    /// In-house (enterprise): installation rules only.
    Enterprise,
    /// Development: installation rules only.
    Development,
}

impl Distribution {
    /// Every method.
    pub const ALL: [Distribution; 4] = [
        Distribution::AppStore,
        Distribution::AdHoc,
        Distribution::Enterprise,
        Distribution::Development,
    ];

    /// kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Distribution::AppStore => "app-store",
            Distribution::AdHoc => "ad-hoc",
            Distribution::Enterprise => "enterprise",
            Distribution::Development => "development",
        }
    }
}

impl fmt::Display for Distribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Distribution {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Distribution::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| {
                format!("unknown distribution {s:?} (app-store, ad-hoc, enterprise, development)")
            })
    }
}

/// Inputs of a check run other than the facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// Distribution method.
    pub distribution: Distribution,
    /// "Today" for date-dependent rules (injected; tests always fix it).
    pub as_of: chrono::NaiveDate,
    /// The dated data the rules judge with (embedded, or `--data DIR`).
    pub data: std::sync::Arc<crate::data::Data>,
}
