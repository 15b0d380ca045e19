//! The bad-input catalogue: every subcommand, flag, scenario key, report file and source
//! refuses bad input the same way — one line on stderr starting `error:` that names the
//! flag or file and says what is wrong or accepted, exit code 2, nothing on stdout, no
//! panic, and no file or shared-memory segment left behind.

use std::path::Path;
use std::process::{Command, Stdio};

use assert_cmd::cargo::CommandCargoExt as _;

/// One bad input: the arguments (`{dir}` is replaced by a scratch directory holding the
/// fixture files below) and the words the error line must contain.
struct Case {
    args: &'static str,
    says: &'static [&'static str],
}

const fn case(args: &'static str, says: &'static [&'static str]) -> Case {
    Case { args, says }
}

const CATALOGUE: &[Case] = &[
    // run: every flag
    case("run --consumers 0", &["--consumers", "at least 1"]),
    case(
        "run --consumers many",
        &["--consumers", "not a whole number"],
    ),
    case("run --consumers 100000", &["--consumers", "supported"]),
    case("run --fps 0", &["--fps", "above 0"]),
    case("run --fps fast", &["--fps", "not a number"]),
    case(
        "run --strategy lockfree",
        &["--strategy", "accepted: all, mutex"],
    ),
    case("run --resolution 12", &["--resolution"]),
    case("run --resolution 0x0", &["--resolution"]),
    case("run --format cmyk", &["--format"]),
    case("run --duration 0s", &["--duration", "above zero"]),
    case("run --duration forever", &["--duration"]),
    case("run --warmup soon", &["--warmup"]),
    case("run --workload dance", &["--workload"]),
    case(
        "run --consumers 2 --slow 3:sleep:1ms",
        &["--slow", "3 slow consumers"],
    ),
    case("run --slow many", &["--slow"]),
    case("run --wait nap", &["--wait"]),
    case("run --verify maybe", &["--verify"]),
    case("run --deadline-tolerance -1", &["--deadline-tolerance"]),
    case("run --pool-size 1", &["--pool-size", "at least 2"]),
    case("run --pool-policy shrink", &["--pool-policy"]),
    case("run --slots 1", &["--slots", "between 2"]),
    case(
        "run --slot-policy maybe",
        &["--slot-policy", "accepted: drop, wait"],
    ),
    case("run --waker bell", &["--waker", "accepted: futex, condvar"]),
    case("run --source-memory lots", &["--source-memory"]),
    case("run --export pdf", &["--export"]),
    case("run --frobnicate", &["--frobnicate"]),
    // run: output paths
    case(
        "run --json {dir}/missing/r.json",
        &["--json", "does not exist"],
    ),
    case("run --json {dir}", &["--json", "is a directory"]),
    // run: faults
    case("run --fault freeze:0@1s", &["--fault", "accepted: stall:"]),
    case("run --fault stall:0@1s", &["--fault", "accepted: stall:"]),
    case(
        "run --consumers 2 --fault stall:7@1s:1s",
        &["--fault", "no consumer 7"],
    ),
    case(
        "run --duration 2s --fault kill:0@10s",
        &["--fault", "inside the measured"],
    ),
    case("run --fault burst:@1s:1s:0", &["--fault", "burst fps"]),
    case(
        "run --consumers 1 --fault kill:0@1s",
        &["--fault", "every consumer"],
    ),
    // sources
    case("run --source webcam", &["--source"]),
    case("run --source y4m:{dir}/missing.y4m", &["missing.y4m"]),
    case("run --source y4m:{dir}/garbage.y4m", &["garbage.y4m"]),
    // scenarios: names, files, keys
    case("run --scenario no-such-scenario", &["no-such-scenario"]),
    case(
        "run --scenario {dir}/unknown-key.toml",
        &["unknown-key.toml", "consumerz"],
    ),
    case(
        "run --scenario {dir}/zero-consumers.toml",
        &["zero-consumers.toml", "consumers"],
    ),
    case("run --scenario {dir}/syntax.toml", &["syntax.toml"]),
    // sweep
    case("sweep --consumers 1,0", &["--consumers"]),
    case("sweep --fps 30,fast", &["--fps"]),
    // capacity
    case("capacity --slo-age soon", &["--slo-age"]),
    case("capacity --slo-age 0s", &["--slo-age", "above zero"]),
    case("capacity --budget forever", &["--budget"]),
    case("capacity --budget 0", &["--budget", "above zero"]),
    case(
        "capacity --find latency",
        &["--find", "accepted: fps, consumers"],
    ),
    case(
        "capacity --start 500 --max-fps 240",
        &["--start", "above --max-fps 240"],
    ),
    case(
        "capacity --find consumers --start 8 --max-consumers 4",
        &["--start", "--max-consumers"],
    ),
    case(
        "capacity --find consumers --start 1.5",
        &["--start", "whole number"],
    ),
    case("capacity --max-loss 2", &["--max-loss", "0% to 100%"]),
    case("capacity --max-loss lots", &["--max-loss", "percentage"]),
    case("capacity --precision 0%", &["--precision", "above 0%"]),
    case("capacity --max-pss lots", &["--max-pss"]),
    case("capacity --trials 0", &["--trials", "at least 1"]),
    case("capacity --export hgrm", &["--export", "accepted: md, csv"]),
    case("capacity --consumers 1,0", &["--consumers"]),
    case(
        "capacity --fps 60",
        &["--fps", "not used with --find fps", "--max-fps"],
    ),
    case(
        "capacity --find consumers --consumers 5",
        &["--consumers", "--max-consumers"],
    ),
    case(
        "capacity --scenario {dir}/capacity-budget.toml",
        &["capacity-budget.toml", "capacity.budget", "above zero"],
    ),
    case(
        "capacity --scenario {dir}/capacity-key.toml",
        &["capacity-key.toml", "capacity.budgett", "unknown key"],
    ),
    // report files
    case(
        "report {dir}/missing.json -o {dir}/out.html",
        &["missing.json", "cannot read"],
    ),
    case(
        "report {dir}/not-json.json -o {dir}/out.html",
        &["not-json.json"],
    ),
    case(
        "report {dir}/other-schema.json -o {dir}/out.html",
        &["other-schema.json", "schema"],
    ),
    case(
        "report {dir}/not-json.json -o {dir}/out.pdf",
        &["--output", "accepted: .html"],
    ),
    // soak
    case("soak --duration 0s", &["--duration"]),
    case("soak --consumers 0", &["--consumers", "at least 1"]),
    case(
        "soak --from {dir}/missing.json",
        &["--from", "missing.json"],
    ),
    case("soak --from {dir}/other-schema.json", &["--from", "schema"]),
    // the rest
    case("calibrate --resolution huge", &["--resolution"]),
    case("list everything", &["everything"]),
    case("frobnicate", &["frobnicate"]),
];

fn fixtures(dir: &Path) {
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    write("garbage.y4m", "this is not a YUV4MPEG2 stream\n");
    write("unknown-key.toml", "consumerz = 4\n");
    write("zero-consumers.toml", "consumers = [1, 0]\n");
    write("syntax.toml", "consumers = [1, \n");
    write("capacity-budget.toml", "[capacity]\nbudget = \"0s\"\n");
    write("capacity-key.toml", "[capacity]\nbudgett = \"1m\"\n");
    write("not-json.json", "{ this is not json");
    write(
        "other-schema.json",
        r#"{"schema": "someone.else/9", "runs": []}"#,
    );
}

/// Every regular file under `dir`, relative names.
fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    found.sort();
    found
}

