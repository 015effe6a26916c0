//! What both benchmarks share: a real segment in `/dev/shm` that is always removed, the
//! summing loop every receiver runs, and criterion's settings.
//!
//! The benchmarks use `SegmentDir::system()` on purpose (or `SHM_KATA_BENCH_DIR`, see
//! [`bench_dir`]): the point is to measure real shared memory (`tmpfs`), not a file on a
//! disk. The kata's rules still hold: a segment is at most 256 MiB, and [`ShmScratch`]
//! removes it when dropped, which also happens when a benchmark panics (the stack unwinds
//! through it). Only a kill (Ctrl-C included) can leave one behind: its name starts with
//! `shm-kata-bench-`.

#![allow(dead_code)] // each benchmark uses a part of this module

use std::time::Duration;

use criterion::Criterion;
use shm_kata::pages::{self, Policy};
use shm_kata::{Segment, SegmentDir};

/// The largest segment a benchmark may create: the kata's limit for `/dev/shm`.
pub const MAX_SEGMENT: usize = 256 << 20;

/// Where the benchmarks make their segments: `/dev/shm`, or the directory in
/// `SHM_KATA_BENCH_DIR` (for instance a tmpfs mounted with `huge=within_size`, to see what
/// huge pages change).
pub fn bench_dir() -> SegmentDir {
    std::env::var_os("SHM_KATA_BENCH_DIR").map_or_else(SegmentDir::system, SegmentDir::at)
}

/// A segment in [`bench_dir`], created with the kata's `create` and removed on drop.
pub struct ShmScratch {
    dir: SegmentDir,
    name: String,
    segment: Option<Segment>,
}

impl ShmScratch {
    /// Creates `shm-kata-bench-<what>-<pid>` of `len` bytes and fills its words with
    /// `0, 1, 2, …`, the article's buffer.
    pub fn filled(what: &str, len: usize) -> ShmScratch {
        ShmScratch::filled_on(what, len, Policy::Huge)
    }

    /// The same, on the pages `policy` asks for: `Policy::Small` keeps the segment on
    /// 4 KiB pages, as a program without the kit's collapse gets on a stock `/dev/shm`.
    /// The name then ends in `-4k`.
    pub fn filled_on(what: &str, len: usize, policy: Policy) -> ShmScratch {
        assert!(
            len <= MAX_SEGMENT,
            "a benchmark segment may be at most 256 MiB, not {len} bytes"
        );
        let dir = bench_dir();
        let small = match policy {
            Policy::Huge => "",
            Policy::Small => "-4k",
        };
        let name = format!("shm-kata-bench-{what}{small}-{}", std::process::id());
        pages::set_policy(policy);
        let created = crate::create::create(&dir, &name, len);
        pages::set_policy(Policy::Huge);
        let mut segment =
            created.unwrap_or_else(|e| panic!("could not create the benchmark segment: {e}"));
        eprintln!("{name}: {}", segment.pages());
        // SAFETY: the segment was created a moment ago and its name has not been handed
        // to anyone: no other process or `Segment` can touch it while we fill it.
        fill_counting(unsafe { segment.words_mut() });
        ShmScratch {
            dir,
            name,
            segment: Some(segment),
        }
    }

    pub fn dir(&self) -> &SegmentDir {
        &self.dir
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// This process's own mapping of the segment.
    pub fn segment(&mut self) -> &mut Segment {
        self.segment.as_mut().expect("the segment lives until drop")
    }
}

impl Drop for ShmScratch {
    fn drop(&mut self) {
        drop(self.segment.take());
        let _ = std::fs::remove_file(self.dir.join(&self.name));
    }
}

/// `words[i] = i`, wrapping past `u32::MAX`.
pub fn fill_counting(words: &mut [u32]) {
    for (i, word) in words.iter_mut().enumerate() {
        *word = i as u32;
    }
}

/// What every receiver computes, so that every byte it was handed is really read: the sum
/// of the words, widened so it cannot overflow. The compiler turns this into a vector
/// loop: reading memory, not adding, is what it costs.
pub fn sum_words(words: &[u32]) -> u64 {
    words.iter().map(|&w| u64::from(w)).sum()
}

/// Criterion settings that keep a whole `cargo bench` to a few minutes on two cores: ten
/// samples (criterion's minimum) and short windows. The big sizes take tens to hundreds of
/// milliseconds per run, so even ten samples are stable to a few percent.
pub fn criterion() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args()
}

/// `1 MiB`, `64 MiB`.
pub fn mib(bytes: usize) -> String {
    format!("{} MiB", bytes >> 20)
}
