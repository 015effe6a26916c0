//! The parent's side of worker processes: start them all, wait for all of them, and turn
//! every way a child can end badly into an [`Error`] that names it.
//!
//! Two traps this module exists to avoid:
//! * **Reporting success too early.** The parent may only read the buffer after *every*
//!   worker has exited: until then some range is still being rewritten.
//! * **Hanging forever.** A worker that crashes is easy to miss (its exit status has to be
//!   read), and a worker that never ends blocks a plain `wait()` for good. Here every wait
//!   has a deadline, and a killed or failed worker is an error, never a silent gap.

use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::job::Job;

/// The file name of the crate's worker binary.
pub const PROGRAM_NAME: &str = "shm-kata-worker";

/// How long [`run_all`] lets workers run before it kills them and reports an error.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

static PROGRAM: OnceLock<PathBuf> = OnceLock::new();

/// Tells the kit where the worker binary is. Tests call it with
/// `env!("CARGO_BIN_EXE_shm-kata-worker")`; the first call wins.
pub fn set_program(path: impl Into<PathBuf>) {
    let _ = PROGRAM.set(path.into());
}

/// The worker binary: the one given to [`set_program`], else `$SHM_KATA_WORKER`, else the
/// `shm-kata-worker` next to the running executable (or one directory up, which is where
/// cargo puts binaries relative to test executables in `target/*/deps/`).
pub fn program() -> PathBuf {
    if let Some(path) = PROGRAM.get() {
        return path.clone();
    }
    if let Some(path) = std::env::var_os("SHM_KATA_WORKER") {
        return path.into();
    }
    let file = format!("{PROGRAM_NAME}{}", std::env::consts::EXE_SUFFIX);
    let exe = std::env::current_exe().unwrap_or_default();
    exe.ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join(&file))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| PathBuf::from(file))
}

/// A started worker process and the job it runs.
#[derive(Debug)]
pub struct Worker {
    index: usize,
    job: Job,
    child: Child,
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

/// Starts one worker process per job, all at once (they run in parallel from here on).
/// If one cannot be started, the ones already running are killed and reaped.
pub fn spawn(jobs: impl IntoIterator<Item = Job>) -> Result<Vec<Worker>> {
    let program = program();
    let mut workers = Vec::new();
    for (index, job) in jobs.into_iter().enumerate() {
        let spawned = job.command().stdin(Stdio::null()).spawn();
        match spawned {
            Ok(child) => workers.push(Worker { index, job, child }),
            Err(source) => {
                let error = Error::Worker {
                    index,
                    job: job.label(),
                    outcome: format!("could not be started from {}: {source}", show(&program)),
                };
                kill_all(&mut workers);
                return Err(error);
            }
        }
    }
    Ok(workers)
}

/// Waits until every worker has exited, or `timeout` has passed.
///
/// Returns `Ok` only if every worker exited with status 0. Otherwise the error names the
/// first worker (by index) that failed, and how: its exit code or the signal that killed
/// it. Workers still running at the deadline are killed and reaped, so no process is left
/// behind either way.
pub fn wait_all(mut workers: Vec<Worker>, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let mut failures: Vec<Error> = Vec::new();
    let mut pause = Duration::from_micros(200);
    while !workers.is_empty() {
        let mut still_running = Vec::with_capacity(workers.len());
        for mut worker in workers {
            match worker.child.try_wait() {
                Ok(Some(status)) if status.success() => {}
                Ok(Some(status)) => failures.push(worker.error(describe(status))),
                Ok(None) => still_running.push(worker),
                Err(e) => {
                    let _ = worker.child.kill();
                    let _ = worker.child.wait();
                    failures.push(worker.error(format!("could not be waited for: {e}")));
                }
            }
        }
        workers = still_running;
        if workers.is_empty() {
            break;
        }
        if Instant::now() >= deadline {
            for worker in &mut workers {
                failures.push(worker.error(format!(
                    "did not finish within {timeout:?} and was killed (is it stuck waiting for something?)"
                )));
            }
            kill_all(&mut workers);
            break;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(5));
    }
    match failures.into_iter().min_by_key(|e| match e {
        Error::Worker { index, .. } => *index,
        _ => usize::MAX,
    }) {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// Starts one worker per job and waits for all of them, with [`DEFAULT_TIMEOUT`].
pub fn run_all(jobs: impl IntoIterator<Item = Job>) -> Result<()> {
    wait_all(spawn(jobs)?, DEFAULT_TIMEOUT)
}

fn kill_all(workers: &mut [Worker]) {
    for worker in workers.iter_mut() {
        let _ = worker.child.kill();
    }
    for worker in workers.iter_mut() {
        let _ = worker.child.wait();
    }
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

fn show(path: &Path) -> String {
    path.display().to_string()
}
