//! Capture sources. A source renders frame `seq` into a buffer the strategy provides; the
//! producer loop around it does the pacing and the stamping. A live source (a camera) sets
//! the pace itself instead: the producer waits for its frames.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::frame::{FrameSpec, Resolution};

pub mod camera_sim;
#[cfg(feature = "v4l2")]
pub mod v4l2;
pub mod y4m;

/// Which source a run uses (`--source`). The closed set of built-in sources; `open` is the
/// one place that builds them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceSpec {
    /// Deterministic synthetic frames at the configured geometry.
    Synthetic,
    /// A simulated camera: live frames on its own clock, one per `period_ns`, every tenth
    /// dropped by its "driver" ([`camera_sim`]).
    CameraSim { period_ns: u64 },
    /// A Y4M file, loaded into memory before the run and played in a loop.
    Y4m(Arc<y4m::Y4mClip>),
    /// A V4L2 camera, opened and its format negotiated before the run.
    #[cfg(feature = "v4l2")]
    V4l2(Arc<v4l2::Camera>),
}

impl SourceSpec {
    /// The name recorded in reports (`config.source`).
    pub fn name(&self) -> String {
        match self {
            SourceSpec::Synthetic => "synthetic".to_string(),
            SourceSpec::CameraSim { .. } => "camera-sim".to_string(),
            SourceSpec::Y4m(clip) => format!("y4m:{}", clip.path()),
            #[cfg(feature = "v4l2")]
            SourceSpec::V4l2(camera) => format!("v4l2:{}", camera.path()),
        }
    }

    /// Whether the source is one physical device (a camera), which several streams cannot
    /// share; synthetic sources and files give every stream its own copy.
    pub fn is_device(&self) -> bool {
        match self {
            SourceSpec::Synthetic | SourceSpec::CameraSim { .. } | SourceSpec::Y4m(_) => false,
            #[cfg(feature = "v4l2")]
            SourceSpec::V4l2(_) => true,
        }
    }

    /// A source producing frames of `spec`.
    pub fn open(&self, spec: &FrameSpec) -> Box<dyn Source> {
        match self {
            SourceSpec::Synthetic => Box::new(SyntheticSource::new(spec)),
            SourceSpec::CameraSim { period_ns } => {
                Box::new(camera_sim::SimulatedCamera::new(spec, *period_ns))
            }
            SourceSpec::Y4m(clip) => Box::new(y4m::Y4mSource::new(clip.clone())),
            #[cfg(feature = "v4l2")]
            SourceSpec::V4l2(camera) => Box::new(v4l2::CameraSource::new(camera.clone())),
        }
    }

    /// The frame geometry and format the source dictates, if it is not free to render any
    /// (a file's or a device's own).
    pub fn frame_spec(&self) -> Option<FrameSpec> {
        match self {
            SourceSpec::Synthetic | SourceSpec::CameraSim { .. } => None,
            SourceSpec::Y4m(clip) => Some(clip.frame_spec()),
            #[cfg(feature = "v4l2")]
            SourceSpec::V4l2(camera) => Some(camera.frame_spec()),
        }
    }

    /// What the report records about the source beyond its name.
    pub fn detail(&self) -> Option<SourceDetail> {
        match self {
            SourceSpec::Synthetic => None,
            SourceSpec::CameraSim { period_ns } => Some(SourceDetail {
                native_fps: Some(format!("1000000000:{period_ns}")),
                driver: Some(format!(
                    "simulated: drops every {}th frame",
                    camera_sim::DROP_EVERY
                )),
                ..SourceDetail::default()
            }),
            SourceSpec::Y4m(clip) => Some(clip.detail()),
            #[cfg(feature = "v4l2")]
            SourceSpec::V4l2(camera) => Some(camera.detail()),
        }
    }
}

/// A report's `config.source_detail`: facts a file or a device gave about itself. Fields
/// that do not apply to the source are left out.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceDetail {
    /// Frames in the file; the run plays them in a loop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frames: Option<u64>,
    /// Y4M colour space (the `C` parameter, `420jpeg` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colour_space: Option<String>,
    /// Y4M interlacing (the `I` parameter) as written in the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interlacing: Option<String>,
    /// Y4M pixel aspect ratio (the `A` parameter) as written in the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pixel_aspect: Option<String>,
    /// The frame rate the file or device gave, as `numerator:denominator`; `config.fps` is
    /// what the run used (it differs when `--fps` overrides a file's rate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native_fps: Option<String>,
    /// V4L2: the driver and device names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<String>,
    /// V4L2: what was asked of the device and what it granted (`WxH FOURCC @ fps`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granted: Option<String>,
}

/// A frame a live source received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrival {
    /// The frame's capture time on CLOCK_MONOTONIC: the driver's buffer timestamp when the
    /// driver keeps it on that clock (V4L2's `TIMESTAMP_MONOTONIC`), else when the frame
    /// reached fbench.
    pub arrival_ns: u64,
    /// Frames the device itself dropped just before this one (gaps in its sequence).
    pub dropped_before: u64,
}

