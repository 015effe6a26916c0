//! # 02 · attach — open an existing segment by name
//!
//! The other half of sharing: a second process, which knows nothing but the directory and
//! the name, opens the same file and maps it. From then on both processes read and write
//! the same physical pages. No copy is made, ever, and no system call is needed to see
//! the other side's writes.
//!
//! * **Existing segments only.** Open read + write, without any `create` flag: a missing
//!   name is `Error::NotFound` (use `Error::io`), never a fresh empty segment that the
//!   other side will never see. And never follow a link (`O_NOFOLLOW`).
//! * **The size comes from the file.** The attacher did not choose it: read it from
//!   `file.metadata()`, and map exactly that. A zero-length file is `Error::ZeroLength`
//!   (often a creator that has not called `set_len` yet); something that is not a plain
//!   file is `Error::NotAFile`.
//! * **Reserve the pages before you map.** The creator may have only set the length
//!   (Python's `SharedMemory` does, like any `ftruncate`-only program): a *sparse* file,
//!   whose pages do not exist yet. Mapping it always succeeds; on a tmpfs with too little
//!   room, the first touch of a missing page is a SIGBUS that kills your process.
//!   `posix_fallocate(&file, 0, len)` fills the holes now, or fails with `ENOSPC`
//!   (`EFBIG`), which is `Error::NoSpace`: an error you can handle instead of a crash.
//! * **The trap you cannot close: a peer that shrinks the file.** If another process with
//!   write access (the owner, or root) *shrinks* the file after you mapped it, touching the
//!   lost pages is a SIGBUS, and nothing an attacher checks can prevent it for a named file:
//!   the size you checked is only true until someone truncates. The kata's rule is that
//!   nobody shrinks a live segment; the real cure is a sealed memfd, whose size the kernel
//!   keeps fixed (exercise 08).
//! * **Same name rules as create**: reuse `crate::create::validate_name`.
//!
//! Finish with `Segment::from_parts(dir, name, file, map)` (it returns a `Result`: it can
//! find the name gone, if someone removed it while you were opening it).
//!
//! Run: `cargo test --test 02_attach`   Stuck? `cargo run -- hint 2`

#[allow(unused_imports)] // you will need these
use std::fs::OpenOptions;
#[allow(unused_imports)]
use std::os::unix::fs::OpenOptionsExt;

#[allow(unused_imports)]
use memmap2::MmapMut;
#[allow(unused_imports)]
use nix::errno::Errno;
#[allow(unused_imports)]
use nix::fcntl::{OFlag, posix_fallocate};

#[allow(unused_imports)]
use crate::create::validate_name;
use crate::{Error, Segment, SegmentDir};

/// Attaches to the existing segment `name` in `dir`, mapping all of it.
pub fn attach(dir: &SegmentDir, name: &str) -> Result<Segment, Error> {
    // TODO: validate the name, open the existing file (read + write, O_NOFOLLOW), check it
    // is a non-empty plain file, reserve its pages (posix_fallocate), map all of it, and
    // wrap it in a Segment.
    todo!(
        "02 attach: attach to segment {name:?} in {}",
        dir.path().display()
    )
}
