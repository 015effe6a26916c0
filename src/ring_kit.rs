//! The kit behind exercise 07 (`ring`): the header's layout, the two roles and their locks,
//! waiting for the peer, and the small memory facade the ring's algorithm runs over.
//!
//! The learner writes the algorithm (`ring::push`, `ring::pop`, and the header check); this
//! module is the plumbing around it, kept out of the exercise so the lesson stays the
//! ordering of the publish and the consume and the wrap-around arithmetic.
//!
//! # The layout
//! ```text
//! byte 0    magic (8)  version (4)  peers (4)  capacity (8)     first cache line: read once,
//! byte 24   sender_sleeps (4)  receiver_sleeps (4)  sender_wants (8)   written only by a
//!           side about to sleep (see "Waiting")
//! byte 128  head (8): where the receiver reads next              written by the receiver only
//! byte 256  tail (8): where the sender writes next               written by the sender only
//! byte 384  data: `capacity` bytes, records of [length: u32 LE][bytes], wrapping at the end
//! ```
//! `head` and `tail` are free-running byte counters (they never wrap: 2^64 bytes is about
//! 55 years of traffic at 10.7 GB/s, more than any process lives); a position's place in the data is `position % capacity`, and
//! `tail - head` is how many bytes are in use. Each index sits on a cache line of its own,
//! padded to 128 bytes, because the sender writes `tail` on every message and the receiver
//! writes `head`: on one shared line, every write by one core would take the line away from
//! the other (*false sharing*), and the two would take turns instead of running side by
//! side. 128, not 64: Intel's spatial prefetcher fetches lines in pairs.
//!
//! # The roles
//! One sender and one receiver, enforced by the kernel: each role is an exclusive
//! open-file-description lock (`fcntl(F_OFD_SETLK)`) on one byte far past the end of the
//! file (next to the kit's liveness byte), held by a file the role opened for itself.
//! The kernel drops it when that file is closed, which a process that dies does too, so
//! a new sender can take over from a dead one, and a peer's death is visible to the other
//! side (`F_OFD_GETLK`). Not `flock`: a `flock` covers the whole file, so a file has one
//! exclusive `flock` at a time, and a ring needs two roles held exclusively at once (a
//! record lock takes a byte range: one byte per role).
//!
//! # The peer's index, remembered
//! A load of the peer's index reads a cache line the peer keeps writing: each one is a
//! trip between cores (tens to a hundred nanoseconds), as long as the rest of a small
//! message's work. So in a real run the peer's index is remembered
//! ([`SharedIndex`]): the sender's `head()` hands back the value its last load read, and
//! so does the receiver's `tail()`, until an attempt finds the ring full (or empty) or
//! fails. Only then does the next load go to shared memory, with the ordering the
//! algorithm asks for, and the attempt is made again: neither "full" nor an error is ever
//! said of an old value.
//! An old value is a safe one: the sender sees fewer free bytes than there are, the
//! receiver fewer messages, never the other way round, and what the old value's
//! `Acquire` made visible stays visible. Measured side by side with 64-byte messages
//! (together with reading the clock only once a first attempt has failed): 1.3–1.6 times
//! the messages per second of loading the peer's index every time.
//!
//! # Waiting
//! `send` and `recv` try once; if the ring is full (or empty) they spin, trying again
//! with the peer's index loaded afresh, for up to 100 µs, but only while spinning pays:
//! a spin that ends in vain (the peer is not about to act: it waits too, or it has no
//! core) makes the next waits sleep at once, for 1 ms, then 2, 4, … up to 64 ms while
//! the spins stay in vain, and a spin that succeeds lets the next wait spin again. A
//! process spinning on a busy machine takes the core its peer needs; one that sleeps
//! costs a wake-up per message. Judging by what spins achieve, not by the machine's load,
//! matters on a shared machine: a rule "spin while `/proc/loadavg` shows no more threads
//! ready to run than cores" was tried and measured, and there the two spinning sides are
//! already two such threads, so any third process running for a moment stopped the
//! spinning for a while (about 50,000 sleeps in a 4-second run of round trips, 1.0–1.4 µs
//! a round trip against 0.75 µs with this rule). To sleep, they sleep in the kernel,
//! on a word of the header, with `FUTEX_WAIT`, and the peer wakes them (`FUTEX_WAKE`)
//! after its next message. Shared futexes, not private (`FUTEX_PRIVATE_FLAG`): the kernel
//! finds a shared one by the page it lies in, so two processes that map the segment
//! wait and wake on the same word.
//!
//! **The lost wake-up, and what it would cost to prevent it naively.** The sleeper says
//! "I sleep" (stores its word), looks at the ring one last time, and sleeps; the peer
//! publishes a message (stores its index) and then looks at the word. Each side stores one
//! location and then loads the other: the pattern of Dekker's mutual exclusion. If the
//! CPU lets either load pass the store before it (x86 does: a store waits in the core's
//! store buffer, and a later load is served first), the sleeper can see no message and
//! the peer no sleeper, and the sleeper sleeps with a message in the ring. The textbook
//! guard is a `SeqCst` fence between the store and the load, on both sides: on the
//! peer's side that is a fence after *every* message, and measured side by side it cost
//! about three quarters of the messages per second (8.6 against 26–31 M msg/s).
//!
//! **The asymmetric barrier.** The fast side (the one that publishes, every message) keeps
//! only a compiler fence (`compiler_fence(SeqCst)`: the compiler may not move its load of
//! the word before its store of the index; no instruction is emitted) and a `Relaxed`
//! load, a line nobody writes while both sides run. The slow side (about to sleep, rare)
//! pays for both: after storing its word it calls `membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED)`,
//! which returns only once every CPU running a thread of a registered process (both
//! sides register at `create` and `attach`) has gone through a full barrier (the kernel
//! interrupts them: an IPI), and a thread not running has one anyway at its next switch.
//! So either the peer's store of its index came before that barrier on its CPU, and the
//! sleeper's last look sees the message; or it came after, and then so did the peer's
//! load of the word, which sees the sleeper's store (made before the barrier). Either way
//! nobody sleeps through a message. A `membarrier` here measured about 0.2 µs on the
//! 2-core VM, against a wake-up's microseconds; a fence per message costs more than that
//! in a few hundred messages. Where the kernel lacks it (`membarrier_query`), the sleeper
//! uses a plain `SeqCst` fence and naps 1 ms at most: a lost wake-up then costs a nap.
//!
//! **What the words are.** `receiver_sleeps` is 1 while the receiver sleeps, or is about
//! to; the sender, after each message, wakes it if so (setting the word back to 0 first,
//! so one wake-up is made per sleep, and a sleeper not yet in `FUTEX_WAIT` returns at once:
//! `FUTEX_WAIT` sleeps only if the word still holds the value it was given). The sender's
//! word works the same way, with one more thing: a sender woken as soon as one byte is free
//! would write one message and sleep again, a wake-up per message; it asks
//! (`sender_wants`) to be woken once half the ring is free, or room for its record.
//!
//! **A dead peer.** A process that dies wakes nobody: each sleep lasts at most 10 ms, and
//! a side that wakes without having been woken asks the kernel whether the peer still
//! holds its role (`F_OFD_GETLK`); a dead peer is an error then, never a wait for the
//! timeout. It asks only then, not each time it would sleep: a `fcntl` per wait made
//! every wait a system call more.
//!
//! **A receiver that keeps up.** Spinning has a cost of its own when the sender streams:
//! a receiver that takes each message as soon as it is published meets the sender at
//! every one, and each meeting moves `tail`'s line and the record's lines from one core
//! to the other while the sender is writing the next record beside them. Measured side
//! by side, 64-byte messages sent as fast as the sender can: 10–14 M msg/s with the
//! receiver spinning, where the same receiver asleep half the time (the wait this one
//! replaced) got 15–24, and the ceiling ring (`benches/ring/ceiling.rs`) 50–65. So the
//! receiver notes whether its last fresh look at `tail` found more than the one message
//! it took: if so, the sender streams faster than it takes them, and its next wait first
//! lets about 1.7 µs pass (128 spin-loop hints) before it looks, and then takes what
//! gathered one message after the other, the lines long written. One message found after
//! a wait ends that. A request and its answer never have two messages in a ring, so the
//! round trip never waits for a gathering. Measured side by side: 34–47 M msg/s, the
//! round trip unchanged (0.72–0.83 µs).
//!
//! Measured side by side on the 2-core VM, 64 B round trip, against the wait before this
//! one (spin only while `/proc/loadavg` shows a core to spare, then the same futex): with
//! two busy loops on the two cores, 1.7–3.4 µs against 3.7–79 µs, where a pipe took
//! 2.8–5.2 µs in the same runs; on the machine without them, 0.72–0.83 µs against
//! 0.96–1.4 µs (the ceiling ring: 0.37–0.39 µs).

