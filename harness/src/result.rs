//! The record of one run: exactly the names of the report schema (`runs[]` in DESIGN.md).
//! Plain data, serialisable both ways, so reports can be written, read back and merged.

use fbench_strategies::Descriptor;
use serde::{Deserialize, Serialize};

use crate::config::ConfigRecord;
use crate::metrics::{CpuUsage, LatencySummary, MemorySample};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub strategy: String,
    pub consumers: usize,
    /// Which trial of its configuration point this run is (1-based, `--repeat N`), numbered
    /// in the order the trials ran. 1 in reports written before fbench numbered trials.
    #[serde(default = "first_trial")]
    pub trial: u32,
    /// How many times the scheduler ran this trial again because other processes loaded the
    /// machine during it (`--max-other-load`, `--retries`); these figures are the last try's.
    #[serde(default)]
    pub reruns: u32,
    /// No try of this trial got a quiet machine: its figures are from a busy one.
    #[serde(default)]
    pub busy: bool,
    pub config: ConfigRecord,
    pub frames: FrameCounts,
    /// Delivery latency: consumer holds a readable frame, minus capture time.
    pub age_ns: LatencySummary,
    /// Time inside the strategy to obtain a readable frame.
    pub acquire_ns: LatencySummary,
    /// Producer time inside the strategy per frame (rendering excluded).
    pub publish_ns: LatencySummary,
    /// Time the source spent rendering into the strategy's buffer (excluded from
    /// `publish_ns`). First-touch page faults of a freshly allocated frame land here.
    pub render_ns: LatencySummary,
    /// Consumer finished its workload, minus capture time.
    pub e2e_ns: LatencySummary,
    /// Frames published in the measured window that consumers never saw, over frames
    /// published, summed over consumers.
    pub drop_rate: f64,
    /// Frames due in the measured window that a consumer never saw, over frames due,
    /// averaged over the consumers that finished: whatever lost them (source overrun,
    /// strategy refusal, consumer too slow). `null` in reports written before fbench
    /// counted due frames, or when no consumer finished.
    #[serde(default)]
    pub loss_rate: Option<f64>,
    /// The worst consumer's loss rate.
    #[serde(default)]
    pub loss_rate_max: Option<f64>,
    pub deadline_misses: u64,
    pub torn_frames: u64,
    pub out_of_order: u64,
    /// Blocking waits that timed out and then found a newer frame (or the close): wake-ups
    /// the strategy's waker lost. Expected 0; each one is a consumer that slept up to the
    /// wait's 100 ms timeout with a frame ready.
    #[serde(default)]
    pub lost_wakeups: u64,
    pub memory: MemoryRecord,
    pub cpu: CpuUsage,
    /// CPU time per due frame of the producer, the consumers and the whole run; `null` in
    /// reports written before fbench measured it, or when no frame was due.
    #[serde(default)]
    pub cpu_demand: Option<CpuDemand>,
    pub copies: CopiesRecord,
    pub per_consumer: Vec<ConsumerRecord>,
    /// Consumers lost during the run (any status but `ok`: `panicked`, `crashed`,
    /// `stalled`, `killed`); the run's figures are over the others, and a run that lost
    /// every consumer has none (its latency summaries are empty, their figures `null`).
    #[serde(default)]
    pub consumers_lost: u64,
    /// Frame slots a dead consumer process held, taken back by the parent (`shm` only).
    #[serde(default)]
    pub reclaimed_slots: u64,
    /// The faults injected into the run and what happened while each lasted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<crate::faults::FaultRecord>,
    /// What was not given back at the end of the run (readers, frame buffers, segments);
    /// `null` in reports written before fbench checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaks: Option<crate::leaks::LeakCheck>,
    /// Latency over time: one summary per interval of the measured window (`--interval`),
    /// see [`crate::timeline`]. Empty in reports written before fbench recorded it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<crate::timeline::TimelinePoint>,
    /// The interval histograms behind `timeline`, for HdrHistogram interval logs. Only in a
    /// run just measured: never written to or read from JSON.
    #[serde(skip)]
    pub intervals: Option<crate::timeline::Intervals>,
    /// The run's figures over the machine's calibrated limits; `null` when the run was not
    /// calibrated (set by whoever calibrated, after the run).
    #[serde(default)]
    pub limits: Option<LimitRatios>,
    /// What each consumer's queue cost, in consumer order, for the strategies that queue
    /// frames (`queue`, `broadcast`); absent for the others and in older reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queues: Option<Vec<QueueRecord>>,
    /// Each stream's figures, in stream order, for a run of several streams (`--streams`,
    /// see [`crate::streams`]); absent for a run of one, whose figures are its stream's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub streams: Vec<crate::streams::StreamRecord>,
    /// The stream with the highest p99 age (ties: the higher loss) in a run of several;
    /// absent for a run of one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worst_stream: Option<usize>,
}

