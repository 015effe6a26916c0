//! The exercises, in order. Each file opens with what to do; `cargo test --test NN_topic`
//! checks one. Their answers live in `solutions/`, with the same public API.

#[path = "01_create.rs"]
pub mod create;

#[path = "02_attach.rs"]
pub mod attach;

#[path = "03_partition.rs"]
pub mod partition;

#[path = "04_transform.rs"]
pub mod transform;

#[path = "05_lock.rs"]
pub mod lock;

#[path = "06_cleanup.rs"]
pub mod cleanup;

#[path = "07_ring.rs"]
pub mod ring;

#[path = "08_seal.rs"]
pub mod seal;
