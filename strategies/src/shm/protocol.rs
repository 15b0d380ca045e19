//! The `shm` slot protocol, over references to atomics wherever they live: a shared-memory
//! segment (cross-process), ordinary memory (the in-process stand-in) or loom's model.
//! See the module doc of [`crate::shm`] for the algorithm.

use crate::primitive::{fence, spin_hint, AtomicU32, AtomicU64, Ordering};
use crate::wake::Sleepers;

/// Slot states.
pub const EMPTY: u32 = 0;
pub const READY: u32 = 1;
pub const WRITING: u32 = 2;

/// `latest` packs the publish sequence (high 56 bits) with the slot index (low 8 bits), so a
/// reader gets a consistent pair from one load. 0 means nothing published.
pub const SLOT_BITS: u32 = 8;
pub const MAX_SLOTS: usize = 1 << SLOT_BITS;

pub fn pack(publish_seq: u64, slot: usize) -> u64 {
    publish_seq << SLOT_BITS | slot as u64
}
pub fn unpack(latest: u64) -> (u64, usize) {
    (
        latest >> SLOT_BITS,
        (latest & (MAX_SLOTS as u64 - 1)) as usize,
    )
}

/// Where the control words of one segment live: a shared-memory segment, ordinary memory,
/// or loom's model. The protocol below is written once against this.
pub trait ControlWords {
    /// The newest frame, packed by [`pack`].
    fn latest(&self) -> &AtomicU64;
    fn slot_count(&self) -> usize;
    /// Slot `slot`'s state: EMPTY, READY or WRITING.
    fn state(&self, slot: usize) -> &AtomicU32;
    fn reader_count(&self) -> usize;
    /// Reader `reader`'s hazard: the slot it holds plus one; 0 when it holds none.
    fn hazard(&self, reader: usize) -> &AtomicU32;
    /// Reader `reader`'s sleeping flag: 1 while it waits for a newer frame.
    fn asleep(&self, reader: usize) -> &AtomicU32;
}

/// Writer: take the lowest-index slot that is neither the latest published one nor held by
/// any reader, and mark it WRITING. `None` when every candidate is held.
///
/// Lowest index first, not round-robin: the writer then only ever touches as many slots as
/// readers hold at once plus two (the module doc of [`crate::shm`] has the argument), so the
/// pages of the other slots are never made resident.
pub fn claim(words: &impl ControlWords, latest_slot: Option<usize>) -> Option<usize> {
    for slot in 0..words.slot_count() {
        if Some(slot) == latest_slot {
            continue;
        }
        let state = words.state(slot);
        // Relaxed: only the writer ever changes a slot's state, so it reads its own value.
        let previous = state.load(Ordering::Relaxed);
        // Relaxed store + SeqCst fence: the writer's half of the Dekker handshake with
        // `acquire`. The fence orders this store before the hazard loads below (a plain
        // store-then-load may be reordered, on x86 too); the reader has the mirror fence.
        state.store(WRITING, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        // Acquire: reading a reader's release of 0 makes its reads of the slot happen before
        // our writes to it.
        let held = (0..words.reader_count())
            .any(|r| words.hazard(r).load(Ordering::Acquire) == slot as u32 + 1);
        if held {
            // Release: nothing was written; put the state back for later readers.
            state.store(previous, Ordering::Release);
            continue;
        }
        return Some(slot);
    }
    None
}

/// Writer: the claimed slot is fully written; make it the newest frame.
pub fn publish(words: &impl ControlWords, slot: usize, publish_seq: u64) {
    // Release: whoever acquires the READY state sees the payload and metadata written while
    // the slot was WRITING.
    words.state(slot).store(READY, Ordering::Release);
    // Release: readers that load it see the READY slot (and the frame in it). The wake-up
    // that follows is ordered by `FutexWaker`'s fences.
    words
        .latest()
        .store(pack(publish_seq, slot), Ordering::Release);
}

/// What a reader found that the protocol can never produce: the segment was written by
/// something other than its writer (another process scribbling on it, a foreign program).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Corrupt {
    /// `latest` names a slot the segment does not have.
    SlotIndex,
    /// `latest` names a slot whose frame is not the one it says, and still does when read
    /// again (the writer never rewrites the latest slot, so a correct segment cannot).
    LatestFrame,
}

impl std::fmt::Display for Corrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Corrupt::SlotIndex => "the newest frame names a slot the segment does not have",
            Corrupt::LatestFrame => "the newest frame's slot holds another frame",
        })
    }
}

