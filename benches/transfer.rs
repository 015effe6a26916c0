//! # transfer — hand N bytes to another process: pipe, pipe + serialization, shared memory
//!
//! `cargo bench --features benchmarks --bench transfer`
//!
//! One sender (this process) hands a buffer of `u32` words to one receiver (another
//! process), which reads every word and sums them, so that every byte really arrives. Three
//! ways to hand it over (the third in three variants), and one reference:
//!
//! * **pipe**: the bytes go through a pipe. The pipe is done as well as a pipe can be: its
//!   buffer is raised to 1 MiB with `F_SETPIPE_SZ` (the default is 64 KiB, and
//!   `/proc/sys/fs/pipe-max-size` is the most an unprivileged process may ask for), the
//!   sender hands the whole buffer to one `write`, and the receiver reads straight into a
//!   buffer it allocated (and touched) once, with reads as large as the pipe delivers — no
//!   `BufReader` in between — and sums each piece as it arrives, while it is still in the
//!   cache. What remains is the price of any pipe: every byte is copied into the kernel
//!   and out again, and the two processes take turns on the pipe. (`vmsplice` could spare
//!   the sender's copy, but only if the sender then leaves those pages alone until the
//!   receiver has read them, which is shared memory with extra steps; it is not used.)
//! * **pipe+postcard**: what a program that sends a `Vec<u32>` as a message does — encode
//!   it (`postcard`, into a buffer allocated once), send the bytes through the same pipe,
//!   decode them into a new `Vec<u32>`, sum. postcard writes integers as varints, so the
//!   message is a little *smaller* than the raw words here; the encoding and decoding are
//!   what cost.
//! * **shm**: the words are already in a segment in `/dev/shm` (this is the sender's
//!   buffer: it filled it there instead of in a `Vec`), created with the kata's `create`,
//!   so on 2 MiB pages where the kernel allows (`MADV_COLLAPSE`, see `shm_kata::pages`).
//!   The sender sends only the segment's name; the receiver attaches with the kata's
//!   `attach` (open, `mmap` at a 2 MiB-aligned address), sums every word, and drops the
//!   mapping. Its page faults are part of the price.
//! * **shm-4k**: the same over a segment left on 4 KiB pages, what a program without the
//!   collapse gets on a stock `/dev/shm`: 512 times as many page faults.
//! * **shm-4k+populate**: the 4 KiB segment again, but the receiver maps with
//!   `MAP_POPULATE`, so the kernel fills in the page tables for the whole segment inside
//!   `mmap` instead of one page fault at a time.
//! * **shm-attached**: the receiver attached to the segment once, before, and keeps it
//!   mapped: every later hand-off is a message and a sum over pages that are already in
//!   its page tables. This is how a long-lived pair of processes uses a segment (a ring
//!   buffer, a frame buffer), and it shows what the attach above costs.
//! * **memfd**: the words are in a sealed memfd (exercise 08's `seal::create`) instead of
//!   a named segment. The sender sends its *descriptor* over a Unix socket (`SCM_RIGHTS`,
//!   `seal::send`); the receiver checks the seals and the size, maps, sums and drops it
//!   (`seal::receive`). The same work as **shm** with no name: a descriptor instead of an
//!   `open`, a seal check instead of a `posix_fallocate`. Its receiver is a second process
//!   of the same kind, whose standard input and output are a socket instead of pipes.
//! * **in-process**, **in-process-4k**: the sender sums its own, already mapped, segment
//!   (the collapsed one, the 4 KiB one): no hand-off at all. This is the physical limit
//!   (reading memory once), measured in the same run.
//!
//! What is measured: from "the data is in the sender's memory" to "the sender has the
//! receiver's sum" — the request, the transfer, the receiver's attach and page faults,
//! the sum, the reply. What is not: starting the receiver (it is started once per size and
//! serves every iteration), creating and filling the segment or the sender's `Vec`, and
//! allocating the receive buffers (each is done once, as a long-running program would).
//!
//! The receiver is a real, separate process: this benchmark's own executable started
//! again with `SHM_KATA_BENCH_PEER=1` (a fresh `exec`, not a `fork`: it shares nothing with
//! the sender but the pipe and the segment's name).

// The reference answers these benchmarks run; the benchmark is its own worker process.
shm_kata::exercises!(create, attach, seal);

mod common;

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};

use criterion::{BenchmarkId, Criterion, Throughput};

use common::{ShmScratch, sum_words};
use shm_kata::pages::Policy;

/// Set in the environment of the receiving process.
const PEER_ENV: &str = "SHM_KATA_BENCH_PEER";

/// The pipe buffer we ask for: the unprivileged maximum on Linux
/// (`/proc/sys/fs/pipe-max-size`).
const PIPE_SIZE: usize = 1 << 20;

