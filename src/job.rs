//! What one worker process is asked to do.
//!
//! A [`Job`] is both sides of one conversation: the parent turns it into arguments for a
//! worker process (this same program, started again: see [`crate::reexec`]), and the
//! worker parses them back into the same `Job` and runs it. The worker is a fresh process
//! from `exec`, not a `fork()` of the parent: it shares nothing with the parent but the
//! segment's directory and name, exactly like an unrelated program would.

use std::ffi::OsString;
use std::io::Write;
use std::ops::Range;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::Ordering::Relaxed;

pub use crate::code::Code;
use crate::error::{Error, Result};
use crate::segment::SegmentDir;

/// Set to `kill@START` or `exit@START` to make the transform worker whose range starts at
/// word `START` kill itself with SIGKILL, or exit with code 3, before it touches anything.
/// Tests use it to check that a failed worker is reported, not ignored.
pub const FAULT_ENV: &str = "SHM_KATA_FAULT";

/// Set to a directory to make every transform worker leave a file named
/// `START-END.PID` there, so tests can see which process handled which range.
pub const TRACE_ENV: &str = "SHM_KATA_TRACE";

/// With [`TRACE_ENV`], set to a number N to make every transform worker wait (up to 10 s)
/// until N trace files exist before it starts: workers run one after the other never get
/// there, and exit with code 4.
pub const BARRIER_ENV: &str = "SHM_KATA_BARRIER";

/// Set (to anything) to make a seal-send worker restore SIGPIPE's default action (death)
/// before it calls `seal::send`, as a C program has it: Rust ignores SIGPIPE before `main`,
/// which would hide a `send` that forgets `MSG_NOSIGNAL`.
pub const SIGPIPE_ENV: &str = "SHM_KATA_SIGPIPE";

/// Set to a number `N` to make a seal-receive worker lower its own `RLIMIT_NOFILE` so that
/// exactly `N` more descriptors fit in its table while `seal::receive` runs: the receiver
/// a hostile sender meets at its limit.
pub const FREE_FDS_ENV: &str = "SHM_KATA_FREE_FDS";

