//! The article's classic job, timed: a segment of N `u32` words in `/dev/shm`, filled with
//! `0, 1, 2, …`, transformed in place by W worker processes (`x → 2x + 1` if `x` is even,
//! `2x` if odd), every word verified, the segment removed.
//!
//! `cargo build --release --features solutions --example classic`, then
//! `target/release/examples/classic N W` (defaults: 500000 words, one worker per core).
//! `benches/compare-python.sh` runs it beside `benches/classic.py`, the same job in Python,
//! and both print the same `RESULT` line so the two can be compared.
//!
//! It uses only the kata's public API: `create`, `transform::run`, `transform::transform`.
//! The segment gets 2 MiB pages where the kernel allows (the kit's `MADV_COLLAPSE`);
//! with `SHM_KATA_PAGES=4k` it stays on 4 KiB pages, and the line says `rust-4k`.
//!
//! `classic N floor` runs the same fill, transform and verify in *one* process on memory
//! of its own, single-threaded, no segment, no worker: a `Vec` (`way=vec`), and an
//! anonymous mapping with `MADV_HUGEPAGE` (`way=vec+hugepage`). That is the physical floor
//! the whole-process job is judged against, and it prints `RESULT rust floor …` lines.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use shm_kata::SegmentDir;
use shm_kata::pages::{self, HUGE_PAGE, Policy};

// The exercises it runs (the answers with `--features solutions`); it is its own worker.
shm_kata::exercises!(create, attach, partition, transform);

fn main() -> ExitCode {
    shm_kata::worker::serve_if_asked(&kata_code());
    let mut args = std::env::args().skip(1);
    let words: usize = args
        .next()
        .map_or(500_000, |a| a.parse().expect("N: a word count"));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = args.next();
    if workers.as_deref() == Some("floor") {
        for (way, huge) in [("vec", false), ("vec+hugepage", true)] {
            let [fill, run, verify, free] = floor(words, huge).map(|t| t.as_secs_f64());
            println!(
                "RESULT rust floor words={words} way={way} fill_s={fill:.6} \
                 transform_s={run:.6} verify_s={verify:.6} remove_s={free:.6} total_s={:.6}",
                fill + run + verify + free
            );
        }
        return ExitCode::SUCCESS;
    }
    let workers: usize = workers.map_or(cores, |a| a.parse().expect("W: a worker count"));
    match classic(words, workers) {
        Ok(times) => {
            let total: Duration = times.iter().sum();
            let [fill, run, verify, remove] = times.map(|t| t.as_secs_f64());
            let rust = match pages::policy() {
                Policy::Huge => "rust",
                Policy::Small => "rust-4k",
            };
            println!(
                "RESULT {rust} job words={words} workers={workers} fill_s={fill:.6} \
                 transform_s={run:.6} verify_s={verify:.6} remove_s={remove:.6} total_s={:.6}",
                total.as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("classic: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the job and returns how long each step took: create and fill, transform, verify,
/// remove.
fn classic(words: usize, workers: usize) -> Result<[Duration; 4], String> {
    let dir = SegmentDir::system();
    let name = format!("shm-kata-classic-{}", std::process::id());
    let _remove_on_panic = RemoveOnDrop(dir.join(&name));

    let start = Instant::now();
    let mut segment = create::create(&dir, &name, words * 4).map_err(|e| e.to_string())?;
    // SAFETY: the segment is new and no worker has been started yet: nothing else
    // touches its words while we fill them.
    for (i, word) in unsafe { segment.words_mut() }.iter_mut().enumerate() {
        *word = i as u32;
    }
    let filled = Instant::now();

    transform::run(&dir, &name, workers).map_err(|e| e.to_string())?;
    let transformed = Instant::now();

    // SAFETY: `run` returned, so every worker has exited: nobody writes the segment any
    // more, and the parent may read the whole buffer.
    let words = unsafe { segment.words() };
    let is_wrong = |(i, &w): (usize, &u32)| w != transform::transform(i as u32);
    // Count first: a loop without an early exit, which the compiler turns into vector
    // instructions; look for the first wrong word only when there is one.
    if words.iter().enumerate().filter(|&p| is_wrong(p)).count() > 0 {
        let i = words.iter().enumerate().position(is_wrong).unwrap();
        return Err(format!(
            "word {i} is {} after the transform, expected {}",
            words[i],
            transform::transform(i as u32)
        ));
    }
    let verified = Instant::now();

    drop(segment);
    std::fs::remove_file(dir.join(&name)).map_err(|e| format!("remove {name}: {e}"))?;
    let removed = Instant::now();

    Ok([
        filled - start,
        transformed - filled,
        verified - transformed,
        removed - verified,
    ])
}

/// The same steps in one process, on a buffer of its own: fill, transform every word,
/// verify every word, free. `huge`: an anonymous mapping (rounded up to whole 2 MiB, where
/// the kernel can place huge pages) with `MADV_HUGEPAGE`, instead of a `Vec`.
fn floor(words: usize, huge: bool) -> [Duration; 4] {
    let start = Instant::now();
    let mut vec = Vec::new();
    let mut map = None;
    let buffer: &mut [u32] = if huge {
        let map = map.insert(
            memmap2::MmapMut::map_anon((words * 4).next_multiple_of(HUGE_PAGE))
                .expect("an anonymous mapping"),
        );
        // Only a hint: with THP `never`, or no 2 MiB page to allocate, the pages stay small.
        let _ = map.advise(memmap2::Advice::HugePage);
        &mut bytemuck::cast_slice_mut(&mut map[..])[..words]
    } else {
        vec.resize(words, 0u32);
        &mut vec
    };
    for (i, word) in buffer.iter_mut().enumerate() {
        *word = i as u32;
    }
    let filled = Instant::now();
    for word in buffer.iter_mut() {
        *word = transform::transform(*word);
    }
    let transformed = Instant::now();
    let wrong = buffer
        .iter()
        .enumerate()
        .filter(|&(i, &w)| w != transform::transform(i as u32))
        .count();
    assert_eq!(wrong, 0, "the floor's own transform went wrong");
    let verified = Instant::now();
    drop((vec, map));
    let freed = Instant::now();
    [
        filled - start,
        transformed - filled,
        verified - transformed,
        freed - verified,
    ]
}

/// Removes the segment's file if the job stops early; after a clean removal it finds
/// nothing to do.
struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
