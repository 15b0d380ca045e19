//! Capacity reports of fixed data: the terminal table, Markdown and CSV against snapshots,
//! the JSON read back, and the HTML's structure (one SVG per chart, nothing external, the
//! same bytes every time).
//!
//! After an intended change: `UPDATE_SNAPSHOTS=1 cargo test -p fbench-reports --test
//! capacity`, and review the diff.

use std::path::PathBuf;

use fbench_harness::capacity::{
    Axis, SearchResult, ServiceLevel, Status, TrialSummary, Verdict, VersusReference,
};
use fbench_harness::machine::MachineInfo;
use fbench_harness::RunConfig;
use fbench_reports::capacity::{
    csv, expected_capacity_charts, html, markdown, terminal_table, CapacityRecord, CapacityReport,
    SearchParams, CAPACITY_SCHEMA,
};
use fbench_reports::{BuildInfo, ExportFormat};

fn trial(value: f64, consumers: usize, pass_below: f64, confirmation: bool) -> TrialSummary {
    let verdict = if value < pass_below {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    // Age grows with the rate and the consumer count: p50 a quarter of the period at the
    // limit, p99 the whole period.
    let load = value / pass_below;
    let period = 1e9 / value;
    TrialSummary {
        value,
        fps: value,
        consumers,
        duration_s: if confirmation { 6.0 } else { 2.0 },
        confirmation,
        age_p50_ns: (period * 0.25 * load) as u64,
        age_p99_ns: (period * load) as u64,
        age_p99_ci95_ns: Some([(period * load * 0.9) as u64, (period * load * 1.1) as u64]),
        slo_age_ns: period as u64,
        loss: if verdict == Verdict::Pass { 0.0 } else { 0.02 },
        torn_frames: 0,
        peak_pss_bytes: 40_000_000 + consumers as u64 * 6_220_800,
        achieved_fps: value,
        other_load_cpus: None,
        // The CPU demand would allow three times the limit: a model beside the interval.
        bound_fps: Some(pass_below.min(300.0) * 3.0),
        interfered: false,
        generator_limited: false,
        verdict,
        reasons: if verdict == Verdict::Pass {
            Vec::new()
        } else {
            vec!["loss 2.000% > 0.500%".to_string()]
        },
        age_hdr: String::new(),
        vs_reference: None,
    }
}

fn record(
    strategy: &str,
    consumers: usize,
    status: Status,
    last_pass: Option<f64>,
    first_fail: Option<f64>,
    generator_limit: Option<f64>,
) -> CapacityRecord {
    let mut config = RunConfig::default_config();
    config.consumers = consumers;
    let limit = first_fail.or(generator_limit).unwrap_or(1e9);
    let mut trials = Vec::new();
    for value in [30.0, 60.0, 120.0, 90.0] {
        trials.push(trial(value, consumers, limit, false));
        trials.push(trial(value, consumers, limit, false));
    }
    if let Some(pass) = last_pass {
        trials.push(trial(pass, consumers, limit, true));
    }
    CapacityRecord {
        strategy: strategy.to_string(),
        consumers: Some(consumers),
        fps: None,
        config: config.record(),
        service_level: ServiceLevel::default(),
        search: SearchParams {
            start: 30.0,
            cap: 240.0,
            floor: 1.0,
            precision: 0.05,
            trials: 3,
            trial_duration_s: 2.0,
            warmup_s: 1.0,
            confirm_duration_s: 6.0,
        },
        result: SearchResult {
            axis: Axis::Fps,
            last_pass,
            first_fail,
            generator_limit,
            status,
            resolved: status.is_resolved(),
            bound_fps: trials.first().and_then(|t| t.bound_fps),
            interfered_trials: 0,
            trials,
        },
    }
}

fn report() -> CapacityReport {
    CapacityReport {
        schema: CAPACITY_SCHEMA.to_string(),
        machine: MachineInfo {
            cpu_model: "Test CPU 9000".to_string(),
            logical_cpus: 2,
            total_memory_bytes: 24_000_000_000,
            os: "Debian GNU/Linux 12".to_string(),
            kernel: "6.1.0".to_string(),
            hostname: "bench-a".to_string(),
        },
        fbench: BuildInfo {
            version: "0.1.0".to_string(),
            git_rev: "0123456789ab".to_string(),
        },
        scenario: Some("seed-capacity".to_string()),
        partial: false,
        budget_s: 1200.0,
        spent_s: 1104.4,
        capacity: vec![
            record("mutex", 1, Status::Resolved, Some(90.0), Some(94.5), None),
            record("mutex", 5, Status::Resolved, Some(45.0), Some(47.1), None),
            record("mutex", 20, Status::BelowFloor, None, Some(1.0), None),
            record("shm", 1, Status::AtCap, Some(240.0), None, None),
            record(
                "shm",
                5,
                Status::GeneratorLimited,
                Some(120.0),
                None,
                Some(126.0),
            ),
            record("shm", 20, Status::OutOfBudget, Some(60.0), None, None),
        ],
    }
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

#[test]
fn the_table_has_one_row_per_strategy_and_one_column_per_consumer_count() {
    let text = terminal_table(&report(), Some(120));
    snapshot("capacity.txt", &text);
    for cell in [
        "[90, 94.5)",
        "≥ 240",
        "≥ 120 (source < 126)",
        "< 1",
        "unresolved [60, ?)",
    ] {
        assert!(text.contains(cell), "{cell} in\n{text}");
    }
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("mutex") || l.contains("shm"))
        .collect();
    assert_eq!(rows.len(), 2, "{text}");
}

#[test]
fn markdown_and_csv_match_their_snapshots() {
    snapshot("capacity.md", &markdown(&report()));
    let text = csv(&report());
    snapshot("capacity.csv", &text);
    assert_eq!(text.lines().count(), 1 + report().capacity.len());
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let at_cap: Vec<&str> = text.lines().nth(4).unwrap().split(',').collect();
    let field = |name: &str| header.iter().position(|h| *h == name).unwrap();
    assert_eq!(at_cap[field("strategy")], "shm");
    assert_eq!(at_cap[field("last_pass")], "240");
    assert_eq!(at_cap[field("first_fail")], "", "capped: no first fail");
    assert_eq!(at_cap[field("status")], "at_cap");
}

#[test]
fn the_json_reads_back_with_a_null_first_fail_when_capped() {
    let report = report();
    let bytes = report.to_json().unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["schema"], CAPACITY_SCHEMA);
    let capped = &value["capacity"][3];
    assert_eq!(capped["strategy"], "shm");
    assert_eq!(capped["axis"], "fps");
    assert_eq!(capped["last_pass"], 240.0);
    assert!(capped["first_fail"].is_null());
    assert_eq!(capped["resolved"], true);
    assert_eq!(capped["service_level"]["max_loss"], 0.005);
    assert!(capped["service_level"]["slo_age_ns"].is_null());
    assert_eq!(capped["trials"][0]["verdict"], "pass");
    assert!(capped["trials"][0]["age_p99_ci95_ns"].is_array());
    assert_eq!(value["capacity"][5]["resolved"], false);
    assert_eq!(CapacityReport::from_json(&text).unwrap(), report);
    let other = text.replace(CAPACITY_SCHEMA, "fbench.report/1");
    assert!(CapacityReport::from_json(&other).is_err());
}

