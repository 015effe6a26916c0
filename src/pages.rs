//! The kit: which pages a segment lives on, and the mappings that let it use big ones.
//!
//! # Why the page size matters
//! The processor finds a byte of a mapping through page tables: one entry per page. A
//! 64 MiB segment on 4 KiB pages is 16,384 entries, and a process that has just mapped it
//! has none of them yet: its first touch of a page is a *page fault*, a trip into the
//! kernel that looks the page up and writes the entry. Reads are served in batches: on a
//! read fault the kernel also maps the neighbouring pages already in memory and up to date
//! ("fault-around", 64 KiB by default), so a fresh attach that reads 64 MiB pays about
//! 1,000 faults, not 16,384. Writes to a shared mapping fault once per page (16,384), and
//! so do reads of pages `posix_fallocate` reserved that nobody has written yet (they are
//! not "up to date", and fault-around skips them). Every unmap tears the entries down
//! again. On 2 MiB pages the same segment is 32 entries, one level up the table (a PMD
//! entry): 512 times fewer entries, 32 read faults instead of about 1,000, and fewer TLB
//! misses while reading. (Measured on Linux 6.18: 1,024, 16,384, 16,384 and 32; `cargo
//! run -- facts` measures them on yours.)
//!
//! # Huge pages on a stock `/dev/shm`
//! A tmpfs gives its files 2 MiB pages by itself only when it is mounted with
//! `huge=always` or `huge=within_size`, or when
//! `/sys/kernel/mm/transparent_hugepage/shmem_enabled` is `force` (which overrides every
//! mount; its other values govern only the kernel's internal mount, that of memfds and
//! shared anonymous memory, not `/dev/shm`). `/dev/shm` usually has no `huge=` at all.
//! Since Linux 6.1 a program can ask anyway: `madvise(MADV_COLLAPSE)` over a mapping of
//! the file turns each 2 MiB-aligned, 2 MiB-long run of its pages into one huge page. Four
//! facts make it cheap and useful:
//!
//! * **Collapse right after the reservation.** `posix_fallocate` has just made every page
//!   exist, as zeros nobody has touched: the collapse then allocates each huge page and
//!   copies the small zero pages tmpfs made into it, which is cheap (measured: 7–15 ms
//!   for 18 MiB), and the fill that follows takes no fault at all.
//!   Collapsing after the fill copies every byte written (about five times slower). Holes
//!   are what the collapse cannot fill: a 2 MiB range with no page at all is refused
//!   (`EINVAL`), while one with a single backed page collapses (the rest becomes zeros),
//!   so a partly written file collapses partly, and the call still says `EINVAL`.
//! * **Every mapper needs a 2 MiB-aligned address.** A huge page can be mapped by one
//!   PMD entry only where the virtual address is 2 MiB-aligned too; `mmap` without a hint
//!   picks any free range, which for a file on a stock `/dev/shm` is only 4 KiB-aligned
//!   (on a `huge=` tmpfs, and for large-folio files on recent kernels, the kernel aligns it
//!   itself), so the kit reserves an aligned range first (an anonymous `PROT_NONE`
//!   mapping 2 MiB too long), maps the file over it with `MAP_FIXED`, and gives the slack
//!   back. Measured on a quiet machine: a fresh attach + sum of 64 MiB of huge pages
//!   takes 2.2–2.4 ms at an aligned address, 4.7–4.9 ms one page off, where every huge
//!   page is mapped by 512 small entries again.
//! * **Only where the file system does not do it already.** On a tmpfs mounted with
//!   `huge=always` or `huge=within_size` (or with `shmem_enabled` = `force`),
//!   `posix_fallocate` itself reserves huge pages, and a collapse has nothing to add: the
//!   kit reads the mount's options (`/proc/self/mountinfo`) and leaves such a file to the
//!   mount ([`Pages::ByMount`]). On `huge=advise`, `posix_fallocate` reserves small pages
//!   (0 kB of huge pages) and the collapse works as on a mount with no `huge=`: the kit
//!   collapses there too. (An earlier version of this page said a collapse on a
//!   `huge=within_size` mount loses the data written after it; on Linux 6.18.44 that did
//!   not reproduce: collapse, fill, and another process read every byte back. The kit
//!   still leaves such mounts alone, because they need nothing from it.)
//! * **It may be refused, and that is fine.** A kernel before 6.1, `shmem_enabled` =
//!   `deny`, a 2 MiB range with no page, or a file that is not shmem (on ext4 and other
//!   disk file systems the collapse needs `CONFIG_READ_ONLY_THP_FOR_FS` and a file nobody
//!   has open for writing): `EINVAL`. `ENOMEM`: no 2 MiB page could be allocated just now.
//!   `EAGAIN`: a page was busy (locked or isolated by another task), a transient refusal.
//!   `EBUSY`: the memory cgroup refused to charge the huge page (a memory-limited
//!   container near its limit). The segment then simply stays on 4 KiB pages, which work
//!   exactly the same, only slower to map. The kit records why ([`Pages`]), and never
//!   fails a `create` for it.
//!
//! The exercises do not change for any of this: `create` and `attach` map with memmap2 as
//! before, and [`Segment::from_parts`](crate::Segment::from_parts) maps the same file again
//! at an aligned address (a few microseconds: nothing has been touched yet) and drops
//! theirs. Huge pages are a property of the kit, the way the page size is a property of
//! the machine: the lessons stay about names, sizes and ownership.