/// One worker's task: a subcommand of `shm-kata-worker`.
#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum Job {
    /// Attach to a segment and transform its words `start..end` in place.
    Transform {
        dir: PathBuf,
        name: String,
        start: usize,
        end: usize,
    },
    /// Attach to a segment and write all its bytes to standard output.
    Read { dir: PathBuf, name: String },
    /// Attach to a segment and overwrite all its bytes with [`pattern`]`(seed, len)`.
    Fill {
        dir: PathBuf,
        name: String,
        seed: u64,
    },
    /// Create a segment with `create`, under the common umask `022` (so a `create` that
    /// relies on the umask instead of asking for mode `0600` shows as `0644`).
    Create {
        dir: PathBuf,
        name: String,
        len: usize,
    },
    /// Print `ready`, then call `create` on one name again and again, dropping whatever
    /// each call returns, until standard input closes: a racer for the test that a
    /// failing `create` removes only the file it made itself.
    CreateRepeatedly {
        dir: PathBuf,
        name: String,
        len: usize,
    },
    /// Run `transform::run` over a segment with `workers` workers, in this process.
    Run {
        dir: PathBuf,
        name: String,
        workers: usize,
    },
    /// Add 1 to word 0 of a segment `times` times, `with` the lock (`lock::add_locked`) or
    /// with atomic adds (`lock::add_atomic`), starting only once `together` such workers
    /// have arrived (see [`start_together`]).
    Count {
        dir: PathBuf,
        name: String,
        with: Counting,
        times: u32,
        together: u32,
    },
    /// Attach, take the segment's lock, read word 0, print `ready`, and only when standard
    /// input closes write it back plus 1 and let go: a holder that can be caught (and
    /// killed) in the middle of its critical section.
    HoldLock { dir: PathBuf, name: String },
    /// Attach, print `ready`, and stay attached until standard input closes.
    Hold { dir: PathBuf, name: String },
    /// Create an owning segment (`cleanup::OwnedSegment`) of `len` bytes, print `ready`,
    /// and keep it until standard input closes (then dropping it unlinks it). A SIGKILL
    /// before that leaves it behind: an orphan.
    Own {
        dir: PathBuf,
        name: String,
        len: usize,
    },
    /// Create an owning segment of `len` bytes, then panic while owning it.
    OwnAndPanic {
        dir: PathBuf,
        name: String,
        len: usize,
    },
    /// Exercise 08, the sender. Standard input is a Unix socket: create a sealed memfd of
    /// `len` bytes labelled `label` (`seal::create`), fill it with [`pattern`]`(seed, len)`,
    /// send it (`seal::send`) and print `sent`; wait for the receiver's one-byte answer,
    /// then check that the segment now holds `pattern(!seed, len)` and print `saw the
    /// write`. With `--hold`, print `holding` and keep everything until the socket closes.
    /// With [`SIGPIPE_ENV`] set, SIGPIPE kills it, as it would a C program.
    SealSend {
        #[arg(long)]
        hold: bool,
        label: String,
        len: usize,
        seed: u64,
    },
    /// Exercise 08, the receiver. Standard input is a Unix socket: receive a segment
    /// (`seal::receive`) and report, one line each: `received LEN`, whether it holds
    /// `pattern(seed, LEN)`, what shrinking and growing it did (`shrink: EPERM`), its size
    /// afterwards, and whether it still reads the same; then write `pattern(!seed, LEN)`,
    /// answer the sender with one byte and print `wrote`. With `--hold`, print `holding`
    /// and keep everything until the socket closes. If `receive` refuses, print `refused:
    /// ERROR` (its `Debug` form) and `memfds open: N` (how many memfds this process still
    /// holds), then fail with the error. With [`FREE_FDS_ENV`] set, `receive` runs with
    /// only that many descriptors free.
    SealReceive {
        #[arg(long)]
        hold: bool,
        seed: u64,
    },
    /// Create ring `name` with `capacity` data bytes (`ring::create`; with 0, take over an
    /// existing one with `ring::attach_sender`), print `ready`, and send the messages of
    /// `plan` ([`RingPlan`]: their lengths; contents [`ring_message`]`(seed, i, len)`),
    /// each with `send` and a 20 s timeout; `then` exit, or keep the role until standard
    /// input closes.
    RingSend {
        dir: PathBuf,
        name: String,
        capacity: usize,
        seed: u64,
        plan: String,
        then: Then,
    },
    /// Attach to ring `name` as its receiver, print `ready`, and receive the messages of
    /// `plan`, each with `recv` and a 20 s timeout, checking each byte; `then` exit, or
    /// keep the role until standard input closes.
    RingRecv {
        dir: PathBuf,
        name: String,
        seed: u64,
        plan: String,
        then: Then,
    },
}

/// What a ring worker does once its messages are through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Then {
    /// Exit (dropping its role).
    Exit,
    /// Keep its role until standard input closes (or it is killed).
    Hold,
}

impl std::fmt::Display for Then {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Then::Exit => "exit",
            Then::Hold => "hold",
        })
    }
}

/// The lengths of a ring worker's messages, as one command-line word: `3,0,17`, or
/// `none` for no message at all.
pub struct RingPlan;

