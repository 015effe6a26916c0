//! Exercise 06 · cleanup. Open `exercises/06_cleanup.rs`; hint: `cargo run -- hint 6`.
//! (These tests use your `create`, `attach` and `lock` from 01, 02 and 05.)

// The exercises these tests use: yours, or the answers with `--features solutions`.
shm_kata::exercises!(create, attach, cleanup);

mod common;

use std::path::PathBuf;
use std::time::Duration;

use crate::attach::attach;
use crate::cleanup::{OwnedSegment, sweep, unlink};
use crate::create::create;
use common::{
    Ready, Scratch, cases, one_at_a_time, process_cases, run_bounded, start_until_ready,
    use_this_builds_worker, within,
};
use proptest::prelude::*;
use shm_kata::job::{Job, pattern};
use shm_kata::{Error, Segment, SegmentDir};

/// How long any worker or call may take before the test calls it a hang.
const LIMIT: Duration = Duration::from_secs(60);

/// What to check when an owner's drop removed nothing from the test's directory.
const OWNER_CHECKS: &str = "so the drop removed nothing there: does Drop unlink, and did \
     OwnedSegment::create keep the directory it was given (dir.clone())?";

/// `sweep(dir)`, bounded: a sweep that waits for a lock fails the test instead of hanging.
/// A sweep that fails, or leaves a segment that is plainly dead, fails the test with what
/// the likely mistake is.
fn sweep_now(dir: &SegmentDir) -> Vec<String> {
    let swept = {
        let dir = dir.clone();
        within(LIMIT, "sweep", move || sweep(&dir))
    };
    let swept = swept.unwrap_or_else(|e| panic!("{}", sweep_failed(&e)));
    let names = dir.names().expect("cannot list the scratch directory");
    if let Some(dead) = names.iter().find(|name| plainly_dead(dir, name)) {
        panic!(
            "sweep left {dead:?}, a kata segment nobody holds (this test claimed it through \
             its own read + write open, and no process uses it): your sweep skipped it, so \
             one of its checks failed or gave an error. claim needs a writable open (read + \
             write): on a read-only open it fails (EBADF). Swept: {swept:?}"
        );
    }
    swept
}

/// What a failed sweep most likely did wrong.
fn sweep_failed(e: &Error) -> String {
    let text = e.to_string();
    if text.contains("os error 9") || text.contains("Bad file descriptor") {
        format!(
            "sweep should succeed, but it failed with {e}: claim needs a writable open (read \
             + write), a read-only open makes it fail with EBADF; and what you cannot open \
             or check, skip it: never fail the whole sweep for one name"
        )
    } else {
        format!(
            "sweep should succeed, but it failed with {e}: a name you cannot open or check \
             must be skipped, never fail the whole sweep"
        )
    }
}

/// Whether `name` is a kata segment that the reference sweep would remove right now: the
/// test's own read + write open, marked, claimed, used by no other process, still named.
fn plainly_dead(dir: &SegmentDir, name: &str) -> bool {
    use shm_kata::liveness;
    let path = dir.join(name);
    if !liveness::is_kata_segment(&path) {
        return false;
    }
    let Ok(file) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
    else {
        return false;
    };
    liveness::is_kata_file(&file)
        && matches!(liveness::claim(&file), Ok(true))
        && matches!(liveness::used_by_another_process(&file), Ok(false))
        && matches!(liveness::names_same_file(&file, &path), Ok(true))
}

/// Runs `f` with the panics whose message contains `expected` kept quiet: a test that
/// panics on purpose prints nothing for it, so the first panic a learner reads is a real
/// failure. Any other panic is printed as usual. (The hook is the process's; the tests
/// that use this run one at a time.)
fn hiding_panics<T>(expected: &'static str, f: impl FnOnce() -> T) -> T {
    use std::sync::Arc;
    type Hook = Box<dyn Fn(&std::panic::PanicHookInfo<'_>) + Sync + Send + 'static>;
    struct Restore(Arc<Hook>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = Arc::clone(&self.0);
            std::panic::set_hook(Box::new(move |info| previous(info)));
        }
    }
    let previous: Arc<Hook> = Arc::new(std::panic::take_hook());
    let _restore = Restore(Arc::clone(&previous));
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("");
        if !message.contains(expected) {
            previous(info);
        }
    }));
    f()
}

/// An exclusive `flock` on `name`, on an open of its own: what exercise 05's lock takes
/// (taken here directly, so that 06 builds on no other exercise than 01 and 02).
fn flock_of(dir: &SegmentDir, name: &str) -> nix::fcntl::Flock<std::fs::File> {
    let file = std::fs::File::open(dir.join(name)).expect("open the segment to lock it");
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock)
        .map_err(|(_, errno)| errno)
        .expect("flock of a segment nobody has locked")
}

fn worker(job: fn(PathBuf, String) -> Job, dir: &SegmentDir, name: &str) -> Ready {
    use_this_builds_worker();
    start_until_ready(&job(dir.path().to_owned(), name.to_owned()), LIMIT)
}

fn holder(dir: PathBuf, name: String) -> Job {
    Job::Hold { dir, name }
}

