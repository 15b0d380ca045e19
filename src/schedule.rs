//! The scheduler every command shares: in what order the runs of a plan execute, which of
//! them run again because the machine was busy, one progress bar, one interrupt path.
//!
//! Order: the points of one configuration (the strategies of one point of the sweep, the
//! `ideal` reference first) run back to back, trial after trial — reference, A, B,
//! reference, A, B … — so each strategy's trial has a reference trial next to it in time,
//! taken on the same background (the pairing `limits` uses). Configurations follow one
//! another.
//!
//! Re-runs: a run during which other processes used more than `--max-other-load` CPUs is
//! run again, up to `--retries` times; the last try's figures are kept, `reruns` counts the
//! extra tries and `busy` marks a trial that never got a quiet machine. Once
//! [`PERSISTENT_AFTER`] trials in a row stayed busy through all their re-runs, the load is
//! taken as persistent (a busy loop, a CI neighbour) and later trials are not re-run until
//! one comes back quiet: re-running into the same load only spends time (a capacity search's
//! budget ran out at a third of its values under one background busy loop), and the trials
//! are still marked `busy`.
//!
//! Each run executes through [`crate::trial::run`] (its own child process). The scheduler
//! never reads anything back from disk: results are returned.

use std::io::IsTerminal;
use std::ops::Range;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use fbench_harness::sweep::SweepPoint;
use fbench_harness::RunResult;

use crate::flags::ScheduleFlags;
use crate::trial::TrialError;

/// What to do with a run just measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Keep it: the machine was quiet enough, or its load is unknown.
    Keep,
    /// Run it again: other processes loaded the machine and retries are left.
    Rerun,
    /// Keep it, marked `busy`: loaded, and no retry left.
    KeepBusy,
}

/// The re-run decision for a run whose other load was `other_load_cpus` (None: unknown),
/// after `reruns` re-runs of the same trial.
pub fn decide(other_load_cpus: Option<f64>, reruns: u32, flags: &ScheduleFlags) -> Decision {
    match other_load_cpus {
        Some(load) if load > flags.max_other_load => {
            if reruns < flags.retries {
                Decision::Rerun
            } else {
                Decision::KeepBusy
            }
        }
        _ => Decision::Keep,
    }
}

/// This binary's reference strategy (`ideal`), if it has one: what runs beside the others
/// (here, and beside capacity's confirmation trials).
pub(crate) fn reference() -> Option<fbench_harness::StrategyRef> {
    fbench_harness::registry::current()
        .entries()
        .iter()
        .find(|s| s.origin() == fbench_strategies::Origin::Reference)
        .cloned()
}

/// Trials in a row kept `busy` (every re-run loaded too) after which the scheduler stops
/// re-running until a trial comes back quiet.
pub const PERSISTENT_AFTER: u32 = 3;

/// Whether the machine's load has persisted: trials in a row kept `busy`, and how many
/// busy trials were not re-run because of it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Persistence {
    /// Trials in a row kept busy, the latest last.
    pub streak: u32,
    /// Busy trials not re-run because the load had persisted.
    pub not_rerun: u32,
}

impl Persistence {
    /// The re-runs the next trial may have: `--retries`, or none while the last
    /// [`PERSISTENT_AFTER`] or more trials in a row stayed busy through theirs.
    pub fn retries(&self, flags: &ScheduleFlags) -> u32 {
        if self.streak >= PERSISTENT_AFTER {
            0
        } else {
            flags.retries
        }
    }

    /// Records how a trial ended (`Keep` or `KeepBusy`), `allowed` re-runs having been
    /// given to it.
    pub fn record(&mut self, ended: Decision, allowed: u32, flags: &ScheduleFlags) {
        match ended {
            Decision::KeepBusy => {
                self.streak += 1;
                if allowed < flags.retries {
                    self.not_rerun += 1;
                }
            }
            Decision::Keep => self.streak = 0,
            Decision::Rerun => {}
        }
    }
}

