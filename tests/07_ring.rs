//! Exercise 07 · ring. Open `exercises/07_ring.rs`; hint: `cargo run -- hint 7`.
//! (These tests use your `create` and `attach` from 01–02.)
//!
//! Two kinds of test: real processes sending through a ring in a segment (contents,
//! wrap-around, full, empty, dead peers), and the memory ordering of your `push` and `pop`
//! model-checked with loom, over a model of the ring's memory in this process.
//!
//! In the order you meet them: the header (`check_header`), then `push` and `pop` in this
//! process alone, then under loom, and last with other processes.

// The exercises these tests use: yours, or the answers with `--features solutions`.
shm_kata::exercises!(create, attach, ring);

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::ring::{HEADER_LEN, LEN_PREFIX, Receiver, RingIndex, RingMemory, Sender, pop, push};
use common::{
    Scratch, one_at_a_time, process_cases, start_until_ready, use_this_builds_worker, within,
};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use shm_kata::job::{Job, RingPlan, Then, first_difference, ring_message};
use shm_kata::ring_kit::check_span;
use shm_kata::{Error, SegmentDir};

/// How long a test lets a blocking call or a worker take before it calls it a hang.
const LIMIT: Duration = Duration::from_secs(30);

/// The wrap-around, for the messages that catch a mistake in it.
const WRAP: &str = "where a record reaches the end of the data, the rest continues at offset \
     0: offset = position % capacity (a mask works only for powers of two), and each piece \
     of the record, its 4-byte length too, is copied in two parts, the first up to the end";

/// What the shared indices say, for a message about a record that went wrong: a tail
/// behind the head means positions were reduced modulo the capacity somewhere.
fn indices_advice(sender: &Sender) -> String {
    let header = sender.ring().header();
    let (head, tail) = (
        header.head.load(Ordering::Relaxed),
        header.tail.load(Ordering::Relaxed),
    );
    if tail >= head {
        return String::new();
    }
    format!(
        " (and look at the indices: head {head}, tail {tail}, the tail behind the head. head \
         and tail are positions that only grow: store tail + record and head + record as they \
         are, never reduced % capacity, which is only how a position finds its offset)"
    )
}

/// How long a process test waits for one message, or for room for one. A healthy ring
/// takes microseconds; a ring that never delivers fails in seconds, and, once one case of
/// a property has waited this long, the property's later cases (proptest's shrinking) fail
/// at once instead of waiting again.
const PATIENCE: Duration = Duration::from_secs(5);

/// The first wait in vain of this test program: the test it was in (libtest names each
/// test's thread after it) and its error. Kept here, because proptest reports only the
/// last, smallest failing case, which is one of those not run.
static WAITED: std::sync::Mutex<Option<(String, String)>> = std::sync::Mutex::new(None);

/// Fails a case at once if an earlier one already waited [`PATIENCE`] in vain, saying
/// which and why.
fn not_after_a_wait() -> Result<(), TestCaseError> {
    let waited = WAITED.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if let Some((test, error)) = waited {
        let who = if std::thread::current().name() == Some(test.as_str()) {
            "an earlier case of this test".to_owned()
        } else {
            format!("a case of {test}")
        };
        prop_assert!(
            false,
            "{who} waited {PATIENCE:?} for a message, or for room, that never came ({error}); \
             this case is not run, to report in seconds, not minutes"
        );
    }
    Ok(())
}

/// Notes a `TimedOut` for [`not_after_a_wait`].
fn note_a_wait<T>(result: &Result<T, Error>) {
    if let Err(error @ Error::TimedOut { .. }) = result {
        let mut waited = WAITED.lock().unwrap_or_else(|e| e.into_inner());
        if waited.is_none() {
            let test = std::thread::current().name().unwrap_or("a test").to_owned();
            *waited = Some((test, error.to_string()));
        }
    }
}

/// The header's fields, as byte offsets (see `src/ring_kit.rs`).
const VERSION_AT: usize = 8;
const CAPACITY_AT: usize = 16;
const HEAD_AT: usize = 128;
const TAIL_AT: usize = 256;

fn new_ring(dir: &SegmentDir, name: &str, capacity: usize) -> (Sender, Receiver) {
    let sender = ring::create(dir, name, capacity).expect("ring::create should succeed");
    let receiver = ring::attach(dir, name).expect("ring::attach of a fresh ring should succeed");
    (sender, receiver)
}

/// Overwrites bytes of a ring's segment from outside, as a buggy or hostile peer would.
fn poke(dir: &SegmentDir, name: &str, at: usize, bytes: &[u8]) {
    let segment = crate::attach::attach(dir, name).expect("attach (exercise 02)");
    segment.write_bytes(at, bytes).expect("inside the segment");
}

/// `recv` that must return within [`LIMIT`], however it is written.
fn recv_bounded(mut receiver: Receiver, timeout: Duration) -> (Receiver, Result<Vec<u8>, Error>) {
    within(LIMIT, "Receiver::recv", move || {
        let mut out = Vec::new();
        let result = receiver.recv(&mut out, timeout).map(|()| out);
        (receiver, result)
    })
}

