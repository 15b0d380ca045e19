//! The cross-process strategies from the outside: consumers are processes, frames never tear
//! under `shm` while `shm-naive` tears them, and the lifecycle holds on every path — a
//! consumer killed with SIGKILL, Ctrl-C or SIGTERM to the parent, segments left by a killed
//! run. Nothing here asserts on time.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::json_of;

fn fbench() -> Command {
    common::fbench_process()
}
/// A `__trial` process that runs a run (not the one that calibrates before the runs).
fn is_run_process(cmdline: &[u8]) -> bool {
    let mut args = cmdline.split(|&b| b == 0);
    args.clone().any(|a| a == b"__trial") && !args.any(|a| a == b"--calibrate")
}

/// The parent pid of `pid`, from /proc.
fn ppid_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // ppid is the second field after the parenthesised command name
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(1))
        .and_then(|p| p.parse::<u32>().ok())
}

/// The process that runs the run: fbench runs each run in a `__trial` child of its own.
fn run_process_of(parent: u32) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        for entry in std::fs::read_dir("/proc").unwrap().filter_map(Result::ok) {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if ppid_of(pid) == Some(parent) && is_run_process(&cmdline) {
                return pid;
            }
        }
        assert!(Instant::now() < deadline, "no run process started");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Consumer processes of the run `parent` started: (id, pid).
fn consumers_of(parent: u32) -> Vec<(usize, u32)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().filter_map(Result::ok) {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        // A child of the run process, itself a child of fbench (one process per run).
        let ppid = ppid_of(pid);
        if ppid != Some(parent) && ppid.and_then(ppid_of) != Some(parent) {
            continue;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let args: Vec<String> = cmdline
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if args.iter().any(|a| a == "__consumer") {
            if let Some(i) = args.iter().position(|a| a == "--id") {
                found.push((args[i + 1].parse().unwrap(), pid));
            }
        }
    }
    found.sort();
    found
}

fn wait_for_consumers(parent: u32, count: usize) -> Vec<(usize, u32)> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = consumers_of(parent);
        if found.len() == count {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "consumers never started: {found:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn segments_of(pid: u32) -> Vec<String> {
    std::fs::read_dir("/dev/shm")
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(&format!("fbench-{pid}-")))
        .collect()
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn consumers_are_processes_and_frames_never_tear() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("shm.json");
    let output = fbench()
        .args([
            "run",
            "--strategy",
            "shm",
            "--consumers",
            "4",
            "--resolution",
            "480p",
            "--fps",
            "120",
            "--duration",
            "1s",
            "--warmup",
            "200ms",
            "--quiet",
            "--json",
        ])
        .arg(&report)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let run = &json_of(&report)["runs"][0];
    assert_eq!(run["strategy"], "shm");
    assert_eq!(run["torn_frames"], 0);
    assert_eq!(run["out_of_order"], 0);
    assert_eq!(run["consumers_lost"], 0);
    let consumers = run["per_consumer"].as_array().unwrap();
    assert_eq!(consumers.len(), 4);
    for c in consumers {
        assert_eq!(c["status"], "ok");
        assert!(c["frames_seen"].as_u64().unwrap() > 0);
    }
    assert_eq!(run["copies"]["bytes_copied"], 0);
    // the default, recorded as the count used: consumers + 2
    assert_eq!(run["config"]["slots"], 6);
    assert_eq!(run["config"]["slot_policy"], "drop");
    assert!(run["memory"]["peak_pss_bytes"].as_u64().unwrap() > 0);
    // RSS summed over 5 processes counts the segment 5 times; PSS counts it once.
    assert!(run["memory"]["peak_rss_bytes"].as_u64() > run["memory"]["peak_pss_bytes"].as_u64());
}

#[test]
fn the_naive_triple_buffer_tears_where_shm_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("naive.json");
    // Two slow readers hold each frame for 4 frame periods, and consumer 0 holds one frame for
    // 200 ms (40 frame periods, 10 laps of the slots): the naive writer laps them.
    let output = fbench()
        .args([
            "run",
            "--strategy",
            "shm-naive,shm",
            "--no-ideal",
            "--consumers",
            "3",
            "--resolution",
            "720p",
            "--fps",
            "200",
            "--slow",
            "2:sleep:20ms",
            "--duration",
            "1s",
            "--warmup",
            "200ms",
            "--slots",
            "4",
            "--slot-policy",
            "wait",
            "--fault",
            "stall:0@300ms:200ms",
            "--quiet",
            "--json",
        ])
        .arg(&report)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json = json_of(&report);
    let runs = json["runs"].as_array().unwrap();
    assert_eq!(runs[0]["strategy"], "shm-naive");
    assert!(
        runs[0]["torn_frames"].as_u64().unwrap() > 0,
        "the naive design must be caught tearing frames"
    );
    assert!(
        runs[0]["per_consumer"][0]["torn_frames"].as_u64().unwrap() > 0,
        "the frame consumer 0 held through the laps was torn"
    );
    assert_eq!(runs[1]["strategy"], "shm");
    assert_eq!(runs[1]["torn_frames"], 0);
    // the flags reach the runs (they were once dropped on the way)
    assert_eq!(runs[1]["config"]["slots"], 4);
    assert_eq!(runs[1]["config"]["slot_policy"], "wait");
    assert_eq!(
        runs[1]["frames"]["producer_drops"], 0,
        "the wait policy never drops"
    );
}

