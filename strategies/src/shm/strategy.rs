//! The `shm` and `shm-naive` strategies over a [`Segment`].

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::protocol::{self, pack, unpack, ControlWords};
use super::segment::{Segment, SegmentError, SegmentSpec};
use super::SlotPolicy;
use crate::snapshot::{SharedBytes, Snapshots};
use crate::{
    Counters, FrameMeta, FrameView, Publish, Reader, Strategy, StrategyParams, StrategyStats,
    WaitMode, WaitOutcome,
};

/// Extra reader entries of an in-process stand-in, so tests can create and drop readers freely.
const IN_PROCESS_SPARE_READERS: usize = 16;

pub struct ShmStrategy {
    segment: Arc<Segment>,
    writer: Mutex<WriterState>,
    policy: SlotPolicy,
    counters: Counters,
    published: AtomicU64,
    /// `FUTEX_WAKE` system calls the writer made (publishes and close with a sleeper).
    wake_syscalls: AtomicU64,
}

struct WriterState {
    latest_slot: Option<usize>,
    next_seq: u64,
}

fn spec_of(params: &StrategyParams, readers: usize, naive: bool) -> SegmentSpec {
    SegmentSpec {
        slot_count: params.shm_slots(),
        reader_capacity: readers.max(1),
        frame_len: params.frame_len,
        width: params.width,
        height: params.height,
        format: params.format,
        naive,
    }
}

impl ShmStrategy {
    /// The in-process stand-in: the same layout and protocol in ordinary memory.
    pub fn in_process(params: &StrategyParams, naive: bool) -> Result<Self, SegmentError> {
        let spec = spec_of(params, params.consumers + IN_PROCESS_SPARE_READERS, naive);
        Ok(Self::over(Segment::in_process(&spec)?, params.slot_policy))
    }

    /// A named shared-memory segment for `params.consumers` reader processes.
    pub fn shared(params: &StrategyParams, name: &str, naive: bool) -> Result<Self, SegmentError> {
        let spec = spec_of(params, params.consumers, naive);
        Ok(Self::over(
            Segment::create_shared(name, &spec)?,
            params.slot_policy,
        ))
    }

    fn over(segment: Segment, policy: SlotPolicy) -> Self {
        ShmStrategy {
            segment: Arc::new(segment),
            writer: Mutex::new(WriterState {
                latest_slot: None,
                next_seq: 0,
            }),
            policy,
            counters: Counters::default(),
            published: AtomicU64::new(0),
            wake_syscalls: AtomicU64::new(0),
        }
    }

    /// `FUTEX_WAKE` system calls made so far: one per publish or close that found a reader
    /// registered asleep.
    pub fn wake_syscalls(&self) -> u64 {
        // Relaxed: a tally, read by the writer's own thread or after joining it.
        self.wake_syscalls.load(Ordering::Relaxed)
    }

