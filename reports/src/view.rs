//! One or more reports seen as a flat list of runs, grouped the way the HTML, Markdown and
//! CSV renderers show them.
//!
//! * A **configuration point** (group) is every run with the same configuration, consumer
//!   count included: the strategies that can be compared directly. The machine is *not* part
//!   of it, so runs of the same configuration on two machines sit side by side.
//! * A **member** label names a run inside its group: the strategy, plus the machine when the
//!   reports come from more than one, plus the report number when the same run appears in
//!   more than one report.
//! * A **series** label names a line in the charts against consumer count: the member label
//!   plus whatever else varies (resolution, fps, …).
//! * **Trials** (`--repeat N`): the runs of one strategy at one configuration point in one
//!   report are one result. By default the view keeps one entry for them, the *median trial
//!   by age p99* (the slower middle one for an even count: a real run, whose histograms and
//!   memory belong together, rather than a merged histogram no run produced), and the entry
//!   carries every trial for their spread. [`Trials::Each`] keeps every trial instead,
//!   labelled `trial k`.

use std::collections::BTreeMap;

use fbench_harness::machine::MachineInfo;
use fbench_harness::RunResult;

use crate::{Report, Trials};

/// Config fields that never distinguish runs (derived from others).
const DERIVED_KEYS: [&str; 2] = ["frame_bytes", "slots_default"];

pub(crate) struct Entry<'a> {
    pub run: &'a RunResult,
    /// Every trial this entry stands for, in trial order (`run` among them); one run when
    /// the configuration was not repeated or trials are shown one by one.
    pub trials: Vec<&'a RunResult>,
    /// Which of the view's reports the run comes from.
    pub report: usize,
    pub group: usize,
    pub member: String,
    pub series: String,
}

pub(crate) struct Group {
    pub label: String,
    /// Indices into `View::entries`, in report order.
    pub entries: Vec<usize>,
}

pub(crate) struct View<'a> {
    pub reports: &'a [Report],
    pub machines: Vec<&'a MachineInfo>,
    pub machine_labels: Vec<String>,
    pub entries: Vec<Entry<'a>>,
    pub groups: Vec<Group>,
    /// Series labels in first-seen order (lines of the charts against consumer count).
    pub series: Vec<String>,
    /// Config keys whose values differ between runs, consumers excluded.
    pub varying: Vec<String>,
}

impl Entry<'_> {
    /// The lowest and highest age p99 of the entry's trials, when it stands for several.
    pub fn p99_spread(&self) -> Option<[u64; 2]> {
        let p99s = self.trials.iter().map(|t| t.age_ns.p99);
        (self.trials.len() > 1).then(|| [p99s.clone().min().unwrap_or(0), p99s.max().unwrap_or(0)])
    }

    /// The error bar of the entry's age p99: its 95% interval, widened to the lowest and
    /// highest trial when it stands for several trials.
    pub fn p99_bar(&self) -> Option<[u64; 2]> {
        let ci = self.run.age_ns.ci95.map(|c| c.p99);
        match (ci, self.p99_spread()) {
            (Some([low, high]), Some([a, b])) => Some([low.min(a), high.max(b)]),
            (ci, spread) => ci.or(spread),
        }
    }

    /// `median of 3 trials by p99 age (p99 4.10 ms–6.20 ms)`, when the entry stands for
    /// several trials.
    pub fn spread_text(&self) -> Option<String> {
        self.p99_spread().map(|[low, high]| {
            format!(
                "median of {} trials by p99 age (p99 {}–{})",
                self.trials.len(),
                crate::format::format_ns(low),
                crate::format::format_ns(high)
            )
        })
    }
}