use std::cell::Cell;
use std::ffi::c_void;
use std::fmt;
use std::fs::File;
use std::io;
use std::ptr::NonNull;

use nix::errno::Errno;
use rustix::mm::{MapFlags, MsyncFlags, ProtFlags};

/// The size of a huge page on x86-64 and most other 64-bit Linux machines: 2 MiB, what one
/// PMD entry of the page table maps.
pub const HUGE_PAGE: usize = 2 << 20;

/// `MADV_COLLAPSE` (Linux 6.1+, `include/uapi/asm-generic/mman-common.h`): neither rustix
/// nor nix names it yet.
const MADV_COLLAPSE: i32 = 25;

/// Which pages the kit asks for when this thread creates a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Policy {
    /// Collapse every whole 2 MiB of a new segment into a huge page (the default).
    Huge,
    /// Leave new segments on 4 KiB pages: what a program without the kit gets on a stock
    /// `/dev/shm`. For comparisons (`demo --pages 4k`, the benchmarks) and tests.
    #[value(name = "4k")]
    Small,
}

/// The environment variable that sets the default [`Policy`] of a process: `4k` or `huge`.
pub const PAGES_ENV: &str = "SHM_KATA_PAGES";

thread_local! {
    static POLICY: Cell<Option<Policy>> = const { Cell::new(None) };
}

/// Sets the page policy for the segments *this thread* creates from now on. (Per thread, so
/// that tests running side by side in one process do not change each other's segments.)
pub fn set_policy(policy: Policy) {
    POLICY.with(|p| p.set(Some(policy)));
}

/// The policy this thread creates segments with: what [`set_policy`] set, else
/// `SHM_KATA_PAGES` (`4k` for [`Policy::Small`], `huge` for [`Policy::Huge`]), else
/// [`Policy::Huge`]. A value it does not know is said once on stderr, never silently
/// taken for one or the other.
pub fn policy() -> Policy {
    POLICY.with(Cell::get).unwrap_or_else(|| {
        let value = std::env::var(PAGES_ENV).ok();
        policy_named(value.as_deref()).unwrap_or_else(|unknown| {
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| eprintln!("shm-kata: {unknown}"));
            Policy::Huge
        })
    })
}

/// The policy a value of `SHM_KATA_PAGES` names, in any case: `4k`, `4kb`, `4kib`, `4096`
/// or `small` is [`Policy::Small`]; `huge`, `2m`, `2mb`, `2mib`, or no value at all (unset
/// or empty) is [`Policy::Huge`]; anything else is an error that says what it takes.
pub fn policy_named(value: Option<&str>) -> Result<Policy, String> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(Policy::Huge);
    };
    match value.to_ascii_lowercase().as_str() {
        "4k" | "4kb" | "4kib" | "4096" | "small" => Ok(Policy::Small),
        "huge" | "2m" | "2mb" | "2mib" => Ok(Policy::Huge),
        _ => Err(format!(
            "{PAGES_ENV}={value:?} is not a page size the kata knows: use `4k` (4 KiB pages) or \
             `huge` (2 MiB pages where the kernel allows); using huge pages"
        )),
    }
}

