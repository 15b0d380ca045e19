//! What the harness needs to know about a strategy besides its code: its name, a line for
//! `fbench list`, where it comes from, what it copies, whether its consumers are processes
//! and how many frame buffers it holds. These facts live with the strategy (a [`Descriptor`]
//! returned by [`Build::descriptor`] or [`CrossProcess::descriptor`]), never in `match` arms
//! elsewhere, so a strategy written outside fbench is described exactly like a built-in.
//!
//! [`Build`] is how an in-process strategy is constructed from the run's parameters;
//! [`CrossProcess`] is the contract of a strategy whose consumers are separate processes
//! (the producer creates something shared, children attach to it by name). The harness
//! drives both; a user implements one of them for a type and registers it (see the `fbench`
//! crate's `main!`).

use crate::{BuildError, Reader, Strategy, StrategyParams};

/// Where a strategy comes from: decides how `fbench list` marks it and whether `all` runs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Origin {
    /// One of fbench's own designs: in `all`.
    Own,
    /// One of fbench's own designs that `all` leaves out (`queue`: FIFO delivery, a
    /// different question from the latest-value five): listed, run by name.
    Extra,
    /// Another project's design run on the same work: listed `(peer)`, run by name or `peers`.
    Peer,
    /// A design kept to show a failure (e.g. `shm-naive` tears frames): listed, never in `all`.
    Demonstration,
    /// Deliberately broken, to prove a detector works: hidden from `list`, runnable by name.
    Canary,
    /// The reference other strategies are compared with (`ideal`, a minimal latest-value
    /// design run beside them; not a floor): never wins.
    Reference,
    /// A strategy registered by the user's own binary: listed `(custom)`, run by name.
    Custom,
}

impl Origin {
    /// The mark `fbench list` puts before the summary; empty for fbench's own.
    pub fn mark(self) -> &'static str {
        match self {
            Origin::Own | Origin::Extra | Origin::Demonstration => "",
            Origin::Peer => "(peer) ",
            Origin::Canary => "(canary) ",
            Origin::Reference => "(reference) ",
            Origin::Custom => "(custom) ",
        }
    }
}

/// The facts about one strategy. Build one with [`Descriptor::new`] and change what differs
/// from the defaults (a custom, in-process, non-copying strategy holding two frames).
///
/// ```
/// # mod fbench { pub mod strategies { pub use fbench_strategies::*; } }
/// use fbench::strategies::{Descriptor, Origin, StrategyParams};
///
/// let seqlock = Descriptor::new("seqlock", "one buffer, readers copy out and retry on a torn read")
///     .copies_on_acquire()
///     .resident_frames(|params| 2 + params.consumers);
/// assert_eq!(seqlock.origin, Origin::Custom);
/// assert_eq!((seqlock.resident_frames)(&StrategyParams::new(1024, 5)), 7);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Descriptor {
    /// The `--strategy` name: lower case, no commas or spaces.
    pub name: &'static str,
    /// One line for `fbench list`: the design and what it costs.
    pub summary: &'static str,
    pub origin: Origin,
    /// Whether a reader's acquire copies the frame out (its floor is one frame copy) rather
    /// than taking a reference to shared bytes (its floor is a cache line's round trip).
    pub acquire_copies: bool,
    /// Whether the consumers are separate processes (the strategy implements
    /// [`CrossProcess`]).
    pub cross_process: bool,
    /// Frame-sized buffers the strategy holds at worst, including one private copy per
    /// consumer for copying designs: checked against available memory before a run.
    pub resident_frames: fn(&StrategyParams) -> usize,
    /// The strategy-specific run parameters it reads (names of [`StrategyParams`] fields,
    /// e.g. `queue_depth`): a sweep over one of them reruns only the strategies that read it.
    pub parameters: &'static [&'static str],
}

fn two_frames(_: &StrategyParams) -> usize {
    2
}

impl Descriptor {
    /// A custom, in-process strategy that does not copy on acquire and holds two frames.
    pub fn new(name: &'static str, summary: &'static str) -> Descriptor {
        Descriptor {
            name,
            summary,
            origin: Origin::Custom,
            acquire_copies: false,
            cross_process: false,
            resident_frames: two_frames,
            parameters: &[],
        }
    }

    pub fn origin(mut self, origin: Origin) -> Descriptor {
        self.origin = origin;
        self
    }

