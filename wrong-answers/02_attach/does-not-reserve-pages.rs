// WRONG: attach maps the file as it is, without posix_fallocate: a sparse file stays sparse
// CAUGHT BY: without reserving its pages
//! # 02 · attach — open an existing segment by name
//!
//! Reference answer.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;

use memmap2::MmapMut;
use nix::fcntl::OFlag;

use crate::create::validate_name;
use shm_kata::{Error, Segment, SegmentDir};

/// Attaches to the existing segment `name` in `dir`, mapping all of it.
pub fn attach(dir: &SegmentDir, name: &str) -> Result<Segment, Error> {
    validate_name(name)?;
    let file = OpenOptions::new()
        .read(true)
        .write(true) // no create: attaching never makes a segment
        .custom_flags(OFlag::O_NOFOLLOW.bits())
        .open(dir.join(name))
        .map_err(|e| Error::io(dir.path(), name, e))?;
    let meta = file.metadata().map_err(|source| Error::Io {
        name: name.to_owned(),
        source,
    })?;
    // The type first: a FIFO or a device has length 0 too, and is no segment whatever its
    // length. (Opening a FIFO read + write does not wait for a peer on Linux.)
    if !meta.is_file() {
        return Err(Error::NotAFile {
            name: name.to_owned(),
            dir: dir.path().to_owned(),
        });
    }
    if meta.len() == 0 {
        return Err(Error::ZeroLength {
            name: name.to_owned(),
        });
    }
    // Reserve every page the mapping will cover. Whoever made the file may have only set
    // its length (Python's SharedMemory, any `ftruncate`-only creator): a sparse file. On
    // a tmpfs with too little room left, mapping it still succeeds, and the first touch of
    // a hole is a SIGBUS. posix_fallocate fills the holes now, or says there is no room.
    // It costs little on a segment whose pages already exist (created by `create`).
    // SAFETY: the length comes from the file we hold open, checked non-zero and reserved
    // just above, so the mapping covers exactly the bytes the file has, every page backed.
    // It stays valid while nobody shrinks the file: a peer that truncates it (its owner, or
    // root) makes our next touch past the new end a SIGBUS, and no check here can prevent
    // that for a named file. The kata's segments are never shrunk while anyone has them
    // attached; a sealed memfd (exercise 08) makes the size permanent.
    let map = unsafe { MmapMut::map_mut(&file) }.map_err(|source| Error::Io {
        name: name.to_owned(),
        source,
    })?;
    // `from_parts`, not `from_created`: the file may be another program's, and only a
    // file the kata created may carry its mark (which lets a sweep remove it).
    Segment::from_parts(dir, name, file, map)
}
