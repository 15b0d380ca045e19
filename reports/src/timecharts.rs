//! Charts over the time of a run (seconds since it started, warm-up included): age p50, p99
//! and max per interval on a log scale, CPU per sample; warm-up and fault windows shaded and
//! named. Drawn with plotters' SVG backend like every other chart ([`crate::charts`]).
//!
//! A strategy is its colour; the statistic is the stroke (p99 thick, p50 thin, max as
//! dots); a report among several merged is the dash pattern.

use std::ops::Range;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::charts::{
    colour, draw_line, legend_chars, legend_rows, legend_sample, legend_text, short_number,
    wrap_label, HEIGHT, WIDTH,
};

/// One strategy's (or one report's strategy's) curves.
pub(crate) struct TimeSeries {
    pub label: String,
    pub colour: usize,
    pub dash: usize,
    /// Drawn as thick lines (e.g. p99).
    pub main: Vec<(f64, f64)>,
    /// Drawn as thin lines (e.g. p50); may be empty.
    pub thin: Vec<(f64, f64)>,
    /// Drawn as dots (e.g. max); may be empty.
    pub dots: Vec<(f64, f64)>,
}

/// A shaded span of the x axis with its name (a fault window, the warm-up).
pub(crate) struct Span {
    pub from: f64,
    pub to: f64,
    pub name: String,
    /// Warm-up grey, or fault red.
    pub fault: bool,
}

pub(crate) struct TimeChart {
    pub title: String,
    pub y_desc: String,
    pub y_log: bool,
    /// Right end of the x axis, seconds since the run started.
    pub x_end: f64,
    pub series: Vec<TimeSeries>,
    pub spans: Vec<Span>,
    /// What the strokes mean, drawn under the legend (e.g. "thick: p99").
    pub key: Vec<(&'static str, Stroke)>,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Stroke {
    Thick,
    Thin,
    Dots,
}

impl TimeChart {
    /// The chart as one `<svg>` element, fit for inlining in HTML. Points off the axes
    /// (from a damaged or hand-edited report) are left out rather than drawn: a point far
    /// outside overflows the plotting library's pixel arithmetic.
    pub fn to_svg(&self) -> Result<String, String> {
        self.sane().draw_svg()
    }

    /// The same chart with the x axis within [1 ms, ~4 months], every point on it, and
    /// values below 1e15 (far above any latency in ms or CPU percentage).
    fn sane(&self) -> TimeChart {
        const X_MAX: f64 = 1e7;
        const Y_MAX: f64 = 1e15;
        let x_end = if self.x_end.is_finite() {
            self.x_end.clamp(1e-3, X_MAX)
        } else {
            1e-3
        };
        let y_log = self.y_log;
        let keep = |points: &[(f64, f64)]| -> Vec<(f64, f64)> {
            points
                .iter()
                .copied()
                .filter(|(x, y)| {
                    x.is_finite()
                        && (0.0..=x_end).contains(x)
                        && y.is_finite()
                        && y.abs() <= Y_MAX
                        && (!y_log || *y > 0.0)
                })
                .collect()
        };
        TimeChart {
            title: self.title.clone(),
            y_desc: self.y_desc.clone(),
            y_log,
            x_end,
            series: self
                .series
                .iter()
                .map(|s| TimeSeries {
                    label: s.label.clone(),
                    colour: s.colour,
                    dash: s.dash,
                    main: keep(&s.main),
                    thin: keep(&s.thin),
                    dots: keep(&s.dots),
                })
                .collect(),
            spans: self
                .spans
                .iter()
                .filter(|s| s.from.is_finite() && s.to.is_finite())
                .map(|s| Span {
                    from: s.from,
                    to: s.to,
                    name: s.name.clone(),
                    fault: s.fault,
                })
                .collect(),
            key: self.key.clone(),
        }
    }

