//! A run's configuration, validated before anything runs, and the small value parsers the
//! command line shares with scenario files.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use fbench_strategies::{DropPolicy, PoolPolicy, SlotPolicy, StrategyParams, WaitMode, Waker};
use serde::{Deserialize, Serialize};

pub use crate::units::{
    format_duration, human_bytes, parse_duration, ConfigError, MAX_CONSUMERS, MAX_FPS,
};

use crate::frame::FrameSpec;
use crate::integrity::VerifyMode;
use crate::source::{SourceDetail, SourceSpec};
use crate::workload::{SlowConsumers, Workload};

/// `--wait`: how consumers wait for a newer frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wait(pub WaitMode);

impl fmt::Display for Wait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            WaitMode::Block => f.write_str("block"),
            WaitMode::Spin => f.write_str("spin"),
            WaitMode::Poll(d) => write!(f, "poll:{}", format_duration(d)),
        }
    }
}

impl FromStr for Wait {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once(':') {
            None if s == "block" => Ok(Wait(WaitMode::Block)),
            None if s == "spin" => Ok(Wait(WaitMode::Spin)),
            Some(("poll", d)) => {
                let d = parse_duration(d).map_err(|e| format!("'{s}': {e}"))?;
                if d.is_zero() {
                    return Err(format!("'{s}': the poll interval must be above zero"));
                }
                Ok(Wait(WaitMode::Poll(d)))
            }
            _ => Err(format!(
                "unknown wait mode '{s}'; accepted: block, spin, poll:<interval> (e.g. poll:1ms)"
            )),
        }
    }
}

/// `--pool-policy`.
pub fn parse_pool_policy(s: &str) -> Result<PoolPolicy, String> {
    match s {
        "grow" => Ok(PoolPolicy::Grow),
        "drop" => Ok(PoolPolicy::Drop),
        _ => Err(format!("unknown pool policy '{s}'; accepted: grow, drop")),
    }
}

/// `--drop-policy`.
pub fn parse_drop_policy(s: &str) -> Result<DropPolicy, String> {
    DropPolicy::from_name(s)
        .ok_or_else(|| format!("unknown drop policy '{s}'; accepted: block, oldest, newest"))
}

/// `--queue-depth`: frames one consumer's queue holds.
pub fn parse_queue_depth(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=MAX_QUEUE_DEPTH).contains(&n) => Ok(n),
        _ => Err(format!(
            "'{s}' is not accepted; must be a whole number from 1 to {MAX_QUEUE_DEPTH}"
        )),
    }
}

/// The deepest queue accepted: every queued frame may be a frame of memory.
pub const MAX_QUEUE_DEPTH: usize = 1024;

/// `--waker`: futex or condvar.
pub fn parse_waker(s: &str) -> Result<Waker, String> {
    Waker::from_name(s).ok_or_else(|| format!("unknown waker '{s}'; accepted: futex, condvar"))
}

pub fn pool_policy_name(policy: PoolPolicy) -> &'static str {
    match policy {
        PoolPolicy::Grow => "grow",
        PoolPolicy::Drop => "drop",
    }
}

/// The most streams one run may have: each is a producer thread, a strategy instance and
/// its own consumers, so this is already far past what one machine sustains at video rates.
pub const MAX_STREAMS: usize = 64;

/// `--stream-phase`: where the streams' schedules sit against each other.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StreamPhase {
    /// Stream `i` is due `i × period / K` after stream 0, as independent cameras would be
    /// (their frames are not all due at the same instant).
    #[default]
    Spread,
    /// Every stream is due at the same instants: the worst case for the machine.
    Aligned,
}

impl StreamPhase {
    pub fn name(self) -> &'static str {
        match self {
            StreamPhase::Spread => "spread",
            StreamPhase::Aligned => "aligned",
        }
    }
}

impl fmt::Display for StreamPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for StreamPhase {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "spread" => Ok(StreamPhase::Spread),
            "aligned" => Ok(StreamPhase::Aligned),
            _ => Err(format!(
                "unknown stream phase '{s}'; accepted: spread, aligned"
            )),
        }
    }
}

