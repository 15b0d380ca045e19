//! Publication counter and reader wake-up shared by the in-process strategies.
//!
//! The producer bumps `latest` after a frame is fully visible in the strategy; readers
//! compare it with the last `publish_seq` they saw. Blocking readers sleep on a condition
//! variable; the producer only takes the lock to notify when some reader is asleep, so a
//! publish without sleepers costs two atomic operations.
//!
//! Lost wake-ups are excluded by a Dekker-style handshake, both sides sequentially
//! consistent: a sleeper increments `sleepers` *then* re-reads `latest`; the producer stores
//! `latest` *then* reads `sleepers`. In the single total order of SeqCst operations one of
//! the two second reads comes after the other side's write: either the sleeper sees the new
//! frame and does not sleep, or the producer sees the sleeper and notifies it under the
//! lock (which it can only take once the sleeper is inside `wait`, having released it).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::{WaitMode, WaitOutcome};

#[derive(Default)]
pub struct Notifier {
    /// `publish_seq` of the newest visible frame; 0 before the first.
    latest: AtomicU64,
    /// Next `publish_seq` to hand out. Touched by the single producer only.
    next: AtomicU64,
    closed: AtomicBool,
    sleepers: AtomicUsize,
    lock: Mutex<()>,
    wake: Condvar,
}

impl Notifier {
    pub fn new() -> Self {
        Self::default()
    }

    /// The `publish_seq` the next accepted frame gets. Producer only.
    pub fn next_seq(&self) -> u64 {
        // Relaxed: single writer; the value is published to readers through `latest`.
        self.next.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Frames accepted so far.
    pub fn published(&self) -> u64 {
        // Relaxed: a tally read by the producer itself or after it was joined.
        self.next.load(Ordering::Relaxed)
    }

    /// The newest visible `publish_seq`.
    pub fn latest(&self) -> u64 {
        // Acquire pairs with the SeqCst (hence Release) store in `announce`: whoever sees
        // the number also sees the frame written before it.
        self.latest.load(Ordering::Acquire)
    }

    /// Make frame `seq` the newest and wake sleeping readers. Call after the frame is fully
    /// visible in the strategy.
    pub fn announce(&self, seq: u64) {
        // SeqCst: one half of the sleeper handshake (module doc); also a Release store.
        self.latest.store(seq, Ordering::SeqCst);
        // SeqCst: the other half of the handshake, ordered after the store above.
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            let _guard = self.lock.lock();
            self.wake.notify_all();
        }
    }

    /// No more frames: wake everybody.
    pub fn close(&self) {
        // SeqCst (so Release): a reader that sees `closed` also sees the final `latest`,
        // stored before this in program order.
        self.closed.store(true, Ordering::SeqCst);
        let _guard = self.lock.lock();
        self.wake.notify_all();
    }

    pub fn is_closed(&self) -> bool {
        // Acquire: pairs with the store in `close`.
        self.closed.load(Ordering::Acquire)
    }

    fn check(&self, after: u64) -> Option<WaitOutcome> {
        // `closed` is read before `latest`: if closed was already set, the `latest` read
        // that follows sees the final frame (close is stored after it), so a reader never
        // reports Closed while a newer final frame exists.
        // SeqCst on both: the sleeper's half of the handshake in `wait_blocking`.
        let closed = self.closed.load(Ordering::SeqCst);
        let latest = self.latest.load(Ordering::SeqCst);
        if latest > after {
            Some(WaitOutcome::Newer(latest))
        } else if closed {
            Some(WaitOutcome::Closed)
        } else {
            None
        }
    }

    pub fn wait_newer(&self, after: u64, mode: WaitMode) -> WaitOutcome {
        if let Some(outcome) = self.check(after) {
            return outcome;
        }
        match mode {
            WaitMode::Block => self.wait_blocking(after),
            WaitMode::Poll(interval) => loop {
                std::thread::sleep(interval.max(Duration::from_nanos(1)));
                if let Some(outcome) = self.check(after) {
                    return outcome;
                }
            },
            WaitMode::Spin => loop {
                std::hint::spin_loop();
                if let Some(outcome) = self.check(after) {
                    return outcome;
                }
            },
        }
    }

    fn wait_blocking(&self, after: u64) -> WaitOutcome {
        let mut guard = self.lock.lock();
        // SeqCst: the sleeper's half of the handshake (module doc).
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        let outcome = loop {
            if let Some(outcome) = self.check(after) {
                break outcome;
            }
            self.wake.wait(&mut guard);
        };
        // Relaxed: only makes the producer's notify unnecessary; a stale non-zero value
        // costs one spurious lock, never a lost wake-up.
        self.sleepers.fetch_sub(1, Ordering::Relaxed);
        outcome
    }
}
