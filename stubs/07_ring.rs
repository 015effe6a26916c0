//! # 07 · ring — a queue between two processes, with no system call per message
//!
//! A pipe costs two system calls and two copies per message. In a segment, a sender and a
//! receiver can share a *ring*: the sender writes each message into the data area and
//! moves `tail` forward; the receiver reads at `head` and moves `head` forward. Neither
//! ever waits for the kernel. The kit (`src/ring_kit.rs`) lays out the header, gives each
//! role its lock and does the waiting; you write the three pieces that make it a queue
//! (and the two helpers they share, `write_wrapped` and `read_wrapped`, further down):
//!
//! * `check_header(header, name, file_len)`: the segment is a stranger's memory until its
//!   header says otherwise. Load the magic number with `Acquire` (create stores it last,
//!   with `Release`): not `MAGIC` is `Error::NotARing { name, found }` (`found`: the
//!   number you loaded); a `version` other than `VERSION` is
//!   `Error::RingVersion { name, found, expected: VERSION }`; a `capacity` below
//!   `MIN_CAPACITY`, or with `HEADER_LEN + capacity != file_len` (careful: a garbage
//!   capacity overflows that sum), is `Error::RingSize { name, capacity, file, min }`
//!   (`capacity` as the header says it, `file: file_len`, `min: MIN_CAPACITY`, all three
//!   `u64`). `name` is always `name.to_owned()`. Return the capacity: read once, checked,
//!   kept.
//! * `push(ring, message)`: a record is the message's length (`u32`, little-endian, 4
//!   bytes) and then its bytes, written at `tail`. A message longer than
//!   `capacity - LEN_PREFIX` can never fit: `Error::MessageTooLarge { name, len, max }`,
//!   with `len` the message's length and `max` the largest message this ring can ever
//!   hold, `capacity - LEN_PREFIX` (`name`: `ring.name().to_owned()`). A record that does
//!   not fit in the free bytes *now* is `Ok(false)`.
//! * `pop(ring, out)`: `Ok(false)` when `head == tail`; otherwise read the length and the
//!   message at `head` into `out`, and move `head` past them.
//!
//! **The wrap-around.** `head` and `tail` are byte positions that only ever grow; the
//! bytes in use are `tail - head`, the free ones `capacity - (tail - head)`, and a
//! position lives at offset `position % capacity` of the data. A record that reaches the
//! end of the data continues at offset 0: copy it in two pieces (`write_wrapped`,
//! `read_wrapped`). The length itself can be split, too.
//!
//! **The ordering, which is the lesson.** The sender writes the bytes, *then* stores the
//! new `tail`; the receiver loads `tail`, *then* reads the bytes. The compiler may reorder
//! plain accesses unless you ask, and so may weaker CPUs (ARM, POWER; x86 itself keeps
//! store→store and load→load order, which is why a mistake hides there):
//! `tail.store(_, Release)` means "every write before this is visible to whoever reads
//! this value *with an `Acquire` load*", and `tail.load(Acquire)` means "every read after
//! this sees what was written before the `Release` store whose value I saw". It takes the
//! pair: a `Relaxed` load of a `Release` store promises nothing about the bytes. The same
//! pair guards the way back: the receiver reads, then stores `head`
//! with `Release`; the sender loads `head` with `Acquire` before it writes over the bytes
//! the receiver freed. Your own index (the sender's `tail`, the receiver's `head`) nobody
//! else writes, so `Relaxed` reads it. On x86 a `Relaxed` where `Release` belongs almost
//! never misbehaves in a test run; on ARM it does, rarely. So the tests check your
//! `push` and `pop` under **loom**, a model checker for the C11 memory model: it runs
//! them in many interleavings, lets a load see any store the orderings allow, and tells
//! you which read was not ordered after the write it read. It is bounded, not complete:
//! it treats `SeqCst` as `AcqRel`, does not explore load buffering (a load that sees a
//! store made *later* in program order by the other thread), cannot see `std`'s fences
//! (only loom's own), and these tests cap it at 3 preemptions per run
//! (`LOOM_MAX_PREEMPTIONS` raises it). For a missing `Release`/`Acquire` pair in a
//! ring, that is enough: it catches every one the corpus of wrong answers holds.
//!
//! **Fences are fine too.** `tail.load(Relaxed)` followed by a fence of `Acquire` orders
//! the reads after it just as `tail.load(Acquire)` does, and a fence of `Release` before
//! `tail.store(_, Relaxed)` orders the writes before it. If you write it that way, call
//! the ring's fence, `ring.fence(Acquire)` (`RingMemory::fence`), not
//! `std::sync::atomic::fence`: it is `std`'s in a real run and loom's under the model
//! checker, which cannot see `std`'s and would call your correct answer a race.
//!
//! **Never trust shared memory.** A peer (buggy, or not a ring at all) can write anything
//! into the header: a `tail` behind `head`, more than `capacity` bytes in use, a length
//! longer than what was published, a `tail` so close to 2^64 that `tail + record` would
//! overflow (real positions need 55 years of traffic to get there; use `checked_add`).
//! Each is `Error::RingCorrupt { name, reason }` (`reason`: a sentence with the numbers
//! you found), never a panic or a read outside the ring.
//!
//! Why the kit does the rest: the layout (a `#[repr(C)]` header with `head` and `tail` on
//! cache lines of their own, against false sharing), the role locks (an `F_OFD_SETLK`
//! lock per role, which the kernel frees when its holder dies) and the waiting (spin while
//! spinning finds the peer acting, then sleep on a futex the peer wakes, and a dead peer is
//! an error) are plumbing you read, not the lesson. In a real run the kit also remembers the peer's
//! index between attempts (why: "The peer's index, remembered" in `src/ring_kit.rs`);
//! that changes nothing for you, and neither does the kit's `Sender::send_many`, which
//! keeps your `push`'s stores of `tail` back and publishes many records with one. Write
//! `push` and `pop` as if every load were fresh, with the orderings above: loom checks
//! them that way.
//!
//! **Worth reading after: how the kit sleeps without a fence per message** ("Waiting" in
//! `src/ring_kit.rs`). A side about to sleep stores "I sleep" and then looks at the ring;
//! the peer stores its index and then looks at "I sleep". Store, then load the other's
//! word, on both sides: the pattern of Dekker's mutual exclusion, and the one reordering
//! x86 does allow (a load passing an earlier store). Unguarded, both can miss each other
//! and a side sleeps with a message waiting. A `SeqCst` fence on both sides guards it, but
//! on the sender's side that is a fence per message (measured: three quarters of the
//! throughput). The kit makes the guard asymmetric: the rare side, about to sleep, calls
//! `membarrier(2)`, which puts a full barrier on every CPU its peer runs on, and the
//! frequent side keeps only a compiler fence. The same trade, one side paying for both,
//! is how user-space RCU (liburcu) keeps its readers free of fences.
//!
//! **What the reference answer adds, for speed only** (nothing here is asked of you):
//! a record that does not wrap is copied in one piece, not a piece and an empty one, so
//! the 4-byte length is a copy of a known size the compiler turns into one store instead
//! of a call to `memcpy`; the errors are built in `#[cold]` functions, so no formatting
//! or allocation sits in `push` and `pop`; and `pop` resizes `out` to the record's length
//! instead of clearing it first (only bytes it did not have yet are zero-filled, and the
//! read overwrites every byte anyway). Measured side by side:
//! a 64-byte push and pop in one thread about half the time (medians 65 → 34 ns), and
//! 1.8 times the messages per second between two processes. Then two smaller things:
//! a position's offset is a mask when the capacity is a power of two (`position % capacity`
//! is a 64-bit division otherwise, tens of cycles), and the two copy helpers are
//! `#[inline(always)]`, so that the length's copy keeps its known size (with only
//! `#[inline]`, once the offset had its own helper, the compiler called them and the
//! 4-byte copy became a call to `memmove`: 33 ns a push and pop against 25). Write yours
//! plain first.
//!
//! Builds on: 01 create and 02 attach (a ring is a segment they make and open). A compile
//! error in those shows here too; no other exercise ever stops this one.
//!
//! Run: `cargo test --test 07_ring`   Stuck? `cargo run -- hint 7`

