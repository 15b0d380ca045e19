//! One run: a paced producer, N consumers, a controller that samples memory and reports
//! progress. Every figure comes from the measured window (after warm-up).

use std::sync::{Arc, Barrier, OnceLock};
use std::thread;

use fbench_strategies::{
    FrameMeta, FrameView, Publish, Reader, Strategy, StrategyKind, WaitMode, WaitOutcome,
    WithStrategy,
};

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

mod live;
pub mod process;

/// How often the controller samples memory and reports progress.
const SAMPLE_EVERY_NS: u64 = 100_000_000;
/// Head start between "every thread exists" and the first frame: time for the threads to
/// leave the start barrier and reach their first wait.
pub(crate) const START_DELAY_NS: u64 = 5_000_000;

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
}

/// Run `kind` under `config`. `progress` is called from the calling thread with the
/// fraction of the run done (0.0 to 1.0), about ten times a second. Cross-process strategies
/// run their consumers as processes ([`process`]); the others as threads.
pub fn run(
    kind: StrategyKind,
    config: &RunConfig,
    progress: &mut dyn FnMut(f64),
) -> Result<RunResult, RunError> {
    let baseline = memory_of("self").map(|(_, pss)| pss).unwrap_or(0);
    let result = if kind.is_cross_process() {
        process::run(kind, config, progress, baseline)?
    } else {
        kind.build(
            &config.strategy_params(),
            Runner {
                config,
                progress,
                baseline_pss: baseline,
            },
        )?
    };
    if crate::interrupt::requested() {
        return Err(RunError::Interrupted);
    }
    let mut result = result;
    if kind.is_cross_process() {
        // The strategy (and with it the segment) is gone by now: anything of ours left in
        // /dev/shm was not released.
        if let Some(leaks) = result.leaks.as_mut() {
            leaks.segments_left = crate::soak::own_segments() as u64;
        }
    }
    Ok(result)
}

struct Runner<'a> {
    config: &'a RunConfig,
    progress: &'a mut dyn FnMut(f64),
    baseline_pss: u64,
}

impl WithStrategy for Runner<'_> {
    type Output = RunResult;

    fn run<S: Strategy>(self, strategy: Arc<S>) -> RunResult {
        let config = self.config;
        let timeline_cell = OnceLock::new();
        let ready = Barrier::new(config.consumers + 2);

        let (producer, consumers, cpu, allocations, memory) = thread::scope(|scope| {
            let consumers: Vec<_> = (0..config.consumers)
                .map(|id| {
                    let reader = strategy.clone().reader();
                    let (ready, timeline_cell) = (&ready, &timeline_cell);
                    let spec = config.consumer_spec(id);
                    scope.spawn(move || {
                        ready.wait(); // everyone exists
                        ready.wait(); // the timeline is set
                        let timeline: &Timeline =
                            timeline_cell.get().expect("set between the barriers");
                        consume(&spec, reader, timeline.measure_start)
                    })
                })
                .collect();
            let producer = {
                let (ready, timeline_cell, strategy) = (&ready, &timeline_cell, &strategy);
                scope.spawn(move || {
                    // Close the strategy however the producer ends, so no consumer waits forever.
                    let _close = CloseOnDrop(&**strategy);
                    let mut source = config.source.open(&config.frame);
                    ready.wait();
                    ready.wait();
                    let timeline = *timeline_cell.get().expect("set between the barriers");
                    match source.live() {
                        Some(camera) => live::produce(&**strategy, camera, config, &timeline),
                        None => produce(&**strategy, &mut *source, config, &timeline),
                    }
                })
            };

            // Every thread exists before the schedule is fixed, so even a thousand consumers
            // cannot make the first frames late.
            ready.wait();
            let start = monotonic_ns() + START_DELAY_NS;
            let measure_start = start + config.warmup.as_nanos() as u64;
            let timeline = Timeline {
                start,
                measure_start,
                end: measure_start + config.duration.as_nanos() as u64,
            };
            timeline_cell.set(timeline).expect("set once");
            ready.wait();

            let (cpu, allocations, memory) = control(
                &timeline,
                self.progress,
                &mut || memory_of("self"),
                &|| strategy.stats(),
                &mut || {},
            );
            let producer = producer.join();
            let consumers: Vec<_> = consumers
                .into_iter()
                .enumerate()
                .map(|(id, c)| match c.join() {
                    Ok(outcome) if outcome.killed => ConsumerResult::Lost {
                        id,
                        status: "killed",
                    },
                    Ok(outcome) => ConsumerResult::Done(Box::new(outcome)),
                    Err(_) => ConsumerResult::Lost {
                        id,
                        status: "panicked",
                    },
                })
                .collect();
            (producer, consumers, cpu, allocations, memory)
        });

        let producer = match producer {
            Ok(producer) => producer,
            // A panic in our own producer loop is a bug: surface it, don't report garbage.
            Err(panic) => std::panic::resume_unwind(panic),
        };
        let stats = strategy.stats();
        // Every consumer thread has ended and dropped its reader: what is still out is leaked.
        let leaks = crate::soak::LeakCheck {
            readers_outstanding: Arc::strong_count(&strategy) as u64 - 1,
            frames_outstanding: strategy.frames_outstanding(),
            segments_left: 0,
        };
        let mut result = assemble(
            strategy.name(),
            config,
            producer,
            consumers,
            stats,
            cpu,
            allocations,
            MemoryRecord {
                baseline_pss_bytes: self.baseline_pss,
                ..memory
            },
        );
        result.leaks = Some(leaks);
        result.queues = strategy
            .queue_stats()
            .map(|queues| queues.into_iter().map(Into::into).collect());
        result
    }
}

