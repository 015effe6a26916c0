//! `cargo run --release -- demo`: the article's program, end to end, with your exercises
//! 01–04 (or the answers, with `--features solutions`).
//!
//! The runner holds no learner code: `demo` builds and runs `examples/demo.rs` with cargo
//! ([`launch`]), a program that mounts 01–04 (`shm_kata::exercises!`) and calls [`main`]
//! here, so a broken 05 never stops the demo, and a broken 03 stops only the demo.
//!
//! Create a segment of N words in `/dev/shm`, fill it with `0..N`, let W worker processes
//! transform it in place (`transform::run`), check every word, remove the segment, and
//! say how long each step took. An exercise that is not finished yet stops the demo with
//! its name, not with a raw panic; the segment is removed on every way out, Ctrl-C
//! included.
//!
//! Every way but one: a SIGKILL (the OOM killer, `kill -9`, a closed terminal's last
//! resort) runs no cleanup, and leaves up to [`MAX_BYTES`] of RAM in `/dev/shm`. So each
//! demo (and `cargo run`'s overview) first removes the segments dead demos left, by the
//! kit's liveness rule: only a file the kata marked, that belongs to this user, and that
//! no live process holds, as the kernel says ([`remove_dead_demos`]).
//!
//! The demo removes only what it created: its names carry a random part (never the PID,
//! which another PID namespace, or a later process, can have too), removal is armed only
//! once `create` has succeeded, and it happens only while the name still names the file
//! this run made.

use std::fs::{File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use anstream::{eprintln, println};

use super::cargo::{Cargo, Tree};
use super::style::{BAD, CODE, DIM, GOOD, TITLE, paint};
use crate::code::Code;
use crate::pages::{Pages, Policy};
use crate::{Error, Segment, SegmentDir, liveness};

/// The default number of words: 20 MB, enough to time, small enough for any machine.
pub const DEFAULT_LEN: usize = 5_000_000;

/// The largest segment the demo makes (256 MiB): `/dev/shm` is RAM shared by everyone.
pub const MAX_BYTES: usize = 256 << 20;

/// How every name the demo makes in `/dev/shm` begins.
pub const PREFIX: &str = "shm-kata-demo-";

/// The names of every segment the kata's own programs put in `/dev/shm`: the demo's, the
/// classic example's (`examples/classic.rs`), the benchmarks' (`benches/common`) and the
/// tests' (`scratch::system_prefix`). A run of any of them that is killed leaves its
/// segment; the next `cargo run` or `demo` removes it by the rule of [`remove_dead_demos`].
///
/// The tests' own sweep removes what an interrupted test run left in `/dev/shm` through the
/// record in its scratch directory; this catches the rest, a segment whose record went
/// with the scratch (`cargo clean`, a deleted copy of the project).
pub const LEFT_BY_KATA_PROGRAMS: [&str; 4] = [
    PREFIX,
    "shm-kata-classic-",
    "shm-kata-bench-",
    crate::scratch::PREFIX,
];

/// Runs the demo in `dir` (`/dev/shm` unless given: the tests give their own scratch
/// directory); exit status 0 only if every word was right.
///
/// `pages` is what the segment is asked to live on: 2 MiB pages (where the kernel allows),
/// or 4 KiB pages, to compare the two on the same machine.
pub fn run(
    code: &Code,
    len: usize,
    workers: Option<usize>,
    dir: Option<&Path>,
    pages: Policy,
) -> ExitCode {
    let workers = workers.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1)
    });
    let dir = dir.map_or_else(SegmentDir::system, SegmentDir::at);
    crate::pages::set_policy(pages);
    match demo(code, &dir, len, workers) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{} {message}", paint(BAD, "demo:"));
            ExitCode::FAILURE
        }
    }
}

