//! The learner's functions that a program was built with, as the kit calls them.
//!
//! The kit never names an exercise's code: each exercise is compiled only into the
//! programs that need it (its tests, the tests of the exercises built on it, the demo),
//! through [`crate::exercises!`]. That macro fills a [`Code`] with what it mounted, and a
//! worker process (this same program, started again: see [`crate::worker`]) runs its
//! [`Job`](crate::job::Job) through it. A job that needs an exercise the program was not
//! built with is an [`Error::NotBuiltWith`], never a link error in someone else's build.

use std::any::Any;
use std::ops::Range;
use std::os::unix::net::UnixStream;

use crate::error::{Error, Result};
use crate::ring_kit::RingCode;
use crate::segment::{Segment, SegmentDir};

/// 01 `create::create` and 02 `attach::attach`, as the ring kit names them.
pub use crate::ring_kit::{Attach, Create};
/// 03 `partition::partition`.
pub type Partition = fn(usize, usize) -> Vec<Range<usize>>;
/// 04 `transform::transform`.
pub type Transform = fn(u32) -> u32;
/// 04 `transform::transform_range`.
pub type TransformRange = fn(&SegmentDir, &str, Range<usize>) -> Result<()>;
/// 04 `transform::run`.
pub type Run = fn(&SegmentDir, &str, usize) -> Result<()>;
/// 05 `lock::add_locked` and `lock::add_atomic`.
pub type Count = fn(&SegmentDir, &str, u32) -> Result<()>;
/// Something held until it is dropped: 05's `LockGuard`, 06's `OwnedSegment`.
pub type Held = Box<dyn Any>;
/// 05 `lock::lock`, or 06 `OwnedSegment::create`, with what it returns boxed.
pub type Hold = fn(&SegmentDir, &str) -> Result<Held>;
/// 06 `OwnedSegment::create`, boxed.
pub type Own = fn(&SegmentDir, &str, usize) -> Result<Held>;

/// 08's three functions.
#[derive(Clone, Copy)]
pub struct SealCode {
    /// `seal::create`.
    pub create: fn(&str, usize) -> Result<Segment>,
    /// `seal::send`.
    pub send: fn(&UnixStream, &Segment) -> Result<()>,
    /// `seal::receive`.
    pub receive: fn(&UnixStream) -> Result<Segment>,
}

/// Every learner function a worker job may call; `None` for the exercises this program
/// was not built with.
#[derive(Clone, Copy, Default)]
pub struct Code {
    pub create: Option<Create>,
    pub attach: Option<Attach>,
    pub partition: Option<Partition>,
    pub transform: Option<Transform>,
    pub transform_range: Option<TransformRange>,
    pub run: Option<Run>,
    pub add_locked: Option<Count>,
    pub add_atomic: Option<Count>,
    pub lock: Option<Hold>,
    pub own: Option<Own>,
    pub ring: Option<RingCode>,
    pub seal: Option<SealCode>,
}

/// `Some(f)`, or the error that names the exercise the program lacks.
fn needs<T: Copy>(f: Option<T>, exercise: &'static str) -> Result<T> {
    f.ok_or(Error::NotBuiltWith { exercise })
}

impl Code {
    pub fn create(&self) -> Result<Create> {
        needs(self.create, "01 create")
    }
    pub fn attach(&self) -> Result<Attach> {
        needs(self.attach, "02 attach")
    }
    pub fn partition(&self) -> Result<Partition> {
        needs(self.partition, "03 partition")
    }
    pub fn transform(&self) -> Result<Transform> {
        needs(self.transform, "04 transform")
    }
    pub fn transform_range(&self) -> Result<TransformRange> {
        needs(self.transform_range, "04 transform")
    }
    pub fn run(&self) -> Result<Run> {
        needs(self.run, "04 transform")
    }
    pub fn add_locked(&self) -> Result<Count> {
        needs(self.add_locked, "05 lock")
    }
    pub fn add_atomic(&self) -> Result<Count> {
        needs(self.add_atomic, "05 lock")
    }
    pub fn lock(&self) -> Result<Hold> {
        needs(self.lock, "05 lock")
    }
    pub fn own(&self) -> Result<Own> {
        needs(self.own, "06 cleanup")
    }
    pub fn ring(&self) -> Result<RingCode> {
        needs(self.ring, "07 ring")
    }
    pub fn seal(&self) -> Result<SealCode> {
        needs(self.seal, "08 seal")
    }
}
