//! Runs whose consumers are separate processes (`shm`, `shm-naive`, and the `iceoryx2` peer).
//!
//! What the processes attach to is the strategy's business: a segment for `shm`, iceoryx2
//! services for `iceoryx2`. The parent's side of that is [`CrossProcess`]; the child's side is
//! the match in [`consumer_main`]. Everything else here is shared.
//!
//! The parent creates the segment and is the producer. Each consumer is a child process
//! running fbench itself (the hidden `__consumer` subcommand, see [`consumer_main`]) that
//! attaches to the segment by name. Start barrier: children count themselves in the segment
//! and sleep on a futex until the parent, having seen all of them, says go. Each child
//! measures with the same consumer loop as a thread would and, when the strategy closes,
//! writes its figures (histograms in HdrHistogram's encoding, counters, its CPU) as one JSON
//! line on its stdout, a pipe to the parent.
//!
//! Lifecycle: children get SIGKILL when the parent dies (PR_SET_PDEATHSIG) and ignore SIGINT
//! (a Ctrl-C in the terminal reaches the whole process group; the parent shuts them down in
//! order instead). The parent reaps every child on every path. A child that dies mid-run is
//! reported `crashed`, and the slot it held is reclaimed. The segment is removed when the
//! strategy drops, on every path that unwinds; a parent killed outright leaves it for
//! `fbench clean`.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread;

use fbench_strategies::shm::{unique_name, ShmReader};
use fbench_strategies::{BuildError, Reader, ShmStrategy, Strategy, StrategyKind};
use serde::{Deserialize, Serialize};

use super::{
    assemble, consume, control, produce, CloseOnDrop, ConsumerOutcome, ConsumerResult,
    ConsumerSpec, RunError, Timeline, START_DELAY_NS,
};
use crate::clock::{monotonic_ns, sleep_until};
use crate::config::RunConfig;
use crate::metrics::{memory_of, CpuUsage, Latency, LatencySummary};
use crate::result::{MemoryRecord, RunResult};

/// The hidden subcommand a consumer process runs.
pub const CONSUMER_SUBCOMMAND: &str = "__consumer";
/// How long children get to attach before the run is abandoned.
const ATTACH_TIMEOUT_NS: u64 = 30_000_000_000;

/// What a consumer process sends back.
#[derive(Serialize, Deserialize)]
struct ChildReport {
    frames_seen: u64,
    age: LatencySummary,
    acquire: LatencySummary,
    e2e: LatencySummary,
    torn_frames: u64,
    out_of_order: u64,
    deadline_misses: u64,
    cpu: CpuUsage,
    allocations: Option<u64>,
    /// What it saw in each fault window.
    #[serde(default)]
    windows: Vec<crate::faults::SeenTally>,
}

/// The producer's side of a strategy whose consumers are processes.
pub(crate) trait CrossProcess: Strategy {
    /// Consumers attached and ready to wait (the start barrier's count).
    fn attached(&self) -> usize;
    /// Tell every consumer to begin, measuring from `measure_start_ns`.
    fn go(&self, measure_start_ns: u64) -> Result<(), RunError>;
    /// Consumer `id`'s process was reaped: take back what it held. Whether anything was.
    fn reclaim(&self, id: usize) -> bool;
}

impl CrossProcess for ShmStrategy {
    fn attached(&self) -> usize {
        ShmStrategy::attached(self) as usize
    }
    fn go(&self, measure_start_ns: u64) -> Result<(), RunError> {
        ShmStrategy::go(self, measure_start_ns);
        Ok(())
    }
    fn reclaim(&self, id: usize) -> bool {
        self.reclaim_reader(id).is_some()
    }
}

#[cfg(feature = "peers")]
impl CrossProcess for fbench_strategies::iceoryx::IceoryxStrategy {
    fn attached(&self) -> usize {
        fbench_strategies::iceoryx::IceoryxStrategy::attached(self)
    }
    fn go(&self, measure_start_ns: u64) -> Result<(), RunError> {
        Ok(fbench_strategies::iceoryx::IceoryxStrategy::go(
            self,
            measure_start_ns,
        )?)
    }
    fn reclaim(&self, _id: usize) -> bool {
        // iceoryx2 tracks processes by node, not by consumer id: it releases whatever dead
        // nodes held.
        self.reclaim_dead_readers()
    }
}

