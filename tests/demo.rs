//! The demo (`cargo run -- demo`) cleans up what killed demos left in `/dev/shm`, and
//! never removes anything else.
//!
//! These tests work where the demo does, in `/dev/shm`, under names that begin like the
//! demo's. Each removes what it planted, also when it fails; a file a killed run of these
//! tests leaves is marked and unheld, or a plain file named `…-test-…`, which the next
//! demo removes, or leaves to its owner, by the same rule these tests check.

mod common;

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::{run_bounded, wait_bounded};
use memmap2::MmapMut;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use shm_kata::job::{BARRIER_ENV, TRACE_ENV};
use shm_kata::liveness::{self, MARK};
use shm_kata::runner::demo::PREFIX;
use shm_kata::{Segment, SegmentDir};

/// How long a demo may take before the test calls it hung.
const LIMIT: Duration = Duration::from_secs(120);

/// One demo at a time: every demo removes what dead demos left, including what another
/// test here has just planted for its own demo to find.
static ONE_DEMO_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_demo_at_a_time() -> MutexGuard<'static, ()> {
    ONE_DEMO_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A small demo with one worker, run as a learner would run it (not through cargo: it
/// uses the worker binary this test build made, next to it).
fn demo() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_shm-kata"));
    command
        .args(["demo", "--len", "1000", "--workers", "1"])
        .env_remove("CARGO")
        .env_remove(TRACE_ENV)
        .env_remove(BARRIER_ENV)
        .env("NO_COLOR", "1");
    command
}

/// A name no other test run uses: the demo's prefix, `test-`, random hex, and `what`.
fn unique_name(what: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    format!("{PREFIX}test-{random:016x}-{what}")
}

/// Files this test put in place, removed when it ends, however it ends.
#[derive(Default)]
struct Planted(Vec<PathBuf>);

impl Planted {
    /// A plain file of 4096 bytes at `path`, marked as the kata's if `marked`.
    fn file(&mut self, path: PathBuf, marked: bool) -> File {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("cannot plant {}: {e}", path.display()));
        self.0.push(path);
        file.set_len(4096).unwrap();
        if marked {
            rustix::fs::fsetxattr(&file, MARK, b"1", rustix::fs::XattrFlags::empty())
                .expect("user extended attributes on the segment directory");
        }
        file
    }

    fn symlink(&mut self, target: &Path, path: PathBuf) {
        std::os::unix::fs::symlink(target, &path).unwrap();
        self.0.push(path);
    }
}

