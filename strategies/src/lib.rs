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
//! * **Delivery.** A strategy declares one of two semantics ([`Strategy::delivery`]):
//!   - [`Delivery::Latest`] (the default): [`Reader::acquire`] returns the newest published
//!     frame; frames published between two acquisitions are never seen by that reader
//!     (they are its drops, counted by the harness from `publish_seq` gaps).
//!   - [`Delivery::Fifo`]: every reader has its own queue; `acquire` returns the *next*
//!     queued frame, oldest first, each frame at most once. Frames the strategy's policy
//!     discards for that reader leave `publish_seq` gaps too, so the harness counts them
//!     the same way, and the strategy counts them itself ([`Strategy::queue_stats`]).
//!
//!   The consumer loop is the same for both: wait past the last `publish_seq` seen, acquire.
//! * **Waiting.** [`Reader::wait_newer`] returns once a frame newer than a given
//!   `publish_seq` exists (for a FIFO reader: once its queue holds one), or the strategy is
//!   closed and nothing newer will come. The
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
mod broadcast;
mod descriptor;
#[cfg(all(feature = "peers", not(loom)))]
pub mod iceoryx;
mod ideal;
#[cfg(not(loom))]
pub mod leftovers;
mod mutex;
mod notify;
mod pool;
pub mod primitive;
mod queue;
mod rwlock;
pub mod shm;
pub mod snapshot;
#[cfg(not(loom))]
pub mod start;
mod triple;
mod unsync;
pub mod wake;
#[cfg(all(feature = "net", not(loom)))]
pub mod zenoh;

pub use arcswap::ArcSwapStrategy;
pub use broadcast::BroadcastStrategy;
pub use descriptor::{Build, CrossProcess, Descriptor, Origin};
pub use ideal::IdealStrategy;
pub use mutex::MutexStrategy;
pub use notify::Notifier;
pub use pool::{PoolPolicy, PoolStrategy, DEFAULT_POOL_SIZE};
pub use queue::{DropPolicy, QueueStrategy, DEFAULT_QUEUE_DEPTH};
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

impl FrameMeta {
    /// The header as `u64` words, for strategies that store it in atomics (a seqlock, memory
    /// another process reads: see [`snapshot`]).
    pub const WORDS: usize = std::mem::size_of::<FrameMeta>() / 8;

    /// The header as [`FrameMeta::WORDS`] words; [`FrameMeta::from_words`] reverses it.
    ///
    /// ```
    /// # mod fbench { pub mod strategies { pub use fbench_strategies::*; } }
    /// use fbench::strategies::FrameMeta;
    ///
    /// let meta = FrameMeta { seq: 7, publish_seq: 3, width: 640, height: 480, ..FrameMeta::default() };
    /// assert_eq!(FrameMeta::from_words(meta.to_words()), meta);
    /// ```
    pub fn to_words(&self) -> [u64; FrameMeta::WORDS] {
        [
            self.seq,
            self.publish_seq,
            self.capture_ns,
            self.checksum,
            u64::from(self.width) | u64::from(self.height) << 32,
            u64::from(self.format) | u64::from(self._reserved) << 32,
        ]
    }

    /// The header from the words of [`FrameMeta::to_words`].
    pub fn from_words(words: [u64; FrameMeta::WORDS]) -> FrameMeta {
        FrameMeta {
            seq: words[0],
            publish_seq: words[1],
            capture_ns: words[2],
            checksum: words[3],
            width: words[4] as u32,
            height: (words[4] >> 32) as u32,
            format: words[5] as u32,
            _reserved: (words[5] >> 32) as u32,
        }
    }
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

    /// The newest published frame ([`Delivery::Latest`]) or this reader's next queued frame
    /// ([`Delivery::Fifo`]); `None` when there is none (before the first publish, or an
    /// empty queue).
    fn acquire(&mut self) -> Option<Self::Frame<'_>>;