#[test]
fn the_html_is_self_contained_and_draws_every_chart() {
    let report = report();
    let page = html(&report).unwrap();
    assert_eq!(
        page.matches("<svg").count(),
        expected_capacity_charts(&report)
    );
    assert_eq!(expected_capacity_charts(&report), 1 + 2);
    assert!(!page.contains("http"), "no external references");
    assert!(!page.contains("<script"));
    assert!(page.contains("[90, 94.5)"));
    assert!(page.contains("≥ 120 (source &lt; 126)"));
    assert!(page.contains("aria-label=\"sustained fps against consumers\""));
    assert!(page.contains("aria-label=\"mutex: age against tried fps\""));
    assert_eq!(page, html(&report).unwrap(), "deterministic");

    let mut partial = report.clone();
    partial.partial = true;
    assert!(html(&partial).unwrap().contains("Partial"));
    assert!(terminal_table(&partial, Some(120)).contains("PARTIAL"));
}

#[test]
fn a_consumers_search_has_one_column_per_rate() {
    let mut report = report();
    for (record, fps) in report
        .capacity
        .iter_mut()
        .zip([30.0, 60.0, 120.0].repeat(2))
    {
        record.result.axis = Axis::Consumers;
        record.consumers = None;
        record.fps = Some(fps);
    }
    let text = terminal_table(&report, Some(120));
    assert!(
        text.contains("30 fps") && text.contains("120 fps"),
        "{text}"
    );
    assert!(text.contains("sustained consumers"), "{text}");
    let page = html(&report).unwrap();
    assert_eq!(
        page.matches("<svg").count(),
        expected_capacity_charts(&report)
    );
}

