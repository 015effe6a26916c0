//! Exercise 08 · seal. Open `exercises/08_seal.rs`; hint: `cargo run -- hint 8`.
//! (One test contrasts a memfd with a named segment made by your `create` from 01.)
//!
//! The tests follow the exercise from the top: `create` first, then `send`, `receive` and
//! `check`, whose refusals are tested in this process, which plays a careless (or hostile)
//! sender with `nix` calls of its own. Last, the whole exchange runs between two real
//! worker processes, a sender and a receiver, whose standard inputs are the two ends of a
//! Unix socket pair this test makes: the descriptor travels from one process to the other
//! through the kernel, and no name is involved anywhere, not even for the socket.

// The exercises these tests use: yours, or the answers with `--features solutions`.
shm_kata::exercises!(seal);

mod common;

use std::fs::File;
use std::io::{BufRead, IoSlice, Read, Write};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::seal::{SEALS, check, create, receive, send};
use common::{Scratch, process_cases, use_this_builds_worker};
use nix::fcntl::{FcntlArg, FdFlag, SealFlag, fcntl};
use nix::sys::memfd::{MFdFlags, memfd_create};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags, sendmsg};
use shm_kata::job::Job;
use shm_kata::{Error, Segment};

/// How long a worker may take to say its next line before the test calls it hung.
const LIMIT: Duration = Duration::from_secs(60);

/// A label no other test, and no other run, uses at the same time.
fn label(tag: &str) -> String {
    format!("shm-kata-08-{}-{tag}", std::process::id())
}

/// What `/proc/PID/fd` and `/proc/PID/maps` show for a memfd labelled `label`.
fn memfd_link(label: &str) -> String {
    format!("/memfd:{label} (deleted)")
}

thread_local! {
    /// The message of the first panic a call into the exercise raised in this test, if any
    /// (each test runs on a thread of its own).
    static PANICKED: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Runs one case of a property, turning a panic into a failed case that carries the
/// panic's message. After one panic, later cases fail at once, with the same message,
/// instead of running again while proptest shrinks: a `todo!()` or a worker's error is
/// reached once, not for every smaller input. The message is part of the failure itself,
/// so it shows wherever the failure is shown, in cargo's output and in the runner's.
fn once<T>(case: impl FnOnce() -> Result<T, TestCaseError>) -> Result<T, TestCaseError> {
    let panicked = |message: &str| {
        TestCaseError::fail(format!(
            "the case panicked: {message}\n(the case is not run again while proptest shrinks, \
             so the input shown is not necessarily the one that panicked)"
        ))
    };
    if let Some(message) = PANICKED.with_borrow(Clone::clone) {
        return Err(panicked(&message));
    }
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(case)).unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "(a panic without a message)".to_owned());
        PANICKED.set(Some(message.clone()));
        Err(panicked(&message))
    })
}

// ---------------------------------------------------------------------------------------
// What create makes, seen from this process.

/// `create` inside a test: a failure is explained.
fn create_ok(label: &str, len: usize) -> Segment {
    create(label, len).unwrap_or_else(|e| {
        let eperm = matches!(&e, Error::Io { source, .. } if source.raw_os_error() == Some(nix::libc::EPERM));
        let advice = if eperm {
            "\nEPERM in create: was the memfd made with MFD_ALLOW_SEALING (without it, it \
             starts with F_SEAL_SEAL and takes no seal), and are the seals added after \
             set_len and posix_fallocate (once F_SEAL_GROW is on, not even you can give the \
             file its length)? Only F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL: F_SEAL_WRITE \
             forbids the writable mapping."
        } else {
            ""
        };
        panic!("create({label:?}, {len}) should succeed: {e}{advice}")
    })
}

/// The seals a file carries, or `None` if it can carry none.
fn seals_of(file: &File) -> Option<SealFlag> {
    fcntl(file, FcntlArg::F_GET_SEALS)
        .ok()
        .map(SealFlag::from_bits_retain)
}

/// The segment `create` returns is a memfd sealed with `SEALS`: no shrinking, no growing,
/// no new seals, and no write seal. (An `F_SEAL_EXEC` the kernel adds by itself, where the
/// sysctl `vm.memfd_noexec` asks for it, is fine: it leaves the memfd writable.)
#[test]
fn create_seals_against_shrinking_growing_and_new_seals() {
    let segment = create_ok(&label("seals"), 4096);
    let Some(seals) = seals_of(segment.file()) else {
        panic!(
            "the segment's file cannot carry seals: create must use memfd_create, with \
             MFD_ALLOW_SEALING"
        )
    };
    for (seal, why) in [
        (
            SealFlag::F_SEAL_SHRINK,
            "without it, any holder can shrink the file under every mapping (SIGBUS)",
        ),
        (
            SealFlag::F_SEAL_GROW,
            "without it, any holder can grow the file, and the size the receiver checked is \
             not the size any more",
        ),
        (
            SealFlag::F_SEAL_SEAL,
            "without it, any holder can still add seals (F_SEAL_FUTURE_WRITE, say, and every \
             later receiver's writable mapping fails)",
        ),
    ] {
        assert!(
            seals.contains(seal),
            "create must add {seal:?} (fcntl F_ADD_SEALS with SEALS): {why}; the file has \
             {seals:?}"
        );
    }
    // F_SEAL_EXEC (include/uapi/linux/fcntl.h, Linux 6.3+): not the sender's to refuse.
    let exec = SealFlag::from_bits_retain(0x0020);
    assert_eq!(
        seals.difference(exec),
        SEALS,
        "create must add exactly SEALS: F_SEAL_WRITE or F_SEAL_FUTURE_WRITE would keep the \
         receiver from writing"
    );
    assert_eq!(segment.len(), 4096);
}

/// The memfd is close-on-exec: a program this process starts later does not inherit it
/// (and with it, the memory, for as long as that program lives).
#[test]
fn create_makes_a_close_on_exec_descriptor() {
    let segment = create_ok(&label("cloexec"), 4096);
    let flags = FdFlag::from_bits_retain(fcntl(segment.file(), FcntlArg::F_GETFD).unwrap());
    assert!(
        flags.contains(FdFlag::FD_CLOEXEC),
        "the memfd must be close-on-exec (MFD_CLOEXEC): without it, every process this one \
         starts inherits the descriptor and keeps the memory alive, and nobody sent it there"
    );
}

