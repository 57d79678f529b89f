//! Errors: one type for the container, one for the catalog on top of it.

/// The BOM container is unreadable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BomError {
    /// The file does not start with `BOMStore`.
    #[error("not a BOM store (starts with {:?}, expected \"BOMStore\")", String::from_utf8_lossy(.start.as_slice()))]
    NotABom {
        /// The first eight bytes.
        start: [u8; 8],
    },
    /// A structure ends past the end of the file (or of its region).
    #[error("{what} is truncated: needs {need} bytes, has {have}")]
    Truncated {
        /// Which structure.
        what: &'static str,
        /// Bytes needed.
        need: u64,
        /// Bytes available.
        have: u64,
    },
    /// A field holds an impossible value.
    #[error("corrupt {0}")]
    Corrupt(&'static str),
    /// A block index beyond the block table.
    #[error("block index {index} is out of range (the table has {count} blocks)")]
    BlockOutOfRange {
        /// The index.
        index: u32,
        /// Blocks in the table.
        count: u32,
    },
    /// A block's address + length is past the end of the file.
    #[error(
        "block {index} ({length} bytes at {address}) ends past the end of the file ({file_len} bytes)"
    )]
    BlockPastEnd {
        /// The index.
        index: u32,
        /// Its address.
        address: u32,
        /// Its length.
        length: u32,
        /// The file's length.
        file_len: u64,
    },
    /// A variable that should name a tree does not.
    #[error("block {block} is not a tree header")]
    NotATree {
        /// The block.
        block: u32,
    },
    /// A tree node was reached twice.
    #[error("tree node {block} is reached twice (a cycle)")]
    TreeCycle {
        /// The node reached again.
        block: u32,
    },
    /// Index nodes nested deeper than the limit.
    #[error("tree is deeper than {limit} levels")]
    TreeTooDeep {
        /// The limit.
        limit: u32,
    },
    /// More of something than the limit allows.
    #[error("too many {what}: {count} (limit {limit})")]
    TooMany {
        /// What.
        what: &'static str,
        /// How many (at least).
        count: u64,
        /// The limit.
        limit: u64,
    },
}

/// The asset catalog is unreadable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CarError {
    /// The container underneath.
    #[error("cannot read the BOM container")]
    Bom(#[from] BomError),
    /// A required variable is absent.
    #[error("no {0} variable")]
    MissingVariable(&'static str),
    /// A structure does not start with its tag.
    #[error("{what} does not start with its tag (found {found:02x?})")]
    BadTag {
        /// Which structure.
        what: &'static str,
        /// The bytes found.
        found: Vec<u8>,
    },
    /// A structure is shorter than it says.
    #[error("{what} is truncated: needs {need} bytes, has {have}")]
    Truncated {
        /// Which structure.
        what: String,
        /// Bytes needed.
        need: u64,
        /// Bytes available.
        have: u64,
    },
    /// More of something than the limit allows.
    #[error("too many {what}: {count} (limit {limit})")]
    TooMany {
        /// What.
        what: &'static str,
        /// How many.
        count: u64,
        /// The limit.
        limit: u64,
    },
}