use std::cell::Cell;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::ptr::NonNull;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;

use crate::error::{Error, Result};
use crate::segment::{Segment, SegmentDir};

/// 01's `create`, as the kit calls it to make a ring's segment.
pub type Create = fn(&SegmentDir, &str, usize) -> Result<Segment>;
/// 02's `attach`, as the kit calls it to open a ring's segment.
pub type Attach = fn(&SegmentDir, &str) -> Result<Segment>;

/// Your three functions of exercise 07, handed to the kit: `ring::CODE` in your file. The
/// kit's `Sender` and `Receiver` call them; the kit itself never names your code.
#[derive(Clone, Copy, Debug)]
pub struct RingCode {
    /// `ring::check_header`.
    pub check_header: fn(&Header, &str, u64) -> Result<usize>,
    /// `ring::push`, for the kit's shared memory.
    pub push: fn(&SharedRing, &[u8]) -> Result<bool>,
    /// `ring::pop`, for the kit's shared memory.
    pub pop: fn(&SharedRing, &mut Vec<u8>) -> Result<bool>,
}

/// The first 8 bytes of every ring: `shmring` and a NUL, read as a little-endian `u64`.
pub const MAGIC: u64 = u64::from_le_bytes(*b"shmring\0");

/// The layout's version: a reader refuses a ring whose header says another one.
pub const VERSION: u32 = 1;

/// How far apart the header's parts are (two 64-byte cache lines).
pub const LINE: usize = 128;

/// The header's size: where the data starts.
pub const HEADER_LEN: usize = 3 * LINE;

/// The bytes of a record's length, before its message.
pub const LEN_PREFIX: usize = 4;

/// The smallest capacity: one record with a message of one byte.
pub const MIN_CAPACITY: usize = LEN_PREFIX + 1;

/// The largest capacity `create` accepts: a record's length is a `u32`, so a ring larger
/// than the largest record (its length prefix and `u32::MAX` bytes) could take a message
/// whose length does not fit its prefix.
pub const MAX_CAPACITY: usize = LEN_PREFIX + u32::MAX as usize;

/// The start of a ring's segment, as `#[repr(C)]` lays it out: the same bytes in every
/// process, whatever the compiler. Every field is atomic, padding too: another process may
/// write any byte of shared memory at any moment, and Rust must never be told that a byte
/// stays put.
#[repr(C)]
pub struct Header {
    /// [`MAGIC`], stored last by `create` (Release), so a reader that sees it (Acquire)
    /// sees the rest of the header too.
    pub magic: AtomicU64,
    /// [`VERSION`].
    pub version: AtomicU32,
    /// Which roles have ever been taken: bit 0 the sender, bit 1 the receiver. A peer
    /// that was never there is not "gone".
    pub peers: AtomicU32,
    /// The data's length in bytes.
    pub capacity: AtomicU64,
    /// 1 while the sender sleeps (or is about to) in `FUTEX_WAIT` on this word, waiting
    /// for room; the receiver, after each message it takes, looks at it and wakes the
    /// sender when it is set. See the module's "Waiting".
    pub sender_sleeps: AtomicU32,
    /// 1 while the receiver sleeps on this word, waiting for a message; the sender looks
    /// at it after each message it puts.
    pub receiver_sleeps: AtomicU32,
    /// The `head` at which a sleeping sender wants to be woken: when half the ring is free,
    /// or room for its record if that is more. Not at the first free byte: a sender woken
    /// for every message taken would sleep and be woken once per message.
    pub sender_wants: AtomicU64,
    _pad0: [AtomicU64; LINE / 8 - 5],
    /// Where the receiver reads next: the bytes before it are free again.
    pub head: AtomicU64,
    _pad1: [AtomicU64; LINE / 8 - 1],
    /// Where the sender writes next: the bytes before it are published.
    pub tail: AtomicU64,
    _pad2: [AtomicU64; LINE / 8 - 1],
}

