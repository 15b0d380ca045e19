//! The exports of a fixed report: Markdown and CSV against snapshots, `.hgrm` against
//! HdrHistogram's format, and the HTML's structure (one SVG per chart, nothing external,
//! the same bytes every time).
//!
//! Snapshots live in `tests/snapshots/`; after an intended change, regenerate them with
//! `UPDATE_SNAPSHOTS=1 cargo test -p fbench-reports --test exports` and review the diff.

use std::path::PathBuf;

use fbench_harness::machine::MachineInfo;
use fbench_harness::metrics::{CpuUsage, Latency, MemorySample};
use fbench_harness::result::{ConsumerRecord, CopiesRecord, FrameCounts, MemoryRecord, RunResult};
use fbench_harness::timeline::TimelinePoint;
use fbench_harness::RunConfig;
use fbench_reports::{expected_charts, hgrm, BuildInfo, ExportFormat, Exporter, Report, Trials};

fn machine(hostname: &str) -> MachineInfo {
    MachineInfo {
        cpu_model: "Test CPU 9000".to_string(),
        logical_cpus: 2,
        total_memory_bytes: 24_000_000_000,
        os: "Debian GNU/Linux 12".to_string(),
        kernel: "6.1.0".to_string(),
        hostname: hostname.to_string(),
    }
}

/// A latency histogram with `count` samples spread from `low` to `low * spread` ns.
fn latency(low: u64, spread: u64, count: u64) -> Latency {
    let mut l = Latency::new();
    for i in 0..count {
        // A long tail: most samples near `low`, a few far out.
        let x = i as f64 / count as f64;
        let value = low as f64 * (1.0 + (spread as f64 - 1.0) * x.powi(6));
        l.record(value as u64);
    }
    l
}

/// A run whose numbers follow from the strategy's position and the consumer count, so that
/// every column has a clear best.
fn run(strategy: &str, rank: u64, consumers: usize) -> RunResult {
    let mut config = RunConfig::default_config();
    config.consumers = consumers;
    config.duration = std::time::Duration::from_secs(2);
    let c = consumers as u64;
    let age = latency(200_000 * (rank + 1) + 10_000 * c, 8, 60 * c);
    let per_consumer = (0..consumers)
        .map(|id| ConsumerRecord {
            id,
            workload: "inspect".to_string(),
            frames_seen: 60,
            age_ns: age.summary(),
            acquire_ns: latency(500 * (rank + 1), 4, 60).summary(),
            e2e_ns: latency(210_000 * (rank + 1), 8, 60).summary(),
            drop_rate: Some(0.0),
            loss_rate: Some(rank as f64 / (60 + rank) as f64),
            deadline_misses: 0,
            torn_frames: 0,
            out_of_order: 0,
            status: "ok".to_string(),
            kind: "fbench".into(),
            command: None,
            stream: None,
        })
        .collect();
    RunResult {
        strategy: strategy.to_string(),
        consumers,
        trial: 1,
        reruns: 0,
        busy: false,
        config: config.record(),
        frames: FrameCounts {
            due: 60 + rank,
            produced: 60,
            published: 60,
            producer_drops: 0,
            source_overruns: rank,
            source_drops: 0,
        },
        age_ns: age.summary(),
        acquire_ns: latency(500 * (rank + 1), 4, 60 * c).summary(),
        publish_ns: latency(100_000 * (4 - rank), 3, 60).summary(),
        render_ns: latency(900_000, 2, 60).summary(),
        e2e_ns: latency(210_000 * (rank + 1), 8, 60 * c).summary(),
        drop_rate: rank as f64 * 0.001 * c as f64,
        loss_rate: Some(rank as f64 / (60 + rank) as f64),
        loss_rate_max: Some(rank as f64 / (60 + rank) as f64),
        deadline_misses: rank,
        torn_frames: 0,
        out_of_order: 0,
        lost_wakeups: 0,
        memory: MemoryRecord {
            baseline_pss_bytes: 3_000_000,
            peak_pss_bytes: 10_000_000 + (4 - rank) * 6_220_800 * c,
            peak_rss_bytes: 12_000_000 + (4 - rank) * 6_220_800 * c,
            timeline: (0..30)
                .map(|t| MemorySample {
                    t_ms: t * 100,
                    rss_bytes: 12_000_000 + (4 - rank) * 6_220_800 * c * t.min(10) / 10,
                    pss_bytes: 10_000_000 + (4 - rank) * 6_220_800 * c * t.min(10) / 10,
                    cpu_s: Some(t as f64 * 0.01 * (rank + 1) as f64),
                    ..MemorySample::default()
                })
                .collect(),
        },
        cpu: CpuUsage {
            user_s: 0.05 * (rank + 1) as f64,
            sys_s: 0.02 * c as f64,
            voluntary_ctx_switches: 100 * c,
            involuntary_ctx_switches: rank,
            ..CpuUsage::default()
        },
        cpu_demand: Some(fbench_harness::result::CpuDemand {
            producer_ns_per_frame: Some(150_000.0 + 10_000.0 * rank as f64),
            consumer_ns_per_frame_p50: Some(40_000.0 * (rank + 1) as f64),
            consumer_ns_per_frame_max: Some(45_000.0 * (rank + 1) as f64),
            total_ns_per_frame: 200_000.0 + 40_000.0 * ((rank + 1) * c) as f64,
            involuntary_switches_per_frame: rank as f64 / 60.0,
        }),
        copies: CopiesRecord {
            bytes_copied: if rank == 0 {
                6_220_800 * 60 * (1 + c)
            } else {
                0
            },
            allocations: Some(120 + rank),
            frame_allocations: if strategy == "arcswap" { 60 } else { 0 },
            pool_grows: 0,
        },
        per_consumer,
        consumers_lost: 0,
        reclaimed_slots: 0,
        faults: Vec::new(),
        leaks: None,
        // 2 s of 100 ms intervals, 3 frames each per consumer.
        timeline: (0..20u64)
            .map(|k| TimelinePoint {
                offset: k * 100_000_000,
                count: 3 * c,
                p50: 200_000 * (rank + 1),
                p99: 400_000 * (rank + 1) + k * 1_000,
                max: 500_000 * (rank + 1) + k * 1_000,
                loss: Some(0.0),
                acquire: Default::default(),
                publish: Default::default(),
            })
            .collect(),
        intervals: None,
        limits: None,
        queues: None,
        streams: Vec::new(),
        worst_stream: None,
    }
}

