//! The gate table as people read it: in the terminal, and as Markdown for a CI job summary
//! (`$GITHUB_STEP_SUMMARY`). Both show the same rows and notes.

use std::fmt::Write as _;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, Table};

use super::{format_change, GateOutcome, GateRow, Threshold, Trials, Verdict};

const HEADER: [&str; 7] = [
    "run",
    "metric",
    "baseline",
    "current",
    "change",
    "threshold",
    "verdict",
];

/// The cells of one row, in [`HEADER`] order.
fn cells(row: &GateRow) -> [String; 7] {
    let trials = |t: &Trials| {
        if t.is_empty() {
            "not measured".to_string()
        } else if t.min() == t.max() {
            row.format(t.median())
        } else {
            format!(
                "{} [{} – {}]",
                row.format(t.median()),
                row.format(t.min()),
                row.format(t.max())
            )
        }
    };
    [
        row.run.clone(),
        row.metric.label(),
        row.baseline
            .as_ref()
            .map(trials)
            .unwrap_or_else(|| "—".to_string()),
        trials(&row.current),
        row.change
            .map(format_change)
            .unwrap_or_else(|| "—".to_string()),
        match row.threshold {
            Threshold::Relative(limit) => format!("+{}%", limit * 100.0),
            Threshold::Absolute(gate) => gate.describe(),
        },
        row.verdict.label().to_string(),
    ]
}

/// The lines under the table: what was compared, the rule, unmatched runs, the verdict.
fn notes(outcome: &GateOutcome) -> Vec<String> {
    let mut notes = Vec::new();
    let count = |(low, high): (usize, usize)| {
        if low == high {
            format!("{low}")
        } else {
            format!("{low} to {high}")
        }
    };
    match outcome.baseline_trials {
        Some(base) => notes.push(format!(
            "Trials per run: {} baseline, {} current. Values are the median [min – max] of \
             the trials.",
            count(base),
            count(outcome.current_trials)
        )),
        None => notes.push(format!(
            "Trials per run: {} (no baseline: absolute gates only). Values are the median \
             [min – max] of the trials.",
            count(outcome.current_trials)
        )),
    }
    if outcome
        .rows
        .iter()
        .any(|r| matches!(r.threshold, Threshold::Relative(_)))
    {
        notes.push(
            "A relative gate fails only when the median change exceeds the threshold, the \
             current median is above the slowest baseline trial and the fastest current trial \
             above the baseline median; over the threshold but within the spread is noise."
                .to_string(),
        );
    }
    let load = |(low, high): (f64, f64)| {
        if (high - low).abs() < 0.005 {
            format!("{low:.2}")
        } else {
            format!("{low:.2}–{high:.2}")
        }
    };
    match (outcome.baseline_load, outcome.current_load) {
        (Some(base), Some(now)) => notes.push(format!(
            "Other processes' load (median CPUs of {}): baseline {}, current {}.",
            outcome.logical_cpus,
            load(base),
            load(now)
        )),
        (None, Some(now)) => notes.push(format!(
            "Other processes' load (median CPUs of {}): current {}.",
            outcome.logical_cpus,
            load(now)
        )),
        _ => {}
    }
    for row in outcome.inconclusive_rows() {
        if row.verdict == Verdict::Unmeasured {
            notes.push(format!(
                "Not measured: {} {} has a trial without a single sample (no consumer reported); it is neither compared nor passed.",
                row.run,
                row.metric.label()
            ));
        } else if let Some((then, now)) = row.other_load {
            notes.push(format!(
                "Inconclusive: {} {} is slower, but other processes used {now:.2} CPUs during its trials against {then:.2} during the baseline's; not called a regression.",
                row.run,
                row.metric.label()
            ));
        }
    }
    if outcome.normalized {
        notes.push(
            "Normalized: age and e2e over each report's futex wake p50, acquire and publish \
             over its frame copy time (absolute gates use raw values)."
                .to_string(),
        );
    }
    if !outcome.ignored.is_empty() {
        let names: Vec<&str> = outcome.ignored.iter().map(|p| p.name()).collect();
        notes.push(format!(
            "Matched ignoring: {} (labels show the current run's values).",
            names.join(", ")
        ));
    }
    if !outcome.unrecorded_in_baseline.is_empty() {
        notes.push(format!(
            "Not recorded by the baseline (an older report), matched whatever the current value: {}.",
            outcome.unrecorded_in_baseline.join(", ")
        ));
    }
    let consequence = if outcome.strict {
        "fails with --strict"
    } else {
        "not an error without --strict"
    };
    if !outcome.only_in_baseline.is_empty() {
        notes.push(format!(
            "Only in the baseline ({consequence}): {}.",
            outcome.only_in_baseline.join(", ")
        ));
    }
    if !outcome.only_in_current.is_empty() {
        notes.push(format!(
            "Not in the baseline ({consequence}): {}.",
            outcome.only_in_current.join(", ")
        ));
    }
    notes
}

/// The gate table and its notes, ending with the one-line verdict.
pub fn render_terminal(outcome: &GateOutcome, width: Option<u16>) -> String {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    if let Some(width) = width {
        table.set_width(width);
    }
    table.set_header(HEADER.to_vec());
    for row in &outcome.rows {
        table.add_row(cells(row).to_vec());
    }
    for column in table.column_iter_mut().skip(2).take(4) {
        column.set_cell_alignment(CellAlignment::Right);
    }
    let mut out = format!("{table}\n");
    for note in notes(outcome) {
        let _ = writeln!(out, "{note}");
    }
    let _ = writeln!(out, "{}", verdict_line(outcome));
    out
}

/// The closing line: the inconclusive one when nothing failed but something was not judged.
fn verdict_line(outcome: &GateOutcome) -> String {
    if outcome.inconclusive() {
        outcome.inconclusive_summary()
    } else {
        outcome.summary()
    }
}

/// The same as Markdown, headed by the verdict.
pub fn render_markdown(outcome: &GateOutcome) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### fbench gate: {}\n",
        if outcome.inconclusive() {
            "⚠️ inconclusive"
        } else if outcome.passed() {
            "✅ passed"
        } else {
            "❌ failed"
        }
    );
    let _ = writeln!(out, "| {} |", HEADER.join(" | "));
    out.push_str("|---|---|---:|---:|---:|---:|---|\n");
    for row in &outcome.rows {
        let mut cells = cells(row).map(|c| crate::markdown::cell(&c));
        if row.verdict.failed() {
            cells[6] = format!("**{}**", cells[6]);
        }
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out.push('\n');
    for note in notes(outcome) {
        let _ = writeln!(out, "{}  ", crate::markdown::escape_html(&note));
    }
    let _ = writeln!(
        out,
        "\n**{}**",
        crate::markdown::escape_html(&verdict_line(outcome))
    );
    out
}
