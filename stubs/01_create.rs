//! # 01 · create — make a named segment, safely
//!
//! A shared segment is a file that several processes map into memory. Every process that
//! maps it sees the same bytes, so the *name* is all two processes need to agree on. That
//! makes creating one a security question as much as a memory one:
//!
//! * **Open for reading and writing.** `OpenOptions::new().read(true).write(true)`: a
//!   shared mapping you can read and write (`MAP_SHARED` with `PROT_READ|PROT_WRITE`)
//!   needs a file open for both, or `mmap` fails with `EACCES` (`PermissionDenied`).
//! * **Never reuse a name.** Open with `O_CREAT | O_EXCL` (`create_new(true)` in Rust):
//!   the kernel fails with `EEXIST` if the name is taken, in one atomic step. "Check if it
//!   exists, then create" is a race another process can win.
//! * **Never follow a link.** Someone can plant a symlink at the name you are about to use
//!   and point it at a file of yours. `O_EXCL` refuses links already, even one that points
//!   to no file yet (shown on your machine: `cargo run -- facts`,
//!   `o_excl_refuses_a_symlink_even_to_a_missing_file`); add `O_NOFOLLOW`
//!   (`custom_flags(OFlag::O_NOFOLLOW.bits())`) so the rule is stated, not implied.
//! * **Only you.** Mode `0600`: other users cannot attach to your memory.
//! * **Names stay inside the directory.** A name is one file name: not empty, not `.` or
//!   `..`, no `/`, no NUL byte, at most 255 *bytes* (`NAME_MAX`; `"é"` is two bytes, so
//!   128 of them are too many; `.hidden` is fine). `"../../home/you/.bashrc"` must be an
//!   `Error::InvalidName { name, reason }`, not a file you just clobbered. Write those
//!   rules in `validate_name`, and call it first thing in `create`.
//! * **Set the length before you map.** A new file has 0 bytes, and
//!   `MmapMut::map_mut(&file)` maps the length the file has. (`mmap` itself maps as much
//!   as you ask, past the end too; the first touch of a page past the end is the SIGBUS.
//!   Shown: `mapping_past_the_end_succeeds_and_touching_there_is_a_sigbus`.) So
//!   `file.set_len(len)` first (it reads back as zeros), then the map. A zero length is
//!   `Error::ZeroLength { name: name.to_owned() }`: nothing to map.
//! * **Reserve the memory up front.** On a tmpfs like `/dev/shm`, `set_len` reserves no
//!   pages: if `/dev/shm` is full when a page is first touched (a Docker container gets
//!   64 MiB by default), that touch is a SIGBUS that kills the process (shown:
//!   `a_sparse_page_on_a_full_tmpfs_is_a_sigbus`). `posix_fallocate`
//!   claims the pages now, so "no room" is an error you can handle, instead of a crash
//!   later: `Error::NoSpace { name: name.to_owned(), len, dir: dir.path().to_owned() }`
//!   when `posix_fallocate` fails with `ENOSPC` or `EFBIG`, and when `set_len` refuses a
//!   length larger than the file system's largest file (`EFBIG`, which Rust calls
//!   `io::ErrorKind::FileTooLarge`).
//! * **Fail cleanly, and remove only your own file.** If anything after the open fails,
//!   remove the file you just made: a failed create must leave nothing behind. (If the
//!   open itself fails, you made nothing: remove nothing. The file that made it fail is
//!   someone else's.) But the *name* is not yours to remove: between your open and your
//!   failure, another process can remove your file and create its own segment under the
//!   same name, and `remove_file(dir.join(name))` would then delete *its* live segment.
//!   Remove the name only while `liveness::names_same_file(&file, &path)` says it still
//!   names the file you opened. (Linux has no "unlink only if this inode": a gap of
//!   microseconds is left between that check and the unlink, and only a process that
//!   removes your file *and* creates its own inside that gap can hit it. Without the
//!   check, any racing `create` can.)
//!
//! `Error::io(dir.path(), name, e)` turns an `io::Error` from `open` into the right
//! variant (`AlreadyExists`, `NotAFile`, …); any other failed step is an
//! `Error::Io { name: name.to_owned(), source }` (nix's calls fail with an `Errno`:
//! `errno.into()` makes it the `io::Error` that `source` wants). Every variant and its
//! fields are in `src/error.rs`; each has named fields, so `Error::ZeroLength` alone does
//! not compile.
//! Mapping is `unsafe`: write a `// SAFETY:` comment saying why it is sound here. Finish
//! with `Segment::from_created(dir, name, file, map)`: like `from_parts` (which `attach`
//! uses) it registers this process as a live holder, and it also marks the file as the
//! kata's, so exercise 06's `sweep` can tell it apart from anyone else's file. It takes
//! the file, and closes it if it fails: keep a second descriptor (`file.try_clone()`) to
//! recognise your file by. (It also maps the file again at a 2 MiB-aligned address and asks
//! the kernel for 2 MiB pages, which is why the reservation must come before it: see
//! `src/pages.rs` when you are curious what a page fault costs.)
//!
//! Builds on: no other exercise. Another exercise that does not compile never stops this
//! one.
//!
//! Run: `cargo test --test 01_create`   Stuck? `cargo run -- hint 1`

#[allow(unused_imports)] // you will need these
use std::fs::{File, OpenOptions};
#[allow(unused_imports)]
use std::os::unix::fs::OpenOptionsExt;
#[allow(unused_imports)]
use std::path::Path;

#[allow(unused_imports)]
use memmap2::MmapMut;
#[allow(unused_imports)]
use nix::errno::Errno;
#[allow(unused_imports)]
use nix::fcntl::{OFlag, posix_fallocate};

#[allow(unused_imports)]
use shm_kata::liveness;
use shm_kata::{Error, Segment, SegmentDir};

/// The longest file name Linux accepts (`NAME_MAX`).
pub const MAX_NAME_LEN: usize = 255;

/// Checks that `name` is one plain file name that stays inside its directory, or returns
/// `Error::InvalidName` with the reason.
pub fn validate_name(name: &str) -> Result<(), Error> {
    // TODO: reject "", ".", "..", names with '/' or '\0', and names over MAX_NAME_LEN
    // bytes.
    todo!("01 create: validate the segment name {name:?}")
}

/// Creates a new segment `name` of `len` bytes in `dir`, mapped and zero-filled.
pub fn create(dir: &SegmentDir, name: &str, len: usize) -> Result<Segment, Error> {
    // TODO: validate the name, refuse len == 0, open for read and write with create_new +
    // mode 0o600 + O_NOFOLLOW, set_len, posix_fallocate, map, and wrap it all in a Segment
    // (if any step after the open fails, remove the file again, but only while the
    // name still names the file you opened).
    todo!(
        "01 create: create segment {name:?} of {len} bytes in {}",
        dir.path().display()
    )
}
