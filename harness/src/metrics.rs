//! Measurement: latency histograms, memory (RSS and PSS) and CPU of the process.
//!
//! Latencies go into HdrHistograms with 3 significant digits from 1 ns to 100 s; values
//! beyond are clamped to the top (and would show as a max of 100 s). Summaries carry the
//! whole histogram in HdrHistogram's V2+DEFLATE base64 form so any report can be
//! re-analysed by standard tools.
//!
//! # Percentiles
//!
//! A percentile is the **nearest rank**, as the `hdrhistogram` crate's
//! `value_at_quantile` computes it: the p-th percentile of n samples is the
//! ⌈p/100 · n⌉-th smallest (at least the first), reported as the highest value its
//! histogram bucket stands for (at most 0.1% above what was recorded, 3 significant
//! digits). Other HdrHistogram implementations interpolate or round differently, so
//! their p99 of the same few samples can be a neighbouring sample.
//!
//! With few samples the high percentiles are the largest samples: p99 of n < 100 is the
//! maximum, and below about 1000 samples p99 is among the ten largest, so it moves with
//! any single slow frame. That is why p50, p99 and p99.9 carry a 95% confidence interval
//! ([`Ci95`]), computed from the run's own histogram without assuming any distribution:
//! the number of samples below the true q-quantile is binomial(n, q), so the order
//! statistics of ranks l and u with P(l ≤ B < u) ≥ 95% bound it (exact binomial up to
//! [`EXACT_BINOMIAL_MAX`] samples, the normal approximation above). When u would exceed
//! n, the interval's upper end is the maximum: the sample cannot bound that percentile
//! from above (p99 of fewer than 555 samples, p99.9 of fewer than 5570).
//! See `docs/percentiles.md`.

use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Highest trackable latency: 100 s.
pub const HIGHEST_NS: u64 = 100_000_000_000;

/// A latency histogram in nanoseconds.
#[derive(Clone, Debug)]
pub struct Latency(Histogram<u64>);

impl Default for Latency {
    fn default() -> Self {
        Latency::new()
    }
}

impl Latency {
    pub fn new() -> Self {
        Latency(Histogram::new_with_bounds(1, HIGHEST_NS, 3).expect("valid histogram bounds"))
    }

    #[inline]
    pub fn record(&mut self, ns: u64) {
        self.0.saturating_record(ns.max(1));
    }

    /// `count` samples of `ns` at once (e.g. a bucket of an interval histogram).
    #[inline]
    pub fn record_n(&mut self, ns: u64, count: u64) {
        self.0.saturating_record_n(ns.max(1), count);
    }

    pub fn add(&mut self, other: &Latency) {
        self.0.add(&other.0).expect("same bounds, never fails");
    }

    pub fn len(&self) -> u64 {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn histogram(&self) -> &Histogram<u64> {
        &self.0
    }

    /// Rebuild from a summary's embedded histogram (e.g. one a consumer process sent).
    pub fn from_summary(summary: &LatencySummary) -> Result<Latency, String> {
        let mut latency = Latency::new();
        latency
            .0
            .add(summary.decode()?)
            .map_err(|e| format!("histogram out of range: {e:?}"))?;
        Ok(latency)
    }

    pub fn summary(&self) -> LatencySummary {
        let h = &self.0;
        let q = |p: f64| {
            if h.is_empty() {
                0
            } else {
                h.value_at_quantile(p)
            }
        };
        let mut encoded = Vec::new();
        V2DeflateSerializer::new()
            .serialize(h, &mut encoded)
            .expect("serialising into memory does not fail");
        LatencySummary {
            count: h.len(),
            mean: if h.is_empty() { 0.0 } else { h.mean() },
            p50: q(0.50),
            p90: q(0.90),
            p99: q(0.99),
            p999: q(0.999),
            max: if h.is_empty() { 0 } else { h.max() },
            hdr: base64::engine::general_purpose::STANDARD.encode(encoded),
            ci95: Ci95::of(h),
        }
    }
}

/// 95% confidence intervals `[low, high]` (ns) of a summary's percentiles, from its own
/// histogram (see the module documentation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ci95 {
    pub p50: [u64; 2],
    pub p99: [u64; 2],
    pub p999: [u64; 2],
}

