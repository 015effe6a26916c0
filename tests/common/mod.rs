//! Helpers shared by the exercise tests: a scratch directory per test, the worker binary,
//! bounded waits on child processes, and the expected value of the transform.
#![allow(dead_code)] // each test file uses its own subset

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use proptest::test_runner::Config;
use shm_kata::SegmentDir;
use tempfile::TempDir;

/// How long a test lets worker processes run before it calls them hung.
pub const WORKER_LIMIT: Duration = Duration::from_secs(60);

/// Points the kit at this build's worker binary, with a test-sized deadline for workers.
/// Call it first in every test that starts worker processes.
pub fn use_this_builds_worker() {
    shm_kata::worker::set_program(env!("CARGO_BIN_EXE_shm-kata-worker"));
    shm_kata::worker::set_timeout(WORKER_LIMIT);
}

/// A test's own segment directory, removed when dropped (even if the test panics).
pub struct Scratch {
    tmp: TempDir,
    pub dir: SegmentDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        let tmp = tempfile::Builder::new()
            .prefix("shm-kata-test-")
            .tempdir()
            .expect("cannot make a temporary directory for the test");
        let dir = SegmentDir::at(tmp.path());
        Scratch { tmp, dir }
    }

    /// What is in the directory now.
    pub fn names(&self) -> Vec<String> {
        self.dir.names().expect("cannot list the scratch directory")
    }

    /// Removes a segment's file by hand (exercise 06 teaches the real way).
    pub fn remove(&self, name: &str) {
        std::fs::remove_file(self.dir.join(name)).unwrap_or_else(|e| {
            panic!("segment {name:?} should exist so the test can remove it: {e}")
        });
    }

    /// Ends the test: the directory must be empty.
    pub fn finish(self) {
        let left = self.names();
        assert!(
            left.is_empty(),
            "the test left {left:?} behind in its segment directory"
        );
    }
}

/// Proptest settings for the kata: `cases` cases, and no regression files written into
/// the learner's tree.
pub fn cases(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Proptest settings for properties that start processes: `cases` cases, and a short
/// shrinking phase, so a failure is reported in seconds, not minutes.
pub fn process_cases(cases: u32) -> Config {
    Config {
        max_shrink_iters: 16,
        ..self::cases(cases)
    }
}

/// The article's formula, computed independently of the exercise: `2x + 1` for even `x`,
/// `2x` for odd `x`, modulo 2^32.
pub fn expected_transform(x: u32) -> u32 {
    ((2 * u64::from(x) + u64::from(x % 2 == 0)) % (1 << 32)) as u32
}

/// What a child process did, with its standard output and error.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

/// Runs `command` to its end, but never longer than `limit`: a child that is still
/// running then is killed and the test fails with `what` in the message.
///
/// The child runs in a process group of its own, so the processes *it* starts are killed
/// with it.
pub fn run_bounded(mut command: Command, limit: Duration, what: &str) -> Finished {
    let mut child = command
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {what}: {e}"));
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    // Read both pipes on their own threads, so a chatty child never blocks on a full pipe.
    let stdout = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = wait_bounded(&mut child, limit, what);
    Finished {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// A temporary file outside the segment directory (the target of a planted symlink),
/// named like the rest of the kata's temporary files and removed when dropped.
pub fn scratch_file() -> tempfile::NamedTempFile {
    tempfile::Builder::new()
        .prefix("shm-kata-test-")
        .tempfile()
        .expect("cannot make a temporary file for the test")
}

/// Waits for `child`, but never longer than `limit`: then it is killed, with its process
/// group if it leads one, and the test fails with `what` in the message.
pub fn wait_bounded(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait on a child") {
            return status;
        }
        if Instant::now() > deadline {
            let pid = Pid::from_raw(child.id() as i32);
            let _ = killpg(pid, Signal::SIGKILL);
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what} did not finish within {limit:?}: it was killed. A hang usually means \
                 a process waits for a worker that will never exit, or for a lock nobody frees."
            );
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}