fn owner(dir: PathBuf, name: String) -> Job {
    Job::Own { dir, name, len: 64 }
}

/// Unlinking removes the name at once.
#[test]
fn unlink_removes_the_name_at_once() {
    let _serial = one_at_a_time();
    let scratch = Scratch::new();
    let segment = create(&scratch.dir, "gone", 16).expect("create (exercise 01) should succeed");
    drop(segment);
    unlink(&scratch.dir, "gone").expect("unlink of an existing segment should succeed");
    assert!(
        scratch.names().is_empty(),
        "after unlink the directory should be empty, found {:?}",
        scratch.names()
    );
    scratch.finish();
}

proptest! {
    #![proptest_config(cases(16))]

    /// A mapping outlives its name: after `unlink`, nobody can attach by that name any
    /// more, but a segment that was already open still reads and writes its memory.
    #[test]
    fn a_mapping_outlives_its_name(len in 1usize..1 << 16, seed in any::<u64>()) {
        let _serial = one_at_a_time();
        let scratch = Scratch::new();
        let segment = create(&scratch.dir, "fleeting", len).expect("create (exercise 01) should succeed");
        segment.write_bytes(0, &pattern(seed, len)).expect("the segment has room for the pattern");
        unlink(&scratch.dir, "fleeting").expect("unlink should succeed");
        let kept = segment.file().metadata().map(|m| m.len()).unwrap_or(0);
        prop_assert_eq!(kept, len as u64,
            "unlink must only remove the name; the file was cut to {} bytes, and touching a \
             mapping past its file's end is a SIGBUS", kept);
        prop_assert!(scratch.names().is_empty(), "the name should be gone at once");
        let again = attach(&scratch.dir, "fleeting");
        prop_assert!(matches!(again, Err(Error::NotFound { .. })),
            "attach after unlink should be Error::NotFound, got {:?}", again);
        prop_assert!(segment.read_bytes() == pattern(seed, len),
            "the open mapping should still hold what was written before the unlink");
        segment.write_bytes(0, &pattern(!seed, len)).expect("the segment has room for the pattern");
        prop_assert!(segment.read_bytes() == pattern(!seed, len),
            "the open mapping should still be writable after the unlink");
        drop(segment);
        scratch.finish();
    }
}

/// Unlinking a name that is not there is `NotFound`.
#[test]
fn unlinking_a_missing_name_is_not_found() {
    let _serial = one_at_a_time();
    let scratch = Scratch::new();
    let result = unlink(&scratch.dir, "ghost");
    assert!(
        matches!(&result, Err(Error::NotFound { name, .. }) if name == "ghost"),
        "unlink of a missing name should be Error::NotFound naming it, got {result:?}"
    );
    scratch.finish();
}

/// The name rules hold for unlink: it can never remove a file outside its directory.
#[test]
fn unlink_refuses_bad_names() {
    let _serial = one_at_a_time();
    let scratch = Scratch::new();
    for name in ["", ".", "..", "../x", "a/b"] {
        let result = unlink(&scratch.dir, name);
        assert!(
            matches!(result, Err(Error::InvalidName { .. })),
            "unlink({name:?}) should be Error::InvalidName (validate_name), got {result:?}"
        );
    }
    scratch.finish();
}

/// Unlinking a symlink removes the link itself, never the file it points to: a name in
/// the directory can never reach a file outside it.
#[test]
fn unlinking_a_link_removes_the_link_never_its_target() {
    let _serial = one_at_a_time();
    let scratch = Scratch::new();
    let outside = common::scratch_file();
    std::os::unix::fs::symlink(outside.path(), scratch.dir.join("link")).unwrap();
    let result = unlink(&scratch.dir, "link");
    assert!(
        outside.path().exists(),
        "unlink followed the link and removed the file it points to, outside the directory: \
         remove the name itself (std::fs::remove_file never follows a link), never resolve it"
    );
    assert!(
        result.is_ok() && scratch.names().is_empty(),
        "unlink of a link should remove the link itself, got {result:?} and {:?} left",
        scratch.names()
    );
    scratch.finish();
}

/// The owner's handle unlinks the name when it is dropped.
#[test]
fn an_owned_segment_is_unlinked_when_dropped() {
    let _serial = one_at_a_time();
    let scratch = Scratch::new();
    let owned =
        OwnedSegment::create(&scratch.dir, "mine", 8).expect("OwnedSegment::create should succeed");
    owned
        .write_bytes(0, b"owned!!!")
        .expect("an OwnedSegment is a Segment (Deref)");
    assert_eq!(owned.name(), "mine", "an OwnedSegment is a Segment (Deref)");
    assert_eq!(
        scratch.names(),
        ["mine"],
        "while the owner lives, the segment is there"
    );
    drop(owned);
    assert!(
        scratch.names().is_empty(),
        "dropping the OwnedSegment should unlink its name, but {:?} is still in the test's \
         directory, {OWNER_CHECKS}",
        scratch.names()
    );
    scratch.finish();
}