impl RingPlan {
    /// The word for `lens`.
    pub fn encode(lens: &[usize]) -> String {
        if lens.is_empty() {
            return "none".to_owned();
        }
        lens.iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The lengths in `plan`; an unreadable word is an error naming the ring.
    pub fn decode(plan: &str, name: &str) -> Result<Vec<usize>> {
        if plan == "none" {
            return Ok(Vec::new());
        }
        plan.split(',')
            .map(|len| {
                len.parse().map_err(|_| Error::Io {
                    name: name.to_owned(),
                    source: std::io::Error::other(format!("bad message length {len:?} in plan")),
                })
            })
            .collect()
    }
}

/// Message `index` of a ring test: `len` bytes that depend on `seed` and `index`, so two
/// processes agree on every message without sending it any other way.
pub fn ring_message(seed: u64, index: usize, len: usize) -> Vec<u8> {
    pattern(
        seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        len,
    )
}

/// How long a ring worker waits for each message, or for room for it.
const RING_PATIENCE: std::time::Duration = std::time::Duration::from_secs(20);

/// How a [`Job::Count`] worker keeps its increments from getting lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Counting {
    /// A load and a store of the counter, under the segment's lock.
    Lock,
    /// One atomic `fetch_add`, no lock.
    Atomic,
}

impl std::fmt::Display for Counting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Counting::Lock => "lock",
            Counting::Atomic => "atomic",
        })
    }
}

impl Job {
    /// The job that transforms `range` (in words) of segment `name` in `dir`.
    pub fn transform(dir: &SegmentDir, name: &str, range: Range<usize>) -> Job {
        Job::Transform {
            dir: dir.path().to_owned(),
            name: name.to_owned(),
            start: range.start,
            end: range.end,
        }
    }

    /// The worker binary's arguments for this job.
    pub fn to_args(&self) -> Vec<OsString> {
        if let Some(args) = seal::args(self) {
            return args;
        }
        let (command, dir, name, rest) = match self {
            Job::Transform {
                dir,
                name,
                start,
                end,
            } => (
                "transform",
                dir,
                name,
                vec![start.to_string(), end.to_string()],
            ),
            Job::Read { dir, name } => ("read", dir, name, vec![]),
            Job::Fill { dir, name, seed } => ("fill", dir, name, vec![seed.to_string()]),
            Job::Create { dir, name, len } => ("create", dir, name, vec![len.to_string()]),
            Job::CreateRepeatedly { dir, name, len } => {
                ("create-repeatedly", dir, name, vec![len.to_string()])
            }
            Job::Run { dir, name, workers } => ("run", dir, name, vec![workers.to_string()]),
            Job::Count {
                dir,
                name,
                with,
                times,
                together,
            } => (
                "count",
                dir,
                name,
                vec![with.to_string(), times.to_string(), together.to_string()],
            ),
            Job::HoldLock { dir, name } => ("hold-lock", dir, name, vec![]),
            Job::Hold { dir, name } => ("hold", dir, name, vec![]),
            Job::Own { dir, name, len } => ("own", dir, name, vec![len.to_string()]),
            Job::OwnAndPanic { dir, name, len } => {
                ("own-and-panic", dir, name, vec![len.to_string()])
            }
            Job::SealSend { .. } | Job::SealReceive { .. } => unreachable!("seal::args"),
            Job::RingSend {
                dir,
                name,
                capacity,
                seed,
                plan,
                then,
            } => (
                "ring-send",
                dir,
                name,
                vec![
                    capacity.to_string(),
                    seed.to_string(),
                    plan.clone(),
                    then.to_string(),
                ],
            ),
            Job::RingRecv {
                dir,
                name,
                seed,
                plan,
                then,
            } => (
                "ring-recv",
                dir,
                name,
                vec![seed.to_string(), plan.clone(), then.to_string()],
            ),
        };
        // `--` ends the options: a segment named `-h` is a name, not a request for help.
        let mut args: Vec<OsString> = vec![command.into(), "--".into(), dir.into(), name.into()];
        args.extend(rest.into_iter().map(OsString::from));
        args
    }

