//! Capacity: the highest frame rate (or consumer count) at which a service level holds, found
//! by a documented search over short trials and reported as an interval
//! `[last pass, first fail)`, never as one number.
//!
//! The search is MLRsearch-style (RFC 9971, "Multiple Loss Ratio Search"), reduced to one goal:
//!
//! - **Trials.** A tried value is judged on up to `trials` trials of `trial_duration` each
//!   (every trial is a fresh run whose own warm-up is discarded). It *passes* when at least
//!   half of its trial time met the service level (RFC 9971's goal exceed ratio of 0.5 with a
//!   goal duration sum of `trials x trial_duration`). Judging stops as soon as the remaining
//!   trials cannot change the verdict.
//! - **Generator-limited** trials (the source alone could not make 99% of the tried rate) are
//!   neither pass nor fail. A value whose trials cannot pass is *failed* when its failing time
//!   is at least its generator-limited time even if every remaining trial were
//!   generator-limited, and *generator-limited* in the mirror case. The search treats a
//!   generator-limited value as a ceiling it cannot test past, exactly like the cap: it
//!   bisects below it and, when nothing below it fails, reports `≥ last pass` with the
//!   generator limit beside it (`first_fail` stays empty: nothing failed).
//! - **External search.** Step up from `start` by doubling (clamped to the cap) until the
//!   first value that does not pass; if `start` itself does not pass, halve down to `floor`.
//!   Then bisect until `[last pass, first fail)` is narrower than `precision` (relative to
//!   the last pass; for consumer counts, also when the two are adjacent integers).
//! - **Confirmation.** One trial of `confirm_duration` at the last pass ends the search. If it
//!   fails, that value becomes the first fail and the search goes on below it (the next
//!   lower pass, or halving down), confirming again at the new last pass; if it is
//!   generator-limited, the value becomes the generator ceiling and the search goes on below.
//!   With [`SearchSpec::confirm_beside_reference`] the oracle runs the reference strategy
//!   beside the confirmation trial (its own trial of the same length, just before it), so the
//!   confirmed value carries its figures over the reference paired in time
//!   ([`TrialSummary::vs_reference`]); the budget counts both runs.
//! - **Budget.** Before every trial the search checks that the trial fits what is left of
//!   `budget` on the injected [`Clock`]; if not, it stops and reports its interval as
//!   unresolved. The clock is injected so that tests never read the wall clock.
//!
//! The search knows nothing of strategies or runs: it asks an [`Oracle`] for a trial at a
//! value and reads back a [`TrialSummary`]. [`judge`] turns a harness [`RunResult`] into one.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::RunResult;

/// What capacity is searched along.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Axis {
    /// Frames per second, at a fixed consumer count.
    Fps,
    /// Consumer count, at a fixed frame rate.
    Consumers,
    /// Stream count (`--streams`), at a fixed frame rate and consumers per stream: the most
    /// cameras for which every consumer of every stream meets the level.
    Streams,
}

impl Axis {
    pub fn name(self) -> &'static str {
        match self {
            Axis::Fps => "fps",
            Axis::Consumers => "consumers",
            Axis::Streams => "streams",
        }
    }

    /// A value the axis can take: consumer counts are whole, rates are kept to 0.1 fps.
    pub fn round(self, value: f64) -> f64 {
        match self {
            Axis::Fps => (value * 10.0).round() / 10.0,
            Axis::Consumers | Axis::Streams => value.round().max(1.0),
        }
    }

    /// Whether `[last_pass, first_fail)` is narrow enough to stop bisecting.
    fn narrow(self, last_pass: f64, first_fail: f64, precision: f64) -> bool {
        let width = first_fail - last_pass;
        match self {
            Axis::Fps => width <= precision * last_pass || width <= 0.1 + 1e-9,
            Axis::Consumers | Axis::Streams => width <= (precision * last_pass).max(1.0),
        }
    }
}

impl std::str::FromStr for Axis {
    type Err = String;

    fn from_str(text: &str) -> Result<Axis, String> {
        match text {
            "fps" => Ok(Axis::Fps),
            "consumers" => Ok(Axis::Consumers),
            "streams" => Ok(Axis::Streams),
            _ => Err(format!(
                "unknown axis '{text}'; accepted: fps, consumers, streams"
            )),
        }
    }
}

/// The service level every consumer must meet for a trial to pass.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceLevel {
    /// Highest p99 age; `None` means one frame period of the rate being tried.
    pub slo_age_ns: Option<u64>,
    /// Highest loss over due frames, as a fraction (0.005 = 0.5%); 0 for a no-loss search.
    pub max_loss: f64,
    /// Highest peak PSS, if any.
    pub max_pss_bytes: Option<u64>,
}

impl Default for ServiceLevel {
    fn default() -> Self {
        ServiceLevel {
            slo_age_ns: None,
            max_loss: 0.005,
            max_pss_bytes: None,
        }
    }
}

impl ServiceLevel {
    /// The p99 age limit at `fps`.
    pub fn age_limit_ns(&self, fps: f64) -> u64 {
        self.slo_age_ns
            .unwrap_or_else(|| (1e9 / fps.max(1e-9)).round() as u64)
    }
}

/// How one trial (or one tried value) was judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    /// The source could not make 99% of the tried rate: says nothing about the strategy.
    GeneratorLimited,
}

/// One trial, as the search and the reports see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrialSummary {
    /// The value tried on the search's axis (set by the search).
    pub value: f64,
    /// The frame rate of the trial.
    pub fps: f64,
    pub consumers: usize,
    /// Measured time of the trial, seconds.
    pub duration_s: f64,
    /// The longer trial that ends a search (set by the search).
    #[serde(default)]
    pub confirmation: bool,
    /// Worst consumer's age p50 and p99 (ns).
    pub age_p50_ns: u64,
    pub age_p99_ns: u64,
    /// 95% interval of that p99, when the samples allow one.
    pub age_p99_ci95_ns: Option<[u64; 2]>,
    /// The p99 age limit the trial was judged against.
    pub slo_age_ns: u64,
    /// Worst consumer's loss over due frames (fraction).
    pub loss: f64,
    pub torn_frames: u64,
    pub peak_pss_bytes: u64,
    /// Rate the source actually made frames at.
    pub achieved_fps: f64,
    /// CPUs' worth of time the rest of the machine used during the trial (other processes,
    /// hypervisor steal), when known: a busy machine explains a failing trial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_load_cpus: Option<f64>,
    /// The rate this trial's CPU demand would allow by the utilization law ([`bound_fps`]):
    /// a model, not a measurement. `null` when the run did not measure its demand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound_fps: Option<f64>,
    /// The trial failed at under half its `bound_fps` while other processes used more than
    /// [`INTERFERENCE_LOAD_CPUS`]: likely the machine's load, not the design's limit.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interfered: bool,
    pub generator_limited: bool,
    pub verdict: Verdict,
    /// Why it did not pass, one short phrase per broken limit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// The worst consumer's age histogram (HdrHistogram V2+DEFLATE, base64).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub age_hdr: String,
    /// A confirmation trial's figures over the reference trial run just before it at the
    /// same point (`null` for other trials, for the reference itself, and in older reports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vs_reference: Option<VersusReference>,
}

/// A trial's figures over the reference strategy's (`ideal`) trial run beside it at the
/// same point and value, paired as `fbench run --repeat` pairs its trials
/// ([`crate::limits::versus_ideal`]; the names are `limits`' own). One pair per
/// confirmation, so no 95% interval (that takes [`crate::limits::MIN_PAIRS_FOR_CI95`]
/// pairs); the fields are there for a caller that pairs more.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VersusReference {
    /// The reference strategy's name.
    pub reference: String,
    /// The reference trial's age p99 over all its consumers, ns.
    pub reference_age_p99_ns: u64,
    pub age_p50_vs_ideal: Option<f64>,
    #[serde(default)]
    pub age_p50_vs_ideal_ci95: Option<[f64; 2]>,
    pub age_p99_vs_ideal: Option<f64>,
    #[serde(default)]
    pub age_p99_vs_ideal_ci95: Option<[f64; 2]>,
    pub acquire_p50_vs_ideal: Option<f64>,
    #[serde(default)]
    pub acquire_p50_vs_ideal_ci95: Option<[f64; 2]>,
    /// Peak PSS minus the reference's, bytes (may be negative).
    #[serde(default)]
    pub pss_over_ideal_bytes: Option<i64>,
    /// (trial, reference trial) pairs the ratios are the median of.
    pub pairs: u32,
}

