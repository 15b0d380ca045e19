//! `queue`: pooled frames and one bounded FIFO queue per consumer, with a drop policy — the
//! design of the seeds' capture pipelines (bounded `queue.Queue`s, a planned
//! `FrameDropPolicy`), of GStreamer's `tee` + `queue leaky=…` and of Go channels.
//!
//! The producer renders into a pooled, reference-counted frame (zero copies, as `pool`) and
//! pushes one handle to it into every consumer's queue; a consumer takes its *next* frame,
//! oldest first ([`Delivery::Fifo`]), so its age includes the time the frame spent queued.
//! When a consumer's queue is full (`--queue-depth`, default 2) the [`DropPolicy`] decides:
//!
//! * `block`: the producer waits for room. Nothing is dropped, and a slow consumer holds up
//!   the producer, so every consumer gets frames at the slow one's pace (the frames the source
//!   could not hand over are source overruns); the back-pressure shows as producer blocked
//!   time, publish time and source overruns.
//! * `oldest`: the oldest queued frame is discarded and the new one queued (GStreamer's
//!   `leaky=downstream`): the consumer always has the newest `depth` frames waiting.
//! * `newest`: the arriving frame is skipped for that consumer (`leaky=upstream`): the
//!   consumer works through old frames while new ones are lost.
//!
//! What a queue costs each consumer — frames discarded by policy, the deepest its queue got,
//! the time the producer waited for it — is kept per consumer ([`Strategy::queue_stats`]).
//!
//! # The queue: `crossbeam-channel`
//!
//! Each queue is a `crossbeam_channel::bounded(depth)` channel (crossbeam's array flavour:
//! a fixed ring, lock-free `try_send`/`try_recv`, and a *blocking* `send` that parks the
//! producer until the consumer makes room — which is exactly `block`, with correct parking
//! that fbench does not have to write and model-check itself). `crossbeam-queue`'s
//! `ArrayQueue::force_push` would make `oldest` one atomic operation, but it has no way for
//! the producer to sleep until there is room; one crate serving all three policies keeps the
//! comparison about the policy. `oldest` is therefore: on `Full`, the producer takes the
//! oldest frame out through its own receiver handle and retries. If the consumer takes a
//! frame in the same instant, that retry can discard one frame more than strictly needed;
//! every discarded frame is counted, so the figures stay exact about what happened.
//!
//! # Waking
//!
//! A blocking reader sleeps in its own channel's `recv` and is woken by the push into its own
//! queue (crossbeam parks the thread; a futex on Linux), not by the shared [`Notifier`] the
//! latest-value strategies use. The per-consumer wake is part of the queue design: with one
//! announcement after the whole fan-out, a producer blocked on the slow consumer's queue would
//! also hold back the frame it had already queued for every quick one (measured: their age
//! p50 went from 0.3 ms to 100 ms in `slow-consumer-queues`), which a tee of queues or a loop
//! over Go channels does not do. `close` drops the producer's ends: a reader then takes what
//! is still queued and sees the channel disconnected, which is `Closed`. `Poll` and `Spin`
//! readers `try_recv` in a loop. The [`Notifier`] only numbers the frames.
//!
//! A reader that `wait_newer` found a frame for keeps it aside (`pending`) until `acquire`,
//! because a channel cannot be peeked; it is no longer in the queue, exactly as a frame the
//! consumer is holding.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, TryRecvError, TrySendError};
use parking_lot::Mutex;

use crate::pool::{FreeList, PoolHandle, PooledFrame};
use crate::{
    resident_buffer, Counters, Delivery, FrameMeta, Notifier, Publish, QueueStats, Reader,
    Strategy, StrategyParams, StrategyStats, WaitMode, WaitOutcome,
};

/// Frames each consumer's queue holds by default: the seed's camera buffer.
pub const DEFAULT_QUEUE_DEPTH: usize = 2;

/// What a full consumer queue does with the next frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropPolicy {
    /// The producer waits for room (seed 003's `DropNever`).
    Block,
    /// Discard the oldest queued frame (`DropOldest`).
    Oldest,
    /// Skip the arriving frame for that consumer (`DropNewest`).
    Newest,
}

impl DropPolicy {
    pub const ALL: [DropPolicy; 3] = [DropPolicy::Block, DropPolicy::Oldest, DropPolicy::Newest];

