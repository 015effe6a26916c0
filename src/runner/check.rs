//! Checking exercises: build every exercise's tests once, then run them one by one.
//!
//! Building all test targets in one `cargo test --no-run` lets cargo compile them in
//! parallel, and turns a learner's compile error into one clear message instead of one
//! per exercise.

use super::cargo::{Cargo, Tree};
use super::exercises::{Exercise, Kata};
use super::outcome::{self, Failure, Outcome};
use super::progress::Spinner;

/// Checks every exercise, in order, against `tree`.
pub fn all(kata: &Kata, tree: Tree) -> Vec<Outcome> {
    let spinner = Spinner::start(building_message(kata));
    let cargo = Cargo::new(&kata.root);
    if let Some(error) = build(kata, &cargo, tree, &kata.exercises) {
        return kata.exercises.iter().map(|_| error.clone()).collect();
    }
    kata.exercises
        .iter()
        .map(|exercise| {
            spinner.say(format!("running the tests of {}", exercise.title()));
            test(kata, &cargo, tree, exercise)
        })
        .collect()
}

/// Checks one exercise against `tree`.
pub fn one(kata: &Kata, tree: Tree, exercise: &Exercise) -> Outcome {
    let spinner = Spinner::start(format!("building the tests of {}", exercise.title()));
    let cargo = Cargo::new(&kata.root);
    if let Some(error) = build(kata, &cargo, tree, std::slice::from_ref(exercise)) {
        return error;
    }
    spinner.say(format!("running the tests of {}", exercise.title()));
    test(kata, &cargo, tree, exercise)
}

fn building_message(kata: &Kata) -> String {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| kata.root.join("target"));
    if target.join("debug").is_dir() {
        "building the exercises' tests".to_owned()
    } else {
        "building the exercises' tests (the first build takes a minute or two)".to_owned()
    }
}

/// Builds the tests of `exercises`; `Some(outcome)` if that failed.
fn build(kata: &Kata, cargo: &Cargo, tree: Tree, exercises: &[Exercise]) -> Option<Outcome> {
    let present: Vec<&str> = exercises
        .iter()
        .filter(|e| kata.root.join(e.test_file()).is_file())
        .map(|e| e.test.as_str())
        .collect();
    if present.is_empty() {
        return None;
    }
    let built = cargo.build_tests(tree, present);
    (!built.success).then(|| Outcome::DoesNotCompile {
        message: outcome::first_compile_error(&built.stderr),
    })
}

fn test(kata: &Kata, cargo: &Cargo, tree: Tree, exercise: &Exercise) -> Outcome {
    let test_file = kata.root.join(exercise.test_file());
    let Ok(source) = std::fs::read_to_string(&test_file) else {
        return Outcome::Failing {
            passed: 0,
            failed: 1,
            first: Failure {
                test: String::new(),
                location: None,
                message: format!(
                    "its test file {} is missing",
                    exercise.test_file().display()
                ),
                reached_todo: false,
            },
        };
    };
    let order = |test: &str| source.find(&format!("fn {test}(")).unwrap_or(usize::MAX);
    let mut outcome = outcome::read(&cargo.test(tree, &exercise.test), &order);
    if let Outcome::NotStarted { first, .. } | Outcome::Failing { first, .. } = &mut outcome {
        let file = exercise.test_file().display().to_string();
        point_at_the_test(first, &file, &source);
    }
    outcome
}

/// A property test panics at its `proptest! {` line, which may be far from the test: point
/// at the test's own `fn` instead, so "first: … at" leads the learner to the right place.
fn point_at_the_test(first: &mut Failure, file: &str, source: &str) {
    let Some(location) = &first.location else {
        return;
    };
    let Some(line) = location
        .strip_prefix(file)
        .and_then(|rest| rest.strip_prefix(':'))
        .and_then(|rest| rest.split(':').next())
        .and_then(|line| line.parse::<usize>().ok())
    else {
        return;
    };
    let in_a_macro = source
        .lines()
        .nth(line.saturating_sub(1))
        .is_some_and(|text| text.trim_start().starts_with("proptest!"));
    let wanted = format!("fn {}(", first.test);
    if let (true, Some((index, text))) = (
        in_a_macro,
        source
            .lines()
            .enumerate()
            .find(|(_, text)| text.contains(&wanted)),
    ) {
        let column = text.find("fn ").unwrap_or(0) + 1;
        first.location = Some(format!("{file}:{}:{column}", index + 1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(test: &str, location: &str) -> Failure {
        Failure {
            test: test.to_owned(),
            location: Some(location.to_owned()),
            message: String::new(),
            reached_todo: true,
        }
    }

    const SOURCE: &str = "use x;\nproptest! {\n    #[test]\n    fn grows(len in 1..9) {\n    }\n}\n#[test]\nfn plain() {}\n";

    #[test]
    fn a_property_test_points_at_its_fn_not_at_the_macro() {
        let mut first = failure("grows", "tests/01_create.rs:2:1");
        point_at_the_test(&mut first, "tests/01_create.rs", SOURCE);
        assert_eq!(first.location.as_deref(), Some("tests/01_create.rs:4:5"));
    }

    #[test]
    fn a_panic_elsewhere_keeps_its_location() {
        let mut first = failure("plain", "tests/01_create.rs:8:1");
        point_at_the_test(&mut first, "tests/01_create.rs", SOURCE);
        assert_eq!(first.location.as_deref(), Some("tests/01_create.rs:8:1"));
        let mut first = failure("grows", "exercises/01_create.rs:2:1");
        point_at_the_test(&mut first, "tests/01_create.rs", SOURCE);
        assert_eq!(
            first.location.as_deref(),
            Some("exercises/01_create.rs:2:1")
        );
    }
}
