//! Ctrl-C: leave nothing behind.
//!
//! The runner starts `cargo test` in a process group of its own (so a test that loops
//! forever can be killed with everything it started), and the demo creates a segment in
//! `/dev/shm`. A Ctrl-C would kill the runner and leave both behind, so the runner
//! handles SIGINT: it kills the groups still running, removes the files still registered,
//! and exits with the conventional status 130.

use std::path::PathBuf;
use std::sync::{Mutex, Once};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

static GROUPS: Mutex<Vec<i32>> = Mutex::new(Vec::new());
static FILES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static INSTALL: Once = Once::new();

/// Installs the handler (once; later calls do nothing).
pub fn install() {
    INSTALL.call_once(|| {
        let installed = ctrlc::set_handler(|| {
            for group in lock(&GROUPS).drain(..) {
                let _ = killpg(Pid::from_raw(group), Signal::SIGKILL);
            }
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

/// Kill this process group on Ctrl-C until [`forget_group`].
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
