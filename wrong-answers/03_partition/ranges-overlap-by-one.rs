// WRONG: each range ends one word past where the next one starts (inclusive end)
// CAUGHT BY: overlaps the previous one
//! # 03 · partition — split the work so nobody has to wait
//!
//! Reference answer.

use std::ops::Range;

/// Cuts `0..len` into `min(len, parts)` non-empty, contiguous ranges, in order, whose
/// lengths differ by at most one. `parts == 0` means nobody to do the work: no ranges.
pub fn partition(len: usize, parts: usize) -> Vec<Range<usize>> {
    let parts = parts.min(len);
    if parts == 0 {
        return Vec::new();
    }
    let (base, extra) = (len / parts, len % parts);
    let mut start = 0;
    (0..parts)
        .map(|i| {
            // The first `extra` ranges take one word more: that is where the remainder goes.
            let end = start + base + usize::from(i < extra);
            let range = start..(end + 1).min(len);
            start = end;
            range
        })
        .collect()
}
