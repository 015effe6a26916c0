//! The runner (`cargo run`) itself, on a small kata made for the purpose: a crate with
//! no dependencies and three one-line exercises, in a temporary directory with its own
//! target directory. Exercise 01 is solved, 02 has a wrong answer, 03 is an untouched
//! `todo!()` stub without a hint; `stubs/` holds the three untouched stubs.
//!
//! These tests run the runner binary as a learner would, and pass with and without
//! `--features solutions` (the fixture's exercises do not depend on it).

// No exercise: a worker of these tests can only say which one it lacks.
shm_kata::exercises!();

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Finished, Scratch, run_bounded, run_bounded_with_input};
use shm_kata::SegmentDir;
use shm_kata::scratch::{self, ScratchDir};

/// Exercise 02 of the fixture, never finishing: endless, but asleep, since a spinning loop
/// would take a core from the tests beside it.
const ENDLESS_TWO: &str = "// TODO\npub fn two() -> u32 {\n    loop {\n        \
    std::thread::sleep(std::time::Duration::from_secs(1));\n    }\n}\n";

/// Building the fixture takes a second or two; the first build of this crate's own
/// worker, in the demo test, is already done by `cargo test`.
const LIMIT: Duration = Duration::from_secs(180);

const INFO: &str = r#"
[[exercises]]
number = 1
name = "one"
file = "exercises/01_one.rs"
test = "01_one"
nudge = "Return 1."
shape = "A function that returns 1."
steps = "Replace the `todo!()` with `1`."

[[exercises]]
number = 2
name = "two"
file = "exercises/02_two.rs"
test = "02_two"
nudge = "The answer is 42, not 41."
shape = "A function that returns 42."
steps = "Replace `41` with `42`."

[[exercises]]
number = 3
name = "three"
file = "exercises/03_three.rs"
test = "03_three"
"#;

const SOLVED_ONE: &str = "// TODO: return 1.\npub fn one() -> u32 {\n    1\n}\n";
const STUB_ONE: &str =
    "// TODO: return 1.\npub fn one() -> u32 {\n    todo!(\"01 one: return 1\")\n}\n";
const WRONG_TWO: &str = "// TODO: the answer.\npub fn two() -> u32 {\n    41\n}\n";
const STUB_TWO: &str =
    "// TODO: the answer.\npub fn two() -> u32 {\n    todo!(\"02 two: the answer\")\n}\n";
const STUB_THREE: &str =
    "// TODO: return 3.\npub fn three() -> u32 {\n    todo!(\"03 three: return 3\")\n}\n";

/// The fixture's corpus of wrong answers: one mistake of 02, caught by its first test.
const CORPUS_TWO: &str = "[[wrong]]\nname = \"off-by-one\"\nmistake = \"one less than the \
    answer\"\ncaught_by = \"the_answer_is_right\"\nedits = [{ replace = \"42\", with = \"41\" }]\n";

/// A kata in a scratch directory of its own (`target/tmp`); everything is removed when
/// it is dropped, or by the next run if this one is interrupted.
struct Fixture {
    _scratch: Scratch,
    root: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let scratch = Scratch::new();
        let root = scratch.path().join("kata");
        let fixture = Fixture {
            _scratch: scratch,
            root,
        };
        fixture.write(
            "Cargo.toml",
            "[package]\nname = \"kata-fixture\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
             [features]\nsolutions = []\n\n[workspace]\n",
        );
        fixture.write(
            "src/lib.rs",
            "#[cfg_attr(feature = \"solutions\", path = \"../solutions/mod.rs\")]\n\
             #[cfg_attr(not(feature = \"solutions\"), path = \"../exercises/mod.rs\")]\n\
             mod kata;\npub use kata::*;\n",
        );
        let modules = "#[path = \"01_one.rs\"]\npub mod one;\n#[path = \"02_two.rs\"]\npub mod two;\n\
                       #[path = \"03_three.rs\"]\npub mod three;\n";
        fixture.write("exercises/mod.rs", modules);
        fixture.write("exercises/info.toml", INFO);
        fixture.write("exercises/01_one.rs", SOLVED_ONE);
        fixture.write("exercises/02_two.rs", WRONG_TWO);
        fixture.write("exercises/03_three.rs", STUB_THREE);
        fixture.write("stubs/01_one.rs", STUB_ONE);
        fixture.write("stubs/02_two.rs", STUB_TWO);
        fixture.write("stubs/03_three.rs", STUB_THREE);
        fixture.write("solutions/mod.rs", modules);
        fixture.write("solutions/01_one.rs", "pub fn one() -> u32 {\n    1\n}\n");
        fixture.write("solutions/02_two.rs", "pub fn two() -> u32 {\n    42\n}\n");
        fixture.write(
            "solutions/03_three.rs",
            "pub fn three() -> u32 {\n    3\n}\n",
        );
        for (test, call, want) in [
            ("01_one", "one::one", 1),
            ("02_two", "two::two", 42),
            ("03_three", "three::three", 3),
        ] {
            fixture.write(
                &format!("tests/{test}.rs"),
                &format!(
                    "#[test]\nfn the_answer_is_right() {{\n    \
                     assert_eq!(kata_fixture::{call}(), {want}, \"answer should be {want}\");\n}}\n\n\
                     #[test]\nfn the_answer_is_right_twice() {{\n    \
                     assert_eq!(kata_fixture::{call}() * 2, {want} * 2);\n}}\n"
                ),
            );
        }
        fixture
    }

    fn root(&self) -> &Path {
        &self.root
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.root().join(file))
            .unwrap_or_else(|e| panic!("cannot read {file}: {e}"))
    }

    /// The files in `.kata/attempts/`, as (name, text).
    fn attempts(&self) -> Vec<(String, String)> {
        let Ok(entries) = std::fs::read_dir(self.root().join(".kata/attempts")) else {
            return Vec::new();
        };
        let mut kept: Vec<(String, String)> = entries
            .flatten()
            .map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                (name, std::fs::read_to_string(entry.path()).unwrap())
            })
            .collect();
        kept.sort();
        kept
    }

    fn write(&self, file: &str, text: &str) {
        let path = self.root().join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("cannot write {file}: {e}"));
    }

    /// `verify`, watching the fixture's own segment directory for leftovers (other
    /// programs on this machine may come and go in /dev/shm meanwhile).
    fn verify(&self) -> Finished {
        let shm = self.root().join("shm");
        std::fs::create_dir_all(&shm).unwrap();
        self.runner(&["verify", "--shm-dir", shm.to_str().unwrap()])
    }

    /// Makes the fixture sound: stubs that fail, a hint for every exercise.
    fn make_sound(&self) {
        self.write("exercises/01_one.rs", STUB_ONE);
        self.write("exercises/02_two.rs", STUB_TWO);
        self.write("wrong-answers/02_two.toml", CORPUS_TWO);
        self.write(
            "exercises/info.toml",
            &format!("{INFO}nudge = \"Return 3.\"\nshape = \"Three.\"\nsteps = \"`3`\"\n"),
        );
    }

    /// The runner, on this kata, with the fixture's own target directory.
    fn runner(&self, args: &[&str]) -> Finished {
        let command = self.command(args);
        run_bounded(command, LIMIT, &format!("shm-kata {}", args.join(" ")))
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_shm-kata"));
        command
            .arg("--root")
            .arg(self.root())
            // The fixture's exercises, even when this runner was built with the solutions.
            .args(["--tree", "exercises"])
            .args(args)
            .env("CARGO_TARGET_DIR", self.root().join("target"))
            .env("NO_COLOR", "1");
        command
    }
}

