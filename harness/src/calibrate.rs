//! Calibration: the machine's own limits, measured in about a second before a run, so that a
//! report can say how close each strategy comes to what the hardware allows.
//!
//! Every figure is measured here, never estimated or looked up:
//!
//! * **memory copy**: the median time to copy one frame of the run's size, and the bandwidth
//!   that makes. The floor under any strategy whose readers copy the frame.
//! * **cache-line round trip**: two threads pinned to two CPUs pass one cache line back and
//!   forth with release stores and acquire loads. The floor under handing a zero-copy frame
//!   to a reader: the reader must at least see the line the producer wrote.
//! * **clock read**: one `CLOCK_MONOTONIC` read, which fbench does three times per frame per
//!   consumer.
//! * **wake latency**: from a waker's clock read just before it wakes a thread sleeping in
//!   the kernel to the woken thread's first clock read, p50 and p99, by raw futex (the
//!   kernel's floor, the `wake_*` figures) and by the `parking_lot` condition variable the
//!   strategies' blocking wait uses (`condvar_wake_*`). The floor under a blocked
//!   consumer's delivery age.
//!
//! And, in the run's regime (see [`regime`]): a **cold frame copy** (written by another
//! CPU, copied into a buffer in no cache), **wake-ups after one frame period** alone and
//! with all of the run's consumers asleep at once, and the **cache-line round trip over
//! CPU pairs chosen from the topology** (minimum and median, each pair named).
//!
//! It also measures the harness's own **overhead per frame per consumer**: the clock reads,
//! histogram records and verification that the runner's consumer loop does around every
//! frame. That is the floor under every latency fbench reports.
//!
//! Throughput figures are timed in batches long enough that the clock's own cost vanishes,
//! and the median batch is kept, so a batch interrupted by another process on a shared
//! machine does not move the figure. Calibration spins threads on two CPUs: it must never
//! run while a measured run is going on.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use fbench_strategies::FrameMeta;
use parking_lot::{Condvar, Mutex};
use serde::{Deserialize, Serialize};

use crate::clock::{monotonic_ns, sleep_until};
use crate::integrity::{self, VerifyMode};
use crate::metrics::Latency;

pub mod regime;
pub use regime::{CachelinePair, Regime};

/// What the runner's consumer loop does per frame, beyond the strategy and the workload:
/// clock reads before acquire, after acquire and after the workload; age, acquire and
/// end-to-end records; verification on acquire and before release. Keep in step with
/// `runner::consume`.
pub const CLOCK_READS_PER_FRAME: u32 = 3;
pub const RECORDS_PER_FRAME: u32 = 3;
pub const VERIFICATIONS_PER_FRAME: u32 = 2;

