//! `fbench soak` from the outside: a short soak checks every strategy for leaks, and the
//! analysis (`--from`) tells a flat memory timeline from a growing one and flags anything not
//! given back. Timelines are written by the test, so nothing depends on timing.

use std::path::Path;

use serde_json::{json, Value};

mod common;
use common::fbench;

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_short_soak_checks_every_strategy_for_leaks() {
    let out = tempfile::tempdir().unwrap();
    let json = out.path().join("soak.json");
    let output = fbench()
        .args([
            "soak",
            "--strategy",
            "all",
            "--duration",
            "1s",
            "--resolution",
            "64x48",
            "--interval",
            "100ms",
        ])
        .arg("--json")
        .arg(&json)
        .arg("--quiet")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("PSS drift/min"), "{stdout}");
    let summaries = read(&out.path().join("soak.soak.json"));
    let summaries = summaries.as_array().unwrap();
    let names: Vec<&str> = summaries
        .iter()
        .map(|s| s["strategy"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["mutex", "rwlock", "pool", "arcswap", "shm"]);
    for s in summaries {
        let leaks = &s["leaks"];
        assert_eq!(leaks["readers_outstanding"], 0, "{s}");
        assert_eq!(leaks["segments_left"], 0, "{s}");
        assert!(
            matches!(leaks["frames_outstanding"].as_u64(), None | Some(0)),
            "{s}"
        );
        assert_eq!(s["verdict"], "too short", "{s}");
        assert_eq!(s["torn_frames"], 0);
        // Latency drift from the same timeline as the reports: ten 100 ms intervals.
        assert!(s["age_p99_drift_ns_per_min"].is_f64(), "{s}");
        assert!(s["minutes"][0]["age_p99_ns"].as_u64().unwrap() > 0, "{s}");
    }
    assert!(stdout.contains("p99 drift/min"), "{stdout}");
    // The whole soak over time in the HTML report: age, memory and CPU.
    let html = std::fs::read_to_string(json.with_extension("html")).unwrap();
    for chart in ["age over time", "memory (PSS)", "CPU"] {
        assert!(
            html.contains(&format!("aria-label=\"{chart}, 5 consumers")),
            "{chart}"
        );
    }
    // Throughput per minute comes from the strategy's counts in the timeline.
    let report = read(&json);
    for run in report["runs"].as_array().unwrap() {
        assert_eq!(
            run["timeline"].as_array().unwrap().len(),
            10,
            "{}",
            run["strategy"]
        );
    }
    let last = report["runs"][0]["memory"]["timeline"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert!(last["published"].as_u64().unwrap() > 0, "{last}");
}

/// A real report with its first run's timeline replaced: three minutes after a 1 s warm-up,
/// PSS growing by `growth` bytes per minute.
fn report_with_timeline(
    dir: &Path,
    growth: u64,
    frames_outstanding: Option<u64>,
) -> std::path::PathBuf {
    let json = dir.join(format!("run-{growth}-{frames_outstanding:?}.json"));
    fbench()
        .args([
            "run",
            "--strategy",
            "pool",
            "--duration",
            "200ms",
            "--warmup",
            "1s",
        ])
        .args(["--resolution", "64x48", "--quiet", "--json"])
        .arg(&json)
        .assert()
        .success();
    let mut report = read(&json);
    let run = &mut report["runs"][0];
    let timeline: Vec<Value> = (0..=1800u64)
        .map(|i| {
            let t_ms = 1000 + i * 100;
            let minutes = (t_ms - 1000) as f64 / 60_000.0;
            json!({
                "t_ms": t_ms,
                "rss_bytes": 40_000_000u64,
                "pss_bytes": 30_000_000u64 + (growth as f64 * minutes) as u64,
                "published": i * 3,
                "producer_drops": 0,
            })
        })
        .collect();
    run["memory"]["timeline"] = Value::Array(timeline);
    run["config"]["duration_s"] = json!(180.0);
    run["leaks"]["frames_outstanding"] = json!(frames_outstanding);
    std::fs::write(&json, serde_json::to_string(&report).unwrap()).unwrap();
    json
}

fn verdict_of(path: &Path) -> String {
    let output = fbench()
        .arg("soak")
        .arg("--from")
        .arg(path)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let line = stdout
        .lines()
        .find(|l| l.starts_with("pool"))
        .unwrap()
        .to_string();
    line.rsplit("  ").next().unwrap().trim().to_string()
}

#[test]
fn the_analysis_tells_flat_from_growing_and_flags_leaks() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        verdict_of(&report_with_timeline(dir.path(), 0, Some(0))),
        "stable"
    );
    // 5 MiB a minute: well above the 1 MiB/min limit.
    let growing = report_with_timeline(dir.path(), 5 << 20, Some(0));
    assert_eq!(verdict_of(&growing), "memory grows");
    let output = fbench()
        .arg("soak")
        .arg("--from")
        .arg(&growing)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains("+5.000 MiB"),
        "the slope is exact: {stdout}"
    );
    // 3 frames every 100 ms: 30 fps in every whole minute (the first counts from its first
    // sample, so one interval short).
    assert!(stdout.contains("29.9-30.0"), "{stdout}");
    assert_eq!(
        verdict_of(&report_with_timeline(dir.path(), 0, Some(1))),
        "leaks"
    );
}