    /// A short description for error messages: `transform words 0..250 of "demo"`.
    pub fn label(&self) -> String {
        match self {
            Job::Transform {
                name, start, end, ..
            } => format!("transform words {start}..{end} of {name:?}"),
            Job::Read { name, .. } => format!("read {name:?}"),
            Job::Fill { name, .. } => format!("fill {name:?}"),
            Job::Create { name, len, .. } => format!("create {name:?} of {len} bytes"),
            Job::CreateRepeatedly { name, len, .. } => {
                format!("create {name:?} of {len} bytes again and again")
            }
            Job::Run { name, workers, .. } => format!("run {name:?} with {workers} workers"),
            Job::Count {
                name, with, times, ..
            } => {
                let how = match with {
                    Counting::Lock => "under the lock",
                    Counting::Atomic => "with fetch_add",
                };
                format!("add 1 to {name:?} {times} times {how}")
            }
            Job::HoldLock { name, .. } => format!("hold the lock of {name:?}"),
            Job::Hold { name, .. } => format!("hold {name:?}"),
            Job::Own { name, .. } => format!("own {name:?}"),
            Job::OwnAndPanic { name, .. } => format!("own {name:?} and panic"),
            Job::SealSend { label, len, .. } => {
                format!("create a sealed memfd {label:?} of {len} bytes and send it")
            }
            Job::SealReceive { .. } => "receive a sealed memfd".to_owned(),
            Job::RingSend { name, plan, .. } => format!(
                "send {} messages through ring {name:?}",
                plan.split(',').filter(|l| *l != "none").count()
            ),
            Job::RingRecv { name, plan, .. } => format!(
                "receive {} messages from ring {name:?}",
                plan.split(',').filter(|l| *l != "none").count()
            ),
        }
    }

    /// A ready-to-spawn command that runs this job in a worker process: this same program
    /// started again, told the job through its environment (see [`crate::reexec`]).
    pub fn command(&self) -> Command {
        crate::reexec::command(&self.to_args())
    }

