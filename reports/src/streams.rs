//! Runs of several streams (`--streams K`) in the HTML report: each stream's age
//! percentiles under its run, and, for a sweep over stream counts, p99 age, loss and peak
//! memory against the stream count with the memory each added stream costs beside
//! Frigate's per-camera sizing.
//!
//! Nothing here is drawn for reports whose runs all have one stream.

use std::fmt::Write as _;

use fbench_harness::RunResult;

use crate::charts::{escape, time_unit, Chart, Line, XAxis};
use crate::format::{format_bytes, format_ns, format_ns_ci};
use crate::view::View;
use crate::ReportError;

/// The metrics drawn against stream count: title, axis name, whether a time (ns), value.
type Metric = (&'static str, &'static str, bool, fn(&RunResult) -> f64);

const STREAM_METRICS: [Metric; 3] = [
    ("p99 age", "age p99", true, |r| r.age_ns.p99 as f64),
    ("worst loss", "loss, worst consumer (%)", false, |r| {
        r.loss_rate_max.unwrap_or(0.0) * 100.0
    }),
    ("peak memory", "peak PSS (MB)", false, |r| {
        r.memory.peak_pss_bytes as f64 / 1e6
    }),
];

/// The stream counts of the view's runs, ascending, once each.
fn stream_counts(view: &View) -> Vec<usize> {
    let mut counts: Vec<usize> = view
        .entries
        .iter()
        .map(|e| e.run.config.streams.max(1))
        .collect();
    counts.sort_unstable();
    counts.dedup();
    counts
}

/// How many charts [`section`] draws.
pub(crate) fn charts(view: &View) -> usize {
    if stream_counts(view).len() > 1 {
        STREAM_METRICS.len()
    } else {
        0
    }
}

/// Bytes of shared memory Frigate sizes per camera: a 20-frame YUV 4:2:0 ring plus a fixed
/// 270 480 bytes (`w*h*1.5*20 + 270480`, Frigate's documented per-camera formula).
///
/// ```
/// // 1080p: 62.5 MB per camera.
/// assert_eq!(fbench_reports::frigate_camera_bytes(1920, 1080), 62_478_480);
/// ```
pub fn frigate_camera_bytes(width: u32, height: u32) -> u64 {
    (u64::from(width) * u64::from(height) * 3 / 2) * 20 + 270_480
}

/// Least-squares slope of `(x, y)` points; `None` under two distinct x.
pub(crate) fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    (points.len() >= 2 && sxx > 0.0).then(|| sxy / sxx)
}

/// A line's name: what distinguishes runs apart from the stream count (strategy, consumers
/// per stream, and the series' other settings).
fn line_label(run: &RunResult) -> String {
    format!("{} x{}", run.strategy, run.consumers)
}