/// `create` reserves every page (`posix_fallocate`): the memory is taken now, an error
/// `create` can return, instead of page by page at the first touch.
#[test]
fn create_reserves_every_page() {
    let len = 5 * 4096 + 1;
    let segment = create_ok(&label("reserve"), len);
    let meta = segment.file().metadata().unwrap();
    assert!(
        meta.blocks() * 512 >= len as u64,
        "the memfd has {} bytes of pages for {len} bytes: reserve them with \
         posix_fallocate(&file, 0, len) after set_len and before the seals",
        meta.blocks() * 512
    );
}

/// A segment of zero bytes cannot be mapped: `Error::ZeroLength`.
#[test]
fn create_of_zero_bytes_is_a_zero_length_error() {
    let label = label("empty");
    let name = format!("memfd:{label}");
    let result = create(&label, 0);
    assert!(
        matches!(&result, Err(Error::ZeroLength { name: n }) if *n == name),
        "create with len 0 must be Error::ZeroLength {{ name: {name:?} }} (the name the \
         kernel shows in /proc/PID/fd: format!(\"memfd:{{label}}\")), got {result:?}"
    );
}

/// A label `memfd_create` refuses (a NUL, more than 249 bytes) is `Error::InvalidName`.
#[test]
fn create_with_a_label_memfd_create_refuses_is_invalid_name() {
    for bad in ["nul\0inside".to_owned(), "x".repeat(250)] {
        let result = create(&bad, 4096);
        assert!(
            matches!(result, Err(Error::InvalidName { .. })),
            "memfd_create refuses the label {:?}… (EINVAL): that is Error::InvalidName, got \
             {result:?}",
            &bad[..10]
        );
    }
}

// ---------------------------------------------------------------------------------------
// send, to a peer that has gone.

/// Sending to a socket whose other end is closed is `Error::Disconnected`, not a signal.
#[test]
fn sending_to_a_closed_socket_is_disconnected() {
    let segment = create_ok(&label("nobody"), 4096);
    let (ours, theirs) = UnixStream::pair().unwrap();
    drop(theirs);
    let result = send(&ours, &segment);
    assert!(
        matches!(result, Err(Error::Disconnected)),
        "sendmsg to a closed peer fails with EPIPE (with MSG_NOSIGNAL, instead of a SIGPIPE): \
         that is Error::Disconnected, got {result:?}"
    );
}

/// A peer that closes its socket with bytes still unread in it *resets* the connection.
/// Its other end's `recvmsg` says `ECONNRESET`; Linux's `sendmsg` on a Unix stream socket
/// says `EPIPE` (other systems may say `ECONNRESET`). Either way the peer has gone: that is
/// `Error::Disconnected`.
#[test]
fn sending_to_a_reset_socket_is_disconnected() {
    let segment = create_ok(&label("reset"), 4096);
    let (ours, theirs) = UnixStream::pair().unwrap();
    let first = send(&ours, &segment);
    assert!(
        first.is_ok(),
        "sending a sealed segment to a live peer must work, got {first:?}"
    );
    drop(theirs); // unread: the size and the descriptor are still in it
    let result = send(&ours, &segment);
    assert!(
        matches!(result, Err(Error::Disconnected)),
        "the peer closed its socket without reading what we sent: the connection is reset, \
         and sendmsg fails (EPIPE here, ECONNRESET on some systems). A peer gone is \
         Error::Disconnected whichever way it went, got {result:?}"
    );
}

/// `send` to a closed peer is `Error::Disconnected` even in a process that has not ignored
/// SIGPIPE: a worker that restores SIGPIPE's default action (death), as a C program has it,
/// calls `send` on a socket whose other end is closed, and must live to report the error.
#[test]
fn sending_to_a_closed_socket_raises_no_sigpipe() {
    use std::os::unix::process::ExitStatusExt;
    use_this_builds_worker();
    let (ours, theirs) = UnixStream::pair().unwrap();
    drop(ours);
    let job = Job::SealSend {
        hold: false,
        label: label("sigpipe"),
        len: 4096,
        seed: 5,
    };
    let mut command = job.command();
    command.env(shm_kata::job::SIGPIPE_ENV, "default");
    let what = "the worker that sends to a closed socket";
    let finished =
        common::run_bounded_with_input(command, Stdio::from(OwnedFd::from(theirs)), LIMIT, what);
    assert_ne!(
        finished.status.signal(),
        Some(nix::libc::SIGPIPE),
        "{what} was killed by SIGPIPE: sendmsg to a peer that has gone raises SIGPIPE unless \
         it is passed MSG_NOSIGNAL (SendFlags::NOSIGNAL), and a process that has not \
         ignored SIGPIPE dies of it. Rust ignores it for you, a C program calling your code \
         does not"
    );
    let disconnected = Error::Disconnected.to_string();
    assert!(
        finished.stderr.contains(&disconnected),
        "{what} ended ({}) without reporting Error::Disconnected. It said on standard \
         error:\n{}{}",
        describe(finished.status),
        finished.stderr,
        advice(&finished.stderr)
    );
}

// ---------------------------------------------------------------------------------------
// The receiver, given good and bad messages by this process.

/// A memfd of `len` bytes carrying `seals`, made the way a careless sender would.
fn memfd_with(seals: SealFlag, len: usize) -> File {
    memfd_labelled("shm-kata-08-crafted", seals, len)
}

/// [`memfd_with`], labelled `label`: a label no other test uses shows whether this process
/// still holds the memfd.
fn memfd_labelled(label: &str, seals: SealFlag, len: usize) -> File {
    let fd = memfd_create(label, MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING)
        .expect("memfd_create");
    let file = File::from(fd);
    file.set_len(len as u64).unwrap();
    if !seals.is_empty() {
        fcntl(&file, FcntlArg::F_ADD_SEALS(seals)).expect("F_ADD_SEALS");
    }
    file
}

