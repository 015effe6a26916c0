//! # 02 · attach — open an existing segment by name
//!
//! Reference answer.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;

use memmap2::MmapMut;
use nix::fcntl::OFlag;

use crate::create::validate_name;
use crate::{Error, Segment, SegmentDir};

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
    // SAFETY: the length comes from the file we hold open, checked non-zero just above, so
    // the mapping covers exactly the bytes the file has. It stays valid while nobody
    // shrinks the file (then the next touch past the new end would be a SIGBUS): the
    // kata's segments are never shrunk while anyone has them attached.
    let map = unsafe { MmapMut::map_mut(&file) }.map_err(|source| Error::Io {
        name: name.to_owned(),
        source,
    })?;
    Segment::from_parts(dir, name, file, map)
}
