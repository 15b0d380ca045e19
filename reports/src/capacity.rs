//! Capacity reports (`fbench capacity`): the JSON document (schema `fbench.capacity/1`), the
//! terminal table, Markdown, CSV and the HTML page with its charts.
//!
//! A capacity is always an interval `[last pass, first fail)` found by the search in
//! [`fbench_harness::capacity`]; every renderer shows it as one, never as one number:
//! `[90, 94.5)`, `≥ 240` (passed at the cap), `≥ 120 (source < 126)` (nothing failed below
//! the rate the source could make), `< 1` (even the floor failed), `unresolved [60, ?)` (the
//! budget ran out or the search was interrupted).

use std::fmt::Write as _;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, Table};
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use fbench_harness::capacity::{
    Axis, SearchResult, ServiceLevel, Status, TrialSummary, Verdict, VersusReference,
};
use fbench_harness::config::ConfigRecord;
use fbench_harness::machine::MachineInfo;

use crate::charts::{
    colour, css_colour, escape, legend_chars, legend_rows, legend_sample, legend_text,
    short_number, strategy_colour, wrap_label, HEIGHT, WIDTH,
};
use crate::format::{format_bytes, format_ns};
use crate::{BuildInfo, ExportFormat, Exporter, ReportError};

/// The schema name and version of a capacity report.
pub const CAPACITY_SCHEMA: &str = "fbench.capacity/1";

/// A whole capacity report: the machine, the build, how the search was bounded, and one
/// record per strategy and configuration point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CapacityReport {
    pub schema: String,
    pub machine: MachineInfo,
    pub fbench: BuildInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    /// The search was interrupted (Ctrl-C): only what was resolved before is final.
    pub partial: bool,
    /// `--budget` for the whole command, and the time the command took, seconds.
    pub budget_s: f64,
    pub spent_s: f64,
    pub capacity: Vec<CapacityRecord>,
}

/// The parameters of one search, as run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchParams {
    pub start: f64,
    pub cap: f64,
    pub floor: f64,
    pub precision: f64,
    pub trials: usize,
    pub trial_duration_s: f64,
    pub warmup_s: f64,
    pub confirm_duration_s: f64,
}

/// One search: a strategy at one configuration point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CapacityRecord {
    pub strategy: String,
    /// The fixed consumer count (`fps` axis); `null` when consumers are searched.
    pub consumers: Option<usize>,
    /// The fixed rate (`consumers` axis); `null` when the rate is searched.
    pub fps: Option<f64>,
    /// The configuration (the searched field holds the start value).
    pub config: ConfigRecord,
    pub service_level: ServiceLevel,
    pub search: SearchParams,
    /// `axis`, `last_pass`, `first_fail`, `generator_limit`, `status`, `resolved`, `trials`.
    #[serde(flatten)]
    pub result: SearchResult,
}

/// A capacity report in one of the built-in formats, behind the [`Exporter`] trait run
/// reports use: JSON (schema [`CAPACITY_SCHEMA`]), the terminal table, HTML, Markdown, CSV.
pub struct CapacityExporter {
    pub format: ExportFormat,
    /// The terminal table's width; `None` sizes it to the terminal when there is one.
    pub width: Option<u16>,
}

impl Exporter<CapacityReport> for CapacityExporter {
    fn render(&self, report: &CapacityReport) -> Result<Vec<u8>, ReportError> {
        Ok(match self.format {
            ExportFormat::Json => return report.to_json(),
            ExportFormat::Table => terminal_table(report, self.width).into_bytes(),
            ExportFormat::Html => html(report)?.into_bytes(),
            ExportFormat::Markdown => markdown(report).into_bytes(),
            ExportFormat::Csv => csv(report).into_bytes(),
        })
    }
}

impl ExportFormat {
    /// The exporter of a capacity report in this format.
    ///
    /// ```
    /// use fbench_reports::capacity::{CapacityReport, CAPACITY_SCHEMA};
    /// use fbench_reports::{BuildInfo, ExportFormat};
    ///
    /// let report = CapacityReport {
    ///     schema: CAPACITY_SCHEMA.to_string(),
    ///     machine: fbench_harness::machine::MachineInfo::detect(),
    ///     fbench: BuildInfo { version: "0.1.0".into(), git_rev: "unknown".into() },
    ///     scenario: None,
    ///     partial: false,
    ///     budget_s: 60.0,
    ///     spent_s: 0.0,
    ///     capacity: Vec::new(),
    /// };
    /// let csv = ExportFormat::Csv.capacity_exporter().render(&report).unwrap();
    /// assert!(csv.starts_with(b"strategy,axis,"));
    /// ```
    pub fn capacity_exporter(self) -> Box<dyn Exporter<CapacityReport>> {
        Box::new(CapacityExporter {
            format: self,
            width: None,
        })
    }
}

impl CapacityReport {
    /// Read a capacity report back, refusing other schemas.
    pub fn from_json(text: &str) -> Result<CapacityReport, ReportError> {
        let value: serde_json::Value = serde_json::from_str(text)?;
        match value.get("schema").and_then(|s| s.as_str()) {
            Some(CAPACITY_SCHEMA) => Ok(serde_json::from_value(value)?),
            Some(other) => Err(ReportError::Schema(other.to_string())),
            None => Err(ReportError::Schema("(missing)".to_string())),
        }
    }