#[test]
fn a_consumer_killed_mid_run_is_reported_crashed_and_its_slot_reclaimed() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("kill.json");
    // Consumer 2 takes the first frame and sleeps 30 s holding it: when it is killed it
    // certainly holds a slot.
    let mut parent = fbench()
        .args([
            "run",
            "--strategy",
            "shm",
            "--consumers",
            "3",
            "--resolution",
            "480p",
            "--slow",
            "1:sleep:30s",
            "--duration",
            "2s",
            "--warmup",
            "200ms",
            "--quiet",
            "--json",
        ])
        .arg(&report)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let consumers = wait_for_consumers(parent.id(), 3);
    let run_pid = run_process_of(parent.id());
    std::thread::sleep(Duration::from_millis(700));
    let victim = consumers[2].1;
    // SAFETY: kill(2) on a pid we just found as our grandchild; no memory is involved.
    assert_eq!(unsafe { libc::kill(victim as i32, libc::SIGKILL) }, 0);
    let status = parent.wait().unwrap();
    assert!(status.success(), "the run goes on after a consumer dies");
    let run = &json_of(&report)["runs"][0];
    let statuses: Vec<&str> = run["per_consumer"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["ok", "ok", "crashed"]);
    assert_eq!(run["consumers_lost"], 1);
    assert_eq!(
        run["reclaimed_slots"], 1,
        "the killed consumer's slot came back"
    );
    let lost = &run["per_consumer"][2];
    assert!(
        lost["drop_rate"].is_null(),
        "a lost consumer's figures are not invented"
    );
    assert_eq!(run["torn_frames"], 0);
    assert!(segments_of(run_pid).is_empty());
    assert!(!alive(victim));
}

fn interrupt_mid_run(signal: i32) {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("never.json");
    let mut parent = fbench()
        .args([
            "run",
            "--strategy",
            "shm",
            "--consumers",
            "3",
            "--resolution",
            "480p",
            "--duration",
            "60s",
            "--quiet",
            "--json",
        ])
        .arg(&report)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = parent.id();
    let consumers = wait_for_consumers(pid, 3);
    let run = run_process_of(pid);
    assert_eq!(
        segments_of(run).len(),
        1,
        "the run's segment exists while it runs"
    );
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: kill(2) on our own child process; no memory is involved.
    assert_eq!(unsafe { libc::kill(pid as i32, signal) }, 0);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = parent.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "fbench did not stop after the signal"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut parent.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(segments_of(run).is_empty(), "segment left in /dev/shm");
    assert!(!alive(run), "the run process {run} left running");
    for (_, child) in consumers {
        assert!(!alive(child), "consumer {child} left running");
    }
    assert!(!report.exists(), "no report after an interruption");
}

#[test]
fn ctrl_c_stops_promptly_and_cleans_up() {
    interrupt_mid_run(libc::SIGINT);
}

#[test]
fn sigterm_stops_promptly_and_cleans_up() {
    interrupt_mid_run(libc::SIGTERM);
}

#[test]
fn clean_removes_a_stale_segment_and_run_warns_about_it() {
    // A pid above the kernel's maximum: certainly not a live fbench.
    let planted = Path::new("/dev/shm/fbench-4194306-7");
    std::fs::write(planted, b"left by a killed run").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let output = fbench()
        .args([
            "run",
            "--strategy",
            "mutex",
            "--consumers",
            "1",
            "--resolution",
            "480p",
            "--duration",
            "100ms",
            "--warmup",
            "0s",
            "--json",
        ])
        .arg(dir.path().join("r.json"))
        .output()
        .unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("fbench clean"), "{stderr}");
    let output = fbench().arg("clean").output().unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("removed /dev/shm/fbench-4194306-7"),
        "{stdout}"
    );
    assert!(!planted.exists());
}
