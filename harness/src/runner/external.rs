//! Bring your own consumer: the user's own process as a consumer of a cross-process run
//! (`fbench run --consumer-cmd CMD`), measured by the same definitions as fbench's own.
//!
//! Two sides live here:
//!
//! * **The harness side** ([`ConsumerCommand`], [`external_command`]): instead of the hidden
//!   `__consumer` subcommand, the harness starts `/bin/sh -c "exec CMD"` for the chosen
//!   consumers, with what the consumer needs in the environment ([`ENV_CONSUMER`], a JSON
//!   object: run name, strategy, consumer id, frame geometry and format, verify and wait
//!   modes, deadline, faults) and the write end of a pipe as file descriptor
//!   [`REPORT_FD`] ([`ENV_REPORT_FD`]) for the results. Stdout and stderr stay the user's.
//!   Everything else (start barrier, faults, PSS, crash handling, reclaiming, cleanup) is the
//!   process host's, unchanged: `exec` makes the command's process the consumer process.
//! * **The consumer library** ([`Consumer`]): attach to the run from the environment, wait
//!   for the next frame, hold it, release it. It is the consumer loop of fbench's own
//!   consumer processes cut at the point where their workload runs: the same acquire, the
//!   same integrity checks on acquire and again before release, the same figures
//!   (`ConsumerOutcome::record`), the same report on the pipe (`process::write_report`).
//!   The Python package in `python/` wraps it.
//!
//! Only strategies of the running binary's registry can be attached to: a Rust consumer
//! built with its own cross-process strategy passes its registry to [`Consumer::attach`].

use std::fs::File;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::Command;
use std::thread;

use fbench_strategies::{FrameMeta, FrameView, Reader, WaitMode, WaitOutcome};
use serde::{Deserialize, Serialize};

use super::{ConsumerOutcome, ConsumerSpec};
use crate::clock::{monotonic_ns, sleep_until};
use crate::config::Wait;
use crate::faults::ConsumerFaults;
use crate::frame::PixelFormat;
use crate::integrity::{self, VerifyMode};
use crate::metrics::CpuUsage;
use crate::registry::Registry;

/// The environment variable holding the consumer's run description (JSON).
pub const ENV_CONSUMER: &str = "FBENCH_CONSUMER";
/// The environment variable naming the file descriptor the report is written to.
pub const ENV_REPORT_FD: &str = "FBENCH_REPORT_FD";
/// The descriptor the harness gives an external consumer for its report.
pub const REPORT_FD: i32 = 3;

/// `--consumer-cmd`: the command run as every consumer process, or as `count` of them
/// (`2:CMD`: consumers 0 and 1).
///
/// ```
/// use fbench_harness::runner::external::ConsumerCommand;
///
/// let all: ConsumerCommand = "python3 detect.py".parse().unwrap();
/// assert_eq!((all.count, all.command.as_str()), (None, "python3 detect.py"));
/// let two: ConsumerCommand = "2:./my-consumer --fast".parse().unwrap();
/// assert_eq!((two.count, two.command.as_str()), (Some(2), "./my-consumer --fast"));
/// assert!("".parse::<ConsumerCommand>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerCommand {
    /// How many consumers run it (the first ones); `None`: all of them.
    pub count: Option<usize>,
    /// A shell command line, run as `/bin/sh -c "exec COMMAND"`.
    pub command: String,
}

impl std::str::FromStr for ConsumerCommand {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let accepted = "accepted: CMD or COUNT:CMD, e.g. 'python3 consumer.py' or 2:./consumer";
        let (count, command) = match text.split_once(':') {
            Some((count, rest))
                if !count.is_empty() && count.bytes().all(|b| b.is_ascii_digit()) =>
            {
                let count: usize = count
                    .parse()
                    .map_err(|_| format!("'{count}' is not a consumer count; {accepted}"))?;
                if count == 0 {
                    return Err(format!("a count of 0 consumers runs nothing; {accepted}"));
                }
                (Some(count), rest.trim())
            }
            _ => (None, text.trim()),
        };
        if command.is_empty() {
            return Err(format!("no command given; {accepted}"));
        }
        Ok(ConsumerCommand {
            count,
            command: command.to_string(),
        })
    }
}

impl std::fmt::Display for ConsumerCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.count {
            Some(count) => write!(f, "{count}:{}", self.command),
            None => f.write_str(&self.command),
        }
    }
}

