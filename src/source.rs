//! `--source`: turning what the user named into a loaded, negotiated `SourceSpec`, with the
//! frame geometry and rate it implies, before anything runs; and `fbench list sources`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use fbench_harness::config::{human_bytes, MAX_FPS};
use fbench_harness::frame::{FrameSpec, PixelFormat, Resolution};
use fbench_harness::machine::available_memory;
use fbench_harness::source::y4m::{Y4mClip, Y4mError};
use fbench_harness::source::SourceSpec;
use fbench_harness::RunConfig;

use crate::UsageError;

/// What `--source` named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceArg {
    Synthetic,
    CameraSim,
    Y4m(PathBuf),
    V4l2(PathBuf),
}

const ACCEPTED: &str = "accepted: synthetic, camera-sim, y4m:PATH, v4l2:/dev/videoN";

pub fn parse_source(text: &str) -> Result<SourceArg, String> {
    let path = |p: &str| -> Result<PathBuf, String> {
        if p.is_empty() {
            Err(format!("'{text}' names no path; {ACCEPTED}"))
        } else {
            Ok(PathBuf::from(p))
        }
    };
    match text.split_once(':') {
        None if text == "synthetic" => Ok(SourceArg::Synthetic),
        None if text == "camera-sim" => Ok(SourceArg::CameraSim),
        Some(("y4m", p)) => Ok(SourceArg::Y4m(path(p)?)),
        Some(("v4l2", p)) => Ok(SourceArg::V4l2(path(p)?)),
        _ => Err(format!("unknown source '{text}'; {ACCEPTED}")),
    }
}

/// What the source flags asked for, one value each.
pub struct SourceRequest {
    pub source: SourceArg,
    /// The sources of streams 1, 2, … when `--source` lists several (see [`Configured`]).
    pub others: Vec<SourceArg>,
    pub source_memory: u64,
    pub resolution: Option<Resolution>,
    pub format: Option<PixelFormat>,
    pub fps: Option<f64>,
}

/// A source ready to run and the frames it implies.
pub struct Configured {
    pub spec: SourceSpec,
    pub frame: FrameSpec,
    pub fps: f64,
    /// One line for the user about what the source turned out to be (not for synthetic).
    pub summary: Option<String>,
    /// The sources of streams 1, 2, … (`--source a,b`), configured at the first one's rate
    /// and checked to give its frames; empty when one source feeds every stream.
    pub others: Vec<SourceSpec>,
}

fn usage(message: String) -> anyhow::Error {
    UsageError(message).into()
}

/// What a process does with a camera it configures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    /// Negotiate, take the first frame, close it: the runs open it in their own processes
    /// (a device held here would refuse their open).
    Probe,
    /// Negotiate and keep it streaming: the runs read it in this process.
    Open,
}

/// Load the source `args` names (and the other streams' sources), before anything is
/// measured: a Y4M file is read into memory
/// and checked; a camera is opened, its format negotiated and its first frame taken, then
/// closed again or kept streaming as `device` says ([`crate::trial::planning_device`] in
/// the process that plans runs, [`Device::Open`] in the one that runs them).
pub fn configure(args: &SourceRequest, device: Device) -> anyhow::Result<Configured> {
    let mut first = configure_one(args, device)?;
    for other in &args.others {
        // Every stream runs at the run's one rate and frame geometry.
        let request = SourceRequest {
            source: other.clone(),
            others: Vec::new(),
            source_memory: args.source_memory,
            resolution: match other {
                SourceArg::Synthetic | SourceArg::CameraSim => Some(first.frame.resolution),
                _ => None,
            },
            format: match other {
                SourceArg::Synthetic | SourceArg::CameraSim => Some(first.frame.format),
                _ => None,
            },
            fps: Some(first.fps),
        };
        let configured = configure_one(&request, device)?;
        if configured.frame != first.frame {
            return Err(usage(format!(
                "--source: {} gives {} {} frames, not the {} {} of {}; every stream's source must give frames of one geometry",
                configured.spec.name(),
                configured.frame.resolution,
                configured.frame.format,
                first.frame.resolution,
                first.frame.format,
                first.spec.name()
            )));
        }
        first.others.push(configured.spec);
    }
    Ok(first)
}

