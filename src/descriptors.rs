//! A process's descriptor table, seen and limited from inside: what a test needs to play
//! a receiver at its `RLIMIT_NOFILE` (exercise 08) and to see what it still holds.

use nix::fcntl::{FcntlArg, fcntl};
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use std::fs::File;
use std::os::fd::BorrowedFd;

/// Lowers the soft `RLIMIT_NOFILE` so that exactly `free` more descriptors can be
/// opened, and returns the soft limit it had. Unused numbers below the highest open
/// descriptor would be handed out first (the kernel gives the lowest free number), so
/// they are filled with `/dev/null` for the rest of the process's life.
pub fn leave_free(free: u64) -> std::io::Result<u64> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    // Probing with F_GETFD opens nothing, unlike a listing of /proc/self/fd.
    let probe = soft.min(1 << 16) as i32;
    let open: Vec<i32> = (0..probe)
        .filter(|&fd| {
            // SAFETY: the descriptor is only asked for its flags, never kept or closed.
            fcntl(unsafe { BorrowedFd::borrow_raw(fd) }, FcntlArg::F_GETFD).is_ok()
        })
        .collect();
    let highest = open.last().copied().unwrap_or(2);
    let holes = (highest + 1) as usize - open.len();
    for _ in 0..holes {
        std::mem::forget(File::open("/dev/null")?);
    }
    setrlimit(Resource::RLIMIT_NOFILE, highest as u64 + 1 + free, hard)?;
    Ok(soft)
}

/// Gives back the soft limit [`leave_free`] returned.
pub fn restore(soft: u64) -> std::io::Result<()> {
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    Ok(setrlimit(Resource::RLIMIT_NOFILE, soft, hard)?)
}

/// How many of this process's descriptors are memfds (`/memfd:LABEL (deleted)`).
pub fn memfds_open() -> std::io::Result<usize> {
    let mut count = 0;
    for entry in std::fs::read_dir("/proc/self/fd")? {
        // A descriptor may close between the listing and the readlink: skip it.
        if let Ok(target) = std::fs::read_link(entry?.path())
            && target.to_string_lossy().starts_with("/memfd:")
        {
            count += 1;
        }
    }
    Ok(count)
}