/// Waits (at most [`LIMIT`]) until `done()`.
fn wait_until(done: impl Fn() -> bool, what: &str) {
    let deadline = Instant::now() + LIMIT;
    while !done() {
        assert!(Instant::now() < deadline, "waited {LIMIT:?} for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The text of a caught panic.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// Greatest common divisor.
fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Lengths of messages for a ring of `capacity` bytes, each one that fits.
fn lens_for(capacity: usize, count: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0..=capacity - LEN_PREFIX, 1..=count)
}

fn ring_and_lens() -> impl Strategy<Value = (usize, Vec<usize>, u64)> {
    (5usize..300).prop_flat_map(|capacity| (Just(capacity), lens_for(capacity, 60), any::<u64>()))
}

/// A segment that does not start with the ring's magic number is refused.
#[test]
fn attaching_to_something_that_is_not_a_ring_is_an_error() {
    let scratch = Scratch::new();
    let segment = crate::create::create(&scratch.dir, "plain", 4096).expect("create (01)");
    segment.write_bytes(0, b"PNG\r\n\x1a\n.").unwrap();
    let result = ring::attach(&scratch.dir, "plain");
    assert!(
        matches!(&result, Err(Error::NotARing { name, .. }) if name == "plain"),
        "a segment whose first 8 bytes are not MAGIC is Error::NotARing {{ name: \"plain\" \
         (name.to_owned()), .. }}, got {result:?}"
    );
    drop(segment);
    scratch.remove("plain");
    scratch.finish();
}

/// A ring whose header has another layout version is refused.
#[test]
fn a_ring_of_another_version_is_an_error() {
    let scratch = Scratch::new();
    drop(ring::create(&scratch.dir, "old", 64).expect("ring::create"));
    poke(&scratch.dir, "old", VERSION_AT, &2u32.to_le_bytes());
    let result = ring::attach(&scratch.dir, "old");
    assert!(
        matches!(
            &result,
            Err(Error::RingVersion {
                found: 2,
                expected: 1,
                name,
            }) if name == "old"
        ),
        "a ring of version 2 must be Error::RingVersion {{ name: \"old\", found: 2, expected: \
         1 }} (name: name.to_owned()), got {result:?}"
    );
    scratch.remove("old");
    scratch.finish();
}

/// A header whose capacity does not match the file (or cannot be one) is refused, also
/// when header + capacity overflows.
#[test]
fn a_ring_whose_size_does_not_match_its_header_is_an_error() {
    let scratch = Scratch::new();
    drop(ring::create(&scratch.dir, "size", 64).expect("ring::create"));
    for capacity in [65u64, 63, 0, 4, u64::MAX, u64::MAX - HEADER_LEN as u64 + 1] {
        poke(&scratch.dir, "size", CAPACITY_AT, &capacity.to_le_bytes());
        let dir = scratch.dir.clone();
        let result = std::panic::catch_unwind(move || ring::attach(&dir, "size"));
        match result {
            Ok(Err(Error::RingSize {
                capacity: c,
                file,
                name,
                ..
            })) => {
                assert_eq!((c, file), (capacity, (HEADER_LEN + 64) as u64));
                assert_eq!(name, "size", "the error names the ring: name.to_owned()");
            }
            Ok(other) => panic!(
                "a header that says {capacity} data bytes, in a file of {} bytes, must be \
                 Error::RingSize, got {other:?}",
                HEADER_LEN + 64
            ),
            Err(panic) => panic!(
                "attach panicked on a header capacity of {capacity} ({:?}): HEADER_LEN + \
                 capacity can overflow, so add with checked_add and treat None as a mismatch",
                panic_message(&*panic)
            ),
        }
    }
    scratch.remove("size");
    scratch.finish();
}

/// A ring too small for one record (a one-byte message and its length) is refused, even
/// when its header and its file agree.
#[test]
fn a_ring_too_small_for_one_record_is_an_error() {
    let scratch = Scratch::new();
    for capacity in [0, LEN_PREFIX] {
        let name = format!("tiny{capacity}");
        let segment =
            crate::create::create(&scratch.dir, &name, HEADER_LEN + capacity).expect("create (01)");
        // The header as `create` writes it, but for a capacity `create` refuses.
        segment
            .write_bytes(CAPACITY_AT, &(capacity as u64).to_le_bytes())
            .unwrap();
        segment
            .write_bytes(VERSION_AT, &ring::VERSION.to_le_bytes())
            .unwrap();
        segment.write_bytes(0, &ring::MAGIC.to_le_bytes()).unwrap();
        let dir = scratch.dir.clone();
        let attach_name = name.clone();
        let result = std::panic::catch_unwind(move || ring::attach(&dir, &attach_name));
        match result {
            Ok(Err(Error::RingSize {
                capacity: c,
                file,
                min,
                ..
            })) => {
                assert_eq!(
                    (c, file, min),
                    (
                        capacity as u64,
                        (HEADER_LEN + capacity) as u64,
                        ring::MIN_CAPACITY as u64
                    )
                );
            }
            Ok(other) => panic!(
                "a header that says {capacity} data bytes, in a file of exactly HEADER_LEN + \
                 {capacity} bytes, must be Error::RingSize all the same: below MIN_CAPACITY \
                 ({}) not even a one-byte message fits, got {other:?}",
                ring::MIN_CAPACITY
            ),
            Err(panic) => panic!(
                "attach panicked on a ring of {capacity} data bytes ({:?}): a capacity below \
                 MIN_CAPACITY ({}) is Error::RingSize, checked before anything uses it",
                panic_message(&*panic),
                ring::MIN_CAPACITY
            ),
        }
        drop(segment);
        scratch.remove(&name);
    }
    scratch.finish();
}

/// A record's first 4 bytes are its message's length as a little-endian `u32`: the layout
/// is a contract with the other process, which may be built from other code, or for
/// another CPU.
#[test]
fn a_record_starts_with_its_length_as_a_little_endian_u32() {
    let scratch = Scratch::new();
    let (mut sender, receiver) = new_ring(&scratch.dir, "layout", 300);
    // 258 = 0x0102: little-endian [2, 1, 0, 0], big-endian [0, 0, 1, 2].
    let message = ring_message(5, 0, 258);
    let sent = sender.try_send(&message);
    assert!(
        matches!(sent, Ok(true)),
        "a 258-byte message fits an empty ring of 300 bytes, but try_send (your push) said {sent:?}"
    );
    let segment = crate::attach::attach(&scratch.dir, "layout").expect("attach (exercise 02)");
    let bytes = segment.read_bytes();
    let data = &bytes[HEADER_LEN..];
    let found = &data[..LEN_PREFIX];
    let why = if found == 258u32.to_be_bytes() {
        "that is 258 big-endian: the receiver may be another program, and it reads the length \
         as the layout says, a little-endian u32 (to_le_bytes)"
    } else {
        "not 258 in either byte order, so look at *where* the bytes go: the record at position \
         0 starts at offset 0 (offset = position % capacity; a mask, position & (capacity - 1), \
         works only for powers of two and 300 is not one), and the message's bytes follow the \
         length, never on top of it"
    };
    assert_eq!(
        found,
        258u32.to_le_bytes(),
        "the first record's length, at offset 0 of the data, must be (len as u32).to_le_bytes() \
         ([2, 1, 0, 0] for 258 bytes), found {found:?}: {why}"
    );
    assert!(
        data[LEN_PREFIX..LEN_PREFIX + message.len()] == message[..],
        "the message's bytes must follow its 4-byte length at once: {}",
        first_difference(&data[LEN_PREFIX..LEN_PREFIX + message.len()], &message)
    );
    drop((segment, sender, receiver));
    scratch.remove("layout");
    scratch.finish();
}

/// An empty ring has nothing to receive, before any message and after the last one.
#[test]
fn an_empty_ring_has_nothing_to_receive() {
    let scratch = Scratch::new();
    let (mut sender, mut receiver) = new_ring(&scratch.dir, "empty", 32);
    let mut got = vec![1, 2, 3];
    let first = receiver.try_recv(&mut got);
    assert!(
        matches!(first, Ok(false)),
        "a fresh ring (head == tail) is empty: try_recv (your pop) must say Ok(false), said {first:?}"
    );
    let sent = sender.try_send(b"");
    assert!(
        matches!(sent, Ok(true)),
        "an empty message (a record of 4 bytes: its length, 0) fits an empty ring of 32 \
         bytes, but try_send (your push) said {sent:?}"
    );
    let received = receiver.try_recv(&mut got);
    assert!(
        matches!(received, Ok(true)) && got.is_empty(),
        "an empty message is a message: try_recv (your pop) must say Ok(true), and `out` emptied (said \
         {received:?}, got {got:?})"
    );
    let last = receiver.try_recv(&mut got);
    assert!(
        matches!(last, Ok(false)),
        "after the only message was read the ring is empty again, but try_recv (your pop) said {last:?} \
         (pop must move head past the whole record: its 4-byte length and its bytes)"
    );
    drop((sender, receiver));
    scratch.remove("empty");
    scratch.finish();
}

/// A full ring that the receiver has emptied a little takes the next message: `try_send`
/// answers for now, not for when the sender last looked at `head` (the kit remembers the
/// peer's index, and must look again before it says "full").
#[test]
fn a_sender_sees_room_freed_since_it_last_looked() {
    let scratch = Scratch::new();
    let (mut sender, mut receiver) = new_ring(&scratch.dir, "room", 32);
    let message = [9u8; 10]; // a record of 14 bytes: two fit in 32, a third does not
    for index in 0..2 {
        let sent = sender.try_send(&message);
        assert!(
            matches!(sent, Ok(true)),
            "record {index} (14 of 32 bytes) must fit, but try_send (your push) said {sent:?}"
        );
    }
    let full = sender.try_send(&message);
    assert!(
        matches!(full, Ok(false)),
        "with 28 of 32 bytes in use a 14-byte record does not fit: Ok(false), said {full:?}"
    );
    let mut got = Vec::new();
    let received = receiver.try_recv(&mut got);
    assert!(
        matches!(received, Ok(true)) && got == message,
        "the first of two 10-byte messages must come back, but try_recv (your pop) said {received:?} \
         with {got:?}"
    );
    let again = sender.try_send(&message);
    assert!(
        matches!(again, Ok(true)),
        "the receiver freed 14 bytes, so the record fits now, but try_send (your push) said {again:?}: \
         load head again on every attempt (the receiver moves it)"
    );
    drop((sender, receiver));
    scratch.remove("room");
    scratch.finish();
}

/// `try_send` calls the ring corrupt only as it is now: the sender remembers the head it
/// last loaded, and indices that are too far apart beside that old head may be fine beside
/// the receiver's current one. (A push that lets a record overfill by its 4-byte length
/// leaves exactly that; the answer must be "does not fit", not a corrupt ring.)
#[test]
fn a_sender_looks_again_before_it_calls_the_ring_corrupt() {
    let scratch = Scratch::new();
    let (mut sender, mut receiver) = new_ring(&scratch.dir, "again", 32);
    let message = [7u8; 10]; // a record of 14 bytes
    let sent = sender.try_send(&message);
    assert!(
        matches!(sent, Ok(true)),
        "a 14-byte record into an empty ring of 32 bytes must fit, but try_send (your push) said {sent:?}"
    );
    let mut got = Vec::new();
    let received = receiver.try_recv(&mut got);
    assert!(
        matches!(received, Ok(true)) && got == message,
        "the message sent must come back, but try_recv (your pop) said {received:?} with {got:?}"
    );
    // Head is 14 now; the sender remembers 0. A tail of 40 is 26 bytes past the head, and
    // 40 past the remembered one: more than the capacity.
    poke(&scratch.dir, "again", TAIL_AT, &40u64.to_le_bytes());
    let again = sender.try_send(&[1]);
    assert!(
        matches!(again, Ok(true)),
        "with head 14 and tail 40, 26 of 32 bytes are in use and a 5-byte record fits, but \
         try_send (your push) said {again:?}. Either push misreads the indices (the bytes in use are \
         tail - head, of the positions as they are, never reduced % capacity), or the kit \
         did not look at head again before it reported an error"
    );
    drop((sender, receiver));
    scratch.remove("again");
    scratch.finish();
}

/// A message larger than the ring can ever hold is an error, and the ring is unchanged.
#[test]
fn a_message_too_large_is_an_error_and_leaves_the_ring_unchanged() {
    let scratch = Scratch::new();
    let (mut sender, mut receiver) = new_ring(&scratch.dir, "large", 16);
    for len in [13, 16, 17, 1 << 20] {
        let result = sender.try_send(&vec![9; len]);
        assert!(
            matches!(&result, Err(Error::MessageTooLarge { len: l, max: 12, .. }) if *l == len),
            "a {len}-byte message can never fit a 16-byte ring (12 bytes of message at most, \
             after its 4-byte length): Error::MessageTooLarge {{ len: {len}, max: 12 }}, \
             not {result:?} (Ok(false) would make a blocking send wait forever)"
        );
    }
    let named = sender.try_send(&[9; 13]);
    assert!(
        matches!(&named, Err(Error::MessageTooLarge { name, .. }) if name.contains("large")),
        "the error must name the ring it happened to (name: ring.name().to_owned()), got \
         {named:?}"
    );
    let tail = sender.ring().header().tail.load(Ordering::Relaxed);
    assert_eq!(tail, 0, "a refused message must not move the tail");
    let mut got = Vec::new();
    let received = receiver.try_recv(&mut got);
    assert!(
        matches!(received, Ok(false)),
        "nothing was sent, yet try_recv (your pop) said {received:?} (with {got:?}): a refused message \
         must leave the ring as it was"
    );
    let sent = sender.try_send(b"ok");
    assert!(
        matches!(sent, Ok(true)),
        "after the refusals a 2-byte message must fit the empty ring, but try_send (your push) said {sent:?}"
    );
    let received = receiver.try_recv(&mut got);
    assert!(
        matches!(received, Ok(true)) && got == b"ok",
        "the 2-byte message sent after the refusals must come back, but try_recv (your pop) said \
         {received:?} with {got:?}"
    );
    drop((sender, receiver));
    scratch.remove("large");
    scratch.finish();
}

/// The largest message, `capacity - 4` bytes, fits an empty ring exactly.
#[test]
fn the_largest_message_fills_an_empty_ring_exactly() {
    let scratch = Scratch::new();
    for capacity in [5, 8, 13, 64] {
        let name = format!("exact{capacity}");
        let (mut sender, mut receiver) = new_ring(&scratch.dir, &name, capacity);
        let message = ring_message(7, 0, capacity - LEN_PREFIX);
        let sent = sender.try_send(&message);
        assert!(
            matches!(sent, Ok(true)),
            "a {}-byte message with its 4-byte length is exactly {capacity} bytes: it fits an \
             empty ring of {capacity}, but try_send (your push) said {sent:?} (full means free < record, \
             not free <= record)",
            capacity - LEN_PREFIX
        );
        let full = sender.try_send(&[]);
        assert!(
            matches!(full, Ok(false)),
            "now the ring is full: even an empty message (4 bytes of length) must wait, \
             Ok(false), but try_send (your push) said {full:?}"
        );
        let mut got = Vec::new();
        let received = receiver.try_recv(&mut got);
        assert!(
            matches!(received, Ok(true)),
            "the {}-byte message that filled a ring of {capacity} must come back, but try_recv \
             said {received:?}",
            capacity - LEN_PREFIX
        );
        assert_eq!(got, message, "the message must come back whole");
        drop((sender, receiver));
        scratch.remove(&name);
    }
    scratch.finish();
}

proptest! {
    #![proptest_config(common::cases(64))]

    /// With records whose length and the capacity share no factor, `capacity + 1`
    /// messages start at every offset of the data, so the wrap point falls at every byte
    /// of a record, its length included.
    #[test]
    fn a_message_can_wrap_at_every_position(
        capacity in 5usize..64,
        pick in any::<prop::sample::Index>(),
        seed in any::<u64>(),
    ) {
        let coprime: Vec<usize> = (0..=capacity - LEN_PREFIX)
            .filter(|len| gcd(len + LEN_PREFIX, capacity) == 1)
            .collect();
        prop_assume!(!coprime.is_empty());
        let len = coprime[pick.index(coprime.len())];
        let scratch = Scratch::new();
        let (mut sender, mut receiver) = new_ring(&scratch.dir, "wrap", capacity);
        let mut got = Vec::new();
        for index in 0..=capacity {
            let at = index * (len + LEN_PREFIX) % capacity;
            let message = ring_message(seed, index, len);
            let sent = sender.try_send(&message);
            prop_assert!(matches!(sent, Ok(true)),
                "a {}-byte record into an empty ring of {capacity} bytes must fit (it starts at \
                 offset {at}), but try_send (your push) said {sent:?}", len + LEN_PREFIX);
            let received = receiver.try_recv(&mut got);
            prop_assert!(matches!(received, Ok(true)),
                "the {}-byte record just sent at offset {at} of a {capacity}-byte ring must be \
                 there to receive, but try_recv (your pop) said {received:?}: {WRAP}{}", len + LEN_PREFIX,
                indices_advice(&sender));
            prop_assert!(got == message,
                "a {len}-byte message starting at offset {at} of a {capacity}-byte ring came \
                 back {}: {WRAP}", first_difference(&got, &message));
        }
        drop((sender, receiver));
        scratch.remove("wrap");
        scratch.finish();
    }

    /// `try_send` refuses a record exactly when it does not fit in the free bytes, and
    /// never overwrites what the receiver has not read.
    #[test]
    fn a_full_ring_refuses_and_keeps_every_unread_message(
        (capacity, lens, seed) in ring_and_lens(), skip in 0usize..50
    ) {
        let scratch = Scratch::new();
        let (mut sender, mut receiver) = new_ring(&scratch.dir, "full", capacity);
        let mut got = Vec::new();
        // Move head and tail away from 0 first, so the full ring also wraps.
        for index in 0..skip % capacity {
            let sent = sender.try_send(&[index as u8]);
            prop_assert!(matches!(sent, Ok(true)), "a one-byte message into an empty ring of \
                {capacity} bytes must fit, but try_send (your push) said {sent:?}");
            let received = receiver.try_recv(&mut got);
            prop_assert!(matches!(received, Ok(true)) && got == [index as u8],
                "the one-byte message sent at position {} must come back, but try_recv (your pop) said \
                 {received:?} with {got:?}: {WRAP}{}", index * 5, indices_advice(&sender));
        }
        let mut used = 0;
        let mut accepted = Vec::new();
        for (index, &len) in lens.iter().enumerate() {
            let message = ring_message(seed, index, len);
            let fits = used + LEN_PREFIX + len <= capacity;
            let sent = sender.try_send(&message);
            prop_assert_eq!(sent.as_ref().ok(), Some(&fits),
                "with {} of {} bytes in use, a {}-byte record {}; try_send (your push) said {:?}",
                used, capacity, len + LEN_PREFIX,
                if fits {
                    "fits (free bytes: capacity - (tail - head))"
                } else {
                    "does not fit: Ok(false)"
                },
                sent);
            if !fits {
                break;
            }
            used += LEN_PREFIX + len;
            accepted.push(message);
        }
        for (index, message) in accepted.iter().enumerate() {
            let received = receiver.try_recv(&mut got);
            prop_assert!(matches!(received, Ok(true)),
                "message {index} of the {} accepted must still be there, but try_recv (your pop) said \
                 {received:?}: was it overwritten before it was read?", accepted.len());
            prop_assert!(&got == message,
                "message {index} was overwritten before it was read ({}): the free bytes are \
                 capacity - (tail - head), length prefix included",
                first_difference(&got, message));
        }
        prop_assert_eq!(receiver.try_recv(&mut got).ok(), Some(false),
            "after every message was read, the ring is empty");
        drop((sender, receiver));
        scratch.remove("full");
        scratch.finish();
    }
}

/// The ring's memory as plain atomics in this process, its indices starting wherever a
/// test puts them (a real ring takes 4 GiB of traffic to get there).
mod plain {
    use super::*;
    use std::sync::atomic::{AtomicU8, AtomicU64};

    pub struct Ring {
        pub head: AtomicU64,
        pub tail: AtomicU64,
        data: Vec<AtomicU8>,
    }

    impl Ring {
        /// An empty ring of `capacity` bytes whose head and tail are both `position`.
        pub fn at(capacity: usize, position: u64) -> Ring {
            Ring {
                head: AtomicU64::new(position),
                tail: AtomicU64::new(position),
                data: (0..capacity).map(|_| AtomicU8::new(0)).collect(),
            }
        }

        /// The data byte at `offset`.
        pub fn byte(&self, offset: usize) -> u8 {
            self.data[offset].load(Ordering::Relaxed)
        }
    }

    impl RingMemory for Ring {
        type Index = AtomicU64;
        fn name(&self) -> &str {
            "plain"
        }
        fn capacity(&self) -> usize {
            self.data.len()
        }
        fn head(&self) -> &AtomicU64 {
            &self.head
        }
        fn tail(&self) -> &AtomicU64 {
            &self.tail
        }
        unsafe fn write(&self, at: usize, bytes: &[u8]) {
            check_span("plain", self.data.len(), at, bytes.len(), "write");
            for (cell, &byte) in self.data[at..].iter().zip(bytes) {
                cell.store(byte, Ordering::Relaxed);
            }
        }
        unsafe fn read(&self, at: usize, out: &mut [u8]) {
            check_span("plain", self.data.len(), at, out.len(), "read");
            for (cell, byte) in self.data[at..].iter().zip(out) {
                *byte = cell.load(Ordering::Relaxed);
            }
        }
    }
}

/// For the messages about positions past 2^32.
const PAST_4_GIB: &str = "head and tail are u64 byte positions that only grow: a ring \
     that has carried 4 GiB is past 2^32, and every position, every difference and every \
     offset (position % capacity, as u64) must stay u64 there. Narrowed to 32 bits anywhere \
     (`as u32`), a position wraps at 2^32; stored reduced % capacity, it is no position at \
     all (store tail + record and head + 4 + len as they are). If other tests fail too, fix \
     those first: this one only repeats them at larger positions";

proptest! {
    #![proptest_config(common::cases(64))]

    /// Positions past 2^32 (after 4 GiB of traffic) work like any other: each record lies
    /// at offset `position % capacity` of the data, where another program looks for it,
    /// and `head` and `tail` grow by each record's length.
    #[test]
    fn positions_past_4_gib_work_like_any_other(
        (capacity, lens, seed) in ring_and_lens(), before in 0u64..600
    ) {
        let start = (1u64 << 32) - before;
        let ring = plain::Ring::at(capacity, start);
        let mut position = start;
        let mut got = Vec::new();
        let end = (1 << 32) + 2 * capacity as u64;
        for (index, &len) in lens.iter().cycle().enumerate() {
            if position >= end {
                break;
            }
            let message = ring_message(seed, index, len);
            let pushed = push(&ring, &message);
            prop_assert!(matches!(pushed, Ok(true)),
                "a {}-byte record into an empty ring of {capacity} bytes at position {position} \
                 must fit, but push said {pushed:?}: {PAST_4_GIB}", len + LEN_PREFIX);
            let at = (position % capacity as u64) as usize;
            let prefix: Vec<u8> = (0..LEN_PREFIX).map(|i| ring.byte((at + i) % capacity)).collect();
            prop_assert_eq!(&prefix[..], &(len as u32).to_le_bytes()[..],
                "the record pushed at position {} must start at offset {} (position % capacity) \
                 with its length: {}", position, at, PAST_4_GIB);
            let popped = pop(&ring, &mut got);
            prop_assert!(matches!(popped, Ok(true)) && got == message,
                "the {len}-byte message pushed at position {position} must come back, but pop \
                 said {popped:?} ({}): {PAST_4_GIB}", first_difference(&got, &message));
            position += (LEN_PREFIX + len) as u64;
            let indices = (ring.head.load(Ordering::Relaxed), ring.tail.load(Ordering::Relaxed));
            prop_assert_eq!(indices, (position, position),
                "after a record of {} bytes from position {}, head and tail must both be {}: {}",
                LEN_PREFIX + len, position - (LEN_PREFIX + len) as u64, position, PAST_4_GIB);
        }
    }
}

/// A tail scribbled near 2^64 (where real positions never get: 55 years of traffic) is
/// corrupt, never a panic: `tail + record` would overflow.
#[test]
fn a_tail_near_2_to_the_64_is_corrupt_not_an_overflow() {
    for before in [0u64, 1, 4, 11] {
        let start = u64::MAX - before;
        let ring = plain::Ring::at(64, start);
        let pushed =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| push(&ring, b"12345678")));
        match pushed {
            Ok(Err(Error::RingCorrupt { .. })) => {}
            Ok(other) => panic!(
                "a push of a 12-byte record at position {start} (2^64 - 1 - {before}) must be \
                 Error::RingCorrupt (tail + record overflows), but your push said {other:?}"
            ),
            Err(panic) => panic!(
                "your push panicked at position {start} (2^64 - 1 - {before}): {:?}. tail + record \
                 overflows there: check it with checked_add and return Error::RingCorrupt",
                panic_message(&*panic)
            ),
        }
    }
}

