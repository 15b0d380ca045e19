//! CI regression gating: compare a report with a baseline report (or with absolute limits)
//! and decide, metric by metric, whether frame delivery got worse.
//!
//! This module only judges numbers already in reports; it never runs anything and never
//! decides exit codes (the binary does).
//!
//! # Matching runs
//!
//! Runs are matched by strategy and every run parameter: every field of the recorded
//! configuration (consumers, source, resolution, format, fps, duration, warm-up, workload,
//! slow consumers, wait, verification, deadline tolerance, pool size and policy, slots and
//! slot policy, and any field added later), plus the run's faults; see [`key`]. Parameters
//! named in [`GateOptions::ignore`] are left out, so that e.g. a 5 s baseline can gate a
//! 2 s run. Runs of one report with the same key are *trials* of one configuration
//! (`--repeat N` writes N of them). A configuration present on one side only is listed; it
//! fails the gate only with [`GateOptions::strict`]. A baseline none of whose runs matches
//! a current run fails the gate whatever the flags (it compared nothing) unless
//! [`GateOptions::allow_unmatched`].
//!
//! # Noise: the decision rule
//!
//! A relative gate (`p99:10%`) compares the **median of the current trials** with the
//! median of the baseline trials, and flags a regression only when the change exceeds the
//! threshold **and** the current trials lie outside the baseline's spread:
//!
//! 1. the current median is above the **slowest baseline trial** (the baseline's maximum),
//! 2. and the **fastest current trial** is slower than the baseline's median.
//!
//! Over the threshold but inside the spread is shown as `noise` and passes.
//!
//! Why this rather than a bootstrap confidence interval: CI gates run 3 to 10 trials, and a
//! bootstrap of the median of five values can only return those five values, so its "95%
//! interval" is an artefact of resampling, not of the machine. Extremes of the trials need
//! no distribution, no random seed (the verdict is reproducible from the two files), and
//! their false-alarm rate is known: when both sides' trials come from one distribution,
//! the median of N current trials lies above all N baseline trials with probability
//! C(N, k) / C(2N, k), k = N - ⌈N/2⌉ + 1 (1 in 12 for N = 5), which summed over the
//! configurations of a sweep is too often. Condition 2 brings it to about 2.4% for N = 5
//! and 0.6% for N = 7, and it follows from what noise on a shared machine is: it only ever
//! adds latency, so a trial cannot be fast by accident, and a real slowdown shows in the
//! fastest trials as well as in the slowest.
//!
//! With one trial per side the rule reduces to the threshold alone: no noise protection.
//!
//! # A busier machine is not a regression
//!
//! Trials spread within one session, but between the session that saved a baseline and a
//! later one, a shared machine's load can change several-fold (other jobs, other users'
//! builds), and latency tails follow it. Every run records the CPU time other processes
//! used during its window (`cpu.other_load_cpus`). When the current trials ran with more
//! than [`LOAD_TOLERANCE`] of the machine's CPUs more busy with other work than the
//! baseline's, a relative regression is reported as `inconclusive`: shown, warned about,
//! but not failed, since the slowdown cannot be told from the load. A slower result on a
//! machine at most as busy, or any result on a quieter one, is judged as usual. Growth of
//! the others' share that only fills CPU time fbench itself stopped using is not counted:
//! on a saturated machine other processes take whatever is left.
//!
//! # Absolute gates and integrity
//!
//! Absolute gates (`p99<2ms`) bound the median of the current trials; the integrity counts
//! (`torn`, `out_of_order`, `consumers_lost`) are judged on the worst trial. Unless
//! [`GateSet::allow_torn`], every gating adds `torn==0`; unless [`GateSet::allow_lost`],
//! `consumers_lost==0`.
//!
//! # What could not be judged
//!
//! A latency summary whose `count` is 0 measured nothing (no consumer survived to report):
//! its percentiles are missing, never 0, and a gate on them is [`Verdict::Unmeasured`] —
//! never `improved`, never `pass`. With [`Verdict::Inconclusive`] it makes the outcome
//! [`GateOutcome::inconclusive`]: not failed, not passed; the binary exits 4 unless told
//! otherwise (`--inconclusive pass|fail`).
//!
//! # Normalising by the machine
//!
//! With [`GateOptions::normalize`], relative gates compare latencies divided by each
//! report's own calibration: age and end-to-end by the futex wake p50, acquire and publish
//! by the time of one frame copy. A runner that is uniformly slower then is not read as a
//! regression. Absolute gates always use raw values.

