//! How busy the rest of the machine was during a run: the CPU time every other process
//! used, plus the time a hypervisor took away from this virtual machine (steal), in CPUs.
//!
//! On a shared machine (a CI runner, a workstation compiling something) latency tails grow
//! with other processes' load for reasons that are not the strategy's. The CI gate reads
//! this figure to avoid calling a run slower when it merely ran on a busier machine.
//!
//! Read from `/proc/stat` (system-wide busy ticks, steal left out) minus the CPU time of the
//! run's whole process tree over the same wall interval: the process that drives the run
//! and every consumer process that reported (their CPU over the measured window arrives in
//! their report, [`crate::metrics::CpuUsage::plus`]). Steal — time the hypervisor gave this
//! machine's CPUs to someone else — is not a process of this machine and is reported on its
//! own (`cpu.steal_cpus`). A consumer process that died without reporting takes its CPU
//! time with it, which then shows as other load.

use crate::clock::monotonic_ns;

/// System-wide busy CPU time and when it was read.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MachineTicks {
    /// Seconds of CPU time all CPUs spent running something since boot (steal excluded).
    pub busy_s: f64,
    /// Seconds of CPU time the hypervisor took from this machine's CPUs since boot.
    pub steal_s: f64,
    pub at_ns: u64,
}

impl MachineTicks {
    /// Now, or `None` where `/proc/stat` cannot be read.
    pub fn now() -> Option<MachineTicks> {
        let text = std::fs::read_to_string("/proc/stat").ok()?;
        // SAFETY: sysconf only reads a configuration value; _SC_CLK_TCK is always valid.
        let ticks_per_s = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        (ticks_per_s > 0).then_some(())?;
        MachineTicks::parse(&text, ticks_per_s as f64, monotonic_ns())
    }

    /// The busy and steal time of a `/proc/stat` text read at `at_ns`.
    pub fn parse(proc_stat: &str, ticks_per_s: f64, at_ns: u64) -> Option<MachineTicks> {
        let (busy, steal) = busy_and_steal_ticks(proc_stat)?;
        Some(MachineTicks {
            busy_s: busy as f64 / ticks_per_s,
            steal_s: steal as f64 / ticks_per_s,
            at_ns,
        })
    }

    /// CPUs' worth of time the hypervisor took from this machine from `earlier` to `self`.
    pub fn steal_since(&self, earlier: &MachineTicks) -> Option<f64> {
        let wall_s = self.at_ns.checked_sub(earlier.at_ns)? as f64 / 1e9;
        (wall_s > 0.0).then(|| ((self.steal_s - earlier.steal_s) / wall_s).max(0.0))
    }

    /// CPUs' worth of time the machine was busy from `earlier` to `self` beyond `own_cpu_s`
    /// (the run's process tree's CPU time over the same interval), steal left out. Never
    /// negative: tick accounting is coarser than the process's own.
    pub fn other_load_since(&self, earlier: &MachineTicks, own_cpu_s: f64) -> Option<f64> {
        let wall_s = self.at_ns.checked_sub(earlier.at_ns)? as f64 / 1e9;
        if wall_s <= 0.0 {
            return None;
        }
        Some(((self.busy_s - earlier.busy_s - own_cpu_s) / wall_s).max(0.0))
    }
}

/// Busy and steal ticks of the aggregate `cpu` line: busy is user, nice, system, irq and
/// softirq (guest time is already inside user and nice; idle and iowait are not busy);
/// steal is the eighth field, zero on bare metal.
fn busy_and_steal_ticks(proc_stat: &str) -> Option<(u64, u64)> {
    let line = proc_stat.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    let field = |i: usize| fields.get(i).copied().unwrap_or(0);
    if fields.len() < 4 {
        return None;
    }
    Some((
        field(0) + field(1) + field(2) + field(5) + field(6),
        field(7),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two `/proc/stat` texts one second apart at 100 ticks per second.
    const BEFORE: &str = "cpu  100 5 50 1000 7 1 2 3 40 0\ncpu0 50 2 25 500 3 0 1 1 20 0\n";
    const AFTER: &str = "cpu  220 5 90 1030 7 1 2 13 40 0\ncpu0 110 2 45 515 3 0 1 6 20 0\n";

    #[test]
    fn busy_leaves_idle_iowait_and_steal_out() {
        assert_eq!(
            busy_and_steal_ticks(BEFORE),
            Some((100 + 5 + 50 + 1 + 2, 3))
        );
        assert_eq!(busy_and_steal_ticks("cpu  1 2\n"), None);
        assert_eq!(busy_and_steal_ticks("intr 5\n"), None);
    }

    #[test]
    fn other_load_is_the_machine_minus_the_run_and_steal_is_apart() {
        let earlier = MachineTicks::parse(BEFORE, 100.0, 0).unwrap();
        let later = MachineTicks::parse(AFTER, 100.0, 1_000_000_000).unwrap();
        // 160 busy ticks (1.6 CPU-seconds) in 1 s; the run's tree used 0.6 of them.
        let other = later.other_load_since(&earlier, 0.6).unwrap();
        assert!((other - 1.0).abs() < 1e-9, "{other}");
        // 10 ticks of steal in 1 s: a tenth of a CPU, not counted as other load.
        let steal = later.steal_since(&earlier).unwrap();
        assert!((steal - 0.1).abs() < 1e-9, "{steal}");
        assert_eq!(later.other_load_since(&earlier, 5.0), Some(0.0));
        assert_eq!(earlier.other_load_since(&later, 0.0), None);
        assert_eq!(earlier.steal_since(&later), None);
        assert!(MachineTicks::now().is_some(), "/proc/stat on Linux");
    }
}
