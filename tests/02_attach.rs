//! Exercise 02 · attach. Open `exercises/02_attach.rs`; hint: `cargo run -- hint 2`.
//! (These tests create their segments with your `create` from 01.)

// The exercises these tests use: yours, or the answers with `--features solutions`.
shm_kata::exercises!(create, attach);

mod common;

use crate::attach::attach;
use crate::create::create;
use common::{Scratch, WORKER_LIMIT, process_cases, run_bounded, use_this_builds_worker};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use shm_kata::Error;
use shm_kata::job::{Job, pattern};

proptest! {
    #![proptest_config(process_cases(12))]

    /// Another process, started from the worker binary, attaches by name and reads exactly
    /// the bytes this process wrote.
    #[test]
    fn attach_sees_what_create_wrote_from_another_process(len in 1usize..1 << 16, seed in any::<u64>()) {
        use_this_builds_worker();
        let scratch = Scratch::new();
        let segment = create_in_a_property(&scratch, "shared", len)?;
        segment.write_bytes(0, &pattern(seed, len)).unwrap();
        let job = Job::Read { dir: scratch.dir.path().to_owned(), name: "shared".into() };
        let reader = run_bounded(job.command(), WORKER_LIMIT, "the reading worker");
        prop_assert!(reader.status.success(),
            "the worker process could not attach and read the segment; it said:\n{}{}",
            reader.stderr, advice(&reader.stderr));
        prop_assert!(reader.stdout == pattern(seed, len),
            "the other process read {} bytes that differ from the {} this process wrote: \
             does attach map the whole file, read + write, without creating it?",
            reader.stdout.len(), len);
        drop(segment);
        scratch.remove("shared");
        scratch.finish();
    }

    /// Writes made by another process show up in this process's mapping, with no re-attach
    /// and no copy: both map the same pages.
    #[test]
    fn writes_from_another_process_are_visible_to_the_creator(len in 1usize..1 << 16, seed in any::<u64>()) {
        use_this_builds_worker();
        let scratch = Scratch::new();
        let segment = create_in_a_property(&scratch, "shared", len)?;
        let job = Job::Fill { dir: scratch.dir.path().to_owned(), name: "shared".into(), seed };
        let writer = run_bounded(job.command(), WORKER_LIMIT, "the writing worker");
        prop_assert!(writer.status.success(),
            "the worker process could not attach and write; it said:\n{}{}",
            writer.stderr, advice(&writer.stderr));
        prop_assert!(segment.read_bytes() == pattern(seed, len),
            "this process's mapping does not show what the other process wrote: the mapping must \
             be shared (MmapMut::map_mut on a file opened read + write)");
        drop(segment);
        scratch.remove("shared");
        scratch.finish();
    }

    /// The attacher does not choose the size: it is the file's.
    #[test]
    fn attach_takes_the_size_from_the_file(len in 1usize..1 << 20) {
        let scratch = Scratch::new();
        let created = create_in_a_property(&scratch, "sized", len)?;
        let attached = attach_in_a_property(&scratch, "sized")?;
        prop_assert_eq!(attached.len(), len, "attach must map the whole file, as long as the creator made it");
        drop((created, attached));
        scratch.remove("sized");
        scratch.finish();
    }
}

thread_local! {
    /// What in the learner's code has panicked in this test, if anything (each test runs
    /// on a thread of its own).
    static PANICKED: std::cell::Cell<Option<&'static str>> = const { std::cell::Cell::new(None) };
}

/// Runs `f`, a call into the learner's code from inside a property, and turns a panic
/// into a failed case. Every panic prints its message, and proptest tries a failed
/// property again with ever smaller inputs: so after one panic, later cases of the same
/// test fail at once instead of calling the learner's code again, and the message is
/// printed once.
fn once_if_it_panics<T>(what: &'static str, f: impl FnOnce() -> T) -> Result<T, TestCaseError> {
    let panicked = |what| {
        TestCaseError::fail(format!(
            "{what} panicked (its message is above; not called again while proptest shrinks, \
             so the input below is not the one that panicked)"
        ))
    };
    if let Some(earlier) = PANICKED.get() {
        return Err(panicked(earlier));
    }
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|_| {
        PANICKED.set(Some(what));
        panicked(what)
    })
}

