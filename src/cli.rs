//! The command line: every flag defined once, with its documentation. Values are parsed
//! here by the harness's own parsers (so messages name the flag and what is accepted);
//! combinations are checked by `RunConfig::validate` before anything runs.

use clap::{Args, Parser, Subcommand};
use fbench_harness::config::Wait;
use fbench_harness::integrity::VerifyMode;
use fbench_harness::workload::Workload;

use crate::flags::{OutputFlags, RunFlags};

#[derive(Debug, Parser)]
#[command(
    name = "fbench",
    version,
    about = "Measure how one producer should hand video frames to many readers",
    long_about = "fbench runs the same frame source through interchangeable distribution \
                  strategies under N consumers and reports delivery latency percentiles, \
                  drops, torn frames, memory (PSS) and CPU."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one stress run per strategy; print a table, write a JSON and an HTML report.
    Run(Box<RunArgs>),
    /// Check strategies against the contract: the conformance suite in process, and for
    /// cross-process strategies short runs with reader processes; exit code 1 on a failure.
    Conformance(crate::conformance::ConformanceArgs),
    /// Run every chosen strategy across lists of parameters (e.g. --consumers 1,5,20);
    /// one combined JSON and HTML report.
    Sweep(Box<crate::sweep::SweepArgs>),
    /// Long runs (10 minutes per strategy by default) analysed for memory drift per minute,
    /// throughput and drops over time, and leaks (buffers, slots, segments not given back).
    Soak(Box<crate::soak::SoakArgs>),
    /// Find the highest frame rate (or consumer count) each strategy sustains under a
    /// service level, as an interval [last pass, first fail) from an MLRsearch-style search.
    Capacity(Box<crate::capacity::CapacityArgs>),
    /// Re-render or merge JSON reports into HTML, Markdown, CSV, JSON or .hgrm files.
    Report(crate::report_cmd::ReportArgs),
    /// Measure the machine's limits: memory copy, cache-line round trip, clock read, wake
    /// latency, and the harness's own overhead per frame.
    Calibrate(crate::calibrate::CalibrateArgs),
    /// Remove shared-memory segments left in /dev/shm by fbench runs that were killed.
    Clean,
    /// A consumer process of a cross-process run (started by fbench itself).
    #[command(name = "__consumer", hide = true)]
    Consumer(ConsumerArgs),
    /// One run in its own process (started by fbench itself for every run it schedules):
    /// the `run` flags of exactly one point; its result as JSON on stdout.
    #[command(name = "__trial", hide = true)]
    Trial(Box<crate::trial::TrialArgs>),
    /// Compare two JSON reports with gates, without running anything; exit code 3 when a
    /// gate fails (run and sweep take the same gates with --baseline).
    Gate(crate::gate::GateArgs),
    /// List what fbench knows: strategies, scenarios, or sources (including the cameras found).
    List {
        /// What to list.
        #[arg(default_value = "strategies", value_parser = ["strategies", "scenarios", "sources"])]
        what: String,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub run: RunFlags,

    #[command(flatten)]
    pub output: OutputFlags,

    #[command(flatten)]
    pub extras: crate::sweep::RunExtras,
}

/// The hidden `__consumer` subcommand's arguments, written by harness::runner::process.
#[derive(Debug, Args)]
pub struct ConsumerArgs {
    /// Which cross-process strategy's run to attach to.
    #[arg(long, default_value = "shm")]
    pub strategy: String,
    #[arg(long)]
    pub segment: String,
    #[arg(long, value_parser = consumer_id)]
    pub id: usize,
    #[arg(long, value_parser = |s: &str| s.parse::<Workload>())]
    pub workload: Workload,
    #[arg(long, value_parser = |s: &str| s.parse::<Wait>())]
    pub wait: Wait,
    #[arg(long, value_parser = |s: &str| s.parse::<VerifyMode>())]
    pub verify: VerifyMode,
    #[arg(long)]
    pub deadline_ns: u64,
    #[arg(long, value_parser = frame_len)]
    pub frame_len: usize,
    /// The consumer's faults as JSON (`ConsumerFaults`).
    #[arg(long, default_value = "{}", value_parser = |s: &str| serde_json::from_str::<fbench_harness::faults::ConsumerFaults>(s).map_err(|e| e.to_string()))]
    pub faults: fbench_harness::faults::ConsumerFaults,
    /// Length of the latency-over-time intervals, ns.
    #[arg(long, default_value_t = 1_000_000_000, value_parser = interval_ns)]
    pub interval_ns: u64,
}

// The hidden subcommand's arguments are checked as the public flags they come from are: a
// hand-started consumer gets one line and exit 2, never a huge allocation.

/// `--id`: a consumer number below the supported count.
fn consumer_id(text: &str) -> Result<usize, String> {
    let max = fbench_harness::config::MAX_CONSUMERS;
    text.parse::<usize>()
        .ok()
        .filter(|&id| id < max)
        .ok_or_else(|| format!("'{text}': a consumer number from 0 to {}", max - 1))
}

/// `--frame-len`: bytes per frame, at least one.
fn frame_len(text: &str) -> Result<usize, String> {
    text.parse::<usize>()
        .ok()
        .filter(|&len| len > 0)
        .ok_or_else(|| format!("'{text}': a frame length in bytes, at least 1"))
}

/// `--interval-ns`: no shorter than `--interval` accepts.
fn interval_ns(text: &str) -> Result<u64, String> {
    let min = fbench_harness::timeline::MIN_INTERVAL.as_nanos() as u64;
    text.parse::<u64>()
        .ok()
        .filter(|&ns| ns >= min)
        .ok_or_else(|| format!("'{text}': an interval in ns of at least {min}"))
}
