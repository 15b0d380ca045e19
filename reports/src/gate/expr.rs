//! Gate expressions: the metrics a gate may name, and the two forms users write — relative
//! to a baseline (`p99:10%`) and absolute, as load-testing tools write thresholds
//! (`p99<2ms`, `drop_rate<1%`, `torn==0`).
//!
//! Every fbench metric is smaller-is-better, so an absolute gate is an upper bound
//! (`<`, `<=`) or an exact count (`==`). Parse errors say what would be accepted; the
//! command line shows them after the flag's name.

use std::fmt;
use std::str::FromStr;

use fbench_harness::RunResult;

use crate::format::{format_bytes, format_ns};

/// The latency distributions of a run record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Series {
    Age,
    Acquire,
    Publish,
    E2e,
}

/// A point of a latency distribution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stat {
    P50,
    P90,
    P99,
    P999,
    Max,
}

/// A figure of a run that a gate can bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Metric {
    Latency(Series, Stat),
    DropRate,
    PeakPss,
    DeadlineMisses,
    TornFrames,
    OutOfOrder,
    /// Consumers that ended without reporting (crashed, killed, stalled).
    ConsumersLost,
}

/// What a metric's numbers are, which decides how gate values are written and shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantity {
    /// Nanoseconds.
    Latency,
    /// 0 to 1, written as a percentage.
    Fraction,
    Bytes,
    Count,
}

const ACCEPTED_METRICS: &str = "accepted: p50, p90, p99, p999, max (of the age), \
    age.p99, acquire.p99, publish.p99, e2e.p99 (any of those points), drop_rate, peak_pss, \
    deadline_misses, torn, out_of_order, consumers_lost";

impl Series {
    const ALL: [Series; 4] = [Series::Age, Series::Acquire, Series::Publish, Series::E2e];

    fn name(self) -> &'static str {
        match self {
            Series::Age => "age",
            Series::Acquire => "acquire",
            Series::Publish => "publish",
            Series::E2e => "e2e",
        }
    }
}

impl Stat {
    fn name(self) -> &'static str {
        match self {
            Stat::P50 => "p50",
            Stat::P90 => "p90",
            Stat::P99 => "p99",
            Stat::P999 => "p999",
            Stat::Max => "max",
        }
    }

    fn parse(text: &str) -> Option<Stat> {
        match text {
            "p50" | "median" => Some(Stat::P50),
            "p90" => Some(Stat::P90),
            "p99" => Some(Stat::P99),
            "p999" | "p99.9" => Some(Stat::P999),
            "max" => Some(Stat::Max),
            _ => None,
        }
    }
}

impl Metric {
    /// The headline: the delivery age's 99th percentile.
    pub const AGE_P99: Metric = Metric::Latency(Series::Age, Stat::P99);

    /// The name gate expressions use (`p99`, `acquire.p99`, `drop_rate`); parses back.
    pub fn name(self) -> String {
        match self {
            Metric::Latency(Series::Age, stat) => stat.name().to_string(),
            Metric::Latency(series, stat) => format!("{}.{}", series.name(), stat.name()),
            Metric::DropRate => "drop_rate".to_string(),
            Metric::PeakPss => "peak_pss".to_string(),
            Metric::DeadlineMisses => "deadline_misses".to_string(),
            Metric::TornFrames => "torn".to_string(),
            Metric::OutOfOrder => "out_of_order".to_string(),
            Metric::ConsumersLost => "consumers_lost".to_string(),
        }
    }

    /// The name tables show (`age p99`, `peak PSS`).
    pub fn label(self) -> String {
        match self {
            Metric::Latency(series, stat) => format!("{} {}", series.name(), stat.name()),
            Metric::DropRate => "drop rate".to_string(),
            Metric::PeakPss => "peak PSS".to_string(),
            Metric::DeadlineMisses => "deadline misses".to_string(),
            Metric::TornFrames => "torn frames".to_string(),
            Metric::OutOfOrder => "out of order".to_string(),
            Metric::ConsumersLost => "consumers lost".to_string(),
        }
    }

