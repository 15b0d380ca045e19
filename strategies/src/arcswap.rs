//! `arcswap`: every publish allocates a new frame and swaps it in with
//! [`arc_swap::ArcSwapOption`]; readers load a reference-counted handle and read in place.
//!
//! Nobody blocks anybody: the swap and the loads are lock-free. The price is one frame-sized
//! allocation per publish (and its free when the last reader lets go), which shows up as
//! allocator time in `publish` and as allocator churn in memory.

use std::sync::Arc;

use arc_swap::ArcSwapOption;

use crate::{
    resident_buffer, Counters, FrameMeta, FrameView, Notifier, Publish, Reader, Strategy,
    StrategyParams, StrategyStats, WaitMode, WaitOutcome,
};

pub struct ArcSwapStrategy {
    latest: ArcSwapOption<SwappedFrame>,
    notifier: Notifier,
    counters: Counters,
    frame_len: usize,
}

pub struct SwappedFrame {
    meta: FrameMeta,
    data: Vec<u8>,
}

impl ArcSwapStrategy {
    pub fn new(params: &StrategyParams) -> Self {
        ArcSwapStrategy {
            latest: ArcSwapOption::empty(),
            notifier: Notifier::with_waker(params.waker),
            counters: Counters::default(),
            frame_len: params.frame_len,
        }
    }
}

impl crate::Build for ArcSwapStrategy {
    fn descriptor() -> crate::Descriptor {
        crate::Descriptor::new(
            "arcswap",
            "a freshly allocated frame per publish, swapped in atomically with arc-swap (0 copies; one allocation per frame)",
        )
        .origin(crate::Origin::Own)
        // the published frame, the one being written, one more held per reader at worst
            .resident_frames(|p| 2 + p.consumers)
    }

    fn build(params: &StrategyParams) -> Result<Self, crate::BuildError> {
        Ok(ArcSwapStrategy::new(params))
    }
}

impl Strategy for ArcSwapStrategy {
    type Reader = ArcSwapReader;

    fn name(&self) -> &'static str {
        "arcswap"
    }

    fn publish<F: FnOnce(&mut [u8]) -> FrameMeta>(&self, render: F) -> Publish {
        // Made resident here, so the page faults of a fresh frame are paid (and measured)
        // as publishing cost, not hidden in the source's rendering.
        let mut data = resident_buffer(self.frame_len);
        self.counters.add_allocation();
        let mut meta = render(&mut data);
        let seq = self.notifier.next_seq();
        meta.publish_seq = seq;
        self.latest
            .store(Some(Arc::new(SwappedFrame { meta, data })));
        self.notifier.announce(seq);
        Publish::Published(seq)
    }

    fn reader(self: Arc<Self>) -> ArcSwapReader {
        ArcSwapReader { strategy: self }
    }

    fn close(&self) {
        self.notifier.close();
    }

    fn stats(&self) -> StrategyStats {
        self.notifier.stats(&self.counters)
    }
}

pub struct ArcSwapReader {
    strategy: Arc<ArcSwapStrategy>,
}

pub struct SwappedHandle(Arc<SwappedFrame>);

impl FrameView for SwappedHandle {
    fn meta(&self) -> &FrameMeta {
        &self.0.meta
    }
    fn bytes(&self) -> &[u8] {
        &self.0.data
    }
}

impl Reader for ArcSwapReader {
    type Frame<'a> = SwappedHandle;

    fn wait_newer(&mut self, after: u64, mode: WaitMode) -> WaitOutcome {
        self.strategy.notifier.wait_newer(after, mode)
    }

    fn acquire(&mut self) -> Option<SwappedHandle> {
        self.strategy.latest.load_full().map(SwappedHandle)
    }
}
