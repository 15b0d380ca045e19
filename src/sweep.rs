//! `fbench sweep`, `fbench run --scenario`, and what every run ends with: one progress bar
//! for all the runs, the table, and the JSON, HTML (and optional Markdown, CSV, .hgrm)
//! reports written side by side.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use fbench_harness::config::ConfigError;
use fbench_harness::machine::{available_memory, MachineInfo};
use fbench_harness::sweep::{SweepPoint, SweepSpec};
use fbench_reports::{hgrm, ExportFormat, Report};

use crate::flags::{Defaults, OutputFlags, RunFlags};
use crate::{output_path, scenarios, write_atomically, UsageError};

/// Flags `run` and `sweep` share beyond the run parameters.
#[derive(Debug, Args)]
pub struct RunExtras {
    /// Run a scenario: a built-in name (see `fbench list scenarios`) or a TOML file. Flags
    /// given on the command line replace the scenario's values.
    #[arg(long, value_name = "NAME|PATH")]
    pub scenario: Option<String>,

    /// Open the HTML report in the default browser when done.
    #[arg(long)]
    pub open: bool,

    /// Also write these beside the JSON report (comma-separated): md, csv, hgrm, hlog
    /// (HdrHistogram interval logs of age, acquire and publish, one per run).
    #[arg(long, value_delimiter = ',', value_parser = parse_extra)]
    pub export: Vec<Extra>,

    /// Do not run the `ideal` reference first. By default, whenever two or more strategies
    /// run, `ideal` (the empirical floor of this machine, consumer count, workload and wait
    /// mode) runs first at every configuration point and every run is compared with it.
    #[arg(long)]
    pub no_ideal: bool,

    #[command(flatten)]
    pub gate: crate::gate::GateFlags,
}

/// Extra exports beside the JSON and HTML reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extra {
    /// Markdown summary (e.g. for a CI job summary).
    Md,
    /// One CSV row per run.
    Csv,
    /// HdrHistogram percentile distribution of the age, one file per run.
    Hgrm,
    /// HdrHistogram interval log (age, acquire, publish per interval), one file per run.
    Hlog,
}

