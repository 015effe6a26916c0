//! Exercise 03 · partition. Open `exercises/03_partition.rs`; hint: `cargo run -- hint 3`.
//! (Pure arithmetic: no files, no processes.)

// The exercises these tests use: yours, or the answers with `--features solutions`.
shm_kata::exercises!(partition);

mod common;

use std::ops::Range;

use crate::partition::partition;
use common::cases;
use proptest::test_runner::{TestCaseError, TestRunner};

/// Every `len` up to this is checked with every `parts`, smallest first.
const SMALL_LEN: usize = 200;
/// Worker counts checked: `1..=MAX_PARTS`.
const MAX_PARTS: usize = 64;

/// Checks `property` for every small input, in order of `len` and then `parts`, so the
/// first failure is the smallest one (proptest's shrinking cannot find it: whether a wrong
/// partition fails depends on `len % parts`, which is not smaller for smaller inputs);
/// then for random large lengths.
fn holds_for_all_inputs(property: fn(usize, usize) -> Result<(), String>) {
    for len in 0..=SMALL_LEN {
        for parts in 1..=MAX_PARTS {
            if let Err(message) = property(len, parts) {
                panic!("{message}\n(smallest failing input: len = {len}, parts = {parts})");
            }
        }
    }
    let mut runner = TestRunner::new(cases(500));
    let large = (SMALL_LEN..100_000usize, 1..=MAX_PARTS);
    if let Err(error) = runner.run(&large, |(len, parts)| {
        property(len, parts).map_err(TestCaseError::fail)
    }) {
        panic!("{error}");
    }
}

fn sizes(ranges: &[Range<usize>]) -> Vec<usize> {
    ranges
        .iter()
        .map(|r| r.end.saturating_sub(r.start))
        .collect()
}

/// The mistake that `sizes` (of `len` words over `parts` workers) looks like, in words.
fn diagnosis(len: usize, parts: usize, sizes: &[usize]) -> String {
    let nonempty: Vec<usize> = sizes.iter().copied().filter(|&s| s > 0).collect();
    let chunk = len.div_ceil(parts.max(1)).max(1);
    let ceil_chunks: Vec<usize> = (0..len)
        .step_by(chunk)
        .map(|start| chunk.min(len - start))
        .collect();
    let (base, extra) = (len / parts.max(1), len % parts.max(1));
    let mut remainder_last = vec![base; parts.saturating_sub(1)];
    remainder_last.push(base + extra);
    let workers = len.min(parts);
    let balanced: Vec<usize> = (0..workers)
        .map(|i| len / workers + usize::from(i < len % workers))
        .collect();
    if nonempty == ceil_chunks && ceil_chunks != balanced {
        let empties = if nonempty != sizes {
            " (here the ranges after them are empty)"
        } else {
            ""
        };
        format!(
            "these are chunks of ceil(len / parts) = {chunk} words: the last worker gets what \
             is left, or nothing at all{empties}. Don't use ceil(len / parts): give every \
             range len / parts words, and one more to len % parts of them (the first ones, \
             say)"
        )
    } else if nonempty != sizes {
        "some ranges are empty: every worker you start must get at least one word, so \
         make min(len, parts) ranges"
            .to_owned()
    } else if sizes == remainder_last && extra > 1 {
        format!(
            "the whole remainder (len % parts = {extra} words) went to the last range: spread \
             it one word each over the first {extra} ranges"
        )
    } else {
        "every range should get len / parts words, and len % parts of them one more".to_owned()
    }
}

