//! `fbench calibrate`, and the calibration every `fbench run` takes before its first
//! strategy: the machine's limits at the run's frame size, measured once per invocation and
//! shared by every run in the report.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use fbench_harness::calibrate::{calibrate, Budget, Calibration, Regime};
use fbench_harness::config::human_bytes;
use fbench_harness::frame::{FrameSpec, PixelFormat, Resolution};
use fbench_harness::integrity::VerifyMode;
use fbench_harness::machine::{available_memory, MachineInfo};
use fbench_harness::RunConfig;
use fbench_reports::{calibration_lines, ExportFormat, Report};

use crate::{build_info, writable_file, write_atomically, UsageError};

#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// Frame size the memory copy is measured at: 480p, 720p, 1080p, 4k or WIDTHxHEIGHT.
    #[arg(long, short = 'r', default_value = "1080p", value_parser = |s: &str| s.parse::<Resolution>())]
    pub resolution: Resolution,

    /// Pixel format: rgb24, bgr24, yuyv or nv12 (frame size follows it).
    #[arg(long, default_value = "rgb24", value_parser = |s: &str| s.parse::<PixelFormat>())]
    pub format: PixelFormat,

    /// Verification whose cost goes into the harness overhead: stamps, full or off.
    #[arg(long, default_value = "stamps", value_parser = |s: &str| s.parse::<VerifyMode>())]
    pub verify: VerifyMode,

    /// Also write the figures as a report (schema fbench.report/2, no runs) to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

pub fn command(args: CalibrateArgs) -> anyhow::Result<()> {
    let frame = FrameSpec {
        resolution: args.resolution,
        format: args.format,
    };
    let frame_len = frame
        .frame_len()
        .map_err(|e| UsageError(format!("--resolution: {e}")))?;
    // The hot copy holds two frames; the cold one more (buffers outgrowing the cache).
    let needed = fbench_harness::calibrate::regime::cold_copy_bytes(frame_len)
        .max((frame_len as u64).saturating_mul(2));
    let available = available_memory();
    if needed > available {
        return Err(UsageError(format!(
            "--resolution: calibrating copies a {} {} frame ({}) into buffers larger than the cache, {} in all, but only {} of memory is available; choose a smaller --resolution",
            frame.resolution,
            frame.format,
            human_bytes(frame_len as u64),
            human_bytes(needed),
            human_bytes(available)
        ))
        .into());
    }
    let json_path = args
        .json
        .map(|path| writable_file(path, "--json"))
        .transpose()?;

    // `off` has no meaning for an explicit calibration: it calibrates as standard.
    let budget = budget().map_err(UsageError)?.unwrap_or(Budget::STANDARD);
    let regime = Regime::default();
    let calibration = calibrate(frame_len, args.verify, regime, budget);
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "machine limits for {} {} frames, verification '{}' (took {} ms):",
        frame.resolution,
        frame.format,
        args.verify,
        calibration.took_ms.unwrap_or(0)
    )?;
    writeln!(
        out,
        "regime: wake-ups after one {} frame period, {} sleepers at once (fbench run's defaults)",
        fbench_reports::format_ns(regime.period.as_nanos() as u64),
        regime.consumers
    )?;
    for line in calibration_lines(&calibration) {
        writeln!(out, "  {line}")?;
    }
    if let Some(path) = json_path {
        let report =
            Report::new(MachineInfo::detect(), build_info(), Vec::new()).calibrated(calibration);
        let json = ExportFormat::Json.exporter().render(&report)?;
        write_atomically(&path, &json)
            .with_context(|| format!("writing the calibration report {}", path.display()))?;
        writeln!(out, "JSON report: {}", path.display())?;
    }
    Ok(())
}

/// How long calibrating may take: `FBENCH_CALIBRATION` (standard, quick, off).
fn budget() -> Result<Option<Budget>, String> {
    Budget::from_env()
}

/// The calibration of one `fbench run`, at its frame size, verification mode, frame period
/// and consumer count; none with `FBENCH_CALIBRATION=off`.
pub fn for_run(config: &RunConfig) -> Calibration {
    let budget = budget().unwrap_or_else(|message| {
        eprintln!("warning: {message}; calibrating as standard");
        Some(Budget::STANDARD)
    });
    match budget {
        Some(budget) => calibrate(
            config.frame_len(),
            config.verify,
            Regime::of(config),
            budget,
        ),
        None => Calibration::default(),
    }
}
