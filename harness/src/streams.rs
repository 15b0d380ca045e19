//! Several streams in one run (`--streams K`): K independent cameras, each a source on its
//! own absolute schedule, a producer thread, a strategy instance and its own consumers. The
//! driver (`runner::drive`) measures each stream as it measures a run of one; this module
//! turns the K per-stream results into the run's record: one [`StreamRecord`] per stream
//! (`runs[].streams[]`) and the run-level figures over all of them.
//!
//! How the run-level figures aggregate:
//! - latency (age, acquire, publish, render, end-to-end): the streams' histograms merged,
//!   so a percentile is over every frame every consumer of every stream held;
//! - frame counts, misses, torn frames, copies, lost consumers: summed;
//! - loss and drop rates: the mean over every consumer of every stream (each stream has
//!   the same due frames, so this is also lost frames over all due frames), the worst
//!   consumer's loss beside it;
//! - memory, CPU and allocations: the whole run's (the one process and every consumer
//!   process), sampled once; per stream only what is attributable (its producer thread's
//!   and its consumers' CPU);
//! - `worst_stream`: the stream with the highest p99 age, ties broken by the higher loss,
//!   then by the lower index.
//!
//! A run of one stream is exactly the run fbench made before streams existed: no
//! `streams[]`, no `worst_stream`, nothing merged.

use serde::{Deserialize, Serialize};

use crate::metrics::{Latency, LatencySummary};
use crate::result::{CpuDemand, FrameCounts, RunResult};

/// One stream of a run of several (`runs[].streams[]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamRecord {
    /// The stream's index, from 0 (what `--slow ...@streamN` aims at).
    pub stream: usize,
    /// How far its schedule lies after stream 0's, ns (`--stream-phase`).
    pub phase_ns: u64,
    /// Its source.
    pub source: String,
    pub frames: FrameCounts,
    /// Delivery latency of its consumers, merged.
    pub age_ns: LatencySummary,
    pub e2e_ns: LatencySummary,
    pub drop_rate: f64,
    /// Mean loss over its consumers that finished; `null` when none did.
    pub loss_rate: Option<f64>,
    /// Its worst consumer's loss.
    pub loss_rate_max: Option<f64>,
    pub deadline_misses: u64,
    pub torn_frames: u64,
    pub out_of_order: u64,
    pub consumers_lost: u64,
    /// CPU per due frame of its producer thread and its consumers; `total_ns_per_frame` is
    /// theirs summed (the run's own overhead, e.g. the controller, is only in the run's).
    pub cpu_demand: Option<CpuDemand>,
}

impl StreamRecord {
    /// The record of stream `stream` from its own measured result.
    pub fn of(stream: usize, phase_ns: u64, run: &RunResult) -> StreamRecord {
        StreamRecord {
            stream,
            phase_ns,
            source: run.config.source.clone(),
            frames: run.frames,
            age_ns: run.age_ns.clone(),
            e2e_ns: run.e2e_ns.clone(),
            drop_rate: run.drop_rate,
            loss_rate: run.loss_rate,
            loss_rate_max: run.loss_rate_max,
            deadline_misses: run.deadline_misses,
            torn_frames: run.torn_frames,
            out_of_order: run.out_of_order,
            consumers_lost: run.consumers_lost,
            cpu_demand: run.cpu_demand,
        }
    }
}

