//! The gating logic on fixed reports: pass, regress, improve, missing runs, a noisy
//! baseline, integrity, absolute gates, matching, normalisation and the exports.

use fbench_harness::machine::MachineInfo;
use fbench_harness::metrics::LatencySummary;
use fbench_harness::result::{MemoryRecord, RunResult};
use fbench_harness::RunConfig;

use super::*;
use crate::BuildInfo;

const MS: f64 = 1e6;

fn summary(p99_ns: u64) -> LatencySummary {
    LatencySummary {
        count: 100,
        mean: p99_ns as f64 / 2.0,
        p50: p99_ns / 2,
        p90: p99_ns * 3 / 4,
        p99: p99_ns,
        p999: p99_ns + 1,
        max: p99_ns + 2,
        hdr: String::new(),
        ci95: None,
    }
}

/// A run of `strategy` with `consumers` whose age p99 is `age_p99_ms`.
fn run(strategy: &str, consumers: usize, age_p99_ms: f64) -> RunResult {
    let mut config = RunConfig::default_config();
    config.consumers = consumers;
    let age = summary((age_p99_ms * MS) as u64);
    RunResult {
        acquire_ns: summary(age.p99 / 10),
        publish_ns: summary(age.p99 / 5),
        render_ns: summary(1000),
        e2e_ns: summary(age.p99 + 1000),
        age_ns: age,
        memory: MemoryRecord {
            peak_pss_bytes: 50_000_000,
            ..MemoryRecord::default()
        },
        ..RunResult::empty(strategy, consumers, config.record())
    }
}

fn report(runs: Vec<RunResult>) -> Report {
    let machine = MachineInfo {
        cpu_model: "Test CPU".to_string(),
        logical_cpus: 2,
        total_memory_bytes: 1 << 30,
        os: "test".to_string(),
        kernel: "6.1".to_string(),
        hostname: "ci-runner".to_string(),
    };
    let build = BuildInfo {
        version: "0.1.0".to_string(),
        git_rev: "abc".to_string(),
    };
    Report::new(machine, build, runs)
}

/// One configuration's trials: a run of `strategy` per value of `p99s_ms`.
fn trials_of(strategy: &str, p99s_ms: &[f64]) -> Vec<RunResult> {
    p99s_ms.iter().map(|&p| run(strategy, 5, p)).collect()
}

fn default_gates() -> GateSet {
    GateSet {
        relative: vec![DEFAULT_MAX_REGRESSION],
        ..GateSet::default()
    }
}

fn gate(baseline: &Report, current: &Report, gates: &GateSet) -> GateOutcome {
    evaluate(Some(baseline), current, gates, &GateOptions::default()).unwrap()
}

fn row<'a>(outcome: &'a GateOutcome, run: &str, metric: Metric) -> &'a GateRow {
    outcome
        .rows
        .iter()
        .find(|r| r.run == run && r.metric == metric)
        .unwrap_or_else(|| panic!("no row {run} {metric} in {:#?}", outcome.rows))
}

#[test]
fn the_same_numbers_pass() {
    let baseline = report(trials_of("mutex", &[2.0, 2.1, 1.9]));
    let outcome = gate(&baseline, &baseline.clone(), &default_gates());
    assert!(outcome.passed(), "{}", outcome.summary());
    let p99 = row(&outcome, "mutex c5", Metric::AGE_P99);
    assert_eq!(p99.verdict, Verdict::Pass);
    assert_eq!(p99.change, Some(0.0));
    assert_eq!(p99.current.median(), 2.0 * MS);
    // The implicit integrity gates are there too.
    for metric in [Metric::TornFrames, Metric::ConsumersLost] {
        assert_eq!(row(&outcome, "mutex c5", metric).verdict, Verdict::Pass);
    }
    assert_eq!(outcome.rows.len(), 3);
    assert!(outcome
        .summary()
        .starts_with("gate passed: 3 gated metrics on 1 run"));
}

#[test]
fn a_real_slowdown_regresses() {
    let baseline = report(trials_of("mutex", &[2.0, 2.1, 1.9]));
    let current = report(trials_of("mutex", &[2.6, 2.5, 2.7]));
    let outcome = gate(&baseline, &current, &default_gates());
    assert!(!outcome.passed());
    let p99 = row(&outcome, "mutex c5", Metric::AGE_P99);
    assert_eq!(p99.verdict, Verdict::Regressed);
    assert!(
        (p99.change.unwrap() - 0.30).abs() < 1e-9,
        "{:?}",
        p99.change
    );
    let summary = outcome.summary();
    assert!(
        summary.starts_with("gate failed: mutex c5 age p99 +30.0% > +10%"),
        "{summary}"
    );
}

#[test]
fn an_improvement_passes_and_says_so() {
    let baseline = report(trials_of("pool", &[2.0, 2.1, 1.9]));
    let current = report(trials_of("pool", &[1.0, 1.1, 1.2]));
    let outcome = gate(&baseline, &current, &default_gates());
    assert!(outcome.passed());
    assert_eq!(
        row(&outcome, "pool c5", Metric::AGE_P99).verdict,
        Verdict::Improved
    );
}

