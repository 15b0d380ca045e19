//! `unsync`: the canary. One shared buffer with **no synchronisation between writer and
//! readers**: the producer overwrites it while readers copy it out, so readers get frames
//! whose bytes come from two writes. It exists only to prove that the harness's torn-frame
//! detector fires; it is hidden from `fbench list` and never part of `all`.
//!
//! It is not undefined behaviour: the buffer is made of relaxed atomic words, so the race is
//! a race on atomics (well defined, just useless), not a data race. Readers never hold a
//! reference to it: every look at a frame copies the words out afresh ([`crate::snapshot`], the
//! public helper for bytes another thread may be writing),
//! so a frame the producer overwrites while a reader holds it shows torn on the next look.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::snapshot::{SharedBytes, Snapshots};
use crate::{
    Counters, FrameMeta, FrameView, Notifier, Publish, Reader, Strategy, StrategyParams,
    StrategyStats, WaitMode, WaitOutcome,
};

const META_WORDS: usize = FrameMeta::WORDS;

pub struct UnsyncStrategy {
    words: Box<[AtomicU64]>,
    meta: [AtomicU64; META_WORDS],
    staging: Mutex<Vec<u8>>,
    notifier: Notifier,
    counters: Counters,
    frame_len: usize,
}

impl UnsyncStrategy {
    pub fn new(params: &StrategyParams) -> Self {
        let words = params.frame_len.div_ceil(8);
        UnsyncStrategy {
            words: (0..words).map(|_| AtomicU64::new(0)).collect(),
            meta: Default::default(),
            staging: Mutex::new(vec![0u8; params.frame_len]),
            notifier: Notifier::with_waker(params.waker),
            counters: Counters::default(),
            frame_len: params.frame_len,
        }
    }
}

// Relaxed everywhere below on purpose: this strategy exists to race.
impl crate::Build for UnsyncStrategy {
    fn descriptor() -> crate::Descriptor {
        crate::Descriptor::new(
            "unsync",
            "CANARY: no synchronisation at all; tears frames on purpose to prove the detector works",
        )
        .origin(crate::Origin::Canary)
        .copies_on_acquire()
            .resident_frames(|p| 2 + p.consumers)
    }

    fn build(params: &StrategyParams) -> Result<Self, crate::BuildError> {
        Ok(UnsyncStrategy::new(params))
    }
}

impl Strategy for UnsyncStrategy {
    type Reader = UnsyncReader;

    fn name(&self) -> &'static str {
        "unsync"
    }

    fn publish<F: FnOnce(&mut [u8]) -> FrameMeta>(&self, render: F) -> Publish {
        let mut staging = self.staging.lock();
        let mut meta = render(&mut staging);
        let seq = self.notifier.next_seq();
        meta.publish_seq = seq;
        SharedBytes::from_words(&self.words, self.frame_len).write_from(&staging);
        for (slot, value) in self.meta.iter().zip(meta.to_words()) {
            slot.store(value, Ordering::Relaxed);
        }
        self.counters.add_copied(self.frame_len);
        self.notifier.announce(seq);
        Publish::Published(seq)
    }

    fn reader(self: Arc<Self>) -> UnsyncReader {
        UnsyncReader {
            strategy: self,
            spare: RefCell::new(Vec::new()),
        }
    }

    fn close(&self) {
        self.notifier.close();
    }

    fn stats(&self) -> StrategyStats {
        self.notifier.stats(&self.counters)
    }
}

pub struct UnsyncReader {
    strategy: Arc<UnsyncStrategy>,
    /// Copy buffers given back by dropped frames.
    spare: RefCell<Vec<Box<[u8]>>>,
}

/// A frame whose every look copies the shared words again.
pub struct RacyCopy<'a> {
    meta: FrameMeta,
    looks: Snapshots<'a>,
}

impl FrameView for RacyCopy<'_> {
    fn meta(&self) -> &FrameMeta {
        &self.meta
    }
    fn bytes(&self) -> &[u8] {
        self.looks.look()
    }
}

impl Reader for UnsyncReader {
    type Frame<'a> = RacyCopy<'a>;

    fn wait_newer(&mut self, after: u64, mode: WaitMode) -> WaitOutcome {
        self.strategy.notifier.wait_newer(after, mode)
    }

    fn acquire(&mut self) -> Option<RacyCopy<'_>> {
        let mut meta_words = [0u64; META_WORDS];
        for (value, slot) in meta_words.iter_mut().zip(self.strategy.meta.iter()) {
            *value = slot.load(Ordering::Relaxed);
        }
        let meta = FrameMeta::from_words(meta_words);
        if meta.publish_seq == 0 {
            return None;
        }
        let strategy = &*self.strategy;
        let looks = Snapshots::new(
            SharedBytes::from_words(&strategy.words, strategy.frame_len),
            &self.spare,
        )
        .counting(&strategy.counters.bytes_copied);
        Some(RacyCopy { meta, looks })
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::Arc;

    use crate::conformance::{is_whole, render, FRAME_LEN};
    use crate::{FrameView, Reader, Strategy, StrategyParams};

    /// Deterministic: a reader holds frame 1 while the producer publishes frame 2 (one
    /// thread, so the two never run at once); the next look sees bytes of frame 2 under the
    /// header of frame 1.
    #[test]
    fn a_held_frame_overwritten_shows_torn() {
        let strategy = Arc::new(super::UnsyncStrategy::new(&StrategyParams::new(
            FRAME_LEN, 1,
        )));
        let mut reader = strategy.clone().reader();
        strategy.publish(render(1));
        let frame = reader.acquire().unwrap();
        assert_eq!(frame.meta().seq, 1);
        assert!(is_whole(&frame), "whole before the lap");
        strategy.publish(render(2));
        assert!(!is_whole(&frame), "the detector sees the overwrite");
        drop(frame);
        let frame = reader.acquire().unwrap();
        assert_eq!(frame.meta().seq, 2);
        assert!(is_whole(&frame));
    }
}
