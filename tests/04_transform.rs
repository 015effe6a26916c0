//! Exercise 04 · transform. Open `exercises/04_transform.rs`; hint: `cargo run -- hint 4`.
//! (These tests use your `create`, `attach` and `partition` from 01–03.)

// The exercises these tests use: yours, or the answers with `--features solutions`.
shm_kata::exercises!(create, attach, partition, transform);

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::create::create;
use crate::partition::partition;
use crate::transform::{run, transform, transform_range};
use common::{
    Finished, Scratch, cases, expected_transform, process_cases, run_bounded,
    use_this_builds_worker, wait_bounded,
};
use proptest::prelude::*;
use shm_kata::job::{BARRIER_ENV, FAULT_ENV, Job, TRACE_ENV};
use shm_kata::{Error, Segment, SegmentDir};

const LIMIT: Duration = Duration::from_secs(120);

/// A segment of `words` words holding `0, 1, 2, …`.
fn counting_segment(dir: &SegmentDir, name: &str, words: usize) -> Segment {
    let segment = create(dir, name, words * 4).expect("create (exercise 01) should succeed");
    let counting: Vec<u32> = (0..words as u32).collect();
    segment.write_words(0, &counting).unwrap();
    segment
}

/// The first word that is not the transform of its index, if any.
fn first_wrong_word(words: &[u32]) -> Option<(usize, u32)> {
    words
        .iter()
        .enumerate()
        .map(|(i, &w)| (i, w))
        .find(|&(i, w)| w != expected_transform(i as u32))
}

/// For a message about the words in a segment: whether the learner's `transform` itself
/// is wrong, which makes every other check fail too and is the thing to fix first.
fn transform_note() -> String {
    match (0..8u32).find(|&x| transform(x) != expected_transform(x)) {
        Some(x) => format!(
            " (your transform itself is wrong: transform({x}) gives {}, expected {}; fix \
             transform first, see transform_matches_the_formula_for_every_word)",
            transform(x),
            expected_transform(x)
        ),
        None => String::new(),
    }
}

/// What a wrong `transform(x)` most likely got wrong, for the message.
fn what_went_wrong(x: u32, got: u32) -> &'static str {
    if got == expected_transform(x) ^ 1 {
        "the + 1 belongs to even x (x % 2 == 0), odd x get no + 1"
    } else {
        "2x + 1 for even x, 2x for odd x"
    }
}

proptest! {
    #![proptest_config(cases(10_000))]

    /// `transform(x)` is `2x + 1` for even `x` and `2x` for odd `x`, for every `x` whose
    /// `2x + 1` fits in a `u32` (the words above are the next test's).
    #[test]
    fn transform_matches_the_formula_for_every_word(x in 0..1u32 << 31) {
        let got = transform(x);
        prop_assert_eq!(got, expected_transform(x),
            "transform({}) should be {}, got {}: {}", x, expected_transform(x), got,
            what_went_wrong(x, got));
    }
}

/// Words of 2^31 and more overflow `2x`: the result wraps instead of panicking. Checked
/// on fixed values spread over the upper half, so an overflow panic is reported once
/// (a property would repeat it at every shrinking step).
#[test]
fn transform_wraps_instead_of_overflowing() {
    let edges = [
        (1 << 31, 1),
        ((1 << 31) + 1, 2),
        (u32::MAX - 1, u32::MAX - 2),
        (u32::MAX, u32::MAX - 1),
    ];
    let spread = (0..64u32).map(|i| {
        let x = (1 << 31) + i * 0x0201_0407;
        (x, expected_transform(x))
    });
    for (x, want) in edges.into_iter().chain(spread) {
        let got = match std::panic::catch_unwind(|| transform(x)) {
            Ok(got) => got,
            Err(payload) => {
                let message = payload
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| payload.downcast_ref::<&str>().copied())
                    .unwrap_or_default();
                if !message.contains("overflow") {
                    std::panic::resume_unwind(payload);
                }
                panic!(
                    "transform({x}) panicked with \"{message}\": 2x does not fit in a u32 for \
                     x ≥ 2^31, and debug builds check. The article's numpy wraps: use \
                     wrapping_mul / wrapping_add"
                );
            }
        };
        // Off by the + 1 alone: the parity is wrong, not the wrapping.
        let advice = if got == want ^ 1 {
            what_went_wrong(x, got)
        } else {
            "use wrapping_mul / wrapping_add"
        };
        assert_eq!(
            got, want,
            "transform({x}) should be {want} (2x + 1 or 2x modulo 2^32): {advice}"
        );
    }
}

