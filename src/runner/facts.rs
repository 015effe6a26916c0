//! `cargo run -- facts`: the Linux facts the lessons rely on, shown on this machine.
//!
//! Runs `tests/facts.rs` (one test per fact, one at a time) and prints each fact's claim
//! with what this machine did: `shown` and the numbers, `skipped` and why (not root, an
//! older kernel, no `python3`), or `FAILED` and the message — a fact that does not hold
//! here is worth knowing before a lesson says it does.

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;

use anstream::println;

use super::cargo::{Cargo, Tree};
use super::style::{BAD, DIM, GOOD, TITLE, TODO, paint};

/// What one fact did on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Showed {
    /// It held; what the experiment printed after `shown:`.
    Passed(String),
    /// The machine cannot show it; the reason printed after `skipped:`.
    Skipped(String),
    /// It did not hold; the failure's message.
    Failed(String),
}

/// Runs the facts suite in `root` and prints the report; fails if any fact failed or the
/// suite did not run.
pub fn run(root: &Path, tree: Tree) -> ExitCode {
    println!(
        "{}",
        paint(DIM, "running tests/facts.rs (cargo test --test facts) …")
    );
    let output = Cargo::new(root).facts(tree);
    let results = parse(&output.stdout);
    if results.is_empty() {
        println!(
            "{} the facts suite did not run:\n{}",
            paint(BAD, "error:"),
            output.stderr.trim_end()
        );
        return ExitCode::FAILURE;
    }
    let source = std::fs::read_to_string(root.join("tests/facts.rs")).unwrap_or_default();
    let claims = claims(&source);
    let (mut passed, mut skipped, mut failed) = (0, 0, 0);
    for (name, showed) in &results {
        println!("{}", paint(TITLE, name));
        if let Some(claim) = claims.get(name) {
            println!("  {claim}");
        }
        match showed {
            Showed::Passed(what) => {
                passed += 1;
                println!("  {} {what}", paint(GOOD, "shown:"));
            }
            Showed::Skipped(why) => {
                skipped += 1;
                println!("  {} {why}", paint(TODO, "skipped:"));
            }
            Showed::Failed(message) => {
                failed += 1;
                println!("  {} {message}", paint(BAD, "FAILED:"));
            }
        }
    }
    println!(
        "\n{passed} facts shown on this machine, {skipped} skipped (with the reason), {failed} failed"
    );
    if failed == 0 && output.success {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Each fact's outcome from libtest's output with `--show-output`: the `test NAME ... ok`
/// lines say which passed or failed, the `---- NAME stdout ----` sections what each
/// printed. Ignored tests (the helper process's entry) are not facts.
pub fn parse(stdout: &str) -> Vec<(String, Showed)> {
    let mut order = Vec::new();
    let mut status = HashMap::new();
    let mut sections: HashMap<String, Vec<&str>> = HashMap::new();
    let mut current: Option<String> = None;
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("test ") {
            if let Some((name, result)) = rest.split_once(" ... ") {
                if result == "ok" || result == "FAILED" {
                    order.push(name.to_owned());
                    status.insert(name.to_owned(), result == "ok");
                }
                current = None;
                continue;
            }
        }
        if let Some(name) = line
            .strip_prefix("---- ")
            .and_then(|l| l.strip_suffix(" stdout ----"))
        {
            current = Some(name.to_owned());
            continue;
        }
        if line == "successes:" || line == "failures:" {
            current = None;
            continue;
        }
        if let Some(name) = &current {
            sections.entry(name.clone()).or_default().push(line);
        }
    }
    order
        .into_iter()
        .map(|name| {
            let lines = sections.get(&name).cloned().unwrap_or_default();
            let after = |prefix: &str| {
                lines
                    .iter()
                    .find_map(|l| l.strip_prefix(prefix))
                    .map(str::to_owned)
            };
            let showed = if status[&name] {
                match (after("skipped: "), after("shown: ")) {
                    (Some(why), _) => Showed::Skipped(why),
                    (None, Some(what)) => Showed::Passed(what),
                    (None, None) => Showed::Passed("(it printed nothing)".to_owned()),
                }
            } else {
                let message = lines
                    .iter()
                    .skip_while(|l| !l.contains("panicked at"))
                    .nth(1)
                    .map(|l| l.trim().to_owned())
                    .unwrap_or_else(|| "(no message)".to_owned());
                Showed::Failed(message)
            };
            (name, showed)
        })
        .collect()
}

/// Each fact's claim: the first sentence block of the doc comment above its `fn`.
pub fn claims(source: &str) -> HashMap<String, String> {
    let mut claims = HashMap::new();
    let mut doc: Vec<&str> = Vec::new();
    for line in source.lines() {
        let line = line.trim();
        if let Some(text) = line.strip_prefix("///") {
            doc.push(text.trim());
        } else if let Some(rest) = line.strip_prefix("fn ") {
            let name = rest.split(['(', '<']).next().unwrap_or("");
            if !doc.is_empty() {
                claims.insert(name.to_owned(), doc.join(" "));
            }
            doc.clear();
        } else if !line.starts_with("#[") {
            doc.clear();
        }
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A passed, a skipped and a failed fact are told apart, in the order they ran.
    #[test]
    fn each_fact_is_passed_skipped_or_failed() {
        let stdout = "\
running 3 tests
test b_fact ... ok
test a_fact ... FAILED
test c_fact ... ok
test fact_helper ... ignored, the child process

successes:

---- b_fact stdout ----
shown: 1024 faults

---- c_fact stdout ----
skipped: needs root


successes:
    b_fact
    c_fact

failures:

---- a_fact stdout ----

thread 'a_fact' panicked at tests/facts.rs:1:1:
it did not hold
";
        assert_eq!(
            parse(stdout),
            vec![
                (
                    "b_fact".to_owned(),
                    Showed::Passed("1024 faults".to_owned())
                ),
                (
                    "a_fact".to_owned(),
                    Showed::Failed("it did not hold".to_owned())
                ),
                (
                    "c_fact".to_owned(),
                    Showed::Skipped("needs root".to_owned())
                ),
            ]
        );
    }

    /// A fact's claim is its doc comment, joined into one line.
    #[test]
    fn a_facts_claim_is_its_doc_comment() {
        let source = "\
/// Unlink keeps
/// the memory.
#[test]
fn unlink_keeps() {}

fn helper() {}
";
        let claims = claims(source);
        assert_eq!(claims["unlink_keeps"], "Unlink keeps the memory.");
        assert!(!claims.contains_key("helper"));
    }
}