    fn wake_readers(&self) {
        if self.segment.waker(None).wake_all() {
            // Relaxed: a tally.
            self.wake_syscalls.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn segment(&self) -> &Segment {
        &self.segment
    }

    /// Reader `reader` is dead (its process was reaped): give its slot back to the writer and
    /// stop waking it.
    pub fn reclaim_reader(&self, reader: usize) -> Option<usize> {
        let held = protocol::reclaim(&*self.segment, reader);
        // Release: the entry may be reused only after the hazard is clear.
        self.segment
            .reader_entry(reader)
            .owner
            .store(0, Ordering::Release);
        held
    }

    /// Start barrier: how many reader processes have attached and are ready.
    pub fn attached(&self) -> u32 {
        // Acquire: pairs with the readers' Release increment.
        self.segment.header().attached.load(Ordering::Acquire)
    }

    /// Start barrier: tell every reader process to begin, measuring from `measure_start_ns`.
    pub fn go(&self, measure_start_ns: u64) {
        let header = self.segment.header();
        // Relaxed: published by the Release increment of `go` in wake_all.
        header
            .measure_start_ns
            .store(measure_start_ns, Ordering::Relaxed);
        self.segment.go_waker().wake_all();
    }

    fn claim(&self, latest_slot: Option<usize>) -> Option<usize> {
        loop {
            if let Some(slot) = protocol::claim(&*self.segment, latest_slot) {
                return Some(slot);
            }
            match self.policy {
                SlotPolicy::Drop => return None,
                // A reader holds every other slot: its release is a plain store, not a
                // wake-up, so poll at a fraction of any frame period.
                SlotPolicy::Wait => std::thread::sleep(Duration::from_micros(50)),
            }
        }
    }
}

impl Strategy for ShmStrategy {
    type Reader = ShmReader;

    fn name(&self) -> &'static str {
        if self.segment.is_naive() {
            "shm-naive"
        } else {
            "shm"
        }
    }

    fn publish<F: FnOnce(&mut [u8]) -> FrameMeta>(&self, render: F) -> Publish {
        let mut writer = self.writer.lock();
        let slot = if self.segment.is_naive() {
            // The seed design: next slot round-robin, readers or not.
            writer.latest_slot.map_or(0, |s| s + 1) % self.segment.geometry().slot_count
        } else {
            match self.claim(writer.latest_slot) {
                Some(slot) => slot,
                None => {
                    self.counters.add_drop();
                    return Publish::Dropped;
                }
            }
        };
        let frame_len = self.segment.geometry().frame_len;
        // SAFETY: `slot` is in bounds and, under the slot protocol, WRITING with no reader
        // holding it, so this is the only reference to its bytes until `publish`. (Under the
        // naive protocol readers may be reading it: that race is the demonstration, and
        // fbench only runs it with the readers in other processes.)
        let frame =
            unsafe { std::slice::from_raw_parts_mut(self.segment.slot_ptr(slot), frame_len) };
        let mut meta = render(frame);
        writer.next_seq += 1;
        let seq = writer.next_seq;
        meta.publish_seq = seq;
        // SAFETY: as above: the slot's metadata belongs to the writer while it is WRITING.
        unsafe {
            self.segment
                .slot_header(slot)
                .meta
                .get()
                .write_volatile(meta)
        };
        if self.segment.is_naive() {
            // Release: readers that see it see the metadata written before.
            self.segment
                .latest()
                .store(pack(seq, slot), Ordering::Release);
        } else {
            protocol::publish(&*self.segment, slot, seq);
        }
        writer.latest_slot = Some(slot);
        // Relaxed: a tally for stats.
        self.published.store(seq, Ordering::Relaxed);
        self.wake_readers();
        Publish::Published(seq)
    }

    fn reader(self: Arc<Self>) -> ShmReader {
        let segment = self.segment.clone();
        let id = (0..segment.geometry().reader_capacity)
            .find(|&r| {
                // AcqRel: claims the entry exclusively; pairs with the Release on free.
                segment
                    .reader_entry(r)
                    .owner
                    .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
            })
            .expect("more in-process readers than the segment was built for");
        ShmReader::new(segment, id)
    }

    fn close(&self) {
        // Release: readers that see `closed` also see the final `latest`, stored before.
        self.segment.header().closed.store(1, Ordering::Release);
        self.wake_readers();
    }

    fn stats(&self) -> StrategyStats {
        let mut stats = self
            .counters
            .snapshot(self.published.load(Ordering::Relaxed));
        // Relaxed: a tally the readers keep in the segment, read after they are gone.
        stats.lost_wakeups = self.segment.header().lost_wakeups.load(Ordering::Relaxed);
        stats
    }

    fn frames_outstanding(&self) -> Option<u64> {
        // Slots still marked held by a reader (dead readers' are reclaimed by the runner).
        let words = &*self.segment;
        let held = (0..words.reader_count())
            // Acquire: pairs with the readers' Release clear of their hazard.
            .filter(|&r| words.hazard(r).load(Ordering::Acquire) != 0)
            .count();
        Some(held as u64)
    }
}

/// One consumer's side of a segment, in this process or another.
pub struct ShmReader {
    segment: Arc<Segment>,
    id: usize,
    /// Attached from another process: a corrupt segment ends this process with
    /// [`super::EXIT_CORRUPT_SEGMENT`] (in-process, the segment is ours and corruption a bug).
    attached: bool,
    /// `shm-naive`: copy buffers given back by dropped frames.
    spare: RefCell<Vec<Box<[u8]>>>,
}

impl ShmReader {
    fn new(segment: Arc<Segment>, id: usize) -> Self {
        ShmReader {
            segment,
            id,
            attached: false,
            spare: RefCell::new(Vec::new()),
        }
    }