proptest! {
    #![proptest_config(cases(32))]

    /// A worker's function changes exactly the words of its range and no other.
    #[test]
    fn transform_range_changes_only_its_range(words in 1usize..10_000, a in any::<prop::sample::Index>(), b in any::<prop::sample::Index>()) {
        let scratch = Scratch::new();
        let segment = counting_segment(&scratch.dir, "ranged", words);
        let (x, y) = (a.index(words + 1), b.index(words + 1));
        let range = x.min(y)..x.max(y);
        transform_range(&scratch.dir, "ranged", range.clone()).expect("transform_range inside the segment should succeed");
        for (i, w) in segment.read_words().into_iter().enumerate() {
            let want = if range.contains(&i) { expected_transform(i as u32) } else { i as u32 };
            let why = if range.contains(&i) && transform(i as u32) != want {
                "it is inside the range, but your transform itself gives the wrong value: \
                 fix transform first (transform_matches_the_formula_for_every_word)"
            } else if range.contains(&i) {
                "it is inside the range: transform it"
            } else {
                "it is outside the range and must stay as it was: another worker owns it"
            };
            prop_assert_eq!(w, want, "word {} after transform_range({:?}) should be {}: {}", i, range, want, why);
        }
        drop(segment);
        scratch.remove("ranged");
        scratch.finish();
    }
}

proptest! {
    #![proptest_config(process_cases(16))]

    /// `run` with any number of workers leaves exactly `transform` of the initial data in
    /// every word: nothing skipped, nothing transformed twice.
    #[test]
    fn run_transforms_every_word_exactly_once(words in 1usize..200_000, workers in 1usize..=8) {
        use_this_builds_worker();
        let scratch = Scratch::new();
        let segment = counting_segment(&scratch.dir, "buffer", words);
        run(&scratch.dir, "buffer", workers).expect("run should succeed");
        if let Some((i, w)) = first_wrong_word(&segment.read_words()) {
            let hint = if transform(i as u32) != expected_transform(i as u32) {
                    "your transform itself is wrong for it: fix transform first \
                     (transform_matches_the_formula_for_every_word)"
                }
                else if w == i as u32 { "never transformed" }
                else if w == expected_transform(expected_transform(i as u32)) { "transformed twice: ranges overlap" }
                else { "wrong" };
            prop_assert!(false, "{} words, {} workers: word {} is {} ({}), expected {}",
                words, workers, i, w, hint, expected_transform(i as u32));
        }
        drop(segment);
        scratch.remove("buffer");
        scratch.finish();
    }
}

/// Calls `run` over a fresh counting segment of `words` words, inside a process of its own
/// started with the extra environment `env` (which its workers inherit, while this test
/// process's environment stays untouched). Returns what that process did, and the words.
fn run_in_its_own_process(
    words: usize,
    workers: usize,
    env: &[(&str, String)],
) -> (Finished, Vec<u32>) {
    use_this_builds_worker();
    let scratch = Scratch::new();
    let segment = counting_segment(&scratch.dir, "buffer", words);
    let job = Job::Run {
        dir: scratch.dir.path().to_owned(),
        name: "buffer".into(),
        workers,
    };
    let mut command = job.command();
    command.envs(env.iter().map(|(k, v)| (k, v)));
    let finished = run_bounded(command, LIMIT, "run");
    let after = segment.read_words();
    drop(segment);
    scratch.remove("buffer");
    scratch.finish();
    (finished, after)
}

/// Each range is handled by its own worker process, not by the parent.
#[test]
fn run_gives_each_range_to_its_own_process() {
    let trace = Scratch::new();
    let (words, workers) = (10_000, 4);
    let env = [(TRACE_ENV, trace.dir.path().display().to_string())];
    let (finished, after) = run_in_its_own_process(words, workers, &env);
    assert!(
        finished.status.success(),
        "run failed:\n{}",
        finished.stderr
    );
    let mut ranges = Vec::new();
    let mut pids = BTreeSet::new();
    for file in trace.names() {
        let (range, pid) = file.split_once('.').unwrap();
        let (start, end) = range.split_once('-').unwrap();
        ranges.push(start.parse::<usize>().unwrap()..end.parse::<usize>().unwrap());
        pids.insert(pid.to_owned());
    }
    ranges.sort_by_key(|r| r.start);
    assert_eq!(
        ranges,
        partition(words, workers),
        "each range from partition() should be given to one Job::transform: did you actually start a worker per range?"
    );
    assert_eq!(
        pids.len(),
        workers,
        "{workers} ranges should be handled by {workers} different processes, got pids {pids:?}"
    );
    assert_eq!(
        first_wrong_word(&after),
        None,
        "every word should be transformed{}",
        transform_note()
    );
}