/// Garbage in the shared indices or in a record's length is an error, never a panic or
/// a read outside the ring: shared memory is written by a peer you do not control.
#[test]
fn a_corrupt_index_or_length_is_an_error_not_a_panic() {
    let scratch = Scratch::new();
    let (mut sender, mut receiver) = new_ring(&scratch.dir, "bad", 32);
    let cases: [(&str, usize, u64); 4] = [
        ("a tail more than capacity bytes past the head", TAIL_AT, 33),
        ("a tail behind the head", HEAD_AT, 20),
        ("a record longer than what was published", TAIL_AT, 6),
        (
            "fewer than 4 bytes published, not even a length,",
            TAIL_AT,
            2,
        ),
    ];
    for (what, at, value) in cases {
        poke(&scratch.dir, "bad", HEAD_AT, &0u64.to_le_bytes());
        poke(&scratch.dir, "bad", TAIL_AT, &0u64.to_le_bytes());
        sender
            .try_send(b"0123456789")
            .expect("a message into an empty ring");
        poke(&scratch.dir, "bad", at, &value.to_le_bytes());
        // Each side remembers the peer's index it last loaded; after a change behind their
        // backs, both must look again.
        sender.ring().look_again();
        receiver.ring().look_again();
        let mut out = Vec::new();
        let popped =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| receiver.try_recv(&mut out)));
        match popped {
            Ok(Err(Error::RingCorrupt { name, reason })) => {
                assert!(
                    name.contains("bad") && reason.contains(|c: char| c.is_ascii_digit()),
                    "{what}: Error::RingCorrupt must name the ring (ring.name().to_owned()) \
                     and say the numbers found in its reason, got name {name:?}, reason \
                     {reason:?}"
                );
            }
            Ok(other) => panic!(
                "{what} must make try_recv (your pop) return Error::RingCorrupt, got {other:?}"
            ),
            Err(panic) => panic!(
                "{what} made try_recv (your pop) panic ({:?}): check what you read from shared memory \
                 (tail - head between 0 and capacity, at least 4 of those bytes before you \
                 read a length, the record's length within tail - head - 4) and return \
                 Error::RingCorrupt",
                panic_message(&*panic)
            ),
        }
        let pushed =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sender.try_send(b"x")));
        if at == TAIL_AT && value > 32 || at == HEAD_AT {
            assert!(
                matches!(pushed, Ok(Err(Error::RingCorrupt { .. }))),
                "{what} must make try_send Error::RingCorrupt too, got {:?}",
                pushed.map_err(|p| panic_message(&*p))
            );
        }
    }
    drop((sender, receiver));
    scratch.remove("bad");
    scratch.finish();
}