    /// A kebab-case name for exports (`age-p99`), valid as a Bencher measure slug.
    pub fn slug(self) -> String {
        self.label().replace(' ', "-").to_ascii_lowercase()
    }

    pub fn quantity(self) -> Quantity {
        match self {
            Metric::Latency(..) => Quantity::Latency,
            Metric::DropRate => Quantity::Fraction,
            Metric::PeakPss => Quantity::Bytes,
            Metric::DeadlineMisses
            | Metric::TornFrames
            | Metric::OutOfOrder
            | Metric::ConsumersLost => Quantity::Count,
        }
    }

    /// Integrity failures are judged on the worst trial, not the median: one torn frame in
    /// one trial is a broken strategy, not noise; one lost consumer is a run that did not
    /// measure what it was asked to.
    pub fn is_integrity(self) -> bool {
        matches!(
            self,
            Metric::TornFrames | Metric::OutOfOrder | Metric::ConsumersLost
        )
    }

    /// The metric's value in a run record, or `None` when the run measured nothing for it:
    /// a latency summary whose `count` is 0 (no consumer survived to report) has no
    /// percentiles, whatever numbers (or `null`s) the file holds, and is never compared;
    /// nor are the consumers' drop rate and deadline misses of a run that lost them all.
    pub fn measured(self, run: &RunResult) -> Option<f64> {
        let no_consumer_left = run.consumers > 0 && run.consumers_lost >= run.consumers as u64;
        let summary = match self {
            Metric::DropRate | Metric::DeadlineMisses if no_consumer_left => return None,
            Metric::Latency(Series::Age, _) => &run.age_ns,
            Metric::Latency(Series::Acquire, _) => &run.acquire_ns,
            Metric::Latency(Series::Publish, _) => &run.publish_ns,
            Metric::Latency(Series::E2e, _) => &run.e2e_ns,
            _ => return Some(self.of(run)),
        };
        (summary.count > 0).then(|| self.of(run))
    }

    /// The metric's value in a run record, in its base unit (ns, fraction, bytes, count).
    pub fn of(self, run: &RunResult) -> f64 {
        match self {
            Metric::Latency(series, stat) => {
                let summary = match series {
                    Series::Age => &run.age_ns,
                    Series::Acquire => &run.acquire_ns,
                    Series::Publish => &run.publish_ns,
                    Series::E2e => &run.e2e_ns,
                };
                (match stat {
                    Stat::P50 => summary.p50,
                    Stat::P90 => summary.p90,
                    Stat::P99 => summary.p99,
                    Stat::P999 => summary.p999,
                    Stat::Max => summary.max,
                }) as f64
            }
            Metric::DropRate => run.drop_rate,
            Metric::PeakPss => run.memory.peak_pss_bytes as f64,
            Metric::DeadlineMisses => run.deadline_misses as f64,
            Metric::TornFrames => run.torn_frames as f64,
            Metric::OutOfOrder => run.out_of_order as f64,
            Metric::ConsumersLost => run.consumers_lost as f64,
        }
    }

