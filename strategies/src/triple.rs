//! `triple-buffer` (a peer): the [`triple_buffer`] crate, one triple buffer per consumer.
//!
//! `triple_buffer` (HadrienG2) is the reference wait-free *single-producer single-consumer*
//! triple buffer: the writer fills a back buffer and swaps it with the middle one in one
//! atomic exchange; the reader swaps the middle one with its front buffer when it sees the
//! "dirty" bit. Neither side ever waits for the other and a reader's front buffer never
//! changes under it, so frames never tear.
//!
//! It has one reader by construction. The natural way to serve N consumers with it, and
//! the one this strategy measures, is N independent triple buffers, with the producer
//! writing the frame into each: the source renders into the first consumer's back buffer
//! and the producer copies it into the other N−1 (so N frame writes per frame, N−1 of
//! them copies, and 3N frame buffers resident). That cost growing with N is the point of
//! running it beside `shm`, which serves any number of readers from three slots.
//!
//! The crate has no way to wait for a frame; waiting is fbench's [`Notifier`], announced
//! once every consumer's buffer has the frame, as for the other in-process strategies.
//!
//! A consumer created after frames were published sees nothing until the next publish
//! (its buffer starts empty). The harness creates every consumer before the first frame.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use triple_buffer::{Input, Output, TripleBuffer};

use crate::{
    resident_buffer, Counters, FrameMeta, FrameView, Notifier, Publish, Reader, Strategy,
    StrategyParams, StrategyStats, WaitMode, WaitOutcome,
};

/// What each of the three buffers of one consumer's triple buffer holds.
#[derive(Clone)]
pub struct TripleFrame {
    meta: FrameMeta,
    data: Vec<u8>,
}

impl FrameView for TripleFrame {
    fn meta(&self) -> &FrameMeta {
        &self.meta
    }
    fn bytes(&self) -> &[u8] {
        &self.data
    }
}

/// The producer's end of one consumer's triple buffer.
struct Feed {
    input: Input<TripleFrame>,
    /// Cleared when the consumer's reader drops: the producer stops writing its copy.
    alive: Arc<AtomicBool>,
}

pub struct TripleBufferStrategy {
    feeds: Mutex<Feeds>,
    notifier: Notifier,
    counters: Counters,
    frame_len: usize,
}

struct Feeds {
    feeds: Vec<Feed>,
    /// Render target while no consumer exists.
    staging: Vec<u8>,
}

impl TripleBufferStrategy {
    pub fn new(params: &StrategyParams) -> Self {
        TripleBufferStrategy {
            feeds: Mutex::new(Feeds {
                feeds: Vec::with_capacity(params.consumers),
                staging: Vec::new(),
            }),
            notifier: Notifier::with_waker(params.waker),
            counters: Counters::default(),
            frame_len: params.frame_len,
        }
    }
}

impl crate::Build for TripleBufferStrategy {
    fn descriptor() -> crate::Descriptor {
        crate::Descriptor::new(
            "triple-buffer",
            "the triple_buffer crate (SPSC), one triple buffer per consumer; the producer writes every one (N writes, 3N buffers)",
        )
        .origin(crate::Origin::Peer)
        // the reader swaps buffer indices and reads in place; the copies are the producer's.
            // Three buffers per consumer's triple buffer.
            .resident_frames(|p| 3 * p.consumers.max(1))
    }

    fn build(params: &StrategyParams) -> Result<Self, crate::BuildError> {
        Ok(TripleBufferStrategy::new(params))
    }
}

impl Strategy for TripleBufferStrategy {
    type Reader = TripleBufferReader;

    fn name(&self) -> &'static str {
        "triple-buffer"
    }

    fn publish<F: FnOnce(&mut [u8]) -> FrameMeta>(&self, render: F) -> Publish {
        let mut guard = self.feeds.lock();
        let Feeds { feeds, staging } = &mut *guard;
        // Acquire: pairs with the Release store of a dropping reader; a dead feed is never
        // read again, so skipping it early or late is only wasted work.
        feeds.retain(|feed| feed.alive.load(Ordering::Acquire));
        let seq = self.notifier.next_seq();
        match feeds.split_first_mut() {
            None => {
                if staging.len() != self.frame_len {
                    *staging = resident_buffer(self.frame_len);
                }
                render(staging);
            }
            Some((first, rest)) => {
                let source = first.input.input_buffer_mut();
                let mut meta = render(&mut source.data);
                meta.publish_seq = seq;
                source.meta = meta;
                for feed in rest.iter_mut() {
                    let copy = feed.input.input_buffer_mut();
                    copy.data.copy_from_slice(&source.data);
                    copy.meta = meta;
                    self.counters.add_copied(self.frame_len);
                }
                first.input.publish();
                for feed in rest {
                    feed.input.publish();
                }
            }
        }
        drop(guard);
        self.notifier.announce(seq);
        Publish::Published(seq)
    }

    fn reader(self: Arc<Self>) -> TripleBufferReader {
        let empty = TripleFrame {
            meta: FrameMeta::default(),
            data: resident_buffer(self.frame_len),
        };
        // Three resident frames per consumer: TripleBuffer clones `empty` into each.
        let (input, output) = TripleBuffer::new(&empty).split();
        let alive = Arc::new(AtomicBool::new(true));
        self.feeds.lock().feeds.push(Feed {
            input,
            alive: alive.clone(),
        });
        TripleBufferReader {
            strategy: self,
            output,
            alive,
        }
    }

    fn close(&self) {
        self.notifier.close();
    }

    fn stats(&self) -> StrategyStats {
        self.notifier.stats(&self.counters)
    }
}

pub struct TripleBufferReader {
    strategy: Arc<TripleBufferStrategy>,
    output: Output<TripleFrame>,
    alive: Arc<AtomicBool>,
}

impl Drop for TripleBufferReader {
    fn drop(&mut self) {
        // Release: our last reads of the buffers happen before the producer drops them.
        self.alive.store(false, Ordering::Release);
    }
}

impl Reader for TripleBufferReader {
    type Frame<'a> = &'a TripleFrame;

    fn wait_newer(&mut self, after: u64, mode: WaitMode) -> WaitOutcome {
        self.strategy.notifier.wait_newer(after, mode)
    }

    fn acquire(&mut self) -> Option<&TripleFrame> {
        self.output.update();
        let frame = self.output.peek_output_buffer();
        (frame.meta.publish_seq > 0).then_some(frame)
    }
}

impl FrameView for &TripleFrame {
    fn meta(&self) -> &FrameMeta {
        &self.meta
    }
    fn bytes(&self) -> &[u8] {
        &self.data
    }
}
