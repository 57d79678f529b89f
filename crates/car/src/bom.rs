//! The BOM container ("Bill of Materials" store) that `Assets.car` is built on.
//!
//! All integers are **big-endian** (xcbuild `libbom/Headers/bom/bom_format.h`, hogliux/bomutils
//! `src/bom.h`):
//!
//! ```text
//! 0   "BOMStore"   8  u32 version (1)   12 u32 numberOfBlocks (non-null entries only)
//! 16  u32 indexOffset  20 u32 indexLength  24 u32 varsOffset  28 u32 varsLength
//! block table @indexOffset: u32 count; count × {u32 address, u32 length}; entry 0 is {0,0}
//! vars @varsOffset:         u32 count; count × {u32 blockIndex, u8 nameLen, name[nameLen]}
//! tree block:  "tree" u32 version; u32 child (root node); u32 blockSize; u32 pathCount; u8 flags
//! tree node:   u16 isLeaf; u16 count; u32 forward; u32 backward; count × {u32 value, u32 key}
//! ```
//!
//! A tree is walked from its root down the first child of every index node to the leftmost leaf,
//! then along the `forward` links through every leaf (xcbuild `bom_tree_iterate`, which descends
//! one level only; iineva/bom, which reads the root only, fails on big catalogs). Each step is
//! bounded: depth, visited nodes (a cycle is an error, not a hang) and entries.

use std::collections::HashSet;

use crate::Limits;
use crate::error::BomError;

const MAGIC: &[u8; 8] = b"BOMStore";
const HEADER_LEN: usize = 32;

/// A parsed BOM container over borrowed bytes: the block table and the named variables.
#[derive(Debug, Clone)]
pub struct Bom<'a> {
    data: &'a [u8],
    blocks: Vec<(u32, u32)>,
    vars: Vec<(String, u32)>,
    limits: Limits,
}

/// One key/value pair of a tree leaf, as byte slices into the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeEntry<'a> {
    /// The key block's bytes.
    pub key: &'a [u8],
    /// The value block's bytes.
    pub value: &'a [u8],
    /// The value block's index (lets a caller find the bytes again).
    pub value_block: u32,
}

pub(crate) fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

pub(crate) fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

impl<'a> Bom<'a> {
    /// Parses the header, block table and variables of `data`. Trees are read on demand.
    pub fn parse(data: &'a [u8], limits: &Limits) -> Result<Bom<'a>, BomError> {
        let n = data.len().min(8);
        if data[..n] != MAGIC[..n] || n == 0 {
            let mut start = [0u8; 8];
            start[..n].copy_from_slice(&data[..n]);
            return Err(BomError::NotABom { start });
        }
        if data.len() < HEADER_LEN {
            return Err(BomError::Truncated {
                what: "header",
                need: HEADER_LEN as u64,
                have: data.len() as u64,
            });
        }
        let field = |at| be32(data, at).ok_or(BomError::Corrupt("header"));
        let (index_offset, index_length) = (field(16)?, field(20)?);
        let (vars_offset, vars_length) = (field(24)?, field(28)?);
        let index = slice(data, index_offset, index_length, "block table")?;
        let count = be32(index, 0).ok_or(BomError::Corrupt("block table count"))?;
        if count > limits.max_blocks {
            return Err(BomError::TooMany {
                what: "blocks",
                count: u64::from(count),
                limit: u64::from(limits.max_blocks),
            });
        }
        // The table must fit in its declared region (and thus in the file) before we allocate.
        let need = 4 + 8 * u64::from(count);
        if need > index.len() as u64 {
            return Err(BomError::Truncated {
                what: "block table",
                need,
                have: index.len() as u64,
            });
        }
        let blocks = (0..count as usize)
            .map(|i| {
                let at = 4 + 8 * i;
                Ok((
                    be32(index, at).ok_or(BomError::Corrupt("block table"))?,
                    be32(index, at + 4).ok_or(BomError::Corrupt("block table"))?,
                ))
            })
            .collect::<Result<Vec<_>, BomError>>()?;

        let vars_region = slice(data, vars_offset, vars_length, "variable table")?;
        let nvars = be32(vars_region, 0).ok_or(BomError::Corrupt("variable count"))?;
        // Each variable takes at least 5 bytes: a larger count is a lie.
        if u64::from(nvars) * 5 > vars_region.len() as u64 {
            return Err(BomError::Truncated {
                what: "variable table",
                need: u64::from(nvars) * 5 + 4,
                have: vars_region.len() as u64,
            });
        }
        let mut vars = Vec::with_capacity(nvars as usize);
        let mut at = 4usize;
        for _ in 0..nvars {
            let block = be32(vars_region, at).ok_or(BomError::Corrupt("variable"))?;
            let len = *vars_region
                .get(at + 4)
                .ok_or(BomError::Corrupt("variable"))? as usize;
            let name = vars_region
                .get(at + 5..at + 5 + len)
                .ok_or(BomError::Corrupt("variable name"))?;
            vars.push((String::from_utf8_lossy(name).into_owned(), block));
            at += 5 + len;
        }
        Ok(Bom {
            data,
            blocks,
            vars,
            limits: limits.clone(),
        })
    }

    /// The whole container.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// Variable names in table order.
    pub fn var_names(&self) -> impl Iterator<Item = &str> {
        self.vars.iter().map(|(n, _)| n.as_str())
    }

    /// The block index of a variable.
    pub fn var(&self, name: &str) -> Option<u32> {
        self.vars.iter().find(|(n, _)| n == name).map(|(_, b)| *b)
    }

    /// The bytes of a variable's block, if the variable exists.
    pub fn var_block(&self, name: &str) -> Result<Option<&'a [u8]>, BomError> {
        self.var(name).map(|b| self.block(b)).transpose()
    }