fn demo(code: &Code, dir: &SegmentDir, len: usize, workers: usize) -> Result<(), String> {
    if len == 0 || len > MAX_BYTES / 4 {
        return Err(format!(
            "--len must be between 1 and {} words ({} MiB), not {len}",
            MAX_BYTES / 4,
            MAX_BYTES >> 20
        ));
    }
    if workers == 0 {
        return Err("--workers must be at least 1".into());
    }
    report_dead_demos(dir);
    let name = unique_name();
    let running = match Tree::compiled_in() {
        Tree::Solutions => "the solutions (--features solutions)",
        Tree::Exercises => "your code in exercises/",
    };
    println!(
        "{} {} words ({:.2} MB) in {}, {workers} worker {}, running {code}",
        paint(TITLE, "shm-kata demo:"),
        grouped(len),
        (len * 4) as f64 / 1e6,
        dir.join(&name).display(),
        if workers == 1 { "process" } else { "processes" },
        code = running,
    );
    attempt(|| rehearse(code, dir, &format!("{name}-check")))?;

    let total = Instant::now();
    let started = Instant::now();
    let segment = attempt(|| code.create()?(dir, &name, len * 4))?;
    // Armed only now: a create that failed (say, the name was taken) made nothing of ours.
    let remove = Remove::on_exit(&segment);
    // Atomic stores: safe even if another process attached to the name meanwhile, and
    // as cheap as plain ones for aligned words.
    for (i, word) in segment.atomics().iter().enumerate() {
        word.store(i as u32, Relaxed);
    }
    let filled = started.elapsed();
    row("create + fill", filled, &pages_note(&segment));

    let started = Instant::now();
    attempt(|| code.run()?(dir, &name, workers))?;
    let transformed = started.elapsed();
    let rate = len as f64 / transformed.as_secs_f64();
    row(
        "transform",
        transformed,
        &format!(
            "{:.1} M words/s = {:.0} MB/s, in place, no copy",
            rate / 1e6,
            rate * 4.0 / 1e6
        ),
    );

    let started = Instant::now();
    let wrong = first_wrong_word(&segment);
    row(
        "verify",
        started.elapsed(),
        "every word against 2x + 1 (x even) / 2x (x odd)",
    );
    drop(segment);
    let started = Instant::now();
    drop(remove);
    row(
        "close + remove",
        started.elapsed(),
        &format!("nothing left in {}", dir.path().display()),
    );
    row("total", total.elapsed(), "");
    if let Some((index, found)) = wrong {
        return Err(format!(
            "word {index} is {found}, expected {} (the transform, or the ranges, are off: `cargo test --test 04_transform`)",
            expected(index as u32)
        ));
    }
    println!(
        "{} all {} words are right.",
        paint(GOOD, "Verified:"),
        grouped(len)
    );
    Ok(())
}

/// Calls every exercise the demo needs once, on a tiny segment in-process, so that an
/// unfinished one is reported by name before any worker process starts.
fn rehearse(code: &Code, dir: &SegmentDir, name: &str) -> Result<(), Error> {
    let segment = code.create()?(dir, name, 8)?;
    let _remove = Remove::on_exit(&segment);
    drop(segment);
    drop(code.attach()?(dir, name)?);
    code.partition()?(2, 2);
    code.transform()?(0);
    code.transform_range()?(dir, name, 0..2)
}

/// Which pages the segment got, and the part of it a 2 MiB page could not cover.
fn pages_note(segment: &Segment) -> String {
    match segment.pages() {
        Pages::Huge { bytes } if bytes < segment.len() => format!(
            "{}, the last {:.1} MiB on 4 KiB pages",
            segment.pages(),
            (segment.len() - bytes) as f64 / f64::from(1 << 20)
        ),
        pages => pages.to_string(),
    }
}

fn row(step: &str, took: Duration, note: &str) {
    println!(
        "  {step:<14} {:>10}  {}",
        format!("{:.1} ms", took.as_secs_f64() * 1e3),
        paint(DIM, note)
    );
}