    /// A value of this metric as people read it (`2.34 ms`, `1.50%`, `6.2 MB`, `3`).
    pub fn format(self, value: f64) -> String {
        match self.quantity() {
            Quantity::Latency => format_ns(value.round().max(0.0) as u64),
            Quantity::Fraction => format!("{:.2}%", value * 100.0),
            Quantity::Bytes => format_bytes(value.round().max(0.0) as u64),
            Quantity::Count if value.fract() == 0.0 => format!("{value:.0}"),
            Quantity::Count => format!("{value:.1}"),
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl FromStr for Metric {
    type Err = String;

    fn from_str(text: &str) -> Result<Metric, String> {
        let lower = text.trim().to_ascii_lowercase();
        let simple = match lower.as_str() {
            "drop_rate" | "drops" => Some(Metric::DropRate),
            "peak_pss" | "pss" => Some(Metric::PeakPss),
            "deadline_misses" => Some(Metric::DeadlineMisses),
            "torn" | "torn_frames" => Some(Metric::TornFrames),
            "out_of_order" => Some(Metric::OutOfOrder),
            "consumers_lost" | "lost" => Some(Metric::ConsumersLost),
            other => Stat::parse(other).map(|stat| Metric::Latency(Series::Age, stat)),
        };
        if let Some(metric) = simple {
            return Ok(metric);
        }
        for series in Series::ALL {
            for separator in ['.', '_'] {
                let prefix = format!("{}{separator}", series.name());
                if let Some(stat) = lower.strip_prefix(&prefix).and_then(Stat::parse) {
                    return Ok(Metric::Latency(series, stat));
                }
            }
        }
        Err(format!("unknown metric '{text}'; {ACCEPTED_METRICS}"))
    }
}

/// `METRIC:N%`: fail when the metric's median grows by more than N% over the baseline's
/// (and beyond the baseline's spread; see the module doc of `gate`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RelativeGate {
    pub metric: Metric,
    /// 0.10 for 10%.
    pub max_increase: f64,
}

impl FromStr for RelativeGate {
    type Err = String;

    fn from_str(text: &str) -> Result<RelativeGate, String> {
        let form = "write METRIC:PERCENT, e.g. p99:10%";
        let (metric, percent) = text
            .rsplit_once(':')
            .ok_or_else(|| format!("'{text}' has no ':'; {form}"))?;
        let metric: Metric = metric.parse()?;
        if metric.is_integrity() {
            return Err(format!(
                "'{text}': {} is an integrity count, gated absolutely (e.g. --gate '{}==0')",
                metric.name(),
                metric.name()
            ));
        }
        let number = percent
            .trim()
            .strip_suffix('%')
            .ok_or_else(|| format!("'{text}': '{percent}' is not a percentage; {form}"))?;
        let value: f64 = number
            .trim()
            .parse()
            .map_err(|_| format!("'{text}': '{percent}' is not a percentage; {form}"))?;
        if !(value.is_finite() && value >= 0.0) {
            return Err(format!("'{text}': the percentage must be 0 or more"));
        }
        Ok(RelativeGate {
            metric,
            max_increase: value / 100.0,
        })
    }
}

impl fmt::Display for RelativeGate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}%", self.metric, self.max_increase * 100.0)
    }
}

/// The comparison of an absolute gate: the value must be below, at most, or exactly the
/// limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Eq,
}

impl Op {
    pub fn holds(self, value: f64, limit: f64) -> bool {
        match self {
            Op::Lt => value < limit,
            Op::Le => value <= limit,
            Op::Eq => value == limit,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Eq => "==",
        }
    }
}

/// `METRIC<VALUE`, `METRIC<=VALUE` or `METRIC==VALUE`, judged on the current run alone.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AbsoluteGate {
    pub metric: Metric,
    pub op: Op,
    /// In the metric's base unit (ns, fraction, bytes, count).
    pub limit: f64,
}

impl AbsoluteGate {
    /// The gate every gating run has unless `--allow-torn`: no torn frame in any trial.
    pub const NO_TORN_FRAMES: AbsoluteGate = AbsoluteGate {
        metric: Metric::TornFrames,
        op: Op::Eq,
        limit: 0.0,
    };

    /// The gate every gating run has unless `--allow-lost`: no consumer lost in any trial
    /// (a run whose consumers died has no figures to judge, and must not pass as fast).
    pub const NO_CONSUMERS_LOST: AbsoluteGate = AbsoluteGate {
        metric: Metric::ConsumersLost,
        op: Op::Eq,
        limit: 0.0,
    };

    /// `< 2.00 ms`, as tables show the threshold.
    pub fn describe(&self) -> String {
        format!("{} {}", self.op.symbol(), self.metric.format(self.limit))
    }
}

impl FromStr for AbsoluteGate {
    type Err = String;

