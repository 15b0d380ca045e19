//! fbench reports: the report document (schema `fbench.report/2`; `/1` is still read) and its renderers.
//!
//! A renderer takes a [`Report`] and produces bytes; it never knows how the numbers were
//! taken. Exporters share one small trait, [`Exporter`], and the built-in ones are the
//! closed enum [`ExportFormat`].

use serde::{Deserialize, Serialize};

use fbench_harness::machine::MachineInfo;
use fbench_harness::RunResult;

pub mod capacity;
mod charts;
mod csv;
mod faults;
mod format;
pub mod gate;
pub mod hgrm;
pub mod hlog;
mod html;
mod limits;
mod markdown;
mod streams;
mod summary;
mod table;
mod timecharts;
pub mod usl;
mod view;

pub use csv::CsvExporter;
pub use faults::{describe as describe_fault, fault_lines};
/// The machine's physical limits measured alongside a run (`calibration` in the schema).
pub use fbench_harness::calibrate::{Calibration, HarnessOverhead};
pub use format::{format_bytes, format_ns};
pub use html::{expected_charts, HtmlExporter};
pub use limits::{calibration_lines, LimitsTable};
pub use markdown::MarkdownExporter;
pub use streams::frigate_camera_bytes;
pub use table::{lost_consumers_line, member_text, TerminalTable};

/// The schema name and version every JSON report carries.
pub const SCHEMA: &str = "fbench.report/2";

/// The schemas this fbench reads: the one it writes and the ones before it. Figures an
/// older report lacks read as unavailable (`null`, shown as `—`) and a parameter it does
/// not record matches any value when gating (see [`gate::key`]).
pub const READABLE_SCHEMAS: [&str; 2] = ["fbench.report/1", "fbench.report/2"];

/// A whole report: the machine, the fbench build, calibration and every run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    pub machine: MachineInfo,
    pub fbench: BuildInfo,
    pub calibration: Calibration,
    /// The scenario the runs came from (`fbench run --scenario NAME`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    pub runs: Vec<RunResult>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BuildInfo {
    pub version: String,
    pub git_rev: String,
}

impl Report {
    pub fn new(machine: MachineInfo, fbench: BuildInfo, runs: Vec<RunResult>) -> Report {
        Report {
            schema: SCHEMA.to_string(),
            machine,
            fbench,
            calibration: Calibration::default(),
            scenario: None,
            runs,
        }
    }

    /// One report holding the runs of all of `reports`, which must come from the same
    /// machine (the schema has one `machine`; reports from several machines are compared
    /// with [`HtmlExporter::render_all`] and friends instead). The first report's build
    /// and calibration are kept.
    pub fn merge(reports: Vec<Report>) -> Result<Report, ReportError> {
        let mut reports = reports.into_iter();
        let mut merged = reports.next().ok_or(ReportError::NothingToMerge)?;
        for report in reports {
            if report.machine != merged.machine {
                return Err(ReportError::DifferentMachines(
                    merged.machine.hostname.clone(),
                    report.machine.hostname.clone(),
                ));
            }
            if merged.scenario != report.scenario {
                merged.scenario = None;
            }
            merged.runs.extend(report.runs);
        }
        Ok(merged)
    }

