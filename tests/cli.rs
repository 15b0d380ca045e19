//! What users see from the command line: bad input gets one clear line naming the flag and
//! what is accepted, exit code 2, and no output file; good input gets a table and a report
//! with the documented field names.

mod common;
use common::{fbench, json_of};

/// [`common::refused`] for `fbench run <args>`.
fn refused(args: &[&str], flag: &str, accepted: &str) -> String {
    common::refused(&[&["run"], args].concat(), flag, accepted)
}

#[test]
fn zero_consumers() {
    refused(&["--consumers", "0"], "--consumers", "at least 1");
}

#[test]
fn non_numeric_consumers() {
    refused(
        &["--consumers", "many"],
        "--consumers",
        "not a whole number",
    );
}

#[test]
fn zero_fps() {
    refused(&["--fps", "0"], "--fps", "above 0");
}

#[test]
fn unknown_strategy() {
    refused(
        &["--strategy", "mutex,lockfree"],
        "--strategy",
        "accepted: all, mutex, rwlock, pool, arcswap",
    );
}

#[test]
fn unknown_format() {
    refused(
        &["--format", "rgb32"],
        "--format",
        "accepted: rgb24, bgr24, yuyv, nv12",
    );
}

#[test]
fn malformed_duration() {
    refused(
        &["--duration", "3parsecs"],
        "--duration",
        "ns, us, ms, s, m or h",
    );
    refused(&["--warmup", "soon"], "--warmup", "e.g. 500ms");
}

#[test]
fn malformed_resolution() {
    refused(
        &["--resolution", "1080"],
        "--resolution",
        "480p, 720p, 1080p, 4k or WIDTHxHEIGHT",
    );
    refused(
        &["--resolution", "0x0"],
        "--resolution",
        "between 16 and 65536",
    );
}

#[test]
fn geometry_that_does_not_suit_the_format() {
    refused(
        &["--format", "nv12", "--resolution", "641x480"],
        "--resolution",
        "even width and height",
    );
}

#[test]
fn frame_too_large_for_memory_is_refused_before_allocating() {
    let line = refused(
        &["--strategy", "mutex", "--resolution", "65536x65536"],
        "--resolution",
        "memory is available",
    );
    assert!(line.contains("12.9 GB"), "{line}");
}

#[test]
fn bad_workload_wait_verify_and_slow() {
    refused(
        &["--workload", "nap"],
        "--workload",
        "inspect, copy, busy:<duration>, sleep:<duration>",
    );
    refused(
        &["--wait", "poll"],
        "--wait",
        "block, spin, poll:<interval>",
    );
    refused(&["--verify", "some"], "--verify", "stamps, full, off");
    refused(&["--slow", "two:sleep:1ms"], "--slow", "e.g. 2:sleep:50ms");
    refused(
        &["--consumers", "2", "--slow", "3:sleep:1ms"],
        "--slow",
        "raise --consumers",
    );
}

#[test]
fn unwritable_json_paths() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/dir/report.json");
    refused(
        &["--json", missing.to_str().unwrap()],
        "--json",
        "does not exist",
    );
    refused(
        &["--json", dir.path().to_str().unwrap()],
        "--json",
        "is a directory",
    );
    refused(
        &["--json", "/proc/fbench-report.json"],
        "--json",
        "cannot write",
    );
}

