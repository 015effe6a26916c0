//! `cargo run -- verify`: the kata is sound. For maintainers and CI.
//!
//! A kata can be broken in ways no ordinary test sees: an exercise whose test passes on
//! the untouched stub (it proves nothing; rustlings refuses these too), a solution that
//! does not pass its own tests, a missing hint, a stub without its `// TODO`, a stub that
//! differs from the copy in `stubs/` that `reset` puts back, a test file nobody runs, or a
//! test that leaves a segment in `/dev/shm`. `verify` checks all of
//! them and lists every problem it finds.
//!
//! Leftovers are judged on what *its own* runs made, never on a global listing: on a
//! shared machine other kata runs and other programs come and go in `/tmp` and
//! `/dev/shm` meanwhile, and they are not the kata's fault. So the test runs get a
//! scratch root of their own (a locked directory in `target/tmp`, passed in
//! `SHM_KATA_SCRATCH`, which the tests' scratch directories honour); afterwards it must
//! be empty, and no name in `/dev/shm` may carry its tag.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::ExitCode;

use anstream::println;

use super::cargo::{Cargo, Output, Tree};
use super::exercises::{Exercise, Kata};
use super::outcome::{self, Outcome};
use super::progress::Spinner;
use super::style::{BAD, GOOD, TITLE, paint};
use super::wrong;
use crate::scratch::{self, ScratchDir};

/// Runs every check; exit status 0 only if the kata is sound. `shm` is where leftover
/// segments would show up (`/dev/shm`).
pub fn run(kata: &Kata, shm: &Path) -> ExitCode {
    let mut report = Report::default();
    println!(
        "{}",
        paint(TITLE, format!("verify: {} exercises", kata.exercises.len()))
    );
    static_checks(kata, &mut report);
    let cargo = Cargo::new(&kata.root);
    // What interrupted runs left, then a root of our own for this run's tests.
    let base = cargo.target_dir().join("tmp");
    scratch::sweep(&base);
    let own = match ScratchDir::new(&base) {
        Ok(own) => own,
        Err(e) => {
            let problem = format!("cannot make a scratch root in {}: {e}", base.display());
            report.check(false, String::new(), problem);
            return report.finish();
        }
    };
    let cargo = cargo.with_env(scratch::ROOT_ENV, own.path());
    let spinner = Spinner::quiet();
    // The stubs are judged in a copy of the crate with `stubs/` in place of `exercises/`:
    // what a learner has written is never taken for an untouched stub.
    let target = cargo.target_dir();
    let copy = wrong::Scratch::take(&kata.root, &target)
        .and_then(|copy| copy.install_stubs(kata).map(|()| copy));
    match &copy {
        Ok(copy) => {
            let in_copy = copy.cargo(&target, own.path());
            run_tests(kata, &in_copy, Tree::Exercises, &spinner, &mut report);
        }
        Err(problem) => report.check(
            false,
            String::new(),
            format!("the stubs cannot be checked: {problem}"),
        ),
    }
    run_tests(kata, &cargo, Tree::Solutions, &spinner, &mut report);
    if let Ok(copy) = &copy {
        let in_copy = copy.cargo(&target, own.path());
        for check in wrong::check(kata, &spinner, copy, &in_copy) {
            report.check(check.ok, check.message.clone(), check.message);
        }
    }
    drop(copy);
    drop(spinner);
    leftovers(&own, shm, &mut report);
    report.finish()
}

/// Nothing left by this run's tests: their scratch root is empty, and no name in `shm`
/// carries this run's tag.
fn leftovers(own: &ScratchDir, shm: &Path, report: &mut Report) {
    let name = own.path().file_name().unwrap_or_default();
    let tag = format!("{}-", name.to_string_lossy());
    let mut left: Vec<String> = listing(shm).into_iter().collect();
    left.retain(|name| name.starts_with(&tag));
    let shm = shm.display();
    report.check(
        left.is_empty(),
        format!("nothing left in {shm}"),
        format!("left behind in {shm}: {}", left.join(", ")),
    );
    let left: Vec<String> = listing(own.path()).into_iter().collect();
    let root = own.path().display();
    report.check(
        left.is_empty(),
        "no test directory left behind".to_owned(),
        format!(
            "test directories left behind in {root}: {}",
            left.join(", ")
        ),
    );
}

