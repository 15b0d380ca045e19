//! A run's lifecycle when things go wrong at run time: consumers killed or stopped, signals
//! to the parent in every phase, workloads longer than the run. Each test drives the binary
//! as a user would (signals found by /proc, bounded waits) and checks what the user sees —
//! exit code, stderr, report fields — and that nothing is left behind (no segment, no
//! consumer process). The waits are bounds for a hung run, never assertions on speed.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt as _;

mod common;
use common::{alive, json_of, segments_of, wait_for_consumers};

/// `fbench run` of `strategy` with consumers and flags, report to `json`, spawned.
fn spawn_run(strategy: &str, consumers: &str, extra: &[&str], json: &std::path::Path) -> Child {
    Command::cargo_bin("fbench")
        .unwrap()
        .env("FBENCH_CALIBRATION", "off")
        // One try per run: a re-run on a busy machine would start consumers this test did
        // not stop or kill.
        .env("FBENCH_RETRIES", "0")
        .args(["run", "--strategy", strategy, "--consumers", consumers])
        .args(["--resolution", "480p", "--warmup", "200ms"])
        .args(extra)
        .arg("--out")
        .arg(json.parent().unwrap())
        .arg("--json")
        .arg(json)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for `child` to end (at most `bound`; kills it and fails the test past that) and
/// returns its exit code, stdout and stderr.
fn finish(mut child: Child, bound: Duration) -> (Option<i32>, String, String) {
    let deadline = Instant::now() + bound;
    // Read the pipes on the side, so a chatty child cannot block on a full pipe.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let stdout = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut out, &mut text);
        text
    });
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut text);
        text
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("fbench did not end within {bound:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (
        status.code(),
        stdout.join().unwrap(),
        stderr.join().unwrap(),
    )
}

fn signal(pid: u32, signal: i32) {
    // SAFETY: kill(2) on a process this test started or found as its grandchild; no memory
    // is involved.
    assert_eq!(unsafe { libc::kill(pid as i32, signal) }, 0);
}

#[test]
fn a_run_whose_consumers_all_died_has_no_figures_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("dead.json");
    let md = dir.path().join("dead.md");
    let run = spawn_run("shm", "2", &["--duration", "3s"], &json);
    let pid = run.id();
    let consumers = wait_for_consumers(pid, 2);
    std::thread::sleep(Duration::from_millis(700));
    for &(_, consumer) in &consumers {
        signal(consumer, libc::SIGKILL);
    }
    let (code, stdout, stderr) = finish(run, Duration::from_secs(60));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("lost every consumer"), "{stderr}");
    assert!(
        stderr.contains("warning: lost consumers: shm x2 lost 2 of 2"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stdout.contains("no consumer survived"), "{stdout}");
    let report = json_of(&json);
    let run = &report["runs"][0];
    assert_eq!(run["consumers_lost"], 2);
    for field in ["mean", "p50", "p99", "p999", "max", "ci95"] {
        assert!(
            run["age_ns"][field].is_null(),
            "age_ns.{field}: {}",
            run["age_ns"]
        );
    }
    assert_eq!(run["age_ns"]["count"], 0);
    let html = std::fs::read_to_string(json.with_extension("html")).unwrap();
    assert!(html.contains("consumers lost"));
    assert!(
        html.contains("2 of 2"),
        "the HTML summary names the lost consumers"
    );
    // The report reads back (null figures and all) and renders Markdown with dashes.
    let output = Command::cargo_bin("fbench")
        .unwrap()
        .arg("report")
        .arg(&json)
        .arg("--output")
        .arg(&md)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let markdown = std::fs::read_to_string(&md).unwrap();
    assert!(markdown.contains("consumers lost"), "{markdown}");
    assert!(
        markdown.contains("| — |"),
        "unmeasured figures are dashes: {markdown}"
    );
    assert!(segments_of(pid).is_empty(), "segment left in /dev/shm");
}

