//! Latency over time: the measured window cut into intervals (1 s by default, `--interval`),
//! each with its own histograms of age, acquire and publish and its own loss.
//!
//! A frame belongs to the interval of its capture time (its due time on the schedule), for
//! the consumer that saw it and for the producer that made it due, so "frames seen" and
//! "frames due" of an interval count the same frames and loss per interval is exact:
//! 1 − frames seen / (frames due × consumers).
//!
//! Every consumer (thread or process) and the producer keep an [`Intervals`] recorder; the
//! runner merges them into the run's. Interval histograms are kept *sparse* ([`Buckets`]:
//! one entry per HdrHistogram bucket actually hit, folded exactly as HdrHistogram folds
//! values at 3 significant digits), because a full 1 ns–100 s histogram is about 220 kB and
//! a soak has hundreds of intervals per consumer.
//!
//! The report carries per-interval *summaries* (`runs[].timeline`); the histograms
//! themselves go to HdrHistogram interval logs (`--export hlog`, written from
//! [`RunResult::intervals`](crate::RunResult::intervals)) and are not in the JSON.
//!
//! Nothing here reads a clock: callers pass offsets from the start of measuring.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::metrics::{Latency, LatencySummary, HIGHEST_NS};

/// The default interval: one second, as HdrHistogram's own tools log.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);

/// The shortest interval `--interval` accepts (below it, a 30 fps run has no frame in most
/// intervals).
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// The values of one interval folded to HdrHistogram's buckets (1 ns–100 s, 3 significant
/// digits): lowest equivalent value -> count. Re-recording these into a [`Latency`] gives
/// exactly the histogram recording the raw values would have.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Buckets(BTreeMap<u64, u64>);

/// HdrHistogram's lowest equivalent value at 3 significant digits and a lowest discernible
/// value of 1: exact below 2048, then 11 significant bits (see `metrics::Latency`).
fn lowest_equivalent(ns: u64) -> u64 {
    let ns = ns.clamp(1, HIGHEST_NS);
    let bits = 64 - ns.leading_zeros();
    if bits <= 11 {
        ns
    } else {
        let shift = bits - 11;
        (ns >> shift) << shift
    }
}

impl Buckets {
    #[inline]
    pub fn record(&mut self, ns: u64) {
        *self.0.entry(lowest_equivalent(ns)).or_insert(0) += 1;
    }

    pub fn add(&mut self, other: &Buckets) {
        for (&value, &count) in &other.0 {
            *self.0.entry(value).or_insert(0) += count;
        }
    }

    pub fn count(&self) -> u64 {
        self.0.values().sum()
    }

    /// The full histogram (for percentiles, encoding and interval logs).
    pub fn latency(&self) -> Latency {
        let mut latency = Latency::new();
        for (&value, &count) in &self.0 {
            latency.record_n(value, count);
        }
        latency
    }

    /// From a full histogram (e.g. one a consumer process sent).
    pub fn of(latency: &Latency) -> Buckets {
        let mut buckets = Buckets::default();
        for v in latency.histogram().iter_recorded() {
            *buckets
                .0
                .entry(lowest_equivalent(v.value_iterated_to()))
                .or_insert(0) += v.count_at_value();
        }
        buckets
    }

    /// Count, p50, p99 and max (nanoseconds, nearest rank over the interval's histogram).
    pub fn quantiles(&self) -> Quantiles {
        if self.0.is_empty() {
            return Quantiles::default();
        }
        let latency = self.latency();
        let h = latency.histogram();
        Quantiles {
            count: h.len(),
            p50: h.value_at_quantile(0.50),
            p99: h.value_at_quantile(0.99),
            max: h.max(),
        }
    }
}

/// One interval as a recorder sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Interval {
    /// Frames captured in the interval that consumers held (summed over consumers).
    pub seen: u64,
    /// Frame slots due in the interval (the producer's count; 0 in a consumer's recorder).
    pub due: u64,
    pub age: Buckets,
    pub acquire: Buckets,
    pub publish: Buckets,
}

/// The intervals of one participant (a consumer, the producer) or of a whole run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Intervals {
    pub interval_ns: u64,
    /// Interval `k` covers offsets `[k, k + 1) × interval_ns` from the start of measuring.
    pub intervals: Vec<Interval>,
    /// Consumers merged in (the denominator of loss per interval); 0 for one participant.
    pub consumers: usize,
    /// Wall-clock time at which measuring started (the producer's; interval logs are
    /// stamped with it), when known.
    pub started: Option<SystemTime>,
}

