//! Measurement: latency histograms, memory (RSS and PSS) and CPU of the process.
//!
//! Latencies go into HdrHistograms with 3 significant digits from 1 ns to 100 s; values
//! beyond are clamped to the top (and would show as a max of 100 s). Summaries carry the
//! whole histogram in HdrHistogram's V2+DEFLATE base64 form so any report can be
//! re-analysed by standard tools.

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
        }
    }
}

/// What every report shows of a latency distribution (nanoseconds).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
}

impl LatencySummary {
    /// Decode the embedded histogram.
    pub fn decode(&self) -> Result<Histogram<u64>, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&self.hdr)
            .map_err(|e| format!("histogram is not base64: {e}"))?;
        Deserializer::new()
            .deserialize(&mut bytes.as_slice())
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

/// CPU time and context switches of the whole process (all its threads).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuUsage {
    pub user_s: f64,
    pub sys_s: f64,
    pub voluntary_ctx_switches: u64,
    pub involuntary_ctx_switches: u64,
    /// CPUs' worth of time the rest of the machine used over the same interval (other
    /// processes, hypervisor steal; see [`crate::load`]); `null` when unknown.
    #[serde(default)]
    pub other_load_cpus: Option<f64>,
    /// In a snapshot ([`CpuUsage::now`]) only: the machine's busy time, for `since`. Never
    /// in a report.
    #[serde(skip)]
    pub machine_ticks: Option<crate::load::MachineTicks>,
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
            other_load_cpus: None,
            machine_ticks: crate::load::MachineTicks::now(),
        }
    }

    /// The sum of two processes' usage over the same `interval_s`. `self`'s view of the rest
    /// of the machine counted `other`'s CPU as someone else's: it is taken out.
    pub fn plus(&self, other: &CpuUsage, interval_s: f64) -> CpuUsage {
        let other_cpu_s = other.user_s + other.sys_s;
        CpuUsage {
            user_s: self.user_s + other.user_s,
            sys_s: self.sys_s + other.sys_s,
            voluntary_ctx_switches: self.voluntary_ctx_switches + other.voluntary_ctx_switches,
            involuntary_ctx_switches: self.involuntary_ctx_switches
                + other.involuntary_ctx_switches,
            other_load_cpus: self
                .other_load_cpus
                .filter(|_| interval_s > 0.0)
                .map(|load| (load - other_cpu_s / interval_s).max(0.0)),
            machine_ticks: None,
        }
    }

    /// What was spent between `earlier` and `self`.
    pub fn since(&self, earlier: &CpuUsage) -> CpuUsage {
        let user_s = (self.user_s - earlier.user_s).max(0.0);
        let sys_s = (self.sys_s - earlier.sys_s).max(0.0);
        CpuUsage {
            user_s,
            sys_s,
            voluntary_ctx_switches: self
                .voluntary_ctx_switches
                .saturating_sub(earlier.voluntary_ctx_switches),
            involuntary_ctx_switches: self
                .involuntary_ctx_switches
                .saturating_sub(earlier.involuntary_ctx_switches),
            other_load_cpus: self
                .machine_ticks
                .zip(earlier.machine_ticks)
                .and_then(|(now, then)| now.other_load_since(&then, user_s + sys_s)),
            machine_ticks: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn empty_histograms_summarise_to_zero() {
        let summary = Latency::new().summary();
        assert_eq!((summary.count, summary.p99, summary.max), (0, 0, 0));
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
