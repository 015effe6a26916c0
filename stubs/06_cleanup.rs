//! # 06 · cleanup — close is not unlink, and a crash is not an excuse
//!
//! A segment has two lives. Its *memory* lives as long as some process has it mapped (or
//! open). Its *name* lives until someone removes it, even when nobody uses it any more.
//! Dropping a `Segment` *closes*: it unmaps, and the name stays. Only an *unlink* removes
//! the name, and a name nobody removes is an orphan: in `/dev/shm` it holds RAM until the
//! machine reboots. You write the three ways a name goes away.
//!
//! This exercise builds on 01 (`create`), 02 (`attach`) and 05 (`lock`): its tests use
//! all three, so finish those first.
//!
//! * `unlink(dir, name)`: remove the name (`std::fs::remove_file`, errors through
//!   `Error::io`, so a missing name is `Error::NotFound`). The Linux fact: the name goes
//!   *at once*, but every mapping that is still open stays valid and readable; the memory
//!   is freed when the last one goes (shown on your machine: `cargo run -- facts`,
//!   `unlink_keeps_a_mapped_segment_alive`). Attaching by that name is `NotFound` from now
//!   on.
//!   `unlink(2)` removes the *name*, never what it points to: a symlink in the directory
//!   is removed as a link, and its target (maybe outside the directory) stays. Never
//!   resolve the name first (`canonicalize`): that would remove a file outside `dir`.
//! * `OwnedSegment`: the creator's handle. `OwnedSegment::create` calls your `create`;
//!   its `Drop` unlinks the name, so the creator cleans up on every way out, *including a
//!   panic* (drops run while a panic unwinds; a build with `panic = "abort"` runs none).
//!   Never panic inside `drop`, and ignore a name someone else already removed. The
//!   trap: if someone removed your name and created a *new* segment under it, the name is
//!   no longer yours; `liveness::names_same_file(self.segment.file(), &path)` tells.
//! * `sweep(dir)`: for the crash that runs no `Drop` (a SIGKILL, a power cut, an
//!   `abort`), remove every segment whose holders are *all dead*, and return the names.
//!
//! `sweep` is where cleanup gets dangerous, and two rules make it safe:
//! * **Never remove a segment a live process holds**, including *this* process.
//!   Liveness comes from the kernel (`src/liveness.rs`): every `Segment` holds a shared
//!   lock on its file from birth to drop, which the kernel drops when the process dies,
//!   however it dies. A sweep opens the file *itself* and `liveness::claim(&file)` tries
//!   an exclusive lock without waiting: granted means nobody alive holds the segment. PIDs
//!   are no answer: they are reused, and a dead process cannot say it died. (Python gets
//!   this wrong the other way: a process that only *attaches*, `SharedMemory(name=…)`,
//!   registers the segment with its resource tracker, which unlinks it when that process
//!   exits, while others still use it: CPython gh-82300; Python 3.13 adds
//!   `track=False`. Shown: `pythons_attaching_shared_memory_unlinks_the_segment_at_exit`.)
//!   Only holders that go through the kata take that lock: a Python or C program
//!   attached to a kata segment takes none. So ask the kernel's own record too, right
//!   before the unlink: `liveness::used_by_another_process(&file)` looks through
//!   `/proc/PID/maps` (device and inode of every mapped file) and `/proc/PID/fd` (every
//!   open file) of the other processes; treat an `Err` as "in use". What it cannot see:
//!   an unprivileged sweep cannot read other users' `/proc/PID/fd` or `/proc/PID/maps` (a
//!   kata file is mode `0600`, so only root could be such a holder), nor those of a
//!   *non-dumpable* process of its own user: one started from a setuid or setgid program
//!   or with file capabilities, or one that called `prctl(PR_SET_DUMPABLE, 0)` (shown on
//!   your machine: `cargo run -- facts`,
//!   `a_non_dumpable_process_hides_its_descriptors_from_its_own_user`). A sweep inside a
//!   container (a PID namespace of its own) sees none of the host's processes, while one on
//!   the host sees the container's too (shown:
//!   `a_pid_namespace_hides_the_host_from_inside_but_not_the_inside_from_the_host`);
//!   processes hidden by a `hidepid=` mount of `/proc` are not listed at all; and a program
//!   that maps the file a moment after the look takes no lock that could hold the sweep
//!   off.
//!
//!   Which lock, and why: an *open-file-description* record lock (`F_OFD_SETLK`) on one
//!   byte past the end of the file. Classic `fcntl` locks (`F_SETLK`) belong to the
//!   process, so a sweep would never conflict with its own process's segments (and would
//!   unlink them), and its `close` would drop every lock its process holds on the file.
//!   And not `flock`, because that is exercise 05's lock: on Linux `flock` and
//!   `fcntl`-family locks never see each other (on local file systems: tmpfs, ext4), so
//!   holding the lesson's lock neither keeps a segment alive nor makes a sweep wait.
//! * **Never touch a file the kata did not create.** `/dev/shm` belongs to every program
//!   on the machine. `create` marks its files (the `user.shm-kata` extended attribute);
//!   `liveness::is_kata_segment(&path)` looks for that mark without opening anything, and
//!   `liveness::is_kata_file(&file)` asks again once you have opened it (the name may have
//!   changed hands in between). Unmarked files, links, directories: leave them alone, and
//!   do not even open them: an `open` is not harmless (it wakes a FIFO's waiting writer, a
//!   device may act on it), so look first, open only what carries the mark.
//!
//! The trap is the gap between looking and acting. Keep the claimed file open until the
//! unlink is done (nobody can register as a holder meanwhile), and check with
//! `liveness::names_same_file(&file, &path)` that the name still means the file you
//! claimed. Anything you cannot open or check: skip it, don't fail (a name removed since
//! the listing is `NotFound`; a running program cannot be opened for writing: `ETXTBSY`).
//! The claim needs a *writable* open (read + write): on a read-only descriptor the
//! exclusive lock fails with `EBADF`, and a sweep that skips on errors then skips
//! everything. The one failure that does end a sweep is a directory it cannot list
//! (`dir.names()` fails): that is `Error::Io`, named after the directory
//! (`name: dir.path().display().to_string()`).
//!
//! Builds on: 01 create (`OwnedSegment::create` is `create`) and 02 attach (its tests
//! attach). A compile error in those shows here too; no other exercise ever stops this one.
//!
//! Run: `cargo test --test 06_cleanup`   Stuck? `cargo run -- hint 6`