const _: () = {
    assert!(std::mem::size_of::<Header>() == HEADER_LEN);
    assert!(std::mem::offset_of!(Header, sender_sleeps) == 24);
    assert!(std::mem::offset_of!(Header, receiver_sleeps) == 28);
    assert!(std::mem::offset_of!(Header, sender_wants) == 32);
    assert!(std::mem::offset_of!(Header, head) == LINE);
    assert!(std::mem::offset_of!(Header, tail) == 2 * LINE);
};

/// One of the ring's indices, as the algorithm sees it: a `u64` loaded and stored with
/// the ordering the caller chooses. An `AtomicU64` in shared memory in a real run; loom's
/// model of one in the model-checked tests.
pub trait RingIndex {
    /// Loads the index.
    fn load(&self, order: Ordering) -> u64;
    /// Stores the index.
    fn store(&self, value: u64, order: Ordering);
}

impl RingIndex for AtomicU64 {
    #[inline]
    fn load(&self, order: Ordering) -> u64 {
        AtomicU64::load(self, order)
    }
    #[inline]
    fn store(&self, value: u64, order: Ordering) {
        AtomicU64::store(self, value, order)
    }
}

/// The memory a ring's algorithm runs over: two indices and `capacity` bytes of data.
///
/// The segment's memory in a real run ([`SharedRing`]); in the model-checked tests, loom's
/// atomics and one `loom::cell::UnsafeCell` per byte, so that loom sees every access and
/// reports a read that is not ordered after the write it reads.
pub trait RingMemory {
    /// The index type.
    type Index: RingIndex;
    /// The ring's name, for errors.
    fn name(&self) -> &str;
    /// The data's length in bytes (checked when the ring was attached; never re-read from
    /// shared memory, where a peer could change it).
    fn capacity(&self) -> usize;
    /// Where the receiver reads next (written by the receiver only).
    fn head(&self) -> &Self::Index;
    /// Where the sender writes next (written by the sender only).
    fn tail(&self) -> &Self::Index;
    /// Copies `bytes` into the data at `at..at + bytes.len()`.
    ///
    /// # Safety
    /// Nobody else reads or writes those bytes meanwhile: for the sender, they are free
    /// (the receiver has released them, and we saw that release). Panics if the range runs
    /// past the end of the data: a record that wraps is copied in two pieces.
    unsafe fn write(&self, at: usize, bytes: &[u8]);
    /// Copies the data at `at..at + out.len()` into `out`.
    ///
    /// # Safety
    /// Nobody writes those bytes meanwhile: for the receiver, they are published (the
    /// sender has written them, and we saw that publication). Panics if the range runs
    /// past the end of the data.
    unsafe fn read(&self, at: usize, out: &mut [u8]);
    /// A memory fence: `std::sync::atomic::fence(order)` in a real run. An algorithm that
    /// orders its accesses with fences (a `Relaxed` load of the peer's index followed by
    /// `ring.fence(Acquire)`, a `ring.fence(Release)` before a `Relaxed` store of its own)
    /// calls this one, never `std`'s: the model-checked tests give loom's fence here, and
    /// loom cannot see `std`'s, so it would report a correct answer as a race.
    fn fence(&self, order: Ordering) {
        std::sync::atomic::fence(order)
    }
}

/// Panics, with what to change, if `at..at + len` runs past the end of `capacity` bytes:
/// an access there would be outside the ring (in a segment, past the mapping).
#[inline]
pub fn check_span(name: &str, capacity: usize, at: usize, len: usize, what: &str) {
    if !(at <= capacity && len <= capacity - at) {
        outside(name, capacity, at, len, what);
    }
}

/// [`check_span`]'s panic, out of the hot path.
#[cold]
#[inline(never)]
fn outside(name: &str, capacity: usize, at: usize, len: usize, what: &str) -> ! {
    panic!(
        "ring {name:?}: a {what} of {len} bytes at offset {at} runs past the end of the data \
         ({capacity} bytes). Offsets are position % capacity, and a record that reaches the \
         end continues at offset 0: copy it in two pieces, the first up to the end"
    )
}

/// One index of a ring in a segment, as one side sees it: its own index is loaded from
/// shared memory every time (but while [`Sender::send_many`] holds its stores back); the
/// peer's is remembered (see the module's "The peer's index, remembered").
#[derive(Debug)]
pub struct SharedIndex {
    /// The index in the segment's header.
    word: NonNull<AtomicU64>,
    /// Whether this side remembers what it loads: the peer's index does, one's own not.
    remembers: bool,
    /// The peer's index: the last value loaded, if it may be handed back instead of
    /// loading again. One's own index: a value stored while held back (see
    /// [`Sender::send_many`]), not yet in shared memory.
    seen: Cell<Option<u64>>,
    /// Whether stores of one's own index are held back (kept in `seen`) for now.
    holds: Cell<bool>,
}

// SAFETY: `word` points into the mapping of the segment that the same `SharedRing` owns,
// which stays mapped, at the same address, until the `SharedRing` is dropped, wherever it
// is moved; an `AtomicU64` may be used from any thread. `seen` is this side's own copy
// (a `Cell`, so a `SharedIndex` is not `Sync`: one thread at a time uses it).
unsafe impl Send for SharedIndex {}

impl SharedIndex {
    fn new(word: &AtomicU64, remembers: bool) -> SharedIndex {
        SharedIndex {
            word: NonNull::from(word),
            remembers,
            seen: Cell::new(None),
            holds: Cell::new(false),
        }
    }

    #[inline]
    fn word(&self) -> &AtomicU64 {
        // SAFETY: see `unsafe impl Send`: the pointer comes from a reference into the
        // mapping, which outlives `self`; only atomic operations go through it.
        unsafe { self.word.as_ref() }
    }

    /// Forgets the remembered value of the peer's index: the next load reads shared
    /// memory. (A held-back value of one's own is kept: it is not in shared memory yet.)
    fn forget(&self) {
        if self.remembers {
            self.seen.set(None);
        }
    }

    /// From now on, keeps the stores of one's own index back, in this process.
    fn hold(&self) {
        self.holds.set(true);
    }

    /// Stops holding back, and stores the last value held back, if any, with `Release`:
    /// `true` if there was one.
    fn release(&self) -> bool {
        self.holds.set(false);
        match self.seen.take() {
            Some(value) => {
                self.word().store(value, Ordering::Release);
                true
            }
            None => false,
        }
    }
}