#[test]
fn unknown_flag_and_subcommand() {
    refused(&["--frobnicate"], "--frobnicate", "unexpected argument");
    let output = fbench().arg("frobnicate").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn list_names_every_strategy_and_hides_the_canary() {
    let output = fbench().arg("list").output().unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    for name in [
        "mutex ",
        "rwlock ",
        "pool ",
        "arcswap ",
        "shm ",
        "shm-naive ",
        "ideal ",
        "queue ",
    ] {
        assert!(stdout.lines().any(|l| l.starts_with(name)), "{stdout}");
    }
    assert!(
        stdout.contains("DEMONSTRATION"),
        "shm-naive is marked: {stdout}"
    );
    assert!(!stdout.contains("unsync"));
    // six of fbench's own, ideal and queue (not in all), five peers: triple-buffer,
    // iceoryx2, broadcast, zenoh, zenoh-tcp (tests/peers.rs, tests/zenoh.rs)
    assert_eq!(stdout.lines().count(), 13);
}

#[test]
fn a_short_run_writes_the_documented_report() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let output = fbench()
        .args([
            "run",
            "--strategy",
            "all",
            "--consumers",
            "3",
            "--resolution",
            "480p",
            "--fps",
            "60",
            "--duration",
            "300ms",
            "--warmup",
            "100ms",
            "--slow",
            "1:sleep:20ms",
            "--quiet",
            "--json",
        ])
        .arg(&report)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for name in ["mutex", "rwlock", "pool", "arcswap", "shm"] {
        assert!(stdout.contains(name), "table lists {name}: {stdout}");
    }
    assert!(stdout.contains("age p99"));
    assert!(stdout.contains("age p50 / wake p50"), "{stdout}");
    assert!(stdout.contains(&format!("JSON report: {}", report.display())));

    let json = json_of(&report);
    assert_eq!(json["schema"], "fbench.report/2");
    for key in [
        "cpu_model",
        "logical_cpus",
        "total_memory_bytes",
        "os",
        "kernel",
    ] {
        assert!(!json["machine"][key].is_null(), "machine.{key}");
    }
    assert!(json["fbench"]["version"].is_string());
    assert!(json["fbench"]["git_rev"].is_string());
    for key in [
        "memcpy_bytes_per_s",
        "cacheline_rtt_ns",
        "wake_p50_ns",
        "wake_p99_ns",
    ] {
        // The cache-line round trip needs two CPUs; a one-CPU machine reports null.
        let single_cpu = key == "cacheline_rtt_ns" && json["machine"]["logical_cpus"] == 1;
        assert!(
            json["calibration"][key].is_number() || single_cpu,
            "calibration.{key}"
        );
    }
    assert_eq!(json["calibration"]["frame_bytes"], 640 * 480 * 3);
    assert!(json["calibration"]["harness_overhead"]["total_ns"].is_number());
    let runs = json["runs"].as_array().unwrap();
    let names: Vec<&str> = runs
        .iter()
        .map(|r| r["strategy"].as_str().unwrap())
        .collect();
    // Two or more strategies: the `ideal` reference runs first.
    assert_eq!(
        names,
        ["ideal", "mutex", "rwlock", "pool", "arcswap", "shm"]
    );
    for run in runs {
        assert_eq!(run["consumers"], 3);
        let config = &run["config"];
        assert_eq!(config["source"], "synthetic");
        assert_eq!(
            (config["width"].as_u64(), config["height"].as_u64()),
            (Some(640), Some(480))
        );
        assert_eq!(config["format"], "rgb24");
        assert_eq!(config["workload"], "inspect");
        assert_eq!(config["wait"], "block");
        assert_eq!(config["verify"], "stamps");
        for key in ["fps", "duration_s", "warmup_s"] {
            assert!(config[key].is_number(), "config.{key}");
        }
        for key in ["produced", "published", "producer_drops", "source_overruns"] {
            assert!(run["frames"][key].is_u64(), "frames.{key}");
        }
        for hist in ["age_ns", "acquire_ns", "publish_ns", "e2e_ns"] {
            for key in ["count", "p50", "p90", "p99", "p999", "max"] {
                assert!(run[hist][key].is_u64(), "{hist}.{key}");
            }
            assert!(run[hist]["mean"].is_number());
            assert!(
                run[hist]["hdr"].as_str().unwrap().starts_with("HISTF"),
                "{hist}.hdr"
            );
        }
        assert!(run["age_ns"]["count"].as_u64().unwrap() > 0);
        assert!(run["drop_rate"].is_number());
        for key in ["deadline_misses", "torn_frames", "out_of_order"] {
            assert!(run[key].is_u64(), "{key}");
        }
        assert_eq!(run["torn_frames"], 0);
        let limits = &run["limits"];
        let floor = if run["strategy"] == "mutex" {
            "frame_copy"
        } else {
            "cacheline_rtt"
        };
        assert_eq!(limits["acquire_floor"], floor);
        for key in ["acquire_p50_ratio", "age_p50_ratio", "age_p99_ratio"] {
            let measured = limits[key].as_f64().is_some_and(|ratio| ratio > 0.0);
            assert!(measured || limits[key].is_null(), "limits.{key}");
        }
        assert!(limits["age_p50_ratio"].as_f64().unwrap() > 0.0);
        for key in ["baseline_pss_bytes", "peak_pss_bytes", "peak_rss_bytes"] {
            assert!(run["memory"][key].as_u64().unwrap() > 0, "memory.{key}");
        }
        assert!(run["memory"]["timeline"].is_array());
        for key in [
            "user_s",
            "sys_s",
            "voluntary_ctx_switches",
            "involuntary_ctx_switches",
        ] {
            assert!(run["cpu"][key].is_number(), "cpu.{key}");
        }
        assert!(run["copies"]["bytes_copied"].is_u64());
        assert!(
            run["copies"]["allocations"].is_u64(),
            "the binary counts allocations"
        );
        let consumers = run["per_consumer"].as_array().unwrap();
        assert_eq!(consumers.len(), 3);
        assert_eq!(consumers[2]["workload"], "sleep:20ms");
        for c in consumers {
            assert_eq!(c["status"], "ok");
            assert!(c["age_ns"]["p99"].is_u64());
            assert!(c["drop_rate"].is_number());
            assert!(c["torn_frames"].is_u64());
        }
    }
    // copies per frame follow the design table: ideal 0, mutex 1 + N, rwlock 1, pool and
    // arcswap 0
    let frame = 640 * 480 * 3;
    assert_eq!(runs[0]["copies"]["bytes_copied"], 0, "ideal copies nothing");
    let copied = |i: usize| runs[i + 1]["copies"]["bytes_copied"].as_u64().unwrap();
    assert!(copied(0) > copied(1));
    assert_eq!(copied(1) % frame, 0);
    assert_eq!(copied(2), 0);
    assert_eq!(copied(3), 0);
    assert_eq!(copied(4), 0);
    // nothing but the JSON report and the HTML report beside it
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["report.html", "report.json"]);
    assert!(stdout.contains(&format!(
        "HTML report: {}",
        dir.path().join("report.html").display()
    )));
}

