//! Every way a segment operation can fail, as a value.
//!
//! Shared memory fails in ways a learner should be able to *match on*: a name that would
//! escape the directory, a segment that already exists, one that is missing, a file that is
//! smaller than the range a worker wants to touch. Each of those is its own variant, and each
//! message says what happened, to which segment, and the way out. Nothing here panics, and
//! nothing lets a bad input reach `mmap`, where it would turn into a SIGBUS instead. One SIGBUS
//! no value can prevent: a peer that shrinks a named file under everyone's mappings (see
//! exercise 02).

use std::io;
use std::path::{Path, PathBuf};

/// What went wrong, and with which segment.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The name is not a single, plain file name (empty, `.`, `..`, a `/`, a NUL, too long).
    #[error(
        "invalid segment name {name:?}: {reason} (a name is one plain file name: 1 to 255 bytes, no '/', no NUL, not '.' or '..')"
    )]
    InvalidName { name: String, reason: &'static str },

    /// A segment of zero bytes was asked for, or found.
    #[error(
        "segment {name:?} has length 0: mmap cannot map an empty file (create asks for at least one byte; an empty file found by attach is usually a creator that has not set the length yet)"
    )]
    ZeroLength { name: String },

    /// `create` found the name taken.
    #[error(
        "segment {name:?} already exists in {dir} (create never reuses a name: attach to it, or unlink it first)"
    )]
    AlreadyExists { name: String, dir: PathBuf },

    /// `attach` (or `unlink`) found no such name.
    #[error(
        "no segment {name:?} in {dir} (attach only opens existing segments: create it first, and check both sides use the same directory)"
    )]
    NotFound { name: String, dir: PathBuf },

    /// The name exists but is not a plain file: a symlink, a directory, a device.
    #[error(
        "{name:?} in {dir} is not a plain file (a symlink, a directory or a device): segments never follow links, so a planted link cannot redirect them"
    )]
    NotAFile { name: String, dir: PathBuf },

    /// The segment is smaller than the bytes someone is about to touch.
    #[error(
        "segment {name:?} is {actual} bytes but {needed} are needed: touching a mapping past the end of its file is a SIGBUS, so this is refused up front"
    )]
    TooSmall {
        name: String,
        needed: u64,
        actual: u64,
    },

    /// A mapping that does not cover exactly the file it maps.
    #[error(
        "segment {name:?}: the file has {file} bytes but the mapping covers {mapped} (map the whole file, after its length is set)"
    )]
    SizeMismatch {
        name: String,
        file: u64,
        mapped: u64,
    },

    /// A range whose start is past its end.
    #[error("segment {name:?}: range {start}..{end} is reversed (a range starts before it ends)")]
    InvalidRange {
        name: String,
        start: usize,
        end: usize,
    },

    /// The file system had no room: for the segment's pages (`len` is their size), or for a
    /// new file at all (`len` is 0: out of inodes, or over a quota, before any size was set).
    #[error("{}", no_space(name, *len, dir))]
    NoSpace {
        name: String,
        len: usize,
        dir: PathBuf,
    },

    /// Work was asked for with nobody to do it.
    #[error(
        "no workers for segment {name:?}: at least one worker process is needed to transform it"
    )]
    NoWorkers { name: String },

    /// A worker process failed, was killed, or did not finish in time.
    #[error("worker {index} ({job}) {outcome}")]
    Worker {
        index: usize,
        job: String,
        outcome: String,
    },

    /// A worker was asked for a job whose exercise this program was not built with: each
    /// program holds only the exercises named in its `shm_kata::exercises!` line.
    #[error(
        "this program was not built with exercise {exercise}: add it to the `shm_kata::exercises!(…)` line of the test (or program) that started this worker"
    )]
    NotBuiltWith { exercise: &'static str },

    /// Exercise 08: the descriptor that came over the socket is not a memfd: its file
    /// cannot carry seals (`fcntl(F_GET_SEALS)` says `EINVAL`), so nothing can stop its
    /// owner from shrinking it under a mapping.
    #[error(
        "the descriptor received is not a memfd: its file cannot carry seals (F_GET_SEALS says EINVAL), so its owner could shrink it under your mapping and make it SIGBUS; only a sealed memfd is mapped (the sender makes one with memfd_create)"
    )]
    NotAMemfd,

    /// Exercise 08: the file that came over the socket answers `F_GET_SEALS` with
    /// `F_SEAL_SEAL` alone: sealed against every seal, so its size can never be sealed. A
    /// tmpfs file that is not a memfd (one in `/dev/shm`, say) answers that, and so does a
    /// memfd made without `MFD_ALLOW_SEALING`.
    #[error(
        "the file received can never be sealed: it carries F_SEAL_SEAL alone (a /dev/shm file that is not a memfd, or a memfd made without MFD_ALLOW_SEALING), so nothing can ever stop its owner from shrinking it under your mapping; the sender must make a memfd with MFD_ALLOW_SEALING and seal its size"
    )]
    NeverSealable,

    /// Exercise 08: the memfd that came over the socket carries a write seal
    /// (`F_SEAL_WRITE` or `F_SEAL_FUTURE_WRITE`, named in `seals`): nobody can map it
    /// writable any more.
    #[error(
        "the memfd received carries {}: no process can map it writable any more (mmap says EPERM), and a shared segment is written by both sides; the sender must seal only its size (SEALS), never its writes",
        seal_names(*seals)
    )]
    WriteSealed { seals: nix::fcntl::SealFlag },

    /// Exercise 08: the memfd that came over the socket lacks some of the seals that make
    /// its size final (`missing` names them).
    #[error(
        "the memfd received lacks the seal(s) {}: without F_SEAL_SHRINK and F_SEAL_GROW its size can still change under the mapping (a SIGBUS), without F_SEAL_SEAL someone can still add seals; the sender must add all three (F_ADD_SEALS) before it sends the descriptor",
        seal_names(*missing)
    )]
    NotSealed { missing: nix::fcntl::SealFlag },

    /// Exercise 08: a message arrived with no descriptor attached.
    #[error(
        "a message arrived with no descriptor attached: the sender must put the memfd's descriptor in the same sendmsg as the size, as an SCM_RIGHTS control message"
    )]
    NoDescriptor,

    /// Exercise 08: the received memfd's size is not the size the sender announced.
    #[error(
        "the memfd received is {actual} bytes but the sender announced {announced}: map nothing whose size is not the one you were promised (checked after the seals, which make it final)"
    )]
    WrongSize { announced: u64, actual: u64 },

    /// Exercise 08: the other end of the socket is gone. For `receive`, the sender closed
    /// it before a whole message arrived; for `send`, the receiver closed it (`EPIPE`).
    #[error(
        "the other end of the socket is gone: the peer exited or hung up before the segment was handed over"
    )]
    Disconnected,

    /// Exercise 08: a message that is not one descriptor and an 8-byte size.
    #[error(
        "a malformed message arrived on the socket: {reason} (a segment is sent as one message: its size as 8 little-endian bytes, with exactly one descriptor attached)"
    )]
    BadMessage { reason: String },

    /// Any other I/O failure, with the segment it happened to.
    #[error("I/O error on segment {name:?}: {source}")]
    Io {
        name: String,
        #[source]
        source: io::Error,
    },

    /// Exercise 07: the file does not start with a ring's magic number.
    #[error(
        "segment {name:?} is not a ring: its first 8 bytes are {found:#018x}, not the ring's magic number (attach to a segment made by ring::create, and only once create has returned)"
    )]
    NotARing { name: String, found: u64 },

    /// Exercise 07: a ring laid out by another version of the code.
    #[error(
        "ring {name:?} has layout version {found}, this code reads version {expected} (both sides must be built from the same kit: rebuild the older one)"
    )]
    RingVersion {
        name: String,
        found: u32,
        expected: u32,
    },

    /// Exercise 07: the header's capacity does not match the file (or cannot be a ring's).
    #[error(
        "ring {name:?}: its header says {capacity} data bytes, which needs a file of header + capacity bytes (capacity at least {min}), but the file has {file} bytes: a damaged or foreign segment, never map past the file"
    )]
    RingSize {
        name: String,
        capacity: u64,
        file: u64,
        min: u64,
    },

    /// Exercise 07: a ring was asked for with a capacity no ring can have (a bad
    /// argument, not a damaged segment).
    #[error(
        "ring {name:?} cannot have a capacity of {capacity} bytes: it must be at least {min} (room for one record: a 4-byte length and 1 byte) and at most {max} (a record's length is a u32, so no message may be longer than 4 GiB - 1); ask for a capacity in that range"
    )]
    RingCapacity {
        name: String,
        capacity: u64,
        min: u64,
        max: u64,
    },

    /// Exercise 07: another live process (or handle) already plays this role.
    #[error(
        "ring {name:?} already has a live {role} (a ring has one sender and one receiver; the kernel frees the role when its holder exits or dies)"
    )]
    RoleTaken { name: String, role: &'static str },

    /// Exercise 07: a message the ring can never hold, whatever the receiver does.
    #[error(
        "a message of {len} bytes cannot go through ring {name:?}: the largest it can ever hold is {max} bytes (its capacity less the 4-byte length); make the ring larger or split the message"
    )]
    MessageTooLarge {
        name: String,
        len: usize,
        max: usize,
    },

    /// Exercise 07: the ring's indices or a record's length cannot be true.
    #[error(
        "ring {name:?} is corrupt: {reason} (a peer wrote garbage into the shared header or data; never trust a length read from shared memory)"
    )]
    RingCorrupt { name: String, reason: String },

    /// Exercise 07: the peer process has exited or died; what is left can never come.
    #[error("the {peer} of ring {name:?} is gone (exited or killed): {what}")]
    PeerGone {
        name: String,
        peer: &'static str,
        what: &'static str,
    },

    /// Exercise 07: a blocking send or receive waited as long as it was allowed to.
    #[error(
        "ring {name:?}: {what} for {waited:?}, the time allowed (is the peer there, and alive?)"
    )]
    TimedOut {
        name: String,
        what: &'static str,
        waited: std::time::Duration,
    },
}

