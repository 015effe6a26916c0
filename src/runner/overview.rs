//! `cargo run`: one screen saying where the learner is and what to do next.

use anstream::print;

use super::cargo::Tree;
use super::exercises::{Exercise, Kata};
use super::outcome::Outcome;
use super::style::{self, BAD, CODE, DIM, GOOD, TITLE, TODO, paint};

/// Checks every exercise and prints the overview.
pub fn show(kata: &Kata, tree: Tree, fresh: bool) {
    let outcomes = super::check::all(kata, tree, fresh);
    let skipped = super::learner::skipped(kata);
    print!("{}", render(kata, &outcomes, &skipped));
}

/// `cargo run -- list`: every exercise with its state and its test counts, and the
/// progress; no next step.
pub fn list(kata: &Kata, tree: Tree, fresh: bool) {
    let outcomes = super::check::all(kata, tree, fresh);
    let skipped = super::learner::skipped(kata);
    let mut out = String::new();
    for line in table(kata, &outcomes, &skipped) {
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str(&builds_on(kata));
    print!("{out}");
}

/// `  04 transform builds on 01, 02, 03`, one line per exercise that builds on others.
fn builds_on(kata: &Kata) -> String {
    let mut out = String::new();
    for exercise in kata.exercises.iter().filter(|e| !e.builds_on.is_empty()) {
        let on: Vec<String> = exercise
            .builds_on
            .iter()
            .map(|n| format!("{n:02}"))
            .collect();
        out.push_str(&format!(
            "  {} builds on {}\n",
            exercise.title(),
            on.join(", ")
        ));
    }
    if !out.is_empty() {
        out.insert(0, '\n');
    }
    out
}

/// The overview, as text. `skipped[i]` says whether exercise `i` was skipped (holds the
/// reference answer that `skip` put in).
pub fn render(kata: &Kata, outcomes: &[Outcome], skipped: &[bool]) -> String {
    let mut out = String::new();
    let mut line = |text: String| {
        out.push_str(&text);
        out.push('\n');
    };
    line(paint(TITLE, "shm-kata · share memory between processes"));
    line(String::new());
    for row in table(kata, outcomes, skipped) {
        line(row);
    }
    line(String::new());

    let next = open(outcomes, skipped).next();
    match next {
        None => all_done(kata, skipped, &mut line),
        // Nothing of it can be tested until it compiles again: that is the next step.
        Some(i) if matches!(outcomes[i], Outcome::DoesNotCompile { .. }) => {
            line(detail(&kata.exercises[i], &outcomes[i]))
        }
        Some(i) => {
            // Just passed the one before? Its reference answer is worth a look now.
            let before = i
                .checked_sub(1)
                .filter(|&b| outcomes[b].is_done() && !skipped.get(b).copied().unwrap_or(false));
            if let Some(before) = before {
                compare(kata, &kata.exercises[before], &mut line);
            }
            next_steps(&kata.exercises[i], &outcomes[i], &mut line)
        }
    }
    out
}

/// The exercises still to do: neither done nor skipped, in order.
fn open<'a>(outcomes: &'a [Outcome], skipped: &'a [bool]) -> impl Iterator<Item = usize> + 'a {
    (0..outcomes.len())
        .filter(|&i| !outcomes[i].is_done() && !skipped.get(i).copied().unwrap_or(false))
}

/// One line per exercise (`✗ 01 create   5/14  failing · next: …`), then the progress.
pub fn table(kata: &Kata, outcomes: &[Outcome], skipped: &[bool]) -> Vec<String> {
    let mut lines = Vec::new();
    let width = kata
        .exercises
        .iter()
        .map(|e| e.name.len())
        .max()
        .unwrap_or(0);
    let is_skipped = |i: usize| skipped.get(i).copied().unwrap_or(false);
    let counts: Vec<String> = outcomes
        .iter()
        .map(|o| {
            o.counts()
                .map(|(passed, total)| format!("{passed}/{total}"))
                .unwrap_or_default()
        })
        .collect();
    let count_width = counts.iter().map(String::len).max().unwrap_or(0);
    // An exercise's tests use the exercises it builds on (02's tests create segments with
    // 01's `create`), so a failure while one of those is unfinished may not be its own.
    let first_open = open(outcomes, skipped).next();
    let unfinished = |i: usize| {
        kata.exercises[i].builds_on.iter().any(|number| {
            kata.exercises
                .iter()
                .position(|e| e.number == *number)
                .is_some_and(|j| !outcomes[j].is_done())
        })
    };
    for (i, (exercise, outcome)) in kata.exercises.iter().zip(outcomes).enumerate() {
        let (mark, look, label) = if is_skipped(i) && outcome.is_done() {
            ("»", TODO, "skipped")
        } else if is_skipped(i) {
            // The reference answer fails only where it uses an earlier, unfinished one.
            ("»", BAD, "skipped, failing")
        } else {
            let (mark, look) = style::mark(outcome);
            (mark, look, outcome.label())
        };
        let failing = matches!(outcome, Outcome::Failing { .. }) && !is_skipped(i);
        let after_open = failing && unfinished(i);
        // The current exercise names the test to make pass next: a small win in reach.
        let next_test = outcome
            .failure()
            .filter(|f| first_open == Some(i) && !f.test.is_empty())
            .map(|f| format!(" · next: {}", f.test))
            .unwrap_or_default();
        let because = if after_open {
            paint(
                DIM,
                "  (it builds on an exercise that is not done yet: finish that first)",
            )
        } else {
            String::new()
        };
        lines.push(format!(
            "  {} {:02} {:width$}  {:>count_width$}  {}{next_test}{because}",
            paint(look, mark),
            exercise.number,
            exercise.name,
            counts[i],
            paint(look, label),
        ));
        // Where it does not compile, in one line: the one place to look.
        if let Outcome::DoesNotCompile { message } = outcome {
            let first = message.lines().next().unwrap_or_default();
            lines.push(format!("       {}", paint(DIM, style::shorten(first, 96))));
        }
    }
    let total = outcomes.len();
    let skips = (0..total).filter(|&i| is_skipped(i)).count();
    let done = (0..total)
        .filter(|&i| outcomes[i].is_done() && !is_skipped(i))
        .count();
    let skips = if skips > 0 {
        format!(", {skips} skipped")
    } else {
        String::new()
    };
    lines.push(String::new());
    lines.push(format!(
        "  {} {done}/{total} done{skips}",
        style::bar(done, total, 30)
    ));
    lines
}

/// `Passed 01 create: compare yours with solutions/01_create.rs`, if there is one.
fn compare(kata: &Kata, exercise: &Exercise, line: &mut impl FnMut(String)) {
    let solution = exercise.solution_file();
    if kata.root.join(&solution).is_file() {
        line(format!(
            "{} {}: compare yours with {}",
            paint(GOOD, "Passed"),
            exercise.title(),
            paint(CODE, solution.display())
        ));
        line(String::new());
    }
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
    line(detail(exercise, outcome));
}

/// What went wrong, trimmed: the first failure or the compile error.
pub fn detail(exercise: &Exercise, outcome: &Outcome) -> String {
    match outcome {
        Outcome::DoesNotCompile { message } => format!(
            "{}\n{}\n{}",
            paint(BAD, format!("{} does not compile:", exercise.title())),
            style::excerpt(message, 4, 100, "  "),
            paint(
                DIM,
                format!(
                    "  (`cargo test --no-run --test {}` shows the whole message)",
                    exercise.test
                )
            )
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

fn all_done(kata: &Kata, skipped: &[bool], line: &mut impl FnMut(String)) {
    let skips: Vec<String> = kata
        .exercises
        .iter()
        .zip(skipped)
        .filter(|(_, s)| **s)
        .map(|(e, _)| e.number.to_string())
        .collect();
    if skips.is_empty() {
        line(paint(
            GOOD,
            format!("All {} exercises done. Well shared!", kata.exercises.len()),
        ));
        line(format!(
            "  compare yours   {}",
            paint(CODE, format!("{}/", super::exercises::SOLUTIONS_DIR))
        ));
    } else {
        line(paint(
            GOOD,
            format!("Every exercise passes, {} of them skipped.", skips.len()),
        ));
        line(format!(
            "  try one yourself  {}",
            paint(CODE, format!("cargo run -- reset {}", skips[0]))
        ));
    }
    line(format!(
        "  see it run      {}",
        paint(CODE, "cargo run --release -- demo")
    ));
    if kata.root.join("benches").is_dir() {
        line(format!(
            "  the benchmarks  {}",
            paint(CODE, "cargo bench --features benchmarks")
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The overview ends with one line per exercise that builds on others, from
    /// `builds_on` in `exercises/info.toml`.
    #[test]
    fn the_overview_says_what_each_exercise_builds_on() {
        let kata = Kata::load(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        let lines = builds_on(&kata);
        assert!(lines.contains("  02 attach builds on 01\n"), "{lines}");
        assert!(
            lines.contains("  04 transform builds on 01, 02, 03\n"),
            "{lines}"
        );
        assert!(!lines.contains("01 create builds on"), "{lines}");
    }
}
