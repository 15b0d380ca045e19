//! The segment: one block of memory laid out as documented in [`crate::shm`], either a
//! POSIX shared-memory object (`/dev/shm/fbench-<pid>-<n>-<random>`, see `posix.rs`
//! for how it is reserved, locked and removed) or ordinary page-aligned memory for the
//! in-process stand-in.

use std::alloc::Layout;
use std::cell::UnsafeCell;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64};

use super::posix::{self, Object, ObjectError};
use crate::FrameMeta;

use super::protocol::{ControlWords, ReaderSleepers, MAX_SLOTS};
use crate::primitive::FutexWord;
use crate::wake::{Counted, FutexWaker};

pub const MAGIC: u64 = u64::from_le_bytes(*b"FBENCHSH");
pub const LAYOUT_VERSION: u32 = 2;
pub const PAGE: usize = 4096;
/// Where the per-slot headers start; the segment header fits before it.
const SLOTS_OFFSET: usize = 256;
/// Prefix of every segment name (and of its file in /dev/shm).
pub const NAME_PREFIX: &str = "fbench-";

/// The segment header, at offset 0.
#[repr(C)]
pub struct Header {
    pub magic: u64,
    pub layout_version: u32,
    pub slot_count: u32,
    pub frame_len: u64,
    /// Distance between two frame slots (frame length rounded up to a page).
    pub slot_stride: u64,
    /// Offset of the first frame slot (page-aligned).
    pub data_offset: u64,
    pub reader_capacity: u32,
    pub creator_pid: u32,
    pub width: u32,
    pub height: u32,
    pub format: u32,
    /// 1 for the naive (seed V2) protocol, 0 for the slot protocol.
    pub naive: u32,
    /// Newest frame: publish sequence << 8 | slot.
    pub latest: AtomicU64,
    pub closed: AtomicU32,
    /// Futex word bumped on every publish and on close (who sleeps on it: the readers'
    /// `asleep` flags).
    pub wake: FutexWord,
    /// Start barrier: readers attached and ready.
    pub attached: AtomicU32,
    /// Futex word: 0 until the parent says go.
    pub go: FutexWord,
    pub go_sleepers: AtomicU32,
    _pad: u32,
    /// CLOCK_MONOTONIC ns when measuring starts, for consumer processes.
    pub measure_start_ns: AtomicU64,
    /// Readers' waits that timed out and then found a newer frame (see [`crate::wake`]).
    pub lost_wakeups: AtomicU64,
}

/// Per slot: its state and the metadata of the frame in it.
#[repr(C, align(64))]
pub struct SlotHeader {
    pub state: AtomicU32,
    _pad: u32,
    /// Written by the writer while the slot is WRITING; read by readers while they hold it.
    pub meta: UnsafeCell<FrameMeta>,
}

/// Per reader, one cache line each so readers do not slow each other down.
#[repr(C, align(64))]
pub struct ReaderEntry {
    /// The slot held plus one, 0 for none.
    pub hazard: AtomicU32,
    /// Pid of the process using this entry (1 for an in-process reader), 0 when free.
    pub owner: AtomicU32,
    /// 1 while the reader waits for a newer frame; cleared by reclaim if it died asleep.
    pub asleep: AtomicU32,
}

/// Sizes and offsets of a segment for given parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub slot_count: usize,
    pub reader_capacity: usize,
    pub frame_len: usize,
    pub slot_stride: usize,
    pub readers_offset: usize,
    pub data_offset: usize,
    pub total_len: usize,
}

impl Geometry {
    pub fn new(slot_count: usize, reader_capacity: usize, frame_len: usize) -> Option<Geometry> {
        if !(2..=MAX_SLOTS).contains(&slot_count) || reader_capacity == 0 || frame_len == 0 {
            return None;
        }
        let round = |n: usize, to: usize| n.checked_add(to - 1).map(|v| v / to * to);
        let readers_offset = SLOTS_OFFSET + slot_count * std::mem::size_of::<SlotHeader>();
        let data_offset = round(
            readers_offset + reader_capacity * std::mem::size_of::<ReaderEntry>(),
            PAGE,
        )?;
        let slot_stride = round(frame_len, PAGE)?;
        let total_len = slot_stride
            .checked_mul(slot_count)?
            .checked_add(data_offset)?;
        Some(Geometry {
            slot_count,
            reader_capacity,
            frame_len,
            slot_stride,
            readers_offset,
            data_offset,
            total_len,
        })
    }
}