#[test]
fn over_the_threshold_inside_the_baseline_spread_is_noise() {
    // One slow baseline trial widens the spread: a 30% higher median that is still below
    // the slowest baseline trial is not called a regression.
    let baseline = report(trials_of("mutex", &[1.0, 1.05, 2.0]));
    let current = report(trials_of("mutex", &[1.3, 1.35, 1.4]));
    let outcome = gate(&baseline, &current, &default_gates());
    let p99 = row(&outcome, "mutex c5", Metric::AGE_P99);
    assert_eq!(p99.verdict, Verdict::Noise);
    assert!(p99.change.unwrap() > 0.10);
    assert!(outcome.passed());
    // The same medians against a tight baseline fail.
    let tight = report(trials_of("mutex", &[1.0, 1.05, 1.1]));
    assert!(!gate(&tight, &current, &default_gates()).passed());
}

#[test]
fn one_noisy_current_trial_does_not_move_the_median() {
    let baseline = report(trials_of("mutex", &[2.0, 2.1, 1.9, 2.05, 1.95]));
    let current = report(trials_of("mutex", &[2.0, 9.0, 1.9, 2.1, 8.0]));
    let outcome = gate(&baseline, &current, &default_gates());
    assert!(outcome.passed(), "{}", outcome.summary());
}

#[test]
fn exactly_at_the_threshold_passes() {
    let base = Trials::new(vec![100.0]);
    assert_eq!(
        judge_relative(&base, &Trials::new(vec![110.0]), 0.10).1,
        Verdict::Pass
    );
    assert_eq!(
        judge_relative(&base, &Trials::new(vec![110.5]), 0.10).1,
        Verdict::Regressed
    );
}

#[test]
fn medians_of_even_counts_average_the_middle_pair() {
    let t = Trials::new(vec![4.0, 1.0, 3.0, 2.0]);
    assert_eq!((t.median(), t.min(), t.max(), t.len()), (2.5, 1.0, 4.0, 4));
}

#[test]
fn runs_on_one_side_only_are_listed_and_fail_only_when_strict() {
    let mut base_runs = trials_of("mutex", &[2.0]);
    base_runs.extend(trials_of("pool", &[1.0]));
    let baseline = report(base_runs);
    let mut current_runs = trials_of("mutex", &[2.0]);
    current_runs.extend(trials_of("arcswap", &[1.0]));
    let current = report(current_runs);

    let outcome = gate(&baseline, &current, &default_gates());
    assert_eq!(outcome.only_in_baseline, ["pool c5"]);
    assert_eq!(outcome.only_in_current, ["arcswap c5"]);
    assert!(outcome.passed(), "{}", outcome.summary());
    assert!(outcome.summary().contains("2 run(s) on one side only"));
    // The new run still gets its absolute gates.
    assert_eq!(
        row(&outcome, "arcswap c5", Metric::TornFrames).verdict,
        Verdict::Pass
    );

    let strict = GateOptions {
        strict: true,
        ..GateOptions::default()
    };
    let outcome = evaluate(Some(&baseline), &current, &default_gates(), &strict).unwrap();
    assert!(!outcome.passed());
    assert_eq!(outcome.unmatched_failures(), 2);
    let summary = outcome.summary();
    assert!(
        summary.contains("pool c5 missing from the current report (--strict)"),
        "{summary}"
    );
    assert!(summary.contains("arcswap c5 not in the baseline (--strict)"));
}

#[test]
fn runs_differing_in_a_parameter_do_not_match() {
    let baseline = report(vec![run("mutex", 5, 2.0)]);
    let current = report(vec![run("mutex", 20, 8.0)]);
    let outcome = gate(&baseline, &current, &default_gates());
    assert_eq!(outcome.only_in_baseline, ["mutex c5"]);
    assert_eq!(outcome.only_in_current, ["mutex c20"]);
    // Nothing was compared: that is not a pass.
    assert!(outcome.nothing_compared() && !outcome.passed());
}

#[test]
fn ignoring_a_parameter_matches_across_it() {
    let baseline = report(vec![run("mutex", 5, 2.0)]);
    let current = report(vec![run("mutex", 20, 8.0)]);
    let options = GateOptions {
        ignore: vec!["consumers".parse().unwrap()],
        ..GateOptions::default()
    };
    let outcome = evaluate(Some(&baseline), &current, &default_gates(), &options).unwrap();
    assert!(outcome.only_in_baseline.is_empty());
    assert_eq!(outcome.rows[0].run, "mutex");
    assert_eq!(outcome.rows[0].verdict, Verdict::Regressed);

    // Ignoring a parameter that tells a report's own runs apart is refused.
    let both = report(vec![run("mutex", 1, 1.0), run("mutex", 4, 2.0)]);
    let err = evaluate(Some(&both), &current, &default_gates(), &options).unwrap_err();
    assert_eq!(err.to_string().lines().count(), 1, "one line: {err}");
    assert!(
        err.to_string().starts_with(
            "--ignore-param consumers: the baseline report's runs mutex c1 and mutex c4"
        ),
        "{err}"
    );
}

