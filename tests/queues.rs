//! The queueing strategies from the outside: `--queue-depth` and `--drop-policy` reach the
//! run and its recorded config, the per-consumer queue figures are in the JSON, and mistakes
//! are one line naming the flag. Nothing here asserts on time.

use std::path::Path;

mod common;
use common::{fbench, json_of, refused};

fn run(dir: &Path, args: &[&str]) -> serde_json::Value {
    let json = dir.join("report.json");
    let output = fbench()
        .args(["run", "--duration", "500ms", "--warmup", "100ms"])
        .args([
            "--resolution",
            "320x240",
            "--fps",
            "200",
            "--consumers",
            "3",
        ])
        .args(args)
        .args(["--quiet", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    json_of(&json)
}

#[test]
fn queue_records_its_policy_and_every_consumers_queue() {
    for policy in ["block", "oldest", "newest"] {
        let dir = tempfile::tempdir().unwrap();
        let report = run(
            dir.path(),
            &[
                "--strategy",
                "queue",
                "--queue-depth",
                "3",
                "--drop-policy",
                policy,
            ],
        );
        let run = &report["runs"][0];
        assert_eq!(run["strategy"], "queue");
        assert_eq!(run["config"]["drop_policy"], policy);
        assert_eq!(run["config"]["queue_depth"], 3);
        assert_eq!(run["torn_frames"], 0);
        assert_eq!(run["out_of_order"], 0);
        let queues = run["queues"].as_array().expect("queues[]");
        assert_eq!(queues.len(), 3);
        for queue in queues {
            assert!(queue["max_depth"].as_u64().unwrap() <= 3, "{queue}");
            if policy == "block" {
                assert_eq!(queue["dropped_by_policy"], 0, "{queue}");
            } else {
                assert_eq!(queue["producer_blocked_ns"], 0, "{queue}");
            }
        }
        // The same figures in the HTML report, one row per consumer.
        let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
        assert!(html.contains("<h2 id=\"queues\">Queues</h2>"), "{policy}");
        assert_eq!(
            html.matches("<tr><td class=\"name\">queue x3</td>").count(),
            3
        );
    }
}

#[test]
fn broadcast_and_ideal_run_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let report = run(dir.path(), &["--strategy", "ideal,broadcast"]);
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs[0]["strategy"], "ideal");
    assert!(runs[0].get("queues").is_none());
    assert_eq!(runs[1]["strategy"], "broadcast");
    assert_eq!(runs[1]["queues"].as_array().unwrap().len(), 3);
    for run in runs {
        assert_eq!(run["torn_frames"], 0);
        assert!(run["age_ns"]["count"].as_u64().unwrap() > 0);
    }
}

#[test]
fn queue_mistakes_are_one_line() {
    refused(
        &["run", "--strategy", "queue", "--drop-policy", "leaky"],
        "--drop-policy",
        "block, oldest, newest",
    );
    refused(
        &["run", "--strategy", "queue", "--queue-depth", "0"],
        "--queue-depth",
        "from 1 to 1024",
    );
    refused(
        &[
            "sweep",
            "--strategy",
            "queue",
            "--drop-policy",
            "block,never",
        ],
        "--drop-policy",
        "block, oldest, newest",
    );
}
