//! CI gating as users meet it: exit codes (0 pass, 3 gate failed, 2 usage error), the gate
//! table, the Markdown and dashboard exports, and one clear line for every bad input.
//!
//! Most tests gate reports derived from one real short run (slowed down, torn, cut) with
//! `fbench gate`, so they are deterministic; two run `fbench run` with baselines end to end.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;

mod common;
use common::fbench;

const SHORT_RUN: [&str; 10] = [
    "--resolution",
    "480p",
    "--fps",
    "60",
    "--duration",
    "200ms",
    "--warmup",
    "50ms",
    "--consumers",
    "2",
];

/// A real report: mutex and pool, two trials each. Made once per test binary.
fn real_report() -> &'static Value {
    static REPORT: OnceLock<Value> = OnceLock::new();
    REPORT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("real.json");
        let output = fbench()
            .args([
                "run",
                "--strategy",
                "mutex,pool",
                "--repeat",
                "2",
                "--quiet",
                "--no-ideal",
            ])
            .args(SHORT_RUN)
            .arg("--json")
            .arg(&json)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap()
    })
}

fn write(dir: &Path, name: &str, report: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(report).unwrap()).unwrap();
    path
}

/// The real report with every trial's age figures replaced by its configuration's first
/// trial's, so that trials agree and scaled copies regress or improve by exactly the
/// factor, whatever the machine did.
fn steady() -> Value {
    let mut report = real_report().clone();
    let runs = report["runs"].as_array_mut().unwrap();
    for i in 0..runs.len() {
        let first = runs
            .iter()
            .position(|r| r["strategy"] == runs[i]["strategy"])
            .unwrap();
        runs[i]["age_ns"] = runs[first]["age_ns"].clone();
    }
    report
}

/// [`steady`] with every run's age latencies multiplied by `factor`.
fn scaled(factor: f64) -> Value {
    let mut report = steady();
    for run in report["runs"].as_array_mut().unwrap() {
        for point in ["p50", "p90", "p99", "p999", "max"] {
            let v = run["age_ns"][point].as_f64().unwrap();
            run["age_ns"][point] = Value::from((v * factor).round() as u64);
        }
    }
    report
}

struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn gate(dir: &Path, baseline: &Value, current: &Value, extra: &[&str]) -> Outcome {
    let b = write(dir, "baseline.json", baseline);
    let c = write(dir, "current.json", current);
    let output = fbench()
        .current_dir(dir)
        .arg("gate")
        .arg("--baseline")
        .arg(&b)
        .arg("--current")
        .arg(&c)
        .args(extra)
        .output()
        .unwrap();
    Outcome {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// The bad-input contract: exit code 2, one line naming `names` and saying `says`, nothing
/// on stdout, nothing new in `dir` but the inputs.
fn assert_refused(dir: &Path, outcome: &Outcome, names: &str, says: &str) {
    let Outcome {
        code,
        stdout,
        stderr,
    } = outcome;
    assert_eq!(*code, Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line, got {stderr:?}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains(names), "{stderr:?} should name {names}");
    assert!(stderr.contains(says), "{stderr:?} should say {says:?}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stdout.is_empty(), "nothing on stdout: {stdout}");
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !["baseline.json", "current.json", "scenario.toml"].contains(&n.as_str()))
        .collect();
    assert!(left.is_empty(), "no file may be written: {left:?}");
}

#[test]
fn a_report_passes_against_itself() {
    let dir = tempfile::tempdir().unwrap();
    let report = real_report();
    let out = gate(dir.path(), report, report, &[]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    for expected in [
        "Gate against the baseline",
        "│ run",
        "threshold",
        "mutex c2",
        "pool c2",
        "age p99",
        "torn frames",
        "Trials per run: 2 baseline, 2 current.",
        "consumers lost",
        "gate passed: 6 gated metrics on 2 runs",
    ] {
        assert!(
            out.stdout.contains(expected),
            "{expected:?} in {}",
            out.stdout
        );
    }
}

#[test]
fn a_slower_report_fails_with_exit_code_3_and_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("gate.md");
    let github = dir.path().join("github.json");
    let bmf = dir.path().join("bencher.json");
    let out = gate(
        dir.path(),
        &steady(),
        &scaled(3.0),
        &[
            "--summary-md",
            md.to_str().unwrap(),
            "--export-github-benchmark",
            github.to_str().unwrap(),
            "--export-bencher",
            bmf.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, Some(3), "{}{}", out.stdout, out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr
            .starts_with("gate failed: mutex c2 age p99 +200.0% > +10%"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.contains("REGRESSED"), "{}", out.stdout);
    assert!(out
        .stdout
        .contains(&format!("Gate summary (Markdown): {}", md.display())));

    let md = std::fs::read_to_string(md).unwrap();
    assert!(md.starts_with("### fbench gate: ❌ failed"), "{md}");
    assert!(md.contains("**REGRESSED**"), "{md}");

    let github: Value = serde_json::from_str(&std::fs::read_to_string(github).unwrap()).unwrap();
    let items = github.as_array().unwrap();
    assert!(!items.is_empty());
    for item in items {
        assert!(item["name"].is_string() && item["unit"].is_string());
        assert!(item["value"].is_number());
        assert!(
            item["range"].as_str().unwrap().starts_with("± "),
            "two trials: a range"
        );
        assert!(item["extra"].is_string());
    }
    assert!(items
        .iter()
        .any(|i| i["name"] == "mutex c2 640x480 rgb24 60fps inspect - age p99"));

    let bmf: Value = serde_json::from_str(&std::fs::read_to_string(bmf).unwrap()).unwrap();
    let pool = &bmf["pool c2 640x480 rgb24 60fps inspect"]["age-p99"];
    assert!(pool["value"].as_f64().unwrap() > 0.0, "{bmf}");
    assert!(pool["lower_value"].as_f64() <= pool["upper_value"].as_f64());
}

#[test]
fn a_faster_report_passes() {
    let dir = tempfile::tempdir().unwrap();
    let out = gate(dir.path(), &steady(), &scaled(0.3), &[]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("improved"), "{}", out.stdout);
}

#[test]
fn absolute_gates_fail_on_their_limit() {
    let dir = tempfile::tempdir().unwrap();
    let report = real_report();
    let out = gate(dir.path(), report, report, &["--gate", "p99<1ns"]);
    assert_eq!(out.code, Some(3), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("age p99"), "{}", out.stderr);
    assert!(out.stderr.contains("wanted < 1 ns"), "{}", out.stderr);
    let out = gate(
        dir.path(),
        report,
        report,
        &["--gate", "p99<100s", "--gate", "drop_rate<=100%"],
    );
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
}

#[test]
fn torn_frames_fail_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let mut torn = real_report().clone();
    torn["runs"][1]["torn_frames"] = Value::from(2);
    let out = gate(dir.path(), real_report(), &torn, &[]);
    assert_eq!(out.code, Some(3), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("torn frames 2, wanted == 0"),
        "{}",
        out.stderr
    );
    let out = gate(dir.path(), real_report(), &torn, &["--allow-torn"]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
}

#[test]
fn a_run_missing_on_one_side_fails_only_with_strict() {
    let dir = tempfile::tempdir().unwrap();
    let mut mutex_only = real_report().clone();
    mutex_only["runs"]
        .as_array_mut()
        .unwrap()
        .retain(|r| r["strategy"] == "mutex");
    let out = gate(dir.path(), real_report(), &mutex_only, &[]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("Only in the baseline (not an error without --strict): pool c2."),
        "{}",
        out.stdout
    );
    let out = gate(dir.path(), real_report(), &mutex_only, &["--strict"]);
    assert_eq!(out.code, Some(3), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("pool c2 missing from the current report (--strict)"),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_reports_are_refused_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let report = real_report();

    let missing = fbench()
        .current_dir(d)
        .args(["gate", "--baseline", "main", "--current", "current.json"])
        .output()
        .unwrap();
    write(d, "current.json", report);
    let outcome = |o: std::process::Output| Outcome {
        code: o.status.code(),
        stdout: String::from_utf8(o.stdout).unwrap(),
        stderr: String::from_utf8(o.stderr).unwrap(),
    };
    assert_refused(
        d,
        &outcome(missing),
        "--baseline: target/fbench/baselines/main.json does not exist",
        "save a baseline first",
    );

    std::fs::write(d.join("baseline.json"), "{ not json").unwrap();
    let corrupt = fbench()
        .current_dir(d)
        .args([
            "gate",
            "--baseline",
            "baseline.json",
            "--current",
            "current.json",
        ])
        .output()
        .unwrap();
    assert_refused(
        d,
        &outcome(corrupt),
        "--baseline: baseline.json",
        "not an fbench report",
    );

    let mut other_schema = report.clone();
    other_schema["schema"] = Value::from("fbench.report/9");
    let out = gate(d, &other_schema, report, &[]);
    assert_refused(
        d,
        &out,
        "--baseline",
        "unsupported report schema fbench.report/9; this fbench reads fbench.report/1, fbench.report/2",
    );

    let mut no_runs = report.clone();
    no_runs["runs"] = Value::Array(Vec::new());
    let out = gate(d, report, &no_runs, &[]);
    assert_refused(d, &out, "--current", "has no runs");

    let bad_name = fbench()
        .current_dir(d)
        .args(["gate", "--baseline", "a b", "--current", "current.json"])
        .output()
        .unwrap();
    assert_refused(
        d,
        &outcome(bad_name),
        "--baseline: 'a b'",
        "not a baseline name",
    );
}

#[test]
fn malformed_gates_are_refused_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let report = real_report();
    let cases: [(&[&str], &str, &str); 6] = [
        (&["--gate", "p99<<2ms"], "--gate", "unsupported comparison"),
        (
            &["--gate", "p99<2"],
            "--gate",
            "p99 is a latency: give a number with a unit",
        ),
        (
            &["--gate", "latency<2ms"],
            "--gate",
            "accepted: p50, p90, p99",
        ),
        (
            &["--max-regression", "p99:10"],
            "--max-regression",
            "not a percentage",
        ),
        (
            &["--ignore-param", "colour"],
            "--ignore-param",
            "accepted: consumers",
        ),
        (
            &["--summary-md", "no/such/dir/gate.md"],
            "--summary-md",
            "does not exist",
        ),
    ];
    for (args, names, says) in cases {
        let out = gate(d, report, report, args);
        assert_refused(d, &out, names, says);
    }
    // Ignoring a parameter that tells a report's own runs apart.
    let mut two_sizes = report.clone();
    two_sizes["runs"][0]["config"]["width"] = Value::from(1280);
    let out = gate(d, &two_sizes, &two_sizes, &["--ignore-param", "resolution"]);
    assert_refused(
        d,
        &out,
        "--ignore-param resolution",
        "would be taken for trials of one configuration",
    );
}

#[test]
fn scenario_gates_apply_and_bad_ones_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let report = real_report();
    std::fs::write(d.join("scenario.toml"), "[gates]\ngate = [\"p99<1ns\"]\n").unwrap();
    let out = gate(d, report, report, &["--scenario", "scenario.toml"]);
    assert_eq!(out.code, Some(3), "{}{}", out.stdout, out.stderr);
    // A flag replaces the file's gates of its kind.
    let out = gate(
        d,
        report,
        report,
        &["--scenario", "scenario.toml", "--gate", "p99<100s"],
    );
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);

    std::fs::write(d.join("scenario.toml"), "[gates]\np99_age = \"2ms\"\n").unwrap();
    let out = gate(d, report, report, &["--scenario", "scenario.toml"]);
    assert_refused(
        d,
        &out,
        "scenario.toml: gates.p99_age",
        "unknown key; accepted: max_regression, gate",
    );
}

/// `fbench run --save-baseline`, then `fbench run --baseline` against it: the self-test
/// CI runs. Correctness only: the verdict of a same-code gate depends on the machine, so
/// only the mechanics (files, table, exit code 0, 3 or 4 — inconclusive on a machine whose
/// load moved between the two runs — never 1 or 2) are asserted.
#[test]
fn run_saves_a_baseline_and_gates_against_it() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let run = |extra: &[&str]| {
        fbench()
            .args(["run", "--strategy", "mutex", "--repeat", "2", "--quiet"])
            .args(SHORT_RUN)
            .arg("--out")
            .arg(&out_dir)
            .args(extra)
            .output()
            .unwrap()
    };
    let saved = run(&["--save-baseline", "main"]);
    assert!(
        saved.status.success(),
        "{}",
        String::from_utf8_lossy(&saved.stderr)
    );
    let stdout = String::from_utf8(saved.stdout).unwrap();
    let baseline = out_dir.join("baselines").join("main.json");
    assert!(
        stdout.contains(&format!("Baseline saved: {}", baseline.display())),
        "{stdout}"
    );
    assert!(
        !stdout.contains("Gate against"),
        "saving alone does not gate"
    );
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&baseline).unwrap()).unwrap();
    assert_eq!(
        saved["runs"].as_array().unwrap().len(),
        2,
        "--repeat 2: two trials"
    );

    let gated = run(&["--baseline", "main", "--gate", "torn==0"]);
    let stderr = String::from_utf8_lossy(&gated.stderr);
    assert!(
        matches!(gated.status.code(), Some(0) | Some(3) | Some(4)),
        "{stderr}"
    );
    let stdout = String::from_utf8(gated.stdout).unwrap();
    assert!(
        stdout.contains(&format!("Gate against the baseline {}", baseline.display())),
        "{stdout}"
    );
    assert!(
        stdout.contains("Trials per run: 2 baseline, 2 current."),
        "{stdout}"
    );
    // A baseline of another configuration: nothing matches, so nothing was compared,
    // which fails the gate unless accepted.
    let other = run(&[
        "--baseline",
        "main",
        "--deadline-tolerance",
        "0.5",
        "--gate",
        "p99<100s",
    ]);
    let stderr = String::from_utf8_lossy(&other.stderr);
    assert_eq!(other.status.code(), Some(3), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("gate failed: nothing was compared"),
        "{stderr}"
    );
    let accepted = run(&[
        "--baseline",
        "main",
        "--deadline-tolerance",
        "0.5",
        "--allow-unmatched",
        "--gate",
        "p99<100s",
    ]);
    assert_eq!(
        accepted.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&accepted.stderr)
    );
    assert!(String::from_utf8_lossy(&accepted.stdout)
        .contains("nothing compared with the baseline (--allow-unmatched)"));
}