/// One receiver and one sender per ring: a second of either is refused while the first
/// lives, and welcome once it has gone.
#[test]
fn a_second_sender_or_receiver_is_refused_while_the_first_lives() {
    // A worker started by another test at the moment both roles are dropped would hold
    // copies of their descriptors, and with them the roles, until it runs its program.
    let _serial = one_at_a_time();
    let scratch = Scratch::new();
    let (sender, receiver) = new_ring(&scratch.dir, "roles", 64);
    let second = ring::attach(&scratch.dir, "roles");
    assert!(
        matches!(
            &second,
            Err(Error::RoleTaken {
                role: "receiver",
                ..
            })
        ),
        "a second receiver must be Error::RoleTaken, got {second:?}"
    );
    let second = ring::attach_sender(&scratch.dir, "roles");
    assert!(
        matches!(&second, Err(Error::RoleTaken { role: "sender", .. })),
        "a second sender must be Error::RoleTaken, got {second:?}"
    );
    drop((sender, receiver));
    let again = ring::attach(&scratch.dir, "roles")
        .and_then(|r| ring::attach_sender(&scratch.dir, "roles").map(|s| (r, s)));
    assert!(
        again.is_ok(),
        "once both are dropped, both roles are free: {again:?}"
    );
    drop(again);
    scratch.remove("roles");
    scratch.finish();
}

