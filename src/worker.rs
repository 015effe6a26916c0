//! The parent's side of worker processes: start them all, wait for all of them, and turn
//! every way a child can end badly into an [`Error`] that names it.
//!
//! Two traps this module exists to avoid:
//! * **Reporting success too early.** The parent may only read the buffer after *every*
//!   worker has exited: until then some range is still being rewritten.
//! * **Hanging forever.** A worker that crashes is easy to miss (its exit status has to be
//!   read), and a worker that never ends blocks a plain `wait()` for good. Here every wait
//!   has a deadline, and a killed or failed worker is an error, never a silent gap.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStderr, ChildStdout, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::code::Code;
use crate::error::{Error, Result};
use crate::job::Job;
pub use crate::reexec::{
    ENTRY, JOB_ENV, START, command, job_args, output, program, set_program, skip_to_start,
    stdout_of, strip_start,
};

/// How long [`run_all`] lets workers run, unless [`set_timeout`] says otherwise, before it
/// kills them and reports an error.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

static TIMEOUT: OnceLock<Duration> = OnceLock::new();

/// Sets how long [`run_all`] waits for its workers (the first call wins). Tests use a
/// shorter deadline than [`DEFAULT_TIMEOUT`], so a hung worker fails them quickly.
pub fn set_timeout(timeout: Duration) {
    let _ = TIMEOUT.set(timeout);
}

/// How long [`run_all`] waits for its workers.
pub fn timeout() -> Duration {
    TIMEOUT.get().copied().unwrap_or(DEFAULT_TIMEOUT)
}

/// In a worker process, parses the job from the environment, runs it with `code` and
/// exits: 0 on success, 1 with the error on stderr. In any other process, returns.
pub fn serve_if_asked(code: &Code) {
    use clap::Parser;
    let Some(args) = job_args() else { return };
    /// One worker of the kata: attaches to a segment by name and does one job on it.
    #[derive(clap::Parser)]
    #[command(name = "shm-kata-worker")]
    struct Args {
        #[command(subcommand)]
        job: Job,
    }
    // The harness's header is on stdout already, maybe: say where the job's output begins.
    {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{START}").and_then(|()| stdout.flush());
    }
    let program = std::iter::once(OsString::from("shm-kata-worker"));
    let job = match Args::try_parse_from(program.chain(args)) {
        Ok(args) => args.job,
        Err(error) => {
            eprintln!("shm-kata-worker: {error}");
            std::process::exit(2);
        }
    };
    let label = job.label();
    match job.execute(code) {
        Ok(()) => std::process::exit(0),
        Err(error) => {
            eprintln!("shm-kata-worker: {label}: {error}");
            std::process::exit(1);
        }
    }
}

/// A started worker process and the job it runs.
#[derive(Debug)]
pub struct Worker {
    index: usize,
    job: Job,
    child: Child,
    /// Pass the worker's standard output and error on through this process's `print!`
    /// and `eprint!`.
    forwards: Vec<std::thread::JoinHandle<()>>,
}

impl Worker {
    /// Its position in the batch, from 0.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The job it runs.
    pub fn job(&self) -> &Job {
        &self.job
    }

    fn error(&self, outcome: String) -> Error {
        Error::Worker {
            index: self.index,
            job: self.job.label(),
            outcome,
        }
    }
}

impl Drop for Worker {
    /// A worker that is dropped before it was waited for (a panic or an early `?` in the
    /// parent) is killed and reaped: never an orphan process, never a zombie.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        for forward in self.forwards.drain(..) {
            let _ = forward.join(); // the pipe has ended: the worker is gone
        }
    }
}

/// Starts one worker process per job, all at once (they run in parallel from here on).
/// If one cannot be started, the ones already running are killed and reaped.
pub fn spawn(jobs: impl IntoIterator<Item = Job>) -> Result<Vec<Worker>> {
    let program = program();
    let mut workers = Vec::new();
    for (index, job) in jobs.into_iter().enumerate() {
        let spawned = job
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        match spawned {
            Ok(mut child) => {
                let stdout = child.stdout.take().map(forward_stdout);
                let stderr = child.stderr.take().map(forward);
                workers.push(Worker {
                    index,
                    job,
                    child,
                    forwards: stdout.into_iter().chain(stderr).collect(),
                })
            }
            Err(source) => {
                let error = Error::Worker {
                    index,
                    job: job.label(),
                    outcome: format!("could not be started from {}: {source}", program.display()),
                };
                return Err(error); // dropping `workers` kills and reaps them
            }
        }
    }
    Ok(workers)
}