/// `5000000` → `5,000,000`.
fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn expected(x: u32) -> u32 {
    ((2 * u64::from(x) + u64::from(x % 2 == 0)) & 0xFFFF_FFFF) as u32
}

fn first_wrong_word(segment: &Segment) -> Option<(usize, u32)> {
    first_wrong(segment.atomics().iter().map(|word| word.load(Relaxed)))
}

/// The first word of `words` that is not the transform of its index, and its value.
fn first_wrong(words: impl Iterator<Item = u32> + Clone) -> Option<(usize, u32)> {
    // Count first: a loop with no early exit keeps no branch per word waiting on its load;
    // look for the first wrong word only when there is one.
    let wrong = words
        .clone()
        .enumerate()
        .filter(|&(i, w)| w != expected(i as u32))
        .count();
    if wrong == 0 {
        return None;
    }
    words.enumerate().find(|&(i, w)| w != expected(i as u32))
}

/// `shm-kata-demo-` and 16 random hex digits: a name no other demo uses, in this PID
/// namespace or another. (`RandomState` is seeded from the operating system's randomness,
/// so hashing nothing with it is a random number, without a dependency for one.)
fn unique_name() -> String {
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    format!("{PREFIX}{random:016x}")
}

/// Removes the file this run created when dropped, on Ctrl-C too, and only while its
/// name still names that file. (Exercise 06 teaches `unlink`; the demo must not depend on
/// an exercise being finished to clean up.)
struct Remove {
    path: PathBuf,
    /// The segment's file, to recognise it by (a second descriptor of it).
    ours: Option<File>,
}

impl Remove {
    fn on_exit(segment: &Segment) -> Remove {
        let path = segment.path().to_owned();
        super::interrupt::watch_file(path.clone(), segment.file());
        Remove {
            path,
            ours: segment.file().try_clone().ok(),
        }
    }
}

impl Drop for Remove {
    fn drop(&mut self) {
        let still_ours = self
            .ours
            .as_ref()
            .is_some_and(|file| liveness::names_same_file(file, &self.path).unwrap_or(false));
        if still_ours {
            let _ = std::fs::remove_file(&self.path);
        }
        super::interrupt::forget_file(&self.path);
    }
}

/// Removes what dead demos left in `dir` (see [`remove_dead_demos`]) and says so.
pub fn report_dead_demos(dir: &SegmentDir) {
    for (path, len) in remove_dead_demos(dir) {
        println!(
            "{} {} ({:.1} MB), left by a run that was killed",
            paint(DIM, "removed"),
            path.display(),
            len as f64 / 1e6
        );
    }
}

/// Removes the segments in `dir` that demos (or the example and the benchmarks) made and
/// left behind when they were killed, and returns each one's path and length.
///
/// A name is removed only if all of these hold, each asked of the kernel, never of a PID:
/// it begins with one of [`LEFT_BY_KATA_PROGRAMS`]; it is a plain file carrying the kata's mark (which only
/// `create` sets, once it holds its liveness lock); it belongs to this user (run as
/// root, the demo leaves other users' files alone); no live process holds it (the
/// exclusive liveness claim is granted); no other process maps it or has it open, by
/// the kernel's record in `/proc` (a program without the kit, Python's `mmap` say, takes
/// no liveness lock, and may have closed its descriptor: only its mapping is left); and
/// the name still names the file claimed. A `/proc` that cannot be read counts as "in
/// use". The claim is held until after the unlink, so no kata process can attach in
/// between. This is the kit's rule (`liveness`), the same as exercise 06's `sweep`,
/// without depending on that exercise being finished.
pub fn remove_dead_demos(dir: &SegmentDir) -> Vec<(PathBuf, u64)> {
    let Ok(names) = dir.names() else {
        return Vec::new();
    };
    let me = nix::unistd::geteuid().as_raw();
    let mut removed = Vec::new();
    let ours = |name: &&String| LEFT_BY_KATA_PROGRAMS.iter().any(|p| name.starts_with(p));
    for name in names.iter().filter(ours) {
        let path = dir.join(name);
        if !liveness::is_kata_segment(&path) {
            continue; // not a plain file the kata marked: someone else's
        }
        // Our own description (a clone of a holder's would share its lock), writable (an
        // exclusive record lock needs it), never following a link, never blocking.
        let Ok(file) = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags((nix::fcntl::OFlag::O_NOFOLLOW | nix::fcntl::OFlag::O_NONBLOCK).bits())
            .open(&path)
        else {
            continue;
        };
        let Ok(meta) = file.metadata() else { continue };
        let dead = liveness::is_kata_file(&file)
            && meta.uid() == me
            && liveness::claim(&file).unwrap_or(false)
            && matches!(liveness::used_by_another_process(&file), Ok(false))
            && liveness::names_same_file(&file, &path).unwrap_or(false);
        if dead && std::fs::remove_file(&path).is_ok() {
            removed.push((path, meta.len()));
        }
        drop(file); // the claim ends here, after the unlink
    }
    removed
}

