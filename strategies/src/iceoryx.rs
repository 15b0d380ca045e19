//! `iceoryx2` (a peer, feature `peers`): eclipse iceoryx2's publish-subscribe, configured to do
//! the job `shm` does.
//!
//! iceoryx2 (<https://iceoryx.io>) is a zero-copy, lock-free inter-process middleware: a
//! publisher *loans* a sample from a pool in its own shared-memory data segment, writes it in
//! place and *sends* it, which puts the sample's offset into every subscriber's queue; a
//! subscriber *receives* the offset and reads the bytes in place until it drops the sample,
//! which returns it to the publisher's pool. fbench runs it on the same source, consumers and
//! metrics as its own strategies.
//!
//! # Settings (what makes it a latest-value frame distributor)
//!
//! | setting | value | why |
//! |---|---|---|
//! | service | `ipc_threadsafe` | fbench's contract moves a reader across threads (`Reader: Send`); the ports then sit behind an uncontended mutex |
//! | payload | `[u8]`, `initial_max_slice_len` = frame length, `AllocationStrategy::Static` | one frame per sample; the pool never grows mid-run |
//! | user header | [`FrameHeader`] (fbench's `FrameMeta`, field for field) | metadata travels in the sample |
//! | `subscriber_max_buffer_size` / subscriber `buffer_size` | 1 | a reader only ever wants the newest frame |
//! | `enable_safe_overflow` | true | a full buffer has its old sample replaced: the writer never waits for readers |
//! | `history_size` | 0 | nothing is replayed to a late subscriber |
//! | `subscriber_max_borrowed_samples` | 2 | the held frame plus, while draining, the one replacing it |
//! | `max_loaned_samples` | 1 | one frame is written at a time |
//! | `max_subscribers` | consumers (+16 spare in one process) | iceoryx2 sizes its pool from it |
//! | signal handling | disabled | fbench handles Ctrl-C/SIGTERM itself, and consumer processes ignore SIGINT |
//!
//! iceoryx2 sizes the publisher's pool for the worst case: `max_subscribers x (buffer +
//! borrowed) + history + loaned` = 3N + 1 frame-sized chunks. They are shared memory, so
//! PSS counts them once, and only the pages actually written count at all.
//!
//! # Waiting
//!
//! Publish-subscribe has no blocking receive. As iceoryx2's own examples do, a companion
//! *event* service wakes readers: the producer notifies [`FRAME`] after each send and
//! [`CLOSED`] at the end, and a reader sleeps in its listener. A send puts the sample in every
//! subscriber's queue before the notification goes out, so a woken reader always finds it.
//!
//! # Start barrier across processes
//!
//! A consumer process opens the services and creates its listener and then its subscriber,
//! so the parent counting subscribers counts consumers ready to wait. The parent then sends the
//! measuring start time on a third service (`start`, one `u64`) and notifies [`GO`].
//!
//! # What differs from `shm`
//!
//! A subscriber receives each sample once, so `acquire` returns the newest frame *not yet
//! taken* (`None` after the newest was taken and dropped, where `shm` would hand it out again);
//! the harness always waits for a newer frame before acquiring, so this never shows in a run.
//! A loan that fails (pool exhausted) is a producer drop.

use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use iceoryx2::node::{NodeState, NodeView};
use iceoryx2::port::listener::Listener;
use iceoryx2::port::notifier::Notifier;
use iceoryx2::port::publisher::Publisher;
use iceoryx2::port::subscriber::Subscriber;
use iceoryx2::prelude::*;
use iceoryx2::sample::Sample;
use iceoryx2::service::port_factory::{event as event_factory, publish_subscribe};

use crate::{
    BuildError, Counters, FrameMeta, FrameView, Publish, Reader, Strategy, StrategyParams,
    StrategyStats, WaitMode, WaitOutcome,
};