impl Drop for Planted {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Whether `/dev/shm` takes user extended attributes (tmpfs does since Linux 6.6):
/// without them nothing there is ever marked, and the demo never removes anything.
fn marks_work_in(dir: &SegmentDir) -> bool {
    let mut planted = Planted::default();
    let probe = planted.file(dir.join(&unique_name("probe")), false);
    rustix::fs::fsetxattr(&probe, MARK, b"1", rustix::fs::XattrFlags::empty()).is_ok()
}

/// Waits until no live process holds the segment at `path`, as the kernel says: a
/// killed process's descriptors are closed as it dies, a moment after the signal.
fn wait_until_nobody_holds(path: &Path) {
    let deadline = Instant::now() + LIMIT;
    loop {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .unwrap_or_else(|e| panic!("{} should still be there: {e}", path.display()));
        if liveness::claim(&file).unwrap() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} is still held by a live process {LIMIT:?} after its demo was killed",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A demo killed with SIGKILL (no cleanup runs) leaves its segment; the next demo
/// removes it, and says so.
#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "only a finished kata gets a demo to its middle: run with --features solutions"
)]
fn a_killed_demos_segment_is_removed_by_the_next_demo_which_says_so() {
    let _one = one_demo_at_a_time();
    // The worker waits (up to 10 s) for a second worker that never comes: the demo is
    // caught after it made its segment, while it waits for its worker.
    let trace = tempfile::Builder::new()
        .prefix("shm-kata-test-")
        .tempdir()
        .unwrap();
    let mut killed = demo()
        .env(TRACE_ENV, trace.path())
        .env(BARRIER_ENV, "2")
        .process_group(0) // the demo and its worker, killed together
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot start the demo");
    let group = Pid::from_raw(killed.id() as i32);
    let mut header = String::new();
    BufReader::new(killed.stdout.take().unwrap())
        .read_line(&mut header)
        .unwrap();
    let segment = header
        .split_whitespace()
        .find(|word| word.starts_with(&format!("/dev/shm/{PREFIX}")))
        .map(|word| PathBuf::from(word.trim_end_matches(',')))
        .unwrap_or_else(|| {
            let _ = killpg(group, Signal::SIGKILL);
            panic!("the demo's first line should name its segment: {header:?}")
        });
    let deadline = Instant::now() + LIMIT;
    while std::fs::read_dir(trace.path()).unwrap().count() == 0 {
        if Instant::now() > deadline {
            let _ = killpg(group, Signal::SIGKILL);
            panic!("the demo's worker never started");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    killpg(group, Signal::SIGKILL).unwrap();
    wait_bounded(&mut killed, LIMIT, "the killed demo");
    assert!(
        segment.exists(),
        "a SIGKILLed demo cannot remove its segment, yet {} is gone",
        segment.display()
    );
    if !marks_work_in(&SegmentDir::system()) {
        let _ = std::fs::remove_file(&segment);
        eprintln!("skipped: /dev/shm has no user extended attributes (Linux < 6.6)");
        return;
    }
    wait_until_nobody_holds(&segment);

    let next = run_bounded(demo(), LIMIT, "the next demo");
    let out = String::from_utf8_lossy(&next.stdout);
    let removed = !segment.exists();
    let _ = std::fs::remove_file(&segment);
    assert!(next.status.success(), "{out}\n{}", next.stderr);
    assert!(
        removed,
        "the next demo must remove {}, which a killed demo left:\n{out}",
        segment.display()
    );
    assert!(
        out.contains(&format!("removed {}", segment.display())),
        "the next demo must say it removed {}:\n{out}",
        segment.display()
    );
}

/// At a demo-like name, the demo removes only a plain file the kata marked, that
/// belongs to this user and that no live process holds: never an unmarked file, a held
/// segment, a symlink, or (run as root) another user's file.
#[test]
fn the_demo_removes_only_marked_unheld_segments_of_its_own_user() {
    let _one = one_demo_at_a_time();
    let dir = SegmentDir::system();
    if !marks_work_in(&dir) {
        eprintln!("skipped: /dev/shm has no user extended attributes (Linux < 6.6)");
        return;
    }
    let mut planted = Planted::default();

    let unmarked = dir.join(&unique_name("unmarked"));
    planted.file(unmarked.clone(), false);

    let held_name = unique_name("held");
    let file = planted.file(dir.join(&held_name), true);
    // SAFETY: the file was made by this test a moment ago, and nobody else knows its
    // name; it has 4096 bytes and nobody shrinks it while this mapping lives.
    let map = unsafe { MmapMut::map_mut(&file) }.unwrap();
    let held = Segment::from_parts(&dir, &held_name, file, map).expect("hold the segment");

    let elsewhere = tempfile::Builder::new()
        .prefix("shm-kata-test-")
        .tempdir()
        .unwrap();
    let target = elsewhere.path().join("target");
    planted.file(target.clone(), true);
    let link = dir.join(&unique_name("link"));
    planted.symlink(&target, link.clone());

    let running_as_root = nix::unistd::geteuid().is_root();
    let others = dir.join(&unique_name("another-users"));
    if running_as_root {
        planted.file(others.clone(), true);
        std::os::unix::fs::chown(&others, Some(65534), Some(65534)).unwrap();
    }

    let dead = dir.join(&unique_name("dead"));
    planted.file(dead.clone(), true);

    let run = run_bounded(demo(), LIMIT, "the demo");
    let out = String::from_utf8_lossy(&run.stdout);
    let mut kept: Vec<(&Path, &str)> = vec![
        (unmarked.as_path(), "a file without the kata's mark"),
        (held.path(), "a segment a live process holds"),
        (link.as_path(), "a symlink"),
        (target.as_path(), "a symlink's target"),
    ];
    if running_as_root {
        kept.push((others.as_path(), "another user's file"));
    }
    for (path, what) in kept {
        assert!(
            path.exists(),
            "the demo removed {} ({what}): it may remove only marked, unheld segments of its \
             own user\n{out}",
            path.display()
        );
        assert!(
            !out.contains(&format!("removed {}", path.display())),
            "{out}"
        );
    }
    assert!(
        !dead.exists(),
        "the demo must remove {}: marked, this user's, and held by nobody\n{out}",
        dead.display()
    );
    assert!(
        out.contains(&format!("removed {}", dead.display())),
        "the demo must say it removed {}:\n{out}",
        dead.display()
    );
    drop(held);
}