#[allow(unused_imports)] // you will need these
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
    // TODO: magic first (with the ordering that pairs with how `create` stored it last)
    // → NotARing; version → RingVersion; capacity (read once) below MIN_CAPACITY or
    // HEADER_LEN + capacity != file_len (checked_add) → RingSize.
    let _ = header;
    todo!("07 ring: check the header of {name:?} ({file_len} bytes)")
}

/// Sender side: puts one record (length, then `message`) at the tail, if it fits now.
pub fn push(ring: &impl RingMemory, message: &[u8]) -> Result<bool, Error> {
    // TODO: too large → MessageTooLarge; load your own tail and the receiver's head (which
    // ordering for each? the header's rule); bytes in use (RingCorrupt if impossible); no
    // room → Ok(false); write the length and the message with write_wrapped; only then
    // store the new tail, so the receiver never reads bytes you have not yet written.
    todo!(
        "07 ring: push a message of {} bytes into ring {:?}",
        message.len(),
        ring.name()
    )
}

/// Receiver side: takes the record at the head into `out`, if there is one.
pub fn pop(ring: &impl RingMemory, out: &mut Vec<u8>) -> Result<bool, Error> {
    // TODO: load your own head and the sender's tail (which ordering for each? the
    // header's rule); equal → Ok(false); read the length with read_wrapped and check it
    // (RingCorrupt); read the message into `out`; only then store the new head, so the
    // sender never writes over bytes you are still reading.
    let _ = out;
    todo!("07 ring: pop a message from ring {:?}", ring.name())
}

/// Writes `bytes` at `position`, continuing at offset 0 when it reaches the end.
///
/// # Safety
/// Nobody else touches those bytes meanwhile (see [`RingMemory::write`]).
#[allow(dead_code)]
unsafe fn write_wrapped(ring: &impl RingMemory, position: u64, bytes: &[u8]) {
    // TODO: offset = position % capacity; the first piece up to the end of the data,
    // the rest at offset 0 (`ring.write`, in an unsafe block with a SAFETY comment).
    todo!(
        "07 ring: write {} bytes at position {position} of ring {:?}",
        bytes.len(),
        ring.name()
    )
}

/// Reads `out.len()` bytes at `position`, continuing at offset 0 when it reaches the end.
///
/// # Safety
/// Nobody writes those bytes meanwhile (see [`RingMemory::read`]).
#[allow(dead_code)]
unsafe fn read_wrapped(ring: &impl RingMemory, position: u64, out: &mut [u8]) {
    // TODO: like write_wrapped, with `ring.read` (split `out` with split_at_mut).
    todo!(
        "07 ring: read {} bytes at position {position} of ring {:?}",
        out.len(),
        ring.name()
    )
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
