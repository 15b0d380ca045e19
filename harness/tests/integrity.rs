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
