//! Fault injection: what a run does to itself on purpose, and what it measured while the
//! fault lasted.
//!
//! * `stall:<consumer>@<t>:<dur>` — the consumer takes the first frame it holds at or after
//!   `t` and keeps holding it until `t + dur` without reading anything else. Shows what a
//!   held frame costs the writer and the other readers (a read lock held, a pool buffer or
//!   an shm slot out of circulation).
//! * `kill:<consumer>@<t>` — a consumer process gets SIGKILL at `t` (the runner reclaims its
//!   slot); a consumer thread ends at the first frame it sees at or after `t` (threads
//!   cannot be killed alone). Its figures are lost and it is reported `killed`.
//! * `burst:@<t>:<dur>:<fps>` — the producer runs at `fps` from `t` to `t + dur`, then
//!   back at the run's rate, on a schedule that stays absolute.
//!
//! Times count from the start of the measured window (after warm-up). Every fault has a
//! window (a kill's lasts to the end of the run) over which the producer and the other
//! consumers tally what they did; [`records`] turns the tallies into the report's `faults`.
//!
//! This module never decides whether a strategy behaved well: it records what happened.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::units::{format_duration, parse_duration, ConfigError, MAX_FPS};

/// One fault of a run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fault {
    /// When it starts, from the start of the measured window.
    pub at: Duration,
    pub kind: FaultKind,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FaultKind {
    Stall { consumer: usize, duration: Duration },
    Kill { consumer: usize },
    Burst { duration: Duration, fps: f64 },
}

const ACCEPTED: &str =
    "accepted: stall:<consumer>@<t>:<dur>, kill:<consumer>@<t>, burst:@<t>:<dur>:<fps> (e.g. stall:0@2s:3s)";

impl FromStr for Fault {
    type Err = String;

    fn from_str(text: &str) -> Result<Fault, String> {
        let bad = |why: &str| format!("'{text}': {why}; {ACCEPTED}");
        let (kind, rest) = text.split_once(':').ok_or_else(|| bad("no fault kind"))?;
        let (target, timing) = rest.split_once('@').ok_or_else(|| bad("no '@<t>'"))?;
        let consumer = || -> Result<usize, String> {
            target
                .parse::<usize>()
                .map_err(|_| bad(&format!("consumer '{target}' is not a consumer number")))
        };
        let duration = |part: &str, what: &str| -> Result<Duration, String> {
            parse_duration(part).map_err(|e| bad(&format!("{what}: {e}")))
        };
        let parts: Vec<&str> = timing.split(':').collect();
        let kind = match (kind, parts.as_slice()) {
            ("stall", [at, dur]) => {
                let duration = duration(dur, "stall length")?;
                if duration.is_zero() {
                    return Err(bad("the stall length must be above zero"));
                }
                let fault = FaultKind::Stall {
                    consumer: consumer()?,
                    duration,
                };
                return Ok(Fault {
                    at: duration_at(at, &bad)?,
                    kind: fault,
                });
            }
            ("kill", [at]) => {
                return Ok(Fault {
                    at: duration_at(at, &bad)?,
                    kind: FaultKind::Kill {
                        consumer: consumer()?,
                    },
                })
            }
            ("burst", [at, dur, fps]) => {
                if !target.is_empty() {
                    return Err(bad("a burst names no consumer (burst:@<t>:<dur>:<fps>)"));
                }
                let duration = duration(dur, "burst length")?;
                if duration.is_zero() {
                    return Err(bad("the burst length must be above zero"));
                }
                let fps: f64 = fps
                    .parse()
                    .map_err(|_| bad(&format!("'{fps}' is not a number of frames per second")))?;
                if !(fps.is_finite() && fps > 0.0 && fps <= MAX_FPS) {
                    return Err(bad(&format!(
                        "burst fps must be above 0 and at most {MAX_FPS}"
                    )));
                }
                Fault {
                    at: duration_at(at, &bad)?,
                    kind: FaultKind::Burst { duration, fps },
                }
            }
            ("stall" | "kill" | "burst", _) => return Err(bad("wrong number of ':' parts")),
            _ => return Err(bad(&format!("unknown fault '{kind}'"))),
        };
        Ok(kind)
    }
}

