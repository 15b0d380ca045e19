//! The calibration block and the limit ratios as the terminal shows them: what the machine
//! allows, then how far each strategy is from it.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, Table};
use fbench_harness::calibrate::{
    Calibration, CLOCK_READS_PER_FRAME, RECORDS_PER_FRAME, VERIFICATIONS_PER_FRAME,
};
use fbench_harness::limits::LimitRatios;

use crate::format::{format_bytes, format_ns};
use crate::{Exporter, Report, ReportError};

impl Report {
    /// Attach the machine's calibration and each run's ratios to it (no ratios when nothing
    /// was measured, e.g. `FBENCH_CALIBRATION=off`).
    pub fn calibrated(mut self, calibration: Calibration) -> Report {
        let measured = calibration != Calibration::default();
        for run in self.runs.iter_mut().filter(|_| measured) {
            run.limits = Some(LimitRatios::of(run, &calibration));
        }
        self.calibration = calibration;
        self
    }

    /// Compare every run with the `ideal` reference of its configuration point (after
    /// [`Report::calibrated`], which sets the calibration ratios).
    pub fn compared_with_ideal(mut self) -> Report {
        fbench_harness::limits::versus_ideal(&mut self.runs);
        self
    }
}

/// The calibration lines, then one row per calibrated run: acquire p50 against its floor,
/// delivery age against the wake latency. Renders nothing for a report without calibration.
#[derive(Default)]
pub struct LimitsTable {
    /// Force a width (tests); `None` sizes to the terminal when there is one.
    pub width: Option<u16>,
    /// How repeated trials are shown in the calibration ratios (one row per strategy and
    /// point, the median trial by p99 age, unless every trial is asked for).
    pub trials: crate::Trials,
}

impl Exporter for LimitsTable {
    fn render(&self, report: &Report) -> Result<Vec<u8>, ReportError> {
        let mut text = String::new();
        let calibrated = report.calibration != Calibration::default();
        if calibrated {
            text.push_str("machine limits (fbench calibrate):\n");
            for line in calibration_lines(&report.calibration) {
                text.push_str("  ");
                text.push_str(&line);
                text.push('\n');
            }
        }
        let runs: Vec<_> = report
            .runs
            .iter()
            .filter_map(|run| run.limits.as_ref().map(|limits| (run, limits)))
            .collect();
        // First the reference: each strategy over the `ideal` runs of its point, paired trial
        // by trial in the same regime (machine load, consumers, workload, wait mode). Every
        // trial of a point carries the same paired figures: one row per strategy and point.
        let mut versus: Vec<&(&fbench_harness::RunResult, &LimitRatios)> = Vec::new();
        for entry in runs
            .iter()
            .filter(|(_, l)| l.age_p99_vs_ideal.is_some() || l.pss_over_ideal_bytes.is_some())
        {
            let seen = versus.iter().any(|(r, _)| {
                r.strategy == entry.0.strategy
                    && r.consumers == entry.0.consumers
                    && r.config == entry.0.config
            });
            if !seen {
                versus.push(entry);
            }
        }
        if !versus.is_empty() {
            let mut table = Table::new();
            table.load_preset(UTF8_FULL_CONDENSED);
            if let Some(width) = self.width {
                table.set_width(width);
            }
            table.set_header(vec![
                "strategy",
                "consumers",
                "age p50 / ideal",
                "age p99 / ideal",
                "acquire p50 / ideal",
                "PSS over ideal",
                "pairs",
            ]);
            for (run, limits) in versus {
                let pss = match limits.pss_over_ideal_bytes {
                    Some(bytes) if bytes < 0 => format!("-{}", format_bytes(bytes.unsigned_abs())),
                    Some(bytes) => format!("+{}", format_bytes(bytes as u64)),
                    None => "n/a".to_string(),
                };
                table.add_row(vec![
                    run.strategy.clone(),
                    run.consumers.to_string(),
                    format_ratio_ci(limits.age_p50_vs_ideal, limits.age_p50_vs_ideal_ci95),
                    format_ratio_ci(limits.age_p99_vs_ideal, limits.age_p99_vs_ideal_ci95),
                    format_ratio_ci(
                        limits.acquire_p50_vs_ideal,
                        limits.acquire_p50_vs_ideal_ci95,
                    ),
                    pss,
                    limits
                        .vs_ideal_pairs
                        .map_or_else(|| "-".to_string(), |n| n.to_string()),
                ]);
            }
            for column in table.column_iter_mut().skip(1) {
                column.set_cell_alignment(CellAlignment::Right);
            }
            text.push_str(
                "against the ideal reference (a minimal latest-value strategy run beside the \
                 others: same machine, consumers, workload, wait):\n",
            );
            text.push_str(&table.to_string());
            text.push('\n');
            text.push_str(VERSUS_IDEAL_NOTE);
            text.push('\n');
        }
        let reports = std::slice::from_ref(report);
        let view = crate::view::View::with_trials(reports, self.trials);
        let runs: Vec<_> = view
            .entries
            .iter()
            .filter_map(|e| e.run.limits.as_ref().map(|l| (e, l)))
            .filter(|(_, l)| l.age_p50_ratio.is_some() || l.acquire_floor.is_some())
            .collect();
        if !runs.is_empty() {
            let mut table = Table::new();
            table.load_preset(UTF8_FULL_CONDENSED);
            if let Some(width) = self.width {
                table.set_width(width);
            }
            // Every acquire is two clock reads apart, so it carries about one read's cost.
            let acquire = match report.calibration.clock_read_ns {
                Some(ns) => format!("acquire p50 (incl. clock read {})", format_ns_f64(ns)),
                None => "acquire p50".to_string(),
            };
            table.set_header(vec![
                "strategy".to_string(),
                acquire,
                "acquire floor".to_string(),
                "acquire / floor".to_string(),
                "acquire / cold copy".to_string(),
                "age p50 / wake p50".to_string(),
                "age p99 / wake p99".to_string(),
            ]);
            for (entry, limits) in runs {
                let run = entry.run;
                let floor = match (limits.acquire_floor, limits.acquire_floor_ns) {
                    (Some(floor), Some(ns)) => format!("{} {}", floor.label(), format_ns_f64(ns)),
                    (Some(floor), None) => format!("{} (not measured)", floor.label()),
                    (None, _) => "unknown strategy".to_string(),
                };
                table.add_row(vec![
                    entry.member.clone(),
                    format_ns(run.acquire_ns.p50),
                    floor,
                    format_ratio(limits.acquire_p50_ratio),
                    format_ratio(limits.acquire_p50_cold_copy_ratio),
                    format_ratio(limits.age_p50_ratio),
                    format_ratio(limits.age_p99_ratio),
                ]);
            }
            for column in table.column_iter_mut().skip(1) {
                column.set_cell_alignment(CellAlignment::Right);
            }
            text.push_str(&table.to_string());
            text.push('\n');
        }
        Ok(text.into_bytes())
    }
}

