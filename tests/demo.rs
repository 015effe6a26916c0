//! The demo (`cargo run -- demo`) cleans up what killed demos left in its segment
//! directory, and never removes anything else: not on its way in, not on Ctrl-C.
//!
//! Each test points the demo (with its hidden `--dir`) at a segment directory of its own,
//! in a scratch directory under `target/tmp`: parallel runs never meet, and whatever a
//! killed run of these tests leaves there, the next run's scratch sweep removes. Nothing
//! here is made in `/dev/shm` or `/tmp`.

// No exercise: these tests hold whatever state the exercises are in.
shm_kata::exercises!();

mod common;

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Scratch, run_bounded, wait_bounded};
use memmap2::MmapMut;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use shm_kata::job::{BARRIER_ENV, TRACE_ENV};
use shm_kata::liveness::{self, MARK};
use shm_kata::runner::demo::PREFIX;
use shm_kata::{Segment, SegmentDir};

/// How long a demo may take before the test calls it hung.
const LIMIT: Duration = Duration::from_secs(120);

/// A small demo with one worker in `dir`, run as a learner would run it (not through
/// cargo: it uses the worker binary this test build made, next to it).
fn demo(dir: &SegmentDir) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_shm-kata"));
    command
        .args(["demo", "--len", "1000", "--workers", "1", "--dir"])
        .arg(dir.path())
        .env_remove("CARGO")
        .env_remove(TRACE_ENV)
        .env_remove(BARRIER_ENV)
        .env("NO_COLOR", "1");
    command
}

/// A demo-like name: the demo's prefix, `test-`, and `what`.
fn name(what: &str) -> String {
    format!("{PREFIX}test-{what}")
}

/// A plain file of 4096 bytes at `path`, marked as the kata's if `marked`.
fn plant(path: &Path, marked: bool) -> File {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
        .unwrap_or_else(|e| panic!("cannot plant {}: {e}", path.display()));
    file.set_len(4096).unwrap();
    if marked {
        rustix::fs::fsetxattr(&file, MARK, b"1", rustix::fs::XattrFlags::empty())
            .expect("user extended attributes on the segment directory");
    }
    file
}

/// Whether the scratch's file system takes user extended attributes: without them
/// nothing there is ever marked, and the demo never removes anything.
fn marks_work_in(scratch: &Scratch) -> bool {
    let probe = scratch.path().join("probe");
    let file = plant(&probe, false);
    let works = rustix::fs::fsetxattr(&file, MARK, b"1", rustix::fs::XattrFlags::empty()).is_ok();
    let _ = std::fs::remove_file(&probe);
    works
}

/// A demo caught in its middle: it made its segment, and its one worker waits (up to
/// 10 s) for a second worker that never comes. The demo and its worker are a process
/// group of their own; dropping this kills the group.
struct Caught {
    child: Child,
    group: Pid,
    segment: PathBuf,
}

impl Caught {
    fn start(scratch: &Scratch) -> Caught {
        let trace = scratch.path().join("trace");
        std::fs::create_dir(&trace).unwrap();
        let mut child = demo(&scratch.dir)
            .env(TRACE_ENV, &trace)
            .env(BARRIER_ENV, "2")
            .process_group(0) // the demo and its worker, signalled together
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start the demo");
        let group = Pid::from_raw(child.id() as i32);
        let mut header = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut header)
            .unwrap();
        let prefix = format!("{}/{PREFIX}", scratch.dir.path().display());
        let segment = header
            .split_whitespace()
            .find(|word| word.starts_with(&prefix))
            .map(|word| PathBuf::from(word.trim_end_matches(',')));
        let mut caught = Caught {
            child,
            group,
            segment: PathBuf::new(),
        };
        caught.segment = segment.unwrap_or_else(|| {
            panic!("the demo's first line should name its segment in {prefix}…: {header:?}")
        });
        let deadline = Instant::now() + LIMIT;
        while std::fs::read_dir(&trace).unwrap().count() == 0 {
            assert!(Instant::now() < deadline, "the demo's worker never started");
            std::thread::sleep(Duration::from_millis(10));
        }
        caught
    }

    /// Sends `signal` to the demo and its worker, and waits for the demo to end.
    fn signal(mut self, signal: Signal) {
        killpg(self.group, signal).unwrap();
        wait_bounded(&mut self.child, LIMIT, "the signalled demo");
    }
}

