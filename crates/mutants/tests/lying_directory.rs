//! A central directory that declares more than the file holds must not size anything by that
//! declaration: measured with the counting allocator, in a test binary of its own (no other test
//! allocates beside it).

use std::path::Path;

use ipagate_fixtures::Ipa;
use ipagate_formats::{Limits, Package};

fn patch_eocd(bytes: &mut [u8], at: usize, value: &[u8]) {
    let eocd = bytes
        .windows(4)
        .rposition(|w| w == [0x50, 0x4b, 0x05, 0x06])
        .expect("an end record");
    bytes[eocd + at..eocd + at + value.len()].copy_from_slice(value);
}

#[test]
fn a_directory_size_the_file_cannot_hold_is_never_allocated() {
    let clean = Ipa::app("Demo", "com.example.demo").build();
    let file_len = clean.len();
    // 200 MiB declared (under the 256 MiB limit, so only the file's size can refuse it), and a
    // count that fits it.
    let mut lying = clean.clone();
    patch_eocd(&mut lying, 12, &(200u32 << 20).to_le_bytes());
    patch_eocd(&mut lying, 8, &60_000u16.to_le_bytes());
    patch_eocd(&mut lying, 10, &60_000u16.to_le_bytes());
    for bytes in [clean, lying] {
        let before = ipagate_mutants::alloc::current();
        ipagate_mutants::alloc::take_peak();
        let opened = Package::from_bytes(Path::new("t.ipa"), bytes, &Limits::default());
        let peak = ipagate_mutants::alloc::take_peak().saturating_sub(before);
        drop(opened);
        // The bytes themselves are already allocated; what opening adds stays a small multiple
        // of the file, nowhere near the 200 MiB the directory claims.
        assert!(
            peak < 64 * file_len + (1 << 20),
            "opening a {file_len}-byte archive allocated {peak} bytes"
        );
    }
}