    /// The bytes of block `index`.
    pub fn block(&self, index: u32) -> Result<&'a [u8], BomError> {
        let (addr, len) = *self
            .blocks
            .get(index as usize)
            .ok_or(BomError::BlockOutOfRange {
                index,
                count: self.blocks.len() as u32,
            })?;
        slice(self.data, addr, len, "block").map_err(|_| BomError::BlockPastEnd {
            index,
            address: addr,
            length: len,
            file_len: self.data.len() as u64,
        })
    }

    /// The absolute byte range of block `index` in the container.
    pub fn block_range(&self, index: u32) -> Result<std::ops::Range<usize>, BomError> {
        let bytes = self.block(index)?;
        let start = bytes.as_ptr() as usize - self.data.as_ptr() as usize;
        Ok(start..start + bytes.len())
    }

    /// Every entry of the tree named by variable `name` (`None` if there is no such variable),
    /// in leaf order.
    pub fn tree(&self, name: &str) -> Result<Option<Vec<TreeEntry<'a>>>, BomError> {
        match self.var(name) {
            None => Ok(None),
            Some(b) => self.tree_at(b).map(Some),
        }
    }

    /// Every entry of the tree whose `tree` header is block `tree_block`.
    pub fn tree_at(&self, tree_block: u32) -> Result<Vec<TreeEntry<'a>>, BomError> {
        let header = self.block(tree_block)?;
        if header.get(..4) != Some(b"tree") {
            return Err(BomError::NotATree { block: tree_block });
        }
        let root = be32(header, 8).ok_or(BomError::Corrupt("tree header"))?;
        let mut seen: HashSet<u32> = HashSet::new();
        // Down the first child of each index node to the leftmost leaf.
        let mut node_index = root;
        let mut depth = 0u32;
        loop {
            if !seen.insert(node_index) {
                return Err(BomError::TreeCycle { block: node_index });
            }
            let node = self.block(node_index)?;
            let is_leaf = be16(node, 0).ok_or(BomError::Corrupt("tree node"))?;
            if is_leaf != 0 {
                break;
            }
            depth += 1;
            if depth > self.limits.max_tree_depth {
                return Err(BomError::TreeTooDeep {
                    limit: self.limits.max_tree_depth,
                });
            }
            let count = be16(node, 2).ok_or(BomError::Corrupt("tree node"))?;
            if count == 0 {
                return Err(BomError::Corrupt("index node without children"));
            }
            node_index = be32(node, 12).ok_or(BomError::Corrupt("tree node"))?;
        }
        // Along the leaves.
        let mut out = Vec::new();
        let mut leaves = 0u32;
        loop {
            leaves += 1;
            if leaves > self.limits.max_tree_nodes {
                return Err(BomError::TooMany {
                    what: "tree leaves",
                    count: u64::from(leaves),
                    limit: u64::from(self.limits.max_tree_nodes),
                });
            }
            let node = self.block(node_index)?;
            let count = be16(node, 2).ok_or(BomError::Corrupt("tree leaf"))? as usize;
            let forward = be32(node, 4).ok_or(BomError::Corrupt("tree leaf"))?;
            // Leaves may exceed the tree's blockSize (23,332 bytes seen): bound by count and block.
            if 12 + 8 * count > node.len() {
                return Err(BomError::Truncated {
                    what: "tree leaf",
                    need: 12 + 8 * count as u64,
                    have: node.len() as u64,
                });
            }
            if out.len() + count > self.limits.max_tree_entries {
                return Err(BomError::TooMany {
                    what: "tree entries",
                    count: (out.len() + count) as u64,
                    limit: self.limits.max_tree_entries as u64,
                });
            }
            for i in 0..count {
                let at = 12 + 8 * i;
                let value_block = be32(node, at).ok_or(BomError::Corrupt("tree leaf"))?;
                let key_block = be32(node, at + 4).ok_or(BomError::Corrupt("tree leaf"))?;
                out.push(TreeEntry {
                    key: self.block(key_block)?,
                    value: self.block(value_block)?,
                    value_block,
                });
            }
            if forward == 0 {
                break;
            }
            if !seen.insert(forward) {
                return Err(BomError::TreeCycle { block: forward });
            }
            node_index = forward;
        }
        Ok(out)
    }
}

fn slice<'a>(
    data: &'a [u8],
    offset: u32,
    len: u32,
    what: &'static str,
) -> Result<&'a [u8], BomError> {
    let start = offset as usize;
    let end = start
        .checked_add(len as usize)
        .ok_or(BomError::Corrupt(what))?;
    data.get(start..end).ok_or(BomError::Truncated {
        what,
        need: end as u64,
        have: data.len() as u64,
    })
}
