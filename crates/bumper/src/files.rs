//! The project's files as the resolver sees them: read once, bounded in size, and optionally overlaid with planned
//! contents, so the same resolution that chose the edits can check them before anything is written.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// Files larger than this are not project files we read or edit.
pub const MAX_FILE: u64 = 32 << 20;

/// A read-through cache of files under (and referenced from) a project directory.
#[derive(Debug, Default)]
pub struct Files {
    root: PathBuf,
    cache: RefCell<HashMap<PathBuf, Option<Rc<[u8]>>>>,
}

impl Files {
    /// Files of the project at `root` (absolute or relative to the working directory).
    pub fn new(root: &Path) -> Files {
        Files {
            root: root.to_owned(),
            cache: RefCell::default(),
        }
    }

    /// The same files with `planned` contents in place of what is on disk.
    pub fn overlaid(&self, planned: impl IntoIterator<Item = (PathBuf, Vec<u8>)>) -> Files {
        let mut cache = self.cache.borrow().clone();
        for (path, bytes) in planned {
            cache.insert(path, Some(Rc::from(bytes)));
        }
        Files {
            root: self.root.clone(),
            cache: RefCell::new(cache),
        }
    }

    /// The content of `path`; `None` when it does not exist. Larger than [`MAX_FILE`], not a regular file, or
    /// unreadable: an error worded for one line.
    pub fn get(&self, path: &Path) -> Result<Option<Rc<[u8]>>, String> {
        if let Some(hit) = self.cache.borrow().get(path) {
            return Ok(hit.clone());
        }
        let content = match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(format!("cannot read {}: {e}", self.display(path))),
            Ok(meta) if !meta.is_file() => {
                return Err(format!("{} is not a regular file", self.display(path)));
            }
            Ok(meta) if meta.len() > MAX_FILE => {
                return Err(format!(
                    "{} is larger than {MAX_FILE} bytes",
                    self.display(path)
                ));
            }
            Ok(_) => {
                Some(Rc::from(std::fs::read(path).map_err(|e| {
                    format!("cannot read {}: {e}", self.display(path))
                })?))
            }
        };
        self.cache
            .borrow_mut()
            .insert(path.to_owned(), content.clone());
        Ok(content)
    }

    /// The project directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `path` relative to the project directory when inside it.
    pub fn relative(&self, path: &Path) -> Option<PathBuf> {
        path.strip_prefix(&self.root).ok().map(Path::to_owned)
    }

    /// `path` as shown to the user: relative to the project directory when inside it.
    pub fn display(&self, path: &Path) -> String {
        match self.relative(path) {
            Some(rel) => rel.display().to_string(),
            None => path.display().to_string(),
        }
    }
}
