//! `zenoh` and `zenoh-tcp` (peers, feature `net`): Eclipse Zenoh's publish/subscribe carrying
//! fbench's frames, over shared memory on one host or over TCP on a network path.
//!
//! Zenoh (<https://zenoh.io>, crate `zenoh` 1.x) is the pub/sub engine under ROS 2's
//! rmw_zenoh: one API for processes on one host (shared memory) and across hosts (TCP, UDP,
//! QUIC). It is how frames leave the camera's machine, so fbench measures it as a peer on
//! the same source, consumers and metrics as its own strategies.
//!
//! # The two transports
//!
//! | name | frame path | copies per frame |
//! |---|---|---|
//! | `zenoh` | the producer allocates each frame in a shared-memory pool (a POSIX provider sized `frame x (2N + 3)`), renders into it and puts it; subscribers on the same host receive a reference and read in place | 0 |
//! | `zenoh-tcp` | shared memory disabled on both ends: each frame is serialised into TCP batches (fragmented), reassembled by each subscriber | 1 + N (the producer's into batches, one reassembly per consumer) |
//!
//! The producer is a Zenoh *peer* listening on one TCP endpoint only (loopback, or the
//! run's veth address under `--remote netns`); consumers are *clients* connecting to it.
//! Multicast scouting and gossip are off: no packet leaves for an address fbench did not
//! choose. The endpoint travels to consumer processes in a small file named after the run
//! (removed when the strategy drops).
//!
//! # The trap this measures: a silent fall-back to the network
//!
//! A shared-memory pool too small for the frames in flight makes a publisher fall back to
//! sending bytes (ros2/rmw_zenoh #828), and a receiver on another host, or with shared
//! memory off, gets bytes instead of a reference. Neither is silent here: a frame the pool
//! could not hold is sent as a heap copy and counted (`bytes_copied`, and a line on stderr
//! when the strategy drops); a consumer of `zenoh` checks every sample it receives
//! (`ZBytes::as_shm`) and counts those that did not arrive through shared memory
//! ([`Reader::not_shm`]), which the report carries per consumer and per run (`not_shm`).
//!
//! # Delivery and congestion
//!
//! Latest value: each subscriber's callback keeps only the newest sample (what a
//! `RingChannel` of capacity 1 does), and `acquire` takes it. A frame lost anywhere shows as
//! a gap in the sequence numbers a consumer sees, which the harness counts as loss. The
//! publisher's congestion control follows `--drop-policy`: `block` (the default) makes the
//! producer wait for a congested link, so lateness shows as age and source overruns;
//! `oldest`/`newest` map to `CongestionControl::Drop`, where Zenoh discards a frame it cannot
//! queue within a millisecond and does not tell the application (zenoh #1738, #2587): only
//! the gap at the receiver shows it.
//!
//! # Start barrier and end
//!
//! A consumer declares its control subscriber, then its frame subscriber, then announces
//! itself on `fbench/<run>/ready` (repeatedly, until go: a put from a client reaches the
//! producer once the session is up, and the count is of distinct ids). The producer's
//! [`ZenohStrategy::go`] and [`Strategy::close`] are reliable, blocking puts on
//! `fbench/<run>/control`, sent after the last frame on the same session, so a consumer
//! sees the last frame before the close.

use std::borrow::Cow;
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use zenoh::bytes::ZBytes;
use zenoh::pubsub::{Publisher, Subscriber};
use zenoh::qos::{CongestionControl, Reliability};
use zenoh::sample::Sample;
use zenoh::shm::{GarbageCollect, PosixShmProviderBackend, ShmProvider, ShmProviderBuilder};
use zenoh::{Config, Session, Wait};

use crate::{
    BuildError, Counters, DropPolicy, FrameMeta, FrameView, Publish, Reader, Strategy,
    StrategyParams, StrategyStats, WaitMode, WaitOutcome,
};

