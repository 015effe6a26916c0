//! The kit: where segments live ([`SegmentDir`]) and what a mapped one is ([`Segment`]).
//!
//! A *segment* here is a plain file in a directory, mapped into memory with `mmap`
//! (`MAP_SHARED`). Every process that maps the same file sees the same physical pages: a
//! write by one is a read by all the others, with no copy and no system call. On Linux,
//! `/dev/shm` is a `tmpfs`, so its files live in RAM (or swap), never on a disk: a file there
//! *is* a POSIX shared-memory object, the same thing `shm_open("/name")` and Python's
//! `multiprocessing.shared_memory.SharedMemory(name="name")` create.
//!
//! **One access size per byte range.** The safe views read and write a range either as
//! `AtomicU32` words ([`Segment::atomics`], [`Segment::read_words`],
//! [`Segment::write_words`]) or as `AtomicU8` bytes ([`Segment::read_bytes`],
//! [`Segment::write_bytes`]). Each is sound alone, but Rust's memory model (the
//! `std::sync::atomic` docs) does not allow racing atomic accesses of *different sizes* to
//! the same bytes: a process that writes a range by bytes while another reads it by words
//! is outside the model, whatever the hardware does (x86 and ARM keep each access whole at
//! its own size). And the model speaks of threads of one program: across processes it
//! holds by analogy, because the same instructions touch the same physical memory. Use
//! one size for each range that others may touch at the same time.
//!
//! This module is a tool, not a lesson: the exercises build `Segment`s with
//! [`Segment::from_created`] (in `create`) or [`Segment::from_parts`] (in `attach`) and use
//! its views.

use std::fs::File;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicU8, AtomicU32};

use memmap2::MmapMut;

use crate::error::{Error, Result};
use crate::liveness;
use crate::pages::{self, Mapping, Pages};

/// The directory segments live in.
///
/// Two processes that want to share a segment must agree on the directory and the name,
/// nothing else: that pair is the whole "address" of the memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentDir {
    path: PathBuf,
}

impl SegmentDir {
    /// The machine's shared-memory directory: `/dev/shm` on Linux (a RAM-backed `tmpfs`,
    /// where `shm_open` and Python's `shared_memory` put their segments too), the temp
    /// directory elsewhere.
    ///
    /// `/dev/shm` is shared by every program on the machine, and a segment left there
    /// costs RAM until reboot: prefer [`SegmentDir::at`] with a temporary directory in
    /// tests.
    pub fn system() -> SegmentDir {
        if cfg!(target_os = "linux") {
            SegmentDir::at("/dev/shm")
        } else {
            SegmentDir::at(std::env::temp_dir())
        }
    }

    /// Segments in `path` (a directory that must already exist).
    pub fn at(path: impl Into<PathBuf>) -> SegmentDir {
        SegmentDir { path: path.into() }
    }

