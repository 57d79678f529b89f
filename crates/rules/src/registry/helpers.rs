//! Helpers shared by the rule families.

use ipagate_formats::{Bundle, BundleKind, Facts, InfoPlist, Text};

use crate::diagnostic::Location;

pub(crate) use ipagate_formats::info_plist::is_valid_bundle_version as is_valid_version;

/// Dotted numeric components of an OS version (`"14.3"` → `[14, 3]`); `None` if not numeric.
pub(super) fn os_version(s: &str) -> Option<Vec<u64>> {
    let parts: Option<Vec<u64>> = s.trim().split('.').map(|p| p.parse().ok()).collect();
    parts.filter(|p| !p.is_empty() && p.len() <= 4)
}

pub(super) fn version_lt(a: &[u64], b: &[u64]) -> bool {
    let n = a.len().max(b.len());
    let get = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(0);
    for i in 0..n {
        if get(a, i) != get(b, i) {
            return get(a, i) < get(b, i);
        }
    }
    false
}

pub(super) fn is_app_like(kind: BundleKind) -> bool {
    matches!(
        kind,
        BundleKind::App | BundleKind::AppExtension | BundleKind::WatchApp | BundleKind::AppClip
    )
}

/// Bundles that carry identity and versions: apps, extensions, watch apps, clips, frameworks.
pub(super) fn is_versioned(kind: BundleKind) -> bool {
    is_app_like(kind) || kind == BundleKind::Framework
}

pub(super) fn parsed(facts: &Facts) -> impl Iterator<Item = (usize, &Bundle, &InfoPlist)> {
    facts
        .bundles
        .iter()
        .enumerate()
        .filter_map(|(i, b)| b.info().map(|info| (i, b, info)))
}

pub(super) fn plist_key(bundle: &Bundle, key: &str) -> Location {
    Location::key(bundle.info_plist_path(), key)
}

/// The bundle is on the watchOS side (a watch app or anything inside one).
pub(super) fn on_watch_side(facts: &Facts, index: usize) -> bool {
    let mut cur = Some(index);
    while let Some(i) = cur {
        if facts.bundles[i].kind == BundleKind::WatchApp {
            return true;
        }
        cur = facts.bundles[i].parent;
    }
    false
}

/// Nearest enclosing app-like bundle that can own extensions (app, watch app, app clip).
pub(super) fn owning_app(facts: &Facts, index: usize) -> Option<&Bundle> {
    let mut cur = facts.bundles[index].parent;
    while let Some(i) = cur {
        let b = &facts.bundles[i];
        if matches!(
            b.kind,
            BundleKind::App | BundleKind::WatchApp | BundleKind::AppClip
        ) {
            return Some(b);
        }
        cur = b.parent;
    }
    None
}

pub(super) fn text_value(t: &Option<Text>) -> Option<&str> {
    t.as_ref().and_then(Text::as_str)
}
