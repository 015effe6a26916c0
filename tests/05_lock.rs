//! Exercise 05 · lock. Open `exercises/05_lock.rs`; hint: `cargo run -- hint 5`.
//! (These tests use your `create` and `attach` from 01–02.)

// The exercises these tests use: yours, or the answers with `--features solutions`.
shm_kata::exercises!(create, attach, lock);

mod common;

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::attach::attach;
use crate::create::create;
use crate::lock::{LockGuard, add_atomic, add_locked, lock, try_lock};
use common::{
    Ready, Scratch, one_at_a_time, process_cases, start_until_ready, use_this_builds_worker, within,
};
use proptest::prelude::*;
use shm_kata::job::{Counting, Job};
use shm_kata::{Error, Segment, SegmentDir, worker};

/// How long any worker, lock or process may take before the test calls it a hang.
const LIMIT: Duration = Duration::from_secs(60);

/// How long a call that must never wait (`try_lock`, an `open` with `O_NONBLOCK`) may take
/// before the test calls it blocked. Such a call returns in microseconds; this only bounds
/// the wait for one that blocks, so the mistake is reported in seconds, not minutes.
const PATIENCE: Duration = Duration::from_secs(5);

/// A one-page segment whose word 0 is the counter, starting at 0.
fn counter(dir: &SegmentDir, name: &str) -> Segment {
    create(dir, name, 4096).expect("create (exercise 01) should succeed")
}

/// The jobs of `processes` workers that each add 1 to the counter `times` times, all
/// starting at the same moment.
fn adders(dir: &SegmentDir, name: &str, with: Counting, processes: usize, times: u32) -> Vec<Job> {
    let job = Job::Count {
        dir: dir.path().to_owned(),
        name: name.to_owned(),
        with,
        times,
        together: processes as u32,
    };
    vec![job; processes]
}

/// `try_lock(dir, name)`, bounded: `Ok(true)` if it got the lock (and let go at once),
/// `Ok(false)` if someone holds it. A `try_lock` that waits fails the test after
/// [`PATIENCE`]; the thread it waits on is freed when the test ends and the holder with it.
fn got_the_lock(dir: &SegmentDir, name: &'static str) -> Result<bool, Error> {
    let dir = dir.clone();
    within(PATIENCE, "try_lock", move || {
        try_lock(&dir, name).map(|guard| guard.is_some())
    })
}

/// `lock(dir, name)` of a segment nobody has locked, bounded: it returns at once, so after
/// [`PATIENCE`] the test fails instead of hanging. (The segment may be attached meanwhile,
/// in this process, and attached segments must never hold the lock.) The guard must hold a
/// `flock` on the segment's file: the kernel's lock table (`/proc/locks`) says which kind.
/// Once such a `lock` has waited, every later call in this run fails at once with the same
/// cause, so the whole file fails in seconds, not [`PATIENCE`] per test and per shrinking
/// step.
fn lock_a_free_segment(dir: &SegmentDir, name: &str) -> LockGuard {
    static WAITED: AtomicBool = AtomicBool::new(false);
    assert!(
        !WAITED.load(Ordering::Relaxed),
        "lock of a segment nobody has locked already waited more than {PATIENCE:?} earlier in \
         this run, so this test does not wait for it again. {RECORD_LOCK}"
    );
    let path = std::fs::canonicalize(dir.join(name)).expect("the segment's file should exist");
    let (dir, name) = (dir.clone(), name.to_owned());
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(
            || lock(&dir, &name),
        )));
    });
    let guard = match result.recv_timeout(PATIENCE) {
        Ok(Ok(guard)) => guard.unwrap_or_else(|e| {
            let bad_descriptor = matches!(
                &e,
                shm_kata::Error::Io { source, .. } if source.raw_os_error() == Some(nix::libc::EBADF)
            );
            let why = if bad_descriptor {
                "EBADF from a lock on a file opened read-only: that is what an fcntl write lock \
                 (F_SETLK/F_SETLKW with F_WRLCK) says, since it needs a writable descriptor. \
                 flock needs none: lock with Flock::lock on the file you opened yourself"
            } else {
                "a lock of a segment nobody holds must be granted"
            };
            panic!("locking a free segment should succeed, got {e}: {why}")
        }),
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => {
            WAITED.store(true, Ordering::Relaxed);
            panic!(
                "lock of a segment nobody has locked did not return within {PATIENCE:?}: it \
                 waits for something. {RECORD_LOCK}"
            )
        }
    };
    let kinds = lock_kinds(&path);
    assert!(
        !kinds.iter().any(|kind| kind == "POSIX"),
        "the guard holds an fcntl record lock (POSIX in /proc/self/fdinfo), not a flock. {RECORD_LOCK}"
    );
    assert!(
        kinds.iter().any(|kind| kind == "FLOCK"),
        "while the guard is held, the kernel lists no flock on the segment's file (its locks: \
         {kinds:?}): lock the file you opened with Flock::lock(file, \
         FlockArg::LockExclusive), and keep the Flock in the guard"
    );
    guard
}

