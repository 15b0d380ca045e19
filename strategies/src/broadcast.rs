//! `broadcast` (a peer): [`tokio::sync::broadcast`], the multi-consumer ring of the Tokio
//! project, carrying `Arc` handles to pooled frames.
//!
//! One ring of `capacity` values (`--queue-depth`, rounded up to a power of two by tokio),
//! each value stored once however many receivers there are; every receiver has its own read
//! position, so delivery is FIFO per consumer ([`Delivery::Fifo`]). The sender never waits:
//! when the ring is full the oldest value is overwritten, and a receiver that had not read
//! it learns on its next receive that it *lagged* by n values and continues from the oldest
//! one still held. That lag is this design's drop policy (like `queue --drop-policy oldest`,
//! but decided once for everyone by the ring rather than per consumer queue); it is counted
//! per consumer in [`Strategy::queue_stats`], and shows as `publish_seq` gaps to the harness.
//!
//! Only tokio's `sync` feature is used: no runtime. Receivers use `try_recv` and sleep on
//! fbench's shared [`Notifier`] (as the latest-value strategies do, so the comparison is of
//! the ring, not of the waker; the sender never waits, so one announcement per frame holds
//! nobody back). A reader reads the announced number *before* looking at the ring and, if it
//! has nothing for it, waits for a higher number: a value sent after the look is announced
//! with a higher number (announce follows send), so no wake-up is lost.
//! Frames come from a pool (zero copies, as `pool` and `queue`); the ring keeps a value alive
//! until every receiver has read it or it is overwritten, so the pool starts with the ring's
//! capacity plus two and grows, counted, if receivers hold more.

use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::broadcast::{self, error::TryRecvError};

use crate::pool::{FreeList, PoolHandle, PooledFrame};
use crate::queue::FeedStats;
use crate::{
    resident_buffer, Counters, Delivery, FrameMeta, Notifier, Publish, QueueStats, Reader,
    Strategy, StrategyParams, StrategyStats, WaitMode, WaitOutcome,
};

type Handle = Arc<PooledFrame>;

/// The ring's capacity as tokio makes it: the next power of two.
fn ring_capacity(params: &StrategyParams) -> usize {
    params.queue_depth.max(1).next_power_of_two()
}

/// Frames the pool starts with: the ring's values plus the one being rendered and one held.
pub(crate) fn initial_frames(params: &StrategyParams) -> usize {
    ring_capacity(params) + 2
}

pub struct BroadcastStrategy {
    tx: broadcast::Sender<Handle>,
    free: Arc<FreeList>,
    stats: Mutex<Vec<Arc<FeedStats>>>,
    /// Readers still alive, to tell the leak check when only the ring can hold frames.
    live_readers: Arc<Mutex<usize>>,
    notifier: Notifier,
    counters: Counters,
    frame_len: usize,
    initial_buffers: usize,
}

impl BroadcastStrategy {
    pub fn new(params: &StrategyParams) -> Self {
        let initial_buffers = initial_frames(params);
        let buffers = (0..initial_buffers)
            .map(|_| resident_buffer(params.frame_len))
            .collect();
        // The receiver made with the channel is dropped: readers subscribe.
        let (tx, _) = broadcast::channel(ring_capacity(params));
        BroadcastStrategy {
            tx,
            free: Arc::new(Mutex::new(buffers)),
            stats: Mutex::new(Vec::with_capacity(params.consumers)),
            live_readers: Arc::new(Mutex::new(0)),
            notifier: Notifier::new(),
            counters: Counters::default(),
            frame_len: params.frame_len,
            initial_buffers,
        }
    }
}

impl crate::Build for BroadcastStrategy {
    fn descriptor() -> crate::Descriptor {
        crate::Descriptor::new(
            "broadcast",
            "tokio::sync::broadcast: one ring of Arc frame handles, FIFO per receiver, a lagging receiver skips ahead (0 copies)",
        )
        .origin(crate::Origin::Peer)
        // the ring's values are kept until overwritten, plus the one being rendered
        .resident_frames(initial_frames)
        .parameters(&["queue_depth"])
    }

    fn build(params: &StrategyParams) -> Result<Self, crate::BuildError> {
        Ok(BroadcastStrategy::new(params))
    }
}

impl Strategy for BroadcastStrategy {
    type Reader = BroadcastReader;

    fn name(&self) -> &'static str {
        "broadcast"
    }

    fn publish<F: FnOnce(&mut [u8]) -> FrameMeta>(&self, render: F) -> Publish {
        let buffer = self.free.lock().pop();
        let mut data = buffer.unwrap_or_else(|| {
            self.counters.add_grow();
            self.counters.add_allocation();
            resident_buffer(self.frame_len)
        });
        let mut meta = render(&mut data);
        let seq = self.notifier.next_seq();
        meta.publish_seq = seq;
        let frame = Arc::new(PooledFrame {
            meta,
            data,
            home: Arc::clone(&self.free),
        });
        // Err only when no receiver exists: the frame is dropped here and its buffer freed.
        let _ = self.tx.send(frame);
        self.notifier.announce(seq);
        Publish::Published(seq)
    }

    fn reader(self: Arc<Self>) -> BroadcastReader {
        let stats = Arc::new(FeedStats::default());
        self.stats.lock().push(Arc::clone(&stats));
        *self.live_readers.lock() += 1;
        BroadcastReader {
            rx: self.tx.subscribe(),
            strategy: self,
            pending: None,
            stats,
        }
    }

    fn close(&self) {
        self.notifier.close();
    }

    fn stats(&self) -> StrategyStats {
        self.counters.snapshot(self.notifier.published())
    }

    fn frames_outstanding(&self) -> Option<u64> {
        if *self.live_readers.lock() > 0 {
            return None;
        }
        // With no receiver left tokio drops every value it held (a dropped receiver gives
        // back what it had not read), so every buffer ever made must be free.
        let made = self.initial_buffers as u64 + self.stats().pool_grows;
        let free = self.free.lock().len() as u64;
        Some(made.saturating_sub(free))
    }

    fn delivery(&self) -> Delivery {
        Delivery::Fifo
    }

    fn queue_stats(&self) -> Option<Vec<QueueStats>> {
        Some(self.stats.lock().iter().map(|s| s.snapshot()).collect())
    }
}

