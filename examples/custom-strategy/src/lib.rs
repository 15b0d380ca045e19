//! `double-buffer`: a frame-distribution strategy fbench does not ship, measured through
//! fbench's whole command line. The worked example of "bring your own strategy".
//!
//! Two frame buffers, each behind its own reader-writer lock, and an index saying which one
//! holds the newest frame. The producer renders *in place* into the other one (taking its
//! write lock), then flips the index and wakes readers; a reader read-locks the newest
//! buffer and reads in place for as long as it holds the frame.
//!
//! What it costs, and what fbench should show: zero copies and two resident frames however
//! many readers; readers of the newest frame never block the producer, but a reader still
//! holding the *previous* frame when the next one is due blocks it (the producer needs that
//! buffer back) — a slow consumer shows as producer publish time and source overruns.
//!
//! Waiting is fbench's own [`Notifier`] (the shared waker every built-in in-process
//! strategy uses), so comparisons with the built-ins are of the sharing design only.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use fbench::strategies::{
    Build, BuildError, Descriptor, FrameMeta, FrameView, Notifier, Publish, Reader, Strategy,
    StrategyParams, StrategyStats, WaitMode, WaitOutcome,
};
use parking_lot::{RwLock, RwLockReadGuard};

struct Buffer {
    meta: FrameMeta,
    bytes: Vec<u8>,
}

pub struct DoubleBuffer {
    buffers: [RwLock<Buffer>; 2],
    /// Which buffer holds the newest frame.
    newest: AtomicUsize,
    notifier: Notifier,
}

impl Build for DoubleBuffer {
    fn descriptor() -> Descriptor {
        Descriptor::new(
            "double-buffer",
            "two buffers behind their own rwlocks; the producer renders in place into the older one (0 copies; a reader holding the previous frame blocks the producer)",
        )
        .resident_frames(|_| 2)
    }

    fn build(params: &StrategyParams) -> Result<Self, BuildError> {
        let buffer = || {
            RwLock::new(Buffer {
                meta: FrameMeta::default(),
                // Written once so the pages are resident and the memory figures count them.
                bytes: vec![1; params.frame_len],
            })
        };
        Ok(DoubleBuffer {
            buffers: [buffer(), buffer()],
            newest: AtomicUsize::new(0),
            // The run's waker (`--waker futex|condvar`), as every built-in uses it.
            notifier: Notifier::with_waker(params.waker),
        })
    }
}

impl Strategy for DoubleBuffer {
    type Reader = DoubleBufferReader;

    fn name(&self) -> &'static str {
        "double-buffer"
    }

    fn publish<F: FnOnce(&mut [u8]) -> FrameMeta>(&self, render: F) -> Publish {
        // Relaxed: only this (single) producer thread writes `newest`.
        let back = 1 - self.newest.load(Ordering::Relaxed);
        let seq = self.notifier.next_seq();
        {
            // Waits while a reader still holds the previous frame in this buffer.
            let mut buffer = self.buffers[back].write();
            let buffer = &mut *buffer;
            let meta = render(&mut buffer.bytes);
            buffer.meta = FrameMeta {
                publish_seq: seq,
                ..meta
            };
        }
        // Release: a reader that loads the new index (Acquire) finds the frame in it. The
        // notifier's own Release/Acquire pair orders this before a woken reader's load.
        self.newest.store(back, Ordering::Release);
        self.notifier.announce(seq);
        Publish::Published(seq)
    }

    fn reader(self: Arc<Self>) -> DoubleBufferReader {
        DoubleBufferReader { strategy: self }
    }

    fn close(&self) {
        self.notifier.close();
    }

    fn stats(&self) -> StrategyStats {
        // `published` and `lost_wakeups` from the notifier. Nothing else is ours to count:
        // the producer renders in place (no bytes copied), nothing is refused or allocated.
        self.notifier.stats_with(StrategyStats::default())
    }
}

pub struct DoubleBufferReader {
    strategy: Arc<DoubleBuffer>,
}

/// A frame read in place under its buffer's read lock; dropping it releases the lock.
pub struct HeldFrame<'a>(RwLockReadGuard<'a, Buffer>);

impl FrameView for HeldFrame<'_> {
    fn meta(&self) -> &FrameMeta {
        &self.0.meta
    }

    fn bytes(&self) -> &[u8] {
        &self.0.bytes
    }
}

impl Reader for DoubleBufferReader {
    type Frame<'a> = HeldFrame<'a>;

    fn wait_newer(&mut self, after: u64, mode: WaitMode) -> WaitOutcome {
        self.strategy.notifier.wait_newer(after, mode)
    }

    fn acquire(&mut self) -> Option<HeldFrame<'_>> {
        // Acquire: pairs with the producer's Release store of the index.
        let newest = self.strategy.newest.load(Ordering::Acquire);
        let guard = self.strategy.buffers[newest].read();
        // If the producer flipped and began rewriting this buffer between the load and the
        // lock, the lock waited for it to finish: the frame is then newer, and still whole.
        (guard.meta.publish_seq != 0).then_some(HeldFrame(guard))
    }
}
