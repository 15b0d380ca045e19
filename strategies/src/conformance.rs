//! The conformance suite: written once, run on every built-in strategy and on any user's.
//! Asserts on sequence numbers and bytes only, never on time.
//!
//! A user's test runs all of it in one line, on a type implementing [`crate::Build`]:
//!
//! ```
//! # mod fbench { pub mod strategies { pub use fbench_strategies::*; } }
//! # use fbench_strategies::MutexStrategy as Mine;
//! fbench::strategies::conformance::check::<Mine>();
//! ```
//!
//! or, one `#[test]` per check (so a failure names the property), with any constructor:
//!
//! ```
//! # mod fbench { pub mod strategies { pub use fbench_strategies::*; } }
//! use fbench::strategies::MutexStrategy;
//!
//! fbench::strategies::conformance_tests!(mine, |params| MutexStrategy::build(params).unwrap());
//! # fn main() {}
//! ```
//!
//! Each property is also a public function, and [`run_each`] runs them all and returns what
//! each found instead of panicking (what `fbench conformance` prints).
//!
//! What it checks: nothing is readable before the first publish; the declared delivery
//! (latest value: the newest frame; FIFO: every frame in order, each once);
//! the final frame is still reported after close, then `Closed`; a blocked reader wakes on
//! publish and on close; under a producer that laps many readers (blocking, spinning and
//! polling) no frame is torn and publish numbers only increase; a held frame never changes;
//! a reader that joins late sees the newest frame and only what follows.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use crate::{Delivery, FrameMeta, FrameView, Publish, Reader, Strategy, WaitMode, WaitOutcome};

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
    assert!(
        reader.acquire().is_none(),
        "a frame was readable before the first publish"
    );
    strategy.close();
    assert_eq!(
        reader.wait_newer(0, WaitMode::Block),
        WaitOutcome::Closed,
        "wait_newer(0) after close, nothing published"
    );
}

/// The strategy's declared delivery holds: the newest frame (latest), or every frame in
/// order, each once (FIFO).
pub fn delivers_as_declared<S: Strategy>(strategy: Arc<S>) {
    match strategy.delivery() {
        Delivery::Latest => latest_value_wins(strategy),
        Delivery::Fifo => fifo_in_order(strategy),
    }
}

pub fn latest_value_wins<S: Strategy>(strategy: Arc<S>) {
    let mut reader = strategy.clone().reader();
    for seq in 1..=5 {
        assert_eq!(strategy.publish(render(seq)), Publish::Published(seq));
    }
    assert_eq!(
        reader.wait_newer(0, WaitMode::Block),
        WaitOutcome::Newer(5),
        "wait_newer(0) after 5 publishes"
    );
    let frame = reader.acquire().expect("a frame");
    assert_eq!(
        frame.meta().publish_seq,
        5,
        "acquire after 5 publishes gave another frame"
    );
    assert_eq!(frame.meta().seq, 5);
    assert!(is_whole(&frame), "frame {} is torn", frame.meta().seq);
    drop(frame);
    assert_eq!(
        strategy.stats().published,
        5,
        "stats().published after 5 publishes"
    );
}

/// FIFO: the next frame, oldest first, each once; `wait_newer` reports the head of the queue.
/// Two frames at a time: every queue holds at least two (the default depth).
pub fn fifo_in_order<S: Strategy>(strategy: Arc<S>) {
    let mut reader = strategy.clone().reader();
    assert_eq!(strategy.publish(render(1)), Publish::Published(1));
    assert_eq!(strategy.publish(render(2)), Publish::Published(2));
    let mut last = 0;
    for expected in 1..=2 {
        assert_eq!(
            reader.wait_newer(last, WaitMode::Block),
            WaitOutcome::Newer(expected)
        );
        let frame = reader.acquire().expect("a queued frame");
        assert_eq!(frame.meta().publish_seq, expected);
        assert_eq!(frame.meta().seq, expected);
        assert!(is_whole(&frame), "frame {expected} is torn");
        last = expected;
    }
    assert!(reader.acquire().is_none(), "each frame once");
    assert_eq!(strategy.publish(render(3)), Publish::Published(3));
    assert_eq!(reader.wait_newer(2, WaitMode::Spin), WaitOutcome::Newer(3));
    assert_eq!(reader.acquire().unwrap().meta().publish_seq, 3);
    assert!(reader.acquire().is_none(), "a FIFO frame delivered twice");
    assert_eq!(
        strategy.stats().published,
        3,
        "stats().published after 3 publishes"
    );
}

