//! The consumer host for strategies whose consumers are separate processes (`shm`,
//! `shm-naive`, the `iceoryx2` peer, and any user strategy implementing
//! [`fbench_strategies::CrossProcess`]).
//!
//! What the processes attach to is the strategy's business: a segment for `shm`, iceoryx2
//! services for `iceoryx2`; both sides of it are the strategy's [`CrossProcess`] methods.
//! Everything else here is shared, and the run itself is the one driver's
//! (`runner::drive`).
//!
//! The parent creates the segment and is the producer. Each consumer is a child process
//! running the same binary (the hidden `__consumer` subcommand, see [`consumer_args`]) that
//! attaches to the segment by name. Start barrier: children count themselves in the segment
//! and sleep on a futex until the parent, having seen all of them, says go. Each child
//! measures with the same consumer loop as a thread would and, when the strategy closes,
//! writes its figures (histograms in HdrHistogram's encoding, counters, its CPU) as one JSON
//! line on its stdout, a pipe to the parent.
//!
//! Lifecycle: children get SIGKILL when the parent dies (PR_SET_PDEATHSIG) and ignore SIGINT,
//! SIGQUIT and SIGHUP (a Ctrl-C, Ctrl-\ or closed terminal reaches the whole process group;
//! the parent shuts them down in order instead). The parent reaps every child on every path
//! and never waits for one without a deadline: it reads all reports at once with `poll`
//! until the producer's end + the longest workload hold + 5 s
//! ([`super::STALL_GRACE_NS`]); a child that has not reported by then (stopped, stuck) is
//! reported `stalled`, killed and reaped. After a stop request it kills them at once. A
//! child that dies mid-run is reported `crashed`, and the slot it held is reclaimed. The
//! segment is removed when the strategy drops, on every path that unwinds; a parent killed
//! outright leaves it for `fbench clean`.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread;

use fbench_strategies::{BuildError, CrossProcess, Reader, StrategyParams};
use serde::{Deserialize, Serialize};

use super::{
    consume, drive, Collected, ConsumerOutcome, ConsumerResult, ConsumerSpec, Host, RunError,
    Stream, Timeline,
};
use crate::clock::{monotonic_ns, sleep_until};
use crate::config::RunConfig;
use crate::metrics::{memory_of, CpuUsage, Latency, LatencySummary};
use crate::result::RunResult;

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
    /// Frames seen, age and acquire per interval (latency over time).
    #[serde(default)]
    intervals: crate::timeline::WireIntervals,
}

/// The arguments of the hidden subcommand for consumer `spec.id` of strategy `strategy`'s
/// run `segment`.
pub fn consumer_args(strategy: &str, segment: &str, spec: &ConsumerSpec) -> Vec<String> {
    vec![
        CONSUMER_SUBCOMMAND.to_string(),
        "--strategy".into(),
        strategy.to_string(),
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
        "--interval-ns".into(),
        spec.interval_ns.to_string(),
    ]
}

/// Consume until closed, then write the figures as one JSON line on stdout.
pub(crate) fn consume_and_report<R: Reader>(
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
    let line = encode_behind_readers(outcome, cpu_start, alloc_start)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|e| e.to_string())
}

/// How long a consumer process that has seen the final frame lets a lowest-priority thread
/// encode its report before it encodes the report itself at its normal priority.
const ENCODE_BEHIND_READERS: std::time::Duration = std::time::Duration::from_millis(200);

/// A consumer process's report line, encoded at the lowest priority (nice 19) while other
/// consumers may still be reading, for at most [`ENCODE_BEHIND_READERS`].
///
/// Encoding the report (three whole histograms, DEFLATE and base64, and the intervals) takes
/// milliseconds of CPU (about 5 ms on the loaded 2-vCPU machine of docs/strategies.md), and
/// every consumer does it the moment it has seen the final frame. At 20 consumer processes on
/// two CPUs those still holding the final frame waited behind the others' encoding: the age
/// maximum of a run's last second was 46–153 ms where each earlier second had 4–20 ms, for
/// `shm` and `iceoryx2` alike (*Where shm's time goes* in docs/strategies.md). A nice-19
/// thread encodes when no consumer still reading wants the CPU. Bounded, because nice 19 is a
/// small share where other work of normal priority keeps the CPUs busy (spinning readers of
/// another run, a debug build's slow encoding): after [`ENCODE_BEHIND_READERS`] this thread,
/// still at its normal priority, encodes the report itself, so it is never later than that
/// plus one encoding, well inside the parent's wait (the producer's end + 5 s).
fn encode_behind_readers(
    outcome: ConsumerOutcome,
    cpu_start: CpuUsage,
    alloc_start: Option<u64>,
) -> Result<String, String> {
    let outcome = Arc::new(outcome);
    let (line_tx, line_rx) = std::sync::mpsc::channel();
    let behind = {
        let outcome = outcome.clone();
        thread::Builder::new().name("report".into()).spawn(move || {
            // SAFETY: plain system calls on this thread's own id: with PRIO_PROCESS and a
            // thread id, Linux sets that thread's nice value alone (the consumer's own
            // thread keeps its priority). Raising one's own nice value needs no privilege;
            // should it fail, this thread merely encodes at the normal priority.
            unsafe {
                let tid = libc::gettid();
                libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 19);
            }
            let _ = line_tx.send(report_line(&outcome, cpu_start, alloc_start));
        })
    };
    match behind
        .ok()
        .and_then(|_| line_rx.recv_timeout(ENCODE_BEHIND_READERS).ok())
    {
        Some(line) => line,
        None => report_line(&outcome, cpu_start, alloc_start),
    }
}