#[test]
fn labels_show_the_parameters_that_vary() {
    let mut fast = run("mutex", 5, 2.0);
    fast.config.fps = 60.0;
    let baseline = report(vec![run("mutex", 5, 2.0), fast.clone()]);
    let outcome = gate(&baseline, &baseline.clone(), &default_gates());
    let runs: Vec<&str> = outcome.rows.iter().map(|r| r.run.as_str()).collect();
    assert_eq!(
        runs,
        [
            "mutex c5 30fps",
            "mutex c5 30fps",
            "mutex c5 30fps",
            "mutex c5 60fps",
            "mutex c5 60fps",
            "mutex c5 60fps"
        ]
    );
}

#[test]
fn torn_frames_fail_every_gating_unless_allowed() {
    let baseline = report(trials_of("unsync", &[1.0, 1.0, 1.0]));
    let mut torn = trials_of("unsync", &[1.0, 1.0, 1.0]);
    torn[1].torn_frames = 3;
    let current = report(torn);
    let outcome = gate(&baseline, &current, &default_gates());
    let row = row(&outcome, "unsync c5", Metric::TornFrames);
    assert_eq!(row.verdict, Verdict::OverLimit, "the worst trial counts");
    assert_eq!(row.current.max(), 3.0);
    assert!(
        outcome.summary().contains("torn frames 3, wanted == 0"),
        "{}",
        outcome.summary()
    );

    // Without a baseline and with no gate given, still checked.
    let alone = evaluate(None, &current, &GateSet::default(), &GateOptions::default()).unwrap();
    assert!(!alone.passed());

    let allowed = GateSet {
        allow_torn: true,
        ..default_gates()
    };
    assert!(gate(&baseline, &current, &allowed).passed());
}

#[test]
fn absolute_gates_bound_the_median_of_the_current_trials() {
    let current = report(trials_of("pool", &[1.0, 1.5, 9.0]));
    let gates = |text: &str| GateSet {
        absolute: vec![text.parse().unwrap()],
        ..GateSet::default()
    };
    let pass = evaluate(None, &current, &gates("p99<2ms"), &GateOptions::default()).unwrap();
    assert!(pass.passed(), "{}", pass.summary());
    assert!(pass
        .rows
        .iter()
        .all(|r| r.baseline.is_none() && r.change.is_none()));
    let fail = evaluate(None, &current, &gates("p99<1ms"), &GateOptions::default()).unwrap();
    assert!(!fail.passed());
    assert!(
        fail.summary()
            .contains("pool c5 age p99 1.50 ms, wanted < 1.00 ms"),
        "{}",
        fail.summary()
    );
    // An explicit torn gate replaces the implicit one rather than doubling it (the other
    // implicit one, consumers_lost==0, stays).
    let explicit = evaluate(None, &current, &gates("torn<=2"), &GateOptions::default()).unwrap();
    assert_eq!(explicit.rows.len(), 2);
}

#[test]
fn a_rate_growing_from_zero_is_a_regression() {
    let baseline = report(trials_of("pool", &[1.0, 1.0, 1.0]));
    let mut dropping = trials_of("pool", &[1.0, 1.0, 1.0]);
    for r in &mut dropping {
        r.drop_rate = 0.02;
    }
    let current = report(dropping);
    let gates = GateSet {
        relative: vec!["drop_rate:50%".parse().unwrap()],
        ..GateSet::default()
    };
    let outcome = gate(&baseline, &current, &gates);
    let row = row(&outcome, "pool c5", Metric::DropRate);
    assert_eq!(row.verdict, Verdict::Regressed);
    assert_eq!(format_change(row.change.unwrap()), "from 0");
}

#[test]
fn normalising_reads_a_uniformly_slower_machine_as_no_change() {
    let mut baseline = report(trials_of("mutex", &[2.0, 2.1, 1.9]));
    baseline.calibration.wake_p50_ns = Some(4_000);
    baseline.calibration.frame_copy_ns = Some(200_000.0);
    // Twice as slow everywhere, including its wake-ups.
    let mut current = report(trials_of("mutex", &[4.0, 4.2, 3.8]));
    current.calibration.wake_p50_ns = Some(8_000);
    current.calibration.frame_copy_ns = Some(400_000.0);
    let gates = GateSet {
        relative: vec![DEFAULT_MAX_REGRESSION, "acquire.p99:10%".parse().unwrap()],
        ..GateSet::default()
    };
    assert!(!gate(&baseline, &current, &gates).passed());

    let normalize = GateOptions {
        normalize: true,
        ..GateOptions::default()
    };
    let outcome = evaluate(Some(&baseline), &current, &gates, &normalize).unwrap();
    assert!(outcome.passed(), "{}", outcome.summary());
    let p99 = row(&outcome, "mutex c5", Metric::AGE_P99);
    assert_eq!(p99.per, Some("wake p50"));
    assert_eq!(p99.format(p99.current.median()), "500.000 × wake p50");
    assert_eq!(
        row(
            &outcome,
            "mutex c5",
            Metric::Latency(Series::Acquire, Stat::P99)
        )
        .per,
        Some("frame copy")
    );

    current.calibration.wake_p50_ns = None;
    let err = evaluate(Some(&baseline), &current, &gates, &normalize).unwrap_err();
    assert_eq!(
        err,
        GateError::NoCalibration {
            side: "current",
            figure: "wake_p50_ns"
        }
    );
}