use fbench_harness::RunResult;

use crate::Report;

pub mod ci;
mod expr;
pub mod key;
mod render;
mod sanity;

pub use expr::{AbsoluteGate, Metric, Op, Quantity, RelativeGate, Series, Stat};
pub use key::{benchmark_name, Param};
use key::{params_of, RunKey};
pub use render::{render_markdown, render_terminal};
pub use sanity::{check_report, Impossible};

/// The relative gate used when a baseline is given and no relative gate is: age p99 may
/// grow by 10% (and must leave the baseline's spread) before the gate fails.
pub const DEFAULT_MAX_REGRESSION: RelativeGate = RelativeGate {
    metric: Metric::AGE_P99,
    max_increase: 0.10,
};

/// How much more of the machine (a fraction of its logical CPUs) other processes may have
/// used during the current trials than during the baseline's before a regression is called
/// inconclusive.
pub const LOAD_TOLERANCE: f64 = 0.10;

/// The gates to apply.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GateSet {
    pub relative: Vec<RelativeGate>,
    pub absolute: Vec<AbsoluteGate>,
    /// Leave out the `torn==0` gate every gating otherwise has (for demonstrations that
    /// tear frames on purpose).
    pub allow_torn: bool,
    /// Leave out the `consumers_lost==0` gate every gating otherwise has (for fault
    /// injection that kills consumers on purpose).
    pub allow_lost: bool,
}

impl GateSet {
    /// Every metric gated, in order, without repeats.
    pub fn metrics(&self) -> Vec<Metric> {
        let mut metrics = Vec::new();
        let gated = self
            .relative
            .iter()
            .map(|g| g.metric)
            .chain(self.absolute.iter().map(|g| g.metric));
        for metric in gated {
            if !metrics.contains(&metric) {
                metrics.push(metric);
            }
        }
        metrics
    }

    /// The absolute gates with the implicit `torn==0` and `consumers_lost==0` added when
    /// due.
    fn absolute_with_integrity(&self) -> Vec<AbsoluteGate> {
        let mut gates = self.absolute.clone();
        if !self.allow_torn && !gates.iter().any(|g| g.metric == Metric::TornFrames) {
            gates.push(AbsoluteGate::NO_TORN_FRAMES);
        }
        if !self.allow_lost && !gates.iter().any(|g| g.metric == Metric::ConsumersLost) {
            gates.push(AbsoluteGate::NO_CONSUMERS_LOST);
        }
        gates
    }
}

/// How runs are matched and compared.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GateOptions {
    /// A run on one side only fails the gate.
    pub strict: bool,
    /// Relative gates compare latencies over each report's calibration.
    pub normalize: bool,
    /// Parameters left out of matching.
    pub ignore: Vec<Param>,
    /// A baseline none of whose runs matches a current run is accepted (otherwise the gate
    /// fails: it compared nothing).
    pub allow_unmatched: bool,
}

/// The values of one metric over the trials of one configuration that measured it, sorted.
/// Empty when no trial measured it; its median, min and max are then NaN, and no verdict
/// is computed from them.
#[derive(Clone, Debug, PartialEq)]
pub struct Trials(Vec<f64>);

impl Trials {
    pub fn new(mut values: Vec<f64>) -> Trials {
        values.sort_by(f64::total_cmp);
        Trials(values)
    }

    pub fn values(&self) -> &[f64] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The middle value; the mean of the two middle values for an even count.
    pub fn median(&self) -> f64 {
        let n = self.0.len();
        if n == 0 {
            f64::NAN
        } else if n % 2 == 1 {
            self.0[n / 2]
        } else {
            (self.0[n / 2 - 1] + self.0[n / 2]) / 2.0
        }
    }

    pub fn min(&self) -> f64 {
        self.0.first().copied().unwrap_or(f64::NAN)
    }

    pub fn max(&self) -> f64 {
        self.0.last().copied().unwrap_or(f64::NAN)
    }
}

/// What a gate row compares against.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Threshold {
    /// Largest allowed growth of the median over the baseline's (0.10 for 10%).
    Relative(f64),
    Absolute(AbsoluteGate),
}