    /// The directory itself.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where a segment called `name` lives. The name is not checked here: validate it
    /// before you open anything.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// The names present in the directory, sorted. In `/dev/shm` this lists other programs'
    /// segments too.
    pub fn names(&self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&self.path)? {
            names.push(entry?.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }
}

/// A mapped segment: an open file and a shared, writable mapping of all of it.
///
/// Dropping a `Segment` *closes* it: the mapping is removed and the file descriptor closed,
/// which also ends this holder's registration as a live user (see [`liveness`]). It never
/// *unlinks* (removes the name): the segment and its contents stay for other processes to
/// attach to, until someone removes the name on purpose.
///
/// # Views, and why the plain ones are `unsafe`
/// Rust's references make promises about memory: while a `&[u32]` lives, nobody writes
/// those words; while a `&mut [u32]` lives, nobody else even reads them. The compiler
/// relies on those promises to keep values in registers and reorder loads. But a segment's
/// bytes can be written at any moment by *another process*, or through a second `Segment`
/// of the same file in this one, and the compiler cannot see either. So:
///
/// * the **safe** views go through atomics, which stay correct however many writers
///   there are: [`atomics`](Segment::atomics), [`read_words`](Segment::read_words),
///   [`read_bytes`](Segment::read_bytes), [`write_words`](Segment::write_words),
///   [`write_bytes`](Segment::write_bytes);
/// * the **plain** views ([`as_bytes`](Segment::as_bytes), [`words`](Segment::words),
///   [`as_bytes_mut`](Segment::as_bytes_mut), [`words_mut`](Segment::words_mut),
///   [`words_range_mut`](Segment::words_range_mut)) are as fast as ordinary slices and
///   `unsafe`: the caller promises, in a `// SAFETY:` comment, why nobody else writes (or,
///   for `_mut`, touches) those bytes while the slice lives. In this kata that promise is
///   kept by design: each worker touches only its own disjoint range, and the parent looks
///   only after every worker has exited.
///
/// # The one crash no view can prevent
/// Every access is checked against the length the file had when it was mapped. If a peer
/// with write access (the file's owner, or root) later *shrinks* the file, the pages past
/// its new end are gone, and the next touch of them, safe view or not, is a SIGBUS. Linux
/// offers no way to forbid that for a named file: the kata's rule is that nobody shrinks a
/// live segment, and sealed memfds (exercise 08) make the size permanent.
#[derive(Debug)]
pub struct Segment {
    name: String,
    path: PathBuf,
    // The map is declared before the file so it is dropped (unmapped) first; the kernel
    // would keep the pages alive either way, but this is the order a reader expects.
    //
    // The kit's own mapping of the file, at a 2 MiB-aligned address (see `pages`), kept as
    // a *raw* one: `MmapMut` hands out its bytes through `&[u8]`, and a pointer taken from a
    // shared `&[u8]` may never be written through (not even by an atomic store: the
    // compiler is told those bytes are frozen). Every view below starts from
    // `Mapping::as_mut_ptr`, a pointer that carries no such promise.
    map: Mapping,
    file: File,
    pages: Pages,
}

/// Checks that `map` covers the whole of `file` ([`Error::SizeMismatch`] otherwise), maps
/// the file again at a 2 MiB-aligned address and drops `map`: what every constructor of a
/// [`Segment`] does with the mapping it is given.
fn remap_aligned(name: &str, file: &File, map: MmapMut) -> Result<Mapping> {
    let io = |source| Error::Io {
        name: name.to_owned(),
        source,
    };
    let file_len = file.metadata().map_err(io)?.len();
    if file_len != map.len() as u64 {
        return Err(Error::SizeMismatch {
            name: name.to_owned(),
            file: file_len,
            mapped: map.len() as u64,
        });
    }
    Mapping::shared(file, map.len(), false).map_err(io)
}

impl Segment {
    /// Assembles a segment from the file it maps and the mapping, as `attach` builds them,
    /// and registers this process as a live holder of it for as long as the `Segment`
    /// lives (see [`liveness`]: a shared lock the kernel drops when the file is closed,
    /// whatever way the process ends).
    ///
    /// The mapping must cover the whole file: anything else is [`Error::SizeMismatch`].
    /// The kit then maps the file again at a 2 MiB-aligned address, where huge pages can
    /// be mapped whole, and drops `map` (see [`pages`]: nothing has touched
    /// `map` yet, so this costs two system calls, not a page fault).
    /// Fails with `NotFound` if the name was removed (by an `unlink` or a `sweep`) between
    /// the caller's `open` and this call: the caller would otherwise hold a segment nobody
    /// else can ever reach.
    pub fn from_parts(dir: &SegmentDir, name: &str, file: File, map: MmapMut) -> Result<Segment> {
        let aligned = remap_aligned(name, &file, map)?;
        liveness::register(&file, dir.path(), name)?;
        Ok(Segment {
            name: name.to_owned(),
            path: dir.join(name),
            map: aligned,
            file,
            pages: Pages::Attached,
        })
    }

