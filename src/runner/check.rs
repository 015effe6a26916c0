//! Checking exercises: build every exercise's tests once, then run them one by one.
//!
//! Each exercise's test target holds only the exercises it names in its
//! `shm_kata::exercises!(…)` line, and they are built in one `cargo build --keep-going`:
//! cargo compiles them in parallel, and an exercise that does not compile stops only the
//! targets that hold it. Its first error, read from cargo's JSON messages, is that
//! exercise's state; every other exercise keeps its own.
//!
//! An exercise whose files have not changed since its last run keeps the result it had
//! ([`super::remembered`]), so the overview answers at once however far the learner is.

use std::collections::BTreeMap;

use super::cargo::{Cargo, Output, Tree};
use super::exercises::{Exercise, Kata};
use super::outcome::{self, Failure, Outcome};
use super::progress::Spinner;
use super::remembered::Remembered;

/// Checks every exercise, in order, against `tree`; with `fresh`, forgets every
/// remembered result first.
pub fn all(kata: &Kata, tree: Tree, fresh: bool) -> Vec<Outcome> {
    let mut remembered = Remembered::load(kata, tree, fresh);
    let stale: Vec<Exercise> = kata
        .exercises
        .iter()
        .filter(|e| remembered.get(e).is_none())
        .cloned()
        .collect();
    if !stale.is_empty() {
        let spinner = Spinner::start(building_message(kata));
        let cargo = Cargo::new(&kata.root);
        let mut errors = build(kata, &cargo, tree, &stale);
        for exercise in &stale {
            let outcome = match errors.remove(&exercise.test) {
                Some(error) => error,
                None => {
                    spinner.say(format!("running the tests of {}", exercise.title()));
                    test(kata, &cargo, tree, exercise)
                }
            };
            remembered.set(exercise, outcome);
        }
        drop(spinner);
        remembered.save();
    }
    kata.exercises
        .iter()
        .map(|e| {
            remembered
                .get(e)
                .cloned()
                .expect("every exercise was checked")
        })
        .collect()
}

