//! The fbench command line with `seqlock` registered, as a binary (the bench target
//! `frames` is the same line): the crate's tests start it, and it starts its own consumer
//! processes.

fbench::main!(; cross_process: fbench_cross_process_strategy::SeqLock);
