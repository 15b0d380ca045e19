//! `seqlock`: a cross-process frame-distribution strategy that fbench does not ship, written
//! against fbench's public API only — the worked example of `docs/cross-process.md`.
//!
//! One frame lives in a POSIX shared-memory segment of this crate's own, written under a
//! sequence lock: the producer makes the sequence word odd, writes the frame, makes it even
//! again. Consumer processes copy the newest frame out and retry when the word changed during
//! their copy, so they never block the writer and the writer never waits for them. The price
//! is a copy per consumer per frame (like `mutex`), and a reader can starve if writes come
//! faster than it copies.
//!
//! Nothing here reads bytes the writer may be writing through a `&[u8]`: the frame and its
//! header are copied through atomic loads and written through atomic stores
//! ([`fbench::strategies::snapshot::SharedBytes`]), which is what makes the race a seqlock
//! relies on defined behaviour in Rust.
//!
//! # The segment
//!
//! `/dev/shm/<run>-seqlock` (the run's name is `fbench-<pid>-<n>`, so the harness's leak
//! check sees a segment left behind and [`SeqLock::clean`] can tell a killed run's): a
//! [`Header`] — the sequence word, the frame's metadata, the start barrier, the waker, one
//! sleeper count per reader — then the frame, page-aligned.
//!
//! # Orderings (Boehm, "Can seqlocks get along with programming language memory models?")
//!
//! Writer: sequence word odd (Relaxed), Release fence, frame and metadata (Relaxed stores),
//! sequence word even (Release). Reader: sequence word (Acquire), frame and metadata (Relaxed
//! loads), Acquire fence, sequence word again (Relaxed); the copy is whole when both looks
//! agree and are even. If any load of the copy saw a store of a later write, the fences
//! synchronise and the second look sees that write's odd value (or later): the reader
//! retries. If both looks see the same even value, no store of another write was seen.

use std::ffi::CString;
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use fbench::strategies::leftovers;
use fbench::strategies::primitive::FutexWord;
use fbench::strategies::snapshot::SharedBytes;
use fbench::strategies::start::StartGate;
use fbench::strategies::wake::{FutexWaker, Sleepers};
use fbench::strategies::{
    BuildError, CrossProcess, Descriptor, FrameMeta, FrameView, Publish, Reader, Strategy,
    StrategyParams, StrategyStats, WaitMode, WaitOutcome,
};

/// What this strategy's segments end with, after the run's name.
pub const SUFFIX: &str = "-seqlock";
/// Readers one segment has room for: consumer processes, plus one shared entry for readers
/// made in the producer's own process ([`Strategy::reader`]).
pub const MAX_READERS: usize = 255;
const MAGIC: u64 = u64::from_le_bytes(*b"SEQLOCK1");
const PAGE: usize = 4096;
const META_WORDS: usize = FrameMeta::WORDS;

/// The segment's first bytes. Plain fields are written by the creator before any other
/// process exists, and only read afterwards; everything written later is atomic.
#[repr(C)]
pub struct Header {
    magic: u64,
    frame_len: u64,
    /// Consumer processes the segment was made for; entry `readers` of `asleep` is shared
    /// by in-process readers.
    readers: u64,
    gate: StartGate,
    /// Even: the frame is complete, and it is frame `seq / 2`. Odd: being rewritten.
    seq: AtomicU64,
    closed: AtomicU32,
    /// Bumped on every publish and on close; sleeping readers wait on it.
    wake: FutexWord,
    lost_wakeups: AtomicU64,
    /// Bytes readers copied out (the producer's copy-in is counted in its own process).
    copied_out: AtomicU64,
    meta: [AtomicU64; META_WORDS],
    /// Per reader, how many of its threads are asleep on `wake` (0 or 1 for a process).
    asleep: [AtomicU32; MAX_READERS + 1],
}

const DATA_OFFSET: usize = std::mem::size_of::<Header>().div_ceil(PAGE) * PAGE;

