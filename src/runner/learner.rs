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
//! new one, never half of each; and if the copy cannot be made, nothing is replaced. The
//! new file keeps the old one's permission bits (a learner's 0600 stays 0600).
//!
//! **One runner at a time changes the state** ([`StateLock`]): `skip`, `reset` and
//! `restore` read `.kata/skipped`, change it and write it back, and two of them at once
//! would lose one's change (a skipped exercise would then read as *done*). Each holds an
//! exclusive `flock` on `.kata/lock` for the whole change; the kernel drops it when the
//! process ends, however it ends, so a killed runner never blocks the next one.
//!
//! **Nothing half-written is left behind.** The temporary file is registered with the
//! Ctrl-C handler (`interrupt`), which removes it if the runner is stopped mid-write; what
//! a SIGKILL leaves (`.NN_topic.rs.PID.tmp`) the next holder of the lock removes, since no
//! writer can be alive while it holds the lock.

use std::collections::BTreeSet;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
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

/// The lock file, relative to the root.
pub fn lock_file() -> PathBuf {
    Path::new(STATE_DIR).join("lock")
}

/// The right to change the learner's state: an exclusive `flock` on `.kata/lock`, held
/// until dropped (see the module's docs).
pub struct StateLock {
    _lock: Flock<File>,
}

/// Waits for the state lock, then removes what writers killed mid-write left behind.
pub fn lock_state(root: &Path) -> io::Result<StateLock> {
    make_private_dir(&root.join(STATE_DIR))?;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(root.join(lock_file()))?;
    let lock =
        Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| io::Error::from(errno))?;
    for dir in [root.join("exercises"), root.join(STATE_DIR)] {
        remove_leftovers(&dir);
    }
    Ok(StateLock { _lock: lock })
}

/// Removes `.NAME.PID.tmp` files in `dir`: with the state lock held, no writer of one is
/// alive.
fn remove_leftovers(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let leftover = name.starts_with('.')
            && name
                .strip_suffix(".tmp")
                .and_then(|rest| rest.rsplit_once('.'))
                .is_some_and(|(_, pid)| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()));
        if leftover && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
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
    // The file it replaces keeps its permission bits (a learner's 0600 stays 0600).
    let permissions = std::fs::metadata(path).ok().map(|m| m.permissions());
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temporary)?;
        super::interrupt::watch_file(temporary.clone(), &file);
        if let Some(permissions) = permissions {
            file.set_permissions(permissions)?;
        }
        file.write_all(text)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    super::interrupt::forget_file(&temporary);
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// Makes `dir` (mode 0700: the learner's work is theirs) unless it exists.
pub fn make_private_dir(dir: &Path) -> io::Result<()> {
    match DirBuilder::new().mode(0o700).create(dir) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{} is not a directory: the runner keeps your progress in a directory of \
                 that name; move the file away (or rename it) and run the command again",
                dir.display()
            ),
        )),
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
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    use super::*;

    fn exercise(number: u32) -> Exercise {
        Exercise {
            number,
            name: format!("e{number}"),
            file: PathBuf::from(format!("exercises/{number:02}_e.rs")),
            test: format!("{number:02}_e"),
            builds_on: Vec::new(),
            nudge: String::new(),
            shape: String::new(),
            steps: String::new(),
        }
    }

    /// Three runners skipping three exercises at once, 40 times over: each change is
    /// kept. (Without the lock, a read-change-write of `.kata/skipped` loses one of
    /// them in most rounds.)
    #[test]
    fn concurrent_changes_of_the_skipped_list_are_never_lost() {
        let dir = crate::scratch::for_unit_test();
        let root = dir.path().to_owned();
        for round in 0..40 {
            let threads: Vec<_> = (1..=3)
                .map(|n| {
                    let root = root.clone();
                    std::thread::spawn(move || {
                        let _lock = lock_state(&root).unwrap();
                        set_skipped(&root, &exercise(n), true).unwrap();
                    })
                })
                .collect();
            for thread in threads {
                thread.join().unwrap();
            }
            let listed = skipped_list(&root);
            assert_eq!(
                listed.len(),
                3,
                "round {round}: a skip was lost: {listed:?}"
            );
            std::fs::remove_file(root.join(skipped_file())).unwrap();
        }
    }

    /// A learner's 0600 exercise file stays 0600 when it is replaced.
    #[test]
    fn a_replaced_file_keeps_its_permission_bits() {
        let dir = crate::scratch::for_unit_test();
        let path = dir.path().join("01_x.rs");
        std::fs::write(&path, "mine").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        replace(&path, b"theirs").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "replace turned a 0600 file into {mode:o}");
    }

    /// What a writer killed mid-write left (`.NAME.PID.tmp`) goes when the lock is next
    /// taken; other hidden files stay.
    #[test]
    fn the_next_holder_of_the_lock_removes_half_written_files() {
        let dir = crate::scratch::for_unit_test();
        let root = dir.path();
        std::fs::create_dir(root.join("exercises")).unwrap();
        let left = root.join("exercises/.05_lock.rs.4242.tmp");
        let other = root.join("exercises/.05_lock.rs.swp");
        std::fs::write(&left, "half").unwrap();
        std::fs::write(&other, "an editor's").unwrap();
        drop(lock_state(root).unwrap());
        assert!(!left.exists(), "a killed writer's temporary file was left");
        assert!(
            other.exists(),
            "an editor's swap file is not the runner's to remove"
        );
    }

    /// A `.kata` that is a file is named as the problem, with the way out.
    #[test]
    fn a_state_directory_that_is_a_file_is_named() {
        let dir = crate::scratch::for_unit_test();
        std::fs::write(dir.path().join(STATE_DIR), "not a directory").unwrap();
        let error = lock_state(dir.path())
            .err()
            .expect("a file in its place is an error");
        assert!(
            error.to_string().contains("is not a directory") && error.to_string().contains("move"),
            "{error}"
        );
    }

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
