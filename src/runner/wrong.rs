//! `verify`'s corpus of wrong answers: every exercise's tests must catch the mistakes its
//! header warns about, and say which one they saw.
//!
//! `wrong-answers/NN_topic/<slug>.rs` is a whole-file variant of `solutions/NN_topic.rs`
//! with exactly one plausible mistake, and starts with two lines:
//!
//! ```text
//! // WRONG: <the mistake, in a learner's words>
//! // CAUGHT BY: <a phrase the failing test's message contains, naming the mistake>
//! ```
//!
//! For each one, the crate is tested with that file in place of its solution
//! (`cargo test --features solutions --test NN_topic`): at least one test must fail, and
//! the output must contain the phrase. Mistakes no test can observe are explained in
//! `wrong-answers/NN_topic/UNCATCHABLE.md` instead.
//!
//! The learner's tree is never touched: the crate is copied *once* into a scratch
//! directory under `target/tmp`, which this run holds with a `flock` (a second `verify`
//! is told to wait its turn; one left by a run that died holds no lock, and is emptied
//! and reused). Its builds go to a target directory of their own under `target/`, kept
//! between runs so they are incremental, and never overwrite the learner's worker
//! binary. The scratch copy is removed at the end, and on Ctrl-C.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

use nix::fcntl::{Flock, FlockArg};

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

/// One wrong answer, read and checked statically.
#[derive(Debug, Clone)]
struct WrongAnswer {
    /// `wrong-answers/NN_topic/slug.rs`, relative to the root.
    path: PathBuf,
    /// `NN_topic`: the test target, and the solution's file stem.
    exercise: String,
    caught_by: String,
    source: String,
}

/// Checks the corpus: statically, then each wrong answer against its exercise's tests,
/// whose scratch directories go under `scratch_root` (verify's own, which it checks empty
/// afterwards).
pub fn check(kata: &Kata, spinner: &Spinner, scratch_root: &Path) -> Vec<Check> {
    let (answers, mut checks) = read_corpus(kata);
    if answers.is_empty() {
        return checks;
    }
    let started = Instant::now();
    let target = target_dir(&kata.root);
    let scratch = match Scratch::take(&kata.root, &target) {
        Ok(scratch) => scratch,
        Err(problem) => {
            checks.push(Check::bad(format!("wrong answers: {problem}")));
            return checks;
        }
    };
    let cargo = Cargo::new(&scratch.crate_dir)
        .with_target_dir(&target.join(DIR))
        .with_env(crate::scratch::ROOT_ENV, scratch_root);
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
                answer.path.display()
            ));
            match scratch.try_answer(&cargo, answer) {
                Ok(()) => caught += 1,
                Err(why) => missed.push(why),
            }
        }
        let n = mine.len();
        if missed.is_empty() {
            checks.push(Check::good(format!(
                "{exercise}: {n} of {n} wrong answers caught"
            )));
        } else {
            checks.push(Check::bad(format!(
                "{exercise}: {} of {n} wrong answers caught; not caught:\n{}",
                n - missed.len(),
                missed.join("\n")
            )));
        }
    }
    drop(scratch);
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
    let Ok(entries) = std::fs::read_dir(&corpus) else {
        return (answers, Vec::new());
    };
    let mut dirs: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
    dirs.sort();
    for dir in dirs {
        let Some(exercise) = dir.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        let shown = Path::new(DIR).join(&exercise);
        if !dir.is_dir() {
            continue;
        }
        if !kata.exercises.iter().any(|e| e.test == exercise) {
            problems.push(format!(
                "{}: no exercise in exercises/info.toml has the test {exercise:?}",
                shown.display()
            ));
            continue;
        }
        let solution_path = kata.root.join("solutions").join(format!("{exercise}.rs"));
        let Ok(solution) = std::fs::read_to_string(&solution_path) else {
            problems.push(format!(
                "{}: there is no solutions/{exercise}.rs to swap it for",
                shown.display()
            ));
            continue;
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|entries| entries.filter_map(|e| Some(e.ok()?.path())).collect())
            .unwrap_or_default();
        files.sort();
        for file in files {
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if name == "UNCATCHABLE.md" {
                continue;
            }
            let path = shown.join(name);
            if !name.ends_with(".rs") {
                problems.push(format!(
                    "{}: only <slug>.rs files and UNCATCHABLE.md belong here",
                    path.display()
                ));
                continue;
            }
            match read_answer(&file, &solution) {
                Ok((caught_by, source)) => answers.push(WrongAnswer {
                    path,
                    exercise: exercise.clone(),
                    caught_by,
                    source,
                }),
                Err(problem) => problems.push(format!("{}: {problem}", path.display())),
            }
        }
    }
    let checks = if problems.is_empty() {
        vec![Check::good(format!(
            "wrong answers: {} files, each with // WRONG and // CAUGHT BY, each differing from its solution",
            answers.len()
        ))]
    } else {
        problems.into_iter().map(Check::bad).collect()
    };
    (answers, checks)
}

