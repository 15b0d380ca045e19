//! What a run did not give back: reader handles, frame buffers or slots, shared-memory
//! segments. Checked at the end of every run (`runs[].leaks`) and read by the soak analysis.

use serde::{Deserialize, Serialize};

/// What a run had not given back at its end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LeakCheck {
    /// Reader handles still alive after every consumer ended (in-process strategies).
    pub readers_outstanding: u64,
    /// Frame buffers handed out and never returned (`pool` buffers, `shm` slots); `null`
    /// for strategies with nothing to return.
    pub frames_outstanding: Option<u64>,
    /// Shared-memory segments of this process left in /dev/shm after the strategy dropped.
    pub segments_left: u64,
}

impl LeakCheck {
    pub fn is_clean(&self) -> bool {
        self.readers_outstanding == 0
            && self.frames_outstanding.unwrap_or(0) == 0
            && self.segments_left == 0
    }
}

/// Segments in /dev/shm named for this process.
pub fn own_segments() -> usize {
    let prefix = format!(
        "{}{}-",
        fbench_strategies::shm::NAME_PREFIX,
        std::process::id()
    );
    std::fs::read_dir(fbench_strategies::shm::SHM_DIR)
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
                .count()
        })
        .unwrap_or(0)
}