impl Error {
    /// Turns an `io::Error` from opening or creating `name` in `dir` into the variant that
    /// says what happened. `dir` is the directory's path, so with a [`SegmentDir`] write
    /// `.map_err(|e| Error::io(dir.path(), name, e))`.
    ///
    /// [`SegmentDir`]: crate::SegmentDir
    ///
    /// The Linux facts behind the mapping: `O_CREAT|O_EXCL` on an existing name is `EEXIST`
    /// (also when the name is a symlink: `O_EXCL` never follows it); `O_NOFOLLOW` on a
    /// symlink is `ELOOP`; opening a directory for writing is `EISDIR`. A file system with
    /// no room left says `ENOSPC`, and not only when its bytes run out: a tmpfs also has a
    /// fixed number of inodes (`nr_inodes`), so `open(O_CREAT)` fails with `ENOSPC` while
    /// `df` still shows free space (`df -i` shows why); a user over a disk quota gets
    /// `EDQUOT`. Both are [`Error::NoSpace`], with `len` 0 since no size was asked yet.
    pub fn io(dir: &Path, name: &str, source: io::Error) -> Error {
        let name = name.to_owned();
        let dir = dir.to_owned();
        match source.kind() {
            io::ErrorKind::AlreadyExists => Error::AlreadyExists { name, dir },
            io::ErrorKind::NotFound => Error::NotFound { name, dir },
            io::ErrorKind::IsADirectory => Error::NotAFile { name, dir },
            _ => match source.raw_os_error() {
                Some(nix::libc::ELOOP) => Error::NotAFile { name, dir },
                Some(nix::libc::ENOSPC | nix::libc::EDQUOT) => Error::NoSpace { name, len: 0, dir },
                _ => Error::Io { name, source },
            },
        }
    }
}