/// The points of `points` that differ only in their strategy, as consecutive ranges (a
/// sweep expands the strategy fastest, so one configuration's points are adjacent).
pub fn configurations(points: &[SweepPoint]) -> Vec<Range<usize>> {
    let mut groups: Vec<Range<usize>> = Vec::new();
    for (index, point) in points.iter().enumerate() {
        match groups.last_mut() {
            Some(last)
                if points[last.start].config.record() == point.config.record()
                    && points[last.start].config.faults == point.config.faults =>
            {
                last.end = index + 1
            }
            _ => groups.push(index..index + 1),
        }
    }
    groups
}

/// The order runs execute in: per configuration, trial 1 of each of its points, then
/// trial 2 of each, …; as (point index, trial number from 1).
pub fn order(configurations: &[Range<usize>], repeat: u32) -> Vec<(usize, u32)> {
    let mut order = Vec::new();
    for group in configurations {
        for trial in 1..=repeat {
            for index in group.clone() {
                order.push((index, trial));
            }
        }
    }
    order
}

/// Runs one trial at a time through the executor, re-running busy ones, with one progress
/// bar; counts what it re-ran.
pub struct Scheduler {
    flags: ScheduleFlags,
    bar: ProgressBar,
    /// Extra tries made because the machine was busy.
    pub reruns: u32,
    /// Trials kept from a busy machine (no quiet try).
    pub busy: u32,
    /// Whether the load has persisted (see [`PERSISTENT_AFTER`]).
    pub persistence: Persistence,
}

impl Scheduler {
    /// A scheduler whose bar counts `total_ms` of planned run time (hidden when `quiet` or
    /// stderr is not a terminal).
    pub fn new(flags: ScheduleFlags, total_ms: u64, quiet: bool) -> Scheduler {
        Scheduler {
            flags,
            bar: progress_bar(total_ms, quiet),
            reruns: 0,
            busy: 0,
            persistence: Persistence::default(),
        }
    }

    /// A scheduler drawing on `bar` (a command whose bar counts something else than
    /// planned run time: capacity's budget).
    pub fn with_bar(flags: ScheduleFlags, bar: ProgressBar) -> Scheduler {
        Scheduler {
            flags,
            bar,
            reruns: 0,
            busy: 0,
            persistence: Persistence::default(),
        }
    }

    pub fn bar(&self) -> &ProgressBar {
        &self.bar
    }

    /// Run `point` as trial `trial`, again while the machine is busy and retries are left.
    /// `position` gives the bar's position from the fraction of the run done.
    pub fn run(
        &mut self,
        point: &SweepPoint,
        trial: u32,
        label: &str,
        position: &dyn Fn(f64) -> u64,
    ) -> Result<RunResult, TrialError> {
        let mut reruns = 0;
        let flags = ScheduleFlags {
            retries: self.persistence.retries(&self.flags),
            ..self.flags.clone()
        };
        loop {
            let again = if reruns > 0 {
                format!(" (re-run {reruns}: the machine was busy)")
            } else {
                String::new()
            };
            self.bar.set_message(format!("{label}{again}"));
            let bar = &self.bar;
            let result = crate::trial::run(point, trial, &mut |fraction| {
                bar.set_position(position(fraction))
            });
            let run = match result {
                Ok(run) => run,
                Err(error) => {
                    self.bar.finish_and_clear();
                    return Err(error);
                }
            };
            let decision = decide(run.cpu.other_load_cpus, reruns, &flags);
            self.persistence
                .record(decision, flags.retries, &self.flags);
            match decision {
                Decision::Keep => return Ok(RunResult { reruns, ..run }),
                Decision::KeepBusy => {
                    self.busy += 1;
                    return Ok(RunResult {
                        reruns,
                        busy: true,
                        ..run
                    });
                }
                Decision::Rerun => {
                    reruns += 1;
                    self.reruns += 1;
                }
            }
        }
    }

