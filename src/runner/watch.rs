//! `cargo run -- watch [N]`: re-run the current exercise's tests on every save, and move
//! on to the next exercise when they pass. With `N`, start at exercise N (a workshop that
//! moves on together, a learner coming back to one exercise).
//!
//! Saving is not one event. Some editors write the file in place; others write a new file
//! next to it and rename it over the old one (vim, JetBrains, many "safe write" modes),
//! or leave swap, backup and lock files around (`.x.rs.swp`, `x.rs~`, `.#x.rs`, vim's
//! `4913` probe). So the runner watches the *directory*, reacts to any creation, write,
//! rename or close-after-write of an exercise file (`*.rs`, `info.toml`), ignores the
//! rest, and waits a moment for the burst of events of one save to end before it runs.
//! Where the file system sends no notifications at all (some network and VM mounts),
//! `watch --manual` re-runs when you press Enter.

use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Duration;

use anstream::println;
use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{Event, EventKind, RecursiveMode, Watcher};

use super::cargo::Tree;
use super::exercises::{Exercise, HINT_LEVELS, Kata};
use super::outcome::Outcome;
use super::overview;
use super::style::{CODE, DIM, GOOD, TITLE, TODO, paint};

/// How long one save's events take to settle.
const SETTLE: Duration = Duration::from_millis(150);

/// What wakes the watcher up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wake {
    Saved,
    Rerun,
    Hint,
    Quit,
}

/// Watches until every exercise passes (exit 0) or the learner quits, from `start` (the
/// first exercise if `None`). Exercises that pass are passed over, saying so; a skipped
/// one reads as skipped.
pub fn run(
    kata: &Kata,
    tree: Tree,
    start: Option<&Exercise>,
    manual: bool,
) -> Result<ExitCode, String> {
    let (wake, wakes) = channel();
    // Kept alive for as long as we watch: dropping it stops the notifications.
    let _watcher = if manual {
        None
    } else {
        Some(watch_files(&kata.root.join("exercises"), wake.clone())?)
    };
    read_keys(wake, manual);
    let mut current = start
        .and_then(|start| kata.exercises.iter().position(|e| e == start))
        .unwrap_or(0);
    loop {
        let Some(exercise) = kata.exercises.get(current) else {
            println!("{}", paint(GOOD, "Every exercise passes. Well shared!"));
            println!(
                "  see it run: {}",
                paint(CODE, "cargo run --release -- demo")
            );
            return Ok(ExitCode::SUCCESS);
        };
        let outcome = super::check::one(kata, tree, exercise);
        if outcome.is_done() {
            if super::learner::skipped(kata)[current] {
                println!(
                    "{} {} {}",
                    paint(TODO, "»"),
                    paint(TITLE, exercise.title()),
                    paint(TODO, "skipped")
                );
            } else {
                println!(
                    "{} {} {}  {}",
                    paint(GOOD, "✓"),
                    paint(TITLE, exercise.title()),
                    paint(GOOD, "done"),
                    paint(
                        DIM,
                        format!("compare yours with {}", exercise.solution_file().display())
                    )
                );
            }
            current += 1;
            continue;
        }
        show(exercise, &outcome, manual);
        // Each `h` shows the next level, up to the last, which repeats.
        let mut level = 0;
        loop {
            match next_wake(&wakes) {
                Wake::Saved | Wake::Rerun => break,
                Wake::Quit => return Ok(ExitCode::SUCCESS),
                Wake::Hint => {
                    level = (level + 1).min(HINT_LEVELS);
                    match super::hint::render(kata, &exercise.number.to_string(), level) {
                        Ok(hint) => println!("{hint}"),
                        Err(e) => println!("{e}"),
                    }
                }
            }
        }
    }
}

fn show(exercise: &Exercise, outcome: &Outcome, manual: bool) {
    println!();
    println!(
        "{} {}  {}",
        paint(TITLE, exercise.title()),
        paint(CODE, exercise.file.display()),
        paint(DIM, exercise.test_command())
    );
    println!("{}", overview::detail(exercise, outcome));
    println!();
    let how = if manual {
        "Edit, save, then press Enter to re-run"
    } else {
        "Watching exercises/: save to re-run (nothing happens on save? use `watch --manual`)"
    };
    println!(
        "{}",
        paint(
            DIM,
            format!("{how} · h + Enter: a hint (again: the next level) · q + Enter: quit")
        )
    );
}

