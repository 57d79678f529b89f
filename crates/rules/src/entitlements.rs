//! The iOS entitlement allow-list (`data/ios-entitlements.txt`, kept as data): one loader shared
//! by `lint` (IPAGATE-1208, on `.entitlements` sources) and the package rule ITMS-90045 (on the
//! entitlements signed into each binary).

use std::collections::BTreeSet;
use std::sync::OnceLock;

/// The entitlement keys known to be valid on iOS (`data/ios-entitlements.txt`, embedded).
const IOS_ENTITLEMENTS: &str = include_str!("../data/ios-entitlements.txt");

/// The keys of [`IOS_ENTITLEMENTS`].
pub fn ios_entitlements() -> &'static BTreeSet<&'static str> {
    static KEYS: OnceLock<BTreeSet<&'static str>> = OnceLock::new();
    KEYS.get_or_init(|| {
        IOS_ENTITLEMENTS
            .lines()
            .map(|l| l.split('#').next().unwrap_or("").trim())
            .filter(|l| !l.is_empty())
            .collect()
    })
}

/// How an entitlement key stands against the iOS allow-list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntitlementKey {
    /// On the list.
    Known,
    /// Not listed, but a `com.apple.developer.` capability (the list lags behind Apple's).
    UnlistedCapability,
    /// A macOS sandbox key (`com.apple.security.`): valid in a Mac Catalyst build only.
    MacOnly,
    /// Not valid on iOS as far as the list knows.
    Unknown,
}

/// Classifies an entitlement key.
pub fn entitlement_key(key: &str) -> EntitlementKey {
    if ios_entitlements().contains(key) {
        EntitlementKey::Known
    } else if key.starts_with("com.apple.developer.") {
        EntitlementKey::UnlistedCapability
    } else if key.starts_with("com.apple.security.") {
        EntitlementKey::MacOnly
    } else {
        EntitlementKey::Unknown
    }
}