pub fn closed_still_reports_final_frame<S: Strategy>(strategy: Arc<S>) {
    let mut reader = strategy.clone().reader();
    strategy.publish(render(1));
    strategy.publish(render(2));
    strategy.close();
    if strategy.delivery() == Delivery::Fifo {
        // Both queued frames come out after the close, in order, then Closed.
        assert_eq!(reader.wait_newer(0, WaitMode::Block), WaitOutcome::Newer(1));
        assert_eq!(reader.acquire().unwrap().meta().publish_seq, 1);
    }
    assert_eq!(
        reader.wait_newer(1, WaitMode::Spin),
        WaitOutcome::Newer(2),
        "the final frame after close"
    );
    assert_eq!(
        reader.wait_newer(2, WaitMode::Block),
        WaitOutcome::Closed,
        "wait_newer past the final frame after close"
    );
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
        // Taken, as the consumer loop does (a FIFO reader's queue still holds it otherwise).
        assert_eq!(
            reader.acquire().map(|f| f.meta().publish_seq),
            Some(1),
            "acquire after waking on publish 1"
        );
        let second = reader.wait_newer(1, WaitMode::Block);
        (first, second)
    });
    // Give the reader time to fall asleep; correctness does not depend on it (the
    // handshake covers both orders), it only makes the interesting order likely.
    thread::sleep(Duration::from_millis(20));
    strategy.publish(render(1));
    thread::sleep(Duration::from_millis(20));
    strategy.close();
    let (first, second) = joined(waiting);
    assert_eq!(
        first,
        WaitOutcome::Newer(1),
        "a blocked reader woken by publish 1"
    );
    assert_eq!(
        second,
        WaitOutcome::Closed,
        "a blocked reader woken by close"
    );
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
                    let frame = reader.acquire().unwrap_or_else(|| {
                        panic!(
                            "reader {id} found nothing to acquire after a newer frame was reported"
                        )
                    });
                    let seq = frame.meta().publish_seq;
                    assert!(seq > last, "reader {id} saw publish seq {seq} after {last}");
                    assert!(is_whole(&frame), "reader {id} saw a torn frame (seq {seq})");
                    for _ in 0..(id % 3) * 50 {
                        std::hint::spin_loop();
                    }
                    assert!(
                        is_whole(&frame),
                        "reader {id} saw frame {seq} change while held"
                    );
                    assert_eq!(
                        frame.meta().publish_seq,
                        seq,
                        "reader {id}: a held frame's publish seq changed"
                    );
                    last = seq;
                    seen += 1;
                }
                (last, seen)
            })
        })
        .collect();
    let fifo = strategy.delivery() == Delivery::Fifo;
    start.wait();
    let mut published = 0;
    for seq in 1..=frames {
        if let Publish::Published(p) = strategy.publish(render(seq)) {
            published = p;
        }
    }
    strategy.close();
    let ends: Vec<_> = handles.into_iter().map(joined).collect();
    // After the joins: a broadcast reader counts its own lag.
    let queues = strategy.queue_stats();
    for (id, (last, seen)) in ends.into_iter().enumerate() {
        assert!(seen >= 1, "reader {id} saw no frame");
        if fifo {
            // Every frame reached the reader or was discarded by policy, and counted so.
            let dropped = queues.as_ref().map_or(0, |q| q[id].dropped_by_policy);
            assert_eq!(
                seen + dropped,
                published,
                "reader {id}: seen + dropped (last {last})"
            );
        } else {
            assert_eq!(
                last, published,
                "reader {id} ended on publish seq {last}, not the final frame"
            );
        }
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
        assert_eq!(
            frame.meta().seq,
            1,
            "a held frame's header changed while the producer published"
        );
        assert!(
            is_whole(&frame),
            "a held frame (seq 1) changed while the producer published"
        );
        thread::yield_now();
    }
    drop(frame);
    stop.store(true, Ordering::Relaxed);
    // A producer waiting for room in this reader's queue (queue, block) is freed by the
    // reader going away.
    drop(reader);
    joined(producer);
}

