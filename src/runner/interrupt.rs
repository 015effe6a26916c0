//! Ctrl-C: leave nothing behind.
//!
//! The runner starts `cargo test` in a process group of its own (so a test that loops
//! forever can be killed with everything it started), and the demo creates a segment in
//! `/dev/shm`. A Ctrl-C would kill the runner and leave both behind, so the runner
//! handles SIGINT: it passes the Ctrl-C on to the groups still running (as SIGINT, which
//! a terminal would have sent them had they been in its foreground group), gives them
//! [`GRACE`] to end, kills what is left, removes the files still registered, and exits
//! with the conventional status 130.
//!
//! What a test process killed this way had in its scratch directory stays there; the
//! next run removes it (its lock died with it: see [`super::scratch`]).

use std::io;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

static GROUPS: Mutex<Vec<i32>> = Mutex::new(Vec::new());
static FILES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static INSTALL: Once = Once::new();
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// How long the groups get to end after the forwarded Ctrl-C before they are killed.
pub const GRACE: Duration = Duration::from_secs(2);

/// Installs the handler (once; later calls do nothing).
pub fn install() {
    INSTALL.call_once(|| {
        let installed = ctrlc::set_handler(|| {
            let groups: Vec<Pid> = {
                // Under the lock: no group is being started and not yet watched, and none
                // is started after this.
                let mut groups = lock(&GROUPS);
                INTERRUPTED.store(true, Ordering::SeqCst);
                groups.drain(..).map(Pid::from_raw).collect()
            };
            stop_groups(&groups, GRACE);
            for file in lock(&FILES).drain(..) {
                if std::fs::remove_file(&file).is_ok() {
                    eprintln!("\ninterrupted: removed {}", file.display());
                }
            }
            for dir in lock(&DIRS).drain(..) {
                if std::fs::remove_dir_all(&dir).is_ok() {
                    eprintln!("\ninterrupted: removed {}", dir.display());
                }
            }
            std::process::exit(130);
        });
        if let Err(e) = installed {
            eprintln!("warning: cannot handle Ctrl-C ({e}); an interrupted run may leave processes or files behind");
        }
    });
}

/// Sends SIGINT to every group, waits until none has a process left or `grace` has
/// passed, then sends SIGKILL to the groups still there.
pub fn stop_groups(groups: &[Pid], grace: Duration) {
    for &group in groups {
        let _ = killpg(group, Signal::SIGINT);
    }
    let deadline = Instant::now() + grace;
    // Signal "none" only asks whether the group still has a member.
    let alive = |group: &&Pid| killpg(**group, None).is_ok();
    while groups.iter().any(|g| alive(&g)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    for group in groups.iter().filter(alive) {
        let _ = killpg(*group, Signal::SIGKILL);
    }
}

/// Starts `command` as the leader of a new process group, stopped on Ctrl-C until
/// [`forget_group`]. Starting and watching are one step for the handler: a Ctrl-C that
/// comes between the two would otherwise miss the new group, and leave it running.
/// After a Ctrl-C nothing more is started (`ErrorKind::Interrupted`).
pub fn spawn_group(command: &mut Command) -> io::Result<Child> {
    use std::os::unix::process::CommandExt;
    install();
    let mut groups = lock(&GROUPS);
    if INTERRUPTED.load(Ordering::SeqCst) {
        return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
    }
    let child = command.process_group(0).spawn()?;
    groups.push(child.id() as i32);
    Ok(child)
}

/// After a Ctrl-C, never returns: the handler is stopping the groups and will end the
/// process with status 130. A caller whose `cargo` just ended calls it first, so that
/// a run cut short is never reported (nor the runner's exit status taken) as a result.
pub fn hold_if_interrupted() {
    while INTERRUPTED.load(Ordering::SeqCst) {
        std::thread::park();
    }
}

/// Stop this process group on Ctrl-C until [`forget_group`].
pub fn watch_group(group: u32) {
    install();
    lock(&GROUPS).push(group as i32);
}

/// The group has ended.
pub fn forget_group(group: u32) {
    lock(&GROUPS).retain(|&g| g != group as i32);
}

/// Remove this file on Ctrl-C until [`forget_file`].
pub fn watch_file(file: PathBuf) {
    install();
    lock(&FILES).push(file);
}

/// Remove this directory and everything in it on Ctrl-C until [`forget_dir`].
pub fn watch_dir(dir: PathBuf) {
    install();
    lock(&DIRS).push(dir);
}

/// The directory has been removed by its owner.
pub fn forget_dir(dir: &std::path::Path) {
    lock(&DIRS).retain(|d| d != dir);
}

/// The file has been removed (or handed over) by its owner.
pub fn forget_file(file: &std::path::Path) {
    lock(&FILES).retain(|f| f != file);
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