/// A mapping of one segment. The creator's mapping removes the name when dropped.
struct Mapping {
    base: NonNull<u8>,
    len: usize,
    /// Set on the creator's mapping: the name to unlink.
    owned: Option<CString>,
}

// SAFETY: the mapping is only accessed through `&Header` (atomics, and plain fields nobody
// writes after creation) and `SharedBytes` (atomics), so sharing it between threads is as
// sound as sharing those.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

fn os_error(what: &str, name: &CString) -> String {
    format!(
        "{what} {}: {}",
        name.to_string_lossy(),
        std::io::Error::last_os_error()
    )
}

impl Mapping {
    fn map(fd: libc::c_int, len: usize) -> *mut libc::c_void {
        // SAFETY: a fresh shared mapping of `len` bytes of `fd`; no existing memory is
        // touched.
        unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        }
    }

    /// A new segment `name` of `len` zeroed bytes (fails if the name exists).
    fn create(name: &CString, len: usize) -> Result<Mapping, String> {
        // SAFETY: `name` is a valid C string; the flags create a new object or fail.
        let fd = unsafe {
            libc::shm_open(
                name.as_ptr(),
                libc::O_CREAT | libc::O_EXCL | libc::O_RDWR,
                0o600,
            )
        };
        if fd < 0 {
            return Err(os_error("creating", name));
        }
        // SAFETY: `fd` is ours; ftruncate zero-fills the new length.
        let sized = unsafe { libc::ftruncate(fd, len as libc::off_t) } == 0;
        let base = if sized {
            Mapping::map(fd, len)
        } else {
            libc::MAP_FAILED
        };
        let error = (base == libc::MAP_FAILED).then(|| os_error("mapping", name));
        // SAFETY: `fd` is ours and closed once; the mapping stays valid without it.
        unsafe { libc::close(fd) };
        if let Some(error) = error {
            // SAFETY: removes the name we just created, nothing else.
            unsafe { libc::shm_unlink(name.as_ptr()) };
            return Err(error);
        }
        Ok(Mapping {
            base: NonNull::new(base.cast()).expect("mmap returned null"),
            len,
            owned: Some(name.clone()),
        })
    }

    /// Map the existing segment `name`, whole.
    fn open(name: &CString) -> Result<Mapping, String> {
        // SAFETY: `name` is a valid C string; opens an existing object only.
        let fd = unsafe { libc::shm_open(name.as_ptr(), libc::O_RDWR, 0) };
        if fd < 0 {
            return Err(os_error("opening", name));
        }
        // SAFETY: an all-zero `stat` is a valid value to be overwritten by fstat.
        let mut stat: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: `fd` is open, `stat` is writable.
        let len = if unsafe { libc::fstat(fd, &mut stat) } == 0 {
            stat.st_size as usize
        } else {
            0
        };
        let base = if len >= DATA_OFFSET {
            Mapping::map(fd, len)
        } else {
            libc::MAP_FAILED
        };
        // SAFETY: `fd` is ours and closed once.
        unsafe { libc::close(fd) };
        if base == libc::MAP_FAILED {
            return Err(format!(
                "{}: not a seqlock segment (or {})",
                name.to_string_lossy(),
                std::io::Error::last_os_error()
            ));
        }
        Ok(Mapping {
            base: NonNull::new(base.cast()).expect("mmap returned null"),
            len,
            owned: None,
        })
    }

    fn header(&self) -> &Header {
        // SAFETY: the mapping is at least DATA_OFFSET >= size_of::<Header>() bytes,
        // page-aligned, and lives as long as `self`; `Header` is atomics and plain integers
        // that nobody writes after creation, so a shared reference is sound.
        unsafe { self.base.cast::<Header>().as_ref() }
    }

    fn frame(&self) -> SharedBytes<'_> {
        let frame_len = self.header().frame_len as usize;
        debug_assert!(DATA_OFFSET + frame_len.div_ceil(8) * 8 <= self.len);
        // SAFETY: the frame starts at a page boundary of the mapping and the mapping holds
        // `frame_len` rounded up to whole words after it (`segment_len`); every access to
        // it, in every process, goes through `SharedBytes`, i.e. atomic u64s.
        unsafe { SharedBytes::from_raw(self.base.as_ptr().add(DATA_OFFSET), frame_len) }
    }

    /// The waker as reader `reader` (its sleeper entry) or as the writer.
    fn waker(&self, reader: usize) -> FutexWaker<'_, Asleep<'_>> {
        let header = self.header();
        FutexWaker {
            word: &header.wake,
            sleepers: Asleep {
                counts: &header.asleep[..=header.readers as usize],
                me: reader,
            },
            lost_wakeups: Some(&header.lost_wakeups),
        }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what `map` mapped; no reference into it outlives `self`.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
        if let Some(name) = &self.owned {
            // SAFETY: removes our own segment's name; processes still mapping it keep their
            // mapping until they unmap.
            unsafe { libc::shm_unlink(name.as_ptr()) };
        }
    }
}

