//! `cargo bench`: what each strategy's primitive operations cost without the harness
//! around them, grouped by contention regime as `triple_buffer`'s benches are:
//!
//! * `uncontended-publish`: the producer publishes, nobody reads;
//! * `uncontended-acquire`: one reader acquires and releases the latest frame, nobody else
//!   runs;
//! * `read-contended-acquire`: the same while K other readers acquire in a loop
//!   (K = logical CPUs - 1, at least 1, at most 7, and part of the benchmark's name);
//! * `write-contended-acquire`: the same while the producer publishes as fast as it can;
//! * `harness-overhead`: what fbench's consumer loop adds per frame per consumer (clock
//!   reads, histogram records, verification).
//!
//! Every group runs at 640x480 and 1920x1080 rgb24 for every strategy in
//! `StrategyKind::ALL` (a new strategy is benched as soon as it is in that list) and has a
//! `memcpy` row: a plain copy of the same frame under the same kind of background load, the
//! reference the others read against. Throughput is in frame bytes, so copy costs read as
//! bandwidth (and a zero-copy acquire as a very large one).
//!
//! A publish here renders by stamping the frame (one write per 4 KiB page) and nothing
//! else, so a freshly allocated frame pays for its page faults, as in a run.
//!
//! Short run: `cargo bench -- --quick`, or `cargo bench -- --warm-up-time 1
//! --measurement-time 2`; one group: `cargo bench -- read-contended`.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, Throughput,
};

use fbench_harness::clock::monotonic_ns;
use fbench_harness::integrity::{self, VerifyMode};
use fbench_harness::metrics::Latency;
use fbench_strategies::{
    FrameMeta, FrameView, Publish, Reader, Strategy, StrategyKind, StrategyParams, WithStrategy,
};

/// The frame sizes every group runs at (rgb24).
const FRAMES: [(u32, u32); 2] = [(640, 480), (1920, 1080)];

struct Frame {
    label: String,
    len: usize,
}

impl Frame {
    fn all() -> Vec<Frame> {
        FRAMES
            .iter()
            .map(|&(width, height)| Frame {
                label: format!("{width}x{height}"),
                len: width as usize * height as usize * 3,
            })
            .collect()
    }
}

/// Readers contending with the measured one: one per other CPU, so contention is real
/// rather than time-slicing, within reason on big machines.
fn contending_readers() -> usize {
    let cpus = thread::available_parallelism().map_or(2, |n| n.get());
    (cpus - 1).clamp(1, 7)
}

/// What runs beside the measured thread.
#[derive(Clone, Copy, Debug)]
enum Background {
    Nothing,
    /// This many readers acquiring (or, for `memcpy`, copying the frame) in a loop.
    Readers(usize),
    /// The producer publishing (or, for `memcpy`, writing a frame) in a loop.
    Producer,
}

impl Background {
    fn parameter(self, frame: &Frame) -> String {
        match self {
            Background::Readers(k) => format!("{}/k{k}", frame.label),
            _ => frame.label.clone(),
        }
    }
}

/// One strategy in one regime.
struct Case<'a, 'c> {
    group: &'a mut BenchmarkGroup<'c, WallTime>,
    frame: &'a Frame,
    /// `None`: the publish benchmark; otherwise acquire under this background.
    acquire_under: Option<Background>,
}

impl WithStrategy for Case<'_, '_> {
    type Output = ();

    fn run<S: Strategy>(self, strategy: Arc<S>) {
        match self.acquire_under {
            None => publish_alone(self.group, self.frame, &*strategy),
            Some(background) => acquire(self.group, self.frame, strategy, background),
        }
    }
}

/// Publish frame `seq`, rendering only its stamps.
fn publish_frame<S: Strategy>(strategy: &S, seq: u64) -> Publish {
    strategy.publish(|frame: &mut [u8]| {
        integrity::stamp(frame, seq);
        FrameMeta {
            seq,
            ..FrameMeta::default()
        }
    })
}

fn publish_alone<S: Strategy>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    frame: &Frame,
    strategy: &S,
) {
    let mut seq = 0;
    group.bench_function(BenchmarkId::new(strategy.name(), &frame.label), |b| {
        b.iter(|| {
            seq += 1;
            black_box(publish_frame(strategy, seq))
        })
    });
}

fn acquire<S: Strategy>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    frame: &Frame,
    strategy: Arc<S>,
    background: Background,
) {
    publish_frame(&*strategy, 1);
    let stop = AtomicBool::new(false);
    let id = BenchmarkId::new(strategy.name(), background.parameter(frame));
    thread::scope(|scope| {
        let stop = &stop;
        match background {
            Background::Nothing => {}
            Background::Readers(k) => {
                for _ in 0..k {
                    let mut reader = strategy.clone().reader();
                    scope.spawn(move || {
                        // Relaxed: a stop flag; nothing is published through it.
                        while !stop.load(Ordering::Relaxed) {
                            if let Some(held) = reader.acquire() {
                                black_box(held.meta().publish_seq);
                            }
                        }
                    });
                }
            }
            Background::Producer => {
                // The only publisher while it runs: the first frame was published before.
                let strategy = &strategy;
                scope.spawn(move || {
                    let mut seq = 2;
                    while !stop.load(Ordering::Relaxed) {
                        publish_frame(&**strategy, seq);
                        seq += 1;
                    }
                });
            }
        }
        let mut reader = strategy.clone().reader();
        group.bench_function(id, |b| {
            b.iter(|| {
                let held = reader.acquire().expect("a frame was published first");
                black_box(held.meta().publish_seq);
            })
        });
        // Relaxed: a stop flag (see the loops that read it).
        stop.store(true, Ordering::Relaxed);
    });
}

