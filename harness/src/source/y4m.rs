//! YUV4MPEG2 (Y4M) files as a capture source: the plain format every encoder can write
//! (`ffmpeg -i clip.mp4 -pix_fmt yuv420p clip.y4m`).
//!
//! A file is a one-line stream header, `YUV4MPEG2` followed by space-separated parameters
//! (`W` width, `H` height, `F` frame rate `n:d`, `I` interlacing, `A` pixel aspect `n:d`,
//! `C` colour space, `X` extensions; a parameter is one tag letter then its value), then
//! frames, each a `FRAME` line with optional parameters of its own followed by the raw planar
//! payload. Unknown parameters are ignored, as the format allows.
//!
//! The whole file is loaded into memory before the run, so a run measures distribution and
//! not disk reads. The parser must never allocate from a size it has not checked: header lines
//! are read through a fixed bound, the geometry is range-checked before a frame size is
//! computed, and the frames' memory grows only within the caller's limit.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;

use crate::frame::{FrameSpec, PixelFormat, Resolution};
use crate::source::{Source, SourceDetail};
use crate::units::human_bytes;

/// Longest stream or frame header line accepted, newline included. Real headers are under
/// 100 bytes; the bound keeps a file without newlines from being read into one huge line.
pub const MAX_HEADER_LEN: usize = 4096;

const MAGIC: &[u8] = b"YUV4MPEG2";
const FRAME_TAG: &[u8] = b"FRAME";

/// The Y4M colour spaces fbench plays (the `C` parameter). All 8 bits per sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColourSpace {
    /// 4:2:0, chroma centred (JPEG/MPEG-1 siting); the default when `C` is absent.
    C420Jpeg,
    /// 4:2:0, PAL DV siting.
    C420Paldv,
    /// 4:2:0, MPEG-2 siting.
    C420Mpeg2,
    /// 4:2:0 as ffmpeg writes it for yuv420p when siting is unspecified.
    C420,
    C422,
    C444,
    /// Luma only.
    Mono,
}

impl ColourSpace {
    pub const ALL: [ColourSpace; 7] = [
        ColourSpace::C420Jpeg,
        ColourSpace::C420Paldv,
        ColourSpace::C420Mpeg2,
        ColourSpace::C420,
        ColourSpace::C422,
        ColourSpace::C444,
        ColourSpace::Mono,
    ];

    /// The value as written after `C` in a header.
    pub fn tag(self) -> &'static str {
        match self {
            ColourSpace::C420Jpeg => "420jpeg",
            ColourSpace::C420Paldv => "420paldv",
            ColourSpace::C420Mpeg2 => "420mpeg2",
            ColourSpace::C420 => "420",
            ColourSpace::C422 => "422",
            ColourSpace::C444 => "444",
            ColourSpace::Mono => "mono",
        }
    }

    /// The frame layout of the payload. Chroma siting does not change the bytes' layout,
    /// so every 4:2:0 variant is `i420`.
    pub fn pixel_format(self) -> PixelFormat {
        match self {
            ColourSpace::C420Jpeg
            | ColourSpace::C420Paldv
            | ColourSpace::C420Mpeg2
            | ColourSpace::C420 => PixelFormat::I420,
            ColourSpace::C422 => PixelFormat::Yuv422p,
            ColourSpace::C444 => PixelFormat::Yuv444p,
            ColourSpace::Mono => PixelFormat::Gray,
        }
    }

    fn from_tag(tag: &[u8]) -> Option<ColourSpace> {
        ColourSpace::ALL
            .into_iter()
            .find(|c| c.tag().as_bytes() == tag)
    }

    fn accepted() -> String {
        let tags: Vec<&str> = ColourSpace::ALL.iter().map(|c| c.tag()).collect();
        tags.join(", ")
    }
}

/// A ratio as Y4M writes it (`30000:1001`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ratio {
    pub num: u32,
    pub den: u32,
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.num, self.den)
    }
}