/// `--streams`: 1 to [`MAX_STREAMS`].
pub fn parse_streams(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=MAX_STREAMS).contains(&n) => Ok(n),
        _ => Err(format!(
            "'{s}' is not accepted; must be a whole number from 1 to {MAX_STREAMS}"
        )),
    }
}

/// Everything one run needs, already validated (see [`RunConfig::validate`]).
#[derive(Clone, Debug)]
pub struct RunConfig {
    pub source: SourceSpec,
    pub frame: FrameSpec,
    pub fps: f64,
    pub duration: Duration,
    pub warmup: Duration,
    pub consumers: usize,
    pub workload: Workload,
    pub slow: Vec<SlowConsumers>,
    pub wait: WaitMode,
    pub verify: VerifyMode,
    /// A frame misses its deadline when end-to-end exceeds period x (1 + tolerance).
    pub deadline_tolerance: f64,
    pub pool_size: usize,
    pub pool_policy: PoolPolicy,
    /// Frame slots of the `shm` strategies; `None`: consumers + 2 (`shm`'s module doc).
    pub slots: Option<usize>,
    pub slot_policy: SlotPolicy,
    /// Frames each consumer's queue holds (`queue`; the ring of `broadcast`).
    pub queue_depth: usize,
    /// What a full consumer queue does (`queue`).
    pub drop_policy: DropPolicy,
    /// How the in-process strategies wake blocked readers (`shm` always uses the futex).
    pub waker: Waker,
    /// Faults injected into the run (`--fault`), see [`crate::faults`].
    pub faults: Vec<crate::faults::Fault>,
    /// Length of the intervals of latency over time (`--interval`), see [`crate::timeline`].
    pub interval: Duration,
    /// Where the consumers live (`--remote`, `--link`), see [`crate::remote`].
    pub remote: crate::remote::Remote,
    /// Consumers that are the user's own processes (`--consumer-cmd`), see
    /// [`crate::runner::external`]; empty: fbench's own loop for every consumer.
    pub consumer_cmd: Vec<crate::runner::external::ConsumerCommand>,
    /// Independent streams of the run (`--streams`): each its own source, producer thread,
    /// strategy instance and `consumers` consumers (see [`crate::streams`]).
    pub streams: usize,
    /// Where the streams' schedules sit against each other (`--stream-phase`).
    pub stream_phase: StreamPhase,
    /// The sources of streams 1, 2, … when `--source` lists several (stream 0's is
    /// `source`); stream i takes the list's i-th, cycling. Empty: `source` feeds every
    /// stream (each stream its own instance of it).
    pub stream_sources: Vec<SourceSpec>,
}

impl RunConfig {
    /// A laptop-friendly default: 1080p rgb24 at 30 fps, 5 consumers inspecting frames.
    pub fn default_config() -> Self {
        RunConfig {
            source: SourceSpec::Synthetic,
            frame: FrameSpec {
                resolution: crate::frame::Resolution::new(1920, 1080),
                format: crate::frame::PixelFormat::Rgb24,
            },
            fps: 30.0,
            duration: Duration::from_secs(5),
            warmup: Duration::from_secs(1),
            consumers: 5,
            workload: Workload::Inspect,
            slow: Vec::new(),
            wait: WaitMode::Block,
            verify: VerifyMode::Stamps,
            deadline_tolerance: 0.1,
            pool_size: fbench_strategies::DEFAULT_POOL_SIZE,
            pool_policy: PoolPolicy::Grow,
            slots: None,
            slot_policy: SlotPolicy::Drop,
            queue_depth: fbench_strategies::DEFAULT_QUEUE_DEPTH,
            drop_policy: DropPolicy::Block,
            waker: Waker::Futex,
            faults: Vec::new(),
            interval: crate::timeline::DEFAULT_INTERVAL,
            remote: crate::remote::Remote::default(),
            consumer_cmd: Vec::new(),
            streams: 1,
            stream_phase: StreamPhase::Spread,
            stream_sources: Vec::new(),
        }
    }

