//! The whole fbench command line, with this crate's cross-process strategy registered:
//!
//! ```sh
//! cargo bench --bench frames -- list
//! cargo bench --bench frames -- conformance -s seqlock
//! cargo bench --bench frames -- run --strategy seqlock,shm --consumers 5 --duration 3s
//! ```

fbench::main!(; cross_process: fbench_cross_process_strategy::SeqLock);