fn stdout(finished: &Finished) -> String {
    String::from_utf8_lossy(&finished.stdout).into_owned()
}

/// The line of the overview about one exercise.
fn state_of<'a>(overview: &'a str, title: &str) -> &'a str {
    overview
        .lines()
        .find(|line| line.contains(title))
        .unwrap_or_else(|| panic!("the overview has no line for {title}:\n{overview}"))
}

#[test]
fn the_overview_tells_done_failing_and_not_started_apart() {
    let fixture = Fixture::new();
    let run = fixture.runner(&[]);
    let out = stdout(&run);
    assert!(
        run.status.success(),
        "the overview should exit 0:\n{out}\n{}",
        run.stderr
    );
    assert!(
        state_of(&out, "01 one").ends_with("done"),
        "a solved exercise is done:\n{out}"
    );
    assert!(
        state_of(&out, "02 two").contains("failing"),
        "a wrong answer is failing:\n{out}"
    );
    assert!(
        state_of(&out, "03 three").ends_with("not started"),
        "a todo!() stub is not started:\n{out}"
    );
    assert!(
        out.contains("1/3 done"),
        "the progress counts the done ones:\n{out}"
    );
    assert!(
        out.contains("Next: 02 two"),
        "the next exercise is the first unfinished one:\n{out}"
    );
    assert!(
        out.contains("exercises/02_two.rs") && out.contains("cargo test --test 02_two"),
        "the next exercise's file and test command are shown:\n{out}"
    );
    assert!(
        out.contains("answer should be 42"),
        "the first failure's message is shown:\n{out}"
    );
    assert!(
        !out.contains("RUST_BACKTRACE"),
        "no backtrace noise:\n{out}"
    );
    assert!(
        !out.contains('\u{1b}'),
        "NO_COLOR and a pipe mean no escape codes:\n{out}"
    );
    assert!(
        run.stderr.contains("building"),
        "a long step says it is working:\n{}",
        run.stderr
    );
}

#[test]
fn the_overview_says_when_everything_is_done() {
    let fixture = Fixture::new();
    fixture.write(
        "exercises/02_two.rs",
        "// TODO\npub fn two() -> u32 {\n    42\n}\n",
    );
    fixture.write(
        "exercises/03_three.rs",
        "// TODO\npub fn three() -> u32 {\n    3\n}\n",
    );
    let out = stdout(&fixture.runner(&[]));
    assert!(out.contains("3/3 done"), "{out}");
    assert!(
        out.contains("All 3 exercises done") && out.contains("-- demo"),
        "the end points to the demo:\n{out}"
    );
}

#[test]
fn a_compile_error_is_reported_once_with_its_message() {
    let fixture = Fixture::new();
    fixture.write(
        "exercises/02_two.rs",
        "pub fn two() -> u32 {\n    \"forty-two\"\n}\n",
    );
    let out = stdout(&fixture.runner(&[]));
    assert!(out.contains("does not compile"), "{out}");
    assert!(
        out.contains("exercises/02_two.rs") && out.contains("mismatched types"),
        "the first compiler error, with its file:\n{out}"
    );
}

#[test]
fn an_endless_loop_is_stopped_and_reported_as_failing() {
    let fixture = Fixture::new();
    fixture.write("exercises/02_two.rs", ENDLESS_TWO);
    let mut command = fixture.command(&[]);
    command.env("SHM_KATA_TEST_TIMEOUT", "3");
    let run = run_bounded(command, LIMIT, "shm-kata on an endless loop");
    let out = stdout(&run);
    assert!(state_of(&out, "02 two").ends_with("failing"), "{out}");
    assert!(
        out.contains("did not finish within 3 s"),
        "the timeout is explained:\n{out}"
    );
    assert!(
        state_of(&out, "03 three").ends_with("not started"),
        "the next ones still run:\n{out}"
    );
}

#[test]
fn hint_prints_the_hint_of_a_valid_exercise() {
    let fixture = Fixture::new();
    for which in ["2", "two"] {
        let run = fixture.runner(&["hint", which]);
        assert!(run.status.success(), "hint {which}: {}", run.stderr);
        assert!(
            stdout(&run).contains("The answer is 42, not 41."),
            "hint {which}:\n{}",
            stdout(&run)
        );
    }
}

#[test]
fn hint_levels_go_from_a_nudge_to_the_shape_to_the_steps_each_naming_the_next() {
    let fixture = Fixture::new();
    let levels = [
        (
            vec!["hint", "2"],
            "The answer is 42, not 41.",
            "cargo run -- hint 2 2",
        ),
        (
            vec!["hint", "2", "2"],
            "A function that returns 42.",
            "cargo run -- hint 2 3",
        ),
        (
            vec!["hint", "two", "3"],
            "Replace `41` with `42`.",
            "cargo run -- skip 2",
        ),
    ];
    for (args, text, next) in levels {
        let run = fixture.runner(&args);
        let out = stdout(&run);
        assert!(run.status.success(), "{args:?}: {}", run.stderr);
        assert!(out.contains(text), "{args:?} shows its level:\n{out}");
        assert!(
            out.contains(next),
            "{args:?} names what comes next, {next}:\n{out}"
        );
    }
    let run = fixture.runner(&["hint", "2", "4"]);
    assert!(
        !run.status.success() && run.stderr.contains("1..=3"),
        "a level past the last is refused, naming the levels:\n{}",
        run.stderr
    );
}

#[test]
fn hint_for_an_unknown_exercise_is_an_error_listing_the_valid_ones() {
    let fixture = Fixture::new();
    let run = fixture.runner(&["hint", "7"]);
    assert!(
        !run.status.success(),
        "an unknown exercise must exit non-zero"
    );
    assert!(
        run.stderr.contains("no exercise \"7\"")
            && run.stderr.contains("1 (one), 2 (two), 3 (three)"),
        "the error lists the valid exercises:\n{}",
        run.stderr
    );
}

