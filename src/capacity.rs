//! `fbench capacity`: for every strategy and configuration point, search the highest frame
//! rate (or consumer count) at which the service level holds on every consumer, under one
//! budget for the whole command. The search itself is [`fbench_harness::capacity::search`];
//! this module parses and validates the flags, runs each trial through the shared scheduler
//! (`crate::schedule`: each trial in its own process), runs the `ideal` reference beside each
//! confirmation trial (paired in time, as `run --repeat` pairs trials), shares the budget
//! between the searches, shows one progress bar, and writes the reports through the
//! exporters run reports use.

use std::io::Write;
use std::time::{Duration, Instant};

use clap::Args;

use fbench_harness::capacity::{
    self, Axis, SearchSpec, ServiceLevel, Status, Stopped, TrialRequest, TrialSummary,
    VersusReference,
};
use fbench_harness::config::{parse_duration, MAX_CONSUMERS};
use fbench_harness::machine::{available_memory, MachineInfo};
use fbench_harness::sweep::{SweepPoint, SweepSpec};
use fbench_harness::{RunConfig, RunResult, StrategyRef};
use fbench_reports::capacity::{CapacityRecord, CapacityReport, SearchParams, CAPACITY_SCHEMA};
use fbench_reports::ExportFormat;

use crate::flags::{parse_count, parse_fps, Defaults, OutputFlags, RunFlags};
use crate::{output_path, scenarios, write_exports, UsageError};

/// `fbench capacity`: the run flags (lists where `sweep` takes lists) and the search's.
#[derive(Debug, Args)]
pub struct CapacityArgs {
    /// What to search: fps (the highest rate at each consumer count), consumers (the
    /// highest consumer count at each --fps) or streams (the most --streams at --fps and
    /// --consumers per stream for which every stream meets the level).
    #[arg(long, default_value = "fps", value_parser = |s: &str| s.parse::<Axis>())]
    pub find: Axis,

    /// Highest p99 age on every consumer, e.g. 16ms [default: one frame period of the rate
    /// being tried].
    #[arg(long, value_parser = parse_positive_duration)]
    pub slo_age: Option<Duration>,

    /// Highest loss over due frames on every consumer: a percentage (0.5%) or a fraction
    /// (0.005); 0 for a no-loss search.
    #[arg(long, default_value = "0.5%", value_parser = parse_fraction)]
    pub max_loss: f64,

    /// Highest peak PSS of the run, e.g. 500MB.
    #[arg(long, value_parser = crate::flags::parse_bytes)]
    pub max_pss: Option<u64>,

    /// Stop bisecting when [last pass, first fail) is narrower than this share of the last
    /// pass: a percentage (5%) or a fraction (0.05).
    #[arg(long, default_value = "5%", value_parser = parse_precision)]
    pub precision: f64,

    /// Time the whole command may take, e.g. 10m; searches it cuts short are reported
    /// unresolved.
    #[arg(long, default_value = "10m", value_parser = parse_positive_duration)]
    pub budget: Duration,

    /// First value tried [default: 30 fps, or 1 consumer, or 1 stream].
    #[arg(long, value_parser = parse_fps)]
    pub start: Option<f64>,

    /// Highest rate tried (--find fps); passing there is reported as "≥ cap".
    #[arg(long, default_value = "240", value_parser = parse_fps)]
    pub max_fps: f64,

    /// Highest consumer count tried (--find consumers).
    #[arg(long, default_value = "256", value_parser = parse_count)]
    pub max_consumers: usize,

    /// Highest stream count tried (--find streams).
    #[arg(long, default_value = "16", value_parser = fbench_harness::config::parse_streams)]
    pub max_streams: usize,

    /// Trials per tried value (judging stops early once the verdict is settled).
    #[arg(long, default_value = "3", value_parser = parse_count)]
    pub trials: usize,

    /// Measured time of each trial.
    #[arg(long, default_value = "2s", value_parser = parse_positive_duration)]
    pub trial_duration: Duration,

    /// Measured time of the confirmation trial at the last pass [default: trials x
    /// trial duration].
    #[arg(long, value_parser = parse_positive_duration)]
    pub confirm_duration: Option<Duration>,

    #[command(flatten)]
    pub run: RunFlags,

    /// A scenario: a built-in name (e.g. seed-capacity) or a TOML file; its `[capacity]`
    /// table sets the search flags. Flags given on the command line replace its values.
    #[arg(long, value_name = "NAME|PATH")]
    pub scenario: Option<String>,