/// Why an `fcntl` record lock is the wrong lock here, for the messages that catch one.
const RECORD_LOCK: &str = "An fcntl record lock (F_SETLK/F_SETLKW) conflicts with the kit's \
     liveness locks, which every attached Segment holds (over the whole file it waits for \
     them, and they wait for it), and it belongs to the process, not to one open: lock with \
     flock (Flock::lock) on a file you opened yourself";

/// The kinds of the locks this process's open files of `path` hold, as the kernel lists
/// them in `/proc/self/fdinfo/N` (`FLOCK`, `POSIX` for an fcntl record lock, `OFDLCK` for
/// the kit's liveness locks). Each descriptor's own small file, read at once: unlike the
/// machine-wide `/proc/locks`, which comes a page per read and can shift a line out of
/// sight when locks come and go elsewhere between two reads.
fn lock_kinds(path: &Path) -> Vec<String> {
    let mut kinds = Vec::new();
    let fds = std::fs::read_dir("/proc/self/fd").expect("the test lists /proc/self/fd");
    for fd in fds.flatten() {
        if std::fs::read_link(fd.path()).ok().as_deref() != Some(path) {
            continue;
        }
        let info = Path::new("/proc/self/fdinfo").join(fd.file_name());
        // A line: `lock:\t1: FLOCK  ADVISORY  WRITE 15245 fe:00:6332852 0 EOF`.
        for line in std::fs::read_to_string(info).unwrap_or_default().lines() {
            if let Some(lock) = line.strip_prefix("lock:") {
                let kind = lock.split_whitespace().nth(1).unwrap_or_default();
                if kind != "->" && !kinds.iter().any(|k| k == kind) {
                    kinds.push(kind.to_owned());
                }
            }
        }
    }
    kinds
}

/// What a locking call gave, in the words of its API: a guard, `None`, or the error.
fn shown<T>(result: &Result<T, Error>, some: impl Fn(&T) -> bool) -> String {
    match result {
        Ok(value) if some(value) => "a guard".into(),
        Ok(_) => "None".into(),
        Err(e) => format!("Err({e:?})"),
    }
}

/// The likely cause of a `try_lock` that should have said `None` but failed instead.
fn when_not_none(result: &Result<bool, Error>) -> &'static str {
    match result {
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::WouldBlock => {
            "A lock held by someone else is Ok(None), not an error: map EWOULDBLOCK to Ok(None)"
        }
        _ => "",
    }
}

/// A worker that holds the lock of `name` in the middle of its read-then-write. First,
/// this process takes and drops the lock once, bounded: a lock that waits for the kit's
/// liveness locks fails here in seconds, named, not after the worker's minute.
fn lock_holder(dir: &SegmentDir, name: &str) -> Ready {
    use_this_builds_worker();
    drop(lock_a_free_segment(dir, name));
    let job = Job::HoldLock {
        dir: dir.path().to_owned(),
        name: name.to_owned(),
    };
    start_until_ready(&job, LIMIT)
}

/// Runs `processes` worker processes that each add 1 to the counter `times` times, and
/// returns the final count.
fn count_with_workers(with: Counting, processes: usize, times: u32) -> u32 {
    let _serial = one_at_a_time();
    use_this_builds_worker();
    let scratch = Scratch::new();
    let segment = counter(&scratch.dir, "counter");
    if with == Counting::Lock {
        drop(lock_a_free_segment(&scratch.dir, "counter"));
    }
    let workers = worker::spawn(adders(&scratch.dir, "counter", with, processes, times))
        .expect("the worker processes should start");
    if let Err(e) = worker::wait_all(workers, LIMIT) {
        panic!("a worker process failed: {e}");
    }
    let count = segment.read_words()[0];
    drop(segment);
    scratch.remove("counter");
    scratch.finish();
    count
}

