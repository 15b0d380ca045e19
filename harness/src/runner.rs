//! One run: a paced producer, N consumers, a controller that samples memory and reports
//! progress. Every figure comes from the measured window (after warm-up).

use std::sync::Arc;
use std::thread;

use fbench_strategies::{FrameMeta, FrameView, Publish, Reader, Strategy, WaitMode, WaitOutcome};

use crate::clock::{monotonic_ns, sleep_until};
use crate::config::RunConfig;
use crate::faults::{
    ConsumerFaults, ConsumerWindows, FaultKind, ProducerTally, Schedule, SeenTally,
};
use crate::integrity::{self, VerifyMode};
use crate::metrics::{memory_of, CpuUsage, Latency, MemorySample};
use crate::result::{ConsumerRecord, CopiesRecord, FrameCounts, MemoryRecord, RunResult};
use crate::source::Source;
use crate::workload::Workload;

pub mod external;
mod live;
pub mod process;

/// About how often the controller samples memory and reports progress (see [`Sampling`]).
const SAMPLE_EVERY_NS: u64 = 100_000_000;

/// When the controller samples: every whole number of frame periods nearest
/// 100 ms (`SAMPLE_EVERY_NS`), in the middle of the widest gap between the streams' due instants.
///
/// A memory sample walks every process's page tables (`smaps_rollup`): milliseconds of CPU
/// on a 2-CPU machine. Sampled every 100 ms from the schedule's start, it fell on every third
/// frame's due instant at 30 fps, and that frame's consumers waited behind it: with three
/// streams, stream 0 (phase 0) had a p99 age of 3.5-6.2 ms in six runs of six, the other two
/// 0.8-2.7 ms. Between two due instants the walk is done before the next frame is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sampling {
    /// Between two samples, ns: a whole number of periods.
    pub every_ns: u64,
    /// The first sample's distance from the schedule's start, ns.
    pub offset_ns: u64,
}

impl Sampling {
    /// For frames every `period_ns` due at `phases` (ns after the schedule's start, each
    /// under a period: one per stream).
    ///
    /// ```
    /// use fbench_harness::runner::Sampling;
    ///
    /// // one stream at 30 fps: every 3 periods, half a period after each due instant
    /// let one = Sampling::between(33_333_333, &[0]);
    /// assert_eq!(one, Sampling { every_ns: 99_999_999, offset_ns: 16_666_666 });
    /// // three streams spread over the period: between stream 0's and stream 1's frames
    /// let three = Sampling::between(33_333_333, &[0, 11_111_111, 22_222_222]);
    /// assert_eq!(three.offset_ns, 5_555_555);
    /// // 25 fps: 100 ms is 2.5 periods, so every 2 periods, never on a due instant
    /// assert_eq!(Sampling::between(40_000_000, &[0]).every_ns, 80_000_000);
    /// ```
    pub fn between(period_ns: u64, phases: &[u64]) -> Sampling {
        let period = period_ns.max(1);
        let periods = (SAMPLE_EVERY_NS as f64 / period as f64).floor().max(1.0) as u64;
        let mut due: Vec<u64> = phases.iter().map(|p| p % period).collect();
        due.sort_unstable();
        due.dedup();
        if due.is_empty() {
            due.push(0);
        }
        // The widest gap, the one wrapping from the last due instant to the next period's
        // first included.
        let mut best = (0, 0); // (gap, its middle)
        for (i, &at) in due.iter().enumerate() {
            let next = due.get(i + 1).copied().unwrap_or(due[0] + period);
            let gap = next - at;
            if gap > best.0 {
                best = (gap, (at + gap / 2) % period);
            }
        }
        Sampling {
            every_ns: periods * period,
            offset_ns: best.1,
        }
    }
}
/// Head start between "every thread exists" and the first frame: time for the threads to
/// leave the start barrier and reach their first wait.
pub(crate) const START_DELAY_NS: u64 = 5_000_000;

/// How long after the producer's end (plus the longest a workload holds one frame) a
/// consumer has to report before it is marked `stalled`, killed and counted lost: the parent
/// never waits for a consumer without a deadline.
pub const STALL_GRACE_NS: u64 = 5_000_000_000;

/// When every consumer of a run following `timeline` must have reported: the producer's end,
/// plus the longest any of its workloads holds a frame (a `sleep:20s` consumer is busy with
/// its last frame that long), plus [`STALL_GRACE_NS`].
pub(crate) fn report_deadline(config: &RunConfig, timeline: &Timeline) -> u64 {
    let hold = (0..config.consumers)
        .map(|id| config.workload_of(id).hold())
        .max()
        .unwrap_or_default();
    timeline
        .end
        .saturating_add(u64::try_from(hold.as_nanos()).unwrap_or(u64::MAX))
        .saturating_add(STALL_GRACE_NS)
}

/// After a stop request, how long consumer threads get to end before they are given up.
const THREAD_STOP_GRACE_NS: u64 = 1_000_000_000;

/// When the run starts, when measuring starts and when the producer stops.
#[derive(Clone, Copy, Debug)]
pub struct Timeline {
    pub start: u64,
    pub measure_start: u64,
    pub end: u64,
}