impl Ci95 {
    /// `None` for an empty histogram.
    pub fn of(h: &Histogram<u64>) -> Option<Ci95> {
        if h.is_empty() {
            return None;
        }
        let interval = |q: f64| {
            let (low, high) = order_statistic_ranks(h.len(), q);
            [value_at_rank(h, low), value_at_rank(h, high)]
        };
        Some(Ci95 {
            p50: interval(0.50),
            p99: interval(0.99),
            p999: interval(0.999),
        })
    }
}

/// Up to this many samples the ranks come from the exact binomial distribution; above,
/// from its normal approximation (the two agree to a rank or two there).
pub const EXACT_BINOMIAL_MAX: u64 = 100_000;

/// The 1-based ranks `(l, u)` of the order statistics that bound the q-quantile of n
/// samples with at least 95% confidence, clamped to `1..=n`, and always around the
/// nearest-rank estimate ⌈q·n⌉ (so the interval contains the reported percentile).
///
/// B, the count of samples at or below the true quantile, is binomial(n, q); the
/// quantile lies in `[X(l), X(u)]` when l ≤ B < u. Each tail gets at most 2.5%:
/// l is the largest rank with P(B < l) ≤ 0.025, u the smallest with P(B ≥ u) ≤ 0.025.
pub fn order_statistic_ranks(n: u64, q: f64) -> (u64, u64) {
    assert!(n > 0, "no samples, no ranks");
    let q = q.clamp(0.0, 1.0);
    let nearest = ((q * n as f64).ceil() as u64).clamp(1, n);
    let (low, high) = if n <= EXACT_BINOMIAL_MAX && q > 0.0 && q < 1.0 {
        exact_ranks(n, q)
    } else {
        const Z: f64 = 1.959_963_984_540_054;
        let mean = n as f64 * q;
        let spread = Z * (mean * (1.0 - q)).sqrt();
        (
            (mean - spread).floor().max(0.0) as u64,
            (mean + spread).ceil() as u64 + 1,
        )
    };
    (low.clamp(1, nearest), high.clamp(nearest, n))
}

/// Exact binomial ranks, summing the pmf in log space (no overflow for any n here).
fn exact_ranks(n: u64, q: f64) -> (u64, u64) {
    const TAIL: f64 = 0.025;
    let (ln_q, ln_rest) = (q.ln(), (1.0 - q).ln());
    // pmf(k) for k = 0..=n, by ln C(n, k) = ln C(n, k-1) + ln(n-k+1) - ln k.
    let mut ln_choose = 0.0f64;
    let mut pmf = Vec::with_capacity(n as usize + 1);
    for k in 0..=n {
        if k > 0 {
            ln_choose += ((n - k + 1) as f64).ln() - (k as f64).ln();
        }
        pmf.push((ln_choose + k as f64 * ln_q + (n - k) as f64 * ln_rest).exp());
    }
    // l: the largest l with P(B <= l-1) <= TAIL (l = 0 when even P(B = 0) is above it).
    let mut low = 0;
    let mut below = 0.0;
    for (k, p) in pmf.iter().enumerate() {
        below += p;
        if below > TAIL {
            break;
        }
        low = k as u64 + 1;
    }
    // u: the smallest u with P(B >= u) <= TAIL (n + 1 when even P(B = n) is above it).
    let mut high = n + 1;
    let mut above = 0.0;
    for k in (0..=n).rev() {
        above += pmf[k as usize];
        if above > TAIL {
            break;
        }
        high = k;
    }
    (low, high)
}

/// The r-th smallest sample (1-based), as `value_at_quantile` reports values: the highest
/// value of its bucket.
pub fn value_at_rank(h: &Histogram<u64>, rank: u64) -> u64 {
    let mut seen = 0;
    for bucket in h.iter_recorded() {
        seen += bucket.count_at_value();
        if seen >= rank {
            return h.highest_equivalent(bucket.value_iterated_to());
        }
    }
    if h.is_empty() {
        0
    } else {
        h.highest_equivalent(h.max())
    }
}

