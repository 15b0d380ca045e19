//! Several streams in one run (`--streams K`) from the outside: exact counts per stream and
//! in total, consumers carrying their stream, a slow consumer aimed at one stream, the worst
//! stream named by the rule the docs give, no shared-memory segment left behind, and bad
//! input refused. Assertions are on counts and on bounds a sleeping workload guarantees,
//! never on how fast anything ran.

mod common;

use common::{fbench_process, refused, report_of};
use serde_json::Value;

/// The runs of a report.
fn runs(report: &Value) -> &Vec<Value> {
    report["runs"].as_array().expect("a report has runs")
}

/// The stream the docs' rule names worst: highest p99 age (none measured is worst), ties
/// by the higher worst-consumer loss, then the lower index.
fn worst_by_rule(streams: &[Value]) -> u64 {
    let key = |s: &Value| {
        (
            s["age_ns"]["p99"].as_u64().unwrap_or(u64::MAX),
            s["loss_rate_max"].as_f64().unwrap_or(0.0),
        )
    };
    let mut worst = &streams[0];
    for s in &streams[1..] {
        let ((age, loss), (worst_age, worst_loss)) = (key(s), key(worst));
        if age > worst_age || (age == worst_age && loss > worst_loss) {
            worst = s;
        }
    }
    worst["stream"].as_u64().unwrap()
}

/// K streams at 100 fps for 500 ms: every stream has exactly 50 due frames (an absolute
/// schedule, shifted by the stream's phase, never stretched), the run 3 x 50; each
/// consumer record says its stream; the run names the worst stream by the rule.
#[test]
fn k_streams_have_k_times_the_due_frames_and_name_the_worst() {
    let report = report_of(&[
        "run",
        "--strategy",
        "mutex,shm",
        "--no-ideal",
        "--streams",
        "3",
        "--consumers",
        "2",
        "--resolution",
        "64x48",
        "--fps",
        "100",
        "--duration",
        "500ms",
        "--warmup",
        "200ms",
    ]);
    for run in runs(&report) {
        let strategy = run["strategy"].as_str().unwrap();
        assert_eq!(run["config"]["streams"], 3, "{strategy}");
        assert_eq!(run["config"]["stream_phase"], "spread", "{strategy}");
        let streams = run["streams"].as_array().expect("streams[] with K > 1");
        assert_eq!(streams.len(), 3, "{strategy}");
        let period_ns = 10_000_000u64;
        for (i, stream) in streams.iter().enumerate() {
            assert_eq!(stream["stream"], i as u64, "{strategy}");
            assert_eq!(stream["phase_ns"], i as u64 * period_ns / 3, "{strategy}");
            let frames = &stream["frames"];
            assert_eq!(frames["due"], 50, "{strategy} stream {i}: {frames}");
            let produced = frames["produced"].as_u64().unwrap();
            let overruns = frames["source_overruns"].as_u64().unwrap();
            assert_eq!(produced + overruns, 50, "{strategy} stream {i}");
            assert_eq!(stream["torn_frames"], 0, "{strategy} stream {i}");
        }
        assert_eq!(run["frames"]["due"], 150, "{strategy}");
        let seen: u64 = run["per_consumer"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["frames_seen"].as_u64().unwrap())
            .sum();
        assert_eq!(
            run["age_ns"]["count"], seen,
            "{strategy}: histograms merged"
        );
        let consumers = run["per_consumer"].as_array().unwrap();
        let of_streams: Vec<(u64, u64)> = consumers
            .iter()
            .map(|c| (c["stream"].as_u64().unwrap(), c["id"].as_u64().unwrap()))
            .collect();
        assert_eq!(
            of_streams,
            [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)],
            "{strategy}"
        );
        assert_eq!(run["worst_stream"], worst_by_rule(streams), "{strategy}");
        // Every segment of every stream was removed with its strategy.
        assert_eq!(run["leaks"]["segments_left"], 0, "{strategy}");
    }
}

