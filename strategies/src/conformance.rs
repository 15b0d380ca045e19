//! The conformance suite: written once, instantiated for every real strategy by
//! `conformance!`. Asserts on sequence numbers and bytes only, never on time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use crate::{FrameMeta, FrameView, Publish, Reader, Strategy, WaitMode, WaitOutcome};

pub const FRAME_LEN: usize = 64 * 1024 + 13;

/// Every byte of the frame is derived from its sequence number, so a mix of two writes
/// shows as a byte that disagrees with the header.
pub fn render(seq: u64) -> impl FnOnce(&mut [u8]) -> FrameMeta {
    move |buf: &mut [u8]| {
        buf.fill(seq as u8);
        buf[..8].copy_from_slice(&seq.to_le_bytes());
        let tail = buf.len() - 8;
        buf[tail..].copy_from_slice(&seq.to_le_bytes());
        FrameMeta {
            seq,
            ..FrameMeta::default()
        }
    }
}

pub fn is_whole(frame: &impl FrameView) -> bool {
    let seq = frame.meta().seq;
    let bytes = frame.bytes();
    let tail = bytes.len() - 8;
    bytes[..8] == seq.to_le_bytes()
        && bytes[tail..] == seq.to_le_bytes()
        && bytes[8..tail].iter().all(|&b| b == seq as u8)
}

pub fn nothing_before_first_publish<S: Strategy>(strategy: Arc<S>) {
    let mut reader = strategy.clone().reader();
    assert!(reader.acquire().is_none());
    strategy.close();
    assert_eq!(reader.wait_newer(0, WaitMode::Block), WaitOutcome::Closed);
}

pub fn latest_value_wins<S: Strategy>(strategy: Arc<S>) {
    let mut reader = strategy.clone().reader();
    for seq in 1..=5 {
        assert_eq!(strategy.publish(render(seq)), Publish::Published(seq));
    }
    assert_eq!(reader.wait_newer(0, WaitMode::Block), WaitOutcome::Newer(5));
    let frame = reader.acquire().expect("a frame");
    assert_eq!(frame.meta().publish_seq, 5);
    assert_eq!(frame.meta().seq, 5);
    assert!(is_whole(&frame));
    drop(frame);
    assert_eq!(strategy.stats().published, 5);
}

pub fn closed_still_reports_final_frame<S: Strategy>(strategy: Arc<S>) {
    let mut reader = strategy.clone().reader();
    strategy.publish(render(1));
    strategy.publish(render(2));
    strategy.close();
    assert_eq!(reader.wait_newer(1, WaitMode::Spin), WaitOutcome::Newer(2));
    assert_eq!(reader.wait_newer(2, WaitMode::Block), WaitOutcome::Closed);
    assert_eq!(
        reader.wait_newer(2, WaitMode::Poll(Duration::from_millis(1))),
        WaitOutcome::Closed
    );
}

/// A reader blocked in `wait_newer` is woken by a publish, and by `close`.
pub fn blocking_wait_wakes_on_publish<S: Strategy>(strategy: Arc<S>) {
    let mut reader = strategy.clone().reader();
    let waiting = thread::spawn(move || {
        let first = reader.wait_newer(0, WaitMode::Block);
        let second = reader.wait_newer(1, WaitMode::Block);
        (first, second)
    });
    // Give the reader time to fall asleep; correctness does not depend on it (the
    // handshake covers both orders), it only makes the interesting order likely.
    thread::sleep(Duration::from_millis(20));
    strategy.publish(render(1));
    thread::sleep(Duration::from_millis(20));
    strategy.close();
    let (first, second) = waiting.join().unwrap();
    assert_eq!(first, WaitOutcome::Newer(1));
    assert_eq!(second, WaitOutcome::Closed);
}

