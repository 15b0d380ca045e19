//! The `zenoh` peers and consumers on another host (`--remote netns`, `--link`) from the
//! outside: the flags refuse what cannot run with one line and exit 2 in every build; with
//! `--features net`, both transports run with consumer processes, and (as root) a run across
//! a veth pair completes and leaves no namespace, interface, endpoint file or process behind,
//! a killed one's leftovers go with `fbench clean`, and a link delay on a kernel without
//! netem is refused. Nothing here asserts on time.

mod common;
use common::refused;
#[cfg(feature = "net")]
use common::{alive, fbench, report_of, run_process_of, wait_for_consumers};

/// `fbench run` with `args`: refused, naming `flag` and saying `says`. Returns the line.
fn run_refused(args: &[&str], flag: &str, says: &str) -> String {
    let mut all = vec!["run", "--duration", "100ms"];
    all.extend(args);
    refused(&all, flag, says)
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
    // Every frame fit the pool and went as a reference: no copy, no fall-back, and every
    // consumer checked every sample it received and found it in shared memory.
    assert_eq!(run["copies"]["bytes_copied"], 0, "{}", run["copies"]);
    assert_eq!(run["not_shm"], 0, "{run}");
    for consumer in run["per_consumer"].as_array().unwrap() {
        assert_eq!(consumer["not_shm"], 0, "{consumer}");
    }
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
    // Frames over TCP are meant to be bytes: nothing is checked, nothing reported.
    assert!(run.get("not_shm").is_none(), "{run}");
    assert!(run["per_consumer"][0].get("not_shm").is_none());
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

/// Held by the tests that create namespaces and compare what exists before and after, or
/// run `fbench clean`: one test's namespace would otherwise be another's leftover.
#[cfg(feature = "net")]
static NETNS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Zenoh endpoint files (`<tmp>/fbench-<pid>-<n>.zenoh`) whose run process is gone.
#[cfg(feature = "net")]
fn dead_endpoint_files() -> Vec<std::path::PathBuf> {
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = name
                .strip_prefix("fbench-")
                .and_then(|rest| rest.split('-').next())
                .and_then(|pid| pid.parse::<u32>().ok());
            name.ends_with(".zenoh") && pid.is_some_and(|pid| !alive(pid))
        })
        .map(|entry| entry.path())
        .collect()
}

/// Whether this kernel has the netem qdisc, tried in a network namespace that exists only
/// for the probe.
#[cfg(feature = "net")]
fn kernel_has_netem() -> bool {
    std::process::Command::new("unshare")
        .args([
            "-n", "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1us",
        ])
        .output()
        .is_ok_and(|output| output.status.success())
}

/// Whether this test process runs as root.
#[cfg(feature = "net")]
fn root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(feature = "net")]
#[test]
fn a_netns_run_completes_and_leaves_nothing() {
    if !root() {
        // Refused with one line instead (the CI runs this as root).
        run_refused(
            &["--remote", "netns", "-s", "zenoh-tcp"],
            "--remote",
            "needs root",
        );
        return;
    }
    let _netns = NETNS.lock().unwrap_or_else(|e| e.into_inner());
    let before_ns = ours_in(&["ip", "netns", "list"], "fbench-");
    let before_links = ours_in(&["ip", "-o", "link"], "fbh");
    let report = run("zenoh-tcp", 2, &["--remote", "netns", "--link", "1gbit"]);
    let run = &report["runs"][0];
    served(run, 2);
    assert_eq!(run["config"]["remote"], "netns, link 1gbit");
    assert_eq!(ours_in(&["ip", "netns", "list"], "fbench-"), before_ns);
    assert_eq!(ours_in(&["ip", "-o", "link"], "fbh"), before_links);
    assert_eq!(dead_endpoint_files(), Vec::<std::path::PathBuf>::new());
}