    #[command(flatten)]
    pub output: OutputFlags,

    /// Also write these beside the JSON report (comma-separated): md, csv.
    #[arg(long, value_delimiter = ',', value_parser = parse_export)]
    pub export: Vec<ExportFormat>,

    /// Open the HTML report in the default browser when done.
    #[arg(long)]
    pub open: bool,

    /// Do not run the `ideal` reference beside the confirmation trials. By default each
    /// confirmation at a last pass runs just after an `ideal` trial of the same point and
    /// length, and records its figures over that one (`vs_reference`), paired in time as
    /// `run --repeat` pairs trials; it costs one more run per confirmation.
    #[arg(long)]
    pub no_ideal: bool,

    #[command(flatten)]
    pub schedule: crate::flags::ScheduleFlags,
}

/// `--export`: the formats a capacity report has beside its JSON and HTML.
fn parse_export(text: &str) -> Result<ExportFormat, String> {
    match text {
        "md" => Ok(ExportFormat::Markdown),
        "csv" => Ok(ExportFormat::Csv),
        _ => Err(format!("unknown export '{text}'; accepted: md, csv")),
    }
}

fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d.is_zero() {
        return Err("must be above zero (e.g. 10m, 30s, 500ms)".to_string());
    }
    Ok(d)
}

/// `0.5%` or `0.005`, from 0 to 1.
fn parse_fraction(text: &str) -> Result<f64, String> {
    let (number, scale) = match text.strip_suffix('%') {
        Some(n) => (n, 100.0),
        None => (text, 1.0),
    };
    let value: f64 = number.trim().parse().map_err(|_| {
        format!("'{text}' is not a share; accepted: a percentage (0.5%) or a fraction (0.005)")
    })?;
    let value = value / scale;
    if !(0.0..=1.0).contains(&value) {
        return Err(format!(
            "'{text}' is out of range; accepted: 0% to 100% (or 0 to 1)"
        ));
    }
    Ok(value)
}

/// Like a share, but above 0 and below 1.
fn parse_precision(text: &str) -> Result<f64, String> {
    let value = parse_fraction(text)?;
    if value <= 0.0 || value >= 1.0 {
        return Err(format!(
            "'{text}' is out of range; accepted: above 0% and below 100% (e.g. 5%)"
        ));
    }
    Ok(value)
}

impl CapacityArgs {
    /// The runs the flags stand for, each trial `--trial-duration` long after `--warmup`.
    fn spec(&self) -> anyhow::Result<SweepSpec> {
        if !self.run.duration.is_empty() {
            return Err(UsageError(
                "--duration: a capacity trial lasts --trial-duration (and the confirmation --confirm-duration)".to_string(),
            )
            .into());
        }
        let defaults = Defaults::sweep();
        let source = crate::source::configure(
            &self.run.source_request(&defaults)?,
            crate::trial::planning_device(),
        )?;
        let mut spec = self.run.spec(&defaults, &source);
        spec.duration = vec![self.trial_duration];
        spec.warmup = vec![self.warmup()];
        Ok(spec)
    }

    /// Discarded time before each trial measures (`--warmup`, one value).
    fn warmup(&self) -> Duration {
        self.run
            .warmup
            .first()
            .copied()
            .unwrap_or(RunConfig::default_config().warmup)
    }
}

/// One search of the command: a strategy at a configuration point.
struct Plan {
    point: SweepPoint,
    search: SearchSpec,
    /// What runs beside each confirmation trial (`ideal`), if anything.
    reference: Option<StrategyRef>,
}

/// Why a trial could not be had.
enum TrialError {
    Interrupted,
    Run(anyhow::Error),
}

