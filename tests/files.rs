//! fbench's files as a hostile or clumsy user meets them: output paths that are not regular
//! files, symbolic links, a reader that leaves early (`| head -1`), a full disk, and
//! `fbench` without a command.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::process::Stdio;

mod common;
use common::fbench;

const SHORT_RUN: [&str; 12] = [
    "--strategy",
    "mutex",
    "--consumers",
    "1",
    "--resolution",
    "480p",
    "--duration",
    "200ms",
    "--warmup",
    "50ms",
    "--no-ideal",
    "--quiet",
];

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path that outlives the call.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn special_files_are_refused_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fifo = d.join("report.json");
    mkfifo(&fifo);
    std::os::unix::fs::symlink("report.json", d.join("to-fifo.md")).unwrap();
    for args in [
        vec!["--json", "report.json"],
        vec!["--json", "out.json", "--summary-md", "to-fifo.md"],
    ] {
        let out = fbench()
            .current_dir(d)
            .arg("run")
            .args(SHORT_RUN)
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("is a FIFO; a report goes to a regular file"),
            "{stderr}"
        );
        assert!(std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo());
        assert_eq!(
            names_in(d),
            ["report.json", "to-fifo.md"],
            "nothing written"
        );
    }
    // `fbench report -o` checks its outputs the same way, before reading anything.
    let out = fbench()
        .current_dir(d)
        .args(["report", "any.json", "-o", "to-fifo.md"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("error: --output: to-fifo.md is a FIFO"),
        "{stderr}"
    );
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
}

#[test]
fn a_symlinked_output_writes_its_target_and_keeps_the_link() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("reports")).unwrap();
    std::fs::write(d.join("reports/real.json"), "old").unwrap();
    std::os::unix::fs::symlink("reports/real.json", d.join("latest.json")).unwrap();
    let out = fbench()
        .current_dir(d)
        .arg("run")
        .args(SHORT_RUN)
        .args(["--json", "latest.json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::symlink_metadata(d.join("latest.json"))
        .unwrap()
        .file_type()
        .is_symlink());
    let report = common::json_of(&d.join("reports/real.json"));
    assert_eq!(report["runs"][0]["strategy"], "mutex");
}

/// `fbench run … --json x.json --save-baseline pb | head -1`: the reader leaves after one
/// line; the JSON, the HTML and the baseline are written all the same, and the exit code
/// is the run's (0), not SIGPIPE's.
#[test]
fn a_reader_that_leaves_early_costs_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fbench"))
        .current_dir(d)
        .env("FBENCH_CALIBRATION", "quick")
        .arg("run")
        .args(SHORT_RUN)
        .args(["--json", "x.json", "--save-baseline", "pb", "--repeat", "1"])
        .args(["--out", "out"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(!first.is_empty());
    drop(stdout); // as `head -1` exits
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for file in ["x.json", "x.html", "out/baselines/pb.json"] {
        assert!(d.join(file).is_file(), "{file} was not written: {stderr}");
    }
    assert_eq!(
        common::json_of(&d.join("x.json"))["runs"][0]["strategy"],
        "mutex"
    );
}

#[test]
fn no_command_is_one_line_and_exit_2() {
    let out = fbench().output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: no command given; accepted: run, "),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

/// A full disk: exit 1 and one line naming the file. Needs a small tmpfs of its own, so it
/// runs where a mount namespace can be made (as root, as CI runs), and says so otherwise.
#[test]
fn a_full_disk_is_one_line_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let json = d.join("in.json");
    let run = fbench()
        .current_dir(d)
        .arg("run")
        .args(SHORT_RUN)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    assert!(run.status.success());
    let full = d.join("full");
    std::fs::create_dir(&full).unwrap();
    let script = format!(
        "mount -t tmpfs -o size=8k tmpfs {full} && exec {bin} report {json} -o {full}/out.html",
        full = full.display(),
        bin = env!("CARGO_BIN_EXE_fbench"),
        json = json.display()
    );
    let probe = std::process::Command::new("unshare")
        .args(["-m", "sh", "-c", "mount -t tmpfs tmpfs /mnt"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: no mount namespace here (needs root and unshare)");
        return;
    }
    let out = std::process::Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: writing "), "{stderr}");
    assert!(stderr.contains("out.html"), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
}
