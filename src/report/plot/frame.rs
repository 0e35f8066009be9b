//! Shared chart furniture: axes and tick labels, layout, title, legend, clipping, markers.

use anyhow::Result;
use plotters::coord::ranged1d::Ranged;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

pub use super::text::{text, text_up, Anchor};
use super::{LegendPos, Sty};

/// Tick label em size (SVG pixels).
pub const TICK_EM: f64 = 14.0;
/// Axis label em size.
pub const DESC_EM: f64 = 15.5;
/// Chart title em size.
pub const TITLE_EM: f64 = 16.5;
/// Legend text em size.
pub const LEGEND_EM: f64 = 13.5;
/// Tick mark length.
const TICK_LEN: f64 = 5.0;
/// Gap between the x tick labels and the x axis label.
const X_DESC_GAP: f64 = 8.0;

/// Light grey of the grid.
pub const GRID: RGBColor = RGBColor(222, 222, 222);
/// Default colour of vertical guide lines.
pub const GUIDE: RGBColor = RGBColor(110, 110, 110);

/// How an axis places and prints its ticks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Ticks {
    /// "Nice" 1-2-5 steps, printed with as many decimals as the steps need.
    Auto,
    /// Integer positions only.
    Integer,
    /// The axis holds log10 of the value: integer positions, printed as 1, 10, 100, 1000, 10⁴.
    Pow10,
}

/// One axis: its range and tick kind.
#[derive(Clone, Copy, Debug)]
pub struct Axis {
    pub lo: f64,
    pub hi: f64,
    pub ticks: Ticks,
}

/// Largest magnitude drawn; larger values are treated like non-finite ones (so that spans,
/// paddings and pixel mappings never overflow).
pub const MAX_ABS: f64 = 1e300;

/// Whether `v` can be drawn: finite and at most [`MAX_ABS`] in magnitude.
pub fn usable(v: f64) -> bool {
    v.is_finite() && v.abs() <= MAX_ABS
}

/// A usable, non-empty range: swaps reversed ends and widens a zero-width range.
pub fn sane_range(lo: f64, hi: f64) -> (f64, f64) {
    let (lo, hi) = match (usable(lo), usable(hi)) {
        (true, true) => (lo.min(hi), lo.max(hi)),
        (true, false) => (lo, lo),
        (false, true) => (hi, hi),
        (false, false) => (0.0, 1.0),
    };
    if hi - lo > 1e-12 * lo.abs().max(hi.abs()).max(1e-300) {
        (lo, hi)
    } else {
        let d = if lo == 0.0 { 0.5 } else { lo.abs() * 0.1 };
        (lo - d, hi + d)
    }
}

/// Range of the finite values of `it`, or `None`.
pub fn finite_range(it: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    let mut r: Option<(f64, f64)> = None;
    for v in it.into_iter().filter(|&v| usable(v)) {
        r = Some(match r {
            None => (v, v),
            Some((a, b)) => (a.min(v), b.max(v)),
        });
    }
    r
}

/// Data range padded by `frac` of its width on both sides (zero-width ranges widened first).
pub fn padded(r: Option<(f64, f64)>, frac: f64) -> (f64, f64) {
    let (lo, hi) = match r {
        Some((lo, hi)) => sane_range(lo, hi),
        None => (0.0, 1.0),
    };
    let d = (hi - lo) * frac;
    (lo - d, hi + d)
}

impl Axis {
    /// The number of ticks to request along `len_px` backend pixels: as many as fit with
    /// readable gaps between the labels (at most 10 "nice" ticks, or every integer up to 25).
    fn choose_ticks<DB: DrawingBackend>(
        &self,
        len_px: i32,
        horizontal: bool,
        area: &DrawingArea<DB, Shift>,
        st: &Sty,
    ) -> Result<usize>
    where
        DB::ErrorType: 'static,
    {
        let font = st.font(TICK_EM);
        let label_h = area.estimate_text_size("0", &font)?.1 as f64;
        let mut n = match self.ticks {
            Ticks::Auto => {
                if horizontal {
                    10
                } else {
                    8
                }
            }
            Ticks::Integer | Ticks::Pow10 => {
                ((self.hi.floor() - self.lo.ceil()).max(0.0) as usize + 1).min(25)
            }
        };
        let min_gap = match (self.ticks, horizontal) {
            (Ticks::Auto, true) => 60.0,
            (Ticks::Auto, false) => 36.0,
            (_, true) => 22.0,
            (_, false) => 24.0,
        } * st.s;
        while n > 2 {
            let kp = self.key_points(n);
            if kp.len() < 2 {
                break;
            }
            let step_px = len_px as f64 * (kp[1] - kp[0]).abs() / (self.hi - self.lo);
            let fmt = self.formatter(n);
            let need = if horizontal {
                let mut w = 0u32;
                for &v in &kp {
                    w = w.max(area.estimate_text_size(&fmt.fmt(v), &font)?.0);
                }
                (w as f64 + 14.0 * st.s).max(min_gap)
            } else {
                (label_h * 1.8).max(min_gap)
            };
            if step_px >= need {
                break;
            }
            // Fewer points force the next coarser 1-2-5 step.
            n = kp.len() - 1;
        }
        Ok(n.max(1))
    }