    /// Runs the job in *this* process: what a worker process does once it has read its
    /// job. It calls the exercise code that `code` lists (`attach`, `transform`, …), so an
    /// unfinished exercise shows up here as its `todo!()` message, and an exercise this
    /// program was not built with as [`Error::NotBuiltWith`].
    pub fn execute(self, code: &Code) -> Result<()> {
        match self {
            Job::Transform {
                dir,
                name,
                start,
                end,
            } => {
                inject_fault(start);
                trace(start, end);
                code.transform_range()?(&SegmentDir::at(dir), &name, start..end)
            }
            Job::Read { dir, name } => {
                let segment = code.attach()?(&SegmentDir::at(dir), &name)?;
                std::io::stdout()
                    .lock()
                    .write_all(&segment.read_bytes())
                    .map_err(|source| Error::Io { name, source })
            }
            Job::Fill { dir, name, seed } => {
                let segment = code.attach()?(&SegmentDir::at(dir), &name)?;
                segment.write_bytes(0, &pattern(seed, segment.len()))
            }
            Job::Create { dir, name, len } => {
                nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
                code.create()?(&SegmentDir::at(dir), &name, len).map(drop)
            }
            Job::CreateRepeatedly { dir, name, len } => {
                let dir = SegmentDir::at(dir);
                let create = code.create()?;
                let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
                let waiter = {
                    let (stop, name) = (stop.clone(), name.clone());
                    std::thread::spawn(move || {
                        let waited = ready_then_wait_for_stdin_to_close(&name);
                        stop.store(true, Relaxed);
                        waited
                    })
                };
                while !stop.load(Relaxed) {
                    drop(create(&dir, &name, len));
                }
                waiter.join().unwrap_or(Ok(()))
            }
            Job::Run { dir, name, workers } => code.run()?(&SegmentDir::at(dir), &name, workers),
            Job::Count {
                dir,
                name,
                with,
                times,
                together,
            } => {
                let dir = SegmentDir::at(dir);
                start_together(code, &dir, &name, together)?;
                match with {
                    Counting::Lock => code.add_locked()?(&dir, &name, times),
                    Counting::Atomic => code.add_atomic()?(&dir, &name, times),
                }
            }
            Job::HoldLock { dir, name } => {
                let dir = SegmentDir::at(dir);
                let segment = code.attach()?(&dir, &name)?;
                let _guard = code.lock()?(&dir, &name)?;
                let counter = segment.atomics().first();
                let value = counter.map(|c| c.load(Relaxed));
                ready_then_wait_for_stdin_to_close(&name)?;
                if let (Some(counter), Some(value)) = (counter, value) {
                    counter.store(value.wrapping_add(1), Relaxed);
                }
                Ok(())
            }
            Job::Hold { dir, name } => {
                let _segment = code.attach()?(&SegmentDir::at(dir), &name)?;
                ready_then_wait_for_stdin_to_close(&name)
            }
            Job::Own { dir, name, len } => {
                let _owned = code.own()?(&SegmentDir::at(dir), &name, len)?;
                ready_then_wait_for_stdin_to_close(&name)
            }
            Job::OwnAndPanic { dir, name, len } => {
                let _owned = code.own()?(&SegmentDir::at(dir), &name, len)?;
                panic!("a deliberate panic while owning segment {name:?}");
            }
            Job::SealSend {
                hold,
                label,
                len,
                seed,
            } => seal::send(code, &label, len, seed, hold),
            Job::SealReceive { hold, seed } => seal::receive(code, seed, hold),
            Job::RingSend {
                dir,
                name,
                capacity,
                seed,
                plan,
                then,
            } => {
                let lens = RingPlan::decode(&plan, &name)?;
                let dir = SegmentDir::at(dir);
                let mut sender = match capacity {
                    0 => crate::ring_kit::attach_sender(&dir, &name, code.attach()?, code.ring()?)?,
                    _ => crate::ring_kit::create(
                        &dir,
                        &name,
                        capacity,
                        code.create()?,
                        code.ring()?,
                    )?,
                };
                say_ready(&name)?;
                for (index, len) in lens.into_iter().enumerate() {
                    sender.send(&ring_message(seed, index, len), RING_PATIENCE)?;
                }
                match then {
                    Then::Exit => Ok(()),
                    Then::Hold => wait_for_stdin_to_close(&name),
                }
            }
            Job::RingRecv {
                dir,
                name,
                seed,
                plan,
                then,
            } => {
                let lens = RingPlan::decode(&plan, &name)?;
                let (dir, ring) = (SegmentDir::at(dir), code.ring()?);
                let mut receiver = crate::ring_kit::attach(&dir, &name, code.attach()?, ring)?;
                say_ready(&name)?;
                let mut got = Vec::new();
                for (index, len) in lens.into_iter().enumerate() {
                    receiver.recv(&mut got, RING_PATIENCE)?;
                    let expected = ring_message(seed, index, len);
                    if got != expected {
                        return Err(Error::Io {
                            name,
                            source: std::io::Error::other(format!(
                                "message {index} arrived as {} bytes, {}, but {len} bytes were \
                                 sent: {}",
                                got.len(),
                                first_difference(&got, &expected),
                                "messages must arrive whole, in order, byte for byte"
                            )),
                        });
                    }
                }
                match then {
                    Then::Exit => Ok(()),
                    Then::Hold => wait_for_stdin_to_close(&name),
                }
            }
        }
    }
}

/// Waits (at most 10 s) until `together` workers have arrived, counting arrivals in word 1
/// of the segment, so that they all run at the same moment. Processes started one after
/// the other would otherwise often finish a short loop before the next one begins, and a
/// missing lock would go unnoticed. It spins rather than sleeps, so that the workers are
/// on a CPU, not waking up one by one, when the last one arrives.
pub fn start_together(code: &Code, dir: &SegmentDir, name: &str, together: u32) -> Result<()> {
    if together <= 1 {
        return Ok(());
    }
    let segment = code.attach()?(dir, name)?;
    let Some(arrived) = segment.atomics().get(1) else {
        return Err(Error::TooSmall {
            name: name.to_owned(),
            needed: 8,
            actual: segment.len() as u64,
        });
    };
    arrived.fetch_add(1, Relaxed);
    let counted = || arrived.load(Relaxed) as usize;
    await_peers(together as usize, counted, PEERS_PATIENCE).map_err(|arrived| Error::Io {
        name: name.to_owned(),
        source: std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!(
                "only {arrived} of {together} workers arrived within {} s",
                PEERS_PATIENCE.as_secs()
            ),
        ),
    })
}