#[test]
fn verify_catches_a_stub_that_passes_and_a_missing_hint() {
    let fixture = Fixture::new();
    fixture.write("stubs/01_one.rs", SOLVED_ONE);
    let run = fixture.verify();
    let out = stdout(&run);
    assert!(
        !run.status.success(),
        "verify must fail on a broken kata:\n{out}"
    );
    assert!(
        out.contains("01 one: passes on the untouched stub") && out.contains("the_answer_is_right"),
        "a stub that passes its tests is named, with the tests:\n{out}"
    );
    assert!(
        out.contains("03 three: no hint"),
        "a missing hint is reported:\n{out}"
    );
    assert!(
        !out.contains("02 two: passes"),
        "a wrong stub fails its tests, which is fine:\n{out}"
    );
    assert!(
        out.contains("cannot read the corpus"),
        "a kata without its corpus of wrong answers is told so:\n{out}"
    );
}

/// The stubs are judged by `stubs/`, never by what a learner wrote in `exercises/`; each
/// wrong answer must be caught by the test it names, and a stale edit is refused by name.
#[test]
fn verify_judges_the_untouched_stubs_and_each_wrong_answer_by_its_test() {
    let fixture = Fixture::new();
    fixture.make_sound();
    fixture.write("exercises/01_one.rs", SOLVED_ONE);
    fixture.write(
        "wrong-answers/02_two.toml",
        &format!(
            "{CORPUS_TWO}\n[[wrong]]\nname = \"gone\"\nmistake = \"m\"\n\
             caught_by = \"the_answer_is_right\"\nedits = [{{ replace = \"43\", with = \"41\" }}]\n"
        ),
    );
    let run = fixture.verify();
    let out = stdout(&run);
    assert!(
        out.contains("01 one: all 2 tests fail on the stub")
            && !out.contains("passes on the untouched stub"),
        "a learner's solved exercise is not the stub:\n{out}"
    );
    assert!(
        out.contains("stale: 02_two/gone: solutions/02_two.rs changed here"),
        "an edit whose text is gone is refused by name:\n{out}"
    );
    assert!(
        out.contains("wrong answers: 1 of 1 caught"),
        "the other one is caught by its test:\n{out}"
    );
    assert!(!run.status.success(), "a stale edit fails verify:\n{out}");
}

#[test]
fn verify_passes_a_sound_kata() {
    let fixture = Fixture::new();
    fixture.make_sound();
    let run = fixture.verify();
    let out = stdout(&run);
    assert!(
        run.status.success(),
        "verify should pass:\n{out}\n{}",
        run.stderr
    );
    assert!(
        out.contains("all 2 tests fail on the stub")
            && out.contains("all 2 tests pass on the solution")
            && out.contains("wrong answers: 1 of 1 caught"),
        "{out}"
    );
}

#[test]
fn watch_manual_shows_the_current_exercise_and_stops_at_the_end_of_input() {
    let fixture = Fixture::new();
    let run = fixture.runner(&["watch", "--manual"]);
    let out = stdout(&run);
    assert!(run.status.success(), "{out}\n{}", run.stderr);
    assert!(
        out.contains("01 one done"),
        "a done exercise is passed over:\n{out}"
    );
    assert!(
        out.contains("02 two") && out.contains("answer should be 42"),
        "the current exercise and its failure are shown:\n{out}"
    );
    assert!(out.contains("press Enter to re-run"), "{out}");
}

#[test]
fn each_h_in_watch_shows_the_next_hint_level_and_the_last_level_repeats() {
    let fixture = Fixture::new();
    let keys = fixture.root().join("keys");
    std::fs::write(&keys, "h\nh\nh\nh\n").unwrap();
    let input = std::fs::File::open(&keys).unwrap();
    let run = run_bounded_with_input(
        fixture.command(&["watch", "--manual"]),
        input.into(),
        LIMIT,
        "shm-kata watch --manual, with four h",
    );
    let out = stdout(&run);
    assert!(run.status.success(), "{out}\n{}", run.stderr);
    let levels: Vec<&str> = out
        .lines()
        .filter_map(|line| line.split_once("(level ")?.1.split_once(' '))
        .map(|(level, _)| level)
        .collect();
    assert_eq!(
        levels,
        ["1", "2", "3", "3"],
        "h, h, h, h should show levels 1, 2, 3 and 3 again:\n{out}"
    );
}

#[test]
fn the_demo_runs_the_compiled_code_or_names_the_exercise_to_finish() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_shm-kata"));
    // Not through cargo: the demo uses the worker this test build made, next to it.
    command
        .args(["demo", "--len", "10000", "--workers", "3"])
        .env_remove("CARGO")
        .env("NO_COLOR", "1");
    let run = run_bounded(command, LIMIT, "shm-kata demo");
    let out = stdout(&run);
    // With the solutions, or once the learner has finished every exercise, it runs.
    if cfg!(feature = "solutions") || run.status.success() {
        assert!(run.status.success(), "{out}\n{}", run.stderr);
        assert!(out.contains("all 10,000 words are right"), "{out}");
        assert!(out.contains("3 worker processes"), "{out}");
    } else {
        assert!(
            run.stderr.contains("is not finished yet"),
            "a failed demo names the exercise to finish:\n{}",
            run.stderr
        );
        assert!(
            !run.stderr.contains("panicked"),
            "no raw panic:\n{}",
            run.stderr
        );
    }
    let segment = out
        .split_whitespace()
        .chain(run.stderr.split_whitespace())
        .find(|word| word.starts_with("/dev/shm/shm-kata-demo-"))
        .map(|word| word.trim_end_matches([',', '.']));
    if let Some(segment) = segment {
        assert!(
            !Path::new(segment).exists(),
            "the demo must remove {segment}"
        );
    }
}

#[test]
fn verify_judges_only_what_its_own_runs_made() {
    let fixture = Fixture::new();
    fixture.make_sound();
    // Another kata run, live the whole time, in the same target directory, and files other
    // programs made in /tmp and the segment directory, some named like the kata's.
    let other_run = ScratchDir::new(&fixture.root().join("target").join("tmp"))
        .expect("cannot make the other run's scratch directory");
    std::fs::write(other_run.path().join("segment"), b"busy").unwrap();
    let shm = fixture.root().join("shm");
    std::fs::create_dir_all(&shm).unwrap();
    let strangers = [shm.join("shm-kata-test-another-user"), shm.join("psm_1234")];
    for file in &strangers {
        std::fs::write(file, b"not verify's").unwrap();
    }
    // Some of them appear while verify runs, once it has said its first line.
    let mut child = fixture
        .command(&["verify", "--shm-dir", shm.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start verify");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let late = shm.join("shm-kata-test-late-arrival");
    std::fs::write(&late, b"not verify's").unwrap();
    let later_run = ScratchDir::new(&fixture.root().join("target").join("tmp")).unwrap();
    let reader = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut out, &mut rest);
        rest
    });
    let status = common::wait_bounded(&mut child, LIMIT, "shm-kata verify");
    let out = first + &reader.join().unwrap();
    drop(later_run);
    assert!(
        status.success(),
        "verify must not blame the kata for files it did not make:\n{out}"
    );
    assert!(
        other_run.path().join("segment").exists() && strangers.iter().all(|f| f.exists()),
        "verify must never remove what another live run or program holds"
    );
}

