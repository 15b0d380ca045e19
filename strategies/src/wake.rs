//! The one waker every strategy that sleeps uses (`shm` across processes, the in-process
//! strategies through [`crate::Notifier`]): a futex word bumped on every publish and on
//! close, and a record of who is asleep, so that a publish with nobody asleep makes no system
//! call.
//!
//! # The handshake (a fenced Dekker handshake)
//!
//! * **Writer** ([`FutexWaker::wake_all`]): makes the new state visible (stores `latest`,
//!   or `closed`), bumps the word (Release), SeqCst fence, then looks for sleepers (Relaxed)
//!   and issues `FUTEX_WAKE` only if it finds one.
//! * **Sleeper** ([`FutexWaker::wait_until`]): registers as asleep (Relaxed), SeqCst fence,
//!   then loops: loads the word (Acquire) as `v`, checks its condition, and sleeps in
//!   `FUTEX_WAIT` only while the word still equals `v` (the kernel compares atomically with
//!   going to sleep).
//!
//! In the single total order of SeqCst fences one of the two fences comes first. If the
//! writer's does, the sleeper's loads after its own fence see the writer's stores before
//! it: the condition holds and it does not sleep. If the sleeper's does, the writer's look
//! sees it registered and wakes it: either it is already asleep, or it has not reached
//! `FUTEX_WAIT`, which then finds the word changed from `v` and returns at once (or `v` is
//! already the bumped value, whose Acquire load makes the new state visible to the check).
//!
//! Fences rather than SeqCst accesses because that is the form loom checks (it models SeqCst
//! accesses as AcqRel and reported an all-SeqCst version of the in-process notifier as a
//! lost wake-up). Under `cfg(loom)` the futex is modelled by a lock and a condition variable
//! ([`FutexWord`]) without timeout, so a lost wake-up is a deadlock in the model.
//!
//! # Lost wake-ups are counted, not hidden
//!
//! A sleep lasts at most [`WAIT_TIMEOUT`], a safety net against a writer that died. A wait
//! that times out and then finds its condition met was owed a wake-up it never got: it is
//! counted in `lost_wakeups` (expected 0; a publish within a microsecond of the timeout can
//! also count, which is as rare as it sounds).

use std::time::Duration;

use crate::primitive::{fence, AtomicU32, AtomicU64, FutexWord, Ordering, Woke};

/// Longest single sleep: bounds the damage of a writer that died without closing.
pub const WAIT_TIMEOUT: Duration = Duration::from_millis(100);

/// Who is asleep, as the writer needs to know it.
pub trait Sleepers {
    /// The caller is about to sleep. Relaxed is enough: the waker's fence orders it.
    fn enter(&self);
    /// The caller is awake and done waiting.
    fn leave(&self);
    /// Whether anyone may be asleep (a stale yes costs one system call, never a lost wake-up).
    fn any(&self) -> bool;
}

/// Sleepers as a count: threads of one process (none can die alone), or a start barrier.
pub struct Counted<'a>(pub &'a AtomicU32);

impl Sleepers for Counted<'_> {
    fn enter(&self) {
        // Relaxed: ordered by the fence in `wait_until`.
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn leave(&self) {
        // Relaxed: a stale non-zero value costs the writer one spurious wake, nothing more.
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
    fn any(&self) -> bool {
        // Relaxed: ordered by the fence in `wake_all`.
        self.0.load(Ordering::Relaxed) > 0
    }
}

/// Wakes sleepers on `word`; see the module doc.
pub struct FutexWaker<'a, S> {
    pub word: &'a FutexWord,
    pub sleepers: S,
    /// Where waits that time out and then find their condition met are counted.
    pub lost_wakeups: Option<&'a AtomicU64>,
}

impl<S: Sleepers> FutexWaker<'_, S> {
    /// Writer: call after storing the new state. Returns whether it made the `FUTEX_WAKE`
    /// system call (someone was registered asleep).
    pub fn wake_all(&self) -> bool {
        // Release: a sleeper whose Acquire load sees the bump sees the state stored before it.
        self.word.fetch_add(1, Ordering::Release);
        // SeqCst fence: the writer's half of the handshake; orders the bump (and the state
        // stored before it) before the look at the sleepers.
        fence(Ordering::SeqCst);
        if self.sleepers.any() {
            self.word.wake_all();
            true
        } else {
            false
        }
    }

    /// Sleeper: return `ready()`'s value once it has one, sleeping in between.
    pub fn wait_until<T>(&self, mut ready: impl FnMut() -> Option<T>) -> T {
        if let Some(value) = ready() {
            return value;
        }
        self.sleepers.enter();
        // SeqCst fence: the sleeper's half of the handshake; orders the registration before
        // the loads of the word and of the state below.
        fence(Ordering::SeqCst);
        let mut timed_out = false;
        let value = loop {
            // Acquire: pairs with the Release bump, so a bumped value comes with its state.
            let seen = self.word.load(Ordering::Acquire);
            if let Some(value) = ready() {
                break value;
            }
            timed_out = self.word.wait(seen, WAIT_TIMEOUT) == Woke::TimedOut;
        };
        self.sleepers.leave();
        if timed_out {
            if let Some(lost) = self.lost_wakeups {
                // Relaxed: a tally.
                lost.fetch_add(1, Ordering::Relaxed);
            }
        }
        value
    }
}
