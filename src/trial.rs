//! One run in its own child process: the executor every command's scheduler calls.
//!
//! The parent re-executes its own binary (`std::env::current_exe()`, so a user's bench
//! binary built with `fbench::main!` runs its own strategies in the child too) with the
//! hidden `__trial` subcommand and the `run` flags that reproduce the run exactly
//! ([`trial_args`]); the child parses them with the same parser as `fbench run`, opens the
//! source, runs the one point and writes its [`RunResult`] (and the interval histograms the
//! JSON leaves out) as one JSON document on its stdout. Its stderr is the user's terminal.
//!
//! Why a process per run: a run leaves freed-but-retained heap, allocator state and threads
//! behind, and the next run in the same process would carry them in its memory and latency
//! figures. A fresh process starts every run from the same state.
//!
//! What this module must never do: keep a frame in the parent, or let a child outlive the
//! parent (the child gets SIGTERM when the parent dies, `PR_SET_PDEATHSIG`).
//!
//! `FBENCH_IN_PROCESS=1` runs every run in the calling process instead (debugging only:
//! runs then inherit each other's heap).

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::Args;
use fbench_harness::calibrate::Calibration;
use fbench_harness::config::{format_duration, pool_policy_name, Wait};
use fbench_harness::machine::available_memory;
use fbench_harness::source::SourceSpec;
use fbench_harness::sweep::SweepPoint;
use fbench_harness::timeline::{Intervals, WireIntervals};
use fbench_harness::{RunError, RunResult};
use fbench_strategies::SlotPolicy;

use crate::flags::{Defaults, RunFlags};

/// Environment variable that makes runs execute in the calling process (debugging only).
pub const IN_PROCESS_ENV: &str = "FBENCH_IN_PROCESS";

/// Test hook, honoured by a run child only: the child of this trial number allocates and
/// touches 100 MB it never frees, as a run that leaks would. Isolation tests check that the
/// next trial does not carry it.
pub const LEAK_TRIAL_ENV: &str = "FBENCH_TEST_LEAK_TRIAL";

/// How long the parent waits for a child it asked to stop before it kills it.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Exit code of a child whose run was interrupted (as the parent's).
const EXIT_INTERRUPTED: i32 = 130;

/// The hidden `__trial` subcommand: exactly one run, described by `run` flags (one value
/// each), its result as JSON on stdout.
#[derive(Debug, Args)]
pub struct TrialArgs {
    #[command(flatten)]
    pub run: RunFlags,

    /// Which trial of its configuration point this run is (1-based), recorded in the result.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub trial: u32,

    /// Calibrate for the point's regime instead of running it: the calibration as JSON.
    #[arg(long)]
    pub calibrate: bool,
}

/// What a run child writes on its stdout: one JSON object, `result` (the run's record) and
/// `intervals` (`result.intervals` as [`WireIntervals`], which the record's JSON leaves
/// out; `null` when the run kept none).
const RESULT_KEY: &str = "result";
const INTERVALS_KEY: &str = "intervals";

/// Why a run did not give a result.
#[derive(Debug)]
pub enum TrialError {
    /// The user asked to stop (SIGINT, SIGTERM): the child stopped and cleaned up.
    Interrupted,
    /// The run failed, or its process crashed: one line naming the strategy and point.
    Failed(anyhow::Error),
}

impl From<TrialError> for anyhow::Error {
    fn from(error: TrialError) -> anyhow::Error {
        match error {
            TrialError::Interrupted => crate::Interrupted::default().into(),
            TrialError::Failed(error) => error,
        }
    }
}