#[test]
fn every_bad_input_is_refused_with_one_clear_line() {
    assert!(
        CATALOGUE.len() >= 30,
        "the catalogue keeps at least 30 cases"
    );
    let fixtures_dir = tempfile::tempdir().unwrap();
    fixtures(fixtures_dir.path());
    let before = files_under(fixtures_dir.path());
    let mut failures = Vec::new();
    for case in CATALOGUE {
        // A fresh working directory: the default output directory lands inside it.
        let cwd = tempfile::tempdir().unwrap();
        let args: Vec<String> = case
            .args
            .split_whitespace()
            .map(|a| a.replace("{dir}", &fixtures_dir.path().display().to_string()))
            .collect();
        let child = Command::cargo_bin("fbench")
            .unwrap()
            .args(&args)
            .current_dir(cwd.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let mut problems = Vec::new();
        if output.status.code() != Some(2) {
            problems.push(format!("exit {:?}", output.status.code()));
        }
        if stderr.lines().count() != 1 || !stderr.starts_with("error: ") {
            problems.push("not one line starting 'error: '".to_string());
        }
        for word in case.says {
            let word = word.replace("{dir}", &fixtures_dir.path().display().to_string());
            if !stderr.contains(&word) {
                problems.push(format!("does not say {word:?}"));
            }
        }
        if stderr.contains("panicked") {
            problems.push("panicked".to_string());
        }
        if !output.stdout.is_empty() {
            problems.push(format!(
                "stdout: {:?}",
                String::from_utf8_lossy(&output.stdout)
            ));
        }
        let written = files_under(cwd.path());
        if !written.is_empty() {
            problems.push(format!("left files {written:?}"));
        }
        let segment = format!("fbench-{pid}-");
        let segments = std::fs::read_dir("/dev/shm")
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with(&segment))
            .count();
        if segments > 0 {
            problems.push(format!("left {segments} segment(s) in /dev/shm"));
        }
        if !problems.is_empty() {
            failures.push(format!(
                "fbench {}: {} — stderr {stderr:?}",
                case.args,
                problems.join(", ")
            ));
        }
    }
    assert_eq!(
        files_under(fixtures_dir.path()),
        before,
        "nothing written beside the inputs"
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CATALOGUE.len(),
        failures.join("\n")
    );
}