#[test]
fn a_stopped_consumer_is_marked_stalled_killed_and_the_run_completes() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("stopped.json");
    let run = spawn_run("shm", "3", &["--duration", "2s"], &json);
    let pid = run.id();
    let consumers = wait_for_consumers(pid, 3);
    std::thread::sleep(Duration::from_millis(500));
    let victim = consumers[1].1;
    signal(victim, libc::SIGSTOP);
    // Duration + warm-up + the 5 s grace, with room for a loaded machine.
    let (code, stdout, stderr) = finish(run, Duration::from_secs(60));
    assert_eq!(
        code,
        Some(0),
        "one lost consumer does not fail the run: {stderr}"
    );
    let report = json_of(&json);
    let run = &report["runs"][0];
    let statuses: Vec<&str> = run["per_consumer"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["ok", "stalled", "ok"]);
    assert_eq!(run["consumers_lost"], 1);
    assert!(run["per_consumer"][1]["drop_rate"].is_null());
    // The survivors' figures are there.
    assert!(run["age_ns"]["count"].as_u64().unwrap() > 0);
    assert!(stderr.contains("lost 1 of 3 (1 stalled)"), "{stderr}");
    assert!(
        stdout.contains("figures are over the 2 that reported"),
        "{stdout}"
    );
    assert!(!alive(victim), "the stopped consumer was killed and reaped");
    assert!(segments_of(pid).is_empty(), "segment left in /dev/shm");
}

/// `--workload sleep:100h` and a signal once the run is under way: exit 130, no report, no
/// segment, no consumer left.
fn a_long_workload_ends_on(strategy: &str, sig: i32) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("never.json");
    let run = spawn_run(
        strategy,
        "2",
        &["--duration", "1s", "--workload", "sleep:100h"],
        &json,
    );
    let pid = run.id();
    let consumers = if strategy == "shm" {
        wait_for_consumers(pid, 2)
    } else {
        Vec::new()
    };
    // Past the end of the producer: the consumers sleep in their first frame.
    std::thread::sleep(Duration::from_millis(2_000));
    signal(pid, sig);
    let (code, _, stderr) = finish(run, Duration::from_secs(20));
    assert_eq!(code, Some(130), "{strategy}, signal {sig}: {stderr}");
    let name = match sig {
        libc::SIGINT => "SIGINT",
        libc::SIGHUP => "SIGHUP",
        libc::SIGQUIT => "SIGQUIT",
        _ => "SIGTERM",
    };
    assert!(
        stderr.contains(&format!("interrupted by {name}")),
        "{stderr}"
    );
    assert!(!json.exists(), "no report after an interruption");
    assert!(segments_of(pid).is_empty(), "segment left in /dev/shm");
    for (_, consumer) in consumers {
        assert!(!alive(consumer), "consumer {consumer} left running");
    }
}

#[test]
fn ctrl_c_ends_a_sleep_workload_of_processes() {
    a_long_workload_ends_on("shm", libc::SIGINT);
}

#[test]
fn ctrl_c_ends_a_sleep_workload_of_threads() {
    a_long_workload_ends_on("mutex", libc::SIGINT);
}

#[test]
fn sighup_is_handled_like_sigterm() {
    a_long_workload_ends_on("shm", libc::SIGHUP);
}

#[test]
fn sigquit_is_handled_like_sigterm() {
    a_long_workload_ends_on("mutex", libc::SIGQUIT);
}

#[test]
fn sigterm_ends_a_run_waiting_for_a_stopped_consumer() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("never.json");
    let run = spawn_run("shm", "2", &["--duration", "1s"], &json);
    let pid = run.id();
    let consumers = wait_for_consumers(pid, 2);
    signal(consumers[0].1, libc::SIGSTOP);
    // The producer has ended; the parent waits for the stopped consumer's report.
    std::thread::sleep(Duration::from_millis(2_500));
    signal(pid, libc::SIGTERM);
    let (code, _, stderr) = finish(run, Duration::from_secs(20));
    assert_eq!(code, Some(130), "{stderr}");
    assert!(segments_of(pid).is_empty(), "segment left in /dev/shm");
    for (_, consumer) in consumers {
        assert!(!alive(consumer), "consumer {consumer} left running");
    }
}