/// Why a run did not produce a result.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("interrupted")]
    Interrupted,
    #[error(transparent)]
    Segment(#[from] fbench_strategies::shm::SegmentError),
    #[error(transparent)]
    Build(#[from] fbench_strategies::BuildError),
    #[error("consumer processes: {0}")]
    Process(String),
    /// A `--consumer-cmd` consumer failed to take part (a usage mistake, exit code 2).
    #[error("{0}")]
    ExternalConsumer(String),
}

/// Where the consumers of a run live: threads of this process or child processes. The one
/// driver ([`drive`]) does everything else the same way for both.
pub(crate) trait Host<S: Strategy> {
    /// Start every consumer; return once all of them are ready to wait for frames.
    fn launch(&mut self, strategy: &Arc<S>, config: &RunConfig) -> Result<(), RunError>;
    /// Give every consumer the timeline and let it go.
    fn go(&mut self, strategy: &S, timeline: &Timeline) -> Result<(), RunError>;
    /// RSS and PSS summed over the consumer processes of this host outside the driving
    /// process (0 for threads); the driver adds its own process once for all streams.
    fn outside_memory(&mut self) -> Option<(u64, u64)>;
    /// Called at every controller tick (every 100 ms): kill faults, reaping of dead consumers.
    fn tick(&mut self, _strategy: &S) {}
    /// After the strategy was closed: every consumer's figures, once all have ended; one
    /// that has not ended by `report_by` (monotonic ns, see [`report_deadline`]) is given
    /// up as `stalled` (a process is killed and reaped).
    fn collect(&mut self, strategy: &S, config: &RunConfig, report_by: u64) -> Collected;
}

/// What the consumers' host hands back.
pub(crate) struct Collected {
    pub consumers: Vec<ConsumerResult>,
    /// CPU and allocations of consumers outside this process (processes), summed; `None`
    /// for threads, whose cost is in this process's own figures.
    pub outside: Option<(CpuUsage, Option<u64>)>,
    /// Held frames or slots taken back from dead consumers.
    pub reclaimed: u64,
}

impl Timeline {
    /// The schedule of a run whose consumers are all ready now.
    pub(crate) fn starting_now(config: &RunConfig) -> Timeline {
        let start = monotonic_ns() + START_DELAY_NS;
        let measure_start = start + config.warmup.as_nanos() as u64;
        Timeline {
            start,
            measure_start,
            end: measure_start + config.duration.as_nanos() as u64,
        }
    }
}

/// One stream of a run: the host of its consumers, its strategy instance and its own
/// configuration ([`RunConfig::for_stream`]). The host is declared first so that it drops
/// first: its consumers are joined or reaped before the strategy (and whatever it shares,
/// e.g. a segment) goes.
pub(crate) struct Stream<S: Strategy, H: Host<S>> {
    pub host: H,
    pub strategy: Arc<S>,
    pub config: RunConfig,
}

impl<S: Strategy, H: Host<S>> Stream<S, H> {
    /// Stream `index` of the run `config`.
    pub(crate) fn new(index: usize, strategy: S, host: H, config: &RunConfig) -> Stream<S, H> {
        Stream {
            host,
            strategy: Arc::new(strategy),
            config: config.for_stream(index),
        }
    }
}

/// Closes every stream's strategy when dropped, so that no consumer waits forever however
/// the run ends.
struct CloseAll<'a, S: Strategy>(Vec<&'a S>);

impl<S: Strategy> Drop for CloseAll<'_, S> {
    fn drop(&mut self) {
        for strategy in &self.0 {
            strategy.close();
        }
    }
}

/// The one driver: for each stream a producer (paced schedule or live camera) on its own
/// thread and the consumers in its host; the controller (memory, progress, faults, Ctrl-C)
/// on the calling thread. The caller owns the streams and drops each host before its
/// strategy, so that whatever the strategy shares outlives every consumer.
///
/// Every stream's schedule is the run's, shifted by its phase
/// ([`RunConfig::stream_offset_ns`]): stream i's window is as long as stream 0's, so each
/// stream has the same due frames. One stream is measured exactly as a run of one.
pub(crate) fn drive<S: Strategy, H: Host<S>>(
    streams: &mut [Stream<S, H>],
    config: &RunConfig,
    progress: &mut dyn FnMut(f64),
    baseline_pss: u64,
) -> Result<RunResult, RunError> {
    // Hosts are worked on (`&mut`) while producers read strategies and configurations.
    let (mut hosts, mut strategies, mut configs) = (Vec::new(), Vec::new(), Vec::new());
    for Stream {
        host,
        strategy,
        config,
    } in streams.iter_mut()
    {
        hosts.push(host);
        strategies.push(&*strategy);
        configs.push(&*config);
    }
    let _close = CloseAll(strategies.iter().map(|s| &***s).collect::<Vec<&S>>());
    let mut sources: Vec<_> = configs.iter().map(|c| c.source.open(&c.frame)).collect();
    for ((host, strategy), stream_config) in hosts.iter_mut().zip(&strategies).zip(&configs) {
        host.launch(strategy, stream_config)?;
    }
    // Every consumer of every stream exists before the schedule is fixed, so even a
    // thousand of them cannot make the first frames late.
    let run = Timeline::starting_now(config);
    let phases: Vec<u64> = (0..configs.len())
        .map(|i| config.stream_offset_ns(i))
        .collect();
    let timelines: Vec<Timeline> = phases
        .iter()
        .map(|&offset| Timeline {
            start: run.start + offset,
            measure_start: run.measure_start + offset,
            end: run.end + offset,
        })
        .collect();
    for ((host, strategy), timeline) in hosts.iter_mut().zip(&strategies).zip(&timelines) {
        host.go(strategy, timeline)?;
    }
    // The controller watches until the last stream's schedule ends.
    let watched = Timeline {
        end: timelines.iter().map(|t| t.end).max().unwrap_or(run.end),
        ..run
    };

    let (producers, cpu, allocations, memory) = thread::scope(|scope| {
        let producers: Vec<_> = strategies
            .iter()
            .zip(&configs)
            .zip(sources.iter_mut())
            .zip(&timelines)
            .map(|(((strategy, stream_config), source), timeline)| {
                let strategy: &S = strategy;
                let stream_config: &RunConfig = stream_config;
                scope.spawn(move || {
                    let _close = CloseOnDrop(strategy);
                    produce_from(strategy, &mut **source, stream_config, timeline)
                })
            })
            .collect();
        let sampling = Sampling::between(config.period_ns(), &phases);
        let (cpu, allocations, memory) = control(
            &watched,
            sampling,
            progress,
            &mut || {
                for (host, strategy) in hosts.iter_mut().zip(&strategies) {
                    host.tick(strategy);
                }
                // This process once (every thread of every stream is in it), plus each
                // host's consumer processes.
                let mut total = memory_of("self")?;
                for host in hosts.iter_mut() {
                    let (rss, pss) = host.outside_memory()?;
                    total.0 += rss;
                    total.1 += pss;
                }
                Some(total)
            },
            &|| {
                strategies.iter().map(|s| s.stats()).fold(
                    fbench_strategies::StrategyStats::default(),
                    |a, b| fbench_strategies::StrategyStats {
                        published: a.published + b.published,
                        producer_drops: a.producer_drops + b.producer_drops,
                        ..a
                    },
                )
            },
        );
        if crate::interrupt::requested() {
            // A producer blocked in `publish` (a full `queue` under `block`, behind a
            // consumer sleeping in its workload) returns once the strategy is closed.
            for strategy in &strategies {
                strategy.close();
            }
        }
        let producers: Vec<_> = producers.into_iter().map(|p| p.join()).collect();
        (producers, cpu, allocations, memory)
    });
    let producers: Vec<ProducerOutcome> = producers
        .into_iter()
        .map(|producer| match producer {
            Ok(producer) => producer,
            // A panic in our own producer loop is a bug: surface it, don't report garbage.
            Err(panic) => std::panic::resume_unwind(panic),
        })
        .collect();
    // Each producer closed its strategy: every consumer finishes and reports.
    let collected: Vec<Collected> = hosts
        .iter_mut()
        .zip(&strategies)
        .zip(&configs)
        .zip(&timelines)
        .map(|(((host, strategy), stream_config), timeline)| {
            host.collect(
                strategy,
                stream_config,
                report_deadline(stream_config, timeline),
            )
        })
        .collect();
    if crate::interrupt::requested() {
        return Err(RunError::Interrupted);
    }
    let (mut cpu, mut allocations) = (cpu, allocations);
    for (their_cpu, their_allocations) in collected.iter().filter_map(|c| c.outside.as_ref()) {
        cpu = cpu.plus(their_cpu);
        allocations = allocations.zip(*their_allocations).map(|(a, b)| a + b);
    }
    let memory = MemoryRecord {
        baseline_pss_bytes: baseline_pss,
        ..memory
    };
    let several = configs.len() > 1;
    let consumer_cpu_ns = |collected: &Collected| -> Vec<u64> {
        collected
            .consumers
            .iter()
            .filter_map(|c| match c {
                ConsumerResult::Done(c) => c.cpu_ns,
                ConsumerResult::Lost { .. } => None,
            })
            .collect()
    };
    // The run's CPU demand over every stream's due frames (for one stream, `assemble`
    // computes it from the same figures).
    let whole_demand = several.then(|| {
        let due = producers.iter().map(|p| p.counts.due).sum();
        let producer_ns = producers.iter().map(|p| p.cpu_ns).sum::<Option<u64>>();
        let consumer_ns: Vec<u64> = collected.iter().flat_map(consumer_cpu_ns).collect();
        crate::result::CpuDemand::of(due, producer_ns, &consumer_ns, &cpu)
    });
    let mut results = Vec::with_capacity(configs.len());
    for (((strategy, stream_config), producer), collected) in strategies
        .iter()
        .zip(&configs)
        .zip(producers)
        .zip(collected)
    {
        // With several streams, a stream's own CPU is what is attributable to it: its
        // producer thread and its consumers. The run's whole figures are merged below.
        let (stream_cpu, stream_allocations, stream_memory) = if several {
            let own_ns =
                producer.cpu_ns.unwrap_or(0) + consumer_cpu_ns(&collected).iter().sum::<u64>();
            let own = CpuUsage {
                user_s: own_ns as f64 / 1e9,
                ..CpuUsage::default()
            };
            (own, None, MemoryRecord::default())
        } else {
            (cpu, allocations, memory.clone())
        };
        let mut result = assemble(
            strategy.name(),
            stream_config,
            producer,
            collected.consumers,
            strategy.stats(),
            stream_cpu,
            stream_allocations,
            stream_memory,
        );
        result.reclaimed_slots = collected.reclaimed;
        // Every consumer has ended: a reader handle still alive in this process, or a
        // frame still marked held, was never given back. (Reader processes hold no handle
        // here.)
        result.leaks = Some(crate::leaks::LeakCheck {
            readers_outstanding: Arc::strong_count(strategy) as u64 - 1,
            frames_outstanding: strategy.frames_outstanding(),
            segments_left: 0, // the cross-process host checks once the strategy is gone
        });
        result.queues = strategy
            .queue_stats()
            .map(|queues| queues.into_iter().map(Into::into).collect());
        results.push(result);
    }
    if !several {
        let mut result = results.pop().expect("a run has at least one stream");
        // The run's own record (an `@stream0` slow group as given).
        result.config = config.record();
        return Ok(result);
    }
    crate::streams::merge(
        results,
        &phases,
        crate::streams::Whole {
            config: config.record(),
            memory,
            cpu,
            allocations,
            cpu_demand: whole_demand.flatten(),
        },
    )
    .map_err(|e| RunError::Process(e.to_string()))
}