impl ConsumerCommand {
    /// Whether the command's program can be started: found on `PATH` (or at its path) and
    /// executable. Checked before a run starts so a typo is one clear line, not a run
    /// abandoned half-way.
    pub fn check(&self) -> Result<(), String> {
        let program = self
            .command
            .split_whitespace()
            .find(|word| !word.contains('=')) // leading VAR=value assignments
            .unwrap_or_default();
        let runnable = |path: &std::path::Path| {
            use std::os::unix::fs::PermissionsExt;
            path.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        };
        let found = if program.contains('/') {
            runnable(std::path::Path::new(program))
        } else {
            std::env::var_os("PATH").is_some_and(|paths| {
                std::env::split_paths(&paths).any(|dir| runnable(&dir.join(program)))
            })
        };
        if found {
            Ok(())
        } else {
            Err(format!(
                "'{program}' (of '{}') is not an executable file on PATH or at that path",
                self.command
            ))
        }
    }
}

/// The command consumer `id` runs instead of fbench's own loop, if any: the first of
/// `commands` whose range covers it (ranges are counted from consumer 0 in order).
pub fn external_command(commands: &[ConsumerCommand], id: usize) -> Option<&ConsumerCommand> {
    let mut first = 0usize;
    for command in commands {
        match command.count {
            None => return Some(command),
            Some(count) if id < first + count => return Some(command),
            Some(count) => first += count,
        }
    }
    None
}

/// What an external consumer is told about its run (the JSON in [`ENV_CONSUMER`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct RunWire {
    run: String,
    strategy: String,
    id: usize,
    width: u32,
    height: u32,
    format: String,
    frame_len: usize,
    verify: String,
    wait: String,
    deadline_ns: u64,
    interval_ns: u64,
    faults: ConsumerFaults,
}

/// The process of consumer `spec.id` running `command`, with its environment and the write
/// end of its report pipe at [`REPORT_FD`]; returns the read end too.
pub(crate) fn command_for(
    command: &ConsumerCommand,
    strategy: &str,
    run: &str,
    spec: &ConsumerSpec,
    frame: &crate::frame::FrameSpec,
) -> std::io::Result<(Command, File)> {
    let wire = RunWire {
        run: run.to_string(),
        strategy: strategy.to_string(),
        id: spec.id,
        width: frame.resolution.width,
        height: frame.resolution.height,
        format: frame.format.name().to_string(),
        frame_len: spec.frame_len,
        verify: spec.verify.to_string(),
        wait: Wait(spec.wait).to_string(),
        deadline_ns: spec.deadline_ns,
        interval_ns: spec.interval_ns,
        faults: spec.faults.clone(),
    };
    let (read, write) = pipe()?;
    let mut process = Command::new("/bin/sh");
    process
        .arg("-c")
        // exec: the command's own process is the consumer (its PSS, its exit, its SIGKILL).
        .arg(format!("exec {}", command.command))
        .env(
            ENV_CONSUMER,
            serde_json::to_string(&wire).expect("plain data serialises"),
        )
        .env(ENV_REPORT_FD, REPORT_FD.to_string());
    let write_fd = std::os::fd::AsRawFd::as_raw_fd(&write);
    // SAFETY: runs in the forked child before exec and makes only async-signal-safe calls
    // (dup2, close). `write` stays open in the parent until `process` is spawned (it is moved
    // into the closure), so the descriptor is valid in the child.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut process, move || {
            let _keep = &write;
            if write_fd != REPORT_FD {
                if libc::dup2(write_fd, REPORT_FD) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(write_fd);
            } else {
                // Already in place: only clear close-on-exec.
                libc::fcntl(REPORT_FD, libc::F_SETFD, 0);
            }
            Ok(())
        });
    }
    Ok((process, read))
}

