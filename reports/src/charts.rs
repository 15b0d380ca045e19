//! Line charts as SVG text, drawn with plotters' SVG backend.
//!
//! Text is left to the browser (`<text>` elements, generic `sans-serif`), so no font files
//! or system libraries are needed, and the same input always gives byte-identical SVG.

use std::ops::Range;

use plotters::coord::ranged1d::{
    AsRangedCoord, DefaultFormatting, KeyPointHint, Ranged, ValueFormatter,
};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::{CoordTranslate, Shift};
use plotters::prelude::*;

/// Line colours: a colour-blind-friendly qualitative palette (Okabe–Ito, then Tableau).
pub(crate) const PALETTE: [(u8, u8, u8); 12] = [
    (0, 114, 178),
    (213, 94, 0),
    (0, 158, 115),
    (204, 121, 167),
    (230, 159, 0),
    (86, 180, 233),
    (0, 0, 0),
    (140, 86, 75),
    (148, 103, 189),
    (188, 189, 34),
    (23, 190, 207),
    (127, 127, 127),
];

/// Strategies with a colour of their own, by palette index: the same in every chart of
/// every report, whatever else a report holds.
const STRATEGY_COLOURS: [(&str, usize); 12] = [
    ("mutex", 0),
    ("rwlock", 1),
    ("pool", 2),
    ("arcswap", 3),
    ("shm", 4),
    ("queue", 5),
    ("ideal", 6),
    ("shm-naive", 7),
    ("triple-buffer", 8),
    ("iceoryx2", 9),
    ("broadcast", 10),
    ("unsync", 11),
];

/// The palette index of a strategy: fixed for fbench's own and the peers, derived from the
/// name (FNV-1a) for any other, so a user's strategy too keeps its colour across reports.
pub(crate) fn strategy_colour(name: &str) -> usize {
    if let Some((_, index)) = STRATEGY_COLOURS.iter().find(|(n, _)| *n == name) {
        return *index;
    }
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % PALETTE.len() as u64) as usize
}

/// Dash patterns (dash, gap in pixels) by line style index; 0 is solid. A merged report
/// tells its reports apart by these, never by colour (colour is the strategy's).
pub(crate) const DASHES: [(u32, u32); 4] = [(0, 0), (9, 5), (3, 4), (14, 4)];

pub(crate) fn colour(index: usize) -> RGBColor {
    let (r, g, b) = PALETTE[index % PALETTE.len()];
    RGBColor(r, g, b)
}

pub(crate) fn css_colour(index: usize) -> String {
    let (r, g, b) = PALETTE[index % PALETTE.len()];
    format!("#{r:02x}{g:02x}{b:02x}")
}

pub(crate) struct Line {
    pub label: String,
    pub colour: usize,
    /// Line style: 0 solid, then the [`DASHES`] patterns.
    pub dash: usize,
    pub points: Vec<(f64, f64)>,
    /// Error bars `(x, value, low, high)`: e.g. a percentile and its 95% interval. The
    /// value is marked with a ring (the bar's x may sit a little off the line's, so that
    /// bars of several lines at one x stay apart).
    pub bars: Vec<(f64, f64, f64, f64)>,
}

pub(crate) enum XAxis {
    /// Linear, with ticks exactly at `ticks` when given.
    Linear { ticks: Option<Vec<f64>> },
    /// Logarithmic from `lo` to `hi`, ticks exactly at `ticks`.
    Log { lo: f64, hi: f64, ticks: Vec<f64> },
}

pub(crate) struct Chart<'a> {
    pub title: String,
    pub x_desc: String,
    pub y_desc: String,
    pub x: XAxis,
    pub x_format: &'a dyn Fn(&f64) -> String,
    pub lines: Vec<Line>,
    /// Draw a dot at every point (few points, each one a measurement).
    pub dots: bool,
    /// A dashed vertical line with a caption, e.g. where measuring starts.
    pub x_marker: Option<(f64, String)>,
}

