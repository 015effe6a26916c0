//! The facts suite: every Linux fact the exercises' headers, the hints and the README rely
//! on that an experiment can show, shown on *this* machine.
//!
//! Each test is one fact, named after it; its doc comment is the claim and its body the
//! experiment. A test prints `shown: …` with what this machine did (the numbers), or
//! `skipped: …` with the reason when the machine cannot show it (not root, no huge pages,
//! an older kernel, no `python3`): a skip is never a pass in disguise.
//! `cargo run -- facts` runs them all and prints each fact with its outcome.
//!
//! Experiments that end a process (a SIGBUS, a SIGKILLed lock holder) run in a child: this
//! test program started again as the ignored test [`fact_helper`], with its role in the
//! environment (`--exact fact_helper --ignored`), or a plain `sh` or `python3`.

// No exercise: a fact holds whatever state the exercises are in.
shm_kata::exercises!();

mod common;

use std::ffi::CString;
use std::fs::File;
use std::io::{BufRead, BufReader, IoSlice, IoSliceMut, Write};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Scratch, SystemName};
use nix::errno::Errno;
use nix::fcntl::{FcntlArg, SealFlag, fcntl, posix_fallocate};
use nix::libc;
use nix::sys::memfd::{MFdFlags, memfd_create};
use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags, recvmsg, sendmsg,
};
use shm_kata::pages::{HUGE_PAGE, Mapping};

const LIMIT: Duration = Duration::from_secs(60);
const PAGE: usize = 4096;

// ---------------------------------------------------------------------------------------
// Reporting

/// What this machine showed, for `cargo run -- facts`.
fn shown(what: impl std::fmt::Display) {
    eprintln!("shown: {what}");
}

/// This machine cannot show the fact: say why (the caller returns at once).
fn skip(why: impl std::fmt::Display) {
    eprintln!("skipped: {why}");
}

fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into())
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

// ---------------------------------------------------------------------------------------
// Small tools

/// A new memfd (shmem, like a file in /dev/shm, but with no name to leave behind).
fn memfd(label: &str) -> File {
    let fd = memfd_create(label, MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING)
        .expect("memfd_create");
    File::from(fd)
}

/// A file in a scratch directory, `len` bytes long.
/// A new file of this run's in `/dev/shm` (mode 0600), recorded so that a run killed
/// before it removes it leaves it to the next run's sweep.
fn system_file(tag: &str) -> (SystemName, PathBuf, File) {
    let name = SystemName::new(tag);
    let path = shm_kata::SegmentDir::system().join(&name.name);
    let file = File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .unwrap();
    name.record();
    (name, path, file)
}

fn scratch_file(scratch: &Scratch, name: &str, len: u64) -> (PathBuf, File) {
    let path = scratch.path().join(name);
    let file = File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .expect("a scratch file");
    file.set_len(len).expect("set_len");
    (path, file)
}

/// Reads the byte at `offset` of `map` through the mapping itself.
fn peek(map: &Mapping, offset: usize) -> u8 {
    assert!(offset < map.len());
    // SAFETY: `offset` lies inside our own live mapping; a volatile read because the
    // point of these experiments is the access itself (a page fault, or a SIGBUS), which
    // the compiler must not remove or merge.
    unsafe { map.as_mut_ptr().add(offset).read_volatile() }
}

/// Writes `value` at `offset` of `map` through the mapping itself.
fn poke(map: &Mapping, offset: usize, value: u8) {
    assert!(offset < map.len());
    // SAFETY: as in `peek`; nobody else reads these bytes as Rust values meanwhile (other
    // processes in these experiments only read the file or count faults).
    unsafe { map.as_mut_ptr().add(offset).write_volatile(value) }
}

/// Minor page faults of this thread so far (`getrusage(RUSAGE_THREAD)`): the other tests
/// of this program run on other threads and do not count.
fn minor_faults() -> i64 {
    // Linux's RUSAGE_THREAD (`include/uapi/linux/resource.h`).
    const RUSAGE_THREAD: libc::c_int = 1;
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes one `struct rusage` to the pointer it is given, which points
    // to one of the right size and alignment; zeroed, so every field is initialized either
    // way.
    let done = unsafe { libc::getrusage(RUSAGE_THREAD, usage.as_mut_ptr()) };
    assert_eq!(done, 0, "getrusage: {}", Errno::last());
    // SAFETY: zero-initialized above and filled by the kernel: every field is a number.
    unsafe { usage.assume_init() }.ru_minflt
}

/// `madvise(MADV_COLLAPSE)` over the first `len` bytes of `map`.
fn collapse(map: &Mapping, len: usize) -> Result<(), Errno> {
    const MADV_COLLAPSE: libc::c_int = 25;
    // SAFETY: the range is our own live mapping; MADV_COLLAPSE changes how the kernel
    // holds the pages (one 2 MiB page instead of 512 small ones), never what they hold.
    let done = unsafe { libc::madvise(map.as_mut_ptr().cast(), len, MADV_COLLAPSE) };
    if done == 0 {
        Ok(())
    } else {
        Err(Errno::last())
    }
}

/// Whether transparent huge pages exist at all here.
fn thp_missing() -> Option<String> {
    let base = Path::new("/sys/kernel/mm/transparent_hugepage");
    (!base.exists()).then(|| "this kernel has no transparent huge pages".to_owned())
}

