//! `fbench conformance`: the suite on strategies by name; cross-process strategies through
//! runs with reader processes. Judged on what it prints and its exit code.

mod common;
use common::fbench;

#[test]
fn conforming_strategies_pass_in_process_and_with_reader_processes() {
    let output = fbench()
        .args(["conformance", "--strategy", "pool,shm"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("pool          ok    in-process suite"),
        "{stdout}"
    );
    // shm's readers are processes: four checks through runs, all ok.
    let shm: Vec<&str> = stdout.lines().filter(|l| l.starts_with("shm ")).collect();
    assert_eq!(shm.len(), 4, "{stdout}");
    assert!(shm.iter().all(|l| l.contains(" ok ")), "{stdout}");
}

/// The variant with reader processes has teeth: the seeds' naive triple buffer tears frames
/// across processes, and the command says so and fails.
#[test]
fn the_naive_triple_buffer_fails_with_reader_processes() {
    let output = fbench()
        .args(["conformance", "--strategy", "shm-naive"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("shm-naive     FAIL  reader processes: no torn frame"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error: conformance failed: shm-naive"),
        "{stderr}"
    );
}