impl VersusReference {
    /// The paired figures of `run` over `reference`, the two runs of one point side by side
    /// in time: [`crate::limits::versus_ideal`] on the pair. `None` when `reference` is not
    /// the reference strategy or the two runs are not of one point.
    ///
    /// ```
    /// use fbench_harness::capacity::VersusReference;
    /// use fbench_harness::metrics::Latency;
    /// use fbench_harness::{RunConfig, RunResult};
    ///
    /// let config = RunConfig::default_config().record();
    /// let run = |strategy: &str, age_ns: u64| {
    ///     let mut age = Latency::new();
    ///     age.record_n(age_ns, 100);
    ///     RunResult { age_ns: age.summary(), ..RunResult::empty(strategy, 1, config.clone()) }
    /// };
    /// let paired = VersusReference::of(&run("mutex", 3_000_000), &run("ideal", 1_000_000)).unwrap();
    /// let ratio = paired.age_p99_vs_ideal.unwrap();
    /// assert!((ratio - 3.0).abs() < 0.01, "{ratio}"); // HdrHistogram keeps 3 digits
    /// assert_eq!(paired.pairs, 1);
    /// ```
    pub fn of(run: &RunResult, reference: &RunResult) -> Option<VersusReference> {
        if reference.strategy != crate::limits::REFERENCE || run.strategy == reference.strategy {
            return None;
        }
        let mut pair = [reference.clone(), run.clone()];
        pair[0].trial = 1;
        pair[1].trial = 1;
        // Ratios from an earlier comparison must not survive into this one.
        pair[1].limits = None;
        crate::limits::versus_ideal(&mut pair);
        let limits = pair[1].limits.take()?;
        Some(VersusReference {
            reference: reference.strategy.clone(),
            reference_age_p99_ns: reference.age_ns.p99,
            age_p50_vs_ideal: limits.age_p50_vs_ideal,
            age_p50_vs_ideal_ci95: limits.age_p50_vs_ideal_ci95,
            age_p99_vs_ideal: limits.age_p99_vs_ideal,
            age_p99_vs_ideal_ci95: limits.age_p99_vs_ideal_ci95,
            acquire_p50_vs_ideal: limits.acquire_p50_vs_ideal,
            acquire_p50_vs_ideal_ci95: limits.acquire_p50_vs_ideal_ci95,
            pss_over_ideal_bytes: limits.pss_over_ideal_bytes,
            pairs: limits.vs_ideal_pairs?,
        })
    }
}

/// What the search asks of the oracle.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrialRequest {
    /// The value on the search's axis (fps, or a consumer count).
    pub value: f64,
    /// Measured time.
    pub duration: Duration,
    /// Discarded time before measuring.
    pub warmup: Duration,
    /// The longer trial at the last pass that ends a search: with
    /// [`SearchSpec::confirm_beside_reference`] the oracle runs the reference beside it.
    pub confirmation: bool,
}

/// Runs one trial. Any `FnMut(TrialRequest) -> Result<TrialSummary, E>` is one; an error
/// (e.g. the user pressed Ctrl-C) stops the search with what it has.
pub trait Oracle {
    type Error;
    fn trial(&mut self, request: TrialRequest) -> Result<TrialSummary, Self::Error>;
}

impl<E, F: FnMut(TrialRequest) -> Result<TrialSummary, E>> Oracle for F {
    type Error = E;
    fn trial(&mut self, request: TrialRequest) -> Result<TrialSummary, E> {
        self(request)
    }
}

/// Time since the search started. Any `FnMut() -> Duration` is one.
pub trait Clock {
    fn elapsed(&mut self) -> Duration;
}

impl<F: FnMut() -> Duration> Clock for F {
    fn elapsed(&mut self) -> Duration {
        self()
    }
}

/// The parameters of one search.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SearchSpec {
    pub axis: Axis,
    /// First value tried.
    pub start: f64,
    /// Highest value tried; passing there reports "≥ cap".
    pub cap: f64,
    /// Lowest value tried when even `start` does not pass.
    pub floor: f64,
    /// Stop bisecting when `first fail - last pass <= precision x last pass`.
    pub precision: f64,
    /// Trials per tried value (at most; judging stops early).
    pub trials: usize,
    pub trial_duration: Duration,
    pub warmup: Duration,
    /// The confirmation trial's measured time.
    pub confirm_duration: Duration,
    /// The oracle runs the reference strategy beside every confirmation trial (a second
    /// run of the same length): the budget counts a confirmation twice.
    pub confirm_beside_reference: bool,
    /// Time the whole search may take, on the injected clock.
    pub budget: Duration,
}

/// How a search ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// `[last pass, first fail)` is narrower than the precision and the last pass confirmed.
    Resolved,
    /// Passed (and confirmed) at the cap: capacity is "≥ cap".
    AtCap,
    /// Nothing below the generator limit failed: capacity is "≥ last pass", untestable above.
    GeneratorLimited,
    /// Even the floor did not pass.
    BelowFloor,
    /// The budget ran out first: the interval is unresolved.
    OutOfBudget,
    /// The oracle stopped the search (e.g. Ctrl-C): the interval is unresolved.
    Stopped,
}

impl Status {
    pub fn is_resolved(self) -> bool {
        matches!(
            self,
            Status::Resolved | Status::AtCap | Status::GeneratorLimited | Status::BelowFloor
        )
    }
}

/// The outcome of one search.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchResult {
    pub axis: Axis,
    /// Highest value that passed (and, when resolved, was confirmed).
    pub last_pass: Option<f64>,
    /// Lowest value that failed; `None` when capped, generator-limited or not reached.
    pub first_fail: Option<f64>,
    /// Lowest value found generator-limited, if any.
    pub generator_limit: Option<f64>,
    pub status: Status,
    pub resolved: bool,
    /// The median of the trials' `bound_fps`: the rate the measured CPU demand per frame
    /// allows by the utilization law — a model beside the measured interval, not a
    /// measurement. `null` when no trial measured its demand (older reports).
    #[serde(default)]
    pub bound_fps: Option<f64>,
    /// Trials marked `interfered` (failed under half their bound on a busy machine).
    #[serde(default)]
    pub interfered_trials: usize,
    /// Every trial in the order run, confirmation trials included.
    pub trials: Vec<TrialSummary>,
}

/// A search the oracle stopped: its error and what was found so far.
#[derive(Debug)]
pub struct Stopped<E> {
    pub error: E,
    pub partial: SearchResult,
}

/// What the search knows about the values it tried.
struct Knowledge {
    axis: Axis,
    passes: Vec<f64>,
    fails: Vec<f64>,
    limited: Vec<f64>,
    trials: Vec<TrialSummary>,
}

impl Knowledge {
    fn last_pass(&self) -> Option<f64> {
        self.passes.iter().copied().reduce(f64::max)
    }
    fn first_fail(&self) -> Option<f64> {
        self.fails.iter().copied().reduce(f64::min)
    }
    fn generator_limit(&self) -> Option<f64> {
        self.limited.iter().copied().reduce(f64::min)
    }
    /// The exclusive upper bound: the lowest value known not to pass.
    fn ceiling(&self) -> Option<f64> {
        match (self.first_fail(), self.generator_limit()) {
            (Some(f), Some(g)) => Some(f.min(g)),
            (f, g) => f.or(g),
        }
    }
    fn tried(&self, value: f64) -> bool {
        self.passes
            .iter()
            .chain(&self.fails)
            .chain(&self.limited)
            .any(|&v| v == value)
    }
    fn record(&mut self, value: f64, verdict: Verdict) {
        self.passes.retain(|&v| v != value);
        self.fails.retain(|&v| v != value);
        self.limited.retain(|&v| v != value);
        match verdict {
            Verdict::Pass => self.passes.push(value),
            Verdict::Fail => self.fails.push(value),
            Verdict::GeneratorLimited => self.limited.push(value),
        }
        // A pass above a value that did not pass is noise; the lowest non-pass bounds the
        // interval, so passes at or above it no longer count as the last pass.
        if let Some(ceiling) = self.ceiling() {
            self.passes.retain(|&v| v < ceiling);
        }
    }
    fn result(self, status: Status) -> SearchResult {
        let first_fail = self.first_fail();
        let generator_limit = self.generator_limit();
        SearchResult {
            axis: self.axis,
            last_pass: self.last_pass(),
            // A fail above the generator limit is not the interval's end.
            first_fail: match (first_fail, generator_limit) {
                (Some(f), Some(g)) if g < f => None,
                _ => first_fail,
            },
            generator_limit,
            status,
            resolved: status.is_resolved(),
            bound_fps: median_bound(&self.trials),
            interfered_trials: self.trials.iter().filter(|t| t.interfered).count(),
            trials: self.trials,
        }
    }
}

