//! CSV: one row per run, fixed columns (so scripts can rely on them), RFC 4180 quoting.

use std::fmt::Write as _;

use fbench_harness::metrics::LatencySummary;

use crate::{Exporter, Report, ReportError};

#[derive(Default)]
pub struct CsvExporter;

impl Exporter for CsvExporter {
    fn render(&self, report: &Report) -> Result<Vec<u8>, ReportError> {
        self.render_all(std::slice::from_ref(report))
    }
}

const LATENCIES: [&str; 5] = ["age_ns", "acquire_ns", "publish_ns", "render_ns", "e2e_ns"];
const LATENCY_FIELDS: [&str; 7] = ["count", "mean", "p50", "p90", "p99", "p999", "max"];

fn header() -> Vec<String> {
    let mut columns: Vec<String> = [
        "report",
        "scenario",
        "hostname",
        "cpu_model",
        "logical_cpus",
        "fbench_version",
        "git_rev",
        "strategy",
        "consumers",
        "source",
        "width",
        "height",
        "format",
        "frame_bytes",
        "fps",
        "duration_s",
        "warmup_s",
        "workload",
        "slow",
        "wait",
        "verify",
        "deadline_tolerance",
        "pool_size",
        "pool_policy",
        "frames_produced",
        "frames_published",
        "producer_drops",
        "source_overruns",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for latency in LATENCIES {
        for field in LATENCY_FIELDS {
            columns.push(format!("{latency}_{field}"));
        }
    }
    columns.extend(
        [
            "drop_rate",
            "deadline_misses",
            "torn_frames",
            "out_of_order",
            "baseline_pss_bytes",
            "peak_pss_bytes",
            "peak_rss_bytes",
            "cpu_user_s",
            "cpu_sys_s",
            "voluntary_ctx_switches",
            "involuntary_ctx_switches",
            "bytes_copied",
            "allocations",
            "frame_allocations",
            "pool_grows",
            "consumers_not_ok",
            "trial",
            "other_load_cpus",
            "steal_cpus",
            "cpu_producer_ns_per_frame",
            "cpu_consumer_ns_per_frame_p50",
            "cpu_consumer_ns_per_frame_max",
            "cpu_total_ns_per_frame",
            "involuntary_switches_per_frame",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    columns
}

impl CsvExporter {
    pub fn render_all(&self, reports: &[Report]) -> Result<Vec<u8>, ReportError> {
        let mut out = String::new();
        write_row(&mut out, &header());
        for (r, report) in reports.iter().enumerate() {
            for run in &report.runs {
                let c = &run.config;
                let mut row: Vec<String> = vec![
                    (r + 1).to_string(),
                    report.scenario.clone().unwrap_or_default(),
                    report.machine.hostname.clone(),
                    report.machine.cpu_model.clone(),
                    report.machine.logical_cpus.to_string(),
                    report.fbench.version.clone(),
                    report.fbench.git_rev.clone(),
                    run.strategy.clone(),
                    run.consumers.to_string(),
                    c.source.clone(),
                    c.width.to_string(),
                    c.height.to_string(),
                    c.format.clone(),
                    c.frame_bytes.to_string(),
                    c.fps.to_string(),
                    c.duration_s.to_string(),
                    c.warmup_s.to_string(),
                    c.workload.clone(),
                    c.slow.join(" "),
                    c.wait.clone(),
                    c.verify.clone(),
                    c.deadline_tolerance.to_string(),
                    c.pool_size.to_string(),
                    c.pool_policy.clone(),
                    run.frames.produced.to_string(),
                    run.frames.published.to_string(),
                    run.frames.producer_drops.to_string(),
                    run.frames.source_overruns.to_string(),
                ];
                for latency in [
                    &run.age_ns,
                    &run.acquire_ns,
                    &run.publish_ns,
                    &run.render_ns,
                    &run.e2e_ns,
                ] {
                    row.extend(latency_fields(latency));
                }
                row.extend([
                    run.drop_rate.to_string(),
                    run.deadline_misses.to_string(),
                    run.torn_frames.to_string(),
                    run.out_of_order.to_string(),
                    run.memory.baseline_pss_bytes.to_string(),
                    run.memory.peak_pss_bytes.to_string(),
                    run.memory.peak_rss_bytes.to_string(),
                    run.cpu.user_s.to_string(),
                    run.cpu.sys_s.to_string(),
                    run.cpu.voluntary_ctx_switches.to_string(),
                    run.cpu.involuntary_ctx_switches.to_string(),
                    run.copies.bytes_copied.to_string(),
                    run.copies
                        .allocations
                        .map(|a| a.to_string())
                        .unwrap_or_default(),
                    run.copies.frame_allocations.to_string(),
                    run.copies.pool_grows.to_string(),
                    run.per_consumer
                        .iter()
                        .filter(|c| c.status != "ok")
                        .count()
                        .to_string(),
                    run.trial.to_string(),
                ]);
                let optional = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
                let demand = run.cpu_demand;
                row.extend([
                    optional(run.cpu.other_load_cpus),
                    optional(run.cpu.steal_cpus),
                    optional(demand.and_then(|d| d.producer_ns_per_frame)),
                    optional(demand.and_then(|d| d.consumer_ns_per_frame_p50)),
                    optional(demand.and_then(|d| d.consumer_ns_per_frame_max)),
                    optional(demand.map(|d| d.total_ns_per_frame)),
                    optional(demand.map(|d| d.involuntary_switches_per_frame)),
                ]);
                write_row(&mut out, &row);
            }
        }
        Ok(out.into_bytes())
    }
}

fn latency_fields(l: &LatencySummary) -> [String; 7] {
    if !l.measured() {
        // Nothing measured: empty fields, as JSON has null, not a perfect 0.
        let mut fields: [String; 7] = Default::default();
        fields[0] = "0".to_string();
        return fields;
    }
    [
        l.count.to_string(),
        format!("{:.1}", l.mean),
        l.p50.to_string(),
        l.p90.to_string(),
        l.p99.to_string(),
        l.p999.to_string(),
        l.max.to_string(),
    ]
}

fn write_row(out: &mut String, fields: &[String]) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if field.contains([',', '"', '\n', '\r']) {
            let _ = write!(out, "\"{}\"", field.replace('"', "\"\""));
        } else {
            out.push_str(field);
        }
    }
    out.push_str("\r\n");
}