/// The producer loop for the run's source: on the `--fps` schedule, or at a camera's pace.
fn produce_from<S: Strategy>(
    strategy: &S,
    source: &mut dyn Source,
    config: &RunConfig,
    timeline: &Timeline,
) -> ProducerOutcome {
    match source.live() {
        Some(camera) => live::produce(strategy, camera, config, timeline),
        None => produce(strategy, source, config, timeline),
    }
}

/// Consumers as threads of this process: one strategy instance per stream.
pub(crate) fn drive_threads<S: Strategy>(
    strategies: Vec<S>,
    config: &RunConfig,
    progress: &mut dyn FnMut(f64),
    baseline_pss: u64,
) -> Result<RunResult, RunError> {
    let mut streams: Vec<Stream<S, Threads>> = strategies
        .into_iter()
        .enumerate()
        .map(|(i, strategy)| {
            let host = Threads {
                gate: Arc::new(StartGate::default()),
                handles: Vec::new(),
            };
            Stream::new(i, strategy, host, config)
        })
        .collect();
    drive(&mut streams, config, progress, baseline_pss)
}

/// Two-phase start of consumer threads: every one has arrived, then every one has the
/// timeline (or the run was abandoned before it started).
#[derive(Default)]
struct StartGate {
    state: std::sync::Mutex<GateState>,
    changed: std::sync::Condvar,
}

#[derive(Default)]
struct GateState {
    arrived: usize,
    timeline: Option<Timeline>,
    abandoned: bool,
}

impl StartGate {
    /// Consumer side: count in, then wait for the timeline; `None` if the run was abandoned.
    fn arrive(&self) -> Option<Timeline> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.arrived += 1;
        self.changed.notify_all();
        loop {
            if state.abandoned {
                return None;
            }
            if let Some(timeline) = state.timeline {
                return Some(timeline);
            }
            state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn update(&self, change: impl FnOnce(&mut GateState)) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        change(&mut state);
        self.changed.notify_all();
    }
}

struct Threads {
    gate: Arc<StartGate>,
    handles: Vec<thread::JoinHandle<Option<ConsumerOutcome>>>,
}