/// A pipe whose two ends are close-on-exec (the child's copy at [`REPORT_FD`] is made by
/// `dup2`, which clears the flag on the copy only).
fn pipe() -> std::io::Result<(File, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded: both descriptors are open and owned by nobody else.
    Ok(unsafe { (File::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Why an external consumer could not attach or report.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    #[error("{ENV_CONSUMER} is not set: this program is meant to be started by `fbench run --consumer-cmd`")]
    NotStarted,
    #[error("{ENV_CONSUMER} or {ENV_REPORT_FD} is malformed: {0}")]
    Malformed(String),
    #[error("strategy '{0}' is not in this consumer's registry (a Rust consumer of a custom strategy passes its registry to Consumer::attach)")]
    UnknownStrategy(String),
    #[error("cannot attach to run {run}: {reason}")]
    Attach { run: String, reason: String },
    #[error("cannot send the report: {0}")]
    Report(String),
}

/// The run a consumer is attached to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunInfo {
    /// The consumer's id (0-based), as in the report's `per_consumer[].id`.
    pub id: usize,
    pub strategy: String,
    pub width: u32,
    pub height: u32,
    pub format: PixelFormat,
    /// Bytes of one frame.
    pub frame_len: usize,
    pub verify: VerifyMode,
}

impl RunInfo {
    /// The shape a frame is viewed as: rows x columns x channels for packed formats
    /// (`[h, w, 3]` for rgb24/bgr24, `[h, w, 2]` for yuyv, `[h, w]` for gray), planes x rows
    /// x columns for yuv444p, and the planar 4:2:0 / 4:2:2 formats as one byte plane of
    /// `[h * 3 / 2, w]` (nv12, i420) or `[2 * h, w]` (yuv422p), as OpenCV takes them; a flat
    /// `[frame_len]` when the sides are odd.
    ///
    /// ```
    /// use fbench_harness::frame::PixelFormat;
    /// use fbench_harness::integrity::VerifyMode;
    /// use fbench_harness::runner::external::RunInfo;
    ///
    /// let info = |format: PixelFormat| RunInfo {
    ///     id: 0, strategy: "shm".into(), width: 64, height: 48, format,
    ///     frame_len: format.frame_len(64, 48).unwrap() as usize, verify: VerifyMode::Stamps,
    /// };
    /// assert_eq!(info(PixelFormat::Bgr24).shape(), [48, 64, 3]);
    /// assert_eq!(info(PixelFormat::Nv12).shape(), [72, 64]);
    /// assert_eq!(info(PixelFormat::Gray).shape(), [48, 64]);
    /// ```
    pub fn shape(&self) -> Vec<usize> {
        let (w, h) = (self.width as usize, self.height as usize);
        let even = w % 2 == 0 && h % 2 == 0;
        let shape = match self.format {
            PixelFormat::Rgb24 | PixelFormat::Bgr24 => vec![h, w, 3],
            PixelFormat::Yuyv => vec![h, w, 2],
            PixelFormat::Gray => vec![h, w],
            PixelFormat::Yuv444p => vec![3, h, w],
            PixelFormat::Nv12 | PixelFormat::I420 if even => vec![h * 3 / 2, w],
            PixelFormat::Yuv422p if even => vec![2 * h, w],
            _ => vec![self.frame_len],
        };
        debug_assert_eq!(shape.iter().product::<usize>(), self.frame_len);
        shape
    }
}

/// A strategy's reader holding at most one frame, behind an object-safe face, so that one
/// consumer type serves every cross-process strategy of a registry.
pub(crate) trait Attachment {
    fn wait_newer(&mut self, after: u64, mode: WaitMode) -> WaitOutcome;
    /// Acquire and hold the newest frame (releasing any held one first).
    fn acquire(&mut self) -> Option<FrameMeta>;
    /// The held frame's bytes (empty when none is held).
    fn bytes(&self) -> &[u8];
    fn release(&mut self);
    /// [`Reader::not_shm`] of the reader.
    fn not_shm(&self) -> Option<u64>;
}

/// A reader and the frame it lends, kept together: `Reader::acquire` lends a frame borrowed
/// from the reader, and a consumer library must hold it between two calls.
pub(crate) struct Holding<R: Reader + 'static> {
    // Field order matters: `held` borrows from `*reader` and is dropped first.
    held: Option<R::Frame<'static>>,
    reader: Box<R>,
}

impl<R: Reader + 'static> Holding<R> {
    pub(crate) fn new(reader: R) -> Self {
        Holding {
            held: None,
            reader: Box::new(reader),
        }
    }
}

impl<R: Reader + 'static> Attachment for Holding<R> {
    fn wait_newer(&mut self, after: u64, mode: WaitMode) -> WaitOutcome {
        // No frame may be held while the reader is borrowed mutably again.
        self.held = None;
        self.reader.wait_newer(after, mode)
    }

    fn acquire(&mut self) -> Option<FrameMeta> {
        self.held = None;
        let frame = self.reader.acquire()?;
        let meta = *frame.meta();
        let frame = std::mem::ManuallyDrop::new(frame);
        // SAFETY: only the lifetime changes (same type otherwise, read once, the original
        // never dropped). The frame borrows `*self.reader`, a heap allocation that does not
        // move when `self` does and that outlives `held` (dropped first, by field order);
        // nothing touches the reader while `held` is `Some` (every method clears `held`
        // before using the reader), and `bytes` only lends `held` for as long as `&self`.
        self.held = Some(unsafe {
            std::ptr::read((&*frame as *const R::Frame<'_>).cast::<R::Frame<'static>>())
        });
        Some(meta)
    }

    fn bytes(&self) -> &[u8] {
        self.held.as_ref().map_or(&[], |frame| frame.bytes())
    }

    fn release(&mut self) {
        self.held = None;
    }

    fn not_shm(&self) -> Option<u64> {
        self.reader.not_shm()
    }
}

