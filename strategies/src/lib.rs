//! The strategy contract of fbench and the built-in frame-distribution strategies.
//!
//! A *strategy* is one way of handing the newest video frame from one producer to many
//! readers. This crate knows nothing of consumers, workloads, clocks or reports: it moves
//! bytes and a small metadata header, and counts what it costs in copies, allocations and
//! refused frames. Everything that is measured is measured by the harness around it.
//!
//! # The contract
//!
//! * **One writer.** [`Strategy::publish`] is called by a single producer thread. The
//!   strategy hands the producer a buffer of exactly `frame_len` bytes to render into
//!   (in place for the zero-copy strategies, a staging buffer for the copying ones) and
//!   the producer returns the frame's [`FrameMeta`]. The strategy assigns the
//!   `publish_seq` (1, 2, 3, … for the frames it accepted).
//! * **Latest-value semantics.** [`Reader::acquire`] returns the newest published frame;
//!   frames published between two acquisitions are never seen by that reader (they are
//!   its drops, counted by the harness from `publish_seq` gaps).
//! * **Waiting.** [`Reader::wait_newer`] returns once a frame newer than a given
//!   `publish_seq` exists, or the strategy is closed and nothing newer will come. The
//!   [`WaitMode::Block`] mode sleeps in the kernel (no busy-wait); `Poll` and `Spin` exist to
//!   measure what those cost.
//! * **Holding.** The value returned by `acquire` keeps the frame readable until dropped.
//!   A correct strategy guarantees its bytes do not change while it is held and that they
//!   all come from one write; the harness checks both with integrity stamps.
//!
//! The contract uses generic associated types rather than trait objects so that the hot
//! path (acquire, read, release) has no dynamic dispatch and no allocation of its own; the
//! set of built-in strategies is the closed enum [`StrategyKind`], built in one place,
//! [`StrategyKind::build`].

use std::sync::Arc;
use std::time::Duration;

mod arcswap;
#[cfg(all(feature = "peers", not(loom)))]
pub mod iceoryx;
mod mutex;
mod notify;
mod pool;
pub mod primitive;
mod rwlock;
pub mod shm;
mod snapshot;
mod triple;
mod unsync;
pub mod wake;

pub use arcswap::ArcSwapStrategy;
pub use mutex::MutexStrategy;
pub use notify::Notifier;
pub use pool::{PoolPolicy, PoolStrategy, DEFAULT_POOL_SIZE};
pub use rwlock::RwLockStrategy;
#[cfg(not(loom))]
pub use shm::ShmStrategy;
pub use shm::{default_slots, SlotPolicy};
pub use triple::{TripleBufferReader, TripleBufferStrategy};
pub use unsync::UnsyncStrategy;

/// The header that travels with every frame.
///
/// `repr(C)` and plain integers only, so that the same header can live in a shared-memory
/// segment read by other processes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct FrameMeta {
    /// Source sequence number, from 1. Gaps are frames the source never produced.
    pub seq: u64,
    /// Publication number assigned by the strategy, from 1, without gaps for accepted
    /// frames. 0 means "nothing published yet".
    pub publish_seq: u64,
    /// CLOCK_MONOTONIC nanoseconds when the source finished producing the frame.
    pub capture_ns: u64,
    /// Optional checksum of the payload (0 when the producer did not compute one).
    pub checksum: u64,
    pub width: u32,
    pub height: u32,
    /// Pixel format code; its meaning belongs to the harness.
    pub format: u32,
    pub _reserved: u32,
}

/// How a reader waits for a newer frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitMode {
    /// Sleep in the kernel until the producer wakes us.
    Block,
    /// Check, then sleep for the interval, then check again.
    Poll(Duration),
    /// Check in a tight loop (burns a core per reader).
    Spin,
}

/// How readers blocked in [`Reader::wait_newer`] are woken (`--waker`). Every in-process
/// strategy uses the one chosen, through [`Notifier`]; `shm` always uses the futex.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Waker {
    /// A futex word and a count of sleepers, the fenced handshake of [`wake`]: the same
    /// mechanism as `shm`'s, so comparisons are of the sharing designs.
    #[default]
    Futex,
    /// A parking_lot condition variable (`notify_all` requeues the sleepers).
    Condvar,
}

