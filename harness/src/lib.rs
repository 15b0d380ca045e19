//! The fbench harness: the frame model, capture sources, consumers, the runner and the
//! metrics. It drives any [`fbench_strategies::Strategy`] and returns plain numbers
//! ([`RunResult`]); it never draws or formats them (that is the reports crate's job).

pub mod alloc;
pub mod calibrate;
pub mod capacity;
pub mod clock;
pub mod config;
pub mod faults;
pub mod frame;
pub mod hdr;
pub mod integrity;
pub mod interrupt;
pub mod leaks;
pub mod limits;
pub mod load;
pub mod machine;
pub mod metrics;
pub mod registry;
pub mod remote;
pub mod result;
pub mod runner;
pub mod scenario;
pub mod soak;
pub mod source;
pub mod streams;
pub mod sweep;
pub mod timeline;
pub mod units;
pub mod workload;

pub use config::{ConfigError, RunConfig};
pub use registry::{run, Registry, StrategyRef};
pub use result::RunResult;
pub use runner::RunError;
