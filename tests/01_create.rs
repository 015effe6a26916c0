//! Exercise 01 · create. Open `exercises/01_create.rs`; hint: `cargo run -- hint 1`.

// The exercises these tests use: yours, or the answers with `--features solutions`.
shm_kata::exercises!(create);

mod common;

use std::io::{BufRead, Read};
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

use crate::create::{create, validate_name};
use common::{Scratch, WORKER_LIMIT, cases, run_bounded, use_this_builds_worker, wait_bounded};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use shm_kata::job::Job;
use shm_kata::liveness::{MARK, is_kata_segment, names_same_file};
use shm_kata::{Error, Segment, SegmentDir};

/// The racing worker's segment length (long enough that growing it takes a while), and
/// how many rounds this process takes the contended name from under the worker.
const RACER_LEN: usize = 1 << 20;
const RACER_ROUNDS: u32 = 200;

/// A length no file system here can hold: 1 PiB.
const HUGE: usize = 1 << 50;

/// What to say when a refused create left the name without the file that had it.
fn removed_the_existing_file(name: &str) -> String {
    format!(
        "a create that fails with AlreadyExists removed the existing file {name:?}: only \
         remove a file this call created (the open failed, so this call created nothing)"
    )
}

/// Names that must never become a file, each with the rule it breaks. Every one is
/// relative to the segment directory or absolute into a place that already exists, so a
/// `create` that forgets a rule fails the test without touching anything outside it.
const BAD_NAMES: &[(&str, &str)] = &[
    ("", "refuse the empty name"),
    (".", "refuse '.' and '..': they name directories"),
    ("..", "refuse '.' and '..': they name directories"),
    ("/", "refuse names containing '/'"),
    ("a/b", "refuse names containing '/'"),
    ("../escape", "refuse names containing '/'"),
    ("nul\0byte", "refuse names containing a NUL byte"),
    ("trailing/", "refuse names containing '/'"),
];

/// `create(dir, name, len)`, which the test needs to succeed; if it fails, a message that
/// shows the error as the learner would read it (its Display, not its Debug) and, where
/// the error betrays a common slip, names it.
fn try_create(dir: &SegmentDir, name: &str, len: usize) -> Result<Segment, String> {
    create(dir, name, len).map_err(|error| should_have_succeeded(name, len, &error))
}

/// Like [`try_create`], for a test outside `proptest!`.
fn created(dir: &SegmentDir, name: &str, len: usize) -> Segment {
    try_create(dir, name, len).unwrap_or_else(|message| panic!("{message}"))
}

/// Prints each panic of a test once: proptest runs a case that panics (a `todo!()` still
/// in `create`, an `unwrap`) again at every shrinking step, and the learner should read
/// the message once, not a hundred times. Repeats (same test, same place) stay silent;
/// proptest's own report still quotes the message of the smallest failing case.
fn print_each_panic_once() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let print = std::panic::take_hook();
        let seen = std::sync::Mutex::new(std::collections::HashSet::new());
        std::panic::set_hook(Box::new(move |info| {
            let test = std::thread::current().name().map(str::to_owned);
            let place = info.location().map(ToString::to_string);
            if seen
                .lock()
                .map_or(true, |mut seen| seen.insert((test, place)))
            {
                print(info);
            }
        }));
    });
}

/// Inside `proptest!`: a failed case that says why, once (a panic would be printed again
/// at every shrinking step).
fn fail(message: String) -> TestCaseError {
    TestCaseError::fail(message)
}

/// What to say when `create(name, len)` failed with `error` but should have succeeded.
fn should_have_succeeded(name: &str, len: usize, error: &Error) -> String {
    let cause = likely_cause(name, error);
    format!("create({name:?}, {len}) should succeed, but it failed: {error}{cause}")
}