    fn draw_svg(&self) -> Result<String, String> {
        let mut svg = String::new();
        {
            let longest = self
                .series
                .iter()
                .map(|s| s.label.chars().count())
                .max()
                .unwrap_or(0) as u32;
            let legend_width = (longest * 8 + 48).clamp(120, WIDTH / 2);
            let rows: Vec<Vec<String>> = self
                .series
                .iter()
                .map(|s| wrap_label(&s.label, legend_chars(legend_width)))
                .collect();
            let (_, series_bottom) = legend_rows(&rows);
            let key_bottom = series_bottom + 14 + self.key.len() as i32 * 20;
            let height = HEIGHT.max(key_bottom as u32 + 8);
            let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| e.to_string())?;
            let (plot, legend) = root.split_horizontally(WIDTH - legend_width);
            let x = 0.0..self.x_end.max(1e-3);
            let (lo, hi) = self.y_bounds();
            if self.y_log {
                self.draw(&plot, x, (lo..hi).log_scale(), lo..hi)?;
            } else {
                self.draw(&plot, x, lo..hi, lo..hi)?;
            }
            self.draw_legend(&legend, &rows)?;
            root.present().map_err(|e| e.to_string())?;
        }
        Ok(crate::charts::inline_svg(&svg, &self.title))
    }