/// Sends `payload` with `fds` attached, as one message.
fn send_raw(socket: &UnixStream, payload: &[u8], fds: &[BorrowedFd]) {
    let mut space = vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(fds.len()))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() {
        assert!(control.push(SendAncillaryMessage::ScmRights(fds)));
    }
    sendmsg(
        socket,
        &[IoSlice::new(payload)],
        &mut control,
        SendFlags::empty(),
    )
    .expect("sendmsg");
}

/// `receive` on `socket`, never longer than [`LIMIT`].
fn receive_from(socket: UnixStream) -> Result<Segment, Error> {
    common::within(LIMIT, "receive", move || receive(&socket))
}

/// `file` sent as a segment of `announced` bytes, and what `receive` made of it.
fn offer(file: &File, announced: u64) -> Result<Segment, Error> {
    let (ours, theirs) = UnixStream::pair().unwrap();
    send_raw(&ours, &announced.to_le_bytes(), &[file.as_fd()]);
    receive_from(theirs)
}

/// What a refusal test says when `receive` accepted or returned another error.
fn refused(result: Result<Segment, Error>, expected: &str, fix: &str) -> Error {
    match result {
        Err(e) => e,
        Ok(segment) => panic!(
            "receive accepted {} ({} bytes) but must refuse it with {expected}: {fix}",
            segment.name(),
            segment.len()
        ),
    }
}

/// What to say when `receive` read another size than the 8 little-endian bytes `sent`.
fn misread(result: &Result<Segment, Error>, sent: u64) -> String {
    match result {
        Err(Error::WrongSize { announced, .. }) if *announced != sent => format!(
            " (and the size receive read, {announced}, is not the {sent} that was sent as 8 \
             little-endian bytes: read it with u64::from_le_bytes)"
        ),
        _ => String::new(),
    }
}

/// A socket closed before anything arrived is `Error::Disconnected`.
#[test]
fn a_closed_socket_is_refused() {
    let (ours, theirs) = UnixStream::pair().unwrap();
    drop(ours);
    let result = receive_from(theirs);
    assert!(
        matches!(result, Err(Error::Disconnected)),
        "a socket whose other end is closed delivers 0 bytes and no descriptor: that is \
         Error::Disconnected, got {result:?}"
    );
}

/// A peer that closes its socket with bytes we sent it still unread resets the connection:
/// `recvmsg` fails with `ECONNRESET`. The peer has gone: `Error::Disconnected`.
#[test]
fn a_reset_socket_is_refused_as_disconnected() {
    let (ours, theirs) = UnixStream::pair().unwrap();
    (&theirs).write_all(b"unread").unwrap();
    drop(ours); // without reading it
    let result = receive_from(theirs);
    assert!(
        matches!(result, Err(Error::Disconnected)),
        "the peer closed its socket without reading what this side wrote to it: the connection \
         is reset, and recvmsg fails with ECONNRESET. A peer gone is Error::Disconnected \
         whichever way it went (0 bytes, or ECONNRESET), got {result:?}"
    );
}

/// A message with no descriptor attached is refused as such, whatever its length: that a
/// descriptor is missing is what its sender needs to hear.
#[test]
fn a_message_with_no_descriptor_is_refused() {
    for payload in [&4096u64.to_le_bytes()[..], &4096u32.to_le_bytes()[..]] {
        let (ours, theirs) = UnixStream::pair().unwrap();
        (&ours).write_all(payload).unwrap();
        let error = refused(
            receive_from(theirs),
            "Error::NoDescriptor",
            "no descriptor came with it",
        );
        let bytes = payload.len();
        assert!(
            matches!(error, Error::NoDescriptor),
            "{bytes} bytes with no descriptor attached must be Error::NoDescriptor, got \
             {error:?}: refuse a closed socket first, then a missing descriptor (whatever the \
             bytes), and only then a malformed message"
        );
    }
}

/// A message with a descriptor that is not 8 bytes, or with more than one descriptor, is
/// `Error::BadMessage`.
#[test]
fn a_malformed_message_is_refused() {
    let file = memfd_with(SEALS, 4096);
    let other = memfd_with(SEALS, 4096);
    for (what, payload, fds) in [
        (
            "a 4-byte size",
            &4096u32.to_le_bytes()[..],
            vec![file.as_fd()],
        ),
        (
            "two descriptors",
            &4096u64.to_le_bytes()[..],
            vec![file.as_fd(), other.as_fd()],
        ),
    ] {
        let (ours, theirs) = UnixStream::pair().unwrap();
        send_raw(&ours, payload, &fds);
        drop(ours);
        let result = receive_from(theirs);
        assert!(
            matches!(result, Err(Error::BadMessage { .. })),
            "a message with {what} must be Error::BadMessage, got {result:?}"
        );
    }
}

/// Whatever `receive` refuses, it closes every descriptor that came with it: nothing is
/// left open in the receiving process, however the message was wrong.
#[test]
fn a_refused_descriptor_is_closed() {
    let size = 4096u64.to_le_bytes();
    let short = 4096u32.to_le_bytes();
    let own_first = "keep every received descriptor an OwnedFd (rustix's control.drain() \
                     hands each over as one) until you return, never a raw number, so that \
                     every early return closes them";
    for (tag, what, payload, seals, copies, fix) in [
        (
            "unsealed",
            "an unsealed memfd",
            &size[..],
            SealFlag::empty(),
            1,
            own_first,
        ),
        ("short", "a 4-byte size", &short[..], SEALS, 1, own_first),
        ("two", "two descriptors", &size[..], SEALS, 2, own_first),
        (
            "many",
            "253 descriptors, as many as one message can carry (SCM_MAX_FD)",
            &size[..],
            SEALS,
            253,
            "a message cut short (the kernel installs the descriptors that fit, closes the \
             rest and sets MSG_CTRUNC) still brings the ones that fit: take them as OwnedFd \
             from rustix's control.drain(), which reads control data cut short (nix's \
             cmsgs() refuses to, so descriptors received through nix are never owned)",
        ),
    ] {
        let label = label(&format!("refused-{tag}"));
        let file = memfd_labelled(&label, seals, 4096);
        let (ours, theirs) = UnixStream::pair().unwrap();
        send_raw(&ours, payload, &vec![file.as_fd(); copies]);
        drop(ours);
        let result = receive_from(theirs).map(|segment| segment.name().to_owned());
        assert!(
            result.is_err(),
            "a message with {what} must be refused, but receive accepted {result:?}"
        );
        drop(file);
        let me = std::process::id();
        let open: Vec<String> = what_it_holds(me)
            .into_iter()
            .filter(|line| line.ends_with(&memfd_link(&label)))
            .collect();
        assert!(
            open.is_empty(),
            "receive refused a message with {what} ({result:?}) but left {} of its \
             descriptors open ({open:?}), and no code knows their numbers any more: {fix}",
            open.len()
        );
    }
}