/// The machine's limits as a report carries them (`calibration` in the schema). Every field
/// is `null` when it was not measured: a report without calibration, a machine with one CPU
/// (no cache-line round trip between two cores), or an older report read back.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Calibration {
    /// Frame size the copy was measured at (the run's frame size).
    pub frame_bytes: Option<u64>,
    /// `frame_bytes` divided by `frame_copy_ns`.
    pub memcpy_bytes_per_s: Option<f64>,
    /// Median time to copy one frame with `copy_from_slice` (libc `memcpy`).
    pub frame_copy_ns: Option<f64>,
    /// Median round trip of one cache line between two CPUs: the median pair's median
    /// when several pairs were measured.
    pub cacheline_rtt_ns: Option<f64>,
    /// The two CPUs the round trip was measured between (`null`: the threads could not be
    /// pinned and the scheduler placed them).
    pub cacheline_cpus: Option<[usize; 2]>,
    /// The fastest round trip over every pair measured.
    pub cacheline_rtt_min_ns: Option<f64>,
    /// Every pair measured: one per relation the topology has (SMT siblings, same package,
    /// other package).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cacheline_pairs: Vec<CachelinePair>,
    /// Median time to copy one frame another CPU has just written into a buffer in no
    /// cache: a copying reader's real floor (`frame_copy_ns` is the cache-hot best case).
    pub frame_copy_cold_ns: Option<f64>,
    /// The CPUs `[writer, copier]` of the cold copy (`null`: not pinned).
    pub frame_copy_cold_cpus: Option<[usize; 2]>,
    /// Median cost of one CLOCK_MONOTONIC read.
    pub clock_read_ns: Option<f64>,
    /// Futex wake latency, p50 and p99: the kernel's floor under waking a blocked reader.
    pub wake_p50_ns: Option<u64>,
    pub wake_p99_ns: Option<u64>,
    /// The same through `parking_lot`'s condition variable, as the strategies wait.
    pub condvar_wake_p50_ns: Option<u64>,
    pub condvar_wake_p99_ns: Option<u64>,
    /// The frame period the regime's wake-ups slept, nanoseconds.
    pub wake_period_ns: Option<u64>,
    /// Futex wake latency of one sleeper after sleeping one frame period, p50 and p99, and
    /// the wake-ups timed.
    pub wake_after_period_p50_ns: Option<u64>,
    pub wake_after_period_p99_ns: Option<u64>,
    pub wake_after_period_samples: Option<u64>,
    /// Futex wake latency of each of `wake_all_sleepers` threads (the run's consumers)
    /// sleeping one frame period and woken by one wake of all, p50 and p99 over every
    /// sleeper's wake-ups, and their count.
    pub wake_all_sleepers: Option<usize>,
    pub wake_all_p50_ns: Option<u64>,
    pub wake_all_p99_ns: Option<u64>,
    pub wake_all_samples: Option<u64>,
    /// What fbench's own instrumentation costs per frame per consumer.
    pub harness_overhead: Option<HarnessOverhead>,
    /// How long calibrating took, milliseconds.
    pub took_ms: Option<u64>,
}

/// The instrumentation cost of one frame for one consumer, each part measured on its own.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HarnessOverhead {
    /// Verification mode the figure was measured with.
    pub verify: String,
    /// [`CLOCK_READS_PER_FRAME`] clock reads.
    pub clock_reads_ns: f64,
    /// [`RECORDS_PER_FRAME`] histogram records.
    pub histogram_records_ns: f64,
    /// [`VERIFICATIONS_PER_FRAME`] verifications of a frame already in cache.
    pub verification_ns: f64,
    /// The sum of the three.
    pub total_ns: f64,
}

/// How much time calibration may spend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Time spent on each batched figure (copy, clock, cache line, each overhead part).
    pub per_figure: Duration,
    /// Wake-ups timed for each wake-latency distribution.
    pub wake_samples: u32,
    /// Time for each wake measurement that sleeps a frame period per round.
    pub regime_time: Duration,
    /// Rounds of those whatever the time.
    pub min_rounds: u32,
}

impl Budget {
    /// What `fbench run` and `fbench calibrate` use: about two seconds in all at 30 fps
    /// (the regime's wake-ups sleep whole frame periods).
    pub const STANDARD: Budget = Budget {
        per_figure: Duration::from_millis(150),
        wake_samples: 1000,
        regime_time: Duration::from_millis(200),
        min_rounds: 6,
    };
    /// For tests: every figure still measured, in a fraction of the time.
    pub const QUICK: Budget = Budget {
        per_figure: Duration::from_millis(10),
        wake_samples: 50,
        regime_time: Duration::from_millis(10),
        min_rounds: 2,
    };
    /// `FBENCH_CALIBRATION`: `standard` (or unset), `quick` (tests: every figure, a
    /// fraction of the time) or `off` (no calibration). `Err` names what is accepted.
    pub fn from_env() -> Result<Option<Budget>, String> {
        match std::env::var("FBENCH_CALIBRATION").as_deref() {
            Err(_) | Ok("") | Ok("standard") => Ok(Some(Budget::STANDARD)),
            Ok("quick") => Ok(Some(Budget::QUICK)),
            Ok("off") => Ok(None),
            Ok(other) => Err(format!(
                "FBENCH_CALIBRATION='{other}' is not understood; accepted: standard, quick, off"
            )),
        }
    }
}

