//! The kit's answer to "is anybody still using this segment?", asked of the kernel.
//!
//! A crashed process never runs its cleanup, so a segment it created stays behind: an
//! orphan that holds RAM until reboot. Removing orphans (exercise 06's `sweep`) needs to
//! know whether a segment still has a *live* holder, and that answer must come from the
//! kernel, never from a list of PIDs: a PID is reused as soon as its process is gone, and
//! a process that is SIGKILLed cannot take its own name off a list.
//!
//! # The mechanism: one shared lock per holder, one exclusive probe
//! * Every [`Segment`](crate::Segment), the moment it is built, takes a **shared
//!   open-file-description lock** (`fcntl(F_OFD_SETLK, F_RDLCK)`) on its own open file,
//!   and keeps it for as long as it lives. Shared locks never conflict with each other, so
//!   any number of processes (or several segments in one process) hold it at once.
//! * The kernel drops a lock when the last descriptor of its open file description is
//!   closed, which happens on `drop`, on `exit`, on a panic and on SIGKILL alike. A holder
//!   cannot "forget" to unregister.
//! * A sweeper opens the file *itself* and asks for an **exclusive** lock on the same byte
//!   without waiting ([`claim`]). The kernel grants it only if no live holder is left.
//!
//! # Why this kind of lock
//! * **Not classic `fcntl` record locks (`F_SETLK`).** They belong to the *process*: a
//!   sweep would never conflict with the segments its own process holds (and would unlink
//!   them), and closing *any* descriptor of the file drops *all* of the process's locks on
//!   it, so the sweep's own `close` would unregister every holder in its process.
//! * **Not `flock`.** Exercise 05 teaches `flock` as the lock that guards the data; if the
//!   kit used `flock` for liveness, a learner's exclusive `flock` would wait for every
//!   attached process to leave. On Linux, `flock` and `fcntl`-family locks live in separate
//!   tables and never see each other (on local file systems; NFS emulates `flock` with
//!   record locks, and there the two would collide).
//! * **One byte far past the end** ([`LIVENESS_OFFSET`]), not the whole file: record locks
//!   may cover bytes a file does not have, and this byte is past any segment's data, so a
//!   later lesson that locks *ranges of the data* cannot collide with it either.
//!
//! One consequence to know: a child process shares its parent's descriptors from `fork`,
//! and with them the parent's shared lock. At `exec` only the descriptors marked
//! close-on-exec close (every file Rust's `std` opens is, the kit's included); the others
//! stay with the new program (the facts suite's
//! `a_child_keeps_only_the_descriptors_without_close_on_exec`). So a child counts as a
//! holder until it `exec`s, or for good if it never does, or if the descriptor lacks the
//! flag. That errs on the safe side: a sweep
//! may keep a segment a moment longer, never remove one too early.
//!
//! # Which files are the kata's
//! `/dev/shm` is shared with every program on the machine, and Python's segments (or
//! anyone's) carry no liveness lock: to a sweep they would look dead while in use (the
//! mistake of CPython's resource tracker, gh-82300). So `create` marks its file with the
//! extended attribute [`MARK`] (`user.shm-kata`), and a sweep only ever considers marked
//! files ([`is_kata_segment`]). Attaching never marks: a segment some other program made
//! stays that program's business. On a filesystem without user xattrs (tmpfs before Linux
//! 6.6), marking fails quietly and such segments are simply never swept: the safe side.
//!
//! # The race this closes
//! An attacher opens the file *before* it takes its shared lock. If a sweep claims and
//! unlinks the segment in between, the attacher would end up holding a name-less file.
//! So registration re-checks, after taking the lock, that the path still names the file it
//! holds ([`names_same_file`]); if not, `attach` fails with `NotFound`, exactly as if it
//! had come a moment later. A sweep, symmetrically, checks the same thing while it holds
//! its claim, right before it unlinks.
//!
//! # Holders that take no lock: the kernel's own record
//! Only a [`Segment`](crate::Segment) takes the liveness lock. A Python program (or any C
//! program) attached to a kata segment takes none, and to the lock it looks dead. But the
//! kernel keeps its own record of who uses a file, readable in `/proc`: every mapping in
//! `/proc/PID/maps` (device and inode of the mapped file) and every open descriptor in
//! `/proc/PID/fd` (links that resolve to the open file). [`used_by_another_process`] asks
//! it, as a second check before a sweep unlinks. What it cannot see:
//! * other users' processes, for an unprivileged sweep: their `/proc/PID/fd` (mode `0500`)
//!   and `/proc/PID/maps` (ptrace access needed) are unreadable. A kata file is mode
//!   `0600`, so another user could only be root;
//! * non-dumpable processes of the sweep's own user (`PR_SET_DUMPABLE` 0: started from a
//!   setuid or setgid program, with file capabilities, or by their own choice): their
//!   `/proc/PID/fd` and `maps` are root's only (the facts suite's
//!   `a_non_dumpable_process_hides_its_descriptors_from_its_own_user`);
//! * processes `/proc` does not list: a sweep inside a container (a PID namespace of its
//!   own) sees none of the host's processes nor other containers' (the host, though, sees
//!   the container's: `a_pid_namespace_hides_the_host_from_inside_but_not_the_inside_from_the_host`),
//!   and a `hidepid=` mount of `/proc` hides other users' processes;
//! * a holder that opens or maps the file the moment after the scan: a non-kata program
//!   takes no lock, so nothing can hold it off.
//!
//! One gap is left, and it is Linux's: there is no "unlink this name only if it still
//! names this inode". Between a sweep's last check and its `unlink`, a few microseconds,
//! *another* process would have to unlink the dead segment and create a new one under the
//! same name for the sweep to remove the newcomer's name.