proptest! {
    #![proptest_config(process_cases(16))]

    /// P processes each read the counter and write it back plus one, K times, under the
    /// lock: no update is lost, the count is exactly P·K.
    #[test]
    fn locked_read_then_write_never_loses_an_update(processes in 2usize..=6, times in 1_000u32..=2_000) {
        let count = count_with_workers(Counting::Lock, processes, times);
        prop_assert_eq!(count, processes as u32 * times,
            "{} processes × {} locked increments should count {}, got {}: fewer means two \
             processes were inside the read-then-write at once (is the lock exclusive, and \
             held from before the read until after the write? `let _ = lock(..)` drops the \
             guard at once: name it `_guard`)",
            processes, times, processes as u32 * times, count);
    }

    /// One counter word needs no lock at all: `fetch_add` on the segment's atomic view
    /// counts exactly P·K too. (Thousands of adds each, which cost microseconds: a load
    /// and a store in their place lose updates as soon as two processes overlap.)
    #[test]
    fn atomic_adds_need_no_lock(processes in 2usize..=6, times in 1_000u32..=20_000) {
        let count = count_with_workers(Counting::Atomic, processes, times);
        prop_assert_eq!(count, processes as u32 * times,
            "{} processes × {} atomic increments should count {}, got {}: use \
             fetch_add(1, …) on word 0 (segment.atomics().first()), not a load and a store",
            processes, times, processes as u32 * times, count);
    }
}

/// The likely cause of increments lost although a holder had the lock, for the messages.
const GUARD_DROPPED: &str = ": some were lost, so two processes were inside the read-then-write \
     at once. The likely cause: a guard dropped at once. `let _ = lock(..)?` drops it on the \
     spot; bind it, `let _guard = lock(..)?`, so it lives to the end of the turn";

