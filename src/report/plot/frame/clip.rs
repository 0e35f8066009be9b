//! Drawing inside the plot area: clipping (plotters does not clip to the plot area),
//! markers, dashes and paths.

use super::*;
use crate::report::plot::Sty;
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

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
pub(super) const DASH: (f64, f64) = (7.0, 4.0);

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
