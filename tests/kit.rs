//! The kit's worker processes, checked without any exercise: a stand-in program plays the
//! worker, so these tests hold whatever state the exercises are in.

// No exercise: these tests hold whatever state the exercises are in.
shm_kata::exercises!();

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::Scratch;
use shm_kata::job::Job;
use shm_kata::worker;

/// A worker that is dropped before it was waited for (a panic or an early `?` in the
/// parent) is killed and reaped: never a process left running, never a zombie. And each
/// worker knows its place in the batch and its own process id.
#[test]
fn a_dropped_worker_is_killed_and_reaped() {
    let scratch = Scratch::new();
    let stand_in = scratch.path().join("stand-in-worker");
    // The stand-in leaves `started.<its pid>` beside itself, then becomes `sleep` in the same
    // process. (Reading `/proc/<pid>/cmdline` instead would race with the `exec`: while the
    // kernel swaps the program, the command line reads as empty.)
    std::fs::write(
        &stand_in,
        "#!/bin/sh\n: > \"$(dirname \"$0\")/started.$$\"\nexec sleep 60\n",
    )
    .unwrap();
    std::fs::set_permissions(&stand_in, std::fs::Permissions::from_mode(0o700)).unwrap();
    worker::set_program(&stand_in);
    let job = || Job::Read {
        dir: scratch.dir.path().to_owned(),
        name: "unused".into(),
    };
    let workers = worker::spawn([job(), job()]).expect("start two stand-in workers");
    let indexes: Vec<usize> = workers.iter().map(|w| w.index()).collect();
    assert_eq!(
        indexes,
        [0, 1],
        "workers are numbered from 0 in the order started"
    );
    let pids: Vec<u32> = workers.iter().map(|w| w.pid()).collect();
    for pid in &pids {
        let started = scratch.path().join(format!("started.{pid}"));
        let deadline = Instant::now() + Duration::from_secs(20);
        while !started.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            started.exists(),
            "worker pid {pid} should be the stand-in's process, which leaves {}",
            started.display()
        );
    }
    drop(workers);
    for pid in pids {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "worker {pid} still exists after its Worker was dropped: drop must kill and reap it"
        );
    }
    scratch.finish();
}

/// `cargo test` starts no rustdoc: a Ctrl-C while rustdoc collects doc tests leaves its
/// temporary directory (`/tmp/rustdoctest*`) behind, and nothing of the kata's could tell
/// that one from another program's to remove it later. The kit's docs have no code to run.
#[test]
fn cargo_test_runs_no_doc_tests() {
    let manifest: toml::Table =
        toml::from_str(include_str!("../Cargo.toml")).expect("Cargo.toml is TOML");
    let doctest = manifest
        .get("lib")
        .and_then(|lib| lib.get("doctest"))
        .and_then(toml::Value::as_bool);
    assert_eq!(
        doctest,
        Some(false),
        "[lib] needs `doctest = false`: with doc tests on, every `cargo test` runs rustdoc, \
         which leaves /tmp/rustdoctest* behind when interrupted"
    );
}
