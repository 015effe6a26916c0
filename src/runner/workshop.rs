//! `cargo run -- reset N` and `cargo run -- skip N`: start an exercise again, or step over
//! it.
//!
//! The exercises build on each other (04 uses 01–03), so a learner stuck on one cannot
//! reach the ones after it. `skip` puts the reference answer in its place, so the later
//! exercises work, and marks it skipped: the overview never counts it as done. `reset`
//! puts the untouched stub back (from `stubs/`, never from git: a learner who commits
//! their work has no commit with the stub in it) and takes the mark off.
//!
//! Both keep what they replace in `.kata/attempts/` first (see [`super::learner`]), and
//! replace nothing if that copy cannot be made; `restore` brings a kept attempt back.
//! `skip` refuses to replace an answer that passes every test unless told `--force`: a
//! learner who wanted to compare with the answer would otherwise lose the *done*.

use std::io;
use std::path::{Path, PathBuf};

use super::exercises::{Exercise, Kata};
use super::learner;
use super::style::{CODE, TITLE, paint};

/// Puts exercise `which` back to its untouched stub; says what it did.
pub fn reset(kata: &Kata, which: &str) -> Result<String, String> {
    let exercise = kata.find(which).map_err(|e| e.to_string())?;
    let _lock = lock(kata)?;
    let stub = read(kata, &exercise.stub_file(), "its untouched stub")?;
    let current = read_current(kata, exercise)?;
    let solution = std::fs::read(kata.root.join(exercise.solution_file())).ok();
    let was_skipped = learner::skipped(kata)[index(kata, exercise)];
    // Nothing to keep of a stub, nor of the answer a skip put in.
    let worth_keeping = current
        .as_ref()
        .filter(|text| **text != stub && !(was_skipped && Some(*text) == solution.as_ref()));
    let kept = match worth_keeping {
        Some(text) => Some(keep(kata, exercise, text)?),
        None => None,
    };
    put(kata, exercise, &stub)?;
    learner::set_skipped(&kata.root, exercise, false).map_err(|e| state_error(exercise, e))?;
    let mut said = format!(
        "{} is back to its untouched stub: {}\n",
        paint(TITLE, exercise.title()),
        paint(CODE, exercise.file.display())
    );
    said += &match (kept, was_skipped) {
        (Some(kept), _) => format!("Your version is kept in {}\n", paint(CODE, kept.display())),
        (None, true) => {
            "It held the reference answer (skipped): nothing of yours to keep.\n".into()
        }
        (None, false) if current.is_none() => "It was missing: nothing to keep.\n".into(),
        (None, false) => "It was untouched: nothing to keep.\n".into(),
    };
    said += &format!(
        "Its tests: {}\n",
        paint(CODE, format!("cargo test --test {}", exercise.test))
    );
    Ok(said)
}

/// Puts the reference answer in place of exercise `which` and marks it skipped; says what
/// it did.
///
/// An answer of the learner's that passes every test is not replaced without `force`:
/// `passes` is asked (it runs the exercise's tests) only for a file that is neither the
/// stub nor the reference answer.
pub fn skip(
    kata: &Kata,
    which: &str,
    force: bool,
    passes: impl FnOnce(&Exercise) -> bool,
) -> Result<String, String> {
    let exercise = kata.find(which).map_err(|e| e.to_string())?;
    let solution = read(kata, &exercise.solution_file(), "its reference answer")?;
    let title = paint(TITLE, exercise.title());
    let stub = std::fs::read(kata.root.join(exercise.stub_file())).ok();
    // Asked before the lock is taken: running the tests records their result, which
    // takes the lock too.
    let learners = |current: &Option<Vec<u8>>| {
        current
            .as_ref()
            .is_some_and(|text| Some(text) != stub.as_ref() && *text != solution)
    };
    let before = read_current(kata, exercise)?;
    let skipped = learner::skipped(kata)[index(kata, exercise)];
    if !skipped && learners(&before) && !force && passes(exercise) {
        return Err(format!(
            "{title} is done: your answer passes every test, and `skip` would put the \
             reference answer in its place. To compare the two, read {}. To replace yours \
             anyway (it is kept in {}, and `cargo run -- restore {}` brings it back): {}",
            paint(CODE, exercise.solution_file().display()),
            paint(CODE, learner::attempts_dir().display()),
            exercise.number,
            paint(
                CODE,
                format!("cargo run -- skip {} --force", exercise.number)
            )
        ));
    }
    let _lock = lock(kata)?;
    let current = read_current(kata, exercise)?;
    if current != before && !force {
        return Err(format!(
            "{} changed while its tests ran: nothing was replaced; run the skip again",
            exercise.file.display()
        ));
    }
    if learner::skipped(kata)[index(kata, exercise)] {
        return Ok(format!(
            "{title} is already skipped (`cargo run -- reset {}` to try it yourself).\n",
            exercise.number
        ));
    }
    let worth_keeping = current
        .as_ref()
        .filter(|text| Some(*text) != stub.as_ref() && **text != solution);
    let kept = match worth_keeping {
        Some(text) => Some(keep(kata, exercise, text)?),
        None => None,
    };
    // Listed first: a skip that stops before the file is replaced reads as not skipped
    // (the file is not the reference answer), never as done.
    learner::set_skipped(&kata.root, exercise, true).map_err(|e| state_error(exercise, e))?;
    put(kata, exercise, &solution)?;
    let mut said = format!(
        "{title} is skipped: {} now holds the reference answer, so the exercises after it can use it.\n",
        paint(CODE, exercise.file.display())
    );
    if let Some(kept) = kept {
        said += &format!("Your attempt is kept in {}\n", paint(CODE, kept.display()));
    }
    said += &format!(
        "It reads as skipped, not done. To try it yourself later: {}\n",
        paint(CODE, format!("cargo run -- reset {}", exercise.number))
    );
    Ok(said)
}

