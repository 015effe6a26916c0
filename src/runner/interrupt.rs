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
//! The handler removes a file or directory only while its name still names the one that
//! was registered: it keeps each one open, and compares device and inode before the
//! removal. A learner who removed the demo's segment by hand and made a new file under
//! its name keeps the new file.
//!
//! A group is signalled only while its leader, a child of this process, is not yet
//! reaped: a zombie leader keeps its PID (and so the group's ID) from being given to
//! anybody else, so the signal cannot reach a stranger's group that got the same number.
//! Reaping goes through [`wait`], which waits while the handler is stopping groups, and a
//! caller learns that a leader has ended from [`has_ended`], which does not reap it.
//!
//! What a test process killed this way had in its scratch directory stays there; the
//! next run removes it (its lock died with it: see [`crate::scratch`]).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{Id, WaitPidFlag, waitid};
use nix::unistd::Pid;

use crate::liveness::names_same_file;

static GROUPS: Mutex<Vec<i32>> = Mutex::new(Vec::new());
static FILES: Mutex<Vec<Watched>> = Mutex::new(Vec::new());
static DIRS: Mutex<Vec<Watched>> = Mutex::new(Vec::new());
/// Held while a child is reaped ([`wait`]), and by the handler from the Ctrl-C to
/// the exit: no leader is reaped while the handler signals its group.
static REAPING: Mutex<()> = Mutex::new(());
static INSTALL: Once = Once::new();
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// How long the groups get to end after the forwarded Ctrl-C before they are killed.
pub const GRACE: Duration = Duration::from_secs(2);

/// Installs the handler (once; later calls do nothing).
pub fn install() {
    INSTALL.call_once(|| {
        let installed = ctrlc::set_handler(|| {
            // Held until the exit: from here on no leader is reaped.
            let _reaping = lock(&REAPING);
            let groups: Vec<Pid> = {
                // Under the lock: no group is being started and not yet watched, and none
                // is started after this.
                let mut groups = lock(&GROUPS);
                INTERRUPTED.store(true, Ordering::SeqCst);
                groups.drain(..).map(Pid::from_raw).collect()
            };
            stop_groups(&groups, GRACE);
            for file in lock(&FILES).drain(..) {
                if file.remove(|path| std::fs::remove_file(path)) {
                    eprintln!("\ninterrupted: removed {}", file.path.display());
                }
            }
            for dir in lock(&DIRS).drain(..) {
                if dir.remove(|path| std::fs::remove_dir_all(path)) {
                    eprintln!("\ninterrupted: removed {}", dir.path.display());
                }
            }
            std::process::exit(130);
        });
        if let Err(e) = installed {
            eprintln!("warning: cannot handle Ctrl-C ({e}); an interrupted run may leave processes or files behind");
        }
    });
}

/// Sends SIGINT to every group, waits until none has a running process left or `grace`
/// has passed, then sends SIGKILL to the groups still running.
///
/// Only groups whose leader (a child of this process) is not yet reaped are signalled,
/// and the caller must hold [`REAPING`], so that none is reaped meanwhile: an unreaped
/// leader, running or a zombie, keeps its PID, which is the group's ID, from being reused.
/// A group whose leader was reaped already is left alone: its ID may name a stranger's
/// group by now (its own reaper stops what is left of it).
fn stop_groups(groups: &[Pid], grace: Duration) {
    let groups: Vec<Pid> = groups
        .iter()
        .copied()
        .filter(|&leader| not_yet_reaped(leader))
        .collect();
    for &group in &groups {
        let _ = killpg(group, Signal::SIGINT);
    }
    let deadline = Instant::now() + grace;
    while groups.iter().any(|&g| has_running_member(g)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    for &group in groups.iter().filter(|&&g| has_running_member(g)) {
        let _ = killpg(group, Signal::SIGKILL);
    }
}

/// Whether `leader` is a child of this process that has not been reaped: still running,
/// or ended and waiting to be reaped (`WNOWAIT` leaves it so).
fn not_yet_reaped(leader: Pid) -> bool {
    let flags = WaitPidFlag::WEXITED
        | WaitPidFlag::WSTOPPED
        | WaitPidFlag::WCONTINUED
        | WaitPidFlag::WNOHANG
        | WaitPidFlag::WNOWAIT;
    waitid(Id::Pid(leader), flags).is_ok()
}

/// Whether group `group` has a member that is not a zombie, as `/proc/PID/stat` says
/// (`killpg(group, 0)` would count the unreaped leader, which is kept a zombie on
/// purpose). If `/proc` cannot be read, the answer is yes: the group is then killed
/// after the grace, which is safe while its leader is unreaped.
fn has_running_member(group: Pid) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return true;
    };
    entries.flatten().any(|entry| {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            return false; // not a process, or gone
        };
        // `PID (COMM) STATE PPID PGRP …`; COMM may hold spaces and parentheses.
        let mut fields = stat
            .rsplit_once(") ")
            .map_or("", |(_, rest)| rest)
            .split_whitespace();
        let state = fields.next();
        let pgrp = fields.nth(1).and_then(|p| p.parse::<i32>().ok());
        pgrp == Some(group.as_raw()) && !matches!(state, Some("Z" | "X" | "x"))
    })
}

/// Whether `child` has ended, asked without reaping it (`WNOWAIT`): until it is reaped its
/// PID, and so the ID of the group it leads, cannot be given to another process, so its
/// group can still be signalled safely. A child that cannot be asked about (already
/// reaped) counts as ended.
pub fn has_ended(child: &Child) -> bool {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    let pid = Pid::from_raw(child.id() as i32);
    !matches!(
        waitid(Id::Pid(pid), flags),
        Ok(nix::sys::wait::WaitStatus::StillAlive)
    )
}