impl Default for Intervals {
    fn default() -> Self {
        Intervals::new(DEFAULT_INTERVAL, Duration::ZERO)
    }
}

impl Intervals {
    /// Intervals covering a window of `window` (the last one may be partial).
    pub fn new(interval: Duration, window: Duration) -> Intervals {
        let interval_ns = (interval.as_nanos() as u64).max(1);
        let window_ns = window.as_nanos() as u64;
        Intervals {
            interval_ns,
            intervals: vec![Interval::default(); window_ns.div_ceil(interval_ns) as usize],
            consumers: 0,
            started: None,
        }
    }

    fn at(&mut self, offset_ns: u64) -> &mut Interval {
        let k = (offset_ns / self.interval_ns) as usize;
        if k >= self.intervals.len() {
            self.intervals.resize(k + 1, Interval::default());
        }
        &mut self.intervals[k]
    }

    /// Stamp the wall-clock time of `measure_start_ns` (CLOCK_MONOTONIC), read now.
    pub fn stamp_start(&mut self, measure_start_ns: u64) {
        let now_mono = crate::clock::monotonic_ns();
        let now = SystemTime::now();
        self.started = if measure_start_ns >= now_mono {
            now.checked_add(Duration::from_nanos(measure_start_ns - now_mono))
        } else {
            now.checked_sub(Duration::from_nanos(now_mono - measure_start_ns))
        };
    }

    /// Consumer side: a frame captured `capture_offset_ns` after measuring started was held
    /// with this age, after this long inside the strategy.
    #[inline]
    pub fn seen(&mut self, capture_offset_ns: u64, age_ns: u64, acquire_ns: u64) {
        let interval = self.at(capture_offset_ns);
        interval.seen += 1;
        interval.age.record(age_ns);
        interval.acquire.record(acquire_ns);
    }

    /// Producer side: a frame slot was due at this offset (produced or not).
    #[inline]
    pub fn due(&mut self, due_offset_ns: u64) {
        self.at(due_offset_ns).due += 1;
    }

    /// Producer side: the frame due at this offset was published in `publish_ns`.
    #[inline]
    pub fn published(&mut self, due_offset_ns: u64, publish_ns: u64) {
        self.at(due_offset_ns).publish.record(publish_ns);
    }

    /// Add another participant's intervals (same interval length).
    pub fn add(&mut self, other: &Intervals) {
        debug_assert_eq!(self.interval_ns, other.interval_ns);
        if other.intervals.len() > self.intervals.len() {
            self.intervals
                .resize(other.intervals.len(), Interval::default());
        }
        for (mine, theirs) in self.intervals.iter_mut().zip(&other.intervals) {
            mine.seen += theirs.seen;
            mine.due += theirs.due;
            mine.age.add(&theirs.age);
            mine.acquire.add(&theirs.acquire);
            mine.publish.add(&theirs.publish);
        }
    }

    /// The report's per-interval summaries.
    pub fn summarise(&self) -> Vec<TimelinePoint> {
        self.intervals
            .iter()
            .enumerate()
            .map(|(k, interval)| {
                let age = interval.age.quantiles();
                let expected = interval.due * self.consumers as u64;
                TimelinePoint {
                    offset: k as u64 * self.interval_ns,
                    count: age.count,
                    p50: age.p50,
                    p99: age.p99,
                    max: age.max,
                    loss: (expected > 0)
                        .then(|| expected.saturating_sub(interval.seen) as f64 / expected as f64),
                    acquire: interval.acquire.quantiles(),
                    publish: interval.publish.quantiles(),
                }
            })
            .collect()
    }

    /// A consumer's intervals as a consumer process sends them: one summary (with its
    /// embedded histogram) per interval and series.
    pub fn to_wire(&self) -> WireIntervals {
        WireIntervals {
            interval_ns: self.interval_ns,
            seen: self.intervals.iter().map(|i| i.seen).collect(),
            age: self
                .intervals
                .iter()
                .map(|i| i.age.latency().summary())
                .collect(),
            acquire: self
                .intervals
                .iter()
                .map(|i| i.acquire.latency().summary())
                .collect(),
            ..WireIntervals::default()
        }
    }