impl RingIndex for SharedIndex {
    /// The remembered value if there is one; otherwise a load from shared memory with
    /// `order` (remembered, if this is the peer's index).
    #[inline]
    fn load(&self, order: Ordering) -> u64 {
        if let Some(value) = self.seen.get() {
            return value;
        }
        let value = self.word().load(order);
        if self.remembers {
            self.seen.set(Some(value));
        }
        value
    }
    /// A store to shared memory with `order`, or, while stores are held back, kept here
    /// until [`release`](SharedIndex::release) stores it.
    #[inline]
    fn store(&self, value: u64, order: Ordering) {
        if self.holds.get() {
            self.seen.set(Some(value));
            return;
        }
        self.word().store(value, order)
    }
}

/// The ring in a segment: the [`RingMemory`] of every real run.
#[derive(Debug)]
pub struct SharedRing {
    segment: Segment,
    capacity: usize,
    head: SharedIndex,
    tail: SharedIndex,
}

impl SharedRing {
    fn new(segment: Segment, capacity: usize, role: Role) -> SharedRing {
        let header = header_of(&segment);
        // The sender remembers the receiver's `head`, the receiver the sender's `tail`.
        let head = SharedIndex::new(&header.head, role == Role::Sender);
        let tail = SharedIndex::new(&header.tail, role == Role::Receiver);
        SharedRing {
            segment,
            capacity,
            head,
            tail,
        }
    }

    /// Forgets the peer's index as last seen: the next attempt loads it from shared
    /// memory. The kit calls it after an attempt found the ring full (or empty) or failed;
    /// call it yourself after changing an index behind the ring's back (as a test that
    /// plays a corrupt peer does), or the change is seen only at the next such look.
    pub fn look_again(&self) {
        self.head.forget();
        self.tail.forget();
    }

    /// Whether the receiver's view holds more messages than it has taken: the sender's
    /// `tail` as last loaded is past the receiver's `head`.
    fn more_to_take(&self) -> bool {
        let head = self.head.word().load(Ordering::Relaxed); // the receiver's own index
        self.tail.seen.get().is_some_and(|tail| tail > head)
    }

    /// The header at the start of the segment.
    pub fn header(&self) -> &Header {
        header_of(&self.segment)
    }

    /// The segment the ring lives in.
    pub fn segment(&self) -> &Segment {
        &self.segment
    }

    #[inline]
    fn data(&self) -> *mut u8 {
        // SAFETY: the segment is HEADER_LEN + capacity bytes long (checked before this
        // `SharedRing` was built), so the data's start is inside the mapping.
        unsafe { self.segment.base_ptr().add(HEADER_LEN) }
    }
}

fn header_of(segment: &Segment) -> &Header {
    debug_assert!(segment.len() >= HEADER_LEN);
    // SAFETY: the segment is at least HEADER_LEN bytes (checked by the caller) and starts
    // on a page boundary, so a `Header` (align 8) fits at its start. Every field is an
    // atomic, so any bytes are a valid `Header`, and sharing it with other processes that
    // write it is what atomics allow. The pointer is the mapping's raw one, never taken
    // from a `&[u8]`, and the reference borrows the segment, which outlives it.
    unsafe { &*segment.base_ptr().cast::<Header>() }
}

impl RingMemory for SharedRing {
    type Index = SharedIndex;

    #[inline]
    fn name(&self) -> &str {
        self.segment.name()
    }
    #[inline]
    fn capacity(&self) -> usize {
        self.capacity
    }
    #[inline]
    fn head(&self) -> &SharedIndex {
        &self.head
    }
    #[inline]
    fn tail(&self) -> &SharedIndex {
        &self.tail
    }
    #[inline]
    unsafe fn write(&self, at: usize, bytes: &[u8]) {
        check_span(self.name(), self.capacity, at, bytes.len(), "write");
        // SAFETY: `at..at + len` is inside the data (checked above), and the caller
        // promises nobody touches those bytes meanwhile. A plain copy, not atomics: the
        // ordering of the indices is what keeps the two sides apart.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.data().add(at), bytes.len()) }
    }
    #[inline]
    unsafe fn read(&self, at: usize, out: &mut [u8]) {
        check_span(self.name(), self.capacity, at, out.len(), "read");
        // SAFETY: as for `write`: inside the data, and nobody writes those bytes meanwhile
        // (the caller's promise).
        unsafe { std::ptr::copy_nonoverlapping(self.data().add(at), out.as_mut_ptr(), out.len()) }
    }
}

/// Who holds a role's lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The one process that writes messages.
    Sender,
    /// The one process that reads them.
    Receiver,
}

impl Role {
    fn label(self) -> &'static str {
        match self {
            Role::Sender => "sender",
            Role::Receiver => "receiver",
        }
    }
    fn bit(self) -> u32 {
        match self {
            Role::Sender => 1,
            Role::Receiver => 2,
        }
    }
    fn other(self) -> Role {
        match self {
            Role::Sender => Role::Receiver,
            Role::Receiver => Role::Sender,
        }
    }
    /// The byte whose exclusive lock is this role: just past the kit's liveness byte.
    fn offset(self) -> i64 {
        crate::liveness::LIVENESS_OFFSET
            + match self {
                Role::Sender => 1,
                Role::Receiver => 2,
            }
    }
}

/// A role taken: the ring, and the file whose lock is the role (closed, and so released,
/// when this is dropped, or by the kernel when the process dies).
#[derive(Debug)]
struct Held {
    ring: SharedRing,
    role: Role,
    lock: File,
    code: RingCode,
    /// How this side's spins have gone lately (see [`Spinning`]).
    spinning: Cell<Spinning>,
    /// The receiver's: whether its last fresh look found more than one message, so the
    /// sender streams faster than it takes them (see "A receiver that keeps up").
    dense: Cell<bool>,
}

/// How long a side spins (each round an attempt with the peer's index loaded afresh)
/// before it sleeps: longer than an idle core takes to run a woken process, so that a
/// peer that has just been woken is still caught spinning.
const SPIN: Duration = Duration::from_micros(100);

/// After a spin in vain, how long waits sleep at once before spinning again: the first
/// time (see [`Spinning`]).
const PAUSE_FIRST: Duration = Duration::from_millis(1);

/// The longest such pause, after many spins in vain in a row.
const PAUSE_LONGEST: Duration = Duration::from_millis(64);