/// `create` (exercise 01) inside a property: any failure is a failed case, printed once.
fn create_in_a_property(
    scratch: &Scratch,
    name: &str,
    len: usize,
) -> Result<shm_kata::Segment, TestCaseError> {
    once_if_it_panics("create (exercise 01)", || create(&scratch.dir, name, len))?.map_err(|e| {
        TestCaseError::fail(format!(
            "create (exercise 01) should succeed, got {e:?}: {e}"
        ))
    })
}

/// `attach` inside a property: any failure is a failed case, printed once.
fn attach_in_a_property(scratch: &Scratch, name: &str) -> Result<shm_kata::Segment, TestCaseError> {
    once_if_it_panics("attach", || attach(&scratch.dir, name))?
        .map_err(|e| TestCaseError::fail(failed_attach(&e)))
}

/// Two attachments in one process are two views of the same memory.
#[test]
fn two_attachments_share_the_same_bytes() {
    let scratch = Scratch::new();
    let _owner = create(&scratch.dir, "twice", 8).expect("create (exercise 01) should succeed");
    let a = attach(&scratch.dir, "twice").unwrap_or_else(|e| panic!("{}", failed_attach(&e)));
    let b = attach(&scratch.dir, "twice").unwrap_or_else(|e| panic!("{}", failed_attach(&e)));
    a.write_bytes(0, b"12345678").unwrap();
    assert_eq!(
        b.read_bytes(),
        b"12345678",
        "a write through one attachment must be seen through the other"
    );
    drop((_owner, a, b));
    scratch.remove("twice");
    scratch.finish();
}

/// A missing name is `NotFound`, and attaching never creates anything.
#[test]
fn attach_of_a_missing_name_is_not_found_and_creates_nothing() {
    let scratch = Scratch::new();
    let result = attach(&scratch.dir, "ghost");
    let created = !scratch.names().is_empty();
    let fix = match &result {
        Err(Error::NotFound { name, .. }) if name == "ghost" => "",
        _ if created => "attach must not create: no create_new/create",
        Ok(_) => "attach must not create: no create_new/create",
        Err(Error::Io { .. }) => {
            "map open errors with Error::io(dir.path(), name, e), which makes ENOENT \
             Error::NotFound"
        }
        Err(_) => "open read + write, with no create flag, and map errors with Error::io",
    };
    assert!(
        fix.is_empty(),
        "attach of a name nobody created must be Error::NotFound, got {result:?}: {fix}"
    );
    assert!(
        scratch.names().is_empty(),
        "attach must never create a file (no create flag), found {:?}",
        scratch.names()
    );
    scratch.finish();
}

/// An empty file cannot be mapped: a typed error, not a panic.
#[test]
fn attach_of_an_empty_file_is_a_zero_length_error() {
    let scratch = Scratch::new();
    std::fs::File::create(scratch.dir.join("unsized")).unwrap();
    let result = attach(&scratch.dir, "unsized");
    assert!(
        matches!(result, Err(Error::ZeroLength { .. })),
        "a 0-byte file (a creator that has not set its length yet) must be Error::ZeroLength, got {result:?}"
    );
    scratch.remove("unsized");
    scratch.finish();
}