/// A receiver at its descriptor limit (`RLIMIT_NOFILE`) gets only the descriptors that fit
/// in its table: the kernel installs those, closes the rest and marks the message
/// `MSG_CTRUNC`. A worker process that has only 1 (then 13) descriptors free is sent 2
/// (then 200): `receive` refuses the message as `Error::BadMessage`, and every descriptor
/// that did arrive is closed.
#[test]
fn a_message_cut_short_at_the_descriptor_limit_is_refused_and_leaves_nothing_open() {
    use_this_builds_worker();
    for (free, sent) in [(1, 2), (13, 200)] {
        let scratch = Scratch::new();
        let file = memfd_labelled(&label(&format!("limit-{free}")), SEALS, 4096);
        let (ours, theirs) = UnixStream::pair().unwrap();
        let job = Job::SealReceive {
            hold: false,
            seed: 0,
        };
        let free_fds = free.to_string();
        let env = [(shm_kata::job::FREE_FDS_ENV, free_fds.as_str())];
        let mut receiver = Peer::start_with(&job, theirs, &scratch, &env);
        send_raw(&ours, &4096u64.to_le_bytes(), &vec![file.as_fd(); sent]);
        let what = format!(
            "a message of {sent} descriptors sent to a receiver with only {free} free \
             (the kernel installs {free}, closes the rest and sets MSG_CTRUNC)"
        );
        let (said, error) = receiver.expect_any(&["received ", "refused: "]);
        assert!(
            said != "received ",
            "{what} was accepted by receive: a message flagged MSG_CTRUNC \
             (message.flags.contains(ReturnFlags::CTRUNC)) came with more descriptors than \
             arrived; refuse it with Error::BadMessage"
        );
        assert!(
            error.starts_with("BadMessage"),
            "{what} must be refused with Error::BadMessage, got {error}"
        );
        let open = receiver.expect("memfds open: ");
        assert_eq!(
            open, "0",
            "receive refused {what} ({error}), but descriptors that arrived are still open \
             in the receiver ({open} memfds), and no code knows their numbers: keep every \
             descriptor that arrived an OwnedFd until you return, never a raw number \
             (rustix's control.drain() hands over each one as an OwnedFd, even from a \
             message cut short; nix's cmsgs() refuses to read such a message, so \
             descriptors received through nix are never owned)"
        );
        let _ = receiver.end();
        drop(file);
        scratch.finish();
    }
}

// ---------------------------------------------------------------------------------------
// check: the seals first, then the size.

/// `check` alone: the same rules, for a descriptor that came some other way.
#[test]
fn check_accepts_a_sealed_memfd_of_the_announced_size() {
    let file = memfd_with(SEALS, 4096);
    let result = check(&file, 4096);
    assert!(
        result.is_ok(),
        "a memfd with every seal of SEALS, of the announced size, passes check: got {result:?}"
    );
}

/// A memfd that carries an extra seal besides `SEALS` is accepted: the rule is "at least
/// these seals", not "exactly these". A sender whose memfd was made with `MFD_NOEXEC_SEAL`
/// (Linux 6.3+, or any memfd where the sysctl `vm.memfd_noexec` asks for it) sends one
/// that also carries `F_SEAL_EXEC`: writable, mappable, and as safe to map as any.
#[test]
fn a_memfd_with_an_extra_seal_is_accepted() {
    // MFD_NOEXEC_SEAL (include/uapi/linux/memfd.h): mode 0666 and F_SEAL_EXEC from birth.
    const MFD_NOEXEC_SEAL: u32 = 0x0008;
    let flags = MFdFlags::from_bits_retain(
        (MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING).bits() | MFD_NOEXEC_SEAL,
    );
    let fd = match memfd_create("shm-kata-08-noexec", flags) {
        Ok(fd) => fd,
        Err(nix::errno::Errno::EINVAL) => {
            eprintln!("skipped: this kernel refuses MFD_NOEXEC_SEAL (Linux 6.3+)");
            return;
        }
        Err(errno) => panic!("memfd_create(MFD_NOEXEC_SEAL): {errno}"),
    };
    let file = File::from(fd);
    file.set_len(4096).unwrap();
    fcntl(&file, FcntlArg::F_ADD_SEALS(SEALS)).expect("F_ADD_SEALS");
    let seals = seals_of(&file).expect("a memfd answers F_GET_SEALS");
    assert!(
        seals.contains(SEALS) && seals != SEALS,
        "the crafted memfd should carry SEALS and F_SEAL_EXEC: {seals:?}"
    );
    let fix = "it carries every seal of SEALS plus an extra seal such as F_SEAL_EXEC, which \
               Linux 6.3+ adds to memfds made with MFD_NOEXEC_SEAL: require at least SEALS \
               (SEALS.difference(seals) empty), never seals == SEALS";
    let checked = check(&file, 4096);
    assert!(
        checked.is_ok(),
        "check refused a valid memfd ({checked:?}): {fix}"
    );
    let received = offer(&file, 4096);
    assert!(
        received.is_ok(),
        "receive refused a valid memfd ({received:?}): {}",
        match misread(&received, 4096) {
            misread if misread.is_empty() => fix.to_owned(),
            misread => format!("check accepts it, but receive refused it{misread}"),
        }
    );
}