/// The outcome of one gate on one configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Within the threshold.
    Pass,
    /// Better by more than the threshold and below every baseline trial (passes).
    Improved,
    /// Worse by more than the threshold but not above the slowest baseline trial (passes).
    Noise,
    /// Worse by more than the threshold and above the slowest baseline trial.
    Regressed,
    /// Would be a regression, but the machine was busier with other work than during the
    /// baseline, so the slowdown cannot be told from the load (passes, with a warning).
    Inconclusive,
    /// An absolute gate does not hold.
    OverLimit,
    /// A trial on either side measured nothing for this metric (a latency with no sample:
    /// no consumer survived), so it cannot be compared: neither pass nor improved.
    Unmeasured,
}

impl Verdict {
    pub fn failed(self) -> bool {
        matches!(self, Verdict::Regressed | Verdict::OverLimit)
    }

    /// The gate could not judge this row (the exit code says so unless told otherwise).
    pub fn undecided(self) -> bool {
        matches!(self, Verdict::Inconclusive | Verdict::Unmeasured)
    }

    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Improved => "improved",
            Verdict::Noise => "pass (noise)",
            Verdict::Regressed => "REGRESSED",
            Verdict::Inconclusive => "inconclusive (busier machine)",
            Verdict::OverLimit => "FAIL",
            Verdict::Unmeasured => "not measured",
        }
    }
}

/// One gated metric of one configuration: a row of the gate table.
#[derive(Clone, Debug, PartialEq)]
pub struct GateRow {
    /// The configuration: strategy, consumers and the parameters that vary.
    pub run: String,
    pub metric: Metric,
    /// The baseline's trials, when the configuration is in the baseline.
    pub baseline: Option<Trials>,
    pub current: Trials,
    /// Relative change of the median, current over baseline, minus one.
    pub change: Option<f64>,
    pub threshold: Threshold,
    pub verdict: Verdict,
    /// The calibration figure latencies were divided by (`--normalize`), if any.
    pub per: Option<&'static str>,
    /// Median CPUs other processes used during the trials, baseline and current, when
    /// both reports recorded it.
    pub other_load: Option<(f64, f64)>,
}

impl GateRow {
    /// A value of this row as people read it.
    pub fn format(&self, value: f64) -> String {
        match self.per {
            Some(unit) => format!("{value:.3} × {unit}"),
            None => self.metric.format(value),
        }
    }
}

/// Everything a gating decided.
#[derive(Clone, Debug, PartialEq)]
pub struct GateOutcome {
    pub rows: Vec<GateRow>,
    /// Configurations of the baseline that the current report lacks.
    pub only_in_baseline: Vec<String>,
    /// Configurations of the current report that the baseline lacks.
    pub only_in_current: Vec<String>,
    /// Whether a baseline was given.
    pub had_baseline: bool,
    /// Configurations of the current report that matched one of the baseline.
    pub compared: usize,
    /// A baseline that matches no current run passes (`--allow-unmatched`).
    pub allow_unmatched: bool,
    /// Parameters the current runs record that their matched baseline runs do not (an
    /// older report): matched whatever the current value.
    pub unrecorded_in_baseline: Vec<String>,
    pub strict: bool,
    pub normalized: bool,
    pub ignored: Vec<Param>,
    /// Fewest and most trials per configuration, baseline (if any) and current.
    pub baseline_trials: Option<(usize, usize)>,
    pub current_trials: (usize, usize),
    /// Lowest and highest median other-process load (CPUs) over the configurations, when
    /// recorded.
    pub baseline_load: Option<(f64, f64)>,
    pub current_load: Option<(f64, f64)>,
    /// Logical CPUs of the current report's machine.
    pub logical_cpus: usize,
}

impl GateOutcome {
    pub fn failed_rows(&self) -> impl Iterator<Item = &GateRow> {
        self.rows.iter().filter(|r| r.verdict.failed())
    }

    /// Configurations on one side only, when `strict` makes them failures.
    pub fn unmatched_failures(&self) -> usize {
        if self.strict {
            self.only_in_baseline.len() + self.only_in_current.len()
        } else {
            0
        }
    }

    /// A baseline was given but no current run matched any of its runs.
    pub fn nothing_compared(&self) -> bool {
        self.had_baseline && self.compared == 0
    }

    pub fn passed(&self) -> bool {
        self.failed_rows().next().is_none()
            && self.unmatched_failures() == 0
            && (self.allow_unmatched || !self.nothing_compared())
    }

