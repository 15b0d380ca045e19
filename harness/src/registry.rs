//! The strategies a binary can run, by name: fbench's built-ins and whatever the user's own
//! binary registers beside them.
//!
//! The strategy contract uses generic associated types, so strategies cannot be trait
//! objects; a registry entry instead holds the *monomorphised driver* of one strategy type
//! behind a small object-safe trait. Selecting `--strategy mine,pool` looks names up here,
//! and every command (run, sweep, soak, gate, capacity, the hidden consumer subcommand of a
//! cross-process run) goes through the same entries.
//!
//! ```
//! # mod fbench { pub mod harness { pub use fbench_harness::*; } pub mod strategies { pub use fbench_strategies::*; } }
//! use fbench::harness::registry::Registry;
//!
//! let registry = Registry::builtin();
//! let names: Vec<_> = registry.all().iter().map(|s| s.name()).collect();
//! assert_eq!(names, ["mutex", "rwlock", "pool", "arcswap", "shm"]);
//! assert!(registry.get("triple-buffer").is_some());
//! ```

use std::fmt;
use std::sync::{Arc, OnceLock};

use fbench_strategies::conformance::Outcome;
use fbench_strategies::{
    Build, BuildError, CrossProcess, Descriptor, Origin, Strategy, StrategyKind, StrategyParams,
};

use crate::config::RunConfig;
use crate::result::RunResult;
use crate::runner::{ConsumerSpec, RunError};

/// Why a consumer process ended without its figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsumeError {
    /// Refused before anything ran: no such run, a reader slot another process holds, a
    /// strategy whose consumers are threads. The consumer exits 2, as for a bad flag.
    Refused(String),
    /// Failed while consuming: exit 1.
    Failed(String),
}

impl fmt::Display for ConsumeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConsumeError::Refused(reason) | ConsumeError::Failed(reason) => f.write_str(reason),
        }
    }
}

/// A consumer library's reader of a run and when measuring starts.
pub(crate) type Attached = (Box<dyn crate::runner::external::Attachment>, u64);

/// How a registered strategy is driven: the one object-safe face of a strategy type.
trait Drive: Send + Sync {
    fn run(&self, config: &RunConfig, progress: &mut dyn FnMut(f64))
        -> Result<RunResult, RunError>;
    /// The body of one consumer process (cross-process strategies only).
    fn consume(&self, run: &str, spec: &ConsumerSpec) -> Result<(), ConsumeError>;
    /// Attach a consumer library's reader (cross-process strategies only): the reader and
    /// when measuring starts, once the run has started.
    fn attach_external(&self, run: &str, spec: &ConsumerSpec) -> Result<Attached, String>;
    /// The in-process conformance suite on fresh strategies, one outcome per property;
    /// `None` for a cross-process strategy (its readers are checked as processes, through
    /// runs).
    fn conformance(&self) -> Option<Vec<Outcome>>;
    /// `fbench clean`'s hook ([`CrossProcess::clean`]); nothing for in-process strategies.
    fn clean(&self) -> Result<Vec<String>, String>;
}

/// An in-process strategy built by a function of the run's parameters.
struct InProcess<F>(F);