#[test]
fn without_a_baseline_relative_gates_are_skipped() {
    let current = report(trials_of("mutex", &[2.0]));
    let outcome = evaluate(None, &current, &default_gates(), &GateOptions::default()).unwrap();
    assert_eq!(
        outcome.rows.len(),
        2,
        "only the torn-frame and lost-consumer gates"
    );
    assert!(!outcome.had_baseline && outcome.passed());
}

#[test]
fn parameters_parse_by_their_flag_names() {
    let name = |text: &str| text.parse::<Param>().map(|p| p.name().to_string());
    assert_eq!(name("consumers"), Ok("consumers".to_string()));
    assert_eq!(
        name("--deadline-tolerance"),
        Ok("deadline_tolerance".to_string())
    );
    assert_eq!(name("pool_size"), Ok("pool_size".to_string()));
    assert_eq!(name("duration_s"), Ok("duration".to_string()));
    assert_eq!(name("--slot-policy"), Ok("slot_policy".to_string()));
    assert_eq!(name("faults"), Ok("faults".to_string()));
    let err = "strategy".parse::<Param>().unwrap_err();
    assert!(
        err.contains("accepted: consumers, source, resolution"),
        "{err}"
    );
}

#[test]
fn benchmark_names_are_stable_and_name_non_default_parameters() {
    let mut r = run("pool", 5, 1.0);
    assert_eq!(benchmark_name(&r), "pool c5 1920x1080 rgb24 30fps inspect");
    r.config.duration_s = 60.0;
    assert_eq!(benchmark_name(&r), "pool c5 1920x1080 rgb24 30fps inspect");
    r.config.wait = "spin".to_string();
    r.config.slow = vec!["1:sleep:50ms".to_string()];
    assert_eq!(
        benchmark_name(&r),
        "pool c5 1920x1080 rgb24 30fps inspect slow 1:sleep:50ms wait spin"
    );
}

#[test]
fn github_benchmark_export_is_a_custom_smaller_is_better_array() {
    let current = report(trials_of("mutex", &[2.0, 2.2, 1.8]));
    let bytes = ci::github_benchmark(&current, &ci::exported_metrics(&default_gates())).unwrap();
    let items: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let items = items.as_array().unwrap();
    assert_eq!(items.len(), ci::ALWAYS_EXPORTED.len());
    let p99 = items
        .iter()
        .find(|i| i["name"] == "mutex c5 1920x1080 rgb24 30fps inspect - age p99")
        .unwrap();
    assert_eq!(p99["unit"], "ns");
    assert_eq!(p99["value"], 2.0 * MS);
    assert_eq!(p99["range"], "± 200000");
    assert!(p99["extra"]
        .as_str()
        .unwrap()
        .starts_with("median of 3 trials"));
    for item in items {
        let keys: Vec<&String> = item.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["extra", "name", "range", "unit", "value"]);
        assert!(item["value"].is_number());
    }
    let drops = items.iter().find(|i| i["unit"] == "%").unwrap();
    assert_eq!(drops["value"], 0.0);

    // One trial: no range.
    let single = report(trials_of("mutex", &[2.0]));
    let bytes = ci::github_benchmark(&single, &[Metric::AGE_P99]).unwrap();
    let items: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert!(items[0].get("range").is_none());
}

#[test]
fn bencher_export_is_bencher_metric_format() {
    let mut runs = trials_of("mutex", &[2.0, 2.2, 1.8]);
    runs.extend(trials_of("pool", &[1.0]));
    let current = report(runs);
    let gates = GateSet {
        absolute: vec!["deadline_misses==0".parse().unwrap()],
        ..default_gates()
    };
    let bytes = ci::bencher(&current, &ci::exported_metrics(&gates)).unwrap();
    let bmf: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let mutex = &bmf["mutex c5 1920x1080 rgb24 30fps inspect"];
    assert_eq!(
        mutex["age-p99"],
        serde_json::json!({"value": 2.0 * MS, "lower_value": 1.8 * MS, "upper_value": 2.2 * MS})
    );
    assert_eq!(mutex["peak-pss"]["value"], 50_000_000.0);
    assert!(
        mutex["deadline-misses"]["value"].is_number(),
        "gated metrics are exported"
    );
    assert_eq!(bmf.as_object().unwrap().len(), 2);
}

#[test]
fn the_table_and_the_markdown_show_every_gated_metric() {
    let baseline = report(trials_of("mutex", &[2.0, 2.1, 1.9]));
    let current = report(trials_of("mutex", &[2.6, 2.5, 2.7]));
    let outcome = gate(&baseline, &current, &default_gates());
    let text = render_terminal(&outcome, Some(140));
    for expected in [
        "baseline",
        "threshold",
        "2.00 ms [1.90 ms – 2.10 ms]",
        "2.60 ms [2.50 ms – 2.70 ms]",
        "+30.0%",
        "+10%",
        "REGRESSED",
        "== 0",
        "slowest baseline trial",
    ] {
        assert!(text.contains(expected), "{expected:?} in\n{text}");
    }
    assert!(text.trim_end().ends_with(&outcome.summary()));

    let md = render_markdown(&outcome);
    assert!(md.starts_with("### fbench gate: ❌ failed\n"), "{md}");
    assert!(md.contains("| run | metric | baseline | current | change | threshold | verdict |"));
    assert!(md.contains(
        "| mutex c5 | age p99 | 2.00 ms [1.90 ms – 2.10 ms] | 2.60 ms [2.50 ms – 2.70 ms] | +30.0% | +10% | **REGRESSED** |"
    ), "{md}");
    assert!(
        render_markdown(&gate(&baseline, &baseline.clone(), &default_gates()))
            .starts_with("### fbench gate: ✅ passed")
    );
}

