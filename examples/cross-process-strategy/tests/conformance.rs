//! fbench's conformance suite on the seqlock: the in-process suite on a real segment (the
//! producer's own readers), the cross-process variant through this crate's binary (reader
//! processes, one SIGKILLed holding a frame), and the clean hook.

use std::process::Command;

use fbench::strategies::CrossProcess;
use fbench_cross_process_strategy::SeqLock;

// Readers in the producer's process, over a real segment: one #[test] per property.
fbench::strategies::conformance_tests!(seqlock_in_one_process, |params| {
    SeqLock::create(params, &fbench::strategies::shm::unique_name()).unwrap()
});

/// The variant with reader processes, as `cargo bench --bench frames -- conformance -s
/// seqlock` runs it: four properties, each `ok`.
#[test]
fn reader_processes_conform() {
    let output = Command::new(env!("CARGO_BIN_EXE_seqlock"))
        .args(["conformance", "--strategy", "seqlock"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert!(
        lines.iter().all(|l| l.starts_with("seqlock       ok    ")),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok    process_killed_holding_a_frame_is_reclaimed"),
        "{stdout}"
    );
}

/// A pid no process has: the producer of a run killed outright.
fn dead_pid() -> u32 {
    (1..1000)
        .map(|n| 4_194_000 - n)
        .find(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists())
        .unwrap()
}

/// What `fbench clean` calls: a segment of a dead producer's run goes, a live run's stays.
#[test]
fn clean_removes_a_killed_runs_segment_only() {
    let dead = format!("/dev/shm/fbench-{}-0-seqlock", dead_pid());
    std::fs::write(&dead, b"left by a SIGKILLed producer").unwrap();
    let live = SeqLock::create(
        &fbench::strategies::StrategyParams::new(4096, 2),
        &fbench::strategies::shm::unique_name(),
    )
    .unwrap();
    let removed = SeqLock::clean().unwrap();
    assert!(removed.contains(&dead), "{removed:?}");
    assert!(!std::path::Path::new(&dead).exists());
    let live_path = format!("/dev/shm/{}", live.segment_name());
    assert!(!removed.contains(&live_path), "{removed:?}");
    assert!(std::path::Path::new(&live_path).exists());
    drop(live);
    assert!(!std::path::Path::new(&live_path).exists(), "Drop unlinks");
}