impl Waker {
    pub const ALL: [Waker; 2] = [Waker::Futex, Waker::Condvar];

    pub fn name(self) -> &'static str {
        match self {
            Waker::Futex => "futex",
            Waker::Condvar => "condvar",
        }
    }

    pub fn from_name(name: &str) -> Option<Waker> {
        Waker::ALL.into_iter().find(|w| w.name() == name)
    }
}

/// What [`Reader::wait_newer`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitOutcome {
    /// A frame with this `publish_seq` (greater than the one waited past) is available.
    Newer(u64),
    /// The strategy was closed and nothing newer than the one waited past exists.
    Closed,
}

/// What [`Strategy::publish`] did with a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Publish {
    /// Accepted and visible to readers under this `publish_seq`.
    Published(u64),
    /// Refused (e.g. no free buffer under the `drop` pool policy): a producer drop.
    Dropped,
}

/// A frame a reader holds. Dropping it releases the frame.
pub trait FrameView {
    fn meta(&self) -> &FrameMeta;
    fn bytes(&self) -> &[u8];
}

/// The per-consumer side of a strategy. One per consumer thread (or process).
pub trait Reader: Send {
    type Frame<'a>: FrameView
    where
        Self: 'a;

    /// Returns once a frame with `publish_seq > after` exists, or the strategy is closed
    /// and none will. A newer frame already published before close is still reported.
    fn wait_newer(&mut self, after: u64, mode: WaitMode) -> WaitOutcome;

    /// The newest published frame, or `None` before the first publish.
    fn acquire(&mut self) -> Option<Self::Frame<'_>>;
}

/// Counters a strategy keeps about its own costs. Relaxed counters, read once the run's
/// threads have been joined.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StrategyStats {
    /// Frames accepted.
    pub published: u64,
    /// Frames refused by the strategy.
    pub producer_drops: u64,
    /// Payload bytes copied by the strategy (producer copy-in plus reader copy-out).
    pub bytes_copied: u64,
    /// Frame-sized buffers allocated after construction.
    pub frame_allocations: u64,
    /// Buffers a pool added because it was exhausted (pool strategy only).
    pub pool_grows: u64,
    /// Readers' blocking waits that timed out and then found a newer frame (or the close): a
    /// wake-up the waker owed and never delivered. Expected 0 (see [`wake`]).
    pub lost_wakeups: u64,
}

/// One producer, many readers: the contract every strategy implements.
pub trait Strategy: Send + Sync + 'static {
    type Reader: Reader;

    /// The `--strategy` name.
    fn name(&self) -> &'static str;

    /// Publish one frame. `render` fills exactly `frame_len` bytes and returns the frame's
    /// metadata (its `publish_seq` is overwritten by the strategy). Single producer only.
    fn publish<F: FnOnce(&mut [u8]) -> FrameMeta>(&self, render: F) -> Publish;

    /// A new reader for one consumer.
    fn reader(self: Arc<Self>) -> Self::Reader;

    /// No more frames will be published: wake every waiting reader. Call it after the last
    /// `publish`, from the producer thread or after joining it; readers rely on that order
    /// to see the final frame before `Closed`.
    fn close(&self);

    fn stats(&self) -> StrategyStats;

    /// Frame buffers handed to readers and never given back, counted once every reader is
    /// gone: a soak's leak check. `None` for strategies with nothing to give back (a copy
    /// out of one shared buffer, or frames freed by reference counting alone).
    fn frames_outstanding(&self) -> Option<u64> {
        None
    }
}