/// How frames travel between the producer and its consumers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Shared memory on one host (the `zenoh` strategy).
    Shm,
    /// TCP, shared memory off on both ends (the `zenoh-tcp` strategy).
    Tcp,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::Shm => "shm",
            Transport::Tcp => "tcp",
        }
    }

    fn from_name(name: &str) -> Option<Transport> {
        [Transport::Shm, Transport::Tcp]
            .into_iter()
            .find(|t| t.name() == name)
    }
}

/// A blocked reader re-checks its state this often (a missed notification costs at most this).
const WAIT_SLICE: Duration = Duration::from_millis(100);
/// How long a consumer waits for the producer's go before giving up.
const GO_TIMEOUT: Duration = Duration::from_secs(60);
/// How often a waiting consumer repeats that it is ready.
const READY_REPEAT: Duration = Duration::from_millis(100);

/// The address producers created from now on in this process listen on (loopback unless
/// the harness put the consumers behind a veth pair, see `--remote netns`).
static LISTEN_ADDRESS: Mutex<IpAddr> = Mutex::new(IpAddr::V4(Ipv4Addr::LOCALHOST));

/// Listen on `address` instead of loopback: the producer's end of the run's veth pair.
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// fbench_strategies::zenoh::listen_on(IpAddr::V4(Ipv4Addr::LOCALHOST));
/// ```
pub fn listen_on(address: IpAddr) {
    *LISTEN_ADDRESS.lock() = address;
}

fn failed(what: &str, error: impl std::fmt::Display) -> BuildError {
    BuildError::Other(format!("zenoh: {what}: {error}"))
}

/// Where a run's endpoint is written for its consumer processes.
fn endpoint_file(run: &str) -> PathBuf {
    std::env::temp_dir().join(format!("{run}.zenoh"))
}

/// Every session: no multicast scouting, no gossip, no implicit copies into shared memory
/// (fbench allocates frames there itself, so a fall-back is visible, not papered over).
fn base_config(transport: Transport) -> Result<Config, BuildError> {
    let mut config = Config::default();
    let shm = (transport == Transport::Shm).to_string();
    for (key, value) in [
        ("scouting/multicast/enabled", "false"),
        ("scouting/gossip/enabled", "false"),
        ("transport/shared_memory/enabled", shm.as_str()),
        (
            "transport/shared_memory/transport_optimization/enabled",
            "false",
        ),
        // Admin space and timestamps are not needed; fewer moving parts per sample.
        ("timestamping/enabled", "false"),
    ] {
        config
            .insert_json5(key, value)
            .map_err(|e| failed(&format!("setting {key}"), e))?;
    }
    Ok(config)
}

fn open_producer_session(transport: Transport, endpoint: &str) -> Result<Session, BuildError> {
    let mut config = base_config(transport)?;
    config
        .insert_json5("mode", "\"peer\"")
        .and_then(|_| config.insert_json5("listen/endpoints", &format!("[\"{endpoint}\"]")))
        .and_then(|_| config.insert_json5("connect/endpoints", "[]"))
        .map_err(|e| failed("configuring the producer", e))?;
    zenoh::open(config)
        .wait()
        .map_err(|e| failed("opening the producer session", e))
}

fn open_consumer_session(transport: Transport, endpoint: &str) -> Result<Session, BuildError> {
    let mut config = base_config(transport)?;
    config
        .insert_json5("mode", "\"client\"")
        .and_then(|_| config.insert_json5("connect/endpoints", &format!("[\"{endpoint}\"]")))
        .and_then(|_| config.insert_json5("listen/endpoints", "[]"))
        .map_err(|e| failed("configuring a consumer", e))?;
    zenoh::open(config)
        .wait()
        .map_err(|e| failed(&format!("connecting to the producer at {endpoint}"), e))
}

