//! Exports for benchmark dashboards: github-action-benchmark's `customSmallerIsBetter` JSON
//! array and Bencher Metric Format (BMF). Both describe one report on its own, raw values
//! (never normalised), one entry per configuration and metric; the value is the median of
//! the configuration's trials and the range their spread.
//!
//! Names come from [`super::benchmark_name`], which stays the same from one report to the
//! next, so a dashboard's series continue across commits.

use serde_json::{json, Map, Value};

use super::{benchmark_name, groups, GateSet, Metric, Quantity, Series, Stat, Trials};
use crate::{Report, ReportError};

/// What every export carries besides the gated metrics.
pub const ALWAYS_EXPORTED: [Metric; 8] = [
    Metric::Latency(Series::Age, Stat::P50),
    Metric::AGE_P99,
    Metric::Latency(Series::Age, Stat::P999),
    Metric::Latency(Series::Acquire, Stat::P99),
    Metric::Latency(Series::Publish, Stat::P99),
    Metric::Latency(Series::E2e, Stat::P99),
    Metric::DropRate,
    Metric::PeakPss,
];

/// [`ALWAYS_EXPORTED`], then any other gated metric.
pub fn exported_metrics(gates: &GateSet) -> Vec<Metric> {
    let mut metrics = ALWAYS_EXPORTED.to_vec();
    for metric in gates.metrics() {
        if !metrics.contains(&metric) {
            metrics.push(metric);
        }
    }
    metrics
}

/// The unit a dashboard shows, and the factor from the metric's base unit to it.
fn unit(metric: Metric) -> (&'static str, f64) {
    match metric.quantity() {
        Quantity::Latency => ("ns", 1.0),
        Quantity::Fraction => ("%", 100.0),
        Quantity::Bytes => ("bytes", 1.0),
        Quantity::Count => ("count", 1.0),
    }
}

/// Each configuration of `report` (its first run names it) with its trials of each metric
/// that some trial measured.
fn entries(report: &Report, metrics: &[Metric]) -> Vec<(String, Metric, Trials)> {
    let groups = groups(report, "current", &[]).expect("nothing ignored, nothing merged");
    let mut out = Vec::new();
    for group in groups {
        let name = benchmark_name(group.runs[0]);
        for &metric in metrics {
            // A figure no trial measured is left out, not exported as 0.
            let values: Vec<f64> = group
                .runs
                .iter()
                .filter_map(|r| metric.measured(r))
                .collect();
            if !values.is_empty() {
                out.push((name.clone(), metric, Trials::new(values)));
            }
        }
    }
    out
}

/// github-action-benchmark's `customSmallerIsBetter` input: `[{name, unit, value, range,
/// extra}]`, `range` only with more than one trial.
pub fn github_benchmark(report: &Report, metrics: &[Metric]) -> Result<Vec<u8>, ReportError> {
    let build = format!(
        "fbench {} ({})",
        report.fbench.version, report.fbench.git_rev
    );
    let items: Vec<Value> = entries(report, metrics)
        .into_iter()
        .map(|(name, metric, trials)| {
            let (unit, scale) = unit(metric);
            let mut item = Map::new();
            item.insert("name".into(), json!(format!("{name} - {}", metric.label())));
            item.insert("unit".into(), json!(unit));
            item.insert("value".into(), json!(trials.median() * scale));
            if trials.len() > 1 {
                let half_spread = (trials.max() - trials.min()) / 2.0 * scale;
                item.insert("range".into(), json!(format!("± {half_spread}")));
            }
            item.insert(
                "extra".into(),
                json!(format!(
                    "median of {} trial{} (min {}, max {}); {build}; {} on {}",
                    trials.len(),
                    if trials.len() == 1 { "" } else { "s" },
                    metric.format(trials.min()),
                    metric.format(trials.max()),
                    report.machine.hostname,
                    report.machine.cpu_model
                )),
            );
            Value::Object(item)
        })
        .collect();
    let mut bytes = serde_json::to_vec_pretty(&items)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Bencher Metric Format: `{benchmark: {measure: {value, lower_value, upper_value}}}`, the
/// measure named by the metric's slug (`age-p99`), value the median, bounds the extremes
/// of the trials.
pub fn bencher(report: &Report, metrics: &[Metric]) -> Result<Vec<u8>, ReportError> {
    let mut benchmarks = Map::new();
    for (name, metric, trials) in entries(report, metrics) {
        let (_, scale) = unit(metric);
        let measures = benchmarks
            .entry(name)
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(measures) = measures {
            measures.insert(
                metric.slug(),
                json!({
                    "value": trials.median() * scale,
                    "lower_value": trials.min() * scale,
                    "upper_value": trials.max() * scale,
                }),
            );
        }
    }
    let mut bytes = serde_json::to_vec_pretty(&Value::Object(benchmarks))?;
    bytes.push(b'\n');
    Ok(bytes)
}