impl<S: Strategy> Host<S> for Threads {
    fn launch(&mut self, strategy: &Arc<S>, config: &RunConfig) -> Result<(), RunError> {
        for id in 0..config.consumers {
            let reader = strategy.clone().reader();
            let gate = self.gate.clone();
            let spec = config.consumer_spec(id);
            let handle = thread::Builder::new()
                .name(format!("consumer-{id}"))
                .spawn(move || {
                    let timeline = gate.arrive()?;
                    Some(consume(&spec, reader, timeline.measure_start))
                })
                .map_err(|e| RunError::Process(format!("cannot start consumer {id}: {e}")))?;
            self.handles.push(handle);
        }
        let mut state = self.gate.state.lock().unwrap_or_else(|e| e.into_inner());
        while state.arrived < config.consumers {
            if crate::interrupt::requested() {
                return Err(RunError::Interrupted);
            }
            let poll = std::time::Duration::from_nanos(crate::interrupt::POLL_NS);
            state = self
                .gate
                .changed
                .wait_timeout(state, poll)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        Ok(())
    }

    fn go(&mut self, _strategy: &S, timeline: &Timeline) -> Result<(), RunError> {
        self.gate.update(|state| state.timeline = Some(*timeline));
        Ok(())
    }

    fn outside_memory(&mut self) -> Option<(u64, u64)> {
        Some((0, 0))
    }

    fn collect(&mut self, _strategy: &S, _config: &RunConfig, report_by: u64) -> Collected {
        // After Ctrl-C the workloads end within 50 ms; a thread still running a second later
        // is stuck (a strategy that never returns) and is not waited for.
        let deadline = |report_by: u64| {
            if crate::interrupt::requested() {
                report_by.min(monotonic_ns() + THREAD_STOP_GRACE_NS)
            } else {
                report_by
            }
        };
        let mut stop_at = deadline(report_by);
        while monotonic_ns() < stop_at && self.handles.iter().any(|h| !h.is_finished()) {
            std::thread::sleep(std::time::Duration::from_millis(1));
            stop_at = stop_at.min(deadline(report_by));
        }
        let consumers = self
            .handles
            .drain(..)
            .enumerate()
            .map(|(id, c)| {
                if !c.is_finished() {
                    // A thread cannot be killed: it is left behind (detached), holding its
                    // reader, and reported as lost rather than waited for forever.
                    return ConsumerResult::Lost {
                        id,
                        status: "stalled",
                    };
                }
                match c.join() {
                    Ok(Some(outcome)) if outcome.killed => ConsumerResult::Lost {
                        id,
                        status: "killed",
                    },
                    Ok(Some(outcome)) => ConsumerResult::Done(Box::new(outcome)),
                    Ok(None) | Err(_) => ConsumerResult::Lost {
                        id,
                        status: "panicked",
                    },
                }
            })
            .collect();
        Collected {
            consumers,
            outside: None,
            reclaimed: 0,
        }
    }
}

impl Drop for Threads {
    /// A run that failed before its consumers were released: abandon it (they end without
    /// reading) and join them, leaving no thread behind.
    fn drop(&mut self) {
        self.gate.update(|state| {
            if state.timeline.is_none() {
                state.abandoned = true;
            }
        });
        for handle in self.handles.drain(..) {
            let _ = handle.join();
        }
    }
}

pub(crate) struct CloseOnDrop<'a, S: Strategy>(&'a S);

impl<S: Strategy> Drop for CloseOnDrop<'_, S> {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// The controller: about every 100 ms, between due frames ([`Sampling`]), calls `tick`, which does the host's periodic work and
/// samples memory (RSS and PSS summed over every process taking part); takes CPU and
/// allocation counts at the window's edges, reports progress, and stops early on Ctrl-C.
pub(crate) fn control(
    timeline: &Timeline,
    sampling: Sampling,
    progress: &mut dyn FnMut(f64),
    tick: &mut dyn FnMut() -> Option<(u64, u64)>,
    sample_counts: &dyn Fn() -> fbench_strategies::StrategyStats,
) -> (CpuUsage, Option<u64>, MemoryRecord) {
    let mut memory = MemoryRecord::default();
    let mut window_start: Option<(CpuUsage, Option<u64>)> = None;
    let total = (timeline.end - timeline.start) as f64;
    let mut next_sample = timeline.start + sampling.offset_ns;
    loop {
        let now = monotonic_ns();
        if window_start.is_none() && now >= timeline.measure_start {
            window_start = Some((CpuUsage::now(), crate::alloc::allocations()));
        }
        if now >= timeline.end || crate::interrupt::requested() {
            break;
        }
        if now >= next_sample {
            if let Some((rss, pss)) = tick() {
                let counts = sample_counts();
                memory.peak_rss_bytes = memory.peak_rss_bytes.max(rss);
                memory.peak_pss_bytes = memory.peak_pss_bytes.max(pss);
                memory.timeline.push(MemorySample {
                    t_ms: now.saturating_sub(timeline.start) / 1_000_000,
                    rss_bytes: rss,
                    pss_bytes: pss,
                    published: counts.published,
                    producer_drops: counts.producer_drops,
                    cpu_s: Some(crate::metrics::process_tree_cpu_s()),
                });
            }
            progress((now.saturating_sub(timeline.start) as f64 / total).min(1.0));
            next_sample += sampling.every_ns;
        }
        let mut wake = next_sample.min(timeline.end);
        if window_start.is_none() {
            wake = wake.min(timeline.measure_start);
        }
        sleep_until(wake);
    }
    let (cpu_start, alloc_start) = window_start.unwrap_or_else(|| (CpuUsage::now(), None));
    let cpu = CpuUsage::now().since(&cpu_start);
    let allocations = match (alloc_start, crate::alloc::allocations()) {
        (Some(start), Some(end)) => Some(end.saturating_sub(start)),
        _ => None,
    };
    progress(1.0);
    (cpu, allocations, memory)
}

/// What the producer measured.
#[derive(Debug, Default)]
pub(crate) struct ProducerOutcome {
    publish: Latency,
    render: Latency,
    counts: FrameCounts,
    /// `publish_seq` of the first frame published in the measured window (0: none).
    window_first_publish: u64,
    /// `publish_seq` of the last frame published.
    last_publish: u64,
    /// What happened in each fault's window, in the order of `RunConfig::faults`.
    pub(crate) windows: Vec<ProducerTally>,
    /// Due frames and publish times per interval (latency over time).
    pub(crate) intervals: crate::timeline::Intervals,
    /// The producer thread's CPU time (user + system) over the measured window, from its
    /// first slot (or camera frame) in the window; `None` when no frame fell in it.
    pub(crate) cpu_ns: Option<u64>,
}