enum Backing {
    Heap(Layout),
    /// Kept for its Drop: unmaps, and unlinks the name (then drops the lock) when we created
    /// it.
    Shared {
        _object: Object,
    },
}

/// A mapped segment.
pub struct Segment {
    base: NonNull<u8>,
    geometry: Geometry,
    backing: Backing,
    name: Option<String>,
}

// SAFETY: the mapping stays valid and at the same address for the life of the Segment; all
// concurrent access to it goes through atomics or through the slot protocol, which gives a
// slot's bytes to one writer or to readers, never both.
unsafe impl Send for Segment {}
// SAFETY: as above.
unsafe impl Sync for Segment {}

#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    #[error("invalid shared-memory geometry ({0})")]
    Geometry(String),
    #[error("cannot create shared-memory segment {name}: {reason}")]
    Create { name: String, reason: String },
    #[error("cannot attach to shared-memory segment {name}: {reason}")]
    Attach { name: String, reason: String },
    /// /dev/shm has less room than the segment needs: a user's limit, not a bug.
    #[error(
        "not enough shared memory: the segment needs {} in {SHM_DIR} and {} is free; run fewer consumers, fewer --slots or a smaller --resolution, or make {SHM_DIR} larger",
        mib(*need), mib(*free)
    )]
    NoSpace { need: u64, free: u64 },
    /// Reader slot `id` of the segment is already taken by another process.
    #[error("cannot attach to shared-memory segment {name}: reader slot {id} is already taken (by process {owner})")]
    SlotTaken { name: String, id: usize, owner: u32 },
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
}

/// What a segment is created with.
#[derive(Clone, Copy, Debug)]
pub struct SegmentSpec {
    pub slot_count: usize,
    pub reader_capacity: usize,
    pub frame_len: usize,
    pub width: u32,
    pub height: u32,
    pub format: u32,
    pub naive: bool,
}

impl Segment {
    fn geometry_of(spec: &SegmentSpec) -> Result<Geometry, SegmentError> {
        Geometry::new(spec.slot_count, spec.reader_capacity, spec.frame_len).ok_or_else(|| {
            SegmentError::Geometry(format!(
                "{} slots of {} bytes for {} readers",
                spec.slot_count, spec.frame_len, spec.reader_capacity
            ))
        })
    }

    /// The in-process stand-in: the same layout in ordinary memory.
    pub fn in_process(spec: &SegmentSpec) -> Result<Segment, SegmentError> {
        let geometry = Self::geometry_of(spec)?;
        let layout = Layout::from_size_align(geometry.total_len, PAGE)
            .map_err(|e| SegmentError::Geometry(e.to_string()))?;
        // SAFETY: the layout has a non-zero size (Geometry guarantees data and slots).
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        let base = NonNull::new(ptr).ok_or_else(|| SegmentError::Create {
            name: "(in-process)".into(),
            reason: "out of memory".into(),
        })?;
        let segment = Segment {
            base,
            geometry,
            backing: Backing::Heap(layout),
            name: None,
        };
        segment.init(spec);
        Ok(segment)
    }

    /// A new named POSIX shared-memory segment, removed when this value drops. Its pages are
    /// reserved in /dev/shm first ([`SegmentError::NoSpace`] when they do not fit), and this
    /// process holds the segment's lock until then ([`stale_segments`]). A name left by a
    /// dead run (lock free) is removed and the creation retried.
    pub fn create_shared(name: &str, spec: &SegmentSpec) -> Result<Segment, SegmentError> {
        let geometry = Self::geometry_of(spec)?;
        let create_error = |reason: String| SegmentError::Create {
            name: name.to_string(),
            reason,
        };
        let path = std::path::Path::new(SHM_DIR).join(name);
        let mut object = Object::create(name, geometry.total_len);
        if matches!(object, Err(ObjectError::Exists)) && posix::lock_is_free(&path) {
            // A dead run's segment under the same name (a PID reused in another namespace
            // and the same random part is all but impossible, but cost nothing to handle).
            let _ = std::fs::remove_file(&path);
            object = Object::create(name, geometry.total_len);
        }
        let object = object.map_err(|e| match e {
            ObjectError::NoSpace { need, free } => SegmentError::NoSpace { need, free },
            ObjectError::Exists => create_error("a live segment has that name".into()),
            ObjectError::Os(reason) => create_error(reason),
        })?;
        let base = NonNull::new(object.as_ptr()).ok_or_else(|| create_error("null".into()))?;
        let segment = Segment {
            base,
            geometry,
            backing: Backing::Shared { _object: object },
            name: Some(name.to_string()),
        };
        segment.init(spec);
        Ok(segment)
    }