    pub fn to_json(&self) -> Result<Vec<u8>, ReportError> {
        let mut bytes = serde_json::to_vec_pretty(self)?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    fn axis(&self) -> Axis {
        self.capacity
            .first()
            .map(|r| r.result.axis)
            .unwrap_or(Axis::Fps)
    }

    /// Table layout: rows are (configuration label, strategy), columns the values of the
    /// fixed dimension (consumer counts when the rate is searched, rates when consumers are).
    fn layout(&self) -> Layout<'_> {
        let mut columns: Vec<f64> = Vec::new();
        let mut rows: Vec<(String, String)> = Vec::new();
        for record in &self.capacity {
            let column = record.column();
            if !columns.contains(&column) {
                columns.push(column);
            }
            let row = (record.configuration_label(), record.strategy.clone());
            if !rows.contains(&row) {
                rows.push(row);
            }
        }
        columns.sort_by(f64::total_cmp);
        Layout {
            report: self,
            columns,
            rows,
        }
    }
}

struct Layout<'a> {
    report: &'a CapacityReport,
    columns: Vec<f64>,
    rows: Vec<(String, String)>,
}

impl Layout<'_> {
    fn cell(&self, row: &(String, String), column: f64) -> String {
        self.report
            .capacity
            .iter()
            .find(|r| {
                r.column() == column && r.strategy == row.1 && r.configuration_label() == row.0
            })
            .map(CapacityRecord::cell)
            .unwrap_or_default()
    }

    fn header(&self) -> Vec<String> {
        let axis = self.report.axis();
        let mut header = vec!["strategy".to_string()];
        if self.labelled() {
            header.insert(0, "configuration".to_string());
        }
        for &c in &self.columns {
            header.push(match axis {
                Axis::Fps | Axis::Streams => {
                    format!("{} consumer{}", c, if c == 1.0 { "" } else { "s" })
                }
                Axis::Consumers => format!("{} fps", number(c)),
            });
        }
        header
    }

    /// Whether rows need a configuration label (more than one configuration).
    fn labelled(&self) -> bool {
        let first = self.rows.first().map(|r| &r.0);
        self.rows.iter().any(|r| Some(&r.0) != first)
    }

    fn body(&self) -> Vec<Vec<String>> {
        self.rows
            .iter()
            .map(|row| {
                let mut cells = vec![row.1.clone()];
                if self.labelled() {
                    cells.insert(0, row.0.clone());
                }
                cells.extend(self.columns.iter().map(|&c| self.cell(row, c)));
                cells
            })
            .collect()
    }
}

impl CapacityRecord {
    /// The fixed dimension's value: the consumer count, or the rate.
    fn column(&self) -> f64 {
        match self.result.axis {
            Axis::Fps | Axis::Streams => self.consumers.unwrap_or(0) as f64,
            Axis::Consumers => self.fps.unwrap_or(0.0),
        }
    }

    /// The configuration apart from the strategy and the table's two dimensions.
    pub fn configuration_label(&self) -> String {
        let c = &self.config;
        let mut label = format!("{}x{} {} {}", c.width, c.height, c.format, c.workload);
        if c.wait != "block" {
            let _ = write!(label, " wait {}", c.wait);
        }
        if !c.slow.is_empty() {
            let _ = write!(label, " slow {}", c.slow.join(","));
        }
        label
    }

    /// What a table cell shows: the measured interval, the model's bound beside it, and how
    /// many trials the machine's load spoiled: `[29.1, 30) · bound 180 fps · 2 interfered`.
    pub fn cell(&self) -> String {
        let mut cell = self.interval();
        if let Some(bound) = self.result.bound_fps {
            let _ = write!(cell, " · bound {} fps", number(bound.round()));
        }
        if self.result.interfered_trials > 0 {
            let _ = write!(cell, " · {} interfered", self.result.interfered_trials);
        }
        cell
    }

    /// The confirmation trial that ran beside the reference and its paired figures: the
    /// one at the last pass when it passed, else the latest.
    pub fn confirmation_vs_reference(&self) -> Option<(&TrialSummary, &VersusReference)> {
        let paired = || {
            self.result
                .trials
                .iter()
                .rev()
                .filter_map(|t| t.vs_reference.as_ref().map(|v| (t, v)))
        };
        paired()
            .find(|(t, _)| t.verdict == Verdict::Pass && Some(t.value) == self.result.last_pass)
            .or_else(|| paired().next())
    }

    /// The capacity as the interval the search found, in the axis's unit.
    pub fn interval(&self) -> String {
        let r = &self.result;
        let lp = r.last_pass.map(number);
        let upper = match (r.first_fail, r.generator_limit) {
            (Some(f), Some(g)) => Some(f.min(g)),
            (f, g) => f.or(g),
        };
        match r.status {
            Status::Resolved => format!(
                "[{}, {})",
                lp.unwrap_or_default(),
                r.first_fail.map(number).unwrap_or_default()
            ),
            Status::AtCap => format!("≥ {}", lp.unwrap_or_default()),
            Status::GeneratorLimited => format!(
                "≥ {} (source < {})",
                lp.unwrap_or_default(),
                r.generator_limit.map(number).unwrap_or_default()
            ),
            Status::BelowFloor => match r.first_fail {
                Some(f) => format!("< {}", number(f)),
                None => format!("< {}", number(self.search.floor)),
            },
            Status::OutOfBudget | Status::Stopped => format!(
                "unresolved [{}, {})",
                lp.unwrap_or_else(|| "?".to_string()),
                upper.map(number).unwrap_or_else(|| "?".to_string())
            ),
        }
    }
}