#[test]
fn a_usl_model_is_shown_only_where_it_fits_and_marked_as_a_model() {
    // The fixture has two resolved mutex points: too few for a model.
    assert!(fbench_reports::capacity::usl_models(&report()).is_empty());
    // Sustained rates that follow X(N) = 60 N / (1 + 0.1 (N - 1) + 0.01 N (N - 1)).
    let mut report = report();
    report.capacity.clear();
    for n in [1usize, 3, 5, 10, 15] {
        let (n_f, lambda) = (n as f64, 60.0);
        let fps = lambda / (1.0 + 0.1 * (n_f - 1.0) + 0.01 * n_f * (n_f - 1.0));
        let fps = (fps * 10.0).round() / 10.0;
        report.capacity.push(record(
            "mutex",
            n,
            Status::Resolved,
            Some(fps),
            Some(fps * 1.04),
            None,
        ));
    }
    let models = fbench_reports::capacity::usl_models(&report);
    assert_eq!(models.len(), 1);
    let model = models[0].1;
    assert!((model.sigma - 0.1).abs() < 0.01 && (model.kappa - 0.01).abs() < 0.001);
    let text = terminal_table(&report, Some(120));
    assert!(
        text.contains("model, not a measurement: mutex: USL fit"),
        "{text}"
    );
    assert!(text.contains("predicted peak"), "{text}");
    assert!(markdown(&report).contains("model, not a measurement"));
    assert!(html(&report).unwrap().contains("model, not a measurement"));
}

#[test]
fn searches_without_a_trial_still_render() {
    let mut report = report();
    for record in &mut report.capacity {
        record.result.trials.clear();
        record.result.status = Status::OutOfBudget;
        record.result.resolved = false;
        record.result.last_pass = None;
        record.result.first_fail = None;
        record.result.generator_limit = None;
    }
    let page = html(&report).unwrap();
    assert_eq!(
        page.matches("<svg").count(),
        expected_capacity_charts(&report)
    );
    assert!(terminal_table(&report, Some(120)).contains("unresolved [?, ?)"));
}

#[test]
fn the_machine_s_other_load_is_reported_when_measured() {
    let mut report = report();
    assert!(fbench_reports::capacity::load_line(&report).is_none());
    for (i, t) in report.capacity[0].result.trials.iter_mut().enumerate() {
        t.other_load_cpus = Some(if i == 0 { 1.5 } else { 0.5 });
    }
    let line = fbench_reports::capacity::load_line(&report).unwrap();
    assert!(
        line.contains("at most 1.50") && line.contains("of 2 logical CPUs"),
        "{line}"
    );
    assert!(terminal_table(&report, Some(120)).contains("other load"));
}

