//! Ctrl-C (SIGINT) and SIGTERM: remembered in a flag that the producer loop and the
//! controller poll, so a run stops within one frame period and cleans up (shared memory
//! removed, consumer processes reaped) instead of dying where it stands.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_signal: libc::c_int) {
    // Relaxed: a lone flag, polled; an atomic store is async-signal-safe.
    REQUESTED.store(true, Ordering::Relaxed);
}

/// Route SIGINT and SIGTERM to the flag. Call once, early, from the binary.
pub fn install() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction is valid; the handler only stores to an atomic, which
        // is async-signal-safe; SA_RESTART keeps interrupted system calls (reads, waits)
        // from failing with EINTR elsewhere in the program.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// Whether the user asked to stop.
pub fn requested() -> bool {
    // Relaxed: see `on_signal`.
    REQUESTED.load(Ordering::Relaxed)
}
