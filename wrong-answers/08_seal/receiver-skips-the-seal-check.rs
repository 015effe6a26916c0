// WRONG: check never asks for the seals: any memfd (or file) of the announced size is mapped
// CAUGHT BY: check the seals (fcntl F_GET_SEALS) before mapping
//! # 08 · seal — a segment with no name: memfd, seals, and passing the descriptor
//!
//! Reference answer.

use std::fs::File;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use memmap2::MmapMut;
use nix::errno::Errno;
use nix::fcntl::{FcntlArg, SealFlag, fcntl, posix_fallocate};
use nix::sys::memfd::{MFdFlags, memfd_create};
use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};

use shm_kata::{Error, Segment};

/// The seals a segment carries before anyone else sees it: its size can neither shrink
/// nor grow, and no further seal can be added (none can ever be removed).
pub const SEALS: SealFlag = SealFlag::F_SEAL_SHRINK
    .union(SealFlag::F_SEAL_GROW)
    .union(SealFlag::F_SEAL_SEAL);

/// What errors call a segment that has arrived but is not a `Segment` yet.
const RECEIVED: &str = "received memfd";

/// Creates an anonymous, sealed segment of `len` bytes, labelled `label` (the label is
/// only what `/proc/PID/fd` shows: nobody can open it by that name).
pub fn create(label: &str, len: usize) -> Result<Segment, Error> {
    let name = format!("memfd:{label}");
    if len == 0 {
        return Err(Error::ZeroLength { name });
    }
    let fd = memfd_create(label, MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING).map_err(
        |errno| match errno {
            Errno::EINVAL => Error::InvalidName {
                name: label.to_owned(),
                reason: "a memfd label is at most 249 bytes, with no NUL",
            },
            errno => Error::Io {
                name: name.clone(),
                source: errno.into(),
            },
        },
    )?;
    let file = File::from(fd);
    let io = |source| Error::Io {
        name: name.clone(),
        source,
    };
    // The size first, then its pages, then the seals: once F_SEAL_GROW is on, not even
    // we could give the file its length.
    file.set_len(len as u64).map_err(io)?;
    posix_fallocate(&file, 0, len as i64).map_err(|errno| io(errno.into()))?;
    fcntl(&file, FcntlArg::F_ADD_SEALS(SEALS)).map_err(|errno| io(errno.into()))?;
    // SAFETY: the file is ours alone (nobody else has its descriptor yet), `len` bytes
    // long with every page reserved, and sealed against shrinking and growing: no process,
    // not even one we hand the descriptor to, can change its size while this mapping
    // lives, so every byte of the mapping stays backed by the file.
    let map = unsafe { MmapMut::map_mut(&file) }.map_err(io)?;
    Segment::from_memfd(file, map)
}