/// The seals are judged before the size: an unsealed memfd announced with a wrong size is
/// `Error::NotSealed`, not `Error::WrongSize`. Until the seals are on, its size is only a
/// snapshot, which its sender can change a moment later.
#[test]
fn the_seals_are_judged_before_the_size() {
    let file = memfd_with(SealFlag::empty(), 4096);
    let fix = "check the seals first (F_GET_SEALS), and read the size (file.metadata()) only \
               once they are all on: before, the size is a snapshot its sender can change a \
               moment later, and a mismatch says nothing about the file you would map";
    let checked = check(&file, 8192);
    assert!(
        matches!(checked, Err(Error::NotSealed { .. })),
        "check of an unsealed 4096-byte memfd announced as 8192 bytes must be \
         Error::NotSealed, got {checked:?}: {fix}"
    );
    let received = offer(&file, 8192);
    assert!(
        matches!(received, Err(Error::NotSealed { .. })),
        "receive of an unsealed 4096-byte memfd announced as 8192 bytes must be \
         Error::NotSealed, got {received:?}: {fix}"
    );
}

/// An unsealed memfd is refused: its sender could shrink it under the receiver's mapping.
#[test]
fn an_unsealed_memfd_is_refused() {
    let error = refused(
        offer(&memfd_with(SealFlag::empty(), 4096), 4096),
        "Error::NotSealed",
        "an unsealed memfd can be shrunk by its sender at any time, and the receiver's next \
         touch is a SIGBUS: check the seals (fcntl F_GET_SEALS) before mapping",
    );
    assert!(
        matches!(error, Error::NotSealed { missing } if missing == SEALS),
        "an unsealed memfd lacks every seal: Error::NotSealed {{ missing: SEALS }}, got {error:?}"
    );
}

/// A memfd missing any one of the three seals is refused, and the error names that seal.
#[test]
fn a_memfd_missing_one_seal_is_refused_and_the_seal_named() {
    for missing in [
        SealFlag::F_SEAL_SHRINK,
        SealFlag::F_SEAL_GROW,
        SealFlag::F_SEAL_SEAL,
    ] {
        let file = memfd_with(SEALS.difference(missing), 4096);
        let error = refused(
            offer(&file, 4096),
            "Error::NotSealed",
            &format!(
                "it lacks {missing:?}; check that every seal of SEALS is there \
                 (SEALS.difference(seals) must be empty), not just one of them"
            ),
        );
        assert!(
            matches!(&error, Error::NotSealed { missing: m } if *m == missing),
            "a memfd without {missing:?} must be Error::NotSealed {{ missing: {missing:?} }}, \
             got {error:?}"
        );
    }
}

/// A memfd that lacks a size seal *and* carries a write seal is `Error::NotSealed`: the
/// seals of `SEALS` are judged first (step 2 before step 3), since they are what keeps a
/// mapping from a SIGBUS, and the sender must hear which of them it forgot.
#[test]
fn a_missing_size_seal_is_named_before_a_write_seal() {
    let seals = SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_SEAL | SealFlag::F_SEAL_WRITE;
    let missing = SealFlag::F_SEAL_GROW;
    let checked = check(&memfd_with(seals, 4096), 4096);
    assert!(
        matches!(&checked, Err(Error::NotSealed { missing: m }) if *m == missing),
        "check of a memfd sealed with {seals:?} must be Error::NotSealed {{ missing: \
         {missing:?} }}, got {checked:?}: demand every seal of SEALS first (step 2), and \
         look for a write seal only after (step 3)"
    );
}

/// A regular file's descriptor is refused: no seal can ever be put on it.
#[test]
fn a_regular_files_descriptor_is_refused() {
    let scratch = Scratch::new();
    let path = scratch.path().join("plain");
    std::fs::write(&path, [0u8; 4096]).unwrap();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let error = refused(
        offer(&file, 4096),
        "Error::NotAMemfd",
        "a regular file's owner can truncate it under the mapping whenever it likes: check \
         the seals before mapping (F_GET_SEALS fails with EINVAL on a file that cannot carry \
         any)",
    );
    // On a tmpfs, a plain file answers F_GET_SEALS (with F_SEAL_SEAL alone): there it is
    // refused as one that can never be sealed instead.
    let on_tmpfs = nix::sys::statfs::fstatfs(&file)
        .is_ok_and(|fs| fs.filesystem_type() == nix::sys::statfs::TMPFS_MAGIC);
    assert!(
        matches!(error, Error::NotAMemfd) || (on_tmpfs && matches!(error, Error::NeverSealable)),
        "a regular file must be Error::NotAMemfd (F_GET_SEALS says EINVAL), got {error:?}"
    );
    std::fs::remove_file(&path).unwrap();
    scratch.finish();
}

/// A file that answers `F_GET_SEALS` with `F_SEAL_SEAL` alone can never be sealed, and is
/// refused as such: a `/dev/shm` file (tmpfs, but not a memfd) and a memfd made without
/// `MFD_ALLOW_SEALING`. "Add all three seals" would be advice nobody can follow.
#[test]
fn a_file_that_can_never_be_sealed_is_refused_as_such() {
    let fix = "it answers F_GET_SEALS with F_SEAL_SEAL alone, so no seal can ever be added: \
               refuse it with Error::NeverSealable (seals == F_SEAL_SEAL), before looking for \
               missing seals";
    let unsealable =
        File::from(memfd_create("shm-kata-08-unsealable", MFdFlags::MFD_CLOEXEC).unwrap());
    unsealable.set_len(4096).unwrap();
    let error = refused(offer(&unsealable, 4096), "Error::NeverSealable", fix);
    assert!(
        matches!(error, Error::NeverSealable),
        "a memfd made without MFD_ALLOW_SEALING must be Error::NeverSealable, got {error:?}: {fix}"
    );
    let name = common::SystemName::new("08-plain");
    let path = shm_kata::SegmentDir::system().join(&name.name);
    let plain = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .unwrap();
    name.record();
    plain.set_len(4096).unwrap();
    let error = refused(offer(&plain, 4096), "Error::NeverSealable", fix);
    assert!(
        matches!(error, Error::NeverSealable),
        "a /dev/shm file (not a memfd) must be Error::NeverSealable, got {error:?}: {fix}"
    );
}