/// A symlink at the name is refused, so nobody can redirect an attacher.
#[test]
fn attach_does_not_follow_a_symlink() {
    let scratch = Scratch::new();
    let target = common::scratch_file();
    std::fs::write(target.path(), b"not a segment").unwrap();
    std::os::unix::fs::symlink(target.path(), scratch.dir.join("link")).unwrap();
    let result = attach(&scratch.dir, "link");
    let fix = match &result {
        Err(Error::NotAFile { .. }) => "",
        Ok(_) => {
            "attach followed the link to the file it points at: attach must open with O_NOFOLLOW"
        }
        Err(Error::Io { source, .. }) if source.raw_os_error() == Some(nix::libc::ELOOP) => {
            "O_NOFOLLOW refused the link (ELOOP), but the error reached you as Error::Io: map open \
             errors with Error::io(dir.path(), name, e), which makes ELOOP Error::NotAFile"
        }
        // Two mistakes end here: a link followed to its target (then `from_parts` finds
        // that the name does not name the file that was opened), or every open error
        // turned into NotFound.
        Err(Error::NotFound { .. }) => {
            "the name exists (as a link), yet attach said NotFound. Either attach followed \
             the link (attach must open with O_NOFOLLOW; from_parts then sees that the name \
             does not name the file opened), or it did not map open errors with \
             Error::io(dir.path(), name, e), which makes O_NOFOLLOW's ELOOP Error::NotAFile"
        }
        Err(Error::AlreadyExists { .. }) => {
            "attach must not create: no create_new/create (O_EXCL is what says EEXIST here)"
        }
        Err(_) => "open with O_NOFOLLOW and map open errors with Error::io(dir.path(), name, e)",
    };
    assert!(
        fix.is_empty(),
        "a symlink at the name must be refused with Error::NotAFile, got {result:?}: {fix}"
    );
    scratch.remove("link");
    scratch.finish();
}

/// A directory at the name is not a segment.
#[test]
fn attach_of_a_directory_is_not_a_file() {
    let scratch = Scratch::new();
    std::fs::create_dir(scratch.dir.join("folder")).unwrap();
    let result = attach(&scratch.dir, "folder");
    let fix = match &result {
        Err(Error::NotAFile { .. }) => "",
        Err(Error::NotFound { .. } | Error::Io { .. }) => {
            "map open errors with Error::io(dir.path(), name, e), which makes the EISDIR of \
             opening a directory for writing Error::NotAFile"
        }
        _ => {
            "open read + write (a directory then fails with EISDIR) and map open errors with Error::io"
        }
    };
    assert!(
        fix.is_empty(),
        "a directory must be Error::NotAFile, got {result:?}: {fix}"
    );
    std::fs::remove_dir(scratch.dir.join("folder")).unwrap();
    scratch.finish();
}

/// A FIFO at the name is not a segment either, although its length (0) looks like an
/// unsized one: the file type is checked before the length.
#[test]
fn attach_of_a_fifo_is_not_a_file() {
    let scratch = Scratch::new();
    let path = scratch.dir.join("pipe");
    nix::unistd::mkfifo(
        &path,
        nix::sys::stat::Mode::S_IRUSR | nix::sys::stat::Mode::S_IWUSR,
    )
    .expect("setup: cannot make a FIFO");
    // Held open read + write here, so that no way of opening it in attach can wait for a
    // peer: on Linux an O_RDWR open of a FIFO never blocks, and with this end open an
    // O_RDONLY or O_WRONLY one does not either.
    let _held = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .expect("setup: cannot open the FIFO");
    let result = attach(&scratch.dir, "pipe");
    let fix = match &result {
        Err(Error::NotAFile { .. }) => "",
        Err(Error::ZeroLength { .. }) => {
            "check meta.is_file() before the length: a FIFO (or a device) has length 0 \
             too, and no length makes it a segment"
        }
        _ => "check meta.is_file() on the opened file, before anything else about it",
    };
    assert!(
        fix.is_empty(),
        "a FIFO at the name must be Error::NotAFile, got {result:?}: {fix}"
    );
    scratch.remove("pipe");
    scratch.finish();
}

/// Attaching leaves the file as the creator made it: its length and its bytes.
#[test]
fn attach_never_changes_the_file() {
    const LEN: usize = 5000; // not a whole number of pages: a rounded-up length shows
    let scratch = Scratch::new();
    let created = create(&scratch.dir, "kept", LEN).expect("create (exercise 01) should succeed");
    let data = shm_kata::job::pattern(7, LEN);
    created.write_bytes(0, &data).unwrap();
    let result = attach(&scratch.dir, "kept");
    let len_now = std::fs::metadata(scratch.dir.join("kept")).unwrap().len();
    // Checked before the creator's mapping is read: past a shrunk file's end, that read
    // would be a SIGBUS.
    assert_eq!(
        len_now, LEN as u64,
        "the creator made {LEN} bytes, and after attach the file has {len_now} (attach \
         returned {result:?}): attach must never change the file: no truncate, no set_len"
    );
    assert!(
        created.read_bytes() == data,
        "the creator's bytes changed when another handle attached: attach must never change \
         the file: no truncate, no set_len"
    );
    result.unwrap_or_else(|e| panic!("{}", failed_attach(&e)));
    drop(created);
    scratch.remove("kept");
    scratch.finish();
}

