//! `--source` from the command line: Y4M files the tests write themselves play with their own
//! geometry, format, rate and frame count in the report; every bad file or source gets one
//! line naming `--source` (or the flag at fault) and what is wrong, exit code 2, no output.

use std::path::{Path, PathBuf};

use serde_json::Value;

mod common;
use common::fbench;

/// [`common::refused`] for `fbench run <args>`.
fn refused(args: &[&str], flag: &str, accepted: &str) -> String {
    common::refused(&[&["run"], args].concat(), flag, accepted)
}

/// A Y4M stream: `header` (without newline), then `frames` frames of `frame_len` bytes, each
/// with the given FRAME parameters.
fn y4m(header: &str, frame_len: usize, frames: usize, frame_params: &str) -> Vec<u8> {
    let mut bytes = format!("{header}\n").into_bytes();
    for i in 0..frames {
        bytes.extend_from_slice(format!("FRAME{frame_params}\n").as_bytes());
        bytes.extend((0..frame_len).map(|b| (b + i * 7) as u8));
    }
    bytes
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn source_arg(path: &Path) -> String {
    format!("y4m:{}", path.display())
}

/// Run a short y4m run and return the report's runs.
fn run_y4m(path: &Path, strategies: &str, extra: &[&str]) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let output = fbench()
        .args([
            "run",
            "--source",
            &source_arg(path),
            "--strategy",
            strategies,
            "--no-ideal",
        ])
        .args([
            "--consumers",
            "2",
            "--duration",
            "200ms",
            "--warmup",
            "50ms",
        ])
        .args(extra)
        .arg("--quiet")
        .arg("--json")
        .arg(&report)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.starts_with("source: "), "{stdout}");
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    json["runs"].as_array().unwrap().clone()
}

#[test]
fn every_colour_space_plays_with_the_file_s_own_geometry_rate_and_frame_count() {
    let dir = tempfile::tempdir().unwrap();
    // (header, pixel format in the report, frame bytes, frames in the file)
    let cases = [
        ("W64 H48 F50:1", "i420", 64 * 48 * 3 / 2, 5), // no C: 420jpeg
        (
            "W64 H48 F50:1 C420jpeg Ip A1:1 XYSCSS=420JPEG",
            "i420",
            64 * 48 * 3 / 2,
            3,
        ),
        ("W33 H17 F60:1 C420paldv", "i420", 33 * 17 + 2 * 17 * 9, 4),
        (
            "W32 H32 F100:2 C420mpeg2 It A10:11",
            "i420",
            32 * 32 * 3 / 2,
            2,
        ),
        (
            "W32 H16 F50:1 C420 XCOLORRANGE=LIMITED",
            "i420",
            32 * 16 * 3 / 2,
            6,
        ),
        (
            "W40 H20 F30000:1001 C422 Zunknown",
            "yuv422p",
            40 * 20 * 2,
            3,
        ),
        ("W24 H24 F50:1 C444 Im", "yuv444p", 24 * 24 * 3, 2),
        ("W50 H30 F50:1 Cmono A0:0", "gray", 50 * 30, 7),
    ];
    for (i, (params, format, frame_len, frames)) in cases.into_iter().enumerate() {
        let frame_params = if i % 2 == 0 { "" } else { " Ib XFRAME=1" };
        let bytes = y4m(
            &format!("YUV4MPEG2 {params}"),
            frame_len,
            frames,
            frame_params,
        );
        let path = write(dir.path(), &format!("clip{i}.y4m"), &bytes);
        let runs = run_y4m(&path, "mutex,pool", &[]);
        assert_eq!(runs.len(), 2);
        for run in &runs {
            let config = &run["config"];
            let (w, h) = {
                let dims: Vec<u64> = params
                    .split(' ')
                    .take(2)
                    .map(|p| p[1..].parse().unwrap())
                    .collect();
                (dims[0], dims[1])
            };
            assert_eq!(config["source"], source_arg(&path), "{params}");
            assert_eq!(config["width"].as_u64(), Some(w), "{params}");
            assert_eq!(config["height"].as_u64(), Some(h), "{params}");
            assert_eq!(config["format"], format, "{params}");
            assert_eq!(config["frame_bytes"].as_u64(), Some(frame_len as u64));
            assert_eq!(
                config["source_detail"]["frames"].as_u64(),
                Some(frames as u64)
            );
            let rate = params.split(' ').nth(2).unwrap()[1..].to_string();
            assert_eq!(config["source_detail"]["native_fps"], rate.as_str());
            let (n, d) = rate.split_once(':').unwrap();
            let fps = n.parse::<f64>().unwrap() / d.parse::<f64>().unwrap();
            assert!(
                (config["fps"].as_f64().unwrap() - fps).abs() < 1e-9,
                "{params}"
            );
            assert_eq!(run["torn_frames"], 0, "{params}");
            assert!(run["age_ns"]["count"].as_u64().unwrap() > 0, "{params}");
        }
    }
}

