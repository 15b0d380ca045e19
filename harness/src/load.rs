//! How busy the rest of the machine was during a run: the CPU time every other process
//! used, plus the time a hypervisor took away from this virtual machine (steal), in CPUs.
//!
//! On a shared machine (a CI runner, a workstation compiling something) latency tails grow
//! with other processes' load for reasons that are not the strategy's. The CI gate reads
//! this figure to avoid calling a run slower when it merely ran on a busier machine.
//!
//! Read from `/proc/stat` (system-wide busy ticks) minus this process's own CPU time. Child
//! processes' CPU counts as other load, so the figure is only meaningful for strategies
//! whose consumers are threads of this process.

use crate::clock::monotonic_ns;

/// System-wide busy CPU time and when it was read.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MachineTicks {
    /// Seconds of CPU time all CPUs spent busy since boot (steal included).
    pub busy_s: f64,
    pub at_ns: u64,
}

impl MachineTicks {
    /// Now, or `None` where `/proc/stat` cannot be read.
    pub fn now() -> Option<MachineTicks> {
        let text = std::fs::read_to_string("/proc/stat").ok()?;
        // SAFETY: sysconf only reads a configuration value; _SC_CLK_TCK is always valid.
        let ticks_per_s = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        let busy_ticks = busy_ticks(&text)?;
        (ticks_per_s > 0).then(|| MachineTicks {
            busy_s: busy_ticks as f64 / ticks_per_s as f64,
            at_ns: monotonic_ns(),
        })
    }

    /// CPUs' worth of time the machine was busy from `earlier` to `self` beyond `own_cpu_s`
    /// (this process's CPU time over the same interval). Never negative: tick accounting is
    /// coarser than the process's own.
    pub fn other_load_since(&self, earlier: &MachineTicks, own_cpu_s: f64) -> Option<f64> {
        let wall_s = self.at_ns.checked_sub(earlier.at_ns)? as f64 / 1e9;
        if wall_s <= 0.0 {
            return None;
        }
        Some(((self.busy_s - earlier.busy_s - own_cpu_s) / wall_s).max(0.0))
    }
}

/// Busy ticks of the aggregate `cpu` line: user, nice, system, irq, softirq and steal
/// (guest time is already inside user and nice; idle and iowait are not busy).
fn busy_ticks(proc_stat: &str) -> Option<u64> {
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
    Some(field(0) + field(1) + field(2) + field(5) + field(6) + field(7))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_ticks_leave_idle_and_iowait_out() {
        let text = "cpu  100 5 50 1000 7 1 2 3 40 0\ncpu0 50 2 25 500 3 0 1 1 20 0\n";
        assert_eq!(busy_ticks(text), Some(100 + 5 + 50 + 1 + 2 + 3));
        assert_eq!(busy_ticks("cpu  1 2\n"), None);
        assert_eq!(busy_ticks("intr 5\n"), None);
    }

    #[test]
    fn other_load_is_the_machine_minus_this_process() {
        let earlier = MachineTicks {
            busy_s: 100.0,
            at_ns: 0,
        };
        let later = MachineTicks {
            busy_s: 103.0,
            at_ns: 2_000_000_000,
        };
        // 3 CPU-seconds busy in 2 s, 1 of them ours: 2 CPU-seconds in 2 s, one CPU.
        assert_eq!(later.other_load_since(&earlier, 1.0), Some(1.0));
        assert_eq!(later.other_load_since(&earlier, 5.0), Some(0.0));
        assert_eq!(earlier.other_load_since(&later, 0.0), None);
        assert!(MachineTicks::now().is_some(), "/proc/stat on Linux");
    }
}
