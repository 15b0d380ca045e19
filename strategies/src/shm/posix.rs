//! The POSIX shared-memory object under a segment: created with its pages reserved, locked by
//! its creator for its whole life, mapped, and unlinked by the creator.
//!
//! * **Space**: before creating, the free space of /dev/shm (`statvfs`) is compared with the
//!   segment's size, and the object's pages are then reserved with `fallocate`, so a shortage
//!   is an error at creation ([`ObjectError::NoSpace`]) instead of a SIGBUS on the first
//!   touch of a page no tmpfs page is left for. A SIGBUS that happens anyway (the object was
//!   truncated by someone else, a file system without `fallocate`) is turned into one line and
//!   exit code 2 by [`install_sigbus_handler`], which also unlinks the segment this process
//!   created.
//! * **Liveness**: the creator holds an exclusive `flock` on the object for as long as it
//!   exists. The lock belongs to the open file description, so it is released by the kernel
//!   however the creator ends (SIGKILL included), and it means the same in every PID
//!   namespace and whatever the creator's binary is called. [`lock_is_free`] is how
//!   `fbench clean` and the stale-segment warning tell a dead run's segment from a live one.
//!   Readers never lock.
//!
//! This module must never unlink an object whose lock is held.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicI32, AtomicU8, AtomicUsize, Ordering};

/// Why an object could not be created or opened.
#[derive(Debug)]
pub enum ObjectError {
    /// /dev/shm has less room than the segment needs (bytes).
    NoSpace { need: u64, free: u64 },
    /// The name exists and its creator still holds the lock.
    Exists,
    /// Any other failure of a system call: what failed and why.
    Os(String),
}

fn os_error(what: &str) -> ObjectError {
    ObjectError::Os(format!("{what}: {}", std::io::Error::last_os_error()))
}

/// A mapped POSIX shared-memory object.
pub struct Object {
    base: NonNull<u8>,
    len: usize,
    /// Kept open for the mapping's life; on the creator's side it carries the lock.
    _fd: OwnedFd,
    /// Set for the creator: unlinks the name when dropped.
    created: Option<CString>,
}

/// Free bytes in the file system holding `dir` (for an unprivileged user: `f_bavail`).
pub fn free_space(dir: &Path) -> Option<u64> {
    let path = CString::new(dir.as_os_str().as_encoded_bytes()).ok()?;
    // SAFETY: statvfs is plain data; zeroed is a valid value, and the kernel fills it.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated and `stat` a valid out-pointer.
    if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
        return None;
    }
    Some((stat.f_bavail as u64).saturating_mul(stat.f_frsize as u64))
}

impl Object {
    /// Create `/dev/shm/<name>` of `len` bytes, exclusively, lock it, reserve its pages and
    /// map it. On any error nothing is left behind.
    pub fn create(name: &str, len: usize) -> Result<Object, ObjectError> {
        let need = len as u64;
        if let Some(free) = free_space(Path::new(super::SHM_DIR)) {
            if free < need {
                return Err(ObjectError::NoSpace { need, free });
            }
        }
        let c_name = CString::new(format!("/{name}"))
            .map_err(|_| ObjectError::Os("segment name holds a NUL byte".into()))?;
        let fd = open(&c_name, libc::O_RDWR | libc::O_CREAT | libc::O_EXCL)?;
        // From here on, unlink on every error path.
        let fail = |error: ObjectError| {
            // SAFETY: a NUL-terminated name we just created.
            unsafe { libc::shm_unlink(c_name.as_ptr()) };
            error
        };
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            return Err(fail(os_error("flock")));
        }
        let Ok(signed_len) = libc::off_t::try_from(len) else {
            return Err(fail(ObjectError::Os("segment too large".into())));
        };
        // Reserve every page now (tmpfs allocates them; they are mapped into a process, and
        // counted in its PSS, only once touched): a shortage fails here, not as a SIGBUS.
        // SAFETY: fallocate on a descriptor we own, mode 0 (allocate and extend the size).
        if unsafe { libc::fallocate(fd.as_raw_fd(), 0, 0, signed_len) } != 0 {
            let error = std::io::Error::last_os_error();
            match error.raw_os_error() {
                Some(libc::ENOSPC | libc::ENOMEM) => {
                    let free = free_space(Path::new(super::SHM_DIR)).unwrap_or(0);
                    return Err(fail(ObjectError::NoSpace { need, free }));
                }
                // A file system without fallocate: size it, the pre-check above stands in
                // for the reservation and the SIGBUS handler for the rest.
                Some(libc::EOPNOTSUPP | libc::ENOSYS) => {
                    // SAFETY: ftruncate on a descriptor we own.
                    if unsafe { libc::ftruncate(fd.as_raw_fd(), signed_len) } != 0 {
                        return Err(fail(os_error("ftruncate")));
                    }
                }
                _ => return Err(fail(ObjectError::Os(format!("fallocate: {error}")))),
            }
        }
        let base = map(&fd, len).map_err(fail)?;
        arm_sigbus_cleanup(&c_name);
        install_sigbus_handler();
        Ok(Object {
            base,
            len,
            _fd: fd,
            created: Some(c_name),
        })
    }

    /// Open and map an existing object, whole.
    pub fn open(name: &str) -> Result<Object, ObjectError> {
        let c_name = CString::new(format!("/{name}"))
            .map_err(|_| ObjectError::Os("segment name holds a NUL byte".into()))?;
        let fd = open(&c_name, libc::O_RDWR)?;
        // SAFETY: plain data, filled by the kernel.
        let mut stat: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: fstat on a descriptor we own, into a valid out-pointer.
        if unsafe { libc::fstat(fd.as_raw_fd(), &mut stat) } != 0 {
            return Err(os_error("fstat"));
        }
        let len = usize::try_from(stat.st_size).map_err(|_| ObjectError::Os("size".into()))?;
        if len == 0 {
            return Err(ObjectError::Os("empty".into()));
        }
        let base = map(&fd, len)?;
        install_sigbus_handler();
        Ok(Object {
            base,
            len,
            _fd: fd,
            created: None,
        })
    }

    pub fn as_ptr(&self) -> *mut u8 {
        self.base.as_ptr()
    }

    pub fn len(&self) -> usize {
        self.len
    }
}

