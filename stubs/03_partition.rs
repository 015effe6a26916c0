//! # 03 · partition — split the work so nobody has to wait
//!
//! Several workers will rewrite one shared buffer at the same time. If no two workers
//! ever touch the same word, they need no lock at all: disjoint ranges *are* the
//! synchronization. Your job: cut `0..len` into ranges, one per worker with work, that
//!   * never overlap, and leave no gap (every word belongs to exactly one worker),
//!   * come in order, each starting where the previous one ended,
//!   * are never empty: `min(len, parts)` of them (`parts == 0` means no workers: no
//!     ranges),
//!   * differ in length by at most one word (no worker finishes long after the rest);
//!     which ranges get the extra word is up to you.
//!
//! The trap: chunks of `ceil(len / parts)`, the usual recipe, look balanced but are not —
//! 9 words over 4 workers gives 3 + 3 + 3 + 0, and one worker sits idle; 10 words over 4
//! give 3 + 3 + 3 + 1. The remainder has to be spread, one extra word each.
//!
//! Builds on: no other exercise. Another exercise that does not compile never stops this
//! one.
//!
//! Run: `cargo test --test 03_partition`   Stuck? `cargo run -- hint 3`

use std::ops::Range;

/// The ranges, in order, one per worker that has work.
pub fn partition(len: usize, parts: usize) -> Vec<Range<usize>> {
    // TODO: return min(len, parts) non-empty, balanced ranges covering 0..len.
    todo!("03 partition: split 0..{len} into {parts} balanced ranges")
}
