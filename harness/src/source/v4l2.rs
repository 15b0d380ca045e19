//! V4L2 cameras as a live source (cargo feature `v4l2`).
//!
//! The device is opened and its format negotiated once, before any run: fbench asks for a
//! pixel format, size and frame rate, and runs with whatever the driver granted (the report
//! records both). Frames come through mmap streaming; each is timestamped when fbench
//! dequeues it and copied out of the device's buffer into the strategy's. Gaps in the
//! driver's sequence numbers are frames the device dropped before fbench saw them: they are
//! reported as source drops.
//!
//! The stream runs from `Camera::open` until the camera is dropped. Between runs the driver
//! keeps filling its buffers and then drops frames; the runner discards the stale frames and
//! does not count that gap.
//!
//! `Camera::probe` negotiates the same way, proves the device delivers, and closes it again:
//! what fbench's own process does before the runs, since each run opens the camera in its
//! own process (a device open in the parent would refuse the run's open).

use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;
use v4l::buffer::{Flags as BufferFlags, Type};
use v4l::capability::Flags as CapabilityFlags;
use v4l::io::mmap::Stream;
use v4l::io::traits::CaptureStream;
use v4l::video::capture::Parameters;
use v4l::video::Capture;
use v4l::{Device, Format, FourCC, Fraction};

use crate::clock::monotonic_ns;
use crate::frame::{FrameSpec, PixelFormat, Resolution};
use crate::source::{Arrival, Captured, LiveSource, Source, SourceDetail};

/// Buffers the driver fills in turn: enough that a frame being copied does not stall it.
const BUFFERS: u32 = 4;
/// How long opening waits for the first frame before calling the device silent.
const FIRST_FRAME_TIMEOUT_MS: i32 = 3000;

/// The pixel formats fbench can carry, by V4L2 four-character code.
const FOURCCS: [(&[u8; 4], PixelFormat); 7] = [
    (b"RGB3", PixelFormat::Rgb24),
    (b"BGR3", PixelFormat::Bgr24),
    (b"YUYV", PixelFormat::Yuyv),
    (b"NV12", PixelFormat::Nv12),
    (b"YU12", PixelFormat::I420),
    (b"422P", PixelFormat::Yuv422p),
    (b"GREY", PixelFormat::Gray),
];

fn fourcc_of(format: PixelFormat) -> Option<FourCC> {
    FOURCCS
        .iter()
        .find(|(_, f)| *f == format)
        .map(|(code, _)| FourCC::new(code))
}

fn format_of(fourcc: FourCC) -> Option<PixelFormat> {
    FOURCCS
        .iter()
        .find(|(code, _)| **code == fourcc.repr)
        .map(|(_, f)| *f)
}

fn fourcc_name(fourcc: FourCC) -> String {
    fourcc
        .str()
        .map(str::to_string)
        .unwrap_or_else(|_| format!("{:?}", fourcc.repr))
}

/// What to ask of the device; `None` keeps the device's current setting.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CameraRequest {
    pub format: Option<PixelFormat>,
    pub resolution: Option<Resolution>,
    pub fps: Option<f64>,
}

/// Why a camera cannot be used. One line each, naming the device.
#[derive(Debug, thiserror::Error)]
pub enum CameraError {
    #[error("{path}: no such device; `fbench list sources` shows the cameras found")]
    NoDevice { path: String },
    #[error("{path}: cannot open it: {reason}")]
    Open { path: String, reason: String },
    #[error("{path}: not a V4L2 device ({reason})")]
    NotV4l2 { path: String, reason: String },
    #[error("{path}: not a streaming video capture device")]
    NotCapture { path: String },
    #[error("{path}: cannot {what}: {reason}")]
    Negotiate {
        path: String,
        what: &'static str,
        reason: String,
    },
    #[error("{path}: the device granted {granted}, which fbench cannot carry; it offers {offered}; accepted: {accepted}")]
    Unsupported {
        path: String,
        granted: String,
        offered: String,
        accepted: String,
    },
    #[error("{path}: delivered no frame within {FIRST_FRAME_TIMEOUT_MS} ms of starting")]
    Silent { path: String },
}

/// A camera with its format negotiated and its stream running.
pub struct Camera {
    path: String,
    spec: FrameSpec,
    stride: usize,
    fps: Option<f64>,
    detail: SourceDetail,
    state: Mutex<StreamState>,
}