/// A batch shorter than this would be dominated by the two clock reads around it.
const MIN_BATCH_NS: u64 = 50_000;
/// Batches kept whatever the budget, so a median exists even for huge frames.
const MIN_BATCHES: usize = 3;
const MAX_BATCHES: usize = 10_000;
/// Time a waker leaves a sleeper to get into the kernel before waking it.
const SETTLE_NS: u64 = 50_000;

/// Measure everything for frames of `frame_len` bytes verified with `verify`, the
/// regime's figures at `regime`'s frame period and consumer count.
pub fn calibrate(
    frame_len: usize,
    verify: VerifyMode,
    regime: Regime,
    budget: Budget,
) -> Calibration {
    let started = monotonic_ns();
    // Between steps (each a fraction of a second): after Ctrl-C the run that follows is
    // abandoned anyway, so calibrating on would only delay the exit.
    macro_rules! unless_stopped {
        ($step:expr) => {{
            if crate::interrupt::requested() {
                return Calibration::default();
            }
            $step
        }};
    }
    let clock_read_ns = unless_stopped!(clock_read_ns(budget));
    let frame_copy_ns = unless_stopped!(frame_copy_ns(frame_len, budget));
    let (frame_copy_cold_ns, frame_copy_cold_cpus) =
        unless_stopped!(regime::frame_copy_cold_ns(frame_len, budget));
    let harness_overhead =
        unless_stopped!(harness_overhead(frame_len, verify, clock_read_ns, budget));
    let pairs = unless_stopped!(cacheline_pairs(budget));
    // The median pair (by its median) names the headline figure.
    let mut by_median: Vec<&CachelinePair> = pairs.iter().collect();
    by_median.sort_by(|a, b| a.median_ns.total_cmp(&b.median_ns));
    let median_pair = by_median
        .get(by_median.len().saturating_sub(1) / 2)
        .copied();
    let futex =
        unless_stopped!(wake_latency(&FutexChannel::default(), budget.wake_samples)).summary();
    let condvar = unless_stopped!(wake_latency(
        &CondvarChannel::default(),
        budget.wake_samples
    ))
    .summary();
    let rounds = regime::rounds_for(regime.period, budget);
    let after_period =
        unless_stopped!(regime::wake_all_latency(1, regime.period, rounds)).summary();
    let sleepers = regime.consumers.max(1);
    let all = unless_stopped!(regime::wake_all_latency(sleepers, regime.period, rounds)).summary();
    Calibration {
        frame_bytes: Some(frame_len as u64),
        memcpy_bytes_per_s: Some(frame_len as f64 / frame_copy_ns * 1e9),
        frame_copy_ns: Some(frame_copy_ns),
        cacheline_rtt_ns: median_pair.map(|p| p.median_ns),
        cacheline_cpus: median_pair.filter(|p| p.pinned).map(|p| p.cpus),
        cacheline_rtt_min_ns: pairs.iter().map(|p| p.min_ns).reduce(f64::min),
        cacheline_pairs: pairs.clone(),
        frame_copy_cold_ns: Some(frame_copy_cold_ns).filter(|ns| *ns > 0.0),
        frame_copy_cold_cpus,
        clock_read_ns: Some(clock_read_ns),
        wake_p50_ns: Some(futex.p50),
        wake_p99_ns: Some(futex.p99),
        condvar_wake_p50_ns: Some(condvar.p50),
        condvar_wake_p99_ns: Some(condvar.p99),
        wake_period_ns: Some(regime.period.as_nanos() as u64),
        wake_after_period_p50_ns: Some(after_period.p50),
        wake_after_period_p99_ns: Some(after_period.p99),
        wake_after_period_samples: Some(after_period.count),
        wake_all_sleepers: Some(sleepers),
        wake_all_p50_ns: Some(all.p50),
        wake_all_p99_ns: Some(all.p99),
        wake_all_samples: Some(all.count),
        harness_overhead: Some(harness_overhead),
        took_ms: Some((monotonic_ns() - started) / 1_000_000),
    }
}

