//! # 08 · seal — a segment with no name: memfd, seals, and passing the descriptor
//!
//! Reference answer.

use std::fs::File;
use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;

use memmap2::MmapMut;
use nix::errno::Errno;
use nix::fcntl::{FcntlArg, SealFlag, fcntl, posix_fallocate};
use nix::sys::memfd::{MFdFlags, memfd_create};
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
    let fds = [segment.file().as_fd()];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    // The buffer was sized for exactly this one message: it always fits.
    let fits = control.push(SendAncillaryMessage::ScmRights(&fds));
    debug_assert!(fits, "cmsg_space!(ScmRights(1)) holds one descriptor");
    // NOSIGNAL (MSG_NOSIGNAL): a peer that has gone is EPIPE, an error to return, rather
    // than a SIGPIPE that kills a process which has not ignored it.
    let sent = sendmsg(
        socket,
        &[IoSlice::new(&size)],
        &mut control,
        SendFlags::NOSIGNAL,
    )
    .map_err(|errno| match errno {
        rustix::io::Errno::PIPE | rustix::io::Errno::CONNRESET => Error::Disconnected,
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
    let seals = match fcntl(file, FcntlArg::F_GET_SEALS) {
        Ok(bits) => SealFlag::from_bits_retain(bits),
        Err(Errno::EINVAL) => return Err(Error::NotAMemfd),
        Err(errno) => {
            return Err(Error::Io {
                name: RECEIVED.to_owned(),
                source: errno.into(),
            });
        }
    };
    // F_SEAL_SEAL alone: a tmpfs file that is not a memfd, or a memfd made without
    // MFD_ALLOW_SEALING. Its size can never be sealed: no sender could fix it.
    if seals == SealFlag::F_SEAL_SEAL {
        return Err(Error::NeverSealable);
    }
    // At least SEALS: an extra seal such as F_SEAL_EXEC (MFD_NOEXEC_SEAL) is fine.
    let missing = SEALS.difference(seals);
    if !missing.is_empty() {
        return Err(Error::NotSealed { missing });
    }
    // A write seal would make our writable mapping fail with a bare EPERM: say which.
    let writes = seals & (SealFlag::F_SEAL_WRITE | SealFlag::F_SEAL_FUTURE_WRITE);
    if !writes.is_empty() {
        return Err(Error::WriteSealed { seals: writes });
    }
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
    // Room for the one descriptor we accept. A sender that sends more gets them cut: the
    // kernel installs here those that fit (up to 4: the room is rounded up for alignment),
    // closes the others itself and marks the message MSG_CTRUNC. A receiver at its
    // RLIMIT_NOFILE is cut the same way, whatever its room.
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    // CMSG_CLOEXEC (MSG_CMSG_CLOEXEC): the received descriptor is close-on-exec at once,
    // as the sender's is (MFD_CLOEXEC): a child this process starts inherits nothing.
    let message = recvmsg(
        socket,
        &mut [IoSliceMut::new(&mut size)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    )
    .map_err(|errno| match errno {
        rustix::io::Errno::CONNRESET => Error::Disconnected,
        errno => Error::Io {
            name: RECEIVED.to_owned(),
            source: errno.into(),
        },
    })?;
    // Every descriptor that arrived, each already an `OwnedFd`: rustix reads the control
    // data even when it was cut short, and whatever we return below, each is closed.
    let fds: Vec<OwnedFd> = control
        .drain()
        .filter_map(|cmsg| match cmsg {
            RecvAncillaryMessage::ScmRights(fds) => Some(fds),
            _ => None,
        })
        .flatten()
        .collect();
    if message.bytes == 0 && fds.is_empty() {
        return Err(Error::Disconnected);
    }
    let count = fds.len();
    let mut fds = fds.into_iter();
    let Some(fd) = fds.next() else {
        return Err(Error::NoDescriptor);
    };
    if message.bytes != size.len() {
        return Err(Error::BadMessage {
            reason: format!("its size is {} bytes long, not 8", message.bytes),
        });
    }
    if message.flags.contains(ReturnFlags::CTRUNC) {
        return Err(Error::BadMessage {
            reason: "more descriptors came with it than fit (MSG_CTRUNC)".to_owned(),
        });
    }
    if count != 1 {
        return Err(Error::BadMessage {
            reason: format!("{count} descriptors came with it, not one"),
        });
    }
    Ok((u64::from_le_bytes(size), File::from(fd)))
}