/// The slip behind a `PermissionDenied` from a `create` in a directory of the test's own.
const NO_READ_ACCESS: &str = "\nLikely cause: the file is not open for reading AND writing. \
    mmap with MAP_SHARED and PROT_READ|PROT_WRITE needs both: .read(true).write(true) on the \
    OpenOptions.";

/// The slip that an `error` from `create(name, …)` betrays, if it betrays one, as a line
/// to add to the message; else nothing.
fn likely_cause(name: &str, error: &Error) -> &'static str {
    match error {
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied => {
            NO_READ_ACCESS
        }
        Error::InvalidName { .. } if validate_name(name).is_ok() => {
            "\nvalidate_name accepts this name, yet create refused it: create must call \
             validate_name first, and refuse nothing else as a name."
        }
        _ if open_error_mapped_by_hand(error) => {
            "\nThis is an open error wrapped by hand: map open errors with \
             Error::io(dir.path(), name, e), which makes EEXIST Error::AlreadyExists."
        }
        _ => "",
    }
}

/// The likely slip behind a `create` that failed in a worker process, which printed its
/// error (the Display) on standard error.
fn likely_cause_in_worker(stderr: &str) -> &'static str {
    if stderr.contains("Permission denied") {
        NO_READ_ACCESS
    } else {
        ""
    }
}

/// A result as the learner reads it: the error's Display, or the segment's length.
fn describe(result: &Result<Segment, Error>) -> String {
    match result {
        Ok(segment) => format!("Ok (a segment of {} bytes)", segment.len()),
        Err(error) => format!("Err({error})"),
    }
}

/// What to say when `create(name)` gave `result` but should have refused the name
/// because it breaks `rule`; `None` if it did refuse it.
fn refusal_failure(name: &str, result: &Result<Segment, Error>, rule: &str) -> Option<String> {
    if matches!(result, Err(Error::InvalidName { .. })) {
        return None;
    }
    Some(match validate_name(name) {
        Err(refused) => format!(
            "validate_name refuses {name:?} ({refused}), but create gave {}: create must call \
             validate_name first",
            describe(result)
        ),
        Ok(()) => format!(
            "{name:?} must be Error::InvalidName ({rule}), got {}",
            describe(result)
        ),
    })
}

/// Whether an error from the open shows the `io::Error` wrapped by hand instead of
/// through `Error::io`, which gives each open failure its own variant.
fn open_error_mapped_by_hand(error: &Error) -> bool {
    matches!(error, Error::Io { source, .. }
        if source.kind() == std::io::ErrorKind::AlreadyExists
            || source.raw_os_error() == Some(nix::libc::ELOOP))
}