/// The arguments of the hidden subcommand for consumer `spec.id` of `kind`'s run `segment`.
pub fn consumer_args(kind: StrategyKind, segment: &str, spec: &ConsumerSpec) -> Vec<String> {
    vec![
        CONSUMER_SUBCOMMAND.to_string(),
        "--strategy".into(),
        kind.name().to_string(),
        "--segment".into(),
        segment.to_string(),
        "--id".into(),
        spec.id.to_string(),
        "--workload".into(),
        spec.workload.to_string(),
        "--wait".into(),
        crate::config::Wait(spec.wait).to_string(),
        "--verify".into(),
        spec.verify.to_string(),
        "--deadline-ns".into(),
        spec.deadline_ns.to_string(),
        "--frame-len".into(),
        spec.frame_len.to_string(),
        "--faults".into(),
        serde_json::to_string(&spec.faults).expect("plain data serialises"),
    ]
}

/// The body of a consumer process: attach to `kind`'s run `segment`, wait for go, consume
/// until closed, report on stdout. Errors are for the parent's log; the parent sees a missing
/// report as a crash.
pub fn consumer_main(kind: StrategyKind, segment: &str, spec: &ConsumerSpec) -> Result<(), String> {
    match kind {
        StrategyKind::Shm | StrategyKind::ShmNaive => {
            let reader = ShmReader::attach(segment, spec.id).map_err(|e| e.to_string())?;
            if reader.segment().geometry().frame_len != spec.frame_len {
                return Err(format!(
                    "segment {segment} holds frames of {} bytes, expected {}",
                    reader.segment().geometry().frame_len,
                    spec.frame_len
                ));
            }
            let measure_start = reader.ready_and_wait_for_go();
            consume_and_report(spec, reader, measure_start)
        }
        #[cfg(feature = "peers")]
        StrategyKind::Iceoryx2 => {
            let mut reader = fbench_strategies::iceoryx::IceoryxReader::attach(segment, spec.id)
                .map_err(|e| e.to_string())?;
            let measure_start = reader.wait_for_go().map_err(|e| e.to_string())?;
            consume_and_report(spec, reader, measure_start)
        }
        other => Err(format!(
            "strategy '{}' has no consumer processes in this build",
            other.name()
        )),
    }
}

/// Consume until closed, then write the figures as one JSON line on stdout.
fn consume_and_report<R: Reader>(
    spec: &ConsumerSpec,
    reader: R,
    measure_start: u64,
) -> Result<(), String> {
    // CPU and allocations over the measured window: snapshot when it starts, from a helper
    // thread, since the consumer loop is busy then.
    let window_start = thread::spawn(move || {
        sleep_until(measure_start);
        (CpuUsage::now(), crate::alloc::allocations())
    });
    let outcome = consume(spec, reader, measure_start);
    let (cpu_start, alloc_start) = window_start.join().map_err(|_| "cpu sampler died")?;
    let report = ChildReport {
        frames_seen: outcome.frames_seen,
        age: outcome.age.summary(),
        acquire: outcome.acquire.summary(),
        e2e: outcome.e2e.summary(),
        torn_frames: outcome.torn_frames,
        out_of_order: outcome.out_of_order,
        deadline_misses: outcome.deadline_misses,
        windows: outcome.windows,
        cpu: CpuUsage::now().since(&cpu_start),
        allocations: match (alloc_start, crate::alloc::allocations()) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a)),
            _ => None,
        },
    };
    let line = serde_json::to_string(&report).map_err(|e| e.to_string())?;
    println!("{line}");
    Ok(())
}

/// A consumer process and what became of it.
struct Consumer {
    child: Child,
    /// Set once the child has exited before the end of the run (it was reaped then).
    died: bool,
    /// When the parent SIGKILLs it (a `kill` fault), monotonic ns; cleared once done.
    kill_at: Option<u64>,
    /// The parent killed it on purpose: reported `killed`, not `crashed`.
    killed: bool,
}

/// Kills and reaps every child still running when dropped: no path leaves one behind.
struct Children(Vec<Consumer>);

impl Drop for Children {
    fn drop(&mut self) {
        for consumer in &mut self.0 {
            if !consumer.died {
                let _ = consumer.child.kill();
                let _ = consumer.child.wait();
            }
        }
    }
}

