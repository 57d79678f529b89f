//! The resume journal: one JSON file per IPA in the state directory, named after the IPA's SHA-256.
//!
//! It records the build upload and its file, the part ranges (part number, offset, length — never the presigned
//! URLs, which are fetched fresh on resume), the parts the storage server confirmed, and the IPA's size and
//! SHA-256. No key, token or URL signature is ever written. Every write is atomic: a temporary file in the same
//! folder, fsync, rename, fsync of the folder — a crash leaves the old journal or the new one, never half of one.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Format version written to `schema`.
pub const SCHEMA: u32 = 1;

/// One part's range, as the server assigned it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRange {
    /// `partNumber`.
    pub part_number: u64,
    /// Offset in the file.
    pub offset: u64,
    /// Length.
    pub length: u64,
}

/// The journal's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    /// [`SCHEMA`].
    pub schema: u32,
    /// SHA-256 (lowercase hex) of the IPA.
    pub ipa_sha256: String,
    /// Size of the IPA.
    pub ipa_size: u64,
    /// Bundle id, version, build number and platform the upload declared.
    pub bundle_id: String,
    /// `CFBundleShortVersionString`.
    pub version: String,
    /// `CFBundleVersion`.
    pub build_number: String,
    /// `IOS`, `TV_OS`, …
    pub platform: String,
    /// The app's Apple id.
    pub app_id: String,
    /// The build upload.
    pub build_upload_id: String,
    /// Its ASSET file, once created.
    pub file_id: Option<String>,
    /// The file's part ranges.
    pub parts: Vec<PartRange>,
    /// Part numbers the storage server accepted (2xx).
    pub confirmed: BTreeSet<u64>,
    /// The file was committed (`uploaded: true`).
    pub committed: bool,
}

/// A journal that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// Reading or writing failed.
    #[error("cannot {what} the upload journal {}: {source}", path.display())]
    Io {
        /// read / write.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Not a journal (truncated, edited, another tool's file).
    #[error(
        "the upload journal {} is corrupt ({why}); it was left as it is — remove it to start a new upload \
         (a build upload it started may then need deleting in App Store Connect)",
        path.display()
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The journal describes another IPA (its SHA-256 or size differ from the file's).
    #[error(
        "the upload journal {} belongs to another IPA (SHA-256 {journal}, this file {actual}); it was left as it \
         is — remove it if it is stale",
        path.display()
    )]
    OtherIpa {
        /// The file.
        path: PathBuf,
        /// What the journal says.
        journal: String,
        /// What the IPA is.
        actual: String,
    },
}

/// Where the journal of the IPA with this SHA-256 lives.
pub fn path_for(state_dir: &Path, sha256: &str) -> PathBuf {
    state_dir.join(format!("{sha256}.json"))
}

/// Where a journal lives while the IPA's SHA-256 is still being computed (the upload starts while hashing): named
/// after what the IPA says it is and its size. It becomes `<sha256>.json` once the hash is known.
pub fn pending_path(state_dir: &Path, journal: &Journal) -> PathBuf {
    let safe = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .take(80)
            .collect()
    };
    state_dir.join(format!(
        "pending-{}-{}-{}-{}-{}.json",
        safe(&journal.bundle_id),
        safe(&journal.version),
        safe(&journal.build_number),
        safe(&journal.platform),
        journal.ipa_size
    ))
}

/// Where `journal` is saved: by SHA-256, or [`pending_path`] while the hash is unknown (empty).
pub fn path_of(state_dir: &Path, journal: &Journal) -> PathBuf {
    if journal.ipa_sha256.is_empty() {
        pending_path(state_dir, journal)
    } else {
        path_for(state_dir, &journal.ipa_sha256)
    }
}

/// Whether `state_dir` holds anything that may be this IPA's journal: a journal (by hash or pending) for which
/// `same` holds (the caller compares bundle id, version, build number and platform), or a file that cannot be read as a journal (it is judged
/// once the hash is known). When there is none, an upload may start before the hash is known.
pub fn any_candidate(state_dir: &Path, same: &dyn Fn(&Journal) -> bool) -> bool {
    let Ok(entries) = std::fs::read_dir(state_dir) else {
        return false;
    };
    entries.filter_map(Result::ok).any(|entry| {
        let path = entry.path();
        if path.extension().is_none_or(|x| x != "json") {
            return false;
        }
        match std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Journal>(&b).ok())
        {
            Some(j) => same(&j),
            None => true,
        }
    })
}