fn duration_at(text: &str, bad: &dyn Fn(&str) -> String) -> Result<Duration, String> {
    parse_duration(text).map_err(|e| bad(&format!("time '{text}': {e}")))
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = format_duration(self.at);
        match self.kind {
            FaultKind::Stall { consumer, duration } => {
                write!(f, "stall:{consumer}@{at}:{}", format_duration(duration))
            }
            FaultKind::Kill { consumer } => write!(f, "kill:{consumer}@{at}"),
            FaultKind::Burst { duration, fps } => {
                write!(f, "burst:@{at}:{}:{fps}", format_duration(duration))
            }
        }
    }
}

impl Fault {
    /// The consumer the fault is done to, if any.
    pub fn consumer(&self) -> Option<usize> {
        match self.kind {
            FaultKind::Stall { consumer, .. } | FaultKind::Kill { consumer } => Some(consumer),
            FaultKind::Burst { .. } => None,
        }
    }

    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            FaultKind::Stall { .. } => "stall",
            FaultKind::Kill { .. } => "kill",
            FaultKind::Burst { .. } => "burst",
        }
    }

    /// The tally window, ns from the start of the measured window: `[start, end)`.
    pub fn window(&self, run_duration: Duration) -> Window {
        let start = self.at.as_nanos() as u64;
        let end = match self.kind {
            FaultKind::Stall { duration, .. } | FaultKind::Burst { duration, .. } => {
                start + duration.as_nanos() as u64
            }
            FaultKind::Kill { .. } => run_duration.as_nanos() as u64,
        };
        Window { start, end }
    }
}

/// Check faults against the run they are for: consumers that exist, times inside the run.
pub fn validate(faults: &[Fault], consumers: usize, duration: Duration) -> Result<(), ConfigError> {
    let mut killed = Vec::new();
    for fault in faults {
        if let Some(consumer) = fault.consumer() {
            if consumer >= consumers {
                return Err(ConfigError::new(
                    "--fault",
                    format!(
                        "{fault}: there is no consumer {consumer}; consumers are numbered 0 to {}",
                        consumers - 1
                    ),
                ));
            }
        }
        let window = fault.window(duration);
        if fault.at >= duration || window.end > duration.as_nanos() as u64 {
            return Err(ConfigError::new(
                "--fault",
                format!(
                    "{fault}: must start and end inside the measured {} (--duration)",
                    format_duration(duration)
                ),
            ));
        }
        if let FaultKind::Kill { consumer } = fault.kind {
            if killed.contains(&consumer) {
                return Err(ConfigError::new(
                    "--fault",
                    format!("{fault}: consumer {consumer} is killed twice"),
                ));
            }
            killed.push(consumer);
        }
    }
    if killed.len() >= consumers {
        return Err(ConfigError::new(
            "--fault",
            "every consumer would be killed; leave at least one to measure",
        ));
    }
    let mut stalled: Vec<usize> = faults
        .iter()
        .filter(|f| matches!(f.kind, FaultKind::Stall { .. }))
        .filter_map(Fault::consumer)
        .collect();
    let before = stalled.len();
    stalled.sort_unstable();
    stalled.dedup();
    if stalled.len() != before {
        return Err(ConfigError::new(
            "--fault",
            "one stall per consumer (give each stalled consumer its own --fault)",
        ));
    }
    Ok(())
}

/// A tally window, ns from the start of the measured window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub start: u64,
    pub end: u64,
}

impl Window {
    pub fn contains(&self, offset: u64) -> bool {
        (self.start..self.end).contains(&offset)
    }
}

/// What one consumer must do and tally: its own stall and kill, and every fault's window.
/// Travels to consumer processes as JSON in a hidden argument.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConsumerFaults {
    /// `(start, end)` ns from the measured window's start: hold one frame over it.
    pub stall: Option<Window>,
    /// ns from the measured window's start: end the consumer thread (processes are killed by
    /// the parent instead, so this is `None` for them).
    pub end_at: Option<u64>,
    pub windows: Vec<Window>,
}

impl ConsumerFaults {
    pub fn is_empty(&self) -> bool {
        self.stall.is_none() && self.end_at.is_none() && self.windows.is_empty()
    }
}