    fn values(&self) -> impl Iterator<Item = f64> + '_ {
        self.series
            .iter()
            .flat_map(|s| s.main.iter().chain(&s.thin).chain(&s.dots))
            .map(|p| p.1)
            .filter(|y| y.is_finite() && (!self.y_log || *y > 0.0))
    }

    /// Log: a little around the smallest and largest value; linear: from zero.
    fn y_bounds(&self) -> (f64, f64) {
        let (lo, hi) = self
            .values()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), y| {
                (lo.min(y), hi.max(y))
            });
        if self.y_log {
            if !lo.is_finite() {
                (1.0, 10.0)
            } else {
                (lo / 1.5, (hi * 1.5).max(lo * 10.0))
            }
        } else if !hi.is_finite() || hi <= 0.0 {
            (0.0, 1.0)
        } else {
            (0.0, hi * 1.08)
        }
    }

    fn draw<Y>(
        &self,
        area: &DrawingArea<SVGBackend<'_>, Shift>,
        x: Range<f64>,
        y_spec: Y,
        y: Range<f64>,
    ) -> Result<(), String>
    where
        Y: plotters::coord::ranged1d::AsRangedCoord<Value = f64>,
        Y::CoordDescType: plotters::coord::ranged1d::Ranged<ValueType = f64>
            + plotters::coord::ranged1d::ValueFormatter<f64>,
    {
        let x_end = x.end;
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, ("sans-serif", 22))
            .margin(10)
            .x_label_area_size(48)
            .y_label_area_size(70)
            .build_cartesian_2d(x, y_spec)
            .map_err(|e| e.to_string())?;
        let x_format = |v: &f64| short_number(*v);
        let y_format = |v: &f64| short_number(*v);
        chart
            .configure_mesh()
            .x_desc("seconds since the run started")
            .y_desc(self.y_desc.as_str())
            .x_label_formatter(&x_format)
            .y_label_formatter(&y_format)
            .y_labels(8)
            .label_style(("sans-serif", 16))
            .axis_desc_style(("sans-serif", 17))
            .max_light_lines(0)
            .bold_line_style(RGBColor(220, 220, 220))
            .draw()
            .map_err(|e| e.to_string())?;
        // Spans under the curves; names stacked at the top so that overlapping windows
        // stay readable.
        for (i, span) in self.spans.iter().enumerate() {
            let (from, to) = (span.from.clamp(0.0, x_end), span.to.clamp(0.0, x_end));
            if to <= from {
                continue;
            }
            let fill = if span.fault {
                RGBAColor(213, 94, 0, 0.14)
            } else {
                RGBAColor(120, 120, 120, 0.12)
            };
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(from, y.start), (to, y.end)],
                    fill.filled(),
                )))
                .map_err(|e| e.to_string())?;
            // Text at a fraction of the height, in the axis' own terms (log or linear).
            let at = if self.y_log {
                y.end * (y.start / y.end).powf(0.04 + 0.07 * i as f64)
            } else {
                y.end - (y.end - y.start) * (0.04 + 0.07 * i as f64)
            };
            chart
                .draw_series(std::iter::once(Text::new(
                    span.name.clone(),
                    (from, at),
                    ("sans-serif", 14).into_font().color(&RGBColor(90, 90, 90)),
                )))
                .map_err(|e| e.to_string())?;
        }
        for series in &self.series {
            let c = colour(series.colour);
            if !series.thin.is_empty() {
                draw_line(&mut chart, &series.thin, series.dash, c.stroke_width(1))?;
            }
            draw_line(&mut chart, &series.main, series.dash, c.stroke_width(2))?;
            chart
                .draw_series(series.dots.iter().map(|&p| Circle::new(p, 2, c.filled())))
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn draw_legend(
        &self,
        area: &DrawingArea<SVGBackend<'_>, Shift>,
        rows: &[Vec<String>],
    ) -> Result<(), String> {
        let (ys, bottom) = legend_rows(rows);
        for ((series, y), lines) in self.series.iter().zip(ys).zip(rows) {
            legend_sample(area, y, series.dash, colour(series.colour).stroke_width(3))?;
            legend_text(area, y, lines)?;
        }
        let grey = RGBColor(90, 90, 90);
        let top = bottom + 14;
        for (i, (name, stroke)) in self.key.iter().enumerate() {
            let y = top + i as i32 * 20;
            match stroke {
                Stroke::Thick => legend_sample(area, y, 0, grey.stroke_width(2))?,
                Stroke::Thin => legend_sample(area, y, 0, grey.stroke_width(1))?,
                Stroke::Dots => {
                    for x in [8, 16, 24] {
                        area.draw(&Circle::new((x, y), 2, grey.filled()))
                            .map_err(|e| e.to_string())?;
                    }
                }
            }
            area.draw(&Text::new(
                name.to_string(),
                (34, y - 7),
                ("sans-serif", 14).into_font().color(&grey),
            ))
            .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(y_log: bool) -> TimeChart {
        TimeChart {
            title: "age over time <1 consumer>".to_string(),
            y_desc: "age (ms)".to_string(),
            y_log,
            x_end: 3.0,
            series: vec![TimeSeries {
                label: "mutex".to_string(),
                colour: 0,
                dash: 1,
                main: vec![(1.05, 2.0), (1.15, 3.0), (1.25, 0.0)],
                thin: vec![(1.05, 1.0), (1.15, 1.5)],
                dots: vec![(1.05, 9.0), (1.15, 30.0)],
            }],
            spans: vec![
                Span {
                    from: 0.0,
                    to: 1.0,
                    name: "warm-up".to_string(),
                    fault: false,
                },
                Span {
                    from: 1.5,
                    to: 2.5,
                    name: "stall:0@500ms:1s".to_string(),
                    fault: true,
                },
            ],
            key: vec![
                ("p99", Stroke::Thick),
                ("p50", Stroke::Thin),
                ("max", Stroke::Dots),
            ],
        }
    }

    #[test]
    fn a_time_chart_is_one_self_contained_svg_with_its_spans_named() {
        for y_log in [true, false] {
            let chart = chart(y_log);
            let svg = chart.to_svg().unwrap();
            assert!(svg
                .starts_with("<svg role=\"img\" aria-label=\"age over time &lt;1 consumer&gt;\""));
            assert_eq!(svg.matches("<svg").count(), 1);
            assert!(!svg.contains("http"), "no external references");
            assert!(svg.contains("warm-up"));
            assert!(svg.contains("stall:0@500ms:1s"));
            assert!(svg.contains("p99") && svg.contains("max"));
            assert_eq!(svg, chart.to_svg().unwrap(), "deterministic");
        }
    }

    #[test]
    fn points_off_the_axes_are_left_out() {
        let mut wild = chart(true);
        wild.x_end = f64::INFINITY;
        wild.series[0].main.push((1e300, 1e300));
        wild.series[0].dots.push((0.5, f64::NAN));
        wild.spans[1].to = 1e300;
        assert_eq!(wild.to_svg().unwrap().matches("<svg").count(), 1);
        let mut negative = chart(false);
        negative.x_end = -5.0;
        negative.series[0].thin.push((-1.0, -1e308));
        assert_eq!(negative.to_svg().unwrap().matches("<svg").count(), 1);
    }

    #[test]
    fn an_empty_time_chart_still_draws() {
        let mut empty = chart(true);
        empty.series.clear();
        empty.spans.clear();
        assert_eq!(empty.to_svg().unwrap().matches("<svg").count(), 1);
    }
}