fn spawn_consumers(
    kind: StrategyKind,
    segment: &str,
    config: &RunConfig,
) -> Result<Children, RunError> {
    let exe = std::env::current_exe()
        .map_err(|e| RunError::Process(format!("cannot find the fbench executable: {e}")))?;
    let parent = std::process::id();
    let mut children = Children(Vec::with_capacity(config.consumers));
    for id in 0..config.consumers {
        let mut spec = config.consumer_spec(id);
        // A process is killed by the parent (see `run`), not asked to end itself.
        spec.faults.end_at = None;
        let mut command = Command::new(&exe);
        command
            .args(consumer_args(kind, segment, &spec))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        // SAFETY: the closure runs in the forked child before exec and only makes
        // async-signal-safe system calls (prctl, signal, getppid, _exit).
        unsafe {
            command.pre_exec(move || {
                // Die with the parent. Checked against the parent's pid afterwards, in case
                // it died between fork and prctl.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                libc::signal(libc::SIGINT, libc::SIG_IGN);
                if libc::getppid() as u32 != parent {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
        let child = command
            .spawn()
            .map_err(|e| RunError::Process(format!("cannot start consumer {id}: {e}")))?;
        children.0.push(Consumer {
            child,
            died: false,
            kill_at: None,
            killed: false,
        });
    }
    Ok(children)
}

/// Wait until every child has attached, none has died, and the user has not interrupted.
fn start_barrier(strategy: &impl CrossProcess, children: &mut Children) -> Result<(), RunError> {
    let deadline = monotonic_ns() + ATTACH_TIMEOUT_NS;
    while strategy.attached() < children.0.len() {
        if crate::interrupt::requested() {
            return Err(RunError::Interrupted);
        }
        for (id, consumer) in children.0.iter_mut().enumerate() {
            if let Ok(Some(status)) = consumer.child.try_wait() {
                consumer.died = true;
                return Err(RunError::Process(format!(
                    "consumer {id} exited before the run started ({status})"
                )));
            }
        }
        if monotonic_ns() > deadline {
            return Err(RunError::Process(format!(
                "only {} of {} consumers attached in time",
                strategy.attached(),
                children.0.len()
            )));
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    Ok(())
}

pub(crate) fn run(
    kind: StrategyKind,
    config: &RunConfig,
    progress: &mut dyn FnMut(f64),
    baseline_pss: u64,
) -> Result<RunResult, RunError> {
    let name = unique_name();
    let params = config.strategy_params();
    match kind {
        StrategyKind::Shm | StrategyKind::ShmNaive => {
            let naive = kind == StrategyKind::ShmNaive;
            let strategy = ShmStrategy::shared(&params, &name, naive)?;
            run_with(
                kind,
                Arc::new(strategy),
                &name,
                config,
                progress,
                baseline_pss,
            )
        }
        #[cfg(feature = "peers")]
        StrategyKind::Iceoryx2 => {
            let strategy = fbench_strategies::iceoryx::IceoryxStrategy::shared(&params, &name)?;
            run_with(
                kind,
                Arc::new(strategy),
                &name,
                config,
                progress,
                baseline_pss,
            )
        }
        other => Err(BuildError::NotBuilt(other.name()).into()),
    }
}

fn run_with<S: CrossProcess>(
    kind: StrategyKind,
    // Owned here, before the children, so that it drops (and the segment or services go)
    // after they are reaped.
    strategy: Arc<S>,
    name: &str,
    config: &RunConfig,
    progress: &mut dyn FnMut(f64),
    baseline_pss: u64,
) -> Result<RunResult, RunError> {
    let mut children = spawn_consumers(kind, name, config)?;
    start_barrier(&*strategy, &mut children)?;

    let start = monotonic_ns() + START_DELAY_NS;
    let measure_start = start + config.warmup.as_nanos() as u64;
    let timeline = Timeline {
        start,
        measure_start,
        end: measure_start + config.duration.as_nanos() as u64,
    };
    strategy.go(measure_start)?;
    for (id, consumer) in children.0.iter_mut().enumerate() {
        consumer.kill_at = config
            .consumer_faults(id)
            .end_at
            .map(|at| measure_start + at);
    }

    let mut reclaimed = 0u64;
    let (producer, cpu, allocations, memory) = thread::scope(|scope| {
        let producer = scope.spawn(|| {
            let _close = CloseOnDrop(&*strategy);
            let mut source = config.source.open(&config.frame);
            produce(&*strategy, &mut *source, config, &timeline)
        });
        let pids: Vec<u32> = children.0.iter().map(|c| c.child.id()).collect();
        let mut sample = || {
            // PSS summed over the parent and every live child: shared pages (the segment,
            // the executable) count once in all. RSS summed counts them once per process.
            let mut total = memory_of("self")?;
            for pid in &pids {
                if let Some((rss, pss)) = memory_of(&pid.to_string()) {
                    total.0 += rss;
                    total.1 += pss;
                }
            }
            Some(total)
        };
        let mut watch = || {
            let now = monotonic_ns();
            for consumer in children.0.iter_mut() {
                if consumer.kill_at.is_some_and(|at| now >= at) && !consumer.died {
                    // The `kill` fault: SIGKILL, as a crash would; reaped and reclaimed below.
                    consumer.kill_at = None;
                    consumer.killed = true;
                    let _ = consumer.child.kill();
                }
            }
            for (id, consumer) in children.0.iter_mut().enumerate() {
                if !consumer.died {
                    if let Ok(Some(_)) = consumer.child.try_wait() {
                        // Reaped, so it can no longer touch the segment: take its slot back.
                        consumer.died = true;
                        if strategy.reclaim(id) {
                            reclaimed += 1;
                        }
                    }
                }
            }
        };
        let (cpu, allocations, memory) = control(
            &timeline,
            progress,
            &mut sample,
            &|| strategy.stats(),
            &mut watch,
        );
        (producer.join(), cpu, allocations, memory)
    });
    let producer = match producer {
        Ok(producer) => producer,
        Err(panic) => std::panic::resume_unwind(panic),
    };
    // The producer closed the strategy: every live child now finishes and reports.
    let mut results = Vec::with_capacity(children.0.len());
    let (mut child_cpu, mut child_allocations) = (CpuUsage::default(), Some(0u64));
    for (id, consumer) in children.0.iter_mut().enumerate() {
        let report = if consumer.died {
            None
        } else {
            let mut text = String::new();
            let read = consumer
                .child
                .stdout
                .take()
                .map(|mut out| out.read_to_string(&mut text));
            let status = consumer.child.wait();
            consumer.died = true; // reaped
            let clean_exit = matches!(status, Ok(s) if s.success());
            match (read, clean_exit) {
                (Some(Ok(_)), true) => serde_json::from_str::<ChildReport>(text.trim()).ok(),
                _ => None,
            }
        };
        match report.and_then(|r| outcome_of(id, config, r).ok()) {
            Some((outcome, cpu, allocations)) => {
                child_cpu = child_cpu.plus(&cpu, 0.0);
                child_allocations = child_allocations.zip(allocations).map(|(a, b)| a + b);
                results.push(ConsumerResult::Done(Box::new(outcome)));
            }
            None => results.push(ConsumerResult::Lost {
                id,
                status: if consumer.killed { "killed" } else { "crashed" },
            }),
        }
    }
    if crate::interrupt::requested() {
        return Err(RunError::Interrupted);
    }
    let stats = strategy.stats();
    let mut result = assemble(
        strategy.name(),
        config,
        producer,
        results,
        stats,
        cpu.plus(&child_cpu, config.duration.as_secs_f64()),
        allocations.zip(child_allocations).map(|(a, b)| a + b),
        MemoryRecord {
            baseline_pss_bytes: baseline_pss,
            ..memory
        },
    );
    result.reclaimed_slots = reclaimed;
    result.leaks = Some(crate::soak::LeakCheck {
        // Reader processes hold no handle in this process; their slots are checked below.
        readers_outstanding: 0,
        // Every child has been reaped: a slot still marked held was never given back.
        frames_outstanding: strategy.frames_outstanding(),
        segments_left: 0, // checked by the caller once the strategy is dropped
    });
    Ok(result)
}

fn outcome_of(
    id: usize,
    config: &RunConfig,
    report: ChildReport,
) -> Result<(ConsumerOutcome, CpuUsage, Option<u64>), String> {
    Ok((
        ConsumerOutcome {
            id,
            workload: config.workload_of(id),
            frames_seen: report.frames_seen,
            age: Latency::from_summary(&report.age)?,
            acquire: Latency::from_summary(&report.acquire)?,
            e2e: Latency::from_summary(&report.e2e)?,
            torn_frames: report.torn_frames,
            out_of_order: report.out_of_order,
            deadline_misses: report.deadline_misses,
            windows: report.windows,
            killed: false,
        },
        report.cpu,
        report.allocations,
    ))
}
