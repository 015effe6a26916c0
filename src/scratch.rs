//! Scratch directories that the next run cleans up when this one could not.
//!
//! Tests (and `verify`) need directories of their own. A run that ends normally removes
//! them; a run stopped by Ctrl-C or SIGKILL runs no cleanup at all, so the *next* run has
//! to find what dead runs left, without ever touching what a live run still uses (another
//! terminal's `cargo test`, a `watch`, a second learner on a workshop server).
//!
//! # Liveness from the kernel
//! Every live scratch directory holds an exclusive `flock` on the directory itself, taken
//! through an open descriptor that lives exactly as long as the [`ScratchDir`]. The kernel
//! drops the lock when the process dies, however it dies. A sweep ([`sweep`]) opens each
//! `shm-kata-test-*` directory and tries the same lock without waiting: granted means its
//! owner is gone, refused means it is alive. PIDs are never consulted: they are reused.
//!
//! # The creation race
//! An owner makes its directory first and locks it a moment later. A sweep that looks in
//! between sees an unlocked directory and removes it. So the owner, once it holds the
//! lock, checks that the name still names the directory it locked (same device and
//! inode); if not, it was swept, and it starts again under a new name. A sweep, the same
//! way, removes a directory only while it holds its lock and only if the name still names
//! what it locked. Exercise 06 teaches this pattern for segments (`src/liveness.rs`).
//!
//! # Scratch inside scratch
//! `verify`'s root is itself a scratch directory, and the tests it runs make theirs inside
//! it. A runner killed by a signal leaves its `cargo` and the tests running: the root is
//! dead, the directories inside it are not. So removal never deletes a tree blindly: it
//! walks it (through directory descriptors, never through a symlink), takes the lock of
//! every nested scratch directory it meets, removes what is dead, and keeps a live one
//! with the directories that lead to it. The next sweep after that one ends removes the
//! rest.
//!
//! # Names in `/dev/shm`
//! Some tests must use the system directory (Python's `SharedMemory` knows no other). A
//! scratch records each such name, with the device and inode of the file, under
//! `system-names/`; a sweep that finds the scratch dead removes the name only if it still
//! names that same file and no live process holds it as a kata segment.
//!
//! # Whose scratch
//! The root may be a directory others can write to (`SHM_KATA_SCRATCH` pointed at a shared
//! `/tmp`, say). A sweep trusts only what its own user made: a scratch directory or a
//! record owned by another user is passed over, and a record may name a file only in the
//! system segment directory (`/dev/shm`), only one this user owns. Otherwise anyone who can
//! write there could plant a record that makes the next sweep (run as root, perhaps)
//! remove a file of their choosing.

use std::ffi::{CStr, CString, OsStr};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{AtFlags, Dir, FileType, FlockOperation, Mode, OFlags, flock, openat, unlinkat};

/// What every scratch directory's name starts with.
pub const PREFIX: &str = "shm-kata-test-";

/// Where the tests make their scratch directories, when set: `verify` points its runs at a
/// directory of its own, so it judges only what they made.
pub const ROOT_ENV: &str = "SHM_KATA_SCRATCH";

/// The sub-directory where a scratch records the names it made in the system directory.
const SYSTEM_NAMES: &CStr = c"system-names";

/// The longest record a sweep reads: a record is two short lines. Anything longer was not
/// written by [`ScratchDir::record_system_name`].
const RECORD_LIMIT: u64 = 4096;

/// How deep a removal walks. A scratch is a few levels deep (a fixture's `target/` is the
/// deepest); deeper than this, the rest is kept rather than risk the stack.
const DEPTH_LIMIT: usize = 64;

/// A directory named `shm-kata-test-*`, locked for as long as this value lives, and
/// removed with everything in it when dropped.
#[derive(Debug)]
pub struct ScratchDir {
    path: PathBuf,
    /// The open directory whose `flock` says "alive"; closed last, after the removal.
    lock: File,
}

/// How many scratch directories [`ScratchDir::new`] makes before it gives up. Each retry
/// is a race lost to a sweep, which takes microseconds; a thousand in a row means
/// something else is wrong, and an endless loop would fill the base directory.
const TRIES: usize = 1000;