proptest! {
    #![proptest_config(cases(24))]

    /// The file behind a new segment has exactly the requested length and reads as zeros.
    #[test]
    fn created_segment_has_the_requested_length_and_is_zeroed(len in 1usize..1 << 20) {
        print_each_panic_once();
        let scratch = Scratch::new();
        let segment = try_create(&scratch.dir, "seg", len).map_err(fail)?;
        prop_assert_eq!(segment.len(), len, "Segment::len() should be the length you asked for");
        let on_disk = std::fs::metadata(scratch.dir.join("seg")).unwrap().len();
        prop_assert_eq!(on_disk, len as u64,
            "the file must have the requested length before it is mapped: did you call set_len?");
        prop_assert!(segment.read_bytes().iter().all(|&b| b == 0), "a new segment should read as zeros");
        drop(segment);
        scratch.remove("seg");
        scratch.finish();
    }

    /// Whatever is written through the mapping is in the file: the segment *is* the file.
    #[test]
    fn writes_through_the_segment_land_in_the_file(bytes in prop::collection::vec(any::<u8>(), 1..4096)) {
        print_each_panic_once();
        let scratch = Scratch::new();
        let segment = try_create(&scratch.dir, "seg", bytes.len()).map_err(fail)?;
        segment.write_bytes(0, &bytes).unwrap();
        let in_file = std::fs::read(scratch.dir.join("seg")).unwrap();
        prop_assert_eq!(in_file, bytes, "the file and the mapping must be the same bytes (MAP_SHARED)");
        drop(segment);
        scratch.remove("seg");
        scratch.finish();
    }

    /// Plain names (letters, digits, `.`, `_`, `-`, up to 255 bytes) are accepted as they are.
    #[test]
    fn plain_names_are_accepted(name in "[a-zA-Z0-9_-][a-zA-Z0-9._-]{0,254}") {
        print_each_panic_once();
        let scratch = Scratch::new();
        let segment = try_create(&scratch.dir, &name, 8)
            .map_err(|e| fail(format!("{name:?} is a fine name. {e}")))?;
        drop(segment);
        prop_assert_eq!(scratch.names(), vec![name.clone()], "the file should be named exactly {:?}", name);
        scratch.remove(&name);
        scratch.finish();
    }

    /// A name with a `/` or a NUL anywhere is refused, and nothing is created.
    ///
    /// (The name never starts with the `/`: a `create` without the check would then make
    /// a file at the root of the file system.)
    #[test]
    fn names_with_a_slash_or_nul_are_refused(head in "[a-z]{1,8}", bad in prop::sample::select(vec!['/', '\0']), tail in "[a-z]{0,8}") {
        print_each_panic_once();
        let scratch = Scratch::new();
        let name = format!("{head}{bad}{tail}");
        let result = create(&scratch.dir, &name, 8);
        let rule = if bad == '/' { "refuse names containing '/'" } else { "refuse names containing a NUL byte" };
        if let Some(message) = refusal_failure(&name, &result, rule) {
            return Err(fail(message));
        }
        prop_assert!(scratch.names().is_empty(), "nothing may be created for a bad name");
        scratch.finish();
    }

    /// `NAME_MAX` counts bytes, not characters: a name is accepted exactly when its UTF-8
    /// form has at most 255 bytes. 128 × `é` is 128 characters but 256 bytes: too long.
    #[test]
    fn the_name_limit_counts_bytes_not_characters(
        wide in prop::sample::select(vec!['é', '€', '🦀']),
        bytes in 200usize..320,
    ) {
        print_each_panic_once();
        let scratch = Scratch::new();
        // `bytes` bytes: as many `wide` characters as fit, padded with `a`.
        let mut name = wide.to_string().repeat(bytes / wide.len_utf8());
        name.push_str(&"a".repeat(bytes - name.len()));
        if name.len() <= 255 {
            let segment = try_create(&scratch.dir, &name, 8).map_err(|e| fail(format!(
                "a name of {} bytes ({} characters) fits NAME_MAX. {e}",
                name.len(), name.chars().count())))?;
            drop(segment);
            scratch.remove(&name);
        } else {
            let result = create(&scratch.dir, &name, 8);
            let rule = format!("{} characters but {} bytes: NAME_MAX counts bytes, not \
                characters (use name.len(), not name.chars().count())",
                name.chars().count(), name.len());
            if let Some(message) = refusal_failure(&name, &result, &rule) {
                return Err(fail(message));
            }
            prop_assert!(scratch.names().is_empty(), "nothing may be created for a name that is too long");
        }
        scratch.finish();
    }
}

/// The permission bits of the file at `path`.
fn mode_of(path: impl AsRef<std::path::Path>) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// `0600`: only the owner can attach to the memory.
#[test]
fn created_segment_is_private_to_its_owner() {
    let scratch = Scratch::new();
    let segment = created(&scratch.dir, "private", 64);
    let mode = mode_of(segment.path());
    assert_eq!(
        format!("{mode:o}"),
        "600",
        "open the file with .mode(0o600): got {mode:o}, so others could read your memory"
    );
    drop(segment);
    scratch.remove("private");
    scratch.finish();
}

