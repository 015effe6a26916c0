//! # 04 · transform — many processes, one buffer, no copy
//!
//! The payoff. The buffer holds `0, 1, 2, …`; every word becomes `2x + 1` if `x` is even,
//! `2x` if it is odd. With pipes, each worker would receive its chunk (a copy), send it
//! back (another copy), and the parent would stitch the results together (a third). Here
//! the workers rewrite the segment in place and the parent just waits.
//!
//! You write three pieces:
//! * `transform(x)`: the formula. The trap: `2 * x` overflows for `x >= 2^31`, which
//!   panics in a debug build. Use wrapping arithmetic (`wrapping_mul`, `wrapping_add`):
//!   the kata wants the result modulo 2^32.
//! * `transform_range(dir, name, range)`: what one worker process does. Attach by name
//!   (your `attach` from 02), take the words of your range with
//!   `segment.words_range_mut(range)?` and transform each one. That call refuses a range
//!   past the end (`Error::TooSmall`, not a panic), and it is `unsafe`: read on.
//! * `run(dir, name, workers)`: what the parent does. Attach once, only to learn how many
//!   words there are; `partition` them (03); build one `Job::transform(dir, name, range)`
//!   per range; start them all as real processes and wait for every one with
//!   `worker::run_all(jobs)`. `workers == 0` is `Error::NoWorkers`.
//!
//! Why `unsafe`? A `&mut [u32]` promises the compiler that nothing else reads or writes
//! those words while it lives, and the compiler optimizes on that promise. Other processes
//! write the same segment right now, and Rust cannot see them; only you can say why they
//! never touch *your* words. Say it in a `// SAFETY:` comment: no two workers share a word
//! (that is what 03 guaranteed), and the parent does not look until all of them have
//! exited. Break either rule and you need a lock or atomics (exercise 05).
//!
//! Builds on: 01 create, 02 attach (each worker attaches) and 03 partition (`run` splits
//! the work). A compile error in those shows here too; no other exercise ever stops this
//! one.
//!
//! Run: `cargo test --test 04_transform`   Stuck? `cargo run -- hint 4`

use std::ops::Range;

#[allow(unused_imports)] // you will need these
use crate::attach::attach;
#[allow(unused_imports)]
use crate::partition::partition;
#[allow(unused_imports)]
use shm_kata::job::Job;
#[allow(unused_imports)]
use shm_kata::worker;
use shm_kata::{Error, SegmentDir};

/// `2x + 1` if `x` is even, `2x` if it is odd, wrapping on overflow.
pub fn transform(x: u32) -> u32 {
    // TODO: the formula, with wrapping arithmetic.
    todo!("04 transform: compute transform({x})")
}

/// The worker's side: attach to `name` and transform its words `range` in place.
pub fn transform_range(dir: &SegmentDir, name: &str, range: Range<usize>) -> Result<(), Error> {
    // TODO: attach, take `words_range_mut(range)?` in an `unsafe` block with a
    // `// SAFETY:` comment, transform every word in it.
    todo!(
        "04 transform: transform words {range:?} of segment {name:?} in {}",
        dir.path().display()
    )
}

/// The parent's side: transform every word of `name` with `workers` worker processes.
pub fn run(dir: &SegmentDir, name: &str, workers: usize) -> Result<(), Error> {
    // TODO: attach to learn the word count, partition it, one Job::transform per range,
    // worker::run_all(jobs).
    todo!(
        "04 transform: run {workers} workers over segment {name:?} in {}",
        dir.path().display()
    )
}
