//! The overview's memory: each exercise's last result, kept with a fingerprint of every
//! file it was built from, in `.kata/results.toml` (as rustlings keeps a state file).
//!
//! Re-running eight test suites on every `cargo run` would make a room wait longer the
//! further it gets. An exercise whose test file, exercise files (its own and the ones it
//! builds on, as its `shm_kata::exercises!(…)` line names them), shared test helpers,
//! `Cargo.toml`, `Cargo.lock` and runner binary are all as they were keeps its result;
//! a change to any of them runs it again. `cargo run -- --fresh` forgets them all.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::cargo::Tree;
use super::exercises::{Exercise, Kata};
use super::outcome::Outcome;

/// Where the results are kept, relative to the root.
pub const RESULTS_FILE: &str = ".kata/results.toml";

/// Every exercise's last result, by test target.
pub struct Remembered {
    file: PathBuf,
    fingerprints: BTreeMap<String, String>,
    results: BTreeMap<String, Entry>,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    fingerprint: String,
    outcome: Outcome,
}

impl Remembered {
    /// The results of earlier runs (none with `fresh`) and each exercise's fingerprint now.
    pub fn load(kata: &Kata, tree: Tree, fresh: bool) -> Remembered {
        let file = kata.root.join(RESULTS_FILE);
        #[derive(Deserialize, Default)]
        struct Stored {
            #[serde(default)]
            results: BTreeMap<String, Entry>,
        }
        let results = match fresh {
            true => BTreeMap::new(),
            false => {
                std::fs::read_to_string(&file)
                    .ok()
                    .and_then(|text| toml::from_str::<Stored>(&text).ok())
                    .unwrap_or_default()
                    .results
            }
        };
        let fingerprints = kata
            .exercises
            .iter()
            .map(|e| (e.test.clone(), fingerprint(kata, tree, e)))
            .collect();
        Remembered {
            file,
            fingerprints,
            results,
        }
    }

    /// The exercise's result, if it was checked with the files as they are now.
    pub fn get(&self, exercise: &Exercise) -> Option<&Outcome> {
        let entry = self.results.get(&exercise.test)?;
        (Some(&entry.fingerprint) == self.fingerprints.get(&exercise.test))
            .then_some(&entry.outcome)
    }

    /// Keeps the exercise's result, for the files as they are now.
    pub fn set(&mut self, exercise: &Exercise, outcome: Outcome) {
        let fingerprint = self.fingerprints[&exercise.test].clone();
        self.results.insert(
            exercise.test.clone(),
            Entry {
                fingerprint,
                outcome,
            },
        );
    }

    /// Writes the results down; a file that cannot be written only costs a re-run.
    pub fn save(&self) {
        #[derive(Serialize)]
        struct Stored<'a> {
            results: &'a BTreeMap<String, Entry>,
        }
        let stored = Stored {
            results: &self.results,
        };
        let Ok(text) = toml::to_string(&stored) else {
            return;
        };
        let Some(root) = self.file.parent().and_then(Path::parent) else {
            return;
        };
        // Under the state lock, like every change in .kata/ (see `learner`).
        if let Ok(_lock) = super::learner::lock_state(root) {
            let _ = super::learner::replace(&self.file, text.as_bytes());
        }
    }
}

/// A digest of everything the exercise's result depends on, as it is now.
fn fingerprint(kata: &Kata, tree: Tree, exercise: &Exercise) -> String {
    let mut hasher = DefaultHasher::new();
    format!("{tree:?}").hash(&mut hasher);
    let test_file = kata.root.join(exercise.test_file());
    let source = std::fs::read(&test_file).unwrap_or_default();
    let mut files: Vec<PathBuf> = vec![
        test_file,
        kata.root.join("Cargo.toml"),
        kata.root.join("Cargo.lock"),
    ];
    let source = String::from_utf8_lossy(&source);
    // A test without an `exercises!` line may reach any exercise: count them all.
    let names: Vec<String> = match source.contains("shm_kata::exercises!(") {
        true => mounted(&source),
        false => kata.exercises.iter().map(|e| e.name.clone()).collect(),
    };
    for name in names {
        if let Some(other) = kata.exercises.iter().find(|e| e.name == name) {
            files.push(match tree {
                Tree::Exercises => kata.root.join(&other.file),
                Tree::Solutions => kata.root.join(other.solution_file()),
            });
        }
    }
    if let Ok(entries) = std::fs::read_dir(kata.root.join("tests/common")) {
        let mut common: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        common.sort();
        files.extend(common);
    }
    for file in &files {
        file.hash(&mut hasher);
        std::fs::read(file).ok().hash(&mut hasher);
    }
    // The runner and the kit it holds: a rebuilt runner may judge differently.
    if let Ok(meta) = std::env::current_exe().and_then(std::fs::metadata) {
        meta.len().hash(&mut hasher);
        meta.modified().ok().hash(&mut hasher);
    }
    format!("{:016x}", hasher.finish())
}

/// The exercises a test file mounts: the names in its `shm_kata::exercises!(…)` line.
pub fn mounted(source: &str) -> Vec<String> {
    let Some((_, rest)) = source.split_once("shm_kata::exercises!(") else {
        return Vec::new();
    };
    let list = rest.split(')').next().unwrap_or_default();
    list.split(',')
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mounted_exercises_are_read_from_the_mount_line() {
        let source = "//! doc\nshm_kata::exercises!(create, attach,\n    transform);\nfn f() {}\n";
        assert_eq!(mounted(source), ["create", "attach", "transform"]);
        assert!(mounted("fn main() {}").is_empty());
    }
}