const STRATEGIES: [&str; 4] = ["mutex", "rwlock", "pool", "arcswap"];

fn report(hostname: &str, consumer_counts: &[usize]) -> Report {
    let runs = consumer_counts
        .iter()
        .flat_map(|&c| {
            STRATEGIES
                .iter()
                .enumerate()
                .map(move |(rank, s)| run(s, rank as u64, c))
        })
        .collect();
    Report::new(
        machine(hostname),
        BuildInfo {
            version: "0.1.0".to_string(),
            git_rev: "0123456789ab".to_string(),
        },
        runs,
    )
}

fn snapshot(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing snapshot {}; run with UPDATE_SNAPSHOTS=1",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "{name} differs from its snapshot; if intended, rerun with UPDATE_SNAPSHOTS=1.\n--- expected\n{expected}\n--- actual\n{actual}"
    );
}

fn text(format: ExportFormat, reports: &[Report]) -> String {
    String::from_utf8(format.render_all(reports).unwrap()).unwrap()
}

#[test]
fn markdown_summary_matches_its_snapshot() {
    let sweep = report("bench-a", &[1, 5]);
    snapshot("sweep.md", &text(ExportFormat::Markdown, &[sweep]));
}

#[test]
fn csv_matches_its_snapshot_and_has_one_row_per_run() {
    let sweep = report("bench-a", &[1, 5]);
    let csv = text(ExportFormat::Csv, std::slice::from_ref(&sweep));
    assert_eq!(csv.lines().count(), 1 + sweep.runs.len());
    let columns = csv.lines().next().unwrap().split(',').count();
    for line in csv.lines() {
        assert_eq!(line.split(',').count(), columns, "{line}");
    }
    snapshot("sweep.csv", &csv);
}

#[test]
fn hgrm_files_follow_hdrhistogram_and_match_their_snapshot() {
    let single = report("bench-a", &[5]);
    let files = hgrm::age_distributions(&single).unwrap();
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["mutex-c5", "rwlock-c5", "pool-c5", "arcswap-c5"]);
    let text = &files[0].text;
    assert!(text.starts_with("       Value     Percentile TotalCount 1/(1-Percentile)\n\n"));
    assert!(text.contains("Total count    =          300]"), "{text}");
    snapshot("mutex-c5.hgrm", text);
}

fn svg_count(html: &str) -> usize {
    html.matches("<svg ").count()
}

