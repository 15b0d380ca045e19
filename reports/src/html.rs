//! The HTML report: one self-contained file (inline CSS and SVG charts, no scripts, no
//! network), deterministic for the same input.
//!
//! Sections: who wins each configuration point and at what memory cost; the summary table
//! with the best value of each column marked; for sweeps, p99 age, drop rate, peak PSS, CPU
//! and publish p99 against consumer count; the age percentile spectrum and the memory
//! timeline of each configuration point; the configuration, the machines, the builds and the
//! calibration.

use std::fmt::Write as _;

use fbench_harness::timeline::TimelinePoint;
use fbench_harness::RunResult;

use crate::charts::{css_colour, escape, short_number, time_unit, Chart, Line, XAxis};
use crate::format::{format_bytes, format_ns, format_ns_ci};
use crate::summary::{best_marks, columns, memory_cost, verdicts};
use crate::timecharts::{Span, Stroke, TimeChart, TimeSeries};
use crate::view::{cpu_percent, Group, View};
use crate::{Exporter, Report, ReportError};

/// Renders one report, or several side by side (see [`HtmlExporter::render_all`]).
#[derive(Default)]
pub struct HtmlExporter {
    /// How repeated trials are shown.
    pub trials: crate::Trials,
}

impl Exporter for HtmlExporter {
    fn render(&self, report: &Report) -> Result<Vec<u8>, ReportError> {
        self.render_all(std::slice::from_ref(report))
    }
}

/// Percentiles of the spectrum, as 1/(1-p): from p50 (2) to p99.99 (10 000).
const SPECTRUM_LO: f64 = 2.0;
const SPECTRUM_HI: f64 = 10_000.0;
const SPECTRUM_STEPS: usize = 64;

impl HtmlExporter {
    /// Several reports in one page; runs of the same configuration on different machines are
    /// drawn side by side with the machine as a series.
    pub fn render_all(&self, reports: &[Report]) -> Result<Vec<u8>, ReportError> {
        let view = View::with_trials(reports, self.trials);
        let mut page = String::new();
        head(&mut page, &view);
        verdict_section(&mut page, &view);
        summary_section(&mut page, &view);
        crate::faults::section(
            &mut page,
            &view.entries.iter().map(|e| e.run).collect::<Vec<_>>(),
        );
        crate::faults::queues_section(
            &mut page,
            &view.entries.iter().map(|e| e.run).collect::<Vec<_>>(),
        );
        sweep_section(&mut page, &view)?;
        crate::streams::section(&mut page, &view)?;
        spectrum_section(&mut page, &view)?;
        timeline_section(&mut page, &view)?;
        memory_section(&mut page, &view)?;
        configuration_section(&mut page, &view);
        machine_section(&mut page, &view);
        page.push_str("</main>\n</body>\n</html>\n");
        Ok(page.into_bytes())
    }
}

/// How many charts `render_all` draws for these reports (for tests and tooling).
pub fn expected_charts(reports: &[Report]) -> usize {
    let view = View::new(reports);
    let sweep = if view.consumer_counts().len() > 1 {
        SWEEP_METRICS.len()
    } else {
        0
    };
    let timelines = view
        .groups
        .iter()
        .filter(|g| has_timeline(&view, g))
        .count();
    let cpu = view.groups.iter().filter(|g| has_cpu(&view, g)).count();
    sweep + crate::streams::charts(&view) + 2 * view.groups.len() + timelines + cpu
}

fn has_timeline(view: &View, group: &Group) -> bool {
    group
        .entries
        .iter()
        .any(|&i| !view.entries[i].run.timeline.is_empty())
}

fn has_cpu(view: &View, group: &Group) -> bool {
    group.entries.iter().any(|&i| {
        let samples = &view.entries[i].run.memory.timeline;
        samples.iter().filter(|s| s.cpu_s.is_some()).count() >= 2
    })
}