/// Reader `reader`: hold the newest frame. Returns the held slot, or `None` before the first
/// publish. The slot's bytes cannot change until `release`.
///
/// `seq_in(slot)` reads the publish sequence of the frame in a slot the reader holds (its
/// metadata, stable while held). The reader keeps the slot only if it holds the very frame
/// `latest` named: a slot rewritten since with a newer frame is let go and `latest` read
/// again. Returning that newer frame instead would break monotonicity: the writer stores
/// `latest` after READY, so the reader's next load of `latest` could still name an older
/// frame (found by the loom model). Successive loads of one atomic never go backwards, so
/// frames returned to one reader are strictly ordered as its loads of `latest` are.
///
/// A segment only its writer writes never gives [`Corrupt`] (the loom models assert it). The
/// mismatch case: the reader's Acquire load of the slot's state read a Release store the
/// writer made after rewriting the slot, hence after it stored a newer `latest`; so the next
/// load of `latest` sees a newer value, and the same value again means someone else wrote.
pub fn acquire(
    words: &impl ControlWords,
    reader: usize,
    seq_in: impl Fn(usize) -> u64,
) -> Result<Option<usize>, Corrupt> {
    let hazard = words.hazard(reader);
    let mut mismatched = None;
    loop {
        // Acquire: pairs with the Release store in `publish`.
        let latest = words.latest().load(Ordering::Acquire);
        if latest == 0 {
            return Ok(None);
        }
        if mismatched == Some(latest) {
            return Err(Corrupt::LatestFrame);
        }
        let (seq, slot) = unpack(latest);
        if slot >= words.slot_count() {
            return Err(Corrupt::SlotIndex);
        }
        // Store + SeqCst fence: the reader's half of the Dekker handshake with `claim`. With
        // a SeqCst fence on both sides, either our state load below sees WRITING or the
        // writer's hazard scan sees this store (C++ [atomics.fences]).
        // Release, not Relaxed: a writer whose scan reads this value rather than our earlier
        // release of 0 must still find our reads of the previously held slot finished (a
        // later plain store does not extend the release sequence of that release; the loom
        // model found the race with two acquire rounds). A plain store on x86 either way.
        hazard.store(slot as u32 + 1, Ordering::Release);
        fence(Ordering::SeqCst);
        // Acquire: pairs with the Release store of READY, so the frame the writer finished in
        // this slot (payload and metadata) is visible.
        if words.state(slot).load(Ordering::Acquire) != WRITING {
            if seq_in(slot) == seq {
                // The slot holds the whole frame `latest` named, and nobody writes it until
                // we release it.
                return Ok(Some(slot));
            }
            mismatched = Some(latest);
        }
        // Release: we read nothing we keep; step back and look again (the slot is being
        // written, or was rewritten with a newer frame that `latest` will name).
        hazard.store(0, Ordering::Release);
        spin_hint();
    }
}

/// Reader `reader`: let go of the held slot.
pub fn release(words: &impl ControlWords, reader: usize) {
    // Release: our reads of the slot happen before the writer's next claim of it.
    words.hazard(reader).store(0, Ordering::Release);
}

/// A reader died: clear its hazard so its slot returns to the writer, and its sleeping flag
/// so the writer stops waking it. Only call once the reader can no longer run (its process
/// was reaped). Returns the slot it held, if any.
pub fn reclaim(words: &impl ControlWords, reader: usize) -> Option<usize> {
    // Relaxed: the reader is gone; a writer that still reads the stale 1 wakes once more.
    words.asleep(reader).store(0, Ordering::Relaxed);
    // Release: acts as the dead reader's release of its slot (its reads, if any, are long
    // over; what matters is that the writer's Acquire scan that sees 0 may take the slot).
    let held = words.hazard(reader).swap(0, Ordering::Release);
    held.checked_sub(1).map(|s| s as usize)
}

/// The readers' sleeping flags as the writer's [`Sleepers`]: each reader raises its own flag
/// while it waits, the writer wakes only if some flag is raised, and [`reclaim`] lowers a dead
/// reader's flag, so a consumer killed in its sleep stops costing the writer a `FUTEX_WAKE`
/// per publish once it is reclaimed (a shared count could not be corrected: nobody knows
/// whether the dead reader had counted itself in).
pub struct ReaderSleepers<'a, W> {
    pub words: &'a W,
    /// The reader that sleeps; `None` on the writer's side.
    pub reader: Option<usize>,
}

impl<W: ControlWords> Sleepers for ReaderSleepers<'_, W> {
    fn enter(&self) {
        let reader = self.reader.expect("only a reader sleeps");
        // Relaxed: ordered by the fence in `FutexWaker::wait_until`.
        self.words.asleep(reader).store(1, Ordering::Relaxed);
    }
    fn leave(&self) {
        let reader = self.reader.expect("only a reader sleeps");
        // Relaxed: a stale 1 costs the writer one spurious wake, nothing more.
        self.words.asleep(reader).store(0, Ordering::Relaxed);
    }
    fn any(&self) -> bool {
        // Relaxed: ordered by the fence in `FutexWaker::wake_all`.
        (0..self.words.reader_count()).any(|r| self.words.asleep(r).load(Ordering::Relaxed) != 0)
    }
}
