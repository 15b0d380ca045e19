//! `.hlog` files: HdrHistogram interval logs (the V2 log format that HdrHistogram's
//! `HistogramLogReader`s in Java, C, Python, Go, … and HistogramLogAnalyzer read), one per
//! run, with one tagged histogram per interval for each of `age`, `acquire` and `publish`.
//!
//! Written with the hdrhistogram crate's own interval log writer. `#[StartTime]` and
//! `#[BaseTime]` are both the wall-clock time at which measuring started, so an interval's
//! timestamp is its offset into the measured window, as in the report's `timeline`. Values
//! are nanoseconds; the max column of each line is in milliseconds (divisor 1e6, the
//! convention of HdrHistogram's tools for nanosecond logs).
//!
//! The histograms exist only in a run just measured ([`RunResult::intervals`]), not in a
//! JSON report: a report read back has none to write.
//!
//! [`RunResult::intervals`]: fbench_harness::RunResult::intervals

use std::time::{Duration, SystemTime};

use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;

use fbench_harness::timeline::Intervals;
use fbench_harness::RunResult;

use crate::{Report, ReportError};

/// The tags of the three series, in the order each interval lists them.
pub const TAGS: [&str; 3] = ["age", "acquire", "publish"];

/// One `.hlog` file.
pub struct HlogFile {
    /// `<strategy>-c<consumers>`, with the run's number appended when the report has the
    /// same pair more than once (as [`crate::hgrm`] names its files).
    pub name: String,
    pub text: String,
}

/// The interval log of every run of `report` that has its interval histograms; runs read
/// back from JSON have none and are left out.
pub fn interval_logs(report: &Report) -> Result<Vec<HlogFile>, ReportError> {
    let base: Vec<String> = report
        .runs
        .iter()
        .map(|run| format!("{}-c{}", run.strategy, run.consumers))
        .collect();
    let mut files = Vec::new();
    for (i, run) in report.runs.iter().enumerate() {
        let Some(intervals) = &run.intervals else {
            continue;
        };
        let name = if base.iter().filter(|b| **b == base[i]).count() > 1 {
            format!("{}-{}", base[i], i + 1)
        } else {
            base[i].clone()
        };
        files.push(HlogFile {
            name,
            text: interval_log(run, intervals)?,
        });
    }
    Ok(files)
}

/// One run's interval log.
pub fn interval_log(run: &RunResult, intervals: &Intervals) -> Result<String, ReportError> {
    let started = intervals.started.unwrap_or(SystemTime::UNIX_EPOCH);
    let mut out = Vec::new();
    let mut serializer = V2DeflateSerializer::new();
    let fail = |e: String| ReportError::Histogram(format!("interval log: {e}"));
    {
        let mut writer = IntervalLogWriterBuilder::new()
            .add_comment(&format!(
                "fbench interval log: {} with {} consumer{}, {} s intervals; values in ns",
                run.strategy,
                run.consumers,
                if run.consumers == 1 { "" } else { "s" },
                intervals.interval_ns as f64 / 1e9
            ))
            .add_comment("tags: age (capture to held), acquire (inside the strategy, consumer), publish (inside the strategy, producer)")
            .with_start_time(started)
            .with_base_time(started)
            .with_max_value_divisor(1e6)
            .begin_log_with(&mut out, &mut serializer)
            .map_err(|e| fail(e.to_string()))?;
        let length = Duration::from_nanos(intervals.interval_ns);
        for (k, interval) in intervals.intervals.iter().enumerate() {
            let start = Duration::from_nanos(k as u64 * intervals.interval_ns);
            for (tag, buckets) in
                TAGS.iter()
                    .zip([&interval.age, &interval.acquire, &interval.publish])
            {
                let latency = buckets.latency();
                writer
                    .write_histogram(latency.histogram(), start, length, Tag::new(tag))
                    .map_err(|e| fail(format!("{e:?}")))?;
            }
        }
    }
    String::from_utf8(out).map_err(|e| fail(e.to_string()))
}

#[cfg(test)]
mod tests {
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

    use super::*;

    /// The crate's own reader agrees with the run: one histogram per interval and tag, and
    /// the age counts sum to the run's (the integration tests check with another
    /// implementation).
    #[test]
    fn a_log_reads_back_with_every_interval_and_tag() {
        let mut intervals = Intervals::new(Duration::from_millis(100), Duration::from_millis(300));
        intervals.seen(10, 1_000, 50);
        intervals.seen(150_000_000, 2_000, 60);
        intervals.seen(150_000_001, 3_000, 70);
        intervals.published(0, 400);
        intervals.started = Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        let mut config = fbench_harness::RunConfig::default_config();
        config.consumers = 1;
        // A run record is only needed for the header comment.
        let text = interval_log(&test_run(&config), &intervals).unwrap();
        assert!(text.contains("#[StartTime: 1700000000.000"), "{text}");
        assert!(text.contains("#[BaseTime: 1700000000.000"), "{text}");
        let mut age_total = 0;
        let mut per_tag = [0usize; 3];
        for entry in IntervalLogIterator::new(text.as_bytes()) {
            if let Ok(LogEntry::Interval(h)) = entry {
                let tag = h.tag().expect("every histogram is tagged").as_str();
                let t = TAGS.iter().position(|t| *t == tag).unwrap();
                per_tag[t] += 1;
                let histogram = decode(h.encoded_histogram());
                if tag == "age" {
                    age_total += histogram.len();
                }
            }
        }
        assert_eq!(per_tag, [3, 3, 3]);
        assert_eq!(age_total, 3);
    }

    /// Decode a base64 V2+DEFLATE histogram through the report's own summary decoder.
    fn decode(text: &str) -> hdrhistogram::Histogram<u64> {
        fbench_harness::metrics::LatencySummary {
            count: 0,
            mean: 0.0,
            p50: 0,
            p90: 0,
            p99: 0,
            p999: 0,
            max: 0,
            hdr: text.to_string(),
            ci95: None,
        }
        .decode()
        .unwrap()
    }

    fn test_run(config: &fbench_harness::RunConfig) -> RunResult {
        RunResult::empty("mutex", 1, config.record())
    }
}
