//! The kit: where segments live ([`SegmentDir`]) and what a mapped one is ([`Segment`]).
//!
//! A *segment* here is a plain file in a directory, mapped into memory with `mmap`
//! (`MAP_SHARED`). Every process that maps the same file sees the same physical pages: a
//! write by one is a read by all the others, with no copy and no system call. On Linux,
//! `/dev/shm` is a `tmpfs`, so its files live in RAM and never touch a disk: a file there
//! *is* a POSIX shared-memory object, the same thing `shm_open("/name")` and Python's
//! `multiprocessing.shared_memory.SharedMemory(name="name")` create.
//!
//! This module is a tool, not a lesson: the exercises build `Segment`s with
//! [`Segment::from_parts`] and use its views.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU32;

use memmap2::MmapMut;

use crate::error::{Error, Result};

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
/// Dropping a `Segment` *closes* it: the mapping is removed and the file descriptor closed.
/// It never *unlinks* (removes the name): the segment and its contents stay for other
/// processes to attach to, until someone removes the name on purpose.
///
/// # Views and what makes them sound
/// [`as_bytes_mut`](Segment::as_bytes_mut) and [`words_mut`](Segment::words_mut) hand out
/// `&mut` references into memory that *other processes* can write at any moment, and Rust
/// cannot see them. A `&mut [u32]` promises that nobody else touches those words while it
/// lives; in this kata that promise is kept by design, not by the compiler: each worker
/// only touches its own disjoint range, and the parent does not look until every worker
/// has exited. Words that several processes really do touch at once are reached through
/// [`atomics`](Segment::atomics) instead, never through plain references.
#[derive(Debug)]
pub struct Segment {
    name: String,
    path: PathBuf,
    // The map is declared before the file so it is dropped (unmapped) first; the kernel
    // would keep the pages alive either way, but this is the order a reader expects.
    map: MmapMut,
    file: File,
}

impl Segment {
    /// Assembles a segment from the file it maps and the mapping, as `create` and `attach`
    /// build them.
    ///
    /// # Panics
    /// If the mapping does not cover the whole file: that would be a bug in the caller,
    /// not a bad input.
    pub fn from_parts(dir: &SegmentDir, name: &str, file: File, map: MmapMut) -> Segment {
        if let Ok(meta) = file.metadata() {
            assert_eq!(
                meta.len(),
                map.len() as u64,
                "segment {name:?}: map the whole file (the file has {} bytes, the map {})",
                meta.len(),
                map.len()
            );
        }
        Segment {
            name: name.to_owned(),
            path: dir.join(name),
            map,
            file,
        }
    }

    /// The segment's name in its directory.
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
        self.map.is_empty()
    }

    /// The open file behind the mapping (for locks and metadata).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// All its bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.map
    }

    /// All its bytes, writable. See the type's docs for when this is sound to use.
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        &mut self.map
    }

    /// The segment as native-endian `u32` words. Trailing bytes that do not fill a whole
    /// word are left out.
    pub fn words(&self) -> &[u32] {
        let whole = self.map.len() / 4 * 4;
        // A mapping starts on a page boundary, so the cast can only fail on length, and
        // `whole` is a multiple of 4.
        bytemuck::cast_slice(&self.map[..whole])
    }

    /// The segment as writable `u32` words. See the type's docs for when this is sound.
    pub fn words_mut(&mut self) -> &mut [u32] {
        let whole = self.map.len() / 4 * 4;
        bytemuck::cast_slice_mut(&mut self.map[..whole])
    }

    /// The segment as atomic words, for words that several processes touch at once.
    pub fn atomics(&self) -> &[AtomicU32] {
        let words = self.map.len() / 4;
        let ptr = self.map.as_ptr().cast::<AtomicU32>();
        // SAFETY: `AtomicU32` has the size and bit validity of `u32`, so any 4 bytes are a
        // valid one, and the mapping starts on a page boundary, so every word is 4-aligned.
        // The slice borrows `self`, so the mapping outlives it. Atomics are exactly the
        // access that stays sound while *another process* writes the same word: every read
        // and write of them is a single indivisible instruction, which plain `&u32`
        // references never promise.
        unsafe { std::slice::from_raw_parts(ptr, words) }
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
