//! # ring — messages from one process to another: exercise 07's ring vs a pipe
//!
//! `cargo bench --features benchmarks --bench ring`
//!
//! One sender (this process) sends messages to one receiver (another process, this
//! benchmark's executable started again with `SHM_KATA_RING_PEER` set: a fresh `exec`,
//! sharing nothing but the ring's name or the pipe). Messages of 64 B and 4 KiB:
//!
//! * **ring**: the kata's ring (1 MiB of data) in `/dev/shm`, the reference `push`/`pop`
//!   behind the kit's blocking `send`/`recv`. No system call per message.
//! * **ring-batched**: the same, the whole batch given to the kit's `send_many`, which
//!   publishes `tail` once per 8 KiB of records (the same receiver).
//! * **pipe**: one `write` per message (its 4-byte length and its bytes together), so
//!   each message is handed off when it is sent, as a queue would. The receiver reads as
//!   much as the pipe holds at once and splits the records itself.
//! * **pipe-batched**: the same records, but the sender writes a whole batch with one
//!   call: what a pipe can do when latency does not matter.
//! * **ceiling** (64 B only): the fastest ring this machine runs between two processes,
//!   with none of the kata's code (fixed 64-byte slots, each index on its own line, each
//!   side caching the other's index: see `ring/ceiling.rs`), the mark the kata's ring is
//!   judged against.
//!
//! Each iteration sends a batch of [`BATCH`] messages; the receiver answers one byte on its
//! standard output after the last one, so what is measured is "sent and received".
//! Throughput is in messages (elements) per second. In group `messages` both sides run at
//! once, and the receiver usually keeps up: each look finds a message or two, and the data
//! and the index cross between cores for every one.
//!
//! **messages-behind** (64 B, ring and ceiling): the receiver falls behind, all the way:
//! it starts on a batch only once the sender has put all of it into the ring (a byte on
//! its standard input says so), and then finds every message at its first look. The time
//! is the sender's and then the receiver's, one after the other: the cost of a message
//! when nothing crosses between cores per message.
//!
//! **round-trip**: one 64-byte message there and back (ring: one ring each way; pipe: one
//! pipe each way), the latency of a request and its answer.

// The reference answers these benchmarks run; the benchmark is its own worker process.
shm_kata::exercises!(create, attach, ring);

mod common;

#[path = "ring/ceiling.rs"]
mod ceiling;

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use crate::ring::{Receiver, Sender};
use criterion::{BenchmarkId, Criterion, Throughput};

/// Set in the environment of the receiving process: what it serves.
const PEER_ENV: &str = "SHM_KATA_RING_PEER";

/// Messages per iteration.
const BATCH: usize = 4096;

/// The message sizes.
const SIZES: [usize; 2] = [64, 4096];

/// The ring's data bytes.
const CAPACITY: usize = 1 << 20;

/// How long a blocking call may wait before the benchmark gives up.
const PATIENCE: Duration = Duration::from_secs(20);

fn main() {
    shm_kata::worker::serve_if_asked(&kata_code());
    if let Ok(spec) = std::env::var(PEER_ENV) {
        peer::serve(&spec);
        return;
    }
    let mut criterion = common::criterion();
    for size in SIZES {
        transfer(&mut criterion, size);
    }
    behind(&mut criterion);
    round_trip(&mut criterion);
    criterion.final_summary();
}

/// A ring name in the benchmark's directory, removed when dropped.
struct Name(String);

impl Name {
    fn new(what: &str) -> Name {
        Name(format!("shm-kata-bench-ring-{what}-{}", std::process::id()))
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(common::bench_dir().join(&self.0));
    }
}

/// The receiving process.
struct Peer {
    child: Child,
    to: Option<ChildStdin>,
    from: ChildStdout,
}

impl Peer {
    fn start(spec: &str) -> Peer {
        let mut child = Command::new(std::env::current_exe().expect("own executable"))
            .env(PEER_ENV, spec)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the receiving process");
        let to = child.stdin.take();
        let from = child.stdout.take().expect("piped stdout");
        Peer { child, to, from }
    }