/// A free TCP port on `address`: bound and released, then given to Zenoh (Zenoh reports
/// the port it chose for `:0` only for non-loopback addresses).
fn free_endpoint(address: IpAddr) -> Result<String, BuildError> {
    let listener = TcpListener::bind((address, 0))
        .map_err(|e| failed(&format!("finding a free port on {address}"), e))?;
    let port = listener
        .local_addr()
        .map_err(|e| failed("reading the bound port", e))?
        .port();
    Ok(match address {
        IpAddr::V4(v4) => format!("tcp/{v4}:{port}"),
        IpAddr::V6(v6) => format!("tcp/[{v6}]:{port}"),
    })
}

/// [`FrameMeta`] as a sample's attachment: its eight fields, little-endian.
fn encode_meta(meta: &FrameMeta) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(48);
    for word in [meta.seq, meta.publish_seq, meta.capture_ns, meta.checksum] {
        bytes.extend_from_slice(&word.to_le_bytes());
    }
    for word in [meta.width, meta.height, meta.format, meta._reserved] {
        bytes.extend_from_slice(&word.to_le_bytes());
    }
    bytes
}

fn decode_meta(sample: &Sample) -> Option<FrameMeta> {
    let bytes = sample.attachment()?.to_bytes();
    if bytes.len() != 48 {
        return None;
    }
    let u64_at = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
    let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
    Some(FrameMeta {
        seq: u64_at(0),
        publish_seq: u64_at(8),
        capture_ns: u64_at(16),
        checksum: u64_at(24),
        width: u32_at(32),
        height: u32_at(36),
        format: u32_at(40),
        _reserved: u32_at(44),
    })
}

/// The producer: a Zenoh peer publishing each frame on `fbench/<run>/frames`.
pub struct ZenohStrategy {
    transport: Transport,
    // Publishers and subscriber before the session: fields drop in this order.
    frames: Publisher<'static>,
    control: Publisher<'static>,
    _ready: Subscriber<()>,
    provider: Option<ShmProvider<PosixShmProviderBackend>>,
    session: Session,
    run: String,
    /// Consumer ids that announced themselves (the start barrier's count).
    ready: Arc<Mutex<HashSet<u64>>>,
    frame_len: usize,
    /// Written by the run's producer when the endpoint is for consumer processes.
    endpoint_file: Option<PathBuf>,
    /// `publish_seq` of the last frame put. Written by the single producer only.
    published: AtomicU64,
    /// Frames the shared-memory pool could not hold, sent as heap copies instead.
    fallbacks: AtomicU64,
    counters: Counters,
}

impl ZenohStrategy {
    /// Producer and readers in this process (the conformance suite's form): readers are
    /// subscribers on the producer's own session.
    pub fn in_process(params: &StrategyParams, transport: Transport) -> Result<Self, BuildError> {
        let run = format!("in-process-{}", crate::shm::unique_name());
        Self::create(params, &run, transport, false)
    }

    /// The producer of run `run`, for consumer processes that [`ZenohReader::attach`].
    pub fn shared(
        params: &StrategyParams,
        run: &str,
        transport: Transport,
    ) -> Result<Self, BuildError> {
        Self::create(params, run, transport, true)
    }

