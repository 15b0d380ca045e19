//! The Y4M parser never panics and never allocates past its limit, whatever it is fed:
//! arbitrary bytes, headers assembled from valid and invalid parameters, and valid files
//! with bytes flipped, inserted or cut.

use fbench_harness::frame::Resolution;
use fbench_harness::source::y4m::{parse_stream_header, Y4mClip, Y4mError, MAX_HEADER_LEN};
use proptest::prelude::*;

/// Small enough that no input can make the parser hold much memory.
const LIMIT: u64 = 1 << 20;

fn parameter() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..100_000).prop_map(|w| format!("W{w}")),
        (0u64..100_000).prop_map(|h| format!("H{h}")),
        Just("W18446744073709551616".to_string()),
        Just("H-1".to_string()),
        (0u32..100_000, 0u32..2_000).prop_map(|(n, d)| format!("F{n}:{d}")),
        Just("F30000:1001".to_string()),
        Just("F:".to_string()),
        Just("F1:99999999999".to_string()),
        prop::sample::select(vec![
            "C420jpeg",
            "C420paldv",
            "C420mpeg2",
            "C420",
            "C422",
            "C444",
            "Cmono",
            "C420p10",
            "C444alpha",
            "C",
            "C411",
        ])
        .prop_map(str::to_string),
        prop::sample::select(vec!["Ip", "It", "Ib", "Im", "I?", "I"]).prop_map(str::to_string),
        (0u32..100, 0u32..100).prop_map(|(n, d)| format!("A{n}:{d}")),
        "X[ -~]{0,20}".prop_map(|x| x.replace(' ', "_")),
        "[a-zA-Z][!-~]{0,8}",
        Just(String::new()),
    ]
}

/// A stream from a header and a frame count, with the payload sized from the header when
/// it parses, so many cases get as far as the frames.
fn stream_from(params: &[String], frames: usize, frame_params: &str) -> Vec<u8> {
    let header = format!("YUV4MPEG2 {}\n", params.join(" "));
    let frame_len = parse_stream_header(header.as_bytes())
        .ok()
        .and_then(|h| {
            let spec = h.frame_spec();
            spec.format
                .frame_len(spec.resolution.width, spec.resolution.height)
        })
        .filter(|&len| len <= 64 * 1024)
        .unwrap_or(300) as usize;
    let mut bytes = header.into_bytes();
    for i in 0..frames {
        bytes.extend_from_slice(format!("FRAME{frame_params}\n").as_bytes());
        bytes.extend(vec![i as u8; frame_len]);
    }
    bytes
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
}

fn mutate(bytes: &mut Vec<u8>, mutation: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    match *mutation {
        Mutation::Flip(at, mask) => {
            let at = at % bytes.len();
            bytes[at] ^= mask;
        }
        Mutation::Insert(at, byte) => {
            let at = at % (bytes.len() + 1);
            bytes.insert(at, byte);
        }
        Mutation::Remove(at) => {
            let at = at % bytes.len();
            bytes.remove(at);
        }
        Mutation::Truncate(at) => bytes.truncate(at % bytes.len()),
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..).prop_map(|(a, m)| Mutation::Flip(a, m)),
        (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Mutation::Insert(a, b)),
        any::<usize>().prop_map(Mutation::Remove),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

/// What every outcome must satisfy: an error is one line; a clip is consistent and within
/// the limit.
fn check(bytes: &[u8], hint: bool) -> Result<(), TestCaseError> {
    let size = hint.then_some(bytes.len() as u64);
    match Y4mClip::read(bytes, LIMIT, size) {
        Ok(clip) => {
            let spec = clip.frame_spec();
            let frame = spec
                .format
                .frame_len(spec.resolution.width, spec.resolution.height)
                .unwrap();
            prop_assert!(clip.frame_count() > 0);
            prop_assert_eq!(clip.payload_bytes(), clip.frame_count() * frame);
            prop_assert!(clip.payload_bytes() <= LIMIT);
            prop_assert!(clip.payload_bytes() <= bytes.len() as u64);
            let side = Resolution::MIN_SIDE..=Resolution::MAX_SIDE;
            prop_assert!(side.contains(&spec.resolution.width));
            prop_assert!(side.contains(&spec.resolution.height));
            prop_assert_eq!(clip.frame(clip.frame_count() - 1).len() as u64, frame);
        }
        Err(err) => {
            let text = err.to_string();
            prop_assert!(!text.is_empty());
            prop_assert_eq!(text.lines().count(), 1, "{}", text);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048), hint: bool) {
        check(&bytes, hint)?;
    }

    #[test]
    fn arbitrary_bytes_after_the_magic_never_panic(
        tail in prop::collection::vec(any::<u8>(), 0..2048),
        hint: bool,
    ) {
        let bytes = [b"YUV4MPEG2 ".as_slice(), &tail].concat();
        check(&bytes, hint)?;
    }

    #[test]
    fn assembled_headers_parse_or_fail_cleanly(
        params in prop::collection::vec(parameter(), 0..8),
    ) {
        let line = format!("YUV4MPEG2 {}\n", params.join(" "));
        match parse_stream_header(line.as_bytes()) {
            Ok(header) => {
                let side = Resolution::MIN_SIDE..=Resolution::MAX_SIDE;
                prop_assert!(side.contains(&header.width) && side.contains(&header.height));
                if let Some(fps) = header.fps() {
                    prop_assert!(fps.is_finite() && fps > 0.0);
                }
            }
            Err(err) => prop_assert_eq!(err.to_string().lines().count(), 1),
        }
    }

    #[test]
    fn assembled_streams_never_panic(
        params in prop::collection::vec(parameter(), 0..8),
        frames in 0usize..4,
        frame_params in prop::sample::select(vec!["", " Ip", " XA=1 Ib", "  "]),
        hint: bool,
    ) {
        check(&stream_from(&params, frames, frame_params), hint)?;
    }

    #[test]
    fn mutated_valid_files_never_panic(
        colour in prop::sample::select(vec!["420jpeg", "420", "422", "444", "mono"]),
        width in 16u32..40,
        height in 16u32..40,
        frames in 1usize..4,
        mutations in prop::collection::vec(mutation(), 1..6),
        hint: bool,
    ) {
        let params = vec![
            format!("W{width}"),
            format!("H{height}"),
            "F25:1".to_string(),
            format!("C{colour}"),
        ];
        let mut bytes = stream_from(&params, frames, "");
        prop_assert!(Y4mClip::read(bytes.as_slice(), LIMIT, None).is_ok());
        for m in &mutations {
            mutate(&mut bytes, m);
        }
        check(&bytes, hint)?;
    }
}

#[test]
fn a_header_without_newline_is_bounded() {
    let mut bytes = b"YUV4MPEG2 W16 H16 X".to_vec();
    bytes.resize(10 * MAX_HEADER_LEN, b'a');
    assert_eq!(
        Y4mClip::read(bytes.as_slice(), LIMIT, None).unwrap_err(),
        Y4mError::HeaderTooLong
    );
}
