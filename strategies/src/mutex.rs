//! `mutex`: one frame buffer behind a mutex; the producer copies each frame in and every
//! consumer copies it out under the lock, then works on its private copy.
//!
//! This is the design the seed analyses call "current" and the reference implementation
//! the others are checked against: nothing clever, 1 + N copies per frame, and every
//! party serialises on one lock.

use std::sync::Arc;

use parking_lot::Mutex;

use crate::{
    resident_buffer, Counters, FrameMeta, FrameView, Notifier, Publish, Reader, Strategy,
    StrategyParams, StrategyStats, WaitMode, WaitOutcome,
};

pub struct MutexStrategy {
    shared: Mutex<Slot>,
    /// Where the producer renders before copying in. Only the producer locks it.
    staging: Mutex<Vec<u8>>,
    notifier: Notifier,
    counters: Counters,
    frame_len: usize,
}

struct Slot {
    meta: FrameMeta,
    data: Vec<u8>,
}

impl MutexStrategy {
    pub fn new(params: &StrategyParams) -> Self {
        MutexStrategy {
            shared: Mutex::new(Slot {
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

impl crate::Build for MutexStrategy {
    fn descriptor() -> crate::Descriptor {
        crate::Descriptor::new(
            "mutex",
            "one buffer behind a mutex; producer copies in, every consumer copies out under the lock (1+N copies)",
        )
        .origin(crate::Origin::Own)
        .copies_on_acquire()
            // shared buffer + producer staging + one private copy per consumer
            .resident_frames(|p| 2 + p.consumers)
    }

    fn build(params: &StrategyParams) -> Result<Self, crate::BuildError> {
        Ok(MutexStrategy::new(params))
    }
}

impl Strategy for MutexStrategy {
    type Reader = MutexReader;

    fn name(&self) -> &'static str {
        "mutex"
    }

    fn publish<F: FnOnce(&mut [u8]) -> FrameMeta>(&self, render: F) -> Publish {
        let mut staging = self.staging.lock();
        let mut meta = render(&mut staging);
        let seq = self.notifier.next_seq();
        meta.publish_seq = seq;
        {
            let mut slot = self.shared.lock();
            slot.data.copy_from_slice(&staging);
            slot.meta = meta;
        }
        self.counters.add_copied(self.frame_len);
        self.notifier.announce(seq);
        Publish::Published(seq)
    }

    fn reader(self: Arc<Self>) -> MutexReader {
        // The private copy is allocated now but only becomes resident on the first copy.
        let local = vec![0u8; self.frame_len];
        MutexReader {
            strategy: self,
            local,
            meta: FrameMeta::default(),
        }
    }

    fn close(&self) {
        self.notifier.close();
    }

    fn stats(&self) -> StrategyStats {
        self.notifier.stats(&self.counters)
    }
}

pub struct MutexReader {
    strategy: Arc<MutexStrategy>,
    local: Vec<u8>,
    meta: FrameMeta,
}

pub struct CopiedFrame<'a> {
    meta: &'a FrameMeta,
    data: &'a [u8],
}

impl FrameView for CopiedFrame<'_> {
    fn meta(&self) -> &FrameMeta {
        self.meta
    }
    fn bytes(&self) -> &[u8] {
        self.data
    }
}

impl Reader for MutexReader {
    type Frame<'a> = CopiedFrame<'a>;

    fn wait_newer(&mut self, after: u64, mode: WaitMode) -> WaitOutcome {
        self.strategy.notifier.wait_newer(after, mode)
    }

    fn acquire(&mut self) -> Option<CopiedFrame<'_>> {
        {
            let slot = self.strategy.shared.lock();
            if slot.meta.publish_seq == 0 {
                return None;
            }
            self.local.copy_from_slice(&slot.data);
            self.meta = slot.meta;
        }
        self.strategy.counters.add_copied(self.strategy.frame_len);
        Some(CopiedFrame {
            meta: &self.meta,
            data: &self.local,
        })
    }
}