/// The new segment's file carries the kata's mark (`liveness::MARK`): that is how a later
/// sweep tells the kata's segments from every other file in `/dev/shm`.
#[test]
fn created_segment_is_marked_as_the_katas() {
    let scratch = Scratch::new();
    let probe = scratch.dir.join("probe");
    std::fs::write(&probe, b"").unwrap();
    let xattrs = rustix::fs::setxattr(&probe, "user.probe", b"1", rustix::fs::XattrFlags::empty());
    std::fs::remove_file(&probe).unwrap();
    if xattrs.is_err() {
        eprintln!(
            "skipped: {} has no user extended attributes, so no segment there can be marked",
            scratch.dir.path().display()
        );
        return scratch.finish();
    }
    let segment = created(&scratch.dir, "marked", 64);
    assert!(
        is_kata_segment(segment.path()),
        "the new segment's file does not carry the kata's mark ({MARK}): finish with \
         Segment::from_created, not Segment::from_parts, or exercise 06's sweep will never \
         remove it once it is orphaned"
    );
    drop(segment);
    scratch.remove("marked");
    scratch.finish();
}

/// `create` never reuses a name, and the segment already there keeps its bytes.
#[test]
fn create_refuses_an_existing_name_and_leaves_it_untouched() {
    let scratch = Scratch::new();
    let first = created(&scratch.dir, "taken", 16);
    first.write_bytes(0, b"keep these bytes").unwrap();
    let second = create(&scratch.dir, "taken", 4096);
    assert!(
        !second.as_ref().is_err_and(open_error_mapped_by_hand),
        "the open failed because the name is taken, but create gave {}: map open errors \
         with Error::io(dir.path(), name, e), which makes that Error::AlreadyExists",
        describe(&second)
    );
    assert!(
        matches!(&second, Err(Error::AlreadyExists { name, .. }) if name == "taken"),
        "a second create of \"taken\" must be Error::AlreadyExists (use create_new(true), i.e. O_EXCL), got {}",
        describe(&second)
    );
    assert!(
        names_same_file(first.file(), first.path()).unwrap_or(false),
        "{}",
        removed_the_existing_file("taken")
    );
    assert_eq!(
        std::fs::read(first.path()).unwrap(),
        b"keep these bytes",
        "the existing segment must not be truncated or resized by a failed create"
    );
    drop(first);
    scratch.remove("taken");
    scratch.finish();
}

/// Every bad name is a typed error and creates nothing, inside the directory or outside.
#[test]
fn every_bad_name_is_an_invalid_name_error_and_creates_nothing() {
    let scratch = Scratch::new();
    // Segments one level down, so that a name escaping with ".." lands where the test
    // sees it (and removes it with the scratch directory).
    let inner = scratch.dir.join("segments");
    std::fs::create_dir(&inner).unwrap();
    let dir = SegmentDir::at(&inner);
    // An absolute name that points back into the scratch directory: `join` replaces the
    // directory with an absolute name, so it would land there.
    let absolute = scratch.dir.join("absolute").display().to_string();
    let too_long = "x".repeat(256);
    let too_long_in_bytes = "é".repeat(128);
    let extra = [
        (absolute.as_str(), "refuse names containing '/'"),
        (too_long.as_str(), "refuse names over 255 bytes"),
        (
            too_long_in_bytes.as_str(),
            "128 characters but 256 bytes: NAME_MAX counts bytes, not characters",
        ),
    ];
    for &(name, rule) in BAD_NAMES.iter().chain(&extra) {
        let result = create(&dir, name, 8);
        if let Some(message) = refusal_failure(name, &result, rule) {
            panic!("{message}");
        }
        let inside = dir.names().unwrap();
        assert!(
            inside.is_empty(),
            "nothing may be created for a bad name, but {name:?} left {inside:?}"
        );
        assert_eq!(
            scratch.names(),
            ["segments"],
            "{name:?} created a file outside the segment directory ({rule})"
        );
    }
    std::fs::remove_dir(&inner).unwrap();
    scratch.finish();
}

