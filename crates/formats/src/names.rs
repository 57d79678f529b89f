//! What is unsafe about an entry name, found in one pass over its bytes.
//!
//! The pass runs once per entry where the central directory is parsed (the bytes are in cache
//! there, and it doubles as the test for an ASCII name, which needs no UTF-8 validation); the
//! archive-wide checks then look at each name again only when some name has a problem.

/// What one pass over a name's bytes finds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ByteFlags {
    /// A C0 control character or DEL.
    pub(crate) control: bool,
    pub(crate) backslash: bool,
    /// A byte of 0x80 or more: the name is not ASCII.
    pub(crate) non_ascii: bool,
    /// Two dots in a row somewhere (a `..` component is possible).
    pub(crate) dot_pair: bool,
    pub(crate) slashes: usize,
}

/// One pass over `bytes`, 32 at a time with branch-free byte arithmetic (which the compiler turns
/// into vector instructions; a dot pair is found by comparing the chunk with itself shifted by
/// one byte). The rest is padded with a harmless byte into one more whole chunk: the same vector
/// code, not a byte loop (names are mostly 30–80 bytes, so the rest is often most of the name).
#[inline]
pub(crate) fn byte_flags(bytes: &[u8]) -> ByteFlags {
    if bytes.len() <= SHORT {
        return short_flags(bytes);
    }
    let (chunks, rest) = bytes.as_chunks::<32>();
    let mut flags = ByteFlags {
        control: false,
        backslash: false,
        non_ascii: false,
        dot_pair: false,
        slashes: 0,
    };
    // The byte before the chunk (a pair may straddle two chunks).
    let mut before = 0u8;
    let mut add = |chunk: &[u8; 32]| {
        let (mut c, mut b, mut n, mut s) = (0u8, 0u8, 0u8, 0u8);
        for &x in chunk {
            c |= u8::from(x < 0x20) | u8::from(x == 0x7f);
            b |= u8::from(x == b'\\');
            n |= x & 0x80;
            s += u8::from(x == b'/');
        }
        let mut d = u8::from(before == b'.') & u8::from(chunk[0] == b'.');
        let (left, right) = (&chunk[..31], &chunk[1..]);
        for i in 0..31 {
            d |= u8::from(left[i] == b'.') & u8::from(right[i] == b'.');
        }
        before = chunk[31];
        flags.control |= c != 0;
        flags.backslash |= b != 0;
        flags.non_ascii |= n != 0;
        flags.dot_pair |= d != 0;
        flags.slashes += usize::from(s);
    };
    chunks.iter().for_each(&mut add);
    if !rest.is_empty() {
        let mut chunk = [b'a'; 32];
        chunk[..rest.len()].copy_from_slice(rest);
        add(&chunk);
    }
    flags
}

/// Names up to this long (nearly all) take [`short_flags`].
const SHORT: usize = 64;

/// [`byte_flags`] for a short name: copied into a padded buffer of fixed size, so every
/// test is one fixed-length loop the compiler turns into straight vector code (no remainder, the
/// dot pairs by comparing the buffer with itself one byte on), and each flag is reduced once.
#[inline(always)]
fn short_flags(bytes: &[u8]) -> ByteFlags {
    // Padded with a byte no test counts (not a control character, a slash or a dot).
    let mut buf = [b'a'; SHORT + 1];
    buf[..bytes.len()].copy_from_slice(bytes);
    let (head, next) = (&buf[..SHORT], &buf[1..]);
    let (mut c, mut b, mut n, mut d, mut s) = (0u8, 0u8, 0u8, 0u8, 0u8);
    for i in 0..SHORT {
        let x = head[i];
        c |= u8::from(x < 0x20) | u8::from(x == 0x7f);
        b |= u8::from(x == b'\\');
        n |= x & 0x80;
        d |= u8::from(x == b'.') & u8::from(next[i] == b'.');
        s += u8::from(x == b'/');
    }
    ByteFlags {
        control: c != 0,
        backslash: b != 0,
        non_ascii: n != 0,
        dot_pair: d != 0,
        slashes: usize::from(s),
    }
}

/// What is unsafe about an entry name (one pass over its bytes).
pub(crate) fn name_problem(name: &str, limits: &crate::Limits) -> Option<&'static str> {
    problem_of(name.as_bytes(), &byte_flags(name.as_bytes()), limits)
}