    /// The source of stream `stream`: the `--source` list's entry, cycling.
    pub fn source_of(&self, stream: usize) -> &SourceSpec {
        let count = 1 + self.stream_sources.len();
        match stream % count {
            0 => &self.source,
            i => &self.stream_sources[i - 1],
        }
    }

    /// How far stream `stream`'s schedule lies after the run's: `stream × period / K` when
    /// spread (so K cameras' frames are not all due at once), 0 when aligned.
    ///
    /// ```
    /// use fbench_harness::config::{RunConfig, StreamPhase};
    ///
    /// let mut config = RunConfig::default_config(); // 30 fps
    /// config.streams = 4;
    /// assert_eq!(config.stream_offset_ns(0), 0);
    /// assert_eq!(config.stream_offset_ns(2), 16_666_666); // half of 33.3 ms
    /// config.stream_phase = StreamPhase::Aligned;
    /// assert_eq!(config.stream_offset_ns(2), 0);
    /// ```
    pub fn stream_offset_ns(&self, stream: usize) -> u64 {
        match self.stream_phase {
            StreamPhase::Aligned => 0,
            StreamPhase::Spread => self.period_ns() * stream as u64 / self.streams.max(1) as u64,
        }
    }

    /// The configuration of stream `stream` alone: the run's, with its own source
    /// ([`RunConfig::source_of`]) and only the `--slow` groups that apply to that stream
    /// (untargeted ones and those aimed `@stream<stream>`).
    ///
    /// ```
    /// use fbench_harness::config::RunConfig;
    /// use fbench_harness::source::SourceSpec;
    ///
    /// let mut config = RunConfig::default_config(); // 5 consumers
    /// config.streams = 3;
    /// config.slow = vec!["1:sleep:50ms@stream1".parse().unwrap()];
    /// config.stream_sources = vec![SourceSpec::CameraSim { period_ns: 33_333_333 }];
    /// assert_eq!(config.for_stream(0).workload_of(4).to_string(), "inspect");
    /// assert_eq!(config.for_stream(1).workload_of(4).to_string(), "sleep:50ms");
    /// let sources: Vec<String> = (0..3).map(|i| config.for_stream(i).source.name()).collect();
    /// assert_eq!(sources, ["synthetic", "camera-sim", "synthetic"]);
    /// ```
    pub fn for_stream(&self, stream: usize) -> RunConfig {
        RunConfig {
            source: self.source_of(stream).clone(),
            stream_sources: Vec::new(),
            slow: self
                .slow
                .iter()
                .filter(|group| group.stream.map_or(true, |s| s == stream))
                .map(|group| SlowConsumers {
                    stream: None,
                    ..*group
                })
                .collect(),
            ..self.clone()
        }
    }

    pub fn frame_len(&self) -> usize {
        self.frame
            .frame_len()
            .expect("RunConfig::validate checks the frame size")
    }

    pub fn period_ns(&self) -> u64 {
        (1e9 / self.fps).round() as u64
    }

    /// The workload of consumer `id`: the `--slow` groups take the last consumers.
    pub fn workload_of(&self, id: usize) -> Workload {
        let mut first_slow = self.consumers;
        for group in self.slow.iter().rev() {
            first_slow = first_slow.saturating_sub(group.count);
            if id >= first_slow {
                return group.workload;
            }
        }
        self.workload
    }

    pub fn strategy_params(&self) -> StrategyParams {
        StrategyParams {
            frame_len: self.frame_len(),
            consumers: self.consumers,
            pool_size: self.pool_size,
            pool_policy: self.pool_policy,
            slots: self.slots,
            slot_policy: self.slot_policy,
            queue_depth: self.queue_depth,
            drop_policy: self.drop_policy,
            waker: self.waker,
            width: self.frame.resolution.width,
            height: self.frame.resolution.height,
            format: self.frame.format.code(),
        }
    }

