// WRONG: one range per worker even when there are fewer words than workers, so some are empty
// CAUGHT BY: some ranges are empty
//! # 03 · partition — split the work so nobody has to wait
//!
//! Reference answer.

use std::ops::Range;

/// Cuts `0..len` into `min(len, parts)` non-empty, contiguous ranges, in order, whose
/// lengths differ by at most one. `parts == 0` means nobody to do the work: no ranges.
pub fn partition(len: usize, parts: usize) -> Vec<Range<usize>> {
    if parts == 0 {
        return Vec::new();
    }
    let (base, extra) = (len / parts, len % parts);
    let mut start = 0;
    (0..parts)
        .map(|i| {
            // The first `extra` ranges take one word more: that is where the remainder goes.
            let end = start + base + usize::from(i < extra);
            let range = start..end;
            start = end;
            range
        })
        .collect()
}
