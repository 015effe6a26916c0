//! `cargo run`: one screen saying where the learner is and what to do next.

use anstream::print;

use super::cargo::Tree;
use super::exercises::{Exercise, Kata};
use super::outcome::Outcome;
use super::style::{self, BAD, CODE, DIM, GOOD, TITLE, TODO, paint};

/// Checks every exercise and prints the overview.
pub fn show(kata: &Kata, tree: Tree) {
    let outcomes = super::check::all(kata, tree);
    print!("{}", render(kata, &outcomes));
}

/// The overview, as text.
pub fn render(kata: &Kata, outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    let mut line = |text: String| {
        out.push_str(&text);
        out.push('\n');
    };
    line(paint(TITLE, "shm-kata · share memory between processes"));
    line(String::new());
    let width = kata
        .exercises
        .iter()
        .map(|e| e.name.len())
        .max()
        .unwrap_or(0);
    // Each exercise's tests build on the ones before it (02's tests create segments with
    // 01's `create`), so a failure after an unfinished exercise may not be its own.
    let first_open = outcomes.iter().position(|o| !o.is_done());
    for (i, (exercise, outcome)) in kata.exercises.iter().zip(outcomes).enumerate() {
        let (mark, look) = style::mark(outcome);
        let after_open =
            matches!(outcome, Outcome::Failing { .. }) && first_open.is_some_and(|open| open < i);
        let because = if after_open {
            paint(
                DIM,
                "  (its tests use the exercises before it: finish those first)",
            )
        } else {
            String::new()
        };
        line(format!(
            "  {} {:02} {:width$}  {}{because}",
            paint(look, mark),
            exercise.number,
            exercise.name,
            paint(look, outcome.label()),
        ));
    }
    let done = outcomes.iter().filter(|o| o.is_done()).count();
    let total = outcomes.len();
    line(String::new());
    line(format!(
        "  {} {done}/{total} done",
        style::bar(done, total, 30)
    ));
    line(String::new());

    let next = kata
        .exercises
        .iter()
        .zip(outcomes)
        .find(|(_, o)| !o.is_done());
    match next {
        None => all_done(kata, &mut line),
        // Nothing can be tested until it compiles again: that is the next step.
        Some((_, outcome @ Outcome::DoesNotCompile { .. })) => line(detail(outcome)),
        Some((exercise, outcome)) => next_steps(exercise, outcome, &mut line),
    }
    out
}

fn next_steps(exercise: &Exercise, outcome: &Outcome, line: &mut impl FnMut(String)) {
    line(format!(
        "{} {}",
        paint(TITLE, "Next:"),
        paint(TITLE, exercise.title())
    ));
    line(format!("  edit   {}", paint(CODE, exercise.file.display())));
    line(format!("  test   {}", paint(CODE, exercise.test_command())));
    line(format!(
        "  hint   {}",
        paint(CODE, format!("cargo run -- hint {}", exercise.number))
    ));
    line(format!("  watch  {}", paint(CODE, "cargo run -- watch")));
    line(String::new());
    line(detail(outcome));
}

/// What went wrong, trimmed: the first failure or the compile error.
pub fn detail(outcome: &Outcome) -> String {
    match outcome {
        Outcome::DoesNotCompile { message } => format!(
            "{}\n{}\n{}",
            paint(BAD, "The code does not compile:"),
            style::excerpt(message, 4, 100, "  "),
            paint(DIM, "  (`cargo build` shows the whole message)")
        ),
        Outcome::NotStarted { failed, first } | Outcome::Failing { failed, first, .. } => {
            let head = match outcome {
                Outcome::NotStarted { .. } => paint(
                    TODO,
                    format!("Not started: its {failed} tests reach a `todo!()`."),
                ),
                _ => paint(
                    BAD,
                    format!(
                        "{failed} failing test{}.",
                        if *failed == 1 { "" } else { "s" }
                    ),
                ),
            };
            let mut text = head;
            if !first.test.is_empty() {
                text.push_str(&format!("\n  first: {}", paint(TITLE, &first.test)));
            }
            if let Some(location) = &first.location {
                text.push_str(&format!(" {}", paint(DIM, format!("at {location}"))));
            }
            text.push('\n');
            text.push_str(&style::excerpt(&first.message, 8, 100, "    "));
            text
        }
        Outcome::Done { passed } => paint(GOOD, format!("All {passed} tests pass.")),
    }
}

fn all_done(kata: &Kata, line: &mut impl FnMut(String)) {
    line(paint(
        GOOD,
        format!("All {} exercises done. Well shared!", kata.exercises.len()),
    ));
    line(format!(
        "  see it run      {}",
        paint(CODE, "cargo run --release -- demo")
    ));
    if kata.root.join("benches").is_dir() {
        line(format!(
            "  the benchmarks  {}",
            paint(CODE, "cargo bench --features solutions")
        ));
    }
}
