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

    pub fn notify_all(&self) {
        self.wake.notify_all();
    }
}