    fn key_points(&self, n: usize) -> Vec<f64> {
        RangedCoordf64::from(self.lo..self.hi).key_points(n)
    }

    /// The tick formatter for `n` requested ticks.
    fn formatter(&self, n: usize) -> TickFmt {
        let kp = self.key_points(n);
        let big = kp.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let step = kp
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(f64::INFINITY, f64::min);
        let step = if step.is_finite() && step > 0.0 {
            step
        } else {
            (self.hi - self.lo).abs().max(1e-300)
        };
        let decimals = (0..=9)
            .find(|&d| {
                let m = 10f64.powi(d);
                kp.iter().all(|v| ((v * m) - (v * m).round()).abs() < 1e-6)
            })
            .unwrap_or(9) as usize;
        TickFmt {
            ticks: self.ticks,
            decimals,
            sci: self.ticks == Ticks::Auto && (big >= 1e5 || (big > 0.0 && big < 1e-3)),
            zero_tol: step * 1e-9,
        }
    }
}

/// Formats tick values of one axis consistently.
pub struct TickFmt {
    ticks: Ticks,
    decimals: usize,
    sci: bool,
    zero_tol: f64,
}

const SUPERSCRIPT: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];

impl TickFmt {
    pub fn fmt(&self, v: f64) -> String {
        let v = if v.abs() <= self.zero_tol { 0.0 } else { v };
        let s = match self.ticks {
            Ticks::Integer => {
                if (v - v.round()).abs() > 1e-6 {
                    return String::new();
                }
                format!("{:.0}", v.round())
            }
            Ticks::Pow10 => {
                if (v - v.round()).abs() > 1e-6 {
                    return String::new();
                }
                let k = v.round() as i32;
                if (0..=3).contains(&k) {
                    format!("{}", 10i64.pow(k as u32))
                } else {
                    let digits: String = k
                        .unsigned_abs()
                        .to_string()
                        .chars()
                        .map(|c| SUPERSCRIPT[c.to_digit(10).unwrap_or(0) as usize])
                        .collect();
                    format!("10{}{}", if k < 0 { "⁻" } else { "" }, digits)
                }
            }
            Ticks::Auto if self.sci && v != 0.0 => {
                let e = v.abs().log10().floor() as i32;
                let m = v / 10f64.powi(e);
                let m = format!("{:.2}", m);
                let m = m.trim_end_matches('0').trim_end_matches('.');
                format!("{m}e{e}")
            }
            Ticks::Auto => format!("{:.*}", self.decimals, v),
        };
        // A typographic minus sign, as in typeset figures.
        s.replacen('-', "\u{2212}", 1)
    }
}

/// What a chart frame needs to know.
pub struct FrameSpec<'t> {
    pub title: &'t str,
    pub x_label: &'t str,
    pub y_label: &'t str,
    pub x: Axis,
    pub y: Axis,
    /// Force a square plot area (heatmaps).
    pub square: bool,
    /// Draw grid lines at the ticks.
    pub grid: bool,
    /// Extra space (SVG pixels) to the right of the plot, e.g. for a legend or colour bar.
    pub right_extra: f64,
}

/// Pixel layout of a chart inside its area (backend pixels).
pub struct Layout {
    pub top: i32,
    pub bottom: i32,
    pub left: i32,
    pub right: i32,
    pub title_h: i32,
    pub x_area: i32,
    pub y_area: i32,
    pub plot_w: i32,
    pub plot_h: i32,
    pub nx: usize,
    pub ny: usize,
}