#[test]
fn html_has_one_svg_per_chart_and_nothing_external() {
    let single = report("bench-a", &[5]);
    let sweep = report("bench-a", &[1, 5, 20]);
    // one run: a spectrum, age over time, memory and CPU over time for its point
    assert_eq!(expected_charts(std::slice::from_ref(&single)), 4);
    // a sweep over 3 consumer counts: 6 charts against consumers, then 4 per point
    assert_eq!(expected_charts(std::slice::from_ref(&sweep)), 18);
    for (reports, charts) in [(vec![single], 4), (vec![sweep], 18)] {
        let html = text(ExportFormat::Html, &reports);
        assert_eq!(svg_count(&html), charts);
        assert_eq!(html.matches("</svg>").count(), charts);
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.trim_end().ends_with("</html>"));
        for external in [
            "http:", "https:", "<script", "<link", "src=", "@import", "url(", "//",
        ] {
            assert!(!html.contains(external), "HTML contains {external:?}");
        }
        // every href is an anchor in the page
        for href in html.split("href=\"").skip(1) {
            assert!(href.starts_with('#'), "{}", &href[..20.min(href.len())]);
        }
    }
}

#[test]
fn html_marks_the_best_value_and_names_the_winner() {
    let single = report("bench-a", &[5]);
    let html = text(ExportFormat::Html, &[single]);
    // 15 columns, each with a clear single best in the fixture except torn (all 0)
    assert_eq!(html.matches("<td class=\"best\">").count(), 14);
    // mutex has the lowest age, arcswap the least memory
    let verdict = html.split("<h2 id=\"summary\">").next().unwrap();
    assert!(verdict.contains("<td class=\"name\">5 consumers</td><td class=\"name\">mutex</td>"));
    assert!(verdict.contains("<td class=\"name\">arcswap</td>"));
}

#[test]
fn rendering_is_deterministic() {
    let reports = vec![report("bench-a", &[1, 5])];
    for format in [
        ExportFormat::Html,
        ExportFormat::Markdown,
        ExportFormat::Csv,
    ] {
        assert_eq!(
            format.render_all(&reports).unwrap(),
            format.render_all(&reports).unwrap()
        );
    }
    // and survives a trip through JSON
    let json = ExportFormat::Json.render_all(&reports).unwrap();
    let back = Report::from_json(std::str::from_utf8(&json).unwrap()).unwrap();
    assert_eq!(
        ExportFormat::Html.render_all(&[back]).unwrap(),
        ExportFormat::Html.render_all(&reports).unwrap()
    );
}

#[test]
fn reports_from_two_machines_compare_side_by_side() {
    let a = report("bench-a", &[1, 5]);
    let b = report("bench-b", &[1, 5]);
    let html = text(ExportFormat::Html, &[a.clone(), b.clone()]);
    assert!(html.contains("mutex @ bench-a"));
    assert!(html.contains("mutex @ bench-b"));
    // the same charts as one report: the machine is a series, not a new chart
    assert_eq!(svg_count(&html), expected_charts(std::slice::from_ref(&a)));
    let csv = text(ExportFormat::Csv, &[a.clone(), b.clone()]);
    assert_eq!(csv.lines().count(), 1 + a.runs.len() + b.runs.len());
    // JSON has one machine per report, so it refuses to merge these...
    let err = ExportFormat::Json.render_all(&[a.clone(), b]).unwrap_err();
    assert!(err.to_string().contains("different machines"), "{err}");
    // ...but merges reports from one machine
    let merged = Report::merge(vec![a.clone(), a.clone()]).unwrap();
    assert_eq!(merged.runs.len(), 2 * a.runs.len());
    let html = text(ExportFormat::Html, &[a.clone(), a]);
    assert!(html.contains("mutex #1") && html.contains("mutex #2"));
}

/// A configuration point where two strategies' p99 intervals overlap, plus the `ideal`
/// reference (fastest of all, but never a winner).
fn close_race() -> Report {
    let mut runs = vec![
        run("arcswap", 0, 5),
        run("shm", 0, 5),
        run("mutex", 3, 5),
        run("ideal", 0, 5),
    ];
    // shm: the same distribution 2% slower; ideal: half the age.
    let scaled = |factor: f64| {
        let mut l = Latency::new();
        let base = latency(210_000, 8, 300);
        for v in base.histogram().iter_recorded() {
            for _ in 0..v.count_at_value() {
                l.record((v.value_iterated_to() as f64 * factor) as u64);
            }
        }
        l.summary()
    };
    runs[0].age_ns = scaled(1.0);
    runs[1].age_ns = scaled(1.02);
    runs[3].age_ns = scaled(0.5);
    Report::new(
        machine("bench-a"),
        BuildInfo {
            version: "0.1.0".to_string(),
            git_rev: "0123456789ab".to_string(),
        },
        runs,
    )
}