fn segment_len(frame_len: usize) -> usize {
    DATA_OFFSET + frame_len.div_ceil(8) * 8
}

fn segment_name(run: &str) -> Result<CString, String> {
    CString::new(format!("/{run}{SUFFIX}")).map_err(|_| format!("run name {run:?} has a NUL"))
}

/// Who is asleep: a count per reader, so the count of a reader process that died asleep can
/// be cleared by [`CrossProcess::reclaim`] (a shared count would stay one too high for good).
struct Asleep<'a> {
    counts: &'a [AtomicU32],
    me: usize,
}

impl Sleepers for Asleep<'_> {
    fn enter(&self) {
        // Relaxed: ordered by the waker's SeqCst fence.
        self.counts[self.me].fetch_add(1, Ordering::Relaxed);
    }
    fn leave(&self) {
        // Relaxed: a stale non-zero costs the writer one spurious wake.
        self.counts[self.me].fetch_sub(1, Ordering::Relaxed);
    }
    fn any(&self) -> bool {
        // Relaxed: ordered by the waker's SeqCst fence.
        self.counts.iter().any(|c| c.load(Ordering::Relaxed) != 0)
    }
}

/// The producer's side: the segment's creator and only writer.
pub struct SeqLock {
    map: Arc<Mapping>,
    /// Where `render` draws: the shared frame is written through atomics only, never a
    /// `&mut [u8]`, so the producer renders here and copies in.
    staging: Mutex<Vec<u8>>,
    /// Frames published; the producer's own tally (single writer).
    published: AtomicU64,
    /// Bytes the producer copied in.
    copied_in: AtomicU64,
}

impl SeqLock {
    /// The segment's name in /dev/shm (without the directory).
    pub fn segment_name(&self) -> String {
        let name = self.map.owned.as_ref().expect("the creator's mapping");
        name.to_string_lossy().trim_start_matches('/').to_string()
    }
}

impl Strategy for SeqLock {
    type Reader = SeqLockReader;