impl Layout {
    /// Compute margins, label areas and tick counts so that no label is clipped.
    pub fn new<DB: DrawingBackend>(
        area: &DrawingArea<DB, Shift>,
        f: &FrameSpec,
        st: &Sty,
    ) -> Result<Layout>
    where
        DB::ErrorType: 'static,
    {
        let (w, h) = area.dim_in_pixel();
        let (w, h) = (w as i32, h as i32);
        let tick_font = st.font(TICK_EM);
        let desc_font = st.font(DESC_EM);
        let text_h = |s: &str, style: &TextStyle| -> Result<(i32, i32)> {
            let (a, b) = area.estimate_text_size(s, style)?;
            Ok((a as i32, b as i32))
        };
        let title_h = if f.title.is_empty() {
            st.px(8.0)
        } else {
            text_h(f.title, &st.bold(TITLE_EM))?.1 + st.px(16.0)
        };
        let (_, tick_h) = text_h("0123456789", &tick_font)?;
        let (_, desc_h) = text_h("Ag", &desc_font)?;
        let tick = st.px(TICK_LEN);

        let y_desc = if f.y_label.is_empty() {
            0
        } else {
            desc_h + st.px(8.0)
        };
        let x_desc = if f.x_label.is_empty() {
            0
        } else {
            desc_h + st.px(X_DESC_GAP)
        };
        let x_area = 2 * tick + tick_h + x_desc + st.px(4.0);
        let mut top = title_h;
        let mut bottom = st.px(6.0);
        let mut left = st.px(8.0);
        let plot_h = (h - top - bottom - x_area).max(1);

        // y ticks (the plot height is known) give the y label width, hence the plot width.
        let y_area_for = |ny: usize| -> Result<i32> {
            let yfmt = f.y.formatter(ny);
            let mut y_label_w = 0;
            for v in f.y.key_points(ny) {
                y_label_w = y_label_w.max(text_h(&yfmt.fmt(v), &tick_font)?.0);
            }
            Ok(2 * tick + y_label_w + y_desc + st.px(4.0))
        };
        let mut ny = f.y.choose_ticks(plot_h, false, area, st)?;
        let mut y_area = y_area_for(ny)?;
        let right0 = st.px(16.0 + f.right_extra);
        let mut plot_w = (w - left - right0 - y_area).max(1);
        if f.square {
            let side = plot_w.min(plot_h);
            ny = f.y.choose_ticks(side, false, area, st)?;
            y_area = y_area_for(ny)?;
            plot_w = (w - left - right0 - y_area).max(1).min(side);
        }
        let nx = f.x.choose_ticks(plot_w, true, area, st)?;

        // The last x tick label may stick out to the right of the plot.
        let xfmt = f.x.formatter(nx);
        let overflow = match f.x.key_points(nx).last() {
            Some(&v) => {
                let half = text_h(&xfmt.fmt(v), &tick_font)?.0 / 2;
                let to_edge = (f.x.hi - v) / (f.x.hi - f.x.lo) * plot_w as f64;
                half - to_edge as i32
            }
            None => 0,
        };
        let mut right = (overflow + st.px(4.0)).max(st.px(16.0)) + st.px(f.right_extra);
        let free_w = w - left - right - y_area;
        let free_h = h - top - bottom - x_area;
        let (plot_w, plot_h) = if f.square {
            let side = plot_w.min(free_w).min(free_h).max(1);
            left += (free_w - side) / 2;
            right += free_w - side - (free_w - side) / 2;
            top += (free_h - side) / 2;
            bottom += free_h - side - (free_h - side) / 2;
            (side, side)
        } else {
            (free_w, free_h)
        };
        Ok(Layout {
            top,
            bottom,
            left,
            right,
            title_h,
            x_area,
            y_area,
            plot_w,
            plot_h,
            nx,
            ny,
        })
    }
}