#[test]
fn verify_names_what_its_own_runs_left_behind() {
    let fixture = Fixture::new();
    fixture.make_sound();
    // A solution whose test leaves a directory in its scratch root and a name in the
    // segment directory, as a test without cleanup would.
    fixture.write(
        "tests/03_three.rs",
        "#[test]\nfn the_answer_is_right() {\n    \
         let root = std::env::var(\"SHM_KATA_SCRATCH\").expect(\"verify sets it\");\n    \
         let root = std::path::Path::new(&root);\n    \
         let _ = std::fs::create_dir(root.join(\"shm-kata-test-forgotten\"));\n    \
         let tag = root.file_name().unwrap().to_str().unwrap();\n    \
         let shm = std::env::var(\"FIXTURE_SHM\").unwrap();\n    \
         std::fs::write(format!(\"{shm}/{tag}-forgotten\"), b\"x\").unwrap();\n    \
         assert_eq!(kata_fixture::three::three(), 3);\n}\n",
    );
    let shm = fixture.root().join("shm");
    std::fs::create_dir_all(&shm).unwrap();
    let mut command = fixture.command(&["verify", "--shm-dir", shm.to_str().unwrap()]);
    command.env("FIXTURE_SHM", &shm);
    let run = run_bounded(command, LIMIT, "shm-kata verify");
    let out = stdout(&run);
    assert!(
        !run.status.success(),
        "verify must fail on leftovers:\n{out}"
    );
    assert!(
        out.contains("test directories left behind") && out.contains("shm-kata-test-forgotten"),
        "a directory left in its scratch root is named:\n{out}"
    );
    assert!(
        out.contains("left behind in") && out.contains("-forgotten"),
        "a name left in the segment directory is named:\n{out}"
    );
}

/// Starts this test binary again as [`helper_holding_a_scratch`], which makes a scratch
/// directory in `base` (and a recorded name in /dev/shm) and holds it until killed.
fn start_scratch_holder(base: &Path) -> (std::process::Child, PathBuf, String) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "helper_holding_a_scratch",
            "--ignored",
            "--nocapture",
        ])
        .args(["--test-threads", "1", "-q"])
        .env(HOLDER_BASE_ENV, base)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("cannot start the helper process");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines
        .find_map(|line| line.ok()?.strip_prefix("holding ").map(str::to_owned))
        .expect("the helper process should say which scratch it holds");
    let (path, name) = line.split_once(' ').unwrap();
    (child, PathBuf::from(path), name.to_owned())
}

const HOLDER_BASE_ENV: &str = "SHM_KATA_TEST_HOLDER_BASE";

/// Not a test: the process [`start_scratch_holder`] starts.
#[test]
#[ignore = "a helper process of the scratch tests, started by them"]
fn helper_holding_a_scratch() {
    let Some(base) = std::env::var_os(HOLDER_BASE_ENV) else {
        return;
    };
    let held = ScratchDir::new(Path::new(&base)).unwrap();
    let name = format!("{}{}-holder", scratch::system_prefix(), held.id());
    let system = SegmentDir::system();
    std::fs::write(system.join(&name), b"held").unwrap();
    held.record_system_name(system.path(), &name).unwrap();
    println!("holding {} {name}", held.path().display());
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line); // until killed
}

#[test]
fn a_scratch_whose_owner_was_killed_is_removed_by_the_next_sweep() {
    let base = Scratch::new();
    let (mut holder, held, name) = start_scratch_holder(base.path());
    holder.kill().unwrap(); // SIGKILL: no cleanup runs
    holder.wait().unwrap();
    assert!(
        held.exists(),
        "the killed holder could not remove its scratch"
    );
    assert_eq!(scratch::sweep(base.path()), 1, "one dead scratch to remove");
    assert!(!held.exists(), "the dead run's scratch must be removed");
    assert!(
        !SegmentDir::system().join(&name).exists(),
        "the dead run's recorded /dev/shm/{name} must be removed"
    );
}

#[test]
fn a_live_scratch_is_never_removed() {
    let base = Scratch::new();
    let (mut holder, held, name) = start_scratch_holder(base.path());
    let swept = scratch::sweep(base.path());
    let kept = held.exists() && SegmentDir::system().join(&name).exists();
    holder.kill().unwrap();
    holder.wait().unwrap();
    scratch::sweep(base.path());
    assert_eq!(swept, 0, "a live scratch is not dead");
    assert!(
        kept,
        "a sweep must never remove a live run's scratch or its names"
    );
}

#[test]
fn a_recorded_name_that_now_names_another_file_is_left_alone() {
    let base = Scratch::new();
    let (mut holder, held, name) = start_scratch_holder(base.path());
    holder.kill().unwrap();
    holder.wait().unwrap();
    // Somebody else removed the dead run's file and made a new one under the same name.
    let path = SegmentDir::system().join(&name);
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, b"someone else's").unwrap();
    scratch::sweep(base.path());
    let kept = path.exists();
    let _ = std::fs::remove_file(&path);
    assert!(!held.exists(), "the dead run's scratch must be removed");
    assert!(
        kept,
        "a sweep must never remove a file the dead run did not make"
    );
}

/// `verify`'s root is a scratch directory, and its tests make theirs inside it. A runner
/// killed by a signal it does not pass on leaves its `cargo` (and the tests) running: the
/// root is dead, the tests' scratch directories inside it are not.
#[test]
fn a_live_scratch_inside_a_dead_one_is_never_removed() {
    let base = Scratch::new();
    let (mut outer_holder, outer, _) = start_scratch_holder(base.path());
    let (mut inner_holder, inner, inner_name) = start_scratch_holder(&outer);
    outer_holder.kill().unwrap();
    outer_holder.wait().unwrap();
    scratch::sweep(base.path());
    let kept = inner.exists() && SegmentDir::system().join(&inner_name).exists();
    inner_holder.kill().unwrap();
    inner_holder.wait().unwrap();
    scratch::sweep(base.path());
    assert!(
        kept,
        "a sweep removed a live scratch (or its /dev/shm name) nested in a dead one"
    );
    assert!(
        !outer.exists() && !SegmentDir::system().join(&inner_name).exists(),
        "once the nested scratch is dead too, the next sweep removes all of it"
    );
}