/// Puts back the learner's latest kept attempt of exercise `which` (or `attempt`, a file
/// in `.kata/attempts/`), keeping what it replaces first; says what it did.
pub fn restore(kata: &Kata, which: &str, attempt: Option<&Path>) -> Result<String, String> {
    let exercise = kata.find(which).map_err(|e| e.to_string())?;
    let _lock = lock(kata)?;
    let chosen = match attempt {
        Some(path) => path.to_owned(),
        None => latest_attempt(kata, exercise).ok_or_else(|| {
            format!(
                "no kept attempt of {} in {}: `reset` and `skip` keep one when they replace \
                 your file",
                exercise.title(),
                learner::attempts_dir().display()
            )
        })?,
    };
    let text = std::fs::read(kata.root.join(&chosen))
        .or_else(|_| std::fs::read(&chosen))
        .map_err(|e| format!("cannot read {}: {e}", chosen.display()))?;
    let current = read_current(kata, exercise)?;
    let stub = std::fs::read(kata.root.join(exercise.stub_file())).ok();
    let solution = std::fs::read(kata.root.join(exercise.solution_file())).ok();
    let worth_keeping = current.as_ref().filter(|now| {
        **now != text && Some(*now) != stub.as_ref() && Some(*now) != solution.as_ref()
    });
    let kept = match worth_keeping {
        Some(now) => Some(keep(kata, exercise, now)?),
        None => None,
    };
    put(kata, exercise, &text)?;
    learner::set_skipped(&kata.root, exercise, false).map_err(|e| state_error(exercise, e))?;
    let mut said = format!(
        "{} holds your attempt {} again: {}\n",
        paint(TITLE, exercise.title()),
        paint(CODE, chosen.display()),
        paint(CODE, exercise.file.display())
    );
    if let Some(kept) = kept {
        said += &format!("What it held is kept in {}\n", paint(CODE, kept.display()));
    }
    said += &format!(
        "Its tests: {}\n",
        paint(CODE, format!("cargo test --test {}", exercise.test))
    );
    Ok(said)
}

/// The newest `.kata/attempts/NN_topic.<time>[-n].rs` of `exercise`, relative to the root.
fn latest_attempt(kata: &Kata, exercise: &Exercise) -> Option<PathBuf> {
    let stem = exercise.file.file_stem()?.to_string_lossy().into_owned();
    let dir = learner::attempts_dir();
    let entries = std::fs::read_dir(kata.root.join(&dir)).ok()?;
    entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let rest = name
                .strip_prefix(&format!("{stem}."))?
                .strip_suffix(".rs")?;
            // `<stamp>` or `<stamp>-<n>`: order by the stamp, then by n.
            let (stamp, n) = match rest.split_once('-') {
                Some((stamp, n)) => (stamp.to_owned(), n.parse::<u32>().ok()?),
                None => (rest.to_owned(), 1),
            };
            Some(((stamp, n), dir.join(&name)))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, path)| path)
}

fn lock(kata: &Kata) -> Result<learner::StateLock, String> {
    learner::lock_state(&kata.root).map_err(|e| {
        format!(
            "cannot take the lock {} of your progress: {e}",
            learner::lock_file().display()
        )
    })
}

fn index(kata: &Kata, exercise: &Exercise) -> usize {
    kata.exercises
        .iter()
        .position(|e| e == exercise)
        .unwrap_or_default()
}

/// A file of the kata that must be there.
fn read(kata: &Kata, file: &Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(kata.root.join(file)).map_err(|e| {
        format!(
            "cannot read {what}, {}: {e} (restore it from the kata's repository)",
            file.display()
        )
    })
}

/// The learner's file, or `None` if there is none to keep.
fn read_current(kata: &Kata, exercise: &Exercise) -> Result<Option<Vec<u8>>, String> {
    match std::fs::read(kata.root.join(&exercise.file)) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!(
            "cannot read {}: {e}; nothing was changed",
            exercise.file.display()
        )),
    }
}

fn keep(kata: &Kata, exercise: &Exercise, text: &[u8]) -> Result<PathBuf, String> {
    learner::keep_attempt(&kata.root, exercise, text).map_err(|e| {
        format!(
            "cannot keep a copy of {} in {}: {e}; nothing was changed, your file is as it was",
            exercise.file.display(),
            learner::attempts_dir().display()
        )
    })
}

fn put(kata: &Kata, exercise: &Exercise, text: &[u8]) -> Result<(), String> {
    learner::replace(&kata.root.join(&exercise.file), text).map_err(|e| {
        format!(
            "cannot replace {}: {e}; it is as it was",
            exercise.file.display()
        )
    })
}

fn state_error(exercise: &Exercise, e: io::Error) -> String {
    format!(
        "cannot update {} for {}: {e}",
        learner::skipped_file().display(),
        exercise.title()
    )
}