    /// Attach to a segment another process created; checks magic and layout version.
    pub fn attach(name: &str) -> Result<Segment, SegmentError> {
        let err = |reason: String| SegmentError::Attach {
            name: name.to_string(),
            reason,
        };
        let object = Object::open(name).map_err(|e| match e {
            ObjectError::Os(reason) => err(reason),
            ObjectError::Exists | ObjectError::NoSpace { .. } => err("cannot open".into()),
        })?;
        if object.len() < SLOTS_OFFSET {
            return Err(err("segment too small".into()));
        }
        let base = NonNull::new(object.as_ptr()).ok_or_else(|| err("null mapping".into()))?;
        // SAFETY: the mapping is at least SLOTS_OFFSET bytes, page-aligned, and the creator
        // wrote the header before any reader was started.
        let header = unsafe { &*(base.as_ptr() as *const Header) };
        if header.magic != MAGIC {
            return Err(err("not an fbench segment".into()));
        }
        if header.layout_version != LAYOUT_VERSION {
            return Err(err(format!(
                "layout version {} (this fbench uses {LAYOUT_VERSION})",
                header.layout_version
            )));
        }
        let geometry = Geometry::new(
            header.slot_count as usize,
            header.reader_capacity as usize,
            header.frame_len as usize,
        )
        .filter(|g| g.total_len <= object.len() && g.data_offset as u64 == header.data_offset)
        .ok_or_else(|| err("inconsistent header".into()))?;
        Ok(Segment {
            base,
            geometry,
            backing: Backing::Shared { _object: object },
            name: Some(name.to_string()),
        })
    }

    fn init(&self, spec: &SegmentSpec) {
        let g = &self.geometry;
        // SAFETY: freshly created and zeroed, nobody else maps it yet (readers attach only
        // after creation returns), so writing the plain header fields is exclusive.
        let header = unsafe { &mut *(self.base.as_ptr() as *mut Header) };
        header.magic = MAGIC;
        header.layout_version = LAYOUT_VERSION;
        header.slot_count = g.slot_count as u32;
        header.frame_len = g.frame_len as u64;
        header.slot_stride = g.slot_stride as u64;
        header.data_offset = g.data_offset as u64;
        header.reader_capacity = g.reader_capacity as u32;
        header.creator_pid = std::process::id();
        header.width = spec.width;
        header.height = spec.height;
        header.format = spec.format;
        header.naive = u32::from(spec.naive);
    }

    /// Whether the header still starts with the magic. Read through a raw pointer, volatile:
    /// nothing but `init` writes it, yet another process may scribble on a live segment.
    pub fn magic_intact(&self) -> bool {
        // SAFETY: offset 0 is inside the mapping and 8-aligned (page-aligned base); a volatile
        // read of plain bytes, no reference made.
        unsafe { (self.base.as_ptr() as *const u64).read_volatile() == MAGIC }
    }

    pub fn header(&self) -> &Header {
        // SAFETY: offset 0 holds a Header (written by `init` before sharing); its mutable
        // parts are atomics.
        unsafe { &*(self.base.as_ptr() as *const Header) }
    }

    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    pub fn is_naive(&self) -> bool {
        self.header().naive != 0
    }

    pub fn slot_header(&self, slot: usize) -> &SlotHeader {
        assert!(slot < self.geometry.slot_count);
        // SAFETY: in bounds (asserted) and 64-byte aligned (SLOTS_OFFSET and the size are
        // multiples of 64, the base is page-aligned); zeroed memory is a valid SlotHeader.
        unsafe {
            &*(self
                .base
                .as_ptr()
                .add(SLOTS_OFFSET + slot * std::mem::size_of::<SlotHeader>())
                as *const SlotHeader)
        }
    }