/// Starts a worker that holds the lock of `name` in the middle of its turn, then
/// `processes` counting workers that must queue behind it, and checks after a pause that
/// none of them got in.
fn queue_behind_a_holder(
    segment: &Segment,
    dir: &SegmentDir,
    processes: usize,
    times: u32,
) -> (Ready, Vec<worker::Worker>) {
    let holder = lock_holder(dir, segment.name());
    let jobs = adders(dir, segment.name(), Counting::Lock, processes, times);
    let waiting = worker::spawn(jobs).expect("the worker processes should start");
    // Not a pause that a busy machine may outlast: the kernel says when every worker is
    // queued for the lock (`/proc/locks`), and until then the counter must not move.
    let path = dir.join(segment.name());
    let deadline = std::time::Instant::now() + LIMIT;
    loop {
        assert_eq!(
            segment.read_words()[0],
            0,
            "another process changed the counter while a holder had the lock: add_locked must \
             take the lock (and wait for it) before it reads"
        );
        let queued = waiters_on(&path);
        if queued >= processes {
            break;
        }
        let ended: Vec<usize> = waiting
            .iter()
            .filter(|w| has_ended(w.pid()))
            .map(|w| w.index())
            .collect();
        assert!(
            ended.is_empty() && std::time::Instant::now() < deadline,
            "while a holder had the lock, {queued} of {processes} workers waited for it \
             (/proc/locks), and worker(s) {ended:?} ended instead: add_locked must wait for \
             the lock (flock with LOCK_EX, which blocks) before each read-then-write"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    (holder, waiting)
}

/// How many lock requests wait, blocked, for the file at `path`: `/proc/locks` shows each
/// as a `->` line naming the file's inode (as `major:minor:inode`).
fn waiters_on(path: &Path) -> usize {
    use std::os::unix::fs::MetadataExt;
    let Ok(inode) = std::fs::metadata(path).map(|m| m.ino().to_string()) else {
        return 0;
    };
    std::fs::read_to_string("/proc/locks")
        .unwrap_or_default()
        .lines()
        .filter(|line| line.contains("->"))
        .filter(|line| {
            line.split_whitespace().any(|field| {
                field.matches(':').count() == 2 && field.rsplit(':').next() == Some(&inode)
            })
        })
        .count()
}

/// Whether process `pid` has ended (a zombie not reaped yet counts as ended).
fn has_ended(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
        Err(_) => true,
    }
}

/// While one process holds the lock in the middle of its read-then-write, no other process
/// gets in; when it lets go, they all finish and nothing is lost.
#[test]
fn a_held_lock_keeps_every_other_process_out() {
    let _serial = one_at_a_time();
    let scratch = Scratch::new();
    let segment = counter(&scratch.dir, "turns");
    let (processes, times) = (4, 50);
    let (holder, waiting) = queue_behind_a_holder(&segment, &scratch.dir, processes, times);
    let (status, stderr) = holder.finish(LIMIT);
    assert!(status.success(), "the holder failed:\n{stderr}");
    if let Err(e) = worker::wait_all(waiting, LIMIT) {
        panic!("the waiting workers should all finish once the lock is free: {e}");
    }
    let (count, all) = (segment.read_words()[0], 1 + processes as u32 * times);
    assert_eq!(
        count,
        all,
        "the holder's increment and every worker's should all count{}",
        if count < all { GUARD_DROPPED } else { "" }
    );
    drop(segment);
    scratch.remove("turns");
    scratch.finish();
}

/// A holder SIGKILLed in the middle of its critical section does not deadlock the others:
/// the kernel releases a dead process's lock. Its own increment is lost, nothing else.
#[test]
fn a_holder_killed_mid_critical_section_does_not_deadlock_the_others() {
    let _serial = one_at_a_time();
    let scratch = Scratch::new();
    let segment = counter(&scratch.dir, "crash");
    let (processes, times) = (3, 100);
    let (holder, waiting) = queue_behind_a_holder(&segment, &scratch.dir, processes, times);
    holder.kill();
    if let Err(e) = worker::wait_all(waiting, Duration::from_secs(30)) {
        panic!(
            "after the lock holder was killed, the others should get the lock and finish, \
             but: {e}. A lock that outlives its holder is a deadlock: use flock, which the \
             kernel releases when the holder's file is closed, not a flag in shared memory"
        );
    }
    let (count, all) = (segment.read_words()[0], processes as u32 * times);
    assert_eq!(
        count,
        all,
        "only the killed holder's increment may be missing{}",
        if count < all { GUARD_DROPPED } else { "" }
    );
    drop(segment);
    scratch.remove("crash");
    scratch.finish();
}

/// `try_lock` never waits: while another process holds the lock it says `None`, and once
/// that process is gone (killed) the lock is free again.
#[test]
fn try_lock_says_none_while_another_process_holds_the_lock() {
    let _serial = one_at_a_time();
    use_this_builds_worker();
    let scratch = Scratch::new();
    let segment = counter(&scratch.dir, "busy");
    let holder = lock_holder(&scratch.dir, "busy");
    let held = got_the_lock(&scratch.dir, "busy");
    assert!(
        matches!(held, Ok(false)),
        "try_lock while another process holds the lock should be Ok(None), got {}. {}",
        shown(&held, |&some| some),
        when_not_none(&held)
    );
    holder.kill();
    let free = got_the_lock(&scratch.dir, "busy");
    assert!(
        matches!(free, Ok(true)),
        "once the holder was killed its lock should be free, but try_lock gave {}",
        shown(&free, |&some| some)
    );
    drop(segment);
    scratch.remove("busy");
    scratch.finish();
}

/// Each `lock` is its own open file description, so two guards exclude each other even
/// inside one process (`fcntl` record locks, which belong to the process, would not).
#[test]
fn a_second_lock_in_the_same_process_is_kept_out() {
    let _serial = one_at_a_time();
    let scratch = Scratch::new();
    let segment = counter(&scratch.dir, "twice");
    let guard = lock_a_free_segment(&scratch.dir, "twice");
    assert_eq!(guard.name(), "twice", "the guard should know its segment");
    let second = got_the_lock(&scratch.dir, "twice");
    assert!(
        matches!(second, Ok(false)),
        "a second try_lock while this process holds a guard should be Ok(None), got {}. {}",
        shown(&second, |&some| some),
        match second {
            Ok(true) => "Does each call open the file itself (its own description)?",
            _ => when_not_none(&second),
        }
    );
    drop((guard, segment));
    scratch.remove("twice");
    scratch.finish();
}

/// Dropping the guard is what releases the lock.
#[test]
fn dropping_the_guard_releases_the_lock() {
    let _serial = one_at_a_time();
    let scratch = Scratch::new();
    let segment = counter(&scratch.dir, "release");
    drop(lock_a_free_segment(&scratch.dir, "release"));
    for round in 0..3 {
        let got = got_the_lock(&scratch.dir, "release");
        assert!(
            matches!(got, Ok(true)),
            "round {round}: the lock should be free again after the previous guard was \
             dropped, got {}",
            shown(&got, |&some| some)
        );
    }
    drop(segment);
    scratch.remove("release");
    scratch.finish();
}

/// Merely having a segment attached (here, in this process and in another) does not hold
/// its lock: the kit's liveness registration and the lesson's `flock` never collide.
#[test]
fn attached_segments_do_not_hold_the_lock() {
    let _serial = one_at_a_time();
    use_this_builds_worker();
    let scratch = Scratch::new();
    let created = counter(&scratch.dir, "shared");
    let attached = attach(&scratch.dir, "shared").expect("attach (exercise 02) should succeed");
    drop(lock_a_free_segment(&scratch.dir, "shared"));
    let other = start_until_ready(
        &Job::Hold {
            dir: scratch.dir.path().to_owned(),
            name: "shared".into(),
        },
        LIMIT,
    );
    let got = got_the_lock(&scratch.dir, "shared");
    assert!(
        matches!(got, Ok(true)),
        "a segment that is only attached (here and in another process) should be free to \
         lock, got {}. {RECORD_LOCK}",
        shown(&got, |&some| some)
    );
    other.kill();
    drop((created, attached));
    scratch.remove("shared");
    scratch.finish();
}

/// Locking a segment nobody created is `NotFound`, and creates nothing.
#[test]
fn locking_a_missing_segment_is_not_found() {
    let _serial = one_at_a_time();
    let scratch = Scratch::new();
    let dir = scratch.dir.clone();
    let (blocking, trying) = within(LIMIT, "lock of a missing segment", move || {
        (
            lock(&dir, "ghost").map(|_| ()),
            try_lock(&dir, "ghost").map(|_| ()),
        )
    });
    for (call, result) in [("lock", blocking), ("try_lock", trying)] {
        assert!(
            matches!(result, Err(Error::NotFound { .. })),
            "{call} of a missing segment should be Error::NotFound, got {result:?}"
        );
    }
    scratch.finish();
}

/// The name rules hold for locks too.
#[test]
fn lock_refuses_bad_names() {
    let _serial = one_at_a_time();
    let scratch = Scratch::new();
    for name in ["", "..", "../x", "a/b"] {
        let dir = scratch.dir.clone();
        let result = within(LIMIT, "lock of a bad name", move || {
            lock(&dir, name).map(|_| ())
        });
        assert!(
            matches!(result, Err(Error::InvalidName { .. })),
            "lock({name:?}) should be Error::InvalidName (validate_name), got {result:?}"
        );
    }
    scratch.finish();
}

/// A segment with no whole word 0 has no counter: a typed error, never a panic.
#[test]
fn adding_to_a_segment_without_a_whole_word_is_too_small() {
    let _serial = one_at_a_time();
    let scratch = Scratch::new();
    let segment = create(&scratch.dir, "tiny", 3).expect("create (exercise 01) should succeed");
    type Add = fn(&SegmentDir, &str, u32) -> Result<(), Error>;
    let calls: [(&str, Add); 2] = [("add_locked", add_locked), ("add_atomic", add_atomic)];
    for (call, add) in calls {
        let dir = scratch.dir.clone();
        let result = within(LIMIT, "add to a 3-byte segment", move || {
            std::panic::catch_unwind(move || add(&dir, "tiny", 1))
        })
        .unwrap_or_else(|payload| {
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or_default();
            if !message.contains("index out of bounds") {
                std::panic::resume_unwind(payload);
            }
            panic!(
                "{call} on a 3-byte segment panicked (the panic is above): it has no word 0, \
                 so segment.atomics() is empty and atomics()[0] panics. Take \
                 segment.atomics().first() and make None Error::TooSmall"
            )
        });
        assert!(
            matches!(result, Err(Error::TooSmall { .. })),
            "{call} on a 3-byte segment should be Error::TooSmall, got {result:?}"
        );
    }
    drop(segment);
    scratch.remove("tiny");
    scratch.finish();
}

/// Only a plain file can be locked: a directory or a symlink at the name is `NotAFile`.
#[test]
fn only_a_plain_file_can_be_locked() {
    let _serial = one_at_a_time();
    let scratch = Scratch::new();
    let target = common::scratch_file();
    std::fs::create_dir(scratch.dir.join("folder")).unwrap();
    std::os::unix::fs::symlink(target.path(), scratch.dir.join("link")).unwrap();
    for name in ["folder", "link"] {
        let dir = scratch.dir.clone();
        let locked = within(LIMIT, &format!("try_lock on {name:?}"), move || {
            try_lock(&dir, name).map(|guard| guard.is_some())
        });
        assert!(
            matches!(locked, Err(Error::NotAFile { .. })),
            "try_lock on a {name} must be Error::NotAFile (open with O_NOFOLLOW, then check \
             metadata().is_file()), got {}",
            shown(&locked, |&some| some)
        );
        let dir = scratch.dir.clone();
        let locked = within(LIMIT, &format!("lock on {name:?}"), move || {
            lock(&dir, name).map(|guard| guard.name().to_owned())
        });
        assert!(
            matches!(locked, Err(Error::NotAFile { .. })),
            "lock on a {name} must be Error::NotAFile, got {}",
            shown(&locked, |_| true)
        );
    }
    std::fs::remove_dir(scratch.dir.join("folder")).unwrap();
    scratch.remove("link");
    scratch.finish();
}

/// Runs `call` (which locks the FIFO at `fifo`) on a thread of its own. An `open` without
/// `O_NONBLOCK` waits in the kernel until a writer opens the other end; if `call` has not
/// returned after [`PATIENCE`], the test opens that end itself, which lets the `open`
/// return, and fails naming the cause. Nothing is left waiting.
fn lock_a_fifo<T: Send + 'static>(
    fifo: &Path,
    call: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    match result.recv_timeout(PATIENCE) {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => {
            // The reader is waiting, so a non-blocking open of the writing end succeeds
            // and wakes it.
            let writer = std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
                .open(fifo);
            let _ = result.recv_timeout(LIMIT);
            drop(writer);
            panic!(
                "{call} on a FIFO blocked in open(): opening a FIFO waits until another \
                 process opens its other end (here it returned only after this test did). \
                 Open with O_NONBLOCK too (custom_flags(O_NOFOLLOW | O_NONBLOCK)); it changes \
                 nothing about flock, which waits or not by its own flag"
            );
        }
    }
}