/// Beside a live nested scratch, what is dead in a dead scratch still goes: the dead
/// nested scratch directories, the names they recorded, and loose files.
#[test]
fn the_dead_parts_around_a_live_nested_scratch_are_removed() {
    let base = Scratch::new();
    let (mut outer_holder, outer, _) = start_scratch_holder(base.path());
    let (mut live_holder, live, _) = start_scratch_holder(&outer);
    let (mut dead_holder, dead, dead_name) = start_scratch_holder(&outer);
    std::fs::write(outer.join("loose"), b"left").unwrap();
    for holder in [&mut outer_holder, &mut dead_holder] {
        holder.kill().unwrap();
        holder.wait().unwrap();
    }
    scratch::sweep(base.path());
    let (live_kept, dead_gone) = (live.exists(), !dead.exists());
    let (name_gone, loose_gone) = (
        !SegmentDir::system().join(&dead_name).exists(),
        !outer.join("loose").exists(),
    );
    live_holder.kill().unwrap();
    live_holder.wait().unwrap();
    scratch::sweep(base.path());
    assert!(live_kept, "a sweep removed a live nested scratch");
    assert!(
        dead_gone,
        "a dead scratch nested in a dead one must be removed"
    );
    assert!(
        name_gone,
        "a dead nested scratch's /dev/shm/{dead_name} must be removed"
    );
    assert!(loose_gone, "a loose file in a dead scratch must be removed");
}

/// Sweeps `base` on a thread of its own; fails the test if the sweep has not returned
/// within seconds, which means it waits (or reads) without end because of `what`.
fn sweep_bounded(base: &Path, what: &str) -> usize {
    let (done, swept) = std::sync::mpsc::channel();
    let base = base.to_owned();
    std::thread::spawn(move || done.send(scratch::sweep(&base)));
    swept
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("a sweep did not return within 20s, stuck on {what}"))
}

/// A dead scratch whose record of a system name is a FIFO: reading it would wait for a
/// writer forever, and every later run's sweep with it.
#[test]
fn a_sweep_passes_over_a_record_that_is_a_fifo() {
    let base = Scratch::new();
    let records = base
        .path()
        .join(format!("{}dead", scratch::PREFIX))
        .join("system-names");
    std::fs::create_dir_all(&records).unwrap();
    nix::unistd::mkfifo(&records.join("name"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    let swept = sweep_bounded(
        base.path(),
        "a record that is a FIFO (opened to read, it waits for a writer)",
    );
    assert_eq!(
        swept, 1,
        "the dead scratch with a FIFO record must still be removed"
    );
}

/// A record that is a symlink (here to `/dev/zero`, which never ends) is not followed.
#[test]
fn a_sweep_never_follows_a_record_that_is_a_symlink() {
    let base = Scratch::new();
    let records = base
        .path()
        .join(format!("{}dead", scratch::PREFIX))
        .join("system-names");
    std::fs::create_dir_all(&records).unwrap();
    std::os::unix::fs::symlink("/dev/zero", records.join("name")).unwrap();
    let swept = sweep_bounded(
        base.path(),
        "a record that links to /dev/zero (read, it never ends)",
    );
    assert_eq!(
        swept, 1,
        "the dead scratch with a symlink record must still be removed"
    );
}

/// A dead scratch with a record that names a file outside the system segment directory,
/// with its right device and inode: the sweep removes the scratch, never that file.
#[test]
fn a_record_never_makes_the_sweep_remove_a_file_outside_the_system_directory() {
    use std::os::unix::fs::MetadataExt;
    let base = Scratch::new();
    let elsewhere = base.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let victim = elsewhere.join("precious");
    std::fs::write(&victim, b"keep").unwrap();
    let meta = std::fs::metadata(&victim).unwrap();
    let records = base
        .path()
        .join(format!("{}dead", scratch::PREFIX))
        .join("system-names");
    std::fs::create_dir_all(&records).unwrap();
    let record = format!("{} {}\n{}\n", meta.dev(), meta.ino(), elsewhere.display());
    std::fs::write(records.join("precious"), record).unwrap();
    assert_eq!(sweep_bounded(base.path(), "a planted record"), 1);
    assert!(
        victim.exists(),
        "a record naming a file outside /dev/shm made the sweep remove it"
    );
}

/// Another user's scratch directory, dead or not, and another user's record in one of
/// ours, are never trusted: a shared scratch root (`SHM_KATA_SCRATCH=/tmp`, say) must not
/// let anyone steer a sweep that runs as root. Needs root (to make files of another user).
#[test]
fn a_sweep_trusts_only_its_own_users_scratch_and_records() {
    use std::os::unix::fs::MetadataExt;
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: making files of another user needs root");
        return;
    }
    let nobody = Some(nix::unistd::Uid::from_raw(65534));
    let base = Scratch::new();
    let theirs = base.path().join(format!("{}theirs", scratch::PREFIX));
    std::fs::create_dir(&theirs).unwrap();
    nix::unistd::chown(&theirs, nobody, None).unwrap();
    // A file of ours in /dev/shm, and a record of it that another user wrote into a dead
    // scratch of ours.
    let system = SegmentDir::system();
    let name = format!("{}planted-{}", scratch::system_prefix(), std::process::id());
    let target = system.join(&name);
    std::fs::write(&target, b"ours").unwrap();
    let meta = std::fs::metadata(&target).unwrap();
    let records = base
        .path()
        .join(format!("{}dead", scratch::PREFIX))
        .join("system-names");
    std::fs::create_dir_all(&records).unwrap();
    let record = records.join(&name);
    let text = format!(
        "{} {}\n{}\n",
        meta.dev(),
        meta.ino(),
        system.path().display()
    );
    std::fs::write(&record, text).unwrap();
    nix::unistd::chown(&record, nobody, None).unwrap();
    let swept = sweep_bounded(base.path(), "another user's scratch and record");
    let kept = target.exists();
    let _ = std::fs::remove_file(&target);
    assert_eq!(swept, 1, "only our own dead scratch is removed");
    assert!(
        theirs.exists(),
        "another user's scratch directory was removed"
    );
    assert!(
        kept,
        "another user's record made the sweep remove a file in /dev/shm"
    );
    std::fs::remove_dir(&theirs).unwrap();
}

/// A dead scratch holding a symlink to a directory elsewhere: the sweep removes the
/// link, never what it points to.
#[test]
fn a_sweep_never_follows_a_symlink_out_of_a_dead_scratch() {
    let base = Scratch::new();
    let elsewhere = base.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("precious"), b"keep").unwrap();
    let dead = base.path().join(format!("{}dead", scratch::PREFIX));
    std::fs::create_dir(&dead).unwrap();
    std::os::unix::fs::symlink(&elsewhere, dead.join("link")).unwrap();
    assert_eq!(scratch::sweep(base.path()), 1, "one dead scratch to remove");
    assert!(!dead.exists(), "the dead scratch must be removed");
    assert!(
        elsewhere.join("precious").exists(),
        "a sweep followed a symlink and removed what it points to"
    );
}