impl<S, F> Drive for InProcess<F>
where
    S: Strategy,
    F: Fn(&StrategyParams) -> Result<S, BuildError> + Send + Sync,
{
    fn run(
        &self,
        config: &RunConfig,
        progress: &mut dyn FnMut(f64),
    ) -> Result<RunResult, RunError> {
        // Before the strategy exists: its own buffers are part of what the run measures.
        let baseline = crate::metrics::memory_of("self").map_or(0, |(_, pss)| pss);
        // One instance per stream, built the same way: a strategy needs no code of its own
        // to run under `--streams`.
        let strategies = (0..config.streams.max(1))
            .map(|_| (self.0)(&config.strategy_params()))
            .collect::<Result<Vec<S>, BuildError>>()?;
        crate::runner::drive_threads(strategies, config, progress, baseline)
    }

    fn consume(&self, _run: &str, _spec: &ConsumerSpec) -> Result<(), ConsumeError> {
        Err(ConsumeError::Refused(
            "this strategy runs its consumers as threads, not processes".into(),
        ))
    }

    fn attach_external(&self, _run: &str, _spec: &ConsumerSpec) -> Result<Attached, String> {
        Err("this strategy runs its consumers as threads, not processes".into())
    }

    fn conformance(&self) -> Option<Vec<Outcome>> {
        Some(fbench_strategies::conformance::run_each(|params| {
            (self.0)(params).unwrap_or_else(|e| panic!("the strategy does not build: {e}"))
        }))
    }

    fn clean(&self) -> Result<Vec<String>, String> {
        Ok(Vec::new())
    }
}

/// A cross-process strategy: created by a function of the parameters and the run's name,
/// attached to by [`CrossProcess::attach`] in each consumer process.
struct Processes<S, F>(F, std::marker::PhantomData<fn() -> S>);

impl<S, F> Drive for Processes<S, F>
where
    S: CrossProcess,
    F: Fn(&StrategyParams, &str) -> Result<S, BuildError> + Send + Sync,
{
    fn run(
        &self,
        config: &RunConfig,
        progress: &mut dyn FnMut(f64),
    ) -> Result<RunResult, RunError> {
        crate::runner::process::drive_processes(&self.0, config, progress)
    }

    fn consume(&self, run: &str, spec: &ConsumerSpec) -> Result<(), ConsumeError> {
        let (reader, measure_start) =
            S::attach(run, spec.id, spec.frame_len).map_err(ConsumeError::Refused)?;
        crate::runner::process::consume_and_report(spec, reader, measure_start)
            .map_err(ConsumeError::Failed)
    }

    fn attach_external(&self, run: &str, spec: &ConsumerSpec) -> Result<Attached, String> {
        let (reader, measure_start) = S::attach(run, spec.id, spec.frame_len)?;
        Ok((
            Box::new(crate::runner::external::Holding::new(reader)),
            measure_start,
        ))
    }

    fn conformance(&self) -> Option<Vec<Outcome>> {
        None
    }

    fn clean(&self) -> Result<Vec<String>, String> {
        S::clean()
    }
}

/// One runnable strategy: its facts and its driver. Cheap to clone; equal by name.
#[derive(Clone)]
pub struct StrategyRef {
    descriptor: Descriptor,
    drive: Arc<dyn Drive>,
}

impl StrategyRef {
    pub fn descriptor(&self) -> &Descriptor {
        &self.descriptor
    }

    pub fn name(&self) -> &'static str {
        self.descriptor.name
    }

    pub fn origin(&self) -> Origin {
        self.descriptor.origin
    }

    pub fn is_cross_process(&self) -> bool {
        self.descriptor.cross_process
    }

    /// One measured run under `config`. `progress` gets the fraction done (0.0 to 1.0)
    /// about ten times a second, from the calling thread.
    pub fn run(
        &self,
        config: &RunConfig,
        progress: &mut dyn FnMut(f64),
    ) -> Result<RunResult, RunError> {
        self.drive.run(config, progress)
    }

    /// The body of consumer process `spec.id` of run `run` (the hidden consumer subcommand).
    pub fn consume(&self, run: &str, spec: &ConsumerSpec) -> Result<(), ConsumeError> {
        self.drive.consume(run, spec)
    }

    /// Attach the consumer library ([`crate::runner::external::Consumer`]) to run `run`.
    pub(crate) fn attach_external(
        &self,
        run: &str,
        spec: &ConsumerSpec,
    ) -> Result<Attached, String> {
        self.drive.attach_external(run, spec)
    }

    /// The in-process conformance suite ([`fbench_strategies::conformance::run_each`]) on
    /// fresh strategies of this entry, one outcome per property with the first failure's
    /// reason; `None` for a cross-process strategy, whose readers are processes and are
    /// checked through runs (`fbench conformance`).
    pub fn conformance(&self) -> Option<Vec<Outcome>> {
        self.drive.conformance()
    }

    /// Remove what killed runs of this strategy left behind (a cross-process strategy's
    /// [`CrossProcess::clean`] hook; nothing for the others): one line per thing removed.
    pub fn clean(&self) -> Result<Vec<String>, String> {
        self.drive.clean()
    }
}

