//! A counting global allocator: the bytes live now, and the highest value since the harness last
//! looked. Allocations past a hard ceiling fail (the process aborts with Rust's allocation-failure
//! message) so a runaway mutant cannot take the machine down before the harness notices.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// Above this many live bytes every allocation fails: 6 GiB, a quarter of the machine.
pub const HARD_CEILING: usize = 6 << 30;

/// The allocator. Installed by this crate for every binary that links it (the harness's tests).
pub struct Counting;

// SAFETY: every call is forwarded unchanged to `System`; the counters only observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !reserve(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        let ptr = unsafe { System.alloc(layout) };
        if ptr.is_null() {
            CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !reserve(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: as for `alloc`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if ptr.is_null() {
            CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = layout.size();
        if new_size > old && !reserve(new_size - old) {
            return std::ptr::null_mut();
        }
        // SAFETY: `ptr`/`layout` come from this allocator; the caller guarantees `new_size`.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if new.is_null() {
            if new_size > old {
                CURRENT.fetch_sub(new_size - old, Ordering::Relaxed);
            }
        } else if new_size < old {
            CURRENT.fetch_sub(old - new_size, Ordering::Relaxed);
        }
        new
    }
}

fn reserve(size: usize) -> bool {
    let now = CURRENT.fetch_add(size, Ordering::Relaxed) + size;
    if now > HARD_CEILING {
        CURRENT.fetch_sub(size, Ordering::Relaxed);
        return false;
    }
    PEAK.fetch_max(now, Ordering::Relaxed);
    true
}

/// Live bytes now.
pub fn current() -> usize {
    CURRENT.load(Ordering::Relaxed)
}

/// The highest live byte count since the last call, then starts a new window at the current value.
pub fn take_peak() -> usize {
    PEAK.swap(current(), Ordering::Relaxed)
}