/// The pending journal that `template` (identity and size) would have, if a run stopped before its hash was known.
pub fn load_pending(state_dir: &Path, template: &Journal) -> Option<Journal> {
    let bytes = std::fs::read(pending_path(state_dir, template)).ok()?;
    let j: Journal = serde_json::from_slice(&bytes).ok()?;
    (j.schema == SCHEMA && j.ipa_sha256.is_empty()).then_some(j)
}

/// Loads the journal for an IPA of `size` bytes and `sha256`, if there is one. A journal that is not valid JSON
/// of the right shape, or one for another IPA, is an error and stays untouched.
pub fn load(state_dir: &Path, sha256: &str, size: u64) -> Result<Option<Journal>, JournalError> {
    let path = path_for(state_dir, sha256);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(JournalError::Io {
                what: "read",
                path,
                source,
            });
        }
    };
    let journal: Journal = serde_json::from_slice(&bytes).map_err(|e| JournalError::Corrupt {
        path: path.clone(),
        why: e.to_string().chars().take(160).collect(),
    })?;
    if journal.schema != SCHEMA {
        return Err(JournalError::Corrupt {
            path,
            why: format!("schema {} is not {SCHEMA}", journal.schema),
        });
    }
    if journal.ipa_sha256 != sha256 || journal.ipa_size != size {
        return Err(JournalError::OtherIpa {
            path,
            journal: journal.ipa_sha256.chars().take(64).collect(),
            actual: sha256.to_owned(),
        });
    }
    let ranges_ok = journal
        .confirmed
        .iter()
        .all(|n| journal.parts.iter().any(|p| p.part_number == *n));
    if !ranges_ok {
        return Err(JournalError::Corrupt {
            path,
            why: "a confirmed part is not among its parts".into(),
        });
    }
    Ok(Some(journal))
}

/// Writes `journal` atomically (at [`path_of`]).
pub fn save(state_dir: &Path, journal: &Journal) -> Result<(), JournalError> {
    let path = path_of(state_dir, journal);
    let io = |source| JournalError::Io {
        what: "write",
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(state_dir).map_err(io)?;
    let tmp = state_dir.join(format!(
        ".{}.{}.tmp",
        path.file_stem()
            .map(|s| s.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    let bytes = serde_json::to_vec_pretty(journal).map_err(|e| io(std::io::Error::other(e)))?;
    {
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(&bytes).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    std::fs::rename(&tmp, &path).map_err(io)?;
    #[cfg(unix)]
    if let Ok(dir) = std::fs::File::open(state_dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Gives a pending journal its SHA-256: saved under the hash, the pending file removed.
pub fn promote(state_dir: &Path, journal: &mut Journal, sha256: &str) -> Result<(), JournalError> {
    let pending = pending_path(state_dir, journal);
    journal.ipa_sha256 = sha256.to_owned();
    save(state_dir, journal)?;
    match std::fs::remove_file(&pending) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(JournalError::Io {
            what: "remove",
            path: pending,
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Journal {
        Journal {
            schema: SCHEMA,
            ipa_sha256: "ab".repeat(32),
            ipa_size: 10,
            bundle_id: "com.example".into(),
            version: "1.0".into(),
            build_number: "1".into(),
            platform: "IOS".into(),
            app_id: "1".into(),
            build_upload_id: "U1".into(),
            file_id: Some("F1".into()),
            parts: vec![PartRange {
                part_number: 1,
                offset: 0,
                length: 10,
            }],
            confirmed: [1].into(),
            committed: false,
        }
    }

    #[test]
    fn round_trip_and_checks() {
        let dir = tempfile::tempdir().unwrap();
        let j = sample();
        save(dir.path(), &j).unwrap();
        assert_eq!(
            load(dir.path(), &j.ipa_sha256, 10).unwrap(),
            Some(j.clone())
        );
        assert!(matches!(
            load(dir.path(), &j.ipa_sha256, 11),
            Err(JournalError::OtherIpa { .. })
        ));
        assert_eq!(load(dir.path(), &"cd".repeat(32), 10).unwrap(), None);
        std::fs::write(path_for(dir.path(), &j.ipa_sha256), b"{\"schema\":1,").unwrap();
        assert!(matches!(
            load(dir.path(), &j.ipa_sha256, 10),
            Err(JournalError::Corrupt { .. })
        ));
        // No temporary files left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }
}