fn with_load(mut runs: Vec<RunResult>, cpus: f64) -> Vec<RunResult> {
    for r in &mut runs {
        r.cpu.other_load_cpus = Some(cpus);
    }
    runs
}

#[test]
fn a_slowdown_on_a_busier_machine_is_inconclusive_not_a_regression() {
    let baseline = report(with_load(trials_of("mutex", &[2.0, 2.1, 1.9]), 0.1));
    let slower = trials_of("mutex", &[2.6, 2.5, 2.7]);

    // Other processes took 1.5 of the 2 CPUs instead of 0.1: not judged.
    let busy = report(with_load(slower.clone(), 1.5));
    let outcome = gate(&baseline, &busy, &default_gates());
    let p99 = row(&outcome, "mutex c5", Metric::AGE_P99);
    assert_eq!(p99.verdict, Verdict::Inconclusive);
    assert_eq!(p99.other_load, Some((0.1, 1.5)));
    assert!(outcome.passed());
    assert!(
        outcome.summary().contains("1 inconclusive"),
        "{}",
        outcome.summary()
    );
    let text = render_terminal(&outcome, Some(160));
    assert!(
        text.contains("Other processes' load (median CPUs of 2): baseline 0.10, current 1.50."),
        "{text}"
    );
    assert!(
        text.contains("Inconclusive: mutex c5 age p99 is slower"),
        "{text}"
    );

    // As busy as the baseline (within the tolerance), or quieter: judged.
    for load in [0.1, 0.25, 0.0] {
        let current = report(with_load(slower.clone(), load));
        let outcome = gate(&baseline, &current, &default_gates());
        assert_eq!(
            row(&outcome, "mutex c5", Metric::AGE_P99).verdict,
            Verdict::Regressed,
            "other load {load}"
        );
    }
    // A report without the figure is judged as before.
    let unknown = report(slower);
    assert!(!gate(&baseline, &unknown, &default_gates()).passed());
    // A busier machine never excuses torn frames or absolute limits.
    let mut torn = with_load(trials_of("mutex", &[2.6, 2.5, 2.7]), 1.5);
    torn[0].torn_frames = 1;
    assert!(!gate(&baseline, &report(torn), &default_gates()).passed());
}

#[test]
fn a_lucky_fast_current_trial_means_the_distribution_did_not_move() {
    // The median is over the threshold and above every baseline trial, but one current trial
    // is as fast as the baseline's typical one: noise only adds latency, so that trial says
    // the code can still be as fast as before.
    let baseline = report(trials_of("pool", &[1.0, 1.1, 1.2]));
    let current = report(trials_of("pool", &[0.9, 1.5, 1.6]));
    let outcome = gate(&baseline, &current, &default_gates());
    assert_eq!(
        row(&outcome, "pool c5", Metric::AGE_P99).verdict,
        Verdict::Noise
    );
}

#[test]
fn others_filling_cpu_this_run_gave_up_do_not_excuse_it() {
    // A saturated machine: the current run uses 0.6 CPU less and other processes take it.
    let mut base_runs = with_load(trials_of("mutex", &[2.0, 2.1, 1.9]), 1.0);
    for r in &mut base_runs {
        r.cpu.user_s = 0.8 * r.config.duration_s;
    }
    let mut current_runs = with_load(trials_of("mutex", &[2.6, 2.5, 2.7]), 1.6);
    for r in &mut current_runs {
        r.cpu.user_s = 0.2 * r.config.duration_s;
    }
    let outcome = gate(&report(base_runs), &report(current_runs), &default_gates());
    assert_eq!(
        row(&outcome, "mutex c5", Metric::AGE_P99).verdict,
        Verdict::Regressed
    );
}

/// `run` with the recorded configuration changed by `change` (on its JSON object).
fn with_config(
    r: &RunResult,
    change: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
) -> RunResult {
    let mut value = serde_json::to_value(r).unwrap();
    change(value["config"].as_object_mut().unwrap());
    serde_json::from_value(value).unwrap()
}

