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

/// At most `lines` lines of at most `width` characters each, indented, with a note when
/// something was cut.
pub fn excerpt(text: &str, lines: usize, width: usize, indent: &str) -> String {
    let all: Vec<&str> = text.lines().collect();
    let mut out: Vec<String> = all
        .iter()
        .take(lines)
        .map(|line| {
            let cut: String = line.chars().take(width).collect();
            if cut.len() < line.len() {
                format!("{indent}{cut}…")
            } else {
                format!("{indent}{line}")
            }
        })
        .collect();
    if all.len() > lines {
        out.push(format!("{indent}… ({} more lines)", all.len() - lines));
    }
    out.join("\n")
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
    fn an_excerpt_cuts_long_lines_and_says_how_much_is_left() {
        let text = "a\nbbbbbbbbbb\nc\nd";
        assert_eq!(
            excerpt(text, 2, 4, "  "),
            "  a\n  bbbb…\n  … (2 more lines)"
        );
    }
}