#[derive(Default)]
struct Report {
    problems: Vec<String>,
}

impl Report {
    fn check(&mut self, ok: bool, good: String, bad: String) {
        if ok {
            println!("  {} {good}", paint(GOOD, "ok  "));
        } else {
            println!("  {} {bad}", paint(BAD, "FAIL"));
            self.problems.push(bad);
        }
    }

    fn finish(self) -> ExitCode {
        if self.problems.is_empty() {
            println!("{}", paint(GOOD, "verify: the kata is sound"));
            return ExitCode::SUCCESS;
        }
        println!(
            "{}",
            paint(BAD, format!("verify: {} problem(s):", self.problems.len()))
        );
        for problem in &self.problems {
            println!("  - {problem}");
        }
        ExitCode::FAILURE
    }
}

/// What can be checked by reading files: hints, TODOs, test files, and test files that
/// no exercise claims.
fn static_checks(kata: &Kata, report: &mut Report) {
    for exercise in &kata.exercises {
        let title = exercise.title();
        let file = exercise.file.display();
        let test_file = exercise.test_file();
        let mut problems = Vec::new();
        let missing: Vec<&str> = [("nudge", 1), ("shape", 2), ("steps", 3)]
            .into_iter()
            .filter(|(_, level)| exercise.hint(*level).is_none_or(|h| h.trim().is_empty()))
            .map(|(key, _)| key)
            .collect();
        if !missing.is_empty() {
            problems.push(format!(
                "no hint {} in exercises/info.toml",
                missing.join(", ")
            ));
        }
        // The stub is judged by its untouched copy, never by what a learner has written.
        let stub = exercise.stub_file();
        match std::fs::read_to_string(kata.root.join(&stub)) {
            Ok(source) if source.contains("// TODO") => {}
            Ok(_) => problems.push(format!(
                "{} has no `// TODO` marking what to change",
                stub.display()
            )),
            Err(_) => {} // `stub_drift` says so
        }
        match std::fs::read_to_string(kata.root.join(&test_file)) {
            Ok(source) => problems.extend(mount_drift(kata, exercise, &source)),
            Err(_) => problems.push(format!("its test file {} is missing", test_file.display())),
        }
        problems.extend(stub_drift(kata, exercise));
        report.check(
            problems.is_empty(),
            format!(
                "{title}: hints at 3 levels, a // TODO in {}, {file} identical to it, and {}",
                exercise.stub_file().display(),
                test_file.display()
            ),
            format!("{title}: {}", problems.join("; ")),
        );
    }
    let claimed: BTreeSet<&str> = kata.exercises.iter().map(|e| e.test.as_str()).collect();
    let unclaimed: Vec<String> = exercise_test_files(kata)
        .into_iter()
        .filter(|test| !claimed.contains(test.as_str()))
        .collect();
    report.check(
        unclaimed.is_empty(),
        "every tests/NN_*.rs belongs to an exercise".to_owned(),
        format!(
            "tests/{{{}}}.rs belong to no exercise in exercises/info.toml",
            unclaimed.join(",")
        ),
    );
}

