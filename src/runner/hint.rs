//! `cargo run -- hint N`: the hint of one exercise, from `exercises/info.toml`.

use super::exercises::Kata;
use super::style::{CODE, TITLE, paint};

/// The hint for `which` (a number or a name), ready to print; an unknown exercise is an
/// error that lists the valid ones.
pub fn render(kata: &Kata, which: &str) -> Result<String, String> {
    let exercise = kata.find(which).map_err(|e| e.to_string())?;
    let hint = exercise.hint.trim();
    if hint.is_empty() {
        return Err(format!("exercise {} has no hint yet", exercise.title()));
    }
    Ok(format!(
        "{} {}\n\n{hint}\n\nEdit {}, then run {}.\n",
        paint(TITLE, "Hint for"),
        paint(TITLE, exercise.title()),
        paint(CODE, exercise.file.display()),
        paint(CODE, exercise.test_command()),
    ))
}