use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// The extended attribute `create` sets on a segment's file: "the kata made this one".
pub const MARK: &str = "user.shm-kata";

/// The byte whose lock means "a live holder has this segment": far past the end of any
/// segment (2^62), so it never overlaps a lock on the segment's data.
pub const LIVENESS_OFFSET: i64 = 1 << 62;

/// How long registration waits while a sweep holds its exclusive claim on the same file.
/// A sweep holds it for the time of a look through `/proc` and one `unlink`, so this is
/// generous.
const PATIENCE: Duration = Duration::from_secs(2);

/// How long registration retries without sleeping while a claim is held.
const SPIN: Duration = Duration::from_millis(50);

/// Registers `file` (the open file behind a segment being built) as a live holder of
/// segment `name` in `dir`, and checks that the name still names that file.
///
/// Waits at most [`PATIENCE`] for a sweep that holds its exclusive claim. Fails with
/// `NotFound` if the name was removed (or replaced) before the registration took hold.
pub(crate) fn register(file: &File, dir: &Path, name: &str) -> Result<()> {
    let io_error = |source| Error::Io {
        name: name.to_owned(),
        source,
    };
    let start = Instant::now();
    let deadline = start + PATIENCE;
    while !ofd::try_lock(file, ofd::Kind::Shared).map_err(io_error)? {
        let now = Instant::now();
        if now >= deadline {
            return Err(io_error(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "another process has held this segment's exclusive liveness claim for over \
                     {PATIENCE:?}: a sweep that is stuck half-way? (try again, or check who has \
                     the file open with `fuser`)"
                ),
            )));
        }
        // A sweep holds its claim for a look through /proc and an unlink: a few
        // milliseconds, tens on a busy machine. For that long, try again at once (yielding
        // the CPU in between): a holder gets in the moment the claim is let go, instead of
        // a sleep later. After that, something is slow: try only every millisecond.
        if now - start < SPIN {
            std::thread::yield_now();
        } else {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    if names_same_file(file, &dir.join(name)).map_err(io_error)? {
        Ok(())
    } else {
        Err(Error::NotFound {
            name: name.to_owned(),
            dir: dir.to_owned(),
        })
    }
}

/// Marks a freshly created segment's file as the kata's. Fails quietly (the segment then
/// never gets swept) where the filesystem has no user extended attributes.
pub(crate) fn mark(file: &File) {
    let _ = rustix::fs::fsetxattr(file, MARK, b"1", rustix::fs::XattrFlags::empty());
}

