//! `verify`'s corpus of wrong answers: every exercise's tests must catch the mistakes its
//! header warns about, and the test named after the rule must be the one that fails.
//!
//! `wrong-answers/NN_topic.toml` lists the plausible mistakes of exercise `NN_topic`, each
//! as a named edit of its reference answer, `solutions/NN_topic.rs`:
//!
//! ```toml
//! [[wrong]]
//! name = "remainder-dropped"
//! mistake = "every range gets len / parts words and the remainder is forgotten"
//! caught_by = "nine_words_over_four_workers_keep_all_four_busy"
//! edits = [
//!     { replace = "base + usize::from(i < extra)", with = "base" },
//! ]
//! ```
//!
//! Each `replace` must be found exactly once in the solution (an edit whose text is not
//! there, or is there twice, is stale: the solution changed under it, and it is refused by
//! name, never applied somewhere else). For each mistake, the crate is tested with the
//! edited solution in place of its own (`cargo test --features solutions --test
//! NN_topic`), and `caught_by`, a test of `tests/NN_topic.rs`, must be among the tests
//! that failed. Mistakes no test can observe are explained in
//! `wrong-answers/NN_topic/UNCATCHABLE.md` instead.
//!
//! The learner's tree is never touched: the crate is copied *once* into a scratch
//! directory under `target/tmp`, which this run holds with a `flock` (a second `verify`
//! is told to wait its turn; one left by a run that died holds no lock, and is emptied
//! and reused). Its builds go to a target directory of their own under `target/`, kept
//! between runs so they are incremental, and never overwrite the learner's worker
//! binary. The same copy, with the untouched stubs of `stubs/` in place of `exercises/`,
//! is where `verify` shows that every test fails on the stubs, whatever the learner has
//! written meanwhile. The scratch copy is removed at the end, and on Ctrl-C.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

use nix::fcntl::{Flock, FlockArg};
use serde::Deserialize;

use super::cargo::{Cargo, Output, Tree};
use super::exercises::Kata;
use super::interrupt;
use super::progress::Spinner;

/// Where the corpus lives, relative to the kata's root.
pub const DIR: &str = "wrong-answers";

/// How many lines of a wrong answer's output a report shows when it was not caught.
const SHOWN_LINES: usize = 12;

/// One line of `verify`'s report: what was found, good or bad.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub ok: bool,
    pub message: String,
}

impl Check {
    fn good(message: String) -> Check {
        Check { ok: true, message }
    }

    fn bad(message: String) -> Check {
        Check { ok: false, message }
    }
}

/// `wrong-answers/NN_topic.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CorpusFile {
    #[serde(default)]
    wrong: Vec<Mistake>,
}

/// One mistake, as its file says it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Mistake {
    /// Short, unique in its file: how reports name it.
    name: String,
    /// The mistake, in one sentence.
    mistake: String,
    /// The test of `tests/NN_topic.rs` that must fail on it.
    caught_by: String,
    edits: Vec<Edit>,
}

/// Replace `replace`, found exactly once in the solution, by `with`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Edit {
    replace: String,
    with: String,
}

/// One wrong answer, its edits applied and checked statically.
#[derive(Debug, Clone)]
struct WrongAnswer {
    /// `NN_topic`: the test target, and the solution's file stem.
    exercise: String,
    name: String,
    caught_by: String,
    /// The whole edited solution.
    source: String,
}

impl WrongAnswer {
    /// `NN_topic/name`, as reports say it.
    fn label(&self) -> String {
        format!("{}/{}", self.exercise, self.name)
    }
}