/// The selected value of `shmem_enabled` (what the kernel's internal mount does: memfd,
/// shared anonymous memory).
fn shmem_enabled() -> String {
    std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/shmem_enabled")
        .ok()
        .and_then(|s| {
            let start = s.find('[')?;
            let end = s.find(']')?;
            Some(s[start + 1..end].to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Starts this test program again as [`fact_helper`] playing `role` with `args`.
fn helper(role: &str, args: &[&str]) -> Command {
    let mut command = Command::new(std::env::current_exe().expect("the test program's path"));
    command
        .args(["--exact", "fact_helper", "--ignored", "--nocapture"])
        .args(["--test-threads", "1", "-q"])
        .env(ROLE_ENV, role)
        .env(ARGS_ENV, args.join("\n"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Waits for the line that starts with `prefix` on the child's standard output and
/// returns the rest of it; `None` if the child ended first.
fn wait_for_line(child: &mut Child, prefix: &str) -> Option<String> {
    let out = child.stdout.as_mut().expect("piped stdout");
    let mut reader = BufReader::new(out);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if let Some(rest) = line.trim_end().strip_prefix(prefix) {
            return Some(rest.to_owned());
        }
    }
}

/// Runs `command` to its end and returns how it ended and its two outputs.
fn run(command: Command, what: &str) -> common::Finished {
    common::run_bounded(command, LIMIT, what)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// SIGKILLs a helper and reaps it.
fn kill(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

const ROLE_ENV: &str = "SHM_KATA_FACT_ROLE";
const ARGS_ENV: &str = "SHM_KATA_FACT_ARGS";

// ---------------------------------------------------------------------------------------
// Names and files

/// `open(O_CREAT | O_EXCL)` never follows a symbolic link, not even one that points to a
/// file that does not exist yet: it fails with `EEXIST` and creates nothing (open(2)).
#[test]
fn o_excl_refuses_a_symlink_even_to_a_missing_file() {
    let scratch = Scratch::new();
    let link = scratch.dir.join("link");
    let target = scratch.path().join("target-that-does-not-exist");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let opened = File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&link);
    let errno = opened.as_ref().err().and_then(|e| e.raw_os_error());
    assert_eq!(
        errno,
        Some(libc::EEXIST),
        "O_CREAT|O_EXCL on a dangling symlink: {opened:?}"
    );
    assert!(!target.exists(), "O_EXCL must not create the link's target");
    shown("O_CREAT|O_EXCL on a symlink to a missing file: EEXIST, nothing created");
    std::fs::remove_file(&link).unwrap();
    scratch.finish();
}

/// `O_NOFOLLOW` refuses a symbolic link in the last component with `ELOOP` (open(2)).
#[test]
fn o_nofollow_refuses_a_symlink_with_eloop() {
    let scratch = Scratch::new();
    let (target, _file) = scratch_file(&scratch, "target", 0);
    let link = scratch.dir.join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let opened = File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&link);
    let errno = opened.as_ref().err().and_then(|e| e.raw_os_error());
    assert_eq!(
        errno,
        Some(libc::ELOOP),
        "O_NOFOLLOW on a symlink: {opened:?}"
    );
    shown("O_NOFOLLOW on a symlink: ELOOP");
    std::fs::remove_file(&link).unwrap();
    std::fs::remove_file(&target).unwrap();
    scratch.finish();
}

/// `unlink` removes the name at once; the memory lives on, readable and writable through
/// an existing mapping, until the last mapping (and descriptor) is gone.
#[test]
fn unlink_keeps_a_mapped_segment_alive() {
    let scratch = Scratch::new();
    let (path, file) = scratch_file(&scratch, "segment", PAGE as u64);
    let map = Mapping::shared(&file, PAGE, false).unwrap();
    poke(&map, 0, 7);
    drop(file);
    std::fs::remove_file(&path).unwrap();
    assert!(!path.exists(), "unlink removes the name at once");
    poke(&map, 1, 8);
    assert_eq!((peek(&map, 0), peek(&map, 1)), (7, 8));
    shown("after unlink (and close) the mapping still read 7 and wrote 8; the name was gone");
    drop(map);
    scratch.finish();
}

/// `mmap` maps past the end of a file without complaint; the SIGBUS comes at the first
/// touch of a page the file does not cover.
#[test]
fn mapping_past_the_end_succeeds_and_touching_there_is_a_sigbus() {
    let scratch = Scratch::new();
    let (path, _file) = scratch_file(&scratch, "short", PAGE as u64);
    let path = path.to_string_lossy().into_owned();
    let run = run(
        helper("touch-past-the-end", &[&path]),
        "a child that touches past the end",
    );
    let out = text(&run.stdout);
    assert!(
        out.contains("mapped 8192"),
        "the mapping of two pages over a one-page file should succeed:\n{out}{}",
        run.stderr
    );
    assert_eq!(
        run.status.signal(),
        Some(libc::SIGBUS),
        "touching the second page should be a SIGBUS ({}):\n{out}{}",
        run.status,
        run.stderr
    );
    shown("mmap of 8192 bytes over a 4096-byte file: success; touching byte 4096: SIGBUS");
    std::fs::remove_file(&path).unwrap();
    scratch.finish();
}

/// A file-backed mapping dies of SIGBUS when another process shrinks the file under it:
/// the next touch of a page past the new end.
#[test]
fn a_file_shrunk_by_another_process_makes_the_next_touch_a_sigbus() {
    let scratch = Scratch::new();
    let (path, _file) = scratch_file(&scratch, "shrunk", 2 * PAGE as u64);
    let path = path.to_string_lossy().into_owned();
    let mut child = helper("touch-after-shrink", &[&path]).spawn().unwrap();
    assert!(
        wait_for_line(&mut child, "touched").is_some(),
        "the child should map and touch the file"
    );
    let truncated = Command::new("truncate")
        .args(["-s", "0", &path])
        .status()
        .expect("truncate(1)");
    assert!(truncated.success());
    drop(child.stdin.take());
    let status = common::wait_bounded(&mut child, LIMIT, "the child after the truncate");
    assert_eq!(
        status.signal(),
        Some(libc::SIGBUS),
        "the child's touch after the truncate should be a SIGBUS: {status}"
    );
    shown("another process truncated the file to 0: the mapper's next touch was a SIGBUS");
    std::fs::remove_file(&path).unwrap();
    scratch.finish();
}

/// A sparse file on a full tmpfs maps fine, and the first touch of a hole is a SIGBUS
/// (the page cannot be allocated); `posix_fallocate` says `ENOSPC` up front instead.
#[test]
fn a_sparse_page_on_a_full_tmpfs_is_a_sigbus() {
    if !is_root() {
        return skip("needs root to mount a small private tmpfs (unshare -m)");
    }
    let scratch = Scratch::new();
    let mount = scratch.path().join("tmpfs");
    std::fs::create_dir(&mount).unwrap();
    let dir = mount.to_string_lossy().into_owned();
    let run = run(
        helper("sparse-on-full-tmpfs", &[&dir]),
        "a child that touches a hole on a full tmpfs",
    );
    let out = text(&run.stdout);
    if let Some(why) = out.lines().find_map(|l| l.strip_prefix("skipped: ")) {
        std::fs::remove_dir(&mount).unwrap();
        return skip(why);
    }
    assert!(
        out.contains("fallocate ENOSPC") && out.contains("mapped"),
        "posix_fallocate should say ENOSPC and the mmap should succeed:\n{out}{}",
        run.stderr
    );
    assert_eq!(
        run.status.signal(),
        Some(libc::SIGBUS),
        "the touch of a hole on a full tmpfs should be a SIGBUS ({}):\n{out}{}",
        run.status,
        run.stderr
    );
    shown(
        "on a full 256 KiB tmpfs: posix_fallocate ENOSPC, mmap of the sparse file fine, \
         first touch of a hole SIGBUS",
    );
    std::fs::remove_dir(&mount).unwrap();
    scratch.finish();
}

/// A tmpfs file takes `user.` extended attributes (Linux 6.6+), which is how `create`
/// marks the kata's segments in `/dev/shm`.
#[test]
fn a_tmpfs_file_takes_a_user_extended_attribute() {
    let (_name, _path, file) = system_file("xattr");
    let key = CString::new("user.shm-kata-fact").unwrap();
    // SAFETY: fsetxattr reads the NUL-terminated key and 1 byte of value from pointers
    // that are valid for the call; the descriptor is open.
    let done =
        unsafe { libc::fsetxattr(file.as_raw_fd(), key.as_ptr(), b"1".as_ptr().cast(), 1, 0) };
    if done != 0 {
        let errno = Errno::last();
        if errno == Errno::EOPNOTSUPP {
            return skip(format!(
                "this kernel ({}) refuses user xattrs on tmpfs (EOPNOTSUPP): Linux 6.6+ takes them",
                kernel()
            ));
        }
        panic!("fsetxattr on a /dev/shm file: {errno}");
    }
    shown(format!(
        "a /dev/shm file took user.shm-kata-fact on Linux {}",
        kernel()
    ));
}

// ---------------------------------------------------------------------------------------
// Page faults and huge pages

const FAULT_BYTES: usize = 64 << 20;
const FAULT_PAGES: i64 = (FAULT_BYTES / PAGE) as i64;
/// What a fact puts in `/dev/shm`: no more than a container's 64 MiB `/dev/shm` holds.
const SHM_BYTES: usize = 16 << 20;

/// A 64 MiB memfd whose pages all exist: written (`written`) or only fallocated.
fn faults_memfd(written: bool) -> Option<File> {
    let shmem = shmem_enabled();
    if ["always", "within_size", "force"].contains(&shmem.as_str()) {
        skip(format!(
            "shmem_enabled = {shmem} gives a memfd 2 MiB pages by itself: the 4 KiB counts \
             cannot be shown"
        ));
        return None;
    }
    let file = memfd("facts-faults");
    file.set_len(FAULT_BYTES as u64).unwrap();
    if let Err(errno) = posix_fallocate(&file, 0, FAULT_BYTES as i64) {
        skip(format!("no room for a 64 MiB memfd here ({errno})"));
        return None;
    }
    if written {
        let chunk = vec![1u8; 1 << 20];
        for offset in (0..FAULT_BYTES).step_by(chunk.len()) {
            file.write_all_at(&chunk, offset as u64).unwrap();
        }
    }
    Some(file)
}

/// Faults of one pass over a fresh mapping of `file`, a byte per 4 KiB page.
fn faults_of_a_pass(file: &File, write: bool) -> i64 {
    let map = Mapping::shared(file, FAULT_BYTES, false).unwrap();
    let before = minor_faults();
    let mut sum = 0u64;
    for offset in (0..FAULT_BYTES).step_by(PAGE) {
        if write {
            poke(&map, offset, 2);
        } else {
            sum += u64::from(peek(&map, offset));
        }
    }
    let faults = minor_faults() - before;
    std::hint::black_box(sum);
    faults
}

/// Reads of a fresh mapping fault in batches (fault-around, 64 KiB by default): about
/// 1,000 faults for 64 MiB of written 4 KiB pages, not 16,384.
#[test]
fn reads_of_a_fresh_mapping_fault_around_in_batches() {
    let Some(file) = faults_memfd(true) else {
        return;
    };
    let faults = faults_of_a_pass(&file, false);
    assert!(
        faults < FAULT_PAGES / 4,
        "reading {FAULT_PAGES} written pages took {faults} faults: fault-around should \
         map about 16 pages per fault"
    );
    shown(format!(
        "reading 64 MiB ({FAULT_PAGES} pages) through a fresh mapping: {faults} minor faults \
         ({:.1} pages per fault)",
        FAULT_PAGES as f64 / faults.max(1) as f64
    ));
}

/// Writes to a fresh shared mapping fault once per 4 KiB page: 16,384 for 64 MiB
/// (fault-around maps pages read-only, so it does not serve writes).
#[test]
fn writes_to_a_fresh_mapping_fault_once_per_page() {
    let Some(file) = faults_memfd(true) else {
        return;
    };
    let faults = faults_of_a_pass(&file, true);
    assert!(
        faults >= FAULT_PAGES * 9 / 10,
        "writing {FAULT_PAGES} pages took only {faults} faults"
    );
    shown(format!(
        "writing 64 MiB ({FAULT_PAGES} pages) through a fresh mapping: {faults} minor faults"
    ));
}

/// Pages that `posix_fallocate` reserved and nobody wrote yet fault once per page even
/// for reads: fault-around skips pages that are not "up to date", and a fallocated
/// tmpfs page is not until it is written.
#[test]
fn fallocated_never_written_pages_fault_once_per_page() {
    let Some(file) = faults_memfd(false) else {
        return;
    };
    let faults = faults_of_a_pass(&file, false);
    assert!(
        faults >= FAULT_PAGES * 9 / 10,
        "reading {FAULT_PAGES} fallocated pages took only {faults} faults"
    );
    shown(format!(
        "reading 64 MiB of fallocated, never-written pages: {faults} minor faults"
    ));
}

/// `madvise(MADV_COLLAPSE)` turns a `/dev/shm` file into 2 MiB pages though the mount
/// has no `huge=` option (Linux 6.1+), and a fresh 2 MiB-aligned mapping of it then reads
/// it in one fault per 2 MiB: 32 faults for 64 MiB, where 4 KiB pages take about 1,000.
/// (16 MiB here: a container's `/dev/shm` may have only 64 MiB.)
#[test]
fn madvise_collapse_gives_a_dev_shm_file_huge_pages() {
    if let Some(why) = thp_missing() {
        return skip(why);
    }
    let (_name, _path, file) = system_file("collapse");
    file.set_len(SHM_BYTES as u64).unwrap();
    if let Err(errno) = posix_fallocate(&file, 0, SHM_BYTES as i64) {
        return skip(format!("no room for 16 MiB in /dev/shm ({errno})"));
    }
    let map = Mapping::shared(&file, SHM_BYTES, false).unwrap();
    if let Err(errno) = collapse(&map, SHM_BYTES) {
        return skip(format!(
            "MADV_COLLAPSE refused on /dev/shm ({errno}) on Linux {}: {}",
            kernel(),
            shm_kata::pages::why_collapse_refused(errno)
        ));
    }
    let huge = map.huge_mapped().unwrap();
    assert_eq!(huge, SHM_BYTES, "every 2 MiB should now be one huge page");
    drop(map);
    let fresh = Mapping::shared(&file, SHM_BYTES, false).unwrap();
    let before = minor_faults();
    let mut sum = 0u64;
    for offset in (0..SHM_BYTES).step_by(PAGE) {
        sum += u64::from(peek(&fresh, offset));
    }
    let faults = minor_faults() - before;
    std::hint::black_box(sum);
    assert!(
        faults <= 2 * (SHM_BYTES / HUGE_PAGE) as i64,
        "a fresh aligned mapping of 8 huge pages took {faults} faults to read"
    );
    shown(format!(
        "MADV_COLLAPSE on a 16 MiB /dev/shm file: {} MiB of 2 MiB pages; a fresh aligned \
         mapping read it in {faults} minor faults (64 MiB would take 32)",
        huge >> 20
    ));
}

/// Collapsing before `posix_fallocate` is refused (`EINVAL`) only where a 2 MiB range has
/// no page at all: one written page per 2 MiB is enough, and the rest of the range is
/// filled with zeros (the data written is kept).
#[test]
fn collapse_needs_one_backed_page_per_2_mib_not_a_reservation() {
    if let Some(why) = thp_missing() {
        return skip(why);
    }
    let len = 2 * HUGE_PAGE;
    let file = memfd("facts-sparse-collapse");
    file.set_len(len as u64).unwrap();
    let map = Mapping::shared(&file, len, false).unwrap();
    let sparse = collapse(&map, len);
    if sparse == Ok(()) {
        panic!("MADV_COLLAPSE of a wholly sparse memfd succeeded: holes should be refused");
    }
    // One written byte in the first 2 MiB only: that range collapses, the other does not.
    file.write_all_at(&[9], 4096 + 5).unwrap();
    let partly = collapse(&map, len);
    let huge_partly = map.huge_mapped().unwrap();
    if sparse != Err(Errno::EINVAL) || huge_partly == 0 {
        return skip(format!(
            "MADV_COLLAPSE on a memfd on Linux {} (shmem_enabled = {}): sparse {sparse:?}, \
             one page {partly:?}; this kernel does not collapse memfds on request",
            kernel(),
            shmem_enabled()
        ));
    }
    file.write_all_at(&[9], (HUGE_PAGE + 5) as u64).unwrap();
    let both = collapse(&map, len);
    assert_eq!(both, Ok(()), "one page per 2 MiB should be enough");
    assert_eq!(map.huge_mapped().unwrap(), len);
    assert_eq!((peek(&map, 4096 + 5), peek(&map, HUGE_PAGE + 5)), (9, 9));
    assert_eq!(peek(&map, 0), 0);
    shown(format!(
        "sparse 4 MiB: {sparse:?}; one page in the first 2 MiB: {partly:?} with {} MiB \
         collapsed; one page in each: Ok, data kept",
        huge_partly >> 20
    ));
}

/// On a tmpfs mounted `huge=advise`, `posix_fallocate` reserves 4 KiB pages (0 kB of
/// huge pages), and `MADV_COLLAPSE` then works, as on a mount with no `huge=` at all.
#[test]
fn a_huge_advise_mount_leaves_fallocate_on_small_pages_and_collapse_works() {
    mount_fact("huge-advise", "huge=advise");
}

/// On a tmpfs mounted `huge=within_size`, `posix_fallocate` itself reserves 2 MiB pages;
/// a collapse of that reservation followed by a fill loses nothing: another process
/// reads every byte back (the data loss once reported here does not reproduce).
#[test]
fn a_huge_within_size_mount_reserves_huge_pages_at_fallocate() {
    mount_fact("huge-within-size", "huge=within_size");
}

fn mount_fact(role: &str, option: &str) {
    if let Some(why) = thp_missing() {
        return skip(why);
    }
    if !is_root() {
        return skip(format!(
            "needs root to mount a private tmpfs with {option} (unshare -m)"
        ));
    }
    let scratch = Scratch::new();
    let mount = scratch.path().join("tmpfs");
    std::fs::create_dir(&mount).unwrap();
    let dir = mount.to_string_lossy().into_owned();
    let run = run(helper(role, &[&dir]), "a child with a private tmpfs");
    std::fs::remove_dir(&mount).unwrap();
    let out = text(&run.stdout);
    if let Some(why) = out.lines().find_map(|l| l.strip_prefix("skipped: ")) {
        return skip(why);
    }
    assert!(
        run.status.success(),
        "the experiment on a {option} tmpfs failed ({}):\n{out}{}",
        run.status,
        run.stderr
    );
    let result = out
        .lines()
        .find_map(|l| l.strip_prefix("result: "))
        .unwrap_or("no result line")
        .to_owned();
    shown(result);
    scratch.finish();
}

// ---------------------------------------------------------------------------------------
// Seals

fn sealed(file: &File) -> SealFlag {
    SealFlag::from_bits_retain(fcntl(file, FcntlArg::F_GET_SEALS).unwrap())
}

/// `F_SEAL_WRITE` cannot be added while a writable shared mapping exists (`EBUSY`); once
/// added, no new writable shared mapping (`EPERM`) and no `write` (`EPERM`).
#[test]
fn f_seal_write_is_ebusy_while_a_writable_shared_mapping_exists() {
    let file = memfd("facts-seal-write");
    file.set_len(PAGE as u64).unwrap();
    let map = Mapping::shared(&file, PAGE, false).unwrap();
    let busy = fcntl(&file, FcntlArg::F_ADD_SEALS(SealFlag::F_SEAL_WRITE));
    assert_eq!(
        busy,
        Err(Errno::EBUSY),
        "F_SEAL_WRITE with a writable mapping"
    );
    drop(map);
    fcntl(&file, FcntlArg::F_ADD_SEALS(SealFlag::F_SEAL_WRITE)).unwrap();
    let remap = Mapping::shared(&file, PAGE, false).map_err(|e| e.raw_os_error());
    assert_eq!(
        remap.err(),
        Some(Some(libc::EPERM)),
        "a writable mapping after F_SEAL_WRITE"
    );
    let write = file.write_at(b"x", 0).map_err(|e| e.raw_os_error());
    assert_eq!(write, Err(Some(libc::EPERM)), "write(2) after F_SEAL_WRITE");
    shown(
        "F_SEAL_WRITE with a writable mapping: EBUSY; after unmapping it: sealed, then \
           mmap(PROT_WRITE, MAP_SHARED) EPERM, write EPERM",
    );
}

/// `F_SEAL_FUTURE_WRITE` (Linux 5.1+) can be added over a writable mapping, which keeps
/// writing; only new writable mappings and `write` are refused (`EPERM`).
#[test]
fn f_seal_future_write_keeps_existing_mappings_writable() {
    let file = memfd("facts-seal-future-write");
    file.set_len(PAGE as u64).unwrap();
    let map = Mapping::shared(&file, PAGE, false).unwrap();
    match fcntl(&file, FcntlArg::F_ADD_SEALS(SealFlag::F_SEAL_FUTURE_WRITE)) {
        Ok(_) => {}
        Err(Errno::EINVAL) => {
            return skip(format!(
                "Linux {} does not know F_SEAL_FUTURE_WRITE (5.1+)",
                kernel()
            ));
        }
        Err(errno) => panic!("F_SEAL_FUTURE_WRITE: {errno}"),
    }
    poke(&map, 0, 5);
    let mut byte = [0];
    file.read_exact_at(&mut byte, 0).unwrap();
    assert_eq!(byte, [5], "the existing mapping still writes");
    let remap = Mapping::shared(&file, PAGE, false).map_err(|e| e.raw_os_error());
    assert_eq!(remap.err(), Some(Some(libc::EPERM)));
    let write = file.write_at(b"x", 0).map_err(|e| e.raw_os_error());
    assert_eq!(write, Err(Some(libc::EPERM)));
    shown(
        "F_SEAL_FUTURE_WRITE over a writable mapping: added; that mapping still wrote; a \
           new writable mapping and write(2): EPERM",
    );
}

/// A memfd made with `MFD_NOEXEC_SEAL` (Linux 6.3+, or any memfd where the sysctl
/// `vm.memfd_noexec` is 1) carries `F_SEAL_EXEC` from birth, has mode 0666, and stays
/// writable: a writable shared mapping and the size seals go with it. A receiver that
/// requires the seals to *equal* shrink|grow|seal refuses such a valid segment.
#[test]
fn a_noexec_memfd_carries_f_seal_exec_and_stays_writable() {
    const MFD_NOEXEC_SEAL: libc::c_uint = 0x0008;
    let flags = MFdFlags::from_bits_retain(
        (MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING).bits() | MFD_NOEXEC_SEAL,
    );
    let fd = match memfd_create("facts-noexec", flags) {
        Ok(fd) => fd,
        Err(Errno::EINVAL) => {
            return skip(format!(
                "Linux {} does not know MFD_NOEXEC_SEAL (6.3+)",
                kernel()
            ));
        }
        Err(errno) => panic!("memfd_create(MFD_NOEXEC_SEAL): {errno}"),
    };
    let file = File::from(fd);
    let exec = SealFlag::from_bits_retain(libc::F_SEAL_EXEC);
    assert!(
        sealed(&file).contains(exec),
        "MFD_NOEXEC_SEAL seals F_SEAL_EXEC"
    );
    file.set_len(PAGE as u64).unwrap();
    let map = Mapping::shared(&file, PAGE, false).unwrap();
    fcntl(
        &file,
        FcntlArg::F_ADD_SEALS(
            SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_SEAL,
        ),
    )
    .unwrap();
    poke(&map, 0, 1);
    let mode = file.metadata().unwrap().mode() & 0o777;
    shown(format!(
        "MFD_NOEXEC_SEAL: mode {mode:o}, seals {:#x} (F_SEAL_EXEC plus shrink, grow, seal) \
         with a writable shared mapping that still wrote",
        sealed(&file).bits()
    ));
}

/// Adding `F_SEAL_EXEC` to an executable memfd (the default mode 0777) adds the write
/// seals too (`memfd_add_seals`: "SEAL_EXEC implies SEAL_WRITE"), so it is `EBUSY` while
/// a writable shared mapping exists.
#[test]
fn f_seal_exec_on_an_executable_memfd_implies_the_write_seals() {
    let file = memfd("facts-seal-exec");
    file.set_len(PAGE as u64).unwrap();
    let exec = SealFlag::from_bits_retain(libc::F_SEAL_EXEC);
    let map = Mapping::shared(&file, PAGE, false).unwrap();
    match fcntl(&file, FcntlArg::F_ADD_SEALS(exec)) {
        Err(Errno::EINVAL) => {
            return skip(format!(
                "Linux {} does not know F_SEAL_EXEC (6.3+)",
                kernel()
            ));
        }
        Err(Errno::EBUSY) => {}
        other => panic!("F_SEAL_EXEC on a 0777 memfd with a writable mapping: {other:?}"),
    }
    drop(map);
    fcntl(&file, FcntlArg::F_ADD_SEALS(exec)).unwrap();
    let seals = sealed(&file);
    assert!(
        seals.contains(SealFlag::F_SEAL_WRITE),
        "F_SEAL_EXEC on a 0777 memfd should bring F_SEAL_WRITE: {seals:?}"
    );
    shown(format!(
        "F_SEAL_EXEC on a mode-777 memfd: EBUSY with a writable mapping; without one, the \
         seals became {:#x} (write, future-write, shrink, grow and exec)",
        seals.bits()
    ));
}

/// Seals `F_SEAL_SHRINK` and `F_SEAL_GROW` refuse every change of size with `EPERM`.
#[test]
fn shrink_and_grow_seals_refuse_every_resize() {
    let file = memfd("facts-seal-size");
    file.set_len(2 * PAGE as u64).unwrap();
    fcntl(
        &file,
        FcntlArg::F_ADD_SEALS(SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW),
    )
    .unwrap();
    for len in [0, PAGE as u64, 4 * PAGE as u64] {
        let resized = file.set_len(len).map_err(|e| e.raw_os_error());
        assert_eq!(resized, Err(Some(libc::EPERM)), "ftruncate to {len}");
    }
    assert_eq!(file.metadata().unwrap().len(), 2 * PAGE as u64);
    shown("ftruncate of a shrink+grow-sealed memfd to 0, 4096 and 16384: EPERM each");
}

/// A memfd has no name, but any process of the same user (or root) can reopen it
/// read-write through `/proc/PID/fd/N` (its mode is 0777) and write it; its seals still
/// hold.
#[test]
fn a_memfd_is_reopened_through_proc_pid_fd_by_another_process() {
    let file = memfd("facts-reopen");
    file.set_len(PAGE as u64).unwrap();
    fcntl(
        &file,
        FcntlArg::F_ADD_SEALS(SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW),
    )
    .unwrap();
    let mode = file.metadata().unwrap().mode() & 0o7777;
    let proc_path = format!("/proc/{}/fd/{}", std::process::id(), file.as_raw_fd());
    let mut command = Command::new("sh");
    command.args([
        "-c",
        "printf reopened 1<> \"$1\" && { truncate -s 0 \"$1\" 2>/dev/null && echo shrunk || echo not-shrunk; }",
        "sh",
        &proc_path,
    ]);
    let run = run(command, "sh reopening the memfd");
    let out = text(&run.stdout);
    let mut bytes = [0; 8];
    file.read_exact_at(&mut bytes, 0).unwrap();
    assert_eq!(
        &bytes, b"reopened",
        "another process should have written through {proc_path}:\n{out}{}",
        run.stderr
    );
    assert!(
        out.contains("not-shrunk"),
        "the seals should still hold:\n{out}"
    );
    shown(format!(
        "a `sh` (uid {}) opened {proc_path} read-write and wrote 8 bytes; its truncate was \
         refused; the memfd's mode is {mode:o}",
        nix::unistd::geteuid()
    ));
}

/// A tmpfs file that is not a memfd answers `F_GET_SEALS` with `F_SEAL_SEAL` (sealed
/// against any seal, so it can never be sealed); a file on another file system says
/// `EINVAL`.
#[test]
fn a_tmpfs_file_that_is_not_a_memfd_answers_f_seal_seal() {
    let (_name, _path, file) = system_file("seals");
    let seals = fcntl(&file, FcntlArg::F_GET_SEALS).map(SealFlag::from_bits_retain);
    assert_eq!(
        seals,
        Ok(SealFlag::F_SEAL_SEAL),
        "F_GET_SEALS of a /dev/shm file"
    );
    let adding = fcntl(&file, FcntlArg::F_ADD_SEALS(SealFlag::F_SEAL_SHRINK));
    assert_eq!(adding, Err(Errno::EPERM), "F_ADD_SEALS on a /dev/shm file");
    let scratch = Scratch::new();
    let (other, disk) = scratch_file(&scratch, "on-disk", 0);
    let elsewhere = fcntl(&disk, FcntlArg::F_GET_SEALS);
    std::fs::remove_file(&other).unwrap();
    scratch.finish();
    match elsewhere {
        Err(Errno::EINVAL) => shown(
            "F_GET_SEALS: a /dev/shm file says F_SEAL_SEAL (F_ADD_SEALS EPERM); a file in \
             target/tmp says EINVAL",
        ),
        other => shown(format!(
            "F_GET_SEALS: a /dev/shm file says F_SEAL_SEAL (F_ADD_SEALS EPERM); the scratch \
             directory's file says {other:?} (is target/tmp a tmpfs here?)"
        )),
    }
}

// ---------------------------------------------------------------------------------------
// Descriptors over a socket

/// Sends `copies` copies of `file`'s descriptor with 8 bytes over `socket`, as one message.
fn send_copies(socket: &UnixStream, file: &File, copies: usize) {
    let fds = vec![file.as_fd(); copies];
    let mut space = vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(copies))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    assert!(control.push(SendAncillaryMessage::ScmRights(&fds)));
    let sent = sendmsg(
        socket,
        &[IoSlice::new(&[0; 8])],
        &mut control,
        SendFlags::empty(),
    );
    assert_eq!(sent.ok(), Some(8), "sendmsg of {copies} descriptors");
}

/// One `recvmsg` with room for `room` descriptors: how many arrived, and `MSG_CTRUNC`.
fn receive_copies(socket: &UnixStream, room: usize) -> (Vec<OwnedFd>, bool) {
    let mut bytes = [0u8; 8];
    let mut space = vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(room))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let message = recvmsg(
        socket,
        &mut [IoSliceMut::new(&mut bytes)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    )
    .expect("recvmsg");
    let fds = control
        .drain()
        .filter_map(|cmsg| match cmsg {
            RecvAncillaryMessage::ScmRights(fds) => Some(fds),
            _ => None,
        })
        .flatten()
        .collect();
    (fds, message.flags.contains(ReturnFlags::CTRUNC))
}

/// How many of this process's descriptors are the memfd labelled `label`.
fn holding(label: &str) -> usize {
    let link = format!("/memfd:{label} (deleted)");
    let links = shm_kata::descriptors::links().expect("/proc/self/fd");
    links.iter().filter(|target| **target == link).count()
}

/// A message with more descriptors than the receiver made room for arrives cut short:
/// the kernel installs in the receiver only the descriptors that fit and sets
/// `MSG_CTRUNC`; the others never reach it ("the excess file descriptors are automatically
/// closed in the receiving process", unix(7)).
#[test]
fn more_descriptors_than_fit_arrive_cut_short() {
    let label = format!("facts-cut-{}", std::process::id());
    let file = memfd(&label);
    let (ours, theirs) = UnixStream::pair().unwrap();
    send_copies(&ours, &file, 10);
    drop(file);
    let (arrived, cut_short) = receive_copies(&theirs, 1);
    assert!(
        cut_short,
        "MSG_CTRUNC on a message of 10 descriptors, room for 1"
    );
    assert!(
        !arrived.is_empty() && arrived.len() < 10,
        "{} of 10 arrived",
        arrived.len()
    );
    let count = arrived.len();
    assert_eq!(holding(&label), count, "held after the receive");
    drop(arrived);
    assert_eq!(holding(&label), 0, "held after dropping what arrived");
    shown(format!(
        "10 descriptors sent, room made for 1 (`cmsg_space!(ScmRights(1))`, rounded up for \
         alignment): {count} arrived, MSG_CTRUNC set; once those were closed, this process \
         held none"
    ));
}

/// A receiver at its descriptor limit (`RLIMIT_NOFILE`) gets only the descriptors its
/// table has room for, and `MSG_CTRUNC`, however much room its buffer has ("If the number
/// of file descriptors received ... would cause the process to exceed its RLIMIT_NOFILE
/// resource limit, the excess file descriptors are automatically closed", unix(7)).
#[test]
fn a_receiver_at_its_descriptor_limit_gets_only_what_fits() {
    let label = format!("facts-limit-{}", std::process::id());
    let file = memfd(&label);
    let (ours, theirs) = UnixStream::pair().unwrap();
    send_copies(&ours, &file, 3);
    let command = helper("receive-at-limit", &[]);
    let what = "the receiver with one descriptor free";
    let input = Stdio::from(OwnedFd::from(theirs));
    let run = common::run_bounded_with_input(command, input, LIMIT, what);
    let out = text(&run.stdout);
    let line = out.lines().find_map(|l| l.strip_prefix("arrived "));
    assert_eq!(
        line,
        Some("1 ctrunc true"),
        "a receiver with 1 descriptor free, sent 3 with room for 8:\n{out}{}",
        run.stderr
    );
    shown(
        "a process with 1 descriptor free below its RLIMIT_NOFILE, sent 3 with room for 8: \
         1 arrived, MSG_CTRUNC set",
    );
}

// ---------------------------------------------------------------------------------------
// Locks

/// A lock of `kind` on `file`, taken without waiting: `flock`, an open-file-description
/// lock (`F_OFD_SETLK`) or a process-associated record lock (`F_SETLK`).
fn try_lock(file: &impl AsFd, kind: &str) -> Result<(), Errno> {
    let whole_file = libc::flock {
        l_type: libc::F_WRLCK as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    match kind {
        "flock" => {
            let fd = file.as_fd().as_raw_fd();
            // SAFETY: flock reads no memory; the descriptor is open for the call.
            let done = unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) };
            if done == 0 {
                Ok(())
            } else {
                Err(Errno::last())
            }
        }
        "ofd" => fcntl(file, FcntlArg::F_OFD_SETLK(&whole_file)).map(drop),
        "posix" => fcntl(file, FcntlArg::F_SETLK(&whole_file)).map(drop),
        _ => unreachable!("no lock kind {kind}"),
    }
}

/// The kernel releases a SIGKILLed process's lock of `kind`.
fn killed_holder_releases(kind: &str) {
    let scratch = Scratch::new();
    let (path, file) = scratch_file(&scratch, "locked", 1);
    let path_text = path.to_string_lossy().into_owned();
    let mut child = helper("hold-lock", &[&path_text, kind]).spawn().unwrap();
    assert!(
        wait_for_line(&mut child, "holding").is_some(),
        "the child should take the {kind} lock"
    );
    assert_eq!(
        try_lock(&file, kind),
        Err(Errno::EAGAIN),
        "the live holder's {kind} lock should block us"
    );
    kill(child);
    assert_eq!(
        try_lock(&file, kind),
        Ok(()),
        "the SIGKILLed holder's {kind} lock should be gone"
    );
    drop(file);
    std::fs::remove_file(&path).unwrap();
    scratch.finish();
}

/// The kernel releases a `flock` when its holder dies, however it dies (SIGKILL here).
#[test]
fn a_killed_holders_flock_is_released() {
    killed_holder_releases("flock");
    shown("a flock held by a SIGKILLed process: EWOULDBLOCK before the kill, free after");
}

/// The kernel releases an open-file-description lock (`F_OFD_SETLK`) when its holder
/// dies.
#[test]
fn a_killed_holders_ofd_lock_is_released() {
    killed_holder_releases("ofd");
    shown("an F_OFD_SETLK lock held by a SIGKILLed process: EAGAIN before, free after");
}

/// A `flock` belongs to an open file description: a second `open` of the file, even in
/// the same process, conflicts with it; a cloned (dup'ed) descriptor shares it, and
/// unlocking through the clone releases it.
#[test]
fn a_cloned_descriptor_shares_and_releases_the_same_flock() {
    let scratch = Scratch::new();
    let (path, first) = scratch_file(&scratch, "flocked", 1);
    try_lock(&first, "flock").unwrap();
    let clone = first.try_clone().unwrap();
    let second_open = File::open(&path).unwrap();
    assert_eq!(
        try_lock(&second_open, "flock"),
        Err(Errno::EWOULDBLOCK),
        "another open of the file conflicts, even in this process"
    );
    assert_eq!(
        try_lock(&clone, "flock"),
        Ok(()),
        "the clone holds the same lock"
    );
    // SAFETY: flock reads no memory; the clone's descriptor is open.
    assert_eq!(unsafe { libc::flock(clone.as_raw_fd(), libc::LOCK_UN) }, 0);
    assert_eq!(
        try_lock(&second_open, "flock"),
        Ok(()),
        "unlocking through the clone released the lock taken through the original"
    );
    drop((first, clone, second_open));
    std::fs::remove_file(&path).unwrap();
    scratch.finish();
    shown(
        "flock: a second open conflicts (EWOULDBLOCK); LOCK_UN through a dup released the \
           original's lock",
    );
}

/// A process-associated record lock (`fcntl(F_SETLK)`) vanishes when the process closes
/// *any* descriptor of the file, not only the one it locked through (fcntl(2)).
#[test]
fn fcntl_record_locks_vanish_when_any_descriptor_closes() {
    let scratch = Scratch::new();
    let (path, locked) = scratch_file(&scratch, "record-locked", 1);
    try_lock(&locked, "posix").unwrap();
    // An OFD lock conflicts with a process-associated lock, even one of this process:
    // it is how this process sees its own record lock from outside.
    let probe = File::options().read(true).write(true).open(&path).unwrap();
    assert_eq!(
        try_lock(&probe, "ofd"),
        Err(Errno::EAGAIN),
        "the record lock holds"
    );
    let unrelated = File::open(&path).unwrap();
    drop(unrelated);
    assert_eq!(
        try_lock(&probe, "ofd"),
        Ok(()),
        "closing another descriptor of the file should have dropped the record lock"
    );
    drop((locked, probe));
    std::fs::remove_file(&path).unwrap();
    scratch.finish();
    shown("an F_SETLK lock was gone after the process closed another descriptor of the file");
}

/// A robust, process-shared pthread mutex in shared memory: when its holder dies, the
/// next locker gets `EOWNERDEAD` (and must repair the data, then call
/// `pthread_mutex_consistent`); a plain one stays locked forever.
#[test]
fn a_robust_mutex_gives_the_next_locker_eownerdead() {
    let scratch = Scratch::new();
    let (path, file) = scratch_file(&scratch, "mutexes", PAGE as u64);
    let map = Mapping::shared(&file, PAGE, false).unwrap();
    let plain = map.as_mut_ptr().cast::<libc::pthread_mutex_t>();
    // SAFETY: the two mutexes sit at offsets 0 and 256 of our page-sized, page-aligned
    // mapping: in bounds, and aligned for pthread_mutex_t (8 bytes here).
    let robust = unsafe { map.as_mut_ptr().add(256) }.cast::<libc::pthread_mutex_t>();
    init_mutex(plain, false);
    init_mutex(robust, true);
    let path_text = path.to_string_lossy().into_owned();
    let mut child = helper("hold-mutexes", &[&path_text]).spawn().unwrap();
    assert!(
        wait_for_line(&mut child, "holding").is_some(),
        "the child should lock both mutexes"
    );
    kill(child);
    // SAFETY: both mutexes were initialized above as process-shared, in memory that stays
    // mapped for the whole test; trylock and lock only touch the mutex itself.
    let (plain_try, robust_lock) = unsafe {
        (
            libc::pthread_mutex_trylock(plain),
            libc::pthread_mutex_lock(robust),
        )
    };
    assert_eq!(
        plain_try,
        libc::EBUSY,
        "the plain mutex of a dead holder stays locked"
    );
    assert_eq!(
        robust_lock,
        libc::EOWNERDEAD,
        "the robust mutex of a dead holder says EOWNERDEAD"
    );
    // SAFETY: we hold the robust mutex (EOWNERDEAD means the lock was acquired).
    unsafe {
        assert_eq!(libc::pthread_mutex_consistent(robust), 0);
        assert_eq!(libc::pthread_mutex_unlock(robust), 0);
        assert_eq!(libc::pthread_mutex_lock(robust), 0);
        assert_eq!(libc::pthread_mutex_unlock(robust), 0);
    }
    drop((map, file));
    std::fs::remove_file(&path).unwrap();
    scratch.finish();
    shown(
        "after SIGKILL of the holder: the plain pshared mutex EBUSY (for ever), the robust \
           one EOWNERDEAD, then consistent and usable",
    );
}

fn init_mutex(mutex: *mut libc::pthread_mutex_t, robust: bool) {
    let mut attr = std::mem::MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
    // SAFETY: the attribute object is initialized by pthread_mutexattr_init before any
    // other call uses it and destroyed after; `mutex` points into our live shared mapping,
    // where nobody else has started to use it yet.
    unsafe {
        assert_eq!(libc::pthread_mutexattr_init(attr.as_mut_ptr()), 0);
        assert_eq!(
            libc::pthread_mutexattr_setpshared(attr.as_mut_ptr(), libc::PTHREAD_PROCESS_SHARED),
            0
        );
        if robust {
            assert_eq!(
                libc::pthread_mutexattr_setrobust(attr.as_mut_ptr(), libc::PTHREAD_MUTEX_ROBUST),
                0
            );
        }
        assert_eq!(libc::pthread_mutex_init(mutex, attr.as_ptr()), 0);
        libc::pthread_mutexattr_destroy(attr.as_mut_ptr());
    }
}

// ---------------------------------------------------------------------------------------
// Processes

/// A child started with `fork` + `exec` keeps the parent's descriptors except those
/// marked close-on-exec: only those close at the `exec`.
#[test]
fn a_child_keeps_only_the_descriptors_without_close_on_exec() {
    let scratch = Scratch::new();
    let (a, cloexec) = scratch_file(&scratch, "cloexec", 0);
    let (b, inherited) = scratch_file(&scratch, "inherited", 0);
    fcntl(&inherited, FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty())).unwrap();
    let script = format!(
        "test -e /proc/self/fd/{} && echo cloexec-open; test -e /proc/self/fd/{} && echo inherited-open",
        cloexec.as_raw_fd(),
        inherited.as_raw_fd()
    );
    let mut command = Command::new("sh");
    command.args(["-c", &script]);
    let run = run(command, "sh listing its descriptors");
    let out = text(&run.stdout);
    drop((cloexec, inherited));
    std::fs::remove_file(a).unwrap();
    std::fs::remove_file(b).unwrap();
    scratch.finish();
    assert!(
        out.contains("inherited-open"),
        "the plain descriptor is inherited:\n{out}"
    );
    assert!(
        !out.contains("cloexec-open"),
        "the close-on-exec one is not:\n{out}"
    );
    shown("after exec the child had the plain descriptor and not the close-on-exec one");
}

/// A process of the same user that is not dumpable (`PR_SET_DUMPABLE` 0; a setuid
/// program, one with extra capabilities) hides `/proc/PID/fd` and `maps` from its own
/// user: only root sees them.
#[test]
fn a_non_dumpable_process_hides_its_descriptors_from_its_own_user() {
    // As root, both processes run as `nobody` (root sees everything).
    let as_user = |command: &mut Command| {
        if is_root() {
            command.uid(65534).gid(65534);
        }
    };
    let mut hidden = helper("non-dumpable", &[]);
    as_user(&mut hidden);
    let mut child = match hidden.spawn() {
        Ok(child) => child,
        Err(e) => return skip(format!("cannot start a helper as nobody: {e}")),
    };
    let Some(pid) = wait_for_line(&mut child, "non-dumpable ") else {
        let _ = child.wait();
        return skip(
            "the helper could not run as nobody (the test program must be readable by uid \
             65534 when run as root)",
        );
    };
    let mut look = Command::new("ls");
    look.arg(format!("/proc/{pid}/fd"));
    as_user(&mut look);
    let run = run(look, "ls of a non-dumpable process's descriptors");
    kill(child);
    assert!(
        !run.status.success() && run.stderr.contains("ermission denied"),
        "ls /proc/{pid}/fd of a non-dumpable process of the same user should be refused: \
         {} {}",
        run.status,
        run.stderr
    );
    shown(format!(
        "ls /proc/{pid}/fd of a same-user non-dumpable process: {}",
        run.stderr.trim()
    ));
}

/// PID namespaces hide one way: a process inside a new PID namespace sees only that
/// namespace's processes, while the host sees the namespace's processes too.
#[test]
fn a_pid_namespace_hides_the_host_from_inside_but_not_the_inside_from_the_host() {
    if !is_root() {
        return skip("needs root to make a PID namespace (unshare --pid)");
    }
    let mut command = Command::new("unshare");
    command
        .args(["--pid", "--fork", "--mount-proc", "sh", "-c"])
        .arg("echo inside $$ $(ls -d /proc/[0-9]* | wc -l); read line")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => return skip(format!("no unshare(1): {e}")),
    };
    let Some(inside) = wait_for_line(&mut child, "inside ") else {
        let _ = child.wait();
        return skip(
            "unshare --pid --fork --mount-proc failed here (a container without the right?)",
        );
    };
    // The host: the unshare process's child is the namespace's PID 1, listed in the host's
    // /proc with the host's PID for it.
    let host_sees = children_of(child.id());
    drop(child.stdin.take());
    let _ = common::wait_bounded(&mut child, LIMIT, "the namespace's shell");
    let mut fields = inside.split_whitespace();
    let (own_pid, count) = (fields.next().unwrap_or(""), fields.next().unwrap_or(""));
    let count: usize = count.parse().unwrap_or(usize::MAX);
    assert_eq!(own_pid, "1", "inside, the shell is PID 1");
    assert!(
        count < 5,
        "inside, only the namespace's few processes are listed: {count}"
    );
    assert!(
        !host_sees.trim().is_empty(),
        "the host lists the namespace's shell as a child of unshare"
    );
    shown(format!(
        "inside a new PID namespace: {count} processes in /proc (it is PID 1); the host saw \
         it as PID {}",
        host_sees.trim()
    ));
}

/// The PIDs, in this namespace's `/proc`, of the processes whose parent is `parent`.
fn children_of(parent: u32) -> String {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return String::new();
    };
    let wanted = format!("PPid:\t{parent}");
    entries
        .flatten()
        .filter(|entry| {
            std::fs::read_to_string(entry.path().join("status"))
                .is_ok_and(|status| status.lines().any(|line| line == wanted))
        })
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------------------
// Python

/// `python3 -c CODE`, or the reason it cannot run here.
fn python(code: &str) -> Result<common::Finished, String> {
    if std::env::var_os("SHM_KATA_SKIP_PYTHON").is_some() {
        return Err("SHM_KATA_SKIP_PYTHON is set".into());
    }
    let version = Command::new("python3").arg("--version").output();
    match version {
        Ok(out) if out.status.success() => {}
        _ => return Err("no python3 here".into()),
    }
    let mut command = Command::new("python3");
    command.args(["-c", code]);
    Ok(run(command, "python3"))
}

fn python_version() -> String {
    Command::new("python3")
        .arg("--version")
        .output()
        .map(|o| text(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// A block made by Python's `multiprocessing.shared_memory` is a file in `/dev/shm`
/// (a POSIX `shm_open` object): the kit reads its bytes there.
#[test]
fn a_python_shared_memory_block_is_a_file_in_dev_shm() {
    let name = SystemName::new("py-made");
    let code = format!(
        "from multiprocessing import shared_memory as s\n\
         m = s.SharedMemory(name={:?}, create=True, size=4096)\n\
         m.buf[:6] = b'python'\n\
         print('made', flush=True)\n\
         import sys; sys.stdin.readline()\n\
         m.close(); m.unlink()\n",
        name.name
    );
    if let Err(why) = python("") {
        return skip(why);
    }
    let mut child = Command::new("python3")
        .args(["-c", &code])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let made = wait_for_line(&mut child, "made");
    let path = shm_kata::SegmentDir::system().join(&name.name);
    let bytes = std::fs::read(&path).ok();
    if made.is_some() {
        name.record();
    }
    drop(child.stdin.take());
    let _ = common::wait_bounded(&mut child, LIMIT, "python3");
    let bytes = bytes.unwrap_or_else(|| panic!("Python's block should be {}", path.display()));
    assert_eq!(&bytes[..6], b"python");
    assert_eq!(bytes.len(), 4096);
    shown(format!(
        "{}: SharedMemory(create=True) made {} (4096 bytes, 'python' read back)",
        python_version(),
        path.display()
    ));
}

/// Python's *attaching* `SharedMemory(name=…)` registers the block with its resource
/// tracker, which unlinks it when the attaching process exits (CPython gh-82300; 3.13
/// adds `track=False`): a segment another process still uses loses its name.
#[test]
fn pythons_attaching_shared_memory_unlinks_the_segment_at_exit() {
    let (name, path, file) = system_file("py-attached");
    file.set_len(PAGE as u64).unwrap();
    let code = format!(
        "import warnings; warnings.simplefilter('ignore')\n\
         from multiprocessing import shared_memory as s\n\
         m = s.SharedMemory(name={:?})\n\
         print('attached', m.size)\n\
         m.close()\n",
        name.name
    );
    let run = match python(&code) {
        Ok(run) => run,
        Err(why) => return skip(why),
    };
    let out = text(&run.stdout);
    assert!(
        out.contains("attached"),
        "Python should attach:\n{out}{}",
        run.stderr
    );
    let gone = !path.exists();
    let version = python_version();
    assert!(
        gone,
        "{version}: the attacher's exit should have unlinked {} (if this Python no longer \
         does, the headers that warn about it need a version range)",
        path.display()
    );
    shown(format!(
        "{version}: a process that only attached and closed unlinked {} at its exit",
        path.display()
    ));
}

// ---------------------------------------------------------------------------------------
// The helper process

/// Not a fact: the child process of the experiments above that must end a process (a
/// SIGBUS) or be killed (a lock holder). Started by [`helper`]; run any other way, it has
/// nothing to do.
#[test]
#[ignore = "the child process of the facts' experiments, started by them"]
fn fact_helper() {
    let Ok(role) = std::env::var(ROLE_ENV) else {
        return;
    };
    let args: Vec<String> = std::env::var(ARGS_ENV)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    let say = |line: &str| {
        println!("{line}");
        std::io::stdout().flush().unwrap();
    };
    let wait_for_stdin = || {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    };
    let open = |path: &str| {
        File::options()
            .read(true)
            .write(true)
            .open(path)
            .unwrap_or_else(|e| panic!("open {path}: {e}"))
    };
    match role.as_str() {
        "receive-at-limit" => {
            let stdin = std::io::stdin().as_fd().try_clone_to_owned().unwrap();
            let socket = UnixStream::from(stdin);
            shm_kata::descriptors::leave_free(1).expect("RLIMIT_NOFILE lowered");
            let (arrived, cut_short) = receive_copies(&socket, 8);
            say(&format!("arrived {} ctrunc {cut_short}", arrived.len()));
        }
        "touch-past-the-end" => {
            let file = open(&args[0]);
            let map = Mapping::shared(&file, 2 * PAGE, false).expect("mmap past the end");
            say("mapped 8192");
            poke(&map, PAGE, 1);
            say("touched past the end and lived");
        }
        "touch-after-shrink" => {
            let file = open(&args[0]);
            let map = Mapping::shared(&file, 2 * PAGE, false).unwrap();
            poke(&map, PAGE, 1);
            say("touched");
            wait_for_stdin();
            poke(&map, PAGE, 2);
            say("touched after the truncate and lived");
        }
        "sparse-on-full-tmpfs" => {
            let dir = Path::new(&args[0]);
            if let Err(why) = private_tmpfs(dir, "size=256k") {
                return say(&format!("skipped: {why}"));
            }
            let sparse = File::options()
                .read(true)
                .write(true)
                .create_new(true)
                .open(dir.join("sparse"))
                .unwrap();
            sparse.set_len(1 << 20).unwrap();
            let mut filler = File::create(dir.join("filler")).unwrap();
            while filler.write_all(&[1; PAGE]).is_ok() {}
            match posix_fallocate(&sparse, 0, 1 << 20) {
                Err(errno) => say(&format!("fallocate {errno}")),
                Ok(()) => say("fallocate succeeded on a full tmpfs"),
            }
            let map = Mapping::shared(&sparse, 1 << 20, false).unwrap();
            say("mapped");
            poke(&map, 512 << 10, 1);
            say("touched a hole and lived");
        }
        "huge-advise" | "huge-within-size" => {
            let dir = Path::new(&args[0]);
            let option = if role == "huge-advise" {
                "size=64m,huge=advise"
            } else {
                "size=64m,huge=within_size"
            };
            if let Err(why) = private_tmpfs(dir, option) {
                return say(&format!("skipped: {why}"));
            }
            say(&format!(
                "result: {}",
                huge_mount_experiment(dir, role == "huge-advise")
            ));
        }
        "hold-lock" => {
            let file = open(&args[0]);
            try_lock(&file, &args[1]).expect("the lock should be free");
            say("holding");
            wait_for_stdin();
        }
        "hold-mutexes" => {
            let file = open(&args[0]);
            let map = Mapping::shared(&file, PAGE, false).unwrap();
            let plain = map.as_mut_ptr().cast::<libc::pthread_mutex_t>();
            // SAFETY: the parent initialized both process-shared mutexes at offsets 0 and
            // 256 of this file before starting us; the mapping stays until we are killed.
            unsafe {
                let robust = map.as_mut_ptr().add(256).cast::<libc::pthread_mutex_t>();
                assert_eq!(libc::pthread_mutex_lock(plain), 0);
                assert_eq!(libc::pthread_mutex_lock(robust), 0);
            }
            say("holding");
            wait_for_stdin();
        }
        "non-dumpable" => {
            // SAFETY: prctl(PR_SET_DUMPABLE) takes plain integers and touches no memory.
            let done = unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
            assert_eq!(done, 0);
            say(&format!("non-dumpable {}", std::process::id()));
            wait_for_stdin();
        }
        other => panic!("no helper role {other}"),
    }
}

/// Moves this (helper) process into a mount namespace of its own and mounts a tmpfs with
/// `options` on `dir`: nobody else sees it, and it vanishes with the process.
fn private_tmpfs(dir: &Path, options: &str) -> Result<(), String> {
    // SAFETY: unshare takes a flag and touches no memory; the helper is single-purpose
    // and its other threads (the test harness's) do not care which mounts they see.
    if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
        return Err(format!("unshare(CLONE_NEWNS): {}", Errno::last()));
    }
    let root = CString::new("/").unwrap();
    let none = CString::new("none").unwrap();
    let tmpfs = CString::new("tmpfs").unwrap();
    let target = CString::new(dir.as_os_str().as_encoded_bytes()).unwrap();
    let data = CString::new(options).unwrap();
    // SAFETY: every pointer is a NUL-terminated string that lives across the call. The
    // first call makes every mount of our new namespace private, so the second cannot
    // propagate to the machine's own namespace.
    unsafe {
        if libc::mount(
            none.as_ptr(),
            root.as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) != 0
        {
            return Err(format!("mount --make-rprivate /: {}", Errno::last()));
        }
        if libc::mount(
            tmpfs.as_ptr(),
            target.as_ptr(),
            tmpfs.as_ptr(),
            0,
            data.as_ptr().cast(),
        ) != 0
        {
            return Err(format!("mount -t tmpfs -o {options}: {}", Errno::last()));
        }
    }
    Ok(())
}

/// On a fresh `huge=` tmpfs: fallocate 4 MiB, fill it, see which pages it got, collapse,
/// and have another process read it back.
fn huge_mount_experiment(dir: &Path, advise: bool) -> String {
    let len = 2 * HUGE_PAGE;
    let path = dir.join("segment");
    let file = File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .unwrap();
    file.set_len(len as u64).unwrap();
    posix_fallocate(&file, 0, len as i64).unwrap();
    let map = Mapping::shared(&file, len, false).unwrap();
    // Touch every page read-only first, so the page tables show what fallocate reserved.
    let mut sum = 0u64;
    for offset in (0..len).step_by(PAGE) {
        sum += u64::from(peek(&map, offset));
    }
    std::hint::black_box(sum);
    let huge_after_fallocate = map.huge_mapped().unwrap();
    // What the kit would do on a stock /dev/shm: collapse the untouched reservation, then
    // fill it (the order once said to lose the data on a huge= mount).
    let collapsed = collapse(&map, len);
    let huge_after_collapse = map.huge_mapped().unwrap();
    for offset in 0..len {
        poke(&map, offset, 0xab);
    }
    drop(map);
    // Another process (in this mount namespace) reads the file back.
    let count = Command::new("sh")
        .args(["-c", "tr -d '\\253' < \"$1\" | wc -c", "sh"])
        .arg(&path)
        .output()
        .unwrap();
    let other_bytes: usize = text(&count.stdout).trim().parse().unwrap_or(usize::MAX);
    if advise {
        assert_eq!(
            huge_after_fallocate, 0,
            "huge=advise: fallocate gave small pages"
        );
        assert_eq!(collapsed, Ok(()), "huge=advise: MADV_COLLAPSE works");
        assert_eq!(huge_after_collapse, len);
    } else {
        assert_eq!(
            huge_after_fallocate, len,
            "huge=within_size: fallocate gave huge pages"
        );
    }
    assert_eq!(
        other_bytes, 0,
        "another process read bytes that are not 0xab"
    );
    format!(
        "after fallocate: {} KiB mapped by 2 MiB pages; MADV_COLLAPSE: {}, then {} KiB; \
         after a fill, another process read all {len} bytes back intact",
        huge_after_fallocate >> 10,
        match collapsed {
            Ok(()) => "ok".to_owned(),
            Err(errno) => errno.to_string(),
        },
        huge_after_collapse >> 10,
    )
}
