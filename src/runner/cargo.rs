//! Running `cargo` for the runner: build the exercise tests, run one exercise's tests.
//!
//! The runner is started by `cargo run`, which has released its build lock by the time
//! the runner runs, so the `cargo test` it starts builds in the same target directory
//! (an inherited `CARGO_TARGET_DIR` included) without waiting on it.
//!
//! Output is captured, not shown: the runner reads it and prints what matters. The child
//! gets `RUST_BACKTRACE=0` and no colours, so a failure is a panic message and nothing
//! else, and it runs in a process group of its own, so a test stuck in an endless loop
//! can be killed together with the processes it started.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::interrupt;

/// How long one exercise's tests may run before they are killed, unless
/// [`TIMEOUT_ENV`] says otherwise.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(120);

/// Seconds one exercise's tests may run (the runner's own tests shorten it).
pub const TIMEOUT_ENV: &str = "SHM_KATA_TEST_TIMEOUT";

/// [`TEST_TIMEOUT`], or the seconds in [`TIMEOUT_ENV`].
pub fn test_timeout() -> Duration {
    std::env::var(TIMEOUT_ENV)
        .ok()
        .and_then(|secs| secs.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(TEST_TIMEOUT)
}

/// Which tree the crate is compiled against: what the learner wrote, or the answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Tree {
    Exercises,
    Solutions,
}

impl Tree {
    /// The tree this runner was compiled with (`--features solutions` or not), which is
    /// the one its `cargo test` runs use, so they reuse the build `cargo run` just made.
    pub fn compiled_in() -> Tree {
        if cfg!(feature = "solutions") {
            Tree::Solutions
        } else {
            Tree::Exercises
        }
    }

    fn cargo_args(self) -> &'static [&'static str] {
        match self {
            Tree::Exercises => &[],
            Tree::Solutions => &["--features", "solutions"],
        }
    }
}

/// What a finished `cargo` said.
#[derive(Debug, Clone)]
pub struct Output {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
    /// It was killed after its time ran out.
    pub timed_out: bool,
}

/// `cargo`, run in the kata's root.
#[derive(Debug, Clone)]
pub struct Cargo {
    root: PathBuf,
    env: Vec<(OsString, OsString)>,
}

impl Cargo {
    pub fn new(root: &Path) -> Cargo {
        Cargo {
            root: root.to_owned(),
            env: Vec::new(),
        }
    }

    /// Sets `key` to `value` in the environment of every `cargo` this one starts (and so
    /// of the tests it runs).
    pub fn with_env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Cargo {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Builds in `dir` instead of the usual target directory (a scratch copy of the crate
    /// must never overwrite the learner's worker binary).
    pub fn with_target_dir(self, dir: &Path) -> Cargo {
        self.with_env("CARGO_TARGET_DIR", dir)
    }

    /// The target directory the runs build in: the one set with
    /// [`with_target_dir`](Cargo::with_target_dir), else `CARGO_TARGET_DIR`, else `target/`
    /// in the root. (A `build.target-dir` in a cargo config is not looked at.)
    pub fn target_dir(&self) -> PathBuf {
        if let Some((_, dir)) = self.env.iter().rev().find(|(k, _)| k == "CARGO_TARGET_DIR") {
            return PathBuf::from(dir);
        }
        absolute_target_dir()
            .map(|(_, dir)| dir)
            .or_else(|| std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from))
            .filter(|dir| !dir.as_os_str().is_empty())
            .unwrap_or_else(|| self.root.join("target"))
    }

    /// Builds (without running) the given test targets and everything they need, each as
    /// far as it goes (`--keep-going`: a target that does not compile stops only itself).
    /// Diagnostics come one per line (`--message-format short`).
    pub fn build_tests<'a>(&self, tree: Tree, tests: impl IntoIterator<Item = &'a str>) -> Output {
        let mut args: Vec<OsString> = vec!["build".into(), "--keep-going".into()];
        args.extend(["--message-format", "short"].map(OsString::from));
        for test in tests {
            args.extend(["--test", test].map(OsString::from));
        }
        args.extend(tree.cargo_args().iter().map(OsString::from));
        self.run(&args, None)
    }

