//! `pool`: a set of pre-allocated frame buffers. The producer takes a free buffer, renders
//! into it in place and publishes a reference-counted handle; readers clone the handle and
//! read in place; the buffer goes back to the free list when the last handle is dropped.
//!
//! Zero copies. The cost moves to exhaustion: when every buffer is held (by readers, by the
//! "latest" slot and by the producer), the [`PoolPolicy`] either grows the pool by one
//! buffer (counted in `pool_grows`, and visible in memory) or refuses the frame (counted as
//! a producer drop). A held frame can never be overwritten, because the producer only
//! writes buffers that no handle points to.
//!
//! Lock-free state: none of its own. The free list and the published frame sit behind
//! mutexes, buffers return through `Arc`'s reference count (the standard library's), and
//! the counters are relaxed tallies. The one lock-free handshake it relies on is the
//! [`Notifier`]'s, which is model-checked (`notify_loom_*`).

use std::sync::Arc;

use parking_lot::Mutex;

use crate::{
    resident_buffer, Counters, FrameMeta, FrameView, Notifier, Publish, Reader, Strategy,
    StrategyParams, StrategyStats, WaitMode, WaitOutcome,
};

/// Buffers pre-allocated by default: the published frame, the one being rendered and a
/// couple held by readers at the same time.
pub const DEFAULT_POOL_SIZE: usize = 4;

/// What the pool does when no buffer is free. A pool has at least two buffers: one is
/// always the published frame, the producer needs another to render into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolPolicy {
    /// Allocate one more buffer (it stays in the pool).
    Grow,
    /// Refuse the frame: a producer drop.
    Drop,
}

/// Free buffers of a pool; shared with the frames so that they can return home. Also used by
/// `queue`, `broadcast` and `ideal`, which hand out the same pooled frames.
pub(crate) type FreeList = Mutex<Vec<Vec<u8>>>;

pub struct PoolStrategy {
    free: Arc<FreeList>,
    latest: Mutex<Option<Arc<PooledFrame>>>,
    policy: PoolPolicy,
    notifier: Notifier,
    counters: Counters,
    frame_len: usize,
    /// Buffers allocated at construction (grows are counted in `counters`).
    initial_buffers: usize,
}

/// A published frame. Its buffer returns to the free list when the last handle drops.
pub struct PooledFrame {
    pub(crate) meta: FrameMeta,
    pub(crate) data: Vec<u8>,
    pub(crate) home: Arc<FreeList>,
}

impl Drop for PooledFrame {
    fn drop(&mut self) {
        let data = std::mem::take(&mut self.data);
        self.home.lock().push(data);
    }
}

impl PoolStrategy {
    pub fn new(params: &StrategyParams) -> Self {
        let initial_buffers = params.pool_size.max(2);
        let buffers = (0..initial_buffers)
            .map(|_| resident_buffer(params.frame_len))
            .collect();
        PoolStrategy {
            free: Arc::new(Mutex::new(buffers)),
            latest: Mutex::new(None),
            policy: params.pool_policy,
            notifier: Notifier::with_waker(params.waker),
            counters: Counters::default(),
            frame_len: params.frame_len,
            initial_buffers,
        }
    }
}

impl crate::Build for PoolStrategy {
    fn descriptor() -> crate::Descriptor {
        crate::Descriptor::new(
            "pool",
            "pre-allocated buffers; producer renders into a free one and publishes a shared handle (0 copies; exhaustion grows or drops)",
        )
        .origin(crate::Origin::Own)
        .resident_frames(|p| p.pool_size.max(2))
        .parameters(&["pool_size", "pool_policy"])
    }

    fn build(params: &StrategyParams) -> Result<Self, crate::BuildError> {
        Ok(PoolStrategy::new(params))
    }
}

impl Strategy for PoolStrategy {
    type Reader = PoolReader;

    fn name(&self) -> &'static str {
        "pool"
    }

    fn publish<F: FnOnce(&mut [u8]) -> FrameMeta>(&self, render: F) -> Publish {
        let buffer = self.free.lock().pop();
        let mut data = match (buffer, self.policy) {
            (Some(data), _) => data,
            (None, PoolPolicy::Grow) => {
                self.counters.add_grow();
                self.counters.add_allocation();
                resident_buffer(self.frame_len)
            }
            (None, PoolPolicy::Drop) => {
                self.counters.add_drop();
                return Publish::Dropped;
            }
        };
        let mut meta = render(&mut data);
        let seq = self.notifier.next_seq();
        meta.publish_seq = seq;
        let frame = Arc::new(PooledFrame {
            meta,
            data,
            home: Arc::clone(&self.free),
        });
        let previous = self.latest.lock().replace(frame);
        // Dropped outside the lock: it may return a buffer to the free list.
        drop(previous);
        self.notifier.announce(seq);
        Publish::Published(seq)
    }

    fn reader(self: Arc<Self>) -> PoolReader {
        PoolReader { strategy: self }
    }

    fn close(&self) {
        self.notifier.close();
    }

    fn stats(&self) -> StrategyStats {
        self.notifier.stats(&self.counters)
    }

    fn frames_outstanding(&self) -> Option<u64> {
        // Every buffer ever made is free, or is the published frame; any other is held by a
        // handle that was never dropped.
        let made = self.initial_buffers as u64 + self.stats().pool_grows;
        let published = u64::from(self.latest.lock().is_some());
        let free = self.free.lock().len() as u64;
        Some(made.saturating_sub(free + published))
    }
}

pub struct PoolReader {
    strategy: Arc<PoolStrategy>,
}

/// A reader's handle on a pooled frame.
pub struct PoolHandle(pub(crate) Arc<PooledFrame>);

impl FrameView for PoolHandle {
    fn meta(&self) -> &FrameMeta {
        &self.0.meta
    }
    fn bytes(&self) -> &[u8] {
        &self.0.data
    }
}

impl Reader for PoolReader {
    type Frame<'a> = PoolHandle;

    fn wait_newer(&mut self, after: u64, mode: WaitMode) -> WaitOutcome {
        self.strategy.notifier.wait_newer(after, mode)
    }

    fn acquire(&mut self) -> Option<PoolHandle> {
        self.strategy.latest.lock().clone().map(PoolHandle)
    }
}
