//! Exercise 02 · attach. Open `exercises/02_attach.rs`; hint: `cargo run -- hint 2`.
//! (These tests create their segments with your `create` from 01.)

mod common;

use common::{Scratch, WORKER_LIMIT, process_cases, run_bounded, use_this_builds_worker};
use proptest::prelude::*;
use shm_kata::Error;
use shm_kata::attach::attach;
use shm_kata::create::create;
use shm_kata::job::{Job, pattern};

proptest! {
    #![proptest_config(process_cases(12))]

    /// Another process, started from the worker binary, attaches by name and reads exactly
    /// the bytes this process wrote.
    #[test]
    fn attach_sees_what_create_wrote_from_another_process(len in 1usize..1 << 16, seed in any::<u64>()) {
        use_this_builds_worker();
        let scratch = Scratch::new();
        let segment = create(&scratch.dir, "shared", len).expect("create (exercise 01) should succeed");
        segment.write_bytes(0, &pattern(seed, len)).unwrap();
        let job = Job::Read { dir: scratch.dir.path().to_owned(), name: "shared".into() };
        let reader = run_bounded(job.command(), WORKER_LIMIT, "the reading worker");
        prop_assert!(reader.status.success(),
            "the worker process could not attach and read the segment; it said:\n{}", reader.stderr);
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
        let segment = create(&scratch.dir, "shared", len).expect("create (exercise 01) should succeed");
        let job = Job::Fill { dir: scratch.dir.path().to_owned(), name: "shared".into(), seed };
        let writer = run_bounded(job.command(), WORKER_LIMIT, "the writing worker");
        prop_assert!(writer.status.success(),
            "the worker process could not attach and write; it said:\n{}", writer.stderr);
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
        let created = create(&scratch.dir, "sized", len).expect("create (exercise 01) should succeed");
        let attached = attach(&scratch.dir, "sized").expect("attach to an existing segment should succeed");
        prop_assert_eq!(attached.len(), len, "attach must map the whole file, as long as the creator made it");
        drop((created, attached));
        scratch.remove("sized");
        scratch.finish();
    }
}

/// Two attachments in one process are two views of the same memory.
#[test]
fn two_attachments_share_the_same_bytes() {
    let scratch = Scratch::new();
    let _owner = create(&scratch.dir, "twice", 8).expect("create (exercise 01) should succeed");
    let a = attach(&scratch.dir, "twice").expect("attach should succeed");
    let b = attach(&scratch.dir, "twice").expect("a second attach should succeed too");
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
    assert!(
        matches!(&result, Err(Error::NotFound { name, .. }) if name == "ghost"),
        "attach of a name nobody created must be Error::NotFound, got {result:?}"
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
    assert!(
        matches!(result, Err(Error::NotAFile { .. })),
        "attach must open with O_NOFOLLOW and refuse the link with Error::NotAFile, got {result:?}"
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
    assert!(
        matches!(result, Err(Error::NotAFile { .. })),
        "a directory must be Error::NotAFile, got {result:?}"
    );
    std::fs::remove_dir(scratch.dir.join("folder")).unwrap();
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
        "the worker could not attach to \"-h\":\n{}",
        reader.stderr
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
    let segment = attach(&scratch.dir, "sparse").expect("attach to a sparse file should succeed");
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
         (posix_fallocate says ENOSPC); the worker ended with {status} and said:\n{stderr}"
    );
    scratch.finish();
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
    // SAFETY: getuid and getgid cannot fail and touch no memory of ours.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
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