#[allow(unused_imports)] // you will need these
use std::fs::{File, OpenOptions};
use std::ops::{Deref, DerefMut};
#[allow(unused_imports)]
use std::os::unix::fs::OpenOptionsExt;

#[allow(unused_imports)]
use nix::fcntl::OFlag;

#[allow(unused_imports)]
use crate::create::{create, validate_name};
#[allow(unused_imports)]
use shm_kata::liveness;
use shm_kata::{Error, Segment, SegmentDir};

/// Removes the name `name` from `dir`. Mappings that are open stay valid: the memory is
/// freed when the last one is dropped.
pub fn unlink(dir: &SegmentDir, name: &str) -> Result<(), Error> {
    // TODO: validate the name, remove the file, map the error with Error::io.
    todo!(
        "06 cleanup: unlink segment {name:?} in {}",
        dir.path().display()
    )
}

/// A segment that unlinks its name when dropped: the creator's handle.
#[derive(Debug)]
pub struct OwnedSegment {
    segment: Segment,
    dir: SegmentDir,
}

impl OwnedSegment {
    /// Creates segment `name` of `len` bytes in `dir` (with `create`), owned by the caller.
    pub fn create(dir: &SegmentDir, name: &str, len: usize) -> Result<OwnedSegment, Error> {
        // TODO: create the segment and keep it, with a copy of the directory.
        todo!(
            "06 cleanup: create an owned segment {name:?} of {len} bytes in {}",
            dir.path().display()
        )
    }
}

impl Drop for OwnedSegment {
    fn drop(&mut self) {
        // TODO: unlink the name (self.dir, self.segment.name()) if it still names our
        // file (liveness::names_same_file); ignore the result. No todo!() here on
        // purpose: a panic inside a drop that runs during a panic aborts.
        let _ = (&self.dir, &self.segment);
    }
}

impl Deref for OwnedSegment {
    type Target = Segment;

    fn deref(&self) -> &Segment {
        &self.segment
    }
}

impl DerefMut for OwnedSegment {
    fn deref_mut(&mut self) -> &mut Segment {
        &mut self.segment
    }
}

/// Unlinks every segment in `dir` that the kata created and that no live process holds,
/// and returns their names, sorted.
pub fn sweep(dir: &SegmentDir) -> Result<Vec<String>, Error> {
    // TODO: for each name in dir.names(): skip it unless is_kata_segment(path); open it
    // yourself (read + write, O_NOFOLLOW | O_NONBLOCK); skip it unless is_kata_file(&file)
    // and claim(&file) is Ok(true), used_by_another_process(&file) is Ok(false), and
    // names_same_file(&file, &path) is Ok(true); then, with the file still open, unlink it
    // and remember the name.
    todo!(
        "06 cleanup: sweep dead segments from {}",
        dir.path().display()
    )
}