/// Something that produces frame payloads.
pub trait Source: Send {
    /// Human-readable name for reports (e.g. "synthetic").
    fn name(&self) -> &'static str;
    /// Render frame `seq` into `frame` (exactly the frame length). A live source copies
    /// the frame it received last.
    fn render(&mut self, seq: u64, frame: &mut [u8]);
    /// A live source paces the run itself: it returns `Some` and the producer waits on it
    /// instead of following the `--fps` schedule.
    fn live(&mut self) -> Option<&mut dyn LiveSource> {
        None
    }
}

/// A source whose frames arrive on their own schedule (a camera).
pub trait LiveSource {
    /// Wait for the next frame until the monotonic clock reads `until_ns` and hand it to
    /// `deliver` while it is still in the device's buffer. `false`: no frame came in time,
    /// or the device failed (the source keeps the reason for the caller to report).
    fn next_frame(&mut self, until_ns: u64, deliver: &mut dyn FnMut(&Captured<'_>)) -> bool;
}

/// A frame as a device delivered it: rows may be padded to the device's stride.
pub struct Captured<'a> {
    pub arrival: Arrival,
    pub spec: FrameSpec,
    /// Bytes per row of the first plane in `bytes` (at least the unpadded row length).
    /// The other planes' strides scale with their width, as V4L2 single-planar formats lay
    /// them out.
    pub stride: usize,
    pub bytes: &'a [u8],
}

impl Captured<'_> {
    /// Whether `bytes` holds a whole frame at this stride.
    pub fn is_complete(&self) -> bool {
        self.padded_len().is_some_and(|len| self.bytes.len() >= len)
    }

    fn padded_len(&self) -> Option<usize> {
        let Resolution { width, height } = self.spec.resolution;
        let planes = self.spec.format.planes(width, height);
        let first = planes.first()?.row_bytes as usize;
        if self.stride < first {
            return None;
        }
        planes.iter().try_fold(0usize, |sum, plane| {
            let stride = self.stride.checked_mul(plane.row_bytes as usize)? / first;
            sum.checked_add(stride.checked_mul(plane.rows as usize)?)
        })
    }

    /// Copy the frame into `frame` (exactly the frame length) without the row padding.
    /// The frame must be complete ([`Captured::is_complete`]).
    pub fn copy_into(&self, frame: &mut [u8]) {
        let Resolution { width, height } = self.spec.resolution;
        let planes = self.spec.format.planes(width, height);
        let first = planes[0].row_bytes as usize;
        if self.stride == first {
            frame.copy_from_slice(&self.bytes[..frame.len()]);
            return;
        }
        let (mut from, mut to) = (0, 0);
        for plane in planes {
            let row = plane.row_bytes as usize;
            let stride = self.stride * row / first;
            for _ in 0..plane.rows {
                frame[to..to + row].copy_from_slice(&self.bytes[from..from + row]);
                from += stride;
                to += row;
            }
        }
    }
}

/// Deterministic synthetic frames: horizontal bands whose values move with the sequence
/// number. Rendering is a memset per row, so it costs about what a camera's DMA write
/// costs the memory system, and the same `seq` always gives the same bytes.
pub struct SyntheticSource {
    row_len: usize,
}

impl SyntheticSource {
    pub fn new(spec: &FrameSpec) -> Self {
        // Bands one pixel row of the first plane high, whatever the format.
        let row_len = spec.format.first_row_len(spec.resolution.width);
        SyntheticSource { row_len }
    }
}

impl Source for SyntheticSource {
    fn name(&self) -> &'static str {
        "synthetic"
    }

    fn render(&mut self, seq: u64, frame: &mut [u8]) {
        for (row, band) in frame.chunks_mut(self.row_len).enumerate() {
            band.fill((row as u64).wrapping_add(seq) as u8);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::PixelFormat;

    #[test]
    fn captured_frames_lose_their_row_padding() {
        let spec = FrameSpec {
            resolution: Resolution::new(4, 2),
            format: PixelFormat::I420,
        };
        // Luma rows padded from 4 to 6 bytes, chroma rows from 2 to 3.
        let bytes = [
            1, 2, 3, 4, 0, 0, 5, 6, 7, 8, 0, 0, // Y
            9, 10, 0, // U
            11, 12, 0, // V
        ];
        let captured = Captured {
            arrival: Arrival {
                arrival_ns: 1,
                dropped_before: 0,
            },
            spec,
            stride: 6,
            bytes: &bytes,
        };
        assert!(captured.is_complete());
        let mut frame = vec![0u8; spec.frame_len().unwrap()];
        captured.copy_into(&mut frame);
        assert_eq!(frame, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        let short = Captured {
            bytes: &bytes[..16],
            ..captured
        };
        assert!(!short.is_complete());
        let tight = Captured {
            stride: 4,
            bytes: &frame,
            ..captured
        };
        assert!(tight.is_complete());
        let mut copy = vec![0u8; 12];
        tight.copy_into(&mut copy);
        assert_eq!(copy, frame);
    }

    #[test]
    fn rendering_is_deterministic_and_moves_with_seq() {
        let spec = FrameSpec {
            resolution: Resolution::new(64, 32),
            format: PixelFormat::Nv12,
        };
        let len = spec.frame_len().unwrap();
        let mut source = SyntheticSource::new(&spec);
        let (mut a, mut b, mut c) = (vec![0; len], vec![0; len], vec![0; len]);
        source.render(3, &mut a);
        source.render(3, &mut b);
        source.render(4, &mut c);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
