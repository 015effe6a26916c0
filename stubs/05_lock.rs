//! # 05 · lock — when ranges overlap, take turns
//!
//! Exercise 03 avoided locks by never letting two workers touch the same word. Some data
//! cannot be split that way: here, P processes each add 1 to *one* counter word K times,
//! by reading it and then writing it back plus one. Two processes that read the same old
//! value both write old + 1, and one update is lost. Only one process at a time may be
//! between the read and the write: that stretch is the *critical section*, and a lock
//! decides whose turn it is. With the lock, the count is exactly P·K, every time.
//!
//! You write:
//! * `lock(dir, name)`: open the segment's file *yourself*, then take an exclusive
//!   `flock` on it: `Flock::lock(file, FlockArg::LockExclusive)` waits for its turn (it
//!   takes the file by value, and on failure gives it back: `Err((file, errno))`). Wrap
//!   the `Flock<File>` in a `LockGuard`: when the guard is dropped, the `Flock` unlocks and
//!   the file closes, so the lock is released on every way out of the critical section
//!   (a `return`, a `?`, a panic). Open with `O_NOFOLLOW | O_NONBLOCK` and refuse anything
//!   that is not a plain file (`Error::NotAFile`): a FIFO planted at the name would
//!   otherwise block the `open` itself forever, and `try_lock` must never wait.
//! * `try_lock(dir, name)`: the same with `FlockArg::LockExclusiveNonblock`, which fails
//!   at once with `EWOULDBLOCK` when someone holds the lock: that is `Ok(None)`, not an
//!   error.
//! * `add_locked(dir, name, times)`: what one worker process does. Attach, then `times`
//!   times: take the lock, read word 0, write it back plus one, drop the guard. Reach the
//!   word through `segment.atomics().first()` (an `Option`: indexing with `[0]` would
//!   panic on a segment too small to hold it), with a `load` and then a `store`: each
//!   access is a whole word, safe while others write, and yet the pair is *not* one step.
//!   Between your load and your store another process can store too; only the lock
//!   prevents it. Keep the guard in a named variable (`let _guard = lock(..)?`) for the
//!   whole turn: `let _ = lock(..)?` drops it on the spot.
//! * `add_atomic(dir, name, times)`: the same counter without any lock, through
//!   `fetch_add(1, Ordering::Relaxed)` on that word: for a *single* word, the hardware's
//!   atomic add already is the critical section.
//!
//! A segment too small to hold word 0 (`first()` is `None`) is `Error::TooSmall { name,
//! needed: 4, actual: segment.len() as u64 }`; a missing one `NotFound`.
//!
//! The Linux facts:
//! * **A `flock` belongs to an open file description**, the thing one `open()` creates.
//!   Each call to `lock` opens the file again, so each guard is its own description and
//!   two guards exclude each other, even inside one process. The trap: a *cloned*
//!   descriptor (`try_clone`, `dup`, or one inherited across `fork`) is the *same*
//!   description. Locking through a clone does not exclude the original; unlocking
//!   through it releases the original's lock. (Shown on your machine: `cargo run --
//!   facts`, `a_cloned_descriptor_shares_and_releases_the_same_flock`.)
//! * **The kernel releases the lock of a dead process.** A holder that is SIGKILLed in the
//!   middle of its critical section loses its descriptors, and with them the lock: the
//!   others go on (shown: `a_killed_holders_flock_is_released`). A spin lock or a plain
//!   pthread mutex *inside* the shared memory would stay locked forever. The in-memory
//!   exception is a *robust*, process-shared pthread mutex: the next locker gets
//!   `EOWNERDEAD`, repairs what the dead holder half-did, then calls
//!   `pthread_mutex_consistent` (shown: `a_robust_mutex_gives_the_next_locker_eownerdead`).
//!   Whichever lock you use, what the dead holder half-did stays half-done: here, its one
//!   increment is simply lost.
//! * **Why not `fcntl` record locks (`F_SETLK`)?** They belong to the *process*, not the
//!   description: two opens in one process never exclude each other, and closing *any*
//!   descriptor of the file, anywhere in the process, silently drops every lock the process
//!   holds on it (shown: `fcntl_record_locks_vanish_when_any_descriptor_closes`). And the
//!   kit already uses the `fcntl` family to know which processes are
//!   alive (`src/liveness.rs`); `flock` locks live in a separate table on Linux, so your
//!   lock and the kit's liveness never see each other (on local file systems such as
//!   tmpfs and ext4; on NFS, `flock` is emulated with record locks and the two would
//!   collide).
//!
//! Builds on: 01 create (`validate_name`) and 02 attach (the counter's segment). A compile
//! error in those shows here too; no other exercise ever stops this one.
//!
//! Run: `cargo test --test 05_lock`   Stuck? `cargo run -- hint 5`

