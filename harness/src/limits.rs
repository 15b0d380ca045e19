//! Limit ratios: how far a run's figures are from the machine's own limits, measured by
//! [`crate::calibrate`]. A ratio of 1 means the strategy costs what the hardware costs; the
//! rest is the strategy's own work (lock hand-offs, allocation, waiting for other readers).
//!
//! * **acquire**: acquire p50 over one frame copy for strategies whose readers copy the
//!   frame, over one cache-line round trip for those that hand out a reference. Copying
//!   strategies are also compared with the *cold* copy (a frame another CPU just wrote,
//!   into a buffer in no cache), which is the copy they actually do; the hot one is the
//!   best case.
//! * **age**: delivery age p50 and p99 over the futex wake latency p50 and p99, the floor
//!   under a consumer that sleeps until a frame arrives.
//!
//! Plain numbers, computed from a finished run and a calibration; nothing here measures.

use crate::calibrate::Calibration;
use crate::result::RunResult;

pub use crate::result::{AcquireFloor, LimitRatios};

/// The name of the reference strategy every run is compared with.
pub const REFERENCE: &str = "ideal";

/// The parts of a run's configuration the reference shares with it: everything but the
/// strategy-specific parameters (the reference reads none of them, so a sweep runs it at
/// their first values only).
fn point_of(run: &RunResult) -> serde_json::Value {
    let mut config = serde_json::to_value(&run.config).unwrap_or_default();
    if let Some(fields) = config.as_object_mut() {
        for name in [
            "pool_size",
            "pool_policy",
            "slots",
            "slot_policy",
            "slots_default",
            "queue_depth",
            "drop_policy",
        ] {
            fields.remove(name);
        }
    }
    serde_json::json!([run.consumers, config, run.faults.len()])
}

/// Set every run's figures over the `ideal` run of its configuration point (the first one,
/// when trials repeat it). Runs without such a reference keep `null`s; the reference itself
/// is left alone.
pub fn versus_ideal(runs: &mut [RunResult]) {
    let references: Vec<(serde_json::Value, RunResult)> = runs
        .iter()
        .filter(|r| r.strategy == REFERENCE)
        .map(|r| (point_of(r), r.clone()))
        .collect();
    for run in runs.iter_mut().filter(|r| r.strategy != REFERENCE) {
        let point = point_of(run);
        let Some((_, ideal)) = references.iter().find(|(p, _)| *p == point) else {
            continue;
        };
        let over = |value: u64, floor: u64, count: u64, floor_count: u64| {
            (count > 0 && floor_count > 0 && floor > 0).then(|| value as f64 / floor as f64)
        };
        let limits = run.limits.get_or_insert_with(LimitRatios::unmeasured);
        limits.age_p50_vs_ideal = over(
            run.age_ns.p50,
            ideal.age_ns.p50,
            run.age_ns.count,
            ideal.age_ns.count,
        );
        limits.age_p99_vs_ideal = over(
            run.age_ns.p99,
            ideal.age_ns.p99,
            run.age_ns.count,
            ideal.age_ns.count,
        );
        limits.acquire_p50_vs_ideal = over(
            run.acquire_ns.p50,
            ideal.acquire_ns.p50,
            run.acquire_ns.count,
            ideal.acquire_ns.count,
        );
        limits.pss_over_ideal_bytes = (run.memory.peak_pss_bytes > 0
            && ideal.memory.peak_pss_bytes > 0)
            .then(|| run.memory.peak_pss_bytes as i64 - ideal.memory.peak_pss_bytes as i64);
    }
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
        let cold_copy = match acquire_floor {
            Some(AcquireFloor::FrameCopy)
                if calibration.frame_bytes == Some(run.config.frame_bytes) =>
            {
                calibration.frame_copy_cold_ns
            }
            _ => None,
        };
        LimitRatios {
            acquire_floor,
            acquire_floor_ns,
            acquire_p50_ratio: ratio(run.acquire_ns.p50, acquire_floor_ns)
                .filter(|_| has(run.acquire_ns.count)),
            acquire_p50_cold_copy_ratio: ratio(run.acquire_ns.p50, cold_copy)
                .filter(|_| has(run.acquire_ns.count)),
            age_p50_ratio: ratio(run.age_ns.p50, wake(calibration.wake_p50_ns))
                .filter(|_| has(run.age_ns.count)),
            age_p99_ratio: ratio(run.age_ns.p99, wake(calibration.wake_p99_ns))
                .filter(|_| has(run.age_ns.count)),
            ..LimitRatios::unmeasured()
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
            ci95: None,
        };
        let mut config = crate::RunConfig::default_config();
        config.frame.resolution = crate::frame::Resolution::new(1000, 1000);
        RunResult {
            age_ns: summary(100, age_p50, age_p99),
            acquire_ns: summary(100, acquire_p50, acquire_p50),
            ..RunResult::empty(strategy, 1, config.record())
        }
    }

    fn calibration() -> Calibration {
        Calibration {
            frame_bytes: Some(3_000_000),
            frame_copy_ns: Some(250_000.0),
            frame_copy_cold_ns: Some(1_000_000.0),
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
        assert_eq!(limits.acquire_p50_cold_copy_ratio, Some(0.5));
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
            assert_eq!(limits.acquire_p50_cold_copy_ratio, None, "{name}");
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
        assert_eq!(limits.acquire_p50_cold_copy_ratio, None);
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

    #[test]
    fn every_run_is_compared_with_the_ideal_run_of_its_point() {
        let mut ideal = run_of("ideal", 100, 1_000, 10_000);
        ideal.memory.peak_pss_bytes = 20_000_000;
        let mut pool = run_of("pool", 300, 3_000, 50_000);
        pool.memory.peak_pss_bytes = 26_000_000;
        let mut elsewhere = run_of("pool", 300, 3_000, 50_000);
        elsewhere.consumers = 7; // another point: no ideal run there
        let mut runs = vec![ideal, pool, elsewhere];
        versus_ideal(&mut runs);
        let limits = runs[1].limits.as_ref().unwrap();
        assert_eq!(limits.age_p50_vs_ideal, Some(3.0));
        assert_eq!(limits.age_p99_vs_ideal, Some(5.0));
        assert_eq!(limits.acquire_p50_vs_ideal, Some(3.0));
        assert_eq!(limits.pss_over_ideal_bytes, Some(6_000_000));
        assert!(
            runs[0].limits.is_none(),
            "the reference is not compared with itself"
        );
        assert!(
            runs[2].limits.is_none(),
            "no reference at its point: nothing invented"
        );
    }
}
