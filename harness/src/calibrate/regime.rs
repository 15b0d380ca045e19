//! Calibration in the run's regime: the floors a run actually stands on, rather than the
//! best case of an idle machine.
//!
//! * **cold frame copy**: a frame another CPU has just written, copied into a buffer that
//!   is in no cache (the copier rotates over destination buffers together larger than twice
//!   the last-level cache). This is what a copying reader does: the producer wrote the frame
//!   a moment ago on its own CPU, and the reader's buffer was last touched a frame period
//!   ago. The hot figure (`frame_copy_ns`, two buffers copied back and forth) is the best
//!   case beside it.
//! * **wake after a frame period**: a sleeper that has slept one frame period (not 50 µs),
//!   woken by futex, as a blocked consumer between frames is; and **N sleepers woken at
//!   once** (N = the run's consumers) by one `FUTEX_WAKE` of all, the shared waker's way.
//! * **cache-line round trip over topology-chosen pairs**: one pair per relation the
//!   machine has (SMT siblings, two cores of one package, two packages), read from
//!   `/sys/devices/system/cpu/cpu*/topology`, so the figure names what it measured instead
//!   of whichever two CPUs come first.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::{allowed_cpus, futex_wait, pin_current_thread, Budget};
use crate::clock::{monotonic_ns, sleep_until};
use crate::metrics::Latency;

/// What the run will do, as calibration needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Regime {
    /// One frame period.
    pub period: Duration,
    /// Consumers woken together per frame.
    pub consumers: usize,
}

impl Regime {
    /// The regime of `config`.
    pub fn of(config: &crate::RunConfig) -> Regime {
        Regime {
            period: Duration::from_nanos(config.period_ns()),
            consumers: config.consumers,
        }
    }
}

impl Default for Regime {
    /// `fbench run` without flags.
    fn default() -> Regime {
        Regime::of(&crate::RunConfig::default_config())
    }
}

/// One measured CPU pair of the cache-line round trip.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CachelinePair {
    pub cpus: [usize; 2],
    /// `smt siblings`, `same package`, `other package`, or `unknown` (no topology).
    pub relation: String,
    /// Whether both threads could be pinned (otherwise the scheduler placed them).
    pub pinned: bool,
    /// Fastest and median batch, per round trip.
    pub min_ns: f64,
    pub median_ns: f64,
}

/// Where the machine's last-level cache size is unknown: a large server's L3.
const LLC_FALLBACK_BYTES: u64 = 64 << 20;
/// The cold copy's destinations never take more than this (or two frames, if more): a
/// guard against a cache size misread, not the usual size.
const COLD_COPY_MAX_BYTES: u64 = 512 << 20;
/// Frames the cold copy's destinations hold beyond the last-level cache.
const COLD_COPY_SPARE_FRAMES: u64 = 4;

/// The largest cache `cpu` has, from sysfs (`None` when unreadable).
pub fn last_level_cache_bytes(cpu: usize) -> Option<u64> {
    let dir = format!("/sys/devices/system/cpu/cpu{cpu}/cache");
    let mut largest = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let size = std::fs::read_to_string(entry.path().join("size")).ok();
        if let Some(bytes) = size.as_deref().and_then(parse_cache_size) {
            largest = largest.max(Some(bytes));
        }
    }
    largest
}

/// `32768K`, `1M`, `512` (bytes).
fn parse_cache_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let (digits, scale) = match text.chars().last()? {
        'K' | 'k' => (&text[..text.len() - 1], 1 << 10),
        'M' | 'm' => (&text[..text.len() - 1], 1 << 20),
        'G' | 'g' => (&text[..text.len() - 1], 1 << 30),
        _ => (text, 1),
    };
    digits.trim().parse::<u64>().ok().map(|n| n * scale)
}

/// How many destination buffers the cold copy rotates over: the last-level cache's worth of
/// frames and a few more, so each is evicted before its turn comes again (a cyclic walk
/// over more than a cache holds misses on every access under LRU and its approximations).
/// Sized by the run's frame: a 480p run against a 32 MiB cache holds about 38 MB, not a
/// fixed 512 MB.
pub fn cold_copy_buffers(frame_len: usize, llc_bytes: u64) -> usize {
    let frame = (frame_len as u64).max(1);
    let wanted = llc_bytes.div_ceil(frame) + COLD_COPY_SPARE_FRAMES;
    let allowed = (COLD_COPY_MAX_BYTES / frame).max(2);
    wanted.clamp(2, allowed) as usize
}

