//! Every flag of the command line that more than one command takes, defined once with its
//! documentation, and the parsers of their values. Values are parsed by the harness's own
//! parsers where it has them, so messages name the flag and what is accepted; combinations
//! are checked by `RunConfig::validate` before anything runs.
//!
//! A run parameter takes a comma-separated list in every command that takes it (`run` and
//! `sweep` run the product of the lists; `soak` soaks every point): one definition, one
//! help text. What differs between commands is only the default, given in the help.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use fbench_harness::config::{parse_duration, parse_pool_policy, Wait};
use fbench_harness::faults::Fault;
use fbench_harness::frame::{PixelFormat, Resolution};
use fbench_harness::integrity::VerifyMode;
use fbench_harness::registry::{self, StrategyRef};
use fbench_harness::sweep::SweepSpec;
use fbench_harness::workload::{SlowConsumers, Workload};
use fbench_harness::RunConfig;
use fbench_strategies::{PoolPolicy, SlotPolicy};

use crate::source::{parse_source, SourceArg};
use crate::UsageError;

/// The run parameters, shared by `run`, `sweep` and `soak`.
#[derive(Clone, Debug, Args)]
pub struct RunFlags {
    /// Strategies to run: comma-separated names, `all` (fbench's own five), `peers` (other
    /// projects' designs in this build) or `custom` (this binary's own); see `fbench list`.
    /// [default: all]
    #[arg(long, short = 's', value_parser = parse_strategies)]
    pub strategy: Option<StrategyList>,

    /// Consumer counts, e.g. 5 or 1,5,20. [default: 5; sweep: 1,5,20]
    #[arg(long, short = 'c', value_delimiter = ',', value_parser = parse_count)]
    pub consumers: Vec<usize>,

    /// Independent streams per run, e.g. 4 or 1,2,4,8 (a sweep axis): each its own source
    /// on its own schedule, producer thread, strategy instance and --consumers consumers, as
    /// K cameras would be. Figures are per stream (the report's `streams[]`) and for the
    /// whole run, with the worst stream named. [default: 1]
    #[arg(long, value_delimiter = ',', value_parser = fbench_harness::config::parse_streams)]
    pub streams: Vec<usize>,

    /// Where the streams' schedules sit: spread (stream i due i/K of a period after stream
    /// 0, as independent cameras) or aligned (every stream due at once: the worst case).
    #[arg(long, default_value = "spread", value_parser = |s: &str| s.parse::<fbench_harness::config::StreamPhase>())]
    pub stream_phase: fbench_harness::config::StreamPhase,

    /// Where frames come from: synthetic, camera-sim (a simulated camera that sets its own
    /// pace and drops frames as a driver does), y4m:PATH (a YUV4MPEG2 file, preloaded and
    /// played in a loop) or v4l2:/dev/videoN (a camera; needs a build with `--features v4l2`).
    /// See `fbench list sources`. With --streams, a list (or the flag repeated) gives the
    /// streams their sources in order, e.g. y4m:a.y4m,y4m:b.y4m, cycling when there are
    /// fewer sources than streams; every source must give frames of one geometry.
    #[arg(long, default_value = "synthetic", value_delimiter = ',', action = clap::ArgAction::Append, value_parser = parse_source)]
    pub source: Vec<SourceArg>,

    /// Most memory a y4m source may preload, e.g. 512MB, 4GB.
    #[arg(long, default_value = "2GB", value_parser = parse_bytes)]
    pub source_memory: u64,

    /// Frame sizes: 480p, 720p, 1080p, 4k or WIDTHxHEIGHT, e.g. 720p,1080p [default: 1080p;
    /// soak: 720p; a y4m file's own; for a camera, what to ask it for].
    #[arg(long, short = 'r', value_delimiter = ',', value_parser = |s: &str| s.parse::<Resolution>())]
    pub resolution: Vec<Resolution>,

    /// Pixel formats: rgb24, bgr24, yuyv, nv12, i420, yuv422p, yuv444p or gray (frame size
    /// follows it) [default: rgb24; a y4m file's own; for a camera, what to ask it for].
    #[arg(long, value_delimiter = ',', value_parser = |s: &str| s.parse::<PixelFormat>())]
    pub format: Vec<PixelFormat>,

    /// Frames per second the source produces, on an absolute schedule [default: 30; a y4m
    /// file's own rate; for a camera, what to ask it for].
    #[arg(long, value_delimiter = ',', value_parser = parse_fps)]
    pub fps: Vec<f64>,

    /// Measured time per run (after warm-up), e.g. 3s, 500ms, 2m. [default: 5s; soak: 10m]
    #[arg(long, short = 'd', value_delimiter = ',', value_parser = parse_duration)]
    pub duration: Vec<Duration>,