/// A memfd with a write seal is refused before anything maps it, naming the seal: its
/// writable mapping would fail with a bare `EPERM`.
#[test]
fn a_write_sealed_memfd_is_refused_and_the_seal_named() {
    for write in [SealFlag::F_SEAL_WRITE, SealFlag::F_SEAL_FUTURE_WRITE] {
        let fix = format!(
            "it carries {write:?}, so no process can map it writable (mmap says EPERM): \
             refuse it in check with Error::WriteSealed {{ seals }}, naming the write seal(s) \
             it carries"
        );
        let error = refused(
            offer(&memfd_with(SEALS | write, 4096), 4096),
            "Error::WriteSealed",
            &fix,
        );
        let fix = match &error {
            Error::Io { .. } if check(&memfd_with(SEALS | write, 4096), 4096).is_err() => {
                "check refuses it, but receive failed before check could: receive must \
                 call check first and map only after (mapping a write-sealed memfd writable \
                 fails with a bare EPERM)"
                    .to_owned()
            }
            _ => fix,
        };
        assert!(
            matches!(&error, Error::WriteSealed { seals } if *seals == write),
            "a memfd sealed with SEALS | {write:?} must be Error::WriteSealed {{ seals: {write:?} }}, \
             got {error:?}: {fix}"
        );
    }
}

proptest! {
    #![proptest_config(common::cases(24))]

    /// A memfd whose size is not the announced one is refused, with both sizes: a sender
    /// that announced more would have the receiver touch pages the file does not have.
    #[test]
    fn a_size_other_than_the_announced_one_is_refused(len in 1usize..1 << 16, delta in prop_oneof![-4096i64..0, 1i64..4096]) {
        let announced = (len as i64 + delta).max(0) as u64;
        let result = once(|| Ok(offer(&memfd_with(SEALS, len), announced)))?;
        let misread = misread(&result, announced);
        let error = refused(result, "Error::WrongSize",
            "compare the file's size (file.metadata()) with the announced one");
        prop_assert!(
            matches!(error, Error::WrongSize { announced: a, actual } if a == announced && actual == len as u64),
            "a {len}-byte memfd announced as {announced} bytes must be Error::WrongSize \
             {{ announced: {announced}, actual: {len} }}, got {error:?}{misread}");
    }
}

/// A mismatch is a mismatch even when one of the two sizes is 0: the sender needs to
/// hear both sizes, not that a segment is empty.
#[test]
fn a_size_mismatch_with_a_zero_is_still_wrong_size() {
    for (len, announced) in [(0, 4096), (4096, 0)] {
        let result = offer(&memfd_with(SEALS, len), announced);
        let misread = misread(&result, announced);
        let fix = if misread.is_empty() {
            "compare the sizes first, and only then refuse a size of 0"
        } else {
            &misread
        };
        assert!(
            matches!(result, Err(Error::WrongSize { announced: a, actual }) if a == announced && actual == len as u64),
            "a {len}-byte memfd announced as {announced} bytes must be Error::WrongSize \
             {{ announced: {announced}, actual: {len} }}, got {result:?}: {fix}"
        );
    }
}

/// A sealed memfd of 0 bytes, announced as 0 bytes, is refused: there is nothing to share.
#[test]
fn a_zero_length_memfd_is_refused() {
    let result = offer(&memfd_with(SEALS, 0), 0);
    assert!(
        matches!(result, Err(Error::ZeroLength { .. })),
        "a memfd of 0 bytes (announced as 0) must be Error::ZeroLength, as create refuses \
         0: there is nothing in it to share, and mmap(2) itself refuses a length of 0 \
         (memmap2 only hides that EINVAL behind an empty placeholder mapping); check the size \
         for 0 after comparing it with the announced one. Got {result:?}"
    );
}

// ---------------------------------------------------------------------------------------
// send and receive together, in this process.

/// A memfd sent properly arrives whole, in this process too, and shares its bytes.
#[test]
fn a_sealed_segment_sent_over_a_socket_is_received_and_shares_its_bytes() {
    let sent = create_ok(&label("local"), 8192);
    let (ours, theirs) = UnixStream::pair().unwrap();
    send(&ours, &sent).unwrap_or_else(|e| panic!("send should succeed: {e}"));
    let received = receive_from(theirs).unwrap_or_else(|e| panic!("receive should succeed: {e}"));
    assert_eq!(
        received.len(),
        8192,
        "the received segment has the sent size"
    );
    sent.write_bytes(100, b"through the kernel").unwrap();
    assert_eq!(
        &received.read_bytes()[100..118],
        b"through the kernel",
        "the received segment must map the same file as the sent one"
    );
}

/// The received descriptor is close-on-exec (`MSG_CMSG_CLOEXEC`), like the sender's.
#[test]
fn the_received_descriptor_is_close_on_exec() {
    let file = memfd_with(SEALS, 4096);
    let received = offer(&file, 4096).unwrap_or_else(|e| panic!("receive should succeed: {e}"));
    let flags = FdFlag::from_bits_retain(fcntl(received.file(), FcntlArg::F_GETFD).unwrap());
    assert!(
        flags.contains(FdFlag::FD_CLOEXEC),
        "a received descriptor is not close-on-exec unless recvmsg is asked for it: pass \
         RecvFlags::CMSG_CLOEXEC (MSG_CMSG_CLOEXEC), or every program this process starts inherits it"
    );
}

// ---------------------------------------------------------------------------------------
// The sender and the receiver: two worker processes joined by a socket pair.