#[test]
fn a_fifo_named_cargo_toml_above_the_current_directory_is_passed_over() {
    let scratch = Scratch::new();
    let fifo = scratch.path().join("Cargo.toml");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let below = scratch.path().join("below");
    std::fs::create_dir(&below).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_shm-kata"));
    command
        .args(["hint", "1"])
        .current_dir(&below)
        .env_remove("CARGO")
        .env("NO_COLOR", "1");
    let run = run_bounded(
        command,
        Duration::from_secs(20),
        "the runner's search for the kata's root, past a FIFO named Cargo.toml",
    );
    assert!(run.status.success(), "{}", run.stderr);
}

/// Not a test: the process [`a_workers_output_is_shown_under_the_test_that_started_it`]
/// starts. Its worker fails, and prints why.
#[test]
#[ignore = "a helper process of a runner test, started by it"]
fn helper_whose_worker_fails() {
    if std::env::var_os(HOLDER_BASE_ENV).is_none() {
        return;
    }
    common::use_this_builds_worker();
    let scratch = Scratch::new();
    let job = shm_kata::job::Job::Read {
        dir: scratch.dir.path().to_owned(),
        name: "nowhere".into(),
    };
    let result = shm_kata::worker::run_all([job]);
    panic!("the worker failed: {result:?}");
}

#[test]
fn a_workers_output_is_shown_under_the_test_that_started_it() {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", "helper_whose_worker_fails", "--ignored"])
        .env(HOLDER_BASE_ENV, "1");
    let run = run_bounded(command, LIMIT, "a test whose worker fails");
    let out = stdout(&run);
    let section = out
        .split_once("---- helper_whose_worker_fails stdout ----")
        .map(|(_, section)| section)
        .unwrap_or_else(|| panic!("the helper test should fail:\n{out}"));
    assert!(
        section.contains("shm-kata-worker: read") || section.contains("not yet implemented"),
        "the worker's message belongs in its test's captured output:\n{out}\n{}",
        run.stderr
    );
}

/// The processes whose working directory is `dir` or below it (read from /proc).
fn processes_working_in(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|entry| {
            entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.parse::<u32>().is_ok())
        })
        .filter(|entry| {
            std::fs::read_link(entry.path().join("cwd")).is_ok_and(|cwd| cwd.starts_with(dir))
        })
        .map(|entry| {
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            stat.split(' ').take(4).collect::<Vec<_>>().join(" ")
        })
        .collect()
}

#[test]
fn ctrl_c_stops_the_runner_and_everything_it_started() {
    let fixture = Fixture::new();
    fixture.write("exercises/02_two.rs", ENDLESS_TWO);
    let mut runner = fixture
        .command(&[])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start the runner");
    // Its progress lines go to stderr (not a terminal): wait until 02's endless test runs.
    let mut stderr = BufReader::new(runner.stderr.take().unwrap()).lines();
    let mut said = String::new();
    for line in stderr.by_ref() {
        let line = line.unwrap_or_default();
        said.push_str(&line);
        said.push('\n');
        if line.contains("running the tests of 02 two") {
            break;
        }
    }
    assert!(
        said.contains("running the tests of 02 two"),
        "the runner should say it runs 02's tests:\n{said}"
    );
    // Keep reading: a runner whose stderr is closed fails on its next line.
    let rest = std::thread::spawn(move || stderr.map_while(Result::ok).collect::<Vec<_>>());
    let pid = nix::unistd::Pid::from_raw(runner.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let status = common::wait_bounded(&mut runner, LIMIT, "the interrupted runner");
    let left = processes_working_in(fixture.root());
    let _ = rest.join();
    assert_eq!(
        status.code(),
        Some(130),
        "an interrupted runner exits with 130: {status:?}"
    );
    assert!(
        left.is_empty(),
        "the runner's cargo and the tests it started must be gone when it exits: {left:?}"
    );
}

const SOLUTION_TWO: &str = "pub fn two() -> u32 {\n    42\n}\n";

/// 02's tests, plus one that passes whatever `two` returns: a wrong answer passes 1 of 3.
fn with_a_test_that_passes(fixture: &Fixture) {
    fixture.write(
        "tests/02_two.rs",
        "#[test]\nfn two_returns() {\n    let _ = kata_fixture::two::two();\n}\n\n\
         #[test]\nfn the_answer_is_right() {\n    \
         assert_eq!(kata_fixture::two::two(), 42, \"answer should be 42\");\n}\n\n\
         #[test]\nfn the_answer_is_right_twice() {\n    \
         assert_eq!(kata_fixture::two::two() * 2, 84);\n}\n",
    );
}

#[test]
fn the_overview_counts_the_passing_tests_and_names_the_next_one() {
    let fixture = Fixture::new();
    with_a_test_that_passes(&fixture);
    let out = stdout(&fixture.runner(&[]));
    let two = state_of(&out, "02 two");
    assert!(
        two.contains("1/3") && two.contains("failing"),
        "a failing exercise says how many of its tests pass:\n{out}"
    );
    assert!(
        two.contains("next: the_answer_is_right"),
        "the current exercise names its next failing test:\n{out}"
    );
    assert!(state_of(&out, "01 one").contains("2/2"), "{out}");
    assert!(state_of(&out, "03 three").contains("0/2"), "{out}");
}

#[test]
fn after_a_pass_the_overview_points_to_the_reference_answer() {
    let fixture = Fixture::new();
    let out = stdout(&fixture.runner(&[]));
    assert!(
        out.contains("Passed 01 one: compare yours with solutions/01_one.rs"),
        "{out}"
    );
}

#[test]
fn list_shows_every_exercise_with_its_state_and_counts() {
    let fixture = Fixture::new();
    with_a_test_that_passes(&fixture);
    let run = fixture.runner(&["list"]);
    let out = stdout(&run);
    assert!(run.status.success(), "{out}\n{}", run.stderr);
    let line = |title| state_of(&out, title).split_whitespace().collect::<Vec<_>>();
    assert_eq!(line("01 one")[3..], ["2/2", "done"], "{out}");
    assert_eq!(line("02 two")[3..5], ["1/3", "failing"], "{out}");
    assert_eq!(line("03 three")[3..], ["0/2", "not", "started"], "{out}");
    assert!(out.contains("1/3 done"), "the progress:\n{out}");
    assert!(!out.contains("Next:"), "list shows no next step:\n{out}");
}

#[test]
fn reset_puts_back_the_untouched_stub_and_keeps_the_attempt() {
    let fixture = Fixture::new();
    let run = fixture.runner(&["reset", "2"]);
    let out = stdout(&run);
    assert!(run.status.success(), "{out}\n{}", run.stderr);
    assert_eq!(
        fixture.read("exercises/02_two.rs"),
        STUB_TWO,
        "reset must put back the stub from stubs/"
    );
    let kept = fixture.attempts();
    assert_eq!(kept.len(), 1, "one attempt kept: {kept:?}");
    let (name, text) = &kept[0];
    assert_eq!(text, WRONG_TWO, "the attempt is kept as it was");
    assert!(
        name.starts_with("02_two.") && name.ends_with(".rs"),
        "named after its exercise: {name}"
    );
    assert!(
        out.contains(&format!(".kata/attempts/{name}")),
        "reset says where the attempt is:\n{out}"
    );
}

#[test]
fn reset_of_an_untouched_stub_keeps_nothing() {
    let fixture = Fixture::new();
    let run = fixture.runner(&["reset", "three"]);
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(fixture.read("exercises/03_three.rs"), STUB_THREE);
    assert!(fixture.attempts().is_empty(), "{:?}", fixture.attempts());
    assert!(stdout(&run).contains("nothing to keep"), "{}", stdout(&run));
}

#[test]
fn resetting_twice_keeps_both_attempts() {
    let fixture = Fixture::new();
    assert!(fixture.runner(&["reset", "2"]).status.success());
    fixture.write(
        "exercises/02_two.rs",
        "// TODO\npub fn two() -> u32 {\n    40\n}\n",
    );
    assert!(fixture.runner(&["reset", "2"]).status.success());
    let kept: Vec<String> = fixture.attempts().into_iter().map(|(_, t)| t).collect();
    assert_eq!(kept.len(), 2, "no attempt overwrites another: {kept:?}");
    assert!(kept.contains(&WRONG_TWO.to_owned()), "{kept:?}");
}

#[test]
fn skip_puts_the_solution_in_keeps_the_attempt_and_reads_as_skipped() {
    let fixture = Fixture::new();
    let run = fixture.runner(&["skip", "2"]);
    let said = stdout(&run);
    assert!(run.status.success(), "{said}\n{}", run.stderr);
    assert_eq!(fixture.read("exercises/02_two.rs"), SOLUTION_TWO);
    let kept = fixture.attempts();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0].1, WRONG_TWO, "the attempt is kept as it was");
    assert!(
        said.contains(&format!(".kata/attempts/{}", kept[0].0)),
        "{said}"
    );
    let out = stdout(&fixture.runner(&[]));
    assert!(
        state_of(&out, "02 two").ends_with("skipped"),
        "a skipped exercise whose tests pass reads as skipped, not done:\n{out}"
    );
    assert!(
        out.contains("1/3 done, 1 skipped"),
        "the progress counts it apart:\n{out}"
    );
    assert!(out.contains("Next: 03 three"), "{out}");
}