/// Checks one exercise against `tree` (always afresh: `watch` runs it after a save).
pub fn one(kata: &Kata, tree: Tree, exercise: &Exercise) -> Outcome {
    let spinner = Spinner::start(format!("building the tests of {}", exercise.title()));
    let cargo = Cargo::new(&kata.root);
    let outcome =
        match build(kata, &cargo, tree, std::slice::from_ref(exercise)).remove(&exercise.test) {
            Some(error) => error,
            None => {
                spinner.say(format!("running the tests of {}", exercise.title()));
                test(kata, &cargo, tree, exercise)
            }
        };
    let mut remembered = Remembered::load(kata, tree, false);
    remembered.set(exercise, outcome.clone());
    remembered.save();
    outcome
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

/// Builds the tests of `exercises`: the ones that do not compile, with their outcome.
fn build(
    kata: &Kata,
    cargo: &Cargo,
    tree: Tree,
    exercises: &[Exercise],
) -> BTreeMap<String, Outcome> {
    let present: Vec<&Exercise> = exercises
        .iter()
        .filter(|e| kata.root.join(e.test_file()).is_file())
        .collect();
    if present.is_empty() {
        return BTreeMap::new();
    }
    let built = cargo.build_tests(tree, present.iter().map(|e| e.test.as_str()));
    if built.success {
        return BTreeMap::new();
    }
    let errors = compile_errors(kata, &built);
    present
        .iter()
        .map(|exercise| {
            let message = match errors.get(exercise.test.as_str()) {
                Some(message) => in_which_exercise(kata, exercise, message),
                // Not its own target: something every target needs (the kit, Cargo.toml).
                None => errors
                    .get("")
                    .cloned()
                    .unwrap_or_else(|| outcome::first_compile_error(&built.stderr)),
            };
            (exercise.test.clone(), Outcome::DoesNotCompile { message })
        })
        .filter(|(test, _)| errors.contains_key(test.as_str()) || errors.contains_key(""))
        .collect()
}

/// The first compile error of each test target that failed, `file:line:column: error:
/// message`, from a `--message-format short` build; a failure outside the test targets
/// (the kit, a build script) under `""`.
///
/// cargo names each target that failed (`could not compile `shm-kata` (test "05_lock")`),
/// but not which target an error line came from: a target's error is the first one in a
/// file it is built from (its test file, the shared helpers, the exercises its
/// `shm_kata::exercises!` line names).
pub fn compile_errors(kata: &Kata, built: &Output) -> BTreeMap<String, String> {
    let lines: Vec<(String, &str)> = built
        .stderr
        .lines()
        .filter(|line| line.contains(": error") && !line.starts_with("error: could not compile"))
        .map(|line| (tidy_path(line), line))
        .collect();
    let mut errors = BTreeMap::new();
    for failed in built.stderr.lines().filter_map(failed_target) {
        let (name, files) = match failed {
            Failed::Test(name) => {
                let source =
                    std::fs::read_to_string(kata.root.join("tests").join(format!("{name}.rs")))
                        .unwrap_or_default();
                let mut files = vec![format!("tests/{name}.rs:"), "tests/common/".to_owned()];
                for mounted in super::remembered::mounted(&source) {
                    if let Some(e) = kata.exercises.iter().find(|e| e.name == mounted) {
                        files.push(format!("{}:", e.file.display()));
                        files.push(format!("{}:", e.solution_file().display()));
                    }
                }
                (name, files)
            }
            Failed::Other => (String::new(), Vec::new()),
        };
        let first = lines
            .iter()
            .find(|(line, _)| files.is_empty() || files.iter().any(|f| line.starts_with(f)))
            .map(|(line, _)| line.clone())
            .unwrap_or_else(|| outcome::first_compile_error(&built.stderr));
        errors.entry(name).or_insert_with(|| explained(first));
    }
    if errors.is_empty() {
        errors.insert(String::new(), outcome::first_compile_error(&built.stderr));
    }
    errors
}

/// rustc places an unclosed delimiter at the end of the file, far from the `{` that was
/// never closed: say where to look.
fn explained(error: String) -> String {
    if error.contains("unclosed delimiter") {
        format!(
            "{error} (the end of the file: the `{{`, `(` or `[` that is never closed is further \
             up, where the indentation stops making sense)"
        )
    } else {
        error
    }
}

enum Failed {
    Test(String),
    Other,
}

/// `error: could not compile `shm-kata` (test "05_lock") due to 1 previous error` → the
/// test target that failed.
fn failed_target(line: &str) -> Option<Failed> {
    let rest = line.strip_prefix("error: could not compile `")?;
    Some(match rest.split_once("(test \"") {
        Some((_, name)) => Failed::Test(name.split('"').next().unwrap_or_default().to_owned()),
        None => Failed::Other,
    })
}

/// `tests/../exercises/05_lock.rs` → `exercises/05_lock.rs`: the path as the learner
/// opens it.
fn tidy_path(path: &str) -> String {
    for prefix in ["tests/../", "examples/../", "benches/../"] {
        if let Some(rest) = path.strip_prefix(prefix) {
            return rest.to_owned();
        }
    }
    path.to_owned()
}

/// An error in another exercise's file says so first: 04 does not compile because 02,
/// which it builds on, does not.
fn in_which_exercise(kata: &Kata, exercise: &Exercise, message: &str) -> String {
    let other = kata.exercises.iter().find(|other| {
        other.test != exercise.test && message.starts_with(&format!("{}:", other.file.display()))
    });
    match other {
        Some(other) => format!(
            "(in {}, which {} builds on) {message}",
            other.title(),
            exercise.title()
        ),
        None => message.to_owned(),
    }
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
    use std::path::Path;

    use super::*;

    fn failure(test: &str, location: &str) -> Failure {
        Failure {
            test: test.to_owned(),
            location: Some(location.to_owned()),
            message: String::new(),
            reached_todo: true,
        }
    }

    /// A `--keep-going` build where 03 and 05 do not compile: each failed target gets the
    /// first error in a file it is built from, so 04 (which holds 03) gets 03's error and
    /// 05 its own, although 05's came first.
    #[test]
    fn each_failed_target_gets_the_first_error_of_its_own_files() {
        let kata = Kata::load(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        let stderr = "\
tests/../exercises/05_lock.rs:94:14: error: mismatched closing delimiter: `)`
tests/../exercises/03_partition.rs:22:18: error[E0308]: mismatched types
error: could not compile `shm-kata` (test \"05_lock\") due to 1 previous error
error: could not compile `shm-kata` (test \"03_partition\") due to 1 previous error
error: could not compile `shm-kata` (test \"04_transform\") due to 1 previous error
";
        let built = Output {
            success: false,
            stdout: String::new(),
            stderr: stderr.to_owned(),
            timed_out: false,
        };
        let errors = compile_errors(&kata, &built);
        let three = "exercises/03_partition.rs:22:18: error[E0308]: mismatched types";
        assert_eq!(errors.get("03_partition").map(String::as_str), Some(three));
        assert_eq!(errors.get("04_transform").map(String::as_str), Some(three));
        assert!(errors["05_lock"].starts_with("exercises/05_lock.rs:94:14:"));
        assert_eq!(errors.len(), 3, "{errors:?}");
        let four = kata.find("4").unwrap();
        assert!(
            in_which_exercise(&kata, four, three)
                .starts_with("(in 03 partition, which 04 transform builds on)"),
        );
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
