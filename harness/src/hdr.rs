//! Reading a histogram that came from a file, safely: the lengths an HdrHistogram V2
//! encoding declares are checked against the bytes it holds before anything is allocated
//! for them, and the compressed form is inflated with a bound.
//!
//! `hdrhistogram`'s deserializer trusts the declared payload length and allocates it up
//! front, so a 24 KB report whose histogram declares a 0x7fffffff-byte payload would take
//! 2 GB before failing. This module must never allocate more than the input justifies
//! (at most [`MAX_HISTOGRAM_BYTES`]).

use std::borrow::Cow;
use std::io::Read;

use flate2::read::ZlibDecoder;

/// The largest histogram payload accepted once inflated. fbench's histograms (3 significant
/// digits, 1 ns to an hour) encode to well under a megabyte even with every bucket used.
pub const MAX_HISTOGRAM_BYTES: usize = 16 << 20;

/// HdrHistogram's V2 cookies (`serialization/mod.rs` of the crate), word size 8.
const V2_COOKIE: u32 = 0x1c84_9303 | 0x10;
const V2_COMPRESSED_COOKIE: u32 = 0x1c84_9304 | 0x10;

/// Cookie, payload length, normalizing offset, significant digits (4 bytes each), lowest
/// and highest trackable value, integer-to-double ratio (8 bytes each).
const V2_HEADER_BYTES: usize = 40;

fn word(bytes: &[u8], at: usize) -> Result<u32, String> {
    bytes
        .get(at..at + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| "histogram is cut short (its header is incomplete)".to_string())
}

/// The plain (uncompressed) V2 encoding of `bytes`, once every declared length has been
/// found to fit in what is there; an error naming the mismatch otherwise.
///
/// ```
/// use fbench_harness::hdr::checked_v2;
/// // A compressed encoding (cookie 0x1c849314) that declares a 2 GB payload in 8 bytes:
/// let hostile = [0x1c, 0x84, 0x93, 0x14, 0x7f, 0xff, 0xff, 0xff];
/// let err = checked_v2(&hostile).unwrap_err();
/// assert!(err.contains("declares 2147483647 compressed bytes but holds 0"), "{err}");
/// ```
pub fn checked_v2(bytes: &[u8]) -> Result<Cow<'_, [u8]>, String> {
    let plain = match word(bytes, 0)? {
        V2_COOKIE => Cow::Borrowed(bytes),
        V2_COMPRESSED_COOKIE => {
            let declared = word(bytes, 4)? as usize;
            let body = &bytes[8..];
            if declared > body.len() {
                return Err(format!(
                    "histogram declares {declared} compressed bytes but holds {}",
                    body.len()
                ));
            }
            let mut inflated = Vec::new();
            ZlibDecoder::new(&body[..declared])
                .take(MAX_HISTOGRAM_BYTES as u64 + 1)
                .read_to_end(&mut inflated)
                .map_err(|e| format!("histogram does not inflate: {e}"))?;
            if inflated.len() > MAX_HISTOGRAM_BYTES {
                return Err(format!(
                    "histogram inflates past {MAX_HISTOGRAM_BYTES} bytes"
                ));
            }
            if word(&inflated, 0)? != V2_COOKIE {
                return Err("histogram is not an HdrHistogram V2 encoding".to_string());
            }
            Cow::Owned(inflated)
        }
        _ => return Err("histogram is not an HdrHistogram V2 encoding".to_string()),
    };
    let payload = word(&plain, 4)? as usize;
    let held = plain.len().saturating_sub(V2_HEADER_BYTES);
    if plain.len() < V2_HEADER_BYTES || payload > held {
        return Err(format!(
            "histogram declares a {payload}-byte payload but holds {held}"
        ));
    }
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::serialization::{Serializer, V2DeflateSerializer, V2Serializer};
    use hdrhistogram::Histogram;

    fn histogram() -> Histogram<u64> {
        let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3).unwrap();
        for v in [1_000, 2_000, 50_000, 1_000_000] {
            h.record(v).unwrap();
        }
        h
    }

    #[test]
    fn honest_encodings_pass_and_decode_the_same() {
        let h = histogram();
        let mut plain = Vec::new();
        V2Serializer::new().serialize(&h, &mut plain).unwrap();
        let mut deflated = Vec::new();
        V2DeflateSerializer::new()
            .serialize(&h, &mut deflated)
            .unwrap();
        for bytes in [&plain, &deflated] {
            let checked = checked_v2(bytes).unwrap();
            let back: Histogram<u64> = hdrhistogram::serialization::Deserializer::new()
                .deserialize(&mut checked.as_ref())
                .unwrap();
            assert_eq!(back, h);
        }
    }

    #[test]
    fn declared_lengths_beyond_the_bytes_are_refused_before_allocating() {
        let h = histogram();
        let mut plain = Vec::new();
        V2Serializer::new().serialize(&h, &mut plain).unwrap();
        // The plain payload length claims 0x7fffffff bytes.
        let mut lying = plain.clone();
        lying[4..8].copy_from_slice(&0x7fff_ffffu32.to_be_bytes());
        let err = checked_v2(&lying).unwrap_err();
        assert!(err.contains("declares a 2147483647-byte payload"), "{err}");
        // The same lie inside a compressed encoding.
        let mut inner = Vec::new();
        {
            use std::io::Write;
            let mut z = flate2::write::ZlibEncoder::new(&mut inner, flate2::Compression::default());
            z.write_all(&lying).unwrap();
            z.finish().unwrap();
        }
        let mut outer = V2_COMPRESSED_COOKIE.to_be_bytes().to_vec();
        outer.extend_from_slice(&(inner.len() as u32).to_be_bytes());
        outer.extend_from_slice(&inner);
        let err = checked_v2(&outer).unwrap_err();
        assert!(err.contains("declares a 2147483647-byte payload"), "{err}");
        // Cut short, unknown cookie, garbage compressed body.
        assert!(checked_v2(&plain[..10]).is_err());
        assert!(checked_v2(b"not a histogram").is_err());
        let mut garbage = V2_COMPRESSED_COOKIE.to_be_bytes().to_vec();
        garbage.extend_from_slice(&4u32.to_be_bytes());
        garbage.extend_from_slice(b"junk");
        assert!(checked_v2(&garbage).is_err());
    }

    #[test]
    fn a_compressed_bomb_stops_at_the_bound() {
        let zeros = vec![0u8; MAX_HISTOGRAM_BYTES + 1024];
        let mut inner = Vec::new();
        {
            use std::io::Write;
            let mut z = flate2::write::ZlibEncoder::new(&mut inner, flate2::Compression::best());
            z.write_all(&V2_COOKIE.to_be_bytes()).unwrap();
            z.write_all(&zeros).unwrap();
            z.finish().unwrap();
        }
        let mut outer = V2_COMPRESSED_COOKIE.to_be_bytes().to_vec();
        outer.extend_from_slice(&(inner.len() as u32).to_be_bytes());
        outer.extend_from_slice(&inner);
        let err = checked_v2(&outer).unwrap_err();
        assert!(err.contains("inflates past"), "{err}");
    }
}
