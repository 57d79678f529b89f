//! Folder inputs (an unpacked `.app`, an `.xcarchive`): walked once under the same [`Limits`] as
//! archives — entry count (checked while each listing is read, never after collecting it whole),
//! per-file and total sizes, depth — without following links. Each file's identity (device,
//! inode) is kept, and a later read opens the path without following links and without blocking,
//! then refuses it unless it is still that regular file: a FIFO or link swapped in after the walk
//! is never read or followed.

use std::path::{Path, PathBuf};

use crate::error::{EntryError, OpenErrorKind};
use crate::limits::Limits;
use crate::package::{
    ArchiveStats, Census, Entry, Layout, Names, Package, sort_and_find_duplicates,
};

pub(crate) fn open_dir(path: &Path, limits: &Limits) -> Result<Package, OpenErrorKind> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut other_apps = Vec::new();
    let (layout, app_dir) = if name.ends_with(".xcarchive")
        || path.join("Products/Applications").is_dir()
    {
        let apps_dir = path.join("Products/Applications");
        let mut apps = Vec::new();
        for entry in std::fs::read_dir(&apps_dir).map_err(|_| OpenErrorKind::NoAppInXcarchive)? {
            let p = entry?.path();
            if p.extension().is_some_and(|x| x == "app") && p.is_dir() {
                apps.push(p);
            }
            if apps.len() as u64 > limits.max_entries {
                return Err(over_entries(apps.len() as u64, limits));
            }
        }
        apps.sort();
        let mut apps = apps.into_iter();
        let app = apps.next().ok_or(OpenErrorKind::NoAppInXcarchive)?;
        other_apps = apps
            .filter_map(|p| {
                p.file_name()
                    .map(|n| format!("Products/Applications/{}", n.to_string_lossy()))
            })
            .collect();
        (Layout::Xcarchive, app)
    } else if name.ends_with(".app") || path.join("Info.plist").is_file() {
        (Layout::AppDirectory, path.to_path_buf())
    } else {
        return Err(OpenErrorKind::NotABundleDirectory);
    };
    let app_name = app_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let app_name = if app_name.ends_with(".app") {
        app_name
    } else {
        format!("{app_name}.app")
    };
    let app_root = format!("Payload/{app_name}");
    let mut entries = Vec::new();
    let mut names = Names::default();
    let mut stats = ArchiveStats::default();
    let mut walker = Walker {
        limits,
        out: &mut entries,
        names: &mut names,
        stats: &mut stats,
    };
    walker.walk(&app_dir, &app_root, "", 1)?;
    sort_and_find_duplicates(&mut entries, &names, &mut stats);
    Ok(Package {
        path: path.to_path_buf(),
        layout,
        app_root,
        entries,
        names,
        stats,
        other_apps,
        source: None,
        data_end: 0,
        root_dir: Some(app_dir),
        limits: limits.clone(),
        census: Census::UNKNOWN,
    })
}

fn over_entries(value: u64, limits: &Limits) -> OpenErrorKind {
    OpenErrorKind::OverLimit {
        what: "the entry count",
        value,
        limit: limits.max_entries,
    }
}

struct Walker<'a> {
    limits: &'a Limits,
    out: &'a mut Vec<Entry>,
    names: &'a mut Names,
    stats: &'a mut ArchiveStats,
}

impl Walker<'_> {
    fn walk(
        &mut self,
        dir: &Path,
        norm: &str,
        rel: &str,
        depth: usize,
    ) -> Result<(), OpenErrorKind> {
        let limits = self.limits;
        if depth > limits.max_depth {
            return Err(OpenErrorKind::OverLimit {
                what: "the folder depth",
                value: depth as u64,
                limit: limits.max_depth as u64,
            });
        }
        // Bounded while listing: a folder of ten million files stops at the limit.
        let mut children = Vec::new();
        for child in std::fs::read_dir(dir)? {
            children.push(child?);
            let seen = self.stats.entry_count + children.len() as u64;
            if seen > limits.max_entries {
                return Err(over_entries(seen, limits));
            }
        }
        children.sort_by_key(|e| e.file_name());
        for child in children {
            self.stats.entry_count += 1;
            let file_name = child.file_name();
            let name = file_name.to_string_lossy();
            let child_rel = if rel.is_empty() {
                name.to_string()
            } else {
                format!("{rel}/{name}")
            };
            let child_norm = format!("{norm}/{name}");
            // Never follow links: a link is reported, not entered.
            let meta = std::fs::symlink_metadata(child.path())?;
            let file_type = meta.file_type();
            let (is_dir, is_symlink, is_file) =
                (meta.is_dir(), file_type.is_symlink(), file_type.is_file());
            let size = if is_dir { 0 } else { meta.len() };
            if size > limits.max_entry_size {
                return Err(OpenErrorKind::OverLimit {
                    what: "a file's size",
                    value: size,
                    limit: limits.max_entry_size,
                });
            }
            self.stats.symlinks += u64::from(is_symlink);
            self.stats.file_count += u64::from(!is_dir);
            self.stats.uncompressed_size = self.stats.uncompressed_size.saturating_add(size);
            self.stats.compressed_size = self.stats.uncompressed_size;
            if self.stats.uncompressed_size > limits.max_total_size {
                return Err(OpenErrorKind::OverLimit {
                    what: "the total size of the files",
                    value: self.stats.uncompressed_size,
                    limit: limits.max_total_size,
                });
            }
            let (path, raw) = (self.names.push(&child_norm)?, self.names.push(&child_rel)?);
            self.out.push(Entry::on_disk(
                self.names,
                (path, raw),
                size,
                (is_dir, is_symlink, is_file),
                file_name.to_str().is_some(),
                Some(identity(&meta)),
            )?);
            if is_dir {
                self.walk(&child.path(), &child_norm, &child_rel, depth + 1)?;
            }
        }
        Ok(())
    }
}

#[cfg(unix)]
fn identity(meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn identity(_: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

/// Opens `path` only if it is still the regular file with identity `(dev, ino)`: links are not
/// followed (`O_NOFOLLOW`) and a FIFO cannot block the open (`O_NONBLOCK`).
pub(crate) fn open_same_file(
    path: &PathBuf,
    dev: u64,
    ino: u64,
) -> Result<std::fs::File, EntryError> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(|e| {
        if e.raw_os_error() == Some(libc_eloop()) {
            EntryError::Changed("is now a symbolic link")
        } else {
            EntryError::Io(e)
        }
    })?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(EntryError::Changed("is no longer a regular file"));
    }
    if cfg!(unix) && identity(&meta) != (dev, ino) {
        return Err(EntryError::Changed("was replaced by another file"));
    }
    Ok(file)
}

#[cfg(unix)]
fn libc_eloop() -> i32 {
    libc::ELOOP
}

#[cfg(not(unix))]
fn libc_eloop() -> i32 {
    -1
}