/// Checks the corpus: statically, then each wrong answer against its exercise's tests in
/// `scratch`, whose test directories go under `scratch_root` (verify's own, which it
/// checks empty afterwards).
pub fn check(kata: &Kata, spinner: &Spinner, scratch: &Scratch, cargo: &Cargo) -> Vec<Check> {
    let (answers, mut checks) = read_corpus(kata);
    if answers.is_empty() {
        return checks;
    }
    let started = Instant::now();
    let mut caught = 0;
    for exercise in kata.exercises.iter().map(|e| &e.test) {
        let mine: Vec<&WrongAnswer> = answers.iter().filter(|a| &a.exercise == exercise).collect();
        if mine.is_empty() {
            continue;
        }
        let mut missed = Vec::new();
        for (step, answer) in mine.iter().enumerate() {
            spinner.say(format!(
                "verify: wrong answers of {exercise} [{}/{}] {}",
                step + 1,
                mine.len(),
                answer.name
            ));
            match scratch.try_answer(cargo, answer) {
                Ok(()) => caught += 1,
                Err(why) => missed.push(why),
            }
        }
        let n = mine.len();
        if missed.is_empty() {
            checks.push(Check::good(format!(
                "{exercise}: {n} of {n} wrong answers caught, each by its named test"
            )));
        } else {
            checks.push(Check::bad(format!(
                "{exercise}: {} of {n} wrong answers caught by their named test; not caught:\n{}",
                n - missed.len(),
                missed.join("\n")
            )));
        }
    }
    let total = answers.len();
    let seconds = started.elapsed().as_secs();
    let summary = format!("wrong answers: {caught} of {total} caught (in {seconds} s)");
    checks.push(if caught == total {
        Check::good(summary)
    } else {
        Check::bad(summary)
    });
    checks
}