struct StreamState {
    /// `None` for a probed camera: closed again, its runs open it themselves.
    stream: Option<Stream<'static>>,
    last_sequence: Option<u32>,
    /// Frames the device delivered damaged or short since the last good one.
    unusable: u64,
    failure: Option<String>,
}

impl std::fmt::Debug for Camera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Camera")
            .field("path", &self.path)
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

/// Two cameras are the same source only if they are the same opening.
impl PartialEq for Camera {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for Camera {}

impl Camera {
    /// Open `path`, negotiate `request`, start streaming and wait for the first frame.
    pub fn open(path: &Path, request: &CameraRequest) -> Result<Camera, CameraError> {
        Camera::negotiate(path, request, true)
    }

    /// As [`Camera::open`], then stop streaming and close the device: the granted format,
    /// rate and details stay known, the device is free for another process to open (the
    /// run processes). A probed camera delivers no frame.
    pub fn probe(path: &Path, request: &CameraRequest) -> Result<Camera, CameraError> {
        Camera::negotiate(path, request, false)
    }

    /// Whether this camera holds its device (opened, not probed).
    pub fn is_open(&self) -> bool {
        self.state.lock().stream.is_some()
    }

    fn negotiate(path: &Path, request: &CameraRequest, keep: bool) -> Result<Camera, CameraError> {
        let name = path.display().to_string();
        if !path.exists() {
            return Err(CameraError::NoDevice { path: name });
        }
        let device = Device::with_path(path).map_err(|e| CameraError::Open {
            path: name.clone(),
            reason: e.to_string(),
        })?;
        let caps = device.query_caps().map_err(|e| CameraError::NotV4l2 {
            path: name.clone(),
            reason: e.to_string(),
        })?;
        let needed = CapabilityFlags::VIDEO_CAPTURE | CapabilityFlags::STREAMING;
        if !caps.capabilities.contains(needed) {
            return Err(CameraError::NotCapture { path: name });
        }
        let negotiate = |what, e: std::io::Error| CameraError::Negotiate {
            path: name.clone(),
            what,
            reason: e.to_string(),
        };
        let current = device
            .format()
            .map_err(|e| negotiate("read its format", e))?;
        let mut wanted = current;
        if let Some(format) = request.format {
            wanted.fourcc = fourcc_of(format).expect("every pixel format has a FOURCC");
        }
        if let Some(resolution) = request.resolution {
            wanted.width = resolution.width;
            wanted.height = resolution.height;
        }
        let granted = if request.format.is_some() || request.resolution.is_some() {
            device
                .set_format(&Format::new(wanted.width, wanted.height, wanted.fourcc))
                .map_err(|e| negotiate("set its format", e))?
        } else {
            current
        };
        let format = format_of(granted.fourcc).ok_or_else(|| CameraError::Unsupported {
            path: name.clone(),
            granted: fourcc_name(granted.fourcc),
            offered: device
                .enum_formats()
                .map(|formats| {
                    let names: Vec<String> =
                        formats.iter().map(|f| fourcc_name(f.fourcc)).collect();
                    names.join(", ")
                })
                .unwrap_or_else(|_| "nothing it will list".to_string()),
            accepted: FOURCCS
                .iter()
                .map(|(code, f)| format!("{} ({f})", String::from_utf8_lossy(*code)))
                .collect::<Vec<_>>()
                .join(", "),
        })?;
        let spec = FrameSpec {
            resolution: Resolution::new(granted.width, granted.height),
            format,
        };

        if let Some(fps) = request.fps {
            // The device takes a frame interval; millisecond-fine covers 29.97 and the like.
            let interval = Fraction::new(1000, (fps * 1000.0).round().max(1.0) as u32);
            device
                .set_params(&Parameters::new(interval))
                .map_err(|e| negotiate("set its frame rate", e))?;
        }
        let granted_fps = device.params().ok().and_then(|p| {
            let Fraction {
                numerator,
                denominator,
            } = p.interval;
            (numerator > 0 && denominator > 0)
                .then(|| f64::from(denominator) / f64::from(numerator))
        });

        let row = format.first_row_len(granted.width);
        let stride = (granted.stride as usize).max(row);
        let describe =
            |resolution: Option<Resolution>, format: Option<String>, fps: Option<f64>| {
                format!(
                    "{} {} @ {}",
                    resolution.map_or("current size".to_string(), |r| r.to_string()),
                    format.unwrap_or_else(|| "current format".to_string()),
                    fps.map_or("current rate".to_string(), |f| format!("{f} fps")),
                )
            };
        let detail = SourceDetail {
            native_fps: granted_fps.map(|f| format!("{f}")),
            driver: Some(caps.driver.clone()),
            card: Some(caps.card.clone()),
            requested: Some(describe(
                request.resolution,
                request.format.map(|f| f.to_string()),
                request.fps,
            )),
            granted: Some(describe(
                Some(spec.resolution),
                Some(format!("{} ({})", fourcc_name(granted.fourcc), format)),
                granted_fps,
            )),
            ..SourceDetail::default()
        };

        let mut stream = Stream::with_buffers(&device, Type::VideoCapture, BUFFERS)
            .map_err(|e| negotiate("map its buffers", e))?;
        stream.set_timeout(std::time::Duration::from_millis(
            FIRST_FRAME_TIMEOUT_MS as u64,
        ));
        // The first frame starts the stream and proves the device delivers.
        let first_sequence = match stream.next() {
            Ok((_, meta)) => meta.sequence,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                return Err(CameraError::Silent { path: name })
            }
            Err(e) => return Err(negotiate("start streaming", e)),
        };
        // Dropping the stream stops it and unmaps its buffers; the device closes with the
        // last handle (the stream's: `device` is gone at the end of this function).
        let stream = keep.then_some(stream);
        Ok(Camera {
            path: name,
            spec,
            stride,
            fps: granted_fps,
            detail,
            state: Mutex::new(StreamState {
                stream,
                last_sequence: Some(first_sequence),
                unusable: 0,
                failure: None,
            }),
        })
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// The geometry and format the device granted.
    pub fn frame_spec(&self) -> FrameSpec {
        self.spec
    }