    /// Every point `repeat` times in [`order`]; the results point by point, each point's
    /// trials in order (how reports list them).
    pub fn run_all(
        &mut self,
        points: &[SweepPoint],
        repeat: u32,
    ) -> Result<Vec<RunResult>, TrialError> {
        let mut results: Vec<Vec<RunResult>> = points.iter().map(|_| Vec::new()).collect();
        let mut done_ms = 0;
        for (index, trial) in order(&configurations(points), repeat) {
            let point = &points[index];
            let of_trials = if repeat > 1 {
                format!(" trial {trial}/{repeat}")
            } else {
                String::new()
            };
            let label = format!(
                "{}/{} {} x{} {}{of_trials}",
                index + 1,
                points.len(),
                point.strategy.name(),
                point.config.consumers,
                point.config.frame.resolution
            );
            let span = point.planned().as_millis() as f64;
            let position = |fraction: f64| done_ms + (fraction * span) as u64;
            results[index].push(self.run(point, trial, &label, &position)?);
            done_ms += point.planned().as_millis() as u64;
            self.bar.set_position(done_ms);
        }
        self.bar.finish_and_clear();
        Ok(results.into_iter().flatten().collect())
    }

    /// One line for the terminal about re-runs, if there were any.
    pub fn summary(&self) -> Option<String> {
        (self.reruns > 0 || self.busy > 0).then(|| {
            let persistent = if self.persistence.not_rerun > 0 {
                format!(
                    "; the load persisted ({PERSISTENT_AFTER} busy trials in a row), so {} of them were not re-run",
                    self.persistence.not_rerun
                )
            } else {
                String::new()
            };
            format!(
                "{} re-run{} because other processes used more than {} CPUs (--max-other-load); {} trial{} never got a quiet machine (marked busy){persistent}",
                self.reruns,
                if self.reruns == 1 { "" } else { "s" },
                self.flags.max_other_load,
                self.busy,
                if self.busy == 1 { "" } else { "s" },
            )
        })
    }
}

/// Warn once per invocation about segments left by fbench processes killed outright.
pub(crate) fn warn_about_stale_segments(quiet: bool) {
    let stale = fbench_strategies::shm::stale_segments();
    if !quiet && !stale.is_empty() {
        eprintln!(
            "warning: {} shared-memory segment(s) left in {} by fbench runs that were killed; `fbench clean` removes them",
            stale.len(),
            fbench_strategies::shm::SHM_DIR
        );
    }
}

/// Planned wall-clock time of `points` run `repeat` times, for the bar and the estimate.
pub fn planned_ms(points: &[SweepPoint], repeat: u32) -> u64 {
    points
        .iter()
        .map(|p| p.planned().as_millis().max(1) as u64)
        .sum::<u64>()
        * u64::from(repeat)
}

/// Planned time as the user reads it.
pub fn planned_text(points: &[SweepPoint], repeat: u32) -> String {
    let ms = planned_ms(points, repeat);
    fbench_harness::config::format_duration(Duration::from_secs((ms / 1000).max(1)))
}