/// What an exercise builds on is said twice: `builds_on` in `exercises/info.toml` (the
/// runner shows it) and its test file's `shm_kata::exercises!` line (what is compiled).
/// They must agree, and the line must hold the exercise itself. (A test file without such
/// a line mounts its code some other way, and is not judged.)
fn mount_drift(kata: &Kata, exercise: &Exercise, test_source: &str) -> Option<String> {
    if !test_source.contains("shm_kata::exercises!(") {
        return None;
    }
    let mounted = super::remembered::mounted(test_source);
    let mut expected: Vec<String> = exercise
        .builds_on
        .iter()
        .filter_map(|n| kata.exercises.iter().find(|e| e.number == *n))
        .map(|e| e.name.clone())
        .collect();
    expected.push(exercise.name.clone());
    let (mut got, mut want) = (mounted.clone(), expected.clone());
    got.sort();
    want.sort();
    (got != want).then(|| {
        format!(
            "{} mounts [{}], but exercises/info.toml says it builds on [{}] (so it should mount \
             [{}])",
            exercise.test_file().display(),
            mounted.join(", "),
            exercise
                .builds_on
                .iter()
                .map(|n| format!("{n:02}"))
                .collect::<Vec<_>>()
                .join(", "),
            expected.join(", ")
        )
    })
}

/// `reset` puts back `stubs/NN_topic.rs`: it must be the exercise's stub byte for byte,
/// or a learner who resets gets an older (or newer) exercise than the kata's.
fn stub_drift(kata: &Kata, exercise: &Exercise) -> Option<String> {
    let stub = exercise.stub_file();
    let file = exercise.file.display();
    match std::fs::read(kata.root.join(&stub)) {
        Err(e) => Some(format!(
            "cannot read its untouched copy {} ({e}), which `reset` puts back: cp {file} {}",
            stub.display(),
            stub.display()
        )),
        Ok(text) if std::fs::read(kata.root.join(&exercise.file)).ok().as_ref() != Some(&text) => {
            Some(format!(
                "{file} differs from its untouched copy {}, which `reset` puts back (after changing the stub: cp {file} {})",
                stub.display(),
                stub.display()
            ))
        }
        Ok(_) => None,
    }
}

/// `tests/NN_*.rs`, as test target names.
fn exercise_test_files(kata: &Kata) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(kata.root.join("tests")) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter_map(|name| name.strip_suffix(".rs").map(str::to_owned))
        .filter(|name| {
            let bytes = name.as_bytes();
            bytes.len() > 3 && bytes[..2].iter().all(u8::is_ascii_digit) && bytes[2] == b'_'
        })
        .collect();
    names.sort();
    names
}

/// On the stubs every test must fail; on the solutions every test must pass.
fn run_tests(kata: &Kata, cargo: &Cargo, tree: Tree, spinner: &Spinner, report: &mut Report) {
    let on = match tree {
        Tree::Exercises => "the stubs",
        Tree::Solutions => "the solutions",
    };
    let present: Vec<&Exercise> = kata
        .exercises
        .iter()
        .filter(|e| kata.root.join(e.test_file()).is_file())
        .collect();
    spinner.say(format!("verify: building the tests on {on}"));
    let built = cargo.build_tests(tree, present.iter().map(|e| e.test.as_str()));
    if !built.success {
        report.check(
            false,
            String::new(),
            format!(
                "the crate does not compile on {on}: {}",
                super::check::compile_errors(kata, &built)
                    .into_values()
                    .next()
                    .unwrap_or_else(|| outcome::first_compile_error(&built.stderr))
            ),
        );
        return;
    }
    for (step, exercise) in present.iter().enumerate() {
        spinner.say(format!(
            "verify: [{}/{}] {} on {on}",
            step + 1,
            present.len(),
            exercise.title()
        ));
        let output = cargo.test(tree, &exercise.test);
        match tree {
            Tree::Exercises => stubs_fail(exercise, &output, report),
            Tree::Solutions => solution_passes(exercise, &output, report),
        }
    }
}