    /// `cargo test --test <test>`, bounded by [`test_timeout`]. Not `--quiet`: each
    /// test's line (`test name ... ok`) says which ones pass.
    pub fn test(&self, tree: Tree, test: &str) -> Output {
        let mut args: Vec<OsString> = ["test", "--test", test].map(OsString::from).into();
        args.extend(tree.cargo_args().iter().map(OsString::from));
        args.extend(["--", "--color", "never"].map(OsString::from));
        self.run(&args, Some(test_timeout()))
    }

    /// `cargo test --test facts`, one fact at a time, with every fact's own output
    /// (`--show-output`: the `shown:` or `skipped:` line of each), bounded by
    /// [`test_timeout`].
    pub fn facts(&self, tree: Tree) -> Output {
        let mut args: Vec<OsString> = ["test", "--test", "facts"].map(OsString::from).into();
        args.extend(tree.cargo_args().iter().map(OsString::from));
        args.extend(
            [
                "--",
                "--test-threads",
                "1",
                "--show-output",
                "--color",
                "never",
            ]
            .map(OsString::from),
        );
        self.run(&args, Some(test_timeout()))
    }

    /// `cargo build --example <name>` in the runner's own profile (`release`) and `tree`;
    /// the program's path, or what cargo said.
    pub fn build_example(&self, name: &str, tree: Tree, release: bool) -> Result<PathBuf, Output> {
        let mut args: Vec<OsString> = ["build", "--quiet", "--example", name]
            .map(OsString::from)
            .into();
        if release {
            args.push("--release".into());
        }
        args.extend(tree.cargo_args().iter().map(OsString::from));
        let output = self.run(&args, None);
        if !output.success {
            return Err(output);
        }
        let profile = if release { "release" } else { "debug" };
        Ok(self.target_dir().join(profile).join("examples").join(name))
    }

    fn run(&self, args: &[OsString], timeout: Option<Duration>) -> Output {
        let program = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = Command::new(&program);
        command
            .args(args)
            .current_dir(&self.root)
            .env("RUST_BACKTRACE", "0")
            .env("CARGO_TERM_COLOR", "never")
            .envs(absolute_target_dir())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // In a process group of its own, watched by the Ctrl-C handler from the start.
        let mut child = match interrupt::spawn_group(&mut command) {
            Ok(child) => child,
            Err(e) => {
                interrupt::hold_if_interrupted();
                return Output {
                    success: false,
                    stdout: String::new(),
                    stderr: format!("cannot start {}: {e}", program.to_string_lossy()),
                    timed_out: false,
                };
            }
        };
        let group = child.id();
        let stdout = read_all(child.stdout.take());
        let stderr = read_all(child.stderr.take());
        let deadline = timeout.map(|t| Instant::now() + t);
        let timed_out = loop {
            if interrupt::has_ended(&child) {
                break false;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break true;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The test binaries cargo started are in the group too: none may outlive it. The
        // leader is not reaped yet, so the group's ID is still this group's, never a
        // newcomer's: kill what is left of it, and only then reap the leader.
        let _ = killpg(Pid::from_raw(group as i32), Signal::SIGKILL);
        let status = interrupt::wait(&mut child).ok();
        interrupt::forget_group(group);
        interrupt::hold_if_interrupted();
        Output {
            success: status.is_some_and(|s| s.success()) && !timed_out,
            stdout: stdout.join().unwrap_or_default(),
            stderr: stderr.join().unwrap_or_default(),
            timed_out,
        }
    }
}

/// A relative `CARGO_TARGET_DIR` is relative to where the learner typed `cargo run`, but
/// the child runs in the root: pass it on as an absolute path, so both use one build.
fn absolute_target_dir() -> Option<(&'static str, PathBuf)> {
    let dir = PathBuf::from(std::env::var_os("CARGO_TARGET_DIR")?);
    if dir.is_absolute() {
        return None;
    }
    Some(("CARGO_TARGET_DIR", std::env::current_dir().ok()?.join(dir)))
}

fn read_all(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}
