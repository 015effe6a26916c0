//! Helpers shared by the exercise tests: a scratch directory per test, the worker binary,
//! bounded waits on child processes, and the expected value of the transform.
#![allow(dead_code)] // each test file uses its own subset

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use proptest::test_runner::Config;
use shm_kata::SegmentDir;
use shm_kata::scratch::{self, ScratchDir};

/// How long a test lets worker processes run before it calls them hung.
pub const WORKER_LIMIT: Duration = Duration::from_secs(60);

/// Gives worker processes a test-sized deadline. Call it first in every test that starts
/// worker processes (which are this test program, started again: `shm_kata::worker`).
pub fn use_this_builds_worker() {
    shm_kata::worker::set_timeout(WORKER_LIMIT);
}

/// Where this test binary makes its scratch directories: cargo's `CARGO_TARGET_TMPDIR`
/// (`target/tmp`), or the directory `verify` gives in `SHM_KATA_SCRATCH`.
pub fn scratch_base() -> PathBuf {
    scratch::base(Path::new(env!("CARGO_TARGET_TMPDIR")))
}

/// A test's own segment directory, inside a locked scratch directory of its own, removed
/// when dropped (even if the test panics).
///
/// The first one in each test process also removes what interrupted runs left behind:
/// scratch directories nobody holds the lock of any more (see `shm_kata::scratch`).
pub struct Scratch {
    scratch: ScratchDir,
    pub dir: SegmentDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        static SWEEP: Once = Once::new();
        let base = scratch_base();
        SWEEP.call_once(|| {
            scratch::sweep(&base);
        });
        let scratch = ScratchDir::new(&base).unwrap_or_else(|e| {
            panic!(
                "cannot make a scratch directory for the test in {}: {e}",
                base.display()
            )
        });
        let segments = scratch.path().join("segments");
        std::fs::create_dir(&segments).expect("cannot make the test's segment directory");
        let dir = SegmentDir::at(&segments);
        Scratch { scratch, dir }
    }

    /// The scratch directory (the segment directory is inside it): a place for files that
    /// must not be in the segment directory.
    pub fn path(&self) -> &Path {
        self.scratch.path()
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

/// A name in the system directory (`/dev/shm`) for a test that must use it (interop
/// with Python), unique to this test. Once the file exists, [`SystemName::record`] it: a
/// run that dies before the drop leaves it to the next run's sweep, which removes it if
/// it is still that file and nobody holds it. Dropping removes it if still there.
pub struct SystemName {
    pub name: String,
    scratch: Scratch,
}

impl SystemName {
    pub fn new(tag: &str) -> SystemName {
        let scratch = Scratch::new();
        let name = format!("{}{}-{tag}", scratch::system_prefix(), scratch.scratch.id());
        SystemName { name, scratch }
    }

    /// The file now exists: record it (its device and inode) in this test's scratch.
    pub fn record(&self) {
        self.scratch
            .scratch
            .record_system_name(SegmentDir::system().path(), &self.name)
            .unwrap_or_else(|e| panic!("cannot record /dev/shm/{}: {e}", self.name));
    }
}

impl Drop for SystemName {
    fn drop(&mut self) {
        self.scratch.scratch.remove_system_name(&self.name);
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
/// running then is stopped (see [`wait_bounded`]) and the test fails with `what` in the
/// message.
///
/// The child stays in the test's process group: a Ctrl-C at the terminal reaches it as it
/// reaches the test, and the runner, started this way, passes it on to its own `cargo`.
pub fn run_bounded(command: Command, limit: Duration, what: &str) -> Finished {
    run_bounded_with_input(command, Stdio::null(), limit, what)
}

/// [`run_bounded`], with `input` as the program's standard input (a file of keys).
pub fn run_bounded_with_input(
    mut command: Command,
    input: Stdio,
    limit: Duration,
    what: &str,
) -> Finished {
    let mut child = command
        .stdin(input)
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
    let mut stdout = stdout.join().unwrap_or_default();
    // A worker's own output begins after its start line (`shm_kata::worker::START`).
    shm_kata::worker::strip_start(&mut stdout);
    Finished {
        status,
        stdout,
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// A temporary file outside the segment directory (the target of a planted symlink),
/// in a scratch directory of its own, removed when dropped.
pub fn scratch_file() -> ScratchFile {
    let scratch = Scratch::new();
    let path = scratch.path().join("outside");
    std::fs::write(&path, b"").expect("cannot make a temporary file for the test");
    ScratchFile {
        path,
        _scratch: scratch,
    }
}

/// A file outside any segment directory, removed (with its scratch) when dropped.
pub struct ScratchFile {
    path: PathBuf,
    _scratch: Scratch,
}

impl ScratchFile {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Waits for `child`, but never longer than `limit`: then it gets SIGINT (the runner
/// stops what it started on it), a moment later SIGKILL, and the test fails with `what`
/// in the message.
pub fn wait_bounded(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait on a child") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGINT);
            let grace = Instant::now() + Duration::from_secs(3);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < grace {
                std::thread::sleep(Duration::from_millis(10));
            }
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

/// A worker process that has said `ready` (it holds what its job came to hold) and now
/// waits for its standard input to close. Dropping it kills it, so a failing test never
/// leaves it behind.
pub struct Ready {
    child: Child,
    what: String,
    stderr: Option<std::thread::JoinHandle<String>>,
}

/// Starts `job` in a worker process and waits, at most `limit`, for its `ready` line.
/// A worker that fails or is still silent then is killed, and the test fails with
/// what the worker printed.
pub fn start_until_ready(job: &shm_kata::job::Job, limit: Duration) -> Ready {
    let what = format!("the worker that should {}", job.label());
    let mut child = job
        .command()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {what}: {e}"));
    let stdout = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let (said, heard) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let mut stdout = std::io::BufReader::new(stdout);
        shm_kata::worker::skip_to_start(&mut stdout);
        let _ = std::io::BufRead::read_line(&mut stdout, &mut line);
        let _ = said.send(line);
    });
    let mut ready = Ready {
        child,
        what,
        stderr: Some(stderr),
    };
    match heard.recv_timeout(limit) {
        Ok(line) if line.trim() == "ready" => ready,
        // Its standard output closed: it ended, or is about to. Say how it ended, not
        // that it was slow.
        Ok(line) if line.is_empty() => {
            let status = wait_bounded(&mut ready.child, limit, &ready.what);
            let stderr = ready.collect_stderr();
            panic!(
                "{} died before it said it was ready ({status}); it printed:\n{stderr}",
                ready.what
            );
        }
        Ok(line) => {
            let stderr = ready.kill_and_collect();
            panic!(
                "{} said {:?} instead of ready; it printed:\n{stderr}",
                ready.what,
                line.trim()
            );
        }
        Err(_) => {
            let stderr = ready.kill_and_collect();
            panic!(
                "{} never said it was ready (waited up to {limit:?}; it was killed); it \
                 printed:\n{stderr}",
                ready.what
            );
        }
    }
}

impl Ready {
    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Ends it with SIGKILL, as a crash would: no `Drop`, no cleanup code runs.
    pub fn kill(mut self) {
        self.kill_and_collect();
    }

    /// Closes its standard input, which lets it finish its job, and waits at most `limit`
    /// for it to exit; returns how it ended and what it printed on standard error.
    pub fn finish(mut self, limit: Duration) -> (ExitStatus, String) {
        drop(self.child.stdin.take());
        let status = wait_bounded(&mut self.child, limit, &self.what);
        let stderr = self.stderr.take().map(|t| t.join().unwrap_or_default());
        (status, stderr.unwrap_or_default())
    }

    fn kill_and_collect(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.collect_stderr()
    }

    fn collect_stderr(&mut self) -> String {
        self.stderr
            .take()
            .map(|t| t.join().unwrap_or_default())
            .unwrap_or_default()
    }
}

impl Drop for Ready {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `f` on its own thread and returns its result, or fails the test with `what` if it
/// has not returned within `limit` (a call that blocks forever must not hang the suite).
pub fn within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    match result.recv_timeout(limit) {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!(
            "{what} did not return within {limit:?}: it must never wait for a lock another \
             process holds (use the non-blocking form)"
        ),
    }
}

/// Runs the tests that take it one at a time. A process that starts a child shares every
/// open descriptor with it until the child `exec`s, and with the descriptors the locks on
/// their files: a test that checks a lock is free (or a segment unheld) right after it
/// dropped one must not race another test that is starting a worker at that instant.
pub fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
