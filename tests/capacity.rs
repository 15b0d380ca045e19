//! `fbench capacity` end to end: what it writes and how it stops. The search logic itself is
//! tested deterministically with a scripted oracle in `harness/src/capacity.rs`; these tests
//! assert the structure of what users get, never a measured rate.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{fbench, json_of};

/// Small: 480p, one trial per value (trial length and cap are added per test).
const SMALL: [&str; 12] = [
    "capacity",
    "--strategy",
    "mutex",
    "--consumers",
    "1,2",
    "--resolution",
    "480p",
    "--trials",
    "1",
    "--warmup",
    "100ms",
    "--quiet",
];

#[test]
fn a_search_writes_one_record_per_point_with_every_trial() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("cap.json");
    let output = fbench()
        .args(SMALL)
        .args([
            "--trial-duration",
            "200ms",
            "--max-fps",
            "60",
            "--budget",
            "2m",
            "--export",
            "md,csv",
            "--json",
        ])
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("1 consumer") && stdout.contains("2 consumers"));
    let report = json_of(&json);
    assert_eq!(report["schema"], "fbench.capacity/1");
    assert_eq!(report["partial"], false);
    let records = report["capacity"].as_array().unwrap();
    assert_eq!(records.len(), 2);
    for (record, consumers) in records.iter().zip([1, 2]) {
        assert_eq!(record["strategy"], "mutex");
        assert_eq!(record["axis"], "fps");
        assert_eq!(record["consumers"], consumers);
        assert_eq!(record["config"]["width"], 640);
        assert_eq!(record["service_level"]["max_loss"], 0.005);
        let trials = record["trials"].as_array().unwrap();
        assert!(!trials.is_empty());
        // The first trial is at the start rate, every trial carries its verdict and limit.
        assert_eq!(trials[0]["value"], 30.0);
        for t in trials {
            assert!(["pass", "fail", "generator_limited"].contains(&t["verdict"].as_str().unwrap()));
            assert_eq!(t["consumers"], consumers);
            assert_eq!(
                t["slo_age_ns"].as_u64().unwrap(),
                (1e9 / t["fps"].as_f64().unwrap()).round() as u64
            );
        }
        // Whatever the machine did, the result is an interval or says why it is not one.
        let status = record["status"].as_str().unwrap();
        match status {
            "resolved" => assert!(
                record["last_pass"].as_f64().unwrap() < record["first_fail"].as_f64().unwrap()
            ),
            "at_cap" => {
                assert_eq!(record["last_pass"], 60.0);
                assert!(record["first_fail"].is_null());
            }
            _ => {}
        }
        if record["resolved"] == true && !record["last_pass"].is_null() {
            let last = trials.last().unwrap();
            assert_eq!(last["confirmation"], true, "a confirmation ends the search");
            assert_eq!(last["value"], record["last_pass"]);
            // It ran right after an `ideal` trial of the same point and value, paired with it.
            let versus = &last["vs_reference"];
            assert_eq!(versus["reference"], "ideal", "{last}");
            assert_eq!(versus["pairs"], 1);
            assert!(versus["age_p99_vs_ideal"].as_f64().unwrap() > 0.0);
        }
    }
    for extension in ["html", "md", "csv"] {
        assert!(json.with_extension(extension).is_file(), "{extension}");
    }
    let csv = std::fs::read_to_string(json.with_extension("csv")).unwrap();
    assert_eq!(csv.lines().count(), 3);
}

#[test]
fn a_budget_too_small_for_one_trial_reports_unresolved_not_a_number() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("cap.json");
    let output = fbench()
        .args(SMALL)
        .args([
            "--trial-duration",
            "200ms",
            "--max-fps",
            "60",
            "--budget",
            "250ms",
            "--json",
        ])
        .arg(&json)
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("unresolved [?, ?)"), "{stdout}");
    let report = json_of(&json);
    for record in report["capacity"].as_array().unwrap() {
        assert_eq!(record["resolved"], false);
        assert_eq!(record["status"], "out_of_budget");
        assert!(record["last_pass"].is_null() && record["first_fail"].is_null());
    }
}

#[test]
fn ctrl_c_writes_what_is_resolved_marked_partial_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("cap.json");
    let mut child = common::fbench_process()
        .args(SMALL)
        .args([
            "--max-fps",
            "240",
            "--trial-duration",
            "1s",
            "--budget",
            "10m",
        ])
        .arg("--json")
        .arg(&json)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Let it get into its first trials, then interrupt as a terminal would.
    std::thread::sleep(Duration::from_millis(1500));
    // SAFETY: kill(2) on our own child's pid, which has not been reaped yet.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGINT);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "did not stop after SIGINT");
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("partial"), "{stderr}");
    let report = json_of(&json);
    assert_eq!(report["partial"], true);
    let records = report["capacity"].as_array().unwrap();
    assert!(!records.is_empty() && records.len() <= 2);
    let last = records.last().unwrap();
    assert_eq!(last["status"], "stopped");
    assert_eq!(last["resolved"], false);
    assert!(json.with_extension("html").is_file());
}

/// `--find streams`: one record per consumer count, on the streams axis, with whole stream
/// counts tried from 1 and the rate and consumers fixed in the record; `--streams` beside
/// it is refused (the search sets it).
#[test]
fn a_streams_search_tries_whole_stream_counts_at_a_fixed_rate() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("cap.json");
    let output = fbench()
        .args(SMALL)
        .args([
            "--find",
            "streams",
            "--fps",
            "30",
            "--trial-duration",
            "200ms",
            "--max-streams",
            "4",
            "--budget",
            "1m",
            "--json",
        ])
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("sustained streams"), "{stdout}");
    let report = json_of(&json);
    let records = report["capacity"].as_array().unwrap();
    assert_eq!(records.len(), 2);
    for (record, consumers) in records.iter().zip([1, 2]) {
        assert_eq!(record["axis"], "streams");
        assert_eq!(record["consumers"], consumers);
        assert_eq!(record["fps"], 30.0);
        let trials = record["trials"].as_array().unwrap();
        assert_eq!(trials[0]["value"], 1.0);
        for t in trials {
            let value = t["value"].as_f64().unwrap();
            assert!(value.fract() == 0.0 && (1.0..=4.0).contains(&value), "{t}");
            assert_eq!(t["fps"], 30.0);
        }
    }
    common::refused(
        &[
            "capacity",
            "--find",
            "streams",
            "--streams",
            "2",
            "--budget",
            "1m",
        ],
        "--streams",
        "--max-streams",
    );
}
