//! `shm`: a multi-reader triple buffer in shared memory, for consumers in other processes,
//! and `shm-naive`, the seed analyses' "V2" design as written.
//!
//! # Layout of a segment (layout version 2)
//!
//! ```text
//! offset 0      Header: magic "FBENCHSH", layout version, slot count, frame length, slot
//!               stride, data offset, reader capacity, creator pid, width, height, format,
//!               naive flag; then the atomics: latest (publish_seq << 8 | slot), closed,
//!               wake (futex word), attached (start barrier), go (futex word) and go
//!               sleepers, measure_start_ns, lost_wakeups
//! offset 256    slot_count x SlotHeader (64 bytes each): state (EMPTY/READY/WRITING), FrameMeta
//! then          reader_capacity x ReaderEntry (64 bytes each, one cache line): hazard, owner,
//!               asleep
//! data_offset   slot_count frame slots, each slot_stride bytes (frame length rounded up to
//!               4 KiB), page-aligned
//! ```
//!
//! The segment is a POSIX shared-memory object named `fbench-<pid>-<n>-<random>`; its pages
//! are reserved when it is created (a /dev/shm too small is an error then, not a SIGBUS
//! later), and its creator holds an exclusive `flock` on it for its whole life, which is how
//! [`stale_segments`] tells a dead run's segment from a live one in any PID namespace
//! (`posix.rs`). A reader claims its entry by a compare-and-swap of its owner word, so a
//! second process cannot attach as a reader that is taken, and a reader that finds values
//! the protocol never writes ([`protocol::Corrupt`], a header without its magic) ends its
//! process with [`EXIT_CORRUPT_SEGMENT`] rather than follow them.
//!
//! # Protocol (`shm`)
//!
//! One writer, many readers, frames read in place. It is a multi-reader triple buffer
//! (consumers + 2 slots by default, see below) with *reader tracking* by hazard slots, in the manner of hazard pointers
//! (Michael, "Hazard pointers: safe memory reclamation for lock-free objects", 2004):
//!
//! * **Reader acquire**: load `latest`, publish "I hold slot s" in its own hazard word, then
//!   check that slot s is not WRITING. If it is, clear the hazard and retry.
//! * **Writer claim**: take the lowest-index slot that is not the latest one, mark it WRITING,
//!   then scan every reader's hazard. If some reader holds the slot, restore its state and try
//!   the next (see *Which slot the writer takes* for why the lowest).
//! * Both sides put a SeqCst fence between their store and their load, a Dekker-style
//!   handshake: either the reader's state load sees WRITING (the reader steps back) or the
//!   writer's scan sees the hazard (the writer steps back). So a reader never holds a slot that
//!   is being written, and the writer never writes a slot a reader holds or the latest one:
//!   **no frame ever tears, with any number of readers**.
//! * **Writer publish**: store READY (release), then `latest` = (publish_seq, slot).
//! * **Reader release**: clear its hazard (release), which orders its reads before the
//!   writer's next claim of the slot.
//! * A reader that loaded an old `latest` may find its slot already rewritten with a *newer*
//!   whole frame: it lets go and reads `latest` again, keeping a slot only when its frame is
//!   the one `latest` named (the slot's metadata says). Keeping the newer frame instead
//!   looked harmless but is not: the writer stores `latest` after READY, so the reader's next
//!   acquire could read a `latest` still naming an older frame and go backwards (the loom
//!   model found it). Successive loads of one atomic never go backwards, so sequence numbers
//!   are monotonic per reader.
//! * When every non-latest slot is held, the writer follows [`SlotPolicy`]: `drop` refuses the
//!   frame (a producer drop), `wait` retries every 50 µs.
//!
//! # Why consumers + 2 slots by default
//!
//! With N readers and N + 2 slots the writer never waits and never drops because of readers,
//! however slow they are or if they stop (SIGSTOP, a debugger, a stalled consumer) while
//! holding a frame. During one `claim` pass the latest slot L is fixed (only the writer
//! changes it). A reader holds one hazard at a time, and within the pass it can block at
//! most one slot other than L: to move its hazard from a slot X the writer saw to another
//! slot Y it must release X and load `latest` again, which now names L. So at most N slots
//! besides L are held, and of the N + 2 slots at least one is free and not L. With the old
//! default of three slots, two stopped readers holding the two non-latest frames make the
//! writer drop every frame until one of them moves; `--slots` still chooses any count from 2
//! (an explicit 3 is the classic triple buffer). The count is capped at [`protocol::MAX_SLOTS`],
//! above which (254 consumers) the guarantee no longer holds.
//!
//! # Which slot the writer takes: the lowest free one
//!
//! A slot that is never written is never touched, so its pages are never made resident in
//! any process. The writer therefore claims the lowest-index slot that is free (not the latest,
//! not held), not the next one round-robin (which touched every slot in turn, so memory grew
//! by a frame per consumer). Claim: *if at most H slots other than the latest are held during
//! a claim, the slot claimed has index at most H + 1*. Slots 0..=H+1 are H + 2 slots; at most
//! one of them is the latest and at most H are held (the pass argument above), so one of them
//! is free, and the writer takes the lowest free one. Hence a run whose readers hold at most H
//! frames at once only ever writes slots 0..=H+1: H + 2 frames resident, whatever the slot
//! count. With readers that let a frame go before the next one is published (the common case),
//! H is 0 or 1 and the writer alternates between two or three slots however many consumers
//! there are. The rule changes which free slot is taken, never whether one is: safety (no
//! slot written while held or latest) is the claim loop's, for any order of candidates.
//! Reusing a recently written slot also keeps its pages warm in the writer's caches and TLB.
//!
//! # Reclaiming dead readers
//!
//! * A reader process that dies holding a slot is *reclaimed*: the parent, once it has reaped
//!   the process, clears that reader's hazard and its sleeping flag
//!   ([`ShmStrategy::reclaim_reader`]).
//!
//! Waiting for a newer frame across processes uses the waker all strategies share
//! ([`crate::wake`]): a futex on a word in the segment, without FUTEX_PRIVATE_FLAG (private
//! futexes do not wake other processes), and one sleeping flag per reader in its entry
//! ([`protocol::ReaderSleepers`]), so that a reader killed in its sleep is forgotten when it is
//! reclaimed instead of costing every later publish a `FUTEX_WAKE`.
//!
//! The protocol is written once ([`protocol`]) over [`protocol::ControlWords`]; the
//! cross-process segment, the in-process stand-in (same layout in ordinary memory, used by the
//! conformance suite) and the loom model (`cfg(loom)`) all run that same code.
//!
//! # `shm-naive`
//!
//! Three slots and an index, no reader tracking: the writer writes slot (latest + 1) % 3 and
//! then points `latest` at it; readers read `latest` in place. A reader that holds a frame
//! for two frame periods has it overwritten under it. This is the design the seed analyses
//! call lock-free with "no tearing"; fbench runs it so its torn-frame count can be seen. It is
//! never part of `all`, and it only ever runs with its readers in other processes.

