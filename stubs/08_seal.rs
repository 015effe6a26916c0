//! # 08 · seal — a segment with no name: memfd, seals, and passing the descriptor
//!
//! Exercises 01–06 share memory through a *name* in a directory, and two of their hardest
//! lessons are the price of that name:
//! * **Orphans.** A name outlives its process: an owner that is SIGKILLed leaves its
//!   segment in `/dev/shm`, holding RAM until someone sweeps it (06).
//! * **SIGBUS by truncation.** Anyone who may open the name may `ftruncate` the file, and
//!   every process that mapped it dies of SIGBUS at its next touch past the new end (02).
//!   No check at attach time prevents it: a size is only true until someone shrinks it.
//! * **Name races.** Between "is this name free / still mine?" and the next call, another
//!   process can take, remove or replace the name (01 and 06 fight that race).
//!
//! Linux has a cleaner answer, used by Wayland compositors, Android and browsers: a file
//! with no name at all, from `memfd_create`, handed to the other process as a *file
//! descriptor* over a Unix socket (`SCM_RIGHTS`). What a descriptor gives:
//! * **no name**: nothing appears in any directory, ever; nothing to orphan, nothing to
//!   sweep. The kernel frees the memory when the last descriptor and the last mapping are
//!   gone, however their processes ended (a live process can still *leak* it, by keeping a
//!   descriptor it no longer needs);
//! * **no name to find**: a process learns of the memory only when you send it the
//!   descriptor. That is not access control: any process of the same user (or root) can
//!   open it again through `/proc/PID/fd/N`, read-write (a memfd's mode is 0777, or 0666
//!   with `MFD_NOEXEC_SEAL`), map it and write it (shown on your machine: `cargo run --
//!   facts`, `a_memfd_is_reopened_through_proc_pid_fd_by_another_process`). Against other
//!   users it is protected as a `/dev/shm` file of mode 0600 is, by your user id; against
//!   your own processes, only the seals hold: a reopened sealed memfd cannot be resized
//!   either, and `F_SEAL_FUTURE_WRITE` (below) stops new writable mappings of it.
//!
//! And **seals** make its size permanent: `fcntl(F_ADD_SEALS)` with `F_SEAL_SHRINK` and
//! `F_SEAL_GROW`, and then nobody, not the sender, not the receiver, not root, can change
//! the file's size (`ftruncate` fails with `EPERM`; shown:
//! `shrink_and_grow_seals_refuse_every_resize`); `F_SEAL_SEAL` forbids adding any further
//! seal (no seal can ever be removed). What seals do *not* promise: the bytes stay
//! writable (`F_SEAL_WRITE` would forbid writing altogether, and adding it fails with
//! `EBUSY` while a writable shared mapping exists; `F_SEAL_FUTURE_WRITE` forbids new
//! writable mappings and `write()` while the existing mappings keep writing; shown:
//! `f_seal_write_is_ebusy_while_a_writable_shared_mapping_exists`,
//! `f_seal_future_write_keeps_existing_mappings_writable`). Here both sides write, so only
//! the size is sealed.
//!
//! You write:
//! * `create(label, len)`: `memfd_create(label, MFD_CLOEXEC | MFD_ALLOW_SEALING)` (without
//!   `MFD_ALLOW_SEALING` the file starts with `F_SEAL_SEAL` and can never be sealed;
//!   without `MFD_CLOEXEC` every program this process starts inherits the descriptor, and
//!   with it the memory), then `set_len(len)`, then reserve its pages
//!   (`posix_fallocate`: the memory is taken now, an error you can handle, not at the
//!   first touch of a page), then `F_ADD_SEALS` with [`SEALS`], then map it and finish
//!   with `Segment::from_memfd(file, map)` (a `Result`: return it). In that order: once
//!   `F_SEAL_GROW` is on, not even you can give the file its length. A `len` of 0 is
//!   `Error::ZeroLength { name }`; a label `memfd_create` refuses (`EINVAL`: longer than
//!   249 bytes, or a NUL) is `Error::InvalidName { name: label.to_owned(), reason }`
//!   (`reason`: a `&'static str` saying the rule); any other failure
//!   `Error::Io { name, source }`. Here `name` is `format!("memfd:{label}")`, the name the
//!   kernel shows in `/proc/PID/fd`. In `receive` and `check`, which have no label, every
//!   error that takes a name takes `"received memfd"`.
//! * `send(socket, segment)`: one `sendmsg` carrying the size (`segment.len() as u64`, 8
//!   little-endian bytes) *and* the descriptor, as an `SCM_RIGHTS` control message. The
//!   socket calls come from rustix (`rustix::net`): a `SendAncillaryBuffer` over a
//!   buffer of `[MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))]` bytes, into
//!   which you `push` a `SendAncillaryMessage::ScmRights(&[fd])`, where `fd` is the
//!   borrowed descriptor of the segment's file (`segment.file().as_fd()`). rustix's errors
//!   are `rustix::io::Errno` (`Errno::PIPE`, `Errno::CONNRESET`), not nix's. Pass `SendFlags::NOSIGNAL` (`MSG_NOSIGNAL`), so a
//!   receiver that has gone is `EPIPE` (`Error::Disconnected`), not a SIGPIPE. (A Rust
//!   program ignores SIGPIPE from its start, so here you would get `EPIPE` either way; but
//!   a C program calling your code, or a Rust tool that restored SIGPIPE to die quietly
//!   when its output pipe closes, would be killed.) The kernel gives the receiver a *new*
//!   descriptor of the same open file.
//! * `check(file, announced)`: **never trust a descriptor you received.** A careless or
//!   hostile sender can send an unsealed memfd, or a plain file, and shrink it once you
//!   have mapped it: the SIGBUS is back. So, in this order:
//!   1. `fcntl(file, F_GET_SEALS)`: `EINVAL` means the file cannot carry seals at all:
//!      `Error::NotAMemfd`; `F_SEAL_SEAL` and nothing else means it never will (a
//!      `/dev/shm` file that is not a memfd answers that, shown:
//!      `a_tmpfs_file_that_is_not_a_memfd_answers_f_seal_seal`; so does a memfd made
//!      without `MFD_ALLOW_SEALING`): `Error::NeverSealable`;
//!   2. every seal of [`SEALS`] must be set: `Error::NotSealed { missing }` names those
//!      that are not (`SEALS.difference(seals)`). *At least* those: extra seals are fine.
//!      A memfd made with `MFD_NOEXEC_SEAL` (Linux 6.3+, or wherever the sysctl
//!      `vm.memfd_noexec` asks for it) also carries `F_SEAL_EXEC` and is writable as any
//!      (shown: `a_noexec_memfd_carries_f_seal_exec_and_stays_writable`): `seals == SEALS`
//!      would refuse a valid sender;
//!   3. no write seal: `F_SEAL_WRITE` or `F_SEAL_FUTURE_WRITE` would make your writable
//!      mapping fail with a bare `EPERM`; refuse it first, naming the seal:
//!      `Error::WriteSealed { seals }` (those of the two that are set);
//!   4. only then the size (`file.metadata()`): with the seals on, it is final, and it must
//!      be the announced one (`Error::WrongSize { announced, actual }`), and not 0
//!      (`Error::ZeroLength`). A size read before the seals were checked is a snapshot:
//!      an unsealed memfd of the wrong size is `NotSealed`, not `WrongSize`.
//! * `receive(socket)`: one `recvmsg` with room for 8 bytes and for the one descriptor
//!   you accept (a `RecvAncillaryBuffer` over `rustix::cmsg_space!(ScmRights(1))` bytes,
//!   which alignment rounds up to room for up to 4: so count what arrived), and
//!   `RecvFlags::CMSG_CLOEXEC` (`MSG_CMSG_CLOEXEC`: the received descriptor is
//!   close-on-exec too). Descriptors arrive *in your process*, whatever you do next, and
//!   not always as many as were sent: a sender may send more than you have room for, and
//!   then the kernel installs those that fit, closes the rest and marks the message
//!   `MSG_CTRUNC` (`ReturnFlags::CTRUNC` in the result's `flags`); a receiver at its
//!   descriptor limit (`RLIMIT_NOFILE`) is cut the same way, whatever its room (shown:
//!   `more_descriptors_than_fit_arrive_cut_short`,
//!   `a_receiver_at_its_descriptor_limit_gets_only_what_fits`). Each one that arrived is
//!   yours to close. rustix's `control.drain()` hands you every one as an `OwnedFd`, even
//!   from a message cut short, and the buffer closes those you leave in it when it is
//!   dropped: keep them owned (never a bare `RawFd`) and every refusal closes them. The
//!   result's `bytes` says how many bytes came. (nix's
//!   `cmsgs()` refuses to read control data cut short: the descriptors that did arrive
//!   stay open in your process, and no code knows their numbers. That is why this
//!   exercise uses rustix for the socket.) Then refuse, in this order:
//!   1. nothing at all (0 bytes, no descriptor): the socket was closed,
//!      `Error::Disconnected` (so is a reset one, `ECONNRESET`);
//!   2. no descriptor, whatever the bytes: `Error::NoDescriptor`;
//!   3. not 8 bytes, cut short (`CTRUNC`), or more than one descriptor:
//!      `Error::BadMessage { reason }` (`reason`: a `String` saying which).
//!
//!   Then `check`, and only then map (a write-sealed memfd would fail the mapping with a
//!   bare `EPERM` before `check` could name its seal), then `Segment::from_memfd`.
//!
//! `Segment` or a type of its own? A `Segment`. Its views, and the reasons they are safe,
//! are exactly those of a named segment: other processes may write the bytes at any
//! moment, which is what atomics are for. What a memfd changes is how you *get* it (no
//! directory, no liveness lock: nothing could ever sweep it) and who can change its size
//! (nobody, once sealed), and both are settled before the `Segment` exists, in `create` and
//! `check`. A sibling type would copy every view and its `unsafe` code to add no promise a
//! type could keep: "sealed" is a fact about the file, checked at run time, not a property
//! the compiler can see. So the kit gives `Segment::from_memfd`, whose `name()` is the
//! kernel's `memfd:LABEL` and whose `path()` is empty.
//!
//! Names or descriptors? A name fits unrelated processes that share nothing but an agreed
//! name (and Python's `shared_memory`); a descriptor fits a parent and its children, or
//! processes already connected by a socket.
//!
//! Builds on: no other exercise. Another exercise that does not compile never stops this
//! one.
//!
//! Run: `cargo test --test 08_seal`   Stuck? `cargo run -- hint 8`