/// A worker whose standard input is one end of the socket pair, and whose lines of
/// output the test reads one by one. Dropping it kills it.
struct Peer {
    child: Child,
    what: String,
    lines: Receiver<String>,
    said: Vec<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Peer {
    /// Starts `job` with `socket` as its standard input, in `scratch`'s segment directory
    /// (its working directory and its TMPDIR: a file it made by mistake would show there).
    fn start(job: &Job, socket: UnixStream, scratch: &Scratch) -> Peer {
        Peer::start_with(job, socket, scratch, &[])
    }

    /// [`Peer::start`], with `env` added to its environment.
    fn start_with(job: &Job, socket: UnixStream, scratch: &Scratch, env: &[(&str, &str)]) -> Peer {
        let what = format!("the worker that should {}", job.label());
        let mut child = job
            .command()
            .envs(env.iter().copied())
            .stdin(Stdio::from(OwnedFd::from(socket)))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .current_dir(scratch.dir.path())
            .env("TMPDIR", scratch.dir.path())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {what}: {e}"));
        let stdout = shm_kata::worker::stdout_of(&mut child);
        let mut err = child.stderr.take().expect("piped stderr");
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        let (tell, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { break };
                if tell.send(line).is_err() {
                    break;
                }
            }
        });
        Peer {
            child,
            what,
            lines,
            said: Vec::new(),
            stderr: Some(stderr),
        }
    }

    /// Waits for its next line that starts with `prefix`, and returns the rest of it.
    /// If it ends (or stays silent for [`LIMIT`]) first, the test fails with what it said.
    fn expect(&mut self, prefix: &str) -> String {
        self.expect_any(&[prefix]).1
    }

    /// [`Peer::expect`] for the first line that starts with any of `prefixes`: which one,
    /// and the rest of the line.
    fn expect_any<'p>(&mut self, prefixes: &[&'p str]) -> (&'p str, String) {
        let wanted = match prefixes {
            [prefix] => format!("{prefix:?}"),
            _ => format!("any of {prefixes:?}"),
        };
        let deadline = Instant::now() + LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.said.push(line.clone());
                    for prefix in prefixes {
                        if let Some(rest) = line.strip_prefix(prefix) {
                            return (prefix, rest.trim().to_owned());
                        }
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.end();
                    let stderr = self.collect_stderr();
                    panic!(
                        "{} ended ({}) before it said {wanted}. It said {:?}, and on \
                         standard error:\n{stderr}{}",
                        self.what,
                        describe(status),
                        self.said,
                        advice(&stderr)
                    );
                }
                Err(RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    let stderr = self.collect_stderr();
                    panic!(
                        "{} did not say {wanted} within {LIMIT:?} (it was killed). It said \
                         {:?}, and on standard error:\n{stderr}",
                        self.what, self.said
                    );
                }
            }
        }
    }

    /// Waits for it to exit (at most [`LIMIT`]); a failure fails the test with its stderr.
    fn succeeds(mut self) {
        let status = self.end();
        if !status.success() {
            let stderr = self.collect_stderr();
            panic!(
                "{} failed ({}). It said {:?}, and on standard error:\n{stderr}{}",
                self.what,
                describe(status),
                self.said,
                advice(&stderr)
            );
        }
    }

    fn end(&mut self) -> ExitStatus {
        common::wait_bounded(&mut self.child, LIMIT, &self.what)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, as a crash would: no `Drop`, no cleanup code runs.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn collect_stderr(&mut self) -> String {
        self.stderr
            .take()
            .map(|t| t.join().unwrap_or_default())
            .unwrap_or_default()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How a worker ended, in words: a SIGBUS is named, with what it means here.
fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status.signal() {
        Some(nix::libc::SIGBUS) => "killed by SIGBUS: it touched a page of a mapping whose \
             file had shrunk, which is what the seals exist to prevent"
            .to_owned(),
        Some(signal) => format!("killed by signal {signal}"),
        None => status.to_string(),
    }
}

/// A hint for what a worker printed on standard error.
fn advice(stderr: &str) -> &'static str {
    if stderr.contains("not yet implemented") {
        "\n(the worker reached a todo!() in exercises/08_seal.rs: that part is yours to write)"
    } else if stderr.contains("but the sender announced") {
        "\n(if the announced size is absurd, the 8 bytes were not written and read the same \
         way: to_le_bytes in send, u64::from_le_bytes in receive)"
    } else {
        ""
    }
}

/// A sender and a receiver, joined by a fresh socket pair, both started.
fn exchange(scratch: &Scratch, label: &str, len: usize, seed: u64, hold: bool) -> (Peer, Peer) {
    use_this_builds_worker();
    let (a, b) = UnixStream::pair().expect("a socket pair");
    let sender = Job::SealSend {
        hold,
        label: label.to_owned(),
        len,
        seed,
    };
    let receiver = Job::SealReceive { hold, seed };
    // Both ends go to the workers: this process keeps no copy, so when both workers are
    // gone, nobody has the socket (or the segment) any more.
    (
        Peer::start(&sender, a, scratch),
        Peer::start(&receiver, b, scratch),
    )
}

proptest! {
    #![proptest_config(process_cases(6))]

    /// A sender process creates and seals a segment, writes a pattern and sends the
    /// descriptor; the receiver process sees the pattern and writes back; the sender sees
    /// that write in its own mapping: two processes, one memory, no name.
    #[test]
    fn a_sealed_segment_goes_to_another_process_and_its_writes_come_back(len in 1usize..1 << 16, seed in any::<u64>()) {
        once(|| roundtrip(len, seed))?;
    }
}

/// One case of the round trip between two worker processes.
fn roundtrip(len: usize, seed: u64) -> Result<(), TestCaseError> {
    let scratch = Scratch::new();
    let (mut sender, mut receiver) = exchange(&scratch, &label("roundtrip"), len, seed, false);
    sender.expect("sent");
    let received = receiver.expect("received ");
    prop_assert_eq!(
        received,
        len.to_string(),
        "the receiver's segment must be as long as the sender's: map the whole file"
    );
    let seen = receiver.expect("pattern: ");
    prop_assert_eq!(
        seen,
        "same",
        "the receiver does not see the bytes the sender wrote: did send pass the \
             segment's own descriptor (segment.file().as_fd()) and receive map it shared?"
    );
    receiver.expect("wrote");
    let saw = sender.expect("");
    prop_assert_eq!(
        saw,
        "saw the write",
        "the sender does not see what the receiver wrote: both must map the same file, \
             shared (MmapMut::map_mut)"
    );
    receiver.succeeds();
    sender.succeeds();
    scratch.finish();
    Ok(())
}

