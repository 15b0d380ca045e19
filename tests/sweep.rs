//! `fbench sweep`, scenarios and `fbench report` as users meet them: the files they get,
//! and one clear line (exit code 2, nothing written) for every mistake.

use std::path::Path;

mod common;
use common::{fbench, json_of, refused};

/// A short sweep: 2 strategies x 2 consumer counts of small frames.
fn short_sweep(dir: &Path, extra: &[&str]) -> std::path::PathBuf {
    let json = dir.join("sweep.json");
    let output = fbench()
        .args([
            "sweep",
            "--strategy",
            "mutex,pool",
            "--consumers",
            "1,2",
            "--resolution",
            "480p",
            "--fps",
            "60",
            "--duration",
            "200ms",
            "--warmup",
            "50ms",
            "--quiet",
            "--no-ideal",
            "--json",
        ])
        .arg(&json)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains(&format!("JSON report: {}", json.display())));
    assert!(stdout.contains(&format!(
        "HTML report: {}",
        dir.join("sweep.html").display()
    )));
    json
}

#[test]
fn a_sweep_writes_one_report_with_every_combination_and_its_exports() {
    let dir = tempfile::tempdir().unwrap();
    let json = short_sweep(dir.path(), &["--export", "md,csv,hgrm"]);
    let report = json_of(&json);
    let runs: Vec<(String, u64)> = report["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["strategy"].as_str().unwrap().to_string(),
                r["consumers"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(String, u64)> = [("mutex", 1), ("pool", 1), ("mutex", 2), ("pool", 2)]
        .iter()
        .map(|(s, c)| (s.to_string(), *c))
        .collect();
    assert_eq!(runs, expected);
    for run in report["runs"].as_array().unwrap() {
        assert_eq!(run["config"]["width"], 640);
        assert_eq!(run["torn_frames"], 0);
        assert!(run["age_ns"]["count"].as_u64().unwrap() > 0);
    }

    let html = std::fs::read_to_string(dir.path().join("sweep.html")).unwrap();
    // 6 charts against consumer count, then per point a spectrum, age over time, memory
    // and CPU over time
    assert_eq!(html.matches("<svg ").count(), 6 + 4 * 2);
    assert!(!html.contains("http"));
    let md = std::fs::read_to_string(dir.path().join("sweep.md")).unwrap();
    assert!(md.contains("### Who wins") && md.contains("| 2 consumers |"));
    let csv = std::fs::read_to_string(dir.path().join("sweep.csv")).unwrap();
    assert_eq!(csv.lines().count(), 5);
    for name in ["mutex-c1", "pool-c1", "mutex-c2", "pool-c2"] {
        let hgrm = std::fs::read_to_string(dir.path().join(format!("sweep-{name}.hgrm"))).unwrap();
        assert!(hgrm.starts_with("       Value     Percentile TotalCount"));
    }
}

#[test]
fn a_scenario_runs_by_name_and_flags_replace_its_values() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("quick.json");
    let output = fbench()
        .args([
            "run",
            "--scenario",
            "quick",
            "--strategy",
            "rwlock",
            "--duration",
            "200ms",
            "--warmup",
            "50ms",
            "--quiet",
            "--json",
        ])
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = json_of(&json);
    assert_eq!(report["scenario"], "quick");
    let runs = report["runs"].as_array().unwrap();
    // the scenario's consumer counts and geometry, the command line's strategy and duration
    let consumers: Vec<u64> = runs
        .iter()
        .map(|r| r["consumers"].as_u64().unwrap())
        .collect();
    assert_eq!(consumers, [1, 4]);
    for run in runs {
        assert_eq!(run["strategy"], "rwlock");
        assert_eq!(run["config"]["duration_s"], 0.2);
        assert_eq!(run["config"]["width"], 640);
        assert_eq!(run["config"]["fps"], 60.0);
    }
    assert!(dir.path().join("quick.html").is_file());
}

#[test]
fn a_scenario_file_by_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tiny.toml");
    std::fs::write(
        &file,
        "description = \"tiny\"\nstrategies = [\"arcswap\"]\nconsumers = 2\nresolution = \"64x64\"\nfps = 100\nduration = \"100ms\"\nwarmup = \"20ms\"\n[gates]\np99 = \"1s\"\n",
    )
    .unwrap();
    let output = fbench()
        .args(["run", "--quiet", "--scenario"])
        .arg(&file)
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("tiny-") && n.ends_with(".json")),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("tiny-") && n.ends_with(".html")),
        "{names:?}"
    );
}