/// A consumer process's figures, as one JSON line on `out` (stdout for fbench's own, the
/// report pipe for an external consumer).
pub(crate) fn write_report(
    outcome: ConsumerOutcome,
    cpu_start: CpuUsage,
    alloc_start: Option<u64>,
    mut out: impl std::io::Write,
) -> Result<(), String> {
    let line = report_line(&outcome, cpu_start, alloc_start)?;
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|e| e.to_string())
}

/// A consumer process's figures as one line of JSON (without the newline).
fn report_line(
    outcome: &ConsumerOutcome,
    cpu_start: CpuUsage,
    alloc_start: Option<u64>,
) -> Result<String, String> {
    let report = ChildReport {
        frames_seen: outcome.frames_seen,
        age: outcome.age.summary(),
        acquire: outcome.acquire.summary(),
        e2e: outcome.e2e.summary(),
        torn_frames: outcome.torn_frames,
        out_of_order: outcome.out_of_order,
        deadline_misses: outcome.deadline_misses,
        windows: outcome.windows.clone(),
        intervals: outcome.intervals.to_wire(),
        cpu: CpuUsage::now().since(&cpu_start),
        allocations: match (alloc_start, crate::alloc::allocations()) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a)),
            _ => None,
        },
    };
    serde_json::to_string(&report).map_err(|e| e.to_string())
}

/// A consumer process and what became of it.
struct Consumer {
    child: Child,
    /// The read end of an external consumer's report pipe (fbench's own report on stdout).
    report: Option<std::fs::File>,
    /// Set once the child has exited before the end of the run (it was reaped then).
    died: bool,
    /// It exited by itself with status 0 before the end (an external consumer that left
    /// early, having sent its figures).
    left: bool,
    /// When the parent SIGKILLs it (a `kill` fault), monotonic ns; cleared once done.
    kill_at: Option<u64>,
    /// When the `kill` fault is due, after the measured window's start.
    kill_after: Option<u64>,
    /// The parent killed it on purpose: reported `killed`, not `crashed`.
    killed: bool,
    /// How it ended, once reaped.
    exit: Option<std::process::ExitStatus>,
}

impl Consumer {
    /// The status of a consumer whose figures were lost.
    fn lost_status(&self) -> &'static str {
        use std::os::unix::process::ExitStatusExt as _;
        if self.killed {
            "killed"
        } else if self.exit.and_then(|s| s.code())
            == Some(fbench_strategies::shm::EXIT_CORRUPT_SEGMENT)
            && self.exit.and_then(|s| s.signal()).is_none()
        {
            "corrupt segment"
        } else {
            "crashed"
        }
    }
}

