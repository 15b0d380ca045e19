//! Finding what killed runs left behind, for the clean hook of a strategy of one's own
//! ([`crate::CrossProcess::clean`], which `fbench clean` calls).
//!
//! A cross-process strategy names what it creates after the run ([`crate::CrossProcess::create`]
//! gets a name `fbench-<pid>-<n>`, unique per run, `<pid>` the producer's): e.g. a segment
//! `/dev/shm/fbench-<pid>-<n>-seqlock`. Its `Drop` removes it; a producer killed outright
//! (SIGKILL) never runs it. Such a leftover is recognisable by name: its producer `<pid>` no
//! longer exists. (A pid the kernel reused keeps a leftover until a later clean: the safe
//! direction, never removing a live run's segment.)
//!
//! ```
//! # mod fbench { pub mod strategies { pub use fbench_strategies::*; } }
//! use fbench::strategies::leftovers;
//!
//! assert_eq!(leftovers::run_producer("fbench-4242-7-seqlock"), Some(4242));
//! assert_eq!(leftovers::run_producer("something-else"), None);
//! // This process is alive, so nothing named after its runs is stale.
//! let mine = format!("fbench-{}-0-seqlock", std::process::id());
//! assert!(!leftovers::stale_in_shm("-seqlock")
//!     .iter()
//!     .any(|path| path.ends_with(&mine)));
//! ```

use std::path::PathBuf;

/// The producer pid in a name that starts with a run name (`fbench-<pid>-<n>…`).
pub fn run_producer(name: &str) -> Option<u32> {
    name.strip_prefix("fbench-")?
        .split('-')
        .next()?
        .parse()
        .ok()
}

/// Whether a process `pid` exists.
pub fn is_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// POSIX shared-memory objects (`/dev/shm/<name>`) named after a run and ending with
/// `suffix` (`fbench-<pid>-<n><suffix>`) whose producer is gone, sorted.
pub fn stale_in_shm(suffix: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(crate::shm::SHM_DIR) else {
        return Vec::new();
    };
    let mut stale: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            name.ends_with(suffix) && run_producer(&name).is_some_and(|pid| !is_alive(pid))
        })
        .map(|entry| entry.path())
        .collect();
    stale.sort();
    stale
}