    /// The frame rate the device reports, if it reports one.
    pub fn fps(&self) -> Option<f64> {
        self.fps
    }

    pub fn detail(&self) -> SourceDetail {
        self.detail.clone()
    }

    /// Why the last run's stream stopped early, if it did (taken: reported once).
    pub fn take_failure(&self) -> Option<String> {
        self.state.lock().failure.take()
    }
}

/// One run's view of the camera.
pub struct CameraSource {
    camera: Arc<Camera>,
}

impl CameraSource {
    pub fn new(camera: Arc<Camera>) -> Self {
        CameraSource { camera }
    }
}

impl Source for CameraSource {
    fn name(&self) -> &'static str {
        "v4l2"
    }

    /// Never called: a live source delivers through [`LiveSource::next_frame`].
    fn render(&mut self, _seq: u64, _frame: &mut [u8]) {}

    fn live(&mut self) -> Option<&mut dyn LiveSource> {
        Some(self)
    }
}

impl LiveSource for CameraSource {
    fn next_frame(&mut self, until_ns: u64, deliver: &mut dyn FnMut(&Captured<'_>)) -> bool {
        let camera = &*self.camera;
        let mut state = camera.state.lock();
        let state = &mut *state;
        loop {
            let now = monotonic_ns();
            if now >= until_ns {
                return false;
            }
            // Wait here rather than in the stream: its own timeout leaves the buffer it
            // re-queued in a state the next call would queue twice.
            let wait_ms = (until_ns - now).div_ceil(1_000_000).min(i32::MAX as u64) as i32;
            let Some(stream) = state.stream.as_mut() else {
                state.failure = Some(format!(
                    "{}: the camera was probed, not opened, in this process",
                    camera.path
                ));
                return false;
            };
            match stream.handle().poll(libc::POLLIN, wait_ms) {
                Ok(0) => return false,
                Ok(_) => {}
                Err(e) => {
                    state.failure = Some(format!("{}: waiting for a frame: {e}", camera.path));
                    return false;
                }
            }
            let (bytes, meta) = match stream.next() {
                Ok(frame) => frame,
                Err(e) => {
                    state.failure = Some(format!("{}: dequeuing a frame: {e}", camera.path));
                    return false;
                }
            };
            // The frame's capture time: the driver's own timestamp when it is on
            // CLOCK_MONOTONIC (the clock every other figure uses), else the dequeue time.
            let dequeued_ns = monotonic_ns();
            let arrival_ns = driver_timestamp_ns(meta)
                .filter(|&t| t > 0 && t <= dequeued_ns)
                .unwrap_or(dequeued_ns);
            let gap = state.last_sequence.map_or(0, |last| {
                u64::from(meta.sequence.wrapping_sub(last).saturating_sub(1))
            });
            state.last_sequence = Some(meta.sequence);
            let used = (meta.bytesused as usize).min(bytes.len());
            let captured = Captured {
                arrival: Arrival {
                    arrival_ns,
                    dropped_before: gap + state.unusable,
                },
                spec: camera.spec,
                stride: camera.stride,
                bytes: &bytes[..used],
            };
            if meta.flags.contains(BufferFlags::ERROR) || !captured.is_complete() {
                // A damaged or short frame is one the device failed to deliver.
                state.unusable += gap + 1;
                continue;
            }
            state.unusable = 0;
            deliver(&captured);
            return true;
        }
    }
}

/// A V4L2 device node, for `fbench list sources`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceNode {
    pub path: String,
    pub name: Option<String>,
}