/// Waits for a save, a key, or the end of input; a burst of saves counts once.
fn next_wake(wakes: &Receiver<Wake>) -> Wake {
    let Ok(wake) = wakes.recv() else {
        return Wake::Quit;
    };
    if wake == Wake::Saved {
        std::thread::sleep(SETTLE);
        while let Ok(Wake::Saved) = wakes.try_recv() {}
    }
    wake
}

fn watch_files(dir: &Path, wake: Sender<Wake>) -> Result<notify::RecommendedWatcher, String> {
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<Event>| {
        if event.is_ok_and(|event| is_save(&event)) {
            let _ = wake.send(Wake::Saved);
        }
    })
    .map_err(|e| cannot_watch(dir, e))?;
    watcher
        .watch(dir, RecursiveMode::Recursive)
        .map_err(|e| cannot_watch(dir, e))?;
    Ok(watcher)
}

fn cannot_watch(dir: &Path, e: notify::Error) -> String {
    format!(
        "cannot watch {} for changes ({e}); `cargo run -- watch --manual` re-runs on Enter instead",
        dir.display()
    )
}

/// Reads lines from standard input: Enter re-runs, `h` shows the hint, `q` quits. The end
/// of input quits a manual watch, and is ignored otherwise (there is nothing to press).
fn read_keys(wake: Sender<Wake>, manual: bool) {
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            let key = match line.trim() {
                "q" | "quit" | "exit" => Wake::Quit,
                "h" | "hint" => Wake::Hint,
                _ => Wake::Rerun,
            };
            if wake.send(key).is_err() {
                return;
            }
        }
        if manual {
            let _ = wake.send(Wake::Quit);
        }
    });
}

/// Whether `event` is (part of) saving an exercise file.
pub fn is_save(event: &Event) -> bool {
    let kind_counts = match event.kind {
        EventKind::Create(_) => true,
        EventKind::Modify(ModifyKind::Metadata(_)) => false,
        EventKind::Modify(_) => true,
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        _ => false,
    };
    kind_counts && event.paths.iter().any(|path| is_exercise_file(path))
}

/// `01_create.rs` or `info.toml` — not a swap, backup, lock or probe file.
pub fn is_exercise_file(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let hidden_or_lock = name.starts_with('.') || name.starts_with('#');
    let source = name.ends_with(".rs") || name.ends_with(".toml");
    source && !hidden_or_lock
}

#[cfg(test)]
mod tests {
    use notify::event::{CreateKind, DataChange, MetadataKind, RemoveKind, RenameMode};

    use super::*;

    fn event(kind: EventKind, path: &str) -> Event {
        Event::new(kind).add_path(Path::new("/kata/exercises").join(path))
    }

    #[test]
    fn writing_an_exercise_in_place_is_a_save() {
        let write = EventKind::Modify(ModifyKind::Data(DataChange::Any));
        let closed = EventKind::Access(AccessKind::Close(AccessMode::Write));
        assert!(is_save(&event(write, "01_create.rs")));
        assert!(is_save(&event(closed, "01_create.rs")));
        assert!(is_save(&event(write, "info.toml")));
    }

    #[test]
    fn renaming_a_new_file_over_the_exercise_is_a_save() {
        let renamed_to = EventKind::Modify(ModifyKind::Name(RenameMode::To));
        let created = EventKind::Create(CreateKind::File);
        assert!(is_save(&event(renamed_to, "03_partition.rs")));
        assert!(is_save(&event(created, "03_partition.rs")));
    }

    #[test]
    fn swap_backup_lock_and_probe_files_are_not_saves() {
        let write = EventKind::Modify(ModifyKind::Data(DataChange::Any));
        for name in [
            ".01_create.rs.swp",
            "01_create.rs~",
            ".#01_create.rs",
            "#01_create.rs#",
            "4913",
            "01_create.rs___jb_tmp___",
        ] {
            assert!(
                !is_save(&event(write, name)),
                "{name} is not an exercise file"
            );
        }
    }

    #[test]
    fn reading_touching_or_removing_is_not_a_save() {
        let opened = EventKind::Access(AccessKind::Open(AccessMode::Any));
        let touched = EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any));
        let removed = EventKind::Remove(RemoveKind::File);
        for kind in [opened, touched, removed] {
            assert!(!is_save(&event(kind, "01_create.rs")), "{kind:?}");
        }
    }
}