impl Drop for Caught {
    fn drop(&mut self) {
        // Only while the demo is not reaped: its PID, the group's ID, is still its own.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = killpg(self.group, Signal::SIGKILL);
            let _ = self.child.wait();
        }
    }
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
    let scratch = Scratch::new();
    let caught = Caught::start(&scratch);
    let segment = caught.segment.clone();
    caught.signal(Signal::SIGKILL);
    assert!(
        segment.exists(),
        "a SIGKILLed demo cannot remove its segment, yet {} is gone",
        segment.display()
    );
    if !marks_work_in(&scratch) {
        eprintln!(
            "skipped: no user extended attributes in {}",
            scratch.path().display()
        );
        return;
    }
    wait_until_nobody_holds(&segment);

    let next = run_bounded(demo(&scratch.dir), LIMIT, "the next demo");
    let out = String::from_utf8_lossy(&next.stdout);
    assert!(next.status.success(), "{out}\n{}", next.stderr);
    assert!(
        !segment.exists(),
        "the next demo must remove {}, which a killed demo left:\n{out}",
        segment.display()
    );
    assert!(
        out.contains(&format!("removed {}", segment.display())),
        "the next demo must say it removed {}:\n{out}",
        segment.display()
    );
    scratch.finish();
}

/// At a demo-like name, the demo removes only a plain file the kata marked, that
/// belongs to this user and that no live process holds: never an unmarked file, a held
/// segment, a symlink, or (run as root) another user's file.
#[test]
fn the_demo_removes_only_marked_unheld_segments_of_its_own_user() {
    let scratch = Scratch::new();
    if !marks_work_in(&scratch) {
        eprintln!(
            "skipped: no user extended attributes in {}",
            scratch.path().display()
        );
        return;
    }
    let dir = &scratch.dir;

    let unmarked = dir.join(&name("unmarked"));
    plant(&unmarked, false);

    let held_name = name("held");
    let file = plant(&dir.join(&held_name), true);
    // SAFETY: the file was made by this test a moment ago, in its own directory; it has
    // 4096 bytes and nobody shrinks it while this mapping lives.
    let map = unsafe { MmapMut::map_mut(&file) }.unwrap();
    let held = Segment::from_parts(dir, &held_name, file, map).expect("hold the segment");

    let target = scratch.path().join("target");
    plant(&target, true);
    let link = dir.join(&name("link"));
    std::os::unix::fs::symlink(&target, &link).unwrap();

    let running_as_root = nix::unistd::geteuid().is_root();
    let others = dir.join(&name("another-users"));
    if running_as_root {
        plant(&others, true);
        std::os::unix::fs::chown(&others, Some(65534), Some(65534)).unwrap();
    }

    let dead = dir.join(&name("dead"));
    plant(&dead, true);

    let run = run_bounded(demo(dir), LIMIT, "the demo");
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
            path.symlink_metadata().is_ok(),
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

/// Maps the file named by its argument with plain `mmap` (through ctypes, so no
/// descriptor stays open: only the mapping), says `ready`, and keeps it until stdin
/// closes. A program without the kit: no liveness lock.
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

/// A process killed when dropped.
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A dead demo's segment that a program without the kit still maps (Python's `mmap`,
/// its descriptor closed) takes no liveness lock, yet is in use: the kernel's record in
/// `/proc` says so, and the demo must ask it before it removes anything.
#[test]
fn the_demo_keeps_a_dead_demos_segment_a_program_without_the_kit_still_maps() {
    if std::env::var_os("SHM_KATA_SKIP_PYTHON").is_some_and(|v| v == "1") {
        eprintln!("skipped: SHM_KATA_SKIP_PYTHON=1");
        return;
    }
    let scratch = Scratch::new();
    if !marks_work_in(&scratch) {
        eprintln!(
            "skipped: no user extended attributes in {}",
            scratch.path().display()
        );
        return;
    }
    let mapped = scratch.dir.join(&name("mapped"));
    drop(plant(&mapped, true));
    let mut python = Command::new("python3");
    python
        .args(["-c", PYTHON_MAPPER])
        .arg(&mapped)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut mapper = Peer(python.spawn().expect(
        "python3 is needed to play a program without the kit (or set SHM_KATA_SKIP_PYTHON=1)",
    ));
    let mut line = String::new();
    BufReader::new(mapper.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(
        line.trim(),
        "ready",
        "the Python mapper could not map the file"
    );

    let run = run_bounded(demo(&scratch.dir), LIMIT, "the demo");
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(
        mapped.exists(),
        "the demo removed {}, which a live program without the kit still maps: the \
         liveness lock sees only kata holders, so ask liveness::used_by_another_process \
         (the kernel's /proc record) too\n{out}",
        mapped.display()
    );
    drop(mapper);
}

/// Ctrl-C during a demo removes its segment.
#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "only a finished kata gets a demo to its middle: run with --features solutions"
)]
fn ctrl_c_removes_the_demos_segment() {
    let scratch = Scratch::new();
    let caught = Caught::start(&scratch);
    let segment = caught.segment.clone();
    caught.signal(Signal::SIGINT);
    assert!(
        !segment.exists(),
        "a demo stopped with Ctrl-C must remove its segment {}",
        segment.display()
    );
    scratch.finish();
}