/// The warm-up and every fault window of the group's runs (faults apply to every run of a
/// sweep: the same windows, named once), in seconds since the run started.
fn spans_of(view: &View, group: &Group) -> Vec<Span> {
    let first = view.entries[group.entries[0]].run;
    let warmup = first.config.warmup_s;
    let mut spans = Vec::new();
    if warmup > 0.0 {
        spans.push(Span {
            from: 0.0,
            to: warmup,
            name: "warm-up".to_string(),
            fault: false,
        });
    }
    let mut named: Vec<&str> = Vec::new();
    for &i in &group.entries {
        for fault in &view.entries[i].run.faults {
            if named.contains(&fault.fault.as_str()) {
                continue;
            }
            named.push(&fault.fault);
            spans.push(Span {
                from: warmup + fault.at_s,
                to: warmup + fault.at_s + fault.window_s,
                name: fault.fault.clone(),
                fault: true,
            });
        }
    }
    spans
}

/// Right end of the time axis: the longest run of the group, warm-up included.
fn run_end_s(view: &View, group: &Group) -> f64 {
    group
        .entries
        .iter()
        .map(|&i| {
            let config = &view.entries[i].run.config;
            config.warmup_s + config.duration_s
        })
        .fold(0.0, f64::max)
}

fn head(page: &mut String, view: &View) {
    let scenarios = view.scenarios();
    let title = if scenarios.is_empty() {
        "fbench report".to_string()
    } else {
        format!("fbench report: {}", scenarios.join(", "))
    };
    crate::charts::page_head(page, &title);
    let runs = view.entries.len();
    let machines: Vec<String> = view
        .machines
        .iter()
        .map(|m| {
            format!(
                "{} ({}, {} logical CPUs)",
                m.hostname, m.cpu_model, m.logical_cpus
            )
        })
        .collect();
    let mut builds: Vec<String> = Vec::new();
    for report in view.reports {
        let build = format!(
            "fbench {} ({})",
            report.fbench.version, report.fbench.git_rev
        );
        if !builds.contains(&build) {
            builds.push(build);
        }
    }
    let _ = writeln!(
        page,
        "<p class=\"lead\">{runs} run{} in {} configuration point{} from {} report{}; {}: {}; {}.</p>",
        plural(runs),
        view.groups.len(),
        plural(view.groups.len()),
        view.reports.len(),
        plural(view.reports.len()),
        if machines.len() == 1 { "machine" } else { "machines" },
        escape(&machines.join("; ")),
        escape(&builds.join(", "))
    );
    page.push_str("<nav><a href=\"#verdict\">Who wins</a><a href=\"#summary\">Summary</a>");
    if view.consumer_counts().len() > 1 {
        page.push_str("<a href=\"#sweep\">Against consumers</a>");
    }
    page.push_str(
        "<a href=\"#spectrum\">Latency spectrum</a><a href=\"#timeline\">Over time</a>\
         <a href=\"#memory\">Memory and CPU</a>\
         <a href=\"#configuration\">Configuration</a><a href=\"#machine\">Machine</a></nav>\n",
    );
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn swatch(colour: usize) -> String {
    format!(
        "<span class=\"swatch\" style=\"background:{}\"></span>",
        css_colour(colour)
    )
}

fn verdict_section(page: &mut String, view: &View) {
    page.push_str(
        "<h2 id=\"verdict\">Who wins</h2>\n<p>For each configuration point: the run with the \
         lowest p99 age (delivery latency), what it costs in memory, and the run that needs \
         the least memory. A run wins only when its p99 age's 95% interval lies wholly below \
         every other run's; otherwise the runs whose intervals overlap the lowest are a tie \
         within noise. Runs that tore frames or lost a consumer cannot win, nor can the \
         <code>ideal</code> reference.</p>\n<table>\n\
         <tr><th class=\"name\">configuration</th><th class=\"name\">lowest p99 age</th>\
         <th>p99 age [95% interval]</th><th>its peak PSS</th><th class=\"name\">memory cost</th>\
         <th class=\"name\">least memory</th><th>peak PSS</th><th>its p99 age</th>\
         <th class=\"name\">left out</th></tr>\n",
    );
    for verdict in verdicts(view) {
        let group = &view.groups[verdict.group];
        let name = |i: Option<usize>| {
            i.map(|i| escape(&view.entries[i].member))
                .unwrap_or_else(|| "-".to_string())
        };
        let run = |i: Option<usize>| i.map(|i| view.entries[i].run);
        let ns = |r: Option<&RunResult>| r.map(|r| format_ns(r.age_ns.p99)).unwrap_or_default();
        let ns_ci = |r: Option<&RunResult>| {
            r.map(|r| format_ns_ci(r.age_ns.p99, r.age_ns.ci95.map(|c| c.p99)))
                .unwrap_or_default()
        };
        let pss = |r: Option<&RunResult>| {
            r.map(|r| format_bytes(r.memory.peak_pss_bytes))
                .unwrap_or_default()
        };
        let left_out: Vec<String> = verdict
            .disqualified
            .iter()
            .map(|(i, why)| format!("{} ({why})", escape(&view.entries[*i].member)))
            .collect();
        let _ = writeln!(
            page,
            "<tr><td class=\"name\">{}</td><td class=\"name\">{}</td><td>{}</td><td>{}</td>\
             <td class=\"name\">{}</td><td class=\"name\">{}</td><td>{}</td><td>{}</td>\
             <td class=\"name\">{}</td></tr>",
            escape(&group.label),
            escape(&verdict.fastest_text(view)),
            ns_ci(run(verdict.lowest())),
            pss(run(verdict.fastest)),
            escape(&memory_cost(view, &verdict)),
            name(verdict.leanest),
            pss(run(verdict.leanest)),
            ns(run(verdict.leanest)),
            left_out.join(", ")
        );
    }
    page.push_str("</table>\n");
}

fn summary_section(page: &mut String, view: &View) {
    let columns = columns();
    page.push_str(
        "<h2 id=\"summary\">Summary</h2>\n<p>One row per run. In each configuration point the \
         best value of every column is marked <span style=\"background:#e3f4e1;font-weight:600\">\
         &nbsp;★&nbsp;</span> (lowest; nothing is marked where all runs agree). Torn frames are \
         marked red: any is a bug. So are lost consumers: their figures died with them, the \
         run's are over the others (none when every consumer was lost, shown —).</p>\n<table>\n<tr><th class=\"name\">run</th>",
    );
    for column in &columns {
        let _ = write!(page, "<th>{}</th>", escape(column.name));
    }
    page.push_str("</tr>\n");
    for (g, group) in view.groups.iter().enumerate() {
        let marks: Vec<Vec<bool>> = columns.iter().map(|c| best_marks(view, g, c)).collect();
        let _ = writeln!(
            page,
            "<tr class=\"group\"><th colspan=\"{}\">{}</th></tr>",
            columns.len() + 1,
            escape(&group.label)
        );
        for (row, &i) in group.entries.iter().enumerate() {
            let entry = &view.entries[i];
            let _ = write!(
                page,
                "<tr><td class=\"name\">{}{}{}</td>",
                swatch(view.colour_of(entry)),
                escape(&entry.member),
                entry
                    .spread_text()
                    .map(|t| format!("<br><small>{}</small>", escape(&t)))
                    .unwrap_or_default()
            );
            for (c, column) in columns.iter().enumerate() {
                let text = escape(&(column.text)(entry.run));
                let lost = column.name == "consumers lost" && entry.run.consumers_lost > 0;
                if (column.name == "torn" && entry.run.torn_frames > 0) || lost {
                    let _ = write!(page, "<td class=\"bad\">{text}</td>");
                } else if marks[c][row] {
                    let _ = write!(page, "<td class=\"best\">★ {text}</td>");
                } else {
                    let _ = write!(page, "<td>{text}</td>");
                }
            }
            page.push_str("</tr>\n");
        }
    }
    page.push_str("</table>\n");
}

/// The metrics drawn against consumer count: title, axis name, unit, value.
type Metric = (&'static str, &'static str, Unit, fn(&RunResult) -> f64);

#[derive(Clone, Copy)]
enum Unit {
    /// Nanoseconds, shown in the unit that suits the largest value.
    Time,
    /// Already in the named unit.
    Fixed(&'static str),
}

const SWEEP_METRICS: [Metric; 6] = [
    ("p99 age", "age p99", Unit::Time, |r| r.age_ns.p99 as f64),
    ("drop rate", "drop rate", Unit::Fixed("%"), |r| {
        r.drop_rate * 100.0
    }),
    ("peak memory", "peak PSS", Unit::Fixed("MB"), |r| {
        r.memory.peak_pss_bytes as f64 / 1e6
    }),
    ("CPU", "CPU", Unit::Fixed("% of one core"), cpu_percent),
    ("CPU per frame", "CPU per frame", Unit::Time, |r| {
        crate::summary::cpu_per_frame_ns(r).unwrap_or(0.0)
    }),
    ("publish p99", "publish p99", Unit::Time, |r| {
        r.publish_ns.p99 as f64
    }),
];

fn sweep_section(page: &mut String, view: &View) -> Result<(), ReportError> {
    let counts = view.consumer_counts();
    if counts.len() < 2 {
        return Ok(());
    }
    page.push_str(
        "<h2 id=\"sweep\">Against consumer count</h2>\n<p>One line per strategy (and per \
         machine or other setting that varies); every dot is one run, or the median trial of \
         repeated ones; bars on p99 age are its 95% interval, widened to the lowest and highest \
         trial's p99 when trials were repeated.</p>\n<div class=\"charts\">\n",
    );
    let ticks: Vec<f64> = counts.iter().map(|&c| c as f64).collect();
    let x_format = |x: &f64| format!("{x:.0}");
    for (title, axis, unit, value) in SWEEP_METRICS {
        let max = view
            .entries
            .iter()
            .map(|e| value(e.run))
            .chain(
                view.entries
                    .iter()
                    .filter(|_| axis == "age p99")
                    .filter_map(|e| e.p99_bar().map(|[_, high]| high as f64)),
            )
            .fold(0.0f64, f64::max);
        let (divisor, unit_name) = match unit {
            Unit::Time => time_unit(max),
            Unit::Fixed(name) => (1.0, name),
        };
        // Bars of several series at one consumer count sit side by side.
        let gap = ticks
            .windows(2)
            .map(|w| w[1] - w[0])
            .fold(f64::INFINITY, f64::min);
        let nudge = if gap.is_finite() { gap * 0.06 } else { 0.1 };
        let centre = (view.series.len() as f64 - 1.0) / 2.0;
        let lines: Vec<Line> = view
            .series
            .iter()
            .enumerate()
            .map(|(s, label)| {
                let mut points: Vec<(f64, f64)> = view
                    .entries
                    .iter()
                    .filter(|e| &e.series == label)
                    // A run that lost every consumer has no age to draw (not 0).
                    .filter(|e| axis != "age p99" || e.run.age_ns.measured())
                    .map(|e| (e.run.consumers as f64, value(e.run) / divisor))
                    .collect();
                points.sort_by(|a, b| a.0.total_cmp(&b.0));
                // p99 age carries its 95% interval.
                let bars = view
                    .entries
                    .iter()
                    .filter(|e| &e.series == label && axis == "age p99")
                    .filter_map(|e| {
                        let [low, high] = e.p99_bar()?;
                        let x = e.run.consumers as f64 + (s as f64 - centre) * nudge;
                        let p99 = e.run.age_ns.p99 as f64;
                        Some((
                            x,
                            p99 / divisor,
                            low as f64 / divisor,
                            high as f64 / divisor,
                        ))
                    })
                    .collect();
                // The strategy's colour; series of one strategy (other settings, machines,
                // reports) differ by line style.
                let first = view.entries.iter().find(|e| &e.series == label);
                let strategy = first.map_or("", |e| e.run.strategy.as_str());
                let dash = view.series[..s]
                    .iter()
                    .filter(|other| {
                        view.entries
                            .iter()
                            .find(|e| &e.series == *other)
                            .is_some_and(|e| e.run.strategy == strategy)
                    })
                    .count();
                Line {
                    label: label.clone(),
                    colour: crate::charts::strategy_colour(strategy),
                    dash,
                    points,
                    bars,
                }
            })
            .collect();
        let chart = Chart {
            title: format!("{title} against consumers"),
            x_desc: "consumers".to_string(),
            y_desc: format!("{axis} ({unit_name})"),
            x: XAxis::Linear {
                ticks: Some(ticks.clone()),
            },
            x_format: &x_format,
            lines,
            dots: true,
            x_marker: None,
        };
        figure(page, &chart, None)?;
    }
    page.push_str("</div>\n");
    Ok(())
}

fn spectrum_section(page: &mut String, view: &View) -> Result<(), ReportError> {
    page.push_str(
        "<h2 id=\"spectrum\">Latency percentile spectrum</h2>\n<p>Age (capture to a readable \
         frame in a consumer's hands) at each percentile, from the full histograms, \
         HdrHistogram style: the x axis is 1/(1-p) on a log scale, from p50 to p99.99. With \
         <i>n</i> samples (in the legend) every percentile above 1-1/<i>n</i> reads as the \
         maximum, so the flat right end of a short run's line is its maximum. Bars at p50, \
         p99 and p99.9 are 95% intervals (nearest-rank order statistics of the run's own \
         histogram).</p>\n<div class=\"charts\">\n",
    );
    let xs: Vec<f64> = (0..=SPECTRUM_STEPS)
        .map(|k| {
            let t = k as f64 / SPECTRUM_STEPS as f64;
            SPECTRUM_LO * (SPECTRUM_HI / SPECTRUM_LO).powf(t)
        })
        .collect();
    let x_format = |x: &f64| percentile_label(*x);
    for group in &view.groups {
        let mut curves = Vec::new();
        let mut notes = Vec::new();
        for &i in &group.entries {
            let entry = &view.entries[i];
            match entry.run.age_ns.decode() {
                Ok(h) if !h.is_empty() => {
                    let ys: Vec<f64> = xs
                        .iter()
                        .map(|x| h.value_at_quantile(1.0 - 1.0 / x) as f64)
                        .collect();
                    curves.push((entry, ys, h.len(), entry.run.age_ns.ci95));
                }
                Ok(_) => notes.push(format!("{}: no samples", entry.member)),
                Err(e) => notes.push(format!("{}: {e}", entry.member)),
            }
        }
        let max = curves
            .iter()
            .flat_map(|(_, ys, _, ci)| {
                ys.iter()
                    .copied()
                    .chain(ci.iter().map(|c| c.p999[1] as f64))
            })
            .fold(0.0f64, f64::max);
        let (divisor, unit) = time_unit(max);
        let lines = curves
            .iter()
            .enumerate()
            .map(|(k, (entry, ys, count, ci))| Line {
                label: format!("{} (n={count})", entry.member),
                colour: view.colour_of(entry),
                dash: view.dash_of(entry),
                points: xs.iter().zip(ys).map(|(x, y)| (*x, y / divisor)).collect(),
                // p50, p99 and p99.9 (x = 1/(1-p)) with their 95% intervals.
                // Each line's bars a little right of the last's, so they stay apart.
                bars: ci
                    .iter()
                    .flat_map(|c| {
                        let age = &entry.run.age_ns;
                        [
                            (2.0, age.p50, c.p50),
                            (100.0, age.p99, c.p99),
                            (1_000.0, age.p999, c.p999),
                        ]
                    })
                    .map(|(x, value, [low, high])| {
                        (
                            x * 1.06f64.powi(k as i32),
                            value as f64 / divisor,
                            low as f64 / divisor,
                            high as f64 / divisor,
                        )
                    })
                    .collect(),
            })
            .collect();
        let chart = Chart {
            title: format!("age percentiles, {}", group.label),
            x_desc: "percentile".to_string(),
            y_desc: format!("age ({unit})"),
            x: XAxis::Log {
                lo: SPECTRUM_LO,
                hi: SPECTRUM_HI,
                ticks: vec![2.0, 10.0, 100.0, 1_000.0, 10_000.0],
            },
            x_format: &x_format,
            lines,
            dots: false,
            x_marker: None,
        };
        figure(page, &chart, Some(&notes.join("; ")))?;
    }
    page.push_str("</div>\n");
    Ok(())
}

/// `1/(1-p)` as a percentile: 2 -> 50%, 100 -> 99%, 10000 -> 99.99%.
fn percentile_label(x: f64) -> String {
    let p = 100.0 * (1.0 - 1.0 / x);
    let text = format!("{p:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}%")
}

/// Points per line of an age-over-time chart (see `timeline_section`).
const MAX_TIME_POINTS: usize = 600;

fn timeline_section(page: &mut String, view: &View) -> Result<(), ReportError> {
    if !view.groups.iter().any(|g| has_timeline(view, g)) {
        return Ok(());
    }
    page.push_str(
        "<h2 id=\"timeline\">Latency over time</h2>\n<p>Age per interval of capture time \
         (<code>--interval</code>, from the start of measuring): p99 as the thick line, p50 as \
         the thin one, the maximum as dots, on a log scale. The warm-up (nothing measured) is \
         shaded grey, every fault window orange and named. Counts and loss per interval are \
         in the JSON report's <code>timeline</code>; the interval histograms in the \
         <code>--export hlog</code> files.</p>\n<div class=\"charts\">\n",
    );
    for group in &view.groups {
        if !has_timeline(view, group) {
            continue;
        }
        let max = group
            .entries
            .iter()
            .flat_map(|&i| view.entries[i].run.timeline.iter().map(|p| p.max as f64))
            .fold(0.0f64, f64::max);
        let (divisor, unit) = time_unit(max);
        let mut series = Vec::new();
        let mut intervals: Vec<String> = Vec::new();
        let mut coarsened = false;
        for &i in &group.entries {
            let entry = &view.entries[i];
            let run = entry.run;
            if run.timeline.is_empty() {
                continue;
            }
            let interval_s = run
                .config
                .interval_s
                .unwrap_or_else(|| run.timeline.get(1).map_or(1.0, |p| p.offset as f64 / 1e9));
            let label = short_number(interval_s);
            if !intervals.contains(&label) {
                intervals.push(label);
            }
            // Each interval at its middle, in seconds since the run started.
            let at = |offset: u64| run.config.warmup_s + offset as f64 / 1e9 + interval_s / 2.0;
            let measured: Vec<_> = run.timeline.iter().filter(|p| p.count > 0).collect();
            // A long run (a soak at 100 ms) would draw thousands of points: past
            // MAX_TIME_POINTS, each point stands for several intervals and shows the
            // highest of their values (the worst of the span, never an average).
            let per_point = measured.len().div_ceil(MAX_TIME_POINTS).max(1);
            coarsened |= per_point > 1;
            let worst = |value: fn(&TimelinePoint) -> u64| -> Vec<(f64, f64)> {
                measured
                    .chunks(per_point)
                    .map(|chunk| {
                        let middle = chunk[chunk.len() / 2].offset;
                        let highest = chunk.iter().map(|p| value(p)).max().unwrap_or(0);
                        (at(middle), highest as f64 / divisor)
                    })
                    .collect()
            };
            series.push(TimeSeries {
                label: entry.member.clone(),
                colour: view.colour_of(entry),
                dash: view.dash_of(entry),
                main: worst(|p| p.p99),
                thin: worst(|p| p.p50),
                dots: worst(|p| p.max),
            });
        }
        let chart = TimeChart {
            title: format!("age over time, {}", group.label),
            y_desc: format!("age ({unit}, log scale)"),
            y_log: true,
            x_end: run_end_s(view, group),
            series,
            spans: spans_of(view, group),
            key: vec![
                ("p99", Stroke::Thick),
                ("p50", Stroke::Thin),
                ("max", Stroke::Dots),
            ],
        };
        let mut note = format!("intervals of {} s", intervals.join(", "));
        if coarsened {
            note.push_str(&format!(
                "; at most {MAX_TIME_POINTS} points a line, each the highest value of the \
                 intervals it stands for"
            ));
        }
        time_figure(page, &chart, &note)?;
    }
    page.push_str("</div>\n");
    Ok(())
}

fn time_figure(page: &mut String, chart: &TimeChart, note: &str) -> Result<(), ReportError> {
    let svg = chart.to_svg().map_err(ReportError::Chart)?;
    page.push_str("<figure>\n");
    page.push_str(&svg);
    let _ = writeln!(page, "\n<figcaption>{}</figcaption>", escape(note));
    page.push_str("</figure>\n");
    Ok(())
}

/// CPU over time of the group's runs beside their memory: CPU time per
/// sample interval, as a percentage of one CPU.
fn cpu_figure(page: &mut String, view: &View, group: &Group) -> Result<(), ReportError> {
    let mut series = Vec::new();
    for &i in &group.entries {
        let entry = &view.entries[i];
        let samples: Vec<(f64, f64)> = entry
            .run
            .memory
            .timeline
            .iter()
            .filter_map(|s| s.cpu_s.map(|cpu| (s.t_ms as f64 / 1e3, cpu)))
            .collect();
        if samples.len() < 2 {
            continue;
        }
        series.push(TimeSeries {
            label: entry.member.clone(),
            colour: view.colour_of(entry),
            dash: view.dash_of(entry),
            main: samples
                .windows(2)
                .filter(|w| w[1].0 > w[0].0)
                .map(|w| {
                    (
                        w[1].0,
                        100.0 * (w[1].1 - w[0].1).max(0.0) / (w[1].0 - w[0].0),
                    )
                })
                .collect(),
            thin: Vec::new(),
            dots: Vec::new(),
        });
    }
    let chart = TimeChart {
        title: format!("CPU, {}", group.label),
        y_desc: "CPU (% of one core)".to_string(),
        y_log: false,
        x_end: run_end_s(view, group),
        series,
        spans: spans_of(view, group),
        key: Vec::new(),
    };
    time_figure(
        page,
        &chart,
        "CPU time per 100 ms sample (user + system) of the fbench process and its live \
         consumer processes, as a percentage of one core",
    )
}

fn memory_section(page: &mut String, view: &View) -> Result<(), ReportError> {
    page.push_str(
        "<h2 id=\"memory\">Memory and CPU over time</h2>\n<p>PSS (proportional set size: shared pages \
         divided among the processes sharing them) of the process, sampled every 100 ms from \
         the start of warm-up; the dashed line is where measuring starts.</p>\n\
         <div class=\"charts\">\n",
    );
    let x_format = |x: &f64| short_number(*x);
    for group in &view.groups {
        let lines: Vec<Line> = group
            .entries
            .iter()
            .map(|&i| {
                let entry = &view.entries[i];
                Line {
                    label: entry.member.clone(),
                    bars: Vec::new(),
                    colour: view.colour_of(entry),
                    dash: view.dash_of(entry),
                    points: entry
                        .run
                        .memory
                        .timeline
                        .iter()
                        .map(|s| (s.t_ms as f64 / 1e3, s.pss_bytes as f64 / 1e6))
                        .collect(),
                }
            })
            .collect();
        let warmup = view.entries[group.entries[0]].run.config.warmup_s;
        let last_s = lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| p.0))
            .fold(0.0, f64::max);
        let chart = Chart {
            title: format!("memory (PSS), {}", group.label),
            x_desc: "seconds since the run started".to_string(),
            y_desc: "PSS (MB)".to_string(),
            x: XAxis::Linear { ticks: None },
            x_format: &x_format,
            lines,
            dots: false,
            // Only inside the drawn span: a marker far outside it overflows the plotting
            // library's pixel arithmetic (found by reports/tests/report_fuzz.rs).
            x_marker: (warmup > 0.0 && warmup <= last_s)
                .then(|| (warmup, " measuring".to_string())),
        };
        figure(page, &chart, None)?;
        if has_cpu(view, group) {
            cpu_figure(page, view, group)?;
        }
    }
    page.push_str("</div>\n");
    Ok(())
}