/// Whether a wait may spin, judged by how the last spins went: a spin that found what it
/// waited for says the peer is running and acting, and the next wait spins too; a spin in
/// vain (the peer not about to act: it waits itself, or has no core) makes the waits
/// sleep at once for a pause, which doubles with each spin in vain in a row, so a peer
/// that is slow for good costs one spin in many, and one that was only held up for a
/// moment (another process on its core) costs a millisecond of sleeping waits.
#[derive(Debug, Clone, Copy)]
struct Spinning {
    /// No spinning before this instant.
    not_before: Option<Instant>,
    /// The pause after the next spin in vain.
    pause: Duration,
}

impl Spinning {
    const FRESH: Spinning = Spinning {
        not_before: None,
        pause: PAUSE_FIRST,
    };

    fn may_spin(self, now: Instant) -> bool {
        self.not_before.is_none_or(|not_before| now >= not_before)
    }

    /// After a spin in vain that ended at `now`.
    fn in_vain(self, now: Instant) -> Spinning {
        Spinning {
            not_before: Some(now + self.pause),
            pause: (self.pause * 2).min(PAUSE_LONGEST),
        }
    }
}

/// How many spin-loop hints a receiver waits, when the sender streams, before it looks
/// again (see "A receiver that keeps up"): about 1.7 µs on the 2-core VM (13 ns a hint).
const GATHER: u32 = 128;

/// How many bytes of records `send_many` writes before it publishes them (at most a
/// quarter of the ring): enough that `tail` crosses between cores once per hundred-odd
/// small records, few enough that a receiver keeping up always has records to take.
/// Measured side by side with 64-byte messages, 512 B to 32 KiB made no clear difference
/// (77–105 µs a batch of 4096); publishing only at the end of the batch made the receiver
/// wait for all of it (149–196 µs).
const PUBLISH_EVERY: usize = 8 << 10;

/// The longest sleep between two looks at the peer's life (and at the timeout): a peer that
/// dies wakes nobody.
const NAP: Duration = Duration::from_millis(10);

/// The longest sleep where `membarrier` is not available, and so a wake-up can be lost.
const NAP_WITHOUT_BARRIER: Duration = Duration::from_millis(1);

/// Registers this process for `MEMBARRIER_CMD_GLOBAL_EXPEDITED` (once: the registration is
/// the process's): `false` where the kernel does not offer it.
fn barrier_registered() -> bool {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    *REGISTERED.get_or_init(|| {
        use rustix::thread::{MembarrierCommand, membarrier, membarrier_query};
        membarrier_query().contains_command(MembarrierCommand::GlobalExpedited)
            && membarrier(MembarrierCommand::RegisterGlobalExpedited).is_ok()
    })
}
/// The sleeper's half of the barrier pair: a full barrier on this CPU and on every CPU
/// that runs a thread of a registered process (the peer), or a fence here only.
fn barrier_everywhere(registered: bool) {
    use rustix::thread::{MembarrierCommand, membarrier};
    if !(registered && membarrier(MembarrierCommand::GlobalExpedited).is_ok()) {
        std::sync::atomic::fence(Ordering::SeqCst);
    }
}