/// A parsed stream header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamHeader {
    pub width: u32,
    pub height: u32,
    /// `None` when the file does not say (`F` absent or `F0:0`).
    pub frame_rate: Option<Ratio>,
    pub colour_space: ColourSpace,
    /// `I` and `A` as written (informational: neither changes the payload's layout).
    pub interlacing: Option<String>,
    pub pixel_aspect: Option<String>,
    /// The `X` parameters as written, without the `X`.
    pub extensions: Vec<String>,
}

impl StreamHeader {
    pub fn frame_spec(&self) -> FrameSpec {
        FrameSpec {
            resolution: Resolution::new(self.width, self.height),
            format: self.colour_space.pixel_format(),
        }
    }

    /// Frames per second, if the file gives a rate.
    pub fn fps(&self) -> Option<f64> {
        self.frame_rate.map(|r| f64::from(r.num) / f64::from(r.den))
    }
}

/// What is wrong with a Y4M file. Every message is one line and says what was expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Y4mError {
    #[error("cannot read it: {0}")]
    Io(String),
    #[error("not a Y4M file: it does not start with YUV4MPEG2 (write one with e.g. `ffmpeg -i clip.mp4 -pix_fmt yuv420p clip.y4m`)")]
    NotY4m,
    #[error("the stream header does not end within {MAX_HEADER_LEN} bytes")]
    HeaderTooLong,
    #[error("the file ends inside the stream header")]
    HeaderTruncated,
    #[error("the stream header has no {0}")]
    Missing(&'static str),
    #[error("the {tag} parameter '{value}' is not valid; expected {expected}")]
    BadParameter {
        tag: char,
        value: String,
        expected: &'static str,
    },
    #[error("geometry {width}x{height} is out of range; each side must be between {min} and {max} pixels", min = Resolution::MIN_SIDE, max = Resolution::MAX_SIDE)]
    Geometry { width: u64, height: u64 },
    #[error("colour space C{0} is not supported; accepted: {accepted}", accepted = ColourSpace::accepted())]
    ColourSpace(String),
    #[error("frame {index} does not start with FRAME (byte {offset} of the file)")]
    NotAFrame { index: u64, offset: u64 },
    #[error("frame {index}'s header does not end within {MAX_HEADER_LEN} bytes")]
    FrameHeaderTooLong { index: u64 },
    #[error(
        "frame {index} is truncated: the file ends {got} bytes into its {expected}-byte payload"
    )]
    Truncated { index: u64, got: u64, expected: u64 },
    #[error("there are no frames after the stream header")]
    NoFrames,
    #[error("its frames need at least {} ({frames} frames of {}), more than the {} limit", human_bytes(*needed), human_bytes(*frame_bytes), human_bytes(*limit))]
    TooLarge {
        needed: u64,
        frames: u64,
        frame_bytes: u64,
        limit: u64,
    },
}

impl From<std::io::Error> for Y4mError {
    fn from(err: std::io::Error) -> Self {
        Y4mError::Io(err.to_string())
    }
}

/// A value from the file, made safe to print on one line: bounded, escaped.
fn shown(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(&value[..value.len().min(32)]);
    let mut shown: String = text.escape_debug().collect();
    if value.len() > 32 {
        shown.push('…');
    }
    shown
}

fn parse_ratio(tag: char, value: &[u8]) -> Result<Ratio, Y4mError> {
    let bad = || Y4mError::BadParameter {
        tag,
        value: shown(value),
        expected: "a ratio of whole numbers such as 30000:1001",
    };
    let text = std::str::from_utf8(value).map_err(|_| bad())?;
    let (num, den) = text.split_once(':').ok_or_else(bad)?;
    let whole = |s: &str| -> Result<u32, Y4mError> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse().map_err(|_| bad())
    };
    Ok(Ratio {
        num: whole(num)?,
        den: whole(den)?,
    })
}

