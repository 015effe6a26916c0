//! # 04 · transform — many processes, one buffer, no copy
//!
//! Reference answer.

use std::ops::Range;

use crate::attach::attach;
use crate::partition::partition;
use shm_kata::job::Job;
use shm_kata::{Error, SegmentDir, worker};

/// `2x + 1` if `x` is even, `2x` if it is odd, wrapping on overflow.
pub fn transform(x: u32) -> u32 {
    x.wrapping_mul(2).wrapping_add(u32::from(x % 2 == 0))
}

/// The worker's side: attach to `name` and transform its words `range` in place.
pub fn transform_range(dir: &SegmentDir, name: &str, range: Range<usize>) -> Result<(), Error> {
    let mut segment = attach(dir, name)?;
    // SAFETY: `range` comes from `partition`, so no other worker touches these words,
    // and the parent does not look at the segment until every worker has exited. No other
    // `Segment` of this file exists in this process. So for as long as `words` lives,
    // nothing else reads or writes these words: the promise a `&mut [u32]` makes.
    let words = unsafe { segment.words_range_mut(range)? };
    // One pass, no bounds check per word (the iterator already knows the range), each
    // page touched once: the loop runs at memory speed. What it cannot avoid is the
    // kernel connecting our pages on first touch and disconnecting them at exit: on 4 KiB
    // pages (a page fault maps 16 of them at a time) that is, for 256 MiB, as much time as
    // the transform itself (`cargo bench --features benchmarks --bench transform`). Asking
    // for all of them up front (`MAP_POPULATE`, `madvise(MADV_POPULATE_WRITE)`) does the
    // same work page by page and measured slower here. Huge pages make 512 times fewer:
    // the kit's `create` collapses a new segment into 2 MiB pages, and maps every segment
    // at a 2 MiB-aligned address, so this loop gets them where the kernel allows
    // (`shm_kata::pages`).
    for word in words {
        *word = transform(*word);
    }
    Ok(())
}

/// The parent's side: transform every word of `name` with `workers` worker processes.
pub fn run(dir: &SegmentDir, name: &str, workers: usize) -> Result<(), Error> {
    if workers == 0 {
        return Err(Error::NoWorkers {
            name: name.to_owned(),
        });
    }
    // Attach only to learn the length; the parent never touches the words itself.
    let words = attach(dir, name)?.word_count();
    let jobs = partition(words, workers)
        .into_iter()
        .map(|range| Job::transform(dir, name, range));
    worker::run_all(jobs)
}
