//! How figures are written for people: nanoseconds in the unit that fits, byte counts in
//! decimal units, a percentile with its interval.

/// The unit and decimals `format_ns` uses for `ns`.
fn unit_of(ns: u64) -> (f64, &'static str, usize) {
    let v = ns as f64;
    let (divisor, unit) = if ns < 1_000 {
        return (1.0, "ns", 0);
    } else if v < 1e6 {
        (1e3, "µs")
    } else if v < 1e9 {
        (1e6, "ms")
    } else {
        (1e9, "s")
    };
    let value = v / divisor;
    let decimals = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    (divisor, unit, decimals)
}

/// Nanoseconds in the unit that reads best: ns, µs, ms or s, three significant digits.
pub fn format_ns(ns: u64) -> String {
    let (divisor, unit, decimals) = unit_of(ns);
    format!("{:.decimals$} {unit}", ns as f64 / divisor)
}

/// A percentile with its 95% interval in the point's unit: `3.01 ms [2.90, 3.14]`; the
/// point alone when there is no interval (an older report, no samples).
pub fn format_ns_ci(ns: u64, interval: Option<[u64; 2]>) -> String {
    let Some([low, high]) = interval else {
        return format_ns(ns);
    };
    let (divisor, unit, decimals) = unit_of(ns);
    let v = |x: u64| format!("{:.decimals$}", x as f64 / divisor);
    format!("{} {unit} [{}, {}]", v(ns), v(low), v(high))
}

/// Bytes in decimal megabytes (or kB/GB when those read better).
pub fn format_bytes(bytes: u64) -> String {
    let v = bytes as f64;
    if v >= 1e9 {
        format!("{:.2} GB", v / 1e9)
    } else if v >= 1e6 {
        format!("{:.1} MB", v / 1e6)
    } else {
        format!("{:.0} kB", v / 1e3)
    }
}

/// A figure of a latency distribution that may have measured nothing (every consumer lost):
/// `text` when it did, "—" when not, never a 0 that reads as a perfect result.
pub fn or_dash(
    summary: &fbench_harness::metrics::LatencySummary,
    text: impl FnOnce() -> String,
) -> String {
    if summary.measured() {
        text()
    } else {
        "—".to_string()
    }
}