/// The last panic's message and location, recorded by a quiet hook.
static PANIC: Mutex<Option<String>> = Mutex::new(None);

/// Runs exercise code; a panic becomes an error naming the exercise to finish.
fn attempt<T>(step: impl FnOnce() -> Result<T, Error>) -> Result<T, String> {
    let loud = panic::take_hook();
    panic::set_hook(Box::new(|info| {
        *PANIC.lock().unwrap_or_else(|p| p.into_inner()) = Some(info.to_string());
    }));
    let result = panic::catch_unwind(AssertUnwindSafe(step));
    panic::set_hook(loud);
    match result {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => {
            let panic = PANIC
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
                .unwrap_or_default();
            Err(explain_panic(&panic))
        }
    }
}

/// `not yet implemented: 03 partition: …` → which exercise to finish, and how.
fn explain_panic(panic: &str) -> String {
    let unfinished = panic
        .split_once(super::outcome::TODO_PANIC)
        .and_then(|(_, rest)| rest.trim_start_matches(':').trim().split_once(':'))
        .map(|(title, _)| title.trim().to_owned());
    let Some(title) = unfinished else {
        return format!("exercise code panicked: {}", panic.trim());
    };
    let test = title.replace(' ', "_");
    format!(
        "exercise {title} is not finished yet ({}).\n  Finish it first: {}  (or see the answers: {})",
        panic.lines().last().unwrap_or_default().trim(),
        paint(CODE, format!("cargo test --test {test}")),
        paint(CODE, "cargo run --release --features solutions -- demo"),
    )
}

/// The demo's own command line (`examples/demo.rs`, after `cargo run -- demo`).
#[derive(Debug, clap::Parser)]
#[command(name = "shm-kata demo")]
pub struct Args {
    /// Words in the segment.
    #[arg(long, default_value_t = DEFAULT_LEN)]
    pub len: usize,
    /// Worker processes (default: the number of cores).
    #[arg(long)]
    pub workers: Option<usize>,
    /// The segment directory (default: /dev/shm): the tests give their own.
    #[arg(long, hide = true)]
    pub dir: Option<PathBuf>,
    /// The segment's pages: `huge` (2 MiB, collapsed where the kernel allows) or `4k`
    /// (default: what SHM_KATA_PAGES says, else huge).
    #[arg(long, value_enum)]
    pub pages: Option<Policy>,
}

/// The `main` of `examples/demo.rs`: a worker's job if this process is one of the demo's
/// workers, else the demo with the command line's arguments.
pub fn main(code: &Code) -> ExitCode {
    use clap::Parser;
    crate::worker::serve_if_asked(code);
    super::interrupt::install();
    let args = Args::parse();
    // The flag, else the environment (SHM_KATA_PAGES), else huge pages.
    let pages = args.pages.unwrap_or_else(crate::pages::policy);
    run(code, args.len, args.workers, args.dir.as_deref(), pages)
}