    /// Rows the gate could not judge: a slowdown on a busier machine, a figure not measured.
    pub fn inconclusive_rows(&self) -> impl Iterator<Item = &GateRow> {
        self.rows.iter().filter(|r| r.verdict.undecided())
    }

    /// Nothing failed, but some rows could not be judged: not a pass.
    pub fn inconclusive(&self) -> bool {
        self.passed() && self.inconclusive_rows().next().is_some()
    }

    /// One line for an inconclusive outcome: which runs, and why each could not be judged.
    pub fn inconclusive_summary(&self) -> String {
        let rows: Vec<&GateRow> = self.inconclusive_rows().collect();
        let mut parts: Vec<String> = rows
            .iter()
            .take(3)
            .map(|row| {
                let why = match (row.verdict, row.other_load) {
                    (Verdict::Unmeasured, _) => {
                        "not measured (a trial has no sample of it: no consumer reported)"
                            .to_string()
                    }
                    (_, Some((then, now))) => format!(
                        "{} slower, but other processes used {now:.2} CPUs against {then:.2} during the baseline",
                        row.change.map(format_change).unwrap_or_default()
                    ),
                    _ => "slower on a busier machine".to_string(),
                };
                format!("{} {} {why}", row.run, row.metric.label())
            })
            .collect();
        if rows.len() > 3 {
            parts.push(format!("{} more", rows.len() - 3));
        }
        format!(
            "gate inconclusive: {}; for a verdict, alternate trials of both builds on one machine (docs/ci-gating.md), or choose with --inconclusive pass|fail",
            parts.join("; ")
        )
    }

    /// One line: the verdict and, on failure, what failed (the first few).
    pub fn summary(&self) -> String {
        let runs: Vec<&str> = {
            let mut seen = Vec::new();
            for row in &self.rows {
                if !seen.contains(&row.run.as_str()) {
                    seen.push(row.run.as_str());
                }
            }
            seen
        };
        if self.passed() {
            let mut line = format!(
                "gate passed: {} gated metric{} on {} run{}",
                self.rows.len(),
                plural(self.rows.len()),
                runs.len(),
                plural(runs.len())
            );
            let inconclusive = self.inconclusive_rows().count();
            if inconclusive > 0 {
                line.push_str(&format!(
                    "; {inconclusive} inconclusive: not judged (slower on a machine busier with other work than during the baseline, or a figure not measured)"
                ));
            }
            if self.nothing_compared() {
                line.push_str("; nothing compared with the baseline (--allow-unmatched)");
            } else if !self.only_in_baseline.is_empty() || !self.only_in_current.is_empty() {
                line.push_str(&format!(
                    "; {} run(s) on one side only (not an error without --strict)",
                    self.only_in_baseline.len() + self.only_in_current.len()
                ));
            }
            return line;
        }
        let mut parts = Vec::new();
        if self.nothing_compared() && !self.allow_unmatched {
            parts.push(format!(
                "nothing was compared: no run of the current report ({}) matches a run of the baseline ({}); gate reports of the same configurations, --ignore-param what may differ, or --allow-unmatched",
                list(&self.only_in_current),
                list(&self.only_in_baseline)
            ));
        }
        for row in self.failed_rows().take(3) {
            let value = match (row.threshold, row.change) {
                (Threshold::Relative(limit), Some(change)) => {
                    format!("{} > +{:.0}%", format_change(change), limit * 100.0)
                }
                (Threshold::Absolute(gate), _) => {
                    let value = if gate.metric.is_integrity() {
                        row.current.max()
                    } else {
                        row.current.median()
                    };
                    format!("{}, wanted {}", row.format(value), gate.describe())
                }
                _ => String::new(),
            };
            parts.push(format!("{} {} {value}", row.run, row.metric.label()));
        }
        let failed = self.failed_rows().count();
        if failed > 3 {
            parts.push(format!("{} more", failed - 3));
        }
        if self.strict && (self.allow_unmatched || !self.nothing_compared()) {
            for run in &self.only_in_baseline {
                parts.push(format!("{run} missing from the current report (--strict)"));
            }
            for run in &self.only_in_current {
                parts.push(format!("{run} not in the baseline (--strict)"));
            }
        }
        format!("gate failed: {}", parts.join("; "))
    }
}

