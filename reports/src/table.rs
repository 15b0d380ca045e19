//! The terminal table printed after a run.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, Table};

use crate::{Exporter, LimitsTable, Report, ReportError};

/// One row per run: age percentiles, acquire and publish p99, drops, torn frames, memory
/// and CPU.
#[derive(Default)]
pub struct TerminalTable {
    /// Force a width (tests); `None` sizes to the terminal when there is one.
    pub width: Option<u16>,
}

impl Exporter for TerminalTable {
    fn render(&self, report: &Report) -> Result<Vec<u8>, ReportError> {
        let mut table = Table::new();
        table.load_preset(UTF8_FULL_CONDENSED);
        if let Some(width) = self.width {
            table.set_width(width);
        }
        table.set_header(vec![
            "strategy",
            "consumers",
            "age p50",
            "age p90",
            "age p99",
            "age p99.9",
            "age max",
            "acquire p99",
            "publish p99",
            "drop %",
            "torn",
            "peak PSS",
            "CPU %",
        ]);
        for run in &report.runs {
            let cpu = (run.cpu.user_s + run.cpu.sys_s) / run.config.duration_s.max(1e-9) * 100.0;
            table.add_row(vec![
                run.strategy.clone(),
                run.consumers.to_string(),
                format_ns(run.age_ns.p50),
                format_ns(run.age_ns.p90),
                format_ns(run.age_ns.p99),
                format_ns(run.age_ns.p999),
                format_ns(run.age_ns.max),
                format_ns(run.acquire_ns.p99),
                format_ns(run.publish_ns.p99),
                format!("{:.2}", run.drop_rate * 100.0),
                run.torn_frames.to_string(),
                format_bytes(run.memory.peak_pss_bytes),
                format!("{cpu:.0}"),
            ]);
        }
        for column in table.column_iter_mut().skip(1) {
            column.set_cell_alignment(CellAlignment::Right);
        }
        let mut text = table.to_string().into_bytes();
        text.push(b'\n');
        // The machine's limits and each run's distance from them, when calibrated.
        text.extend(LimitsTable { width: self.width }.render(report)?);
        Ok(text)
    }
}

/// Nanoseconds in the unit that reads best: ns, µs, ms or s, three significant digits.
pub fn format_ns(ns: u64) -> String {
    let v = ns as f64;
    let (value, unit) = if ns < 1_000 {
        return format!("{ns} ns");
    } else if v < 1e6 {
        (v / 1e3, "µs")
    } else if v < 1e9 {
        (v / 1e6, "ms")
    } else {
        (v / 1e9, "s")
    };
    let decimals = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    format!("{value:.decimals$} {unit}")
}

/// Bytes in decimal megabytes (or kB/GB when those read better).
pub fn format_bytes(bytes: u64) -> String {
    let v = bytes as f64;
    if v >= 1e9 {
        format!("{:.2} GB", v / 1e9)
    } else if v >= 1e6 {
        format!("{:.1} MB", v / 1e6)
    } else {
        format!("{:.0} kB", v / 1e3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_read_well() {
        assert_eq!(format_ns(850), "850 ns");
        assert_eq!(format_ns(1_500), "1.50 µs");
        assert_eq!(format_ns(45_300), "45.3 µs");
        assert_eq!(format_ns(2_340_000), "2.34 ms");
        assert_eq!(format_ns(120_000_000), "120 ms");
        assert_eq!(format_ns(3_000_000_000), "3.00 s");
        assert_eq!(format_bytes(6_220_800), "6.2 MB");
        assert_eq!(format_bytes(512_000), "512 kB");
    }
}