impl ScratchDir {
    /// Makes a new, locked scratch directory in `base` (made if missing).
    pub fn new(base: &Path) -> io::Result<ScratchDir> {
        std::fs::create_dir_all(base)?;
        for _ in 0..TRIES {
            let path = base.join(format!("{PREFIX}{}", unique()));
            match std::fs::create_dir(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                // `base` is itself a dead scratch that a sweep just emptied and removed.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    std::fs::create_dir_all(base)?;
                    continue;
                }
                Err(e) => return Err(e),
            }
            let lock = match open_dir(&path) {
                Ok(lock) => lock,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue, // swept already
                Err(e) => return Err(e),
            };
            // A sweep holds the lock only while it removes the directory: try a new name.
            if !try_lock(&lock)? {
                continue;
            }
            // Swept between `mkdir` and the lock (and maybe the name taken again): retry.
            if names_same(&lock, &path)? {
                return Ok(ScratchDir { path, lock });
            }
        }
        Err(io::Error::other(format!(
            "no scratch directory of its own in {} after {TRIES} tries: each one made was \
             taken or removed at once",
            base.display()
        )))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The part of the name after [`PREFIX`], unique among live scratch directories.
    pub fn id(&self) -> &str {
        self.path
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(|name| name.strip_prefix(PREFIX))
            .unwrap_or_default()
    }

    /// Records that the file `name` in `system` (`/dev/shm`) belongs to this scratch, so
    /// that a sweep removes it if this process dies before it does. Call it once the file
    /// exists: the record holds its device and inode.
    pub fn record_system_name(&self, system: &Path, name: &str) -> io::Result<()> {
        let meta = std::fs::symlink_metadata(system.join(name))?;
        let records = self.path.join(OsStr::from_bytes(SYSTEM_NAMES.to_bytes()));
        std::fs::create_dir_all(&records)?;
        let record = format!("{} {}\n{}\n", meta.dev(), meta.ino(), system.display());
        std::fs::write(records.join(name), record)
    }

    /// Removes `name` from `system` if it is still the file recorded for it.
    pub fn remove_system_name(&self, name: &str) {
        if let Ok(records) = open_dir_at(self.lock.as_fd(), SYSTEM_NAMES) {
            if let Ok(c_name) = CString::new(name) {
                remove_recorded(records.as_fd(), &c_name, false);
            }
        }
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        remove_locked(&self.lock, &self.path, false);
    }
}

/// Removes every dead `shm-kata-test-*` directory in `base`, and the system names they
/// recorded; returns how many directories it removed. Live ones are never touched, nor
/// are live ones nested in a dead one: of that one, only the dead parts go.
pub fn sweep(base: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(base) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let is_scratch = entry
            .file_name()
            .to_str()
            .is_some_and(|name| name.starts_with(PREFIX));
        // Never follows a symlink: only real directories are scratch.
        if !is_scratch || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let path = entry.path();
        let Ok(dir) = open_dir(&path) else { continue };
        if !is_ours(&dir) {
            continue; // another user's: never ours to judge
        }
        if try_lock(&dir).unwrap_or(false) && remove_locked(&dir, &path, true) {
            removed += 1;
        }
    }
    removed
}

/// With `dir`'s lock held: removes the system names it recorded, then what is dead in
/// the directory, then the directory if nothing live was left in it; returns whether it
/// is gone. `dead` says the owner is gone, so a recorded kata segment may be removed only
/// if no live process holds it.
fn remove_locked(dir: &File, path: &Path, dead: bool) -> bool {
    if !names_same(dir, path).unwrap_or(false) {
        return false; // not ours any more: never remove a file we did not make
    }
    remove_records(dir.as_fd(), dead);
    remove_dead_contents(dir.as_fd(), 0) && std::fs::remove_dir(path).is_ok()
}