    /// For a strategy whose frames should travel through shared memory but can silently
    /// arrive another way (a network fall-back, as Zenoh's): how many samples this reader
    /// received that did not come through shared memory, warm-up included. `None` (the
    /// default): the strategy makes no such check. The harness reports it per consumer and
    /// per run (`not_shm`).
    ///
    /// ```
    /// use fbench_strategies::{MutexStrategy, Reader, Strategy, StrategyParams};
    /// use std::sync::Arc;
    ///
    /// let strategy = Arc::new(MutexStrategy::new(&StrategyParams::new(64, 1)));
    /// // An in-process strategy has nothing to check.
    /// assert_eq!(strategy.reader().not_shm(), None);
    /// ```
    fn not_shm(&self) -> Option<u64> {
        None
    }
}

/// Counters a strategy keeps about its own costs. Relaxed counters, read once the run's
/// threads have been joined.
///
/// What a strategy must fill, because the harness cannot see it from outside: `published`
/// and `lost_wakeups` (both come from [`Notifier::stats_with`] for a strategy that wakes
/// readers with a [`Notifier`]; a strategy with its own waker counts them itself),
/// `bytes_copied` if it copies payload bytes (copy-in by the producer, copy-out on acquire),
/// `producer_drops` if `publish` can return [`Publish::Dropped`], `frame_allocations` if it
/// allocates frame buffers after construction. `pool_grows` is the `pool` strategy's own.
/// Fields left at 0 are reported as 0, so a copying strategy that forgets `bytes_copied`
/// looks zero-copy in the report; the harness itself counts everything it can observe
/// (frames seen, drops from `publish_seq` gaps, torn frames, time, memory, CPU).
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

/// What a reader is handed: the newest frame, or every frame in order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Delivery {
    /// Latest value: `acquire` returns the newest frame; frames published in between are
    /// skipped.
    #[default]
    Latest,
    /// First in, first out per reader: `acquire` returns the reader's next queued frame;
    /// only the strategy's policy (and nothing else) skips frames.
    Fifo,
}

impl Delivery {
    pub fn name(self) -> &'static str {
        match self {
            Delivery::Latest => "latest",
            Delivery::Fifo => "fifo",
        }
    }
}

/// What a queue costs one consumer: kept by the queueing strategies ([`Strategy::queue_stats`])
/// in the order their readers were created (consumer 0 first). Relaxed tallies, read after
/// the run's threads were joined.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Frames published that this consumer's queue discarded by policy (drop-oldest: the
    /// oldest queued; drop-newest: the arriving one; broadcast: the receiver's lag).
    pub dropped_by_policy: u64,
    /// The most frames that were queued for this consumer at once.
    pub max_depth: u64,
    /// Time the producer spent waiting for room in this consumer's queue (block policy).
    pub producer_blocked_ns: u64,
}

/// One producer, many readers: the contract every strategy implements.
pub trait Strategy: Send + Sync + 'static {
    /// `'static`: a reader owns what it needs (an `Arc` of the strategy, a mapping), so a
    /// consumer thread can take it.
    type Reader: Reader + 'static;

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

    /// Latest-value (the default) or FIFO delivery; see the crate docs.
    fn delivery(&self) -> Delivery {
        Delivery::Latest
    }

    /// Per-consumer queue costs, for the strategies that queue frames; `None` for the others.
    fn queue_stats(&self) -> Option<Vec<QueueStats>> {
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
    /// Frames each consumer's queue holds (`queue`), or the ring's capacity (`broadcast`).
    pub queue_depth: usize,
    /// What a full consumer queue does with the next frame (`queue`).
    pub drop_policy: DropPolicy,
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
            queue_depth: DEFAULT_QUEUE_DEPTH,
            drop_policy: DropPolicy::Block,
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
        (kind.descriptor().resident_frames)(self)
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
    /// Pooled frames, one bounded FIFO queue per consumer with a drop policy.
    Queue,
    /// Peer: `tokio::sync::broadcast`, one ring of `Arc` frame handles.
    Broadcast,
    /// The reference: the least a latest-value strategy can do per frame.
    Ideal,
    /// Peer: Zenoh publish/subscribe over shared memory on one host. Runs only in a build
    /// with the `net` feature.
    Zenoh,
    /// Peer: Zenoh publish/subscribe over TCP (a network path; `--remote netns`). Runs only
    /// in a build with the `net` feature.
    ZenohTcp,
}