/// The pipe buffer to ask for: `SHM_KATA_BENCH_PIPE_SIZE` bytes if set, to try others
/// (65536 is the kernel's default; one that fits in the L2 cache may do better on some
/// machines), else [`PIPE_SIZE`].
fn pipe_size() -> usize {
    std::env::var("SHM_KATA_BENCH_PIPE_SIZE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(PIPE_SIZE)
}

/// The sizes handed over, in bytes.
const SIZES: [usize; 4] = [1 << 20, 16 << 20, 64 << 20, 256 << 20];

/// What the sender asks the receiver to do. Each request is one tag byte and a
/// little-endian `u64` length, followed by that many bytes; the answer is the sum, as a
/// little-endian `u64`.
#[derive(Clone, Copy)]
#[repr(u8)]
enum Request {
    /// The payload is the raw words.
    Raw = b'P',
    /// The payload is a postcard-encoded `Vec<u32>`.
    Postcard = b'S',
    /// The payload is the name of a segment in the benchmark's directory (`/dev/shm`):
    /// attach with the kata's `attach`.
    Attach = b'M',
    /// The same, but map it with `MAP_POPULATE`.
    AttachPopulated = b'F',
    /// The name of a segment the receiver attached to once and keeps mapped.
    Attached = b'K',
    /// No payload: a sealed memfd's descriptor follows on the socket (`seal::send`).
    Memfd = b'D',
}

fn main() {
    shm_kata::worker::serve_if_asked(&kata_code());
    if std::env::var_os(PEER_ENV).is_some() {
        peer::serve();
        return;
    }
    let mut criterion = common::criterion();
    for len in SIZES {
        transfer(&mut criterion, len);
    }
    criterion.final_summary();
}

fn transfer(c: &mut Criterion, len: usize) {
    let mut scratch = ShmScratch::filled("transfer", len);
    let mut small = ShmScratch::filled_on("transfer", len, Policy::Small);
    let name = scratch.name().to_owned();
    let small_name = small.name().to_owned();
    let words: Vec<u32> = scratch.segment().read_words();
    let expected = sum_words(&words);
    // Room for the worst case: a length prefix and five bytes per varint word.
    let mut encoded = vec![0u8; 10 + 5 * words.len()];
    let mut peer = Peer::start();
    let memfd = crate::seal::create("shm-kata-bench-transfer", len)
        .unwrap_or_else(|e| panic!("could not create the benchmark memfd: {e}"));
    memfd
        .write_words(0, &words)
        .expect("the memfd holds the words");
    let mut socket_peer = Peer::start_on_socket();

    let mut group = c.benchmark_group("transfer");
    group.throughput(Throughput::Bytes(len as u64));
    let size = common::mib(len);

    group.bench_function(BenchmarkId::new("pipe", &size), |b| {
        let bytes: &[u8] = bytemuck::cast_slice(&words);
        b.iter(|| peer.ask(Request::Raw, bytes, expected))
    });
    group.bench_function(BenchmarkId::new("pipe+postcard", &size), |b| {
        b.iter(|| {
            let message = postcard::to_slice(&words, &mut encoded).expect("room for any Vec");
            peer.ask(Request::Postcard, message, expected)
        })
    });
    group.bench_function(BenchmarkId::new("shm", &size), |b| {
        b.iter(|| peer.ask(Request::Attach, name.as_bytes(), expected))
    });
    group.bench_function(BenchmarkId::new("shm-4k", &size), |b| {
        b.iter(|| peer.ask(Request::Attach, small_name.as_bytes(), expected))
    });
    group.bench_function(BenchmarkId::new("shm-4k+populate", &size), |b| {
        b.iter(|| peer.ask(Request::AttachPopulated, small_name.as_bytes(), expected))
    });
    group.bench_function(BenchmarkId::new("shm-attached", &size), |b| {
        b.iter(|| peer.ask(Request::Attached, name.as_bytes(), expected))
    });
    group.bench_function(BenchmarkId::new("memfd", &size), |b| {
        b.iter(|| socket_peer.hand_over(&memfd, expected))
    });
    group.bench_function(BenchmarkId::new("in-process", &size), |b| {
        // SAFETY: nobody writes the segment any more: it was filled before the first
        // benchmark, and the receiver only reads it.
        let words = unsafe { scratch.segment().words() };
        b.iter(|| {
            let sum = sum_words(std::hint::black_box(words));
            assert_eq!(sum, expected);
        })
    });
    group.bench_function(BenchmarkId::new("in-process-4k", &size), |b| {
        // SAFETY: as above, for the 4 KiB segment.
        let words = unsafe { small.segment().words() };
        b.iter(|| {
            let sum = sum_words(std::hint::black_box(words));
            assert_eq!(sum, expected);
        })
    });
    group.finish();
}

/// The sender's end of the receiving process.
struct Peer {
    child: Child,
    to: File,
    from: File,
    /// The socket both `to` and `from` are, for a receiver started on one.
    socket: Option<UnixStream>,
}

impl Peer {
    fn start() -> Peer {
        let exe = std::env::current_exe().expect("the benchmark's own path");
        let mut child = Command::new(exe)
            .env(PEER_ENV, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("could not start the receiving process");
        let to = File::from(std::os::fd::OwnedFd::from(child.stdin.take().unwrap()));
        let from = File::from(std::os::fd::OwnedFd::from(child.stdout.take().unwrap()));
        // A bigger pipe buffer means fewer trips between writer and reader: the writer
        // fills 1 MiB, the reader drains it, instead of 64 KiB at a time.
        // The kernel caps it at /proc/sys/fs/pipe-max-size (1 MiB by default) and at the
        // user's pipe quota: take the biggest it grants, and say so if it is smaller.
        let wanted = pipe_size();
        let granted = [wanted, 1 << 20, 256 << 10]
            .into_iter()
            .filter(|&size| size <= wanted)
            .find_map(|size| {
                nix::fcntl::fcntl(to.as_fd(), nix::fcntl::FcntlArg::F_SETPIPE_SZ(size as i32)).ok()
            })
            .unwrap_or(64 << 10) as usize;
        if granted < wanted {
            eprintln!(
                "transfer: asked for a {wanted} byte pipe buffer, the kernel granted {granted}"
            );
        }
        Peer {
            child,
            to,
            from,
            socket: None,
        }
    }

    /// A receiver whose standard input and output are both one end of a Unix socket pair,
    /// so that descriptors can travel to it.
    fn start_on_socket() -> Peer {
        let exe = std::env::current_exe().expect("the benchmark's own path");
        let (ours, theirs) = UnixStream::pair().expect("a socket pair");
        let end = |socket: &UnixStream| OwnedFd::from(socket.try_clone().expect("dup a socket"));
        let child = Command::new(exe)
            .env(PEER_ENV, "1")
            .stdin(Stdio::from(end(&theirs)))
            .stdout(Stdio::from(OwnedFd::from(theirs)))
            .spawn()
            .expect("could not start the receiving process");
        Peer {
            child,
            to: File::from(end(&ours)),
            from: File::from(end(&ours)),
            socket: Some(ours),
        }
    }

    /// Hands `segment` (a sealed memfd) over as a descriptor and waits for the sum.
    fn hand_over(&mut self, segment: &shm_kata::Segment, expected: u64) {
        let mut header = [0u8; 9];
        header[0] = Request::Memfd as u8;
        self.to.write_all(&header).expect("send the header");
        let socket = self
            .socket
            .as_ref()
            .expect("a receiver started on a socket");
        crate::seal::send(socket, segment).expect("send the memfd");
        let mut sum = [0u8; 8];
        self.from
            .read_exact(&mut sum)
            .expect("the receiver's answer");
        assert_eq!(
            u64::from_le_bytes(sum),
            expected,
            "the receiver summed wrong"
        );
    }

    /// Sends one request and waits for the sum. Each `Peer` serves one size: a new
    /// segment of the same name is a new receiver, so `Request::Attached` never sums a
    /// stale mapping.
    fn ask(&mut self, request: Request, payload: &[u8], expected: u64) {
        let mut header = [0u8; 9];
        header[0] = request as u8;
        header[1..].copy_from_slice(&(payload.len() as u64).to_le_bytes());
        self.to.write_all(&header).expect("send the header");
        self.to.write_all(payload).expect("send the payload");
        let mut sum = [0u8; 8];
        self.from
            .read_exact(&mut sum)
            .expect("the receiver's answer");
        assert_eq!(
            u64::from_le_bytes(sum),
            expected,
            "the receiver summed wrong"
        );
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The receiving process.
mod peer {
    use std::fs::{File, OpenOptions};
    use std::io::{ErrorKind, Read, Write};
    use std::os::fd::AsFd;

    use shm_kata::SegmentDir;
    use shm_kata::pages::Mapping;

    use super::common::bench_dir;
    use super::{Request, sum_words};

    pub fn serve() {
        let dup = |fd: std::os::fd::BorrowedFd<'_>| File::from(fd.try_clone_to_owned().unwrap());
        // Raw file descriptors, not `io::stdin()`: no 8 KiB buffer copies anything twice.
        let mut input = dup(std::io::stdin().as_fd());
        let mut output = dup(std::io::stdout().as_fd());
        // The receive buffer: `u32`s so the bytes are aligned for words, grown (and so
        // touched) once to the largest message, then reused.
        let mut buffer: Vec<u32> = Vec::new();
        // The segment of `Request::Attached`, mapped on its first request and kept.
        let mut kept: Option<shm_kata::Segment> = None;
        // Standard input as the socket it is, for `Request::Memfd` (made on first use).
        let mut socket: Option<std::os::unix::net::UnixStream> = None;
        loop {
            let mut header = [0u8; 9];
            match input.read_exact(&mut header) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => return,
                Err(e) => panic!("receiver: reading a request: {e}"),
            }
            let len = u64::from_le_bytes(header[1..].try_into().unwrap()) as usize;
            if buffer.len() * 4 < len {
                buffer.resize(len.div_ceil(4), 0);
            }
            let bytes = &mut bytemuck::cast_slice_mut::<u32, u8>(&mut buffer)[..len];
            if header[0] == Request::Raw as u8 {
                let sum = receive_and_sum(&mut input, bytes);
                output.write_all(&sum.to_le_bytes()).unwrap();
                continue;
            }
            input
                .read_exact(bytes)
                .expect("receiver: reading a payload");
            let sum = match header[0] {
                t if t == Request::Postcard as u8 => {
                    let words: Vec<u32> = postcard::from_bytes(bytes).expect("a valid message");
                    sum_words(&words)
                }
                t if t == Request::Attach as u8 => {
                    let name = std::str::from_utf8(bytes).unwrap();
                    let segment =
                        crate::attach::attach(&bench_dir(), name).expect("receiver: attach");
                    // SAFETY: the sender filled the segment before sending its name and
                    // writes it no more; it waits for our answer. Nobody writes these
                    // words while the slice lives.
                    sum_words(unsafe { segment.words() })
                }
                t if t == Request::AttachPopulated as u8 => {
                    let name = std::str::from_utf8(bytes).unwrap();
                    sum_populated(&bench_dir(), name)
                }
                t if t == Request::Attached as u8 => {
                    let name = std::str::from_utf8(bytes).unwrap();
                    if kept.as_ref().is_none_or(|s| s.name() != name) {
                        drop(kept.take()); // unmap the old one before mapping anew
                        kept = Some(
                            crate::attach::attach(&bench_dir(), name).expect("receiver: attach"),
                        );
                    }
                    // SAFETY: as above: the segment is only ever read after it was filled.
                    sum_words(unsafe { kept.as_ref().unwrap().words() })
                }
                t if t == Request::Memfd as u8 => {
                    let socket = socket.get_or_insert_with(|| {
                        let fd = input.try_clone().expect("receiver: dup stdin");
                        std::os::unix::net::UnixStream::from(std::os::fd::OwnedFd::from(fd))
                    });
                    let segment =
                        crate::seal::receive(socket).expect("receiver: receive the memfd");
                    // SAFETY: as above: the sender filled the memfd before the first
                    // hand-off and only reads it since; it waits for our answer.
                    sum_words(unsafe { segment.words() })
                }
                other => panic!("receiver: unknown request {other}"),
            };
            output.write_all(&sum.to_le_bytes()).unwrap();
        }
    }

    /// Reads the whole payload into `bytes`, summing each piece right after it arrives,
    /// while it is still in the cache: one pass over memory less than reading everything
    /// first and summing afterwards. The best a pipe receiver can do.
    fn receive_and_sum(input: &mut File, bytes: &mut [u8]) -> u64 {
        let (mut received, mut summed, mut sum) = (0, 0, 0);
        while received < bytes.len() {
            let n = input
                .read(&mut bytes[received..])
                .expect("receiver: reading a payload");
            assert!(n > 0, "receiver: the sender hung up mid-message");
            received += n;
            let whole = received / 4 * 4;
            sum += sum_words(bytemuck::cast_slice(&bytes[summed..whole]));
            summed = whole;
        }
        sum
    }

    /// Attach with `MAP_POPULATE`: one `mmap` call that also builds every page-table entry,
    /// instead of a page fault per 4 KiB page (or per 64 KiB with the kernel's fault-around
    /// on read faults) once the loop touches them. Mapped by the kit, at a 2 MiB-aligned
    /// address like every other mapping here.
    fn sum_populated(dir: &SegmentDir, name: &str) -> u64 {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(dir.join(name))
            .expect("receiver: open");
        let len = file.metadata().expect("receiver: metadata").len() as usize;
        let map = Mapping::shared(&file, len, true).expect("receiver: mmap");
        // SAFETY: the mapping's own start, `len` bytes long, which the sender created as
        // whole words, filled and keeps, at its full size and unchanged, until it has our
        // answer: nobody truncates or writes it while the slice lives. The start is 2 MiB-
        // aligned, so the words are 4-aligned.
        let words = unsafe { std::slice::from_raw_parts(map.as_mut_ptr().cast::<u32>(), len / 4) };
        sum_words(words)
    }
}