/// A name of exactly 255 bytes is the longest allowed, and allowed.
#[test]
fn a_name_of_255_bytes_is_allowed() {
    let scratch = Scratch::new();
    let name = "n".repeat(255);
    let segment = try_create(&scratch.dir, &name, 8)
        .unwrap_or_else(|e| panic!("255 bytes is NAME_MAX and must be accepted. {e}"));
    drop(segment);
    scratch.remove(&name);
    scratch.finish();
}

/// Zero bytes cannot be mapped: a typed error, and no file.
#[test]
fn zero_length_is_an_error_and_creates_nothing() {
    let scratch = Scratch::new();
    let result = create(&scratch.dir, "empty", 0);
    assert!(
        matches!(result, Err(Error::ZeroLength { .. })),
        "len 0 must be Error::ZeroLength, got {}",
        describe(&result)
    );
    assert!(
        scratch.names().is_empty(),
        "check len before creating the file: found {:?}",
        scratch.names()
    );
    scratch.finish();
}

/// A symlink planted at the name is not followed: its target stays untouched.
#[test]
fn a_symlink_planted_at_the_name_is_not_followed() {
    let scratch = Scratch::new();
    let victim = common::scratch_file();
    std::fs::write(victim.path(), b"precious").unwrap();
    std::os::unix::fs::symlink(victim.path(), scratch.dir.join("trap")).unwrap();
    let result = create(&scratch.dir, "trap", 4096);
    assert!(
        !result.as_ref().is_err_and(open_error_mapped_by_hand),
        "the open refused the symlink, but create gave {}: map open errors with \
         Error::io(dir.path(), name, e), which makes that Error::AlreadyExists or Error::NotAFile",
        describe(&result)
    );
    assert!(
        matches!(
            result,
            Err(Error::AlreadyExists { .. } | Error::NotAFile { .. })
        ),
        "a symlink at the name must make create fail (O_EXCL + O_NOFOLLOW), got {}",
        describe(&result)
    );
    assert!(
        std::fs::symlink_metadata(scratch.dir.join("trap")).is_ok(),
        "{}",
        removed_the_existing_file("trap")
    );
    assert_eq!(
        std::fs::read(victim.path()).unwrap(),
        b"precious",
        "the symlink's target was modified: create followed a link it should have refused"
    );
    scratch.remove("trap");
    scratch.finish();
}

/// Dropping a segment closes it; the name and its bytes stay for others to attach to.
#[test]
fn dropping_a_segment_closes_it_but_keeps_the_name() {
    let scratch = Scratch::new();
    let segment = created(&scratch.dir, "stays", 5);
    segment.write_bytes(0, b"hello").unwrap();
    drop(segment);
    assert_eq!(
        scratch.names(),
        ["stays"],
        "drop closes (unmaps); only an unlink removes the name"
    );
    assert_eq!(std::fs::read(scratch.dir.join("stays")).unwrap(), b"hello");
    scratch.remove("stays");
    scratch.finish();
}

/// `0600` is asked for, not inherited: under the common umask `022`, a create that
/// relies on the umask would make the segment readable by everyone.
#[test]
fn created_segment_is_private_even_under_a_permissive_umask() {
    use_this_builds_worker();
    let scratch = Scratch::new();
    let job = Job::Create {
        dir: scratch.dir.path().to_owned(),
        name: "umask".into(),
        len: 64,
    };
    let creator = run_bounded(job.command(), WORKER_LIMIT, "the creating worker");
    assert!(
        creator.status.success(),
        "create failed in a worker process:\n{}{}",
        creator.stderr,
        likely_cause_in_worker(&creator.stderr)
    );
    let mode = mode_of(scratch.dir.join("umask"));
    assert_eq!(
        format!("{mode:o}"),
        "600",
        "under umask 022 the segment got mode {mode:o}: ask for .mode(0o600) when you open it"
    );
    scratch.remove("umask");
    scratch.finish();
}