    fn create(
        params: &StrategyParams,
        run: &str,
        transport: Transport,
        for_processes: bool,
    ) -> Result<Self, BuildError> {
        let address = *LISTEN_ADDRESS.lock();
        let endpoint = free_endpoint(address)?;
        let session = open_producer_session(transport, &endpoint)?;
        let provider = match transport {
            Transport::Shm => {
                // Each consumer holds at most two frames (the one it reads and the newest
                // waiting in its callback's slot); one more is being rendered and two are
                // in flight. One chunk serves every consumer: it is shared, not copied.
                let frames = 2 * params.consumers.max(1) + 3;
                let pool = params.frame_len.max(1) * frames;
                Some(
                    ShmProviderBuilder::default_backend(pool)
                        .wait()
                        .map_err(|e| failed("creating the shared-memory pool", e))?,
                )
            }
            Transport::Tcp => None,
        };
        let congestion = match params.drop_policy {
            DropPolicy::Block => CongestionControl::Block,
            DropPolicy::Oldest | DropPolicy::Newest => CongestionControl::Drop,
        };
        let frames = session
            .declare_publisher(format!("fbench/{run}/frames"))
            .congestion_control(congestion)
            .reliability(Reliability::Reliable)
            .express(true)
            .wait()
            .map_err(|e| failed("declaring the frame publisher", e))?;
        let control = session
            .declare_publisher(format!("fbench/{run}/control"))
            .congestion_control(CongestionControl::Block)
            .reliability(Reliability::Reliable)
            .wait()
            .map_err(|e| failed("declaring the control publisher", e))?;
        let ready = Arc::new(Mutex::new(HashSet::new()));
        let seen = ready.clone();
        let ready_subscriber = session
            .declare_subscriber(format!("fbench/{run}/ready"))
            .callback(move |sample: Sample| {
                let id = sample.payload().to_bytes();
                if let Ok(id) = std::str::from_utf8(&id).unwrap_or("").parse::<u64>() {
                    seen.lock().insert(id);
                }
            })
            .wait()
            .map_err(|e| failed("declaring the ready subscriber", e))?;
        let endpoint_file = if for_processes {
            let path = endpoint_file(run);
            std::fs::write(&path, format!("{endpoint} {}\n", transport.name()))
                .map_err(|e| failed(&format!("writing {}", path.display()), e))?;
            Some(path)
        } else {
            None
        };
        Ok(ZenohStrategy {
            transport,
            frames,
            control,
            _ready: ready_subscriber,
            provider,
            session,
            run: run.to_string(),
            ready,
            frame_len: params.frame_len,
            endpoint_file,
            published: AtomicU64::new(0),
            fallbacks: AtomicU64::new(0),
            counters: Counters::default(),
        })
    }

    /// Start barrier: consumers whose subscribers exist.
    pub fn attached(&self) -> usize {
        self.ready.lock().len()
    }

    /// Start barrier: tell every consumer to begin, measuring from `measure_start_ns`.
    pub fn go(&self, measure_start_ns: u64) -> Result<(), BuildError> {
        self.control
            .put(format!("go {measure_start_ns}"))
            .wait()
            .map_err(|e| failed("sending go", e))
    }

    /// Frames the shared-memory pool could not hold, sent over the network as copies.
    pub fn network_fallbacks(&self) -> u64 {
        // Relaxed: a tally read after the producer stopped.
        self.fallbacks.load(Ordering::Relaxed)
    }

    fn put(&self, payload: ZBytes, meta: &FrameMeta) -> bool {
        self.frames
            .put(payload)
            .attachment(encode_meta(meta))
            .wait()
            .is_ok()
    }
}

impl Drop for ZenohStrategy {
    fn drop(&mut self) {
        let fallbacks = self.network_fallbacks();
        if fallbacks > 0 {
            eprintln!(
                "zenoh: {fallbacks} frame(s) did not fit the shared-memory pool and went over the network as copies"
            );
        }
        if let Some(path) = &self.endpoint_file {
            let _ = std::fs::remove_file(path);
        }
        let _ = self.session.close().wait();
    }
}

impl Strategy for ZenohStrategy {
    type Reader = ZenohReader;