/// The stream that did worst: highest p99 age (a stream whose consumers held nothing is
/// worst of all), ties by the higher worst-consumer loss, then the lower index; `None` for
/// no streams.
///
/// ```
/// use fbench_harness::metrics::Latency;
/// use fbench_harness::result::RunResult;
/// use fbench_harness::streams::{worst_stream, StreamRecord};
/// use fbench_harness::RunConfig;
///
/// let stream = |i: usize, age_ns: u64, loss: f64| {
///     let mut run = RunResult::empty("pool", 1, RunConfig::default_config().record());
///     let mut age = Latency::new();
///     age.record(age_ns);
///     run.age_ns = age.summary();
///     run.loss_rate_max = Some(loss);
///     StreamRecord::of(i, 0, &run)
/// };
/// let streams = [stream(0, 1_000_000, 0.0), stream(1, 9_000_000, 0.0), stream(2, 9_000_000, 0.2)];
/// assert_eq!(worst_stream(&streams), Some(2));
/// ```
pub fn worst_stream(streams: &[StreamRecord]) -> Option<usize> {
    let key = |s: &StreamRecord| {
        let age = if s.age_ns.measured() {
            s.age_ns.p99
        } else {
            u64::MAX
        };
        (age, s.loss_rate_max.unwrap_or(0.0))
    };
    streams
        .iter()
        .reduce(|worst, s| {
            let (worst_age, worst_loss) = key(worst);
            let (age, loss) = key(s);
            if age > worst_age || (age == worst_age && loss > worst_loss) {
                s
            } else {
                worst
            }
        })
        .map(|s| s.stream)
}

/// Why per-stream results could not be merged (a histogram that does not decode: a bug).
#[derive(Debug, thiserror::Error)]
#[error("merging the streams' figures: {0}")]
pub struct MergeError(String);

/// Merge summaries' histograms into one summary.
fn merged<'a>(
    summaries: impl Iterator<Item = &'a LatencySummary>,
) -> Result<LatencySummary, MergeError> {
    let mut all = Latency::new();
    for summary in summaries {
        all.add(&Latency::from_summary(summary).map_err(MergeError)?);
    }
    Ok(all.summary())
}

/// What only the whole run measured: sampled once for every stream together.
#[derive(Clone, Debug)]
pub struct Whole {
    /// The run's configuration (every stream's, with `streams` = K).
    pub config: crate::config::ConfigRecord,
    pub memory: crate::result::MemoryRecord,
    pub cpu: crate::metrics::CpuUsage,
    pub allocations: Option<u64>,
    /// From every producer's and every consumer's CPU over all due frames
    /// ([`CpuDemand::of`] on the pooled figures).
    pub cpu_demand: Option<CpuDemand>,
}