/// A 60 s `zenoh-tcp` run across a veth pair, caught once its consumers run (inside the
/// namespace: by then the pair and the endpoint file exist too).
#[cfg(feature = "net")]
struct NetnsRun {
    parent: std::process::Child,
    /// The process that runs the run and made the namespace, the pair and the endpoint.
    run_pid: u32,
    consumers: Vec<(usize, u32)>,
    namespace: String,
    /// Name prefix of the pair's end on this side (`fbh<pid in hex>`).
    host_end: String,
    endpoint: std::path::PathBuf,
    report: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

#[cfg(feature = "net")]
impl NetnsRun {
    fn start() -> NetnsRun {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("never.json");
        let parent = common::fbench_process()
            .args(["run", "--strategy", "zenoh-tcp", "--remote", "netns"])
            .args([
                "--link",
                "1gbit",
                "--consumers",
                "2",
                "--resolution",
                "320x240",
            ])
            .args(["--fps", "30", "--duration", "60s", "--quiet", "--json"])
            .arg(&report)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let consumers = wait_for_consumers(parent.id(), 2);
        let run_pid = run_process_of(parent.id());
        let prefix = format!("fbench-{run_pid}-");
        let endpoint: Vec<std::path::PathBuf> = std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                name.starts_with(&prefix) && name.ends_with(".zenoh")
            })
            .collect();
        assert_eq!(endpoint.len(), 1, "{endpoint:?}");
        let run = NetnsRun {
            parent,
            run_pid,
            consumers,
            namespace: format!("fbench-{run_pid}-0"),
            host_end: format!("fbh{run_pid:x}"),
            endpoint: endpoint[0].clone(),
            report,
            _dir: dir,
        };
        assert!(
            run.namespace_exists(),
            "the run's namespace exists while it runs"
        );
        assert!(run.pair_exists());
        run
    }

    fn namespace_exists(&self) -> bool {
        ours_in(&["ip", "netns", "list"], &self.namespace) == [self.namespace.clone()]
    }

    fn pair_exists(&self) -> bool {
        !ours_in(&["ip", "-o", "link"], &self.host_end).is_empty()
    }

    /// Waits (at most 20 s) until the run process and every consumer are gone.
    fn wait_for_processes_to_end(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while alive(self.run_pid) || self.consumers.iter().any(|&(_, pid)| alive(pid)) {
            assert!(
                std::time::Instant::now() < deadline,
                "a process of the run outlived it"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Waits (at most 20 s) until the pair is gone: the kernel dismantles a namespace, and
    /// the pair with it, after its last user has left.
    fn wait_for_the_pair_to_go(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while self.pair_exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "the veth pair outlived its run"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

#[cfg(feature = "net")]
#[test]
fn ctrl_c_during_a_netns_run_leaves_nothing() {
    if !root() {
        return; // --remote netns is refused without root (above)
    }
    let _netns = NETNS.lock().unwrap_or_else(|e| e.into_inner());
    let mut run = NetnsRun::start();
    std::thread::sleep(std::time::Duration::from_millis(500));
    // SAFETY: kill(2) on our own child process; no memory is involved.
    assert_eq!(
        unsafe { libc::kill(run.parent.id() as i32, libc::SIGINT) },
        0
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(status) = run.parent.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "fbench did not stop after Ctrl-C"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut run.parent.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    run.wait_for_processes_to_end();
    assert!(!run.namespace_exists(), "namespace left after Ctrl-C");
    assert!(!run.endpoint.exists(), "endpoint file left after Ctrl-C");
    run.wait_for_the_pair_to_go();
    assert!(!run.report.exists(), "no report after an interruption");
}

#[cfg(feature = "net")]
#[test]
fn clean_removes_what_a_killed_netns_run_left() {
    if !root() {
        return; // --remote netns is refused without root (above)
    }
    let _netns = NETNS.lock().unwrap_or_else(|e| e.into_inner());
    let mut run = NetnsRun::start();
    // fbench stopped first (so it cannot clean up after its run child), SIGKILL to the run
    // process (which made all three), then to fbench: no cleanup runs.
    // SAFETY: kill(2) on our own child and on a pid we just found as our grandchild; no
    // memory is involved.
    assert_eq!(
        unsafe { libc::kill(run.parent.id() as i32, libc::SIGSTOP) },
        0
    );
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(run.run_pid as i32, libc::SIGKILL) }, 0);
    run.parent.kill().unwrap();
    run.parent.wait().unwrap();
    // The consumers die with their parent (PR_SET_PDEATHSIG).
    run.wait_for_processes_to_end();
    assert!(
        run.namespace_exists(),
        "a killed run cannot remove its namespace"
    );
    assert!(run.pair_exists());
    assert!(run.endpoint.exists());

    let output = fbench().arg("clean").output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("removed 1 network namespace"), "{stdout}");
    assert!(
        stdout.contains(&format!("removed {}", run.endpoint.display())),
        "{stdout}"
    );
    assert!(!run.endpoint.exists());
    assert!(!run.namespace_exists());
    run.wait_for_the_pair_to_go();
}

/// A run child killed outright: fbench, which outlives it, removes the namespace the child
/// made (its own teardown never ran) and fails the run.
#[cfg(feature = "net")]
#[test]
fn fbench_removes_the_namespace_of_a_run_child_killed_outright() {
    if !root() {
        return; // --remote netns is refused without root (above)
    }
    let _netns = NETNS.lock().unwrap_or_else(|e| e.into_inner());
    let mut run = NetnsRun::start();
    // SAFETY: kill(2) on a pid we just found as our grandchild; no memory is involved.
    assert_eq!(unsafe { libc::kill(run.run_pid as i32, libc::SIGKILL) }, 0);
    let status = run.parent.wait().unwrap();
    assert_eq!(status.code(), Some(1), "a killed run child fails the run");
    run.wait_for_processes_to_end();
    assert!(
        !run.namespace_exists(),
        "namespace left after its run child was killed"
    );
    run.wait_for_the_pair_to_go();
}

#[cfg(feature = "net")]
#[test]
fn a_link_delay_is_refused_on_a_kernel_without_netem() {
    if !root() || kernel_has_netem() {
        // Without root, --remote is refused first; with netem, a delay is accepted.
        return;
    }
    let _netns = NETNS.lock().unwrap_or_else(|e| e.into_inner());
    let before_ns = ours_in(&["ip", "netns", "list"], "fbench-");
    let before_links = ours_in(&["ip", "-o", "link"], "fbh");
    let line = run_refused(
        &[
            "--remote",
            "netns",
            "--link",
            "1gbit,delay=200us",
            "-s",
            "zenoh-tcp",
        ],
        "--link",
        "netem",
    );
    assert!(
        line.contains("--link 1gbit"),
        "it says what works instead: {line}"
    );
    assert_eq!(ours_in(&["ip", "netns", "list"], "fbench-"), before_ns);
    assert_eq!(ours_in(&["ip", "-o", "link"], "fbh"), before_links);
}
