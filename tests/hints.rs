//! Every code block in the hints (`exercises/info.toml`) compiles: `build.rs` turns each
//! ```` ```rust ```` block into a module of this test, inside the function its `// in:`
//! line names. A block that does not compile fails this test's build with an error in
//! `hint_NN_topic_K.rs`: exercise NN's hint, its K-th block.

// The reference answers of every exercise, which the hints are compiled against.
shm_kata::exercises!(
    create, attach, partition, transform, lock, cleanup, ring, seal
);

include!(concat!(env!("OUT_DIR"), "/hints/all.rs"));

/// Reaching this test means every block compiled; it only checks that there are blocks,
/// so a hint format the build script no longer recognises does not pass in silence.
#[test]
fn every_rust_block_in_the_hints_compiles() {
    let info = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/exercises/info.toml"))
        .expect("exercises/info.toml should be readable");
    let blocks = info.lines().filter(|l| l.trim() == "```rust").count();
    let compiled = include_str!(concat!(env!("OUT_DIR"), "/hints/all.rs"))
        .lines()
        .filter(|l| l.starts_with("mod "))
        .count();
    assert_eq!(
        compiled, blocks,
        "exercises/info.toml has {blocks} ```rust blocks, but build.rs compiled {compiled}"
    );
}
