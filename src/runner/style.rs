//! The runner's look: a few styles, printed through `anstream`, which drops them when
//! `NO_COLOR` is set or the output is not a terminal. Every state also has a word and a
//! mark, so nothing is said by colour alone.

use anstyle::{AnsiColor, Style};

use super::outcome::Outcome;

pub const TITLE: Style = Style::new().bold();
pub const DIM: Style = Style::new().dimmed();
pub const GOOD: Style = AnsiColor::Green.on_default().bold();
pub const BAD: Style = AnsiColor::Red.on_default().bold();
pub const TODO: Style = AnsiColor::Yellow.on_default();
pub const CODE: Style = AnsiColor::Cyan.on_default();

/// `text` in `style`: `{style}text{style:#}`.
pub fn paint(style: Style, text: impl std::fmt::Display) -> String {
    format!("{style}{text}{style:#}")
}

/// The mark and style of a state: `✓` done, `✗` failing, `·` not started.
pub fn mark(outcome: &Outcome) -> (&'static str, Style) {
    match outcome {
        Outcome::Done { .. } => ("✓", GOOD),
        Outcome::Failing { .. } | Outcome::DoesNotCompile { .. } => ("✗", BAD),
        Outcome::NotStarted { .. } => ("·", TODO),
    }
}

/// `[#####---------------]`, `width` cells.
pub fn bar(done: usize, total: usize, width: usize) -> String {
    let filled = (done * width).checked_div(total).unwrap_or(0);
    format!(
        "[{}{}]",
        paint(GOOD, "#".repeat(filled)),
        "-".repeat(width - filled)
    )
}

/// The first `lines` lines of `text`, indented and wrapped at `width` characters, with a
/// note when lines were left out. Long lines are wrapped, never cut: the end of a test's
/// message is usually the advice.
pub fn excerpt(text: &str, lines: usize, width: usize, indent: &str) -> String {
    let all: Vec<&str> = text.lines().collect();
    let mut out: Vec<String> = all
        .iter()
        .take(lines)
        .flat_map(|line| wrap(line, width))
        .map(|piece| format!("{indent}{piece}"))
        .collect();
    if all.len() > lines {
        out.push(format!("{indent}… ({} more lines)", all.len() - lines));
    }
    out.join("\n")
}

/// `line` in pieces of at most `width` characters, broken at spaces (a word longer than
/// `width` stands alone).
fn wrap(line: &str, width: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut piece = String::new();
    for word in line.split(' ') {
        let needed = piece.chars().count() + usize::from(!piece.is_empty()) + word.chars().count();
        if !piece.is_empty() && needed > width {
            pieces.push(std::mem::take(&mut piece));
        }
        if !piece.is_empty() {
            piece.push(' ');
        }
        piece.push_str(word);
    }
    pieces.push(piece);
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_fills_in_proportion() {
        let plain = |s: String| {
            s.replace(&GOOD.render().to_string(), "")
                .replace(&GOOD.render_reset().to_string(), "")
        };
        assert_eq!(plain(bar(1, 4, 8)), "[##------]");
        assert_eq!(plain(bar(4, 4, 8)), "[########]");
        assert_eq!(plain(bar(0, 0, 4)), "[----]");
    }

    #[test]
    fn an_excerpt_wraps_long_lines_and_says_how_much_is_left() {
        let text = "a\nbb cc (dd ee)\nc\nd";
        assert_eq!(
            excerpt(text, 2, 5, "  "),
            "  a\n  bb cc\n  (dd\n  ee)\n  … (2 more lines)"
        );
    }
}