    /// Like [`from_parts`](Segment::from_parts), for a segment this process has just
    /// *created*: it also marks the file as the kata's (the `user.shm-kata` extended
    /// attribute), which is what lets a later `sweep` remove it once every holder is gone.
    /// Files the kata did not create are never marked, so a sweep never touches them.
    ///
    /// It also asks for huge pages: every whole 2 MiB of the segment is collapsed into one
    /// (`MADV_COLLAPSE`), now, while the pages `posix_fallocate` reserved are untouched
    /// zeros and the copy into each huge page is cheap. Where the kernel refuses, the segment
    /// stays on 4 KiB pages and works the same; [`pages`](Segment::pages) says which.
    pub fn from_created(dir: &SegmentDir, name: &str, file: File, map: MmapMut) -> Result<Segment> {
        let mut segment = Segment::from_parts(dir, name, file, map)?;
        segment.pages = segment.map.collapse(&segment.file, pages::policy());
        // Marked only once the liveness lock is held: a sweep never sees a marked file
        // without a holder, not even for the instant between the two.
        liveness::mark(&segment.file);
        Ok(segment)
    }

    /// Assembles a segment from an *anonymous* file (a memfd, exercise 08) and its
    /// mapping. It has no directory and no name there: [`name`](Segment::name) is the
    /// label the kernel shows in `/proc/PID/fd` (`memfd:LABEL`), and
    /// [`path`](Segment::path) is empty.
    ///
    /// Unlike [`from_parts`](Segment::from_parts) it registers no liveness lock: nothing
    /// can ever sweep a file that is in no directory, and the kernel frees it when its
    /// last descriptor and mapping are gone. It checks nothing about seals either: that a
    /// received descriptor may be trusted is the caller's to check, before mapping it.
    ///
    /// The mapping must cover the whole file: anything else is [`Error::SizeMismatch`].
    pub fn from_memfd(file: File, map: MmapMut) -> Result<Segment> {
        let name = memfd_label(&file);
        let aligned = remap_aligned(&name, &file, map)?;
        Ok(Segment {
            name,
            path: PathBuf::new(),
            map: aligned,
            file,
            pages: Pages::Attached,
        })
    }

    /// The segment's name in its directory.
    #[inline]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where its file lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Always false for a segment made by the kata: zero-length segments are refused.
    pub fn is_empty(&self) -> bool {
        self.map.len() == 0
    }

    /// How many whole `u32` words it holds. Trailing bytes that do not fill a word are
    /// left out of every word view.
    pub fn word_count(&self) -> usize {
        self.map.len() / 4
    }

    /// Which pages the segment got, if this process created it (see [`pages`]).
    pub fn pages(&self) -> Pages {
        self.pages
    }

    /// How many bytes of *this process's* mapping the page tables map with 2 MiB entries
    /// now (from `/proc/self/smaps`): all of a collapsed segment's whole 2 MiB right after
    /// `create`; for an attacher, the huge pages it has touched so far.
    pub fn huge_mapped(&self) -> Result<usize> {
        self.map.huge_mapped().map_err(|source| Error::Io {
            name: self.name.clone(),
            source,
        })
    }

    /// The address of the first byte: always a multiple of [`pages::HUGE_PAGE`] (2 MiB),
    /// so that huge pages can be mapped whole.
    pub fn as_ptr(&self) -> *const u8 {
        self.map.as_mut_ptr()
    }

    /// The open file behind the mapping (for locks and metadata).
    ///
    /// Never call `set_len` on it to shrink the file: the mapping keeps its length, and
    /// every safe view of the pages past the new end (`read_*`, `atomics()`, `write_*`)
    /// then dies of SIGBUS. This is the one fault the kit cannot guard against, since a
    /// peer process holding the same file can do it too.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The segment as atomic words: the view for words that several processes touch at
    /// the same time, and the one every safe accessor below is built on.
    pub fn atomics(&self) -> &[AtomicU32] {
        views::atomic_words(&self.map)
    }

    /// The mapping's start address, for the kit's own typed views (the ring's header and
    /// data in `ring_kit`). Taken from `Mapping::as_mut_ptr`, so writes through it are
    /// allowed; every use argues its own soundness.
    #[inline]
    pub(crate) fn base_ptr(&self) -> *mut u8 {
        self.map.as_mut_ptr()
    }

    /// The segment as atomic bytes (see [`atomics`](Segment::atomics)).
    fn atomic_bytes(&self) -> &[AtomicU8] {
        views::atomic_bytes(&self.map)
    }