type Ipc = ipc_threadsafe::Service;
type FramesService = publish_subscribe::PortFactory<Ipc, [u8], FrameHeader>;
type StartService = publish_subscribe::PortFactory<Ipc, u64, ()>;
type EventService = event_factory::PortFactory<Ipc>;

/// Event: a frame was sent.
pub const FRAME: EventId = EventId::new(0);
/// Event: no more frames will be sent.
pub const CLOSED: EventId = EventId::new(1);
/// Event: start measuring (the time is on the `start` service).
pub const GO: EventId = EventId::new(2);

/// Extra subscribers of an in-process strategy, so tests can create readers freely.
const IN_PROCESS_SPARE_READERS: usize = 16;
/// A blocked reader re-checks that the producer still exists this often.
const LIVENESS_CHECK: Duration = Duration::from_millis(100);

/// [`FrameMeta`] as an iceoryx2 user header: the same `repr(C)` fields, with the derive that
/// lets iceoryx2 check the type across processes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ZeroCopySend)]
#[repr(C)]
#[type_name("fbench::FrameHeader/1")]
pub struct FrameHeader {
    seq: u64,
    publish_seq: u64,
    capture_ns: u64,
    checksum: u64,
    width: u32,
    height: u32,
    format: u32,
    reserved: u32,
}

impl From<FrameMeta> for FrameHeader {
    fn from(m: FrameMeta) -> Self {
        FrameHeader {
            seq: m.seq,
            publish_seq: m.publish_seq,
            capture_ns: m.capture_ns,
            checksum: m.checksum,
            width: m.width,
            height: m.height,
            format: m.format,
            reserved: m._reserved,
        }
    }
}

impl From<&FrameHeader> for FrameMeta {
    fn from(h: &FrameHeader) -> Self {
        FrameMeta {
            seq: h.seq,
            publish_seq: h.publish_seq,
            capture_ns: h.capture_ns,
            checksum: h.checksum,
            width: h.width,
            height: h.height,
            format: h.format,
            _reserved: h.reserved,
        }
    }
}

fn failed(what: &str, error: impl std::fmt::Display) -> BuildError {
    BuildError::Iceoryx2(format!("{what}: {error}"))
}

fn quiet_logs() {
    // iceoryx2 logs its warnings (e.g. cleaning up after a killed run) to the terminal of
    // every consumer process; fbench reports failures itself. IOX2_LOG_LEVEL still wins.
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| set_log_level_from_env_or(LogLevel::Error));
}

/// Prefix of the names of every iceoryx2 node fbench creates (`fbench-producer`,
/// `fbench-consumer-<id>`).
pub const NODE_PREFIX: &str = "fbench-";

/// `fbench clean`: remove what the iceoryx2 nodes of fbench runs killed outright left behind
/// (iceoryx2 keeps node records and service descriptions under /tmp/iceoryx2 and the shared
/// memory in /dev/shm/iox2_*, all named by hashes). Only nodes that iceoryx2 itself finds dead
/// (their process is gone) *and* that are named `fbench-…` are cleaned, through iceoryx2's
/// own cleanup, which also removes a service once its last owner is gone: other programs'
/// nodes and live fbench runs are left alone. Returns how many nodes were cleaned.
pub fn clean_dead_nodes() -> Result<usize, BuildError> {
    quiet_logs();
    let config = Config::default();
    let mut dead = Vec::new();
    Node::<Ipc>::list(&config, |state| {
        if let NodeState::Dead(view) = state {
            let ours = view
                .details()
                .as_ref()
                .is_some_and(|d| d.name().as_str().starts_with(NODE_PREFIX));
            if ours {
                dead.push(view);
            }
        }
        CallbackProgression::Continue
    })
    .map_err(|e| failed("listing iceoryx2 nodes", format!("{e:?}")))?;
    let mut cleaned = 0;
    for view in dead {
        view.blocking_remove_stale_resources(std::time::Duration::from_secs(5))
            .map_err(|e| failed("removing a dead node's resources", format!("{e:?}")))?;
        cleaned += 1;
    }
    Ok(cleaned)
}

