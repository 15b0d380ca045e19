//! fbench's conformance suite on this crate's strategy, one test per property, and a short
//! run through the harness (the same driver `cargo bench --bench frames -- run` uses).

use std::time::Duration;

use fbench::harness::frame::Resolution;
use fbench::harness::{Registry, RunConfig};
use fbench::strategies::Build;
use fbench_custom_strategy::DoubleBuffer;

fbench::strategies::conformance_tests!(double_buffer, |params| DoubleBuffer::build(params)
    .unwrap());

#[test]
fn a_short_run_through_the_harness() {
    let mut registry = Registry::builtin();
    registry.register::<DoubleBuffer>().unwrap();
    let mut config = RunConfig::default_config();
    config.frame.resolution = Resolution::new(320, 240);
    config.consumers = 3;
    config.warmup = Duration::from_millis(100);
    config.duration = Duration::from_millis(500);
    let result = registry
        .get("double-buffer")
        .expect("registered")
        .run(&config, &mut |_| {})
        .unwrap();
    assert_eq!(result.strategy, "double-buffer");
    assert_eq!(result.torn_frames, 0);
    assert_eq!(result.out_of_order, 0);
    assert_eq!(result.per_consumer.len(), 3);
    assert!(result
        .per_consumer
        .iter()
        .all(|c| c.status == "ok" && c.frames_seen > 0));
    // The producer renders in place: nothing is copied.
    assert_eq!(result.copies.bytes_copied, 0);
}