fn first_trial() -> u32 {
    1
}

/// One consumer's queue ([`fbench_strategies::QueueStats`]), counted over the whole run,
/// warm-up included.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueRecord {
    /// Frames its queue discarded by policy (broadcast: the receiver's lag).
    pub dropped_by_policy: u64,
    /// The most frames queued for it at once.
    pub max_depth: u64,
    /// Time the producer spent waiting for room in its queue (`--drop-policy block`).
    pub producer_blocked_ns: u64,
}

impl From<fbench_strategies::QueueStats> for QueueRecord {
    fn from(stats: fbench_strategies::QueueStats) -> Self {
        QueueRecord {
            dropped_by_policy: stats.dropped_by_policy,
            max_depth: stats.max_depth,
            producer_blocked_ns: stats.producer_blocked_ns,
        }
    }
}

impl RunResult {
    /// A run of `strategy` that measured nothing: empty histograms, zero counts, no
    /// records. The base a fixture or a tool fills in (`RunResult { age_ns, ..empty }`), so
    /// that a field added to the record changes one place.
    pub fn empty(strategy: &str, consumers: usize, config: ConfigRecord) -> RunResult {
        let none = crate::metrics::Latency::new().summary();
        RunResult {
            strategy: strategy.to_string(),
            consumers,
            trial: 1,
            reruns: 0,
            busy: false,
            config,
            frames: FrameCounts::default(),
            age_ns: none.clone(),
            acquire_ns: none.clone(),
            publish_ns: none.clone(),
            render_ns: none.clone(),
            e2e_ns: none,
            drop_rate: 0.0,
            loss_rate: None,
            loss_rate_max: None,
            deadline_misses: 0,
            torn_frames: 0,
            out_of_order: 0,
            lost_wakeups: 0,
            memory: MemoryRecord::default(),
            cpu: CpuUsage::default(),
            cpu_demand: None,
            copies: CopiesRecord::default(),
            per_consumer: Vec::new(),
            consumers_lost: 0,
            reclaimed_slots: 0,
            queues: None,
            streams: Vec::new(),
            worst_stream: None,
            faults: Vec::new(),
            leaks: None,
            timeline: Vec::new(),
            intervals: None,
            limits: None,
        }
    }
}

/// What a run cost in CPU time per due frame (`runs[].cpu_demand`), from the kernel's own
/// accounting of each thread or process: time other processes took is not in it, so on a
/// busy machine it stays put where latencies do not. The figure capacity's `bound_fps` is
/// derived from.
///
/// ```
/// use fbench_harness::metrics::CpuUsage;
/// use fbench_harness::result::CpuDemand;
///
/// // 100 due frames; the producer used 1 ms, two consumers 2 and 4 ms, the whole run 8 ms.
/// let run = CpuUsage { user_s: 0.006, sys_s: 0.002, involuntary_ctx_switches: 50, ..CpuUsage::default() };
/// let demand = CpuDemand::of(100, Some(1_000_000), &[2_000_000, 4_000_000], &run).unwrap();
/// assert_eq!(demand.producer_ns_per_frame, Some(10_000.0));
/// assert_eq!(demand.consumer_ns_per_frame_p50, Some(20_000.0));
/// assert_eq!(demand.consumer_ns_per_frame_max, Some(40_000.0));
/// assert!((demand.total_ns_per_frame - 80_000.0).abs() < 1e-6);
/// assert_eq!(demand.involuntary_switches_per_frame, 0.5);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CpuDemand {
    /// The producer thread's CPU time over the window, per due frame (rendering included;
    /// for a camera, from its first frame in the window); `null` when it was not measured.
    pub producer_ns_per_frame: Option<f64>,
    /// The median consumer's CPU time per due frame (nearest rank); `null` when no consumer
    /// finished.
    pub consumer_ns_per_frame_p50: Option<f64>,
    /// The busiest consumer's.
    pub consumer_ns_per_frame_max: Option<f64>,
    /// The whole run's process tree (user + system of the process driving the run and of
    /// every consumer process that reported) per due frame.
    pub total_ns_per_frame: f64,
    /// Involuntary context switches of that tree per due frame: how often the scheduler
    /// took a CPU away from the run.
    pub involuntary_switches_per_frame: f64,
}

