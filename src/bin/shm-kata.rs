//! The kata's runner: `cargo run` shows your progress and what to do next;
//! `cargo run -- hint N | watch | verify | demo`. The logic is in `shm_kata::runner`.

fn main() -> std::process::ExitCode {
    shm_kata::runner::cli::main()
}