#[test]
fn a_gate_that_compares_nothing_fails_with_exit_code_3() {
    let dir = tempfile::tempdir().unwrap();
    let mut mutex_only = real_report().clone();
    mutex_only["runs"]
        .as_array_mut()
        .unwrap()
        .retain(|r| r["strategy"] == "mutex");
    let mut pool_only = real_report().clone();
    pool_only["runs"]
        .as_array_mut()
        .unwrap()
        .retain(|r| r["strategy"] == "pool");
    let out = gate(dir.path(), &mutex_only, &pool_only, &[]);
    assert_eq!(out.code, Some(3), "{}{}", out.stdout, out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr.starts_with(
            "gate failed: nothing was compared: no run of the current report (pool c2) matches a run of the baseline (mutex c2)"
        ),
        "{}",
        out.stderr
    );
    let out = gate(dir.path(), &mutex_only, &pool_only, &["--allow-unmatched"]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
}

#[test]
fn a_report_of_schema_1_is_read_as_a_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let mut old = real_report().clone();
    old["schema"] = Value::from("fbench.report/1");
    let mut new = real_report().clone();
    new["schema"] = Value::from("fbench.report/2");
    let out = gate(dir.path(), &old, &new, &[]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
}

#[test]
fn run_refuses_bad_gate_input_before_running() {
    let cases: [(&[&str], &str, &str); 5] = [
        (&["--baseline", "main"], "--baseline", "does not exist"),
        (
            &["--max-regression", "p99:10%"],
            "--max-regression",
            "add --baseline",
        ),
        (&["--normalize"], "--normalize", "add --baseline"),
        (
            &["--save-baseline", "a b"],
            "--save-baseline",
            "not a baseline name",
        ),
        (&["--repeat", "0"], "--repeat", "at least 1"),
    ];
    for (args, names, says) in cases {
        let dir = tempfile::tempdir().unwrap();
        let output = fbench()
            .args(["run", "--strategy", "mutex", "--quiet", "--out"])
            .arg(dir.path())
            .args(args)
            .output()
            .unwrap();
        let outcome = Outcome {
            code: output.status.code(),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        };
        assert_refused(dir.path(), &outcome, names, says);
    }
}

/// `report` with every run's other-process load set to `cpus`.
fn loaded(mut report: Value, cpus: f64) -> Value {
    for run in report["runs"].as_array_mut().unwrap() {
        run["cpu"]["other_load_cpus"] = Value::from(cpus);
        // The run's own CPU time must not fall (that would not excuse a slowdown).
        run["cpu"]["user_s"] = Value::from(0.1);
        run["cpu"]["sys_s"] = Value::from(0.0);
    }
    report
}

#[test]
fn an_inconclusive_gate_exits_4_unless_told_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let baseline = loaded(steady(), 0.1);
    let busier = loaded(scaled(1.5), 1.5);
    let out = gate(dir.path(), &baseline, &busier, &[]);
    assert_eq!(out.code, Some(4), "{}{}", out.stdout, out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr.starts_with("gate inconclusive: mutex c2 age p99 +50.0% slower, but other processes used 1.50 CPUs against 0.10"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("docs/ci-gating.md"), "{}", out.stderr);
    assert!(
        out.stdout.contains("inconclusive (busier machine)"),
        "{}",
        out.stdout
    );

    let out = gate(dir.path(), &baseline, &busier, &["--inconclusive", "pass"]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    let out = gate(dir.path(), &baseline, &busier, &["--inconclusive", "fail"]);
    assert_eq!(out.code, Some(3), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.starts_with("gate inconclusive: "),
        "{}",
        out.stderr
    );
    // A real regression on an equally loaded machine still fails with 3.
    let out = gate(dir.path(), &baseline, &loaded(scaled(1.5), 0.1), &[]);
    assert_eq!(out.code, Some(3), "{}{}", out.stdout, out.stderr);
    let bad = gate(dir.path(), &baseline, &busier, &["--inconclusive", "maybe"]);
    assert_eq!(bad.code, Some(2), "{}", bad.stderr);
    assert!(bad.stderr.contains("--inconclusive"), "{}", bad.stderr);
}

#[test]
fn lost_consumers_fail_the_gate_unless_allowed_and_a_dead_run_is_not_improved() {
    let dir = tempfile::tempdir().unwrap();
    let mut lost = steady();
    lost["runs"][1]["consumers_lost"] = Value::from(1);
    let out = gate(dir.path(), &steady(), &lost, &[]);
    assert_eq!(out.code, Some(3), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("consumers lost 1, wanted == 0"),
        "{}",
        out.stderr
    );
    let out = gate(dir.path(), &steady(), &lost, &["--allow-lost"]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);

    // Every consumer of every run died: nothing measured (count 0). Allowed to lose them,
    // the gate still cannot call that faster.
    let mut dead = steady();
    for run in dead["runs"].as_array_mut().unwrap() {
        run["consumers_lost"] = run["consumers"].clone();
        for series in ["age_ns", "acquire_ns", "e2e_ns"] {
            let summary = &mut run[series];
            summary["count"] = Value::from(0);
            for point in ["p50", "p90", "p99", "p999", "max"] {
                summary[point] = Value::from(0);
            }
        }
    }
    let out = gate(dir.path(), &steady(), &dead, &[]);
    assert_eq!(out.code, Some(3), "{}{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains("improved"), "{}", out.stdout);
    let out = gate(
        dir.path(),
        &steady(),
        &dead,
        &["--allow-lost", "--gate", "p99<5ms"],
    );
    assert_eq!(out.code, Some(4), "{}{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains("improved"), "{}", out.stdout);
    assert!(!out.stdout.contains("-100.0%"), "{}", out.stdout);
    assert!(
        out.stderr.contains("age p99 not measured"),
        "{}",
        out.stderr
    );
}

#[test]
fn impossible_reports_are_refused_by_gate_and_report_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let report = real_report();
    let doctored = |change: &dyn Fn(&mut Value)| {
        let mut r = report.clone();
        change(&mut r["runs"][1]);
        r
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            doctored(&|run| run["drop_rate"] = Value::from(-1.0)),
            "runs[1] (mutex c2 trial",
            "drop_rate: -1 is not a fraction from 0 to 1",
        ),
        (
            doctored(&|run| {
                let p99 = run["age_ns"]["p99"].as_u64().unwrap();
                run["age_ns"]["p50"] = Value::from(p99 + 1);
            }),
            "age_ns.p50",
            "percentiles out of order",
        ),
        (
            doctored(&|run| run["acquire_ns"]["count"] = Value::from(0)),
            "acquire_ns.p50",
            "count is 0",
        ),
        (
            doctored(&|run| run["age_ns"]["hdr"] = Value::from("HISTFAAAAB542pNpmZmBgYGJg")),
            "age_ns.hdr",
            "histogram",
        ),
    ];
    for (current, names, says) in &cases {
        let out = gate(d, report, current, &[]);
        assert_refused(
            d,
            &out,
            &format!("--current: {}", d.join("current.json").display()),
            names,
        );
        assert!(out.stderr.contains(says), "{}", out.stderr);
    }
    // `fbench report` draws nothing from them either.
    let (current, names, _) = &cases[0];
    let path = write(d, "current.json", current);
    let out = fbench()
        .current_dir(d)
        .arg("report")
        .arg(&path)
        .args(["-o", "out.html"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(names) && stderr.contains("drop_rate"),
        "{stderr}"
    );
    assert!(!d.join("out.html").exists());

    // 5000 copies of one run are one run recorded 5000 times, not 5000 trials.
    let mut copies = report.clone();
    let run = report["runs"][0].clone();
    copies["runs"] = Value::Array(vec![run; 5000]);
    let out = gate(d, report, &copies, &[]);
    assert_refused(
        d,
        &out,
        "runs[1] (mutex c2 trial 1): run",
        "the same record as runs[0]",
    );
}

#[test]
fn hostile_input_files_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "current.json", real_report());
    let refused = |args: &[&str], says: &str| {
        let out = fbench().current_dir(d).args(args).output().unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    };
    // A baseline is a name or a .json path: /dev/zero is neither, and behind a .json
    // name it is refused for what it is.
    refused(
        &[
            "gate",
            "--baseline",
            "/dev/zero",
            "--current",
            "current.json",
        ],
        "--baseline: '/dev/zero' is not a baseline name",
    );
    std::os::unix::fs::symlink("/dev/zero", d.join("zero.json")).unwrap();
    refused(
        &[
            "gate",
            "--baseline",
            "zero.json",
            "--current",
            "current.json",
        ],
        "--baseline: cannot read zero.json: it is a character device, not a regular file",
    );
    refused(
        &["run", "--scenario", "/dev/zero"],
        "--scenario: cannot read /dev/zero: it is a character device, not a regular file",
    );
    refused(
        &["report", "/dev/zero", "-o", "out.html"],
        "/dev/zero: cannot read the report: it is a character device",
    );
    refused(
        &["soak", "--from", "/dev/zero"],
        "--from: cannot read /dev/zero: it is a character device",
    );
    // A file over the limit (sparse: no disk used) is refused by its size, unread.
    let big = d.join("big.json");
    std::fs::File::create(&big)
        .unwrap()
        .set_len((256 << 20) + 1)
        .unwrap();
    refused(
        &[
            "gate",
            "--baseline",
            "big.json",
            "--current",
            "current.json",
        ],
        "it is larger than the 256 MB fbench reads",
    );
    // Baseline names stay in the baselines directory.
    refused(
        &["gate", "--baseline", "../../x", "--current", "current.json"],
        "--baseline: '../../x' is not a baseline name; accepted: letters, digits",
    );
    refused(
        &["run", "-s", "mutex", "--save-baseline", "../../x"],
        "--save-baseline: '../../x' is not a baseline name",
    );
    // A report whose histogram declares a 2 GB payload in a few bytes.
    let mut lying = real_report().clone();
    // Cookie 0x1c849314 (compressed V2), declared length 0x7fffffff, nothing after.
    lying["runs"][0]["age_ns"]["hdr"] = Value::from("HISTFH////8=");
    write(d, "lying.json", &lying);
    refused(
        &[
            "gate",
            "--baseline",
            "lying.json",
            "--current",
            "current.json",
        ],
        "age_ns.hdr: histogram declares 2147483647 compressed bytes but holds 0",
    );
}
