//! The legend: entries, where it fits ([`Occupancy`], [`Placement`]) and drawing it, inside a
//! plot or, shared by the panels of a figure, in a band of its own above them ([`band_rows`],
//! [`draw_legend_band`]).

use super::*;
use crate::report::plot::{LegendPos, Sty};
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

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
    pub(super) fn norm(&self, p: (f64, f64)) -> (f64, f64) {
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
    pub(super) fn count(&self, x0: f64, y0: f64, x1: f64, y1: f64) -> usize {
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

pub(super) const LEGEND_PAD: f64 = 7.0;
pub(super) const LEGEND_INSET: f64 = 8.0;
pub(super) const SWATCH_W: f64 = 30.0;

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

pub(super) fn row_h(st: &Sty) -> i32 {
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

/// Draw `swatch` between x = `at.0` and `at.1` (backend pixels) on the line y = `at.2`.
fn draw_swatch<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    swatch: &Swatch,
    at: (i32, i32, i32),
    st: &Sty,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let (sx0, sx1, cy) = at;
    let mid = ((sx0 + sx1) / 2, cy);
    match swatch {
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
            let hh = (row_h(st) as f64 * 0.32) as i32;
            let r = [(sx0, cy - hh), (sx1, cy + hh)];
            area.draw(&Rectangle::new(r, fill.filled()))?;
            area.draw(&Rectangle::new(r, edge.stroke_width(st.w(1.2))))?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// A legend shared by the panels of a figure: rows of entries in a band of its own

/// Gap (SVG pixels) between two entries of a legend band.
const BAND_GAP: f64 = 22.0;
/// Space (SVG pixels) above and below the rows of a legend band.
const BAND_PAD: f64 = 4.0;

/// The union of the entries of several legends by label, in order of first appearance (the
/// first swatch of a label wins).
pub fn union_entries(lists: Vec<Vec<Entry>>) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    for e in lists.into_iter().flatten() {
        if !out.iter().any(|o| o.label == e.label) {
            out.push(e);
        }
    }
    out
}

/// One row of a legend band: (entry index, x offset) of each entry, and the row's width (SVG
/// pixels).
pub type BandRow = (Vec<(usize, f64)>, f64);

/// Rows of a legend band `width` SVG pixels wide: each row the entries' indices with their x
/// offset from the row's start, and the row's width (SVG pixels). Measured with the embedded
/// font at SVG scale, so the SVG and the PNG break the rows alike.
pub fn band_rows(entries: &[Entry], width: f64) -> Result<Vec<BandRow>> {
    let font = Sty { s: 1.0, png: false }.font(LEGEND_EM);
    let mut rows: Vec<BandRow> = Vec::new();
    let mut cur: Vec<(usize, f64)> = Vec::new();
    let mut x = 0.0;
    for (i, e) in entries.iter().enumerate() {
        let tw = font
            .font
            .box_size(&e.label)
            .map_err(|err| anyhow::anyhow!("measuring legend text {:?}: {err:?}", e.label))?
            .0 as f64;
        let w = SWATCH_W + 6.0 + tw;
        let start = if cur.is_empty() { 0.0 } else { x + BAND_GAP };
        if !cur.is_empty() && start + w > width {
            rows.push((std::mem::take(&mut cur), x));
            cur.push((i, 0.0));
            x = w;
        } else {
            cur.push((i, start));
            x = start + w;
        }
    }
    if !cur.is_empty() {
        rows.push((cur, x));
    }
    Ok(rows)
}

/// Height (SVG pixels) of a legend band of `rows` rows.
pub fn band_height(rows: usize) -> f64 {
    if rows == 0 {
        0.0
    } else {
        2.0 * BAND_PAD + rows as f64 * LEGEND_EM * 1.55
    }
}

/// Draw the legend band: every row centred across `area`.
pub fn draw_legend_band<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[Entry],
    st: &Sty,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let (w, _) = area.dim_in_pixel();
    let rows = band_rows(entries, w as f64 / st.s)?;
    let font = st.font(LEGEND_EM);
    let rh = row_h(st);
    for (r, (row, row_w)) in rows.iter().enumerate() {
        let cy = st.px(BAND_PAD) + r as i32 * rh + rh / 2;
        let x0 = (w as i32 - st.px(*row_w)) / 2;
        for &(i, off) in row {
            let sx0 = x0 + st.px(off);
            let sx1 = sx0 + st.px(SWATCH_W);
            draw_swatch(area, &entries[i].swatch, (sx0, sx1, cy), st)?;
            text(
                area,
                &entries[i].label,
                &font,
                (sx1 + st.px(6.0), cy),
                Anchor::Left,
                st,
            )?;
        }
    }
    Ok(())
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
        draw_swatch(area, &e.swatch, (sx0, sx1, cy), st)?;
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
