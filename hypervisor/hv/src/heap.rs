// SPDX-License-Identifier: GPL-2.0

//! The hypervisor's only heap: a bump allocator over 256 KiB of `.bss`, there because
//! `iced-x86` (the MMIO instruction decoder, `core::decode`) builds its opcode tables once,
//! lazily, in `Vec`s and `Box`es (about 100 KiB allocated, 83 KiB kept, measured on the
//! host with the features we use). Nothing else allocates. Memory is never reused: `dealloc`
//! is a no-op, which is fine for tables built once. [`warm_up`] builds them at boot, so a
//! guest exit never allocates and an undersized arena fails at boot (allocation failure
//! panics, and the panic handler parks).

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicUsize, Ordering};

const SIZE: usize = 256 * 1024;

#[repr(C, align(4096))]
struct Arena(UnsafeCell<[u8; SIZE]>);

// SAFETY: the arena is only reached through `Bump::alloc`, which hands out disjoint ranges
// (the atomic `next` is bumped before a range is returned).
unsafe impl Sync for Arena {}

static ARENA: Arena = Arena(UnsafeCell::new([0; SIZE]));

struct Bump {
    next: AtomicUsize,
}

// SAFETY: `alloc` returns null or a range of `layout.size()` bytes inside `ARENA`, aligned
// to `layout.align()`, never handed out before (`next` only grows, by compare-exchange);
// `dealloc` does nothing, so no range is ever reused.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let base = ARENA.0.get().cast::<u8>() as usize;
        let mut cur = self.next.load(Ordering::Relaxed);
        loop {
            let Some(start) = (base + cur).checked_next_multiple_of(layout.align()) else {
                return core::ptr::null_mut();
            };
            let off = start - base;
            let Some(end) = off.checked_add(layout.size()).filter(|&e| e <= SIZE) else {
                return core::ptr::null_mut();
            };
            match self
                .next
                .compare_exchange(cur, end, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return start as *mut u8,
                Err(now) => cur = now,
            }
        }
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}

#[global_allocator]
static HEAP: Bump = Bump {
    next: AtomicUsize::new(0),
};

/// Builds the decoder's tables now (one decode per bitness) and returns the bytes of heap
/// used.
pub fn warm_up() -> usize {
    for bits in [16, 32, 64] {
        let _ = acrn_hv_core::decode::decode(&[0x8b, 0x07], bits);
    }
    HEAP.next.load(Ordering::Relaxed)
}