/// [`name_problem`] from a pass already made. Bytes that are not UTF-8 count as a control
/// character here (the caller reports them as `not-utf8` first).
#[inline]
pub(crate) fn problem_of(
    bytes: &[u8],
    flags: &ByteFlags,
    limits: &crate::Limits,
) -> Option<&'static str> {
    if bytes.len() > limits.max_name_len {
        return Some("too-long");
    }
    // C1 control characters (U+0080..U+009F) only occur in non-ASCII names.
    let control = flags.control
        || (flags.non_ascii
            && std::str::from_utf8(bytes).map_or(true, |s| s.chars().any(char::is_control)));
    let depth = 1 + flags.slashes;
    let parent_ref = flags.dot_pair && bytes.split(|&b| b == b'/').any(|c| c == b"..");
    if control {
        Some("control-character")
    } else if flags.backslash {
        Some("backslash")
    } else if bytes.starts_with(b"/") || bytes.get(1..3) == Some(b":/") {
        Some("absolute")
    } else if parent_ref {
        Some("parent-reference")
    } else if depth > limits.max_depth {
        Some("too-deep")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unsafe_name_is_named_wherever_the_byte_sits() {
        let limits = crate::Limits::default();
        let long = "Payload/Demo.app/Resources/a-folder-name-of-some-length";
        assert_eq!(name_problem(long, &limits), None);
        assert_eq!(name_problem("Payload/Demo.app/file..txt", &limits), None);
        // Each bad byte inside the first 32-byte chunk, in a later chunk, and in the remainder.
        for at in [3, 20, 40, long.len() - 1] {
            let with = |c: char| {
                let mut s = long.to_string();
                s.insert(at, c);
                s
            };
            assert_eq!(
                name_problem(&with('\u{1}'), &limits),
                Some("control-character"),
                "{at}"
            );
            assert_eq!(
                name_problem(&with('\u{7f}'), &limits),
                Some("control-character"),
                "{at}"
            );
            assert_eq!(
                name_problem(&with('\u{85}'), &limits),
                Some("control-character"),
                "{at}"
            );
            assert_eq!(
                name_problem(&with('\\'), &limits),
                Some("backslash"),
                "{at}"
            );
        }
        assert_eq!(name_problem("/etc/passwd", &limits), Some("absolute"));
        assert_eq!(name_problem("C:/x", &limits), Some("absolute"));
        assert_eq!(
            name_problem("Payload/../../x", &limits),
            Some("parent-reference")
        );
        assert_eq!(name_problem("..", &limits), Some("parent-reference"));
        assert_eq!(name_problem("Payload/x..", &limits), None);
        let deep = vec!["d"; limits.max_depth + 1].join("/");
        assert_eq!(name_problem(&deep, &limits), Some("too-deep"));
        let ok = vec!["d"; limits.max_depth].join("/");
        assert_eq!(name_problem(&ok, &limits), None);
        assert_eq!(
            name_problem(&"x".repeat(limits.max_name_len + 1), &limits),
            Some("too-long")
        );
    }

    #[test]
    fn short_and_long_names_give_the_same_flags() {
        // Around the short-name size and the chunk size, each byte kind at each position.
        for len in [0, 1, 2, 31, 32, 33, 63, 64, 65, 95, 96, 97, 200] {
            for at in 0..len {
                for byte in [0u8, 0x1f, 0x7f, b'\\', 0xc3, b'.', b'/', b'a'] {
                    let mut name = vec![b'n'; len];
                    name[at] = byte;
                    if at + 1 < len {
                        name[at + 1] = b'.';
                    }
                    let flags = byte_flags(&name);
                    let expect = |f: &dyn Fn(u8) -> bool| name.iter().any(|&x| f(x));
                    assert_eq!(
                        flags.control,
                        expect(&|x| x < 0x20 || x == 0x7f),
                        "{len} {at}"
                    );
                    assert_eq!(flags.backslash, expect(&|x| x == b'\\'), "{len} {at}");
                    assert_eq!(flags.non_ascii, expect(&|x| x >= 0x80), "{len} {at}");
                    assert_eq!(
                        flags.dot_pair,
                        name.windows(2).any(|w| w == b".."),
                        "{len} {at}"
                    );
                    assert_eq!(
                        flags.slashes,
                        name.iter().filter(|&&x| x == b'/').count(),
                        "{len} {at}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_dot_pair_is_found_across_chunks_and_in_the_padding() {
        let limits = crate::Limits::default();
        // 31 bytes then `..`: the pair straddles the first chunk's end.
        let across = format!("{}/../x", "a".repeat(30));
        assert_eq!(across.as_bytes()[31], b'.');
        assert_eq!(name_problem(&across, &limits), Some("parent-reference"));
        // A dot closing the name next to the padding is not a pair.
        assert!(!byte_flags(format!("{}.", "a".repeat(40)).as_bytes()).dot_pair);
        assert!(byte_flags(b"a..").dot_pair);
        assert!(byte_flags("é".as_bytes()).non_ascii);
        assert!(!byte_flags(b"Payload/Demo.app/Info.plist").non_ascii);
    }
}
