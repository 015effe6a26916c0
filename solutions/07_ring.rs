//! # 07 · ring — a queue between two processes, with no system call per message
//!
//! Reference answer.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use shm_kata::Error;
use shm_kata::SegmentDir;
use shm_kata::ring_kit::RingCode;
pub use shm_kata::ring_kit::{
    HEADER_LEN, Header, LEN_PREFIX, MAGIC, MIN_CAPACITY, Receiver, RingIndex, RingMemory, Sender,
    VERSION,
};

/// Checks the header of a segment that claims to be a ring, and returns its capacity.
pub fn check_header(header: &Header, name: &str, file_len: u64) -> Result<usize, Error> {
    // Acquire: `create` stores the magic number last, with Release; seeing it means seeing
    // the version and the capacity it stored before.
    let magic = header.magic.load(Acquire);
    if magic != MAGIC {
        return Err(Error::NotARing {
            name: name.to_owned(),
            found: magic,
        });
    }
    let version = header.version.load(Relaxed);
    if version != VERSION {
        return Err(Error::RingVersion {
            name: name.to_owned(),
            found: version,
            expected: VERSION,
        });
    }
    // Read once, check, keep: a peer could change the shared word after the check.
    let capacity = header.capacity.load(Relaxed);
    let fits = capacity >= MIN_CAPACITY as u64
        && capacity.checked_add(HEADER_LEN as u64) == Some(file_len);
    if !fits {
        return Err(Error::RingSize {
            name: name.to_owned(),
            capacity,
            file: file_len,
            min: MIN_CAPACITY as u64,
        });
    }
    Ok(capacity as usize)
}

/// Sender side: puts one record (length, then `message`) at the tail, if it fits now.
pub fn push(ring: &impl RingMemory, message: &[u8]) -> Result<bool, Error> {
    let capacity = ring.capacity();
    let max = capacity - LEN_PREFIX;
    if message.len() > max {
        return Err(too_large(ring, message.len(), max));
    }
    // Our own index: nobody else writes it, so Relaxed reads our last store.
    let tail = ring.tail().load(Relaxed);
    // Acquire pairs with the receiver's Release store of `head`: the bytes it has freed
    // are done being read before we write over them.
    let head = ring.head().load(Acquire);
    let used = in_use(ring, head, tail)?;
    let record = (LEN_PREFIX + message.len()) as u64;
    if capacity as u64 - used < record {
        return Ok(false); // full for now
    }
    // Positions grow by 10 GB/s for 55 years before they near 2^64: a tail that close is
    // a scribbled one, and the sums below would overflow.
    if tail.checked_add(record).is_none() {
        return Err(corrupt(
            ring,
            format_args!("tail {tail} is too close to 2^64 for a record of {record} bytes"),
        ));
    }
    let len = (message.len() as u32).to_le_bytes();
    // SAFETY: the bytes from `tail` up to `head + capacity` are free: the receiver
    // released them (its Release store of `head`, which our Acquire load saw), and it
    // reads nothing past `tail` until we publish it below.
    unsafe {
        write_wrapped(ring, tail, &len);
        write_wrapped(ring, tail + LEN_PREFIX as u64, message);
    }
    // Release: the record's bytes, written above, become visible no later than the new
    // tail. The receiver's Acquire load of `tail` then sees them whole.
    ring.tail().store(tail + record, Release);
    Ok(true)
}

/// Receiver side: takes the record at the head into `out`, if there is one.
pub fn pop(ring: &impl RingMemory, out: &mut Vec<u8>) -> Result<bool, Error> {
    let head = ring.head().load(Relaxed); // our own index
    // Acquire pairs with the sender's Release store of `tail`: every byte before the
    // tail we see is written.
    let tail = ring.tail().load(Acquire);
    let used = in_use(ring, head, tail)?;
    if used == 0 {
        return Ok(false);
    }
    let mut len = [0; LEN_PREFIX];
    // SAFETY: the bytes from `head` to `tail` are published (the sender's Release store of
    // `tail`, which our Acquire load saw) and the sender writes none of them until we
    // release them below.
    unsafe { read_wrapped(ring, head, &mut len) };
    let len = u32::from_le_bytes(len) as u64;
    // Never trust a length read from shared memory: a record must lie inside what the
    // sender published.
    if used < LEN_PREFIX as u64 || len > used - LEN_PREFIX as u64 {
        return Err(corrupt(
            ring,
            format_args!(
                "a record of {len} bytes at position {head}, but only {used} bytes are in use"
            ),
        ));
    }
    // Every byte of `out` is overwritten below: only bytes it did not hold yet are zeroed
    // first (none, when messages keep their size), never the whole message.
    out.resize(len as usize, 0);
    // SAFETY: as above: inside the published bytes.
    unsafe { read_wrapped(ring, head + LEN_PREFIX as u64, out) };
    // Release: our reads of the record are done before the sender can see its bytes free.
    ring.head().store(head + LEN_PREFIX as u64 + len, Release);
    Ok(true)
}

