//! iceoryx2 (`--features peers`) under killed processes: a consumer SIGKILLed mid-run is
//! reported crashed while the run completes and leaves nothing behind, and `fbench clean`
//! removes what a run killed outright left. iceoryx2 keeps its files under /tmp/iceoryx2 and
//! /dev/shm/iox2_*; other programs (or other fbench runs) may have files there too, so the
//! checks are "nothing of ours is left": the files after are a subset of the files before.
#![cfg(feature = "peers")]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

mod common;
use common::{alive, consumers_of, fbench, json_of, run_process_of};

/// Every iceoryx2 file on the machine except the one management file it keeps by design.
fn iceoryx2_files() -> BTreeSet<PathBuf> {
    fn walk(dir: &Path, out: &mut BTreeSet<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.insert(path);
            }
        }
    }
    let mut files = BTreeSet::new();
    walk(Path::new("/tmp/iceoryx2"), &mut files);
    for entry in std::fs::read_dir("/dev/shm")
        .unwrap()
        .filter_map(Result::ok)
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("iox2_") && !name.ends_with("global_mgmt") {
            files.insert(entry.path());
        }
    }
    files
}

fn left_behind(before: &BTreeSet<PathBuf>) -> Vec<PathBuf> {
    iceoryx2_files().difference(before).cloned().collect()
}

/// Serialises the tests of this file: a run that reclaims a dead consumer cleans every dead
/// iceoryx2 node it finds, including those another test is about to check.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    // A deadline only turns a hang into a failure; nothing asserts on how long it took.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_sigkilled_iceoryx2_consumer_is_reported_crashed_and_nothing_is_left() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let before = iceoryx2_files();
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("kill.json");
    let parent = common::fbench_process()
        .args(["run", "--strategy", "iceoryx2", "--consumers", "3"])
        .args(["--resolution", "320x240", "--fps", "100"])
        .args(["--duration", "3s", "--warmup", "100ms", "--quiet", "--json"])
        .arg(&report)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = parent.id();
    wait_for("the consumers never started", || {
        consumers_of(pid).len() == 3
    });
    // Each consumer's subscribers connect to the frames and start services before it counts
    // itself ready; the parent says go as soon as all three are. Mid-run is then a moment
    // later: the margin only keeps the kill off the start barrier.
    wait_for("the consumers never connected", || {
        left_behind(&before)
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "connection"))
            .count()
            >= 6
    });
    std::thread::sleep(Duration::from_millis(1000));
    let (_, victim) = consumers_of(pid)[1];
    // SIGKILL from outside, as a crash: the parent did not ask for it.
    // SAFETY: kill(2) on a pid we just read as our run's child; no memory is involved.
    assert_eq!(unsafe { libc::kill(victim as i32, libc::SIGKILL) }, 0);
    let output = parent.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!alive(victim));
    let run = &json_of(&report)["runs"][0];
    assert_eq!(run["strategy"], "iceoryx2");
    assert_eq!(run["consumers_lost"], 1);
    let statuses: Vec<&str> = run["per_consumer"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["ok", "crashed", "ok"]);
    assert_eq!(run["torn_frames"], 0);
    assert_eq!(left_behind(&before), Vec::<PathBuf>::new());
}

#[test]
fn clean_removes_what_a_killed_iceoryx2_run_left() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let before = iceoryx2_files();
    let dir = tempfile::tempdir().unwrap();
    let mut parent = common::fbench_process()
        .args(["run", "--strategy", "iceoryx2", "--consumers", "2"])
        .args(["--resolution", "320x240", "--duration", "60s", "--quiet"])
        .arg("--out")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = parent.id();
    wait_for("the consumers never started", || {
        consumers_of(pid).len() == 2
    });
    let children: Vec<u32> = consumers_of(pid).into_iter().map(|(_, pid)| pid).collect();
    // Mid-run, as for the consumer kill above: killed while iceoryx2 is still creating a
    // node, a process leaves a partial node record that iceoryx2 itself cannot list (so
    // neither it nor `fbench clean` can attribute or remove it); that is not this test.
    wait_for("the consumers never connected", || {
        left_behind(&before)
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "connection"))
            .count()
            >= 4
    });
    std::thread::sleep(Duration::from_millis(1000));
    // SIGKILL to the run process, then to fbench: nothing of fbench's own cleanup runs.
    let run = run_process_of(pid);
    // SAFETY: kill(2) on a pid we just found as our grandchild; no memory is involved.
    assert_eq!(unsafe { libc::kill(run as i32, libc::SIGKILL) }, 0);
    parent.kill().unwrap();
    parent.wait().unwrap();
    // The consumers die with the parent (PR_SET_PDEATHSIG).
    wait_for("the consumers outlived the parent", || {
        children.iter().all(|&c| !alive(c))
    });
    let left = left_behind(&before);
    assert!(!left.is_empty(), "a killed run leaves files");

    let output = fbench().arg("clean").output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("removed the iceoryx2 resources of"),
        "{stdout}; left before clean: {left:#?}"
    );
    assert_eq!(left_behind(&before), Vec::<PathBuf>::new());
}