/// An owner whose name someone else already removed drops quietly.
#[test]
fn an_owner_whose_name_is_already_gone_drops_quietly() {
    let _serial = one_at_a_time();
    let scratch = Scratch::new();
    let owned =
        OwnedSegment::create(&scratch.dir, "gone", 8).expect("OwnedSegment::create should succeed");
    scratch.remove("gone");
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(owned)));
    assert!(
        dropped.is_ok(),
        "dropping an owner whose name is gone must not panic: ignore the unlink's error"
    );
    scratch.finish();
}

/// An owner never removes a newcomer: if its name was removed and given to a new
/// segment, dropping the owner leaves the new one alone.
#[test]
fn an_owner_never_unlinks_a_newcomer_under_its_name() {
    let _serial = one_at_a_time();
    let scratch = Scratch::new();
    let owned = OwnedSegment::create(&scratch.dir, "reused", 8)
        .expect("OwnedSegment::create should succeed");
    scratch.remove("reused");
    let newcomer = create(&scratch.dir, "reused", 8).expect("the name is free again");
    drop(owned);
    assert_eq!(
        scratch.names(),
        ["reused"],
        "the owner's drop removed a segment it does not own: unlink only while the name \
         still names your file (liveness::names_same_file)"
    );
    drop(newcomer);
    scratch.remove("reused");
    scratch.finish();
}

/// The owner's handle unlinks the name also when the owner panics: drops run while a panic
/// unwinds.
#[test]
fn an_owned_segment_is_unlinked_when_its_owner_panics() {
    let _serial = one_at_a_time();
    let scratch = Scratch::new();
    let dir = scratch.dir.clone();
    let created = std::sync::atomic::AtomicBool::new(false);
    let outcome = hiding_panics("the owner panics on purpose", || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _owned = OwnedSegment::create(&dir, "doomed", 8)
                .expect("OwnedSegment::create should succeed");
            created.store(true, std::sync::atomic::Ordering::Relaxed);
            panic!("the owner panics on purpose while it owns the segment");
        }))
    });
    assert!(
        outcome.is_err() && created.into_inner(),
        "the owner should have created its segment, then panicked on purpose"
    );
    assert!(
        scratch.names().is_empty(),
        "a panicking owner should still unlink its segment (Drop runs during unwinding), \
         but {:?} is still in the test's directory, {OWNER_CHECKS}",
        scratch.names()
    );
    scratch.finish();
}

/// A worker process that panics while it owns a segment leaves no orphan either.
#[test]
fn a_worker_that_panics_while_owning_leaves_no_orphan() {
    let _serial = one_at_a_time();
    use_this_builds_worker();
    let scratch = Scratch::new();
    let job = Job::OwnAndPanic {
        dir: scratch.dir.path().to_owned(),
        name: "doomed".into(),
        len: 64,
    };
    let finished = run_bounded(job.command(), LIMIT, "the panicking owner");
    assert!(
        finished.stderr.contains("deliberate panic"),
        "the worker should have created its segment and then panicked; it printed:\n{}",
        finished.stderr
    );
    assert!(
        scratch.names().is_empty(),
        "the panicking worker's OwnedSegment should have unlinked its segment, but {:?} is \
         still in the test's directory, {OWNER_CHECKS}",
        scratch.names()
    );
    scratch.finish();
}

/// SIGKILL runs no `Drop`: the killed owner's segment stays behind. That orphan is what
/// `sweep` is for: once nobody alive holds it, sweep removes it and says so.
#[test]
fn a_killed_owner_leaves_an_orphan_that_sweep_removes() {
    let _serial = one_at_a_time();
    let scratch = Scratch::new();
    let owner = worker(owner, &scratch.dir, "orphan");
    assert_eq!(
        scratch.names(),
        ["orphan"],
        "the owner should have created it"
    );
    assert!(
        sweep_now(&scratch.dir).is_empty(),
        "sweep must not remove a segment whose owner is alive"
    );
    owner.kill();
    assert_eq!(
        scratch.names(),
        ["orphan"],
        "a SIGKILLed owner runs no Drop: the orphan is still there"
    );
    assert_eq!(
        sweep_now(&scratch.dir),
        ["orphan"],
        "sweep should remove the orphan of a dead owner and return its name"
    );
    scratch.finish();
}

/// Sweep never removes a segment that the sweeping process itself holds, created or
/// attached; once every handle is dropped, it does.
#[test]
fn sweep_never_removes_a_segment_this_process_holds() {
    let _serial = one_at_a_time();
    let scratch = Scratch::new();
    let created = create(&scratch.dir, "made", 8).expect("create (exercise 01) should succeed");
    let other = create(&scratch.dir, "other", 8).expect("create (exercise 01) should succeed");
    let attached = attach(&scratch.dir, "other").expect("attach (exercise 02) should succeed");
    drop(other);
    assert!(
        sweep_now(&scratch.dir).is_empty(),
        "sweep removed a segment this very process holds: liveness must come from the kernel \
         (liveness::claim on your own open of the file), never from 'not my PID'"
    );
    assert_eq!(scratch.names(), ["made", "other"]);
    drop((created, attached));
    assert_eq!(
        sweep_now(&scratch.dir),
        ["made", "other"],
        "once this process dropped every handle, both segments are dead and should be swept \
         (sorted by name)"
    );
    scratch.finish();
}