pub fn command(args: CapacityArgs, explicit: &[String]) -> anyhow::Result<()> {
    fbench_harness::interrupt::install();
    let spec = args.spec()?;
    let mut scenario_name = None;
    let mut scenario_file = None;
    // The scenario's run flags and its [capacity] table are already in `args` (read with
    // the command line's, see `scenarios::with_scenario`); here only its name and file.
    if let Some(name) = args.scenario.clone() {
        let loaded = scenarios::load(&name)?;
        scenario_name = Some(loaded.scenario.name);
        scenario_file = Some(loaded.file);
    }
    let plans = plan(&args, spec, scenario_file.as_deref(), explicit)?;
    let prefix = scenario_name
        .clone()
        .unwrap_or_else(|| "capacity".to_string());
    let json_path = output_path(args.output.json.as_deref(), &args.output.out, &prefix)?;
    crate::schedule::warn_about_stale_segments(args.output.quiet);
    if !args.output.quiet {
        eprintln!(
            "{} searches ({} of {}), budget {}",
            plans.len(),
            args.find.name(),
            plans
                .iter()
                .map(|p| p.point.strategy.name())
                .fold(Vec::<&str>::new(), |mut v, n| {
                    if !v.contains(&n) {
                        v.push(n)
                    }
                    v
                })
                .join(", "),
            fbench_harness::config::format_duration(args.budget)
        );
    }

    let level = ServiceLevel {
        slo_age_ns: args.slo_age.map(|d| d.as_nanos() as u64),
        max_loss: args.max_loss,
        max_pss_bytes: args.max_pss,
    };
    let started = Instant::now();
    // One scheduler for every trial of every search (each in its own process, busy ones
    // re-run), drawing one bar over the budget.
    let mut scheduler = crate::schedule::Scheduler::with_bar(
        args.schedule.clone(),
        crate::schedule::progress_bar(args.budget.as_millis().max(1) as u64, args.output.quiet),
    );
    let bar = scheduler.bar().clone();
    let mut records = Vec::with_capacity(plans.len());
    let mut partial = false;
    for (index, plan) in plans.iter().enumerate() {
        if fbench_harness::interrupt::requested() {
            partial = true;
            break;
        }
        // Each search gets an equal share of what is left, so that an early search cannot
        // starve the later ones; time it does not use goes to those after it.
        let left = args.budget.saturating_sub(started.elapsed());
        let mut search = plan.search;
        search.budget = left / (plans.len() - index) as u32;
        let label = format!(
            "{}/{} {} {}",
            index + 1,
            plans.len(),
            plan.point.strategy.name(),
            match args.find {
                Axis::Fps => format!("x{}", plan.point.config.consumers),
                Axis::Consumers => format!("@{} fps", plan.point.config.fps),
                Axis::Streams => format!(
                    "x{} @{} fps",
                    plan.point.config.consumers, plan.point.config.fps
                ),
            }
        );
        let search_started = Instant::now();
        let mut oracle = oracle_of(plan, &level, &mut scheduler, &label, started);
        let mut clock = || search_started.elapsed();
        let result = match capacity::search(&search, &mut oracle, &mut clock) {
            Ok(result) => result,
            Err(Stopped {
                error: TrialError::Interrupted,
                partial: result,
            }) => {
                partial = true;
                records.push(record(plan, &level, result));
                break;
            }
            Err(Stopped {
                error: TrialError::Run(error),
                ..
            }) => {
                bar.finish_and_clear();
                return Err(error);
            }
        };
        records.push(record(plan, &level, result));
        // Re-estimate the whole command from the searches done so far, for the bar's ETA.
        let done = index + 1;
        let elapsed = started.elapsed();
        let estimate = elapsed + elapsed / done as u32 * (plans.len() - done) as u32;
        bar.set_length(estimate.min(args.budget).as_millis().max(1) as u64);
        bar.set_position(elapsed.as_millis() as u64);
    }
    // Searches that finished early left budget over: spend it on those cut short, each
    // resumed where it stopped with an equal share of what is left.
    let unresolved: Vec<usize> = (0..records.len())
        .filter(|&i| records[i].result.status == Status::OutOfBudget)
        .collect();
    if !partial && !unresolved.is_empty() {
        for (k, &i) in unresolved.iter().enumerate() {
            if fbench_harness::interrupt::requested() {
                partial = true;
                break;
            }
            let left = args.budget.saturating_sub(started.elapsed());
            let plan = &plans[i];
            let mut search = plan.search;
            search.budget = left / (unresolved.len() - k) as u32;
            let label = format!(
                "again {}/{} {}",
                k + 1,
                unresolved.len(),
                plan.point.strategy.name()
            );
            let search_started = Instant::now();
            let mut oracle = oracle_of(plan, &level, &mut scheduler, &label, started);
            let mut clock = || search_started.elapsed();
            let previous = records[i].result.clone();
            match capacity::resume(&search, previous, &mut oracle, &mut clock) {
                Ok(result) => records[i].result = result,
                Err(Stopped {
                    error: TrialError::Interrupted,
                    partial: result,
                }) => {
                    partial = true;
                    records[i].result = result;
                    break;
                }
                Err(Stopped {
                    error: TrialError::Run(error),
                    ..
                }) => {
                    bar.finish_and_clear();
                    return Err(error);
                }
            }
        }
    }
    bar.finish_and_clear();

    let report = CapacityReport {
        schema: CAPACITY_SCHEMA.to_string(),
        machine: MachineInfo::detect(),
        fbench: crate::build_info(),
        scenario: scenario_name,
        partial,
        budget_s: args.budget.as_secs_f64(),
        spent_s: started.elapsed().as_secs_f64(),
        capacity: records,
    };
    std::io::stdout().write_all(&ExportFormat::Table.capacity_exporter().render(&report)?)?;
    // The same writer and exporter trait as run reports: JSON, HTML beside it, the extras.
    let mut formats = vec![ExportFormat::Json, ExportFormat::Html];
    formats.extend(&args.export);
    let written = write_exports(
        &report,
        &json_path,
        &formats,
        ExportFormat::capacity_exporter,
    )?;
    let html_path = written[1].clone();
    if let Some(line) = scheduler.summary().filter(|_| !args.output.quiet) {
        eprintln!("{line}");
    }
    if partial {
        std::io::stdout().flush()?;
        // 130 through the shared interrupt path; the runs have already cleaned up.
        return Err(crate::Interrupted {
            kept: Some("the searches resolved so far were written, marked partial"),
        }
        .into());
    }
    if args.open {
        crate::output::open_in_browser(&html_path);
    }
    Ok(())
}