    /// Read a report back, refusing schemas not in [`READABLE_SCHEMAS`].
    pub fn from_json(text: &str) -> Result<Report, ReportError> {
        let value: serde_json::Value = serde_json::from_str(text)?;
        match value.get("schema").and_then(|s| s.as_str()) {
            Some(schema) if READABLE_SCHEMAS.contains(&schema) => {
                Ok(serde_json::from_value(value)?)
            }
            Some(other) => Err(ReportError::Schema(other.to_string())),
            None => Err(ReportError::Schema("(missing)".to_string())),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("not an fbench report: {0}")]
    Json(#[from] serde_json::Error),
    #[error("unsupported report schema {0}; this fbench reads {readable}", readable = READABLE_SCHEMAS.join(", "))]
    Schema(String),
    #[error("drawing a chart failed: {0}")]
    Chart(String),
    #[error("histogram {0}")]
    Histogram(String),
    #[error("no report to merge")]
    NothingToMerge,
    #[error("reports from different machines ({0}, {1}) cannot be merged into one JSON report; render them together as HTML, Markdown or CSV instead")]
    DifferentMachines(String, String),
}

/// How the HTML, Markdown and terminal reports show repeated trials (`--repeat N`) of one
/// strategy at one configuration point. JSON and CSV always keep every run (each with its
/// `trial`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Trials {
    /// One row and one line per strategy and point: the median trial by age p99 (the slower
    /// middle one of an even count), with the trials' lowest and highest p99 beside it.
    #[default]
    Median,
    /// Every trial its own row and line, labelled `trial k`.
    Each,
}

/// Something that turns a report into a file's bytes: a run report ([`Report`], the
/// default) or a capacity report ([`capacity::CapacityReport`]); the built-in ones are
/// chosen by [`ExportFormat`] ([`ExportFormat::exporter`],
/// [`ExportFormat::capacity_exporter`]).
///
/// ```
/// use fbench_reports::{ExportFormat, Exporter, Report, ReportError};
///
/// /// One line per run: its strategy.
/// struct Names;
///
/// impl Exporter for Names {
///     fn render(&self, report: &Report) -> Result<Vec<u8>, ReportError> {
///         Ok(report.runs.iter().map(|r| format!("{}\n", r.strategy)).collect::<String>().into_bytes())
///     }
/// }
///
/// let exporters: Vec<Box<dyn Exporter>> = vec![Box::new(Names), ExportFormat::Csv.exporter()];
/// # let _ = exporters;
/// ```
pub trait Exporter<D: ?Sized = Report> {
    fn render(&self, report: &D) -> Result<Vec<u8>, ReportError>;
}

/// The built-in exporters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Json,
    Table,
    Html,
    Markdown,
    Csv,
}

impl ExportFormat {
    pub fn exporter(self) -> Box<dyn Exporter> {
        self.exporter_with(Trials::default())
    }

    /// The exporter, showing repeated trials as `trials` asks.
    ///
    /// ```
    /// use fbench_reports::{ExportFormat, Trials};
    ///
    /// let every_trial = ExportFormat::Markdown.exporter_with(Trials::Each);
    /// # let _ = every_trial;
    /// ```
    pub fn exporter_with(self, trials: Trials) -> Box<dyn Exporter> {
        match self {
            ExportFormat::Json => Box::new(JsonExporter),
            ExportFormat::Table => Box::new(TerminalTable {
                trials,
                ..TerminalTable::default()
            }),
            ExportFormat::Html => Box::new(HtmlExporter { trials }),
            ExportFormat::Markdown => Box::new(MarkdownExporter { trials }),
            ExportFormat::Csv => Box::new(CsvExporter),
        }
    }

    /// Several reports in one file. HTML, Markdown and CSV show them side by side (the
    /// machine as a series); JSON and the table need one machine and merge the runs.
    pub fn render_all(self, reports: &[Report]) -> Result<Vec<u8>, ReportError> {
        self.render_all_with(reports, Trials::default())
    }

    /// [`ExportFormat::render_all`], showing repeated trials as `trials` asks.
    pub fn render_all_with(
        self,
        reports: &[Report],
        trials: Trials,
    ) -> Result<Vec<u8>, ReportError> {
        match self {
            ExportFormat::Html => HtmlExporter { trials }.render_all(reports),
            ExportFormat::Markdown => MarkdownExporter { trials }.render_all(reports),
            ExportFormat::Csv => CsvExporter.render_all(reports),
            ExportFormat::Json | ExportFormat::Table => self
                .exporter_with(trials)
                .render(&Report::merge(reports.to_vec())?),
        }
    }

    /// The format a file name asks for, by extension.
    pub fn from_extension(extension: &str) -> Option<ExportFormat> {
        match extension.to_ascii_lowercase().as_str() {
            "json" => Some(ExportFormat::Json),
            "html" | "htm" => Some(ExportFormat::Html),
            "md" | "markdown" => Some(ExportFormat::Markdown),
            "csv" => Some(ExportFormat::Csv),
            _ => None,
        }
    }

    /// What the format is called in messages ("HTML report: PATH").
    pub fn name(self) -> &'static str {
        match self {
            ExportFormat::Json => "JSON",
            ExportFormat::Table => "table",
            ExportFormat::Html => "HTML",
            ExportFormat::Markdown => "Markdown",
            ExportFormat::Csv => "CSV",
        }
    }

    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Json => "json",
            ExportFormat::Table => "txt",
            ExportFormat::Html => "html",
            ExportFormat::Markdown => "md",
            ExportFormat::Csv => "csv",
        }
    }
}

/// Pretty-printed JSON following the schema.
pub struct JsonExporter;

impl Exporter for JsonExporter {
    fn render(&self, report: &Report) -> Result<Vec<u8>, ReportError> {
        let mut bytes = serde_json::to_vec_pretty(report)?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}