    pub fn reader_entry(&self, reader: usize) -> &ReaderEntry {
        assert!(reader < self.geometry.reader_capacity);
        // SAFETY: in bounds (asserted) and aligned as for `slot_header`.
        unsafe {
            &*(self
                .base
                .as_ptr()
                .add(self.geometry.readers_offset + reader * std::mem::size_of::<ReaderEntry>())
                as *const ReaderEntry)
        }
    }

    /// Start of frame slot `slot`.
    pub fn slot_ptr(&self, slot: usize) -> *mut u8 {
        assert!(slot < self.geometry.slot_count);
        // SAFETY: in bounds: data_offset + slot_count * slot_stride <= total_len.
        unsafe {
            self.base
                .as_ptr()
                .add(self.geometry.data_offset + slot * self.geometry.slot_stride)
        }
    }

    /// The frame waker: the writer's side (`None`) or reader `reader`'s.
    pub fn waker(&self, reader: Option<usize>) -> FutexWaker<'_, ReaderSleepers<'_, Segment>> {
        FutexWaker {
            word: &self.header().wake,
            sleepers: ReaderSleepers {
                words: self,
                reader,
            },
            lost_wakeups: Some(&self.header().lost_wakeups),
        }
    }

    /// The start barrier's waker: every reader sleeps on it once, before anything can die.
    pub fn go_waker(&self) -> FutexWaker<'_, Counted<'_>> {
        FutexWaker {
            word: &self.header().go,
            sleepers: Counted(&self.header().go_sleepers),
            lost_wakeups: None,
        }
    }
}

impl ControlWords for Segment {
    fn latest(&self) -> &AtomicU64 {
        &self.header().latest
    }
    fn slot_count(&self) -> usize {
        self.geometry.slot_count
    }
    fn state(&self, slot: usize) -> &AtomicU32 {
        &self.slot_header(slot).state
    }
    fn reader_count(&self) -> usize {
        self.geometry.reader_capacity
    }
    fn hazard(&self, reader: usize) -> &AtomicU32 {
        &self.reader_entry(reader).hazard
    }
    fn asleep(&self, reader: usize) -> &AtomicU32 {
        &self.reader_entry(reader).asleep
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        if let Backing::Heap(layout) = self.backing {
            // SAFETY: allocated in `in_process` with exactly this layout, freed once.
            unsafe { std::alloc::dealloc(self.base.as_ptr(), layout) };
        }
        // Shared: the Shmem unmaps, and its owner (the creator) unlinks the name.
    }
}

/// A segment name unique to this process and call, and across PID namespaces:
/// `fbench-<pid>-<n>-<64 random bits>`. The pid part lets a run find its own segments
/// (`leaks::own_segments`); the random part keeps a pid reused in another namespace from
/// colliding. A name already in /dev/shm is skipped.
pub fn unique_name() -> String {
    use std::sync::atomic::Ordering;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    loop {
        // Relaxed: only uniqueness matters.
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!(
            "{NAME_PREFIX}{}-{n}-{:016x}",
            std::process::id(),
            posix::random_u64()
        );
        if !std::path::Path::new(SHM_DIR).join(&name).exists() {
            return name;
        }
    }
}

/// Where POSIX shared-memory objects live on Linux.
pub const SHM_DIR: &str = "/dev/shm";

