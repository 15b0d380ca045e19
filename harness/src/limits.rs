//! Limit ratios: how far a run's figures are from the machine's own limits, measured by
//! [`crate::calibrate`]. A ratio of 1 means the strategy costs what the hardware costs; the
//! rest is the strategy's own work (lock hand-offs, allocation, waiting for other readers).
//!
//! * **acquire**: acquire p50 over one frame copy for strategies whose readers copy the
//!   frame, over one cache-line round trip for those that hand out a reference.
//! * **age**: delivery age p50 and p99 over the futex wake latency p50 and p99, the floor
//!   under a consumer that sleeps until a frame arrives.
//!
//! Plain numbers, computed from a finished run and a calibration; nothing here measures.

use fbench_strategies::Descriptor;
use serde::{Deserialize, Serialize};

use crate::calibrate::Calibration;
use crate::result::RunResult;

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
    /// `age_ns.p50 / calibration.wake_p50_ns`.
    pub age_p50_ratio: Option<f64>,
    /// `age_ns.p99 / calibration.wake_p99_ns`.
    pub age_p99_ratio: Option<f64>,
}

impl LimitRatios {
    pub fn of(run: &RunResult, calibration: &Calibration) -> LimitRatios {
        let acquire_floor = crate::registry::current()
            .get(&run.strategy)
            .map(|s| AcquireFloor::of(s.descriptor()));
        let acquire_floor_ns = match acquire_floor {
            // A copy measured at another frame size says nothing about this run's copies
            // (reports from several runs can be merged).
            Some(AcquireFloor::FrameCopy)
                if calibration.frame_bytes == Some(run.config.frame_bytes) =>
            {
                calibration.frame_copy_ns
            }
            Some(AcquireFloor::CachelineRtt) => calibration.cacheline_rtt_ns,
            _ => None,
        };
        let has = |count: u64| count > 0;
        let ratio = |value: u64, floor: Option<f64>| {
            floor
                .filter(|floor| *floor > 0.0 && floor.is_finite())
                .map(|floor| value as f64 / floor)
        };
        let wake = |ns: Option<u64>| ns.map(|ns| ns as f64);
        LimitRatios {
            acquire_floor,
            acquire_floor_ns,
            acquire_p50_ratio: ratio(run.acquire_ns.p50, acquire_floor_ns)
                .filter(|_| has(run.acquire_ns.count)),
            age_p50_ratio: ratio(run.age_ns.p50, wake(calibration.wake_p50_ns))
                .filter(|_| has(run.age_ns.count)),
            age_p99_ratio: ratio(run.age_ns.p99, wake(calibration.wake_p99_ns))
                .filter(|_| has(run.age_ns.count)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Latency, LatencySummary};

    fn run_of(strategy: &str, acquire_p50: u64, age_p50: u64, age_p99: u64) -> RunResult {
        let summary = |count: u64, p50: u64, p99: u64| LatencySummary {
            count,
            mean: p50 as f64,
            p50,
            p90: p50,
            p99,
            p999: p99,
            max: p99,
            hdr: String::new(),
        };
        let empty = summary(0, 0, 0);
        let mut config = crate::RunConfig::default_config();
        config.frame.resolution = crate::frame::Resolution::new(1000, 1000);
        RunResult {
            strategy: strategy.to_string(),
            consumers: 1,
            config: config.record(),
            frames: Default::default(),
            age_ns: summary(100, age_p50, age_p99),
            acquire_ns: summary(100, acquire_p50, acquire_p50),
            publish_ns: empty.clone(),
            render_ns: empty.clone(),
            e2e_ns: empty,
            drop_rate: 0.0,
            loss_rate: None,
            loss_rate_max: None,
            deadline_misses: 0,
            torn_frames: 0,
            out_of_order: 0,
            memory: Default::default(),
            cpu: Default::default(),
            copies: Default::default(),
            per_consumer: Vec::new(),
            consumers_lost: 0,
            reclaimed_slots: 0,
            faults: Vec::new(),
            leaks: None,
            timeline: Vec::new(),
            intervals: None,
            limits: None,
        }
    }

    fn calibration() -> Calibration {
        Calibration {
            frame_bytes: Some(3_000_000),
            frame_copy_ns: Some(250_000.0),
            cacheline_rtt_ns: Some(200.0),
            wake_p50_ns: Some(20_000),
            wake_p99_ns: Some(100_000),
            ..Calibration::default()
        }
    }

    #[test]
    fn copying_strategies_are_compared_with_a_frame_copy() {
        let limits = LimitRatios::of(
            &run_of("mutex", 500_000, 400_000, 1_000_000),
            &calibration(),
        );
        assert_eq!(limits.acquire_floor, Some(AcquireFloor::FrameCopy));
        assert_eq!(limits.acquire_floor_ns, Some(250_000.0));
        assert_eq!(limits.acquire_p50_ratio, Some(2.0));
        assert_eq!(limits.age_p50_ratio, Some(20.0));
        assert_eq!(limits.age_p99_ratio, Some(10.0));
    }

    #[test]
    fn zero_copy_strategies_are_compared_with_a_cache_line_round_trip() {
        for name in ["rwlock", "pool", "arcswap"] {
            let limits = LimitRatios::of(&run_of(name, 800, 20_000, 100_000), &calibration());
            assert_eq!(
                limits.acquire_floor,
                Some(AcquireFloor::CachelineRtt),
                "{name}"
            );
            assert_eq!(limits.acquire_p50_ratio, Some(4.0), "{name}");
            assert_eq!(limits.age_p50_ratio, Some(1.0), "{name}");
        }
    }

    #[test]
    fn nothing_is_invented_without_a_limit() {
        let limits = LimitRatios::of(
            &run_of("pool", 800, 20_000, 100_000),
            &Calibration::default(),
        );
        assert_eq!(limits.acquire_floor_ns, None);
        assert_eq!(limits.acquire_p50_ratio, None);
        assert_eq!(limits.age_p50_ratio, None);
        // a copy measured at another frame size is not this run's floor
        let mut other_size = calibration();
        other_size.frame_bytes = Some(921_600);
        let limits = LimitRatios::of(&run_of("mutex", 500_000, 400_000, 1_000_000), &other_size);
        assert_eq!(limits.acquire_p50_ratio, None);
        assert_eq!(limits.age_p50_ratio, Some(20.0));
        // a strategy this fbench does not know has no floor
        let limits = LimitRatios::of(&run_of("seqlock", 800, 20_000, 100_000), &calibration());
        assert_eq!(limits.acquire_floor, None);
        assert_eq!(limits.acquire_p50_ratio, None);
    }

    #[test]
    fn a_run_without_samples_has_no_ratio() {
        let mut run = run_of("pool", 800, 20_000, 100_000);
        run.age_ns = Latency::new().summary();
        run.acquire_ns = Latency::new().summary();
        let limits = LimitRatios::of(&run, &calibration());
        assert_eq!(limits.acquire_p50_ratio, None);
        assert_eq!(limits.age_p99_ratio, None);
    }
}