/// What a consumer saw during one fault window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SeenTally {
    pub frames_seen: u64,
    pub age_max_ns: u64,
}

impl SeenTally {
    pub fn add(&mut self, age_ns: u64) {
        self.frames_seen += 1;
        self.age_max_ns = self.age_max_ns.max(age_ns);
    }
}

/// What the producer did during one fault window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProducerTally {
    pub produced: u64,
    pub published: u64,
    pub producer_drops: u64,
    pub source_overruns: u64,
    /// Longest time the producer spent inside the strategy for one frame: a writer blocked
    /// by a reader shows here.
    pub publish_max_ns: u64,
    /// Buffers the pool added during the window.
    pub pool_grows: u64,
    /// Frame-sized buffers the strategy allocated during the window.
    pub frame_allocations: u64,
}

/// The producer's schedule with bursts: frame slot `k` is due at `due_at(k)` ns after the
/// run's start, piecewise at the base rate and each burst's rate, each piece computed from
/// its own start (never accumulated), so no piece drifts.
#[derive(Clone, Debug)]
pub struct Schedule {
    /// (first slot, its due time in ns from the run's start, frames per second), by slot.
    pieces: Vec<(u64, f64, f64)>,
}

impl Schedule {
    /// `measure_offset_ns`: the measured window's start, ns from the run's start.
    pub fn new(base_fps: f64, measure_offset_ns: u64, faults: &[Fault]) -> Schedule {
        let mut bursts: Vec<(f64, f64, f64)> = faults
            .iter()
            .filter_map(|f| match f.kind {
                FaultKind::Burst { duration, fps } => {
                    let start = (measure_offset_ns + f.at.as_nanos() as u64) as f64;
                    Some((start, start + duration.as_nanos() as f64, fps))
                }
                _ => None,
            })
            .collect();
        bursts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut pieces = vec![(0u64, 0.0f64, base_fps)];
        for (start, end, fps) in bursts {
            let (slot0, t0, rate) = *pieces.last().expect("never empty");
            if start < t0 {
                continue; // overlaps the previous burst: the earlier one wins
            }
            // First slot of the burst: the first one of the current piece due at or after it.
            let period = 1e9 / rate;
            let burst_slot = slot0 + ((start - t0) / period).ceil() as u64;
            let burst_t0 = t0 + (burst_slot - slot0) as f64 * period;
            let burst_period = 1e9 / fps;
            let after_slot = burst_slot + ((end - burst_t0) / burst_period).ceil().max(0.0) as u64;
            let after_t0 = burst_t0 + (after_slot - burst_slot) as f64 * burst_period;
            pieces.push((burst_slot, burst_t0, fps));
            pieces.push((after_slot, after_t0, base_fps));
        }
        Schedule { pieces }
    }

    /// Due time of slot `slot`, ns from the run's start.
    pub fn due_at(&self, slot: u64) -> u64 {
        let index = self.pieces.partition_point(|p| p.0 <= slot) - 1;
        let (first, t0, fps) = self.pieces[index];
        (t0 + (slot - first) as f64 * 1e9 / fps) as u64
    }
}

/// One fault as the report shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultRecord {
    /// The fault as given, e.g. `stall:0@2s:3s`.
    pub fault: String,
    pub kind: String,
    pub consumer: Option<usize>,
    pub at_s: f64,
    /// The tally window's length (a kill's runs to the end of the run).
    pub window_s: f64,
    /// What the faulted consumer ended as (`ok`, `killed`, …).
    pub consumer_status: Option<String>,
    pub producer: ProducerTally,
    /// The consumers other than the faulted one that lasted the run.
    pub others: usize,
    /// Frames the others held during the window, summed.
    pub others_frames_seen: u64,
    /// Frames published in the window they did not see, over frames published x others.
    pub others_drop_rate: f64,
    pub others_age_max_ns: u64,
}

/// A consumer's end as [`records`] needs it: status and window tallies (empty when lost).
pub struct ConsumerWindows<'a> {
    pub id: usize,
    pub status: &'a str,
    pub windows: &'a [SeenTally],
}