/// The wrong answers that pass the static checks, and a check line for every problem.
fn read_corpus(kata: &Kata) -> (Vec<WrongAnswer>, Vec<Check>) {
    let mut answers = Vec::new();
    let mut problems = Vec::new();
    let corpus = kata.root.join(DIR);
    let entries = match std::fs::read_dir(&corpus) {
        Ok(entries) => entries,
        Err(e) => {
            let problem = format!(
                "wrong answers: cannot read the corpus {} ({e}): without it nothing shows that \
                 the tests catch the mistakes the headers warn about",
                corpus.display()
            );
            return (answers, vec![Check::bad(problem)]);
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
    paths.sort();
    for path in paths {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let shown = Path::new(DIR).join(&name);
        let exercise = name.strip_suffix(".toml").unwrap_or(&name);
        if !kata.exercises.iter().any(|e| e.test == exercise) {
            problems.push(format!(
                "{}: no exercise in exercises/info.toml has the test {exercise:?}",
                shown.display()
            ));
            continue;
        }
        if path.is_dir() {
            // `NN_topic/UNCATCHABLE.md`: read by people, not by verify.
            continue;
        }
        if !name.ends_with(".toml") {
            problems.push(format!(
                "{}: only NN_topic.toml files and NN_topic/UNCATCHABLE.md belong here",
                shown.display()
            ));
            continue;
        }
        match read_exercise(kata, exercise, &path) {
            Ok((mut mine, stale)) => {
                answers.append(&mut mine);
                problems.extend(stale);
            }
            Err(problem) => problems.push(format!("{}: {problem}", shown.display())),
        }
    }
    let checks = if problems.is_empty() {
        vec![Check::good(format!(
            "wrong answers: {} mistakes, each an edit that applies to its solution and names its test",
            answers.len()
        ))]
    } else {
        problems.into_iter().map(Check::bad).collect()
    };
    (answers, checks)
}

/// The wrong answers of one exercise's file, and what is wrong with any of them (a stale
/// edit, a test that does not exist); `Err` when the file itself cannot be used.
fn read_exercise(
    kata: &Kata,
    exercise: &str,
    path: &Path,
) -> Result<(Vec<WrongAnswer>, Vec<String>), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read it: {e}"))?;
    let file: CorpusFile = toml::from_str(&text).map_err(|e| format!("cannot parse it: {e}"))?;
    let solution_file = format!("solutions/{exercise}.rs");
    let solution = std::fs::read_to_string(kata.root.join(&solution_file))
        .map_err(|e| format!("cannot read {solution_file}, which its edits change: {e}"))?;
    let test_file = format!("tests/{exercise}.rs");
    let tests = std::fs::read_to_string(kata.root.join(&test_file))
        .map_err(|e| format!("cannot read {test_file}, whose tests must catch them: {e}"))?;
    let mut answers = Vec::new();
    let mut problems = Vec::new();
    let mut names = BTreeSet::new();
    for mistake in file.wrong {
        let label = format!("{exercise}/{}", mistake.name);
        let problem = if mistake.name.trim().is_empty() {
            Some("a mistake with no name".to_owned())
        } else if !names.insert(mistake.name.clone()) {
            Some("two mistakes have this name".to_owned())
        } else if mistake.mistake.trim().is_empty() {
            Some("it does not say what the mistake is (`mistake = \"…\"`)".to_owned())
        } else if !defines_test(&tests, &mistake.caught_by) {
            Some(format!(
                "caught_by = {:?} is no test of {test_file}",
                mistake.caught_by
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            problems.push(format!("{DIR}/{exercise}.toml: {label}: {problem}"));
            continue;
        }
        match apply(&solution, &mistake.edits) {
            Ok(source) => answers.push(WrongAnswer {
                exercise: exercise.to_owned(),
                name: mistake.name,
                caught_by: mistake.caught_by,
                source,
            }),
            Err(EditError::Stale { edit, found }) => problems.push(format!(
                "stale: {label}: {solution_file} changed here (the text of its edit {} is \
                 found {found} times, not once: {:?})",
                edit + 1,
                first_line(&mistake.edits[edit].replace)
            )),
            Err(EditError::Overlap) => problems.push(format!(
                "{DIR}/{exercise}.toml: {label}: two of its edits replace the same text"
            )),
            Err(EditError::Nothing) => problems.push(format!(
                "{DIR}/{exercise}.toml: {label}: its edits leave the solution as it was: it has \
                 no mistake"
            )),
        }
    }
    Ok((answers, problems))
}

/// Whether `tests` (a test file's text) defines a function `name`, as `#[test]` and
/// `proptest!` write them.
fn defines_test(tests: &str, name: &str) -> bool {
    !name.is_empty()
        && name.chars().all(|c| c.is_alphanumeric() || c == '_')
        && tests.contains(&format!("fn {name}("))
}

/// Why a mistake's edits cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
enum EditError {
    /// Edit number `edit` (from 0) found `found` times, not once.
    Stale { edit: usize, found: usize },
    /// Two edits replace overlapping text.
    Overlap,
    /// The edits change nothing (or there are none).
    Nothing,
}

/// `solution` with every edit applied; each edit's text must be found exactly once.
fn apply(solution: &str, edits: &[Edit]) -> Result<String, EditError> {
    let mut spans = Vec::new();
    for (n, edit) in edits.iter().enumerate() {
        let found = if edit.replace.is_empty() {
            0
        } else {
            solution.matches(edit.replace.as_str()).count()
        };
        let start = match solution.find(edit.replace.as_str()) {
            Some(start) if found == 1 => start,
            _ => return Err(EditError::Stale { edit: n, found }),
        };
        spans.push((start, start + edit.replace.len(), edit.with.as_str()));
    }
    spans.sort_unstable_by_key(|&(start, _, _)| start);
    let mut edited = String::with_capacity(solution.len());
    let mut at = 0;
    for (start, end, with) in spans {
        if start < at {
            return Err(EditError::Overlap);
        }
        edited.push_str(&solution[at..start]);
        edited.push_str(with);
        at = end;
    }
    edited.push_str(&solution[at..]);
    if edited == solution {
        return Err(EditError::Nothing);
    }
    Ok(edited)
}

fn first_line(text: &str) -> &str {
    text.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .trim()
}

/// The scratch copy of the crate, held with a `flock` on its directory for as long as
/// this value lives; removed when dropped.
pub struct Scratch {
    dir: PathBuf,
    crate_dir: PathBuf,
    _held: Flock<File>,
}

impl Scratch {
    /// Takes `target/tmp/shm-kata-wrong-answers` and copies the crate at `root` into it.
    pub fn take(root: &Path, target: &Path) -> Result<Scratch, String> {
        let dir = target.join("tmp").join("shm-kata-wrong-answers");
        // The lock is on the directory itself. A run that died held it until the kernel
        // closed its descriptors, so a directory nobody holds is stale: empty it and reuse
        // it. A run that removes the directory while we wait to lock it leaves us holding
        // a directory with no name: check the name still names it, and start over if not.
        let held = loop {
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
            let file =
                File::open(&dir).map_err(|e| format!("cannot open {}: {e}", dir.display()))?;
            let held = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(held) => held,
                Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
                    return Err(format!(
                        "another verify is checking them now (it holds {}): wait for it to end",
                        dir.display()
                    ));
                }
                Err((_, errno)) => return Err(format!("cannot lock {}: {errno}", dir.display())),
            };
            if crate::liveness::names_same_file(&held, &dir).unwrap_or(false) {
                break held;
            }
        };
        interrupt::watch_dir(dir.clone());
        let crate_dir = dir.join("crate");
        let scratch = Scratch {
            dir,
            crate_dir,
            _held: held,
        };
        if scratch.crate_dir.exists() {
            std::fs::remove_dir_all(&scratch.crate_dir)
                .map_err(|e| format!("cannot empty a stale {}: {e}", scratch.dir.display()))?;
        }
        copy_crate(root, &scratch.crate_dir)
            .map_err(|e| format!("cannot copy the crate into {}: {e}", scratch.dir.display()))?;
        Ok(scratch)
    }

    /// `cargo` in the copy, building in `target/wrong-answers` (never over the learner's
    /// build), its tests making their directories under `scratch_root`.
    pub fn cargo(&self, target: &Path, scratch_root: &Path) -> Cargo {
        Cargo::new(&self.crate_dir)
            .with_target_dir(&target.join(DIR))
            .with_env(crate::scratch::ROOT_ENV, scratch_root)
    }

    /// Puts the untouched stubs (`stubs/NN_topic.rs`) in place of the copy's exercises,
    /// so that what is judged as "the stub" is never what a learner wrote.
    pub fn install_stubs(&self, kata: &Kata) -> Result<(), String> {
        for exercise in &kata.exercises {
            let stub = kata.root.join(exercise.stub_file());
            let into = self.crate_dir.join(&exercise.file);
            std::fs::copy(&stub, &into).map_err(|e| {
                format!(
                    "cannot put {} in place of {} in the scratch copy: {e}",
                    exercise.stub_file().display(),
                    exercise.file.display()
                )
            })?;
        }
        Ok(())
    }

    /// Swaps `answer` in for its solution, runs its exercise's tests, and puts the
    /// solution back. `Err` says why it was not caught, with the first lines of output.
    fn try_answer(&self, cargo: &Cargo, answer: &WrongAnswer) -> Result<(), String> {
        let label = answer.label();
        let solution = self
            .crate_dir
            .join("solutions")
            .join(format!("{}.rs", answer.exercise));
        let original = std::fs::read(&solution).map_err(|e| format!("  {label}: {e}"))?;
        std::fs::write(&solution, &answer.source).map_err(|e| format!("  {label}: {e}"))?;
        let output = cargo.test(Tree::Solutions, &answer.exercise);
        let restored = std::fs::write(&solution, original);
        let verdict = judge(&output, &answer.caught_by);
        restored.map_err(|e| format!("  cannot restore solutions/{}.rs: {e}", answer.exercise))?;
        verdict.map_err(|why| {
            let shown: Vec<String> = first_lines(&output)
                .into_iter()
                .map(|l| format!("      {l}"))
                .collect();
            format!("  {label}: {why}; its output begins:\n{}", shown.join("\n"))
        })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Removed while still locked; the lock goes with the descriptor right after.
        let _ = std::fs::remove_dir_all(&self.dir);
        interrupt::forget_dir(&self.dir);
    }
}

/// Caught: `caught_by` is among the tests that failed, and the run was not cut short.
fn judge(output: &Output, caught_by: &str) -> Result<(), String> {
    let failed = failed_tests(&output.stdout);
    let named = failed
        .iter()
        .any(|test| test == caught_by || test.ends_with(&format!("::{caught_by}")));
    if output.timed_out {
        return Err(format!(
            "its tests ran out of time ({} failed before)",
            if named { caught_by } else { "not it" }
        ));
    }
    if named {
        return Ok(());
    }
    if failed.is_empty() {
        return Err(if output.success {
            "every test passes".to_owned()
        } else if output.stdout.contains("test result:") {
            "no test failed, yet the run did (a crash?)".to_owned()
        } else {
            "no test ran (does it compile?)".to_owned()
        });
    }
    Err(format!(
        "{caught_by} passed; what failed was {}",
        failed.into_iter().collect::<Vec<_>>().join(", ")
    ))
}

/// The tests libtest reported as failed: its `test NAME ... FAILED` lines, and the list
/// after its last `failures:` line (which survives output interleaved with a test's own).
fn failed_tests(stdout: &str) -> BTreeSet<String> {
    let mut failed: BTreeSet<String> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("test ")?.strip_suffix(" ... FAILED"))
        .map(str::to_owned)
        .collect();
    if let Some((_, list)) = stdout.rsplit_once("\nfailures:\n") {
        failed.extend(
            list.lines()
                .skip_while(|l| l.trim().is_empty())
                .take_while(|l| l.starts_with("    ") && !l.trim().is_empty())
                .map(|l| l.trim().to_owned()),
        );
    }
    failed
}