/// The memory the cold copy holds for frames of `frame_len` bytes: its destinations and
/// the source.
pub fn cold_copy_bytes(frame_len: usize) -> u64 {
    let llc = allowed_cpus()
        .first()
        .and_then(|&cpu| last_level_cache_bytes(cpu))
        .unwrap_or(LLC_FALLBACK_BYTES);
    (cold_copy_buffers(frame_len, llc) as u64 + 1).saturating_mul(frame_len as u64)
}

/// Median time to copy a frame that another CPU has just written into a buffer not in
/// cache, and the CPUs `[writer, copier]` when both threads could be pinned.
pub fn frame_copy_cold_ns(frame_len: usize, budget: Budget) -> (f64, Option<[usize; 2]>) {
    let cpus = allowed_cpus();
    let pair = topology_pairs(&cpus)
        .into_iter()
        .find(|(_, relation)| *relation != SMT)
        .map(|(pair, _)| pair);
    let llc = cpus
        .first()
        .and_then(|&cpu| last_level_cache_bytes(cpu))
        .unwrap_or(LLC_FALLBACK_BYTES);
    // Filled, so every page is resident before timing starts (a page fault is not a copy).
    let mut destinations: Vec<Vec<u8>> = (0..cold_copy_buffers(frame_len, llc))
        .map(|_| vec![0xa5u8; frame_len])
        .collect();
    let source = Mutex::new(vec![0x5au8; frame_len]);
    let written = AtomicU64::new(0);
    let copied = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let pinned = [AtomicBool::new(false), AtomicBool::new(false)];
    let samples = thread::scope(|scope| {
        let (source, written, copied, stop, pinned) = (&source, &written, &copied, &stop, &pinned);
        scope.spawn(move || {
            if let Some([writer, _]) = pair {
                // Relaxed: read after the scope joins this thread.
                pinned[0].store(pin_current_thread(writer), Ordering::Relaxed);
            }
            let mut round = 0u64;
            loop {
                // Acquire: pairs with the copier's Release of `copied`, so the copier is
                // done with the previous frame before it is overwritten.
                while copied.load(Ordering::Acquire) != round {
                    // Relaxed: a flag; nothing is read on its account.
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    thread::yield_now();
                }
                round += 1;
                source.lock().fill(round as u8);
                // Release: the frame's bytes (also ordered by the mutex) before the round.
                written.store(round, Ordering::Release);
            }
        });
        let copier = scope.spawn(move || {
            if let Some([_, copier]) = pair {
                // Relaxed: read after the scope joins this thread.
                pinned[1].store(pin_current_thread(copier), Ordering::Relaxed);
            }
            let deadline = monotonic_ns() + budget.per_figure.as_nanos() as u64;
            let mut samples = Vec::new();
            let mut round = 0u64;
            while samples.len() < super::MIN_BATCHES
                || (monotonic_ns() < deadline && samples.len() < super::MAX_BATCHES)
            {
                round += 1;
                // Acquire: pairs with the writer's Release of `written`.
                while written.load(Ordering::Acquire) != round {
                    thread::yield_now();
                }
                let frame = source.lock();
                let buffers = destinations.len();
                let destination = &mut destinations[round as usize % buffers];
                let start = monotonic_ns();
                std::hint::black_box(&mut destination[..]).copy_from_slice(&frame);
                let took = monotonic_ns() - start;
                drop(frame);
                // The first round of each buffer found it warm from being filled.
                if round as usize > buffers {
                    samples.push(took as f64);
                }
                // Release: this round's reads of the source are done.
                copied.store(round, Ordering::Release);
            }
            // Relaxed: see the writer.
            stop.store(true, Ordering::Relaxed);
            samples
        });
        copier.join().expect("the cold-copy copier does not panic")
    });
    let mut samples = samples;
    samples.sort_by(f64::total_cmp);
    let median = samples.get(samples.len() / 2).copied().unwrap_or(0.0);
    // Relaxed: both threads were joined by the scope.
    let both_pinned = pinned.iter().all(|p| p.load(Ordering::Relaxed));
    (median, pair.filter(|_| both_pinned))
}