/// A side in pixels. Digits only; values past `u64` are as out of range as 70000.
fn parse_side(tag: char, value: &[u8]) -> Result<u64, Y4mError> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err(Y4mError::BadParameter {
            tag,
            value: shown(value),
            expected: "a whole number of pixels",
        });
    }
    Ok(std::str::from_utf8(value)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(u64::MAX))
}

/// Parse a stream header line (with or without its newline).
pub fn parse_stream_header(line: &[u8]) -> Result<StreamHeader, Y4mError> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let rest = line.strip_prefix(MAGIC).ok_or(Y4mError::NotY4m)?;
    if !(rest.is_empty() || rest[0] == b' ') {
        return Err(Y4mError::NotY4m);
    }
    let (mut width, mut height) = (None, None);
    let mut header = StreamHeader {
        width: 0,
        height: 0,
        frame_rate: None,
        colour_space: ColourSpace::C420Jpeg,
        interlacing: None,
        pixel_aspect: None,
        extensions: Vec::new(),
    };
    // Parameters are separated by single spaces; tolerate runs of them.
    for token in rest.split(|&b| b == b' ').filter(|t| !t.is_empty()) {
        let (tag, value) = (token[0], &token[1..]);
        match tag {
            b'W' => width = Some(parse_side('W', value)?),
            b'H' => height = Some(parse_side('H', value)?),
            b'F' => {
                let rate = parse_ratio('F', value)?;
                header.frame_rate = match (rate.num, rate.den) {
                    (0, 0) => None, // the format's "unknown"
                    (0, _) | (_, 0) => {
                        return Err(Y4mError::BadParameter {
                            tag: 'F',
                            value: shown(value),
                            expected: "a positive frame rate such as 25:1 (or 0:0 for unknown)",
                        })
                    }
                    _ => Some(rate),
                };
            }
            b'C' => {
                header.colour_space = ColourSpace::from_tag(value)
                    .ok_or_else(|| Y4mError::ColourSpace(shown(value)))?;
            }
            b'I' => header.interlacing = Some(shown(value)),
            b'A' => header.pixel_aspect = Some(shown(value)),
            b'X' => header.extensions.push(shown(value)),
            _ => {} // unknown parameters are ignored, as the format allows
        }
    }
    let width = width.ok_or(Y4mError::Missing("width (W)"))?;
    let height = height.ok_or(Y4mError::Missing("height (H)"))?;
    let side = Resolution::MIN_SIDE..=Resolution::MAX_SIDE;
    match (u32::try_from(width), u32::try_from(height)) {
        (Ok(w), Ok(h)) if side.contains(&w) && side.contains(&h) => {
            header.width = w;
            header.height = h;
        }
        _ => return Err(Y4mError::Geometry { width, height }),
    }
    Ok(header)
}

/// Read one header line through the bound. `Ok(None)` at a clean end of input; the line
/// keeps its newline when it has one.
fn read_line(reader: &mut impl BufRead, line: &mut Vec<u8>) -> std::io::Result<Option<()>> {
    line.clear();
    let read = reader
        .by_ref()
        .take(MAX_HEADER_LEN as u64)
        .read_until(b'\n', line)?;
    Ok((read > 0).then_some(()))
}

/// Fill `buf` from `reader`; returns how many bytes it got before the end of input.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match reader.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// A Y4M file held in memory: its header and every frame's payload, back to back.
pub struct Y4mClip {
    path: String,
    header: StreamHeader,
    frame_len: usize,
    frame_count: u64,
    payload: Vec<u8>,
}

impl fmt::Debug for Y4mClip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Y4mClip")
            .field("path", &self.path)
            .field("header", &self.header)
            .field("frame_count", &self.frame_count)
            .finish_non_exhaustive()
    }
}