/// `skip` never replaces an answer that passes every test unless told `--force`; what a
/// forced skip kept, `restore` brings back.
#[test]
fn skip_refuses_a_done_exercise_without_force_and_restore_brings_it_back() {
    let fixture = Fixture::new();
    let run = fixture.runner(&["skip", "1"]);
    assert!(
        !run.status.success() && run.stderr.contains("is done") && run.stderr.contains("--force"),
        "a skip of a passing answer must be refused, saying how to force it:\n{}\n{}",
        stdout(&run),
        run.stderr
    );
    assert_eq!(
        fixture.read("exercises/01_one.rs"),
        SOLVED_ONE,
        "nothing replaced"
    );
    assert!(fixture.attempts().is_empty(), "nothing kept either");
    let run = fixture.runner(&["skip", "1", "--force"]);
    assert!(run.status.success(), "{}", run.stderr);
    assert_ne!(fixture.read("exercises/01_one.rs"), SOLVED_ONE);
    let run = fixture.runner(&["restore", "1"]);
    assert!(run.status.success(), "{}\n{}", stdout(&run), run.stderr);
    assert_eq!(
        fixture.read("exercises/01_one.rs"),
        SOLVED_ONE,
        "restore puts back the attempt the skip kept"
    );
    let out = stdout(&fixture.runner(&["list"]));
    assert!(state_of(&out, "01 one").ends_with("done"), "{out}");
}

/// What `restore` and `reset` replace is kept when it is the learner's own text, and only
/// then; a file the learner deleted is no error.
#[test]
fn restore_and_reset_keep_the_learners_own_text_and_only_that() {
    let fixture = Fixture::new();
    assert!(fixture.runner(&["skip", "1", "--force"]).status.success());
    let newer = "// TODO: return 1.\npub fn one() -> u32 {\n    2 - 1\n}\n";
    fixture.write("exercises/01_one.rs", newer);
    let run = fixture.runner(&["restore", "1"]);
    assert!(
        run.status.success() && stdout(&run).contains("What it held is kept in"),
        "restore must keep the learner's newer text before it replaces it:\n{}\n{}",
        stdout(&run),
        run.stderr
    );
    assert_eq!(fixture.read("exercises/01_one.rs"), SOLVED_ONE);
    assert_eq!(
        fixture.attempts().len(),
        2,
        "the skipped answer and the newer one"
    );

    assert!(fixture.runner(&["skip", "1", "--force"]).status.success());
    let run = fixture.runner(&["reset", "1"]);
    assert!(
        stdout(&run).contains("held the reference answer"),
        "reset of a skipped exercise keeps nothing of the reference answer:\n{}\n{}",
        stdout(&run),
        run.stderr
    );
    std::fs::remove_file(fixture.root().join("exercises/01_one.rs")).unwrap();
    let run = fixture.runner(&["reset", "1"]);
    assert!(
        run.status.success() && stdout(&run).contains("It was missing"),
        "reset of a deleted exercise file puts the stub back:\n{}\n{}",
        stdout(&run),
        run.stderr
    );
}

#[test]
fn a_skipped_exercise_that_the_learner_rewrites_is_no_longer_skipped() {
    let fixture = Fixture::new();
    assert!(fixture.runner(&["skip", "2"]).status.success());
    fixture.write(
        "exercises/02_two.rs",
        "// mine\npub fn two() -> u32 {\n    6 * 7\n}\n",
    );
    let out = stdout(&fixture.runner(&["list"]));
    assert!(state_of(&out, "02 two").ends_with("done"), "{out}");
    assert!(
        out.contains("2/3 done") && !out.contains("skipped"),
        "{out}"
    );
}