/// The frame a [`Consumer`] holds, and when it got it.
#[derive(Clone, Copy, Debug)]
struct Held {
    meta: FrameMeta,
    acquire_start: u64,
    held: u64,
    whole_on_acquire: bool,
}

/// One consumer of a run, in the user's own process: attach, then [`Consumer::next_frame`]
/// until it returns `None`; every frame is measured as fbench's own consumers measure
/// theirs, and the figures go back to the harness when the consumer finishes (or drops).
///
/// ```no_run
/// // A consumer process started by `fbench run --strategy shm --consumer-cmd ./this`.
/// use fbench_harness::runner::external::Consumer;
///
/// let mut consumer = Consumer::from_env().unwrap_or_else(|e| panic!("{e}"));
/// let mut total = 0u64;
/// while let Some(frame) = consumer.next_frame() {
///     // The frame is read in place, and released when `frame` drops.
///     total += frame.bytes().iter().step_by(4096).map(|&b| u64::from(b)).sum::<u64>();
/// }
/// consumer.finish().unwrap();
/// # let _ = total;
/// ```
pub struct Consumer {
    info: RunInfo,
    spec: ConsumerSpec,
    attachment: Box<dyn Attachment>,
    measure_start: u64,
    outcome: ConsumerOutcome,
    last: u64,
    held: Option<Held>,
    stalled: bool,
    window_start: Option<thread::JoinHandle<(CpuUsage, Option<u64>)>>,
    report: Option<File>,
}

/// A frame held by a [`Consumer`]: read it in place; dropping it releases it.
pub struct Frame<'a> {
    consumer: &'a mut Consumer,
}

impl Frame<'_> {
    pub fn meta(&self) -> &FrameMeta {
        &self
            .consumer
            .held
            .as_ref()
            .expect("a Frame exists only while held")
            .meta
    }

    pub fn bytes(&self) -> &[u8] {
        self.consumer.attachment.bytes()
    }
}

impl Drop for Frame<'_> {
    fn drop(&mut self) {
        self.consumer.release();
    }
}

impl Consumer {
    /// Attach to the run described by the environment, through the built-in strategies (or
    /// the registry a `fbench::main!` binary installed).
    pub fn from_env() -> Result<Consumer, ConsumerError> {
        Consumer::attach(crate::registry::current())
    }

    /// Attach to the run described by the environment through `registry`: join the start
    /// barrier and return when the run starts.
    pub fn attach(registry: &Registry) -> Result<Consumer, ConsumerError> {
        let text = std::env::var(ENV_CONSUMER).map_err(|_| ConsumerError::NotStarted)?;
        let wire: RunWire =
            serde_json::from_str(&text).map_err(|e| ConsumerError::Malformed(e.to_string()))?;
        let report_fd: i32 = std::env::var(ENV_REPORT_FD)
            .map_err(|_| ConsumerError::Malformed(format!("{ENV_REPORT_FD} is not set")))?
            .parse()
            .map_err(|e| ConsumerError::Malformed(format!("{ENV_REPORT_FD}: {e}")))?;
        let malformed = |e: String| ConsumerError::Malformed(e);
        let format: PixelFormat = wire.format.parse().map_err(malformed)?;
        let verify: VerifyMode = wire.verify.parse().map_err(malformed)?;
        let wait: Wait = wire.wait.parse().map_err(malformed)?;
        let spec = ConsumerSpec {
            id: wire.id,
            workload: crate::workload::Workload::Inspect,
            wait: wait.0,
            verify,
            deadline_ns: wire.deadline_ns,
            frame_len: wire.frame_len,
            faults: wire.faults,
            interval_ns: wire.interval_ns,
        };
        let entry = registry
            .get(&wire.strategy)
            .ok_or_else(|| ConsumerError::UnknownStrategy(wire.strategy.clone()))?;
        let (attachment, measure_start) =
            entry
                .attach_external(&wire.run, &spec)
                .map_err(|reason| ConsumerError::Attach {
                    run: wire.run.clone(),
                    reason,
                })?;
        // SAFETY: the harness opened this descriptor for us alone (the pipe's write end);
        // nothing else in the process owns it. Close-on-exec, so a program the consumer
        // starts does not keep the pipe open.
        let report = unsafe {
            libc::fcntl(report_fd, libc::F_SETFD, libc::FD_CLOEXEC);
            File::from_raw_fd(report_fd)
        };
        // CPU and allocations over the measured window: snapshot when it starts, from a
        // helper thread, as fbench's own consumer processes do.
        let window_start = thread::spawn(move || {
            sleep_until(measure_start);
            (CpuUsage::now(), crate::alloc::allocations())
        });
        Ok(Consumer {
            info: RunInfo {
                id: wire.id,
                strategy: wire.strategy,
                width: wire.width,
                height: wire.height,
                format,
                frame_len: wire.frame_len,
                verify,
            },
            outcome: ConsumerOutcome::new(&spec),
            spec,
            attachment,
            measure_start,
            last: 0,
            held: None,
            stalled: false,
            window_start: Some(window_start),
            report: Some(report),
        })
    }