/// What to do next.
enum Step {
    Try(f64),
    /// The interval is narrow (or capped, or at the floor): confirm the last pass.
    Confirm(f64, Status),
    Finish(Status),
}

fn next_step(spec: &SearchSpec, known: &Knowledge) -> Step {
    let axis = spec.axis;
    let ceiling = known.ceiling();
    let status_at = |ceiling: Option<f64>| match ceiling {
        Some(c) if known.first_fail() == Some(c) => Status::Resolved,
        Some(_) => Status::GeneratorLimited,
        None => Status::AtCap,
    };
    match (known.last_pass(), ceiling) {
        (None, None) => Step::Try(axis.round(spec.start)),
        (None, Some(upper)) => {
            let down = axis.round(upper / 2.0);
            if upper <= spec.floor {
                Step::Finish(Status::BelowFloor)
            } else if down <= spec.floor || known.tried(down) {
                let floor = axis.round(spec.floor);
                if known.tried(floor) || floor >= upper {
                    Step::Finish(Status::BelowFloor)
                } else {
                    Step::Try(floor)
                }
            } else {
                Step::Try(down)
            }
        }
        (Some(pass), None) => {
            if pass >= spec.cap {
                Step::Confirm(pass, Status::AtCap)
            } else {
                Step::Try(axis.round((pass * 2.0).min(spec.cap)))
            }
        }
        (Some(pass), Some(upper)) => {
            let mid = axis.round((pass + upper) / 2.0);
            if axis.narrow(pass, upper, spec.precision) || mid <= pass || mid >= upper {
                Step::Confirm(pass, status_at(Some(upper)))
            } else {
                Step::Try(mid)
            }
        }
    }
}

/// The verdict on a value from its trials' verdicts, or `None` while the remaining trials
/// could still change it.
fn value_verdict(verdicts: &[Verdict], trials: usize) -> Option<Verdict> {
    let count = |v: Verdict| verdicts.iter().filter(|&&x| x == v).count();
    let (pass, fail, limited) = (
        count(Verdict::Pass),
        count(Verdict::Fail),
        count(Verdict::GeneratorLimited),
    );
    let remaining = trials.saturating_sub(verdicts.len());
    // At least half of the trial time met the level: no later trial can take that back.
    if 2 * pass >= trials {
        return Some(Verdict::Pass);
    }
    // Still reachable: keep judging.
    if 2 * (pass + remaining) >= trials {
        return None;
    }
    // Cannot pass. Fail or generator-limited by the larger share, once settled.
    if fail >= limited + remaining && fail > 0 {
        Some(Verdict::Fail)
    } else if limited > fail + remaining {
        Some(Verdict::GeneratorLimited)
    } else if remaining == 0 {
        Some(Verdict::Fail)
    } else {
        None
    }
}

/// The budget's bookkeeping: a trial starts only if its warm-up, its duration and the
/// largest setup time seen so far (building the strategy, starting consumers: what a trial
/// took beyond its warm-up and duration) fit in what is left.
struct Budget<'a> {
    spec: &'a SearchSpec,
    overhead: Duration,
}

impl Budget<'_> {
    /// Runs one trial if it fits; why not otherwise.
    fn trial<O: Oracle>(
        &mut self,
        oracle: &mut O,
        clock: &mut dyn Clock,
        value: f64,
        duration: Duration,
        confirmation: bool,
    ) -> Result<TrialSummary, Halt<O::Error>> {
        // A confirmation beside the reference is two runs, each with its own setup.
        let runs = if confirmation && self.spec.confirm_beside_reference {
            2
        } else {
            1
        };
        let before = clock.elapsed();
        let planned = (self.spec.warmup + duration) * runs;
        if before + planned + self.overhead * runs > self.spec.budget {
            return Err(Halt::OutOfBudget);
        }
        let summary = oracle
            .trial(TrialRequest {
                value,
                duration,
                warmup: self.spec.warmup,
                confirmation,
            })
            .map_err(Halt::Stopped)?;
        let took = clock.elapsed().saturating_sub(before);
        self.overhead = self.overhead.max(took.saturating_sub(planned) / runs);
        Ok(summary)
    }
}

/// Why a search's next trial did not run.
enum Halt<E> {
    /// It would not fit in what is left of the budget.
    OutOfBudget,
    /// The oracle stopped the search (e.g. Ctrl-C).
    Stopped(E),
}

impl<E> Halt<E> {
    /// How the search ends on it, with what `known` established.
    fn end(self, known: Knowledge) -> Result<SearchResult, Stopped<E>> {
        match self {
            Halt::OutOfBudget => Ok(known.result(Status::OutOfBudget)),
            Halt::Stopped(error) => Err(Stopped {
                error,
                partial: known.result(Status::Stopped),
            }),
        }
    }
}

/// Search `spec`'s axis with `oracle`, watching the budget on `clock`.
pub fn search<O: Oracle>(
    spec: &SearchSpec,
    oracle: &mut O,
    clock: &mut dyn Clock,
) -> Result<SearchResult, Stopped<O::Error>> {
    let known = Knowledge {
        axis: spec.axis,
        passes: Vec::new(),
        fails: Vec::new(),
        limited: Vec::new(),
        trials: Vec::new(),
    };
    continue_search(spec, known, oracle, clock)
}

/// Go on with a search that was cut short (its budget ran out, or it was stopped), with a
/// new budget on `clock`: what its trials established is replayed, then the search
/// continues where it stopped. A value whose trials were cut short before its verdict was
/// settled is judged again from its first trial (its earlier trials stay in the record).
/// This is how `fbench capacity` spends budget that searches finishing early left over.
pub fn resume<O: Oracle>(
    spec: &SearchSpec,
    previous: SearchResult,
    oracle: &mut O,
    clock: &mut dyn Clock,
) -> Result<SearchResult, Stopped<O::Error>> {
    let trials_per_value = spec.trials.max(1);
    let mut known = Knowledge {
        axis: spec.axis,
        passes: Vec::new(),
        fails: Vec::new(),
        limited: Vec::new(),
        trials: Vec::new(),
    };
    let mut group: Vec<Verdict> = Vec::new();
    let mut group_value = None;
    for trial in previous.trials {
        if trial.confirmation {
            group.clear();
            group_value = None;
            // A passing confirmation ends a search, so only failing ones are in an
            // unfinished record; they overrule the short trials as they did then.
            if trial.verdict != Verdict::Pass {
                known.record(trial.value, trial.verdict);
            }
        } else {
            if group_value != Some(trial.value) {
                group.clear();
                group_value = Some(trial.value);
            }
            group.push(trial.verdict);
            if let Some(verdict) = value_verdict(&group, trials_per_value) {
                known.record(trial.value, verdict);
                group.clear();
                group_value = None;
            }
        }
        known.trials.push(trial);
    }
    continue_search(spec, known, oracle, clock)
}

fn continue_search<O: Oracle>(
    spec: &SearchSpec,
    mut known: Knowledge,
    oracle: &mut O,
    clock: &mut dyn Clock,
) -> Result<SearchResult, Stopped<O::Error>> {
    let trials = spec.trials.max(1);
    let mut budget = Budget {
        spec,
        overhead: Duration::ZERO,
    };
    // Every step either tries a value not tried before, or confirms (a confirmation that
    // fails turns a pass into a fail); the bound only guards against a bug looping forever.
    for _ in 0..10_000 {
        match next_step(spec, &known) {
            Step::Finish(status) => return Ok(known.result(status)),
            Step::Try(value) => {
                let mut verdicts = Vec::with_capacity(trials);
                let verdict = loop {
                    if let Some(v) = value_verdict(&verdicts, trials) {
                        break v;
                    }
                    let summary =
                        match budget.trial(oracle, clock, value, spec.trial_duration, false) {
                            Ok(summary) => summary,
                            Err(halt) => return halt.end(known),
                        };
                    verdicts.push(summary.verdict);
                    known.trials.push(TrialSummary {
                        value,
                        confirmation: false,
                        ..summary
                    });
                };
                known.record(value, verdict);
            }
            Step::Confirm(value, status) => {
                let summary = match budget.trial(oracle, clock, value, spec.confirm_duration, true)
                {
                    Ok(summary) => summary,
                    Err(halt) => return halt.end(known),
                };
                let verdict = summary.verdict;
                known.trials.push(TrialSummary {
                    value,
                    confirmation: true,
                    ..summary
                });
                if verdict == Verdict::Pass {
                    return Ok(known.result(status));
                }
                // The longer trial overrules the short ones: the value moves to the fails
                // (or becomes the generator ceiling) and the search goes on below it.
                known.record(value, verdict);
            }
        }
    }
    Ok(known.result(Status::OutOfBudget))
}