fn stubs_fail(exercise: &Exercise, output: &Output, report: &mut Report) {
    let title = exercise.title();
    let passing = passing_tests(&output.stdout);
    let outcome = outcome::read(output, &|_| 0);
    let failed = match outcome {
        Outcome::NotStarted { failed, .. } | Outcome::Failing { failed, .. } => failed,
        _ => 0,
    };
    let problem = if !passing.is_empty() {
        format!(
            "{title}: passes on the untouched stub (a test that passes on `todo!()` proves nothing): {}",
            passing.join(", ")
        )
    } else if failed == 0 {
        format!("{title}: has no test that fails on the stub")
    } else if output.timed_out || outcome::result_counts(&output.stdout).is_none() {
        format!(
            "{title}: the tests did not run to their end on the stub (a crash or a timeout), so not every test is proven to fail"
        )
    } else if !matches!(outcome, Outcome::NotStarted { .. }) {
        let why = outcome.failure().map(|f| f.message.as_str()).unwrap_or("");
        format!(
            "{title}: fails on the stub for a reason other than its `todo!()`: {}",
            first_line(why)
        )
    } else {
        String::new()
    };
    report.check(
        problem.is_empty(),
        format!("{title}: all {failed} tests fail on the stub"),
        problem,
    );
}

fn solution_passes(exercise: &Exercise, output: &Output, report: &mut Report) {
    let title = exercise.title();
    let outcome = outcome::read(output, &|_| 0);
    let problem = match &outcome {
        Outcome::Done { .. } => String::new(),
        other => {
            let (test, message) = other
                .failure()
                .map(|f| (f.test.as_str(), f.message.as_str()))
                .unwrap_or(("", ""));
            format!(
                "{title}: fails on the solution: {test}: {}",
                first_line(message)
            )
        }
    };
    let passed = match outcome {
        Outcome::Done { passed } => passed,
        _ => 0,
    };
    report.check(
        problem.is_empty(),
        format!("{title}: all {passed} tests pass on the solution"),
        problem,
    );
}

/// The first line of a failure message, at most [`FIRST_LINE_CHARS`] characters of it (a
/// test may panic with a whole buffer on one line).
fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or_default();
    let mut shown: String = line.chars().take(FIRST_LINE_CHARS).collect();
    if shown.len() < line.len() {
        shown.push('…');
    }
    shown
}

const FIRST_LINE_CHARS: usize = 300;

/// `test some_property ... ok` → `some_property`.
fn passing_tests(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|line| line.strip_prefix("test ")?.strip_suffix(" ... ok"))
        .map(str::to_owned)
        .collect()
}

fn listing(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An exercise's test file is `tests/NN_topic.rs`; `facts.rs`, `common/`, `03_.rs`
    /// (no topic) and `0x_bad.rs` are not.
    #[test]
    fn exercise_test_files_are_the_numbered_ones() {
        let root = tempfile::tempdir().unwrap();
        let tests = root.path().join("tests");
        std::fs::create_dir_all(tests.join("common")).unwrap();
        for file in [
            "02_attach.rs",
            "01_create.rs",
            "facts.rs",
            "03_.rs",
            "0x_bad.rs",
        ] {
            std::fs::write(tests.join(file), "").unwrap();
        }
        let kata = Kata {
            root: root.path().to_owned(),
            exercises: Vec::new(),
        };
        assert_eq!(exercise_test_files(&kata), ["01_create", "02_attach"]);
    }

    #[test]
    fn passing_tests_are_read_from_libtests_lines() {
        let stdout = "running 3 tests\ntest a ... ok\ntest b ... FAILED\ntest c::d ... ok\n";
        assert_eq!(passing_tests(stdout), ["a", "c::d"]);
    }

    #[test]
    fn a_huge_failure_line_is_cut_to_a_readable_length() {
        let message = format!("{}\nsecond", "x".repeat(2_000_000));
        let shown = first_line(&message);
        assert_eq!(shown.chars().count(), FIRST_LINE_CHARS + 1);
        assert!(shown.ends_with('…'));
        assert_eq!(first_line("short\nsecond"), "short");
    }
}
