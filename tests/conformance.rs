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
    // One line per property, each named.
    let pool: Vec<&str> = stdout.lines().filter(|l| l.starts_with("pool ")).collect();
    assert_eq!(pool.len(), 7, "{stdout}");
    assert!(
        stdout.contains("pool          ok    no_torn_frames_and_monotonic\n"),
        "{stdout}"
    );
    assert!(pool.iter().all(|l| l.contains(" ok ")), "{stdout}");
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
        stdout.contains(
            "shm-naive     FAIL  processes_no_torn_frames_and_monotonic: consumer processes saw"
        ),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error: conformance failed: shm-naive"),
        "{stderr}"
    );
}

/// A failed in-process property is named with the check's own reason on its line (the
/// reader thread's assertion, not a `JoinError`), and the panic text is not dumped on stderr.
/// `unsync` tears frames by design: a producer lapping eight readers shows it.
#[test]
fn a_failed_property_says_which_and_why_in_one_line() {
    let output = fbench()
        .args(["conformance", "--strategy", "unsync"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 7, "{stdout}");
    // Properties that do not depend on the race pass.
    assert!(
        stdout.contains("unsync        ok    nothing_before_first_publish\n"),
        "{stdout}"
    );
    let torn = lines
        .iter()
        .find(|l| l.starts_with("unsync        FAIL  no_torn_frames_and_monotonic: reader "))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(torn.contains(" saw a torn frame (seq "), "{torn}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.starts_with("error: conformance failed: unsync: no_torn_frames_and_monotonic"),
        "{stderr}"
    );
}