    /// The `--drop-policy` value.
    pub fn name(self) -> &'static str {
        match self {
            DropPolicy::Block => "block",
            DropPolicy::Oldest => "oldest",
            DropPolicy::Newest => "newest",
        }
    }

    pub fn from_name(name: &str) -> Option<DropPolicy> {
        DropPolicy::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// Frames the pool starts with: when every consumer keeps up, the frames alive are the
/// queues' `depth` plus the one each consumer holds and the one being rendered, and they are
/// the same frames for every consumer. A consumer that falls behind under `oldest` or
/// `newest` keeps older frames alive: the pool then grows (counted in `pool_grows`).
pub(crate) fn initial_frames(params: &StrategyParams) -> usize {
    params.queue_depth.max(1) + 2
}

/// Per-consumer tallies. Relaxed: counters with no data depending on them, written by one
/// thread (the producer, or the reader for nothing here) and read after it was joined.
#[derive(Default)]
pub(crate) struct FeedStats {
    pub(crate) dropped: AtomicU64,
    pub(crate) max_depth: AtomicU64,
    pub(crate) blocked_ns: AtomicU64,
}

impl FeedStats {
    pub(crate) fn add_dropped(&self, frames: u64) {
        self.dropped.fetch_add(frames, Ordering::Relaxed);
    }
    pub(crate) fn saw_depth(&self, depth: u64) {
        self.max_depth.fetch_max(depth, Ordering::Relaxed);
    }
    pub(crate) fn snapshot(&self) -> QueueStats {
        QueueStats {
            dropped_by_policy: self.dropped.load(Ordering::Relaxed),
            max_depth: self.max_depth.load(Ordering::Relaxed),
            producer_blocked_ns: self.blocked_ns.load(Ordering::Relaxed),
        }
    }
}

type Handle = Arc<PooledFrame>;

/// The producer's end of one consumer's queue.
struct Feed {
    tx: Sender<Handle>,
    /// `oldest` only: the producer's own receiving end, to discard the oldest frame. Not kept
    /// for `block`, so that a consumer that goes away disconnects the channel and frees a
    /// producer blocked on it.
    discard: Option<Receiver<Handle>>,
    /// Cleared when the consumer's reader drops.
    alive: Arc<AtomicBool>,
    stats: Arc<FeedStats>,
    /// `block`: the frame waiting for room in this queue during a publish.
    owed: Option<Handle>,
    /// The consumer's end was found dropped (the channel disconnected).
    gone: bool,
}

impl Feed {
    fn is_alive(&self) -> bool {
        // Acquire: pairs with the Release store of a dropping reader; a dead feed is only
        // skipped, so seeing it late costs one wasted push.
        self.alive.load(Ordering::Acquire)
    }

    /// Queue `frame` under `policy` without waiting. Under `block` a full queue keeps the
    /// frame in `owed` for [`Feed::wait_for_room`]; a consumer found gone sets `gone`.
    fn offer(&mut self, frame: Handle, policy: DropPolicy) {
        let queued = match policy {
            DropPolicy::Block => match self.tx.try_send(frame) {
                Ok(()) => true,
                Err(TrySendError::Full(frame)) => {
                    self.owed = Some(frame);
                    false
                }
                Err(TrySendError::Disconnected(_)) => {
                    self.gone = true;
                    false
                }
            },
            DropPolicy::Newest => match self.tx.try_send(frame) {
                Ok(()) => true,
                Err(TrySendError::Full(_skipped)) => {
                    self.stats.add_dropped(1);
                    false
                }
                Err(TrySendError::Disconnected(_)) => {
                    self.gone = true;
                    false
                }
            },
            DropPolicy::Oldest => {
                let mut frame = frame;
                loop {
                    match self.tx.try_send(frame) {
                        Ok(()) => break true,
                        Err(TrySendError::Full(back)) => {
                            frame = back;
                            let discard = self.discard.as_ref().expect("kept for oldest");
                            if discard.try_recv().is_ok() {
                                self.stats.add_dropped(1);
                            }
                        }
                        Err(TrySendError::Disconnected(_)) => {
                            self.gone = true;
                            break false;
                        }
                    }
                }
            }
        };
        if queued {
            self.stats.saw_depth(self.tx.len() as u64);
        }
    }

    /// `block`: wait until the queue has room for the frame `offer` could not queue.
    fn wait_for_room(&mut self) {
        let Some(frame) = self.owed.take() else {
            return;
        };
        let start = Instant::now();
        let sent = self.tx.send(frame).is_ok();
        let waited = start.elapsed().as_nanos() as u64;
        // Relaxed: a tally (see `FeedStats`).
        self.stats.blocked_ns.fetch_add(waited, Ordering::Relaxed);
        if sent {
            self.stats.saw_depth(self.tx.len() as u64);
        } else {
            self.gone = true;
        }
    }
}

pub struct QueueStrategy {
    free: Arc<FreeList>,
    feeds: Mutex<Vec<Feed>>,
    /// Set by `close`, under the `feeds` lock: a reader made afterwards starts disconnected.
    closed: AtomicBool,
    /// Every reader's liveness, kept after the producer forgot its queue (leak check).
    readers: Mutex<Vec<Arc<AtomicBool>>>,
    /// Every consumer's tallies in reader order, kept after the consumer is gone.
    stats: Mutex<Vec<Arc<FeedStats>>>,
    policy: DropPolicy,
    depth: usize,
    notifier: Notifier,
    counters: Counters,
    frame_len: usize,
    initial_buffers: usize,
}

impl QueueStrategy {
    pub fn new(params: &StrategyParams) -> Self {
        let initial_buffers = initial_frames(params);
        let buffers = (0..initial_buffers)
            .map(|_| resident_buffer(params.frame_len))
            .collect();
        QueueStrategy {
            free: Arc::new(Mutex::new(buffers)),
            feeds: Mutex::new(Vec::with_capacity(params.consumers)),
            closed: AtomicBool::new(false),
            readers: Mutex::new(Vec::with_capacity(params.consumers)),
            stats: Mutex::new(Vec::with_capacity(params.consumers)),
            policy: params.drop_policy,
            depth: params.queue_depth.max(1),
            notifier: Notifier::new(),
            counters: Counters::default(),
            frame_len: params.frame_len,
            initial_buffers,
        }
    }

    pub fn policy(&self) -> DropPolicy {
        self.policy
    }
}

impl crate::Build for QueueStrategy {
    fn descriptor() -> crate::Descriptor {
        crate::Descriptor::new(
            "queue",
            "pooled frames, one bounded FIFO queue per consumer (crossbeam-channel); --queue-depth, --drop-policy block|oldest|newest (0 copies)",
        )
        .origin(crate::Origin::Extra)
        // the pool it starts with; growth is counted (see the module doc)
        .resident_frames(initial_frames)
        .parameters(&["queue_depth", "drop_policy"])
    }

    fn build(params: &StrategyParams) -> Result<Self, crate::BuildError> {
        Ok(QueueStrategy::new(params))
    }
}

impl Strategy for QueueStrategy {
    type Reader = QueueReader;

    fn name(&self) -> &'static str {
        "queue"
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
        // Each push wakes that queue's reader. Every queue with room first, then (`block`)
        // wait for the full ones: a quick consumer never waits behind a slow one's queue, for
        // this frame, whatever the order the consumers were created in.
        let mut feeds = self.feeds.lock();
        feeds.retain(Feed::is_alive);
        for feed in feeds.iter_mut() {
            feed.offer(Arc::clone(&frame), self.policy);
        }
        for feed in feeds.iter_mut() {
            feed.wait_for_room();
        }
        feeds.retain(|feed| !feed.gone);
        drop(feeds);
        Publish::Published(seq)
    }

    fn reader(self: Arc<Self>) -> QueueReader {
        let (tx, rx) = crossbeam_channel::bounded(self.depth);
        let alive = Arc::new(AtomicBool::new(true));
        let stats = Arc::new(FeedStats::default());
        self.stats.lock().push(Arc::clone(&stats));
        self.readers.lock().push(Arc::clone(&alive));
        let mut feeds = self.feeds.lock();
        // Relaxed: written under the `feeds` lock we hold.
        if !self.closed.load(Ordering::Relaxed) {
            feeds.push(Feed {
                tx,
                discard: (self.policy == DropPolicy::Oldest).then(|| rx.clone()),
                alive: Arc::clone(&alive),
                stats,
                owed: None,
                gone: false,
            });
        }
        drop(feeds);
        QueueReader {
            _strategy: self,
            rx,
            pending: None,
            disconnected: false,
            alive,
        }
    }

    fn close(&self) {
        let mut feeds = self.feeds.lock();
        // Relaxed: read under the same lock.
        self.closed.store(true, Ordering::Relaxed);
        // Dropping the producer's ends disconnects every queue once it is drained.
        feeds.clear();
        drop(feeds);
        self.notifier.close();
    }

    fn stats(&self) -> StrategyStats {
        self.counters.snapshot(self.notifier.published())
    }

    fn frames_outstanding(&self) -> Option<u64> {
        // Forget the queues of consumers that are gone (their channels, and the frames still
        // queued in them, are freed with the last end). Counted once every reader is gone
        // (a frame queued for several live consumers cannot be told from a leak cheaply):
        // then every buffer ever made must be free.
        self.feeds.lock().retain(Feed::is_alive);
        // Acquire: pairs with the reader's Release in its drop (its queue is gone with it).
        if self
            .readers
            .lock()
            .iter()
            .any(|a| a.load(Ordering::Acquire))
        {
            return None;
        }
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

pub struct QueueReader {
    /// Held, not read: a reader keeps its strategy alive (the harness counts live readers
    /// by the strategy's reference count).
    _strategy: Arc<QueueStrategy>,
    rx: Receiver<Handle>,
    /// The frame `wait_newer` took off the queue for the next `acquire`.
    pending: Option<Handle>,
    /// The queue is drained and its producer end is gone (`close`).
    disconnected: bool,
    alive: Arc<AtomicBool>,
}

impl Drop for QueueReader {
    fn drop(&mut self) {
        // Release: our last use of the queue happens before the producer forgets it.
        self.alive.store(false, Ordering::Release);
    }
}

impl QueueReader {
    /// The next queued frame newer than `after`, kept aside in `pending`. Frames at or below
    /// `after` are ones the caller says it has already seen; they are let go.
    fn next_after(&mut self, after: u64) -> Option<u64> {
        loop {
            if self.pending.is_none() {
                match self.rx.try_recv() {
                    Ok(frame) => self.pending = Some(frame),
                    Err(TryRecvError::Empty) => {}
                    Err(TryRecvError::Disconnected) => self.disconnected = true,
                }
            }
            match &self.pending {
                Some(frame) if frame.meta.publish_seq <= after => self.pending = None,
                Some(frame) => return Some(frame.meta.publish_seq),
                None => return None,
            }
        }
    }
}

impl Reader for QueueReader {
    type Frame<'a> = PoolHandle;

    fn wait_newer(&mut self, after: u64, mode: WaitMode) -> WaitOutcome {
        loop {
            if let Some(seq) = self.next_after(after) {
                return WaitOutcome::Newer(seq);
            }
            if self.disconnected {
                // `close` dropped the producer's end and the queue is drained.
                return WaitOutcome::Closed;
            }
            match mode {
                WaitMode::Block => match self.rx.recv() {
                    Ok(frame) => self.pending = Some(frame),
                    // Disconnected: `close` (queued frames are received before this).
                    Err(_) => return WaitOutcome::Closed,
                },
                WaitMode::Poll(interval) => {
                    std::thread::sleep(interval.max(std::time::Duration::from_nanos(1)))
                }
                WaitMode::Spin => std::hint::spin_loop(),
            }
        }
    }

    fn acquire(&mut self) -> Option<PoolHandle> {
        self.pending
            .take()
            .or_else(|| self.rx.try_recv().ok())
            .map(PoolHandle)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    //! The queue arithmetic with gated readers: no sleeps, no timing. A reader that takes
    //! nothing is simply not called; the counts follow from the depth and the policy alone.

    use std::thread;

    use super::*;
    use crate::conformance::{is_whole, render, FRAME_LEN};
    use crate::FrameView;

    fn strategy(policy: DropPolicy, depth: usize, consumers: usize) -> Arc<QueueStrategy> {
        let mut params = StrategyParams::new(FRAME_LEN, consumers);
        params.queue_depth = depth;
        params.drop_policy = policy;
        Arc::new(QueueStrategy::new(&params))
    }

    /// Everything the reader can take now, in order: (seq, publish_seq) pairs.
    fn drain(reader: &mut QueueReader, mut last: u64) -> Vec<u64> {
        let mut seen = Vec::new();
        while let Some(frame) = reader.acquire() {
            assert!(is_whole(&frame));
            assert!(
                frame.meta().publish_seq > last,
                "FIFO order, no frame twice"
            );
            last = frame.meta().publish_seq;
            seen.push(frame.meta().seq);
        }
        seen
    }

    #[test]
    fn oldest_keeps_the_last_depth_frames() {
        let queue = strategy(DropPolicy::Oldest, 2, 1);
        let mut reader = queue.clone().reader();
        for seq in 1..=10 {
            assert_eq!(queue.publish(render(seq)), Publish::Published(seq));
        }
        assert_eq!(drain(&mut reader, 0), vec![9, 10]);
        let stats = queue.queue_stats().unwrap();
        assert_eq!(stats[0].dropped_by_policy, 8);
        assert_eq!(stats[0].max_depth, 2);
        assert_eq!(stats[0].producer_blocked_ns, 0);
    }

    #[test]
    fn newest_keeps_the_first_depth_frames() {
        let queue = strategy(DropPolicy::Newest, 2, 1);
        let mut reader = queue.clone().reader();
        for seq in 1..=10 {
            queue.publish(render(seq));
        }
        assert_eq!(drain(&mut reader, 0), vec![1, 2]);
        // Room again: the next frame is queued.
        queue.publish(render(11));
        assert_eq!(drain(&mut reader, 2), vec![11]);
        let stats = queue.queue_stats().unwrap();
        assert_eq!(stats[0].dropped_by_policy, 8);
        assert_eq!(stats[0].max_depth, 2);
    }

    #[test]
    fn deeper_queue_drops_less() {
        for (policy, kept) in [
            (DropPolicy::Oldest, vec![6, 7, 8, 9, 10]),
            (DropPolicy::Newest, vec![1, 2, 3, 4, 5]),
        ] {
            let queue = strategy(policy, 5, 1);
            let mut reader = queue.clone().reader();
            for seq in 1..=10 {
                queue.publish(render(seq));
            }
            assert_eq!(drain(&mut reader, 0), kept, "{policy:?}");
            assert_eq!(queue.queue_stats().unwrap()[0].dropped_by_policy, 5);
        }
    }

    /// `block` loses nothing: the producer publishes 50 frames into a queue of 2 while the
    /// reader takes them one at a time; every frame arrives, in order, once.
    #[test]
    fn block_loses_nothing() {
        let queue = strategy(DropPolicy::Block, 2, 1);
        let mut reader = queue.clone().reader();
        let producer = {
            let queue = queue.clone();
            thread::spawn(move || {
                for seq in 1..=50 {
                    assert_eq!(queue.publish(render(seq)), Publish::Published(seq));
                }
                queue.close();
            })
        };
        let mut last = 0;
        let mut seen = Vec::new();
        while let WaitOutcome::Newer(next) = reader.wait_newer(last, WaitMode::Block) {
            let frame = reader.acquire().unwrap();
            assert_eq!(frame.meta().publish_seq, next);
            assert_eq!(next, last + 1, "no gap under block");
            assert!(is_whole(&frame));
            last = next;
            seen.push(frame.meta().seq);
        }
        producer.join().unwrap();
        assert_eq!(seen, (1..=50).collect::<Vec<_>>());
        let stats = queue.queue_stats().unwrap();
        assert_eq!(stats[0].dropped_by_policy, 0);
        assert!(stats[0].max_depth <= 2);
    }

    /// Per consumer: a reader that keeps up loses nothing while one that takes nothing loses
    /// what its queue cannot hold; each is counted for its own queue.
    #[test]
    fn policies_count_per_consumer() {
        for policy in [DropPolicy::Oldest, DropPolicy::Newest] {
            let queue = strategy(policy, 2, 2);
            let mut quick = queue.clone().reader();
            let mut stalled = queue.clone().reader();
            let mut quick_seen = Vec::new();
            for seq in 1..=10 {
                queue.publish(render(seq));
                quick_seen.extend(drain(&mut quick, seq - 1));
            }
            assert_eq!(quick_seen, (1..=10).collect::<Vec<_>>(), "{policy:?}");
            let expected = match policy {
                DropPolicy::Oldest => vec![9, 10],
                _ => vec![1, 2],
            };
            assert_eq!(drain(&mut stalled, 0), expected, "{policy:?}");
            let stats = queue.queue_stats().unwrap();
            assert_eq!(stats[0].dropped_by_policy, 0);
            assert_eq!(stats[0].max_depth, 1);
            assert_eq!(stats[1].dropped_by_policy, 8);
            assert_eq!(stats[1].max_depth, 2);
        }
    }

    /// A blocked producer is freed when the consumer it waits for goes away, and the frames
    /// left in that consumer's queue go back to the pool.
    #[test]
    fn a_departed_consumer_frees_the_producer_and_its_frames() {
        let queue = strategy(DropPolicy::Block, 2, 1);
        let reader = queue.clone().reader();
        queue.publish(render(1));
        queue.publish(render(2));
        let producer = {
            let queue = queue.clone();
            // Blocks: the queue is full and nobody reads.
            thread::spawn(move || queue.publish(render(3)))
        };
        drop(reader);
        assert_eq!(producer.join().unwrap(), Publish::Published(3));
        assert_eq!(queue.frames_outstanding(), Some(0));
    }

    /// `block`: while the producer waits for room in a stalled consumer's queue, a quick
    /// consumer already has the frame (its own push woke it), whichever was created first.
    /// Deterministic: the producer cannot finish before the stalled reader takes a frame.
    #[test]
    fn block_holds_the_producer_not_the_quick_consumers() {
        let queue = strategy(DropPolicy::Block, 1, 2);
        let mut stalled = queue.clone().reader();
        let mut quick = queue.clone().reader();
        queue.publish(render(1));
        assert_eq!(quick.wait_newer(0, WaitMode::Block), WaitOutcome::Newer(1));
        drop(quick.acquire());
        let producer = {
            let queue = queue.clone();
            // The stalled queue (depth 1) still holds frame 1: this publish waits for it.
            thread::spawn(move || queue.publish(render(2)))
        };
        assert_eq!(quick.wait_newer(1, WaitMode::Block), WaitOutcome::Newer(2));
        assert_eq!(quick.acquire().unwrap().meta().seq, 2);
        assert!(
            !producer.is_finished(),
            "still waiting for the stalled queue"
        );
        assert_eq!(stalled.acquire().unwrap().meta().seq, 1);
        assert_eq!(producer.join().unwrap(), Publish::Published(2));
        assert_eq!(stalled.acquire().unwrap().meta().seq, 2);
        let stats = queue.queue_stats().unwrap();
        assert!(
            stats[0].producer_blocked_ns > 0,
            "the producer waited for consumer 0"
        );
        assert_eq!(stats[1].producer_blocked_ns, 0, "and never for consumer 1");
        assert!(stats.iter().all(|s| s.dropped_by_policy == 0));
    }

    #[test]
    fn wait_reports_the_head_and_closed_after_the_last() {
        for policy in DropPolicy::ALL {
            let queue = strategy(policy, 2, 1);
            let mut reader = queue.clone().reader();
            queue.publish(render(1));
            queue.publish(render(2));
            queue.close();
            let mut last = 0;
            let mut seen = Vec::new();
            while let WaitOutcome::Newer(next) = reader.wait_newer(last, WaitMode::Spin) {
                seen.push(reader.acquire().unwrap().meta().publish_seq);
                last = next;
            }
            assert_eq!(seen, vec![1, 2], "{policy:?}");
        }
    }

    #[test]
    fn no_frame_is_leaked() {
        for policy in DropPolicy::ALL {
            let queue = strategy(policy, 2, 2);
            let mut readers = [queue.clone().reader(), queue.clone().reader()];
            for seq in 1..=2 {
                queue.publish(render(seq));
            }
            let held = readers[0].acquire().unwrap();
            assert_eq!(queue.frames_outstanding(), None, "readers alive");
            drop(readers);
            assert_eq!(
                queue.frames_outstanding(),
                Some(1),
                "{policy:?}: one still held"
            );
            drop(held);
            assert_eq!(queue.frames_outstanding(), Some(0), "{policy:?}");
            assert_eq!(queue.stats().frame_allocations, 0);
        }
    }

    #[test]
    fn policy_names_round_trip() {
        for policy in DropPolicy::ALL {
            assert_eq!(DropPolicy::from_name(policy.name()), Some(policy));
        }
        assert_eq!(DropPolicy::from_name("leaky"), None);
    }
}