/// At most three names, then how many more.
fn list(names: &[String]) -> String {
    let mut shown: Vec<String> = names.iter().take(3).cloned().collect();
    if names.len() > 3 {
        shown.push(format!("{} more", names.len() - 3));
    }
    shown.join(", ")
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// `+12.3%`, `-4.0%`, or `from 0` when the baseline was zero.
pub fn format_change(change: f64) -> String {
    if change.is_infinite() {
        "from 0".to_string()
    } else {
        format!("{:+.1}%", change * 100.0)
    }
}

/// A mistake in what was asked of the gate, found while comparing the reports.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GateError {
    #[error("--ignore-param {param}: the {side} report's runs {first} and {second} would be taken for trials of one configuration; ignore only parameters that differ between the two reports")]
    Merged {
        side: &'static str,
        param: String,
        first: String,
        second: String,
    },
    #[error("--normalize: the {side} report has no calibration figure {figure}; use reports written by `fbench run` or `fbench sweep`, which calibrate")]
    NoCalibration {
        side: &'static str,
        figure: &'static str,
    },
}

/// The configurations of a report: each with its trials, in the order they first appear.
struct Group<'a> {
    key: RunKey,
    runs: Vec<&'a RunResult>,
}

fn groups<'a>(
    report: &'a Report,
    side: &'static str,
    ignore: &[Param],
) -> Result<Vec<Group<'a>>, GateError> {
    let mut groups: Vec<Group<'a>> = Vec::new();
    for run in &report.runs {
        let key = RunKey::of(run, ignore);
        match groups.iter_mut().find(|g| g.key == key) {
            Some(group) => {
                let first = group.runs[0];
                if let Some(param) = ignore.iter().find(|p| p.label(first) != p.label(run)) {
                    return Err(GateError::Merged {
                        side,
                        param: param.name().to_string(),
                        first: format!("{} {}", first.strategy, param.label(first)),
                        second: format!("{} {}", run.strategy, param.label(run)),
                    });
                }
                group.runs.push(run);
            }
            None => groups.push(Group {
                key,
                runs: vec![run],
            }),
        }
    }
    Ok(groups)
}

/// Labels name the strategy, the consumer count, and every other parameter whose value is
/// not the same in every run of both reports.
struct Labeller {
    shown: Vec<String>,
}

impl Labeller {
    fn new<'a>(runs: impl Iterator<Item = &'a RunResult>, ignore: &[Param]) -> Labeller {
        // Each parameter with the label of its value in every run, in recorded order.
        let mut seen: Vec<(String, Vec<String>)> = Vec::new();
        let mut count = 0;
        for run in runs {
            count += 1;
            for (name, value) in params_of(run) {
                let label = key::label(&name, &value);
                match seen.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, labels)) => labels.push(label),
                    None => seen.push((name, vec![label])),
                }
            }
        }
        let shown = seen
            .into_iter()
            .filter(|(name, _)| !ignore.iter().any(|p| p.name() == name))
            .filter(|(name, labels)| {
                name == "consumers"
                    || labels.len() < count
                    || labels.iter().any(|l| *l != labels[0])
            })
            .map(|(name, _)| name)
            .collect();
        Labeller { shown }
    }

    fn label(&self, run: &RunResult) -> String {
        let params = params_of(run);
        let mut label = run.strategy.clone();
        for name in &self.shown {
            label.push(' ');
            match params.iter().find(|(n, _)| n == name) {
                Some((n, value)) => label.push_str(&key::label(n, value)),
                None => label.push_str(&format!("{name} unrecorded")),
            }
        }
        label
    }
}

/// What a latency is divided by under `--normalize`, and the figure's name.
fn calibration_unit(report: &Report, series: Series) -> (Option<f64>, &'static str) {
    match series {
        Series::Age | Series::E2e => (
            report.calibration.wake_p50_ns.map(|ns| ns as f64),
            "wake_p50_ns",
        ),
        Series::Acquire | Series::Publish => (report.calibration.frame_copy_ns, "frame_copy_ns"),
    }
}

fn unit_label(series: Series) -> &'static str {
    match series {
        Series::Age | Series::E2e => "wake p50",
        Series::Acquire | Series::Publish => "frame copy",
    }
}

/// The trials of `metric` over the `runs` that measured it, divided by `per` when
/// normalising.
fn trials(runs: &[&RunResult], metric: Metric, per: f64) -> Trials {
    Trials::new(
        runs.iter()
            .filter_map(|r| metric.measured(r))
            .map(|v| v / per)
            .collect(),
    )
}

