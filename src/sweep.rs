//! `fbench sweep`, `fbench run --scenario`, and what every run ends with: one progress bar
//! for all the runs, the table, and the JSON, HTML (and optional Markdown, CSV, .hgrm)
//! reports written side by side.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use fbench_harness::config::ConfigError;
use fbench_harness::machine::{available_memory, MachineInfo};
use fbench_harness::sweep::SweepSpec;
use fbench_reports::{Exporter, Report, Trials};

use crate::flags::{Defaults, OutputFlags, RunFlags};
use crate::output::{parse_extra, Extra};
use crate::{output_path, scenarios, UsageError};

/// Flags `run` and `sweep` share beyond the run parameters.
#[derive(Debug, Args)]
pub struct RunExtras {
    /// Run a scenario: a built-in name (see `fbench list scenarios`) or a TOML file. Its
    /// keys are read as flags placed before the command line's; a flag given on the command
    /// line replaces the scenario's value of it.
    #[arg(long, value_name = "NAME|PATH")]
    pub scenario: Option<String>,

    /// Under the row of a run of several streams (--streams), one row per stream.
    #[arg(long)]
    pub per_stream: bool,

    /// Open the HTML report in the default browser when done.
    #[arg(long)]
    pub open: bool,

    /// Also write these beside the JSON report (comma-separated): md, csv, hgrm, hlog
    /// (HdrHistogram interval logs of age, acquire and publish, one per run).
    #[arg(long, value_delimiter = ',', value_parser = parse_extra)]
    pub export: Vec<Extra>,

    /// Do not run the `ideal` reference. By default, whenever two or more strategies run,
    /// `ideal` — a minimal latest-value strategy (one atomic swap, readers read in place) —
    /// runs beside them at every configuration point, its trials interleaved with theirs,
    /// and every run is compared with it. It is a reference taken on the same machine at
    /// the same time, not a floor: noise can put another strategy below it.
    #[arg(long)]
    pub no_ideal: bool,

    /// Show every trial of a repeated configuration (`--repeat N`) as its own row and line,
    /// numbered (`pool trial 2`), in the table, the HTML and the Markdown. By default one
    /// row per strategy and point: the median trial by age p99, the trials' spread beside
    /// it. JSON and CSV always keep every trial.
    #[arg(long)]
    pub each_trial: bool,

    #[command(flatten)]
    pub schedule: crate::flags::ScheduleFlags,

    #[command(flatten)]
    pub gate: crate::gate::GateFlags,
}

impl RunExtras {
    /// How the reports show repeated trials.
    pub fn trials(&self) -> Trials {
        if self.each_trial {
            Trials::Each
        } else {
            Trials::Median
        }
    }
}

/// `fbench sweep`: the run flags (each a comma-separated list), every combination run.
#[derive(Debug, Args)]
pub struct SweepArgs {
    #[command(flatten)]
    pub run: RunFlags,

    #[command(flatten)]
    pub output: OutputFlags,

    #[command(flatten)]
    pub extras: RunExtras,
}

/// Everything one invocation runs and where its reports go.
pub struct Plan<'a> {
    pub spec: SweepSpec,
    /// Argument ids given on the command line (they override a scenario).
    pub explicit: &'a [String],
    pub json: Option<PathBuf>,
    pub out: PathBuf,
    /// Default report name prefix: `run` or `sweep` (a scenario uses its own name).
    pub prefix: &'a str,
    pub quiet: bool,
    pub extras: &'a RunExtras,
}

pub fn sweep(args: SweepArgs, explicit: &[String]) -> anyhow::Result<()> {
    run_flags(
        &args.run,
        &Defaults::sweep(),
        &args.output,
        "sweep",
        &args.extras,
        explicit,
    )
}

/// `run` and `sweep`: configure the source, expand the flags into runs, execute them.
pub fn run_flags(
    run: &RunFlags,
    defaults: &Defaults,
    output: &OutputFlags,
    prefix: &str,
    extras: &RunExtras,
    explicit: &[String],
) -> anyhow::Result<()> {
    let source = crate::source::configure(
        &run.source_request(defaults)?,
        crate::trial::planning_device(),
    )?;
    if let Some(summary) = &source.summary {
        println!("{summary}");
    }
    execute(Plan {
        spec: run.spec(defaults, &source),
        explicit,
        json: output.json.clone(),
        out: output.out.clone(),
        prefix,
        quiet: output.quiet,
        extras,
    })
    .map(|_| ())
}

/// Put the reference strategy (`ideal`) first when two or more strategies run and this
/// binary has one: every configuration point then has its reference measured beside it,
/// its trials interleaved with the others' (see `crate::schedule`).
fn with_reference_first(strategies: &mut Vec<fbench_harness::StrategyRef>) {
    if let Some(reference) = crate::schedule::reference() {
        if strategies.len() >= 2 && !strategies.contains(&reference) {
            strategies.insert(0, reference);
        }
    }
}

