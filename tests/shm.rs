//! The cross-process strategies from the outside: consumers are processes, frames never tear
//! under `shm` while `shm-naive` tears them, and the lifecycle holds on every path — a
//! consumer killed with SIGKILL, Ctrl-C or SIGTERM to the parent, segments left by a killed
//! run. Nothing here asserts on time.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{alive, json_of, report_of, run_process_of, segments_of, wait_for_consumers};

fn fbench() -> Command {
    common::fbench_process()
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

/// Issue 25 item 1, across processes: at the default slot count (consumers + 2), two reader
/// processes of six that stop while each holds a frame cost the writer no frame, while the
/// writer takes the lowest free slot. Not a matter of timing: the slot protocol guarantees it
/// for any interleaving (`strategies/src/shm/mod.rs`, *Why consumers + 2 slots*), so the
/// counts below hold however the consumers are scheduled.
#[test]
fn two_stalled_reader_processes_of_six_cost_no_producer_drop() {
    let report = report_of(&[
        "run",
        "--strategy",
        "shm",
        "--no-ideal",
        "--consumers",
        "6",
        "--resolution",
        "64x48",
        "--fps",
        "100",
        "--duration",
        "1500ms",
        "--warmup",
        "200ms",
        "--fault",
        "stall:0@200ms:1s",
        "--fault",
        "stall:1@300ms:1s",
    ]);
    let run = &report["runs"][0];
    assert_eq!(run["config"]["slots"], 8, "the default: consumers + 2");
    assert_eq!(run["config"]["slot_policy"], "drop");
    assert_eq!(run["frames"]["producer_drops"], 0, "{}", run["frames"]);
    assert_eq!(run["torn_frames"], 0);
    assert_eq!(run["out_of_order"], 0);
    assert_eq!(run["lost_wakeups"], 0);
    assert_eq!(run["consumers_lost"], 0);
    for (text, consumer) in [("stall:0@200ms:1s", 0), ("stall:1@300ms:1s", 1)] {
        let stall = run["faults"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["fault"] == text)
            .unwrap_or_else(|| panic!("{text} in {}", run["faults"]));
        assert_eq!(stall["consumer"], consumer);
        assert_eq!(stall["consumer_status"], "ok");
        assert_eq!(stall["producer"]["producer_drops"], 0, "{stall}");
    }
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

/// Held by the tests that run `fbench clean` or plant stale segments, which would otherwise
/// remove each other's plants.
static CLEANING: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn clean_removes_a_stale_segment_and_run_warns_about_it() {
    let _cleaning = CLEANING.lock().unwrap_or_else(|e| e.into_inner());
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

/// Start `program run -s shm` with `consumers` consumers for `duration`, at 480p, its report
/// in `report`.
fn start_shm_run(
    program: &Path,
    consumers: &str,
    duration: &str,
    report: &Path,
) -> std::process::Child {
    Command::new(program)
        .env("FBENCH_RETRIES", "0")
        .args([
            "run",
            "--strategy",
            "shm",
            "--consumers",
            consumers,
            "--resolution",
            "480p",
            "--duration",
            duration,
            "--warmup",
            "200ms",
            "--quiet",
            "--json",
        ])
        .arg(report)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn fbench_path() -> std::path::PathBuf {
    fbench().get_program().into()
}

fn stderr_of(child: &mut std::process::Child) -> String {
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    stderr
}

#[test]
fn clean_leaves_a_live_run_started_through_a_symlink_and_removes_a_killed_ones() {
    let _cleaning = CLEANING.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    // Another name for the binary: liveness must not depend on what it is called.
    let renamed = dir.path().join("my-camera-bench");
    std::os::unix::fs::symlink(fbench_path(), &renamed).unwrap();
    let report = dir.path().join("live.json");
    let mut live = start_shm_run(&renamed, "2", "3s", &report);
    wait_for_consumers(live.id(), 2);
    let segment = segments_of(live.id());
    assert_eq!(segment.len(), 1, "{segment:?}");
    let segment = Path::new("/dev/shm").join(&segment[0]);
    let output = fbench().arg("clean").output().unwrap();
    assert!(output.status.success());
    assert!(segment.exists(), "clean removed a live run's segment");
    let status = live.wait().unwrap();
    let stderr = stderr_of(&mut live);
    assert!(status.success(), "{stderr}");
    let run = &json_of(&report)["runs"][0];
    assert_eq!(run["consumers_lost"], 0, "{stderr}");
    assert!(!segment.exists());

    // The same run killed outright: its segment stays until `fbench clean`.
    let mut killed = start_shm_run(&fbench_path(), "2", "60s", &dir.path().join("k.json"));
    let consumers = wait_for_consumers(killed.id(), 2);
    let segment = Path::new("/dev/shm").join(&segments_of(killed.id())[0]);
    // SIGKILL to the run process (which made the segment), then to fbench: no cleanup runs.
    let run_pid = run_process_of(killed.id());
    // SAFETY: kill(2) on a pid we just found as our grandchild; no memory is involved.
    assert_eq!(unsafe { libc::kill(run_pid as i32, libc::SIGKILL) }, 0);
    killed.kill().unwrap();
    killed.wait().unwrap();
    // The consumers die with their parent (PR_SET_PDEATHSIG).
    let deadline = Instant::now() + Duration::from_secs(20);
    while consumers.iter().any(|&(_, pid)| alive(pid)) {
        assert!(Instant::now() < deadline, "consumers outlived their parent");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        segment.exists(),
        "a SIGKILLed run cannot remove its segment"
    );
    let output = fbench().arg("clean").output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    assert!(
        stdout.contains(&format!("removed {}", segment.display())),
        "{stdout}"
    );
    assert!(!segment.exists());
}

/// The arguments of consumer `pid`'s command line, after the program.
fn args_of(pid: u32) -> Vec<String> {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    cmdline
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .skip(1)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// Wait until reader entry `id` of the segment at `path` has an owner (the layout is in
/// `strategies/src/shm/mod.rs`: slot count at byte 12 of the header, slot headers from byte
/// 256, 64 bytes each, then 64-byte reader entries with the owner at byte 4).
fn wait_for_owner(path: &Path, id: u64) {
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::open(path).unwrap();
    let word = |offset: u64| {
        let mut bytes = [0u8; 4];
        file.read_exact_at(&mut bytes, offset).unwrap();
        u32::from_ne_bytes(bytes) as u64
    };
    let owner_at = 256 + word(12) * 64 + id * 64 + 4;
    let deadline = Instant::now() + Duration::from_secs(30);
    while word(owner_at) == 0 {
        assert!(Instant::now() < deadline, "reader {id} never attached");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_second_consumer_on_a_taken_reader_slot_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let mut run = start_shm_run(&fbench_path(), "2", "3s", &report);
    let consumers = wait_for_consumers(run.id(), 2);
    let segment = Path::new("/dev/shm").join(&segments_of(run.id())[0]);
    wait_for_owner(&segment, 1);
    // Exactly what fbench started consumer 1 with, by hand.
    let output = fbench().args(args_of(consumers[1].1)).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("reader slot 1 is already taken"),
        "{stderr}"
    );
    let status = run.wait().unwrap();
    let stderr = stderr_of(&mut run);
    assert!(status.success(), "{stderr}");
    let run = &json_of(&report)["runs"][0];
    assert_eq!(run["consumers_lost"], 0);
    assert_eq!(run["torn_frames"], 0);
}

#[test]
fn hidden_consumer_arguments_are_checked_like_flags() {
    let base = [
        "__consumer",
        "--segment",
        "fbench-1-0-none",
        "--workload",
        "inspect",
        "--wait",
        "block",
        "--verify",
        "full",
        "--deadline-ns",
        "1000",
    ];
    for (extra, flag) in [
        (
            ["--id", "0", "--frame-len", "100", "--interval-ns", "0"],
            "--interval-ns",
        ),
        (
            [
                "--id",
                "0",
                "--frame-len",
                "0",
                "--interval-ns",
                "1000000000",
            ],
            "--frame-len",
        ),
        (
            [
                "--id",
                "99999",
                "--frame-len",
                "100",
                "--interval-ns",
                "1000000000",
            ],
            "--id",
        ),
    ] {
        let output = fbench().args(base).args(extra).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flag}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{flag}: {stderr}");
        assert!(stderr.contains(flag), "{flag}: {stderr}");
    }
    // Well-formed, but no such run: refused the same way.
    let output = fbench()
        .args(base)
        .args(["--id", "0", "--frame-len", "100"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn garbage_written_into_a_live_segment_ends_its_consumers_as_corrupt_segment() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let mut run = start_shm_run(&fbench_path(), "2", "2s", &report);
    wait_for_consumers(run.id(), 2);
    let segment = Path::new("/dev/shm").join(&segments_of(run.id())[0]);
    std::thread::sleep(Duration::from_millis(500));
    // Another process scribbles over the header, magic first.
    std::os::unix::fs::FileExt::write_at(
        &std::fs::OpenOptions::new()
            .write(true)
            .open(&segment)
            .unwrap(),
        b"GARBAGE!",
        0,
    )
    .unwrap();
    run.wait().unwrap();
    let stderr = stderr_of(&mut run);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("corrupt segment"), "{stderr}");
    // However the run's end is judged with every consumer lost, a report names the cause.
    if report.exists() {
        let statuses: Vec<String> = json_of(&report)["runs"][0]["per_consumer"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["status"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(statuses, ["corrupt segment", "corrupt segment"]);
    }
    assert!(!segment.exists());
}

#[test]
fn a_sigbus_on_the_segment_is_one_line_exit_2_and_nothing_left() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let mut run = start_shm_run(&fbench_path(), "2", "60s", &report);
    let consumers = wait_for_consumers(run.id(), 2);
    let segment = Path::new("/dev/shm").join(&segments_of(run.id())[0]);
    wait_for_owner(&segment, 0);
    wait_for_owner(&segment, 1);
    // Another process takes the pages away under the mapping: the next touch is a SIGBUS,
    // as when a /dev/shm without room for a page is touched.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .unwrap()
        .set_len(0)
        .unwrap();
    let status = run.wait().unwrap();
    let stderr = stderr_of(&mut run);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("(SIGBUS)"), "{stderr}");
    assert!(
        stderr
            .lines()
            .all(|line| line.starts_with("error: shared memory:")),
        "{stderr}"
    );
    assert!(!segment.exists(), "the segment is removed");
    assert!(!report.exists(), "no report");
    let deadline = Instant::now() + Duration::from_secs(20);
    while consumers.iter().any(|&(_, pid)| alive(pid)) {
        assert!(Instant::now() < deadline, "consumers left running");
        std::thread::sleep(Duration::from_millis(20));
    }
}