pub(crate) fn produce<S: Strategy>(
    strategy: &S,
    source: &mut dyn Source,
    config: &RunConfig,
    timeline: &Timeline,
) -> ProducerOutcome {
    // Slot k is due at start + k/fps exactly (computed, not accumulated), so rounding the
    // period never drifts the schedule or changes how many frames fit in the window.
    // Bursts change the rate for a while; the schedule stays absolute (faults module).
    let schedule = Schedule::new(
        config.fps,
        timeline.measure_start - timeline.start,
        &config.faults,
    );
    let due_at = |slot: u64| timeline.start + schedule.due_at(slot);
    let windows: Vec<_> = config
        .faults
        .iter()
        .map(|f| f.window(config.duration))
        .collect();
    // Strategy counters at each window's start, to tally pool grows and allocations in it.
    let mut stats_at_start = vec![None; windows.len()];
    let verify = config.verify;
    let (width, height) = (
        config.frame.resolution.width,
        config.frame.resolution.height,
    );
    let format = config.frame.format.code();
    let mut out = ProducerOutcome {
        windows: vec![ProducerTally::default(); windows.len()],
        intervals: crate::timeline::Intervals::new(config.interval, config.duration),
        ..ProducerOutcome::default()
    };
    out.intervals.stamp_start(timeline.measure_start);
    let mut slot: u64 = 0;
    // The thread's own CPU clock: what producing cost, whatever else ran on the machine.
    let mut cpu_at_window: Option<u64> = None;
    loop {
        let due = due_at(slot);
        if due >= timeline.end || crate::interrupt::requested() {
            break;
        }
        sleep_until(due);
        if cpu_at_window.is_none() && due >= timeline.measure_start {
            cpu_at_window = Some(crate::metrics::thread_cpu_ns());
        }
        let offset = due.saturating_sub(timeline.measure_start);
        for (w, window) in windows.iter().enumerate() {
            let started = due >= timeline.measure_start && offset >= window.start;
            if started && stats_at_start[w].is_none() {
                stats_at_start[w] = Some(strategy.stats());
            }
        }
        let seq = slot + 1;
        let mut render_ns = 0;
        let before = monotonic_ns();
        let outcome = strategy.publish(|frame: &mut [u8]| {
            let render_start = monotonic_ns();
            source.render(seq, frame);
            integrity::stamp(frame, seq);
            let checksum = match verify {
                VerifyMode::Full => integrity::checksum(frame),
                _ => 0,
            };
            render_ns = monotonic_ns() - render_start;
            FrameMeta {
                seq,
                // Capture time is the frame's due time: a camera does not wait for the
                // producer, so the producer's own lateness (waking, rendering, a strategy
                // that blocked the previous publish) is part of the frame's age.
                capture_ns: due,
                checksum,
                width,
                height,
                format,
                ..FrameMeta::default()
            }
        });
        let after = monotonic_ns();
        if let Publish::Published(publish_seq) = outcome {
            out.last_publish = publish_seq;
        }
        if due >= timeline.measure_start {
            out.counts.due += 1;
            out.intervals.due(offset);
            out.counts.produced += 1;
            match outcome {
                Publish::Published(publish_seq) => {
                    // Only accepted frames: a refusal returns at once and would flatter
                    // the distribution of the strategy's real publishing work.
                    out.publish
                        .record((after - before).saturating_sub(render_ns));
                    out.intervals
                        .published(offset, (after - before).saturating_sub(render_ns));
                    out.render.record(render_ns);
                    out.counts.published += 1;
                    if out.window_first_publish == 0 {
                        out.window_first_publish = publish_seq;
                    }
                }
                Publish::Dropped => out.counts.producer_drops += 1,
            }
            for (w, window) in windows.iter().enumerate() {
                if window.contains(offset) {
                    let tally = &mut out.windows[w];
                    tally.produced += 1;
                    match outcome {
                        Publish::Published(_) => {
                            tally.published += 1;
                            let publish_ns = (after - before).saturating_sub(render_ns);
                            tally.publish_max_ns = tally.publish_max_ns.max(publish_ns);
                        }
                        Publish::Dropped => tally.producer_drops += 1,
                    }
                }
            }
        }
        slot += 1;
        // Stay on the absolute schedule: if the next frame's whole slot has already
        // passed, skip the slots we cannot make and count them as source overruns.
        let now = monotonic_ns();
        while due_at(slot + 1) <= now {
            let skipped = due_at(slot);
            if skipped >= timeline.measure_start && skipped < timeline.end {
                out.counts.due += 1;
                out.counts.source_overruns += 1;
                let offset = skipped - timeline.measure_start;
                out.intervals.due(offset);
                for (w, window) in windows.iter().enumerate() {
                    if window.contains(offset) {
                        out.windows[w].source_overruns += 1;
                    }
                }
            }
            slot += 1;
        }
    }
    out.cpu_ns = cpu_at_window.map(|start| crate::metrics::thread_cpu_ns().saturating_sub(start));
    let end = strategy.stats();
    for (tally, start) in out.windows.iter_mut().zip(stats_at_start) {
        if let Some(start) = start {
            tally.pool_grows = end.pool_grows.saturating_sub(start.pool_grows);
            tally.frame_allocations = end
                .frame_allocations
                .saturating_sub(start.frame_allocations);
        }
    }
    out
}

/// What one consumer needs to know: the same in a thread or in a consumer process.
#[derive(Clone, Debug, PartialEq)]
pub struct ConsumerSpec {
    pub id: usize,
    pub workload: Workload,
    pub wait: WaitMode,
    pub verify: VerifyMode,
    /// A frame whose end-to-end time exceeds this misses its deadline.
    pub deadline_ns: u64,
    pub frame_len: usize,
    /// This consumer's stall and end, and the fault windows it tallies.
    pub faults: ConsumerFaults,
    /// Length of the intervals of latency over time, ns (see [`crate::timeline`]).
    pub interval_ns: u64,
}

impl RunConfig {
    pub fn consumer_spec(&self, id: usize) -> ConsumerSpec {
        ConsumerSpec {
            id,
            workload: self.workload_of(id),
            wait: self.wait,
            verify: self.verify,
            deadline_ns: (self.period_ns() as f64 * (1.0 + self.deadline_tolerance)) as u64,
            frame_len: self.frame_len(),
            faults: self.consumer_faults(id),
            interval_ns: self.interval.as_nanos() as u64,
        }
    }

    /// What consumer `id` must do for the run's faults (a kill ends it as a thread; the
    /// process runner kills processes itself).
    pub fn consumer_faults(&self, id: usize) -> ConsumerFaults {
        let mut faults = ConsumerFaults::default();
        for fault in &self.faults {
            let window = fault.window(self.duration);
            faults.windows.push(window);
            match fault.kind {
                FaultKind::Stall { consumer, .. } if consumer == id => faults.stall = Some(window),
                FaultKind::Kill { consumer } if consumer == id => {
                    faults.end_at = Some(window.start)
                }
                _ => {}
            }
        }
        faults
    }
}

/// What one consumer measured.
pub(crate) struct ConsumerOutcome {
    pub id: usize,
    pub workload: Workload,
    pub frames_seen: u64,
    pub age: Latency,
    pub acquire: Latency,
    pub e2e: Latency,
    pub torn_frames: u64,
    pub out_of_order: u64,
    pub deadline_misses: u64,
    /// Per fault window: what this consumer saw in it.
    pub windows: Vec<SeenTally>,
    /// The consumer ended itself for a `kill` fault (a thread cannot be killed alone).
    pub killed: bool,
    /// Frames seen, age and acquire per interval of capture time (latency over time).
    pub intervals: crate::timeline::Intervals,
    /// The consumer's CPU time (user + system) over the measured window: its thread's, from
    /// its first wake-up in the window; a consumer process's whole process time.
    pub cpu_ns: Option<u64>,
    /// Samples that did not come through shared memory, for a strategy that checks
    /// ([`fbench_strategies::Reader::not_shm`]).
    pub not_shm: Option<u64>,
}