/// How many bytes are in use between `head` and `tail`, or `RingCorrupt` if that cannot
/// be (the tail behind the head, or more than the capacity).
#[inline]
fn in_use(ring: &impl RingMemory, head: u64, tail: u64) -> Result<u64, Error> {
    match tail.checked_sub(head) {
        Some(used) if used <= ring.capacity() as u64 => Ok(used),
        _ => Err(corrupt(
            ring,
            format_args!(
                "head {head} and tail {tail} are not 0 to {} bytes apart",
                ring.capacity()
            ),
        )),
    }
}

// The errors are built out of line (`#[cold]`: the compiler moves the call off the fast
// path and keeps the code that formats and allocates out of `push` and `pop`).

/// `MessageTooLarge`: a message of `len` bytes, where the ring holds at most `max`.
#[cold]
#[inline(never)]
fn too_large(ring: &impl RingMemory, len: usize, max: usize) -> Error {
    Error::MessageTooLarge {
        name: ring.name().to_owned(),
        len,
        max,
    }
}

/// `RingCorrupt`, with the reason and its numbers.
#[cold]
#[inline(never)]
fn corrupt(ring: &impl RingMemory, reason: std::fmt::Arguments) -> Error {
    Error::RingCorrupt {
        name: ring.name().to_owned(),
        reason: reason.to_string(),
    }
}

/// Where `position` lies in the data: `position % capacity`. A 64-bit division costs as
/// much as the rest of a small `push`; when the capacity is a power of two, a mask gives
/// the same offset.
#[inline]
fn offset(ring: &impl RingMemory, position: u64) -> usize {
    let capacity = ring.capacity() as u64;
    let at = if capacity.is_power_of_two() {
        position & (capacity - 1)
    } else {
        position % capacity
    };
    at as usize
}

/// Writes `bytes` at `position`, continuing at offset 0 when it reaches the end.
///
/// # Safety
/// Nobody else touches those bytes meanwhile (see [`RingMemory::write`]).
#[inline(always)]
unsafe fn write_wrapped(ring: &impl RingMemory, position: u64, bytes: &[u8]) {
    let at = offset(ring, position);
    let first = bytes.len().min(ring.capacity() - at);
    // SAFETY: the caller's promise, for both pieces.
    unsafe {
        if first == bytes.len() {
            ring.write(at, bytes); // nothing wraps: one copy
        } else {
            ring.write(at, &bytes[..first]);
            ring.write(0, &bytes[first..]);
        }
    }
}

/// Reads `out.len()` bytes at `position`, continuing at offset 0 when it reaches the end.
///
/// # Safety
/// Nobody writes those bytes meanwhile (see [`RingMemory::read`]).
#[inline(always)]
unsafe fn read_wrapped(ring: &impl RingMemory, position: u64, out: &mut [u8]) {
    let at = offset(ring, position);
    let first = out.len().min(ring.capacity() - at);
    if first == out.len() {
        // SAFETY: the caller's promise. Nothing wraps: one copy.
        unsafe { ring.read(at, out) };
        return;
    }
    let (start, rest) = out.split_at_mut(first);
    // SAFETY: the caller's promise, for both pieces.
    unsafe {
        ring.read(at, start);
        ring.read(0, rest);
    }
}

// ---------------------------------------------------------------------------------------
// How your three functions reach the ring kit (nothing to change below this line): the
// kit's `Sender` and `Receiver` call them through `CODE`, and a ring's segment is made by
// your `create` (01) and opened by your `attach` (02).

/// Your `check_header`, `push` and `pop`, as the kit calls them.
pub const CODE: RingCode = RingCode {
    check_header,
    push: |ring, message| push(ring, message),
    pop: |ring, out| pop(ring, out),
};

/// Creates ring `name` in `dir` with `capacity` data bytes, and takes its sender role.
pub fn create(dir: &SegmentDir, name: &str, capacity: usize) -> Result<Sender, Error> {
    shm_kata::ring_kit::create(dir, name, capacity, crate::create::create, CODE)
}

/// Attaches to ring `name` in `dir` (its header checked by your `check_header`) and takes
/// its receiver role.
pub fn attach(dir: &SegmentDir, name: &str) -> Result<Receiver, Error> {
    shm_kata::ring_kit::attach(dir, name, crate::attach::attach, CODE)
}

/// Attaches to ring `name` in `dir` as its sender: how a new sender takes over a ring
/// whose first sender has gone (see `shm_kata::ring_kit::attach_sender`).
pub fn attach_sender(dir: &SegmentDir, name: &str) -> Result<Sender, Error> {
    shm_kata::ring_kit::attach_sender(dir, name, crate::attach::attach, CODE)
}
