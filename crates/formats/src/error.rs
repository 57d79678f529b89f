//! Errors: an input that cannot be read at all. A readable but wrong bundle is not an error:
//! it yields facts that the rules turn into diagnostics.

use std::path::PathBuf;

/// Why an input could not be opened as an app package.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {}", path.display())]
pub struct OpenError {
    /// The input given by the user.
    pub path: PathBuf,
    /// What is wrong with it.
    #[source]
    pub kind: OpenErrorKind,
}

/// What made an input unreadable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenErrorKind {
    /// The file system refused.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A FIFO, socket or device where a file or folder was expected (never opened: it could block).
    #[error("not a regular file or folder")]
    NotARegularFile,
    /// Zero bytes.
    #[error("the file is empty")]
    Empty,
    /// Not a zip archive at all.
    #[error("not a zip archive (starts with {0})")]
    NotZip(String),
    /// A zip whose structure is broken, as found by ipagate's own checks.
    #[error("broken zip archive: {0}")]
    BadZip(String),
    /// An archive or directory beyond one of the [`crate::Limits`].
    #[error("{what} is {value}, over the limit of {limit}")]
    OverLimit {
        /// What was measured.
        what: &'static str,
        /// What the input declares.
        value: u64,
        /// The limit.
        limit: u64,
    },
    /// Declared sizes that only a decompression bomb has.
    #[error("looks like a zip bomb: {0}")]
    ZipBomb(String),
    /// No `Payload/<Name>.app/` (nor a zipped `.app`).
    #[error("no .app bundle found (expected Payload/<Name>.app/ in an .ipa)")]
    NoApp,
    /// The top-level app has no readable Info.plist.
    #[error("{entry}: {problem}")]
    MainInfoPlist {
        /// Entry path of the Info.plist.
        entry: String,
        /// What is wrong with it.
        problem: String,
    },
    /// An `.xcarchive` without an app in `Products/Applications/`.
    #[error("no .app in Products/Applications/ of the .xcarchive")]
    NoAppInXcarchive,
    /// A directory that is neither an `.app` nor an `.xcarchive`.
    #[error("directory is not an .app bundle or an .xcarchive")]
    NotABundleDirectory,
}

/// Why one entry could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// Reading or inflating failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The entry's bytes are not what the archive declares (longer, shorter, CRC-32).
    #[error(transparent)]
    Data(#[from] crate::io::EntryDataError),
    /// The archive's structure around the entry is broken (local header, data range).
    #[error("{0}")]
    Corrupt(String),
    /// Stored in a way App Store Connect cannot unpack either (encryption, a compression method
    /// other than stored or deflate).
    #[error("cannot be unpacked: {0}")]
    Unsupported(String),
    /// A file of a folder input changed between the walk and the read.
    #[error("{0} since the folder was listed")]
    Changed(&'static str),
    /// A folder, symbolic link or special file where a file was expected (never followed or opened).
    #[error("is {0}, not a file")]
    NotAFile(&'static str),
    /// The entry inflates to more than the caller allows.
    #[error("larger than {limit} bytes")]
    TooLarge {
        /// The bound the caller set.
        limit: u64,
    },
}

impl EntryError {
    /// Sorts an I/O error from an entry reader: bytes that contradict the archive become
    /// [`EntryError::Data`], the rest stays [`EntryError::Io`].
    pub fn from_io(e: std::io::Error) -> EntryError {
        match e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<crate::io::EntryDataError>())
        {
            Some(data) => EntryError::Data(data.clone()),
            None => EntryError::Io(e),
        }
    }
}