    fn from_str(text: &str) -> Result<AbsoluteGate, String> {
        let form = "write METRIC<VALUE, METRIC<=VALUE or METRIC==VALUE, e.g. p99<2ms, drop_rate<1%, torn==0";
        let at = text
            .find(['<', '=', '>', '!'])
            .ok_or_else(|| format!("'{text}' has no comparison; {form}"))?;
        let (metric, rest) = text.split_at(at);
        let (op, value) = if let Some(v) = rest.strip_prefix("<=") {
            (Op::Le, v)
        } else if let Some(v) = rest.strip_prefix("==") {
            (Op::Eq, v)
        } else if let Some(v) = rest.strip_prefix('<') {
            (Op::Lt, v)
        } else {
            return Err(format!(
                "'{text}': unsupported comparison (every fbench metric is smaller-is-better); {form}"
            ));
        };
        if value.starts_with(['<', '=', '>', '!']) {
            return Err(format!("'{text}': unsupported comparison; {form}"));
        }
        let metric: Metric = metric.trim().parse()?;
        let limit = parse_value(metric.quantity(), value.trim())
            .map_err(|accepted| format!("'{text}': {} {accepted}", metric.name()))?;
        Ok(AbsoluteGate { metric, op, limit })
    }
}

impl fmt::Display for AbsoluteGate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.metric, self.op.symbol(), self.limit)
    }
}