/// The oracle of one search as the command runs it: each run through the scheduler (its
/// own process, re-run while the machine is busy), under the search's label.
fn oracle_of<'a>(
    plan: &'a Plan,
    level: &'a ServiceLevel,
    scheduler: &'a mut crate::schedule::Scheduler,
    label: &'a str,
    started: Instant,
) -> impl FnMut(TrialRequest) -> Result<TrialSummary, TrialError> + 'a {
    let axis = plan.search.axis;
    oracle(plan, level, move |point: &SweepPoint, trial: u32| {
        let value = match axis {
            Axis::Fps => point.config.fps.to_string(),
            Axis::Consumers => point.config.consumers.to_string(),
            Axis::Streams => point.config.streams.to_string(),
        };
        let beside = if point.strategy == plan.point.strategy {
            String::new()
        } else {
            format!(" ({} beside the confirmation)", point.strategy.name())
        };
        let label = format!("{label}: {value} {}{beside}", axis.name());
        let position = |_: f64| started.elapsed().as_millis() as u64;
        scheduler
            .run(point, trial, &label, &position)
            .map_err(|error| match error {
                crate::trial::TrialError::Interrupted => TrialError::Interrupted,
                crate::trial::TrialError::Failed(error) => TrialError::Run(error),
            })
    })
}

/// The oracle of one search over any executor of runs (the scheduler; a script in tests):
/// each trial is one run of the plan's point at the requested value, judged against the
/// service level; a confirmation runs beside the plan's reference ([`paired_trial`]).
fn oracle<'a, E: 'a>(
    plan: &'a Plan,
    level: &'a ServiceLevel,
    mut executor: impl FnMut(&SweepPoint, u32) -> Result<RunResult, E> + 'a,
) -> impl FnMut(TrialRequest) -> Result<TrialSummary, E> + 'a {
    let mut trial = 0;
    move |request: TrialRequest| {
        let mut point = plan.point.clone();
        match plan.search.axis {
            Axis::Fps => point.config.fps = request.value,
            Axis::Consumers => point.config.consumers = request.value as usize,
            Axis::Streams => point.config.streams = request.value as usize,
        }
        point.config.duration = request.duration;
        point.config.warmup = request.warmup;
        trial += 1;
        let reference = plan.reference.as_ref().filter(|_| request.confirmation);
        let (run, vs_reference) = paired_trial(&point, reference, trial, &mut executor)?;
        let trial = TrialSummary {
            vs_reference,
            ..capacity::judge(&run, level)
        };
        Ok(match plan.search.axis {
            // The utilization law's bound is a frame rate; across K streams it is no stream
            // count (and its per-thread term is diluted K times), so the streams axis shows
            // none, and marks no trial interfered by it.
            Axis::Streams => TrialSummary {
                bound_fps: None,
                ..trial
            }
            .with_interference(),
            Axis::Fps | Axis::Consumers => trial,
        })
    }
}