/// Removes everything in the directory `dir` except live scratch directories (their lock
/// is held) and the directories that lead to one; returns whether `dir` is now empty.
///
/// Works through descriptors (`openat`, `unlinkat`, `O_NOFOLLOW`): a symlink is removed,
/// never followed, and a directory renamed or swapped during the walk cannot lead it
/// elsewhere. A nested scratch directory is removed while this walk holds its lock, so
/// its owner, were it just starting, sees the name gone and starts again elsewhere.
fn remove_dead_contents(dir: BorrowedFd<'_>, depth: usize) -> bool {
    if depth > DEPTH_LIMIT {
        return false;
    }
    let mut empty = true;
    for (name, file_type) in list(dir) {
        if file_type != FileType::Directory {
            // A file, a symlink, a FIFO...: unlinked, never opened. `Unknown` (a file system
            // without types in its listing) is tried as a file first.
            match unlinkat(dir, &name, AtFlags::empty()) {
                Ok(()) => continue,
                Err(rustix::io::Errno::NOENT) => continue,
                Err(rustix::io::Errno::ISDIR) if file_type == FileType::Unknown => {}
                Err(_) => {
                    empty = false;
                    continue;
                }
            }
        }
        let Ok(sub) = open_dir_at(dir, &name) else {
            empty = false;
            continue;
        };
        let nested_scratch = name.to_bytes().starts_with(PREFIX.as_bytes());
        if nested_scratch {
            if !try_lock(&sub).unwrap_or(false) {
                empty = false; // alive: its owner still works in it
                continue;
            }
            remove_records(sub.as_fd(), true);
        }
        if !remove_dead_contents(sub.as_fd(), depth + 1)
            || unlinkat(dir, &name, AtFlags::REMOVEDIR).is_err()
        {
            empty = false;
        }
        drop(sub); // the nested scratch's lock, released once its name is gone
    }
    empty
}

/// The entries of the directory `dir` (without `.` and `..`), with their type as the
/// listing gives it (from the directory itself: a symlink is a symlink).
fn list(dir: BorrowedFd<'_>) -> Vec<(CString, FileType)> {
    let Ok(mut entries) = Dir::read_from(dir) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    while let Some(Ok(entry)) = entries.read() {
        let name = entry.file_name();
        if name != c"." && name != c".." {
            found.push((name.to_owned(), entry.file_type()));
        }
    }
    found
}

/// Removes the system names the scratch directory `dir` recorded (see [`remove_recorded`]).
fn remove_records(dir: BorrowedFd<'_>, dead: bool) {
    let Ok(records) = open_dir_at(dir, SYSTEM_NAMES) else {
        return;
    };
    for (name, _) in list(records.as_fd()) {
        remove_recorded(records.as_fd(), &name, dead);
    }
}

/// Removes the system name the record `name` in `records` describes, if it still names the
/// recorded file and, when `dead` (a sweep), no live process holds it as a kata segment;
/// then the record.
fn remove_recorded(records: BorrowedFd<'_>, name: &CStr, dead: bool) {
    if let (Some(text), Ok(name)) = (read_record(records, name), name.to_str()) {
        remove_system_file(&text, name, dead);
    }
    let _ = unlinkat(records, name, AtFlags::empty());
}

/// The text of a record, if it is a regular file of at most [`RECORD_LIMIT`] bytes. Opened
/// without following a symlink (`/dev/zero` never ends) and without waiting (a FIFO would
/// wait for a writer forever), and checked to be a regular file before it is read.
fn read_record(records: BorrowedFd<'_>, name: &CStr) -> Option<String> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let file = File::from(openat(records, name, flags, Mode::empty()).ok()?);
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.len() > RECORD_LIMIT || !is_ours(&file) {
        return None;
    }
    let mut text = String::new();
    file.take(RECORD_LIMIT).read_to_string(&mut text).ok()?;
    Some(text)
}