/// If the demo's segment was removed by hand during the run and another file took its
/// name, Ctrl-C leaves that file alone: the handler removes a name only while it still
/// names the file the demo made.
#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "only a finished kata gets a demo to its middle: run with --features solutions"
)]
fn ctrl_c_leaves_a_file_that_took_the_demos_name() {
    let scratch = Scratch::new();
    let caught = Caught::start(&scratch);
    let segment = caught.segment.clone();
    std::fs::remove_file(&segment).unwrap();
    std::fs::write(&segment, b"a newcomer's").unwrap();
    caught.signal(Signal::SIGINT);
    assert_eq!(
        std::fs::read(&segment).ok().as_deref(),
        Some(&b"a newcomer's"[..]),
        "Ctrl-C removed {}, a file that took the demo's name after its segment was removed: \
         remove it only while the name still names the demo's file",
        segment.display()
    );
}

/// A killed run of the classic example or of a benchmark leaves its segment just as a
/// killed demo does: the next demo removes those too, by the same rule, and nothing else
/// that merely starts like a kata name.
/// The demo says which pages its segment got and how long each step took; `--pages 4k`
/// keeps it on 4 KiB pages, to compare with the default on the same machine.
#[test]
fn the_demo_reports_its_pages_and_the_time_of_each_step() {
    let scratch = Scratch::new();
    for (pages, expected) in [("4k", "4 KiB pages (as asked)"), ("huge", " pages")] {
        let mut command = demo(&scratch.dir);
        command.args(["--pages", pages]);
        let out = run_bounded(command, LIMIT, "the demo");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "the demo failed: {}", out.stderr);
        let create = stdout
            .lines()
            .find(|line| line.trim_start().starts_with("create + fill"))
            .unwrap_or_else(|| panic!("no create + fill row in:\n{stdout}"));
        assert!(
            create.contains(expected),
            "with --pages {pages} the create row should say {expected:?}: {create:?}"
        );
        for step in [
            "create + fill",
            "transform",
            "verify",
            "close + remove",
            "total",
        ] {
            assert!(
                stdout
                    .lines()
                    .any(|line| line.trim_start().starts_with(step) && line.contains(" ms")),
                "the demo should time the step {step:?}:\n{stdout}"
            );
        }
    }
    scratch.finish();
}

#[test]
fn the_demo_also_removes_what_a_killed_example_benchmark_or_test_left() {
    let scratch = Scratch::new();
    if !marks_work_in(&scratch) {
        eprintln!(
            "skipped: no user extended attributes in {}",
            scratch.path().display()
        );
        return;
    }
    let dir = &scratch.dir;
    let left = [
        "shm-kata-classic-4242",
        "shm-kata-bench-transfer-4242",
        // a test's segment whose record went with its scratch directory (`cargo clean`)
        "shm-kata-test-4242-0-1f-rs",
    ]
    .map(|n| dir.join(n));
    for path in &left {
        plant(path, true);
    }
    let other = dir.join("shm-kata-something-else");
    plant(&other, true);

    let run = run_bounded(demo(dir), LIMIT, "the demo");
    let out = String::from_utf8_lossy(&run.stdout);
    for path in &left {
        assert!(
            !path.exists(),
            "the demo must remove {}: a marked segment of the kata's own programs that \
             nobody holds\n{out}",
            path.display()
        );
    }
    assert!(
        other.exists(),
        "the demo removed {}: only the demo's, the example's, the benchmarks' and the \
         tests' names are its to clean\n{out}",
        other.display()
    );
}