/// A reader created after frames were published sees the newest one, then only newer ones.
pub fn late_reader_sees_newest<S: Strategy>(strategy: Arc<S>) {
    for seq in 1..=3 {
        strategy.publish(render(seq));
    }
    let mut reader = strategy.clone().reader();
    let newest = match strategy.delivery() {
        // Taken at once, without waiting: a strategy that breaks this fails the check
        // instead of blocking the suite.
        Delivery::Latest => {
            let frame = reader
                .acquire()
                .expect("a late reader takes the newest frame already published");
            let newest = frame.meta().publish_seq;
            assert_eq!(newest, 3, "the newest frame");
            assert!(is_whole(&frame), "a late reader's frame {newest} is torn");
            newest
        }
        // A FIFO reader's queue starts empty: it gets what is published after it joined.
        Delivery::Fifo => {
            assert!(reader.acquire().is_none(), "nothing queued before joining");
            3
        }
    };
    strategy.publish(render(4));
    strategy.close();
    assert!(
        matches!(reader.wait_newer(newest, WaitMode::Block), WaitOutcome::Newer(n) if n > newest),
        "a late reader was not told of the frame published after it joined"
    );
    let frame = reader.acquire().expect("the frame after joining");
    assert_eq!(frame.meta().seq, 4, "a late reader's next frame");
    assert!(is_whole(&frame), "a late reader's frame 4 is torn");
}

/// Joins a thread a check started. A panic there (a reader's failed assertion) continues in
/// the caller, so the check fails with the reader's own message, not a `JoinError`.
fn joined<T>(handle: thread::JoinHandle<T>) -> T {
    handle
        .join()
        .unwrap_or_else(|payload| std::panic::resume_unwind(payload))
}

/// One property of the contract: its name (what `fbench conformance` prints, and the name of
/// its `#[test]` in [`conformance_tests!`](crate::conformance_tests)) and its check, which
/// panics with the reason when the strategy breaks the property.
pub struct Property<S> {
    pub name: &'static str,
    pub check: fn(Arc<S>),
}

/// Every property, in the order the suite runs them.
///
/// ```
/// # mod fbench { pub mod strategies { pub use fbench_strategies::*; } }
/// use fbench::strategies::{conformance, MutexStrategy};
///
/// let names: Vec<_> = conformance::properties::<MutexStrategy>().iter().map(|p| p.name).collect();
/// assert_eq!(names[0], "nothing_before_first_publish");
/// assert!(names.contains(&"no_torn_frames_and_monotonic"));
/// ```
pub fn properties<S: Strategy>() -> [Property<S>; 7] {
    [
        Property {
            name: "nothing_before_first_publish",
            check: nothing_before_first_publish::<S>,
        },
        Property {
            name: "delivers_as_declared",
            check: delivers_as_declared::<S>,
        },
        Property {
            name: "closed_still_reports_final_frame",
            check: closed_still_reports_final_frame::<S>,
        },
        Property {
            name: "blocking_wait_wakes_on_publish",
            check: blocking_wait_wakes_on_publish::<S>,
        },
        Property {
            name: "no_torn_frames_and_monotonic",
            check: |strategy| no_torn_frames_and_monotonic(strategy, 8, 3000),
        },
        Property {
            name: "held_frame_never_changes",
            check: held_frame_never_changes::<S>,
        },
        Property {
            name: "late_reader_sees_newest",
            check: late_reader_sees_newest::<S>,
        },
    ]
}

/// What one property's check found: `Err` holds the first failure's reason on one line
/// (e.g. `reader 3 saw a torn frame (seq 1841)`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub property: &'static str,
    pub result: Result<(), String>,
}