fn node(name: &str) -> Result<Node<Ipc>, BuildError> {
    quiet_logs();
    let node_name = NodeName::new(name).map_err(|e| failed("node name", e))?;
    // The default configuration, not a system-wide iceoryx2 config file: runs must not change
    // with whatever file a machine has (and loading none would print a warning each time).
    NodeBuilder::new()
        .config(&Config::default())
        .name(&node_name)
        .signal_handling_mode(SignalHandlingMode::Disabled)
        .create::<Ipc>()
        .map_err(|e| failed("creating a node", e))
}

fn service_name(run: &str, part: &str) -> Result<ServiceName, BuildError> {
    ServiceName::new(&format!("fbench/{run}/{part}")).map_err(|e| failed("service name", e))
}

/// The three services of one run, as the producer creates them or a consumer opens them.
struct Services {
    frames: FramesService,
    events: EventService,
    start: StartService,
}

impl Services {
    fn create(node: &Node<Ipc>, run: &str, readers: usize) -> Result<Self, BuildError> {
        let nodes = readers + 1;
        let frames = node
            .service_builder(&service_name(run, "frames")?)
            .publish_subscribe::<[u8]>()
            .user_header::<FrameHeader>()
            .max_publishers(1)
            .max_subscribers(readers)
            .max_nodes(nodes)
            .subscriber_max_buffer_size(1)
            .subscriber_max_borrowed_samples(2)
            .history_size(0)
            .enable_safe_overflow(true)
            .create()
            .map_err(|e| failed("creating the frames service", e))?;
        let events = node
            .service_builder(&service_name(run, "wake")?)
            .event()
            .max_notifiers(1)
            .max_listeners(readers)
            .max_nodes(nodes)
            .event_id_max_value(GO.as_value())
            .disable_notifier_created_event()
            .disable_notifier_dropped_event()
            .disable_notifier_dead_event()
            .create()
            .map_err(|e| failed("creating the wake-up service", e))?;
        let start = node
            .service_builder(&service_name(run, "start")?)
            .publish_subscribe::<u64>()
            .max_publishers(1)
            .max_subscribers(readers)
            .max_nodes(nodes)
            .subscriber_max_buffer_size(1)
            .history_size(0)
            .enable_safe_overflow(true)
            .create()
            .map_err(|e| failed("creating the start service", e))?;
        Ok(Services {
            frames,
            events,
            start,
        })
    }

    fn open(node: &Node<Ipc>, run: &str) -> Result<Self, BuildError> {
        let frames = node
            .service_builder(&service_name(run, "frames")?)
            .publish_subscribe::<[u8]>()
            .user_header::<FrameHeader>()
            .open()
            .map_err(|e| failed("opening the frames service", e))?;
        let events = node
            .service_builder(&service_name(run, "wake")?)
            .event()
            .open()
            .map_err(|e| failed("opening the wake-up service", e))?;
        let start = node
            .service_builder(&service_name(run, "start")?)
            .publish_subscribe::<u64>()
            .open()
            .map_err(|e| failed("opening the start service", e))?;
        Ok(Services {
            frames,
            events,
            start,
        })
    }
}

pub struct IceoryxStrategy {
    // Ports before the services before the node: fields drop in this order.
    publisher: Publisher<Ipc, [u8], FrameHeader>,
    notifier: Notifier<Ipc>,
    start_publisher: Publisher<Ipc, u64, ()>,
    services: Services,
    node: Node<Ipc>,
    frame_len: usize,
    /// `publish_seq` of the last frame sent. Written by the single producer only.
    published: AtomicU64,
    counters: Counters,
}

