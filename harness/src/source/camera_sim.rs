//! `--source camera-sim`: a live source without a device. Frames arrive on the simulated
//! camera's own clock at the run's rate (the producer waits for them, as for a real camera,
//! instead of following the `--fps` schedule), and the simulated driver drops every tenth
//! frame, leaving a gap in its sequence numbers as a V4L2 driver does. It exercises the
//! camera path of the one driver — live pacing, arrival times, `source_drops` — on any
//! machine, for every strategy, threads or processes alike.

use crate::clock::{monotonic_ns, sleep_until};
use crate::frame::FrameSpec;
use crate::source::{Arrival, Captured, LiveSource, Source, SyntheticSource};

/// The simulated driver loses one frame in this many (device sequence numbers that are
/// multiples of it never arrive).
pub const DROP_EVERY: u32 = 10;

pub struct SimulatedCamera {
    spec: FrameSpec,
    period_ns: u64,
    /// When the next frame is exposed; set at the first wait.
    next_due: Option<u64>,
    /// The simulated driver's sequence number of the last frame.
    device_seq: u32,
    /// The frame as the "device" delivered it (no row padding).
    buffer: Vec<u8>,
    render: SyntheticSource,
}

impl SimulatedCamera {
    pub fn new(spec: &FrameSpec, period_ns: u64) -> SimulatedCamera {
        SimulatedCamera {
            spec: *spec,
            period_ns: period_ns.max(1),
            next_due: None,
            device_seq: 0,
            buffer: vec![0; spec.frame_len().unwrap_or(0)],
            render: SyntheticSource::new(spec),
        }
    }
}

impl Source for SimulatedCamera {
    fn name(&self) -> &'static str {
        "camera-sim"
    }

    fn render(&mut self, _seq: u64, frame: &mut [u8]) {
        frame.copy_from_slice(&self.buffer);
    }

    fn live(&mut self) -> Option<&mut dyn LiveSource> {
        Some(self)
    }
}

impl LiveSource for SimulatedCamera {
    fn next_frame(&mut self, until_ns: u64, deliver: &mut dyn FnMut(&Captured<'_>)) -> bool {
        let first = *self.next_due.get_or_insert_with(monotonic_ns);
        let mut due = first;
        let mut dropped_before = 0;
        loop {
            self.device_seq = self.device_seq.wrapping_add(1);
            if self.device_seq % DROP_EVERY != 0 {
                break;
            }
            // The driver lost this one: its slot passes with nothing delivered.
            dropped_before += 1;
            due += self.period_ns;
        }
        self.next_due = Some(due + self.period_ns);
        if due >= until_ns {
            return false;
        }
        sleep_until(due);
        self.render
            .render(u64::from(self.device_seq), &mut self.buffer);
        deliver(&Captured {
            arrival: Arrival {
                arrival_ns: due,
                dropped_before,
            },
            spec: self.spec,
            stride: self.spec.format.first_row_len(self.spec.resolution.width),
            bytes: &self.buffer,
        });
        true
    }
}
