//! The producer loop for a live source (a camera): the device sets the pace, so instead of
//! following the `--fps` schedule the producer waits for each frame and publishes it as it
//! arrives. Capture time is the arrival time; the copy out of the device's buffer is the
//! frame's render time.

use fbench_strategies::{FrameMeta, Publish, Strategy};

use super::{ProducerOutcome, Timeline};
use crate::clock::monotonic_ns;
use crate::config::RunConfig;
use crate::integrity::{self, VerifyMode};
use crate::source::{Captured, LiveSource};

pub(super) fn produce<S: Strategy>(
    strategy: &S,
    camera: &mut dyn LiveSource,
    config: &RunConfig,
    timeline: &Timeline,
) -> ProducerOutcome {
    let verify = config.verify;
    let (width, height) = (
        config.frame.resolution.width,
        config.frame.resolution.height,
    );
    let format = config.frame.format.code();
    let mut out = ProducerOutcome {
        intervals: crate::timeline::Intervals::new(config.interval, config.duration),
        ..ProducerOutcome::default()
    };
    out.intervals.stamp_start(timeline.measure_start);
    let mut seq = 0u64;
    // The producer thread's own CPU clock from its first frame in the window (the camera's
    // waiting costs none).
    let mut cpu_at_window: Option<u64> = None;
    let mut deliver = |captured: &Captured<'_>| {
        let arrival = captured.arrival;
        // Frames the device queued before the run began are stale: not part of this run.
        if arrival.arrival_ns < timeline.start {
            return;
        }
        let in_window = arrival.arrival_ns >= timeline.measure_start;
        if in_window && cpu_at_window.is_none() {
            cpu_at_window = Some(crate::metrics::thread_cpu_ns());
        }
        let offset = arrival.arrival_ns.saturating_sub(timeline.measure_start);
        // A gap before the window's first frame includes time between runs: not a drop.
        if in_window && out.counts.produced > 0 {
            out.counts.source_drops += arrival.dropped_before;
            // Frames the camera dropped were due all the same (counted in the interval of
            // the frame after them: the device says nothing of when they were due).
            out.counts.due += arrival.dropped_before;
            for _ in 0..arrival.dropped_before {
                out.intervals.due(offset);
            }
        }
        if in_window {
            out.counts.due += 1;
            out.intervals.due(offset);
        }
        seq += 1;
        let mut render_ns = 0;
        let before = monotonic_ns();
        let outcome = strategy.publish(|frame: &mut [u8]| {
            let render_start = monotonic_ns();
            captured.copy_into(frame);
            integrity::stamp(frame, seq);
            let checksum = match verify {
                VerifyMode::Full => integrity::checksum(frame),
                _ => 0,
            };
            render_ns = monotonic_ns() - render_start;
            FrameMeta {
                seq,
                capture_ns: arrival.arrival_ns,
                checksum,
                width,
                height,
                format,
                ..FrameMeta::default()
            }
        });
        let after = monotonic_ns();
        if let Publish::Published(publish_seq) = outcome {
            out.last_publish = publish_seq;
        }
        if in_window {
            out.counts.produced += 1;
            match outcome {
                Publish::Published(publish_seq) => {
                    out.publish
                        .record((after - before).saturating_sub(render_ns));
                    out.intervals
                        .published(offset, (after - before).saturating_sub(render_ns));
                    out.render.record(render_ns);
                    out.counts.published += 1;
                    if out.window_first_publish == 0 {
                        out.window_first_publish = publish_seq;
                    }
                }
                Publish::Dropped => out.counts.producer_drops += 1,
            }
        }
    };
    while camera.next_frame(timeline.end, &mut deliver) {}
    out.cpu_ns = cpu_at_window.map(|start| crate::metrics::thread_cpu_ns().saturating_sub(start));
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use fbench_strategies::{
        FrameView, Reader, StrategyKind, StrategyParams, WaitMode, WaitOutcome, WithStrategy,
    };

    use super::*;
    use crate::frame::{FrameSpec, PixelFormat, Resolution};
    use crate::source::Arrival;

    /// A scripted camera: frames with the given device sequence numbers, arriving at once,
    /// rows padded by 8 bytes.
    struct Scripted {
        spec: FrameSpec,
        sequences: Vec<u32>,
        last: Option<u32>,
    }

    impl LiveSource for Scripted {
        fn next_frame(&mut self, until_ns: u64, deliver: &mut dyn FnMut(&Captured<'_>)) -> bool {
            if self.sequences.is_empty() || monotonic_ns() >= until_ns {
                return false;
            }
            let sequence = self.sequences.remove(0);
            let row = self.spec.format.first_row_len(self.spec.resolution.width);
            let rows = self.spec.resolution.height as usize;
            let stride = row + 8;
            let bytes: Vec<u8> = (0..rows)
                .flat_map(|r| {
                    let mut line = vec![sequence as u8 ^ r as u8; row];
                    line.extend([0xEE; 8]);
                    line
                })
                .collect();
            let dropped_before = self.last.map_or(0, |last| u64::from(sequence - last - 1));
            self.last = Some(sequence);
            deliver(&Captured {
                arrival: Arrival {
                    arrival_ns: monotonic_ns(),
                    dropped_before,
                },
                spec: self.spec,
                stride,
                bytes: &bytes,
            });
            true
        }
    }

    struct GapCount;

    impl WithStrategy for GapCount {
        type Output = ();
        fn run<S: Strategy>(self, strategy: Arc<S>) {
            let mut config = RunConfig::default_config();
            config.frame = FrameSpec {
                resolution: Resolution::new(32, 16),
                format: PixelFormat::Yuyv,
            };
            let timeline = Timeline {
                // Now rather than 0: interval offsets count from here.
                start: monotonic_ns(),
                measure_start: monotonic_ns(),
                end: u64::MAX,
            };
            let mut reader = strategy.clone().reader();
            let mut camera = Scripted {
                spec: config.frame,
                sequences: vec![10, 11, 15, 16, 18],
                last: Some(2),
            };
            let out = produce(&*strategy, &mut camera, &config, &timeline);
            assert_eq!(out.counts.produced, 5);
            assert_eq!(out.counts.published, 5);
            // 12, 13, 14 and 17: the gap before the first frame (3..9) is not counted.
            assert_eq!(out.counts.source_drops, 4);
            assert_eq!(out.counts.source_overruns, 0);
            // Due frames (dropped ones included) and publishes are in the intervals too.
            let due: u64 = out.intervals.intervals.iter().map(|i| i.due).sum();
            assert_eq!(due, out.counts.due);
            let published: u64 = out
                .intervals
                .intervals
                .iter()
                .map(|i| i.publish.count())
                .sum();
            assert_eq!(published, 5);

            // The latest frame is whole, stamped with its run sequence number, and its rows
            // lost the device's padding.
            assert!(matches!(
                reader.wait_newer(0, WaitMode::Spin),
                WaitOutcome::Newer(_)
            ));
            let frame = reader.acquire().unwrap();
            let meta = *frame.meta();
            assert_eq!(meta.seq, 5);
            assert!(integrity::stamps_match(frame.bytes(), 5));
            let row = 64;
            for (r, line) in frame.bytes().chunks(row).enumerate().skip(1).take(14) {
                assert!(line[8..].iter().all(|&b| b == 18 ^ r as u8), "row {r}");
            }
        }
    }

    #[test]
    fn device_sequence_gaps_are_source_drops() {
        let params = StrategyParams::new(32 * 16 * 2, 1);
        for kind in StrategyKind::ALL {
            kind.build(&params, GapCount)
                .unwrap_or_else(|e| panic!("{}: {e}", kind.name()));
        }
    }
}