/// Many readers, a producer publishing as fast as it can: every reader sees strictly
/// increasing publish numbers and only whole frames, checked on acquire and again after
/// holding the frame for a while.
pub fn no_torn_frames_and_monotonic<S: Strategy>(strategy: Arc<S>, readers: usize, frames: u64) {
    let start = Arc::new(Barrier::new(readers + 1));
    let handles: Vec<_> = (0..readers)
        .map(|id| {
            let mut reader = strategy.clone().reader();
            let start = start.clone();
            thread::spawn(move || {
                start.wait();
                let mut last = 0u64;
                let mut seen = 0u64;
                let modes = [
                    WaitMode::Block,
                    WaitMode::Spin,
                    WaitMode::Poll(Duration::from_micros(50)),
                ];
                let mode = modes[id % modes.len()];
                while let WaitOutcome::Newer(_) = reader.wait_newer(last, mode) {
                    let frame = reader.acquire().expect("published");
                    let seq = frame.meta().publish_seq;
                    assert!(seq > last, "reader {id}: {seq} after {last}");
                    assert!(is_whole(&frame), "reader {id}: torn frame {seq}");
                    for _ in 0..(id % 3) * 50 {
                        std::hint::spin_loop();
                    }
                    assert!(
                        is_whole(&frame),
                        "reader {id}: frame {seq} changed while held"
                    );
                    assert_eq!(frame.meta().publish_seq, seq);
                    last = seq;
                    seen += 1;
                }
                (last, seen)
            })
        })
        .collect();
    start.wait();
    let mut published = 0;
    for seq in 1..=frames {
        if let Publish::Published(p) = strategy.publish(render(seq)) {
            published = p;
        }
    }
    strategy.close();
    for handle in handles {
        let (last, seen) = handle.join().unwrap();
        assert_eq!(last, published, "every reader ends on the final frame");
        assert!(seen >= 1);
    }
}

/// A frame a reader holds never changes, whatever the producer does meanwhile.
pub fn held_frame_never_changes<S: Strategy>(strategy: Arc<S>) {
    let mut reader = strategy.clone().reader();
    strategy.publish(render(1));
    let frame = reader.acquire().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let strategy = strategy.clone();
        let stop = stop.clone();
        thread::spawn(move || {
            let mut seq = 2;
            // A writer blocked by the held frame (rwlock) simply makes no progress here.
            while !stop.load(Ordering::Relaxed) && seq < 200 {
                strategy.publish(render(seq));
                seq += 1;
            }
        })
    };
    for _ in 0..200 {
        assert_eq!(frame.meta().seq, 1);
        assert!(is_whole(&frame));
        thread::yield_now();
    }
    drop(frame);
    stop.store(true, Ordering::Relaxed);
    producer.join().unwrap();
}

macro_rules! conformance {
    ($module:ident, $make:expr) => {
        mod $module {
            use super::*;
            use crate::StrategyParams;

            fn make() -> Arc<impl Strategy> {
                let params = StrategyParams::new(FRAME_LEN, 8);
                #[allow(clippy::redundant_closure_call)]
                Arc::new(($make)(&params))
            }

            #[test]
            fn nothing_before_first_publish() {
                super::nothing_before_first_publish(make());
            }
            #[test]
            fn latest_value_wins() {
                super::latest_value_wins(make());
            }
            #[test]
            fn closed_still_reports_final_frame() {
                super::closed_still_reports_final_frame(make());
            }
            #[test]
            fn blocking_wait_wakes_on_publish() {
                super::blocking_wait_wakes_on_publish(make());
            }
            #[test]
            fn no_torn_frames_and_monotonic() {
                super::no_torn_frames_and_monotonic(make(), 8, 3000);
            }
            #[test]
            fn held_frame_never_changes() {
                super::held_frame_never_changes(make());
            }
        }
    };
}

conformance!(mutex, crate::MutexStrategy::new);
conformance!(rwlock, crate::RwLockStrategy::new);
conformance!(pool_grow, crate::PoolStrategy::new);
conformance!(pool_drop, |p: &StrategyParams| {
    let mut p = *p;
    p.pool_size = 2;
    p.pool_policy = crate::PoolPolicy::Drop;
    crate::PoolStrategy::new(&p)
});
conformance!(arcswap, crate::ArcSwapStrategy::new);
// The same strategies with the condition-variable waker (`--waker condvar`).
conformance!(mutex_condvar, |p: &StrategyParams| {
    let mut p = *p;
    p.waker = crate::Waker::Condvar;
    crate::MutexStrategy::new(&p)
});
conformance!(pool_condvar, |p: &StrategyParams| {
    let mut p = *p;
    p.waker = crate::Waker::Condvar;
    crate::PoolStrategy::new(&p)
});
conformance!(arcswap_condvar, |p: &StrategyParams| {
    let mut p = *p;
    p.waker = crate::Waker::Condvar;
    crate::ArcSwapStrategy::new(&p)
});
conformance!(shm_stand_in, |p: &StrategyParams| {
    crate::ShmStrategy::in_process(p, false).unwrap()
});
conformance!(shm_stand_in_waiting, |p: &StrategyParams| {
    let mut p = *p;
    p.slot_policy = crate::SlotPolicy::Wait;
    crate::ShmStrategy::in_process(&p, false).unwrap()
});
conformance!(triple_buffer, crate::TripleBufferStrategy::new);
// iceoryx2's in-process form: producer and readers are ports of one process's node.
#[cfg(feature = "peers")]
conformance!(iceoryx2, |p: &StrategyParams| {
    crate::iceoryx::IceoryxStrategy::in_process(p).unwrap()
});