/// What is wrong with how `ranges` (of `len` words over `parts` workers) cover the
/// buffer, if anything: an overlap, a gap, or an end that is not `len`. Such ranges are
/// wrong before they can be unbalanced, so every message says this first.
fn coverage_mistake(len: usize, parts: usize, ranges: &[Range<usize>]) -> Option<String> {
    let mut next = 0;
    for r in ranges {
        if r.start < next {
            return Some(format!(
                "{len} words over {parts} workers: range {r:?} overlaps the previous one \
                 (which ended at {next}): two workers would transform the same word. Each \
                 range starts where the previous one ended: {ranges:?}"
            ));
        }
        if r.start > next {
            return Some(format!(
                "{len} words over {parts} workers: range {r:?} leaves a gap after the \
                 previous one (which ended at {next}): words {next}..{} are never \
                 processed: {ranges:?}",
                r.start
            ));
        }
        next = next.max(r.end);
    }
    (next != len).then(|| {
        format!(
            "{len} words over {parts} workers: the last range must end at len ({len}), \
             the ranges end at {next}: {ranges:?}"
        )
    })
}

/// The mistake behind `ranges`: how they cover the buffer first, then how they are sized.
fn explain(len: usize, parts: usize, ranges: &[Range<usize>]) -> String {
    coverage_mistake(len, parts, ranges).unwrap_or_else(|| diagnosis(len, parts, &sizes(ranges)))
}

/// Every word belongs to exactly one worker: ranges follow each other with no gap and
/// no overlap, from 0 to len.
#[test]
fn partitions_are_disjoint_and_cover_the_buffer() {
    holds_for_all_inputs(
        |len, parts| match coverage_mistake(len, parts, &partition(len, parts)) {
            Some(mistake) => Err(mistake),
            None => Ok(()),
        },
    );
}

/// One non-empty range per worker that has work: `min(len, parts)` of them.
#[test]
fn partitions_give_every_worker_with_work_one_range() {
    holds_for_all_inputs(|len, parts| {
        let ranges = partition(len, parts);
        let sizes = sizes(&ranges);
        if ranges.len() != len.min(parts) || sizes.contains(&0) {
            return Err(format!(
                "{len} words over {parts} workers should make {} non-empty ranges, got \
                 {ranges:?}: {}",
                len.min(parts),
                explain(len, parts, &ranges)
            ));
        }
        Ok(())
    });
}

/// No worker gets more than one word more than any other.
#[test]
fn partitions_are_balanced() {
    holds_for_all_inputs(|len, parts| {
        let ranges = partition(len, parts);
        let sizes = sizes(&ranges);
        let (Some(min), Some(max)) = (sizes.iter().min(), sizes.iter().max()) else {
            return Ok(());
        };
        if max - min > 1 {
            return Err(format!(
                "{len} words over {parts} workers: sizes {sizes:?} differ by {}: {}",
                max - min,
                explain(len, parts, &ranges)
            ));
        }
        Ok(())
    });
}

/// The article's recipe, `ceil(9 / 4) = 3` words a chunk, leaves the 4th worker idle.
#[test]
fn nine_words_over_four_workers_keep_all_four_busy() {
    let ranges = partition(9, 4);
    let sizes = sizes(&ranges);
    let mut sorted = sizes.clone();
    sorted.sort_unstable();
    assert!(
        sorted == [2, 2, 2, 3],
        "9 words over 4 workers should be one range of 3 and three of 2, in any order, got \
         {ranges:?} (sizes {sizes:?}): {}",
        explain(9, 4, &ranges)
    );
}

/// Fewer words than workers: each word gets its own worker, and the rest get nothing.
#[test]
fn fewer_words_than_workers_gives_one_word_each() {
    assert_eq!(
        partition(3, 8),
        vec![0..1, 1..2, 2..3],
        "3 words over 8 workers: 3 ranges of one word"
    );
}

/// Zero workers means nobody to do the work: no ranges, and no panic (no division by zero).
#[test]
fn zero_parts_gives_no_ranges() {
    assert_eq!(
        partition(10, 0),
        vec![],
        "partition(10, 0) should be empty, not a panic"
    );
    assert_eq!(partition(0, 0), vec![], "partition(0, 0) should be empty");
}

/// An empty buffer needs no worker.
#[test]
fn an_empty_buffer_gives_no_ranges() {
    assert_eq!(
        partition(0, 4),
        vec![],
        "partition(0, 4) should be empty: there is no word to give"
    );
}