/// A gate's limit in the metric's base unit. The error completes "METRIC ...".
fn parse_value(quantity: Quantity, text: &str) -> Result<f64, String> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit = unit.trim();
    let number: Option<f64> = number.parse().ok().filter(|n: &f64| n.is_finite());
    let scaled = match quantity {
        Quantity::Latency => {
            let scale = match unit {
                "ns" => Some(1.0),
                "us" | "µs" => Some(1e3),
                "ms" => Some(1e6),
                "s" => Some(1e9),
                "" if number == Some(0.0) => Some(1.0),
                _ => None,
            };
            number
                .zip(scale)
                .map(|(n, s)| n * s)
                .ok_or("is a latency: give a number with a unit, ns, us, ms or s (e.g. 2ms, 500us)")
        }
        Quantity::Fraction => {
            let scale = match unit {
                "%" => Some(0.01),
                "" => Some(1.0),
                _ => None,
            };
            number
                .zip(scale)
                .map(|(n, s)| n * s)
                .filter(|f| *f <= 1.0)
                .ok_or(
                    "is a fraction of frames: give a percentage (e.g. 1%) or a number from 0 to 1",
                )
        }
        Quantity::Bytes => {
            let scale = match unit {
                "" | "B" => Some(1.0),
                "kB" | "KB" => Some(1e3),
                "MB" => Some(1e6),
                "GB" => Some(1e9),
                "KiB" => Some(1024.0),
                "MiB" => Some(1024.0 * 1024.0),
                "GiB" => Some(1024.0 * 1024.0 * 1024.0),
                _ => None,
            };
            number.zip(scale).map(|(n, s)| n * s).ok_or(
                "is memory: give bytes or a number with a unit, kB, MB, GB, KiB, MiB or GiB (e.g. 200MB)",
            )
        }
        Quantity::Count => number
            .filter(|n| unit.is_empty() && n.fract() == 0.0)
            .ok_or("is a count: give a whole number (e.g. 0)"),
    };
    scaled.map_err(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_parse_and_print_back() {
        let cases = [
            ("p99", Metric::AGE_P99),
            ("P99", Metric::AGE_P99),
            ("age.p99", Metric::AGE_P99),
            ("age_p99", Metric::AGE_P99),
            ("p99.9", Metric::Latency(Series::Age, Stat::P999)),
            ("acquire.max", Metric::Latency(Series::Acquire, Stat::Max)),
            ("publish_p50", Metric::Latency(Series::Publish, Stat::P50)),
            ("e2e.p999", Metric::Latency(Series::E2e, Stat::P999)),
            ("drop_rate", Metric::DropRate),
            ("peak_pss", Metric::PeakPss),
            ("torn", Metric::TornFrames),
            ("out_of_order", Metric::OutOfOrder),
            ("deadline_misses", Metric::DeadlineMisses),
            ("consumers_lost", Metric::ConsumersLost),
        ];
        for (text, metric) in cases {
            assert_eq!(text.parse::<Metric>(), Ok(metric), "{text}");
            assert_eq!(metric.name().parse::<Metric>(), Ok(metric), "{text}");
        }
        assert_eq!(Metric::AGE_P99.label(), "age p99");
        assert_eq!(Metric::PeakPss.slug(), "peak-pss");
        let err = "p98".parse::<Metric>().unwrap_err();
        assert!(err.contains("unknown metric 'p98'; accepted: p50"), "{err}");
    }

    #[test]
    fn relative_gates() {
        assert_eq!(
            "p99:10%".parse(),
            Ok(RelativeGate {
                metric: Metric::AGE_P99,
                max_increase: 0.10
            })
        );
        let gate: RelativeGate = "peak_pss:2.5%".parse().unwrap();
        assert_eq!(gate.metric, Metric::PeakPss);
        assert!((gate.max_increase - 0.025).abs() < 1e-12);
        for (text, says) in [
            ("p99", "has no ':'"),
            ("p99:10", "not a percentage"),
            ("p99:ten%", "not a percentage"),
            ("p99:-5%", "0 or more"),
            ("p98:10%", "unknown metric"),
            ("torn:10%", "gated absolutely"),
        ] {
            let err = text.parse::<RelativeGate>().unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn absolute_gates_in_the_load_testing_form() {
        let gate = |text: &str| text.parse::<AbsoluteGate>().unwrap();
        assert_eq!(gate("p99<2ms").limit, 2e6);
        assert_eq!(gate("p99<2ms").op, Op::Lt);
        assert_eq!(gate("acquire.p99<=500us").limit, 500e3);
        assert_eq!(gate("acquire.p99<=500us").op, Op::Le);
        assert_eq!(gate("e2e.max < 1.5s").limit, 1.5e9);
        assert!((gate("drop_rate<1%").limit - 0.01).abs() < 1e-12);
        assert_eq!(gate("drop_rate<0.5").limit, 0.5);
        assert_eq!(gate("peak_pss<200MB").limit, 200e6);
        assert_eq!(gate("peak_pss<1GiB").limit, 1024.0 * 1024.0 * 1024.0);
        assert_eq!(gate("torn==0"), AbsoluteGate::NO_TORN_FRAMES);
        assert_eq!(gate("p99<0").limit, 0.0);
        assert_eq!(gate("p99<2ms").describe(), "< 2.00 ms");
        assert_eq!(gate("drop_rate<1%").describe(), "< 1.00%");

        for (text, says) in [
            ("p99", "no comparison"),
            ("p99>2ms", "smaller-is-better"),
            ("p99<<2ms", "unsupported comparison"),
            ("p99=2ms", "unsupported comparison"),
            ("p99<2", "p99 is a latency"),
            ("p99<2 weeks", "p99 is a latency"),
            ("drop_rate<150%", "drop_rate is a fraction"),
            ("peak_pss<2 bananas", "peak_pss is memory"),
            ("torn==0.5", "torn is a count"),
            ("latency<2ms", "unknown metric 'latency'"),
        ] {
            let err = text.parse::<AbsoluteGate>().unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
            assert_eq!(err.lines().count(), 1, "{text}: {err}");
        }
    }

    #[test]
    fn operators_bound_from_above() {
        assert!(Op::Lt.holds(1.0, 2.0) && !Op::Lt.holds(2.0, 2.0));
        assert!(Op::Le.holds(2.0, 2.0) && !Op::Le.holds(2.1, 2.0));
        assert!(Op::Eq.holds(0.0, 0.0) && !Op::Eq.holds(1.0, 0.0));
    }
}