/// The start of what matters in a run: the first failure's section, or the compiler's
/// first error.
fn first_lines(output: &Output) -> Vec<String> {
    let from_failures = output
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("---- "))
        .filter(|l| {
            !l.trim().is_empty()
                && !l.trim_start().starts_with(char::is_numeric)
                && !l.trim_start().starts_with("at ")
        });
    let mut lines: Vec<String> = from_failures.take(SHOWN_LINES).map(str::to_owned).collect();
    if lines.is_empty() {
        lines = output
            .stderr
            .lines()
            .skip_while(|l| !l.starts_with("error"))
            .take(SHOWN_LINES)
            .map(str::to_owned)
            .collect();
    }
    if lines.is_empty() {
        lines = output
            .stdout
            .lines()
            .take(SHOWN_LINES)
            .map(str::to_owned)
            .collect();
    }
    lines
}

/// Copies what building and testing the crate needs: the manifest and lock file, `src`,
/// `tests`, `exercises`, `solutions`, a build script if there is one, and the files of
/// the targets `Cargo.toml` names (benches, examples), without which it does not parse.
fn copy_crate(root: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for file in ["Cargo.toml", "Cargo.lock", "build.rs"] {
        if root.join(file).is_file() {
            std::fs::copy(root.join(file), to.join(file))?;
        }
    }
    for dir in ["src", "tests", "exercises", "solutions", ".cargo"] {
        if root.join(dir).is_dir() {
            copy_dir(&root.join(dir), &to.join(dir))?;
        }
    }
    for target in named_target_files(root) {
        if let Some(parent) = to.join(&target).parent() {
            std::fs::create_dir_all(parent)?;
        }
        if root.join(&target).is_file() {
            std::fs::copy(root.join(&target), to.join(&target))?;
        }
    }
    Ok(())
}

