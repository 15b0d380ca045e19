//! A sweep: every chosen strategy across lists of run parameters, expanded into the plain
//! list of runs it stands for. `fbench run` is the one-point case, `fbench sweep` and
//! scenario files give lists.
//!
//! Expansion order is fixed so that reports read in a predictable order: outer parameters
//! (resolution, format, fps, …) change slowest, then the consumer count, and the strategy
//! changes fastest, so that the strategies of one configuration run back to back on a
//! machine in the same state.

use std::time::Duration;

use fbench_strategies::{DropPolicy, PoolPolicy, SlotPolicy, WaitMode};

use crate::config::{ConfigError, RunConfig};
use crate::frame::{PixelFormat, Resolution};
use crate::integrity::VerifyMode;
use crate::registry::StrategyRef;
use crate::source::SourceSpec;
use crate::workload::{SlowConsumers, Workload};

/// Lists of values for every run parameter. A list of one is a fixed value. `slow` is not a
/// dimension: its groups apply to every run of the sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepSpec {
    pub source: SourceSpec,
    pub strategies: Vec<StrategyRef>,
    pub consumers: Vec<usize>,
    pub resolution: Vec<Resolution>,
    pub format: Vec<PixelFormat>,
    pub fps: Vec<f64>,
    pub duration: Vec<Duration>,
    pub warmup: Vec<Duration>,
    pub workload: Vec<Workload>,
    pub slow: Vec<SlowConsumers>,
    pub wait: Vec<WaitMode>,
    pub verify: Vec<VerifyMode>,
    pub deadline_tolerance: Vec<f64>,
    pub pool_size: Vec<usize>,
    pub pool_policy: Vec<PoolPolicy>,
    /// Frame slots of the shm strategies (`None`: consumers + 2).
    pub slots: Vec<Option<usize>>,
    pub slot_policy: Vec<SlotPolicy>,
    /// Queue depths and drop policies of `queue`.
    pub queue_depth: Vec<usize>,
    pub drop_policy: Vec<DropPolicy>,
    /// Wakers of the in-process strategies (`--waker`).
    pub waker: Vec<fbench_strategies::Waker>,
    /// Faults injected into every run (`--fault`).
    pub faults: Vec<crate::faults::Fault>,
    /// Latency-over-time interval of every run (`--interval`; not a dimension).
    pub interval: Duration,
    /// Where every run's consumers live (`--remote`, `--link`; not a dimension).
    pub remote: crate::remote::Remote,
    /// The user's own consumer processes of every run (`--consumer-cmd`; not a dimension).
    pub consumer_cmd: Vec<crate::runner::external::ConsumerCommand>,
    /// Streams per run (`--streams`), a dimension: a run of 1 then 4 cameras.
    pub streams: Vec<usize>,
    /// The sources of streams 1, 2, … (`--source a,b`; not a dimension), see
    /// [`RunConfig::stream_sources`].
    pub stream_sources: Vec<SourceSpec>,
    /// Where the streams' schedules sit against each other (`--stream-phase`; not a
    /// dimension).
    pub stream_phase: crate::config::StreamPhase,
}

/// One run of a sweep.
#[derive(Clone, Debug)]
pub struct SweepPoint {
    pub strategy: StrategyRef,
    pub config: RunConfig,
}

impl SweepPoint {
    /// Wall-clock time the run takes (warm-up plus measured window), for ETAs.
    pub fn planned(&self) -> Duration {
        self.config.warmup + self.config.duration
    }
}

