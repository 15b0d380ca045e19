//! The segment: one block of memory laid out as documented in [`crate::shm`], either a
//! POSIX shared-memory object (`/dev/shm/fbench-<pid>-<n>`, through the `shared_memory`
//! crate) or ordinary page-aligned memory for the in-process stand-in.

use std::alloc::Layout;
use std::cell::UnsafeCell;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64};

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
    /// Kept for its Drop: unmaps, and unlinks the name when we created it.
    Shared {
        _mapping: shared_memory::Shmem,
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

    /// A new named POSIX shared-memory segment, removed when this value drops.
    pub fn create_shared(name: &str, spec: &SegmentSpec) -> Result<Segment, SegmentError> {
        let geometry = Self::geometry_of(spec)?;
        let shmem = shared_memory::ShmemConf::new()
            .size(geometry.total_len)
            .os_id(format!("/{name}"))
            .create()
            .map_err(|e| SegmentError::Create {
                name: name.to_string(),
                reason: e.to_string(),
            })?;
        let base = NonNull::new(shmem.as_ptr()).ok_or_else(|| SegmentError::Create {
            name: name.to_string(),
            reason: "null mapping".into(),
        })?;
        let segment = Segment {
            base,
            geometry,
            backing: Backing::Shared { _mapping: shmem },
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
        let shmem = shared_memory::ShmemConf::new()
            .os_id(format!("/{name}"))
            .open()
            .map_err(|e| err(e.to_string()))?;
        if shmem.len() < SLOTS_OFFSET {
            return Err(err("segment too small".into()));
        }
        let base = NonNull::new(shmem.as_ptr()).ok_or_else(|| err("null mapping".into()))?;
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
        .filter(|g| g.total_len <= shmem.len() && g.data_offset as u64 == header.data_offset)
        .ok_or_else(|| err("inconsistent header".into()))?;
        Ok(Segment {
            base,
            geometry,
            backing: Backing::Shared { _mapping: shmem },
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

/// A segment name unique to this process and call: `fbench-<pid>-<n>`.
pub fn unique_name() -> String {
    use std::sync::atomic::Ordering;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // Relaxed: only uniqueness matters.
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{NAME_PREFIX}{}-{n}", std::process::id())
}

/// Where POSIX shared-memory objects live on Linux.
pub const SHM_DIR: &str = "/dev/shm";

/// Segments in /dev/shm left by fbench processes that no longer exist (killed outright, so
/// nothing removed them). A segment's name carries its creator's pid; it is stale when that
/// pid is gone or now belongs to a program that is not fbench.
pub fn stale_segments() -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(SHM_DIR) else {
        return Vec::new();
    };
    let mut stale: Vec<_> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let pid: u32 = name
                .strip_prefix(NAME_PREFIX)?
                .split('-')
                .next()?
                .parse()
                .ok()?;
            (!is_fbench_process(pid)).then(|| entry.path())
        })
        .collect();
    stale.sort();
    stale
}

fn is_fbench_process(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|comm| comm.trim().starts_with("fbench"))
        .unwrap_or(false)
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
    fn stale_segments_are_those_of_dead_processes() {
        // A pid above the kernel's maximum never exists.
        let dead = format!("{SHM_DIR}/{NAME_PREFIX}4194305-0");
        let live = format!("{SHM_DIR}/{NAME_PREFIX}{}-99", std::process::id());
        std::fs::write(&dead, b"x").unwrap();
        std::fs::write(&live, b"x").unwrap();
        let stale = stale_segments();
        let _ = std::fs::remove_file(&dead);
        let _ = std::fs::remove_file(&live);
        assert!(stale.contains(&std::path::PathBuf::from(&dead)));
        // this test binary is named fbench_strategies-…: a live fbench process
        assert!(!stale.contains(&std::path::PathBuf::from(&live)));
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