    /// Time before measuring starts; nothing in it is counted. [default: 1s]
    #[arg(long, value_delimiter = ',', value_parser = parse_duration)]
    pub warmup: Vec<Duration>,

    /// What each consumer does with a frame: inspect, copy, busy:<dur>, sleep:<dur>.
    /// [default: inspect]
    #[arg(long, short = 'w', value_delimiter = ',', value_parser = |s: &str| s.parse::<Workload>())]
    pub workload: Vec<Workload>,

    /// COUNT:WORKLOAD: make COUNT of the consumers run another workload, e.g. 2:sleep:50ms,
    /// in every run (and every stream; COUNT:WORKLOAD@streamN in stream N only, from 0).
    /// May be repeated.
    #[arg(long, value_parser = |s: &str| s.parse::<SlowConsumers>())]
    pub slow: Vec<SlowConsumers>,

    /// How consumers wait for a newer frame: block, spin or poll:<interval>. [default: block]
    #[arg(long, value_delimiter = ',', value_parser = |s: &str| s.parse::<Wait>())]
    pub wait: Vec<Wait>,

    /// Frame verification: stamps (per-page sequence stamps), full (plus a checksum), off.
    /// [default: stamps]
    #[arg(long, value_delimiter = ',', value_parser = |s: &str| s.parse::<VerifyMode>())]
    pub verify: Vec<VerifyMode>,

    /// A frame misses its deadline when end-to-end exceeds period x (1 + this).
    /// [default: 0.1]
    #[arg(long, value_delimiter = ',', value_parser = parse_tolerance, allow_negative_numbers = true)]
    pub deadline_tolerance: Vec<f64>,

    /// Buffers the pool strategy pre-allocates. [default: 4]
    #[arg(long, value_delimiter = ',', value_parser = parse_count)]
    pub pool_size: Vec<usize>,

    /// What the pool does when every buffer is in use: grow or drop. [default: grow]
    #[arg(long, value_delimiter = ',', value_parser = parse_pool_policy)]
    pub pool_policy: Vec<PoolPolicy>,

    /// Frame slots of the shm strategies (3: a triple buffer) [default: consumers + 2, so
    /// that readers never make the writer wait or drop].
    #[arg(long, value_delimiter = ',', value_parser = parse_slots)]
    pub slots: Vec<usize>,

    /// What shm's writer does when readers hold every other slot: drop (a producer drop) or
    /// wait. [default: drop]
    #[arg(long, value_delimiter = ',', value_parser = parse_slot_policy)]
    pub slot_policy: Vec<SlotPolicy>,

    /// Frames each consumer's queue holds (queue), the ring's capacity (broadcast).
    /// [default: 2]
    #[arg(long, value_delimiter = ',', value_parser = fbench_harness::config::parse_queue_depth)]
    pub queue_depth: Vec<usize>,

    /// What a full consumer queue does (queue): block (the producer waits), oldest (discard
    /// the oldest queued frame), newest (skip the arriving frame for that consumer).
    /// [default: block]
    #[arg(long, value_delimiter = ',', value_parser = fbench_harness::config::parse_drop_policy)]
    pub drop_policy: Vec<fbench_strategies::DropPolicy>,

    /// Put the consumers on another host, simulated: netns (a network namespace the run
    /// creates, joined by a veth pair with link-local addresses; root; zenoh-tcp only).
    #[arg(long, value_name = "PLACEMENT", value_parser = fbench_harness::remote::parse_remote)]
    pub remote: Option<String>,

    /// Shape the link to --remote consumers with tc netem: a rate, optionally a one-way
    /// delay each way, e.g. 1gbit, 10gbit,delay=200us. [default: unshaped]
    #[arg(long, value_parser = fbench_harness::remote::parse_link)]
    pub link: Option<fbench_harness::remote::Link>,

    /// Length of the intervals of latency over time (the report's `timeline`, the .hlog
    /// export, the time charts), e.g. 100ms, 1s. [default: 1s]
    #[arg(long, value_parser = fbench_harness::timeline::parse_interval)]
    pub interval: Option<Duration>,

    /// How the in-process strategies wake blocked readers: futex (the one waker shm uses too)
    /// or condvar (parking_lot's condition variable, to measure the difference).
    /// [default: futex]
    #[arg(long, value_delimiter = ',', value_parser = fbench_harness::config::parse_waker)]
    pub waker: Vec<fbench_strategies::Waker>,

    /// Inject a fault, times from the start of measuring: stall:<consumer>@<t>:<dur> (hold a
    /// frame), kill:<consumer>@<t> (SIGKILL a consumer process, end a consumer thread),
    /// burst:@<t>:<dur>:<fps> (the producer runs faster). May be repeated.
    #[arg(long, value_parser = |s: &str| s.parse::<Fault>())]
    pub fault: Vec<Fault>,

