//! A process's descriptor table, seen and limited from inside: what a test needs to play
//! a receiver at its `RLIMIT_NOFILE` (exercise 08) and to see what it still holds.

use nix::sys::resource::{Resource, getrlimit, setrlimit};
use std::fs::File;
use std::os::fd::IntoRawFd;

/// Lowers the soft `RLIMIT_NOFILE` so that exactly `free` more descriptors can be
/// opened, and returns the soft limit it had. The kernel gives each new descriptor the
/// lowest free number, so unused numbers below the highest one in use would be handed out
/// first: they are filled with `/dev/null`, kept open for the rest of the process's life.
pub fn leave_free(free: u64) -> std::io::Result<u64> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    // The highest number in use (perhaps the listing's own descriptor, closed by now: then
    // one /dev/null more takes it).
    let highest = numbers_open()?.into_iter().max().unwrap_or(2);
    let mut last = File::open("/dev/null")?.into_raw_fd();
    while last < highest {
        last = File::open("/dev/null")?.into_raw_fd();
    }
    // Every number up to `last` is taken now.
    setrlimit(Resource::RLIMIT_NOFILE, last as u64 + 1 + free, hard)?;
    Ok(soft)
}

/// Gives back the soft limit [`leave_free`] returned.
pub fn restore(soft: u64) -> std::io::Result<()> {
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    Ok(setrlimit(Resource::RLIMIT_NOFILE, soft, hard)?)
}

/// What each of this process's descriptors is, as `/proc/self/fd` shows it (a memfd:
/// `/memfd:LABEL (deleted)`).
pub fn links() -> std::io::Result<Vec<String>> {
    let mut links = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd")? {
        // A descriptor may close between the listing and the readlink: skip it.
        if let Ok(target) = std::fs::read_link(entry?.path()) {
            links.push(target.to_string_lossy().into_owned());
        }
    }
    Ok(links)
}

/// How many of this process's descriptors are memfds.
pub fn memfds_open() -> std::io::Result<usize> {
    Ok(links()?.iter().filter(|l| l.starts_with("/memfd:")).count())
}

/// The numbers of this process's open descriptors (the listing's own among them).
fn numbers_open() -> std::io::Result<Vec<i32>> {
    let mut numbers = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd")? {
        if let Some(n) = entry?.file_name().to_str().and_then(|n| n.parse().ok()) {
            numbers.push(n);
        }
    }
    Ok(numbers)
}