#[allow(unused_imports)] // you will need these
use std::fs::File;
#[allow(unused_imports)]
use std::io::{IoSlice, IoSliceMut};
#[allow(unused_imports)]
use std::mem::MaybeUninit;
#[allow(unused_imports)]
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;

#[allow(unused_imports)]
use memmap2::MmapMut;
#[allow(unused_imports)]
use nix::errno::Errno;
#[allow(unused_imports)]
use nix::fcntl::{FcntlArg, SealFlag, fcntl, posix_fallocate};
#[allow(unused_imports)]
use nix::sys::memfd::{MFdFlags, memfd_create};
#[allow(unused_imports)]
use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags, recvmsg, sendmsg,
};

use shm_kata::{Error, Segment};

/// The seals a segment carries before anyone else sees it: its size can neither shrink
/// nor grow, and no further seal can be added (none can ever be removed).
pub const SEALS: SealFlag = SealFlag::F_SEAL_SHRINK
    .union(SealFlag::F_SEAL_GROW)
    .union(SealFlag::F_SEAL_SEAL);

/// Creates an anonymous, sealed segment of `len` bytes, labelled `label` (the label is
/// only what `/proc/PID/fd` shows: nobody can open it by that name).
pub fn create(label: &str, len: usize) -> Result<Segment, Error> {
    // TODO: memfd_create (MFD_CLOEXEC | MFD_ALLOW_SEALING), set_len, posix_fallocate,
    // F_ADD_SEALS with SEALS, map, Segment::from_memfd.
    todo!("08 seal: create a sealed memfd {label:?} of {len} bytes")
}

