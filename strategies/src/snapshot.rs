//! Reading bytes that another thread or process may be writing at the same moment.
//!
//! In Rust, a `&[u8]` over memory that anyone may write while it exists is undefined
//! behaviour (a data race), and memory shared with another process is no exception. A design
//! whose readers may look at a buffer the writer is rewriting — a seqlock, a canary that
//! tears frames on purpose — must therefore never form such a reference: it copies the bytes
//! out through atomic loads, and the writer writes them through atomic stores. Atomics make
//! the race defined; what the copy is worth is up to the protocol around it. A seqlock checks
//! its sequence word after the copy and retries on a change (the example below); `unsync` and
//! `shm-naive` do not, and show torn frames, which is what they exist for.
//!
//! * [`SharedBytes`] names such a region: words of this process ([`SharedBytes::from_words`])
//!   or a mapping another process writes ([`SharedBytes::from_raw`]). It copies out
//!   ([`SharedBytes::read_into`]) and in ([`SharedBytes::write_from`]) one aligned `u64` at a
//!   time, Relaxed: which write a byte comes from is the protocol's business, not the copy's.
//! * [`Snapshots`] is the held frame of a design that cannot promise its bytes stay put: every
//!   look ([`crate::FrameView::bytes`]) copies them again, so a frame overwritten while held
//!   shows as torn on the next look instead of changing under a reference. The copies live
//!   until the frame is dropped, then go back to the reader for reuse (steady state allocates
//!   nothing).
//!
//! # A seqlock
//!
//! One writer, readers that copy the frame out and retry when a write overlapped the copy
//! (the orderings are those of Boehm, "Can seqlocks get along with programming language
//! memory models?", MSPC 2012):
//!
//! ```
//! # mod fbench { pub mod strategies { pub use fbench_strategies::*; } }
//! use std::sync::atomic::{fence, AtomicU64, Ordering};
//! use fbench::strategies::snapshot::SharedBytes;
//!
//! struct SeqLock {
//!     /// Even: a frame is complete; odd: the writer is rewriting it.
//!     seq: AtomicU64,
//!     words: Box<[AtomicU64]>,
//!     len: usize,
//! }
//!
//! impl SeqLock {
//!     fn new(len: usize) -> SeqLock {
//!         let words = (0..len.div_ceil(8)).map(|_| AtomicU64::new(0)).collect();
//!         SeqLock { seq: AtomicU64::new(0), words, len }
//!     }
//!
//!     fn bytes(&self) -> SharedBytes<'_> {
//!         SharedBytes::from_words(&self.words, self.len)
//!     }
//!
//!     /// Single writer.
//!     fn write(&self, frame: &[u8]) {
//!         let seq = self.seq.load(Ordering::Relaxed);
//!         self.seq.store(seq + 1, Ordering::Relaxed);
//!         // Release fence: a reader whose copy saw any byte stored below also sees the odd
//!         // value (its Acquire fence pairs with this one) and retries.
//!         fence(Ordering::Release);
//!         self.bytes().write_from(frame);
//!         // Release: a reader that sees the even value sees every byte stored before it.
//!         self.seq.store(seq + 2, Ordering::Release);
//!     }
//!
//!     /// A whole copy of the newest frame in `out`; returns its number.
//!     fn read(&self, out: &mut [u8]) -> u64 {
//!         loop {
//!             // Acquire: pairs with the writer's closing Release store.
//!             let before = self.seq.load(Ordering::Acquire);
//!             if before % 2 == 0 {
//!                 self.bytes().read_into(out);
//!                 // Acquire fence: orders the copy's loads before the second look at `seq`.
//!                 fence(Ordering::Acquire);
//!                 if self.seq.load(Ordering::Relaxed) == before {
//!                     return before / 2;
//!                 }
//!             }
//!             std::hint::spin_loop();
//!         }
//!     }
//! }
//!
//! let lock = SeqLock::new(4099);
//! std::thread::scope(|s| {
//!     s.spawn(|| {
//!         for n in 1..=200u8 {
//!             lock.write(&[n; 4099]);
//!         }
//!     });
//!     let mut copy = vec![0u8; 4099];
//!     let mut last = 0;
//!     while last < 200 {
//!         last = lock.read(&mut copy);
//!         // Never torn: every byte is from the write the number names.
//!         assert!(copy.iter().all(|&b| u64::from(b) == last));
//!     }
//! });
//! ```

