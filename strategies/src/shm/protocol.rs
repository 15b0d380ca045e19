//! The `shm` slot protocol, over references to atomics wherever they live: a shared-memory
//! segment (cross-process), ordinary memory (the in-process stand-in) or loom's model.
//! See the module doc of [`crate::shm`] for the algorithm.

use crate::primitive::{fence, spin_hint, AtomicU32, AtomicU64, Ordering};

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
}

/// Writer: take a slot that is neither the latest published one nor held by any reader, and
/// mark it WRITING. `None` when every candidate is held.
pub fn claim(words: &impl ControlWords, latest_slot: Option<usize>, start: usize) -> Option<usize> {
    let slots = words.slot_count();
    for offset in 0..slots {
        let slot = (start + offset) % slots;
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
    // SeqCst: a Release store (readers that load it see the READY slot) that also takes part
    // in the wake-up handshake of `Waker`, which needs one total order.
    words
        .latest()
        .store(pack(publish_seq, slot), Ordering::SeqCst);
}

/// Reader `reader`: hold the newest frame. Returns the held slot, or `None` before the first
/// publish. The slot's bytes cannot change until `release`.
pub fn acquire(words: &impl ControlWords, reader: usize) -> Option<usize> {
    let hazard = words.hazard(reader);
    loop {
        // Acquire: pairs with the SeqCst store in `publish`.
        let latest = words.latest().load(Ordering::Acquire);
        if latest == 0 {
            return None;
        }
        let (_, slot) = unpack(latest);
        // Relaxed store + SeqCst fence: the reader's half of the Dekker handshake with
        // `claim`. With a SeqCst fence on both sides, either our state load below sees
        // WRITING or the writer's hazard scan sees this store (C++ [atomics.fences]).
        hazard.store(slot as u32 + 1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        // Acquire: pairs with the Release store of READY, so the frame the writer finished in
        // this slot is visible.
        if words.state(slot).load(Ordering::Acquire) != WRITING {
            // The slot holds a whole frame: the one `latest` named or a newer one written
            // since (never an older one, and never one being written).
            return Some(slot);
        }
        // Release: we read nothing; just step back and look again.
        hazard.store(0, Ordering::Release);
        spin_hint();
    }
}

/// Reader `reader`: let go of the held slot.
pub fn release(words: &impl ControlWords, reader: usize) {
    // Release: our reads of the slot happen before the writer's next claim of it.
    words.hazard(reader).store(0, Ordering::Release);
}

/// A reader died: clear its hazard so its slot returns to the writer. Only call once the
/// reader can no longer run (its process was reaped). Returns the slot it held, if any.
pub fn reclaim(words: &impl ControlWords, reader: usize) -> Option<usize> {
    // SeqCst: acts as the dead reader's release, ordered with the writer's scans.
    let held = words.hazard(reader).swap(0, Ordering::SeqCst);
    held.checked_sub(1).map(|s| s as usize)
}

/// Blocking wait across processes: a futex word bumped on every publish and on close, and a
/// count of sleepers so that a publish with nobody asleep makes no system call.
///
/// The handshake (all SeqCst): the writer stores `latest`, bumps `word`, then reads
/// `sleepers`; a reader increments `sleepers`, reads `word` as `v`, re-checks `latest`, then
/// sleeps only while `word == v` (the kernel checks that atomically). If the writer read
/// `sleepers == 0`, the reader's read of `word` comes later in the total order and sees the
/// bump, so its re-check sees the frame. Otherwise the writer wakes it: either it is asleep,
/// or `word != v` and FUTEX_WAIT returns at once.
pub struct Waker<'a> {
    pub word: &'a AtomicU32,
    pub sleepers: &'a AtomicU32,
}

impl Waker<'_> {
    pub fn wake_all(&self) {
        // SeqCst: writer's side of the handshake above.
        self.word.fetch_add(1, Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            futex::wake_all(self.word);
        }
    }

    /// Sleep until `ready` holds; `ready` is re-checked after registering as a sleeper.
    pub fn wait_until<T>(&self, mut ready: impl FnMut() -> Option<T>) -> T {
        loop {
            if let Some(value) = ready() {
                return value;
            }
            // SeqCst: reader's side of the handshake above.
            self.sleepers.fetch_add(1, Ordering::SeqCst);
            let seen = self.word.load(Ordering::SeqCst);
            if let Some(value) = ready() {
                self.sleepers.fetch_sub(1, Ordering::SeqCst);
                return value;
            }
            futex::wait(self.word, seen);
            // SeqCst: keeps the count exact for the writer's check.
            self.sleepers.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

#[cfg(not(loom))]
pub mod futex {
    //! Process-shared futexes: no FUTEX_PRIVATE_FLAG, so waiters in other processes that
    //! map the same page are woken too.
    use std::sync::atomic::AtomicU32;

    /// Sleep while `*word == expected`, at most 100 ms (a safety net: every wake-up that
    /// matters is explicit, but a timeout bounds the damage of a writer that died).
    pub fn wait(word: &AtomicU32, expected: u32) {
        let timeout = libc::timespec {
            tv_sec: 0,
            tv_nsec: 100_000_000,
        };
        // SAFETY: `word` points to a live, aligned 32-bit atomic for the duration of the
        // call; FUTEX_WAIT only reads it and sleeps; the timeout is a valid timespec. A
        // failure (EAGAIN when the value changed, EINTR, ETIMEDOUT) just returns to the
        // caller's loop, which re-checks its condition.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAIT,
                expected,
                &timeout as *const libc::timespec,
                std::ptr::null::<u32>(),
                0u32,
            );
        }
    }

    pub fn wake_all(word: &AtomicU32) {
        // SAFETY: `word` points to a live, aligned 32-bit atomic; FUTEX_WAKE does not access
        // memory beyond using the address as a key.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAKE,
                i32::MAX,
                std::ptr::null::<libc::timespec>(),
                std::ptr::null::<u32>(),
                0u32,
            );
        }
    }
}

#[cfg(loom)]
pub mod futex {
    //! Under loom, sleeping is modelled as yielding: the protocol's correctness must not
    //! depend on it.
    use crate::primitive::AtomicU32;
    pub fn wait(_word: &AtomicU32, _expected: u32) {
        loom::thread::yield_now();
    }
    pub fn wake_all(_word: &AtomicU32) {}
}