/// Whether a run of `runs` has no figure for `metric` (nothing to compare).
fn unmeasured(runs: &[&RunResult], metric: Metric) -> bool {
    runs.iter().any(|r| metric.measured(r).is_none())
}

fn scale_of(
    report: &Report,
    side: &'static str,
    metric: Metric,
    normalize: bool,
) -> Result<f64, GateError> {
    match metric {
        Metric::Latency(series, _) if normalize => {
            let (unit, figure) = calibration_unit(report, series);
            unit.filter(|u| *u > 0.0)
                .ok_or(GateError::NoCalibration { side, figure })
        }
        _ => Ok(1.0),
    }
}

/// The median CPUs other processes used during a configuration's trials, if every trial
/// recorded it.
fn other_load(runs: &[&RunResult]) -> Option<f64> {
    let loads: Option<Vec<f64>> = runs.iter().map(|r| r.cpu.other_load_cpus).collect();
    loads
        .filter(|l| !l.is_empty())
        .map(|l| Trials::new(l).median())
}

/// The median CPUs the run itself used in its measured window.
fn own_load(runs: &[&RunResult]) -> f64 {
    Trials::new(
        runs.iter()
            .map(|r| (r.cpu.user_s + r.cpu.sys_s) / r.config.duration_s.max(1e-9))
            .collect(),
    )
    .median()
}

/// How much more of the machine other work took during the current trials than during the
/// baseline's, as a fraction of its CPUs. On a saturated machine other processes soak up
/// whatever CPU fbench leaves, so growth that only fills CPU fbench itself gave up is not
/// counted (a slower strategy that merely waits more must not excuse itself).
fn busier_by(baseline: (&Report, &[&RunResult]), current: (&Report, &[&RunResult])) -> Option<f64> {
    let (then, now) = (other_load(baseline.1)?, other_load(current.1)?);
    let (cpus_then, cpus_now) = (cpus(baseline.0), cpus(current.0));
    let others = now / cpus_now - then / cpus_then;
    let own = own_load(current.1) / cpus_now - own_load(baseline.1) / cpus_then;
    Some(others + own.min(0.0))
}

/// Judge a relative gate: the change of the medians, and whether it is a regression (over
/// the threshold, the median above the slowest baseline trial, the fastest trial above the
/// baseline median) or an improvement (the mirror image).
pub fn judge_relative(baseline: &Trials, current: &Trials, max_increase: f64) -> (f64, Verdict) {
    let (base, now) = (baseline.median(), current.median());
    let change = if base > 0.0 {
        (now - base) / base
    } else if now == base {
        0.0
    } else {
        f64::INFINITY
    };
    let verdict = if change > max_increase {
        if now > baseline.max() && current.min() > base {
            Verdict::Regressed
        } else {
            Verdict::Noise
        }
    } else if change < -max_increase && now < baseline.min() && current.max() < base {
        Verdict::Improved
    } else {
        Verdict::Pass
    };
    (change, verdict)
}

/// Judge an absolute gate on the current trials.
pub fn judge_absolute(gate: &AbsoluteGate, current: &Trials) -> Verdict {
    let value = if gate.metric.is_integrity() {
        current.max()
    } else {
        current.median()
    };
    if gate.op.holds(value, gate.limit) {
        Verdict::Pass
    } else {
        Verdict::OverLimit
    }
}

