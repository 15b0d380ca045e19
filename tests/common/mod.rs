//! Helpers shared by the command-line tests. Each test file uses some of them.
#![allow(dead_code)]

use std::path::Path;

use assert_cmd::Command;

/// `fbench`, calibrating quickly (every figure, a fraction of the time): tests check that
/// figures exist, never their values. Busy runs are not re-run (`FBENCH_RETRIES=0`): tests
/// running side by side load the machine, and they check figures' presence, not quietness.
pub fn fbench() -> Command {
    let mut command = Command::cargo_bin("fbench").unwrap();
    command.env("FBENCH_CALIBRATION", "quick");
    command.env("FBENCH_RETRIES", "0");
    command
}

/// `fbench` as a plain process (to signal or kill while it runs), with the settings of
/// [`fbench`].
pub fn fbench_process() -> std::process::Command {
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("fbench"));
    command
        .env("FBENCH_CALIBRATION", "quick")
        .env("FBENCH_RETRIES", "0");
    command
}

pub fn json_of(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Runs `fbench <args>` in a fresh directory (with `--out` there and `--quiet` for `run` and
/// `sweep`) and checks the bad-input contract: exit code 2, one `error:` line naming `names`
/// and saying `accepted`, no panic, nothing on stdout, no file written. Returns the line.
pub fn refused(args: &[&str], names: &str, accepted: &str) -> String {
    let out = tempfile::tempdir().unwrap();
    let mut cmd = fbench();
    cmd.args(args).current_dir(out.path());
    if matches!(args.first(), Some(&"run") | Some(&"sweep")) {
        cmd.arg("--out").arg(out.path()).arg("--quiet");
    }
    let output = cmd.output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "{args:?}: one line, got {stderr:?}"
    );
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains(names),
        "{args:?}: {stderr:?} should name {names}"
    );
    assert!(
        stderr.contains(accepted),
        "{args:?}: {stderr:?} should say {accepted:?}"
    );
    assert!(output.stdout.is_empty(), "{args:?}: nothing on stdout");
    let left: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        left.is_empty(),
        "{args:?}: no file may be written: {left:?}"
    );
    stderr
}

/// Runs `fbench <args> --quiet --json <tmp>/report.json`, checks it succeeded, and returns
/// the report. For tests whose point is the report, not how the command was spawned.
pub fn report_of(args: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let output = fbench()
        .args(args)
        .arg("--quiet")
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    json_of(&json)
}

/// The parent pid of `pid`, from /proc.
pub fn ppid_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // ppid is the second field after the parenthesised command name
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(1))
        .and_then(|p| p.parse::<u32>().ok())
}

/// Consumer processes (`__consumer`) of the runs `parent` started: (id, pid), by id. A
/// consumer is a child of the run process, itself a child of fbench (a process per run).
pub fn consumers_of(parent: u32) -> Vec<(usize, u32)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().filter_map(Result::ok) {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
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

/// Waits (at most 30 s) until `parent` has `count` consumer processes and returns them.
pub fn wait_for_consumers(parent: u32, count: usize) -> Vec<(usize, u32)> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let found = consumers_of(parent);
        if found.len() == count {
            return found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "consumers never started: {found:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Segments made by `pid` or by a child of it running now (fbench runs each run in a child
/// process, which makes the segment).
pub fn segments_of(pid: u32) -> Vec<String> {
    let mut makers = vec![pid];
    for entry in std::fs::read_dir("/proc").unwrap().filter_map(Result::ok) {
        if let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() {
            if ppid_of(child) == Some(pid) {
                makers.push(child);
            }
        }
    }
    std::fs::read_dir("/dev/shm")
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| {
            makers
                .iter()
                .any(|m| name.starts_with(&format!("fbench-{m}-")))
        })
        .collect()
}

/// Whether process `pid` exists (a zombie counts: it has not been reaped).
pub fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// A `__trial` process that runs a run (not the one that calibrates before the runs).
pub fn is_run_process(cmdline: &[u8]) -> bool {
    let mut args = cmdline.split(|&b| b == 0);
    args.clone().any(|a| a == b"__trial") && !args.any(|a| a == b"--calibrate")
}

/// The process that runs the run: fbench runs each run in a `__trial` child of its own.
pub fn run_process_of(parent: u32) -> u32 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
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
        assert!(
            std::time::Instant::now() < deadline,
            "no run process started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