fn figure(page: &mut String, chart: &Chart, note: Option<&str>) -> Result<(), ReportError> {
    let svg = chart.to_svg().map_err(ReportError::Chart)?;
    page.push_str("<figure>\n");
    page.push_str(&svg);
    page.push('\n');
    if let Some(note) = note.filter(|n| !n.is_empty()) {
        let _ = writeln!(page, "<figcaption>{}</figcaption>", escape(note));
    }
    page.push_str("</figure>\n");
    Ok(())
}

fn configuration_section(page: &mut String, view: &View) {
    page.push_str("<h2 id=\"configuration\">Configuration</h2>\n");
    let configs: Vec<serde_json::Map<String, serde_json::Value>> = view
        .entries
        .iter()
        .map(|e| match serde_json::to_value(&e.run.config) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        })
        .collect();
    let Some(first) = configs.first() else {
        page.push_str("<p>No runs.</p>\n");
        return;
    };
    let text = |v: Option<&serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Array(items)) if items.is_empty() => "none".to_string(),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string())
            })
            .collect::<Vec<_>>()
            .join(", "),
        Some(other) => other.to_string(),
        None => "-".to_string(),
    };
    page.push_str("<p>Common to every run:</p>\n<dl class=\"facts\">\n");
    for (key, value) in first {
        if configs.iter().all(|c| c.get(key) == Some(value)) {
            let _ = writeln!(
                page,
                "<dt>{}</dt><dd>{}</dd>",
                escape(key),
                escape(&text(Some(value)))
            );
        }
    }
    page.push_str("</dl>\n");
    if !view.varying.is_empty() {
        page.push_str("<p>Varying between configuration points:</p>\n<table>\n<tr><th class=\"name\">configuration</th>");
        for key in &view.varying {
            let _ = write!(page, "<th>{}</th>", escape(key));
        }
        page.push_str("</tr>\n");
        for group in &view.groups {
            let config = &configs[group.entries[0]];
            let _ = write!(page, "<tr><td class=\"name\">{}</td>", escape(&group.label));
            for key in &view.varying {
                let _ = write!(page, "<td>{}</td>", escape(&text(config.get(key))));
            }
            page.push_str("</tr>\n");
        }
        page.push_str("</table>\n");
    }
}

