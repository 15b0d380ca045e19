//! The frame model: geometry, pixel formats and their sizes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Pixel formats a frame can have. The size of a frame follows its format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PixelFormat {
    /// 3 bytes per pixel, R G B.
    Rgb24,
    /// 3 bytes per pixel, B G R (OpenCV's order).
    Bgr24,
    /// Packed 4:2:2, 2 bytes per pixel (Y0 U Y1 V); width must be even.
    Yuyv,
    /// Planar 4:2:0: a Y plane, then interleaved UV at quarter resolution; 1.5 bytes per
    /// pixel; width and height must be even.
    Nv12,
    /// Planar 4:2:0 with separate U and V planes (ffmpeg's yuv420p, V4L2's YU12, Y4M's
    /// 420 colour spaces). Odd sides round the chroma planes up, as encoders do.
    I420,
    /// Planar 4:2:2: Y, then U and V at half width and full height.
    Yuv422p,
    /// Planar 4:4:4: Y, U and V at full resolution.
    Yuv444p,
    /// A single 8-bit luma plane (Y4M's mono).
    Gray,
}

impl PixelFormat {
    pub const ALL: [PixelFormat; 8] = [
        PixelFormat::Rgb24,
        PixelFormat::Bgr24,
        PixelFormat::Yuyv,
        PixelFormat::Nv12,
        PixelFormat::I420,
        PixelFormat::Yuv422p,
        PixelFormat::Yuv444p,
        PixelFormat::Gray,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PixelFormat::Rgb24 => "rgb24",
            PixelFormat::Bgr24 => "bgr24",
            PixelFormat::Yuyv => "yuyv",
            PixelFormat::Nv12 => "nv12",
            PixelFormat::I420 => "i420",
            PixelFormat::Yuv422p => "yuv422p",
            PixelFormat::Yuv444p => "yuv444p",
            PixelFormat::Gray => "gray",
        }
    }

    /// The code stored in frame metadata.
    pub fn code(self) -> u32 {
        match self {
            PixelFormat::Rgb24 => 1,
            PixelFormat::Bgr24 => 2,
            PixelFormat::Yuyv => 3,
            PixelFormat::Nv12 => 4,
            PixelFormat::I420 => 5,
            PixelFormat::Yuv422p => 6,
            PixelFormat::Yuv444p => 7,
            PixelFormat::Gray => 8,
        }
    }

    /// Bytes of one frame, or `None` if the geometry does not suit the format or the size
    /// overflows.
    pub fn frame_len(self, width: u32, height: u32) -> Option<u64> {
        let pixels = u64::from(width).checked_mul(u64::from(height))?;
        match self {
            PixelFormat::Rgb24 | PixelFormat::Bgr24 => pixels.checked_mul(3),
            PixelFormat::Yuyv if width % 2 == 0 => pixels.checked_mul(2),
            PixelFormat::Nv12 if width % 2 == 0 && height % 2 == 0 => Some(pixels / 2 * 3),
            PixelFormat::Nv12 | PixelFormat::Yuyv => None,
            PixelFormat::I420 | PixelFormat::Yuv422p | PixelFormat::Yuv444p | PixelFormat::Gray => {
                self.planes(width, height)
                    .iter()
                    .try_fold(0u64, |sum, plane| sum.checked_add(plane.bytes()?))
            }
        }
    }

    /// Bytes in one row of the first plane: what a synthetic band is as wide as.
    pub fn first_row_len(self, width: u32) -> usize {
        let width = width as usize;
        match self {
            PixelFormat::Rgb24 | PixelFormat::Bgr24 => 3 * width,
            PixelFormat::Yuyv => 2 * width,
            PixelFormat::Nv12
            | PixelFormat::I420
            | PixelFormat::Yuv422p
            | PixelFormat::Yuv444p
            | PixelFormat::Gray => width,
        }
    }

    /// The planes of one frame, in memory order, each as rows of bytes. Packed formats are
    /// one plane. Chroma of odd sides is rounded up, as in Y4M and ffmpeg.
    pub fn planes(self, width: u32, height: u32) -> Vec<Plane> {
        let (w, h) = (u64::from(width), u64::from(height));
        let (half_w, half_h) = (w.div_ceil(2), h.div_ceil(2));
        let plane = |row_bytes, rows| Plane { row_bytes, rows };
        match self {
            PixelFormat::Rgb24 | PixelFormat::Bgr24 => vec![plane(3 * w, h)],
            PixelFormat::Yuyv => vec![plane(2 * w, h)],
            PixelFormat::Nv12 => vec![plane(w, h), plane(2 * half_w, half_h)],
            PixelFormat::I420 => vec![plane(w, h), plane(half_w, half_h), plane(half_w, half_h)],
            PixelFormat::Yuv422p => vec![plane(w, h), plane(half_w, h), plane(half_w, h)],
            PixelFormat::Yuv444p => vec![plane(w, h); 3],
            PixelFormat::Gray => vec![plane(w, h)],
        }
    }
}

/// One plane of a frame: `rows` rows of `row_bytes` bytes, stored without padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plane {
    pub row_bytes: u64,
    pub rows: u64,
}

impl Plane {
    /// Bytes of the plane, or `None` on overflow.
    pub fn bytes(&self) -> Option<u64> {
        self.row_bytes.checked_mul(self.rows)
    }
}

