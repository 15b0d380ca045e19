//! Publication counter and reader wake-up shared by the in-process strategies.
//!
//! The producer bumps `latest` after a frame is fully visible in the strategy; readers
//! compare it with the last `publish_seq` they saw. Blocking readers sleep through one of two
//! wakers ([`Waker`], `--waker`):
//!
//! * **`futex`** (the default): the waker every strategy that sleeps shares, `shm` across
//!   processes included ([`crate::wake`]): a futex word bumped per publish, a count of
//!   sleepers, the fenced Dekker handshake; a publish with nobody asleep costs an atomic
//!   increment and a fence, one with sleepers one `FUTEX_WAKE` that wakes them all at once.
//!   Comparisons between strategies are then of their sharing designs, not of their wakers.
//! * **`condvar`**: a parking_lot condition variable, kept so its cost stays measurable
//!   (`notify_all` requeues the sleepers and they are released one at a time). The producer
//!   only takes the lock to notify when some reader is asleep.
//!
//! Lost wake-ups are excluded, in both, by a Dekker-style handshake with a SeqCst fence on
//! each side: a sleeper registers in `sleepers`, fences, *then* re-reads `latest`; the
//! producer stores `latest`, fences, *then* reads `sleepers`. In the single total order of
//! the two fences one comes first, and the read after the later fence sees the write before
//! the earlier one: either the sleeper sees the new frame and does not sleep, or the producer
//! sees the sleeper and wakes it (the futex compares the word it sleeps on atomically with
//! going to sleep; the condvar is notified under the lock, which the producer can only take
//! once the sleeper is inside `wait`, having released it).
//!
//! Fences rather than SeqCst accesses, because that is the form loom checks: it models a
//! SeqCst load or store as AcqRel (which lets the store and the load swap), and reported the
//! earlier all-SeqCst-accesses version as a lost wake-up. The fenced form is what the model
//! tests `notify_loom_*` verify for both wakers (`RUSTFLAGS="--cfg loom"`, see `.ci/run`; the
//! futex is modelled as in [`crate::primitive::FutexWord`]).
//!
//! A sleep lasts at most [`crate::wake::WAIT_TIMEOUT`]; a wait that times out and then finds
//! a newer frame (or the close) counts in `lost_wakeups` (expected 0).

use std::time::Duration;

use crate::primitive::{
    fence, AtomicBool, AtomicU32, AtomicU64, FutexWord, Ordering, Parking, Woke,
};
use crate::wake::{Counted, FutexWaker, WAIT_TIMEOUT};
use crate::{Counters, StrategyStats, WaitMode, WaitOutcome, Waker};

#[derive(Default)]
pub struct Notifier {
    /// `publish_seq` of the newest visible frame; 0 before the first.
    latest: AtomicU64,
    /// Next `publish_seq` to hand out. Touched by the single producer only.
    next: AtomicU64,
    closed: AtomicBool,
    waker: Waker,
    /// Readers registered asleep (either waker).
    sleepers: AtomicU32,
    /// The futex word of the `futex` waker.
    word: FutexWord,
    /// The lock and condvar of the `condvar` waker.
    parking: Parking,
    lost_wakeups: AtomicU64,
    /// Wakes the producer issued: `FUTEX_WAKE` calls or condvar `notify_all`s.
    wakes: AtomicU64,
}

impl Notifier {
    /// A notifier with the default waker (futex).
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_waker(waker: Waker) -> Self {
        Notifier {
            waker,
            ..Self::default()
        }
    }

    pub fn waker(&self) -> Waker {
        self.waker
    }