#[allow(unused_imports)] // you will need these
use std::fs::{File, OpenOptions};
#[allow(unused_imports)]
use std::os::unix::fs::OpenOptionsExt;
#[allow(unused_imports)]
use std::sync::atomic::Ordering;

#[allow(unused_imports)]
use nix::errno::Errno;
#[allow(unused_imports)]
use nix::fcntl::{Flock, FlockArg, OFlag};

#[allow(unused_imports)]
use crate::attach::attach;
#[allow(unused_imports)]
use crate::create::validate_name;
use shm_kata::{Error, SegmentDir};

/// Proof that this process holds the lock of one segment. Dropping it releases the lock.
#[derive(Debug)]
pub struct LockGuard {
    name: String,
    // Held for its `Drop`: `Flock` unlocks (`LOCK_UN`) when dropped, then the file closes.
    _flock: Flock<File>,
}

impl LockGuard {
    /// The segment whose lock this is.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Takes the lock of segment `name` in `dir`, waiting as long as another holder has it.
pub fn lock(dir: &SegmentDir, name: &str) -> Result<LockGuard, Error> {
    // TODO: validate the name, open the file yourself (read, O_NOFOLLOW | O_NONBLOCK;
    // `Error::io` for the errors), refuse what is not a plain file (Error::NotAFile),
    // `Flock::lock(file, FlockArg::LockExclusive)`, wrap it in a LockGuard.
    todo!("05 lock: lock segment {name:?} in {}", dir.path().display())
}

/// Takes the lock of segment `name` if it is free right now; `Ok(None)` if someone (in
/// this process or another) holds it. Never waits.
pub fn try_lock(dir: &SegmentDir, name: &str) -> Result<Option<LockGuard>, Error> {
    // TODO: like `lock`, with FlockArg::LockExclusiveNonblock; EWOULDBLOCK is Ok(None).
    todo!(
        "05 lock: try to lock segment {name:?} in {}",
        dir.path().display()
    )
}

/// Worker side: adds 1 to word 0 of `name`, `times` times, each time reading the word and
/// then writing it back plus one while holding the lock.
pub fn add_locked(dir: &SegmentDir, name: &str, times: u32) -> Result<(), Error> {
    // TODO: attach; no word 0 (atomics().first() is None) is Error::TooSmall; then
    // `times` times: lock, load the word, store value + 1 (wrapping), drop the guard.
    todo!(
        "05 lock: add 1 to word 0 of {name:?} in {} {times} times, under the lock",
        dir.path().display()
    )
}

/// Worker side: adds 1 to word 0 of `name`, `times` times, with one atomic `fetch_add`
/// each. No lock.
pub fn add_atomic(dir: &SegmentDir, name: &str, times: u32) -> Result<(), Error> {
    // TODO: attach; no word 0 (atomics().first() is None) is Error::TooSmall; then
    // `times` times fetch_add(1, Ordering::Relaxed) on it.
    todo!(
        "05 lock: add 1 to word 0 of {name:?} in {} {times} times, atomically",
        dir.path().display()
    )
}