/// Copies a worker's standard error to this process's, through `eprint!`, line by line.
///
/// Why not let the worker write to the same stderr directly: under `cargo test`, libtest
/// captures what each test prints and shows it under that test's name when it fails,
/// but it captures only `print!`/`eprint!` of the test's own threads (threads it starts
/// inherit the capture), never what a child process writes to the real stderr. Passed on
/// this way, a worker's panic message shows up under the test that started it.
fn forward(stderr: ChildStderr) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).split(b'\n') {
            match line {
                Ok(line) => eprintln!("{}", String::from_utf8_lossy(&line)),
                Err(_) => break,
            }
        }
    })
}

/// Copies a worker's standard output, from after its [`START`] line, to this process's,
/// through `print!`, line by line (for the same reason as [`forward`]).
fn forward_stdout(stdout: ChildStdout) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        skip_to_start(&mut reader);
        for line in reader.split(b'\n') {
            match line {
                Ok(line) => println!("{}", String::from_utf8_lossy(&line)),
                Err(_) => break,
            }
        }
    })
}

/// Waits until every worker has exited, or one has failed, or `timeout` has passed.
///
/// Returns `Ok` only if every worker exited with status 0 (no workers at all is `Ok`
/// too: there was nothing to do). Otherwise the error names the worker that failed and how:
/// its exit code or the signal that killed it. The first failure ends the wait: the
/// others are killed and reaped at once, since the job has failed anyway (the buffer is
/// then partly transformed: a failed run leaves no guarantee about its contents). No
/// process is left behind either way.
pub fn wait_all(mut workers: Vec<Worker>, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_micros(200);
    loop {
        // One `try_wait` per worker per pass: finished ones leave the list, the first
        // failure (in index order) is kept to be reported.
        let mut failure = None;
        workers.retain_mut(|worker| {
            let outcome = match worker.child.try_wait() {
                Ok(None) => return true,
                Ok(Some(status)) if status.success() => return false,
                Ok(Some(status)) => describe(status),
                Err(e) => format!("could not be waited for: {e}"),
            };
            failure.get_or_insert_with(|| worker.error(outcome));
            true
        });
        if let Some(error) = failure {
            return Err(error); // dropping `workers` kills and reaps the rest
        }
        if workers.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(workers[0].error(format!(
                "did not finish within {timeout:?} and was killed (is it stuck waiting for something?)"
            )));
        }
        std::thread::sleep(pause);
        // Back off, but to 1 ms at most: whatever we oversleep after the last worker
        // exits is added to the whole run (a transform of 5M words takes about 5 ms, and
        // a 5 ms ceiling measurably slowed it), while a `try_wait` per worker each
        // millisecond costs nothing.
        pause = (pause * 2).min(Duration::from_millis(1));
    }
}

/// Starts one worker per job and waits for all of them, with [`timeout`]`()`.
pub fn run_all(jobs: impl IntoIterator<Item = Job>) -> Result<()> {
    wait_all(spawn(jobs)?, timeout())
}

/// `exited with code 3`, `panicked (exit code 101; its message is above)`,
/// `was killed by signal SIGKILL`.
pub fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(signal) = status.signal() {
        let name = nix::sys::signal::Signal::try_from(signal)
            .map(|s| s.as_str().to_owned())
            .unwrap_or_else(|_| format!("{signal}"));
        return format!("was killed by signal {name}");
    }
    match status.code() {
        Some(101) => "panicked (exit code 101; its message is above)".to_owned(),
        Some(code) => format!("exited with code {code}"),
        None => format!("ended with {status}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The deadline given to `set_timeout` is the one `run_all` uses, and the first one
    /// given stays. (No other unit test sets it: this process's first call is this one.)
    #[test]
    fn the_first_timeout_set_is_the_one_used() {
        set_timeout(Duration::from_secs(7));
        set_timeout(Duration::from_secs(9));
        assert_eq!(
            timeout(),
            Duration::from_secs(7),
            "set_timeout must set the deadline of run_all, once"
        );
    }
}