/// How long workers that start together wait for each other.
const PEERS_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

/// Waits, spinning, until `arrived()` counts `all` workers, or `patience` has passed:
/// then `Err` with the last count. Spinning rather than sleeping keeps every waiting
/// worker on a CPU, so they all go at the moment the last one arrives.
fn await_peers(
    all: usize,
    arrived: impl Fn() -> usize,
    patience: std::time::Duration,
) -> std::result::Result<(), usize> {
    let deadline = std::time::Instant::now() + patience;
    loop {
        let now = arrived();
        if now >= all {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            return Err(now);
        }
        std::hint::spin_loop();
    }
}

/// Tells the parent (a line `ready` on standard output) that the job now holds what it
/// came to hold, then waits until standard input reaches its end: the parent closes it to
/// let the job go on, or kills the process instead. A parent that dies closes it too, so
/// a waiting worker never outlives the test that started it.
fn ready_then_wait_for_stdin_to_close(name: &str) -> Result<()> {
    let io = |source| Error::Io {
        name: name.to_owned(),
        source,
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(b"ready\n").map_err(io)?;
    stdout.flush().map_err(io)?;
    std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink()).map_err(io)?;
    Ok(())
}

/// Tells the parent (a line `ready` on standard output) that the job holds what it came
/// to hold, and goes on.
fn say_ready(name: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(b"ready\n")
        .and_then(|()| stdout.flush())
        .map_err(|source| Error::Io {
            name: name.to_owned(),
            source,
        })
}

/// Waits until standard input reaches its end (the parent closed it, or died).
fn wait_for_stdin_to_close(name: &str) -> Result<()> {
    std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink())
        .map(drop)
        .map_err(|source| Error::Io {
            name: name.to_owned(),
            source,
        })
}

/// Where two messages first differ, in words.
pub fn first_difference(got: &[u8], expected: &[u8]) -> String {
    match got.iter().zip(expected).position(|(a, b)| a != b) {
        Some(at) => format!(
            "first wrong at byte {at} ({:#04x} instead of {:#04x})",
            got[at], expected[at]
        ),
        None if got.len() == expected.len() => "identical".to_owned(),
        None => "equal as far as the shorter goes".to_owned(),
    }
}

/// `len` pseudo-random bytes determined by `seed` (SplitMix64), so two processes can agree
/// on a segment's expected contents without sending them to each other.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        bytes.extend_from_slice(&next().to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

fn inject_fault(start: usize) {
    let Ok(fault) = std::env::var(FAULT_ENV) else {
        return;
    };
    let Some((what, at)) = fault.split_once('@') else {
        return;
    };
    if at.parse() != Ok(start) {
        return;
    }
    match what {
        "kill" => {
            let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
        }
        "exit" => std::process::exit(3),
        _ => {}
    }
}

fn trace(start: usize, end: usize) {
    let Some(dir) = std::env::var_os(TRACE_ENV).map(PathBuf::from) else {
        return;
    };
    let _ = std::fs::File::create(dir.join(format!("{start}-{end}.{}", std::process::id())));
    let Some(all) = std::env::var(BARRIER_ENV)
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
    else {
        return;
    };
    let counted = || std::fs::read_dir(&dir).map_or(0, |d| d.count());
    if let Err(arrived) = await_peers(all, counted, PEERS_PATIENCE) {
        eprintln!(
            "worker for words {start}..{end}: only {arrived} of {all} workers ever ran at once"
        );
        std::process::exit(4);
    }
}

