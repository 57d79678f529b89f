//! The global allocator of the `ipagate` binary: the system allocator, unchanged, except that an
//! allocation of 2 MiB or more is marked for transparent huge pages (`madvise(MADV_HUGEPAGE)`
//! over the whole 2 MiB pages inside it; Linux only, a no-op elsewhere).
//!
//! Why: a fresh 4 KiB page costs one page fault when first written, and on a virtual machine a
//! fault costs 2–4 µs. Opening a 100,000-entry archive writes about 11 MB of index, names and sort
//! keys — 2,600 faults, half of the run's time. In huge pages the same memory is a handful of
//! faults. Small allocations (everything a small app needs) are left exactly as they were: the
//! mark only applies from 2 MiB on, and only to whole huge pages.
//!
//! Nothing else changes: every call goes to [`System`] with the caller's layout; the advice
//! changes neither contents nor mappings, and its failure (a kernel without huge pages, or one
//! set to `never`) is ignored.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};

/// The size of a huge page (x86-64 and arm64 with 4 KiB base pages).
const HUGE: usize = 2 << 20;

/// The system allocator, with huge pages asked for on allocations of 2 MiB and more.
pub struct HugeForLarge;

// SAFETY: every method forwards its arguments unchanged to `System`, which upholds the
// `GlobalAlloc` contract; `advise` only gives advice about memory of the returned block.
unsafe impl GlobalAlloc for HugeForLarge {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is passed on unchanged.
        let ptr = unsafe { System.alloc(layout) };
        advise(ptr, layout.size());
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        advise(ptr, layout.size());
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` and `layout` come from this allocator, i.e. from `System`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`, and `new_size` is the caller's, unchanged.
        let ptr = unsafe { System.realloc(ptr, layout, new_size) };
        advise(ptr, new_size);
        ptr
    }
}

/// The whole huge pages inside `[start, start + len)`, as a start address and a length.
fn huge_pages_within(start: usize, len: usize) -> Option<(usize, usize)> {
    if len < HUGE {
        return None;
    }
    let first = start.checked_next_multiple_of(HUGE)?;
    let end = start.checked_add(len)? / HUGE * HUGE;
    (end > first).then(|| (first, end - first))
}

#[cfg(target_os = "linux")]
fn advise(ptr: *mut u8, len: usize) {
    if ptr.is_null() {
        return;
    }
    if let Some((start, len)) = huge_pages_within(ptr as usize, len) {
        // SAFETY: the range lies inside the block just returned by `System` (whole pages, so
        // page-aligned as `madvise` requires). `MADV_HUGEPAGE` changes no contents and no
        // mapping, only how later faults are served; an error changes nothing and is ignored.
        unsafe {
            libc::madvise(start as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise(_ptr: *mut u8, _len: usize) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_huge_pages_inside_the_block_are_advised() {
        assert_eq!(huge_pages_within(0, HUGE - 1), None);
        assert_eq!(huge_pages_within(0, HUGE), Some((0, HUGE)));
        // Starting 4 KiB in: the first whole huge page starts at 2 MiB.
        assert_eq!(huge_pages_within(4096, 3 * HUGE), Some((HUGE, 2 * HUGE)));
        // (In MiB.) 3 from 1: [1, 4) holds the page [2, 4); 3.5 from 1: still only [2, 4).
        assert_eq!(
            huge_pages_within(HUGE / 2, 3 * HUGE / 2),
            Some((HUGE, HUGE))
        );
        assert_eq!(
            huge_pages_within(HUGE / 2, 7 * HUGE / 4),
            Some((HUGE, HUGE))
        );
        // 2.5 from 1: [1, 3.5) holds no whole page.
        assert_eq!(huge_pages_within(HUGE / 2, 5 * HUGE / 4), None);
        assert_eq!(huge_pages_within(usize::MAX - HUGE, 2 * HUGE), None);
    }

    #[test]
    fn blocks_are_the_system_allocators_whatever_their_size() {
        let a = HugeForLarge;
        for size in [1, 4096, HUGE - 1, HUGE, 5 * HUGE + 123] {
            let layout = Layout::from_size_align(size, 16).unwrap();
            // SAFETY: a non-zero layout; the block is written within its size, then freed once
            // with the same layout (after a realloc, with the new size).
            unsafe {
                let p = a.alloc(layout);
                assert!(!p.is_null());
                p.write_bytes(0xa5, size);
                assert_eq!(*p.add(size - 1), 0xa5);
                let q = a.realloc(p, layout, size * 2);
                assert!(!q.is_null());
                assert_eq!(*q.add(size - 1), 0xa5, "realloc keeps the contents");
                q.add(size).write_bytes(0x5a, size);
                a.dealloc(q, Layout::from_size_align(size * 2, 16).unwrap());
                let z = a.alloc_zeroed(layout);
                assert!(!z.is_null());
                assert!(std::slice::from_raw_parts(z, size).iter().all(|&b| b == 0));
                a.dealloc(z, layout);
            }
        }
    }
}
