//! The worker process: parses one [`Job`] from its arguments and runs it.
//!
//! Started by the parent through `shm_kata::worker`, never by hand (though it can be:
//! `shm-kata-worker read /dev/shm NAME | xxd | head`).

use std::process::ExitCode;

use clap::Parser;
use shm_kata::job::Job;

/// One worker of the shm-kata: attaches to a segment by name and does one job on it.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(subcommand)]
    job: Job,
}

fn main() -> ExitCode {
    let job = Args::parse().job;
    let label = job.label();
    match job.execute() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("shm-kata-worker: {label}: {error}");
            ExitCode::FAILURE
        }
    }
}
