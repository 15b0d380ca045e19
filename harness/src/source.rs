//! Capture sources. A source renders frame `seq` into a buffer the strategy provides; the
//! producer loop around it does the pacing and the stamping.

use crate::frame::FrameSpec;

/// Which source a run uses (`--source`). The closed set of built-in sources; `open` is the
/// one place that builds them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceSpec {
    /// Deterministic synthetic frames at the configured geometry.
    Synthetic,
}

impl SourceSpec {
    /// The name recorded in reports (`config.source`).
    pub fn name(&self) -> String {
        match self {
            SourceSpec::Synthetic => "synthetic".to_string(),
        }
    }

    /// A source producing frames of `spec`.
    pub fn open(&self, spec: &FrameSpec) -> Box<dyn Source> {
        match self {
            SourceSpec::Synthetic => Box::new(SyntheticSource::new(spec)),
        }
    }
}

/// Something that produces frame payloads.
pub trait Source: Send {
    /// Human-readable name for reports (e.g. "synthetic").
    fn name(&self) -> &'static str;
    /// Render frame `seq` into `frame` (exactly the frame length).
    fn render(&mut self, seq: u64, frame: &mut [u8]);
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
        let row_len = match spec.format {
            crate::frame::PixelFormat::Rgb24 | crate::frame::PixelFormat::Bgr24 => 3,
            crate::frame::PixelFormat::Yuyv => 2,
            crate::frame::PixelFormat::Nv12 => 1,
        } * spec.resolution.width as usize;
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
    use crate::frame::{PixelFormat, Resolution};

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