/// Creates a dead segment `name`, starts a worker that holds it with `job`, and checks
/// that sweep keeps it while the worker lives and removes it once the worker is killed.
/// `locked`: the segment is also `flock`ed (as 05's lock does) for the whole test.
fn swept_only_after_its_worker_is_killed(
    job: fn(PathBuf, String) -> Job,
    what: &str,
    locked: bool,
) {
    let _serial = one_at_a_time();
    let scratch = Scratch::new();
    drop(create(&scratch.dir, "held", 8).expect("create (exercise 01) should succeed"));
    let _lock = locked.then(|| flock_of(&scratch.dir, "held"));
    let holder = worker(job, &scratch.dir, "held");
    assert!(
        sweep_now(&scratch.dir).is_empty(),
        "sweep removed a segment that a live worker process {what}"
    );
    holder.kill();
    assert_eq!(
        sweep_now(&scratch.dir),
        ["held"],
        "once the worker that {what} was killed, the segment is dead and should be swept"
    );
    scratch.finish();
}

/// Sweep never removes a segment a live worker process holds; when the worker is killed,
/// it does.
#[test]
fn sweep_never_removes_a_segment_a_live_worker_holds() {
    swept_only_after_its_worker_is_killed(holder, "holds", false);
}

/// The lesson's lock (05, `flock`) and the kit's liveness (open-file-description locks)
/// never see each other. A worker that holds a segment that is also locked keeps it
/// alive, and sweep does not wait for that lock; once the worker is killed, the segment is
/// swept, locked or not.
#[test]
fn a_locked_segment_is_kept_while_held_and_sweep_does_not_wait_for_the_lock() {
    swept_only_after_its_worker_is_killed(holder, "holds (while it is flocked)", true);
}

/// Only a `Segment` is a holder. The lesson's lock is taken on an open of its own, which
/// keeps nothing alive: a segment that is locked but held by nobody is dead, and sweep
/// removes it without waiting for the lock.
#[test]
fn a_lock_alone_does_not_keep_a_segment_alive() {
    let _serial = one_at_a_time();
    let scratch = Scratch::new();
    drop(create(&scratch.dir, "bare", 8).expect("create (exercise 01) should succeed"));
    let guard = flock_of(&scratch.dir, "bare");
    assert_eq!(
        sweep_now(&scratch.dir),
        ["bare"],
        "a segment nobody holds is dead, locked or not: sweep asks the kit's liveness \
         (liveness::claim), never the lesson's flock"
    );
    drop(guard);
    scratch.finish();
}

/// `/dev/shm` is everybody's: sweep removes only what the kata created. Here a plain file,
/// one this process attached to and let go (the CPython gh-82300 trap), a directory and a
/// symlink all survive, while a dead kata segment next to them is swept.
#[test]
fn sweep_never_touches_files_the_kata_did_not_create() {
    let _serial = one_at_a_time();
    let scratch = Scratch::new();
    let outside = common::scratch_file();
    std::fs::write(scratch.dir.join("foreign"), b"someone else's").unwrap();
    std::fs::write(scratch.dir.join("borrowed"), b"attached, then let go").unwrap();
    drop(attach(&scratch.dir, "borrowed").expect("attach (exercise 02) should succeed"));
    std::fs::create_dir(scratch.dir.join("folder")).unwrap();
    std::os::unix::fs::symlink(outside.path(), scratch.dir.join("link")).unwrap();
    drop(create(&scratch.dir, "dead", 8).expect("create (exercise 01) should succeed"));
    assert_eq!(
        sweep_now(&scratch.dir),
        ["dead"],
        "sweep should remove the dead kata segment and nothing else"
    );
    assert_eq!(
        scratch.names(),
        ["borrowed", "folder", "foreign", "link"],
        "files the kata did not create must survive sweep (check liveness::is_kata_segment)"
    );
    assert!(
        outside.path().exists(),
        "sweep must never follow a link out of the directory"
    );
    scratch.remove("borrowed");
    scratch.remove("foreign");
    scratch.remove("link");
    std::fs::remove_dir(scratch.dir.join("folder")).unwrap();
    scratch.finish();
}

/// Sweep does not even open a file the kata did not create: it looks at the name first
/// (`is_kata_segment`, no open), because opening is not harmless (a FIFO's writer wakes
/// up, a device may act). The kernel's inotify reports every open in the directory.
#[test]
fn sweep_opens_nothing_the_kata_did_not_create() {
    use rustix::fs::inotify;
    let _serial = one_at_a_time();
    let scratch = Scratch::new();
    std::fs::write(scratch.dir.join("foreign"), b"someone else's").unwrap();
    drop(create(&scratch.dir, "dead", 8).expect("create (exercise 01) should succeed"));
    let watch = inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)
        .expect("cannot start inotify");
    inotify::add_watch(&watch, scratch.dir.path(), inotify::WatchFlags::OPEN)
        .expect("cannot watch the test's directory");
    let swept = sweep_now(&scratch.dir);
    let mut opened = Vec::new();
    let mut buffer = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
    let mut events = inotify::Reader::new(&watch, &mut buffer);
    while let Ok(event) = events.next() {
        if let Some(name) = event.file_name() {
            opened.push(name.to_string_lossy().into_owned());
        }
    }
    assert!(
        !opened.iter().any(|name| name == "foreign"),
        "sweep opened \"foreign\", a file the kata did not create: look at the name with \
         liveness::is_kata_segment(&path) before you open anything (opened: {opened:?})"
    );
    assert_eq!(swept, ["dead"], "sweep should remove the dead kata segment");
    scratch.remove("foreign");
    scratch.finish();
}