    /// Check every value and their combinations before anything is allocated or started.
    /// `available_memory` is what the machine can give (bytes).
    pub fn validate(
        &self,
        strategies: &[fbench_strategies::Descriptor],
        available_memory: u64,
    ) -> Result<(), ConfigError> {
        if self.consumers == 0 {
            return Err(ConfigError::new("--consumers", "must be at least 1"));
        }
        if self.consumers > MAX_CONSUMERS {
            return Err(ConfigError::new(
                "--consumers",
                format!(
                    "{} is more than the {MAX_CONSUMERS} supported",
                    self.consumers
                ),
            ));
        }
        if !(self.fps.is_finite() && self.fps > 0.0 && self.fps <= MAX_FPS) {
            return Err(ConfigError::new(
                "--fps",
                format!("must be above 0 and at most {MAX_FPS}, got {}", self.fps),
            ));
        }
        if self.duration.is_zero() {
            return Err(ConfigError::new("--duration", "must be above zero"));
        }
        if !(self.deadline_tolerance.is_finite() && self.deadline_tolerance >= 0.0) {
            return Err(ConfigError::new(
                "--deadline-tolerance",
                "must be 0 or more",
            ));
        }
        let names: Vec<&str> = strategies.iter().map(|d| d.name).collect();
        self.remote
            .check(&names)
            .map_err(|(flag, message)| ConfigError::new(flag, message))?;
        if self.remote.netns && !self.consumer_cmd.is_empty() {
            return Err(ConfigError::new(
                "--remote",
                "netns moves fbench's own consumer processes, not --consumer-cmd ones; leave one of the two out",
            ));
        }
        if self.pool_size < 2 {
            // One buffer is always the published frame; the producer needs another to
            // render into, or every frame after the first would be refused.
            return Err(ConfigError::new("--pool-size", "must be at least 2"));
        }
        if self.duration.as_nanos() < u128::from(self.period_ns()) {
            return Err(ConfigError::new(
                "--duration",
                format!(
                    "must cover at least one frame period ({} at {} fps)",
                    format_duration(Duration::from_nanos(self.period_ns())),
                    self.fps
                ),
            ));
        }
        crate::faults::validate(&self.faults, self.consumers, self.duration)?;
        if self.interval < crate::timeline::MIN_INTERVAL {
            return Err(ConfigError::new(
                "--interval",
                format!(
                    "must be at least {}",
                    format_duration(crate::timeline::MIN_INTERVAL)
                ),
            ));
        }
        if !(1..=MAX_STREAMS).contains(&self.streams) {
            return Err(ConfigError::new(
                "--streams",
                format!("must be from 1 to {MAX_STREAMS}, got {}", self.streams),
            ));
        }
        if let Some(group) = self
            .slow
            .iter()
            .find(|g| g.stream.is_some_and(|s| s >= self.streams))
        {
            return Err(ConfigError::new(
                "--slow",
                format!(
                    "{group}: there is no such stream; streams are numbered 0 to {} (--streams)",
                    self.streams - 1
                ),
            ));
        }
        for stream in 0..self.streams {
            let slow: usize = self.for_stream(stream).slow.iter().map(|s| s.count).sum();
            if slow > self.consumers {
                return Err(ConfigError::new(
                    "--slow",
                    format!(
                        "{slow} slow consumers but only {} consumers in all (raise --consumers)",
                        self.consumers
                    ),
                ));
            }
        }
        let sources = 1 + self.stream_sources.len();
        if sources > self.streams {
            return Err(ConfigError::new(
                "--source",
                format!(
                    "{sources} sources for {} streams; give at most one per stream (--streams)",
                    self.streams
                ),
            ));
        }
        if let Some(device) = (0..sources)
            .map(|i| self.source_of(i))
            .find(|s| s.is_device())
            .filter(|_| self.streams > sources)
        {
            return Err(ConfigError::new(
                "--streams",
                format!(
                    "{} is one device and cannot feed several of the {} streams; use synthetic, camera-sim or y4m:PATH, or one source per stream",
                    device.name(),
                    self.streams
                ),
            ));
        }
        for source in std::iter::once(&self.source).chain(&self.stream_sources) {
            let Some(fixed) = source.frame_spec() else {
                continue;
            };
            if fixed != self.frame {
                return Err(ConfigError::new(
                    "--source",
                    format!(
                        "{} gives {} {} frames, not {} {}",
                        source.name(),
                        fixed.resolution,
                        fixed.format,
                        self.frame.resolution,
                        self.frame.format
                    ),
                ));
            }
        }
        let frame_len = self
            .frame
            .frame_len()
            .map_err(|e| ConfigError::new("--resolution", e))?;
        let scratch = (0..self.consumers)
            .filter(|&id| self.workload_of(id).needs_scratch())
            .count();
        for kind in strategies {
            let frames = (kind.resident_frames)(&self.strategy_params()) + scratch;
            let needed = (frame_len as u64)
                .saturating_mul(frames as u64)
                .saturating_mul(self.streams as u64);
            if needed > available_memory {
                return Err(ConfigError::new(
                    "--resolution",
                    format!(
                        "a {} {} frame is {} and the {} run holds {} of them ({}), but only {} of memory is available; choose a smaller --resolution or fewer --consumers",
                        self.frame.resolution,
                        self.frame.format,
                        human_bytes(frame_len as u64),
                        kind.name,
                        frames * self.streams,
                        human_bytes(needed),
                        human_bytes(available_memory)
                    ),
                ));
            }
        }
        self.validate_consumer_cmd(strategies)
    }