#[test]
fn reset_takes_the_skip_back() {
    let fixture = Fixture::new();
    assert!(fixture.runner(&["skip", "2"]).status.success());
    let run = fixture.runner(&["reset", "2"]);
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(fixture.read("exercises/02_two.rs"), STUB_TWO);
    assert_eq!(
        fixture.attempts().len(),
        1,
        "the reference answer is not kept as an attempt: {:?}",
        fixture.attempts()
    );
    let out = stdout(&fixture.runner(&["list"]));
    assert!(
        state_of(&out, "02 two").contains("not started") && !out.contains("skipped"),
        "a reset exercise is not skipped any more:\n{out}"
    );
}

#[test]
fn a_learner_file_is_never_lost_when_its_copy_cannot_be_made() {
    let fixture = Fixture::new();
    // A file where the attempts directory should be: no copy can be made there.
    fixture.write(".kata/attempts", "in the way");
    for command in ["reset", "skip"] {
        let run = fixture.runner(&[command, "2"]);
        assert!(
            !run.status.success(),
            "{command} must fail when it cannot keep the learner's file"
        );
        assert!(
            run.stderr
                .contains("cannot keep a copy of exercises/02_two.rs")
                && run.stderr.contains("nothing was changed"),
            "{command} says why and that nothing changed:\n{}",
            run.stderr
        );
        assert_eq!(
            fixture.read("exercises/02_two.rs"),
            WRONG_TWO,
            "{command} must leave the learner's file untouched"
        );
    }
    let out = stdout(&fixture.runner(&["list"]));
    assert!(
        !out.contains("skipped"),
        "a failed skip marks nothing:\n{out}"
    );
}

#[test]
fn reset_and_skip_find_the_kata_from_a_subdirectory() {
    let fixture = Fixture::new();
    // Named like the kata, so the runner recognizes it walking up from `src/`.
    fixture.write(
        "Cargo.toml",
        "[package]\nname = \"shm-kata\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [lib]\nname = \"kata_fixture\"\n\n[features]\nsolutions = []\n\n[workspace]\n",
    );
    for (args, file, want) in [
        (["reset", "2"], "exercises/02_two.rs", STUB_TWO),
        (
            ["skip", "3"],
            "exercises/03_three.rs",
            "pub fn three() -> u32 {\n    3\n}\n",
        ),
    ] {
        let mut command = Command::new(env!("CARGO_BIN_EXE_shm-kata"));
        command
            .args(args)
            .current_dir(fixture.root().join("src"))
            .env_remove("CARGO_MANIFEST_DIR")
            .env("NO_COLOR", "1");
        let run = run_bounded(command, LIMIT, &format!("shm-kata {}", args.join(" ")));
        assert!(run.status.success(), "{}", run.stderr);
        assert_eq!(fixture.read(file), want, "{}", args.join(" "));
    }
}

#[test]
fn watch_n_starts_at_the_given_exercise() {
    let fixture = Fixture::new();
    let run = fixture.runner(&["watch", "--manual", "3"]);
    let out = stdout(&run);
    assert!(run.status.success(), "{out}\n{}", run.stderr);
    assert!(out.contains("03 three"), "{out}");
    assert!(
        !out.contains("02 two"),
        "watch 3 starts at 03, not at the first unfinished one:\n{out}"
    );
}

#[test]
fn watch_points_a_passed_exercise_to_its_reference_answer() {
    let fixture = Fixture::new();
    let out = stdout(&fixture.runner(&["watch", "--manual", "one"]));
    assert!(
        out.contains("01 one done") && out.contains("compare yours with solutions/01_one.rs"),
        "{out}"
    );
}

#[test]
fn verify_names_a_stub_that_differs_from_its_untouched_copy() {
    let fixture = Fixture::new();
    fixture.make_sound();
    fixture.write("stubs/03_three.rs", "// an older stub\n");
    let out = stdout(&fixture.verify());
    assert!(
        out.contains("exercises/03_three.rs differs from its untouched copy stubs/03_three.rs"),
        "{out}"
    );
}

#[test]
fn a_skipped_exercise_whose_tests_fail_says_so() {
    let fixture = Fixture::new();
    // As when its tests use an earlier exercise the learner has not finished.
    fixture.write("solutions/02_two.rs", "pub fn two() -> u32 {\n    41\n}\n");
    assert!(fixture.runner(&["skip", "2"]).status.success());
    let out = stdout(&fixture.runner(&["list"]));
    assert!(
        state_of(&out, "02 two").contains("skipped, failing"),
        "a skipped exercise that fails must not read as plainly skipped:\n{out}"
    );
}

/// `kill`, a closed terminal, a logout: SIGTERM and SIGHUP get what Ctrl-C gets. The
/// runner's `cargo` runs in a process group of its own, which no signal to the runner
/// reaches unless the runner passes it on.
#[test]
fn sigterm_and_sighup_stop_the_runner_and_everything_it_started() {
    use nix::sys::signal::Signal;
    let fixture = Fixture::new();
    fixture.write("exercises/02_two.rs", ENDLESS_TWO);
    for signal in [Signal::SIGTERM, Signal::SIGHUP] {
        let mut runner = fixture
            .command(&[])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start the runner");
        let mut stderr = BufReader::new(runner.stderr.take().unwrap()).lines();
        let started = stderr
            .by_ref()
            .map_while(Result::ok)
            .any(|line| line.contains("running the tests of 02 two"));
        let rest = std::thread::spawn(move || stderr.map_while(Result::ok).count());
        // Built and started: 02's endless test is running, in the group of the runner's cargo.
        let deadline = std::time::Instant::now() + LIMIT;
        while !processes_working_in(fixture.root())
            .iter()
            .any(|process| process.contains("(02_two"))
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        let pid = nix::unistd::Pid::from_raw(runner.id() as i32);
        nix::sys::signal::kill(pid, signal).unwrap();
        let status = common::wait_bounded(&mut runner, LIMIT, "the terminated runner");
        let left = processes_working_in(fixture.root());
        // A runner that did not pass the signal on left an endless test spinning: stop it.
        for process in &left {
            if let Some(Ok(pid)) = process.split(' ').next().map(str::parse) {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
        let _ = rest.join();
        assert!(started, "the runner should say it runs 02's tests");
        assert!(
            left.is_empty(),
            "after {signal}, the runner's cargo and the tests it started must be gone when it \
             exits ({status:?}): {left:?}"
        );
    }
}