    /// Attach to the named segment as reader `id` (a consumer process).
    pub fn attach(name: &str, id: usize) -> Result<ShmReader, SegmentError> {
        let segment = Segment::attach(name)?;
        if id >= segment.geometry().reader_capacity {
            return Err(SegmentError::Attach {
                name: name.to_string(),
                reason: format!(
                    "reader {id} but the segment has room for {}",
                    segment.geometry().reader_capacity
                ),
            });
        }
        // AcqRel: claims the entry for this process alone (a second process attaching as the
        // same reader is refused); pairs with the Release store of 0 when a reader lets go of
        // it or the parent reclaims it, so the entry's previous user is done with it.
        let me = std::process::id();
        if let Err(owner) = segment.reader_entry(id).owner.compare_exchange(
            0,
            me,
            Ordering::AcqRel,
            Ordering::Relaxed,
        ) {
            return Err(SegmentError::SlotTaken {
                name: name.to_string(),
                id,
                owner,
            });
        }
        let mut reader = ShmReader::new(Arc::new(segment), id);
        reader.attached = true;
        Ok(reader)
    }

    /// The segment is corrupt: end this consumer process with one line and
    /// [`super::EXIT_CORRUPT_SEGMENT`]; in-process, a bug of ours, so a panic.
    fn corrupt(&self, what: &dyn std::fmt::Display) -> ! {
        let name = self.segment.name().unwrap_or("(in-process)");
        if !self.attached {
            panic!("in-process shm segment corrupt: {what}");
        }
        eprintln!(
            "error: consumer {}: corrupt segment {name}: {what}",
            self.id
        );
        std::process::exit(super::EXIT_CORRUPT_SEGMENT)
    }

    pub fn segment(&self) -> &Segment {
        &self.segment
    }

    /// Start barrier, reader side: count ourselves in, then sleep until the parent says go.
    /// Returns the CLOCK_MONOTONIC time measuring starts.
    pub fn ready_and_wait_for_go(&self) -> u64 {
        let header = self.segment.header();
        // Release: our setup happens before the parent's count sees us.
        header.attached.fetch_add(1, Ordering::Release);
        self.segment.go_waker().wait_until(|| {
            // Acquire: pairs with the Release increment of `go` (and measure_start_ns before).
            (header.go.load(Ordering::Acquire) != 0).then_some(())
        });
        // Relaxed: ordered after the store by the Release `go` increment we just observed.
        header.measure_start_ns.load(Ordering::Relaxed)
    }

    fn check(&self, after: u64) -> Option<WaitOutcome> {
        if !self.segment.magic_intact() {
            self.corrupt(&"its header was overwritten");
        }
        let header = self.segment.header();
        // `closed` before `latest`: if closed is already set, the `latest` read after it
        // sees the final frame. Acquire on both: they pair with the Release stores in
        // `close` and `publish`; against a lost wake-up they are ordered by the waker's fence.
        let closed = header.closed.load(Ordering::Acquire) != 0;
        let (seq, _) = unpack(header.latest.load(Ordering::Acquire));
        if seq > after {
            Some(WaitOutcome::Newer(seq))
        } else if closed {
            Some(WaitOutcome::Closed)
        } else {
            None
        }
    }
}

impl Drop for ShmReader {
    fn drop(&mut self) {
        let entry = self.segment.reader_entry(self.id);
        // Release: as a release of any held slot, then the entry is free for reuse.
        entry.hazard.store(0, Ordering::Release);
        entry.owner.store(0, Ordering::Release);
    }
}

/// A frame held in the segment.
pub struct ShmFrame<'a> {
    reader: &'a ShmReader,
    meta: FrameMeta,
    data: FrameBytes<'a>,
}

enum FrameBytes<'a> {
    /// `shm`: read in place; nobody writes the slot while we hold it.
    InPlace(&'a [u8]),
    /// `shm-naive`: the writer may be rewriting the slot, so every look copies it through
    /// atomic loads ([`crate::snapshot`]); no reference to the shared bytes is ever made.
    Looks(Snapshots<'a>),
}

impl FrameView for ShmFrame<'_> {
    fn meta(&self) -> &FrameMeta {
        &self.meta
    }
    fn bytes(&self) -> &[u8] {
        match &self.data {
            FrameBytes::InPlace(bytes) => bytes,
            FrameBytes::Looks(looks) => looks.look(),
        }
    }
}