/// One capacity trial through `executor`: `point` alone, or, given a `reference`, the
/// reference's trial at the same point, value and length first and `point`'s right after
/// it (reference, then strategy: the order `run --repeat` interleaves them in), so the two
/// share the machine's background; `point`'s figures over the reference's are paired as
/// `run --repeat` pairs them ([`VersusReference::of`]). Both runs carry trial number
/// `trial`. The reference's own search gets no reference beside it.
fn paired_trial<E>(
    point: &SweepPoint,
    reference: Option<&StrategyRef>,
    trial: u32,
    executor: &mut dyn FnMut(&SweepPoint, u32) -> Result<RunResult, E>,
) -> Result<(RunResult, Option<VersusReference>), E> {
    let Some(reference) = reference.filter(|r| **r != point.strategy) else {
        return Ok((executor(point, trial)?, None));
    };
    let mut beside = point.clone();
    beside.strategy = reference.clone();
    let reference_run = executor(&beside, trial)?;
    let run = executor(point, trial)?;
    let versus = VersusReference::of(&run, &reference_run);
    Ok((run, versus))
}

/// Every search, validated before anything runs: the points as `sweep` would run them, and
/// the search parameters (start below the cap, the cap itself a valid configuration).
fn plan(
    args: &CapacityArgs,
    mut spec: SweepSpec,
    scenario_file: Option<&str>,
    explicit: &[String],
) -> Result<Vec<Plan>, UsageError> {
    let (start, cap, floor, cap_flag) = match args.find {
        Axis::Fps => (args.start.unwrap_or(30.0), args.max_fps, 1.0, "--max-fps"),
        Axis::Consumers => (
            args.start.unwrap_or(1.0),
            args.max_consumers as f64,
            1.0,
            "--max-consumers",
        ),
        Axis::Streams => (
            args.start.unwrap_or(1.0),
            args.max_streams as f64,
            1.0,
            "--max-streams",
        ),
    };
    if args.find != Axis::Fps && start.fract() != 0.0 {
        return Err(UsageError(format!(
            "--start: {start} is not a whole number of {}",
            args.find.name()
        )));
    }
    if args.find == Axis::Consumers && args.max_consumers > MAX_CONSUMERS {
        return Err(UsageError(format!(
            "--max-consumers: {} is above the {MAX_CONSUMERS} supported",
            args.max_consumers
        )));
    }
    // The searched dimension's list flag would be silently ignored: refuse it instead.
    let (searched, instead) = match args.find {
        Axis::Fps => ("fps", "--start and --max-fps"),
        Axis::Consumers => ("consumers", "--start and --max-consumers"),
        Axis::Streams => ("streams", "--start and --max-streams"),
    };
    if explicit.iter().any(|e| e == searched) {
        return Err(UsageError(format!(
            "--{searched}: not used with --find {searched}, which searches it; use {instead}"
        )));
    }
    if start > cap {
        return Err(UsageError(format!(
            "--start: {start} is above {cap_flag} {cap}; give a start at or below the cap"
        )));
    }
    // The searched dimension starts at `start`; the other keeps its list.
    match args.find {
        Axis::Fps => spec.fps = vec![start],
        Axis::Consumers => spec.consumers = vec![start as usize],
        Axis::Streams => spec.streams = vec![start as usize],
    }
    let points = spec.validate(available_memory()).map_err(|e| {
        let id = e.flag.trim_start_matches('-').replace('-', "_");
        match scenario_file {
            Some(file) if !explicit.contains(&id) => UsageError(format!(
                "{file}: {}: {}",
                fbench_harness::scenario::key_of_flag(e.flag),
                e.message
            )),
            _ => UsageError(e.to_string()),
        }
    })?;
    let confirm = args
        .confirm_duration
        .unwrap_or(args.trial_duration * args.trials as u32);
    let reference = crate::schedule::reference().filter(|_| !args.no_ideal);
    let mut plans = Vec::with_capacity(points.len());
    for point in points {
        // The cap must be a configuration fbench can run (memory for that many consumers).
        let mut at_cap: RunConfig = point.config.clone();
        match args.find {
            Axis::Fps => at_cap.fps = cap,
            Axis::Consumers => at_cap.consumers = cap as usize,
            Axis::Streams => at_cap.streams = cap as usize,
        }
        at_cap
            .validate(&[*point.strategy.descriptor()], available_memory())
            .map_err(|e| UsageError(format!("{cap_flag}: {cap}: {}", e.message)))?;
        // The reference's own search has nothing to run beside it.
        let reference = reference.clone().filter(|r| *r != point.strategy);
        plans.push(Plan {
            search: SearchSpec {
                axis: args.find,
                start,
                cap,
                floor,
                precision: args.precision,
                trials: args.trials,
                trial_duration: args.trial_duration,
                warmup: args.warmup(),
                confirm_duration: confirm,
                confirm_beside_reference: reference.is_some(),
                budget: args.budget,
            },
            point,
            reference,
        });
    }
    Ok(plans)
}