/// One source of [`configure`].
fn configure_one(args: &SourceRequest, device: Device) -> anyhow::Result<Configured> {
    let defaults = RunConfig::default_config();
    match &args.source {
        SourceArg::Synthetic => Ok(Configured {
            spec: SourceSpec::Synthetic,
            frame: FrameSpec {
                resolution: args.resolution.unwrap_or(defaults.frame.resolution),
                format: args.format.unwrap_or(defaults.frame.format),
            },
            fps: args.fps.unwrap_or(defaults.fps),
            summary: None,
            others: Vec::new(),
        }),
        SourceArg::CameraSim => {
            let fps = args.fps.unwrap_or(defaults.fps);
            Ok(Configured {
                spec: SourceSpec::CameraSim {
                    period_ns: (1e9 / fps).round().max(1.0) as u64,
                },
                frame: FrameSpec {
                    resolution: args.resolution.unwrap_or(defaults.frame.resolution),
                    format: args.format.unwrap_or(defaults.frame.format),
                },
                fps,
                summary: None,
                others: Vec::new(),
            })
        }
        SourceArg::Y4m(path) => configure_y4m(args, path),
        SourceArg::V4l2(path) => configure_v4l2(args, path, device),
    }
}

fn configure_y4m(args: &SourceRequest, path: &std::path::Path) -> anyhow::Result<Configured> {
    let available = available_memory();
    let limit = args.source_memory.min(available);
    let clip = Y4mClip::load(path, limit).map_err(|err| {
        let advice = match err {
            Y4mError::TooLarge { .. } if limit < args.source_memory => {
                format!("; only {} of memory is available", human_bytes(available))
            }
            Y4mError::TooLarge { .. } => {
                "; raise --source-memory or use a shorter clip (e.g. ffmpeg -t 5)".to_string()
            }
            _ => String::new(),
        };
        usage(format!("--source: {}: {err}{advice}", path.display()))
    })?;
    let header = clip.header();
    let frame = clip.frame_spec();
    if let Some(resolution) = args.resolution {
        if resolution != frame.resolution {
            return Err(usage(format!(
                "--resolution: a y4m source takes its geometry from the file ({}); leave --resolution out",
                frame.resolution
            )));
        }
    }
    if let Some(format) = args.format {
        if format != frame.format {
            return Err(usage(format!(
                "--format: a y4m source takes its format from the file ({}, from C{}); leave --format out",
                frame.format,
                header.colour_space.tag()
            )));
        }
    }
    let fps = match (args.fps, header.fps()) {
        (Some(fps), _) => fps,
        (None, Some(fps)) if fps <= MAX_FPS => fps,
        (None, Some(fps)) => {
            return Err(usage(format!(
                "--source: {}: its frame rate ({fps} fps) is above the {MAX_FPS} supported; override it with --fps",
                path.display()
            )))
        }
        (None, None) => {
            return Err(usage(format!(
                "--source: {}: the file gives no frame rate (F absent or 0:0); give one with --fps",
                path.display()
            )))
        }
    };
    let summary = format!(
        "source: {} — {} {} (C{}), {} frames ({}) preloaded, played in a loop at {} fps{}",
        path.display(),
        frame.resolution,
        frame.format,
        header.colour_space.tag(),
        clip.frame_count(),
        human_bytes(clip.payload_bytes()),
        (fps * 1000.0).round() / 1000.0,
        if args.fps.is_some() { " (--fps)" } else { "" }
    );
    Ok(Configured {
        spec: SourceSpec::Y4m(Arc::new(clip)),
        frame,
        fps,
        summary: Some(summary),
        others: Vec::new(),
    })
}

#[cfg(not(feature = "v4l2"))]
fn configure_v4l2(
    _args: &SourceRequest,
    _path: &std::path::Path,
    _device: Device,
) -> anyhow::Result<Configured> {
    Err(usage(
        "--source: this fbench was built without V4L2 camera support; rebuild with \
         `cargo build --release --features v4l2` (needs libclang-dev)"
            .to_string(),
    ))
}