/// The V4L2 device nodes on this machine, in path order.
pub fn list_devices() -> Vec<DeviceNode> {
    let mut nodes: Vec<DeviceNode> = v4l::context::enum_devices()
        .into_iter()
        .map(|node| DeviceNode {
            path: node.path().display().to_string(),
            name: node.name(),
        })
        .collect();
    nodes.sort_by(|a, b| a.path.cmp(&b.path));
    nodes
}

/// The driver's buffer timestamp in CLOCK_MONOTONIC nanoseconds, when the driver says its
/// timestamps are monotonic (`V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC`); `None` otherwise.
fn driver_timestamp_ns(meta: &v4l::buffer::Metadata) -> Option<u64> {
    let kind = meta.flags & BufferFlags::TIMESTAMP_MASK;
    if kind != BufferFlags::TIMESTAMP_MONOTONIC {
        return None;
    }
    let (sec, usec) = (meta.timestamp.sec, meta.timestamp.usec);
    (sec >= 0 && usec >= 0).then(|| sec as u64 * 1_000_000_000 + usec as u64 * 1_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_device_is_named() {
        let err = Camera::open(
            Path::new("/dev/video-fbench-none"),
            &CameraRequest::default(),
        )
        .unwrap_err();
        assert!(matches!(err, CameraError::NoDevice { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            "/dev/video-fbench-none: no such device; `fbench list sources` shows the cameras found"
        );
    }

    /// fbench's own process probes the camera before the runs: a wrong path is refused the
    /// same way, before anything runs.
    #[test]
    fn a_probe_names_a_missing_device_as_an_open_does() {
        let path = Path::new("/dev/video-fbench-none");
        let probed = Camera::probe(path, &CameraRequest::default()).unwrap_err();
        let opened = Camera::open(path, &CameraRequest::default()).unwrap_err();
        assert_eq!(probed.to_string(), opened.to_string());
    }

    #[test]
    fn a_file_that_is_not_a_device_is_refused() {
        let file = std::env::temp_dir().join(format!("fbench-not-a-camera-{}", std::process::id()));
        std::fs::write(&file, b"not a camera").unwrap();
        let err = Camera::open(&file, &CameraRequest::default()).unwrap_err();
        std::fs::remove_file(&file).unwrap();
        assert!(matches!(err, CameraError::NotV4l2 { .. }), "{err}");
    }

    #[test]
    fn every_carried_format_has_one_fourcc() {
        for (code, format) in FOURCCS {
            assert_eq!(fourcc_of(format), Some(FourCC::new(code)));
            assert_eq!(format_of(FourCC::new(code)), Some(format));
        }
        assert_eq!(format_of(FourCC::new(b"MJPG")), None);
    }

    #[test]
    fn the_driver_timestamp_is_the_capture_time_only_on_the_monotonic_clock() {
        let meta = |flags: BufferFlags| v4l::buffer::Metadata {
            bytesused: 0,
            flags,
            field: 0,
            timestamp: v4l::timestamp::Timestamp { sec: 12, usec: 345 },
            sequence: 0,
        };
        assert_eq!(
            driver_timestamp_ns(&meta(
                BufferFlags::TIMESTAMP_MONOTONIC | BufferFlags::MAPPED
            )),
            Some(12_000_345_000)
        );
        assert_eq!(
            driver_timestamp_ns(&meta(BufferFlags::TIMESTAMP_COPY)),
            None
        );
        assert_eq!(driver_timestamp_ns(&meta(BufferFlags::empty())), None);
    }
}