impl fmt::Debug for StrategyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl PartialEq for StrategyRef {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for StrategyRef {}

/// The strategies of one binary, in `list` order.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    entries: Vec<StrategyRef>,
}

/// Why a strategy could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("strategy name '{0}' is registered twice")]
    Duplicate(&'static str),
    #[error("strategy name '{0}' is not accepted: use lower-case letters, digits, '-' and '_', and not 'all' or 'peers'")]
    BadName(&'static str),
}

impl Registry {
    /// No strategies at all.
    pub fn empty() -> Registry {
        Registry::default()
    }

    /// fbench's built-in strategies: its own, the demonstration, the canary and the peers
    /// (a peer missing from this build is left out).
    pub fn builtin() -> Registry {
        let mut registry = Registry::empty();
        for kind in StrategyKind::EVERY {
            if let Some(entry) = builtin_entry(kind) {
                registry.push(entry).expect("built-in names are distinct");
            }
        }
        registry
    }

    fn push(&mut self, entry: StrategyRef) -> Result<(), RegistryError> {
        let name = entry.name();
        let well_formed = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
            && name != "all"
            && name != "peers";
        if !well_formed {
            return Err(RegistryError::BadName(name));
        }
        if self.get(name).is_some() {
            return Err(RegistryError::Duplicate(name));
        }
        self.entries.push(entry);
        Ok(())
    }

    /// Register an in-process strategy type (see [`Build`]).
    pub fn register<S: Build>(&mut self) -> Result<&mut Registry, RegistryError> {
        self.register_with(S::descriptor(), S::build)
    }

    /// Register an in-process strategy built by `build` and described by `descriptor`.
    pub fn register_with<S, F>(
        &mut self,
        descriptor: Descriptor,
        build: F,
    ) -> Result<&mut Registry, RegistryError>
    where
        S: Strategy,
        F: Fn(&StrategyParams) -> Result<S, BuildError> + Send + Sync + 'static,
    {
        let descriptor = Descriptor {
            cross_process: false,
            ..descriptor
        };
        self.push(StrategyRef {
            descriptor,
            drive: Arc::new(InProcess(build)),
        })?;
        Ok(self)
    }

    /// Register a strategy whose consumers are processes (see [`CrossProcess`]). The binary
    /// that registers it must be the one the harness starts as a consumer, i.e. its `main`
    /// is the fbench command line (`fbench::main!(…; cross_process: Mine)`).
    ///
    /// ```
    /// # mod fbench { pub mod harness { pub use fbench_harness::*; } pub mod strategies { pub use fbench_strategies::*; } }
    /// use fbench::harness::Registry;
    /// use fbench::strategies::ShmStrategy; // fbench's own, through the same trait
    ///
    /// let mut registry = Registry::empty();
    /// registry.register_cross_process::<ShmStrategy>().unwrap();
    /// let shm = registry.get("shm").unwrap();
    /// assert!(shm.is_cross_process());
    /// // Its readers are processes: the in-process suite does not apply; `fbench
    /// // conformance` checks it through runs with reader processes instead.
    /// assert!(shm.conformance().is_none());
    /// ```
    pub fn register_cross_process<S: CrossProcess>(
        &mut self,
    ) -> Result<&mut Registry, RegistryError> {
        self.register_cross_process_with(S::descriptor(), S::create)
    }

    /// Register a cross-process strategy created by `create(params, run_name)`.
    pub fn register_cross_process_with<S, F>(
        &mut self,
        descriptor: Descriptor,
        create: F,
    ) -> Result<&mut Registry, RegistryError>
    where
        S: CrossProcess,
        F: Fn(&StrategyParams, &str) -> Result<S, BuildError> + Send + Sync + 'static,
    {
        let descriptor = descriptor.cross_process();
        self.push(StrategyRef {
            descriptor,
            drive: Arc::new(Processes(create, std::marker::PhantomData)),
        })?;
        Ok(self)
    }

    /// Every strategy, in registration order.
    pub fn entries(&self) -> &[StrategyRef] {
        &self.entries
    }

    pub fn get(&self, name: &str) -> Option<&StrategyRef> {
        self.entries.iter().find(|e| e.name() == name)
    }

    /// What `all` runs: fbench's own strategies (the same in every build and every binary;
    /// a user's own are chosen by name or with `custom`).
    pub fn all(&self) -> Vec<StrategyRef> {
        self.of(|o| o == Origin::Own)
    }

    /// What `peers` runs: the other projects' designs in this build.
    pub fn peers(&self) -> Vec<StrategyRef> {
        self.of(|o| o == Origin::Peer)
    }

    /// The user's own strategies (what `custom` runs).
    pub fn custom(&self) -> Vec<StrategyRef> {
        self.of(|o| o == Origin::Custom)
    }

    fn of(&self, keep: impl Fn(Origin) -> bool) -> Vec<StrategyRef> {
        self.entries
            .iter()
            .filter(|e| keep(e.origin()))
            .cloned()
            .collect()
    }

    /// Resolve a `--strategy` list (`all`, `peers`, `custom` and names, comma-separated) into
    /// strategies, in the order given, each once. The error is one line saying what is
    /// accepted.
    pub fn resolve(&self, text: &str) -> Result<Vec<StrategyRef>, String> {
        let mut chosen: Vec<StrategyRef> = Vec::new();
        for name in text.split(',').map(str::trim) {
            let found = match name {
                "all" => self.all(),
                "peers" => self.peers(),
                "custom" => self.custom(),
                _ => match self.get(name) {
                    Some(entry) => vec![entry.clone()],
                    None => {
                        if let Some(kind) = StrategyKind::from_name(name) {
                            if !kind.is_built() {
                                return Err(BuildError::NotBuilt(
                                    kind.name(),
                                    kind.feature().unwrap_or_default(),
                                )
                                .to_string());
                            }
                        }
                        return Err(format!("unknown strategy '{name}'; {}", self.accepted()));
                    }
                },
            };
            for entry in found {
                if !chosen.contains(&entry) {
                    chosen.push(entry);
                }
            }
        }
        if chosen.is_empty() {
            return Err(format!("no strategy given; {}", self.accepted()));
        }
        Ok(chosen)
    }

    /// "accepted: all, mutex, …, peers, triple-buffer, …, custom, mine": the listed names.
    pub fn accepted(&self) -> String {
        let names = |origins: &[Origin]| {
            origins
                .iter()
                .flat_map(|&origin| self.entries.iter().filter(move |e| e.origin() == origin))
                .map(|e| e.name())
                .collect::<Vec<_>>()
        };
        let mut parts = vec!["all".to_string()];
        parts.extend(
            names(&[
                Origin::Own,
                Origin::Extra,
                Origin::Reference,
                Origin::Demonstration,
            ])
            .into_iter()
            .map(String::from),
        );
        let peers = names(&[Origin::Peer]);
        if !peers.is_empty() {
            parts.push("peers".into());
            parts.extend(peers.into_iter().map(String::from));
        }
        let custom = names(&[Origin::Custom]);
        if !custom.is_empty() {
            parts.push("custom".into());
            parts.extend(custom.into_iter().map(String::from));
        }
        format!("accepted: {}", parts.join(", "))
    }
}

fn in_process<S: Build>() -> StrategyRef {
    StrategyRef {
        descriptor: S::descriptor(),
        drive: Arc::new(InProcess(S::build)),
    }
}

fn cross_process<S, F>(descriptor: Descriptor, create: F) -> StrategyRef
where
    S: CrossProcess,
    F: Fn(&StrategyParams, &str) -> Result<S, BuildError> + Send + Sync + 'static,
{
    StrategyRef {
        descriptor,
        drive: Arc::new(Processes(create, std::marker::PhantomData)),
    }
}

/// The entry of a built-in strategy; `None` for a peer not in this build.
fn builtin_entry(kind: StrategyKind) -> Option<StrategyRef> {
    use fbench_strategies::*;
    Some(match kind {
        StrategyKind::Mutex => in_process::<MutexStrategy>(),
        StrategyKind::RwLock => in_process::<RwLockStrategy>(),
        StrategyKind::Pool => in_process::<PoolStrategy>(),
        StrategyKind::ArcSwap => in_process::<ArcSwapStrategy>(),
        StrategyKind::Unsync => in_process::<UnsyncStrategy>(),
        StrategyKind::Queue => in_process::<QueueStrategy>(),
        StrategyKind::Broadcast => in_process::<BroadcastStrategy>(),
        StrategyKind::Ideal => in_process::<IdealStrategy>(),
        StrategyKind::TripleBuffer => in_process::<TripleBufferStrategy>(),
        StrategyKind::Shm => cross_process(kind.descriptor(), |p: &StrategyParams, run: &str| {
            Ok(ShmStrategy::shared(p, run, false)?)
        }),
        StrategyKind::ShmNaive => {
            cross_process(kind.descriptor(), |p: &StrategyParams, run: &str| {
                Ok(ShmStrategy::shared(p, run, true)?)
            })
        }
        #[cfg(feature = "peers")]
        StrategyKind::Iceoryx2 => cross_process(
            kind.descriptor(),
            <iceoryx::IceoryxStrategy as CrossProcess>::create,
        ),
        #[cfg(not(feature = "peers"))]
        StrategyKind::Iceoryx2 => return None,
        #[cfg(feature = "net")]
        StrategyKind::Zenoh => cross_process(kind.descriptor(), |p: &StrategyParams, run: &str| {
            zenoh::ZenohStrategy::shared(p, run, zenoh::Transport::Shm)
        }),
        #[cfg(feature = "net")]
        StrategyKind::ZenohTcp => {
            cross_process(kind.descriptor(), |p: &StrategyParams, run: &str| {
                zenoh::ZenohStrategy::shared(p, run, zenoh::Transport::Tcp)
            })
        }
        #[cfg(not(feature = "net"))]
        StrategyKind::Zenoh | StrategyKind::ZenohTcp => return None,
    })
}

/// Run the built-in strategy `kind` under `config` (a user's strategies run through their
/// [`StrategyRef`]). `progress` is called from the calling thread with the
/// fraction of the run done (0.0 to 1.0), about ten times a second.
pub fn run(
    kind: StrategyKind,
    config: &RunConfig,
    progress: &mut dyn FnMut(f64),
) -> Result<RunResult, RunError> {
    let registry = Registry::builtin();
    let entry = registry
        .get(kind.name())
        .ok_or(fbench_strategies::BuildError::NotBuilt(
            kind.name(),
            kind.feature().unwrap_or_default(),
        ))?;
    entry.run(config, progress)
}

static INSTALLED: OnceLock<Registry> = OnceLock::new();

/// Make `registry` the one this process's command line resolves names against (the
/// `fbench` crate's entry point does this first). A second call is ignored.
pub fn install(registry: Registry) {
    let _ = INSTALLED.set(registry);
}

/// The installed registry, or the built-ins when none was installed (library use, tests).
pub fn current() -> &'static Registry {
    INSTALLED.get_or_init(Registry::builtin)
}
