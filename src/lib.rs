//! fbench as a library: the whole `fbench` command line for any binary, with the binary's
//! own strategies registered beside the built-ins.
//!
//! The `fbench` binary is `fbench::main!();`. A user crate measures its own design the same
//! way: implement the strategy contract ([`strategies::Strategy`], [`strategies::Reader`],
//! [`strategies::FrameView`]) and [`strategies::Build`] for a type, and give a bench target
//! (`[[bench]] harness = false`) this one line:
//!
//! ```
//! fbench::main!(fbench_custom_strategy::DoubleBuffer); // examples/custom-strategy's type
//! ```
//!
//! Then `cargo bench --bench NAME -- run --strategy mine,pool` runs it beside `pool` through
//! the same sources, consumers, metrics, reports and gates (`fbench list` marks it
//! `(custom)`; the reports are ordinary fbench reports). A strategy whose consumers are
//! processes implements [`strategies::CrossProcess`] instead and is registered with
//! `main!(; cross_process: MyShm)`.
//!
//! The smallest complete custom strategy — one buffer behind a mutex, a private copy per
//! reader — run through the whole tool:
//!
//! ```
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use std::sync::{Arc, Mutex};
//! use fbench::strategies::{
//!     Build, BuildError, Descriptor, FrameMeta, FrameView, Notifier, Publish, Reader,
//!     Strategy, StrategyParams, StrategyStats, WaitMode, WaitOutcome,
//! };
//!
//! pub struct Copying {
//!     frame: Mutex<(FrameMeta, Vec<u8>)>,
//!     notifier: Notifier,
//!     /// Relaxed: a tally, read after the run's threads were joined.
//!     bytes_copied: AtomicU64,
//! }
//!
//! pub struct CopyingReader {
//!     strategy: Arc<Copying>,
//!     copy: (FrameMeta, Vec<u8>),
//! }
//!
//! pub struct Held<'a>(&'a (FrameMeta, Vec<u8>));
//!
//! impl FrameView for Held<'_> {
//!     fn meta(&self) -> &FrameMeta { &self.0 .0 }
//!     fn bytes(&self) -> &[u8] { &self.0 .1 }
//! }
//!
//! impl Reader for CopyingReader {
//!     type Frame<'a> = Held<'a>;
//!     fn wait_newer(&mut self, after: u64, mode: WaitMode) -> WaitOutcome {
//!         self.strategy.notifier.wait_newer(after, mode)
//!     }
//!     fn acquire(&mut self) -> Option<Held<'_>> {
//!         let frame = self.strategy.frame.lock().unwrap();
//!         if frame.0.publish_seq == 0 {
//!             return None;
//!         }
//!         self.copy.0 = frame.0;
//!         self.copy.1.clear();
//!         self.copy.1.extend_from_slice(&frame.1);
//!         self.strategy.bytes_copied.fetch_add(frame.1.len() as u64, Ordering::Relaxed);
//!         Some(Held(&self.copy))
//!     }
//! }
//!
//! impl Strategy for Copying {
//!     type Reader = CopyingReader;
//!     fn name(&self) -> &'static str { "copying" }
//!     fn publish<F: FnOnce(&mut [u8]) -> FrameMeta>(&self, render: F) -> Publish {
//!         let mut frame = self.frame.lock().unwrap();
//!         let seq = self.notifier.next_seq();
//!         frame.0 = FrameMeta { publish_seq: seq, ..render(&mut frame.1) };
//!         drop(frame);
//!         // Rendered in place into the shared buffer: nothing copied on this side.
//!         self.notifier.announce(seq);
//!         Publish::Published(seq)
//!     }
//!     fn reader(self: Arc<Self>) -> CopyingReader {
//!         CopyingReader { strategy: self, copy: (FrameMeta::default(), Vec::new()) }
//!     }
//!     fn close(&self) { self.notifier.close() }
//!     fn stats(&self) -> StrategyStats {
//!         // `published` and `lost_wakeups` from the notifier; what only the strategy knows
//!         // (here: one copy in per frame, one copy out per acquire) from its own tally.
//!         let bytes_copied = self.bytes_copied.load(Ordering::Relaxed);
//!         self.notifier.stats_with(StrategyStats { bytes_copied, ..StrategyStats::default() })
//!     }
//! }
//!
//! impl Build for Copying {
//!     fn descriptor() -> Descriptor {
//!         Descriptor::new("copying", "one buffer behind a std mutex; readers copy out")
//!             .copies_on_acquire()
//!             .resident_frames(|p| 1 + p.consumers)
//!     }
//!     fn build(params: &StrategyParams) -> Result<Self, BuildError> {
//!         Ok(Copying {
//!             frame: Mutex::new((FrameMeta::default(), vec![0; params.frame_len])),
//!             // The run's waker (`--waker futex|condvar`), as every built-in uses it.
//!             notifier: Notifier::with_waker(params.waker),
//!             bytes_copied: AtomicU64::new(0),
//!         })
//!     }
//! }
//!
//! // The conformance suite, as a user's test would run it:
//! fbench::strategies::conformance::check::<Copying>();
//!
//! // And a short run through the harness, as `--strategy copying` would do it:
//! let mut registry = fbench::harness::Registry::builtin();
//! registry.register::<Copying>().unwrap();
//! let mut config = fbench::harness::RunConfig::default_config();
//! config.frame.resolution = fbench::harness::frame::Resolution::new(64, 48);
//! config.duration = std::time::Duration::from_millis(200);
//! config.warmup = std::time::Duration::from_millis(50);
//! config.consumers = 2;
//! config.waker = fbench::strategies::Waker::Condvar; // reaches the strategy: params.waker
//! let result = registry.get("copying").unwrap().run(&config, &mut |_| {}).unwrap();
//! assert_eq!(result.torn_frames, 0);
//! assert!(result.per_consumer.iter().all(|c| c.frames_seen > 0));
//! assert!(result.copies.bytes_copied > 0);
//! ```
//!
//! A binary using this library gets the counting allocator `main!` installs (heap
//! allocations are a reported figure).