/// The ring's memory under loom: two indices and one loom `UnsafeCell` per data byte, so
/// loom sees every access and every ordering.
mod model {
    use super::*;
    use loom::cell::UnsafeCell;
    use loom::sync::atomic::AtomicU64;

    /// The model's fence: loom's, which loom sees (it cannot see `std`'s).
    fn fence(order: Ordering) {
        loom::sync::atomic::fence(order)
    }

    /// How the model's indices do the loads and stores push and pop ask of them.
    #[derive(Clone, Copy, PartialEq, Eq)]
    pub enum Mode {
        /// As asked.
        AsWritten,
        /// Every load or store that asks for an ordering is made `Relaxed`, with the
        /// ordering carried by a fence instead (a load, then a fence of `Acquire`; a fence
        /// of `Release`, then the store), as an answer written with `ring.fence` does it.
        AsFences,
        /// For the index named `index` only: every `Relaxed` store made `Release`
        /// (`stores`), every `Relaxed` load made `Acquire` (`loads`). Which of them makes
        /// a failing model pass says which side is wrong.
        Strengthen {
            index: &'static str,
            stores: bool,
            loads: bool,
        },
    }

    pub struct Index {
        name: &'static str,
        word: AtomicU64,
        mode: Mode,
    }

    impl Index {
        /// Whether this index's `Relaxed` loads (`false`: stores) are made stronger.
        fn strengthened(&self, loads: bool) -> bool {
            match self.mode {
                Mode::Strengthen {
                    index,
                    stores: s,
                    loads: l,
                } => index == self.name && if loads { l } else { s },
                _ => false,
            }
        }
    }

    impl RingIndex for Index {
        fn load(&self, order: Ordering) -> u64 {
            match (self.mode, order) {
                (Mode::AsFences, order) if order != Ordering::Relaxed => {
                    let value = self.word.load(Ordering::Relaxed);
                    fence(Ordering::Acquire);
                    value
                }
                (_, Ordering::Relaxed) if self.strengthened(true) => {
                    self.word.load(Ordering::Acquire)
                }
                (_, order) => self.word.load(order),
            }
        }
        fn store(&self, value: u64, order: Ordering) {
            match (self.mode, order) {
                (Mode::AsFences, order) if order != Ordering::Relaxed => {
                    fence(Ordering::Release);
                    self.word.store(value, Ordering::Relaxed)
                }
                (_, Ordering::Relaxed) if self.strengthened(false) => {
                    self.word.store(value, Ordering::Release)
                }
                (_, order) => self.word.store(value, order),
            }
        }
    }

    pub struct Ring {
        head: Index,
        tail: Index,
        data: Vec<UnsafeCell<u8>>,
    }

    impl Ring {
        pub fn new(capacity: usize, mode: Mode) -> Ring {
            let index = |name| Index {
                name,
                word: AtomicU64::new(0),
                mode,
            };
            Ring {
                head: index("head"),
                tail: index("tail"),
                data: (0..capacity).map(|_| UnsafeCell::new(0)).collect(),
            }
        }
    }