fn spawn_consumers(
    strategy: &str,
    segment: &str,
    config: &RunConfig,
    netns: Option<std::os::fd::RawFd>,
) -> Result<Vec<Consumer>, RunError> {
    let exe = std::env::current_exe()
        .map_err(|e| RunError::Process(format!("cannot find this executable: {e}")))?;
    let parent = std::process::id();
    let mut children = Vec::with_capacity(config.consumers);
    for id in 0..config.consumers {
        let mut spec = config.consumer_spec(id);
        // A process is killed by the parent (see `tick`), not asked to end itself.
        let kill_after = spec.faults.end_at.take();
        let (mut command, report) =
            match super::external::external_command(&config.consumer_cmd, id) {
                Some(external) => {
                    let (command, report) = super::external::command_for(
                        external,
                        strategy,
                        segment,
                        &spec,
                        &config.frame,
                    )
                    .map_err(|e| RunError::Process(format!("cannot start consumer {id}: {e}")))?;
                    (command, Some(report))
                }
                None => {
                    let mut command = Command::new(&exe);
                    command
                        .args(consumer_args(strategy, segment, &spec))
                        .stdout(Stdio::piped());
                    (command, None)
                }
            };
        command.stdin(Stdio::null()).stderr(Stdio::inherit());
        // SAFETY: the closure runs in the forked child before exec and only makes
        // async-signal-safe system calls (setns, prctl, signal, getppid, _exit); the array is
        // on the stack, no allocation; the namespace's descriptor stays open in the parent
        // (the `Netns` guard) until every child is reaped.
        unsafe {
            command.pre_exec(move || {
                // `--remote netns`: the consumer lives in the run's other namespace.
                if let Some(fd) = netns {
                    if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                // Die with the parent. Checked against the parent's pid afterwards, in case
                // it died between fork and prctl.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                // Ctrl-C, Ctrl-\ and a closed terminal reach the whole process group: the
                // parent sees them and shuts the children down itself, in order.
                for signal in [libc::SIGINT, libc::SIGQUIT, libc::SIGHUP] {
                    libc::signal(signal, libc::SIG_IGN);
                }
                if libc::getppid() as u32 != parent {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
        let child = command
            .spawn()
            .map_err(|e| RunError::Process(format!("cannot start consumer {id}: {e}")))?;
        // Our copy of the pipe's write end went with `command`: the read end sees EOF when
        // the consumer's copy closes.
        drop(command);
        children.push(Consumer {
            child,
            report,
            died: false,
            left: false,
            kill_at: None,
            kill_after,
            killed: false,
            exit: None,
        });
    }
    Ok(children)
}

/// Run a cross-process strategy created by `create(params, run_name)`: one child process
/// per consumer, through the one driver.
pub(crate) fn drive_processes<S, F>(
    create: &F,
    config: &RunConfig,
    progress: &mut dyn FnMut(f64),
) -> Result<RunResult, RunError>
where
    S: CrossProcess,
    F: Fn(&StrategyParams, &str) -> Result<S, BuildError>,
{
    let baseline_pss = memory_of("self").map_or(0, |(_, pss)| pss);
    let name = fbench_strategies::shm::unique_name();
    // `--remote netns`: declared before the strategy and the children, so that it is
    // removed after both, on every path.
    let netns = match config.remote.netns {
        true => Some(
            crate::remote::Netns::create(config.remote.link)
                .map_err(|e| RunError::Process(e.to_string()))?,
        ),
        false => None,
    };
    #[cfg(feature = "net")]
    fbench_strategies::zenoh::listen_on(match &netns {
        Some(netns) => netns.host_address(),
        None => std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
    });
    let mut result = {
        // One strategy instance per stream, each under its own name (so its own segment or
        // services). A stream drops its children before its strategy, so the segment goes
        // after they are reaped.
        let mut streams = Vec::with_capacity(config.streams);
        for stream in 0..config.streams.max(1) {
            let name = if stream == 0 {
                name.clone()
            } else {
                fbench_strategies::shm::unique_name()
            };
            let strategy = create(&config.strategy_params(), &name)?;
            let host = Children {
                run: name,
                consumers: Vec::new(),
                reclaimed: 0,
                netns: netns.as_ref().map(|n| n.fd()),
            };
            streams.push(Stream::new(stream, strategy, host, config));
        }
        drive(&mut streams, config, progress, baseline_pss)?
    };
    // The strategy (and with it the segment) is gone by now: anything of ours left in
    // /dev/shm was not released.
    if let Some(leaks) = result.leaks.as_mut() {
        leaks.segments_left = crate::leaks::own_segments() as u64;
    }
    Ok(result)
}

/// The consumer processes of one run. Kills and reaps every child still running when
/// dropped: no path leaves one behind.
struct Children {
    run: String,
    consumers: Vec<Consumer>,
    reclaimed: u64,
    /// The namespace the consumers enter (`--remote netns`).
    netns: Option<std::os::fd::RawFd>,
}

impl Drop for Children {
    fn drop(&mut self) {
        for consumer in &mut self.consumers {
            if !consumer.died {
                let _ = consumer.child.kill();
                let _ = consumer.child.wait();
            }
        }
    }
}

impl<S: CrossProcess> Host<S> for Children {
    fn launch(&mut self, strategy: &Arc<S>, config: &RunConfig) -> Result<(), RunError> {
        self.consumers = spawn_consumers(strategy.name(), &self.run, config, self.netns)?;
        // Wait until every child has attached, none has died, and the user has not
        // interrupted.
        let deadline = monotonic_ns() + ATTACH_TIMEOUT_NS;
        while strategy.attached() < self.consumers.len() {
            if crate::interrupt::requested() {
                return Err(RunError::Interrupted);
            }
            for (id, consumer) in self.consumers.iter_mut().enumerate() {
                if let Ok(Some(status)) = consumer.child.try_wait() {
                    consumer.died = true;
                    if let Some(external) =
                        super::external::external_command(&config.consumer_cmd, id)
                    {
                        // The user's command: most likely their mistake, said as such.
                        return Err(RunError::ExternalConsumer(format!(
                            "--consumer-cmd '{}': consumer {id} exited before attaching to the run ({status}); it must attach with the fbench consumer library (see its stderr above)",
                            external.command
                        )));
                    }
                    return Err(RunError::Process(format!(
                        "consumer {id} exited before the run started ({status})"
                    )));
                }
            }
            if monotonic_ns() > deadline {
                return Err(RunError::Process(format!(
                    "only {} of {} consumers attached in time",
                    strategy.attached(),
                    self.consumers.len()
                )));
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        Ok(())
    }

    fn go(&mut self, strategy: &S, timeline: &Timeline) -> Result<(), RunError> {
        strategy.go(timeline.measure_start)?;
        for consumer in &mut self.consumers {
            consumer.kill_at = consumer
                .kill_after
                .map(|after| timeline.measure_start + after);
        }
        Ok(())
    }

    fn outside_memory(&mut self) -> Option<(u64, u64)> {
        // PSS summed over every live child (the driver adds the parent): shared pages (the
        // segment, the executable) count once in all. RSS summed counts them once per
        // process.
        let mut total = (0, 0);
        for consumer in self.consumers.iter().filter(|c| !c.died) {
            if let Some((rss, pss)) = memory_of(&consumer.child.id().to_string()) {
                total.0 += rss;
                total.1 += pss;
            }
        }
        Some(total)
    }

    fn tick(&mut self, strategy: &S) {
        let now = monotonic_ns();
        for consumer in self.consumers.iter_mut() {
            if consumer.kill_at.is_some_and(|at| now >= at) && !consumer.died {
                // The `kill` fault: SIGKILL, as a crash would; reaped and reclaimed below.
                consumer.kill_at = None;
                consumer.killed = true;
                let _ = consumer.child.kill();
            }
        }
        for (id, consumer) in self.consumers.iter_mut().enumerate() {
            if !consumer.died {
                if let Ok(Some(status)) = consumer.child.try_wait() {
                    // Reaped, so it can no longer touch the segment: take its slot back.
                    consumer.died = true;
                    consumer.exit = Some(status);
                    consumer.left = status.success() && !consumer.killed;
                    if strategy.reclaim(id) {
                        self.reclaimed += 1;
                    }
                }
            }
        }
    }

    fn collect(&mut self, strategy: &S, config: &RunConfig, report_by: u64) -> Collected {
        // After Ctrl-C nothing is reported: stop waiting at once.
        let deadline = if crate::interrupt::requested() {
            monotonic_ns()
        } else {
            report_by
        };
        let lines = read_reports(&mut self.consumers, deadline);
        let mut results = Vec::with_capacity(self.consumers.len());
        let (mut cpu, mut allocations) = (CpuUsage::default(), Some(0u64));
        for (id, (consumer, line)) in self.consumers.iter_mut().zip(lines).enumerate() {
            let mut stalled = false;
            let report = match line {
                // Died mid-run: no figures, unless it left early and cleanly (an external
                // consumer may), having sent them.
                _ if consumer.died && !consumer.left => None,
                Some(text) => {
                    // It closed its stdout: exiting, or stopped just before. Exiting is
                    // given the rest of the deadline, as reading was.
                    let clean_exit = consumer.left
                        || matches!(reap_by(consumer, deadline), Some(s) if s.success());
                    if !consumer.died {
                        stalled = true;
                    }
                    clean_exit
                        .then(|| serde_json::from_str::<ChildReport>(text.trim()).ok())
                        .flatten()
                }
                None => {
                    // Nothing by the deadline: stopped, or stuck in a workload or a wait.
                    stalled = true;
                    None
                }
            };
            if !consumer.died {
                // Killing a stopped process works: SIGKILL needs no cooperation.
                let _ = consumer.child.kill();
                let _ = consumer.child.wait();
                consumer.died = true;
                if strategy.reclaim(id) {
                    self.reclaimed += 1;
                }
            }
            match report.and_then(|r| outcome_of(id, config, r).ok()) {
                Some((outcome, their_cpu, their_allocations)) => {
                    cpu = cpu.plus(&their_cpu);
                    allocations = allocations.zip(their_allocations).map(|(a, b)| a + b);
                    results.push(ConsumerResult::Done(Box::new(outcome)));
                }
                None => results.push(ConsumerResult::Lost {
                    id,
                    status: if stalled {
                        "stalled"
                    } else {
                        consumer.lost_status()
                    },
                }),
            }
        }
        Collected {
            consumers: results,
            outside: Some((cpu, allocations)),
            reclaimed: self.reclaimed,
        }
    }
}

/// Read every live consumer's stdout to its end, all at once (a child blocked writing a
/// long report to a full pipe must not wait for its turn), until `deadline` (monotonic ns)
/// or a stop request. `Some(text)` for a consumer whose stdout ended (it closed it, exiting),
/// `None` for one that died earlier (unless it left cleanly) or did not finish by then.
fn read_reports(consumers: &mut [Consumer], deadline: u64) -> Vec<Option<String>> {
    // fbench's own consumers report on their stdout, external ones on their report pipe.
    let mut pipes: Vec<Option<std::fs::File>> = consumers
        .iter_mut()
        .map(|c| {
            if c.died && !c.left {
                return None;
            }
            c.report.take().or_else(|| {
                let out = c.child.stdout.take()?;
                Some(std::fs::File::from(std::os::fd::OwnedFd::from(out)))
            })
        })
        .collect();
    let mut texts: Vec<Vec<u8>> = vec![Vec::new(); consumers.len()];
    let mut ended = vec![false; consumers.len()];
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let mut polled: Vec<(usize, libc::pollfd)> = pipes
            .iter()
            .enumerate()
            .filter(|(i, pipe)| pipe.is_some() && !ended[*i])
            .map(|(i, pipe)| {
                let fd = pipe.as_ref().map_or(-1, |p| p.as_raw_fd());
                (
                    i,
                    libc::pollfd {
                        fd,
                        events: libc::POLLIN,
                        revents: 0,
                    },
                )
            })
            .collect();
        let now = monotonic_ns();
        if polled.is_empty() || now >= deadline || crate::interrupt::requested() {
            break;
        }
        let wait_ms = ((deadline - now).min(crate::interrupt::POLL_NS) / 1_000_000).max(1);
        let mut fds: Vec<libc::pollfd> = polled.iter().map(|(_, fd)| *fd).collect();
        // SAFETY: `fds` is a valid array of `fds.len()` pollfd structures that poll only
        // writes `revents` of, and every fd in it belongs to a pipe we own and keep open.
        let ready =
            unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, wait_ms as i32) };
        if ready <= 0 {
            continue; // timeout, or EINTR from a signal: look at the deadline and the flag
        }
        for ((i, _), fd) in polled.iter_mut().zip(&fds) {
            if fd.revents == 0 {
                continue;
            }
            let Some(pipe) = pipes[*i].as_mut() else {
                continue;
            };
            // poll said readable (or hung up): this read returns at once.
            match pipe.read(&mut chunk) {
                Ok(0) | Err(_) => ended[*i] = true,
                Ok(n) => texts[*i].extend_from_slice(&chunk[..n]),
            }
        }
    }
    texts
        .into_iter()
        .zip(ended)
        .map(|(text, ended)| ended.then(|| String::from_utf8_lossy(&text).into_owned()))
        .collect()
}

/// Wait for `consumer` to exit until `deadline` (at least a moment: it has just closed its
/// stdout), polling; reap it and mark it `died` if it did.
fn reap_by(consumer: &mut Consumer, deadline: u64) -> Option<std::process::ExitStatus> {
    let deadline = deadline.max(monotonic_ns() + crate::interrupt::POLL_NS);
    loop {
        if let Ok(Some(status)) = consumer.child.try_wait() {
            consumer.died = true;
            consumer.exit = Some(status);
            return Some(status);
        }
        if monotonic_ns() >= deadline || crate::interrupt::requested() {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
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
            intervals: crate::timeline::Intervals::from_wire(&report.intervals)?,
            // The process's own accounting over the window: everything the consumer cost.
            cpu_ns: Some((report.cpu.cpu_s() * 1e9) as u64),
        },
        report.cpu,
        report.allocations,
    ))
}