impl CpuDemand {
    /// The demand of a run with `due` frames, from the producer thread's and each finished
    /// consumer's CPU nanoseconds over the window and the process tree's usage; `None` when
    /// no frame was due.
    pub fn of(
        due: u64,
        producer_cpu_ns: Option<u64>,
        consumer_cpu_ns: &[u64],
        run: &CpuUsage,
    ) -> Option<CpuDemand> {
        if due == 0 {
            return None;
        }
        let per_frame = |ns: u64| ns as f64 / due as f64;
        let mut consumers = consumer_cpu_ns.to_vec();
        consumers.sort_unstable();
        let p50 = (!consumers.is_empty()).then(|| consumers[consumers.len().div_ceil(2) - 1]);
        Some(CpuDemand {
            producer_ns_per_frame: producer_cpu_ns.map(per_frame),
            consumer_ns_per_frame_p50: p50.map(per_frame),
            consumer_ns_per_frame_max: consumers.last().copied().map(per_frame),
            total_ns_per_frame: run.cpu_s() * 1e9 / due as f64,
            involuntary_switches_per_frame: run.involuntary_ctx_switches as f64 / due as f64,
        })
    }

    /// The most CPU time per frame any single thread needed: the producer's or the busiest
    /// consumer's (`null` when neither was measured).
    pub fn busiest_thread_ns_per_frame(&self) -> Option<f64> {
        [self.producer_ns_per_frame, self.consumer_ns_per_frame_max]
            .into_iter()
            .flatten()
            .reduce(f64::max)
    }
}

/// Producer-side counts over the measured window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FrameCounts {
    /// Frame slots of the source's schedule in the measured window, produced or not
    /// (produced + source overruns; for a camera, frames delivered + source drops). The
    /// denominator of every loss rate.
    #[serde(default)]
    pub due: u64,
    /// Frames the source made (published + producer drops).
    pub produced: u64,
    /// Frames the strategy accepted.
    pub published: u64,
    /// Frames the strategy refused.
    pub producer_drops: u64,
    /// Frame slots the source could not produce on time (skipped to stay on schedule).
    pub source_overruns: u64,
    /// Frames a live source (a camera) dropped before fbench saw them: gaps in the
    /// device's own sequence numbers.
    #[serde(default)]
    pub source_drops: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryRecord {
    /// PSS of the process before the strategy was built.
    pub baseline_pss_bytes: u64,
    pub peak_pss_bytes: u64,
    pub peak_rss_bytes: u64,
    /// Samples through the run, warm-up included.
    pub timeline: Vec<MemorySample>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CopiesRecord {
    /// Payload bytes the strategy copied (producer copy-in plus consumer copy-out).
    pub bytes_copied: u64,
    /// Heap allocations in the process during the measured window (counting allocator);
    /// `null` when the allocator is not installed.
    pub allocations: Option<u64>,
    /// Frame-sized buffers the strategy allocated during the run.
    pub frame_allocations: u64,
    /// Buffers the pool added when it ran out.
    pub pool_grows: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConsumerRecord {
    pub id: usize,
    pub workload: String,
    /// Frames this consumer held during the measured window.
    pub frames_seen: u64,
    pub age_ns: LatencySummary,
    pub acquire_ns: LatencySummary,
    pub e2e_ns: LatencySummary,
    pub drop_rate: Option<f64>,
    /// 1 − frames seen / frames due (`frames.due`); `null` for a lost consumer.
    #[serde(default)]
    pub loss_rate: Option<f64>,
    pub deadline_misses: u64,
    pub torn_frames: u64,
    pub out_of_order: u64,
    /// `ok`; `panicked` if the consumer thread died (a bug in fbench or the strategy);
    /// `crashed` if the consumer process died (e.g. killed); `killed` by a `kill` fault;
    /// `corrupt segment` if the consumer process found its shared-memory segment written by
    /// someone other than the strategy and stopped (`shm`); `stalled` if it had not reported
    /// by the producer's end + its workload's hold + 5 s (a stopped or stuck consumer: a
    /// process is then killed and reaped, a thread left behind). A lost consumer's figures
    /// are lost: zero counts, empty histograms (`null` figures) and a `null` drop rate, left
    /// out of the run's.
    pub status: String,
    /// `fbench`: fbench's own consumer loop (a thread or a process); `external`: the user's
    /// own process started by `--consumer-cmd`, measured by the consumer library.
    #[serde(default = "own_kind")]
    pub kind: String,
    /// The command an `external` consumer ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// The stream it read (`id` counts within its stream), in a run of several streams;
    /// absent in a run of one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<usize>,
}

fn own_kind() -> String {
    "fbench".to_string()
}

/// The floor an acquire is compared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AcquireFloor {
    /// Copying one frame (`calibration.frame_copy_ns`).
    FrameCopy,
    /// One cache line's round trip between two cores (`calibration.cacheline_rtt_ns`).
    CachelineRtt,
}

impl AcquireFloor {
    pub fn of(strategy: &Descriptor) -> AcquireFloor {
        if strategy.acquire_copies {
            AcquireFloor::FrameCopy
        } else {
            AcquireFloor::CachelineRtt
        }
    }

    /// How tables name it.
    pub fn label(self) -> &'static str {
        match self {
            AcquireFloor::FrameCopy => "frame copy",
            AcquireFloor::CachelineRtt => "cache-line RTT",
        }
    }
}

