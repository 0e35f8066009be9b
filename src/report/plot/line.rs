//! Line, scatter and staircase charts.

use anyhow::{bail, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::frame::{self, Axis, Entry, FrameSpec, Marker, Occupancy, Swatch, Ticks};
use super::{palette, pick_color, Chart, LineChart, Series, SeriesStyle, Sty};

const LINE_W: f64 = 2.0;
const HLINE_W: f64 = 1.5;
const VLINE_W: f64 = 1.0;
const ERR_W: f64 = 1.3;
const CAP: f64 = 4.0;
/// Opacity of a series' shaded band.
const BAND_ALPHA: f64 = 0.18;

/// Runs of consecutive finite (x, y) points (a non-finite value breaks the line).
fn runs(s: &Series) -> Vec<Vec<(f64, f64)>> {
    let mut out = vec![];
    let mut cur = vec![];
    for (&x, &y) in s.x.iter().zip(&s.y) {
        if frame::usable(x) && frame::usable(y) {
            cur.push((x, y));
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The shaded areas of a series' band: one polygon per run of consecutive finite points
/// (upper ends left to right, then lower ends back), x and y clamped to the axes.
fn bands(s: &Series, xr: (f64, f64), yr: (f64, f64)) -> Vec<Vec<(f64, f64)>> {
    let Some(band) = &s.band else {
        return vec![];
    };
    let mut out = vec![];
    let mut cur: Vec<(f64, f64, f64)> = vec![];
    let flush = |cur: &mut Vec<(f64, f64, f64)>, out: &mut Vec<Vec<(f64, f64)>>| {
        if cur.len() >= 2 {
            let cx = |x: f64| x.clamp(xr.0, xr.1);
            let cy = |y: f64| y.clamp(yr.0, yr.1);
            let mut poly: Vec<(f64, f64)> = cur.iter().map(|p| (cx(p.0), cy(p.2))).collect();
            poly.extend(cur.iter().rev().map(|p| (cx(p.0), cy(p.1))));
            out.push(poly);
        }
        cur.clear();
    };
    for (&x, &(lo, hi)) in s.x.iter().zip(band) {
        if [x, lo, hi].iter().all(|&v| frame::usable(v)) {
            cur.push((x, lo, hi));
        } else {
            flush(&mut cur, &mut out);
        }
    }
    flush(&mut cur, &mut out);
    out
}

/// "steps-post" expansion: (x0,y0) (x1,y0) (x1,y1) (x2,y1) ...
fn steps(run: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(run.len() * 2);
    for (i, &p) in run.iter().enumerate() {
        if i > 0 {
            out.push((p.0, run[i - 1].1));
        }
        out.push(p);
    }
    out
}

fn default_radius(style: SeriesStyle) -> f64 {
    match style {
        SeriesStyle::LineWithMarkers => 3.5,
        _ => 4.5,
    }
}

fn has_line(style: SeriesStyle) -> bool {
    matches!(
        style,
        SeriesStyle::Line | SeriesStyle::Dashed | SeriesStyle::LineWithMarkers | SeriesStyle::Step
    )
}

fn marker_of(s: &Series, color: RGBColor) -> Option<Marker> {
    let r = s.marker_size.unwrap_or(default_radius(s.style));
    match s.style {
        SeriesStyle::LineWithMarkers | SeriesStyle::Markers => Some(Marker {
            color: color.to_rgba(),
            r,
            filled: true,
        }),
        SeriesStyle::OpenMarkers => Some(Marker {
            color: color.to_rgba(),
            r,
            filled: false,
        }),
        _ => None,
    }
}

impl LineChart {
    fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let mut xs = vec![];
        let mut ys = vec![];
        for s in &self.series {
            for (i, (&x, &y)) in s.x.iter().zip(&s.y).enumerate() {
                if !(frame::usable(x) && frame::usable(y)) {
                    continue;
                }
                xs.push(x);
                ys.push(y);
                if let Some(e) = s.err.as_ref().and_then(|e| e.get(i)) {
                    ys.push(e.0);
                    ys.push(e.1);
                }
                if let Some(e) = s.band.as_ref().and_then(|e| e.get(i)) {
                    ys.push(e.0);
                    ys.push(e.1);
                }
            }
        }
        ys.extend(self.hlines.iter().map(|h| h.y));
        xs.extend(self.vlines.iter().map(|v| v.x));
        let x = match self.x_range {
            Some((a, b)) => frame::sane_range(a, b),
            None if self.integer_x_ticks => match frame::finite_range(xs) {
                Some((a, b)) if b > a => (a - 0.5, b + 0.5),
                Some((a, _)) => (a - 1.5, a + 1.5),
                None => (0.0, 1.0),
            },
            None => frame::padded(frame::finite_range(xs), 0.03),
        };
        let y = match self.y_range {
            Some((a, b)) => frame::sane_range(a, b),
            None => frame::padded(frame::finite_range(ys), 0.06),
        };
        (x, y)
    }

    fn entries(&self) -> Vec<Entry> {
        let mut out = vec![];
        for (k, s) in self.series.iter().enumerate() {
            if s.label.is_empty() {
                continue;
            }
            let color = pick_color(s.color, k);
            let swatch = if has_line(s.style) {
                Swatch::Line {
                    color: color.to_rgba(),
                    width: LINE_W,
                    dashed: s.style == SeriesStyle::Dashed,
                    marker: marker_of(s, color),
                }
            } else {
                Swatch::Marker(marker_of(s, color).expect("marker style"))
            };
            out.push(Entry {
                label: s.label.clone(),
                swatch,
            });
        }
        for h in &self.hlines {
            if h.label.is_empty() {
                continue;
            }
            out.push(Entry {
                label: h.label.clone(),
                swatch: Swatch::Line {
                    color: h.color.map(palette).unwrap_or(BLACK).to_rgba(),
                    width: HLINE_W,
                    dashed: true,
                    marker: None,
                },
            });
        }
        out
    }
}

impl Chart for LineChart {
    const SINGLE: (u32, u32) = (800, 500);
    const PANEL: (u32, u32) = (560, 400);

    fn legend_entries(&self) -> Vec<Entry> {
        self.entries()
    }

    fn without_legend(&self) -> Self {
        LineChart {
            legend: super::LegendPos::None,
            ..self.clone()
        }
    }

    fn validate(&self) -> Result<()> {
        for s in &self.series {
            if s.x.len() != s.y.len() {
                bail!(
                    "series {:?}: x has {} values but y has {}",
                    s.label,
                    s.x.len(),
                    s.y.len()
                );
            }
            if let Some(b) = &s.band {
                if b.len() != s.x.len() {
                    bail!(
                        "series {:?}: {} band ends for {} points",
                        s.label,
                        b.len(),
                        s.x.len()
                    );
                }
            }
            if let Some(e) = &s.err {
                if e.len() != s.x.len() {
                    bail!(
                        "series {:?}: {} error bars for {} points",
                        s.label,
                        e.len(),
                        s.x.len()
                    );
                }
            }
        }
        Ok(())
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, st: &Sty) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (xr, yr) = self.ranges();
        let mut spec = FrameSpec {
            title: &self.title,
            x_label: &self.x_label,
            y_label: &self.y_label,
            x: Axis {
                lo: xr.0,
                hi: xr.1,
                ticks: if self.integer_x_ticks {
                    Ticks::Integer
                } else {
                    Ticks::Auto
                },
            },
            y: Axis {
                lo: yr.0,
                hi: yr.1,
                ticks: Ticks::Auto,
            },
            square: false,
            grid: true,
            right_extra: 0.0,
        };

        // Geometry of everything that will be drawn, clipped to the axes.
        struct Drawn {
            color: RGBColor,
            paths: Vec<Vec<(f64, f64)>>,
            markers: Vec<(f64, f64)>,
            singles: Vec<(f64, f64)>,
            errs: Vec<(f64, (f64, f64))>,
        }
        let mut occ = Occupancy::new(xr, yr);
        let mut drawn = vec![];
        let mut any = false;
        for (k, s) in self.series.iter().enumerate() {
            let color = pick_color(s.color, k);
            let mut d = Drawn {
                color,
                paths: vec![],
                markers: vec![],
                singles: vec![],
                errs: vec![],
            };
            for run in runs(s) {
                any = true;
                if has_line(s.style) {
                    if run.len() == 1 {
                        if frame::inside(run[0], xr, yr) {
                            d.singles.push(run[0]);
                        }
                    } else {
                        let pts = if s.style == SeriesStyle::Step {
                            steps(&run)
                        } else {
                            run.clone()
                        };
                        d.paths.extend(frame::clip_polyline(&pts, xr, yr));
                    }
                }
                if marker_of(s, color).is_some() {
                    d.markers
                        .extend(run.iter().copied().filter(|&p| frame::inside(p, xr, yr)));
                }
            }
            if let Some(err) = &s.err {
                for ((&x, &y), &(lo, hi)) in s.x.iter().zip(&s.y).zip(err) {
                    if [x, y, lo, hi].iter().all(|&v| frame::usable(v)) {
                        d.errs.push((x, (lo, hi)));
                    }
                }
            }
            for p in &d.paths {
                for w in p.windows(2) {
                    occ.segment(w[0], w[1]);
                }
            }
            for &p in d.markers.iter().chain(&d.singles) {
                occ.point(p);
            }
            for &(x, (lo, hi)) in &d.errs {
                occ.segment((x, lo), (x, hi));
            }
            drawn.push(d);
        }
        for h in &self.hlines {
            if frame::usable(h.y) {
                occ.segment((xr.0, h.y), (xr.1, h.y));
                any = true;
            }
        }

        let entries = self.entries();
        let (lay, placement) = frame::place_legend(
            area,
            &mut spec,
            self.legend,
            &entries,
            &occ,
            self.y_range.is_none(),
            st,
        )?;
        let yr = (spec.y.lo, spec.y.hi);
        let chart = frame::build(area, &spec, &lay, st)?;

        for v in &self.vlines {
            if v.x.is_finite() && v.x >= xr.0 && v.x <= xr.1 {
                let color = v.color.map(palette).unwrap_or(frame::GUIDE);
                frame::draw_path(
                    &chart,
                    &[(v.x, yr.0), (v.x, yr.1)],
                    color.stroke_width(st.w(VLINE_W)),
                    v.dashed,
                    st,
                )?;
            }
        }
        for h in &self.hlines {
            if h.y.is_finite() && h.y >= yr.0 && h.y <= yr.1 {
                let color = h.color.map(palette).unwrap_or(BLACK);
                frame::draw_path(
                    &chart,
                    &[(xr.0, h.y), (xr.1, h.y)],
                    color.stroke_width(st.w(HLINE_W)),
                    true,
                    st,
                )?;
            }
        }
        for (k, s) in self.series.iter().enumerate() {
            for poly in bands(s, xr, yr) {
                chart.plotting_area().draw(&Polygon::new(
                    poly,
                    pick_color(s.color, k).mix(BAND_ALPHA).filled(),
                ))?;
            }
        }
        for d in &drawn {
            let style = d.color.stroke_width(st.w(ERR_W));
            for &(x, (lo, hi)) in &d.errs {
                if let Some((a, b)) = frame::clip_segment((x, lo), (x, hi), xr, yr) {
                    frame::draw_path(&chart, &[a, b], style, false, st)?;
                }
                for y in [lo, hi] {
                    if frame::inside((x, y), xr, yr) {
                        let c = st.px(CAP);
                        chart.plotting_area().draw(
                            &(EmptyElement::at((x, y))
                                + PathElement::new(vec![(-c, 0), (c, 0)], style)),
                        )?;
                    }
                }
            }
        }
        for (s, d) in self.series.iter().zip(&drawn) {
            let style = d.color.stroke_width(st.w(LINE_W));
            for p in &d.paths {
                frame::draw_path(&chart, p, style, s.style == SeriesStyle::Dashed, st)?;
            }
            let single = Marker {
                color: d.color.to_rgba(),
                r: 3.0,
                filled: true,
            };
            for &p in &d.singles {
                frame::draw_marker(&chart, p, &single, st)?;
            }
            if let Some(m) = marker_of(s, d.color) {
                for &p in &d.markers {
                    frame::draw_marker(&chart, p, &m, st)?;
                }
            }
        }
        if !any {
            frame::no_data(area, &chart, st)?;
        }
        frame::draw_frame(area, &chart, st)?;
        if let Some(p) = placement {
            let rect = frame::plot_rect(area, &chart);
            frame::draw_legend(area, rect, p, &entries, st)?;
        }
        Ok(())
    }
}