    /// Run the user's own program as consumer processes instead of fbench's loop, for the
    /// cross-process strategies: CMD (every consumer) or COUNT:CMD (the first COUNT), run as
    /// `/bin/sh -c "exec CMD"`; it attaches with fbench's consumer library (Rust, or Python
    /// from python/) and is measured by the same definitions. May be repeated.
    #[arg(long, value_parser = |s: &str| s.parse::<fbench_harness::runner::external::ConsumerCommand>())]
    pub consumer_cmd: Vec<fbench_harness::runner::external::ConsumerCommand>,
}

/// How the scheduler treats a machine other processes are loading, shared by every command
/// that runs (`run`, `sweep`, `soak`, `capacity`).
#[derive(Clone, Debug, Args)]
pub struct ScheduleFlags {
    /// Run a trial again when other processes used more than this many CPUs during it
    /// (the report's `cpu.other_load_cpus`), e.g. 0.25 or 1.
    #[arg(long, value_name = "CPUS", default_value_t = 0.25, value_parser = parse_other_load)]
    pub max_other_load: f64,

    /// Re-runs of one trial at most; a trial still busy after them is kept, marked `busy`
    /// (0: never re-run, e.g. on a CI runner that is always shared).
    #[arg(long, value_name = "N", env = "FBENCH_RETRIES", default_value_t = 2, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub retries: u32,
}

impl Default for ScheduleFlags {
    fn default() -> Self {
        ScheduleFlags {
            max_other_load: 0.25,
            retries: 2,
        }
    }
}

pub fn parse_other_load(text: &str) -> Result<f64, String> {
    let cpus: f64 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a number of CPUs (e.g. 0.25)"))?;
    if !(cpus.is_finite() && cpus >= 0.0) {
        return Err("must be 0 or more CPUs (e.g. 0.25)".to_string());
    }
    Ok(cpus)
}

/// Most trials per configuration `--repeat` accepts.
pub const MAX_REPEAT: usize = 1000;

/// `--repeat`: 1 to [`MAX_REPEAT`] trials.
pub fn parse_repeat(text: &str) -> Result<usize, String> {
    let n = parse_count(text)?;
    if n > MAX_REPEAT {
        return Err(format!("at most {MAX_REPEAT} trials per configuration"));
    }
    Ok(n)
}

/// Where reports go, shared by every command that writes one.
#[derive(Clone, Debug, Args)]
pub struct OutputFlags {
    /// Write the JSON report here (default: a timestamped file in --out); the HTML report
    /// goes beside it.
    #[arg(long)]
    pub json: Option<PathBuf>,

    /// Directory for output files.
    #[arg(long, default_value = "target/fbench")]
    pub out: PathBuf,

    /// No progress bar and no notes on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// What a command runs when a run flag is not given.
pub struct Defaults {
    pub consumers: &'static [usize],
    pub duration: Duration,
    pub resolution: Resolution,
}

impl Defaults {
    pub fn run() -> Defaults {
        let config = RunConfig::default_config();
        Defaults {
            consumers: &[5],
            duration: config.duration,
            resolution: config.frame.resolution,
        }
    }

    pub fn sweep() -> Defaults {
        Defaults {
            consumers: &[1, 5, 20],
            ..Defaults::run()
        }
    }

    pub fn soak() -> Defaults {
        Defaults {
            duration: Duration::from_secs(600),
            resolution: Resolution::new(1280, 720),
            ..Defaults::run()
        }
    }
}

/// `values`, or `default` when the flag was not given.
fn or<T: Clone>(values: &[T], default: T) -> Vec<T> {
    if values.is_empty() {
        vec![default]
    } else {
        values.to_vec()
    }
}

impl RunFlags {
    /// What the source needs to know before it is opened: one value of each frame flag
    /// (a file or a camera is one geometry and one rate; the synthetic source takes the
    /// first of a list, the sweep varies the rest).
    pub fn source_request(
        &self,
        defaults: &Defaults,
    ) -> anyhow::Result<crate::source::SourceRequest> {
        let first = self.source.first().cloned().unwrap_or(SourceArg::Synthetic);
        let synthetic = matches!(first, SourceArg::Synthetic | SourceArg::CameraSim);
        fn one<T: Copy>(flag: &str, values: &[T], synthetic: bool) -> anyhow::Result<Option<T>> {
            if values.len() > 1 && !synthetic {
                return Err(UsageError(format!(
                    "{flag}: a y4m or camera source takes one value, not a list"
                ))
                .into());
            }
            Ok(values.first().copied())
        }
        let resolution = one("--resolution", &self.resolution, synthetic)?;
        Ok(crate::source::SourceRequest {
            others: self.source.iter().skip(1).cloned().collect(),
            source: first.clone(),
            source_memory: self.source_memory,
            resolution: match (&first, resolution) {
                (SourceArg::Synthetic | SourceArg::CameraSim, None) => Some(defaults.resolution),
                (_, given) => given,
            },
            format: one("--format", &self.format, synthetic)?,
            fps: one("--fps", &self.fps, synthetic)?,
        })
    }

