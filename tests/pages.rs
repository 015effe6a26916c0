//! The kit's pages: every mapping starts on a 2 MiB boundary, a segment the kit creates on
//! `/dev/shm` gets 2 MiB pages where the kernel allows it, and where it does not the
//! segment works on 4 KiB pages and says why. Checked without any exercise (segments are
//! made here with the kit's own constructors), so these tests hold whatever state the
//! exercises are in.

// The exercises these tests use: yours, or the answers with `--features solutions`.
shm_kata::exercises!(create, attach);

mod common;

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;

use common::{Scratch, SystemName, process_cases};
use nix::errno::Errno;
use nix::fcntl::posix_fallocate;
use proptest::prelude::*;
use shm_kata::job::Job;
use shm_kata::pages::{self, HUGE_PAGE, Pages, Policy, Why};
use shm_kata::{Segment, SegmentDir};

/// What `create` does, in short: a new file, its length, its pages reserved, a mapping,
/// and `from_created` (where the kit aligns and collapses).
fn make(dir: &SegmentDir, name: &str, len: usize) -> Segment {
    let file = new_file(dir, name, len);
    // SAFETY: the file is this test's own, `len` bytes and reserved; nobody shrinks it.
    let map = unsafe { memmap2::MmapMut::map_mut(&file) }.unwrap();
    Segment::from_created(dir, name, file, map).unwrap()
}

fn new_file(dir: &SegmentDir, name: &str, len: usize) -> File {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dir.join(name))
        .unwrap();
    file.set_len(len as u64).unwrap();
    posix_fallocate(&file, 0, len as i64).unwrap();
    file
}

/// What `attach` does, in short.
fn attach(dir: &SegmentDir, name: &str) -> Segment {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(dir.join(name))
        .unwrap();
    // SAFETY: a segment of this test's own, which nobody shrinks.
    let map = unsafe { memmap2::MmapMut::map_mut(&file) }.unwrap();
    Segment::from_parts(dir, name, file, map).unwrap()
}

/// Whether this kernel may collapse tmpfs pages on request: Linux 6.1 or later, and
/// `shmem_enabled` not `deny` (the administrator's "never, not even when asked").
fn kernel_collapses_shmem() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut numbers = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let version = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    let shmem = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/shmem_enabled")
        .unwrap_or_default();
    version >= (6, 1) && !shmem.is_empty() && !shmem.contains("[deny]")
}

/// The word a worker process reads back at `i`, so a test can tell the bytes arrived.
fn word(i: usize) -> u32 {
    (i as u32).wrapping_mul(2_654_435_761)
}