#[test]
fn capacity_pages_share_the_strategy_colours_and_the_page_of_run_reports() {
    let page = html(&report()).unwrap();
    // shm is orange (#e69f00) in every report, whatever its row
    assert!(
        page.contains("background:#e69f00\"></span>shm"),
        "shm keeps its colour"
    );
    assert!(page.contains("background:#0072b2\"></span>mutex"));
    // one head and style for every fbench page
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("dl.facts"), "the shared stylesheet");
    assert_eq!(page.matches("<style>").count(), 1);
}

/// A confirmation that ran beside the reference: its paired ratio in every format, the
/// confirmation at the last pass chosen over others.
#[test]
fn a_confirmation_beside_the_reference_is_reported_with_its_paired_ratios() {
    let mut report = report();
    let confirmation = report.capacity[0]
        .result
        .trials
        .iter_mut()
        .rev()
        .find(|t| t.confirmation)
        .unwrap();
    confirmation.vs_reference = Some(VersusReference {
        reference: "ideal".to_string(),
        reference_age_p99_ns: 4_000_000,
        age_p50_vs_ideal: Some(1.5),
        age_p50_vs_ideal_ci95: None,
        age_p99_vs_ideal: Some(2.0),
        age_p99_vs_ideal_ci95: None,
        acquire_p50_vs_ideal: Some(3.0),
        acquire_p50_vs_ideal_ci95: None,
        pss_over_ideal_bytes: Some(1_000_000),
        pairs: 1,
    });
    let line = "mutex x1 at 90 fps: age p99 2.00x ideal";
    let text = terminal_table(&report, Some(200));
    assert!(text.contains(line), "{text}");
    assert!(
        text.contains("p50 1.50x, acquire p50 3.00x; 1 pair"),
        "{text}"
    );
    assert!(text.contains("not a floor"), "{text}");
    assert!(markdown(&report).contains(line));
    assert!(html(&report).unwrap().contains(line));
    let csv = csv(&report);
    let rows: Vec<&str> = csv.lines().collect();
    assert!(rows[0].ends_with(",age_p99_vs_ideal"), "{}", rows[0]);
    assert!(rows[1].ends_with(",2"), "{}", rows[1]);
    assert!(
        rows[2].ends_with(','),
        "no reference beside it: {}",
        rows[2]
    );
    // It survives the JSON.
    let again =
        CapacityReport::from_json(&String::from_utf8(report.to_json().unwrap()).unwrap()).unwrap();
    assert_eq!(again, report);
}

/// Capacity reports go through the exporter trait run reports use: every format renders
/// what its own function does.
#[test]
fn every_format_renders_through_the_exporter_trait() {
    let report = report();
    let render = |format: ExportFormat| format.capacity_exporter().render(&report).unwrap();
    assert_eq!(render(ExportFormat::Json), report.to_json().unwrap());
    assert_eq!(render(ExportFormat::Csv), csv(&report).into_bytes());
    assert_eq!(
        render(ExportFormat::Markdown),
        markdown(&report).into_bytes()
    );
    assert_eq!(
        render(ExportFormat::Html),
        html(&report).unwrap().into_bytes()
    );
}

/// Each strategy's age chart draws in the strategy's own colour (as every report does), not
/// in colours taken by position.
#[test]
fn age_charts_draw_in_the_strategy_s_own_colour() {
    let page = html(&report()).unwrap();
    let chart = |strategy: &str| {
        let start = page
            .find(&format!("aria-label=\"{strategy}: age against tried fps\""))
            .unwrap();
        let end = start + page[start..].find("</svg>").unwrap();
        page[start..end].to_string()
    };
    // mutex is #0072B2 and shm #E69F00 in the shared palette; neither chart uses the other's.
    let (mutex, shm) = (chart("mutex"), chart("shm"));
    assert!(mutex.contains("#0072B2"), "mutex's colour in its chart");
    assert!(!mutex.contains("#E69F00"));
    assert!(shm.contains("#E69F00"), "shm's colour in its chart");
    assert!(!shm.contains("#0072B2"));
}