/// One line per calibrated figure, as `fbench calibrate` prints them.
pub fn calibration_lines(calibration: &Calibration) -> Vec<String> {
    let unmeasured = || "not measured".to_string();
    let mut lines = Vec::new();
    let copy = match (
        calibration.frame_bytes,
        calibration.frame_copy_ns,
        calibration.memcpy_bytes_per_s,
    ) {
        (Some(bytes), Some(ns), Some(rate)) => format!(
            "{} frame copied in {} ({}/s)",
            format_bytes(bytes),
            format_ns_f64(ns),
            format_bytes(rate as u64)
        ),
        _ => unmeasured(),
    };
    lines.push(format!("memory copy:       {copy}"));
    let cold = match (calibration.frame_copy_cold_ns, calibration.frame_bytes) {
        (Some(ns), Some(bytes)) => {
            let cpus = match calibration.frame_copy_cold_cpus {
                Some([writer, copier]) => {
                    format!("written by CPU {writer}, copied by CPU {copier}")
                }
                None => "written and copied by two threads (not pinned)".to_string(),
            };
            let hot = calibration
                .frame_copy_ns
                .filter(|hot| *hot > 0.0)
                .map(|hot| format!(", {:.1}x the hot copy", ns / hot))
                .unwrap_or_default();
            format!(
                "{} frame in {} ({cpus}, into a buffer in no cache{hot})",
                format_bytes(bytes),
                format_ns_f64(ns)
            )
        }
        _ => unmeasured(),
    };
    lines.push(format!("cold copy:         {cold}"));
    let cacheline = match (calibration.cacheline_rtt_ns, calibration.cacheline_cpus) {
        (Some(ns), Some([a, b])) => format!("{} (CPUs {a} and {b})", format_ns_f64(ns)),
        (Some(ns), None) => format!("{} (threads not pinned)", format_ns_f64(ns)),
        (None, _) => "not measured (needs two CPUs)".to_string(),
    };
    let pairs = &calibration.cacheline_pairs;
    let cacheline = if pairs.is_empty() {
        cacheline
    } else {
        let min = calibration
            .cacheline_rtt_min_ns
            .map(|ns| format!(", min {}", format_ns_f64(ns)))
            .unwrap_or_default();
        let each: Vec<String> = pairs
            .iter()
            .map(|p| {
                format!(
                    "CPUs {} and {} ({}{}): median {}, min {}",
                    p.cpus[0],
                    p.cpus[1],
                    p.relation,
                    if p.pinned { "" } else { ", not pinned" },
                    format_ns_f64(p.median_ns),
                    format_ns_f64(p.min_ns)
                )
            })
            .collect();
        format!("median {cacheline}{min}; {}", each.join("; "))
    };
    lines.push(format!("cache-line RTT:    {cacheline}"));
    let clock = calibration
        .clock_read_ns
        .map(format_ns_f64)
        .unwrap_or_else(unmeasured);
    lines.push(format!("clock read:        {clock}"));
    let wake = |p50: Option<u64>, p99: Option<u64>| match (p50, p99) {
        (Some(p50), Some(p99)) => format!("p50 {}, p99 {}", format_ns(p50), format_ns(p99)),
        _ => unmeasured(),
    };
    lines.push(format!(
        "wake (futex):      {}",
        wake(calibration.wake_p50_ns, calibration.wake_p99_ns)
    ));
    lines.push(format!(
        "wake (condvar):    {}",
        wake(
            calibration.condvar_wake_p50_ns,
            calibration.condvar_wake_p99_ns
        )
    ));
    let period = calibration
        .wake_period_ns
        .map(|ns| format!("{} period", format_ns(ns)))
        .unwrap_or_default();
    let after = match calibration.wake_after_period_samples {
        Some(n) => format!(
            "{} (futex, one sleeper after a {period}, {n} wake-ups)",
            wake(
                calibration.wake_after_period_p50_ns,
                calibration.wake_after_period_p99_ns
            )
        ),
        None => unmeasured(),
    };
    lines.push(format!("wake after period: {after}"));
    let all = match (calibration.wake_all_sleepers, calibration.wake_all_samples) {
        (Some(sleepers), Some(n)) => format!(
            "{} (futex, {sleepers} sleepers woken at once after a {period}, {n} wake-ups)",
            wake(calibration.wake_all_p50_ns, calibration.wake_all_p99_ns)
        ),
        _ => unmeasured(),
    };
    lines.push(format!("wake all:          {all}"));
    let overhead = match &calibration.harness_overhead {
        Some(o) => {
            let of_copy = calibration
                .frame_copy_ns
                .filter(|ns| *ns > 0.0)
                .map(|ns| {
                    format!(
                        "; verification is {:.2}% of a frame copy",
                        o.verification_ns / ns * 100.0
                    )
                })
                .unwrap_or_default();
            format!(
                "{} per frame per consumer ({CLOCK_READS_PER_FRAME} clock reads {}, {RECORDS_PER_FRAME} histogram records {}, {VERIFICATIONS_PER_FRAME} '{}' verifications {}{of_copy})",
                format_ns_f64(o.total_ns),
                format_ns_f64(o.clock_reads_ns),
                format_ns_f64(o.histogram_records_ns),
                o.verify,
                format_ns_f64(o.verification_ns),
            )
        }
        None => unmeasured(),
    };
    lines.push(format!("harness overhead:  {overhead}"));
    lines
}