    pub fn info(&self) -> &RunInfo {
        &self.info
    }

    /// CLOCK_MONOTONIC ns when measuring started (frames captured before are not counted).
    pub fn measure_start(&self) -> u64 {
        self.measure_start
    }

    /// Wait for a frame newer than the last one and hold it; `None` once the run is over.
    pub fn next_frame(&mut self) -> Option<Frame<'_>> {
        self.acquire_next().then(|| Frame { consumer: self })
    }

    /// Release the held frame (if any), wait for a newer one and hold it; `false` once the
    /// run is over. The building block of [`Consumer::next_frame`] for bindings that cannot
    /// borrow (the Python package).
    pub fn acquire_next(&mut self) -> bool {
        self.release();
        loop {
            if let WaitOutcome::Closed = self.attachment.wait_newer(self.last, self.spec.wait) {
                return false;
            }
            let acquire_start = monotonic_ns();
            let Some(meta) = self.attachment.acquire() else {
                continue;
            };
            let held = monotonic_ns();
            if meta.publish_seq <= self.last {
                // Not newer than what we already saw: a broken strategy. Count, don't hand
                // it out.
                if meta.publish_seq < self.last && meta.capture_ns >= self.measure_start {
                    self.outcome.out_of_order += 1;
                }
                self.attachment.release();
                continue;
            }
            self.last = meta.publish_seq;
            let whole_on_acquire =
                integrity::verify(self.attachment.bytes(), &meta, self.spec.verify);
            self.held = Some(Held {
                meta,
                acquire_start,
                held,
                whole_on_acquire,
            });
            return true;
        }
    }

    /// The held frame's metadata and bytes.
    pub fn held(&self) -> Option<(&FrameMeta, &[u8])> {
        self.held
            .as_ref()
            .map(|held| (&held.meta, self.attachment.bytes()))
    }

    /// Release the held frame: verify it again (a zero-copy frame could have been
    /// overwritten while held), record it, give it back.
    pub fn release(&mut self) {
        let Some(held) = self.held.take() else {
            return;
        };
        if let Some(stall) = self.spec.faults.stall {
            let since_start = held.held.saturating_sub(self.measure_start);
            if !self.stalled && held.held >= self.measure_start && since_start >= stall.start {
                // The `stall` fault: hold this frame, reading nothing else, until its end.
                self.stalled = true;
                sleep_until(self.measure_start + stall.end);
            }
        }
        let whole_on_release =
            integrity::verify(self.attachment.bytes(), &held.meta, self.spec.verify);
        let done = monotonic_ns();
        self.attachment.release();
        self.outcome.record(
            &self.spec,
            self.measure_start,
            &held.meta,
            held.acquire_start,
            held.held,
            done,
            held.whole_on_acquire && whole_on_release,
        );
    }

    /// Frames counted so far (those captured in the measured window).
    pub fn frames_seen(&self) -> u64 {
        self.outcome.frames_seen
    }

    /// Release the held frame and send the figures to the harness. Called by `drop` too;
    /// a second call does nothing.
    pub fn finish(&mut self) -> Result<(), ConsumerError> {
        self.release();
        let Some(report) = self.report.take() else {
            return Ok(());
        };
        let (cpu_start, alloc_start) = self
            .window_start
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_else(|| (CpuUsage::now(), None));
        let mut outcome = std::mem::replace(&mut self.outcome, ConsumerOutcome::new(&self.spec));
        outcome.not_shm = self.attachment.not_shm();
        super::process::write_report(outcome, cpu_start, alloc_start, report)
            .map_err(ConsumerError::Report)
    }
}

impl Consumer {
    /// End without sending figures (the consumer failed): the harness reports this
    /// consumer `crashed`, as it would had the process died.
    pub fn abandon(mut self) {
        self.held = None;
        self.attachment.release();
        self.report = None;
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}