/// Wake latency when `sleepers` threads sleep on one futex word for `settle` and are woken
/// together by one `FUTEX_WAKE` of all, `rounds` times: from the waker's clock read just
/// before the wake to each sleeper's first clock read after it.
pub fn wake_all_latency(sleepers: usize, settle: Duration, rounds: u32) -> Latency {
    let word = AtomicU32::new(0);
    let ready = AtomicU64::new(0);
    let waking_at_ns = AtomicU64::new(0);
    thread::scope(|scope| {
        let (word, ready, waking_at_ns) = (&word, &ready, &waking_at_ns);
        let handles: Vec<_> = (0..sleepers.max(1))
            .map(|_| {
                scope.spawn(move || {
                    let mut latency = Latency::new();
                    for round in 1..=rounds {
                        // Release: the waker's Acquire sees this sleeper done with the
                        // previous round.
                        ready.fetch_add(1, Ordering::Release);
                        // Acquire: pairs with the waker's Release store of the round,
                        // ordering its stamp before our read of it.
                        while word.load(Ordering::Acquire) != round {
                            futex_wait(word, round - 1);
                        }
                        let woken = monotonic_ns();
                        // Relaxed: ordered by the Acquire load of `word` above.
                        let waking = waking_at_ns.load(Ordering::Relaxed);
                        latency.record(woken.saturating_sub(waking));
                    }
                    latency
                })
            })
            .collect();
        let all = sleepers.max(1) as u64;
        for round in 1..=rounds {
            // Acquire: pairs with the sleepers' Release increments.
            while ready.load(Ordering::Acquire) < u64::from(round) * all {
                thread::yield_now();
            }
            sleep_until(monotonic_ns() + settle.as_nanos() as u64);
            // Relaxed: published by the Release store of the round below.
            waking_at_ns.store(monotonic_ns(), Ordering::Relaxed);
            // Release: the stamp before the round.
            word.store(round, Ordering::Release);
            futex_wake_all(word);
        }
        let mut latency = Latency::new();
        for handle in handles {
            latency.add(
                &handle
                    .join()
                    .expect("a wake-latency sleeper does not panic"),
            );
        }
        latency
    })
}

/// Rounds of a wake measurement that sleeps `period` per round, within `budget`.
pub fn rounds_for(period: Duration, budget: Budget) -> u32 {
    let by_time = budget.regime_time.as_nanos() / period.as_nanos().max(1);
    (by_time.min(u128::from(budget.wake_samples)) as u32).max(budget.min_rounds)
}

/// Wake every thread sleeping on `word`.
fn futex_wake_all(word: &AtomicU32) {
    // SAFETY: `word` is a live, aligned 32-bit atomic; FUTEX_WAKE only uses its address as
    // a key and never dereferences it.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            i32::MAX,
        );
    }
}

const SMT: &str = "smt siblings";
const SAME_PACKAGE: &str = "same package";
const OTHER_PACKAGE: &str = "other package";
const UNKNOWN: &str = "unknown";

/// `(package, core)` of `cpu`, from sysfs.
fn topology_of(cpu: usize) -> Option<(i64, i64)> {
    let read = |name: &str| -> Option<i64> {
        std::fs::read_to_string(format!("/sys/devices/system/cpu/cpu{cpu}/topology/{name}"))
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    Some((read("physical_package_id")?, read("core_id")?))
}

/// How two CPUs relate, given their `(package, core)`.
fn relation(a: Option<(i64, i64)>, b: Option<(i64, i64)>) -> &'static str {
    match (a, b) {
        (Some(a), Some(b)) if a == b => SMT,
        (Some(a), Some(b)) if a.0 == b.0 => SAME_PACKAGE,
        (Some(_), Some(_)) => OTHER_PACKAGE,
        _ => UNKNOWN,
    }
}

/// One CPU pair per relation the allowed CPUs have (the first found, SMT siblings first),
/// or the first two CPUs when the topology cannot be read.
pub fn topology_pairs(cpus: &[usize]) -> Vec<([usize; 2], &'static str)> {
    pairs_by_relation(cpus, topology_of)
}