impl ConsumerOutcome {
    /// Nothing seen yet.
    pub(crate) fn new(spec: &ConsumerSpec) -> ConsumerOutcome {
        ConsumerOutcome {
            id: spec.id,
            workload: spec.workload,
            frames_seen: 0,
            age: Latency::new(),
            acquire: Latency::new(),
            e2e: Latency::new(),
            torn_frames: 0,
            out_of_order: 0,
            deadline_misses: 0,
            windows: vec![SeenTally::default(); spec.faults.windows.len()],
            killed: false,
            intervals: crate::timeline::Intervals::new(
                std::time::Duration::from_nanos(spec.interval_ns),
                std::time::Duration::ZERO,
            ),
            cpu_ns: None,
            not_shm: None,
        }
    }

    /// Count one released frame: held at `held` after an acquire that started at
    /// `acquire_start`, released at `done`, `whole` if it verified on acquire and on release.
    /// Frames captured before `measure_start` are not counted. Shared by fbench's own loop
    /// and the consumer library (`external`), so both measure by the same definitions.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn record(
        &mut self,
        spec: &ConsumerSpec,
        measure_start: u64,
        meta: &FrameMeta,
        acquire_start: u64,
        held: u64,
        done: u64,
        whole: bool,
    ) {
        if meta.capture_ns < measure_start {
            return;
        }
        self.frames_seen += 1;
        self.age.record(held.saturating_sub(meta.capture_ns));
        self.acquire.record(held - acquire_start);
        let e2e = done.saturating_sub(meta.capture_ns);
        self.e2e.record(e2e);
        if e2e > spec.deadline_ns {
            self.deadline_misses += 1;
        }
        if !whole {
            self.torn_frames += 1;
        }
        let capture_offset = meta.capture_ns - measure_start;
        self.intervals.seen(
            capture_offset,
            held.saturating_sub(meta.capture_ns),
            held - acquire_start,
        );
        for (tally, window) in self.windows.iter_mut().zip(&spec.faults.windows) {
            if window.contains(capture_offset) {
                tally.add(held.saturating_sub(meta.capture_ns));
            }
        }
    }
}

/// A consumer's end: its figures, or the fact that they were lost with it.
pub(crate) enum ConsumerResult {
    Done(Box<ConsumerOutcome>),
    /// The consumer died (`panicked` thread, `crashed` process): its figures are lost and
    /// are reported as lost, not as zeros.
    Lost {
        id: usize,
        status: &'static str,
    },
}

