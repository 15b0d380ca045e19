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

/// Set every run's figures over the `ideal` reference of its configuration point, paired
/// in time: trial k of a strategy is divided by trial k of the reference at the same point
/// (the reference trial that ran beside it), and each `*_vs_ideal` is the median of those
/// ratios over the strategy's trials at that point, with its 95% interval
/// ([`median_ci95`]); every trial of the point carries the same figures. A trial with no
/// reference of its own number is paired with the reference trial nearest in number (older
/// reports, where every trial was numbered 1). Runs without any reference at their point
/// keep `null`s; the reference itself is left alone.
///
/// A ratio below 1 is not a strategy beating the reference's design: the two runs are two
/// samples of one machine's background, and the interval says how far apart such samples
/// fall.
pub fn versus_ideal(runs: &mut [RunResult]) {
    let points: Vec<serde_json::Value> = runs.iter().map(point_of).collect();
    let references: Vec<usize> = (0..runs.len())
        .filter(|&i| runs[i].strategy == REFERENCE)
        .collect();
    // The reference trial paired with run `i`: same point, same trial number if there is one,
    // else the nearest number (the lower on a tie).
    let partner: Vec<Option<usize>> = (0..runs.len())
        .map(|i| {
            references
                .iter()
                .copied()
                .filter(|&r| points[r] == points[i])
                .min_by_key(|&r| (runs[r].trial.abs_diff(runs[i].trial), runs[r].trial))
        })
        .collect();
    let mut done = vec![false; runs.len()];
    for i in 0..runs.len() {
        if done[i] || runs[i].strategy == REFERENCE {
            continue;
        }
        // Every trial of this strategy at this point.
        let group: Vec<usize> = (i..runs.len())
            .filter(|&j| runs[j].strategy == runs[i].strategy && points[j] == points[i])
            .collect();
        let pairs: Vec<(usize, usize)> = group
            .iter()
            .filter_map(|&j| partner[j].map(|r| (j, r)))
            .collect();
        for &j in &group {
            done[j] = true;
        }
        if pairs.is_empty() {
            continue;
        }
        let ratios = |figure: fn(&RunResult) -> (u64, u64)| -> Vec<f64> {
            pairs
                .iter()
                .filter_map(|&(run, reference)| {
                    let (value, count) = figure(&runs[run]);
                    let (base, base_count) = figure(&runs[reference]);
                    (count > 0 && base_count > 0 && base > 0).then(|| value as f64 / base as f64)
                })
                .collect()
        };
        let age_p50 = PairedRatio::of(ratios(|r| (r.age_ns.p50, r.age_ns.count)));
        let age_p99 = PairedRatio::of(ratios(|r| (r.age_ns.p99, r.age_ns.count)));
        let acquire_p50 = PairedRatio::of(ratios(|r| (r.acquire_ns.p50, r.acquire_ns.count)));
        let pss: Vec<f64> = pairs
            .iter()
            .filter(|&&(run, reference)| {
                runs[run].memory.peak_pss_bytes > 0 && runs[reference].memory.peak_pss_bytes > 0
            })
            .map(|&(run, reference)| {
                runs[run].memory.peak_pss_bytes as f64
                    - runs[reference].memory.peak_pss_bytes as f64
            })
            .collect();
        let pss_over = PairedRatio::of(pss)
            .median
            .map(|bytes| bytes.round() as i64);
        for &j in &group {
            let limits = runs[j].limits.get_or_insert_with(LimitRatios::unmeasured);
            limits.age_p50_vs_ideal = age_p50.median;
            limits.age_p50_vs_ideal_ci95 = age_p50.ci95;
            limits.age_p99_vs_ideal = age_p99.median;
            limits.age_p99_vs_ideal_ci95 = age_p99.ci95;
            limits.acquire_p50_vs_ideal = acquire_p50.median;
            limits.acquire_p50_vs_ideal_ci95 = acquire_p50.ci95;
            limits.vs_ideal_pairs = Some(pairs.len() as u32);
            limits.pss_over_ideal_bytes = pss_over;
        }
    }
}

/// The median of paired figures and its 95% interval.
struct PairedRatio {
    median: Option<f64>,
    ci95: Option<[f64; 2]>,
}

impl PairedRatio {
    fn of(mut values: Vec<f64>) -> PairedRatio {
        values.sort_by(f64::total_cmp);
        PairedRatio {
            median: median(&values),
            ci95: median_ci95(&values),
        }
    }
}

/// The median of sorted values (the mean of the two middle ones for an even count).
fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// Fewest paired trials for which [`median_ci95`] gives an interval: with n pairs, the chance
/// that all of them fall on one side of the true median is 2 x 0.5^n, which is at most 5%
/// from n = 6 on.
pub const MIN_PAIRS_FOR_CI95: usize = 6;