    /// `--consumer-cmd`: commands that can be started, and only for strategies whose
    /// consumers are processes.
    fn validate_consumer_cmd(
        &self,
        strategies: &[fbench_strategies::Descriptor],
    ) -> Result<(), ConfigError> {
        if self.consumer_cmd.is_empty() {
            return Ok(());
        }
        for command in &self.consumer_cmd {
            command
                .check()
                .map_err(|e| ConfigError::new("--consumer-cmd", e))?;
        }
        if let Some(threads) = strategies.iter().find(|d| !d.cross_process) {
            return Err(ConfigError::new(
                "--consumer-cmd",
                format!(
                    "strategy {} runs its consumers as threads of fbench; an external consumer needs a cross-process strategy (shm, shm-naive, iceoryx2 in a --features peers build, or a CrossProcess strategy of your own)",
                    threads.name
                ),
            ));
        }
        Ok(())
    }
}

/// The configuration as recorded in a report (`runs[].config`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfigRecord {
    pub source: String,
    /// What a file or device said about itself (frame count, colour space, granted format).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_detail: Option<SourceDetail>,
    pub width: u32,
    pub height: u32,
    pub format: String,
    pub frame_bytes: u64,
    pub fps: f64,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub workload: String,
    pub slow: Vec<String>,
    pub wait: String,
    pub verify: String,
    pub deadline_tolerance: f64,
    pub pool_size: usize,
    pub pool_policy: String,
    /// Frame slots and slot policy of the shm strategies. `slots` is the count used: the one
    /// given, or the default of consumers + 2.
    #[serde(default)]
    pub slots: usize,
    /// `slots` is the default, consumers + 2 (no `--slots`): it then follows the consumer
    /// count rather than being a dimension of its own.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub slots_default: bool,
    #[serde(default)]
    pub slot_policy: String,
    /// Queue depth and drop policy of `queue` (depth also `broadcast`'s ring); absent in
    /// reports from before they existed.
    #[serde(default)]
    pub queue_depth: usize,
    #[serde(default)]
    pub drop_policy: String,
    /// Length of the `timeline` intervals, seconds; `null` in reports written before fbench
    /// recorded latency over time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_s: Option<f64>,
    /// `futex` or `condvar` (`--waker`); reports written before the flag existed used the
    /// condvar and read as "".
    #[serde(default)]
    pub waker: String,
    /// Consumers on another host, simulated (`--remote netns`), and the link's shaping:
    /// e.g. `netns, link 1gbit,delay=200us`. Absent when consumers ran on this host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
    /// Independent streams of the run (`--streams`), each with `consumers` consumers; 0 in
    /// reports written before fbench ran several (they ran 1).
    #[serde(default)]
    pub streams: usize,
    /// `spread` or `aligned` (`--stream-phase`); always `spread` for a run of one stream,
    /// where the phase changes nothing (so it never splits one configuration in two); ""
    /// in reports written before it was recorded.
    #[serde(default)]
    pub stream_phase: String,
    /// The sources of streams 1, 2, … when `--source` listed several (`source` is stream
    /// 0's); absent when one source fed every stream.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stream_sources: Vec<String>,
}

