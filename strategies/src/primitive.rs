//! The atomics the lock-free protocols use, swapped for loom's under `cfg(loom)` so the
//! same protocol code can be model-checked (`RUSTFLAGS="--cfg loom" cargo test -p
//! fbench-strategies --release shm_loom`).

#[cfg(loom)]
pub use loom::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub use std::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

#[cfg(loom)]
pub fn spin_hint() {
    loom::thread::yield_now();
}
#[cfg(not(loom))]
pub fn spin_hint() {
    std::hint::spin_loop();
}

/// A lock and condition variable to sleep on until another thread says something changed:
/// parking_lot's normally, loom's under `cfg(loom)` (so a lost wake-up shows as a deadlock in
/// the model). The lock guards no data; it only orders sleeping against notifying.
#[derive(Default)]
pub struct Parking {
    #[cfg(not(loom))]
    lock: parking_lot::Mutex<()>,
    #[cfg(not(loom))]
    wake: parking_lot::Condvar,
    #[cfg(loom)]
    lock: loom::sync::Mutex<()>,
    #[cfg(loom)]
    wake: loom::sync::Condvar,
}

/// The lock of a [`Parking`], held.
#[cfg(not(loom))]
pub struct ParkingGuard<'a>(parking_lot::MutexGuard<'a, ()>);
#[cfg(loom)]
pub struct ParkingGuard<'a>(Option<loom::sync::MutexGuard<'a, ()>>);

impl Parking {
    #[cfg(not(loom))]
    pub fn lock(&self) -> ParkingGuard<'_> {
        ParkingGuard(self.lock.lock())
    }
    #[cfg(loom)]
    pub fn lock(&self) -> ParkingGuard<'_> {
        ParkingGuard(Some(self.lock.lock().expect("never poisoned in the model")))
    }

    /// Release the lock, sleep until notified (or spuriously), take the lock again.
    #[cfg(not(loom))]
    pub fn wait(&self, guard: &mut ParkingGuard<'_>) {
        self.wake.wait(&mut guard.0);
    }
    #[cfg(loom)]
    pub fn wait(&self, guard: &mut ParkingGuard<'_>) {
        let held = guard.0.take().expect("held between waits");
        guard.0 = Some(self.wake.wait(held).expect("never poisoned in the model"));
    }

    /// As [`Parking::wait`], at most `timeout` (the model has no time: it just waits, so a
    /// lost wake-up stays a deadlock there).
    #[cfg(not(loom))]
    pub fn wait_timeout(&self, guard: &mut ParkingGuard<'_>, timeout: std::time::Duration) -> Woke {
        if self.wake.wait_for(&mut guard.0, timeout).timed_out() {
            Woke::TimedOut
        } else {
            Woke::Early
        }
    }
    #[cfg(loom)]
    pub fn wait_timeout(
        &self,
        guard: &mut ParkingGuard<'_>,
        _timeout: std::time::Duration,
    ) -> Woke {
        self.wait(guard);
        Woke::Early
    }

    pub fn notify_all(&self) {
        self.wake.notify_all();
    }
}

/// What [`FutexWord::wait`] ended with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Woke {
    /// Woken, or the word had already changed, or a signal: the caller re-checks.
    Early,
    /// The timeout passed without a wake-up.
    TimedOut,
}

/// A 32-bit word that threads (or processes mapping the same page) sleep on: a futex.
///
/// Normally the word itself (`repr(transparent)`, so it can live in a shared-memory segment)
/// with `FUTEX_WAIT`/`FUTEX_WAKE` *without* `FUTEX_PRIVATE_FLAG`, so waiters in other
/// processes are woken too. Under `cfg(loom)`, where there is no kernel, the futex is
/// modelled by what the kernel does: a waiter compares the word with the value it expects
/// under a lock (the kernel's hash-bucket lock) and sleeps on a condition variable, a waker
/// notifies under the same lock. The model has no timeout, so a lost wake-up is a deadlock.
#[cfg(not(loom))]
#[repr(transparent)]
#[derive(Default)]
pub struct FutexWord(AtomicU32);

#[cfg(loom)]
#[derive(Default)]
pub struct FutexWord {
    word: AtomicU32,
    bucket: loom::sync::Mutex<()>,
    sleep: loom::sync::Condvar,
}

impl FutexWord {
    fn atomic(&self) -> &AtomicU32 {
        #[cfg(not(loom))]
        return &self.0;
        #[cfg(loom)]
        return &self.word;
    }

    pub fn load(&self, order: Ordering) -> u32 {
        self.atomic().load(order)
    }

    pub fn fetch_add(&self, value: u32, order: Ordering) -> u32 {
        self.atomic().fetch_add(value, order)
    }

    /// Sleep while the word equals `expected` (checked atomically with going to sleep), at
    /// most `timeout`.
    #[cfg(not(loom))]
    pub fn wait(&self, expected: u32, timeout: std::time::Duration) -> Woke {
        let timeout = libc::timespec {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        // SAFETY: the word is a live, aligned 32-bit atomic for the duration of the call;
        // FUTEX_WAIT only reads it and sleeps; the timeout is a valid relative timespec. A
        // failure (EAGAIN when the value changed, EINTR) returns to the caller, which
        // re-checks its condition.
        let result = unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.0.as_ptr(),
                libc::FUTEX_WAIT,
                expected,
                &timeout as *const libc::timespec,
                std::ptr::null::<u32>(),
                0u32,
            )
        };
        if result == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ETIMEDOUT) {
            Woke::TimedOut
        } else {
            Woke::Early
        }
    }

    #[cfg(loom)]
    pub fn wait(&self, expected: u32, _timeout: std::time::Duration) -> Woke {
        let bucket = self.bucket.lock().expect("never poisoned in the model");
        // Acquire: the kernel reads the word with a full barrier; a waker that changed it
        // before taking the bucket lock is seen through the lock anyway.
        if self.word.load(Ordering::Acquire) == expected {
            drop(
                self.sleep
                    .wait(bucket)
                    .expect("never poisoned in the model"),
            );
        }
        Woke::Early
    }

    /// Wake every waiter.
    #[cfg(not(loom))]
    pub fn wake_all(&self) {
        // SAFETY: the word is a live, aligned 32-bit atomic; FUTEX_WAKE uses its address as
        // a key and touches no memory.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.0.as_ptr(),
                libc::FUTEX_WAKE,
                i32::MAX,
                std::ptr::null::<libc::timespec>(),
                std::ptr::null::<u32>(),
                0u32,
            );
        }
    }

    #[cfg(loom)]
    pub fn wake_all(&self) {
        let _bucket = self.bucket.lock().expect("never poisoned in the model");
        self.sleep.notify_all();
    }
}