pub struct BroadcastReader {
    strategy: Arc<BroadcastStrategy>,
    rx: broadcast::Receiver<Handle>,
    /// The frame `wait_newer` received for the next `acquire`.
    pending: Option<Handle>,
    stats: Arc<FeedStats>,
}

impl Drop for BroadcastReader {
    fn drop(&mut self) {
        *self.strategy.live_readers.lock() -= 1;
    }
}

impl BroadcastReader {
    /// Receive into `pending` unless something is already there; counts lag as drops.
    fn fill(&mut self) {
        while self.pending.is_none() {
            // Values not yet received, this one included: the receiver's queue depth.
            let depth = self.rx.len() as u64;
            match self.rx.try_recv() {
                Ok(frame) => {
                    self.stats.saw_depth(depth);
                    self.pending = Some(frame);
                }
                Err(TryRecvError::Lagged(skipped)) => self.stats.add_dropped(skipped),
                Err(TryRecvError::Empty | TryRecvError::Closed) => return,
            }
        }
    }

    fn next_after(&mut self, after: u64) -> Option<u64> {
        loop {
            self.fill();
            match &self.pending {
                Some(frame) if frame.meta.publish_seq <= after => self.pending = None,
                Some(frame) => return Some(frame.meta.publish_seq),
                None => return None,
            }
        }
    }
}

impl Reader for BroadcastReader {
    type Frame<'a> = PoolHandle;

    fn wait_newer(&mut self, after: u64, mode: WaitMode) -> WaitOutcome {
        loop {
            // Read before looking at the ring: see the module doc.
            let announced = self.strategy.notifier.latest();
            if let Some(seq) = self.next_after(after) {
                return WaitOutcome::Newer(seq);
            }
            if self.strategy.notifier.wait_newer(announced, mode) == WaitOutcome::Closed {
                return match self.next_after(after) {
                    Some(seq) => WaitOutcome::Newer(seq),
                    None => WaitOutcome::Closed,
                };
            }
        }
    }

    fn acquire(&mut self) -> Option<PoolHandle> {
        self.fill();
        self.pending.take().map(PoolHandle)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    //! The ring's arithmetic with a gated reader: no sleeps, no timing.

    use super::*;
    use crate::conformance::{is_whole, render, FRAME_LEN};
    use crate::FrameView;

    fn strategy(depth: usize) -> Arc<BroadcastStrategy> {
        let mut params = StrategyParams::new(FRAME_LEN, 2);
        params.queue_depth = depth;
        Arc::new(BroadcastStrategy::new(&params))
    }

    #[test]
    fn a_lagging_receiver_skips_to_the_oldest_retained_and_counts_the_lag() {
        let ring = strategy(2);
        let mut quick = ring.clone().reader();
        let mut stalled = ring.clone().reader();
        for seq in 1..=10 {
            ring.publish(render(seq));
            assert_eq!(
                quick.wait_newer(seq - 1, WaitMode::Spin),
                WaitOutcome::Newer(seq)
            );
            let frame = quick.acquire().unwrap();
            assert_eq!(frame.meta().publish_seq, seq);
            assert!(is_whole(&frame));
        }
        let mut seen = Vec::new();
        while let Some(frame) = stalled.acquire() {
            seen.push(frame.meta().publish_seq);
        }
        assert_eq!(seen, vec![9, 10]);
        let stats = ring.queue_stats().unwrap();
        assert_eq!(stats[0].dropped_by_policy, 0);
        assert_eq!(stats[1].dropped_by_policy, 8);
        assert_eq!(stats[1].max_depth, 2);
    }

    #[test]
    fn capacity_is_a_power_of_two() {
        let ring = strategy(3); // tokio makes it 4
        let mut reader = ring.clone().reader();
        for seq in 1..=10 {
            ring.publish(render(seq));
        }
        let mut seen = Vec::new();
        while let Some(frame) = reader.acquire() {
            seen.push(frame.meta().publish_seq);
        }
        assert_eq!(seen, vec![7, 8, 9, 10]);
        assert_eq!(ring.queue_stats().unwrap()[0].dropped_by_policy, 6);
    }

    #[test]
    fn no_frame_is_leaked() {
        let ring = strategy(2);
        let mut readers = [ring.clone().reader(), ring.clone().reader()];
        for seq in 1..=5 {
            ring.publish(render(seq));
        }
        let held = readers[0].acquire().unwrap();
        assert_eq!(ring.frames_outstanding(), None, "readers alive");
        drop(held);
        drop(readers);
        assert_eq!(ring.frames_outstanding(), Some(0));
    }
}
