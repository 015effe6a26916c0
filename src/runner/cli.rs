//! The command line of `shm-kata`, the runner (`cargo run -- …`).

use std::path::PathBuf;
use std::process::ExitCode;

use anstream::{eprintln, print};
use clap::{Parser, Subcommand};

use super::cargo::Tree;
use super::exercises::Kata;
use super::style::{BAD, paint};

/// The shm-kata runner: your progress and what to do next.
///
/// With no command: check every exercise and show where you are.
#[derive(Debug, Parser)]
#[command(version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// The kata's root directory (default: found from the current directory).
    #[arg(long, global = true, hide = true)]
    pub root: Option<PathBuf>,

    /// Which tree the overview and watch test (default: the one this runner was built
    /// with, so `cargo run --features solutions` checks the solutions).
    #[arg(long, global = true, hide = true, value_enum)]
    pub tree: Option<Tree>,

    /// Run every exercise's tests again, even those whose files have not changed since
    /// their last run (which otherwise keep their remembered result).
    #[arg(long, global = true)]
    pub fresh: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show a hint for an exercise, by number (`3`) or name (`partition`): level 1 is a
    /// nudge and where to read, 2 the shape of the answer, 3 the near-code steps.
    Hint {
        exercise: String,
        /// 1 (default), 2 or 3.
        #[arg(default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=super::exercises::HINT_LEVELS as i64))]
        level: u8,
    },
    /// Every exercise with its state: done, skipped, failing (with how many tests pass),
    /// not started.
    List,
    /// Re-run the current exercise's tests every time you save; move on when they pass.
    Watch {
        /// Start at this exercise (number or name) instead of the first unfinished one.
        exercise: Option<String>,
        /// Re-run when you press Enter instead (for file systems without notifications).
        #[arg(long)]
        manual: bool,
    },
    /// Put exercise N back to its untouched stub (your version is kept in .kata/attempts/).
    Reset { exercise: String },
    /// Put the reference answer in place of exercise N, so the later ones work; it reads
    /// as skipped, not done (your attempt is kept in .kata/attempts/).
    Skip {
        exercise: String,
        /// Replace your answer even if it passes every test.
        #[arg(long)]
        force: bool,
    },
    /// Put back your latest attempt at exercise N that `reset` or `skip` kept (or the one
    /// named), keeping what it replaces.
    Restore {
        exercise: String,
        /// A file in .kata/attempts/ (default: the latest of exercise N).
        attempt: Option<PathBuf>,
    },
    /// Check the kata itself: every test fails on the stubs and passes on the solutions,
    /// every exercise has a hint, a `// TODO` and a test file, nothing is left in /dev/shm.
    Verify {
        /// Where leftover segments would show up.
        #[arg(long, hide = true, default_value = "/dev/shm")]
        shm_dir: PathBuf,
    },
    /// The Linux facts the lessons rely on, each shown on this machine by an experiment
    /// (tests/facts.rs): what it showed, or why it was skipped.
    Facts,
    /// The classic program: fill a segment with 0..N, transform it with W worker processes,
    /// verify every word, time it (`--len N`, `--workers W`, `--pages huge|4k`; `demo --help`
    /// for all).
    #[command(disable_help_flag = true)]
    Demo {
        /// Passed on to the demo program (`examples/demo.rs`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("{} {message}", paint(BAD, "error:"));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    super::interrupt::install();
    let kata = || -> Result<Kata, String> {
        let root = super::root::find(cli.root.as_deref())?;
        Kata::load(&root).map_err(|e| e.to_string())
    };
    let tree = cli.tree.unwrap_or_else(Tree::compiled_in);
    Ok(match &cli.command {
        None => {
            super::demo::report_dead_demos(&crate::SegmentDir::system());
            super::overview::show(&kata()?, tree, cli.fresh);
            ExitCode::SUCCESS
        }
        Some(Command::Hint { exercise, level }) => {
            print!("{}", super::hint::render(&kata()?, exercise, *level)?);
            ExitCode::SUCCESS
        }
        Some(Command::List) => {
            super::overview::list(&kata()?, tree, cli.fresh);
            ExitCode::SUCCESS
        }
        Some(Command::Watch { exercise, manual }) => {
            let kata = kata()?;
            let start = match exercise {
                Some(which) => Some(kata.find(which).map_err(|e| e.to_string())?.clone()),
                None => None,
            };
            super::watch::run(&kata, tree, start.as_ref(), *manual)?
        }
        Some(Command::Reset { exercise }) => {
            print!("{}", super::workshop::reset(&kata()?, exercise)?);
            ExitCode::SUCCESS
        }
        Some(Command::Skip { exercise, force }) => {
            let kata = kata()?;
            let passes = |exercise: &super::exercises::Exercise| {
                super::check::one(&kata, tree, exercise).is_done()
            };
            print!(
                "{}",
                super::workshop::skip(&kata, exercise, *force, passes)?
            );
            ExitCode::SUCCESS
        }
        Some(Command::Restore { exercise, attempt }) => {
            print!(
                "{}",
                super::workshop::restore(&kata()?, exercise, attempt.as_deref())?
            );
            ExitCode::SUCCESS
        }
        Some(Command::Verify { shm_dir }) => super::verify::run(&kata()?, shm_dir),
        Some(Command::Facts) => super::facts::run(&super::root::find(cli.root.as_deref())?, tree),
        // The demo runs in its own program, built with exercises 01-04.
        Some(Command::Demo { args }) => super::demo::launch(args)?,
    })
}