fn machine_section(page: &mut String, view: &View) {
    page.push_str("<h2 id=\"machine\">Machine, build and calibration</h2>\n");
    for (m, machine) in view.machines.iter().enumerate() {
        let _ = writeln!(
            page,
            "<h3>{}</h3>\n<dl class=\"facts\">\n<dt>CPU</dt><dd>{}</dd>\n\
             <dt>logical CPUs</dt><dd>{}</dd>\n<dt>memory</dt><dd>{}</dd>\n\
             <dt>OS</dt><dd>{}</dd>\n<dt>kernel</dt><dd>{}</dd>\n</dl>",
            escape(&view.machine_labels[m]),
            escape(&machine.cpu_model),
            machine.logical_cpus,
            format_bytes(machine.total_memory_bytes),
            escape(&machine.os),
            escape(&machine.kernel)
        );
    }
    page.push_str(
        "<table>\n<tr><th class=\"name\">report</th><th class=\"name\">machine</th>\
         <th class=\"name\">fbench</th><th>memcpy</th><th>cold frame copy</th>\
         <th>cache-line round trip</th><th>wake-up p50</th><th>wake-up p99</th>\
         <th>all consumers woken, p99</th></tr>\n",
    );
    for (r, report) in view.reports.iter().enumerate() {
        let machine = view
            .machines
            .iter()
            .position(|m| **m == report.machine)
            .map(|m| view.machine_labels[m].clone())
            .unwrap_or_default();
        let c = &report.calibration;
        let not_measured = || "not measured".to_string();
        let _ = writeln!(
            page,
            "<tr><td class=\"name\">#{}{}</td><td class=\"name\">{}</td><td class=\"name\">{} ({})</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            r + 1,
            report
                .scenario
                .as_deref()
                .map(|s| format!(" {}", escape(s)))
                .unwrap_or_default(),
            escape(&machine),
            escape(&report.fbench.version),
            escape(&report.fbench.git_rev),
            c.memcpy_bytes_per_s
                .map(|b| format!("{:.1} GB/s", b / 1e9))
                .unwrap_or_else(not_measured),
            c.frame_copy_cold_ns
                .map(|ns| format_ns(ns.round() as u64))
                .unwrap_or_else(not_measured),
            c.cacheline_rtt_ns
                .map(|ns| format_ns(ns.round() as u64))
                .unwrap_or_else(not_measured),
            c.wake_p50_ns.map(format_ns).unwrap_or_else(not_measured),
            c.wake_p99_ns.map(format_ns).unwrap_or_else(not_measured),
            match (c.wake_all_p99_ns, c.wake_all_sleepers, c.wake_period_ns) {
                (Some(ns), Some(n), Some(period)) => format!(
                    "{} ({n} after {})",
                    format_ns(ns),
                    format_ns(period)
                ),
                _ => not_measured(),
            },
        );
    }
    page.push_str("</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_labels() {
        assert_eq!(percentile_label(2.0), "50%");
        assert_eq!(percentile_label(10.0), "90%");
        assert_eq!(percentile_label(1_000.0), "99.9%");
        assert_eq!(percentile_label(10_000.0), "99.99%");
    }
}