    impl RingMemory for Ring {
        type Index = Index;
        fn name(&self) -> &str {
            "model"
        }
        fn capacity(&self) -> usize {
            self.data.len()
        }
        fn head(&self) -> &Index {
            &self.head
        }
        fn tail(&self) -> &Index {
            &self.tail
        }
        unsafe fn write(&self, at: usize, bytes: &[u8]) {
            check_span("model", self.data.len(), at, bytes.len(), "write");
            for (cell, &byte) in self.data[at..].iter().zip(bytes) {
                // SAFETY: loom checks the promise: a write that races a read or a write
                // of the same byte fails the model with a causality violation.
                cell.with_mut(|p| unsafe { *p = byte });
            }
        }
        unsafe fn read(&self, at: usize, out: &mut [u8]) {
            check_span("model", self.data.len(), at, out.len(), "read");
            for (cell, byte) in self.data[at..].iter().zip(out) {
                // SAFETY: as for `write`, checked by loom.
                *byte = cell.with(|p| unsafe { *p });
            }
        }
        fn fence(&self, order: Ordering) {
            fence(order)
        }
    }

    /// What went wrong in the model, first failure only: a panic must never unwind
    /// through loom's objects (its destructors need the model's state, and a panic there
    /// aborts the whole test binary), so each thread catches its own and stops.
    static FAILURE: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

    fn failed() -> bool {
        FAILURE.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }

    /// Runs `step` (a push or a pop) until it returns `Ok(true)`, yielding to the other
    /// thread while it returns `Ok(false)`. A panic or an error is recorded and ends the
    /// loop: `false`.
    fn until_done(what: &str, mut step: impl FnMut() -> Result<bool, Error>) -> bool {
        for _ in 0..1000 {
            if failed() {
                return false;
            }
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(&mut step));
            let failure = match outcome {
                Ok(Ok(true)) => return true,
                Ok(Ok(false)) => {
                    loom::thread::yield_now();
                    continue;
                }
                Ok(Err(error)) => format!("{what} returned an error in the model: {error}"),
                Err(panic) => {
                    let said = panic_message(&*panic);
                    if said.contains("Causality violation") {
                        // loom's own verdict: loom must unwind it itself, to end the model.
                        std::panic::resume_unwind(panic);
                    }
                    said
                }
            };
            FAILURE
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_or_insert(failure);
            return false;
        }
        // The model's messages all fit an empty ring: a thousand Ok(false) in a row means
        // they never will (loom would otherwise explore this loop forever).
        FAILURE
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(format!(
                "{what} said Ok(false) a thousand times in a row, for messages that fit the \
                 empty ring"
            ));
        false
    }

    /// Which side does what with an index, for a diagnosis: the function that stores it
    /// (with `Release`) and the one that loads it (with `Acquire`).
    #[derive(Clone, Copy)]
    pub struct Pair {
        pub index: &'static str,
        pub stored_by: &'static str,
        pub loaded_by: &'static str,
    }

    /// Runs a sender thread pushing `messages` and a receiver popping them through a ring
    /// of `capacity` bytes, under every interleaving loom explores. A causality violation
    /// (an access not ordered after the one it conflicts with) fails the test with
    /// `explanation`, and a diagnosis: the model is run again with the stores, then the
    /// loads, made stronger, and which one makes it pass says which of `pair`'s sides is
    /// wrong.
    pub fn check(
        capacity: usize,
        messages: &'static [&'static [u8]],
        mode: Mode,
        pair: Option<Pair>,
        explanation: &str,
    ) {
        match run_model(capacity, messages, mode) {
            Some(said) if said.contains("Causality violation") => {
                let diagnosis = pair
                    .map(|pair| diagnose(capacity, messages, &pair))
                    .unwrap_or_default();
                panic!("{explanation}{diagnosis}\n(loom: {})", said.trim())
            }
            Some(said) => panic!("under the model checker: {said}"),
            None => {}
        }
    }

    /// Which side of `pair` a causality violation comes from, as a sentence for the
    /// message.
    fn diagnose(capacity: usize, messages: &'static [&'static [u8]], pair: &Pair) -> String {
        let Pair {
            index,
            stored_by,
            loaded_by,
        } = *pair;
        let passes = |stores, loads| {
            let mode = Mode::Strengthen {
                index,
                stores,
                loads,
            };
            run_model(capacity, messages, mode).is_none()
        };
        if passes(true, false) {
            format!(
                "\nDiagnosis: with every Relaxed store of {index} made Release the model \
                 passes, so the culprit is {stored_by}: its store of {index} must be Release \
                 (and after the accesses it publishes)."
            )
        } else if passes(false, true) {
            format!(
                "\nDiagnosis: with every Relaxed load of {index} made Acquire the model \
                 passes, so the culprit is {loaded_by}: its load of {index} must be Acquire \
                 (and before the accesses that depend on it)."
            )
        } else if passes(true, true) {
            format!(
                "\nDiagnosis: only with both made stronger does the model pass: {stored_by}'s \
                 store of {index} must be Release, and {loaded_by}'s load of it Acquire."
            )
        } else {
            format!(
                "\nDiagnosis: even with every store of {index} Release and every load of it \
                 Acquire the model fails, so it is not {index}'s orderings (if the other test \
                 of the pair fails too, fix that one first) but the order of the steps: {stored_by} must \
                 store {index} only after its accesses to the bytes, and {loaded_by} must \
                 load it before its own."
            )
        }
    }

    /// One model run: what failed first, if anything did.
    fn run_model(
        capacity: usize,
        messages: &'static [&'static [u8]],
        mode: Mode,
    ) -> Option<String> {
        let _one_model_at_a_time = one_at_a_time();
        FAILURE.lock().unwrap_or_else(|p| p.into_inner()).take();
        let mut builder = loom::model::Builder::new();
        if builder.preemption_bound.is_none() {
            builder.preemption_bound = Some(3); // LOOM_MAX_PREEMPTIONS overrides it
        }
        let verdict = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            builder.check(move || {
                run_once(capacity, messages, mode);
                if failed() {
                    // Every object of the model is dropped by now: this panic unwinds
                    // through none of them, and ends loom's search.
                    panic!("{STOP}");
                }
            })
        }));
        let recorded = FAILURE.lock().unwrap_or_else(|p| p.into_inner()).take();
        match verdict {
            Err(panic) => {
                let said = panic_message(&*panic);
                if said.contains(STOP) {
                    recorded
                } else {
                    Some(said)
                }
            }
            Ok(()) => recorded,
        }
    }

    /// What ends the model once a failure is recorded.
    const STOP: &str = "the model recorded a failure";

    /// One execution of the model: a sender thread pushes `messages`, this thread pops
    /// and compares them.
    fn run_once(capacity: usize, messages: &'static [&'static [u8]], mode: Mode) {
        let ring = loom::sync::Arc::new(Ring::new(capacity, mode));
        let theirs = ring.clone();
        let sender = loom::thread::spawn(move || {
            for message in messages {
                if !until_done("push", || push(&*theirs, message)) {
                    return;
                }
            }
        });
        let mut out = Vec::new();
        for message in messages {
            if !until_done("pop", || pop(&*ring, &mut out)) {
                break;
            }
            if out != *message {
                FAILURE
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get_or_insert(format!("pop returned {out:?} where {message:?} was pushed"));
                break;
            }
        }
        let _ = sender.join();
    }
}

