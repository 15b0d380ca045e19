//! A Markdown summary, short enough for a CI job summary: who wins each configuration
//! point, then one table row per run with the best value of each column in bold.

use std::fmt::Write as _;

use crate::format::{format_bytes, format_ns_ci};
use crate::summary::{best_marks, columns, memory_cost, verdicts};
use crate::view::View;
use crate::{Exporter, Report, ReportError};

#[derive(Default)]
pub struct MarkdownExporter {
    /// How repeated trials are shown.
    pub trials: crate::Trials,
}

impl Exporter for MarkdownExporter {
    fn render(&self, report: &Report) -> Result<Vec<u8>, ReportError> {
        self.render_all(std::slice::from_ref(report))
    }
}

impl MarkdownExporter {
    pub fn render_all(&self, reports: &[Report]) -> Result<Vec<u8>, ReportError> {
        let view = View::with_trials(reports, self.trials);
        let mut out = String::new();
        let scenarios = view.scenarios();
        if scenarios.is_empty() {
            out.push_str("## fbench report\n\n");
        } else {
            let _ = writeln!(out, "## fbench report: {}\n", cell(&scenarios.join(", ")));
        }
        for machine in &view.machines {
            let _ = writeln!(
                out,
                "Machine: {} ({}, {} logical CPUs, {}, {}, kernel {})  ",
                cell(&machine.hostname),
                cell(&machine.cpu_model),
                machine.logical_cpus,
                format_bytes(machine.total_memory_bytes),
                cell(&machine.os),
                cell(&machine.kernel)
            );
        }
        let mut builds: Vec<String> = Vec::new();
        for report in reports {
            let build = format!("{} ({})", report.fbench.version, report.fbench.git_rev);
            if !builds.contains(&build) {
                builds.push(build);
            }
        }
        let _ = writeln!(out, "fbench {}\n", builds.join(", "));

        out.push_str("### Who wins\n\n");
        out.push_str(
            "A run wins only when its p99 age's 95% interval lies wholly below every other \
             run's; otherwise the runs whose intervals overlap the lowest tie within noise.\n\n",
        );
        out.push_str("| configuration | lowest p99 age | p99 age [95% interval] | its peak PSS | memory cost | least memory | peak PSS |\n");
        out.push_str("|---|---|---:|---:|---|---|---:|\n");
        for verdict in verdicts(&view) {
            let name = |i: Option<usize>| {
                i.map(|i| cell(&view.entries[i].member))
                    .unwrap_or_else(|| "-".to_string())
            };
            let run = |i: Option<usize>| i.map(|i| view.entries[i].run);
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                cell(&view.groups[verdict.group].label),
                cell(&verdict.fastest_text(&view)),
                run(verdict.lowest())
                    .map(|r| format_ns_ci(r.age_ns.p99, r.age_ns.ci95.map(|c| c.p99)))
                    .unwrap_or_default(),
                run(verdict.fastest)
                    .map(|r| format_bytes(r.memory.peak_pss_bytes))
                    .unwrap_or_default(),
                cell(&memory_cost(&view, &verdict)),
                name(verdict.leanest),
                run(verdict.leanest)
                    .map(|r| format_bytes(r.memory.peak_pss_bytes))
                    .unwrap_or_default(),
            );
        }

        let columns = columns();
        out.push_str("\n### Runs\n\nBest value per configuration point in **bold**.\n\n");
        out.push_str("| configuration | run |");
        for column in &columns {
            let _ = write!(out, " {} |", column.name);
        }
        out.push_str("\n|---|---|");
        for _ in &columns {
            out.push_str("---:|");
        }
        out.push('\n');
        for (g, group) in view.groups.iter().enumerate() {
            let marks: Vec<Vec<bool>> = columns.iter().map(|c| best_marks(&view, g, c)).collect();
            for (row, &i) in group.entries.iter().enumerate() {
                let entry = &view.entries[i];
                let member = match entry.spread_text() {
                    Some(spread) => format!("{} ({spread})", entry.member),
                    None => entry.member.clone(),
                };
                let _ = write!(out, "| {} | {} |", cell(&group.label), cell(&member));
                for (c, column) in columns.iter().enumerate() {
                    let text = cell(&(column.text)(entry.run));
                    if marks[c][row] {
                        let _ = write!(out, " **{text}** |");
                    } else {
                        let _ = write!(out, " {text} |");
                    }
                }
                out.push('\n');
            }
        }
        Ok(out.into_bytes())
    }
}

/// Text safe inside a Markdown table cell: no column break, no line break, and no HTML (a
/// strategy named `<img src=x onerror=…>` is shown, not run, where Markdown is rendered as
/// HTML, as in a CI job summary).
pub(crate) fn cell(text: &str) -> String {
    escape_html(text).replace('|', "\\|").replace('\n', " ")
}

/// Text shown as written where Markdown passes HTML through.
pub(crate) fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    #[test]
    fn cells_escape_html_and_table_syntax() {
        assert_eq!(
            super::cell("<img src=x onerror=alert(1)>|a&b\nc"),
            "&lt;img src=x onerror=alert(1)&gt;\\|a&amp;b c"
        );
    }
}