fn record(
    plan: &Plan,
    level: &ServiceLevel,
    result: fbench_harness::capacity::SearchResult,
) -> CapacityRecord {
    let s = &plan.search;
    CapacityRecord {
        strategy: plan.point.strategy.name().to_string(),
        // The fixed dimensions: consumers per stream when the rate or the streams are
        // searched, the rate when consumers or streams are.
        consumers: (s.axis != Axis::Consumers).then_some(plan.point.config.consumers),
        fps: (s.axis != Axis::Fps).then_some(plan.point.config.fps),
        config: plan.point.config.record(),
        service_level: *level,
        search: SearchParams {
            start: s.start,
            cap: s.cap,
            floor: s.floor,
            precision: s.precision,
            trials: s.trials,
            trial_duration_s: s.trial_duration.as_secs_f64(),
            warmup_s: s.warmup.as_secs_f64(),
            confirm_duration_s: s.confirm_duration.as_secs_f64(),
        },
        result,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_parse_as_percentages_or_fractions() {
        assert_eq!(parse_fraction("0.5%").unwrap(), 0.005);
        assert_eq!(parse_fraction("0.005").unwrap(), 0.005);
        assert_eq!(parse_fraction("0").unwrap(), 0.0);
        assert!(parse_fraction("2").is_err());
        assert!(parse_fraction("lots").is_err());
        assert_eq!(parse_precision("5%").unwrap(), 0.05);
        assert!(parse_precision("0%").is_err());
        assert!(parse_positive_duration("0s").is_err());
        assert_eq!(
            parse_positive_duration("10m").unwrap(),
            Duration::from_secs(600)
        );
    }
    /// A scripted run of `point`: every due frame seen, the age p99 `periods` frame periods.
    fn scripted_run(point: &SweepPoint, periods: f64) -> RunResult {
        use fbench_harness::metrics::Latency;
        use fbench_harness::result::{ConsumerRecord, FrameCounts};
        let c = &point.config;
        let due = (c.fps * c.duration.as_secs_f64()).round() as u64;
        let mut age = Latency::new();
        age.record_n((periods * 1e9 / c.fps) as u64, due.max(1));
        let mut acquire = Latency::new();
        acquire.record_n(1_000, due.max(1));
        let (age, acquire) = (age.summary(), acquire.summary());
        // Through JSON, so that fields a record gains later take their defaults here too.
        let consumer: ConsumerRecord = serde_json::from_value(serde_json::json!({
            "id": 0, "workload": "inspect", "frames_seen": due,
            "age_ns": age, "acquire_ns": acquire, "e2e_ns": age,
            "drop_rate": 0.0, "deadline_misses": 0, "torn_frames": 0, "out_of_order": 0,
            "status": "ok",
        }))
        .unwrap();
        RunResult {
            frames: FrameCounts {
                due,
                produced: due,
                published: due,
                ..FrameCounts::default()
            },
            age_ns: age,
            acquire_ns: acquire,
            per_consumer: vec![consumer],
            ..RunResult::empty(point.strategy.name(), c.consumers, c.record())
        }
    }

    fn mutex_plan(reference: bool) -> Plan {
        fbench_harness::registry::install(fbench_harness::Registry::builtin());
        let registry = fbench_harness::registry::current();
        let mutex = registry.get("mutex").unwrap().clone();
        let mut config = RunConfig::default_config();
        config.consumers = 1;
        let point = SweepSpec::single(vec![mutex], &config)
            .validate(u64::MAX)
            .unwrap()
            .remove(0);
        Plan {
            point,
            search: SearchSpec {
                axis: Axis::Fps,
                start: 30.0,
                cap: 240.0,
                floor: 1.0,
                precision: 0.05,
                trials: 1,
                trial_duration: Duration::from_secs(2),
                warmup: Duration::from_secs(1),
                confirm_duration: Duration::from_secs(6),
                confirm_beside_reference: reference,
                budget: Duration::from_secs(3600),
            },
            reference: reference.then(|| registry.get("ideal").unwrap().clone()),
        }
    }

    /// The search through the real oracle over a scripted executor: `mutex` meets the
    /// level up to 100 fps (age p99 half a period, `ideal` a quarter). Only the
    /// confirmation runs beside `ideal`, right after it, at the same value and length and
    /// with the same trial number; only it carries the paired ratio (2, from one pair).
    #[test]
    fn the_confirmation_runs_right_after_the_reference_and_is_paired_with_it() {
        let plan = mutex_plan(true);
        let level = ServiceLevel::default();
        let ran = std::cell::RefCell::new(Vec::new());
        let executor = |point: &SweepPoint, trial: u32| -> Result<RunResult, ()> {
            let c = &point.config;
            ran.borrow_mut()
                .push((point.strategy.name().to_string(), c.fps, c.duration, trial));
            let periods = match point.strategy.name() {
                "ideal" => 0.25,
                _ if c.fps <= 100.0 => 0.5,
                _ => 2.0,
            };
            Ok(scripted_run(point, periods))
        };
        let mut oracle = oracle(&plan, &level, executor);
        let result = capacity::search(&plan.search, &mut oracle, &mut || Duration::ZERO).unwrap();
        drop(oracle);
        assert_eq!(result.status, Status::Resolved, "{result:?}");
        let last_pass = result.last_pass.unwrap();
        assert!(last_pass <= 100.0 && result.first_fail.unwrap() > 100.0);

        let ran = ran.into_inner();
        let references: Vec<usize> = (0..ran.len()).filter(|&i| ran[i].0 == "ideal").collect();
        assert_eq!(references.len(), 1, "{ran:?}");
        let (reference, confirmation) = (&ran[references[0]], &ran[references[0] + 1]);
        assert_eq!(confirmation.0, "mutex");
        assert_eq!(confirmation.2, Duration::from_secs(6), "the confirmation");
        assert_eq!(reference.1, confirmation.1, "same value");
        assert_eq!(reference.2, confirmation.2, "same length");
        assert_eq!(reference.3, confirmation.3, "same trial number");
        assert_eq!(confirmation.1, last_pass);

        let paired: Vec<&TrialSummary> = result
            .trials
            .iter()
            .filter(|t| t.vs_reference.is_some())
            .collect();
        assert_eq!(paired.len(), 1);
        assert!(paired[0].confirmation);
        let versus = paired[0].vs_reference.as_ref().unwrap();
        assert_eq!(versus.reference, "ideal");
        assert_eq!(versus.pairs, 1);
        let ratio = versus.age_p99_vs_ideal.unwrap();
        assert!((ratio - 2.0).abs() < 0.01, "{ratio}");
        assert_eq!(versus.age_p99_vs_ideal_ci95, None, "one pair: no interval");
        assert_eq!(versus.acquire_p50_vs_ideal, Some(1.0));
    }

    #[test]
    fn without_a_reference_every_trial_is_one_run() {
        let plan = mutex_plan(false);
        let level = ServiceLevel::default();
        let ran = std::cell::RefCell::new(Vec::new());
        let executor = |point: &SweepPoint, _: u32| -> Result<RunResult, ()> {
            ran.borrow_mut().push(point.strategy.name().to_string());
            Ok(scripted_run(point, 0.5))
        };
        let mut oracle = oracle(&plan, &level, executor);
        let result = capacity::search(&plan.search, &mut oracle, &mut || Duration::ZERO).unwrap();
        drop(oracle);
        assert_eq!(ran.into_inner().len(), result.trials.len());
        assert!(result.trials.iter().all(|t| t.vs_reference.is_none()));
    }

    #[test]
    fn the_reference_gets_no_reference_beside_it() {
        let plan = mutex_plan(true);
        let ideal = plan.reference.clone().unwrap();
        let mut point = plan.point.clone();
        point.strategy = ideal.clone();
        let mut runs = 0;
        let (run, versus) = paired_trial(&point, Some(&ideal), 3, &mut |p: &SweepPoint, trial| {
            runs += 1;
            Ok::<_, ()>(RunResult {
                trial,
                ..scripted_run(p, 0.25)
            })
        })
        .unwrap();
        assert_eq!((runs, run.trial, versus), (1, 3, None));
    }
}