/// Two clips are the same source only if they are the same load.
impl PartialEq for Y4mClip {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for Y4mClip {}

impl Y4mClip {
    /// Load the file at `path`, refusing before reading the frames when they cannot fit in
    /// `limit` bytes.
    pub fn load(path: &Path, limit: u64) -> Result<Y4mClip, Y4mError> {
        let file = File::open(path)?;
        let file_len = file.metadata()?.len();
        let mut clip = Y4mClip::read(BufReader::new(file), limit, Some(file_len))?;
        clip.path = path.display().to_string();
        Ok(clip)
    }

    /// Parse a whole Y4M stream. `size_hint` is the stream's length in bytes when known: it
    /// lets an oversized file be refused before its frames are read, and the frames' memory
    /// be reserved once.
    pub fn read(
        mut reader: impl BufRead,
        limit: u64,
        size_hint: Option<u64>,
    ) -> Result<Y4mClip, Y4mError> {
        let mut line = Vec::with_capacity(128);
        // Check the magic before hunting for a newline, so a binary file is "not Y4M" rather
        // than "header too long".
        let head = reader.fill_buf()?;
        let probe = &head[..head.len().min(MAGIC.len())];
        if !MAGIC.starts_with(probe) || probe.is_empty() {
            return Err(Y4mError::NotY4m);
        }
        read_line(&mut reader, &mut line)?;
        if !line.ends_with(b"\n") {
            if line.len() >= MAX_HEADER_LEN {
                return Err(Y4mError::HeaderTooLong);
            }
            if line.len() < MAGIC.len() {
                return Err(Y4mError::NotY4m);
            }
            // Parse first: a bad header says more than "truncated".
            parse_stream_header(&line)?;
            return Err(Y4mError::HeaderTruncated);
        }
        let header = parse_stream_header(&line)?;
        let mut offset = line.len() as u64;
        let spec = header.frame_spec();
        // The geometry is range-checked, so this is at most 65536² x 3 bytes: a u64, and
        // compared with `limit` before anything of that size is allocated.
        let frame_bytes =
            spec.format
                .frame_len(header.width, header.height)
                .ok_or(Y4mError::Geometry {
                    width: header.width.into(),
                    height: header.height.into(),
                })?;
        let too_large = |frames: u64| Y4mError::TooLarge {
            needed: frames.saturating_mul(frame_bytes),
            frames,
            frame_bytes,
            limit,
        };
        let mut reserve = frame_bytes.min(limit);
        if let Some(total) = size_hint {
            let rest = total.saturating_sub(offset);
            // Fewest frames the rest can hold (every header as long as allowed) and most
            // (every header a bare "FRAME\n").
            let fewest = rest / (frame_bytes + MAX_HEADER_LEN as u64);
            let most = rest / (frame_bytes + FRAME_TAG.len() as u64 + 1);
            if fewest.saturating_mul(frame_bytes) > limit {
                return Err(too_large(fewest.max(most)));
            }
            reserve = most.saturating_mul(frame_bytes).min(limit);
        }
        let frame_len = usize::try_from(frame_bytes).map_err(|_| too_large(1))?;
        let mut payload = Vec::new();
        payload
            .try_reserve_exact(usize::try_from(reserve).unwrap_or(usize::MAX))
            .map_err(|_| too_large(1))?;

        let mut index = 0u64;
        loop {
            if read_line(&mut reader, &mut line)?.is_none() {
                break;
            }
            index += 1;
            let is_frame = line.starts_with(FRAME_TAG)
                && matches!(line.get(FRAME_TAG.len()), Some(b' ' | b'\n'));
            if !is_frame {
                if line.len() < FRAME_TAG.len() + 1 && FRAME_TAG.starts_with(&line) {
                    return Err(Y4mError::Truncated {
                        index,
                        got: 0,
                        expected: frame_bytes,
                    });
                }
                return Err(Y4mError::NotAFrame { index, offset });
            }
            if !line.ends_with(b"\n") {
                if line.len() >= MAX_HEADER_LEN {
                    return Err(Y4mError::FrameHeaderTooLong { index });
                }
                return Err(Y4mError::Truncated {
                    index,
                    got: 0,
                    expected: frame_bytes,
                });
            }
            // Frame parameters (I, X, …) only describe this frame's display; ignored.
            offset += line.len() as u64;
            let start = payload.len();
            let end = start as u64 + frame_bytes;
            if end > limit {
                return Err(too_large(size_hint.map_or(index, |total| {
                    index.max(total / (frame_bytes + FRAME_TAG.len() as u64 + 1))
                })));
            }
            if payload.capacity() < end as usize {
                // Grow geometrically, but never past the limit.
                let target = (payload.capacity() as u64 * 2).clamp(end, limit.max(end));
                payload
                    .try_reserve_exact(target as usize - start)
                    .map_err(|_| too_large(index))?;
            }
            payload.resize(end as usize, 0);
            let got = read_full(&mut reader, &mut payload[start..])?;
            if got < frame_len {
                return Err(Y4mError::Truncated {
                    index,
                    got: got as u64,
                    expected: frame_bytes,
                });
            }
            offset += frame_bytes;
        }
        if index == 0 {
            return Err(Y4mError::NoFrames);
        }
        payload.shrink_to_fit();
        Ok(Y4mClip {
            path: String::new(),
            header,
            frame_len,
            frame_count: index,
            payload,
        })
    }