    fn name(&self) -> &'static str {
        "seqlock"
    }

    fn publish<F: FnOnce(&mut [u8]) -> FrameMeta>(&self, render: F) -> Publish {
        let mut staging = self.staging.lock().unwrap();
        // Relaxed: single producer.
        let number = self.published.load(Ordering::Relaxed) + 1;
        let meta = FrameMeta {
            publish_seq: number,
            ..render(&mut staging)
        };
        let header = self.map.header();
        // Relaxed: only this thread writes `seq`.
        let seq = header.seq.load(Ordering::Relaxed);
        header.seq.store(seq + 1, Ordering::Relaxed);
        // Release fence: a reader whose copy saw any store below also sees the odd value
        // on its second look (its Acquire fence pairs with this one), and retries.
        fence(Ordering::Release);
        self.map.frame().write_from(&staging);
        for (word, value) in header.meta.iter().zip(meta.to_words()) {
            // Relaxed: inside the sequence lock, ordered by the fence and the store below.
            word.store(value, Ordering::Relaxed);
        }
        // Release: a reader that sees the even value sees the whole frame written before it.
        header.seq.store(seq + 2, Ordering::Release);
        // Relaxed: tallies of the single producer.
        self.published.store(number, Ordering::Relaxed);
        self.copied_in
            .fetch_add(staging.len() as u64, Ordering::Relaxed);
        drop(staging);
        self.map.waker(0).wake_all();
        Publish::Published(number)
    }

    /// A reader in the producer's own process (the in-process conformance suite uses it);
    /// such readers share one sleeper entry.
    fn reader(self: Arc<Self>) -> SeqLockReader {
        let shared_entry = self.map.header().readers as usize;
        SeqLockReader::new(self.map.clone(), shared_entry)
    }

    fn close(&self) {
        // Release: a reader that sees `closed` sees the final frame's `seq` too.
        self.map.header().closed.store(1, Ordering::Release);
        self.map.waker(0).wake_all();
    }

    fn stats(&self) -> StrategyStats {
        let header = self.map.header();
        // Relaxed: tallies read after the readers were joined or reaped.
        StrategyStats {
            published: self.published.load(Ordering::Relaxed),
            bytes_copied: self.copied_in.load(Ordering::Relaxed)
                + header.copied_out.load(Ordering::Relaxed),
            lost_wakeups: header.lost_wakeups.load(Ordering::Relaxed),
            ..StrategyStats::default()
        }
    }
}

/// A consumer's side: a mapping of the segment and a private copy of the newest frame.
pub struct SeqLockReader {
    map: Arc<Mapping>,
    /// This reader's sleeper entry.
    entry: usize,
    meta: FrameMeta,
    copy: Vec<u8>,
}

impl SeqLockReader {
    fn new(map: Arc<Mapping>, entry: usize) -> SeqLockReader {
        let frame_len = map.header().frame_len as usize;
        SeqLockReader {
            map,
            entry,
            meta: FrameMeta::default(),
            copy: vec![0; frame_len],
        }
    }

    fn check(&self, after: u64) -> Option<WaitOutcome> {
        let header = self.map.header();
        // `closed` before `seq`, both Acquire (pairing with the Release stores of `close`
        // and `publish`): a reader that sees the close then sees the final frame.
        let closed = header.closed.load(Ordering::Acquire) != 0;
        let newest = header.seq.load(Ordering::Acquire) / 2;
        if newest > after {
            Some(WaitOutcome::Newer(newest))
        } else if closed {
            Some(WaitOutcome::Closed)
        } else {
            None
        }
    }
}

/// A reader's copy of one frame.
pub struct Copied<'a> {
    meta: &'a FrameMeta,
    bytes: &'a [u8],
}

impl FrameView for Copied<'_> {
    fn meta(&self) -> &FrameMeta {
        self.meta
    }
    fn bytes(&self) -> &[u8] {
        self.bytes
    }
}

impl Reader for SeqLockReader {
    type Frame<'a> = Copied<'a>;

    fn wait_newer(&mut self, after: u64, mode: WaitMode) -> WaitOutcome {
        match mode {
            WaitMode::Block => self.map.waker(self.entry).wait_until(|| self.check(after)),
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

    fn acquire(&mut self) -> Option<Copied<'_>> {
        let header = self.map.header();
        loop {
            // Acquire: pairs with the writer's closing Release store.
            let before = header.seq.load(Ordering::Acquire);
            if before == 0 {
                return None;
            }
            if before & 1 == 0 {
                self.map.frame().read_into(&mut self.copy);
                let mut words = [0u64; META_WORDS];
                for (value, word) in words.iter_mut().zip(&header.meta) {
                    // Relaxed: judged by the second look at `seq` below.
                    *value = word.load(Ordering::Relaxed);
                }
                // Acquire fence: the copy's loads happen before the second look.
                fence(Ordering::Acquire);
                // Relaxed: ordered by the fence above.
                if header.seq.load(Ordering::Relaxed) == before {
                    self.meta = FrameMeta::from_words(words);
                    break;
                }
            }
            // The writer is mid-frame: retry.
            std::hint::spin_loop();
        }
        // Relaxed: a tally read after the run.
        header
            .copied_out
            .fetch_add(self.copy.len() as u64, Ordering::Relaxed);
        Some(Copied {
            meta: &self.meta,
            bytes: &self.copy,
        })
    }
}

impl CrossProcess for SeqLock {
    type Attached = SeqLockReader;