/// In the receiver, shrinking the received segment fails with `EPERM`, and so does growing
/// it: the seals hold in every process that has the file. The mapping keeps working.
#[test]
fn the_received_segment_can_neither_shrink_nor_grow_and_keeps_working() {
    let scratch = Scratch::new();
    let len = 3 * 4096 + 5;
    let (sender, mut receiver) = exchange(&scratch, &label("resize"), len, 7, false);
    let shrink = receiver.expect("shrink: ");
    assert!(
        shrink.contains("EPERM"),
        "ftruncate to half the size must fail with EPERM in the receiver (F_SEAL_SHRINK), \
         got {shrink:?}: create must add F_SEAL_SHRINK, and receive must refuse a memfd \
         without it"
    );
    let grow = receiver.expect("grow: ");
    assert!(
        grow.contains("EPERM"),
        "ftruncate to twice the size must fail with EPERM in the receiver (F_SEAL_GROW), \
         got {grow:?}: create must add F_SEAL_GROW, and receive must refuse a memfd without it"
    );
    let size = receiver.expect("size after: ");
    assert_eq!(size, len.to_string(), "the size must not have changed");
    let after = receiver.expect("pattern after: ");
    assert_eq!(
        after, "same",
        "the mapping must still read the sender's bytes"
    );
    receiver.succeeds();
    sender.succeeds();
    scratch.finish();
}

/// Every line of `/proc/PID/maps` and every link of `/proc/PID/fd` of `pid`.
fn what_it_holds(pid: u32) -> Vec<String> {
    let mut held: Vec<String> = std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    if let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for fd in fds.flatten() {
            if let Ok(link) = std::fs::read_link(fd.path()) {
                held.push(link.to_string_lossy().into_owned());
            }
        }
    }
    held
}

/// While both processes share the segment, it exists in no directory: each maps
/// `/memfd:LABEL (deleted)`, a file the kernel made with no name, and nothing either process
/// holds lives in `/dev/shm` or in their working directory, which is also their TMPDIR.
#[test]
fn nothing_appears_in_any_directory_while_the_segment_is_shared() {
    let scratch = Scratch::new();
    let label = label("nameless");
    let (mut sender, mut receiver) = exchange(&scratch, &label, 8192, 3, true);
    sender.expect("holding");
    receiver.expect("holding");
    let here = scratch.dir.path().to_string_lossy().into_owned();
    for (who, pid) in [("sender", sender.pid()), ("receiver", receiver.pid())] {
        let held = what_it_holds(pid);
        assert!(
            held.iter().any(|line| line.ends_with(&memfd_link(&label))),
            "the {who} should map the memfd itself (/proc/{pid}/maps shows \
             {:?}); it maps nothing of that name: did create use memfd_create(label, …)?",
            memfd_link(&label)
        );
        let named: Vec<&String> = held
            .iter()
            .filter(|line| line.contains("/dev/shm/") || line.contains(&here))
            .collect();
        assert!(
            named.is_empty(),
            "the {who} holds files that have a name: {named:?}. A memfd needs no file in \
             /dev/shm, in TMPDIR or anywhere else: memfd_create makes it"
        );
    }
    assert!(
        scratch.names().is_empty(),
        "the workers' working directory (and TMPDIR) should stay empty, found {:?}",
        scratch.names()
    );
    sender.kill();
    receiver.kill();
    scratch.finish();
}

/// Every process (that this user may look at) that has the memfd labelled `label` open
/// or mapped.
fn processes_holding(label: &str) -> Vec<u32> {
    let link = memfd_link(label);
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|p| p.parse().ok()) else {
            continue;
        };
        if what_it_holds(pid).iter().any(|line| line.ends_with(&link)) {
            pids.push(pid);
        }
    }
    pids
}

/// When both processes are SIGKILLed, no process holds the memfd any more, so the kernel
/// has freed it, and there is nothing to clean anywhere: no name, no sweep. A named segment
/// is the opposite: its creator is gone, and its name (and its RAM) stay until someone
/// removes them.
#[test]
fn after_a_sigkill_nothing_is_left_to_clean_unlike_a_named_segment() {
    let scratch = Scratch::new();
    let label = label("killed");
    let (mut sender, mut receiver) = exchange(&scratch, &label, 64 << 10, 11, true);
    sender.expect("holding");
    receiver.expect("holding");
    let holders = processes_holding(&label);
    assert!(
        holders.contains(&sender.pid()) && holders.contains(&receiver.pid()),
        "both workers should hold the memfd {:?} before they are killed; holders: {holders:?}",
        memfd_link(&label)
    );
    sender.kill();
    receiver.kill();
    let left = processes_holding(&label);
    assert!(
        left.is_empty(),
        "after both workers were SIGKILLed, processes {left:?} still hold the memfd: the \
         test's own process must not keep a descriptor (is it close-on-exec? MFD_CLOEXEC on \
         create, MSG_CMSG_CLOEXEC on receive), or a process started meanwhile inherited it"
    );
    assert!(
        scratch.names().is_empty(),
        "no name may be left behind, found {:?}",
        scratch.names()
    );

    // The contrast: a named file in the segment directory, made by a process that is then
    // SIGKILLed, is still there after its creator is gone.
    let named = scratch.dir.join("named");
    let mut creator = std::process::Command::new("sh");
    creator
        .args(["-c", ": > \"$1\" && kill -KILL $$", "sh"])
        .arg(&named);
    let creator = common::run_bounded(creator, LIMIT, "the creating process");
    assert!(
        named.exists(),
        "the process that should have made {} before its SIGKILL did not ({:?}):\n{}",
        named.display(),
        creator.status,
        creator.stderr
    );
    assert_eq!(
        scratch.names(),
        ["named"],
        "a named segment outlives the process that created it: only an unlink (or a sweep) \
         removes it"
    );
    scratch.remove("named");
    scratch.finish();
}