/// What every report shows of a latency distribution (nanoseconds).
///
/// A summary whose `count` is 0 measured nothing (e.g. every consumer of the run was lost):
/// in JSON its figures (`mean`, `p50` … `max`, `ci95`) are `null`, never a perfect 0, and
/// `null` reads back as 0 with `count` 0. Readers show such a figure as "—".
///
/// ```
/// use fbench_harness::metrics::Latency;
///
/// let nothing = Latency::new().summary();
/// let json = serde_json::to_value(&nothing).unwrap();
/// assert!(json["p99"].is_null() && json["mean"].is_null());
/// let back: fbench_harness::metrics::LatencySummary = serde_json::from_value(json).unwrap();
/// assert_eq!(back, nothing);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(into = "LatencySummaryWire", from = "LatencySummaryWire")]
pub struct LatencySummary {
    pub count: u64,
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    /// The full histogram, HdrHistogram V2+DEFLATE, base64.
    pub hdr: String,
    /// 95% confidence intervals of p50, p99 and p99.9 from this histogram; `null` when it
    /// is empty or the report predates them.
    #[serde(default)]
    pub ci95: Option<Ci95>,
}

/// [`LatencySummary`] as JSON has it: figures of an empty summary are `null`.
#[derive(Serialize, Deserialize)]
struct LatencySummaryWire {
    count: u64,
    mean: Option<f64>,
    p50: Option<u64>,
    p90: Option<u64>,
    p99: Option<u64>,
    p999: Option<u64>,
    max: Option<u64>,
    hdr: String,
    #[serde(default)]
    ci95: Option<Ci95>,
}

impl From<LatencySummary> for LatencySummaryWire {
    fn from(s: LatencySummary) -> Self {
        // Nothing measured: no figure, rather than a 0 that reads as a perfect result.
        let measured = s.count > 0;
        LatencySummaryWire {
            count: s.count,
            mean: measured.then_some(s.mean),
            p50: measured.then_some(s.p50),
            p90: measured.then_some(s.p90),
            p99: measured.then_some(s.p99),
            p999: measured.then_some(s.p999),
            max: measured.then_some(s.max),
            hdr: s.hdr,
            ci95: s.ci95.filter(|_| measured),
        }
    }
}

impl From<LatencySummaryWire> for LatencySummary {
    fn from(w: LatencySummaryWire) -> Self {
        LatencySummary {
            count: w.count,
            mean: w.mean.unwrap_or_default(),
            p50: w.p50.unwrap_or_default(),
            p90: w.p90.unwrap_or_default(),
            p99: w.p99.unwrap_or_default(),
            p999: w.p999.unwrap_or_default(),
            max: w.max.unwrap_or_default(),
            hdr: w.hdr,
            ci95: w.ci95,
        }
    }
}

impl LatencySummary {
    /// Whether anything was measured: when not, its figures are absent (shown "—",
    /// serialised `null`), not zero.
    pub fn measured(&self) -> bool {
        self.count > 0
    }

    /// Decode the embedded histogram.
    pub fn decode(&self) -> Result<Histogram<u64>, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&self.hdr)
            .map_err(|e| format!("histogram is not base64: {e}"))?;
        // Declared lengths are checked against the bytes before the deserializer allocates.
        let bytes = crate::hdr::checked_v2(&bytes)?;
        Deserializer::new()
            .deserialize(&mut bytes.as_ref())
            .map_err(|e| format!("histogram does not decode: {e:?}"))
    }
}

/// One memory sample of the process, bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MemorySample {
    /// Milliseconds since the run started (warm-up included).
    pub t_ms: u64,
    pub rss_bytes: u64,
    pub pss_bytes: u64,
    /// Frames the strategy had accepted by then, since it was built (warm-up included):
    /// throughput over time.
    #[serde(default)]
    pub published: u64,
    /// Frames the strategy had refused by then, since it was built.
    #[serde(default)]
    pub producer_drops: u64,
    /// CPU time (user + system, seconds) used by then by this process since it started, plus
    /// by the consumer processes alive at that moment (cross-process runs): CPU over time is
    /// the slope. `null` in reports written before fbench sampled it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_s: Option<f64>,
}