    fn descriptor() -> Descriptor {
        Descriptor::new(
            "seqlock",
            "one frame in a shared-memory segment under a sequence lock; reader processes copy it out and retry on a torn copy",
        )
        .copies_on_acquire()
        // The frame in the segment, the producer's staging buffer, one copy per reader.
        .resident_frames(|params| 2 + params.consumers)
    }

    fn create(params: &StrategyParams, run: &str) -> Result<SeqLock, BuildError> {
        if params.consumers > MAX_READERS {
            return Err(BuildError::Other(format!(
                "seqlock: at most {MAX_READERS} consumers, not {}",
                params.consumers
            )));
        }
        let name = segment_name(run).map_err(BuildError::Other)?;
        let map = Mapping::create(&name, segment_len(params.frame_len))
            .map_err(|e| BuildError::Other(format!("seqlock: {e}")))?;
        // SAFETY: the segment is new and nobody else has mapped it yet (consumer processes
        // start after `create` returns), so these plain writes race with nothing; the rest of
        // the header is zero, the initial state of every atomic in it.
        unsafe {
            let header = map.base.cast::<Header>().as_ptr();
            std::ptr::addr_of_mut!((*header).magic).write(MAGIC);
            std::ptr::addr_of_mut!((*header).frame_len).write(params.frame_len as u64);
            std::ptr::addr_of_mut!((*header).readers).write(params.consumers as u64);
        }
        Ok(SeqLock {
            map: Arc::new(map),
            staging: Mutex::new(vec![0; params.frame_len]),
            published: AtomicU64::new(0),
            copied_in: AtomicU64::new(0),
        })
    }

    fn attach(run: &str, id: usize, frame_len: usize) -> Result<(SeqLockReader, u64), String> {
        let map = Mapping::open(&segment_name(run)?)?;
        let header = map.header();
        if header.magic != MAGIC
            || header.frame_len as usize != frame_len
            || map.len < segment_len(frame_len)
        {
            return Err(format!(
                "{run}{SUFFIX}: not a seqlock segment for {frame_len}-byte frames"
            ));
        }
        if id >= header.readers as usize {
            return Err(format!(
                "consumer {id} of a segment made for {}",
                header.readers
            ));
        }
        let reader = SeqLockReader::new(Arc::new(map), id);
        // Announce readiness, block until the producer's go.
        let measure_start_ns = reader.map.header().gate.ready_and_wait();
        Ok((reader, measure_start_ns))
    }

    fn attached(&self) -> usize {
        self.map.header().gate.attached()
    }

    fn go(&self, measure_start_ns: u64) -> Result<(), BuildError> {
        self.map.header().gate.go(measure_start_ns);
        Ok(())
    }

    /// A reader holds nothing in the segment (its frame is a private copy), so nothing is
    /// taken back; a reader killed while asleep leaves its sleeper count set, which would
    /// cost the writer a wake system call per frame for nobody: cleared here.
    fn reclaim(&self, id: usize) -> bool {
        // Relaxed: the process is reaped; nobody else writes its entry.
        self.map.header().asleep[id].store(0, Ordering::Relaxed);
        false
    }

    /// Segments of runs whose producer was killed outright.
    fn clean() -> Result<Vec<String>, String> {
        let mut removed = Vec::new();
        for path in leftovers::stale_in_shm(SUFFIX) {
            match std::fs::remove_file(&path) {
                Ok(()) => removed.push(path.display().to_string()),
                // Removed meanwhile (fbench's own pass over `fbench-<pid>-…` names).
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("removing {}: {e}", path.display())),
            }
        }
        Ok(removed)
    }
}
