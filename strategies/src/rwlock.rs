//! `rwlock`: one frame buffer behind a reader-writer lock. The producer renders into a
//! staging buffer and copies it in under the write lock; consumers read in place while
//! holding the read lock for as long as they work on the frame.
//!
//! One copy per frame however many readers, but a reader that holds its frame holds off
//! the writer, and parking_lot's lock is fair to a waiting writer, so a waiting writer in
//! turn holds off new readers.

use std::sync::Arc;

use parking_lot::{Mutex, RwLock, RwLockReadGuard};

use crate::{
    resident_buffer, Counters, FrameMeta, FrameView, Notifier, Publish, Reader, Strategy,
    StrategyParams, StrategyStats, WaitMode, WaitOutcome,
};

pub struct RwLockStrategy {
    shared: RwLock<Slot>,
    staging: Mutex<Vec<u8>>,
    notifier: Notifier,
    counters: Counters,
    frame_len: usize,
}

pub struct Slot {
    meta: FrameMeta,
    data: Vec<u8>,
}

impl RwLockStrategy {
    pub fn new(params: &StrategyParams) -> Self {
        RwLockStrategy {
            shared: RwLock::new(Slot {
                meta: FrameMeta::default(),
                data: resident_buffer(params.frame_len),
            }),
            staging: Mutex::new(resident_buffer(params.frame_len)),
            notifier: Notifier::with_waker(params.waker),
            counters: Counters::default(),
            frame_len: params.frame_len,
        }
    }
}

impl crate::Build for RwLockStrategy {
    fn descriptor() -> crate::Descriptor {
        crate::Descriptor::new(
            "rwlock",
            "one buffer behind a reader-writer lock; readers read in place holding the read lock (1 copy; readers block the writer)",
        )
        .origin(crate::Origin::Own)
        // shared buffer + producer staging
            .resident_frames(|_| 2)
    }

    fn build(params: &StrategyParams) -> Result<Self, crate::BuildError> {
        Ok(RwLockStrategy::new(params))
    }
}

impl Strategy for RwLockStrategy {
    type Reader = RwLockReader;

    fn name(&self) -> &'static str {
        "rwlock"
    }

    fn publish<F: FnOnce(&mut [u8]) -> FrameMeta>(&self, render: F) -> Publish {
        let mut staging = self.staging.lock();
        let mut meta = render(&mut staging);
        let seq = self.notifier.next_seq();
        meta.publish_seq = seq;
        {
            let mut slot = self.shared.write();
            slot.data.copy_from_slice(&staging);
            slot.meta = meta;
        }
        self.counters.add_copied(self.frame_len);
        self.notifier.announce(seq);
        Publish::Published(seq)
    }

    fn reader(self: Arc<Self>) -> RwLockReader {
        RwLockReader { strategy: self }
    }

    fn close(&self) {
        self.notifier.close();
    }

    fn stats(&self) -> StrategyStats {
        self.notifier.stats(&self.counters)
    }
}

pub struct RwLockReader {
    strategy: Arc<RwLockStrategy>,
}

pub struct ReadLockedFrame<'a> {
    guard: RwLockReadGuard<'a, Slot>,
}

impl FrameView for ReadLockedFrame<'_> {
    fn meta(&self) -> &FrameMeta {
        &self.guard.meta
    }
    fn bytes(&self) -> &[u8] {
        &self.guard.data
    }
}

impl Reader for RwLockReader {
    type Frame<'a> = ReadLockedFrame<'a>;

    fn wait_newer(&mut self, after: u64, mode: WaitMode) -> WaitOutcome {
        self.strategy.notifier.wait_newer(after, mode)
    }

    fn acquire(&mut self) -> Option<ReadLockedFrame<'_>> {
        let guard = self.strategy.shared.read();
        if guard.meta.publish_seq == 0 {
            return None;
        }
        Some(ReadLockedFrame { guard })
    }
}