#[test]
fn a_tie_within_noise_is_named_everywhere_and_the_reference_never_wins() {
    let report = close_race();
    let tie = "tie within noise: arcswap, shm";
    let table = String::from_utf8(
        fbench_reports::TerminalTable {
            width: Some(250),
            ..Default::default()
        }
        .render(&report)
        .unwrap(),
    )
    .unwrap();
    let html = text(ExportFormat::Html, std::slice::from_ref(&report));
    let md = text(ExportFormat::Markdown, std::slice::from_ref(&report));
    for (what, out) in [("terminal", &table), ("html", &html), ("markdown", &md)] {
        assert!(out.contains(tie), "{what}: {out}");
        assert!(!out.contains("tie within noise: ideal"), "{what}");
        assert!(!out.contains(", ideal"), "{what}: ideal is never in a tie");
    }
    assert!(table.contains("Who wins"), "{table}");
    assert!(
        html.contains("ideal (reference)"),
        "the reference is listed as left out"
    );

    // Far apart: a winner, named alone.
    let clear = report_of(vec![run("mutex", 0, 5), run("arcswap", 3, 5)]);
    let md = text(ExportFormat::Markdown, std::slice::from_ref(&clear));
    assert!(md.contains("| 5 consumers | mutex | "), "{md}");
    assert!(!md.contains("tie within noise:"), "{md}");
}

fn report_of(runs: Vec<RunResult>) -> Report {
    Report::new(
        machine("bench-a"),
        BuildInfo {
            version: "0.1.0".to_string(),
            git_rev: "0123456789ab".to_string(),
        },
        runs,
    )
}

#[test]
fn charts_draw_the_intervals_as_error_bars() {
    let sweep = report("bench-a", &[1, 5, 20]);
    let with = text(ExportFormat::Html, std::slice::from_ref(&sweep));
    let mut bare = sweep.clone();
    for run in &mut bare.runs {
        run.age_ns.ci95 = None;
    }
    let without = text(ExportFormat::Html, &[bare]);
    // Error bars are extra line segments in the spectrum and against-consumers charts.
    let lines = |html: &str| html.matches("<line").count() + html.matches("<polyline").count();
    assert!(
        lines(&with) > lines(&without),
        "{} vs {}",
        lines(&with),
        lines(&without)
    );
}

