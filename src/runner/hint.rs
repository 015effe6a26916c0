//! `cargo run -- hint N [LEVEL]`: one level of an exercise's hint, from
//! `exercises/info.toml`.
//!
//! Three levels, so a learner takes only as much help as they need: 1, a nudge (the idea,
//! and the man page or doc that answers it); 2, the shape of the answer; 3, the near-code
//! steps. Each level ends by naming the next, so asking again is one command away.

use super::exercises::{HINT_LEVELS, Kata};
use super::style::{CODE, DIM, TITLE, paint};

/// The names of the levels, as the title shows them.
const LEVEL_NAMES: [&str; HINT_LEVELS as usize] = ["a nudge", "the shape", "the steps"];

/// Hint level `level` (1 to 3) for `which` (a number or a name), ready to print; an
/// unknown exercise or level is an error that lists the valid ones.
pub fn render(kata: &Kata, which: &str, level: u8) -> Result<String, String> {
    let exercise = kata.find(which).map_err(|e| e.to_string())?;
    let hint = exercise
        .hint(level)
        .ok_or_else(|| format!("no hint level {level}: the levels are 1 to {HINT_LEVELS}"))?
        // Blank lines only: a hint that starts with an indented list keeps its indent.
        .trim_start_matches(['\n', '\r'])
        .trim_end();
    if hint.is_empty() {
        return Err(format!(
            "exercise {} has no hint level {level} yet",
            exercise.title()
        ));
    }
    let next = if level < HINT_LEVELS {
        format!(
            "Still stuck? {} gives {}.",
            paint(
                CODE,
                format!("cargo run -- hint {} {}", exercise.number, level + 1)
            ),
            LEVEL_NAMES[usize::from(level)]
        )
    } else {
        format!(
            "That was the last level. Still stuck? {} puts the reference answer in its place.",
            paint(CODE, format!("cargo run -- skip {}", exercise.number))
        )
    };
    Ok(format!(
        "{} {} {}\n\n{hint}\n\nEdit {}, then run {}.\n{}\n",
        paint(TITLE, "Hint for"),
        paint(TITLE, exercise.title()),
        paint(
            DIM,
            format!(
                "(level {level} of {HINT_LEVELS}: {})",
                LEVEL_NAMES[usize::from(level - 1)]
            )
        ),
        paint(CODE, exercise.file.display()),
        paint(CODE, exercise.test_command()),
        paint(DIM, next),
    ))
}
