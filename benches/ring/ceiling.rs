//! The ceiling: the fastest single-producer single-consumer ring this machine runs between
//! two processes, written without any of the kata's code, to judge the kata's ring by.
//!
//! What makes it fast, each a choice the kata's ring does not make (its records have any
//! length, it checks a stranger's indices, and it waits without burning a core):
//! * **fixed 64-byte slots**: a message is exactly one slot, no length prefix, no
//!   wrap-around split, one 64-byte copy;
//! * **each index on a 128-byte line of its own** (two cache lines: the adjacent-line
//!   prefetcher pulls pairs), so the sender's stores of `tail` never invalidate the line
//!   the receiver's `head` lives on;
//! * **each side caches the peer's index** and loads it again only when the cached one says
//!   full (sender) or empty (receiver): most messages touch no shared line but the slot;
//! * **waiting spins, then yields** (`sched_yield`): no system call while the peer keeps
//!   up, and a core given back when it does not.
//!
//! The memory is a file in `/dev/shm` both processes map; nothing is checked, because both
//! ends are this benchmark.

use std::fs::File;
use std::sync::atomic::{AtomicU64, Ordering};

use memmap2::MmapMut;

/// The size of a slot, and of every message.
pub const SLOT: usize = 64;

/// Slots in the ring: 16,384 × 64 B = 1 MiB, the kata ring's capacity.
pub const SLOTS: usize = 16_384;

/// `head` at 0, `tail` at 128, the slots from 256.
const TAIL_AT: usize = 128;
const DATA_AT: usize = 256;

/// The file's length.
pub const LEN: usize = DATA_AT + SLOTS * SLOT;

/// One end of the ring, over a mapping of the shared file.
pub struct End {
    /// Keeps the mapping alive; every access goes through `base`.
    _map: MmapMut,
    /// The mapping's first byte, taken once from `as_mut_ptr`: every view below derives
    /// from this raw pointer, never from a shared `&[u8]` of the mapping (which would
    /// forbid the writes).
    base: *mut u8,
    /// This end's own index (the sender's tail, the receiver's head), kept locally.
    mine: u64,
    /// The peer's index as last loaded.
    theirs: u64,
}

impl End {
    /// Maps `file` (of [`LEN`] bytes, zeroed: both indices 0).
    pub fn new(file: &File) -> End {
        // SAFETY: the file is this benchmark's own, in /dev/shm, made LEN bytes long before
        // either process maps it, and nobody shrinks it while they run. The two processes
        // share it only through the atomics below and the slots those publish.
        let mut map = unsafe { MmapMut::map_mut(file) }.expect("map the ceiling ring");
        assert!(map.len() >= LEN);
        let base = map.as_mut_ptr();
        End {
            _map: map,
            base,
            mine: 0,
            theirs: 0,
        }
    }

    fn index(&self, at: usize) -> &AtomicU64 {
        let ptr = self.base.wrapping_add(at).cast::<AtomicU64>();
        // SAFETY: `at` is 0 or 128, 8-aligned inside the page-aligned mapping, which lives
        // as long as `self`; both processes touch these 8 bytes only atomically.
        unsafe { &*ptr }
    }

    fn slot(&self, index: u64) -> *mut u8 {
        let at = DATA_AT + (index as usize % SLOTS) * SLOT;
        self.base.wrapping_add(at)
    }

    /// Sends one 64-byte message, waiting while the ring is full.
    #[inline]
    pub fn send(&mut self, message: &[u8; SLOT]) {
        let mut round = 0u32;
        while self.mine - self.theirs == SLOTS as u64 {
            // Acquire: the receiver's reads of the slot it freed are done.
            self.theirs = self.index(0).load(Ordering::Acquire);
            if self.mine - self.theirs == SLOTS as u64 {
                wait(&mut round);
            }
        }
        // SAFETY: the slot lies inside the mapping; the receiver reads it only after the
        // Release store below publishes it, and freed it (its Release store of head, our
        // Acquire load above) before we write.
        unsafe { std::ptr::copy_nonoverlapping(message.as_ptr(), self.slot(self.mine), SLOT) };
        self.mine += 1;
        self.index(TAIL_AT).store(self.mine, Ordering::Release);
    }

    /// Receives one 64-byte message into `out`, waiting while the ring is empty.
    #[inline]
    pub fn recv(&mut self, out: &mut [u8; SLOT]) {
        let mut round = 0u32;
        while self.mine == self.theirs {
            // Acquire: the sender's writes of the slots before its tail are visible.
            self.theirs = self.index(TAIL_AT).load(Ordering::Acquire);
            if self.mine == self.theirs {
                wait(&mut round);
            }
        }
        // SAFETY: the slot is published (the Acquire load above saw a tail past it) and the
        // sender does not write it again until the Release store below frees it.
        unsafe { std::ptr::copy_nonoverlapping(self.slot(self.mine), out.as_mut_ptr(), SLOT) };
        self.mine += 1;
        self.index(0).store(self.mine, Ordering::Release);
    }
}

/// Spins for the first rounds, then gives the core away.
#[inline]
fn wait(round: &mut u32) {
    *round += 1;
    if *round < 128 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}