impl IceoryxStrategy {
    /// Producer and readers in this process (the conformance suite's form).
    pub fn in_process(params: &StrategyParams) -> Result<Self, BuildError> {
        let run = format!("in-process-{}", crate::shm::unique_name());
        Self::for_readers(params, &run, params.consumers + IN_PROCESS_SPARE_READERS)
    }

    /// The producer of run `run`, for `params.consumers` consumer processes.
    pub fn shared(params: &StrategyParams, run: &str) -> Result<Self, BuildError> {
        Self::for_readers(params, run, params.consumers)
    }

    fn for_readers(params: &StrategyParams, run: &str, readers: usize) -> Result<Self, BuildError> {
        let node = node(&format!("{NODE_PREFIX}producer"))?;
        let services = Services::create(&node, run, readers.max(1))?;
        let publisher = services
            .frames
            .publisher_builder()
            .initial_max_slice_len(params.frame_len)
            .allocation_strategy(AllocationStrategy::Static)
            .max_loaned_samples(1)
            .create()
            .map_err(|e| failed("creating the publisher", e))?;
        let notifier = services
            .events
            .notifier_builder()
            .create()
            .map_err(|e| failed("creating the notifier", e))?;
        let start_publisher = services
            .start
            .publisher_builder()
            .create()
            .map_err(|e| failed("creating the start publisher", e))?;
        Ok(IceoryxStrategy {
            publisher,
            notifier,
            start_publisher,
            services,
            node,
            frame_len: params.frame_len,
            published: AtomicU64::new(0),
            counters: Counters::default(),
        })
    }

    /// Start barrier: consumers whose subscriber exists (each created its listener first).
    pub fn attached(&self) -> usize {
        self.services
            .frames
            .dynamic_config()
            .number_of_subscribers()
    }

    /// Start barrier: tell every consumer to begin, measuring from `measure_start_ns`.
    pub fn go(&self, measure_start_ns: u64) -> Result<(), BuildError> {
        self.start_publisher
            .send_copy(measure_start_ns)
            .map_err(|e| failed("sending the start time", e))?;
        self.notifier
            .notify_with_custom_event_id(GO)
            .map_err(|e| failed("notifying go", e))?;
        Ok(())
    }

    /// A consumer process died: let iceoryx2 release what its node held (its borrowed
    /// samples go back to the pool). Whether any dead node was cleaned up.
    pub fn reclaim_dead_readers(&self) -> bool {
        self.node.try_cleanup_dead_nodes().cleanups > 0
    }
}

impl Strategy for IceoryxStrategy {
    type Reader = IceoryxReader;

    fn name(&self) -> &'static str {
        "iceoryx2"
    }

    fn publish<F: FnOnce(&mut [u8]) -> FrameMeta>(&self, render: F) -> Publish {
        let Ok(mut sample) = self.publisher.loan_slice_uninit(self.frame_len) else {
            self.counters.add_drop();
            return Publish::Dropped;
        };
        let payload: *mut [MaybeUninit<u8>] = sample.payload_mut();
        // SAFETY: the payload is `frame_len` bytes of the publisher's shared-memory data
        // segment, loaned to us alone until `send`. Its bytes are initialised: the kernel
        // zero-fills the segment's pages and afterwards they only ever hold bytes of earlier
        // frames, so viewing them as `[u8]` is sound; `render` overwrites every byte.
        let frame = unsafe { &mut *(payload as *mut [u8]) };
        let mut meta = render(frame);
        // Relaxed: only the single producer touches this counter.
        let seq = self.published.load(Ordering::Relaxed) + 1;
        meta.publish_seq = seq;
        *sample.user_header_mut() = FrameHeader::from(meta);
        // SAFETY: every payload byte is initialised (see above) and was written by `render`.
        let sample = unsafe { sample.assume_init() };
        if sample.send().is_err() {
            self.counters.add_drop();
            return Publish::Dropped;
        }
        // Relaxed: a tally; readers learn of the frame from the sample itself.
        self.published.store(seq, Ordering::Relaxed);
        // A failed wake-up leaves readers to find the frame on their liveness check.
        let _ = self.notifier.notify_with_custom_event_id(FRAME);
        Publish::Published(seq)
    }

    fn reader(self: Arc<Self>) -> IceoryxReader {
        let ports = Ports::create(&self.services)
            .expect("more in-process readers than the iceoryx2 services were built for");
        IceoryxReader {
            pending: None,
            ports,
            closed: false,
            owner: Owner::InProcess(self),
        }
    }

    fn close(&self) {
        let _ = self.notifier.notify_with_custom_event_id(CLOSED);
    }

    fn stats(&self) -> StrategyStats {
        self.counters
            .snapshot(self.published.load(Ordering::Relaxed))
    }
}

