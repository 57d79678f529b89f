//! Bounds applied to untrusted archives before anything is allocated or inflated.

/// Limits on what an input may declare or contain. Every size read from an archive is checked
/// against these before it is trusted; exceeding one ends the read with [`crate::OpenError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most entries (files and folders) an archive or directory may hold.
    pub max_entries: u64,
    /// Largest declared uncompressed size of one entry.
    pub max_entry_size: u64,
    /// Largest declared uncompressed size of all entries together.
    pub max_total_size: u64,
    /// Largest ratio of declared uncompressed to compressed size for an entry above
    /// [`Limits::ratio_floor`] bytes (deflate cannot exceed about 1032:1).
    pub max_ratio: u64,
    /// Entries smaller than this are never judged by their ratio.
    pub ratio_floor: u64,
    /// Deepest path (components) an entry may have.
    pub max_depth: usize,
    /// Longest entry name in bytes.
    pub max_name_len: usize,
    /// Largest property list (Info.plist) read into memory.
    pub max_plist_size: u64,
    /// Largest central directory an archive may declare (it is parsed into memory: names and
    /// per-entry records). 100,000 real entries take about 10 MB.
    pub max_central_directory_size: u64,
    /// Largest Mach-O file read into memory (its pages are hashed; a 2 GiB executable is rare).
    pub max_binary_size: u64,
    /// Mach-O files smaller than this are read whole; larger ones are streamed
    /// ([`crate::binstream`]): their pages hashed as they inflate and only their headers,
    /// signature and symbol tables kept, so memory does not grow with the executable.
    pub binary_in_memory_below: u64,
    /// Largest `_CodeSignature/CodeResources` read (a 100,000-file app seals 100,000 paths).
    pub max_code_resources_size: u64,
    /// Largest `embedded.mobileprovision` read (real ones are 8-600 KiB).
    pub max_profile_size: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 250_000,
            max_entry_size: 4 << 30,
            max_total_size: 32 << 30,
            max_ratio: 1_000,
            ratio_floor: 1 << 20,
            max_depth: 64,
            max_name_len: 1024,
            max_plist_size: 8 << 20,
            max_central_directory_size: 256 << 20,
            max_binary_size: 2 << 30,
            binary_in_memory_below: 8 << 20,
            max_code_resources_size: 256 << 20,
            max_profile_size: 4 << 20,
        }
    }
}