/// The per-stream tables and, when stream counts vary, the charts against them.
pub(crate) fn section(page: &mut String, view: &View) -> Result<(), ReportError> {
    let several: Vec<&RunResult> = view
        .entries
        .iter()
        .map(|e| e.run)
        .filter(|r| !r.streams.is_empty())
        .collect();
    if several.is_empty() {
        return Ok(());
    }
    page.push_str(
        "<h2 id=\"streams\">Streams</h2>\n<p>Runs of several independent streams (--streams): \
         each stream its own source on its own schedule, producer, strategy instance and \
         consumers. The run's row above is over every stream (histograms merged, loss over \
         every consumer); here each stream's own, the worst (highest p99 age, ties by loss) \
         marked.</p>\n<table>\n<tr><th class=\"name\">run</th><th>stream</th><th>phase</th>\
         <th>due</th><th>age p50</th><th>age p99</th><th>age p99.9</th><th>loss % (worst)</th>\
         <th>drops / overruns</th><th>torn</th><th>CPU per frame</th></tr>\n",
    );
    for run in &several {
        for stream in &run.streams {
            let age = &stream.age_ns;
            let dash = |f: &dyn Fn() -> String| {
                if age.measured() {
                    f()
                } else {
                    "—".to_string()
                }
            };
            let worst = run.worst_stream == Some(stream.stream);
            let _ = writeln!(
                page,
                "<tr><td class=\"name\">{} x{}</td><td{}>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} / {}</td><td>{}</td><td>{}</td></tr>",
                escape(&run.strategy),
                run.consumers,
                if worst { " class=\"bad\"" } else { "" },
                stream.stream,
                if worst { " (worst)" } else { "" },
                format_ns(stream.phase_ns),
                stream.frames.due,
                dash(&|| format_ns_ci(age.p50, age.ci95.map(|c| c.p50))),
                dash(&|| format_ns_ci(age.p99, age.ci95.map(|c| c.p99))),
                dash(&|| format_ns_ci(age.p999, age.ci95.map(|c| c.p999))),
                match (stream.loss_rate, stream.loss_rate_max) {
                    (Some(mean), Some(max)) => format!("{:.2} ({:.2})", mean * 100.0, max * 100.0),
                    _ => "n/a".to_string(),
                },
                stream.frames.producer_drops,
                stream.frames.source_overruns,
                stream.torn_frames,
                stream
                    .cpu_demand
                    .map_or_else(|| "n/a".to_string(), |d| format_ns(d.total_ns_per_frame.round() as u64)),
            );
        }
    }
    page.push_str("</table>\n");
    let counts = stream_counts(view);
    if counts.len() < 2 {
        return Ok(());
    }
    memory_per_stream(page, view);
    page.push_str("<div class=\"charts\">\n");
    let ticks: Vec<f64> = counts.iter().map(|&c| c as f64).collect();
    let x_format = |x: &f64| format!("{x:.0}");
    let mut labels: Vec<(String, String)> = Vec::new();
    for entry in &view.entries {
        let label = line_label(entry.run);
        if !labels.iter().any(|(l, _)| *l == label) {
            labels.push((label, entry.run.strategy.clone()));
        }
    }
    for (title, axis, is_time, value) in STREAM_METRICS {
        let max = view
            .entries
            .iter()
            .map(|e| value(e.run))
            .fold(0.0f64, f64::max);
        let (divisor, unit) = if is_time {
            let (divisor, unit) = time_unit(max);
            (divisor, format!(" ({unit})"))
        } else {
            (1.0, String::new())
        };
        let lines: Vec<Line> = labels
            .iter()
            .enumerate()
            .map(|(n, (label, strategy))| {
                let mut points: Vec<(f64, f64)> = view
                    .entries
                    .iter()
                    .filter(|e| line_label(e.run) == *label)
                    .filter(|e| !is_time || e.run.age_ns.measured())
                    .map(|e| (e.run.config.streams.max(1) as f64, value(e.run) / divisor))
                    .collect();
                points.sort_by(|a, b| a.0.total_cmp(&b.0));
                // Lines of one strategy (other consumer counts) differ by style.
                let dash = labels[..n].iter().filter(|(_, s)| s == strategy).count();
                Line {
                    label: label.clone(),
                    colour: crate::charts::strategy_colour(strategy),
                    dash,
                    points,
                    bars: Vec::new(),
                }
            })
            .collect();
        let chart = Chart {
            title: format!("{title} against streams"),
            x_desc: "streams".to_string(),
            y_desc: format!("{axis}{unit}"),
            x: XAxis::Linear {
                ticks: Some(ticks.clone()),
            },
            x_format: &x_format,
            lines,
            dots: true,
            x_marker: None,
        };
        let svg = chart.to_svg().map_err(ReportError::Chart)?;
        let _ = writeln!(page, "<figure>\n{svg}\n</figure>");
    }
    page.push_str("</div>\n");
    Ok(())
}

/// Peak PSS per added stream (least squares over the stream counts run) beside Frigate's
/// per-camera shared memory at the same resolution.
fn memory_per_stream(page: &mut String, view: &View) {
    page.push_str(
        "<table>\n<tr><th class=\"name\">run</th><th>resolution</th><th>streams run</th>\
         <th>peak PSS per added stream</th><th>Frigate's per-camera formula</th></tr>\n",
    );
    let mut done: Vec<String> = Vec::new();
    for entry in &view.entries {
        let label = line_label(entry.run);
        if done.contains(&label) {
            continue;
        }
        done.push(label.clone());
        let points: Vec<(f64, f64)> = view
            .entries
            .iter()
            .filter(|e| line_label(e.run) == label)
            .map(|e| {
                (
                    e.run.config.streams.max(1) as f64,
                    e.run.memory.peak_pss_bytes as f64,
                )
            })
            .collect();
        let mut counts: Vec<String> = points.iter().map(|p| format!("{}", p.0)).collect();
        counts.dedup();
        let c = &entry.run.config;
        let _ = writeln!(
            page,
            "<tr><td class=\"name\">{}</td><td>{}x{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&label),
            c.width,
            c.height,
            counts.join(", "),
            slope(&points).map_or_else(
                || "—".to_string(),
                |bytes| {
                    if bytes < 0.0 {
                        format!("−{}", format_bytes((-bytes) as u64))
                    } else {
                        format_bytes(bytes as u64)
                    }
                }
            ),
            format_bytes(frigate_camera_bytes(c.width, c.height)),
        );
    }
    page.push_str(
        "</table>\n<p>Frigate sizes its shared memory per camera as a 20-frame YUV 4:2:0 ring \
         (w·h·1.5·20 + 270 480 bytes); fbench's figure is what one more stream of this \
         strategy measured (its frames at the run's pixel format, buffers and consumers).</p>\n",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slope_is_least_squares() {
        assert_eq!(slope(&[(1.0, 10.0)]), None);
        assert_eq!(slope(&[(1.0, 10.0), (1.0, 12.0)]), None);
        let s = slope(&[(1.0, 10.0), (2.0, 16.0), (4.0, 28.0)]).unwrap();
        assert!((s - 6.0).abs() < 1e-9, "{s}");
    }
}