    fn to(&mut self) -> &mut ChildStdin {
        self.to.as_mut().expect("open until drop")
    }

    /// Tells a receiver that falls behind that its batch is in the ring.
    fn go(&mut self) {
        let to = self.to();
        to.write_all(b"!").expect("go");
        to.flush().expect("go");
    }

    /// Waits for the receiver's one-byte answer.
    fn answer(&mut self) {
        let mut byte = [0];
        self.from
            .read_exact(&mut byte)
            .expect("the receiver answers each batch");
    }
}

impl Drop for Peer {
    /// The receiver has nothing to finish: stopped at once, also when a benchmark panics
    /// (it might be waiting for a message that will never come).
    fn drop(&mut self) {
        drop(self.to.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One record as a pipe carries it: the length and the bytes.
fn record(message: &[u8]) -> Vec<u8> {
    let mut record = (message.len() as u32).to_le_bytes().to_vec();
    record.extend_from_slice(message);
    record
}

fn transfer(c: &mut Criterion, size: usize) {
    let message: Vec<u8> = (0..size).map(|i| i as u8).collect();
    let label = if size >= 1024 {
        format!("{} KiB", size >> 10)
    } else {
        format!("{size} B")
    };
    let mut group = c.benchmark_group("messages");
    group.throughput(Throughput::Elements(BATCH as u64));

    let name = Name::new("transfer");
    let dir = common::bench_dir();
    let mut sender = ring::create(&dir, &name.0, CAPACITY).expect("create the ring");
    let mut peer = Peer::start(&format!("ring-recv {} {}", dir.path().display(), name.0));
    group.bench_function(BenchmarkId::new("ring", &label), |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                sender.send(&message, PATIENCE).expect("send");
            }
            peer.answer();
        })
    });
    group.bench_function(BenchmarkId::new("ring-batched", &label), |b| {
        b.iter(|| {
            let batch = std::iter::repeat_n(message.as_slice(), BATCH);
            sender.send_many(batch, PATIENCE).expect("send_many");
            peer.answer();
        })
    });
    drop(sender); // the receiver sees the sender gone and exits
    drop(peer);

    let one = record(&message);
    let mut peer = Peer::start("pipe-recv");
    group.bench_function(BenchmarkId::new("pipe", &label), |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                peer.to().write_all(&one).expect("write");
            }
            peer.answer();
        })
    });
    let batch = one.repeat(BATCH);
    group.bench_function(BenchmarkId::new("pipe-batched", &label), |b| {
        b.iter(|| {
            peer.to().write_all(&batch).expect("write");
            peer.answer();
        })
    });
    drop(peer);

    if size == ceiling::SLOT {
        let name = Name::new("ceiling");
        let (path, file) = ceiling_file(&name);
        let mut end = ceiling::End::new(&file);
        let mut peer = Peer::start(&format!("ceiling-recv {}", path.display()));
        let message: [u8; ceiling::SLOT] = std::array::from_fn(|i| i as u8);
        group.bench_function(BenchmarkId::new("ceiling", &label), |b| {
            b.iter(|| {
                for _ in 0..BATCH {
                    end.send(&message);
                }
                peer.answer();
            })
        });
        drop(peer);
    }
    group.finish();
}

fn behind(c: &mut Criterion) {
    let mut group = c.benchmark_group("messages-behind");
    group.throughput(Throughput::Elements(BATCH as u64));
    let label = "64 B";
    let message: [u8; ceiling::SLOT] = std::array::from_fn(|i| i as u8);
    // A whole batch fits either ring: 4096 records of 68 bytes in 1 MiB, 4096 of 16,384
    // slots.
    const { assert!(BATCH * (ceiling::SLOT + 4) <= CAPACITY && BATCH <= ceiling::SLOTS) };

    let name = Name::new("behind");
    let dir = common::bench_dir();
    let mut sender = ring::create(&dir, &name.0, CAPACITY).expect("create the ring");
    let mut peer = Peer::start(&format!(
        "ring-recv-behind {} {}",
        dir.path().display(),
        name.0
    ));
    group.bench_function(BenchmarkId::new("ring", label), |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                sender.send(&message, PATIENCE).expect("send");
            }
            peer.go();
            peer.answer();
        })
    });
    drop(sender);
    drop(peer);

    let name = Name::new("ceiling-behind");
    let (path, file) = ceiling_file(&name);
    let mut end = ceiling::End::new(&file);
    let mut peer = Peer::start(&format!("ceiling-recv-behind {}", path.display()));
    group.bench_function(BenchmarkId::new("ceiling", label), |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                end.send(&message);
            }
            peer.go();
            peer.answer();
        })
    });
    drop(peer);
    group.finish();
}