impl SweepSpec {
    /// The one-point sweep of `config` for `strategies`.
    pub fn single(strategies: Vec<StrategyRef>, config: &RunConfig) -> SweepSpec {
        SweepSpec {
            source: config.source.clone(),
            strategies,
            consumers: vec![config.consumers],
            resolution: vec![config.frame.resolution],
            format: vec![config.frame.format],
            fps: vec![config.fps],
            duration: vec![config.duration],
            warmup: vec![config.warmup],
            workload: vec![config.workload],
            slow: config.slow.clone(),
            wait: vec![config.wait],
            verify: vec![config.verify],
            deadline_tolerance: vec![config.deadline_tolerance],
            pool_size: vec![config.pool_size],
            pool_policy: vec![config.pool_policy],
            slots: vec![config.slots],
            slot_policy: vec![config.slot_policy],
            queue_depth: vec![config.queue_depth],
            drop_policy: vec![config.drop_policy],
            waker: vec![config.waker],
            faults: config.faults.clone(),
            interval: config.interval,
            remote: config.remote,
            consumer_cmd: config.consumer_cmd.clone(),
            streams: vec![config.streams],
            stream_sources: config.stream_sources.clone(),
            stream_phase: config.stream_phase,
        }
    }

    /// Every run, in report order (see the module docs). Repeated values in a list are run
    /// once.
    pub fn points(&self) -> Vec<SweepPoint> {
        let base = RunConfig {
            source: self.source.clone(),
            slow: self.slow.clone(),
            faults: self.faults.clone(),
            interval: self.interval,
            remote: self.remote,
            consumer_cmd: self.consumer_cmd.clone(),
            stream_phase: self.stream_phase,
            stream_sources: self.stream_sources.clone(),
            ..RunConfig::default_config()
        };
        let mut configs = vec![base];
        expand(&mut configs, &self.resolution, |c, v| {
            c.frame.resolution = *v
        });
        expand(&mut configs, &self.format, |c, v| c.frame.format = *v);
        expand(&mut configs, &self.fps, |c, v| c.fps = *v);
        expand(&mut configs, &self.duration, |c, v| c.duration = *v);
        expand(&mut configs, &self.warmup, |c, v| c.warmup = *v);
        expand(&mut configs, &self.workload, |c, v| c.workload = *v);
        expand(&mut configs, &self.wait, |c, v| c.wait = *v);
        expand(&mut configs, &self.verify, |c, v| c.verify = *v);
        expand(&mut configs, &self.deadline_tolerance, |c, v| {
            c.deadline_tolerance = *v
        });
        expand(&mut configs, &self.pool_size, |c, v| c.pool_size = *v);
        expand(&mut configs, &self.pool_policy, |c, v| c.pool_policy = *v);
        expand(&mut configs, &self.slots, |c, v| c.slots = *v);
        expand(&mut configs, &self.slot_policy, |c, v| c.slot_policy = *v);
        expand(&mut configs, &self.queue_depth, |c, v| c.queue_depth = *v);
        expand(&mut configs, &self.drop_policy, |c, v| c.drop_policy = *v);
        expand(&mut configs, &self.waker, |c, v| c.waker = *v);
        expand(&mut configs, &self.streams, |c, v| c.streams = *v);
        expand(&mut configs, &self.consumers, |c, v| c.consumers = *v);
        let strategies = distinct(&self.strategies);
        configs
            .into_iter()
            .flat_map(|config| {
                strategies.iter().map(move |&strategy| SweepPoint {
                    strategy: strategy.clone(),
                    config: config.clone(),
                })
            })
            .filter(|point| self.changes_the_strategy(point))
            .collect()
    }

    /// Whether a point is needed: a queue parameter swept beside strategies that do not use it
    /// would run those strategies again unchanged, so they run at its first value only.
    fn changes_the_strategy(&self, point: &SweepPoint) -> bool {
        let first_or_used = |used: bool, is_first: bool| used || is_first;
        let reads = |name| point.strategy.descriptor().parameters.contains(&name);
        let depth_used = reads("queue_depth");
        let policy_used = reads("drop_policy");
        first_or_used(
            depth_used,
            self.queue_depth.first() == Some(&point.config.queue_depth),
        ) && first_or_used(
            policy_used,
            self.drop_policy.first() == Some(&point.config.drop_policy),
        )
    }