    /// A copy of every whole word, read with atomic loads: safe whoever writes meanwhile
    /// (a word being rewritten reads as its old or its new value, never half of each).
    pub fn read_words(&self) -> Vec<u32> {
        self.atomics().iter().map(|w| w.load(Relaxed)).collect()
    }

    /// A copy of every byte, read with atomic loads.
    pub fn read_bytes(&self) -> Vec<u8> {
        self.atomic_bytes()
            .iter()
            .map(|b| b.load(Relaxed))
            .collect()
    }

    /// Stores `words` at word index `at` with atomic stores. Needs only `&self`: shared
    /// memory is written through shared handles, which is what atomics are for.
    pub fn write_words(&self, at: usize, words: &[u32]) -> Result<()> {
        let range = self.checked_range(at..at.saturating_add(words.len()), 4)?;
        for (slot, &w) in self.atomics()[range].iter().zip(words) {
            slot.store(w, Relaxed);
        }
        Ok(())
    }

    /// Stores `bytes` at byte offset `at` with atomic stores.
    pub fn write_bytes(&self, at: usize, bytes: &[u8]) -> Result<()> {
        let range = self.checked_range(at..at.saturating_add(bytes.len()), 1)?;
        for (slot, &b) in self.atomic_bytes()[range].iter().zip(bytes) {
            slot.store(b, Relaxed);
        }
        Ok(())
    }

    /// All its bytes, as a plain slice.
    ///
    /// # Safety
    /// While the slice lives, nothing may write these bytes: no other process, no other
    /// `Segment` of the same file in this process, nor this segment's own
    /// [`atomics()`](Segment::atomics)/`write_*` views (they take `&self` too, so the
    /// borrow checker lets them through: the promise is yours to keep).
    pub unsafe fn as_bytes(&self) -> &[u8] {
        // SAFETY: the whole mapping; the caller's promise is ours.
        unsafe { views::plain(&self.map, 0..self.map.len()) }
    }

    /// All its bytes, writable.
    ///
    /// # Safety
    /// While the slice lives, nothing else may read or write these bytes: no other
    /// process, and no other `Segment` of the same file in this process.
    pub unsafe fn as_bytes_mut(&mut self) -> &mut [u8] {
        let len = self.map.len();
        // SAFETY: the whole mapping; the caller's promise is ours.
        unsafe { views::plain_mut(&mut self.map, 0..len) }
    }

    /// Every whole word, as a plain slice.
    ///
    /// # Safety
    /// As for [`as_bytes`](Segment::as_bytes): nothing may write these words meanwhile,
    /// nor this segment's own [`atomics()`](Segment::atomics)/`write_*` views.
    pub unsafe fn words(&self) -> &[u32] {
        // A mapping starts on a page boundary and the length is cut to whole words, so
        // this cast cannot fail.
        // SAFETY: the whole words of the mapping; the caller's promise is ours.
        bytemuck::cast_slice(unsafe { views::plain(&self.map, 0..self.word_count() * 4) })
    }

    /// Every whole word, writable.
    ///
    /// # Safety
    /// As for [`as_bytes_mut`](Segment::as_bytes_mut): nothing else may touch these words
    /// meanwhile.
    pub unsafe fn words_mut(&mut self) -> &mut [u32] {
        let whole = self.word_count() * 4;
        // SAFETY: the whole words of the mapping; the caller's promise is ours.
        bytemuck::cast_slice_mut(unsafe { views::plain_mut(&mut self.map, 0..whole) })
    }

    /// The words in `range`, writable: what one worker owns. A range that is reversed or
    /// runs past the end is an error, never a panic or a SIGBUS.
    ///
    /// # Safety
    /// While the slice lives, nothing else may read or write *the words in `range`*: no
    /// other process, and no other `Segment` of the same file in this process. Other
    /// words may be written by others meanwhile: that is what disjoint ranges allow.
    pub unsafe fn words_range_mut(&mut self, range: Range<usize>) -> Result<&mut [u32]> {
        let range = self.checked_range(range, 4)?;
        let bytes = range.start * 4..range.end * 4;
        // SAFETY: `checked_range` kept the words inside the mapping; the caller promises
        // nobody else touches them meanwhile.
        Ok(bytemuck::cast_slice_mut(unsafe {
            views::plain_mut(&mut self.map, bytes)
        }))
    }