/// Sends `segment`'s descriptor over `socket`, with its size as the message.
pub fn send(socket: &UnixStream, segment: &Segment) -> Result<(), Error> {
    let size = (segment.len() as u64).to_le_bytes();
    let fds = [segment.file().as_raw_fd()];
    // MSG_NOSIGNAL: a peer that has gone is EPIPE, an error to return, rather than a
    // SIGPIPE that kills a process which has not ignored it.
    let sent = sendmsg::<()>(
        socket.as_raw_fd(),
        &[IoSlice::new(&size)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .map_err(|errno| match errno {
        Errno::EPIPE | Errno::ECONNRESET => Error::Disconnected,
        errno => Error::Io {
            name: segment.name().to_owned(),
            source: errno.into(),
        },
    })?;
    if sent != size.len() {
        return Err(Error::Io {
            name: segment.name().to_owned(),
            source: std::io::Error::new(
                std::io::ErrorKind::WriteZero,
                format!("only {sent} of the size's 8 bytes were sent"),
            ),
        });
    }
    Ok(())
}

/// Receives a segment's descriptor from `socket`, checks it, and maps it.
pub fn receive(socket: &UnixStream) -> Result<Segment, Error> {
    let (announced, file) = receive_descriptor(socket)?;
    check(&file, announced)?;
    // SAFETY: `check` has just seen F_SEAL_SHRINK, F_SEAL_GROW and F_SEAL_SEAL on this
    // file: its size is final, for the sender, for us and for anyone else holding it, so
    // a mapping of exactly that size stays backed by the file for as long as it lives.
    // That is the SIGBUS of a named segment (a peer shrinking the file) ruled out by the
    // kernel, not by a promise. Its bytes can still change at any moment (the sender maps
    // it too): the `Segment`'s views are built for that.
    let map = unsafe { MmapMut::map_mut(&file) }.map_err(|source| Error::Io {
        name: RECEIVED.to_owned(),
        source,
    })?;
    Segment::from_memfd(file, map)
}

/// Checks a received descriptor before anything maps it: it is a memfd, it carries all of
/// [`SEALS`] and no write seal, and its size is the `announced` one.
pub fn check(file: &File, announced: u64) -> Result<(), Error> {
    // Only now is the size worth reading: before the seals were known, it was a snapshot.
    let actual = file
        .metadata()
        .map_err(|source| Error::Io {
            name: RECEIVED.to_owned(),
            source,
        })?
        .len();
    if actual != announced {
        return Err(Error::WrongSize { announced, actual });
    }
    if actual == 0 {
        return Err(Error::ZeroLength {
            name: RECEIVED.to_owned(),
        });
    }
    Ok(())
}

/// One message: the announced size and the one descriptor that came with it.
fn receive_descriptor(socket: &UnixStream) -> Result<(u64, File), Error> {
    let mut size = [0u8; 8];
    // Room for the most descriptors one message can carry (SCM_MAX_FD, 253). With less, a
    // sender that sends more makes the kernel cut the control data short (MSG_CTRUNC): it
    // still installs in this process the descriptors that fit (and closes the rest), but
    // nix's `cmsgs()` refuses to read a truncated control buffer, so those would stay open
    // with nobody knowing their numbers. With room for them all, every one is ours to close.
    let mut space = nix::cmsg_space!([RawFd; 253]);
    let mut fds: Vec<OwnedFd> = Vec::new();
    let bytes = {
        let mut iov = [IoSliceMut::new(&mut size)];
        // MSG_CMSG_CLOEXEC: the received descriptor is close-on-exec at once, as the
        // sender's is (MFD_CLOEXEC): a child this process starts inherits nothing.
        let message = recvmsg::<()>(
            socket.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .map_err(|errno| match errno {
            Errno::ECONNRESET => Error::Disconnected,
            errno => Error::Io {
                name: RECEIVED.to_owned(),
                source: errno.into(),
            },
        })?;
        let control = message.cmsgs().map_err(|_| Error::BadMessage {
            reason: "its control data was cut short".to_owned(),
        })?;
        for cmsg in control {
            if let ControlMessageOwned::ScmRights(received) = cmsg {
                // SAFETY: the kernel has just installed these descriptors in this process
                // for this message (SCM_RIGHTS); no other code knows their numbers, so each
                // gets exactly one owner, which closes it when dropped.
                fds.extend(
                    received
                        .into_iter()
                        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
                );
            }
        }
        message.bytes
    };
    // Every descriptor that came is owned by now: each refusal below closes them all.
    if bytes == 0 && fds.is_empty() {
        return Err(Error::Disconnected);
    }
    let count = fds.len();
    let mut fds = fds.into_iter();
    let Some(fd) = fds.next() else {
        return Err(Error::NoDescriptor);
    };
    if bytes != size.len() {
        return Err(Error::BadMessage {
            reason: format!("its size is {bytes} bytes long, not 8"),
        });
    }
    if count != 1 {
        return Err(Error::BadMessage {
            reason: format!("{count} descriptors came with it, not one"),
        });
    }
    Ok((u64::from_le_bytes(size), File::from(fd)))
}