/// The chart type every figure uses.
pub type Chart2d<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Draw the title, build the coordinate system and draw grid, ticks and axis labels.
pub fn build<'a, DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    f: &FrameSpec,
    lay: &Layout,
    st: &Sty,
) -> Result<Chart2d<'a, DB>>
where
    DB::ErrorType: 'static,
{
    if !f.title.is_empty() {
        // Centre the title over the plot area, not over the whole figure.
        let cx = lay.left + lay.y_area + lay.plot_w / 2;
        text(
            area,
            f.title,
            &st.bold(TITLE_EM),
            (cx, lay.top - lay.title_h / 2 + st.px(2.0)),
            Anchor::Center,
            st,
        )?;
    }
    let mut chart = ChartBuilder::on(area)
        .margin_top(lay.top.max(0))
        .margin_bottom(lay.bottom.max(0))
        .margin_left(lay.left.max(0))
        .margin_right(lay.right.max(0))
        .x_label_area_size(lay.x_area.max(0))
        .y_label_area_size(lay.y_area.max(0))
        .build_cartesian_2d(f.x.lo..f.x.hi, f.y.lo..f.y.hi)?;

    let tick = st.px(TICK_LEN);
    let mut mesh = chart.configure_mesh();
    mesh.x_labels(lay.nx)
        .y_labels(lay.ny)
        .bold_line_style(GRID.stroke_width(st.w(1.0)))
        .light_line_style(TRANSPARENT)
        .max_light_lines(0)
        .disable_axes();
    if f.grid {
        mesh.draw()?;
    }

    // Tick labels and axis labels are drawn here rather than by plotters, so that their
    // placement is under our control and the same in both backends.
    let (x0, y0, x1, y1) = plot_rect(area, &chart);
    let (bx, by) = area.get_base_pixel();
    let tick_font = st.font(TICK_EM);
    let desc_font = st.font(DESC_EM);
    let tick_h = area.estimate_text_size("0123456789", &tick_font)?.1 as i32;
    let desc_h = area.estimate_text_size("Ag", &desc_font)?.1 as i32;
    let tick_style = BLACK.stroke_width(st.w(1.0));
    let xfmt = f.x.formatter(lay.nx);
    for v in f.x.key_points(lay.nx) {
        let px = chart.plotting_area().map_coordinate(&(v, f.y.lo)).0 - bx;
        area.draw(&PathElement::new(
            vec![(px, y1 - 1), (px, y1 - 1 + tick)],
            tick_style,
        ))?;
        let y = y1 + 2 * tick + tick_h / 2;
        text(area, &xfmt.fmt(v), &tick_font, (px, y), Anchor::Center, st)?;
    }
    let yfmt = f.y.formatter(lay.ny);
    for v in f.y.key_points(lay.ny) {
        let py = chart.plotting_area().map_coordinate(&(f.x.lo, v)).1 - by;
        area.draw(&PathElement::new(
            vec![(x0 - tick, py), (x0, py)],
            tick_style,
        ))?;
        text(
            area,
            &yfmt.fmt(v),
            &tick_font,
            (x0 - 2 * tick, py),
            Anchor::Right,
            st,
        )?;
    }
    if !f.x_label.is_empty() {
        let y = y1 + 2 * tick + tick_h + st.px(X_DESC_GAP) + desc_h / 2;
        text(
            area,
            f.x_label,
            &desc_font,
            ((x0 + x1) / 2, y),
            Anchor::Center,
            st,
        )?;
    }
    if !f.y_label.is_empty() {
        let x = x0 - lay.y_area + st.px(4.0) + desc_h / 2;
        text_up(area, f.y_label, &desc_font, (x, (y0 + y1) / 2), st)?;
    }
    Ok(chart)
}

/// The plot rectangle relative to `area`: (x0, y0, x1, y1), inclusive-exclusive.
pub fn plot_rect<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &Chart2d<DB>,
) -> (i32, i32, i32, i32) {
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    let (bx, by) = area.get_base_pixel();
    (xr.start - bx, yr.start - by, xr.end - bx, yr.end - by)
}

/// Draw the black frame around the plot area (on top of the data).
pub fn draw_frame<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &Chart2d<DB>,
    st: &Sty,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let (x0, y0, x1, y1) = plot_rect(area, chart);
    area.draw(&Rectangle::new(
        [(x0, y0), (x1 - 1, y1 - 1)],
        BLACK.stroke_width(st.w(1.0)),
    ))?;
    Ok(())
}

/// Write a grey "no data" note in the middle of the plot.
pub fn no_data<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &Chart2d<DB>,
    st: &Sty,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let (x0, y0, x1, y1) = plot_rect(area, chart);
    let style = st.font(DESC_EM).color(&GUIDE);
    text(
        area,
        "no data",
        &style,
        ((x0 + x1) / 2, (y0 + y1) / 2),
        Anchor::Center,
        st,
    )
}

