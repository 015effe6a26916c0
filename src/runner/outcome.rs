//! What one exercise's `cargo test` run means for the learner: done, failing, or not
//! started, and the one failure worth reading first, trimmed to its message.
//!
//! libtest prints every panic of a failed test (a proptest prints one per shrinking step),
//! with the thread name, its id and a note about backtraces around each. What matters is
//! the last panic of a test, which for a proptest is its summary (`Test failed: …;
//! minimal failing input: …`), and where it happened.

use super::cargo::Output;

/// The `todo!()` panic: a stub the learner has not touched.
pub const TODO_PANIC: &str = "not yet implemented";

/// The state of one exercise.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Outcome {
    /// Every test passes.
    Done { passed: usize },
    /// Every failure is a `todo!()`: the stub is untouched (or its first function is).
    NotStarted { failed: usize, first: Failure },
    /// Some test fails for a real reason, or some pass and some do not.
    Failing {
        passed: usize,
        failed: usize,
        first: Failure,
    },
    /// The crate does not compile; `message` is the first error.
    DoesNotCompile { message: String },
}

impl Outcome {
    pub fn is_done(&self) -> bool {
        matches!(self, Outcome::Done { .. })
    }

    /// The failure to show, if any.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            Outcome::NotStarted { first, .. } | Outcome::Failing { first, .. } => Some(first),
            _ => None,
        }
    }

    /// How many of its tests pass, and how many it has; `None` if they did not run.
    pub fn counts(&self) -> Option<(usize, usize)> {
        match *self {
            Outcome::Done { passed } => Some((passed, passed)),
            Outcome::NotStarted { failed, .. } => Some((0, failed)),
            Outcome::Failing { passed, failed, .. } => Some((passed, passed + failed)),
            Outcome::DoesNotCompile { .. } => None,
        }
    }

    /// `done`, `failing`, `not started`, …
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Done { .. } => "done",
            Outcome::NotStarted { .. } => "not started",
            Outcome::Failing { .. } => "failing",
            Outcome::DoesNotCompile { .. } => "does not compile",
        }
    }
}

/// One failed test, trimmed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Failure {
    /// The test function's name.
    pub test: String,
    /// Where it panicked: `exercises/03_partition.rs:20:5`.
    pub location: Option<String>,
    /// The panic message (with a proptest's minimal input), or what else was printed.
    pub message: String,
    /// Whether the test reached a `todo!()` on the way: in this process, or in a worker
    /// process whose output the test printed.
    pub reached_todo: bool,
}

impl Failure {
    pub fn is_todo(&self) -> bool {
        self.reached_todo || self.message.contains(TODO_PANIC)
    }
}

/// Reads a `cargo test --test …` run. `order` ranks tests by name (their order in the
/// test file, which is the order they teach in); the first failing test by that order
/// is the one reported.
pub fn read(output: &Output, order: &dyn Fn(&str) -> usize) -> Outcome {
    let counts = result_counts(&output.stdout);
    let mut failures = failures(&output.stdout);
    failures.sort_by_key(|f| (order(&f.test), f.test.clone()));
    let (passed, failed) = counts.unwrap_or((0, failures.len()));
    if output.success && counts.is_some() && failed == 0 {
        return Outcome::Done { passed };
    }
    let first = match failures.first() {
        Some(first) => first.clone(),
        None => Failure {
            test: String::new(),
            location: None,
            message: no_result_reason(output),
            reached_todo: false,
        },
    };
    // A worker's output is part of the test that started it (the kit passes a worker's
    // stderr on through the test's own `eprint!`, which libtest captures per test), so a
    // stub reached only from a worker shows in its test's section like any other.
    if passed == 0 && !failures.is_empty() && failures.iter().all(Failure::is_todo) {
        Outcome::NotStarted { failed, first }
    } else {
        Outcome::Failing {
            passed,
            failed: failed.max(1),
            first,
        }
    }
}

/// The first compiler error of a `--message-format short` build.
pub fn first_compile_error(stderr: &str) -> String {
    stderr
        .lines()
        .find(|line| {
            (line.starts_with("error") || line.contains(": error"))
                && !line.starts_with("error: could not compile")
        })
        .unwrap_or("the build failed (run `cargo build` to see why)")
        .trim()
        .to_owned()
}