/// Sends `segment`'s descriptor over `socket`, with its size as the message.
pub fn send(socket: &UnixStream, segment: &Segment) -> Result<(), Error> {
    // TODO: one sendmsg: the size as 8 little-endian bytes, the descriptor as
    // SendAncillaryMessage::ScmRights, SendFlags::NOSIGNAL.
    let _ = socket;
    todo!("08 seal: send the descriptor of {:?}", segment.name())
}

/// Receives a segment's descriptor from `socket`, checks it, and maps it.
pub fn receive(socket: &UnixStream) -> Result<Segment, Error> {
    // TODO: one recvmsg (8 bytes, room for one descriptor, RecvFlags::CMSG_CLOEXEC); keep
    // every descriptor that arrived as an OwnedFd; refuse a closed socket, then no
    // descriptor, then a bad message (MSG_CTRUNC too); check; map.
    let _ = socket;
    todo!("08 seal: receive a segment's descriptor from the socket")
}

/// Checks a received descriptor before anything maps it: it is a memfd, it carries all of
/// [`SEALS`] and no write seal, and its size is the `announced` one.
pub fn check(file: &File, announced: u64) -> Result<(), Error> {
    // TODO: F_GET_SEALS (EINVAL: not a memfd; F_SEAL_SEAL alone: never sealable), every
    // seal of SEALS, no write seal, then the size.
    let _ = file;
    todo!("08 seal: check a received descriptor announced as {announced} bytes")
}
