//! `fbench calibrate`: the four figures and the harness overhead on stdout, the same block
//! as a report with `--json`, and the bad-input contract (one line naming the flag, exit
//! code 2, no file).

mod common;
use common::fbench;

/// [`common::refused`] for `fbench calibrate <args>`.
fn refused(args: &[&str], flag: &str, accepted: &str) {
    common::refused(&[&["calibrate"], args].concat(), flag, accepted);
}

#[test]
fn prints_every_figure_and_writes_them_as_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("calibration.json");
    let output = fbench()
        .args(["calibrate", "--resolution", "480p", "--json"])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("640x480 rgb24"), "{stdout}");
    for figure in [
        "memory copy:",
        "cold copy:",
        "cache-line RTT:",
        "clock read:",
        "wake (futex):",
        "wake (condvar):",
        "wake after period:",
        "wake all:",
        "harness overhead:",
    ] {
        assert!(
            stdout.lines().any(|l| l.trim_start().starts_with(figure)),
            "{figure} in {stdout}"
        );
    }
    assert!(stdout.contains("922 kB frame copied in"), "{stdout}");
    assert!(stdout.contains("'stamps' verifications"), "{stdout}");

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(json["schema"], "fbench.report/2");
    assert_eq!(json["runs"].as_array().unwrap().len(), 0);
    let calibration = &json["calibration"];
    assert_eq!(calibration["frame_bytes"], 640 * 480 * 3);
    for key in [
        "memcpy_bytes_per_s",
        "frame_copy_ns",
        "clock_read_ns",
        "wake_p50_ns",
        "wake_p99_ns",
        "condvar_wake_p50_ns",
        "condvar_wake_p99_ns",
        "frame_copy_cold_ns",
        "wake_period_ns",
        "wake_after_period_p50_ns",
        "wake_after_period_p99_ns",
        "wake_all_p50_ns",
        "wake_all_p99_ns",
    ] {
        assert!(
            calibration[key].as_f64().unwrap() > 0.0,
            "calibration.{key}"
        );
    }
    // The regime of `fbench run` without flags: 5 consumers at 30 fps.
    assert_eq!(calibration["wake_all_sleepers"], 5);
    assert_eq!(calibration["wake_period_ns"], 33_333_333);
    assert!(stdout.contains("5 sleepers at once"), "{stdout}");
    let overhead = &calibration["harness_overhead"];
    assert_eq!(overhead["verify"], "stamps");
    for key in [
        "clock_reads_ns",
        "histogram_records_ns",
        "verification_ns",
        "total_ns",
    ] {
        assert!(
            overhead[key].as_f64().unwrap() > 0.0,
            "harness_overhead.{key}"
        );
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn bad_input_is_refused_in_one_line() {
    refused(
        &["--resolution", "1080"],
        "--resolution",
        "480p, 720p, 1080p, 4k or WIDTHxHEIGHT",
    );
    refused(
        &["--format", "nv12", "--resolution", "641x480"],
        "--resolution",
        "even width and height",
    );
    refused(
        &["--resolution", "65536x65536"],
        "--resolution",
        "memory is available",
    );
    refused(&["--verify", "some"], "--verify", "stamps, full, off");
    refused(
        &["--json", "no/such/dir/calibration.json"],
        "--json",
        "does not exist",
    );
}

/// `FBENCH_CALIBRATION=off` skips calibrating a run (nothing measured, no ratios); an
/// unknown value is warned about and calibrates as usual.
#[test]
fn calibration_can_be_skipped_and_a_bad_setting_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let run = |setting: &str| {
        let json = dir.path().join(format!("{setting}.json"));
        let output = fbench()
            .env("FBENCH_CALIBRATION", setting)
            .args([
                "run",
                "--strategy",
                "mutex",
                "--quiet",
                "--resolution",
                "480p",
            ])
            .args(["--fps", "60", "--duration", "200ms", "--warmup", "50ms"])
            .args(["--consumers", "2", "--out"])
            .arg(dir.path())
            .arg("--json")
            .arg(&json)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "{stderr}");
        (common::json_of(&json), stderr)
    };
    let (off, _) = run("off");
    assert!(off["calibration"]
        .as_object()
        .unwrap()
        .values()
        .all(|v| v.is_null() || v.as_array().is_some_and(|a| a.is_empty())));
    assert!(off["runs"][0]["limits"].is_null());
    let (odd, stderr) = run("sometimes");
    assert!(
        stderr.contains(
            "warning: FBENCH_CALIBRATION='sometimes' is not understood; accepted: standard, quick, off"
        ),
        "{stderr}"
    );
    assert!(odd["calibration"]["frame_copy_cold_ns"].as_f64().unwrap() > 0.0);
    assert!(odd["runs"][0]["limits"].is_object());
}
