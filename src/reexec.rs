//! A worker process is **this same program, started again**, with its job in the
//! environment.
//!
//! Each exercise is compiled only into the programs that need it (a test of 04 holds
//! 01–04, the demo 01–04, a test of 08 only 08), so there is no one worker binary that
//! could hold everyone's code: a broken 05 would stop 04's workers. Instead a program
//! re-runs itself ([`command`]), the technique of `rusty-fork` (which `proptest` uses for
//! its `fork` option). A test program runs only its worker entry, [`ENTRY`], an ignored
//! test that `shm_kata::exercises!` writes; a program with its own `main` (the demo)
//! calls `shm_kata::worker::serve_if_asked` first. Either way the worker is a fresh
//! process from `exec`, never a `fork()` of the test harness: it shares nothing with its
//! parent but what the job names, exactly like an unrelated program would.
//!
//! One wrinkle: a test program's harness writes its header ("running 1 test") on
//! standard output before the worker's code runs. The worker's first line is [`START`],
//! and a parent reads what comes after it ([`stdout_of`], [`output`], [`strip_start`]).

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command};
use std::sync::OnceLock;

/// The environment variable that tells a program it was started as a worker: the number
/// of the job's arguments, which follow in `SHM_KATA_JOB_1`, `SHM_KATA_JOB_2`, …
pub const JOB_ENV: &str = "SHM_KATA_JOB";

/// The test that a test program runs when it is started as a worker (made by
/// [`crate::exercises!`]; ignored in a normal run).
pub const ENTRY: &str = "shm_kata_worker";

/// The line a worker writes first on its standard output. A test program's harness has
/// already written its own header there ("running 1 test") when the worker starts: a
/// parent reads what comes after this line ([`stdout_of`], [`output`]).
pub const START: &str = "-- shm-kata-worker: the job's output starts after this line --";

static PROGRAM: OnceLock<PathBuf> = OnceLock::new();

/// Makes workers run `path` instead of this program (the first call wins): for a test of
/// the kit itself, with a stand-in.
pub fn set_program(path: impl Into<PathBuf>) {
    let _ = PROGRAM.set(path.into());
}

/// The program a worker runs: this one (see [`command`]), unless [`set_program`] said
/// otherwise.
pub fn program() -> PathBuf {
    if let Some(path) = PROGRAM.get() {
        return path.clone();
    }
    std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe"))
}

/// The command that starts a worker for a job with these arguments.
///
/// **A worker is this same program, started again.** Each exercise is compiled only into
/// the programs that need it (a test of 04 holds 01–04, the demo 01–04, a test of 08 only
/// 08), so there is no one worker binary that could hold everyone's code: a broken 05
/// would stop 04's workers. Instead a program re-runs itself with the job in its
/// environment ([`JOB_ENV`]), the technique of `rusty-fork` (which `proptest` uses for its
/// `fork` option). A test program runs only its worker entry, [`ENTRY`] (the arguments
/// after the program's name select it in libtest); a program with its own `main` (the
/// demo) calls [`crate::worker::serve_if_asked`] first and never reads them. It is still a fresh process
/// from `exec`, not a `fork()` of the parent: it shares nothing with the parent but what
/// the job names, exactly like an unrelated program would.
pub fn command(args: &[OsString]) -> Command {
    let mut command = Command::new(program());
    command.args([
        "--exact",
        ENTRY,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
        "-q",
    ]);
    command.env(JOB_ENV, args.len().to_string());
    for (i, arg) in args.iter().enumerate() {
        command.env(format!("{JOB_ENV}_{}", i + 1), arg);
    }
    command
}

/// The job's arguments, if this process was started as a worker.
pub fn job_args() -> Option<Vec<OsString>> {
    let count: usize = std::env::var(JOB_ENV).ok()?.parse().ok()?;
    (1..=count)
        .map(|i| std::env::var_os(format!("{JOB_ENV}_{i}")))
        .collect()
}

/// A worker's standard output, from after its [`START`] line.
pub fn stdout_of(child: &mut Child) -> BufReader<ChildStdout> {
    let stdout = child
        .stdout
        .take()
        .expect("the worker's stdout must be piped (Stdio::piped())");
    let mut reader = BufReader::new(stdout);
    skip_to_start(&mut reader);
    reader
}

/// Reads up to and including the [`START`] line (or to the end, if there is none).
pub fn skip_to_start(reader: &mut impl BufRead) {
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line.strip_suffix(b"\n") == Some(START.as_bytes()) => return,
            Ok(_) => {}
        }
    }
}

/// Runs a worker's command to its end, like [`Command::output`], with its standard output
/// from after the [`START`] line.
pub fn output(command: &mut Command) -> std::io::Result<std::process::Output> {
    let mut output = command.output()?;
    strip_start(&mut output.stdout);
    Ok(output)
}

/// Removes everything up to and including the [`START`] line from a worker's standard
/// output, all read; leaves the output of any other program as it is.
pub fn strip_start(stdout: &mut Vec<u8>) {
    let marker = format!("{START}\n");
    if let Some(at) = stdout
        .windows(marker.len())
        .position(|w| w == marker.as_bytes())
    {
        stdout.drain(..at + marker.len());
    }
}
