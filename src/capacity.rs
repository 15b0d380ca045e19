//! `fbench capacity`: for every strategy and configuration point, search the highest frame
//! rate (or consumer count) at which the service level holds on every consumer, under one
//! budget for the whole command. The search itself is [`fbench_harness::capacity::search`];
//! this module parses and validates the flags, runs each trial through
//! the shared scheduler (`crate::schedule`: each trial in its own process), shares the budget between the searches, shows one progress bar,
//! and writes the reports.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;

use fbench_harness::capacity::{
    self, Axis, SearchSpec, ServiceLevel, Status, Stopped, TrialRequest, TrialSummary,
};
use fbench_harness::config::{parse_duration, MAX_CONSUMERS};
use fbench_harness::machine::{available_memory, MachineInfo};
use fbench_harness::sweep::{SweepPoint, SweepSpec};
use fbench_harness::RunConfig;
use fbench_reports::capacity::{
    csv, html, markdown, terminal_table, CapacityRecord, CapacityReport, SearchParams,
    CAPACITY_SCHEMA,
};

use crate::flags::{parse_count, parse_fps, Defaults, OutputFlags, RunFlags};
use crate::sweep::beside;
use crate::{output_path, scenarios, write_atomically, UsageError};

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
    pub export: Vec<Export>,

    /// Open the HTML report in the default browser when done.
    #[arg(long)]
    pub open: bool,

    #[command(flatten)]
    pub schedule: crate::flags::ScheduleFlags,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Export {
    Md,
    Csv,
}

fn parse_export(text: &str) -> Result<Export, String> {
    match text {
        "md" => Ok(Export::Md),
        "csv" => Ok(Export::Csv),
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
        let source = crate::source::configure(&self.run.source_request(&defaults)?)?;
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
    crate::warn_about_stale_segments(args.output.quiet);
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
        let mut oracle = oracle_of(plan, &args, &level, &mut scheduler, &label, started);
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
            let mut oracle = oracle_of(plan, &args, &level, &mut scheduler, &label, started);
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
    std::io::stdout().write_all(terminal_table(&report, None).as_bytes())?;
    let html_path = write(&report, &json_path, &args.export)?;
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
        crate::sweep::open_in_browser(&html_path);
    }
    Ok(())
}

/// The oracle of one search: each trial is one run of the point's configuration at the
/// requested value, through the scheduler (its own process, re-run while the machine is
/// busy), judged against the service level.
fn oracle_of<'a>(
    plan: &'a Plan,
    args: &'a CapacityArgs,
    level: &'a ServiceLevel,
    scheduler: &'a mut crate::schedule::Scheduler,
    label: &'a str,
    started: Instant,
) -> impl FnMut(TrialRequest) -> Result<TrialSummary, TrialError> + 'a {
    let mut trial = 0;
    move |request: TrialRequest| {
        let mut point = plan.point.clone();
        match args.find {
            Axis::Fps => point.config.fps = request.value,
            Axis::Consumers => point.config.consumers = request.value as usize,
            Axis::Streams => point.config.streams = request.value as usize,
        }
        point.config.duration = request.duration;
        point.config.warmup = request.warmup;
        trial += 1;
        let label = format!("{label}: {} {}", request.value, args.find.name());
        let position = |_| started.elapsed().as_millis() as u64;
        match scheduler.run(&point, trial, &label, &position) {
            Ok(run) => {
                let trial = capacity::judge(&run, level);
                Ok(match args.find {
                    // The utilization law's bound is a frame rate; across K streams it is
                    // no stream count (and its per-thread term is diluted K times), so the
                    // streams axis shows none, and marks no trial interfered by it.
                    Axis::Streams => TrialSummary {
                        bound_fps: None,
                        ..trial
                    }
                    .with_interference(),
                    Axis::Fps | Axis::Consumers => trial,
                })
            }
            Err(crate::trial::TrialError::Interrupted) => Err(TrialError::Interrupted),
            Err(crate::trial::TrialError::Failed(error)) => Err(TrialError::Run(error)),
        }
    }
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
                budget: args.budget,
            },
            point,
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

/// The JSON at `json_path`, the HTML beside it, then Markdown and CSV if asked; prints each
/// path. Returns the HTML path.
fn write(
    report: &CapacityReport,
    json_path: &std::path::Path,
    exports: &[Export],
) -> anyhow::Result<PathBuf> {
    write_atomically(json_path, &report.to_json()?)
        .with_context(|| format!("writing the JSON report {}", json_path.display()))?;
    println!("JSON report: {}", json_path.display());
    let html_path = beside(json_path, "html");
    write_atomically(&html_path, html(report)?.as_bytes())
        .with_context(|| format!("writing the HTML report {}", html_path.display()))?;
    println!("HTML report: {}", html_path.display());
    let mut done = Vec::new();
    for &export in exports {
        if done.contains(&export) {
            continue;
        }
        done.push(export);
        let (extension, text, name) = match export {
            Export::Md => ("md", markdown(report), "Markdown"),
            Export::Csv => ("csv", csv(report), "CSV"),
        };
        let path = beside(json_path, extension);
        write_atomically(&path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        println!("{name} report: {}", path.display());
    }
    Ok(html_path)
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
}
