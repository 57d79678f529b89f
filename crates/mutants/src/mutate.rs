//! Seeded mutations of a file's bytes. Positions lean (three times in four) on the file's
//! hotspots — the byte ranges that hold offsets, sizes and counts — because that is where a
//! reader trusts the input most.

use std::ops::Range;

/// splitmix64: small, fast, and the same sequence on every machine for a seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

/// One mutation, described well enough to name it in a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutation {
    /// XOR one byte with a mask.
    FlipBits {
        /// Offset.
        at: usize,
        /// Mask (never 0).
        mask: u8,
    },
    /// Overwrite a little- or big-endian integer of 2, 4 or 8 bytes.
    Integer {
        /// Offset.
        at: usize,
        /// Width in bytes.
        width: usize,
        /// Big-endian (Mach-O, BOM, plists) or little-endian (zip).
        big_endian: bool,
        /// The value written.
        value: u64,
    },
    /// Cut the file at `len` bytes.
    Truncate {
        /// New length.
        len: usize,
    },
    /// Remove `len` bytes at `at`.
    Delete {
        /// Offset.
        at: usize,
        /// Length.
        len: usize,
    },
    /// Copy `len` bytes from `from` and insert them at `to`.
    Duplicate {
        /// Source offset.
        from: usize,
        /// Length.
        len: usize,
        /// Insertion offset.
        to: usize,
    },
}

impl Mutation {
    /// Short kind name, for the report's counts.
    pub fn kind(&self) -> &'static str {
        match self {
            Mutation::FlipBits { .. } => "flip",
            Mutation::Integer { .. } => "integer",
            Mutation::Truncate { .. } => "truncate",
            Mutation::Delete { .. } => "delete",
            Mutation::Duplicate { .. } => "duplicate",
        }
    }

    /// The mutated copy of `input`.
    pub fn apply(&self, input: &[u8]) -> Vec<u8> {
        let mut out = input.to_vec();
        match *self {
            Mutation::FlipBits { at, mask } => {
                if let Some(b) = out.get_mut(at) {
                    *b ^= mask;
                }
            }
            Mutation::Integer {
                at,
                width,
                big_endian,
                value,
            } => {
                let bytes = if big_endian {
                    value.to_be_bytes()[8 - width..].to_vec()
                } else {
                    value.to_le_bytes()[..width].to_vec()
                };
                if let Some(dst) = out.get_mut(at..at + width) {
                    dst.copy_from_slice(&bytes);
                }
            }
            Mutation::Truncate { len } => out.truncate(len),
            Mutation::Delete { at, len } => {
                let end = (at + len).min(out.len());
                if at < end {
                    out.drain(at..end);
                }
            }
            Mutation::Duplicate { from, len, to } => {
                let end = (from + len).min(input.len());
                if from < end && to <= out.len() {
                    let copy = input[from..end].to_vec();
                    out.splice(to..to, copy);
                }
            }
        }
        out
    }
}

/// Values that make readers trip: zero, one, all ones, sign bits, the file's own length and
/// neighbours, small counts, and the value already there scaled up.
fn integer_value(rng: &mut Rng, len: usize, old: u64, width: usize) -> u64 {
    let max = if width == 8 {
        u64::MAX
    } else {
        (1u64 << (width * 8)) - 1
    };
    let v = match rng.below(12) {
        0 => 0,
        1 => 1,
        2 => max,
        3 => max >> 1,
        4 => (max >> 1) + 1,
        5 => len as u64,
        6 => (len as u64).saturating_add(1),
        7 => (len as u64).saturating_sub(1),
        8 => rng.below(64) as u64,
        9 => old.saturating_mul(1 << rng.below(16)),
        10 => old.wrapping_add(rng.below(9) as u64).wrapping_sub(4),
        _ => rng.next_u64(),
    };
    v & max
}

fn position(rng: &mut Rng, len: usize, hotspots: &[Range<usize>]) -> usize {
    let hot: Vec<&Range<usize>> = hotspots
        .iter()
        .filter(|r| r.start < r.end && r.end <= len)
        .collect();
    if !hot.is_empty() && rng.below(4) != 0 {
        let r = hot[rng.below(hot.len())];
        r.start + rng.below(r.end - r.start)
    } else {
        rng.below(len)
    }
}

/// Picks one mutation of an input of `len` bytes for `seed`.
pub fn choose(seed: u64, input: &[u8], hotspots: &[Range<usize>]) -> Mutation {
    let mut rng = Rng::new(seed);
    let len = input.len();
    if len == 0 {
        return Mutation::Duplicate {
            from: 0,
            len: 0,
            to: 0,
        };
    }
    match rng.below(10) {
        0..=2 => Mutation::FlipBits {
            at: position(&mut rng, len, hotspots),
            mask: 1 << rng.below(8) | (rng.below(2) as u8 * 0xFF),
        },
        3..=6 => {
            let width = [2, 4, 4, 8][rng.below(4)];
            let at = position(&mut rng, len, hotspots).min(len.saturating_sub(width));
            let big_endian = rng.below(2) == 1;
            let old = input
                .get(at..at + width)
                .map(|b| {
                    let mut v = [0u8; 8];
                    if big_endian {
                        v[8 - width..].copy_from_slice(b);
                        u64::from_be_bytes(v)
                    } else {
                        v[..width].copy_from_slice(b);
                        u64::from_le_bytes(v)
                    }
                })
                .unwrap_or(0);
            Mutation::Integer {
                at,
                width,
                big_endian,
                value: integer_value(&mut rng, len, old, width),
            }
        }
        7 => Mutation::Truncate {
            len: if rng.below(2) == 0 {
                position(&mut rng, len, hotspots)
            } else {
                len - 1 - rng.below(len.min(64))
            },
        },
        8 => Mutation::Delete {
            at: position(&mut rng, len, hotspots),
            len: 1 + rng.below(64),
        },
        _ => Mutation::Duplicate {
            from: position(&mut rng, len, hotspots),
            len: 1 + rng.below(256),
            to: position(&mut rng, len, hotspots),
        },
    }
}

#[cfg(test)]
#[allow(clippy::single_range_in_vec_init)] // one hot range is what these tests need
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_mutation() {
        let input = vec![7u8; 1000];
        for seed in 0..200 {
            assert_eq!(
                choose(seed, &input, &[10..20]),
                choose(seed, &input, &[10..20])
            );
        }
    }

    #[test]
    fn every_kind_occurs_and_applies_within_bounds() {
        let input: Vec<u8> = (0..=255).collect();
        let mut kinds = std::collections::BTreeSet::new();
        for seed in 0..2000 {
            let m = choose(seed, &input, &[200..256]);
            kinds.insert(m.kind());
            let out = m.apply(&input);
            assert!(out.len() <= input.len() + 256, "{m:?}");
        }
        assert_eq!(kinds.len(), 5, "{kinds:?}");
    }

    #[test]
    fn hotspots_draw_most_positions() {
        let input = vec![0u8; 100_000];
        let hot = (0..1000)
            .filter_map(|seed| match choose(seed, &input, &[99_000..99_100]) {
                Mutation::FlipBits { at, .. } | Mutation::Integer { at, .. } => Some(at),
                _ => None,
            })
            .collect::<Vec<_>>();
        let inside = hot
            .iter()
            .filter(|&&at| (98_992..99_100).contains(&at))
            .count();
        assert!(inside * 2 > hot.len(), "{inside} of {}", hot.len());
    }
}
