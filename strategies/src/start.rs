//! The start barrier of a cross-process run, for strategies of one's own: what
//! [`crate::CrossProcess::attach`] ("announce readiness, block until go"),
//! [`crate::CrossProcess::attached`] and [`crate::CrossProcess::go`] need, as one value that
//! lives in the strategy's shared memory.
//!
//! Why a barrier at all: consumer processes start at different times (exec, page faults of
//! the mapping); the producer must not publish measured frames before every consumer can see
//! them, and every consumer must measure from the same instant. The producer creates the
//! gate (all zero), starts the children, waits until [`StartGate::attached`] counts them all,
//! then calls [`StartGate::go`]; each child's [`StartGate::ready_and_wait`] returns the
//! measured window's start. The sleep is the futex handshake of [`crate::wake`], so a child
//! that arrives after `go` does not sleep at all, and none misses it.
//!
//! ```
//! # mod fbench { pub mod strategies { pub use fbench_strategies::*; } }
//! use fbench::strategies::start::StartGate;
//!
//! // In a real strategy the gate is inside the shared-memory segment; here two threads share it.
//! let gate = StartGate::default();
//! std::thread::scope(|s| {
//!     let consumer = s.spawn(|| gate.ready_and_wait());
//!     while gate.attached() < 1 {
//!         std::thread::yield_now();
//!     }
//!     gate.go(42);
//!     assert_eq!(consumer.join().unwrap(), 42);
//! });
//! ```

use crate::primitive::{AtomicU32, AtomicU64, FutexWord, Ordering};
use crate::wake::{Counted, FutexWaker};

/// A start barrier that may live in memory shared between processes: `repr(C)`, atomics
/// only, and all-zero bytes (a freshly truncated segment) are its initial state.
#[repr(C)]
#[derive(Default)]
pub struct StartGate {
    /// Consumers counted in.
    attached: AtomicU32,
    /// Bumped once by `go`; consumers sleep on it.
    go: FutexWord,
    /// Consumers asleep on `go`.
    sleepers: AtomicU32,
    _pad: u32,
    /// CLOCK_MONOTONIC ns the measured window starts at, set before `go`.
    measure_start_ns: AtomicU64,
}

impl StartGate {
    fn waker(&self) -> FutexWaker<'_, Counted<'_>> {
        FutexWaker {
            word: &self.go,
            sleepers: Counted(&self.sleepers),
            lost_wakeups: None,
        }
    }

    /// Consumer side, at the end of [`crate::CrossProcess::attach`]: count this consumer in,
    /// sleep until [`StartGate::go`], return the measured window's start.
    pub fn ready_and_wait(&self) -> u64 {
        // Release: this consumer's setup (its mapping, its reader state) happens before the
        // producer's count sees it.
        self.attached.fetch_add(1, Ordering::Release);
        self.waker().wait_until(|| {
            // Acquire: pairs with the Release bump of `go` in `wake_all`, which comes after
            // the store of `measure_start_ns`.
            (self.go.load(Ordering::Acquire) != 0).then_some(())
        });
        // Relaxed: ordered after the store by the Acquire load of `go` just above.
        self.measure_start_ns.load(Ordering::Relaxed)
    }

    /// Producer side ([`crate::CrossProcess::attached`]): consumers counted in so far.
    pub fn attached(&self) -> usize {
        // Acquire: pairs with the consumers' Release increment.
        self.attached.load(Ordering::Acquire) as usize
    }

    /// Producer side ([`crate::CrossProcess::go`]): release every consumer, now and later,
    /// measuring from `measure_start_ns`. Call once.
    pub fn go(&self, measure_start_ns: u64) {
        // Relaxed: published by the Release bump of `go` in `wake_all`.
        self.measure_start_ns
            .store(measure_start_ns, Ordering::Relaxed);
        self.waker().wake_all();
    }
}
