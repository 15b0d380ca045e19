//! Latency over time from the outside: the report's `timeline` adds up to the run's counts
//! and covers the measured window, a stall shows in the intervals it covers, and the
//! `.hlog` interval logs read back with another implementation than fbench's writer (the
//! Python `hdrhistogram` package, when it is installed). Assertions are on counts, never on
//! how long anything took.

mod common;

use std::path::Path;
use std::process::Command;

use common::{fbench, json_of, refused};
use serde_json::Value;

const INTERVAL_NS: u64 = 100_000_000;

fn timeline_of(run: &Value) -> &Vec<Value> {
    run["timeline"]
        .as_array()
        .expect("every run has a timeline")
}

#[test]
fn the_timeline_adds_up_and_the_interval_logs_read_back() {
    let out = tempfile::tempdir().unwrap();
    let json = out.path().join("r.json");
    fbench()
        .args(["run", "--strategy", "mutex,shm", "--consumers", "2"])
        .args([
            "--resolution",
            "64x48",
            "--duration",
            "2s",
            "--warmup",
            "300ms",
        ])
        .args(["--interval", "100ms", "--export", "hlog", "--quiet"])
        .arg("--json")
        .arg(&json)
        .arg("--out")
        .arg(out.path())
        .assert()
        .success();
    let report = json_of(&json);
    for run in report["runs"].as_array().unwrap() {
        let strategy = run["strategy"].as_str().unwrap();
        assert_eq!(run["config"]["interval_s"], 0.1, "{strategy}");
        let timeline = timeline_of(run);
        // 2 s in 100 ms intervals, from the start of measuring, none missing.
        assert_eq!(timeline.len(), 20, "{strategy}");
        for (k, point) in timeline.iter().enumerate() {
            assert_eq!(point["offset"], k as u64 * INTERVAL_NS, "{strategy}");
            let loss = point["loss"]
                .as_f64()
                .expect("frames were due in every interval");
            assert!((0.0..=1.0).contains(&loss), "{strategy}: {point}");
            let count = point["count"].as_u64().unwrap();
            if count > 0 {
                assert!(point["p50"].as_u64() <= point["p99"].as_u64());
                assert!(point["p99"].as_u64() <= point["max"].as_u64());
            }
        }
        let age_count = run["age_ns"]["count"].as_u64().unwrap();
        let counted: u64 = timeline.iter().map(|p| p["count"].as_u64().unwrap()).sum();
        assert_eq!(counted, age_count, "{strategy}: intervals sum to the run");
        let acquired: u64 = timeline
            .iter()
            .map(|p| p["acquire"]["count"].as_u64().unwrap())
            .sum();
        assert_eq!(acquired, run["acquire_ns"]["count"].as_u64().unwrap());
        let published: u64 = timeline
            .iter()
            .map(|p| p["publish"]["count"].as_u64().unwrap())
            .sum();
        assert_eq!(published, run["publish_ns"]["count"].as_u64().unwrap());

        let hlog = out.path().join(format!("r-{strategy}-c2.hlog"));
        let text = std::fs::read_to_string(&hlog).unwrap();
        assert!(text.contains("#[StartTime: "), "{text}");
        assert!(text.contains("#[BaseTime: "), "{text}");
        for tag in ["age", "acquire", "publish"] {
            let lines = text
                .lines()
                .filter(|l| l.starts_with(&format!("Tag={tag},")))
                .count();
            assert_eq!(lines, 20, "{strategy}: one {tag} histogram per interval");
        }
        match python_totals(&hlog) {
            Some(totals) => {
                assert_eq!(totals["age"], age_count, "{strategy}: {totals:?}");
                assert_eq!(totals["intervals"], 60, "{strategy}: {totals:?}");
            }
            None => eprintln!(
                "notice: python3 with the hdrhistogram package (pip install hdrhistogram) \
                 not found: the .hlog was not read back with another implementation"
            ),
        }
    }
}

/// Total count per tag and the number of interval histograms, read by the Python
/// `hdrhistogram` package's `HistogramLogReader`; `None` when it is not installed.
fn python_totals(hlog: &Path) -> Option<serde_json::Map<String, Value>> {
    const SCRIPT: &str = r#"
import json, sys
try:
    from hdrh.log import HistogramLogReader
    from hdrh.histogram import HdrHistogram
except ImportError:
    sys.exit(3)
reader = HistogramLogReader(sys.argv[1], HdrHistogram(1, 100_000_000_000, 3))
totals = {"intervals": 0}
while True:
    h = reader.get_next_interval_histogram()
    if h is None:
        break
    totals["intervals"] += 1
    tag = h.get_tag()
    totals[tag] = totals.get(tag, 0) + h.get_total_count()
print(json.dumps(totals))
"#;
    let output = Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .arg(hlog)
        .output()
        .ok()?;
    if output.status.code() == Some(3) {
        return None;
    }
    assert!(
        output.status.success(),
        "python reader failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    match serde_json::from_slice(&output.stdout).unwrap() {
        Value::Object(map) => Some(map),
        other => panic!("unexpected reader output {other}"),
    }
}

/// Consumer 0 holds one frame from 1 s to 2 s: frames captured while it sleeps are never
/// seen, so the intervals inside the stall count at most that one frame (and lose the rest).
#[test]
fn a_stall_shows_in_the_intervals_it_covers() {
    let out = tempfile::tempdir().unwrap();
    let json = out.path().join("stall.json");
    fbench()
        .args(["run", "--strategy", "mutex", "--consumers", "1"])
        .args([
            "--resolution",
            "64x48",
            "--duration",
            "3s",
            "--warmup",
            "200ms",
        ])
        .args(["--interval", "100ms", "--fault", "stall:0@1s:1s", "--quiet"])
        .arg("--json")
        .arg(&json)
        .arg("--out")
        .arg(out.path())
        .assert()
        .success();
    let report = json_of(&json);
    let run = &report["runs"][0];
    let timeline = timeline_of(run);
    assert_eq!(timeline.len(), 30);
    let inside: Vec<&Value> = timeline
        .iter()
        .filter(|p| (1_100_000_000..=1_900_000_000).contains(&p["offset"].as_u64().unwrap()))
        .collect();
    assert_eq!(inside.len(), 9);
    for point in inside {
        assert!(point["count"].as_u64().unwrap() <= 1, "{point}");
        assert!(point["loss"].as_f64().unwrap() >= 0.5, "{point}");
    }
    let before: u64 = timeline[..9]
        .iter()
        .map(|p| p["count"].as_u64().unwrap())
        .sum();
    assert!(before > 0, "frames were seen before the stall");
    // The age-over-time chart shades and names the stall and the warm-up.
    let html = std::fs::read_to_string(json.with_extension("html")).unwrap();
    let chart = html
        .split("<svg ")
        .find(|svg| svg.contains("aria-label=\"age over time, 1 consumer\""))
        .expect("an age-over-time chart");
    assert!(chart.contains("stall:0@1s:1s"), "the fault is named");
    assert!(chart.contains("warm-up"), "the warm-up is marked");
}

#[test]
fn a_too_short_interval_is_refused() {
    refused(&["run", "--interval", "1ms"], "--interval", "10ms");
    refused(&["sweep", "--interval", "soon"], "--interval", "ms");
}