/// CPU time (user + system, seconds) of this process so far, plus that of the live child
/// processes started by the calling thread (the consumer processes of a cross-process run,
/// which the driver starts and samples from one thread). Only that thread's `children` file
/// is read, so a run with a thousand consumer *threads* costs one small read.
pub fn process_tree_cpu_s() -> f64 {
    // SAFETY: gettid has no preconditions and cannot fail.
    let tid = unsafe { libc::gettid() };
    let children =
        std::fs::read_to_string(format!("/proc/self/task/{tid}/children")).unwrap_or_default();
    process_cpu_s()
        + children
            .split_whitespace()
            .filter_map(stat_cpu_s)
            .sum::<f64>()
}

/// User + system CPU seconds of process `pid` from `/proc/<pid>/stat`.
fn stat_cpu_s(pid: &str) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat_cpu_ticks(&text).map(|ticks| ticks as f64 / clock_ticks_per_s())
}

/// utime + stime (fields 14 and 15) of a `/proc/<pid>/stat` line, in clock ticks. The
/// command name (field 2) may hold spaces and parentheses: fields are counted after the last
/// `)`.
fn parse_stat_cpu_ticks(text: &str) -> Option<u64> {
    let after = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // fields[0] is field 3 (state), so field n is fields[n - 3].
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn clock_ticks_per_s() -> f64 {
    // SAFETY: sysconf has no preconditions; _SC_CLK_TCK is a valid name.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

/// CPU time (user + system, seconds) of this process so far.
pub fn process_cpu_s() -> f64 {
    // SAFETY: rusage is plain old data, so all-zero bytes are a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable rusage; RUSAGE_SELF is always valid.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let seconds = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// RSS and PSS of process `pid` ("self" for this one) from `/proc/<pid>/smaps_rollup`.
/// PSS divides each shared page among the processes mapping it, so summing PSS over
/// processes counts shared memory once; summing RSS counts it once per process.
pub fn memory_of(pid: &str) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    parse_smaps_rollup(&text)
}

fn parse_smaps_rollup(text: &str) -> Option<(u64, u64)> {
    let field = |name: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(name))?;
        let kb: u64 = line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kb * 1024)
    };
    Some((field("Rss:")?, field("Pss:")?))
}

/// CPU time (user + system) the calling thread has used so far, nanoseconds, from the
/// kernel's per-thread accounting (`CLOCK_THREAD_CPUTIME_ID`): time other threads or
/// processes took is not in it, however busy the machine.
pub fn thread_cpu_ns() -> u64 {
    // SAFETY: timespec is plain old data, so all-zero bytes are a valid value.
    let mut now: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: `now` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID always exists on
    // Linux, so clock_gettime only fills it in.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    if status != 0 {
        return 0;
    }
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

/// CPU time and context switches of the whole process (all its threads).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuUsage {
    pub user_s: f64,
    pub sys_s: f64,
    pub voluntary_ctx_switches: u64,
    pub involuntary_ctx_switches: u64,
    /// CPUs' worth of time other processes used over the same interval: the machine's busy
    /// time minus the run's whole process tree (its consumer processes included), steal left
    /// out (see [`crate::load`]); `null` when unknown.
    #[serde(default)]
    pub other_load_cpus: Option<f64>,
    /// CPUs' worth of time the hypervisor took from this machine over the same interval
    /// (`steal` in `/proc/stat`); `null` when unknown and in older reports.
    #[serde(default)]
    pub steal_cpus: Option<f64>,
    /// In a snapshot ([`CpuUsage::now`]) only: the machine's busy time, for `since`. Never
    /// in a report.
    #[serde(skip)]
    pub machine_ticks: Option<crate::load::MachineTicks>,
    /// In a difference ([`CpuUsage::since`]) only: the machine's busy time at both ends, so
    /// that [`CpuUsage::plus`] can take consumer processes' CPU out of the other load over
    /// exactly the same interval. Never in a report.
    #[serde(skip)]
    pub machine_window: Option<(crate::load::MachineTicks, crate::load::MachineTicks)>,
}