/// Times `op` in batches of at least [`MIN_BATCH_NS`] for about `budget` and returns the
/// median time of one operation.
fn median_op_ns(budget: Duration, op: impl FnMut()) -> f64 {
    op_ns(budget, op).1
}

/// [`median_op_ns`], with the fastest batch's time per operation first.
fn op_ns(budget: Duration, mut op: impl FnMut()) -> (f64, f64) {
    let mut timed = |count: u64| {
        let start = monotonic_ns();
        for _ in 0..count {
            op();
        }
        monotonic_ns() - start
    };
    // The first batches double as warm-up (first touch of buffers, the other thread starting).
    let mut batch = 1u64;
    while timed(batch) < MIN_BATCH_NS && batch < 1 << 32 {
        batch *= 2;
    }
    let deadline = monotonic_ns() + budget.as_nanos() as u64;
    let mut per_op = Vec::new();
    while per_op.len() < MIN_BATCHES || (monotonic_ns() < deadline && per_op.len() < MAX_BATCHES) {
        per_op.push(timed(batch) as f64 / batch as f64);
    }
    per_op.sort_by(f64::total_cmp);
    (per_op[0], per_op[per_op.len() / 2])
}

fn clock_read_ns(budget: Budget) -> f64 {
    median_op_ns(budget.per_figure, || {
        black_box(monotonic_ns());
    })
}

fn frame_copy_ns(frame_len: usize, budget: Budget) -> f64 {
    // Filled, so every page is resident before timing starts.
    let source = vec![0x5au8; frame_len];
    let mut destination = vec![0xa5u8; frame_len];
    median_op_ns(budget.per_figure, || {
        black_box(&mut destination[..]).copy_from_slice(black_box(&source[..]));
    })
}

fn harness_overhead(
    frame_len: usize,
    verify: VerifyMode,
    clock_read_ns: f64,
    budget: Budget,
) -> HarnessOverhead {
    let mut histograms = [Latency::new(), Latency::new(), Latency::new()];
    // Values spread over 1 µs to 16 ms so records land in many buckets, as real ones do.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let histogram_records_ns = median_op_ns(budget.per_figure, || {
        for histogram in &mut histograms {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            histogram.record(1_000 + (state >> 50));
        }
    });
    black_box(&histograms);

    let seq = 7;
    let mut frame = vec![0x11u8; frame_len];
    integrity::stamp(&mut frame, seq);
    let meta = FrameMeta {
        seq,
        checksum: match verify {
            VerifyMode::Full => integrity::checksum(&frame),
            _ => 0,
        },
        ..FrameMeta::default()
    };
    let verification_ns = median_op_ns(budget.per_figure, || {
        for _ in 0..VERIFICATIONS_PER_FRAME {
            black_box(integrity::verify(black_box(&frame), &meta, verify));
        }
    });
    let clock_reads_ns = clock_read_ns * f64::from(CLOCK_READS_PER_FRAME);
    HarnessOverhead {
        verify: verify.name().to_string(),
        clock_reads_ns,
        histogram_records_ns,
        verification_ns,
        total_ns: clock_reads_ns + histogram_records_ns + verification_ns,
    }
}

/// One cache line, alone on its line (and its neighbour, which some CPUs prefetch as a pair).
#[repr(align(128))]
struct Line(AtomicU64);

/// Tells the responder to stop.
const STOP: u64 = u64::MAX;