#[test]
fn the_clip_loops_and_fps_overrides_the_file_s_rate() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "two.y4m",
        &y4m("YUV4MPEG2 W16 H16 F1:1 Cmono", 256, 2, ""),
    );
    // 2 frames at 200 fps for 200 ms: the clip plays about 20 times over.
    let runs = run_y4m(&path, "arcswap", &["--fps", "200", "--verify", "full"]);
    let run = &runs[0];
    assert_eq!(run["config"]["fps"].as_f64(), Some(200.0));
    assert_eq!(run["config"]["source_detail"]["native_fps"], "1:1");
    assert!(run["frames"]["published"].as_u64().unwrap() > 2, "{run}");
    assert_eq!(run["torn_frames"], 0);
    assert_eq!(run["frames"]["source_drops"], 0);
}

#[test]
fn a_missing_file() {
    refused(
        &["--source", "y4m:/no/such/clip.y4m"],
        "--source: /no/such/clip.y4m",
        "No such file",
    );
}

#[test]
fn a_file_that_is_not_y4m() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "clip.mp4",
        b"\x00\x00\x00\x18ftypmp42 not y4m at all",
    );
    refused(
        &["--source", &source_arg(&path)],
        "--source",
        "not a Y4M file: it does not start with YUV4MPEG2",
    );
    let empty = write(dir.path(), "empty.y4m", b"");
    refused(
        &["--source", &source_arg(&empty)],
        "--source",
        "not a Y4M file",
    );
    refused(
        &["--source", &source_arg(dir.path())],
        "--source",
        "cannot read it",
    );
}

#[test]
fn a_truncated_frame() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = y4m("YUV4MPEG2 W16 H16 F25:1 C444", 768, 3, "");
    bytes.truncate(bytes.len() - 100);
    let path = write(dir.path(), "cut.y4m", &bytes);
    refused(
        &["--source", &source_arg(&path)],
        "--source",
        "frame 3 is truncated: the file ends 668 bytes into its 768-byte payload",
    );
    let header_only = write(dir.path(), "header.y4m", b"YUV4MPEG2 W16 H16 F25:1\n");
    refused(
        &["--source", &source_arg(&header_only)],
        "--source",
        "no frames after the stream header",
    );
    let mut junk = y4m("YUV4MPEG2 W16 H16 F25:1 Cmono", 256, 1, "");
    junk.extend_from_slice(b"trailing junk\n");
    let path = write(dir.path(), "junk.y4m", &junk);
    refused(
        &["--source", &source_arg(&path)],
        "--source",
        "frame 2 does not start with FRAME",
    );
}

#[test]
fn zero_or_absurd_geometry() {
    let dir = tempfile::tempdir().unwrap();
    for (name, header) in [
        ("zero.y4m", "YUV4MPEG2 W0 H0 F25:1"),
        ("tiny.y4m", "YUV4MPEG2 W8 H8 F25:1"),
        ("wide.y4m", "YUV4MPEG2 W100000 H16 F25:1"),
        ("huge.y4m", "YUV4MPEG2 W16 H99999999999999999999999 F25:1"),
    ] {
        let path = write(dir.path(), name, &y4m(header, 64, 1, ""));
        refused(
            &["--source", &source_arg(&path)],
            "--source",
            "each side must be between 16 and 65536 pixels",
        );
    }
    let path = write(
        dir.path(),
        "nowidth.y4m",
        &y4m("YUV4MPEG2 H16 F25:1", 64, 1, ""),
    );
    refused(
        &["--source", &source_arg(&path)],
        "--source",
        "no width (W)",
    );
    let path = write(dir.path(), "neg.y4m", &y4m("YUV4MPEG2 W-16 H16", 64, 1, ""));
    refused(
        &["--source", &source_arg(&path)],
        "--source",
        "W parameter '-16' is not valid; expected a whole number of pixels",
    );
}