/// A name sweep cannot open is skipped, and the sweep goes on. Here a marked file is a
/// running program, which Linux refuses to open for writing (`ETXTBSY`): sweep returns
/// `Ok`, leaves it, and still removes the dead segment next to it.
#[test]
fn sweep_skips_what_it_cannot_open_and_goes_on() {
    let _serial = one_at_a_time();
    let scratch = Scratch::new();
    let sleep = std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("sleep"))
                .find(|candidate| candidate.is_file())
        })
        .expect("this test needs the sleep program on PATH");
    let program = scratch.dir.join("program");
    std::fs::copy(&sleep, &program).expect("cannot copy sleep into the test's directory");
    rustix::fs::setxattr(
        &program,
        shm_kata::liveness::MARK,
        b"1",
        rustix::fs::XattrFlags::empty(),
    )
    .expect("cannot mark the file");
    let running = Peer(
        std::process::Command::new(&program)
            .arg("600")
            .spawn()
            .expect("cannot run the copy of sleep"),
    );
    drop(create(&scratch.dir, "dead", 8).expect("create (exercise 01) should succeed"));
    let dir = scratch.dir.clone();
    let result = within(LIMIT, "sweep", move || sweep(&dir));
    drop(running);
    let swept = result.unwrap_or_else(|e| {
        panic!(
            "sweep failed with {e}: a marked name it cannot open (here a running program: \
             ETXTBSY) must be skipped, and the sweep go on"
        )
    });
    assert_eq!(
        swept,
        ["dead"],
        "sweep should skip the name it cannot open and still remove the dead segment"
    );
    scratch.remove("program");
    scratch.finish();
}

/// A segment without the kata's mark is never swept, dead or not: this is what every
/// segment looks like on a filesystem without user extended attributes (tmpfs before
/// Linux 6.6), and there the safe answer is to leave it.
#[test]
fn a_segment_without_the_mark_is_never_swept() {
    let _serial = one_at_a_time();
    let scratch = Scratch::new();
    drop(create(&scratch.dir, "unmarked", 8).expect("create (exercise 01) should succeed"));
    rustix::fs::removexattr(scratch.dir.join("unmarked"), shm_kata::liveness::MARK)
        .expect("create should have marked its file (use Segment::from_created in exercise 01)");
    assert!(
        sweep_now(&scratch.dir).is_empty(),
        "sweep removed a segment without the kata's mark"
    );
    scratch.remove("unmarked");
    scratch.finish();
}