/// Segments in /dev/shm whose creator is gone (killed outright, so nothing removed them):
/// those named `fbench-…` whose lock nobody holds. A live run's creator holds its segment's
/// lock for the segment's whole life, whatever its binary is called and in whatever PID
/// namespace, so a live segment is never listed (see `posix.rs`).
///
/// ```
/// use fbench_strategies::shm::{stale_segments, unique_name, ShmStrategy, SHM_DIR};
/// use fbench_strategies::StrategyParams;
///
/// let name = unique_name();
/// let live = ShmStrategy::shared(&StrategyParams::new(4096, 1), &name, false).unwrap();
/// // This process holds the segment's lock: never stale, whatever the binary is called.
/// assert!(!stale_segments().contains(&std::path::Path::new(SHM_DIR).join(&name)));
/// drop(live); // unlinked with the strategy
/// ```
pub fn stale_segments() -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(SHM_DIR) else {
        return Vec::new();
    };
    let mut stale: Vec<_> = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().starts_with(NAME_PREFIX))
        .map(|entry| entry.path())
        .filter(|path| posix::lock_is_free(path))
        .collect();
    stale.sort();
    stale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_page_aligned_and_documented() {
        assert!(std::mem::size_of::<Header>() <= SLOTS_OFFSET);
        assert_eq!(std::mem::size_of::<SlotHeader>(), 64);
        assert_eq!(std::mem::size_of::<ReaderEntry>(), 64);
        let g = Geometry::new(3, 20, 6_220_800).unwrap();
        assert_eq!(g.data_offset % PAGE, 0);
        assert_eq!(g.slot_stride % PAGE, 0);
        assert!(g.slot_stride >= 6_220_800);
        assert_eq!(g.total_len, g.data_offset + 3 * g.slot_stride);
        assert!(Geometry::new(1, 1, 100).is_none());
        assert!(Geometry::new(3, 0, 100).is_none());
        assert!(Geometry::new(3, 1, usize::MAX).is_none());
    }

    #[test]
    fn stale_segments_are_those_whose_lock_is_free() {
        // A file nobody locks, named like a segment of this very (live) process: stale, since
        // liveness is the lock, not the pid.
        let dead = format!("{SHM_DIR}/{NAME_PREFIX}{}-99-dead", std::process::id());
        std::fs::write(&dead, b"left by a killed run").unwrap();
        let live = unique_name();
        let spec = SegmentSpec {
            slot_count: 2,
            reader_capacity: 1,
            frame_len: 100,
            width: 10,
            height: 10,
            format: 1,
            naive: false,
        };
        let segment = Segment::create_shared(&live, &spec).unwrap();
        let stale = stale_segments();
        let _ = std::fs::remove_file(&dead);
        assert!(stale.contains(&std::path::PathBuf::from(&dead)));
        let live_path = std::path::Path::new(SHM_DIR).join(&live);
        assert!(!stale.contains(&live_path), "a live segment is never stale");
        drop(segment);
        assert!(!live_path.exists());
    }

    #[test]
    fn a_dead_runs_name_is_taken_over_and_a_live_ones_refused() {
        let spec = SegmentSpec {
            slot_count: 2,
            reader_capacity: 1,
            frame_len: 100,
            width: 10,
            height: 10,
            format: 1,
            naive: false,
        };
        let name = unique_name();
        let path = std::path::Path::new(SHM_DIR).join(&name);
        std::fs::write(&path, b"left by a killed run in another namespace").unwrap();
        let segment = Segment::create_shared(&name, &spec).unwrap();
        let again = Segment::create_shared(&name, &spec).err().unwrap();
        assert!(
            again.to_string().contains("a live segment has that name"),
            "{again}"
        );
        drop(segment);
        assert!(!path.exists());
    }

    #[test]
    fn a_segment_larger_than_dev_shm_is_refused_before_anything_is_created() {
        let free = posix::free_space(std::path::Path::new(SHM_DIR)).unwrap();
        // More than is free, but a geometry that exists: slots of up to 1 TiB.
        let frame_len = (free / 2 + (1 << 20)).min(1 << 40) as usize;
        let spec = SegmentSpec {
            slot_count: 3,
            reader_capacity: 1,
            frame_len,
            width: 10,
            height: 10,
            format: 1,
            naive: false,
        };
        let name = unique_name();
        match Segment::create_shared(&name, &spec) {
            Err(error @ SegmentError::NoSpace { need, free: seen }) => {
                assert!(need > seen, "{error}");
                let message = error.to_string();
                assert!(message.contains("MiB in /dev/shm"), "{message}");
                assert!(!message.contains('\n'));
            }
            other => panic!("expected NoSpace, got {:?}", other.err()),
        }
        assert!(!std::path::Path::new(SHM_DIR).join(&name).exists());
    }

    #[test]
    fn a_shared_segment_is_attached_by_name_and_removed_on_drop() {
        let name = unique_name();
        let spec = SegmentSpec {
            slot_count: 3,
            reader_capacity: 2,
            frame_len: 10_000,
            width: 100,
            height: 100,
            format: 1,
            naive: false,
        };
        let created = Segment::create_shared(&name, &spec).unwrap();
        assert!(std::path::Path::new(&format!("/dev/shm/{name}")).exists());
        let attached = Segment::attach(&name).unwrap();
        assert_eq!(attached.geometry(), created.geometry());
        assert_eq!(attached.header().width, 100);
        drop(attached);
        drop(created);
        assert!(!std::path::Path::new(&format!("/dev/shm/{name}")).exists());
        assert!(Segment::attach(&name).is_err());
    }
}