#[test]
fn an_unsupported_colour_space() {
    let dir = tempfile::tempdir().unwrap();
    for colour in ["420p10", "444alpha", "411"] {
        let header = format!("YUV4MPEG2 W16 H16 F25:1 C{colour}");
        let path = write(dir.path(), "deep.y4m", &y4m(&header, 768, 1, ""));
        refused(
            &["--source", &source_arg(&path)],
            "--source",
            &format!(
                "colour space C{colour} is not supported; accepted: 420jpeg, 420paldv, 420mpeg2, 420, 422, 444, mono"
            ),
        );
    }
}

#[test]
fn a_file_without_a_frame_rate_needs_fps() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "norate.y4m",
        &y4m("YUV4MPEG2 W16 H16 F0:0 Cmono", 256, 2, ""),
    );
    refused(
        &["--source", &source_arg(&path)],
        "--source",
        "gives no frame rate (F absent or 0:0); give one with --fps",
    );
    let runs = run_y4m(&path, "rwlock", &["--fps", "100"]);
    assert_eq!(runs[0]["config"]["fps"].as_f64(), Some(100.0));
    assert!(runs[0]["config"]["source_detail"]["native_fps"].is_null());
    let path = write(
        dir.path(),
        "badrate.y4m",
        &y4m("YUV4MPEG2 W16 H16 F25:0", 384, 1, ""),
    );
    refused(
        &["--source", &source_arg(&path)],
        "--source",
        "F parameter '25:0' is not valid",
    );
}

#[test]
fn a_file_larger_than_the_memory_cap() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "long.y4m",
        &y4m("YUV4MPEG2 W64 H64 F25:1 C444", 64 * 64 * 3, 40, ""),
    );
    let line = refused(
        &["--source", &source_arg(&path), "--source-memory", "100kB"],
        "--source",
        "raise --source-memory or use a shorter clip",
    );
    assert!(line.contains("40 frames of 12.3 kB"), "{line}");
    assert!(line.contains("more than the 100.0 kB limit"), "{line}");
    refused(
        &["--source-memory", "lots"],
        "--source-memory",
        "accepted: a size with a unit",
    );
}

#[test]
fn geometry_and_format_flags_cannot_contradict_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "clip.y4m",
        &y4m("YUV4MPEG2 W32 H16 F25:1 C422", 32 * 16 * 2, 1, ""),
    );
    refused(
        &["--source", &source_arg(&path), "--resolution", "720p"],
        "--resolution",
        "takes its geometry from the file (32x16)",
    );
    refused(
        &["--source", &source_arg(&path), "--format", "rgb24"],
        "--format",
        "takes its format from the file (yuv422p, from C422)",
    );
    // Saying what the file says is fine.
    let runs = run_y4m(
        &path,
        "pool",
        &["--resolution", "32x16", "--format", "yuv422p"],
    );
    assert_eq!(runs[0]["config"]["format"], "yuv422p");
}

#[test]
fn unknown_source_syntax() {
    for bad in ["camera", "y4m:", "file:clip.y4m"] {
        refused(
            &["--source", bad],
            "--source",
            "accepted: synthetic, camera-sim, y4m:PATH, v4l2:/dev/videoN",
        );
    }
}

#[cfg(not(feature = "v4l2"))]
#[test]
fn v4l2_without_the_feature_says_how_to_build_it() {
    refused(
        &["--source", "v4l2:/dev/video0"],
        "--source",
        "built without V4L2 camera support; rebuild with `cargo build --release --features v4l2`",
    );
}