/// An attach that races a sweep of a dead segment ends one of two ways: the attach fails
/// with `NotFound` (the sweep won), or it succeeds and the name stays its file's for as
/// long as the attacher holds it (the attach won). Never a segment whose name a sweep
/// removed while it was held.
///
/// The window a wrong sweep leaves open (its claim let go before the unlink) lasts a few
/// microseconds, so this is a stress: attachers spin on the name, each checking that the
/// name still names its file while it holds the segment, while this thread creates the
/// segment, lets it go and sweeps, over and over, for a fixed number of sweeps (and, on a
/// machine so busy that the sweeps or the attaches never won in those, on until each has,
/// for at most `BOTH_WIN_WITHIN`). One more
/// thread registers by hand and, when it meets a claim, waits for it in the kernel: the
/// close that ends the claim wakes it at once, so it lands in that window even when the
/// machine is busy (a claim let go before the unlink was caught in 20 runs of 20 under load).
#[test]
fn an_attach_racing_a_sweep_either_fails_or_keeps_the_name() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    const ATTACHERS: usize = 2;
    const SWEEPS: usize = 2500;
    const BOTH_WIN_WITHIN: Duration = Duration::from_secs(30);
    let _serial = one_at_a_time();
    let scratch = Scratch::new();
    let stop = Arc::new(AtomicBool::new(false));
    // The attachers stop however this test ends, a failed create or sweep included.
    struct StopOnDrop(Arc<AtomicBool>);
    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let stopper = StopOnDrop(Arc::clone(&stop));
    // Every attach that held the segment, counted across the attachers as they go.
    let holds = Arc::new(AtomicUsize::new(0));
    let attachers: Vec<_> = (0..ATTACHERS)
        .map(|_| {
            let (dir, stop) = (scratch.dir.clone(), Arc::clone(&stop));
            let holds = Arc::clone(&holds);
            std::thread::spawn(move || -> Result<usize, String> {
                let path = dir.join("contested");
                let mut held = 0;
                while !stop.load(Ordering::Relaxed) {
                    match attach(&dir, "contested") {
                        Ok(segment) => {
                            held += 1;
                            holds.fetch_add(1, Ordering::Relaxed);
                            for _ in 0..3 {
                                let same =
                                    shm_kata::liveness::names_same_file(segment.file(), &path);
                                if !matches!(same, Ok(true)) {
                                    stop.store(true, Ordering::Relaxed);
                                    return Err(format!(
                                        "after {held} attaches: an attached segment's name was \
                                         removed while it was held (names_same_file gave \
                                         {same:?}): sweep must claim it (liveness::claim on \
                                         its own open) and keep its claim (the open file it \
                                         locked) until the unlink is done"
                                    ));
                                }
                                std::thread::yield_now();
                            }
                            drop(segment);
                            // Leave the segment unheld for a moment, so sweeps can claim it
                            // and the other attachers meet their claims.
                            std::thread::sleep(Duration::from_micros(500));
                        }
                        Err(Error::NotFound { .. } | Error::ZeroLength { .. }) => {}
                        Err(e) => return Err(format!("attach racing a sweep failed with {e}")),
                    }
                }
                Ok(held)
            })
        })
        .collect();
    // One more would-be holder that *waits* in the kernel for a sweep's claim to end
    // (F_OFD_SETLKW), instead of spinning: the close that ends the claim wakes it at once,
    // even on a busy machine, and it checks the name while it holds its shared lock.
    let waiter = {
        let (dir, stop) = (scratch.dir.clone(), Arc::clone(&stop));
        std::thread::spawn(move || -> Result<usize, String> {
            let path = dir.join("contested");
            let mut waited = 0;
            while !stop.load(Ordering::Relaxed) {
                let Ok(file) = std::fs::File::open(&path) else {
                    std::thread::yield_now();
                    continue;
                };
                if register_now(&file) {
                    // No claim to wait for: let go at once, so sweeps can claim it.
                    drop(file);
                    std::thread::sleep(Duration::from_micros(200));
                    continue;
                }
                register_waiting(&file); // a sweep holds its claim: wait for its end
                waited += 1;
                let same = || shm_kata::liveness::names_same_file(&file, &path);
                if matches!(same(), Ok(true)) {
                    // Registered while the name still names the file: it must stay so.
                    for _ in 0..3 {
                        std::thread::yield_now();
                        let now = same();
                        if !matches!(now, Ok(true)) {
                            stop.store(true, Ordering::Relaxed); // the test has its answer
                            return Err(format!(
                                "after {waited} waits for a claim: a holder registered the \
                                 moment a sweep let go of its claim, while the name still \
                                 named the file, and then the sweep removed the name \
                                 (names_same_file gave {now:?}): sweep must claim it \
                                 (liveness::claim on its own open) and keep its claim (the \
                                 open file it locked) until the unlink is done"
                            ));
                        }
                    }
                }
            }
            Ok(waited)
        })
    };
    let (dir, found) = (scratch.dir.clone(), Arc::clone(&stop));
    let swept = within(LIMIT, "the create and sweep loop", move || {
        let (mut swept, mut round) = (0, 0);
        let started = std::time::Instant::now();
        while round < SWEEPS
            || ((swept == 0 || holds.load(Ordering::Relaxed) == 0)
                && started.elapsed() < BOTH_WIN_WITHIN)
        {
            round += 1;
            if found.load(Ordering::Relaxed) {
                break; // a thread saw a removed name: its message says the rest
            }
            match create(&dir, "contested", 8) {
                Ok(segment) => drop(segment),
                Err(Error::AlreadyExists { .. }) => {}
                Err(e) => panic!("create (exercise 01) failed: {e}"),
            }
            swept += sweep(&dir)
                .unwrap_or_else(|e| panic!("{}", sweep_failed(&e)))
                .len();
        }
        swept
    });
    drop(stopper);
    if let Err(message) = waiter.join().expect("the waiting thread panicked") {
        panic!("{message}");
    }
    let mut attached = 0;
    for attacher in attachers {
        match attacher.join().expect("an attaching thread panicked") {
            Ok(held) => attached += held,
            Err(message) => panic!("{message}"),
        }
    }
    assert!(
        swept > 0 && attached > 0,
        "the stress should see both sweeps and attaches win sometimes ({swept} sweeps \
         removed the segment, {attached} attaches held it)"
    );
    let _ = unlink(&scratch.dir, "contested");
    scratch.finish();
}

/// The kit's registration by hand: a shared lock on the liveness byte through `file`'s own
/// description, without waiting. Whether it was granted.
fn register_now(file: &std::fs::File) -> bool {
    nix::fcntl::fcntl(file, nix::fcntl::FcntlArg::F_OFD_SETLK(&liveness_byte())).is_ok()
}

/// The same, waiting in the kernel until no claim is in the way.
fn register_waiting(file: &std::fs::File) {
    let _ = nix::fcntl::fcntl(file, nix::fcntl::FcntlArg::F_OFD_SETLKW(&liveness_byte()));
}

fn liveness_byte() -> nix::libc::flock {
    nix::libc::flock {
        l_type: nix::libc::F_RDLCK as nix::libc::c_short,
        l_whence: nix::libc::SEEK_SET as nix::libc::c_short,
        l_start: shm_kata::liveness::LIVENESS_OFFSET,
        l_len: 1,
        l_pid: 0,
    }
}

