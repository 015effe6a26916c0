// WRONG: opens with create(true) instead of create_new(true), so an existing segment is opened and resized
// CAUGHT BY: use create_new(true)
//! # 01 · create — make a named segment, safely
//!
//! Reference answer. The exercise file says what and why; this one shows one way.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use memmap2::MmapMut;
use nix::errno::Errno;
use nix::fcntl::{OFlag, posix_fallocate};

use shm_kata::{Error, Segment, SegmentDir, liveness};

/// The longest file name Linux accepts (`NAME_MAX`).
pub const MAX_NAME_LEN: usize = 255;

/// Checks that `name` is one plain file name that stays inside its directory.
pub fn validate_name(name: &str) -> Result<(), Error> {
    let reason = if name.is_empty() {
        "it is empty"
    } else if name == "." || name == ".." {
        "'.' and '..' name directories, not files"
    } else if name.contains('/') {
        "it contains '/', which would leave the segment directory"
    } else if name.contains('\0') {
        "it contains a NUL byte, which ends a name early at the system-call boundary"
    } else if name.len() > MAX_NAME_LEN {
        "it is longer than 255 bytes (NAME_MAX)"
    } else {
        return Ok(());
    };
    Err(Error::InvalidName {
        name: name.to_owned(),
        reason,
    })
}

/// Creates a new segment `name` of `len` bytes in `dir`, mapped and zero-filled.
pub fn create(dir: &SegmentDir, name: &str, len: usize) -> Result<Segment, Error> {
    validate_name(name)?;
    if len == 0 {
        return Err(Error::ZeroLength {
            name: name.to_owned(),
        });
    }
    let path = dir.join(name);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true) // O_CREAT: make the file if it is missing
        .mode(0o600) // only this user can attach
        .custom_flags(OFlag::O_NOFOLLOW.bits())
        .open(&path)
        .map_err(|e| Error::io(dir.path(), name, e))?;
    let io = |source| Error::Io {
        name: name.to_owned(),
        source,
    };
    // From here on a failure must not leave a half-made segment behind.
    let give_up = |error: Error| {
        remove_if_ours(&file, &path);
        Err(error)
    };
    let no_space = || Error::NoSpace {
        name: name.to_owned(),
        len,
        dir: dir.path().to_owned(),
    };
    // Grow the file *before* mapping it: the mapping may only cover bytes the file has.
    // A fresh file extended with set_len reads as zeros and costs no memory until touched.
    // A length past the file system's largest file is EFBIG: no room, like ENOSPC.
    match file.set_len(len as u64) {
        Ok(()) => {}
        Err(source) if source.kind() == std::io::ErrorKind::FileTooLarge => {
            return give_up(no_space());
        }
        Err(source) => return give_up(io(source)),
    }
    // Reserve the pages now. On a tmpfs, set_len reserves nothing: if /dev/shm fills up
    // later, the first touch of a missing page is a SIGBUS. posix_fallocate makes that
    // an error here instead, while it can still be handled.
    match posix_fallocate(&file, 0, len as i64) {
        Ok(()) => {}
        Err(Errno::ENOSPC | Errno::EFBIG) => return give_up(no_space()),
        Err(errno) => return give_up(io(errno.into())),
    }
    // SAFETY: the file is ours (created with O_EXCL a moment ago) and stays open for as
    // long as the map lives, inside the Segment. Another process *could* shrink it and
    // make our next access SIGBUS; the kata's rule is that nobody shrinks a live segment,
    // and `attach` checks the size before it maps.
    let map = match unsafe { MmapMut::map_mut(&file) } {
        Ok(map) => map,
        Err(source) => return give_up(io(source)),
    };
    // `from_created` takes the file, and closes it if it fails: keep a second descriptor
    // to recognise our file by.
    let ours = match file.try_clone() {
        Ok(ours) => ours,
        Err(source) => return give_up(io(source)),
    };
    // `from_created`, not `from_parts`: both register this process as a live holder;
    // `from_created` also marks the file as the kata's, so a sweep may remove it once
    // every holder is gone (exercise 06).
    Segment::from_created(dir, name, file, map).inspect_err(|_| remove_if_ours(&ours, &path))
}

/// Removes `path` if it still names `file`: the name is not ours to remove, only the file
/// we made. Another process may have removed our file and created its own under the same
/// name since our open; removing "our" name then would remove *its* live segment.
///
/// Linux has no "unlink this name only if it names this inode", so a gap remains between
/// the check and the unlink, a few microseconds: another process would have to remove our
/// file *and* create its own inside it for the wrong file to go. The check turns a race
/// that any concurrent `create` can lose into that.
fn remove_if_ours(file: &File, path: &Path) {
    if liveness::names_same_file(file, path).unwrap_or(false) {
        let _ = std::fs::remove_file(path);
    }
}