#[test]
fn every_recorded_parameter_changes_the_key() {
    use serde_json::Value;
    let base = run("mutex", 5, 2.0);
    let fields: Vec<String> = serde_json::to_value(&base.config)
        .unwrap()
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let mut checked = Vec::new();
    for field in &fields {
        // `slots_default` marks `slots` as derived from the consumer count; it is not a
        // parameter of its own (an explicit `slots` below clears it).
        if ["source_detail", "frame_bytes", "slots_default"].contains(&field.as_str()) {
            continue;
        }
        let other = with_config(&base, |config| {
            if field == "slots" {
                config.insert("slots_default".into(), false.into());
            }
            let value = config.get_mut(field).unwrap();
            *value = match value.take() {
                Value::Number(n) if n.is_u64() => Value::from(n.as_u64().unwrap() + 1),
                Value::Number(n) => Value::from(n.as_f64().unwrap() * 2.0 + 1.0),
                Value::String(s) => Value::from(format!("{s}-other")),
                Value::Array(mut items) => {
                    items.push(Value::from("1:copy"));
                    Value::Array(items)
                }
                other => panic!("{field}: a {other} field; teach this test to change it"),
            };
        });
        let (a, b) = (RunKey::of(&base, &[]), RunKey::of(&other, &[]));
        assert!(!a.matches(&b), "{field} does not change the key");
        // Two runs that differ in it are two configurations, not trials of one.
        let outcome = gate(
            &report(vec![base.clone()]),
            &report(vec![base.clone(), other.clone()]),
            &default_gates(),
        );
        assert_eq!(outcome.only_in_current.len(), 1, "{field}");
        assert_eq!(outcome.current_trials, (1, 1), "{field}");
        // Ignoring it (by its parameter name) matches across it.
        let name = match field.as_str() {
            "width" | "height" => "resolution".to_string(),
            f => f.strip_suffix("_s").unwrap_or(f).to_string(),
        };
        let ignore: Param = name.parse().unwrap();
        assert!(
            RunKey::of(&base, std::slice::from_ref(&ignore))
                .matches(&RunKey::of(&other, &[ignore])),
            "{field}"
        );
        checked.push(name);
    }
    for expected in [
        "fps",
        "resolution",
        "slots",
        "slot_policy",
        "pool_size",
        "wait",
        // A 4-stream run is never a trial of a 1-stream one.
        "streams",
        "stream_phase",
    ] {
        assert!(
            checked.iter().any(|c| c == expected),
            "{expected} in {checked:?}"
        );
    }

    // The run-level parameters: consumers and faults.
    let more = run("mutex", 6, 2.0);
    assert!(!RunKey::of(&base, &[]).matches(&RunKey::of(&more, &[])));
    let mut faulted = base.clone();
    faulted.faults = vec![serde_json::from_value(serde_json::json!({
        "fault": "stall:0@1s:1s", "kind": "stall", "consumer": 0, "at_s": 1.0, "window_s": 1.0,
        "consumer_status": "ok",
        "producer": serde_json::to_value(fbench_harness::faults::ProducerTally::default()).unwrap(),
        "others": 4, "others_frames_seen": 0, "others_drop_rate": 0.0, "others_age_max_ns": 0
    }))
    .unwrap()];
    assert!(!RunKey::of(&base, &[]).matches(&RunKey::of(&faulted, &[])));
    assert!(Param::all().iter().any(|p| p.name() == "faults"));
}

#[test]
fn a_sweep_over_slots_is_two_configurations() {
    let explicit = |slots: u64| {
        with_config(&run("shm", 5, 2.0), |c| {
            c["slots"] = slots.into();
            c["slots_default"] = false.into();
        })
    };
    let (three, eight) = (explicit(3), explicit(8));
    let both = report(vec![three, eight]);
    let outcome = gate(&both, &both.clone(), &default_gates());
    assert_eq!(outcome.current_trials, (1, 1));
    let runs: Vec<&str> = outcome.rows.iter().map(|r| r.run.as_str()).collect();
    assert!(
        runs.contains(&"shm c5 slots 3") && runs.contains(&"shm c5 slots 8"),
        "{runs:?}"
    );
}

#[test]
fn a_gate_that_compared_nothing_fails_unless_allowed() {
    let mut base_runs = trials_of("mutex", &[2.0]);
    base_runs.extend(trials_of("arcswap", &[1.0]));
    let baseline = report(base_runs);
    let current = report(trials_of("pool", &[1.0]));
    let outcome = gate(&baseline, &current, &default_gates());
    assert!(outcome.nothing_compared());
    assert!(!outcome.passed());
    let summary = outcome.summary();
    assert_eq!(summary.lines().count(), 1);
    assert!(
        summary.starts_with(
            "gate failed: nothing was compared: no run of the current report (pool c5) matches a run of the baseline (mutex c5, arcswap c5)"
        ),
        "{summary}"
    );
    let allowed = GateOptions {
        allow_unmatched: true,
        ..GateOptions::default()
    };
    let outcome = evaluate(Some(&baseline), &current, &default_gates(), &allowed).unwrap();
    assert!(outcome.passed(), "{}", outcome.summary());
    assert!(outcome
        .summary()
        .contains("nothing compared with the baseline (--allow-unmatched)"));
    // Strict still fails on the unmatched runs, and says which.
    let strict = GateOptions {
        strict: true,
        ..allowed
    };
    let outcome = evaluate(Some(&baseline), &current, &default_gates(), &strict).unwrap();
    assert!(!outcome.passed());
    assert!(
        outcome
            .summary()
            .contains("pool c5 not in the baseline (--strict)"),
        "{}",
        outcome.summary()
    );
    // Without a baseline there is nothing to match.
    let alone = evaluate(None, &current, &default_gates(), &GateOptions::default()).unwrap();
    assert!(alone.passed() && !alone.nothing_compared());
}

