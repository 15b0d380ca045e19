//! `fbench report`: re-render or merge JSON reports. Everything is read, checked and
//! rendered in memory before the first file is written, so a mistake leaves nothing behind.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use fbench_reports::{hgrm, ExportFormat, Report, ReportError};

use crate::output::open_in_browser;
use crate::{writable_file, write_atomically, UsageError};

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// JSON reports written by `fbench run` or `fbench sweep`; several are shown side by
    /// side (reports from different machines with the machine as a series).
    #[arg(required = true, value_name = "FILE.json")]
    pub inputs: Vec<PathBuf>,

    /// Output file; its extension picks the format: .html, .md, .csv, .json (merges runs
    /// of one machine) or .hgrm (one file per run, OUT-<strategy>-c<N>.hgrm). May be
    /// repeated.
    #[arg(long, short = 'o', required = true, value_name = "OUT")]
    pub output: Vec<PathBuf>,

    /// Open the HTML output in the default browser when done.
    #[arg(long)]
    pub open: bool,
}

enum Target {
    File(ExportFormat),
    Hgrm,
}

const ACCEPTED: &str = "accepted: .html, .md, .csv, .json, .hgrm";

pub fn report(args: ReportArgs) -> anyhow::Result<()> {
    let mut targets = Vec::with_capacity(args.output.len());
    for path in &args.output {
        let extension = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let target = match extension.as_str() {
            "hgrm" => Target::Hgrm,
            other => Target::File(ExportFormat::from_extension(other).ok_or_else(|| {
                UsageError(format!(
                    "--output: cannot tell the format of {} from its extension; {ACCEPTED}",
                    path.display()
                ))
            })?),
        };
        // A regular file (or a new one) in an existing directory; never a device or FIFO.
        let path = writable_file(path.clone(), "--output")?;
        targets.push((path, target));
    }

    let mut reports = Vec::with_capacity(args.inputs.len());
    for input in &args.inputs {
        let text = crate::input::read_text(input)
            .map_err(|e| UsageError(format!("{}: cannot read the report: {e}", input.display())))?;
        let report = Report::from_json(&text).map_err(|e| {
            let message = e.to_string();
            UsageError(format!(
                "{}: {}",
                input.display(),
                message.lines().next().unwrap_or("not an fbench report")
            ))
        })?;
        // An impossible figure would be drawn as if measured (a negative rate, p50 above
        // p99, a histogram that does not decode).
        fbench_reports::gate::check_report(&report)
            .map_err(|e| UsageError(format!("{}: {e}", input.display())))?;
        reports.push(report);
    }

    let mut files: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    for (path, target) in &targets {
        match target {
            Target::File(format) => {
                let bytes = format.render_all(&reports).map_err(|e| match e {
                    ReportError::DifferentMachines(..) => {
                        anyhow::Error::from(UsageError(format!("--output {}: {e}", path.display())))
                    }
                    other => anyhow::Error::from(other),
                })?;
                files.push((path.clone(), bytes));
            }
            Target::Hgrm => {
                // .hgrm files carry no machine, so runs of every report go in.
                let mut all = reports[0].clone();
                all.runs = reports.iter().flat_map(|r| r.runs.clone()).collect();
                let stem = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "report".to_string());
                for file in hgrm::age_distributions(&all)? {
                    files.push((
                        path.with_file_name(format!("{stem}-{}.hgrm", file.name)),
                        file.text.into_bytes(),
                    ));
                }
            }
        }
    }
    for (path, bytes) in &files {
        write_atomically(path, bytes).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    if args.open {
        if let Some((path, _)) = targets
            .iter()
            .find(|(_, t)| matches!(t, Target::File(ExportFormat::Html)))
        {
            open_in_browser(path);
        }
    }
    Ok(())
}