/// The publish: the receiver reads only bytes the sender's writes are ordered before.
/// Two small messages, no wrap, no reuse of freed bytes: only `tail` matters here.
#[test]
fn the_receiver_reads_only_bytes_the_sender_published() {
    model::check(
        16,
        &[b"ab", b"c"],
        model::Mode::AsWritten,
        Some(model::Pair {
            index: "tail",
            stored_by: "push",
            loaded_by: "pop",
        }),
        "loom found an order of events, allowed by the memory model, in which pop read \
            message bytes that push had not yet written (or whose writes it could not yet see): \
            the new tail became visible before the bytes it publishes. push must store tail \
            with Ordering::Release after writing the record, and pop must load tail with \
            Ordering::Acquire before reading it: the Release store carries every earlier write \
            along with it, and only an Acquire load of that value receives them. With Relaxed \
            on either side nothing orders the bytes and the index (on x86 this almost never \
            shows, on ARM it does). Fences instead? Call ring.fence(..), never \
            std::sync::atomic::fence, which loom cannot see.",
    );
}

/// Fences are as good as orderings: a `Relaxed` load followed by `ring.fence(Acquire)`,
/// or `ring.fence(Release)` before a `Relaxed` store, is correct, and the model must say
/// so. Here your `push` and `pop` run over a model whose indices do every ordered load or
/// store that way (loom cannot see `std::sync::atomic::fence`: the model's `fence` is
/// loom's), through both models above.
#[test]
fn orderings_written_as_fences_pass_the_model_too() {
    let blame = "with each ordered load or store of an index made Relaxed and its ordering \
                 carried by a fence instead (the model's `ring.fence`), loom found a race. If \
                 the_receiver_reads_only_bytes_the_sender_published and \
                 the_sender_overwrites_only_bytes_the_receiver_has_released fail too, fix those \
                 first; if they pass, this is the kata's mistake, not yours: a fence-based \
                 answer is correct";
    model::check(16, &[b"ab", b"c"], model::Mode::AsFences, None, blame);
    model::check(
        8,
        &[b"abc", b"de", b"f"],
        model::Mode::AsFences,
        None,
        blame,
    );
}

/// The consume: the sender writes over bytes only after the receiver is done reading
/// them. A ring of 8 bytes holds one record at a time, so each record reuses the bytes
/// of the one before, and they wrap.
#[test]
fn the_sender_overwrites_only_bytes_the_receiver_has_released() {
    model::check(
        8,
        &[b"abc", b"de", b"f"],
        model::Mode::AsWritten,
        Some(model::Pair {
            index: "head",
            stored_by: "pop",
            loaded_by: "push",
        }),
        "loom found an order of events, allowed by the memory model, in which push wrote \
            over bytes that pop was still reading (or had read, but not in an order push could \
            see): the new head became visible before pop's reads were done. pop must store \
            head with Ordering::Release after reading the record, and push must load head \
            with Ordering::Acquire before writing into the bytes it frees. (If \
            the_receiver_reads_only_bytes_the_sender_published fails too, fix tail first: this \
            test needs both pairs.) Fences instead? Call ring.fence(..), never \
            std::sync::atomic::fence, which loom cannot see.",
    );
}

/// The kernel frees the role of a process that dies, however it dies.
#[test]
fn a_role_is_freed_when_its_process_is_killed() {
    let _serial = one_at_a_time();
    use_this_builds_worker();
    let scratch = Scratch::new();
    drop(ring::create(&scratch.dir, "killed", 64).expect("ring::create"));
    let holder = start_until_ready(
        &Job::RingRecv {
            dir: scratch.dir.path().to_owned(),
            name: "killed".into(),
            seed: 0,
            plan: RingPlan::encode(&[]),
            then: Then::Hold,
        },
        LIMIT,
    );
    let taken = ring::attach(&scratch.dir, "killed");
    assert!(
        matches!(&taken, Err(Error::RoleTaken { .. })),
        "while the receiver process lives, its role is taken: got {taken:?}"
    );
    holder.kill();
    let free = ring::attach(&scratch.dir, "killed");
    assert!(
        free.is_ok(),
        "a SIGKILLed receiver's role must be free at once (the kernel closed its file, and \
         with it the lock): got {free:?}"
    );
    drop(free);
    scratch.remove("killed");
    scratch.finish();
}

/// A sender that dies leaves every message it sent; after the last one, `recv` says the
/// sender is gone instead of waiting.
#[test]
fn a_dead_senders_messages_arrive_then_recv_says_it_is_gone() {
    let _serial = one_at_a_time();
    use_this_builds_worker();
    let scratch = Scratch::new();
    let lens = [0, 1, 17, 40, 100];
    let sender = start_until_ready(
        &Job::RingSend {
            dir: scratch.dir.path().to_owned(),
            name: "orphan".into(),
            capacity: 256,
            seed: 11,
            plan: RingPlan::encode(&lens),
            then: Then::Hold,
        },
        LIMIT,
    );
    let mut receiver = ring::attach(&scratch.dir, "orphan").expect("ring::attach");
    let all = lens.iter().map(|len| (len + LEN_PREFIX) as u64).sum();
    wait_until(
        || receiver.ring().header().tail.load(Ordering::Acquire) == all,
        "every message sent",
    );
    sender.kill();
    for (index, &len) in lens.iter().enumerate() {
        let (back, got) = recv_bounded(receiver, LIMIT);
        receiver = back;
        let got = got.unwrap_or_else(|e| {
            panic!("message {index}, sent before the sender died, must still arrive: {e}")
        });
        assert_eq!(got, ring_message(11, index, len), "message {index}");
    }
    let start = Instant::now();
    let (receiver, end) = recv_bounded(receiver, LIMIT);
    assert!(
        matches!(end, Err(Error::PeerGone { peer: "sender", .. })),
        "with the sender dead and the ring empty, recv must be Error::PeerGone, got {end:?} \
         after {:?}",
        start.elapsed()
    );
    drop(receiver);
    scratch.remove("orphan");
    scratch.finish();
}

/// A wait longer than the kit's naps (it sleeps at most 10 ms at a time, then asks the
/// kernel whether its peer still holds its role) ends when the live peer acts: a receiver
/// process that waits a while for this process's message gets it, never `PeerGone`.
#[test]
fn a_receiver_that_waits_long_for_a_live_sender_gets_its_message() {
    let _serial = one_at_a_time();
    use_this_builds_worker();
    let scratch = Scratch::new();
    let mut sender = ring::create(&scratch.dir, "patient", 64).expect("ring::create");
    let receiver = start_until_ready(
        &Job::RingRecv {
            dir: scratch.dir.path().to_owned(),
            name: "patient".into(),
            seed: 4,
            plan: RingPlan::encode(&[7]),
            then: Then::Exit,
        },
        LIMIT,
    );
    // Long enough for the receiver to spin, sleep and wake up empty-handed several times.
    std::thread::sleep(Duration::from_millis(100));
    sender
        .send(&ring_message(4, 0, 7), LIMIT)
        .expect("room for it");
    let (status, stderr) = receiver.finish(LIMIT);
    assert!(
        status.success(),
        "a receiver waiting for a sender that lives must get its message, not give up \
         ({status}):\n{stderr}"
    );
    drop(sender);
    scratch.remove("patient");
    scratch.finish();
}