impl Held {
    fn take(
        segment: Segment,
        capacity: usize,
        dir: &SegmentDir,
        role: Role,
        code: RingCode,
    ) -> Result<Held> {
        let name = segment.name().to_owned();
        let io = |source| Error::Io {
            name: name.clone(),
            source,
        };
        let lock = OpenOptions::new()
            .read(true)
            .write(true) // an exclusive (write) record lock needs a writable descriptor
            .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK).bits())
            .open(dir.join(&name))
            .map_err(|e| Error::io(dir.path(), &name, e))?;
        let (ours, mapped) = (
            lock.metadata().map_err(io)?,
            segment.file().metadata().map_err(io)?,
        );
        if (ours.dev(), ours.ino()) != (mapped.dev(), mapped.ino()) {
            // The name was removed and taken by another file since the segment was opened.
            return Err(Error::NotFound {
                name,
                dir: dir.path().to_owned(),
            });
        }
        if !ofd::try_lock(&lock, role.offset()).map_err(io)? {
            return Err(Error::RoleTaken {
                name,
                role: role.label(),
            });
        }
        header_of(&segment)
            .peers
            .fetch_or(role.bit(), Ordering::Relaxed);
        let ring = SharedRing::new(segment, capacity, role);
        // Registered before the peer can wait on us: its barrier must reach this process.
        barrier_registered();
        Ok(Held {
            ring,
            role,
            lock,
            code,
            spinning: Cell::new(Spinning::FRESH),
            dense: Cell::new(false),
        })
    }

    /// The word `role` sleeps on.
    #[inline]
    fn sleeps(&self, role: Role) -> &AtomicU32 {
        let header = self.ring.header();
        match role {
            Role::Sender => &header.sender_sleeps,
            Role::Receiver => &header.receiver_sleeps,
        }
    }

    /// After a message is put (or taken): wakes the peer if it sleeps, waiting for it.
    /// On the fast path one load of a line nobody writes while both sides run, and no
    /// fence: see the module's "Waiting" for why that is enough.
    #[inline]
    fn wake_peer(&self) {
        // The store that published the message (in `push` or `pop`) stays before this
        // load: no reordering by the compiler. The CPU may still let the load pass the
        // store; the sleeper's `membarrier` is what closes that gap.
        std::sync::atomic::compiler_fence(Ordering::SeqCst);
        let word = self.sleeps(self.role.other());
        if word.load(Ordering::Relaxed) != 0 {
            self.wake_sleeper(word);
        }
    }

    /// [`wake_peer`](Held::wake_peer)'s slow path: the peer sleeps (or is about to).
    #[cold]
    #[inline(never)]
    fn wake_sleeper(&self, word: &AtomicU32) {
        // Pairs with the sleeper's Release store of its word: `sender_wants`, stored
        // before it, is the one this sleep wants.
        std::sync::atomic::fence(Ordering::Acquire);
        let header = self.ring.header();
        if self.role == Role::Receiver
            && header.head.load(Ordering::Relaxed) < header.sender_wants.load(Ordering::Relaxed)
        {
            return; // not enough room yet: the next message taken looks again
        }
        wake(word);
    }

    /// `Ok(true)` if the other role was taken once and nobody holds it now.
    fn peer_gone(&self) -> Result<bool> {
        let peer = self.role.other();
        if self.ring.header().peers.load(Ordering::Relaxed) & peer.bit() == 0 {
            return Ok(false); // not there yet
        }
        let held = ofd::is_locked(&self.lock, peer.offset()).map_err(|source| Error::Io {
            name: self.ring.name().to_owned(),
            source,
        })?;
        Ok(!held)
    }

    /// One attempt: first with the peer's index as last seen, and if that finds no room
    /// (or no message) or fails, once more with the peer's index loaded afresh. So
    /// `Ok(false)` means what it says now, not what it said when the index was last
    /// loaded, and so does an error: indices that look corrupt beside an old index of the
    /// peer's (a push that overfilled by a few bytes, measured against a head the receiver
    /// has since moved) are judged again as they are now.
    fn attempt(&self, mut attempt: impl FnMut(&SharedRing) -> Result<bool>) -> Result<bool> {
        match attempt(&self.ring) {
            Ok(true) => return Ok(true),
            Ok(false) => {}
            Err(error) => drop(error), // judged again below, afresh
        }
        self.ring.look_again();
        let done = attempt(&self.ring);
        match done {
            Ok(true) => self.looked_afresh(false),
            Ok(false) => {}
            // What was remembered may be what was wrong: the next call looks afresh.
            Err(_) => self.ring.look_again(),
        }
        done
    }

    /// After an attempt that succeeded with the peer's index loaded afresh, the receiver
    /// notes whether that look found more messages than the one it took (the sender
    /// streams) and, after a wait, whether it found only that one (the sender does not,
    /// or no longer does). See "A receiver that keeps up".
    #[inline]
    fn looked_afresh(&self, waited: bool) {
        if self.role == Role::Receiver {
            let more = self.ring.more_to_take();
            if more || waited {
                self.dense.set(more);
            }
        }
    }

    /// Calls `attempt` until it succeeds, the peer is gone, or `timeout` has passed.
    /// `record`: the bytes the sender needs free (0 for the receiver).
    fn wait(
        &self,
        timeout: Duration,
        waiting: &'static str,
        gone: &'static str,
        record: u64,
        mut attempt: impl FnMut(&SharedRing) -> Result<bool>,
    ) -> Result<()> {
        // The first attempt usually succeeds: ask the clock only once it has not (a clock
        // read costs as much as a small message).
        if self.attempt(&mut attempt)? {
            return Ok(());
        }
        if self.dense.get() {
            // The sender streams: let a few messages gather before the next look, and take
            // them one after the other instead of meeting the sender at every one.
            for _ in 0..GATHER {
                std::hint::spin_loop();
            }
        }
        let start = Instant::now();
        let spinning = self.spinning.get();
        if spinning.may_spin(start) {
            for round in 1u32.. {
                std::hint::spin_loop();
                // Each look after a failed one loads the peer's index afresh.
                self.ring.look_again();
                if attempt(&self.ring)? {
                    self.looked_afresh(true);
                    self.spinning.set(Spinning::FRESH);
                    return Ok(());
                }
                if round % 16 == 0 && start.elapsed() >= SPIN {
                    break;
                }
            }
            // Spinning did not do it: the peer is not about to act.
            self.spinning.set(spinning.in_vain(Instant::now()));
        }
        let sleeps = self.sleeps(self.role);
        loop {
            // Say we are going to sleep, then a barrier on every CPU the peer may run on,
            // then one more look: either that look sees what the peer did, or the peer,
            // after doing it, sees our word set and wakes us (the module's "Waiting").
            if self.role == Role::Sender {
                let header = self.ring.header();
                let capacity = self.ring.capacity as u64;
                let tail = header.tail.load(Ordering::Relaxed);
                let wants = tail
                    .saturating_add(record.max(capacity / 2))
                    .saturating_sub(capacity);
                header.sender_wants.store(wants, Ordering::Relaxed);
            }
            sleeps.store(1, Ordering::Release);
            barrier_everywhere(barrier_registered());
            self.ring.look_again();
            let done = attempt(&self.ring);
            if !matches!(done, Ok(false)) {
                sleeps.store(0, Ordering::Relaxed);
                return done.map(|_| ());
            }
            let waited = start.elapsed();
            if waited >= timeout {
                sleeps.store(0, Ordering::Relaxed);
                return Err(Error::TimedOut {
                    name: self.ring.name().to_owned(),
                    what: waiting,
                    waited,
                });
            }
            // Without the barrier a wake-up can be lost: a sleep is cut short, bounding
            // what that costs.
            let nap = if barrier_registered() {
                NAP
            } else {
                NAP_WITHOUT_BARRIER
            };
            sleep_on(sleeps, nap.min(timeout - waited));
            // 0: the peer woke us. Still 1: the nap ended (or a signal came).
            let woken = sleeps.swap(0, Ordering::Relaxed) == 0;
            // Woken, the peer has acted: look before saying again that we sleep (and
            // paying for the barrier).
            self.ring.look_again();
            if attempt(&self.ring)? {
                return Ok(());
            }
            if !woken && self.peer_gone()? {
                // Nobody woke us for a whole nap: a peer that died wakes nobody. One last
                // look: it may have acted just before it went.
                self.ring.look_again();
                if attempt(&self.ring)? {
                    return Ok(());
                }
                return Err(Error::PeerGone {
                    name: self.ring.name().to_owned(),
                    peer: self.role.other().label(),
                    what: gone,
                });
            }
        }
    }
}

/// Wakes the side sleeping on `word`, if it still does (the word back to 0 first, so that
/// one wake-up is made per sleep, and a sleeper not yet in `FUTEX_WAIT` does not enter it).
#[cold]
#[inline(never)]
fn wake(word: &AtomicU32) {
    if word.swap(0, Ordering::Relaxed) != 0 {
        // Not FUTEX_PRIVATE_FLAG: the sleeper is another process, and only a shared futex
        // is found by the page it lies in rather than by this process's address.
        let _ = rustix::thread::futex::wake(word, rustix::thread::futex::Flags::empty(), 1);
    }
}

/// Sleeps while `word` is 1, at most `nap`: until a peer's [`wake`], the nap's end, or a
/// signal. A word already 0 (woken before the sleep began) returns at once.
fn sleep_on(word: &AtomicU32, nap: Duration) {
    let nap = rustix::thread::futex::Timespec {
        tv_sec: nap.as_secs() as _,
        tv_nsec: nap.subsec_nanos() as _,
    };
    // EAGAIN (the word changed), ETIMEDOUT and EINTR all mean: look again.
    let _ = rustix::thread::futex::wait(word, rustix::thread::futex::Flags::empty(), 1, Some(&nap));
}

/// The sending end of a ring. One per ring: the role is a lock the kernel holds for it.
#[derive(Debug)]
pub struct Sender(Held);