/// A value on either axis: whole numbers without decimals, rates to 0.1.
fn number(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// One line saying what the service level was.
pub fn service_level_line(level: &ServiceLevel) -> String {
    let age = match level.slo_age_ns {
        Some(ns) => format!("p99 age ≤ {}", format_ns(ns)),
        None => "p99 age ≤ one frame period".to_string(),
    };
    let mut line = format!(
        "{age}, loss ≤ {}%, no torn frame",
        short_number(level.max_loss * 100.0)
    );
    if let Some(pss) = level.max_pss_bytes {
        let _ = write!(line, ", peak PSS ≤ {}", format_bytes(pss));
    }
    line
}

/// What the search was, in one line.
fn method_line(report: &CapacityReport) -> String {
    let Some(first) = report.capacity.first() else {
        return String::new();
    };
    let s = &first.search;
    let trials: usize = report.capacity.iter().map(|r| r.result.trials.len()).sum();
    format!(
        "{} searched from {} to {} (precision {}%), up to {} trials of {} s per value, \
         confirmation {} s; {} trials in {} s of a {} s budget{}",
        first.result.axis.name(),
        number(s.start),
        number(s.cap),
        short_number(s.precision * 100.0),
        s.trials,
        short_number(s.trial_duration_s),
        short_number(s.confirm_duration_s),
        trials,
        short_number(report.spent_s.round()),
        short_number(report.budget_s),
        if report.partial {
            "; PARTIAL: interrupted"
        } else {
            ""
        }
    )
}

/// Universal Scalability Law fits of delivered throughput (sustained fps × consumers)
/// against consumer count, per strategy and configuration, where the fit is good (see
/// [`crate::usl`]). Only resolved intervals are used (their last pass); a capped value is a
/// lower bound and would bend the curve.
pub fn usl_models(report: &CapacityReport) -> Vec<(String, crate::usl::UslFit)> {
    if report.axis() != Axis::Fps {
        return Vec::new();
    }
    let layout = report.layout();
    let mut models = Vec::new();
    for row in &layout.rows {
        let points: Vec<(f64, f64)> = report
            .capacity
            .iter()
            .filter(|r| r.strategy == row.1 && r.configuration_label() == row.0)
            .filter(|r| r.result.status == Status::Resolved)
            .filter_map(|r| {
                let n = r.consumers? as f64;
                Some((n, r.result.last_pass? * n))
            })
            .collect();
        if let Some(model) = crate::usl::fit(&points) {
            let name = if layout.labelled() {
                format!("{} {}", row.1, row.0)
            } else {
                row.1.clone()
            };
            models.push((name, model));
        }
    }
    models
}

/// One line per good fit, marked as a model.
fn model_lines(report: &CapacityReport) -> Vec<String> {
    usl_models(report)
        .into_iter()
        .map(|(name, m)| {
            let peak = match (m.peak_consumers, m.peak_throughput) {
                (Some(n), Some(x)) => format!(
                    "predicted peak {} frames/s delivered at {} consumers",
                    short_number(x),
                    short_number(n)
                ),
                _ => "no peak (coherency 0)".to_string(),
            };
            format!(
                "model, not a measurement: {name}: USL fit σ = {:.4}, κ = {:.5} (R² {:.3}, {} points); {peak}",
                m.sigma, m.kappa, m.r_squared, m.points
            )
        })
        .collect()
}

/// What the bound beside each interval is, when any cell has one.
pub fn bound_line(report: &CapacityReport) -> Option<String> {
    let any_bound = report.capacity.iter().any(|r| r.result.bound_fps.is_some());
    let interfered: usize = report
        .capacity
        .iter()
        .map(|r| r.result.interfered_trials)
        .sum();
    if !any_bound {
        return None;
    }
    let mut line =
        "bound: a model, not a measurement: the rate the measured CPU time per frame allows \
         by the utilization law, min(1e9 / busiest thread's ns per frame, CPUs x 1e9 / the run's \
         total ns per frame), the median over the cell's trials; waiting and wake-ups are not in \
         it, so a capacity far below it is lost to them (or to other load), not to CPU"
            .to_string();
    if interfered > 0 {
        let _ = write!(
            line,
            "; {interfered} trials failed at under half their bound while other processes used more than {} CPU (interfered): those cells may be the machine's load, not the design's limit",
            fbench_harness::capacity::INTERFERENCE_LOAD_CPUS
        );
    }
    Some(line)
}

/// How busy the rest of the machine was during the trials, when the runs measured it: a
/// capacity measured beside other work is that machine's under that load.
pub fn load_line(report: &CapacityReport) -> Option<String> {
    let loads: Vec<f64> = report
        .capacity
        .iter()
        .flat_map(|r| r.result.trials.iter())
        .filter_map(|t| t.other_load_cpus)
        .collect();
    if loads.is_empty() {
        return None;
    }
    let mean = loads.iter().sum::<f64>() / loads.len() as f64;
    let max = loads.iter().copied().fold(0.0f64, f64::max);
    Some(format!(
        "other load: the rest of the machine used {mean:.2} CPUs on average during the trials (at most {max:.2}) of {} logical CPUs",
        report.machine.logical_cpus
    ))
}

/// One line per search whose confirmation ran beside the reference: its figures over the
/// reference's trial just before it, e.g. `mutex x4 at 93.8 fps: age p99 2.10x ideal's
/// 4.20 ms, p50 1.90x, acquire p50 3.00x; 1 pair`.
pub fn reference_lines(report: &CapacityReport) -> Vec<String> {
    let ratio = |r: Option<f64>| r.map_or("n/a".to_string(), |r| format!("{r:.2}x"));
    report
        .capacity
        .iter()
        .filter_map(|record| {
            let (trial, versus) = record.confirmation_vs_reference()?;
            let at = match record.result.axis {
                Axis::Fps => format!(
                    "{} x{} at {} fps",
                    record.strategy,
                    record.consumers.unwrap_or(trial.consumers),
                    number(trial.value)
                ),
                Axis::Consumers => format!(
                    "{} at {} fps with {} consumers",
                    record.strategy,
                    number(record.fps.unwrap_or(trial.fps)),
                    number(trial.value)
                ),
                Axis::Streams => format!(
                    "{} x{} at {} fps with {} streams",
                    record.strategy,
                    record.consumers.unwrap_or(trial.consumers),
                    number(trial.fps),
                    number(trial.value)
                ),
            };
            Some(format!(
                "{at}: age p99 {} {}'s {}, p50 {}, acquire p50 {}; {} pair{}",
                ratio(versus.age_p99_vs_ideal),
                versus.reference,
                format_ns(versus.reference_age_p99_ns),
                ratio(versus.age_p50_vs_ideal),
                ratio(versus.acquire_p50_vs_ideal),
                versus.pairs,
                if versus.pairs == 1 { "" } else { "s" }
            ))
        })
        .collect()
}

/// What [`reference_lines`] are, said once before them.
const REFERENCE_NOTE: &str = "against the reference at the confirmation (a minimal \
     latest-value strategy run just before the confirmation trial, same point, value and \
     length; a reference, not a floor: below 1 means the two runs met different backgrounds):";

/// The terminal table: one row per strategy, one column per consumer count (or rate).
pub fn terminal_table(report: &CapacityReport, width: Option<u16>) -> String {
    let layout = report.layout();
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    if let Some(width) = width {
        table.set_width(width);
    }
    table.set_header(layout.header());
    for row in layout.body() {
        table.add_row(row);
    }
    let first_value = if layout.labelled() { 2 } else { 1 };
    for column in table.column_iter_mut().skip(first_value) {
        column.set_cell_alignment(CellAlignment::Right);
    }
    let unit = match report.axis() {
        Axis::Fps => "sustained fps",
        Axis::Consumers => "sustained consumers",
        Axis::Streams => "sustained streams",
    };
    let mut text = format!(
        "capacity ({unit}, [last pass, first fail)): {}\n",
        report
            .capacity
            .first()
            .map(|r| service_level_line(&r.service_level))
            .unwrap_or_default()
    );
    text.push_str(&table.to_string());
    text.push('\n');
    let method = method_line(report);
    if !method.is_empty() {
        text.push_str(&method);
        text.push('\n');
    }
    if let Some(line) = load_line(report) {
        text.push_str(&line);
        text.push('\n');
    }
    if let Some(line) = bound_line(report) {
        text.push_str(&line);
        text.push('\n');
    }
    for line in model_lines(report) {
        text.push_str(&line);
        text.push('\n');
    }
    let versus = reference_lines(report);
    if !versus.is_empty() {
        text.push_str(REFERENCE_NOTE);
        text.push('\n');
        for line in versus {
            text.push_str("  ");
            text.push_str(&line);
            text.push('\n');
        }
    }
    text
}

/// Markdown: the same table, the service level and the method.
pub fn markdown(report: &CapacityReport) -> String {
    let layout = report.layout();
    let mut md = String::from("## fbench capacity\n\n");
    let m = &report.machine;
    let _ = writeln!(
        md,
        "Machine: {} ({}, {} logical CPUs, {}, kernel {})  \nfbench {} ({})\n",
        m.hostname,
        m.cpu_model,
        m.logical_cpus,
        m.os,
        m.kernel,
        report.fbench.version,
        report.fbench.git_rev
    );
    if let Some(first) = report.capacity.first() {
        let _ = writeln!(
            md,
            "Service level on every consumer: {}.  \n{}.\n",
            service_level_line(&first.service_level),
            method_line(report)
        );
    }
    if let Some(line) = load_line(report) {
        let _ = writeln!(md, "{}.\n", line.replacen("other load: t", "T", 1));
    }
    let header = layout.header();
    let _ = writeln!(md, "| {} |", header.join(" | "));
    let aligns: Vec<&str> = header
        .iter()
        .enumerate()
        .map(|(i, _)| {
            if i < if layout.labelled() { 2 } else { 1 } {
                "---"
            } else {
                "---:"
            }
        })
        .collect();
    let _ = writeln!(md, "|{}|", aligns.join("|"));
    for row in layout.body() {
        let _ = writeln!(md, "| {} |", row.join(" | "));
    }
    md.push_str("\nCells are `[last pass, first fail)`; `≥ x`: passed at the cap; `(source < y)`: the source could not make y frames per second here; `unresolved`: the budget ran out.\n");
    if let Some(line) = bound_line(report) {
        let _ = writeln!(md, "\n{}.", line.replacen("bound: a", "`bound`: a", 1));
    }
    let models = model_lines(report);
    if !models.is_empty() {
        md.push('\n');
        for line in models {
            let _ = writeln!(md, "- {line}");
        }
    }
    let versus = reference_lines(report);
    if !versus.is_empty() {
        let _ = writeln!(md, "\n{}\n", capitalised(REFERENCE_NOTE));
        for line in versus {
            let _ = writeln!(md, "- {line}");
        }
    }
    md
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

const CSV_COLUMNS: [&str; 25] = [
    "strategy",
    "axis",
    "consumers",
    "fps",
    "width",
    "height",
    "format",
    "workload",
    "wait",
    "slo_age_ns",
    "max_loss",
    "max_pss_bytes",
    "last_pass",
    "first_fail",
    "generator_limit",
    "status",
    "resolved",
    "trials",
    "precision",
    "trial_duration_s",
    "hostname",
    "partial",
    "bound_fps",
    "interfered_trials",
    "age_p99_vs_ideal",
];

/// CSV: one row per search, fixed columns; empty cells for absent values.
pub fn csv(report: &CapacityReport) -> String {
    let mut out = CSV_COLUMNS.join(",");
    out.push('\n');
    let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    for r in &report.capacity {
        let c = &r.config;
        let status = serde_json::to_value(r.result.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let cells = [
            r.strategy.clone(),
            r.result.axis.name().to_string(),
            r.consumers.map(|n| n.to_string()).unwrap_or_default(),
            opt(r.fps),
            c.width.to_string(),
            c.height.to_string(),
            c.format.clone(),
            c.workload.clone(),
            c.wait.clone(),
            r.service_level
                .slo_age_ns
                .map(|n| n.to_string())
                .unwrap_or_default(),
            r.service_level.max_loss.to_string(),
            r.service_level
                .max_pss_bytes
                .map(|n| n.to_string())
                .unwrap_or_default(),
            opt(r.result.last_pass),
            opt(r.result.first_fail),
            opt(r.result.generator_limit),
            status,
            r.result.resolved.to_string(),
            r.result.trials.len().to_string(),
            r.search.precision.to_string(),
            r.search.trial_duration_s.to_string(),
            report.machine.hostname.clone(),
            report.partial.to_string(),
            opt(r.result.bound_fps),
            r.result.interfered_trials.to_string(),
            opt(r
                .confirmation_vs_reference()
                .and_then(|(_, v)| v.age_p99_vs_ideal)),
        ];
        let quoted: Vec<String> = cells.iter().map(|c| quote(c)).collect();
        out.push_str(&quoted.join(","));
        out.push('\n');
    }
    out
}

/// RFC 4180 quoting, only where needed.
fn quote(cell: &str) -> String {
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_string()
    }
}

/// How many charts [`html`] draws (for tests): the sustained-capacity chart when there is
/// more than one column per configuration, and one age chart per strategy and
/// configuration.
pub fn expected_capacity_charts(report: &CapacityReport) -> usize {
    let layout = report.layout();
    let sustained = usize::from(layout.columns.len() > 1);
    sustained + layout.rows.len()
}

/// The HTML page: the table, sustained capacity against the fixed dimension with the
/// interval as a band, and per strategy the p50/p99 age of every trial against the tried
/// value with the SLO line. One self-contained file, deterministic.
pub fn html(report: &CapacityReport) -> Result<String, ReportError> {
    let layout = report.layout();
    let axis = report.axis();
    let mut page = String::new();
    let title = match &report.scenario {
        Some(s) => format!("fbench capacity: {s}"),
        None => "fbench capacity".to_string(),
    };
    crate::charts::page_head(&mut page, &title);
    let m = &report.machine;
    let _ = writeln!(
        page,
        "<p class=\"lead\">{}; fbench {} ({}).{}</p>",
        escape(&format!(
            "{} ({}, {} logical CPUs)",
            m.hostname, m.cpu_model, m.logical_cpus
        )),
        escape(&report.fbench.version),
        escape(&report.fbench.git_rev),
        if report.partial {
            " <strong>Partial: the search was interrupted; unresolved cells are not results.</strong>"
        } else {
            ""
        }
    );
    if let Some(first) = report.capacity.first() {
        let _ = writeln!(
            page,
            "<p>Service level on every consumer: {}. {}.</p>",
            escape(&service_level_line(&first.service_level)),
            escape(&method_line(report))
        );
    }
    if let Some(line) = load_line(report) {
        let _ = writeln!(
            page,
            "<p>{}.</p>",
            escape(&line.replacen("other load: t", "T", 1))
        );
    }
    page.push_str("<h2>Capacity</h2>\n<p>Each cell is the interval [last pass, first fail) the search found, never one number.</p>\n<table>\n<tr>");
    for h in layout.header() {
        let _ = write!(page, "<th>{}</th>", escape(&h));
    }
    page.push_str("</tr>\n");
    for row in layout.body() {
        page.push_str("<tr>");
        let name_at = usize::from(layout.labelled());
        for (i, cell) in row.iter().enumerate() {
            if i == name_at {
                // The strategy's own colour, the same as in every other report.
                let _ = write!(
                    page,
                    "<td class=\"name\"><span class=\"swatch\" style=\"background:{}\"></span>{}</td>",
                    css_colour(strategy_colour(cell)),
                    escape(cell)
                );
            } else if i < name_at {
                let _ = write!(page, "<td class=\"name\">{}</td>", escape(cell));
            } else {
                let _ = write!(page, "<td>{}</td>", escape(cell));
            }
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</table>\n");
    if let Some(line) = bound_line(report) {
        let _ = writeln!(page, "<p>{}.</p>", escape(&line));
    }
    let models = model_lines(report);
    if !models.is_empty() {
        page.push_str("<ul>\n");
        for line in models {
            let _ = writeln!(page, "<li>{}</li>", escape(&line));
        }
        page.push_str("</ul>\n");
    }
    let versus = reference_lines(report);
    if !versus.is_empty() {
        let _ = writeln!(
            page,
            "<p>{}</p>\n<ul>",
            escape(&capitalised(REFERENCE_NOTE))
        );
        for line in versus {
            let _ = writeln!(page, "<li>{}</li>", escape(&line));
        }
        page.push_str("</ul>\n");
    }
    page.push_str("<div class=\"charts\">\n");
    if layout.columns.len() > 1 {
        let svg = sustained_chart(report, &layout).map_err(ReportError::Chart)?;
        let _ = writeln!(
            page,
            "<figure>{svg}<figcaption>Sustained {} against {}: the line joins the last passes, \
             the band reaches up to the first fail (to the cap or the source's limit where \
             nothing failed). Unresolved searches are left out.</figcaption></figure>",
            axis.name(),
            match axis {
                Axis::Fps | Axis::Streams => "consumer count",
                Axis::Consumers => "frame rate",
            }
        );
    }
    for row in &layout.rows {
        let svg = age_chart(report, row).map_err(ReportError::Chart)?;
        let _ = writeln!(
            page,
            "<figure>{svg}<figcaption>{}: worst consumer's age p99 (thick) and p50 (thin) of \
             every tried value (the median trial) against the tried {}, in the strategy's colour, \
             one line style per {}; the grey dashed line is the SLO.</figcaption></figure>",
            escape(&row.1),
            axis.name(),
            match axis {
                Axis::Fps | Axis::Streams => "consumer count",
                Axis::Consumers => "rate",
            }
        );
    }
    page.push_str("</div>\n</main>\n</body>\n</html>\n");
    Ok(page)
}

/// One strategy's sustained capacity: (column, last pass, band top).
type Sustained = Vec<(f64, f64, f64)>;

fn sustained_points(report: &CapacityReport, strategy: &str, label: &str) -> Sustained {
    let mut points: Sustained = report
        .capacity
        .iter()
        .filter(|r| r.strategy == strategy && r.configuration_label() == label)
        .filter(|r| r.result.resolved)
        .map(|r| {
            let pass = r.result.last_pass.unwrap_or(0.0);
            let top = r
                .result
                .first_fail
                .or(r.result.generator_limit)
                .unwrap_or(pass)
                .max(pass);
            (r.column(), pass, top)
        })
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    points
}

fn sustained_chart(report: &CapacityReport, layout: &Layout) -> Result<String, String> {
    let axis = report.axis();
    let title = match axis {
        Axis::Fps => "sustained fps against consumers",
        Axis::Consumers => "sustained consumers against fps",
        Axis::Streams => "sustained streams against consumers per stream",
    };
    let series: Vec<(usize, String, Sustained)> = layout
        .rows
        .iter()
        .map(|row| {
            let colour = strategy_colour(&row.1);
            let label = if layout.labelled() {
                format!("{} {}", row.1, row.0)
            } else {
                row.1.clone()
            };
            (colour, label, sustained_points(report, &row.1, &row.0))
        })
        .collect();
    let y_hi = series
        .iter()
        .flat_map(|s| s.2.iter().map(|p| p.2))
        .fold(1.0f64, f64::max)
        * 1.1;
    let x_lo = layout.columns.first().copied().unwrap_or(1.0).max(0.5);
    let x_hi = layout
        .columns
        .last()
        .copied()
        .unwrap_or(1.0)
        .max(x_lo * 2.0);
    let entries: Vec<LegendEntry> = series
        .iter()
        .map(|(colour_index, label, _)| (colour(*colour_index).stroke_width(3), 0, label.clone()))
        .collect();
    let rows = legend_labels(&entries);
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (WIDTH, chart_height(&rows))).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (plot, legend) = root.split_horizontally(WIDTH - LEGEND_WIDTH);
        let mut chart = ChartBuilder::on(&plot)
            .caption(title, ("sans-serif", 22))
            .margin(10)
            .x_label_area_size(48)
            .y_label_area_size(70)
            .build_cartesian_2d(
                (x_lo * 0.8..x_hi * 1.2)
                    .log_scale()
                    .with_key_points(layout.columns.clone()),
                0.0..y_hi,
            )
            .map_err(|e| e.to_string())?;
        let x_format = |v: &f64| number(*v);
        let y_format = |v: &f64| short_number(*v);
        chart
            .configure_mesh()
            .x_desc(match axis {
                Axis::Fps | Axis::Streams => "consumers",
                Axis::Consumers => "fps",
            })
            .y_desc(match axis {
                Axis::Fps => "sustained fps",
                Axis::Consumers => "sustained consumers",
                Axis::Streams => "sustained streams",
            })
            .x_label_formatter(&x_format)
            .y_label_formatter(&y_format)
            .label_style(("sans-serif", 16))
            .axis_desc_style(("sans-serif", 17))
            .max_light_lines(0)
            .bold_line_style(RGBColor(220, 220, 220))
            .draw()
            .map_err(|e| e.to_string())?;
        let column_index = |x: f64| layout.columns.iter().position(|&c| c == x);
        for (colour_index, _, points) in &series {
            let c = colour(*colour_index);
            // Lines and bands join neighbouring columns only: an unresolved search between
            // two resolved ones is a gap, not something to draw across.
            let mut runs: Vec<Vec<(f64, f64, f64)>> = Vec::new();
            for &p in points {
                let adjacent = runs.last().and_then(|run| run.last()).is_some_and(|last| {
                    matches!(
                        (column_index(last.0), column_index(p.0)),
                        (Some(a), Some(b)) if b == a + 1
                    )
                });
                if adjacent {
                    runs.last_mut().expect("adjacent implies a run").push(p);
                } else {
                    runs.push(vec![p]);
                }
            }
            for run in &runs {
                // The band: last passes along the bottom, first fails back along the top.
                let mut band: Vec<(f64, f64)> = run.iter().map(|p| (p.0, p.1)).collect();
                band.extend(run.iter().rev().map(|p| (p.0, p.2)));
                chart
                    .draw_series(std::iter::once(Polygon::new(band, c.mix(0.18).filled())))
                    .map_err(|e| e.to_string())?;
                chart
                    .draw_series(LineSeries::new(
                        run.iter().map(|p| (p.0, p.1)),
                        c.stroke_width(2),
                    ))
                    .map_err(|e| e.to_string())?;
                // A lone point's interval as a vertical bar.
                if run.len() == 1 {
                    let p = run[0];
                    chart
                        .draw_series(std::iter::once(PathElement::new(
                            vec![(p.0, p.1), (p.0, p.2)],
                            c.mix(0.5).stroke_width(4),
                        )))
                        .map_err(|e| e.to_string())?;
                }
            }
            chart
                .draw_series(
                    points
                        .iter()
                        .map(|p| Circle::new((p.0, p.1), 3, c.filled())),
                )
                .map_err(|e| e.to_string())?;
        }
        draw_legend(&legend, &entries, &rows)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(crate::charts::inline_svg(&svg, title))
}

/// The width of a capacity chart's legend, beside its plot.
const LEGEND_WIDTH: u32 = 160;

/// A legend row: the line's style, its dash pattern ([`crate::charts::DASHES`]), its label.
type LegendEntry = (ShapeStyle, usize, String);

/// The legend's labels, wrapped to its width as every chart's are.
fn legend_labels(entries: &[LegendEntry]) -> Vec<Vec<String>> {
    entries
        .iter()
        .map(|entry| wrap_label(&entry.2, legend_chars(LEGEND_WIDTH)))
        .collect()
}

/// A chart tall enough for every legend row: a legend is never cut off.
fn chart_height(rows: &[Vec<String>]) -> u32 {
    HEIGHT.max(legend_rows(rows).1 as u32 + 8)
}

/// The legend, drawn with the helpers every chart of every report shares.
fn draw_legend(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    entries: &[LegendEntry],
    rows: &[Vec<String>],
) -> Result<(), String> {
    let (ys, _) = legend_rows(rows);
    for ((style, dash, _), (y, lines)) in entries.iter().zip(ys.into_iter().zip(rows)) {
        legend_sample(area, y, *dash, *style)?;
        legend_text(area, y, lines)?;
    }
    Ok(())
}

/// Per strategy (and configuration): age p50/p99 of every trial against the tried value, in
/// the strategy's own colour (as in every report), one line style per fixed value (consumer
/// count or rate), with the SLO.
fn age_chart(report: &CapacityReport, row: &(String, String)) -> Result<String, String> {
    let axis = report.axis();
    let records: Vec<&CapacityRecord> = report
        .capacity
        .iter()
        .filter(|r| r.strategy == row.1 && r.configuration_label() == row.0)
        .collect();
    let title = format!("{}: age against tried {}", row.1, axis.name());
    let trials = records.iter().flat_map(|r| r.result.trials.iter());
    let max_ns = trials
        .clone()
        .flat_map(|t| [t.age_p99_ns, t.slo_age_ns])
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let min_ns = trials
        .clone()
        .map(|t| t.age_p50_ns)
        .filter(|&v| v > 0)
        .min()
        .unwrap_or(1_000) as f64;
    let x_values: Vec<f64> = trials.clone().map(|t| t.value).collect();
    let x_lo = x_values.iter().copied().fold(f64::INFINITY, f64::min);
    let x_hi = x_values.iter().copied().fold(0.0f64, f64::max);
    // Linear from zero: the tried values are a doubling then a bisection, and the SLO's
    // one-period curve reads best against a plain rate axis.
    let (x_lo, x_hi) = if x_lo.is_finite() && x_hi > 0.0 {
        (0.0, x_hi * 1.08)
    } else {
        (0.0, 10.0)
    };
    let ms = |ns: u64| ns as f64 / 1e6;
    let y_lo = (min_ns / 1e6 * 0.5).max(1e-4);
    // A search with no trial (its budget ran out at once) still gets a sane, empty chart.
    let y_hi = (max_ns / 1e6 * 2.0).max(y_lo * 100.0);
    let grey = RGBColor(110, 110, 110);
    let strategy = colour(strategy_colour(&row.1));
    // One dash pattern per fixed value; the p99 line thick, the p50 line thin and light.
    let dash_of = |i: usize| i % crate::charts::DASHES.len();
    let mut entries: Vec<LegendEntry> = vec![(grey.stroke_width(2), 1, "SLO".to_string())];
    for (i, record) in records.iter().enumerate() {
        let label = match axis {
            Axis::Fps | Axis::Streams => {
                let n = record.consumers.unwrap_or(0);
                format!("{n} consumer{}", if n == 1 { "" } else { "s" })
            }
            Axis::Consumers => format!("{} fps", number(record.fps.unwrap_or(0.0))),
        };
        entries.push((strategy.stroke_width(3), dash_of(i), label));
    }
    let rows = legend_labels(&entries);
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (WIDTH, chart_height(&rows))).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (plot, legend) = root.split_horizontally(WIDTH - LEGEND_WIDTH);
        let mut chart = ChartBuilder::on(&plot)
            .caption(&title, ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(48)
            .y_label_area_size(70)
            .build_cartesian_2d(x_lo..x_hi, (y_lo..y_hi).log_scale())
            .map_err(|e| e.to_string())?;
        let x_format = |v: &f64| short_number(*v);
        let y_format = |v: &f64| short_number(*v);
        chart
            .configure_mesh()
            .x_desc(match axis {
                Axis::Fps => "tried fps",
                Axis::Consumers => "tried consumers",
                Axis::Streams => "tried streams",
            })
            .y_desc("age (ms)")
            .x_label_formatter(&x_format)
            .y_label_formatter(&y_format)
            .label_style(("sans-serif", 16))
            .axis_desc_style(("sans-serif", 17))
            .max_light_lines(0)
            .bold_line_style(RGBColor(220, 220, 220))
            .draw()
            .map_err(|e| e.to_string())?;
        // The SLO: a fixed age, or one frame period of the tried rate.
        let level = records.first().map(|r| r.service_level);
        let slo: Vec<(f64, f64)> = match (level.and_then(|l| l.slo_age_ns), axis) {
            (Some(ns), _) => vec![(x_lo, ms(ns)), (x_hi, ms(ns))],
            (None, Axis::Fps) => {
                // One period in ms is 1000 / fps; start where it enters the plot.
                let from = (1e3 / y_hi).max(x_hi / 64.0);
                (0..=64)
                    .map(|i| {
                        let x = from + (x_hi - from) * i as f64 / 64.0;
                        (x, 1e3 / x)
                    })
                    .collect()
            }
            (None, Axis::Consumers | Axis::Streams) => {
                let fps = records.first().and_then(|r| r.fps).unwrap_or(30.0);
                vec![(x_lo, 1e3 / fps), (x_hi, 1e3 / fps)]
            }
        };
        // Clamped into the plot: plotters' mapping overflows far outside it.
        let slo: Vec<(f64, f64)> = slo
            .into_iter()
            .map(|(x, y)| (x, y.clamp(y_lo, y_hi)))
            .collect();
        chart
            .draw_series(DashedLineSeries::new(slo, 8, 4, grey.stroke_width(2)))
            .map_err(|e| e.to_string())?;
        for (i, record) in records.iter().enumerate() {
            // One point per tried value: the median trial of that value (confirmations too).
            let mut values: Vec<f64> = record.result.trials.iter().map(|t| t.value).collect();
            values.sort_by(f64::total_cmp);
            values.dedup();
            let median = |value: f64, pick: fn(&fbench_harness::capacity::TrialSummary) -> u64| {
                let mut v: Vec<u64> = record
                    .result
                    .trials
                    .iter()
                    .filter(|t| t.value == value && t.verdict != Verdict::GeneratorLimited)
                    .map(pick)
                    .filter(|&ns| ns > 0)
                    .collect();
                v.sort_unstable();
                v.get(v.len() / 2).copied()
            };
            let p99: Vec<(f64, f64)> = values
                .iter()
                .filter_map(|&x| median(x, |t| t.age_p99_ns).map(|ns| (x, ms(ns))))
                .collect();
            let p50: Vec<(f64, f64)> = values
                .iter()
                .filter_map(|&x| median(x, |t| t.age_p50_ns).map(|ns| (x, ms(ns))))
                .collect();
            crate::charts::draw_line(&mut chart, &p99, dash_of(i), strategy.stroke_width(2))?;
            chart
                .draw_series(p99.iter().map(|&p| Circle::new(p, 3, strategy.filled())))
                .map_err(|e| e.to_string())?;
            crate::charts::draw_line(
                &mut chart,
                &p50,
                dash_of(i),
                strategy.mix(0.45).stroke_width(1),
            )?;
        }
        draw_legend(&legend, &entries, &rows)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(crate::charts::inline_svg(&svg, &title))
}