/// A sender may fill its ring before any receiver has come: waiting for room, it waits for
/// the receiver to come, and is never told that a peer it never had is gone.
#[test]
fn a_sender_waits_for_a_receiver_that_has_not_come_yet() {
    let _serial = one_at_a_time();
    use_this_builds_worker();
    let scratch = Scratch::new();
    let mut sender = ring::create(&scratch.dir, "early", 64).expect("ring::create");
    // 3 records of 20 bytes fill 60 of 64: the fourth has to wait for a receiver.
    let lens = [16, 16, 16, 16];
    for (index, &len) in lens[..3].iter().enumerate() {
        assert!(
            matches!(sender.try_send(&ring_message(6, index, len)), Ok(true)),
            "room for message {index}"
        );
    }
    let waiting = std::thread::spawn(move || {
        let sent = sender.send(&ring_message(6, 3, 16), LIMIT);
        (sender, sent)
    });
    // Long enough for the sender to sleep and wake up empty-handed several times.
    std::thread::sleep(Duration::from_millis(100));
    let receiver = start_until_ready(
        &Job::RingRecv {
            dir: scratch.dir.path().to_owned(),
            name: "early".into(),
            seed: 6,
            plan: RingPlan::encode(&lens),
            then: Then::Exit,
        },
        LIMIT,
    );
    let (sender, sent) = waiting.join().expect("the sending thread");
    assert!(
        sent.is_ok(),
        "a sender waiting for room before any receiver came must wait for it: {sent:?}"
    );
    let (status, stderr) = receiver.finish(LIMIT);
    assert!(
        status.success(),
        "the receiver process ({status}):\n{stderr}"
    );
    drop(sender);
    scratch.remove("early");
    scratch.finish();
}

/// A receiver that dies: a sender waiting for room gets an error, not a hang.
#[test]
fn a_dead_receiver_is_an_error_for_a_waiting_sender() {
    let _serial = one_at_a_time();
    use_this_builds_worker();
    let scratch = Scratch::new();
    let mut sender = ring::create(&scratch.dir, "deaf", 64).expect("ring::create");
    // Sent before the receiver comes: they fit the ring together (9 + 24 + 4 bytes).
    let lens = [5, 20, 0];
    for (index, &len) in lens.iter().enumerate() {
        sender
            .send(&ring_message(3, index, len), LIMIT)
            .expect("room for it");
    }
    let receiver = start_until_ready(
        &Job::RingRecv {
            dir: scratch.dir.path().to_owned(),
            name: "deaf".into(),
            seed: 3,
            plan: RingPlan::encode(&lens),
            then: Then::Hold,
        },
        LIMIT,
    );
    let all = lens.iter().map(|len| (len + LEN_PREFIX) as u64).sum();
    wait_until(
        || sender.ring().header().head.load(Ordering::Acquire) == all,
        "every message received",
    );
    receiver.kill();
    let end = within(LIMIT, "Sender::send", move || {
        let message = [0u8; 30];
        loop {
            if let Err(e) = sender.send(&message, LIMIT) {
                return (sender, e);
            }
        }
    });
    assert!(
        matches!(
            end.1,
            Error::PeerGone {
                peer: "receiver",
                ..
            }
        ),
        "with the receiver dead and the ring full, send must be Error::PeerGone, got {:?}",
        end.1
    );
    drop(end);
    scratch.remove("deaf");
    scratch.finish();
}

proptest! {
    #![proptest_config(process_cases(6))]

    /// A sender process's messages reach the receiver whole, in order, byte for byte, for
    /// any capacity and any sizes up to the largest the ring holds.
    #[test]
    fn messages_from_a_sender_process_arrive_whole_and_in_order(
        (capacity, lens, seed) in ring_and_lens()
    ) {
        not_after_a_wait()?;
        let _serial = one_at_a_time();
        use_this_builds_worker();
        let scratch = Scratch::new();
        let job = Job::RingSend {
            dir: scratch.dir.path().to_owned(),
            name: "pipe".into(),
            capacity,
            seed,
            plan: RingPlan::encode(&lens),
            then: Then::Exit,
        };
        let sender = start_until_ready(&job, LIMIT);
        let mut receiver = ring::attach(&scratch.dir, "pipe").expect("ring::attach");
        let mut got = Vec::new();
        for (index, &len) in lens.iter().enumerate() {
            let received = receiver.recv(&mut got, PATIENCE);
            note_a_wait(&received);
            prop_assert!(
                received.is_ok(),
                "message {index} of {}: recv failed: {:?}", lens.len(), received
            );
            let expected = ring_message(seed, index, len);
            prop_assert!(
                got == expected,
                "message {index} ({len} bytes, ring of {capacity}) arrived as {} bytes, {}: \
                 a record is its 4-byte length and then its bytes. {WRAP}",
                got.len(), first_difference(&got, &expected)
            );
        }
        let (status, stderr) = sender.finish(LIMIT);
        prop_assert!(status.success(), "the sender process failed ({status}):\n{stderr}");
        drop(receiver);
        scratch.remove("pipe");
        scratch.finish();
    }

    /// The other way round: this process sends, a receiver process checks every message.
    #[test]
    fn a_receiver_process_gets_every_message_sent_to_it(
        (capacity, lens, seed) in ring_and_lens()
    ) {
        not_after_a_wait()?;
        let _serial = one_at_a_time();
        use_this_builds_worker();
        let scratch = Scratch::new();
        let mut sender = Some(ring::create(&scratch.dir, "pipe", capacity).expect("ring::create"));
        let job = Job::RingRecv {
            dir: scratch.dir.path().to_owned(),
            name: "pipe".into(),
            seed,
            plan: RingPlan::encode(&lens),
            then: Then::Exit,
        };
        let mut receiver = Some(start_until_ready(&job, LIMIT));
        for (index, &len) in lens.iter().enumerate() {
            let sent = sender.as_mut().expect("not dropped yet").send(&ring_message(seed, index, len), PATIENCE);
            note_a_wait(&sent);
            if let Err(error) = sent {
                // Usually the receiver stopped at a wrong message: its words say which. If
                // it is still waiting for the next one, a sender gone ends its wait at once
                // (not after LIMIT, for every case proptest shrinks to).
                drop(sender.take());
                let (status, stderr) = receiver.take().expect("started").finish(LIMIT);
                prop_assert!(false, "message {index}: send failed: {error:?}; the receiver \
                    process had ended ({status}):\n{stderr}");
            }
        }
        let (status, stderr) = receiver.take().expect("started").finish(LIMIT);
        prop_assert!(
            status.success(),
            "the receiver process found a wrong message ({status}):\n{stderr}"
        );
        drop(sender);
        scratch.remove("pipe");
        scratch.finish();
    }
    /// The kit's `send_many` publishes many records with one store of `tail`; each must
    /// still arrive whole and in order, through your `push` unchanged, in rings too small
    /// for the whole batch (so it publishes what it holds and waits, again and again).
    /// It cannot see when your `push` stores `tail` (the kit holds those stores back):
    /// that is what the other tests check.
    #[test]
    fn messages_sent_together_arrive_whole_and_in_order(
        (capacity, lens, seed) in ring_and_lens()
    ) {
        not_after_a_wait()?;
        let _serial = one_at_a_time();
        use_this_builds_worker();
        let scratch = Scratch::new();
        let mut sender = ring::create(&scratch.dir, "batch", capacity).expect("ring::create");
        let job = Job::RingRecv {
            dir: scratch.dir.path().to_owned(),
            name: "batch".into(),
            seed,
            plan: RingPlan::encode(&lens),
            then: Then::Exit,
        };
        let receiver = start_until_ready(&job, LIMIT);
        let messages: Vec<Vec<u8>> =
            lens.iter().enumerate().map(|(index, &len)| ring_message(seed, index, len)).collect();
        let sent = sender.send_many(messages.iter().map(Vec::as_slice), PATIENCE);
        note_a_wait(&sent);
        drop(sender); // a receiver still waiting sees the sender gone at once
        let (status, stderr) = receiver.finish(LIMIT);
        prop_assert!(sent.is_ok(), "send_many failed: {:?}; the receiver process ended \
            ({status}):\n{stderr}", sent);
        prop_assert!(
            status.success(),
            "the receiver process found a wrong message ({status}):\n{stderr}"
        );
        scratch.remove("batch");
        scratch.finish();
    }
}