#[test]
fn bad_scenarios_name_the_file_the_key_and_what_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let unknown = write("unknown.toml", "consumers = 5\nconsumer_count = 3\n");
    refused(
        &["run", "--scenario", &unknown],
        "unknown.toml: consumer_count",
        "unknown key; accepted: description, source, strategies",
    );
    let bad_value = write("value.toml", "resolution = \"1080\"\n");
    refused(
        &["run", "--scenario", &bad_value],
        "value.toml: resolution",
        "480p, 720p, 1080p, 4k or WIDTHxHEIGHT",
    );
    let too_many = write("many.toml", "consumers = [1, 2000]\n");
    refused(
        &["sweep", "--scenario", &too_many],
        "many.toml: consumers",
        "more than the 1024 supported",
    );
    let syntax = write("syntax.toml", "consumers = [1, 2\n");
    refused(
        &["run", "--scenario", &syntax],
        "syntax.toml: line",
        "not valid TOML",
    );
    refused(
        &["run", "--scenario", "nope"],
        "--scenario",
        "accepted: quick, seed-claims, slow-consumer, many-consumers, 4k60",
    );
    refused(
        &["run", "--scenario", "missing.toml"],
        "--scenario",
        "cannot read missing.toml",
    );
    // validation of combinations names the file and key too
    let slow = write("slow.toml", "consumers = 2\nslow = \"3:sleep:1ms\"\n");
    refused(
        &["run", "--scenario", &slow],
        "slow.toml: slow",
        "raise --consumers",
    );
}

#[test]
fn sweep_lists_are_checked_item_by_item() {
    refused(
        &["sweep", "--consumers", "1,x"],
        "--consumers",
        "not a whole number",
    );
    refused(
        &["sweep", "--consumers", "1,2000"],
        "--consumers",
        "more than the 1024",
    );
    refused(
        &["sweep", "--resolution", "720p,1080"],
        "--resolution",
        "480p, 720p, 1080p, 4k or WIDTHxHEIGHT",
    );
    refused(&["sweep", "--export", "pdf"], "--export", "md, csv, hgrm");
}

#[test]
fn list_scenarios_names_every_built_in_one() {
    let output = fbench().args(["list", "scenarios"]).output().unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    for name in [
        "quick",
        "seed-claims",
        "slow-consumer",
        "many-consumers",
        "4k60",
        "slow-consumer-queues",
    ] {
        assert!(stdout.lines().any(|l| l.starts_with(name)), "{stdout}");
    }
}