    /// A whole run's intervals as a run child process sends them to its parent: the
    /// consumer series plus the producer's (due frames, publish times), the consumer count
    /// and the start stamp, so the parent's interval logs equal an in-process run's.
    pub fn to_wire_whole(&self) -> WireIntervals {
        WireIntervals {
            due: self.intervals.iter().map(|i| i.due).collect(),
            publish: self
                .intervals
                .iter()
                .map(|i| i.publish.latency().summary())
                .collect(),
            consumers: self.consumers,
            started_unix_ns: self.started.and_then(|t| {
                t.duration_since(SystemTime::UNIX_EPOCH)
                    .ok()
                    .map(|d| d.as_nanos() as u64)
            }),
            ..self.to_wire()
        }
    }

    /// Back from what a consumer process sent.
    pub fn from_wire(wire: &WireIntervals) -> Result<Intervals, String> {
        if wire.age.len() != wire.seen.len() || wire.acquire.len() != wire.seen.len() {
            return Err("interval series of different lengths".to_string());
        }
        // The producer's series are there only in a whole run's intervals (`to_wire_whole`).
        let whole = !wire.publish.is_empty() || !wire.due.is_empty();
        if whole && (wire.publish.len() != wire.seen.len() || wire.due.len() != wire.seen.len()) {
            return Err("interval series of different lengths".to_string());
        }
        let mut intervals = Vec::with_capacity(wire.seen.len());
        for (k, ((seen, age), acquire)) in wire
            .seen
            .iter()
            .zip(&wire.age)
            .zip(&wire.acquire)
            .enumerate()
        {
            intervals.push(Interval {
                seen: *seen,
                due: if whole { wire.due[k] } else { 0 },
                age: Buckets::of(&Latency::from_summary(age)?),
                acquire: Buckets::of(&Latency::from_summary(acquire)?),
                publish: if whole {
                    Buckets::of(&Latency::from_summary(&wire.publish[k])?)
                } else {
                    Buckets::default()
                },
            });
        }
        Ok(Intervals {
            interval_ns: wire.interval_ns.max(1),
            intervals,
            consumers: wire.consumers,
            started: wire
                .started_unix_ns
                .map(|ns| SystemTime::UNIX_EPOCH + Duration::from_nanos(ns)),
        })
    }
}

/// A consumer process's intervals on the pipe to its parent (histograms in HdrHistogram's
/// V2+DEFLATE encoding, as every other histogram fbench sends or writes).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WireIntervals {
    pub interval_ns: u64,
    pub seen: Vec<u64>,
    pub age: Vec<LatencySummary>,
    pub acquire: Vec<LatencySummary>,
    /// Frames due per interval (a whole run's only; empty from a consumer).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub due: Vec<u64>,
    /// Publish times per interval (a whole run's only; empty from a consumer).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub publish: Vec<LatencySummary>,
    /// Consumers merged in (a whole run's; 0 from a consumer).
    #[serde(default)]
    pub consumers: usize,
    /// When measuring started, ns since the Unix epoch (a whole run's, when known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_unix_ns: Option<u64>,
}

/// Count, median, p99 and maximum of one interval of one series, nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quantiles {
    pub count: u64,
    pub p50: u64,
    pub p99: u64,
    pub max: u64,
}

/// One interval of a run in the report (`runs[].timeline[]`): the age distribution of the
/// frames captured in it, and its loss.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// Start of the interval, nanoseconds from the start of measuring.
    pub offset: u64,
    /// Frames captured in the interval that consumers held (age samples).
    pub count: u64,
    /// Age percentiles and maximum over the interval, nanoseconds.
    pub p50: u64,
    pub p99: u64,
    pub max: u64,
    /// 1 − frames seen / (frames due × consumers that finished) over the interval; `null`
    /// when no frame was due in it.
    pub loss: Option<f64>,
    /// Time inside the strategy to obtain a frame, over the interval.
    #[serde(default)]
    pub acquire: Quantiles,
    /// Producer time inside the strategy per frame, over the interval.
    #[serde(default)]
    pub publish: Quantiles,
}