// ---------------------------------------------------------------------------------------------
// Clipping (plotters does not clip to the plot area)

/// Clip segment p-q to the box (Liang-Barsky); `None` if it misses the box.
pub fn clip_segment(
    p: (f64, f64),
    q: (f64, f64),
    xr: (f64, f64),
    yr: (f64, f64),
) -> Option<((f64, f64), (f64, f64))> {
    let (dx, dy) = (q.0 - p.0, q.1 - p.1);
    let mut t0: f64 = 0.0;
    let mut t1: f64 = 1.0;
    for (pk, qk) in [
        (-dx, p.0 - xr.0),
        (dx, xr.1 - p.0),
        (-dy, p.1 - yr.0),
        (dy, yr.1 - p.1),
    ] {
        if pk == 0.0 {
            if qk < 0.0 {
                return None;
            }
        } else {
            let r = qk / pk;
            if pk < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    if t0 > t1 {
        return None;
    }
    let a = if t0 > 0.0 {
        (p.0 + t0 * dx, p.1 + t0 * dy)
    } else {
        p
    };
    let b = if t1 < 1.0 {
        (p.0 + t1 * dx, p.1 + t1 * dy)
    } else {
        q
    };
    Some((a, b))
}

/// Clip a polyline to the box; returns the visible pieces (each with >= 2 points).
pub fn clip_polyline(pts: &[(f64, f64)], xr: (f64, f64), yr: (f64, f64)) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut cur: Vec<(f64, f64)> = Vec::new();
    for w in pts.windows(2) {
        match clip_segment(w[0], w[1], xr, yr) {
            Some((a, b)) => {
                if cur.last() != Some(&a) {
                    if cur.len() >= 2 {
                        out.push(std::mem::take(&mut cur));
                    }
                    cur.clear();
                    cur.push(a);
                }
                cur.push(b);
            }
            None => {
                if cur.len() >= 2 {
                    out.push(std::mem::take(&mut cur));
                }
                cur.clear();
            }
        }
    }
    if cur.len() >= 2 {
        out.push(cur);
    }
    out
}

/// Whether `p` is inside the box (inclusive, with a tiny tolerance).
pub fn inside(p: (f64, f64), xr: (f64, f64), yr: (f64, f64)) -> bool {
    let ex = (xr.1 - xr.0).abs() * 1e-9;
    let ey = (yr.1 - yr.0).abs() * 1e-9;
    p.0 >= xr.0 - ex && p.0 <= xr.1 + ex && p.1 >= yr.0 - ey && p.1 <= yr.1 + ey
}

// ---------------------------------------------------------------------------------------------
// Markers

/// A circular marker.
#[derive(Clone, Copy)]
pub struct Marker {
    pub color: RGBAColor,
    /// Radius in SVG pixels.
    pub r: f64,
    /// Filled, or open (white inside, coloured ring).
    pub filled: bool,
}

/// Draw marker `m` centred at backend-relative pixel `c` of `area`.
pub fn draw_marker_px<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    c: (i32, i32),
    m: &Marker,
    st: &Sty,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let r = st.px(m.r).max(1) as u32;
    if m.filled {
        area.draw(&Circle::new(c, r, m.color.filled()))?;
    } else {
        area.draw(&Circle::new(c, r, WHITE.filled()))?;
        area.draw(&Circle::new(c, r, m.color.stroke_width(st.w(1.8))))?;
    }
    Ok(())
}

/// Draw marker `m` at data point `p` of the chart.
pub fn draw_marker<DB: DrawingBackend>(
    chart: &Chart2d<DB>,
    p: (f64, f64),
    m: &Marker,
    st: &Sty,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let r = st.px(m.r).max(1);
    let pa = chart.plotting_area();
    if m.filled {
        pa.draw(&(EmptyElement::at(p) + Circle::new((0, 0), r, m.color.filled())))?;
    } else {
        pa.draw(&(EmptyElement::at(p) + Circle::new((0, 0), r, WHITE.filled())))?;
        pa.draw(&(EmptyElement::at(p) + Circle::new((0, 0), r, m.color.stroke_width(st.w(1.8)))))?;
    }
    Ok(())
}

/// Dash length and gap (SVG pixels).
const DASH: (f64, f64) = (7.0, 4.0);

