//! Reports that cannot be true are refused before anything is judged or drawn from them:
//! negative or impossible rates, percentiles out of order, percentiles of nothing, a
//! histogram that does not decode, the same run recorded twice. A hand-edited or corrupt
//! report must not pass a gate by its impossibility (`drop_rate: -1.0` is below every
//! limit).

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hasher};

use fbench_harness::metrics::LatencySummary;
use fbench_harness::RunResult;

use crate::Report;

/// A report figure that cannot be true, named by its place in the report.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("runs[{index}] ({run}): {field}: {problem}")]
pub struct Impossible {
    pub index: usize,
    /// Strategy, consumers and trial of the run.
    pub run: String,
    /// The field as the JSON names it (`age_ns.p50`, `drop_rate`).
    pub field: String,
    pub problem: String,
}

/// Check every run of `report`; the first impossibility found.
///
/// ```
/// use fbench_reports::gate::check_report;
/// # use fbench_harness::{machine::MachineInfo, RunConfig, RunResult};
/// # let config = RunConfig::default_config().record();
/// let mut run = RunResult::empty("mutex", 1, config);
/// run.drop_rate = -1.0;
/// # let machine = MachineInfo { cpu_model: String::new(), logical_cpus: 1,
/// #     total_memory_bytes: 0, os: String::new(), kernel: String::new(), hostname: String::new() };
/// # let build = fbench_reports::BuildInfo { version: String::new(), git_rev: String::new() };
/// let report = fbench_reports::Report::new(machine, build, vec![run]);
/// let err = check_report(&report).unwrap_err();
/// assert_eq!(err.to_string(), "runs[0] (mutex c1 trial 1): drop_rate: -1 is not a fraction from 0 to 1");
/// ```
pub fn check_report(report: &Report) -> Result<(), Impossible> {
    // Hash of each run's whole record -> its index: a run recorded twice is a copy, not a
    // trial (trials of one configuration differ at least in their histograms, and in
    // `trial` once numbered).
    let mut seen: HashMap<u64, usize> = HashMap::new();
    for (index, run) in report.runs.iter().enumerate() {
        let fail = |field: &str, problem: String| Impossible {
            index,
            run: format!("{} c{} trial {}", run.strategy, run.consumers, run.trial),
            field: field.to_string(),
            problem,
        };
        check_run(run).map_err(|(field, problem)| fail(&field, problem))?;
        if let Some(first) = seen.insert(record_hash(run), index) {
            if report.runs[first] == *run {
                return Err(fail(
                    "run",
                    format!("the same record as runs[{first}] (a run recorded twice, not a trial)"),
                ));
            }
        }
    }
    Ok(())
}

fn check_run(run: &RunResult) -> Result<(), (String, String)> {
    let fraction = |field: &str, value: Option<f64>| match value {
        Some(v) if !(v.is_finite() && (0.0..=1.0).contains(&v)) => Err((
            field.to_string(),
            format!("{v} is not a fraction from 0 to 1"),
        )),
        _ => Ok(()),
    };
    fraction("drop_rate", Some(run.drop_rate))?;
    fraction("loss_rate", run.loss_rate)?;
    fraction("loss_rate_max", run.loss_rate_max)?;
    let non_negative = |field: &str, value: Option<f64>| match value {
        Some(v) if !(v.is_finite() && v >= 0.0) => Err((
            field.to_string(),
            format!("{v} is not a number of 0 or more"),
        )),
        _ => Ok(()),
    };
    non_negative("cpu.user_s", Some(run.cpu.user_s))?;
    non_negative("cpu.sys_s", Some(run.cpu.sys_s))?;
    non_negative("cpu.other_load_cpus", run.cpu.other_load_cpus)?;
    if run.consumers_lost > run.consumers as u64 {
        return Err((
            "consumers_lost".to_string(),
            format!(
                "{} is more than the run's {} consumers",
                run.consumers_lost, run.consumers
            ),
        ));
    }
    for (name, summary) in [
        ("age_ns", &run.age_ns),
        ("acquire_ns", &run.acquire_ns),
        ("publish_ns", &run.publish_ns),
        ("render_ns", &run.render_ns),
        ("e2e_ns", &run.e2e_ns),
    ] {
        check_summary(summary).map_err(|(point, problem)| (format!("{name}.{point}"), problem))?;
    }
    Ok(())
}

fn check_summary(summary: &LatencySummary) -> Result<(), (&'static str, String)> {
    let points = [
        ("p50", summary.p50),
        ("p90", summary.p90),
        ("p99", summary.p99),
        ("p999", summary.p999),
        ("max", summary.max),
    ];
    if summary.count == 0 {
        // Nothing measured: no percentile can have a value (`null` or 0 as written).
        if let Some((point, value)) = points.iter().find(|(_, v)| *v != 0) {
            return Err((
                point,
                format!("{value} ns, but count is 0: a percentile of no samples"),
            ));
        }
    }
    for pair in points.windows(2) {
        let ((low_name, low), (high_name, high)) = (pair[0], pair[1]);
        if low > high {
            return Err((
                low_name,
                format!("{low} ns is above {high_name} ({high} ns): percentiles out of order"),
            ));
        }
    }
    if !(summary.mean.is_finite() && summary.mean >= 0.0) {
        return Err(("mean", format!("{} is not a latency", summary.mean)));
    }
    // An empty string is a report that did not embed the histogram; anything else must be
    // one (reports and gates decode it).
    if !summary.hdr.is_empty() {
        summary.decode().map_err(|e| ("hdr", e))?;
    }
    Ok(())
}

/// A hash of the run's whole record, through its JSON form (the record has floats, which
/// have no `Hash`).
fn record_hash(run: &RunResult) -> u64 {
    struct HashWriter(DefaultHasher);
    impl std::io::Write for HashWriter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.write(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut writer = HashWriter(DefaultHasher::new());
    // Serialising a record that was just deserialised cannot fail; a failure would only
    // weaken the duplicate check to the equality test below it.
    let _ = serde_json::to_writer(&mut writer, run);
    writer.0.finish()
}