#[cfg(not(loom))]
mod posix;
pub mod protocol;
#[cfg(not(loom))]
pub mod segment;
#[cfg(not(loom))]
mod strategy;

#[cfg(not(loom))]
pub use posix::sigbus_message_to;
#[cfg(not(loom))]
pub use segment::{
    stale_segments, unique_name, Segment, SegmentError, SegmentSpec, NAME_PREFIX, SHM_DIR,
};
#[cfg(not(loom))]
pub use strategy::{ShmFrame, ShmReader, ShmStrategy};

/// Exit code of a consumer process whose reader found its segment corrupt (garbage written
/// into it by another process): it prints one line naming the segment and what was wrong,
/// and ends without a report; the parent reports it `corrupt segment`.
pub const EXIT_CORRUPT_SEGMENT: i32 = 4;

/// What the `shm` writer does when every slot it could write is held by readers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotPolicy {
    /// Refuse the frame (counted as a producer drop).
    Drop,
    /// Retry until a slot frees up.
    Wait,
}

/// The default slot count for `consumers` readers: consumers + 2 (module doc), at most
/// [`protocol::MAX_SLOTS`].
pub fn default_slots(consumers: usize) -> usize {
    consumers.saturating_add(2).min(protocol::MAX_SLOTS)
}

/// The facts of `shm` (`naive`: of `shm-naive`, the demonstration).
pub fn descriptor(naive: bool) -> crate::Descriptor {
    let descriptor = if naive {
        crate::Descriptor::new(
            "shm-naive",
            "DEMONSTRATION: the seed's V2 triple buffer without reader tracking; tears frames under slow readers (never in all)",
        )
        .origin(crate::Origin::Demonstration)
    } else {
        crate::Descriptor::new(
            "shm",
            "triple buffer in shared memory with reader tracking; consumers are processes reading in place (0 copies; no torn frames)",
        )
        .origin(crate::Origin::Own)
    };
    descriptor
        .cross_process()
        .resident_frames(|p| p.shm_slots())
        .parameters(&["slots", "slot_policy"])
}