impl Drop for ShmFrame<'_> {
    fn drop(&mut self) {
        if !self.reader.segment.is_naive() {
            protocol::release(&*self.reader.segment, self.reader.id);
        }
    }
}

impl Reader for ShmReader {
    type Frame<'a> = ShmFrame<'a>;

    fn wait_newer(&mut self, after: u64, mode: WaitMode) -> WaitOutcome {
        match mode {
            WaitMode::Block => self
                .segment
                .waker(Some(self.id))
                .wait_until(|| self.check(after)),
            WaitMode::Poll(interval) => loop {
                if let Some(outcome) = self.check(after) {
                    return outcome;
                }
                std::thread::sleep(interval);
            },
            WaitMode::Spin => loop {
                if let Some(outcome) = self.check(after) {
                    return outcome;
                }
                std::hint::spin_loop();
            },
        }
    }

    fn acquire(&mut self) -> Option<ShmFrame<'_>> {
        let frame_len = self.segment.geometry().frame_len;
        if self.segment.is_naive() {
            // Acquire: pairs with the writer's Release store; the naive design stops there.
            let latest = self.segment.latest().load(Ordering::Acquire);
            if latest == 0 {
                return None;
            }
            let slot = unpack(latest).1;
            // SAFETY: nothing protects the slot from the writer (that is what the naive
            // design demonstrates), so the metadata is read with one volatile read, never
            // through a reference, and may mix two writes: the torn-frame check catches it.
            let meta = unsafe { self.segment.slot_header(slot).meta.get().read_volatile() };
            // SAFETY: the slot is page-aligned and a page-rounded `frame_len` bytes inside the
            // mapping for as long as the segment (kept alive by `self`), and this side only
            // reads it through atomic loads.
            let shared = unsafe { SharedBytes::from_raw(self.segment.slot_ptr(slot), frame_len) };
            let looks = Snapshots::new(shared, &self.spare);
            return Some(ShmFrame {
                reader: self,
                meta,
                data: FrameBytes::Looks(looks),
            });
        }
        let slot = protocol::acquire(&*self.segment, self.id, |slot| {
            // SAFETY: called only while we hold `slot` (hazard set, not WRITING), so the
            // writer does not touch its metadata.
            unsafe { self.segment.slot_header(slot).meta.get().read_volatile() }.publish_seq
        })
        .unwrap_or_else(|corrupt| self.corrupt(&corrupt))?;
        // SAFETY: we hold `slot` (our hazard is set and it is not WRITING), so its metadata
        // and bytes do not change until the frame is dropped.
        let meta = unsafe { self.segment.slot_header(slot).meta.get().read_volatile() };
        // SAFETY: as above; the slot is `frame_len` bytes inside the mapping.
        let data = unsafe { std::slice::from_raw_parts(self.segment.slot_ptr(slot), frame_len) };
        Some(ShmFrame {
            reader: self,
            meta,
            data: FrameBytes::InPlace(data),
        })
    }
}

impl crate::CrossProcess for ShmStrategy {
    type Attached = ShmReader;

    fn descriptor() -> crate::Descriptor {
        super::descriptor(false)
    }

    fn create(params: &StrategyParams, run: &str) -> Result<Self, crate::BuildError> {
        Ok(ShmStrategy::shared(params, run, false)?)
    }

    fn attach(run: &str, id: usize, frame_len: usize) -> Result<(ShmReader, u64), String> {
        let reader = ShmReader::attach(run, id).map_err(|e| e.to_string())?;
        let held = reader.segment().geometry().frame_len;
        if held != frame_len {
            return Err(format!(
                "segment {run} holds frames of {held} bytes, expected {frame_len}"
            ));
        }
        let measure_start = reader.ready_and_wait_for_go();
        Ok((reader, measure_start))
    }

    fn attached(&self) -> usize {
        ShmStrategy::attached(self) as usize
    }

    fn go(&self, measure_start_ns: u64) -> Result<(), crate::BuildError> {
        ShmStrategy::go(self, measure_start_ns);
        Ok(())
    }