/// The `run` flags that reproduce `point` exactly, one value each: what a run child is
/// given, and a command line a user can re-run (`fbench run` + these).
pub fn trial_args(point: &SweepPoint) -> Vec<String> {
    let c = &point.config;
    let mut args: Vec<String> = Vec::new();
    let mut flag = |name: &str, value: String| {
        args.push(name.to_string());
        args.push(value);
    };
    flag("--strategy", point.strategy.name().to_string());
    match &c.source {
        SourceSpec::Synthetic => flag("--source", "synthetic".to_string()),
        other => flag("--source", other.name()),
    }
    // The sources of streams 1, 2, … (`--source a,b`), in order.
    for other in &c.stream_sources {
        flag("--source", other.name());
    }
    let files = std::iter::once(&c.source)
        .chain(&c.stream_sources)
        .any(|s| !matches!(s, SourceSpec::Synthetic));
    if files {
        // The parent already checked the clips fit; the child may use what is there.
        flag("--source-memory", available_memory().max(1).to_string());
    }
    flag("--consumers", c.consumers.to_string());
    flag("--streams", c.streams.to_string());
    flag("--stream-phase", c.stream_phase.to_string());
    flag("--resolution", c.frame.resolution.to_string());
    flag("--format", c.frame.format.to_string());
    flag("--fps", c.fps.to_string());
    flag("--duration", format_duration(c.duration));
    flag("--warmup", format_duration(c.warmup));
    flag("--workload", c.workload.to_string());
    for slow in &c.slow {
        flag("--slow", slow.to_string());
    }
    flag("--wait", Wait(c.wait).to_string());
    flag("--verify", c.verify.to_string());
    flag("--deadline-tolerance", c.deadline_tolerance.to_string());
    flag("--pool-size", c.pool_size.to_string());
    flag("--pool-policy", pool_policy_name(c.pool_policy).to_string());
    if let Some(slots) = c.slots {
        flag("--slots", slots.to_string());
    }
    flag(
        "--slot-policy",
        match c.slot_policy {
            SlotPolicy::Drop => "drop",
            SlotPolicy::Wait => "wait",
        }
        .to_string(),
    );
    flag("--queue-depth", c.queue_depth.to_string());
    flag("--drop-policy", c.drop_policy.name().to_string());
    flag("--waker", c.waker.name().to_string());
    flag("--interval", format_duration(c.interval));
    for fault in &c.faults {
        flag("--fault", fault.to_string());
    }
    for command in &c.consumer_cmd {
        flag("--consumer-cmd", command.to_string());
    }
    if c.remote.netns {
        flag("--remote", "netns".to_string());
    }
    if let Some(link) = &c.remote.link {
        flag("--link", link.to_string());
    }
    args
}

