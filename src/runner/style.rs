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

/// At most this many characters of a message go into an excerpt, however its lines are
/// cut: a test may panic with a whole buffer on one line.
pub const EXCERPT_CHARS: usize = 2000;

/// `text` cut to `width` characters, with `…` where it was cut.
pub fn shorten(text: &str, width: usize) -> String {
    match text.char_indices().nth(width.saturating_sub(1)) {
        Some((at, _)) if text.chars().count() > width => format!("{}…", &text[..at]),
        _ => text.to_owned(),
    }
}

/// The first `lines` lines of `text` (and at most [`EXCERPT_CHARS`] characters), indented
/// and wrapped at `width` characters, with a note when something was left out. Long lines
/// are wrapped, not cut, within that bound: the end of a test's message is usually the
/// advice.
pub fn excerpt(text: &str, lines: usize, width: usize, indent: &str) -> String {
    let all: Vec<&str> = text.lines().collect();
    let mut budget = EXCERPT_CHARS;
    let mut out = Vec::new();
    let mut cut = 0;
    for line in all.iter().take(lines) {
        let length = line.chars().count();
        if length > budget {
            let kept: String = line.chars().take(budget).collect();
            out.extend(
                wrap(&kept, width)
                    .into_iter()
                    .map(|p| format!("{indent}{p}")),
            );
            cut = length - budget;
            break;
        }
        budget -= length;
        out.extend(
            wrap(line, width)
                .into_iter()
                .map(|p| format!("{indent}{p}")),
        );
    }
    if cut > 0 {
        out.push(format!("{indent}… ({cut} more characters)"));
    } else if all.len() > lines {
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

    /// A line longer than the width is cut to it, its last character an ellipsis; one
    /// that fits is left whole.
    #[test]
    fn a_long_line_is_shortened_to_the_width() {
        assert_eq!(shorten("abcdef", 4), "abc…");
        assert_eq!(shorten("abcd", 4), "abcd");
        assert_eq!(shorten("ééééé", 3), "éé…");
    }

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

    #[test]
    fn an_excerpt_of_a_huge_one_line_message_is_bounded_in_characters() {
        let text = "x".repeat(2_000_000);
        let shown = excerpt(&text, 8, 100, "  ");
        assert!(
            shown.lines().count() <= EXCERPT_CHARS / 100 + 2,
            "{} lines",
            shown.lines().count()
        );
        assert!(
            shown.ends_with("… (1998000 more characters)"),
            "{shown:.200}"
        );
    }
}