/// Turn the tallies into report records, one per fault in the order given.
pub fn records(
    faults: &[Fault],
    run_duration: Duration,
    producer: &[ProducerTally],
    consumers: &[ConsumerWindows<'_>],
) -> Vec<FaultRecord> {
    faults
        .iter()
        .enumerate()
        .map(|(w, fault)| {
            let window = fault.window(run_duration);
            let tally = producer.get(w).copied().unwrap_or_default();
            let others: Vec<&ConsumerWindows> = consumers
                .iter()
                .filter(|c| Some(c.id) != fault.consumer() && c.status == "ok")
                .collect();
            let seen: u64 = others
                .iter()
                .map(|c| {
                    c.windows
                        .get(w)
                        .map_or(0, |t| t.frames_seen.min(tally.published))
                })
                .sum();
            let expected = tally.published * others.len() as u64;
            FaultRecord {
                fault: fault.to_string(),
                kind: fault.kind_name().to_string(),
                consumer: fault.consumer(),
                at_s: fault.at.as_secs_f64(),
                window_s: (window.end - window.start) as f64 / 1e9,
                consumer_status: fault
                    .consumer()
                    .and_then(|id| consumers.iter().find(|c| c.id == id))
                    .map(|c| c.status.to_string()),
                producer: tally,
                others: others.len(),
                others_frames_seen: seen,
                others_drop_rate: if expected == 0 {
                    0.0
                } else {
                    expected.saturating_sub(seen) as f64 / expected as f64
                },
                others_age_max_ns: others
                    .iter()
                    .filter_map(|c| c.windows.get(w))
                    .map(|t| t.age_max_ns)
                    .max()
                    .unwrap_or(0),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse_and_print_back() {
        for text in ["stall:0@2s:3s", "kill:3@1500ms", "burst:@1s:2s:120"] {
            let fault: Fault = text.parse().unwrap();
            assert_eq!(fault.to_string(), text);
        }
        assert_eq!(
            "stall:2@1s:500ms".parse::<Fault>().unwrap().kind,
            FaultKind::Stall {
                consumer: 2,
                duration: Duration::from_millis(500)
            }
        );
    }

    #[test]
    fn bad_faults_say_what_is_accepted() {
        for text in [
            "stall",
            "stall:0",
            "stall:x@1s:1s",
            "stall:0@1s",
            "stall:0@1s:0s",
            "kill:0@soon",
            "burst:1@1s:1s:60",
            "burst:@1s:1s:0",
            "freeze:0@1s",
        ] {
            let err = text.parse::<Fault>().unwrap_err();
            assert!(err.contains("accepted: stall:"), "{text}: {err}");
        }
    }

    #[test]
    fn validation_names_the_flag() {
        let d = Duration::from_secs(5);
        let f = |t: &str| t.parse::<Fault>().unwrap();
        assert!(validate(&[f("stall:1@1s:1s")], 2, d).is_ok());
        let err = validate(&[f("stall:2@1s:1s")], 2, d).unwrap_err();
        assert_eq!(err.flag, "--fault");
        assert!(err.message.contains("no consumer 2"), "{err}");
        assert!(validate(&[f("stall:0@4s:2s")], 2, d).is_err());
        assert!(validate(&[f("kill:0@1s")], 1, d).is_err());
        assert!(validate(&[f("kill:0@1s"), f("kill:0@2s")], 3, d).is_err());
    }

    #[test]
    fn burst_schedule_is_faster_inside_and_back_on_rate_after() {
        let burst: Fault = "burst:@1s:1s:100".parse().unwrap();
        let schedule = Schedule::new(10.0, 0, &[burst]);
        // 10 slots before the burst, 100 inside it, then every 100 ms again.
        assert_eq!(schedule.due_at(9), 900_000_000);
        assert_eq!(schedule.due_at(10), 1_000_000_000);
        assert_eq!(schedule.due_at(11), 1_010_000_000);
        assert_eq!(schedule.due_at(110), 2_000_000_000);
        assert_eq!(schedule.due_at(111), 2_100_000_000);
        let plain = Schedule::new(30.0, 0, &[]);
        assert_eq!(plain.due_at(30), 1_000_000_000);
    }
}
