//! The kata's runner, `cargo run`: where am I, what next, and the tools around it.
//!
//! * no argument — every exercise's state (done, skipped, failing, not started) with how
//!   many of its tests pass, the progress, and for the next exercise its file, its test
//!   command and its first failure;
//! * `hint N [LEVEL]` — a hint for an exercise, by number or name: a nudge, the shape,
//!   the steps;
//! * `list` — every exercise's state and how many of its tests pass;
//! * `watch [N]` — re-run the current exercise's tests (or N's) on every save, move on
//!   when green;
//! * `reset N` — exercise N back to its untouched stub; `skip N` — the reference answer
//!   in its place, so the later ones work, marked skipped (both keep what they replace
//!   in `.kata/attempts/`);
//! * `verify` — the kata is sound: every test fails on the stubs and passes on the
//!   solutions, every exercise has a hint, a `// TODO` and a test file;
//! * `demo` — the classic parallel transform, end to end, timed and verified;
//! * `facts` — the Linux facts the lessons rely on, each shown (or skipped, with the
//!   reason) on this machine.
//!
//! The exercise list comes from `exercises/info.toml`; nothing here knows how many
//! exercises there are.

pub mod cargo;
pub mod check;
pub mod cli;
pub mod demo;
pub mod exercises;
pub mod facts;
pub mod hint;
pub mod interrupt;
pub mod learner;
pub mod outcome;
pub mod overview;
pub mod progress;
pub mod remembered;
pub mod root;
pub mod style;
pub mod verify;
pub mod watch;
pub mod workshop;
pub mod wrong;