/// The run's record from its streams' results, in stream order (`phases[i]` is stream
/// `i`'s offset), aggregated as the module docs say. Each stream's result carries only what
/// is its own (its CPU demand is its producer's and consumers'); `whole` is what the run
/// measured as one.
///
/// ```
/// use fbench_harness::result::RunResult;
/// use fbench_harness::streams::{merge, Whole};
/// use fbench_harness::RunConfig;
///
/// let mut config = RunConfig::default_config();
/// config.streams = 2;
/// let stream = |due: u64| {
///     let mut run = RunResult::empty("pool", 5, RunConfig::default_config().record());
///     run.frames.due = due;
///     run
/// };
/// let whole = Whole {
///     config: config.record(),
///     memory: Default::default(),
///     cpu: Default::default(),
///     allocations: None,
///     cpu_demand: None,
/// };
/// let run = merge(vec![stream(150), stream(150)], &[0, 16_666_666], whole).unwrap();
/// assert_eq!(run.frames.due, 300);
/// assert_eq!(run.streams.len(), 2);
/// assert_eq!(run.streams[1].phase_ns, 16_666_666);
/// assert_eq!(run.consumers, 5, "consumers per stream");
/// ```
pub fn merge(
    streams: Vec<RunResult>,
    phases: &[u64],
    whole: Whole,
) -> Result<RunResult, MergeError> {
    let all = &streams;
    let Some(first) = all.first() else {
        return Err(MergeError("a run without streams".into()));
    };
    let records: Vec<StreamRecord> = all
        .iter()
        .enumerate()
        .map(|(i, r)| StreamRecord::of(i, phases.get(i).copied().unwrap_or(0), r))
        .collect();
    let mut run = first.clone();
    run.config = whole.config;
    run.memory = whole.memory;
    run.cpu = whole.cpu;
    run.copies.allocations = whole.allocations;
    run.cpu_demand = whole.cpu_demand;
    run.age_ns = merged(all.iter().map(|r| &r.age_ns))?;
    run.acquire_ns = merged(all.iter().map(|r| &r.acquire_ns))?;
    run.publish_ns = merged(all.iter().map(|r| &r.publish_ns))?;
    run.render_ns = merged(all.iter().map(|r| &r.render_ns))?;
    run.e2e_ns = merged(all.iter().map(|r| &r.e2e_ns))?;
    let mut frames = FrameCounts::default();
    for r in all {
        frames.due += r.frames.due;
        frames.produced += r.frames.produced;
        frames.published += r.frames.published;
        frames.producer_drops += r.frames.producer_drops;
        frames.source_overruns += r.frames.source_overruns;
        frames.source_drops += r.frames.source_drops;
    }
    run.frames = frames;
    // Over every consumer of every stream, as one run's are averaged over its consumers.
    let losses: Vec<f64> = all
        .iter()
        .flat_map(|r| r.per_consumer.iter().filter_map(|c| c.loss_rate))
        .collect();
    run.loss_rate = (!losses.is_empty()).then(|| losses.iter().sum::<f64>() / losses.len() as f64);
    run.loss_rate_max = losses.iter().copied().reduce(f64::max);
    let drops: Vec<f64> = all
        .iter()
        .flat_map(|r| r.per_consumer.iter().filter_map(|c| c.drop_rate))
        .collect();
    run.drop_rate = if drops.is_empty() {
        0.0
    } else {
        drops.iter().sum::<f64>() / drops.len() as f64
    };
    run.deadline_misses = all.iter().map(|r| r.deadline_misses).sum();
    run.torn_frames = all.iter().map(|r| r.torn_frames).sum();
    run.out_of_order = all.iter().map(|r| r.out_of_order).sum();
    run.lost_wakeups = all.iter().map(|r| r.lost_wakeups).sum();
    run.consumers_lost = all.iter().map(|r| r.consumers_lost).sum();
    run.reclaimed_slots = all.iter().map(|r| r.reclaimed_slots).sum();
    run.copies.bytes_copied = all.iter().map(|r| r.copies.bytes_copied).sum();
    run.copies.frame_allocations = all.iter().map(|r| r.copies.frame_allocations).sum();
    run.copies.pool_grows = all.iter().map(|r| r.copies.pool_grows).sum();
    run.per_consumer = all
        .iter()
        .enumerate()
        .flat_map(|(i, r)| {
            r.per_consumer.iter().cloned().map(move |mut c| {
                c.stream = Some(i);
                c
            })
        })
        .collect();
    let rest = &all[1..];
    if let Some(leaks) = run.leaks.as_mut() {
        for theirs in rest.iter().filter_map(|r| r.leaks.as_ref()) {
            leaks.readers_outstanding += theirs.readers_outstanding;
            leaks.frames_outstanding = match (leaks.frames_outstanding, theirs.frames_outstanding) {
                (Some(a), Some(b)) => Some(a + b),
                (a, b) => a.or(b),
            };
        }
    }
    if let Some(queues) = run.queues.as_mut() {
        for r in rest {
            queues.extend(r.queues.iter().flatten().copied());
        }
    }
    if let Some(intervals) = run.intervals.as_mut() {
        for theirs in rest.iter().filter_map(|r| r.intervals.as_ref()) {
            // `add` sums seen and due frames over the streams; every stream has the same
            // consumer count, so loss per interval stays seen over (due x consumers) with
            // the count of one stream.
            intervals.add(theirs);
        }
        run.timeline = intervals.summarise();
    }
    run.worst_stream = worst_stream(&records);
    run.streams = records;
    Ok(run)
}