/// Frames due in the run's measured window: every slot of the source's schedule, filled or
/// skipped. Today from what the record has (`produced + source_overruns`); switch to
/// `run.frames.due` when "loss over due frames" (issue 13) lands.
pub fn due_frames(run: &RunResult) -> u64 {
    match run.frames.due {
        // Reports from before fbench counted due frames: the same sum, made here.
        0 => run.frames.produced + run.frames.source_overruns,
        due => due,
    }
}

/// Frames a consumer may miss at the end of the window without it counting as loss: the
/// last frame due can be published just as the window closes, when consumers are already
/// told to stop. Without it a 2 s trial at 30 fps would read 1.7% loss from the edge alone.
pub const EDGE_ALLOWANCE_FRAMES: u64 = 1;

/// Frames due to consumer `consumer`: its stream's in a run of several streams, else the
/// run's.
fn due_to(run: &RunResult, consumer: &crate::result::ConsumerRecord) -> u64 {
    consumer
        .stream
        .and_then(|i| run.streams.get(i))
        .map_or_else(|| due_frames(run), |stream| stream.frames.due)
}

/// The worst consumer's loss over due frames: `(due - frames_seen - edge allowance) / due`,
/// a dead consumer losing everything; with several streams, each consumer over its own
/// stream's due frames. (`run.loss_rate_max` is the same figure without the edge
/// allowance.)
pub fn worst_loss(run: &RunResult) -> f64 {
    if due_frames(run) == 0 {
        return 1.0;
    }
    run.per_consumer
        .iter()
        .map(|c| {
            let due = due_to(run, c);
            if c.status != "ok" || due == 0 {
                1.0
            } else {
                let lost = due
                    .saturating_sub(c.frames_seen)
                    .saturating_sub(EDGE_ALLOWANCE_FRAMES);
                lost as f64 / due as f64
            }
        })
        .fold(
            if run.per_consumer.is_empty() {
                1.0
            } else {
                0.0
            },
            f64::max,
        )
}