use std::cell::{RefCell, UnsafeCell};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};

/// `len` bytes that another thread or process may write at any time, read and written only
/// through atomic `u64` accesses (see the module doc). Cheap to copy, like a reference.
#[derive(Clone, Copy, Debug)]
pub struct SharedBytes<'a> {
    /// 8-byte aligned, valid for `len` rounded up to a multiple of 8 bytes for `'a`.
    ptr: *const u8,
    len: usize,
    _region: PhantomData<&'a [AtomicU64]>,
}

// SAFETY: the region is only ever accessed through atomics, like a `&[AtomicU64]`, which is
// Send and Sync.
unsafe impl Send for SharedBytes<'_> {}
// SAFETY: as above.
unsafe impl Sync for SharedBytes<'_> {}

impl<'a> SharedBytes<'a> {
    /// The first `len` bytes of `words` (in memory order).
    ///
    /// # Panics
    ///
    /// If `words` holds fewer than `len` bytes.
    pub fn from_words(words: &'a [AtomicU64], len: usize) -> SharedBytes<'a> {
        assert!(
            len <= words.len() * 8,
            "{len} bytes do not fit in {} words",
            words.len()
        );
        SharedBytes {
            ptr: words.as_ptr().cast(),
            len,
            _region: PhantomData,
        }
    }

    /// `len` bytes at `ptr`, e.g. a frame slot in a shared-memory mapping.
    ///
    /// # Safety
    ///
    /// `ptr` is 8-byte aligned and valid for reads and writes of `len` rounded up to a
    /// multiple of 8 bytes for `'a`, and for as long, every access to those bytes from this
    /// process is atomic (through `SharedBytes` or `AtomicU64`s, never a `&[u8]`). Other
    /// processes writing the mapping are what this is for.
    pub unsafe fn from_raw(ptr: *const u8, len: usize) -> SharedBytes<'a> {
        debug_assert_eq!(ptr as usize % 8, 0, "SharedBytes::from_raw: unaligned");
        SharedBytes {
            ptr,
            len,
            _region: PhantomData,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Word `i` of the region.
    fn word(&self, i: usize) -> &'a AtomicU64 {
        debug_assert!(i < self.len.div_ceil(8));
        // SAFETY: `ptr` is 8-byte aligned and valid for `len` rounded up to whole words for
        // `'a` (the constructors' contracts), so word `i < len.div_ceil(8)` is an aligned u64
        // inside; every access to it is atomic (same contracts), and always 8 bytes wide, so
        // no mixed-size atomic accesses race.
        unsafe { AtomicU64::from_ptr(self.ptr.add(8 * i) as *mut u64) }
    }

    /// Copy the region into `out` (exactly `len` bytes) through Relaxed loads.
    ///
    /// # Panics
    ///
    /// If `out.len() != self.len()`.
    pub fn read_into(&self, out: &mut [u8]) {
        assert_eq!(out.len(), self.len, "SharedBytes::read_into: length");
        for (i, chunk) in out.chunks_mut(8).enumerate() {
            // Relaxed: which write a byte comes from is the protocol's to judge (module doc).
            let bytes = self.word(i).load(Ordering::Relaxed).to_ne_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }

    /// Write `src` (exactly `len` bytes) into the region through Relaxed stores. The bytes of
    /// the last word past `len` are written as zero.
    ///
    /// # Panics
    ///
    /// If `src.len() != self.len()`.
    pub fn write_from(&self, src: &[u8]) {
        assert_eq!(src.len(), self.len, "SharedBytes::write_from: length");
        for (i, chunk) in src.chunks(8).enumerate() {
            let mut bytes = [0u8; 8];
            bytes[..chunk.len()].copy_from_slice(chunk);
            // Relaxed: the protocol around the copy orders it (module doc).
            self.word(i)
                .store(u64::from_ne_bytes(bytes), Ordering::Relaxed);
        }
    }
}

/// The held frame of a design whose bytes may change while held: every [`Snapshots::look`]
/// copies them again (see the module doc).
///
/// ```
/// # mod fbench { pub mod strategies { pub use fbench_strategies::*; } }
/// use std::cell::RefCell;
/// use std::sync::atomic::AtomicU64;
/// use fbench::strategies::snapshot::{SharedBytes, Snapshots};
///
/// let words: Vec<AtomicU64> = (0..2).map(|_| AtomicU64::new(0)).collect();
/// let shared = SharedBytes::from_words(&words, 12);
/// let spare = RefCell::new(Vec::new()); // the reader's, reused by its next frame
/// shared.write_from(&[1; 12]);
/// let frame = Snapshots::new(shared, &spare);
/// let first = frame.look();
/// shared.write_from(&[2; 12]); // the writer laps the held frame
/// assert_eq!(first, &[1; 12]); // an earlier look stays as it was
/// assert_eq!(frame.look(), &[2; 12]); // the next look shows the change
/// drop(frame);
/// assert_eq!(spare.borrow().len(), 2);
/// ```
pub struct Snapshots<'a> {
    shared: SharedBytes<'a>,
    /// Copies taken by this frame, as raw boxes: each is written once, before its slice is
    /// handed out, and freed (or given back) only in `drop`.
    taken: UnsafeCell<Vec<*mut [u8]>>,
    spare: &'a RefCell<Vec<Box<[u8]>>>,
    bytes_copied: Option<&'a AtomicU64>,
}

impl<'a> Snapshots<'a> {
    /// A held frame over `shared`; `spare` is the reader's pool of copy buffers.
    pub fn new(shared: SharedBytes<'a>, spare: &'a RefCell<Vec<Box<[u8]>>>) -> Self {
        Snapshots {
            shared,
            taken: UnsafeCell::new(Vec::new()),
            spare,
            bytes_copied: None,
        }
    }