// ----- the state machine: random histories of segments, holders, crashes and sweeps -----

const NAMES: [&str; 3] = ["a", "b", "c"];

/// One step of a history. Indices pick a name (`% 3`) or a handle (`% how many`).
#[derive(Debug, Clone)]
enum Step {
    /// This process creates the name (and keeps the segment).
    Create(usize),
    /// This process attaches to the name (and keeps the segment).
    Attach(usize),
    /// This process drops one of its segments: a close, not an unlink.
    Drop(usize),
    /// This process unlinks the name.
    Unlink(usize),
    /// An owner in this process creates the name and panics.
    PanicInOwner(usize),
    /// A worker process creates the name with an `OwnedSegment` and keeps it.
    WorkerOwns(usize),
    /// A worker process attaches to the name and keeps it.
    WorkerAttaches(usize),
    /// A worker process is SIGKILLed: no Drop runs.
    KillWorker(usize),
    /// Sweep.
    Sweep,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..3usize).prop_map(Step::Create),
        (0..3usize).prop_map(Step::Attach),
        any::<usize>().prop_map(Step::Drop),
        (0..3usize).prop_map(Step::Unlink),
        (0..3usize).prop_map(Step::PanicInOwner),
        (0..3usize).prop_map(Step::WorkerOwns),
        (0..3usize).prop_map(Step::WorkerAttaches),
        any::<usize>().prop_map(Step::KillWorker),
        Just(Step::Sweep),
    ]
}

/// What should be true: which file (a generation number) each name has now, and who holds
/// which generation. A segment unlinked and created again is a new file with new holders.
#[derive(Default)]
struct Model {
    current: [Option<u32>; 3],
    generations: u32,
}

/// What is: the segments this process holds and the worker processes that hold one,
/// each tagged with the generation it holds.
#[derive(Default)]
struct World {
    handles: Vec<(u32, Segment)>,
    workers: Vec<(u32, Ready)>,
}

impl Model {
    fn new_generation(&mut self, name: usize) -> u32 {
        self.generations += 1;
        self.current[name] = Some(self.generations);
        self.generations
    }

    fn names(&self) -> Vec<String> {
        (0..3)
            .filter(|&i| self.current[i].is_some())
            .map(|i| NAMES[i].to_owned())
            .collect()
    }

    /// The names whose current file nobody holds: what a sweep must remove.
    fn dead(&self, world: &World) -> Vec<usize> {
        (0..3)
            .filter(|&i| {
                self.current[i].is_some_and(|generation| {
                    !world.handles.iter().any(|(g, _)| *g == generation)
                        && !world.workers.iter().any(|(g, _)| *g == generation)
                })
            })
            .collect()
    }
}

fn apply(step: &Step, dir: &SegmentDir, model: &mut Model, world: &mut World) {
    match *step {
        Step::Create(i) => {
            let result = create(dir, NAMES[i], 64);
            match (model.current[i], result) {
                (None, Ok(segment)) => world.handles.push((model.new_generation(i), segment)),
                (Some(_), Err(Error::AlreadyExists { .. })) => {}
                (_, result) => panic!("create {:?} gave {result:?}", NAMES[i]),
            }
        }
        Step::Attach(i) => match (model.current[i], attach(dir, NAMES[i])) {
            (Some(generation), Ok(segment)) => world.handles.push((generation, segment)),
            (None, Err(Error::NotFound { .. })) => {}
            (_, result) => panic!("attach {:?} gave {result:?}", NAMES[i]),
        },
        Step::Drop(k) => {
            if !world.handles.is_empty() {
                let k = k % world.handles.len();
                world.handles.remove(k);
            }
        }
        Step::Unlink(i) => match (model.current[i], unlink(dir, NAMES[i])) {
            (Some(_), Ok(())) => model.current[i] = None,
            (None, Err(Error::NotFound { .. })) => {}
            (_, result) => panic!("unlink {:?} gave {result:?}", NAMES[i]),
        },
        Step::PanicInOwner(i) => {
            let (dir, name) = (dir.clone(), NAMES[i]);
            let outcome = hiding_panics("the owner panics on purpose", || {
                std::panic::catch_unwind(move || {
                    if let Ok(_owned) = OwnedSegment::create(&dir, name, 64) {
                        panic!("the owner panics on purpose, owning {name:?}");
                    }
                })
            });
            assert_eq!(
                outcome.is_err(),
                model.current[i].is_none(),
                "OwnedSegment::create {name:?} should succeed exactly when the name is free"
            );
        }
        Step::WorkerOwns(i) => {
            if model.current[i].is_none() {
                let ready = worker(owner, dir, NAMES[i]);
                world.workers.push((model.new_generation(i), ready));
            }
        }
        Step::WorkerAttaches(i) => {
            if let Some(generation) = model.current[i] {
                world
                    .workers
                    .push((generation, worker(holder, dir, NAMES[i])));
            }
        }
        Step::KillWorker(k) => {
            if !world.workers.is_empty() {
                let k = k % world.workers.len();
                world.workers.remove(k).1.kill();
            }
        }
        Step::Sweep => {
            let dead = model.dead(world);
            let expected: Vec<String> = dead.iter().map(|&i| NAMES[i].to_owned()).collect();
            let swept = sweep_now(dir);
            assert_eq!(
                swept, expected,
                "sweep should remove exactly the segments nobody alive holds"
            );
            for i in dead {
                model.current[i] = None;
            }
        }
    }
}