/// Split a pixel polyline into dashes of `on` pixels separated by `off`, continuing the
/// pattern across vertices (plotters restarts it at every vertex, which looks ragged).
pub fn dashes(pts: &[(f64, f64)], on: f64, off: f64) -> Vec<Vec<(f64, f64)>> {
    let mut out = vec![];
    if pts.len() < 2 || on <= 0.0 || off < 0.0 {
        return out;
    }
    let mut drawing = true;
    let mut left = on;
    let mut cur = vec![pts[0]];
    for w in pts.windows(2) {
        let (a, b) = (w[0], w[1]);
        let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
        let mut t = 0.0;
        while len - t > left {
            t += left;
            let p = (a.0 + (b.0 - a.0) * t / len, a.1 + (b.1 - a.1) * t / len);
            if drawing {
                cur.push(p);
                out.push(std::mem::take(&mut cur));
                left = off;
            } else {
                cur = vec![p];
                left = on;
            }
            drawing = !drawing;
        }
        left -= len - t;
        if drawing {
            cur.push(b);
        }
    }
    if drawing && cur.len() >= 2 {
        out.push(cur);
    }
    out
}

/// Draw a dashed polyline given in pixels relative to `area`.
pub fn draw_dashed_px<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    pts: &[(f64, f64)],
    style: ShapeStyle,
    st: &Sty,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    for d in dashes(pts, DASH.0 * st.s, DASH.1 * st.s) {
        let p: Vec<(i32, i32)> = d
            .iter()
            .map(|q| (q.0.round() as i32, q.1.round() as i32))
            .collect();
        area.draw(&PathElement::new(p, style))?;
    }
    Ok(())
}

/// Draw a solid or dashed polyline in data coordinates (already clipped).
pub fn draw_path<DB: DrawingBackend>(
    chart: &Chart2d<DB>,
    pts: &[(f64, f64)],
    style: ShapeStyle,
    dashed: bool,
    st: &Sty,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let pa = chart.plotting_area();
    if dashed {
        let area = pa.strip_coord_spec();
        let (bx, by) = pa.get_base_pixel();
        let px: Vec<(f64, f64)> = pts
            .iter()
            .map(|p| {
                let q = pa.map_coordinate(p);
                ((q.0 - bx) as f64, (q.1 - by) as f64)
            })
            .collect();
        draw_dashed_px(&area, &px, style, st)?;
    } else {
        pa.draw(&PathElement::new(pts.to_vec(), style))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Legend

/// The symbol in front of a legend label.
pub enum Swatch {
    Line {
        color: RGBAColor,
        width: f64,
        dashed: bool,
        marker: Option<Marker>,
    },
    Marker(Marker),
    /// A filled box (histograms), drawn with a border in `edge`.
    Patch {
        fill: RGBAColor,
        edge: RGBAColor,
    },
}

/// One legend row.
pub struct Entry {
    pub label: String,
    pub swatch: Swatch,
}

/// Normalised positions ([0,1]^2, y up) occupied by data, to choose a free legend corner.
#[derive(Default)]
pub struct Occupancy {
    pts: Vec<(f64, f64)>,
    xr: (f64, f64),
    yr: (f64, f64),
}

impl Occupancy {
    pub fn new(xr: (f64, f64), yr: (f64, f64)) -> Self {
        Occupancy {
            pts: Vec::new(),
            xr,
            yr,
        }
    }
    fn norm(&self, p: (f64, f64)) -> (f64, f64) {
        (
            (p.0 - self.xr.0) / (self.xr.1 - self.xr.0),
            (p.1 - self.yr.0) / (self.yr.1 - self.yr.0),
        )
    }
    /// A data point.
    pub fn point(&mut self, p: (f64, f64)) {
        let q = self.norm(p);
        if q.0.is_finite() && q.1.is_finite() {
            self.pts.push(q);
        }
    }
    /// A data segment (sampled every 1% of the plot).
    pub fn segment(&mut self, p: (f64, f64), q: (f64, f64)) {
        let (a, b) = (self.norm(p), self.norm(q));
        if !(a.0.is_finite() && a.1.is_finite() && b.0.is_finite() && b.1.is_finite()) {
            return;
        }
        let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
        let n = ((len / 0.01).ceil() as usize).clamp(1, 400);
        for i in 0..=n {
            let t = i as f64 / n as f64;
            self.pts
                .push((a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1)));
        }
    }
    /// How many occupied positions fall in the normalised box.
    fn count(&self, x0: f64, y0: f64, x1: f64, y1: f64) -> usize {
        self.pts
            .iter()
            .filter(|p| p.0 >= x0 && p.0 <= x1 && p.1 >= y0 && p.1 <= y1)
            .count()
    }
}

/// Resolved legend placement.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Placement {
    UpperLeft,
    UpperRight,
    LowerLeft,
    LowerRight,
    Outside,
}

