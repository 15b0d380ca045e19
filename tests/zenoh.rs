//! The `zenoh` peers and consumers on another host (`--remote netns`, `--link`) from the
//! outside: the flags refuse what cannot run with one line and exit 2 in every build; with
//! `--features net`, both transports run with consumer processes, and (as root) a run across
//! a veth pair completes and leaves no namespace, interface or process behind. Nothing here
//! asserts on time.

mod common;
use common::refused;
#[cfg(feature = "net")]
use common::{fbench, report_of};

/// `fbench run` with `args`: refused, naming `flag` and saying `says`.
fn run_refused(args: &[&str], flag: &str, says: &str) {
    let mut all = vec!["run", "--duration", "100ms"];
    all.extend(args);
    refused(&all, flag, says);
}

#[test]
fn bad_link_values_exit_2_naming_the_flag() {
    for link in [
        "fast",
        "1gb",
        "0gbit",
        "1gbit,jitter=1ms",
        "1gbit,delay=soon",
    ] {
        run_refused(
            &["--remote", "netns", "--link", link, "-s", "zenoh-tcp"],
            "--link",
            "accepted",
        );
    }
    run_refused(&["--remote", "ssh"], "--remote", "accepted: netns");
}

#[test]
fn a_link_needs_a_remote_and_a_remote_needs_a_network_strategy() {
    run_refused(
        &["--link", "1gbit", "-s", "shm"],
        "--link",
        "add --remote netns",
    );
    if cfg!(feature = "net") {
        run_refused(
            &["--remote", "netns", "-s", "shm"],
            "--remote",
            "zenoh-tcp only",
        );
    } else {
        run_refused(
            &["--remote", "netns", "-s", "shm"],
            "--remote",
            "--features net",
        );
    }
}

#[cfg(not(feature = "net"))]
#[test]
fn zenoh_needs_the_net_feature() {
    run_refused(&["--strategy", "zenoh"], "--strategy", "--features net");
}

#[cfg(feature = "net")]
fn run(strategy: &str, consumers: usize, extra: &[&str]) -> serde_json::Value {
    let consumers = consumers.to_string();
    let mut args = vec!["run", "--strategy", strategy, "--duration", "500ms"];
    args.extend([
        "--warmup",
        "100ms",
        "--resolution",
        "320x240",
        "--fps",
        "100",
    ]);
    args.extend(["--consumers", &consumers]);
    args.extend(extra);
    report_of(&args)
}

/// Every consumer process ended ok, saw frames, none torn or out of order.
#[cfg(feature = "net")]
fn served(run: &serde_json::Value, consumers: usize) {
    let per_consumer = run["per_consumer"].as_array().unwrap();
    assert_eq!(per_consumer.len(), consumers);
    for consumer in per_consumer {
        assert_eq!(consumer["status"], "ok", "{consumer}");
        assert!(consumer["frames_seen"].as_u64().unwrap() > 0, "{consumer}");
    }
    assert_eq!(run["torn_frames"], 0);
    assert_eq!(run["out_of_order"], 0);
}

#[cfg(feature = "net")]
#[test]
fn zenoh_over_shared_memory_copies_nothing() {
    let report = run("zenoh", 3, &[]);
    let run = &report["runs"][0];
    assert_eq!(run["strategy"], "zenoh");
    served(run, 3);
    // Every frame fit the pool and went as a reference: no copy, no fall-back.
    assert_eq!(run["copies"]["bytes_copied"], 0, "{}", run["copies"]);
    assert!(run["config"].get("remote").is_none());
}

#[cfg(feature = "net")]
#[test]
fn zenoh_over_tcp_serves_every_consumer() {
    let report = run("zenoh-tcp", 2, &[]);
    let run = &report["runs"][0];
    assert_eq!(run["strategy"], "zenoh-tcp");
    served(run, 2);
    let frame_len = 320 * 240 * 3;
    let published = run["frames"]["published"].as_u64().unwrap();
    // The producer's copy into TCP batches, counted per frame (warm-up frames included).
    let copied = run["copies"]["bytes_copied"].as_u64().unwrap();
    assert_eq!(copied % frame_len, 0, "{copied}");
    assert!(copied >= frame_len * published, "{copied}");
}

#[cfg(feature = "net")]
#[test]
fn zenoh_passes_the_cross_process_conformance_runs() {
    for strategy in ["zenoh", "zenoh-tcp"] {
        let output = fbench()
            .args(["conformance", "-s", strategy])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let passed = stdout
            .lines()
            .filter(|line| line.split_whitespace().nth(1) == Some("ok"))
            .count();
        assert_eq!(passed, 4, "{stdout}");
    }
}

/// Network namespaces and interfaces of fbench's (`fbench-…`, `fbh…`).
#[cfg(feature = "net")]
fn ours_in(command: &[&str], prefix: &str) -> Vec<String> {
    let output = std::process::Command::new(command[0])
        .args(&command[1..])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .split(|c: char| c.is_whitespace() || c == ':' || c == '@')
        .filter(|word| word.starts_with(prefix))
        .map(String::from)
        .collect()
}

#[cfg(feature = "net")]
#[test]
fn a_netns_run_completes_and_leaves_nothing() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        // Refused with one line instead (the CI runs this as root).
        run_refused(
            &["--remote", "netns", "-s", "zenoh-tcp"],
            "--remote",
            "needs root",
        );
        return;
    }
    let before_ns = ours_in(&["ip", "netns", "list"], "fbench-");
    let before_links = ours_in(&["ip", "-o", "link"], "fbh");
    let report = run("zenoh-tcp", 2, &["--remote", "netns", "--link", "1gbit"]);
    let run = &report["runs"][0];
    served(run, 2);
    assert_eq!(run["config"]["remote"], "netns, link 1gbit");
    assert_eq!(ours_in(&["ip", "netns", "list"], "fbench-"), before_ns);
    assert_eq!(ours_in(&["ip", "-o", "link"], "fbh"), before_links);
}