/// Attaching never marks a file as the kata's: only `create` does. A file some other
/// program made (Python's `SharedMemory`, say) must stay unmarked, or a later sweep would
/// take it for an orphaned kata segment and remove it under that program's feet.
#[test]
fn attach_never_marks_a_file_it_did_not_create() {
    let scratch = Scratch::new();
    let path = scratch.dir.join("python-made");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(4096).unwrap();
    // The mark is an extended attribute; where the file system has none, nothing can be
    // marked, and only the attach itself is checked.
    let xattrs = rustix::fs::fsetxattr(
        &file,
        "user.shm-kata-probe",
        b"1",
        rustix::fs::XattrFlags::empty(),
    )
    .and_then(|()| rustix::fs::fremovexattr(&file, "user.shm-kata-probe"));
    let result = attach(&scratch.dir, "python-made");
    match xattrs {
        Ok(()) => assert!(
            !shm_kata::liveness::is_kata_segment(&path),
            "attach marked a file it did not create as the kata's ({}): a later sweep may then \
             delete another program's live segment. Build it with Segment::from_parts; \
             from_created is for create only",
            shm_kata::liveness::MARK
        ),
        Err(e) => {
            eprintln!("NOT CHECKED: this file system keeps no user extended attributes ({e})")
        }
    }
    drop(result.unwrap_or_else(|e| panic!("{}", failed_attach(&e))));
    drop(file);
    scratch.remove("python-made");
    scratch.finish();
}

/// The name rules of create hold for attach too.
#[test]
fn attach_refuses_bad_names() {
    let scratch = Scratch::new();
    for name in ["", ".", "..", "../x", "a/b", "nul\0"] {
        let result = attach(&scratch.dir, name);
        assert!(
            matches!(result, Err(Error::InvalidName { .. })),
            "attach({name:?}) must be Error::InvalidName (reuse validate_name), got {result:?}"
        );
    }
    scratch.finish();
}

/// A name that looks like a command-line option is still just a name to another process.
#[test]
fn a_segment_named_like_an_option_is_attached_by_that_name() {
    use_this_builds_worker();
    let scratch = Scratch::new();
    let segment = create(&scratch.dir, "-h", 4).expect("\"-h\" is a valid file name");
    segment.write_bytes(0, b"data").unwrap();
    let job = Job::Read {
        dir: scratch.dir.path().to_owned(),
        name: "-h".into(),
    };
    let reader = run_bounded(job.command(), WORKER_LIMIT, "the reading worker");
    assert!(
        reader.status.success(),
        "the worker could not attach to \"-h\":\n{}{}",
        reader.stderr,
        advice(&reader.stderr)
    );
    assert_eq!(
        reader.stdout, b"data",
        "the worker should read the segment named \"-h\""
    );
    drop(segment);
    scratch.remove("-h");
    scratch.finish();
}

/// The size of the sparse segments below: 4 MiB, four times the full tmpfs's room.
const SPARSE_LEN: u64 = 4 << 20;