/// Has a real worker process attach to the segment and print every byte; checks them.
fn another_process_reads_it_all(dir: &SegmentDir, name: &str, words: usize, what: &str) {
    common::use_this_builds_worker();
    let job = Job::Read {
        dir: dir.path().to_owned(),
        name: name.to_owned(),
    };
    let out = common::run_bounded(job.command(), common::WORKER_LIMIT, "the reading worker");
    assert!(
        out.status.success(),
        "a worker that attaches to {what} and reads it failed: {}",
        out.stderr
    );
    let read: Vec<u32> = out
        .stdout
        .chunks_exact(4)
        .map(|b| u32::from_ne_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(read.len(), words, "the worker read the whole of {what}");
    assert!(
        read.iter().enumerate().all(|(i, &w)| w == word(i)),
        "another process must read what this one wrote into {what}"
    );
}

fn fill(segment: &Segment) {
    for (i, w) in segment.atomics().iter().enumerate() {
        w.store(word(i), std::sync::atomic::Ordering::Relaxed);
    }
}

/// A 4 MiB segment in `/dev/shm` (plus a 4 KiB tail) is two 2 MiB pages and one small
/// one, mapped by 2 MiB page-table entries from the start, and another process reads it.
#[test]
fn a_created_segment_on_dev_shm_gets_huge_pages_where_the_kernel_allows() {
    let system = SegmentDir::system();
    let shm = SystemName::new("huge");
    let len = 2 * HUGE_PAGE + 4096;
    let segment = make(&system, &shm.name, len);
    shm.record();
    match segment.pages() {
        Pages::Huge { bytes } => {
            assert_eq!(
                bytes,
                2 * HUGE_PAGE,
                "every whole 2 MiB is collapsed, the 4 KiB tail is not"
            );
            assert_eq!(
                segment.huge_mapped().unwrap(),
                2 * HUGE_PAGE,
                "a collapsed segment is mapped by 2 MiB entries at once, says /proc/self/smaps"
            );
            let attached = attach(&system, &shm.name);
            let _ = attached.read_words();
            assert_eq!(
                attached.huge_mapped().unwrap(),
                2 * HUGE_PAGE,
                "an attacher that has read the segment maps its huge pages whole: its \
                 mapping starts on a 2 MiB boundary"
            );
        }
        Pages::ByMount => eprintln!(
            "/dev/shm is mounted with huge=always or huge=within_size: the mount chose its pages"
        ),
        Pages::Small(Why::Refused(errno @ (Errno::ENOMEM | Errno::EAGAIN | Errno::EBUSY))) => {
            eprintln!(
                "MADV_COLLAPSE refused just now ({errno}: {}): the segment stayed on 4 KiB pages",
                pages::why_collapse_refused(errno)
            );
        }
        other => assert!(
            !kernel_collapses_shmem(),
            "this kernel collapses tmpfs pages on request (Linux 6.1+, shmem_enabled not \
             deny), yet the segment got {other}"
        ),
    }
    fill(&segment);
    another_process_reads_it_all(&system, &shm.name, len / 4, "a collapsed segment");
    drop(segment);
}

/// With huge pages turned off (`Policy::Small`, what `demo --pages 4k` asks for), a
/// segment stays on 4 KiB pages, says so, and works the same.
#[test]
fn a_segment_whose_collapse_is_declined_works_on_small_pages() {
    let system = SegmentDir::system();
    let shm = SystemName::new("small");
    pages::set_policy(Policy::Small);
    let segment = make(&system, &shm.name, 2 * HUGE_PAGE);
    shm.record();
    pages::set_policy(Policy::Huge);
    assert_eq!(segment.pages(), Pages::Small(Why::Declined));
    assert_eq!(
        segment.huge_mapped().unwrap(),
        0,
        "no 2 MiB entries without a collapse on a /dev/shm mounted without huge="
    );
    fill(&segment);
    another_process_reads_it_all(&system, &shm.name, 2 * HUGE_PAGE / 4, "a 4 KiB segment");
    drop(segment);
}

/// A file that is not shmem (the tests' scratch directory on a disk: ext4 and the like
/// collapse only with `CONFIG_READ_ONLY_THP_FOR_FS`, and never a file open for writing)
/// refuses the collapse: `create` still succeeds, on 4 KiB pages, and says why.
#[test]
fn a_segment_whose_collapse_is_refused_works_on_small_pages() {
    let scratch = Scratch::new();
    let on_tmpfs = rustix::fs::statfs(scratch.path()).unwrap().f_type == 0x0102_1994;
    let segment = make(&scratch.dir, "refused", 2 * HUGE_PAGE);
    if on_tmpfs {
        eprintln!("the scratch directory is on a tmpfs: nothing here refuses a collapse");
    } else {
        assert!(
            matches!(segment.pages(), Pages::Small(Why::Refused(_))),
            "a collapse on a disk file system is refused, yet the segment got {}",
            segment.pages()
        );
        assert_eq!(segment.huge_mapped().unwrap(), 0);
    }
    fill(&segment);
    another_process_reads_it_all(&scratch.dir, "refused", 2 * HUGE_PAGE / 4, "the segment");
    drop(segment);
    scratch.remove("refused");
    scratch.finish();
}

/// Less than 2 MiB holds no whole huge page: nothing to collapse, nothing asked.
#[test]
fn a_segment_smaller_than_a_huge_page_stays_on_small_pages() {
    let scratch = Scratch::new();
    let segment = make(&scratch.dir, "small", HUGE_PAGE - 4096);
    assert_eq!(segment.pages(), Pages::Small(Why::TooSmall));
    let attached = attach(&scratch.dir, "small");
    assert_eq!(
        attached.pages(),
        Pages::Attached,
        "an attacher did not choose"
    );
    drop((segment, attached));
    scratch.remove("small");
    scratch.finish();
}

proptest! {
    #![proptest_config(process_cases(16))]

    /// Every mapping the kit makes, created or attached, of any length, starts on a 2 MiB
    /// boundary: where a huge page can be mapped by one page-table entry.
    #[test]
    fn every_mapping_starts_on_a_2_mib_boundary(len in 1usize..(3 << 20)) {
        let scratch = Scratch::new();
        let created = make(&scratch.dir, "aligned", len);
        let attached = attach(&scratch.dir, "aligned");
        for (what, segment) in [("created", &created), ("attached", &attached)] {
            prop_assert_eq!(
                segment.as_ptr() as usize % HUGE_PAGE,
                0,
                "the {} mapping of {} bytes starts at {:p}, not on a 2 MiB boundary",
                what,
                len,
                segment.as_ptr()
            );
            prop_assert_eq!(segment.len(), len);
        }
        if len >= 4 {
            created.write_words(0, &[7]).unwrap();
            prop_assert_eq!(attached.read_words()[0], 7, "both mappings show the same pages");
        }
        drop((created, attached));
        scratch.remove("aligned");
        scratch.finish();
    }
}
