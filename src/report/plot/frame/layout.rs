//! Layout of one chart: margins sized from its tick and axis labels ([`Layout`]), building
//! the plotters chart ([`build`]), its frame and the "no data" note.

use super::*;
use crate::report::plot::Sty;
use anyhow::Result;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

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