    /// Add the bytes of every look to `bytes_copied` (the strategy's
    /// [`crate::StrategyStats::bytes_copied`]).
    pub fn counting(mut self, bytes_copied: &'a AtomicU64) -> Self {
        self.bytes_copied = Some(bytes_copied);
        self
    }

    /// A fresh copy of the shared bytes, valid as long as the frame.
    pub fn look(&self) -> &[u8] {
        let len = self.shared.len();
        let mut buf = self
            .spare
            .borrow_mut()
            .pop()
            .filter(|b| b.len() == len)
            .unwrap_or_else(|| vec![0u8; len].into_boxed_slice());
        self.shared.read_into(&mut buf);
        if let Some(copied) = self.bytes_copied {
            // Relaxed: a tally read after the readers were joined.
            copied.fetch_add(len as u64, Ordering::Relaxed);
        }
        let raw = Box::into_raw(buf);
        // SAFETY: `taken` is only touched here and in `drop`; `Snapshots` is not Sync and
        // `look` does not re-enter, so this is the only reference to the Vec right now.
        // Pushing moves raw pointers only: the boxes' bytes, which earlier looks point into,
        // do not move.
        unsafe { (*self.taken.get()).push(raw) };
        // SAFETY: `raw` came from `Box::into_raw` above, is never written again, and is
        // freed only in `drop`, which needs `&mut self`, so after every slice returned here.
        unsafe { &*raw }
    }
}

impl Drop for Snapshots<'_> {
    fn drop(&mut self) {
        let mut spare = self.spare.borrow_mut();
        for raw in self.taken.get_mut().drain(..) {
            // SAFETY: each pointer came from `Box::into_raw` in `look` and is reclaimed once;
            // no slice into it outlives `self`.
            spare.push(unsafe { Box::from_raw(raw) });
        }
    }
}