/// A run's figures over the machine's limits (`runs[].limits` in the report). A ratio is
/// `null` when the limit was not measured or the run has no sample of the figure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LimitRatios {
    /// What acquire is compared with; `null` for a strategy this fbench does not know.
    pub acquire_floor: Option<AcquireFloor>,
    /// That floor, nanoseconds.
    pub acquire_floor_ns: Option<f64>,
    /// `acquire_ns.p50 / acquire_floor_ns`.
    pub acquire_p50_ratio: Option<f64>,
    /// `acquire_ns.p50 / calibration.frame_copy_cold_ns`, for strategies whose readers
    /// copy the frame; `null` for the others and in older reports.
    #[serde(default)]
    pub acquire_p50_cold_copy_ratio: Option<f64>,
    /// `age_ns.p50 / calibration.wake_p50_ns`.
    pub age_p50_ratio: Option<f64>,
    /// `age_ns.p99 / calibration.wake_p99_ns`.
    pub age_p99_ratio: Option<f64>,
    /// `age_ns.p50` over the `ideal` reference's at the same configuration point — a
    /// minimal latest-value strategy run beside the others on the same machine, consumer
    /// count, workload and wait mode; a reference, not a floor. Paired in time: the median
    /// over trials of (this strategy's trial k / the reference's trial k), every trial of
    /// the point carrying the same value ([`crate::limits::versus_ideal`]). Below 1 when the
    /// two samples of the machine's background differ more than the designs do. `null` when
    /// no `ideal` run was made beside it (`--no-ideal`, one strategy, older reports).
    #[serde(default)]
    pub age_p50_vs_ideal: Option<f64>,
    /// 95% interval of `age_p50_vs_ideal` (order statistics of the paired ratios); `null`
    /// under 6 pairs ([`crate::limits::MIN_PAIRS_FOR_CI95`]).
    #[serde(default)]
    pub age_p50_vs_ideal_ci95: Option<[f64; 2]>,
    /// `age_ns.p99` over the reference's, paired likewise.
    #[serde(default)]
    pub age_p99_vs_ideal: Option<f64>,
    /// 95% interval of `age_p99_vs_ideal`.
    #[serde(default)]
    pub age_p99_vs_ideal_ci95: Option<[f64; 2]>,
    /// `acquire_ns.p50` over the reference's, paired likewise.
    #[serde(default)]
    pub acquire_p50_vs_ideal: Option<f64>,
    /// 95% interval of `acquire_p50_vs_ideal`.
    #[serde(default)]
    pub acquire_p50_vs_ideal_ci95: Option<[f64; 2]>,
    /// How many (trial, reference trial) pairs the `*_vs_ideal` figures are the median of.
    #[serde(default)]
    pub vs_ideal_pairs: Option<u32>,
    /// Peak PSS minus the `ideal` reference's, the median over paired trials: the memory
    /// the design costs beyond the harness's own footprint (consumers, histograms, one
    /// frame ring); may be negative.
    #[serde(default)]
    pub pss_over_ideal_bytes: Option<i64>,
}

impl LimitRatios {
    /// No ratio at all: what a run has before anything is compared.
    pub fn unmeasured() -> LimitRatios {
        LimitRatios {
            acquire_floor: None,
            acquire_floor_ns: None,
            acquire_p50_ratio: None,
            acquire_p50_cold_copy_ratio: None,
            age_p50_ratio: None,
            age_p99_ratio: None,
            age_p50_vs_ideal: None,
            age_p50_vs_ideal_ci95: None,
            age_p99_vs_ideal: None,
            age_p99_vs_ideal_ci95: None,
            acquire_p50_vs_ideal: None,
            acquire_p50_vs_ideal_ci95: None,
            vs_ideal_pairs: None,
            pss_over_ideal_bytes: None,
        }
    }
}
