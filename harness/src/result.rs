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
    pub copies: CopiesRecord,
    pub per_consumer: Vec<ConsumerRecord>,
    /// Consumers that died during the run (status `panicked` or `crashed`); the run's
    /// figures are over the others.
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
            copies: CopiesRecord::default(),
            per_consumer: Vec::new(),
            consumers_lost: 0,
            reclaimed_slots: 0,
            queues: None,
            faults: Vec::new(),
            leaks: None,
            timeline: Vec::new(),
            intervals: None,
            limits: None,
        }
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
    /// `crashed` if the consumer process died (e.g. killed). A lost consumer's figures are
    /// lost: zero counts, empty histograms and a `null` drop rate, left out of the run's.
    pub status: String,
    /// `fbench`: fbench's own consumer loop (a thread or a process); `external`: the user's
    /// own process started by `--consumer-cmd`, measured by the consumer library.
    #[serde(default = "own_kind")]
    pub kind: String,
    /// The command an `external` consumer ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
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
    /// `age_ns.p50` over the `ideal` run's at the same configuration point: the empirical
    /// floor of this machine, consumer count, workload and wait mode. `null` when no
    /// `ideal` run was made beside it (`--no-ideal`, one strategy, older reports).
    #[serde(default)]
    pub age_p50_vs_ideal: Option<f64>,
    /// `age_ns.p99` over the `ideal` run's.
    #[serde(default)]
    pub age_p99_vs_ideal: Option<f64>,
    /// `acquire_ns.p50` over the `ideal` run's.
    #[serde(default)]
    pub acquire_p50_vs_ideal: Option<f64>,
    /// Peak PSS minus the `ideal` run's: the memory the design costs beyond the harness's
    /// own footprint (consumers, histograms, one frame ring); may be negative.
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
            age_p99_vs_ideal: None,
            acquire_p50_vs_ideal: None,
            pss_over_ideal_bytes: None,
        }
    }
}