/// `--interval`: a duration of at least [`MIN_INTERVAL`].
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    let interval = crate::units::parse_duration(text)?;
    if interval < MIN_INTERVAL {
        return Err(format!(
            "'{text}' is shorter than the {} accepted (e.g. 100ms, 1s)",
            crate::units::format_duration(MIN_INTERVAL)
        ));
    }
    Ok(interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_fold_exactly_as_hdrhistogram() {
        let latency = Latency::new();
        let h = latency.histogram();
        let mut value = 1u64;
        while value < HIGHEST_NS {
            for v in [value, value + 1, value * 3 / 2, value.saturating_mul(7) / 5] {
                let v = v.clamp(1, HIGHEST_NS);
                assert_eq!(lowest_equivalent(v), h.lowest_equivalent(v), "{v}");
            }
            value = value * 2 + 1;
        }
    }

    /// A run child sends its whole run's intervals to the parent: they arrive whole (due
    /// frames, publish times, consumer count and start stamp included).
    #[test]
    fn a_whole_runs_intervals_round_trip_through_the_wire() {
        let mut whole = Intervals::new(Duration::from_millis(100), Duration::from_millis(300));
        whole.consumers = 2;
        for k in 0..3u64 {
            let offset = k * 100_000_000 + 5;
            whole.due(offset);
            whole.published(offset, 700 + k);
            whole.seen(offset, 1_000_000 * (k + 1), 50 + k);
            whole.seen(offset, 2_000_000 * (k + 1), 60 + k);
        }
        whole.started =
            Some(SystemTime::UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789));
        let json = serde_json::to_string(&whole.to_wire_whole()).unwrap();
        let back = Intervals::from_wire(&serde_json::from_str(&json).unwrap()).unwrap();
        assert_eq!(back, whole);
        // A consumer's wire form is unchanged: no producer series.
        let consumer = whole.to_wire();
        assert!(consumer.due.is_empty() && consumer.publish.is_empty());
        assert_eq!(Intervals::from_wire(&consumer).unwrap().intervals[0].due, 0);
    }

    #[test]
    fn buckets_round_trip_through_a_histogram() {
        let mut buckets = Buckets::default();
        let mut direct = Latency::new();
        for v in [
            1,
            5,
            2047,
            2048,
            2049,
            123_456,
            123_457,
            9_999_999,
            42_000_000_000,
        ] {
            buckets.record(v);
            direct.record(v);
        }
        buckets.record(5);
        direct.record(5);
        assert_eq!(buckets.count(), 10);
        assert_eq!(buckets.latency().histogram(), direct.histogram());
        assert_eq!(Buckets::of(&direct), buckets);
        let q = buckets.quantiles();
        assert_eq!(q.count, 10);
        assert_eq!(q.max, direct.histogram().max());
    }

    #[test]
    fn intervals_cover_the_window_and_merge() {
        let mut consumer = Intervals::new(Duration::from_millis(100), Duration::from_millis(950));
        assert_eq!(consumer.intervals.len(), 10);
        consumer.seen(0, 10, 1);
        consumer.seen(99_999_999, 10, 1);
        consumer.seen(100_000_000, 20, 2);
        let mut producer = Intervals::new(Duration::from_millis(100), Duration::from_millis(950));
        for k in 0..10u64 {
            producer.due(k * 100_000_000);
            producer.due(k * 100_000_000 + 50_000_000);
            producer.published(k * 100_000_000, 7);
        }
        let mut run = producer.clone();
        run.add(&consumer);
        run.consumers = 1;
        let points = run.summarise();
        assert_eq!(points.len(), 10);
        assert_eq!(points[0].count, 2);
        assert_eq!(points[0].loss, Some(0.0));
        assert_eq!(points[1].count, 1);
        assert_eq!(points[1].loss, Some(0.5));
        assert_eq!(points[2].loss, Some(1.0));
        assert_eq!(points[3].publish.count, 1);
        assert!(points
            .windows(2)
            .all(|w| w[1].offset == w[0].offset + 100_000_000));

        let back = Intervals::from_wire(&consumer.to_wire()).unwrap();
        assert_eq!(back, consumer);
    }

    #[test]
    fn intervals_parse() {
        assert_eq!(parse_interval("100ms").unwrap(), Duration::from_millis(100));
        assert!(parse_interval("1ms").is_err());
        assert!(parse_interval("soon").is_err());
    }
}
