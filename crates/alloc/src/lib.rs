//! The global allocator of the `ipagate` binary: the system allocator, unchanged, except that an
//! allocation of 2 MiB or more is aligned to 2 MiB and marked for transparent huge pages
//! (`madvise(MADV_HUGEPAGE)` over the whole 2 MiB pages inside it; Linux only, a no-op elsewhere).
//! The alignment makes every whole 2 MiB of the block a huge page: unaligned, up to 2 MiB at each
//! end stayed in 4 KiB pages.
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

/// The layout asked of `System` for a caller's layout: the same, with the alignment raised to
/// 2 MiB from 2 MiB of size on. A pure function of the caller's layout, so `dealloc` and
/// `realloc` find the layout the block was made with.
fn system_layout(layout: Layout) -> Layout {
    if layout.size() >= HUGE && layout.align() < HUGE {
        Layout::from_size_align(layout.size(), HUGE).unwrap_or(layout)
    } else {
        layout
    }
}

// SAFETY: every block comes from `System`, made and freed with `system_layout` of the caller's
// layout (a layout at least as aligned, of the same size), so `System`'s contract holds and the
// caller gets a block that fits its layout; `advise` only gives advice about the block's memory.
unsafe impl GlobalAlloc for HugeForLarge {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's non-zero size is kept; only the alignment may grow.
        let ptr = unsafe { System.alloc(system_layout(layout)) };
        advise(ptr, layout.size());
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let ptr = unsafe { System.alloc_zeroed(system_layout(layout)) };
        advise(ptr, layout.size());
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was made by `alloc`/`realloc` with `system_layout(layout)`.
        unsafe { System.dealloc(ptr, system_layout(layout)) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = system_layout(layout);
        // The caller guarantees `new_size`, rounded up to the alignment, does not overflow.
        let Ok(wanted) = Layout::from_size_align(new_size, layout.align()) else {
            return std::ptr::null_mut();
        };
        let new = system_layout(wanted);
        if new.align() == old.align() {
            // SAFETY: `ptr` was made with `old`; `System` keeps that alignment.
            let ptr = unsafe { System.realloc(ptr, old, new_size) };
            advise(ptr, new_size);
            return ptr;
        }
        // Across the 2 MiB line the alignment changes: a new block, the contents copied.
        // SAFETY: `new` has the caller's non-zero size; the copy covers what both blocks hold;
        // the old block is freed with the layout it was made with, once.
        unsafe {
            let moved = System.alloc(new);
            if moved.is_null() {
                return moved;
            }
            std::ptr::copy_nonoverlapping(ptr, moved, layout.size().min(new_size));
            System.dealloc(ptr, old);
            advise(moved, new_size);
            moved
        }
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
    fn blocks_keep_contents_and_big_ones_start_on_a_huge_page() {
        let a = HugeForLarge;
        let sizes = [1, 4096, HUGE / 2 + 3, HUGE - 1, HUGE, 5 * HUGE + 123];
        for size in sizes {
            for new_size in sizes {
                let layout = Layout::from_size_align(size, 16).unwrap();
                // SAFETY: non-zero layouts; each block is written and read within its size and
                // freed once, with the layout it has at that point.
                unsafe {
                    let p = a.alloc(layout);
                    assert!(!p.is_null());
                    assert_eq!(p as usize % if size >= HUGE { HUGE } else { 16 }, 0);
                    for i in 0..size {
                        *p.add(i) = i as u8;
                    }
                    // Growing and shrinking, across the 2 MiB line both ways.
                    let q = a.realloc(p, layout, new_size);
                    assert!(!q.is_null());
                    assert_eq!(q as usize % if new_size >= HUGE { HUGE } else { 16 }, 0);
                    let kept = size.min(new_size);
                    let held = std::slice::from_raw_parts(q, kept);
                    assert!(
                        held.iter().enumerate().all(|(i, &b)| b == i as u8),
                        "{size} -> {new_size}"
                    );
                    q.write_bytes(0x5a, new_size);
                    a.dealloc(q, Layout::from_size_align(new_size, 16).unwrap());
                }
            }
            // SAFETY: as above.
            unsafe {
                let layout = Layout::from_size_align(size, 16).unwrap();
                let z = a.alloc_zeroed(layout);
                assert!(!z.is_null());
                assert!(std::slice::from_raw_parts(z, size).iter().all(|&b| b == 0));
                a.dealloc(z, layout);
            }
        }
    }
}