/// The two sides of exercise 08's exchange, each in a worker whose standard input is one
/// end of a Unix socket pair (so nothing is ever named in a directory, not even the socket).
mod seal {
    use std::ffi::OsString;
    use std::io::{Read, Write};
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    use super::{Code, Job, pattern};
    use crate::error::{Error, Result};

    /// The byte the receiver sends back once it has written.
    const WROTE: u8 = b'w';

    /// The arguments of a seal job (`None` for the others).
    pub fn args(job: &Job) -> Option<Vec<OsString>> {
        let (command, hold, rest) = match job {
            Job::SealSend {
                hold,
                label,
                len,
                seed,
            } => (
                "seal-send",
                hold,
                vec![label.clone(), len.to_string(), seed.to_string()],
            ),
            Job::SealReceive { hold, seed } => ("seal-receive", hold, vec![seed.to_string()]),
            _ => return None,
        };
        let mut args: Vec<OsString> = vec![command.into()];
        if *hold {
            args.push("--hold".into());
        }
        args.push("--".into());
        args.extend(rest.into_iter().map(OsString::from));
        Some(args)
    }

    /// Standard input, as the Unix socket it is.
    fn socket() -> Result<UnixStream> {
        let fd = std::io::stdin().as_fd().try_clone_to_owned();
        fd.map(UnixStream::from)
            .map_err(|source| io("stdin", source))
    }

    fn io(name: &str, source: std::io::Error) -> Error {
        Error::Io {
            name: name.to_owned(),
            source,
        }
    }

    fn say(line: &str) {
        println!("{line}");
    }

    /// SIGPIPE back to its default action, which kills the process: what a C program (or
    /// a Rust one that restored it) has when it calls a library's `send`.
    fn restore_sigpipe() {
        use nix::sys::signal::{SigHandler, Signal, signal};
        // SAFETY: SIG_DFL installs no handler, so no code of ours runs in a signal context;
        // nothing else in this process relies on SIGPIPE being ignored: a write to a closed
        // pipe or socket without MSG_NOSIGNAL now kills it, which is what this is for.
        let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
    }

    /// Keeps everything until the peer closes the socket (or the test kills us).
    fn hold(socket: &mut UnixStream) {
        say("holding");
        let _ = std::io::copy(socket, &mut std::io::sink());
    }

    pub fn send(code: &Code, label: &str, len: usize, seed: u64, keep: bool) -> Result<()> {
        let mut socket = socket()?;
        let seal = code.seal()?;
        let segment = (seal.create)(label, len)?;
        segment.write_bytes(0, &pattern(seed, len))?;
        if std::env::var_os(super::SIGPIPE_ENV).is_some() {
            restore_sigpipe();
        }
        (seal.send)(&socket, &segment)?;
        say("sent");
        let mut answer = [0u8; 1];
        match socket.read(&mut answer) {
            Ok(1) if answer[0] == WROTE => {}
            Ok(_) => {
                return Err(io(
                    segment.name(),
                    std::io::Error::other("the receiver hung up without writing back"),
                ));
            }
            Err(source) => return Err(io(segment.name(), source)),
        }
        if segment.read_bytes() == pattern(!seed, len) {
            say("saw the write");
        } else {
            say("did not see the write");
        }
        if keep {
            hold(&mut socket);
        }
        Ok(())
    }

