//! The exercise list, read from `exercises/info.toml`: the order, the files, the tests and
//! the hints. The runner hard-codes none of it, so adding an exercise is adding an entry.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Where the list lives, relative to the project root.
pub const INFO_FILE: &str = "exercises/info.toml";

/// The reference answers, one file per exercise, named like the exercise's file.
pub const SOLUTIONS_DIR: &str = "solutions";

/// The untouched stubs, one file per exercise, byte for byte what `exercises/` holds in
/// the repository: what `reset` puts back. A copy in the project, not a git command,
/// because a learner who commits their work has no commit with the stub in it, and a
/// learner without git (a zip download) has none at all. `verify` checks that each one
/// is identical to its exercise, so the two cannot drift apart.
pub const STUBS_DIR: &str = "stubs";

/// One exercise, as `info.toml` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exercise {
    /// Its position in the kata, from 1.
    pub number: u32,
    /// Its topic, which is also its module name: `create`, `attach`, …
    pub name: String,
    /// What the learner edits, relative to the root: `exercises/01_create.rs`.
    pub file: PathBuf,
    /// The test target that checks it: `cargo test --test 01_create`.
    pub test: String,
    /// The numbers of the exercises whose code it is compiled with (its tests' and its
    /// own): `[1, 2, 3]` for 04. They match its test file's `shm_kata::exercises!` line.
    #[serde(default)]
    pub builds_on: Vec<u32>,
    /// Hint level 1, what `hint N` prints: the idea, and the man page or doc that answers
    /// it. Each level is required, but a missing one is `verify`'s to report, so the rest
    /// of the runner keeps working while an exercise is being written.
    #[serde(default)]
    pub nudge: String,
    /// Hint level 2, `hint N 2`: the shape of the answer, step by step, without the code.
    #[serde(default)]
    pub shape: String,
    /// Hint level 3, `hint N 3`: the near-code steps.
    #[serde(default)]
    pub steps: String,
}

/// How many hint levels an exercise has: [`Exercise::hint`] 1 to `HINT_LEVELS`.
pub const HINT_LEVELS: u8 = 3;

impl Exercise {
    /// Hint level `level` (1 nudge, 2 shape, 3 steps); `None` past the last level.
    pub fn hint(&self, level: u8) -> Option<&str> {
        match level {
            1 => Some(&self.nudge),
            2 => Some(&self.shape),
            3 => Some(&self.steps),
            _ => None,
        }
    }

    /// `03 partition`.
    pub fn title(&self) -> String {
        format!("{:02} {}", self.number, self.name)
    }

    /// The command a learner types to run its tests.
    pub fn test_command(&self) -> String {
        format!("cargo test --test {}", self.test)
    }

    /// The test file, relative to the root: `tests/01_create.rs`.
    pub fn test_file(&self) -> PathBuf {
        Path::new("tests").join(format!("{}.rs", self.test))
    }

    /// The reference answer, relative to the root: `solutions/01_create.rs`.
    pub fn solution_file(&self) -> PathBuf {
        Path::new(SOLUTIONS_DIR).join(self.file.file_name().unwrap_or_default())
    }

    /// The untouched stub, relative to the root: `stubs/01_create.rs`.
    pub fn stub_file(&self) -> PathBuf {
        Path::new(STUBS_DIR).join(self.file.file_name().unwrap_or_default())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InfoFile {
    exercises: Vec<Exercise>,
}

/// The kata: its root directory and its exercises, in order.
#[derive(Debug, Clone)]
pub struct Kata {
    pub root: PathBuf,
    pub exercises: Vec<Exercise>,
}

/// Why the exercise list could not be used.
#[derive(Debug)]
pub struct ListError(pub String);

impl fmt::Display for ListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ListError {}

impl Kata {
    /// Reads `root/exercises/info.toml`.
    pub fn load(root: &Path) -> Result<Kata, ListError> {
        let path = root.join(INFO_FILE);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| ListError(format!("cannot read {}: {e}", path.display())))?;
        Kata::parse(root, &text)
            .map_err(|ListError(why)| ListError(format!("{}: {why}", path.display())))
    }

    /// Parses the text of an `info.toml`.
    pub fn parse(root: &Path, text: &str) -> Result<Kata, ListError> {
        let info: InfoFile = toml::from_str(text).map_err(|e| ListError(e.to_string()))?;
        let mut exercises = info.exercises;
        exercises.sort_by_key(|e| e.number);
        if exercises.is_empty() {
            return Err(ListError("it lists no exercises".into()));
        }
        for pair in exercises.windows(2) {
            if pair[0].number == pair[1].number {
                return Err(ListError(format!(
                    "two exercises have number {}: {} and {}",
                    pair[0].number, pair[0].name, pair[1].name
                )));
            }
        }
        Ok(Kata {
            root: root.to_owned(),
            exercises,
        })
    }

    /// The exercise a learner means by `which`: its number (`3`, `03`), its name
    /// (`partition`), or its test target (`03_partition`).
    pub fn find(&self, which: &str) -> Result<&Exercise, ListError> {
        let which = which.trim();
        let number = which.parse::<u32>().ok();
        self.exercises
            .iter()
            .find(|e| Some(e.number) == number || e.name == which || e.test == which)
            .ok_or_else(|| {
                let valid: Vec<String> = self
                    .exercises
                    .iter()
                    .map(|e| format!("{} ({})", e.number, e.name))
                    .collect();
                ListError(format!(
                    "no exercise {which:?}; the exercises are {}",
                    valid.join(", ")
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = r#"
        [[exercises]]
        number = 2
        name = "attach"
        file = "exercises/02_attach.rs"
        test = "02_attach"
        nudge = "open it"
        shape = "open, then map"
        steps = "`open`, `map`"

        [[exercises]]
        number = 1
        name = "create"
        file = "exercises/01_create.rs"
        test = "01_create"
        nudge = "make it"
        shape = "make, then map"
        steps = "`make`, `map`"
    "#;

    #[test]
    fn exercises_are_ordered_by_number() {
        let kata = Kata::parse(Path::new("."), TWO).unwrap();
        let names: Vec<&str> = kata.exercises.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["create", "attach"]);
    }

    #[test]
    fn an_exercise_is_found_by_number_name_or_test() {
        let kata = Kata::parse(Path::new("."), TWO).unwrap();
        for which in ["2", "02", "attach", "02_attach", " 2 "] {
            assert_eq!(kata.find(which).unwrap().name, "attach", "find({which:?})");
        }
    }

    #[test]
    fn an_unknown_exercise_names_the_valid_ones() {
        let kata = Kata::parse(Path::new("."), TWO).unwrap();
        let error = kata.find("9").unwrap_err().to_string();
        assert!(error.contains("1 (create), 2 (attach)"), "{error}");
    }

    #[test]
    fn duplicate_numbers_are_refused() {
        let text = TWO.replace("number = 2", "number = 1");
        let error = Kata::parse(Path::new("."), &text).unwrap_err().to_string();
        assert!(error.contains("two exercises have number 1"), "{error}");
    }
}