fn parse_extra(text: &str) -> Result<Extra, String> {
    match text {
        "md" => Ok(Extra::Md),
        "csv" => Ok(Extra::Csv),
        "hgrm" => Ok(Extra::Hgrm),
        "hlog" => Ok(Extra::Hlog),
        _ => Err(format!(
            "unknown export '{text}'; accepted: md, csv, hgrm, hlog"
        )),
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
    crate::run_flags(
        &args.run,
        &Defaults::sweep(),
        &args.output,
        "sweep",
        &args.extras,
        explicit,
    )
}

/// Replace the scenario's values by those given explicitly on the command line.
pub(crate) fn override_explicit(spec: &mut SweepSpec, given: SweepSpec, explicit: &[String]) {
    for id in explicit {
        match id.as_str() {
            "strategy" => spec.strategies = given.strategies.clone(),
            "consumers" => spec.consumers = given.consumers.clone(),
            "resolution" => spec.resolution = given.resolution.clone(),
            "format" => spec.format = given.format.clone(),
            "fps" => spec.fps = given.fps.clone(),
            "duration" => spec.duration = given.duration.clone(),
            "warmup" => spec.warmup = given.warmup.clone(),
            "workload" => spec.workload = given.workload.clone(),
            "slow" => spec.slow = given.slow.clone(),
            "wait" => spec.wait = given.wait.clone(),
            "verify" => spec.verify = given.verify.clone(),
            "deadline_tolerance" => spec.deadline_tolerance = given.deadline_tolerance.clone(),
            "pool_size" => spec.pool_size = given.pool_size.clone(),
            "pool_policy" => spec.pool_policy = given.pool_policy.clone(),
            "slots" => spec.slots = given.slots.clone(),
            "slot_policy" => spec.slot_policy = given.slot_policy.clone(),
            "queue_depth" => spec.queue_depth = given.queue_depth.clone(),
            "drop_policy" => spec.drop_policy = given.drop_policy.clone(),
            "interval" => spec.interval = given.interval,
            "waker" => spec.waker = given.waker.clone(),
            "consumer_cmd" => spec.consumer_cmd = given.consumer_cmd.clone(),
            _ => {}
        }
    }
}

/// Put the reference strategy (`ideal`) first when two or more strategies run and this
/// binary has one: every configuration point then has its floor measured beside it.
fn with_reference_first(strategies: &mut Vec<fbench_harness::StrategyRef>) {
    let reference = fbench_harness::registry::current()
        .entries()
        .iter()
        .find(|s| s.origin() == fbench_strategies::Origin::Reference);
    if let Some(reference) = reference {
        if strategies.len() >= 2 && !strategies.contains(reference) {
            strategies.insert(0, reference.clone());
        }
    }
}

/// Validate, run every point under one progress bar, write the reports.
pub fn execute(plan: Plan) -> anyhow::Result<()> {
    // From here on Ctrl-C stops the run cleanly (segments removed, children reaped).
    fbench_harness::interrupt::install();
    let mut spec = plan.spec;
    let mut scenario_name = None;
    let mut scenario_file = None;
    let mut scenario_gates = None;
    if let Some(name) = &plan.extras.scenario {
        let loaded = scenarios::load(name)?;
        scenario_gates = Some(crate::gate::from_scenario(&loaded.scenario, &loaded.file)?);
        let given = std::mem::replace(&mut spec, loaded.scenario.sweep);
        override_explicit(&mut spec, given, plan.explicit);
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
    let gating = crate::gate::prepare(&plan.extras.gate, scenario_gates, &plan.out)?;

    if !plan.quiet
        && points
            .iter()
            .any(|p| p.strategy.origin() == fbench_strategies::Origin::Canary)
    {
        eprintln!("note: 'unsync' is the torn-frame canary: it is broken on purpose");
    }
    if !plan.quiet && points.len() * gating.repeat > 1 {
        let total: Duration =
            points.iter().map(SweepPoint::planned).sum::<Duration>() * gating.repeat as u32;
        eprintln!(
            "{} runs, about {} of measuring and warm-up",
            points.len() * gating.repeat,
            fbench_harness::config::format_duration(Duration::from_secs(total.as_secs().max(1)))
        );
    }
    // Before the first run, on a machine no run is loading; shared by every run. The copy
    // floor is measured at the first point's frame size.
    let calibration = crate::calibrate::for_run(&points[0].config);
    crate::warn_about_stale_segments(plan.quiet);
    let runs = run_points(&points, gating.repeat, plan.quiet)?;

    let mut report = Report::new(MachineInfo::detect(), crate::build_info(), runs)
        .calibrated(calibration)
        .compared_with_ideal();
    report.scenario = scenario_name;
    let table = ExportFormat::Table.exporter().render(&report)?;
    std::io::stdout().write_all(&table)?;
    for line in fbench_reports::fault_lines(&report.runs) {
        println!("fault: {line}");
    }
    let html_path = write_reports(&report, &json_path, &plan.extras.export)?;
    if plan.extras.open {
        open_in_browser(&html_path);
    }
    lost_consumers(&report)?;
    gating.finish(&report)
}

/// After the reports are written: a line on stderr for each run that lost consumers, and
/// exit 1 when a run lost all of them (it has no latency figures to stand on).
fn lost_consumers(report: &Report) -> anyhow::Result<()> {
    for run in report.runs.iter().filter(|r| r.consumers_lost > 0) {
        eprintln!("warning: {}", fbench_reports::lost_consumers_line(run));
    }
    match report
        .runs
        .iter()
        .find(|r| r.consumers > 0 && r.consumers_lost >= r.consumers as u64)
    {
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

/// Every point `repeat` times. Trials are interleaved (every point once, then again), so
/// that a burst of load on a shared machine lands on one trial of many configurations
/// rather than on every trial of one; the report lists each point's trials together.
fn run_points(
    points: &[SweepPoint],
    repeat: usize,
    quiet: bool,
) -> anyhow::Result<Vec<fbench_harness::RunResult>> {
    let planned_ms: Vec<u64> = points
        .iter()
        .map(|p| p.planned().as_millis().max(1) as u64)
        .collect();
    let bar = progress_bar(planned_ms.iter().sum::<u64>() * repeat as u64, quiet);
    let mut done_ms = 0;
    let mut trials: Vec<Vec<fbench_harness::RunResult>> =
        points.iter().map(|_| Vec::with_capacity(repeat)).collect();
    for trial in 1..=repeat {
        for (index, point) in points.iter().enumerate() {
            let of_trials = if repeat > 1 {
                format!(" trial {trial}/{repeat}")
            } else {
                String::new()
            };
            bar.set_message(format!(
                "{}/{} {} x{} {}{of_trials}",
                index + 1,
                points.len(),
                point.strategy.name(),
                point.config.consumers,
                point.config.frame.resolution
            ));
            let span = planned_ms[index] as f64;
            let result = point.strategy.run(&point.config, &mut |fraction| {
                bar.set_position(done_ms + (fraction * span) as u64)
            });
            match result {
                Ok(run) => trials[index].push(fbench_harness::RunResult {
                    trial: trial as u32,
                    ..run
                }),
                Err(fbench_harness::RunError::Interrupted) => {
                    bar.finish_and_clear();
                    return Err(crate::Interrupted.into());
                }
                Err(fbench_harness::RunError::ExternalConsumer(message)) => {
                    bar.finish_and_clear();
                    return Err(UsageError(message).into());
                }
                Err(error) => {
                    bar.finish_and_clear();
                    return Err(anyhow::Error::new(error)
                        .context(format!("the {} run", point.strategy.name())));
                }
            }
            if let Some(failure) = crate::source::take_failure(&point.config.source) {
                bar.suspend(|| eprintln!("warning: {} run: {failure}", point.strategy.name()));
            }
            done_ms += planned_ms[index];
            bar.set_position(done_ms);
        }
    }
    bar.finish_and_clear();
    Ok(trials.into_iter().flatten().collect())
}

/// One bar for the whole invocation, in milliseconds of planned run time, so its ETA holds
/// across runs of different lengths.
fn progress_bar(total_ms: u64, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total_ms), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {msg} (ETA {eta})")
            .expect("valid template"),
    );
    bar
}

/// The JSON report at `json_path`, the HTML beside it, then the extras; prints each path.
/// Returns the HTML path.
pub fn write_reports(
    report: &Report,
    json_path: &Path,
    extras: &[Extra],
) -> anyhow::Result<PathBuf> {
    let json = ExportFormat::Json.exporter().render(report)?;
    write_atomically(json_path, &json)
        .with_context(|| format!("writing the JSON report {}", json_path.display()))?;
    println!("JSON report: {}", json_path.display());

    let html_path = beside(json_path, "html");
    let html = ExportFormat::Html.exporter().render(report)?;
    write_atomically(&html_path, &html)
        .with_context(|| format!("writing the HTML report {}", html_path.display()))?;
    println!("HTML report: {}", html_path.display());

    for extra in distinct(extras) {
        match extra {
            Extra::Md | Extra::Csv => {
                let format = if extra == Extra::Md {
                    ExportFormat::Markdown
                } else {
                    ExportFormat::Csv
                };
                let path = beside(json_path, format.extension());
                write_atomically(&path, &format.exporter().render(report)?)
                    .with_context(|| format!("writing {}", path.display()))?;
                println!(
                    "{} report: {}",
                    if extra == Extra::Md {
                        "Markdown"
                    } else {
                        "CSV"
                    },
                    path.display()
                );
            }
            Extra::Hgrm => {
                for path in write_hgrm(report, json_path)? {
                    println!("hgrm: {}", path.display());
                }
            }
            Extra::Hlog => {
                for path in write_hlog(report, json_path)? {
                    println!("hlog: {}", path.display());
                }
            }
        }
    }
    Ok(html_path)
}

/// `<stem>-<strategy>-c<consumers>.hgrm` beside `base`, one per run.
pub fn write_hgrm(report: &Report, base: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let stem = base
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report".to_string());
    let mut written = Vec::new();
    for file in hgrm::age_distributions(report)? {
        let path = base.with_file_name(format!("{stem}-{}.hgrm", file.name));
        write_atomically(&path, file.text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// `<stem>-<strategy>-c<consumers>.hlog` beside `base`, one per run measured just now.
pub fn write_hlog(report: &Report, base: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let stem = base
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report".to_string());
    let mut written = Vec::new();
    for file in fbench_reports::hlog::interval_logs(report)? {
        let path = base.with_file_name(format!("{stem}-{}.hlog", file.name));
        write_atomically(&path, file.text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

fn distinct(extras: &[Extra]) -> Vec<Extra> {
    let mut seen = Vec::new();
    for &e in extras {
        if !seen.contains(&e) {
            seen.push(e);
        }
    }
    seen
}

/// `report.json` -> `report.<extension>`; never the input itself.
pub fn beside(path: &Path, extension: &str) -> PathBuf {
    let other = path.with_extension(extension);
    if other == path {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".{extension}"));
        PathBuf::from(name)
    } else {
        other
    }
}

/// Best effort: a missing browser is a note, not a failure (the report is written).
pub fn open_in_browser(path: &Path) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let result = std::process::Command::new(opener)
        .arg(path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Err(e) = result {
        eprintln!(
            "note: could not start {opener} to open {}: {e}; open it in a browser yourself",
            path.display()
        );
    }
}