/// Which pages a segment got when this process created it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pages {
    /// The first `bytes` bytes (every whole 2 MiB of the segment) are huge pages; a tail
    /// shorter than 2 MiB stays on 4 KiB pages.
    Huge { bytes: usize },
    /// 4 KiB pages, and why.
    Small(Why),
    /// The file system hands out huge pages by itself (a tmpfs mounted with `huge=always`
    /// or `huge=within_size`, or `shmem_enabled` = `force`): the kit leaves the pages to it
    /// and does not collapse.
    ByMount,
    /// The kit mapped the segment but chose no pages for it: this process attached to it
    /// (whoever created it chose), or it is a memfd (`Segment::from_memfd`, exercise 08,
    /// left on the pages its creator gave it). Ask
    /// [`Segment::huge_mapped`](crate::Segment::huge_mapped) what this mapping uses.
    Attached,
}

/// Why a segment the kit created stayed on 4 KiB pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// Smaller than one huge page: there is nothing to collapse.
    TooSmall,
    /// [`Policy::Small`] was asked for.
    Declined,
    /// The kernel refused `MADV_COLLAPSE` with this error.
    Refused(Errno),
}

impl fmt::Display for Pages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pages::Huge { bytes } => write!(f, "2 MiB pages ({} of them)", bytes / HUGE_PAGE),
            Pages::Small(Why::TooSmall) => write!(f, "4 KiB pages (smaller than one 2 MiB page)"),
            Pages::Small(Why::Declined) => write!(f, "4 KiB pages (as asked)"),
            Pages::Small(Why::Refused(errno)) => write!(
                f,
                "4 KiB pages (the kernel refused MADV_COLLAPSE: {errno}; {})",
                why_collapse_refused(*errno)
            ),
            Pages::ByMount => write!(
                f,
                "the file system's own pages (a huge=always or huge=within_size mount)"
            ),
            Pages::Attached => write!(f, "chosen by the segment's creator"),
        }
    }
}

/// What an error of `madvise(MADV_COLLAPSE)` means, in a few words (madvise(2), and
/// `mm/khugepaged.c` of Linux 6.x for which internal result becomes which errno).
pub fn why_collapse_refused(errno: Errno) -> &'static str {
    match errno {
        Errno::EINVAL => {
            "a kernel before 6.1, shmem_enabled = deny, a range with a 2 MiB stretch that \
             has no page at all, or a file that is not shmem (ext4 needs \
             CONFIG_READ_ONLY_THP_FOR_FS and no writer)"
        }
        Errno::ENOMEM => "the kernel could not allocate a 2 MiB page just now",
        Errno::EAGAIN => {
            "a page was busy (locked, or isolated by another task) just now: a transient \
             refusal, a later try may succeed"
        }
        Errno::EBUSY => {
            "the memory cgroup refused to charge a 2 MiB page: a memory-limited container \
             near its limit"
        }
        _ => "see madvise(2)",
    }
}

