//! The `fbench` binary: command-line wiring only. Parse, validate into a `RunConfig`, run
//! through the harness, render through the reports crate.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches};

use fbench_harness::alloc::CountingAllocator;
use fbench_harness::sweep::SweepSpec;
use fbench_harness::RunConfig;
use fbench_reports::BuildInfo;
use fbench_strategies::StrategyKind;

mod calibrate;
mod cli;
mod gate;
mod report_cmd;
mod scenarios;
mod soak;
mod source;
mod sweep;

use cli::{Cli, Command, RunArgs};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

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

/// The user pressed Ctrl-C or sent SIGTERM: the run stopped, cleaned up, wrote nothing.
#[derive(Debug)]
struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted: nothing was written")
    }
}

impl std::error::Error for Interrupted {}

/// Exit code after SIGINT/SIGTERM, as shells report a process killed by SIGINT.
const EXIT_INTERRUPTED: u8 = 130;

/// Warn once per invocation about segments left by fbench processes killed outright.
fn warn_about_stale_segments(quiet: bool) {
    let stale = fbench_strategies::shm::stale_segments();
    if !quiet && !stale.is_empty() {
        eprintln!(
            "warning: {} shared-memory segment(s) left in {} by fbench runs that were killed; `fbench clean` removes them",
            stale.len(),
            fbench_strategies::shm::SHM_DIR
        );
    }
}

/// `fbench clean`: remove the segments of dead fbench processes.
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
    Ok(())
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

fn main() -> ExitCode {
    CountingAllocator::mark_installed();
    // SAFETY: called first, before any other thread exists; restoring the default SIGPIPE
    // disposition makes `fbench … | head` end quietly as Unix tools do, instead of the Rust
    // runtime's ignored SIGPIPE turning into a panic on the next print.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    fixed_mmap_threshold();
    let matches = match Cli::command().try_get_matches() {
        Ok(matches) => matches,
        Err(err) => return clap_error(err),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(err) => return clap_error(err),
    };
    let explicit = explicit_args(&matches);
    let outcome = match cli.command {
        Command::Run(args) => run(*args, &explicit),
        Command::Clean => clean(),
        Command::Consumer(args) => return consumer(args),
        Command::Sweep(args) => sweep::sweep(*args, &explicit),
        Command::Soak(args) => soak::soak(*args, &explicit),
        Command::Report(args) => report_cmd::report(args),
        Command::Calibrate(args) => calibrate::command(args),
        Command::Gate(args) => gate::command(args),
        Command::List { what } if what == "sources" => source::list(),
        Command::List { what } => list(&what),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.downcast_ref::<Interrupted>().is_some() => {
            eprintln!("{err}");
            ExitCode::from(EXIT_INTERRUPTED)
        }
        Err(err) => match err.downcast_ref::<UsageError>() {
            Some(usage) => {
                eprintln!("error: {usage}");
                ExitCode::from(EXIT_USAGE)
            }
            None if err.is::<gate::GateFailed>() => {
                eprintln!("{err}");
                ExitCode::from(gate::EXIT_GATE_FAILED)
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
            let _ = err.print();
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
/// replace a scenario's values.
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
    for kind in StrategyKind::ALL
        .into_iter()
        .chain(StrategyKind::DEMONSTRATIONS)
    {
        writeln!(out, "{:<13} {}", kind.name(), kind.summary())?;
    }
    for kind in StrategyKind::PEERS {
        let built = if kind.is_built() {
            ""
        } else {
            " [not in this build: --features peers]"
        };
        writeln!(out, "{:<13} (peer) {}{built}", kind.name(), kind.summary())?;
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
    };
    let Some(kind) = StrategyKind::from_name(&args.strategy) else {
        eprintln!(
            "error: consumer {}: unknown strategy {}",
            args.id, args.strategy
        );
        return ExitCode::FAILURE;
    };
    match fbench_harness::runner::process::consumer_main(kind, &args.segment, &spec) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: consumer {}: {message}", args.id);
            ExitCode::FAILURE
        }
    }
}

fn run(args: RunArgs, explicit: &[String]) -> anyhow::Result<()> {
    let source = source::configure(&args)?;
    let config = RunConfig {
        source: source.spec,
        frame: source.frame,
        fps: source.fps,
        duration: args.duration,
        warmup: args.warmup,
        consumers: args.consumers,
        workload: args.workload,
        slow: args.slow.clone(),
        wait: args.wait.0,
        verify: args.verify,
        deadline_tolerance: args.deadline_tolerance,
        pool_size: args.pool_size,
        pool_policy: args.pool_policy,
        slots: args.slots,
        slot_policy: args.slot_policy,
        waker: args.waker,
        faults: args.fault.clone(),
    };
    if let Some(summary) = &source.summary {
        println!("{summary}");
    }
    sweep::execute(sweep::Plan {
        spec: SweepSpec::single(args.strategy.0.clone(), &config),
        explicit,
        json: args.json.clone(),
        out: args.out.clone(),
        prefix: "run",
        quiet: args.quiet,
        extras: &args.extras,
    })
}

pub(crate) fn build_info() -> BuildInfo {
    BuildInfo {
        version: env!("CARGO_PKG_VERSION").to_string(),
        git_rev: env!("FBENCH_GIT_REV").to_string(),
    }
}

/// Where the JSON report goes, checked before the run so that a bad path fails in a second,
/// not after minutes of measuring. Nothing is left behind by the check.
fn output_path(json: Option<&Path>, out: &Path, prefix: &str) -> anyhow::Result<PathBuf> {
    let (path, flag) = match json {
        Some(path) => (path.to_path_buf(), "--json"),
        None => {
            std::fs::create_dir_all(out).map_err(|e| {
                UsageError(format!(
                    "--out: cannot create directory {}: {e}",
                    out.display()
                ))
            })?;
            (out.join(format!("{prefix}-{}.json", timestamp())), "--out")
        }
    };
    writable_file(path, flag)
}

/// `path` if a file can be written there, checked without leaving anything behind; else a
/// usage error naming `flag`.
fn writable_file(path: PathBuf, flag: &str) -> anyhow::Result<PathBuf> {
    if path.is_dir() {
        return Err(UsageError(format!(
            "{flag}: {} is a directory; give a file path such as report.json",
            path.display()
        ))
        .into());
    }
    let dir = parent_dir(&path);
    if !dir.is_dir() {
        return Err(UsageError(format!(
            "{flag}: directory {} does not exist",
            dir.display()
        ))
        .into());
    }
    tempfile::Builder::new()
        .prefix(".fbench-probe-")
        .tempfile_in(dir)
        .map_err(|e| UsageError(format!("{flag}: cannot write in {}: {e}", dir.display())))?;
    Ok(path)
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Write to a temporary file beside `path`, then rename: a reader never sees half a report.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = tempfile::Builder::new()
        .prefix(".fbench-")
        .tempfile_in(parent_dir(path))?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// UTC `YYYYMMDD-HHMMSS` for file names.
fn timestamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
