//! Fault injection from the outside: every fault is reported with what happened while it
//! lasted, a killed consumer is reported `killed` and its held slot reclaimed, and nothing
//! (no segment, no consumer process) is left behind. Assertions are on counts and statuses,
//! never on how long anything took.

use std::path::Path;

use std::process::{Command, Stdio};

mod common;
use serde_json::Value;

fn fbench() -> Command {
    common::fbench_process()
}

/// Small frames and a short run, so the counts come from the faults, not from load.
fn faulted_run(strategies: &str, extra: &[&str]) -> Value {
    let out = tempfile::tempdir().unwrap();
    let json = out.path().join("faults.json");
    let child = fbench()
        .args(["run", "--strategy", strategies, "--resolution", "64x48"])
        .args(["--consumers", "3", "--duration", "2s", "--warmup", "200ms"])
        .args(extra)
        .arg("--json")
        .arg(&json)
        .arg("--out")
        .arg(out.path())
        .arg("--quiet")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{extra:?}: {stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("fault: "), "a line per fault: {stdout}");
    let html = std::fs::read_to_string(json.with_extension("html")).unwrap();
    assert!(
        html.contains("id=\"faults\""),
        "the HTML has a Faults section"
    );
    assert_nothing_left(pid);
    read(&json)
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// No segment of the finished fbench process `pid`, and no consumer process of it.
pub fn assert_nothing_left(pid: u32) {
    let prefix = format!("fbench-{pid}-");
    let segments: Vec<String> = std::fs::read_dir("/dev/shm")
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(&prefix))
        .collect();
    assert!(segments.is_empty(), "segments left: {segments:?}");
    for entry in std::fs::read_dir("/proc").unwrap().filter_map(Result::ok) {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
        let consumer = args.iter().any(|a| *a == b"__consumer");
        let ours = args.iter().any(|a| a.starts_with(prefix.as_bytes()));
        assert!(
            !(consumer && ours),
            "consumer process {:?} of fbench {pid} still running",
            entry.file_name()
        );
    }
}

fn fault<'a>(run: &'a Value, text: &str) -> &'a Value {
    run["faults"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["fault"] == text)
        .unwrap_or_else(|| panic!("{text} in {}", run["faults"]))
}

