//! Soak analysis: what a long run says about drift and leaks.
//!
//! A soak is an ordinary run, only long (10 minutes by default). Its memory timeline (PSS
//! and RSS every 100 ms, with the strategy's accepted and refused frame counts) is cut into
//! minutes; memory drift is the least-squares slope of PSS over the measured window, in
//! bytes per minute, and the run's [`LeakCheck`] says what was not given back at its end.
//!
//! Nothing here runs anything: it reads a [`RunResult`], so old reports can be re-analysed.

use serde::{Deserialize, Serialize};

use crate::result::RunResult;

pub use crate::leaks::{own_segments, LeakCheck};

/// Memory growth above which a soak is flagged: 1 MiB per minute. Allocator and page-cache
/// noise over a 10-minute run stays well below it; one leaked 720p frame per minute does not.
pub const DRIFT_LIMIT_BYTES_PER_MIN: f64 = 1024.0 * 1024.0;

/// One minute of a soak.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SoakMinute {
    /// Minute of the measured window, from 0.
    pub minute: u64,
    pub pss_mean_bytes: u64,
    pub rss_mean_bytes: u64,
    /// Frames accepted during the minute (`null` when the report has no counts).
    pub published: Option<u64>,
    pub producer_drops: Option<u64>,
    /// The median over the minute's intervals (`runs[].timeline`) of their p99 age, ns;
    /// `null` when the report has no timeline or no frame was seen in the minute.
    #[serde(default)]
    pub age_p99_ns: Option<u64>,
}

/// The soak verdict of one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SoakSummary {
    pub strategy: String,
    pub consumers: usize,
    pub duration_s: f64,
    /// Least-squares slope of PSS over the measured window.
    pub pss_drift_bytes_per_min: f64,
    pub rss_drift_bytes_per_min: f64,
    /// Least-squares slope of the intervals' p99 age over the measured window, ns per
    /// minute (latency drift beside memory drift); `null` without a timeline.
    #[serde(default)]
    pub age_p99_drift_ns_per_min: Option<f64>,
    pub pss_first_minute_bytes: u64,
    pub pss_last_minute_bytes: u64,
    pub minutes: Vec<SoakMinute>,
    pub drop_rate: f64,
    pub producer_drops: u64,
    pub torn_frames: u64,
    pub leaks: Option<LeakCheck>,
    /// `stable`, `memory grows` (drift above [`DRIFT_LIMIT_BYTES_PER_MIN`]), `leaks`
    /// (something was not given back) or `too short` (under two minutes of samples).
    pub verdict: String,
}

/// Mean of `n` values, without overflow whatever they are.
fn mean(values: impl Iterator<Item = u64>, n: u64) -> u64 {
    (values.map(u128::from).sum::<u128>() / u128::from(n.max(1))) as u64
}

/// Least-squares slope of `ys` over `xs`.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let (mx, my) = (
        points.iter().map(|p| p.0).sum::<f64>() / n,
        points.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if sxx == 0.0 {
        0.0
    } else {
        sxy / sxx
    }
}