    fn reclaim(&self, id: usize) -> bool {
        self.reclaim_reader(id).is_some()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;

    use super::*;
    use crate::conformance::{is_whole, render, FRAME_LEN};

    /// Six readers; two stop while holding frames 1 and 2 (they are simply not driven any
    /// further: deterministic, no timing), four read as fast as they can. Returns the stats
    /// after `frames` publishes.
    fn two_of_six_stopped(slots: Option<usize>, frames: u64) -> StrategyStats {
        let mut params = StrategyParams::new(FRAME_LEN, 6);
        params.slots = slots;
        let strategy = Arc::new(ShmStrategy::in_process(&params, false).unwrap());
        let mut stopped_a = strategy.clone().reader();
        let mut stopped_b = strategy.clone().reader();
        strategy.publish(render(1));
        let held_a = stopped_a.acquire().unwrap();
        strategy.publish(render(2));
        let held_b = stopped_b.acquire().unwrap();
        let start = Arc::new(Barrier::new(5));
        let running: Vec<_> = (0..4)
            .map(|id| {
                let mut reader = strategy.clone().reader();
                let start = start.clone();
                std::thread::spawn(move || {
                    start.wait();
                    let mode = [WaitMode::Block, WaitMode::Spin][id % 2];
                    let mut last = 0;
                    while let WaitOutcome::Newer(_) = reader.wait_newer(last, mode) {
                        let frame = reader.acquire().unwrap();
                        assert!(is_whole(&frame));
                        assert!(frame.meta().publish_seq > last);
                        last = frame.meta().publish_seq;
                    }
                    last
                })
            })
            .collect();
        start.wait();
        for seq in 3..=frames {
            strategy.publish(render(seq));
        }
        strategy.close();
        let published = strategy.stats().published;
        for reader in running {
            assert_eq!(reader.join().unwrap(), published, "ends on the final frame");
        }
        // The stopped readers' frames never changed under them.
        assert_eq!(held_a.meta().publish_seq, 1);
        assert_eq!(held_b.meta().publish_seq, 2);
        assert!(is_whole(&held_a) && is_whole(&held_b));
        strategy.stats()
    }

    #[test]
    fn two_stopped_readers_of_six_cost_no_frame_at_the_default_slots() {
        let stats = two_of_six_stopped(None, 2000);
        assert_eq!(
            StrategyParams::new(FRAME_LEN, 6).shm_slots(),
            8,
            "consumers + 2"
        );
        assert_eq!(stats.producer_drops, 0);
        assert_eq!(stats.published, 2000);
        // Half the running readers sleep in the futex wait: every frame woke them.
        assert_eq!(stats.lost_wakeups, 0);
    }

    /// The writer claims the lowest free slot: with 20 consumers' worth of slots (22) and
    /// readers that each keep a frame across two publishes (so one frame besides the latest is
    /// held at every claim), only slots 0, 1 and 2 are ever written; the other 19 are never
    /// made resident.
    #[test]
    fn the_writer_touches_only_as_many_slots_as_are_held() {
        let params = StrategyParams::new(FRAME_LEN, 20);
        assert_eq!(params.shm_slots(), 22);
        let strategy = Arc::new(ShmStrategy::in_process(&params, false).unwrap());
        let mut groups: Vec<Vec<_>> = (0..3)
            .map(|_| (0..2).map(|_| strategy.clone().reader()).collect())
            .collect();
        let mut written = std::collections::BTreeSet::new();
        let mut publish = |seq: u64| {
            assert_eq!(strategy.publish(render(seq)), Publish::Published(seq));
            // Relaxed: this thread is the writer.
            written.insert(unpack(strategy.segment().latest().load(Ordering::Relaxed)).1);
        };
        publish(1);
        let [a, b, c] = &mut groups[..] else {
            unreachable!()
        };
        for seq in (2..=600).step_by(3) {
            // Each group takes the newest frame and keeps it over two publishes.
            let held_a: Vec<_> = a.iter_mut().filter_map(|r| r.acquire()).collect();
            publish(seq);
            let held_b: Vec<_> = b.iter_mut().filter_map(|r| r.acquire()).collect();
            publish(seq + 1);
            assert!(held_a.iter().all(is_whole));
            drop(held_a);
            let held_c: Vec<_> = c.iter_mut().filter_map(|r| r.acquire()).collect();
            publish(seq + 2);
            assert!(held_b.iter().chain(&held_c).all(is_whole));
        }
        assert_eq!(written.into_iter().collect::<Vec<_>>(), [0, 1, 2]);
        // No reader at all: the writer alternates between two slots.
        let alone = ShmStrategy::in_process(&params, false).unwrap();
        let mut written = std::collections::BTreeSet::new();
        for seq in 1..=100 {
            alone.publish(render(seq));
            // Relaxed: this thread is the writer.
            written.insert(unpack(alone.segment().latest().load(Ordering::Relaxed)).1);
        }
        assert_eq!(written.into_iter().collect::<Vec<_>>(), [0, 1]);
    }

    /// Garbage in `latest` (a process scribbling on the segment) is reported as corrupt,
    /// never followed out of bounds nor spun on forever.
    #[test]
    fn garbage_in_latest_is_corrupt_not_a_panic_or_a_hang() {
        let params = StrategyParams::new(FRAME_LEN, 1);
        let strategy = ShmStrategy::in_process(&params, false).unwrap();
        let words = strategy.segment();
        let seq_in = |slot: usize| {
            // SAFETY: single-threaded test; nobody writes the metadata meanwhile.
            unsafe { words.slot_header(slot).meta.get().read_volatile() }.publish_seq
        };
        strategy.publish(render(1));
        assert_eq!(protocol::acquire(words, 0, seq_in), Ok(Some(0)));
        protocol::release(words, 0);
        // Relaxed: single-threaded test.
        words.latest().store(pack(1, 200), Ordering::Relaxed);
        assert_eq!(
            protocol::acquire(words, 0, seq_in),
            Err(protocol::Corrupt::SlotIndex)
        );
        // Names slot 0, which holds frame 1, as frame 7.
        words.latest().store(pack(7, 0), Ordering::Relaxed);
        assert_eq!(
            protocol::acquire(words, 0, seq_in),
            Err(protocol::Corrupt::LatestFrame)
        );
        assert_eq!(words.hazard(0).load(Ordering::Relaxed), 0, "nothing held");
        assert!(words.magic_intact());
    }

    /// A second process attaching as a reader another one holds is refused.
    #[test]
    fn a_taken_reader_slot_is_refused() {
        let name = crate::shm::unique_name();
        let params = StrategyParams::new(FRAME_LEN, 2);
        let _strategy = ShmStrategy::shared(&params, &name, false).unwrap();
        let first = ShmReader::attach(&name, 1).unwrap();
        let error = ShmReader::attach(&name, 1).err().unwrap();
        assert!(
            error.to_string().contains("reader slot 1 is already taken"),
            "{error}"
        );
        drop(first);
        assert!(
            ShmReader::attach(&name, 1).is_ok(),
            "free again once let go"
        );
    }

    /// A frame published without its wake-up (a broken writer): the sleeping reader finds it
    /// when its sleep times out, and the segment counts a lost wake-up. Gated on the reader's
    /// sleeping flag.
    #[test]
    fn a_missed_wake_is_counted_in_the_segment() {
        let params = StrategyParams::new(FRAME_LEN, 1);
        let strategy = Arc::new(ShmStrategy::in_process(&params, false).unwrap());
        let mut reader = strategy.clone().reader();
        let id = reader.id;
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let waiting = std::thread::spawn(move || {
            tid_tx.send(crate::conformance::thread_id()).unwrap();
            reader.wait_newer(0, WaitMode::Block)
        });
        let tid = tid_rx.recv().unwrap();
        let asleep = &strategy.segment().reader_entry(id).asleep;
        // Relaxed: polling a flag; the frame below is published with its own Release.
        while asleep.load(Ordering::Relaxed) == 0 {
            std::thread::yield_now();
        }
        // Registered, then asleep: past its last check (see `until_thread_sleeps`).
        crate::conformance::until_thread_sleeps(tid);
        let slot = protocol::claim(strategy.segment(), None).unwrap();
        protocol::publish(strategy.segment(), slot, 1); // and no wake_all
        assert_eq!(waiting.join().unwrap(), WaitOutcome::Newer(1));
        assert_eq!(strategy.stats().lost_wakeups, 1);
        assert_eq!(strategy.wake_syscalls(), 0);
    }

    /// Deterministic tearing: a reader holds frame 1 while the writer publishes three more
    /// into three slots (one thread, so reads and writes never overlap in time). The naive
    /// writer laps the held slot and the next look at the frame sees another frame's bytes;
    /// `shm` never writes a held slot, so the frame stays whole.
    fn held_through_a_lap(naive: bool) -> (bool, bool, StrategyStats) {
        let mut params = StrategyParams::new(FRAME_LEN, 1);
        params.slots = Some(3);
        let strategy = Arc::new(ShmStrategy::in_process(&params, naive).unwrap());
        let mut reader = strategy.clone().reader();
        strategy.publish(render(1));
        let frame = reader.acquire().unwrap();
        assert_eq!(frame.meta().seq, 1);
        let whole_before = is_whole(&frame);
        for seq in 2..=4 {
            strategy.publish(render(seq));
        }
        let whole_after = is_whole(&frame);
        drop(frame);
        (whole_before, whole_after, strategy.stats())
    }

    #[test]
    fn the_naive_writer_laps_a_held_frame_and_it_shows_torn() {
        let (before, after, stats) = held_through_a_lap(true);
        assert!(before);
        assert!(!after, "frame 4 was written over the held frame 1");
        assert_eq!(stats.published, 4);
    }

    #[test]
    fn shm_never_writes_a_held_frame() {
        let (before, after, stats) = held_through_a_lap(false);
        assert!(before && after);
        assert_eq!(stats.published + stats.producer_drops, 4);
    }

    #[test]
    fn two_stopped_readers_starve_a_triple_buffer() {
        // Why the default is not 3: frame 3 takes the last free slot, and from then on the
        // two slots that are not the latest are both held.
        let stats = two_of_six_stopped(Some(3), 2000);
        assert_eq!(stats.published, 3);
        assert_eq!(stats.producer_drops, 2000 - 3);
    }
}

#[cfg(test)]
mod killed_asleep {
    //! A consumer process killed while asleep in the wait: the writer pays a `FUTEX_WAKE` per
    //! publish for it until it is reclaimed, and not after. The consumer is this test binary
    //! started again to run [`sleeping_consumer`] alone; nothing here depends on timing.

    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use super::*;
    use crate::conformance::{render, FRAME_LEN};

