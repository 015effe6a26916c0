//! Exercise 03 · partition. Open `exercises/03_partition.rs`; hint: `cargo run -- hint 3`.
//! (Pure arithmetic: no files, no processes.)

mod common;

use common::cases;
use proptest::prelude::*;
use shm_kata::partition::partition;

/// Buffer lengths, with small ones (fewer words than workers) as common as large ones.
fn lengths() -> impl Strategy<Value = usize> {
    prop_oneof![0usize..128, 0usize..100_000]
}

proptest! {
    #![proptest_config(cases(2000))]

    /// Every word belongs to exactly one worker: ranges follow each other with no gap and
    /// no overlap, from 0 to len.
    #[test]
    fn partitions_are_disjoint_and_cover_the_buffer(len in lengths(), parts in 1usize..64) {
        let ranges = partition(len, parts);
        let mut next = 0;
        for r in &ranges {
            prop_assert_eq!(r.start, next,
                "range {:?} should start where the previous one ended ({}): a gap or an \
                 overlap means two workers share a word, or a word is never processed",
                r, next);
            next = r.end;
        }
        prop_assert_eq!(next, len, "the last range must end at len ({}), got {:?}", len, ranges);
    }

    /// One non-empty range per worker that has work: `min(len, parts)` of them.
    #[test]
    fn partitions_give_every_worker_with_work_one_range(len in lengths(), parts in 1usize..64) {
        let ranges = partition(len, parts);
        prop_assert_eq!(ranges.len(), len.min(parts),
            "{} words over {} workers should make {} ranges, got {:?}", len, parts, len.min(parts), ranges);
        prop_assert!(ranges.iter().all(|r| r.start < r.end),
            "no range may be empty (an idle worker is a wasted process): {:?}", ranges);
    }

    /// No worker gets more than one word more than any other.
    #[test]
    fn partitions_are_balanced(len in lengths(), parts in 1usize..64) {
        let ranges = partition(len, parts);
        let sizes: Vec<usize> = ranges.iter().map(|r| r.end.saturating_sub(r.start)).collect();
        if let (Some(min), Some(max)) = (sizes.iter().min(), sizes.iter().max()) {
            prop_assert!(max - min <= 1,
                "{} words over {} workers: sizes {:?} differ by {}; spread the remainder one word \
                 each, don't use ceil(len / parts)", len, parts, sizes, max - min);
        }
    }
}

/// The article's recipe, `ceil(9 / 4) = 3` words a chunk, leaves the 4th worker idle.
#[test]
fn nine_words_over_four_workers_keep_all_four_busy() {
    let mut sizes: Vec<usize> = partition(9, 4).iter().map(|r| r.len()).collect();
    sizes.sort_unstable();
    assert_eq!(
        sizes,
        [2, 2, 2, 3],
        "9 words over 4 workers should be 3 + 2 + 2 + 2, not 3 + 3 + 3 + 0"
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
