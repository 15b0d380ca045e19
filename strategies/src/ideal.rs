//! `ideal` (the reference): the least a latest-value strategy can do per frame, so that every
//! other strategy can be read as a ratio to it on the same machine, consumer count, workload
//! and wait mode.
//!
//! Per frame the producer does one atomic swap of the published frame (through
//! [`arc_swap::ArcSwapOption`]) and the shared [`Notifier`]'s wake, nothing else: no copy, no
//! allocation, no free list, no lock a reader could contend. A reader loads a
//! reference-counted handle and reads in place; the frame it holds is immutable.
//!
//! # Why frames are rendered, not pre-rendered once
//!
//! The frames are allocated and made resident once, at construction: a small ring of
//! [`RING_FRAMES`]. They cannot be rendered once and replayed, because every frame must carry
//! its own sequence number, capture time and integrity stamps (the harness verifies them, and
//! a replayed frame would read as torn or out of order). So the producer's `render` runs into
//! a free frame of the ring — rendering is the source's work, the same for every strategy —
//! and the strategy's own share is the swap and the wake.
//!
//! A frame of the ring is free when the producer's handle is the only one
//! ([`Arc::get_mut`]): not the published frame (the swap holds a count) and not held by any
//! reader. That test is exact because `arc-swap` pays a reader's borrowed reference into a real
//! count before `store` gives the old frame back, so a reader in the middle of loading a frame
//! is always counted. If every frame of the ring is held (readers holding several old frames),
//! the ring grows by one frame, counted in `pool_grows` and `frame_allocations`; with readers
//! that hold one frame at a time and keep up, it never does.
//!
//! The ring sits behind a mutex that only the single producer takes (uncontended by
//! construction), because `publish` takes `&self`.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use parking_lot::Mutex;

use crate::{
    resident_buffer, Counters, FrameMeta, FrameView, Notifier, Publish, Reader, Strategy,
    StrategyParams, StrategyStats, WaitMode, WaitOutcome,
};

/// Frames allocated at construction: the published one, the one being rendered and one a
/// reader still holds.
pub const RING_FRAMES: usize = 3;

pub struct IdealFrame {
    meta: FrameMeta,
    data: Vec<u8>,
}

struct Ring {
    frames: Vec<Arc<IdealFrame>>,
    /// Where the search for a free frame starts: just after the last one used.
    next: usize,
}

pub struct IdealStrategy {
    ring: Mutex<Ring>,
    latest: ArcSwapOption<IdealFrame>,
    notifier: Notifier,
    counters: Counters,
    frame_len: usize,
}

impl IdealStrategy {
    pub fn new(params: &StrategyParams) -> Self {
        let frames = (0..RING_FRAMES)
            .map(|_| {
                Arc::new(IdealFrame {
                    meta: FrameMeta::default(),
                    data: resident_buffer(params.frame_len),
                })
            })
            .collect();
        IdealStrategy {
            ring: Mutex::new(Ring { frames, next: 0 }),
            latest: ArcSwapOption::empty(),
            notifier: Notifier::new(),
            counters: Counters::default(),
            frame_len: params.frame_len,
        }
    }
}

impl crate::Build for IdealStrategy {
    fn descriptor() -> crate::Descriptor {
        crate::Descriptor::new(
            "ideal",
            "one atomic swap and the shared wake per frame, readers take pre-allocated immutable frames: a minimal latest-value design run beside the others as their reference (not a floor: run-to-run noise can put others below it)",
        )
        .origin(crate::Origin::Reference)
        .resident_frames(|_| RING_FRAMES)
    }

    fn build(params: &StrategyParams) -> Result<Self, crate::BuildError> {
        Ok(IdealStrategy::new(params))
    }
}

impl Strategy for IdealStrategy {
    type Reader = IdealReader;

    fn name(&self) -> &'static str {
        "ideal"
    }

    fn publish<F: FnOnce(&mut [u8]) -> FrameMeta>(&self, render: F) -> Publish {
        let mut ring = self.ring.lock();
        let Ring { frames, next } = &mut *ring;
        let len = frames.len();
        let free = (0..len)
            .map(|k| (*next + k) % len)
            .find(|&i| Arc::get_mut(&mut frames[i]).is_some());
        let index = free.unwrap_or_else(|| {
            self.counters.add_grow();
            self.counters.add_allocation();
            frames.push(Arc::new(IdealFrame {
                meta: FrameMeta::default(),
                data: resident_buffer(self.frame_len),
            }));
            frames.len() - 1
        });
        *next = (index + 1) % frames.len();
        let frame = Arc::get_mut(&mut frames[index]).expect("free: only the ring holds it");
        let mut meta = render(&mut frame.data);
        let seq = self.notifier.next_seq();
        meta.publish_seq = seq;
        frame.meta = meta;
        let published = Arc::clone(&frames[index]);
        drop(ring);
        self.latest.store(Some(published));
        self.notifier.announce(seq);
        Publish::Published(seq)
    }

    fn reader(self: Arc<Self>) -> IdealReader {
        IdealReader { strategy: self }
    }

    fn close(&self) {
        self.notifier.close();
    }

    fn stats(&self) -> StrategyStats {
        self.counters.snapshot(self.notifier.published())
    }
}

pub struct IdealReader {
    strategy: Arc<IdealStrategy>,
}

pub struct IdealHandle(Arc<IdealFrame>);

impl FrameView for IdealHandle {
    fn meta(&self) -> &FrameMeta {
        &self.0.meta
    }
    fn bytes(&self) -> &[u8] {
        &self.0.data
    }
}

impl Reader for IdealReader {
    type Frame<'a> = IdealHandle;

    fn wait_newer(&mut self, after: u64, mode: WaitMode) -> WaitOutcome {
        self.strategy.notifier.wait_newer(after, mode)
    }

    fn acquire(&mut self) -> Option<IdealHandle> {
        self.strategy.latest.load_full().map(IdealHandle)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::conformance::{is_whole, render, FRAME_LEN};

    fn strategy() -> Arc<IdealStrategy> {
        Arc::new(IdealStrategy::new(&StrategyParams::new(FRAME_LEN, 2)))
    }

    /// Readers that hold one frame at a time never make the ring grow: nothing is allocated
    /// after construction.
    #[test]
    fn keeping_up_allocates_nothing() {
        let ideal = strategy();
        let mut readers = [ideal.clone().reader(), ideal.clone().reader()];
        let mut held: Vec<Option<IdealHandle>> = vec![None, None];
        for seq in 1..=100 {
            ideal.publish(render(seq));
            // Reader `seq % 2` lets go of its old frame and takes the new one.
            let i = (seq % 2) as usize;
            held[i] = None;
            let frame = readers[i].acquire().unwrap();
            assert_eq!(frame.meta().publish_seq, seq);
            assert!(is_whole(&frame));
            held[i] = Some(frame);
        }
        let stats = ideal.stats();
        assert_eq!(stats.frame_allocations, 0);
        assert_eq!(stats.bytes_copied, 0);
    }

    /// A frame held is never written: with every frame of the ring held the ring grows
    /// (counted) rather than reuse one.
    #[test]
    fn held_frames_are_never_reused() {
        let ideal = strategy();
        let mut reader = ideal.clone().reader();
        let mut held = Vec::new();
        for seq in 1..=RING_FRAMES as u64 + 2 {
            ideal.publish(render(seq));
            held.push(reader.acquire().unwrap());
        }
        for (k, frame) in held.iter().enumerate() {
            assert_eq!(frame.meta().seq, k as u64 + 1);
            assert!(is_whole(frame));
        }
        assert_eq!(ideal.stats().pool_grows, 2);
    }
}