/// The workers run at the same time, not one after the other: each one waits until all
/// of them have started.
#[test]
fn workers_run_at_the_same_time() {
    let trace = Scratch::new();
    let workers = 4;
    let env = [
        (TRACE_ENV, trace.dir.path().display().to_string()),
        (BARRIER_ENV, workers.to_string()),
    ];
    let (finished, _) = run_in_its_own_process(10_000, workers, &env);
    let why = if finished.stderr.contains("workers ever ran at once") {
        "each worker waits up to 10 s for all of them to be running, and some never saw the \
         others: start every worker first, then wait for them (worker::run_all does both)"
    } else {
        "and not because workers ran one after the other: fix what it says first"
    };
    assert!(
        finished.status.success(),
        "run with {workers} workers failed, {why}. run said:\n{}",
        finished.stderr
    );
}

/// Runs `run` in a fresh process whose worker for the second range is made to fail with
/// `fault` (`kill` or `exit`), and returns what that process printed, and the likely cause
/// when that worker is called worker 0 (for the message: the range is right, the index is
/// not).
fn run_with_a_faulty_second_worker(fault: &str) -> (String, &'static str) {
    let (words, workers) = (4_000, 4);
    let second = partition(words, workers)[1].clone();
    let numbered_alone = format!("worker 0 (transform words {second:?} ");
    let second = second.start;
    let env = [(FAULT_ENV, format!("{fault}@{second}"))];
    let (finished, _) = run_in_its_own_process(words, workers, &env);
    let what = match fault {
        "kill" => "was killed with SIGKILL",
        _ => "exited with code 3",
    };
    assert!(
        !finished.status.success(),
        "worker 1 {what} before doing its range, yet run reported success: a failed worker \
         must make run fail. Check every worker's exit status (worker::run_all does), and \
         don't transform in the parent"
    );
    let cause = if finished.stderr.contains(&numbered_alone) {
        "\nThat worker's range is right but it is called worker 0: start all workers with one \
         run_all call. One call per worker numbers each from 0, and waits for it before \
         starting the next"
    } else {
        ""
    };
    (finished.stderr, cause)
}

/// A worker killed by a signal makes `run` fail with an error naming that worker.
#[test]
fn a_killed_worker_makes_run_fail_and_names_it() {
    let (stderr, cause) = run_with_a_faulty_second_worker("kill");
    assert!(
        stderr.contains("worker 1") && stderr.contains("SIGKILL"),
        "the error should name worker 1 and SIGKILL, run printed:\n{stderr}{cause}"
    );
}

/// A worker that exits with an error makes `run` fail with an error naming that worker.
#[test]
fn a_failing_worker_makes_run_fail_and_names_it() {
    let (stderr, cause) = run_with_a_faulty_second_worker("exit");
    assert!(
        stderr.contains("worker 1") && stderr.contains("exited with code 3"),
        "the error should name worker 1 and its exit code 3, run printed:\n{stderr}{cause}"
    );
}

/// A range past the end of the segment is a typed error, never a panic or a SIGBUS.
#[test]
fn transform_range_past_the_end_is_too_small() {
    let scratch = Scratch::new();
    let segment = counting_segment(&scratch.dir, "short", 10);
    let dir = scratch.dir.clone();
    let result = std::panic::catch_unwind(move || transform_range(&dir, "short", 5..11))
        .unwrap_or_else(|payload| {
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or_default();
            if !message.contains("out of range for slice") {
                std::panic::resume_unwind(payload);
            }
            panic!(
                "transform_range(5..11) of a 10-word segment panicked (the panic is above): \
                 slicing the words yourself (&mut words_mut()[range]) panics past the end. \
                 Take them with segment.words_range_mut(range)?, which returns \
                 Error::TooSmall instead"
            )
        });
    assert!(
        matches!(result, Err(Error::TooSmall { .. })),
        "words 5..11 of a 10-word segment must be Error::TooSmall, got {result:?}"
    );
    assert!(
        segment
            .read_words()
            .into_iter()
            .enumerate()
            .all(|(i, w)| w == i as u32),
        "a refused range must leave every word unchanged"
    );
    drop(segment);
    scratch.remove("short");
    scratch.finish();
}