/// A trial's summary from a harness run, judged against `level`.
///
/// Every consumer must meet the level, so the age figures are the worst consumer's (the
/// one with the highest p99) and the loss is the worst consumer's. The trial is
/// generator-limited when the source made under 99% of the due frames *and* its own
/// rendering, alone, could not keep up with 99% of the rate (mean render time above
/// period / 0.99): a producer held back by the strategy is the strategy's failure, not the
/// generator's. Render time is wall time, so a CPU starved by many consumers shows there.
pub fn judge(run: &RunResult, level: &ServiceLevel) -> TrialSummary {
    let fps = run.config.fps;
    let duration_s = run.config.duration_s;
    let slo = level.age_limit_ns(fps);
    let worst = run
        .per_consumer
        .iter()
        .filter(|c| c.status == "ok")
        .max_by_key(|c| c.age_ns.p99)
        .map(|c| &c.age_ns)
        .unwrap_or(&run.age_ns);
    let loss = worst_loss(run);
    let due = due_frames(run);
    // Per stream: K streams each make frames at the tried rate.
    let achieved_fps = if duration_s > 0.0 {
        run.frames.produced as f64 / run.config.streams.max(1) as f64 / duration_s
    } else {
        0.0
    };
    let behind = (run.frames.produced as f64) < 0.99 * due as f64;
    let period_ns = 1e9 / fps.max(1e-9);
    let generator_limited = behind && run.render_ns.mean > period_ns / 0.99;
    let mut reasons = Vec::new();
    if worst.count == 0 {
        reasons.push("no frame delivered".to_string());
    } else if worst.p99 > slo {
        reasons.push(format!("p99 age {} ns > {slo} ns", worst.p99));
    }
    if loss > level.max_loss {
        reasons.push(format!(
            "loss {:.3}% > {:.3}%",
            loss * 100.0,
            level.max_loss * 100.0
        ));
    }
    if run.torn_frames > 0 {
        reasons.push(format!("{} torn frames", run.torn_frames));
    }
    if run.consumers_lost > 0 {
        reasons.push(format!("{} consumers lost", run.consumers_lost));
    }
    if let Some(max) = level.max_pss_bytes {
        if run.memory.peak_pss_bytes > max {
            reasons.push(format!(
                "peak PSS {} B > {max} B",
                run.memory.peak_pss_bytes
            ));
        }
    }
    let verdict = if generator_limited {
        Verdict::GeneratorLimited
    } else if reasons.is_empty() {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    TrialSummary {
        value: fps,
        fps,
        consumers: run.consumers,
        duration_s,
        confirmation: false,
        age_p50_ns: worst.p50,
        age_p99_ns: worst.p99,
        age_p99_ci95_ns: p99_interval(worst),
        slo_age_ns: slo,
        loss,
        torn_frames: run.torn_frames,
        peak_pss_bytes: run.memory.peak_pss_bytes,
        achieved_fps,
        other_load_cpus: run.cpu.other_load_cpus,
        bound_fps: run
            .cpu_demand
            .as_ref()
            .and_then(|demand| bound_fps(demand, usable_cpus())),
        interfered: false,
        generator_limited,
        verdict,
        reasons,
        age_hdr: worst.hdr.clone(),
        vs_reference: None,
    }
    .with_interference()
}

impl TrialSummary {
    /// `self` with `interfered` set from its own figures ([`interfered`]).
    pub fn with_interference(mut self) -> TrialSummary {
        self.interfered = interfered(&self);
        self
    }
}

/// Other processes' load (CPUs) above which a trial failing far under its bound is marked
/// `interfered`: the default of `--max-other-load`.
pub const INTERFERENCE_LOAD_CPUS: f64 = 0.25;

/// The highest frame rate a run's CPU demand allows, by the utilization law (U = X · D: a
/// resource is saturated when throughput times demand per frame reaches its capacity): the
/// rate at which the busiest single thread (producer or a consumer) would be busy 100% of
/// the time, `1e9 / its ns per frame`, and the rate at which the whole run's demand fills
/// `cpus` CPUs, `cpus · 1e9 / total ns per frame` — whichever is lower. A model: waiting,
/// locks and wake-up latency are not in it, so the measured capacity is at most this.
///
/// ```
/// use fbench_harness::capacity::bound_fps;
/// use fbench_harness::result::CpuDemand;
///
/// let demand = CpuDemand {
///     producer_ns_per_frame: Some(2_000_000.0), // 2 ms: alone, 500 fps
///     consumer_ns_per_frame_p50: Some(1_000_000.0),
///     consumer_ns_per_frame_max: Some(1_250_000.0),
///     total_ns_per_frame: 8_000_000.0, // 8 ms on 2 CPUs: 250 fps
///     involuntary_switches_per_frame: 0.1,
/// };
/// assert_eq!(bound_fps(&demand, 2.0), Some(250.0));
/// assert_eq!(bound_fps(&demand, 8.0), Some(500.0)); // the producer's thread binds first
/// ```
pub fn bound_fps(demand: &crate::result::CpuDemand, cpus: f64) -> Option<f64> {
    let per_thread = demand
        .busiest_thread_ns_per_frame()
        .filter(|ns| *ns > 0.0)
        .map(|ns| 1e9 / ns);
    let machine = (demand.total_ns_per_frame > 0.0 && cpus > 0.0)
        .then(|| cpus * 1e9 / demand.total_ns_per_frame);
    match (per_thread, machine) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Whether a judged trial was spoiled by the machine: it failed at a rate under half its
/// bound while other processes used more than [`INTERFERENCE_LOAD_CPUS`].
pub fn interfered(trial: &TrialSummary) -> bool {
    trial.verdict == Verdict::Fail
        && trial.bound_fps.is_some_and(|bound| trial.fps < bound / 2.0)
        && trial
            .other_load_cpus
            .is_some_and(|load| load > INTERFERENCE_LOAD_CPUS)
}

/// The median of the trials' bounds (the lower middle one for an even count).
fn median_bound(trials: &[TrialSummary]) -> Option<f64> {
    let mut bounds: Vec<f64> = trials.iter().filter_map(|t| t.bound_fps).collect();
    bounds.sort_by(f64::total_cmp);
    (!bounds.is_empty()).then(|| bounds[(bounds.len() - 1) / 2])
}

/// The CPUs this process may run on (affinity and cgroup quota), the machine's capacity in
/// [`bound_fps`].
pub fn usable_cpus() -> f64 {
    std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64)
}

/// A distribution-free 95% interval for the p99 from the histogram: the values at the
/// order-statistic ranks `n p ± 1.96 sqrt(n p (1 - p))` (normal approximation of the
/// binomial). `None` when the samples are too few for the upper rank to stay inside them.
pub fn p99_interval(summary: &crate::metrics::LatencySummary) -> Option<[u64; 2]> {
    let n = summary.count as f64;
    if summary.count == 0 {
        return None;
    }
    let p = 0.99;
    let half = 1.96 * (n * p * (1.0 - p)).sqrt();
    let lo_rank = (n * p - half).floor().max(1.0);
    let hi_rank = (n * p + half).ceil() + 1.0;
    if hi_rank > n {
        return None;
    }
    let histogram = summary.decode().ok()?;
    Some([
        histogram.value_at_quantile(lo_rank / n),
        histogram.value_at_quantile(hi_rank / n),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn summary(verdict: Verdict) -> TrialSummary {
        TrialSummary {
            value: 0.0,
            fps: 0.0,
            consumers: 1,
            duration_s: 1.0,
            confirmation: false,
            age_p50_ns: 1,
            age_p99_ns: 2,
            age_p99_ci95_ns: None,
            slo_age_ns: 3,
            loss: 0.0,
            torn_frames: 0,
            peak_pss_bytes: 0,
            achieved_fps: 0.0,
            other_load_cpus: None,
            bound_fps: None,
            interfered: false,
            generator_limited: verdict == Verdict::GeneratorLimited,
            verdict,
            reasons: Vec::new(),
            age_hdr: String::new(),
            vs_reference: None,
        }
    }

    fn spec(axis: Axis) -> SearchSpec {
        SearchSpec {
            axis,
            start: 30.0,
            cap: 1000.0,
            floor: 1.0,
            precision: 0.05,
            trials: 3,
            trial_duration: Duration::from_secs(2),
            warmup: Duration::from_secs(1),
            confirm_duration: Duration::from_secs(6),
            confirm_beside_reference: false,
            budget: Duration::from_secs(3600),
        }
    }

    /// Runs `spec` against `verdict_of(value, trial number)` on a scripted clock that
    /// advances by each trial's warm-up plus duration. Returns the result and the time spent.
    fn run_search(
        spec: &SearchSpec,
        mut verdict_of: impl FnMut(f64, usize) -> Verdict,
    ) -> (SearchResult, Duration) {
        let now = Cell::new(Duration::ZERO);
        let mut n = 0;
        let mut oracle = |request: TrialRequest| -> Result<TrialSummary, ()> {
            now.set(now.get() + request.warmup + request.duration);
            n += 1;
            Ok(summary(verdict_of(request.value, n)))
        };
        let mut clock = || now.get();
        let result = search(spec, &mut oracle, &mut clock).unwrap();
        (result, now.get())
    }

    fn threshold(limit: f64) -> impl FnMut(f64, usize) -> Verdict {
        move |value, _| {
            if value <= limit {
                Verdict::Pass
            } else {
                Verdict::Fail
            }
        }
    }

    fn values(result: &SearchResult) -> Vec<f64> {
        let mut seen: Vec<f64> = Vec::new();
        for t in &result.trials {
            if seen.last() != Some(&t.value) {
                seen.push(t.value);
            }
        }
        seen
    }

    #[test]
    fn a_threshold_is_bracketed_within_the_precision() {
        let (result, _) = run_search(&spec(Axis::Fps), threshold(100.0));
        assert_eq!(result.status, Status::Resolved);
        assert!(result.resolved);
        let (pass, fail) = (result.last_pass.unwrap(), result.first_fail.unwrap());
        assert!(pass <= 100.0 && fail > 100.0, "[{pass}, {fail})");
        assert!(fail - pass <= 0.05 * pass, "[{pass}, {fail})");
        // Doubling up from 30, then bisecting.
        assert_eq!(&values(&result)[..4], &[30.0, 60.0, 120.0, 90.0]);
        // Clean verdicts stop judging after 2 of 3 trials; one confirmation at the end.
        let last = result.trials.last().unwrap();
        assert!(last.confirmation && last.value == pass);
        assert_eq!(result.trials.iter().filter(|t| t.confirmation).count(), 1);
        for value in values(&result) {
            let n = result
                .trials
                .iter()
                .filter(|t| t.value == value && !t.confirmation)
                .count();
            assert_eq!(n, 2, "{value}");
        }
    }

    #[test]
    fn a_pass_at_the_cap_reports_at_least_the_cap() {
        let mut s = spec(Axis::Fps);
        s.cap = 200.0;
        let (result, _) = run_search(&s, threshold(1e9));
        assert_eq!(result.status, Status::AtCap);
        assert_eq!(result.last_pass, Some(200.0));
        assert_eq!(result.first_fail, None);
        assert!(result.resolved);
        assert_eq!(values(&result), [30.0, 60.0, 120.0, 200.0]);
    }

    #[test]
    fn a_start_that_fails_halves_down_to_the_floor() {
        let (result, _) = run_search(&spec(Axis::Fps), threshold(5.0));
        assert_eq!(result.status, Status::Resolved);
        let (pass, fail) = (result.last_pass.unwrap(), result.first_fail.unwrap());
        assert!(pass <= 5.0 && fail > 5.0, "[{pass}, {fail})");
        assert_eq!(&values(&result)[..3], &[30.0, 15.0, 7.5]);

        let (result, _) = run_search(&spec(Axis::Fps), threshold(0.5));
        assert_eq!(result.status, Status::BelowFloor);
        assert_eq!(result.last_pass, None);
        assert_eq!(result.first_fail, Some(1.0));
        assert!(result.resolved);
    }

    #[test]
    fn flaky_trials_pass_when_half_the_time_meets_the_level() {
        // The first trial at every value is wrong (a fail below 100 fps, a pass above);
        // the majority of the trial time still decides.
        let mut seen: Vec<f64> = Vec::new();
        let (result, _) = run_search(&spec(Axis::Fps), |value, _| {
            let first = !seen.contains(&value);
            seen.push(value);
            if (value <= 100.0) != first {
                Verdict::Pass
            } else {
                Verdict::Fail
            }
        });
        assert_eq!(result.status, Status::Resolved);
        let (pass, fail) = (result.last_pass.unwrap(), result.first_fail.unwrap());
        assert!(pass <= 100.0 && fail > 100.0, "[{pass}, {fail})");
        // Every value needed all three trials: the first two disagreed.
        for value in values(&result) {
            let n = result
                .trials
                .iter()
                .filter(|t| t.value == value && !t.confirmation)
                .count();
            assert_eq!(n, 3, "{value}");
        }
    }

    #[test]
    fn value_verdicts_stop_once_settled() {
        use Verdict::*;
        assert_eq!(value_verdict(&[], 3), None);
        assert_eq!(value_verdict(&[Pass], 3), None);
        assert_eq!(value_verdict(&[Pass, Pass], 3), Some(Pass));
        assert_eq!(value_verdict(&[Fail, Fail], 3), Some(Fail));
        assert_eq!(value_verdict(&[Pass, Fail], 3), None);
        assert_eq!(value_verdict(&[Pass, Fail, Pass], 3), Some(Pass));
        // Half of an even number of trials is enough.
        assert_eq!(value_verdict(&[Pass, Fail], 2), Some(Pass));
        assert_eq!(value_verdict(&[Fail, Fail], 4), None);
        assert_eq!(value_verdict(&[Fail, Fail, Fail], 4), Some(Fail));
        assert_eq!(
            value_verdict(&[GeneratorLimited, GeneratorLimited], 3),
            Some(GeneratorLimited)
        );
        // Which of fail or generator-limited is not settled until the last trial.
        assert_eq!(value_verdict(&[Fail, GeneratorLimited], 3), None);
        assert_eq!(
            value_verdict(&[Fail, GeneratorLimited, Fail], 3),
            Some(Fail)
        );
        assert_eq!(value_verdict(&[Fail, GeneratorLimited], 2), Some(Fail));
        assert_eq!(value_verdict(&[Fail], 1), Some(Fail));
        assert_eq!(value_verdict(&[Pass], 1), Some(Pass));
    }

    #[test]
    fn a_generator_limit_is_a_ceiling_neither_pass_nor_fail() {
        // The strategy would sustain 500, but the source cannot make more than 150.
        let (result, _) = run_search(&spec(Axis::Fps), |value, _| {
            if value > 150.0 {
                Verdict::GeneratorLimited
            } else {
                Verdict::Pass
            }
        });
        assert_eq!(result.status, Status::GeneratorLimited);
        assert_eq!(result.first_fail, None, "nothing failed");
        let (pass, limit) = (result.last_pass.unwrap(), result.generator_limit.unwrap());
        assert!(pass <= 150.0 && limit > 150.0, "[{pass}, {limit})");
        assert!(limit - pass <= 0.05 * pass);
        assert!(result.resolved);

        // A fail below the generator limit is a real first fail; the limit is kept beside it.
        let (result, _) = run_search(&spec(Axis::Fps), |value, _| {
            if value > 100.0 {
                Verdict::GeneratorLimited
            } else if value > 70.0 {
                Verdict::Fail
            } else {
                Verdict::Pass
            }
        });
        assert_eq!(result.status, Status::Resolved);
        let (pass, fail) = (result.last_pass.unwrap(), result.first_fail.unwrap());
        assert!(pass <= 70.0 && fail > 70.0, "[{pass}, {fail})");
        assert_eq!(result.generator_limit, Some(120.0));
    }

    #[test]
    fn a_failed_confirmation_moves_the_search_below_it() {
        // Short trials pass up to 100; the long confirmation trial only passes up to 80.
        let now = Cell::new(Duration::ZERO);
        let mut oracle = |request: TrialRequest| -> Result<TrialSummary, ()> {
            now.set(now.get() + request.warmup + request.duration);
            let long = request.duration > Duration::from_secs(2);
            let limit = if long { 80.0 } else { 100.0 };
            Ok(summary(if request.value <= limit {
                Verdict::Pass
            } else {
                Verdict::Fail
            }))
        };
        let result = search(&spec(Axis::Fps), &mut oracle, &mut || now.get()).unwrap();
        assert_eq!(result.status, Status::Resolved);
        let (pass, fail) = (result.last_pass.unwrap(), result.first_fail.unwrap());
        assert!(pass <= 80.0 && fail > 80.0, "[{pass}, {fail})");
        let confirmations: Vec<&TrialSummary> =
            result.trials.iter().filter(|t| t.confirmation).collect();
        assert!(confirmations.len() >= 2, "one failed, one passed");
        assert_eq!(confirmations.last().unwrap().verdict, Verdict::Pass);
        assert_eq!(confirmations.last().unwrap().value, pass);
        assert!(confirmations[0].verdict == Verdict::Fail && confirmations[0].value > 80.0);
    }

    #[test]
    fn an_exhausted_budget_leaves_the_interval_unresolved() {
        let mut s = spec(Axis::Fps);
        // Room for 30 and 60 (2 trials of 3 s each) and one trial of 120.
        s.budget = Duration::from_secs(16);
        let (result, spent) = run_search(&s, threshold(100.0));
        assert_eq!(result.status, Status::OutOfBudget);
        assert!(!result.resolved);
        assert_eq!(result.last_pass, Some(60.0));
        assert_eq!(result.first_fail, None, "120 was not judged to the end");
        assert!(spent <= s.budget, "never starts a trial that does not fit");
        assert!(result.trials.iter().all(|t| !t.confirmation));

        s.budget = Duration::from_secs(2);
        let (result, spent) = run_search(&s, threshold(100.0));
        assert_eq!(result.status, Status::OutOfBudget);
        assert!(result.trials.is_empty());
        assert_eq!(spent, Duration::ZERO);
    }

    #[test]
    fn the_budget_counts_the_setup_time_trials_took() {
        // Every trial takes 2 s more than its warm-up and duration (building, starting).
        let mut s = spec(Axis::Fps);
        s.budget = Duration::from_secs(23);
        let now = Cell::new(Duration::ZERO);
        let mut oracle = |request: TrialRequest| -> Result<TrialSummary, ()> {
            now.set(now.get() + request.warmup + request.duration + Duration::from_secs(2));
            Ok(summary(Verdict::Pass))
        };
        let result = search(&s, &mut oracle, &mut || now.get()).unwrap();
        assert_eq!(result.status, Status::OutOfBudget);
        assert_eq!(result.trials.len(), 4);
        assert!(now.get() <= s.budget, "{:?}", now.get());
    }

    #[test]
    fn a_resumed_search_ends_where_an_uninterrupted_one_does() {
        let whole = run_search(&spec(Axis::Fps), threshold(100.0)).0;
        for budget in [0, 4, 16, 30, 45] {
            let mut s = spec(Axis::Fps);
            s.budget = Duration::from_secs(budget);
            let (cut, _) = run_search(&s, threshold(100.0));
            assert_eq!(cut.status, Status::OutOfBudget, "{budget}");
            let now = Cell::new(Duration::ZERO);
            let mut oracle = |request: TrialRequest| -> Result<TrialSummary, ()> {
                now.set(now.get() + request.warmup + request.duration);
                Ok(summary(if request.value <= 100.0 {
                    Verdict::Pass
                } else {
                    Verdict::Fail
                }))
            };
            let resumed = resume(&spec(Axis::Fps), cut.clone(), &mut oracle, &mut || {
                now.get()
            })
            .unwrap();
            assert_eq!(resumed.status, Status::Resolved, "{budget}");
            assert_eq!(resumed.last_pass, whole.last_pass, "{budget}");
            assert_eq!(resumed.first_fail, whole.first_fail, "{budget}");
            // The earlier trials are kept, in order, ahead of the new ones.
            assert_eq!(&resumed.trials[..cut.trials.len()], &cut.trials[..]);
        }
    }

    #[test]
    fn a_resumed_search_keeps_what_a_failed_confirmation_taught() {
        // Short trials pass up to 100, long ones up to 80: cut it short after the first
        // failed confirmation, then resume.
        let verdict = |request: TrialRequest| {
            let limit = if request.duration > Duration::from_secs(2) {
                80.0
            } else {
                100.0
            };
            summary(if request.value <= limit {
                Verdict::Pass
            } else {
                Verdict::Fail
            })
        };
        let now = Cell::new(Duration::ZERO);
        let mut confirmations = 0;
        let mut oracle = |request: TrialRequest| -> Result<TrialSummary, ()> {
            now.set(now.get() + request.warmup + request.duration);
            let t = verdict(request);
            if request.duration > Duration::from_secs(2) {
                confirmations += 1;
                if confirmations > 1 {
                    return Err(());
                }
            }
            Ok(t)
        };
        let cut = search(&spec(Axis::Fps), &mut oracle, &mut || now.get())
            .unwrap_err()
            .partial;
        let failed = cut.trials.iter().find(|t| t.confirmation).unwrap().value;
        let mut oracle =
            |request: TrialRequest| -> Result<TrialSummary, ()> { Ok(verdict(request)) };
        let resumed = resume(&spec(Axis::Fps), cut, &mut oracle, &mut || Duration::ZERO).unwrap();
        assert_eq!(resumed.status, Status::Resolved);
        assert!(resumed.last_pass.unwrap() <= 80.0 && resumed.first_fail.unwrap() > 80.0);
        assert!(resumed.last_pass.unwrap() < failed);
    }

    #[test]
    fn an_oracle_error_stops_with_the_partial_result() {
        let mut n = 0;
        let mut oracle = |request: TrialRequest| -> Result<TrialSummary, &'static str> {
            n += 1;
            if n > 4 {
                return Err("interrupted");
            }
            Ok(summary(if request.value <= 100.0 {
                Verdict::Pass
            } else {
                Verdict::Fail
            }))
        };
        let stopped = search(&spec(Axis::Fps), &mut oracle, &mut || Duration::ZERO).unwrap_err();
        assert_eq!(stopped.error, "interrupted");
        assert_eq!(stopped.partial.status, Status::Stopped);
        assert!(!stopped.partial.resolved);
        assert_eq!(stopped.partial.last_pass, Some(60.0));
        assert_eq!(stopped.partial.trials.len(), 4);
    }

    #[test]
    fn consumer_counts_are_whole_and_end_on_adjacent_counts() {
        let mut s = spec(Axis::Consumers);
        s.start = 1.0;
        s.cap = 1024.0;
        let (result, _) = run_search(&s, threshold(13.0));
        assert_eq!(result.status, Status::Resolved);
        assert_eq!(result.last_pass, Some(13.0));
        assert_eq!(result.first_fail, Some(14.0));
        assert!(result.trials.iter().all(|t| t.value.fract() == 0.0));
        assert_eq!(&values(&result)[..5], &[1.0, 2.0, 4.0, 8.0, 16.0]);

        // At 5% of a large count the interval may be wider than one.
        let (result, _) = run_search(&s, threshold(300.0));
        let (pass, fail) = (result.last_pass.unwrap(), result.first_fail.unwrap());
        assert!(pass <= 300.0 && fail > 300.0 && fail - pass <= 0.05 * pass);

        let (result, _) = run_search(&s, threshold(0.0));
        assert_eq!(result.status, Status::BelowFloor);
        assert_eq!(result.first_fail, Some(1.0));
    }

    #[test]
    fn the_default_slo_is_one_frame_period() {
        let level = ServiceLevel::default();
        assert_eq!(level.age_limit_ns(50.0), 20_000_000);
        let fixed = ServiceLevel {
            slo_age_ns: Some(5_000_000),
            ..level
        };
        assert_eq!(fixed.age_limit_ns(50.0), 5_000_000);
    }

    fn run_at(fps: f64, seen: [u64; 2], p99_ms: [u64; 2]) -> RunResult {
        use crate::metrics::Latency;
        use crate::result::{ConsumerRecord, FrameCounts};
        let latency = |p99_ms: u64| {
            let mut l = Latency::new();
            for i in 0..1000u64 {
                l.record(if i < 985 {
                    1_000_000
                } else {
                    p99_ms * 1_000_000
                });
            }
            l.summary()
        };
        let mut config = crate::RunConfig::default_config();
        config.fps = fps;
        config.duration = Duration::from_secs(10);
        let consumer = |id: usize| ConsumerRecord {
            id,
            workload: "inspect".to_string(),
            frames_seen: seen[id],
            age_ns: latency(p99_ms[id]),
            acquire_ns: Latency::new().summary(),
            e2e_ns: Latency::new().summary(),
            drop_rate: Some(0.0),
            loss_rate: None,
            deadline_misses: 0,
            torn_frames: 0,
            out_of_order: 0,
            status: "ok".to_string(),
            kind: "fbench".into(),
            command: None,
            not_shm: None,
            stream: None,
        };
        let due = (fps * 10.0) as u64;
        RunResult {
            frames: FrameCounts {
                due,
                produced: due,
                published: due,
                ..FrameCounts::default()
            },
            age_ns: latency(p99_ms[0].max(p99_ms[1])),
            per_consumer: vec![consumer(0), consumer(1)],
            ..RunResult::empty("mutex", 2, config.record())
        }
    }

    /// `--find streams` against a scripted oracle: the machine holds up to 6 streams.
    /// Counts are whole, the search doubles from 1 and ends on adjacent counts, and the
    /// interval is [6, 7).
    #[test]
    fn stream_counts_are_whole_and_end_on_adjacent_counts() {
        let mut s = spec(Axis::Streams);
        s.start = 1.0;
        s.cap = 64.0;
        let (result, _) = run_search(&s, threshold(6.0));
        assert_eq!(result.axis, Axis::Streams);
        assert_eq!(result.status, Status::Resolved);
        assert_eq!(
            (result.last_pass, result.first_fail),
            (Some(6.0), Some(7.0))
        );
        assert!(result.trials.iter().all(|t| t.value.fract() == 0.0));
        assert_eq!(&values(&result)[..4], &[1.0, 2.0, 4.0, 8.0]);
        let last = result.trials.last().unwrap();
        assert!(last.confirmation && last.value == 6.0);
        // Passing at the cap: "≥ 64 streams".
        let (result, _) = run_search(&s, threshold(1e9));
        assert_eq!(result.status, Status::AtCap);
        assert_eq!(result.last_pass, Some(64.0));
        // Not even one stream: below the floor.
        let (result, _) = run_search(&s, threshold(0.0));
        assert_eq!(result.status, Status::BelowFloor);
        assert_eq!("streams".parse::<Axis>(), Ok(Axis::Streams));
    }

    /// Two streams of 500 due frames each: a consumer is judged over its own stream's due
    /// frames (not the run's 1000), and one stream's late consumer fails the whole trial.
    #[test]
    fn the_judge_holds_every_stream_to_the_level() {
        let stream_of = |stream: usize, p99_ms: [u64; 2], seen: [u64; 2]| {
            let mut run = run_at(50.0, seen, p99_ms);
            for c in &mut run.per_consumer {
                c.stream = Some(stream);
            }
            run
        };
        let merged = |streams: [RunResult; 2]| {
            let phases = [0, 10_000_000];
            let mut config = crate::RunConfig::default_config();
            config.fps = 50.0;
            config.duration = Duration::from_secs(10);
            config.streams = 2;
            let whole = crate::streams::Whole {
                config: config.record(),
                memory: Default::default(),
                cpu: Default::default(),
                allocations: None,
                cpu_demand: None,
            };
            crate::streams::merge(streams.into(), &phases, whole).unwrap()
        };
        let level = ServiceLevel::default();
        let run = merged([
            stream_of(0, [5, 8], [500, 500]),
            stream_of(1, [6, 7], [500, 499]),
        ]);
        assert_eq!(run.frames.due, 1000);
        let t = judge(&run, &level);
        assert_eq!(t.verdict, Verdict::Pass, "{:?}", t.reasons);
        assert_eq!(t.loss, 0.0, "each consumer over its stream's 500");
        assert!((t.achieved_fps - 50.0).abs() < 1e-9, "per stream");
        // Stream 1's second consumer at p99 30 ms, over the 20 ms period: the trial fails
        // on it, and it is the worst stream.
        let run = merged([
            stream_of(0, [5, 8], [500, 500]),
            stream_of(1, [6, 30], [500, 500]),
        ]);
        assert_eq!(run.worst_stream, Some(1));
        let t = judge(&run, &level);
        assert_eq!(t.verdict, Verdict::Fail);
        assert!(t.age_p99_ns >= 30_000_000, "{}", t.age_p99_ns);
    }

    #[test]
    fn the_judge_holds_every_consumer_to_the_level() {
        let level = ServiceLevel::default();
        // 50 fps: a 20 ms period; both consumers' p99 within it, no loss.
        let t = judge(&run_at(50.0, [500, 500], [5, 8]), &level);
        assert_eq!(t.verdict, Verdict::Pass, "{:?}", t.reasons);
        assert_eq!(t.slo_age_ns, 20_000_000);
        assert_eq!(t.loss, 0.0);
        assert_eq!(t.consumers, 2);
        assert!((t.achieved_fps - 50.0).abs() < 1e-9);
        // The worst consumer's figures are reported.
        assert!(t.age_p99_ns >= 8_000_000 && t.age_p99_ns < 8_100_000);
        assert!(!t.age_hdr.is_empty());

        // One consumer saw 490 of 500 due frames: 9 lost beyond the edge allowance, 1.8%,
        // over the 0.5% budget.
        let t = judge(&run_at(50.0, [500, 490], [5, 8]), &level);
        assert_eq!(t.verdict, Verdict::Fail);
        assert!((t.loss - 0.018).abs() < 1e-9);
        // Missing only the last frame is the window's edge, not loss.
        assert_eq!(judge(&run_at(50.0, [499, 499], [5, 8]), &level).loss, 0.0);
        assert!(t.reasons[0].starts_with("loss"), "{:?}", t.reasons);
        // ... within a 5% budget.
        let lenient = ServiceLevel {
            max_loss: 0.05,
            ..level
        };
        assert_eq!(
            judge(&run_at(50.0, [500, 490], [5, 8]), &lenient).verdict,
            Verdict::Pass
        );

        // The second consumer's p99 (30 ms) is over one period.
        let t = judge(&run_at(50.0, [500, 500], [5, 30]), &level);
        assert_eq!(t.verdict, Verdict::Fail);
        assert!(t.reasons[0].starts_with("p99 age"), "{:?}", t.reasons);

        // Torn frames, a lost consumer and memory fail whatever the latency.
        let mut run = run_at(50.0, [500, 500], [5, 8]);
        run.torn_frames = 1;
        run.consumers_lost = 1;
        run.memory.peak_pss_bytes = 2_000;
        let capped = ServiceLevel {
            max_pss_bytes: Some(1_000),
            ..level
        };
        assert_eq!(judge(&run, &capped).reasons.len(), 3);

        // A dead consumer lost everything.
        let mut run = run_at(50.0, [500, 500], [5, 8]);
        run.per_consumer[1].status = "crashed".to_string();
        assert_eq!(worst_loss(&run), 1.0);
    }

    #[test]
    fn loss_counts_the_slots_the_source_skipped() {
        // The source skipped 50 slots of 500: consumers saw every produced frame but lost
        // 49 (9.8%) beyond the edge allowance.
        let mut run = run_at(50.0, [450, 450], [5, 5]);
        run.frames.produced = 450;
        run.frames.source_overruns = 50;
        assert_eq!(due_frames(&run), 500);
        assert!((worst_loss(&run) - 0.098).abs() < 1e-9);
        // Rendering alone takes 10 ms of a 20 ms period: the strategy held the producer up.
        run.render_ns.mean = 10_000_000.0;
        let t = judge(&run, &ServiceLevel::default());
        assert_eq!(t.verdict, Verdict::Fail);
        assert!(!t.generator_limited);
        // Rendering alone takes longer than a period: the generator could not keep up.
        run.render_ns.mean = 25_000_000.0;
        let t = judge(&run, &ServiceLevel::default());
        assert_eq!(t.verdict, Verdict::GeneratorLimited);
        assert!(t.generator_limited);
    }

    #[test]
    fn the_p99_interval_brackets_the_p99() {
        let t = judge(&run_at(50.0, [500, 500], [5, 8]), &ServiceLevel::default());
        let [lo, hi] = t.age_p99_ci95_ns.unwrap();
        assert!(
            lo <= t.age_p99_ns && t.age_p99_ns <= hi,
            "{lo} {} {hi}",
            t.age_p99_ns
        );
        // Too few samples for the upper rank: no interval rather than a made-up one.
        let mut l = crate::metrics::Latency::new();
        for v in 1..=50 {
            l.record(v);
        }
        assert_eq!(p99_interval(&l.summary()), None);
    }

    fn demand(producer: f64, consumer_max: f64, total: f64) -> crate::result::CpuDemand {
        crate::result::CpuDemand {
            producer_ns_per_frame: Some(producer),
            consumer_ns_per_frame_p50: Some(consumer_max / 2.0),
            consumer_ns_per_frame_max: Some(consumer_max),
            total_ns_per_frame: total,
            involuntary_switches_per_frame: 0.0,
        }
    }

    #[test]
    fn the_bound_is_the_lower_of_the_busiest_thread_and_the_whole_machine() {
        // busiest thread 4 ms (a consumer): 250 fps; 10 ms in all on 2 CPUs: 200 fps.
        assert_eq!(bound_fps(&demand(1e6, 4e6, 10e6), 2.0), Some(200.0));
        // on 8 CPUs the machine allows 800: the consumer's thread binds at 250
        assert_eq!(bound_fps(&demand(1e6, 4e6, 10e6), 8.0), Some(250.0));
        // the producer can be the busiest thread
        assert_eq!(bound_fps(&demand(5e6, 4e6, 10e6), 8.0), Some(200.0));
        // no producer or consumer figure: the machine alone
        let machine_only = crate::result::CpuDemand {
            producer_ns_per_frame: None,
            consumer_ns_per_frame_p50: None,
            consumer_ns_per_frame_max: None,
            total_ns_per_frame: 5e6,
            involuntary_switches_per_frame: 0.0,
        };
        assert_eq!(bound_fps(&machine_only, 2.0), Some(400.0));
        // nothing measured: no bound invented
        let nothing = crate::result::CpuDemand {
            total_ns_per_frame: 0.0,
            ..machine_only
        };
        assert_eq!(bound_fps(&nothing, 2.0), None);
    }

    #[test]
    fn a_failure_far_under_the_bound_on_a_busy_machine_is_interference() {
        let failing = |fps: f64, bound: Option<f64>, load: Option<f64>| {
            TrialSummary {
                fps,
                bound_fps: bound,
                other_load_cpus: load,
                ..summary(Verdict::Fail)
            }
            .with_interference()
        };
        assert!(failing(30.0, Some(200.0), Some(1.6)).interfered);
        // near the bound: the design's (CPU) limit, whatever the load
        assert!(!failing(120.0, Some(200.0), Some(1.6)).interfered);
        // a quiet machine: the design's limit, even far under the bound
        assert!(!failing(30.0, Some(200.0), Some(0.1)).interfered);
        // without a bound or a load figure nothing is claimed
        assert!(!failing(30.0, None, Some(1.6)).interfered);
        assert!(!failing(30.0, Some(200.0), None).interfered);
        // a pass is never interference
        let pass = TrialSummary {
            fps: 30.0,
            bound_fps: Some(200.0),
            other_load_cpus: Some(1.6),
            ..summary(Verdict::Pass)
        }
        .with_interference();
        assert!(!pass.interfered);
    }

    #[test]
    fn a_search_reports_the_median_bound_and_counts_interfered_trials() {
        let mut known = Knowledge {
            axis: Axis::Fps,
            passes: vec![90.0],
            fails: Vec::new(),
            limited: Vec::new(),
            trials: Vec::new(),
        };
        for (fps, bound, interfered) in [
            (30.0, 300.0, false),
            (60.0, 100.0, true),
            (90.0, 200.0, false),
        ] {
            known.trials.push(TrialSummary {
                fps,
                bound_fps: Some(bound),
                interfered,
                ..summary(Verdict::Pass)
            });
        }
        let result = known.result(Status::Resolved);
        assert_eq!(result.bound_fps, Some(200.0));
        assert_eq!(result.interfered_trials, 1);
    }
    /// Only the trial that ends a search is asked for as a confirmation: the oracle runs
    /// the reference beside that one.
    #[test]
    fn only_the_confirmation_is_asked_for_as_one() {
        let now = Cell::new(Duration::ZERO);
        let mut asked: Vec<(f64, bool, Duration)> = Vec::new();
        let mut oracle = |request: TrialRequest| -> Result<TrialSummary, ()> {
            now.set(now.get() + request.warmup + request.duration);
            asked.push((request.value, request.confirmation, request.duration));
            Ok(summary(if request.value <= 100.0 {
                Verdict::Pass
            } else {
                Verdict::Fail
            }))
        };
        let mut s = spec(Axis::Fps);
        s.confirm_beside_reference = true;
        let result = search(&s, &mut oracle, &mut || now.get()).unwrap();
        assert_eq!(result.status, Status::Resolved);
        let confirmations: Vec<_> = asked.iter().filter(|a| a.1).collect();
        assert_eq!(confirmations.len(), 1);
        assert_eq!(confirmations[0].0, result.last_pass.unwrap());
        assert_eq!(confirmations[0].2, s.confirm_duration);
        assert!(asked
            .iter()
            .filter(|a| !a.1)
            .all(|a| a.2 == s.trial_duration));
    }

    /// A confirmation beside the reference is two runs: a budget that fits one but not two
    /// stops before it instead of overrunning.
    #[test]
    fn a_confirmation_beside_the_reference_counts_twice_in_the_budget() {
        // Passes up to 100: with the reference beside the confirmation, the same search
        // takes one more run of the confirmation's warm-up and length.
        let oracle_time = |s: &SearchSpec| {
            let now = Cell::new(Duration::ZERO);
            let mut oracle = |request: TrialRequest| -> Result<TrialSummary, ()> {
                let runs = if request.confirmation && s.confirm_beside_reference {
                    2
                } else {
                    1
                };
                now.set(now.get() + (request.warmup + request.duration) * runs);
                Ok(summary(if request.value <= 100.0 {
                    Verdict::Pass
                } else {
                    Verdict::Fail
                }))
            };
            let result = search(s, &mut oracle, &mut || now.get()).unwrap();
            (result, now.get())
        };
        let mut s = spec(Axis::Fps);
        s.trials = 1;
        let (alone, spent_alone) = oracle_time(&s);
        assert_eq!(alone.status, Status::Resolved);
        s.confirm_beside_reference = true;
        let (beside, spent_beside) = oracle_time(&s);
        assert_eq!(beside.status, Status::Resolved);
        assert_eq!(spent_beside - spent_alone, s.warmup + s.confirm_duration);
        // Room for one confirmation run but not two: stopped, never over the budget.
        s.budget = spent_alone;
        let (cut, spent) = oracle_time(&s);
        assert_eq!(cut.status, Status::OutOfBudget);
        assert!(spent <= s.budget, "{spent:?}");
    }
}