#[cfg(all(test, loom))]
mod loom_tests {
    //! Model checks of the slot protocol and of the cross-process waker, through the same
    //! code the segment runs ([`protocol`], [`crate::wake`]), with the payload and the
    //! metadata in loom cells that flag any read concurrent with a write.
    //!
    //! * `shm_loom_slots_*`: three slots; a writer publishing three frames, claiming the
    //!   lowest free slot as the strategy does (so it comes back to a slot readers may hold:
    //!   its restore path); two
    //!   readers doing two acquire/release rounds each (the re-acquire); a reader that dies
    //!   holding a frame, reclaimed by a reaper once it is gone.
    //! * `shm_loom_wake_*`: blocking readers on the futex waker with per-reader sleeping
    //!   flags, a writer publishing and closing: no lost wake-up (a deadlock in the model,
    //!   where the futex has no timeout), the final frame seen before `Closed`.
    //!
    //! Mutations checked to make them fail are listed in the README (*Model checking*).

    use loom::cell::UnsafeCell;
    use loom::sync::Arc;

    use super::protocol::{self, pack, unpack, ControlWords, ReaderSleepers};
    use crate::primitive::{AtomicU32, AtomicU64, FutexWord, Ordering};
    use crate::wake::FutexWaker;
    use crate::WaitOutcome;

    struct Model {
        latest: AtomicU64,
        closed: AtomicU32,
        wake: FutexWord,
        lost_wakeups: AtomicU64,
        states: Vec<AtomicU32>,
        hazards: Vec<AtomicU32>,
        asleep: Vec<AtomicU32>,
        /// Per slot: the frame's payload and its metadata (the publish sequence in both).
        payload: Vec<UnsafeCell<u64>>,
        meta: Vec<UnsafeCell<u64>>,
    }

    impl Model {
        fn new(slots: usize, readers: usize) -> Arc<Model> {
            let words = |n: usize| (0..n).map(|_| AtomicU32::new(0)).collect();
            Arc::new(Model {
                latest: AtomicU64::new(0),
                closed: AtomicU32::new(0),
                wake: FutexWord::default(),
                lost_wakeups: AtomicU64::new(0),
                states: words(slots),
                hazards: words(readers),
                asleep: words(readers),
                payload: (0..slots).map(|_| UnsafeCell::new(0)).collect(),
                meta: (0..slots).map(|_| UnsafeCell::new(0)).collect(),
            })
        }

        fn waker(&self, reader: Option<usize>) -> FutexWaker<'_, ReaderSleepers<'_, Model>> {
            FutexWaker {
                word: &self.wake,
                sleepers: ReaderSleepers {
                    words: self,
                    reader,
                },
                lost_wakeups: Some(&self.lost_wakeups),
            }
        }

        /// The writer's publish, as `ShmStrategy::publish` does it: claim, write payload and
        /// metadata, publish, wake. Returns the slot, or `None` for a producer drop.
        ///
        /// The claim takes the lowest free slot, as the strategy's does: it comes back to a
        /// slot a reader may hold soonest, so three frames already reach the writer's restore
        /// path.
        fn publish(&self, latest_slot: Option<usize>, seq: u64, wake: bool) -> Option<usize> {
            let slot = protocol::claim(self, latest_slot)?;
            // loom reports a data race if a reader reads these cells now.
            self.payload[slot].with_mut(|p| unsafe { *p = seq });
            self.meta[slot].with_mut(|m| unsafe { *m = seq });
            protocol::publish(self, slot, seq);
            if wake {
                self.waker(None).wake_all();
            }
            Some(slot)
        }

