//! # shm-kata: share memory between processes, one exercise at a time
//!
//! Pipes and queues copy every byte they carry, and usually serialize it first. A shared
//! segment lets several processes read and write *one* buffer with no copy at all; the
//! price is that you own synchronization and cleanup. This crate is a kata that teaches
//! exactly that, with real processes and real segments.
//!
//! The crate has two halves:
//! * **the kit**, always compiled: [`SegmentDir`] and [`Segment`] (where segments live and
//!   what a mapped one is), [`Error`], [`job`] and [`worker`] (start worker processes of
//!   the crate's `shm-kata-worker` binary and wait for them), and [`liveness`] (how the
//!   kernel tells whether a segment still has a live holder), and [`pages`] (2 MiB-aligned
//!   mappings, and huge pages for the segments the kata creates);
//! * **the exercises**, mounted at the crate root: [`create`], [`attach`], [`partition`],
//!   [`transform`], [`lock`], [`cleanup`], [`ring`] (with its kit, [`ring_kit`]), [`seal`].
//!   They come from `exercises/` (what a learner edits), or from
//!   `solutions/` with `--features solutions`. Both trees have the same public API, so the
//!   same tests, worker binary and runner work with either.
//!
//! [`runner`] is the `shm-kata` binary behind `cargo run`: progress, hints, watch, verify
//! and the demo.

pub mod error;
pub mod job;
pub mod liveness;
pub mod pages;
pub mod ring_kit;
pub mod runner;
pub mod segment;
pub mod worker;

pub use error::{Error, Result};
pub use segment::{Segment, SegmentDir};

#[cfg_attr(feature = "solutions", path = "../solutions/mod.rs")]
#[cfg_attr(not(feature = "solutions"), path = "../exercises/mod.rs")]
mod kata;

pub use kata::{attach, cleanup, create, lock, partition, ring, seal, transform};