    /// The path as given, for names and messages.
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn header(&self) -> &StreamHeader {
        &self.header
    }

    pub fn frame_spec(&self) -> FrameSpec {
        self.header.frame_spec()
    }

    pub fn frame_count(&self) -> u64 {
        self.frame_count
    }

    /// Bytes of every frame's payload together: what the clip keeps in memory.
    pub fn payload_bytes(&self) -> u64 {
        self.payload.len() as u64
    }

    /// The payload of frame `index` (from 0).
    pub fn frame(&self, index: u64) -> &[u8] {
        let start = index as usize * self.frame_len;
        &self.payload[start..start + self.frame_len]
    }

    pub fn detail(&self) -> SourceDetail {
        SourceDetail {
            frames: Some(self.frame_count),
            colour_space: Some(self.header.colour_space.tag().to_string()),
            interlacing: self.header.interlacing.clone(),
            pixel_aspect: self.header.pixel_aspect.clone(),
            native_fps: self.header.frame_rate.map(|r| r.to_string()),
            ..SourceDetail::default()
        }
    }
}

/// Plays a loaded clip in a loop: frame `seq` is the clip's frame `(seq - 1) mod count`.
/// Rendering copies it into the strategy's buffer; the producer then stamps that copy,
/// never the clip.
pub struct Y4mSource {
    clip: Arc<Y4mClip>,
}

impl Y4mSource {
    pub fn new(clip: Arc<Y4mClip>) -> Self {
        Y4mSource { clip }
    }
}

impl Source for Y4mSource {
    fn name(&self) -> &'static str {
        "y4m"
    }