/// Apply `gates` to `current`, comparing with `baseline` where there is one. Relative gates
/// need a baseline and are skipped without one.
pub fn evaluate(
    baseline: Option<&Report>,
    current: &Report,
    gates: &GateSet,
    options: &GateOptions,
) -> Result<GateOutcome, GateError> {
    let ignore = &options.ignore;
    let current_groups = groups(current, "current", ignore)?;
    let baseline_groups = match baseline {
        Some(report) => Some(groups(report, "baseline", ignore)?),
        None => None,
    };
    let all_runs = current
        .runs
        .iter()
        .chain(baseline.into_iter().flat_map(|b| b.runs.iter()));
    let labeller = Labeller::new(all_runs, ignore);
    let absolute = gates.absolute_with_integrity();

    let mut rows = Vec::new();
    let mut only_in_current = Vec::new();
    let mut compared = 0;
    let mut unrecorded: Vec<String> = Vec::new();
    for group in &current_groups {
        let label = labeller.label(group.runs[0]);
        let matched = baseline_groups
            .as_ref()
            .and_then(|bs| bs.iter().find(|b| b.key.matches(&group.key)));
        if baseline_groups.is_some() && matched.is_none() {
            only_in_current.push(label.clone());
        }
        if let Some(base) = matched {
            compared += 1;
            for name in group.key.unrecorded_in(&base.key) {
                if !unrecorded.iter().any(|n| n == name) {
                    unrecorded.push(name.to_string());
                }
            }
        }
        if let (Some(base), Some(base_report)) = (matched, baseline) {
            for gate in &gates.relative {
                let now_scale = scale_of(current, "current", gate.metric, options.normalize)?;
                let base_scale = scale_of(base_report, "baseline", gate.metric, options.normalize)?;
                let base_trials = trials(&base.runs, gate.metric, base_scale);
                let current_trials = trials(&group.runs, gate.metric, now_scale);
                let (change, mut verdict) = if unmeasured(&base.runs, gate.metric)
                    || unmeasured(&group.runs, gate.metric)
                {
                    (None, Verdict::Unmeasured)
                } else {
                    let (change, verdict) =
                        judge_relative(&base_trials, &current_trials, gate.max_increase);
                    (Some(change), verdict)
                };
                let loads = other_load(&base.runs).zip(other_load(&group.runs));
                let busier = busier_by((base_report, &base.runs), (current, &group.runs));
                if verdict == Verdict::Regressed && busier.is_some_and(|b| b > LOAD_TOLERANCE) {
                    verdict = Verdict::Inconclusive;
                }
                rows.push(GateRow {
                    run: label.clone(),
                    metric: gate.metric,
                    baseline: Some(base_trials),
                    current: current_trials,
                    change,
                    threshold: Threshold::Relative(gate.max_increase),
                    verdict,
                    per: match gate.metric {
                        Metric::Latency(series, _) if options.normalize => Some(unit_label(series)),
                        _ => None,
                    },
                    other_load: loads,
                });
            }
        }
        for gate in &absolute {
            let current_trials = trials(&group.runs, gate.metric, 1.0);
            let base_trials = matched.map(|b| trials(&b.runs, gate.metric, 1.0));
            let missing = unmeasured(&group.runs, gate.metric);
            let change = base_trials
                .as_ref()
                .filter(|_| !missing && !matched.is_some_and(|b| unmeasured(&b.runs, gate.metric)))
                .map(|b| judge_relative(b, &current_trials, f64::INFINITY).0);
            rows.push(GateRow {
                run: label.clone(),
                metric: gate.metric,
                baseline: base_trials,
                verdict: if missing {
                    Verdict::Unmeasured
                } else {
                    judge_absolute(gate, &current_trials)
                },
                current: current_trials,
                change,
                threshold: Threshold::Absolute(*gate),
                per: None,
                other_load: matched
                    .and_then(|b| other_load(&b.runs))
                    .zip(other_load(&group.runs)),
            });
        }
    }
    let only_in_baseline = baseline_groups
        .iter()
        .flatten()
        .filter(|b| !current_groups.iter().any(|c| b.key.matches(&c.key)))
        .map(|b| labeller.label(b.runs[0]))
        .collect();
    let span = |gs: &[Group]| {
        let counts = gs.iter().map(|g| g.runs.len());
        (counts.clone().min().unwrap_or(0), counts.max().unwrap_or(0))
    };
    Ok(GateOutcome {
        rows,
        only_in_baseline,
        only_in_current,
        had_baseline: baseline.is_some(),
        compared,
        allow_unmatched: options.allow_unmatched,
        unrecorded_in_baseline: unrecorded,
        strict: options.strict,
        normalized: options.normalize,
        ignored: options.ignore.clone(),
        baseline_trials: baseline_groups.as_deref().map(span),
        current_trials: span(&current_groups),
        baseline_load: baseline_groups.as_deref().and_then(load_span),
        current_load: load_span(&current_groups),
        logical_cpus: current.machine.logical_cpus,
    })
}

fn cpus(report: &Report) -> f64 {
    report.machine.logical_cpus.max(1) as f64
}

/// Lowest and highest median other-process load over the configurations, if all have one.
fn load_span(groups: &[Group]) -> Option<(f64, f64)> {
    let loads: Option<Vec<f64>> = groups.iter().map(|g| other_load(&g.runs)).collect();
    let loads = loads.filter(|l| !l.is_empty())?;
    let trials = Trials::new(loads);
    Some((trials.min(), trials.max()))
}

#[cfg(test)]
mod tests;