/// One bar for the whole invocation, in milliseconds of planned run time, so its ETA holds
/// across runs of different lengths.
pub fn progress_bar(total_ms: u64, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total_ms), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {msg} (ETA {eta})")
            .expect("valid template"),
    );
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(max_other_load: f64, retries: u32) -> ScheduleFlags {
        ScheduleFlags {
            max_other_load,
            retries,
        }
    }

    #[test]
    fn a_quiet_or_unknown_machine_keeps_the_run() {
        let f = flags(0.25, 2);
        assert_eq!(decide(Some(0.0), 0, &f), Decision::Keep);
        assert_eq!(decide(Some(0.25), 0, &f), Decision::Keep);
        assert_eq!(decide(None, 0, &f), Decision::Keep);
    }

    #[test]
    fn a_busy_run_is_rerun_until_the_retries_are_spent() {
        let f = flags(0.25, 2);
        assert_eq!(decide(Some(0.26), 0, &f), Decision::Rerun);
        assert_eq!(decide(Some(1.5), 1, &f), Decision::Rerun);
        assert_eq!(decide(Some(1.5), 2, &f), Decision::KeepBusy);
        assert_eq!(decide(Some(1.5), 0, &flags(0.25, 0)), Decision::KeepBusy);
    }

    /// A scripted machine: the other load of each successive try; the scheduler's loop of
    /// decisions gives the re-run count and the busy mark.
    #[test]
    fn scripted_tries_give_reruns_and_busy() {
        fn tries(loads: &[Option<f64>], f: &ScheduleFlags) -> (u32, bool, usize) {
            let mut reruns = 0;
            for (taken, load) in loads.iter().enumerate() {
                match decide(*load, reruns, f) {
                    Decision::Keep => return (reruns, false, taken + 1),
                    Decision::KeepBusy => return (reruns, true, taken + 1),
                    Decision::Rerun => reruns += 1,
                }
            }
            panic!("the script ran out of tries")
        }
        let f = flags(0.25, 2);
        assert_eq!(tries(&[Some(0.1)], &f), (0, false, 1));
        assert_eq!(tries(&[Some(0.9), Some(0.1)], &f), (1, false, 2));
        assert_eq!(tries(&[Some(0.9), Some(0.8), Some(0.7)], &f), (2, true, 3));
        assert_eq!(tries(&[Some(0.9), None], &f), (1, false, 2));
    }

    /// A scripted machine over several trials: once PERSISTENT_AFTER trials in a row stayed
    /// busy, the next trials get no re-run, until one comes back quiet.
    #[test]
    fn a_persistent_load_stops_the_reruns_until_a_quiet_trial() {
        let f = flags(0.25, 2);
        // Each trial: the loads of its successive tries.
        let script: [&[f64]; 7] = [
            &[0.9, 0.9, 0.9],
            &[0.9, 0.9, 0.9],
            &[0.9, 0.9, 0.9],
            &[0.9],      // streak of 3: kept busy at once
            &[0.1],      // quiet: the streak ends
            &[0.9, 0.1], // re-runs are back
            &[0.9, 0.9, 0.9],
        ];
        let mut persistence = Persistence::default();
        let mut outcome = Vec::new();
        for loads in script {
            let allowed = ScheduleFlags {
                retries: persistence.retries(&f),
                ..f.clone()
            };
            let mut reruns = 0;
            for (taken, load) in loads.iter().enumerate() {
                let decision = decide(Some(*load), reruns, &allowed);
                persistence.record(decision, allowed.retries, &f);
                match decision {
                    Decision::Rerun => reruns += 1,
                    ended => {
                        outcome.push((reruns, ended == Decision::KeepBusy));
                        assert_eq!(taken + 1, loads.len(), "the script's tries are all used");
                        break;
                    }
                }
            }
        }
        assert_eq!(
            outcome,
            vec![
                (2, true),
                (2, true),
                (2, true),
                (0, true),
                (0, false),
                (1, false),
                (2, true)
            ]
        );
        assert_eq!(persistence.not_rerun, 1);
        assert_eq!(persistence.streak, 1);
    }

    #[test]
    fn trials_interleave_within_each_configuration() {
        // Two configurations: points 0-2 (ideal, a, b) and 3-5.
        let groups = [0..3, 3..6];
        assert_eq!(
            order(&groups, 2),
            vec![
                (0, 1),
                (1, 1),
                (2, 1),
                (0, 2),
                (1, 2),
                (2, 2),
                (3, 1),
                (4, 1),
                (5, 1),
                (3, 2),
                (4, 2),
                (5, 2),
            ]
        );
        assert_eq!(
            order(&groups, 1),
            vec![(0, 1), (1, 1), (2, 1), (3, 1), (4, 1), (5, 1)]
        );
    }

    #[test]
    fn configurations_group_the_strategies_of_one_point() {
        fbench_harness::registry::install(fbench_harness::Registry::builtin());
        let registry = fbench_harness::registry::current();
        let mut spec = fbench_harness::sweep::SweepSpec::single(
            vec![
                registry.get("ideal").unwrap().clone(),
                registry.get("mutex").unwrap().clone(),
            ],
            &fbench_harness::RunConfig::default_config(),
        );
        spec.consumers = vec![1, 4];
        let points = spec.validate(u64::MAX).unwrap();
        assert_eq!(points.len(), 4);
        assert_eq!(configurations(&points), vec![0..2, 2..4]);
    }
}
