//! `.hgrm` files: HdrHistogram's percentile distribution text format (what
//! `outputPercentileDistribution` prints and HdrHistogram's plotter reads), one file per run,
//! for the age histogram. Values are in milliseconds.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

use crate::{Report, ReportError};

/// The HdrHistogram convention: percentile ticks per half distance to 100%.
const TICKS_PER_HALF_DISTANCE: u32 = 5;
/// Nanoseconds per output unit (milliseconds).
const NS_PER_MS: f64 = 1e6;

/// One `.hgrm` file.
pub struct HgrmFile {
    /// A file-name fragment unique within the report: `<strategy>-c<consumers>`, with the
    /// run's number appended when a sweep has the same pair more than once.
    pub name: String,
    pub text: String,
}

/// The age distribution of every run of `report`.
pub fn age_distributions(report: &Report) -> Result<Vec<HgrmFile>, ReportError> {
    let base: Vec<String> = report
        .runs
        .iter()
        .map(|run| format!("{}-c{}", run.strategy, run.consumers))
        .collect();
    report
        .runs
        .iter()
        .enumerate()
        .map(|(i, run)| {
            let histogram = run
                .age_ns
                .decode()
                .map_err(|e| ReportError::Histogram(format!("{} age_ns: {e}", base[i])))?;
            let name = if base.iter().filter(|b| **b == base[i]).count() > 1 {
                format!("{}-{}", base[i], i + 1)
            } else {
                base[i].clone()
            };
            Ok(HgrmFile {
                name,
                text: percentile_distribution(&histogram),
            })
        })
        .collect()
}

/// The text `outputPercentileDistribution(out, 5, 1e6)` gives for a histogram in ns.
pub fn percentile_distribution(h: &Histogram<u64>) -> String {
    let digits = usize::from(h.sigfig());
    let mut out = String::new();
    let _ = write!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    if !h.is_empty() {
        let mut total = 0u64;
        for v in h.iter_quantiles(TICKS_PER_HALF_DISTANCE) {
            total += v.count_since_last_iteration();
            let value = v.value_iterated_to() as f64 / NS_PER_MS;
            let q = v.quantile_iterated_to();
            if q < 1.0 {
                let _ = writeln!(
                    out,
                    "{value:>12.digits$} {q:>2.12} {total:>10} {:>14.2}",
                    1.0 / (1.0 - q)
                );
            } else {
                let _ = writeln!(out, "{value:>12.digits$} {q:>2.12} {total:>10}");
            }
        }
    }
    let mean = if h.is_empty() { 0.0 } else { h.mean() } / NS_PER_MS;
    let stdev = if h.is_empty() { 0.0 } else { h.stdev() } / NS_PER_MS;
    let max = if h.is_empty() { 0 } else { h.max() } as f64 / NS_PER_MS;
    let _ = writeln!(
        out,
        "#[Mean    = {mean:>12.digits$}, StdDeviation   = {stdev:>12.digits$}]"
    );
    let _ = writeln!(
        out,
        "#[Max     = {max:>12.digits$}, Total count    = {:>12}]",
        h.len()
    );
    let _ = writeln!(
        out,
        "#[Buckets = {:>12}, SubBuckets     = {:>12}]",
        h.buckets(),
        sub_bucket_count(h.sigfig())
    );
    out
}

/// HdrHistogram's sub-bucket count for a precision: the power of two that holds
/// 2 x 10^digits.
fn sub_bucket_count(sigfig: u8) -> u64 {
    let single_unit = 2 * 10u64.pow(u32::from(sigfig));
    single_unit.next_power_of_two()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_follows_hdrhistogram() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 100_000_000_000, 3).unwrap();
        for ms in 1..=100u64 {
            h.record(ms * 1_000_000).unwrap();
        }
        let text = percentile_distribution(&h);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "       Value     Percentile TotalCount 1/(1-Percentile)"
        );
        assert_eq!(lines[1], "");
        assert_eq!(
            lines[2],
            "       1.000 0.000000000000          1           1.00"
        );
        let last = lines[lines.len() - 4];
        assert!(
            last.starts_with("     100.008 1.000000000000        100"),
            "{last}"
        );
        assert!(lines[lines.len() - 2]
            .starts_with("#[Max     =      100.008, Total count    =          100]"));
        assert_eq!(sub_bucket_count(3), 2048);
        assert_eq!(sub_bucket_count(2), 256);
    }
}