/// The message of [`Error::NoSpace`]: with the size when pages could not be reserved,
/// about files when not even the file could be made.
fn no_space(name: &str, len: usize, dir: &Path) -> String {
    let dir = dir.display();
    if len == 0 {
        format!(
            "no room for segment {name:?} in {dir}: the file system refused a new file (out of \
             inodes or over a quota: `df -i` tells; remove segments nobody uses, e.g. with sweep)"
        )
    } else {
        format!(
            "no room for segment {name:?} ({len} bytes) in {dir}: reserving its pages failed (a \
             full tmpfs, or a quota; free space, or ask for less)"
        )
    }
}

/// `F_SEAL_SHRINK | F_SEAL_GROW`: the names of the seals in `seals`.
fn seal_names(seals: nix::fcntl::SealFlag) -> String {
    let names: Vec<&str> = seals.iter_names().map(|(name, _)| name).collect();
    names.join(" | ")
}

/// The kata's `Result`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn from_errno(errno: i32) -> Error {
        Error::io(
            Path::new("/dev/shm"),
            "seg",
            io::Error::from_raw_os_error(errno),
        )
    }

    /// A tmpfs out of inodes fails `open(O_CREAT)` with `ENOSPC` although bytes are free:
    /// that is "no room", not an anonymous I/O error.
    #[test]
    fn running_out_of_inodes_is_no_space() {
        let error = from_errno(nix::libc::ENOSPC);
        assert!(
            matches!(&error, Error::NoSpace { name, len: 0, .. } if name == "seg"),
            "ENOSPC from open must be Error::NoSpace, got {error:?}"
        );
        let message = error.to_string();
        assert!(
            message.contains("\"seg\"") && message.contains("inodes"),
            "the message must name the segment and the way out: {message}"
        );
    }

    /// Over a disk quota is no room too.
    #[test]
    fn a_quota_exceeded_is_no_space() {
        let error = from_errno(nix::libc::EDQUOT);
        assert!(
            matches!(error, Error::NoSpace { len: 0, .. }),
            "EDQUOT must be Error::NoSpace, got {error:?}"
        );
    }

    /// Pages that could not be reserved say how many bytes were asked for.
    #[test]
    fn no_room_for_pages_names_the_size() {
        let error = Error::NoSpace {
            name: "seg".into(),
            len: 4096,
            dir: "/dev/shm".into(),
        };
        let message = error.to_string();
        assert!(
            message.contains("4096 bytes") && message.contains("reserving its pages"),
            "{message}"
        );
    }

    /// A write-sealed memfd is refused with the write seal's name.
    #[test]
    fn a_write_seal_is_named_in_the_message() {
        let message = Error::WriteSealed {
            seals: nix::fcntl::SealFlag::F_SEAL_FUTURE_WRITE,
        }
        .to_string();
        assert!(
            message.contains("carries F_SEAL_FUTURE_WRITE:") && message.contains("EPERM"),
            "the message must name the write seal: {message}"
        );
    }

    /// A memfd that lacks seals is refused with their names, joined as C writes them.
    #[test]
    fn missing_seals_are_named_in_the_message() {
        use nix::fcntl::SealFlag;
        let message = Error::NotSealed {
            missing: SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_SEAL,
        }
        .to_string();
        assert!(
            message.contains("lacks the seal(s) F_SEAL_SEAL | F_SEAL_GROW:"),
            "the message must name each missing seal: {message}"
        );
    }

    /// Other errors stay what they were.
    #[test]
    fn other_errors_keep_their_variant() {
        assert!(matches!(
            from_errno(nix::libc::ENOENT),
            Error::NotFound { .. }
        ));
        assert!(matches!(
            from_errno(nix::libc::ELOOP),
            Error::NotAFile { .. }
        ));
        assert!(matches!(from_errno(nix::libc::EIO), Error::Io { .. }));
    }
}