    fn render(&mut self, seq: u64, frame: &mut [u8]) {
        let index = seq.saturating_sub(1) % self.clip.frame_count;
        frame.copy_from_slice(self.clip.frame(index));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Y4M stream of `frames` frames whose bytes are all `frame index + 1`.
    fn stream(header: &str, frame_len: usize, frames: u8) -> Vec<u8> {
        let mut bytes = format!("{header}\n").into_bytes();
        for i in 0..frames {
            bytes.extend_from_slice(b"FRAME\n");
            bytes.extend(vec![i + 1; frame_len]);
        }
        bytes
    }

    fn read(bytes: &[u8]) -> Result<Y4mClip, Y4mError> {
        Y4mClip::read(bytes, 1 << 30, Some(bytes.len() as u64))
    }

    #[test]
    fn every_colour_space_gives_its_layout() {
        for (tag, format, len) in [
            ("", PixelFormat::I420, 32 * 16 * 3 / 2),
            (" C420jpeg", PixelFormat::I420, 32 * 16 * 3 / 2),
            (" C420paldv", PixelFormat::I420, 32 * 16 * 3 / 2),
            (" C420mpeg2", PixelFormat::I420, 32 * 16 * 3 / 2),
            (" C420", PixelFormat::I420, 32 * 16 * 3 / 2),
            (" C422", PixelFormat::Yuv422p, 32 * 16 * 2),
            (" C444", PixelFormat::Yuv444p, 32 * 16 * 3),
            (" Cmono", PixelFormat::Gray, 32 * 16),
        ] {
            let clip = read(&stream(&format!("YUV4MPEG2 W32 H16 F25:1{tag}"), len, 3)).unwrap();
            assert_eq!(clip.frame_spec().format, format, "{tag}");
            assert_eq!(clip.frame_count(), 3);
            assert_eq!(clip.payload_bytes(), 3 * len as u64);
            assert_eq!(clip.frame(2), vec![3u8; len].as_slice());
        }
    }

    #[test]
    fn optional_and_unknown_parameters_are_kept_or_ignored() {
        let mut bytes =
            b"YUV4MPEG2 W20 H18 F30000:1001 Ip A1:1 C444 XYSCSS=444 Zfuture  XCOLORRANGE=FULL\n"
                .to_vec();
        for i in 0..2u8 {
            bytes.extend_from_slice(b"FRAME Ib XMARK=1\n");
            bytes.extend(vec![i; 20 * 18 * 3]);
        }
        let clip = read(&bytes).unwrap();
        let header = clip.header();
        assert_eq!((header.width, header.height), (20, 18));
        assert_eq!(
            header.frame_rate,
            Some(Ratio {
                num: 30000,
                den: 1001
            })
        );
        assert!((header.fps().unwrap() - 29.97).abs() < 0.001);
        assert_eq!(header.interlacing.as_deref(), Some("p"));
        assert_eq!(header.pixel_aspect.as_deref(), Some("1:1"));
        assert_eq!(header.extensions, ["YSCSS=444", "COLORRANGE=FULL"]);
        assert_eq!(clip.frame_count(), 2);
        let detail = clip.detail();
        assert_eq!(detail.frames, Some(2));
        assert_eq!(detail.native_fps.as_deref(), Some("30000:1001"));
        assert_eq!(detail.colour_space.as_deref(), Some("444"));
    }

    #[test]
    fn odd_sides_round_the_chroma_up() {
        let len = 17 * 17 + 2 * 9 * 9;
        let clip = read(&stream("YUV4MPEG2 W17 H17 F1:1 C420mpeg2", len, 2)).unwrap();
        assert_eq!(clip.frame_count(), 2);
        assert_eq!(clip.frame(1), vec![2u8; len].as_slice());
    }

    #[test]
    fn a_missing_or_unknown_rate_is_none() {
        let clip = read(&stream("YUV4MPEG2 W16 H16 Cmono", 256, 1)).unwrap();
        assert_eq!(clip.header().frame_rate, None);
        let clip = read(&stream("YUV4MPEG2 W16 H16 F0:0 Cmono", 256, 1)).unwrap();
        assert_eq!(clip.header().fps(), None);
    }

    #[test]
    fn the_source_loops_over_the_clip() {
        let clip = Arc::new(read(&stream("YUV4MPEG2 W16 H16 F25:1 Cmono", 256, 3)).unwrap());
        let mut source = Y4mSource::new(clip);
        let mut frame = vec![0u8; 256];
        for (seq, expected) in [(1, 1), (2, 2), (3, 3), (4, 1), (8, 2)] {
            source.render(seq, &mut frame);
            assert!(frame.iter().all(|&b| b == expected), "seq {seq}");
        }
    }

    #[test]
    fn bad_input_gets_a_precise_error() {
        let mono = |header: &str| stream(header, 256, 1);
        let cases: Vec<(Vec<u8>, Y4mError)> = vec![
            (b"".to_vec(), Y4mError::NotY4m),
            (b"RIFF....WAVE".to_vec(), Y4mError::NotY4m),
            (b"YUV4MPEG2X W16 H16\n".to_vec(), Y4mError::NotY4m),
            (b"YUV4MPEG2 W16 H16".to_vec(), Y4mError::HeaderTruncated),
            (
                [b"YUV4MPEG2 X".as_slice(), &[b'a'; 5000]].concat(),
                Y4mError::HeaderTooLong,
            ),
            (mono("YUV4MPEG2 H16"), Y4mError::Missing("width (W)")),
            (mono("YUV4MPEG2 W16"), Y4mError::Missing("height (H)")),
            (
                mono("YUV4MPEG2 W0 H16"),
                Y4mError::Geometry {
                    width: 0,
                    height: 16,
                },
            ),
            (
                mono("YUV4MPEG2 W16 H99999999999999999999999"),
                Y4mError::Geometry {
                    width: 16,
                    height: u64::MAX,
                },
            ),
            (
                mono("YUV4MPEG2 W16 H16 C420p10"),
                Y4mError::ColourSpace("420p10".into()),
            ),
            (
                mono("YUV4MPEG2 W-16 H16"),
                Y4mError::BadParameter {
                    tag: 'W',
                    value: "-16".into(),
                    expected: "a whole number of pixels",
                },
            ),
            (
                mono("YUV4MPEG2 W16 H16 F25"),
                Y4mError::BadParameter {
                    tag: 'F',
                    value: "25".into(),
                    expected: "a ratio of whole numbers such as 30000:1001",
                },
            ),
            (b"YUV4MPEG2 W16 H16 Cmono\n".to_vec(), Y4mError::NoFrames),
            (
                b"YUV4MPEG2 W16 H16 Cmono\nFRAME\nabc".to_vec(),
                Y4mError::Truncated {
                    index: 1,
                    got: 3,
                    expected: 256,
                },
            ),
            (
                [mono("YUV4MPEG2 W16 H16 Cmono"), b"FRA".to_vec()].concat(),
                Y4mError::Truncated {
                    index: 2,
                    got: 0,
                    expected: 256,
                },
            ),
            (
                [mono("YUV4MPEG2 W16 H16 Cmono"), b"GARBAGE\n".to_vec()].concat(),
                Y4mError::NotAFrame {
                    index: 2,
                    offset: 24 + 6 + 256,
                },
            ),
        ];
        for (bytes, expected) in cases {
            let err = read(&bytes).unwrap_err();
            assert_eq!(err, expected, "{:?}", String::from_utf8_lossy(&bytes));
            assert_eq!(err.to_string().lines().count(), 1, "{err}");
        }
    }

    #[test]
    fn the_memory_limit_refuses_clips_that_do_not_fit() {
        let bytes = stream("YUV4MPEG2 W64 H64 F25:1 C444", 64 * 64 * 3, 10);
        // Known size: the message gives the whole clip's size.
        let err = Y4mClip::read(bytes.as_slice(), 100_000, Some(bytes.len() as u64)).unwrap_err();
        assert_eq!(
            err,
            Y4mError::TooLarge {
                needed: 10 * 12_288,
                frames: 10,
                frame_bytes: 12_288,
                limit: 100_000
            }
        );
        // Unknown size: refused at the first frame past the limit.
        let err = Y4mClip::read(bytes.as_slice(), 100_000, None).unwrap_err();
        assert!(
            matches!(err, Y4mError::TooLarge { frames: 9, .. }),
            "{err:?}"
        );
        // A geometry far larger than the limit never allocates a frame.
        let huge = b"YUV4MPEG2 W65536 H65536 C444\nFRAME\n";
        let err = Y4mClip::read(huge.as_slice(), 1 << 20, None).unwrap_err();
        assert!(
            matches!(err, Y4mError::TooLarge { frames: 1, .. }),
            "{err:?}"
        );
        assert!(Y4mClip::read(bytes.as_slice(), 10 * 12_288, None).is_ok());
    }
}
