//! What the HTML and Markdown summaries share: the columns of the summary table, which value
//! in a column is best, and the verdict per configuration point (who wins, at what memory
//! cost).

use fbench_harness::RunResult;

use crate::format::{format_bytes, format_ns, format_ns_ci, or_dash};
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
            value: |r| measured(&r.age_ns, r.age_ns.p50),
            text: |r| {
                or_dash(&r.age_ns, || {
                    format_ns_ci(r.age_ns.p50, r.age_ns.ci95.map(|c| c.p50))
                })
            },
        },
        Column {
            name: "age p90",
            value: |r| measured(&r.age_ns, r.age_ns.p90),
            text: |r| or_dash(&r.age_ns, || format_ns(r.age_ns.p90)),
        },
        Column {
            name: "age p99",
            value: |r| measured(&r.age_ns, r.age_ns.p99),
            text: |r| {
                or_dash(&r.age_ns, || {
                    format_ns_ci(r.age_ns.p99, r.age_ns.ci95.map(|c| c.p99))
                })
            },
        },
        Column {
            name: "age p99.9",
            value: |r| measured(&r.age_ns, r.age_ns.p999),
            text: |r| {
                or_dash(&r.age_ns, || {
                    format_ns_ci(r.age_ns.p999, r.age_ns.ci95.map(|c| c.p999))
                })
            },
        },
        Column {
            name: "age max",
            value: |r| measured(&r.age_ns, r.age_ns.max),
            text: |r| or_dash(&r.age_ns, || format_ns(r.age_ns.max)),
        },
        Column {
            name: "acquire p99",
            value: |r| measured(&r.acquire_ns, r.acquire_ns.p99),
            text: |r| or_dash(&r.acquire_ns, || format_ns(r.acquire_ns.p99)),
        },
        Column {
            name: "publish p99",
            value: |r| r.publish_ns.p99 as f64,
            text: |r| format_ns(r.publish_ns.p99),
        },
        Column {
            name: "consumers lost",
            value: |r| r.consumers_lost as f64,
            text: lost_text,
        },
        Column {
            name: "loss % (worst)",
            value: |r| r.loss_rate.unwrap_or(f64::INFINITY),
            text: loss_text,
        },
        Column {
            name: "producer drops / overruns",
            value: |r| (r.frames.producer_drops + r.frames.source_overruns) as f64,
            text: |r| format!("{} / {}", r.frames.producer_drops, r.frames.source_overruns),
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
        Column {
            name: "CPU per frame",
            value: |r| cpu_per_frame_ns(r).unwrap_or(f64::INFINITY),
            text: cpu_per_frame_text,
        },
    ]
}

/// The whole run's CPU time (user + system, every process of the run) per due frame: the
/// figure to compare on a busy machine, since time other processes took is not in it.
pub(crate) fn cpu_per_frame_ns(run: &RunResult) -> Option<f64> {
    run.cpu_demand.map(|d| d.total_ns_per_frame)
}

/// [`cpu_per_frame_ns`] as a table shows it; `n/a` for reports written before fbench measured
/// it.
pub(crate) fn cpu_per_frame_text(run: &RunResult) -> String {
    cpu_per_frame_ns(run).map_or_else(|| "n/a".to_string(), |ns| format_ns(ns.round() as u64))
}

/// A figure compared for "best": a distribution that measured nothing is never best.
fn measured(summary: &fbench_harness::metrics::LatencySummary, ns: u64) -> f64 {
    if summary.measured() {
        ns as f64
    } else {
        f64::INFINITY
    }
}

/// Lost consumers of a run and how each ended: `0`, or `1 of 3 (2 stalled)`.
pub(crate) fn lost_text(run: &RunResult) -> String {
    if run.consumers_lost == 0 {
        return "0".to_string();
    }
    let ends: Vec<String> = run
        .per_consumer
        .iter()
        .filter(|c| c.status != "ok")
        .map(|c| format!("{} {}", c.id, c.status))
        .collect();
    let counted = format!("{} of {}", run.consumers_lost, run.consumers);
    if ends.is_empty() {
        counted
    } else {
        format!("{counted} ({})", ends.join(", "))
    }
}

/// Samples of a run that did not come through shared memory (`not_shm`, a silent fall-back
/// to the network made visible), when there were any: `zenoh x3: 12 (consumer 0: 5,
/// consumer 2: 7)`. `None` when the strategy does not check or every sample came through.
pub(crate) fn not_shm_text(run: &RunResult) -> Option<String> {
    let total = run.not_shm.filter(|&n| n > 0)?;
    let consumers: Vec<String> = run
        .per_consumer
        .iter()
        .filter_map(|c| Some((c.id, c.not_shm.filter(|&n| n > 0)?)))
        .map(|(id, n)| format!("consumer {id}: {n}"))
        .collect();
    Some(format!(
        "{} x{}: {total} ({})",
        run.strategy,
        run.consumers,
        consumers.join(", ")
    ))
}