    /// Checks that `range`, in units of `unit` bytes, is in order and inside the segment.
    fn checked_range(&self, range: Range<usize>, unit: usize) -> Result<Range<usize>> {
        if range.start > range.end {
            return Err(Error::InvalidRange {
                name: self.name.clone(),
                start: range.start,
                end: range.end,
            });
        }
        if range.end > self.map.len() / unit {
            return Err(Error::TooSmall {
                name: self.name.clone(),
                needed: (range.end as u64).saturating_mul(unit as u64),
                actual: self.map.len() as u64,
            });
        }
        Ok(range)
    }

    /// Asks the kernel to write dirty pages back to the file (`msync`). Other processes
    /// never need this to see our writes: they map the same pages. It only matters for
    /// durability of a segment on a real disk, never for a `tmpfs` like `/dev/shm`.
    pub fn flush(&self) -> Result<()> {
        self.map.flush().map_err(|source| Error::Io {
            name: self.name.clone(),
            source,
        })
    }
}

/// What the kernel calls the file: `memfd:LABEL` for a memfd (the link `/proc/self/fd/N`
/// reads `/memfd:LABEL (deleted)`), its path for any other file, or `anonymous file` if
/// that cannot be read.
fn memfd_label(file: &File) -> String {
    use std::os::fd::AsRawFd;
    std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
        .ok()
        .map(|link| link.to_string_lossy().into_owned())
        .map(|link| {
            let link = link.strip_suffix(" (deleted)").unwrap_or(&link);
            link.strip_prefix("/memfd:")
                .map_or_else(|| link.to_owned(), |label| format!("memfd:{label}"))
        })
        .unwrap_or_else(|| "anonymous file".to_owned())
}

/// Every view of a mapping, each built from its raw start pointer.
mod views {
    use std::ops::Range;
    use std::sync::atomic::{AtomicU8, AtomicU32};

    use crate::pages::Mapping;

    /// The mapping as atomic words (its trailing bytes that fill no word left out).
    pub fn atomic_words(map: &Mapping) -> &[AtomicU32] {
        let ptr = map.as_mut_ptr().cast::<AtomicU32>();
        // SAFETY: `ptr` is the mapping's own start address (`Mapping::as_mut_ptr`), never
        // taken from a `&[u8]`, so writing through it is allowed (a pointer derived from a
        // shared `&[u8]` is read-only, even for an atomic store). The mapping covers
        // `map.len()` bytes, and `len / 4` whole words fit in them. `AtomicU32` has the size
        // and bit validity of `u32`, so any 4 bytes are a valid one, and a mapping starts on
        // a page boundary, so every word is 4-aligned. The slice borrows `map`, so the
        // mapping outlives it. Atomics are the access that stays sound while another
        // process (or another `Segment` of the same file) writes the same word: each load
        // and store is one indivisible instruction, and the compiler may not assume the
        // value stays put between two of them. Plain views of the same bytes are `unsafe`
        // precisely so they cannot coexist with this one by accident.
        unsafe { std::slice::from_raw_parts(ptr, map.len() / 4) }
    }

    /// The mapping as atomic bytes.
    pub fn atomic_bytes(map: &Mapping) -> &[AtomicU8] {
        let ptr = map.as_mut_ptr().cast::<AtomicU8>();
        // SAFETY: as for `atomic_words`: the mapping's raw start, `len()` bytes long,
        // borrowed from `map`; `AtomicU8` has the size, alignment and validity of `u8`.
        unsafe { std::slice::from_raw_parts(ptr, map.len()) }
    }

    /// The bytes `range` of the mapping as a plain shared slice.
    ///
    /// # Safety
    /// `range` is in order and inside the mapping, and nothing writes those bytes while
    /// the slice lives (no other process, no other handle, no atomic view).
    pub unsafe fn plain(map: &Mapping, range: Range<usize>) -> &[u8] {
        debug_assert!(range.start <= range.end && range.end <= map.len());
        // SAFETY: the raw start plus `range.start` stays inside the mapping (the caller's
        // promise), which lives as long as the borrow of `map`; nobody writes these bytes
        // meanwhile (the caller's promise again), which is what a `&[u8]` means.
        unsafe { std::slice::from_raw_parts(map.as_mut_ptr().add(range.start), range.len()) }
    }