impl RunConfig {
    pub fn record(&self) -> ConfigRecord {
        ConfigRecord {
            source: self.source.name(),
            source_detail: self.source.detail(),
            width: self.frame.resolution.width,
            height: self.frame.resolution.height,
            format: self.frame.format.name().to_string(),
            frame_bytes: self.frame_len() as u64,
            fps: self.fps,
            duration_s: self.duration.as_secs_f64(),
            warmup_s: self.warmup.as_secs_f64(),
            workload: self.workload.to_string(),
            slow: self.slow.iter().map(|s| s.to_string()).collect(),
            wait: Wait(self.wait).to_string(),
            verify: self.verify.name().to_string(),
            deadline_tolerance: self.deadline_tolerance,
            pool_size: self.pool_size,
            pool_policy: pool_policy_name(self.pool_policy).to_string(),
            slots: self.strategy_params().shm_slots(),
            slots_default: self.slots.is_none(),
            slot_policy: match self.slot_policy {
                SlotPolicy::Drop => "drop",
                SlotPolicy::Wait => "wait",
            }
            .to_string(),
            queue_depth: self.queue_depth,
            drop_policy: self.drop_policy.name().to_string(),
            interval_s: Some(self.interval.as_secs_f64()),
            waker: self.waker.name().to_string(),
            remote: self.remote.describe(),
            streams: self.streams,
            stream_phase: if self.streams > 1 {
                self.stream_phase
            } else {
                StreamPhase::Spread
            }
            .name()
            .to_string(),
            stream_sources: self.stream_sources.iter().map(|s| s.name()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("3s").unwrap(), Duration::from_secs(3));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("250us").unwrap(), Duration::from_micros(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        for bad in ["", "s", "3 parsecs", "-1s", "1e999s", "9999h", "1.2.3s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(format_duration(Duration::from_millis(50)), "50ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_duration(Duration::from_secs(120)), "2m");
    }

    #[test]
    fn wait_modes_parse() {
        assert_eq!("block".parse::<Wait>().unwrap().0, WaitMode::Block);
        assert_eq!("spin".parse::<Wait>().unwrap().0, WaitMode::Spin);
        assert_eq!(
            "poll:2ms".parse::<Wait>().unwrap().0,
            WaitMode::Poll(Duration::from_millis(2))
        );
        for bad in ["", "poll", "poll:0ms", "sleep", "poll:x"] {
            assert!(bad.parse::<Wait>().is_err(), "{bad}");
        }
    }

    #[test]
    fn slow_groups_take_the_last_consumers() {
        let mut config = RunConfig::default_config();
        config.consumers = 5;
        config.slow = vec!["2:sleep:50ms".parse().unwrap(), "1:copy".parse().unwrap()];
        let workloads: Vec<String> = (0..5)
            .map(|id| config.workload_of(id).to_string())
            .collect();
        assert_eq!(
            workloads,
            ["inspect", "inspect", "sleep:50ms", "sleep:50ms", "copy"]
        );
    }

    #[test]
    fn validation_names_the_flag() {
        let all: Vec<_> = crate::Registry::builtin()
            .all()
            .iter()
            .map(|s| *s.descriptor())
            .collect();
        let mut config = RunConfig::default_config();
        assert!(config.validate(&all, u64::MAX).is_ok());
        config.consumers = 0;
        assert_eq!(
            config.validate(&all, u64::MAX).unwrap_err().flag,
            "--consumers"
        );
        let mut config = RunConfig::default_config();
        config.fps = 0.0;
        assert_eq!(config.validate(&all, u64::MAX).unwrap_err().flag, "--fps");
        let mut config = RunConfig::default_config();
        config.slow = vec!["6:sleep:1ms".parse().unwrap()];
        assert_eq!(config.validate(&all, u64::MAX).unwrap_err().flag, "--slow");
        let config = RunConfig::default_config();
        let err = config.validate(&all, 10_000_000).unwrap_err();
        assert_eq!(err.flag, "--resolution");
        assert!(err.message.contains("available"), "{}", err.message);
    }
}