/// A file whose length was only *set* (`ftruncate`, what Python's `SharedMemory` does) has
/// no pages yet: it is sparse. Attach reserves every page it maps (`posix_fallocate`), so
/// once it returns, the file system has given the file all its blocks.
#[test]
fn attach_reserves_every_page_of_a_sparse_file() {
    use std::os::unix::fs::MetadataExt;
    let scratch = Scratch::new();
    let path = scratch.dir.join("sparse");
    std::fs::File::create(&path)
        .and_then(|file| file.set_len(SPARSE_LEN))
        .unwrap();
    let reserved = || std::fs::metadata(&path).unwrap().blocks() * 512;
    assert!(
        reserved() < SPARSE_LEN,
        "setup: this file system did not make a sparse file ({} of {SPARSE_LEN} bytes reserved)",
        reserved()
    );
    let segment =
        attach(&scratch.dir, "sparse").unwrap_or_else(|e| panic!("{}", failed_attach(&e)));
    assert!(
        reserved() >= SPARSE_LEN,
        "attach mapped a sparse file without reserving its pages: only {} of {SPARSE_LEN} \
         bytes are backed, so on a full tmpfs the first touch of a hole is a SIGBUS. Call \
         posix_fallocate(&file, 0, len) before mapping",
        reserved()
    );
    drop(segment);
    scratch.remove("sparse");
    scratch.finish();
}

/// On a full tmpfs, attaching to a sparse segment is `Error::NoSpace`, never a SIGBUS.
///
/// The real thing needs a tmpfs that is nearly full, and filling `/dev/shm` is not a test's
/// business. So the worker process is started in a mount namespace of its own, where a
/// 1 MiB tmpfs is mounted over the scratch directory and a 4 MiB sparse file is made in it
/// (`ftruncate` only, as Python does), before the worker attaches and reads all of it.
/// Nothing of that is visible outside the worker, and it all vanishes with it.
///
/// No limit an unprivileged process can set makes this happen without a mount:
/// `RLIMIT_FSIZE` is checked only when a file *grows*, and filling holes inside a file's
/// length does not grow it. Mounting needs root, or a user namespace (where the kernel
/// allows unprivileged ones). Where neither is allowed, this test says so on stderr and
/// checks nothing; the mistake it shows end to end is still caught, everywhere, by
/// `attach_reserves_every_page_of_a_sparse_file`.
#[test]
fn attach_on_a_full_tmpfs_is_no_space_not_sigbus() {
    use std::os::unix::process::ExitStatusExt;
    use_this_builds_worker();
    let scratch = Scratch::new();
    let job = Job::Read {
        dir: scratch.dir.path().to_owned(),
        name: "python-made".into(),
    };
    let mut command = job.command();
    in_a_private_tmpfs(
        &mut command,
        scratch.dir.path(),
        "size=1m",
        "python-made",
        SPARSE_LEN,
    );
    let child = command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => {
            eprintln!(
                "NOT CHECKED: cannot mount a private tmpfs here ({e}); \
                 attach_reserves_every_page_of_a_sparse_file still checks the reservation"
            );
            // Still attach once, to a sparse file with room to spare, so that an
            // unfinished attach fails here as it does everywhere else.
            let file = std::fs::File::create(scratch.dir.join("python-made")).unwrap();
            file.set_len(4096).unwrap();
            drop(
                attach(&scratch.dir, "python-made")
                    .unwrap_or_else(|e| panic!("{}", failed_attach(&e))),
            );
            scratch.remove("python-made");
            scratch.finish();
            return;
        }
    };
    let status = common::wait_bounded(&mut child, WORKER_LIMIT, "the attaching worker");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_ne!(
        status.signal(),
        Some(nix::libc::SIGBUS),
        "the worker died of SIGBUS reading a sparse segment on a full tmpfs: attach must \
         reserve the pages (posix_fallocate) before mapping, and report ENOSPC as \
         Error::NoSpace"
    );
    assert!(
        !status.success() && stderr.contains("no room for segment"),
        "attaching to a 4 MiB sparse segment on a 1 MiB tmpfs must fail with Error::NoSpace \
         (posix_fallocate says ENOSPC); the worker ended with {status} and said:\n{stderr}{}",
        advice(&stderr)
    );
    assert!(
        stderr.contains(&format!("({SPARSE_LEN} bytes)")),
        "Error::NoSpace must carry the length attach tried to reserve (len: {SPARSE_LEN}, the \
         file's length), not 0, which means \"no room for a new file\"; the worker said:\n{stderr}"
    );
    scratch.finish();
}