#[cfg(feature = "v4l2")]
#[test]
fn v4l2_without_a_device_names_it() {
    refused(
        &["--source", "v4l2:/dev/video-fbench-none"],
        "--source: /dev/video-fbench-none",
        "no such device; `fbench list sources` shows the cameras found",
    );
    let dir = tempfile::tempdir().unwrap();
    let not_a_camera = write(dir.path(), "video0", b"plain file");
    refused(
        &["--source", &format!("v4l2:{}", not_a_camera.display())],
        "--source",
        "not a V4L2 device",
    );
}

#[test]
fn list_sources_names_every_kind() {
    let output = fbench().args(["list", "sources"]).output().unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.lines().any(|l| l.starts_with("synthetic ")),
        "{stdout}"
    );
    assert!(
        stdout.lines().any(|l| l.starts_with("y4m:PATH ")),
        "{stdout}"
    );
    assert!(stdout.lines().any(|l| l.starts_with("v4l2:")), "{stdout}");
    assert!(
        stdout.lines().any(|l| l.starts_with("camera-sim ")),
        "{stdout}"
    );
    if cfg!(not(feature = "v4l2")) {
        assert!(stdout.contains("rebuild with --features v4l2"), "{stdout}");
    }
}

/// A live source feeds every kind of consumer host: the simulated camera paces the run and
/// its driver's dropped frames show as `source_drops`, which only the camera path counts —
/// for the process runner (`shm`) as for threads (`pool`).
#[test]
fn a_camera_feeds_thread_and_process_runs_alike() {
    let report = common::report_of(&[
        "run",
        "--source",
        "camera-sim",
        "--strategy",
        "pool,shm",
        "--resolution",
        "64x48",
        "--fps",
        "200",
        "--consumers",
        "2",
        "--duration",
        "1s",
        "--warmup",
        "100ms",
    ]);
    for run in report["runs"].as_array().unwrap() {
        let name = run["strategy"].as_str().unwrap();
        assert_eq!(run["config"]["source"], "camera-sim", "{name}");
        let frames = &run["frames"];
        let drops = frames["source_drops"].as_u64().unwrap();
        let produced = frames["produced"].as_u64().unwrap();
        assert!(
            drops > 0,
            "{name}: the camera path counted no driver drop: {frames}"
        );
        assert!(produced > 0, "{name}: {frames}");
        // Every tenth frame is lost by the simulated driver.
        assert!(produced >= 8 * drops, "{name}: {frames}");
        assert_eq!(
            frames["due"].as_u64().unwrap(),
            produced + drops,
            "{name}: {frames}"
        );
        assert_eq!(run["torn_frames"], 0, "{name}");
        for consumer in run["per_consumer"].as_array().unwrap() {
            assert!(
                consumer["frames_seen"].as_u64().unwrap() > 0,
                "{name}: {consumer}"
            );
        }
    }
}

/// Two Y4M files feed two streams (`--source y4m:a,y4m:b --streams 2`), each stream its own
/// file; a third file of another geometry is refused in one line naming it.
#[test]
fn two_files_feed_two_streams_and_a_third_geometry_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(
        dir.path(),
        "a.y4m",
        &y4m("YUV4MPEG2 W16 H16 F30:1 Cmono", 256, 3, ""),
    );
    let b = write(
        dir.path(),
        "b.y4m",
        &y4m("YUV4MPEG2 W16 H16 F30:1 Cmono", 256, 5, ""),
    );
    let both = format!("{},{}", source_arg(&a), source_arg(&b));
    let runs = run_y4m(
        &a,
        "pool",
        &[
            "--source",
            &source_arg(&b),
            "--streams",
            "2",
            "--verify",
            "full",
        ],
    );
    let run = &runs[0];
    let sources: Vec<String> = run["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["source"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(sources, [source_arg(&a), source_arg(&b)]);
    assert_eq!(run["torn_frames"], 0);
    let c = write(
        dir.path(),
        "c.y4m",
        &y4m("YUV4MPEG2 W32 H16 F30:1 Cmono", 512, 2, ""),
    );
    refused(
        &[
            "--source",
            &format!("{both},{}", source_arg(&c)),
            "--streams",
            "3",
        ],
        "c.y4m",
        "one geometry",
    );
}
