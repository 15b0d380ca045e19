//! `--consumer-cmd`: the user's own consumer processes, built from the consumer library,
//! measured beside fbench's own; and bad commands refused with exit code 2 and nothing left
//! behind. The external consumer here is this test binary itself, started with the name of
//! [`be_an_external_consumer`] (which does nothing when run as an ordinary test).

use std::path::Path;
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt as _;
use fbench::consumer::{Consumer, ENV_CONSUMER};

mod common;
use common::json_of;

/// As a consumer process (the harness set the environment): read every frame, check each
/// one's stamps and geometry ourselves as well, and report. As a test: nothing.
#[test]
fn be_an_external_consumer() {
    if std::env::var_os(ENV_CONSUMER).is_none() {
        return;
    }
    let mut consumer = Consumer::from_env().unwrap_or_else(|e| panic!("{e}"));
    let info = consumer.info().clone();
    let mut last = 0;
    while let Some(frame) = consumer.next_frame() {
        let meta = *frame.meta();
        assert!(meta.publish_seq > last, "sequence numbers only grow");
        last = meta.publish_seq;
        assert_eq!(frame.bytes().len(), info.frame_len);
        assert_eq!((meta.width, meta.height), (info.width, info.height));
        assert!(fbench::harness::integrity::stamps_match(
            frame.bytes(),
            meta.seq
        ));
    }
    consumer.finish().unwrap();
}

/// The command line that makes this test binary an external consumer.
fn this_as_consumer() -> String {
    let exe = std::env::current_exe().unwrap();
    format!(
        "{} be_an_external_consumer --exact --quiet --test-threads=1",
        exe.display()
    )
}

fn fbench() -> Command {
    let mut command = Command::cargo_bin("fbench").unwrap();
    command.env("FBENCH_CALIBRATION", "off");
    command
}

/// Segments in /dev/shm created by process `pid`.
fn segments_of(pid: u32) -> Vec<String> {
    std::fs::read_dir("/dev/shm")
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name.starts_with(&format!("fbench-{pid}-")))
                .collect()
        })
        .unwrap_or_default()
}

fn run_shm(out: &Path, consumers: &str, consumer_cmd: &str) -> (std::process::Output, u32) {
    let child = fbench()
        .args([
            "run",
            "--strategy",
            "shm",
            "--consumers",
            consumers,
            "--resolution",
            "160x120",
            "--fps",
            "100",
            "--duration",
            "500ms",
            "--warmup",
            "100ms",
            "--quiet",
            "--consumer-cmd",
            consumer_cmd,
            "--out",
        ])
        .arg(out)
        .arg("--json")
        .arg(out.join("run.json"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    (child.wait_with_output().unwrap(), pid)
}

#[test]
fn external_consumers_are_measured_beside_fbench_own() {
    let dir = tempfile::tempdir().unwrap();
    let command = this_as_consumer();
    let (output, pid) = run_shm(dir.path(), "3", &format!("2:{command}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let run = &json_of(&dir.path().join("run.json"))["runs"][0];
    assert_eq!(run["torn_frames"], 0, "{stderr}");
    assert_eq!(run["out_of_order"], 0);
    assert_eq!(run["consumers_lost"], 0);
    let consumers = run["per_consumer"].as_array().unwrap();
    let kinds: Vec<_> = consumers.iter().map(|c| c["kind"].clone()).collect();
    assert_eq!(kinds, ["external", "external", "fbench"]);
    for c in &consumers[..2] {
        assert_eq!(c["command"], command.as_str());
        assert_eq!(c["workload"], "external");
    }
    assert!(consumers[2].get("command").is_none());
    for c in consumers {
        assert_eq!(c["status"], "ok", "{stderr}");
        assert!(c["frames_seen"].as_u64().unwrap() > 0);
        // Measured by the same definitions: every frame seen has an age, an acquire, an
        // end-to-end time.
        assert_eq!(c["age_ns"]["count"], c["frames_seen"]);
        assert_eq!(c["e2e_ns"]["count"], c["frames_seen"]);
    }
    assert!(segments_of(pid).is_empty(), "segment left in /dev/shm");
}

/// The bad-input contract: exit 2, one line naming the flag, no report, nothing left.
fn refused(consumers: &str, consumer_cmd: &str, says: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (output, pid) = run_shm(dir.path(), consumers, consumer_cmd);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.starts_with("error: "), "{stderr}");
    assert!(last.contains("--consumer-cmd"), "{stderr}");
    assert!(last.contains(says), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!dir.path().join("run.json").exists(), "no report");
    assert!(segments_of(pid).is_empty(), "segment left in /dev/shm");
}

#[test]
fn a_command_not_found_is_refused_before_the_run() {
    refused(
        "2",
        "/nonexistent/consumer --flag",
        "not an executable file",
    );
    refused(
        "2",
        "no-such-consumer-program-here",
        "not an executable file",
    );
}

#[test]
fn a_command_that_exits_at_once_is_refused() {
    refused("2", "1:false", "exited before attaching");
}

#[test]
fn a_command_with_a_thread_strategy_is_refused() {
    let out = tempfile::tempdir().unwrap();
    let output = fbench()
        .args([
            "run",
            "--strategy",
            "mutex",
            "--consumer-cmd",
            "true",
            "--quiet",
        ])
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--consumer-cmd"), "{stderr}");
    assert!(stderr.contains("cross-process strategy"), "{stderr}");
}
