//! Ctrl-C (SIGINT), SIGTERM, SIGHUP (terminal or ssh session closed) and SIGQUIT (Ctrl-\):
//! remembered in a flag that the producer loop, the controller, the consumer hosts and every
//! long wait poll, so a run stops within [`POLL_NS`] and cleans up (shared memory removed,
//! consumer processes killed and reaped) instead of dying where it stands. The command then
//! exits 130, whichever of the four signals it was.
//!
//! What this module must never do: block in the handler, or make a wait longer than
//! [`POLL_NS`] without looking at the flag.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use crate::clock::{monotonic_ns, sleep_until};

/// The longest any wait of a run goes without looking at the flag.
pub const POLL_NS: u64 = 50_000_000;

/// The signals that stop a run.
pub const SIGNALS: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

static REQUESTED: AtomicBool = AtomicBool::new(false);
static SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(signal: libc::c_int) {
    // Relaxed: lone flags, polled; atomic stores are async-signal-safe. Which signal came
    // is only for the message, so a race between two signals does not matter.
    SIGNAL.store(signal, Ordering::Relaxed);
    REQUESTED.store(true, Ordering::Relaxed);
}

/// Route SIGINT, SIGTERM, SIGHUP and SIGQUIT to the flag. Call once, early, from the binary.
pub fn install() {
    for signal in SIGNALS {
        // SAFETY: a zeroed sigaction is valid; the handler only stores to atomics, which is
        // async-signal-safe; SA_RESTART keeps interrupted system calls (reads, waits) from
        // failing with EINTR elsewhere in the program (every wait of a run polls the flag
        // instead of relying on EINTR).
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// Whether the user (or the system) asked to stop.
pub fn requested() -> bool {
    // Relaxed: see `on_signal`.
    REQUESTED.load(Ordering::Relaxed)
}

/// The name of the signal that asked to stop, if one did (for messages).
pub fn signal_name() -> Option<&'static str> {
    // Relaxed: see `on_signal`.
    match SIGNAL.load(Ordering::Relaxed) {
        libc::SIGINT => Some("SIGINT"),
        libc::SIGTERM => Some("SIGTERM"),
        libc::SIGHUP => Some("SIGHUP"),
        libc::SIGQUIT => Some("SIGQUIT"),
        _ => None,
    }
}

/// Sleep until the absolute CLOCK_MONOTONIC time `deadline_ns`, or until a stop is
/// requested, looking at the flag at least every [`POLL_NS`]. Returns whether the deadline
/// was reached (false: stopped early).
///
/// ```
/// use fbench_harness::clock::monotonic_ns;
/// use fbench_harness::interrupt::sleep_until_or_stop;
///
/// assert!(sleep_until_or_stop(monotonic_ns() + 1_000_000));
/// ```
pub fn sleep_until_or_stop(deadline_ns: u64) -> bool {
    loop {
        if requested() {
            return false;
        }
        let now = monotonic_ns();
        if now >= deadline_ns {
            return true;
        }
        sleep_until(deadline_ns.min(now + POLL_NS));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_sleep_reaches_its_deadline() {
        let deadline = monotonic_ns() + 2_000_000;
        assert!(sleep_until_or_stop(deadline));
        assert!(monotonic_ns() >= deadline);
    }
}
