//! The terminal table printed after a run.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, Table};

use crate::format::{format_bytes, format_ns, format_ns_ci, or_dash};
use crate::summary::verdicts;
use crate::view::View;
use crate::{Exporter, LimitsTable, Report, ReportError};

/// One row per run: age percentiles, acquire and publish p99, drops, torn frames, memory
/// and CPU.
#[derive(Default)]
pub struct TerminalTable {
    /// Force a width (tests); `None` sizes to the terminal when there is one.
    pub width: Option<u16>,
    /// How repeated trials are shown.
    pub trials: crate::Trials,
    /// One row per stream under the row of a run of several (`--per-stream`).
    pub per_stream: bool,
}

impl Exporter for TerminalTable {
    fn render(&self, report: &Report) -> Result<Vec<u8>, ReportError> {
        let mut table = Table::new();
        table.load_preset(UTF8_FULL_CONDENSED);
        if let Some(width) = self.width {
            table.set_width(width);
        }
        table.set_header(vec![
            "strategy",
            "consumers",
            "lost",
            "age p50",
            "age p90",
            "age p99",
            "age p99.9",
            "age max",
            "acquire p99",
            "publish p99",
            "loss % (worst)",
            "drops / overruns",
            "drop %",
            "torn",
            "peak PSS",
            "CPU %",
            "CPU per frame",
        ]);
        // Repeated trials are one row: the median trial by p99 age, the spread said below.
        let reports = std::slice::from_ref(report);
        let view = View::with_trials(reports, self.trials);
        let mut spreads = Vec::new();
        for entry in &view.entries {
            let run = entry.run;
            let age = &run.age_ns;
            if let Some(spread) = entry.spread_text() {
                spreads.push(format!("  {} x{}: {spread}", entry.member, run.consumers));
            }
            let cpu = (run.cpu.user_s + run.cpu.sys_s) / run.config.duration_s.max(1e-9) * 100.0;
            table.add_row(vec![
                member_text(&entry.member, run),
                run.consumers.to_string(),
                // Which consumers and how they ended is in the lines under the table.
                run.consumers_lost.to_string(),
                or_dash(age, || format_ns_ci(age.p50, age.ci95.map(|c| c.p50))),
                or_dash(age, || format_ns(age.p90)),
                or_dash(age, || format_ns_ci(age.p99, age.ci95.map(|c| c.p99))),
                or_dash(age, || format_ns_ci(age.p999, age.ci95.map(|c| c.p999))),
                or_dash(age, || format_ns(age.max)),
                or_dash(&run.acquire_ns, || format_ns(run.acquire_ns.p99)),
                format_ns(run.publish_ns.p99),
                crate::summary::loss_text(run),
                format!(
                    "{} / {}",
                    run.frames.producer_drops, run.frames.source_overruns
                ),
                format!("{:.2}", run.drop_rate * 100.0),
                run.torn_frames.to_string(),
                format_bytes(run.memory.peak_pss_bytes),
                format!("{cpu:.0}"),
                crate::summary::cpu_per_frame_text(run),
            ]);
            if self.per_stream {
                for stream in &run.streams {
                    table.add_row(stream_row(stream, run));
                }
            }
        }
        for column in table.column_iter_mut().skip(1) {
            column.set_cell_alignment(CellAlignment::Right);
        }
        let mut text = table.to_string().into_bytes();
        text.push(b'\n');
        if !spreads.is_empty() {
            text.extend(b"repeated trials, one row each (the median trial by p99 age):\n");
            for line in spreads {
                text.extend(line.into_bytes());
                text.push(b'\n');
            }
        }
        // Expected 0: a lost wake-up is a consumer asleep with a frame ready.
        let lost: Vec<String> = report
            .runs
            .iter()
            .filter(|r| r.lost_wakeups > 0)
            .map(|r| format!("{} x{}: {}", r.strategy, r.consumers, r.lost_wakeups))
            .collect();
        // What a queue cost each consumer (FIFO strategies).
        for run in &report.runs {
            let Some(queues) = run.queues.as_ref().filter(|q| !q.is_empty()) else {
                continue;
            };
            let list = |f: &dyn Fn(&fbench_harness::result::QueueRecord) -> String| {
                queues.iter().map(f).collect::<Vec<_>>().join("/")
            };
            let blocked = queues.iter().map(|q| q.producer_blocked_ns).sum::<u64>();
            text.extend(
                format!(
                    "queues of {} x{} (depth {}, {}), per consumer: dropped by policy {}, deepest {}; producer blocked {}\n",
                    run.strategy,
                    run.consumers,
                    run.config.queue_depth,
                    run.config.drop_policy,
                    list(&|q| q.dropped_by_policy.to_string()),
                    list(&|q| q.max_depth.to_string()),
                    format_ns(blocked)
                )
                .into_bytes(),
            );
        }
        if !lost.is_empty() {
            text.extend(
                format!("lost wake-ups (expected 0): {}\n\n", lost.join(", ")).into_bytes(),
            );
        }
        // A lost consumer's figures died with it: say so next to the figures of the others.
        for run in report.runs.iter().filter(|r| r.consumers_lost > 0) {
            text.extend(lost_consumers_line(run).into_bytes());
            text.push(b'\n');
        }
        text.extend(who_wins(report).into_bytes());
        // The machine's limits and each run's distance from them, when calibrated.
        text.extend(
            LimitsTable {
                width: self.width,
                trials: self.trials,
            }
            .render(report)?,
        );
        Ok(text)
    }
}

