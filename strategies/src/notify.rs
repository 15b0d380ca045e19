//! Publication counter and reader wake-up shared by the in-process strategies.
//!
//! The producer bumps `latest` after a frame is fully visible in the strategy; readers
//! compare it with the last `publish_seq` they saw. Blocking readers sleep on a condition
//! variable; the producer only takes the lock to notify when some reader is asleep, so a
//! publish without sleepers costs two atomic operations.
//!
//! Lost wake-ups are excluded by a Dekker-style handshake with a SeqCst fence on each side:
//! a sleeper increments `sleepers`, fences, *then* re-reads `latest`; the producer stores
//! `latest`, fences, *then* reads `sleepers`. In the single total order of the two fences one
//! comes first, and the read after the later fence sees the write before the earlier one:
//! either the sleeper sees the new frame and does not sleep, or the producer sees the
//! sleeper and notifies it under the lock (which it can only take once the sleeper is
//! inside `wait`, having released it).
//!
//! Fences rather than SeqCst accesses, because that is the form loom checks: it models a
//! SeqCst load or store as AcqRel (which lets the store and the load swap), and reported the
//! earlier all-SeqCst-accesses version as a lost wake-up. The fenced form is what the model
//! test `notify_loom_*` verifies (`RUSTFLAGS="--cfg loom"`, see `.ci/run`); it costs the
//! producer one full fence per publish, as the SeqCst store did on x86.

use std::time::Duration;

use crate::primitive::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering, Parking};
use crate::{WaitMode, WaitOutcome};

#[derive(Default)]
pub struct Notifier {
    /// `publish_seq` of the newest visible frame; 0 before the first.
    latest: AtomicU64,
    /// Next `publish_seq` to hand out. Touched by the single producer only.
    next: AtomicU64,
    closed: AtomicBool,
    sleepers: AtomicUsize,
    parking: Parking,
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
        // Acquire pairs with the Release store in `announce`: whoever sees
        // the number also sees the frame written before it.
        self.latest.load(Ordering::Acquire)
    }

    /// Make frame `seq` the newest and wake sleeping readers. Call after the frame is fully
    /// visible in the strategy.
    pub fn announce(&self, seq: u64) {
        // Release: a reader that sees the number also sees the frame written before it.
        self.latest.store(seq, Ordering::Release);
        // SeqCst fence: the producer's half of the sleeper handshake (module doc); orders the
        // store above before the load below.
        fence(Ordering::SeqCst);
        // Relaxed: ordered by the fence above.
        if self.sleepers.load(Ordering::Relaxed) > 0 {
            let _guard = self.parking.lock();
            self.parking.notify_all();
        }
    }

    /// No more frames: wake everybody.
    pub fn close(&self) {
        // SeqCst (so Release): a reader that sees `closed` also sees the final `latest`,
        // stored before this in program order.
        self.closed.store(true, Ordering::SeqCst);
        let _guard = self.parking.lock();
        self.parking.notify_all();
    }

    pub fn is_closed(&self) -> bool {
        // Acquire: pairs with the store in `close`.
        self.closed.load(Ordering::Acquire)
    }

    fn check(&self, after: u64) -> Option<WaitOutcome> {
        // `closed` is read before `latest`: if closed was already set, the `latest` read
        // that follows sees the final frame (close is stored after it), so a reader never
        // reports Closed while a newer final frame exists.
        // Acquire on both: `closed` pairs with the store in `close` (and keeps the `latest`
        // load after it), `latest` with the store in `announce`. Against a sleeper's lost
        // wake-up these loads are ordered by the fence in `wait_blocking`.
        let closed = self.closed.load(Ordering::Acquire);
        let latest = self.latest.load(Ordering::Acquire);
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
        let mut guard = self.parking.lock();
        // Relaxed + SeqCst fence: the sleeper's half of the handshake (module doc); the fence
        // orders the increment before `check`'s loads of `latest`.
        self.sleepers.fetch_add(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        let outcome = loop {
            if let Some(outcome) = self.check(after) {
                break outcome;
            }
            self.parking.wait(&mut guard);
        };
        // Relaxed: only makes the producer's notify unnecessary; a stale non-zero value
        // costs one spurious lock, never a lost wake-up.
        self.sleepers.fetch_sub(1, Ordering::Relaxed);
        outcome
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    //! Model check of the sleeper handshake (module doc): every interleaving of a producer
    //! announcing frames and closing against blocking readers. A lost wake-up leaves a reader
    //! asleep forever, which loom reports as a deadlock; a reader must also see the final
    //! frame before `Closed`. (Checked to fail, with a deadlock, when the producer's fence is
    //! removed.)

    use loom::sync::Arc;

    use super::Notifier;

    /// Every interleaving with up to four preemptions: the complete space (a lock, a condvar
    /// and three threads) did not finish in 10 minutes; bounded search is loom's documented
    /// way to cover the interleavings that bugs of this kind need.
    fn model(test: impl Fn() + Sync + Send + 'static) {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(4);
        builder.check(test);
    }
    use crate::{WaitMode, WaitOutcome};

    /// Reads until closed; returns the last `publish_seq` seen.
    fn read_to_close(notifier: &Notifier) -> u64 {
        let mut last = 0;
        loop {
            match notifier.wait_newer(last, WaitMode::Block) {
                WaitOutcome::Newer(seq) => {
                    assert!(seq > last, "newer means newer");
                    last = seq;
                }
                WaitOutcome::Closed => return last,
            }
        }
    }

    #[test]
    fn notify_loom_no_lost_wakeup_and_final_frame_before_close() {
        model(|| {
            let notifier = Arc::new(Notifier::new());
            let reader = {
                let notifier = notifier.clone();
                loom::thread::spawn(move || read_to_close(&notifier))
            };
            for _ in 0..2 {
                let seq = notifier.next_seq();
                notifier.announce(seq);
            }
            notifier.close();
            assert_eq!(
                reader.join().unwrap(),
                2,
                "the final frame is seen before Closed"
            );
        });
    }

    #[test]
    fn notify_loom_two_sleepers_one_frame() {
        model(|| {
            let notifier = Arc::new(Notifier::new());
            let readers: Vec<_> = (0..2)
                .map(|_| {
                    let notifier = notifier.clone();
                    // Without close, only a correct wake-up can end this wait.
                    loom::thread::spawn(move || notifier.wait_newer(0, WaitMode::Block))
                })
                .collect();
            let seq = notifier.next_seq();
            notifier.announce(seq);
            for reader in readers {
                assert_eq!(reader.join().unwrap(), WaitOutcome::Newer(1));
            }
        });
    }
}