/// Like [`format_ns`], with one decimal below a microsecond (clock reads take tens of ns).
fn format_ns_f64(ns: f64) -> String {
    if ns < 1_000.0 {
        format!("{ns:.1} ns")
    } else {
        format_ns(ns.round() as u64)
    }
}

/// What the ratios to the reference are, said wherever they are shown.
pub const VERSUS_IDEAL_NOTE: &str =
    "  each ratio is the median over trials of (trial k / the reference's trial k) \
     [95% interval, from 6 pairs on: --repeat 6]; below 1 means the two runs' samples of this \
     machine's background differed more than the designs did, not that a design beats the \
     reference.";

/// A ratio and its interval, `2.00x [1.50, 3.10]`.
fn format_ratio_ci(ratio: Option<f64>, ci95: Option<[f64; 2]>) -> String {
    let number = |r: f64| format_ratio(Some(r)).trim_end_matches('x').to_string();
    match (ratio, ci95) {
        (Some(r), Some([low, high])) => {
            format!(
                "{} [{}, {}]",
                format_ratio(Some(r)),
                number(low),
                number(high)
            )
        }
        _ => format_ratio(ratio),
    }
}

fn format_ratio(ratio: Option<f64>) -> String {
    match ratio {
        None => "-".to_string(),
        Some(r) if r >= 100.0 => format!("{r:.0}x"),
        Some(r) if r >= 10.0 => format!("{r:.1}x"),
        Some(r) => format!("{r:.2}x"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fbench_harness::calibrate::HarnessOverhead;

    #[test]
    fn ratios_and_sub_microsecond_times_read_well() {
        assert_eq!(format_ratio(None), "-");
        assert_eq!(format_ratio(Some(1.234)), "1.23x");
        assert_eq!(format_ratio(Some(12.34)), "12.3x");
        assert_eq!(format_ratio(Some(1234.0)), "1234x");
        assert_eq!(format_ns_f64(21.74), "21.7 ns");
        assert_eq!(format_ns_f64(1_500.0), "1.50 µs");
    }

    #[test]
    fn every_figure_has_a_line_and_missing_ones_say_so() {
        let lines = calibration_lines(&Calibration::default());
        assert_eq!(lines.len(), 9);
        assert!(
            lines.iter().all(|l| l.contains("not measured")),
            "{lines:?}"
        );
        let calibration = Calibration {
            frame_bytes: Some(6_220_800),
            memcpy_bytes_per_s: Some(12.4e9),
            frame_copy_ns: Some(501_000.0),
            cacheline_rtt_ns: Some(180.5),
            cacheline_cpus: Some([0, 1]),
            clock_read_ns: Some(21.7),
            wake_p50_ns: Some(55_100),
            wake_p99_ns: Some(110_000),
            condvar_wake_p50_ns: Some(60_000),
            condvar_wake_p99_ns: Some(130_000),
            harness_overhead: Some(HarnessOverhead {
                verify: "stamps".into(),
                clock_reads_ns: 65.1,
                histogram_records_ns: 30.0,
                verification_ns: 5010.0,
                total_ns: 5105.1,
            }),
            took_ms: Some(1200),
            ..Calibration::default()
        };
        let lines = calibration_lines(&calibration);
        assert_eq!(
            lines,
            [
                "memory copy:       6.2 MB frame copied in 501 µs (12.40 GB/s)",
                "cold copy:         not measured",
                "cache-line RTT:    180.5 ns (CPUs 0 and 1)",
                "clock read:        21.7 ns",
                "wake (futex):      p50 55.1 µs, p99 110 µs",
                "wake (condvar):    p50 60.0 µs, p99 130 µs",
                "wake after period: not measured",
                "wake all:          not measured",
                "harness overhead:  5.11 µs per frame per consumer (3 clock reads 65.1 ns, 3 histogram records 30.0 ns, 2 'stamps' verifications 5.01 µs; verification is 1.00% of a frame copy)",
            ]
        );
        // The regime's figures, as a calibration of this fbench has them.
        let calibration = Calibration {
            frame_copy_cold_ns: Some(1_503_000.0),
            frame_copy_cold_cpus: Some([0, 1]),
            cacheline_rtt_min_ns: Some(150.2),
            cacheline_pairs: vec![fbench_harness::calibrate::CachelinePair {
                cpus: [0, 1],
                relation: "same package".into(),
                pinned: true,
                min_ns: 150.2,
                median_ns: 180.5,
            }],
            wake_period_ns: Some(33_333_333),
            wake_after_period_p50_ns: Some(70_000),
            wake_after_period_p99_ns: Some(140_000),
            wake_after_period_samples: Some(8),
            wake_all_sleepers: Some(5),
            wake_all_p50_ns: Some(90_000),
            wake_all_p99_ns: Some(300_000),
            wake_all_samples: Some(40),
            ..calibration
        };
        let lines = calibration_lines(&calibration);
        assert_eq!(
            lines[1],
            "cold copy:         6.2 MB frame in 1.50 ms (written by CPU 0, copied by CPU 1, into a buffer in no cache, 3.0x the hot copy)"
        );
        assert_eq!(
            lines[2],
            "cache-line RTT:    median 180.5 ns (CPUs 0 and 1), min 150.2 ns; CPUs 0 and 1 (same package): median 180.5 ns, min 150.2 ns"
        );
        assert_eq!(
            lines[6],
            "wake after period: p50 70.0 µs, p99 140 µs (futex, one sleeper after a 33.3 ms period, 8 wake-ups)"
        );
        assert_eq!(
            lines[7],
            "wake all:          p50 90.0 µs, p99 300 µs (futex, 5 sleepers woken at once after a 33.3 ms period, 40 wake-ups)"
        );
    }
}
