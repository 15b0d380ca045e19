//! The torn-frame detector works: the unsynchronised canary tears frames under load and the
//! consumers count them, while every real strategy reports zero under the same load.

use std::time::Duration;

use fbench_harness::frame::{FrameSpec, PixelFormat, Resolution};
use fbench_harness::{run, RunConfig};
use fbench_strategies::{StrategyKind, WaitMode};

fn hard_load() -> RunConfig {
    let mut config = RunConfig::default_config();
    config.frame = FrameSpec {
        resolution: Resolution::new(640, 480),
        format: PixelFormat::Rgb24,
    };
    config.fps = 2000.0;
    config.duration = Duration::from_millis(600);
    config.warmup = Duration::from_millis(50);
    config.consumers = 6;
    config.wait = WaitMode::Block;
    config
}

#[test]
fn the_canary_tears_and_the_consumers_count_it() {
    // Consumer 0 holds one frame for 100 ms while the producer publishes about 200 more:
    // its look before release sees other frames' bytes, however the threads are scheduled.
    let mut config = hard_load();
    config.faults = vec!["stall:0@100ms:100ms".parse().unwrap()];
    let result = run(StrategyKind::Unsync, &config, &mut |_| {}).unwrap();
    assert!(
        result.torn_frames > 0,
        "the unsynchronised strategy must produce torn frames ({} frames seen)",
        result.age_ns.count
    );
    assert!(
        result.per_consumer[0].torn_frames > 0,
        "the held frame was overwritten"
    );
}

#[test]
fn real_strategies_never_tear_under_the_same_load() {
    // Cross-process strategies need the fbench binary for their consumers: the CLI tests
    // (tests/shm.rs) cover them.
    for kind in StrategyKind::ALL
        .into_iter()
        .chain(StrategyKind::PEERS)
        .filter(|k| !k.is_cross_process())
    {
        let result = run(kind, &hard_load(), &mut |_| {}).unwrap();
        assert_eq!(result.torn_frames, 0, "{}", kind.name());
        assert_eq!(result.out_of_order, 0, "{}", kind.name());
        assert!(result.age_ns.count > 0, "{} delivered nothing", kind.name());
        assert!(result.frames.published > 0);
        assert!(result.per_consumer.iter().all(|c| c.status == "ok"));
    }
}

#[test]
fn counts_are_consistent() {
    let mut config = hard_load();
    config.fps = 200.0;
    config.consumers = 3;
    // Cross-process strategies need the fbench binary for their consumers: the CLI tests
    // (tests/shm.rs) cover them.
    for kind in StrategyKind::ALL
        .into_iter()
        .chain(StrategyKind::PEERS)
        .filter(|k| !k.is_cross_process())
    {
        let result = run(kind, &config, &mut |_| {}).unwrap();
        let f = result.frames;
        assert_eq!(
            f.produced,
            f.published + f.producer_drops,
            "{}",
            kind.name()
        );
        for consumer in &result.per_consumer {
            assert!(consumer.frames_seen <= f.published, "{}", kind.name());
            assert!((0.0..=1.0).contains(&consumer.drop_rate.unwrap()));
        }
        assert_eq!(
            result.age_ns.count,
            result
                .per_consumer
                .iter()
                .map(|c| c.frames_seen)
                .sum::<u64>()
        );
        assert!(result.memory.peak_pss_bytes > 0);
        assert!(!result.memory.timeline.is_empty());
    }
}

/// The FIFO strategies through the unchanged consumer loop: whole frames, in order, and
/// under `block` nothing dropped by policy; the drops a policy counts are all the consumers
/// miss beyond the ordinary window edges.
#[test]
fn fifo_strategies_through_the_consumer_loop() {
    use fbench_strategies::DropPolicy;
    let mut config = hard_load();
    config.fps = 500.0;
    config.consumers = 3;
    for (kind, policy) in [
        (StrategyKind::Queue, DropPolicy::Block),
        (StrategyKind::Queue, DropPolicy::Oldest),
        (StrategyKind::Queue, DropPolicy::Newest),
        (StrategyKind::Broadcast, DropPolicy::Block),
        (StrategyKind::Ideal, DropPolicy::Block),
    ] {
        config.drop_policy = policy;
        let result = run(kind, &config, &mut |_| {}).unwrap();
        let name = format!("{} {}", kind.name(), policy.name());
        assert_eq!(result.torn_frames, 0, "{name}");
        assert_eq!(result.out_of_order, 0, "{name}");
        assert!(result.age_ns.count > 0, "{name} delivered nothing");
        assert_eq!(result.config.drop_policy, policy.name());
        match kind {
            StrategyKind::Ideal => assert!(result.queues.is_none()),
            _ => {
                let queues = result.queues.as_ref().expect("queue figures");
                assert_eq!(queues.len(), 3, "{name}: one per consumer");
                if kind == StrategyKind::Queue && policy == DropPolicy::Block {
                    assert!(queues.iter().all(|q| q.dropped_by_policy == 0), "{name}");
                }
                assert!(queues.iter().all(|q| q.max_depth <= 2), "{name}");
            }
        }
    }
}