fn open(name: &CString, flags: libc::c_int) -> Result<OwnedFd, ObjectError> {
    // SAFETY: a NUL-terminated name; shm_open sets FD_CLOEXEC itself (and we ask for it), so
    // consumer processes started later do not inherit the descriptor and its lock.
    let fd = unsafe { libc::shm_open(name.as_ptr(), flags | libc::O_CLOEXEC, 0o600) };
    if fd < 0 {
        let error = std::io::Error::last_os_error();
        return Err(match error.raw_os_error() {
            Some(libc::EEXIST) => ObjectError::Exists,
            _ => ObjectError::Os(error.to_string()),
        });
    }
    // SAFETY: a descriptor shm_open just returned, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn map(fd: &OwnedFd, len: usize) -> Result<NonNull<u8>, ObjectError> {
    // SAFETY: a fresh shared mapping of `len` bytes of the object; the kernel picks the
    // address, so no existing memory is affected.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd.as_raw_fd(),
            0,
        )
    };
    if ptr == libc::MAP_FAILED {
        return Err(os_error("mmap"));
    }
    NonNull::new(ptr.cast()).ok_or_else(|| ObjectError::Os("mmap returned null".into()))
}

impl Drop for Object {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `map`, unmapped once; the Segment that hands out
        // references into it is being dropped with it.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
        if let Some(name) = &self.created {
            disarm_sigbus_cleanup();
            // Unlink while the lock is still held (the descriptor closes after this), so a
            // concurrent `fbench clean` never sees this name with a free lock.
            // SAFETY: the NUL-terminated name this process created.
            unsafe { libc::shm_unlink(name.as_ptr()) };
        }
    }
}

/// Whether the object at `path` (a file in /dev/shm) has no live creator: nobody holds its
/// lock. `false` when it cannot be opened (another user's) or is not a regular file.
pub fn lock_is_free(path: &Path) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return false;
    };
    if !meta.is_file() {
        return false;
    }
    // A creator opens and locks within microseconds: an empty object younger than that
    // margin may be one being created right now.
    let young = meta
        .modified()
        .ok()
        .and_then(|m| m.elapsed().ok())
        .map_or(true, |age| age < std::time::Duration::from_secs(5));
    if meta.len() == 0 && young {
        return false;
    }
    use std::os::unix::fs::OpenOptionsExt;
    // Never follow a symlink planted in /dev/shm, nor block on a FIFO.
    let Ok(file) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    else {
        return false;
    };
    // SAFETY: flock on a descriptor `file` owns; a lock we get is released when it closes.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

/// A random 64-bit value from the kernel (for segment names), or, if getrandom fails, one
/// mixed from the clock and the address space.
pub fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    // SAFETY: getrandom writes at most 8 bytes into our buffer.
    let got = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    if got == 8 {
        return u64::from_ne_bytes(bytes);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let local = 0u8;
    now ^ (&local as *const u8 as u64).rotate_left(32)
}