/// The reference row: copy the frame under the same kind of background load. Readers copy
/// the same source frame into their own buffers; the producer writes a frame of its own
/// (safe Rust cannot copy from a buffer while another thread writes it, and the memory
/// traffic is the same).
fn memcpy(group: &mut BenchmarkGroup<'_, WallTime>, frame: &Frame, background: Background) {
    let source = vec![0x5au8; frame.len];
    let mut destination = vec![0xa5u8; frame.len];
    let stop = AtomicBool::new(false);
    thread::scope(|scope| {
        let (stop, source) = (&stop, &source);
        let loaders = match background {
            Background::Nothing => 0,
            Background::Readers(k) => k,
            Background::Producer => 1,
        };
        for _ in 0..loaders {
            let mut own = vec![0u8; frame.len];
            scope.spawn(move || {
                let mut seq = 0u64;
                // Relaxed: a stop flag; nothing is published through it.
                while !stop.load(Ordering::Relaxed) {
                    match background {
                        Background::Producer => {
                            seq += 1;
                            own.fill(seq as u8);
                        }
                        _ => own.copy_from_slice(source),
                    }
                    black_box(&mut own);
                }
            });
        }
        group.bench_function(
            BenchmarkId::new("memcpy", background.parameter(frame)),
            |b| b.iter(|| black_box(&mut destination[..]).copy_from_slice(black_box(&source[..]))),
        );
        // Relaxed: a stop flag (see the loops that read it).
        stop.store(true, Ordering::Relaxed);
    });
}

/// Run `background`'s acquire (or the publish, for `None`) for every strategy and the
/// memcpy reference, at every frame size.
fn regime(c: &mut Criterion, name: &str, acquire_under: Option<Background>) {
    let mut group = c.benchmark_group(name);
    for frame in Frame::all() {
        group.throughput(Throughput::Bytes(frame.len as u64));
        memcpy(
            &mut group,
            &frame,
            acquire_under.unwrap_or(Background::Nothing),
        );
        let params = StrategyParams::new(frame.len, 1 + contending_readers());
        for kind in StrategyKind::ALL {
            kind.build(
                &params,
                Case {
                    group: &mut group,
                    frame: &frame,
                    acquire_under,
                },
            )
            // shm is benched through its in-process stand-in: the same protocol over
            // ordinary memory, without process start-up in the way.
            .expect("the in-process strategies allocate ordinary memory");
        }
    }
    group.finish();
}

fn uncontended(c: &mut Criterion) {
    regime(c, "uncontended-publish", None);
    regime(c, "uncontended-acquire", Some(Background::Nothing));
}

fn read_contended(c: &mut Criterion) {
    regime(
        c,
        "read-contended-acquire",
        Some(Background::Readers(contending_readers())),
    );
}

fn write_contended(c: &mut Criterion) {
    regime(c, "write-contended-acquire", Some(Background::Producer));
}

/// What the runner's consumer loop adds to one frame for one consumer, part by part (the
/// counts are those `fbench calibrate` uses), with the frame copy as the reference.
fn harness_overhead(c: &mut Criterion) {
    use fbench_harness::calibrate::{
        CLOCK_READS_PER_FRAME, RECORDS_PER_FRAME, VERIFICATIONS_PER_FRAME,
    };
    let mut group = c.benchmark_group("harness-overhead");
    for frame in Frame::all() {
        group.throughput(Throughput::Bytes(frame.len as u64));
        memcpy(&mut group, &frame, Background::Nothing);
        group.bench_function(BenchmarkId::new("clock-reads", &frame.label), |b| {
            b.iter(|| {
                for _ in 0..CLOCK_READS_PER_FRAME {
                    black_box(monotonic_ns());
                }
            })
        });
        let mut histograms: Vec<Latency> = (0..RECORDS_PER_FRAME).map(|_| Latency::new()).collect();
        let mut value = 1_000u64;
        group.bench_function(BenchmarkId::new("histogram-records", &frame.label), |b| {
            b.iter(|| {
                for histogram in &mut histograms {
                    // Values wander over 1 µs to 16 ms, landing in many buckets as real ones do.
                    value = (value * 7 + 13) % 16_000_000 + 1_000;
                    histogram.record(black_box(value));
                }
            })
        });
        let seq = 7;
        let mut bytes = vec![0x11u8; frame.len];
        integrity::stamp(&mut bytes, seq);
        let meta = FrameMeta {
            seq,
            checksum: integrity::checksum(&bytes),
            ..FrameMeta::default()
        };
        for mode in [VerifyMode::Stamps, VerifyMode::Full] {
            let name = format!("verify-{}", mode.name());
            group.bench_function(BenchmarkId::new(name, &frame.label), |b| {
                b.iter(|| {
                    for _ in 0..VERIFICATIONS_PER_FRAME {
                        assert!(integrity::verify(black_box(&bytes), &meta, mode));
                    }
                })
            });
        }
    }
    group.finish();
}

/// The same allocator setting as the fbench binary (see `fixed_mmap_threshold` there), so
/// freshly allocated frames cost here what they cost in a run.
fn fixed_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning, and M_MMAP_THRESHOLD with a positive
    // value is a documented, valid setting; it runs before the benchmarks start threads.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}

fn config() -> Criterion {
    fixed_mmap_threshold();
    // About four seconds per row by default; the command line overrides both.
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = uncontended, read_contended, write_contended, harness_overhead
}
criterion_main!(benches);
