//! fbench reports: the report document (schema `fbench.report/1`) and its renderers.
//!
//! A renderer takes a [`Report`] and produces bytes; it never knows how the numbers were
//! taken. Exporters share one small trait, [`Exporter`], and the built-in ones are the
//! closed enum [`ExportFormat`].

use serde::{Deserialize, Serialize};

use fbench_harness::machine::MachineInfo;
use fbench_harness::RunResult;

mod limits;
mod table;

/// The machine's physical limits measured alongside a run (`calibration` in the schema).
pub use fbench_harness::calibrate::{Calibration, HarnessOverhead};
pub use limits::{calibration_lines, LimitsTable};
pub use table::{format_bytes, format_ns, TerminalTable};

/// The schema name and version every JSON report carries.
pub const SCHEMA: &str = "fbench.report/1";

/// A whole report: the machine, the fbench build, calibration and every run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    pub machine: MachineInfo,
    pub fbench: BuildInfo,
    pub calibration: Calibration,
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
            runs,
        }
    }

    /// Read a report back, refusing other schemas.
    pub fn from_json(text: &str) -> Result<Report, ReportError> {
        let value: serde_json::Value = serde_json::from_str(text)?;
        match value.get("schema").and_then(|s| s.as_str()) {
            Some(SCHEMA) => Ok(serde_json::from_value(value)?),
            Some(other) => Err(ReportError::Schema(other.to_string())),
            None => Err(ReportError::Schema("(missing)".to_string())),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("not an fbench report: {0}")]
    Json(#[from] serde_json::Error),
    #[error("unsupported report schema {0}; this fbench reads {SCHEMA}")]
    Schema(String),
}

/// Something that turns a report into a file's bytes.
pub trait Exporter {
    fn render(&self, report: &Report) -> Result<Vec<u8>, ReportError>;
}

/// The built-in exporters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Json,
    Table,
}

impl ExportFormat {
    pub fn exporter(self) -> Box<dyn Exporter> {
        match self {
            ExportFormat::Json => Box::new(JsonExporter),
            ExportFormat::Table => Box::new(TerminalTable::default()),
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