/// The one line a SIGBUS prints (see the module doc).
pub const SIGBUS_MESSAGE: &str = "error: shared memory: /dev/shm ran out of space under a segment (SIGBUS); free space in /dev/shm, or run fewer consumers, fewer --slots or a smaller --resolution\n";

/// Where the SIGBUS handler writes its line: standard error, or the descriptor given to
/// [`sigbus_message_to`].
static SIGBUS_FD: AtomicI32 = AtomicI32::new(libc::STDERR_FILENO);

/// Make the SIGBUS line go to (a duplicate of) `fd`: for a process whose fd 2 is a pipe that
/// a thread copies to the real standard error, since `_exit` leaves that thread no time to
/// pass the line on. The duplicate stays open for the life of the process.
///
/// ```
/// // The real standard error, before fd 2 is pointed at a pipe of one's own.
/// fbench_strategies::shm::sigbus_message_to(2);
/// ```
pub fn sigbus_message_to(fd: RawFd) {
    // SAFETY: duplicating a descriptor the caller holds open; the copy is close-on-exec and
    // owned by this module alone, never closed (the handler may need it at any time).
    let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if copy >= 0 {
        // Relaxed: a descriptor number; the handler runs in this process after this store
        // or sees the old, still valid, fd 2.
        SIGBUS_FD.store(copy, Ordering::Relaxed);
    }
}

/// Exit code after a SIGBUS: the same as a shortage found before the run.
const SIGBUS_EXIT: libc::c_int = 2;

/// The path (`/dev/shm/<name>`) of the segment this process created, for the SIGBUS handler
/// to unlink: bytes in atomics, so the handler reads them without a lock. 0 length: none.
const CLEANUP_CAP: usize = 128;
static CLEANUP_PATH: [AtomicU8; CLEANUP_CAP] = [const { AtomicU8::new(0) }; CLEANUP_CAP];
static CLEANUP_LEN: AtomicUsize = AtomicUsize::new(0);

fn arm_sigbus_cleanup(name: &CString) {
    let path = format!("{}{}", super::SHM_DIR, name.to_string_lossy());
    if path.len() >= CLEANUP_CAP {
        return;
    }
    // Relaxed: each byte is read by this thread's signal handler or after the Release below.
    CLEANUP_LEN.store(0, Ordering::Relaxed);
    for (slot, byte) in CLEANUP_PATH.iter().zip(path.bytes()) {
        slot.store(byte, Ordering::Relaxed);
    }
    // Release: a handler that reads the length (Acquire) sees the bytes stored before.
    CLEANUP_LEN.store(path.len(), Ordering::Release);
}

fn disarm_sigbus_cleanup() {
    // Relaxed: a handler that still sees the old length unlinks a name that is about to be
    // unlinked anyway.
    CLEANUP_LEN.store(0, Ordering::Relaxed);
}

extern "C" fn on_sigbus(_signal: libc::c_int) {
    // Only async-signal-safe calls: atomic loads, unlink, write, _exit.
    // Acquire: pairs with the Release in `arm_sigbus_cleanup`.
    let len = CLEANUP_LEN.load(Ordering::Acquire);
    if len > 0 && len < CLEANUP_CAP {
        let mut path = [0u8; CLEANUP_CAP];
        for (byte, slot) in path.iter_mut().zip(&CLEANUP_PATH).take(len) {
            // Relaxed: ordered by the Acquire load of the length.
            *byte = slot.load(Ordering::Relaxed);
        }
        // SAFETY: `path` is NUL-terminated (len < CAP, the rest zero); unlink(2) is
        // async-signal-safe.
        unsafe { libc::unlink(path.as_ptr().cast()) };
    }
    // SAFETY: write(2) and _exit(2) are async-signal-safe; the message is a static.
    unsafe {
        libc::write(
            // Relaxed: see `sigbus_message_to`.
            SIGBUS_FD.load(Ordering::Relaxed),
            SIGBUS_MESSAGE.as_ptr().cast(),
            SIGBUS_MESSAGE.len(),
        );
        libc::_exit(SIGBUS_EXIT);
    }
}

/// Turn a SIGBUS in this process into [`SIGBUS_MESSAGE`] and exit code 2, after unlinking the
/// segment this process created (if any). Installed once, by the first segment created or
/// attached; harmless to call again.
pub fn install_sigbus_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: sigaction is plain data; zeroed is valid, then filled below.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_sigbus as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SAFETY: an empty set in our own struct; installing a handler that only makes
        // async-signal-safe calls.
        unsafe {
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
        }
    });
}