    /// Readers copy the frame out on acquire.
    pub fn copies_on_acquire(mut self) -> Descriptor {
        self.acquire_copies = true;
        self
    }

    /// Consumers are processes (set by the harness for [`CrossProcess`] strategies).
    pub fn cross_process(mut self) -> Descriptor {
        self.cross_process = true;
        self
    }

    pub fn resident_frames(mut self, frames: fn(&StrategyParams) -> usize) -> Descriptor {
        self.resident_frames = frames;
        self
    }

    /// The strategy-specific parameters it reads (see [`Descriptor::parameters`]).
    pub fn parameters(mut self, names: &'static [&'static str]) -> Descriptor {
        self.parameters = names;
        self
    }
}

/// An in-process strategy the harness can construct by itself from the run's parameters.
///
/// This is all a user implements, beside the contract ([`Strategy`], [`Reader`],
/// [`crate::FrameView`]), to run their own design through fbench; the `fbench` crate's
/// documentation has the smallest complete example, and `examples/custom-strategy` a real one.
pub trait Build: Strategy + Sized {
    /// The strategy's facts; `name` is how `--strategy` selects it.
    fn descriptor() -> Descriptor;
    /// A fresh strategy for one run.
    fn build(params: &StrategyParams) -> Result<Self, BuildError>;
}

/// A strategy whose consumers are separate processes reading something shared (a segment,
/// services of a middleware).
///
/// The producer process creates it under a unique `run` name ([`CrossProcess::create`]) and
/// is its only writer. The harness starts one child process per consumer — the same binary,
/// with a hidden subcommand — which calls [`CrossProcess::attach`] with that name and its
/// consumer id, then waits for the go signal. The producer waits until
/// [`CrossProcess::attached`] counts every consumer, calls [`CrossProcess::go`] with the
/// measured window's start (CLOCK_MONOTONIC ns), which each child's `attach` returns; a child
/// that dies is reaped and [`CrossProcess::reclaim`]ed. Everything the strategy created must
/// be removed when it drops (the harness drops it after every child is reaped, on every
/// path); what a producer killed outright leaves behind, [`CrossProcess::clean`] removes.
///
/// [`crate::start::StartGate`] is the start barrier (`attach`'s wait, `attached`, `go`) as
/// one value to put in the shared memory; [`crate::snapshot`] reads bytes the writer may be
/// rewriting; [`crate::wake`] is the futex waker the built-ins use across processes;
/// [`crate::leftovers`] finds a killed run's segments. `docs/cross-process.md` walks through
/// a complete implementation, `examples/cross-process-strategy` (a seqlock in its own
/// segment).
pub trait CrossProcess: Strategy + Sized {
    /// The reader a consumer process gets by attaching.
    type Attached: Reader + 'static;

    /// The strategy's facts (`cross_process` is set by the harness).
    fn descriptor() -> Descriptor;

    /// Producer side: create the shared resources for `params.consumers` reader processes,
    /// named after `run` (unique per run: `fbench-<pid>-<n>`).
    fn create(params: &StrategyParams, run: &str) -> Result<Self, BuildError>;

    /// Consumer side, in the child: attach to run `run` as consumer `id` (frames of
    /// `frame_len` bytes), announce readiness, block until [`CrossProcess::go`], and return
    /// the reader and the measured window's start.
    fn attach(run: &str, id: usize, frame_len: usize) -> Result<(Self::Attached, u64), String>;

    /// Consumers attached and ready (the start barrier's count).
    fn attached(&self) -> usize;

    /// Release every attached consumer; they measure from `measure_start_ns`.
    fn go(&self, measure_start_ns: u64) -> Result<(), BuildError>;

    /// Consumer `id`'s process has died and been reaped: take back whatever it held.
    /// Returns whether anything was held.
    fn reclaim(&self, id: usize) -> bool;

    /// `fbench clean`: remove what runs of this strategy left behind when their producer
    /// was killed outright (no `Drop` ran) — and nothing a live run still uses — and return
    /// one line per thing removed. The default has nothing to clean. Name what `create`
    /// makes after the run (`<run>-<suffix>`) and [`crate::leftovers::stale_in_shm`] finds
    /// the leftovers; something already gone is not an error (another pass of `fbench
    /// clean` may have removed it).
    fn clean() -> Result<Vec<String>, String> {
        Ok(Vec::new())
    }
}