#[test]
fn pool_drop_policy_counts_refusals() {
    let mut params = crate::StrategyParams::new(FRAME_LEN, 1);
    params.pool_size = 2;
    params.pool_policy = crate::PoolPolicy::Drop;
    let strategy = Arc::new(crate::PoolStrategy::new(&params));
    let mut reader = strategy.clone().reader();
    assert_eq!(strategy.publish(render(1)), Publish::Published(1));
    let held = reader.acquire().unwrap(); // buffer A held by the reader and as latest
    assert_eq!(strategy.publish(render(2)), Publish::Published(2)); // buffer B is latest
    let held_too = reader.acquire().unwrap(); // B held as well
    assert_eq!(strategy.publish(render(3)), Publish::Dropped);
    drop(held);
    assert_eq!(strategy.publish(render(4)), Publish::Published(3));
    drop(held_too);
    let stats = strategy.stats();
    assert_eq!(stats.producer_drops, 1);
    assert_eq!(stats.published, 3);
    assert_eq!(stats.pool_grows, 0);
}

#[test]
fn pool_grow_policy_counts_growth() {
    let mut params = crate::StrategyParams::new(FRAME_LEN, 1);
    params.pool_size = 2; // buffers A and B
    let strategy = Arc::new(crate::PoolStrategy::new(&params));
    let mut reader = strategy.clone().reader();
    strategy.publish(render(1)); // A is latest
    let held = reader.acquire().unwrap(); // and held by the reader
    strategy.publish(render(2)); // B is latest
    strategy.publish(render(3)); // A held, B latest: grow C; B returns to the pool
    strategy.publish(render(4)); // B is free again: no growth
    drop(held);
    strategy.publish(render(5)); // A is free: no growth
    let stats = strategy.stats();
    assert_eq!(stats.producer_drops, 0);
    assert_eq!(stats.pool_grows, 1);
    assert_eq!(stats.frame_allocations, 1);
}

#[test]
fn copy_accounting_matches_the_design_table() {
    let params = crate::StrategyParams::new(FRAME_LEN, 2);
    let mutex = Arc::new(crate::MutexStrategy::new(&params));
    let mut readers = [mutex.clone().reader(), mutex.clone().reader()];
    mutex.publish(render(1));
    for reader in &mut readers {
        assert!(reader.acquire().is_some());
    }
    // 1 copy in + N copies out
    assert_eq!(mutex.stats().bytes_copied, 3 * FRAME_LEN as u64);

    let arcswap = Arc::new(crate::ArcSwapStrategy::new(&params));
    let mut reader = arcswap.clone().reader();
    arcswap.publish(render(1));
    arcswap.publish(render(2));
    drop(reader.acquire());
    let stats = arcswap.stats();
    assert_eq!(stats.bytes_copied, 0);
    assert_eq!(stats.frame_allocations, 2);
}

/// The calling thread's kernel id, to hand to [`until_thread_sleeps`].
pub fn thread_id() -> i32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}

/// Returns once thread `tid` of this process is asleep in the kernel (state `S` in
/// /proc/self/task/<tid>/stat). Callers first gate on the thread's own registration (a
/// sleeper count, a sleeping flag); the next place it can sleep after that is the wait.
pub fn until_thread_sleeps(tid: i32) {
    loop {
        let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap();
        // the state is the first field after the parenthesised command name
        let state = stat.rsplit_once(')').unwrap().1.split_whitespace().next();
        if state == Some("S") {
            return;
        }
        thread::yield_now();
    }
}