/// The cache-line round trip over one CPU pair per relation the topology has (see
/// [`regime::topology_pairs`]), the time budget shared between them; empty on a machine
/// where this process may use only one CPU (two threads would take turns on it, and the
/// figure would be the scheduler's, not the cache's).
fn cacheline_pairs(budget: Budget) -> Vec<CachelinePair> {
    let pairs = regime::topology_pairs(&allowed_cpus());
    let share = budget.per_figure / pairs.len().max(1) as u32;
    pairs
        .into_iter()
        .map(|(cpus, relation)| {
            let ((min_ns, median_ns), pinned) = cacheline_rtt_ns(cpus, share);
            CachelinePair {
                cpus,
                relation: relation.to_string(),
                pinned,
                min_ns,
                median_ns,
            }
        })
        .collect()
}

/// Fastest and median cache-line round trip between the CPUs of `pair`, and whether both
/// threads could be pinned to them.
fn cacheline_rtt_ns(pair: [usize; 2], per_figure: Duration) -> ((f64, f64), bool) {
    let line = Line(AtomicU64::new(0));
    let pinned = [AtomicBool::new(false), AtomicBool::new(false)];
    let rtt = thread::scope(|scope| {
        let (line, pinned) = (&line, &pinned);
        scope.spawn(move || {
            // Relaxed: read after this scope joins the thread.
            pinned[1].store(pin_current_thread(pair[1]), Ordering::Relaxed);
            let mut expect = 1;
            loop {
                // Acquire/Release, like a real hand-off: on weakly ordered CPUs the barriers
                // are part of what passing a frame costs, and on x86 they are free.
                let value = line.0.load(Ordering::Acquire);
                if value == STOP {
                    return;
                }
                if value == expect {
                    line.0.store(expect + 1, Ordering::Release);
                    expect += 2;
                } else {
                    std::hint::spin_loop();
                }
            }
        });
        let initiator = scope.spawn(move || {
            // Relaxed: read after this scope joins the thread.
            pinned[0].store(pin_current_thread(pair[0]), Ordering::Relaxed);
            let mut value = 0;
            let rtt = op_ns(per_figure, || {
                value += 1;
                // Release/Acquire: as the responder's, for the same reason.
                line.0.store(value, Ordering::Release);
                value += 1;
                while line.0.load(Ordering::Acquire) != value {
                    std::hint::spin_loop();
                }
            });
            // Release: nothing depends on it but the responder seeing it, which any
            // ordering would give; kept like the other stores of the line.
            line.0.store(STOP, Ordering::Release);
            rtt
        });
        initiator
            .join()
            .expect("the cache-line initiator does not panic")
    });
    // Relaxed: both threads were joined by the scope, which orders their stores before this.
    let both_pinned = pinned.iter().all(|p| p.load(Ordering::Relaxed));
    (rtt, both_pinned)
}

/// The CPUs this process may run on, in order.
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: cpu_set_t is a plain bit array; all zeroes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, writable cpu_set_t of the size passed; pid 0 is this thread.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return Vec::new();
    }
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `cpu` is below CPU_SETSIZE, the number of bits in `set`.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect()
}

/// Pin the calling thread to `cpu`; false if the system refused.
fn pin_current_thread(cpu: usize) -> bool {
    // SAFETY: cpu_set_t is a plain bit array; all zeroes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` comes from `allowed_cpus`, so it is below CPU_SETSIZE.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a valid cpu_set_t of the size passed; pid 0 is the calling thread, so
    // only this calibration thread (which ends with calibration) changes affinity.
    unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0 }
}

/// A way to put a thread to sleep until round `round` is announced, and to announce it.
trait WakeChannel: Sync {
    /// Sleep until `wake(round)`. Stores `round` in `ready` once the waker may wake it.
    fn wait_for(&self, round: u32, ready: &AtomicU32);
    /// Wake the thread waiting for `round`.
    fn wake(&self, round: u32);
}