/// Removes `name` in the system directory a record's `text` names, if it is still the
/// recorded file and, when `dead`, no live process holds it as a kata segment.
fn remove_system_file(text: &str, name: &str, dead: bool) {
    let mut lines = text.lines();
    let ids: Vec<u64> = lines
        .next()
        .unwrap_or_default()
        .split(' ')
        .filter_map(|n| n.parse().ok())
        .collect();
    let (Some(&[dev, ino]), Some(system)) = (ids.get(..2), lines.next()) else {
        return;
    };
    // Only a plain name, only in the system segment directory: a record cannot send the
    // sweep anywhere else.
    let plain = !name.is_empty() && name != "." && name != ".." && !name.contains('/');
    if !plain || !is_system_dir(Path::new(system)) {
        return;
    }
    let path = Path::new(system).join(name);
    let Ok(file) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(&path)
    else {
        return;
    };
    let same = file
        .metadata()
        .is_ok_and(|m| m.dev() == dev && m.ino() == ino);
    // A segment the kata made carries a liveness lock while anybody holds it: a worker
    // of the dead run may still be at work.
    let unheld = !dead
        || !crate::liveness::is_kata_file(&file)
        || crate::liveness::claim(&file).unwrap_or(false);
    let ours = is_ours(&file);
    if same && ours && unheld && crate::liveness::names_same_file(&file, &path).unwrap_or(false) {
        let _ = std::fs::remove_file(&path);
    }
}

/// Whether this process's effective user owns the file.
fn is_ours(file: &File) -> bool {
    file.metadata()
        .is_ok_and(|m| m.uid() == nix::unistd::geteuid().as_raw())
}

/// Whether `dir` is the system segment directory (`/dev/shm`), however it is spelled.
fn is_system_dir(dir: &Path) -> bool {
    let system = crate::SegmentDir::system();
    match (
        std::fs::canonicalize(dir),
        std::fs::canonicalize(system.path()),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Opens the directory `name` in `dir` for listing and for its lock, never through a
/// symlink.
fn open_dir_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    Ok(openat(dir, name, flags, Mode::empty())?)
}

/// Opens a directory for its lock, never through a symlink.
fn open_dir(path: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_DIRECTORY | nix::libc::O_NOFOLLOW)
        .open(path)
}

/// The exclusive `flock`, without waiting: `Ok(false)` if someone else holds it.
fn try_lock(dir: impl AsFd) -> io::Result<bool> {
    match flock(dir, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

fn names_same(dir: &File, path: &Path) -> io::Result<bool> {
    crate::liveness::names_same_file(dir, path)
}

/// A name part no other live scratch has at this moment: the process id (unique among
/// live processes) and a counter. Uniqueness only: liveness never comes from it.
fn unique() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "{}-{}-{nanos:x}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The directory a test run makes its scratch in: [`ROOT_ENV`] if set, else `default`.
pub fn base(default: &Path) -> PathBuf {
    std::env::var_os(ROOT_ENV)
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| default.to_owned())
}

/// A scratch directory for the crate's own unit tests, which have no `CARGO_TARGET_TMPDIR`:
/// in the crate's `target/tmp` (or `verify`'s root), where the next run's sweep finds it
/// if this run is interrupted; never in `/tmp`, where nothing would. The first call in a
/// test process sweeps first.
#[cfg(test)]
pub(crate) fn for_unit_test() -> ScratchDir {
    static SWEEP: std::sync::Once = std::sync::Once::new();
    let base = base(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/target/tmp"
    )));
    SWEEP.call_once(|| {
        sweep(&base);
    });
    ScratchDir::new(&base)
        .unwrap_or_else(|e| panic!("cannot make a scratch directory in {}: {e}", base.display()))
}

/// What the names a run makes in `/dev/shm` start with: under `verify`, its own root's
/// name (so it can tell its runs' names from anybody else's), else [`PREFIX`].
pub fn system_prefix() -> String {
    std::env::var_os(ROOT_ENV)
        .map(PathBuf::from)
        .and_then(|dir| Some(format!("{}-", dir.file_name()?.to_str()?)))
        .unwrap_or_else(|| PREFIX.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unit_tests_scratch_is_where_the_next_sweep_looks() {
        let scratch = for_unit_test();
        let base = base(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/target/tmp"
        )));
        assert_eq!(scratch.path().parent(), Some(base.as_path()));
        let path = scratch.path().to_owned();
        drop(scratch);
        assert!(!path.exists(), "dropped, it is removed");
    }
}