#[test]
fn a_parameter_an_older_baseline_does_not_record_matches_any_value() {
    // A report written before slots were recorded reads them as 0 and "".
    let old = with_config(&run("shm", 5, 2.0), |c| {
        c.remove("slots");
        c.remove("slot_policy");
        c.remove("slots_default");
    });
    assert_eq!(old.config.slots, 0);
    let now = with_config(&run("shm", 5, 2.0), |c| {
        c["slots"] = 8.into();
        c["slots_default"] = false.into();
    });
    let outcome = gate(&report(vec![old]), &report(vec![now]), &default_gates());
    assert_eq!(outcome.compared, 1, "{}", outcome.summary());
    assert_eq!(outcome.unrecorded_in_baseline, ["slots", "slot_policy"]);
    assert!(render_terminal(&outcome, Some(160))
        .contains("Not recorded by the baseline (an older report), matched whatever the current value: slots, slot_policy."));
}

#[test]
fn reports_of_either_schema_read_and_others_are_refused() {
    let json = String::from_utf8(
        crate::ExportFormat::Json
            .exporter()
            .render(&report(trials_of("mutex", &[2.0])))
            .unwrap(),
    )
    .unwrap();
    for schema in crate::READABLE_SCHEMAS {
        let text = json.replace(crate::SCHEMA, schema);
        assert_eq!(Report::from_json(&text).unwrap().schema, schema);
    }
    let err = Report::from_json(&json.replace(crate::SCHEMA, "fbench.report/9")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unsupported report schema fbench.report/9; this fbench reads fbench.report/1, fbench.report/2"
    );
}

#[test]
fn an_inconclusive_outcome_is_not_a_pass_and_names_its_runs() {
    let baseline = report(with_load(trials_of("mutex", &[2.0, 2.1, 1.9]), 0.1));
    let busy = report(with_load(trials_of("mutex", &[2.6, 2.5, 2.7]), 1.5));
    let outcome = gate(&baseline, &busy, &default_gates());
    assert!(outcome.passed() && outcome.inconclusive());
    let line = outcome.inconclusive_summary();
    assert!(
        line.starts_with("gate inconclusive: mutex c5 age p99 +"),
        "{line}"
    );
    assert!(
        line.contains("other processes used 1.50 CPUs against 0.10 during the baseline"),
        "{line}"
    );
    assert!(line.contains("docs/ci-gating.md"), "{line}");
    assert_eq!(line.lines().count(), 1);
    assert!(render_markdown(&outcome).starts_with("### fbench gate: ⚠️ inconclusive"));
    // Judged outcomes are not inconclusive.
    let same = report(with_load(trials_of("mutex", &[2.0, 2.1, 1.9]), 0.1));
    assert!(!gate(&baseline, &same, &default_gates()).inconclusive());
}

/// `runs` whose consumers all died: nothing measured, the figures as the runtime writes
/// them (count 0; the percentiles are `null` in JSON, read here as whatever they hold).
fn all_lost(mut runs: Vec<RunResult>) -> Vec<RunResult> {
    for r in &mut runs {
        r.consumers_lost = r.consumers as u64;
        for summary in [&mut r.age_ns, &mut r.acquire_ns, &mut r.e2e_ns] {
            summary.count = 0;
            summary.p50 = 0;
            summary.p90 = 0;
            summary.p99 = 0;
            summary.p999 = 0;
            summary.max = 0;
        }
    }
    runs
}

#[test]
fn a_lost_consumer_fails_every_gating_unless_allowed() {
    let baseline = report(trials_of("shm", &[2.0, 2.1, 1.9]));
    let mut runs = trials_of("shm", &[2.0, 2.1, 1.9]);
    runs[1].consumers_lost = 1;
    let outcome = gate(&baseline, &report(runs.clone()), &default_gates());
    let lost = row(&outcome, "shm c5", Metric::ConsumersLost);
    assert_eq!(lost.verdict, Verdict::OverLimit);
    assert!(!outcome.passed());
    assert!(
        outcome
            .summary()
            .contains("shm c5 consumers lost 1, wanted == 0"),
        "{}",
        outcome.summary()
    );
    let allowed = GateSet {
        allow_lost: true,
        ..default_gates()
    };
    let outcome = gate(&baseline, &report(runs), &allowed);
    assert!(outcome.passed());
    assert!(outcome
        .rows
        .iter()
        .all(|r| r.metric != Metric::ConsumersLost));
    // Written out, the gate is the same one.
    assert_eq!(
        "consumers_lost==0".parse::<AbsoluteGate>(),
        Ok(AbsoluteGate::NO_CONSUMERS_LOST)
    );
}