impl fmt::Display for PixelFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PixelFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        PixelFormat::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!(
                    "unknown pixel format '{s}'; accepted: rgb24, bgr24, yuyv, nv12, i420, \
                     yuv422p, yuv444p, gray"
                )
            })
    }
}

/// Width and height in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Resolution {
    pub width: u32,
    pub height: u32,
}

impl Resolution {
    /// Smallest accepted side: a frame must have room for its integrity stamps.
    pub const MIN_SIDE: u32 = 16;
    /// Largest accepted side (16K video is 15360 wide; this leaves room above it).
    pub const MAX_SIDE: u32 = 65_536;

    pub const PRESETS: [(&'static str, Resolution); 4] = [
        ("480p", Resolution::new(640, 480)),
        ("720p", Resolution::new(1280, 720)),
        ("1080p", Resolution::new(1920, 1080)),
        ("4k", Resolution::new(3840, 2160)),
    ];

    pub const fn new(width: u32, height: u32) -> Self {
        Resolution { width, height }
    }
}

impl fmt::Display for Resolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

impl FromStr for Resolution {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let accepted = "accepted: 480p, 720p, 1080p, 4k or WIDTHxHEIGHT such as 1280x720";
        if let Some((_, r)) = Resolution::PRESETS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(s))
        {
            return Ok(*r);
        }
        let (w, h) = s
            .split_once(['x', 'X'])
            .ok_or_else(|| format!("'{s}' is not a resolution; {accepted}"))?;
        let side = |v: &str| -> Result<u32, String> {
            let n: u32 = v
                .trim()
                .parse()
                .map_err(|_| format!("'{s}' is not a resolution; {accepted}"))?;
            if !(Resolution::MIN_SIDE..=Resolution::MAX_SIDE).contains(&n) {
                return Err(format!(
                    "'{s}': each side must be between {} and {} pixels",
                    Resolution::MIN_SIDE,
                    Resolution::MAX_SIDE
                ));
            }
            Ok(n)
        };
        Ok(Resolution::new(side(w)?, side(h)?))
    }
}

/// Geometry and format of the frames of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameSpec {
    pub resolution: Resolution,
    pub format: PixelFormat,
}

impl FrameSpec {
    /// Bytes per frame; errors name what is wrong with the combination.
    pub fn frame_len(&self) -> Result<usize, String> {
        let Resolution { width, height } = self.resolution;
        let len = self.format.frame_len(width, height).ok_or_else(|| {
            format!(
                "{} frames need an even width{}; {}x{} does not fit",
                self.format,
                if self.format == PixelFormat::Nv12 {
                    " and height"
                } else {
                    ""
                },
                width,
                height
            )
        })?;
        usize::try_from(len).map_err(|_| format!("{width}x{height} is too large for this machine"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_and_explicit_sizes_parse() {
        assert_eq!(
            "1080p".parse::<Resolution>().unwrap(),
            Resolution::new(1920, 1080)
        );
        assert_eq!(
            "4K".parse::<Resolution>().unwrap(),
            Resolution::new(3840, 2160)
        );
        assert_eq!(
            "640x480".parse::<Resolution>().unwrap(),
            Resolution::new(640, 480)
        );
        for bad in [
            "",
            "1080",
            "x",
            "10x10",
            "axb",
            "1920x",
            "99999x100",
            "-5x100",
        ] {
            assert!(bad.parse::<Resolution>().is_err(), "{bad}");
        }
    }

    #[test]
    fn frame_size_follows_the_format() {
        let spec = |format| FrameSpec {
            resolution: Resolution::new(1920, 1080),
            format,
        };
        assert_eq!(spec(PixelFormat::Rgb24).frame_len().unwrap(), 6_220_800);
        assert_eq!(spec(PixelFormat::Bgr24).frame_len().unwrap(), 6_220_800);
        assert_eq!(spec(PixelFormat::Yuyv).frame_len().unwrap(), 4_147_200);
        assert_eq!(spec(PixelFormat::Nv12).frame_len().unwrap(), 3_110_400);
        assert_eq!(spec(PixelFormat::I420).frame_len().unwrap(), 3_110_400);
        assert_eq!(spec(PixelFormat::Yuv422p).frame_len().unwrap(), 4_147_200);
        assert_eq!(spec(PixelFormat::Yuv444p).frame_len().unwrap(), 6_220_800);
        assert_eq!(spec(PixelFormat::Gray).frame_len().unwrap(), 2_073_600);
        // Odd sides round the chroma planes up, as Y4M and ffmpeg do.
        let odd = |format| FrameSpec {
            resolution: Resolution::new(33, 17),
            format,
        };
        assert_eq!(
            odd(PixelFormat::I420).frame_len().unwrap(),
            33 * 17 + 2 * 17 * 9
        );
        assert_eq!(
            odd(PixelFormat::Yuv422p).frame_len().unwrap(),
            33 * 17 + 2 * 17 * 17
        );
        assert_eq!(odd(PixelFormat::Gray).frame_len().unwrap(), 33 * 17);
        let odd = FrameSpec {
            resolution: Resolution::new(641, 480),
            format: PixelFormat::Nv12,
        };
        assert!(odd.frame_len().is_err());
    }
}
