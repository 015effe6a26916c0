//! The demo: `cargo run --release -- demo` builds and runs this program. It is the
//! article's classic job on your exercises 01–04 (the logic is in
//! `shm_kata::runner::demo`), and it is its own worker processes too.

shm_kata::exercises!(create, attach, partition, transform);

fn main() -> std::process::ExitCode {
    shm_kata::runner::demo::main(&kata_code())
}