        /// Reader `reader`: hold the newest frame, check it is whole, let it go. Returns its
        /// sequence number.
        fn read_once(&self, reader: usize) -> Option<u64> {
            let slot = protocol::acquire(self, reader, |slot| {
                // SAFETY (model): read while held; loom checks it is not written meanwhile.
                self.meta[slot].with(|m| unsafe { *m })
            })
            .expect("a segment only its writer writes is never corrupt")?;
            // SAFETY (model): loom checks the cells are not written meanwhile.
            let meta = self.meta[slot].with(|m| unsafe { *m });
            let payload = self.payload[slot].with(|p| unsafe { *p });
            assert_eq!(payload, meta, "a held frame is whole");
            assert!(meta >= 1, "an acquired slot holds a published frame");
            protocol::release(self, reader);
            Some(meta)
        }

        /// As `ShmReader::check`.
        fn check(&self, after: u64) -> Option<WaitOutcome> {
            let closed = self.closed.load(Ordering::Acquire) != 0;
            let (seq, _) = unpack(self.latest.load(Ordering::Acquire));
            if seq > after {
                Some(WaitOutcome::Newer(seq))
            } else if closed {
                Some(WaitOutcome::Closed)
            } else {
                None
            }
        }
    }

    impl ControlWords for Model {
        fn latest(&self) -> &AtomicU64 {
            &self.latest
        }
        fn slot_count(&self) -> usize {
            self.states.len()
        }
        fn state(&self, slot: usize) -> &AtomicU32 {
            &self.states[slot]
        }
        fn reader_count(&self) -> usize {
            self.hazards.len()
        }
        fn hazard(&self, reader: usize) -> &AtomicU32 {
            &self.hazards[reader]
        }
        fn asleep(&self, reader: usize) -> &AtomicU32 {
            &self.asleep[reader]
        }
    }

    fn model(preemptions: usize, test: impl Fn() + Sync + Send + 'static) {
        // Bounded preemption keeps each search to seconds (the full space does not finish in
        // minutes). Two preemptions for the slot tests (three slots, three or four threads:
        // three took 100 s each on the shared 2-CPU machine), three for the waker tests; every
        // mutation listed in the README fails within these bounds.
        // LOOM_MAX_PREEMPTIONS in the environment overrides it.
        let mut model = loom::model::Builder::new();
        model.preemption_bound = model.preemption_bound.or(Some(preemptions));
        model.check(test);
    }

    /// The writer's side of the slot tests: publish frames 1..=`frames` (dropping any that
    /// find every slot held); returns the latest slot.
    fn write_frames(model: &Model, frames: u64) -> Option<usize> {
        let mut latest_slot = None;
        for seq in 1..=frames {
            latest_slot = model.publish(latest_slot, seq, false).or(latest_slot);
        }
        latest_slot
    }

    #[test]
    fn shm_loom_slots_two_rounds_never_overlap_a_write() {
        model(2, || {
            let model = Model::new(3, 2);
            let readers: Vec<_> = (0..2)
                .map(|reader| {
                    let model = model.clone();
                    loom::thread::spawn(move || {
                        let mut last = 0;
                        for _round in 0..2 {
                            if let Some(seq) = model.read_once(reader) {
                                assert!(seq >= last, "never an older frame");
                                last = seq;
                            }
                        }
                    })
                })
                .collect();
            // Frame 3 comes back to slot 0, which a reader may hold (the writer's restore
            // path), while readers re-acquire.
            write_frames(&model, 3);
            for reader in readers {
                reader.join().unwrap();
            }
        });
    }