/// A distribution-free 95% interval of the median of sorted values: the order statistics
/// `[X(k), X(n + 1 - k)]`, k the largest rank with P(B < k) <= 0.025 for B ~ binomial(n,
/// 1/2) (the count of values below the true median). Its coverage is at least 95% whatever
/// the distribution; `None` under [`MIN_PAIRS_FOR_CI95`] values, where no such interval
/// exists.
///
/// ```
/// use fbench_harness::limits::median_ci95;
///
/// let ratios = [0.9, 1.1, 1.2, 1.3, 1.4, 1.6];
/// assert_eq!(median_ci95(&ratios), Some([0.9, 1.6])); // 6 values: the extremes, 96.9%
/// assert_eq!(median_ci95(&ratios[..5]), None); // 5 values: no 95% interval exists
/// ```
pub fn median_ci95(sorted: &[f64]) -> Option<[f64; 2]> {
    let n = sorted.len();
    let half_n = 0.5f64.powi(n as i32);
    // P(B < k) summed upwards, C(n, j) built exactly in f64 (n is a trial count).
    let (mut below, mut choose, mut k) = (0.0, 1.0, 0);
    for j in 0..n {
        below += choose * half_n;
        if below > 0.025 {
            break;
        }
        k = j + 1;
        choose = choose * (n - j) as f64 / (j + 1) as f64;
    }
    (k >= 1).then(|| [sorted[k - 1], sorted[n - k]])
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

    fn trial(strategy: &str, trial: u32, age_p99: u64) -> RunResult {
        RunResult {
            trial,
            ..run_of(strategy, 100, 1_000, age_p99)
        }
    }

    #[test]
    fn trials_are_paired_with_the_reference_trial_beside_them() {
        // Reference trials at 10, 20, 40 µs; pool's trials twice its neighbour's each time.
        // Paired, every ratio is 2; compared with trial 1 alone they would be 2, 4, 8.
        let mut runs = vec![
            trial("ideal", 1, 10_000),
            trial("pool", 1, 20_000),
            trial("ideal", 2, 20_000),
            trial("pool", 2, 40_000),
            trial("ideal", 3, 40_000),
            trial("pool", 3, 80_000),
        ];
        versus_ideal(&mut runs);
        for run in runs.iter().filter(|r| r.strategy == "pool") {
            let limits = run.limits.as_ref().unwrap();
            assert_eq!(limits.age_p99_vs_ideal, Some(2.0), "trial {}", run.trial);
            assert_eq!(limits.vs_ideal_pairs, Some(3));
            assert_eq!(limits.age_p99_vs_ideal_ci95, None, "3 pairs: too few");
        }
    }

    #[test]
    fn the_ratio_is_the_median_of_pairs_with_an_order_statistic_interval() {
        // Seven pairs whose ratios are 0.8, 0.9, 1.0, 1.5, 2.0, 3.0, 9.0 (out of order).
        let ratios = [3.0, 0.8, 1.5, 9.0, 1.0, 2.0, 0.9];
        let mut runs = Vec::new();
        for (k, ratio) in ratios.iter().enumerate() {
            runs.push(trial("ideal", k as u32 + 1, 100_000));
            runs.push(trial("mutex", k as u32 + 1, (100_000.0 * ratio) as u64));
        }
        versus_ideal(&mut runs);
        let limits = runs[1].limits.as_ref().unwrap();
        assert_eq!(limits.age_p99_vs_ideal, Some(1.5));
        // n = 7: P(B < 1) = 1/128 <= 2.5% < P(B < 2) = 8/128, so ranks 1 and 7.
        assert_eq!(limits.age_p99_vs_ideal_ci95, Some([0.8, 9.0]));
        // age p50 and acquire are equal to the reference's in every pair
        assert_eq!(limits.age_p50_vs_ideal, Some(1.0));
        assert_eq!(limits.acquire_p50_vs_ideal_ci95, Some([1.0, 1.0]));
        assert_eq!(limits.vs_ideal_pairs, Some(7));
    }

    #[test]
    fn median_intervals_follow_the_binomial_tables() {
        let values: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(median_ci95(&values[..5]), None);
        assert_eq!(median_ci95(&values[..6]), Some([1.0, 6.0]));
        // n = 9: P(B <= 1) = 10/512 <= 2.5%, so ranks 2 and 8
        assert_eq!(median_ci95(&values[..9]), Some([2.0, 8.0]));
        // n = 20: ranks 6 and 15 (P(B <= 5) = 2.07%, P(B <= 6) = 5.77%)
        assert_eq!(median_ci95(&values), Some([6.0, 15.0]));
        assert_eq!(median(&[1.0, 2.0, 10.0, 20.0]), Some(6.0));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn older_reports_pair_every_trial_with_the_nearest_reference() {
        // Three trials all numbered 1 next to one reference (reports before trials were
        // numbered), and a strategy with trial 3 but references 1 and 2 only.
        let mut runs = vec![
            trial("ideal", 1, 10_000),
            trial("pool", 1, 20_000),
            trial("pool", 1, 30_000),
            trial("pool", 1, 40_000),
            trial("ideal", 2, 20_000),
            trial("rwlock", 3, 60_000),
        ];
        versus_ideal(&mut runs);
        let pool = runs[1].limits.as_ref().unwrap();
        assert_eq!(pool.age_p99_vs_ideal, Some(3.0));
        assert_eq!(pool.vs_ideal_pairs, Some(3));
        let rwlock = runs[5].limits.as_ref().unwrap();
        assert_eq!(rwlock.age_p99_vs_ideal, Some(3.0), "paired with trial 2");
    }
}