#[test]
fn pool_too_small_and_duration_shorter_than_a_frame() {
    refused(&["--pool-size", "1"], "--pool-size", "at least 2");
    refused(
        &["--fps", "0.5", "--duration", "1s"],
        "--duration",
        "at least one frame period",
    );
}

/// The help of one flag in `fbench <command> --help`: its line and the lines under it.
fn flag_help(command: &str, flag: &str) -> String {
    let output = fbench().args([command, "--help"]).output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let mut lines = text
        .lines()
        .skip_while(|l| !l.contains(&format!("{flag} <")));
    let mut help = vec![lines
        .next()
        .unwrap_or_else(|| panic!("{command} has no {flag}"))];
    help.extend(lines.take_while(|l| !l.trim_start().starts_with('-')));
    help.join("\n")
}

/// Every run flag is defined once: `run`, `sweep` and `soak` show the same help for it.
#[test]
fn every_run_flag_has_one_help_text_in_every_command() {
    for flag in [
        "--strategy",
        "--consumers",
        "--source",
        "--resolution",
        "--format",
        "--fps",
        "--duration",
        "--workload",
        "--wait",
        "--pool-size",
        "--slots",
        "--fault",
        "--json",
    ] {
        let run = flag_help("run", flag);
        assert_eq!(run, flag_help("sweep", flag), "{flag}");
        assert_eq!(run, flag_help("soak", flag), "{flag}");
    }
    assert!(flag_help("run", "--strategy").contains("peers"));
    assert!(flag_help("run", "--format").contains("yuv444p"));
}

/// `run` takes lists like `sweep`: one run per combination, in one report.
#[test]
fn run_takes_lists_as_sweep_does() {
    let report = common::report_of(&[
        "run",
        "-s",
        "pool",
        "--consumers",
        "1,2",
        "--resolution",
        "64x48",
        "--duration",
        "200ms",
        "--warmup",
        "50ms",
    ]);
    let consumers: Vec<u64> = report["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["consumers"].as_u64().unwrap())
        .collect();
    assert_eq!(consumers, [1, 2]);
}