/// The bench and example files `Cargo.toml` declares (`path`, or cargo's default
/// `benches/<name>.rs` / `examples/<name>.rs`).
fn named_target_files(root: &Path) -> Vec<PathBuf> {
    let Ok(text) = std::fs::read_to_string(root.join("Cargo.toml")) else {
        return Vec::new();
    };
    let Ok(manifest) = text.parse::<toml::Table>() else {
        return Vec::new();
    };
    let mut files = Vec::new();
    for (kind, default_dir) in [("bench", "benches"), ("example", "examples")] {
        let Some(targets) = manifest.get(kind).and_then(|t| t.as_array()) else {
            continue;
        };
        for target in targets {
            let path = target
                .get("path")
                .and_then(|p| p.as_str())
                .map(PathBuf::from);
            let name = target.get("name").and_then(|n| n.as_str());
            if let Some(path) =
                path.or_else(|| name.map(|n| Path::new(default_dir).join(format!("{n}.rs"))))
            {
                files.push(path);
            }
        }
    }
    files
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::{self, ScratchDir};

    fn output(stdout: &str) -> Output {
        Output {
            success: false,
            stdout: stdout.to_owned(),
            stderr: String::new(),
            timed_out: false,
        }
    }

    /// A crate small enough to copy: a manifest and a source file, in a scratch directory
    /// of the test's own (`target/tmp`: an interrupted run's is swept by the next).
    fn tiny_crate() -> ScratchDir {
        let root = scratch::for_unit_test();
        std::fs::write(root.path().join("Cargo.toml"), "[package]\nname = \"x\"\n").unwrap();
        std::fs::create_dir(root.path().join("src")).unwrap();
        std::fs::write(root.path().join("src/lib.rs"), "").unwrap();
        root
    }

    #[test]
    fn the_scratch_copy_is_held_by_one_run_and_removed_after_it() {
        let root = tiny_crate();
        let target = root.path().join("target");
        let first = Scratch::take(root.path(), &target).expect("a free scratch dir");
        assert!(
            first.crate_dir.join("src/lib.rs").is_file(),
            "the crate is copied"
        );
        let second = Scratch::take(root.path(), &target).map(|_| ());
        assert!(
            second.as_ref().is_err_and(|e| e.contains("another verify")),
            "a second run must not share the copy: {second:?}"
        );
        let dir = first.dir.clone();
        drop(first);
        assert!(!dir.exists(), "the scratch dir is removed at the end");
    }

    #[test]
    fn a_dead_runs_scratch_copy_is_emptied_and_reused() {
        let root = tiny_crate();
        let target = root.path().join("target");
        let stale = target.join("tmp/shm-kata-wrong-answers/crate/src");
        std::fs::create_dir_all(&stale).unwrap();
        std::fs::write(stale.join("left-by-a-dead-run.rs"), "").unwrap();
        let scratch = Scratch::take(root.path(), &target).expect("nobody holds a stale copy");
        assert!(
            !stale.join("left-by-a-dead-run.rs").exists(),
            "the stale copy is emptied"
        );
        assert!(
            scratch.crate_dir.join("src/lib.rs").is_file(),
            "and the crate copied anew"
        );
    }

    #[test]
    fn a_wrong_answer_is_caught_only_by_its_named_test_failing() {
        let failed =
            "test a ... ok\ntest b ... FAILED\n\nfailures:\n    b\n\ntest result: FAILED\n";
        assert_eq!(judge(&output(failed), "b"), Ok(()));
        let other = judge(&output(failed), "a").unwrap_err();
        assert!(
            other.contains("a passed") && other.contains("was b"),
            "{other}"
        );
        // A phrase anywhere in the output is not a failure of that test.
        let passed = "test b ... ok\nb ... FAILED, said a test\n";
        assert!(judge(&output(passed), "b").is_err());
        let mut late = output(failed);
        late.timed_out = true;
        assert!(judge(&late, "b").is_err(), "a run cut short proves nothing");
    }

    #[test]
    fn failed_tests_are_read_from_both_of_libtests_reports() {
        // A test's own output may break its `... FAILED` line; the list at the end holds.
        let stdout = "test m::a ... some output of a worker\nFAILED\ntest b ... FAILED\n\n\
                      failures:\n\n---- m::a stdout ----\npanicked\n\nfailures:\n    m::a\n    \
                      b\n\ntest result: FAILED. 0 passed; 2 failed\n";
        let failed: Vec<String> = failed_tests(stdout).into_iter().collect();
        assert_eq!(failed, ["b", "m::a"]);
        assert_eq!(judge(&output(stdout), "a"), Ok(()), "a test in a module");
    }

    fn edit(replace: &str, with: &str) -> Edit {
        Edit {
            replace: replace.to_owned(),
            with: with.to_owned(),
        }
    }

    #[test]
    fn edits_apply_only_where_their_text_is_found_once() {
        let solution = "let a = 1;\nlet b = 2;\nlet c = 2;\n";
        assert_eq!(
            apply(solution, &[edit("a = 1", "a = 0"), edit("b = 2", "b = 3")]),
            Ok("let a = 0;\nlet b = 3;\nlet c = 2;\n".to_owned())
        );
        assert_eq!(
            apply(solution, &[edit("= 2", "= 3")]),
            Err(EditError::Stale { edit: 0, found: 2 }),
            "twice is ambiguous"
        );
        assert_eq!(
            apply(solution, &[edit("a = 1", "a = 0"), edit("d = 4", "d = 5")]),
            Err(EditError::Stale { edit: 1, found: 0 }),
            "a text no longer there is stale"
        );
        assert_eq!(
            apply(solution, &[edit("", "x")]),
            Err(EditError::Stale { edit: 0, found: 0 })
        );
        assert_eq!(
            apply(solution, &[edit("a = 1;", "x"), edit("1;\nlet b", "y")]),
            Err(EditError::Overlap)
        );
        assert_eq!(
            apply(solution, &[edit("a = 1", "a = 1")]),
            Err(EditError::Nothing)
        );
        assert_eq!(apply(solution, &[]), Err(EditError::Nothing));
    }

    #[test]
    fn a_caught_by_must_name_a_test_of_the_file() {
        let tests =
            "#[test]\nfn one_thing() {}\nproptest! {\n    #[test]\n    fn other(x in 0..1) {}\n}\n";
        assert!(defines_test(tests, "one_thing"));
        assert!(defines_test(tests, "other"));
        assert!(!defines_test(tests, "thing"));
        assert!(!defines_test(tests, "one_thing() {}\nfn x"));
        assert!(!defines_test(tests, ""));
    }

    #[test]
    fn a_stale_edit_and_an_unknown_test_are_refused_by_name() {
        let dir = scratch::for_unit_test();
        let root = dir.path();
        let kata = Kata::parse(
            root,
            "[[exercises]]\nnumber = 1\nname = \"one\"\nfile = \"exercises/01_one.rs\"\n\
             test = \"01_one\"\n",
        )
        .unwrap();
        for (file, text) in [
            ("solutions/01_one.rs", "pub fn one() -> u32 {\n    1\n}\n"),
            ("tests/01_one.rs", "#[test]\nfn one_is_one() {}\n"),
        ] {
            std::fs::create_dir_all(root.join(file).parent().unwrap()).unwrap();
            std::fs::write(root.join(file), text).unwrap();
        }
        let corpus = root.join(DIR).join("01_one.toml");
        std::fs::create_dir_all(corpus.parent().unwrap()).unwrap();
        std::fs::write(
            &corpus,
            "[[wrong]]\nname = \"two\"\nmistake = \"m\"\ncaught_by = \"one_is_one\"\n\
             edits = [{ replace = \"    1\\n\", with = \"    2\\n\" }]\n\n\
             [[wrong]]\nname = \"gone\"\nmistake = \"m\"\ncaught_by = \"one_is_one\"\n\
             edits = [{ replace = \"    3\", with = \"    2\" }]\n\n\
             [[wrong]]\nname = \"untested\"\nmistake = \"m\"\ncaught_by = \"one_is_two\"\n\
             edits = [{ replace = \"1\", with = \"2\" }]\n",
        )
        .unwrap();
        let (answers, problems) = read_exercise(&kata, "01_one", &corpus).unwrap();
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0].source, "pub fn one() -> u32 {\n    2\n}\n");
        assert_eq!(answers[0].label(), "01_one/two");
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].starts_with("stale: 01_one/gone: solutions/01_one.rs changed here"),
            "{problems:?}"
        );
        assert!(problems[1].contains("01_one/untested"), "{problems:?}");
        std::fs::remove_dir_all(root.join(DIR)).unwrap();
        let (answers, checks) = read_corpus(&kata);
        assert!(answers.is_empty());
        assert!(
            !checks[0].ok && checks[0].message.contains("cannot read the corpus"),
            "a missing corpus is said plainly: {checks:?}"
        );
    }
}
