//! Where the kata is on disk: the directory with `Cargo.toml` and `exercises/info.toml`.
//!
//! `cargo run` works from any subdirectory of the project, and the runner has to find the
//! root from there: it walks up from the current directory to the `Cargo.toml` of the
//! `shm-kata` package, and falls back to the package `cargo run` names
//! (`CARGO_MANIFEST_DIR`).

use std::path::{Path, PathBuf};

use super::exercises::INFO_FILE;

/// The package whose root the runner looks for.
const PACKAGE: &str = "shm-kata";

/// The project root: `explicit` if given (`--root`), else the nearest ancestor of the
/// current directory holding the `shm-kata` package, else the package `cargo run` ran.
pub fn find(explicit: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(dir) = explicit {
        return if dir.join(INFO_FILE).is_file() {
            Ok(dir.to_owned())
        } else {
            Err(format!(
                "{} has no {INFO_FILE}: is it a kata?",
                dir.display()
            ))
        };
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    if let Some(dir) = cwd.ancestors().find(|dir| is_kata_root(dir)) {
        return Ok(dir.to_owned());
    }
    // `cargo run` tells the runner where the package is, in its environment. Read at run
    // time, not baked in with `env!`: in a project whose path is not UTF-8 the compiler
    // refuses `env!` (and `option_env!`) of it, and the runner would not build at all.
    let built_from = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    if let Some(built_from) = built_from.filter(|dir| dir.join(INFO_FILE).is_file()) {
        return Ok(built_from);
    }
    Err(format!(
        "cannot find the kata: no {PACKAGE} package with an {INFO_FILE} in {} or above it (run it from inside the project, restore {INFO_FILE} if it is missing, or pass --root DIR)",
        cwd.display()
    ))
}

/// Holds the `shm-kata` package and its exercise list.
fn is_kata_root(dir: &Path) -> bool {
    dir.join(INFO_FILE).is_file()
        && read_plain_file(&dir.join("Cargo.toml")).is_some_and(|manifest| {
            manifest
                .lines()
                .any(|line| line.replace(' ', "") == format!("name=\"{PACKAGE}\""))
        })
}

/// The text of `path` if it is a plain file. Anything else (a FIFO, whose `open` waits
/// for a writer forever; a device) is passed over: opened without waiting, checked, and
/// only then read.
fn read_plain_file(path: &Path) -> Option<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_is_found_from_a_subdirectory() {
        // cargo runs a crate's tests in its root.
        let root = std::env::current_dir().unwrap();
        let root = root.as_path();
        let from_sub = root.join("src").join("runner");
        let found = from_sub.ancestors().find(|dir| is_kata_root(dir));
        assert_eq!(found, Some(root));
    }

    #[test]
    fn an_explicit_root_without_an_exercise_list_is_refused() {
        let error = find(Some(Path::new("/"))).unwrap_err();
        assert!(error.contains("has no exercises/info.toml"), "{error}");
    }
}