    /// The bytes `range` of the mapping as a plain writable slice.
    ///
    /// # Safety
    /// `range` is in order and inside the mapping, and nothing else reads or writes those
    /// bytes while the slice lives.
    pub unsafe fn plain_mut(map: &mut Mapping, range: Range<usize>) -> &mut [u8] {
        debug_assert!(range.start <= range.end && range.end <= map.len());
        // SAFETY: as for `plain`; `&mut map` rules out every other view through this
        // handle, and the caller promises the same of every other process and handle.
        unsafe { std::slice::from_raw_parts_mut(map.as_mut_ptr().add(range.start), range.len()) }
    }
}

#[cfg(test)]
mod tests {
    use std::fs::OpenOptions;

    use super::*;
    use crate::pages::Mapping;

    /// The views write through the mapping's raw pointer. Run under Miri
    /// (`cargo +nightly miri test --lib views_`), which checks the aliasing rules a real
    /// run cannot: a view built from `MmapMut`'s `&[u8]` (`map.as_ptr()`) and then stored
    /// through is reported there as "only grants SharedReadOnly permission".
    #[test]
    fn views_of_one_mapping_write_through_its_raw_pointer() {
        let mut map = Mapping::anonymous(64);
        views::atomic_words(&map)[1].store(0x0403_0201, Relaxed);
        views::atomic_bytes(&map)[0].store(9, Relaxed);
        assert_eq!(views::atomic_words(&map)[0].load(Relaxed), 9);
        // SAFETY: no atomic view is alive while the plain ones are.
        unsafe {
            assert_eq!(views::plain(&map, 4..8), [1, 2, 3, 4]);
            views::plain_mut(&mut map, 8..9)[0] = 5;
        }
        assert_eq!(views::atomic_bytes(&map)[8].load(Relaxed), 5);
    }

