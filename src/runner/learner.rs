//! The learner's own state, in `.kata/` at the root of their clone (git-ignored):
//!
//! * `.kata/attempts/NN_topic.<UTC time>.rs` — every exercise file that `reset` or `skip`
//!   replaced, kept before it was replaced;
//! * `.kata/skipped` — the exercises the learner skipped, one test name (`02_attach`) a
//!   line.
//!
//! Not under `target/`, which `cargo clean` deletes, and not in `/tmp`, which other
//! learners on the same machine share: each clone keeps its own, readable by its owner
//! only.
//!
//! A learner's file is never lost: its copy is written and synced first, and only then is
//! the exercise replaced, by writing the new text to a temporary file beside it and
//! renaming that over it. A rename is atomic, so a crash leaves either the old file or the
//! new one, never half of each; and if the copy cannot be made, nothing is replaced.

use std::collections::BTreeSet;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::exercises::{Exercise, Kata};

/// The learner's state directory, relative to the root.
pub const STATE_DIR: &str = ".kata";

/// Where replaced exercise files are kept, relative to the root.
pub fn attempts_dir() -> PathBuf {
    Path::new(STATE_DIR).join("attempts")
}

/// The list of skipped exercises, relative to the root.
pub fn skipped_file() -> PathBuf {
    Path::new(STATE_DIR).join("skipped")
}

/// The test names listed in `.kata/skipped` (none if it does not exist or cannot be read).
pub fn skipped_list(root: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(root.join(skipped_file()))
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Lists `exercise` in `.kata/skipped`, or takes it off the list.
pub fn set_skipped(root: &Path, exercise: &Exercise, skipped: bool) -> io::Result<()> {
    let mut list = skipped_list(root);
    let changed = if skipped {
        list.insert(exercise.test.clone())
    } else {
        list.remove(&exercise.test)
    };
    if !changed {
        return Ok(());
    }
    make_private_dir(&root.join(STATE_DIR))?;
    let text: String = list.iter().map(|test| format!("{test}\n")).collect();
    replace(&root.join(skipped_file()), text.as_bytes())
}

/// Whether each exercise reads as skipped: listed in `.kata/skipped` *and* still holding
/// the reference answer byte for byte. A learner who writes their own answer over a
/// skipped exercise has done it themselves, and a skip that stopped half-way (listed, but
/// the file never replaced) skipped nothing.
pub fn skipped(kata: &Kata) -> Vec<bool> {
    let list = skipped_list(&kata.root);
    kata.exercises
        .iter()
        .map(|exercise| {
            list.contains(&exercise.test) && {
                let read = |file: PathBuf| std::fs::read(kata.root.join(file)).ok();
                let solution = read(exercise.solution_file());
                solution.is_some() && read(exercise.file.clone()) == solution
            }
        })
        .collect()
}

/// Keeps `text` (an exercise file about to be replaced) as
/// `.kata/attempts/NN_topic.<UTC time>.rs`, synced to disk, and returns its path relative
/// to the root. Never overwrites an earlier copy.
pub fn keep_attempt(root: &Path, exercise: &Exercise, text: &[u8]) -> io::Result<PathBuf> {
    make_private_dir(&root.join(STATE_DIR))?;
    make_private_dir(&root.join(attempts_dir()))?;
    let stem = exercise
        .file
        .file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let stamp = utc_stamp(SystemTime::now());
    for n in 1.. {
        let suffix = if n == 1 {
            String::new()
        } else {
            format!("-{n}")
        };
        let relative = attempts_dir().join(format!("{stem}.{stamp}{suffix}.rs"));
        let mut file = match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(root.join(&relative))
        {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        };
        let written = file.write_all(text).and_then(|()| file.sync_all());
        if let Err(e) = written {
            let _ = std::fs::remove_file(root.join(&relative));
            return Err(e);
        }
        return Ok(relative);
    }
    unreachable!("some suffix is free")
}

/// Replaces the file at `path` with `text`, atomically: written to a hidden temporary
/// file in the same directory (a rename cannot cross file systems), synced, then renamed
/// over `path`. On an error the temporary file is removed and `path` is unchanged.
pub fn replace(path: &Path, text: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    // Hidden, so `watch` does not take it for a save of the exercise.
    let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut file = File::create(&temporary)?;
        file.write_all(text)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// Makes `dir` (mode 0700: the learner's work is theirs) unless it exists.
pub fn make_private_dir(dir: &Path) -> io::Result<()> {
    match DirBuilder::new().mode(0o700).create(dir) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        other => other,
    }
}

/// `20261125T170428Z`: sorts in time order, and means the same in every time zone.
fn utc_stamp(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The date `days` after 1970-01-01, in the proleptic Gregorian calendar (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_stamp_is_the_utc_date_and_time() {
        let at = |secs| utc_stamp(UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), "19700101T000000Z");
        assert_eq!(at(951_782_400), "20000229T000000Z");
        assert_eq!(at(1_795_626_268), "20261125T170428Z");
    }

    #[test]
    fn a_failed_replace_leaves_the_file_and_no_temporary() {
        let dir = crate::scratch::for_unit_test();
        let path = dir.path().join("01_x.rs");
        std::fs::write(&path, "mine").unwrap();
        // A directory where the temporary file would go: its creation fails.
        let blocker = dir
            .path()
            .join(format!(".01_x.rs.{}.tmp", std::process::id()));
        std::fs::create_dir(&blocker).unwrap();
        assert!(replace(&path, b"theirs").is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "mine");
        std::fs::remove_dir(&blocker).unwrap();
        replace(&path, b"theirs").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "theirs");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "only the file itself is left: {names:?}");
    }
}
