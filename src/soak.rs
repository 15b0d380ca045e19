//! `fbench soak`: long runs (10 minutes per strategy by default) analysed for drift and
//! leaks: memory growth per minute (least-squares slope of PSS), throughput and drops per
//! minute, and what was not given back at the end (reader handles, pool buffers, shm slots,
//! segments). `--from` re-analyses reports already written.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use fbench_harness::soak::{summarise, SoakSummary, DRIFT_LIMIT_BYTES_PER_MIN};
use fbench_reports::Report;

use crate::flags::{Defaults, OutputFlags, RunFlags};
use crate::{output_path, write_atomically, UsageError};

/// `fbench soak`: the run flags (one soak per combination) and where the analysis goes.
#[derive(Debug, Args)]
pub struct SoakArgs {
    #[command(flatten)]
    pub run: RunFlags,

    #[command(flatten)]
    pub output: OutputFlags,

    /// Analyse these JSON reports instead of running (e.g. long `fbench run`s).
    #[arg(long, value_name = "FILE.json")]
    pub from: Vec<PathBuf>,

    #[command(flatten)]
    pub schedule: crate::flags::ScheduleFlags,
}

pub fn soak(args: SoakArgs, explicit: &[String]) -> anyhow::Result<()> {
    if !args.from.is_empty() {
        let mut summaries = Vec::new();
        for path in &args.from {
            let text = crate::input::read_text(path)
                .map_err(|e| UsageError(format!("--from: cannot read {}: {e}", path.display())))?;
            let report = Report::from_json(&text).map_err(|e| {
                UsageError(format!(
                    "--from: {}: {}",
                    path.display(),
                    e.to_string()
                        .lines()
                        .next()
                        .unwrap_or("not an fbench report")
                ))
            })?;
            summaries.extend(report.runs.iter().map(summarise));
        }
        print_summaries(&summaries);
        return Ok(());
    }
    let defaults = Defaults::soak();
    let source = crate::source::configure(
        &args.run.source_request(&defaults)?,
        crate::trial::planning_device(),
    )?;
    let spec = args.run.spec(&defaults, &source);
    // Checked before the report path is probed, so a bad value leaves nothing behind.
    spec.validate(fbench_harness::machine::available_memory())
        .map_err(|e| UsageError(e.to_string()))?;
    let json = output_path(args.output.json.as_deref(), &args.output.out, "soak")?;
    let report = crate::sweep::execute(crate::sweep::Plan {
        spec,
        explicit,
        json: Some(json.clone()),
        out: args.output.out.clone(),
        prefix: "soak",
        quiet: args.output.quiet,
        extras: &crate::sweep::RunExtras {
            scenario: None,
            per_stream: false,
            open: false,
            export: Vec::new(),
            no_ideal: true,
            each_trial: false,
            schedule: args.schedule.clone(),
            gate: Default::default(),
        },
    })?;
    let summaries: Vec<SoakSummary> = report.runs.iter().map(summarise).collect();
    print_summaries(&summaries);
    let path = json.with_extension("soak.json");
    write_atomically(&path, &serde_json::to_vec_pretty(&summaries)?)
        .with_context(|| format!("writing {}", path.display()))?;
    println!("soak analysis: {}", path.display());
    Ok(())
}

fn print_summaries(summaries: &[SoakSummary]) {
    println!(
        "{:<9} {:>6} {:>14} {:>15} {:>14} {:>12} {:>12} {:>10} {:>8} {:>22}  verdict",
        "strategy",
        "min",
        "PSS drift/min",
        "p99 drift/min",
        "RSS drift/min",
        "PSS first",
        "PSS last",
        "fps min-max",
        "drops",
        "leaks (readers/frames/segments)"
    );
    for s in summaries {
        let mib = |b: f64| format!("{:+.3} MiB", b / (1024.0 * 1024.0));
        let rates: Vec<u64> = s.minutes.iter().filter_map(|m| m.published).collect();
        // Whole minutes only: the last one is usually partial.
        let whole = &rates[..rates.len().saturating_sub(1).max(rates.len().min(1))];
        let fps = match (whole.iter().min(), whole.iter().max()) {
            (Some(lo), Some(hi)) => format!("{:.1}-{:.1}", *lo as f64 / 60.0, *hi as f64 / 60.0),
            _ => "n/a".to_string(),
        };
        let leaks = match s.leaks {
            Some(l) => format!(
                "{}/{}/{}",
                l.readers_outstanding,
                l.frames_outstanding
                    .map_or("-".to_string(), |f| f.to_string()),
                l.segments_left
            ),
            None => "not checked".to_string(),
        };
        let age_drift = s
            .age_p99_drift_ns_per_min
            .map_or("n/a".to_string(), |ns| format!("{:+.3} ms", ns / 1e6));
        println!(
            "{:<9} {:>6.1} {:>14} {:>15} {:>14} {:>12} {:>12} {:>10} {:>8} {:>22}  {}",
            s.strategy,
            s.duration_s / 60.0,
            mib(s.pss_drift_bytes_per_min),
            age_drift,
            mib(s.rss_drift_bytes_per_min),
            fbench_reports::format_bytes(s.pss_first_minute_bytes),
            fbench_reports::format_bytes(s.pss_last_minute_bytes),
            fps,
            s.producer_drops,
            leaks,
            s.verdict
        );
    }
    println!(
        "drift: least-squares slope of PSS over the measured window; flagged above {} MiB/min",
        DRIFT_LIMIT_BYTES_PER_MIN / (1024.0 * 1024.0)
    );
    println!(
        "p99 drift: least-squares slope of the p99 age of each --interval (the report's \
         timeline); the HTML report draws it over the whole soak"
    );
}
