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
//! # Protocol (`shm`)
//!
//! One writer, many readers, frames read in place. It is a multi-reader triple buffer
//! (consumers + 2 slots by default, see below) with *reader tracking* by hazard slots, in the manner of hazard pointers
//! (Michael, "Hazard pointers: safe memory reclamation for lock-free objects", 2004):
//!
//! * **Reader acquire**: load `latest`, publish "I hold slot s" in its own hazard word, then
//!   check that slot s is not WRITING. If it is, clear the hazard and retry.
//! * **Writer claim**: pick a slot that is not the latest one, mark it WRITING, then scan every
//!   reader's hazard. If some reader holds the slot, restore its state and try the next.
//! * Both sides put a SeqCst fence between their store and their load, a Dekker-style
//!   handshake: either the reader's state load sees WRITING (the reader steps back) or the
//!   writer's scan sees the hazard (the writer steps back). So a reader never holds a slot that
//!   is being written, and the writer never writes a slot a reader holds or the latest one:
//!   **no frame ever tears, with any number of readers**.
//! * **Writer publish**: store READY (release), then `latest` = (publish_seq, slot).
//! * **Reader release**: clear its hazard (release), which orders its reads before the
//!   writer's next claim of the slot.
//! * A reader that loaded an old `latest` may find its slot already rewritten with a *newer*
//!   whole frame: that is fine (never older, never partial), and sequence numbers stay
//!   monotonic per reader.
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

pub mod protocol;
#[cfg(not(loom))]
pub mod segment;
#[cfg(not(loom))]
mod strategy;

#[cfg(not(loom))]
pub use segment::{
    stale_segments, unique_name, Segment, SegmentError, SegmentSpec, NAME_PREFIX, SHM_DIR,
};
#[cfg(not(loom))]
pub use strategy::{ShmFrame, ShmReader, ShmStrategy};

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

#[cfg(all(test, loom))]
mod loom_tests {
    //! Model check of the slot protocol: every interleaving of one writer publishing three
    //! frames into two slots (so it must come back to a slot a reader may hold) and two
    //! readers acquiring, with the payload in loom cells that flag any read concurrent with a
    //! write. (Checked to fail when the writer's hazard scan is disabled, and when the
    //! reader's SeqCst fence is removed.)

    use loom::cell::UnsafeCell;
    use loom::sync::Arc;

    use super::protocol::{self, ControlWords};
    use crate::primitive::{AtomicU32, AtomicU64};

    struct Model {
        latest: AtomicU64,
        states: Vec<AtomicU32>,
        hazards: Vec<AtomicU32>,
        asleep: Vec<AtomicU32>,
        payload: Vec<UnsafeCell<u64>>,
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

    #[test]
    fn shm_loom_no_read_overlaps_a_write() {
        // Bounded preemption keeps the search to seconds; three preemptions are enough to
        // interleave a reader between the writer's WRITING store and its hazard scan.
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(3);
        model.check(|| {
            let model = Arc::new(Model {
                latest: AtomicU64::new(0),
                states: (0..2).map(|_| AtomicU32::new(0)).collect(),
                hazards: (0..2).map(|_| AtomicU32::new(0)).collect(),
                asleep: (0..2).map(|_| AtomicU32::new(0)).collect(),
                payload: (0..2).map(|_| UnsafeCell::new(0)).collect(),
            });
            let readers: Vec<_> = (0..2)
                .map(|reader| {
                    let model = model.clone();
                    loom::thread::spawn(move || {
                        if let Some(slot) = protocol::acquire(&*model, reader) {
                            // loom reports a data race if the writer writes this cell now.
                            let seen = model.payload[slot].with(|p| unsafe { *p });
                            assert!(seen >= 1, "an acquired slot holds a published frame");
                            protocol::release(&*model, reader);
                        }
                    })
                })
                .collect();
            let mut latest_slot = None;
            for seq in 1..=3u64 {
                let start = latest_slot.map_or(0, |s: usize| s + 1) % 2;
                if let Some(slot) = protocol::claim(&*model, latest_slot, start) {
                    model.payload[slot].with_mut(|p| unsafe { *p = seq });
                    protocol::publish(&*model, slot, seq);
                    latest_slot = Some(slot);
                }
            }
            for reader in readers {
                reader.join().unwrap();
            }
        });
    }
}
