//! The run pipeline from the outside: every run in its own process (a leak in one run is not
//! in the next one's memory), a crashed run process is an error naming the run, and a
//! signal to fbench stops the run process and leaves nothing behind. Nothing here asserts
//! on time.

use std::process::Stdio;
use std::time::{Duration, Instant};

mod common;
use common::{fbench, fbench_process, json_of};

/// A `__trial` process that runs a run (not the one that calibrates before the runs).
fn is_run_process(cmdline: &[u8]) -> bool {
    let mut args = cmdline.split(|&b| b == 0);
    args.clone().any(|a| a == b"__trial") && !args.any(|a| a == b"--calibrate")
}

/// The parent pid of `pid`, from /proc.
fn ppid_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(1))
        .and_then(|p| p.parse::<u32>().ok())
}

/// The `__trial` child of `parent` running now, if any.
fn run_process_of(parent: u32) -> Option<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .find(|&pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            ppid_of(pid) == Some(parent) && is_run_process(&cmdline)
        })
}

fn wait_for_run_process(parent: u32) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(pid) = run_process_of(parent) {
            return pid;
        }
        assert!(Instant::now() < deadline, "no run process started");
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
    // A zombie is not running: it only waits for its parent to reap it.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .is_some_and(|state| state != "Z")
        })
        .unwrap_or(false)
}

/// Trial 1's run process keeps 100 MB it never frees (the test hook
/// `FBENCH_TEST_LEAK_TRIAL`); trial 2 runs in a fresh process and does not carry it.
#[test]
fn a_leak_in_one_run_is_not_in_the_next_ones_memory() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("leak.json");
    let output = fbench()
        .env("FBENCH_TEST_LEAK_TRIAL", "1")
        .args([
            "run", "-s", "mutex", "-c", "1", "-r", "480p", "--fps", "60", "-d", "300ms",
            "--warmup", "50ms", "--repeat", "2", "--quiet", "--json",
        ])
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = json_of(&json);
    let runs = report["runs"].as_array().unwrap();
    let pss = |trial: u64| {
        let run = runs.iter().find(|r| r["trial"] == trial).unwrap();
        run["memory"]["peak_pss_bytes"].as_u64().unwrap()
    };
    let leaked = 100 * 1024 * 1024;
    assert!(
        pss(1) >= leaked,
        "trial 1 carries its own leak: {} bytes",
        pss(1)
    );
    assert!(
        pss(2) + leaked / 2 < pss(1),
        "trial 2 does not carry trial 1's leak: {} then {} bytes",
        pss(1),
        pss(2)
    );
}

/// A run process killed outright: fbench exits 1 with one line naming the strategy and the
/// point, and removes the segment the dead process left.
#[test]
fn a_crashed_run_process_is_an_error_naming_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("never.json");
    let parent = fbench_process()
        .args([
            "run", "-s", "shm", "-c", "2", "-r", "480p", "-d", "60s", "--quiet", "--json",
        ])
        .arg(&report)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let run = wait_for_run_process(parent.id());
    let deadline = Instant::now() + Duration::from_secs(60);
    while segments_of(run).is_empty() {
        assert!(Instant::now() < deadline, "the run never made its segment");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: kill(2) on our grandchild, found just above; no memory is involved.
    assert_eq!(unsafe { libc::kill(run as i32, libc::SIGKILL) }, 0);
    let output = parent.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the shm run (2 consumers, 640x480, 30 fps)")
            && stderr.contains("killed by signal 9"),
        "{stderr}"
    );
    assert!(
        segments_of(run).is_empty(),
        "the dead run's segment was removed"
    );
    assert!(!report.exists(), "no report after a failed run");
}

/// SIGTERM (or SIGHUP's sibling SIGINT) to fbench alone: it forwards the stop to the run
/// process, which cleans up; fbench exits 130, writes nothing, leaves no process.
fn signal_to_fbench_alone(signal: i32) {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("never.json");
    let mut parent = fbench_process()
        .args([
            "run",
            "-s",
            "shm,mutex",
            "-c",
            "2",
            "-r",
            "480p",
            "-d",
            "60s",
            "--quiet",
            "--json",
        ])
        .arg(&report)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let run = wait_for_run_process(parent.id());
    std::thread::sleep(Duration::from_millis(800));
    // SAFETY: kill(2) on our own child process; no memory is involved.
    assert_eq!(unsafe { libc::kill(parent.id() as i32, signal) }, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = parent.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "fbench did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut parent.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(!alive(run), "the run process {run} left running");
    assert!(segments_of(run).is_empty(), "segment left in /dev/shm");
    assert!(!report.exists(), "no report after an interruption");
}

#[test]
fn sigterm_to_fbench_alone_stops_the_run_process() {
    signal_to_fbench_alone(libc::SIGTERM);
}

#[test]
fn sigint_to_fbench_alone_stops_the_run_process() {
    signal_to_fbench_alone(libc::SIGINT);
}

/// `--each-trial`: every trial of a repeated configuration is its own row, numbered, in the
/// table and the Markdown; without it one row stands for the trials (the median one). The
/// JSON keeps every trial either way.
#[test]
fn each_trial_shows_every_trial_as_its_own_row() {
    let dir = tempfile::tempdir().unwrap();
    let run = |each_trial: bool, name: &str| {
        let json = dir.path().join(format!("{name}.json"));
        let mut command = fbench();
        command.env("FBENCH_CALIBRATION", "off").args([
            "run", "-s", "pool", "-c", "1", "-r", "160x120", "--fps", "60", "-d", "200ms",
            "--warmup", "50ms", "--repeat", "2", "--export", "md", "--json",
        ]);
        command.arg(&json);
        if each_trial {
            command.arg("--each-trial");
        }
        let output = command.output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let table = String::from_utf8_lossy(&output.stdout).into_owned();
        let markdown = std::fs::read_to_string(json.with_extension("md")).unwrap();
        (table, markdown, json_of(&json))
    };

    let (table, markdown, report) = run(true, "each");
    for row in ["pool trial 1", "pool trial 2"] {
        assert!(table.contains(row), "{row} in the table:\n{table}");
        assert!(markdown.contains(row), "{row} in the Markdown:\n{markdown}");
    }
    assert_eq!(report["runs"].as_array().unwrap().len(), 2);

    let (table, markdown, report) = run(false, "median");
    assert!(!table.contains("pool trial"), "one row:\n{table}");
    assert!(!markdown.contains("pool trial"), "one row:\n{markdown}");
    assert_eq!(report["runs"].as_array().unwrap().len(), 2);
}
