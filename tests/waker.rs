//! `--waker`: the in-process strategies wake readers through the futex by default (as `shm`
//! does) or through a condition variable, and the report records which.

mod common;
use common::{fbench, json_of, refused};

fn run_with(extra: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("waker.json");
    let output = fbench()
        .args([
            "run",
            "--strategy",
            "mutex,arcswap",
            "--consumers",
            "3",
            "--resolution",
            "320x240",
            "--fps",
            "100",
            "--duration",
            "300ms",
            "--warmup",
            "100ms",
            "--quiet",
            "--json",
        ])
        .arg(&report)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    json_of(&report)
}

#[test]
fn the_futex_is_the_default_and_condvar_is_recorded() {
    for (extra, name) in [(&[][..], "futex"), (&["--waker", "condvar"][..], "condvar")] {
        let report = run_with(extra);
        for run in report["runs"].as_array().unwrap() {
            assert_eq!(run["config"]["waker"], name, "{}", run["strategy"]);
            assert_eq!(run["torn_frames"], 0);
            assert!(run["age_ns"]["count"].as_u64().unwrap() > 0);
        }
    }
}

#[test]
fn an_unknown_waker_is_one_line() {
    refused(
        &["run", "--waker", "bell"],
        "--waker",
        "accepted: futex, condvar",
    );
}