/// One consumer's ports. The subscriber is created last: the producer counts subscribers as
/// consumers ready to wait.
struct Ports {
    subscriber: Subscriber<Ipc, [u8], FrameHeader>,
    listener: Listener<Ipc>,
    start: Subscriber<Ipc, u64, ()>,
}

impl Ports {
    fn create(services: &Services) -> Result<Self, BuildError> {
        let start = services
            .start
            .subscriber_builder()
            .create()
            .map_err(|e| failed("creating the start subscriber", e))?;
        let listener = services
            .events
            .listener_builder()
            .create()
            .map_err(|e| failed("creating the listener", e))?;
        let subscriber = services
            .frames
            .subscriber_builder()
            .buffer_size(1)
            .create()
            .map_err(|e| failed("creating the subscriber", e))?;
        Ok(Ports {
            subscriber,
            listener,
            start,
        })
    }
}

/// What keeps the services alive under a reader.
enum Owner {
    /// The strategy in this process.
    InProcess(#[allow(dead_code)] Arc<IceoryxStrategy>),
    /// A consumer process's own node and services.
    Process {
        services: Services,
        #[allow(dead_code)]
        node: Node<Ipc>,
    },
}

/// One consumer's side: in this process, or in a consumer process ([`IceoryxReader::attach`]).
pub struct IceoryxReader {
    // The held sample and the ports before what owns the services: fields drop in order.
    /// The newest sample received and not yet acquired.
    pending: Option<Sample<Ipc, [u8], FrameHeader>>,
    ports: Ports,
    closed: bool,
    owner: Owner,
}

impl IceoryxReader {
    /// Open run `run`'s services from a consumer process, as consumer `id`.
    pub fn attach(run: &str, id: usize) -> Result<Self, BuildError> {
        let node = node(&format!("{NODE_PREFIX}consumer-{id}"))?;
        let services = Services::open(&node, run)?;
        let ports = Ports::create(&services)?;
        Ok(IceoryxReader {
            pending: None,
            ports,
            closed: false,
            owner: Owner::Process { services, node },
        })
    }

    /// Start barrier, consumer side: sleep until the producer says go. Returns the
    /// CLOCK_MONOTONIC time measuring starts.
    pub fn wait_for_go(&mut self) -> Result<u64, BuildError> {
        loop {
            match self.ports.start.receive() {
                Ok(Some(start)) => return Ok(*start),
                Ok(None) => {}
                Err(e) => return Err(failed("receiving the start time", e)),
            }
            let mut closed = false;
            self.ports
                .listener
                .timed_wait(|event| closed |= event.id == CLOSED, LIVENESS_CHECK)
                .map_err(|e| failed("waiting for go", e))?;
            if closed || !self.producer_alive() {
                return Err(BuildError::Iceoryx2(
                    "the producer ended before the run started".into(),
                ));
            }
        }
    }

    fn producer_alive(&self) -> bool {
        let frames = match &self.owner {
            Owner::InProcess(strategy) => &strategy.services.frames,
            Owner::Process { services, .. } => &services.frames,
        };
        frames.dynamic_config().number_of_publishers() > 0
    }