    /// The runs these flags stand for, over `source` (configured from
    /// [`RunFlags::source_request`]).
    pub fn spec(&self, defaults: &Defaults, source: &crate::source::Configured) -> SweepSpec {
        let base = RunConfig::default_config();
        SweepSpec {
            source: source.spec.clone(),
            strategies: self
                .strategy
                .clone()
                .map_or_else(|| registry::current().all(), |list| list.0),
            consumers: if self.consumers.is_empty() {
                defaults.consumers.to_vec()
            } else {
                self.consumers.clone()
            },
            resolution: or(&self.resolution, source.frame.resolution),
            format: or(&self.format, source.frame.format),
            fps: or(&self.fps, source.fps),
            duration: or(&self.duration, defaults.duration),
            warmup: or(&self.warmup, base.warmup),
            workload: or(&self.workload, base.workload),
            slow: self.slow.clone(),
            wait: or(&self.wait, Wait(base.wait))
                .into_iter()
                .map(|w| w.0)
                .collect(),
            verify: or(&self.verify, base.verify),
            deadline_tolerance: or(&self.deadline_tolerance, base.deadline_tolerance),
            pool_size: or(&self.pool_size, base.pool_size),
            pool_policy: or(&self.pool_policy, base.pool_policy),
            slots: if self.slots.is_empty() {
                vec![base.slots]
            } else {
                self.slots.iter().copied().map(Some).collect()
            },
            waker: or(&self.waker, base.waker),
            slot_policy: or(&self.slot_policy, base.slot_policy),
            queue_depth: or(&self.queue_depth, base.queue_depth),
            drop_policy: or(&self.drop_policy, base.drop_policy),
            faults: self.fault.clone(),
            interval: self.interval.unwrap_or(base.interval),
            remote: fbench_harness::remote::Remote {
                netns: self.remote.is_some(),
                link: self.link,
            },
            consumer_cmd: self.consumer_cmd.clone(),
            stream_sources: source.others.clone(),
            streams: or(&self.streams, base.streams),
            stream_phase: self.stream_phase,
        }
    }
}

/// `512MB`, `2GB`, `1.5GiB`, `4096`: a byte count for `--source-memory`.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let accepted = "a size with a unit: B, kB, MB, GB, KiB, MiB or GiB (e.g. 512MB)";
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a size; accepted: {accepted}"))?;
    let scale = match unit.trim() {
        "" | "B" => 1.0,
        "kB" | "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        _ => {
            return Err(format!(
                "'{text}' has an unknown unit; accepted: {accepted}"
            ))
        }
    };
    let bytes = value * scale;
    if !(bytes.is_finite() && bytes >= 1.0 && bytes < u64::MAX as f64) {
        return Err(format!("'{text}' must be at least 1 byte"));
    }
    Ok(bytes as u64)
}

pub fn parse_slots(text: &str) -> Result<usize, String> {
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

pub fn parse_slot_policy(text: &str) -> Result<SlotPolicy, String> {
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
pub struct StrategyList(pub Vec<StrategyRef>);

/// `--strategy`: names of the binary's registry (the built-ins and its own), `all`, `peers`,
/// `custom`.
pub fn parse_strategies(text: &str) -> Result<StrategyList, String> {
    registry::current().resolve(text).map(StrategyList)
}

pub fn parse_count(text: &str) -> Result<usize, String> {
    let n: usize = text
        .parse()
        .map_err(|_| format!("'{text}' is not a whole number"))?;
    if n == 0 {
        return Err("must be at least 1".to_string());
    }
    Ok(n)
}

pub fn parse_fps(text: &str) -> Result<f64, String> {
    let fps: f64 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a number of frames per second"))?;
    if !(fps.is_finite() && fps > 0.0) {
        return Err("must be above 0 (e.g. 30)".to_string());
    }
    Ok(fps)
}

pub fn parse_tolerance(text: &str) -> Result<f64, String> {
    let t: f64 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a number"))?;
    if !(t.is_finite() && t >= 0.0) {
        return Err("must be 0 or more (e.g. 0.1 for 10%)".to_string());
    }
    Ok(t)
}