/// A zeroed file of the ceiling ring's length in the benchmark's directory.
fn ceiling_file(name: &Name) -> (std::path::PathBuf, std::fs::File) {
    let path = common::bench_dir().join(&name.0);
    let file = std::fs::File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .expect("create the ceiling ring's file");
    file.set_len(ceiling::LEN as u64).expect("size it");
    (path, file)
}

fn round_trip(c: &mut Criterion) {
    let message = [7u8; 64];
    let mut group = c.benchmark_group("round-trip");
    let dir = common::bench_dir();
    let (there, back) = (Name::new("there"), Name::new("back"));
    let mut sender = ring::create(&dir, &there.0, 4096).expect("create the ring there");
    // The ring back is the peer's to send on: made here, its sender role handed over.
    drop(ring::create(&dir, &back.0, 4096).expect("create the ring back"));
    let peer = Peer::start(&format!(
        "ring-echo {} {} {}",
        dir.path().display(),
        there.0,
        back.0
    ));
    let mut peer = peer;
    // Until the peer has taken the sender role of the ring back, a receiver there would
    // see that ring's sender as gone (see `ring::attach_sender`): wait for its word.
    peer.answer();
    let mut receiver = ring::attach(&dir, &back.0).expect("attach the ring back");
    let mut out = Vec::new();
    group.bench_function("ring 64 B", |b| {
        b.iter(|| {
            sender.send(&message, PATIENCE).expect("send");
            receiver.recv(&mut out, PATIENCE).expect("recv");
        })
    });
    drop((sender, receiver));
    drop(peer);

    let (there, back) = (Name::new("ceiling-there"), Name::new("ceiling-back"));
    let ((there_path, there_file), (back_path, back_file)) =
        (ceiling_file(&there), ceiling_file(&back));
    let (mut to, mut from) = (
        ceiling::End::new(&there_file),
        ceiling::End::new(&back_file),
    );
    let peer = Peer::start(&format!(
        "ceiling-echo {} {}",
        there_path.display(),
        back_path.display()
    ));
    let mut echoed = [0u8; 64];
    group.bench_function("ceiling 64 B", |b| {
        b.iter(|| {
            to.send(&message);
            from.recv(&mut echoed);
        })
    });
    drop(peer);

    let mut peer = Peer::start("pipe-echo");
    let mut answer = [0u8; 64];
    group.bench_function("pipe 64 B", |b| {
        b.iter(|| {
            peer.to().write_all(&message).expect("write");
            peer.from.read_exact(&mut answer).expect("read");
        })
    });
    group.finish();
}

/// The receiving side.
mod peer {
    use super::*;
    use shm_kata::SegmentDir;

    pub fn serve(spec: &str) {
        let words: Vec<&str> = spec.split(' ').collect();
        match words.as_slice() {
            ["ring-recv", dir, name] => ring_recv(SegmentDir::at(dir), name),
            ["pipe-recv"] => pipe_recv(),
            ["ring-echo", dir, there, back] => ring_echo(SegmentDir::at(dir), there, back),
            ["pipe-echo"] => pipe_echo(),
            ["ceiling-recv", path] => ceiling_recv(path),
            ["ring-recv-behind", dir, name] => ring_recv_behind(SegmentDir::at(dir), name),
            ["ceiling-recv-behind", path] => ceiling_recv_behind(path),
            ["ceiling-echo", there, back] => ceiling_echo(there, back),
            _ => panic!("unknown peer job {spec:?}"),
        }
    }