/// `child.wait()`, but never while the Ctrl-C handler is stopping groups (it then waits
/// for the handler, which ends the process): a group's leader is reaped only through here,
/// so the handler never signals a group ID that was given away.
pub fn wait(child: &mut Child) -> io::Result<ExitStatus> {
    let _reaping = lock(&REAPING);
    child.wait()
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

/// The group has ended.
pub fn forget_group(group: u32) {
    lock(&GROUPS).retain(|&g| g != group as i32);
}

/// A name to remove on Ctrl-C, and the file (or directory) it named when it was
/// registered, kept open: an open file keeps its inode, so no newcomer gets its number.
struct Watched {
    path: PathBuf,
    ours: File,
}

impl Watched {
    /// Removes `path` with `remove` if it still names the file registered; says whether
    /// it did. (Linux has no "unlink only if this inode": between the check and the
    /// removal, microseconds, another process could still swap the name.)
    fn remove(&self, remove: impl FnOnce(&Path) -> io::Result<()>) -> bool {
        names_same_file(&self.ours, &self.path).unwrap_or(false) && remove(&self.path).is_ok()
    }
}

/// Remove the file at `path`, which `file` has open, on Ctrl-C until [`forget_file`]; only
/// while `path` still names that file.
pub fn watch_file(path: PathBuf, file: &File) {
    install();
    match file.try_clone() {
        Ok(ours) => lock(&FILES).push(Watched { path, ours }),
        Err(e) => warn_unwatched(&path, &e),
    }
}

/// Remove this directory and everything in it on Ctrl-C until [`forget_dir`]; only while
/// the name still names the directory it names now.
pub fn watch_dir(dir: PathBuf) {
    install();
    match File::open(&dir) {
        Ok(ours) => lock(&DIRS).push(Watched { path: dir, ours }),
        Err(e) => warn_unwatched(&dir, &e),
    }
}

fn warn_unwatched(path: &Path, error: &io::Error) {
    eprintln!(
        "warning: cannot keep {} open ({error}); a Ctrl-C will leave it behind",
        path.display()
    );
}

/// The directory has been removed by its owner.
pub fn forget_dir(dir: &Path) {
    lock(&DIRS).retain(|d| d.path != dir);
}

/// The file has been removed (or handed over) by its owner.
pub fn forget_file(file: &Path) {
    lock(&FILES).retain(|f| f.path != file);
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::{self, ScratchDir};

    /// A scratch directory under the crate's `target/tmp` (unit tests get no
    /// `CARGO_TARGET_TMPDIR`), removed when dropped, swept by the next run if not.
    fn scratch() -> ScratchDir {
        static SWEEP: Once = Once::new();
        let base = scratch::base(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/target/tmp"
        )));
        SWEEP.call_once(|| {
            scratch::sweep(&base);
        });
        ScratchDir::new(&base).unwrap()
    }

    fn watched_dir(path: &Path) -> Watched {
        std::fs::create_dir(path).unwrap();
        Watched {
            path: path.to_owned(),
            ours: File::open(path).unwrap(),
        }
    }

    #[test]
    fn a_watched_directory_is_removed_while_its_name_names_it() {
        let scratch = scratch();
        let dir = scratch.path().join("copy");
        let watched = watched_dir(&dir);
        std::fs::write(dir.join("inside"), b"").unwrap();
        assert!(watched.remove(|path| std::fs::remove_dir_all(path)));
        assert!(!dir.exists());
    }

    #[test]
    fn a_directory_that_took_a_watched_name_is_left_alone() {
        let scratch = scratch();
        let dir = scratch.path().join("copy");
        let watched = watched_dir(&dir);
        std::fs::remove_dir(&dir).unwrap();
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("a newcomer's"), b"").unwrap();
        assert!(
            !watched.remove(|path| std::fs::remove_dir_all(path)),
            "the name names another directory now: not ours to remove"
        );
        assert!(dir.join("a newcomer's").exists());
    }

    /// Forgetting one watched file, or one group, forgets that one only.
    #[test]
    fn forgetting_one_watched_file_or_group_keeps_the_others() {
        let tmp = scratch();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        let (file_a, file_b) = (File::create(&a).unwrap(), File::create(&b).unwrap());
        watch_file(a.clone(), &file_a);
        watch_file(b.clone(), &file_b);
        forget_file(&a);
        let watched: Vec<PathBuf> = lock(&FILES).iter().map(|w| w.path.clone()).collect();
        assert!(!watched.contains(&a) && watched.contains(&b), "{watched:?}");
        forget_file(&b);
        assert!(!lock(&FILES).iter().any(|w| w.path == b));

        let mut first = spawn_group(&mut Command::new("true")).unwrap();
        let mut second = spawn_group(&mut Command::new("true")).unwrap();
        forget_group(first.id());
        let groups = lock(&GROUPS).clone();
        assert!(
            !groups.contains(&(first.id() as i32)) && groups.contains(&(second.id() as i32)),
            "{groups:?}"
        );
        forget_group(second.id());
        wait(&mut first).unwrap();
        wait(&mut second).unwrap();
    }

    #[test]
    fn a_leader_counts_as_unreaped_until_it_is_waited_for() {
        let mut child = Command::new("true").spawn().unwrap();
        let leader = Pid::from_raw(child.id() as i32);
        assert!(not_yet_reaped(leader), "running, or a zombie nobody reaped");
        wait(&mut child).unwrap();
        assert!(
            !not_yet_reaped(leader),
            "reaped: its PID may be anybody's now"
        );
    }
}