/// Why a strategy could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[cfg(not(loom))]
    #[error(transparent)]
    Segment(#[from] shm::SegmentError),
    #[error("iceoryx2: {0}")]
    Iceoryx2(String),
    /// The strategy's name and the cargo feature that builds it.
    #[error("strategy '{0}' is not in this build; rebuild with `--features {1}`")]
    NotBuilt(&'static str, &'static str),
    /// A user strategy's own reason.
    #[error("{0}")]
    Other(String),
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
    pub const PEERS: [StrategyKind; 5] = [
        StrategyKind::Iceoryx2,
        StrategyKind::TripleBuffer,
        StrategyKind::Broadcast,
        StrategyKind::Zenoh,
        StrategyKind::ZenohTcp,
    ];

    /// fbench's own strategies that are not in `all` (which stays the five it has always
    /// been): the `ideal` reference and `queue` (FIFO delivery). Listed and run by name.
    pub const EXTRAS: [StrategyKind; 2] = [StrategyKind::Ideal, StrategyKind::Queue];

    /// Whether this build can run the strategy (`iceoryx2` needs the `peers` feature, the
    /// `zenoh` ones `net`).
    pub fn is_built(self) -> bool {
        // `matches!` would read as a test of the name; this is a table of features.
        #[allow(clippy::match_like_matches_macro)]
        match self.feature() {
            Some("peers") => cfg!(feature = "peers"),
            Some("net") => cfg!(feature = "net"),
            _ => true,
        }
    }

    /// The cargo feature a build needs to run the strategy, if any.
    pub fn feature(self) -> Option<&'static str> {
        match self {
            StrategyKind::Iceoryx2 => Some("peers"),
            StrategyKind::Zenoh | StrategyKind::ZenohTcp => Some("net"),
            _ => None,
        }
    }

    /// Whether frames reach the consumers over a network path (so they may run on another
    /// host: `--remote netns`).
    pub fn is_networked(self) -> bool {
        self == StrategyKind::ZenohTcp
    }

    /// Whether the strategy is another project's design run as a peer.
    pub fn is_peer(self) -> bool {
        self.descriptor().origin == Origin::Peer
    }

    /// The strategy's facts: the one place that maps the closed set to its types.
    pub fn descriptor(self) -> Descriptor {
        match self {
            StrategyKind::Mutex => MutexStrategy::descriptor(),
            StrategyKind::RwLock => RwLockStrategy::descriptor(),
            StrategyKind::Pool => PoolStrategy::descriptor(),
            StrategyKind::ArcSwap => ArcSwapStrategy::descriptor(),
            StrategyKind::Shm => shm::descriptor(false),
            StrategyKind::ShmNaive => shm::descriptor(true),
            StrategyKind::Unsync => UnsyncStrategy::descriptor(),
            StrategyKind::TripleBuffer => TripleBufferStrategy::descriptor(),
            StrategyKind::Iceoryx2 => iceoryx2_descriptor(),
            StrategyKind::Queue => QueueStrategy::descriptor(),
            StrategyKind::Broadcast => BroadcastStrategy::descriptor(),
            StrategyKind::Ideal => IdealStrategy::descriptor(),
            StrategyKind::Zenoh => zenoh_descriptor(false),
            StrategyKind::ZenohTcp => zenoh_descriptor(true),
        }
    }

    pub fn name(self) -> &'static str {
        self.descriptor().name
    }

    /// One line for `fbench list`.
    pub fn summary(self) -> &'static str {
        self.descriptor().summary
    }

    /// Whether a reader's `acquire` copies the frame out (see [`Descriptor::acquire_copies`]).
    pub fn acquire_copies(self) -> bool {
        self.descriptor().acquire_copies
    }

    /// Whether the strategy is a canary (deliberately broken, hidden from `list`).
    pub fn is_canary(self) -> bool {
        self.descriptor().origin == Origin::Canary
    }

    /// Every built-in strategy, in `list` order.
    pub const EVERY: [StrategyKind; 14] = [
        StrategyKind::Ideal,
        StrategyKind::Mutex,
        StrategyKind::RwLock,
        StrategyKind::Pool,
        StrategyKind::ArcSwap,
        StrategyKind::Shm,
        StrategyKind::ShmNaive,
        StrategyKind::Unsync,
        StrategyKind::Iceoryx2,
        StrategyKind::TripleBuffer,
        StrategyKind::Broadcast,
        StrategyKind::Zenoh,
        StrategyKind::ZenohTcp,
        StrategyKind::Queue,
    ];

    pub fn from_name(name: &str) -> Option<StrategyKind> {
        StrategyKind::EVERY.into_iter().find(|k| k.name() == name)
    }

    /// Whether fbench runs this strategy's consumers as separate processes.
    pub fn is_cross_process(self) -> bool {
        self.descriptor().cross_process
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
            StrategyKind::Iceoryx2 => return Err(BuildError::NotBuilt(self.name(), "peers")),
            #[cfg(feature = "net")]
            StrategyKind::Zenoh => with.run(Arc::new(zenoh::ZenohStrategy::in_process(
                params,
                zenoh::Transport::Shm,
            )?)),
            #[cfg(feature = "net")]
            StrategyKind::ZenohTcp => with.run(Arc::new(zenoh::ZenohStrategy::in_process(
                params,
                zenoh::Transport::Tcp,
            )?)),
            #[cfg(not(feature = "net"))]
            StrategyKind::Zenoh | StrategyKind::ZenohTcp => {
                return Err(BuildError::NotBuilt(self.name(), "net"))
            }
            StrategyKind::Queue => with.run(Arc::new(QueueStrategy::new(params))),
            StrategyKind::Broadcast => with.run(Arc::new(BroadcastStrategy::new(params))),
            StrategyKind::Ideal => with.run(Arc::new(IdealStrategy::new(params))),
        })
    }
}

