//! Frames of the strategies that share bytes *without* synchronisation (`unsync`, and
//! `shm-naive` whose writer may be rewriting a slot a reader looks at): the reader never holds
//! a `&[u8]` over memory another thread or process may be writing (that is undefined
//! behaviour in Rust, across processes too). Each look at the frame
//! ([`crate::FrameView::bytes`]) copies the shared bytes through atomic loads into a private
//! buffer and returns that copy. A frame lapped while held therefore shows, on the next look,
//! as bytes from another write: the torn frame these strategies exist to demonstrate.
//!
//! The copies live until the frame is dropped (earlier looks stay valid while later ones are
//! taken), then go back to their reader for reuse, so steady state allocates nothing.

use std::cell::{RefCell, UnsafeCell};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

use crate::Counters;

/// Where the shared bytes are.
#[derive(Clone, Copy)]
pub(crate) enum Shared<'a> {
    /// Atomic words, the last possibly longer than the frame.
    Words(&'a [AtomicU64]),
    /// The frame's bytes at `ptr`, 8-byte aligned, in memory another process may be writing.
    /// (`shm-naive`, which does not exist under loom.)
    #[cfg_attr(loom, allow(dead_code))]
    Raw { ptr: *const u8 },
}

impl Shared<'_> {
    /// Copy the shared bytes into `out` through relaxed atomic loads (Relaxed: these
    /// strategies make no promise about which write a byte comes from; that is the point).
    fn copy_into(self, out: &mut [u8]) {
        match self {
            Shared::Words(words) => {
                for (chunk, word) in out.chunks_mut(8).zip(words) {
                    let bytes = word.load(Ordering::Relaxed).to_le_bytes();
                    chunk.copy_from_slice(&bytes[..chunk.len()]);
                }
            }
            Shared::Raw { ptr } => {
                let whole = out.len() / 8 * 8;
                let (head, tail) = out.split_at_mut(whole);
                for (i, chunk) in head.chunks_exact_mut(8).enumerate() {
                    // SAFETY: `ptr` is 8-byte aligned and valid for `out.len()` bytes
                    // (`Snapshots::new`'s contract), so `ptr + 8i` is an aligned u64 inside;
                    // every access to shared frame bytes from this side is atomic.
                    let word = unsafe { AtomicU64::from_ptr(ptr.add(8 * i) as *mut u64) };
                    chunk.copy_from_slice(&word.load(Ordering::Relaxed).to_ne_bytes());
                }
                for (i, byte) in tail.iter_mut().enumerate() {
                    // SAFETY: as above, one byte inside the frame.
                    let shared = unsafe { AtomicU8::from_ptr(ptr.add(whole + i) as *mut u8) };
                    *byte = shared.load(Ordering::Relaxed);
                }
            }
        }
    }
}

/// The private copies of one held frame.
pub(crate) struct Snapshots<'a> {
    shared: Shared<'a>,
    len: usize,
    /// Copies taken by this frame, as raw boxes: each is written once, before its slice is
    /// handed out, and freed (or given back) only in `drop`.
    taken: UnsafeCell<Vec<*mut [u8]>>,
    spare: &'a RefCell<Vec<Box<[u8]>>>,
    counters: Option<&'a Counters>,
}

impl<'a> Snapshots<'a> {
    /// `spare` is the reader's pool of buffers; `counters`, if given, counts each copy.
    ///
    /// # Safety
    ///
    /// For [`Shared::Raw`], `ptr` must be 8-byte aligned and valid for reads of `len` bytes
    /// for `'a`, and only ever accessed atomically (or by another process) meanwhile.
    pub(crate) unsafe fn new(
        shared: Shared<'a>,
        len: usize,
        spare: &'a RefCell<Vec<Box<[u8]>>>,
        counters: Option<&'a Counters>,
    ) -> Self {
        Snapshots {
            shared,
            len,
            taken: UnsafeCell::new(Vec::new()),
            spare,
            counters,
        }
    }

    /// A fresh copy of the shared bytes, valid as long as the frame.
    pub(crate) fn look(&self) -> &[u8] {
        let mut buf = self
            .spare
            .borrow_mut()
            .pop()
            .filter(|b| b.len() == self.len)
            .unwrap_or_else(|| vec![0u8; self.len].into_boxed_slice());
        self.shared.copy_into(&mut buf);
        if let Some(counters) = self.counters {
            counters.add_copied(self.len);
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
