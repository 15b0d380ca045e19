//! What the HTML and Markdown summaries share: the columns of the summary table, which value
//! in a column is best, and the verdict per configuration point (who wins, at what memory
//! cost).

use fbench_harness::RunResult;

use crate::table::{format_bytes, format_ns};
use crate::view::{cpu_percent, View};

pub(crate) struct Column {
    pub name: &'static str,
    /// The value compared for "best" (lower is better for every column).
    pub value: fn(&RunResult) -> f64,
    pub text: fn(&RunResult) -> String,
}

pub(crate) fn columns() -> Vec<Column> {
    vec![
        Column {
            name: "age p50",
            value: |r| r.age_ns.p50 as f64,
            text: |r| format_ns(r.age_ns.p50),
        },
        Column {
            name: "age p90",
            value: |r| r.age_ns.p90 as f64,
            text: |r| format_ns(r.age_ns.p90),
        },
        Column {
            name: "age p99",
            value: |r| r.age_ns.p99 as f64,
            text: |r| format_ns(r.age_ns.p99),
        },
        Column {
            name: "age p99.9",
            value: |r| r.age_ns.p999 as f64,
            text: |r| format_ns(r.age_ns.p999),
        },
        Column {
            name: "age max",
            value: |r| r.age_ns.max as f64,
            text: |r| format_ns(r.age_ns.max),
        },
        Column {
            name: "acquire p99",
            value: |r| r.acquire_ns.p99 as f64,
            text: |r| format_ns(r.acquire_ns.p99),
        },
        Column {
            name: "publish p99",
            value: |r| r.publish_ns.p99 as f64,
            text: |r| format_ns(r.publish_ns.p99),
        },
        Column {
            name: "drop %",
            value: |r| r.drop_rate,
            text: |r| format!("{:.2}", r.drop_rate * 100.0),
        },
        Column {
            name: "deadline misses",
            value: |r| r.deadline_misses as f64,
            text: |r| r.deadline_misses.to_string(),
        },
        Column {
            name: "torn",
            value: |r| r.torn_frames as f64,
            text: |r| r.torn_frames.to_string(),
        },
        Column {
            name: "peak PSS",
            value: |r| r.memory.peak_pss_bytes as f64,
            text: |r| format_bytes(r.memory.peak_pss_bytes),
        },
        Column {
            name: "CPU %",
            value: cpu_percent,
            text: |r| format!("{:.0}", cpu_percent(r)),
        },
    ]
}

/// For each entry of `group`, whether its value in `column` is the group's best. Nothing is
/// marked when every run has the same value (nothing to choose between).
pub(crate) fn best_marks(view: &View, group: usize, column: &Column) -> Vec<bool> {
    let entries = &view.groups[group].entries;
    let values: Vec<f64> = entries
        .iter()
        .map(|&i| (column.value)(view.entries[i].run))
        .collect();
    let best = values.iter().copied().fold(f64::INFINITY, f64::min);
    let differ = values.iter().any(|v| *v != best);
    values.iter().map(|v| differ && *v == best).collect()
}

/// Who wins one configuration point.
pub(crate) struct Verdict {
    pub group: usize,
    /// Lowest p99 age among the runs that tore no frame and lost no consumer.
    pub fastest: Option<usize>,
    /// Lowest peak PSS among the same runs.
    pub leanest: Option<usize>,
    /// Runs left out of the choice, with why.
    pub disqualified: Vec<(usize, &'static str)>,
}

pub(crate) fn verdicts(view: &View) -> Vec<Verdict> {
    (0..view.groups.len())
        .map(|g| {
            let mut eligible = Vec::new();
            let mut disqualified = Vec::new();
            for &i in &view.groups[g].entries {
                let run = view.entries[i].run;
                if run.torn_frames > 0 {
                    disqualified.push((i, "tore frames"));
                } else if run.per_consumer.iter().any(|c| c.status != "ok") {
                    disqualified.push((i, "lost a consumer"));
                } else if run.age_ns.count == 0 {
                    disqualified.push((i, "delivered nothing"));
                } else {
                    eligible.push(i);
                }
            }
            let by = |key: fn(&RunResult) -> u64| {
                eligible
                    .iter()
                    .copied()
                    .min_by_key(|&i| key(view.entries[i].run))
            };
            Verdict {
                group: g,
                fastest: by(|r| r.age_ns.p99),
                leanest: by(|r| r.memory.peak_pss_bytes),
                disqualified,
            }
        })
        .collect()
}

/// The memory a winner costs over the leanest run, readably.
pub(crate) fn memory_cost(view: &View, verdict: &Verdict) -> String {
    match (verdict.fastest, verdict.leanest) {
        (Some(f), Some(l)) if f == l => "least memory too".to_string(),
        (Some(f), Some(l)) => {
            let fast = view.entries[f].run.memory.peak_pss_bytes;
            let lean = view.entries[l].run.memory.peak_pss_bytes;
            let extra = fast.saturating_sub(lean);
            format!(
                "{} more than {} ({:.1}x)",
                format_bytes(extra),
                view.entries[l].member,
                fast as f64 / lean.max(1) as f64
            )
        }
        _ => "-".to_string(),
    }
}