    fn name(&self) -> &'static str {
        match self.transport {
            Transport::Shm => "zenoh",
            Transport::Tcp => "zenoh-tcp",
        }
    }

    fn publish<F: FnOnce(&mut [u8]) -> FrameMeta>(&self, render: F) -> Publish {
        // Relaxed: only the single producer touches this counter.
        let seq = self.published.load(Ordering::Relaxed) + 1;
        let shm = self.provider.as_ref().and_then(|provider| {
            provider
                .alloc(self.frame_len)
                .with_policy::<GarbageCollect>()
                .wait()
                .ok()
        });
        let (payload, meta) = match shm {
            Some(mut buffer) => {
                let mut meta = render(&mut buffer[..]);
                meta.publish_seq = seq;
                (ZBytes::from(buffer), meta)
            }
            None => {
                if self.provider.is_some() {
                    // The pool is exhausted: what rmw_zenoh does silently, counted here.
                    self.fallbacks.fetch_add(1, Ordering::Relaxed);
                }
                let mut buffer = vec![0u8; self.frame_len];
                self.counters.add_allocation();
                let mut meta = render(&mut buffer);
                meta.publish_seq = seq;
                // Zenoh serialises the payload into its TCP batches: one copy by the producer.
                self.counters.add_copied(self.frame_len);
                (ZBytes::from(buffer), meta)
            }
        };
        if !self.put(payload, &meta) {
            self.counters.add_drop();
            return Publish::Dropped;
        }
        // Relaxed: a tally; readers learn of the frame from the sample itself.
        self.published.store(seq, Ordering::Relaxed);
        Publish::Published(seq)
    }

    fn reader(self: Arc<Self>) -> ZenohReader {
        let mailbox = Arc::new(Mailbox::default());
        let (frames, control) = subscribe(&self.session, &self.run, self.transport, &mailbox)
            .expect("declaring subscribers on the producer's own session");
        ZenohReader {
            mailbox,
            _frames: frames,
            _control: control,
            transport: self.transport,
            id: None,
            run: self.run.clone(),
            session: Owner::InProcess(self),
        }
    }

    fn close(&self) {
        let _ = self.control.put("closed").wait();
    }

    fn stats(&self) -> StrategyStats {
        self.counters
            .snapshot(self.published.load(Ordering::Relaxed))
    }
}

/// What a consumer's subscribers hand over to its reader.
#[derive(Default)]
struct Mailbox {
    state: Mutex<Inbox>,
    changed: Condvar,
    /// Samples of the `zenoh` (shared-memory) transport that arrived as bytes instead.
    not_shm: AtomicU64,
}

#[derive(Default)]
struct Inbox {
    /// The newest frame not yet taken, with its metadata.
    newest: Option<(FrameMeta, Sample)>,
    go: Option<u64>,
    closed: bool,
}

impl Mailbox {
    fn update(&self, change: impl FnOnce(&mut Inbox)) {
        change(&mut self.state.lock());
        self.changed.notify_all();
    }
}

fn subscribe(
    session: &Session,
    run: &str,
    transport: Transport,
    mailbox: &Arc<Mailbox>,
) -> Result<(Subscriber<()>, Subscriber<()>), BuildError> {
    let to_control = mailbox.clone();
    let control = session
        .declare_subscriber(format!("fbench/{run}/control"))
        .callback(move |sample: Sample| {
            let text = sample.payload().to_bytes();
            let text = std::str::from_utf8(&text).unwrap_or("");
            if text == "closed" {
                to_control.update(|inbox| inbox.closed = true);
            } else if let Some(start) = text.strip_prefix("go ").and_then(|t| t.parse().ok()) {
                to_control.update(|inbox| inbox.go = Some(start));
            }
        })
        .wait()
        .map_err(|e| failed("declaring the control subscriber", e))?;
    let to_frames = mailbox.clone();
    let frames = session
        .declare_subscriber(format!("fbench/{run}/frames"))
        .callback(move |sample: Sample| {
            // Every sample is checked, also those the next one replaces before a read:
            // a fall-back is counted however few of its frames the consumer takes.
            if transport == Transport::Shm && sample.payload().as_shm().is_none() {
                // Relaxed: a tally, read once the consumer has stopped.
                to_frames.not_shm.fetch_add(1, Ordering::Relaxed);
            }
            // Latest value: the newest sample replaces one not yet taken (which is released
            // here, outside nobody's hands).
            if let Some(meta) = decode_meta(&sample) {
                to_frames.update(|inbox| inbox.newest = Some((meta, sample)));
            }
        })
        .wait()
        .map_err(|e| failed("declaring the frame subscriber", e))?;
    Ok((frames, control))
}

