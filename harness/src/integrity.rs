//! Integrity stamps: how a consumer tells a whole frame from a mix of two writes.
//!
//! The producer writes the frame's sequence number into the first 8 bytes of every 4 KiB
//! page of the payload and into its last 8 bytes. A strategy that lets a reader see a
//! frame while it is being (over)written shows up as a page whose stamp disagrees with the
//! frame's header. Pages are the unit because writes and copies proceed through memory in
//! order, so any overlap of a write with a read spans at least one page boundary in a
//! multi-page frame; checking one word per page costs a small fraction of a copy.
//!
//! `full` mode adds a checksum of every byte, computed by the producer and recomputed by the
//! consumer: slower, and catches damage inside a page too.

use std::fmt;
use std::str::FromStr;

use fbench_strategies::FrameMeta;
use serde::{Deserialize, Serialize};

pub const STAMP_STRIDE: usize = 4096;

/// How consumers verify frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerifyMode {
    /// Check the per-page sequence stamps (default).
    Stamps,
    /// Stamps plus a checksum of every byte.
    Full,
    /// No verification: torn frames go undetected (and are reported as 0).
    Off,
}

impl VerifyMode {
    pub fn name(self) -> &'static str {
        match self {
            VerifyMode::Stamps => "stamps",
            VerifyMode::Full => "full",
            VerifyMode::Off => "off",
        }
    }
}

impl fmt::Display for VerifyMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for VerifyMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "stamps" => Ok(VerifyMode::Stamps),
            "full" => Ok(VerifyMode::Full),
            "off" => Ok(VerifyMode::Off),
            _ => Err(format!(
                "unknown verification '{s}'; accepted: stamps, full, off"
            )),
        }
    }
}

/// Write the stamps of frame `seq` into `frame`. `frame` must be at least 16 bytes.
pub fn stamp(frame: &mut [u8], seq: u64) {
    let word = seq.to_le_bytes();
    let len = frame.len();
    for page in frame.chunks_mut(STAMP_STRIDE) {
        if page.len() >= 8 {
            page[..8].copy_from_slice(&word);
        }
    }
    frame[len - 8..].copy_from_slice(&word);
}

/// Whether every stamp in `frame` carries `seq`.
pub fn stamps_match(frame: &[u8], seq: u64) -> bool {
    let word = seq.to_le_bytes();
    let len = frame.len();
    frame
        .chunks(STAMP_STRIDE)
        .filter(|page| page.len() >= 8)
        .all(|page| page[..8] == word)
        && frame[len - 8..] == word
}

/// A 64-bit checksum of every byte, fast enough to run at memory bandwidth. Never 0, so 0
/// in a header means "not computed".
pub fn checksum(frame: &[u8]) -> u64 {
    // Four independent lanes so the multiplies pipeline; the mixing is FNV-style with a
    // 64-bit odd constant, order-sensitive through the lane rotation.
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut lanes = [K, K ^ 1, K ^ 2, K ^ 3];
    let mut chunks = frame.chunks_exact(32);
    for chunk in &mut chunks {
        for (i, lane) in lanes.iter_mut().enumerate() {
            let word = u64::from_le_bytes(chunk[i * 8..i * 8 + 8].try_into().unwrap());
            *lane = (*lane ^ word).wrapping_mul(K).rotate_left(29);
        }
    }
    let mut tail = K;
    for &byte in chunks.remainder() {
        tail = (tail ^ u64::from(byte)).wrapping_mul(K);
    }
    let sum = lanes.iter().fold(tail ^ frame.len() as u64, |acc, &l| {
        (acc ^ l).wrapping_mul(K)
    });
    sum | 1
}

/// Whether a frame is whole under `mode`.
pub fn verify(frame: &[u8], meta: &FrameMeta, mode: VerifyMode) -> bool {
    match mode {
        VerifyMode::Off => true,
        VerifyMode::Stamps => stamps_match(frame, meta.seq),
        VerifyMode::Full => stamps_match(frame, meta.seq) && checksum(frame) == meta.checksum,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mix_of_two_writes_is_detected() {
        let mut a = vec![7u8; 3 * STAMP_STRIDE + 100];
        stamp(&mut a, 41);
        let mut b = a.clone();
        stamp(&mut b, 42);
        assert!(stamps_match(&a, 41));
        assert!(!stamps_match(&a, 42));
        // first two pages from write 42, the rest from write 41
        let mut torn = a.clone();
        torn[..2 * STAMP_STRIDE].copy_from_slice(&b[..2 * STAMP_STRIDE]);
        assert!(!stamps_match(&torn, 41));
        assert!(!stamps_match(&torn, 42));
    }

    #[test]
    fn checksum_catches_a_change_inside_a_page() {
        let mut frame = vec![3u8; 10_000];
        stamp(&mut frame, 5);
        let meta = FrameMeta {
            seq: 5,
            checksum: checksum(&frame),
            ..FrameMeta::default()
        };
        assert!(verify(&frame, &meta, VerifyMode::Full));
        frame[5000] ^= 1;
        assert!(verify(&frame, &meta, VerifyMode::Stamps));
        assert!(!verify(&frame, &meta, VerifyMode::Full));
        assert!(verify(&frame, &meta, VerifyMode::Off));
    }

    #[test]
    fn small_frames_still_carry_two_stamps() {
        let mut frame = vec![0u8; 16 * 16 * 3];
        stamp(&mut frame, 9);
        assert!(stamps_match(&frame, 9));
        let last = frame.len() - 1;
        frame[last] = 0xff;
        assert!(!stamps_match(&frame, 9));
    }
}