const LEGEND_PAD: f64 = 7.0;
const LEGEND_INSET: f64 = 8.0;
const SWATCH_W: f64 = 30.0;

/// Legend box size in backend pixels.
pub fn legend_size<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[Entry],
    st: &Sty,
) -> Result<(i32, i32)>
where
    DB::ErrorType: 'static,
{
    let font = st.font(LEGEND_EM);
    let mut tw = 0;
    for e in entries {
        tw = tw.max(area.estimate_text_size(&e.label, &font)?.0 as i32);
    }
    let w = st.px(2.0 * LEGEND_PAD + SWATCH_W + 6.0) + tw;
    let h = st.px(2.0 * LEGEND_PAD) + entries.len() as i32 * row_h(st);
    Ok((w, h))
}

fn row_h(st: &Sty) -> i32 {
    st.px(LEGEND_EM * 1.55)
}

/// Choose the placement for `pos` given the legend size and the plot size (backend pixels).
pub fn resolve(
    pos: LegendPos,
    legend: (i32, i32),
    plot: (i32, i32),
    occ: &Occupancy,
    st: &Sty,
) -> Option<Placement> {
    Some(match pos {
        LegendPos::None => return None,
        LegendPos::UpperLeft => Placement::UpperLeft,
        LegendPos::UpperRight => Placement::UpperRight,
        LegendPos::LowerLeft => Placement::LowerLeft,
        LegendPos::LowerRight => Placement::LowerRight,
        LegendPos::OutsideRight => Placement::Outside,
        LegendPos::Auto => {
            let (pw, ph) = (plot.0.max(1) as f64, plot.1.max(1) as f64);
            // Legend box in normalised units, grown by a few pixels of clearance.
            let inset = st.px(LEGEND_INSET) as f64;
            let clear = st.px(6.0) as f64;
            let w = (legend.0 as f64 + inset + clear) / pw;
            let h = (legend.1 as f64 + inset + clear) / ph;
            if w >= 0.7 || h >= 0.8 {
                return Some(Placement::Outside);
            }
            let corners = [
                (Placement::UpperRight, (1.0 - w, 1.0 - h, 1.0, 1.0)),
                (Placement::UpperLeft, (0.0, 1.0 - h, w, 1.0)),
                (Placement::LowerRight, (1.0 - w, 0.0, 1.0, h)),
                (Placement::LowerLeft, (0.0, 0.0, w, h)),
            ];
            corners
                .iter()
                .find(|(_, b)| occ.count(b.0, b.1, b.2, b.3) == 0)
                .map(|c| c.0)
                .unwrap_or(Placement::Outside)
        }
    })
}

/// For an automatic legend that found no free corner: how much to stretch the y range upward
/// (factor on its span, at most 1.6) to free an upper corner, and that corner.
pub fn headroom(
    legend: (i32, i32),
    plot: (i32, i32),
    occ: &Occupancy,
    st: &Sty,
) -> Option<(Placement, f64)> {
    let (pw, ph) = (plot.0.max(1) as f64, plot.1.max(1) as f64);
    let inset = st.px(LEGEND_INSET) as f64;
    let clear = st.px(6.0) as f64;
    let w = (legend.0 as f64 + inset + clear) / pw;
    let h = (legend.1 as f64 + inset + clear) / ph;
    if w >= 0.7 || h >= 0.5 {
        return None;
    }
    [
        (Placement::UpperRight, 1.0 - w, 1.0),
        (Placement::UpperLeft, 0.0, w),
    ]
    .iter()
    .map(|&(p, x0, x1)| {
        let m = occ
            .pts
            .iter()
            .filter(|q| q.0 >= x0 && q.0 <= x1)
            .fold(0.0f64, |m, q| m.max(q.1.min(1.0)));
        (p, (m / (1.0 - h)).max(1.0) * 1.01)
    })
    .min_by(|a, b| a.1.total_cmp(&b.1))
    .filter(|&(_, f)| f <= 1.6)
}

