// WRONG: 2x + 1 for odd x and 2x for even x, the parity the wrong way round
// CAUGHT BY: the + 1 belongs to even x
//! # 04 · transform — many processes, one buffer, no copy
//!
//! Reference answer.

use std::ops::Range;

use crate::attach::attach;
use shm_kata::job::Job;
use crate::partition::partition;
use shm_kata::{Error, SegmentDir, worker};

/// `2x + 1` if `x` is even, `2x` if it is odd, wrapping on overflow.
pub fn transform(x: u32) -> u32 {
    x.wrapping_mul(2).wrapping_add(u32::from(x % 2 == 1))
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
    // kernel connecting our 4 KiB pages on first touch (a page fault maps 16 of them at
    // a time) and disconnecting them at exit: for 256 MiB that is as much time as the
    // transform itself (`cargo bench --features benchmarks --bench transform`). Asking for
    // all of them up front (`MAP_POPULATE`, `madvise(MADV_POPULATE_WRITE)`) does the same
    // work page by page and measured slower here; huge pages (a tmpfs mounted with
    // `huge=within_size`) make 512 times fewer pages, but that is the machine's setting,
    // not the program's.
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