/// Validate, run every point through the scheduler (each run in its own process, under one
/// progress bar), write the reports; the report is returned for commands that analyse it
/// further (soak).
pub fn execute(plan: Plan) -> anyhow::Result<Report> {
    // From here on Ctrl-C stops the run cleanly (segments removed, children reaped).
    fbench_harness::interrupt::install();
    let mut spec = plan.spec;
    let mut scenario_name = None;
    let mut scenario_file = None;
    // The scenario's run flags and its [gates] are already in `spec` and the gate flags
    // (read with the command line's, see `scenarios::with_scenario`); here only its name and
    // file.
    if let Some(name) = &plan.extras.scenario {
        let loaded = scenarios::load(name)?;
        scenario_name = Some(loaded.scenario.name);
        scenario_file = Some(loaded.file);
    }
    if !plan.extras.no_ideal {
        with_reference_first(&mut spec.strategies);
    }
    let points = spec
        .validate(available_memory())
        .map_err(|e| usage_of(e, scenario_file.as_deref(), plan.explicit))?;
    let prefix = scenario_name.as_deref().unwrap_or(plan.prefix);
    let json_path = output_path(plan.json.as_deref(), &plan.out, prefix)?;
    let gating = crate::gate::prepare(&plan.extras.gate, None, &plan.out)?;

    if !plan.quiet
        && points
            .iter()
            .any(|p| p.strategy.origin() == fbench_strategies::Origin::Canary)
    {
        eprintln!("note: 'unsync' is the torn-frame canary: it is broken on purpose");
    }
    let repeat = gating.repeat as u32;
    if !plan.quiet && points.len() * gating.repeat > 1 {
        eprintln!(
            "{} runs, each in its own process, about {} of measuring and warm-up",
            points.len() * gating.repeat,
            crate::schedule::planned_text(&points, repeat)
        );
    }
    // Before the first run, on a machine no run is loading; shared by every run. The copy
    // floor is measured at the first point's frame size, in a child process as the runs
    // are (its buffers never sit in this process).
    let calibration = crate::trial::calibrate(&points[0])?;
    crate::schedule::warn_about_stale_segments(plan.quiet);
    let mut scheduler = crate::schedule::Scheduler::new(
        plan.extras.schedule.clone(),
        crate::schedule::planned_ms(&points, repeat),
        plan.quiet,
    );
    let runs = scheduler.run_all(&points, repeat)?;
    if let Some(line) = scheduler.summary().filter(|_| !plan.quiet) {
        eprintln!("{line}");
    }

    let mut report = Report::new(MachineInfo::detect(), crate::build_info(), runs)
        .calibrated(calibration)
        .compared_with_ideal();
    report.scenario = scenario_name;
    let table = fbench_reports::TerminalTable {
        per_stream: plan.extras.per_stream,
        trials: plan.extras.trials(),
        ..fbench_reports::TerminalTable::default()
    }
    .render(&report)?;
    std::io::stdout().write_all(&table)?;
    for line in fbench_reports::fault_lines(&report.runs) {
        println!("fault: {line}");
    }
    let html_path = crate::output::write_reports(
        &report,
        &json_path,
        &plan.extras.export,
        plan.extras.trials(),
    )?;
    if plan.extras.open {
        crate::output::open_in_browser(&html_path);
    }
    lost_consumers(&report)?;
    gating.finish(&report)?;
    Ok(report)
}

/// After the reports are written: a line on stderr for each run that lost consumers, and
/// exit 1 when a run lost all of them (it has no latency figures to stand on).
fn lost_consumers(report: &Report) -> anyhow::Result<()> {
    for run in report.runs.iter().filter(|r| r.consumers_lost > 0) {
        eprintln!("warning: {}", fbench_reports::lost_consumers_line(run));
    }
    match report.runs.iter().find(|r| {
        // Every consumer of every stream.
        let consumers = (r.consumers * r.config.streams.max(1)) as u64;
        consumers > 0 && r.consumers_lost >= consumers
    }) {
        Some(run) => anyhow::bail!(
            "the {} run lost every consumer: it measured nothing (reports written, figures null)",
            run.strategy
        ),
        None => Ok(()),
    }
}

/// A validation error as the user should see it: naming the flag if they typed it, else the
/// scenario file and key.
fn usage_of(error: ConfigError, scenario_file: Option<&str>, explicit: &[String]) -> UsageError {
    let id = error.flag.trim_start_matches('-').replace('-', "_");
    match scenario_file {
        Some(file) if !explicit.contains(&id) => UsageError(format!(
            "{file}: {}: {}",
            fbench_harness::scenario::key_of_flag(error.flag),
            error.message
        )),
        _ => UsageError(error.to_string()),
    }
}