/// What keeps a reader's session open.
enum Owner {
    /// The producer's session, in this process.
    InProcess(#[allow(dead_code)] Arc<ZenohStrategy>),
    /// A consumer process's own client session.
    Process(Session),
}

/// One consumer: its subscribers and the newest frame they received.
pub struct ZenohReader {
    mailbox: Arc<Mailbox>,
    // Subscribers before the session: fields drop in this order.
    _frames: Subscriber<()>,
    _control: Subscriber<()>,
    transport: Transport,
    /// The consumer id, in a consumer process.
    id: Option<usize>,
    run: String,
    session: Owner,
}

impl ZenohReader {
    /// Connect to run `run`'s producer from a consumer process, as consumer `id`.
    pub fn attach(run: &str, id: usize) -> Result<Self, BuildError> {
        let path = endpoint_file(run);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| failed(&format!("reading {}", path.display()), e))?;
        let mut words = text.split_whitespace();
        let (Some(endpoint), Some(transport)) =
            (words.next(), words.next().and_then(Transport::from_name))
        else {
            return Err(failed(&format!("{}", path.display()), "not an endpoint"));
        };
        let session = open_consumer_session(transport, endpoint)?;
        let mailbox = Arc::new(Mailbox::default());
        let (frames, control) = subscribe(&session, run, transport, &mailbox)?;
        Ok(ZenohReader {
            mailbox,
            _frames: frames,
            _control: control,
            transport,
            id: Some(id),
            run: run.to_string(),
            session: Owner::Process(session),
        })
    }

    /// Start barrier, consumer side: say "ready" until the producer says go. Returns the
    /// CLOCK_MONOTONIC time measuring starts.
    pub fn wait_for_go(&mut self) -> Result<u64, BuildError> {
        let Owner::Process(session) = &self.session else {
            return Err(failed(
                "waiting for go",
                "an in-process reader has no barrier",
            ));
        };
        let id = self.id.unwrap_or(0).to_string();
        let ready_key = format!("fbench/{}/ready", self.run);
        let give_up = Instant::now() + GO_TIMEOUT;
        let mut inbox = self.mailbox.state.lock();
        loop {
            if let Some(start) = inbox.go {
                return Ok(start);
            }
            if inbox.closed || Instant::now() > give_up {
                return Err(failed(
                    "waiting for go",
                    "the producer never started the run",
                ));
            }
            parking_lot::MutexGuard::unlocked(&mut inbox, || {
                session.put(&ready_key, id.clone()).wait()
            })
            .map_err(|e| failed("announcing readiness", e))?;
            self.mailbox.changed.wait_for(&mut inbox, READY_REPEAT);
        }
    }

    fn check(&self, after: u64) -> Option<WaitOutcome> {
        let inbox = self.mailbox.state.lock();
        match &inbox.newest {
            Some((meta, _)) if meta.publish_seq > after => {
                Some(WaitOutcome::Newer(meta.publish_seq))
            }
            _ => inbox.closed.then_some(WaitOutcome::Closed),
        }
    }
}

impl Drop for ZenohReader {
    fn drop(&mut self) {
        if let Owner::Process(session) = &self.session {
            let _ = session.close().wait();
        }
    }
}

/// A received frame: the sample (its shared-memory chunk, or its reassembled bytes) and,
/// when Zenoh handed the bytes over in pieces, one contiguous copy.
pub struct ZenohFrame {
    meta: FrameMeta,
    sample: Sample,
    contiguous: Option<Vec<u8>>,
}