/// The receiving end of a ring. One per ring, like the sender.
#[derive(Debug)]
pub struct Receiver(Held);

/// Creates ring `name` in `dir` with `capacity` data bytes (through `create`, exercise
/// 01's), and takes its sender role.
pub fn create(
    dir: &SegmentDir,
    name: &str,
    capacity: usize,
    create: Create,
    code: RingCode,
) -> Result<Sender> {
    if !(MIN_CAPACITY..=MAX_CAPACITY).contains(&capacity) {
        return Err(Error::RingCapacity {
            name: name.to_owned(),
            capacity: capacity as u64,
            min: MIN_CAPACITY as u64,
            max: MAX_CAPACITY as u64,
        });
    }
    let len = HEADER_LEN + capacity; // at most 4 GiB + 387: no overflow
    let segment = create(dir, name, len)?;
    let header = header_of(&segment);
    header.version.store(VERSION, Ordering::Relaxed);
    header.capacity.store(capacity as u64, Ordering::Relaxed);
    // Release: whoever sees the magic number (with Acquire) sees the fields above too.
    header.magic.store(MAGIC, Ordering::Release);
    Held::take(segment, capacity, dir, Role::Sender, code).map(Sender)
}

/// Attaches to ring `name` in `dir` (through `attach`, exercise 02's) and takes its
/// receiver role. The header is checked first (`code.check_header`).
pub fn attach(dir: &SegmentDir, name: &str, attach: Attach, code: RingCode) -> Result<Receiver> {
    open_role(dir, name, attach, code, Role::Receiver).map(Receiver)
}

/// Attaches to ring `name` in `dir` as its sender: the way a new sender takes over a ring
/// whose first sender has gone. `RoleTaken` while that one lives.
///
/// The trap of a hand-over: between the first sender letting go and the new one taking
/// the role, the ring has no sender, and a receiver waiting in `recv` then sees the
/// sender *gone* (`PeerGone`) — it cannot tell a hand-over from a death. Hand a ring over
/// before a receiver waits on it, or let the process that creates it be its sender.
pub fn attach_sender(
    dir: &SegmentDir,
    name: &str,
    attach: Attach,
    code: RingCode,
) -> Result<Sender> {
    open_role(dir, name, attach, code, Role::Sender).map(Sender)
}

fn open_role(
    dir: &SegmentDir,
    name: &str,
    attach: Attach,
    code: RingCode,
    role: Role,
) -> Result<Held> {
    let segment = attach(dir, name)?;
    if segment.len() < HEADER_LEN {
        return Err(Error::TooSmall {
            name: name.to_owned(),
            needed: HEADER_LEN as u64,
            actual: segment.len() as u64,
        });
    }
    let capacity = (code.check_header)(header_of(&segment), name, segment.len() as u64)?;
    if capacity > MAX_CAPACITY {
        // Only a foreign segment gets here (`create` refuses such a capacity): a record
        // longer than its u32 length prefix could say would break the framing.
        return Err(Error::RingSize {
            name: name.to_owned(),
            capacity: capacity as u64,
            file: segment.len() as u64,
            min: MIN_CAPACITY as u64,
        });
    }
    Held::take(segment, capacity, dir, role, code)
}

impl Sender {
    /// Puts `message` into the ring if there is room now: `Ok(false)` if the ring is too
    /// full (try again later), `MessageTooLarge` if it never could be.
    pub fn try_send(&mut self, message: &[u8]) -> Result<bool> {
        let push = self.0.code.push;
        let sent = self.0.attempt(|ring| push(ring, message))?;
        if sent {
            self.0.wake_peer();
        }
        Ok(sent)
    }

    /// Puts `message` into the ring, waiting at most `timeout` for room. A receiver that
    /// has gone is `PeerGone`: nobody would ever make room.
    pub fn send(&mut self, message: &[u8], timeout: Duration) -> Result<()> {
        let push = self.0.code.push;
        self.0.wait(
            timeout,
            "the ring stayed full",
            "the ring is full and nobody will ever read it",
            (LEN_PREFIX + message.len()) as u64,
            |ring| (push)(ring, message),
        )?;
        self.0.wake_peer();
        Ok(())
    }

    /// Puts every message of `messages` into the ring, in order, waiting at most `timeout`
    /// for room for each, and publishes them together: one store of `tail` and one look at
    /// whether the receiver sleeps per 8 KiB of records (a quarter of the ring, if that is
    /// less) and at the end, where `send` makes one of each per message. Your `push` does
    /// not change: while this runs, the kit keeps `push`'s stores of `tail` in this
    /// process and stores the last one, with `Release`, once the records before it are
    /// written; that one store orders every record before it, as each `Release` store did
    /// for its own. The receiver sees a record only once it is published, so use it for
    /// messages that are ready together. When the ring is full, what is held is published
    /// first (so the receiver can make room), and the message waits as with `send`.
    pub fn send_many<'m>(
        &mut self,
        messages: impl IntoIterator<Item = &'m [u8]>,
        timeout: Duration,
    ) -> Result<()> {
        let push = self.0.code.push;
        // Publish now and then, not only at the end: a receiver that keeps up works on the
        // first records while the sender writes the next ones.
        let every = PUBLISH_EVERY.min(self.0.ring.capacity / 4);
        let mut held = 0;
        for message in messages {
            self.0.ring.tail.hold();
            match self.0.attempt(|ring| push(ring, message)) {
                Ok(true) => {
                    held += LEN_PREFIX + message.len();
                    if held >= every {
                        self.publish();
                        held = 0;
                    }
                    continue;
                }
                Ok(false) => {
                    held = 0;
                    self.publish();
                }
                Err(error) => {
                    self.publish();
                    return Err(error);
                }
            }
            self.send(message, timeout)?;
        }
        self.publish();
        Ok(())
    }

    /// Stores the `tail` held back, if any, and wakes the receiver if it sleeps.
    fn publish(&mut self) {
        if self.0.ring.tail.release() {
            self.0.wake_peer();
        }
    }

    /// The ring's memory.
    pub fn ring(&self) -> &SharedRing {
        &self.0.ring
    }
}

impl Receiver {
    /// Takes the oldest message into `out` (replacing what it held) if there is one:
    /// `Ok(false)` if the ring is empty now.
    pub fn try_recv(&mut self, out: &mut Vec<u8>) -> Result<bool> {
        let pop = self.0.code.pop;
        let taken = self.0.attempt(|ring| pop(ring, out))?;
        if taken {
            self.0.wake_peer();
        }
        Ok(taken)
    }