/// `test result: FAILED. 2 passed; 3 failed; …` → (2, 3), from the last such line.
pub fn result_counts(stdout: &str) -> Option<(usize, usize)> {
    let line = stdout
        .lines()
        .rev()
        .find(|line| line.starts_with("test result:"))?;
    let count = |word: &str| -> Option<usize> {
        line.split(';').find_map(|part| {
            part.trim()
                .strip_suffix(word)?
                .trim()
                .rsplit(' ')
                .next()?
                .parse()
                .ok()
        })
    };
    Some((count(" passed")?, count(" failed")?))
}

/// Every `---- NAME stdout ----` section, reduced to its last panic.
fn failures(stdout: &str) -> Vec<Failure> {
    let mut sections: Vec<(String, Vec<&str>)> = Vec::new();
    for line in stdout.lines() {
        if let Some(name) = line
            .strip_prefix("---- ")
            .and_then(|rest| rest.strip_suffix(" stdout ----"))
        {
            sections.push((name.to_owned(), Vec::new()));
        } else if line == "failures:" {
            // The closing list of names, after the sections.
            if sections.is_empty() {
                continue;
            }
            break;
        } else if let Some((_, lines)) = sections.last_mut() {
            lines.push(line);
        }
    }
    sections
        .into_iter()
        .map(|(test, lines)| last_panic(test, &lines))
        .collect()
}

/// The last `thread '…' panicked at LOCATION:` in a section, with its message, and the
/// last `todo!()` a worker of this test reached, if the message does not say so already.
fn last_panic(test: String, lines: &[&str]) -> Failure {
    let mut failure = last_panic_only(test, lines);
    // The last one: a proptest's shrinking runs the minimal input last.
    let todo = lines.iter().rev().find(|line| line.contains(TODO_PANIC));
    if let (false, Some(todo)) = (failure.message.contains(TODO_PANIC), todo) {
        failure.message = format!("{}\n(in a worker process) {}", failure.message, todo.trim());
    }
    failure
}

fn last_panic_only(test: String, lines: &[&str]) -> Failure {
    let reached_todo = lines.iter().any(|line| line.contains(TODO_PANIC));
    let start = lines
        .iter()
        .rposition(|line| panic_location(line).is_some());
    let Some(start) = start else {
        let message = lines.join("\n").trim().to_owned();
        return Failure {
            test,
            location: None,
            message,
            reached_todo,
        };
    };
    let location = panic_location(lines[start]).map(tidy_location);
    let message: Vec<&str> = lines[start + 1..]
        .iter()
        .take_while(|line| !line.starts_with("note: run with `RUST_BACKTRACE"))
        .filter(|line| !is_proptest_noise(line))
        .copied()
        .collect();
    Failure {
        test,
        location,
        message: message.join("\n").trim().to_owned(),
        reached_todo,
    }
}

/// `thread 'name' (1234) panicked at src/../exercises/x.rs:1:2:` → the location.
fn panic_location(line: &str) -> Option<&str> {
    if !line.starts_with("thread '") {
        return None;
    }
    let (_, rest) = line.split_once(" panicked at ")?;
    rest.strip_suffix(':')
}

/// `src/../exercises/01_create.rs:54:5` → `exercises/01_create.rs:54:5`.
fn tidy_location(location: &str) -> String {
    // Exercises are mounted by `#[path]` from tests/, examples/ or benches/.
    ["src/../", "tests/../", "examples/../", "benches/../"]
        .iter()
        .fold(location.to_owned(), |location, prefix| {
            location.replace(prefix, "")
        })
}

fn is_proptest_noise(line: &str) -> bool {
    let line = line.trim_start();
    line.starts_with("successes: ")
        || line.starts_with("local rejects: ")
        || line.starts_with("global rejects: ")
        || line.starts_with("proptest: ")
}