#[test]
fn a_run_that_measured_nothing_is_never_improved() {
    let baseline = report(trials_of("shm", &[2.0, 2.1, 1.9]));
    let dead = report(all_lost(trials_of("shm", &[2.0, 2.1, 1.9])));
    // The lost consumers fail it first.
    let outcome = gate(&baseline, &dead, &default_gates());
    assert!(!outcome.passed());
    let p99 = row(&outcome, "shm c5", Metric::AGE_P99);
    assert_eq!(p99.verdict, Verdict::Unmeasured);
    assert_eq!(p99.change, None);
    assert!(p99.current.is_empty());

    // Allowed to lose consumers, it is still not a pass: it could not be judged.
    let gates = GateSet {
        allow_lost: true,
        absolute: vec!["p99<5ms".parse().unwrap()],
        ..default_gates()
    };
    let outcome = gate(&baseline, &dead, &gates);
    assert!(outcome.passed() && outcome.inconclusive());
    assert!(outcome
        .rows
        .iter()
        .filter(|r| r.metric == Metric::AGE_P99)
        .all(|r| r.verdict == Verdict::Unmeasured));
    assert!(outcome.rows.iter().all(|r| r.verdict != Verdict::Improved));
    let line = outcome.inconclusive_summary();
    assert!(line.contains("shm c5 age p99 not measured"), "{line}");
    let text = render_terminal(&outcome, Some(200));
    assert!(text.contains("not measured"), "{text}");
    assert!(!text.contains("-100.0%"), "{text}");

    // Nor are the consumers' drop rate and deadline misses of a run that lost them all.
    let drops = GateSet {
        relative: vec!["drop_rate:10%".parse().unwrap()],
        allow_lost: true,
        ..GateSet::default()
    };
    let mut dropping = trials_of("shm", &[2.0, 2.1, 1.9]);
    for r in &mut dropping {
        r.drop_rate = 0.5;
    }
    let outcome = gate(&report(dropping), &dead, &drops);
    assert_eq!(
        row(&outcome, "shm c5", Metric::DropRate).verdict,
        Verdict::Unmeasured
    );

    // One dead trial among live ones: still not compared.
    let mut mixed = trials_of("shm", &[1.0, 1.0, 1.0]);
    mixed[0] = all_lost(vec![mixed[0].clone()]).remove(0);
    let outcome = gate(&baseline, &report(mixed), &gates);
    let p99 = outcome
        .rows
        .iter()
        .find(|r| r.metric == Metric::AGE_P99 && matches!(r.threshold, Threshold::Relative(_)))
        .unwrap();
    assert_eq!(p99.verdict, Verdict::Unmeasured);
    assert_eq!(p99.current.len(), 2);

    // A baseline that measured nothing is no reference either.
    let outcome = gate(&dead, &baseline, &gates);
    assert_eq!(
        row(&outcome, "shm c5", Metric::AGE_P99).verdict,
        Verdict::Unmeasured
    );
    // Exports leave the missing figure out rather than writing 0.
    let json =
        ci::github_benchmark(&dead, &[Metric::AGE_P99, Metric::DropRate, Metric::PeakPss]).unwrap();
    let text = String::from_utf8(json).unwrap();
    assert!(!text.contains("age p99"), "{text}");
    assert!(!text.contains("drop rate"), "{text}");
    assert!(text.contains("peak PSS"), "{text}");
}

#[test]
fn impossible_reports_are_named_by_their_field() {
    let real = || {
        let mut run = run("mutex", 2, 2.0);
        let mut latency = fbench_harness::metrics::Latency::new();
        latency.record(2_000_000);
        run.age_ns = latency.summary();
        run
    };
    assert_eq!(check_report(&report(vec![real()])), Ok(()));
    let refused = |change: &dyn Fn(&mut RunResult)| {
        let mut run = real();
        change(&mut run);
        let err = check_report(&report(vec![real(), run])).unwrap_err();
        assert_eq!(err.index, 1);
        assert_eq!(err.run, "mutex c2 trial 1");
        (err.field.clone(), err.to_string())
    };
    let (field, text) = refused(&|r| r.drop_rate = -1.0);
    assert_eq!(field, "drop_rate");
    assert!(text.contains("-1 is not a fraction from 0 to 1"), "{text}");
    assert_eq!(refused(&|r| r.loss_rate = Some(f64::NAN)).0, "loss_rate");
    assert_eq!(refused(&|r| r.cpu.user_s = -3.0).0, "cpu.user_s");
    assert_eq!(refused(&|r| r.consumers_lost = 3).0, "consumers_lost");
    let (field, text) = refused(&|r| r.age_ns.p50 = r.age_ns.p99 + 1);
    assert_eq!(field, "age_ns.p50");
    assert!(text.contains("percentiles out of order"), "{text}");
    let (field, text) = refused(&|r| {
        r.e2e_ns.count = 0;
        r.e2e_ns.p99 = 5;
        r.e2e_ns.p999 = 5;
        r.e2e_ns.max = 5;
    });
    assert_eq!(field, "e2e_ns.p50");
    assert!(text.contains("count is 0"), "{text}");
    let (field, text) = refused(&|r| r.age_ns.hdr = "HISTFAAAAB542pNpmZmBgYGJg".to_string());
    assert_eq!(field, "age_ns.hdr");
    assert!(text.contains("histogram"), "{text}");

    // The same record twice is a copy; two trials of one configuration are not.
    let copy = real();
    let err = check_report(&report(vec![copy.clone(), copy.clone()])).unwrap_err();
    assert_eq!(err.field, "run");
    assert!(
        err.to_string().contains("the same record as runs[0]"),
        "{err}"
    );
    let mut second_trial = copy.clone();
    second_trial.trial = 2;
    assert_eq!(
        check_report(&report(vec![copy.clone(), second_trial])),
        Ok(())
    );
    // Nothing measured, written as zeros: possible.
    let mut dead = copy;
    dead.age_ns = fbench_harness::metrics::Latency::new().summary();
    assert_eq!(check_report(&report(vec![dead])), Ok(()));
}
