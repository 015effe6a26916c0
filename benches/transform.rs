//! # transform — `transform::run` against the memory-bandwidth limit
//!
//! `cargo bench --features benchmarks --bench transform`
//!
//! 64M words (256 MiB, the kata's largest segment) in `/dev/shm`, rewritten in place, on
//! a segment the kata's `create` put on 2 MiB pages (`MADV_COLLAPSE`, see
//! `shm_kata::pages`) and, in the same run, on one left on 4 KiB pages (the `-4k` rows):
//!
//! * **run/W**: `transform::run` with W worker processes, for W = 1, 2, … up to the
//!   machine's cores. Everything the classic job's parent pays is measured: starting W
//!   processes, each attaching and faulting in its range, the transform, the exits, the
//!   wait. The segment is created and filled once, outside the measurement.
//! * **single-pass**: this process reads and rewrites every word of the same segment once,
//!   through its own mapping, which is already faulted in: one read and one write of
//!   256 MiB, the fastest this machine rewrites that buffer from one core. The memory
//!   bandwidth reference, measured in the same run.
//!
//! Throughput counts the buffer's size once (256 MiB), although every byte is read and
//! written.

// The reference answers these benchmarks run; the benchmark is its own worker process.
shm_kata::exercises!(create, attach, partition, transform);

mod common;

use std::time::Duration;

use crate::transform::{run, transform};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput};
use shm_kata::pages::Policy;

use common::ShmScratch;

/// 64M words: 256 MiB.
const WORDS: usize = 64 << 20;

fn main() {
    shm_kata::worker::serve_if_asked(&kata_code());
    let mut criterion = common::criterion().measurement_time(Duration::from_secs(3));
    transform_throughput(&mut criterion);
    criterion.final_summary();
}

fn transform_throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("transform");
    group.throughput(Throughput::Bytes((WORDS * 4) as u64));
    // One segment at a time: 256 MiB of /dev/shm is the kata's limit.
    for (policy, pages) in [(Policy::Huge, ""), (Policy::Small, "-4k")] {
        let scratch = ShmScratch::filled_on("transform", WORDS * 4, policy);
        rows(&mut group, scratch, pages);
    }
    group.finish();
}

fn rows(group: &mut BenchmarkGroup<'_, WallTime>, mut scratch: ShmScratch, pages: &str) {
    let (dir, name) = (scratch.dir().clone(), scratch.name().to_owned());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let size = common::mib(WORDS * 4);
    for workers in 1..=cores {
        let id = BenchmarkId::new(format!("run{pages}/{workers}"), &size);
        group.bench_function(id, |b| {
            b.iter(|| run(&dir, &name, workers).expect("transform::run"))
        });
    }
    group.bench_function(
        BenchmarkId::new(format!("single-pass{pages}"), &size),
        |b| {
            // SAFETY: no worker is running: every `run` above has returned, and it returns
            // only after all its workers have exited. This process has no other `Segment` of
            // the file, so nothing else touches these words while the slice lives.
            let words = unsafe { scratch.segment().words_mut() };
            b.iter(|| {
                for word in std::hint::black_box(&mut *words) {
                    *word = transform(*word);
                }
            })
        },
    );
}