/// Time `samples` wake-ups: a sleeper thread waits for each round; the waker waits until
/// the sleeper is about to sleep, gives it [`SETTLE_NS`] to get into the kernel, reads the
/// clock and wakes it; the sleeper's first act is to read the clock.
fn wake_latency(channel: &impl WakeChannel, samples: u32) -> Latency {
    let ready = AtomicU32::new(0);
    let waking_at_ns = AtomicU64::new(0);
    thread::scope(|scope| {
        let (ready, waking_at_ns) = (&ready, &waking_at_ns);
        let sleeper = scope.spawn(move || {
            let mut latency = Latency::new();
            for round in 1..=samples {
                channel.wait_for(round, ready);
                let woken = monotonic_ns();
                // Relaxed: the waker stored its stamp before the wake, and the channel's
                // wake/wait pair (a Release store and an Acquire load, or the mutex) orders
                // that store before this load.
                let waking = waking_at_ns.load(Ordering::Relaxed);
                latency.record(woken.saturating_sub(waking));
            }
            latency
        });
        for round in 1..=samples {
            // Acquire: pairs with the sleeper's Release store of `ready`, so the sleeper has
            // finished the previous round before this one starts.
            while ready.load(Ordering::Acquire) != round {
                thread::yield_now();
            }
            sleep_until(monotonic_ns() + SETTLE_NS);
            // Relaxed: published to the sleeper by the channel's wake (see the sleeper).
            waking_at_ns.store(monotonic_ns(), Ordering::Relaxed);
            channel.wake(round);
        }
        sleeper
            .join()
            .expect("the wake-latency sleeper does not panic")
    })
}

/// Raw futex: one 32-bit word, FUTEX_WAIT / FUTEX_WAKE, nothing else.
#[derive(Default)]
struct FutexChannel {
    round: AtomicU32,
}

impl WakeChannel for FutexChannel {
    fn wait_for(&self, round: u32, ready: &AtomicU32) {
        // Release: the waker's Acquire load of `ready` sees this round's setup done.
        ready.store(round, Ordering::Release);
        // Acquire: pairs with the Release store in `wake`, ordering the waker's stamp
        // before our read of it.
        while self.round.load(Ordering::Acquire) != round {
            futex_wait(&self.round, round - 1);
        }
    }

    fn wake(&self, round: u32) {
        // Release: the stamp stored before this is visible to whoever sees the new round.
        self.round.store(round, Ordering::Release);
        futex_wake(&self.round);
    }
}

/// Sleep while `word` holds `expected` (returns at once if it does not, or on a signal).
fn futex_wait(word: &AtomicU32, expected: u32) {
    // SAFETY: `word` is a live, aligned 32-bit atomic for the whole call; FUTEX_WAIT with a
    // null timeout only reads it and blocks; the private flag is right because no other
    // process maps it.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            std::ptr::null::<libc::timespec>(),
        );
    }
}

/// Wake one thread sleeping on `word`.
fn futex_wake(word: &AtomicU32) {
    // SAFETY: `word` is a live, aligned 32-bit atomic; FUTEX_WAKE only uses its address as
    // a key and never dereferences it.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            1,
        );
    }
}

/// `--waker condvar`'s way: a `parking_lot` mutex and condition variable, notified under the
/// lock as `fbench_strategies::Notifier` does with that waker.
#[derive(Default)]
struct CondvarChannel {
    round: Mutex<u32>,
    wake: Condvar,
}

impl WakeChannel for CondvarChannel {
    fn wait_for(&self, round: u32, ready: &AtomicU32) {
        let mut current = self.round.lock();
        // Release: see FutexChannel. Stored under the lock, so the waker, which must take
        // the lock to wake us, can only do so once we are inside `wait`.
        ready.store(round, Ordering::Release);
        while *current != round {
            self.wake.wait(&mut current);
        }
    }