/// Every property, each on a fresh strategy from `make` (frames of [`FRAME_LEN`] bytes, a
/// hint of 8 consumers), and what each found. A failed check (in the calling thread or in
/// one of the reader threads it started) and a `make` that panics are failures of that
/// property; the others still run.
///
/// ```
/// # mod fbench { pub mod strategies { pub use fbench_strategies::*; } }
/// use fbench::strategies::{conformance, Build, MutexStrategy};
///
/// let outcomes = conformance::run_each(|params| MutexStrategy::build(params).unwrap());
/// assert_eq!(outcomes.len(), 7);
/// assert!(outcomes.iter().all(|o| o.result.is_ok()), "{outcomes:?}");
/// ```
pub fn run_each<S: Strategy>(make: impl Fn(&crate::StrategyParams) -> S) -> Vec<Outcome> {
    let params = crate::StrategyParams::new(FRAME_LEN, 8);
    properties::<S>()
        .into_iter()
        .map(|property| {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                (property.check)(Arc::new(make(&params)))
            }))
            .map_err(|payload| reason(&*payload));
            Outcome {
                property: property.name,
                result,
            }
        })
        .collect()
}

/// A panic's message on one line (`assert_eq!` spreads its operands over several).
fn reason(payload: &(dyn std::any::Any + Send)) -> String {
    let text = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("the check panicked without a message");
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every check, each on a fresh strategy from `make` (see [`run_each`]). Panics with the
/// first failed property's name and reason.
pub fn check_with<S: Strategy>(make: impl Fn(&crate::StrategyParams) -> S) {
    if let Some(failed) = run_each(make).into_iter().find(|o| o.result.is_err()) {
        panic!("{}: {}", failed.property, failed.result.unwrap_err());
    }
}

/// Every check on strategies built by [`crate::Build::build`].
pub fn check<S: crate::Build>() {
    check_with(|params| S::build(params).expect("the strategy builds"))
}

/// One `#[test]` per conformance check, in a module named `$module`, on strategies made by
/// `$make` (a closure or function taking `&StrategyParams`). The module sees the caller's
/// imports, and [`Build`](crate::Build) is in scope, so `Mine::build(params)` needs no import.
///
/// ```
/// # mod fbench { pub mod strategies { pub use fbench_strategies::*; } }
/// mod my_crate {
/// #   pub use fbench_strategies::MutexStrategy as Mine;
///     // pub struct Mine { ... } implementing fbench::strategies::Build
/// }
///
/// fbench::strategies::conformance_tests!(mine, |params| my_crate::Mine::build(params).unwrap());
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! conformance_tests {
    ($module:ident, $make:expr) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            // `Mine::build(params)` resolves without the caller importing the trait.
            use $crate::conformance as suite;
            #[allow(unused_imports)]
            use $crate::Build as _;

            fn make() -> ::std::sync::Arc<impl $crate::Strategy> {
                let params = $crate::StrategyParams::new(suite::FRAME_LEN, 8);
                #[allow(clippy::redundant_closure_call)]
                ::std::sync::Arc::new(($make)(&params))
            }

            #[test]
            fn nothing_before_first_publish() {
                suite::nothing_before_first_publish(make());
            }
            #[test]
            fn delivers_as_declared() {
                suite::delivers_as_declared(make());
            }
            #[test]
            fn closed_still_reports_final_frame() {
                suite::closed_still_reports_final_frame(make());
            }
            #[test]
            fn blocking_wait_wakes_on_publish() {
                suite::blocking_wait_wakes_on_publish(make());
            }
            #[test]
            fn no_torn_frames_and_monotonic() {
                suite::no_torn_frames_and_monotonic(make(), 8, 3000);
            }
            #[test]
            fn held_frame_never_changes() {
                suite::held_frame_never_changes(make());
            }
            #[test]
            fn late_reader_sees_newest() {
                suite::late_reader_sees_newest(make());
            }
        }
    };
}

/// The calling thread's kernel id, to hand to [`until_thread_sleeps`].
pub fn thread_id() -> i32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}

/// Returns once thread `tid` of this process is asleep in the kernel (state `S` in
/// `/proc/self/task/<tid>/stat`). Callers first gate on the thread's own registration (a
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