/// A run with no failure section: a crash (SIGBUS, a stack overflow), a timeout, or a
/// build error. Cargo's `Caused by:` says which.
fn no_result_reason(output: &Output) -> String {
    if output.timed_out {
        return format!(
            "the tests did not finish within {} s and were stopped (an endless loop, or a process that never exits?)",
            super::cargo::test_timeout().as_secs()
        );
    }
    let lines: Vec<&str> = output.stderr.lines().collect();
    if let Some(at) = lines.iter().position(|line| line.trim() == "Caused by:") {
        return lines[at + 1..]
            .iter()
            .map(|line| line.trim())
            .filter(|line| !line.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
    }
    let tail: Vec<&str> = lines.iter().rev().take(6).rev().copied().collect();
    tail.join("\n").trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(success: bool, stdout: &str) -> Output {
        Output {
            success,
            stdout: stdout.to_owned(),
            stderr: String::new(),
            timed_out: false,
        }
    }

    fn in_order(test: &str) -> usize {
        ["first_property", "second_property"]
            .iter()
            .position(|t| *t == test)
            .unwrap_or(usize::MAX)
    }

    const STUB: &str = "
running 2 tests
second_property --- FAILED
first_property --- FAILED

failures:

---- second_property stdout ----

thread 'second_property' (16041) panicked at src/../exercises/01_create.rs:54:5:
not yet implemented: 01 create: create segment \"b\" of 8 bytes in /tmp/x
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace

---- first_property stdout ----

thread 'first_property' (16043) panicked at src/../exercises/01_create.rs:54:5:
not yet implemented: 01 create: create segment \"a\" of 16 bytes in /tmp/y


failures:
    first_property
    second_property

test result: FAILED. 0 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s
";

    const PROPTEST: &str = "
running 2 tests
first_property --- FAILED
..
failures:

---- first_property stdout ----

thread 'first_property' (16180) panicked at src/../exercises/04_transform.rs:41:5:
wrong at 7

thread 'first_property' (16180) panicked at tests/04_transform.rs:38:1:
Test failed: transform(0) should be 1
left: 0
right: 1.
minimal failing input: x = 0
\tsuccesses: 0
\tlocal rejects: 0
\tglobal rejects: 0


failures:
    first_property

test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.43s
";

    const WORKER_STUB: &str = "
running 1 test
first_property --- FAILED

failures:

---- first_property stdout ----

thread 'first_property' (22271) panicked at tests/06_cleanup.rs:181:5:
the worker should have created its segment and then panicked; it printed:
thread 'main' (22272) panicked at src/../exercises/06_cleanup.rs:86:9:
not yet implemented: 06 cleanup: create an owned segment \"doomed\" of 64 bytes in /tmp/z
thread 'first_property' (22271) panicked at tests/common/mod.rs:203:9:
the worker did not get ready


failures:
    first_property

test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s
";

    const WORKER_FAILED: &str = "
running 1 test
first_property --- FAILED

failures:

---- first_property stdout ----

thread 'first_property' (22271) panicked at tests/05_lock.rs:68:5:
worker 0 (count 10 times in \"counter\") panicked (exit code 101; its message is above)


failures:
    first_property

test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s
";

    /// What libtest shows for a test whose worker reached a `todo!()`: the worker's
    /// panic (passed on by the kit), then the test's own.
    const WORKER_TODO: &str = "
running 2 tests
first_property --- FAILED
second_property --- FAILED

failures:

---- first_property stdout ----
thread 'main' (22272) panicked at src/../exercises/05_lock.rs:1:1:
not yet implemented: 05 lock: add 1 to \"counter\" 1 times under the lock
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace

thread 'first_property' (22271) panicked at tests/05_lock.rs:68:5:
worker 0 (count 1 times in \"counter\") panicked (exit code 101; its message is above)

---- second_property stdout ----
thread 'main' (22275) panicked at src/../exercises/05_lock.rs:9:1:
not yet implemented: 05 lock: add 459 times, atomically

thread 'second_property' (22274) panicked at tests/05_lock.rs:90:5:
worker 0 (count 459 times in \"counter\") panicked (exit code 101; its message is above)


failures:
    first_property
    second_property

test result: FAILED. 0 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s
";

    #[test]
    fn a_todo_reached_only_in_a_worker_process_is_not_started_and_shown() {
        let outcome = read(&output(false, WORKER_TODO), &in_order);
        let Outcome::NotStarted { first, .. } = outcome else {
            panic!("a todo!() in a worker's output means not started, got {outcome:?}");
        };
        assert!(
            first.message.contains(
                "(in a worker process) not yet implemented: 05 lock: add 1 to \"counter\" 1 times"
            ),
            "the worker's todo should be shown: {}",
            first.message
        );
    }

    #[test]
    fn the_worker_todo_shown_is_the_one_of_the_test_shown() {
        let mut out = output(false, WORKER_TODO);
        // Whatever else reached the run's stderr (a worker of another test) is not quoted.
        out.stderr = "not yet implemented: 05 lock: add 459 times, atomically\n".to_owned();
        let outcome = read(&out, &in_order);
        let first = outcome.failure().expect("a failure");
        assert_eq!(first.test, "first_property");
        assert!(
            !first.message.contains("459"),
            "another test's worker must not be quoted: {}",
            first.message
        );
    }

    #[test]
    fn the_worker_todo_shown_is_the_one_of_the_minimal_input() {
        // A proptest runs its first case, then shrinks: the last worker output belongs to
        // the minimal input that the summary names.
        let first_case = "not yet implemented: 05 lock: add 1 to \"counter\" 413 times\n";
        let stdout = WORKER_TODO.replacen(
            "---- first_property stdout ----\n",
            &format!("---- first_property stdout ----\n{first_case}"),
            1,
        );
        let outcome = read(&output(false, &stdout), &in_order);
        let first = outcome.failure().expect("a failure");
        assert!(
            first.message.contains("1 times") && !first.message.contains("413"),
            "{}",
            first.message
        );
    }

    #[test]
    fn a_failure_of_a_test_without_a_todo_is_failing_whatever_stderr_says() {
        let mut out = output(false, WORKER_FAILED);
        out.stderr = "thread 'main' panicked at src/../exercises/05_lock.rs:1:1:\nnot yet implemented: 05 lock: lock\n".to_owned();
        let outcome = read(&out, &in_order);
        assert!(
            matches!(outcome, Outcome::Failing { .. }),
            "a todo!() of some other test's worker says nothing about this one: {outcome:?}"
        );
    }

    #[test]
    fn a_test_whose_worker_process_reached_a_todo_is_not_started() {
        let outcome = read(&output(false, WORKER_STUB), &in_order);
        assert!(
            matches!(outcome, Outcome::NotStarted { failed: 1, .. }),
            "a todo!() reached in a worker process, printed by the test, means not started: {outcome:?}"
        );
    }

    #[test]
    fn a_stub_that_still_panics_with_todo_is_not_started() {
        let outcome = read(&output(false, STUB), &in_order);
        let Outcome::NotStarted { failed, first } = outcome else {
            panic!("expected not started, got {outcome:?}");
        };
        assert_eq!(failed, 2);
        assert_eq!(
            first.test, "first_property",
            "the first test of the file comes first"
        );
        assert_eq!(
            first.location.as_deref(),
            Some("exercises/01_create.rs:54:5")
        );
        assert_eq!(
            first.message,
            "not yet implemented: 01 create: create segment \"a\" of 16 bytes in /tmp/y"
        );
    }

    #[test]
    fn a_proptest_failure_is_its_summary_without_the_counters() {
        let outcome = read(&output(false, PROPTEST), &in_order);
        let Outcome::Failing {
            passed,
            failed,
            first,
        } = outcome
        else {
            panic!("expected failing, got {outcome:?}");
        };
        assert_eq!((passed, failed), (1, 1));
        assert_eq!(
            first.location.as_deref(),
            Some("tests/04_transform.rs:38:1")
        );
        assert_eq!(
            first.message,
            "Test failed: transform(0) should be 1\nleft: 0\nright: 1.\nminimal failing input: x = 0"
        );
    }

    #[test]
    fn all_passing_is_done() {
        let stdout = "running 3 tests\n...\ntest result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s\n";
        assert_eq!(
            read(&output(true, stdout), &in_order),
            Outcome::Done { passed: 3 }
        );
    }

    #[test]
    fn a_crash_without_a_result_is_failing_with_cargos_reason() {
        let crashed = Output {
            success: false,
            stdout: "running 2 tests\n".into(),
            stderr: "error: test failed, to rerun pass `--test 02_attach`\n\nCaused by:\n  process didn't exit successfully: `/t/02_attach-1` (signal: 7, SIGBUS: access to undefined address)\n".into(),
            timed_out: false,
        };
        let outcome = read(&crashed, &in_order);
        let first = outcome.failure().expect("a crash is a failure");
        assert!(matches!(outcome, Outcome::Failing { .. }), "{outcome:?}");
        assert!(first.message.contains("SIGBUS"), "{}", first.message);
    }

    #[test]
    fn the_first_compile_error_skips_cargos_summary() {
        let stderr = "warning: unused variable: `x`\nerror: could not compile `shm-kata` (lib) due to 1 previous error\nexercises/01_create.rs:50:5: error[E0425]: cannot find value `y` in this scope\n";
        assert_eq!(
            first_compile_error(stderr),
            "exercises/01_create.rs:50:5: error[E0425]: cannot find value `y` in this scope"
        );
    }
}
