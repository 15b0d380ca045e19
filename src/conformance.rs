//! `fbench conformance`: the conformance suite on any registered strategy, by name — the
//! built-ins and a binary's own (`cargo bench --bench frames -- conformance -s mine`).
//!
//! An in-process strategy runs the suite of `fbench_strategies::conformance` on fresh
//! strategies. A cross-process strategy's readers are processes, so its variant is a set of
//! short runs with consumer processes started from this very binary, each judged on counts
//! only: under a producer that laps readers (a consumer holding a frame for 50 frame
//! periods, two slow ones) no frame is torn and no consumer sees publish numbers go back;
//! every consumer process ends `ok` and saw frames; nothing (reader, frame, segment) is left
//! held; a consumer process killed with SIGKILL while it holds a frame is reported `killed`,
//! what it held is taken back, and the others carry on.

use std::time::Duration;

use clap::Args;

use fbench_harness::faults::Fault;
use fbench_harness::frame::Resolution;
use fbench_harness::{RunConfig, RunResult, StrategyRef};
use fbench_strategies::conformance::Outcome;

use crate::flags::StrategyList;

/// `fbench conformance`: which strategies.
#[derive(Debug, Args)]
pub struct ConformanceArgs {
    /// Strategies to check: comma-separated names, `all`, `peers` or `custom` (see
    /// `fbench list`). [default: all]
    #[arg(long, short = 's', value_parser = crate::flags::parse_strategies)]
    pub strategy: Option<StrategyList>,
}

/// Failed checks, one line each: exit code 1.
#[derive(Debug)]
pub struct Failed(Vec<String>);

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "conformance failed: {}", self.0.join("; "))
    }
}

impl std::error::Error for Failed {}

pub fn command(args: ConformanceArgs) -> anyhow::Result<()> {
    fbench_harness::interrupt::install();
    let strategies = args
        .strategy
        .map_or_else(|| fbench_harness::registry::current().all(), |l| l.0);
    let mut failures = Vec::new();
    for strategy in &strategies {
        let outcomes = match in_process(strategy) {
            Some(outcomes) => outcomes,
            None => processes(strategy)?,
        };
        for Outcome { property, result } in outcomes {
            match result {
                Ok(()) => println!("{:<13} ok    {property}", strategy.name()),
                Err(why) => {
                    println!("{:<13} FAIL  {property}: {why}", strategy.name());
                    failures.push(format!("{}: {property}", strategy.name()));
                }
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Failed(failures).into())
    }
}

/// The in-process suite, one outcome per property. A failed check panics (in the checking
/// thread or a reader thread) and the suite turns the panic's message into the outcome; the
/// default hook would also print each panic to stderr, which here is noise beside the
/// property's line, so it is silenced while the suite runs.
fn in_process(strategy: &StrategyRef) -> Option<Vec<Outcome>> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let outcomes = strategy.conformance();
    std::panic::set_hook(hook);
    outcomes
}

/// The cross-process variant: runs whose readers are processes, judged on counts.
fn processes(strategy: &StrategyRef) -> anyhow::Result<Vec<Outcome>> {
    let mut config = RunConfig::default_config();
    config.frame.resolution = Resolution::new(160, 120);
    config.fps = 500.0;
    config.consumers = 4;
    config.warmup = Duration::from_millis(100);
    config.duration = Duration::from_millis(1500);
    config.slow = vec!["2:sleep:5ms".parse().map_err(anyhow::Error::msg)?];
    let lapping = RunConfig {
        // Consumer 0 holds one frame for 100 ms, 50 frame periods: the writer laps it.
        faults: vec!["stall:0@300ms:100ms".parse().map_err(anyhow::Error::msg)?],
        ..config.clone()
    };
    let killed = RunConfig {
        faults: vec![
            "stall:3@300ms:400ms".parse().map_err(anyhow::Error::msg)?,
            // SIGKILL while it holds that frame
            "kill:3@500ms"
                .parse::<Fault>()
                .map_err(anyhow::Error::msg)?,
        ],
        ..config.clone()
    };
    let run = |config: &RunConfig| strategy.run(config, &mut |_| {});
    let first = run(&lapping)?;
    let second = run(&killed)?;
    let outcome = |property, result| Outcome { property, result };
    Ok(vec![
        outcome(
            "processes_no_torn_frames_and_monotonic",
            whole_and_in_order(&first),
        ),
        outcome(
            "processes_every_consumer_served",
            every_consumer_served(&first, &[]),
        ),
        outcome("processes_nothing_left_held", nothing_left(&first)),
        outcome(
            "process_killed_holding_a_frame_is_reclaimed",
            every_consumer_served(&second, &[3])
                .and_then(|()| whole_and_in_order(&second))
                .and_then(|()| nothing_left(&second)),
        ),
    ])
}

fn whole_and_in_order(run: &RunResult) -> Result<(), String> {
    match (run.torn_frames, run.out_of_order) {
        (0, 0) => Ok(()),
        (torn, back) => Err(format!(
            "consumer processes saw {torn} torn frame(s) and {back} out of order"
        )),
    }
}

/// Every consumer but `killed` ended `ok` and saw frames; those in `killed` were reported
/// killed.
fn every_consumer_served(run: &RunResult, killed: &[usize]) -> Result<(), String> {
    for consumer in &run.per_consumer {
        let expected = if killed.contains(&consumer.id) {
            "killed"
        } else {
            "ok"
        };
        if consumer.status != expected {
            return Err(format!(
                "consumer {} ended {}, expected {expected}",
                consumer.id, consumer.status
            ));
        }
        if expected == "ok" && consumer.frames_seen == 0 {
            return Err(format!("consumer {} saw no frame", consumer.id));
        }
    }
    Ok(())
}

fn nothing_left(run: &RunResult) -> Result<(), String> {
    match run.leaks {
        Some(leaks) if leaks.is_clean() => Ok(()),
        Some(leaks) => Err(format!(
            "left behind: {} readers, {} frames, {} segments",
            leaks.readers_outstanding,
            leaks.frames_outstanding.unwrap_or(0),
            leaks.segments_left
        )),
        None => Err("the run checked nothing".to_string()),
    }
}