/// Whether `path` is a plain file (not a link, a directory, a FIFO or a device) that
/// carries the kata's [`MARK`]. Never follows a symlink, never opens the file, never
/// changes anything: safe to ask of any name in `/dev/shm`, before deciding to open it.
pub fn is_kata_segment(path: &Path) -> bool {
    let plain_file = std::fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_file());
    plain_file && rustix::fs::lgetxattr_query(path, MARK).is_ok()
}

/// The same question as [`is_kata_segment`], asked of a file already open: the answer
/// that counts, since the name may have been given to another file between a look at the
/// path and the `open`.
pub fn is_kata_file(file: &File) -> bool {
    file.metadata().is_ok_and(|meta| meta.is_file())
        && rustix::fs::fgetxattr_query(file, MARK).is_ok()
}

/// Tries, without waiting, to take the exclusive liveness claim through `file`: `Ok(true)`
/// means no live holder is left, and nobody can register as one until `file` is closed;
/// `Ok(false)` means some live process holds the segment.
///
/// `file` must be this caller's *own* open of the segment (a fresh `open`, not a clone of
/// a segment's descriptor: a clone shares its description, and with it the holder's
/// shared lock), opened for writing (an exclusive record lock needs a writable
/// descriptor).
pub fn claim(file: &File) -> io::Result<bool> {
    ofd::try_lock(file, ofd::Kind::Exclusive)
}

