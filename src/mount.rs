//! `shm_kata::exercises!(…)`: the one line that gives a program the exercises it needs.
//!
//! The kit (this library) holds no learner code, so a typo in one exercise never stops the
//! runner, the hints or any other exercise. Each program that runs learner code (each
//! exercise's tests, the demo, the benchmarks) names the exercises it uses:
//!
//! ```text
//! shm_kata::exercises!(create, attach, partition, transform);
//! ```
//!
//! at the top of its file (in `tests/`, `examples/` or `benches/`), which mounts each one
//! at the crate root — `crate::attach::attach`, `crate::transform::run`, … — from
//! `exercises/`, or from `solutions/` with `--features solutions`. An exercise that builds on
//! others needs them named too (04's code calls 02's `attach`); a missing one is a compile
//! error that names it (`could not find attach in the crate root`). What each builds on:
//!
//! | exercise | builds on |
//! |---|---|
//! | 01 create | — |
//! | 02 attach | 01 |
//! | 03 partition | — |
//! | 04 transform | 01, 02, 03 |
//! | 05 lock | 01, 02 |
//! | 06 cleanup | 01, 02 |
//! | 07 ring | 01, 02 |
//! | 08 seal | — |
//!
//! The macro also writes the program's worker entry: `kata_code()`, the table of the
//! mounted functions a worker job may call ([`crate::code::Code`]), and in a test program
//! the ignored test [`crate::worker::ENTRY`] that a worker process of it runs (see
//! [`crate::worker::command`]). A program with its own `main` calls
//! `shm_kata::worker::serve_if_asked(&kata_code())` first thing.

/// Mounts the named exercises at the crate root and writes the worker entry (see the
/// module [`crate::mount`]).
#[macro_export]
macro_rules! exercises {
    ($($exercise:ident),* $(,)?) => {
        $( $crate::__mount!($exercise); )*

        /// The exercises' functions this program was built with, for its worker processes.
        #[allow(dead_code)]
        pub fn kata_code() -> $crate::code::Code {
            #[allow(unused_mut)]
            let mut code = $crate::code::Code::default();
            $( $crate::__code!(code, $exercise); )*
            code
        }

        /// Not a test: what this program does when it is started as a worker process
        /// (`shm_kata::worker::command`). Run any other way, it has nothing to do.
        #[cfg(test)]
        #[test]
        #[ignore = "the entry of this program's worker processes, run only by them"]
        fn shm_kata_worker() {
            $crate::worker::serve_if_asked(&kata_code());
        }
    };
}

/// One exercise's module, from `exercises/` or `solutions/`.
#[doc(hidden)]
#[macro_export]
macro_rules! __mount {
    (create) => { $crate::__mount!(@ create "../exercises/01_create.rs" "../solutions/01_create.rs"); };
    (attach) => { $crate::__mount!(@ attach "../exercises/02_attach.rs" "../solutions/02_attach.rs"); };
    (partition) => { $crate::__mount!(@ partition "../exercises/03_partition.rs" "../solutions/03_partition.rs"); };
    (transform) => { $crate::__mount!(@ transform "../exercises/04_transform.rs" "../solutions/04_transform.rs"); };
    (lock) => { $crate::__mount!(@ lock "../exercises/05_lock.rs" "../solutions/05_lock.rs"); };
    (cleanup) => { $crate::__mount!(@ cleanup "../exercises/06_cleanup.rs" "../solutions/06_cleanup.rs"); };
    (ring) => { $crate::__mount!(@ ring "../exercises/07_ring.rs" "../solutions/07_ring.rs"); };
    (seal) => { $crate::__mount!(@ seal "../exercises/08_seal.rs" "../solutions/08_seal.rs"); };
    (@ $name:ident $exercise:literal $solution:literal) => {
        #[cfg_attr(feature = "solutions", path = $solution)]
        #[cfg_attr(not(feature = "solutions"), path = $exercise)]
        #[allow(dead_code)]
        pub mod $name;
    };
    ($other:ident) => {
        compile_error!(concat!(
            "no exercise is called `", stringify!($other),
            "`: the exercises are create, attach, partition, transform, lock, cleanup, ring, seal"
        ));
    };
}

/// One exercise's entries in the worker's table of functions.
// `crate::` here is the crate that calls the macro, on purpose: the exercises are mounted
// there, never in this library.
#[allow(clippy::crate_in_macro_def)]
#[doc(hidden)]
#[macro_export]
macro_rules! __code {
    ($code:ident, create) => {
        $code.create = Some(crate::create::create);
    };
    ($code:ident, attach) => {
        $code.attach = Some(crate::attach::attach);
    };
    ($code:ident, partition) => {
        $code.partition = Some(crate::partition::partition);
    };
    ($code:ident, transform) => {
        $code.transform = Some(crate::transform::transform);
        $code.transform_range = Some(crate::transform::transform_range);
        $code.run = Some(crate::transform::run);
    };
    ($code:ident, lock) => {
        $code.add_locked = Some(crate::lock::add_locked);
        $code.add_atomic = Some(crate::lock::add_atomic);
        $code.lock = Some(|dir, name| {
            crate::lock::lock(dir, name).map(|guard| Box::new(guard) as $crate::code::Held)
        });
    };
    ($code:ident, cleanup) => {
        $code.own = Some(|dir, name, len| {
            crate::cleanup::OwnedSegment::create(dir, name, len)
                .map(|owned| Box::new(owned) as $crate::code::Held)
        });
    };
    ($code:ident, ring) => {
        $code.ring = Some(crate::ring::CODE);
    };
    ($code:ident, seal) => {
        $code.seal = Some($crate::code::SealCode {
            create: crate::seal::create,
            send: crate::seal::send,
            receive: crate::seal::receive,
        });
    };
}