#[test]
fn report_merges_and_compares_machines() {
    let dir = tempfile::tempdir().unwrap();
    let a = short_sweep(dir.path(), &[]);
    // the same report as if measured on another machine
    let mut other = json_of(&a);
    other["machine"]["hostname"] = "other-host".into();
    let b = dir.path().join("b.json");
    std::fs::write(&b, serde_json::to_string(&other).unwrap()).unwrap();

    let both = dir.path().join("both.html");
    let output = fbench()
        .arg("report")
        .arg(&a)
        .arg(&b)
        .arg("-o")
        .arg(&both)
        .arg("-o")
        .arg(dir.path().join("both.csv"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let html = std::fs::read_to_string(&both).unwrap();
    assert!(html.contains("@ other-host"), "the machine is a series");
    assert_eq!(html.matches("<svg ").count(), 6 + 4 * 2);
    let csv = std::fs::read_to_string(dir.path().join("both.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 8);

    // JSON holds one machine: merging these is refused, and nothing is written
    let merged = dir.path().join("merged.json");
    let output = fbench()
        .arg("report")
        .arg(&a)
        .arg(&b)
        .arg("-o")
        .arg(&merged)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("different machines"), "{stderr}");
    assert!(!merged.exists());
    // from one machine they merge
    let output = fbench()
        .arg("report")
        .arg(&a)
        .arg(&a)
        .arg("-o")
        .arg(&merged)
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(json_of(&merged)["runs"].as_array().unwrap().len(), 8);
}

#[test]
fn report_refuses_bad_inputs_and_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let not_report = dir.path().join("notes.json");
    std::fs::write(&not_report, "{\"hello\": 1}").unwrap();
    let not_report = not_report.to_str().unwrap();
    refused(
        &["report", "absent.json", "-o", "out.html"],
        "absent.json",
        "cannot read the report",
    );
    refused(
        &["report", not_report, "-o", "out.html"],
        "notes.json",
        "unsupported report schema",
    );
    refused(
        &["report", not_report, "-o", "out.pdf"],
        "--output",
        "accepted: .html, .md, .csv, .json, .hgrm",
    );
    refused(
        &["report", not_report, "-o", "no/such/dir/out.html"],
        "--output",
        "does not exist",
    );
}

/// With two or more strategies, the `ideal` reference runs first at every configuration
/// point (and never with one strategy, nor with `--no-ideal`).
#[test]
fn the_ideal_reference_runs_first_at_every_point() {
    let strategies_of = |extra: &[&str], strategies: &str| -> Vec<(String, u64)> {
        let mut args = vec!["sweep", "--strategy", strategies, "--consumers", "1,2"];
        args.extend([
            "--resolution",
            "64x48",
            "--duration",
            "100ms",
            "--warmup",
            "20ms",
        ]);
        args.extend(extra);
        common::report_of(&args)["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let name = r["strategy"].as_str().unwrap().to_string();
                (name, r["consumers"].as_u64().unwrap())
            })
            .collect()
    };
    let named = |list: &[(&str, u64)]| -> Vec<(String, u64)> {
        list.iter().map(|(s, c)| (s.to_string(), *c)).collect()
    };
    assert_eq!(
        strategies_of(&[], "mutex,pool"),
        named(&[
            ("ideal", 1),
            ("mutex", 1),
            ("pool", 1),
            ("ideal", 2),
            ("mutex", 2),
            ("pool", 2)
        ])
    );
    assert_eq!(
        strategies_of(&[], "pool"),
        named(&[("pool", 1), ("pool", 2)])
    );
    assert_eq!(
        strategies_of(&["--no-ideal"], "mutex,pool"),
        named(&[("mutex", 1), ("pool", 1), ("mutex", 2), ("pool", 2)])
    );
}

/// A scenario is arguments before the command line's: every run flag given beside it
/// reaches the report, those it does not replace keep the scenario's value.
#[test]
fn every_flag_given_beside_a_scenario_reaches_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("beside.json");
    let output = fbench()
        .args([
            "run",
            "--scenario",
            "quick",
            "-s",
            "pool",
            "-c",
            "2",
            "--source",
            "camera-sim",
            "--fault",
            "stall:0@100ms:100ms",
            "--duration",
            "300ms",
            "--warmup",
            "50ms",
            "--pool-size",
            "6",
            "--wait",
            "poll:1ms",
            "--verify",
            "full",
            "--deadline-tolerance",
            "0.5",
            "--interval",
            "100ms",
            "--quiet",
            "--json",
        ])
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = json_of(&json);
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run["strategy"], "pool");
    assert_eq!(run["consumers"], 2);
    let config = &run["config"];
    assert_eq!(config["source"], "camera-sim");
    assert_eq!(config["duration_s"], 0.3);
    assert_eq!(config["pool_size"], 6);
    assert_eq!(config["wait"], "poll:1ms");
    assert_eq!(config["verify"], "full");
    assert_eq!(config["deadline_tolerance"], 0.5);
    assert_eq!(config["interval_s"], 0.1);
    // the scenario's own values where no flag replaced them: 480p at 60 fps
    assert_eq!(config["width"], 640);
    assert_eq!(config["fps"], 60.0);
    assert!(
        run["faults"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["fault"] == "stall:0@100ms:100ms")),
        "{}",
        run["faults"]
    );
}

#[test]
fn an_empty_scenario_and_too_many_trials_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.toml");
    std::fs::write(&empty, "# nothing here\n").unwrap();
    refused(
        &["run", "--scenario", empty.to_str().unwrap()],
        "empty.toml is empty",
        "sets at least one key",
    );
    refused(
        &["run", "--repeat", "1001"],
        "--repeat",
        "at most 1000 trials",
    );
}

/// `--repeat 2` with the reference: per configuration, reference, A, B, reference, A, B,
/// every run numbered by its trial, each in its own process.
#[test]
fn repeated_trials_are_numbered_per_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("trials.json");
    let output = fbench()
        .args([
            "sweep",
            "-s",
            "mutex,pool",
            "-c",
            "1,2",
            "-r",
            "480p",
            "--fps",
            "60",
            "-d",
            "150ms",
            "--warmup",
            "30ms",
            "--repeat",
            "2",
            "--quiet",
            "--json",
        ])
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = json_of(&json);
    let runs: Vec<(String, u64, u64)> = report["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["strategy"].as_str().unwrap().to_string(),
                r["consumers"].as_u64().unwrap(),
                r["trial"].as_u64().unwrap(),
            )
        })
        .collect();
    let mut expected = Vec::new();
    for consumers in [1, 2] {
        for strategy in ["ideal", "mutex", "pool"] {
            for trial in [1, 2] {
                expected.push((strategy.to_string(), consumers, trial));
            }
        }
    }
    assert_eq!(runs, expected);
    for run in report["runs"].as_array().unwrap() {
        assert_eq!(run["reruns"], 0, "FBENCH_RETRIES=0 in tests");
    }
}