    /// Takes the oldest message into `out`, waiting at most `timeout` for one. A sender
    /// that has gone, with nothing left in the ring, is `PeerGone`: the end of the stream.
    pub fn recv(&mut self, out: &mut Vec<u8>, timeout: Duration) -> Result<()> {
        let pop = self.0.code.pop;
        self.0.wait(
            timeout,
            "the ring stayed empty",
            "every message it sent has been received",
            0,
            |ring| (pop)(ring, out),
        )?;
        self.0.wake_peer();
        Ok(())
    }

    /// The ring's memory.
    pub fn ring(&self) -> &SharedRing {
        &self.0.ring
    }
}

/// Open-file-description record locks on one byte.
mod ofd {
    use std::fs::File;
    use std::io;

    use nix::errno::Errno;
    use nix::fcntl::{FcntlArg, fcntl};
    use nix::libc;

    fn one_byte(at: i64, kind: libc::c_int) -> libc::flock {
        libc::flock {
            l_type: kind as libc::c_short,
            l_whence: libc::SEEK_SET as libc::c_short,
            l_start: at,
            l_len: 1,
            l_pid: 0, // required by the OFD commands: the owner is the description
        }
    }

    /// Takes the exclusive lock of byte `at`; `Ok(false)` if another description has it.
    pub fn try_lock(file: &File, at: i64) -> io::Result<bool> {
        match fcntl(file, FcntlArg::F_OFD_SETLK(&one_byte(at, libc::F_WRLCK))) {
            Ok(_) => Ok(true),
            Err(Errno::EAGAIN | Errno::EACCES) => Ok(false),
            Err(errno) => Err(errno.into()),
        }
    }

    /// Whether another description holds a lock on byte `at`.
    pub fn is_locked(file: &File, at: i64) -> io::Result<bool> {
        let mut probe = one_byte(at, libc::F_WRLCK);
        fcntl(file, FcntlArg::F_OFD_GETLK(&mut probe))?;
        Ok(probe.l_type != libc::F_UNLCK as libc::c_short)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A capacity no ring can have is a bad argument, named as such before anything is
    /// created: too small for one record, or too large for a record's `u32` length, or
    /// so large that header + capacity overflows.
    #[test]
    fn a_capacity_no_ring_can_have_is_refused_before_anything_is_created() {
        let never: Create = |_, _, _| panic!("create must not be called for a refused capacity");
        let code = RingCode {
            check_header: |_, _, _| unreachable!(),
            push: |_, _| unreachable!(),
            pop: |_, _| unreachable!(),
        };
        let dir = SegmentDir::at("/nonexistent");
        for capacity in [
            0,
            LEN_PREFIX,
            MAX_CAPACITY + 1,
            // The same bound as a number: a record of 2^32 bytes has no u32 length.
            LEN_PREFIX + (1 << 32),
            usize::MAX - HEADER_LEN,
            usize::MAX,
        ] {
            match create(&dir, "r", capacity, never, code) {
                Err(Error::RingCapacity {
                    capacity: c,
                    min,
                    max,
                    ..
                }) => assert_eq!(
                    (c, min, max),
                    (capacity as u64, MIN_CAPACITY as u64, MAX_CAPACITY as u64)
                ),
                other => panic!("capacity {capacity}: {other:?}"),
            }
        }
        let message = Error::RingCapacity {
            name: "r".into(),
            capacity: 0,
            min: MIN_CAPACITY as u64,
            max: MAX_CAPACITY as u64,
        }
        .to_string();
        assert!(
            !message.contains("damaged"),
            "a bad argument, not a damaged segment: {message}"
        );
    }

    /// A segment whose header claims a capacity above [`MAX_CAPACITY`] is refused when it
    /// is attached, even if its `check_header` let it through: only a foreign segment can
    /// say that (`create` refuses such a capacity), and its records could not be framed.
    #[test]
    fn an_attached_capacity_above_the_largest_is_refused() {
        let foreign: Attach = |_, _| {
            let fd = nix::sys::memfd::memfd_create(
                "shm-kata-ring-foreign",
                nix::sys::memfd::MFdFlags::MFD_CLOEXEC,
            )
            .expect("memfd_create");
            let file = File::from(fd);
            file.set_len(HEADER_LEN as u64 + 64).expect("set_len");
            // SAFETY: the memfd is this test's alone, and nobody resizes it.
            let map = unsafe { memmap2::MmapMut::map_mut(&file) }.expect("mmap");
            Segment::from_memfd(file, map)
        };
        let code = RingCode {
            check_header: |_, _, _| Ok(MAX_CAPACITY + 1),
            push: |_, _| unreachable!(),
            pop: |_, _| unreachable!(),
        };
        let dir = SegmentDir::at("/nonexistent");
        match open_role(&dir, "r", foreign, code, Role::Receiver) {
            Err(Error::RingSize { capacity, .. }) => {
                assert_eq!(capacity, MAX_CAPACITY as u64 + 1)
            }
            other => panic!("a capacity of MAX_CAPACITY + 1: {other:?}"),
        }
        // MAX_CAPACITY itself is a capacity a ring may have: it gets past this check (and
        // fails later, at the role lock, which has no directory here).
        let largest = RingCode {
            check_header: |_, _, _| Ok(MAX_CAPACITY),
            ..code
        };
        let result = open_role(&dir, "r", foreign, largest, Role::Receiver);
        assert!(
            !matches!(result, Err(Error::RingSize { .. })),
            "a capacity of MAX_CAPACITY: {result:?}"
        );
    }

    /// `check_span` lets every access inside the data through, up to its last byte, and
    /// stops the first one that runs a byte past it (which in a segment would be past the
    /// mapping), with the offsets in its message.
    #[test]
    fn check_span_stops_exactly_the_accesses_past_the_end() {
        for (at, len) in [(0, 0), (0, 16), (15, 1), (16, 0), (4, 12)] {
            check_span("r", 16, at, len, "read");
        }
        for (at, len) in [(0, 17), (16, 1), (17, 0), (12, 5), (usize::MAX, 2)] {
            let stopped = std::panic::catch_unwind(|| check_span("r", 16, at, len, "write"));
            let message = stopped
                .err()
                .and_then(|panic| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            assert!(
                message.contains(&format!("a write of {len} bytes at offset {at}")),
                "a write of {len} bytes at offset {at} of 16 must be stopped, said {message:?}"
            );
        }
    }
}