pub use fbench_harness as harness;
pub use fbench_reports as reports;
pub use fbench_strategies as strategies;

/// Bring your own consumer: the consumer library a user's own process links to be a consumer
/// of a cross-process run (`fbench run --strategy shm --consumer-cmd ./my-consumer`),
/// measured by the same definitions as fbench's own consumers (age from the due time,
/// acquire, end-to-end, loss from sequence gaps, integrity stamps verified on acquire and
/// before release). The Python package in `python/` is the same code.
///
/// ```no_run
/// let mut consumer = fbench::consumer::Consumer::from_env().unwrap_or_else(|e| {
///     eprintln!("error: {e}");
///     std::process::exit(2)
/// });
/// let shape = consumer.info().shape(); // e.g. [1080, 1920, 3] for 1080p rgb24
/// while let Some(frame) = consumer.next_frame() {
///     let bytes = frame.bytes(); // read in place, zero-copy; released when `frame` drops
///     assert_eq!(bytes.len(), shape.iter().product::<usize>());
/// }
/// consumer.finish().expect("the report reaches the harness");
/// ```
pub mod consumer {
    pub use fbench_harness::runner::external::{
        Consumer, ConsumerCommand, ConsumerError, Frame, RunInfo, ENV_CONSUMER, ENV_REPORT_FD,
    };
}

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches};

use fbench_harness::registry::{self, Registry};
use fbench_reports::BuildInfo;
use fbench_strategies::{Origin, StrategyKind};

/// The Rust blocks of the README and the guides, compiled as doc tests: what a user pastes
/// builds as shown (tests/user_docs.rs checks that every Markdown file with one is here).
#[cfg(doctest)]
mod user_docs {
    #[doc = include_str!("../README.md")]
    mod readme {}
    #[doc = include_str!("../docs/cross-process.md")]
    mod cross_process {}
}

mod calibrate;
mod capacity;
mod cli;
mod conformance;
mod flags;
mod gate;
mod input;
mod output;
mod report_cmd;
mod scenarios;
mod schedule;
mod soak;
mod source;
mod stdio;
mod sweep;
mod trial;

pub(crate) use output::{output_path, parent_dir, writable_file, write_atomically, write_exports};

use cli::{Cli, Command, RunArgs};