/// A create that fails after opening the file (here: a length the file system refuses)
/// removes what it made.
#[test]
fn a_failed_create_leaves_nothing_behind() {
    let scratch = Scratch::new();
    let result = create(&scratch.dir, "huge", HUGE);
    assert!(
        result.is_err(),
        "a 1 PiB segment cannot be made on this file system, yet create succeeded"
    );
    assert!(
        scratch.names().is_empty(),
        "create failed ({}) but left {:?} behind: remove the file when a step after the open fails",
        describe(&result),
        scratch.names()
    );
    scratch.finish();
}

/// A length the file system refuses is "no room", whichever step refuses it: `set_len`
/// past the largest file it can hold (`EFBIG`, as ext4 does at 1 PiB) or
/// `posix_fallocate` running out of pages (`ENOSPC`, as a tmpfs does).
#[test]
fn a_length_the_file_system_refuses_is_no_space() {
    let scratch = Scratch::new();
    let result = create(&scratch.dir, "huge", HUGE);
    assert!(
        matches!(result, Err(Error::NoSpace { .. })),
        "a 1 PiB segment in {} must be Error::NoSpace, got {}: a length the file system \
         refuses is no room, also when set_len refuses it (io::ErrorKind::FileTooLarge, EFBIG)",
        scratch.dir.path().display(),
        describe(&result)
    );
    scratch.finish();
}

/// Names that start with a dot are plain names too: only `.` and `..` are not.
#[test]
fn names_starting_with_a_dot_are_accepted() {
    let scratch = Scratch::new();
    for name in [".hidden", "..double", "...", ".-", ".x.."] {
        let segment = try_create(&scratch.dir, name, 8).unwrap_or_else(|e| {
            panic!("{name:?} is a plain name: only \".\" and \"..\" name directories. {e}")
        });
        drop(segment);
        scratch.remove(name);
    }
    scratch.finish();
}

/// On a tmpfs, a segment larger than the file system is refused up front with
/// `Error::NoSpace`, instead of a SIGBUS when a page that cannot exist is first touched.
#[test]
fn a_segment_larger_than_shared_memory_is_no_space() {
    let dir = SegmentDir::system();
    let stat =
        nix::sys::statvfs::statvfs(dir.path()).expect("statvfs on the shared-memory directory");
    let size = stat.blocks() as u64 * stat.fragment_size() as u64;
    assert!(
        size > 0,
        "{} reports no size limit, so this test cannot overflow it",
        dir.path().display()
    );
    let name = format!("shm-kata-test-nospace-{}", std::process::id());
    let result = create(&dir, &name, (2 * size) as usize);
    let leftover = dir.join(&name).exists();
    let _ = std::fs::remove_file(dir.join(&name));
    assert!(
        matches!(result, Err(Error::NoSpace { .. })),
        "a segment twice the size of {} ({} bytes) must be Error::NoSpace (reserve the pages with \
         posix_fallocate), got {}",
        dir.path().display(),
        2 * size,
        describe(&result)
    );
    assert!(
        !leftover,
        "the refused segment was left behind: remove it when posix_fallocate fails"
    );
}