/// `1:sleep:50ms@stream1`: only stream 1's last consumer sleeps. Holding each frame 50 ms at
/// 100 fps it can see at most one frame in five (21 of the 100 due, counting the window's
/// edges), so its loss is at least 0.79 by construction; the other stream's consumers, under a latest-value strategy, are not held
/// back by it (each stream has its own strategy instance).
#[test]
fn a_slow_consumer_in_one_stream_leaves_the_other_alone() {
    let report = report_of(&[
        "run",
        "--strategy",
        "mutex",
        "--streams",
        "2",
        "--consumers",
        "2",
        "--slow",
        "1:sleep:50ms@stream1",
        "--resolution",
        "64x48",
        "--fps",
        "100",
        "--duration",
        "1s",
        "--warmup",
        "200ms",
    ]);
    let run = &runs(&report)[0];
    assert_eq!(run["config"]["slow"][0], "1:sleep:50ms@stream1");
    let workloads: Vec<(u64, &str)> = run["per_consumer"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["stream"].as_u64().unwrap(),
                c["workload"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        workloads,
        [
            (0, "inspect"),
            (0, "inspect"),
            (1, "inspect"),
            (1, "sleep:50ms")
        ]
    );
    let slow = &run["per_consumer"][3];
    assert!(slow["loss_rate"].as_f64().unwrap() >= 0.75, "{slow}");
    let streams = run["streams"].as_array().unwrap();
    let healthy = streams[0]["loss_rate_max"].as_f64().unwrap();
    // Timing on a shared machine can cost a fast reader a few frames, never four in five.
    assert!(healthy < 0.5, "stream 0 lost {healthy}");
    assert!(streams[1]["loss_rate_max"].as_f64().unwrap() >= 0.75);
    assert_eq!(run["worst_stream"], worst_by_rule(streams));
}

/// A run of one stream is the run fbench made before streams: no `streams[]`, no
/// `worst_stream`, no `stream` on consumers, `config.streams` 1 (and the phase, which
/// changes nothing for one stream, `spread` even when `aligned` was asked for).
#[test]
fn one_stream_is_reported_as_before() {
    let report = report_of(&[
        "run",
        "--strategy",
        "pool",
        "--consumers",
        "2",
        "--resolution",
        "64x48",
        "--duration",
        "300ms",
        "--warmup",
        "100ms",
        "--stream-phase",
        "aligned",
    ]);
    let run = &runs(&report)[0];
    assert_eq!(run["config"]["streams"], 1);
    assert_eq!(run["config"]["stream_phase"], "spread");
    assert!(run.get("streams").is_none());
    assert!(run.get("worst_stream").is_none());
    for consumer in run["per_consumer"].as_array().unwrap() {
        assert!(consumer.get("stream").is_none(), "{consumer}");
    }
}

/// In the calling process (`FBENCH_IN_PROCESS=1`), shm with 3 streams makes 3 segments and
/// leaves none of them behind.
#[test]
fn shm_streams_leave_no_segment_in_process() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let mut child = fbench_process()
        .env("FBENCH_IN_PROCESS", "1")
        .args([
            "run",
            "-s",
            "shm",
            "--streams",
            "3",
            "-c",
            "2",
            "-r",
            "64x48",
        ])
        .args(["-d", "300ms", "--warmup", "100ms", "--quiet", "--json"])
        .arg(&json)
        .arg("--out")
        .arg(dir.path())
        .spawn()
        .unwrap();
    let pid = child.id();
    assert!(child.wait().unwrap().success());
    let left: Vec<String> = std::fs::read_dir("/dev/shm")
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(&format!("fbench-{pid}-")))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    let report = common::json_of(&json);
    let run = &runs(&report)[0];
    assert_eq!(run["streams"].as_array().unwrap().len(), 3);
    assert_eq!(run["leaks"]["segments_left"], 0);
}

#[test]
fn bad_stream_flags_are_refused_in_one_line() {
    refused(&["run", "--streams", "0"], "--streams", "from 1 to 64");
    refused(
        &["run", "--stream-phase", "random"],
        "--stream-phase",
        "spread, aligned",
    );
    refused(
        &["run", "--streams", "2", "--slow", "1:copy@stream2"],
        "--slow",
        "numbered 0 to 1",
    );
    refused(&["run", "--slow", "1:copy@camera"], "--slow", "@stream0");
}

/// A sweep over stream counts: one run per count, `--per-stream` rows under each run of
/// several, and the HTML report's per-stream table, charts against the stream count and
/// memory per added stream beside Frigate's formula.
#[test]
fn a_sweep_over_stream_counts_draws_against_streams() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("s.json");
    let output = common::fbench()
        .args([
            "sweep",
            "-s",
            "pool",
            "--streams",
            "1,2",
            "-c",
            "1",
            "-r",
            "64x48",
        ])
        .args([
            "-d",
            "300ms",
            "--warmup",
            "100ms",
            "--per-stream",
            "--quiet",
        ])
        .arg("--json")
        .arg(&json)
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("pool ×2 streams, worst #"), "{stdout}");
    assert!(
        stdout.contains("  stream 0") && stdout.contains("  stream 1"),
        "{stdout}"
    );
    let report = common::json_of(&json);
    let counts: Vec<u64> = runs(&report)
        .iter()
        .map(|r| r["config"]["streams"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [1, 2]);
    let html = std::fs::read_to_string(json.with_extension("html")).unwrap();
    for wanted in [
        "id=\"streams\"",
        "p99 age against streams",
        "peak PSS per added stream",
        "Frigate",
    ] {
        assert!(html.contains(wanted), "{wanted}");
    }
}

/// `--source` listing several gives the streams their sources in order, cycling: with
/// `synthetic,camera-sim` and 3 streams, streams 0 and 2 are synthetic, stream 1 the
/// simulated camera. More sources than streams is refused in one line.
#[test]
fn a_source_list_gives_the_streams_their_sources_in_order() {
    let report = report_of(&[
        "run",
        "--strategy",
        "pool",
        "--streams",
        "3",
        "--source",
        "synthetic,camera-sim",
        "--consumers",
        "1",
        "--resolution",
        "64x48",
        "--duration",
        "300ms",
        "--warmup",
        "100ms",
    ]);
    let run = &runs(&report)[0];
    assert_eq!(run["config"]["source"], "synthetic");
    assert_eq!(run["config"]["stream_sources"][0], "camera-sim");
    let sources: Vec<&str> = run["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["synthetic", "camera-sim", "synthetic"]);
    refused(
        &[
            "run",
            "--streams",
            "2",
            "--source",
            "synthetic",
            "--source",
            "camera-sim",
            "--source",
            "synthetic",
        ],
        "--source",
        "3 sources for 2 streams",
    );
}