/// A FIFO planted at the name is `NotAFile`, at once: it must not even block the `open`
/// (without `O_NONBLOCK`, opening a FIFO waits for a writer that never comes).
#[test]
fn a_fifo_at_the_name_is_not_a_file_and_never_blocks_the_open() {
    let _serial = one_at_a_time();
    let scratch = Scratch::new();
    let fifo = scratch.dir.join("pipe");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let dir = scratch.dir.clone();
    let trying = lock_a_fifo(&fifo, "try_lock", move || {
        try_lock(&dir, "pipe").map(|guard| guard.is_some())
    });
    assert!(
        matches!(trying, Err(Error::NotAFile { .. })),
        "try_lock on a FIFO must be Error::NotAFile (check metadata().is_file()), got {}",
        shown(&trying, |&some| some)
    );
    let dir = scratch.dir.clone();
    let locking = lock_a_fifo(&fifo, "lock", move || {
        lock(&dir, "pipe").map(|guard| guard.name().to_owned())
    });
    assert!(
        matches!(locking, Err(Error::NotAFile { .. })),
        "lock on a FIFO must be Error::NotAFile (check metadata().is_file()), got {}",
        shown(&locking, |_| true)
    );
    scratch.remove("pipe");
    scratch.finish();
}

/// A guard is an open of its own, not a clone of an attached segment's descriptor: while
/// only a guard exists, nobody holds the segment (the kit's liveness says it is free to
/// claim). A clone would share the attached `Segment`'s description, and with it the
/// segment's liveness registration — and its unlock would release that description's lock.
#[test]
fn a_guard_is_an_open_of_its_own_not_a_clone_of_a_segments_descriptor() {
    let _serial = one_at_a_time();
    let scratch = Scratch::new();
    drop(counter(&scratch.dir, "alone"));
    let guard = lock_a_free_segment(&scratch.dir, "alone");
    let probe = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(scratch.dir.join("alone"))
        .expect("the test opens the segment's file");
    let nobody_holds_it = shm_kata::liveness::claim(&probe);
    assert!(
        matches!(nobody_holds_it, Ok(true)),
        "with no Segment alive and only a lock guard held, the segment should have no holder, \
         but liveness::claim says {nobody_holds_it:?}: the guard's file shares its open file \
         description with an attached Segment. Don't lock a clone of a segment's descriptor \
         (segment.file().try_clone()): open the file yourself, a fresh open per lock"
    );
    drop((probe, guard));
    scratch.remove("alone");
    scratch.finish();
}