    pub fn receive(code: &Code, seed: u64, keep: bool) -> Result<()> {
        let mut socket = socket()?;
        let receive = code.seal()?.receive;
        let free = std::env::var(super::FREE_FDS_ENV).ok();
        let received = match free.and_then(|n| n.parse().ok()) {
            Some(free) => {
                let limit =
                    crate::descriptors::leave_free(free).map_err(|e| io("RLIMIT_NOFILE", e))?;
                let received = receive(&socket);
                crate::descriptors::restore(limit).map_err(|e| io("RLIMIT_NOFILE", e))?;
                received
            }
            None => receive(&socket),
        };
        let segment = match received {
            Ok(segment) => segment,
            Err(error) => {
                say(&format!("refused: {error:?}"));
                let open = crate::descriptors::memfds_open().map_err(|e| io("/proc/self/fd", e))?;
                say(&format!("memfds open: {open}"));
                return Err(error);
            }
        };
        let len = segment.len();
        say(&format!("received {len}"));
        let same = |segment: &crate::Segment| {
            if segment.read_bytes() == pattern(seed, len) {
                "same"
            } else {
                "different"
            }
        };
        say(&format!("pattern: {}", same(&segment)));
        let errno = |result: std::io::Result<()>| match result {
            Ok(()) => "allowed".to_owned(),
            Err(e) => nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0)).to_string(),
        };
        say(&format!(
            "shrink: {}",
            errno(segment.file().set_len(len as u64 / 2))
        ));
        say(&format!(
            "grow: {}",
            errno(segment.file().set_len(len as u64 * 2))
        ));
        let size = segment.file().metadata().map(|m| m.len());
        say(&format!(
            "size after: {}",
            size.map_err(|e| io(segment.name(), e))?
        ));
        // If a resize got through, this read of the whole mapping is where a SIGBUS hits.
        say(&format!("pattern after: {}", same(&segment)));
        segment.write_bytes(0, &pattern(!seed, len))?;
        socket
            .write_all(&[WROTE])
            .map_err(|e| io(segment.name(), e))?;
        say("wrote");
        if keep {
            hold(&mut socket);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A failed worker's error names its job by the label: for a transform, its words and
    /// its segment, which is what tells a learner which range went wrong.
    #[test]
    fn a_transform_jobs_label_names_its_words_and_segment() {
        let job = Job::transform(&SegmentDir::at("/dev/shm"), "demo", 0..250);
        assert_eq!(job.label(), "transform words 0..250 of \"demo\"");
    }

    /// A ring message that arrived wrong is described by its first wrong byte, or as
    /// identical, or as cut short.
    #[test]
    fn a_wrong_message_is_described_by_its_first_difference() {
        assert_eq!(
            first_difference(b"abc", b"abd"),
            "first wrong at byte 2 (0x63 instead of 0x64)"
        );
        assert_eq!(first_difference(b"abc", b"abc"), "identical");
        assert_eq!(
            first_difference(b"ab", b"abc"),
            "equal as far as the shorter goes"
        );
    }

    /// Workers that start together go once all have arrived, more than all too, and not
    /// before: too few is an error with the count, once the patience has run out.
    #[test]
    fn peers_go_together_once_all_have_arrived() {
        let patience = std::time::Duration::from_millis(50);
        assert_eq!(await_peers(3, || 3, patience), Ok(()));
        assert_eq!(await_peers(3, || 4, patience), Ok(()));
        assert_eq!(
            await_peers(3, || 2, patience),
            Err(2),
            "two of three arrived: that is no start, and the error says 2"
        );
    }

    /// `pattern` is SplitMix64, as its docs say: its first words for seed 0 are the
    /// published ones, in little-endian order, cut at any length. (Both sides of a test
    /// compute it, so a changed formula would fail nothing else; a weak one would make
    /// "holds the pattern" an easy answer.)
    #[test]
    fn pattern_is_splitmix64() {
        let mut expected = 0xe220_a839_7b1d_cdaf_u64.to_le_bytes().to_vec();
        expected.extend_from_slice(&0x6e78_9e6a_a1b9_65f4_u64.to_le_bytes());
        assert_eq!(
            pattern(0, 16),
            expected,
            "SplitMix64's first two words for seed 0"
        );
        assert_eq!(
            pattern(0, 11),
            expected[..11],
            "a length cuts the same stream"
        );
        assert_eq!(
            pattern(1_234_567, 8),
            0x599e_d017_fb08_fc85_u64.to_le_bytes(),
            "the seed starts the stream"
        );
        assert!(pattern(7, 0).is_empty());
    }
}