/// The CAUGHT BY phrase and the whole text of one wrong answer, or what is wrong with it.
fn read_answer(file: &Path, solution: &str) -> Result<(String, String), String> {
    let source = std::fs::read_to_string(file).map_err(|e| format!("cannot read it: {e}"))?;
    let mut lines = source.lines();
    let wrong = lines.next().and_then(|l| l.strip_prefix("// WRONG:"));
    if wrong.is_none_or(|w| w.trim().is_empty()) {
        return Err("its first line must be `// WRONG: <the mistake>`".to_owned());
    }
    let caught_by = lines
        .next()
        .and_then(|l| l.strip_prefix("// CAUGHT BY:"))
        .map(str::trim)
        .unwrap_or_default();
    if caught_by.is_empty() {
        return Err(
            "its second line must be `// CAUGHT BY: <a phrase of the failing test's message>`"
                .to_owned(),
        );
    }
    let body: String = source.lines().skip(2).collect::<Vec<_>>().join("\n");
    let solution_body: String = solution.lines().collect::<Vec<_>>().join("\n");
    if body.trim() == solution_body.trim() {
        return Err(
            "below its two header lines it is the solution itself: it has no mistake".to_owned(),
        );
    }
    Ok((caught_by.to_owned(), source))
}

/// The target directory cargo uses for the kata (an inherited `CARGO_TARGET_DIR`, made
/// absolute, or `target/` in the root).
fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from) {
        Some(dir) if dir.is_absolute() => dir,
        Some(dir) => std::env::current_dir()
            .map(|cwd| cwd.join(&dir))
            .unwrap_or(dir),
        None => root.join("target"),
    }
}

/// The scratch copy of the crate, held with a `flock` on its directory for as long as
/// this value lives; removed when dropped.
struct Scratch {
    dir: PathBuf,
    crate_dir: PathBuf,
    _held: Flock<File>,
}

impl Scratch {
    /// Takes `target/tmp/shm-kata-wrong-answers` and copies the crate at `root` into it.
    fn take(root: &Path, target: &Path) -> Result<Scratch, String> {
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

    /// Swaps `answer` in for its solution, runs its exercise's tests, and puts the
    /// solution back. `Err` says why it was not caught, with the first lines of output.
    fn try_answer(&self, cargo: &Cargo, answer: &WrongAnswer) -> Result<(), String> {
        let solution = self
            .crate_dir
            .join("solutions")
            .join(format!("{}.rs", answer.exercise));
        let original =
            std::fs::read(&solution).map_err(|e| format!("  {}: {e}", answer.path.display()))?;
        std::fs::write(&solution, &answer.source)
            .map_err(|e| format!("  {}: {e}", answer.path.display()))?;
        let output = cargo.test(Tree::Solutions, &answer.exercise);
        let restored = std::fs::write(&solution, original);
        let verdict = judge(&output, &answer.caught_by);
        restored.map_err(|e| format!("  cannot restore solutions/{}.rs: {e}", answer.exercise))?;
        verdict.map_err(|why| {
            let shown: Vec<String> = first_lines(&output)
                .into_iter()
                .map(|l| format!("      {l}"))
                .collect();
            format!(
                "  {}: {why}; its output begins:\n{}",
                answer.path.display(),
                shown.join("\n")
            )
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

/// Caught: at least one test failed, and the output names the mistake.
fn judge(output: &Output, caught_by: &str) -> Result<(), String> {
    let failed = output
        .stdout
        .lines()
        .filter(|l| l.ends_with("... FAILED"))
        .count();
    if output.timed_out {
        return Err("its tests ran out of time".to_owned());
    }
    if failed == 0 {
        return Err(if output.success {
            "every test passes".to_owned()
        } else {
            "no test failed (does it compile?)".to_owned()
        });
    }
    if !output.stdout.contains(caught_by) && !output.stderr.contains(caught_by) {
        return Err(format!(
            "{failed} test(s) failed, but no message says \"{caught_by}\""
        ));
    }
    Ok(())
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
    fn a_wrong_answer_is_caught_only_by_a_failed_test_naming_it() {
        let failed = "test a ... FAILED\nthe remainder went to the last range\n";
        assert_eq!(judge(&output(failed), "remainder went"), Ok(()));
        assert!(judge(&output(failed), "ceil").is_err());
        let passed = "test a ... ok\nremainder went\n";
        assert!(judge(&output(passed), "remainder went").is_err());
    }

    #[test]
    fn a_wrong_answer_needs_both_header_lines_and_a_mistake() {
        let dir = scratch::for_unit_test();
        let file = dir.path().join("x.rs");
        let solution = "fn f() {}\n";
        for (text, ok) in [
            ("// WRONG: w\n// CAUGHT BY: c\nfn f() { 1; }\n", true),
            ("// WRONG: w\n// CAUGHT BY: c\nfn f() {}\n", false),
            ("// CAUGHT BY: c\n// WRONG: w\nfn f() { 1; }\n", false),
            ("// WRONG: w\n// CAUGHT BY:\nfn f() { 1; }\n", false),
        ] {
            std::fs::write(&file, text).unwrap();
            assert_eq!(read_answer(&file, solution).is_ok(), ok, "{text}");
        }
    }
}