pub fn summarise(run: &RunResult) -> SoakSummary {
    let warmup_ms = (run.config.warmup_s * 1000.0) as u64;
    let mut samples: Vec<_> = run
        .memory
        .timeline
        .iter()
        .filter(|s| s.t_ms >= warmup_ms)
        .collect();
    // fbench writes them in time order; a report edited by hand may not be.
    samples.sort_by_key(|s| s.t_ms);
    let minute_of = |t_ms: u64| (t_ms - warmup_ms) / 60_000;
    let has_counts = samples.iter().any(|s| s.published > 0);
    let mut minutes: Vec<SoakMinute> = Vec::new();
    let mut previous = samples.first().map(|s| (s.published, s.producer_drops));
    let mut start = 0;
    while start < samples.len() {
        let minute = minute_of(samples[start].t_ms);
        let end = samples[start..]
            .iter()
            .position(|s| minute_of(s.t_ms) != minute)
            .map_or(samples.len(), |p| start + p);
        let chunk = &samples[start..end];
        let n = chunk.len() as u64;
        let last = chunk.last().expect("non-empty chunk");
        let (published, drops) = match previous {
            Some((p, d)) if has_counts => (
                Some(last.published.saturating_sub(p)),
                Some(last.producer_drops.saturating_sub(d)),
            ),
            _ => (None, None),
        };
        previous = Some((last.published, last.producer_drops));
        minutes.push(SoakMinute {
            minute,
            pss_mean_bytes: mean(chunk.iter().map(|s| s.pss_bytes), n),
            rss_mean_bytes: mean(chunk.iter().map(|s| s.rss_bytes), n),
            published,
            producer_drops: drops,
            age_p99_ns: None,
        });
        start = end;
    }
    let per_minute = |value: fn(&crate::metrics::MemorySample) -> u64| {
        let points: Vec<(f64, f64)> = samples
            .iter()
            .map(|s| ((s.t_ms - warmup_ms) as f64 / 60_000.0, value(s) as f64))
            .collect();
        slope(&points)
    };
    // Latency drift from the same timeline the reports draw: each interval's p99 at its
    // offset into the measured window.
    let seen: Vec<&crate::timeline::TimelinePoint> =
        run.timeline.iter().filter(|p| p.count > 0).collect();
    let age_drift = (seen.len() >= 2).then(|| {
        let points: Vec<(f64, f64)> = seen
            .iter()
            .map(|p| (p.offset as f64 / 60e9, p.p99 as f64))
            .collect();
        slope(&points)
    });
    for minute in &mut minutes {
        let mut p99s: Vec<u64> = seen
            .iter()
            .filter(|p| p.offset / 60_000_000_000 == minute.minute)
            .map(|p| p.p99)
            .collect();
        p99s.sort_unstable();
        minute.age_p99_ns = (!p99s.is_empty()).then(|| p99s[p99s.len() / 2]);
    }
    let pss_drift = per_minute(|s| s.pss_bytes);
    let rss_drift = per_minute(|s| s.rss_bytes);
    let span_ms = samples.last().map_or(0, |s| s.t_ms) - samples.first().map_or(0, |s| s.t_ms);
    let verdict = if run.leaks.is_some_and(|l| !l.is_clean()) {
        "leaks"
    } else if span_ms < 120_000 {
        "too short"
    } else if pss_drift > DRIFT_LIMIT_BYTES_PER_MIN {
        "memory grows"
    } else {
        "stable"
    };
    SoakSummary {
        strategy: run.strategy.clone(),
        consumers: run.consumers,
        duration_s: run.config.duration_s,
        pss_drift_bytes_per_min: pss_drift,
        rss_drift_bytes_per_min: rss_drift,
        age_p99_drift_ns_per_min: age_drift,
        pss_first_minute_bytes: minutes.first().map_or(0, |m| m.pss_mean_bytes),
        pss_last_minute_bytes: minutes.last().map_or(0, |m| m.pss_mean_bytes),
        minutes,
        drop_rate: run.drop_rate,
        producer_drops: run.frames.producer_drops,
        torn_frames: run.torn_frames,
        leaks: run.leaks,
        verdict: verdict.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_of_a_line_is_exact() {
        let points: Vec<(f64, f64)> = (0..10).map(|x| (x as f64, 3.0 * x as f64 + 7.0)).collect();
        assert_eq!(slope(&points), 3.0);
        assert_eq!(slope(&[(1.0, 5.0)]), 0.0);
    }

    #[test]
    fn latency_drift_comes_from_the_timeline() {
        let mut config = crate::RunConfig::default_config();
        config.warmup = std::time::Duration::ZERO;
        config.duration = std::time::Duration::from_secs(180);
        let mut run = crate::runner::assemble(
            "mutex",
            &config,
            Default::default(),
            Vec::new(),
            Default::default(),
            Default::default(),
            None,
            Default::default(),
        );
        // p99 grows by 1 ms per minute; one interval per 10 s.
        run.timeline = (0..18u64)
            .map(|k| crate::timeline::TimelinePoint {
                offset: k * 10_000_000_000,
                count: 300,
                p50: 1_000_000,
                p99: 2_000_000 + k * 1_000_000 / 6,
                max: 9_000_000,
                loss: Some(0.0),
                acquire: Default::default(),
                publish: Default::default(),
            })
            .collect();
        run.memory.timeline = (0..180u64)
            .map(|s| crate::metrics::MemorySample {
                t_ms: s * 1000,
                pss_bytes: 1 << 20,
                rss_bytes: 1 << 21,
                ..Default::default()
            })
            .collect();
        let summary = summarise(&run);
        let drift = summary.age_p99_drift_ns_per_min.unwrap();
        assert!((drift - 1_000_000.0).abs() < 1.0, "{drift}");
        assert_eq!(summary.minutes.len(), 3);
        // Minute 0 holds intervals 0..6: p99s 2.0, 2.17, …, 2.83 ms; the median is the 4th.
        assert_eq!(
            summary.minutes[0].age_p99_ns,
            Some(2_000_000 + 3 * 1_000_000 / 6)
        );
        assert!(summary.minutes.iter().all(|m| m.age_p99_ns.is_some()));
        // Without a timeline (an old report): no latency drift, nothing invented.
        run.timeline.clear();
        let summary = summarise(&run);
        assert_eq!(summary.age_p99_drift_ns_per_min, None);
        assert!(summary.minutes.iter().all(|m| m.age_p99_ns.is_none()));
    }

    #[test]
    fn leak_check_is_clean_only_when_nothing_is_out() {
        assert!(LeakCheck::default().is_clean());
        assert!(LeakCheck {
            frames_outstanding: Some(0),
            ..LeakCheck::default()
        }
        .is_clean());
        assert!(!LeakCheck {
            frames_outstanding: Some(1),
            ..LeakCheck::default()
        }
        .is_clean());
        assert!(!LeakCheck {
            segments_left: 1,
            ..LeakCheck::default()
        }
        .is_clean());
    }
}