fn pairs_by_relation(
    cpus: &[usize],
    topology: impl Fn(usize) -> Option<(i64, i64)>,
) -> Vec<([usize; 2], &'static str)> {
    // Enough CPUs to find every relation on any real machine, without n² on a huge one.
    let cpus = &cpus[..cpus.len().min(256)];
    let places: Vec<Option<(i64, i64)>> = cpus.iter().map(|&c| topology(c)).collect();
    let mut found: Vec<([usize; 2], &'static str)> = Vec::new();
    for wanted in [SMT, SAME_PACKAGE, OTHER_PACKAGE] {
        'search: for i in 0..cpus.len() {
            for j in i + 1..cpus.len() {
                if relation(places[i], places[j]) == wanted {
                    found.push(([cpus[i], cpus[j]], wanted));
                    break 'search;
                }
            }
        }
    }
    if found.is_empty() && cpus.len() >= 2 {
        found.push(([cpus[0], cpus[1]], UNKNOWN));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_sizes_parse() {
        assert_eq!(parse_cache_size("32768K\n"), Some(32 << 20));
        assert_eq!(parse_cache_size("1M"), Some(1 << 20));
        assert_eq!(parse_cache_size("512"), Some(512));
        assert_eq!(parse_cache_size("lots"), None);
    }

    #[test]
    fn the_cold_copy_outgrows_the_cache_within_bounds() {
        // 1080p rgb24 against a 32 MiB L3: 6 frames fill it, 4 more (62.2 MB).
        let n = cold_copy_buffers(6_220_800, 32 << 20);
        assert_eq!(n, 10);
        assert!(n as u64 * 6_220_800 > 32 << 20);
        // 480p rgb24: 37 frames fill it, 4 more (37.8 MB), a few frames beyond the cache.
        let n = cold_copy_buffers(921_600, 32 << 20) as u64;
        assert_eq!(n, 41);
        assert!(n * 921_600 > 32 << 20 && n * 921_600 < (32 << 20) + 5 * 921_600);
        // Tiny frames are capped by the byte bound, huge ones still get two buffers.
        assert_eq!(
            cold_copy_buffers(1, 1 << 40),
            (COLD_COPY_MAX_BYTES) as usize
        );
        assert_eq!(cold_copy_buffers(1 << 30, 32 << 20), 2);
    }

    #[test]
    fn pairs_are_chosen_by_relation() {
        // Two packages of two cores of two threads: cpu = package*4 + core*2 + thread.
        let place = |cpu: usize| Some(((cpu / 4) as i64, ((cpu / 2) % 2) as i64));
        let cpus: Vec<usize> = (0..8).collect();
        assert_eq!(
            pairs_by_relation(&cpus, place),
            [
                ([0, 1], SMT),
                ([0, 2], SAME_PACKAGE),
                ([0, 4], OTHER_PACKAGE)
            ]
        );
        // Only some CPUs allowed: only the relations among them.
        assert_eq!(pairs_by_relation(&[1, 3], place), [([1, 3], SAME_PACKAGE)]);
        // No topology: the first two, named unknown; one CPU: nothing.
        assert_eq!(pairs_by_relation(&[5, 7], |_| None), [([5, 7], UNKNOWN)]);
        assert!(pairs_by_relation(&[5], |_| None).is_empty());
    }

    #[test]
    fn every_sleeper_is_woken_every_round() {
        let latency = wake_all_latency(3, Duration::from_micros(200), 4);
        assert_eq!(latency.len(), 12);
        assert!(latency.summary().p50 > 0);
    }

    #[test]
    fn rounds_fit_the_budget() {
        let quick = Budget::QUICK;
        assert_eq!(
            rounds_for(Duration::from_millis(33), quick),
            quick.min_rounds
        );
        let standard = Budget::STANDARD;
        let at_30fps = rounds_for(Duration::from_nanos(33_333_333), standard);
        assert!(at_30fps >= standard.min_rounds);
        assert!(f64::from(at_30fps) * 33.3e-3 <= standard.regime_time.as_secs_f64() + 0.35);
        // A fast rate is bounded by the sample count.
        assert_eq!(
            rounds_for(Duration::from_micros(10), standard),
            standard.wake_samples
        );
    }

    #[test]
    fn a_cold_copy_is_measured() {
        let (ns, cpus) = frame_copy_cold_ns(256 * 1024, Budget::QUICK);
        assert!(ns > 0.0);
        if let Some([writer, copier]) = cpus {
            assert_ne!(writer, copier);
        }
    }
}
