//! The command line: every flag defined once, with its documentation. Values are parsed
//! here by the harness's own parsers (so messages name the flag and what is accepted);
//! combinations are checked by `RunConfig::validate` before anything runs.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use fbench_harness::config::{parse_duration, parse_pool_policy, Wait};
use fbench_harness::frame::{PixelFormat, Resolution};
use fbench_harness::integrity::VerifyMode;
use fbench_harness::workload::{SlowConsumers, Workload};
use fbench_strategies::{PoolPolicy, SlotPolicy, StrategyKind};

use crate::source::{parse_bytes, parse_source, SourceArg};

#[derive(Debug, Parser)]
#[command(
    name = "fbench",
    version,
    about = "Measure how one producer should hand video frames to many readers",
    long_about = "fbench runs the same frame source through interchangeable distribution \
                  strategies under N consumers and reports delivery latency percentiles, \
                  drops, torn frames, memory (PSS) and CPU."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one stress run per strategy; print a table, write a JSON and an HTML report.
    Run(Box<RunArgs>),
    /// Run every chosen strategy across lists of parameters (e.g. --consumers 1,5,20);
    /// one combined JSON and HTML report.
    Sweep(Box<crate::sweep::SweepArgs>),
    /// Long runs (10 minutes per strategy by default) analysed for memory drift per minute,
    /// throughput and drops over time, and leaks (buffers, slots, segments not given back).
    Soak(Box<crate::soak::SoakArgs>),
    /// Re-render or merge JSON reports into HTML, Markdown, CSV, JSON or .hgrm files.
    Report(crate::report_cmd::ReportArgs),
    /// Measure the machine's limits: memory copy, cache-line round trip, clock read, wake
    /// latency, and the harness's own overhead per frame.
    Calibrate(crate::calibrate::CalibrateArgs),
    /// Remove shared-memory segments left in /dev/shm by fbench runs that were killed.
    Clean,
    /// A consumer process of a cross-process run (started by fbench itself).
    #[command(name = "__consumer", hide = true)]
    Consumer(ConsumerArgs),
    /// Compare two JSON reports with gates, without running anything; exit code 3 when a
    /// gate fails (run and sweep take the same gates with --baseline).
    Gate(crate::gate::GateArgs),
    /// List what fbench knows: strategies, scenarios, or sources (including the cameras found).
    List {
        /// What to list.
        #[arg(default_value = "strategies", value_parser = ["strategies", "scenarios", "sources"])]
        what: String,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Strategies to run: comma-separated names, `all` (fbench's own five) or `peers` (other
    /// projects' designs in this build); see `fbench list`.
    #[arg(long, short = 's', default_value = "all", value_parser = parse_strategies)]
    pub strategy: StrategyList,

    /// Number of consumers reading every frame.
    #[arg(long, short = 'c', default_value_t = 5, value_parser = parse_count)]
    pub consumers: usize,

    /// Where frames come from: synthetic, y4m:PATH (a YUV4MPEG2 file, preloaded and played
    /// in a loop) or v4l2:/dev/videoN (a camera; needs a build with `--features v4l2`).
    /// See `fbench list sources`.
    #[arg(long, default_value = "synthetic", value_parser = parse_source)]
    pub source: SourceArg,

    /// Most memory a y4m source may preload, e.g. 512MB, 4GB.
    #[arg(long, default_value = "2GB", value_parser = parse_bytes)]
    pub source_memory: u64,

    /// Frame size: 480p, 720p, 1080p, 4k or WIDTHxHEIGHT [default: 1080p; a y4m file's own;
    /// for a camera, what to ask it for].
    #[arg(long, short = 'r', value_parser = |s: &str| s.parse::<Resolution>())]
    pub resolution: Option<Resolution>,

    /// Pixel format: rgb24, bgr24, yuyv, nv12, i420, yuv422p, yuv444p or gray (frame size
    /// follows it) [default: rgb24; a y4m file's own; for a camera, what to ask it for].
    #[arg(long, value_parser = |s: &str| s.parse::<PixelFormat>())]
    pub format: Option<PixelFormat>,

    /// Frames per second the source produces, on an absolute schedule [default: 30; a y4m
    /// file's own rate; for a camera, what to ask it for].
    #[arg(long, value_parser = parse_fps)]
    pub fps: Option<f64>,

    /// Measured time per strategy (after warm-up), e.g. 3s, 500ms, 2m.
    #[arg(long, short = 'd', default_value = "5s", value_parser = parse_duration)]
    pub duration: Duration,

    /// Time before measuring starts; nothing in it is counted.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub warmup: Duration,

    /// What each consumer does with a frame: inspect, copy, busy:<dur>, sleep:<dur>.
    #[arg(long, short = 'w', default_value = "inspect", value_parser = |s: &str| s.parse::<Workload>())]
    pub workload: Workload,

    /// COUNT:WORKLOAD: make COUNT of the consumers run another workload, e.g. 2:sleep:50ms.
    /// May be repeated.
    #[arg(long, value_parser = |s: &str| s.parse::<SlowConsumers>())]
    pub slow: Vec<SlowConsumers>,

    /// How consumers wait for a newer frame: block, spin or poll:<interval>.
    #[arg(long, default_value = "block", value_parser = |s: &str| s.parse::<Wait>())]
    pub wait: Wait,

    /// Frame verification: stamps (per-page sequence stamps), full (plus a checksum), off.
    #[arg(long, default_value = "stamps", value_parser = |s: &str| s.parse::<VerifyMode>())]
    pub verify: VerifyMode,

    /// A frame misses its deadline when end-to-end exceeds period x (1 + this).
    #[arg(long, default_value_t = 0.1, value_parser = parse_tolerance, allow_negative_numbers = true)]
    pub deadline_tolerance: f64,

    /// Buffers the pool strategy pre-allocates.
    #[arg(long, default_value_t = fbench_strategies::DEFAULT_POOL_SIZE, value_parser = parse_count)]
    pub pool_size: usize,

    /// Frame slots of the shm strategies [default: consumers + 2, so that stopped readers
    /// never make the writer drop; 3 is a triple buffer].
    #[arg(long, value_parser = parse_slots)]
    pub slots: Option<usize>,

    /// What shm's writer does when readers hold every other slot: drop (a producer drop) or
    /// wait.
    #[arg(long, default_value = "drop", value_parser = parse_slot_policy)]
    pub slot_policy: SlotPolicy,

    /// How in-process strategies wake blocked readers: futex (the waker shm uses, so that
    /// strategies compare on their sharing design) or condvar (parking_lot's condition
    /// variable). shm always uses the futex.
    #[arg(long, default_value = "futex", value_parser = fbench_harness::config::parse_waker)]
    pub waker: fbench_strategies::Waker,

    /// What the pool does when every buffer is in use: grow or drop.
    #[arg(long, default_value = "grow", value_parser = parse_pool_policy)]
    pub pool_policy: PoolPolicy,

    /// Inject a fault, times from the start of measuring: stall:<consumer>@<t>:<dur> (hold a
    /// frame), kill:<consumer>@<t> (SIGKILL a consumer process, end a consumer thread),
    /// burst:@<t>:<dur>:<fps> (the producer runs faster). May be repeated.
    #[arg(long, value_parser = |s: &str| s.parse::<fbench_harness::faults::Fault>())]
    pub fault: Vec<fbench_harness::faults::Fault>,

    /// Write the JSON report here (default: a timestamped file in --out).
    #[arg(long)]
    pub json: Option<PathBuf>,

    /// Directory for output files.
    #[arg(long, default_value = "target/fbench")]
    pub out: PathBuf,

    /// No progress bar and no notes on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,

    #[command(flatten)]
    pub extras: crate::sweep::RunExtras,
}

/// The hidden `__consumer` subcommand's arguments, written by harness::runner::process.
#[derive(Debug, Args)]
pub struct ConsumerArgs {
    /// Which cross-process strategy's run to attach to.
    #[arg(long, default_value = "shm")]
    pub strategy: String,
    #[arg(long)]
    pub segment: String,
    #[arg(long)]
    pub id: usize,
    #[arg(long, value_parser = |s: &str| s.parse::<Workload>())]
    pub workload: Workload,
    #[arg(long, value_parser = |s: &str| s.parse::<Wait>())]
    pub wait: Wait,
    #[arg(long, value_parser = |s: &str| s.parse::<VerifyMode>())]
    pub verify: VerifyMode,
    #[arg(long)]
    pub deadline_ns: u64,
    #[arg(long)]
    pub frame_len: usize,
    /// The consumer's faults as JSON (`ConsumerFaults`).
    #[arg(long, default_value = "{}", value_parser = |s: &str| serde_json::from_str::<fbench_harness::faults::ConsumerFaults>(s).map_err(|e| e.to_string()))]
    pub faults: fbench_harness::faults::ConsumerFaults,
}

pub(crate) fn parse_slots(text: &str) -> Result<usize, String> {
    let n: usize = text
        .parse()
        .map_err(|_| format!("'{text}' is not a whole number"))?;
    if !(2..=fbench_strategies::shm::protocol::MAX_SLOTS).contains(&n) {
        return Err(format!(
            "must be between 2 and {} (3 is a triple buffer)",
            fbench_strategies::shm::protocol::MAX_SLOTS
        ));
    }
    Ok(n)
}

pub(crate) fn parse_slot_policy(text: &str) -> Result<SlotPolicy, String> {
    match text {
        "drop" => Ok(SlotPolicy::Drop),
        "wait" => Ok(SlotPolicy::Wait),
        _ => Err(format!(
            "unknown slot policy '{text}'; accepted: drop, wait"
        )),
    }
}

/// The strategies of a run, in the order given.
#[derive(Clone, Debug)]
pub struct StrategyList(pub Vec<StrategyKind>);

pub(crate) fn parse_strategies(text: &str) -> Result<StrategyList, String> {
    let accepted = || {
        let own: Vec<&str> = StrategyKind::ALL
            .iter()
            .chain(&StrategyKind::DEMONSTRATIONS)
            .map(|k| k.name())
            .collect();
        let peers: Vec<&str> = StrategyKind::PEERS
            .iter()
            .filter(|k| k.is_built())
            .map(|k| k.name())
            .collect();
        format!(
            "accepted: all, {}, peers, {}",
            own.join(", "),
            peers.join(", ")
        )
    };
    let mut kinds = Vec::new();
    for name in text.split(',').map(str::trim) {
        match name {
            "all" => kinds.extend(StrategyKind::ALL),
            "peers" => kinds.extend(StrategyKind::PEERS.into_iter().filter(|k| k.is_built())),
            _ => {
                let kind = StrategyKind::from_name(name)
                    .ok_or_else(|| format!("unknown strategy '{name}'; {}", accepted()))?;
                if !kind.is_built() {
                    return Err(fbench_strategies::BuildError::NotBuilt(kind.name()).to_string());
                }
                kinds.push(kind);
            }
        }
    }
    let mut seen = Vec::new();
    kinds.retain(|k| {
        let new = !seen.contains(k);
        seen.push(*k);
        new
    });
    if kinds.is_empty() {
        return Err(format!("no strategy given; {}", accepted()));
    }
    Ok(StrategyList(kinds))
}

pub(crate) fn parse_count(text: &str) -> Result<usize, String> {
    let n: usize = text
        .parse()
        .map_err(|_| format!("'{text}' is not a whole number"))?;
    if n == 0 {
        return Err("must be at least 1".to_string());
    }
    Ok(n)
}

pub(crate) fn parse_fps(text: &str) -> Result<f64, String> {
    let fps: f64 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a number of frames per second"))?;
    if !(fps.is_finite() && fps > 0.0) {
        return Err("must be above 0 (e.g. 30)".to_string());
    }
    Ok(fps)
}

pub(crate) fn parse_tolerance(text: &str) -> Result<f64, String> {
    let t: f64 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a number"))?;
    if !(t.is_finite() && t >= 0.0) {
        return Err("must be 0 or more (e.g. 0.1 for 10%)".to_string());
    }
    Ok(t)
}
