// WRONG: lock with an fcntl write lock (F_SETLKW, F_WRLCK) on the read-only open that flock would need
// CAUGHT BY: EBADF from a lock on a file opened read-only
//! # 05 · lock — when ranges overlap, take turns
//!
//! Reference answer.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::{AtomicU32, Ordering};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};

use crate::attach::attach;
use crate::create::validate_name;
use shm_kata::{Error, Segment, SegmentDir};

/// Proof that this process holds the lock of one segment. Dropping it releases the lock.
#[derive(Debug)]
pub struct LockGuard {
    name: String,
    // Held for its `Drop`: closing the file releases the record lock.
    _file: File,
}

impl LockGuard {
    /// The segment whose lock this is.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Takes the lock of segment `name` in `dir`, waiting as long as another holder has it.
pub fn lock(dir: &SegmentDir, name: &str) -> Result<LockGuard, Error> {
    let file = open_own_description(dir, name)?;
    record_lock(&file, true).map_err(|errno| lock_error(name, errno))?;
    Ok(guard(name, file))
}

/// Takes the lock of segment `name` if it is free right now; `Ok(None)` if someone (in
/// this process or another) holds it. Never waits.
pub fn try_lock(dir: &SegmentDir, name: &str) -> Result<Option<LockGuard>, Error> {
    let file = open_own_description(dir, name)?;
    match record_lock(&file, false) {
        Ok(()) => Ok(Some(guard(name, file))),
        Err(Errno::EAGAIN | Errno::EACCES) => Ok(None),
        Err(errno) => Err(lock_error(name, errno)),
    }
}

/// Worker side: adds 1 to word 0 of `name`, `times` times, each time reading the word and
/// then writing it back plus one while holding the lock.
pub fn add_locked(dir: &SegmentDir, name: &str, times: u32) -> Result<(), Error> {
    let segment = attach(dir, name)?;
    let counter = first_word(&segment)?;
    for _ in 0..times {
        let _guard = lock(dir, name)?;
        // Two atomic accesses, each one whole word, but *not* one atomic step: another
        // process could write between them. The lock is what makes the pair one turn.
        // Relaxed is enough: the kernel's unlock and lock order one turn before the next.
        let value = counter.load(Ordering::Relaxed);
        counter.store(value.wrapping_add(1), Ordering::Relaxed);
    } // `_guard` dropped at the end of every turn: the lock is released
    Ok(())
}

/// Worker side: adds 1 to word 0 of `name`, `times` times, with one atomic `fetch_add`
/// each. No lock: the read, the add and the write are one indivisible instruction.
pub fn add_atomic(dir: &SegmentDir, name: &str, times: u32) -> Result<(), Error> {
    let segment = attach(dir, name)?;
    let counter = first_word(&segment)?;
    for _ in 0..times {
        // Relaxed is enough for a counter: no other memory is published through it, and
        // the parent reads it only after every worker has exited.
        counter.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

/// A fresh `open` of the segment's file: a new open file description, which is what a
/// `flock` belongs to. Read-only is enough to lock. `O_NONBLOCK` only keeps the `open`
/// itself from waiting (a FIFO planted at the name would block it until a writer came);
/// it changes nothing about `flock`, which waits or not by its own flag.
fn open_own_description(dir: &SegmentDir, name: &str) -> Result<File, Error> {
    validate_name(name)?;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK).bits())
        .open(dir.join(name))
        .map_err(|e| Error::io(dir.path(), name, e))?;
    match file.metadata() {
        Ok(meta) if meta.is_file() => Ok(file),
        Ok(_) => Err(Error::NotAFile {
            name: name.to_owned(),
            dir: dir.path().to_owned(),
        }),
        Err(source) => Err(Error::Io {
            name: name.to_owned(),
            source,
        }),
    }
}

/// An exclusive `fcntl` record lock on the whole file, waiting for it or not.
fn record_lock(file: &File, wait: bool) -> Result<(), Errno> {
    let whole_file = nix::libc::flock {
        l_type: nix::libc::F_WRLCK as i16,
        l_whence: nix::libc::SEEK_SET as i16,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    let arg = if wait {
        FcntlArg::F_SETLKW(&whole_file)
    } else {
        FcntlArg::F_SETLK(&whole_file)
    };
    fcntl(file, arg).map(drop)
}

fn guard(name: &str, file: File) -> LockGuard {
    LockGuard {
        name: name.to_owned(),
        _file: file,
    }
}

fn lock_error(name: &str, errno: Errno) -> Error {
    Error::Io {
        name: name.to_owned(),
        source: errno.into(),
    }
}

fn first_word(segment: &Segment) -> Result<&AtomicU32, Error> {
    segment.atomics().first().ok_or_else(|| Error::TooSmall {
        name: segment.name().to_owned(),
        needed: 4,
        actual: segment.len() as u64,
    })
}