/// The CSS every HTML page of fbench shares (run reports and capacity reports), declared once.
pub(crate) const PAGE_STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
main{max-width:1560px;margin:0 auto;padding:16px 28px 48px}
h1{font-size:1.6em;margin:.4em 0 .1em}h2{margin-top:1.6em;border-bottom:1px solid #ddd;padding-bottom:.2em}
p.lead{color:#555;margin:.2em 0 1em}
nav a{margin-right:1em;color:#0b5cad;text-decoration:none}
table{border-collapse:collapse;margin:.6em 0;background:#fff;font-size:.92em}
th,td{border:1px solid #ddd;padding:4px 9px;text-align:right;white-space:nowrap}
th{background:#f0f0f3}td.name,th.name{text-align:left}
tr.group th{text-align:left;background:#e6eef8}
td.best{background:#e3f4e1;font-weight:600}
td.bad,li.bad{background:#fbe3e3;font-weight:600}
.charts{display:flex;flex-wrap:wrap;gap:16px}
figure{margin:0;background:#fff;border:1px solid #ddd;padding:6px}
figure svg{display:block;max-width:100%;height:auto}
figcaption{font-size:.85em;color:#555;padding:4px 2px 0;max-width:720px}
.swatch{display:inline-block;width:.8em;height:.8em;border-radius:2px;margin-right:.35em;vertical-align:baseline}
dl.facts{display:grid;grid-template-columns:max-content auto;gap:2px 14px}dl.facts dt{color:#555}dl.facts dd{margin:0}
";

/// The start of an HTML page titled `title`, up to its `<h1>`: the same head, CSS and frame
/// for every report.
pub(crate) fn page_head(page: &mut String, title: &str) {
    use std::fmt::Write as _;
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{t}</title>\n<style>{PAGE_STYLE}</style>\n</head>\n<body>\n<main>\n<h1>{t}</h1>\n",
        t = escape(title)
    );
}

/// Make plotters' SVG inlinable and labelled: no XML namespace (the HTML parser supplies it)
/// and an accessible name. Every chart of every report goes through here.
pub(crate) fn inline_svg(svg: &str, title: &str) -> String {
    let svg = svg.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1);
    svg.replacen(
        "<svg ",
        &format!("<svg role=\"img\" aria-label=\"{}\" ", escape(title)),
        1,
    )
}

pub(crate) const WIDTH: u32 = 720;
pub(crate) const HEIGHT: u32 = 400;

/// Where a legend's first row sits, and the height of a row and of each wrapped line in it.
const LEGEND_TOP: i32 = 48;
const LEGEND_ROW: i32 = 22;
const LEGEND_WRAPPED_LINE: i32 = 18;

/// A legend label cut into lines of at most `max_chars` characters, at spaces where it can
/// (a legend is never cut off: long labels wrap, and the chart grows to hold every row).
pub(crate) fn wrap_label(label: &str, max_chars: usize) -> Vec<String> {
    let max_chars = max_chars.max(8);
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in label.split(' ') {
        let mut word = word.to_string();
        // A word longer than a line is cut where it must be.
        while word.chars().count() > max_chars {
            if !current.is_empty() {
                lines.push(std::mem::take(&mut current));
            }
            let head: String = word.chars().take(max_chars).collect();
            word = word.chars().skip(max_chars).collect();
            lines.push(head);
        }
        let needed =
            current.chars().count() + usize::from(!current.is_empty()) + word.chars().count();
        if needed > max_chars && !current.is_empty() {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(&word);
    }
    if !current.is_empty() || lines.is_empty() {
        lines.push(current);
    }
    lines
}

/// The y of each legend row's sample (rows of wrapped labels take more room) and the y
/// below the last row.
pub(crate) fn legend_rows(rows: &[Vec<String>]) -> (Vec<i32>, i32) {
    let mut y = LEGEND_TOP;
    let mut ys = Vec::with_capacity(rows.len());
    for lines in rows {
        ys.push(y);
        y += LEGEND_ROW + LEGEND_WRAPPED_LINE * (lines.len().max(1) as i32 - 1);
    }
    (ys, y)
}

/// Characters of a legend label that fit in a legend `width` pixels wide.
pub(crate) fn legend_chars(width: u32) -> usize {
    (width.saturating_sub(48) / 8) as usize
}

/// Draw one legend label's lines beside its sample at `y`.
pub(crate) fn legend_text(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    y: i32,
    lines: &[String],
) -> Result<(), String> {
    for (k, line) in lines.iter().enumerate() {
        area.draw(&Text::new(
            line.clone(),
            (34, y - 8 + k as i32 * LEGEND_WRAPPED_LINE),
            ("sans-serif", 16).into_font(),
        ))
        .map_err(|e| e.to_string())?;
    }
    Ok(())
}

impl Chart<'_> {
    /// The chart as one `<svg>` element, fit for inlining in HTML (no XML namespace, no
    /// external references).
    pub fn to_svg(&self) -> Result<String, String> {
        let mut svg = String::new();
        {
            let legend_width = self.legend_width();
            let rows = self.legend_labels(legend_width);
            let (_, legend_bottom) = legend_rows(&rows);
            let height = HEIGHT.max(legend_bottom as u32 + 8);
            let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| e.to_string())?;
            let (plot, legend) = root.split_horizontally(WIDTH - legend_width);
            let y = self.y_range();
            match &self.x {
                XAxis::Linear { ticks } => {
                    let range = self.x_range();
                    match ticks {
                        Some(ticks) => self.draw(
                            &plot,
                            Ticked {
                                inner: range.into(),
                                ticks: ticks.clone(),
                            },
                            y,
                        )?,
                        None => self.draw(&plot, range, y)?,
                    }
                }
                XAxis::Log { lo, hi, ticks } => self.draw(
                    &plot,
                    (*lo..*hi).log_scale().with_key_points(ticks.clone()),
                    y,
                )?,
            }
            self.draw_legend(&legend, &rows)?;
            root.present().map_err(|e| e.to_string())?;
        }
        Ok(inline_svg(&svg, &self.title))
    }

    fn legend_labels(&self, legend_width: u32) -> Vec<Vec<String>> {
        self.lines
            .iter()
            .map(|l| wrap_label(&l.label, legend_chars(legend_width)))
            .collect()
    }

    fn legend_width(&self) -> u32 {
        let longest = self
            .lines
            .iter()
            .map(|l| l.label.chars().count())
            .max()
            .unwrap_or(0) as u32;
        (longest * 8 + 48).clamp(120, WIDTH / 2)
    }

    fn x_range(&self) -> Range<f64> {
        let xs = self.lines.iter().flat_map(|l| l.points.iter().map(|p| p.0));
        let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
            (lo.min(x), hi.max(x))
        });
        let (lo, hi) = match &self.x {
            XAxis::Linear { ticks: Some(t) } if !t.is_empty() => (
                lo.min(t.iter().copied().fold(f64::INFINITY, f64::min)),
                hi.max(t.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
            ),
            _ => (lo, hi),
        };
        if !lo.is_finite() || !hi.is_finite() {
            return 0.0..1.0;
        }
        // Room for the dots at the ends; a single x still needs a visible range.
        let pad = if hi > lo { (hi - lo) * 0.04 } else { 0.5 };
        (lo - pad).max(0.0)..hi + pad
    }

    /// From zero to a little above the highest value: magnitudes compare honestly.
    fn y_range(&self) -> Range<f64> {
        let hi = self
            .lines
            .iter()
            .flat_map(|l| {
                l.points
                    .iter()
                    .map(|p| p.1)
                    .chain(l.bars.iter().map(|b| b.3))
            })
            .filter(|y| y.is_finite())
            .fold(0.0f64, f64::max);
        if hi <= 0.0 {
            0.0..1.0
        } else {
            0.0..hi * 1.08
        }
    }

    fn draw<X>(
        &self,
        area: &DrawingArea<SVGBackend<'_>, Shift>,
        x_spec: X,
        y_range: Range<f64>,
    ) -> Result<(), String>
    where
        X: AsRangedCoord<Value = f64>,
        X::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, ("sans-serif", 22))
            .margin(10)
            .x_label_area_size(48)
            .y_label_area_size(70)
            .build_cartesian_2d(x_spec, y_range)
            .map_err(|e| e.to_string())?;
        let y_format = |v: &f64| short_number(*v);
        chart
            .configure_mesh()
            .x_desc(self.x_desc.as_str())
            .y_desc(self.y_desc.as_str())
            .x_label_formatter(self.x_format)
            .y_label_formatter(&y_format)
            .y_labels(8)
            .label_style(("sans-serif", 16))
            .axis_desc_style(("sans-serif", 17))
            .max_light_lines(0)
            .bold_line_style(RGBColor(220, 220, 220))
            .draw()
            .map_err(|e| e.to_string())?;
        if let Some((x, caption)) = &self.x_marker {
            let (_, y_hi) = (chart.y_range().start, chart.y_range().end);
            let grey = RGBColor(120, 120, 120);
            chart
                .draw_series(DashedLineSeries::new(
                    [(*x, 0.0), (*x, y_hi)],
                    6,
                    4,
                    grey.stroke_width(1),
                ))
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(std::iter::once(Text::new(
                    caption.clone(),
                    (*x, y_hi * 0.97),
                    ("sans-serif", 15).into_font().color(&grey),
                )))
                .map_err(|e| e.to_string())?;
        }
        for line in &self.lines {
            let style = colour(line.colour).stroke_width(2);
            draw_line(&mut chart, &line.points, line.dash, style)?;
            if self.dots {
                chart
                    .draw_series(
                        line.points
                            .iter()
                            .map(|&p| Circle::new(p, 3, colour(line.colour).filled())),
                    )
                    .map_err(|e| e.to_string())?;
            }
            chart
                .draw_series(
                    line.bars
                        .iter()
                        .filter(|b| b.1.is_finite() && b.2.is_finite() && b.3.is_finite())
                        .map(|&(x, value, low, high)| {
                            ErrorBar::new_vertical(
                                x,
                                low,
                                value,
                                high,
                                colour(line.colour).stroke_width(1),
                                8,
                            )
                        }),
                )
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn draw_legend(
        &self,
        area: &DrawingArea<SVGBackend<'_>, Shift>,
        rows: &[Vec<String>],
    ) -> Result<(), String> {
        let (ys, _) = legend_rows(rows);
        for ((line, y), lines) in self.lines.iter().zip(ys).zip(rows) {
            let style = colour(line.colour).stroke_width(3);
            legend_sample(area, y, line.dash, style)?;
            legend_text(area, y, lines)?;
        }
        Ok(())
    }
}

/// A line in the given dash style (0: solid).
pub(crate) fn draw_line<DB, CT>(
    chart: &mut ChartContext<'_, DB, CT>,
    points: &[(f64, f64)],
    dash: usize,
    style: ShapeStyle,
) -> Result<(), String>
where
    DB: DrawingBackend,
    CT: CoordTranslate<From = (f64, f64)>,
{
    let (size, spacing) = DASHES[dash % DASHES.len()];
    if size == 0 {
        chart
            .draw_series(LineSeries::new(points.iter().copied(), style))
            .map_err(|e| e.to_string())?;
    } else {
        chart
            .draw_series(DashedLineSeries::new(
                points.iter().copied(),
                size,
                spacing,
                style,
            ))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// A legend's line sample at height `y`, in the given dash style.
pub(crate) fn legend_sample(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    y: i32,
    dash: usize,
    style: ShapeStyle,
) -> Result<(), String> {
    let (size, spacing) = DASHES[dash % DASHES.len()];
    if size == 0 {
        area.draw(&PathElement::new(vec![(4, y), (28, y)], style))
            .map_err(|e| e.to_string())?;
    } else {
        let mut x = 4;
        while x < 28 {
            let end = (x + size as i32).min(28);
            area.draw(&PathElement::new(vec![(x, y), (end, y)], style))
                .map_err(|e| e.to_string())?;
            x = end + spacing as i32;
        }
    }
    Ok(())
}

/// A linear axis with ticks exactly at given values (e.g. the consumer counts measured).
/// plotters' own `with_key_points` on a linear f64 axis loses the default label formatter.
struct Ticked {
    inner: RangedCoordf64,
    ticks: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.inner.range()
    }
}

/// Up to three significant digits, no trailing zeros: 0.25, 1.5, 12, 340, 1200.
pub(crate) fn short_number(v: f64) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    let magnitude = v.abs().log10().floor() as i32;
    let decimals = (2 - magnitude).clamp(0, 6) as usize;
    let text = format!("{v:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A unit for nanosecond values that keeps axis numbers short: `(divisor, name)`.
pub(crate) fn time_unit(max_ns: f64) -> (f64, &'static str) {
    if max_ns < 1e3 {
        (1.0, "ns")
    } else if max_ns < 1e6 {
        (1e3, "µs")
    } else if max_ns < 1e9 {
        (1e6, "ms")
    } else {
        (1e9, "s")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_legend_labels_wrap_and_every_row_has_room() {
        let label = "mutex @ bench-a #2, 1920x1080, 60 fps, workload copy";
        let lines = wrap_label(label, 20);
        assert!(lines.iter().all(|l| l.chars().count() <= 20), "{lines:?}");
        assert_eq!(lines.join(" "), label, "nothing is lost");
        assert_eq!(wrap_label("short", 20), vec!["short".to_string()]);
        assert_eq!(wrap_label("abcdefghijklmnopqrstuvwxyz", 10).len(), 3);
        // 18 rows of one line each: the legend ends below the default height, so the
        // chart must grow to hold it
        let rows = vec![vec!["ideal trial 1".to_string()]; 18];
        let (ys, bottom) = legend_rows(&rows);
        assert_eq!(ys.len(), 18);
        assert!(bottom as u32 > HEIGHT);
        let (ys, _) = legend_rows(&[vec!["a".into(), "b".into()], vec!["c".into()]]);
        assert_eq!(
            ys,
            vec![LEGEND_TOP, LEGEND_TOP + LEGEND_ROW + LEGEND_WRAPPED_LINE]
        );
    }

    use super::*;

    #[test]
    fn short_numbers_read_well() {
        assert_eq!(short_number(0.0), "0");
        assert_eq!(short_number(0.25), "0.25");
        assert_eq!(short_number(1.5), "1.5");
        assert_eq!(short_number(12.0), "12");
        assert_eq!(short_number(340.0), "340");
        assert_eq!(short_number(1234.0), "1234");
    }

    #[test]
    fn a_chart_is_one_self_contained_svg() {
        let format = |x: &f64| short_number(*x);
        let chart = Chart {
            title: "p99 age <against> consumers".to_string(),
            x_desc: "consumers".to_string(),
            y_desc: "ms".to_string(),
            x: XAxis::Linear {
                ticks: Some(vec![1.0, 5.0, 20.0]),
            },
            x_format: &format,
            lines: vec![Line {
                label: "mutex".to_string(),
                colour: 0,
                dash: 0,
                points: vec![(1.0, 1.0), (5.0, 2.0), (20.0, 4.5)],
                bars: vec![(5.0, 2.0, 1.5, 2.5)],
            }],
            dots: true,
            x_marker: None,
        };
        let svg = chart.to_svg().unwrap();
        assert!(
            svg.starts_with("<svg role=\"img\" aria-label=\"p99 age &lt;against&gt; consumers\"")
        );
        assert_eq!(svg.matches("<svg").count(), 1);
        assert!(!svg.contains("http"), "no external references");
        assert_eq!(svg, chart.to_svg().unwrap(), "deterministic");
    }

    #[test]
    fn a_strategy_keeps_its_colour() {
        assert_eq!(strategy_colour("mutex"), 0);
        assert_eq!(strategy_colour("shm"), 4);
        // Any other name: the same colour every time, from the name alone.
        assert_eq!(
            strategy_colour("double-buffer"),
            strategy_colour("double-buffer")
        );
        assert!(strategy_colour("double-buffer") < PALETTE.len());
        let known: Vec<usize> = STRATEGY_COLOURS.iter().map(|(_, i)| *i).collect();
        let mut distinct = known.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(
            distinct.len(),
            known.len(),
            "no two known strategies share a colour"
        );
    }
}