    fn wake(&self, round: u32) {
        let mut current = self.round.lock();
        *current = round;
        self.wake.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_figure_is_measured() {
        let frame_len = 640 * 480 * 3;
        let regime = Regime {
            period: Duration::from_millis(2),
            consumers: 3,
        };
        let calibration = calibrate(frame_len, VerifyMode::Stamps, regime, Budget::QUICK);
        assert_eq!(calibration.frame_bytes, Some(frame_len as u64));
        let positive = |name: &str, value: Option<f64>| {
            let value = value.unwrap_or_else(|| panic!("{name} measured"));
            assert!(value.is_finite() && value > 0.0, "{name} = {value}");
        };
        positive("memcpy_bytes_per_s", calibration.memcpy_bytes_per_s);
        positive("frame_copy_ns", calibration.frame_copy_ns);
        positive("clock_read_ns", calibration.clock_read_ns);
        positive("frame_copy_cold_ns", calibration.frame_copy_cold_ns);
        if allowed_cpus().len() >= 2 {
            positive("cacheline_rtt_ns", calibration.cacheline_rtt_ns);
            positive("cacheline_rtt_min_ns", calibration.cacheline_rtt_min_ns);
            assert!(!calibration.cacheline_pairs.is_empty());
            for pair in &calibration.cacheline_pairs {
                assert_ne!(pair.cpus[0], pair.cpus[1]);
                assert!(pair.min_ns <= pair.median_ns, "{pair:?}");
            }
            assert!(calibration.cacheline_rtt_min_ns <= calibration.cacheline_rtt_ns);
        } else {
            assert_eq!(calibration.cacheline_rtt_ns, None);
        }
        assert_eq!(calibration.wake_period_ns, Some(2_000_000));
        assert_eq!(calibration.wake_all_sleepers, Some(3));
        let rounds = u64::from(regime::rounds_for(regime.period, Budget::QUICK));
        assert_eq!(calibration.wake_after_period_samples, Some(rounds));
        assert_eq!(calibration.wake_all_samples, Some(3 * rounds));
        for (p50, p99) in [
            (
                calibration.wake_after_period_p50_ns,
                calibration.wake_after_period_p99_ns,
            ),
            (calibration.wake_all_p50_ns, calibration.wake_all_p99_ns),
        ] {
            let (p50, p99) = (p50.unwrap(), p99.unwrap());
            assert!(p50 > 0 && p99 >= p50, "p50 {p50} p99 {p99}");
        }
        for (p50, p99) in [
            (calibration.wake_p50_ns, calibration.wake_p99_ns),
            (
                calibration.condvar_wake_p50_ns,
                calibration.condvar_wake_p99_ns,
            ),
        ] {
            let (p50, p99) = (p50.unwrap(), p99.unwrap());
            assert!(p50 > 0 && p99 >= p50, "p50 {p50} p99 {p99}");
        }
        let overhead = calibration.harness_overhead.unwrap();
        assert_eq!(overhead.verify, "stamps");
        let parts =
            overhead.clock_reads_ns + overhead.histogram_records_ns + overhead.verification_ns;
        assert_eq!(overhead.total_ns, parts);
        assert!(overhead.verification_ns > 0.0 && overhead.histogram_records_ns > 0.0);
    }

    #[test]
    fn overhead_follows_the_verification_mode() {
        let off = harness_overhead(64 * 64 * 3, VerifyMode::Off, 1.0, Budget::QUICK);
        assert_eq!(off.verify, "off");
        assert_eq!(off.clock_reads_ns, f64::from(CLOCK_READS_PER_FRAME));
        let full = harness_overhead(64 * 64 * 3, VerifyMode::Full, 1.0, Budget::QUICK);
        assert_eq!(full.verify, "full");
    }

    #[test]
    fn every_wake_up_is_counted() {
        for latency in [
            wake_latency(&FutexChannel::default(), 20),
            wake_latency(&CondvarChannel::default(), 20),
        ] {
            let summary = latency.summary();
            assert_eq!(summary.count, 20);
            assert!(summary.p99 >= summary.p50 && summary.p50 > 0);
        }
    }

    #[test]
    fn an_older_report_without_the_new_fields_reads_back() {
        let old = r#"{"memcpy_bytes_per_s": null, "cacheline_rtt_ns": null, "wake_p50_ns": null, "wake_p99_ns": null}"#;
        let calibration: Calibration = serde_json::from_str(old).unwrap();
        assert_eq!(calibration, Calibration::default());
    }
}