pub(crate) struct CloseOnDrop<'a, S: Strategy>(&'a S);

impl<S: Strategy> Drop for CloseOnDrop<'_, S> {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// The controller: samples memory (`sample_memory` gives RSS and PSS summed over every
/// process taking part) every 100 ms, takes CPU and allocation counts at the window's
/// edges, reports progress, calls `on_tick` at every sample, and stops early on Ctrl-C.
pub(crate) fn control(
    timeline: &Timeline,
    progress: &mut dyn FnMut(f64),
    sample_memory: &mut dyn FnMut() -> Option<(u64, u64)>,
    sample_counts: &dyn Fn() -> fbench_strategies::StrategyStats,
    on_tick: &mut dyn FnMut(),
) -> (CpuUsage, Option<u64>, MemoryRecord) {
    let mut memory = MemoryRecord::default();
    let mut window_start: Option<(CpuUsage, Option<u64>)> = None;
    let total = (timeline.end - timeline.start) as f64;
    let mut next_sample = timeline.start;
    loop {
        let now = monotonic_ns();
        if window_start.is_none() && now >= timeline.measure_start {
            window_start = Some((CpuUsage::now(), crate::alloc::allocations()));
        }
        if now >= timeline.end || crate::interrupt::requested() {
            break;
        }
        if now >= next_sample {
            on_tick();
            if let Some((rss, pss)) = sample_memory() {
                let counts = sample_counts();
                memory.peak_rss_bytes = memory.peak_rss_bytes.max(rss);
                memory.peak_pss_bytes = memory.peak_pss_bytes.max(pss);
                memory.timeline.push(MemorySample {
                    t_ms: now.saturating_sub(timeline.start) / 1_000_000,
                    rss_bytes: rss,
                    pss_bytes: pss,
                    published: counts.published,
                    producer_drops: counts.producer_drops,
                });
            }
            progress((now.saturating_sub(timeline.start) as f64 / total).min(1.0));
            next_sample += SAMPLE_EVERY_NS;
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
        ..ProducerOutcome::default()
    };
    let mut slot: u64 = 0;
    loop {
        let due = due_at(slot);
        if due >= timeline.end || crate::interrupt::requested() {
            break;
        }
        sleep_until(due);
        let offset = due.saturating_sub(timeline.measure_start);
        for (w, window) in windows.iter().enumerate() {
            let started = due >= timeline.measure_start && offset >= window.start;
            if started && stats_at_start[w].is_none() {
                stats_at_start[w] = Some(strategy.stats());
            }
        }
        let seq = slot + 1;
        let mut render_ns = 0;
        let mut capture_ns = 0;
        let before = monotonic_ns();
        let outcome = strategy.publish(|frame: &mut [u8]| {
            let render_start = monotonic_ns();
            source.render(seq, frame);
            integrity::stamp(frame, seq);
            let checksum = match verify {
                VerifyMode::Full => integrity::checksum(frame),
                _ => 0,
            };
            capture_ns = monotonic_ns();
            render_ns = capture_ns - render_start;
            FrameMeta {
                seq,
                capture_ns,
                checksum,
                width,
                height,
                format,
                ..FrameMeta::default()
            }
        });
        let after = monotonic_ns();
        let stamp_time = if capture_ns > 0 { capture_ns } else { after };
        if let Publish::Published(publish_seq) = outcome {
            out.last_publish = publish_seq;
        }
        if stamp_time >= timeline.measure_start {
            out.counts.produced += 1;
            match outcome {
                Publish::Published(publish_seq) => {
                    // Only accepted frames: a refusal returns at once and would flatter
                    // the distribution of the strategy's real publishing work.
                    out.publish
                        .record((after - before).saturating_sub(render_ns));
                    out.render.record(render_ns);
                    out.counts.published += 1;
                    if out.window_first_publish == 0 {
                        out.window_first_publish = publish_seq;
                    }
                }
                Publish::Dropped => out.counts.producer_drops += 1,
            }
            let offset = stamp_time - timeline.measure_start;
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
                out.counts.source_overruns += 1;
                let offset = skipped - timeline.measure_start;
                for (w, window) in windows.iter().enumerate() {
                    if window.contains(offset) {
                        out.windows[w].source_overruns += 1;
                    }
                }
            }
            slot += 1;
        }
    }
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
    let mut out = ConsumerOutcome {
        id: spec.id,
        workload,
        frames_seen: 0,
        age: Latency::new(),
        acquire: Latency::new(),
        e2e: Latency::new(),
        torn_frames: 0,
        out_of_order: 0,
        deadline_misses: 0,
        windows: vec![SeenTally::default(); spec.faults.windows.len()],
        killed: false,
    };
    let faults = &spec.faults;
    let mut stalled = false;
    let mut last = 0u64;
    let mut sink = 0u64;
    while let WaitOutcome::Newer(_) = reader.wait_newer(last, spec.wait) {
        let acquire_start = monotonic_ns();
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
                sleep_until(measure_start + stall.end);
            }
        }
        // Again before release: a zero-copy frame could have been overwritten while held.
        let whole_on_release = integrity::verify(frame.bytes(), &meta, verify);
        let done = monotonic_ns();
        drop(frame);
        if meta.capture_ns >= measure_start {
            out.frames_seen += 1;
            out.age.record(held.saturating_sub(meta.capture_ns));
            out.acquire.record(held - acquire_start);
            let e2e = done.saturating_sub(meta.capture_ns);
            out.e2e.record(e2e);
            if e2e > spec.deadline_ns {
                out.deadline_misses += 1;
            }
            if !(whole_on_acquire && whole_on_release) {
                out.torn_frames += 1;
            }
            let capture_offset = meta.capture_ns - measure_start;
            for (tally, window) in out.windows.iter_mut().zip(&faults.windows) {
                if window.contains(capture_offset) {
                    tally.add(held.saturating_sub(meta.capture_ns));
                }
            }
        }
    }
    std::hint::black_box(sink);
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
    let (mut age, mut acquire, mut e2e) = (Latency::new(), Latency::new(), Latency::new());
    let mut per_consumer = Vec::with_capacity(consumers.len());
    let (mut seen_total, mut expected_total) = (0u64, 0u64);
    let (mut torn, mut out_of_order, mut misses, mut lost) = (0, 0, 0, 0);
    for consumer in consumers {
        match consumer {
            ConsumerResult::Done(c) => {
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
                    workload: c.workload.to_string(),
                    frames_seen: c.frames_seen,
                    age_ns: c.age.summary(),
                    acquire_ns: c.acquire.summary(),
                    e2e_ns: c.e2e.summary(),
                    drop_rate: Some(drop_rate(c.frames_seen)),
                    deadline_misses: c.deadline_misses,
                    torn_frames: c.torn_frames,
                    out_of_order: c.out_of_order,
                    status: "ok".into(),
                });
            }
            ConsumerResult::Lost { id, status } => {
                // Its figures died with it: the run's figures are over the survivors, the
                // loss is counted in `consumers_lost`, and its own record says so.
                lost += 1;
                per_consumer.push(ConsumerRecord {
                    id,
                    workload: config.workload_of(id).to_string(),
                    frames_seen: 0,
                    age_ns: Latency::new().summary(),
                    acquire_ns: Latency::new().summary(),
                    e2e_ns: Latency::new().summary(),
                    drop_rate: None,
                    deadline_misses: 0,
                    torn_frames: 0,
                    out_of_order: 0,
                    status: status.into(),
                })
            }
        }
    }
    RunResult {
        strategy: strategy.to_string(),
        consumers: config.consumers,
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
        deadline_misses: misses,
        torn_frames: torn,
        out_of_order,
        memory,
        cpu,
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
        limits: None,
        queues: None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use fbench_strategies::{StrategyParams, WaitMode};

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
                start: 0,
                measure_start: 0,
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
        }
    }

    #[test]
    fn drops_are_counted_exactly_for_every_strategy() {
        let params = StrategyParams::new(small_config().frame_len(), 1);
        for kind in StrategyKind::ALL {
            kind.build(&params, ExactDrops).unwrap();
        }
    }
}