/// Colours in an HTML page's SVG strokes and fills (`#rrggbb`, lower-cased).
fn colours_in(html: &str) -> std::collections::BTreeSet<String> {
    html.match_indices('#')
        .filter_map(|(i, _)| html.get(i..i + 7))
        .filter(|c| c[1..].chars().all(|ch| ch.is_ascii_hexdigit()))
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[test]
fn a_strategy_keeps_its_colour_and_merged_reports_differ_by_line_style() {
    let one = report("bench-a", &[5]);
    let mut only_pool = report("bench-a", &[5]);
    only_pool.runs.retain(|r| r.strategy == "pool");
    let single = text(ExportFormat::Html, std::slice::from_ref(&one));
    let alone = text(ExportFormat::Html, std::slice::from_ref(&only_pool));
    // pool's colour does not depend on which other strategies the report holds
    let pool = "#009e73";
    assert!(single.contains(pool) && alone.contains(pool));
    let b = report("bench-b", &[5]);
    let merged = text(ExportFormat::Html, &[one.clone(), b]);
    // two reports of the same strategies: no new colour, the second report is dashed
    assert_eq!(colours_in(&merged), colours_in(&single));
    assert!(
        merged.matches("<polyline").count() > 2 * single.matches("<polyline").count(),
        "dashed lines are drawn as many short segments"
    );
}

#[test]
fn time_charts_show_age_over_time_and_cpu_beside_memory() {
    let html = text(ExportFormat::Html, &[report("bench-a", &[5])]);
    assert!(html.contains("id=\"timeline\""));
    assert!(html.contains("aria-label=\"age over time, 5 consumers\""));
    assert!(html.contains("aria-label=\"CPU, 5 consumers\""));
    assert!(html.contains("warm-up"));
    // the CPU chart follows the memory chart of its point
    let memory = html
        .find("aria-label=\"memory (PSS), 5 consumers\"")
        .unwrap();
    let cpu = html.find("aria-label=\"CPU, 5 consumers\"").unwrap();
    assert!(memory < cpu);
}

#[test]
fn a_long_timeline_is_drawn_with_at_most_600_points_a_line() {
    let mut long = report("bench-a", &[5]);
    long.runs.retain(|r| r.strategy == "pool");
    let run = &mut long.runs[0];
    run.config.duration_s = 600.0;
    let template = run.timeline[0].clone();
    run.timeline = (0..6_000u64)
        .map(|k| TimelinePoint {
            offset: k * 100_000_000,
            p99: template.p99 + k,
            max: template.max + k,
            ..template.clone()
        })
        .collect();
    let html = text(ExportFormat::Html, &[long]);
    let chart = html
        .split("<svg ")
        .find(|svg| svg.contains("aria-label=\"age over time"))
        .unwrap();
    // the max dots: one per point drawn, and 3 more in the legend's key
    assert_eq!(chart.matches("<circle").count(), 600 + 3);
    assert!(html.contains("at most 600 points a line"));
}

/// `--repeat 3` at one point: every strategy's trials with p99 ages 1x, 3x and 2x of the
/// first (trial 2 the slowest, trial 3 the median).
fn repeated_trials() -> Report {
    let single = report("bench-a", &[5]);
    let mut runs = Vec::new();
    for (trial, scale) in [(1u32, 1u64), (2, 3), (3, 2)] {
        for run in &single.runs {
            let mut run = run.clone();
            run.trial = trial;
            run.age_ns.p99 *= scale;
            run.age_ns.ci95 = None;
            run.limits = Some(fbench_harness::limits::LimitRatios {
                age_p50_ratio: Some(2.0),
                ..fbench_harness::limits::LimitRatios::unmeasured()
            });
            runs.push(run);
        }
    }
    Report { runs, ..single }
}

#[test]
fn repeated_trials_read_as_one_result_per_strategy_and_point() {
    let repeated = repeated_trials();
    let strategies: Vec<String> = report("bench-a", &[5])
        .runs
        .iter()
        .map(|r| r.strategy.clone())
        .collect();
    let md = text(ExportFormat::Markdown, std::slice::from_ref(&repeated));
    let table = String::from_utf8(
        fbench_reports::TerminalTable {
            width: Some(300),
            ..Default::default()
        }
        .render(&repeated)
        .unwrap(),
    )
    .unwrap();
    for strategy in &strategies {
        // one row in the Markdown runs table, standing for the three trials
        let rows: Vec<&str> = md
            .lines()
            .filter(|l| l.starts_with(&format!("| 5 consumers | {strategy} (")))
            .collect();
        assert_eq!(rows.len(), 1, "{strategy}: {md}");
        assert!(
            rows[0].contains("median of 3 trials by p99 age"),
            "{}",
            rows[0]
        );
        // one row in the terminal table, and one in the table of calibration ratios
        let rows = table
            .lines()
            .filter(|l| l.starts_with(&format!("│ {strategy} ")))
            .count();
        assert_eq!(rows, 2, "{strategy}: {table}");
    }
    assert!(
        !md.contains("#1"),
        "trials of one report are not labelled by report"
    );
    // the median trial's p99 is the one shown: trial 3's, twice trial 1's
    let first = &repeated.runs[0];
    let median_p99 = fbench_reports::format_ns(first.age_ns.p99 * 2);
    let row = md
        .lines()
        .find(|l| l.starts_with(&format!("| 5 consumers | {} (", first.strategy)))
        .unwrap();
    assert!(row.contains(&median_p99), "{median_p99} in {row}");
    // the spread names the lowest and highest trial
    assert!(
        row.contains(&format!(
            "{}–{}",
            fbench_reports::format_ns(first.age_ns.p99),
            fbench_reports::format_ns(first.age_ns.p99 * 3)
        )),
        "{row}"
    );
    // the HTML draws one spectrum line per strategy, not one per trial
    let html = text(ExportFormat::Html, std::slice::from_ref(&repeated));
    let single = text(ExportFormat::Html, &[report("bench-a", &[5])]);
    assert_eq!(svg_count(&html), svg_count(&single));
    assert!(html.contains("median of 3 trials"));
    // on request, every trial, numbered
    let each = String::from_utf8(
        ExportFormat::Markdown
            .render_all_with(std::slice::from_ref(&repeated), Trials::Each)
            .unwrap(),
    )
    .unwrap();
    let runs_table = each.split("### Runs").nth(1).unwrap();
    for trial in 1..=3 {
        let row = format!("| 5 consumers | {} trial {trial} |", first.strategy);
        let rows = runs_table.lines().filter(|l| l.starts_with(&row)).count();
        assert_eq!(rows, 1, "{each}");
    }
    assert!(!each.contains("median of"));
}