    fn futex(&self) -> FutexWaker<'_, Counted<'_>> {
        FutexWaker {
            word: &self.word,
            sleepers: Counted(&self.sleepers),
            lost_wakeups: Some(&self.lost_wakeups),
        }
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

    /// Blocking waits that timed out and then found a newer frame or the close.
    pub fn lost_wakeups(&self) -> u64 {
        // Relaxed: a tally read after the readers were joined.
        self.lost_wakeups.load(Ordering::Relaxed)
    }

    /// Wake-ups the producer issued (system calls for the futex, `notify_all` for the
    /// condvar): one per publish or close that found a reader registered asleep.
    pub fn wakes(&self) -> u64 {
        // Relaxed: a tally.
        self.wakes.load(Ordering::Relaxed)
    }

    /// `own` (what the strategy counted itself: `bytes_copied`, `producer_drops`, …) with
    /// this notifier's `published` and `lost_wakeups` filled in: what a strategy built on a
    /// `Notifier` returns from [`crate::Strategy::stats`], so that neither is forgotten.
    ///
    /// ```
    /// # mod fbench { pub mod strategies { pub use fbench_strategies::*; } }
    /// use fbench::strategies::{Notifier, StrategyStats};
    ///
    /// let notifier = Notifier::new();
    /// let seq = notifier.next_seq();
    /// notifier.announce(seq);
    /// let stats = notifier.stats_with(StrategyStats { bytes_copied: 4096, ..Default::default() });
    /// assert_eq!((stats.published, stats.lost_wakeups, stats.bytes_copied), (1, 0, 4096));
    /// ```
    pub fn stats_with(&self, own: StrategyStats) -> StrategyStats {
        StrategyStats {
            published: self.published(),
            lost_wakeups: self.lost_wakeups(),
            ..own
        }
    }

    /// A strategy's counters with this notifier's `published` and `lost_wakeups`.
    pub(crate) fn stats(&self, counters: &Counters) -> StrategyStats {
        StrategyStats {
            lost_wakeups: self.lost_wakeups(),
            ..counters.snapshot(self.published())
        }
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
        self.wake_all();
    }

    /// No more frames: wake everybody.
    pub fn close(&self) {
        // Release: a reader that sees `closed` also sees the final `latest`, stored before
        // this in program order.
        self.closed.store(true, Ordering::Release);
        self.wake_all();
    }

    /// The producer's half of the handshake, after storing `latest` or `closed`.
    fn wake_all(&self) {
        let woke = match self.waker {
            Waker::Futex => self.futex().wake_all(),
            Waker::Condvar => {
                // SeqCst fence: orders the store before it ahead of the load below.
                fence(Ordering::SeqCst);
                // Relaxed: ordered by the fence above.
                let asleep = self.sleepers.load(Ordering::Relaxed) > 0;
                if asleep {
                    let _guard = self.parking.lock();
                    self.parking.notify_all();
                }
                asleep
            }
        };
        if woke {
            // Relaxed: a tally.
            self.wakes.fetch_add(1, Ordering::Relaxed);
        }
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
        // wake-up these loads are ordered by the sleeper's fence.
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
            WaitMode::Block => match self.waker {
                Waker::Futex => self.futex().wait_until(|| self.check(after)),
                Waker::Condvar => self.wait_condvar(after),
            },
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

    fn wait_condvar(&self, after: u64) -> WaitOutcome {
        let mut guard = self.parking.lock();
        // Relaxed + SeqCst fence: the sleeper's half of the handshake (module doc); the fence
        // orders the increment before `check`'s loads of `latest`.
        self.sleepers.fetch_add(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        let mut timed_out = false;
        let outcome = loop {
            if let Some(outcome) = self.check(after) {
                break outcome;
            }
            timed_out = self.parking.wait_timeout(&mut guard, WAIT_TIMEOUT) == Woke::TimedOut;
        };
        // Relaxed: only makes the producer's notify unnecessary; a stale non-zero value
        // costs one spurious lock, never a lost wake-up.
        self.sleepers.fetch_sub(1, Ordering::Relaxed);
        if timed_out {
            // Relaxed: a tally.
            self.lost_wakeups.fetch_add(1, Ordering::Relaxed);
        }
        outcome
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    //! Model check of the sleeper handshake (module doc): every interleaving of a producer
    //! announcing frames and closing against blocking readers. A lost wake-up leaves a reader
    //! asleep forever, which loom reports as a deadlock; a reader must also see the final
    //! frame before `Closed`. Both wakers; the futex is modelled by a lock and a condition
    //! variable without timeout (`primitive::FutexWord`). (Checked to fail, with a deadlock,
    //! when the producer's fence is removed.)

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
    use crate::{WaitMode, WaitOutcome, Waker};

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

    fn no_lost_wakeup_and_final_frame_before_close(waker: Waker) {
        model(move || {
            let notifier = Arc::new(Notifier::with_waker(waker));
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
    fn notify_loom_futex_no_lost_wakeup_and_final_frame_before_close() {
        no_lost_wakeup_and_final_frame_before_close(Waker::Futex);
    }

    #[test]
    fn notify_loom_condvar_no_lost_wakeup_and_final_frame_before_close() {
        no_lost_wakeup_and_final_frame_before_close(Waker::Condvar);
    }

    #[test]
    fn notify_loom_futex_two_sleepers_one_frame() {
        two_sleepers_one_frame(Waker::Futex);
    }

    #[test]
    fn notify_loom_condvar_two_sleepers_one_frame() {
        two_sleepers_one_frame(Waker::Condvar);
    }

    fn two_sleepers_one_frame(waker: Waker) {
        model(move || {
            let notifier = Arc::new(Notifier::with_waker(waker));
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

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::Arc;

    use super::Notifier;
    use crate::primitive::Ordering;
    use crate::{WaitMode, WaitOutcome, Waker};

    /// Three readers asleep, one publish: one wake for all of them, none when nobody sleeps,
    /// no lost wake-up. Gated on the sleeper count, not on time.
    fn one_wake_for_all_sleepers(waker: Waker) {
        let notifier = Arc::new(Notifier::with_waker(waker));
        notifier.announce(notifier.next_seq());
        assert_eq!(notifier.wakes(), 0, "nobody asleep: no wake");
        let readers: Vec<_> = (0..3)
            .map(|_| {
                let notifier = notifier.clone();
                std::thread::spawn(move || notifier.wait_newer(1, WaitMode::Block))
            })
            .collect();
        // Relaxed: polling a count; the handshake, not this loop, makes the wake correct.
        while notifier.sleepers.load(Ordering::Relaxed) < 3 {
            std::thread::yield_now();
        }
        notifier.announce(notifier.next_seq());
        for reader in readers {
            assert_eq!(reader.join().unwrap(), WaitOutcome::Newer(2));
        }
        assert_eq!(notifier.wakes(), 1);
        assert_eq!(notifier.lost_wakeups(), 0);
    }

    #[test]
    fn futex_wakes_all_sleepers_at_once() {
        one_wake_for_all_sleepers(Waker::Futex);
    }

    #[test]
    fn condvar_wakes_all_sleepers_at_once() {
        one_wake_for_all_sleepers(Waker::Condvar);
    }

    /// A frame made visible without its wake-up (a broken producer): the sleeper finds it
    /// only when its sleep times out, and that is counted. Gated on the sleeper count.
    fn a_missed_wake_is_counted(waker: Waker) {
        let notifier = Arc::new(Notifier::with_waker(waker));
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let reader = {
            let notifier = notifier.clone();
            std::thread::spawn(move || {
                tid_tx.send(crate::conformance::thread_id()).unwrap();
                notifier.wait_newer(0, WaitMode::Block)
            })
        };
        let tid = tid_rx.recv().unwrap();
        // Relaxed: polling a count (see above).
        while notifier.sleepers.load(Ordering::Relaxed) < 1 {
            std::thread::yield_now();
        }
        // Registered, then asleep: past its last check, so only a wake-up or the timeout
        // ends the sleep.
        crate::conformance::until_thread_sleeps(tid);
        // Release, as in `announce`, but no wake: the lost wake-up.
        notifier
            .latest
            .store(notifier.next_seq(), Ordering::Release);
        assert_eq!(reader.join().unwrap(), WaitOutcome::Newer(1));
        assert_eq!(notifier.lost_wakeups(), 1);
        assert_eq!(notifier.stats(&crate::Counters::default()).lost_wakeups, 1);
    }

    #[test]
    fn futex_counts_a_missed_wake() {
        a_missed_wake_is_counted(Waker::Futex);
    }

    #[test]
    fn condvar_counts_a_missed_wake() {
        a_missed_wake_is_counted(Waker::Condvar);
    }

    #[test]
    fn the_default_waker_is_the_futex() {
        assert_eq!(Notifier::new().waker(), Waker::Futex);
        assert_eq!(crate::StrategyParams::new(1, 1).waker, Waker::Futex);
        assert_eq!(Waker::from_name("condvar"), Some(Waker::Condvar));
        assert_eq!(Waker::from_name("spin"), None);
    }
}