/// A shared, writable mapping of a file, starting at a 2 MiB-aligned address. Unmapped on
/// drop.
///
/// This is what a [`Segment`](crate::Segment) holds. It hands out a raw pointer only: the
/// views in `segment.rs` decide what may be done with the bytes.
#[derive(Debug)]
pub struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: a `Mapping` is an address range and its length; the memory behind it is shared
// with other processes anyway, so which thread holds or drops the handle changes nothing.
// What may be done with the bytes is decided by the views, which are sound across threads
// for the same reason they are across processes.
unsafe impl Send for Mapping {}
// SAFETY: as for `Send`: `&Mapping` only gives out the raw pointer and the length.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps the first `len` bytes of `file` (opened for reading and writing), shared and
    /// writable, at a 2 MiB-aligned address; with `populate`, the kernel also fills in
    /// every page-table entry now (`MAP_POPULATE`) instead of at each first touch.
    ///
    /// The file must keep at least `len` bytes while the mapping lives: a touch past its
    /// end is a SIGBUS (the callers check the size, and the kata's rule is that nobody
    /// shrinks a live segment).
    pub fn shared(file: &File, len: usize, populate: bool) -> io::Result<Mapping> {
        if len == 0 {
            // mmap refuses a length of 0; an empty mapping needs no memory at all.
            return Ok(Mapping {
                ptr: NonNull::dangling(),
                len: 0,
            });
        }
        let page = rustix::param::page_size();
        // What the file mapping covers: `len` rounded up to whole pages.
        let span = len.next_multiple_of(page);
        let reserve = span
            .checked_add(HUGE_PAGE)
            .ok_or_else(|| io::Error::from(io::ErrorKind::OutOfMemory))?;
        // SAFETY: a new anonymous mapping at an address the kernel chooses (the pointer is
        // null): it cannot overlap anything of ours. PROT_NONE and MAP_NORESERVE: it is
        // address space only, no memory, and any touch of it would fault. It exists so
        // that nobody else (another thread's mmap, the allocator) can take the range we
        // are about to map into.
        let base = unsafe {
            rustix::mm::mmap_anonymous(
                std::ptr::null_mut(),
                reserve,
                ProtFlags::empty(),
                MapFlags::PRIVATE | MapFlags::NORESERVE,
            )
        }?;
        let start = (base as usize).next_multiple_of(HUGE_PAGE);
        let head = start - base as usize;
        let aligned = base.cast::<u8>().wrapping_add(head).cast::<c_void>();
        let mut flags = MapFlags::SHARED | MapFlags::FIXED;
        if populate {
            flags |= MapFlags::POPULATE;
        }
        // SAFETY: MAP_FIXED replaces whatever is mapped at `aligned..aligned + span`
        // without asking, which is how a program corrupts its own heap when the range is
        // not its own. Here it is: `head + span <= reserve`, so the range lies inside the
        // reservation just made, which nothing else uses. The file is open for reading and
        // writing, as a shared writable mapping needs.
        let mapped = unsafe {
            rustix::mm::mmap(
                aligned,
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                flags,
                file,
                0,
            )
        };
        let tail = reserve - head - span;
        // SAFETY: each range given back is a part of our own reservation that the file
        // mapping does not cover (`base..aligned` before it, `aligned + span..` after it),
        // or, when anything failed, the whole reservation with the file mapping inside it:
        // no pointer into any of them has been handed out.
        let trimmed = unsafe {
            mapped.and_then(|_| {
                if head > 0 {
                    rustix::mm::munmap(base, head)?;
                }
                if tail > 0 {
                    rustix::mm::munmap(aligned.cast::<u8>().add(span).cast(), tail)?;
                }
                Ok(())
            })
        };
        if let Err(e) = trimmed {
            // SAFETY: as above: the whole range is ours and nothing points into it.
            let _ = unsafe { rustix::mm::munmap(base, reserve) };
            return Err(e.into());
        }
        Ok(Mapping {
            ptr: NonNull::new(aligned.cast()).expect("mmap never maps at address 0"),
            len,
        })
    }

    /// A private anonymous mapping, for unit tests of the views (Miri can run it, while it
    /// cannot map files).
    #[cfg(test)]
    pub(crate) fn anonymous(len: usize) -> Mapping {
        // SAFETY: a new mapping at an address the kernel chooses: it overlaps nothing.
        let ptr = unsafe {
            rustix::mm::mmap_anonymous(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::PRIVATE,
            )
        }
        .expect("an anonymous mapping");
        Mapping {
            ptr: NonNull::new(ptr.cast()).expect("mmap never maps at address 0"),
            len,
        }
    }

    /// The first byte of the mapping. Writing through it is allowed: it is the mapping's
    /// own address, not a pointer taken from a shared reference.
    #[inline]
    pub fn as_mut_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for the mapping of an empty file.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `msync(MS_SYNC)`: writes dirty pages back to the file (a no-op on a tmpfs).
    pub fn flush(&self) -> io::Result<()> {
        if self.len == 0 {
            return Ok(());
        }
        // SAFETY: the range is exactly our own live mapping; msync reads no Rust memory.
        unsafe { rustix::mm::msync(self.ptr.as_ptr().cast(), self.len, MsyncFlags::SYNC) }?;
        Ok(())
    }

    /// Asks the kernel to turn every whole 2 MiB of the mapping into a huge page, if
    /// `policy` says so, and says what it got. Call it only while the pages are reserved
    /// (`posix_fallocate`) and untouched: that is when it is cheap.
    /// `file` is the file mapped: a file whose file system already gives it huge pages
    /// is left alone ([`Pages::ByMount`]).
    pub fn collapse(&self, file: &File, policy: Policy) -> Pages {
        if policy == Policy::Small {
            return Pages::Small(Why::Declined);
        }
        let bytes = self.len / HUGE_PAGE * HUGE_PAGE;
        if bytes == 0 {
            return Pages::Small(Why::TooSmall);
        }
        if mount_gives_huge_pages(file) {
            return Pages::ByMount;
        }
        // SAFETY: MADV_COLLAPSE changes how the kernel holds these pages (one 2 MiB page
        // instead of 512 small ones), never what they contain: every Rust view of them
        // stays valid. The range is the aligned start of our own live mapping.
        let done = unsafe { nix::libc::madvise(self.ptr.as_ptr().cast(), bytes, MADV_COLLAPSE) };
        if done == 0 {
            Pages::Huge { bytes }
        } else {
            Pages::Small(Why::Refused(Errno::last()))
        }
    }

    /// How many bytes of this mapping the page tables map with 2 MiB entries right now,
    /// from the kernel's own accounting (`ShmemPmdMapped`, `FilePmdMapped` and
    /// `AnonHugePages` of the mapping in `/proc/self/smaps`). A collapse maps its huge
    /// pages at once; another process's fresh mapping of them shows 0 until it touches
    /// them.
    pub fn huge_mapped(&self) -> io::Result<usize> {
        if self.len == 0 {
            return Ok(0);
        }
        huge_mapped_at(self.ptr.as_ptr() as usize)
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        if self.len == 0 {
            return;
        }
        // SAFETY: the range is our own mapping, and every view of it borrowed `self`, so
        // none outlives this drop.
        let _ = unsafe { rustix::mm::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// Whether the file system `file` lives on hands out huge pages by itself: its mount says
/// `huge=always` or `huge=within_size`, or `shmem_enabled` is `force` (every tmpfs). When
/// in doubt (no `/proc`), it answers yes: a collapse skipped costs only speed.
fn mount_gives_huge_pages(file: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    let shmem = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/shmem_enabled");
    if shmem.is_ok_and(|s| s.contains("[force]")) {
        return true;
    }
    let (Ok(meta), Ok(mounts)) = (
        file.metadata(),
        std::fs::read_to_string("/proc/self/mountinfo"),
    ) else {
        return true;
    };
    let dev = meta.dev();
    let id = format!("{}:{}", rustix::fs::major(dev), rustix::fs::minor(dev));
    mounts
        .lines()
        .filter_map(|line| mount_options(line, &id))
        .any(says_huge)
}

/// Whether a tmpfs's mount options give its files huge pages by themselves:
/// `huge=always` or `huge=within_size`. `huge=advise` does only for memory a program
/// asks for (`MADV_HUGEPAGE`): `posix_fallocate` there reserves 4 KiB pages, which the kit
/// collapses as on a mount with no `huge=` (the facts suite's
/// `a_huge_advise_mount_leaves_fallocate_on_small_pages_and_collapse_works`).
fn says_huge(options: &str) -> bool {
    options
        .split(',')
        .any(|o| o == "huge=always" || o == "huge=within_size")
}

/// The super-block options of a `/proc/self/mountinfo` line, if it is device `id`
/// (`major:minor`): `36 25 0:39 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=…,huge=…`.
fn mount_options<'a>(line: &'a str, id: &str) -> Option<&'a str> {
    if line.split(' ').nth(2) != Some(id) {
        return None;
    }
    let (_, after) = line.split_once(" - ")?;
    after.split(' ').nth(2)
}

