//! The atomics the lock-free protocols use, swapped for loom's under `cfg(loom)` so the
//! same protocol code can be model-checked (`RUSTFLAGS="--cfg loom" cargo test -p
//! fbench-strategies --release shm_loom`).

#[cfg(loom)]
pub use loom::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
#[cfg(not(loom))]
pub use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

#[cfg(loom)]
pub fn spin_hint() {
    loom::thread::yield_now();
}
#[cfg(not(loom))]
pub fn spin_hint() {
    std::hint::spin_loop();
}