/// The `iceoryx2` peer's facts. Here rather than in its module because the name is known to
/// every build (asking for it without the `peers` feature says so), the module only to
/// builds with the feature.
pub(crate) fn iceoryx2_descriptor() -> Descriptor {
    Descriptor::new(
        "iceoryx2",
        "iceoryx2 publish-subscribe, loaned samples in shared memory, subscriber buffer 1 with safe overflow; consumers are processes (0 copies)",
    )
    .origin(Origin::Peer)
    .cross_process()
    // iceoryx2 sizes its pool for the worst case: each subscriber's buffer and borrows, plus
    // the publisher's loan (see `iceoryx`)
    .resident_frames(|p| 3 * p.consumers + 1)
}

/// The `zenoh` peers' facts (`tcp`: the `zenoh-tcp` form). Here for the reason
/// [`iceoryx2_descriptor`] is.
pub(crate) fn zenoh_descriptor(tcp: bool) -> Descriptor {
    let descriptor = if tcp {
        Descriptor::new(
            "zenoh-tcp",
            "Zenoh publish/subscribe over TCP, shared memory off: a network path (--remote netns); each consumer keeps the newest sample (1 + N copies)",
        )
    } else {
        Descriptor::new(
            "zenoh",
            "Zenoh publish/subscribe, frames allocated in its shared-memory pool and read in place; a fall-back to the network is counted (0 copies)",
        )
    };
    descriptor
        .origin(Origin::Peer)
        .cross_process()
        .parameters(&["drop_policy"])
        // The pool (shared memory) or the frames in flight and held (network): two per
        // consumer and three on the producer's side (see `zenoh`).
        .resident_frames(|p| 2 * p.consumers + 3)
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

#[cfg(not(loom))]
pub mod conformance;
