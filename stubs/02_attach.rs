//! # 02 · attach — open an existing segment by name
//!
//! The other half of sharing: a second process, which knows nothing but the directory and
//! the name, opens the same file and maps it. From then on both processes read and write
//! the same physical pages. No copy is made, ever, and no system call is needed to see
//! the other side's writes.
//!
//! * **Existing segments only.** Open read + write, without any `create` flag: a missing
//!   name is `Error::NotFound`, never a fresh empty segment that the other side will never
//!   see. And never follow a link (`O_NOFOLLOW`). Turn the open's error into the variant
//!   that says what happened with `.map_err(|e| Error::io(dir.path(), name, e))`.
//! * **Never change the file.** No `truncate`, no `set_len`: the segment is the creator's,
//!   and its bytes are what you came for.
//! * **Check what you opened, in this order.** Ask the *open file* (`file.metadata()`, not
//!   the path, which may name another file by now): something that is not a plain file (a
//!   directory, a FIFO, a device) is `Error::NotAFile`; then a zero-length file is
//!   `Error::ZeroLength` (often a creator that has not called `set_len` yet). Type first:
//!   a FIFO has length 0 too, but no length would make it a segment. (Opening a FIFO read +
//!   write never waits on Linux, so checking after the open is safe; a read-only open
//!   would wait for a writer.)
//! * **The size comes from the file.** The attacher did not choose it: map exactly what
//!   the metadata says.
//! * **Reserve the pages before you map.** The creator may have only set the length
//!   (Python's `SharedMemory` does, like any `ftruncate`-only program): a *sparse* file,
//!   whose pages do not exist yet. Mapping it always succeeds; on a tmpfs with too little
//!   room, the first touch of a missing page is a SIGBUS that kills your process (shown on
//!   your machine: `cargo run -- facts`, `a_sparse_page_on_a_full_tmpfs_is_a_sigbus`).
//!   `posix_fallocate(&file, 0, len as i64)` (nix takes the `&file` itself, and an `off_t`)
//!   fills the holes now, or fails with `ENOSPC` (or `EFBIG`, past the file system's
//!   largest file), which is `Error::NoSpace` with the `len` you tried to reserve: an
//!   error you can handle instead of a crash. It needs a writable descriptor, like the
//!   shared mapping does.
//!   On a tmpfs it only reserves, never writes, so it is safe on a live segment; on a file
//!   system without `fallocate(2)`, glibc emulates it by writing a zero byte into every
//!   block that reads as zero, which could clobber a peer's write of that byte.
//! * **Any other failure** of `file.metadata()`, `posix_fallocate` or the mapping is
//!   `Error::Io { name: name.to_owned(), source }` (an `Errno` becomes the `io::Error`
//!   with `.into()`). Mapping is `unsafe`: write the `// SAFETY:` comment that says why
//!   this mapping stays valid (`cargo clippy` refuses an `unsafe` block without one).
//! * **The trap you cannot close: a peer that shrinks the file.** If another process with
//!   write access (the owner, or root) *shrinks* the file after you mapped it, touching the
//!   lost pages is a SIGBUS (shown:
//!   `a_file_shrunk_by_another_process_makes_the_next_touch_a_sigbus`), and nothing an
//!   attacher checks can prevent it for a named file:
//!   the size you checked is only true until someone truncates. The kata's rule is that
//!   nobody shrinks a live segment; the real cure is a sealed memfd (`memfd_create` +
//!   `F_SEAL_SHRINK`), whose size the kernel keeps fixed, which exercise 08 teaches.
//! * **Same name rules as create**: reuse `crate::create::validate_name`.
//!
//! Finish with `Segment::from_parts(dir, name, file, map)` (it returns a `Result`: it can
//! find the name gone, if someone removed it while you were opening it). Not
//! `from_created`: that one marks the file as the kata's, for a sweep to remove once
//! nobody holds it, and a file you attached to may be another program's.
//!
//! Builds on: 01 create (`validate_name`; its tests make segments with `create`). A compile
//! error in those shows here too; no other exercise ever stops this one.
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
use shm_kata::{Error, Segment, SegmentDir};

/// Attaches to the existing segment `name` in `dir`, mapping all of it.
pub fn attach(dir: &SegmentDir, name: &str) -> Result<Segment, Error> {
    // TODO: validate the name, open the existing file (read + write, O_NOFOLLOW, no
    // create, no truncate), check it is a plain file and then that it is not empty,
    // reserve its pages (posix_fallocate), map all of it, and wrap it in a Segment.
    todo!(
        "02 attach: attach to segment {name:?} in {}",
        dir.path().display()
    )
}