/// What a failed attach's message suggests, for a test to add to its own.
fn advice(message: &str) -> &'static str {
    if message.contains("Bad file descriptor") || message.contains("Permission denied") {
        "\n(EBADF/EACCES from a file of your own: is it open read-only? Open it read + write: \
         a shared writable mapping and posix_fallocate both need a writable descriptor)"
    } else if message.contains("has length 0") {
        "\n(the file had bytes before attach opened it: attach must never change the file: no \
         truncate, no set_len)"
    } else if message.contains("already exists") {
        "\n(attach must not create: no create_new/create)"
    } else if message.contains("I/O error") && message.contains("No space left") {
        "\n(ENOSPC arrived as Error::Io: posix_fallocate's ENOSPC must be Error::NoSpace)"
    } else {
        ""
    }
}

/// The message for an attach to an existing segment that failed.
fn failed_attach(error: &Error) -> String {
    format!(
        "attach to an existing segment should succeed, got {error:?}: {error}{}",
        advice(&format!("{error:?} {error}"))
    )
}

/// Makes `command` start in a mount namespace of its own, with a tmpfs mounted (`options`,
/// e.g. `size=1m`) over `dir` and a sparse file `name` of `len` bytes made in it: what a
/// Python creator leaves on a nearly full `/dev/shm`. As root a mount namespace is enough;
/// otherwise a user namespace maps this user to root inside it. Starting the command fails
/// where neither is allowed.
fn in_a_private_tmpfs(
    command: &mut std::process::Command,
    dir: &std::path::Path,
    options: &str,
    name: &str,
    len: u64,
) {
    use std::ffi::CString;
    use std::io;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::process::CommandExt;

    use nix::libc;

    // Everything is made before the fork: between fork and exec only system calls run.
    let c = |bytes: &[u8]| CString::new(bytes).unwrap();
    let dir_c = c(dir.as_os_str().as_bytes());
    let file_c = c(dir.join(name).as_os_str().as_bytes());
    let options_c = c(options.as_bytes());
    let (uid, gid) = (nix::unistd::getuid(), nix::unistd::getgid());
    let uid_map = format!("0 {uid} 1");
    let gid_map = format!("0 {gid} 1");
    let len = len as libc::off_t;
    let check = |result: libc::c_int| {
        if result < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(result)
        }
    };
    let write = move |path: &std::ffi::CStr, text: &[u8]| -> io::Result<()> {
        // SAFETY: a NUL-terminated path and a buffer of `text.len()` bytes we own.
        let fd = check(unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) })?;
        // SAFETY: as above; the descriptor is ours and closed right after.
        let written = unsafe { libc::write(fd, text.as_ptr().cast(), text.len()) };
        // SAFETY: `fd` was opened above and is closed once.
        unsafe { libc::close(fd) };
        if written == text.len() as isize {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    };
    let setup = move || -> io::Result<()> {
        // SAFETY: these are plain system calls on NUL-terminated strings made before the
        // fork; they run in the child only, between fork and exec, and change only its own
        // namespaces and the mounts inside them.
        unsafe {
            if libc::unshare(libc::CLONE_NEWNS) < 0 {
                check(libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS))?;
                let _ = write(c"/proc/self/setgroups", b"deny");
                write(c"/proc/self/uid_map", uid_map.as_bytes())?;
                write(c"/proc/self/gid_map", gid_map.as_bytes())?;
            }
            // Private first, so the mount below never propagates back to the parent's
            // namespace.
            check(libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ))?;
            check(libc::mount(
                c"tmpfs".as_ptr(),
                dir_c.as_ptr(),
                c"tmpfs".as_ptr(),
                0,
                options_c.as_ptr().cast(),
            ))?;
            let fd = check(libc::open(
                file_c.as_ptr(),
                libc::O_CREAT | libc::O_RDWR | libc::O_CLOEXEC,
                0o600,
            ))?;
            let truncated = check(libc::ftruncate(fd, len));
            libc::close(fd);
            truncated.map(drop)
        }
    };
    // SAFETY: `setup` only makes system calls (no allocation, no lock) on data made before
    // the fork, which is what may run between fork and exec.
    unsafe { command.pre_exec(setup) };
}