/// Parameters every strategy is built from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StrategyParams {
    /// Payload size of one frame in bytes.
    pub frame_len: usize,
    /// Number of consumers that will read (a hint for sizing).
    pub consumers: usize,
    /// Buffers the `pool` strategy pre-allocates.
    pub pool_size: usize,
    /// What `pool` does when every buffer is in use.
    pub pool_policy: PoolPolicy,
    /// Frame slots of the `shm` strategies; `None` means [`default_slots`] for `consumers`
    /// (consumers + 2, see [`shm`]). Read it through [`StrategyParams::shm_slots`].
    pub slots: Option<usize>,
    /// What `shm` does when every slot is held.
    pub slot_policy: SlotPolicy,
    /// How the in-process strategies wake blocked readers.
    pub waker: Waker,
    /// Frame geometry, recorded in the `shm` segment header.
    pub width: u32,
    pub height: u32,
    pub format: u32,
}

impl StrategyParams {
    pub fn new(frame_len: usize, consumers: usize) -> Self {
        StrategyParams {
            frame_len,
            consumers,
            pool_size: pool::DEFAULT_POOL_SIZE,
            pool_policy: PoolPolicy::Grow,
            slots: None,
            slot_policy: SlotPolicy::Drop,
            waker: Waker::Futex,
            width: 0,
            height: 0,
            format: 0,
        }
    }

    /// The slot count the `shm` strategies use: `slots` if given, else consumers + 2.
    pub fn shm_slots(&self) -> usize {
        self.slots.unwrap_or_else(|| default_slots(self.consumers))
    }

    /// Frame-sized buffers the strategy holds from construction, plus one private copy
    /// per consumer for the copying strategies: what must fit in memory before a run.
    pub fn resident_frames(&self, kind: StrategyKind) -> usize {
        match kind {
            // shared buffer + producer staging + one private copy per consumer
            StrategyKind::Mutex | StrategyKind::Unsync => 2 + self.consumers,
            // shared buffer + producer staging
            StrategyKind::RwLock => 2,
            StrategyKind::Pool => self.pool_size.max(2),
            // the published frame, the one being written, one more held per reader at worst
            StrategyKind::ArcSwap => 2 + self.consumers,
            StrategyKind::Shm | StrategyKind::ShmNaive => self.shm_slots(),
            // three buffers per consumer's triple buffer
            StrategyKind::TripleBuffer => 3 * self.consumers.max(1),
            // iceoryx2 sizes its pool for the worst case: each subscriber's buffer and
            // borrows, plus the publisher's loan (see `iceoryx`)
            StrategyKind::Iceoryx2 => 3 * self.consumers + 1,
        }
    }
}

/// Something generic over the strategy type, run by [`StrategyKind::build`]. This is how the
/// harness gets a monomorphised runner for each strategy out of a runtime choice.
pub trait WithStrategy {
    type Output;
    fn run<S: Strategy>(self, strategy: Arc<S>) -> Self::Output;
}

/// The built-in strategies. `Unsync` is a deliberately broken canary that proves the
/// torn-frame detector works; it is hidden and never part of `all`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StrategyKind {
    Mutex,
    RwLock,
    Pool,
    ArcSwap,
    Shm,
    ShmNaive,
    Unsync,
    /// Peer: the `triple_buffer` crate, one triple buffer per consumer.
    TripleBuffer,
    /// Peer: iceoryx2 publish-subscribe across processes. Runs only in a build with the
    /// `peers` feature; the name is known to every build so that asking for it says so.
    Iceoryx2,
}

