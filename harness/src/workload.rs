//! What a consumer does with a frame while it holds it.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::clock::monotonic_ns;
use crate::units::{format_duration, parse_duration};

/// A consumer's work on each frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Read a sample of the frame (one byte in every 64) and fold it into a checksum: what
    /// a cheap analysis touching the image costs.
    Inspect,
    /// Copy the whole frame into a private buffer and modify the copy.
    Copy,
    /// Burn CPU for this long while holding the frame (cut short when a stop is requested).
    Busy(Duration),
    /// Sleep this long while holding the frame (cut short when a stop is requested).
    Sleep(Duration),
}

impl Workload {
    /// Run on `frame`; `scratch` is the consumer's private buffer for `copy`. Returns a value
    /// derived from the frame so the work cannot be optimised away.
    ///
    /// `busy:` and `sleep:` look at the stop flag ([`crate::interrupt`]) at least every
    /// 50 ms, so `--workload sleep:100h` still ends within moments of Ctrl-C.
    pub fn run(&self, frame: &[u8], scratch: &mut Vec<u8>) -> u64 {
        match *self {
            Workload::Inspect => frame.iter().step_by(64).fold(0u64, |acc, &b| {
                acc.wrapping_mul(31).wrapping_add(u64::from(b))
            }),
            Workload::Copy => {
                scratch.clear();
                scratch.extend_from_slice(frame);
                for byte in scratch.iter_mut().step_by(4096) {
                    *byte = byte.wrapping_add(1);
                }
                u64::from(scratch[0])
            }
            Workload::Busy(duration) => {
                let until = deadline_after(duration);
                let mut spins = 0u64;
                // A relaxed load per spin costs nothing beside the clock read.
                while monotonic_ns() < until && !crate::interrupt::requested() {
                    spins = std::hint::black_box(spins.wrapping_add(1));
                }
                spins
            }
            Workload::Sleep(duration) => {
                crate::interrupt::sleep_until_or_stop(deadline_after(duration));
                0
            }
        }
    }

    /// The longest this workload holds one frame: how much later than the producer's end
    /// a healthy consumer may still be busy with its last frame.
    pub fn hold(&self) -> Duration {
        match *self {
            Workload::Busy(duration) | Workload::Sleep(duration) => duration,
            Workload::Inspect | Workload::Copy => Duration::ZERO,
        }
    }

    /// Whether the consumer needs a frame-sized private buffer.
    pub fn needs_scratch(&self) -> bool {
        matches!(self, Workload::Copy)
    }
}

/// Now plus `duration` on CLOCK_MONOTONIC, saturating (`sleep:100000h` is a long time, not
/// an overflow).
fn deadline_after(duration: Duration) -> u64 {
    monotonic_ns().saturating_add(u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX))
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Workload::Inspect => f.write_str("inspect"),
            Workload::Copy => f.write_str("copy"),
            Workload::Busy(d) => write!(f, "busy:{}", format_duration(*d)),
            Workload::Sleep(d) => write!(f, "sleep:{}", format_duration(*d)),
        }
    }
}

impl FromStr for Workload {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let accepted =
            "accepted: inspect, copy, busy:<duration>, sleep:<duration> (e.g. sleep:50ms)";
        match s.split_once(':') {
            None if s == "inspect" => Ok(Workload::Inspect),
            None if s == "copy" => Ok(Workload::Copy),
            Some(("busy", d)) => parse_duration(d)
                .map(Workload::Busy)
                .map_err(|e| format!("'{s}': {e}")),
            Some(("sleep", d)) => parse_duration(d)
                .map(Workload::Sleep)
                .map_err(|e| format!("'{s}': {e}")),
            _ => Err(format!("unknown workload '{s}'; {accepted}")),
        }
    }
}

/// `COUNT:WORKLOAD[@streamN]`: this many of the consumers run a different (slow)
/// workload; in every stream of the run, or only in stream `N` (numbered from 0) with the
/// `@streamN` suffix, so a slow reader of one camera can be set beside healthy ones of the
/// others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlowConsumers {
    pub count: usize,
    pub workload: Workload,
    /// The one stream whose consumers these are; `None`: every stream's.
    pub stream: Option<usize>,
}

impl fmt::Display for SlowConsumers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.count, self.workload)?;
        match self.stream {
            Some(stream) => write!(f, "@stream{stream}"),
            None => Ok(()),
        }
    }
}

impl FromStr for SlowConsumers {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (group, stream) = match s.split_once('@') {
            Some((group, target)) => {
                let stream = target
                    .strip_prefix("stream")
                    .and_then(|n| n.parse::<usize>().ok())
                    .ok_or_else(|| {
                        format!("'{s}': '@{target}' is not a stream (e.g. 1:sleep:50ms@stream0)")
                    })?;
                (group, Some(stream))
            }
            None => (s, None),
        };
        let (count, workload) = group
            .split_once(':')
            .ok_or_else(|| format!("'{s}' is not COUNT:WORKLOAD (e.g. 2:sleep:50ms)"))?;
        let count: usize = count
            .parse()
            .map_err(|_| format!("'{s}': '{count}' is not a consumer count (e.g. 2:sleep:50ms)"))?;
        if count == 0 {
            return Err(format!("'{s}': the count must be at least 1"));
        }
        Ok(SlowConsumers {
            count,
            workload: workload.parse()?,
            stream,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workloads_parse_and_print_back() {
        for text in [
            "inspect",
            "copy",
            "busy:2ms",
            "sleep:50ms",
            "sleep:2s",
            "busy:250us",
        ] {
            let w: Workload = text.parse().unwrap();
            assert_eq!(w.to_string(), text);
        }
        for bad in [
            "",
            "nap",
            "sleep",
            "sleep:",
            "sleep:fast",
            "busy:-1ms",
            "copy:1ms",
        ] {
            assert!(bad.parse::<Workload>().is_err(), "{bad}");
        }
        let slow: SlowConsumers = "2:sleep:50ms".parse().unwrap();
        assert_eq!(slow.count, 2);
        assert_eq!(slow.workload, Workload::Sleep(Duration::from_millis(50)));
        assert!("0:sleep:1ms".parse::<SlowConsumers>().is_err());
        assert!("sleep:1ms".parse::<SlowConsumers>().is_err());
        assert_eq!(slow.stream, None);
        assert_eq!(slow.to_string(), "2:sleep:50ms");
        let aimed: SlowConsumers = "1:sleep:50ms@stream2".parse().unwrap();
        assert_eq!(aimed.stream, Some(2));
        assert_eq!(aimed.to_string(), "1:sleep:50ms@stream2");
        for bad in ["1:copy@", "1:copy@stream", "1:copy@cam1", "1:copy@stream-1"] {
            assert!(bad.parse::<SlowConsumers>().is_err(), "{bad}");
        }
    }

    #[test]
    fn copy_leaves_the_frame_alone() {
        let frame = vec![9u8; 10_000];
        let mut scratch = Vec::new();
        Workload::Copy.run(&frame, &mut scratch);
        assert_eq!(scratch.len(), frame.len());
        assert_eq!(scratch[0], 10);
        assert!(frame.iter().all(|&b| b == 9));
    }
}