    /// A memfd's segment is named as the kernel names it, lives at no path, and must be
    /// mapped whole like any other.
    #[test]
    fn a_memfd_segment_is_named_memfd_label_and_has_no_path() {
        let memfd = |len| {
            let fd =
                nix::sys::memfd::memfd_create("kit-test", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
                    .unwrap();
            let file = File::from(fd);
            file.set_len(len).unwrap();
            file
        };
        let file = memfd(8192);
        // SAFETY: a memfd of this test's own; nobody else has its descriptor.
        let map = unsafe { MmapMut::map_mut(&file) }.unwrap();
        let segment = Segment::from_memfd(file, map).unwrap();
        assert_eq!(segment.name(), "memfd:kit-test");
        assert_eq!(segment.path(), Path::new(""));
        assert_eq!(segment.len(), 8192);

        let file = memfd(8192);
        let map = MmapMut::map_anon(4096).unwrap();
        assert!(matches!(
            Segment::from_memfd(file, map),
            Err(Error::SizeMismatch {
                file: 8192,
                mapped: 4096,
                ..
            })
        ));
    }

    /// Two handles of one file, as two attachers would hold them.
    fn two_handles(dir: &SegmentDir, len: u64) -> (Segment, Segment) {
        let path = dir.join("seg");
        let open = || {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .unwrap();
            file.set_len(len).unwrap();
            // SAFETY: a file of this test's own, sized just above; nobody shrinks it.
            let map = unsafe { MmapMut::map_mut(&file) }.unwrap();
            Segment::from_parts(dir, "seg", file, map).unwrap()
        };
        (open(), open())
    }

    /// A range may end exactly at the end of the segment, and may be empty there: a worker
    /// whose share of the last words is nothing is not an error. One word further is.
    #[test]
    fn ranges_may_end_at_the_end_and_be_empty_there_but_never_run_past_it() {
        let tmp = crate::scratch::for_unit_test();
        let dir = SegmentDir::at(tmp.path());
        let (a, mut b) = two_handles(&dir, 64);
        assert!(!a.is_empty(), "a 64-byte segment is not empty");
        let words = a.word_count();
        assert!(
            a.write_words(words, &[]).is_ok(),
            "an empty range at the end"
        );
        assert!(a.write_words(words - 1, &[1]).is_ok(), "the last word");
        assert!(a.write_bytes(a.len(), &[]).is_ok(), "no bytes at the end");
        assert!(matches!(
            a.write_words(words, &[1]),
            Err(Error::TooSmall { .. })
        ));
        assert!(matches!(
            a.write_words(words + 1, &[]),
            Err(Error::TooSmall { .. })
        ));
        drop(a);
        // SAFETY: `a` is gone; nothing else maps the file.
        unsafe {
            assert_eq!(b.words_range_mut(words..words).unwrap().len(), 0);
            assert!(b.words_range_mut(words..words + 1).is_err());
        }
    }

    /// Every address a segment gives out is its mapping's first byte: the one its own
    /// views read and write (a null pointer would pass an alignment check, not this).
    #[test]
    fn a_segments_pointers_are_its_mappings_first_byte() {
        let tmp = crate::scratch::for_unit_test();
        let dir = SegmentDir::at(tmp.path());
        let (a, _) = two_handles(&dir, 64);
        let first = a.atomics().as_ptr().cast::<u8>();
        assert!(!first.is_null());
        assert_eq!(a.as_ptr(), first, "as_ptr is where the views start");
        assert_eq!(
            a.base_ptr().cast_const(),
            first,
            "base_ptr is where the views start"
        );
    }

    /// A range that ends before it starts is an `InvalidRange` error that names it, never
    /// a panic when it is sliced.
    #[test]
    fn a_reversed_range_is_an_error_not_a_panic() {
        let tmp = crate::scratch::for_unit_test();
        let dir = SegmentDir::at(tmp.path());
        let (a, mut b) = two_handles(&dir, 64);
        drop(a);
        // SAFETY: `a` is gone; nothing else maps the file.
        let reversed =
            unsafe { b.words_range_mut(Range { start: 5, end: 3 }) }.map(|words| words.len());
        assert!(
            matches!(
                reversed,
                Err(Error::InvalidRange {
                    start: 5,
                    end: 3,
                    ..
                })
            ),
            "words 5..3 must be Error::InvalidRange, got {reversed:?}"
        );
    }

    /// A segment of an empty file (the kata never makes one, but `from_parts` can be
    /// given one) says it is empty; one of 64 bytes says it is not.
    #[test]
    fn a_segment_of_an_empty_file_is_empty() {
        let tmp = crate::scratch::for_unit_test();
        let dir = SegmentDir::at(tmp.path());
        let (empty, _) = two_handles(&dir, 0);
        assert!(empty.is_empty(), "a segment of 0 bytes is empty");
        assert_eq!(empty.len(), 0);
    }

    /// A store through one handle's atomic view is what the other handle's views read:
    /// the views write through the mapping itself, never through a copy or a pointer the
    /// compiler may treat as read-only.
    #[test]
    fn a_store_through_one_handles_atomics_is_read_through_the_other() {
        let tmp = crate::scratch::for_unit_test();
        let dir = SegmentDir::at(tmp.path());
        let (a, mut b) = two_handles(&dir, 4096);
        for (i, word) in a.atomics().iter().enumerate() {
            word.store(i as u32 ^ 0xdead_beef, Relaxed);
        }
        a.write_bytes(1, &[7]).unwrap();
        let mut expected: Vec<u32> = (0..1024).map(|i| i ^ 0xdead_beef).collect();
        expected[0] = (expected[0] & !0xff00) | 0x0700;
        assert_eq!(b.read_words(), expected);
        // SAFETY: `a` is not used while these plain views live; nothing else maps the file.
        unsafe {
            assert_eq!(b.words(), &expected[..]);
            assert_eq!(b.as_bytes()[1], 7);
            b.words_range_mut(1..2).unwrap()[0] = 42;
        }
        assert_eq!(a.atomics()[1].load(Relaxed), 42);
    }
}