/// The consumer loop: wait for a newer frame, acquire, verify, work, verify again, release;
/// frames captured before `measure_start` are handled but not counted.
pub(crate) fn consume<R: Reader>(
    spec: &ConsumerSpec,
    mut reader: R,
    measure_start: u64,
) -> ConsumerOutcome {
    let workload = spec.workload;
    let verify = spec.verify;
    let mut scratch = Vec::new();
    if workload.needs_scratch() {
        scratch.reserve_exact(spec.frame_len);
    }
    let mut out = ConsumerOutcome::new(spec);
    let faults = &spec.faults;
    let mut cpu_at_window: Option<u64> = None;
    let mut stalled = false;
    let mut last = 0u64;
    let mut sink = 0u64;
    while let WaitOutcome::Newer(_) = reader.wait_newer(last, spec.wait) {
        let acquire_start = monotonic_ns();
        if cpu_at_window.is_none() && acquire_start >= measure_start {
            cpu_at_window = Some(crate::metrics::thread_cpu_ns());
        }
        let Some(frame) = reader.acquire() else {
            continue;
        };
        let held = monotonic_ns();
        let since_start = held.saturating_sub(measure_start);
        if held >= measure_start && faults.end_at.is_some_and(|at| since_start >= at) {
            out.killed = true;
            break;
        }
        let meta = *frame.meta();
        if meta.publish_seq <= last {
            // Not newer than what we already saw: a broken strategy. Count, don't process.
            if meta.publish_seq < last && meta.capture_ns >= measure_start {
                out.out_of_order += 1;
            }
            continue;
        }
        last = meta.publish_seq;
        let whole_on_acquire = integrity::verify(frame.bytes(), &meta, verify);
        sink ^= workload.run(frame.bytes(), &mut scratch);
        if let Some(stall) = faults.stall {
            if !stalled && held >= measure_start && since_start >= stall.start {
                // Hold this frame, reading nothing else, until the stall's end.
                stalled = true;
                crate::interrupt::sleep_until_or_stop(measure_start + stall.end);
            }
        }
        // Again before release: a zero-copy frame could have been overwritten while held.
        let whole_on_release = integrity::verify(frame.bytes(), &meta, verify);
        let done = monotonic_ns();
        drop(frame);
        out.record(
            spec,
            measure_start,
            &meta,
            acquire_start,
            held,
            done,
            whole_on_acquire && whole_on_release,
        );
    }
    std::hint::black_box(sink);
    out.not_shm = reader.not_shm();
    out.cpu_ns = cpu_at_window.map(|start| crate::metrics::thread_cpu_ns().saturating_sub(start));
    out
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn assemble(
    strategy: &str,
    config: &RunConfig,
    producer: ProducerOutcome,
    consumers: Vec<ConsumerResult>,
    stats: fbench_strategies::StrategyStats,
    cpu: CpuUsage,
    allocations: Option<u64>,
    memory: MemoryRecord,
) -> RunResult {
    // Frames published in the window, which every consumer was active for.
    let window_published = if producer.window_first_publish == 0 {
        0
    } else {
        producer.last_publish - producer.window_first_publish + 1
    };
    let drop_rate = |seen: u64| {
        if window_published == 0 {
            0.0
        } else {
            window_published.saturating_sub(seen) as f64 / window_published as f64
        }
    };
    // Over every frame that was due, whoever lost it: the figure a camera user sees.
    let due = producer.counts.due;
    let loss_rate = |seen: u64| {
        if due == 0 {
            0.0
        } else {
            due.saturating_sub(seen) as f64 / due as f64
        }
    };
    let mut losses: Vec<f64> = Vec::with_capacity(consumers.len());
    let fault_records = {
        let ends: Vec<ConsumerWindows> = consumers
            .iter()
            .map(|c| match c {
                ConsumerResult::Done(c) => ConsumerWindows {
                    id: c.id,
                    status: "ok",
                    windows: &c.windows,
                },
                ConsumerResult::Lost { id, status } => ConsumerWindows {
                    id: *id,
                    status,
                    windows: &[],
                },
            })
            .collect();
        crate::faults::records(&config.faults, config.duration, &producer.windows, &ends)
    };
    let command_of =
        |id: usize| external::external_command(&config.consumer_cmd, id).map(|c| c.command.clone());
    let kind_of = |id: usize| match command_of(id) {
        Some(_) => "external",
        None => "fbench",
    };
    // An external consumer's work is its own, not a `--workload`.
    let workload_of = |id: usize, workload: Workload| match command_of(id) {
        Some(_) => "external".to_string(),
        None => workload.to_string(),
    };
    let mut intervals = producer.intervals;
    let (mut age, mut acquire, mut e2e) = (Latency::new(), Latency::new(), Latency::new());
    let mut per_consumer = Vec::with_capacity(consumers.len());
    let mut consumer_cpu_ns = Vec::with_capacity(consumers.len());
    let (mut seen_total, mut expected_total) = (0u64, 0u64);
    let (mut torn, mut out_of_order, mut misses, mut lost) = (0, 0, 0, 0);
    for consumer in consumers {
        match consumer {
            ConsumerResult::Done(c) => {
                consumer_cpu_ns.extend(c.cpu_ns);
                intervals.add(&c.intervals);
                intervals.consumers += 1;
                age.add(&c.age);
                acquire.add(&c.acquire);
                e2e.add(&c.e2e);
                seen_total += c.frames_seen.min(window_published);
                expected_total += window_published;
                torn += c.torn_frames;
                out_of_order += c.out_of_order;
                misses += c.deadline_misses;
                per_consumer.push(ConsumerRecord {
                    id: c.id,
                    workload: workload_of(c.id, c.workload),
                    frames_seen: c.frames_seen,
                    age_ns: c.age.summary(),
                    acquire_ns: c.acquire.summary(),
                    e2e_ns: c.e2e.summary(),
                    drop_rate: Some(drop_rate(c.frames_seen)),
                    loss_rate: {
                        losses.push(loss_rate(c.frames_seen));
                        losses.last().copied()
                    },
                    deadline_misses: c.deadline_misses,
                    torn_frames: c.torn_frames,
                    out_of_order: c.out_of_order,
                    status: "ok".into(),
                    kind: kind_of(c.id).into(),
                    command: command_of(c.id),
                    not_shm: c.not_shm,
                    stream: None,
                });
            }
            ConsumerResult::Lost { id, status } => {
                // Its figures died with it: the run's figures are over the survivors, the
                // loss is counted in `consumers_lost`, and its own record says so.
                lost += 1;
                per_consumer.push(ConsumerRecord {
                    id,
                    workload: workload_of(id, config.workload_of(id)),
                    frames_seen: 0,
                    age_ns: Latency::new().summary(),
                    acquire_ns: Latency::new().summary(),
                    e2e_ns: Latency::new().summary(),
                    drop_rate: None,
                    loss_rate: None,
                    deadline_misses: 0,
                    torn_frames: 0,
                    out_of_order: 0,
                    status: status.into(),
                    kind: kind_of(id).into(),
                    command: command_of(id),
                    not_shm: None,
                    stream: None,
                })
            }
        }
    }
    // Over the consumers that checked; `None` when none did (the strategy does not check).
    let not_shm = per_consumer
        .iter()
        .filter_map(|c| c.not_shm)
        .reduce(|a, b| a + b);
    let cpu_demand =
        crate::result::CpuDemand::of(producer.counts.due, producer.cpu_ns, &consumer_cpu_ns, &cpu);
    RunResult {
        strategy: strategy.to_string(),
        consumers: config.consumers,
        trial: 1,
        reruns: 0,
        busy: false,
        config: config.record(),
        frames: producer.counts,
        age_ns: age.summary(),
        acquire_ns: acquire.summary(),
        publish_ns: producer.publish.summary(),
        render_ns: producer.render.summary(),
        e2e_ns: e2e.summary(),
        drop_rate: if expected_total == 0 {
            0.0
        } else {
            (expected_total - seen_total) as f64 / expected_total as f64
        },
        loss_rate: (!losses.is_empty()).then(|| losses.iter().sum::<f64>() / losses.len() as f64),
        loss_rate_max: losses.iter().copied().reduce(f64::max),
        deadline_misses: misses,
        torn_frames: torn,
        out_of_order,
        lost_wakeups: stats.lost_wakeups,
        memory,
        cpu,
        cpu_demand,
        copies: CopiesRecord {
            bytes_copied: stats.bytes_copied,
            allocations,
            frame_allocations: stats.frame_allocations,
            pool_grows: stats.pool_grows,
        },
        per_consumer,
        consumers_lost: lost,
        reclaimed_slots: 0,
        faults: fault_records,
        leaks: None,
        timeline: intervals.summarise(),
        intervals: Some(intervals),
        limits: None,
        queues: None,
        not_shm,
        streams: Vec::new(),
        worst_stream: None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use fbench_strategies::{StrategyKind, StrategyParams, WaitMode, WithStrategy};

    use super::*;
    use crate::frame::{FrameSpec, PixelFormat, Resolution};

    /// A reader that lets the test decide when the consumer looks for its next frame, so a
    /// slow consumer is slow deterministically rather than by timing.
    struct Gated<R> {
        inner: R,
        finished_one: mpsc::Sender<()>,
        go: mpsc::Receiver<()>,
        first: bool,
    }

    impl<R: Reader> Reader for Gated<R> {
        type Frame<'a>
            = R::Frame<'a>
        where
            Self: 'a;
        fn wait_newer(&mut self, after: u64, mode: WaitMode) -> WaitOutcome {
            if !std::mem::take(&mut self.first) {
                let _ = self.finished_one.send(());
            }
            let _ = self.go.recv();
            self.inner.wait_newer(after, mode)
        }
        fn acquire(&mut self) -> Option<Self::Frame<'_>> {
            self.inner.acquire()
        }
    }

    fn small_config() -> RunConfig {
        let mut config = RunConfig::default_config();
        config.frame = FrameSpec {
            resolution: Resolution::new(64, 48),
            format: PixelFormat::Rgb24,
        };
        config.consumers = 1;
        config
    }

    /// The consumer looks for a frame only after every third publish: it must see exactly
    /// frames 3, 6, …, 30 and the drop rate must be exactly 20/30.
    struct ExactDrops;

    impl WithStrategy for ExactDrops {
        type Output = ();
        fn run<S: Strategy>(self, strategy: Arc<S>) {
            let config = small_config();
            let (finished_tx, finished_rx) = mpsc::channel();
            let (go_tx, go_rx) = mpsc::channel();
            let reader = Gated {
                inner: strategy.clone().reader(),
                finished_one: finished_tx,
                go: go_rx,
                first: true,
            };
            let timeline = Timeline {
                // Now rather than 0: interval offsets count from here.
                start: monotonic_ns(),
                measure_start: monotonic_ns(),
                end: u64::MAX,
            };
            let consumer = {
                let spec = config.consumer_spec(0);
                thread::spawn(move || consume(&spec, reader, timeline.measure_start))
            };
            let mut producer = ProducerOutcome::default();
            let mut source = crate::source::SyntheticSource::new(&config.frame);
            for seq in 1..=30u64 {
                let outcome = strategy.publish(|frame: &mut [u8]| {
                    source.render(seq, frame);
                    integrity::stamp(frame, seq);
                    FrameMeta {
                        seq,
                        capture_ns: monotonic_ns(),
                        ..FrameMeta::default()
                    }
                });
                let Publish::Published(publish_seq) = outcome else {
                    panic!("no producer drops expected")
                };
                producer.counts.published += 1;
                producer.window_first_publish = producer.window_first_publish.max(1);
                producer.last_publish = publish_seq;
                if seq % 3 == 0 {
                    // Let the consumer take one frame, and wait until it is done with it.
                    go_tx.send(()).unwrap();
                    finished_rx.recv().unwrap();
                }
            }
            strategy.close();
            go_tx.send(()).unwrap();
            let outcome = consumer.join().unwrap();
            assert_eq!(outcome.frames_seen, 10);
            assert_eq!(outcome.torn_frames, 0);
            assert_eq!(outcome.out_of_order, 0);
            assert!(outcome.cpu_ns.is_some(), "its thread's CPU over the window");
            let result = assemble(
                strategy.name(),
                &config,
                producer,
                vec![ConsumerResult::Done(Box::new(outcome))],
                strategy.stats(),
                CpuUsage::default(),
                None,
                MemoryRecord::default(),
            );
            assert_eq!(result.drop_rate, 20.0 / 30.0);
            assert_eq!(result.per_consumer[0].drop_rate, Some(20.0 / 30.0));
            assert_eq!(result.per_consumer[0].frames_seen, 10);
            // Every frame it saw is in exactly one interval of the timeline.
            let counted: u64 = result.timeline.iter().map(|p| p.count).sum();
            assert_eq!(counted, 10);
        }
    }

    /// A consumer thread that never ends (a strategy stuck in a wait) is given up at the
    /// deadline as `stalled`; the others are collected as usual.
    #[test]
    fn a_consumer_thread_that_never_ends_is_reported_stalled() {
        let config = small_config();
        let strategy = Arc::new(fbench_strategies::MutexStrategy::new(&StrategyParams::new(
            config.frame_len(),
            2,
        )));
        strategy.close();
        let (release, stuck) = mpsc::channel::<()>();
        let finished = {
            let spec = config.consumer_spec(0);
            let reader = strategy.clone().reader();
            thread::spawn(move || Some(consume(&spec, reader, 0)))
        };
        let stuck = thread::spawn(move || {
            let _ = stuck.recv();
            None
        });
        while !finished.is_finished() {
            thread::yield_now();
        }
        let mut host = Threads {
            gate: Arc::new(StartGate::default()),
            handles: vec![finished, stuck],
        };
        let collected = Host::<fbench_strategies::MutexStrategy>::collect(
            &mut host,
            &strategy,
            &config,
            monotonic_ns() + 20_000_000,
        );
        let ends: Vec<&str> = collected
            .consumers
            .iter()
            .map(|c| match c {
                ConsumerResult::Done(_) => "ok",
                ConsumerResult::Lost { status, .. } => status,
            })
            .collect();
        assert_eq!(ends, ["ok", "stalled"]);
        // Let the detached thread end, so the test leaves nothing running.
        release.send(()).unwrap();
    }

    /// Three streams of two consumers at 100 fps for 300 ms: every stream has exactly 30 due
    /// frames (its own absolute schedule, shifted by a third of a period per stream), the run
    /// 90; every consumer is recorded under its stream; the run's age histogram is its
    /// streams' merged; the run's CPU and memory are the whole run's, sampled once.
    #[test]
    fn k_streams_have_k_times_the_due_frames() {
        let mut config = small_config();
        config.consumers = 2;
        config.streams = 3;
        config.fps = 100.0;
        config.duration = std::time::Duration::from_millis(300);
        config.warmup = std::time::Duration::from_millis(100);
        for kind in [StrategyKind::Mutex, StrategyKind::ArcSwap] {
            let result = crate::registry::run(kind, &config, &mut |_| {}).unwrap();
            assert_eq!(result.config.streams, 3);
            let phases: Vec<u64> = result.streams.iter().map(|s| s.phase_ns).collect();
            assert_eq!(phases, [0, 3_333_333, 6_666_666]);
            for stream in &result.streams {
                assert_eq!(stream.frames.due, 30, "{kind:?} stream {}", stream.stream);
                assert_eq!(
                    stream.frames.produced + stream.frames.source_overruns,
                    30,
                    "{kind:?}"
                );
                assert_eq!(stream.torn_frames, 0);
            }
            assert_eq!(result.frames.due, 90);
            let streams: Vec<Option<usize>> =
                result.per_consumer.iter().map(|c| c.stream).collect();
            assert_eq!(
                streams,
                [Some(0), Some(0), Some(1), Some(1), Some(2), Some(2)]
            );
            let seen: u64 = result.per_consumer.iter().map(|c| c.frames_seen).sum();
            assert_eq!(result.age_ns.count, seen);
            let merged: u64 = result.streams.iter().map(|s| s.age_ns.count).sum();
            assert_eq!(merged, seen);
            assert_eq!(
                result.worst_stream,
                crate::streams::worst_stream(&result.streams)
            );
            assert!(result.memory.peak_pss_bytes > 0 || result.memory.timeline.is_empty());
            let leaks = result.leaks.unwrap();
            assert_eq!(leaks.readers_outstanding, 0, "{kind:?}");
        }
    }

    /// A `--slow` group aimed at one stream reaches only that stream's consumers.
    #[test]
    fn a_slow_group_aimed_at_a_stream_stays_in_it() {
        let mut config = small_config();
        config.consumers = 2;
        config.streams = 2;
        config.slow = vec!["1:sleep:5ms@stream1".parse().unwrap()];
        let of = |config: &RunConfig, stream: usize| -> Vec<String> {
            let config = config.for_stream(stream);
            (0..2)
                .map(|id| config.workload_of(id).to_string())
                .collect()
        };
        assert_eq!(of(&config, 0), ["inspect", "inspect"]);
        assert_eq!(of(&config, 1), ["inspect", "sleep:5ms"]);
        // Untargeted groups apply to every stream.
        config.slow = vec!["1:copy".parse().unwrap()];
        assert_eq!(of(&config, 0), ["inspect", "copy"]);
        assert_eq!(of(&config, 1), ["inspect", "copy"]);
    }

    #[test]
    fn drops_are_counted_exactly_for_every_strategy() {
        let params = StrategyParams::new(small_config().frame_len(), 1);
        for kind in StrategyKind::ALL {
            kind.build(&params, ExactDrops).unwrap();
        }
    }
}
