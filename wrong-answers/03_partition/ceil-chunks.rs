// WRONG: chunks of ceil(len / parts) words, like the article, skipping empty ones
// CAUGHT BY: Don't use ceil(len / parts)
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
    // Chunks of ceil(len / parts) words, the last one shorter.
    let chunk = len.div_ceil(parts).max(1);
    (0..len)
        .step_by(chunk)
        .map(|start| start..(start + chunk).min(len))
        .collect()
}