    fn answer() {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(b"!").expect("answer");
        stdout.flush().expect("answer");
    }

    fn ring_recv(dir: SegmentDir, name: &str) {
        let mut receiver: Receiver = ring::attach(&dir, name).expect("attach");
        let mut out = Vec::new();
        loop {
            for _ in 0..BATCH {
                // The sender gone (the benchmark is over) ends the peer.
                if receiver.recv(&mut out, Duration::from_secs(3600)).is_err() {
                    return;
                }
            }
            answer();
        }
    }

    /// Waits for the sender's word that a batch is in the ring; `false` once it is gone.
    fn wait_for_go() -> bool {
        let mut byte = [0];
        std::io::stdin().lock().read_exact(&mut byte).is_ok()
    }

    fn ring_recv_behind(dir: SegmentDir, name: &str) {
        let mut receiver: Receiver = ring::attach(&dir, name).expect("attach");
        let mut out = Vec::new();
        while wait_for_go() {
            for _ in 0..BATCH {
                if receiver.recv(&mut out, PATIENCE).is_err() {
                    return;
                }
            }
            answer();
        }
    }

    fn ceiling_recv_behind(path: &str) {
        let mut end = super::ceiling::End::new(&open(path));
        let mut out = [0u8; super::ceiling::SLOT];
        while wait_for_go() {
            for _ in 0..BATCH {
                end.recv(&mut out);
            }
            std::hint::black_box(&out);
            answer();
        }
    }

    fn pipe_recv() {
        let mut stdin = std::io::stdin().lock();
        let mut buffer = vec![0u8; 1 << 20];
        let (mut filled, mut count) = (0, 0);
        loop {
            let n = stdin.read(&mut buffer[filled..]).expect("read");
            if n == 0 {
                return;
            }
            filled += n;
            let mut at = 0;
            while filled - at >= 4 {
                let len = u32::from_le_bytes(buffer[at..at + 4].try_into().unwrap()) as usize;
                if filled - at < 4 + len {
                    break;
                }
                at += 4 + len;
                count += 1;
                if count == BATCH {
                    count = 0;
                    answer();
                }
            }
            buffer.copy_within(at..filled, 0);
            filled -= at;
        }
    }

    fn ring_echo(dir: SegmentDir, there: &str, back: &str) {
        let mut receiver: Receiver = ring::attach(&dir, there).expect("attach there");
        let mut sender: Sender = ring::attach_sender(&dir, back).expect("take over back");
        answer(); // both roles taken
        let mut out = Vec::new();
        while receiver.recv(&mut out, Duration::from_secs(3600)).is_ok() {
            if sender.send(&out, PATIENCE).is_err() {
                return;
            }
        }
    }

    fn open(path: &str) -> std::fs::File {
        std::fs::File::options()
            .read(true)
            .write(true)
            .open(path)
            .expect("open the ceiling ring's file")
    }

    /// Receives batches until the benchmark kills it (the ceiling ring has no end of
    /// stream: its sender never goes away cleanly, it is dropped with the benchmark).
    fn ceiling_recv(path: &str) {
        let mut end = super::ceiling::End::new(&open(path));
        let mut out = [0u8; super::ceiling::SLOT];
        loop {
            for _ in 0..BATCH {
                end.recv(&mut out);
            }
            std::hint::black_box(&out);
            answer();
        }
    }

    fn ceiling_echo(there: &str, back: &str) {
        let (mut from, mut to) = (
            super::ceiling::End::new(&open(there)),
            super::ceiling::End::new(&open(back)),
        );
        let mut message = [0u8; super::ceiling::SLOT];
        loop {
            from.recv(&mut message);
            to.send(&message);
        }
    }

    fn pipe_echo() {
        let (mut stdin, mut stdout) = (std::io::stdin().lock(), std::io::stdout().lock());
        let mut message = [0u8; 64];
        while stdin.read_exact(&mut message).is_ok() {
            stdout.write_all(&message).expect("echo");
            stdout.flush().expect("echo");
        }
    }
}