    /// Check every point before anything runs, so a bad combination deep in a long sweep
    /// fails in a second. Empty lists are refused by name.
    pub fn validate(&self, available_memory: u64) -> Result<Vec<SweepPoint>, ConfigError> {
        let empty = [
            ("--strategy", self.strategies.is_empty()),
            ("--consumers", self.consumers.is_empty()),
            ("--streams", self.streams.is_empty()),
            ("--resolution", self.resolution.is_empty()),
            ("--format", self.format.is_empty()),
            ("--fps", self.fps.is_empty()),
            ("--duration", self.duration.is_empty()),
            ("--warmup", self.warmup.is_empty()),
            ("--workload", self.workload.is_empty()),
            ("--wait", self.wait.is_empty()),
            ("--verify", self.verify.is_empty()),
            ("--deadline-tolerance", self.deadline_tolerance.is_empty()),
            ("--pool-size", self.pool_size.is_empty()),
            ("--pool-policy", self.pool_policy.is_empty()),
            ("--queue-depth", self.queue_depth.is_empty()),
            ("--drop-policy", self.drop_policy.is_empty()),
        ];
        if let Some((flag, _)) = empty.iter().find(|(_, is_empty)| *is_empty) {
            return Err(ConfigError::new(flag, "needs at least one value"));
        }
        let points = self.points();
        for point in &points {
            point
                .config
                .validate(&[*point.strategy.descriptor()], available_memory)?;
        }
        Ok(points)
    }
}

/// Replace every config by one copy per value.
fn expand<T: PartialEq>(
    configs: &mut Vec<RunConfig>,
    values: &[T],
    set: impl Fn(&mut RunConfig, &T),
) {
    let values = distinct(values);
    let mut expanded = Vec::with_capacity(configs.len() * values.len());
    for config in configs.iter() {
        for value in &values {
            let mut next = config.clone();
            set(&mut next, value);
            expanded.push(next);
        }
    }
    *configs = expanded;
}

/// The values in first-seen order without repeats.
fn distinct<T: PartialEq>(values: &[T]) -> Vec<&T> {
    let mut seen: Vec<&T> = Vec::with_capacity(values.len());
    for value in values {
        if !seen.contains(&value) {
            seen.push(value);
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_vary_the_strategy_fastest_and_the_consumers_next() {
        let mut spec = SweepSpec::single(
            crate::Registry::builtin().resolve("mutex,pool").unwrap(),
            &RunConfig::default_config(),
        );
        spec.consumers = vec![1, 5, 1];
        spec.resolution = vec![Resolution::new(1280, 720), Resolution::new(1920, 1080)];
        let points = spec.points();
        let seen: Vec<(u32, usize, &str)> = points
            .iter()
            .map(|p| {
                (
                    p.config.frame.resolution.width,
                    p.config.consumers,
                    p.strategy.name(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                (1280, 1, "mutex"),
                (1280, 1, "pool"),
                (1280, 5, "mutex"),
                (1280, 5, "pool"),
                (1920, 1, "mutex"),
                (1920, 1, "pool"),
                (1920, 5, "mutex"),
                (1920, 5, "pool"),
            ]
        );
    }

    #[test]
    fn validation_checks_every_point_and_names_the_flag() {
        let all = crate::Registry::builtin().all();
        let mut spec = SweepSpec::single(all.clone(), &RunConfig::default_config());
        spec.consumers = vec![1, 2000];
        assert_eq!(spec.validate(u64::MAX).unwrap_err().flag, "--consumers");
        spec.consumers = vec![];
        let err = spec.validate(u64::MAX).unwrap_err();
        assert_eq!(err.to_string(), "--consumers: needs at least one value");
        spec.consumers = vec![1, 2];
        assert_eq!(spec.validate(u64::MAX).unwrap().len(), 2 * all.len());
    }
}