/// `cargo run -- demo ARGS`: builds and runs `examples/demo.rs` in the runner's own
/// profile (release or debug) and tree, with ARGS.
pub fn launch(args: &[std::ffi::OsString]) -> Result<ExitCode, String> {
    let root = super::root::find(None)?;
    let spinner = super::progress::Spinner::start("building the demo (your exercises 01-04)");
    let built =
        Cargo::new(&root).build_example("demo", Tree::compiled_in(), !cfg!(debug_assertions));
    drop(spinner);
    let program = match built {
        Ok(program) => program,
        Err(output) => {
            return Err(format!(
                "the demo needs exercises 01-04 to compile, and they do not:\n{}\n  See {} for the state of each.",
                output.stderr.trim_end(),
                paint(CODE, "cargo run")
            ));
        }
    };
    let status = std::process::Command::new(&program)
        .args(args)
        .status()
        .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_wrong_word_is_found_with_its_index_and_value() {
        let mut words: Vec<u32> = (0..100).map(expected).collect();
        assert_eq!(first_wrong(words.iter().copied()), None);
        words[70] = 1;
        words[7] = 5;
        assert_eq!(first_wrong(words.iter().copied()), Some((7, 5)));
        words[0] = 9;
        assert_eq!(first_wrong(words.iter().copied()), Some((0, 9)));
    }

    #[test]
    fn a_todo_panic_names_the_exercise_to_finish() {
        let panic = "panicked at exercises/03_partition.rs:20:5:\nnot yet implemented: 03 partition: split 0..2 into 2 balanced ranges";
        let message = explain_panic(panic);
        assert!(
            message.contains("exercise 03 partition is not finished yet"),
            "{message}"
        );
        assert!(
            message.contains("cargo test --test 03_partition"),
            "{message}"
        );
    }

    #[test]
    fn another_panic_is_shown_as_it_is() {
        let message =
            explain_panic("panicked at exercises/03_partition.rs:9:1:\nattempt to divide by zero");
        assert!(message.starts_with("exercise code panicked"), "{message}");
        assert!(message.contains("divide by zero"), "{message}");
    }

    /// A segment directory of the test's own, in a locked scratch directory under the
    /// crate's `target/tmp` (unit tests get no `CARGO_TARGET_TMPDIR`), removed when
    /// dropped; what an interrupted run left there, the next run's sweep removes.
    fn scratch() -> (crate::scratch::ScratchDir, SegmentDir) {
        use crate::scratch;
        use std::sync::Once;
        static SWEEP: Once = Once::new();
        let base = scratch::base(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/target/tmp"
        )));
        SWEEP.call_once(|| {
            scratch::sweep(&base);
        });
        let tmp = scratch::ScratchDir::new(&base).unwrap();
        let dir = SegmentDir::at(tmp.path());
        (tmp, dir)
    }

    /// A stand-in for exercise 01's `create` (the kit holds no learner code): a new file
    /// only, its length set, mapped, made a segment of the kata's.
    fn create(dir: &SegmentDir, name: &str, len: usize) -> Result<Segment, Error> {
        let path = dir.join(name);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| Error::io(dir.path(), name, e))?;
        file.set_len(len as u64).unwrap();
        // SAFETY: the file was created a moment ago by this test, which nobody else knows
        // of, and it stays open (inside the segment) for as long as the map lives.
        let map = unsafe { memmap2::MmapMut::map_mut(&file) }.unwrap();
        Segment::from_created(dir, name, file, map)
    }

    #[test]
    fn a_demo_whose_create_fails_leaves_the_file_that_had_the_name() {
        let (_tmp, dir) = scratch();
        let name = format!("{PREFIX}taken");
        std::fs::write(dir.join(&name), b"someone else's").unwrap();
        let code = Code {
            create: Some(create),
            ..Code::default()
        };
        let result = rehearse(&code, &dir, &name);
        assert!(
            matches!(result, Err(Error::AlreadyExists { .. })),
            "{result:?}"
        );
        assert_eq!(
            std::fs::read(dir.join(&name)).ok().as_deref(),
            Some(&b"someone else's"[..]),
            "a create that failed made nothing of ours to remove"
        );
    }

    #[test]
    fn the_demo_removes_its_segment_only_while_the_name_still_names_it() {
        let (_tmp, dir) = scratch();
        let name = format!("{PREFIX}replaced");
        let segment = create(&dir, &name, 8).unwrap();
        let remove = Remove::on_exit(&segment);
        drop(segment);
        std::fs::remove_file(dir.join(&name)).unwrap();
        std::fs::write(dir.join(&name), b"a newcomer's").unwrap();
        drop(remove);
        assert_eq!(
            std::fs::read(dir.join(&name)).ok().as_deref(),
            Some(&b"a newcomer's"[..]),
            "the name names another file now: not ours to remove"
        );
    }

    /// A demo segment nobody holds any more is removed by the next demo, but only if it
    /// is this user's: as root, another user's dead segment is left alone.
    #[test]
    fn a_dead_demo_segment_is_removed_only_if_it_is_ours() {
        use std::os::unix::fs::MetadataExt;
        let (_tmp, dir) = scratch();
        let (ours, theirs) = (format!("{PREFIX}dead-ours"), format!("{PREFIX}dead-theirs"));
        drop(create(&dir, &ours, 8).unwrap());
        drop(create(&dir, &theirs, 8).unwrap());
        let root = nix::unistd::geteuid().is_root();
        if root {
            // nobody (65534): a user that is not this one.
            let nobody = Some(nix::unistd::Uid::from_raw(65534));
            nix::unistd::chown(&dir.join(&theirs), nobody, None).unwrap();
        }
        // A process another test forks meanwhile holds a copy of every mapping of this
        // one until it runs its program: "used by another process", for that moment.
        let mut removed: Vec<PathBuf> = Vec::new();
        for _ in 0..100 {
            removed.extend(remove_dead_demos(&dir).into_iter().map(|r| r.0));
            if removed.contains(&dir.join(&ours)) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(removed, vec![dir.join(&ours)], "only our own dead segment");
        if root {
            let owner = std::fs::metadata(dir.join(&theirs)).unwrap().uid();
            assert_eq!(owner, 65534, "another user's dead segment is left alone");
        }
        let _ = std::fs::remove_file(dir.join(&theirs));
    }

    /// Without `--pages`, the demo takes SHM_KATA_PAGES: a default of its own would
    /// silently override it.
    #[test]
    fn the_demo_has_no_page_default_of_its_own() {
        use clap::Parser;
        let args = Args::try_parse_from(["demo"]).unwrap();
        assert_eq!(args.pages, None);
        let args = Args::try_parse_from(["demo", "--pages", "4k"]).unwrap();
        assert_eq!(args.pages, Some(Policy::Small));
    }

    #[test]
    fn demo_names_are_random_not_the_pid() {
        let (a, b) = (unique_name(), unique_name());
        assert_ne!(a, b);
        for name in [a, b] {
            assert!(name.starts_with(PREFIX), "{name}");
            let suffix = &name[PREFIX.len()..];
            assert_eq!(suffix.len(), 16, "{name}");
            assert_ne!(suffix, std::process::id().to_string(), "{name}");
        }
    }

    #[test]
    fn big_numbers_are_grouped_by_thousands() {
        assert_eq!(grouped(5_000_000), "5,000,000");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
    }

    #[test]
    fn the_expected_word_wraps() {
        assert_eq!(expected(0), 1);
        assert_eq!(expected(3), 6);
        assert_eq!(expected(u32::MAX), u32::MAX - 1);
    }
}
