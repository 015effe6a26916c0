//! # shm-kata: share memory between processes, one exercise at a time
//!
//! Pipes and queues copy every byte they carry, and usually serialize it first. A shared
//! segment lets several processes read and write *one* buffer with no copy at all; the
//! price is that you own synchronization and cleanup. This crate is a kata that teaches
//! exactly that, with real processes and real segments.
//!
//! This library is **the kit**, the floor the exercises stand on, and it holds no learner
//! code: [`SegmentDir`] and [`Segment`] (where segments live and what a mapped one is),
//! [`Error`], [`job`] and [`worker`] (start worker processes and wait for them),
//! [`liveness`] (how the kernel tells whether a segment still has a live holder),
//! [`pages`] (2 MiB-aligned mappings, and huge pages for the segments the kata creates),
//! [`ring_kit`] (the half of exercise 07's ring that is not the lesson), [`reexec`] (a
//! worker is its program started again), [`code`] (the learner's functions a program was
//! built with, as a worker calls them) and [`scratch`] (directories that the next run
//! cleans up when a killed one could not). None of it names an exercise, and none of it
//! uses the runner.
//!
//! **The exercises** live in `exercises/` (what a learner edits) and `solutions/` (the
//! reference answers, same public API). Each is compiled only into the programs that need
//! it, through one line at the top of each (see [`mount`]):
//! `shm_kata::exercises!(create, attach);` mounts `crate::create` and `crate::attach`,
//! from `solutions/` with `--features solutions`. A typo in exercise 05 is then 05's state
//! and nothing else's.
//!
//! [`runner`] is the `shm-kata` binary behind `cargo run`: progress, hints, watch, verify
//! and the demo; it builds and runs the exercises' tests with cargo, whatever state they
//! are in.

pub mod code;
pub mod descriptors;
pub mod error;
pub mod job;
pub mod liveness;
pub mod mount;
pub mod pages;
pub mod reexec;
pub mod ring_kit;
pub mod runner;
pub mod scratch;
pub mod segment;
pub mod worker;

pub use error::{Error, Result};
pub use segment::{Segment, SegmentDir};