impl<'a> View<'a> {
    /// Repeated trials as one entry each: the median trial by age p99, with the others'
    /// spread.
    pub fn new(reports: &'a [Report]) -> View<'a> {
        View::with_trials(reports, Trials::Median)
    }

    /// Trials as `trials` asks: one entry per configuration, or every trial its own entry,
    /// labelled `trial k`.
    pub fn with_trials(reports: &'a [Report], trials: Trials) -> View<'a> {
        let each_trial = trials == Trials::Each;
        let mut machines: Vec<&MachineInfo> = Vec::new();
        let machine_of: Vec<usize> = reports
            .iter()
            .map(|r| match machines.iter().position(|m| **m == r.machine) {
                Some(i) => i,
                None => {
                    machines.push(&r.machine);
                    machines.len() - 1
                }
            })
            .collect();
        let machine_labels = machine_labels(&machines);

        let all_runs: Vec<(usize, &RunResult)> = reports
            .iter()
            .enumerate()
            .flat_map(|(i, r)| r.runs.iter().map(move |run| (i, run)))
            .collect();
        // The trials of each run: same report, strategy, consumers and configuration.
        let same_point = |a: &(usize, &RunResult), b: &(usize, &RunResult)| {
            a.0 == b.0
                && a.1.strategy == b.1.strategy
                && a.1.consumers == b.1.consumers
                && a.1.config == b.1.config
        };
        let mut runs: Vec<(usize, &RunResult)> = Vec::new();
        let mut trials_of: Vec<Vec<&RunResult>> = Vec::new();
        let mut trial_label: Vec<Option<u32>> = Vec::new();
        let mut handled = vec![false; all_runs.len()];
        for i in 0..all_runs.len() {
            if handled[i] {
                continue;
            }
            let mut trials: Vec<usize> = (i..all_runs.len())
                .filter(|&j| !handled[j] && same_point(&all_runs[i], &all_runs[j]))
                .collect();
            for &j in &trials {
                handled[j] = true;
            }
            trials.sort_by_key(|&j| all_runs[j].1.trial);
            if each_trial || trials.len() == 1 {
                // Older reports numbered every trial 1: number them by position then.
                let numbered = trials
                    .iter()
                    .map(|&j| all_runs[j].1.trial)
                    .collect::<std::collections::BTreeSet<_>>()
                    .len()
                    == trials.len();
                for (k, &j) in trials.iter().enumerate() {
                    runs.push(all_runs[j]);
                    trials_of.push(vec![all_runs[j].1]);
                    trial_label.push((trials.len() > 1).then(|| {
                        if numbered {
                            all_runs[j].1.trial
                        } else {
                            k as u32 + 1
                        }
                    }));
                }
            } else {
                let mut by_p99 = trials.clone();
                by_p99.sort_by_key(|&j| all_runs[j].1.age_ns.p99);
                // The upper median: of two trials, the slower one (as `summary::fastest`).
                let median = by_p99[by_p99.len() / 2];
                runs.push(all_runs[median]);
                trials_of.push(trials.iter().map(|&j| all_runs[j].1).collect());
                trial_label.push(None);
            }
        }
        let dims: Vec<BTreeMap<String, String>> = runs.iter().map(|(_, run)| dims(run)).collect();
        let mut varying: Vec<String> = Vec::new();
        if let Some(first) = dims.first() {
            for key in first.keys() {
                if dims.iter().any(|d| d.get(key) != first.get(key)) {
                    varying.push(key.clone());
                }
            }
            // Keys missing from the first run but present in others also vary.
            for d in &dims {
                for key in d.keys() {
                    if !first.contains_key(key) && !varying.contains(key) {
                        varying.push(key.clone());
                    }
                }
            }
        }

        let group_key = |i: usize| -> (usize, Vec<Option<&String>>) {
            (
                runs[i].1.consumers,
                varying.iter().map(|k| dims[i].get(k)).collect(),
            )
        };
        let mut group_keys: Vec<(usize, Vec<Option<&String>>)> = Vec::new();
        let mut group_of = Vec::with_capacity(runs.len());
        for i in 0..runs.len() {
            let key = group_key(i);
            let index = match group_keys.iter().position(|k| *k == key) {
                Some(index) => index,
                None => {
                    group_keys.push(key);
                    group_keys.len() - 1
                }
            };
            group_of.push(index);
        }

        // The same strategy on the same machine twice in one configuration point: the runs
        // come from different reports, so say which.
        let mut seen: Vec<(usize, usize, &str, usize)> = Vec::new();
        let mut repeated = false;
        for (i, (report, run)) in runs.iter().enumerate() {
            let key = (machine_of[*report], group_of[i], run.strategy.as_str());
            // Trials of one report are told apart by their number, not the report's.
            if seen
                .iter()
                .any(|s| (s.0, s.1, s.2) == key && s.3 != *report)
            {
                repeated = true;
            }
            seen.push((key.0, key.1, key.2, *report));
        }

        let several_machines = machines.len() > 1;
        let mut entries = Vec::with_capacity(runs.len());
        let mut series = Vec::new();
        for (i, (report, run)) in runs.iter().enumerate() {
            let mut member = run.strategy.clone();
            if several_machines {
                member.push_str(" @ ");
                member.push_str(&machine_labels[machine_of[*report]]);
            }
            if repeated {
                member.push_str(&format!(" #{}", report + 1));
            }
            if let Some(trial) = trial_label[i] {
                member.push_str(&format!(" trial {trial}"));
            }
            let mut label = member.clone();
            let others = describe(&dims[i], &varying);
            if !others.is_empty() {
                label.push_str(", ");
                label.push_str(&others);
            }
            if !series.contains(&label) {
                series.push(label.clone());
            }
            entries.push(Entry {
                run,
                trials: trials_of[i].clone(),
                report: *report,
                group: group_of[i],
                member,
                series: label,
            });
        }

        let groups = group_keys
            .iter()
            .enumerate()
            .map(|(g, (consumers, _))| {
                let members: Vec<usize> = (0..entries.len())
                    .filter(|&i| entries[i].group == g)
                    .collect();
                let first = members[0];
                let mut label = format!(
                    "{consumers} consumer{}",
                    if *consumers == 1 { "" } else { "s" }
                );
                let others = describe(&dims[first], &varying);
                if !others.is_empty() {
                    label.push_str(", ");
                    label.push_str(&others);
                }
                Group {
                    label,
                    entries: members,
                }
            })
            .collect();

        View {
            reports,
            machines,
            machine_labels,
            entries,
            groups,
            series,
            varying,
        }
    }

    /// Distinct consumer counts, ascending.
    pub fn consumer_counts(&self) -> Vec<usize> {
        let mut counts: Vec<usize> = self.entries.iter().map(|e| e.run.consumers).collect();
        counts.sort_unstable();
        counts.dedup();
        counts
    }

    /// The entry's colour: its strategy's, the same in every chart and report.
    pub fn colour_of(&self, entry: &Entry) -> usize {
        crate::charts::strategy_colour(&entry.run.strategy)
    }

    /// The entry's line style: which report it comes from when several are drawn together
    /// (the colour stays the strategy's); solid in a single report.
    pub fn dash_of(&self, entry: &Entry) -> usize {
        if self.reports.len() > 1 {
            entry.report
        } else {
            0
        }
    }

    /// Scenario names of the reports, distinct, in order.
    pub fn scenarios(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for report in self.reports {
            if let Some(name) = report.scenario.as_deref() {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        names
    }
}

/// A run's configuration as `key -> value` text, whatever fields the config record has.
fn dims(run: &RunResult) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(&run.config) {
        for (key, value) in map {
            if DERIVED_KEYS.contains(&key.as_str()) {
                continue;
            }
            let text = match value {
                serde_json::Value::String(s) => s,
                serde_json::Value::Array(items) => items
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join("+"),
                other => other.to_string(),
            };
            out.insert(key, text);
        }
    }
    if run.config.slots_default {
        // consumers + 2 varies with the consumer count, which is not a dimension here
        out.insert("slots".to_string(), "consumers+2".to_string());
    }
    out
}

/// The varying dimensions of one run, readably: `1280x720, 60 fps, workload copy`.
fn describe(dims: &BTreeMap<String, String>, varying: &[String]) -> String {
    let get = |key: &str| dims.get(key).map(String::as_str).unwrap_or("-");
    let mut parts = Vec::new();
    let mut size_done = false;
    for key in varying {
        match key.as_str() {
            "width" | "height" => {
                if !size_done {
                    parts.push(format!("{}x{}", get("width"), get("height")));
                    size_done = true;
                }
            }
            "format" => parts.push(get("format").to_string()),
            "fps" => parts.push(format!("{} fps", get("fps"))),
            "duration_s" => parts.push(format!("{} s measured", get("duration_s"))),
            "warmup_s" => parts.push(format!("{} s warm-up", get("warmup_s"))),
            "slow" => parts.push(format!("slow {}", get("slow"))),
            other => parts.push(format!("{} {}", other.replace('_', " "), get(other))),
        }
    }
    parts.join(", ")
}

/// Short names for machines: the host name, made unique with the CPU model or a number.
fn machine_labels(machines: &[&MachineInfo]) -> Vec<String> {
    let mut labels: Vec<String> = machines.iter().map(|m| m.hostname.clone()).collect();
    let duplicated =
        |labels: &[String], i: usize| labels.iter().filter(|l| **l == labels[i]).count() > 1;
    let with_cpu: Vec<String> = (0..labels.len())
        .map(|i| {
            if duplicated(&labels, i) {
                format!("{} ({})", machines[i].hostname, machines[i].cpu_model)
            } else {
                labels[i].clone()
            }
        })
        .collect();
    labels = with_cpu;
    (0..labels.len())
        .map(|i| {
            if duplicated(&labels, i) {
                format!("{} #{}", labels[i], i + 1)
            } else {
                labels[i].clone()
            }
        })
        .collect()
}

/// CPU time of the whole process over the measured window, as a percentage of one core.
pub(crate) fn cpu_percent(run: &RunResult) -> f64 {
    (run.cpu.user_s + run.cpu.sys_s) / run.config.duration_s.max(1e-9) * 100.0
}
