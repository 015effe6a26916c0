//! "Still working": a spinner while cargo builds or tests, so a long first build is not
//! silence. On a terminal it is one redrawn line (`indicatif`); elsewhere (CI logs, a
//! pipe) each step is printed once, plainly.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A line on standard error saying what is being done.
pub struct Spinner {
    bar: Option<ProgressBar>,
}

impl Spinner {
    /// A spinner with nothing to say yet: [`say`](Spinner::say) comes next.
    pub fn quiet() -> Spinner {
        if !animated(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR"),
        ) {
            return Spinner { bar: None };
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} {elapsed:.dim}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(100));
        Spinner { bar: Some(bar) }
    }

    /// A spinner saying `message`.
    pub fn start(message: impl Into<String>) -> Spinner {
        let spinner = Spinner::quiet();
        spinner.say(message);
        spinner
    }

    /// Says what is being done now.
    pub fn say(&self, message: impl Into<String>) {
        let message = message.into();
        match &self.bar {
            Some(bar) => bar.set_message(message),
            None => eprintln!("{message}"),
        }
    }
}

/// Whether to draw the redrawn line: only on a terminal, and not under `NO_COLOR` (set to
/// anything but the empty string), whose users asked for plain output — redrawing
/// needs escape codes (`ESC[2K`) even without colours.
fn animated(terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    terminal && no_color.is_none_or(|value| value.is_empty())
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::animated;

    #[test]
    fn no_color_means_plain_lines_even_on_a_terminal() {
        assert!(animated(true, None));
        assert!(animated(true, Some("".into())));
        assert!(!animated(true, Some("1".into())));
        assert!(!animated(false, None));
    }
}