impl FrameView for ZenohFrame {
    fn meta(&self) -> &FrameMeta {
        &self.meta
    }
    fn bytes(&self) -> &[u8] {
        if let Some(bytes) = &self.contiguous {
            return bytes;
        }
        match self.sample.payload().to_bytes() {
            Cow::Borrowed(bytes) => bytes,
            // `acquire` made the copy whenever the payload is in pieces.
            Cow::Owned(_) => unreachable!("a payload in pieces has its contiguous copy"),
        }
    }
}

impl Reader for ZenohReader {
    type Frame<'a> = ZenohFrame;

    fn wait_newer(&mut self, after: u64, mode: WaitMode) -> WaitOutcome {
        loop {
            if let Some(outcome) = self.check(after) {
                return outcome;
            }
            match mode {
                WaitMode::Block => {
                    let mut inbox = self.mailbox.state.lock();
                    let nothing_new = match &inbox.newest {
                        Some((meta, _)) => meta.publish_seq <= after,
                        None => true,
                    };
                    if nothing_new && !inbox.closed {
                        self.mailbox.changed.wait_for(&mut inbox, WAIT_SLICE);
                    }
                }
                WaitMode::Poll(interval) => std::thread::sleep(interval),
                WaitMode::Spin => std::hint::spin_loop(),
            }
        }
    }

    fn acquire(&mut self) -> Option<ZenohFrame> {
        let (meta, sample) = self.mailbox.state.lock().newest.take()?;
        let contiguous = match sample.payload().to_bytes() {
            Cow::Borrowed(_) => None,
            Cow::Owned(bytes) => Some(bytes),
        };
        Some(ZenohFrame {
            meta,
            sample,
            contiguous,
        })
    }

    fn not_shm(&self) -> Option<u64> {
        // Relaxed: a tally the subscriber's callback keeps; read after the last frame.
        (self.transport == Transport::Shm).then(|| self.mailbox.not_shm.load(Ordering::Relaxed))
    }
}

impl crate::CrossProcess for ZenohStrategy {
    type Attached = ZenohReader;

    fn descriptor() -> crate::Descriptor {
        crate::zenoh_descriptor(false)
    }

    fn create(params: &StrategyParams, run: &str) -> Result<Self, BuildError> {
        ZenohStrategy::shared(params, run, Transport::Shm)
    }

    fn attach(run: &str, id: usize, _frame_len: usize) -> Result<(ZenohReader, u64), String> {
        let mut reader = ZenohReader::attach(run, id).map_err(|e| e.to_string())?;
        let measure_start = reader.wait_for_go().map_err(|e| e.to_string())?;
        Ok((reader, measure_start))
    }

    fn attached(&self) -> usize {
        ZenohStrategy::attached(self)
    }

    fn go(&self, measure_start_ns: u64) -> Result<(), BuildError> {
        ZenohStrategy::go(self, measure_start_ns)
    }

    /// `fbench clean`: the endpoint files of runs whose producer is gone, and Zenoh's
    /// shared-memory segments whose owner is gone (Zenoh's own cleanup, which leaves live
    /// processes' segments alone).
    fn clean() -> Result<Vec<String>, String> {
        zenoh::shm::cleanup_orphaned_shm_segments();
        let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
            return Ok(Vec::new());
        };
        let mut removed = Vec::new();
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            let stale = name.ends_with(".zenoh")
                && crate::leftovers::run_producer(&name)
                    .is_some_and(|pid| !crate::leftovers::is_alive(pid));
            // Gone already: another pass of `fbench clean` took it.
            if stale && std::fs::remove_file(entry.path()).is_ok() {
                removed.push(entry.path().display().to_string());
            }
        }
        Ok(removed)
    }

    fn reclaim(&self, _id: usize) -> bool {
        // A dead consumer's session ends with its TCP connection; the shared-memory chunks it
        // held are released by Zenoh's own watchdog. Nothing is held on fbench's side.
        false
    }
}