impl CpuUsage {
    pub fn now() -> CpuUsage {
        // SAFETY: rusage is plain old data, so all-zero bytes are a valid value.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `usage` is a valid, writable rusage; RUSAGE_SELF is always valid, so
        // getrusage only fills it in.
        unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
        let seconds = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
        CpuUsage {
            user_s: seconds(usage.ru_utime),
            sys_s: seconds(usage.ru_stime),
            voluntary_ctx_switches: usage.ru_nvcsw as u64,
            involuntary_ctx_switches: usage.ru_nivcsw as u64,
            machine_ticks: crate::load::MachineTicks::now(),
            ..CpuUsage::default()
        }
    }

    /// User + system seconds.
    pub fn cpu_s(&self) -> f64 {
        self.user_s + self.sys_s
    }

    /// The sum of two processes' usage over the same interval (the run's own process and its
    /// consumer processes). `self`'s view of the rest of the machine counted `other`'s CPU as
    /// someone else's: it is taken out, over `self`'s own window of the machine's ticks.
    pub fn plus(&self, other: &CpuUsage) -> CpuUsage {
        let mut sum = CpuUsage {
            user_s: self.user_s + other.user_s,
            sys_s: self.sys_s + other.sys_s,
            voluntary_ctx_switches: self.voluntary_ctx_switches + other.voluntary_ctx_switches,
            involuntary_ctx_switches: self.involuntary_ctx_switches
                + other.involuntary_ctx_switches,
            machine_window: self.machine_window,
            ..CpuUsage::default()
        };
        sum.account_machine();
        sum
    }

    /// What was spent between `earlier` and `self`.
    pub fn since(&self, earlier: &CpuUsage) -> CpuUsage {
        let mut spent = CpuUsage {
            user_s: (self.user_s - earlier.user_s).max(0.0),
            sys_s: (self.sys_s - earlier.sys_s).max(0.0),
            voluntary_ctx_switches: self
                .voluntary_ctx_switches
                .saturating_sub(earlier.voluntary_ctx_switches),
            involuntary_ctx_switches: self
                .involuntary_ctx_switches
                .saturating_sub(earlier.involuntary_ctx_switches),
            machine_window: earlier.machine_ticks.zip(self.machine_ticks),
            ..CpuUsage::default()
        };
        spent.account_machine();
        spent
    }

