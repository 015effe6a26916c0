//! The article's classic job, timed: a segment of N `u32` words in `/dev/shm`, filled with
//! `0, 1, 2, …`, transformed in place by W worker processes (`x → 2x + 1` if `x` is even,
//! `2x` if odd), every word verified, the segment removed.
//!
//! `cargo build --release --features solutions --bins --example classic`, then
//! `target/release/examples/classic N W` (defaults: 500000 words, one worker per core).
//! `benches/compare-python.sh` runs it beside `benches/classic.py`, the same job in Python,
//! and both print the same `RESULT` line so the two can be compared.
//!
//! It uses only the kata's public API: `create`, `transform::run`, `transform::transform`.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use shm_kata::{SegmentDir, create, transform, worker};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let words: usize = args
        .next()
        .map_or(500_000, |a| a.parse().expect("N: a word count"));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers: usize = args
        .next()
        .map_or(cores, |a| a.parse().expect("W: a worker count"));
    if !worker::program().is_file() {
        eprintln!(
            "classic: the worker binary {} is missing: build it with \
             `cargo build --release --features solutions --bins` first",
            worker::program().display()
        );
        return ExitCode::FAILURE;
    }
    match classic(words, workers) {
        Ok(times) => {
            let total: Duration = times.iter().sum();
            let [fill, run, verify, remove] = times.map(|t| t.as_secs_f64());
            println!(
                "RESULT rust job words={words} workers={workers} fill_s={fill:.6} \
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

/// Removes the segment's file if the job stops early; after a clean removal it finds
/// nothing to do.
struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