/// Why a strategy could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[cfg(not(loom))]
    #[error(transparent)]
    Segment(#[from] shm::SegmentError),
    #[error("iceoryx2: {0}")]
    Iceoryx2(String),
    #[error("strategy '{0}' is not in this build; rebuild with `--features peers`")]
    NotBuilt(&'static str),
}

impl StrategyKind {
    /// What `--strategy all` runs, in report order. `mutex` first: it is the reference.
    pub const ALL: [StrategyKind; 5] = [
        StrategyKind::Mutex,
        StrategyKind::RwLock,
        StrategyKind::Pool,
        StrategyKind::ArcSwap,
        StrategyKind::Shm,
    ];

    /// Strategies that exist to demonstrate a failure: listed and runnable by name, never in
    /// `all`.
    pub const DEMONSTRATIONS: [StrategyKind; 1] = [StrategyKind::ShmNaive];

    /// Other people's designs run on the same source, consumers and metrics: listed as peers,
    /// run by name or with `peers`, never in `all` (which stays fbench's own five, so that
    /// `all` means the same in every build). `iceoryx2` is listed in every build and runs in
    /// builds with the `peers` feature ([`StrategyKind::is_built`]).
    pub const PEERS: [StrategyKind; 2] = [StrategyKind::Iceoryx2, StrategyKind::TripleBuffer];

    /// Whether this build can run the strategy (`iceoryx2` needs the `peers` feature).
    pub fn is_built(self) -> bool {
        self != StrategyKind::Iceoryx2 || cfg!(feature = "peers")
    }

    /// Whether the strategy is another project's design run as a peer.
    pub fn is_peer(self) -> bool {
        StrategyKind::PEERS.contains(&self)
    }

    pub fn name(self) -> &'static str {
        match self {
            StrategyKind::Mutex => "mutex",
            StrategyKind::RwLock => "rwlock",
            StrategyKind::Pool => "pool",
            StrategyKind::ArcSwap => "arcswap",
            StrategyKind::Shm => "shm",
            StrategyKind::ShmNaive => "shm-naive",
            StrategyKind::Unsync => "unsync",
            StrategyKind::TripleBuffer => "triple-buffer",
            StrategyKind::Iceoryx2 => "iceoryx2",
        }
    }

    /// One line for `fbench list`.
    pub fn summary(self) -> &'static str {
        match self {
            StrategyKind::Mutex => {
                "one buffer behind a mutex; producer copies in, every consumer copies out under the lock (1+N copies)"
            }
            StrategyKind::RwLock => {
                "one buffer behind a reader-writer lock; readers read in place holding the read lock (1 copy; readers block the writer)"
            }
            StrategyKind::Pool => {
                "pre-allocated buffers; producer renders into a free one and publishes a shared handle (0 copies; exhaustion grows or drops)"
            }
            StrategyKind::ArcSwap => {
                "a freshly allocated frame per publish, swapped in atomically with arc-swap (0 copies; one allocation per frame)"
            }
            StrategyKind::Shm => {
                "triple buffer in shared memory with reader tracking; consumers are processes reading in place (0 copies; no torn frames)"
            }
            StrategyKind::ShmNaive => {
                "DEMONSTRATION: the seed's V2 triple buffer without reader tracking; tears frames under slow readers (never in all)"
            }
            StrategyKind::Unsync => {
                "CANARY: no synchronisation at all; tears frames on purpose to prove the detector works"
            }
            StrategyKind::TripleBuffer => {
                "the triple_buffer crate (SPSC), one triple buffer per consumer; the producer writes every one (N writes, 3N buffers)"
            }
            StrategyKind::Iceoryx2 => {
                "iceoryx2 publish-subscribe, loaned samples in shared memory, subscriber buffer 1 with safe overflow; consumers are processes (0 copies)"
            }
        }
    }

    /// Whether a reader's `acquire` copies the frame out (its floor is one frame copy)
    /// rather than taking a reference to shared bytes (its floor is a cache line's round
    /// trip between cores). Reports compare acquire times with the matching floor.
    pub fn acquire_copies(self) -> bool {
        match self {
            StrategyKind::Mutex | StrategyKind::Unsync => true,
            // the reader swaps buffer indices and reads in place; the copies are the producer's
            StrategyKind::TripleBuffer => false,
            StrategyKind::Iceoryx2
            | StrategyKind::RwLock
            | StrategyKind::Pool
            | StrategyKind::ArcSwap
            | StrategyKind::Shm
            | StrategyKind::ShmNaive => false,
        }
    }

    /// Whether the strategy is shown by `fbench list` and accepted by name without being
    /// asked for explicitly as a canary.
    pub fn is_canary(self) -> bool {
        matches!(self, StrategyKind::Unsync)
    }

    pub fn from_name(name: &str) -> Option<StrategyKind> {
        [
            StrategyKind::Mutex,
            StrategyKind::RwLock,
            StrategyKind::Pool,
            StrategyKind::ArcSwap,
            StrategyKind::Shm,
            StrategyKind::ShmNaive,
            StrategyKind::Unsync,
            StrategyKind::TripleBuffer,
            StrategyKind::Iceoryx2,
        ]
        .into_iter()
        .find(|k| k.name() == name)
    }

    /// Whether fbench runs this strategy's consumers as separate processes.
    pub fn is_cross_process(self) -> bool {
        matches!(
            self,
            StrategyKind::Shm | StrategyKind::ShmNaive | StrategyKind::Iceoryx2
        )
    }

    /// The single place that constructs strategies. The cross-process ones are built here as
    /// their in-process stand-in (the same protocol over ordinary memory); the harness builds
    /// their shared-memory form itself.
    #[cfg(not(loom))]
    pub fn build<W: WithStrategy>(
        self,
        params: &StrategyParams,
        with: W,
    ) -> Result<W::Output, BuildError> {
        Ok(match self {
            StrategyKind::Mutex => with.run(Arc::new(MutexStrategy::new(params))),
            StrategyKind::RwLock => with.run(Arc::new(RwLockStrategy::new(params))),
            StrategyKind::Pool => with.run(Arc::new(PoolStrategy::new(params))),
            StrategyKind::ArcSwap => with.run(Arc::new(ArcSwapStrategy::new(params))),
            StrategyKind::Shm => with.run(Arc::new(ShmStrategy::in_process(params, false)?)),
            StrategyKind::ShmNaive => with.run(Arc::new(ShmStrategy::in_process(params, true)?)),
            StrategyKind::Unsync => with.run(Arc::new(UnsyncStrategy::new(params))),
            StrategyKind::TripleBuffer => with.run(Arc::new(TripleBufferStrategy::new(params))),
            #[cfg(feature = "peers")]
            StrategyKind::Iceoryx2 => {
                with.run(Arc::new(iceoryx::IceoryxStrategy::in_process(params)?))
            }
            #[cfg(not(feature = "peers"))]
            StrategyKind::Iceoryx2 => return Err(BuildError::NotBuilt(self.name())),
        })
    }
}