#[cfg(feature = "v4l2")]
fn configure_v4l2(
    args: &SourceRequest,
    path: &std::path::Path,
    device: Device,
) -> anyhow::Result<Configured> {
    use fbench_harness::source::v4l2::{Camera, CameraRequest};
    let request = CameraRequest {
        format: args.format,
        resolution: args.resolution,
        fps: args.fps,
    };
    let camera = match device {
        Device::Probe => Camera::probe(path, &request),
        Device::Open => Camera::open(path, &request),
    }
    .map_err(|e| usage(format!("--source: {e}")))?;
    let frame = camera.frame_spec();
    // The device paces the run; the rate only sets the deadline. Trust the device first.
    let fps = camera
        .fps()
        .or(args.fps)
        .unwrap_or(RunConfig::default_config().fps);
    let detail = camera.detail();
    let summary = format!(
        "source: {} ({}) — asked for {}, granted {}",
        camera.path(),
        detail.card.as_deref().unwrap_or("unknown card"),
        detail.requested.as_deref().unwrap_or("-"),
        detail.granted.as_deref().unwrap_or("-"),
    );
    Ok(Configured {
        spec: SourceSpec::V4l2(Arc::new(camera)),
        frame,
        fps,
        summary: Some(summary),
        others: Vec::new(),
    })
}

/// A problem the source had during a run, to report after it (a camera that stopped).
pub fn take_failure(spec: &SourceSpec) -> Option<String> {
    match spec {
        #[cfg(feature = "v4l2")]
        SourceSpec::V4l2(camera) => camera.take_failure(),
        _ => None,
    }
}

/// `fbench list sources`.
pub fn list() -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<18} deterministic synthetic frames at --resolution and --format (the default)",
        "synthetic"
    )?;
    writeln!(
        out,
        "{:<18} a simulated camera: live frames on its own clock at --fps, every {}th dropped by its driver (the camera path, no device)",
        "camera-sim",
        fbench_harness::source::camera_sim::DROP_EVERY
    )?;
    writeln!(
        out,
        "{:<18} a YUV4MPEG2 file (C420jpeg/420paldv/420mpeg2/420, 422, 444, mono), preloaded and looped",
        "y4m:PATH"
    )?;
    for line in camera_lines() {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

#[cfg(feature = "v4l2")]
fn camera_lines() -> Vec<String> {
    let devices = fbench_harness::source::v4l2::list_devices();
    if devices.is_empty() {
        return vec![format!(
            "{:<18} a V4L2 camera: none found on this machine",
            "v4l2:/dev/videoN"
        )];
    }
    devices
        .into_iter()
        .map(|d| {
            format!(
                "{:<18} {}",
                format!("v4l2:{}", d.path),
                d.name.as_deref().unwrap_or("(no name)")
            )
        })
        .collect()
}

#[cfg(not(feature = "v4l2"))]
fn camera_lines() -> Vec<String> {
    vec![format!(
        "{:<18} a V4L2 camera: not in this build (rebuild with --features v4l2)",
        "v4l2:/dev/videoN"
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::parse_bytes;

    #[test]
    fn sources_parse() {
        assert_eq!(parse_source("synthetic").unwrap(), SourceArg::Synthetic);
        assert_eq!(
            parse_source("y4m:clip.y4m").unwrap(),
            SourceArg::Y4m("clip.y4m".into())
        );
        assert_eq!(
            parse_source("y4m:C:/clips/a.y4m").unwrap(),
            SourceArg::Y4m("C:/clips/a.y4m".into())
        );
        assert_eq!(
            parse_source("v4l2:/dev/video0").unwrap(),
            SourceArg::V4l2("/dev/video0".into())
        );
        for bad in ["", "y4m", "y4m:", "camera:0", "file:x.y4m", "Synthetic"] {
            assert!(parse_source(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_bytes("4096").unwrap(), 4096);
        assert_eq!(parse_bytes("512MB").unwrap(), 512_000_000);
        assert_eq!(parse_bytes("1.5GB").unwrap(), 1_500_000_000);
        assert_eq!(parse_bytes("2GiB").unwrap(), 2 << 30);
        for bad in ["", "0", "MB", "12 parsecs", "-1MB", "1e999GB"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }
}