/// Whether `path` names the very file `file` has open (same device and inode), without
/// following a symlink at `path`. False if `path` is gone.
pub fn names_same_file(file: &File, path: &Path) -> io::Result<bool> {
    let held = file.metadata()?;
    match std::fs::symlink_metadata(path) {
        Ok(named) => Ok(named.dev() == held.dev() && named.ino() == held.ino()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether another process has the file behind `file` mapped or open, by the kernel's
/// record in `/proc`: a line of `/proc/PID/maps` with its device and inode, or a link in
/// `/proc/PID/fd` that resolves to it. This process is left out (its segments answer
/// through the lock, and its own opens include the sweep's claim), and so is every process
/// whose entries cannot be read (see the module docs for which those are). An error means
/// `/proc` itself could not be listed: then nobody can tell, and a sweep leaves the file.
pub fn used_by_another_process(file: &File) -> io::Result<bool> {
    let held = file.metadata()?;
    let (dev, ino) = (held.dev(), held.ino());
    let me = std::process::id();
    for entry in std::fs::read_dir("/proc")? {
        let Ok(entry) = entry else { continue };
        let pid = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok());
        if pid.is_none_or(|pid| pid == me) {
            continue; // not a process, or this one
        }
        let process = entry.path();
        if maps_file(&process, dev, ino) || has_file_open(&process, dev, ino) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether `/proc/PID/maps` lists a mapping of device `dev`, inode `ino`. A line reads
/// `start-end perms offset MAJOR:MINOR inode path`, the device numbers in hex.
pub(crate) fn maps_file(process: &Path, dev: u64, ino: u64) -> bool {
    let Ok(maps) = std::fs::read_to_string(process.join("maps")) else {
        return false; // gone, or not ours to read
    };
    let device = format!(
        "{:02x}:{:02x}",
        rustix::fs::major(dev),
        rustix::fs::minor(dev)
    );
    let inode = ino.to_string();
    maps.lines().any(|line| {
        let mut fields = line.split_whitespace().skip(3);
        fields.next() == Some(device.as_str()) && fields.next() == Some(inode.as_str())
    })
}

/// Whether one of the links in `/proc/PID/fd` resolves to device `dev`, inode `ino`
/// (`stat` follows the link to the open file itself, even after its name was removed).
fn has_file_open(process: &Path, dev: u64, ino: u64) -> bool {
    let Ok(fds) = std::fs::read_dir(process.join("fd")) else {
        return false; // gone, or not ours to read
    };
    fds.flatten().any(|fd| {
        std::fs::metadata(fd.path()).is_ok_and(|meta| meta.dev() == dev && meta.ino() == ino)
    })
}

/// Open-file-description locks on the liveness byte.
#[cfg(any(target_os = "linux", target_os = "android"))]
mod ofd {
    use std::fs::File;
    use std::io;

    use nix::errno::Errno;
    use nix::fcntl::{FcntlArg, fcntl};
    use nix::libc;

    pub enum Kind {
        Shared,
        Exclusive,
    }

    /// `Ok(false)` when a conflicting lock is held by another open file description.
    pub fn try_lock(file: &File, kind: Kind) -> io::Result<bool> {
        let lock = libc::flock {
            l_type: match kind {
                Kind::Shared => libc::F_RDLCK,
                Kind::Exclusive => libc::F_WRLCK,
            } as libc::c_short,
            l_whence: libc::SEEK_SET as libc::c_short,
            l_start: super::LIVENESS_OFFSET,
            l_len: 1,
            l_pid: 0, // required by F_OFD_SETLK: the owner is the description, not a PID
        };
        match fcntl(file, FcntlArg::F_OFD_SETLK(&lock)) {
            Ok(_) => Ok(true),
            Err(Errno::EAGAIN | Errno::EACCES) => Ok(false),
            Err(errno) => Err(errno.into()),
        }
    }
}

/// Elsewhere there are no open-file-description locks: nobody registers, and no claim is
/// ever granted, so a sweep never removes anything (the safe side).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod ofd {
    use std::fs::File;
    use std::io;

    pub enum Kind {
        Shared,
        Exclusive,
    }

    pub fn try_lock(_file: &File, kind: Kind) -> io::Result<bool> {
        Ok(matches!(kind, Kind::Shared))
    }
}

#[cfg(test)]
mod tests {
    use std::fs::OpenOptions;

    use nix::fcntl::{FcntlArg, fcntl};
    use nix::libc;

    use super::*;

    fn open(path: &Path) -> File {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .unwrap()
    }

    /// A lock on the segment's data, even an exclusive one over its first TiB, never meets
    /// the liveness byte: a sweep can still claim the file, a holder can still register.
    #[test]
    fn a_lock_on_the_data_never_meets_the_liveness_byte() {
        let tmp = crate::scratch::for_unit_test();
        let path = tmp.path().join("seg");
        let data = open(&path);
        let data_lock = libc::flock {
            l_type: libc::F_WRLCK as libc::c_short,
            l_whence: libc::SEEK_SET as libc::c_short,
            l_start: 0,
            l_len: 1 << 40,
            l_pid: 0,
        };
        fcntl(&data, FcntlArg::F_OFD_SETLK(&data_lock)).unwrap();
        assert!(
            claim(&open(&path)).unwrap(),
            "an exclusive lock on bytes 0..2^40 kept a sweep from claiming the file: the \
             liveness byte must lie past any data (LIVENESS_OFFSET)"
        );
    }

    /// Only a plain file with the mark is the kata's; an unmarked one is not, whatever
    /// else is true of it.
    #[test]
    fn an_open_file_is_the_katas_only_with_the_mark() {
        let tmp = crate::scratch::for_unit_test();
        let file = open(&tmp.path().join("seg"));
        assert!(
            !is_kata_file(&file),
            "a plain file without the user.shm-kata mark is not the kata's"
        );
        mark(&file);
        if rustix::fs::fgetxattr_query(&file, MARK).is_ok() {
            assert!(is_kata_file(&file), "a marked plain file is the kata's");
        }
    }

    /// A name that cannot be looked at (a path through a plain file) is an error, not a
    /// "no": only a name that is gone answers `false`.
    #[test]
    fn only_a_missing_name_is_not_the_same_file() {
        let tmp = crate::scratch::for_unit_test();
        let path = tmp.path().join("seg");
        let file = open(&path);
        assert!(names_same_file(&file, &path).unwrap());
        assert!(!names_same_file(&file, &tmp.path().join("gone")).unwrap());
        assert!(
            names_same_file(&file, &path.join("below-a-file")).is_err(),
            "ENOTDIR is not a missing name: it must be an error"
        );
    }
}
