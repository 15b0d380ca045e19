//! The one clock fbench uses: CLOCK_MONOTONIC in nanoseconds, comparable across processes
//! on one machine (so a capture stamp written by one process can be aged by another).

/// Nanoseconds on CLOCK_MONOTONIC.
#[inline]
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec and CLOCK_MONOTONIC is always available on
    // Linux, so clock_gettime only writes `ts` and cannot fail.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Sleep until the absolute CLOCK_MONOTONIC time `deadline_ns`. Sleeping to an absolute
/// deadline (not for a relative interval) is what keeps a paced schedule from drifting.
pub fn sleep_until(deadline_ns: u64) {
    let ts = libc::timespec {
        tv_sec: (deadline_ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (deadline_ns % 1_000_000_000) as libc::c_long,
    };
    loop {
        // SAFETY: `ts` is a valid timespec; TIMER_ABSTIME makes the remaining-time
        // argument unused, so passing null is allowed.
        let rc = unsafe {
            libc::clock_nanosleep(
                libc::CLOCK_MONOTONIC,
                libc::TIMER_ABSTIME,
                &ts,
                std::ptr::null_mut(),
            )
        };
        // clock_nanosleep returns the error number directly; EINTR (a signal) means
        // sleep again to the same absolute deadline.
        if rc != libc::EINTR {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_never_goes_back_and_sleep_reaches_its_deadline() {
        let a = monotonic_ns();
        let deadline = a + 2_000_000;
        sleep_until(deadline);
        let b = monotonic_ns();
        assert!(b >= deadline);
        // a deadline in the past returns at once
        sleep_until(a);
        assert!(monotonic_ns() >= b);
    }
}