    /// One reader, two rounds, with a deeper search (three preemptions) than two readers
    /// allow in the time: what it takes to find a writer whose scan reads the reader's
    /// second hazard instead of its release of the first (the hazard store must be Release).
    #[test]
    fn shm_loom_slots_one_reader_reacquires_deeply() {
        model(3, || {
            let model = Model::new(3, 1);
            let reader = {
                let model = model.clone();
                loom::thread::spawn(move || {
                    let first = model.read_once(0).unwrap_or(0);
                    let second = model.read_once(0).unwrap_or(0);
                    assert!(second >= first, "never an older frame");
                })
            };
            write_frames(&model, 3);
            reader.join().unwrap();
        });
    }

    #[test]
    fn shm_loom_slots_a_dead_readers_hazard_is_reclaimed() {
        model(2, || {
            const DEAD: usize = 1;
            let model = Model::new(3, 2);
            let reader = {
                let model = model.clone();
                loom::thread::spawn(move || model.read_once(0))
            };
            // A reader that acquires and dies holding the frame; the reaper reclaims its
            // hazard once it is gone, as the parent does after reaping the process.
            let dead = {
                let model = model.clone();
                loom::thread::spawn(move || {
                    let seq_in = |slot: usize| model.meta[slot].with(|m| unsafe { *m });
                    protocol::acquire(&*model, DEAD, seq_in)
                        .expect("never corrupt")
                        .is_some()
                })
            };
            let reaper = {
                let model = model.clone();
                loom::thread::spawn(move || {
                    let held = dead.join().unwrap();
                    assert_eq!(protocol::reclaim(&*model, DEAD).is_some(), held);
                })
            };
            let mut latest_slot = write_frames(&model, 3);
            reader.join().unwrap();
            reaper.join().unwrap();
            assert_eq!(model.hazards[DEAD].load(Ordering::Relaxed), 0);
            // Everyone is gone and the dead reader reclaimed: the lowest slot that is not the
            // latest can be claimed again, twice in a row (so both other slots are free).
            for seq in 10..12 {
                let lowest_free = (0..3).find(|&s| Some(s) != latest_slot);
                assert_eq!(protocol::claim(&*model, latest_slot), lowest_free);
                protocol::publish(&*model, lowest_free.unwrap(), seq);
                latest_slot = lowest_free;
            }
        });
    }

    /// Reads until closed through the blocking waker; returns the last frame seen.
    fn read_to_close(model: &Model, reader: usize) -> u64 {
        let mut last = 0;
        loop {
            match model.waker(Some(reader)).wait_until(|| model.check(last)) {
                WaitOutcome::Newer(seq) => {
                    assert!(seq > last, "newer means newer");
                    if let Some(seen) = model.read_once(reader) {
                        assert!(seen >= seq);
                        last = seen;
                    }
                }
                WaitOutcome::Closed => return last,
            }
        }
    }

    #[test]
    fn shm_loom_wake_no_lost_wakeup_and_final_frame_before_close() {
        model(3, || {
            let model = Model::new(3, 1);
            let reader = {
                let model = model.clone();
                loom::thread::spawn(move || read_to_close(&model, 0))
            };
            let mut latest_slot = None;
            for seq in 1..=2 {
                latest_slot = model.publish(latest_slot, seq, true).or(latest_slot);
            }
            // close: Release store of `closed`, then the wake (as `ShmStrategy::close`)
            model.closed.store(1, Ordering::Release);
            model.waker(None).wake_all();
            let (final_seq, _) = unpack(model.latest.load(Ordering::Relaxed));
            assert_eq!(
                reader.join().unwrap(),
                final_seq,
                "final frame before Closed"
            );
            assert_eq!(model.lost_wakeups.load(Ordering::Relaxed), 0);
        });
    }

    #[test]
    fn shm_loom_wake_two_sleepers_one_frame() {
        model(3, || {
            let model = Model::new(3, 2);
            let readers: Vec<_> = (0..2)
                .map(|reader| {
                    let model = model.clone();
                    // Without close, only a correct wake-up can end this wait.
                    loom::thread::spawn(move || {
                        model.waker(Some(reader)).wait_until(|| model.check(0))
                    })
                })
                .collect();
            model.publish(None, 1, true);
            for reader in readers {
                assert_eq!(reader.join().unwrap(), WaitOutcome::Newer(1));
            }
            let _ = pack(0, 0);
        });
    }
}