    const SEGMENT_ENV: &str = "FBENCH_TEST_SLEEPING_CONSUMER_SEGMENT";

    /// The child's part: attach as reader 0 and wait for a frame that never comes.
    #[test]
    #[ignore = "the consumer process of a_consumer_killed_asleep_costs_no_wake_once_reclaimed"]
    fn sleeping_consumer() {
        let Ok(name) = std::env::var(SEGMENT_ENV) else {
            return;
        };
        let mut reader = ShmReader::attach(&name, 0).unwrap();
        reader.wait_newer(0, WaitMode::Block);
        unreachable!("nothing is ever published before the parent kills us");
    }

    #[test]
    fn a_consumer_killed_asleep_costs_no_wake_once_reclaimed() {
        let name = crate::shm::unique_name();
        let params = StrategyParams::new(FRAME_LEN, 1);
        let strategy = ShmStrategy::shared(&params, &name, false).unwrap();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "shm::strategy::killed_asleep::sleeping_consumer",
                "--ignored",
                "--test-threads=1",
            ])
            .env(SEGMENT_ENV, &name)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Gate on the segment's state, not on time: the flag is raised just before the
        // child's FUTEX_WAIT. (The deadline only turns a broken child into a failure.)
        let asleep = &strategy.segment().reader_entry(0).asleep;
        let deadline = Instant::now() + Duration::from_secs(60);
        // Relaxed: polling a flag another process raises; nothing else is read through it.
        while asleep.load(Ordering::Relaxed) == 0 {
            assert!(
                Instant::now() < deadline,
                "the consumer never went to sleep"
            );
            assert!(child.try_wait().unwrap().is_none(), "the consumer exited");
            std::thread::sleep(Duration::from_millis(1));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        // Dead, but its flag says asleep: every publish pays a wake for nobody.
        strategy.publish(render(1));
        strategy.publish(render(2));
        assert_eq!(strategy.wake_syscalls(), 2);

        strategy.reclaim_reader(0);
        strategy.publish(render(3));
        strategy.publish(render(4));
        strategy.close();
        assert_eq!(
            strategy.wake_syscalls(),
            2,
            "no wake once the reader is reclaimed"
        );
        assert_eq!(strategy.stats().lost_wakeups, 0);
    }
}