/// Give a binary the whole fbench command line, with its own strategies registered beside
/// the built-ins: `fbench::main!();`, `fbench::main!(Mine, Other);`, or with cross-process
/// strategies `fbench::main!(Mine; cross_process: MyShm);`. Each in-process type implements
/// [`strategies::Build`], each cross-process one [`strategies::CrossProcess`]. It defines
/// `main` and installs fbench's counting allocator (a binary that has its own global
/// allocator calls [`main_with`] instead, and reports no allocation counts).
#[macro_export]
macro_rules! main {
    ($($strategy:ty),* $(,)? $(; cross_process: $($shared:ty),+ $(,)?)?) => {
        #[global_allocator]
        static FBENCH_ALLOCATOR: $crate::harness::alloc::CountingAllocator =
            $crate::harness::alloc::CountingAllocator;

        fn main() -> ::std::process::ExitCode {
            $crate::harness::alloc::CountingAllocator::mark_installed();
            #[allow(unused_mut)]
            let mut registry = $crate::harness::Registry::builtin();
            $(
                if let Err(err) = registry.register::<$strategy>() {
                    eprintln!("error: {err}");
                    return ::std::process::ExitCode::from(2);
                }
            )*
            $($(
                if let Err(err) = registry.register_cross_process::<$shared>() {
                    eprintln!("error: {err}");
                    return ::std::process::ExitCode::from(2);
                }
            )+)?
            $crate::main_with(registry)
        }
    };
}

/// Exit code for a user mistake (bad flag, bad path); 1 is left for failures at run time.
const EXIT_USAGE: u8 = 2;

/// A mistake in what the user asked for: one line, exit code 2.
#[derive(Debug)]
struct UsageError(String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// The user pressed Ctrl-C or sent SIGTERM, SIGHUP or SIGQUIT: the run stopped and cleaned
/// up. Nothing was written, unless the command says what it kept (capacity writes the
/// searches resolved so far, marked partial).
#[derive(Debug, Default)]
struct Interrupted {
    kept: Option<&'static str>,
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Which signal: a SIGHUP in a log says the ssh session went, not that someone pressed
        // Ctrl-C.
        let by = fbench_harness::interrupt::signal_name()
            .map(|signal| format!(" by {signal}"))
            .unwrap_or_default();
        match self.kept {
            Some(kept) => write!(f, "interrupted{by}: {kept}"),
            None => write!(f, "interrupted{by}: nothing was written"),
        }
    }
}

impl std::error::Error for Interrupted {}

/// A run process already said what went wrong on stderr (e.g. /dev/shm too small, exit 2):
/// fbench exits with its code and adds no line of its own.
#[derive(Debug)]
struct AlreadyReported {
    code: u8,
}

impl std::fmt::Display for AlreadyReported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a run process exited with code {}", self.code)
    }
}

impl std::error::Error for AlreadyReported {}

/// Exit code after SIGINT/SIGTERM/SIGHUP/SIGQUIT, as shells report a process killed by
/// SIGINT: one code for "stopped on request, cleaned up", whichever signal it was.
const EXIT_INTERRUPTED: u8 = 130;

/// The shared-memory segment of a run did not fit in /dev/shm, wherever in `err`'s chain.
pub(crate) fn shm_space_shortage(
    err: &anyhow::Error,
) -> Option<&fbench_strategies::shm::SegmentError> {
    use fbench_strategies::shm::SegmentError;
    use fbench_strategies::BuildError;
    err.chain().find_map(|cause| {
        let segment = match cause.downcast_ref::<fbench_harness::RunError>()? {
            fbench_harness::RunError::Segment(segment)
            | fbench_harness::RunError::Build(BuildError::Segment(segment)) => segment,
            _ => return None,
        };
        matches!(segment, SegmentError::NoSpace { .. }).then_some(segment)
    })
}

/// `fbench clean`: remove the segments whose creator is gone (nobody holds their lock).
fn clean() -> anyhow::Result<()> {
    let stale = fbench_strategies::shm::stale_segments();
    for path in &stale {
        std::fs::remove_file(path).with_context(|| format!("removing {}", path.display()))?;
        println!("removed {}", path.display());
    }
    if stale.is_empty() {
        println!(
            "no stale fbench segments in {}",
            fbench_strategies::shm::SHM_DIR
        );
    }
    clean_iceoryx2()?;
    clean_net();
    clean_hooks()?;
    Ok(())
}

/// `fbench clean`, the registered strategies' part: each cross-process strategy's own clean
/// hook (`CrossProcess::clean`), so a user's strategy removes what its killed runs left.
fn clean_hooks() -> anyhow::Result<()> {
    for strategy in registry::current().entries() {
        let removed = strategy
            .clean()
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("cleaning up after killed runs of {}", strategy.name()))?;
        for line in removed {
            println!("{}: removed {line}", strategy.name());
        }
    }
    Ok(())
}