/// The command line that runs `point` alone, for a user to reproduce a failed run.
pub fn reproduce(point: &SweepPoint) -> String {
    let program = std::env::args()
        .next()
        .and_then(|p| {
            std::path::Path::new(&p)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "fbench".to_string());
    let quoted: Vec<String> = trial_args(point)
        .into_iter()
        .map(|arg| {
            if arg.contains(|c: char| c.is_whitespace() || "'\"$`\\<>|&;()*?".contains(c)) {
                format!("'{}'", arg.replace('\'', "'\\''"))
            } else {
                arg
            }
        })
        .collect();
    format!("{program} run {}", quoted.join(" "))
}

/// A name for `point` in messages: strategy and configuration.
pub fn describe(point: &SweepPoint) -> String {
    let c = &point.config;
    format!(
        "the {} run ({} consumer{}, {}, {} fps)",
        point.strategy.name(),
        c.consumers,
        if c.consumers == 1 { "" } else { "s" },
        c.frame.resolution,
        c.fps
    )
}

/// Run `point` as trial number `trial`, in a child process (or in this process with
/// `FBENCH_IN_PROCESS=1`). `progress` gets the fraction of the planned time gone.
pub fn run(
    point: &SweepPoint,
    trial: u32,
    progress: &mut dyn FnMut(f64),
) -> Result<RunResult, TrialError> {
    let result = if in_process() {
        run_in_process(point, progress)
    } else {
        run_in_child(point, trial, progress)
    }?;
    Ok(RunResult { trial, ..result })
}

fn run_in_process(
    point: &SweepPoint,
    progress: &mut dyn FnMut(f64),
) -> Result<RunResult, TrialError> {
    match point.strategy.run(&point.config, progress) {
        Ok(run) => Ok(run),
        Err(RunError::Interrupted) => Err(TrialError::Interrupted),
        Err(RunError::ExternalConsumer(message)) => {
            Err(TrialError::Failed(crate::UsageError(message).into()))
        }
        Err(error) => Err(TrialError::Failed(
            anyhow::Error::new(error).context(describe(point)),
        )),
    }
}

/// The calibration for `point`'s regime (see `crate::calibrate::for_run`), taken in a child
/// process as runs are, so that its buffers never sit in fbench's own memory.
pub fn calibrate(point: &SweepPoint) -> Result<Calibration, TrialError> {
    if in_process() {
        return Ok(crate::calibrate::for_run(&point.config));
    }
    let bytes = child_output(point, &["--calibrate".to_string()], None, &mut |_| {})?;
    serde_json::from_slice(&bytes).map_err(|e| {
        TrialError::Failed(anyhow::anyhow!(
            "calibrating for {}: its result could not be read: {e}",
            describe(point)
        ))
    })
}

/// What the process planning runs does with a camera source: probes it when the runs are
/// child processes (they open it themselves), opens it when they run here
/// (`FBENCH_IN_PROCESS=1`).
pub(crate) fn planning_device() -> crate::source::Device {
    if in_process() {
        crate::source::Device::Open
    } else {
        crate::source::Device::Probe
    }
}

/// Whether runs execute in this process (`FBENCH_IN_PROCESS=1`, debugging only).
fn in_process() -> bool {
    std::env::var_os(IN_PROCESS_ENV).is_some_and(|v| v != "0")
}

fn run_in_child(
    point: &SweepPoint,
    trial: u32,
    progress: &mut dyn FnMut(f64),
) -> Result<RunResult, TrialError> {
    let failed =
        |message: String| TrialError::Failed(anyhow::anyhow!("{}: {message}", describe(point)));
    let bytes = child_output(
        point,
        &["--trial".to_string(), trial.to_string()],
        Some(point.planned()),
        progress,
    )?;
    let unreadable = |e: serde_json::Error| failed(format!("its result could not be read: {e}"));
    let mut output: serde_json::Value = serde_json::from_slice(&bytes).map_err(unreadable)?;
    #[allow(unused_mut)] // changed only with a camera (feature v4l2)
    let mut result: RunResult =
        serde_json::from_value(output[RESULT_KEY].take()).map_err(unreadable)?;
    // A camera's run process asks the device for what this process's probe was granted; the
    // record keeps the probe's account, which holds what the user asked for.
    #[cfg(feature = "v4l2")]
    if let SourceSpec::V4l2(camera) = &point.config.source {
        result.config.source_detail = Some(camera.detail());
    }
    let wire: Option<WireIntervals> =
        serde_json::from_value(output[INTERVALS_KEY].take()).map_err(unreadable)?;
    let intervals = match &wire {
        Some(wire) => Some(
            Intervals::from_wire(wire)
                .map_err(|e| failed(format!("its interval histograms could not be read: {e}")))?,
        ),
        None => None,
    };
    Ok(RunResult {
        intervals,
        ..result
    })
}

/// Start a `__trial` child for `point` with `extra` arguments, forward a stop to it, wait
/// for it; its stdout when it succeeded. `planned` is how long it should take, for
/// `progress`.
fn child_output(
    point: &SweepPoint,
    extra: &[String],
    planned: Option<Duration>,
    progress: &mut dyn FnMut(f64),
) -> Result<Vec<u8>, TrialError> {
    let failed =
        |message: String| TrialError::Failed(anyhow::anyhow!("{}: {message}", describe(point)));
    let exe = std::env::current_exe()
        .map_err(|e| failed(format!("cannot find this program to start the run: {e}")))?;
    // A program replaced while it runs (rebuilt during a long sweep) is gone from its path;
    // the kernel still holds the image this process runs, and the child runs that one.
    let exe = if exe.exists() {
        exe
    } else {
        std::path::PathBuf::from("/proc/self/exe")
    };
    let mut command = Command::new(exe);
    command
        .arg("__trial")
        .args(trial_args(point))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs in the forked child before exec and calls only prctl and
    // getppid, which are async-signal-safe; it reads a copied integer and allocates nothing.
    unsafe {
        command.pre_exec(move || {
            // The run child must not outlive the parent: if the parent dies (even by
            // SIGKILL), the child gets SIGTERM and cleans up its segment and consumers.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent died before the request took effect: do not start at all.
            if libc::getppid() != parent {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .map_err(|e| failed(format!("cannot start its process: {e}")))?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    // Read on a thread so that a child writing a large result never blocks on a full pipe
    // while the parent polls for its exit.
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        stdout.read_to_end(&mut bytes).map(|_| bytes)
    });

    let planned = planned.unwrap_or(Duration::ZERO).as_secs_f64().max(1e-3);
    let started = Instant::now();
    let mut stop_sent: Option<Instant> = None;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => return Err(failed(format!("cannot wait for its process: {e}"))),
        }
        if fbench_harness::interrupt::requested() {
            match stop_sent {
                None => {
                    // Forward the stop (a terminal's Ctrl-C reached the child already; a
                    // SIGTERM sent to the parent alone did not).
                    signal(child.id(), libc::SIGTERM);
                    stop_sent = Some(Instant::now());
                }
                Some(at) if at.elapsed() > STOP_GRACE => {
                    let _ = child.kill();
                }
                Some(_) => {}
            }
        }
        progress((started.elapsed().as_secs_f64() / planned).min(1.0));
        std::thread::sleep(Duration::from_millis(50));
    };
    let bytes = reader
        .join()
        .map_err(|_| failed("reading its result failed".to_string()))?
        .map_err(|e| failed(format!("reading its result: {e}")));
    if !status.success() {
        // A child that was killed or crashed cannot have removed its segment, the network
        // namespace of a `--remote netns` run, nor what its cross-process strategy keeps
        // (the strategy's clean hook, as `fbench clean` runs it: it takes only what runs
        // whose process is gone left, and this one's is).
        remove_dead_segments(child.id());
        fbench_harness::remote::remove_of(child.id());
        let _ = point.strategy.clean();
        if status.code() == Some(EXIT_INTERRUPTED) || stop_sent.is_some() {
            return Err(TrialError::Interrupted);
        }
        // A usage-level failure the child explained in its own line (exit 2): passed on as
        // it is, one line, exit 2.
        if status.code() == Some(i32::from(crate::EXIT_USAGE)) {
            return Err(TrialError::Failed(
                crate::AlreadyReported {
                    code: crate::EXIT_USAGE,
                }
                .into(),
            ));
        }
        use std::os::unix::process::ExitStatusExt;
        let ended = match (status.code(), status.signal()) {
            (_, Some(signal)) => format!("its process was killed by signal {signal}"),
            (Some(code), _) => format!("its process exited with code {code}"),
            _ => format!("its process ended with {status}"),
        };
        return Err(failed(format!("{ended} (alone: {})", reproduce(point))));
    }
    bytes
}

fn signal(pid: u32, signal: libc::c_int) {
    // SAFETY: kill only sends a signal; `pid` is our own child, not yet reaped (we have not
    // seen its exit), so the pid cannot have been reused by another process.
    unsafe {
        libc::kill(pid as libc::pid_t, signal);
    }
}

/// Remove the shared-memory segments the dead run child `pid` left (only its own: other
/// runs' leftovers are `fbench clean`'s to remove, when the user asks).
fn remove_dead_segments(pid: u32) {
    let own = format!("{}{pid}-", fbench_strategies::shm::NAME_PREFIX);
    for path in fbench_strategies::shm::stale_segments() {
        if path
            .file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with(&own))
        {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The body of a run child (`__trial`): run the one point its flags describe, write the
/// result on stdout. Exit 0 with a result, 130 interrupted, 2 bad flags, 1 a failed run.
pub fn child_main(args: TrialArgs) -> ExitCode {
    fbench_harness::interrupt::install();
    match child_run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.downcast_ref::<crate::Interrupted>().is_some() => {
            ExitCode::from(EXIT_INTERRUPTED as u8)
        }
        Err(error) => match error.downcast_ref::<crate::UsageError>() {
            Some(usage) => {
                eprintln!("error: {usage}");
                ExitCode::from(crate::EXIT_USAGE)
            }
            // Too little room in /dev/shm is the machine's limit, named with what would fit:
            // exit 2 as in a run without a child, so the parent passes the line on as it is.
            None if crate::shm_space_shortage(&error).is_some() => {
                eprintln!("error: {error:#}");
                ExitCode::from(crate::EXIT_USAGE)
            }
            None => {
                eprintln!("error: {error:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn child_run(args: &TrialArgs) -> anyhow::Result<()> {
    let defaults = Defaults::run();
    // This process runs the point: a camera is opened here, by the run alone (fbench's own
    // process only probed it).
    let source = crate::source::configure(
        &args.run.source_request(&defaults)?,
        crate::source::Device::Open,
    )?;
    let spec = args.run.spec(&defaults, &source);
    let points = spec
        .validate(available_memory())
        .map_err(|e| crate::UsageError(e.to_string()))?;
    let [point] = points.as_slice() else {
        return Err(crate::UsageError(format!(
            "__trial runs exactly one point; these flags describe {}",
            points.len()
        ))
        .into());
    };
    if args.calibrate {
        let calibration = crate::calibrate::for_run(&point.config);
        let mut stdout = std::io::stdout().lock();
        serde_json::to_writer(&mut stdout, &calibration)?;
        stdout.flush()?;
        return Ok(());
    }
    let _leak = leak_if_asked(args.trial);
    // The result goes out on the stdout fbench gave this process; everything else written
    // to stdout here (the user's --consumer-cmd processes inherit it) goes to stderr, so it
    // never mixes with the result.
    // SAFETY: dup and dup2 on the standard descriptors, which are open for the whole
    // process; nothing else holds the raw descriptors across these calls.
    let result_fd = unsafe {
        let fd = libc::dup(1);
        if fd < 0 || libc::dup2(2, 1) < 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        fd
    };
    let result = match point.strategy.run(&point.config, &mut |_| {}) {
        Ok(run) => run,
        Err(RunError::Interrupted) => return Err(crate::Interrupted::default().into()),
        Err(RunError::ExternalConsumer(message)) => return Err(crate::UsageError(message).into()),
        Err(error) => return Err(anyhow::Error::new(error).context(describe(point))),
    };
    if let Some(failure) = crate::source::take_failure(&point.config.source) {
        eprintln!("warning: {} run: {failure}", point.strategy.name());
    }
    let mut output = serde_json::Map::new();
    output.insert(
        INTERVALS_KEY.to_string(),
        serde_json::to_value(result.intervals.as_ref().map(Intervals::to_wire_whole))?,
    );
    output.insert(RESULT_KEY.to_string(), serde_json::to_value(&result)?);
    // SAFETY: `result_fd` is the descriptor dup'ed above, owned by nothing else; the File
    // takes it over and closes it.
    let mut out = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(result_fd) };
    serde_json::to_writer(&mut out, &output)?;
    out.flush()?;
    Ok(())
}

/// The test hook of [`LEAK_TRIAL_ENV`]: 100 MB allocated, touched and kept for the run.
fn leak_if_asked(trial: u32) -> Option<Vec<u8>> {
    let asked: u32 = std::env::var(LEAK_TRIAL_ENV).ok()?.parse().ok()?;
    (asked == trial).then(|| vec![1u8; 100 * 1024 * 1024])
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Probe {
        #[command(flatten)]
        run: RunFlags,
    }

    /// The flags of a point, parsed back by the `run` parser, describe the same point.
    #[test]
    fn trial_args_reproduce_the_point() {
        fbench_harness::registry::install(fbench_harness::Registry::builtin());
        let given = Probe::parse_from([
            "x",
            "-s",
            "pool",
            "-c",
            "3",
            "--streams",
            "2",
            "--stream-phase",
            "aligned",
            "-r",
            "640x360",
            "--format",
            "nv12",
            "--fps",
            "47.5",
            "-d",
            "1500ms",
            "--warmup",
            "250ms",
            "-w",
            "busy:1500us",
            "--slow",
            "1:sleep:20ms",
            "--slow",
            "2:copy@stream1",
            "--wait",
            "poll:3ms",
            "--verify",
            "full",
            "--deadline-tolerance",
            "0.25",
            "--pool-size",
            "7",
            "--pool-policy",
            "drop",
            "--slots",
            "6",
            "--slot-policy",
            "wait",
            "--queue-depth",
            "3",
            "--drop-policy",
            "oldest",
            "--waker",
            "condvar",
            "--interval",
            "200ms",
            "--fault",
            "stall:0@200ms:300ms",
        ]);
        let point = one_point(&given.run);
        let mut argv = vec!["x".to_string()];
        argv.extend(trial_args(&point));
        let again = one_point(&Probe::parse_from(argv).run);
        assert_eq!(again.strategy, point.strategy);
        assert_eq!(again.config.record(), point.config.record());
        assert_eq!(again.config.faults, point.config.faults);
        assert_eq!(again.config.slow, point.config.slow);
        assert_eq!(
            (again.config.streams, again.config.stream_phase),
            (2, fbench_harness::config::StreamPhase::Aligned)
        );
    }

    fn one_point(flags: &RunFlags) -> SweepPoint {
        let defaults = Defaults::run();
        let source = crate::source::configure(
            &flags.source_request(&defaults).unwrap(),
            crate::source::Device::Open,
        )
        .unwrap();
        let mut points = flags.spec(&defaults, &source).validate(u64::MAX).unwrap();
        assert_eq!(points.len(), 1);
        points.remove(0)
    }
}