#[test]
fn a_stall_is_reported_for_every_strategy() {
    let report = faulted_run("all", &["--fault", "stall:0@500ms:1s"]);
    for run in report["runs"].as_array().unwrap() {
        let stall = fault(run, "stall:0@500ms:1s");
        assert_eq!(stall["kind"], "stall");
        assert_eq!(stall["consumer"], 0);
        assert_eq!(stall["consumer_status"], "ok");
        assert_eq!(stall["others"], 2, "{}", run["strategy"]);
        assert_eq!(stall["window_s"], 1.0);
        let p = &stall["producer"];
        assert_eq!(
            p["produced"].as_u64().unwrap(),
            p["published"].as_u64().unwrap() + p["producer_drops"].as_u64().unwrap()
        );
        assert_eq!(run["torn_frames"], 0, "{}", run["strategy"]);
        let ids: Vec<&str> = run["per_consumer"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["status"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["ok", "ok", "ok"]);
    }
}

/// Two buffers: one is the published frame, the stalled reader holds the other, so the
/// pool has nothing to render into: under `drop` it refuses frames, under `grow` it grows.
#[test]
fn a_stalled_reader_exhausts_a_small_pool() {
    let report = faulted_run(
        "pool",
        &[
            "--pool-size",
            "2",
            "--pool-policy",
            "drop",
            "--fault",
            "stall:1@500ms:1s",
        ],
    );
    let run = &report["runs"][0];
    let stall = fault(run, "stall:1@500ms:1s");
    assert!(
        stall["producer"]["producer_drops"].as_u64().unwrap() > 0,
        "{stall}"
    );
    assert_eq!(stall["producer"]["pool_grows"], 0);
    // Refused frames are lost to every consumer, not only to the stalled one: each one's
    // loss over due frames covers at least the producer's drops and overruns.
    let frames = &run["frames"];
    let due = frames["due"].as_u64().unwrap();
    assert_eq!(
        due,
        frames["produced"].as_u64().unwrap() + frames["source_overruns"].as_u64().unwrap(),
        "{frames}"
    );
    let unmade =
        frames["producer_drops"].as_u64().unwrap() + frames["source_overruns"].as_u64().unwrap();
    assert!(unmade > 0, "{frames}");
    for consumer in run["per_consumer"].as_array().unwrap() {
        let seen = consumer["frames_seen"].as_u64().unwrap();
        let loss = consumer["loss_rate"].as_f64().unwrap();
        assert_eq!(
            loss,
            (due - seen.min(due)) as f64 / due as f64,
            "{consumer}"
        );
        assert!(
            due - seen >= unmade,
            "consumer {}: {seen} seen of {due} due, {unmade} never made",
            consumer["id"]
        );
    }
    let worst = run["per_consumer"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["loss_rate"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert_eq!(run["loss_rate_max"].as_f64().unwrap(), worst);

    let report = faulted_run(
        "pool",
        &[
            "--pool-size",
            "2",
            "--pool-policy",
            "grow",
            "--fault",
            "stall:1@500ms:1s",
        ],
    );
    let run = &report["runs"][0];
    let stall = fault(run, "stall:1@500ms:1s");
    assert!(
        stall["producer"]["pool_grows"].as_u64().unwrap() >= 1,
        "{stall}"
    );
    assert_eq!(stall["producer"]["producer_drops"], 0);
    // Every buffer came back at the end, grown ones included.
    assert_eq!(run["leaks"]["frames_outstanding"], 0, "{}", run["leaks"]);
}

/// A consumer killed while it holds a frame: the process gets SIGKILL and its slot is
/// reclaimed; the thread ends. Either way it is `killed`, the others carry on.
#[test]
fn a_consumer_killed_while_holding_a_frame() {
    let report = faulted_run(
        "mutex,pool,arcswap,shm",
        &["--fault", "stall:2@300ms:1500ms", "--fault", "kill:2@800ms"],
    );
    for run in report["runs"].as_array().unwrap() {
        let name = run["strategy"].as_str().unwrap();
        let kill = fault(run, "kill:2@800ms");
        assert_eq!(kill["consumer_status"], "killed", "{name}");
        assert_eq!(run["consumers_lost"], 1, "{name}");
        assert_eq!(run["per_consumer"][2]["status"], "killed", "{name}");
        assert_eq!(kill["others"], 2, "{name}");
        assert!(
            kill["others_frames_seen"].as_u64().unwrap() > 0,
            "{name}: others go on"
        );
        assert_eq!(run["torn_frames"], 0, "{name}");
        if name == "shm" {
            assert_eq!(run["reclaimed_slots"], 1, "the held slot comes back");
        }
        let leaks = &run["leaks"];
        assert_eq!(leaks["segments_left"], 0, "{name}");
        assert_eq!(leaks["readers_outstanding"], 0, "{name}");
    }
}

/// burst:@500ms:500ms:200 is 100 frame slots at 200 fps: each is produced or counted as an
/// overrun.
#[test]
fn a_burst_runs_the_producer_faster_for_its_window() {
    let report = faulted_run("arcswap,shm", &["--fault", "burst:@500ms:500ms:200"]);
    for run in report["runs"].as_array().unwrap() {
        let burst = fault(run, "burst:@500ms:500ms:200");
        let p = &burst["producer"];
        let slots = p["produced"].as_u64().unwrap() + p["source_overruns"].as_u64().unwrap();
        assert!((99..=101).contains(&slots), "{}: {p}", run["strategy"]);
        assert_eq!(burst["consumer"], Value::Null);
    }
}