#[cfg(test)]
mod builtins {
    use super::*;
    use crate::{conformance_tests as conformance, StrategyParams};

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
    conformance!(shm_stand_in, |p: &StrategyParams| {
        crate::ShmStrategy::in_process(p, false).unwrap()
    });
    conformance!(shm_stand_in_waiting, |p: &StrategyParams| {
        let mut p = *p;
        p.slot_policy = crate::SlotPolicy::Wait;
        crate::ShmStrategy::in_process(&p, false).unwrap()
    });
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
    conformance!(queue_block, crate::QueueStrategy::new);
    conformance!(queue_oldest, |p: &StrategyParams| {
        let mut p = *p;
        p.drop_policy = crate::DropPolicy::Oldest;
        crate::QueueStrategy::new(&p)
    });
    conformance!(queue_newest, |p: &StrategyParams| {
        let mut p = *p;
        p.drop_policy = crate::DropPolicy::Newest;
        crate::QueueStrategy::new(&p)
    });
    conformance!(broadcast, crate::BroadcastStrategy::new);
    conformance!(ideal, crate::IdealStrategy::new);

    // The peer breaks one property, by design of the crate: a reader created after frames were
    // published has an empty buffer until the next publish (module doc of `triple`). Every
    // other check runs; the deviation itself is asserted, so a change in it is noticed.
    mod triple_buffer {
        use super::*;

        fn make() -> Arc<crate::TripleBufferStrategy> {
            Arc::new(crate::TripleBufferStrategy::new(&StrategyParams::new(
                FRAME_LEN, 8,
            )))
        }

        #[test]
        fn every_check_but_the_late_reader() {
            nothing_before_first_publish(make());
            latest_value_wins(make());
            closed_still_reports_final_frame(make());
            blocking_wait_wakes_on_publish(make());
            no_torn_frames_and_monotonic(make(), 8, 3000);
            held_frame_never_changes(make());
        }

        #[test]
        fn a_late_reader_sees_nothing_until_the_next_publish() {
            let strategy = make();
            strategy.publish(render(1));
            let mut reader = strategy.clone().reader();
            assert!(reader.acquire().is_none());
            strategy.publish(render(2));
            assert_eq!(reader.acquire().expect("the next frame").meta().seq, 2);
        }
    }
    // iceoryx2's in-process form: producer and readers are ports of one process's node. Like
    // triple-buffer it breaks the late-reader property by configuration (no history: a
    // subscriber sees what is published after it subscribed, see `iceoryx`); every other
    // check runs.
    #[cfg(feature = "peers")]
    mod iceoryx2 {
        use super::*;

        fn make() -> Arc<crate::iceoryx::IceoryxStrategy> {
            let params = StrategyParams::new(FRAME_LEN, 8);
            Arc::new(crate::iceoryx::IceoryxStrategy::in_process(&params).unwrap())
        }

        #[test]
        fn every_check_but_the_late_reader() {
            nothing_before_first_publish(make());
            delivers_as_declared(make());
            closed_still_reports_final_frame(make());
            blocking_wait_wakes_on_publish(make());
            no_torn_frames_and_monotonic(make(), 8, 3000);
            held_frame_never_changes(make());
        }
    }

    // Zenoh's in-process form: readers are subscribers on the producer's own session, so
    // samples are delivered locally (for `zenoh`, as references to the shared-memory chunk).
    // No history either, so every check but the late reader's runs, as for iceoryx2.
    #[cfg(feature = "net")]
    mod zenoh {
        use super::*;
        use crate::zenoh::{Transport, ZenohStrategy};

        fn checks(transport: Transport) {
            let make = || {
                let params = StrategyParams::new(FRAME_LEN, 8);
                Arc::new(ZenohStrategy::in_process(&params, transport).unwrap())
            };
            nothing_before_first_publish(make());
            delivers_as_declared(make());
            closed_still_reports_final_frame(make());
            blocking_wait_wakes_on_publish(make());
            no_torn_frames_and_monotonic(make(), 8, 3000);
            held_frame_never_changes(make());
        }

        #[test]
        fn shared_memory_every_check_but_the_late_reader() {
            checks(Transport::Shm);
        }

        #[test]
        fn tcp_every_check_but_the_late_reader() {
            checks(Transport::Tcp);
        }
    }

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
}