    /// Other load and steal over the machine window, this usage being the run's own.
    fn account_machine(&mut self) {
        let own_cpu_s = self.cpu_s();
        (self.other_load_cpus, self.steal_cpus) = match self.machine_window {
            Some((then, now)) => (
                now.other_load_since(&then, own_cpu_s),
                now.steal_since(&then),
            ),
            None => (None, None),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumer_processes_are_the_run_not_other_load() {
        use crate::load::MachineTicks;
        // One second in which the machine ran 1.6 CPUs and the hypervisor stole 0.1.
        let then = MachineTicks {
            busy_s: 100.0,
            steal_s: 1.0,
            at_ns: 0,
        };
        let now = MachineTicks {
            busy_s: 101.6,
            steal_s: 1.1,
            at_ns: 1_000_000_000,
        };
        let start = CpuUsage {
            user_s: 1.0,
            machine_ticks: Some(then),
            ..CpuUsage::default()
        };
        let end = CpuUsage {
            user_s: 1.3,
            sys_s: 0.1,
            involuntary_ctx_switches: 4,
            machine_ticks: Some(now),
            ..CpuUsage::default()
        };
        let driver = end.since(&start);
        assert!((driver.other_load_cpus.unwrap() - 1.2).abs() < 1e-9);
        assert!((driver.steal_cpus.unwrap() - 0.1).abs() < 1e-9);
        // Two consumer processes reported 0.5 CPU-seconds together over the same window.
        let consumers = CpuUsage {
            user_s: 0.4,
            sys_s: 0.1,
            involuntary_ctx_switches: 6,
            ..CpuUsage::default()
        };
        let run = driver.plus(&consumers);
        assert!((run.cpu_s() - 0.9).abs() < 1e-9);
        assert_eq!(run.involuntary_ctx_switches, 10);
        assert!((run.other_load_cpus.unwrap() - 0.7).abs() < 1e-9);
        assert!((run.steal_cpus.unwrap() - 0.1).abs() < 1e-9);
        // Summing reports with no machine window knows nothing of the machine.
        assert_eq!(consumers.plus(&consumers).other_load_cpus, None);
    }

    #[test]
    fn the_thread_clock_counts_this_thread_only() {
        let before = thread_cpu_ns();
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        assert!(thread_cpu_ns() > before);
    }

    #[test]
    fn summary_round_trips_through_the_hdr_encoding() {
        let mut latency = Latency::new();
        for ns in 1..=10_000u64 {
            latency.record(ns * 1000);
        }
        let summary = latency.summary();
        assert_eq!(summary.count, 10_000);
        assert!(summary.hdr.starts_with("HISTF"), "{}", &summary.hdr[..10]);
        let decoded = summary.decode().unwrap();
        assert_eq!(decoded.len(), 10_000);
        assert_eq!(decoded.value_at_quantile(0.99), summary.p99);
        assert!((summary.p50 as f64 - 5_000_000.0).abs() / 5e6 < 0.001);
    }

    #[test]
    fn only_an_empty_summary_has_null_figures() {
        let empty = serde_json::to_value(Latency::new().summary()).unwrap();
        for field in ["mean", "p50", "p90", "p99", "p999", "max", "ci95"] {
            assert!(empty[field].is_null(), "{field}: {empty}");
        }
        assert_eq!(empty["count"], 0);
        let mut latency = Latency::new();
        latency.record(1_000);
        let one = latency.summary();
        let json = serde_json::to_value(&one).unwrap();
        assert_eq!(json["p99"], one.p99);
        assert_eq!(json["count"], 1);
        // Written before null existed: zeros read as they always did.
        let mut old = json.clone();
        old["p99"] = 0.into();
        let back: LatencySummary = serde_json::from_value(old).unwrap();
        assert_eq!(back.p99, 0);
        assert_eq!(serde_json::from_value::<LatencySummary>(json).unwrap(), one);
    }

    #[test]
    fn empty_histograms_summarise_to_zero() {
        let summary = Latency::new().summary();
        assert_eq!((summary.count, summary.p99, summary.max), (0, 0, 0));
        assert_eq!(summary.ci95, None);
    }

    /// 1..=n µs, one sample each.
    fn uniform(n: u64) -> Latency {
        let mut latency = Latency::new();
        for us in 1..=n {
            latency.record(us * 1000);
        }
        latency
    }

    #[test]
    fn percentiles_are_the_nearest_rank() {
        // 90 samples: p99 is the 90th (the maximum), p50 the 45th.
        let summary = uniform(90).summary();
        assert_eq!(summary.p99, summary.max);
        let h = uniform(90);
        // The highest value of 45 µs's bucket (32 ns wide at 3 significant digits).
        assert_eq!(summary.p50, h.histogram().highest_equivalent(45_000));
        assert_eq!(summary.p50, 45_023);
        assert_eq!(value_at_rank(h.histogram(), 45), summary.p50);
        assert_eq!(value_at_rank(h.histogram(), 90), summary.p99);
    }

    #[test]
    fn ranks_match_the_binomial_tables() {
        // Known order-statistic intervals of the median (Conover, Practical Nonparametric
        // Statistics, table A3): n = 10 -> X(2)..X(9); n = 20 -> X(6)..X(15);
        // n = 100 -> X(40)..X(61).
        assert_eq!(order_statistic_ranks(10, 0.5), (2, 9));
        assert_eq!(order_statistic_ranks(20, 0.5), (6, 15));
        assert_eq!(order_statistic_ranks(100, 0.5), (40, 61));
        // p99 of 1000 samples: B ~ binomial(1000, 0.99), mean 990, sd 3.15.
        assert_eq!(order_statistic_ranks(1000, 0.99), (983, 997));
        // p99 of 100 samples cannot be bounded from above: the maximum.
        assert_eq!(order_statistic_ranks(100, 0.99).1, 100);
        // Above the exact range the normal approximation takes over, around n·q.
        let (l, u) = order_statistic_ranks(1_000_000, 0.99);
        assert!((989_800..990_000).contains(&l) && (990_000..990_200).contains(&u));
        // Coverage of the exact ranks is at least 95%.
        for (n, q) in [(7, 0.5), (50, 0.9), (400, 0.99), (5000, 0.999)] {
            let (l, u) = order_statistic_ranks(n, q);
            let p = |k: u64| {
                let mut c = 0.0f64;
                for i in 1..=k {
                    c += ((n - i + 1) as f64).ln() - (i as f64).ln();
                }
                (c + k as f64 * q.ln() + (n - k) as f64 * (1.0 - q).ln()).exp()
            };
            // Coverage P(l <= B < u), or everything when a bound was clamped.
            let covered: f64 = (l..u).map(p).sum::<f64>()
                + if u == n { p(n) } else { 0.0 }
                + if l == 1 { p(0) } else { 0.0 };
            assert!(covered >= 0.95, "n {n} q {q}: ({l}, {u}) covers {covered}");
        }
    }

    #[test]
    fn intervals_contain_the_estimate_and_widen_as_samples_shrink() {
        let mut previous_width = [0u64; 3];
        for n in [100_000u64, 10_000, 1000, 100] {
            // The same shape at every n: 1..=n scaled to 1..=100 000 µs.
            let mut latency = Latency::new();
            for i in 1..=n {
                latency.record(i * (100_000 / n) * 1000);
            }
            let summary = latency.summary();
            let ci = summary.ci95.unwrap();
            let points = [summary.p50, summary.p99, summary.p999];
            let intervals = [ci.p50, ci.p99, ci.p999];
            for (i, (point, [low, high])) in points.iter().zip(intervals).enumerate() {
                assert!(
                    low <= *point && *point <= high,
                    "n {n}: {low} {point} {high}"
                );
                assert!(high <= summary.max);
                let width = high - low;
                assert!(width >= previous_width[i], "n {n}: interval {i} narrowed");
                previous_width[i] = width;
            }
        }
    }

    #[test]
    fn known_intervals_on_a_synthetic_histogram() {
        // 1..=1000 µs: the median's interval is X(469)..X(532), p99's X(983)..X(997),
        // p99.9's X(997)..X(1000), the maximum.
        let summary = uniform(1000).summary();
        let ci = summary.ci95.unwrap();
        let h = uniform(1000);
        let at = |rank| value_at_rank(h.histogram(), rank);
        assert_eq!(order_statistic_ranks(1000, 0.5), (469, 532));
        assert_eq!(ci.p50, [at(469), at(532)]);
        assert_eq!(ci.p99, [at(983), at(997)]);
        assert_eq!(ci.p999, [at(997), summary.max]);
        // Ranks map to the samples: the 469th is 469 µs, reported as its bucket's top.
        assert_eq!(at(469), h.histogram().highest_equivalent(469_000));
        assert!((469_000..469_000 + 256).contains(&at(469)));
        // A summary read from a report without intervals has none.
        let mut json = serde_json::to_value(&summary).unwrap();
        json.as_object_mut().unwrap().remove("ci95");
        let old: LatencySummary = serde_json::from_value(json).unwrap();
        assert_eq!(old.ci95, None);
    }

    #[test]
    fn proc_stat_cpu_parses_whatever_the_command_name() {
        let line = "1234 (a (weird) name) S 1 2 3 4 5 6 7 8 9 10 250 30 0 0 20 0 1 0 100 0 0";
        assert_eq!(parse_stat_cpu_ticks(line), Some(280));
        assert_eq!(parse_stat_cpu_ticks("garbage"), None);
        let own = std::fs::read_to_string("/proc/self/stat").unwrap();
        assert!(parse_stat_cpu_ticks(&own).is_some());
        assert!(process_tree_cpu_s() >= process_cpu_s() * 0.99);
    }

    #[test]
    fn smaps_rollup_parses() {
        let text = "00400000-7ffd [rollup]\nRss:              10240 kB\nPss:               5120 kB\nPss_Anon: 1 kB\n";
        assert_eq!(parse_smaps_rollup(text), Some((10240 * 1024, 5120 * 1024)));
        assert!(memory_of("self").is_some());
    }
}