    /// Keep the newest sample the subscriber has (its buffer holds one).
    fn drain(&mut self) {
        while let Ok(Some(sample)) = self.ports.subscriber.receive() {
            self.pending = Some(sample);
        }
    }

    fn note_events(&mut self, block: Option<Duration>) {
        let mut closed = false;
        let seen = |event: EventActivation| closed |= event.id == CLOSED;
        let woken = match block {
            Some(timeout) => self.ports.listener.timed_wait(seen, timeout),
            None => self.ports.listener.try_wait(seen),
        };
        self.closed |= closed;
        if let Ok(0) = woken {
            // Nothing arrived: if the producer is gone (its process died), nothing will.
            if block.is_some() && !self.producer_alive() {
                self.closed = true;
            }
        }
    }

    fn check(&mut self, after: u64) -> Option<WaitOutcome> {
        self.drain();
        if let Some(sample) = &self.pending {
            let seq = sample.user_header().publish_seq;
            if seq > after {
                return Some(WaitOutcome::Newer(seq));
            }
        }
        self.closed.then_some(WaitOutcome::Closed)
    }
}

/// A frame held in place in the publisher's data segment.
pub struct IceoryxFrame<'a> {
    meta: FrameMeta,
    sample: Sample<Ipc, [u8], FrameHeader>,
    /// Borrows the reader: it cannot receive (and exceed its borrow limit) while this is held.
    _reader: PhantomData<&'a mut IceoryxReader>,
}

impl FrameView for IceoryxFrame<'_> {
    fn meta(&self) -> &FrameMeta {
        &self.meta
    }
    fn bytes(&self) -> &[u8] {
        self.sample.payload()
    }
}

impl Reader for IceoryxReader {
    type Frame<'a> = IceoryxFrame<'a>;

    fn wait_newer(&mut self, after: u64, mode: WaitMode) -> WaitOutcome {
        let mut spins = 0u32;
        loop {
            if let Some(outcome) = self.check(after) {
                return outcome;
            }
            match mode {
                WaitMode::Block => self.note_events(Some(LIVENESS_CHECK)),
                WaitMode::Poll(interval) => {
                    std::thread::sleep(interval);
                    self.note_events(None);
                }
                WaitMode::Spin => {
                    std::hint::spin_loop();
                    // The listener is a system call away; the subscriber is not. Look at
                    // events (for `closed`) only now and then.
                    spins = spins.wrapping_add(1);
                    if spins % 64 == 0 {
                        self.note_events(None);
                    }
                }
            }
        }
    }

    fn acquire(&mut self) -> Option<IceoryxFrame<'_>> {
        self.drain();
        let sample = self.pending.take()?;
        Some(IceoryxFrame {
            meta: FrameMeta::from(sample.user_header()),
            sample,
            _reader: PhantomData,
        })
    }
}

impl crate::CrossProcess for IceoryxStrategy {
    type Attached = IceoryxReader;

    fn descriptor() -> crate::Descriptor {
        crate::iceoryx2_descriptor()
    }

    fn create(params: &StrategyParams, run: &str) -> Result<Self, BuildError> {
        IceoryxStrategy::shared(params, run)
    }

    fn attach(run: &str, id: usize, _frame_len: usize) -> Result<(IceoryxReader, u64), String> {
        let mut reader = IceoryxReader::attach(run, id).map_err(|e| e.to_string())?;
        let measure_start = reader.wait_for_go().map_err(|e| e.to_string())?;
        Ok((reader, measure_start))
    }

    fn attached(&self) -> usize {
        IceoryxStrategy::attached(self)
    }

    fn go(&self, measure_start_ns: u64) -> Result<(), BuildError> {
        IceoryxStrategy::go(self, measure_start_ns)
    }

    fn reclaim(&self, _id: usize) -> bool {
        // iceoryx2 tracks processes by node, not by consumer id: it releases whatever dead
        // nodes held.
        self.reclaim_dead_readers()
    }
}