/// A frame-sized buffer whose pages are really resident, so that memory figures taken
/// after construction include it (an untouched `vec![0; n]` costs nothing until written).
pub(crate) fn resident_buffer(len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    // Write one byte per page; black_box keeps the compiler from proving the writes are
    // redundant with the zeroed allocation.
    for page in buf.chunks_mut(4096) {
        page[0] = std::hint::black_box(1);
    }
    buf
}

/// Statistics counters shared by the strategies.
#[derive(Default)]
pub(crate) struct Counters {
    producer_drops: std::sync::atomic::AtomicU64,
    bytes_copied: std::sync::atomic::AtomicU64,
    frame_allocations: std::sync::atomic::AtomicU64,
    pool_grows: std::sync::atomic::AtomicU64,
}

impl Counters {
    // Relaxed everywhere: these are tallies with no data depending on them; they are read
    // after the threads that wrote them were joined, which orders the reads after the writes.
    pub(crate) fn add_copied(&self, bytes: usize) {
        self.bytes_copied
            .fetch_add(bytes as u64, std::sync::atomic::Ordering::Relaxed);
    }
    pub(crate) fn add_drop(&self) {
        self.producer_drops
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    pub(crate) fn add_allocation(&self) {
        self.frame_allocations
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    pub(crate) fn add_grow(&self) {
        self.pool_grows
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    pub(crate) fn snapshot(&self, published: u64) -> StrategyStats {
        use std::sync::atomic::Ordering::Relaxed;
        StrategyStats {
            published,
            producer_drops: self.producer_drops.load(Relaxed),
            bytes_copied: self.bytes_copied.load(Relaxed),
            frame_allocations: self.frame_allocations.load(Relaxed),
            pool_grows: self.pool_grows.load(Relaxed),
            lost_wakeups: 0,
        }
    }
}

#[cfg(all(test, not(loom)))]
mod conformance;