/// A run's first cell: its name, and for a run of several streams their count and the
/// worst one (the whole row's figures are over every stream).
///
/// ```
/// use fbench_harness::config::RunConfig;
/// use fbench_harness::result::RunResult;
/// use fbench_reports::member_text;
///
/// let mut run = RunResult::empty("pool", 3, RunConfig::default_config().record());
/// assert_eq!(member_text("pool", &run), "pool");
/// run.config.streams = 4;
/// run.worst_stream = Some(2);
/// assert_eq!(member_text("pool", &run), "pool ×4 streams, worst #2");
/// ```
pub fn member_text(member: &str, run: &fbench_harness::RunResult) -> String {
    match (run.config.streams, run.worst_stream) {
        (k, Some(worst)) if k > 1 => format!("{member} ×{k} streams, worst #{worst}"),
        _ => member.to_string(),
    }
}

/// A stream's row under its run's (`--per-stream`): what is its own (age, loss, counts,
/// CPU of its producer and consumers); memory is the run's and left empty.
fn stream_row(
    stream: &fbench_harness::streams::StreamRecord,
    run: &fbench_harness::RunResult,
) -> Vec<String> {
    let age = &stream.age_ns;
    let loss = match (stream.loss_rate, stream.loss_rate_max) {
        (Some(mean), Some(worst)) => format!("{:.2} ({:.2})", mean * 100.0, worst * 100.0),
        _ => "n/a".to_string(),
    };
    let worst = if run.worst_stream == Some(stream.stream) {
        " (worst)"
    } else {
        ""
    };
    vec![
        format!("  stream {}{worst}", stream.stream),
        run.consumers.to_string(),
        stream.consumers_lost.to_string(),
        or_dash(age, || format_ns_ci(age.p50, age.ci95.map(|c| c.p50))),
        or_dash(age, || format_ns(age.p90)),
        or_dash(age, || format_ns_ci(age.p99, age.ci95.map(|c| c.p99))),
        or_dash(age, || format_ns_ci(age.p999, age.ci95.map(|c| c.p999))),
        or_dash(age, || format_ns(age.max)),
        String::new(),
        String::new(),
        loss,
        format!(
            "{} / {}",
            stream.frames.producer_drops, stream.frames.source_overruns
        ),
        format!("{:.2}", stream.drop_rate * 100.0),
        stream.torn_frames.to_string(),
        String::new(),
        String::new(),
        stream.cpu_demand.map_or_else(
            || "n/a".to_string(),
            |d| format_ns(d.total_ns_per_frame.round() as u64),
        ),
    ]
}

/// One line for a run that lost consumers: which, how they ended, and what its figures are
/// over. Also what `fbench run` prints on stderr.
///
/// ```
/// use fbench_harness::config::RunConfig;
/// use fbench_harness::result::{ConsumerRecord, RunResult};
/// use fbench_reports::lost_consumers_line;
///
/// let mut run = RunResult::empty("shm", 3, RunConfig::default_config().record());
/// run.consumers_lost = 3;
/// assert_eq!(
///     lost_consumers_line(&run),
///     "lost consumers: shm x3 lost 3 of 3; no consumer survived: no latency figures"
/// );
/// ```
pub fn lost_consumers_line(run: &fbench_harness::RunResult) -> String {
    let survivors = run.consumers as u64 - run.consumers_lost.min(run.consumers as u64);
    let over = if survivors == 0 {
        "no consumer survived: no latency figures".to_string()
    } else {
        format!("figures are over the {survivors} that reported")
    };
    format!(
        "lost consumers: {} x{} lost {}; {over}",
        run.strategy,
        run.consumers,
        crate::summary::lost_text(run)
    )
}

/// "Who wins" under the table, for every configuration point with more than one candidate:
/// the winner when its p99 age interval lies below every other's, else the tie.
fn who_wins(report: &Report) -> String {
    let reports = std::slice::from_ref(report);
    let view = View::new(reports);
    let mut lines = Vec::new();
    for verdict in verdicts(&view) {
        let group = &view.groups[verdict.group];
        if group.entries.len() < 2 || verdict.lowest().is_none() {
            continue;
        }
        let run = view.entries[verdict.lowest().unwrap_or_default()].run;
        let figure = format_ns_ci(run.age_ns.p99, run.age_ns.ci95.map(|c| c.p99));
        let text = match verdict.fastest {
            Some(_) => format!("{} (p99 age {figure})", verdict.fastest_text(&view)),
            None => format!("{} (lowest p99 age {figure})", verdict.fastest_text(&view)),
        };
        lines.push(format!("  {}: {text}", group.label));
    }
    if lines.is_empty() {
        return String::new();
    }
    format!(
        "Who wins (lowest p99 age, only when its 95% interval lies below every other run's):\n{}\n\n",
        lines.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_read_well() {
        assert_eq!(format_ns(850), "850 ns");
        assert_eq!(format_ns(1_500), "1.50 µs");
        assert_eq!(format_ns(45_300), "45.3 µs");
        assert_eq!(format_ns(2_340_000), "2.34 ms");
        assert_eq!(format_ns(120_000_000), "120 ms");
        assert_eq!(format_ns(3_000_000_000), "3.00 s");
        assert_eq!(format_bytes(6_220_800), "6.2 MB");
        assert_eq!(format_bytes(512_000), "512 kB");
        assert_eq!(
            format_ns_ci(3_010_000, Some([2_900_000, 3_140_000])),
            "3.01 ms [2.90, 3.14]"
        );
        assert_eq!(format_ns_ci(850, Some([800, 1_200])), "850 ns [800, 1200]");
        assert_eq!(format_ns_ci(45_300, None), "45.3 µs");
    }
}