/// A failing `create` removes its file only while the name still names that file: it
/// never removes a segment another process made under the same name meanwhile.
///
/// A worker process calls `create("contended")` again and again. In each round this
/// process frees the name, waits for the worker to take it, and takes it back while the
/// worker's `create` is still growing its file: removes the worker's file and creates its
/// own segment there. The worker's `create` then fails after its open (registration finds
/// that the name no longer names its file), and a `create` that removes `dir.join(name)`
/// without looking removes *this* process's live segment: in one round of two when
/// the machine is idle, one in twenty under load.
#[test]
fn a_failing_create_never_removes_a_segment_another_process_made_meanwhile() {
    use_this_builds_worker();
    let scratch = Scratch::new();
    let name = "contended";
    let path = scratch.dir.join(name);
    // First, one create in a worker process: a create that cannot succeed at all would
    // make the race below wait in vain (the racing worker keeps no account of its errors).
    let once = Job::Create {
        dir: scratch.dir.path().to_owned(),
        name: name.into(),
        len: RACER_LEN,
    };
    let creator = run_bounded(once.command(), WORKER_LIMIT, "the creating worker");
    let _ = std::fs::remove_file(&path);
    assert!(
        creator.status.success(),
        "before the race: create({name:?}, {RACER_LEN}) fails in a worker process, so the \
         racing worker's creates would all fail too:\n{}{}",
        creator.stderr,
        likely_cause_in_worker(&creator.stderr)
    );
    let job = Job::CreateRepeatedly {
        dir: scratch.dir.path().to_owned(),
        name: name.into(),
        len: RACER_LEN,
    };
    let mut racer = job
        .command()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start the racing worker");
    let mut ready = String::new();
    let _ = shm_kata::worker::stdout_of(&mut racer).read_line(&mut ready);
    let deadline = std::time::Instant::now() + WORKER_LIMIT;
    let (mut rounds, mut lost) = (0u32, 0u32);
    while rounds < RACER_ROUNDS && ready.trim() == "ready" {
        // Free the name, and wait for the worker to take it: its `create` has just opened
        // its file, and is busy growing it.
        let _ = std::fs::remove_file(&path);
        while std::fs::symlink_metadata(&path).is_err() {
            let gone = racer.try_wait().expect("try_wait on the racing worker");
            if gone.is_some() || std::time::Instant::now() > deadline {
                let _ = racer.kill();
                let _ = racer.wait();
                let mut stderr = String::new();
                let _ = racer.stderr.take().unwrap().read_to_string(&mut stderr);
                let _ = std::fs::remove_file(&path);
                let what = match gone {
                    Some(status) => format!("the racing worker exited ({status})"),
                    None => format!(
                        "the racing worker did not take the name \"{name}\" within \
                         {WORKER_LIMIT:?}: do its creates fail?"
                    ),
                };
                panic!("{what}:\n{stderr}");
            }
        }
        // Take the name from under it, and make a segment of our own there.
        let _ = std::fs::remove_file(&path);
        match create(&scratch.dir, name, 4096) {
            Ok(segment) => {
                rounds += 1;
                if !names_same_file(segment.file(), &path).unwrap_or(false) {
                    lost += 1;
                }
            }
            // Our own file vanished between our open and our registration.
            Err(Error::NotFound { .. }) => {
                rounds += 1;
                lost += 1;
            }
            // The worker took the name back first: try again.
            Err(Error::AlreadyExists { .. }) => {}
            Err(error) => {
                let _ = racer.kill();
                let _ = racer.wait();
                let _ = std::fs::remove_file(&path);
                panic!(
                    "in the race, create({name:?}) may fail only with AlreadyExists (the worker \
                     took the name first) or NotFound (its own file was removed), but it \
                     failed: {error}{}",
                    likely_cause(name, &error)
                );
            }
        }
    }
    drop(racer.stdin.take()); // the worker stops at the end of its input
    let status = wait_bounded(&mut racer, WORKER_LIMIT, "the racing worker");
    let mut stderr = String::new();
    let _ = racer.stderr.take().unwrap().read_to_string(&mut stderr);
    let _ = std::fs::remove_file(&path);
    assert!(
        status.success() && ready.trim() == "ready",
        "the racing worker failed ({status}):\n{stderr}"
    );
    assert_eq!(
        lost, 0,
        "a failed create removed a segment another process had just made under the same name \
         ({lost} of {rounds} of this process's segments vanished while it held them). If the \
         open failed, remove nothing: this call made nothing. If a later step failed, remove \
         the file only if the name still names the file you opened \
         (liveness::names_same_file)"
    );
    scratch.finish();
}