/// Lay the chart out and place its legend: `pos` as asked, or for `Auto` a free inside corner,
/// else (if `grow_y`, i.e. the y range was not fixed by the caller) an upper corner freed by
/// extending the y range upward, else outside right. May change `spec.y.hi` and
/// `spec.right_extra`.
pub fn place_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    spec: &mut FrameSpec,
    pos: LegendPos,
    entries: &[Entry],
    occ: &Occupancy,
    grow_y: bool,
    st: &Sty,
) -> Result<(Layout, Option<Placement>)>
where
    DB::ErrorType: 'static,
{
    let lay = Layout::new(area, spec, st)?;
    if entries.is_empty() {
        return Ok((lay, None));
    }
    let size = legend_size(area, entries, st)?;
    let plot = (lay.plot_w, lay.plot_h);
    match resolve(pos, size, plot, occ, st) {
        Some(Placement::Outside) => {
            if pos == LegendPos::Auto && grow_y {
                if let Some((p, f)) = headroom(size, plot, occ, st) {
                    spec.y.hi = spec.y.lo + (spec.y.hi - spec.y.lo) * f;
                    return Ok((Layout::new(area, spec, st)?, Some(p)));
                }
            }
            spec.right_extra += outside_extra(size, st);
            Ok((Layout::new(area, spec, st)?, Some(Placement::Outside)))
        }
        p => Ok((lay, p)),
    }
}

/// Extra right margin (SVG pixels) an outside legend of `legend` backend pixels needs.
pub fn outside_extra(legend: (i32, i32), st: &Sty) -> f64 {
    legend.0 as f64 / st.s + 14.0
}

/// Draw the legend; `plot` is the plot rectangle relative to `area`.
pub fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    plot: (i32, i32, i32, i32),
    placement: Placement,
    entries: &[Entry],
    st: &Sty,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    if entries.is_empty() {
        return Ok(());
    }
    let (w, h) = legend_size(area, entries, st)?;
    let inset = st.px(LEGEND_INSET);
    let (x0, y0) = match placement {
        Placement::UpperLeft => (plot.0 + inset, plot.1 + inset),
        Placement::UpperRight => (plot.2 - inset - w, plot.1 + inset),
        Placement::LowerLeft => (plot.0 + inset, plot.3 - inset - h),
        Placement::LowerRight => (plot.2 - inset - w, plot.3 - inset - h),
        Placement::Outside => (plot.2 + st.px(12.0), plot.1),
    };
    area.draw(&Rectangle::new(
        [(x0, y0), (x0 + w, y0 + h)],
        WHITE.mix(0.88).filled(),
    ))?;
    area.draw(&Rectangle::new(
        [(x0, y0), (x0 + w, y0 + h)],
        RGBColor(150, 150, 150).stroke_width(st.w(1.0)),
    ))?;
    let font = st.font(LEGEND_EM);
    let rh = row_h(st);
    for (i, e) in entries.iter().enumerate() {
        let cy = y0 + st.px(LEGEND_PAD) + i as i32 * rh + rh / 2;
        let sx0 = x0 + st.px(LEGEND_PAD);
        let sx1 = sx0 + st.px(SWATCH_W);
        let mid = ((sx0 + sx1) / 2, cy);
        match &e.swatch {
            Swatch::Line {
                color,
                width,
                dashed,
                marker,
            } => {
                let style = color.stroke_width(st.w(*width));
                if *dashed {
                    let pts = [(sx0 as f64, cy as f64), (sx1 as f64, cy as f64)];
                    draw_dashed_px(area, &pts, style, st)?;
                } else {
                    area.draw(&PathElement::new(vec![(sx0, cy), (sx1, cy)], style))?;
                }
                if let Some(m) = marker {
                    draw_marker_px(area, mid, m, st)?;
                }
            }
            Swatch::Marker(m) => draw_marker_px(area, mid, m, st)?,
            Swatch::Patch { fill, edge } => {
                let hh = (rh as f64 * 0.32) as i32;
                let r = [(sx0, cy - hh), (sx1, cy + hh)];
                area.draw(&Rectangle::new(r, fill.filled()))?;
                area.draw(&Rectangle::new(r, edge.stroke_width(st.w(1.2))))?;
            }
        }
        text(
            area,
            &e.label,
            &font,
            (sx1 + st.px(6.0), cy),
            Anchor::Left,
            st,
        )?;
    }
    Ok(())
}
