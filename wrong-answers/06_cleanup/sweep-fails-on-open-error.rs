// WRONG: sweep returns the error of an open that fails instead of skipping that name
// CAUGHT BY: a marked name it cannot open
//! # 06 · cleanup — close is not unlink, and a crash is not an excuse
//!
//! Reference answer.

use std::fs::{File, OpenOptions};
use std::ops::{Deref, DerefMut};
use std::os::unix::fs::OpenOptionsExt;

use nix::fcntl::OFlag;

use crate::create::{create, validate_name};
use shm_kata::liveness;
use shm_kata::{Error, Segment, SegmentDir};

/// Removes the name `name` from `dir`. Mappings that are open stay valid: the memory is
/// freed when the last one is dropped.
pub fn unlink(dir: &SegmentDir, name: &str) -> Result<(), Error> {
    validate_name(name)?;
    std::fs::remove_file(dir.join(name)).map_err(|e| Error::io(dir.path(), name, e))
}

/// A segment that unlinks its name when dropped: the creator's handle.
#[derive(Debug)]
pub struct OwnedSegment {
    segment: Segment,
    dir: SegmentDir,
}

impl OwnedSegment {
    /// Creates segment `name` of `len` bytes in `dir` (with `create`), owned by the caller.
    pub fn create(dir: &SegmentDir, name: &str, len: usize) -> Result<OwnedSegment, Error> {
        Ok(OwnedSegment {
            segment: create(dir, name, len)?,
            dir: dir.clone(),
        })
    }
}

impl Drop for OwnedSegment {
    fn drop(&mut self) {
        // Runs on a normal drop and while a panic unwinds. A name already removed by
        // someone else is fine: there is nothing left to clean. A name that now means
        // *another* file (removed, then created again by someone else) is not ours to
        // remove. Never panic here.
        let path = self.dir.join(self.segment.name());
        if let Ok(true) = liveness::names_same_file(self.segment.file(), &path) {
            let _ = unlink(&self.dir, self.segment.name());
        }
    } // then `segment` is dropped: unmapped and closed
}

impl Deref for OwnedSegment {
    type Target = Segment;

    fn deref(&self) -> &Segment {
        &self.segment
    }
}

impl DerefMut for OwnedSegment {
    fn deref_mut(&mut self) -> &mut Segment {
        &mut self.segment
    }
}

/// Unlinks every segment in `dir` that the kata created and that no live process holds,
/// and returns their names, sorted.
pub fn sweep(dir: &SegmentDir) -> Result<Vec<String>, Error> {
    let names = dir.names().map_err(|source| Error::Io {
        name: dir.path().display().to_string(),
        source,
    })?;
    let mut swept = Vec::new();
    for name in names {
        // The claim is held until `_claim` is dropped, after the unlink: nobody can
        // register as a holder of this file in between.
        let Some(_claim) = claim_if_dead(dir, &name)? else {
            continue;
        };
        // Anything that stops the unlink (someone else removed it first, a permission):
        // skip it, and keep the names already swept.
        if unlink(dir, &name).is_ok() {
            swept.push(name);
        }
    }
    Ok(swept)
}

/// Our own open of `name`, holding the exclusive liveness claim, if `name` is a segment
/// the kata made and no live process holds it. `None` for anything else, and for anything
/// we cannot check: when in doubt, leave it.
fn claim_if_dead(dir: &SegmentDir, name: &str) -> Result<Option<File>, Error> {
    if validate_name(name).is_err() {
        return Ok(None);
    }
    let path = dir.join(name);
    // Only plain files with the kata's mark; this looks without opening or following.
    if !liveness::is_kata_segment(&path) {
        return Ok(None);
    }
    // Our own description (a clone of a held segment's descriptor would share its
    // holder's lock), writable (an exclusive record lock needs it), never following a
    // link, never blocking.
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK).bits())
        .open(&path)
        .map_err(|e| Error::io(dir.path(), name, e))?;
    // Ask again of the file we opened: the name may have changed hands since the look.
    if !liveness::is_kata_file(&file) || !liveness::claim(&file).unwrap_or(false) {
        return Ok(None); // a live holder
    }
    // The lock only sees the kata's holders. A Python or C program that maps the file (or
    // holds it open) takes no lock: ask the kernel's record in /proc too. Unsure is in use.
    if liveness::used_by_another_process(&file).unwrap_or(true) {
        return Ok(None);
    }
    // The name may have been removed and reused between our look and our claim: only
    // unlink it if it still names the very file we claimed.
    Ok(liveness::names_same_file(&file, &path)
        .unwrap_or(false)
        .then_some(file))
}