/// Zero workers is a typed error.
#[test]
fn run_with_zero_workers_is_an_error() {
    let scratch = Scratch::new();
    let segment = counting_segment(&scratch.dir, "idle", 10);
    let result = run(&scratch.dir, "idle", 0);
    assert!(
        matches!(result, Err(Error::NoWorkers { .. })),
        "run with 0 workers must be Error::NoWorkers, got {result:?}"
    );
    drop(segment);
    scratch.remove("idle");
    scratch.finish();
}

/// Running over a segment nobody created is `NotFound`.
#[test]
fn run_on_a_missing_segment_is_not_found() {
    let scratch = Scratch::new();
    let result = run(&scratch.dir, "nowhere", 2);
    assert!(
        matches!(result, Err(Error::NotFound { .. })),
        "run on a missing segment must be Error::NotFound, got {result:?}"
    );
    scratch.finish();
}

// ----- Python interop: the article's `multiprocessing.shared_memory`, in /dev/shm -----

/// Set to 1 to skip the Python interop tests on a machine without Python 3.8+.
const SKIP_PYTHON_ENV: &str = "SHM_KATA_SKIP_PYTHON";

/// The Python peer script, or `None` when the interop tests are skipped on purpose.
fn python() -> Option<Command> {
    if std::env::var_os(SKIP_PYTHON_ENV).is_some_and(|v| v == "1") {
        eprintln!("skipped: {SKIP_PYTHON_ENV}=1");
        return None;
    }
    let found = Command::new("python3")
        .args(["-c", "import multiprocessing.shared_memory"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "these tests share a segment with Python's multiprocessing.shared_memory, but no \
         python3 (3.8 or newer) was found: install it, or set {SKIP_PYTHON_ENV}=1 to skip them"
    );
    let mut command = Command::new("python3");
    command.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/common/shm_peer.py"
    ));
    Some(command)
}

/// A segment made by Python's `SharedMemory(create=True)` is attached by name and
/// transformed by Rust worker processes, and Python sees the result.
#[test]
fn a_python_segment_is_transformed_by_rust_workers() {
    use_this_builds_worker();
    let Some(mut python) = python() else { return };
    let name = common::SystemName::new("py");
    let words = 100_000;
    let mut peer = python
        .args(["create", &name.name, &words.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start python3");
    let stdout = peer.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(LIMIT).unwrap_or_default();
    if line.trim() != "ready" {
        let _ = peer.kill();
        let _ = peer.wait();
        panic!("the Python side could not create its segment (its message is above)");
    }
    name.record();
    // From here on, closing Python's stdin (also by a panic) lets it check, unlink and exit.
    let result = run(&SegmentDir::system(), &name.name, 2);
    peer.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let status = wait_bounded(&mut peer, LIMIT, "the Python creator");
    result.expect("run over Python's segment should succeed");
    assert!(
        status.success(),
        "Python did not see every word transformed (its message is above){}",
        transform_note()
    );
    assert!(
        !SegmentDir::system().join(&name.name).exists(),
        "Python, the creator, should have unlinked its segment"
    );
}

/// A segment made by `create` in /dev/shm is attached by Python's `SharedMemory(name=…)`:
/// Python sees Rust's workers' result, and Rust sees what Python writes back.
#[test]
fn python_attaches_to_a_rust_segment_and_both_see_each_others_writes() {
    use_this_builds_worker();
    let Some(mut python) = python() else { return };
    let name = common::SystemName::new("rs");
    let words = 100_000;
    let segment = counting_segment(&SegmentDir::system(), &name.name, words);
    name.record();
    run(&SegmentDir::system(), &name.name, 2).expect("run should succeed");
    python.args(["check", &name.name, &words.to_string()]);
    let checker = run_bounded(python, LIMIT, "the Python attacher");
    eprint!("{}", checker.stderr);
    let status = checker.status;
    assert!(
        status.success(),
        "Python did not see every word transformed (its message is above){}",
        transform_note()
    );
    assert!(
        segment
            .read_words()
            .into_iter()
            .enumerate()
            .all(|(i, w)| w == i as u32),
        "Python wrote 0..n back, but this process's mapping does not show it"
    );
    drop(segment);
    std::fs::remove_file(SegmentDir::system().join(&name.name))
        .expect("the segment should still exist: Python must not unlink it");
}