/// `fbench clean`, `--remote netns`'s part: namespaces (and with them their veth pairs) of
/// runs killed outright. (The zenoh strategies' own leftovers go through their clean hook.)
fn clean_net() {
    let removed = fbench_harness::remote::clean_stale();
    if removed > 0 {
        println!("removed {removed} network namespace(s) of dead fbench runs");
    }
}

/// `fbench clean`, iceoryx2's part: the resources of dead `fbench-…` nodes.
#[cfg(feature = "peers")]
fn clean_iceoryx2() -> anyhow::Result<()> {
    let cleaned = fbench_strategies::iceoryx::clean_dead_nodes()
        .context("cleaning up after killed iceoryx2 runs")?;
    if cleaned > 0 {
        println!("removed the iceoryx2 resources of {cleaned} dead fbench node(s)");
    }
    Ok(())
}

#[cfg(not(feature = "peers"))]
fn clean_iceoryx2() -> anyhow::Result<()> {
    Ok(())
}

/// The fbench command line over `registry`: parse the process's arguments, run the
/// command, return its exit code (0 ok, 1 runtime failure, 2 usage, 3 gate failed, 4 gate
/// inconclusive, 130 interrupted). A trailing `--bench`, which `cargo bench` appends, is ignored, so a bench
/// target (`harness = false`) can be the command line.
pub fn main_with(registry: Registry) -> ExitCode {
    registry::install(registry);
    // SAFETY: called first, before any other thread exists; restoring the default SIGPIPE
    // disposition makes `fbench … | head` end quietly as Unix tools do, instead of the Rust
    // runtime's ignored SIGPIPE turning into a panic on the next print.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    fixed_mmap_threshold();
    let raw: Vec<std::ffi::OsString> = std::env::args_os().filter(|arg| arg != "--bench").collect();
    // The flags the user typed (not the scenario's): validation errors name them as flags.
    let typed = Cli::command()
        .try_get_matches_from(&raw)
        .ok()
        .map(|m| explicit_args(&m));
    let args = match scenarios::with_scenario(raw) {
        Ok(args) => args,
        Err(usage) => {
            eprintln!("error: {usage}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let matches = match Cli::command().try_get_matches_from(args) {
        Ok(matches) => matches,
        Err(err) => return clap_error(err),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(err) => return clap_error(err),
    };
    let explicit = typed.unwrap_or_else(|| explicit_args(&matches));
    // Where stdout or stderr is a pipe, a reader that leaves early (`| head -1`) must not
    // cost the files the command writes (see `stdio`); dropped last, after the exit line.
    // A consumer's and a run child's stdout is their result, read whole by their parent.
    let _stdio = match cli.command {
        Command::Consumer(_) | Command::Trial(_) => None,
        _ => stdio::guard(),
    };
    let outcome = match cli.command {
        Command::Run(args) => run(*args, &explicit),
        Command::Clean => clean(),
        Command::Consumer(args) => return consumer(args),
        Command::Trial(args) => return trial::child_main(*args),
        Command::Sweep(args) => sweep::sweep(*args, &explicit),
        Command::Soak(args) => soak::soak(*args, &explicit),
        Command::Report(args) => report_cmd::report(args),
        Command::Calibrate(args) => calibrate::command(args),
        Command::Gate(args) => gate::command(args),
        Command::Conformance(args) => conformance::command(args),
        Command::Capacity(args) => capacity::command(*args, &explicit),
        Command::List { what } if what == "sources" => source::list(),
        Command::List { what } => list(&what),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.downcast_ref::<AlreadyReported>().is_some() => {
            let code = err.downcast_ref::<AlreadyReported>().map_or(1, |r| r.code);
            ExitCode::from(code)
        }
        Err(err) if err.downcast_ref::<Interrupted>().is_some() => {
            eprintln!("{err}");
            ExitCode::from(EXIT_INTERRUPTED)
        }
        Err(err) => match err.downcast_ref::<UsageError>() {
            Some(usage) => {
                eprintln!("error: {usage}");
                ExitCode::from(EXIT_USAGE)
            }
            None if shm_space_shortage(&err).is_some() => {
                // Too little room in /dev/shm is the user's machine limit, named with what
                // would fit: a usage error, not a failure of fbench.
                let shortage = shm_space_shortage(&err).expect("just checked");
                eprintln!("error: {shortage}");
                ExitCode::from(EXIT_USAGE)
            }
            None if err.is::<gate::GateFailed>() => {
                eprintln!("{err}");
                ExitCode::from(gate::EXIT_GATE_FAILED)
            }
            None if err.is::<gate::GateInconclusive>() => {
                eprintln!("{err}");
                ExitCode::from(gate::EXIT_GATE_INCONCLUSIVE)
            }
            None => {
                eprintln!("error: {err:#}");
                ExitCode::FAILURE
            }
        },
    }
}

/// clap's help and version go out whole; its errors are cut to their first line, which
/// names the flag and what is accepted.
fn clap_error(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = err.print();
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // `fbench` alone: one line naming what is accepted, not the whole help.
            let commands: Vec<String> = Cli::command()
                .get_subcommands()
                .filter(|c| !c.is_hide_set())
                .map(|c| c.get_name().to_string())
                .collect();
            eprintln!(
                "error: no command given; accepted: {} (fbench --help describes them)",
                commands.join(", ")
            );
            ExitCode::from(EXIT_USAGE)
        }
        _ => {
            let rendered = err.render().to_string();
            let line = rendered
                .lines()
                .next()
                .unwrap_or("error: invalid arguments");
            eprintln!("{line}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// Frame-sized allocations always come from (and go back to) mmap. glibc otherwise raises
/// its mmap threshold after the first large free and keeps later frames in the heap, so
/// one run's freed frames would sit in the next run's memory figures.
fn fixed_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; it is called before any other thread
    // exists, and M_MMAP_THRESHOLD with a positive value is a documented, valid setting.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}

/// Ids of the subcommand's arguments given on the command line (not defaults): these
/// replace a scenario's values, and errors about them name the flag, not the scenario.
fn explicit_args(matches: &clap::ArgMatches) -> Vec<String> {
    let Some((_, sub)) = matches.subcommand() else {
        return Vec::new();
    };
    sub.ids()
        .filter(|id| sub.value_source(id.as_str()) == Some(clap::parser::ValueSource::CommandLine))
        .map(|id| id.to_string())
        .collect()
}

fn list(what: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if what == "scenarios" {
        for (name, description) in scenarios::list() {
            writeln!(out, "{name:<15} {description}")?;
        }
        return Ok(());
    }
    let registry = registry::current();
    // fbench's own first, then the peers, then the binary's own; the canary stays hidden.
    let order = [
        Origin::Reference,
        Origin::Own,
        Origin::Extra,
        Origin::Demonstration,
        Origin::Peer,
        Origin::Custom,
    ];
    for origin in order {
        for entry in registry.entries().iter().filter(|e| e.origin() == origin) {
            let d = entry.descriptor();
            writeln!(out, "{:<13} {}{}", d.name, origin.mark(), d.summary)?;
        }
        if origin == Origin::Peer {
            for kind in StrategyKind::PEERS.into_iter().filter(|k| !k.is_built()) {
                let d = kind.descriptor();
                writeln!(
                    out,
                    "{:<13} {}{} [not in this build: --features peers]",
                    d.name,
                    origin.mark(),
                    d.summary
                )?;
            }
        }
    }
    Ok(())
}

/// The hidden subcommand a consumer process runs (see harness::runner::process).
fn consumer(args: cli::ConsumerArgs) -> ExitCode {
    let spec = fbench_harness::runner::ConsumerSpec {
        id: args.id,
        workload: args.workload,
        wait: args.wait.0,
        verify: args.verify,
        deadline_ns: args.deadline_ns,
        frame_len: args.frame_len,
        faults: args.faults,
        interval_ns: args.interval_ns,
    };
    let Some(strategy) = registry::current().get(&args.strategy) else {
        eprintln!(
            "error: consumer {}: unknown strategy {}",
            args.id, args.strategy
        );
        return ExitCode::from(EXIT_USAGE);
    };
    match strategy.consume(&args.segment, &spec) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: consumer {}: {error}", args.id);
            match error {
                fbench_harness::registry::ConsumeError::Refused(_) => ExitCode::from(EXIT_USAGE),
                fbench_harness::registry::ConsumeError::Failed(_) => ExitCode::FAILURE,
            }
        }
    }
}

fn run(args: RunArgs, explicit: &[String]) -> anyhow::Result<()> {
    sweep::run_flags(
        &args.run,
        &flags::Defaults::run(),
        &args.output,
        "run",
        &args.extras,
        explicit,
    )
}

pub(crate) fn build_info() -> BuildInfo {
    BuildInfo {
        version: env!("CARGO_PKG_VERSION").to_string(),
        git_rev: env!("FBENCH_GIT_REV").to_string(),
    }
}
