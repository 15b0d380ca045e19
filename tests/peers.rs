//! The peer strategies from the outside: listed as peers, run on the same source and
//! consumers as fbench's own, and `iceoryx2` refused with a clear line by a build without the
//! `peers` feature. Nothing here asserts on time.

use std::path::Path;

mod common;
use common::{fbench, json_of};

fn run(strategy: &str, consumers: usize, dir: &Path) -> serde_json::Value {
    let json = dir.join(format!("{strategy}.json"));
    let output = fbench()
        .args(["run", "--strategy", strategy, "--duration", "500ms"])
        .args([
            "--warmup",
            "100ms",
            "--resolution",
            "320x240",
            "--fps",
            "200",
        ])
        .args(["--consumers", &consumers.to_string(), "--quiet", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    json_of(&json)
}

#[test]
fn peers_are_listed_as_peers() {
    let output = fbench().arg("list").output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    for name in ["iceoryx2 ", "triple-buffer ", "broadcast "] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} missing from {stdout}"));
        assert!(line.contains("(peer)"), "{line}");
    }
}

#[test]
fn triple_buffer_writes_every_consumer_its_own_copy() {
    let dir = tempfile::tempdir().unwrap();
    let report = run("triple-buffer", 3, dir.path());
    let run = &report["runs"][0];
    assert_eq!(run["strategy"], "triple-buffer");
    assert_eq!(run["torn_frames"], 0);
    assert_eq!(run["out_of_order"], 0);
    assert!(run["age_ns"]["count"].as_u64().unwrap() > 0);
    let frame_len = 320 * 240 * 3;
    let copied = run["copies"]["bytes_copied"].as_u64().unwrap();
    // The source renders into the first consumer's buffer; the other two get a copy of every
    // published frame (warm-up frames included, hence at least).
    let published = run["frames"]["published"].as_u64().unwrap();
    assert_eq!(copied % (2 * frame_len), 0, "{copied}");
    assert!(copied >= 2 * frame_len * published, "{copied}");
}

#[test]
fn all_stays_fbench_own_five() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("all.json");
    fbench()
        .args([
            "run",
            "--strategy",
            "all,peers",
            "--duration",
            "50ms",
            "--warmup",
            "10ms",
        ])
        .args([
            "--consumers",
            "1",
            "--resolution",
            "64x64",
            "--fps",
            "100",
            "--quiet",
            "--json",
        ])
        .arg(&json)
        .assert()
        .success();
    let names: Vec<String> = json_of(&json)["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["strategy"].as_str().unwrap().to_string())
        .collect();
    // `all` is fbench's own five (`ideal`, the reference, runs first beside them).
    let mut expected = vec!["ideal", "mutex", "rwlock", "pool", "arcswap", "shm"];
    if cfg!(feature = "peers") {
        expected.push("iceoryx2");
    }
    expected.extend(["triple-buffer", "broadcast"]);
    if cfg!(feature = "net") {
        expected.extend(["zenoh", "zenoh-tcp"]);
    }
    assert_eq!(names, expected);
}

#[cfg(not(feature = "peers"))]
#[test]
fn iceoryx2_needs_the_peers_feature() {
    let out = tempfile::tempdir().unwrap();
    let output = fbench()
        .args(["run", "--strategy", "shm,iceoryx2", "--quiet", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--strategy"), "{stderr}");
    assert!(stderr.contains("--features peers"), "{stderr}");
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
}

#[cfg(feature = "peers")]
#[test]
fn iceoryx2_consumers_are_processes_and_never_see_a_torn_frame() {
    let dir = tempfile::tempdir().unwrap();
    let report = run("iceoryx2", 4, dir.path());
    let run = &report["runs"][0];
    assert_eq!(run["strategy"], "iceoryx2");
    assert_eq!(run["consumers"], 4);
    let per_consumer = run["per_consumer"].as_array().unwrap();
    assert_eq!(per_consumer.len(), 4);
    assert!(per_consumer.iter().all(|c| c["status"] == "ok"));
    assert_eq!(run["torn_frames"], 0);
    assert_eq!(run["out_of_order"], 0);
    assert_eq!(run["consumers_lost"], 0);
    assert_eq!(
        run["copies"]["bytes_copied"], 0,
        "zero-copy: loaned samples"
    );
    // Every consumer saw frames, and the last one: each ends on the final publish.
    for consumer in per_consumer {
        assert!(consumer["frames_seen"].as_u64().unwrap() > 0, "{consumer}");
    }
    // Memory is PSS summed over the parent and the consumer processes, as for shm.
    let memory = &run["memory"];
    assert!(memory["peak_pss_bytes"].as_u64().unwrap() > 0);
    assert!(memory["peak_rss_bytes"].as_u64() >= memory["peak_pss_bytes"].as_u64());
}