/// Mean loss over due frames and the worst consumer's, in percent; `n/a` for reports written
/// before fbench counted due frames.
pub(crate) fn loss_text(run: &RunResult) -> String {
    match (run.loss_rate, run.loss_rate_max) {
        (Some(mean), Some(worst)) => format!("{:.2} ({:.2})", mean * 100.0, worst * 100.0),
        (Some(mean), None) => format!("{:.2}", mean * 100.0),
        _ => "n/a".to_string(),
    }
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

/// The strategy name of the reference run (a minimal latest-value design run beside the
/// others, not a floor): it is shown, but never wins and is never in a tie.
pub(crate) const REFERENCE: &str = "ideal";

/// Who wins one configuration point.
pub(crate) struct Verdict {
    pub group: usize,
    /// The run whose p99 age interval lies wholly below every other candidate's; `None`
    /// when there is a tie (or no candidate).
    pub fastest: Option<usize>,
    /// When no run is clearly fastest: the run with the lowest p99 age and every candidate
    /// whose interval overlaps its interval, lowest p99 first.
    pub tied: Vec<usize>,
    /// Lowest peak PSS among the same runs.
    pub leanest: Option<usize>,
    /// Runs left out of the choice, with why.
    pub disqualified: Vec<(usize, &'static str)>,
}

impl Verdict {
    /// The run whose figures the verdict shows: the winner, or the lowest of a tie.
    pub fn lowest(&self) -> Option<usize> {
        self.fastest.or(self.tied.first().copied())
    }

    /// `mutex`, or `tie within noise: arcswap, shm, pool`, or `-`.
    pub fn fastest_text(&self, view: &View) -> String {
        match self.fastest {
            Some(i) => view.entries[i].member.clone(),
            None if self.tied.is_empty() => "-".to_string(),
            None => format!("tie within noise: {}", tie_list(view, &self.tied)),
        }
    }
}

fn tie_list(view: &View, tied: &[usize]) -> String {
    tied.iter()
        .map(|&i| view.entries[i].member.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A run's p99 age interval: its `ci95`, or the point alone when the report has none.
pub(crate) fn p99_interval(run: &RunResult) -> [u64; 2] {
    run.age_ns
        .ci95
        .map(|c| c.p99)
        .unwrap_or([run.age_ns.p99, run.age_ns.p99])
}

/// The winner among `candidates` (indices into `runs`, named by `names`) by p99 age: the
/// lowest, if its interval's top is below every other's bottom; otherwise the tie (the
/// lowest and every candidate whose interval reaches down into the lowest's). Trials of
/// one name (`--repeat`) stand for it by their (upper) median trial, so neither a lucky trial wins
/// nor does a name tie with itself.
pub(crate) fn fastest(
    runs: &[&RunResult],
    names: &[&str],
    candidates: &[usize],
) -> (Option<usize>, Vec<usize>) {
    let mut order: Vec<usize> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for &i in candidates {
        if seen.contains(&names[i]) {
            continue;
        }
        seen.push(names[i]);
        let mut trials: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|&j| names[j] == names[i])
            .collect();
        trials.sort_by_key(|&j| runs[j].age_ns.p99);
        // The upper median: of two trials, the slower one.
        order.push(trials[trials.len() / 2]);
    }
    order.sort_by_key(|&i| (runs[i].age_ns.p99, p99_interval(runs[i])[1]));
    let Some(&lowest) = order.first() else {
        return (None, Vec::new());
    };
    let top = p99_interval(runs[lowest])[1];
    let tied: Vec<usize> = order
        .into_iter()
        .filter(|&i| i == lowest || p99_interval(runs[i])[0] <= top)
        .collect();
    if tied.len() == 1 {
        (Some(lowest), Vec::new())
    } else {
        (None, tied)
    }
}

pub(crate) fn verdicts(view: &View) -> Vec<Verdict> {
    let runs: Vec<&RunResult> = view.entries.iter().map(|e| e.run).collect();
    let names: Vec<&str> = view.entries.iter().map(|e| e.member.as_str()).collect();
    (0..view.groups.len())
        .map(|g| {
            let mut eligible = Vec::new();
            let mut disqualified = Vec::new();
            for &i in &view.groups[g].entries {
                let run = view.entries[i].run;
                // Any trial the entry stands for disqualifies it, not only the median one.
                let trials = &view.entries[i].trials;
                if run.strategy == REFERENCE {
                    disqualified.push((i, "reference"));
                } else if trials.iter().any(|t| t.torn_frames > 0) {
                    disqualified.push((i, "tore frames"));
                } else if trials
                    .iter()
                    .any(|t| t.per_consumer.iter().any(|c| c.status != "ok"))
                {
                    disqualified.push((i, "lost a consumer"));
                } else if run.age_ns.count == 0 {
                    disqualified.push((i, "delivered nothing"));
                } else {
                    eligible.push(i);
                }
            }
            let (fastest, tied) = fastest(&runs, &names, &eligible);
            Verdict {
                group: g,
                fastest,
                tied,
                leanest: eligible
                    .iter()
                    .copied()
                    .min_by_key(|&i| view.entries[i].run.memory.peak_pss_bytes),
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

#[cfg(test)]
mod tests {
    use super::*;
    use fbench_harness::metrics::Latency;

    /// A run whose age samples are `values` µs.
    fn run_of(strategy: &str, values: impl Iterator<Item = u64>) -> RunResult {
        let mut latency = Latency::new();
        for v in values {
            latency.record(v * 1000);
        }
        let json = serde_json::json!({
            "strategy": strategy, "consumers": 1,
            "config": serde_json::to_value(fbench_harness::RunConfig::default_config().record()).unwrap(),
            "frames": {"produced": 0, "published": 0, "producer_drops": 0, "source_overruns": 0},
            "age_ns": latency.summary(), "acquire_ns": latency.summary(),
            "publish_ns": latency.summary(), "render_ns": latency.summary(),
            "e2e_ns": latency.summary(), "drop_rate": 0.0, "deadline_misses": 0,
            "torn_frames": 0, "out_of_order": 0,
            "memory": {"baseline_pss_bytes": 0, "peak_pss_bytes": 0, "peak_rss_bytes": 0, "timeline": []},
            "cpu": {"user_s": 0.0, "sys_s": 0.0, "voluntary_ctx_switches": 0, "involuntary_ctx_switches": 0},
            "copies": {"bytes_copied": 0, "allocations": null, "frame_allocations": 0, "pool_grows": 0},
            "per_consumer": []
        });
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_winner_needs_its_interval_below_every_other() {
        // 1000 samples each: p99 intervals are ranks 983..997.
        let fast = run_of("a", 1..=1000);
        let slow = run_of("b", 2001..=3000);
        let close = run_of("c", 3..=1002);
        let runs = [&fast, &slow, &close];
        let names = ["a", "b", "c"];
        assert_eq!(fastest(&runs, &names, &[0, 1]), (Some(0), vec![]));
        // a and c overlap; b does not reach down into a's interval.
        assert_eq!(fastest(&runs, &names, &[1, 2, 0]), (None, vec![0, 2]));
        assert_eq!(fastest(&runs, &names, &[1]), (Some(1), vec![]));
        assert_eq!(fastest(&runs, &names, &[]), (None, vec![]));
        // Trials of one name: its median trial stands for it, and it never ties with
        // itself. Three trials of a (fast, close, slow) against b: a's median is `close`.
        let trials = [&fast, &close, &slow, &slow];
        let names = ["a", "a", "a", "b"];
        assert_eq!(fastest(&trials, &names, &[0, 1, 2, 3]), (Some(1), vec![]));
        // Without intervals (an older report) the points decide.
        let mut old = close.clone();
        old.age_ns.ci95 = None;
        let mut old_fast = fast.clone();
        old_fast.age_ns.ci95 = None;
        assert_eq!(
            fastest(&[&old_fast, &old], &["a", "c"], &[0, 1]),
            (Some(0), vec![])
        );
    }

    #[test]
    fn the_reference_never_wins() {
        let ideal = run_of("ideal", 1..=100);
        let shm = run_of("shm", 5001..=5100);
        let reports = [crate::Report::new(
            fbench_harness::machine::MachineInfo {
                cpu_model: String::new(),
                logical_cpus: 2,
                total_memory_bytes: 0,
                os: String::new(),
                kernel: String::new(),
                hostname: "h".to_string(),
            },
            crate::BuildInfo {
                version: String::new(),
                git_rev: String::new(),
            },
            vec![ideal, shm],
        )];
        let view = View::new(&reports);
        let verdict = &verdicts(&view)[0];
        assert_eq!(verdict.fastest_text(&view), "shm");
        assert!(verdict
            .disqualified
            .iter()
            .any(|(_, why)| *why == "reference"));
    }
}
