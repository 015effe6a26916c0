//! Turns every ```` ```rust ```` block of the hints in `exercises/info.toml` into a small
//! module that `tests/hints.rs` compiles, so a hint can never show code that does not
//! build. (The format is described at the top of `exercises/info.toml`.)
//!
//! Each block becomes `$OUT_DIR/hints/hint_NN_topic_K.rs`: the reference answer's `use`
//! lines (`tests/hints.rs` mounts every reference answer at its root), the kit's main types, the exercise
//! module's public items, and the function named by the block's `// in:` line, whose body
//! is the block. A compile error
//! in it names the file, and so the exercise and the block.
//!
//! No dependency: the hints are found by reading the TOML text line by line, which is
//! enough for the manifest's plain shape (`test = "…"` before the hint's levels).
//!
//! It also stops a build for anything but Linux with one clear message, before the
//! compiler's many: the kata is about Linux's shared memory.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const INFO: &str = "exercises/info.toml";

/// What a build for macOS, Windows or a BSD says, instead of a page of unresolved imports.
const NOT_LINUX: &str = "shm-kata needs Linux: it teaches Linux's shared memory \
(/dev/shm, posix_fallocate, open file description locks, /proc), which {os} does not have. \
Open the project in its container instead: in VS Code, \"Reopen in Container\" \
(.devcontainer/), or see \"Platforms\" in README.md. On Windows, WSL2 works, with the \
clone inside the Linux file system (~/...), not under /mnt/c.";

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os != "linux" {
        println!("cargo::error={}", NOT_LINUX.replace("{os}", &os));
        return;
    }
    println!("cargo::rerun-if-changed={INFO}");
    // Only a path that exists: cargo takes a missing one for a change on every build (a
    // copy of the kata without its answers would rebuild everything, every time).
    if Path::new("solutions").is_dir() {
        println!("cargo::rerun-if-changed=solutions");
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let dir = out.join("hints");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("cannot make $OUT_DIR/hints");
    let info = std::fs::read_to_string(INFO).unwrap_or_default();
    let mut modules = String::new();
    for block in blocks(&info) {
        let stem = format!("hint_{}_{}", block.test, block.index);
        let path = dir.join(format!("{stem}.rs"));
        std::fs::write(&path, module(&block)).expect("cannot write a hint module");
        writeln!(
            modules,
            "#[path = {:?}]\nmod {stem};",
            path.display().to_string()
        )
        .unwrap();
    }
    std::fs::write(dir.join("all.rs"), modules).expect("cannot write the hint list");
}

/// One ```` ```rust ```` block of one exercise's hint.
struct Block {
    /// The exercise's test target, `NN_topic`.
    test: String,
    /// The exercise's module, `topic`.
    name: String,
    /// 1 for its hint's first block, and so on.
    index: usize,
    /// Its line in `info.toml`, for the header of the generated file.
    line: usize,
    lines: Vec<String>,
}

/// Every rust block, with the exercise it belongs to.
fn blocks(info: &str) -> Vec<Block> {
    let mut found = Vec::new();
    let (mut test, mut name) = (String::new(), String::new());
    let mut index = 0;
    let mut current: Option<Block> = None;
    for (number, line) in info.lines().enumerate() {
        if let Some(block) = current.as_mut() {
            if line.trim() == "```" {
                found.push(current.take().unwrap());
            } else {
                block.lines.push(line.to_owned());
            }
            continue;
        }
        if let Some(value) = quoted_value(line, "test") {
            (test, index) = (value, 0);
        } else if let Some(value) = quoted_value(line, "name") {
            name = value;
        } else if line.trim() == "```rust" {
            index += 1;
            current = Some(Block {
                test: test.clone(),
                name: name.clone(),
                index,
                line: number + 1,
                lines: Vec::new(),
            });
        }
    }
    found
}

/// `key = "value"` → `value`.
fn quoted_value(line: &str, key: &str) -> Option<String> {
    let rest = line
        .trim()
        .strip_prefix(key)?
        .trim_start()
        .strip_prefix('=')?;
    Some(rest.trim().trim_matches('"').to_owned())
}

/// The module that compiles one block.
fn module(block: &Block) -> String {
    let mut text = format!(
        "// exercises/info.toml line {}: the hint of exercise {} ({}), code block {}.\n\
         #![allow(unused, unreachable_code, clippy::all)]\n",
        block.line, block.test, block.name, block.index
    );
    text += &exercise_uses(&block.test);
    // The kit's names, through a glob so that the exercise's own imports take precedence.
    text += "mod kit {\n    pub use shm_kata::job::Job;\n    pub use shm_kata::{Error, Segment, SegmentDir, liveness, worker};\n}\nuse kit::*;\n";
    writeln!(text, "use crate::{}::*;", block.name).unwrap();
    let signature = block
        .lines
        .iter()
        .find_map(|l| l.trim().strip_prefix("// in:"));
    let Some(signature) = signature else {
        writeln!(
            text,
            "compile_error!(\"the rust block {} of hint {} needs a `// in: fn …` line naming the \
             function it belongs in (see the top of exercises/info.toml)\");",
            block.index, block.test
        )
        .unwrap();
        return text;
    };
    writeln!(text, "{} {{", signature.trim()).unwrap();
    for line in &block.lines {
        if let Some(with) = line.trim().strip_prefix("// with:") {
            for binding in with.split(';').map(str::trim).filter(|b| !b.is_empty()) {
                writeln!(text, "    let {binding} = todo!();").unwrap();
            }
        }
    }
    for line in &block.lines {
        writeln!(text, "    {line}").unwrap();
    }
    let last = block
        .lines
        .iter()
        .rev()
        .map(|l| l.trim())
        .find(|l| !l.is_empty());
    if last.is_some_and(|l| l.starts_with("// …") || l.starts_with("// ...")) {
        text += "    todo!()\n";
    }
    text += "}\n";
    text
}

/// The `use` declarations of `solutions/<test>.rs`: the reference answer's, which a learner never edits (the stub in `exercises/` has the same
/// ones, but a learner may tidy them, and that must not break anyone's `cargo test`).
fn exercise_uses(test: &str) -> String {
    let path = Path::new("solutions").join(format!("{test}.rs"));
    let source = std::fs::read_to_string(path).unwrap_or_default();
    let mut uses = String::new();
    let mut inside = false;
    for line in source.lines() {
        if line.starts_with("use ") || line.starts_with("pub use ") {
            inside = true;
        }
        if inside {
            uses += line;
            uses.push('\n');
            inside = !line.trim_end().ends_with(';');
        }
    }
    uses
}
