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