proptest! {
    #![proptest_config(process_cases(64))]

    /// Whatever happens (creates, attaches, drops, unlinks, panicking owners, workers
    /// that hold segments and get killed, sweeps), the directory holds exactly the names
    /// the model says after every step, and once everyone is gone one sweep empties it.
    #[test]
    fn the_directory_always_matches_the_model_and_ends_empty(steps in prop::collection::vec(step(), 1..24)) {
        let _serial = one_at_a_time();
        let scratch = Scratch::new();
        let mut model = Model::default();
        let mut world = World::default();
        for (n, step) in steps.iter().enumerate() {
            apply(step, &scratch.dir, &mut model, &mut world);
            prop_assert_eq!(scratch.names(), model.names(),
                "after step {} ({:?}) the directory should hold exactly these names", n, step);
        }
        let left = model.names();
        drop(world); // every segment of this process closed, every worker killed
        prop_assert_eq!(sweep_now(&scratch.dir), left,
            "with every holder gone, the final sweep should remove every segment left");
        scratch.finish();
    }
}

// ----- holders that take no lock: programs that are not the kata -----

/// A process started for a test that is killed when dropped, so a failing test leaves
/// nothing running.
struct Peer(std::process::Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Maps the file named by its argument with plain `mmap` (through ctypes, so no descriptor
/// stays open: only the mapping), says `ready`, and keeps it until stdin closes.
const PYTHON_MAPPER: &str = r#"
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
fd = os.open(sys.argv[1], os.O_RDWR)
addr = libc.mmap(None, os.fstat(fd).st_size, 3, 1, fd, 0)  # PROT_READ|PROT_WRITE, MAP_SHARED
if addr in (None, ctypes.c_void_p(-1).value):
    sys.exit("mmap failed")
os.close(fd)
print("ready", flush=True)
sys.stdin.read()
"#;

/// A Python program (no kata, no liveness lock) maps a kata segment whose creator is gone,
/// as `SharedMemory(name=…)` would. The lock says "dead"; the kernel's record in
/// `/proc/PID/maps` says "mapped", and sweep must believe the kernel.
#[test]
fn sweep_keeps_a_segment_a_program_without_the_kit_still_maps() {
    use std::io::BufRead;
    let _serial = one_at_a_time();
    if std::env::var_os("SHM_KATA_SKIP_PYTHON").is_some_and(|v| v == "1") {
        eprintln!("skipped: SHM_KATA_SKIP_PYTHON=1");
        return;
    }
    let scratch = Scratch::new();
    drop(create(&scratch.dir, "mapped", 4096).expect("create (exercise 01) should succeed"));
    let mut python = std::process::Command::new("python3");
    python
        .args(["-c", PYTHON_MAPPER])
        .arg(scratch.dir.join("mapped"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut mapper = Peer(python.spawn().expect(
        "python3 is needed to play a program without the kit (or set SHM_KATA_SKIP_PYTHON=1)",
    ));
    let mut line = String::new();
    std::io::BufReader::new(mapper.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(
        line.trim(),
        "ready",
        "the Python mapper could not map the segment"
    );
    assert!(
        sweep_now(&scratch.dir).is_empty(),
        "sweep removed a segment that a live process without the kit still maps: the \
         liveness lock only sees kata holders, so check liveness::used_by_another_process \
         (the kernel's /proc record) before the unlink"
    );
    drop(mapper);
    assert_eq!(
        sweep_now(&scratch.dir),
        ["mapped"],
        "once the mapping process is gone, the segment is dead and should be swept"
    );
    scratch.finish();
}

/// A process that merely has the file open (here `sleep`, with the segment as its standard
/// input) also uses it: `/proc/PID/fd` says so, and sweep keeps it.
#[test]
fn sweep_keeps_a_segment_a_program_without_the_kit_holds_open() {
    let _serial = one_at_a_time();
    let scratch = Scratch::new();
    drop(create(&scratch.dir, "opened", 64).expect("create (exercise 01) should succeed"));
    let file = std::fs::File::open(scratch.dir.join("opened")).unwrap();
    let sleeper = Peer(
        std::process::Command::new("sleep")
            .arg("600")
            .stdin(file)
            .spawn()
            .expect("could not start sleep"),
    );
    assert!(
        sweep_now(&scratch.dir).is_empty(),
        "sweep removed a segment that a live process without the kit holds open: check \
         liveness::used_by_another_process (the kernel's /proc record) before the unlink"
    );
    drop(sleeper);
    assert_eq!(
        sweep_now(&scratch.dir),
        ["opened"],
        "once the process that held it open is gone, the segment should be swept"
    );
    scratch.finish();
}