/// The huge-page bytes of the mapping that starts at `addr`, from `/proc/self/smaps`.
fn huge_mapped_at(addr: usize) -> io::Result<usize> {
    let smaps = std::fs::read_to_string("/proc/self/smaps")?;
    let header = format!("{addr:08x}-");
    let mut lines = smaps.lines().skip_while(|line| !line.starts_with(&header));
    if lines.next().is_none() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no mapping starts at {addr:#x} in /proc/self/smaps"),
        ));
    }
    let mut kib = 0;
    for line in lines {
        // Each mapping's fields end with VmFlags; the next line is the next mapping.
        if line.starts_with("VmFlags") {
            break;
        }
        let mut words = line.split_whitespace();
        if let (Some("ShmemPmdMapped:" | "FilePmdMapped:" | "AnonHugePages:"), Some(n)) =
            (words.next(), words.next())
        {
            kib += n.parse::<usize>().unwrap_or(0);
        }
    }
    Ok(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new, empty file of its own in a scratch directory (kept alive by the first half).
    fn scratch_file() -> (crate::scratch::ScratchDir, File) {
        let tmp = crate::scratch::for_unit_test();
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(tmp.path().join("f"))
            .unwrap();
        (tmp, file)
    }

    /// A tmpfs with `huge=within_size` or `huge=always` is left to the mount; `huge=advise`,
    /// `huge=never`, or no option at all (a stock `/dev/shm`), is collapsed by the kit.
    #[test]
    fn the_mounts_huge_option_is_read_from_mountinfo() {
        let line = |options: &str| {
            format!("36 25 0:39 / /dev/shm rw,nosuid,nodev - tmpfs tmpfs {options}")
        };
        let huge = |options: &str| says_huge(mount_options(&line(options), "0:39").unwrap());
        assert!(huge("rw,size=204800k,huge=within_size"));
        assert!(huge("rw,huge=always"));
        assert!(
            !huge("rw,huge=advise"),
            "huge=advise leaves fallocate on 4 KiB pages"
        );
        assert!(!huge("rw,size=24684096k"));
        assert!(!huge("rw,huge=never,size=1m"));
        assert_eq!(mount_options(&line("rw"), "0:40"), None, "another device");
    }

    /// The reservation a mapping is placed in is given back around it: no inaccessible
    /// (`---p`) range is left right before or right after the mapping, where the 2 MiB of
    /// slack was. (Another thread's reservation may sit there for an instant, so only a
    /// neighbour that is still there after a while counts.)
    #[test]
    fn the_slack_around_a_mapping_is_given_back() {
        let (_tmp, file) = scratch_file();
        file.set_len(4096).unwrap();
        let map = Mapping::shared(&file, 4096, false).unwrap();
        let (start, end) = (map.as_mut_ptr() as usize, map.as_mut_ptr() as usize + 4096);
        let reserved_neighbour = || {
            let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
            maps.lines().find_map(|line| {
                let mut fields = line.split_whitespace();
                let (from, to) = fields.next()?.split_once('-')?;
                let from = usize::from_str_radix(from, 16).ok()?;
                let to = usize::from_str_radix(to, 16).ok()?;
                let touches = to == start || from == end;
                (touches && fields.next() == Some("---p")).then(|| line.to_owned())
            })
        };
        let mut left = reserved_neighbour();
        for _ in 0..20 {
            if left.is_none() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
            left = reserved_neighbour();
        }
        assert_eq!(
            left, None,
            "the slack of the reservation must be unmapped (munmap of the head and the tail)"
        );
    }

    /// A mapping of no bytes maps nothing (mmap would refuse it) and says it is empty; one
    /// byte is not empty.
    #[test]
    fn a_mapping_of_no_bytes_is_empty() {
        let (_tmp, file) = scratch_file();
        let empty = Mapping::shared(&file, 0, false).expect("an empty mapping needs no mmap");
        assert!(empty.is_empty(), "a mapping of no bytes is empty");
        assert_eq!(empty.len(), 0);
        assert_eq!(empty.huge_mapped().unwrap(), 0);
        empty.flush().unwrap();
        file.set_len(1).unwrap();
        let one = Mapping::shared(&file, 1, false).unwrap();
        assert!(!one.is_empty(), "a mapping of one byte is not empty");
    }

    /// A dropped mapping is unmapped: `/proc/self/maps` lists its file no more.
    #[test]
    fn a_dropped_mapping_is_unmapped() {
        use std::os::unix::fs::MetadataExt;
        let (_tmp, file) = scratch_file();
        file.set_len(8192).unwrap();
        let meta = file.metadata().unwrap();
        let mapped = || {
            crate::liveness::maps_file(std::path::Path::new("/proc/self"), meta.dev(), meta.ino())
        };
        let map = Mapping::shared(&file, 8192, false).unwrap();
        assert!(
            mapped(),
            "a live mapping of the file shows in /proc/self/maps"
        );
        drop(map);
        assert!(!mapped(), "a dropped Mapping must munmap its range");
    }

    /// A mapping asked to fill its page tables at once (`MAP_POPULATE`, what the transfer
    /// benchmark's receiver asks for) is the same shared, aligned mapping of the file.
    #[test]
    fn a_populated_mapping_shares_the_files_pages() {
        use std::os::unix::fs::FileExt;
        let (_tmp, file) = scratch_file();
        file.set_len(8192).unwrap();
        let map = Mapping::shared(&file, 8192, true).expect("a populated mapping of the file");
        assert_eq!(map.as_mut_ptr() as usize % HUGE_PAGE, 0);
        // SAFETY: byte 5000 lies inside our own live, writable 8192-byte mapping.
        unsafe { map.as_mut_ptr().add(5000).write(42) };
        let mut byte = [0];
        file.read_exact_at(&mut byte, 5000).unwrap();
        assert_eq!(
            byte,
            [42],
            "a write through the mapping must reach the file"
        );
    }

    /// `SHM_KATA_PAGES=4k` (in any spelling of 4 KiB) turns huge pages off; `huge` or no
    /// value leaves them on; anything else is an error, never silently huge.
    #[test]
    fn the_environment_names_its_page_size_or_is_refused() {
        for value in ["4k", "4K", "small", "SMALL", "4kb", "4KiB", "4096", " 4k "] {
            assert_eq!(
                policy_named(Some(value)),
                Ok(Policy::Small),
                "SHM_KATA_PAGES={value} must ask for 4 KiB pages"
            );
        }
        for value in [
            None,
            Some("huge"),
            Some(""),
            Some("2m"),
            Some("HUGE"),
            Some("2MiB"),
        ] {
            assert_eq!(
                policy_named(value),
                Ok(Policy::Huge),
                "SHM_KATA_PAGES={value:?}"
            );
        }
        for value in ["4kk", "tiny", "1g", "4 k"] {
            let error = policy_named(Some(value)).expect_err(value);
            assert!(error.contains(value) && error.contains("4k"), "{error}");
        }
    }

    /// Each answer to "which pages" says its page size, and for 4 KiB pages why.
    #[test]
    fn each_pages_answer_says_its_page_size_and_why() {
        let says = |pages: Pages, words: &[&str]| {
            let text = pages.to_string();
            for word in words {
                assert!(
                    text.contains(word),
                    "{pages:?} reads {text:?}: it should say {word:?}"
                );
            }
        };
        says(
            Pages::Huge {
                bytes: 3 * HUGE_PAGE,
            },
            &["2 MiB pages", "3 of them"],
        );
        says(
            Pages::Small(Why::TooSmall),
            &["4 KiB pages", "smaller than one 2 MiB page"],
        );
        says(Pages::Small(Why::Declined), &["4 KiB pages", "as asked"]);
        says(
            Pages::Small(Why::Refused(Errno::EINVAL)),
            &["4 KiB pages", "EINVAL", "6.1"],
        );
        says(
            Pages::Small(Why::Refused(Errno::ENOMEM)),
            &["ENOMEM", "could not allocate a 2 MiB page"],
        );
        says(
            Pages::Small(Why::Refused(Errno::EAGAIN)),
            &["EAGAIN", "transient"],
        );
        says(
            Pages::Small(Why::Refused(Errno::EBUSY)),
            &["EBUSY", "cgroup"],
        );
        says(
            Pages::Small(Why::Refused(Errno::EPERM)),
            &["EPERM", "madvise(2)"],
        );
        says(Pages::ByMount, &["huge=within_size mount"]);
        says(Pages::Attached, &["creator"]);
    }

    /// Every mapping starts on a 2 MiB boundary, whatever its length, and the slack of the
    /// reservation is given back (the pages around it are not ours any more).
    #[test]
    fn mappings_start_on_a_huge_page_boundary() {
        let (_tmp, file) = scratch_file();
        file.set_len(3 << 20).unwrap();
        for len in [1, 4095, 4096, 5000, HUGE_PAGE - 1, HUGE_PAGE, 3 << 20] {
            let map = Mapping::shared(&file, len, false).unwrap();
            assert_eq!(map.as_mut_ptr() as usize % HUGE_PAGE, 0, "len {len}");
            assert_eq!(map.len(), len);
        }
    }
}
